"""Bit-exact number formats: minifloats (FP4 E2M1, OCP FP8 E4M3/E5M2, BF16, FP16), Posit(n, es) (SoftPosit
convention) and signed INT.

One :class:`Format` object is the single definition of a format: it decodes and
encodes codes, does correctly rounded arithmetic on them, and tells the
generator the widths it needs (fraction bits, scale range, exact-accumulator
width). The same object parameterises the RTL units of :mod:`npegen.hw.formats`,
their testbench and the estimator.

Exact representation
--------------------
Every non-zero, non-NaR code decomposes exactly into::

    value = (-1)**sign * sig * 2**(scale - frac_bits),   2**frac_bits <= sig < 2**(frac_bits + 1)

with the hidden bit included in ``sig`` (:meth:`Format.decompose`). Arithmetic
(:meth:`~Format.mul`, :meth:`~Format.add`, :meth:`~Format.dot`) computes the exact
result on those integers and rounds it once with the format's own rule:

* **Posit** - round to nearest, ties to even *on the bit pattern*, saturate to
  ±maxpos, never round a non-zero value to zero, NaR = ``10...0`` absorbs;
  ``nan``/``inf`` encode to NaR (SoftPosit 0.3.4 behaviour).
* **Minifloat** (:class:`Minifloat`: FP4 E2M1, FP8 E4M3/E5M2, BF16, FP16) - round to
  nearest even; a finite result beyond the largest value becomes Inf (IEEE-like
  formats), NaN (OCP E4M3, no Inf) or saturates (``saturate=True``; FP4, which has
  neither). -0 exists. A product's zero takes the XOR of the signs, a sum's zero is
  +0 unless both addends are -0 (IEEE 754); an accumulated (``dot``) zero is +0
  (package choice). NaN codes decompose like posit NaR (``nar`` flag, sign, scale
  and sig 0), infinities with the ``inf`` flag, their sign, scale and sig 0.
  FP4 E2M1 has no Inf/NaN and ``nan`` encodes to ``0x8`` (-0), as in
  ``ml_dtypes.float4_e2m1fn``.
* **INT** - round to nearest even, saturate to the two's complement range;
  ``nan`` cannot be encoded (``ValueError``).

``dot`` has quire semantics: all products along the last axis are summed exactly
in a multi-limb fixed-point accumulator and rounded once.

All methods are vectorised over numpy arrays of unsigned codes; nothing loops
per element in Python.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._checks import check_int, short_repr

__all__ = [
    "Format",
    "Posit",
    "Minifloat",
    "FP4E2M1",
    "Int",
    "Decomposed",
    "NAMED",
    "get",
    "names",
    "parse",
]

_FB = 62  # fraction bits carried below the leading one into rounding (uint64 with room for the hidden bit)
_U = np.uint64
_LIMB = 31  # bits per limb of the exact dot-product accumulator


@dataclass(frozen=True)
class Decomposed:
    """Exact decomposition of codes (arrays of one shape). ``sig`` and ``scale`` are 0 where
    ``zero``, ``nar`` or ``inf`` is set; ``sign`` is 0 where ``nar`` is set."""

    sign: np.ndarray  # bool
    scale: np.ndarray  # int64
    sig: np.ndarray  # uint64, hidden bit at position frac_bits
    zero: np.ndarray  # bool
    nar: np.ndarray  # bool: posit NaR or a minifloat NaN (never set for FP4 / INT)
    inf: np.ndarray | None = None  # bool: minifloat infinity (all False when not given)

    def __post_init__(self):
        if self.inf is None:
            object.__setattr__(self, "inf", np.zeros(np.shape(self.zero), bool))


# ---- integer helpers (vectorised, exact) -------------------------------------------------------------------


def _bitlen(x: np.ndarray) -> np.ndarray:
    """Bit length of uint64 values (0 for 0), exact for the full 64-bit range."""
    x = x.astype(_U, copy=False)
    hi = (x >> _U(32)).astype(np.float64)
    lo = (x & _U(0xFFFFFFFF)).astype(np.float64)
    bl_hi = np.frexp(hi)[1]
    bl_lo = np.frexp(lo)[1]
    return np.where(hi > 0, bl_hi + 32, bl_lo).astype(np.int64)


def _shl(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``x << s`` for 0 <= s (shifts of 64 or more give 0, unlike the hardware instruction)."""
    s = np.asarray(s, dtype=np.int64)
    return np.where(s < 64, x << np.minimum(s, 63).astype(_U), _U(0))


