"""cocotb testbench of :class:`npegen.hw.simd_mac.SimdMac`, bit-exact against
:func:`npegen.models.simd_mac.ref_simd_mac` (whose rounded results equal ``Format.dot``).

The design point arrives as ``PARAM_*`` variables (:meth:`SimdMacParams.to_env`), the engine's port layouts as
``NPEGEN_PORTS`` (:class:`~npegen.sim.util.Ports`), the seed as ``NPEGEN_SEED``. Beats go in through a
:class:`~npegen.sim.stream.StreamDriver` (random idle beats) and results come out through a
:class:`~npegen.sim.stream.StreamMonitor` (random or patterned back-pressure), both packing with the engine's own
layouts at the falling clock edge (:func:`run_dots`). Every result is compared with the model as it is taken, and
every cycle ``i.ready`` is checked against ``~o.valid | o.ready``. Every wait is bounded by a
:class:`~npegen.sim.util.Watchdog`: the oldest result owed must come within ``latency`` cycles with ``o.ready``
high of its ``last`` beat (or of the result before it), so a lost or late result fails within a few cycles naming
its dot product and beats; an extra one (``o.valid`` with no accepted ``last`` beat left unanswered) fails at once,
also while ``o.ready`` is low.

Tests
-----
test_small_formats_all_pairs
    FP4 and Posit(4,1) (and INT4) modes: every operand pair on every lane, one beat per dot product.
test_posit8_all_pairs
    Posit(8,0): all 65,536 pairs on both lanes (the lanes see them in different orders).
test_posit16_random_and_corners, test_int8_random_and_corners
    Posit(16,1) / INT8: ``NPEGEN_N`` random pairs (default 100,000) plus every pair of the corner table
    (0, NaR, +-minpos, +-maxpos, neighbours of +-1); INT8 exhaustively when ``NPEGEN_N`` >= 65,536.
test_minifloat_random_and_corners
    Every minifloat mode with NaN (FP8 E4M3 / E5M2, BF16, FP16): ``NPEGEN_N`` random pairs plus every
    pair of the corner table (+-0, NaNs, +-Inf, subnormals, +-max, neighbours of +-1), all pairs when
    ``NPEGEN_N`` covers them; then short dot products mixing the special codes (Inf of both signs, Inf
    times zero, NaN after Inf, overflow of finite sums).
test_dot_products_mixed
    Dot products of random length 1..256 back to back, the mode changing between them, random
    clears, idle beats and random back-pressure. Minifloat modes draw finite codes of a random
    magnitude range with NaN, +-Inf, +-0 and subnormal codes mixed in (:func:`random_lane_codes`).
test_overflow_saturates
    Worst-case products beyond ``2**acc_guard`` in every mode: the accumulator saturates and the
    lane's overflow flag is set.
test_clear_after_overflow_and_nar
    Overflow (and NaR / NaN, and Inf) followed by ``clear`` inside one dot product, every mode: the flags
    drop.
test_rounding_ties
    Sums on the rounding midpoints of every mode's format and one smallest product either side of them.
test_long_backpressure
    ``o.ready`` low for runs of up to 150 cycles while short dot products queue: nothing lost.
test_reserved_mode_indices
    Mode indices naming no format (design points whose mode count is not a power of two).
test_latency
    Cycles from an accepted ``last`` beat to its result, with ``o`` always ready: ``stages``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cocotb
import numpy as np
from amaranth.hdl import unsigned
from amaranth.lib import data

from ..models.formats import Format, Int, Minifloat
from ..models.simd_mac import SimdMacParams, SimdMacResult, ref_simd_mac
from .stream import StreamDriver, StreamMonitor, transfer
from .util import Ports, Watchdog, cycle_now, record_measurement, rng_from_env, sim_env, start

TOPLEVEL = "simd_mac"


def _mode_index(p: SimdMacParams, name: str) -> int | None:
    return p.modes.index(name) if name in p.modes else None


def negate(f: Format, code: int) -> int:
    """The code of ``-value(code)``: the sign bit flipped (minifloats), the two's complement (posits, INT)."""
    n = f.nbits
    return code ^ (1 << (n - 1)) if isinstance(f, Minifloat) else (-code) & ((1 << n) - 1)


def special_codes(f: Minifloat) -> list[int]:
    """A minifloat's special and edge codes: +-0, every NaN of the top binade's edges (canonical, negative,
    smallest payload), +-Inf, the smallest and largest subnormals, the smallest normal, +-max."""
    n, mb = f.nbits, f.man_bits
    sign = 1 << (n - 1)
    codes = {0, sign, 1, sign | 1, (1 << mb) - 1, 1 << mb, f.max_code, sign | f.max_code}
    if f.has_nar:
        codes |= {f.nar_code, f.nar_code | sign}
        codes.add(f.inf_code | 1 if f.has_inf else f.nar_code)  # a NaN with another payload
    if f.has_inf:
        codes |= {f.inf_code, f.inf_code | sign}
    return sorted(codes)


