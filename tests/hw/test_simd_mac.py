# amaranth: UnusedElaboratable=no
"""SIMD MAC engine: parameter validation; the beat-level model against independent oracles (SoftPosit quires,
exact rationals from the posit rules, ml_dtypes FP4, saturating integers, hand-computed cases; minifloats - FP8
E4M3 / E5M2, BF16, FP16 - from ml_dtypes values, exact ``Fraction`` sums and a round-to-nearest-even oracle over
the value table, and ``Minifloat.dot``); the RTL in the Amaranth simulator (``rtl_*``) against the model (``ref_*``)
for the shared engine and the per-format baseline.

The RTL runs go through the Amaranth-simulator stream pair (:func:`~npegen.sim.amaranth_stream.stream_send`,
:func:`~npegen.sim.amaranth_stream.stream_recv`) with the engine's own layouts. Every wait of the producer and the
consumer is bounded by a :class:`~npegen.sim.util.Watchdog` (the oldest result owed within ``latency`` cycles with
``o.ready`` high); each result is compared with the model as it arrives, so a lost, extra or wrong result fails at
once with a message naming its dot product."""

from __future__ import annotations

import bisect
import dataclasses
from fractions import Fraction
from functools import cache

import ml_dtypes
import numpy as np
import pytest
import softposit as sp
from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth.sim import Simulator
from exact_oracles import frac_posit_values, frac_round  # tests/ is on sys.path

from npegen.hw.simd_mac import SimdMac
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models import formats as F
from npegen.models.simd_mac import DEFAULT_MODES, MAX_ACC_BITS, SimdMacParams, ref_simd_mac
from npegen.sim.amaranth_stream import StreamLog, stream_recv, stream_send
from npegen.sim.tb_simd_mac import (
    as_tuple,
    beat_payloads,
    corner_codes,
    dot_name,
    field_diff,
    lane_words,
    minifloat_special_dots,
    mixed_dot_products,
    reserved_mode_beats,
    result_tuple,
    rounding_tie_beats,
    stall_lengths,
)
from npegen.sim.util import Watchdog, codec

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


def test_minifloat_design_points():
    """Minifloat modes are accepted, with their exact accumulator widths (hand-computed: E4M3 products span
    2**-18 .. 448**2 < 2**18, 36 magnitude bits; E5M2 2**-32 .. 57344**2 < 2**32, 64; BF16 2**-266 .. < 2**256,
    522), and BF16 added to the four default modes stays within the accumulator bound."""
    q = SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"))
    assert [q.lanes(i) for i in range(3)] == [2, 2, 2] and [q.acc_bits(i) for i in range(3)] == [45, 73, 34]
    p = SimdMacParams(modes=DEFAULT_MODES + ("bf16",))
    assert p.acc_bits(4) == 522 + 8 + 1 and p.acc_width(0) == 531
    assert p.acc_bits_total == 531 + 34 + 26 + 26 == 617 <= MAX_ACC_BITS
    assert SimdMacParams(modes=DEFAULT_MODES + ("bf16",), shared=False).acc_bits_total == 893 <= MAX_ACC_BITS
    assert SimdMacParams(modes=("fp16",)).acc_bits(0) == 80 + 9  # 2**-48 .. 65504**2 < 2**32
    with pytest.raises(ValueError, match=r"mode 'bf16' \(16-bit lanes\) does not tile a 8-bit word"):
        SimdMacParams(modes=("bf16",), word_bits=8)
    SimdMac.from_params(q)  # constructs


def test_default_design_point():
    p = SimdMacParams()
    assert [p.lanes(i) for i in range(4)] == [4, 4, 2, 1]
    assert [p.acc_bits(i) for i in range(4)] == [17, 26, 34, 122]
    assert [p.acc_width(lane) for lane in range(4)] == [122, 34, 26, 26]
    assert p.latency == 2 and SimdMac().latency == 2
    assert SimdMacParams.from_env(p.to_env()) == p
    d = SimdMacParams(dot=True)
    assert d.out_lanes == 1 and d.acc_bits(0) == 17 + 2


# ---- the model against independent oracles ------------------------------------------------------------------
#
# Exact values of every code from the format definitions (not from npegen): FP4 through ml_dtypes, Posit(8,0)
# and Posit(16,1) through SoftPosit, Posit(4,1) decoded bit by bit from the posit rules, INT from two's
# complement. The exact sum of a dot product is a Fraction; its rounding comes from SoftPosit's quires, from
# ml_dtypes' float4_e2m1fn cast (exact sums of FP4 products are float32 values: no double rounding), from the
# (n+1)-bit midpoint rule of the posit standard (Posit(4,1)), from saturating Python integers (INT).


@cache
def _spec_values(name: str) -> tuple:
    """Exact value of every code of a named format (None for NaR), from the oracles above."""
    if name == "fp4_e2m1":
        return tuple(Fraction(float(v)) for v in np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn))
    if name == "posit8_0":
        return tuple(None if c == 0x80 else Fraction(float(sp.posit8(bits=c))) for c in range(256))
    if name.startswith("posit"):  # posits SoftPosit has not: the standard's rules
        n, es = _posit_params(name)
        return frac_posit_values(n, es)
    if name == "int8":
        return tuple(Fraction(c - 256 if c >= 128 else c) for c in range(256))
    raise KeyError(name)


def _posit_params(name: str) -> tuple[int, int]:
    n, es = name.removeprefix("posit").split("_")
    return int(n), int(es)


def _value(name: str, code: int) -> Fraction | None:
    if name == "posit16_1":
        return None if code == 0x8000 else Fraction(float(sp.posit16(bits=code)))
    return _spec_values(name)[code]


_QUIRES = {"posit8_0": (sp.quire8, sp.posit8, 8), "posit16_1": (sp.quire16, sp.posit16, 16)}


def oracle_dot(name: str, pairs, out: str | None = None) -> tuple[Fraction, bool, int]:
    """(exact sum, NaR met, code of the sum in ``out`` or the mode's own format) of the code pairs ``pairs``,
    from the oracles above: SoftPosit's quire for Posit(8,0) / Posit(16,1), SoftPosit's double -> posit16
    conversion of an exact double for ``out_format`` Posit(16,1), the posit rule for Posit(4,1) and es=2
    posits, ml_dtypes for FP4, saturating integers for INT8; minifloats with NaN from :func:`_oracle_mf_dot`."""
    if name in _MF_DTYPES:
        return _oracle_mf_dot(name, [(int(x), int(y)) for x, y in pairs], out)
    vals = [(_value(name, int(x)), _value(name, int(y))) for x, y in pairs]
    nar = any(u is None or v is None for u, v in vals)
    exact = Fraction(0) if nar else sum((u * v for u, v in vals), Fraction(0))
    target = out or name
    if target.startswith("posit") and nar:
        return exact, True, 1 << (_posit_params(target)[0] - 1)
    if target in _QUIRES and target == name:
        quire, posit, _ = _QUIRES[name]
        q = quire()
        for x, y in pairs:
            q.qma(posit(bits=int(x)), posit(bits=int(y)))
        return exact, False, int(q.toPosit().v.v)
    if target == "posit16_1":
        assert Fraction(float(exact)) == exact, "not an exact double: the conversion would round twice"
        return exact, False, int(sp.posit16(float(exact)).v.v)
    if target.startswith("posit"):  # Posit(4,1), es=2: the posit rule
        return exact, False, frac_round(exact, *_posit_params(target))
    if target == "fp4_e2m1":
        f32 = np.float32(float(exact))
        assert Fraction(float(f32)) == exact, "an FP4 sum that is not a float32: ml_dtypes would round twice"
        return exact, False, int(np.array([f32]).astype(ml_dtypes.float4_e2m1fn).view(np.uint8)[0])
    if target == "int8":
        return exact, False, int(max(-128, min(127, exact))) & 0xFF  # sums of integer products are integers
    raise KeyError(target)


