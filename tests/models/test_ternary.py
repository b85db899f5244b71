"""Sherry ternary model: the 5-bit code against the STQ1_0 codebook of the spec, quantiser rules, layouts
and baseline packings round-tripping, the engine's decoders (reserved codes included) against spec tables,
and the GEMV against independent oracles: Python-integer sums over the spec codebook, exact rationals
(``fractions``) with a float32 error bound, and hand-computed cases where the float32 order matters."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

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


# I2_S 2-bit codes (bitnet.cpp: 0 = -1, 1 = 0, 2 = +1) and the engine's documented value of the reserved 3
SPEC_I2S = {0: -1, 1: 0, 2: 1, 3: 0}


def _spec_tl2() -> dict[int, list[int]]:
    """TL2 5-bit engine fields -> weights, from the definition v = 9*w0 + 3*w1 + w2 (field = (v < 0) << 4 | |v|)
    by enumerating the 27 triples, plus the documented values of the unused fields: magnitudes 14 and 15
    decode as 12 (+-(1, 1, 0)), and the sign with magnitude 0 as (0, 0, 0)."""
    t = {}
    for w in product((-1, 0, 1), repeat=3):
        v = 9 * w[0] + 3 * w[1] + w[2]
        t[(v < 0) << 4 | abs(v)] = list(w)
    t[16] = [0, 0, 0]
    for mag in (14, 15):
        t[mag], t[16 | mag] = [1, 1, 0], [-1, -1, 0]
    assert sorted(t) == list(range(32))
    return t


def _spec_fields(packing: str) -> tuple[int, dict[int, list[int]]]:
    """(field width, field -> weights) of a packing, from the spec tables above."""
    if packing == "sherry":
        return 5, {c: _lanes(b) for c, b in enumerate(SPEC_CODEBOOK)}
    if packing == "i2s":
        return 2, {c: [v] for c, v in SPEC_I2S.items()}
    return 5, _spec_tl2()


def _oracle_group_sums(codes, x, g: int) -> list[list[int]]:
    """Exact group sums of Sherry codes [N, K/4] against int8 x [K], in Python integers over the spec codebook
    (lanes decoded bit by bit from the STQ1_0 bytes)."""
    xs = [int(v) for v in x]
    out = []
    for row in codes:
        w = [lane for c in row for lane in _lanes(SPEC_CODEBOOK[int(c)])]
        out.append([sum(w[k] * xs[k] for k in range(j, j + g)) for j in range(0, len(w), g)])
    return out


def _nearest_f32(q: Fraction) -> float:
    """The float32 nearest to the rational ``q`` (ties to even), by exact integer arithmetic (normal range)."""
    if q == 0:
        return 0.0
    sign, a = (-1 if q < 0 else 1), abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    e += 1 if a >= Fraction(2) ** (e + 1) else 0
    e -= 1 if a < Fraction(2) ** e else 0  # now 2**e <= a < 2**(e+1)
    scaled = a / Fraction(2) ** (e - 23)  # in [2**23, 2**24)
    m, rem = divmod(scaled.numerator, scaled.denominator)
    if 2 * rem > scaled.denominator or (2 * rem == scaled.denominator and m % 2):
        m += 1
    return sign * float(Fraction(m) * Fraction(2) ** (e - 23))


def test_all_32_codes_decode_to_the_spec_codebook():
    """The 32 codes decode to the STQ1_0 codebook of the spec (bytes and lanes); one zero each; sign negates."""
    assert len(SPEC_CODEBOOK) == 32
    assert bytes(T.CODEBOOK) == SPEC_CODEBOOK
    got = T.unpack_sherry(np.arange(32).reshape(1, 32)).reshape(32, 4)
    assert got.tolist() == [_lanes(b) for b in SPEC_CODEBOOK]
    assert all(sum(v == 0 for v in _lanes(b)) == 1 for b in SPEC_CODEBOOK)
    assert [0xAA - b for b in SPEC_CODEBOOK[:16]] == list(SPEC_CODEBOOK[16:])  # sign bit negates


def test_pack_unpack_round_trip(seed):
    """``pack_sherry`` inverts ``unpack_sherry`` on random codes."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 32, (17, 64))
    trits = T.unpack_sherry(codes)
    np.testing.assert_array_equal(T.pack_sherry(trits), codes)