def corner_codes(f: Format) -> list[int]:
    """0, NaR (posits), +-minpos, +-maxpos and the neighbours of +-1 (codes); minifloats: their
    :func:`special_codes` and the neighbours of +-1."""
    if isinstance(f, Minifloat):
        one = int(f.encode(1.0))
        near = {one, one + 1, one - 1}
        return sorted(set(special_codes(f)) | near | {negate(f, c) for c in near})
    n = f.nbits
    mask = (1 << n) - 1
    one = int(f.encode(1.0))
    codes = {0, 1, mask, (1 << (n - 1)) - 1, (1 << (n - 1)) + 1, one, (one + 1) & mask, (one - 1) & mask,
             (-one) & mask, (-one + 1) & mask, (-one - 1) & mask}
    if f.has_nar:
        codes.add(1 << (n - 1))
    return sorted(codes)


#: The fields of ``o.payload`` a result is compared on, in the order of :func:`as_tuple` / :func:`result_tuple`.
RESULT_FIELDS = ("word", "acc", "nar", "overflow", "mode")


def field_diff(got: tuple, want: tuple) -> dict:
    """The result fields (word, acc, nar, overflow, mode) where ``got`` differs from ``want``: (got, want) each."""
    return {f: (g, w) for f, g, w in zip(RESULT_FIELDS, got, want, strict=True) if g != w}


def _mode_name(p: SimdMacParams, mi: int) -> str:
    return p.modes[mi] if mi < len(p.modes) else f"reserved index {mi}"


def as_tuple(r: SimdMacResult) -> tuple:
    """A model result as the fields of ``o.payload``: (word, acc, nar bits, overflow bits, mode)."""
    return (r.word, r.acc, sum(int(x) << k for k, x in enumerate(r.nar)),
            sum(int(x) << k for k, x in enumerate(r.overflow)), r.mode)


def result_tuple(beat: dict) -> tuple:
    """An ``o`` beat unpacked with the engine's output layout, as :func:`as_tuple` gives the model's."""
    return beat["word"], tuple(beat["acc"]), beat["nar"], beat["overflow"], beat["mode"]


def beat_payloads(a, b, mode, last, clear) -> list[dict]:
    """The ``i`` payloads of beats given as arrays, as dicts of the engine's input layout
    (``{"a", "b", "mode", "last", "clear"}``)."""
    cols = (np.asarray(v).tolist() for v in (a, b, mode, np.asarray(last, int), np.asarray(clear, int)))
    return [{"a": x, "b": y, "mode": m, "last": lf, "clear": c} for x, y, m, lf, c in zip(*cols, strict=True)]


def dot_name(p: SimdMacParams, mode, ends: list[int], k: int) -> str:
    """Names result ``k`` of the dot products ending at beats ``ends``: its beats and mode."""
    if k >= len(ends):
        return f"result {k}, beyond the {len(ends)} owed"
    s = ends[k - 1] + 1 if k else 0
    return (f"result {k} of {len(ends)} (dot product of beats {s}..{ends[k]}, mode "
            f"{_mode_name(p, int(mode[ends[k]]))})")


def stall_lengths(blocked: list[int]) -> list[int]:
    """Per result that waited with ``o.ready`` low, the cycles (edges) it waited: the lengths of the runs of
    consecutive numbers in ``blocked`` (a monitor's cycles with ``o.valid`` high and ``o.ready`` low; the engine holds
    a result until it is taken, so each run ends right before one result is taken)."""
    runs: list[int] = []
    for i, c in enumerate(blocked):
        if i and c == blocked[i - 1] + 1:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


@dataclass
class DotRun:
    """What one :func:`run_dots` saw.

    Attributes
    ----------
    results : list of tuple
        Every result as :func:`result_tuple` (equal to the model's, or the run failed).
    accept_cycles, result_cycles : list of int
        The cycle each beat was accepted in (:attr:`StreamDriver.accepted`) and each result taken in
        (:attr:`StreamMonitor.cycles`): a result ``stages`` cycles after its ``last`` beat when ``o`` is ready.
    stalls : list of int
        Per result that waited with ``o.ready`` low: the cycles it waited.
    """

    results: list[tuple]
    accept_cycles: list[int]
    result_cycles: list[int]
    stalls: list[int]

    @property
    def stalled_results(self) -> int:
        return len(self.stalls)

    @property
    def max_stall(self) -> int:
        return max(self.stalls, default=0)


