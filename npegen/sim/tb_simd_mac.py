"""cocotb testbench of :class:`npegen.hw.simd_mac.SimdMac`, bit-exact against
:func:`npegen.models.simd_mac.ref_simd_mac` (whose rounded results equal ``Format.dot``).

The design point arrives as ``PARAM_*`` variables (:meth:`SimdMacParams.to_env`), the seed as
``NPEGEN_SEED``. One coroutine drives and samples at the falling clock edge (one trigger per
cycle); it applies its own valid/ready pattern, works out which beats the engine accepted
(``i.ready`` is checked against ``~o.valid | o.ready``), collects every result taken from ``o``
and compares the lot with the model.

Tests
-----
test_small_formats_all_pairs
    FP4 and Posit(4,1) modes: every operand pair on every lane, one beat per dot product.
test_posit8_all_pairs
    Posit(8,0): all 65,536 pairs on both lanes (the lanes see them in different orders).
test_posit16_random_and_corners
    Posit(16,1): ``NPEGEN_N`` random pairs (default 100,000) plus every pair of the corner table
    (0, NaR, +-minpos, +-maxpos, neighbours of +-1).
test_dot_products_mixed
    Dot products of random length 1..256 back to back, the mode changing between them, random
    idle beats and random back-pressure.
test_overflow_saturates
    Worst-case products beyond ``2**acc_guard`` in every mode: the accumulator saturates and the
    lane's overflow flag is set.
test_latency
    Cycles from an accepted ``last`` beat to its result, with ``o`` always ready: ``stages``.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.formats import Format
from ..models.simd_mac import SimdMacParams, SimdMacResult, ref_simd_mac
from .util import pack_fields, record_measurement, rng_from_env, start

TOPLEVEL = "simd_mac"


def _mode_index(p: SimdMacParams, name: str) -> int | None:
    return p.modes.index(name) if name in p.modes else None


def corner_codes(f: Format) -> list[int]:
    """0, NaR (posits), +-minpos, +-maxpos and the neighbours of +-1 (codes)."""
    n = f.nbits
    mask = (1 << n) - 1
    one = int(f.encode(1.0))
    codes = {0, 1, mask, (1 << (n - 1)) - 1, (1 << (n - 1)) + 1, one, (one + 1) & mask, (one - 1) & mask,
             (-one) & mask, (-one + 1) & mask, (-one - 1) & mask}
    if f.has_nar:
        codes.add(1 << (n - 1))
    return sorted(codes)


class Engine:
    """Drives beats into the DUT and collects results, one falling edge per cycle."""

    def __init__(self, dut, p: SimdMacParams):
        self.dut, self.p = dut, p
        self.acc_max = max(p.acc_width(lane) for lane in range(p.out_lanes))
        self.accepted: list[tuple[int, int, int, int]] = []
        self.results: list[tuple] = []
        self.cycle = 0
        self.accept_cycles: list[int] = []
        self.result_cycles: list[int] = []

    def _unpack(self, v: int) -> tuple:
        p = self.p
        wb, lanes = p.out_word_bits, p.out_lanes
        word = v & ((1 << wb) - 1)
        v >>= wb
        acc = []
        for _ in range(lanes):
            x = v & ((1 << self.acc_max) - 1)
            acc.append(x - (1 << self.acc_max) if x >> (self.acc_max - 1) else x)
            v >>= self.acc_max
        nar = v & ((1 << lanes) - 1)
        v >>= lanes
        ovf = v & ((1 << lanes) - 1)
        v >>= lanes
        return word, tuple(acc), nar, ovf, v & ((1 << p.mode_bits) - 1)

    async def run(self, a, b, mode, last, clear=None, *, rng=None, p_idle=0.0, p_stall=0.0,
                  drain: int = 16) -> None:
        """Offer every beat until accepted, take every result. ``p_idle``: chance of an idle cycle,
        ``p_stall``: of ``o.ready`` low. Ends ``drain`` cycles after the last result (and checks nothing
        more comes out)."""
        from cocotb.triggers import FallingEdge

        dut, p = self.dut, self.p
        wb, mb = p.word_bits, p.mode_bits
        clear = np.zeros(len(a), bool) if clear is None else clear
        words = [pack_fields((x, y, m, lf, c), (wb, wb, mb, 1, 1))
                 for x, y, m, lf, c in zip(a.tolist(), b.tolist(), mode.tolist(), last.tolist(), clear.tolist(),
                                           strict=True)]
        want = len(self.results) + int(np.count_nonzero(last))
        h_iv, h_ip, h_ir, h_ov, h_op, h_or = (dut.i__valid, dut.i__payload, dut.i__ready, dut.o__valid,
                                              dut.o__payload, dut.o__ready)
        rnd = rng.random if rng is not None else None
        t, n, extra = 0, len(words), 0
        prev_ready = int(h_or.value)
        while True:
            o_valid = int(h_ov.value)
            i_ready = int(h_ir.value)
            if i_ready != int((not o_valid) or prev_ready):
                raise AssertionError(f"cycle {self.cycle}: i.ready={i_ready} but o.valid={o_valid}, "
                                     f"o.ready={prev_ready}")
            ready = 0 if (rnd is not None and p_stall and rnd() < p_stall) else 1
            if o_valid and ready:
                self.results.append(self._unpack(h_op.value.to_unsigned()))
                self.result_cycles.append(self.cycle)
            offer = t < n and not (rnd is not None and p_idle and rnd() < p_idle)
            h_or.value = ready
            if offer:
                h_iv.value = 1
                h_ip.value = words[t]
            else:
                h_iv.value = 0
            if offer and (not o_valid or ready):
                self.accept_cycles.append(self.cycle)
                t += 1
            prev_ready = ready
            await FallingEdge(dut.clk)
            self.cycle += 1
            if t >= n and len(self.results) >= want:
                extra += 1
                if extra > drain:
                    break
            elif self.cycle > 40 * (n + 200):
                raise AssertionError(f"only {len(self.results)} of {want} results after {self.cycle} cycles")
        if len(self.results) != want:
            raise AssertionError(f"{len(self.results)} results, expected {want}")


def compare(p: SimdMacParams, got: list[tuple], want: list[SimdMacResult], label: str) -> None:
    """Results from the engine against the model, field by field."""
    if len(got) != len(want):
        raise AssertionError(f"{label}: {len(got)} results, model {len(want)}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        wt = (w.word, w.acc, sum(int(x) << k for k, x in enumerate(w.nar)),
              sum(int(x) << k for k, x in enumerate(w.overflow)), w.mode)
        if g != wt:
            names = ("word", "acc", "nar", "overflow", "mode")
            diff = {k: (gv, wv) for k, gv, wv in zip(names, g, wt, strict=True) if gv != wv}
            bad = sum(1 for gg, ww in zip(got, want, strict=True)
                      if gg != (ww.word, ww.acc, sum(int(x) << k for k, x in enumerate(ww.nar)),
                                sum(int(x) << k for k, x in enumerate(ww.overflow)), ww.mode))
            raise AssertionError(f"{label}: {bad} of {len(want)} results differ from the model; first, result {i} "
                                 f"(mode {p.modes[w.mode]}): (rtl, model) {diff} ({p.tag})")


async def _start(dut) -> tuple[SimdMacParams, Engine]:
    p = SimdMacParams.from_env()
    await start(dut, i__valid=0, i__payload=0, o__ready=1)
    return p, Engine(dut, p)


async def _check(dut, p, eng, a, b, mode, last, label, clear=None, **kw) -> None:
    await eng.run(a, b, mode, last, clear, **kw)
    compare(p, eng.results, ref_simd_mac(p, a, b, mode, last, clear), label)
    dut._log.info("%s: %d beats, %d results bit-exact (%s)", label, len(a), len(eng.results), p.tag)


def _lane_words(p: SimdMacParams, mi: int, lane_codes: list[np.ndarray]) -> np.ndarray:
    n = p.formats[mi].nbits
    w = np.zeros(len(lane_codes[0]), dtype=np.int64)
    for lane, c in enumerate(lane_codes):
        w |= c.astype(np.int64) << (lane * n)
    return w


def _all_pairs_beats(p: SimdMacParams, mi: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) code pair on every lane: lane l sees the pair list rotated by l * n_pairs / lanes."""
    n = p.formats[mi].nbits
    codes = np.arange(1 << n)
    pa, pb = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    lanes = p.lanes(mi)
    shift = pa.size // lanes
    a = _lane_words(p, mi, [np.roll(pa, lane * shift) for lane in range(lanes)])
    b = _lane_words(p, mi, [np.roll(pb, lane * shift) for lane in range(lanes)])
    return a, b


