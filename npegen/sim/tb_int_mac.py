"""cocotb testbench of :class:`npegen.hw.int_mac.IntMac`, bit-exact against
:func:`npegen.models.int_mac.ref_int_mac`.

The design point arrives as ``PARAM_*`` environment variables
(:meth:`IntMacParams.to_env`) and the stimulus seed as ``NPEGEN_SEED``; run it
through :func:`verify_int_mac` (or ``npegen verify int-mac``).

Timing convention: inputs are driven and outputs sampled at the *falling*
edge, one trigger per cycle. The value sampled after rising edge ``t`` must
equal the model's state after beat ``t - latency + 1``, and the reset state
before that, so a wrong latency fails as surely as a wrong sum.

Tests
-----
test_all_pairs
    Every operand pair for ``width <= 8`` (65,536 for INT8), each beat with
    ``clear`` so the accumulator shows each product alone, then the same pairs
    accumulated back to back; random pairs plus the corner table for wider lanes.
test_random_accumulate
    Random sequences with clears, idle cycles and range-end operands
    (``NPEGEN_N`` cycles, default 20,000).
test_overflow_corners
    Hand-written table: worst-case products up to and past overflow in both
    directions, clear with and without a beat, idle cycles, overflow flag
    stickiness.
test_reset_and_ready
    Reset values, ``i.ready`` held high, ``clear`` alone; the cycles of one dot product as a job (recorded
    for the estimator's cross-check when ``NPEGEN_MEASURE_FILE`` is set).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.int_mac import IntMacParams, exhaustive_pairs, random_sequence, ref_int_mac
from .util import pack_fields, record_measurement, rng_from_env, start

TOPLEVEL = "int_mac"
TEST_MODULE = __name__


def overflow_corner_table(p: IntMacParams) -> dict[str, np.ndarray]:
    """Deterministic corner sequence for design point ``p`` (see module docstring)."""
    lo, hi = -(1 << (p.width - 1)), (1 << (p.width - 1)) - 1
    k = min(p.safe_beats + 3, 600)  # enough worst-case products to overflow (narrow accs), bounded
    rows: list[tuple[int, int, int, int]] = []  # (a, b, valid, clear)
    rows += [(lo, lo, 1, 0)] * k  # +2**(2w-2) repeatedly: positive overflow
    rows += [(0, 0, 0, 0)] * 3  # idle: acc and sticky flag hold
    rows += [(hi, hi, 1, 0)] * 2
    rows += [(lo, hi, 1, 1)]  # clear with a beat: acc = lo*hi, flag reset
    rows += [(lo, hi, 1, 0)] * k  # negative products: negative overflow
    rows += [(1, 1, 1, 0), (-1, 1, 1, 0)]
    rows += [(0, 0, 0, 1)]  # clear alone
    rows += [(hi, 1, 1, 0), (lo, 1, 1, 0), (lo, -1, 1, 0), (0, lo, 1, 0), (lo, 0, 1, 0)]
    rows += [(lo, lo, 1, 1)] * 3  # back-to-back clears with beats
    rows += [(lo, lo, 0, 0)] * 2  # operands change while idle: ignored
    a, b, v, c = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    return {"a": a, "b": b, "valid": v.astype(bool), "clear": c.astype(bool)}


async def _start(dut) -> IntMacParams:
    await start(dut, i__valid=0, i__payload=0, clear=0)
    return IntMacParams.from_env()


async def drive_and_check(dut, p: IntMacParams, seq: dict[str, np.ndarray], label: str) -> None:
    """Drive ``seq`` one beat per cycle, sample every cycle, compare with the model bit for bit."""
    from cocotb.triggers import FallingEdge

    a, b, valid, clear = seq["a"], seq["b"], seq["valid"], seq["clear"]
    n, lat = a.size, p.latency
    want_acc, want_ovf = ref_int_mac(p, a, b, valid, clear)
    # Samples after rising edge t show the model after beat t - lat + 1; until then, the state before
    # this sequence (a clear at the start of every sequence makes that deterministic).
    got_acc = np.empty(n + lat - 1, dtype=np.int64)
    got_ovf = np.empty(n + lat - 1, dtype=bool)
    words = [pack_fields((x, y), (p.width, p.width)) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    vals, clrs = valid.astype(int).tolist(), clear.astype(int).tolist()
    h_payload, h_valid, h_clear, h_acc, h_ovf, h_ready = (
        dut.i__payload, dut.i__valid, dut.clear, dut.acc, dut.overflow, dut.i__ready)
    for t in range(n + lat):
        if t > 0:
            got_acc[t - 1] = h_acc.value.to_signed()
            got_ovf[t - 1] = bool(h_ovf.value)
            assert int(h_ready.value) == 1, f"{label}: i.ready dropped at cycle {t - 1}"
        if t < n:
            h_payload.value = words[t]
            h_valid.value = vals[t]
            h_clear.value = clrs[t]
        else:
            h_valid.value = 0
            h_clear.value = 0
        await FallingEdge(dut.clk)
    got_acc, got_ovf = got_acc[lat - 1:], got_ovf[lat - 1:]
    bad = np.flatnonzero((got_acc != want_acc) | (got_ovf != want_ovf))
    if bad.size:
        i = int(bad[0])
        raise AssertionError(
            f"{label}: {bad.size} of {n} cycles differ from the model; first at cycle {i}: "
            f"a={a[i]} b={b[i]} valid={int(valid[i])} clear={int(clear[i])} -> "
            f"rtl acc={got_acc[i]} overflow={int(got_ovf[i])}, model acc={want_acc[i]} "
            f"overflow={int(want_ovf[i])} ({p.tag})"
        )
    dut._log.info("%s: %d cycles bit-exact (%s)", label, n, p.tag)


@cocotb.test()
async def test_all_pairs(dut):
    p = await _start(dut)
    if p.width <= 8:
        a, b = exhaustive_pairs(p.width)
        label = f"all {a.size} pairs"
    else:
        rng = rng_from_env(1)
        n = 65536
        lo, hi = -(1 << (p.width - 1)), (1 << (p.width - 1)) - 1
        corners = np.array([lo, lo + 1, -2, -1, 0, 1, 2, hi - 1, hi], dtype=np.int64)
        ca, cb = np.meshgrid(corners, corners, indexing="ij")
        a = np.concatenate([ca.ravel(), rng.integers(lo, hi, n, endpoint=True)])
        b = np.concatenate([cb.ravel(), rng.integers(lo, hi, n, endpoint=True)])
        label = f"{corners.size ** 2} corner + {n} random pairs"
    ones = np.ones(a.size, dtype=bool)
    await drive_and_check(dut, p, {"a": a, "b": b, "valid": ones, "clear": ones}, label + ", one product each")
    clear = np.zeros(a.size, dtype=bool)
    clear[0] = True
    await drive_and_check(dut, p, {"a": a, "b": b, "valid": ones, "clear": clear}, label + ", accumulated")


@cocotb.test()
async def test_random_accumulate(dut):
    p = await _start(dut)
    n = int(os.environ.get("NPEGEN_N", "20000"))
    seq = random_sequence(p, n, rng_from_env(2))
    seq["clear"][0] = True
    await drive_and_check(dut, p, seq, f"{n} random cycles")


@cocotb.test()
async def test_overflow_corners(dut):
    p = await _start(dut)
    seq = overflow_corner_table(p)
    seq["clear"][0] = True
    await drive_and_check(dut, p, seq, "overflow corner table")


@cocotb.test()
async def test_reset_and_ready(dut):
    from cocotb.triggers import FallingEdge

    p = await _start(dut)
    assert dut.acc.value.to_signed() == 0 and int(dut.overflow.value) == 0, "reset state is not zero"
    assert int(dut.i__ready.value) == 1
    lo = -(1 << (p.width - 1))
    seq = {"a": np.array([lo, lo]), "b": np.array([lo, 1]), "valid": np.array([True, True]),
           "clear": np.array([False, False])}
    await drive_and_check(dut, p, seq, "two beats after reset")
    dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.clear.value = 0
    for _ in range(p.latency):
        await FallingEdge(dut.clk)
    assert dut.acc.value.to_signed() == 0, "clear alone did not zero the accumulator"
    assert int(dut.overflow.value) == 0

    # a dot product as a job: K beats (the first with clear) of one positive product each, so the
    # accumulator rises every cycle; observe when its final value first shows
    k, prod = 40, 1
    want = k * prod
    seen = None
    for t in range(k + p.latency + 4):
        if t > 0 and seen is None and dut.acc.value.to_signed() == want:
            seen = t - 1  # the sample after the edge that ended cycle t - 1, read at falling edge t
        dut.i__payload.value = pack_fields((1, 1), (p.width, p.width))
        dut.i__valid.value = int(t < k)
        dut.clear.value = int(t == 0)
        await FallingEdge(dut.clk)
    assert seen is not None, "the job's final sum never showed"
    record_measurement("int_mac.test_reset_and_ready", cycles=seen + 1 + 1, k=k)


def verify_int_mac(params: IntMacParams | None = None, *, sim: str | None = None, seed: int | None = None,
                   testcase: str | None = None, n_random: int | None = None, env_override=None,
                   component=None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch.

    Parameters
    ----------
    params : IntMacParams, optional
        Design point (default: INT8, 24-bit wrapping accumulator, 1 stage).
    sim, seed, testcase
        As :func:`npegen.sim.runner.run_cocotb`.
    n_random : int, optional
        Cycles of ``test_random_accumulate`` (default 20,000).
    env_override : mapping, optional
        Replace testbench parameters (tests use it to tell the testbench a wrong design point).
    component : optional
        Run the testbench on this component instead of ``IntMac.from_params(params)`` (mutation tests).

    Returns
    -------
    npegen.sim.runner.SimResult
    """
    from ..hw.int_mac import IntMac
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)  # reject a bad simulator before anything is built
    params = IntMacParams() if params is None else params
    env = params.to_env()
    if n_random is not None:
        env["NPEGEN_N"] = str(int(n_random))
    env.update(env_override or {})
    dut = IntMac.from_params(params) if component is None else component
    tag = params.tag if component is None else f"{params.tag}_{type(component).__name__.lower()}"
    return run_cocotb(dut, toplevel=TOPLEVEL, test_module=TEST_MODULE, env=env, tag=tag, sim=sim, seed=seed,
                      testcase=testcase, **runner_kwargs)
