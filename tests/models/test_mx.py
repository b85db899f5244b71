"""Block scaling (MXFP4, MXFP8 E4M3/E5M2, MXINT8, NVFP4-style) against independent oracles.

* ml_dtypes decodes every code (``float4_e2m1fn``, ``float8_e4m3fn``, ``float8_e5m2``, ``float8_e8m0fnu``) and
  rounds float32 inputs (one rounding) for the MX elements; out-of-range values are clipped to the element
  maximum first, which is the MX conversion's "clamping normal numbers".
* :func:`_rne` is an exact round-to-nearest-even written here with ``Fraction`` from the binary-format
  definition (checked against ml_dtypes itself below); it is the oracle wherever the rounded value is not a
  float32 (NVFP4 scales and elements, the float32 tensor scale).
* Dot products are summed as ``Fraction`` from the ml_dtypes-decoded values.

Decoding is exhaustive (every scale code times every element code); quantisation uses seeded random inputs (the
seed is printed) plus hand-written corner tables.
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from npegen.models.formats import Posit, get
from npegen.models.mx import (
    E8M0_NAN,
    UE4M3_NAN,
    MXFormat,
    MXTensor,
    NVFP4Format,
    NVFP4Tensor,
    e8m0_decode,
    ue4m3_decode,
)

# element format name -> (ml_dtypes type, fraction bits, smallest normal exponent, max, emax_elem)
ELEM = {
    "fp4_e2m1": (ml_dtypes.float4_e2m1fn, 1, 0, 6.0, 2),
    "fp8_e4m3": (ml_dtypes.float8_e4m3fn, 3, -6, 448.0, 8),
    "fp8_e5m2": (ml_dtypes.float8_e5m2, 2, -14, 57344.0, 15),
}
MXFP8 = {"fp8_e4m3": MXFormat.mxfp8_e4m3, "fp8_e5m2": MXFormat.mxfp8_e5m2}


def _floor_log2(q: Fraction) -> int:
    e = q.numerator.bit_length() - q.denominator.bit_length()
    return e - 1 if q < Fraction(2) ** e else e


def _rne(q: Fraction, man: int, emin: int, vmax: float | None = None) -> Fraction:
    """``q`` rounded to nearest, ties to even, in a binary format with ``man`` fraction bits and smallest normal
    exponent ``emin`` (subnormals below), saturating at ``vmax`` (when given); the sign is kept."""
    if q == 0:
        return q
    a = abs(q)
    ulp = Fraction(2) ** (max(_floor_log2(a), emin) - man)
    n, r = divmod(a, ulp)
    if r > ulp / 2 or (r == ulp / 2 and n % 2):
        n += 1
    v = n * ulp
    if vmax is not None and v > vmax:
        v = Fraction(vmax)
    return v if q > 0 else -v


def _decode(name: str, codes) -> np.ndarray:
    return np.asarray(codes).astype(np.uint8).view(ELEM[name][0]).astype(np.float64)


def _e8m0(codes) -> np.ndarray:
    return np.asarray(codes).astype(np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float64)


def _f32_exact(rng, shape, spread=6):
    # float32-representable inputs (ml_dtypes converts through float32), magnitudes over 2**+-spread
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-spread, spread, shape[:-1] + (1,)))
    return x.astype(np.float32).astype(np.float64)


# ---- the oracles themselves ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ELEM))
def test_the_fraction_rne_oracle_agrees_with_ml_dtypes(name):
    """:func:`_rne` (saturating) = ml_dtypes on float32 inputs clipped to the maximum: every value, every
    midpoint between neighbours, one float32 ulp either side, and values beyond the maximum."""
    dt, man, emin, vmax, _ = ELEM[name]
    vals = np.unique(np.abs(_decode(name, np.arange(256 if name != "fp4_e2m1" else 16))))
    vals = vals[np.isfinite(vals)]
    mids = (vals[:-1] + vals[1:]) / 2
    x32 = np.concatenate([vals, mids, vmax * np.array([1.01, 1.5, 1.99, 4.0])]).astype(np.float32)
    x32 = np.concatenate([x32, np.nextafter(x32, np.float32(np.inf)), np.nextafter(x32, np.float32(0))])
    x32 = np.concatenate([x32, -x32])
    want = np.clip(x32, -vmax, vmax).astype(dt).astype(np.float64)
    got = np.array([float(_rne(Fraction(float(v)), man, emin, vmax)) for v in x32])
    np.testing.assert_array_equal(got, want)


# ---- E8M0 and MX decoding -------------------------------------------------------------------------------------------


def test_e8m0_decode_is_exhaustively_ml_dtypes():
    np.testing.assert_array_equal(e8m0_decode(np.arange(256)), _e8m0(np.arange(256)))
    np.testing.assert_array_equal(e8m0_decode([0, 127, 128, 254]), [2.0**-127, 1.0, 2.0, 2.0**127])
    assert np.isnan(e8m0_decode(E8M0_NAN))


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp4_e2m1"])
def test_mx_dequantize_every_scale_times_every_element(name):
    """Every E8M0 code x every element code (256 x 256 for FP8): ``scale * element`` with both decoded by ml_dtypes
    (exact in float64), signed zeros included; a NaN scale or element gives nan, Inf elements Inf."""
    mx = MXFormat.mxfp8_e4m3() if name == "fp8_e4m3" else MXFormat.mxfp8_e5m2() if name == "fp8_e5m2" else \
        MXFormat.mxfp4()
    n = 256 if name != "fp4_e2m1" else 16
    el = np.tile(np.arange(n, dtype=np.uint8), (256, 32 // n if n < 32 else 1))
    sc = np.repeat(np.arange(256, dtype=np.uint8)[:, None], el.shape[1] // 32, axis=1)
    got = mx.dequantize(el, sc)
    want = _decode(name, el) * _e8m0(sc)[:, :, None].repeat(32, axis=2).reshape(el.shape)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))
    assert np.isnan(got[255]).all()
    np.testing.assert_array_equal(MXTensor(el, sc, mx).dequantize(), got)


# ---- MX quantisation ------------------------------------------------------------------------------------------------


def _mx_oracle(name: str, x: np.ndarray, block: int):
    """(scale codes, element codes) of finite inputs: shared = floor(log2 amax) - emax_elem clamped to [-127, 127]
    (amax 0: -127) as an E8M0 code from ml_dtypes, elements = ml_dtypes of the float32 scaled value clipped to
    +-max."""
    dt, _, _, vmax, emax = ELEM[name]
    xb = x.reshape(*x.shape[:-1], -1, block)
    amax = np.abs(xb).max(axis=-1)
    shared = np.array([max(-127, min(127, _floor_log2(Fraction(float(a))) - emax)) if a > 0 else -127
                       for a in amax.ravel()]).reshape(amax.shape)
    scales = np.exp2(shared.astype(float)).astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    scaled = xb / np.exp2(shared.astype(float))[..., None]
    # ml_dtypes only judges float32 inputs (older versions round float64 twice): the scaled values are float32's
    assert np.array_equal(scaled.astype(np.float32).astype(np.float64), scaled)
    el = np.clip(scaled, -vmax, vmax).astype(np.float32).astype(dt).view(np.uint8).reshape(x.shape)
    return scales, el, shared


def test_mxfp4_quantize_matches_ml_dtypes(seed):
    """MXFP4 scales = floor(log2(amax)) - 2 as E8M0 (via ml_dtypes), elements = the scaled values rounded by
    ml_dtypes ``float4_e2m1fn`` from float32 (exact inputs); all-zero block and a huge outlier included."""
    rng = np.random.default_rng(seed)
    x = _f32_exact(rng, (40, 128))
    x[0, :32] = 0.0  # an all-zero block
    x[1, 5] = float(np.float32(1e30))  # a huge outlier (a float32 value, as every input here)
    mx = MXFormat.mxfp4()
    t = mx.quantize(x)
    want_scales, want, shared = _mx_oracle("fp4_e2m1", x, 32)
    np.testing.assert_array_equal(t.scales, want_scales)
    np.testing.assert_array_equal(t.elements, want)
    assert mx.bits_per_element == 4.25 and mx.name == "mxfp4"
    # the block maximum lands in [4, 8) before rounding: never more than one saturation step
    err = np.abs(t.dequantize() - x) / np.repeat(np.exp2(shared), 32, axis=-1).reshape(x.shape)
    assert err.max() <= 2.0


@pytest.mark.parametrize("name", list(MXFP8))
def test_mxfp8_quantize_matches_ml_dtypes(name, seed):
    """MXFP8 scales and elements = the OCP rule evaluated with ml_dtypes (float32 inputs over 2**+-40, an all-zero
    block, a block whose amax is a power of two, and blocks whose maximum scales beyond the element max)."""
    rng = np.random.default_rng(seed)
    x = _f32_exact(rng, (40, 128), spread=40)
    vmax, emax = ELEM[name][3], ELEM[name][4]
    x[0, :32] = 0.0
    x[1, :32] = (np.linspace(-1, 1, 32) * 2.0**5).astype(np.float32)
    x[1, 7] = -(2.0**5)  # amax exactly a power of two, negative
    x[2, 32:64] = (rng.uniform(-1, 1, 32) * 2.0**emax).astype(np.float32)
    x[2, 40] = float(np.float32((2 - 2.0**-20) * 2.0**emax))  # scales to just below 2**(emax+1): clamps to max
    x[3, 64:96] *= 2.0**-100
    mx = MXFP8[name]()
    t = mx.quantize(x)
    want_scales, want, shared = _mx_oracle(name, x, 32)
    np.testing.assert_array_equal(t.scales, want_scales)
    np.testing.assert_array_equal(t.elements, want)
    assert t.elements[2, 40] == (0x7E if name == "fp8_e4m3" else 0x7B)
    assert mx.bits_per_element == 8.25 and mx.name == f"mx{name}" and mx.block == 32
    # |error| <= half an ulp of the largest binade, or the clamp (max vs the scaled value < 2**(emax+1))
    err = np.abs(t.dequantize() - x) / np.repeat(np.exp2(shared), 32, axis=-1).reshape(x.shape)
    assert err.max() <= 2.0 ** (emax + 1) - vmax


@pytest.mark.parametrize("name", list(MXFP8))
def test_mxfp8_element_rounding_every_midpoint(name):
    """With ``2**emax_elem`` in every block (shared exponent 0) the elements are the inputs rounded: every
    representable value, every midpoint between neighbours (ties to even), one float32 ulp either side, and
    values between the max and ``2**(emax+1)`` (clamped), both signs, against ml_dtypes and :func:`_rne`."""
    dt, man, emin, vmax, emax = ELEM[name]
    vals = np.unique(np.abs(_decode(name, np.arange(256))))
    vals = vals[np.isfinite(vals)]
    mids = (vals[:-1] + vals[1:]) / 2
    x32 = np.concatenate([vals, mids, [vmax * 1.01, 1.5 * 2.0**emax * 1.2, 2.0 ** (emax + 1) * (1 - 2**-20)]])
    x32 = x32.astype(np.float32)
    x32 = np.concatenate([x32, np.nextafter(x32, np.float32(np.inf)), np.nextafter(x32, np.float32(0))])
    x32 = np.concatenate([x32, -x32]).astype(np.float64)
    x32 = x32[np.abs(x32) < 2.0 ** (emax + 1)]
    n = -(-x32.size // 31)
    x = np.zeros((n, 32))
    x[:, 0] = 2.0**emax
    x[:, 1:].flat[: x32.size] = x32
    t = MXFP8[name]().quantize(x)
    assert (t.scales == 127).all()
    want = np.clip(x, -vmax, vmax).astype(np.float32).astype(dt).view(np.uint8)
    np.testing.assert_array_equal(t.elements, want)
    exact = np.array([float(_rne(Fraction(v), man, emin, vmax)) for v in x.ravel()]).reshape(x.shape)
    np.testing.assert_array_equal(_decode(name, t.elements), exact)


# hand-written corners: (format, block values, expected scale code, expected element codes)
_MX_CORNERS = [
    ("fp8_e4m3", [0.0, -0.0, 0.0, 0.0], 0, [0x00, 0x80, 0x00, 0x00]),  # all-zero block: minimum scale
    ("fp8_e4m3", [256.0, 1.0, -3.0, 0.5], 127, [0x78, 0x38, 0xC4, 0x30]),  # amax = 2**8 exactly: shared 0
    ("fp8_e4m3", [2.0**20, 2.0**12, -(2.0**19), 0.0], 139, [0x78, 0x38, 0xF0, 0x00]),  # amax = 2**20: shared 12
    ("fp8_e4m3", [448.0, 449.0, 463.0, 464.0], 127, [0x7E] * 4),  # the clamp: 464 is a tie that plain RNE takes
    ("fp8_e4m3", [480.0, 511.0, -500.0, -464.0], 127, [0x7E, 0x7E, 0xFE, 0xFE]),  # to 448; above, plain OFP8: NaN
    ("fp8_e4m3", [256.0, 2.0**-9, 2.0**-10, 3 * 2.0**-10], 127, [0x78, 0x01, 0x00, 0x02]),  # subnormals, ties
    ("fp8_e4m3", [256.0, 7 * 2.0**-9, 2.0**-6, -(2.0**-9)], 127, [0x78, 0x07, 0x08, 0x81]),  # max subnormal, min normal
    ("fp8_e4m3", [2.0**-130, 0.0, 0.0, 0.0], 0, [0x20, 0, 0, 0]),  # shared -138 clamps to -127: element 2**-3
    ("fp8_e4m3", [2.0**200, 1.0, 0.0, 0.0], 254, [0x7E, 0, 0, 0]),  # shared 192 clamps to 127: saturates
    ("fp8_e4m3", [1.0, np.nan, 2.0, -3.0], E8M0_NAN, [0x70, 0x7F, 0x78, 0xFC]),  # NaN: the NaN scale (shared -7)
    ("fp8_e4m3", [np.inf, 1.0, -np.inf, 0.0], 254, [0x7F, 0x00, 0xFF, 0x00]),  # Inf: clamped scale, NaN elements
    ("fp8_e5m2", [57344.0, 61439.0, 61440.0, 65535.0], 127, [0x7B] * 4),  # the clamp (61440: tie to 2**16)
    ("fp8_e5m2", [32768.0, 2.0**-16, 2.0**-17, 3 * 2.0**-17], 127, [0x78, 0x01, 0x00, 0x02]),  # subnormals, ties
    ("fp8_e5m2", [1.0, -np.nan, 2.0, -3.0], E8M0_NAN, [0x74, 0xFE, 0x78, 0xFA]),  # NaN keeps its sign
    ("fp8_e5m2", [np.inf, 1.0, -np.inf, 0.0], 254, [0x7C, 0x00, 0xFC, 0x00]),  # Inf elements, scale 2**127
    ("fp4_e2m1", [6.0, 7.0, -5.0, 0.25], 127, [0x7, 0x7, 0xE, 0x0]),  # 5 is a tie: 4
    ("fp4_e2m1", [np.inf, -1.0, 0.0, 0.0], 254, [0x7, 0x8, 0x0, 0x0]),  # FP4 has no Inf: saturates
    ("fp4_e2m1", [np.nan, 1.0, 0.0, 0.0], E8M0_NAN, [0x0, 0x6, 0x0, 0x0]),  # the others scaled as without the NaN
]


@pytest.mark.parametrize(("name", "vals", "scale", "elems"), _MX_CORNERS)
def test_mx_corner_table(name, vals, scale, elems):
    mx = MXFormat(get(name), 4)
    t = mx.quantize([vals])
    assert int(t.scales[0, 0]) == scale
    assert [int(c) for c in t.elements[0]] == elems
    got = t.dequantize()[0]
    want = _decode(name, t.elements[0]) * _e8m0(t.scales[0, 0])
    np.testing.assert_array_equal(got, want)
    if scale == E8M0_NAN:
        assert np.isnan(got).all() and np.isnan(mx.dot(t, t)[0])


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


# ---- MX dot -------------------------------------------------------------------------------------------------------


def _oracle_dequantize(mx: MXFormat, t: MXTensor) -> np.ndarray:
    """Element and scale values decoded without the model: ml_dtypes (or int8 two's complement times the implicit
    2**-6) and ml_dtypes ``float8_e8m0fnu`` for the E8M0 scales."""
    if mx.element_format.name in ELEM:
        el = _decode(mx.element_format.name, t.elements)
    else:
        el = t.elements.astype(np.uint8).view(np.int8).astype(np.float64) * 2.0**-6
    return el * np.repeat(_e8m0(t.scales), mx.block, axis=-1)


def _exact_dot(va, vb) -> Fraction:
    return sum((Fraction(x) * Fraction(y) for x, y in zip(va, vb, strict=True)), Fraction(0))


@pytest.mark.parametrize("mx", [MXFormat.mxfp4(), MXFormat.mxint8(), MXFormat.mxfp4(block=16),
                                MXFormat.mxfp8_e4m3(), MXFormat.mxfp8_e5m2()], ids=str)
def test_mx_dot_is_exact(mx, seed):
    """``dot`` = the exact rational sum of the element products (values decoded by ml_dtypes, not the model),
    rounded once to float64, and ``dot_exact`` is that sum; ``dequantize`` gives the same element values."""
    rng = np.random.default_rng(seed)
    a = mx.quantize(_f32_exact(rng, (30, 96), spread=40))
    b = mx.quantize(_f32_exact(rng, (30, 96), spread=40))
    got, ex = mx.dot(a, b), mx.dot_exact(a, b)
    va, vb = _oracle_dequantize(mx, a), _oracle_dequantize(mx, b)
    np.testing.assert_array_equal(a.dequantize(), va)
    for r in range(30):
        exact = _exact_dot(va[r], vb[r])
        assert ex[r] == exact and got[r] == float(exact)


@pytest.mark.parametrize("name", list(MXFP8))
def test_mxfp8_dot_of_arbitrary_codes_is_exact(name, seed):
    """Random finite element codes over the whole range and random scales 2**-127..2**127 (block sums far wider
    than 53 bits for E5M2), built as MXTensors directly, against the Fraction sum of ml_dtypes values."""
    rng = np.random.default_rng(seed)
    mx = MXFP8[name]()
    finite = np.arange(256)[np.isfinite(_decode(name, np.arange(256)))].astype(np.uint8)
    a = MXTensor(rng.choice(finite, (12, 128)), rng.integers(0, 255, (12, 4)).astype(np.uint8), mx)
    b = MXTensor(rng.choice(finite, (12, 128)), rng.integers(0, 255, (12, 4)).astype(np.uint8), mx)
    got, ex = mx.dot(a, b), mx.dot_exact(a, b)
    va, vb = _oracle_dequantize(mx, a), _oracle_dequantize(mx, b)
    for r in range(12):
        exact = _exact_dot(va[r], vb[r])
        assert ex[r] == exact and got[r] == float(exact)
    # one block whose sum needs 64 bits: 57344**2 + 2**-32, kept by dot_exact, rounded away by dot
    if name == "fp8_e5m2":
        t = MXTensor(np.array([0x7B, 0x01] + [0] * 30, np.uint8), np.array([127], np.uint8), mx)
        assert mx.dot_exact(t, t)[()] == Fraction(57344) ** 2 + Fraction(1, 2**32)
        assert mx.dot(t, t)[()] == 57344.0**2


def test_mx_dot_special_values():
    """E5M2: Inf * finite = Inf, Inf * 0 = NaN, Inf products of both signs = NaN, a NaN element or scale = NaN."""
    mx = MXFormat.mxfp8_e5m2(block=2)
    one, inf, ninf, nan, zero = 0x3C, 0x7C, 0xFC, 0x7E, 0x00

    def dot(ea, eb, sa=(127, 127), sb=(127, 127)):
        ta = MXTensor(np.array(ea, np.uint8), np.array(sa, np.uint8), mx)
        tb = MXTensor(np.array(eb, np.uint8), np.array(sb, np.uint8), mx)
        return float(mx.dot(ta, tb)[()]), mx.dot_exact(ta, tb)[()]

    assert dot([inf, one, one, one], [one] * 4) == (math.inf, math.inf)
    assert dot([ninf, one, one, one], [one] * 4)[0] == -math.inf
    for ea, eb, sa in [([inf, one, one, one], [zero, one, one, one], (127, 127)),
                       ([inf, ninf, one, one], [one] * 4, (127, 127)),
                       ([nan, one, one, one], [one] * 4, (127, 127)),
                       ([one] * 4, [one] * 4, (127, E8M0_NAN))]:
        g, e = dot(ea, eb, sa)
        assert math.isnan(g) and math.isnan(e)
    assert dot([one] * 4, [one] * 4, (0, 254), (0, 254)) == (2.0**-254 * 2 + 2.0**254 * 2,
                                                           Fraction(2, 2**254) + 2 * Fraction(2**254))


# ---- NVFP4-style ------------------------------------------------------------------------------------------------


def _nvfp4_oracle(x: np.ndarray, block: int, tensor_scale=None):
    """(tensor scale, block scales, element values with the sign of x) from the rules written with Fractions."""
    fin = np.abs(x[np.isfinite(x)])
    amax_t = float(fin.max()) if fin.size else 0.0
    if tensor_scale is not None:
        ts = Fraction(float(np.float32(tensor_scale)))
    elif amax_t == 0:
        ts = Fraction(1)
    else:
        ts = max(_rne(Fraction(amax_t) / (6 * 448), 23, -126), Fraction(1, 2**149))
    xb = x.reshape(*x.shape[:-1], -1, block)
    bs = np.empty(xb.shape[:-1], dtype=object)
    el = np.empty(xb.shape, dtype=object)
    for i in np.ndindex(xb.shape[:-1]):
        v = xb[i]
        amax = float(np.abs(v[np.isfinite(v)]).max(initial=0.0))
        bs[i] = _rne(Fraction(amax) / 6 / ts, 3, -6, 448.0)
        el[i] = [_rne(Fraction(float(u)) / (ts * bs[i]), 1, 0, 6.0) if bs[i] else 0
                 for u in np.where(np.isnan(v), 0.0, v)]
    return ts, bs, el


def _e2m1_code(value: Fraction, negative: bool) -> int:
    f = -float(abs(value)) if negative else float(abs(value))
    return int(np.array([f], np.float32).astype(ml_dtypes.float4_e2m1fn).view(np.uint8)[0])


def test_nvfp4_quantize_matches_the_exact_oracle(seed):
    """Block scales = amax / 6 / tensor_scale and elements = x / (tensor_scale * block_scale), each rounded once
    to nearest even (E4M3 saturating at 448, E2M1 at 6) by the Fraction oracle; the default tensor scale is
    amax / 2688 rounded once to float32. Scales and elements are decoded with ml_dtypes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((12, 64)) * np.exp2(rng.integers(-30, 30, (12, 4, 1))).repeat(16, axis=-1).reshape(12, 64)
    x[0, :16] = 0.0  # an all-zero block
    x[1, :16] *= 2.0**-60  # a block far below the others: its scale rounds to 0 (or a subnormal)
    nv = NVFP4Format()
    for ts in (None, 1.0, 2.0**-20 / 3):
        t = nv.quantize(x, tensor_scale=ts)
        wts, wbs, wel = _nvfp4_oracle(x, 16, ts)
        assert t.tensor_scale == float(wts)
        np.testing.assert_array_equal(t.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float64),
                                      wbs.astype(float))
        want_codes = np.array([_e2m1_code(v, bool(s)) for v, s in zip(wel.ravel(), np.signbit(x).ravel(),
                                                                       strict=True)]).reshape(x.shape)
        np.testing.assert_array_equal(t.elements, want_codes)
    assert nv.bits_per_element == 4.5 and nv.name == "nvfp4" and nv.block == 16