@cocotb.test()
async def test_small_formats_all_pairs(dut):
    p, eng = await _start(dut)
    for name in ("fp4_e2m1", "posit4_1"):
        mi = _mode_index(p, name)
        if mi is None:
            continue
        a, b = _all_pairs_beats(p, mi)
        ones = np.ones(a.size, bool)
        eng.results.clear()
        await _check(dut, p, eng, a, b, np.full(a.size, mi), ones, f"{name}: all pairs on every lane")


@cocotb.test(skip="posit8_0" not in os.environ.get("PARAM_MODES", ""))
async def test_posit8_all_pairs(dut):
    p, eng = await _start(dut)
    mi = _mode_index(p, "posit8_0")
    a, b = _all_pairs_beats(p, mi)
    await _check(dut, p, eng, a, b, np.full(a.size, mi), np.ones(a.size, bool), "posit8_0: all 65536 pairs")


@cocotb.test(skip="posit16_1" not in os.environ.get("PARAM_MODES", ""))
async def test_posit16_random_and_corners(dut):
    p, eng = await _start(dut)
    mi = _mode_index(p, "posit16_1")
    f = p.formats[mi]
    rng = rng_from_env(3)
    n = int(os.environ.get("NPEGEN_N", "100000"))
    c = np.array(corner_codes(f))
    ca, cb = (x.ravel() for x in np.meshgrid(c, c, indexing="ij"))
    pa = np.concatenate([ca, rng.integers(0, 1 << f.nbits, n)])
    pb = np.concatenate([cb, rng.integers(0, 1 << f.nbits, n)])
    lanes = p.lanes(mi)
    a = _lane_words(p, mi, [np.roll(pa, lane) for lane in range(lanes)])
    b = _lane_words(p, mi, [np.roll(pb, lane) for lane in range(lanes)])
    await _check(dut, p, eng, a, b, np.full(a.size, mi), np.ones(a.size, bool),
                 f"posit16_1: {c.size ** 2} corner + {n} random pairs")


