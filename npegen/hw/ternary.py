"""Ternary GEMV datapath: Sherry 5-bit blocks decoded by a zero-position thermometer (three 2:1 muxes and
3 add/sub per 4 weights, no codebook ROM), with I2_S (2-bit) and TL2 (5-bit triples) decoders as the
baselines that take the same activations per cycle.

The design point is :class:`npegen.models.ternary.TernaryParams`; the engine emits exactly
:func:`npegen.models.ternary.ref_ternary_engine` (= ``ternary_accumulate``). The scale/bias epilogue is not
part of this unit yet.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.ternary import TernaryParams

__all__ = ["TernaryEngine"]


def _tree_sum(terms):
    """Balanced adder tree (log depth)."""
    terms = list(terms)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


def _times_trit(a, w_pos, w_neg):
    """``a * w`` for a trit given as two flags (+1 / -1 / neither)."""
    return Mux(w_pos, a, Mux(w_neg, -a, 0))


class TernaryEngine(wiring.Component):
    """Group sums of ternary weights times int8 activations, ``4*lanes`` weights per beat.

    Parameters
    ----------
    lanes : int
        P: blocks of 4 weights (and 4*P activations) per beat.
    packing : {"sherry", "i2s", "tl2"}
        Code format of the weights in a beat (see :class:`~npegen.models.ternary.TernaryParams`).
    group_size : int
        Weights per emitted sum.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"codes": code_bits, "acts": ArrayLayout(signed(8), 4*P),
        "last": 1})))
        One beat: the weight codes (field ``j`` at bits ``[w*j, w*(j+1))``, ``w`` = 5, 2 or 5), the 4*P
        activations (activation ``4j + q`` goes with lane ``q`` of block ``j``) and ``last`` (end of a
        row, passed to the output).
    o : Out(stream.Signature(StructLayout({"acc": signed(acc_width), "last": 1})))
        One exact group sum every ``group_size / (4*P)`` beats.

    Notes
    -----
    *Latency*: 1 cycle from the edge accepting a group's last beat to its sum on ``o``. *Throughput*:
    one beat (4*P weights) per cycle while ``o`` is ready; a row of K weights takes K / (4*P) cycles.
    A sum not taken stalls the engine (``i.ready`` low).

    Sherry decode per block (``z`` zero position, ``s`` sign, ``b0``/``b1`` relative signs)::

        x0 = (z <= 0) ? a1 : a0;  x1 = (z <= 1) ? a2 : a1;  x2 = (z <= 2) ? a3 : a2
        t = x0 + (b0 ? -x1 : x1) + (b1 ? -x2 : x2);   block = s ? -t : t
    """

    def __init__(self, *, lanes: int = 8, packing: str = "sherry", group_size: int = 128):
        self._p = TernaryParams(lanes=lanes, packing=packing, group_size=group_size)
        p = self._p
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "codes": p.code_bits, "acts": data.ArrayLayout(signed(8), p.weights_per_beat), "last": 1}))),
            "o": Out(stream.Signature(data.StructLayout({"acc": signed(p.acc_width), "last": 1}))),
        })

    @classmethod
    def from_params(cls, p: TernaryParams) -> TernaryEngine:
        return cls(lanes=p.lanes, packing=p.packing, group_size=p.group_size)

    @property
    def params(self) -> TernaryParams:
        return self._p

    @property
    def latency(self) -> int:
        return self._p.latency

    def elaborate(self, platform):
        m = Module()
        p = self._p
        codes, acts = self.i.payload.codes, self.i.payload.acts
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        terms = []
        if p.packing == "sherry":
            for j in range(p.lanes):
                c = codes[5 * j: 5 * j + 5]
                a = [acts[4 * j + q] for q in range(4)]
                z = c[2:4]
                x0 = Signal(signed(8), name=f"d_x0_{j}")
                x1 = Signal(signed(8), name=f"d_x1_{j}")
                x2 = Signal(signed(8), name=f"d_x2_{j}")
                m.d.comb += [
                    x0.eq(Mux(~z.any(), a[1], a[0])),  # z <= 0
                    x1.eq(Mux(~z[1], a[2], a[1])),  # z <= 1
                    x2.eq(Mux(z != 3, a[3], a[2])),  # z <= 2
                ]
                t = Signal(signed(10), name=f"d_t_{j}")
                m.d.comb += t.eq(x0 + Mux(c[0], -x1, x1) + Mux(c[1], -x2, x2))
                blk = Signal(signed(10), name=f"d_blk_{j}")
                m.d.comb += blk.eq(Mux(c[4], -t, t))
                terms.append(blk)
        elif p.packing == "i2s":
            for j in range(p.weights_per_beat):
                c = codes[2 * j: 2 * j + 2]
                w = Signal(signed(9), name=f"d_w_{j}")
                m.d.comb += w.eq(_times_trit(acts[j], c == 2, ~c.any()))  # 2 -> +1, 0 -> -1, 1 (and 3) -> 0
                terms.append(w)
        else:  # tl2: 5-bit fields (sign, |9*w0 + 3*w1 + w2|), one per 3 weights
            for j in range(p.weights_per_beat // 3):
                f = codes[5 * j: 5 * j + 5]
                mag, neg = f[:4], f[4]
                w0 = Signal(name=f"d_w0_{j}")
                r = Signal(signed(6), name=f"d_r_{j}")  # mag - 9*w0, in [-4, 4]
                m.d.comb += [w0.eq(mag >= 5), r.eq(mag - Mux(w0, 9, 0))]
                w1p, w1n = Signal(name=f"d_w1p_{j}"), Signal(name=f"d_w1n_{j}")
                m.d.comb += [w1p.eq(r >= 2), w1n.eq(r <= -2)]
                r2 = Signal(signed(6), name=f"d_r2_{j}")  # w2 = r - 3*w1, in [-1, 1]
                m.d.comb += r2.eq(r - Mux(w1p, 3, Mux(w1n, -3, 0)))
                a = [acts[3 * j + q] for q in range(3)]
                t = Signal(signed(10), name=f"d_t_{j}")
                m.d.comb += t.eq(Mux(w0, a[0], 0) + _times_trit(a[1], w1p, w1n)
                                 + _times_trit(a[2], r2 == 1, r2 == -1))
                blk = Signal(signed(10), name=f"d_blk_{j}")
                m.d.comb += blk.eq(Mux(neg, -t, t))
                terms.append(blk)

        x_sum = Signal(signed(p.acc_width), name="x_sum")
        m.d.comb += x_sum.eq(_tree_sum(terms))

        a_acc = Signal(signed(p.acc_width))
        a_count = Signal(range(max(p.beats_per_group, 2)))
        a_first = Signal()
        a_new = Signal(signed(p.acc_width))
        a_end = Signal()
        m.d.comb += [
            a_first.eq(~a_count.any()),
            a_new.eq(Mux(a_first, 0, a_acc) + x_sum),
            a_end.eq(a_count == p.beats_per_group - 1 if p.beats_per_group > 1 else Const(1, 1)),
        ]
        take = advance & self.i.valid
        with m.If(advance & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(take):
            with m.If(a_end):
                m.d.sync += [self.o.payload.acc.eq(a_new), self.o.payload.last.eq(self.i.payload.last),
                             self.o.valid.eq(1), a_count.eq(0)]
            with m.Else():
                m.d.sync += [a_acc.eq(a_new), a_count.eq(a_count + 1)]
        return m
