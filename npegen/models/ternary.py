"""Sherry 1.25-bit ternary weights: 3:4 quantiser, the STQ1_0 5-bit code and block layout, the 2-bit
(I2_S) and 1.67-bit (TL2) baseline packings, int8 activations and the exact ternary GEMV.

Weights are ``W[N, K]`` (out x in features); blocks of 4 run along K. A Sherry block has exactly one
zero and three +-1 values, coded in 5 bits (llama.cpp STQ1_0)::

    code5 = s<<4 | zpos<<2 | b1<<1 | b0      n0 < n1 < n2: the lanes other than zpos
    w[n0] = (-1)**s,  w[n1] = (-1)**(s^b0),  w[n2] = (-1)**(s^b1),  w[zpos] = 0

Package conventions (pinned where the sources leave them open):

* quantiser: per block zero the smallest |w| (ties: lowest index); the rest become sign(w) with
  sign(0) = +1; scale per group of ``group_size`` along K = mean |kept weight| (float32);
* engine decoders (:func:`beat_trits`, what :class:`npegen.hw.ternary.TernaryEngine` does with a beat's
  codes): every Sherry code is legal; the I2_S reserved code 3 decodes as weight 0; a TL2 field with the sign
  set and magnitude 0 decodes as (0, 0, 0), and the unused TL2 magnitudes 14 and 15 decode as 12, i.e.
  +-(1, 1, 0). :func:`unpack_i2s` / :func:`unpack_tl2` (the storage formats) reject those codes instead;
* activations: per token ``s = 127 / max(|x|, 1e-5)``, ``q = clip(rint(x*s), -128, 127)`` (rint: half to
  even), as bitnet.cpp's ``quantize_row_i8_s`` with its rounding made explicit;
* GEMV epilogue, in this order, float32: exact int per group -> times the group scale -> summed over the
  groups (left to right) -> divided by the activation scale -> plus the optional bias
  (:func:`ternary_gemv`, the software reference);
* hardware epilogue (:func:`ternary_gemv_fixed`, what the engine computes): group scales and the bias in
  FP16 (IEEE binary16, as STQ1_0 stores its scale), every product ``acc_g * alpha_g`` and the bias added
  *exactly* into a fixed-point row accumulator whose LSB is 2**-24 (the smallest FP16 subnormal, so every
  FP16 value is an integer there). Nothing is rounded; the activation scale is applied by the consumer,
  ``y = Y * 2**-24 / x_scale``. The bias is therefore in accumulator units (``beta = b * x_scale`` for an
  output-domain bias ``b``; for a static activation scale that is a constant).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._checks import check_int

__all__ = [
    "CODEBOOK",
    "sherry_quantize",
    "pack_sherry",
    "unpack_sherry",
    "to_stq1_0",
    "from_stq1_0",
    "STQ1_0_BLOCK_BYTES",
    "pack_i2s",
    "unpack_i2s",
    "pack_tl2",
    "unpack_tl2",
    "quantize_activations",
    "ternary_accumulate",
    "ternary_gemv",
    "ternary_gemv_fixed",
    "fp16_to_fixed",
    "FIXED_FRAC_BITS",
    "EPILOGUES",
    "bits_per_weight",
    "PACKINGS",
    "TernaryParams",
    "beat_codes",
    "beat_trits",
    "ref_ternary_engine",
]

#: Bytes of one STQ1_0 block of 256 weights: qs[32], sign[8], fp16 d.
STQ1_0_BLOCK_BYTES = 42

def _stq_perm() -> np.ndarray:
    """K offset (within a 256-block) of lane p of group g: [64, 4]."""
    g = np.arange(64)[:, None]
    p = np.arange(4)[None, :]
    return (g >> 4) * 64 + (g & 15) + 16 * p


_STQ_PERM = _stq_perm()

# The three non-zero lanes (n0, n1, n2) for each zero position.
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def _decode_table() -> np.ndarray:
    """[32, 4] int8 weights of every code5, from the bit formula."""
    t = np.zeros((32, 4), dtype=np.int8)
    for code in range(32):
        s, z, b1, b0 = code >> 4, (code >> 2) & 3, (code >> 1) & 1, code & 1
        n0, n1, n2 = _OTHERS[z]
        t[code, n0] = -1 if s else 1
        t[code, n1] = -1 if s ^ b0 else 1
        t[code, n2] = -1 if s ^ b1 else 1
    return t


_DECODE = _decode_table()
#: STQ1_0 codebook bytes (lane p at bits 2p+1:2p, value = field - 1), indexed by code5.
CODEBOOK = np.array([sum(int(v + 1) << (2 * p) for p, v in enumerate(row)) for row in _DECODE], dtype=np.uint8)


def _float_matrix(w, name: str = "w") -> np.ndarray:
    a = np.asarray(w)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise TypeError(f"{name} must be a real-valued array, not dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, K], not shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        bad = a[~np.isfinite(a)][0]
        raise ValueError(f"{name} holds a non-finite value ({bad})")
    return a


def _check_k(k: int, group_size: int | None = None) -> None:
    if k % 4:
        raise ValueError(f"K must be a multiple of 4 (blocks of 4 weights), not {k}")
    if group_size is not None and k % group_size:
        raise ValueError(f"K ({k}) must be a multiple of group_size ({group_size})")


def _int_matrix(x, name: str, lo: int, hi: int, what: str, shape_doc: str) -> np.ndarray:
    """``x`` as a 2-D integer array with values in [lo, hi]; errors name the array and the bad value."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, not dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D {shape_doc}, not shape {a.shape}")
    if a.size and (a.min() < lo or a.max() > hi):
        bad = int(a.min()) if a.min() < lo else int(a.max())
        raise ValueError(f"{name} must be {what}; got {bad}")
    return a


