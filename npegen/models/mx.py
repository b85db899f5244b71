"""Block-scaled formats: OCP MX v1.0 (MXFP8 E4M3/E5M2, MXFP4, MXINT8) and NVFP4-style two-level scaling.

OCP Microscaling (MX) v1.0
--------------------------
A block of ``block`` consecutive elements (along the last axis; the spec's ``k``
is 32) shares one E8M0 scale ``X = 2**(code - 127)`` (spec section 5.4.1: 8-bit
unsigned exponent, bias 127, exponents -127..127, code 0xFF = NaN, no zero, no
Inf). A value is ``X * P_i`` (section 5). Quantisation follows the spec's
conversion algorithm (section 6.3; Algorithm 1 of Rouhani et al., "Microscaling
Data Formats for Deep Learning", arXiv 2310.10537; section numbers 5.4.1 and 6.3 are
corroborated by secondary sources, 5.2 and 6.1 are as recalled, not checked against the spec PDF)::

    shared_exp = floor(log2(max_i |V_i|)) - emax_elem     (clamped to the E8M0 range [-127, 127])
    X          = 2**shared_exp
    P_i        = quantize_to_element_format(V_i / X), clamping normal numbers

``emax_elem`` is the exponent of the element format's largest normal number: 8
for FP8 E4M3 (448 = 1.75 * 2**8), 15 for FP8 E5M2 (57344 = 1.75 * 2**15), 2 for
FP4 E2M1 (6 = 1.5 * 2**2) and 0 for MXINT8 (whose int8 elements carry an implicit
``2**-6``, so 127 means 1.984375). ``V_i / X`` is exact (a power-of-two scaling
of a float64) and is rounded once, to nearest with ties to even.

Readings of the spec, pinned here (npegen choices where the text leaves room):

* **Saturation.** "Clamping normal numbers": a finite ``V_i / X`` beyond the
  element format's largest magnitude becomes that magnitude with its sign (E4M3
  448 where a plain non-saturating OFP8 conversion gives NaN above 464; E5M2
  57344, not Inf). The
  paper states this "is in accordance with the OCP MX specification" and that
  "Infs and NaNs are not clamped".
* **Zero block.** ``max |V_i| = 0`` has no logarithm: the scale is the smallest
  one, code 0 (``2**-127``), and every element is zero.
* **NaN.** Section 5.2 (special values) gives MX two ways to hold NaN: a NaN
  scale makes every element of the block NaN whatever its code, or a non-NaN
  scale with NaN element codes. The conversion takes ``max_i |V_i|``, which is
  NaN when any ``V_i`` is (IEEE 754 ``maximum`` propagates NaN), so ``X`` is NaN:
  **a block holding a NaN gets the NaN scale 0xFF** (torchao's MX code does the
  same: a NaN input gives a NaN scale). Its element codes are still filled in:
  the NaN positions get the element format's NaN where it has one (FP8), zero
  otherwise (FP4, INT8), and the other positions are quantised against the scale
  the block's other values would get. They decode to NaN all the same.
* **Inf.** ``max_i |V_i| = inf`` gives ``shared_exp = +inf``, clamped to the
  E8M0 maximum 127 (scale ``2**127``); the elements are then converted as
  usual, and an infinity is not clamped: E5M2 keeps ±Inf (section 5.2's way of
  encoding Inf: a numeric scale and Inf elements), E4M3, which has no Inf,
  gets NaN (the OFP8 conversion of an infinity), and the formats with neither
  (FP4, INT8) saturate to their largest magnitude (their only conversion of an
  infinity). The block's finite values, divided by ``2**127``, mostly round
  to zero - that is what the algorithm gives.
* **Input range.** Inputs are taken as float64 (any real dtype). Their
  exponents may leave the E8M0 range: ``shared_exp`` is clamped to [-127, 127]
  and the elements round (to zero or subnormals) or saturate accordingly.

Dot product (spec section 6.1): ``Dot(A, B) = X_A * X_B * sum_i P_i^A * P_i^B``
summed over blocks; the spec leaves the internal precision to the
implementation. :meth:`MXFormat.dot` is exact, then rounded once to float64.
Every product ``P_a * P_b * X_a * X_b`` is an exact float64: element
significands have at most 24 bits (so products at most 48), and every element
format allowed here keeps products times ``2**(+-254)`` inside the normal float64
range. The products of a row are added with ``math.fsum`` (exact sum, one
correct rounding). :meth:`MXFormat.dot_exact` returns the same sums as exact
:class:`fractions.Fraction` values. A NaN scale or element in a row makes its dot
NaN; Inf elements follow IEEE 754 (``Inf * 0`` and ``Inf - Inf`` are NaN).

NVFP4-style block scaling
-------------------------
:class:`NVFP4Format` models the "NVFP4" format **as NVIDIA publicly describes
it** (NVIDIA technical blog "Introducing NVFP4 for Efficient and Accurate
Low-Precision Inference", 2025; cuBLAS block-scaled ``CUDA_R_4F_E2M1`` with
``CUDA_R_8F_UE4M3`` scales): FP4 E2M1 elements in blocks of 16, one FP8 E4M3
scale per block (an E4M3 *value*, not a power of two; its sign bit is 0, so the
codes are 0x00-0x7E plus the NaN 0x7F - "UE4M3"), and a second-level FP32
scale per tensor. A value is ``tensor_scale * block_scale * element``.
NVIDIA does not publish the quantisation rounding; **the rounding details below
are npegen's choices**:

* ``tensor_scale`` default = ``amax_tensor / (6 * 448)`` rounded once to float32
  (to nearest even, from the exact quotient; a non-zero ``amax`` never gives 0:
  it gives at least the smallest float32 subnormal ``2**-149``), or 1.0 when
  ``amax_tensor`` is 0. ``amax`` is taken over the finite inputs.
* ``block_scale`` = ``amax_block / 6 / tensor_scale`` rounded once to E4M3, to
  nearest even, saturating at 448 (from the exact quotient).
* elements = ``x / (tensor_scale * block_scale)`` rounded once to E2M1, to
  nearest even, saturating at ±6 (from the exact quotient; E2M1 keeps the sign
  of a zero: negative values that round to 0 give -0, code 0x8). A block whose
  scale is 0 gets ±0 elements (the sign of ``x``).
* A block holding a NaN or ±Inf gets the NaN scale 0x7F (E2M1 can hold neither;
  the block then dequantises to NaN). Its element codes are quantised as if the
  non-finite values were absent (an infinity saturates to ±6).

:meth:`NVFP4Format.dot` is exact, rounded once to float64; :meth:`NVFP4Format.dot_exact`
returns Fractions (the two-level scales make single products up to 60 bits wide,
so the exact sum is built from integers).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._checks import check_int, check_real, short_repr
from .formats import FP4E2M1, Format, Int, Minifloat, get

__all__ = [
    "MXFormat",
    "MXTensor",
    "NVFP4Format",
    "NVFP4Tensor",
    "E8M0_NAN",
    "UE4M3_NAN",
    "e8m0_decode",
    "ue4m3_decode",
]

#: E8M0 code of NaN.
E8M0_NAN = 0xFF
#: UE4M3 (unsigned FP8 E4M3, the NVFP4 block scale) code of NaN.
UE4M3_NAN = 0x7F

_F32_MAX = float(np.finfo(np.float32).max)
_E4M3 = get("fp8_e4m3")
_E2M1 = FP4E2M1()


def _int_codes(name: str, codes, hi: int) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype.kind not in "ui":
        raise TypeError(f"{name} codes must be integers, not dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > hi):
        bad = int(c.min()) if c.min() < 0 else int(c.max())
        raise ValueError(f"{name} codes must be in [0, {hi}] ({hi.bit_length()}-bit); got {bad}")
    return c


def e8m0_decode(codes) -> np.ndarray:
    """Values of E8M0 scale codes.

    Parameters
    ----------
    codes : array_like of int
        Codes in [0, 255].

    Returns
    -------
    numpy.ndarray
        float64 ``2**(code - 127)``; code 0xFF gives nan.

    Raises
    ------
    TypeError
        Non-integer codes.
    ValueError
        A code outside [0, 255].
    """
    c = _int_codes("E8M0", codes, 0xFF)
    v = np.ldexp(1.0, c.astype(np.int64) - 127)
    return np.where(c == E8M0_NAN, np.nan, v)


def ue4m3_decode(codes) -> np.ndarray:
    """Values of UE4M3 codes (NVFP4 block scales: FP8 E4M3 with the sign bit 0).

    Parameters
    ----------
    codes : array_like of int
        Codes in [0, 127].

    Returns
    -------
    numpy.ndarray
        float64 values (0 to 448); code 0x7F gives nan.

    Raises
    ------
    TypeError
        Non-integer codes.
    ValueError
        A code outside [0, 127] (a set sign bit).
    """
    c = _int_codes("UE4M3", codes, 0x7F)
    return _E4M3.decode(c.astype(np.uint8))


def _check_real_array(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{what} takes real numbers, not dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim == 0:
        raise ValueError(f"{what} needs at least one axis")
    return x


def _fsum_rows(parts: np.ndarray) -> np.ndarray:
    """Correctly rounded float64 sums along the last axis of exact float64 terms, with IEEE special values:
    NaN anywhere or +inf with -inf gives nan, one kind of infinity gives it."""
    batch = parts.shape[:-1]
    flat = parts.reshape(-1, parts.shape[-1])
    nan = np.isnan(flat).any(axis=1)
    pinf, ninf = (flat == np.inf).any(axis=1), (flat == -np.inf).any(axis=1)
    finite = np.where(np.isfinite(flat), flat, 0.0)
    out = np.array([math.fsum(row) for row in finite.tolist()], dtype=np.float64)
    out = np.where(pinf, np.inf, np.where(ninf, -np.inf, out))
    out = np.where(nan | (pinf & ninf), np.nan, out)
    return out.reshape(batch)


def _exact_rows(parts: np.ndarray) -> np.ndarray:
    """Exact Fraction sums along the last axis of finite float64 terms (object array); rows holding NaN or Inf
    get the float special value :func:`_fsum_rows` gives them."""
    batch = parts.shape[:-1]
    flat = parts.reshape(-1, parts.shape[-1])
    special = _fsum_rows(flat)
    out = np.empty(flat.shape[0], dtype=object)
    mant, exp = np.frexp(flat)  # value = mant * 2**exp, |mant| in [0.5, 1): mant * 2**53 is an exact integer
    for r in range(flat.shape[0]):
        if not np.isfinite(special[r]):
            out[r] = float(special[r])
            continue
        e = exp[r].astype(np.int64) - 53
        lo = int(e.min()) if e.size else 0
        total = sum((int(m) << int(s) for m, s in zip(np.ldexp(mant[r], 53).astype(np.int64).tolist(),
                                                      (e - lo).tolist(), strict=True)), 0)
        out[r] = Fraction(total) * (Fraction(2) ** lo)
    return out.reshape(batch)


# ---- OCP MX ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MXTensor:
    """A block-scaled tensor: element codes ``[..., K]`` and E8M0 scale codes ``[..., K // block]``.

    Parameters
    ----------
    elements : numpy.ndarray
        Element codes of ``fmt.element_format``, integer dtype, at least one axis.
    scales : numpy.ndarray
        E8M0 codes (0-255) of shape ``elements.shape[:-1] + (K // fmt.block,)``.
    fmt : MXFormat
        The block format.

    Raises
    ------
    TypeError, ValueError
        A wrong format object, code dtype, code range or shape.
    """

    elements: np.ndarray
    scales: np.ndarray
    fmt: MXFormat

    def __post_init__(self):
        if not isinstance(self.fmt, MXFormat):
            raise TypeError(f"MXTensor fmt must be an MXFormat, not {short_repr(self.fmt)}")
        el, sc = self.fmt._check_codes(self.elements, self.scales)
        object.__setattr__(self, "elements", el)
        object.__setattr__(self, "scales", sc)

    def dequantize(self) -> np.ndarray:
        """float64 values ``scale * element`` (see :meth:`MXFormat.dequantize`)."""
        return self.fmt.dequantize(self.elements, self.scales)


class MXFormat:
    """OCP MX block-scaled format: ``element_format`` codes in blocks of ``block`` sharing an E8M0 scale.

    See the module docstring for the conversion rule and the readings of the spec.

    Parameters
    ----------
    element_format : Format
        The element format: a :class:`~npegen.models.formats.Minifloat` (``FP4E2M1()`` for MXFP4,
        ``get("fp8_e4m3")`` / ``get("fp8_e5m2")`` for MXFP8; any minifloat works) or an
        :class:`~npegen.models.formats.Int` (``Int(8)`` for MXINT8). Posits are rejected.
    block : int
        Elements per shared scale, 1 to 1024 (OCP MX: 32).
    elem_exp : int
        Implicit power of two of every element, -64 to 64 (MXINT8: -6, so int8 127 means 127/64).
    symmetric : bool
        Clamp integer elements to ``[-(2**(n-1) - 1), 2**(n-1) - 1]`` (OCP's recommendation for MXINT8).
        Only for :class:`~npegen.models.formats.Int` elements.

    Raises
    ------
    TypeError, ValueError
        Invalid element format, block, exponent or flag.
    """

    def __init__(self, element_format: Format, block: int = 32, *, elem_exp: int = 0, symmetric: bool = False):
        if not isinstance(element_format, Format):
            raise TypeError(f"element_format must be a npegen Format, not {short_repr(element_format)}")
        block = check_int("block", block, 1, 1024)
        elem_exp = check_int("elem_exp", elem_exp, -64, 64)
        if not isinstance(element_format, (Minifloat, Int)):
            raise ValueError(f"MX elements must be minifloat (FP4, FP8, ...) or INT formats, not {element_format.name}")
        if not isinstance(symmetric, (bool, np.bool_)):
            raise TypeError(f"symmetric must be a bool, not {short_repr(symmetric)}")
        if symmetric and not isinstance(element_format, Int):
            raise ValueError(f"symmetric=True is for INT elements, not {element_format.name}")
        if 2 * element_format.sig_bits > 53:  # cannot happen with the formats' own limits; dot relies on it
            raise ValueError(f"{element_format.name} products need {2 * element_format.sig_bits} significand bits; "
                             "the model keeps them exact in float64 (<= 53 bits)")
        self._elem = element_format
        self._block = block
        self._elem_exp = elem_exp
        self._symmetric = bool(symmetric)
        if isinstance(element_format, Int):
            # INT max magnitude is 2**(n-1) (negative); the largest positive is 2**(n-1) - 1
            self.emax_elem = (element_format.nbits - 2) + elem_exp
            self._enc = element_format
        else:
            self.emax_elem = element_format.scale_max + elem_exp  # exponent of the largest normal number
            f = element_format
            # the MX conversion clamps normal numbers: quantise with a saturating twin of the element format
            self._enc = f if f.saturate else Minifloat(
                f.exp_bits, f.man_bits, bias=f.bias, subnormals=f.subnormals, inf_nan=f.inf_nan, saturate=True,
                nan_code=f.nan_code, name=f"{f.name}_sat")

    @classmethod
    def mxfp4(cls, block: int = 32) -> MXFormat:
        """MXFP4: FP4 E2M1 elements, one E8M0 scale per ``block`` (32)."""
        return cls(FP4E2M1(), block)

    @classmethod
    def mxfp8_e4m3(cls, block: int = 32) -> MXFormat:
        """MXFP8 (E4M3): OCP FP8 E4M3 elements (max 448, NaN ``S.1111.111``), one E8M0 scale per ``block`` (32)."""
        return cls(get("fp8_e4m3"), block)

    @classmethod
    def mxfp8_e5m2(cls, block: int = 32) -> MXFormat:
        """MXFP8 (E5M2): OCP FP8 E5M2 elements (max 57344, Inf and NaN), one E8M0 scale per ``block`` (32)."""
        return cls(get("fp8_e5m2"), block)

    @classmethod
    def mxint8(cls, block: int = 32) -> MXFormat:
        """MXINT8: int8 elements with implicit 2**-6, symmetric range, one E8M0 scale per ``block`` (32)."""
        return cls(get("int8"), block, elem_exp=-6, symmetric=True)

    @property
    def element_format(self) -> Format:
        return self._elem

    @property
    def block(self) -> int:
        return self._block

    @property
    def elem_exp(self) -> int:
        return self._elem_exp

    @property
    def name(self) -> str:
        names = {"fp4_e2m1": "mxfp4", "int8": "mxint8", "fp8_e4m3": "mxfp8_e4m3", "fp8_e5m2": "mxfp8_e5m2"}
        base = names.get(self._elem.name, f"mx_{self._elem.name}")
        return base if self._block == 32 else f"{base}_b{self._block}"

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the shared scale's 8 bits spread over the block (MXFP4: 4.25, MXFP8: 8.25)."""
        return self._elem.nbits + 8 / self._block

    def __repr__(self) -> str:
        return f"<MXFormat {self.name}>"

    def _blocks(self, k: int) -> int:
        k = operator.index(k)
        if k % self._block:
            raise ValueError(f"the last axis ({k}) must be a multiple of the block size {self._block}")
        return k // self._block

    def _check_codes(self, elements, scales) -> tuple[np.ndarray, np.ndarray]:
        elements = np.asarray(elements)
        if elements.dtype.kind not in "ui":
            raise TypeError(f"{self.name} element codes must be integers, not dtype {elements.dtype}")
        if elements.ndim == 0:
            raise ValueError(f"{self.name} elements need at least one axis")
        nb = self._blocks(elements.shape[-1])
        n = self._elem.nbits
        if elements.size and (elements.min() < 0 or elements.max() >= 1 << n):
            bad = int(elements.min()) if elements.min() < 0 else int(elements.max())
            raise ValueError(f"{self._elem.name} codes are {n}-bit, in [0, {(1 << n) - 1}]; got {bad}")
        scales = np.asarray(scales)
        if scales.shape != elements.shape[:-1] + (nb,):
            raise ValueError(f"scales must have shape {elements.shape[:-1] + (nb,)}, not {scales.shape}")
        e8m0_decode(scales)  # dtype and range
        return elements, scales

    def quantize(self, x) -> MXTensor:
        """Quantise values along the last axis into elements and E8M0 scales (OCP MX v1.0 section 6.3).

        Parameters
        ----------
        x : array_like of real
            At least one axis; the last one a multiple of :attr:`block`. Taken as float64; nan and ±inf
            allowed (see the module docstring).

        Returns
        -------
        MXTensor
            Element codes (the element format's dtype) and uint8 E8M0 codes ``[..., K // block]``.

        Raises
        ------
        TypeError
            A non-real dtype.
        ValueError
            A scalar, or a last axis that is not a multiple of the block size.
        """
        x = _check_real_array(x, "quantize")
        nb = self._blocks(x.shape[-1])
        xb = x.reshape(*x.shape[:-1], nb, self._block)
        has_nan = np.isnan(xb).any(axis=-1)
        amax = np.max(np.where(np.isnan(xb), 0.0, np.abs(xb)), axis=-1, initial=0.0)  # the non-NaN values' max
        _, e = np.frexp(np.where(np.isfinite(amax) & (amax > 0), amax, 1.0))  # amax in [2**(e-1), 2**e)
        shared = np.where(amax > 0, e.astype(np.int64) - 1 - self.emax_elem, -127)
        shared = np.where(np.isinf(amax), 127, shared)  # floor(log2(inf)) = inf, clamped
        shared = np.clip(shared, -127, 127)
        scale_codes = np.where(has_nan, E8M0_NAN, shared + 127).astype(np.uint8)
        scaled = np.ldexp(xb, (-shared - self._elem_exp)[..., None].astype(np.int32))  # exact
        if not self._elem.has_nar:
            scaled = np.where(np.isnan(scaled), 0.0, scaled)
        elems = self._enc.encode(scaled)
        if self._elem.has_nar and not self._elem.has_inf:
            # Infs are not clamped: an element format without Inf (E4M3) gets NaN, keeping the sign
            sbit = np.signbit(scaled).astype(elems.dtype) << (self._elem.nbits - 1)
            elems = np.where(np.isinf(scaled), self._elem.nar_code | sbit, elems).astype(elems.dtype)
        if self._symmetric and isinstance(self._elem, Int):
            n = self._elem.nbits
            elems = np.where(elems == (1 << (n - 1)), (1 << (n - 1)) + 1, elems).astype(elems.dtype)
        return MXTensor(elems.reshape(x.shape), scale_codes, self)

    def dequantize(self, elements, scales) -> np.ndarray:
        """float64 values of block-scaled ``elements`` with E8M0 ``scales``: ``scale * element``.

        Exact (every such product is a float64). A NaN scale makes its whole block nan (spec section 5.2); NaN
        and Inf elements decode as such.

        Parameters
        ----------
        elements : array_like of int
            Element codes ``[..., K]``, ``K`` a multiple of :attr:`block`.
        scales : array_like of int
            E8M0 codes ``[..., K // block]``.

        Raises
        ------
        TypeError, ValueError
            Non-integer codes, codes out of range, or mismatched shapes.
        """
        elements, scales = self._check_codes(elements, scales)
        nb = elements.shape[-1] // self._block
        v = self._elem.decode(elements).reshape(*elements.shape[:-1], nb, self._block)
        s = e8m0_decode(scales)[..., None] * 2.0**self._elem_exp
        return (v * s).reshape(elements.shape)

    def _check_tensor(self, t) -> MXTensor:
        if not isinstance(t, MXTensor) or (t.fmt is not self and t.fmt.name != self.name):
            raise TypeError(f"dot takes MXTensors of {self.name}, not {short_repr(t)}")
        return t

    def _scaled_products(self, a: MXTensor, b: MXTensor) -> np.ndarray:
        self._check_tensor(a)
        self._check_tensor(b)
        try:
            ea, eb = np.broadcast_arrays(a.elements, b.elements)
            sa, sb = np.broadcast_arrays(a.scales, b.scales)
        except ValueError:
            raise ValueError(f"operand shapes {a.elements.shape} and {b.elements.shape} do not broadcast") from None
        nb = ea.shape[-1] // self._block
        va = self._elem.decode(ea).reshape(*ea.shape[:-1], nb, self._block)
        vb = self._elem.decode(eb).reshape(*eb.shape[:-1], nb, self._block)
        with np.errstate(invalid="ignore"):  # inf * 0 is nan, as it should be
            prod = va * vb  # exact: at most 2 * 24 significand bits
        exp = sa.astype(np.int64) + sb.astype(np.int64) - 254 + 2 * self._elem_exp
        parts = np.ldexp(prod, np.broadcast_to(exp[..., None], prod.shape).astype(np.int32))  # exact
        nan_scale = (sa == E8M0_NAN) | (sb == E8M0_NAN)
        parts = np.where(nan_scale[..., None], np.nan, parts)
        return parts.reshape(*parts.shape[:-2], nb * self._block)

    def dot(self, a: MXTensor, b: MXTensor) -> np.ndarray:
        """Exact dot product along the last axis, rounded once to float64 (round to nearest even).

        ``sum over blocks of X_a * X_b * sum_i P_a,i * P_b,i`` (spec section 6.1).

        Parameters
        ----------
        a, b : MXTensor
            Tensors of this format; shapes broadcast.

        Returns
        -------
        numpy.ndarray
            float64 of the broadcast shape without its last axis. A NaN scale or NaN element in a row, ``Inf * 0``
            or infinities of both signs give nan; otherwise an Inf product gives that Inf.

        Raises
        ------
        TypeError
            An operand that is not an MXTensor of this format.
        ValueError
            Shapes that do not broadcast.
        """
        return _fsum_rows(self._scaled_products(a, b))

    def dot_exact(self, a: MXTensor, b: MXTensor) -> np.ndarray:
        """The exact dot products of :meth:`dot`, unrounded.

        Returns
        -------
        numpy.ndarray
            object array of :class:`fractions.Fraction` (float nan / ±inf for the rows :meth:`dot` makes
            nan / ±inf).

        Raises
        ------
        TypeError, ValueError
            As :meth:`dot`.
        """
        return _exact_rows(self._scaled_products(a, b))


# ---- NVFP4-style ------------------------------------------------------------------------------------------------

# positive UE4M3 values (codes 0..126) and the midpoints between neighbours (exact: 5-bit significands)
_E4M3_POS = _E4M3.decode(np.arange(127, dtype=np.uint8))
_E4M3_MID = (_E4M3_POS[:-1] + _E4M3_POS[1:]) / 2
# E2M1 magnitudes (codes 0..7) and the midpoints between neighbours
_E2M1_MID = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])


def _rne_index(a: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Index (code) of the nearest value, ties to even index, for magnitudes ``a`` (shape ``S``) and the exact
    midpoints ``thresholds`` (shape ``S + (M,)`` or ``(M,)``, increasing) between the values 0..M; beyond the last
    midpoint gives M (saturation). NaN magnitudes give 0."""
    below = thresholds < a[..., None]
    idx = below.sum(axis=-1)
    t = np.broadcast_to(thresholds, below.shape)
    at = np.take_along_axis(t, np.minimum(idx, t.shape[-1] - 1)[..., None], axis=-1)[..., 0]
    tie = (idx < t.shape[-1]) & (at == a)
    return idx + (tie & (idx % 2 == 1))


def _round_f32(q: Fraction) -> float:
    """Positive rational ``q`` rounded once to float32 (nearest, ties to even), as a float. Never 0: values
    below the smallest subnormal give it."""
    num, den = q.numerator, q.denominator
    e = num.bit_length() - den.bit_length()  # 2**e <= q < 2**(e+1) after the fix-up
    if (num << max(-e, 0)) < (den << max(e, 0)):
        e -= 1
    e = max(e, -126)  # subnormals share the smallest normal's quantum
    sh = 23 - e
    n, r = divmod(num << sh, den) if sh >= 0 else divmod(num, den << -sh)
    if 2 * r > den or (2 * r == den and n & 1):
        n += 1
    return math.ldexp(max(n, 1), e - 23)


@dataclass(frozen=True)
class NVFP4Tensor:
    """An NVFP4-style tensor: E2M1 element codes ``[..., K]``, UE4M3 block-scale codes ``[..., K // block]`` and
    one float32 tensor scale.

    Parameters
    ----------
    elements : numpy.ndarray
        E2M1 codes (0-15), integer dtype, at least one axis.
    scales : numpy.ndarray
        UE4M3 codes (0-127; 0x7F is NaN) of shape ``elements.shape[:-1] + (K // fmt.block,)``.
    tensor_scale : float
        Positive, finite, a float32 value.
    fmt : NVFP4Format
        The block format.

    Raises
    ------
    TypeError, ValueError
        A wrong format object, code dtype, code range, shape or tensor scale.
    """

    elements: np.ndarray
    scales: np.ndarray
    tensor_scale: float
    fmt: NVFP4Format

    def __post_init__(self):
        if not isinstance(self.fmt, NVFP4Format):
            raise TypeError(f"NVFP4Tensor fmt must be an NVFP4Format, not {short_repr(self.fmt)}")
        el, sc = self.fmt._check_codes(self.elements, self.scales)
        object.__setattr__(self, "elements", el)
        object.__setattr__(self, "scales", sc)
        object.__setattr__(self, "tensor_scale", _check_tensor_scale(self.tensor_scale, exact=True))

    def dequantize(self) -> np.ndarray:
        """float64 values ``tensor_scale * block_scale * element`` (see :meth:`NVFP4Format.dequantize`)."""
        return self.fmt.dequantize(self.elements, self.scales, self.tensor_scale)


def _check_tensor_scale(v, *, exact: bool) -> float:
    ctx = " (a float32 value)" if exact else ""
    v = check_real("tensor_scale", v, 0.0, _F32_MAX, lo_open=True, context=ctx)
    v32 = float(np.float32(v))
    if v32 == 0.0 or (exact and v32 != v):
        raise ValueError(f"tensor_scale must be a positive float32 value, not {short_repr(v)}"
                         + (" (it underflows float32)" if v32 == 0.0 else ""))
    return v32


class NVFP4Format:
    """NVFP4-style two-level block scaling: FP4 E2M1 elements, one UE4M3 (FP8 E4M3) scale per ``block`` elements and
    one FP32 scale per tensor.

    "NVFP4-style": the layout as NVIDIA publicly describes NVFP4 (blocks of 16, E4M3 block scales, an FP32
    second-level scale); the rounding of the scales and elements is npegen's choice where NVIDIA does not publish
    it (see the module docstring).

    Parameters
    ----------
    block : int
        Elements per block scale, 1 to 1024 (NVFP4: 16).

    Raises
    ------
    TypeError, ValueError
        ``block`` not an integer in [1, 1024].
    """

    def __init__(self, block: int = 16):
        self._block = check_int("block", block, 1, 1024)

    @property
    def element_format(self) -> Format:
        return _E2M1

    @property
    def block(self) -> int:
        return self._block

    @property
    def name(self) -> str:
        return "nvfp4" if self._block == 16 else f"nvfp4_b{self._block}"

    @property
    def bits_per_element(self) -> float:
        """4 element bits plus the 8-bit block scale spread over the block (4.5; the tensor scale not counted)."""
        return 4 + 8 / self._block

    def __repr__(self) -> str:
        return f"<NVFP4Format {self.name}>"

    def _blocks(self, k: int) -> int:
        k = operator.index(k)
        if k % self._block:
            raise ValueError(f"the last axis ({k}) must be a multiple of the block size {self._block}")
        return k // self._block

    def _check_codes(self, elements, scales) -> tuple[np.ndarray, np.ndarray]:
        elements = np.asarray(elements)
        if elements.ndim == 0:
            raise ValueError(f"{self.name} elements need at least one axis")
        _int_codes("E2M1 element", elements, 15)
        nb = self._blocks(elements.shape[-1])
        scales = np.asarray(scales)
        if scales.shape != elements.shape[:-1] + (nb,):
            raise ValueError(f"scales must have shape {elements.shape[:-1] + (nb,)}, not {scales.shape}")
        _int_codes("UE4M3 scale", scales, 0x7F)
        return elements, scales

    def default_tensor_scale(self, x) -> float:
        """``amax / (6 * 448)`` over the finite values of ``x``, rounded once to float32 (nearest even; at least
        ``2**-149`` when ``amax`` > 0); 1.0 when ``amax`` is 0.

        Raises
        ------
        TypeError
            A non-real dtype.
        ValueError
            A scalar ``x``, or ``amax / 2688`` beyond the float32 range.
        """
        x = _check_real_array(x, "default_tensor_scale")
        fin = np.abs(x[np.isfinite(x)])
        amax = float(fin.max()) if fin.size else 0.0
        if amax == 0.0:
            return 1.0
        ts = _round_f32(Fraction(amax) / 2688)
        if ts > _F32_MAX:
            raise ValueError(f"amax {amax!r} needs a tensor scale amax / 2688 beyond float32 (max {_F32_MAX:.7g})")
        return ts

    def quantize(self, x, tensor_scale=None) -> NVFP4Tensor:
        """Quantise values along the last axis into E2M1 elements, UE4M3 block scales and a tensor scale.

        Parameters
        ----------
        x : array_like of real
            At least one axis; the last one a multiple of :attr:`block`. Taken as float64; nan and ±inf make
            their block NaN (see the module docstring).
        tensor_scale : float, optional
            The FP32 tensor scale, a positive finite number (rounded to float32, nearest even); default
            :meth:`default_tensor_scale` of ``x``.

        Returns
        -------
        NVFP4Tensor

        Raises
        ------
        TypeError
            A non-real dtype or a non-numeric ``tensor_scale``.
        ValueError
            A scalar ``x``, a last axis not a multiple of the block, or a ``tensor_scale`` that is not positive,
            not finite, or outside float32.
        """
        x = _check_real_array(x, "quantize")
        nb = self._blocks(x.shape[-1])
        ts = self.default_tensor_scale(x) if tensor_scale is None else _check_tensor_scale(tensor_scale, exact=False)
        xb = x.reshape(*x.shape[:-1], nb, self._block)
        finite = np.isfinite(xb)
        ax = np.abs(np.where(finite, xb, 0.0))
        amax = ax.max(axis=-1)
        # block scale: amax / 6 / ts rounded to UE4M3 (nearest even, saturating at 448); 6 * ts * mid is exact
        sc = _rne_index(amax, 6.0 * ts * _E4M3_MID)
        bs = _E4M3_POS[sc]
        # elements: x / (ts * bs) rounded to E2M1 (nearest even, saturating at 6); ts * bs * mid is exact
        mag = _rne_index(np.abs(np.where(np.isnan(xb), 0.0, xb)), (ts * bs)[..., None, None] * _E2M1_MID)
        mag = np.where((bs == 0)[..., None], 0, mag)
        elems = (mag | (np.signbit(xb) & ~np.isnan(xb)).astype(np.int64) << 3).astype(np.uint8)
        scales = np.where(finite.all(axis=-1), sc, UE4M3_NAN).astype(np.uint8)
        return NVFP4Tensor(elems.reshape(x.shape), scales, ts, self)

    def dequantize(self, elements, scales, tensor_scale=1.0) -> np.ndarray:
        """float64 values ``tensor_scale * block_scale * element`` (exact: at most 30 significand bits).

        A NaN block scale (0x7F) makes its block nan.

        Parameters
        ----------
        elements : array_like of int
            E2M1 codes ``[..., K]``.
        scales : array_like of int
            UE4M3 codes ``[..., K // block]``.
        tensor_scale : float
            A positive float32 value.

        Raises
        ------
        TypeError, ValueError
            Non-integer codes, codes out of range, mismatched shapes, or a bad tensor scale.
        """
        elements, scales = self._check_codes(elements, scales)
        ts = _check_tensor_scale(tensor_scale, exact=True)
        nb = elements.shape[-1] // self._block
        v = _E2M1.decode(elements.astype(np.uint8)).reshape(*elements.shape[:-1], nb, self._block)
        return (v * ue4m3_decode(scales)[..., None] * ts).reshape(elements.shape)

    def _check_tensor(self, t) -> NVFP4Tensor:
        if not isinstance(t, NVFP4Tensor) or (t.fmt is not self and t.fmt.name != self.name):
            raise TypeError(f"dot takes NVFP4Tensors of {self.name}, not {short_repr(t)}")
        return t

    def _exact_sums(self, a: NVFP4Tensor, b: NVFP4Tensor):
        """(integer sums N with dot = N * 2**-20 * ts_a * ts_b as an object array, NaN row flags)."""
        self._check_tensor(a)
        self._check_tensor(b)
        try:
            ea, eb = np.broadcast_arrays(a.elements, b.elements)
            sa, sb = np.broadcast_arrays(a.scales, b.scales)
        except ValueError:
            raise ValueError(f"operand shapes {a.elements.shape} and {b.elements.shape} do not broadcast") from None
        nb = ea.shape[-1] // self._block
        # 2 * E2M1 and 2**9 * UE4M3 values are integers
        ia = (_E2M1.decode(ea.astype(np.uint8)) * 2).astype(np.int64).reshape(*ea.shape[:-1], nb, self._block)
        ib = (_E2M1.decode(eb.astype(np.uint8)) * 2).astype(np.int64).reshape(*eb.shape[:-1], nb, self._block)
        nan = (sa == UE4M3_NAN) | (sb == UE4M3_NAN)
        qa = np.where(nan, 0, np.ldexp(_E4M3_POS[np.minimum(sa, 126)], 9)).astype(np.int64)
        qb = np.where(nan, 0, np.ldexp(_E4M3_POS[np.minimum(sb, 126)], 9)).astype(np.int64)
        block_dot = (ia * ib).sum(axis=-1)  # 4 * the exact element dot, |.| <= 144 * block < 2**18
        terms = block_dot * qa * qb  # < 2**18 * 2**36: int64
        total = terms.astype(object).sum(axis=-1) if nb > 1 << 8 else terms.sum(axis=-1).astype(object)
        return np.asarray(total, dtype=object), nan.any(axis=-1)

    def dot_exact(self, a: NVFP4Tensor, b: NVFP4Tensor) -> np.ndarray:
        """Exact dot products along the last axis: ``ts_a * ts_b * sum over blocks of bs_a * bs_b * sum_i e_a,i
        * e_b,i``.

        Returns
        -------
        numpy.ndarray
            object array of :class:`fractions.Fraction`; float nan for rows with a NaN block scale.

        Raises
        ------
        TypeError
            An operand that is not an NVFP4Tensor of this format.
        ValueError
            Shapes that do not broadcast.
        """
        total, nan = self._exact_sums(a, b)
        k = Fraction(a.tensor_scale) * Fraction(b.tensor_scale) / 2**20
        out = np.empty(total.shape, dtype=object)
        for i in np.ndindex(total.shape):
            out[i] = math.nan if nan[i] else Fraction(int(total[i])) * k
        return out

    def dot(self, a: NVFP4Tensor, b: NVFP4Tensor) -> np.ndarray:
        """:meth:`dot_exact` rounded once to float64 (nearest even); nan for rows with a NaN block scale.

        Raises
        ------
        TypeError, ValueError
            As :meth:`dot_exact`.
        """
        ex = self.dot_exact(a, b)
        return np.array([float(v) for v in ex.reshape(-1)], dtype=np.float64).reshape(ex.shape)