def mixed_dot_products(p: SimdMacParams, rng: np.random.Generator, count: int, max_len: int = 256):
    """``count`` dot products of random length 1..max_len, each in a random mode (changing between them)."""
    a, b, mode, last = [], [], [], []
    prev = -1
    for _ in range(count):
        mi = int(rng.integers(0, len(p.modes)))
        if len(p.modes) > 1:
            while mi == prev:
                mi = int(rng.integers(0, len(p.modes)))
        prev = mi
        k = int(rng.integers(1, max_len + 1))
        a.append(rng.integers(0, 1 << p.word_bits, k))
        b.append(rng.integers(0, 1 << p.word_bits, k))
        mode.append(np.full(k, mi))
        lf = np.zeros(k, bool)
        lf[-1] = True
        last.append(lf)
    return (np.concatenate(a), np.concatenate(b), np.concatenate(mode), np.concatenate(last))


@cocotb.test()
async def test_dot_products_mixed(dut):
    p, eng = await _start(dut)
    rng = rng_from_env(4)
    count = int(os.environ.get("NPEGEN_DOTS", "40"))
    a, b, mode, last = mixed_dot_products(p, rng, count)
    clear = rng.random(a.size) < 0.01  # now and then drop a dot product midway
    await _check(dut, p, eng, a, b, mode, last, f"{count} mixed-mode dot products, clears, idle and back-pressure",
                 clear=clear, rng=rng, p_idle=0.1, p_stall=0.3)


@cocotb.test()
async def test_overflow_saturates(dut):
    p, eng = await _start(dut)
    chunks = []
    for mi, f in enumerate(p.formats):
        big = int(f.encode(f.max_value))
        neg = int(f.encode(-f.max_value))
        k = (2 << p.acc_guard) + 3  # twice the guaranteed count: every mode overflows
        lanes = p.lanes(mi)
        for other in (big, neg):  # max*max (positive) then max*-max (negative)
            a = _lane_words(p, mi, [np.full(k, big)] * lanes)
            b = _lane_words(p, mi, [np.full(k, other)] * lanes)
            lf = np.zeros(k, bool)
            lf[-1] = True
            chunks.append((a, b, np.full(k, mi), lf))
    a, b, mode, last = (np.concatenate(x) for x in zip(*chunks, strict=True))
    await _check(dut, p, eng, a, b, mode, last, "overflow in every mode")
    if not p.dot:
        assert all(r[3] for r in eng.results if p.formats[r[4]].exact_product_bits > 0), "overflow flags not set"


@cocotb.test()
async def test_latency(dut):
    p, eng = await _start(dut)
    rng = rng_from_env(5)
    a, b, mode, last = mixed_dot_products(p, rng, 20, max_len=5)
    await _check(dut, p, eng, a, b, mode, last, "latency run")
    last_cycles = [c for c, lf in zip(eng.accept_cycles, last.tolist(), strict=True) if lf]
    lat = {r - c for c, r in zip(last_cycles, eng.result_cycles, strict=True)}
    assert lat == {p.latency}, f"latency {sorted(lat)} cycles, documented {p.latency}"
    span = eng.accept_cycles[-1] - eng.accept_cycles[0] + 1
    assert span == len(a), f"{len(a)} beats took {span} cycles: the engine inserted bubbles"
    ends = [i for i, lf in enumerate(last.tolist()) if lf]
    lengths = [e - s for s, e in zip([-1] + ends[:-1], ends, strict=True)]
    record_measurement("simd_mac.test_latency", cycles=eng.result_cycles[-1] - eng.accept_cycles[0] + 1,
                       jobs=[[p.modes[int(mode[e])], p.out_lanes if p.dot else p.lanes(int(mode[e])), n]
                             for e, n in zip(ends, lengths, strict=True)])


def verify_simd_mac(params: SimdMacParams | None = None, *, sim: str | None = None, seed: int | None = None,
                    testcase: str | None = None, n_random: int | None = None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch."""
    from ..hw.simd_mac import SimdMac
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    params = SimdMacParams() if params is None else params
    env = params.to_env()
    if n_random is not None:
        env["NPEGEN_N"] = str(int(n_random))
    return run_cocotb(SimdMac.from_params(params), toplevel=TOPLEVEL, test_module=__name__, env=env,
                      tag=params.tag, sim=sim, seed=seed, testcase=testcase, **runner_kwargs)
