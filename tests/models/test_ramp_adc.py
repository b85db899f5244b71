"""RampADC model: the integer tables of every built-in function (and decreasing callables) in up, count-down and
LUT modes against an independent evaluation of the package convention -- 50-digit mpmath, or exact rationals
for hardsigmoid -- including bit widths (N = 1, 2, ...) and output ranges where ``v + 1/2`` lands exactly on an
odd level; thresholds, worked example, parameter validation."""

from __future__ import annotations

import bisect
import functools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from npegen.models.ramp_adc import RampADC, RampAdcParams

DPS = 50


def _neg_tanh(x):
    return -np.tanh(x)


def _sigmoid_of_minus(x):
    return 1.0 / (1.0 + np.exp(x))


#: What the model is given: a built-in name, or (a float64 callable, its y_range) for the count-down cases.
MODEL_FN = {"neg_tanh": (_neg_tanh, (-1.0, 1.0)), "sigmoid_of_minus": (_sigmoid_of_minus, (0.0, 1.0))}

#: The oracle's own f, written independently of npegen (50 digits; GELU through mpmath's normal CDF).
ORACLE_F = {
    "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    "tanh": mpmath.tanh,
    "gelu": lambda v: v * mpmath.ncdf(v),
    "silu": lambda v: v / (1 + mpmath.exp(-v)),
    "neg_tanh": lambda v: -mpmath.tanh(v),
    "sigmoid_of_minus": lambda v: 1 / (1 + mpmath.exp(v)),
}
#: Rational functions in exact arithmetic: hardsigmoid(x) = relu6(x + 3) / 6.
EXACT_F = {"hardsigmoid": lambda q: min(max(q + 3, Fraction(0)), Fraction(6)) / 6}
#: The natural output ranges the model documents for named functions; the others span f over the input grid.
NATURAL = {"sigmoid": (0, 1), "tanh": (-1, 1), "hardsigmoid": (0, 1), "neg_tanh": (-1, 1), "sigmoid_of_minus": (0, 1)}


def make_adc(fn: str, n: int, in_bits: int, lsb: float, y_range=None, lut=None) -> RampADC:
    if fn in MODEL_FN:
        f, natural = MODEL_FN[fn]
        return RampADC(f, n, in_bits, lsb, natural if y_range is None else y_range, lut=lut)
    return RampADC(fn, n, in_bits, lsb, y_range, lut=lut)


@functools.cache
def oracle_f(fn: str, in_bits: int, lsb: float) -> tuple:
    """f at every input code x_min .. x_max: Fractions (exact) or 50-digit mpf."""
    xs = range(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1))
    if fn in EXACT_F:
        q = Fraction(lsb)  # the float lsb is a binary fraction: exact
        return tuple(EXACT_F[fn](x * q) for x in xs)
    with mpmath.workdps(DPS):
        return tuple(ORACLE_F[fn](mpmath.mpf(x) * mpmath.mpf(lsb)) for x in xs)


def oracle_codes(fn: str, n: int, in_bits: int, lsb: float, y_range=None):
    """The convention evaluated independently, in its counting form (ramp_adc.md section 2): code(x) =
    #{k in 1..L-1 : f(x) >= y_lo + (k - 1/2) * delta} -- a level reached exactly counts. Compared as
    2 (L-1) (f - y_lo) >= (2k - 1) (y_hi - y_lo), which is exact for rational f and dyadic y_lo, y_hi.

    Returns (codes, y_range used, odd-level ties): the inputs where f lands exactly on a level k - 1/2 with k
    odd (there, round-half-even would give k - 1 instead of k)."""
    fx = oracle_f(fn, in_bits, lsb)
    levels = 2**n
    with mpmath.workdps(DPS):
        exact = fn in EXACT_F
        num = Fraction if exact else mpmath.mpf
        if y_range is None:
            y_range = NATURAL.get(fn) or (min(fx), max(fx))
        lo, hi = (v if isinstance(v, (Fraction, mpmath.mpf)) else num(v) for v in y_range)
        bounds = [(2 * k - 1) * (hi - lo) for k in range(1, levels)]
        codes, ties = [], []
        for i, f in enumerate(fx):
            key = 2 * (levels - 1) * (f - lo)
            c = bisect.bisect_right(bounds, key)  # #{k : key >= bound_k}
            codes.append(c)
            if c % 2 and key == bounds[c - 1]:
                ties.append((i - 2 ** (in_bits - 1), c))
    return np.array(codes, dtype=np.int64), (float(lo), float(hi)), ties