def _shr(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``x >> s`` for 0 <= s (shifts of 64 or more give 0)."""
    s = np.asarray(s, dtype=np.int64)
    return np.where(s < 64, x >> np.minimum(s, 63).astype(_U), _U(0))


def _low_mask(s: np.ndarray) -> np.ndarray:
    """``2**s - 1`` as uint64 for 0 <= s <= 64."""
    s = np.asarray(s, dtype=np.int64)
    return np.where(s >= 64, _U(0xFFFFFFFFFFFFFFFF), (_U(1) << np.minimum(s, 63).astype(_U)) - _U(1))


def _normalise(mag: np.ndarray, lsb_exp: np.ndarray, sticky: np.ndarray):
    """Magnitude ``mag * 2**lsb_exp`` (mag > 0, at most 63 bits) -> (scale, 62-bit fraction, sticky)."""
    bl = _bitlen(mag)
    scale = lsb_exp + bl - 1
    frac = _shl(mag, _FB + 1 - bl) & _U((1 << _FB) - 1)  # leading one dropped, fraction left-aligned
    return scale, frac, sticky


def _as_u(x) -> np.ndarray:
    """0/1 flags (bool or integer, array or scalar) as uint64."""
    x = np.asarray(x)
    return x if x.dtype == _U else x.astype(_U)


def _float_parts(v: np.ndarray):
    """(sign, scale, 62-bit fraction) of float64 values, read from their bits.

    Exact for normal numbers. Subnormals come out with scale -1023, below every format's range, where
    they round as the tiny values they are (posits: minpos; FP4/INT: zero).
    """
    bits = np.ascontiguousarray(v, dtype=np.float64).view(_U)
    sign = bits >> _U(63)
    scale = ((bits >> _U(52)) & _U(0x7FF)).view(np.int64) - 1023
    frac = (bits << _U(_FB - 52)) & _U((1 << _FB) - 1)
    return sign, scale, frac


def _round_at(scale, frac, sticky, lsb_exp):
    """Round ``1.frac * 2**scale`` (plus ``sticky`` below) to a multiple of ``2**lsb_exp``, ties to even.
    Returns the multiple as uint64 (callers keep it small)."""
    full = frac | _U(1 << _FB)
    r = _FB + lsb_exp - scale  # right shift that puts the LSB at bit 0
    r = np.maximum(r, 0)  # callers never ask for a coarser scale than the value (r >= 0)
    q = _shr(full, r)
    guard = np.where(r >= 1, _shr(full, r - 1) & _U(1), _U(0)).astype(bool)
    below = np.where(r >= 2, full & _low_mask(r - 1), _U(0)) != 0
    up = guard & (below | np.asarray(sticky, bool) | ((q & _U(1)) == 1))
    return q + up.astype(_U)


def _check_codes(fmt: Format, codes) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.dtype.kind not in "ui":
        if arr.dtype == object:
            try:
                arr = arr.astype(np.int64)
            except (TypeError, ValueError, OverflowError):
                raise TypeError(f"{fmt.name} codes must be integers, not {arr.dtype} values") from None
        else:
            raise TypeError(f"{fmt.name} codes must be an integer array, not dtype {arr.dtype} "
                            "(use encode() for real values)")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= 1 << fmt.nbits:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{fmt.name} codes are {fmt.nbits}-bit unsigned, in [0, {(1 << fmt.nbits) - 1}]; "
                             f"got {bad}")
    return arr.astype(_U)


def _code_dtype(nbits: int):
    return np.uint8 if nbits <= 8 else np.uint16 if nbits <= 16 else np.uint32


def _broadcast(*arrays):
    try:
        return np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = " and ".join(str(np.shape(a)) for a in arrays)
        raise ValueError(f"operand shapes {shapes} do not broadcast") from None


# ---- the format interface ------------------------------------------------------------------------------------


class Format(ABC):
    """A number format: codes of :attr:`nbits` bits, their exact values, and correctly rounded arithmetic."""

    #: Registered name (``get(name)``) or a descriptive one.
    name: str
    #: Code width in bits.
    nbits: int

    # -- format-specific pieces ---------------------------------------------------------------------------

    @abstractmethod
    def _decompose(self, codes: np.ndarray) -> Decomposed: ...

    @abstractmethod
    def _round(self, sign, scale, frac, sticky) -> np.ndarray:
        """Correctly round the non-zero ``(-1)**sign * 1.frac * 2**scale`` (+ sticky) to codes (uint64)."""

    @abstractmethod
    def _zero_code(self, sign) -> np.ndarray: ...

    @abstractmethod
    def _special_from_float(self, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Fill codes for nan / inf inputs (or raise)."""

    #: Maximum fraction bits of any code (the significand has ``frac_bits + 1`` bits with the hidden one).
    frac_bits: int
    #: Smallest and largest ``scale`` (power of two of the leading bit) of a non-zero value.
    scale_min: int
    scale_max: int
    #: Exponent of the smallest step between codes anywhere in the range (the LSB weight of an exact
    #: fixed-point holding every value).
    lsb_exp: int
    #: True when the format has NaR (posits) or NaN codes (minifloats with ``inf_nan`` other than "none").
    has_nar: bool = False
    #: True when the format has infinities.
    has_inf: bool = False

    @property
    def nar_code(self) -> int:
        """The code of NaR / the canonical NaN (what arithmetic on NaR / NaN operands returns)."""
        if not self.has_nar:
            raise ValueError(f"{self.name} has no NaR")
        return 1 << (self.nbits - 1)

    # -- derived properties ---------------------------------------------------------------------------------

    @property
    def sig_bits(self) -> int:
        """Significand width including the hidden bit."""
        return self.frac_bits + 1

    @property
    def n_codes(self) -> int:
        return 1 << self.nbits

    @property
    def scale_bits(self) -> int:
        """Width of a signed integer holding any ``scale``."""
        return max(abs(self.scale_min), abs(self.scale_max)).bit_length() + 1

    #: Largest finite magnitude.
    max_value: float

    @cached_property
    def min_positive(self) -> float:
        return math.ldexp(1.0, self.lsb_exp)

    @property
    def exact_product_bits(self) -> int:
        """Magnitude bits of a fixed-point integer (LSB ``2**(2*lsb_exp)``) holding any exact product."""
        top = math.floor(math.log2(self.max_value**2))
        return top - 2 * self.lsb_exp + 1

    def exact_acc_bits(self, k: int) -> int:
        """Two's complement width of an accumulator that sums any ``k`` exact products without overflow:
        ``exact_product_bits + ceil(log2 k) + 1``."""
        k = check_int("k", k, 1, 2**62)
        return self.exact_product_bits + (k - 1).bit_length() + 1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- public, vectorised API -------------------------------------------------------------------------------

    def decompose(self, codes) -> Decomposed:
        """Exact ``(sign, scale, sig, zero, nar)`` of ``codes`` (see the module docstring)."""
        return self._decompose(_check_codes(self, codes))

    def decode(self, codes) -> np.ndarray:
        """float64 values of ``codes`` (exact; NaR / NaN -> nan; minifloat -0 -> -0.0, Inf -> +-inf)."""
        d = self.decompose(codes)
        mag = np.ldexp(d.sig.astype(np.float64), (d.scale - self.frac_bits).astype(np.int32))
        mag = np.where(d.inf, np.inf, mag)
        out = np.where(d.sign, -mag, mag)
        out = np.where(d.zero, np.where(d.sign, -0.0, 0.0), out)
        return np.where(d.nar, np.nan, out)

    def encode(self, x) -> np.ndarray:
        """Codes of float values ``x``, correctly rounded (see the module docstring for each format)."""
        xa = np.asarray(x)
        if xa.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}.encode takes real numbers, not dtype {xa.dtype}")
        xa = xa.astype(np.float64)
        shape = xa.shape
        xf = xa.ravel()
        finite = np.isfinite(xf)
        nonzero = finite & (xf != 0)
        sign, scale, frac = _float_parts(xf)
        codes = self._round(sign, scale, frac, _U(0))
        codes = np.where(nonzero, codes, self._zero_code(sign))
        if not finite.all():
            codes = self._special_from_float(xf, codes)
        return codes.astype(_code_dtype(self.nbits)).reshape(shape)

    def encode_fields(self, sign, scale, sig, *, frac_in: int, sticky=0, zero=0, nar=0) -> np.ndarray:
        """Round ``(-1)**sign * sig * 2**(scale - frac_in)`` (plus ``sticky`` below it) to codes.

        This is the model of :class:`npegen.hw.formats.Encoder`: ``sig`` carries the hidden bit at position
        ``frac_in`` (``2**frac_in <= sig < 2**(frac_in + 1)``) and ``frac_in`` fraction bits below it; ``zero``
        and ``nar`` flags override (a zero keeps its sign in minifloats; ``nar`` gives NaR or the canonical NaN
        and needs a format that has one). An infinity comes from a scale beyond the range (non-saturating
        formats with Inf).

        Raises
        ------
        ValueError
            ``frac_in`` out of [0, 62], or a non-flagged ``sig`` that is not normalised.
        """
        check_int("frac_in", frac_in, 0, _FB)
        sign, scale, sig, sticky, zero, nar = np.broadcast_arrays(
            np.asarray(sign, bool), np.asarray(scale, np.int64), np.asarray(sig).astype(_U),
            np.asarray(sticky, bool), np.asarray(zero, bool), np.asarray(nar, bool))
        special = zero | nar
        if ((sig >> _U(frac_in) != 1) & ~special).any():
            raise ValueError(f"sig must be normalised: 2**{frac_in} <= sig < 2**{frac_in + 1}")
        frac = (sig & _U((1 << frac_in) - 1)) << _U(_FB - frac_in)
        codes = self._round(sign, scale, frac, sticky)
        codes = np.where(zero, self._zero_code(sign), codes)
        if self.has_nar:
            codes = np.where(nar, _U(self.nar_code), codes)
        elif nar.any():
            raise ValueError(f"{self.name} has no NaR")
        return codes.astype(_code_dtype(self.nbits))

    def values(self) -> np.ndarray:
        """Value of every code, in code order (formats of at most 16 bits)."""
        if self.nbits > 16:
            raise ValueError(f"{self.name} has {self.n_codes} codes; values() lists formats of <= 16 bits")
        return self.decode(np.arange(self.n_codes, dtype=np.uint64))

    def mul(self, a, b) -> np.ndarray:
        """Correctly rounded product of codes ``a`` and ``b`` (broadcast)."""
        a, b = _broadcast(_check_codes(self, a), _check_codes(self, b))
        shape = a.shape
        a, b = a.ravel(), b.ravel()
        if 2 * self.sig_bits <= 53:
            # Products are exact in float64 (significand <= 53 bits, scales far inside its range): multiply the
            # exact values and round the float's bits.
            with np.errstate(invalid="ignore"):  # 0 * inf is nan, as it should be
                v = self._decode_f64(a) * self._decode_f64(b)
            sign, scale, frac = _float_parts(v)
            codes = self._round(sign, scale, frac, _U(0))
            codes = np.where(v == 0, self._zero_code(sign), codes)
            if not np.isfinite(v).all():  # NaR / NaN / Inf operands (0 * inf and NaN give nan)
                codes = self._special_from_float(v, codes)
                if self.has_nar:
                    codes = np.where(np.isnan(v), _U(self.nar_code), codes)
            return codes.astype(_code_dtype(self.nbits)).reshape(shape)
        da, db = self._decompose(a), self._decompose(b)
        sign = da.sign ^ db.sign
        # Normalised significands multiply into [2**(2f), 2**(2f+2)): one compare finds the leading one.
        f2 = 2 * self.frac_bits
        prod = da.sig * db.sig  # < 2**(2*sig_bits) <= 2**62
        hi = prod >> _U(f2 + 1)
        scale = da.scale + db.scale + hi.astype(np.int64)
        frac = (prod << (_U(_FB - f2) - hi)) & _U((1 << _FB) - 1)
        codes = self._round(sign.astype(_U), scale, frac, _U(0))
        codes = np.where(da.zero | db.zero, self._zero_code(sign), codes)
        if self.has_nar:
            codes = np.where(da.nar | db.nar, _U(self.nar_code), codes)
        return codes.astype(_code_dtype(self.nbits)).reshape(shape)

    @cached_property
    def _f64_table(self) -> np.ndarray | None:
        return self.decode(np.arange(self.n_codes, dtype=_U)) if self.nbits <= 16 else None

    def _decode_f64(self, codes: np.ndarray) -> np.ndarray:
        t = self._f64_table
        return self.decode(codes) if t is None else np.take(t, codes.astype(np.intp))

    def add(self, a, b) -> np.ndarray:
        """Correctly rounded sum of codes ``a`` and ``b`` (broadcast)."""
        a, b = _broadcast(_check_codes(self, a), _check_codes(self, b))
        shape = a.shape
        da, db = self._decompose(a.ravel()), self._decompose(b.ravel())
        # Order by magnitude: x is the larger (zero counts as smallest).
        a_big = (da.scale > db.scale) | ((da.scale == db.scale) & (da.sig >= db.sig)) | db.zero
        a_big &= ~da.zero | db.zero
        xs, xe, xm = (np.where(a_big, p, q) for p, q in ((da.sign, db.sign), (da.scale, db.scale), (da.sig, db.sig)))
        ys, ye, ym = (np.where(a_big, q, p) for p, q in ((da.sign, db.sign), (da.scale, db.scale), (da.sig, db.sig)))
        yzero = np.where(a_big, db.zero, da.zero)
        # g guard bits: the aligned sum is exact for shifts d <= g. For d > g the smaller addend is below
        # every rounding boundary of the result, so it is replaced by one unit at the lowest guard bit: the
        # approximation and the exact sum lie strictly between the same two multiples of 2**(g-1) units,
        # and every midpoint of the result format is such a multiple, so both round alike.
        g = min(32, 62 - self.sig_bits)
        d = np.maximum(xe - ye, 0)
        xa = xm << _U(g)
        ya = np.where(d <= g, _shr(ym << _U(g), d), _U(1))
        ya = np.where(yzero, _U(0), ya)
        same = xs == ys
        mag = np.where(same, xa + ya, xa - ya)
        zero = mag == 0
        lsb = xe - self.frac_bits - g
        scale, frac, sticky = _normalise(np.where(zero, _U(1), mag), lsb, np.zeros(mag.shape, bool))
        codes = self._round(xs, scale, frac, sticky)
        both_neg_zero = da.zero & db.zero & da.sign & db.sign
        codes = np.where(zero, self._zero_code(both_neg_zero), codes)
        if self.has_inf:  # inf + finite = inf; inf + -inf = NaN
            inf_sign = np.where(da.inf, da.sign, db.sign)
            codes = np.where(da.inf | db.inf, self._inf_code(inf_sign), codes)
            codes = np.where(da.inf & db.inf & (da.sign != db.sign), _U(self.nar_code), codes)
        if self.has_nar:
            codes = np.where(da.nar | db.nar, _U(self.nar_code), codes)
        return codes.astype(_code_dtype(self.nbits)).reshape(shape)

    def dot(self, a, b) -> np.ndarray:
        """Exact sum of ``a*b`` along the last axis, rounded once (quire semantics). Shapes broadcast;
        the result has the broadcast shape without its last axis. An empty sum is zero."""
        a, b = _broadcast(_check_codes(self, a), _check_codes(self, b))
        if a.ndim == 0:
            raise ValueError("dot needs arrays with a last axis to sum over, not scalars")
        acc, nar = self.dot_exact(a, b)
        return self.round_fixed(acc, nar)

    # -- exact fixed-point accumulation ---------------------------------------------------------------------

    @property
    def acc_lsb_exp(self) -> int:
        """LSB exponent of the exact products' fixed point (the ``2*lsb_exp`` of any product)."""
        return 2 * (self.scale_min - self.frac_bits)

    def dot_exact(self, a, b) -> tuple[np.ndarray, np.ndarray]:
        """Exact dot products as multi-limb two's complement integers.

        Returns ``(limbs, nar)``: ``limbs`` is int64 of shape ``batch + (n_limbs,)``, limb ``i`` holding bits
        ``[31*i, 31*i + 31)`` of ``sum * 2**-acc_lsb_exp`` (the top limb carries the sign); ``nar`` flags rows
        with a NaR operand.
        """
        a, b = _broadcast(_check_codes(self, a), _check_codes(self, b))
        batch, k = a.shape[:-1], a.shape[-1]
        da, db = self._decompose(a.reshape(-1)), self._decompose(b.reshape(-1))
        prod = da.sig * db.sig
        pos = da.scale + db.scale - 2 * self.frac_bits - self.acc_lsb_exp  # >= 0
        zero = da.zero | db.zero | da.nar | db.nar
        prod = np.where(zero, _U(0), prod)
        pos = np.where(zero, 0, pos)
        neg = da.sign ^ db.sign
        top = 2 * (self.scale_max - self.frac_bits) - self.acc_lsb_exp + 2 * self.sig_bits
        n_limbs = (top + max(k, 1).bit_length() + 2) // _LIMB + 3
        rows = int(np.prod(batch, dtype=np.int64))
        limbs = np.zeros((rows, n_limbs), dtype=np.int64)
        idx = (pos // _LIMB).reshape(rows, k)
        off = (pos % _LIMB).astype(_U)
        # A product (<= 62 bits) shifted by < 31 spans at most 3 limbs.
        wide_lo = prod << off  # may lose the top bits: recover them from the high part below
        hi_part = _shr(prod, (64 - off.astype(np.int64)))  # bits shifted out of the 64-bit word
        chunks = [
            (wide_lo & _U((1 << _LIMB) - 1)),
            ((wide_lo >> _U(_LIMB)) & _U((1 << _LIMB) - 1)),
            ((wide_lo >> _U(2 * _LIMB)) | (hi_part << _U(64 - 2 * _LIMB))),
        ]
        sgn = np.where(neg, -1, 1).reshape(rows, k)
        row_ix = np.repeat(np.arange(rows), k).reshape(rows, k)
        for j, c in enumerate(chunks):
            contrib = c.astype(np.int64).reshape(rows, k) * sgn
            np.add.at(limbs, (row_ix, idx + j), contrib)
        limbs = _carry(limbs)
        nar = (da.nar | db.nar).reshape(rows, k).any(axis=1) if self.has_nar else np.zeros(rows, bool)
        return limbs.reshape(*batch, n_limbs), nar.reshape(batch)

    def round_fixed(self, limbs: np.ndarray, nar: np.ndarray | None = None) -> np.ndarray:
        """Round multi-limb exact sums (from :meth:`dot_exact`) to codes."""
        batch = limbs.shape[:-1]
        lim = _carry(limbs.reshape(-1, limbs.shape[-1]))
        neg = lim[:, -1] < 0
        mag = np.where(neg[:, None], -lim, lim)
        mag = _carry(mag)
        nz = mag != 0
        zero = ~nz.any(axis=1)
        top = np.where(zero, 0, mag.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1))
        rows = np.arange(mag.shape[0])
        hi = mag[rows, top].astype(_U)
        lo = np.where(top >= 1, mag[rows, np.maximum(top - 1, 0)], 0).astype(_U)
        window = (hi << _U(_LIMB)) | lo
        below = np.cumsum(nz, axis=1)  # count of non-zero limbs up to each index
        sticky = np.where(top >= 2, below[rows, np.maximum(top - 2, 0)] > 0, False)
        lsb = self.acc_lsb_exp + _LIMB * (top - 1)
        scale, frac, sticky = _normalise(np.where(zero, _U(1), window), lsb, sticky)
        codes = self._round(neg, scale, frac, sticky)
        codes = np.where(zero, self._zero_code(np.zeros_like(neg)), codes)
        if nar is not None and self.has_nar:
            codes = np.where(nar.reshape(-1), _U(self.nar_code), codes)
        return codes.astype(_code_dtype(self.nbits)).reshape(batch)


