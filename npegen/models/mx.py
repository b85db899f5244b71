"""OCP MX v1.0 block scaling on top of the element formats: MXFP4 (E2M1) and MXINT8.

A block of ``block`` consecutive elements (along the last axis) shares one E8M0
scale ``2**(code - 127)`` (code 0xFF = NaN, no zero). Quantisation follows the
OCP MX v1.0 rule::

    shared_exp = floor(log2(amax)) - emax_elem        (clamped to [-127, 127])
    element    = encode(x / 2**shared_exp)            (the element format's rounding and saturation)

where ``emax_elem`` is the exponent of the element format's largest normal value
(2 for E2M1's 6.0; 0 for MXINT8, whose int8 elements carry an implicit
``2**-6``). A block whose maximum is 0 gets scale code 0 (2**-127); a block
holding a nan gets the NaN scale 0xFF.

:meth:`MXFormat.dot` accumulates exactly: each block's element products are
summed exactly (FP4 products are multiples of 1/4 below 36, INT8 products
integers below 2**14, so a 32-element block sum is an exact float64), scaled by
the two power-of-two scales, and the block sums are added with ``math.fsum`` -
exact, then rounded once to float64.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from ._checks import check_int
from .formats import FP4E2M1, Format, Int, get

__all__ = ["MXFormat", "MXTensor", "E8M0_NAN", "e8m0_decode"]

#: E8M0 code of NaN.
E8M0_NAN = 0xFF


def e8m0_decode(codes) -> np.ndarray:
    """Values of E8M0 scale codes: ``2**(code - 127)``, 0xFF -> nan."""
    c = np.asarray(codes)
    if c.dtype.kind not in "ui":
        raise TypeError(f"E8M0 codes must be integers, not dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > 0xFF):
        raise ValueError(f"E8M0 codes are 8-bit, in [0, 255]; got {int(c.min()) if c.min() < 0 else int(c.max())}")
    v = np.ldexp(1.0, c.astype(np.int64) - 127)
    return np.where(c == E8M0_NAN, np.nan, v)


@dataclass(frozen=True)
class MXTensor:
    """A block-scaled tensor: element codes ``[..., K]`` and E8M0 scale codes ``[..., K // block]``."""

    elements: np.ndarray
    scales: np.ndarray
    fmt: MXFormat

    def dequantize(self) -> np.ndarray:
        return self.fmt.dequantize(self.elements, self.scales)


class MXFormat:
    """Block-scaled format: ``element_format`` codes in blocks of ``block`` sharing an E8M0 scale.

    Parameters
    ----------
    element_format : Format
        The element format (``FP4E2M1()`` for MXFP4, ``Int(8)`` for MXINT8).
    block : int
        Elements per shared scale, 1 to 1024 (OCP MX: 32).
    elem_exp : int
        Implicit power of two of every element (MXINT8: -6, so int8 127 means 127/64).
    symmetric : bool
        Clamp integer elements to ``[-(2**(n-1) - 1), 2**(n-1) - 1]`` (OCP's recommendation for MXINT8).

    Raises
    ------
    TypeError, ValueError
        Invalid element format, block or exponent.
    """

    def __init__(self, element_format: Format, block: int = 32, *, elem_exp: int = 0, symmetric: bool = False):
        if not isinstance(element_format, Format):
            raise TypeError(f"element_format must be a npegen Format, not {element_format!r}")
        block = check_int("block", block, 1, 1024)
        elem_exp = check_int("elem_exp", elem_exp, -64, 64)
        if element_format.has_nar:
            raise ValueError(f"MX elements must be FP4 or INT formats, not {element_format.name}")
        if element_format.exact_acc_bits(block) > 53:
            raise ValueError(f"{element_format.name} blocks of {block} need a {element_format.exact_acc_bits(block)}"
                             "-bit exact block sum; the model keeps block sums exact in float64 (<= 53 bits)")
        self._elem = element_format
        self._block = block
        self._elem_exp = elem_exp
        self._symmetric = bool(symmetric)
        self.emax_elem = math.floor(math.log2(element_format.max_value * (1 - 2.0**-60))) + elem_exp
        if isinstance(element_format, Int):
            # INT max magnitude is 2**(n-1) (negative); the largest positive is 2**(n-1) - 1
            self.emax_elem = (element_format.nbits - 2) + elem_exp

    @classmethod
    def mxfp4(cls, block: int = 32) -> MXFormat:
        """MXFP4: E2M1 elements, E8M0 scale per 32."""
        return cls(FP4E2M1(), block)

    @classmethod
    def mxint8(cls, block: int = 32) -> MXFormat:
        """MXINT8: int8 elements with implicit 2**-6, symmetric range, E8M0 scale per 32."""
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
        base = {"fp4_e2m1": "mxfp4", "int8": "mxint8"}.get(self._elem.name, f"mx_{self._elem.name}")
        return base if self._block == 32 else f"{base}_b{self._block}"

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the shared scale's 8 bits spread over the block (MXFP4: 4.25)."""
        return self._elem.nbits + 8 / self._block

    def __repr__(self) -> str:
        return f"<MXFormat {self.name}>"

    def _blocks(self, k: int) -> int:
        k = operator.index(k)
        if k % self._block:
            raise ValueError(f"the last axis ({k}) must be a multiple of the block size {self._block}")
        return k // self._block

    def quantize(self, x) -> MXTensor:
        """Quantise float values along the last axis into elements and E8M0 scales."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"quantize takes real numbers, not dtype {x.dtype}")
        x = x.astype(np.float64)
        if x.ndim == 0:
            raise ValueError("quantize needs at least one axis")
        nb = self._blocks(x.shape[-1])
        xb = x.reshape(*x.shape[:-1], nb, self._block)
        with np.errstate(invalid="ignore"):
            amax = np.max(np.abs(xb), axis=-1)
        has_nan = np.isnan(xb).any(axis=-1)
        _, e = np.frexp(np.where(np.isfinite(amax) & (amax > 0), amax, 1.0))
        shared = np.where(amax > 0, e.astype(np.int64) - 1 - self.emax_elem, -127)
        shared = np.where(np.isinf(amax), 127, shared)
        shared = np.clip(shared, -127, 127)
        scale_codes = np.where(has_nan, E8M0_NAN, shared + 127).astype(np.uint8)
        scaled = np.ldexp(np.nan_to_num(xb, nan=0.0), (-shared - self._elem_exp)[..., None].astype(np.int32))
        elems = self._elem.encode(scaled)
        if self._symmetric and isinstance(self._elem, Int):
            n = self._elem.nbits
            elems = np.where(elems == (1 << (n - 1)), (1 << (n - 1)) + 1, elems).astype(elems.dtype)
        return MXTensor(elems.reshape(x.shape), scale_codes, self)

    def dequantize(self, elements, scales) -> np.ndarray:
        """Float values of block-scaled ``elements`` with E8M0 ``scales``."""
        elements = np.asarray(elements)
        nb = self._blocks(elements.shape[-1])
        scales = np.asarray(scales)
        if scales.shape != elements.shape[:-1] + (nb,):
            raise ValueError(f"scales must have shape {elements.shape[:-1] + (nb,)}, not {scales.shape}")
        v = self._elem.decode(elements).reshape(*elements.shape[:-1], nb, self._block)
        s = e8m0_decode(scales)[..., None] * 2.0**self._elem_exp
        return (v * s).reshape(elements.shape)

    def dot(self, a: MXTensor, b: MXTensor) -> np.ndarray:
        """Exact dot product along the last axis of two block-scaled tensors, rounded once to float64."""
        for t in (a, b):
            if not isinstance(t, MXTensor) or t.fmt is not self and t.fmt.name != self.name:
                raise TypeError(f"dot takes MXTensors of {self.name}, not {t!r}")
        ea, eb = np.broadcast_arrays(a.elements, b.elements)
        sa, sb = np.broadcast_arrays(a.scales, b.scales)
        nb = self._blocks(ea.shape[-1])
        va = self._elem.decode(ea).reshape(*ea.shape[:-1], nb, self._block)
        vb = self._elem.decode(eb).reshape(*eb.shape[:-1], nb, self._block)
        block_sums = (va * vb).sum(axis=-1)  # exact: see the module docstring
        nan = (sa == E8M0_NAN) | (sb == E8M0_NAN)
        exp = sa.astype(np.int64) + sb.astype(np.int64) - 254 + 2 * self._elem_exp
        parts = np.ldexp(block_sums, exp.astype(np.int32))
        flat = parts.reshape(-1, nb)
        out = np.array([math.fsum(row) for row in flat.tolist()], dtype=np.float64).reshape(parts.shape[:-1])
        return np.where(nan.any(axis=-1), np.nan, out)