async def run_dots(dut, p: SimdMacParams, ports: Ports, a, b, mode, last, clear=None, *, label: str, rng=None,
                   p_idle=0.0, p_stall=0.0, ready=None) -> DotRun:
    """Send every beat through a :class:`~npegen.sim.stream.StreamDriver` on ``i`` and take every result through a
    :class:`~npegen.sim.stream.StreamMonitor` on ``o`` (the engine's own layouts), comparing each with
    :func:`~npegen.models.simd_mac.ref_simd_mac` as it arrives.

    ``p_idle``: chance of an idle cycle before a beat; ``o.ready`` is low with chance ``p_stall``, or follows the
    iterator ``ready`` (one value per cycle) when given. Every cycle the monitor also checks ``i.ready`` against
    ``~o.valid | o.ready``, fails at once on ``o.valid`` with every accepted ``last`` beat already answered
    (extra), also while ``o.ready`` is low, and bounds the wait of the oldest result owed: at most ``latency``
    cycles with ``o.ready`` high from the acceptance of its ``last`` beat or the taking of the result before it,
    whichever is later (a :class:`~npegen.sim.util.Watchdog`; the bench's own stalls and idle beats do not excuse
    a late result). The monitor's own watchdog allows ``latency + 1`` cycles in which nothing moved although the
    bench held nothing back; after the last result ``o.ready`` stays high for ``latency + 3`` cycles in which
    nothing more may come. Failure messages start with ``label``."""
    n = len(a)
    clear = np.zeros(n, bool) if clear is None else np.asarray(clear, bool)
    want = [as_tuple(r) for r in ref_simd_mac(p, a, b, mode, last, clear)]
    lasts = np.asarray(last, bool).tolist()
    ends = np.flatnonzero(lasts).tolist()
    payloads = beat_payloads(a, b, mode, lasts, clear)
    h_ir = dut.i__ready
    drv = mon = None
    state = {"seen": 0, "owed": 0, "prev_ready": None}  # beats of drv.accepted counted; last beats among them

    def name(k: int) -> str:
        return dot_name(p, mode, ends, k)

    def awaited() -> str:
        k, acc = len(mon.beats), drv.accepted
        at = (f"last beat accepted at cycle {acc[ends[k]]}" if k < len(ends) and ends[k] < len(acc)
              else f"{len(acc)} of {n} beats accepted")
        return f"{label}: {name(k)}, {at}, now cycle {cycle_now()} ({p.tag})"

    def check(k: int, beat: dict) -> None:  # every result against the model as it is taken
        got = result_tuple(beat)
        if k >= len(want) or got != want[k]:
            diff = field_diff(got, want[k]) if k < len(want) else got
            raise AssertionError(f"{label}: {name(k)} differs from the model at cycle {cycle_now()}: (rtl, model) "
                                 f"{diff} ({p.tag}; a lost or repeated result shifts every later one)")

    def watch(c: int) -> None:  # every cycle, at the falling edge: extra and late results, the i.ready rule
        v, r = mon.handshake(c)
        took = v and r
        before = len(mon.beats) - took  # results taken before this cycle
        started = False
        acc, seen = drv.accepted, state["seen"]
        while seen < len(acc):  # beats accepted in the cycle before (the driver reads i.ready after this hook)
            if lasts[seen]:
                started |= before == state["owed"]  # the oldest result owed: its wait started then
                state["owed"] += 1
            seen += 1
        state["seen"] = seen
        if v and before >= state["owed"]:
            raise AssertionError(f"{label}: extra result at cycle {c}: {result_tuple(mon.sample())}, but the "
                                 f"{state['owed']} last beats accepted so far (of {len(ends)}) were all answered "
                                 f"({p.tag})")
        if started:
            due.progress()
        if took:
            due.progress()
        elif r and before < state["owed"]:
            due.tick()  # a result owed, o.ready high: at most `latency` such cycles until it comes
        # read at the falling edge, before this cycle's o.ready takes effect: o.ready is the previous cycle's
        prev, state["prev_ready"] = state["prev_ready"], r
        if prev is not None:
            i_ready = int(h_ir.value)
            if i_ready != int((not v) or prev):
                raise AssertionError(f"{label}: cycle {c}: i.ready={i_ready} but o.valid={v}, o.ready={prev}: "
                                     f"i.ready is not ~o.valid | o.ready ({p.tag})")

    # the oldest result owed comes within `latency` cycles with o.ready high of its last beat or the result before
    due = Watchdog(p.latency, awaited)
    mon = StreamMonitor.from_ports(dut, ports, "o", stall_prob=p_stall, rng=rng, ready_pattern=ready,
                                   watchdog=Watchdog(p.latency + 1, awaited), on_beat=check, on_cycle=watch,
                                   label=label, item="result", names=lambda k, _n: name(k))
    # i.ready follows o.ready combinationally: the driver reads it 1 ns after the monitor drove o.ready
    drv = StreamDriver.from_ports(dut, ports, "i", idle_prob=p_idle, rng=rng, settle=True, downstream=mon,
                                  watchdog=p.latency + 1, label=f"{label} ({p.tag})")
    got = await transfer(drv, payloads, mon, len(want), drain=p.latency + 3)
    return DotRun([result_tuple(g) for g in got], drv.accepted, mon.cycles, stall_lengths(mon.blocked))


async def _start(dut) -> tuple[SimdMacParams, Ports]:
    await start(dut, i__valid=0, i__payload=0, o__ready=1)
    return SimdMacParams.from_env(), Ports.from_env()