def _carry(limbs: np.ndarray) -> np.ndarray:
    """Propagate carries so limbs 0..n-2 are in [0, 2**31); the top limb keeps the sign."""
    limbs = limbs.copy()
    for i in range(limbs.shape[1] - 1):
        c = limbs[:, i] >> _LIMB  # floor division: works for negative limbs
        limbs[:, i] -= c << _LIMB
        limbs[:, i + 1] += c
    return limbs


# ---- Posit(n, es) -----------------------------------------------------------------------------------------


class Posit(Format):
    """Posit(nbits, es), SoftPosit convention (pre-2022 for es other than 2).

    Parameters
    ----------
    nbits : int
        2 to 32.
    es : int
        Exponent bits, 0 to 4.
    name : str, optional
        Defaults to ``posit{nbits}_{es}``.

    Raises
    ------
    TypeError, ValueError
        ``nbits`` or ``es`` is not an integer in range.
    """

    has_nar = True

    def __init__(self, nbits: int, es: int, *, name: str | None = None):
        self.nbits = check_int("Posit nbits", nbits, 2, 32)
        self.es = check_int("Posit es", es, 0, 4)
        self.name = name or f"posit{nbits}_{es}"
        self.frac_bits = max(0, self.nbits - 3 - self.es)
        self._max_s = (self.nbits - 2) << self.es
        self.scale_min, self.scale_max = -self._max_s, self._max_s
        self.lsb_exp = -self._max_s

    def __eq__(self, other):
        return isinstance(other, Posit) and (self.nbits, self.es) == (other.nbits, other.es)

    def __hash__(self):
        return hash(("posit", self.nbits, self.es))

    @property
    def useed_log2(self) -> int:
        return 1 << self.es

    @property
    def nar_code(self) -> int:
        return 1 << (self.nbits - 1)

    @cached_property
    def max_value(self) -> float:
        return math.ldexp(1.0, self._max_s)

    @cached_property
    def _table(self) -> Decomposed | None:
        if self.nbits > 16:
            return None
        return self._decompose_bits(np.arange(self.n_codes, dtype=_U))

    def _decompose(self, codes: np.ndarray) -> Decomposed:
        t = self._table
        if t is None:
            return self._decompose_bits(codes)
        i = codes.astype(np.intp)
        return Decomposed(t.sign[i], t.scale[i], t.sig[i], t.zero[i], t.nar[i])

    def _decompose_bits(self, c: np.ndarray) -> Decomposed:
        n, es = self.nbits, self.es
        c = c.astype(_U)
        mask_n = _U((1 << n) - 1)
        nar = c == _U(1 << (n - 1))
        zero = c == 0
        sign = ((c >> _U(n - 1)) & _U(1)).astype(bool) & ~nar
        mag = np.where(sign, (~c + _U(1)) & mask_n, c)
        body = mag & _U((1 << (n - 1)) - 1)
        if n == 2:  # body is one bit: 01 = 1
            scale = np.zeros(c.shape, np.int64)
            sig = np.ones(c.shape, _U)
        else:
            r0 = ((body >> _U(n - 2)) & _U(1)).astype(bool)
            run = np.where(r0, ~body & _U((1 << (n - 1)) - 1), body)
            m = (n - 1) - _bitlen(run)
            k = np.where(r0, m - 1, -m)
            rem_len = np.maximum(n - 2 - m, 0)
            rem = body & _low_mask(rem_len)
            e_len = np.minimum(es, rem_len)
            e = _shl(_shr(rem, rem_len - e_len), es - e_len).astype(np.int64)
            flen = rem_len - e_len
            f = rem & _low_mask(flen)
            scale = k * (1 << es) + e
            sig = _shl(_shl(_U(1), flen) | f, self.frac_bits - flen)
        special = zero | nar
        return Decomposed(sign, np.where(special, 0, scale), np.where(special, _U(0), sig), zero, nar)

    def _zero_code(self, sign):
        return np.zeros(np.shape(sign), _U)

    def _special_from_float(self, x, codes):
        return np.where(np.isfinite(x), codes, _U(self.nar_code))

    @cached_property
    def _round_table(self) -> np.ndarray:
        """Per-scale rounding pieces, indexed by ``clip(scale, -M-1, M) + M + 1`` (``M`` = maxpos scale).

        The rounding pattern is the top ``nbits`` bits (``nbits-1`` magnitude bits and a guard bit) of the
        unbounded posit body ``regime | exponent | fraction``. Each entry packs ``P0`` (bits 0-39: the regime
        and exponent part of the pattern), ``need`` (bits 40-46: how many fraction bits follow in the
        pattern) and ``BS`` (bit 48: exponent bits were cut off, which makes the rest sticky). Scales beyond
        the range give the patterns of maxpos and minpos: saturation, and never zero.
        """
        n, es, m = self.nbits, self.es, self._max_s
        table = np.zeros(2 * m + 2, _U)
        for i, s in enumerate(range(-m - 1, m + 1)):
            if s < -m:
                table[i] = 0b10  # minpos, guard 0
                continue
            if s >= m:
                table[i] = ((1 << (n - 1)) - 1) << 1  # maxpos, guard 0
                continue
            k, e = s >> es, s & ((1 << es) - 1)
            rbits, rlen = (((1 << (k + 1)) - 1) << 1, k + 2) if k >= 0 else (1, 1 - k)
            body, blen = (rbits << es) | e, rlen + es
            if blen >= n:
                over = blen - n
                cut = int(body & ((1 << over) - 1) != 0)
                table[i] = (body >> over) | (cut << 48)
            else:
                need = n - blen
                table[i] = (body << need) | (need << 40)
        return table

    def _round(self, sign, scale, frac, sticky):
        m = self._max_s
        entry = np.take(self._round_table, np.clip(scale, -m - 1, m) + (m + 1))
        fsh = _U(_FB) - ((entry >> _U(40)) & _U(0x7F))  # frac bits below the pattern
        top = frac >> fsh
        pattern = (entry & _U((1 << 40) - 1)) | top
        st = ((entry >> _U(48)) & _U(1)) | np.minimum(frac - (top << fsh), _U(1)) | _as_u(sticky)
        # round to nearest even on the pattern: up when guard and (sticky or odd)
        up = pattern & (st | (pattern >> _U(1))) & _U(1)
        mag = (pattern >> _U(1)) + up
        sg = _as_u(sign)
        return ((mag ^ (_U(0) - sg)) + sg) & _U((1 << self.nbits) - 1)


