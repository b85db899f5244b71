"""Number-format models against independent oracles.

* SoftPosit (C library, pre-2022 convention): posit8 es=0, posit16 es=1, posit32 es=2 and their quires.
* An exact-rational posit written here from the spec rules (``fractions.Fraction``, the (n+1)-bit midpoint
  rule): Posit(4,1) exhaustively, and other (n, es) SoftPosit does not have.
* FP4 E2M1: an exact-rational round-to-nearest-even written here from the OCP MX v1.0 code table
  (:func:`fp4_oracle`); ml_dtypes ``float4_e2m1fn`` only on inputs it converts without double rounding in every
  version (float32 values: ml_dtypes < 0.7 converts float64 through float32).
* Python integers for INT.

No test here asserts a third-party library's behaviour: where an oracle deviates (ml_dtypes' double rounding),
npegen is pinned against the exact computation and the library comparison is skipped on those inputs.
"""

from __future__ import annotations

import bisect
import itertools
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import softposit as sp
from exact_oracles import frac_op, frac_posit_values, frac_round  # tests/ is on sys.path
from hypothesis import given, settings
from hypothesis import strategies as st

from npegen.models import formats as F
from npegen.models.formats import FP4E2M1, Int, Posit

# ---- registry, validation --------------------------------------------------------------------------------


#: The formats registered before the minifloat family (their oracles are here; the minifloats' are in
#: test_minifloat.py). New names are appended after these, so their indices stay stable.
CLASSIC = ["fp4_e2m1", "posit4_1", "posit8_0", "posit16_1", "posit8_2", "posit16_2", "int8", "int4"]


def test_named_formats():
    assert F.names() == [*CLASSIC, "fp8_e4m3", "fp8_e5m2", "bf16", "fp16", "fp6_e3m2", "fp6_e2m3"]
    assert F.get("posit16_1") == Posit(16, 1) and F.get("fp4_e2m1") == FP4E2M1() and F.get("int8") == Int(8)
    with pytest.raises(ValueError, match="unknown format 'posit7'; choose from fp4_e2m1, posit4_1"):
        F.get("posit7")
    with pytest.raises(TypeError, match="format name must be a string, not 8"):
        F.get(8)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Posit(1, 0), ValueError, r"Posit nbits must be an integer in \[2, 32\], not 1"),
        (lambda: Posit(33, 0), ValueError, r"Posit nbits must be an integer in \[2, 32\], not 33"),
        (lambda: Posit(8, -1), ValueError, r"Posit es must be an integer in \[0, 4\], not -1"),
        (lambda: Posit(8, 5), ValueError, r"Posit es must be an integer in \[0, 4\], not 5"),
        (lambda: Posit(8.0, 0), TypeError, r"Posit nbits must be an integer .* not 8\.0"),
        (lambda: Posit(8, "1"), TypeError, r"Posit es must be an integer .* not '1'"),
        (lambda: Int(1), ValueError, r"Int nbits must be an integer in \[2, 24\], not 1"),
        (lambda: Int(True), TypeError, r"Int nbits must be an integer .* not True"),
        (lambda: F.get("posit8_0").decode([256]), ValueError, r"posit8_0 codes are 8-bit unsigned, .* got 256"),
        (lambda: F.get("fp4_e2m1").decode([-1]), ValueError, r"fp4_e2m1 codes are 4-bit .* got -1"),
        (lambda: F.get("posit8_0").decode(np.array([1.5])), TypeError, r"codes must be an integer array, not "
                                                                         r"dtype float64 \(use encode"),
        (lambda: F.get("posit8_0").mul(np.zeros(3, np.uint8), np.zeros(4, np.uint8)), ValueError,
         r"operand shapes \(3,\) and \(4,\) do not broadcast"),
        (lambda: F.get("posit8_0").encode(np.array(["a"])), TypeError, r"encode takes real numbers, not dtype"),
        (lambda: F.get("int8").encode([np.nan]), ValueError, "int8 cannot encode nan"),
        (lambda: F.get("posit8_0").dot(np.uint8(1), np.uint8(2)), ValueError, "dot needs arrays"),
        (lambda: F.get("posit8_0").exact_acc_bits(0), ValueError,
         r"k must be an integer in \[1, 4611686018427387904\], not 0"),
    ],
    ids=lambda v: getattr(v, "__name__", str(v))[:40],
)
def test_bad_input_is_rejected_by_name(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ---- constants against the reference sheet ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "frac_bits", "scale", "product_bits", "maxpos"),
    [
        ("posit4_1", 0, 4, 17, 16.0),
        ("posit8_0", 5, 6, 25, 64.0),
        ("posit16_1", 12, 28, 113, 2.0**28),
        ("posit8_2", 3, 24, 97, 2.0**24),
        ("posit16_2", 11, 56, 225, 2.0**56),
        ("fp4_e2m1", 1, None, 8, 6.0),
    ],
)
def test_format_constants(name, frac_bits, scale, product_bits, maxpos):
    f = F.get(name)
    assert f.frac_bits == frac_bits and f.sig_bits == frac_bits + 1
    if scale is not None:
        assert (f.scale_min, f.scale_max, f.lsb_exp) == (-scale, scale, -scale)
        assert f.min_positive == 2.0 ** -scale
    assert f.exact_product_bits == product_bits and f.max_value == maxpos


