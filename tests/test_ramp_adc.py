"""RampADC model: the integer tables against the convention evaluated independently (mpmath, 50 digits),
thresholds, LUT mode for non-monotone functions, count-down, and parameter validation."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from npegen.models.ramp_adc import RampADC, RampAdcParams

mpmath.mp.dps = 50

ORACLE_F = {"sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "tanh": mpmath.tanh}


def oracle_codes(fn: str, n: int, in_bits: int, lsb: float, y_range) -> np.ndarray:
    """The convention in 50-digit arithmetic: clip(floor((f(x) - y_lo)/delta + 1/2), 0, L-1) per input."""
    lo, hi = (mpmath.mpf(v) for v in y_range)
    levels = 2**n
    out = []
    for x in range(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1)):
        f = ORACLE_F[fn](mpmath.mpf(x) * mpmath.mpf(lsb))
        q = int(mpmath.floor((f - lo) * (levels - 1) / (hi - lo) + mpmath.mpf(1) / 2))
        out.append(min(max(q, 0), levels - 1))
    return np.array(out)


CASES = [(fn, n, ib, lsb) for fn in ("sigmoid", "tanh") for n in (3, 4, 5, 8)
         for ib, lsb in ((6, 1 / 4), (8, 1 / 16), (10, 1 / 64), (12, 1 / 256), (12, 0.01))]


@pytest.mark.parametrize(("fn", "n", "in_bits", "lsb"), CASES)
def test_convert_equals_the_convention_for_every_input(fn, n, in_bits, lsb):
    adc = RampADC(fn, n, in_bits, lsb)
    xs = np.arange(adc.x_min, adc.x_max + 1)
    want = oracle_codes(fn, n, in_bits, lsb, adc.y_range)
    np.testing.assert_array_equal(adc.convert(xs), want)
    np.testing.assert_array_equal(adc.table, want)
    # the threshold form: code = #{k : x >= T_k}; each threshold is the first input at its level
    t = adc.thresholds
    assert t.shape == (2**n - 1,) and (np.diff(t) >= 0).all() and adc.cycles == 2**n - 1
    for k, tk in enumerate(t, start=1):
        if tk <= adc.x_max:
            assert adc.convert(np.array([tk]))[0] >= k
        if tk - 1 >= adc.x_min:
            assert adc.convert(np.array([tk - 1]))[0] < k
    assert adc.offset == t[0] and adc.steps.tolist() == np.diff(t).tolist()


def test_worked_example_of_the_reference_sheet():
    tanh = RampADC("tanh", 5, 8, 1 / 32)
    assert tanh.thresholds.tolist() == [-65, -47, -38, -32, -28, -24, -21, -18, -15, -13, -10, -8, -6, -4, -2, 0, 3,
                                        5, 7, 9, 11, 14, 16, 19, 22, 25, 29, 33, 39, 48, 66]
    # tanh(x) = 2 sigmoid(2x) - 1: the same thresholds for sigmoid at half the LSB value
    assert RampADC("sigmoid", 5, 8, 1 / 16).thresholds.tolist() == tanh.thresholds.tolist()
    assert tanh.convert(np.array([0]))[0] == 16  # tanh(0) = 0 sits exactly on level 15.5: round half up


def test_value_and_call():
    adc = RampADC("sigmoid", 5, 10, 1 / 64)
    assert adc.value(np.array([0, 31])).tolist() == [0.0, 1.0]
    assert math.isclose(adc.delta, 1 / 31)
    x = np.linspace(-8, 8, 101)
    assert np.abs(adc(x) - 1 / (1 + np.exp(-x))).max() <= adc.delta / 2 + adc.in_lsb / 4 + 1e-12


def test_non_monotone_functions_use_a_code_table():
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
    adc = RampADC(lambda x: -np.tanh(x), 4, 8, 1 / 16, (-1, 1))
    assert adc.mode == "down"
    xs = np.arange(-127, 128)  # -tanh(x) = tanh(-x)
    np.testing.assert_array_equal(adc.convert(xs), RampADC("tanh", 4, 8, 1 / 16).convert(-xs))
    np.testing.assert_array_equal(adc.convert(np.arange(-128, 128)), adc.table)


def test_from_thresholds_round_trips():
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
    with pytest.raises(exc, match=match):
        make()


def test_params_round_trip():
    for p in (RampAdcParams(), RampAdcParams(fn="gelu", y_range=(-0.2, 2.0), lut=True, ramp="accumulator")):
        assert RampAdcParams.from_env(p.to_env()) == p
    assert RampAdcParams().latency == 31
