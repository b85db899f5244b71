"""Ramp-ADC nonlinearity controller: one shared ramp, ``n_cols`` comparators converting in parallel, and
the code at each comparator's flip is ``f(x)`` quantised (:mod:`npegen.models.ramp_adc`).

Signal prefixes: ``r_`` ramp generator (shared), ``c_`` columns, ``o_`` output registers.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..models._checks import check_int
from ..models.ramp_adc import COLUMNS, RAMPS, RampADC, RampAdcParams

__all__ = ["RampAdc"]


class RampAdc(wiring.Component):
    """Ramp ADC whose thresholds realise ``f``: all columns compare against one rising ramp.

    Parameters
    ----------
    adc : RampADC
        The converter (function, bits, input code width, thresholds); the RTL holds its integer tables.
    n_cols : int
        Columns converted in parallel, 1 to 256.
    ramp : {"rom", "accumulator"}
        ``"rom"``: the ramp register loads ``thresholds[k]`` from a threshold ROM each cycle.
        ``"accumulator"``: it starts at ``offset`` and adds ``steps[k]`` from a (narrower) step ROM.
    column : {"latch", "counter"}
        ``"latch"``: each column keeps the shared step code (counter value, its count-down, or the code
        LUT entry) of the last ramp step its comparator was high at - one shared counter/LUT for all
        columns. ``"counter"``: each column counts its comparator highs; the count goes through the
        count-down or the LUT (one read port per column) at the end.

    Attributes
    ----------
    start : In(1)
        Sample ``x`` and start a conversion; taken when ``ready`` is high.
    x : In(ArrayLayout(signed(in_bits), n_cols))
        The input code of each column (the MAC value in units of ``in_lsb``).
    ready : Out(1)
        ``start`` is taken this cycle: idle, or in the last step of a conversion (back to back).
    busy : Out(1)
        A conversion is in progress.
    valid : Out(1)
        One-cycle strobe: ``y`` holds a new result.
    y : Out(ArrayLayout(unsigned(n_bits), n_cols))
        The codes of the last finished conversion (held until the next one finishes).

    Notes
    -----
    *Latency*: a ``start`` taken at a rising edge gives ``valid`` (and ``y``) after the rising edge
    ``adc.cycles`` edges later - one cycle per ramp step: ``2**N - 1`` for monotone ``f``, the number of
    breakpoints with a LUT.
    *Throughput*: back to back, one conversion of ``n_cols`` columns every ``adc.cycles`` cycles.

    Step ``k`` (``k = 1 .. S``, ``S = adc.cycles``) compares ``x >= thresholds[k-1]``; the column's code
    is then ``step_codes[#steps it was high at]`` (:attr:`RampADC.step_codes`), which equals
    :meth:`RampADC.convert` because the ramp never falls.
    """

    def __init__(self, adc: RampADC, *, n_cols: int = 8, ramp: str = "rom", column: str = "latch"):
        if not isinstance(adc, RampADC):
            raise TypeError(f"adc must be a npegen RampADC, not {adc!r}")
        self._adc = adc
        self._n_cols = check_int("n_cols", n_cols, 1, 256)
        if ramp not in RAMPS:
            raise ValueError(f"ramp must be one of {RAMPS}, not {ramp!r}")
        if column not in COLUMNS:
            raise ValueError(f"column must be one of {COLUMNS}, not {column!r}")
        self._ramp, self._column = ramp, column
        super().__init__({
            "start": In(1),
            "x": In(data.ArrayLayout(signed(adc.in_bits), self._n_cols)),
            "ready": Out(1),
            "busy": Out(1),
            "valid": Out(1),
            "y": Out(data.ArrayLayout(unsigned(adc.n_bits), self._n_cols)),
        })

    @classmethod
    def from_params(cls, p: RampAdcParams) -> RampAdc:
        return cls(p.adc, n_cols=p.n_cols, ramp=p.ramp, column=p.column)

    @property
    def adc(self) -> RampADC:
        return self._adc

    @property
    def n_cols(self) -> int:
        return self._n_cols

    @property
    def latency(self) -> int:
        return self._adc.cycles

    def elaborate(self, platform):
        m = Module()
        adc = self._adc
        s = adc.cycles
        thr = [int(t) for t in adc.thresholds]
        codes = [int(c) for c in adc.step_codes]
        r_w = adc.in_bits + 1  # thresholds reach x_max + 1

        r_k = Signal(range(s + 1))  # the step being compared, 1 .. S
        r_level = Signal(signed(r_w))
        r_busy = Signal()
        r_last = Signal()
        take = Signal()
        m.d.comb += [
            r_last.eq(r_busy & (r_k == s)),
            self.ready.eq(~r_busy | r_last),
            take.eq(self.start & self.ready),
            self.busy.eq(r_busy),
        ]

        # next ramp level (for step k + 1): a ROM read at address k
        r_next = Signal(signed(r_w))
        if s > 1:
            if self._ramp == "rom":
                rom = memory.Memory(shape=signed(r_w), depth=s + 1, init=thr + thr[-1:])  # pad: address S unused
                rd = rom.read_port(domain="comb")
                m.d.comb += [rd.addr.eq(r_k), r_next.eq(rd.data)]
            else:
                steps = [0] + [int(d) for d in adc.steps] + [0]  # address k: T_{k+1} - T_k; 0 and S unused
                st_w = max(bits_for(max(steps)), 1)
                rom = memory.Memory(shape=unsigned(st_w), depth=s + 1, init=steps)
                rd = rom.read_port(domain="comb")
                m.d.comb += [rd.addr.eq(r_k), r_next.eq(r_level + rd.data)]  # steps[k-1] = T_{k+1} - T_k
            m.submodules.r_rom = rom
        else:
            m.d.comb += r_next.eq(r_level)

        # the shared code of step k (what a latch column takes when its comparator is high)
        mode = adc.mode
        r_code = Signal(unsigned(adc.n_bits))
        if mode == "up":
            m.d.comb += r_code.eq(r_k)
        elif mode == "down":
            m.d.comb += r_code.eq(adc.levels - 1 - r_k)
        needs_lut = mode == "lut"
        if needs_lut:
            lut = memory.Memory(shape=unsigned(adc.n_bits), depth=s + 1, init=codes)
            m.submodules.r_lut = lut
            if self._column == "latch":
                rp = lut.read_port(domain="comb")
                m.d.comb += [rp.addr.eq(r_k), r_code.eq(rp.data)]

        with m.If(take):
            m.d.sync += [r_busy.eq(1), r_k.eq(1), r_level.eq(thr[0])]
        with m.Elif(r_busy):
            m.d.sync += [r_k.eq(r_k + 1), r_level.eq(r_next)]
            with m.If(r_last):
                m.d.sync += r_busy.eq(0)
        m.d.sync += self.valid.eq(r_last)

        x_reg = Signal.like(self.x)
        with m.If(take):
            m.d.sync += x_reg.eq(self.x)
        for j in range(self._n_cols):
            c_ge = Signal(name=f"c_ge_{j}")
            m.d.comb += c_ge.eq(x_reg[j] >= r_level)
            if self._column == "latch":
                c_code = Signal(unsigned(adc.n_bits), name=f"c_code_{j}")
                c_new = Signal(unsigned(adc.n_bits), name=f"c_new_{j}")
                m.d.comb += c_new.eq(Mux(c_ge, r_code, c_code))
                with m.If(r_busy):
                    m.d.sync += c_code.eq(c_new)
                with m.If(take):  # before any step: the code of zero steps crossed
                    m.d.sync += c_code.eq(codes[0])
                with m.If(r_last):
                    m.d.sync += self.y[j].eq(c_new)
            else:
                c_cnt = Signal(range(s + 1), name=f"c_cnt_{j}")
                c_new = Signal(range(s + 1), name=f"c_new_{j}")
                m.d.comb += c_new.eq(c_cnt + c_ge)
                with m.If(r_busy):
                    m.d.sync += c_cnt.eq(c_new)
                with m.If(take):
                    m.d.sync += c_cnt.eq(0)
                c_out = Signal(unsigned(adc.n_bits), name=f"c_out_{j}")
                if mode == "up":
                    m.d.comb += c_out.eq(c_new)
                elif mode == "down":
                    m.d.comb += c_out.eq(Const(adc.levels - 1, adc.n_bits) - c_new)
                else:
                    rp = lut.read_port(domain="comb")
                    m.d.comb += [rp.addr.eq(c_new), c_out.eq(rp.data)]
                with m.If(r_last):
                    m.d.sync += self.y[j].eq(c_out)
        return m