def test_exact_accumulator_widths():
    assert F.get("fp4_e2m1").exact_acc_bits(32) == 14  # 8 + 5 + 1
    assert F.get("posit8_0").exact_acc_bits(64) == 32  # quire8 = 1 + 6 + 25
    assert F.get("posit16_1").exact_acc_bits(2**14) == 128  # quire16 = 1 + 14 + 113
    assert F.get("int8").exact_acc_bits(1) == 16


# ---- FP4 E2M1 --------------------------------------------------------------------------------------------

SPEC_FP4 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6]  # OCP MX v1.0 code table
_FP4_MAG = [Fraction(0), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2), Fraction(3), Fraction(4),
            Fraction(6)]  # codes 0..7 of the same table, exact


def fp4_oracle_exact(x: Fraction, negative: bool) -> int:
    """FP4 E2M1 code of the exact value ``x`` (sign given separately so -0 and tiny negatives keep it):
    round to nearest, ties to the even code (mantissa bit 0), saturating at 6 (E2M1 has no Inf)."""
    a = abs(x)
    if a >= _FP4_MAG[-1]:
        c = 7
    else:
        i = bisect.bisect_right(_FP4_MAG, a) - 1  # _FP4_MAG[i] <= a < _FP4_MAG[i+1]
        mid = (_FP4_MAG[i] + _FP4_MAG[i + 1]) / 2
        c = i if a < mid else i + 1 if a > mid else (i if i % 2 == 0 else i + 1)
    return c | (8 if negative else 0)


def fp4_oracle(x: float) -> int:
    """:func:`fp4_oracle_exact` of a float64, converted exactly (``Fraction(x)``); +-inf saturate; nan -> 0x8
    (-0: the package's pinned choice, shared with ml_dtypes)."""
    if math.isnan(x):
        return 0x8
    neg = math.copysign(1.0, x) < 0
    if math.isinf(x):
        return 0xF if neg else 0x7
    return fp4_oracle_exact(Fraction(x), neg)


def test_fp4_values_match_the_spec_and_ml_dtypes():
    """Decode of all 16 codes = the OCP MX code table (and ml_dtypes' decode, which is exact)."""
    f = F.get("fp4_e2m1")
    v = f.values()
    np.testing.assert_array_equal(v, SPEC_FP4)
    assert list(np.signbit(v)) == [c >= 8 for c in range(16)]
    ml = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float64)
    np.testing.assert_array_equal(v, ml)


_FP4_TIES = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])


