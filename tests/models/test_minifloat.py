"""The minifloat family (OCP FP8 E4M3 / E5M2, OCP MX FP6 E3M2 / E2M3, BF16, FP16 and parameter corners) against
independent oracles.

* ml_dtypes (``float8_e4m3fn``, ``float8_e5m2``, ``float6_e3m2fn``, ``float6_e2m3fn``, ``bfloat16``) and numpy
  ``float16``: decode of every code, and encode of float32 inputs (which every ml_dtypes version converts with one
  rounding). ml_dtypes encodes ``-nan`` to +0 in its formats without NaN; npegen encodes every NaN to the format's
  ``nan_code`` (-0, as FP4 E2M1 does), so ``-nan`` is left out of that one comparison (the exact oracle pins it).
* An exact oracle written here from the format definition (:class:`Spec`): the value of every code from its
  fields, and round to nearest even over the sorted value table, with the overflow policy ("ieee": Inf, "fn":
  NaN, or saturation). float64 inputs, products and sums of two 8-bit values are exact in float64 and the
  midpoints between neighbours are too, so the vectorised rounding compares exactly; dot products are summed as
  ``Fraction`` and rounded by the same table.

No test asserts an ml_dtypes behaviour on float64 inputs (it may round through float32 first).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import ml_dtypes
import numpy as np
import pytest

from npegen.models import formats as F
from npegen.models.formats import FP4E2M1, Minifloat


@dataclass(frozen=True)
class Spec:
    """A minifloat written from its definition: ``s | E | M``, bias, subnormals, Inf/NaN policy, saturation."""

    e: int
    m: int
    bias: int
    policy: str = "ieee"
    subnormals: bool = True
    saturate: bool = False
    nan: int | None = None  # policy "none": the code nan encodes to (any sign)

    @property
    def n(self) -> int:
        return 1 + self.e + self.m

    def value(self, code: int):
        """Exact value: a Fraction (with ``-0`` reported as ``(Fraction(0), True)`` by :meth:`signed`), ``"nan"``,
        or ``"inf"``."""
        mag = code & ((1 << (self.n - 1)) - 1)
        big_e, mant = mag >> self.m, mag & ((1 << self.m) - 1)
        e_all = big_e == (1 << self.e) - 1
        if self.policy == "ieee" and e_all:
            return "inf" if mant == 0 else "nan"
        if self.policy == "fn" and e_all and mant == (1 << self.m) - 1:
            return "nan"
        if big_e == 0:
            if not self.subnormals:
                return Fraction(0)
            return Fraction(mant, 1 << self.m) * Fraction(2) ** (1 - self.bias)
        return (1 + Fraction(mant, 1 << self.m)) * Fraction(2) ** (big_e - self.bias)

    @cached_property
    def table(self):
        """Sorted non-negative finite values with their codes (flushed E = 0 codes left out), then a virtual
        value one top-binade step above the largest, with code -1 (overflow)."""
        rows = [(self.value(c), c) for c in range(1 << (self.n - 1))]
        rows = [(v, c) for v, c in rows if isinstance(v, Fraction) and (v > 0 or c == 0)]
        rows.sort()
        vmax, _ = rows[-1]
        top = vmax.numerator.bit_length() - vmax.denominator.bit_length()  # floor(log2) for these values
        top = top if Fraction(2) ** top <= vmax else top - 1
        rows.append((vmax + Fraction(2) ** (top - self.m), -1))
        return rows

    @cached_property
    def values_sorted(self) -> list:
        return [v for v, _ in self.table]

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """:attr:`table` as float64 values (exact) and int codes."""
        return np.array([float(v) for v, _ in self.table]), np.array([c for _, c in self.table])

    def inf_or_limit(self, neg: bool) -> int:
        """Code of an infinite value: Inf where it exists, else +-max when saturating, else NaN."""
        e_all = ((1 << self.e) - 1) << self.m
        if self.policy == "ieee":
            return e_all | (int(neg) << (self.n - 1))
        return self.overflow_code(neg) if self.saturate else self.nan_code(neg)

    def overflow_code(self, neg: bool) -> int:
        e_all = ((1 << self.e) - 1) << self.m
        if self.saturate:
            mag = self.table[-2][1]
        elif self.policy == "ieee":
            mag = e_all
        else:
            mag = e_all | ((1 << self.m) - 1)
        return mag | (int(neg) << (self.n - 1))

    def nan_code(self, neg: bool) -> int:
        if self.policy == "none":
            return self.nan
        e_all = ((1 << self.e) - 1) << self.m
        q = (1 << self.m) - 1 if self.policy == "fn" else 1 << (self.m - 1)
        return e_all | q | (int(neg) << (self.n - 1))

    def round_frac(self, x: Fraction, neg: bool) -> int:
        """RNE of the exact ``|x|`` (sign ``neg``) over :attr:`table`, ties to the even code."""
        a = abs(x)
        vals = self.values_sorted
        i = bisect.bisect_right(vals, a) - 1
        if i >= len(vals) - 1:
            return self.overflow_code(neg)
        (lo, clo), (hi, chi) = self.table[i], self.table[i + 1]
        mid = (lo + hi) / 2
        c = chi if a > mid or (a == mid and clo % 2) else clo
        if a == lo:
            c = clo
        return self.overflow_code(neg) if c == -1 else c | (int(neg) << (self.n - 1))

    def round_f64(self, x: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`round_frac` of float64 values (every table value and midpoint is exact in float64)."""
        vals, codes = self.arrays
        x = np.asarray(x, np.float64)
        neg = np.signbit(x)
        a = np.abs(x)
        i = np.clip(np.searchsorted(vals, a, side="right") - 1, 0, len(vals) - 2)
        lo, hi = vals[i], vals[i + 1]
        mid = (lo + hi) / 2
        up = (a > mid) | ((a == mid) & (codes[i] % 2 == 1))
        c = np.where(a == lo, codes[i], np.where(up, codes[i + 1], codes[i]))
        over = (c == -1) | (a >= vals[-1])
        sbit = neg.astype(np.int64) << (self.n - 1)
        out = np.where(over, self.overflow_code(False), c) | sbit
        out = np.where(np.isinf(x), self.inf_or_limit(False) | sbit, out)
        nan = self.nan if self.policy == "none" else self.nan_code(False) | sbit
        return np.where(np.isnan(x), nan, out)