# ---- minifloats: FP4 E2M1, FP8 E4M3 / E5M2, BF16, FP16 ---------------------------------------------------------

#: Inf/NaN policies of :class:`Minifloat`.
INF_NAN_POLICIES = ("ieee", "fn", "none")


class Minifloat(Format):
    """A binary floating-point format ``s | exponent | mantissa`` of ``1 + exp_bits + man_bits`` bits.

    Normal codes (biased exponent ``E`` > 0) are ``(-1)**s * 2**(E - bias) * 1.m``; ``E`` = 0 gives
    ``(-1)**s * 2**(1 - bias) * 0.m`` (subnormals) or +-0 (``subnormals=False``: every ``E`` = 0 code is a
    zero, and results below the smallest normal round to 0 or to it). -0 exists. Encoding and arithmetic
    round to nearest, ties to even.

    Parameters
    ----------
    exp_bits : int
        Exponent bits, 1 to 8 (2 to 8 for ``inf_nan="ieee"``).
    man_bits : int
        Mantissa (fraction) bits, 1 to 23.
    bias : int, optional
        Exponent bias, -8 to 255; default ``2**(exp_bits - 1) - 1``.
    subnormals : bool
        Whether ``E`` = 0 codes are subnormals (default) or zeros (flush to zero).
    inf_nan : {"ieee", "fn", "none"}
        ``"ieee"``: the all-ones exponent is reserved, mantissa 0 is +-Inf and any other mantissa NaN (FP16,
        BF16, OCP E5M2). ``"fn"``: no Inf, only ``S.1...1.1...1`` is NaN (OCP E4M3). ``"none"``: no Inf/NaN,
        every code is finite (OCP FP4 E2M1); needs ``saturate=True``.
    saturate : bool
        A finite value beyond the largest one becomes +-max instead of Inf (``"ieee"``) or NaN (``"fn"``);
        +-inf inputs stay +-Inf where the format has Inf, and become +-max in formats without (NaN when not
        saturating, as ``ml_dtypes.float8_e4m3fn``). NaN still encodes to NaN. Default False.
    nan_code : int, optional
        ``inf_nan="none"`` only: the code ``nan`` encodes to (FP4: ``0x8``, as ``ml_dtypes``); without it,
        encoding ``nan`` raises ``ValueError``.
    name : str, optional
        Defaults to ``e{exp_bits}m{man_bits}`` plus the parameters that differ from the defaults.

    Notes
    -----
    NaN codes decompose as posit NaR does (``nar`` set, sign, scale and sig 0), infinities with ``inf`` set,
    their sign, and scale and sig 0; arithmetic on NaN gives the canonical quiet NaN :attr:`nar_code` (sign 0,
    exponent and mantissa MSB set; all ones for ``"fn"``), ``encode`` keeps the sign of a NaN input, as
    ``ml_dtypes`` does. Products and sums with Inf follow IEEE 754 (``0 * inf`` and ``inf - inf`` are NaN).

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or out of range.
    """

    def __init__(self, exp_bits: int, man_bits: int, *, bias: int | None = None, subnormals: bool = True,
                 inf_nan: str = "ieee", saturate: bool = False, nan_code: int | None = None,
                 name: str | None = None):
        if inf_nan not in INF_NAN_POLICIES:
            raise ValueError(f"Minifloat inf_nan must be one of {', '.join(INF_NAN_POLICIES)}, not "
                             f"{short_repr(inf_nan)}")
        e = check_int("Minifloat exp_bits", exp_bits, 2 if inf_nan == "ieee" else 1, 8)
        m = check_int("Minifloat man_bits", man_bits, 1, 23)
        b = (1 << (e - 1)) - 1 if bias is None else check_int("Minifloat bias", bias, -8, 255)
        for flag, v in (("subnormals", subnormals), ("saturate", saturate)):
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"Minifloat {flag} must be a bool, not {short_repr(v)}")
        if inf_nan == "none" and not saturate:
            raise ValueError("Minifloat inf_nan='none' has nothing to overflow to: it needs saturate=True")
        if nan_code is not None:
            if inf_nan != "none":
                raise ValueError(f"Minifloat nan_code is for inf_nan='none' formats; {inf_nan!r} has NaN codes")
            nan_code = check_int("Minifloat nan_code", nan_code, 0, (1 << (1 + e + m)) - 1)
        self.exp_bits, self.man_bits, self.bias = e, m, b
        self.subnormals, self.inf_nan, self.saturate = bool(subnormals), inf_nan, bool(saturate)
        self.nan_code = nan_code
        self.nbits = 1 + e + m
        self.frac_bits = m
        self.has_nar = inf_nan != "none"
        self.has_inf = inf_nan == "ieee"
        self.emin = 1 - b
        e_top = (1 << e) - 1 - (inf_nan == "ieee")  # largest exponent field of a finite value
        self.scale_max = e_top - b
        self.scale_min = self.emin - m if subnormals else self.emin
        self.lsb_exp = self.emin - m
        # largest finite magnitude code ("fn": the all-ones mantissa of the top exponent is NaN)
        self.max_code = (e_top << m) | ((1 << m) - 1 - (inf_nan == "fn"))
        if name is None:
            name = f"e{e}m{m}"
            if bias is not None and b != (1 << (e - 1)) - 1:
                name += f"_b{b}"
            name += {"ieee": "", "fn": "fn", "none": "_finite"}[inf_nan]
            name += "" if subnormals else "_ftz"
            name += "_sat" if saturate and inf_nan != "none" else ""
        self.name = name

    def _key(self):
        return ("minifloat", self.exp_bits, self.man_bits, self.bias, self.subnormals, self.inf_nan, self.saturate,
                self.nan_code)

    def __eq__(self, other):
        return isinstance(other, Minifloat) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    @property
    def nar_code(self) -> int:
        """The canonical quiet NaN: sign 0, all-ones exponent, mantissa MSB set (all ones for ``"fn"``)."""
        if not self.has_nar:
            raise ValueError(f"{self.name} has no NaN")
        e_all = ((1 << self.exp_bits) - 1) << self.man_bits
        return e_all | ((1 << self.man_bits) - 1 if self.inf_nan == "fn" else 1 << (self.man_bits - 1))

    @property
    def inf_code(self) -> int:
        """The code of +Inf (``"ieee"`` formats)."""
        if not self.has_inf:
            raise ValueError(f"{self.name} has no Inf")
        return ((1 << self.exp_bits) - 1) << self.man_bits

    @cached_property
    def max_value(self) -> float:
        return math.ldexp(float((1 << self.man_bits) | (self.max_code & ((1 << self.man_bits) - 1))),
                          self.scale_max - self.man_bits)

    @cached_property
    def min_positive(self) -> float:
        return math.ldexp(1.0, self.lsb_exp if self.subnormals else self.emin)

    @cached_property
    def _table(self) -> Decomposed | None:
        return self._decompose_bits(np.arange(self.n_codes, dtype=_U)) if self.nbits <= 16 else None

    def _decompose(self, codes: np.ndarray) -> Decomposed:
        t = self._table
        if t is None:
            return self._decompose_bits(codes)
        i = codes.astype(np.intp)
        return Decomposed(t.sign[i], t.scale[i], t.sig[i], t.zero[i], t.nar[i], t.inf[i])

    def _decompose_bits(self, codes: np.ndarray) -> Decomposed:
        e, m = self.exp_bits, self.man_bits
        c = codes.astype(_U)
        sign = ((c >> _U(e + m)) & _U(1)).astype(bool)
        ebits = ((c >> _U(m)) & _U((1 << e) - 1)).astype(np.int64)
        mant = c & _U((1 << m) - 1)
        e_all = ebits == (1 << e) - 1
        if self.inf_nan == "ieee":
            inf, nar = e_all & (mant == 0), e_all & (mant != 0)
        elif self.inf_nan == "fn":
            inf, nar = np.zeros(c.shape, bool), e_all & (mant == (1 << m) - 1)
        else:
            inf = nar = np.zeros(c.shape, bool)
        sub = ebits == 0
        zero = sub & ((mant == 0) | (not self.subnormals))
        # subnormal 0.m * 2**emin, normalised: leading one of m at p -> scale emin - m + p, sig = mant << (m - p)
        p = _bitlen(mant) - 1
        scale = np.where(sub, self.emin - m + p, ebits - self.bias)
        sig = np.where(sub, _shl(mant, m - np.maximum(p, 0)), mant | _U(1 << m))
        special = zero | nar | inf
        return Decomposed(sign & ~nar, np.where(special, 0, scale), np.where(special, _U(0), sig), zero, nar, inf)

    def _zero_code(self, sign):
        return _as_u(sign) << _U(self.nbits - 1)

    def _inf_code(self, sign):
        return _U(self.inf_code) | (_as_u(sign) << _U(self.nbits - 1))

    def _special_from_float(self, x, codes):
        sbit = (np.signbit(x).astype(_U)) << _U(self.nbits - 1)
        inf = np.isinf(x)
        if self.has_inf:
            codes = np.where(inf, _U(self.inf_code) | sbit, codes)
        elif self.saturate:
            codes = np.where(inf, _U(self.max_code) | sbit, codes)
        else:  # "fn", not saturating: inf -> NaN (ml_dtypes)
            codes = np.where(inf, _U(self.nar_code) | sbit, codes)
        nan = np.isnan(x)
        if self.has_nar:
            return np.where(nan, _U(self.nar_code) | sbit, codes)
        if nan.any():
            if self.nan_code is None:
                raise ValueError(f"{self.name} cannot encode nan")
            codes = np.where(nan, _U(self.nan_code), codes)
        return codes

    def _round(self, sign, scale, frac, sticky):
        m, emin = self.man_bits, self.emin
        scale = np.asarray(scale, np.int64)
        big = scale > self.scale_max + 1  # far above the range: overflow without a huge shift
        sc = np.where(big, 0, scale)
        lsb = np.maximum(sc, emin) - m  # ULP exponent at this scale (subnormals share emin's)
        q = _round_at(sc, frac, sticky, lsb)
        code = (lsb - emin + m) * (1 << m) + q.astype(np.int64)  # biased exponent - 1, times 2**m, plus 1.m
        if not self.subnormals:  # below the smallest normal: 0, or the smallest normal above its half
            half = (sc == emin - 1) & ((frac != 0) | np.asarray(sticky, bool))
            code = np.where(sc < emin, np.where(half, 1 << m, 0), code)
        over = big | (code > self.max_code)
        if self.saturate:
            ovf = self.max_code
        else:
            ovf = self.inf_code if self.has_inf else self.nar_code
        code = np.where(over, ovf, code).astype(_U)
        return code | (_as_u(sign) << _U(self.nbits - 1))

    def dot(self, a, b) -> np.ndarray:
        """As :meth:`Format.dot`; an infinite product (Inf times a non-zero) makes the result that Inf, Inf
        times 0 or infinite products of both signs make it NaN, and a NaN operand gives NaN."""
        codes = super().dot(a, b)
        if not self.has_inf:
            return codes
        a, b = _broadcast(_check_codes(self, a), _check_codes(self, b))
        da, db = self._decompose(a), self._decompose(b)
        pinf = (da.inf & ~db.zero) | (db.inf & ~da.zero)
        psign = da.sign ^ db.sign
        pos, neg = (pinf & ~psign).any(axis=-1), (pinf & psign).any(axis=-1)
        bad = ((da.inf & db.zero) | (db.inf & da.zero) | da.nar | db.nar).any(axis=-1) | (pos & neg)
        out = np.where(pos, _U(self.inf_code), np.where(neg, self._inf_code(True), codes.astype(_U)))
        return np.where(bad, _U(self.nar_code), out).astype(codes.dtype)