# Minifloats: every code's value from ml_dtypes (numpy float16 for FP16), exact Fraction sums, and round to
# nearest even over the sorted table of finite values (ties to the even code), closed by the next value of the top
# binade: a sum at or past its midpoint overflows to ml_dtypes' own overflow code (+-Inf, or NaN for E4M3). NaN is
# ml_dtypes' canonical NaN; Inf products and their rules are IEEE 754's (NaN operand, Inf * 0, +Inf + -Inf: NaN).

_MF_DTYPES = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2, "bf16": ml_dtypes.bfloat16,
              "fp16": np.float16}


@cache
def _mf(name: str) -> dict:
    t = _MF_DTYPES[name]
    bits = 8 * np.dtype(t).itemsize
    ut = np.uint8 if bits == 8 else np.uint16
    with np.errstate(invalid="ignore"):  # NaN codes
        vals = np.arange(1 << bits).astype(ut).view(t).astype(np.float64)
    rows = sorted((float(v), c) for c, v in enumerate(vals[: 1 << (bits - 1)]) if np.isfinite(v))
    (vmax, cmax), (vprev, _) = rows[-1], rows[-2]
    rows.append((2 * vmax - vprev, cmax + 1))  # the virtual next value: overflow

    def code(x: float) -> int:
        with np.errstate(over="ignore"):
            return int(np.array([x], np.float32).astype(t).view(ut)[0])

    return {"vals": vals, "tv": np.array([v for v, _ in rows]), "tc": np.array([c for _, c in rows]),
            "tf": [Fraction(v) for v, _ in rows], "nan": code(np.nan), "bits": bits,
            "inf": code(np.inf) if np.isinf(vals).any() else None, "over": (code(2 * vmax), code(-2 * vmax))}


def mf_round(name: str, x: Fraction) -> int:
    """Code of the exact ``x``: +0 for 0, else round to nearest even over the value table."""
    if x == 0:
        return 0
    t = _mf(name)
    a, neg = abs(x), x < 0
    i = bisect.bisect_right(t["tf"], a) - 1
    if i < len(t["tf"]) - 1:
        lo, hi = t["tf"][i], t["tf"][i + 1]
        c = int(t["tc"][i] if a == lo or a < (lo + hi) / 2 or (a == (lo + hi) / 2 and t["tc"][i] % 2 == 0)
                else t["tc"][i + 1])
        if c != t["tc"][-1]:
            return c | int(neg) << (t["bits"] - 1)
    return t["over"][int(neg)]


def mf_round_f64(name: str, x: np.ndarray) -> np.ndarray:
    """:func:`mf_round` of float64 values that are exact (single products of 8-bit codes are): every table value and
    midpoint is exact in float64 too, so the comparisons are exact."""
    t = _mf(name)
    tv, tc = t["tv"], t["tc"]
    a, neg = np.abs(x), x < 0
    i = np.clip(np.searchsorted(tv, a, side="right") - 1, 0, len(tv) - 2)
    lo, hi = tv[i], tv[i + 1]
    mid = (lo + hi) / 2
    c = np.where((a == lo) | (a < mid) | ((a == mid) & (tc[i] % 2 == 0)), tc[i], tc[i + 1])
    over = (c == tc[-1]) | (a >= tv[-1])
    out = np.where(over, np.where(neg, t["over"][1], t["over"][0]), c | (neg.astype(np.int64) << (t["bits"] - 1)))
    return np.where(x == 0, 0, out)


def _oracle_mf_dot(name: str, pairs, out: str | None) -> tuple[Fraction, bool, int]:
    """(exact sum of the finite products, NaN / NaR flag, code) of minifloat code pairs."""
    t = _mf(name)
    nan = pinf = ninf = False
    exact = Fraction(0)
    for x, y in pairs:
        u, v = float(t["vals"][x]), float(t["vals"][y])
        if np.isnan(u) or np.isnan(v):
            nan = True
        elif np.isinf(u) or np.isinf(v):
            if u == 0 or v == 0:
                nan = True
            elif (u < 0) != (v < 0):
                ninf = True
            else:
                pinf = True
        else:
            exact += Fraction(u) * Fraction(v)
    nar = nan or (pinf and ninf)
    if out is not None:  # a posit: no Inf
        nar = nar or pinf or ninf
        n, es = _posit_params(out)
        if nar:
            return exact, True, 1 << (n - 1)
        if out == "posit16_1":
            assert Fraction(float(exact)) == exact, "not an exact double: the conversion would round twice"
            return exact, False, int(sp.posit16(float(exact)).v.v)
        return exact, False, frac_round(exact, n, es)
    if nar:
        return exact, True, t["nan"]
    if pinf or ninf:
        return exact, False, t["inf"] | int(ninf) << (t["bits"] - 1)
    return exact, False, mf_round(name, exact)


def _lane_codes(word, lane, n):
    return (np.asarray(word) >> (lane * n)) & ((1 << n) - 1)


def _check_against_oracle(p: SimdMacParams, a, b, mode, last, results) -> int:
    """Every result lane of ``results`` (from :func:`ref_simd_mac`) against :func:`oracle_dot` of its code
    pairs: the raw accumulator (exact sum over the mode's LSB), the NaR flag and the rounded code. Returns the
    number of lanes checked. Dot products must not overflow and must keep one mode."""
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert len(results) == ends.size
    checked = 0
    for r, s, e in zip(results, starts, ends, strict=True):
        f = p.formats[r.mode]
        assert set(np.asarray(mode[s:e + 1]).tolist()) == {r.mode}
        lanes = p.lanes(r.mode)
        ca = [_lane_codes(a[s:e + 1], lane, f.nbits).tolist() for lane in range(lanes)]
        cb = [_lane_codes(b[s:e + 1], lane, f.nbits).tolist() for lane in range(lanes)]
        groups = ([[pr for lane in range(lanes) for pr in zip(ca[lane], cb[lane], strict=True)]] if p.dot
                  else [list(zip(ca[lane], cb[lane], strict=True)) for lane in range(lanes)])
        for lane, pairs in enumerate(groups):
            exact, nar, code = oracle_dot(f.name, pairs, p.out_format)
            where = f"{f.name} lane {lane}, beats {s}..{e}"
            assert r.nar[lane] == nar, where
            assert r.code[lane] == code, f"{where}: model {r.code[lane]:#x}, oracle {code:#x}"
            if not nar:
                assert Fraction(r.acc[lane]) == exact / Fraction(2) ** (2 * f.lsb_exp), where
            assert not r.overflow[lane], where
            checked += 1
    return checked


