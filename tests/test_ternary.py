"""Sherry ternary model: the 5-bit code against the STQ1_0 codebook of the spec, quantiser rules, layouts
and baseline packings round-tripping, and the exact GEMV against dense integer arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npegen.models import ternary as T

# llama.cpp PR #22836 stq1_0_codebook[32] (reference sheet, section 1), independent of the bit formula
SPEC_CODEBOOK = bytes.fromhex("A9 89 29 09 A6 86 26 06 9A 92 1A 12 6A 62 4A 42 "
                              "01 21 81 A1 04 24 84 A4 10 18 90 98 40 48 60 68")


def _lanes(byte):
    return [((byte >> (2 * p)) & 3) - 1 for p in range(4)]


def test_all_32_codes_decode_to_the_spec_codebook():
    assert len(SPEC_CODEBOOK) == 32
    assert bytes(T.CODEBOOK) == SPEC_CODEBOOK
    got = T.unpack_sherry(np.arange(32).reshape(1, 32)).reshape(32, 4)
    assert got.tolist() == [_lanes(b) for b in SPEC_CODEBOOK]
    assert all(sum(v == 0 for v in _lanes(b)) == 1 for b in SPEC_CODEBOOK)
    assert [0xAA - b for b in SPEC_CODEBOOK[:16]] == list(SPEC_CODEBOOK[16:])  # sign bit negates


def test_pack_unpack_round_trip(seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 32, (17, 64))
    trits = T.unpack_sherry(codes)
    np.testing.assert_array_equal(T.pack_sherry(trits), codes)


def test_quantizer_rules():
    w = np.array([[0.5, -0.5, 0.2, 0.2,   0.0, -1.0, 2.0, 0.0,   3.0, -0.1, 0.1, 4.0,   1, 1, 1, 1]])
    t, s = T.sherry_quantize(w, group_size=16)
    # ties -> lowest index; sign(0) -> +1 for a kept zero; exactly one zero per block
    assert t.tolist() == [[1, -1, 0, 1, 0, -1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1]]
    kept = np.abs(w)[t != 0]
    assert s.shape == (1, 1) and s[0, 0] == np.float32(kept.sum() / 12)


def test_stq1_0_round_trip_and_size(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((6, 1024))
    t, d = T.sherry_quantize(w, 256, layout="stq_stride16")
    buf = T.to_stq1_0(t, d)
    assert buf.shape == (6, 4 * T.STQ1_0_BLOCK_BYTES) and T.bits_per_weight(buf, 6, 1024) == 1.3125
    t2, d2 = T.from_stq1_0(buf, 1024)
    np.testing.assert_array_equal(t2, t)
    np.testing.assert_array_equal(d2, d.astype(np.float16))
    # layout facts from the sheet: group 0 -> K {0,16,32,48}, group 15 -> {15,31,47,63}, group 16 -> {64,80,...}
    one = np.zeros((1, 256), np.int8) + 1
    one[0, [0, 15, 64]] = 0
    for q in range(64):
        ks = [(q >> 4) * 64 + (q & 15) + 16 * p for p in range(4)]
        if not any(k in (0, 15, 64) for k in ks):
            one[0, ks[0]] = 0
    b = T.to_stq1_0(one, np.ones((1, 1)))
    slots = [(b[0, g >> 1] >> (4 * (g & 1))) & 0xF for g in range(64)]
    assert (slots[0] >> 2, slots[15] >> 2, slots[16] >> 2) == (0, 0, 0)  # zero in lane 0 of each


@pytest.mark.parametrize(("pack", "unpack", "k", "bpw"), [
    (T.pack_i2s, lambda b, k: T.unpack_i2s(b), 256, 2.0),
    (T.pack_tl2, T.unpack_tl2, 240, 5 / 3),
])
def test_baseline_packings_round_trip(pack, unpack, k, bpw, seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(-1, 2, (9, k)).astype(np.int8)
    buf = pack(t)
    np.testing.assert_array_equal(unpack(buf, k), t)
    assert T.bits_per_weight(buf, 9, k) == pytest.approx(bpw)


def test_i2s_layout_matches_bitnet():
    t = np.zeros((1, 128), np.int8)
    t[0, [0, 32, 64, 96]] = [1, -1, 0, 1]  # weights m, m+32, m+64, m+96 of byte 0 at bits 7:6 5:4 3:2 1:0
    assert T.pack_i2s(t)[0, 0] == (2 << 6) | (0 << 4) | (1 << 2) | 2


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_gemv_is_exact_per_group(data):
    g = data.draw(st.sampled_from([4, 8, 32, 128]))
    n = data.draw(st.integers(1, 5))
    k = g * data.draw(st.integers(1, 4))
    codes = np.array(data.draw(st.lists(st.integers(0, 31), min_size=n * k // 4, max_size=n * k // 4)))
    codes = codes.reshape(n, k // 4)
    x = np.array(data.draw(st.lists(st.integers(-128, 127), min_size=k, max_size=k)), dtype=np.int8)
    acc = T.ternary_accumulate(codes, x, g)
    dense = T.unpack_sherry(codes).astype(np.int64) * x.astype(np.int64)
    np.testing.assert_array_equal(acc, dense.reshape(n, k // g, g).sum(-1))
    assert np.abs(acc).max(initial=0) <= 128 * 3 * g // 4


def test_gemv_epilogue_order(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 512))
    t, s = T.sherry_quantize(w)
    codes = T.pack_sherry(t)
    xq, xs = T.quantize_activations(rng.standard_normal(512))
    bias = rng.standard_normal(4).astype(np.float32)
    y = T.ternary_gemv(codes, s, xq, xs, bias)
    acc = T.ternary_accumulate(codes, xq)
    want = np.float32(0) + acc[:, 0].astype(np.float32) * s[:, 0]
    for gi in range(1, 4):
        want = want + acc[:, gi].astype(np.float32) * s[:, gi]
    want = want / np.float32(xs) + bias
    np.testing.assert_array_equal(y, want.astype(np.float32))


def test_fp16_to_fixed_is_exact_for_every_finite_fp16():
    bits = np.arange(1 << 16, dtype=np.uint16)
    h = bits.view(np.float16)
    h = h[np.isfinite(h)]
    fixed = T.fp16_to_fixed(h)
    np.testing.assert_array_equal(fixed.astype(np.float64) * 2.0**-T.FIXED_FRAC_BITS, h.astype(np.float64))
    assert fixed.max() == 65504 << 24 and T.fp16_to_fixed(np.array([2.0**-24]))[0] == 1
    assert T.fp16_to_fixed(np.array([0.1]))[0] == int(np.float16(0.1).astype(np.float64) * 2**24)  # rounded once


def test_fixed_epilogue_is_exact_and_tracks_the_float32_reference(seed):
    from fractions import Fraction

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((6, 1024))
    t, s = T.sherry_quantize(w)
    codes = T.pack_sherry(t)
    xq, xs = T.quantize_activations(rng.standard_normal(1024))
    bias = rng.standard_normal(6)
    got = T.ternary_gemv_fixed(codes, s, xq, bias)
    acc = T.ternary_accumulate(codes, xq)
    s16, b16 = s.astype(np.float16), bias.astype(np.float16)
    for n in range(6):  # exact rational oracle
        exact = sum(Fraction(int(a)) * Fraction(float(c)) for a, c in zip(acc[n], s16[n], strict=True))
        exact += Fraction(float(b16[n]))
        assert Fraction(int(got[n]), 1 << 24) == exact
    # the same GEMV through the float32 reference (FP16 scales, output-domain bias b = beta / x_scale)
    y_ref = T.ternary_gemv(codes, s16.astype(np.float32), xq, xs, b16.astype(np.float32) / np.float32(xs))
    y_hw = np.array([float(v) for v in got]) * 2.0**-24 / float(xs)
    np.testing.assert_allclose(y_hw, y_ref, rtol=1e-5, atol=1e-6)


def test_activation_quantizer():
    q, s = T.quantize_activations(np.array([0.5, -1.0, 0.25, 0.0]))
    assert s == np.float32(127.0) and q.tolist() == [64, -127, 32, 0]  # 63.5 rounds half to even -> 64
    q2, _ = T.quantize_activations(np.zeros(3))
    assert q2.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: T.sherry_quantize(np.zeros((2, 6))), ValueError, "K must be a multiple of 4"),
        (lambda: T.sherry_quantize(np.zeros((2, 64))), ValueError, r"K \(64\) must be a multiple of group_size"),
        (lambda: T.sherry_quantize(np.array([[np.nan, 0, 0, 0]]), 4), ValueError, "non-finite value"),
        (lambda: T.sherry_quantize(np.array([["a"] * 4])), TypeError, "real-valued"),
        (lambda: T.unpack_sherry(np.array([[32]])), ValueError, r"5-bit, in \[0, 31\]; got 32"),
        (lambda: T.unpack_sherry(np.array([[1.0]])), TypeError, "integer array"),
        (lambda: T.pack_sherry(np.array([[0, 0, 1, 1]])), ValueError, "has 2 zeros"),
        (lambda: T.pack_sherry(np.array([[2, 0, 1, 1]])), ValueError, "trits must be -1, 0 or"),
        (lambda: T.ternary_accumulate(np.zeros((1, 32), int), np.zeros(128, np.int16)), TypeError, "int8"),
        (lambda: T.from_stq1_0(np.zeros((1, 41), np.uint8), 256), ValueError, "42 STQ1_0 bytes, not 41"),
        (lambda: T.ternary_gemv_fixed(np.zeros((1, 32), int), [[np.nan]], np.zeros(128, np.int8)), ValueError,
         r"scales must be finite in FP16 \(\|x\| <= 65504\); got nan"),
        (lambda: T.ternary_gemv_fixed(np.zeros((1, 32), int), [[70000.0]], np.zeros(128, np.int8)), ValueError,
         "got 70000.0"),
        (lambda: T.ternary_gemv_fixed(np.zeros((1, 32), int), [[1.0, 2.0]], np.zeros(128, np.int8)), ValueError,
         r"scales must have shape \(1, 1\), not \(1, 2\)"),
        (lambda: T.ternary_gemv_fixed(np.zeros((1, 32), int), [["a"]], np.zeros(128, np.int8)), TypeError,
         "scales must be a real-valued array"),
        (lambda: T.ref_ternary_engine(T.TernaryParams(lanes=1, group_size=4), np.zeros((1, 4), np.int8),
                                      np.zeros(4, np.int8)), ValueError, "the fp16 epilogue needs scales"),
    ],
)
def test_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