class FP4E2M1(Minifloat):
    """OCP MX v1.0 E2M1: ``s|ee|m``, bias 1, values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives; -0 exists,
    no Inf/NaN, saturating. Matches ``ml_dtypes.float4_e2m1fn`` (including nan -> 0x8).

    ``Minifloat(2, 1, bias=1, inf_nan="none", saturate=True, nan_code=0x8)`` with the name ``fp4_e2m1``."""

    def __init__(self, *, name: str = "fp4_e2m1"):
        super().__init__(2, 1, bias=1, inf_nan="none", saturate=True, nan_code=0x8, name=name)


# ---- INT --------------------------------------------------------------------------------------------------


class Int(Format):
    """Signed two's complement integer of ``nbits`` (2 to 24) bits; encode rounds to nearest even and
    saturates. (24 bits keeps every exact product inside the model's 64-bit significand arithmetic.)"""

    def __init__(self, nbits: int, *, name: str | None = None):
        self.nbits = check_int("Int nbits", nbits, 2, 24)
        self.name = name or f"int{nbits}"
        self.frac_bits = self.nbits - 1
        self.scale_min, self.scale_max = 0, self.nbits - 1
        self.lsb_exp = 0

    def __eq__(self, other):
        return isinstance(other, Int) and other.nbits == self.nbits

    def __hash__(self):
        return hash(("int", self.nbits))

    @cached_property
    def max_value(self) -> float:
        return float(1 << (self.nbits - 1))  # |most negative|

    def _decompose(self, codes):
        n = self.nbits
        c = codes.astype(_U)
        sign = ((c >> _U(n - 1)) & _U(1)).astype(bool)
        mag = np.where(sign, (~c + _U(1)) & _U((1 << n) - 1), c)
        mag = np.where(sign & (mag == 0), _U(1 << (n - 1)), mag)  # the most negative code
        zero = c == 0
        bl = _bitlen(mag)
        scale = np.where(zero, 0, bl - 1)
        sig = np.where(zero, _U(0), _shl(mag, self.frac_bits - scale))
        return Decomposed(sign, scale, sig, zero, np.zeros(c.shape, bool))

    def _zero_code(self, sign):
        return np.zeros(np.shape(sign), _U)

    def _special_from_float(self, x, codes):
        if np.isnan(x).any():
            raise ValueError(f"{self.name} cannot encode nan")
        codes = np.where(np.isposinf(x), _U((1 << (self.nbits - 1)) - 1), codes)
        return np.where(np.isneginf(x), _U(1 << (self.nbits - 1)), codes)

    def _round(self, sign, scale, frac, sticky):
        n = self.nbits
        big = scale >= n  # beyond any representable magnitude
        q = _round_at(np.where(big, 0, scale), frac, sticky, np.zeros(np.shape(scale), np.int64))
        sg = _as_u(sign)
        limit = _U((1 << (n - 1)) - 1) + sg  # 2**(n-1) is representable only as a negative number
        q = np.where(big, limit, np.minimum(q, limit))
        return ((q ^ (_U(0) - sg)) + sg) & _U((1 << n) - 1)


