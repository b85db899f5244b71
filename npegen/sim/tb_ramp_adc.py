"""cocotb testbench of :class:`npegen.hw.ramp_adc.RampAdc`: RTL codes against the package convention.

The expected code of every input is :attr:`RampADC.table` - the convention's formula evaluated on every
input code - so the RTL is compared with the formula itself, not only with the model's threshold tables
(``tests/test_ramp_adc.py`` checks the model against an independent evaluation). Design point in
``PARAM_*`` (:meth:`RampAdcParams.to_env`), seed in ``NPEGEN_SEED``. Inputs are driven and outputs sampled
at the falling clock edge.

Tests
-----
test_all_inputs_back_to_back
    Every input code (``in_bits`` <= ``NPEGEN_EXHAUSTIVE_BITS``, default 12; beyond that every threshold
    and its neighbours, the extremes and random codes), shuffled over the columns, ``start`` held high so
    conversions run back to back; each ``valid`` comes exactly ``cycles`` edges after the edge that took
    its ``start``, ``busy`` is high throughout and no conversion is lost or repeated.
test_idle_gaps_and_ignored_starts
    Random idle gaps between conversions, ``start`` pulses while busy (ignored unless ``ready``), ``y``
    held between results, the same timing check.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.ramp_adc import RampAdcParams
from .util import pack_fields, record_measurement, rng_from_env, start

TOPLEVEL = "ramp_adc"


async def _start(dut) -> RampAdcParams:
    await start(dut, start=0, x=0)
    return RampAdcParams.from_env()


def _inputs(p: RampAdcParams, rng) -> np.ndarray:
    adc = p.adc
    if adc.in_bits <= int(os.environ.get("NPEGEN_EXHAUSTIVE_BITS", "12")):
        xs = np.arange(adc.x_min, adc.x_max + 1)
    else:
        t = adc.thresholds
        xs = np.concatenate([t - 1, t, t + 1, [adc.x_min, adc.x_max, 0, -1, 1],
                             rng.integers(adc.x_min, adc.x_max + 1, 4096)])
        xs = np.unique(np.clip(xs, adc.x_min, adc.x_max))
    xs = rng.permutation(xs)
    pad = (-len(xs)) % p.n_cols
    return np.concatenate([xs, xs[:pad]]).reshape(-1, p.n_cols)


async def _run(dut, p: RampAdcParams, batches: np.ndarray, rng=None, p_gap=0.0, p_spurious=0.0):
    """Convert every batch; return (codes [B, n_cols], take edges, valid edges)."""
    from cocotb.triggers import FallingEdge

    adc = p.adc
    n = len(batches)
    words = [pack_fields(b.tolist(), [adc.in_bits] * p.n_cols) for b in batches]
    got, takes, valids = [], [], []
    i, cycle, prev_y = 0, 0, None
    limit = (n + 2) * (adc.cycles + 1) * (20 if p_gap else 2) + 100
    while len(got) < n:
        # outputs after the edge that ended the previous cycle
        if int(dut.valid.value):
            y = dut.y.value.to_unsigned()
            got.append([(y >> (adc.n_bits * j)) & ((1 << adc.n_bits) - 1) for j in range(p.n_cols)])
            valids.append(cycle)
            prev_y = y
        elif prev_y is not None:
            assert dut.y.value.to_unsigned() == prev_y, "y changed without valid"
        ready, busy = int(dut.ready.value), int(dut.busy.value)
        if takes and len(valids) < len(takes):
            assert busy, f"busy low at cycle {cycle} during the conversion taken at {takes[-1]}"
        want = i < n and not (rng is not None and rng.random() < p_gap)
        if want:
            dut.start.value = 1
            dut.x.value = words[i]
            if ready:
                takes.append(cycle + 1)  # taken at the next rising edge
                i += 1
        else:
            spurious = rng is not None and busy and not ready and rng.random() < p_spurious
            dut.start.value = int(spurious)  # a start while busy must be ignored
            if spurious:
                dut.x.value = int(rng.integers(0, 1 << 30)) & ((1 << (adc.in_bits * p.n_cols)) - 1)
        await FallingEdge(dut.clk)
        cycle += 1
        if cycle > limit:
            raise AssertionError(f"{len(got)} of {n} conversions after {cycle} cycles")
    return np.array(got, dtype=np.int64), takes, valids


def _check(p: RampAdcParams, batches, got, takes, valids, label):
    adc = p.adc
    want = adc.table[batches - adc.x_min]
    bad = np.argwhere(got != want)
    if bad.size:
        b, j = bad[0]
        raise AssertionError(f"{label}: {len(bad)} of {want.size} codes differ; first x={batches[b, j]} (column {j}): "
                             f"rtl {got[b, j]}, convention {want[b, j]} ({p.tag})")
    lat = {v - t for t, v in zip(takes, valids, strict=True)}
    assert lat == {adc.cycles}, f"{label}: valid came {sorted(lat)} edges after start, documented {adc.cycles}"


@cocotb.test()
async def test_all_inputs_back_to_back(dut):
    p = await _start(dut)
    rng = rng_from_env(1)
    batches = _inputs(p, rng)
    got, takes, valids = await _run(dut, p, batches)
    _check(p, batches, got, takes, valids, "back to back")
    record_measurement("ramp_adc.test_all_inputs_back_to_back", cycles=valids[-1] - (takes[0] - 1) + 1,
                       conversions=len(batches))
    gaps = set(np.diff(takes).tolist())
    assert gaps <= {p.adc.cycles}, f"back-to-back starts taken every {sorted(gaps)} cycles, not {p.adc.cycles}"
    dut._log.info("%d inputs in %d conversions of %d cycles, back to back: all codes = convention (%s)",
                  batches.size, len(batches), p.adc.cycles, p.tag)


@cocotb.test()
async def test_idle_gaps_and_ignored_starts(dut):
    p = await _start(dut)
    rng = rng_from_env(2)
    adc = p.adc
    batches = rng.integers(adc.x_min, adc.x_max + 1, (24, p.n_cols))
    batches[0, :] = adc.x_min
    batches[1, :] = adc.x_max
    got, takes, valids = await _run(dut, p, batches, rng=rng, p_gap=0.4, p_spurious=0.2)
    _check(p, batches, got, takes, valids, "idle gaps")
    dut._log.info("24 conversions with idle gaps and ignored starts: codes and timing exact (%s)", p.tag)


def verify_ramp_adc(params: RampAdcParams | None = None, *, sim: str | None = None, seed: int | None = None,
                    testcase: str | None = None, exhaustive_bits: int | None = None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch."""
    from ..hw.ramp_adc import RampAdc
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    params = RampAdcParams() if params is None else params
    env = params.to_env()
    if exhaustive_bits is not None:
        env["NPEGEN_EXHAUSTIVE_BITS"] = str(int(exhaustive_bits))
    return run_cocotb(RampAdc.from_params(params), toplevel=TOPLEVEL, test_module=__name__, env=env,
                      tag=params.tag, sim=sim, seed=seed, testcase=testcase, **runner_kwargs)
