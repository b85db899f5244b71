"""cocotb testbench of :class:`npegen.hw.ramp_adc.RampAdc`: RTL codes against the package convention.

The expected code of every input is :attr:`RampADC.table` - the convention's formula evaluated on every
input code - so the RTL is compared with the formula itself, not only with the model's threshold tables
(``tests/models/test_ramp_adc.py`` checks the model against an independent evaluation). Design point in
``PARAM_*`` (:meth:`RampAdcParams.to_env`), seed in ``NPEGEN_SEED``. A converter of any ``f`` (a callable,
e.g. a decreasing one: count-down mode) travels as its tables in a JSON file named by ``PARAM_TABLES``
(:func:`verify_ramp_adc` ``adc=``); the converter's ``x`` and ``y`` layouts travel as ``NPEGEN_PORTS``
(:class:`~npegen.sim.util.Ports`). Starts go in through a :class:`~npegen.sim.stream.StreamDriver` on
``start`` / ``ready`` / ``x`` and codes come out through a :class:`~npegen.sim.stream.StreamMonitor` on ``valid`` /
``y``, driven and sampled at the falling clock edge.

Lost and extra results: every cycle is checked as it happens (the monitor's ``latency``). A ``valid`` must
come exactly ``cycles`` edges after the edge that took its start: none at that edge fails as a lost result, one
at another edge as an early or extra result, one with no start outstanding as an extra result (also during the
idle cycles after the last result), each naming the batch. The wait for ``ready`` to take a pending start is
bounded by the driver's :class:`~npegen.sim.util.Watchdog` of ``cycles + 2`` cycles: the documented latency
plus the cycle that takes the start, plus one (the monitor's, one cycle longer, bounds the wait for a result).

Tests
-----
test_all_inputs_back_to_back
    Every input code (``in_bits`` <= ``NPEGEN_EXHAUSTIVE_BITS``, default 12; beyond that every threshold
    and its neighbours, the extremes and random codes), shuffled over the columns, ``start`` held high so
    conversions run back to back; each ``valid`` comes exactly ``cycles`` edges after the edge that took
    its ``start``, ``busy`` is high throughout and no conversion is lost or repeated.
test_idle_gaps_and_ignored_starts
    Random idle gaps between conversions, ``start`` pulses with random ``x`` while busy (ignored unless
    ``ready``), ``x`` changing while idle, ``y`` held between results, the same timing check; then the
    output held for ``4 * cycles`` idle cycles (no ``valid``, ``y`` unchanged, ``ready`` high, ``busy`` low).
"""

from __future__ import annotations

import json
import os
from bisect import bisect_left
from dataclasses import dataclass

import cocotb
import numpy as np

from ..models.ramp_adc import RampADC, RampAdcParams
from .stream import StreamDriver, StreamMonitor, transfer
from .util import Ports, Watchdog, record_measurement, rng_from_env, sim_env, start

TOPLEVEL = "ramp_adc"


@dataclass(frozen=True)
class Tables:
    """What the testbench needs of a :class:`RampADC`: widths, latency, thresholds and the code of every input."""

    tag: str
    n_bits: int
    in_bits: int
    cycles: int
    thresholds: np.ndarray
    table: np.ndarray

    @property
    def x_min(self) -> int:
        return -(1 << (self.in_bits - 1))

    @property
    def x_max(self) -> int:
        return (1 << (self.in_bits - 1)) - 1

    @classmethod
    def of(cls, adc: RampADC, tag: str) -> Tables:
        return cls(tag, adc.n_bits, adc.in_bits, adc.cycles, adc.thresholds.copy(), adc.table.copy())

    def to_json(self) -> str:
        return json.dumps({"tag": self.tag, "n_bits": self.n_bits, "in_bits": self.in_bits, "cycles": self.cycles,
                           "thresholds": self.thresholds.tolist(), "table": self.table.tolist()})

    @classmethod
    def from_json(cls, text: str) -> Tables:
        d = json.loads(text)
        return cls(d["tag"], d["n_bits"], d["in_bits"], d["cycles"], np.array(d["thresholds"], dtype=np.int64),
                   np.array(d["table"], dtype=np.int64))


async def _start(dut) -> tuple[int, Tables]:
    """Clock, reset; the number of columns and the tables (from ``PARAM_TABLES``, else built from ``PARAM_*``)."""
    await start(dut, start=0, x=0)
    path = os.environ.get("PARAM_TABLES")
    if path:
        with open(path) as f:
            return int(os.environ["PARAM_N_COLS"]), Tables.from_json(f.read())
    p = RampAdcParams.from_env()
    return p.n_cols, Tables.of(p.adc, p.tag)