# ---- registry ---------------------------------------------------------------------------------------------

#: The named formats of the package.
NAMED: dict[str, Format] = {
    "fp4_e2m1": FP4E2M1(),
    "posit4_1": Posit(4, 1),
    "posit8_0": Posit(8, 0),
    "posit16_1": Posit(16, 1),
    "posit8_2": Posit(8, 2),
    "posit16_2": Posit(16, 2),
    "int8": Int(8),
    "int4": Int(4),
    # appended at the end: indices of the earlier names stay stable (SIMD MAC mode numbers, CLI listings)
    "fp8_e4m3": Minifloat(4, 3, inf_nan="fn", name="fp8_e4m3"),  # OCP FP8 E4M3: NaN S.1111.111, max 448
    "fp8_e5m2": Minifloat(5, 2, name="fp8_e5m2"),  # OCP FP8 E5M2: IEEE-like, Inf and NaNs, max 57344
    "bf16": Minifloat(8, 7, name="bf16"),
    "fp16": Minifloat(5, 10, name="fp16"),
    # OCP MX v1.0 FP6: no Inf/NaN, saturating; nan encodes to -0 (0x20), as ml_dtypes.float6_*fn does
    "fp6_e3m2": Minifloat(3, 2, inf_nan="none", saturate=True, nan_code=0x20, name="fp6_e3m2"),  # bias 3, max 28
    "fp6_e2m3": Minifloat(2, 3, inf_nan="none", saturate=True, nan_code=0x20, name="fp6_e2m3"),  # bias 1, max 7.5
}


