# amaranth: UnusedElaboratable=no
"""RampAdc in the Amaranth simulator (``rtl_*``) against the model (``ref_*``) for every ramp/column variant
and conversion mode: back to back, with idle gaps, starts while busy and a long hold of the output; every
wait bounded (a lost or extra result fails at once, naming the batch); parameter validation and Verilator
lint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth.sim import Simulator

from npegen.hw.ramp_adc import RampAdc
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models.ramp_adc import RampADC, RampAdcParams
from npegen.sim.amaranth_stream import Interface, StreamLog, stream_recv, stream_send
from npegen.sim.tb_ramp_adc import sabotaged
from npegen.sim.util import Watchdog


@dataclass
class Run:
    """What the bench saw: codes [B, n_cols] in batch order, the edge that took each start, the edge after
    which each ``valid`` was high."""

    codes: np.ndarray
    takes: list[int] = field(default_factory=list)
    valids: list[int] = field(default_factory=list)


def rtl_ramp_adc(dut, batches: np.ndarray, *, rng: np.random.Generator | None = None, p_gap: float = 0.0,
                 p_spurious: float = 0.0, hold: int | None = None) -> Run:
    """Convert ``batches`` [B, n_cols] on ``dut`` in the Amaranth simulator and check the handshake as it runs.

    The batches go in through :func:`~npegen.sim.amaranth_stream.stream_send` on ``start`` / ``ready`` / ``x``:
    ``start`` is held high while a batch is pending (back to back: taken in the last step of the previous
    conversion), after an idle gap with probability ``p_gap`` (``x`` random while idle); while not ready, ``start``
    pulses with random ``x`` (``p_spurious``) and must be ignored. The codes come out through
    :func:`~npegen.sim.amaranth_stream.stream_recv` on ``valid`` / ``y``, both packed with the converter's own
    layouts: each ``valid`` must come exactly ``adc.cycles`` edges after the edge that took its start (an early,
    extra or lost result fails at once, naming the batch; a start not taken within ``cycles + 2`` edges fails
    through a :class:`Watchdog`); ``y`` only changes with ``valid``; ``busy`` is high while a conversion is
    outstanding. After the last result the output is held for ``hold`` edges (default ``cycles + 2``): no
    ``valid``, ``y`` unchanged, ``ready`` high, ``busy`` low.
    """
    adc = dut.adc
    n, s = len(batches), adc.cycles
    hold = s + 2 if hold is None else hold
    run = Run(codes=np.zeros((n, batches.shape[1]), dtype=np.int64))
    sent, seen = StreamLog(), StreamLog()

    async def producer(ctx):
        never = Watchdog(s + 2, lambda: f"batch {len(sent.accepted)} of {n}: its start was never taken (ready low)")
        run.takes = await stream_send(ctx, Interface(dut.start, dut.ready, dut.x), [b.tolist() for b in batches],
                                      idle_prob=p_gap, rng=rng, idle_payload="random" if rng is not None else None,
                                      spurious_prob=p_spurious, watchdog=never, log=sent)

    async def consumer(ctx):
        def sideband(edge):  # after the edge: busy through every conversion; idle and ready after the last one
            done = len(seen.edges) + ctx.get(dut.valid)  # results registered up to this edge
            busy = ctx.get(dut.busy)
            if len(seen.accepted) > done and not busy:
                raise AssertionError(f"batch {done} of {n}: busy low at edge {edge} before its result")
            if done == n and (not ctx.get(dut.ready) or busy):
                raise AssertionError(f"after the last batch: ready={ctx.get(dut.ready)} busy={busy} at edge {edge}")

        codes = await stream_recv(ctx, Interface(dut.valid, None, dut.y), n, upstream=Interface(dut.start, dut.ready,
                                  dut.x), upstream_log=sent, latency=s, hold=True, drain=hold, watchdog=s + 3,
                                  on_cycle=sideband, log=seen, label="y", item="batch", upstream_item="start",
                                  names=lambda k, total: f"batch {k} of {total}")
        run.codes[:] = codes
        run.valids = [e - 1 for e in seen.edges]  # registered at the edge before the one that sampled it

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return run


def check_codes(adc: RampADC, batches: np.ndarray, run: Run) -> None:
    want = adc.convert(batches)
    bad = np.argwhere(run.codes != want)
    if bad.size:
        b, j = bad[0]
        raise AssertionError(f"{len(bad)} of {want.size} codes differ; first batch {b} column {j} x={batches[b, j]}: "
                             f"rtl {run.codes[b, j]}, model {want[b, j]} ({adc!r})")


ADCS = {
    "sigmoid_up": RampADC("sigmoid", 4, 7, 1 / 8),
    "neg_tanh_down": RampADC(lambda x: -np.tanh(x), 3, 7, 1 / 16, (-1, 1)),
    "gelu_lut": RampADC("gelu", 4, 7, 1 / 16),  # codes 1, 0, 1, 2, ... (at N = 3 the dip vanishes: up mode)
    "one_bit": RampADC("tanh", 1, 5, 1 / 4),
    "hardsigmoid_two_bit": RampADC("hardsigmoid", 2, 6, 1 / 4),  # exact ties at x = -2, 2 (codes 1 and 3)
}
MODE_OF = {"sigmoid_up": "up", "neg_tanh_down": "down", "gelu_lut": "lut", "one_bit": "up", "hardsigmoid_two_bit": "up"}


@pytest.mark.parametrize("ramp", ["rom", "accumulator"])
@pytest.mark.parametrize("column", ["latch", "counter"])
@pytest.mark.parametrize("name", list(ADCS))
def test_rtl_matches_model_on_every_input(name, ramp, column, seed):
    """Every input code, shuffled over 4 columns, back to back: codes = model, valid exactly ``cycles`` edges after
    each start, a start taken every ``cycles`` edges, no extra valid after the last one."""
    adc = ADCS[name]
    assert adc.mode == MODE_OF[name]
    dut = RampAdc(adc, n_cols=4, ramp=ramp, column=column)
    xs = np.random.default_rng(seed).permutation(np.arange(adc.x_min, adc.x_max + 1)).reshape(-1, 4)
    run = rtl_ramp_adc(dut, xs)
    check_codes(adc, xs, run)
    assert dut.latency == adc.cycles
    assert set(np.diff(run.takes).tolist()) == {adc.cycles}, "back-to-back starts not taken every cycles edges"


@pytest.mark.parametrize(("ramp", "column"), [("rom", "latch"), ("rom", "counter"), ("accumulator", "latch"),
                                              ("accumulator", "counter")])
@pytest.mark.parametrize("name", ["sigmoid_up", "neg_tanh_down", "gelu_lut"])
def test_idle_gaps_starts_while_busy_and_long_hold(name, ramp, column, seed):
    """Random idle gaps, start pulses with random x while busy (ignored), x changing while idle, then the
    output held for 10 conversion times: y unchanged, no valid, ready high, busy low; the codes still exact."""
    adc = ADCS[name]
    rng = np.random.default_rng(seed)
    batches = rng.integers(adc.x_min, adc.x_max + 1, (20, 3))
    batches[0], batches[1] = adc.x_min, adc.x_max
    dut = RampAdc(adc, n_cols=3, ramp=ramp, column=column)
    run = rtl_ramp_adc(dut, batches, rng=rng, p_gap=0.4, p_spurious=0.3, hold=10 * adc.cycles)
    check_codes(adc, batches, run)


def test_default_point_every_input():
    """The default design point (sigmoid, N = 5, 10-bit input, 8 columns, ROM, latches): every input code."""
    p = RampAdcParams()
    adc = p.adc
    xs = np.arange(adc.x_min, adc.x_max + 1).reshape(-1, p.n_cols)
    run = rtl_ramp_adc(RampAdc.from_params(p), xs)
    check_codes(adc, xs, run)


@pytest.mark.parametrize("column", ["latch", "counter"])
def test_gelu_lut_has_more_steps_than_levels(column):
    """GELU at a fine input LSB: the code falls then rises, so the ramp has more steps than 2**N - 1."""
    adc = RampADC("gelu", 5, 8, 1 / 64)
    assert adc.mode == "lut" and adc.cycles > adc.levels - 1
    xs = np.arange(adc.x_min, adc.x_max + 1).reshape(-1, 8)
    run = rtl_ramp_adc(RampAdc(adc, n_cols=8, column=column), xs)
    np.testing.assert_array_equal(run.codes, adc.table[xs - adc.x_min])


@pytest.mark.parametrize(("kw", "match"), [
    (dict(drop=3), r"batch 3 of 8: no valid at edge 125, where it was due \(start taken at edge 94 \+ 31 cycles\): "
                   r"the result is lost"),
    (dict(extra=7), r"extra result: valid at edge 250 with no start outstanding \(after batch 7 of 8\)"),
    (dict(extra=2), r"batch 3 of 8: valid at edge 95, documented 125 \(start taken at edge 94 \+ 31 cycles\): an "
                    r"early, extra or lost result"),
], ids=["lost", "extra-after-last", "extra-mid-stream"])
def test_bench_fails_at_once_on_a_lost_or_extra_result(kw, match):
    """A DUT that loses a result or adds one fails within a few cycles with a message naming the batch."""
    adc = RampADC("sigmoid", 5, 6, 1 / 4)
    xs = np.arange(adc.x_min, adc.x_max + 1).reshape(-1, 8)
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=match):
        rtl_ramp_adc(sabotaged(RampAdc(adc, n_cols=8), **kw), xs)
    assert time.monotonic() - t0 < 10


def test_bench_fails_on_a_stuck_converter():
    """A converter stuck busy (ready never high, no valid) fails after cycles + 2 edges, naming the batch."""
    adc = RampADC("sigmoid", 3, 5, 1 / 4)
    with pytest.raises(AssertionError, match=r"batch 0 of 2: its start was never taken \(ready low\): "
                                             r"nothing arrived within 9 cycles \(lost or stuck\)"):
        rtl_ramp_adc(sabotaged(RampAdc(adc, n_cols=4), stuck=True), np.zeros((2, 4), dtype=np.int64))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(adc="sigmoid"), TypeError, "adc must be a npegen RampADC, not 'sigmoid'"),
        (dict(n_cols=300), ValueError, r"n_cols must be an integer in \[1, 256\], not 300"),
        (dict(ramp="dac"), ValueError, r"ramp must be one of \('rom', 'accumulator'\), not 'dac'"),
        (dict(column="sar"), ValueError, r"column must be one of \('latch', 'counter'\), not 'sar'"),
    ],
)
def test_invalid_parameters(kwargs, exc, match):
    """Invalid generator parameters raise with the documented message."""
    kw = dict(adc=RampADC("sigmoid", 5, 10, 1 / 64))
    kw.update(kwargs)
    with pytest.raises(exc, match=match):
        RampAdc(kw.pop("adc"), **kw)


@pytest.mark.parametrize(("ramp", "column"), [("rom", "latch"), ("accumulator", "counter")])
def test_lint_clean(ramp, column, tmp_path):
    """The emitted Verilog is Verilator-lint clean (up and LUT modes)."""
    for adc in (RampADC("sigmoid", 5, 10, 1 / 64), RampADC("gelu", 4, 9, 1 / 32)):
        v = write_verilog(RampAdc(adc, n_cols=8, ramp=ramp, column=column), tmp_path / "ramp_adc.v", name="ramp_adc")
        lint_verilog(v, top="ramp_adc")