@pytest.mark.parametrize("p", [SimdMacParams(), SimdMacParams(dot=True),
                               SimdMacParams(modes=("posit8_0", "int8", "fp4_e2m1"), acc_guard=6),
                               SimdMacParams(modes=("fp4_e2m1", "posit4_1", "int8"), out_format="posit16_1"),
                               SimdMacParams(modes=("posit8_2", "posit16_2"), word_bits=32, acc_guard=6),
                               SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0")),
                               SimdMacParams(modes=("fp8_e5m2", "fp8_e4m3"), dot=True),
                               SimdMacParams(modes=("fp8_e4m3", "posit8_0"), out_format="posit16_1"),
                               SimdMacParams(modes=("bf16", "fp16", "fp8_e5m2"), acc_guard=6)],
                         ids=lambda p: p.tag)
def test_model_against_oracles(p, seed):
    """Mixed-mode dot products (1..40 beats): every lane's accumulator, NaR flag and rounded code equal the
    independent oracles (exact rationals, SoftPosit quires, ml_dtypes, saturating integers)."""
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 40, max_len=40)
    assert _check_against_oracle(p, a, b, mode, last, ref_simd_mac(p, a, b, mode, last)) >= 40


@pytest.mark.parametrize("name", ["fp4_e2m1", "posit4_1", "posit8_0", "int8"])
def test_model_every_single_product_against_oracles(name):
    """Every operand pair of the 4- and 8-bit modes (exhaustive: <= 65,536 pairs, on every lane) as a one-beat
    dot product: the accumulator is the exact product (double products of oracle values are exact here), NaR
    follows a NaR operand, and the code is the oracle's rounding of the product (SoftPosit's posit8 multiply,
    ml_dtypes, the posit rule for Posit(4,1), saturating integers)."""
    p = SimdMacParams(modes=(name,), acc_guard=0)
    f = p.formats[0]
    n = f.nbits
    codes = np.arange(1 << n)
    pa, pb = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    lanes = p.lanes(0)
    a = sum(np.roll(pa, lane * 7).astype(np.int64) << (lane * n) for lane in range(lanes))
    b = sum(np.roll(pb, lane * 7).astype(np.int64) << (lane * n) for lane in range(lanes))
    results = ref_simd_mac(p, a, b, np.zeros(pa.size, int), np.ones(pa.size, bool))
    vals = np.array([np.nan if v is None else float(v) for v in (_value(name, c) for c in range(1 << n))])
    if name == "posit8_0":
        table = np.array([[(sp.posit8(bits=x) * sp.posit8(bits=y)).v.v for y in range(256)] for x in range(256)])
    for lane in range(lanes):
        ca, cb = np.roll(pa, lane * 7), np.roll(pb, lane * 7)
        prod = vals[ca] * vals[cb] + 0.0  # exact (significands of <= 8 bits); a sum from +0: no -0
        nar = np.isnan(prod)
        acc = np.array([r.acc[lane] for r in results])
        code = np.array([r.code[lane] for r in results])
        np.testing.assert_array_equal(np.array([r.nar[lane] for r in results]), nar)
        np.testing.assert_array_equal(acc[~nar], np.ldexp(prod[~nar], -2 * f.lsb_exp).astype(np.int64))
        if name == "posit8_0":
            want = table[ca, cb]
        elif name == "fp4_e2m1":
            want = prod.astype(np.float32).astype(ml_dtypes.float4_e2m1fn).view(np.uint8)  # exact in float32
        elif name == "int8":
            want = np.clip(prod, -128, 127).astype(np.int64) & 0xFF
        else:
            want = np.array([8 if m else frac_round(Fraction(float(x)), 4, 1) for x, m in zip(prod, nar,
                                                                                                strict=True)])
        np.testing.assert_array_equal(code, want, err_msg=f"{name} lane {lane}")


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2"])
def test_model_every_fp8_product_against_oracles(name):
    """Every pair of FP8 codes (65,536, on both lanes, lane 1 in another order) as a one-beat dot product, against
    two oracles: ml_dtypes' values multiplied in float64 (exact; IEEE 754 gives the NaN / Inf cases) and rounded by
    :func:`mf_round_f64`, and ``Minifloat.dot``. The NaN flag follows a NaN product (NaN operand, Inf times 0);
    the accumulator holds the finite product (nothing for Inf)."""
    p = SimdMacParams(modes=(name,), acc_guard=0)
    f = p.formats[0]
    codes = np.arange(256)
    pa, pb = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    la, lb = np.roll(pa, 7), np.roll(pb, 300)
    results = ref_simd_mac(p, pa | la << 8, pb | lb << 8, np.zeros(pa.size, int), np.ones(pa.size, bool))
    vals = _mf(name)["vals"]
    for lane, (ca, cb) in enumerate(((pa, pb), (la, lb))):
        with np.errstate(invalid="ignore"):
            prod = vals[ca] * vals[cb]
        nan = np.isnan(prod)
        want = np.where(nan, _mf(name)["nan"], mf_round_f64(name, np.where(nan, 0.0, prod)))
        code = np.array([r.code[lane] for r in results])
        np.testing.assert_array_equal(code, want, err_msg=f"{name} lane {lane} vs the ml_dtypes / exact oracle")
        np.testing.assert_array_equal(code, f.dot(ca[:, None], cb[:, None]), err_msg=f"{name} lane {lane} vs dot")
        np.testing.assert_array_equal(np.array([r.nar[lane] for r in results]), nan)
        fin = np.where(np.isfinite(prod), prod, 0.0)
        # E5M2 products reach 2**64 LSBs: compare Python integers (the float64 values are exact integers)
        assert [r.acc[lane] for r in results] == [int(v) for v in np.ldexp(fin, -2 * f.lsb_exp)]
        assert not any(r.overflow[lane] for r in results)
    assert (code == f.nar_code).any() and (not f.has_inf or (code == f.inf_code).any())