def _inputs(t: Tables, n_cols: int, rng) -> np.ndarray:
    if t.in_bits <= int(os.environ.get("NPEGEN_EXHAUSTIVE_BITS", "12")):
        xs = np.arange(t.x_min, t.x_max + 1)
    else:
        th = t.thresholds
        xs = np.concatenate([th - 1, th, th + 1, [t.x_min, t.x_max, 0, -1, 1],
                             rng.integers(t.x_min, t.x_max + 1, 4096)])
        xs = np.unique(np.clip(xs, t.x_min, t.x_max))
    xs = rng.permutation(xs)
    pad = (-len(xs)) % n_cols
    return np.concatenate([xs, xs[:pad]]).reshape(-1, n_cols)


async def _run(dut, t: Tables, n_cols: int, batches: np.ndarray, rng=None, p_gap=0.0, p_spurious=0.0,
               hold: int | None = None):
    """Convert every batch, checking the handshake each cycle (see the module notes); then hold the output idle
    for ``hold`` cycles (default ``cycles + 2``). Return (codes [B, n_cols], take cycles, valid cycles).

    The batches go in through a :class:`~npegen.sim.stream.StreamDriver` on ``start`` / ``ready`` / ``x`` (idle
    gaps with probability ``p_gap``, random ``x`` while idle, ignored ``start`` pulses while not ready with
    probability ``p_spurious``), the codes come out through a :class:`~npegen.sim.stream.StreamMonitor` on
    ``valid`` / ``y`` (no ready: every valid is a result) that checks each ``valid`` comes exactly ``cycles``
    edges after the edge that took its start and that ``y`` holds between results; both pack with the converter's
    own ``x`` and ``y`` layouts."""
    ports = Ports.from_env()
    n, s = len(batches), t.cycles
    hold = s + 2 if hold is None else hold
    drv = mon = None

    def never_taken() -> str:
        return f"{t.tag}: batch {drv.index} of {n}: its start was never taken (ready low)"

    def sideband(c: int) -> None:  # busy through every conversion; idle and ready once the last one is out
        outstanding = bisect_left(drv.accepted, c) - len(mon.beats)
        busy = int(dut.busy.value)
        if outstanding > 0 and not busy:
            raise AssertionError(f"{t.tag}: batch {len(mon.beats)} of {n}: busy low at cycle {c} before its result")
        if len(mon.beats) == n:
            ready = int(dut.ready.value)
            if not ready or busy:
                raise AssertionError(f"{t.tag}: after the last batch: ready={ready} busy={busy} at cycle {c}")

    # ready is registered state (idle, or the last step of a conversion): read it at the falling edge, no settle
    drv = StreamDriver(dut, ports["x"].shape, name=None, valid="start", ready="ready", payload="x", settle=False,
                       idle_prob=p_gap, rng=rng, idle_payload="random" if rng is not None else None,
                       spurious_prob=p_spurious, watchdog=Watchdog(s + 2, never_taken), label=t.tag, item="start")
    # a late result is caught at its due cycle (latency): the watchdog, one cycle longer, only bounds the wait
    mon = StreamMonitor(dut, ports["y"].shape, name=None, valid="valid", ready=None, payload="y", source=drv,
                        latency=s, hold=True, watchdog=s + 3, on_cycle=sideband, label=t.tag, item="batch",
                        names=lambda k, _n: f"batch {k} of {n}")
    got = await transfer(drv, [b.tolist() for b in batches], mon, n, drain=hold)
    return np.array(got, dtype=np.int64), [c + 1 for c in drv.accepted], mon.cycles


def _check(t: Tables, batches, got, label):
    want = t.table[batches - t.x_min]
    bad = np.argwhere(got != want)
    if bad.size:
        b, j = bad[0]
        raise AssertionError(f"{label}: {len(bad)} of {want.size} codes differ; first batch {b} x={batches[b, j]} "
                             f"(column {j}): rtl {got[b, j]}, convention {want[b, j]} ({t.tag})")


@cocotb.test()
async def test_all_inputs_back_to_back(dut):
    n_cols, t = await _start(dut)
    rng = rng_from_env(1)
    batches = _inputs(t, n_cols, rng)
    got, takes, valids = await _run(dut, t, n_cols, batches)
    _check(t, batches, got, "back to back")
    record_measurement("ramp_adc.test_all_inputs_back_to_back", cycles=valids[-1] - (takes[0] - 1) + 1,
                       conversions=len(batches))
    gaps = set(np.diff(takes).tolist())
    assert gaps <= {t.cycles}, f"back-to-back starts taken every {sorted(gaps)} cycles, not {t.cycles}"
    dut._log.info("%d inputs in %d conversions of %d cycles, back to back: all codes = convention (%s)",
                  batches.size, len(batches), t.cycles, t.tag)


