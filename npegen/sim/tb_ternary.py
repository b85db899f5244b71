"""cocotb testbench of :class:`npegen.hw.ternary.TernaryEngine`, bit-exact against
:func:`npegen.models.ternary.ref_ternary_engine` (= ``ternary_accumulate``).

Design point in ``PARAM_*`` (:meth:`TernaryParams.to_env`), seed in ``NPEGEN_SEED``. One coroutine drives
beats and takes sums at the falling clock edge, applying its own idle and back-pressure pattern.

Tests
-----
test_every_code_with_extreme_activations
    Every weight code of the packing in every lane position, against activations drawn from
    {-128, 127, -1, 0, 1} and random values.
test_random_gemv
    Random rows (Sherry: quantised from Gaussian weights) of K = ``NPEGEN_K`` (default 2048) against
    random int8 activations, with idle beats and back-pressure.
test_cycles_per_row
    With ``o`` always ready and no idle beats, a row of K weights takes exactly K / (4*P) cycles and its
    last sum appears 1 cycle after its last beat.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.ternary import TernaryParams, beat_codes, ref_ternary_engine, sherry_quantize, unpack_sherry
from .util import pack_fields, rng_from_env, start

TOPLEVEL = "ternary"


async def _start(dut) -> TernaryParams:
    await start(dut, i__valid=0, i__payload=0, o__ready=1)
    return TernaryParams.from_env()


async def run_rows(dut, p: TernaryParams, trits: np.ndarray, x: np.ndarray, rng=None, p_idle=0.0, p_stall=0.0):
    """Stream every row of ``trits`` against ``x``; return (sums [N, K/g], accept cycles, sum cycles)."""
    from cocotb.triggers import FallingEdge

    n, k = trits.shape
    wpb = p.weights_per_beat
    words = beat_codes(p, trits)
    acts = [pack_fields(x[b * wpb:(b + 1) * wpb].tolist(), [8] * wpb) for b in range(k // wpb)]
    layout_codes = p.code_bits
    beats = [int(words[r, b]) | (acts[b] << layout_codes) | (int(b == k // wpb - 1) << (layout_codes + 8 * wpb))
             for r in range(n) for b in range(k // wpb)]
    want = n * (k // p.group_size)
    sums, acc_cycles, sum_cycles = [], [], []
    w_acc = p.acc_width
    t, cycle, prev_ready = 0, 0, 1
    rnd = rng.random if rng is not None else None
    while len(sums) < want:
        o_valid = int(dut.o__valid.value)
        ready = 0 if (rnd is not None and p_stall and rnd() < p_stall) else 1
        if o_valid and ready:
            v = dut.o__payload.value.to_unsigned() & ((1 << w_acc) - 1)
            sums.append(v - (1 << w_acc) if v >> (w_acc - 1) else v)
            sum_cycles.append(cycle)
        offer = t < len(beats) and not (rnd is not None and p_idle and rnd() < p_idle)
        assert int(dut.i__ready.value) == int((not o_valid) or prev_ready)
        dut.o__ready.value = ready
        dut.i__valid.value = int(offer)
        if offer:
            dut.i__payload.value = beats[t]
            if not o_valid or ready:
                acc_cycles.append(cycle)
                t += 1
        prev_ready = ready
        await FallingEdge(dut.clk)
        cycle += 1
        if cycle > 50 * (len(beats) + 100):
            raise AssertionError(f"{len(sums)} of {want} sums after {cycle} cycles")
    return np.array(sums, dtype=np.int64).reshape(n, -1), acc_cycles, sum_cycles


def _check(got, want, label, p):
    bad = np.argwhere(got != want)
    if bad.size:
        r, g = bad[0]
        raise AssertionError(f"{label}: {len(bad)} of {want.size} group sums differ; first row {r} group {g}: "
                             f"rtl {got[r, g]}, model {want[r, g]} ({p.tag})")


def _all_codes_rows(p: TernaryParams, k: int, rng) -> np.ndarray:
    """Rows that put every code of the packing in every lane position at least once."""
    if p.packing == "sherry":
        codes = np.arange(32)
        per = p.lanes
        rows = [np.roll(codes, s)[: (k // 4)] if k // 4 <= 32 else np.resize(np.roll(codes, s), k // 4)
                for s in range(0, 32, max(1, 32 // per))]
        return np.concatenate([unpack_sherry(np.array([r])) for r in rows])
    if p.packing == "i2s":
        base = np.resize(np.array([-1, 0, 1]), k + 2)
        return np.stack([base[s:s + k] for s in range(3)]).astype(np.int8)
    trip = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]).ravel()
    base = np.resize(trip, k + 81)
    return np.stack([base[s:s + k] for s in range(0, 27, 3)]).astype(np.int8)


@cocotb.test()
async def test_every_code_with_extreme_activations(dut):
    p = await _start(dut)
    rng = rng_from_env(1)
    k = p.group_size * max(1, 256 // p.group_size)
    trits = _all_codes_rows(p, k, rng)
    for x in (rng.choice(np.array([-128, 127, -1, 0, 1]), k), rng.integers(-128, 128, k),
              np.full(k, -128), np.full(k, 127)):
        x = x.astype(np.int8)
        got, _, _ = await run_rows(dut, p, trits, x)
        _check(got, ref_ternary_engine(p, trits, x), "every code", p)
    dut._log.info("every code, extreme activations: bit-exact (%s)", p.tag)


@cocotb.test()
async def test_random_gemv(dut):
    p = await _start(dut)
    rng = rng_from_env(2)
    k = int(os.environ.get("NPEGEN_K", "2048"))
    k -= k % p.group_size  # whole groups (TL2 groups are multiples of 24 weights)
    n = int(os.environ.get("NPEGEN_ROWS", "8"))
    if p.packing == "sherry":
        trits, _ = sherry_quantize(rng.standard_normal((n, k)), group_size=p.group_size)
    else:
        trits = rng.integers(-1, 2, (n, k)).astype(np.int8)
    x = rng.integers(-128, 128, k).astype(np.int8)
    got, _, _ = await run_rows(dut, p, trits, x, rng=rng, p_idle=0.1, p_stall=0.2)
    _check(got, ref_ternary_engine(p, trits, x), f"random GEMV {n}x{k}", p)
    dut._log.info("random GEMV %dx%d with idle beats and back-pressure: bit-exact (%s)", n, k, p.tag)


@cocotb.test()
async def test_cycles_per_row(dut):
    p = await _start(dut)
    rng = rng_from_env(3)
    k = p.group_size * 4
    rows = _all_codes_rows(p, k, rng)
    trits = np.concatenate([rows, rows])[:2]
    x = rng.integers(-128, 128, k).astype(np.int8)
    got, acc, sums = await run_rows(dut, p, trits, x)
    _check(got, ref_ternary_engine(p, trits, x), "cycle run", p)
    beats_per_row = k // p.weights_per_beat
    assert acc == list(range(acc[0], acc[0] + 2 * beats_per_row)), "the engine inserted bubbles"
    ends = acc[beats_per_row - 1], acc[2 * beats_per_row - 1]
    assert sums[p.group_size * 4 // p.group_size - 1] - ends[0] == 1 and sums[-1] - ends[1] == 1


def verify_ternary(params: TernaryParams | None = None, *, sim: str | None = None, seed: int | None = None,
                   testcase: str | None = None, k: int | None = None, rows: int | None = None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch."""
    from ..hw.ternary import TernaryEngine
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    params = TernaryParams() if params is None else params
    env = params.to_env()
    if k is not None:
        env["NPEGEN_K"] = str(int(k))
    if rows is not None:
        env["NPEGEN_ROWS"] = str(int(rows))
    return run_cocotb(TernaryEngine.from_params(params), toplevel=TOPLEVEL, test_module=__name__, env=env,
                      tag=params.tag, sim=sim, seed=seed, testcase=testcase, **runner_kwargs)