# Hand-written minifloat corners: (mode, lane-0 (a, b) code pairs, beat that clears or None, code, NaN flag). Lane 1
# gets the same pairs with a and b swapped (same result; Inf * 0 as 0 * Inf). E5M2: 1 = 0x3C, 2 = 0x40,
# -1 = 0xBC, -0.5 = 0xB8, Inf 0x7C, NaN 0x7E (canonical) / 0x7D / 0xFF, max 0x7B = 57344, 4096 = 0x6C (half the top
# step: max + 4096 is the overflow tie), 2**-16 = 0x01. E4M3: 1 = 0x38, 2 = 0x40, 0.5 = 0x30, 16 = 0x58, NaN 0x7F /
# 0xFF, max 0x7E = 448 (448 + 16 is the tie between 448, even, and the NaN), 2**-9 = 0x01, 2**-6 = 0x08.
MF_CORNERS = [
    ("fp8_e5m2", [(0x7E, 0x3C)], None, 0x7E, True),  # NaN operand
    ("fp8_e5m2", [(0xFF, 0x00)], None, 0x7E, True),  # negative NaN times 0: the canonical NaN
    ("fp8_e5m2", [(0x3C, 0x7D), (0x3C, 0x3C)], None, 0x7E, True),  # NaN of another payload, then a finite product
    ("fp8_e5m2", [(0x7C, 0x40)], None, 0x7C, False),  # Inf * 2
    ("fp8_e5m2", [(0x7C, 0xBC)], None, 0xFC, False),  # Inf * -1
    ("fp8_e5m2", [(0xFC, 0xB8)], None, 0x7C, False),  # -Inf * -0.5
    ("fp8_e5m2", [(0x7C, 0x00)], None, 0x7E, True),  # Inf * 0
    ("fp8_e5m2", [(0x80, 0xFC)], None, 0x7E, True),  # -0 * -Inf
    ("fp8_e5m2", [(0x7C, 0x3C), (0xFC, 0x3C)], None, 0x7E, True),  # +Inf and -Inf
    ("fp8_e5m2", [(0x7C, 0x3C), (0x7C, 0x40), (0x7B, 0x7B)], None, 0x7C, False),  # Infs of one sign win
    ("fp8_e5m2", [(0x7C, 0x7C)], None, 0x7C, False),  # Inf * Inf
    ("fp8_e5m2", [(0xFC, 0x7C)], None, 0xFC, False),  # -Inf * Inf
    ("fp8_e5m2", [(0x7C, 0x3C), (0x7E, 0x3C)], None, 0x7E, True),  # Inf then NaN
    ("fp8_e5m2", [(0x7B, 0x7B)], None, 0x7C, False),  # max * max: a finite sum beyond max rounds to Inf, no flag
    ("fp8_e5m2", [(0x7B, 0xFB)], None, 0xFC, False),  # max * -max: -Inf
    ("fp8_e5m2", [(0x7B, 0x3C), (0x6C, 0x3C)], None, 0x7C, False),  # max + 4096: the overflow tie goes to Inf
    ("fp8_e5m2", [(0x7B, 0x3C), (0x6C, 0x3C), (0x01, 0xBC)], None, 0x7B, False),  # just below it: max
    ("fp8_e5m2", [(0x7B, 0x3C), (0x7B, 0xBC)], None, 0x00, False),  # max - max: +0
    ("fp8_e5m2", [(0x01, 0x01)], None, 0x00, False),  # 2**-32 rounds to +0
    ("fp8_e5m2", [(0x01, 0x81)], None, 0x80, False),  # -2**-32 rounds to -0
    ("fp8_e5m2", [(0x01, 0x3C)] * 3, None, 0x03, False),  # subnormal sum 3 * 2**-16
    ("fp8_e5m2", [(0x03, 0x38)], None, 0x02, False),  # 1.5 * 2**-16: the subnormal tie goes to even 2 * 2**-16
    ("fp8_e5m2", [(0x80, 0x80)], None, 0x00, False),  # -0 * -0
    ("fp8_e5m2", [(0x80, 0x3C)], None, 0x00, False),  # -0 * 1: an accumulated zero is +0
    ("fp8_e5m2", [(0x7C, 0x3C), (0x3C, 0x3C)], 1, 0x3C, False),  # Inf, then clear: 1
    ("fp8_e5m2", [(0x7C, 0x3C), (0xFC, 0x3C), (0x40, 0x3C)], 2, 0x40, False),  # +-Inf (NaN), then clear: 2
    ("fp8_e5m2", [(0x7E, 0x3C), (0xBC, 0x3C)], 1, 0xBC, False),  # NaN, then clear: -1
    ("fp8_e4m3", [(0x7F, 0x38)], None, 0x7F, True),  # NaN operand
    ("fp8_e4m3", [(0xFF, 0x00)], None, 0x7F, True),  # negative NaN times 0
    ("fp8_e4m3", [(0x38, 0x38), (0x38, 0x7F)], None, 0x7F, True),  # NaN after a finite product
    ("fp8_e4m3", [(0x7E, 0x7E)], None, 0x7F, False),  # max * max: no Inf, a finite overflow is NaN, no flag
    ("fp8_e4m3", [(0x7E, 0xFE)], None, 0xFF, False),  # max * -max: NaN with the sign (as ml_dtypes)
    ("fp8_e4m3", [(0x7E, 0x38), (0x58, 0x38)], None, 0x7E, False),  # 448 + 16: the tie goes to even 448
    ("fp8_e4m3", [(0x7E, 0x38), (0x58, 0x38), (0x01, 0x01)], None, 0x7F, False),  # just past it: NaN
    ("fp8_e4m3", [(0x01, 0x01)], None, 0x00, False),  # 2**-18 rounds to +0
    ("fp8_e4m3", [(0x01, 0x81)], None, 0x80, False),  # and to -0
    ("fp8_e4m3", [(0x08, 0x30)], None, 0x04, False),  # smallest normal / 2: subnormal 4 * 2**-9
    ("fp8_e4m3", [(0x03, 0x30)], None, 0x02, False),  # 1.5 * 2**-9: tie to even
    ("fp8_e4m3", [(0x38, 0x38)] * 3, None, 0x44, False),  # 3
    ("fp8_e4m3", [(0x80, 0x80), (0x80, 0x38)], None, 0x00, False),  # -0 products: +0
    ("fp8_e4m3", [(0x7F, 0x38), (0x40, 0x40)], 1, 0x48, False),  # NaN, then clear: 4
    ("posit8_0", [(0x40, 0x40)], None, 0x40, False),  # mode switches around the FP8 dot products
    ("posit8_0", [(0x80, 0x40)], None, 0x80, True),
]
MF_CORNER_POINT = SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), acc_guard=4)


def corner_beats(p: SimdMacParams, table) -> tuple:
    """The rows of ``table`` as dot products in turn, the mode changing between most of them (rows of the modes
    interleaved): ``(a, b, mode, last, clear)``."""
    by_mode = {}
    for row in table:
        by_mode.setdefault(row[0], []).append(row)
    order = [r for group in zip(*[iter(rows) for rows in by_mode.values()], strict=False) for r in group]
    order += [r for r in table if r not in order]
    a, b, mode, last, clear = [], [], [], [], []
    for name, pairs, clr, _, _ in order:
        n = p.formats[p.modes.index(name)].nbits
        for k, (x, y) in enumerate(pairs):
            a.append(x | y << n)
            b.append(y | x << n)
            mode.append(p.modes.index(name))
            last.append(k == len(pairs) - 1)
            clear.append(k == clr)
    return (np.array(a), np.array(b), np.array(mode), np.array(last), np.array(clear)), order


