"""cocotb testbench of :class:`npegen.hw.ternary.TernaryEngine`, bit-exact against
:func:`npegen.models.ternary.ref_ternary_engine`: the exact FP16-epilogue row sums of
``ternary_gemv_fixed`` (epilogue ``"fp16"``) or the group sums of ``ternary_accumulate`` (``"none"``).

Design point in ``PARAM_*`` (:meth:`TernaryParams.to_env`), the engine's port layouts in ``NPEGEN_PORTS``
(:class:`~npegen.sim.util.Ports`), seed in ``NPEGEN_SEED``. Beats go in through a
:class:`~npegen.sim.stream.StreamDriver` (random idle beats) and results come out through a
:class:`~npegen.sim.stream.StreamMonitor` (random and scheduled back-pressure), both packing with the engine's
own layouts at the falling clock edge. Every result is compared with the model in order (naming its row and
group); a result that does not come fails after the documented latency plus 2 cycles in which the bench itself
did not stall (the monitor's :class:`~npegen.sim.util.Watchdog`), and one result too many fails as extra.

Tests
-----
test_every_code_with_extreme_activations
    Every weight code of the packing in every lane position, against activations drawn from
    {-128, 127, -1, 0, 1}, random values, all -128 and all 127; FP16 scales include subnormals, the
    largest finite value, negative values and zero. Then code words with every field value, reserved ones
    included (I2_S 3, TL2 magnitudes 14 and 15 and the sign with magnitude 0), decode as documented
    (:func:`~npegen.models.ternary.beat_trits`).
test_random_gemv
    Random rows (Sherry: quantised from Gaussian weights, with their own scales) of K = ``NPEGEN_K``
    (default 2048) against random int8 activations and a random bias, with idle beats and back-pressure;
    Sherry rows are also checked against the public ``ternary_gemv_fixed`` / ``ternary_accumulate``. Then
    long back-pressure: ``o.ready`` low for 4 rows and again for 3 while beats keep coming; every result
    arrives once and right, and the engine takes no more beats meanwhile than documented.
test_cycles_per_row
    With ``o`` always ready and no idle beats, rows are accepted back to back, one beat per cycle
    (``TernaryParams.cycles_per_row``), and each result appears ``latency`` cycles after the beat that
    completes it. Then the bench's own bounds: one result fewer or more than the rows make fails at once,
    naming the result.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.ternary import (
    TernaryParams,
    beat_codes,
    beat_trits,
    pack_sherry,
    ref_ternary_engine,
    sherry_quantize,
    ternary_accumulate,
    ternary_gemv_fixed,
    unpack_sherry,
)
from .stream import StreamDriver, StreamMonitor, transfer
from .util import Ports, Watchdog, record_measurement, rng_from_env, sim_env, stall_runs, start

TOPLEVEL = "ternary"


async def _start(dut) -> TernaryParams:
    await start(dut, i__valid=0, i__payload=0, o__ready=1)
    return TernaryParams.from_env()


def _fp16_bits(a) -> np.ndarray:
    return np.asarray(np.asarray(a, dtype=np.float64).astype(np.float16)).view(np.uint16).astype(np.int64)


def beat_payloads(p: TernaryParams, words, x: np.ndarray, scales=None, bias=None) -> list[dict]:
    """The ``i`` payloads of rows of beat code words [N, K/(4P)] against activations ``x`` [K], as dicts of the
    engine's input layout: ``codes``, ``acts`` (the beat's 4P activations), ``last`` (the row's last beat) and, with
    the ``"fp16"`` epilogue, the FP16 bits of the group's ``scale`` and the row's ``bias`` (default scale 1, bias
    +0)."""
    words = np.asarray(words, dtype=object)
    n, nb = words.shape
    wpb = p.weights_per_beat
    acts = [[int(v) for v in x[b * wpb:(b + 1) * wpb]] for b in range(nb)]
    out = []
    if p.epilogue == "fp16":
        sb = _fp16_bits(scales if scales is not None else np.ones((n, nb * wpb // p.group_size)))
        bb = _fp16_bits(bias if bias is not None else np.zeros(n))
        for r in range(n):
            for b in range(nb):
                out.append({"codes": int(words[r, b]), "acts": acts[b], "scale": int(sb[r, b * wpb // p.group_size]),
                            "bias": int(bb[r]), "last": int(b == nb - 1)})
    else:
        for r in range(n):
            for b in range(nb):
                out.append({"codes": int(words[r, b]), "acts": acts[b], "last": int(b == nb - 1)})
    return out


def result_value(p: TernaryParams, beat: dict):
    """An ``o`` beat (unpacked with the engine's output layout) as :func:`expected` gives it."""
    return beat["y"] if p.epilogue == "fp16" else (beat["acc"], beat["last"])


def expected(p: TernaryParams, trits, x, scales=None, bias=None) -> list:
    """The model's outputs in arrival order: one int per row (``"fp16"``) or ``(group sum, last)``."""
    want = ref_ternary_engine(p, trits, x, scales, bias)
    if p.epilogue == "fp16":
        return [int(v) for v in want]
    return [(int(v), int(j == want.shape[1] - 1)) for row in want for j, v in enumerate(row)]


def stall_bound(p: TernaryParams, k: int) -> int:
    """Most beats the engine may take while a result waits with ``o.ready`` low (documented in
    :class:`~npegen.hw.ternary.TernaryEngine`): none (``"none"``), the rest of the next row (``"fp16"``)."""
    return 0 if p.epilogue == "none" else p.cycles_per_row(k) - 1


def result_name(p: TernaryParams, groups_per_row: int, i: int) -> str:
    """Names output number ``i``: its row (and group, epilogue ``"none"``)."""
    if p.epilogue == "fp16":
        return f"result {i} (row {i})"
    return f"result {i} (row {i // groups_per_row}, group {i % groups_per_row})"


async def run_rows(dut, p: TernaryParams, words, x: np.ndarray, scales=None, bias=None, *, expect, rng=None,
                   p_idle=0.0, p_stall=0.0, holds=(), label=""):
    """Stream the beat code words [N, K/(4P)] against ``x`` (with FP16 ``scales`` [N, K/g] and ``bias`` [N] for
    the fp16 epilogue) through a :class:`~npegen.sim.stream.StreamDriver` on ``i`` and a
    :class:`~npegen.sim.stream.StreamMonitor` on ``o`` (the engine's own layouts), checking the results against
    ``expect`` (:func:`expected`) as they arrive.

    ``o.ready`` is low with probability ``p_stall`` and in every cycle ``[start, start + length)`` of ``holds``; a
    beat is held back with probability ``p_idle``. The monitor's watchdog allows ``latency + 2`` cycles in which
    the bench does not stall (``o.ready`` high, and a beat offered or none left); after the last result ``o.ready``
    stays high for ``latency + 3`` cycles in which nothing more may come. Returns (results, accept cycles, result
    cycles, stalls): results are int64 group sums [N, K/g] (epilogue "none") or one Python int per row (object
    [N]); ``stalls`` holds, per run of cycles in which a result waited with ``o.ready`` low, the beats the engine
    took meanwhile. Failure messages start with ``label``."""
    ports = Ports.from_env()
    payloads = beat_payloads(p, words, x, scales, bias)
    nb = np.asarray(words).shape[1]
    gpr = nb * p.weights_per_beat // p.group_size
    fp16 = p.epilogue == "fp16"
    expect = list(expect)
    pre = f"{label}: " if label else ""
    drv = mon = None

    def what() -> str:
        return (f"{pre}{result_name(p, gpr, len(mon.beats))}: awaited after {len(drv.accepted)} of {len(payloads)} "
                f"beats ({p.tag})")

    def ready_rule(c: int, in_ready) -> None:  # epilogue "none": i.ready = ~o.valid | o.ready, every cycle
        hs = mon.handshake(c)
        if hs is not None and in_ready != int((not hs[0]) or hs[1]):
            raise AssertionError(f"{pre}beat {len(drv.accepted)} of {len(payloads)}: i.ready {in_ready} with o.valid "
                                 f"{hs[0]}, o.ready {hs[1]}: i.ready is not ~o.valid | o.ready ({p.tag})")

    def check(k: int, beat: dict) -> None:  # every result against the model as it arrives
        value = result_value(p, beat)
        if k < len(expect) and value != expect[k]:
            raise AssertionError(f"{pre}{result_name(p, gpr, k)}: rtl {value}, model {expect[k]} ({p.tag})")

    mon = StreamMonitor.from_ports(dut, ports, "o", stall_prob=p_stall, rng=rng, holds=holds,
                                   watchdog=Watchdog(p.latency + 2, what), on_beat=check, label=label or "o",
                                   item="result", names=lambda k, _n: result_name(p, gpr, k))
    # i.ready follows o.ready combinationally: the driver reads it 1 ns after the monitor drove o.ready
    drv = StreamDriver.from_ports(dut, ports, "i", idle_prob=p_idle, rng=rng, downstream=mon, settle=True,
                                  on_cycle=None if fp16 else ready_rule, label=label or "i")
    got = await transfer(drv, payloads, mon, len(expect), drain=p.latency + 3)
    stalls = stall_runs(mon.blocked, drv.accepted)
    results = [result_value(p, g) for g in got]
    if fp16:
        return np.array(results, dtype=object), drv.accepted, mon.cycles, stalls
    return np.array([v for v, _ in results], dtype=np.int64).reshape(len(payloads) // nb, -1), drv.accepted, \
        mon.cycles, stalls


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


async def _run_checked(dut, p: TernaryParams, trits, x, scales=None, bias=None, label="", **kw):
    """:func:`run_rows` on the beat codes of ``trits``, checked against the model (also as a whole)."""
    got, *rest = await run_rows(dut, p, beat_codes(p, trits), x, scales, bias,
                                expect=expected(p, trits, x, scales, bias), label=label, **kw)
    _check(got, ref_ternary_engine(p, trits, x, scales, bias), label, p)
    return (got, *rest)


async def _reserved_codes(dut, p: TernaryParams, rng) -> None:
    """Code words with every field value, reserved ones included, against :func:`beat_trits`."""
    k = p.group_size * max(1, 128 // p.group_size)
    nb = k // p.weights_per_beat
    width = 2 if p.packing == "i2s" else 5
    per = p.code_bits // width
    fields = rng.integers(0, 1 << width, (4, nb, per))
    flat = fields[0].reshape(-1)
    flat[: min(flat.size, 1 << width)] = np.arange(1 << width)[: flat.size]  # every field value
    fields[0] = flat.reshape(nb, per)
    if p.packing == "i2s":
        fields[1] = 3  # a row of reserved codes only
    elif p.packing == "tl2":
        fields[1] = rng.choice(np.array([14, 15, 30, 31, 16]), fields[1].shape)
    words = np.array([[sum(int(f) << (width * j) for j, f in enumerate(b)) for b in row] for row in fields],
                     dtype=object)
    trits = beat_trits(p, words)
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales, bias = rng.uniform(0.1, 2.0, (4, k // p.group_size)), rng.uniform(-8, 8, 4)
    got, *_ = await run_rows(dut, p, words, x, scales, bias, expect=expected(p, trits, x, scales, bias), rng=rng,
                             p_stall=0.2, label="reserved codes")
    _check(got, ref_ternary_engine(p, trits, x, scales, bias), "reserved codes", p)
    dut._log.info("every code word, reserved codes included, decodes as documented (%s)", p.tag)


async def _long_backpressure(dut, p: TernaryParams, rng) -> None:
    """``o.ready`` low for 4 rows, then for 3, while beats keep coming: every result once and right, and no
    more beats taken meanwhile than documented."""
    k = p.group_size * max(1, 128 // p.group_size)
    n = 8
    trits = rng.integers(-1, 2, (n, k)).astype(np.int8)
    if p.packing == "sherry":
        trits, _ = sherry_quantize(rng.standard_normal((n, k)), group_size=p.group_size)
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales, bias = rng.uniform(0.1, 2.0, (n, k // p.group_size)), rng.uniform(-8, 8, n)
    row = p.cycles_per_row(k)
    holds = [(3, 4 * row + 1), (8 * row, 3 * row)]  # o.ready low for 4 rows, then again for 3
    *_, stalls = await _run_checked(dut, p, trits, x, scales, bias, "long back-pressure", rng=rng, p_stall=0.1,
                                    holds=holds)
    assert len(stalls) >= 2, f"the holds did not block a result ({p.tag})"
    assert max(stalls) <= stall_bound(p, k), (f"the engine took {max(stalls)} beats while a result waited, "
                                              f"documented at most {stall_bound(p, k)} ({p.tag})")
    dut._log.info("o.ready low for %d and %d cycles: no result lost or repeated, at most %d beats taken (%s)",
                  holds[0][1], holds[1][1], max(stalls), p.tag)


async def _bench_bounds(dut, p: TernaryParams, rng) -> None:
    """The bench's own bounds: one result more or fewer than the rows make fails at once, naming it."""
    from cocotb.triggers import ClockCycles, FallingEdge

    k = p.group_size
    trits = np.concatenate([_all_codes_rows(p, k, rng)] * 2)[:2]
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales = rng.uniform(0.1, 2.0, (2, 1))
    want = expected(p, trits, x, scales)
    for label, rows, exp, msg in [("lost", 1, want, "nothing arrived within"),
                                  ("extra", 2, want[:1], "extra result")]:
        try:
            await run_rows(dut, p, beat_codes(p, trits)[:rows], x, scales[:rows], expect=exp, rng=rng, p_stall=0.2,
                           label=f"bench check, one {label} result")
        except AssertionError as e:
            assert msg in str(e), f"{label} result: wrong message {e}"
            dut._log.info("%s", e)
        else:
            raise AssertionError(f"the bench did not notice a {label} result ({p.tag})")
        dut.i__valid.value, dut.o__ready.value = 0, 1
        await ClockCycles(dut.clk, p.cycles_per_row(k) + 4)  # let the engine drain before the next case
        await FallingEdge(dut.clk)


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
        await _run_checked(dut, p, trits, x, scales, bias, "every code")
    dut._log.info("every code, extreme activations: bit-exact (%s)", p.tag)
    await _reserved_codes(dut, p, rng)


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
    got, *_ = await _run_checked(dut, p, trits, x, scales, bias, f"random GEMV {n}x{k}", rng=rng, p_idle=0.1,
                                 p_stall=0.2)
    if p.packing == "sherry":  # the public model functions, on the packed codes
        codes = pack_sherry(trits)
        public = (ternary_gemv_fixed(codes, scales, x, bias, p.group_size) if p.epilogue == "fp16"
                  else ternary_accumulate(codes, x, p.group_size))
        _check(got, public, f"random GEMV {n}x{k} vs the public model", p)
    dut._log.info("random GEMV %dx%d with idle beats and back-pressure: bit-exact (%s)", n, k, p.tag)
    await _long_backpressure(dut, p, rng)


@cocotb.test()
async def test_cycles_per_row(dut):
    p = await _start(dut)
    rng = rng_from_env(3)
    k = p.group_size * 4
    trits = np.concatenate([_all_codes_rows(p, k, rng)] * 3)[:3]
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales = rng.uniform(0.01, 1.0, (3, 4))
    _, acc, outs, _ = await _run_checked(dut, p, trits, x, scales, label="cycle run")
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
    await _bench_bounds(dut, p, rng)


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
    dut = TernaryEngine.from_params(params)
    env.update(sim_env(dut))  # the engine's own layouts, for the testbench to pack with
    return run_cocotb(dut, toplevel=TOPLEVEL, test_module=__name__, env=env, tag=params.tag, sim=sim, seed=seed,
                      testcase=testcase, **runner_kwargs)