async def _check(dut, p, ports, a, b, mode, last, label, clear=None, **kw) -> DotRun:
    run = await run_dots(dut, p, ports, a, b, mode, last, clear, label=label, **kw)
    dut._log.info("%s: %d beats, %d results bit-exact (%s)", label, len(a), np.count_nonzero(last), p.tag)
    return run


def lane_words(p: SimdMacParams, mi: int, lane_codes) -> np.ndarray:
    """Operand words of mode ``mi`` from one code sequence per lane, placed at the field offsets of the mode's lane
    layout ``ArrayLayout(unsigned(nbits), lanes)`` (lane ``l`` in bits ``[l*nbits, (l+1)*nbits)``); a code outside
    ``nbits`` is refused. Vectorised: the operand sweeps pack 65,536 and more words."""
    layout = data.ArrayLayout(unsigned(p.formats[mi].nbits), p.lanes(mi))
    codes = [np.asarray(c, dtype=np.int64) for c in lane_codes]
    if len(codes) != layout.length:
        raise ValueError(f"{len(codes)} lanes of codes for {layout!r}")
    words = np.zeros(np.broadcast_shapes(*(c.shape for c in codes)), dtype=np.int64)
    for lane, c in enumerate(codes):
        if c.size and (c.min() < 0 or c.max() >> layout.elem_shape.width):
            raise ValueError(f"lane {lane}: codes outside {layout.elem_shape!r}")
        words |= c << layout[lane].offset
    return words