def test_model_minifloat_corner_table():
    """The hand-written corners (NaN operands, +-Inf times finite, Inf times 0, +Inf and -Inf in one dot product,
    max * max to Inf (E5M2) / NaN (E4M3), overflow ties, subnormals and their ties, -0, clear after NaN / Inf,
    mode switches to Posit(8,0)): the model's codes and flags on both lanes, ``Minifloat.dot`` of the pairs after
    the clear, and the ml_dtypes / exact oracle all give the table's values."""
    p = MF_CORNER_POINT
    beats, order = corner_beats(p, MF_CORNERS)
    results = ref_simd_mac(p, *beats)
    assert len(results) == len(order)
    for r, (name, pairs, clr, code, nar) in zip(results, order, strict=True):
        f = p.formats[r.mode]
        kept = pairs[clr or 0:]
        where = f"{name} {[(hex(x), hex(y)) for x, y in pairs]}"
        assert r.code[:2] == (code, code) and r.nar == (nar, nar) and r.overflow == (False, False), (where, r)
        assert int(f.dot(np.array([x for x, _ in kept]), np.array([y for _, y in kept]))) == code, where
        assert oracle_dot(name, kept)[1:] == (nar, code), where


MF_OUT_CORNERS = [  # E5M2 read out as Posit(16,1), which has no Inf: Inf is NaR
    ("fp8_e5m2", [(0x7C, 0x3C)], None, 0x8000, True),
    ("fp8_e5m2", [(0xFC, 0x3C), (0x3C, 0x3C)], None, 0x8000, True),
    ("fp8_e5m2", [(0x7E, 0x3C)], None, 0x8000, True),
    ("fp8_e5m2", [(0x7B, 0x7B)], None, 0x7FFF, False),  # 2**31.6 saturates to maxpos 2**28
    ("fp8_e5m2", [(0x3C, 0x3C)], None, 0x4000, False),
    ("fp8_e5m2", [(0x7C, 0x3C), (0x40, 0x3C)], 1, 0x5000, False),  # Inf, then clear: 2
    ("posit8_0", [(0x40, 0x40)], None, 0x4000, False),
]
MF_OUT_POINT = SimdMacParams(modes=("fp8_e5m2", "posit8_0"), out_format="posit16_1", acc_guard=2)


def test_model_minifloat_inf_read_out_as_posit():
    """``out_format`` a posit: an E5M2 lane with an Inf product reads out as NaR with the flag up (hand-written)."""
    p = MF_OUT_POINT
    beats, order = corner_beats(p, MF_OUT_CORNERS)
    for r, (name, pairs, clr, code, nar) in zip(ref_simd_mac(p, *beats), order, strict=True):
        assert r.code[:2] == (code, code) and r.nar == (nar, nar), (name, pairs, r)
        assert oracle_dot(name, pairs[clr or 0:], "posit16_1")[1:] == (nar, code)


@pytest.mark.parametrize("p", [SimdMacParams(), SimdMacParams(modes=("posit8_2", "posit16_2"), word_bits=32),
                               SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "bf16"))],
                         ids=lambda p: p.tag)
def test_model_rounding_ties_against_oracles(p, seed):
    """Sums on every mode's rounding midpoints and one smallest product either side (the cases where only the
    tie rule and the sticky bit decide): accumulators, NaR and codes equal the oracles."""
    rng = np.random.default_rng(seed)
    a, b, mode, last = rounding_tie_beats(p, rng)
    assert _check_against_oracle(p, a, b, mode, last, ref_simd_mac(p, a, b, mode, last)) >= 4 * 12


def test_model_posit4_ties_round_to_even_against_the_spec():
    """Exact ties of Posit(4,1) sums (values 1/16, 1/4, 1/2, 1, 2, 4, 16; the ties are the 5-bit codes between
    neighbours): 1.5 (between 1 = 0b0100 and 2 = 0b0101) goes down to the even code, 3 (between 2 and 4 =
    0b0110) goes up, and 8 (between 4 and 16 = 0b0111, a geometric midpoint) goes down to 4; just past a tie
    rounds away from it. Hand-computed, and the spec oracle agrees."""
    p = SimdMacParams(modes=("posit4_1",), acc_guard=4)
    one, half, two, four, sixteenth = 0b0100, 0b0011, 0b0101, 0b0110, 0b0001
    beats = [(one, one, 0), (half, one, 1),  # 1.5
             (two, one, 0), (one, one, 1),  # 3
             (four, two, 1),  # 8
             (four, two, 0), (sixteenth, sixteenth, 1)]  # 8 + 1/256
    a, b, last = (np.array([x[i] for x in beats]) for i in range(3))
    got = [r.code[0] for r in ref_simd_mac(p, a, b, np.zeros(a.size, int), last.astype(bool))]
    sums = [Fraction(3, 2), Fraction(3), Fraction(8), Fraction(8) + Fraction(1, 256)]
    assert got == [0b0100, 0b0110, 0b0110, 0b0111]
    assert got == [frac_round(x, 4, 1) for x in sums]


def test_model_saturates_and_flags_overflow():
    """Hand-computed: Posit(8,0) with no guard bits saturates at +-(2**33 - 1) LSBs and sets the flag."""
    p = SimdMacParams(modes=("posit8_0",), acc_guard=0)
    f = F.get("posit8_0")
    big = int(f.encode(64.0))
    word = big | big << 8
    r = ref_simd_mac(p, [word] * 3, [word] * 3, [0, 0, 0], [False, False, True])[0]
    assert p.acc_bits(0) == 26  # 64 * 64 = 2**12 is 2**24 LSBs of 2**-12: 25 magnitude bits and a sign
    hi = (1 << 25) - 1
    assert r.acc == (hi, hi) and r.overflow == (True, True)
    assert r.code == (big, big)  # the saturated sum (about 2**13) rounds to maxpos
    neg = int(f.encode(-64.0))
    r = ref_simd_mac(p, [word] * 3, [neg | neg << 8] * 3, [0, 0, 0], [False, False, True])[0]
    assert r.acc == (-(1 << 25), -(1 << 25)) and r.overflow == (True, True)
    assert ref_simd_mac(p, [word], [word], [0], [True])[0].overflow == (False, False)


def test_model_clear_drops_overflow_and_nar():
    """Hand-computed: overflow, then NaR, then a clear beat, in one Posit(8,0) dot product: the result holds
    only the products from the clear on, with both flags down; without the clear both stay up."""
    p = SimdMacParams(modes=("posit8_0",), acc_guard=0)
    big, one, two, nar = 0x7F, 0x40, 0x60, 0x80  # 64 (maxpos), 1, 2, NaR
    a = [big, big, big, nar, one, two]
    last = [False] * 5 + [True]
    clear = [False, False, False, False, True, False]
    r = ref_simd_mac(p, a, a, [0] * 6, last, clear)[0]
    assert r.overflow[0] is False and r.nar[0] is False
    assert r.acc[0] == 5 << 12 and r.code[0] == 0x72  # 1*1 + 2*2 = 5 = 0b0_1110_010, LSB 2**-12
    r = ref_simd_mac(p, a, a, [0] * 6, last)[0]
    assert r.overflow[0] is True and r.nar[0] is True and r.code[0] == nar


