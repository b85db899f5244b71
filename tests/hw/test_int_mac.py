# amaranth: UnusedElaboratable=no
"""INT MAC lane: parameter validation, the numpy model against a pure-Python oracle, and the
Amaranth-simulator RTL (``rtl_*``) against the model (``ref_*``) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from npegen.hw.int_mac import IntMac
from npegen.models.int_mac import IntMacParams, exhaustive_pairs, random_sequence, ref_int_mac
from npegen.sim.amaranth_stream import stream_idle, stream_send
from npegen.sim.tb_int_mac import (
    IDLE_OPERANDS,
    beats,
    check_drain,
    check_trace,
    drain_cycles,
    overflow_corner_table,
    overflow_then_clear,
)
from npegen.sim.util import Watchdog

# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(width=0), ValueError, r"width must be an integer in \[2, 32\], not 0"),
        (dict(width=33), ValueError, r"width must be an integer in \[2, 32\], not 33"),
        (dict(width=8.0), TypeError, r"width must be an integer in \[2, 32\], not 8\.0"),
        (dict(width="8"), TypeError, r"width must be an integer .* not '8'"),
        (dict(width=True), TypeError, r"width must be an integer .* not True"),
        (dict(width=8, acc_width=15), ValueError, r"acc_width must be an integer in \[16, 64\].* not 15"),
        (dict(width=8, acc_width=65), ValueError, r"acc_width must be an integer in \[16, 64\].* not 65"),
        (dict(width=8, acc_width="24"), TypeError, r"acc_width must be an integer .* not '24'"),
        (dict(overflow="clamp"), ValueError, r"overflow must be one of \('wrap', 'saturate'\), not 'clamp'"),
        (dict(overflow=1), TypeError, r"overflow must be one of .* not 1"),
        (dict(stages=0), ValueError, r"stages must be an integer in \[1, 8\], not 0"),
        (dict(stages=None), TypeError, r"stages must be an integer in \[1, 8\], not None"),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={v[k]!r}" for k in v),
)
def test_invalid_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        IntMacParams(**kwargs)
    with pytest.raises(exc, match=match):
        IntMac(**kwargs)


def test_defaults_and_properties():
    dut = IntMac()
    assert (dut.width, dut.acc_width, dut.overflow_mode, dut.stages, dut.latency) == (8, 24, "wrap", 1, 1)
    assert IntMacParams(width=32).acc_width == 64
    assert IntMacParams(width=8, acc_width=24).safe_beats == 511  # (2**23 - 1) // 2**14
    with pytest.raises(AttributeError):
        dut.width = 4


def test_params_env_round_trip():
    p = IntMacParams(width=6, acc_width=20, overflow="saturate", stages=3)
    assert IntMacParams.from_env(p.to_env()) == p


def test_model_rejects_out_of_range_operands():
    p = IntMacParams(width=4)
    with pytest.raises(ValueError, match=r"a holds values outside the signed 4-bit range \[-8, 7\]"):
        ref_int_mac(p, [8], [1])
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        ref_int_mac(p, [1, 2], [1])


# ---- model vs an independent oracle ------------------------------------------------------------------------


def oracle_int_mac(p: IntMacParams, a, b, valid, clear):
    """Cycle-by-cycle Python-integer reference, written independently of the numpy model."""
    acc, ovf, accs, ovfs = 0, False, [], []
    for x, y, v, c in zip(a, b, valid, clear, strict=True):
        if c:
            acc, ovf = 0, False
        if v:
            exact = acc + int(x) * int(y)
            fits = p.acc_min <= exact <= p.acc_max
            ovf = ovf or not fits
            if p.overflow == "wrap":
                m = 1 << p.acc_width
                acc = (exact + (m >> 1)) % m - (m >> 1)
            else:
                acc = min(max(exact, p.acc_min), p.acc_max)
        accs.append(acc)
        ovfs.append(ovf)
    return accs, ovfs


DESIGNS = [
    IntMacParams(width=8, acc_width=24),
    IntMacParams(width=8, acc_width=16, overflow="wrap"),
    IntMacParams(width=8, acc_width=17, overflow="saturate"),
    IntMacParams(width=4, acc_width=8, overflow="saturate"),
    IntMacParams(width=2, acc_width=4, overflow="wrap"),
    IntMacParams(width=32, acc_width=64, overflow="wrap"),
    IntMacParams(width=32, acc_width=64, overflow="saturate"),
    IntMacParams(width=31, acc_width=63, overflow="wrap"),
    IntMacParams(width=16, acc_width=33, overflow="saturate"),
]


@pytest.mark.parametrize("p", DESIGNS, ids=lambda p: p.tag)
def test_model_matches_oracle_random(p, seed):
    seq = random_sequence(p, 5000, np.random.default_rng(seed), p_clear=0.01, p_extreme=0.5)
    acc, ovf = ref_int_mac(p, **seq)
    o_acc, o_ovf = oracle_int_mac(p, **seq)
    np.testing.assert_array_equal(acc, o_acc)
    np.testing.assert_array_equal(ovf, o_ovf)
    if p.safe_beats < 100:  # narrow accumulators with extreme operands must exercise overflow
        assert ovf.any()


@pytest.mark.parametrize("width", [2, 3, 4, 8])
def test_model_exhaustive_products(width):
    p = IntMacParams(width=width)
    a, b = exhaustive_pairs(width)
    acc, ovf = ref_int_mac(p, a, b, clear=np.ones(a.size, bool))
    np.testing.assert_array_equal(acc, [int(x) * int(y) for x, y in zip(a.tolist(), b.tolist(), strict=True)])
    assert not ovf.any()
    assert a.size == 4**width and len(set(zip(a.tolist(), b.tolist(), strict=True))) == a.size


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    width=st.integers(2, 32),
    extra=st.integers(0, 64),
    overflow=st.sampled_from(["wrap", "saturate"]),
)
def test_model_matches_oracle_hypothesis(data, width, extra, overflow):
    p = IntMacParams(width=width, acc_width=min(2 * width + extra, 64), overflow=overflow)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    n = data.draw(st.integers(0, 40))
    ops = st.lists(st.integers(lo, hi), min_size=n, max_size=n)
    flags = st.lists(st.booleans(), min_size=n, max_size=n)
    a, b, v, c = data.draw(ops), data.draw(ops), data.draw(flags), data.draw(flags)
    acc, ovf = ref_int_mac(p, np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), v, c)
    o_acc, o_ovf = oracle_int_mac(p, a, b, v, c)
    assert acc.tolist() == o_acc and ovf.tolist() == o_ovf


# ---- RTL (Amaranth simulator) vs model ----------------------------------------------------------------------
# The same checks as the cocotb testbench (npegen.sim.tb_int_mac): every cycle compared, a lost beat or an extra
# accumulation fails naming the beat, and every sequence ends with idle cycles that must not change the outputs.


def rtl_int_mac(p: IntMacParams, seq: dict[str, np.ndarray], *, label: str = "sequence", component=None):
    """Run ``seq`` through the Amaranth simulation of ``IntMac`` and check it with
    :func:`~npegen.sim.tb_int_mac.check_trace` (bit for bit against the model, naming the first wrong beat) and
    :func:`~npegen.sim.tb_int_mac.check_drain` (idle cycles after the sequence hold the result). Returns the
    per-beat samples ``(acc, overflow)`` aligned with the model, and the samples before the first beat shows.

    The beats go through :func:`~npegen.sim.amaranth_stream.stream_send` with the lane's payload layout: the
    ``valid = 0`` cycles of ``seq`` are explicit idle cycles that still carry their operands, ``clear`` is a
    sideband input; every edge's outputs are sampled by its ``on_cycle`` hook."""
    dut = IntMac.from_params(p) if component is None else component
    n, lat, drain = seq["a"].size, p.latency, drain_cycles(p)
    accs, ovfs, ready = [], [], []

    def sample(ctx):
        def at(edge):
            accs.append(ctx.get(dut.acc))
            ovfs.append(ctx.get(dut.overflow))
            ready.append(ctx.get(dut.i.ready))
        return at

    async def bench(ctx):
        at = sample(ctx)
        await stream_send(ctx, dut.i, beats(seq), valid=seq["valid"].tolist(),
                          sideband=[(dut.clear, seq["clear"].astype(int).tolist())], on_cycle=at, label=label)
        await stream_idle(ctx, dut.i, lat + drain - 1, payload=IDLE_OPERANDS, on_cycle=at)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert all(ready), f"{label}: i.ready dropped at cycle {ready.index(0)}"
    acc, ovf = np.array(accs, dtype=np.int64), np.array(ovfs, dtype=bool)
    beats_ = slice(lat - 1, lat - 1 + n)
    check_trace(p, seq, acc[beats_], ovf[beats_], label)
    if n:
        check_drain(p, (acc[lat - 2 + n], ovf[lat - 2 + n]), acc[lat - 1 + n:], ovf[lat - 1 + n:], label)
    return acc[beats_], ovf[beats_], accs[:lat - 1]


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_rtl_exhaustive_int4_products(overflow):
    """Every INT4 pair, each beat with ``clear``: the accumulator shows each product alone (= a*b)."""
    p = IntMacParams(width=4, acc_width=8, overflow=overflow)
    a, b = exhaustive_pairs(4)
    seq = {"a": a, "b": b, "valid": np.ones(a.size, bool), "clear": np.ones(a.size, bool)}
    acc, _, _ = rtl_int_mac(p, seq, label="all INT4 pairs")
    np.testing.assert_array_equal(acc, a * b)


