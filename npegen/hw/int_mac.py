"""Signed integer multiply-accumulate lane (the baseline every other MAC is compared against)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.int_mac import IntMacParams

__all__ = ["IntMac"]


class IntMac(wiring.Component):
    """Signed INT-``width`` x INT-``width`` multiply into a ``acc_width``-bit accumulator.

    The design point is described by :class:`npegen.models.int_mac.IntMacParams`,
    which also parameterises the bit-exact model :func:`npegen.models.int_mac.ref_int_mac`
    and the testbench :mod:`npegen.sim.tb_int_mac`.

    Parameters
    ----------
    width : int
        Operand width, 2 to 32 bits (signed two's complement).
    acc_width : int or None
        Accumulator width, ``2*width`` to 64 bits; ``None`` selects ``2*width + 8``.
    overflow : {"wrap", "saturate"}
        ``"wrap"``: the accumulator wraps modulo ``2**acc_width``.
        ``"saturate"``: it clamps to the most positive / most negative value.
        In both modes the ``overflow`` output is set when an exact sum did not
        fit and stays set until ``clear``.
    stages : int
        Pipeline depth, 1 to 8 (see *Latency*).

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a": signed(width), "b": signed(width)})))
        Operand beats. ``i.ready`` is driven constant 1: the lane never stalls.
        (Not ``always_ready``: a constant cannot be a top-level Verilog port.)
    clear : In(1)
        Start a new accumulation. In a cycle with ``clear`` the accumulator
        loads that cycle's product if ``i.valid``, else zero, and the sticky
        overflow flag is reset. ``clear`` travels down the pipeline with the
        beat, so it is ordered with the beats around it.
    acc : Out(signed(acc_width))
        Accumulator (registered).
    overflow : Out(1)
        Sticky overflow flag (registered).

    Notes
    -----
    *Latency*: ``stages`` clock edges from the edge that accepts a beat (or
    a ``clear``) to the edge after which ``acc`` includes it. With
    ``stages=1`` the product feeds the accumulator directly; each further
    stage adds a product register (``x_`` multiply, ``p<k>_`` pipeline,
    ``a_`` accumulate signal prefixes).
    *Throughput*: one beat per clock cycle, back to back, including across
    ``clear`` (no bubble).

    Raises
    ------
    TypeError, ValueError
        From :class:`~npegen.models.int_mac.IntMacParams` for invalid parameters.
    """

    def __init__(self, *, width: int = 8, acc_width: int | None = None, overflow: str = "wrap",
                 stages: int = 1):
        self._params = IntMacParams(width=width, acc_width=acc_width, overflow=overflow, stages=stages)
        p = self._params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"a": signed(p.width), "b": signed(p.width)}))),
            "clear": In(1),
            "acc": Out(signed(p.acc_width)),
            "overflow": Out(1),
        })

    @classmethod
    def from_params(cls, params: IntMacParams) -> IntMac:
        """Build the lane for a validated :class:`IntMacParams`."""
        return cls(width=params.width, acc_width=params.acc_width, overflow=params.overflow,
                   stages=params.stages)

    # Read-only parameters -------------------------------------------------------------------------------

    @property
    def params(self) -> IntMacParams:
        return self._params

    @property
    def width(self) -> int:
        return self._params.width

    @property
    def acc_width(self) -> int:
        return self._params.acc_width

    @property
    def overflow_mode(self) -> str:
        return self._params.overflow

    @property
    def stages(self) -> int:
        return self._params.stages

    @property
    def latency(self) -> int:
        """Clock edges from an accepted beat to ``acc`` including it (= ``stages``)."""
        return self._params.latency

    # Hardware -------------------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        p = self._params
        w_acc = p.acc_width

        # x: multiply (combinational from the input port).
        x_prod = Signal(signed(p.product_width))
        x_valid = Signal()
        x_clear = Signal()
        m.d.comb += [
            self.i.ready.eq(1),
            x_prod.eq(self.i.payload.a * self.i.payload.b),
            x_valid.eq(self.i.valid),
            x_clear.eq(self.clear),
        ]

        # p<k>: product pipeline registers, stages - 1 of them. Only valid beats load a product,
        # so the register is operand-isolated when idle.
        prod, valid, clear = x_prod, x_valid, x_clear
        for k in range(1, p.stages):
            n_prod = Signal(signed(p.product_width), name=f"p{k}_prod")
            n_valid = Signal(name=f"p{k}_valid")
            n_clear = Signal(name=f"p{k}_clear")
            m.d.sync += [n_valid.eq(valid), n_clear.eq(clear)]
            with m.If(valid):
                m.d.sync += n_prod.eq(prod)
            prod, valid, clear = n_prod, n_valid, n_clear

        # a: accumulate. The sum is computed exactly in acc_width + 1 bits; it fits in acc_width bits
        # iff its two top bits agree.
        # Both addends are sign-extended to the sum's width and added as unsigned bit vectors of that
        # one width (the same two's complement sum): Yosys would otherwise shrink a signed add back to
        # mixed operand widths, which Verilator's WIDTH lint flags in the emitted Verilog.
        a_base = Signal(signed(w_acc + 1))
        a_prod = Signal(signed(w_acc + 1))
        a_sum = Signal(signed(w_acc + 1))
        a_fits = Signal()
        m.d.comb += [
            a_base.eq(Mux(clear, 0, self.acc)),
            a_prod.eq(prod),
            a_sum.eq((a_base.as_unsigned() + a_prod.as_unsigned())[:w_acc + 1]),
            a_fits.eq(a_sum[w_acc] == a_sum[w_acc - 1]),
        ]
        a_result = Signal(signed(w_acc))
        if p.overflow == "wrap":
            m.d.comb += a_result.eq(a_sum[:w_acc])
        else:
            most_pos = Const(p.acc_max, signed(w_acc))
            most_neg = Const(p.acc_min, signed(w_acc))
            m.d.comb += a_result.eq(Mux(a_fits, a_sum[:w_acc], Mux(a_sum[w_acc], most_neg, most_pos)))

        with m.If(valid):  # a beat: accumulate (with clear, a_base is 0: restart from this product)
            m.d.sync += [
                self.acc.eq(a_result),
                self.overflow.eq((self.overflow & ~clear) | ~a_fits),
            ]
        with m.Elif(clear):
            m.d.sync += [self.acc.eq(0), self.overflow.eq(0)]
        return m