def test_quantizer_rules():
    """Hand-computed quantiser rules: ties to the lowest index, sign(0) = +1, one zero per block, the scale."""
    w = np.array([[0.5, -0.5, 0.2, 0.2,   0.0, -1.0, 2.0, 0.0,   3.0, -0.1, 0.1, 4.0,   1, 1, 1, 1]])
    t, s = T.sherry_quantize(w, group_size=16)
    # ties -> lowest index; sign(0) -> +1 for a kept zero; exactly one zero per block
    assert t.tolist() == [[1, -1, 0, 1, 0, -1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1]]
    # kept |w|: 0.5 + 0.5 + 0.2 | 1 + 2 + 0 | 3 + 0.1 + 4 | 1 + 1 + 1 = 14.3, over the 12 kept weights
    assert s.shape == (1, 1) and s[0, 0] == np.float32(_nearest_f32(Fraction(143, 120)))


def test_stq1_0_round_trip_and_size(seed):
    """STQ1_0 blocks round-trip at 1.3125 bpw, with the stride-16 group layout of the spec sheet."""
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
    """I2_S and TL2 buffers round-trip at 2 and 5/3 bits per weight."""
    rng = np.random.default_rng(seed)
    t = rng.integers(-1, 2, (9, k)).astype(np.int8)
    buf = pack(t)
    np.testing.assert_array_equal(unpack(buf, k), t)
    assert T.bits_per_weight(buf, 9, k) == pytest.approx(bpw)


def test_tl2_layout_matches_spec():
    """Hand-packed TL2 bytes: triples (1, 0, -1) -> v = 8 and (-1, -1, -1) -> v = -13: the first magnitude in
    the high nibble (0x8D), then the sign bits LSB first (0x02)."""
    t = np.array([[1, 0, -1, -1, -1, -1]], np.int8)
    assert T.pack_tl2(t).tolist() == [[0x8D, 0x02]]


@pytest.mark.parametrize("p", [T.TernaryParams(lanes=3, group_size=12), T.TernaryParams(packing="i2s"),
                               T.TernaryParams(packing="tl2", lanes=3, group_size=12)], ids=lambda p: p.tag)
def test_engine_decoders_follow_the_spec_tables(p, seed):
    """``beat_trits`` (the engine's decoders) on every field value in every field position, reserved codes
    included (I2_S 3 -> 0; TL2 magnitudes 14, 15 -> +-(1, 1, 0), the sign with magnitude 0 -> 0), against the
    spec tables; and it inverts ``beat_codes``."""
    width, table = _spec_fields(p.packing)
    per = p.code_bits // width
    rng = np.random.default_rng(seed)
    fields = np.array([np.resize(np.roll(np.arange(1 << width), s), per) for s in range(1 << width)]
                      + [rng.integers(0, 1 << width, per) for _ in range(64)])
    words = np.array([[sum(int(f) << (width * j) for j, f in enumerate(row))] for row in fields], dtype=object)
    want = [[v for f in row for v in table[int(f)]] for row in fields]
    assert T.beat_trits(p, words).tolist() == want
    t = np.array([[v for f in row for v in table[int(f)]] for row in fields[:8]], np.int8)
    if p.packing != "sherry":
        t = rng.integers(-1, 2, t.shape).astype(np.int8)
    np.testing.assert_array_equal(T.beat_trits(p, T.beat_codes(p, t)), t)


@pytest.mark.parametrize("p", [T.TernaryParams(lanes=2, group_size=16), T.TernaryParams(lanes=2, group_size=8,
                                                                                          epilogue="none"),
                               T.TernaryParams(packing="i2s", lanes=2, group_size=16),
                               T.TernaryParams(packing="tl2", lanes=3, group_size=24, epilogue="none")],
                         ids=lambda p: p.tag)