RTL_POINTS = [
    IntMacParams(),  # the default design point: w8_a24_wrap_s1
    IntMacParams(width=8, acc_width=16, overflow="wrap", stages=1),
    IntMacParams(width=8, acc_width=17, overflow="saturate", stages=1),
    IntMacParams(width=8, acc_width=16, overflow="saturate", stages=2),
    IntMacParams(width=5, acc_width=10, overflow="wrap", stages=4),
    IntMacParams(width=16, acc_width=64, overflow="saturate", stages=3),
]


@pytest.mark.parametrize("p", RTL_POINTS, ids=lambda p: p.tag)
def test_rtl_random_sequences(p, seed):
    """Random beats, idle cycles, clears and range-end operands, bit for bit against the model; nothing reaches
    the accumulator before ``latency`` edges."""
    seq = random_sequence(p, 1500, np.random.default_rng(seed), p_clear=0.03, p_extreme=0.5)
    seq["clear"][0] = True
    _, _, before = rtl_int_mac(p, seq, label="random sequence")
    assert before == [0] * (p.latency - 1), "nothing may reach the accumulator before `latency` edges"


OVERFLOW_POINTS = RTL_POINTS[:-1] + [IntMacParams(width=8, acc_width=18, overflow="saturate", stages=3),
                                     IntMacParams(width=32, acc_width=64, overflow="saturate", stages=2),
                                     IntMacParams(width=32, acc_width=64, overflow="wrap", stages=1)]