def check_against_oracle(fn, n, in_bits, lsb, y_range=None, lut=None) -> tuple[RampADC, list]:
    """Model tables == oracle codes on every input; thresholds/breakpoints as the reference sheet defines them."""
    adc = make_adc(fn, n, in_bits, lsb, y_range, lut)
    want, yr, ties = oracle_codes(fn, n, in_bits, lsb, y_range)
    assert adc.y_range == pytest.approx(yr, rel=1e-15, abs=1e-300), "default y_range"
    xs = np.arange(adc.x_min, adc.x_max + 1)
    got = adc.convert(xs)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{adc!r}: {bad.size} codes differ from the oracle, first x={xs[bad[0]]}: "
                           f"model {got[bad[0]]}, oracle {want[bad[0]]}")
    np.testing.assert_array_equal(adc.table, want)
    d = np.diff(want)
    if adc.mode == "up":  # T_k = the smallest input whose code reaches k (x_max + 1 if none)
        assert lut is not True and (d >= 0).all()
        t = [int(xs[np.argmax(want >= k)]) if (want >= k).any() else adc.x_max + 1 for k in range(1, 2**n)]
        assert adc.thresholds.tolist() == t and adc.cycles == 2**n - 1
    elif adc.mode == "down":  # the counter counts down: T_k = the smallest input whose code is <= L-1-k
        assert lut is not True and (d <= 0).all() and (d < 0).any()
        t = [int(xs[np.argmax(want <= 2**n - 1 - k)]) if (want <= 2**n - 1 - k).any() else adc.x_max + 1
             for k in range(1, 2**n)]
        assert adc.thresholds.tolist() == t and adc.cycles == 2**n - 1
    else:  # one ramp step per breakpoint, the LUT holds the code of each segment
        assert lut is True or ((d > 0).any() and (d < 0).any())
        brk = xs[1:][d != 0]
        if brk.size:
            assert adc.thresholds.tolist() == brk.tolist()
            assert adc.lut_table.tolist() == [int(want[0])] + want[1:][d != 0].tolist()
    assert adc.offset == adc.thresholds[0] and adc.steps.tolist() == np.diff(adc.thresholds).tolist()
    return adc, ties


GRIDS = [(6, 1 / 4), (8, 1 / 16), (10, 1 / 64)]
FNS = ["sigmoid", "tanh", "hardsigmoid", "gelu", "silu", "neg_tanh", "sigmoid_of_minus"]
CASES = ([(fn, n, ib, lsb) for fn in FNS for n in (1, 2, 3, 5, 8) for ib, lsb in GRIDS]
         + [(fn, n, 12, lsb) for fn in ("sigmoid", "tanh", "hardsigmoid") for n in (4, 8) for lsb in (1 / 256, 0.01)])
MODES = {"sigmoid": "up", "tanh": "up", "hardsigmoid": "up", "neg_tanh": "down", "sigmoid_of_minus": "down"}


@pytest.mark.parametrize(("fn", "n", "in_bits", "lsb"), CASES, ids=lambda v: f"{v:g}" if isinstance(v, float) else v)
def test_convert_equals_the_convention_for_every_input(fn, n, in_bits, lsb):
    """Every input code of every built-in (up or LUT) and of two decreasing functions (count-down), N = 1 .. 8:
    the model's codes, thresholds and LUT equal the independent 50-digit / exact evaluation."""
    adc, _ = check_against_oracle(fn, n, in_bits, lsb)
    if fn in MODES:
        assert adc.mode == MODES[fn]


@pytest.mark.parametrize("fn", ["sigmoid", "tanh", "hardsigmoid", "neg_tanh", "gelu"])
@pytest.mark.parametrize("n", [1, 3, 5])
def test_lut_mode_of_any_function_equals_the_convention(fn, n):
    """``lut=True`` (one ramp step per code change, the code from the table) for monotone functions too."""
    adc, _ = check_against_oracle(fn, n, 9, 1 / 32, lut=True)
    assert adc.mode == "lut"


