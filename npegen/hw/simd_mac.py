"""SIMD mixed-precision MAC engine: one runtime-reconfigurable datapath for several number formats.

The behaviour is defined by :mod:`npegen.models.simd_mac` (beat in, exact
per-lane accumulation, one rounded result per ``last`` beat); the design point by
:class:`~npegen.models.simd_mac.SimdMacParams`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.simd_mac import DEFAULT_MODES, SimdMacParams
from .formats import Decoder, Encoder, priority_msb

__all__ = ["SimdMac"]


def _sel(m: Module, name: str, shape, choices: list[tuple[object, object]]):
    """A signal equal to the value of the first true condition in ``choices`` (else 0): one AND-OR mux."""
    out = Signal(shape, name=name)
    terms = [Mux(cond, val, 0) for cond, val in choices]
    if terms:
        acc = terms[0]
        for t in terms[1:]:
            acc = acc | t
        m.d.comb += out.eq(acc)
    return out


def _any(terms) -> object:
    """OR of the 1-bit ``terms`` (``Const(0, 1)`` for none)."""
    out = Const(0, 1)
    for t in terms:
        out = out | t
    return out


def _product_flags(f, da, db):
    """``(invalid, +Inf, -Inf)`` of one lane product from its operands' decoders: a NaR / NaN operand, or (formats
    with infinities) Inf times zero, is invalid; Inf times a non-zero is an infinite product of the product's sign.
    The Inf flags are None for formats without infinities."""
    nar = da.nar | db.nar
    if not f.has_inf:
        return nar, None, None
    zero = da.zero | db.zero
    inf = da.inf | db.inf
    neg = da.sign ^ db.sign
    return nar | (inf & zero), inf & ~zero & ~neg, inf & ~zero & neg


def _equals(sig, value: int):
    """``sig == value``; for 0 written as a NOR (Yosys prints ``x == 0`` as ``!x``, which Verilator's
    WIDTHTRUNC lint rejects on vectors)."""
    return ~sig.any() if value == 0 else sig == value


class SimdMac(wiring.Component):
    """SIMD MAC engine over the formats in ``modes`` (XR-NPE style), or its per-format baseline.

    Parameters
    ----------
    modes : sequence of str
        Format specs; the ``mode`` field of a beat indexes this tuple. Default FP4 E2M1, Posit(4,1),
        Posit(8,0), Posit(16,1): 4, 4, 2 and 1 lanes per 16-bit word. Any posit, minifloat (FP8 E4M3 / E5M2,
        BF16, FP16, FP4) or INT whose lanes tile the word may be a mode.
    word_bits : int
        Operand word width (default 16).
    stages : int
        Pipeline depth, >= 1 (see *Notes*).
    acc_guard : int
        Accumulator guard bits: ``2**acc_guard`` worst-case products never overflow.
    dot : bool
        Sum the lanes of every beat into one accumulator (one result lane).
    out_format : str or None
        Round results to this posit format instead of each mode's own (see
        :class:`~npegen.models.simd_mac.SimdMacParams`).
    shared : bool
        True: the shared datapath (below). False: the area baseline, separate single-format MACs (own
        multiplier, scale adder, aligner, accumulator and read-out per format and lane) behind the same
        interface, with identical results.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a", "b", "mode", "last", "clear"})))
        Operand beats: words ``a``, ``b`` of ``word_bits`` (lane ``l`` of a mode with ``n``-bit codes is
        ``a[l*n:(l+1)*n]``), ``mode`` index, ``last`` (emit the result after this beat) and ``clear``
        (drop the dot product in progress; this beat starts a new one).
    o : Out(stream.Signature(StructLayout({"word", "acc", "nar", "overflow", "mode"})))
        One result per ``last`` beat: ``word`` the rounded codes packed like the operands (each lane's
        accumulator in the mode's own format, exactly ``Format.dot``, or in ``out_format``), ``acc`` the
        raw accumulators (signed, LSB ``2**(2*lsb_exp)`` of the mode; finite products only), ``nar`` /
        ``overflow`` per result lane. ``nar``: the lane's code is NaR / NaN because of special operands (see
        *Notes*); an Inf result is the Inf code with ``nar`` down.

    Notes
    -----
    Shared datapath (``x_`` signal prefix):

    * one significand multiplier array of ``sig_bits`` rows: row ``j`` adds ``Y[j] * (X & M_j) << j``; the
      masks ``M_j`` keep only the lane block of row ``j`` in the current mode, so the one array works as a
      13x13 multiplier (Posit(16,1)), two 6x6 (Posit(8,0)), four 2x2 (FP4) or four 1x1 (Posit(4,1));
    * one scale adder and one alignment shifter per lane position, shared by the modes that use it;
    * per lane position one accumulator (as wide as its widest mode; saturating at the beat's mode's
      width), one leading-one normaliser at read-out, and a small encoder per format.

    Inputs of decoders and array parts a mode does not use are held at zero (operand isolation).

    *Reserved mode indices* (``len(modes) .. 2**mode_bits - 1``, when the number of modes is not a power of
    two) select no format: such a beat adds nothing and sets no flag (``clear`` still clears); with ``last``
    it ends the dot product in progress, discarding it, and emits a result with that ``mode`` and all-zero
    ``word``, ``acc``, ``nar`` and ``overflow``. Reserved operand codes are those of the formats: a posit
    NaR or minifloat NaN operand makes its lane's result NaR / the canonical NaN (the ``nar`` flag and the
    code), as a quire does.

    *Minifloat infinities* (FP8 E5M2, BF16, FP16): per lane two more sticky flags, an infinite product of
    each sign seen (Inf times a non-zero; the product adds nothing to the accumulator). At the ``last``
    beat: Inf times zero (flagged with the NaNs) or both signs give NaN, one sign gives that signed Inf
    (NaR with a posit ``out_format``), exactly ``Minifloat.dot``. ``clear`` drops them with the rest. A
    finite sum beyond the format's range rounds to Inf, NaN (E4M3) or the largest value as
    ``Format.round_fixed`` does, without a flag (see :mod:`npegen.models.simd_mac`).

    *Latency*: ``stages`` cycles from the edge that accepts a ``last`` beat to the edge after which its
    result is on ``o`` (``stages - 1`` product pipeline registers, then the accumulator). *Throughput*:
    one beat per cycle while ``o`` is ready; the mode may change on any beat (between dot products)
    without a bubble. A result not taken (``o.ready`` low) stalls the whole pipeline (``i.ready`` low).

    Raises
    ------
    TypeError, ValueError
        From :class:`~npegen.models.simd_mac.SimdMacParams`.
    """

    def __init__(self, *, modes=DEFAULT_MODES, word_bits: int = 16, stages: int = 2, acc_guard: int = 8,
                 dot: bool = False, shared: bool = True, out_format: str | None = None):
        self._p = SimdMacParams(modes=tuple(modes) if not isinstance(modes, str) else modes, word_bits=word_bits,
                                stages=stages, acc_guard=acc_guard, dot=dot, shared=shared, out_format=out_format)
        p = self._p
        acc_max = max(p.acc_width(lane) for lane in range(p.out_lanes))
        self._in_layout = data.StructLayout({"a": p.word_bits, "b": p.word_bits, "mode": p.mode_bits, "last": 1,
                                             "clear": 1})
        self._out_layout = data.StructLayout({
            "word": p.out_word_bits,
            "acc": data.ArrayLayout(signed(acc_max), p.out_lanes),
            "nar": p.out_lanes,
            "overflow": p.out_lanes,
            "mode": p.mode_bits,
        })
        super().__init__({
            "i": In(stream.Signature(self._in_layout)),
            "o": Out(stream.Signature(self._out_layout)),
        })

    @classmethod
    def from_params(cls, p: SimdMacParams) -> SimdMac:
        return cls(modes=p.modes, word_bits=p.word_bits, stages=p.stages, acc_guard=p.acc_guard, dot=p.dot,
                   shared=p.shared, out_format=p.out_format)

    @property
    def params(self) -> SimdMacParams:
        return self._p

    @property
    def latency(self) -> int:
        return self._p.latency

    # -- elaboration ------------------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        p = self._p
        nm = len(p.modes)
        fmts = p.formats
        pay = self.i.payload

        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        x_is = [Signal(name=f"x_is_{fi}") for fi in range(nm)]
        for fi in range(nm):
            m.d.comb += x_is[fi].eq(_equals(pay.mode, fi))

        # Decoders: one per format and lane, inputs held at zero outside their mode.
        dec = {}
        for fi, f in enumerate(fmts):
            n = f.nbits
            for lane in range(p.lanes(fi)):
                for side, word in (("a", pay.a), ("b", pay.b)):
                    d = Decoder(f)
                    m.submodules[f"x_dec_{side}_{f.name}_{lane}"] = d
                    m.d.comb += d.code.eq(Mux(x_is[fi], word[lane * n:(lane + 1) * n], 0))
                    dec[(fi, lane, side)] = d

        if p.shared:
            prods = self._shared_products(m, x_is, dec)
        else:
            prods = self._baseline_products(m, dec)

        # Per result lane: the signed aligned product (the sum over lanes with dot), its invalid (NaR / NaN) flag
        # and, where a mode with infinities uses the lane, its +Inf / -Inf product flags (else None).
        beats = []
        for lane in range(p.out_lanes):
            modes_here = p.lane_modes(lane)
            width = max(p.acc_bits(fi) for fi in modes_here)
            if p.dot:  # every lane of the beat's mode
                srcs = [(fi, lp) for fi in range(nm) for lp in range(p.lanes(fi))]
                terms = [Mux(x_is[fi], prods[(fi, lp)][0], 0) for fi, lp in srcs]
                total = terms[0]
                for t in terms[1:]:
                    total = total + t
            else:
                srcs = [(fi, lane) for fi in modes_here]
                total = _sel(m, f"x_sum_{lane}", signed(width), [(x_is[fi], prods[(fi, lane)][0]) for fi in modes_here])
            x_beat = Signal(signed(width), name=f"x_beat_{lane}")
            x_nar = Signal(name=f"x_nar_{lane}")
            m.d.comb += [x_beat.eq(total), x_nar.eq(_any(x_is[fi] & prods[(fi, lp)][1] for fi, lp in srcs))]
            flags = [x_nar]
            if any(fmts[fi].has_inf for fi, _ in srcs):
                for sign, ix in (("p", 2), ("n", 3)):
                    x_inf = Signal(name=f"x_{sign}inf_{lane}")
                    m.d.comb += x_inf.eq(_any(x_is[fi] & prods[(fi, lp)][ix] for fi, lp in srcs
                                              if fmts[fi].has_inf))
                    flags.append(x_inf)
            else:
                flags += [None, None]
            beats.append((x_beat, *flags))

        # Product pipeline: stages - 1 registers, moving only when the engine advances.
        valid, last, mode, clear = self.i.valid, pay.last, pay.mode, pay.clear
        for k in range(1, p.stages):
            n_valid = Signal(name=f"p{k}_valid")
            n_last = Signal(name=f"p{k}_last")
            n_clear = Signal(name=f"p{k}_clear")
            n_mode = Signal(p.mode_bits, name=f"p{k}_mode")
            nb = []
            with m.If(advance):
                m.d.sync += [n_valid.eq(valid), n_last.eq(last), n_mode.eq(mode), n_clear.eq(clear)]
                for lane, (bv, *bf) in enumerate(beats):
                    r = Signal(bv.shape(), name=f"p{k}_beat_{lane}")
                    rf = [None if x is None else Signal(name=f"p{k}_{tag}_{lane}")
                          for x, tag in zip(bf, ("nar", "pinf", "ninf"), strict=True)]
                    with m.If(valid):  # operand isolation of idle cycles
                        m.d.sync += [r.eq(bv)] + [y.eq(x) for x, y in zip(bf, rf, strict=True) if x is not None]
                    nb.append((r, *rf))
            valid, last, mode, clear = n_valid, n_last, n_mode, n_clear
            beats = nb

        self._accumulate(m, advance, valid, last, mode, clear, beats)
        return m

    # -- shared datapath ---------------------------------------------------------------------------------------

    def _shared_products(self, m, x_is, dec):
        p = self._p
        nm = len(p.modes)
        fmts = p.formats
        sw = max(max(f.sig_bits * p.lanes(fi) for fi, f in enumerate(fmts)), max(f.sig_bits for f in fmts))
        # Operand routing into the one array: lane l of mode f at bits [l*s, (l+1)*s).
        x_x = _sel(m, "x_x", sw, [(x_is[fi], Cat(*[dec[(fi, lane, "a")].sig for lane in range(p.lanes(fi))]))
                                  for fi in range(nm)])
        x_y = _sel(m, "x_y", sw, [(x_is[fi], Cat(*[dec[(fi, lane, "b")].sig for lane in range(p.lanes(fi))]))
                                  for fi in range(nm)])
        # Row masks: row j keeps only the X bits of its own lane block in the current mode.
        rows = []
        for j in range(sw):
            choices = []
            for fi, f in enumerate(fmts):
                s = f.sig_bits
                lane = j // s
                if lane < p.lanes(fi):
                    choices.append((x_is[fi], Const(((1 << s) - 1) << (lane * s), sw)))
            mask = _sel(m, f"x_mask_{j}", sw, choices)
            row = Signal(sw, name=f"x_row_{j}")
            m.d.comb += row.eq((x_x & mask) & x_y[j].replicate(sw))
            rows.append(row)
        x_prod = Signal(2 * sw)
        total = Cat(rows[0], Const(0, sw))
        for j in range(1, sw):
            total = total + (rows[j] << j)
        m.d.comb += x_prod.eq(total[: 2 * sw])

        prods = {}
        for lp in range(p.max_lanes):
            modes_here = [fi for fi in range(nm) if lp < p.lanes(fi)]
            pw = max(2 * fmts[fi].sig_bits for fi in modes_here)
            x_p = _sel(m, f"x_p_{lp}", pw,
                       [(x_is[fi], x_prod[2 * lp * fmts[fi].sig_bits: 2 * (lp + 1) * fmts[fi].sig_bits])
                        for fi in modes_here])
            # one scale adder per lane position, shared by the modes using it
            sbits = max(fmts[fi].scale_bits for fi in modes_here) + 1
            x_sa = _sel(m, f"x_sa_{lp}", signed(sbits), [(x_is[fi], dec[(fi, lp, "a")].scale) for fi in modes_here])
            x_sb = _sel(m, f"x_sb_{lp}", signed(sbits), [(x_is[fi], dec[(fi, lp, "b")].scale) for fi in modes_here])
            x_ss = Signal(signed(sbits + 1), name=f"x_ss_{lp}")
            m.d.comb += x_ss.eq(x_sa + x_sb)
            max_sh = max(2 * (fmts[fi].scale_max - fmts[fi].scale_min) for fi in modes_here)
            x_sh = Signal(range(max_sh + 1), name=f"x_sh_{lp}")
            m.d.comb += x_sh.eq(_sel(m, f"x_shc_{lp}", signed(sbits + 2),
                                     [(x_is[fi], x_ss - 2 * fmts[fi].scale_min) for fi in modes_here])
                                .as_unsigned()[: len(x_sh)])
            x_al = Signal(pw + max_sh, name=f"x_al_{lp}")
            m.d.comb += x_al.eq(x_p << x_sh)  # one alignment shifter per lane position
            for fi in modes_here:
                f = fmts[fi]
                w = f.exact_product_bits
                aligned = x_al[2 * f.frac_bits: 2 * f.frac_bits + w]
                neg = dec[(fi, lp, "a")].sign ^ dec[(fi, lp, "b")].sign
                sp = Signal(signed(w + 1), name=f"x_sp_{f.name}_{lp}")
                m.d.comb += sp.eq(Mux(neg, -aligned, aligned))
                prods[(fi, lp)] = (sp, *_product_flags(f, dec[(fi, lp, "a")], dec[(fi, lp, "b")]))
        return prods

    # -- per-format baseline -------------------------------------------------------------------------------

    def _baseline_products(self, m, dec):
        p = self._p
        prods = {}
        for fi, f in enumerate(p.formats):
            for lp in range(p.lanes(fi)):
                da, db = dec[(fi, lp, "a")], dec[(fi, lp, "b")]
                tag = f"{f.name}_{lp}"
                x_p = Signal(2 * f.sig_bits, name=f"x_p_{tag}")
                m.d.comb += x_p.eq(da.sig * db.sig)  # a multiplier of its own
                x_ss = Signal(signed(f.scale_bits + 1), name=f"x_ss_{tag}")
                m.d.comb += x_ss.eq(da.scale + db.scale)
                max_sh = 2 * (f.scale_max - f.scale_min)
                x_sh = Signal(range(max_sh + 1), name=f"x_sh_{tag}")
                m.d.comb += x_sh.eq((x_ss - 2 * f.scale_min).as_unsigned()[: len(x_sh)])
                x_al = Signal(2 * f.sig_bits + max_sh, name=f"x_al_{tag}")
                m.d.comb += x_al.eq(x_p << x_sh)
                w = f.exact_product_bits
                aligned = x_al[2 * f.frac_bits: 2 * f.frac_bits + w]
                sp = Signal(signed(w + 1), name=f"x_sp_{tag}")
                m.d.comb += sp.eq(Mux(da.sign ^ db.sign, -aligned, aligned))
                prods[(fi, lp)] = (sp, *_product_flags(f, da, db))
        return prods

    # -- accumulate and read out ----------------------------------------------------------------------------

    def _accumulate(self, m, advance, valid, last, mode, clear, beats):
        p = self._p
        nm = len(p.modes)
        fmts = p.formats
        a_is = [Signal(name=f"a_is_{fi}") for fi in range(nm)]
        for fi in range(nm):
            m.d.comb += a_is[fi].eq(_equals(mode, fi))
        res_mode = Signal(p.mode_bits)
        r_is = [Signal(name=f"r_is_{fi}") for fi in range(nm)]
        for fi in range(nm):
            m.d.comb += r_is[fi].eq(_equals(res_mode, fi))

        take = Signal()
        m.d.comb += take.eq(advance & valid)
        with m.If(advance & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(take & last):
            m.d.sync += [self.o.valid.eq(1), res_mode.eq(mode)]

        codes = {}  # (fi, lane) -> code signal
        for lane, (beat, beat_nar, beat_pinf, beat_ninf) in enumerate(beats):
            modes_here = p.lane_modes(lane)
            # In the baseline every format has an accumulator of its own for this lane; shared: one.
            groups = [modes_here] if p.shared else [[fi] for fi in modes_here]
            res_accs = []
            for group in groups:
                gname = f"{lane}" if p.shared else f"{fmts[group[0]].name}_{lane}"
                width = max(p.acc_bits(fi) for fi in group)
                a_acc = Signal(signed(width), name=f"a_acc_{gname}")
                a_nar = Signal(name=f"a_nar_{gname}")
                a_ovf = Signal(name=f"a_ovf_{gname}")
                a_sum = Signal(signed(width + 1), name=f"a_sum_{gname}")
                in_group = Const(0, 1)
                for fi in group:
                    in_group = in_group | a_is[fi]
                a_base = Signal(signed(width), name=f"a_base_{gname}")  # a clear beat starts from zero
                m.d.comb += [a_base.eq(Mux(clear, 0, a_acc)), a_sum.eq(a_base + Mux(in_group, beat, 0))]
                # saturate at the beat's mode's width
                a_fits = Signal(name=f"a_fits_{gname}")
                fits = Const(0, 1)
                for fi in group:
                    wb = p.acc_bits(fi)
                    top = a_sum[wb - 1:]
                    fits = fits | (a_is[fi] & (~top.any() | top.all()))
                m.d.comb += a_fits.eq(fits | ~in_group)
                a_new = Signal(signed(width), name=f"a_new_{gname}")
                sat = []
                for fi in group:
                    wb = p.acc_bits(fi)
                    sat.append((a_is[fi] & a_sum[width], Const(-(1 << (wb - 1)), signed(width))))
                    sat.append((a_is[fi] & ~a_sum[width], Const((1 << (wb - 1)) - 1, signed(width))))
                sat_val = _sel(m, f"a_sat_{gname}", signed(width), sat)
                m.d.comb += a_new.eq(Mux(a_fits, a_sum[:width], sat_val))
                new_nar = (a_nar & ~clear) | (beat_nar & in_group)
                new_ovf = (a_ovf & ~clear) | ~a_fits
                r_acc = Signal(signed(width), name=f"r_acc_{gname}")
                r_nar = Signal(name=f"r_nar_{gname}")
                r_ovf = Signal(name=f"r_ovf_{gname}")
                res_nar, keep, done, last_regs = new_nar, [], [], []
                r_inf = r_ninf = None
                if any(fmts[fi].has_inf for fi in group):  # sticky infinite-product flags of each sign
                    a_pinf = Signal(name=f"a_pinf_{gname}")
                    a_ninf = Signal(name=f"a_ninf_{gname}")
                    new_pinf = Signal(name=f"a_new_pinf_{gname}")
                    new_ninf = Signal(name=f"a_new_ninf_{gname}")
                    m.d.comb += [new_pinf.eq((a_pinf & ~clear) | (beat_pinf & in_group)),
                                 new_ninf.eq((a_ninf & ~clear) | (beat_ninf & in_group))]
                    # read-out rule of the last beat's mode: Infs of both signs, or Inf in a format without
                    # (a posit out_format), are NaN / NaR; else one sign gives that Inf
                    no_inf = _any(a_is[fi] for fi in group if not p.out_fmt(fi).has_inf)
                    inf_any = new_pinf | new_ninf
                    res_nar = Signal(name=f"a_res_nar_{gname}")
                    m.d.comb += res_nar.eq(new_nar | (new_pinf & new_ninf) | (inf_any & no_inf))
                    r_inf = Signal(name=f"r_inf_{gname}")
                    r_ninf = Signal(name=f"r_ninf_{gname}")
                    keep = [a_pinf.eq(new_pinf), a_ninf.eq(new_ninf)]
                    done = [a_pinf.eq(0), a_ninf.eq(0)]
                    last_regs = [r_inf.eq(inf_any & ~res_nar), r_ninf.eq(new_ninf)]
                with m.If(take):
                    with m.If(last):
                        m.d.sync += [r_acc.eq(a_new), r_nar.eq(res_nar), r_ovf.eq(new_ovf),
                                     a_acc.eq(0), a_nar.eq(0), a_ovf.eq(0), *done, *last_regs]
                    with m.Else():
                        m.d.sync += [a_acc.eq(a_new), a_nar.eq(new_nar), a_ovf.eq(new_ovf), *keep]
                res_accs.append((group, r_acc, r_nar, r_ovf))
                self._readout(m, lane, group, r_acc, r_nar, r_is, codes, gname, r_inf, r_ninf)

            # raw result fields of this lane, from the group of the result's mode
            acc_max = len(self.o.payload.acc[lane])
            m.d.comb += [
                self.o.payload.acc[lane].eq(
                    _sel(m, f"r_accsel_{lane}", signed(acc_max),
                         [(r_is[fi], r_acc) for group, r_acc, _, _ in res_accs for fi in group])),
                self.o.payload.nar[lane].eq(
                    _sel(m, f"r_narsel_{lane}", 1, [(r_is[fi], r_nar) for group, _, r_nar, _ in res_accs
                                                    for fi in group])),
                self.o.payload.overflow[lane].eq(
                    _sel(m, f"r_ovfsel_{lane}", 1, [(r_is[fi], r_ovf) for group, _, _, r_ovf in res_accs
                                                    for fi in group])),
            ]

        word_choices = []
        for fi in range(len(fmts)):
            used = 1 if p.dot else p.lanes(fi)
            word_choices.append((r_is[fi], Cat(*[codes[(fi, lane)] for lane in range(used)])))
        m.d.comb += [
            self.o.payload.word.eq(_sel(m, "r_word", p.out_word_bits, word_choices)),
            self.o.payload.mode.eq(res_mode),
        ]

    def _readout(self, m, lane, group, r_acc, r_nar, r_is, codes, gname, r_inf=None, r_ninf=None):
        """Leading-one normaliser on the raw accumulator, then one encoder per format of ``group``; formats with
        infinities give the signed Inf code when ``r_inf`` (never together with ``r_nar``)."""
        p = self._p
        fmts = p.formats
        width = len(r_acc)
        r_neg = Signal(name=f"r_neg_{gname}")
        r_mag = Signal(width, name=f"r_mag_{gname}")
        m.d.comb += [r_neg.eq(r_acc[width - 1]), r_mag.eq(Mux(r_neg, -r_acc, r_acc))]
        top = priority_msb(m, r_mag, f"r_top_{gname}")
        r_norm = Signal(width, name=f"r_norm_{gname}")
        m.d.comb += r_norm.eq((r_mag << (width - 1 - top).as_unsigned())[:width])
        r_sticky = Signal(name=f"r_sticky_{gname}")
        lo = min(2 * fmts[fi].lsb_exp for fi in group)
        hi = width - 1 + max(2 * fmts[fi].lsb_exp for fi in group)
        outs = {fi: p.out_fmt(fi) for fi in group}
        frac_in = max(f.frac_bits for f in outs.values()) + 2
        if width - 1 >= frac_in:
            r_sig = r_norm[width - 1 - frac_in:]
            m.d.comb += r_sticky.eq(r_norm[: width - 1 - frac_in].any() if width - 1 > frac_in else 0)
        else:  # a narrow accumulator read out in a wider format: every bit fits
            r_sig = Cat(Const(0, frac_in - (width - 1)), r_norm)
            m.d.comb += r_sticky.eq(0)
        sbits = max(max(abs(lo), abs(hi)).bit_length() + 1, max(f.scale_bits for f in outs.values()))
        # the accumulator's LSB exponent depends on the mode; one scale per mode of the group
        r_scale = _sel(m, f"r_scale_{gname}", signed(sbits),
                       [(r_is[fi], top + 2 * fmts[fi].lsb_exp) for fi in group])
        encoders = {}
        for fi in group:
            fo = outs[fi]
            key = fo.name
            if key not in encoders:  # with out_format one encoder serves every mode of the lane
                enc = Encoder(fo, frac_in=frac_in, scale_bits=sbits)
                m.submodules[f"r_enc_{fo.name}_{gname}"] = enc
                m.d.comb += [
                    enc.sign.eq(r_neg),
                    enc.zero.eq(~r_mag.any()),
                    enc.nar.eq(r_nar),
                    enc.scale.eq(r_scale),
                    enc.sig.eq(r_sig),
                    enc.sticky.eq(r_sticky),
                ]
                code = enc.code
                if fo.has_inf and r_inf is not None:
                    code = Signal(fo.nbits, name=f"r_code_{fo.name}_{gname}")
                    m.d.comb += code.eq(Mux(r_inf, Cat(Const(fo.inf_code, fo.nbits - 1), r_ninf), enc.code))
                encoders[key] = code
            codes[(fi, lane)] = encoders[key]