def test_nvfp4_decode_every_scale_times_every_element():
    """All 128 UE4M3 scale codes x all 16 E2M1 codes, times several float32 tensor scales: the exact product of
    the ml_dtypes-decoded values (a NaN scale gives a NaN block)."""
    nv = NVFP4Format()
    el = np.tile(np.arange(16, dtype=np.uint8), (128, 1))
    sc = np.arange(128, dtype=np.uint8)[:, None]
    e = el.view(ml_dtypes.float4_e2m1fn).astype(np.float64)
    s = sc.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    np.testing.assert_array_equal(ue4m3_decode(np.arange(128)), s[:, 0])
    for ts in (1.0, float(np.float32(3.7)), 2.0**-149, float(np.finfo(np.float32).max)):
        got = nv.dequantize(el, sc, ts)
        assert np.isnan(got[UE4M3_NAN]).all()
        for i in range(127):
            for j in range(16):
                want = Fraction(float(e[i, j])) * Fraction(float(s[i, 0])) * Fraction(ts)
                assert got[i, j] == want and np.signbit(got[i, j]) == np.signbit(e[i, j])
        np.testing.assert_array_equal(NVFP4Tensor(el, sc, ts, nv).dequantize(), got)


# (block values with tensor_scale 1, expected UE4M3 scale code, expected E2M1 codes)
_NV_CORNERS = [
    ([6.0, 2.5, 3.5, 0.75, 0.25, 1.25, 1.75, 5.0], 0x38, [0x7, 0x4, 0x6, 0x2, 0x0, 0x2, 0x4, 0x6]),  # E2M1 ties
    ([-6.0, -2.5, -0.25, -0.1, 0.0, -0.0, 5.5, 6.0], 0x38, [0xF, 0xC, 0x8, 0x8, 0x0, 0x8, 0x7, 0x7]),
    ([6.375, 0, 0, 0, 0, 0, 0, 0], 0x38, [0x7, 0, 0, 0, 0, 0, 0, 0]),  # amax/6 = 1.0625: tie -> 1.0 (even)
    ([7.125, 0, 0, 0, 0, 0, 0, 0], 0x3A, [0x7, 0, 0, 0, 0, 0, 0, 0]),  # amax/6 = 1.1875: tie -> 1.25 (even)
    ([6 * 470.0, 6.0, 0, 0, 0, 0, 0, 0], 0x7E, [0x7, 0x0, 0, 0, 0, 0, 0, 0]),  # scale saturates at 448
    ([6 * 2.0**-10, -1e-9, 0, 0, 0, 0, 0, 0], 0x00, [0x0, 0x8, 0, 0, 0, 0, 0, 0]),  # tie to scale 0: +-0 elements
    ([6 * 3 * 2.0**-11, 0, 0, 0, 0, 0, 0, 0], 0x01, [0x6, 0, 0, 0, 0, 0, 0, 0]),  # scale 2**-9; 4.5 -> 4
    ([1.0, np.nan, 6.0, 0, 0, 0, 0, 0], UE4M3_NAN, [0x2, 0x0, 0x7, 0, 0, 0, 0, 0]),  # NaN: the NaN scale
    ([1.0, -np.inf, 6.0, 0, 0, 0, 0, 0], UE4M3_NAN, [0x2, 0xF, 0x7, 0, 0, 0, 0, 0]),  # Inf: the NaN scale too
]