#: (fn, N, in_bits, lsb, y_range, lut, mode): each has inputs where v + 1/2 is exactly an odd integer.
TIE_CASES = [
    ("sigmoid", 1, 6, 1 / 4, None, None, "up"),  # sigmoid(0) = 1/2 -> v = 1/2 -> code 1
    ("tanh", 1, 8, 1 / 16, None, None, "up"),  # tanh(0) = 0 -> v = 1/2
    ("sigmoid", 2, 8, 1 / 16, (0.25, 1.75), None, "up"),  # v(0) = 1/4 * 3 / 1.5 = 1/2
    ("tanh", 2, 8, 1 / 16, (-0.25, 1.25), None, "up"),
    ("tanh", 2, 8, 1 / 16, (-0.25, 1.25), True, "lut"),
    ("hardsigmoid", 1, 8, 1 / 16, None, None, "up"),  # x = 0: v = 1/2
    ("hardsigmoid", 2, 6, 1 / 4, None, None, "up"),  # x = -2, 2: v = 1/2, 5/2
    ("hardsigmoid", 4, 10, 1 / 64, None, None, "up"),  # x = -2, 2: v = 5/2, 25/2 (float64 gives 12.4999...)
    ("hardsigmoid", 8, 8, 1 / 8, None, None, "up"),
    ("hardsigmoid", 2, 8, 1 / 16, None, True, "lut"),
    ("gelu", 2, 8, 1 / 16, (-0.25, 1.25), None, "up"),  # gelu(0) = 0 -> v = 1/2; the dip stays at code 0
    ("gelu", 3, 8, 1 / 16, (-0.3125, 0.5625), None, "lut"),  # v(0) = 5/2: code 3; the dip reaches code 1
    ("silu", 3, 8, 1 / 16, (-0.3125, 0.5625), None, "lut"),
    ("silu", 1, 7, 1 / 8, (-1.0, 1.0), None, "up"),
    ("neg_tanh", 1, 8, 1 / 16, None, None, "down"),
    ("neg_tanh", 2, 8, 1 / 16, (-1.25, 0.25), None, "down"),  # v(0) = 1.25 * 3 / 1.5 = 5/2
    ("sigmoid_of_minus", 1, 7, 1 / 8, None, None, "down"),
]


@pytest.mark.parametrize(("fn", "n", "in_bits", "lsb", "y_range", "lut", "mode"), TIE_CASES,
                         ids=[f"{c[0]}-n{c[1]}-i{c[2]}-{c[4]}-{'lut' if c[5] else 'auto'}" for c in TIE_CASES])
def test_exact_ties_at_odd_levels_round_half_up(fn, n, in_bits, lsb, y_range, lut, mode):
    """Inputs where ``(f - y_lo)/delta + 1/2`` is exactly an odd integer k: the convention gives k (a level reached
    exactly counts), round-half-to-even (``np.rint``) would give k - 1. Every mode and N = 1, 2."""
    adc, ties = check_against_oracle(fn, n, in_bits, lsb, y_range, lut)
    assert adc.mode == mode
    assert ties, "the case must contain an exact tie at an odd level"
    for x, k in ties:
        assert adc.convert(np.array([x]))[0] == k, f"x={x}: tie at level {k - 0.5}"


def test_worked_example_of_the_reference_sheet():
    """The threshold table printed in ramp_adc.md section 2 (a spec table)."""
    tanh = RampADC("tanh", 5, 8, 1 / 32)
    assert tanh.thresholds.tolist() == [-65, -47, -38, -32, -28, -24, -21, -18, -15, -13, -10, -8, -6, -4, -2, 0, 3,
                                        5, 7, 9, 11, 14, 16, 19, 22, 25, 29, 33, 39, 48, 66]
    # tanh(x) = 2 sigmoid(2x) - 1: the same thresholds for sigmoid at half the LSB value
    assert RampADC("sigmoid", 5, 8, 1 / 16).thresholds.tolist() == tanh.thresholds.tolist()
    assert tanh.convert(np.array([0]))[0] == 16  # tanh(0) = 0 sits exactly on level 15.5: round half up


def test_value_and_call():
    """Output values y_lo + code * delta, and real inputs within half a code of sigmoid plus the input rounding."""
    adc = RampADC("sigmoid", 5, 10, 1 / 64)
    assert adc.value(np.array([0, 31])).tolist() == [0.0, 1.0]
    assert math.isclose(adc.delta, 1 / 31)
    x = np.linspace(-8, 8, 101)
    assert np.abs(adc(x) - 1 / (1 + np.exp(-x))).max() <= adc.delta / 2 + adc.in_lsb / 4 + 1e-12