def _all_pairs_beats(p: SimdMacParams, mi: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) code pair on every lane: lane l sees the pair list rotated by l * n_pairs / lanes."""
    n = p.formats[mi].nbits
    codes = np.arange(1 << n)
    pa, pb = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    lanes = p.lanes(mi)
    shift = pa.size // lanes
    a = lane_words(p, mi, [np.roll(pa, lane * shift) for lane in range(lanes)])
    b = lane_words(p, mi, [np.roll(pb, lane * shift) for lane in range(lanes)])
    return a, b


def _one_beat_dots(p: SimdMacParams, mi: int, a, b) -> tuple:
    return a, b, np.full(len(a), mi), np.ones(len(a), bool)


@cocotb.test()
async def test_small_formats_all_pairs(dut):
    """FP4 and Posit(4,1) (and INT4) modes: every operand pair on every lane, one beat per dot product."""
    p, ports = await _start(dut)
    for name in ("fp4_e2m1", "posit4_1", "int4"):
        mi = _mode_index(p, name)
        if mi is not None:
            await _check(dut, p, ports, *_one_beat_dots(p, mi, *_all_pairs_beats(p, mi)),
                         f"{name}: all pairs on every lane")


def _skip_unless(cond: bool, why: str) -> None:
    """Skip the running test (also when a test filter names it, where cocotb ignores ``skip=``)."""
    if not cond:
        import pytest

        pytest.skip(why)


@cocotb.test()
async def test_posit8_all_pairs(dut):
    """Posit(8,0): all 65,536 pairs on both lanes (the lanes see them in different orders)."""
    p, ports = await _start(dut)
    mi = _mode_index(p, "posit8_0")
    _skip_unless(mi is not None, "no posit8_0 mode")
    await _check(dut, p, ports, *_one_beat_dots(p, mi, *_all_pairs_beats(p, mi)), "posit8_0: all 65536 pairs")


async def _random_and_corners(dut, name: str, stream: int) -> None:
    """``NPEGEN_N`` random pairs plus every pair of the corner table, on every lane; every pair when
    ``NPEGEN_N`` is at least the number of pairs."""
    p, ports = await _start(dut)
    mi = _mode_index(p, name)
    _skip_unless(mi is not None, f"no {name} mode")
    await _pairs(dut, p, ports, mi, rng_from_env(stream))


async def _pairs(dut, p: SimdMacParams, ports: Ports, mi: int, rng: np.random.Generator) -> None:
    """One-beat dot products of mode ``mi``: every pair of :func:`corner_codes` plus ``NPEGEN_N`` uniformly random
    pairs (every code, NaN / Inf included), on every lane; every pair when ``NPEGEN_N`` covers them."""
    f = p.formats[mi]
    name = p.modes[mi]
    n = int(os.environ.get("NPEGEN_N", "100000"))
    if n >= 1 << (2 * f.nbits):
        await _check(dut, p, ports, *_one_beat_dots(p, mi, *_all_pairs_beats(p, mi)), f"{name}: every pair")
        return
    c = np.array(corner_codes(f))
    ca, cb = (x.ravel() for x in np.meshgrid(c, c, indexing="ij"))
    pa = np.concatenate([ca, rng.integers(0, 1 << f.nbits, n)])
    pb = np.concatenate([cb, rng.integers(0, 1 << f.nbits, n)])
    lanes = p.lanes(mi)
    a = lane_words(p, mi, [np.roll(pa, lane) for lane in range(lanes)])
    b = lane_words(p, mi, [np.roll(pb, lane) for lane in range(lanes)])
    await _check(dut, p, ports, *_one_beat_dots(p, mi, a, b), f"{name}: {c.size ** 2} corner + {n} random pairs")


def minifloat_special_dots(p: SimdMacParams, mi: int, rng: np.random.Generator, count: int = 60) -> tuple:
    """``count`` dot products of 1 to 4 beats in minifloat mode ``mi``, every lane's operands drawn from
    :func:`special_codes` and +-1, +-2 (so Infs of both signs, Inf times zero, NaN with Inf, max times max and
    subnormal products meet in one sum), with ``(a, b, mode, last)`` as :func:`mixed_dot_products`."""
    f = p.formats[mi]
    pool = special_codes(f) + [int(c) for c in f.encode([1.0, -1.0, 2.0, -2.0])]
    a, b, last = [], [], []
    for _ in range(count):
        k = int(rng.integers(1, 5))
        a.append(lane_words(p, mi, [rng.choice(pool, k) for _ in range(p.lanes(mi))]))
        b.append(lane_words(p, mi, [rng.choice(pool, k) for _ in range(p.lanes(mi))]))
        last.append(np.arange(k) == k - 1)
    a, b, last = np.concatenate(a), np.concatenate(b), np.concatenate(last)
    return a, b, np.full(a.size, mi), last


@cocotb.test()
async def test_minifloat_random_and_corners(dut):
    """Every minifloat mode but FP4 E2M1 (all its pairs are in :func:`test_small_formats_all_pairs`): FP8 E4M3 /
    E5M2, FP6 E3M2 / E2M3, BF16, FP16, ...: every pair of the corner table (+-0, NaNs, +-Inf, subnormals, +-max,
    neighbours of +-1) plus ``NPEGEN_N`` random pairs on every lane (all pairs when ``NPEGEN_N`` covers them, e.g.
    the 4,096 FP6 pairs), then short dot products mixing the special codes."""
    p, ports = await _start(dut)
    mis = [mi for mi, f in enumerate(p.formats) if isinstance(f, Minifloat) and p.modes[mi] != "fp4_e2m1"]
    _skip_unless(bool(mis), "no minifloat mode other than fp4_e2m1")
    rng = rng_from_env(12)
    for mi in mis:
        await _pairs(dut, p, ports, mi, rng)
        await _check(dut, p, ports, *minifloat_special_dots(p, mi, rng), f"{p.modes[mi]}: special-code dot products",
                     rng=rng, p_idle=0.1, p_stall=0.2)


@cocotb.test()
async def test_posit16_random_and_corners(dut):
    """Posit(16,1): ``NPEGEN_N`` random pairs (default 100,000) plus every pair of the corner table
    (0, NaR, +-minpos, +-maxpos, neighbours of +-1)."""
    await _random_and_corners(dut, "posit16_1", 3)


@cocotb.test()
async def test_int8_random_and_corners(dut):
    """INT8 mode: ``NPEGEN_N`` random pairs plus every pair of the corners (0, +-1, -128, 127, ...); all
    65,536 pairs when ``NPEGEN_N`` >= 65,536. Results saturate to INT8 (or round to ``out_format``)."""
    await _random_and_corners(dut, "int8", 6)


def random_lane_codes(f: Minifloat, rng: np.random.Generator, shape, p_special: float) -> np.ndarray:
    """Random codes of a minifloat with NaN: finite codes of random sign with magnitude codes up to a cap drawn
    once per call (so sums of small values that neither overflow nor vanish are common), each replaced by one
    of :func:`special_codes` (NaN, +-Inf, +-0, subnormals, +-max) with chance ``p_special``."""
    cap = int(rng.integers(1, f.max_code + 1))
    codes = rng.integers(0, cap + 1, shape) | (rng.integers(0, 2, shape) << (f.nbits - 1))
    pick = rng.random(shape) < p_special
    codes[pick] = rng.choice(special_codes(f), int(pick.sum()))
    return codes


def _random_words(p: SimdMacParams, mi: int, rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` random operand words of mode ``mi``: uniform words, or for a minifloat with NaN
    :func:`random_lane_codes` on every lane with a chance of a special code of 0, 1/(2k) or 3/k per
    product."""
    f = p.formats[mi]
    if not (isinstance(f, Minifloat) and f.has_nar):
        return rng.integers(0, 1 << p.word_bits, k)
    q = min(0.5, float(rng.choice([0.0, 0.5, 3.0])) / k)
    return lane_words(p, mi, [random_lane_codes(f, rng, k, q) for _ in range(p.lanes(mi))])