@pytest.mark.parametrize(("vals", "scale", "elems"), _NV_CORNERS)
def test_nvfp4_corner_table(vals, scale, elems):
    nv = NVFP4Format(block=8)
    t = nv.quantize([vals], tensor_scale=1.0)
    assert int(t.scales[0, 0]) == scale and [int(c) for c in t.elements[0]] == elems
    if scale == UE4M3_NAN:
        assert np.isnan(t.dequantize()).all() and np.isnan(nv.dot(t, t)[0]) and math.isnan(nv.dot_exact(t, t)[0])


def test_nvfp4_default_tensor_scale():
    """amax / 2688 rounded once to float32 (ties to even, from the exact quotient), never 0 for amax > 0; 1.0 for an
    all-zero (or all-non-finite) tensor."""
    nv = NVFP4Format()
    assert nv.default_tensor_scale(np.zeros(16)) == 1.0
    assert nv.default_tensor_scale([np.nan, np.inf, 0.0]) == 1.0
    assert nv.default_tensor_scale([-2688.0, 1.0]) == 1.0
    assert nv.default_tensor_scale([2688 * (1 + 2.0**-24)]) == 1.0  # tie: even
    assert nv.default_tensor_scale([2688 * (1 + 3 * 2.0**-24)]) == 1 + 2.0**-22  # tie: even (up)
    assert nv.default_tensor_scale([2688 * (1 + 2.0**-24 + 2.0**-40)]) == 1 + 2.0**-23  # just above the tie
    assert nv.default_tensor_scale([2.0**-149]) == 2.0**-149  # would round to 0: the smallest subnormal
    for amax in (1.0, 3.0e-40, 1.0e30, float(np.float32(0.1))):
        assert nv.default_tensor_scale([amax]) == float(_rne(Fraction(amax) / 2688, 23, -126))
    with pytest.raises(ValueError, match="beyond float32"):
        nv.default_tensor_scale([1e300])


