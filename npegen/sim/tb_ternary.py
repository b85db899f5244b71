"""cocotb testbench of :class:`npegen.hw.ternary.TernaryEngine`, bit-exact against
:func:`npegen.models.ternary.ref_ternary_engine`: the exact FP16-epilogue row sums of
``ternary_gemv_fixed`` (epilogue ``"fp16"``) or the group sums of ``ternary_accumulate`` (``"none"``).

Design point in ``PARAM_*`` (:meth:`TernaryParams.to_env`), seed in ``NPEGEN_SEED``. One coroutine drives
beats and takes results at the falling clock edge, applying its own idle and back-pressure pattern.

Tests
-----
test_every_code_with_extreme_activations
    Every weight code of the packing in every lane position, against activations drawn from
    {-128, 127, -1, 0, 1}, random values, all -128 and all 127; FP16 scales include subnormals, the
    largest finite value, negative values and zero.
test_random_gemv
    Random rows (Sherry: quantised from Gaussian weights, with their own scales) of K = ``NPEGEN_K``
    (default 2048) against random int8 activations and a random bias, with idle beats and back-pressure;
    Sherry rows are also checked against the public ``ternary_gemv_fixed`` / ``ternary_accumulate``.
test_cycles_per_row
    With ``o`` always ready and no idle beats, rows are accepted back to back, one beat per cycle
    (``TernaryParams.cycles_per_row``), and each result appears ``latency`` cycles after the beat that
    completes it.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.ternary import (
    TernaryParams,
    beat_codes,
    pack_sherry,
    ref_ternary_engine,
    sherry_quantize,
    ternary_accumulate,
    ternary_gemv_fixed,
    unpack_sherry,
)
from .util import pack_fields, record_measurement, rng_from_env, start

TOPLEVEL = "ternary"


async def _start(dut) -> TernaryParams:
    await start(dut, i__valid=0, i__payload=0, o__ready=1)
    return TernaryParams.from_env()


def _fp16_bits(a) -> np.ndarray:
    return np.asarray(np.asarray(a, dtype=np.float64).astype(np.float16)).view(np.uint16).astype(np.int64)


def _signed(v: int, w: int) -> int:
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


async def run_rows(dut, p: TernaryParams, trits: np.ndarray, x: np.ndarray, scales=None, bias=None, rng=None,
                   p_idle=0.0, p_stall=0.0):
    """Stream every row of ``trits`` against ``x`` (with FP16 ``scales`` [N, K/g] and ``bias`` [N] for the
    fp16 epilogue); return (results, accept cycles, result cycles): results are int64 group sums
    [N, K/g] (epilogue "none") or one Python int per row (object [N])."""
    from cocotb.triggers import FallingEdge, Timer

    n, k = trits.shape
    wpb, nb = p.weights_per_beat, k // p.weights_per_beat
    words = beat_codes(p, trits)
    acts = [pack_fields(x[b * wpb:(b + 1) * wpb].tolist(), [8] * wpb) for b in range(nb)]
    fp16 = p.epilogue == "fp16"
    if fp16:
        sb = _fp16_bits(scales if scales is not None else np.ones((n, k // p.group_size)))
        bb = _fp16_bits(bias if bias is not None else np.zeros(n))
    beats = []
    for r in range(n):
        for b in range(nb):
            vals, widths = [int(words[r, b]), acts[b]], [p.code_bits, 8 * wpb]
            if fp16:
                vals += [int(sb[r, b * wpb // p.group_size]), int(bb[r])]
                widths += [16, 16]
            beats.append(pack_fields(vals + [int(b == nb - 1)], widths + [1]))
    want = n if fp16 else n * (k // p.group_size)
    w_out = p.out_width
    results, acc_cycles, out_cycles = [], [], []
    t, cycle = 0, 0
    rnd = rng.random if rng is not None else None
    while len(results) < want:
        o_valid = int(dut.o__valid.value)
        ready = 0 if (rnd is not None and p_stall and rnd() < p_stall) else 1
        if o_valid and ready:
            results.append(_signed(dut.o__payload.value.to_unsigned(), w_out))
            out_cycles.append(cycle)
        offer = t < len(beats) and not (rnd is not None and p_idle and rnd() < p_idle)
        dut.o__ready.value = ready
        await Timer(1, unit="ns")  # i.ready follows o.ready combinationally: let it settle (clock low phase)
        in_ready = int(dut.i__ready.value)
        if not fp16:
            assert in_ready == int((not o_valid) or ready), "i.ready is not o.ready passed through"
        dut.i__valid.value = int(offer)
        if offer:
            dut.i__payload.value = beats[t]
            if in_ready:
                acc_cycles.append(cycle)
                t += 1
        await FallingEdge(dut.clk)
        cycle += 1
        if cycle > 50 * (len(beats) + 100):
            raise AssertionError(f"{len(results)} of {want} results after {cycle} cycles")
    if fp16:
        return np.array(results, dtype=object), acc_cycles, out_cycles
    return np.array(results, dtype=np.int64).reshape(n, -1), acc_cycles, out_cycles


def _check(got, want, label, p):
    got, want = np.asarray(got), np.asarray(want)
    bad = np.argwhere(got != want)
    if bad.size:
        i = tuple(bad[0])
        raise AssertionError(f"{label}: {len(bad)} of {want.size} results differ; first at {i}: "
                             f"rtl {got[i]}, model {want[i]} ({p.tag})")


def _corner_scales(rng, n: int, groups: int) -> np.ndarray:
    """Random FP16 scales with subnormals, the largest finite value, a negative value and zero mixed in."""
    s = rng.uniform(0.001, 4.0, (n, groups))
    corners = [2.0**-24, 1023 * 2.0**-24, 2.0**-14, 65504.0, -0.75, 0.0, 1.0]
    for j, c in enumerate(corners):
        s[j % n, (j // n) % groups] = c
    return s


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
    n, groups = trits.shape[0], k // p.group_size
    for x in (rng.choice(np.array([-128, 127, -1, 0, 1]), k), rng.integers(-128, 128, k),
              np.full(k, -128), np.full(k, 127)):
        x = x.astype(np.int8)
        scales, bias = _corner_scales(rng, n, groups), rng.uniform(-100, 100, n)
        got, _, _ = await run_rows(dut, p, trits, x, scales, bias)
        _check(got, ref_ternary_engine(p, trits, x, scales, bias), "every code", p)
    dut._log.info("every code, extreme activations: bit-exact (%s)", p.tag)


@cocotb.test()
async def test_random_gemv(dut):
    p = await _start(dut)
    rng = rng_from_env(2)
    k = int(os.environ.get("NPEGEN_K", "2048"))
    k -= k % p.group_size  # whole groups (TL2 groups are multiples of 24 weights)
    n = int(os.environ.get("NPEGEN_ROWS", "8"))
    if p.packing == "sherry":
        trits, scales = sherry_quantize(rng.standard_normal((n, k)), group_size=p.group_size)
    else:
        trits = rng.integers(-1, 2, (n, k)).astype(np.int8)
        scales = rng.uniform(0.01, 0.1, (n, k // p.group_size))
    x = rng.integers(-128, 128, k).astype(np.int8)
    bias = rng.standard_normal(n)
    got, _, _ = await run_rows(dut, p, trits, x, scales, bias, rng=rng, p_idle=0.1, p_stall=0.2)
    want = ref_ternary_engine(p, trits, x, scales, bias)
    _check(got, want, f"random GEMV {n}x{k}", p)
    if p.packing == "sherry":  # the public model functions, on the packed codes
        codes = pack_sherry(trits)
        public = (ternary_gemv_fixed(codes, scales, x, bias, p.group_size) if p.epilogue == "fp16"
                  else ternary_accumulate(codes, x, p.group_size))
        _check(got, public, f"random GEMV {n}x{k} vs the public model", p)
    dut._log.info("random GEMV %dx%d with idle beats and back-pressure: bit-exact (%s)", n, k, p.tag)


@cocotb.test()
async def test_cycles_per_row(dut):
    p = await _start(dut)
    rng = rng_from_env(3)
    k = p.group_size * 4
    trits = np.concatenate([_all_codes_rows(p, k, rng)] * 3)[:3]
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales = rng.uniform(0.01, 1.0, (3, 4))
    got, acc, outs = await run_rows(dut, p, trits, x, scales)
    _check(got, ref_ternary_engine(p, trits, x, scales), "cycle run", p)
    per_row = p.cycles_per_row(k)
    assert acc == list(range(acc[0], acc[0] + 3 * per_row)), f"the engine inserted bubbles ({p.tag})"
    wpb = p.weights_per_beat
    if p.epilogue == "fp16":  # a row's result follows its last beat
        ends = [acc[(r + 1) * per_row - 1] for r in range(3)]
    else:  # a group's sum follows the group's last beat
        ends = [acc[(j + 1) * p.group_size // wpb - 1] for j in range(3 * k // p.group_size)]
    lat = [o - e for o, e in zip(outs, ends, strict=True)]
    assert lat == [p.latency] * len(ends), f"result latency {lat}, documented {p.latency} ({p.tag})"
    record_measurement("ternary.test_cycles_per_row", cycles=outs[-1] - acc[0] + 1, rows=3, k=k)
    dut._log.info("3 rows of K=%d in %d cycles each, results %d cycle(s) after the last beat (%s)", k, per_row,
                  p.latency, p.tag)


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