def test_ref_engine_against_python_ints(p, seed):
    """``ref_ternary_engine`` on random code words (reserved codes included) equals group sums in Python
    integers over the spec tables, and (epilogue ``"fp16"``) the exact rational ``sum_g acc_g * alpha_g + b``
    in units of 2**-24 with alpha and b rounded to FP16."""
    width, table = _spec_fields(p.packing)
    per = p.code_bits // width
    rng = np.random.default_rng(seed)
    n, nb = 5, 3 * p.group_size // p.weights_per_beat
    fields = rng.integers(0, 1 << width, (n, nb, per))
    words = np.array([[sum(int(f) << (width * j) for j, f in enumerate(b)) for b in row] for row in fields],
                     dtype=object)
    x = rng.integers(-128, 128, nb * p.weights_per_beat).astype(np.int8)
    x[:3] = [-128, 127, -128]
    w = [[v for b in row for f in b for v in table[int(f)]] for row in fields]
    g = p.group_size
    acc = [[sum(r[k] * int(x[k]) for k in range(j, j + g)) for j in range(0, len(r), g)] for r in w]
    scales, bias = rng.uniform(-3, 3, (n, 3)), rng.uniform(-50, 50, n)
    got = T.ref_ternary_engine(p, T.beat_trits(p, words), x, scales, bias)
    if p.epilogue == "none":
        assert got.tolist() == acc
        return
    for r in range(n):
        exact = sum(Fraction(a) * Fraction(float(np.float16(c))) for a, c in zip(acc[r], scales[r], strict=True))
        exact += Fraction(float(np.float16(bias[r])))
        assert Fraction(int(got[r]), 2**24) == exact, f"row {r}"