def test_nvfp4_dot_is_exact(seed):
    """``dot_exact`` = the Fraction sum of ts * bs * e products (ml_dtypes-decoded), ``dot`` that rounded once;
    operands with different tensor scales and a broadcast batch."""
    rng = np.random.default_rng(seed)
    nv = NVFP4Format()
    a = nv.quantize(rng.standard_normal((10, 64)) * 1e3)
    b = nv.quantize(rng.standard_normal((1, 64)) * 1e-3)
    got, ex = nv.dot(a, b), nv.dot_exact(a, b)
    assert got.shape == ex.shape == (10,)

    def values(t):
        e = t.elements.view(ml_dtypes.float4_e2m1fn).astype(np.float64)
        s = np.repeat(t.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float64), 16, axis=-1)
        return [[Fraction(float(u)) * Fraction(float(w)) * Fraction(t.tensor_scale) for u, w in zip(er, sr,
                 strict=True)] for er, sr in zip(e, s, strict=True)]

    va, vb = values(a), values(b)[0]
    for r in range(10):
        exact = sum((x * y for x, y in zip(va[r], vb, strict=True)), Fraction(0))
        assert ex[r] == exact and got[r] == float(exact)


# ---- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: MXFormat(get("fp4_e2m1"), 0), ValueError, r"block must be an integer in \[1, 1024\], not 0"),
        (lambda: MXFormat(get("fp4_e2m1"), 32.0), TypeError, r"block must be an integer .* not 32\.0"),
        (lambda: MXFormat(get("fp8_e4m3"), elem_exp=65), ValueError, r"elem_exp must be an integer in \[-64, 64\]"),
        (lambda: MXFormat("fp4", 32), TypeError, "element_format must be a npegen Format, not 'fp4'"),
        (lambda: MXFormat(Posit(8, 0)), ValueError, "MX elements must be minifloat .* or INT formats, not posit8_0"),
        (lambda: MXFormat(get("int8"), symmetric=1), TypeError, "symmetric must be a bool, not 1"),
        (lambda: MXFormat(get("fp8_e4m3"), symmetric=True), ValueError, "symmetric=True is for INT elements"),
        (lambda: MXFormat.mxfp4().quantize(np.zeros((2, 33))), ValueError,
         r"last axis \(33\) must be a multiple of the block size 32"),
        (lambda: MXFormat.mxfp4().quantize(np.zeros(32, complex)), TypeError, "quantize takes real numbers"),
        (lambda: MXFormat.mxfp4().quantize(1.0), ValueError, "at least one axis"),
        (lambda: MXFormat.mxfp4().dequantize(np.zeros((2, 32), np.uint8), np.zeros((2, 2), np.uint8)), ValueError,
         r"scales must have shape \(2, 1\)"),
        (lambda: MXFormat.mxfp4().dequantize(np.full(32, 16), [0]), ValueError, r"fp4_e2m1 codes are 4-bit"),
        (lambda: MXFormat.mxfp8_e4m3().dequantize(np.zeros(32), [0]), TypeError, "element codes must be integers"),
        (lambda: MXFormat.mxfp8_e4m3().dequantize(np.zeros(32, np.uint8), [256]), ValueError,
         r"E8M0 codes must be in \[0, 255\] \(8-bit\)"),
        (lambda: MXFormat.mxfp4().dot(np.zeros(32), np.zeros(32)), TypeError, "dot takes MXTensors of mxfp4"),
        (lambda: MXFormat.mxfp4().dot(MXFormat.mxfp8_e4m3().quantize(np.ones(32)),
                                      MXFormat.mxfp8_e4m3().quantize(np.ones(32))), TypeError,
         "dot takes MXTensors of mxfp4"),
        (lambda: MXFormat.mxfp4().dot(MXFormat.mxfp4().quantize(np.ones((2, 32))),
                                      MXFormat.mxfp4().quantize(np.ones((3, 32)))), ValueError, "do not broadcast"),
        (lambda: MXTensor(np.zeros(32, np.uint8), np.zeros(1, np.uint8), "mxfp4"), TypeError,
         "MXTensor fmt must be an MXFormat"),
        (lambda: e8m0_decode([256]), ValueError, r"E8M0 codes must be in \[0, 255\] \(8-bit\)"),
        (lambda: e8m0_decode([1.0]), TypeError, "E8M0 codes must be integers"),
        (lambda: ue4m3_decode([0x80]), ValueError, r"UE4M3 codes must be in \[0, 127\] \(7-bit\); got 128"),
        (lambda: NVFP4Format(0), ValueError, r"block must be an integer in \[1, 1024\], not 0"),
        (lambda: NVFP4Format("16"), TypeError, r"block must be an integer in \[1, 1024\], not '16'"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale=0.0), ValueError, r"tensor_scale must be .*not 0\.0"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale=-1), ValueError, "tensor_scale must be"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale=np.inf), ValueError, "tensor_scale must be"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale=1e39), ValueError, "tensor_scale must be"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale=1e-50), ValueError, "underflows float32"),
        (lambda: NVFP4Format().quantize(np.ones(16), tensor_scale="1"), TypeError, "tensor_scale must be"),
        (lambda: NVFP4Format().quantize(np.ones(17)), ValueError, r"last axis \(17\) must be a multiple"),
        (lambda: NVFP4Format().dequantize(np.zeros(16, np.uint8), [0x80]), ValueError, "UE4M3 scale codes"),
        (lambda: NVFP4Format().dequantize(np.zeros(16, np.uint8), [0], 0.1), ValueError,
         "tensor_scale must be a positive float32 value"),
        (lambda: NVFP4Format().dequantize(np.zeros(16, np.uint8), [0, 0]), ValueError, r"scales must have shape"),
        (lambda: NVFP4Tensor(np.zeros(16, np.uint8), np.zeros(1, np.uint8), 1.0, MXFormat.mxfp4()), TypeError,
         "NVFP4Tensor fmt must be an NVFP4Format"),
        (lambda: NVFP4Format().dot(MXFormat.mxfp4().quantize(np.ones(32)), 0), TypeError,
         "dot takes NVFP4Tensors of nvfp4"),
    ],
)
def test_block_format_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_mxtensor_round_trip_of_representable_values():
    mx = MXFormat.mxfp4(block=8)
    vals = np.array([[0.5, 1, 1.5, 2, 3, 4, 6, -6]]) * 2.0**-10
    t = mx.quantize(vals)
    assert isinstance(t, MXTensor)
    np.testing.assert_array_equal(t.dequantize(), vals)
    mx8 = MXFormat.mxfp8_e4m3(block=4)
    vals = np.array([[448.0, -2.0**-9, 1.125, 3.0]]) * 2.0**40
    np.testing.assert_array_equal(mx8.quantize(vals).dequantize(), vals)
    assert MXFormat.mxfp8_e5m2(block=16).name == "mxfp8_e5m2_b16" and NVFP4Format(32).name == "nvfp4_b32"