def test_model_reserved_mode_indices():
    """Hand-computed, three modes (index 3 reserved): a reserved beat adds nothing; a reserved last beat ends
    the dot product with an all-zero result carrying index 3; a reserved clear beat still clears."""
    p = SimdMacParams(modes=("posit8_0", "int8", "fp4_e2m1"))
    assert p.reserved_modes == (3,) and SimdMacParams().reserved_modes == ()
    i2, i3 = 2, 3  # int8 codes on lane 0
    r = ref_simd_mac(p, [i2, 0x7F7F, i3, i2, i2, i3], [i3, 0x7F7F, i3, i2, i2, i2], [1, 3, 1, 1, 3, 1],
                     [False, False, True, False, True, True])
    assert [x.mode for x in r] == [1, 3, 1]
    assert r[0].acc[:2] == (6 + 9, 0) and r[0].code[:2] == (15, 0)  # the reserved beat between added nothing
    assert r[1].acc == (0, 0, 0, 0) and r[1].word == 0 and not any(r[1].nar) and not any(r[1].overflow)
    assert r[2].acc[0] == 6  # the reserved last beat dropped the 2*2 before it
    r = ref_simd_mac(p, [i2, i2, i3], [i2, i2, i3], [1, 3, 1], [False, False, True], [False, True, False])
    assert r[0].acc[0] == 9  # the reserved clear beat dropped 2*2 + 2*2
    with pytest.raises(ValueError, match=r"mode indices must be in \[0, 3\], got 4"):
        ref_simd_mac(p, [0], [0], [4], [True])


def test_model_rejects_bad_beats():
    p = SimdMacParams()
    with pytest.raises(ValueError, match=r"mode indices must be in \[0, 3\], got 4"):
        ref_simd_mac(p, [0], [0], [4], [True])
    with pytest.raises(ValueError, match="one length"):
        ref_simd_mac(p, [0, 1], [0], [0], [True])
    with pytest.raises(ValueError, match="16-bit unsigned"):
        ref_simd_mac(p, [1 << 16], [0], [0], [True])


# ---- RTL (Amaranth simulator) against the model ------------------------------------------------------------


def rtl_simd_mac(p: SimdMacParams, a, b, mode, last, clear, *, rng, p_idle=0.2, p_ready=0.7, ready=None,
                 label="run"):
    """Run the beats through :class:`SimdMac` in the Amaranth simulator and return the results taken from ``o``
    (:func:`~npegen.sim.tb_simd_mac.result_tuple` of each), comparing each with :func:`ref_simd_mac` as it arrives.

    The producer (:func:`~npegen.sim.amaranth_stream.stream_send`, the engine's input layout) idles before a beat
    with chance ``p_idle``; the consumer (:func:`~npegen.sim.amaranth_stream.stream_recv`) drives ``o.ready`` high
    with chance ``p_ready``, or from the iterator ``ready`` (one value per cycle). Every wait is bounded: the
    producer's watchdog counts only the edges at which ``o.ready`` was high (``i.ready`` is documented low only
    while a result waits with ``o.ready`` low); the oldest result owed must come within ``latency`` edges with
    ``o.ready`` high of the acceptance of its ``last`` beat or the taking of the result before it, whichever is later
    (so a lost or late result fails naming its dot product), and the consumer's own watchdog allows ``latency + 1``
    edges in which nothing moved although the bench held nothing back. A wrong result fails as it is taken, naming
    its dot product; a result nobody owes (``o.valid`` with every accepted ``last`` beat answered) fails at once as
    extra, also while ``o.ready`` is low; after the last result ``o.ready`` stays high for ``latency + 3`` edges in
    which nothing more may come. Also returns, in ``stats``, the edges at which beats were accepted and results taken,
    the number of results that waited with ``o.ready`` low and the longest such wait."""
    dut = SimdMac.from_params(p)
    clear = np.asarray(clear, bool)
    want = [as_tuple(r) for r in ref_simd_mac(p, a, b, mode, last, clear)]
    lasts = np.asarray(last, bool).tolist()
    ends = np.flatnonzero(lasts).tolist()
    payloads = beat_payloads(a, b, mode, lasts, clear)
    log, rlog = StreamLog(), StreamLog()  # the producer's; the consumer's (taken, blocked and upstream edges)
    owed = {"seen": 0, "n": 0}  # upstream beats counted; last beats among them
    got = {}

    def name(k: int) -> str:
        return f"{label}: {dot_name(p, mode, ends, k)}"

    def check(k: int, beat: dict) -> None:  # every result against the model as it is taken
        res = result_tuple(beat)
        if k >= len(want) or res != want[k]:
            diff = field_diff(res, want[k]) if k < len(want) else res
            raise AssertionError(f"{name(k)} differs from the model: (rtl, model) {diff} ({p.tag}; a lost or "
                                 "repeated result shifts every later one)")

    async def producer(ctx):
        await stream_send(ctx, dut.i, payloads, idle_prob=p_idle, rng=rng, downstream=dut.o, watchdog=p.latency,
                          log=log, label=f"{label}: i ({p.tag})")

    async def consumer(ctx):
        # the oldest result owed comes within `latency` edges with o.ready high of its last beat or the result before
        due = Watchdog(p.latency, lambda: f"{name(len(rlog.edges))}: awaited, {len(rlog.accepted)} of "
                                          f"{len(payloads)} beats accepted ({p.tag})")

        def watch(edge: int) -> None:  # after every edge: late results, and extra ones at once
            took = bool(rlog.edges) and rlog.edges[-1] == edge
            progress = took
            while owed["seen"] < len(rlog.accepted):  # upstream beats taken, at this edge at the latest
                if lasts[owed["seen"]]:
                    progress |= len(rlog.edges) == owed["n"]  # the oldest result owed: its wait starts now
                    owed["n"] += 1
                owed["seen"] += 1
            if progress:
                due.progress()
            elif ctx.get(dut.o.ready) and len(rlog.edges) < owed["n"]:
                due.tick()
            if ctx.get(dut.o.valid) and len(rlog.edges) >= owed["n"]:  # o.valid for the next edge, nothing owed
                raise AssertionError(f"{label}: extra result after edge {edge}: the {owed['n']} last beats accepted "
                                     f"so far (of {len(ends)}) were all answered ({p.tag})")

        wd = Watchdog(p.latency + 1, lambda: f"{name(len(rlog.edges))}: awaited after {len(rlog.accepted)} of "
                                             f"{len(payloads)} beats accepted ({p.tag})")
        got["out"] = await stream_recv(ctx, dut.o, len(want), stall_prob=1 - p_ready, ready_pattern=ready, rng=rng,
                                       watchdog=wd, upstream=dut.i, upstream_log=log, drain=p.latency + 3,
                                       on_beat=check, on_cycle=watch, log=rlog, label=label, item="result",
                                       names=lambda k, _n: dot_name(p, mode, ends, k))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    out = [result_tuple(r) for r in got["out"]]
    stalls = stall_lengths(rlog.blocked)
    stats = {"accept": log.accepted, "result": rlog.edges, "stalled": len(stalls), "max_stall": max(stalls, default=0)}
    assert len(stats["accept"]) == len(payloads) and out == want
    return out, stats