def test_non_monotone_functions_use_a_code_table():
    """Structure of LUT mode: the threshold path (convert) reproduces the formula table; GELU falls then rises."""
    gelu = RampADC("gelu", 5, 10, 1 / 64)
    assert gelu.mode == "lut" and gelu.lut_table.shape == (gelu.cycles + 1,)
    xs = np.arange(gelu.x_min, gelu.x_max + 1)
    np.testing.assert_array_equal(gelu.convert(xs), gelu.table)
    assert (np.diff(gelu.table) < 0).any() and (np.diff(gelu.table) > 0).any()  # it falls, then rises
    silu = RampADC("silu", 4, 10, 1 / 32)
    np.testing.assert_array_equal(silu.convert(xs), silu.table)
    # a monotone function through the LUT path gives the same codes
    forced = RampADC("tanh", 4, 9, 1 / 32, lut=True)
    np.testing.assert_array_equal(forced.convert(np.arange(-256, 256)), RampADC("tanh", 4, 9, 1 / 32).table)


def test_decreasing_functions_count_down():
    """Structure of count-down mode: -tanh(x) counts down and mirrors the up-counting tanh(-x)."""
    adc = RampADC(lambda x: -np.tanh(x), 4, 8, 1 / 16, (-1, 1))
    assert adc.mode == "down"
    xs = np.arange(-127, 128)  # -tanh(x) = tanh(-x)
    np.testing.assert_array_equal(adc.convert(xs), RampADC("tanh", 4, 8, 1 / 16).convert(-xs))
    np.testing.assert_array_equal(adc.convert(np.arange(-128, 128)), adc.table)


def test_from_thresholds_round_trips():
    """Thresholds measured from a chip rebuild the same converter."""
    a = RampADC("tanh", 5, 8, 1 / 32)
    b = RampADC.from_thresholds(a.thresholds, 5, 8)
    assert b.thresholds.tolist() == a.thresholds.tolist()


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: RampADC("gelu", 5, 10, 1 / 64, lut=False), ValueError, "'gelu' is not monotone"),
        (lambda: RampADC("sigmoid", 0, 10, 0.1), ValueError, r"n_bits must be an integer in \[1, 10\], not 0"),
        (lambda: RampADC("sigmoid", 11, 10, 0.1), ValueError, r"n_bits must be an integer in \[1, 10\], not 11"),
        (lambda: RampADC("sigmoid", 5, 17, 0.1), ValueError, r"in_bits must be an integer in \[2, 16\], not 17"),
        (lambda: RampADC("sigmoid", 5, 10, 0.0), ValueError, "in_lsb must be a positive finite number, not 0.0"),
        (lambda: RampADC("sigmoid", 5, 10, "1"), TypeError, "in_lsb must be a positive finite number"),
        (lambda: RampADC("relu6", 5, 10, 0.1), ValueError, "fn must be one of"),
        (lambda: RampADC(3, 5, 10, 0.1), TypeError, "fn must be a function name or a callable"),
        (lambda: RampADC("sigmoid", 5, 10, 0.1, (1, 0)), ValueError, r"y_lo < y_hi, not \(1, 0\)"),
        (lambda: RampADC(lambda x: np.log(x), 5, 10, 0.1), ValueError, "not finite at input code -512"),
        (lambda: RampADC.from_thresholds(np.arange(40, 71), 5, 6), ValueError,
         r"threshold 70 is outside the input range \[-32, 32\]"),
        (lambda: RampADC.from_thresholds(np.arange(31)[::-1], 5, 8), ValueError, "non-decreasing"),
        (lambda: RampADC("tanh", 5, 8, 0.1).convert(np.array([128])), ValueError, r"input code 128 is outside"),
        (lambda: RampADC("tanh", 5, 8, 0.1).convert(np.array([0.5])), TypeError, "must be integers"),
        (lambda: RampAdcParams(n_cols=0), ValueError, r"n_cols must be an integer in \[1, 256\], not 0"),
        (lambda: RampAdcParams(ramp="sar"), ValueError, "ramp must be one of"),
        (lambda: RampAdcParams(column="x"), ValueError, "column must be one of"),
    ],
)
def test_bad_input(make, exc, match):
    """Invalid parameters and inputs raise with the documented message."""
    with pytest.raises(exc, match=match):
        make()


def test_params_round_trip():
    """RampAdcParams survives the testbench environment; the default point takes 31 cycles."""
    for p in (RampAdcParams(), RampAdcParams(fn="gelu", y_range=(-0.2, 2.0), lut=True, ramp="accumulator")):
        assert RampAdcParams.from_env(p.to_env()) == p
    assert RampAdcParams().latency == 31