def names() -> list[str]:
    return list(NAMED)


def get(name: str) -> Format:
    """The named format; ``ValueError`` listing the names for an unknown one."""
    if not isinstance(name, str):
        raise TypeError(f"format name must be a string, not {short_repr(name)}")
    try:
        return NAMED[name]
    except KeyError:
        raise ValueError(f"unknown format {short_repr(name)}; choose from {', '.join(NAMED)}") from None


def parse(spec: str) -> Format:
    """A named format, or any ``posit<n>_<es>`` / ``int<n>`` (e.g. ``"posit12_3"``); errors name the spec."""
    if not isinstance(spec, str):
        raise TypeError(f"format spec must be a string, not {short_repr(spec)}")
    if spec in NAMED:
        return NAMED[spec]
    import re

    mp = re.fullmatch(r"posit(\d+)_(\d+)", spec)
    if mp:
        return Posit(int(mp.group(1)), int(mp.group(2)))
    mi = re.fullmatch(r"int(\d+)", spec)
    if mi:
        return Int(int(mi.group(1)))
    raise ValueError(f"unknown format {short_repr(spec)}; use one of {', '.join(NAMED)}, posit<n>_<es> or int<n>")


# ---- tables (``npegen formats``) ------------------------------------------------------------------------------

__all__ += ["specials", "format_table", "value_table"]