@pytest.mark.parametrize("p", OVERFLOW_POINTS, ids=lambda p: p.tag)
def test_rtl_overflow_corners_and_overflow_then_clear(p):
    """The cocotb corner table (worst-case products past overflow both ways, clears with and without a beat,
    idle cycles with live operands), then one dot product that overflows and is cleared -- with a beat and
    alone -- checked against values computed from the documented semantics with Python integers."""
    seq = overflow_corner_table(p)
    seq["clear"][0] = True
    rtl_int_mac(p, seq, label="overflow corner table")
    case = overflow_then_clear(p)
    assert case is not None, p.tag
    seq, checks = case
    acc, ovf, _ = rtl_int_mac(p, seq, label="overflow then clear")
    for beat, want_acc, want_ovf, what in checks:
        assert (int(acc[beat]), bool(ovf[beat])) == (want_acc, want_ovf), (
            f"beat {beat} ({what}): rtl acc={acc[beat]} overflow={int(ovf[beat])}, expected acc={want_acc} "
            f"overflow={int(want_ovf)}")


def test_rtl_clear_is_ordered_with_the_pipeline():
    """stages=3: a beat, then a clear alone one cycle later. The beat reaches the accumulator first, then the
    clear zeroes it: the clear may neither overtake the beat nor be lost."""
    p = IntMacParams(width=8, acc_width=16, stages=3)
    seq = {"a": np.array([5, 0, 7]), "b": np.array([3, 0, 2]), "valid": np.array([True, False, True]),
           "clear": np.array([False, True, False])}
    acc, _, _ = rtl_int_mac(p, seq)
    assert acc.tolist() == [15, 0, 14]


@pytest.mark.parametrize("stages", [1, 3])
def test_rtl_dot_product_job_is_bounded(stages):
    """A 40-beat dot product; the wait for its final sum is bounded by a Watchdog of ``latency`` cycles after the
    last beat and the sum shows exactly ``latency`` edges after it."""
    p = IntMacParams(stages=stages)
    dut = IntMac.from_params(p)
    k = 40
    got = {}

    async def bench(ctx):
        wd = Watchdog(p.latency, lambda: f"dot-product job of {k} beats: the final sum {k} ({p.tag})")
        await stream_send(ctx, dut.i, [{"a": 1, "b": 1}] * k, sideband=[(dut.clear, [1] + [0] * (k - 1))],
                          watchdog=wd)
        waited = 0
        while ctx.get(dut.acc) != k:
            await stream_idle(ctx, dut.i, 1)
            waited += 1
            wd.tick()
        got["waited"] = waited

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got["waited"] + 1 == p.latency, (f"the final sum showed {got['waited'] + 1} edges after the last beat, "
                                            f"the latency is {p.latency} ({p.tag})")


def test_trace_checker_names_a_lost_and_an_extra_beat():
    """The checker shared by both testbenches says which beat went wrong and how."""
    p = IntMacParams()
    seq = {"a": np.array([2, 3, 4, 5]), "b": np.array([1, 1, 1, 1]), "valid": np.array([True, True, False, True]),
           "clear": np.array([True, False, False, False])}
    with pytest.raises(AssertionError, match=r"first at cycle 1 \(beat 1, lost: the accumulator does not show"):
        check_trace(p, seq, np.array([2, 2, 5, 10]), np.zeros(4, bool), "lost")
    with pytest.raises(AssertionError, match=r"first at cycle 2 \(beat 2, extra: the accumulator changed on an idle"):
        check_trace(p, seq, np.array([2, 5, 9, 10]), np.zeros(4, bool), "extra")
    with pytest.raises(AssertionError, match=r"extra result after the last beat: at idle cycle 2 after the sequence"):
        check_drain(p, (10, False), np.array([10, 11, 11]), np.zeros(3, bool), "drain")
    check_trace(p, seq, np.array([2, 5, 5, 10]), np.zeros(4, bool), "ok")