@cocotb.test()
async def test_idle_gaps_and_ignored_starts(dut):
    n_cols, t = await _start(dut)
    rng = rng_from_env(2)
    batches = rng.integers(t.x_min, t.x_max + 1, (24, n_cols))
    batches[0, :] = t.x_min
    batches[1, :] = t.x_max
    got, _, _ = await _run(dut, t, n_cols, batches, rng=rng, p_gap=0.4, p_spurious=0.3, hold=4 * t.cycles)
    _check(t, batches, got, "idle gaps")
    dut._log.info("24 conversions with idle gaps and ignored starts, output held %d cycles: codes and timing "
                  "exact (%s)", 4 * t.cycles, t.tag)


def sabotaged(inner, *, drop: int | None = None, extra: int | None = None, stuck: bool = False):
    """A deliberately broken DUT with the interface of ``inner`` (a :class:`~npegen.hw.ramp_adc.RampAdc`): result
    number ``drop`` (0-based) loses its ``valid``, ``valid`` repeats one cycle after result number ``extra``, or
    (``stuck``) it never becomes ready and never answers. The tests use it to show that the testbenches fail at
    once with a message naming the batch, never waiting forever."""
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring

    class Sabotaged(wiring.Component):
        def __init__(self):
            self.adc = inner.adc
            super().__init__(inner.signature)

        def elaborate(self, platform):
            m = Module()
            m.submodules.inner = inner
            m.d.comb += [inner.start.eq(self.start), inner.x.eq(self.x), self.y.eq(inner.y)]
            count, again = Signal(16), Signal()
            with m.If(inner.valid):
                m.d.sync += count.eq(count + 1)
            valid = inner.valid
            if drop is not None:
                valid = valid & (count != drop)
            if extra is not None:
                m.d.sync += again.eq(inner.valid & (count == extra))
                valid = valid | again
            if stuck:
                m.d.comb += [self.valid.eq(0), self.ready.eq(0), self.busy.eq(1)]
            else:
                m.d.comb += [self.valid.eq(valid), self.ready.eq(inner.ready), self.busy.eq(inner.busy)]
            return m

    return Sabotaged()


def verify_ramp_adc(params: RampAdcParams | None = None, *, adc: RampADC | None = None, sim: str | None = None,
                    seed: int | None = None, testcase: str | None = None, exhaustive_bits: int | None = None,
                    component=None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch.

    ``adc`` converts any :class:`RampADC` (e.g. of a decreasing callable: count-down mode) instead of
    ``params.adc``; ``params`` then only gives ``n_cols``, ``ramp`` and ``column``. ``component`` replaces the
    generated RTL by another component with RampAdc's interface (:func:`sabotaged`, for the tests).
    """
    import hashlib

    from ..hw.ramp_adc import RampAdc
    from .runner import build_root, resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    params = RampAdcParams() if params is None else params
    env = dict(params.to_env())  # (run_cocotb turns off pytest's plugin autoload inside the simulator)
    tag = params.tag
    if adc is None:
        adc = params.adc
    else:
        digest = hashlib.sha1(adc.thresholds.tobytes() + adc.step_codes.tobytes()).hexdigest()[:8]
        name = "".join(ch for ch in adc.fn_name if ch.isalnum() or ch == "_") or "fn"
        tag = (f"{name}_n{adc.n_bits}_i{adc.in_bits}_{adc.mode}_{digest}_c{params.n_cols}_{params.ramp[:3]}_"
               f"{params.column[:3]}")
    if component is not None:
        tag += "_" + type(component).__name__.lower()
    # the tables travel in a file: the simulator's Python need not rebuild the model (nor import scipy)
    bdir = runner_kwargs.get("build_dir") or build_root() / "sim" / f"{TOPLEVEL}_{sim}_{tag}"
    os.makedirs(bdir, exist_ok=True)
    path = os.path.abspath(os.path.join(bdir, "tables.json"))
    with open(path, "w") as f:
        f.write(Tables.of(adc, tag).to_json())
    env["PARAM_TABLES"] = path
    if exhaustive_bits is not None:
        env["NPEGEN_EXHAUSTIVE_BITS"] = str(int(exhaustive_bits))
    if component is None:
        component = RampAdc(adc, n_cols=params.n_cols, ramp=params.ramp, column=params.column)
    env.update(sim_env(component))  # the converter's own x / y layouts, for the testbench to pack with
    return run_cocotb(component, toplevel=TOPLEVEL, test_module=__name__, env=env, tag=tag, sim=sim, seed=seed,
                      testcase=testcase, **runner_kwargs)