NAMED = {  # name -> (definition, ml_dtypes / numpy type)
    "fp8_e4m3": (Spec(4, 3, 7, "fn"), ml_dtypes.float8_e4m3fn),
    "fp8_e5m2": (Spec(5, 2, 15), ml_dtypes.float8_e5m2),
    "bf16": (Spec(8, 7, 127), ml_dtypes.bfloat16),
    "fp16": (Spec(5, 10, 15), np.float16),
    "fp6_e3m2": (Spec(3, 2, 3, "none", saturate=True, nan=0x20), ml_dtypes.float6_e3m2fn),
    "fp6_e2m3": (Spec(2, 3, 1, "none", saturate=True, nan=0x20), ml_dtypes.float6_e2m3fn),
}
CORNERS = {  # parameter corners, oracle only
    "e3m2_ftz": (Minifloat(3, 2, subnormals=False), Spec(3, 2, 3, subnormals=False)),
    "e4m3_sat": (Minifloat(4, 3, saturate=True), Spec(4, 3, 7, saturate=True)),
    "e3m3_b5fn_sat": (Minifloat(3, 3, bias=5, inf_nan="fn", saturate=True), Spec(3, 3, 5, "fn", saturate=True)),
    "e1m2_finite": (Minifloat(1, 2, inf_nan="none", saturate=True, nan_code=0), Spec(1, 2, 0, "none", saturate=True)),
    "e4m2fn_ftz": (Minifloat(4, 2, inf_nan="fn", subnormals=False), Spec(4, 2, 7, "fn", subnormals=False)),
}


def _codes_as(fmt, t):
    dt = np.uint8 if fmt.nbits <= 8 else np.uint16
    return np.arange(fmt.n_codes).astype(dt).view(t), dt


def _oracle_decode(spec: Spec) -> np.ndarray:
    out = []
    for c in range(1 << spec.n):
        v = spec.value(c)
        neg = bool(c >> (spec.n - 1))
        f = np.nan if v == "nan" else np.inf if v == "inf" else float(v)
        out.append(-f if neg else f)
    return np.array(out)


