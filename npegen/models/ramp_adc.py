"""Ramp-ADC nonlinearity (Yang et al., Nat. Commun. 2025): a ramp ADC whose pre-distorted ramp makes the
code at the comparator flip equal the quantised ``f(x)`` of the MAC value ``x``.

Package convention (normative for the RTL, the testbench and the analog twin). For an input code ``x``
(signed, ``in_bits`` wide, value ``x * in_lsb``) and ``N`` output bits, ``L = 2**N``::

    delta   = (y_hi - y_lo) / (L - 1)
    code(x) = clip(floor((f(x * in_lsb) - y_lo) / delta + 1/2), 0, L - 1)
            # float64, once, at build time, as (f - y_lo) * (L - 1) / (y_hi - y_lo) + 1/2

The integer tables built from it are what the hardware holds:

* **up** (``code`` non-decreasing in ``x``: sigmoid, tanh, hardsigmoid): thresholds
  ``T_k = min{x : code(x) >= k}`` for ``k = 1 .. L-1`` (``x_max + 1`` if no input reaches level ``k``);
  ``code(x) = #{k : x >= T_k}`` - the count of ramp steps the input is at or above.
* **down** (``code`` non-increasing): ``T_k = min{x : code(x) <= L-1-k}``; ``code(x) = L-1 - #{k : x >= T_k}``
  (the counter counts down).
* **lut** (any other ``f``: GELU, SiLU, ...): the ramp stays monotone in ``x`` and steps at every
  *breakpoint* ``b_j`` (an input where the code changes, ``code(b_j) != code(b_j - 1)``), ``j = 1 .. B``;
  a table maps the number of steps crossed to the code: ``code(x) = lut[#{j : x >= b_j}]`` with
  ``lut[c]`` = the code on segment ``c``. Breakpoints are found by evaluating ``code`` on every input
  code (``2**in_bits`` of them) and marking each change, so ``B`` may exceed ``L - 1`` (it does for GELU
  at small ``in_lsb``: the code falls, then rises).

Every input is evaluated, so the tables reproduce the formula for *every* input code by construction
(including inputs exactly on a threshold: a level reached exactly counts, round half up); the tests check
it against an independent evaluation. Where ``f`` is rational (``hardsigmoid``), an input whose value lands on
(or within float64 rounding of) a level ``k - 1/2`` is re-evaluated in exact rational arithmetic, so an exact
tie rounds half up rather than by a float64 ulp (``hardsigmoid(2) * 15 + 1/2 = 13`` exactly, but evaluates to
12.999... in float64).

The ramp "as the memristor column sees it" starts at ``offset = T_1`` (set by the bias/calibration
devices) and rises by ``steps[j] = T_{j+1} - T_j >= 0`` input codes per cycle (one ramp device each).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._checks import check_int

__all__ = ["RampADC", "RampAdcParams", "FUNCTIONS", "MODES", "RAMPS", "COLUMNS"]


def _sigmoid(x):
    from scipy.special import expit

    return expit(x)


def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _silu(x):
    from scipy.special import expit

    return x * expit(x)


#: Built-in functions: name -> (f, natural output range or None for the range over the input grid).
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[float, float] | None]] = {
    "sigmoid": (_sigmoid, (0.0, 1.0)),
    "tanh": (np.tanh, (-1.0, 1.0)),
    "hardsigmoid": (lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0), (0.0, 1.0)),
    "gelu": (_gelu, None),
    "silu": (_silu, None),
}


def _hardsigmoid_exact(x: Fraction) -> Fraction:
    return min(max(x / 6 + Fraction(1, 2), Fraction(0)), Fraction(1))


#: Built-ins with rational values: name -> f on exact fractions, used to settle exact ties (see the module notes).
_EXACT: dict[str, Callable[[Fraction], Fraction]] = {"hardsigmoid": _hardsigmoid_exact}

#: How the counter value becomes the output code.
MODES = ("up", "down", "lut")


class RampADC:
    """Bit-exact model of the ramp-ADC nonlinearity: integer thresholds, the ramp, and conversions.

    Parameters
    ----------
    fn : str or callable
        ``"sigmoid"``, ``"tanh"``, ``"hardsigmoid"``, ``"gelu"``, ``"silu"`` or a vectorised callable
        ``f(x: float64 array) -> float64 array``.
    n_bits : int
        Output code bits N, 1 to 10.
    in_bits : int
        Signed width of the MAC input code, 2 to 16; inputs are ``-2**(in_bits-1) .. 2**(in_bits-1)-1``.
    in_lsb : float
        Value of one input code step (> 0, finite).
    y_range : (float, float), optional
        ``(y_lo, y_hi)`` with ``y_lo < y_hi``; default the function's natural range ((0, 1) for sigmoid
        and hardsigmoid, (-1, 1) for tanh), else the range of ``f`` over the input codes.
    lut : bool, optional
        ``None`` (default): a code table only for non-monotone ``f``. ``False``: refuse non-monotone ``f``
        (ValueError). ``True``: use the table even for monotone ``f`` (one breakpoint per code change).

    Attributes
    ----------
    thresholds : numpy.ndarray
        int64 ramp thresholds in input codes, non-decreasing: ``L - 1`` of them (up/down) or ``B`` (lut).
    offset, steps : int, numpy.ndarray
        The ramp: first level ``thresholds[0]``, then ``steps`` (int64, >= 0) per cycle.
    cycles : int
        Conversion latency in clock cycles of :class:`npegen.hw.ramp_adc.RampAdc`: one per ramp step,
        ``len(thresholds)`` (``2**N - 1`` for up/down).
    mode : {"up", "down", "lut"}
    lut_table : numpy.ndarray or None
        The code of each segment (``len(thresholds) + 1`` entries) in lut mode.

    Raises
    ------
    TypeError, ValueError
        Invalid parameters, named with their allowed range.
    """

    def __init__(self, fn: str | Callable = "sigmoid", n_bits: int = 5, in_bits: int = 10, in_lsb: float = 1 / 64,
                 y_range: tuple[float, float] | None = None, *, lut: bool | None = None):
        if isinstance(fn, str):
            if fn not in FUNCTIONS:
                raise ValueError(f"fn must be one of {tuple(FUNCTIONS)} or a callable, not {fn!r}")
            self._fn_name = fn
            func, natural = FUNCTIONS[fn]
        elif callable(fn):
            self._fn_name = getattr(fn, "__name__", "custom")
            func, natural = fn, None
        else:
            raise TypeError(f"fn must be a function name or a callable, not {fn!r}")
        self._n_bits = check_int("n_bits", n_bits, 1, 10)
        self._in_bits = check_int("in_bits", in_bits, 2, 16)
        if isinstance(in_lsb, bool) or not isinstance(in_lsb, (int, float, np.floating, np.integer)):
            raise TypeError(f"in_lsb must be a positive finite number, not {in_lsb!r}")
        if not (math.isfinite(in_lsb) and in_lsb > 0):
            raise ValueError(f"in_lsb must be a positive finite number, not {in_lsb!r}")
        self._in_lsb = float(in_lsb)
        if lut not in (None, True, False):
            raise TypeError(f"lut must be None, True or False, not {lut!r}")

        xs = np.arange(self.x_min, self.x_max + 1, dtype=np.int64)
        with np.errstate(all="ignore"):
            fx = np.asarray(func(xs.astype(np.float64) * self._in_lsb), dtype=np.float64)
        if fx.shape != xs.shape:
            raise ValueError(f"fn must map an array of {xs.size} inputs to as many outputs, not shape {fx.shape}")
        if not np.isfinite(fx).all():
            bad = xs[~np.isfinite(fx)][0]
            raise ValueError(f"fn is not finite at input code {bad} (x = {bad * self._in_lsb})")
        if y_range is None:
            y_range = natural if natural is not None else (float(fx.min()), float(fx.max()))
            if not y_range[0] < y_range[1]:
                raise ValueError(f"fn is constant ({y_range[0]}) over the inputs: give y_range")
        try:
            lo, hi = (float(v) for v in y_range)
        except (TypeError, ValueError):
            raise TypeError(f"y_range must be two numbers (y_lo, y_hi), not {y_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"y_range must be finite with y_lo < y_hi, not {y_range!r}")
        self._y_range = (lo, hi)
        self._fx = fx
        self._table = self.formula(fx)  # the code of every input, from the convention
        if isinstance(fn, str) and fn in _EXACT:
            self._settle_ties(xs, _EXACT[fn])

        d = np.diff(self._table)
        if lut is not True and (d >= 0).all():
            self._mode = "up"
            levels = np.arange(1, self.levels)
            self._thresholds = self._first_at_least(self._table, levels)
            self._lut = None
        elif lut is not True and (d <= 0).all():
            self._mode = "down"
            levels = np.arange(1, self.levels)
            self._thresholds = self._first_at_least(self.levels - 1 - self._table, levels)
            self._lut = None
        elif lut is False:
            turn = int(np.flatnonzero(np.diff(np.sign(d[d != 0])))[0]) if (d != 0).any() else 0
            raise ValueError(f"fn {self._fn_name!r} is not monotone over the inputs (its code changes direction "
                             f"near change #{turn + 1}); allow a code lookup table with lut=None or lut=True")
        else:
            self._mode = "lut"
            breaks = np.flatnonzero(d != 0) + 1  # indices into xs where the code changes
            self._thresholds = xs[breaks] if breaks.size else np.array([self.x_max + 1], dtype=np.int64)
            self._lut = np.concatenate([self._table[:1], self._table[breaks]]).astype(np.int64)
            if not breaks.size:
                self._lut = np.concatenate([self._lut, self._lut])
        self._thresholds = self._thresholds.astype(np.int64)
        self._thresholds.setflags(write=False)
        self._table.setflags(write=False)

    def _settle_ties(self, xs: np.ndarray, exact: Callable[[Fraction], Fraction]) -> None:
        """Re-evaluate in exact arithmetic the codes of inputs whose value is within float64 rounding of a tie."""
        lo, hi = self._y_range
        w = (self._fx - lo) * (self.levels - 1) / (hi - lo) + 0.5
        near = np.flatnonzero(np.abs(w - np.rint(w)) <= 1e-9 * np.maximum(1.0, np.abs(w)))
        flo, span, lsb = Fraction(lo), Fraction(hi) - Fraction(lo), Fraction(self._in_lsb)
        for i in near:
            q = math.floor((exact(int(xs[i]) * lsb) - flo) * (self.levels - 1) / span + Fraction(1, 2))
            self._table[i] = min(max(q, 0), self.levels - 1)

    def _first_at_least(self, codes: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Smallest input code with ``codes >= level`` for each level (x_max + 1 if none); codes non-decreasing."""
        idx = np.searchsorted(codes, levels, side="left")
        return np.where(idx < codes.size, self.x_min + idx, self.x_max + 1)

    @classmethod
    def from_thresholds(cls, thresholds, n_bits: int, in_bits: int, in_lsb: float = 1.0,
                        y_range: tuple[float, float] = (0.0, 1.0)) -> RampADC:
        """An up-counting ADC from given integer thresholds ``T_1 <= ... <= T_{L-1}`` (for example measured
        from a chip); each must lie in ``[x_min, x_max + 1]``."""
        n_bits = check_int("n_bits", n_bits, 1, 10)
        in_bits = check_int("in_bits", in_bits, 2, 16)
        t = np.asarray(thresholds)
        if t.dtype.kind not in "iu":
            raise TypeError(f"thresholds must be integers, not dtype {t.dtype}")
        if t.shape != ((1 << n_bits) - 1,):
            raise ValueError(f"{n_bits}-bit conversion needs {(1 << n_bits) - 1} thresholds, not shape {t.shape}")
        lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1))
        if t.min() < lo or t.max() > hi:
            bad = int(t.min()) if t.min() < lo else int(t.max())
            raise ValueError(f"threshold {bad} is outside the input range [{lo}, {hi}] of {in_bits}-bit codes")
        if (np.diff(t) < 0).any():
            raise ValueError("thresholds must be non-decreasing (the ramp rises)")
        xs = np.arange(lo, hi, dtype=np.int64)
        codes = np.searchsorted(t, xs, side="right")
        lo_y, hi_y = y_range
        step = (hi_y - lo_y) / ((1 << n_bits) - 1)
        return cls(lambda x: lo_y + step * codes[np.rint(x / in_lsb).astype(np.int64) - lo], n_bits, in_bits,
                   in_lsb, y_range, lut=False)

    # ---- read-only parameters ------------------------------------------------------------------------

    @property
    def fn_name(self) -> str:
        return self._fn_name

    @property
    def n_bits(self) -> int:
        return self._n_bits

    @property
    def in_bits(self) -> int:
        return self._in_bits

    @property
    def in_lsb(self) -> float:
        return self._in_lsb

    @property
    def y_range(self) -> tuple[float, float]:
        return self._y_range

    @property
    def levels(self) -> int:
        """Output codes, L = 2**N."""
        return 1 << self._n_bits

    @property
    def delta(self) -> float:
        """Output step, (y_hi - y_lo) / (L - 1)."""
        return (self._y_range[1] - self._y_range[0]) / (self.levels - 1)

    @property
    def x_min(self) -> int:
        return -(1 << (self._in_bits - 1))

    @property
    def x_max(self) -> int:
        return (1 << (self._in_bits - 1)) - 1

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def thresholds(self) -> np.ndarray:
        return self._thresholds

    @property
    def offset(self) -> int:
        return int(self._thresholds[0])

    @property
    def steps(self) -> np.ndarray:
        return np.diff(self._thresholds)

    @property
    def cycles(self) -> int:
        return int(self._thresholds.size)

    def job_cycles(self, conversions: int) -> int:
        """Cycles of ``conversions`` back-to-back conversions (all columns in parallel), from the cycle the
        first ``start`` is presented to the last ``valid``, both counted.

        The estimator's ramp-ADC cycle formula (``npegen.analysis.estimator``) and the one the testbench's
        ``test_all_inputs_back_to_back`` measurement checks (``tests/analysis/test_estimator_rtl.py``).

        Parameters
        ----------
        conversions : int
            Conversions, 1 to 2**62.

        Returns
        -------
        int
            ``conversions * cycles + 2``: :attr:`cycles` per conversion (one per ramp step, so a LUT-mode ramp
            takes ``len(thresholds)``, not ``2**N - 1``), plus the edge that takes the first ``start`` and the
            cycle of the last ``valid``.
        """
        return check_int("conversions", conversions, 1, 1 << 62) * self.cycles + 2

    @property
    def lut_table(self) -> np.ndarray | None:
        return None if self._lut is None else self._lut.copy()

    @property
    def step_codes(self) -> np.ndarray:
        """The code a column holds after crossing ``c`` ramp steps, ``c = 0 .. cycles``: ``c`` (up),
        ``L-1-c`` (down) or ``lut_table[c]``. Shared by every column (the counter/LUT the comparator latches)."""
        c = np.arange(self.cycles + 1, dtype=np.int64)
        if self._mode == "up":
            return c
        if self._mode == "down":
            return self.levels - 1 - c
        return self._lut.copy()

    @property
    def table(self) -> np.ndarray:
        """The output code of every input code ``x_min .. x_max`` (int64, read-only)."""
        return self._table

    # ---- conversions ----------------------------------------------------------------------------------

    def formula(self, fx) -> np.ndarray:
        """The convention applied to values ``f(x)``: ``clip(floor((f - y_lo)/delta + 1/2), 0, L-1)``."""
        lo, hi = self._y_range
        # (f - y_lo) * (L - 1) / (y_hi - y_lo): exact at the levels a symmetric f hits (sigmoid(0) = 1/2 -> 15.5)
        q = np.floor((np.asarray(fx, dtype=np.float64) - lo) * (self.levels - 1) / (hi - lo) + 0.5)
        return np.clip(q, 0, self.levels - 1).astype(np.int64)

    def _check_codes(self, codes_in) -> np.ndarray:
        a = np.asarray(codes_in)
        if a.dtype.kind not in "iu":
            raise TypeError(f"input codes must be integers, not dtype {a.dtype}")
        if a.size and (a.min() < self.x_min or a.max() > self.x_max):
            bad = int(a.min()) if a.min() < self.x_min else int(a.max())
            raise ValueError(f"input code {bad} is outside [{self.x_min}, {self.x_max}] ({self._in_bits}-bit)")
        return a.astype(np.int64)

    def count(self, codes_in) -> np.ndarray:
        """Ramp steps at or below each input: ``#{k : x >= T_k}`` (what a per-column counter holds)."""
        return np.searchsorted(self._thresholds, self._check_codes(codes_in), side="right")

    def convert(self, codes_in) -> np.ndarray:
        """Output codes (int64, same shape) of signed integer input codes, through the integer tables."""
        return self.step_codes[self.count(codes_in)]

    def value(self, codes_out) -> np.ndarray:
        """The value each output code stands for: ``y_lo + code * delta`` (float64)."""
        c = np.asarray(codes_out)
        if c.dtype.kind not in "iu":
            raise TypeError(f"output codes must be integers, not dtype {c.dtype}")
        if c.size and (c.min() < 0 or c.max() >= self.levels):
            bad = int(c.min()) if c.min() < 0 else int(c.max())
            raise ValueError(f"output code {bad} is outside [0, {self.levels - 1}]")
        return self._y_range[0] + c.astype(np.float64) * self.delta

    def __call__(self, x) -> np.ndarray:
        """``value(convert(x))`` of real inputs ``x`` (float), rounded to the nearest input code and clipped:
        what an RNN cell sees when its nonlinearity is this ADC."""
        q = np.clip(np.rint(np.asarray(x, dtype=np.float64) / self._in_lsb), self.x_min, self.x_max)
        return self.value(self.convert(q.astype(np.int64)))

    @property
    def tag(self) -> str:
        return f"{self._fn_name}_n{self._n_bits}_i{self._in_bits}"

    def __repr__(self) -> str:
        return (f"RampADC(fn={self._fn_name!r}, n_bits={self._n_bits}, in_bits={self._in_bits}, "
                f"in_lsb={self._in_lsb!r}, y_range={self._y_range!r}) [{self._mode}, {self.cycles} cycles]")


