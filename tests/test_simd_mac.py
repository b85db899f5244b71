# amaranth: UnusedElaboratable=no
"""SIMD MAC engine: parameter validation, the beat-level model against ``Format.dot`` (SoftPosit-checked),
and the RTL in the Amaranth simulator (``rtl_*``) against the model (``ref_*``) for the shared engine and
the per-format baseline."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from npegen.hw.simd_mac import SimdMac
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models import formats as F
from npegen.models.simd_mac import SimdMacParams, ref_simd_mac
from npegen.sim.tb_simd_mac import mixed_dot_products

# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(modes=("posit8_0",), word_bits=12), ValueError,
         r"mode 'posit8_0' \(8-bit lanes\) does not tile a 12-bit word"),
        (dict(modes=("posit7",)), ValueError, "unknown format 'posit7'"),
        (dict(modes=("float8",)), ValueError, "unknown format 'float8'"),
        (dict(modes=("posit40_1",)), ValueError, r"Posit nbits must be an integer in \[2, 32\], not 40"),
        (dict(modes=()), ValueError, "modes must name 1 to 8 formats, not 0"),
        (dict(modes=("posit8_0", "posit8_0")), ValueError, "modes must not repeat a format"),
        (dict(modes="posit8_0"), TypeError, "modes must be a sequence of format names, not 'posit8_0'"),
        (dict(stages=0), ValueError, r"stages must be an integer in \[1, 8\], not 0"),
        (dict(stages=2.5), TypeError, r"stages must be an integer in \[1, 8\], not 2\.5"),
        (dict(word_bits=2), ValueError, r"word_bits must be an integer in \[4, 64\], not 2"),
        (dict(acc_guard=-1), ValueError, r"acc_guard must be an integer in \[0, 24\], not -1"),
        (dict(dot=1), TypeError, "dot must be a bool, not 1"),
        (dict(out_format="fp4_e2m1"), ValueError, "out_format must be a posit format"),
        (dict(out_format="posit9"), ValueError, "unknown format 'posit9'"),
    ],
    ids=lambda v: str(v)[:50],
)
def test_invalid_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SimdMacParams(**kwargs)
    with pytest.raises(exc, match=match):
        SimdMac(**kwargs)


def test_default_design_point():
    p = SimdMacParams()
    assert [p.lanes(i) for i in range(4)] == [4, 4, 2, 1]
    assert [p.acc_bits(i) for i in range(4)] == [17, 26, 34, 122]
    assert [p.acc_width(lane) for lane in range(4)] == [122, 34, 26, 26]
    assert p.latency == 2 and SimdMac().latency == 2
    assert SimdMacParams.from_env(p.to_env()) == p
    d = SimdMacParams(dot=True)
    assert d.out_lanes == 1 and d.acc_bits(0) == 17 + 2


# ---- model against Format.dot --------------------------------------------------------------------------------


def _lane_codes(word, lane, n):
    return (np.asarray(word) >> (lane * n)) & ((1 << n) - 1)


@pytest.mark.parametrize("dot", [False, True])
def test_model_equals_format_dot(dot, seed):
    p = SimdMacParams(dot=dot)
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 24)
    results = ref_simd_mac(p, a, b, mode, last)
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert len(results) == ends.size
    for r, s, e in zip(results, starts, ends, strict=True):
        f = p.formats[r.mode]
        lanes = p.lanes(r.mode)
        ca = [_lane_codes(a[s:e + 1], lane, f.nbits) for lane in range(lanes)]
        cb = [_lane_codes(b[s:e + 1], lane, f.nbits) for lane in range(lanes)]
        if dot:
            assert r.code[0] == f.dot(np.stack(ca, 1).ravel(), np.stack(cb, 1).ravel())
        else:
            for lane in range(lanes):
                assert r.code[lane] == f.dot(ca[lane], cb[lane]), (f.name, lane)
        assert not any(r.overflow)


def test_model_saturates_and_flags_overflow():
    p = SimdMacParams(modes=("posit8_0",), acc_guard=0)
    f = F.get("posit8_0")
    big = int(f.encode(64.0))
    word = big | big << 8
    r = ref_simd_mac(p, [word] * 3, [word] * 3, [0, 0, 0], [False, False, True])[0]
    hi = (1 << (p.acc_bits(0) - 1)) - 1
    assert r.acc == (hi, hi) and r.overflow == (True, True)
    maxpos = int(f.encode(64.0))
    assert r.code == (maxpos, maxpos)  # the saturated sum (about 2**21) rounds to maxpos
    assert ref_simd_mac(p, [word], [word], [0], [True])[0].overflow == (False, False)


def test_model_rejects_bad_beats():
    p = SimdMacParams()
    with pytest.raises(ValueError, match=r"mode indices must be in \[0, 3\], got 4"):
        ref_simd_mac(p, [0], [0], [4], [True])
    with pytest.raises(ValueError, match="one length"):
        ref_simd_mac(p, [0, 1], [0], [0], [True])
    with pytest.raises(ValueError, match="16-bit unsigned"):
        ref_simd_mac(p, [1 << 16], [0], [0], [True])


# ---- RTL (Amaranth simulator) against the model ------------------------------------------------------------


def rtl_simd_mac(p: SimdMacParams, a, b, mode, last, clear, *, rng, p_idle=0.2, p_ready=0.7):
    dut = SimdMac.from_params(p)
    out, accepted = [], []
    n = len(a)

    async def producer(ctx):
        t = 0
        while t < n:
            if rng.random() < p_idle:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                continue
            ctx.set(dut.i.payload, {"a": int(a[t]), "b": int(b[t]), "mode": int(mode[t]), "last": int(last[t]),
                                    "clear": int(clear[t])})
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            accepted.append(t)
            t += 1
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(out) < int(np.count_nonzero(last)):
            ready = int(rng.random() < p_ready)
            ctx.set(dut.o.ready, ready)
            _, _, valid, pl = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid and ready:
                out.append((int(pl.word), tuple(int(x) for x in pl.acc), int(pl.nar), int(pl.overflow), int(pl.mode)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert accepted == list(range(n))
    return out


def _as_tuples(results):
    return [(r.word, r.acc, sum(int(x) << k for k, x in enumerate(r.nar)),
             sum(int(x) << k for k, x in enumerate(r.overflow)), r.mode) for r in results]


@pytest.mark.parametrize(
    "p",
    [
        SimdMacParams(),
        SimdMacParams(shared=False),
        SimdMacParams(dot=True, acc_guard=3),
        SimdMacParams(shared=False, dot=True, acc_guard=3),
        SimdMacParams(stages=1, acc_guard=2),
        SimdMacParams(stages=4, acc_guard=2, shared=False),
        SimdMacParams(modes=("posit8_0", "int8", "fp4_e2m1"), acc_guard=4),
        SimdMacParams(modes=("posit8_2", "posit16_2"), word_bits=32, acc_guard=3),
        SimdMacParams(out_format="posit16_1", acc_guard=2),
        SimdMacParams(out_format="posit8_0", dot=True, shared=False, acc_guard=2),
        SimdMacParams(modes=("fp4_e2m1",), out_format="posit16_1", acc_guard=0),
    ],
    ids=lambda p: p.tag,
)
def test_rtl_matches_model(p, seed):
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 12, max_len=40)
    clear = rng.random(a.size) < 0.03
    got = rtl_simd_mac(p, a, b, mode, last, clear, rng=rng)
    assert got == _as_tuples(ref_simd_mac(p, a, b, mode, last, clear))


@pytest.mark.parametrize("p", [SimdMacParams(), SimdMacParams(shared=False), SimdMacParams(dot=True)], ids=str)
def test_verilator_lint_clean(p, tmp_path):
    lint_verilog(write_verilog(SimdMac.from_params(p), tmp_path / "simd_mac.v", name="simd_mac"), top="simd_mac")


def test_clear_drops_the_dot_product_in_progress():
    p = SimdMacParams(modes=("posit8_0",))
    f = F.get("posit8_0")
    one, two = int(f.encode(1.0)), int(f.encode(2.0))
    a = [one, one, two]
    r = ref_simd_mac(p, a, a, [0, 0, 0], [False, False, True], [False, True, False])
    assert len(r) == 1 and r[0].code[0] == int(f.encode(1.0 + 4.0))  # the first beat was dropped


def test_out_format_rounds_to_the_chosen_posit(seed):
    p = SimdMacParams(modes=("fp4_e2m1",), out_format="posit16_1")
    f, out = F.get("fp4_e2m1"), F.get("posit16_1")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 16, 50), rng.integers(0, 16, 50)
    r = ref_simd_mac(p, a, b, np.zeros(50, int), np.r_[np.zeros(49, bool), True])[0]
    exact = float(np.sum(f.decode(a) * f.decode(b)))
    assert r.code[0] == int(out.encode(exact)) and r.code[1:] == (0, 0, 0)