def specials(fmt: Format) -> str:
    """The special values of ``fmt``, by its type: ``"NaR"`` for a posit; ``-0``, ``Inf`` and ``NaN`` as the
    minifloat has them; ``"-"`` for an integer format."""
    if isinstance(fmt, Posit):
        return "NaR"
    if isinstance(fmt, Minifloat):
        return ", ".join(["-0"] + (["Inf"] if fmt.has_inf else []) + (["NaN"] if fmt.has_nar else []))
    return "-"


def format_table(formats=None):
    """A pandas DataFrame of ``formats`` (default: every named format), one row each: bits, codes, range, fraction
    bits, scale range, exact product and K=32 accumulator widths, special values."""
    import pandas as pd

    rows = []
    for f in (NAMED[n] for n in names()) if formats is None else (parse(f) for f in formats):
        rows.append({"format": f.name, "bits": f.nbits, "codes": f.n_codes, "max": f.max_value,
                     "min >0": f.min_positive, "frac bits": f.frac_bits,
                     "scale range": f"{f.scale_min}..{f.scale_max}", "exact product bits": f.exact_product_bits,
                     "acc bits (K=32)": f.exact_acc_bits(32), "specials": specials(f)})
    return pd.DataFrame(rows)


def value_table(fmt: Format) -> list[str]:
    """Every code of ``fmt`` (at most 16 bits) with its bits, value (``-0``, ``inf``, ``NaN``/``NaR`` by name),
    sign, scale and significand: a header line and one line per code."""
    if fmt.nbits > 16:
        raise ValueError(f"{fmt.name} has {fmt.n_codes} codes; a value table lists formats of at most 16 bits")
    codes = np.arange(fmt.n_codes)
    d = fmt.decompose(codes)
    vals = fmt.decode(codes)
    w = (fmt.nbits + 3) // 4
    lines = [f"{'code':>{w + 2}}  {'bits':>{fmt.nbits}}  {'value':>24}  sign  scale  sig"]
    nar = "NaR" if isinstance(fmt, Posit) else "NaN"
    for c in codes.tolist():
        if d.nar[c]:
            v = nar
        elif d.inf[c]:
            v = "-inf" if d.sign[c] else "inf"
        elif d.zero[c]:
            v = "-0" if d.sign[c] else "0"
        else:
            v = repr(float(vals[c]))
        lines.append(f"{c:#0{w + 2}x}  {c:0{fmt.nbits}b}  {v:>24}  {int(d.sign[c]):>4}  {int(d.scale[c]):>5}  "
                     f"{int(d.sig[c]):#x}")
    return lines