def _check_trits(t) -> np.ndarray:
    return _int_matrix(t, "trits", -1, 1, "-1, 0 or +1", "[N, K]").astype(np.int8)


def sherry_quantize(w, group_size: int = 128, *, layout: str = "contiguous") -> tuple[np.ndarray, np.ndarray]:
    """3:4 sparse ternary quantisation (Sparse-AbsMean).

    Parameters
    ----------
    w : array_like, shape (N, K)
        Real weights; K a multiple of 4 and of ``group_size``.
    group_size : int
        Weights per scale along K (a multiple of 4, 4 to 65536).
    layout : {"contiguous", "stq_stride16"}
        Which 4 weights form a block: K 4b..4b+3 (Sherry training, :func:`pack_sherry`) or the STQ1_0
        stride-16 quads of each 256 weights (:func:`to_stq1_0`; K a multiple of 256).

    Returns
    -------
    trits : ndarray of int8, shape (N, K)
        -1 / 0 / +1, exactly one zero per block of 4.
    scales : ndarray of float32, shape (N, K // group_size)
        Mean |kept weight| of each group.
    """
    a = _float_matrix(w)
    group_size = check_int("group_size", group_size, 4, 65536)
    if group_size % 4:
        raise ValueError(f"group_size must be a multiple of 4, not {group_size}")
    n, k = a.shape
    _check_k(k, group_size)
    if layout not in ("contiguous", "stq_stride16"):
        raise ValueError(f"layout must be 'contiguous' or 'stq_stride16', not {layout!r}")
    perm = np.arange(k)
    if layout == "stq_stride16":
        if k % 256:
            raise ValueError(f"the stq_stride16 layout needs K to be a multiple of 256, not {k}")
        perm = (np.arange(k // 256)[:, None, None] * 256 + _STQ_PERM[None]).reshape(k)
    blocks = a[:, perm].reshape(n, k // 4, 4)
    zpos = np.argmin(np.abs(blocks), axis=-1)  # argmin returns the first minimum: ties -> lowest index
    t = np.where(blocks < 0, -1, 1).astype(np.int8)
    np.put_along_axis(t, zpos[..., None], 0, axis=-1)
    trits = np.empty((n, k), dtype=np.int8)
    trits[:, perm] = t.reshape(n, k)
    kept = np.abs(a) * (trits != 0)
    scales = (kept.reshape(n, k // group_size, group_size).sum(axis=-1) / (group_size * 3 // 4)).astype(np.float32)
    return trits, scales


def pack_sherry(trits) -> np.ndarray:
    """5-bit STQ1_0 code of every block of 4 (uint8 [N, K/4]); a block with other than one zero ->
    ValueError naming it."""
    t = _check_trits(trits)
    n, k = t.shape
    _check_k(k)
    b = t.reshape(n, k // 4, 4)
    zeros = (b == 0).sum(axis=-1)
    if (zeros != 1).any():
        r, c = np.argwhere(zeros != 1)[0]
        raise ValueError(f"block {c} of row {r} has {zeros[r, c]} zeros ({b[r, c].tolist()}); Sherry blocks "
                         "have exactly one")
    z = np.argmax(b == 0, axis=-1)
    others = _OTHERS[z]  # [n, k/4, 3]
    vals = np.take_along_axis(b, others, axis=-1)
    s = (vals[..., 0] < 0).astype(np.uint8)
    b0 = (vals[..., 1] < 0).astype(np.uint8) ^ s
    b1 = (vals[..., 2] < 0).astype(np.uint8) ^ s
    return (s << 4) | (z.astype(np.uint8) << 2) | (b1 << 1) | b0


def unpack_sherry(codes) -> np.ndarray:
    """Inverse of :func:`pack_sherry` (int8 [N, 4 * K/4])."""
    c = _int_matrix(codes, "codes", 0, 31, "5-bit, in [0, 31]", "[N, K/4]")
    return _DECODE[c.astype(np.intp)].reshape(c.shape[0], -1)


# ---- STQ1_0 block layout ----------------------------------------------------------------------------------


def to_stq1_0(trits, scales) -> np.ndarray:
    """STQ1_0 blocks: per 256 weights of a row ``qs[32]`` (4-bit slots, even group in the low nibble), ``sign[8]``
    (LSB first) and the fp16 scale ``d``; groups of 4 taken at stride 16 (group g of a block holds K offsets
    ``(g>>4)*64 + (g&15) + 16p``). Returns uint8 [N, K/256 * 42].

    ``scales`` has shape [N, K/256] and is stored as float16 (round trips exactly for fp16 values).
    """
    t = _check_trits(trits)
    n, k = t.shape
    if k % 256:
        raise ValueError(f"STQ1_0 needs K to be a multiple of 256, not {k}")
    d = np.asarray(scales)
    if d.shape != (n, k // 256):
        raise ValueError(f"scales must have shape {(n, k // 256)}, not {d.shape}")
    blocks = t.reshape(n, k // 256, 256)
    quads = blocks[..., _STQ_PERM]  # [n, nb, 64, 4]
    codes = pack_sherry(quads.reshape(-1, 4)).reshape(n, k // 256, 64)
    slots = codes & 0xF
    signs = codes >> 4
    qs = (slots[..., 0::2] | (slots[..., 1::2] << 4)).astype(np.uint8)  # [n, nb, 32]
    sb = np.packbits(signs.astype(np.uint8).reshape(n, k // 256, 8, 8), axis=-1, bitorder="little")[..., 0]
    dd = d.astype(np.float16).view(np.uint8).reshape(n, k // 256, 2)
    return np.concatenate([qs, sb, dd], axis=-1).reshape(n, -1)


def from_stq1_0(buf, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_stq1_0`: ``(trits [N, K], scales float16 [N, K/256])``."""
    b = np.asarray(buf)
    if b.dtype != np.uint8 or b.ndim != 2:
        raise TypeError(f"buf must be a 2-D uint8 array, not {b.dtype} of shape {b.shape}")
    k = check_int("k", k, 256, 1 << 30)
    if k % 256 or b.shape[1] != k // 256 * STQ1_0_BLOCK_BYTES:
        raise ValueError(f"a row of K={k} weights is {k // 256 * STQ1_0_BLOCK_BYTES} STQ1_0 bytes, not {b.shape[1]}")
    n = b.shape[0]
    blk = b.reshape(n, k // 256, STQ1_0_BLOCK_BYTES)
    qs, sb, dd = blk[..., :32], blk[..., 32:40], blk[..., 40:42]
    slots = np.stack([qs & 0xF, qs >> 4], axis=-1).reshape(n, k // 256, 64)
    signs = np.unpackbits(sb, axis=-1, bitorder="little").reshape(n, k // 256, 64)
    codes = (signs << 4) | slots
    quads = _DECODE[codes.astype(np.intp)]  # [n, nb, 64, 4]
    out = np.empty((n, k // 256, 256), dtype=np.int8)
    out[..., _STQ_PERM] = quads
    d = np.ascontiguousarray(dd).view(np.float16).reshape(n, k // 256)
    return out.reshape(n, k), d


# ---- baselines --------------------------------------------------------------------------------------------


def pack_i2s(trits) -> np.ndarray:
    """bitnet.cpp I2_S (x86, 128-weight blocks): codes 0 = -1, 1 = 0, 2 = +1; byte m of a 32-byte block holds
    weights m, m+32, m+64, m+96 at bits 7:6, 5:4, 3:2, 1:0. Returns uint8 [N, K/4]."""
    t = _check_trits(trits)
    n, k = t.shape
    if k % 128:
        raise ValueError(f"I2_S needs K to be a multiple of 128, not {k}")
    c = (t + 1).astype(np.uint8).reshape(n, k // 128, 4, 32)  # [.., quarter q, m]
    return ((c[:, :, 0] << 6) | (c[:, :, 1] << 4) | (c[:, :, 2] << 2) | c[:, :, 3]).reshape(n, k // 4)


def unpack_i2s(buf) -> np.ndarray:
    """Inverse of :func:`pack_i2s`."""
    b = np.asarray(buf)
    if b.dtype != np.uint8 or b.ndim != 2 or b.shape[1] % 32:
        raise ValueError(f"I2_S buffers are uint8 [N, K/4] with K a multiple of 128, not {b.dtype} {b.shape}")
    n = b.shape[0]
    blk = b.reshape(n, -1, 32)
    q = np.stack([(blk >> s) & 3 for s in (6, 4, 2, 0)], axis=2)  # [n, nb, 4, 32]
    if (q == 3).any():
        raise ValueError("I2_S field value 3 is not a ternary code")
    return (q.astype(np.int8) - 1).reshape(n, -1)


def pack_tl2(trits) -> np.ndarray:
    """1.67-bit TL2-style packing of triples along K: ``v = 9*w0 + 3*w1 + w2`` (-13..13) stored as ``|v|``
    in a nibble (two per byte, the first triple in the high nibble) followed by the sign bits ``v < 0``
    (eight per byte, LSB first). K must be a multiple of 6. Returns uint8 [N, K/6 + ceil(K/24)]."""
    t = _check_trits(trits)
    n, k = t.shape
    if k % 6:
        raise ValueError(f"TL2 needs K to be a multiple of 6, not {k}")
    tr = t.astype(np.int16).reshape(n, k // 3, 3)
    v = 9 * tr[..., 0] + 3 * tr[..., 1] + tr[..., 2]
    mag = np.abs(v).astype(np.uint8)
    nib = (mag[:, 0::2] << 4) | mag[:, 1::2]
    sign = np.packbits((v < 0).astype(np.uint8), axis=-1, bitorder="little")
    return np.concatenate([nib, sign], axis=-1)


def unpack_tl2(buf, k: int) -> np.ndarray:
    """Inverse of :func:`pack_tl2` for rows of ``k`` weights."""
    b = np.asarray(buf)
    k = check_int("k", k, 6, 1 << 30)
    if k % 6:
        raise ValueError(f"TL2 needs K to be a multiple of 6, not {k}")
    m = k // 3
    if b.dtype != np.uint8 or b.ndim != 2 or b.shape[1] != m // 2 + (m + 7) // 8:
        raise ValueError(f"a TL2 row of K={k} is {m // 2 + (m + 7) // 8} bytes, not {b.shape}")
    nib = b[:, : m // 2]
    mag = np.stack([nib >> 4, nib & 0xF], axis=-1).reshape(b.shape[0], m).astype(np.int16)
    if (mag > 13).any():
        raise ValueError("TL2 magnitude above 13 is not a ternary triple")
    sign = np.unpackbits(b[:, m // 2:], axis=-1, bitorder="little")[:, :m]
    v = np.where(sign == 1, -mag, mag)
    w0 = np.rint(v / 9).astype(np.int16)
    r = v - 9 * w0
    w1 = np.rint(r / 3).astype(np.int16)
    w2 = r - 3 * w1
    return np.stack([w0, w1, w2], axis=-1).reshape(b.shape[0], k).astype(np.int8)


def bits_per_weight(buf, n: int, k: int) -> float:
    """Bits per weight of a packed buffer (its size over the ``n*k`` weights it holds)."""
    return np.asarray(buf).nbytes * 8 / (n * k)


# ---- activations and GEMV ------------------------------------------------------------------------------------


def quantize_activations(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-token int8 absmax: ``(q int8 [T, K], s float32 [T])`` with ``q = clip(rint(x*s), -128, 127)``,
    ``s = 127 / max(|x|, 1e-5)``. A 1-D ``x`` is one token."""
    a = np.asarray(x)
    one = a.ndim == 1
    a = _float_matrix(a[None] if one else a, "x").astype(np.float32)
    s = (np.float32(127) / np.maximum(np.abs(a).max(axis=-1), np.float32(1e-5))).astype(np.float32)
    q = np.clip(np.rint(a * s[:, None]), -128, 127).astype(np.int8)
    return (q[0], s[0]) if one else (q, s)


def ternary_accumulate(codes, x_q, group_size: int = 128) -> np.ndarray:
    """Exact per-group sums ``sum_k w[n,k] * x[k]`` of Sherry codes [N, K/4] and int8 activations [K]:
    int64 [N, K/group_size]."""
    t = unpack_sherry(codes).astype(np.int64)
    x = np.asarray(x_q)
    if x.dtype != np.int8:
        raise TypeError(f"x_q must be int8 activations, not dtype {x.dtype}")
    n, k = t.shape
    if x.shape != (k,):
        raise ValueError(f"x_q must have shape ({k},), not {x.shape}")
    group_size = check_int("group_size", group_size, 4, 65536)
    _check_k(k, group_size)
    prod = t * x.astype(np.int64)[None, :]
    return prod.reshape(n, k // group_size, group_size).sum(axis=-1)


def ternary_gemv(codes, scales, x_q, x_scale, bias=None, group_size: int = 128) -> np.ndarray:
    """``y[n] = (sum_g acc[n,g] * scales[n,g]) / x_scale + bias[n]`` in float32, in that order (see the
    module docstring): float32 [N]."""
    acc = ternary_accumulate(codes, x_q, group_size)
    sc = np.asarray(scales, dtype=np.float32)
    if sc.shape != acc.shape:
        raise ValueError(f"scales must have shape {acc.shape}, not {sc.shape}")
    part = acc.astype(np.float32) * sc  # exact ints (< 2**24) times fp32 scale, rounded once each
    y = part[:, 0].copy()
    for g in range(1, part.shape[1]):  # left-to-right float32 sum over the groups
        y = (y + part[:, g]).astype(np.float32)
    y = (y / np.float32(x_scale)).astype(np.float32)
    if bias is not None:
        b = np.asarray(bias, dtype=np.float32)
        if b.shape != y.shape:
            raise ValueError(f"bias must have shape {y.shape}, not {b.shape}")
        y = (y + b).astype(np.float32)
    return y


#: Fractional bits of the hardware epilogue's fixed point: FP16's smallest subnormal is 2**-24.
FIXED_FRAC_BITS = 24
#: Largest ``|x| * 2**24`` of a finite FP16 value (65504 * 2**24) - fits 41 signed bits.
_FP16_MAX_FIXED = 65504 << FIXED_FRAC_BITS


def _fp16(x, name: str) -> np.ndarray:
    """``x`` rounded once to FP16 (nearest, ties to even); non-finite values (also after rounding) rejected."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise TypeError(f"{name} must be a real-valued array, not dtype {a.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported below, with the value
        h = a.astype(np.float64).astype(np.float16) if a.dtype != np.float16 else a
    if not np.isfinite(h).all():
        bad = a.ravel()[np.flatnonzero(~np.isfinite(h))[0]]
        raise ValueError(f"{name} must be finite in FP16 (|x| <= 65504); got {bad}")
    return h


def fp16_to_fixed(x) -> np.ndarray:
    """Exact ``x * 2**24`` of FP16 values (other floats are first rounded to FP16): int64, same shape.

    This is the hardware decode: ``mant = frac | (exp != 0) << 10``, ``shift = max(exp - 1, 0)``,
    ``value = (-1)**sign * mant << shift``.
    """
    h = _fp16(x, "x")
    f = np.ascontiguousarray(h).view(np.uint16).astype(np.int64)
    e = (f >> 10) & 31
    mant = (f & 1023) | ((e > 0).astype(np.int64) << 10)
    v = mant << np.maximum(e - 1, 0)
    return np.where(f >> 15 == 1, -v, v)


def ternary_gemv_fixed(codes, scales, x_q, bias=None, group_size: int = 128) -> np.ndarray:
    """The engine's exact epilogue: ``Y[n] = sum_g acc[n,g] * fp16(scales[n,g]) + fp16(bias[n])`` in units
    of 2**-24, with no rounding (see the module docstring): Python ints, object array [N].

    ``float(Y) * 2**-24 / x_scale`` approximates :func:`ternary_gemv` with an output-domain bias
    ``b = fp16(bias) / x_scale``; the two differ only by the float32 roundings of the latter.
    """
    return _fixed_epilogue(ternary_accumulate(codes, x_q, group_size), scales, bias)


def _fixed_epilogue(acc: np.ndarray, scales, bias) -> np.ndarray:
    """``sum_g acc[n,g] * fp16(scales[n,g]) + fp16(bias[n])`` exactly, in units of 2**-24 (Python ints)."""
    alpha = fp16_to_fixed(_fp16(scales, "scales"))
    if alpha.shape != acc.shape:
        raise ValueError(f"scales must have shape {acc.shape}, not {alpha.shape}")
    prod = acc.astype(object) * alpha.astype(object)  # Python ints: |alpha| < 2**41 times a wide group sum
    y = prod.sum(axis=1) if acc.shape[1] else np.zeros(acc.shape[0], dtype=object)
    if bias is not None:
        b = fp16_to_fixed(_fp16(bias, "bias"))
        if b.shape != y.shape:
            raise ValueError(f"bias must have shape {y.shape}, not {b.shape}")
        y = y + b.astype(object)
    return y


# ---- the engine's design point and beat-level model -------------------------------------------------------

#: Weight packings the engine decodes: Sherry 5-bit blocks of 4, I2_S 2-bit weights, TL2 5-bit triples.
PACKINGS = ("sherry", "i2s", "tl2")
#: Engine epilogues: exact FP16-scaled fixed-point row sums, or the raw group sums.
EPILOGUES = ("fp16", "none")


@dataclass(frozen=True)
class TernaryParams:
    """One design point of :class:`npegen.hw.ternary.TernaryEngine`.

    Parameters
    ----------
    lanes : int
        Blocks of 4 weights per beat, P (1 to 64): every beat takes 4*P int8 activations.
    packing : {"sherry", "i2s", "tl2"}
        How the beat's 4*P weights arrive: P 5-bit Sherry codes; 4*P 2-bit I2_S codes (0 = -1, 1 = 0,
        2 = +1); or 4*P/3 TL2 triples, 5 bits each (sign, |9*w0 + 3*w1 + w2|) - TL2 needs P % 3 == 0.
    group_size : int
        Weights per accumulated group along K, a multiple of 4*P (4 to 65536): one group sum per group.
    epilogue : {"fp16", "none"}
        ``"fp16"``: each group sum is multiplied by its FP16 scale and added, with the FP16 bias, exactly
        into a fixed-point row accumulator (LSB 2**-24, :func:`ternary_gemv_fixed`); one result per row.
        ``"none"``: the raw group sums are the output (:func:`ternary_accumulate`).
    max_k : int
        Longest row (weights along K, ``group_size`` to 2**24) the row accumulator holds
        without overflow; sizes :attr:`out_width` (only with the ``"fp16"`` epilogue).

    Raises
    ------
    TypeError, ValueError
        Out-of-range or inconsistent parameters, named.
    """

    lanes: int = 8
    packing: str = "sherry"
    group_size: int = 128
    epilogue: str = "fp16"
    max_k: int = 65536

    def __post_init__(self) -> None:
        lanes = check_int("lanes", self.lanes, 1, 64)
        if not isinstance(self.packing, str) or self.packing not in PACKINGS:
            raise ValueError(f"packing must be one of {PACKINGS}, not {self.packing!r}")
        if self.packing == "tl2" and lanes % 3:
            raise ValueError(f"tl2 packs weights in triples: lanes (4*P weights per beat) must be a multiple of "
                             f"3, not {lanes}")
        g = check_int("group_size", self.group_size, 4, 65536)
        if g % (4 * lanes):
            raise ValueError(f"group_size ({g}) must be a multiple of the {4 * lanes} weights per beat")
        if not isinstance(self.epilogue, str) or self.epilogue not in EPILOGUES:
            raise ValueError(f"epilogue must be one of {EPILOGUES}, not {self.epilogue!r}")
        max_k = check_int("max_k", self.max_k, g, 1 << 24, context=" (the longest row)")
        object.__setattr__(self, "lanes", lanes)
        object.__setattr__(self, "group_size", g)
        object.__setattr__(self, "max_k", max_k)

    @property
    def weights_per_beat(self) -> int:
        return 4 * self.lanes

    @property
    def beats_per_group(self) -> int:
        return self.group_size // self.weights_per_beat

    @property
    def code_bits(self) -> int:
        """Bits of weight codes per beat."""
        return {"sherry": 5 * self.lanes, "i2s": 8 * self.lanes, "tl2": 5 * (4 * self.lanes // 3)}[self.packing]

    @property
    def latency(self) -> int:
        """Cycles from the edge accepting a group's (``"none"``) or a row's (``"fp16"``) last beat to its
        result on the output."""
        return 2 if self.epilogue == "fp16" else 1

    def cycles_per_row(self, k: int) -> int:
        """Cycles a row of ``k`` weights occupies the engine at full rate: one beat of 4*P weights per cycle."""
        k = check_int("k", k, self.group_size, 1 << 30)
        if k % self.group_size:
            raise ValueError(f"K ({k}) must be a multiple of group_size ({self.group_size})")
        return k // self.weights_per_beat

    def job_cycles(self, rows: int, k: int) -> int:
        """Cycles of ``rows`` rows of ``k`` weights on one engine, first beat to last result, both counted.

        The estimator's ternary cycle formula (``npegen.analysis.estimator``) and the one the testbench's
        ``test_cycles_per_row`` measurement checks (``tests/analysis/test_estimator_rtl.py``).

        Parameters
        ----------
        rows : int
            Rows (outputs) streamed back to back, 0 to 2**62.
        k : int
            Weights per row, 1 to 2**30; padded with zero weights to whole groups of :attr:`group_size`.

        Returns
        -------
        int
            ``rows * cycles_per_row(ceil(k / group_size) * group_size) + latency``: one beat of 4*P weights
            per cycle with no bubble between rows, the last result :attr:`latency` cycles after the last beat.
        """
        rows = check_int("rows", rows, 0, 1 << 62)
        k = check_int("k", k, 1, 1 << 30)
        return rows * self.cycles_per_row(-(-k // self.group_size) * self.group_size) + self.latency

    @property
    def out_width(self) -> int:
        """Signed width of an output word: :attr:`acc_width` without epilogue, else the row accumulator's,
        bounded by ``(ceil(max_k/group_size) + 1) * 2**(acc_width-1) * 65504 * 2**24``."""
        if self.epilogue == "none":
            return self.acc_width
        bound = (-(-self.max_k // self.group_size) + 1) * (1 << (self.acc_width - 1)) * _FP16_MAX_FIXED
        return bound.bit_length() + 1

    @property
    def acc_width(self) -> int:
        """Signed width of a group sum: |sum| <= 128 * (non-zero weights per group)."""
        nonzero = self.group_size * 3 // 4 if self.packing == "sherry" else self.group_size
        return (128 * nonzero).bit_length() + 1

    @property
    def tag(self) -> str:
        return f"{self.packing}_p{self.lanes}_g{self.group_size}" + ("" if self.epilogue == "fp16" else "_raw")

    def to_env(self) -> dict[str, str]:
        return {"PARAM_LANES": str(self.lanes), "PARAM_PACKING": self.packing,
                "PARAM_GROUP_SIZE": str(self.group_size), "PARAM_EPILOGUE": self.epilogue,
                "PARAM_MAX_K": str(self.max_k)}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TernaryParams:
        env = os.environ if env is None else env
        return cls(lanes=int(env["PARAM_LANES"]), packing=env["PARAM_PACKING"],
                   group_size=int(env["PARAM_GROUP_SIZE"]), epilogue=env["PARAM_EPILOGUE"],
                   max_k=int(env["PARAM_MAX_K"]))


def beat_codes(p: TernaryParams, trits) -> np.ndarray:
    """The weight-code word of every beat of a row (or rows): trits [N, K] (K a multiple of 4*P, and Sherry
    blocks with one zero each) -> Python-int-packable uint64 fields, object array [N, K / (4P)]."""
    t = _check_trits(trits)
    n, k = t.shape
    wpb = p.weights_per_beat
    if k % wpb:
        raise ValueError(f"K ({k}) must be a multiple of the {wpb} weights per beat")
    if p.packing == "sherry":
        fields, width = pack_sherry(t).astype(np.int64), 5
    elif p.packing == "i2s":
        fields, width = (t + 1).astype(np.int64), 2
    else:
        tr = t.astype(np.int64).reshape(n, k // 3, 3)
        v = 9 * tr[..., 0] + 3 * tr[..., 1] + tr[..., 2]
        fields, width = (np.abs(v) | ((v < 0).astype(np.int64) << 4)), 5
    per_beat = fields.shape[1] // (k // wpb)
    f = fields.reshape(n, k // wpb, per_beat)
    words = np.zeros((n, k // wpb), dtype=object)
    for j in range(per_beat):
        words = words + (f[..., j].astype(object) << (width * j))
    return words


#: Engine I2_S decoder: 2-bit field -> weight; the reserved code 3 decodes as 0 (it is neither 0 nor 2).
_I2S_ENGINE = np.array([-1, 0, 1, 0], dtype=np.int8)


def _tl2_engine_table() -> np.ndarray:
    """[32, 3] weights of every 5-bit TL2 engine field (bit 4 sign, bits 3:0 the magnitude |9*w0 + 3*w1 + w2|).
    Magnitudes 0..13 are the balanced-ternary triples; the unused 14 and 15 decode as 12 (the decoder's
    comparators: ``w0 = |v| >= 5``, ``w1 = +-1`` when the remainder is ``>= 2`` / ``<= -2``, ``w2`` only when
    the last remainder is exactly +-1, which 14 - 12 = 2 and 15 - 12 = 3 are not); the sign negates all
    three, so the sign with magnitude 0 is (0, 0, 0)."""
    t = np.zeros((32, 3), dtype=np.int8)
    for f in range(32):
        mag = f & 15
        w0 = int(mag >= 5)
        r = mag - 9 * w0
        w1 = 1 if r >= 2 else -1 if r <= -2 else 0
        r2 = r - 3 * w1
        w2 = r2 if r2 in (-1, 1) else 0
        t[f] = [-w0, -w1, -w2] if f >> 4 else [w0, w1, w2]
    return t


_TL2_ENGINE = _tl2_engine_table()


def beat_trits(p: TernaryParams, words) -> np.ndarray:
    """The weights the engine decodes from beat code words [N, beats] (Python ints of ``p.code_bits`` bits,
    as :func:`beat_codes` makes them): int8 [N, beats * 4P]. The inverse of :func:`beat_codes` on its codes,
    and defined on every code word, reserved codes included:

    * Sherry: all 32 codes are legal (the STQ1_0 codebook, :data:`CODEBOOK`);
    * I2_S: 0 = -1, 1 = 0, 2 = +1, and the reserved 3 decodes as **0**;
    * TL2: a field is ``sign << 4 | |v|``, ``v = 9*w0 + 3*w1 + w2``; the sign with magnitude 0 decodes as
      (0, 0, 0), and the unused magnitudes **14 and 15 decode as 12**, i.e. ``+-(1, 1, 0)``.
    """
    w = np.asarray(words, dtype=object)
    if w.ndim != 2:
        raise ValueError(f"words must be 2-D [N, beats], not shape {w.shape}")
    bad = [v for v in w.ravel() if not isinstance(v, (int, np.integer)) or not 0 <= int(v) < 1 << p.code_bits]
    if bad:
        raise ValueError(f"beat words must be integers in [0, 2**{p.code_bits}); got {bad[0]!r}")
    n, nb = w.shape
    width = 2 if p.packing == "i2s" else 5
    per = p.code_bits // width
    f = np.array([[(int(v) >> (width * j)) & ((1 << width) - 1) for v in w.ravel() for j in range(per)]],
                 dtype=np.intp).reshape(n, nb * per)
    table = {"sherry": _DECODE, "i2s": _I2S_ENGINE[:, None], "tl2": _TL2_ENGINE}[p.packing]
    return table[f].reshape(n, nb * p.weights_per_beat)


def ref_ternary_engine(p: TernaryParams, trits, x_q, scales=None, bias=None) -> np.ndarray:
    """What the engine emits for rows ``trits`` [N, K] against activations ``x_q`` [K], for any packing.

    Epilogue ``"none"``: the group sums, int64 [N, K/group_size] (= :func:`ternary_accumulate`).
    Epilogue ``"fp16"``: one word per row, :func:`ternary_gemv_fixed` with ``scales`` [N, K/group_size]
    and the optional ``bias`` [N] (both rounded to FP16), wrapped to :attr:`TernaryParams.out_width` bits
    (it only wraps for K > ``max_k``): Python ints, object array [N].
    """
    t = _check_trits(trits).astype(np.int64)
    x = np.asarray(x_q)
    if x.dtype != np.int8:
        raise TypeError(f"x_q must be int8 activations, not dtype {x.dtype}")
    n, k = t.shape
    if k % p.group_size or x.shape != (k,):
        raise ValueError(f"K ({k}) must be a multiple of group_size ({p.group_size}) and x_q of shape ({k},)")
    acc = (t * x.astype(np.int64)).reshape(n, k // p.group_size, p.group_size).sum(axis=-1)
    if p.epilogue == "none":
        return acc
    if scales is None:
        raise ValueError("the fp16 epilogue needs scales [N, K/group_size]")
    y = _fixed_epilogue(acc, scales, bias)
    w = p.out_width
    return np.array([((int(v) + (1 << (w - 1))) % (1 << w)) - (1 << (w - 1)) for v in y], dtype=object)