def _fp4_inputs() -> dict[str, np.ndarray]:
    """Encode inputs by group. ``grid``, ``near_f32`` and ``special`` are float32 values (also compared with
    ml_dtypes); ``near_f64`` and ``tiny_huge`` are float64 values that float32 cannot hold (npegen vs the exact
    oracle only)."""
    ties = np.concatenate([_FP4_TIES, -_FP4_TIES])
    t32 = ties.astype(np.float32)
    beyond = np.array([6.0, 6.5, 7.0, 8.0, 100.0, float(np.finfo(np.float32).max)])
    return {
        # every multiple of 2**-12 in [-16, 16]: every value and tie, both signs, overflow up to 16
        "grid": np.arange(-16 * 4096, 16 * 4096 + 1) / 4096.0,
        # float32 neighbours of every tie: a float32 ULP above / below
        "near_f32": np.concatenate([np.nextafter(t32, np.float32(np.inf)),
                                    np.nextafter(t32, np.float32(-np.inf))]).astype(np.float64),
        "special": np.concatenate([[0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-149, -(2.0**-149), 2.0**-126],
                                   beyond, -beyond]),
        # a hair above / below every tie in float64: ml_dtypes < 0.7 first rounds these onto the tie
        "near_f64": np.concatenate([np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), ties + 1e-9,
                                    ties - 1e-9, [5.0 + 1e-9, 0.25 + 1e-12, 2.5 + 1e-10, -(3.5 - 1e-10)]]),
        # beyond float32's range: float64 subnormals, tiny, huge (float32 would flush or overflow first)
        "tiny_huge": np.array([5e-324, -5e-324, 1e-30, -1e-30, 1e-300, -1e-300, 1e300, -1e300,
                               np.finfo(np.float64).max, -np.finfo(np.float64).max]),
    }


_FP4_GROUPS = list(_fp4_inputs())


@pytest.mark.parametrize("group", _FP4_GROUPS)
def test_fp4_encode_vs_exact_rational_oracle(group):
    """npegen's FP4 encode = exact-rational RNE from the spec table (ties to even, a hair off a tie rounds
    away from it, saturation at +-6, -0 and tiny negatives keep the sign, nan -> 0x8) on every input group."""
    f = F.get("fp4_e2m1")
    x = _fp4_inputs()[group]
    want = np.array([fp4_oracle(float(v)) for v in x], dtype=np.uint8)
    got = f.encode(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{bad.size} of {x.size} differ; first x={x[bad[0]]!r}: npegen {got[bad[0]]:#x}, "
                           f"exact {want[bad[0]]:#x}")


def test_fp4_encode_pins_the_double_rounding_cases():
    """Inputs a hair above a tie round away from the tie (one rounding of the exact float64), as the exact
    oracle says -- whatever a given ml_dtypes version returns for them."""
    f = F.get("fp4_e2m1")
    x = np.array([5.0 + 1e-9, 0.25 + 1e-12, 2.5 + 1e-10, -(3.5 - 1e-10), 0.75 - 1e-12, 1.75 + 1e-12])
    assert [fp4_oracle(float(v)) for v in x] == [0x7, 0x1, 0x5, 0xD, 0x1, 0x4]  # 6, .5, 3, -3, .5, 2
    assert list(f.encode(x)) == [0x7, 0x1, 0x5, 0xD, 0x1, 0x4]


@pytest.mark.parametrize("group", _FP4_GROUPS)
def test_fp4_encode_matches_ml_dtypes_on_float32_inputs(group):
    """npegen vs ml_dtypes ``float4_e2m1fn``, only where no double rounding can happen: inputs that are float32
    values, handed to ml_dtypes as float32. The float64-only groups are skipped (pinned by the exact oracle)."""
    x = _fp4_inputs()[group]
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    if not np.array_equal(x32.astype(np.float64), x, equal_nan=True):
        pytest.skip(f"{group}: float64 inputs float32 cannot hold; ml_dtypes < 0.7 rounds them twice "
                    "(float64 -> float32 -> FP4), so only the exact oracle judges them")
    want = x32.astype(ml_dtypes.float4_e2m1fn).view(np.uint8)
    np.testing.assert_array_equal(F.get("fp4_e2m1").encode(x), want)


def test_fp4_mul_and_add_exhaustive():
    """All 256 pairs: product and sum of the spec values, rounded by the exact oracle (and by ml_dtypes from
    float32, exact since every FP4 product and sum is a float32 value)."""
    f = F.get("fp4_e2m1")
    a, b = (x.ravel() for x in np.meshgrid(np.arange(16), np.arange(16), indexing="ij"))
    spec = [Fraction(v) for v in SPEC_FP4]
    neg = [math.copysign(1.0, v) < 0 for v in SPEC_FP4]
    want_mul, want_add = [], []
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        p, q = spec[x] * spec[y], spec[x] + spec[y]
        want_mul.append(fp4_oracle_exact(p, p < 0 or (p == 0 and neg[x] != neg[y])))
        want_add.append(fp4_oracle_exact(q, q < 0 or (q == 0 and neg[x] and neg[y])))  # IEEE: -0 + -0 = -0
    np.testing.assert_array_equal(f.mul(a, b), want_mul)
    np.testing.assert_array_equal(f.add(a, b), want_add)
    va, vb = np.array(SPEC_FP4)[a], np.array(SPEC_FP4)[b]
    np.testing.assert_array_equal(f.mul(a, b), (va * vb).astype(np.float32).astype(ml_dtypes.float4_e2m1fn)
                                  .view(np.uint8))


@pytest.mark.parametrize("k", [1, 2, 3, 32, 256])
def test_fp4_dot_is_exact_then_rounded_once(k, seed):
    """``dot`` = the exact rational sum of the spec values' products, rounded once by the exact oracle; an
    accumulated zero is +0 (package choice)."""
    f = F.get("fp4_e2m1")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 16, (300, k))
    b = rng.integers(0, 16, (300, k))
    spec = [Fraction(v) for v in SPEC_FP4]
    want = []
    for ra, rb in zip(a.tolist(), b.tolist(), strict=True):
        exact = sum((spec[x] * spec[y] for x, y in zip(ra, rb, strict=True)), Fraction(0))
        want.append(fp4_oracle_exact(exact, exact < 0))
    np.testing.assert_array_equal(f.dot(a, b), want)