def test_bench_packs_with_the_engine_layouts(seed):
    """The bench's packing: lane words are the mode's ``ArrayLayout(unsigned(nbits), lanes)`` (as LayoutCodec packs
    it; codes outside a lane refused), beat payloads the engine's own ``i`` layout, and result tuples / stall runs
    read back as the bench compares them."""
    p = SimdMacParams()
    rng = np.random.default_rng(seed)
    for mi, f in enumerate(p.formats):
        lanes = p.lanes(mi)
        codes = rng.integers(0, 1 << f.nbits, (lanes, 20))
        cd = codec(data.ArrayLayout(unsigned(f.nbits), lanes))
        assert lane_words(p, mi, list(codes)).tolist() == [cd.pack(c) for c in codes.T.tolist()]
    with pytest.raises(ValueError, match=r"lane 1: codes outside unsigned\(4\)"):
        lane_words(p, 0, [[0], [16], [0], [0]])
    dut = SimdMac()  # the default point, p (constructed here: this file silences UnusedElaboratable)
    a, b, mode, last = mixed_dot_products(p, rng, 3, max_len=4)
    clear = rng.random(a.size) < 0.5
    i_codec = codec(dut.i.payload.shape())
    for x, y, m, lf, c, pl in zip(a, b, mode, last, clear, beat_payloads(a, b, mode, last, clear), strict=True):
        assert i_codec.unpack(i_codec.pack(pl)) == {"a": x, "b": y, "mode": m, "last": lf, "clear": c}
    r = ref_simd_mac(p, a, b, mode, last, clear)[0]
    o_codec = codec(dut.o.payload.shape())
    beat = o_codec.unpack(o_codec.pack({"word": r.word, "acc": list(r.acc), "nar": as_tuple(r)[2],
                                        "overflow": as_tuple(r)[3], "mode": r.mode}))
    assert result_tuple(beat) == as_tuple(r)
    assert stall_lengths([3, 4, 5, 9, 11, 12]) == [3, 1, 2] and stall_lengths([]) == []


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
        SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), acc_guard=4),
        SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), acc_guard=4, shared=False),
        SimdMacParams(modes=("fp8_e5m2", "fp8_e4m3"), dot=True, acc_guard=3, stages=1),
        pytest.param(SimdMacParams(modes=("fp8_e5m2", "posit8_0"), out_format="posit16_1", acc_guard=2,
                                   shared=False), marks=pytest.mark.slow),
        SimdMacParams(modes=DEFAULT_MODES + ("bf16",), acc_guard=3),
        SimdMacParams(modes=("bf16", "fp8_e5m2"), acc_guard=2, shared=False, stages=3),
    ],
    ids=lambda p: p.tag,
)
def test_rtl_matches_model(p, seed):
    """Mixed-mode dot products with clears, idle beats and random back-pressure, bit for bit against the model."""
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 12, max_len=40)
    clear = rng.random(a.size) < 0.03
    rtl_simd_mac(p, a, b, mode, last, clear, rng=rng)


def _fast_overflow_beats(p: SimdMacParams) -> tuple:
    """A few beats that overflow every FP4 lane of the default point at once: lane registers are as wide as
    their widest mode, so a worst-case product of a wider mode (Posit(16,1) on lane 0, Posit(8,0) on lanes 0-1,
    Posit(4,1) on lanes 0-3) followed by an FP4 beat leaves a sum beyond FP4's width, which saturates."""
    words = []
    for mi in (3, 2, 1):
        f = p.formats[mi]
        big = int(f.encode(f.max_value))
        words.append(sum(big << (lane * f.nbits) for lane in range(p.lanes(mi))))
    return words, [3, 2, 1]


def test_rtl_clear_after_overflow_and_nar(seed):
    """Default design point: overflow, then ``clear``, in one dot product (the overflow flag must drop with the
    sum), likewise NaR then ``clear``; the same dot products without the clear keep the flags up."""
    p = SimdMacParams()
    rng = np.random.default_rng(seed)
    words, modes = _fast_overflow_beats(p)
    small = [0] + [int(x) for x in rng.integers(0, 1 << 16, 2)]  # FP4: a zero product (overflows), then any
    nar8 = 0x8080  # Posit(8,0) NaR on both lanes
    p8one = int(p.formats[2].encode(1.0)) * 0x0101
    a, b, mode, last, clear = [], [], [], [], []

    def dot(aa, bb, mm, cc):
        a.extend(aa)
        b.extend(bb)
        mode.extend(mm)
        clear.extend(cc)
        last.extend([False] * (len(aa) - 1) + [True])

    for clr in (False, True):
        dot(words + small, words + small[::-1], modes + [0, 0, 0], [False, False, False, False, clr, False])
        dot([nar8, p8one, p8one], [p8one, p8one, p8one], [2, 2, 2], [False, clr, False])
    a, b, mode, last, clear = (np.array(x) for x in (a, b, mode, last, clear))
    out, _ = rtl_simd_mac(p, a, b, mode, last, clear, rng=rng, label="overflow/NaR then clear")
    assert [r[3] for r in out] == [0b1111, 0, 0, 0]  # overflow on the 4 FP4 lanes, dropped by the clear
    assert [r[2] for r in out] == [0, 0b11, 0, 0]  # NaR on both Posit(8,0) lanes, dropped by the clear


def test_rtl_long_backpressure(seed):
    """Default design point: ``o.ready`` held low for runs of up to 60 cycles (1-2 ready cycles between them)
    while short dot products in every mode queue behind the waiting result: none lost, duplicated or
    reordered."""
    p = SimdMacParams()
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 14, max_len=2)
    clear = rng.random(a.size) < 0.1

    def pattern():
        while True:
            yield from [0] * int(rng.choice([1, 3, 20, 60]))
            yield from [1] * int(rng.integers(1, 3))

    _, stats = rtl_simd_mac(p, a, b, mode, last, clear, rng=rng, p_idle=0.0, ready=pattern(),
                            label="long back-pressure")
    assert stats["max_stall"] >= 20 and stats["stalled"] >= 5, stats


def test_rtl_latency_and_throughput(seed):
    """Default design point, ``o`` always ready, no idle beats: every result comes ``stages`` edges after its
    ``last`` beat, and beats are taken on consecutive edges."""
    p = SimdMacParams()
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 8, max_len=3)
    _, stats = rtl_simd_mac(p, a, b, mode, last, np.zeros(a.size, bool), rng=rng, p_idle=0.0, p_ready=1.0)
    lasts = [e for e, lf in zip(stats["accept"], last.tolist(), strict=True) if lf]
    assert {r - e for r, e in zip(stats["result"], lasts, strict=True)} == {p.latency}
    assert stats["accept"] == list(range(stats["accept"][0], stats["accept"][0] + a.size))


@pytest.mark.parametrize("p", [SimdMacParams(), SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "bf16"), acc_guard=2)],
                         ids=lambda p: p.tag)
def test_rtl_rounding_ties(p, seed):
    """Sums on the rounding midpoints of every mode's format and one smallest product either side
    (:func:`rounding_tie_beats`), on every lane, with idle beats and back-pressure: the read-out rounds them as
    the model does (ties to even; the sticky bit decides the rest). The default point, and FP8 / BF16 modes."""
    rng = np.random.default_rng(seed)
    a, b, mode, last = rounding_tie_beats(p, rng, per_mode=6)
    rtl_simd_mac(p, a, b, mode, last, np.zeros(a.size, bool), rng=rng, label="rounding midpoints")


