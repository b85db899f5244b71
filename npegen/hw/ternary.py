"""Ternary GEMV datapath: Sherry 5-bit blocks decoded by a zero-position thermometer (three 2:1 muxes and
3 add/sub per 4 weights, no codebook ROM), with I2_S (2-bit) and TL2 (5-bit triples) decoders as the
baselines that take the same activations per cycle.

The design point is :class:`npegen.models.ternary.TernaryParams`; the engine emits exactly
:func:`npegen.models.ternary.ref_ternary_engine`: the exact FP16-scaled row sums of
:func:`~npegen.models.ternary.ternary_gemv_fixed` (epilogue ``"fp16"``) or the raw group sums of
``ternary_accumulate`` (epilogue ``"none"``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
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


def _fp16_fixed(m, f, prefix):
    """Signals (negative, magnitude mantissa, shift) of the FP16 bits ``f``: ``|value| * 2**24 = mant << shift``
    (``mant = frac | (exp != 0) << 10``, ``shift = max(exp - 1, 0)``)."""
    e = f[10:15]
    mant = Signal(11, name=f"{prefix}_mant")
    shift = Signal(5, name=f"{prefix}_shift")
    m.d.comb += [mant.eq(Cat(f[:10], e.any())), shift.eq(Mux(e.any(), e - 1, 0))]
    return f[15], mant, shift


def _times_trit(a, w_pos, w_neg):
    """``a * w`` for a trit given as two flags (+1 / -1 / neither)."""
    return Mux(w_pos, a, Mux(w_neg, -a, 0))


class TernaryEngine(wiring.Component):
    """Ternary GEMV rows: ``4*lanes`` weights times int8 activations per beat, exact group sums, and the
    exact FP16 scale/bias epilogue.

    Parameters
    ----------
    lanes : int
        P: blocks of 4 weights (and 4*P activations) per beat.
    packing : {"sherry", "i2s", "tl2"}
        Code format of the weights in a beat (see :class:`~npegen.models.ternary.TernaryParams`).
    group_size : int
        Weights per group (one FP16 scale, one group sum).
    epilogue : {"fp16", "none"}
        Row results scaled exactly in fixed point, or the raw group sums.
    max_k : int
        Longest row the row accumulator holds without overflow (sizes ``y``).

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"codes": code_bits, "acts": ArrayLayout(signed(8), 4*P),
        ["scale": 16, "bias": 16,] "last": 1})))
        One beat: the weight codes (field ``j`` at bits ``[w*j, w*(j+1))``, ``w`` = 5, 2 or 5), the 4*P
        activations (activation ``4j + q`` goes with lane ``q`` of block ``j``), and ``last`` (the row
        ends with this beat's group). With the ``"fp16"`` epilogue, ``scale`` (FP16 bits of the group's
        scale) is sampled on each group's last beat and ``bias`` (FP16 bits, in accumulator units) on the
        row's last beat; other beats ignore them.

        Every code word decodes (:func:`~npegen.models.ternary.beat_trits` is the model): all 32 Sherry
        codes are legal; the reserved I2_S code 3 decodes as weight 0; a TL2 field with the sign set and
        magnitude 0 decodes as (0, 0, 0), and the unused TL2 magnitudes 14 and 15 decode as 12, i.e.
        +-(1, 1, 0).
    o : Out(stream.Signature(StructLayout({"y": signed(out_width)}))) or
        Out(stream.Signature(StructLayout({"acc": signed(acc_width), "last": 1})))
        ``"fp16"``: one word per row, ``Y = sum_g acc_g * scale_g + bias`` exactly, LSB 2**-24 (the real
        output is ``Y * 2**-24 / x_scale``). ``"none"``: one exact group sum every ``group_size / (4*P)``
        beats, with the ``last`` of its final beat.

    Notes
    -----
    *Latency*: 1 cycle from the edge accepting a group's last beat to its sum (``"none"``); 2 cycles from
    the edge accepting a row's last beat to ``y`` (``"fp16"``: the group-sum register, then the
    multiply-shift-accumulate stage). *Throughput*: one beat (4*P weights) per cycle while ``o`` is ready;
    a row of K weights takes K / (4*P) cycles (:meth:`TernaryParams.cycles_per_row`), back to back.
    A result not taken stalls the engine: ``i.ready`` is low only in cycles where ``o.ready`` is low and a
    result waits. While a result waits, the engine takes no beat (``"none"``), or at most the rest of the
    next row, fewer than ``cycles_per_row(K)`` beats (``"fp16"``: that row's last group sum then waits in
    the group-sum register). Nothing is dropped or duplicated however long ``o.ready`` stays low.

    Sherry decode per block (``z`` zero position, ``s`` sign, ``b0``/``b1`` relative signs)::

        x0 = (z <= 0) ? a1 : a0;  x1 = (z <= 1) ? a2 : a1;  x2 = (z <= 2) ? a3 : a2
        t = x0 + (b0 ? -x1 : x1) + (b1 ? -x2 : x2);   block = s ? -t : t

    FP16 epilogue per group (``acc_width`` x 11-bit multiplier, 0-29 barrel shift, ``out_width`` adder)::

        mant = frac | (exp != 0) << 10;  shift = max(exp - 1, 0)
        R += (-1)**sign * (acc_g * mant) << shift        # exact: every FP16 value is k * 2**-24

    An infinite or NaN scale (exponent 31) is outside the contract (the model rejects it).
    """

    def __init__(self, *, lanes: int = 8, packing: str = "sherry", group_size: int = 128, epilogue: str = "fp16",
                 max_k: int = 65536):
        self._p = TernaryParams(lanes=lanes, packing=packing, group_size=group_size, epilogue=epilogue,
                                max_k=max_k)
        p = self._p
        fields = {"codes": p.code_bits, "acts": data.ArrayLayout(signed(8), p.weights_per_beat)}
        if p.epilogue == "fp16":
            fields.update(scale=16, bias=16)
            out = {"y": signed(p.out_width)}
        else:
            out = {"acc": signed(p.acc_width), "last": 1}
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({**fields, "last": 1}))),
            "o": Out(stream.Signature(data.StructLayout(out))),
        })

    @classmethod
    def from_params(cls, p: TernaryParams) -> TernaryEngine:
        return cls(lanes=p.lanes, packing=p.packing, group_size=p.group_size, epilogue=p.epilogue, max_k=p.max_k)

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
        advance = Signal()  # the group-sum register can take a new sum this cycle
        if p.epilogue == "none":
            m.d.comb += advance.eq(~self.o.valid | self.o.ready)
        m.d.comb += self.i.ready.eq(advance)

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
                # 2 -> +1, 0 -> -1, 1 and the reserved 3 -> 0
                m.d.comb += w.eq(_times_trit(acts[j], c == 2, ~c.any()))
                terms.append(w)
        else:  # tl2: 5-bit fields (sign, |9*w0 + 3*w1 + w2|), one per 3 weights; unused |v| 14, 15 -> 12
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
        if p.epilogue == "none":
            with m.If(advance & self.o.ready):
                m.d.sync += self.o.valid.eq(0)
            with m.If(take):
                with m.If(a_end):
                    m.d.sync += [self.o.payload.acc.eq(a_new), self.o.payload.last.eq(self.i.payload.last),
                                 self.o.valid.eq(1), a_count.eq(0)]
                with m.Else():
                    m.d.sync += [a_acc.eq(a_new), a_count.eq(a_count + 1)]
            return m

        # group-sum register (g_) and the exact FP16 multiply-shift-accumulate stage (e_)
        g_valid, g_last = Signal(), Signal()
        g_acc = Signal(signed(p.acc_width))
        g_scale, g_bias = Signal(16), Signal(16)
        e_row = Signal(signed(p.out_width))
        e_take = Signal()
        m.d.comb += [e_take.eq(g_valid & (~g_last | ~self.o.valid | self.o.ready)),
                     advance.eq(~g_valid | e_take)]
        with m.If(take):
            with m.If(a_end):
                m.d.sync += [g_acc.eq(a_new), g_scale.eq(self.i.payload.scale), g_bias.eq(self.i.payload.bias),
                             g_last.eq(self.i.payload.last), a_count.eq(0)]
            with m.Else():
                m.d.sync += [a_acc.eq(a_new), a_count.eq(a_count + 1)]
        with m.If(advance):
            m.d.sync += g_valid.eq(take & a_end)

        s_neg, s_mant, s_shift = _fp16_fixed(m, g_scale, "e_scale")
        b_neg, b_mant, b_shift = _fp16_fixed(m, g_bias, "e_bias")
        e_mul = Signal(signed(p.acc_width + 12))
        e_prod = Signal(signed(p.out_width))
        e_bias = Signal(signed(p.out_width))
        e_sum = Signal(signed(p.out_width))
        m.d.comb += [
            e_mul.eq(g_acc * s_mant),
            e_prod.eq(Mux(s_neg, -(e_mul << s_shift), e_mul << s_shift)),
            e_bias.eq(Mux(b_neg, -(b_mant << b_shift), b_mant << b_shift)),
            e_sum.eq(e_row + e_prod),
        ]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(e_take):
            with m.If(g_last):
                m.d.sync += [self.o.payload.y.eq(e_sum + e_bias), self.o.valid.eq(1), e_row.eq(0)]
            with m.Else():
                m.d.sync += e_row.eq(e_sum)
        return m