@pytest.mark.parametrize("name", ["fp4_e2m1", "int8", "int4"])
def test_fp4_and_int_encode_fields_vs_exact_oracle(name):
    """``encode_fields`` (the encoder's model) for FP4 and INT: every sign, every scale from below the range to
    above it, every 4-bit-fraction significand, with and without sticky (a value a little above), rounded by the
    exact oracle (FP4: :func:`fp4_oracle_exact`; INT: round half to even, saturate to two's complement)."""
    f = F.get(name)
    fi = 4
    sign, scale, sig, sticky = (x.ravel() for x in np.meshgrid(
        [0, 1], np.arange(f.scale_min - 4, f.scale_max + 3), np.arange(1 << fi, 2 << fi), [0, 1], indexing="ij"))
    got = f.encode_fields(sign, scale, sig, frac_in=fi, sticky=sticky)
    want = []
    for sg, sc, m, stk in zip(sign.tolist(), scale.tolist(), sig.tolist(), sticky.tolist(), strict=True):
        x = (Fraction(m, 1 << fi) + Fraction(stk, 1 << (fi + 4))) * Fraction(2) ** sc
        if isinstance(f, FP4E2M1):
            want.append(fp4_oracle_exact(x, bool(sg)))
            continue
        q, r = divmod(x, 1)
        q += 1 if r > Fraction(1, 2) or (r == Fraction(1, 2) and q % 2) else 0
        v = max(-q, -(1 << (f.nbits - 1))) if sg else min(q, (1 << (f.nbits - 1)) - 1)
        want.append(v % (1 << f.nbits))
    bad = np.flatnonzero(got != np.array(want))
    assert bad.size == 0, (f"{bad.size} of {got.size} differ; first sign={sign[bad[0]]} scale={scale[bad[0]]} "
                           f"sig={sig[bad[0]]} sticky={sticky[bad[0]]}: npegen {got[bad[0]]:#x}, "
                           f"exact {want[bad[0]]:#x}")