def test_i2s_layout_matches_bitnet():
    """Hand-packed I2_S byte: weights m, m+32, m+64, m+96 at bits 7:6, 5:4, 3:2, 1:0 (bitnet.cpp)."""
    t = np.zeros((1, 128), np.int8)
    t[0, [0, 32, 64, 96]] = [1, -1, 0, 1]  # weights m, m+32, m+64, m+96 of byte 0 at bits 7:6 5:4 3:2 1:0
    assert T.pack_i2s(t)[0, 0] == (2 << 6) | (0 << 4) | (1 << 2) | 2


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_gemv_is_exact_per_group(data):
    """``ternary_accumulate`` equals Python-integer sums over the spec codebook, and stays within 128 * 3g/4."""
    g = data.draw(st.sampled_from([4, 8, 32, 128]))
    n = data.draw(st.integers(1, 5))
    k = g * data.draw(st.integers(1, 4))
    codes = np.array(data.draw(st.lists(st.integers(0, 31), min_size=n * k // 4, max_size=n * k // 4)))
    codes = codes.reshape(n, k // 4)
    x = np.array(data.draw(st.lists(st.integers(-128, 127), min_size=k, max_size=k)), dtype=np.int8)
    acc = T.ternary_accumulate(codes, x, g)
    assert acc.tolist() == _oracle_group_sums(codes, x, g)
    assert np.abs(acc).max(initial=0) <= 128 * 3 * g // 4


def _gemv_g4(parts_acc, scales, x_scale, bias=None):
    """``ternary_gemv`` of one row with group size 4 whose group g sums to ``parts_acc[g]``: every block is code
    0 (lanes 0, +1, +1, +1), activations (0, a, 0, 0)."""
    codes = np.zeros((1, len(parts_acc)), np.int64)
    x = np.array([v for a in parts_acc for v in (0, a, 0, 0)], np.int8)
    b = None if bias is None else np.array([bias], np.float32)
    return float(T.ternary_gemv(codes, np.array([scales], np.float32), x, np.float32(x_scale), b, group_size=4)[0])


def test_gemv_float32_order_hand_cases():
    """Hand-computed float32 results of the documented epilogue order: groups summed left to right (the
    exact sum and other orders differ), then divided by the activation scale (not multiplied by its rounded
    reciprocal), then the bias added."""
    big = 2.0**24
    # 2**24 + 1 rounds to 2**24 (tie to even), then - 2**24: 0, where the exact sum (and right to left) is 1
    assert _gemv_g4([1, 1, -1], [big, 1.0, big], 1.0) == 0.0
    assert _gemv_g4([1, -1, 1], [big, big, 1.0], 1.0) == 1.0  # the same parts in another order: exact
    # 5 / 3 rounded once is 1.6666666; 5 * float32(1/3) would round to 1.6666667
    assert _gemv_g4([5], [1.0], 3.0) == _nearest_f32(Fraction(5, 3)) == 13981013 / 2**23  # 5/3 * 2**23 = ...3.33
    # the bias comes after the division: float32(1/3) - float32(1/3) = 0 exactly
    assert _gemv_g4([1], [1.0], 3.0, bias=-_nearest_f32(Fraction(1, 3))) == 0.0
    # each group product is rounded once: 3 * (1 + 2**-23) = 3 + 1.5 ulp(3) rounds to 3 + 2 ulp(3)
    assert _gemv_g4([3], [1 + 2.0**-23], 1.0) == 3 + 2.0**-21


def test_gemv_within_float32_error_bound_of_exact(seed):
    """``ternary_gemv`` on random rows is within the float32 error bound gamma_{G+2} * (sum_g |acc_g * s_g| /
    x_scale + |b|) of the exact rational result, the group sums coming from the spec-codebook oracle."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((6, 512))
    t, s = T.sherry_quantize(w)
    codes = T.pack_sherry(t)
    xq, xs = T.quantize_activations(rng.standard_normal(512))
    bias = rng.standard_normal(6).astype(np.float32)
    y = T.ternary_gemv(codes, s, xq, xs, bias)
    acc = _oracle_group_sums(codes, xq, 128)
    u = Fraction(1, 2**24)
    for n in range(6):
        parts = [Fraction(a) * Fraction(float(c)) for a, c in zip(acc[n], s[n], strict=True)]
        exact = sum(parts) / Fraction(float(xs)) + Fraction(float(bias[n]))
        mag = sum(abs(v) for v in parts) / Fraction(float(xs)) + abs(Fraction(float(bias[n])))
        steps = len(parts) + 2
        assert abs(Fraction(float(y[n])) - exact) <= steps * u / (1 - steps * u) * mag, f"row {n}"
    assert y.dtype == np.float32


def test_fp16_to_fixed_is_exact_for_every_finite_fp16():
    """Every finite FP16 value times 2**24 exactly (all 2**16 codes), and other floats rounded once."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    h = bits.view(np.float16)
    h = h[np.isfinite(h)]
    fixed = T.fp16_to_fixed(h)
    np.testing.assert_array_equal(fixed.astype(np.float64) * 2.0**-T.FIXED_FRAC_BITS, h.astype(np.float64))
    assert fixed.max() == 65504 << 24 and T.fp16_to_fixed(np.array([2.0**-24]))[0] == 1
    assert T.fp16_to_fixed(np.array([0.1]))[0] == int(np.float16(0.1).astype(np.float64) * 2**24)  # rounded once


def test_fixed_epilogue_is_exact_and_tracks_the_float32_reference(seed):
    """``ternary_gemv_fixed`` equals the exact rational epilogue over oracle group sums, and tracks the float32
    reference."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((6, 1024))
    t, s = T.sherry_quantize(w)
    codes = T.pack_sherry(t)
    xq, xs = T.quantize_activations(rng.standard_normal(1024))
    bias = rng.standard_normal(6)
    got = T.ternary_gemv_fixed(codes, s, xq, bias)
    acc = _oracle_group_sums(codes, xq, 128)
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
    """Hand-computed int8 activations: scale 127 / max|x|, ties to even, clipped; all-zero input."""
    q, s = T.quantize_activations(np.array([0.5, -1.0, 0.25, 0.0]))
    assert s == np.float32(127.0) and q.tolist() == [64, -127, 32, 0]  # 63.5 rounds half to even -> 64
    # scale 1 (max |x| = 127): every tie goes to the even neighbour, also downwards and through zero
    q, s = T.quantize_activations(np.array([127.0, 62.5, 63.5, -0.5, 0.5, 1.5, 2.5, -2.5]))
    assert s == np.float32(1.0) and q.tolist() == [127, 62, 64, 0, 0, 2, 2, -2]
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
    """Bad inputs raise the named error with its message."""
    with pytest.raises(exc, match=match):
        make()