#: How the controller produces the ramp: a threshold ROM, or the offset plus a step ROM into an accumulator.
RAMPS = ("rom", "accumulator")
#: What each column holds: a latch of the shared step code at its comparator's flips, or its own counter.
COLUMNS = ("latch", "counter")


@dataclass(frozen=True)
class RampAdcParams:
    """One design point of :class:`npegen.hw.ramp_adc.RampAdc` for a *named* function (what the CLI and the
    testbench pass around); :attr:`adc` builds the :class:`RampADC` model. A callable ``fn`` goes straight
    to ``RampAdc(RampADC(fn, ...))``.

    Parameters
    ----------
    fn : str
        One of :data:`FUNCTIONS`.
    n_bits, in_bits, in_lsb, y_range, lut
        As :class:`RampADC` (``y_range=None``: the function's default range).
    n_cols : int
        Columns converted in parallel against the one shared ramp, 1 to 256.
    ramp : {"rom", "accumulator"}
        Threshold ROM, or offset + step ROM feeding a ramp accumulator.
    column : {"latch", "counter"}
        Per column: a latch that takes the shared step code while the comparator is high, or an up-counter
        of comparator highs mapped to the code at the end.
    """

    fn: str = "sigmoid"
    n_bits: int = 5
    in_bits: int = 10
    in_lsb: float = 1 / 64
    y_range: tuple[float, float] | None = None
    lut: bool | None = None
    n_cols: int = 8
    ramp: str = "rom"
    column: str = "latch"

    def __post_init__(self) -> None:
        if not isinstance(self.fn, str):
            raise TypeError(f"fn must be a function name {tuple(FUNCTIONS)}, not {self.fn!r}")
        check_int("n_cols", self.n_cols, 1, 256)
        if self.ramp not in RAMPS:
            raise ValueError(f"ramp must be one of {RAMPS}, not {self.ramp!r}")
        if self.column not in COLUMNS:
            raise ValueError(f"column must be one of {COLUMNS}, not {self.column!r}")
        if self.y_range is not None:
            try:
                y_range = tuple(float(v) for v in self.y_range)
            except (TypeError, ValueError, OverflowError):
                raise TypeError(f"y_range must be two numbers (y_lo, y_hi), not {self.y_range!r}") from None
            object.__setattr__(self, "y_range", y_range)
        if isinstance(self.in_lsb, (int, float, np.integer, np.floating)) and not isinstance(self.in_lsb, bool):
            object.__setattr__(self, "in_lsb", float(self.in_lsb))
        self.adc  # validates the converter parameters  # noqa: B018

    @property
    def adc(self) -> RampADC:
        return RampADC(self.fn, self.n_bits, self.in_bits, self.in_lsb, self.y_range, lut=self.lut)

    @property
    def latency(self) -> int:
        """Cycles from the cycle ``start`` is taken to the one ``valid`` is high: :attr:`RampADC.cycles`."""
        return self.adc.cycles

    @property
    def tag(self) -> str:
        lut = "" if self.lut is None else ("_lut" if self.lut else "_nolut")
        return (f"{self.fn}_n{self.n_bits}_i{self.in_bits}_c{self.n_cols}_{self.ramp[:3]}_{self.column[:3]}{lut}")

    def to_env(self) -> dict[str, str]:
        return {"PARAM_FN": self.fn, "PARAM_N_BITS": str(self.n_bits), "PARAM_IN_BITS": str(self.in_bits),
                "PARAM_IN_LSB": repr(self.in_lsb), "PARAM_Y_RANGE": "" if self.y_range is None else
                ",".join(repr(v) for v in self.y_range), "PARAM_LUT": repr(self.lut),
                "PARAM_N_COLS": str(self.n_cols), "PARAM_RAMP": self.ramp, "PARAM_COLUMN": self.column}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RampAdcParams:
        env = os.environ if env is None else env
        yr = env["PARAM_Y_RANGE"]
        return cls(fn=env["PARAM_FN"], n_bits=int(env["PARAM_N_BITS"]), in_bits=int(env["PARAM_IN_BITS"]),
                   in_lsb=float(env["PARAM_IN_LSB"]), y_range=None if not yr else tuple(map(float, yr.split(","))),
                   lut={"None": None, "True": True, "False": False}[env["PARAM_LUT"]],
                   n_cols=int(env["PARAM_N_COLS"]), ramp=env["PARAM_RAMP"], column=env["PARAM_COLUMN"])