# ---- posits against SoftPosit ---------------------------------------------------------------------------


def sp8(c):
    return sp.posit8(bits=int(c))


def sp16(c):
    return sp.posit16(bits=int(c))


def test_posit8_decode_all_codes_vs_softposit():
    f = F.get("posit8_0")
    want = np.array([float(sp8(c)) for c in range(256)])
    want[128] = np.nan  # SoftPosit prints NaR as inf
    np.testing.assert_array_equal(f.values(), want)


def test_posit16_decode_all_codes_vs_softposit():
    f = F.get("posit16_1")
    want = np.array([float(sp16(c)) for c in range(65536)])
    want[32768] = np.nan
    np.testing.assert_array_equal(f.values(), want)


def test_posit8_mul_add_all_pairs_vs_softposit():
    f = F.get("posit8_0")
    a, b = (x.ravel() for x in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    pa, pb = [sp8(c) for c in range(256)], [sp8(c) for c in range(256)]
    want_mul = np.array([(pa[x] * pb[y]).v.v for x, y in zip(a, b, strict=True)])
    want_add = np.array([(pa[x] + pb[y]).v.v for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(f.mul(a, b), want_mul)
    np.testing.assert_array_equal(f.add(a, b), want_add)


def _p16_corner_codes() -> np.ndarray:
    base = [0, 0x8000, 1, 0xFFFF, 0x7FFF, 0x8001, 0x4000, 0xC000, 2, 0xFFFE, 0x7FFE, 0x8002, 0x3FFF, 0x4001,
            0xBFFF, 0xC001, 0x0100, 0x7F00, 0x5000, 0x3000]
    return np.array(base)


@pytest.mark.parametrize("n", [40_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_posit16_mul_add_random_and_corners_vs_softposit(n, seed):
    """Posit(16,1) mul and add vs SoftPosit: 400 corner pairs plus ``n`` random pairs, a quarter of them with
    close magnitudes (cancellation). The million-pair run is opt-in (slow); the exhaustive Posit(8,0) and
    rational-oracle tests cover the same rounding paths in the default run."""
    f = F.get("posit16_1")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 65536, n)
    b = rng.integers(0, 65536, n)
    b[: n // 4] = a[: n // 4] ^ rng.integers(0, 256, n // 4)  # close magnitudes: cancellation in add
    c = _p16_corner_codes()
    ca, cb = (x.ravel() for x in np.meshgrid(c, c, indexing="ij"))
    a, b = np.concatenate([ca, a]), np.concatenate([cb, b])
    want_mul = np.fromiter(((sp16(x) * sp16(y)).v.v for x, y in zip(a.tolist(), b.tolist(), strict=True)),
                           np.int64, a.size)
    np.testing.assert_array_equal(f.mul(a, b), want_mul)
    want_add = np.fromiter(((sp16(x) + sp16(y)).v.v for x, y in zip(a.tolist(), b.tolist(), strict=True)),
                           np.int64, a.size)
    np.testing.assert_array_equal(f.add(a, b), want_add)


@pytest.mark.parametrize(("name", "bits", "quire", "make"), [
    ("posit8_0", 8, sp.quire8, sp8),
    ("posit16_1", 16, sp.quire16, sp16),
])
def test_dot_vs_softposit_quire(name, bits, quire, make, seed):
    f = F.get(name)
    rng = np.random.default_rng(seed)
    for k in [1, 2, 3, 17, 64, 255, 256]:
        rows = 60
        a = rng.integers(0, 1 << bits, (rows, k))
        b = rng.integers(0, 1 << bits, (rows, k))
        want = []
        for r in range(rows):
            q = quire()
            for x, y in zip(a[r].tolist(), b[r].tolist(), strict=True):
                q.qma(make(x), make(y))
            want.append(q.toPosit().v.v)
        np.testing.assert_array_equal(f.dot(a, b), want, err_msg=f"k={k}")


def test_posit32_general_integer_path_vs_softposit(seed):
    # posit32 es=2 products have 56-bit significands: the model's uint64 path, not the float64 shortcut.
    f = Posit(32, 2)
    assert 2 * f.sig_bits > 53
    rng = np.random.default_rng(seed)
    n = 20_000
    a = rng.integers(0, 2**32, n, dtype=np.uint64)
    b = rng.integers(0, 2**32, n, dtype=np.uint64)
    b[: n // 4] = a[: n // 4] ^ rng.integers(0, 1 << 12, n // 4).astype(np.uint64)
    pa = [sp.posit32(bits=int(x)) for x in a]
    pb = [sp.posit32(bits=int(x)) for x in b]
    np.testing.assert_array_equal(f.mul(a, b), [(x * y).v.v for x, y in zip(pa, pb, strict=True)])
    np.testing.assert_array_equal(f.add(a, b), [(x + y).v.v for x, y in zip(pa, pb, strict=True)])
    got = f.decode(a[:2000])
    want = np.array([float(x) for x in pa[:2000]])
    want[np.isinf(want)] = np.nan
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("name", "make", "bits"), [("posit8_0", sp.posit8, 8), ("posit16_1", sp.posit16, 16)])
def test_encode_at_every_midpoint_vs_softposit(name, make, bits):
    f = F.get(name)
    v = f.values()
    codes = np.argsort(np.where(np.isnan(v), -np.inf, v))[1:]  # value order, NaR dropped
    vals = v[codes]
    mids = (vals[:-1] + vals[1:]) / 2  # arithmetic midpoints and their float neighbours, plus
    wide = Posit(bits + 1, f.es).decode(np.arange(1 << (bits + 1)))  # the true boundaries ((n+1)-bit values)
    x = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf), wide[~np.isnan(wide)],
                        [1e30, -1e30, 1e-30, -1e-30, 0.0]])
    if bits == 16:
        x = x[::3]
    want = [make(float(y)).v.v for y in x]
    np.testing.assert_array_equal(f.encode(x), want)
    assert f.encode(np.nan) == 1 << (bits - 1) and f.encode(np.inf) == 1 << (bits - 1)


# ---- posits against the exact-rational oracle -------------------------------------------------------------

POSIT4_1_SPEC = {  # reference sheet, section 2.4
    0b0000: 0, 0b0001: 1 / 16, 0b0010: 1 / 4, 0b0011: 1 / 2, 0b0100: 1, 0b0101: 2, 0b0110: 4, 0b0111: 16,
    0b1001: -16, 0b1010: -4, 0b1011: -2, 0b1100: -1, 0b1101: -1 / 2, 0b1110: -1 / 4, 0b1111: -1 / 16,
}


def test_posit4_1_values_match_the_spec_table():
    v = F.get("posit4_1").values()
    assert np.isnan(v[0b1000])
    assert {c: v[c] for c in POSIT4_1_SPEC} == POSIT4_1_SPEC
    assert frac_posit_values(4, 1)[0b0111] == 16 and frac_posit_values(4, 1)[0b1000] is None


@pytest.mark.parametrize(("n", "es"), [(4, 1), (5, 1), (6, 2), (7, 0), (8, 2), (8, 1), (6, 4), (3, 0), (2, 0)])
def test_posit_mul_add_exhaustive_vs_rational_oracle(n, es):
    f = Posit(n, es)
    vals = frac_posit_values(n, es)
    got_vals = f.values()
    for c, v in enumerate(vals):
        assert (np.isnan(got_vals[c]) if v is None else got_vals[c] == float(v)), (c, v)
    a, b = (x.ravel() for x in np.meshgrid(np.arange(1 << n), np.arange(1 << n), indexing="ij"))
    for op, meth in ((lambda x, y: x * y, f.mul), (lambda x, y: x + y, f.add)):
        want = [frac_op(n, es, op, x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        np.testing.assert_array_equal(meth(a, b), want)


def test_posit4_1_dot_all_length_2_vectors_vs_rational_oracle():
    f = F.get("posit4_1")
    vals = frac_posit_values(4, 1)
    combos = np.array(list(itertools.product(range(16), repeat=4)))  # 65,536 (a0, a1, b0, b1)
    a, b = combos[:, :2], combos[:, 2:]
    want = []
    for a0, a1, b0, b1 in combos.tolist():
        if None in (vals[a0], vals[a1], vals[b0], vals[b1]):
            want.append(8)
        else:
            want.append(frac_round(vals[a0] * vals[b0] + vals[a1] * vals[b1], 4, 1))
    np.testing.assert_array_equal(f.dot(a, b), want)


@pytest.mark.parametrize(("n", "es"), [(4, 1), (8, 2), (16, 2), (12, 3)])
def test_encode_at_oracle_midpoints(n, es):
    f = Posit(n, es)
    wide = frac_posit_values(n + 1, es)
    pts = [w for w in wide if w is not None]
    if n > 12:
        pts = pts[::13]
    x = np.array([float(p) for p in pts])
    want = [frac_round(Fraction(p), n, es) for p in pts]
    np.testing.assert_array_equal(f.encode(x), want)


def test_posit16_2_random_vs_rational_oracle(seed):
    f = F.get("posit16_2")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 65536, 3000)
    b = rng.integers(0, 65536, 3000)
    for op, meth in ((lambda x, y: x * y, f.mul), (lambda x, y: x + y, f.add)):
        want = [frac_op(16, 2, op, x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        np.testing.assert_array_equal(meth(a, b), want)


# ---- INT ------------------------------------------------------------------------------------------------


def test_int8_arithmetic_saturates_and_rounds():
    f = F.get("int8")
    a, b = (x.ravel() for x in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    sa, sb = a.astype(np.int64) - ((a >= 128) << 8), b.astype(np.int64) - ((b >= 128) << 8)
    np.testing.assert_array_equal(f.decode(a), sa)
    np.testing.assert_array_equal(f.mul(a, b), np.clip(sa * sb, -128, 127).astype(np.uint8))
    np.testing.assert_array_equal(f.add(a, b), np.clip(sa + sb, -128, 127).astype(np.uint8))
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 127.5, 126.5, -128.5, -129, 1e9, -1e9, np.inf, -np.inf, 3.49])
    want = np.clip(np.rint(np.nan_to_num(x, posinf=1e9, neginf=-1e9)), -128, 127).astype(np.int8).view(np.uint8)
    np.testing.assert_array_equal(f.encode(x), want)


def test_int_dot_is_exact_then_saturated(seed):
    f = F.get("int4")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 16, (300, 9)), rng.integers(0, 16, (300, 9))
    exact = (f.decode(a) * f.decode(b)).sum(axis=-1)
    np.testing.assert_array_equal(f.dot(a, b), np.clip(exact, -8, 7).astype(np.int8).view(np.uint8) & 0xF)


# ---- structure and properties ---------------------------------------------------------------------------


def oracle_values(f) -> list:
    """Exact value of every code from an independent source: the rational posit, the FP4 spec table, two's
    complement for INT (None for NaR)."""
    if isinstance(f, Posit):
        return list(frac_posit_values(f.nbits, f.es))
    if isinstance(f, FP4E2M1):
        return [Fraction(v) for v in SPEC_FP4]
    return [Fraction(c - (c >> (f.nbits - 1) << f.nbits)) for c in range(f.n_codes)]


@pytest.mark.parametrize("name", CLASSIC)
def test_decompose_fields_give_the_oracle_value_of_every_code(name):
    """``decompose`` of every code: ``(-1)**sign * sig * 2**(scale - frac_bits)`` is the oracle's exact value, the
    hidden bit sits at ``frac_bits``, scales stay in range; zero / NaR flags (with sign, scale and sig 0, except
    FP4 -0 whose sign is 1) exactly where the oracle has them."""
    f = F.get(name)
    d = f.decompose(np.arange(f.n_codes))
    want = oracle_values(f)
    for c, v in enumerate(want):
        sign, scale, sig = bool(d.sign[c]), int(d.scale[c]), int(d.sig[c])
        assert bool(d.nar[c]) == (v is None), (c, v)
        assert bool(d.zero[c]) == (v == 0), (c, v)
        if v is None or v == 0:
            assert (scale, sig) == (0, 0), (c, scale, sig)
            assert sign == (isinstance(f, FP4E2M1) and c == 8), (c, sign)  # only FP4 has -0
            continue
        assert sig >> f.frac_bits == 1 and f.scale_min <= scale <= f.scale_max, (c, scale, sig)
        assert (-1 if sign else 1) * sig * Fraction(2) ** (scale - f.frac_bits) == v, (c, v)
    mags = [abs(v) for v in want if v]
    assert float(min(mags)) == f.min_positive and float(max(mags)) == f.max_value


def test_posit16_encode_fields_vs_rational_oracle():
    """Posit(16,1) ``encode_fields`` (the encoder's model) against the rational oracle: every code's own fields
    (formerly a model round trip in test_formats_hw.py; ``decompose`` is pinned to the oracle's values above, and
    an exact value must encode to its own code) and, for every 17th code, the fields two bits finer moved to just
    below / on / just above the midpoint to the next code, with and without sticky."""
    f = F.get("posit16_1")
    codes = np.array([c for c in range(1 << 16) if c != 0x8000])
    d = f.decompose(codes)
    back = f.encode_fields(d.sign, d.scale, d.sig, frac_in=f.frac_bits, zero=d.zero, nar=d.nar)
    np.testing.assert_array_equal(back, codes)
    pick = codes[(codes % 17 == 0) & (codes != 0)]
    dp = f.decompose(pick)
    fi = f.frac_bits + 2
    rows = []
    for low in (1, 2, 3):
        for sticky in (0, 1):
            sig = (dp.sig.astype(np.int64) << 2) + low
            got = f.encode_fields(dp.sign, dp.scale, sig, frac_in=fi, sticky=sticky)
            for c, sg, sc, m, g in zip(pick.tolist(), dp.sign.tolist(), dp.scale.tolist(), sig.tolist(),
                                       got.tolist(), strict=True):
                x = Fraction(m, 1 << fi) * Fraction(2) ** sc
                x += Fraction(1, 1 << (fi + 8)) * Fraction(2) ** sc * sticky  # sticky: a little more
                rows.append((c, low, sticky, g, frac_round(-x if sg else x, 16, 1)))
    bad = [r for r in rows if r[3] != r[4]]
    assert not bad, f"{len(bad)} of {len(rows)} differ; first (code, low bits, sticky, npegen, oracle) = {bad[0]}"


@pytest.mark.parametrize("name", CLASSIC)
def test_encode_decode_round_trips_every_code(name):
    f = F.get(name)
    codes = np.arange(f.n_codes)
    if f.has_nar:
        codes = codes[codes != 1 << (f.nbits - 1)]
    np.testing.assert_array_equal(f.encode(f.decode(codes)), codes)


_CODE_FORMATS = ["posit8_0", "posit16_1", "posit8_2", "posit16_2", "posit4_1", "fp4_e2m1", "int8"]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(_CODE_FORMATS), data=st.data())
def test_properties(name, data):
    f = F.get(name)
    code = st.integers(0, f.n_codes - 1)
    a, b = data.draw(code), data.draw(code)
    assert f.mul(a, b) == f.mul(b, a)
    assert f.add(a, b) == f.add(b, a)
    if f.has_nar and a != 1 << (f.nbits - 1):
        assert f.encode(f.decode(a)) == a
    # decode is monotone along the posit ring (codes as signed integers)
    if f.has_nar:
        sa = a - (a >> (f.nbits - 1) << f.nbits)
        sb = b - (b >> (f.nbits - 1) << f.nbits)
        nar = -(1 << (f.nbits - 1))
        if nar not in (sa, sb) and sa < sb:
            assert f.decode(a) < f.decode(b)
