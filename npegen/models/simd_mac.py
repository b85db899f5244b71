"""Beat-level model of the SIMD mixed-precision MAC engine (:class:`npegen.hw.simd_mac.SimdMac`).

Each input beat carries two operand words of ``word_bits``, a mode index into
:attr:`SimdMacParams.modes` and a ``last`` flag. In mode ``f`` a word holds
``word_bits // f.nbits`` lanes, lane 0 in the least significant bits. A mode's format
is a posit, a minifloat (:class:`~npegen.models.formats.Minifloat`: FP4 E2M1, OCP FP8
E4M3 / E5M2, BF16, FP16) or an INT. Every finite lane product is exact; it is added,
as a fixed-point integer with LSB ``2**(2 * f.lsb_exp)``, into that lane's
accumulator (with ``dot=True`` the lane products of a beat are summed into one
accumulator). A beat with ``last`` ends the dot product: the engine emits one result
and the next beat starts from zero.

A result holds, per lane: the raw accumulator (two's complement integer), the
accumulator rounded to the mode's own format (exactly ``Format.dot`` of that
lane's operands, i.e. the SoftPosit quire result for posits) or to ``out_format``,
a NaR flag and a sticky overflow flag. A beat with ``clear`` drops the dot product
in progress, its sums and every flag (nothing is emitted for it) and starts a new
one with its own product.

Special operands (sticky per lane until the end of the dot product, like a quire's
NaR):

* **NaR / NaN.** A posit NaR or minifloat NaN operand makes the lane's result the
  format's NaR / canonical NaN (``Format.nar_code``). So does, in minifloats with
  infinities (FP8 E5M2, BF16, FP16), Inf times zero, or infinite products of both
  signs in one dot product (IEEE 754 invalid operations, as ``Minifloat.dot``).
* **Inf.** Inf times a non-zero finite value or Inf is an infinite product of the
  product's sign; it adds nothing to the accumulator. A dot product with infinite
  products of one sign only (and no NaN) reads out as that signed Inf
  (``Minifloat.inf_code``); with ``out_format`` (a posit, which has no Inf) as NaR.
* **The ``nar`` flag** of a result lane is set exactly when that lane's code is NaR /
  NaN *because of special operands* (any of the cases above, including an Inf read
  out as a posit NaR). A finite sum beyond the format's largest value is not
  flagged: it rounds as ``Format.round_fixed`` does, to +-Inf (IEEE-like formats),
  NaN (OCP E4M3, which has no Inf: the NaN code with the sum's sign) or +-max
  (saturating formats, FP4). An Inf result has no flag of its own: its code is the
  Inf code (with ``nar`` down). The raw ``acc`` field carries the finite products
  only.

Overflow: in mode ``f`` an accumulator holds :meth:`SimdMacParams.acc_bits` bits -
the format's exact product width plus ``acc_guard`` bits (``2**acc_guard``
worst-case products fit) plus a sign. A beat whose exact sum does not fit
saturates the accumulator to its most positive / negative value and sets the
lane's overflow flag until the end of the dot product. (A register shared by
several modes is as wide as the widest; it still saturates at the beat's mode's
width, so the shared and the per-format engines agree bit for bit.)

A dot product uses one mode: the mode of its ``last`` beat decides how the
accumulators are read out. (The hardware does not stop a mode change inside a dot
product; the integers simply add up at each beat's own scaling, and the NaR / Inf
flags of every beat count; a format without NaR / NaN - FP4, INT - reads out the
rounded sum with the ``nar`` flag up.)

Reserved mode indices: when the number of modes is not a power of two, the
``mode_bits``-wide field can carry indices ``len(modes) .. 2**mode_bits - 1``
(:attr:`SimdMacParams.reserved_modes`) that name no format. Such a beat adds nothing
to any accumulator and sets no flag (its ``clear`` still works); with ``last`` it
ends the dot product in progress, dropping its sums and flags, and emits a result
carrying the reserved index with every other field zero (word, acc, nar, overflow).

Latency and throughput are those of the hardware (:class:`npegen.hw.simd_mac.SimdMac`):
``stages`` cycles from a ``last`` beat to its result, one beat per cycle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._checks import check_int
from .formats import Format, Int, Minifloat, Posit, parse

__all__ = ["SimdMacParams", "SimdMacResult", "ref_simd_mac", "round_fixed_int", "DEFAULT_MODES", "MAX_ACC_BITS"]

#: XR-NPE's four formats.
DEFAULT_MODES = ("fp4_e2m1", "posit4_1", "posit8_0", "posit16_1")

#: Largest :attr:`SimdMacParams.acc_bits_total`: beyond it generation and synthesis time explode (a 64-bit word of
#: posit32_4 lanes needs 3,860 accumulator bits: 20 s to generate, far longer to synthesise).
MAX_ACC_BITS = 1024


@dataclass(frozen=True)
class SimdMacParams:
    """One design point of the SIMD MAC engine, validated at construction.

    Parameters
    ----------
    modes : sequence of str
        Format specs (see :func:`npegen.models.formats.parse`), one per mode; the mode input is an index
        into this tuple: posits, minifloats (``fp4_e2m1``, ``fp8_e4m3``, ``fp8_e5m2``, ``bf16``, ``fp16``) or
        INTs, in any mix. Each format must tile the word: ``word_bits % nbits == 0``.
    word_bits : int
        Operand word width, 4 to 64.
    stages : int
        Pipeline depth = latency in cycles from an accepted ``last`` beat to its result, 1 to 8.
    acc_guard : int
        Guard bits of every accumulator, 0 to 24: ``2**acc_guard`` worst-case products (beats, with
        ``dot``: beats times lanes) never overflow.

        Bound on the whole: the engine's accumulators may total at most :data:`MAX_ACC_BITS` (1024) bits
        (:attr:`acc_bits_total`), which keeps generation and synthesis to minutes. The default engine has
        208; with a ``bf16`` mode added 617 (a BF16 lane needs 531); four posit16_2 lanes 936; a posit32_4
        lane alone needs 1930.
    dot : bool
        Sum the lanes of a beat into one accumulator (one result lane).
    out_format : str or None
        Round every result to this posit format (e.g. ``"posit16_1"``, more precision for FP4 lanes) instead
        of each mode's own format. Posits have no Inf: a minifloat lane's Inf result reads out as NaR.
    shared : bool
        Generator choice: one shared datapath (True) or separate per-format MACs (the area baseline).
        Results are identical.

    Raises
    ------
    TypeError, ValueError
        A parameter is of the wrong type or out of range; the message names it.
    """

    modes: tuple[str, ...] = DEFAULT_MODES
    word_bits: int = 16
    stages: int = 2
    acc_guard: int = 8
    dot: bool = False
    shared: bool = True
    out_format: str | None = None

    def __post_init__(self) -> None:
        modes = self.modes
        if isinstance(modes, str) or not isinstance(modes, Sequence):
            raise TypeError(f"modes must be a sequence of format names, not {modes!r}")
        modes = tuple(modes)
        if not 1 <= len(modes) <= 8:
            raise ValueError(f"modes must name 1 to 8 formats, not {len(modes)}: {modes!r}")
        if len(set(modes)) != len(modes):
            raise ValueError(f"modes must not repeat a format: {modes!r}")
        word_bits = check_int("word_bits", self.word_bits, 4, 64)
        for m in modes:
            f = parse(m)  # raises for unknown formats
            if not isinstance(f, (Posit, Minifloat, Int)):  # pragma: no cover - parse returns only these
                raise ValueError(f"mode {m!r} is not a supported format")
            if word_bits % f.nbits:
                raise ValueError(f"mode {m!r} ({f.nbits}-bit lanes) does not tile a {word_bits}-bit word")
        object.__setattr__(self, "modes", modes)
        object.__setattr__(self, "word_bits", word_bits)
        object.__setattr__(self, "stages", check_int("stages", self.stages, 1, 8))
        object.__setattr__(self, "acc_guard", check_int("acc_guard", self.acc_guard, 0, 24))
        for name in ("dot", "shared"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")
        if self.out_format is not None:
            if not isinstance(parse(self.out_format), Posit):
                raise ValueError(f"out_format must be a posit format (results may be NaR), not {self.out_format!r}")
        if self.acc_bits_total > MAX_ACC_BITS:
            raise ValueError(f"the accumulators of modes {modes!r} on a {word_bits}-bit word with acc_guard "
                             f"{self.acc_guard} total {self.acc_bits_total} bits; at most {MAX_ACC_BITS} keep "
                             "generation and synthesis bounded (use a narrower word, fewer lanes, a smaller "
                             "acc_guard or a posit with a smaller es)")

    # -- derived ------------------------------------------------------------------------------------------

    @cached_property
    def formats(self) -> tuple[Format, ...]:
        return tuple(parse(m) for m in self.modes)

    def lanes(self, mode: int) -> int:
        """Lanes of mode ``mode`` (an index)."""
        return self.word_bits // self.formats[mode].nbits

    @property
    def max_lanes(self) -> int:
        return max(self.lanes(i) for i in range(len(self.modes)))

    @property
    def out_lanes(self) -> int:
        """Result lanes: 1 with ``dot``, else :attr:`max_lanes`."""
        return 1 if self.dot else self.max_lanes

    def lane_modes(self, lane: int) -> list[int]:
        """Modes (indices) that use result lane ``lane``."""
        return [i for i in range(len(self.modes)) if lane < (1 if self.dot else self.lanes(i))]

    def acc_bits(self, mode: int) -> int:
        """Two's complement width at which mode ``mode`` saturates: the format's exact product width, the
        guard bits, ``ceil(log2(lanes))`` more with ``dot``, and a sign bit."""
        f = self.formats[mode]
        extra = (self.lanes(mode) - 1).bit_length() if self.dot else 0
        return f.exact_product_bits + self.acc_guard + extra + 1

    @property
    def acc_bits_total(self) -> int:
        """Accumulator register bits of the whole engine: one register per result lane as wide as its widest
        mode (shared), or every mode's own lanes (the per-format baseline)."""
        if self.shared:
            return sum(self.acc_width(lane) for lane in range(self.out_lanes))
        return sum((1 if self.dot else self.lanes(i)) * self.acc_bits(i) for i in range(len(self.modes)))

    def acc_width(self, lane: int) -> int:
        """Register width of result lane ``lane``'s accumulator (the widest mode that uses the lane)."""
        return max(self.acc_bits(i) for i in self.lane_modes(lane))

    def out_fmt(self, mode: int) -> Format:
        """Format results of mode ``mode`` are rounded to."""
        return parse(self.out_format) if self.out_format is not None else self.formats[mode]

    @property
    def out_word_bits(self) -> int:
        """Width of the packed result codes: ``word_bits``, or the lanes times ``out_format``'s bits."""
        if self.out_format is None:
            return self.word_bits
        return (1 if self.dot else self.max_lanes) * parse(self.out_format).nbits

    @property
    def mode_bits(self) -> int:
        return max(1, (len(self.modes) - 1).bit_length())

    @property
    def reserved_modes(self) -> tuple[int, ...]:
        """Mode indices the ``mode`` field can carry that name no format (see the module docstring)."""
        return tuple(range(len(self.modes), 1 << self.mode_bits))

    @property
    def latency(self) -> int:
        return self.stages

    def job_cycles(self, jobs: Sequence[tuple[str, int, int]]) -> int:
        """Cycles of a stream of dot products on one engine, first beat to last result, both counted.

        The estimator's SIMD cycle formula (``npegen.analysis.estimator``) and the one the testbench's
        ``test_latency`` measurement checks (``tests/analysis/test_estimator_rtl.py``).

        Parameters
        ----------
        jobs : sequence of (str, int, int)
            ``(mode, outputs, k)``: ``outputs`` dot products of ``k`` beats each in mode ``mode`` (a name in
            :attr:`modes`). A beat covers ``lanes(mode)`` outputs (one with ``dot``).

        Returns
        -------
        int
            ``sum(ceil(outputs / lanes) * k) + stages``: beats stream back to back with no bubble between
            dot products or modes, and the last result comes :attr:`latency` cycles after the last beat.

        Raises
        ------
        TypeError, ValueError
            A mode the engine does not have, or a negative or non-integer count.
        """
        beats = 0
        for mode, outputs, k in jobs:
            if mode not in self.modes:
                raise ValueError(f"mode {mode!r} is not one of the engine's modes {self.modes}")
            lanes = 1 if self.dot else self.lanes(self.modes.index(mode))
            beats += -(-check_int("outputs", outputs, 0, 1 << 62) // lanes) * check_int("k", k, 0, 1 << 62)
        return beats + self.stages

    @property
    def tag(self) -> str:
        short = {"fp4_e2m1": "fp4", "posit4_1": "p4", "posit8_0": "p8", "posit16_1": "p16", "fp8_e4m3": "e4m3",
                 "fp8_e5m2": "e5m2"}
        modes = "-".join(short.get(m, m) for m in self.modes)
        kind = "shared" if self.shared else "baseline"
        out = f"_o{short.get(self.out_format, self.out_format)}" if self.out_format else ""
        return (f"{modes}_w{self.word_bits}_s{self.stages}_g{self.acc_guard}{'_dot' if self.dot else ''}{out}"
                f"_{kind}")

    def to_env(self) -> dict[str, str]:
        return {
            "PARAM_MODES": ",".join(self.modes),
            "PARAM_WORD_BITS": str(self.word_bits),
            "PARAM_STAGES": str(self.stages),
            "PARAM_ACC_GUARD": str(self.acc_guard),
            "PARAM_DOT": str(int(self.dot)),
            "PARAM_SHARED": str(int(self.shared)),
            "PARAM_OUT_FORMAT": self.out_format or "",
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SimdMacParams:
        env = os.environ if env is None else env
        return cls(modes=tuple(env["PARAM_MODES"].split(",")), word_bits=int(env["PARAM_WORD_BITS"]),
                   stages=int(env["PARAM_STAGES"]), acc_guard=int(env["PARAM_ACC_GUARD"]),
                   dot=env["PARAM_DOT"] == "1", shared=env["PARAM_SHARED"] == "1",
                   out_format=env.get("PARAM_OUT_FORMAT") or None)


@dataclass(frozen=True)
class SimdMacResult:
    """One emitted result: per result lane ``acc`` (raw integers: the finite products), ``code`` (rounded; NaR /
    NaN, or +-Inf, after special operands), ``nar`` (the code is NaR / NaN because of special operands: see the
    module docstring), ``overflow``; plus the mode and the packed code word."""

    mode: int
    acc: tuple[int, ...]
    code: tuple[int, ...]
    nar: tuple[bool, ...]
    overflow: tuple[bool, ...]
    word: int


def _round_many(fmt: Format, values: list[int], lsb_exp: int) -> list[int]:
    """:func:`round_fixed_int` over many Python integers with one vectorised encode."""
    keep = fmt.frac_bits + 2
    sign, scale, sig, sticky, zero = [], [], [], [], []
    for v in values:
        mag = abs(v)
        bl = mag.bit_length()
        if bl > keep + 1:
            sig.append(mag >> (bl - keep - 1))
            sticky.append(mag & ((1 << (bl - keep - 1)) - 1) != 0)
        else:
            sig.append(mag << (keep + 1 - bl) if bl else 1 << keep)
            sticky.append(False)
        sign.append(v < 0)
        scale.append(lsb_exp + bl - 1 if bl else 0)
        zero.append(v == 0)
    out = fmt.encode_fields(sign, scale, sig, frac_in=keep, sticky=sticky, zero=zero)
    return [0 if z else int(c) for c, z in zip(out.tolist(), zero, strict=True)]


def round_fixed_int(fmt: Format, value: int, lsb_exp: int) -> int:
    """Code of ``value * 2**lsb_exp`` (a Python integer of any size), correctly rounded (+0 for zero)."""
    if value == 0:
        return 0
    mag = abs(value)
    bl = mag.bit_length()
    keep = fmt.frac_bits + 2
    if bl > keep + 1:
        sig = mag >> (bl - keep - 1)
        sticky = mag & ((1 << (bl - keep - 1)) - 1) != 0
    else:
        sig = mag << (keep + 1 - bl)
        sticky = False
    return int(fmt.encode_fields(value < 0, lsb_exp + bl - 1, sig, frac_in=keep, sticky=sticky))


def ref_simd_mac(p: SimdMacParams, a, b, mode, last, clear=None) -> list[SimdMacResult]:
    """Results of a beat sequence (arrays of one length: operand words, mode indices, last flags, and
    optional clear flags: a beat with ``clear`` drops the dot product in progress and starts anew).

    Mode indices may be any value of the ``mode_bits``-wide field; a reserved one (no format) behaves as
    the module docstring says."""
    a = [int(x) for x in np.asarray(a).tolist()]
    b = [int(x) for x in np.asarray(b).tolist()]
    mode = [int(x) for x in np.asarray(mode).tolist()]
    last = [bool(x) for x in np.asarray(last).tolist()]
    clear = [False] * len(a) if clear is None else [bool(x) for x in np.asarray(clear).tolist()]
    if not len(a) == len(b) == len(mode) == len(last) == len(clear):
        raise ValueError(f"a, b, mode, last must have one length, not {len(a)}, {len(b)}, {len(mode)}, {len(last)}")
    nmodes = len(p.modes)
    bad = [m for m in mode if not 0 <= m < 1 << p.mode_bits]
    if bad:
        raise ValueError(f"mode indices must be in [0, {(1 << p.mode_bits) - 1}], got {bad[0]}")
    wmask = (1 << p.word_bits) - 1
    if any(not 0 <= x <= wmask for x in a + b):
        raise ValueError(f"operand words must be {p.word_bits}-bit unsigned")

    # Per-beat lane products as exact integers (vectorised over beats per mode).
    nb = len(a)
    lanes_max = p.max_lanes
    prods = [[0] * lanes_max for _ in range(nb)]
    nars = [[False] * lanes_max for _ in range(nb)]  # NaR / NaN operand, or Inf times zero
    pinfs = [[False] * lanes_max for _ in range(nb)]  # +Inf product
    ninfs = [[False] * lanes_max for _ in range(nb)]  # -Inf product
    aa, bb, mm = np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64), np.array(mode)
    for i, f in enumerate(p.formats):
        rows = np.flatnonzero(mm == i)
        if rows.size == 0:
            continue
        n = f.nbits
        for lane in range(p.lanes(i)):
            ca = (aa[rows] >> np.uint64(lane * n)) & np.uint64((1 << n) - 1)
            cb = (bb[rows] >> np.uint64(lane * n)) & np.uint64((1 << n) - 1)
            da, db = f.decompose(ca), f.decompose(cb)
            shift = (da.scale + db.scale - 2 * f.scale_min).tolist()
            # Inf (sig 0: adds nothing) times a non-zero is an infinite product; Inf times zero is invalid
            zero = da.zero | db.zero
            inf = (da.inf | db.inf) & ~zero
            bad = da.nar | db.nar | ((da.inf | db.inf) & zero)
            neg = da.sign ^ db.sign
            for r, sa, sb, ng, nr, pi, ni, s in zip(rows.tolist(), da.sig.tolist(), db.sig.tolist(), neg.tolist(),
                                                    bad.tolist(), (inf & ~neg).tolist(), (inf & neg).tolist(),
                                                    shift, strict=True):
                v = ((sa * sb) << s) >> (2 * f.frac_bits)
                prods[r][lane] = -v if ng else v
                nars[r][lane] = nr
                pinfs[r][lane] = pi
                ninfs[r][lane] = ni

    out_lanes = p.out_lanes
    lo = [-(1 << (p.acc_bits(i) - 1)) for i in range(nmodes)]
    hi = [(1 << (p.acc_bits(i) - 1)) - 1 for i in range(nmodes)]
    acc = [0] * out_lanes
    ovf = [False] * out_lanes
    nar = [False] * out_lanes
    pinf = [False] * out_lanes
    ninf = [False] * out_lanes
    pending = []
    results = []
    for t in range(nb):
        if clear[t]:
            acc = [0] * out_lanes
            ovf = [False] * out_lanes
            nar = [False] * out_lanes
            pinf, ninf = [False] * out_lanes, [False] * out_lanes
        if mode[t] >= nmodes:  # a reserved index: no product, no flag; `last` emits an all-zero result
            if last[t]:
                pending.append((mode[t], (0,) * out_lanes, (False,) * out_lanes, (False,) * out_lanes,
                                (False,) * out_lanes, (False,) * out_lanes))
                acc, ovf, nar = [0] * out_lanes, [False] * out_lanes, [False] * out_lanes
                pinf, ninf = [False] * out_lanes, [False] * out_lanes
            continue
        if p.dot:
            beat = [sum(prods[t][: p.lanes(mode[t])])]
            beat_nar = [any(nars[t][: p.lanes(mode[t])])]
            beat_pinf, beat_ninf = [any(pinfs[t][: p.lanes(mode[t])])], [any(ninfs[t][: p.lanes(mode[t])])]
        else:
            beat, beat_nar = prods[t][:out_lanes], nars[t][:out_lanes]
            beat_pinf, beat_ninf = pinfs[t][:out_lanes], ninfs[t][:out_lanes]
        for lane in range(out_lanes):
            s = acc[lane] + beat[lane]
            if s > hi[mode[t]]:
                s, ovf[lane] = hi[mode[t]], True
            elif s < lo[mode[t]]:
                s, ovf[lane] = lo[mode[t]], True
            acc[lane] = s
            nar[lane] = nar[lane] or beat_nar[lane]
            pinf[lane] = pinf[lane] or beat_pinf[lane]
            ninf[lane] = ninf[lane] or beat_ninf[lane]
        if last[t]:
            pending.append((mode[t], tuple(acc), tuple(nar), tuple(ovf), tuple(pinf), tuple(ninf)))
            acc = [0] * out_lanes
            ovf = [False] * out_lanes
            nar = [False] * out_lanes
            pinf, ninf = [False] * out_lanes, [False] * out_lanes

    # Read-out: round every result lane to its mode's format, one vectorised call per format; then the special
    # cases: NaN / NaR (operands, Inf times zero, Infs of both signs, Inf in a format without), else Inf.
    codes = [[0] * out_lanes for _ in pending]
    flags = [[False] * out_lanes for _ in pending]
    for mi, f in enumerate(p.formats):
        used = 1 if p.dot else p.lanes(mi)
        idx = [(r, lane) for r, res in enumerate(pending) if res[0] == mi for lane in range(used)]
        if not idx:
            continue
        fo = p.out_fmt(mi)
        values = [pending[r][1][lane] for r, lane in idx]
        got = _round_many(fo, values, 2 * f.lsb_exp)
        for (r, lane), c in zip(idx, got, strict=True):
            _, _, nar_t, _, pinf_t, ninf_t = pending[r]
            inf = pinf_t[lane] or ninf_t[lane]
            invalid = nar_t[lane] or (pinf_t[lane] and ninf_t[lane]) or (inf and not fo.has_inf)
            if invalid:  # a format without NaR / NaN (FP4, INT: only after a mode change) keeps the sum
                c = fo.nar_code if fo.has_nar else c
            elif inf:
                c = fo.inf_code | (int(ninf_t[lane]) << (fo.nbits - 1))
            codes[r][lane] = c
            flags[r][lane] = invalid
    for (mi, acc_t, _, ovf_t, _, _), cs, fl in zip(pending, codes, flags, strict=True):
        n = p.out_fmt(mi).nbits if mi < nmodes else 0  # a reserved index's codes are all zero
        word = sum(c << (lane * n) for lane, c in enumerate(cs))
        results.append(SimdMacResult(mi, acc_t, tuple(cs), tuple(fl), ovf_t, word))
    return results