def mixed_dot_products(p: SimdMacParams, rng: np.random.Generator, count: int, max_len: int = 256):
    """``count`` dot products of random length 1..max_len, each in a random mode (changing between them);
    operands from :func:`_random_words`."""
    a, b, mode, last = [], [], [], []
    prev = -1
    for _ in range(count):
        mi = int(rng.integers(0, len(p.modes)))
        if len(p.modes) > 1:
            while mi == prev:
                mi = int(rng.integers(0, len(p.modes)))
        prev = mi
        k = int(rng.integers(1, max_len + 1))
        a.append(_random_words(p, mi, rng, k))
        b.append(_random_words(p, mi, rng, k))
        mode.append(np.full(k, mi))
        lf = np.zeros(k, bool)
        lf[-1] = True
        last.append(lf)
    return (np.concatenate(a), np.concatenate(b), np.concatenate(mode), np.concatenate(last))


@cocotb.test()
async def test_dot_products_mixed(dut):
    """Dot products of random length 1..256 back to back, the mode changing between them, random clears,
    idle beats and back-pressure."""
    p, ports = await _start(dut)
    rng = rng_from_env(4)
    count = int(os.environ.get("NPEGEN_DOTS", "40"))
    a, b, mode, last = mixed_dot_products(p, rng, count)
    clear = rng.random(a.size) < 0.01  # now and then drop a dot product midway
    await _check(dut, p, ports, a, b, mode, last, f"{count} mixed-mode dot products, clears, idle and back-pressure",
                 clear=clear, rng=rng, p_idle=0.1, p_stall=0.3)


