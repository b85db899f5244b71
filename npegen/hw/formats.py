"""Decode and encode units for the number formats, parameterised by a :class:`npegen.models.formats.Format`.

The units dispatch on the format's type (:class:`~npegen.models.formats.Posit`,
:class:`~npegen.models.formats.Minifloat` - FP4 E2M1, FP8 E4M3/E5M2, BF16, FP16 - or
:class:`~npegen.models.formats.Int`) and build from its parameters, never from its name.

:class:`Decoder` turns a code into the exact fields of
:meth:`Format.decompose` (sign, zero/NaR flags, scale, significand with the hidden
bit); :class:`Encoder` rounds fields back to a code exactly as
:meth:`Format.encode_fields` does (RNE, saturation, posits never to zero). Both
are combinational: latency 0, one conversion per cycle. The SIMD MAC engine uses
them at its operand inputs and its read-out.

Signal prefixes: ``d_`` decode, ``e_`` encode.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..models._checks import check_int
from ..models.formats import Format, Int, Minifloat, Posit

__all__ = ["Decoder", "Encoder", "priority_msb"]


def _check_format(fmt) -> Format:
    if not isinstance(fmt, (Posit, Minifloat, Int)):
        raise TypeError(f"fmt must be a npegen Posit, Minifloat or Int format, not {fmt!r}")
    return fmt


def priority_msb(m: Module, x, name: str):
    """Index of the highest set bit of ``x`` (0 when ``x`` is 0) as a combinational signal.

    Written as a chain of ``Mux`` (continuous assignments in the emitted Verilog, not an ``always @*``
    process): Icarus runs a process only when an input changes, so a process whose inputs keep their
    initial values would leave its output X.
    """
    idx = Signal(range(max(len(x), 2)), name=name)
    m.d.comb += idx.eq(_msb_tree(x, len(idx)))
    return idx


def _msb_tree(x, width: int):
    """Balanced priority encoder: log-depth ``Mux`` tree (a linear chain nests too deep for the Amaranth
    simulator's generated Python on wide inputs)."""
    n = len(x)
    if n == 1:
        return Const(0, width)
    half = 1 << ((n - 1).bit_length() - 1)  # largest power of two below n
    hi, lo = x[half:], x[:half]
    return Mux(hi.any(), _msb_tree(hi, width) + half, _msb_tree(lo, width))[:width]


def _shr_sticky(m: Module, value, amount, limit: int, prefix: str):
    """``value >> amount`` with the guard bit (the last bit shifted out) and the sticky OR of the bits below
    it. ``amount`` (unsigned) is clamped to ``limit``; shifting by ``len(value) + 1`` or more gives 0, 0,
    any(value)."""
    w = len(value)
    amt = Signal(range(w + 2), name=f"{prefix}_amt")
    m.d.comb += amt.eq(Mux(amount > min(limit, w + 1), min(limit, w + 1), amount))
    v2 = Cat(Const(0, 1), value)  # value << 1: bit 0 is the guard position for amount == 0
    shifted = Signal(w + 1, name=f"{prefix}_shifted")
    below = Signal(w + 1, name=f"{prefix}_below")
    m.d.comb += [
        shifted.eq(v2 >> amt),
        below.eq(v2 & ((Const(1, w + 2) << amt) - 1)[: w + 1]),
    ]
    return shifted[1:], shifted[0], below.any()


class Decoder(wiring.Component):
    """Code -> ``(sign, zero, nar, scale, sig)``, exactly :meth:`Format.decompose`.

    Parameters
    ----------
    fmt : Posit, Minifloat or Int
        The format (from :mod:`npegen.models.formats`).

    Attributes
    ----------
    code : In(fmt.nbits)
    sign, zero, nar : Out(1)
        ``nar`` (posit NaR or a minifloat NaN) is always 0 for formats without one. ``sign`` is 0 for NaR /
        NaN; a minifloat -0 has ``sign`` 1.
    inf : Out(1)
        Only for formats with infinities (``fmt.has_inf``): +-Inf, with its ``sign``, scale and sig 0.
    scale : Out(signed(fmt.scale_bits))
        Power of two of the leading bit; 0 for zero/NaR.
    sig : Out(fmt.sig_bits)
        Significand with the hidden bit at ``fmt.frac_bits``; 0 for zero/NaR.

    Notes
    -----
    Combinational: latency 0 cycles, throughput one code per cycle.
    """

    def __init__(self, fmt: Format):
        self._fmt = _check_format(fmt)
        ports = {
            "code": In(fmt.nbits),
            "sign": Out(1),
            "zero": Out(1),
            "nar": Out(1),
            "scale": Out(signed(fmt.scale_bits)),
            "sig": Out(fmt.sig_bits),
        }
        if fmt.has_inf:
            ports["inf"] = Out(1)
        super().__init__(ports)

    @property
    def fmt(self) -> Format:
        return self._fmt

    def elaborate(self, platform):
        m = Module()
        f = self._fmt
        d_sign = Signal()
        d_scale = Signal(signed(f.scale_bits))
        d_sig = Signal(f.sig_bits)
        d_zero = Signal()
        d_nar = Signal()
        d_inf = Signal()
        if isinstance(f, Posit):
            self._posit(m, f, d_sign, d_scale, d_sig, d_zero, d_nar)
        elif isinstance(f, Minifloat):
            self._minifloat(m, f, d_sign, d_scale, d_sig, d_zero, d_nar, d_inf)
        else:
            self._int(m, f, d_sign, d_scale, d_sig, d_zero)
        if f.has_inf:
            m.d.comb += self.inf.eq(d_inf)
        special = d_zero | d_nar | d_inf
        m.d.comb += [
            self.sign.eq(d_sign & ~d_nar),
            self.zero.eq(d_zero),
            self.nar.eq(d_nar),
            self.scale.eq(Mux(special, 0, d_scale)),
            self.sig.eq(Mux(special, 0, d_sig)),
        ]
        return m

    def _posit(self, m, f: Posit, d_sign, d_scale, d_sig, d_zero, d_nar):
        n, es, fb = f.nbits, f.es, f.frac_bits
        code = self.code
        m.d.comb += [
            d_zero.eq(~code.any()),
            d_nar.eq(code == (1 << (n - 1))),
            d_sign.eq(code[n - 1]),
        ]
        if n == 2:
            m.d.comb += [d_scale.eq(0), d_sig.eq(1)]
            return
        d_mag = Signal(n)
        m.d.comb += d_mag.eq(Mux(d_sign, (-code)[:n], code))
        body = d_mag[: n - 1]
        d_r0 = Signal()
        d_run = Signal(n - 1)
        m.d.comb += [d_r0.eq(body[n - 2]), d_run.eq(Mux(d_r0, ~body, body))]
        top = priority_msb(m, d_run, "d_run_msb")
        d_m = Signal(range(n))  # regime run length
        m.d.comb += d_m.eq(Mux(d_run.any(), n - 2 - top, n - 1))
        d_k = Signal(signed(ceil_log2(n) + 2))
        m.d.comb += d_k.eq(Mux(d_r0, d_m - 1, -d_m))
        # Bits after the regime and its terminator, left-aligned in n-1 bits; missing bits are zeros.
        d_rem = Signal(n - 1)
        m.d.comb += d_rem.eq((body << (d_m + 1))[: n - 1])
        avail = min(es, n - 1)
        e = Cat(Const(0, es - avail), d_rem[n - 1 - avail:]) if es else Const(0, 1)
        d_e = Signal(max(es, 1))
        m.d.comb += d_e.eq(e)
        m.d.comb += d_scale.eq((d_k << es) | d_e if es else d_k)
        frac = d_rem[2: 2 + fb] if fb else Const(0, 0)
        m.d.comb += d_sig.eq(Cat(frac, Const(1, 1)))

    def _minifloat(self, m, f: Minifloat, d_sign, d_scale, d_sig, d_zero, d_nar, d_inf):
        e, mb, n = f.exp_bits, f.man_bits, f.nbits
        code = self.code
        d_e = Signal(e)
        d_m = Signal(mb)
        d_sub = Signal()
        d_eall = Signal()
        m.d.comb += [
            d_sign.eq(code[n - 1]),
            d_e.eq(code[mb: mb + e]),
            d_m.eq(code[:mb]),
            d_sub.eq(~d_e.any()),
            d_eall.eq(d_e.all()),
        ]
        if f.subnormals:
            m.d.comb += d_zero.eq(~code[: n - 1].any())
        else:
            m.d.comb += d_zero.eq(d_sub)
        if f.inf_nan == "ieee":
            m.d.comb += [d_inf.eq(d_eall & ~d_m.any()), d_nar.eq(d_eall & d_m.any())]
        elif f.inf_nan == "fn":
            m.d.comb += d_nar.eq(d_eall & d_m.all())
        # Subnormal 0.m * 2**emin: the leading one of m at p gives scale emin - m + p and sig m << (m - p).
        top = priority_msb(m, d_m, "d_m_msb")
        d_norm_scale = Signal(signed(f.scale_bits))
        d_sub_scale = Signal(signed(f.scale_bits))
        m.d.comb += [
            d_norm_scale.eq(Cat(d_e, Const(0, 1)).as_signed() - f.bias),
            d_sub_scale.eq(top + (f.emin - mb)),
            d_scale.eq(Mux(d_sub, d_sub_scale, d_norm_scale)),
            d_sig.eq(Mux(d_sub, (d_m << (mb - top).as_unsigned())[: mb + 1], Cat(d_m, Const(1, 1)))),
        ]

    def _int(self, m, f: Int, d_sign, d_scale, d_sig, d_zero):
        n = f.nbits
        code = self.code
        d_mag = Signal(n)
        m.d.comb += [
            d_sign.eq(code[n - 1]),
            d_zero.eq(~code.any()),
            d_mag.eq(Mux(code[n - 1], (-code)[:n], code)),
        ]
        top = priority_msb(m, d_mag, "d_mag_msb")
        m.d.comb += [
            d_scale.eq(top),
            d_sig.eq((d_mag << (n - 1 - top).as_unsigned())[:n]),
        ]


class Encoder(wiring.Component):
    """``(sign, zero, nar, scale, sig, sticky)`` -> code, exactly :meth:`Format.encode_fields`.

    The value is ``(-1)**sign * sig * 2**(scale - frac_in)`` with ``sticky`` flagging non-zero bits below
    ``sig``; it is rounded to nearest, ties to even (on the bit pattern for posits), with the format's overflow
    policy (posits and INT saturate; minifloats saturate, or give Inf or NaN, see
    :class:`~npegen.models.formats.Minifloat`).

    Parameters
    ----------
    fmt : Posit, Minifloat or Int
    frac_in : int or None
        Fraction bits below the hidden bit of ``sig``: ``fmt.frac_bits`` to 48; default ``fmt.frac_bits + 2``.
    scale_bits : int or None
        Width of the signed ``scale`` input, ``fmt.scale_bits`` to 16; default ``fmt.scale_bits + 2`` (room
        for product and sum scales, which saturate).

    Attributes
    ----------
    sign, zero, nar, sticky : In(1)
        ``nar`` gives the NaR code (minifloats: the canonical quiet NaN, :attr:`Minifloat.nar_code`) and wins
        over ``zero``; formats without NaR / NaN ignore it. ``zero`` gives +0 (minifloats: the signed zero, e.g.
        FP4 ``0x8`` when ``sign``). There is no Inf input: a minifloat with Inf that does not saturate gives
        +-Inf for a scale beyond its range, as :meth:`Format.encode_fields` does.
    scale : In(signed(scale_bits))
    sig : In(frac_in + 1)
        Normalised: its top bit (the hidden bit) must be 1 unless ``zero`` or ``nar``.
    code : Out(fmt.nbits)

    Notes
    -----
    Combinational: latency 0 cycles, throughput one conversion per cycle.

    Raises
    ------
    TypeError, ValueError
        Unknown format, or ``frac_in`` / ``scale_bits`` out of range.
    """

    def __init__(self, fmt: Format, *, frac_in: int | None = None, scale_bits: int | None = None):
        fmt = _check_format(fmt)
        frac_in, scale_bits = self.resolve(fmt, frac_in=frac_in, scale_bits=scale_bits)
        self._fmt, self._frac_in, self._scale_bits = fmt, frac_in, scale_bits
        super().__init__({
            "sign": In(1),
            "zero": In(1),
            "nar": In(1),
            "scale": In(signed(scale_bits)),
            "sig": In(frac_in + 1),
            "sticky": In(1),
            "code": Out(fmt.nbits),
        })

    @staticmethod
    def resolve(fmt: Format, *, frac_in: int | None = None, scale_bits: int | None = None) -> tuple[int, int]:
        """Validated ``(frac_in, scale_bits)`` with the defaults filled in (raises as the constructor)."""
        fmt = _check_format(fmt)
        frac_in = fmt.frac_bits + 2 if frac_in is None else frac_in
        scale_bits = fmt.scale_bits + 2 if scale_bits is None else scale_bits
        frac_in = check_int("frac_in", frac_in, fmt.frac_bits, 48, context=f" for {fmt.name}")
        scale_bits = check_int("scale_bits", scale_bits, fmt.scale_bits, 16, context=f" for {fmt.name}")
        return frac_in, scale_bits

    @property
    def fmt(self) -> Format:
        return self._fmt

    @property
    def frac_in(self) -> int:
        return self._frac_in

    @property
    def scale_bits(self) -> int:
        return self._scale_bits

    def elaborate(self, platform):
        m = Module()
        f = self._fmt
        n = f.nbits
        e_mag = Signal(n)  # magnitude code (sign applied below)
        if isinstance(f, Posit):
            self._posit(m, f, e_mag)
        elif isinstance(f, Minifloat):
            self._minifloat(m, f, e_mag)
        else:
            self._int(m, f, e_mag)
        if isinstance(f, Minifloat):  # sign-magnitude, signed zeros
            signed_code = Cat(e_mag[: n - 1], self.sign)
            zero_code = Cat(Const(0, n - 1), self.sign)
        else:
            signed_code = Mux(self.sign, (-e_mag)[:n], e_mag)
            zero_code = Const(0, n)
        e_code = Signal(n)
        m.d.comb += e_code.eq(signed_code)
        # Mux expressions rather than If/Else: see priority_msb on why combinational processes are avoided.
        nar, nar_code = (self.nar, f.nar_code) if f.has_nar else (Const(0, 1), 0)
        m.d.comb += self.code.eq(Mux(nar, nar_code, Mux(self.zero, zero_code, e_code)))
        return m

    def _posit(self, m, f: Posit, e_mag):
        n, es, fi = f.nbits, f.es, self._frac_in
        max_s = (n - 2) << es
        scale = self.scale
        e_sat_hi = Signal()
        e_sat_lo = Signal()
        e_k = Signal(signed(self._scale_bits))
        e_kneg = Signal()
        m.d.comb += [
            e_sat_hi.eq(scale >= max_s),
            e_sat_lo.eq(scale < -max_s),
            e_k.eq(scale >> es),
            e_kneg.eq(e_k < 0),
        ]
        # MSB first: fill bit, its complement, exponent, fraction, then n zero bits so nothing is shifted out.
        width = n + fi + es + 2
        e_start = Signal(signed(width))
        parts = [Const(0, n), self.sig[:fi] if fi else Const(0, 0)]
        if es:
            parts.append(scale[:es])
        parts += [e_kneg, ~e_kneg]
        m.d.comb += e_start.eq(Cat(*parts))
        e_shamt = Signal(range(width + 1))
        amount = Mux(e_kneg, -e_k - 1, e_k)
        m.d.comb += e_shamt.eq(Mux(e_sat_hi | e_sat_lo, 0, amount[: len(e_shamt)]))
        e_shifted = Signal(width)
        m.d.comb += e_shifted.eq(e_start >> e_shamt)  # arithmetic: the regime grows with copies of the fill bit
        pattern = e_shifted[width - n:]
        e_sticky = Signal()
        m.d.comb += e_sticky.eq(e_shifted[: width - n].any() | self.sticky)
        e_round = Signal(n)
        m.d.comb += e_round.eq(pattern[1:] + (pattern[0] & (e_sticky | pattern[1])))
        m.d.comb += e_mag.eq(Mux(e_sat_hi, (1 << (n - 1)) - 1, Mux(e_sat_lo, 1, e_round)))

    def _minifloat(self, m, f: Minifloat, e_mag):
        fi, mb, emin, sb = self._frac_in, f.man_bits, f.emin, self._scale_bits
        s = self.scale
        e_big = Signal()
        e_sub = Signal()
        m.d.comb += [e_big.eq(s > f.scale_max), e_sub.eq(s < emin)]
        # LSB exponent max(s, emin) - man_bits: right shift of sig = frac_in - man_bits + max(emin - s, 0)
        e_r = Signal(unsigned(sb + 8))
        m.d.comb += e_r.eq(Mux(e_sub, fi - mb + emin - s, fi - mb))
        q, guard, below = _shr_sticky(m, self.sig, e_r, fi + 2, "e_rs")
        e_q = Signal(mb + 2)
        m.d.comb += e_q.eq(q + (guard & (below | self.sticky | q[0])))  # minifloat: RNE on the ULP grid
        e_code = Signal(f.exp_bits + mb + 2)  # biased exponent - 1 (0 for subnormals), times 2**m, plus 1.m
        m.d.comb += e_code.eq(Mux(e_sub, 0, ((s - emin)[: f.exp_bits + 1] << mb)) + e_q)
        if not f.subnormals:  # below the smallest normal: 0, or the smallest normal above its half
            e_half = Signal()
            m.d.comb += e_half.eq((s == emin - 1) & (self.sig[:fi].any() | self.sticky))
            e_code_ftz = Signal.like(e_code)
            m.d.comb += e_code_ftz.eq(Mux(e_sub, Mux(e_half, 1 << mb, 0), e_code))
            e_code = e_code_ftz
        if f.saturate:
            ovf = f.max_code
        else:
            ovf = f.inf_code if f.has_inf else f.nar_code
        m.d.comb += e_mag.eq(Mux(e_big | (e_code > f.max_code), ovf, e_code))

    def _int(self, m, f: Int, e_mag):
        n, fi = f.nbits, self._frac_in
        s = self.scale
        e_big = Signal()
        m.d.comb += e_big.eq(s >= n)
        e_r = Signal(unsigned(self._scale_bits + 1))
        m.d.comb += e_r.eq(Mux(e_big, 0, fi - s))  # s <= n-1 <= frac_in: never negative when not big
        q, guard, below = _shr_sticky(m, self.sig, e_r, fi + 2, "e_rs")
        e_q = Signal(fi + 2)
        m.d.comb += e_q.eq(q + (guard & (below | self.sticky | q[0])))  # INT: RNE to an integer
        e_limit = Signal(n + 1)
        m.d.comb += e_limit.eq(Mux(self.sign, 1 << (n - 1), (1 << (n - 1)) - 1))
        m.d.comb += e_mag.eq(Mux(e_big | (e_q > e_limit), e_limit, e_q))