def test_rtl_reserved_mode_indices(seed):
    """Three modes (index 3 reserved): reserved beats inside dot products, as last beats, with clear, match the
    documented behaviour (the model's): nothing added, an all-zero result carrying the index."""
    p = SimdMacParams(modes=("posit8_0", "int8", "fp4_e2m1"), acc_guard=4)
    rng = np.random.default_rng(seed)
    a, b, mode, last, clear = reserved_mode_beats(p, rng)
    out, _ = rtl_simd_mac(p, a, b, mode, last, clear, rng=rng, label="reserved mode indices")
    res = [r for r in out if r[4] == 3]
    assert res and all(r[:4] == (0, (0,) * 4, 0, 0) for r in res)


@pytest.mark.parametrize(
    "p",
    [SimdMacParams(), SimdMacParams(shared=False), SimdMacParams(dot=True),
     SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), stages=1),
     *(pytest.param(p, marks=pytest.mark.slow) for p in (
         SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), shared=False, dot=True),
         SimdMacParams(modes=("fp8_e5m2", "posit8_0"), out_format="posit16_1"),
         SimdMacParams(modes=DEFAULT_MODES + ("bf16",))))],
    ids=lambda p: p.tag,
)
def test_verilator_lint_clean(p, tmp_path):
    lint_verilog(write_verilog(SimdMac.from_params(p), tmp_path / "simd_mac.v", name="simd_mac"), top="simd_mac")


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "baseline"])
def test_rtl_minifloat_corner_table(shared, seed):
    """The hand-written minifloat corners of :func:`test_model_minifloat_corner_table` (NaN, +-Inf, Inf * 0, +Inf
    and -Inf, max * max, overflow ties, subnormals, -0, clear after NaN / Inf, switches between FP8 and Posit(8,0)
    modes) through the RTL, with idle beats and back-pressure: the table's codes and flags on both lanes; likewise
    E5M2 read out as Posit(16,1) (Inf is NaR)."""
    rng = np.random.default_rng(seed)
    for point, table in ((MF_CORNER_POINT, MF_CORNERS), (MF_OUT_POINT, MF_OUT_CORNERS)):
        p = dataclasses.replace(point, shared=shared)
        beats, order = corner_beats(p, table)
        out, _ = rtl_simd_mac(p, *beats, rng=rng, label=f"minifloat corners {p.tag}")
        n = p.out_fmt(0).nbits
        assert [(r[0] & ((1 << n) - 1), r[0] >> n, r[2]) for r in out] == [(c, c, 3 * nar) for *_, c, nar in order]


@pytest.mark.parametrize("shared", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["shared", "baseline"])
def test_rtl_fp8_products_sample(shared, seed):
    """FP8 E4M3 and E5M2 single products in the RTL (the model is checked on all 65,536 pairs above; all of them
    through the Amaranth simulator would take minutes, cocotb's ``-m slow`` run has them): every pair of the corner
    codes (+-0, NaNs, +-Inf, subnormals, +-max, neighbours of +-1) and 150 (baseline, ``-m slow``: 400) seeded
    random pairs per format on each lane, then short dot products of special codes
    (:func:`minifloat_special_dots`)."""
    p = SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), acc_guard=2, shared=shared)
    rng = np.random.default_rng(seed)
    a, b, mode, last = [], [], [], []
    for mi in (0, 1):
        c = np.array(corner_codes(p.formats[mi]))
        ca, cb = (x.ravel() for x in np.meshgrid(c, c, indexing="ij"))
        k = 150 if shared else 400
        ca, cb = np.r_[ca, rng.integers(0, 256, k)], np.r_[cb, rng.integers(0, 256, k)]
        a.append(ca | np.roll(cb, 5) << 8)
        b.append(cb | np.roll(ca, 5) << 8)
        mode.append(np.full(ca.size, mi))
        last.append(np.ones(ca.size, bool))
        sa, sb, sm, sl = minifloat_special_dots(p, mi, rng, count=40)
        a.append(sa), b.append(sb), mode.append(sm), last.append(sl)
    a, b, mode, last = (np.concatenate(x) for x in (a, b, mode, last))
    out, _ = rtl_simd_mac(p, a, b, mode, last, np.zeros(a.size, bool), rng=rng, p_idle=0.0, p_ready=0.9,
                          label="FP8 products")
    assert sum(bin(r[2]).count("1") for r in out) > 100  # many NaN lanes among them


def test_rtl_mode_change_inside_a_dot_product(seed):
    """Shared engine: dot products whose beats change mode between FP8 E5M2, E4M3 and Posit(8,0) (the integers add
    up at each beat's scaling; NaN / Inf flags of every beat count; an Inf read out in a format without Inf is NaN /
    NaR), bit for bit against the model. (The per-format baseline keeps one accumulator per format, so it differs
    here by design.)"""
    p = SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), acc_guard=4)
    rng = np.random.default_rng(seed)
    a, b, mode, last = mixed_dot_products(p, rng, 20, max_len=6)
    mode = rng.integers(0, 3, a.size)  # every beat its own mode
    inf = rng.random(a.size) < 0.1
    a = np.where(inf & (mode == 1), 0x7C3C, a)  # +Inf * 1 on lane 0 now and then
    out, _ = rtl_simd_mac(p, a, b, mode, last, rng.random(a.size) < 0.05, rng=rng, label="mode changes")
    assert any(r[2] for r in out)


def test_clear_drops_the_dot_product_in_progress():
    """Hand-computed: 1*1, then clear with 1*1, then 2*2 in Posit(8,0): 5 (0x72), the first beat dropped."""
    p = SimdMacParams(modes=("posit8_0",))
    one, two = 0x40, 0x60
    r = ref_simd_mac(p, [one, one, two], [one, one, two], [0, 0, 0], [False, False, True], [False, True, False])
    assert len(r) == 1 and r[0].code[0] == 0x72 and r[0].acc[0] == 5 << 12


def test_out_format_rounds_to_the_chosen_posit(seed):
    """FP4 dot products of 50 beats rounded to Posit(16,1): SoftPosit's rounding of the exact sum (a double:
    FP4 products are multiples of 1/4), on every lane."""
    p = SimdMacParams(modes=("fp4_e2m1",), out_format="posit16_1")
    f = ml_dtypes.float4_e2m1fn
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 1 << 16, 50), rng.integers(0, 1 << 16, 50)
    r = ref_simd_mac(p, a, b, np.zeros(50, int), np.r_[np.zeros(49, bool), True])[0]
    for lane in range(4):
        va = ((a >> (4 * lane)) & 15).astype(np.uint8).view(f).astype(np.float64)
        vb = ((b >> (4 * lane)) & 15).astype(np.uint8).view(f).astype(np.float64)
        exact = float(np.sum(va * vb))  # exact: at most 50 * 36 in steps of 1/4
        assert r.code[lane] == sp.posit16(exact).v.v, lane