def overflow_beats(p: SimdMacParams, mi: int, sign: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Beats of worst-case products (``maxpos * (sign * maxpos)`` on every lane), twice the ``2**acc_guard``
    the accumulator guarantees (and more with ``dot``): every lane of mode ``mi`` saturates."""
    f = p.formats[mi]
    big = int(f.encode(f.max_value))
    other = big if sign > 0 else int(f.encode(-f.max_value))
    k = (2 << p.acc_guard) + 3
    lanes = p.lanes(mi)
    return lane_words(p, mi, [np.full(k, big)] * lanes), lane_words(p, mi, [np.full(k, other)] * lanes)


def _dot_products(chunks) -> tuple:
    """Concatenate ``(a, b, mode, clear)`` chunks, each one dot product (``last`` on its final beat)."""
    a, b, mode, last, clear = [], [], [], [], []
    for ca, cb, m, cc in chunks:
        k = len(ca)
        lf = np.zeros(k, bool)
        lf[-1] = True
        a.append(np.asarray(ca, np.int64))
        b.append(np.asarray(cb, np.int64))
        mode.append(np.full(k, m))
        last.append(lf)
        clear.append(np.zeros(k, bool) if cc is None else np.asarray(cc, bool))
    return tuple(np.concatenate(x) for x in (a, b, mode, last, clear))


@cocotb.test()
async def test_overflow_saturates(dut):
    """Worst-case products beyond ``2**acc_guard`` in every mode, positive and negative: the accumulator
    saturates and the lane's overflow flag is set."""
    p, ports = await _start(dut)
    chunks = []
    for mi in range(len(p.modes)):
        for sign in (1, -1):
            a, b = overflow_beats(p, mi, sign)
            chunks.append((a, b, mi, None))
    a, b, mode, last, clear = _dot_products(chunks)
    run = await _check(dut, p, ports, a, b, mode, last, "overflow in every mode", clear=clear)
    if not p.dot:
        assert all(r[3] for r in run.results if p.formats[r[4]].exact_product_bits > 0), "overflow flags not set"


def clear_after_flags_beats(p: SimdMacParams, rng: np.random.Generator) -> tuple:
    """Dot products in every mode that overflow (and, in posit and minifloat modes with NaR / NaN, meet NaR /
    NaN; in minifloat modes with Inf, an Inf product and Infs of both signs) and *then* see a ``clear`` beat
    before their ``last``: the clear must drop the sticky overflow, NaR and Inf flags with the sum. Each is
    preceded by the same dot product without the clear (flags set) and followed by a plain short one."""
    chunks = []
    for mi, f in enumerate(p.formats):
        lanes = p.lanes(mi)
        oa, ob = overflow_beats(p, mi, 1 if mi % 2 else -1)
        d = f.decompose(np.arange(1 << f.nbits))
        finite = np.flatnonzero(~(d.nar | d.inf))
        tail_a, tail_b = (lane_words(p, mi, [rng.choice(finite, 3) for _ in range(lanes)]) for _ in range(2))
        for clr in (False, True):
            cc = np.zeros(len(oa) + 3, bool)
            cc[len(oa)] = clr  # the first beat after the overflow clears
            chunks.append((np.r_[oa, tail_a], np.r_[ob, tail_b], mi, cc))
        specials = []  # two-beat (a, b) lane codes that set the flags
        if f.has_nar:
            specials.append(([f.nar_code] * 2, [f.nar_code] * 2))
        if f.has_inf:
            one = int(f.encode(1.0))
            specials.append(([f.inf_code, one], [one, one]))  # +Inf
            specials.append(([f.inf_code, f.inf_code], [one, negate(f, one)]))  # +Inf and -Inf: NaN
        for sa, sb in specials:
            na = lane_words(p, mi, [np.array(sa)] * lanes)
            nb = lane_words(p, mi, [np.array(sb)] * lanes)
            for clr in (False, True):
                chunks.append((np.r_[na, tail_a], np.r_[nb, tail_b], mi, np.r_[False, False, clr, False, False]))
        chunks.append((tail_a[:1], tail_b[:1], mi, None))
    return _dot_products(chunks)


@cocotb.test()
async def test_clear_after_overflow_and_nar(dut):
    """Overflow, then ``clear``, in one dot product, in every mode (and NaR / NaN, then ``clear``, in posit and
    minifloat modes, and Inf in minifloats with Inf): the result carries only the beats from the clear on, with
    the overflow and NaR flags down (and no Inf); the same dot product without the clear keeps them up."""
    p, ports = await _start(dut)
    rng = rng_from_env(7)
    a, b, mode, last, clear = clear_after_flags_beats(p, rng)
    run = await _check(dut, p, ports, a, b, mode, last, "overflow / NaR then clear in one dot product", clear=clear,
                 rng=rng, p_stall=0.2)
    ends = np.flatnonzero(last)
    for k, e in enumerate(ends.tolist()):
        s = ends[k - 1] + 1 if k else 0
        cleared = bool(clear[s:e + 1].any())
        if cleared:
            assert run.results[k][2] == 0 and run.results[k][3] == 0, f"result {k}: flags survived the clear"
    assert any(r[3] for r in run.results) and any(clear), "the run never overflowed"


def rounding_tie_beats(p: SimdMacParams, rng: np.random.Generator, per_mode: int = 12) -> tuple:
    """Three-beat dot products ``v*1 + h*1 + s*t`` that land on and next to the rounding midpoints of every
    mode's own format, on every lane: ``v`` a code value, ``h`` half the step to the next value (when that is a
    code value itself), ``t`` the smallest product (minpos squared) and ``s`` in {-1, 0, +1}; the whole sum
    negated at random. The sticky bit alone decides between the two neighbours; ties go to the even code.
    INT formats (integer sums, nothing to round) are left out."""
    a, b, mode, last = [], [], [], []
    for mi, f in enumerate(p.formats):
        if isinstance(f, Int):
            continue
        vals = f.decode(np.arange(1 << f.nbits))
        fin = np.flatnonzero(np.isfinite(vals) & (vals > 0))
        order = fin[np.argsort(vals[fin])]
        code_of = {float(vals[c]): int(c) for c in order}
        cands = [(int(c), code_of[h]) for c, d in zip(order[:-1], order[1:], strict=True)
                 if (h := (float(vals[d]) - float(vals[c])) / 2) in code_of]
        if not cands:
            continue
        one, tiny = code_of[1.0], int(order[0])
        lanes = p.lanes(mi)
        for k in range(per_mode):
            s = (-1, 0, 1)[k % 3]
            picks = [cands[int(i)] for i in rng.integers(0, len(cands), lanes)]
            neg = rng.random(lanes) < 0.5
            lane_a = [[negate(f, c) if ng else c, negate(f, hc) if ng else hc, tiny if s else 0]
                      for (c, hc), ng in zip(picks, neg, strict=True)]
            lane_b = [[one, one, negate(f, tiny) if (s < 0) != ng else tiny] for ng in neg]
            a.extend(lane_words(p, mi, lane_a).tolist())
            b.extend(lane_words(p, mi, lane_b).tolist())
            mode.extend([mi] * 3)
            last.extend([False, False, True])
    return np.array(a, np.int64), np.array(b, np.int64), np.array(mode), np.array(last, bool)


@cocotb.test()
async def test_rounding_ties(dut):
    """Dot products whose exact sums sit on a rounding midpoint of the mode's format or one smallest product
    either side of it, on every lane and in every mode: ties to even, and the sticky bit decides the rest."""
    p, ports = await _start(dut)
    a, b, mode, last = rounding_tie_beats(p, rng_from_env(10))
    _skip_unless(a.size > 0, "no mode with midpoints to round")
    await _check(dut, p, ports, a, b, mode, last, "rounding midpoints, +-1 smallest product", rng=rng_from_env(11),
                 p_idle=0.1, p_stall=0.2)


def backpressure_pattern(rng: np.random.Generator, holds=(1, 2, 5, 40, 150)):
    """``o.ready`` per cycle: low for a run drawn from ``holds`` cycles, then high for 1 or 2 cycles, forever."""
    while True:
        yield from [0] * int(rng.choice(holds))
        yield from [1] * int(rng.integers(1, 3))


@cocotb.test()
async def test_long_backpressure(dut):
    """``o.ready`` held low for long runs (up to 150 cycles) with 1-2 ready cycles between them, while short
    dot products (1 to 3 beats, every mode) queue behind the waiting result: nothing lost, duplicated or
    reordered, and every wait is bounded."""
    p, ports = await _start(dut)
    rng = rng_from_env(8)
    a, b, mode, last = mixed_dot_products(p, rng, 60, max_len=3)
    clear = rng.random(a.size) < 0.05
    run = await _check(dut, p, ports, a, b, mode, last, "60 short dot products under long back-pressure", clear=clear,
                 ready=backpressure_pattern(rng))
    assert run.max_stall >= 40 and run.stalled_results >= 20, (run.max_stall, run.stalled_results)


def reserved_mode_beats(p: SimdMacParams, rng: np.random.Generator) -> tuple:
    """Mixed dot products with beats of every reserved mode index (``len(modes)`` .. ``2**mode_bits - 1``)
    inserted: inside dot products, as the ``last`` beat of one, with ``clear``, and back to back."""
    reserved = list(range(len(p.modes), 1 << p.mode_bits))
    a, b, mode, last = mixed_dot_products(p, rng, 24, max_len=6)
    clear = np.zeros(a.size, bool)
    pos = np.sort(rng.choice(a.size, size=min(a.size, 30), replace=False))
    mode = mode.copy()
    mode[pos] = rng.choice(reserved, size=pos.size)
    clear[pos[::3]] = True
    extra = len(reserved)  # then a run of reserved-only dot products
    a = np.r_[a, rng.integers(0, 1 << p.word_bits, 2 * extra)]
    b = np.r_[b, rng.integers(0, 1 << p.word_bits, 2 * extra)]
    mode = np.r_[mode, np.repeat(reserved, 2)]
    last = np.r_[last, np.tile([False, True], extra)]
    clear = np.r_[clear, np.zeros(2 * extra, bool)]
    return a, b, mode, last, clear


@cocotb.test()
async def test_reserved_mode_indices(dut):
    """Mode indices that name no format (when the number of modes is not a power of two) inside dot
    products, as the last beat, with clear: the documented behaviour (:class:`~npegen.hw.simd_mac.SimdMac`)
    of adding nothing, and of a reserved ``last`` beat emitting an all-zero result with its index."""
    p, ports = await _start(dut)
    _skip_unless(bool(p.reserved_modes), f"{len(p.modes)} modes fill the {p.mode_bits}-bit mode field")
    rng = rng_from_env(9)
    a, b, mode, last, clear = reserved_mode_beats(p, rng)
    run = await _check(dut, p, ports, a, b, mode, last, "reserved mode indices", clear=clear, rng=rng, p_stall=0.2)
    res = [r for r in run.results if r[4] >= len(p.modes)]
    assert res and all(r[0] == 0 and not any(r[1]) and r[2] == 0 and r[3] == 0 for r in res), res


@cocotb.test()
async def test_latency(dut):
    """Cycles from an accepted ``last`` beat to its result, with ``o`` always ready: ``stages``; beats go in
    back to back."""
    p, ports = await _start(dut)
    rng = rng_from_env(5)
    a, b, mode, last = mixed_dot_products(p, rng, 20, max_len=5)
    run = await _check(dut, p, ports, a, b, mode, last, "latency run")
    last_cycles = [c for c, lf in zip(run.accept_cycles, last.tolist(), strict=True) if lf]
    lat = {r - c for c, r in zip(last_cycles, run.result_cycles, strict=True)}
    assert lat == {p.latency}, f"latency {sorted(lat)} cycles, documented {p.latency}"
    span = run.accept_cycles[-1] - run.accept_cycles[0] + 1
    assert span == len(a), f"{len(a)} beats took {span} cycles: the engine inserted bubbles"
    ends = [i for i, lf in enumerate(last.tolist()) if lf]
    lengths = [e - s for s, e in zip([-1] + ends[:-1], ends, strict=True)]
    record_measurement("simd_mac.test_latency", cycles=run.result_cycles[-1] - run.accept_cycles[0] + 1,
                       jobs=[[p.modes[int(mode[e])], p.out_lanes if p.dot else p.lanes(int(mode[e])), n]
                             for e, n in zip(ends, lengths, strict=True)])


def verify_simd_mac(params: SimdMacParams | None = None, *, sim: str | None = None, seed: int | None = None,
                    testcase: str | None = None, n_random: int | None = None, n_dots: int | None = None,
                    **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch. ``n_random``: random
    pairs of the Posit(16,1) / INT8 / minifloat tests (default 100,000: every pair of an FP8 mode); ``n_dots``:
    dot products of ``test_dot_products_mixed`` (default 40)."""
    from ..hw.simd_mac import SimdMac
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    params = SimdMacParams() if params is None else params
    env = params.to_env()
    if n_random is not None:
        env["NPEGEN_N"] = str(int(n_random))
    if n_dots is not None:
        env["NPEGEN_DOTS"] = str(int(n_dots))
    dut = SimdMac.from_params(params)
    env.update(sim_env(dut))  # the engine's own layouts, for the testbench to pack with
    return run_cocotb(dut, toplevel=TOPLEVEL, test_module=__name__, env=env, tag=params.tag, sim=sim, seed=seed,
                      testcase=testcase, **runner_kwargs)
