"""MX block scaling (MXFP4, MXINT8) against ml_dtypes (E2M1, E8M0) and exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from npegen.models.formats import Posit, get
from npegen.models.mx import E8M0_NAN, MXFormat, MXTensor, e8m0_decode


def _f32_exact(rng, shape, spread=6):
    # float32-representable inputs (ml_dtypes converts through float32), magnitudes over 2**+-spread
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-spread, spread, shape[:-1] + (1,)))
    return x.astype(np.float32).astype(np.float64)


def test_mxfp4_quantize_matches_ml_dtypes(seed):
    """MXFP4 scales = floor(log2(amax)) - 2 as E8M0 (via ml_dtypes), elements = the scaled values rounded by
    ml_dtypes ``float4_e2m1fn`` from float32 (exact inputs); all-zero block and a huge outlier included."""
    rng = np.random.default_rng(seed)
    x = _f32_exact(rng, (40, 128))
    x[0, :32] = 0.0  # an all-zero block
    x[1, 5] = float(np.float32(1e30))  # a huge outlier (a float32 value, as every input here)
    mx = MXFormat.mxfp4()
    t = mx.quantize(x)
    xb = x.reshape(40, 4, 32)
    amax = np.abs(xb).max(axis=-1)
    shared = np.where(amax > 0, np.floor(np.log2(np.where(amax > 0, amax, 1))) - 2, -127).astype(int)
    want_scales = np.exp2(shared.astype(float)).astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    np.testing.assert_array_equal(t.scales, want_scales)
    scaled = xb / np.exp2(shared)[..., None]
    # ml_dtypes only judges float32 inputs (older versions round float64 twice): the scaled values are float32's
    assert np.array_equal(scaled.astype(np.float32).astype(np.float64), scaled)
    want = scaled.astype(np.float32).astype(ml_dtypes.float4_e2m1fn).view(np.uint8).reshape(x.shape)
    np.testing.assert_array_equal(t.elements, want)
    assert mx.bits_per_element == 4.25 and mx.name == "mxfp4"
    # the block maximum lands in [4, 8) before rounding: never more than one saturation step
    err = np.abs(t.dequantize() - x) / np.repeat(np.exp2(shared), 32, axis=-1).reshape(x.shape)
    assert err.max() <= 2.0


def test_mxint8_quantize_is_symmetric_and_matches_the_rule(seed):
    """MXINT8 elements = round-half-even of x / 2**floor(log2 amax) * 64 (numpy, not the model), clamped to the
    symmetric range [-127, 127]; a value that rounds to -128 becomes -127."""
    rng = np.random.default_rng(seed)
    x = _f32_exact(rng, (20, 64))
    x[3, :32] = -np.abs(x[3, :32]).max() * np.linspace(1, 0, 32)  # most negative at the block max
    x[5, 32:64] = np.linspace(-1, 1, 32)
    x[5, 32] = -(2 - 2.0**-8)  # scales to -127.75: rounds to -128, which the symmetric range clamps to -127
    mx = MXFormat.mxint8()
    t = mx.quantize(x)
    el = t.elements.view(np.int8).astype(int)
    assert el.min() >= -127 and el.max() <= 127
    assert el[5, 32] == -127
    xb = x.reshape(20, 2, 32)
    amax = np.abs(xb).max(axis=-1)
    shared = np.floor(np.log2(amax)).astype(int)  # emax_elem = 0 for int8 * 2**-6
    want = np.clip(np.rint(xb / np.exp2(shared)[..., None] * 64), -127, 127).astype(int).reshape(x.shape)
    np.testing.assert_array_equal(el, want)
    assert mx.bits_per_element == 8.25


def _oracle_dequantize(mx: MXFormat, t: MXTensor) -> np.ndarray:
    """Element and scale values decoded without the model: ml_dtypes ``float4_e2m1fn`` (or int8 two's complement
    times the implicit 2**-6) and ml_dtypes ``float8_e8m0fnu`` for the E8M0 scales."""
    if mx.element_format.name == "fp4_e2m1":
        el = t.elements.astype(np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float64)
    else:
        el = t.elements.astype(np.uint8).view(np.int8).astype(np.float64) * 2.0**-6
    sc = t.scales.astype(np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    return el * np.repeat(sc, mx.block, axis=-1)


@pytest.mark.parametrize("mx", [MXFormat.mxfp4(), MXFormat.mxint8(), MXFormat.mxfp4(block=16)], ids=str)
def test_mx_dot_is_exact(mx, seed):
    """``dot`` = the exact rational sum of the element products (values decoded by ml_dtypes, not the model),
    rounded once to float64; ``dequantize`` gives the same element values."""
    rng = np.random.default_rng(seed)
    a = mx.quantize(_f32_exact(rng, (30, 96), spread=40))
    b = mx.quantize(_f32_exact(rng, (30, 96), spread=40))
    got = mx.dot(a, b)
    va, vb = _oracle_dequantize(mx, a), _oracle_dequantize(mx, b)
    np.testing.assert_array_equal(a.dequantize(), va)
    for r in range(30):
        exact = sum((Fraction(x) * Fraction(y) for x, y in zip(va[r], vb[r], strict=True)), Fraction(0))
        assert got[r] == float(exact)


def test_e8m0_and_special_blocks():
    np.testing.assert_array_equal(e8m0_decode([0, 127, 128, 254]), [2.0**-127, 1.0, 2.0, 2.0**127])
    assert np.isnan(e8m0_decode(E8M0_NAN))
    want = np.array([0, 127, 128, 254], np.uint8)
    np.testing.assert_array_equal(np.exp2([-127.0, 0, 1, 127]).astype(ml_dtypes.float8_e8m0fnu).view(np.uint8), want)
    mx = MXFormat.mxfp4(block=4)
    t = mx.quantize([[0, 0, 0, 0, 1, np.nan, 2, 3]])
    assert list(t.scales[0]) == [0, E8M0_NAN]
    assert np.isnan(mx.dot(t, t)[0])


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: MXFormat(get("fp4_e2m1"), 0), ValueError, r"block must be an integer in \[1, 1024\], not 0"),
        (lambda: MXFormat(get("fp4_e2m1"), 32.0), TypeError, r"block must be an integer .* not 32\.0"),
        (lambda: MXFormat("fp4", 32), TypeError, "element_format must be a npegen Format, not 'fp4'"),
        (lambda: MXFormat(Posit(8, 0)), ValueError, "MX elements must be FP4 or INT formats, not posit8_0"),
        (lambda: MXFormat.mxfp4().quantize(np.zeros((2, 33))), ValueError,
         r"last axis \(33\) must be a multiple of the block size 32"),
        (lambda: MXFormat.mxfp4().dequantize(np.zeros((2, 32), np.uint8), np.zeros((2, 2), np.uint8)), ValueError,
         r"scales must have shape \(2, 1\)"),
        (lambda: MXFormat.mxfp4().dot(np.zeros(32), np.zeros(32)), TypeError, "dot takes MXTensors of mxfp4"),
        (lambda: e8m0_decode([256]), ValueError, "E8M0 codes are 8-bit"),
    ],
)
def test_mx_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_mxtensor_round_trip_of_representable_values():
    mx = MXFormat.mxfp4(block=8)
    vals = np.array([[0.5, 1, 1.5, 2, 3, 4, 6, -6]]) * 2.0**-10
    t = mx.quantize(vals)
    assert isinstance(t, MXTensor)
    np.testing.assert_array_equal(t.dequantize(), vals)