def test_registry_and_parameters():
    assert F.names()[-6:] == ["fp8_e4m3", "fp8_e5m2", "bf16", "fp16", "fp6_e3m2", "fp6_e2m3"]
    e4, e5 = F.get("fp8_e4m3"), F.get("fp8_e5m2")
    assert (e4.max_value, e5.max_value, F.get("fp16").max_value) == (448.0, 57344.0, 65504.0)
    assert (e4.nar_code, e5.nar_code, F.get("bf16").nar_code, e5.inf_code) == (0x7F, 0x7E, 0x7FC0, 0x7C)
    assert e4.has_nar and not e4.has_inf and e5.has_inf and not F.get("fp4_e2m1").has_nar
    assert F.get("fp4_e2m1") == Minifloat(2, 1, bias=1, inf_nan="none", saturate=True, nan_code=8)
    assert isinstance(F.get("fp4_e2m1"), FP4E2M1) and F.parse("bf16") is F.get("bf16")
    assert Minifloat(4, 3, inf_nan="fn") == e4 and Minifloat(5, 2) != e4
    assert e4.exact_acc_bits(32) == 42 and F.get("bf16").scale_min == -133
    e3m2, e2m3 = F.get("fp6_e3m2"), F.get("fp6_e2m3")
    assert (e3m2.bias, e3m2.max_value, e3m2.min_positive) == (3, 28.0, 0.0625)
    assert (e2m3.bias, e2m3.max_value, e2m3.min_positive) == (1, 7.5, 0.125)
    assert not (e3m2.has_nar or e3m2.has_inf or e2m3.has_nar or e2m3.has_inf)
    assert e3m2 == Minifloat(3, 2, inf_nan="none", saturate=True, nan_code=0x20) != e2m3
    assert list(e3m2.encode([np.nan, -np.nan, np.inf, -np.inf, 1e9])) == [0x20, 0x20, 0x1F, 0x3F, 0x1F]


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Minifloat(0, 3, inf_nan="fn"), ValueError, r"Minifloat exp_bits must be an integer in \[1, 8\]"),
        (lambda: Minifloat(1, 3), ValueError, r"exp_bits must be an integer in \[2, 8\], not 1"),
        (lambda: Minifloat(4, 0), ValueError, r"man_bits must be an integer in \[1, 23\], not 0"),
        (lambda: Minifloat(4, 3, inf_nan="x"), ValueError, "inf_nan must be one of ieee, fn, none, not 'x'"),
        (lambda: Minifloat(2, 1, inf_nan="none"), ValueError, "needs saturate=True"),
        (lambda: Minifloat(4, 3, subnormals=1), TypeError, "subnormals must be a bool, not 1"),
        (lambda: Minifloat(4, 3, nan_code=0), ValueError, "nan_code is for inf_nan='none'"),
        (lambda: Minifloat(1, 2, inf_nan="none", saturate=True).encode([np.nan]), ValueError, "cannot encode nan"),
        (lambda: F.get("fp4_e2m1").nar_code, ValueError, "fp4_e2m1 has no NaN"),
        (lambda: F.get("fp8_e4m3").inf_code, ValueError, "fp8_e4m3 has no Inf"),
    ],
)
def test_bad_parameters_are_rejected(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("name", list(NAMED))
def test_decode_every_code_vs_ml_dtypes_and_the_definition(name):
    f = F.get(name)
    spec, t = NAMED[name]
    vals, _ = _codes_as(f, t)
    with np.errstate(invalid="ignore"):
        ref = vals.astype(np.float64)
    got = f.decode(np.arange(f.n_codes))
    np.testing.assert_array_equal(got, ref)  # nan positions included
    num = ~np.isnan(ref)
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(ref[num]))  # -0 and -inf
    np.testing.assert_array_equal(got, _oracle_decode(spec))
    d = f.decompose(np.arange(f.n_codes))
    np.testing.assert_array_equal(d.nar, np.isnan(ref))
    np.testing.assert_array_equal(d.inf, np.isinf(ref))
    assert not d.sign[d.nar].any() and not d.sig[d.nar | d.inf | d.zero].any()


def _float32_inputs(f, t) -> np.ndarray:
    """Every value, every midpoint between neighbours (and the overflow boundary), their float32 neighbours,
    overflow, +-inf, nan and -nan, both signs: all float32, so ml_dtypes rounds them once."""
    v = f.decode(np.arange(f.n_codes))
    v = np.unique(np.abs(v[np.isfinite(v)]))
    top = v[-1] + (v[-1] - v[-2]) / 2
    mids = np.concatenate([(v[:-1] + v[1:]) / 2, [top, v[1] / 2]]).astype(np.float32)
    near = np.concatenate([np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(0))])
    x = np.concatenate([v.astype(np.float32), mids, near, np.float32([1e38, 3e38, np.inf, 1e-45, 0.0])])
    return np.concatenate([x, -x, np.float32([np.nan, -np.nan])])


@pytest.mark.parametrize("name", list(NAMED))
def test_encode_float32_inputs_vs_ml_dtypes_and_the_oracle(name):
    f = F.get(name)
    spec, t = NAMED[name]
    x = _float32_inputs(f, t)
    if not f.has_nar:  # ml_dtypes: -nan -> +0 in formats without NaN (see the module docstring)
        x = x[~(np.isnan(x) & np.signbit(x))]
    dt = np.uint8 if f.nbits <= 8 else np.uint16
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(t).view(dt)
    got = f.encode(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{bad.size} differ; first x={x[bad[0]]!r}: npegen {got[bad[0]]:#x}, "
                           f"ml_dtypes {want[bad[0]]:#x}")
    np.testing.assert_array_equal(got, spec.round_f64(x.astype(np.float64)))


def _float64_inputs(f, rng) -> np.ndarray:
    """Midpoints nudged by float64 ulps (a hair above / below a tie, where float32 rounding would move them),
    and log-uniform values over the range and beyond."""
    v = f.decode(np.arange(f.n_codes))
    v = np.unique(np.abs(v[np.isfinite(v)]))
    mids = (v[:-1] + v[1:]) / 2
    mids = mids[rng.choice(mids.size, min(mids.size, 3000), replace=False)]
    nudged = np.concatenate([mids * (1 + 2.0**-40), mids * (1 - 2.0**-40), np.nextafter(mids, np.inf),
                             np.nextafter(mids, 0)])
    lo, hi = np.log2(f.min_positive) - 3, np.log2(f.max_value) + 3
    rnd = 2.0 ** rng.uniform(lo, hi, 4000) * (1 + rng.random(4000))
    x = np.concatenate([nudged, rnd, [5e-324, 1e-300, 1e300]])
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name", list(NAMED) + list(CORNERS))
def test_encode_float64_inputs_vs_the_exact_oracle(name, seed):
    f, spec = (F.get(name), NAMED[name][0]) if name in NAMED else CORNERS[name]
    x = _float64_inputs(f, np.random.default_rng(seed))
    want = spec.round_f64(x)
    got = f.encode(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} differ; first x={x[bad[0]]!r}: npegen {got[bad[0]]:#x}, oracle {want[bad[0]]:#x}"
    # the vectorised oracle agrees with its exact-rational form on a sample
    for xi in x[:: max(1, x.size // 300)]:
        assert spec.round_frac(Fraction(float(xi)), bool(np.signbit(xi))) == spec.round_f64(np.array([xi]))[0], xi


@pytest.mark.parametrize("name", list(CORNERS))
def test_corner_formats_decode_every_code_vs_the_definition(name):
    f, spec = CORNERS[name]
    np.testing.assert_array_equal(f.decode(np.arange(f.n_codes)), _oracle_decode(spec))


def _ieee_special(spec: Spec, a: np.ndarray, b: np.ndarray, op: str, exact: np.ndarray) -> np.ndarray:
    """Oracle codes of ``a op b`` (float64 operand values): finite results rounded by the table; NaN operands,
    ``0 * inf`` and ``inf - inf`` give the canonical NaN, Inf operands Inf (IEEE 754)."""
    out = spec.round_f64(exact)
    if op == "mul":
        zero_sign = np.signbit(a) ^ np.signbit(b)
    else:
        zero_sign = np.signbit(a) & np.signbit(b)
    out = np.where(exact == 0, zero_sign.astype(np.int64) << (spec.n - 1), out)
    inf = np.isinf(exact)
    out = np.where(inf, spec.inf_or_limit(False) | (np.signbit(exact).astype(np.int64) << (spec.n - 1)), out)
    return np.where(np.isnan(exact), spec.nan_code(False), out)


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "e4m3_sat", "e3m2_ftz"])
def test_mul_and_add_all_pairs_vs_the_exact_oracle(name):
    """Every pair of codes: products and sums are exact in float64 for 8-bit formats (<= 8 significant bits;
    sums span <= 34 bits), so the oracle rounds the exact value once."""
    f, spec = (F.get(name), NAMED[name][0]) if name in NAMED else CORNERS[name]
    a, b = np.meshgrid(np.arange(f.n_codes), np.arange(f.n_codes), indexing="ij")
    a, b = a.ravel(), b.ravel()
    va, vb = _oracle_decode(spec)[a], _oracle_decode(spec)[b]
    with np.errstate(invalid="ignore"):
        prod, summ = va * vb, va + vb
    with np.errstate(invalid="ignore"):  # 0 * inf and inf - inf inside the model's float64 products
        np.testing.assert_array_equal(f.mul(a, b), _ieee_special(spec, va, vb, "mul", prod))
    np.testing.assert_array_equal(f.add(a, b), _ieee_special(spec, va, vb, "add", summ))


@pytest.mark.parametrize("name", list(NAMED))
def test_dot_is_exact_then_rounded_once(name, seed):
    """Random finite vectors (lengths 1 to 40) summed as exact rationals and rounded once by the oracle; then
    Inf / NaN operands: NaN wins, Inf with Inf of the other sign or with 0 is NaN, otherwise Inf."""
    f = F.get(name)
    spec = NAMED[name][0]
    rng = np.random.default_rng(seed)
    vals = _oracle_decode(spec)
    finite = np.flatnonzero(np.isfinite(vals))
    for k in (1, 2, 7, 40):
        a = rng.choice(finite, (25, k))
        b = rng.choice(finite, (25, k))
        got = f.dot(a, b)
        for r in range(a.shape[0]):
            s = sum(Fraction(float(vals[x])) * Fraction(float(vals[y])) for x, y in zip(a[r], b[r], strict=True))
            want = 0 if s == 0 else spec.round_frac(s, s < 0)
            assert got[r] == want, (name, k, r, got[r], want)
    if f.has_nar:
        one = int(f.encode(1.0))
        nan = f.nar_code
        rows = [[one, nan], [one, one]]
        assert f.dot(np.array(rows[0]), np.array(rows[1])) == nan
    if f.has_inf:
        one, inf, ninf = int(f.encode(1.0)), f.inf_code, f.inf_code | 1 << (f.nbits - 1)
        assert f.dot(np.array([inf, one]), np.array([one, one])) == inf
        assert f.dot(np.array([inf, ninf]), np.array([one, one])) == f.nar_code
        assert f.dot(np.array([inf, one]), np.array([0, one])) == f.nar_code
        assert f.dot(np.array([ninf, inf]), np.array([one, ninf])) == ninf


@pytest.mark.parametrize("name", list(NAMED))
def test_encode_fields_round_trips_and_overflows(name):
    """``encode_fields`` (the encoder's model): every finite code's own fields give the code back, the NaN flag
    gives the canonical NaN, and a scale past the range gives the overflow code."""
    f = F.get(name)
    spec = NAMED[name][0]
    codes = np.arange(f.n_codes)
    d = f.decompose(codes)
    ok = ~(d.nar | d.inf)
    back = f.encode_fields(d.sign[ok], d.scale[ok], d.sig[ok], frac_in=f.frac_bits, zero=d.zero[ok])
    np.testing.assert_array_equal(back, codes[ok])
    if f.has_nar:
        assert f.encode_fields(1, 0, 1 << f.frac_bits, frac_in=f.frac_bits, nar=1) == f.nar_code
    assert f.encode_fields(1, f.scale_max + 1, 1 << f.frac_bits, frac_in=f.frac_bits) == spec.overflow_code(True)
