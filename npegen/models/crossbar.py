"""Analog twin of the ramp-ADC nonlinearity: a differential memristor crossbar MAC and an in-memory ramp
ADC with device non-idealities, calibration and INL/DNL measurement (numpy + scipy only; no HDL imports).

The bit-exact model is :class:`npegen.models.ramp_adc.RampADC`; this module is what a chip would do with
it (Yang et al., Nat. Commun. 16, 2025). Units throughout:

* conductances in µS, voltages in V;
* analog values in **input codes** of the RampADC: a column current ``I`` is reported as
  ``I / (kappa * v_read_nominal)``, so an ideal, noise-free array at the nominal read voltage returns
  exactly ``x / in_lsb`` for an analog value ``x``.

Crossbar MAC (:class:`CrossbarMAC`)
-----------------------------------
Each weight ``w`` is a differential pair: ``G+ = g_min + max(w, 0)*gain``, ``G- = g_min + max(-w, 0)*gain``,
``gain = (g_max - g_min) / w_max`` µS per weight unit, so ``G+ - G- = w*gain``. Inputs are row voltages
``u*v_read`` with ``|u| <= u_max`` (the DAC saturates beyond). Column ``j`` returns, in input codes::

    mac_j = g * (sum_i u_i (G+_ij - G-_ij) / (gain * in_lsb) + n_j),   g = v_read / v_read_nominal

with ``n_j ~ N(0, (read_noise * fullscale_j)**2)`` drawn per read and ``fullscale_j = u_max * sum_i |w_ij| /
in_lsb`` (the largest output the column can reach). Non-idealities, each off by default:

* programming error, per device: ``sigma_G = prog_sigma * max(-0.009107*G + 4.782321, 0)`` µS (CrossSim
  ``RRAMMilo``, measured; ``prog_sigma = 1`` is that device) combined in quadrature with ``prog_rel * G``;
* stuck-at-OFF (``G = g_min``) and stuck-at-ON (``G = g_max``) devices with probabilities ``p_stuck_off``,
  ``p_stuck_on``, drawn once at programming;
* drift ``G(t) = G0 * ((t + t0)/t0)**(-nu)``, ``t0 = 20 s`` (aihwkit PCM form), ``nu ~ N(drift_nu,
  drift_nu_std)`` per device, clipped at 0. The default ``nu = 0.05`` is **assumed** (aihwkit's PCM lower
  clip; the paper gives no ReRAM drift exponent);
* the read-voltage factor ``g`` scales every column current.

Defaults follow CrossSim ``RRAMMilo``: ``g_max = 225 µS``, on/off ratio 4.5, so ``g_min = 50 µS``.

In-memory ramp ADC (:class:`AnalogRampADC`)
-------------------------------------------
Each of ``n_columns`` ramp columns realises the thresholds ``T_k`` of a RampADC (ramp cycle
``k = 1 .. K``, ``K = ramp.cycles``) as analog ramp levels placed **half a code below** the thresholds::

    L_k = T_k - 1/2 = (T_1 - 1/2) + sum_{j=2..k} (T_j - T_{j-1})

* the offset ``T_1 - 1/2`` is held by *bias devices* (on the + or - side, each at most ``codes_per_device``
  codes), active from cycle 1;
* each step ``T_j - T_{j-1}`` by one *ramp device* (a thermometer row switched on at cycle ``j``), or, when
  the step exceeds ``codes_per_device``, split evenly over ``ceil(step / codes_per_device)`` devices
  (**step splitting**; :attr:`AnalogRampADC.device_counts` reports the counts);
* plus ``n_cal = 5`` *calibration devices* per column (Fig. 3a of the paper: 32 ramp + 5 calibration
  memristors per 5-bit column), unused until :meth:`AnalogRampADC.calibrate` programs them.

A zero step keeps its device (programmed to ``g_min``). The default ``codes_per_device`` is the largest step
between in-range thresholds, i.e. one device per step as on the chip (``2**N - 1`` ramp devices plus the bias
devices). Small steps then use a small fraction of the device range (at N = 8, 1-code steps against ~70
codes per device), so the absolute programming error dominates; a smaller ``codes_per_device`` trades
devices for accuracy.

A device realising ``s`` codes is programmed to ``G = g_min + s * kappa`` with ``kappa = (g_max - g_min) /
codes_per_device`` µS per input code; its contribution is ``(G - g_min) / kappa`` codes, the ``g_min``
baseline being removed by a reference (ideal replica, drifting with the mean ``nu``) [assumed]. The ramp
rows are driven from the same ``V_read`` as the MAC rows, at a fixed ratio, so ``kappa`` of the ramp may
differ from the MAC's while both scale with ``g`` [assumed: reconstruction, see ramp_adc.md section 3].

Conversion (per column; ``delta`` the comparator's static input-referred offset, ``n`` its noise, one
draw per conversion)::

    in-memory ramp:   count = #{leading k : clip(x, x_min, x_max) + (n - delta)/g  >  L~_k}
    fixed reference:  count = #{leading k : clip(g*x, x_min, x_max) + n - delta    >  L~_k}
    code = ramp.step_codes[count]

``x`` is the column signal in input codes *at the nominal read voltage* (e.g. :meth:`CrossbarMAC.mac` at
nominal); the in-memory ramp and the signal share ``V_read`` so ``g`` cancels except against the
comparator terms. The fixed-reference variant models a conventional ADC whose ramp comes from a fixed
reference voltage (same devices and errors, but its levels do not scale with ``V_read``), so its codes move
with ``V_read``. The input saturates at the ramp's span (``clip``); the counter latches at the first flip, so
a non-monotone ramp acts as its running maximum.

**Integer robustness and ties.** With the half-code placement, for every integer input ``x``:
``x >= T_k  <=>  x > T_k - 1/2``, so the zero-noise twin reproduces ``RampADC.convert`` exactly. For a real
input ``x`` it equals ``RampADC.convert(ceil(x - 1/2))``: that is ``RampADC.convert(rint(x))`` (what
``RampADC.__call__`` does) everywhere except exact half-integer ties, which the comparator's strict ``>``
rounds *down* (``rint`` rounds them to even). Ideal levels are computed exactly (integers minus 1/2,
exact in float64) and device errors are added as deviations from their targets, so a zero-error ramp is
bit-exact at any ``g``.

**Calibration** (:meth:`AnalogRampADC.calibrate`, our reconstruction of the paper's bias calibration
[assumed]): measure every in-range threshold of each column against known reference inputs (a sweep on a
``1/sub``-code grid, ``reads`` conversions per point, 50 % points from the code histogram, at nominal
``V_read``; this includes the comparator offset), then choose a piecewise-constant level correction with at
most ``n_cal`` steps that minimises the squared threshold error in output LSB (errors divided by ``w_k``, see
INL below; exact dynamic programming) and program one calibration device per step:

* ``mode="piecewise"`` (default): each calibration device is a thermometer row switched on from a chosen
  ramp cycle (its *onset*; cycle 1 = a plain offset) with a signed trim. Five devices can remove the
  column offset and re-insert up to four lost steps (stuck-at-OFF ramp devices);
* ``mode="offset"``: all ``n_cal`` devices in parallel form one per-column offset (bias calibration only).

Stuck calibration devices are found by program-verify and left unused (their rows are not driven); the fit
then has fewer steps.

What is trimmed: per calibration device, its side (+/-), its onset cycle and its conductance
``g_min + trim * q_cal`` with the integer trim in ``[0, cal_levels - 1]`` and the calibration-device LSB
``q_cal = (g_max - g_min) / (cal_levels - 1)`` µS = ``codes_per_device / (cal_levels - 1)`` input codes.
The devices are then programmed with the same programming-error and fault model, with program-verify
(re-programmed, a fresh draw each time, until within one ``q_cal`` of the target; at most ``tries``).

**INL/DNL** (:func:`linearity`): thresholds are measured as above and compared with the ideal positions
``T_k - 1/2``. ``INL_k = (t^_k - (T_k - 1/2)) / w_k`` in output LSB, ``w_k`` the ideal local code width
(mean of the two codes adjacent to threshold ``k``, at least 1 input code); the same error in input codes
is also returned. ``DNL_c = (t^_{c+1} - t^_c) / (T_{c+1} - T_c) - 1`` for every code ``c`` whose ideal width is
non-zero and whose two thresholds are measurable (``x_min < T <= x_max``).

Cost: a conversion is one ``searchsorted`` per column (``O(log K)``); the hardware takes ``ramp.cycles``
clock cycles per conversion (one ramp step per cycle) for all columns in parallel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_int
from .ramp_adc import RampADC

__all__ = [
    "CrossbarMAC",
    "AnalogRampADC",
    "CalibrationResult",
    "Linearity",
    "milo_sigma",
    "drift_factor",
    "measure_thresholds",
    "linearity",
    "code_error",
    "DRIFT_T0",
    "CAL_MODES",
]

#: Drift reference time t0 in seconds (aihwkit PCM drift model).
DRIFT_T0 = 20.0

#: Calibration modes of :meth:`AnalogRampADC.calibrate`.
CAL_MODES = ("piecewise", "offset")

_OK, _OFF, _ON = 0, 1, 2


# ---- validation helpers ---------------------------------------------------------------------------------

def _check_float(name: str, value: object, lo: float, hi: float, *, lo_open: bool = False,
                 hi_open: bool = False) -> float:
    """``value`` as a float if it is a finite real number in the range (bools rejected)."""
    lb = "(" if lo_open else "["
    rb = ")" if hi_open else "]"
    msg = f"{name} must be a number in {lb}{lo}, {hi}{rb}, not {value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(msg)
    v = float(value)
    if math.isnan(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
        raise ValueError(msg)
    return v


def _make_rng(seed: object) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer or a numpy.random.Generator, not {seed!r}")
    return np.random.default_rng(int(seed))


def milo_sigma(g) -> np.ndarray:
    """Programming-error sigma (µS) of CrossSim's ``RRAMMilo`` at target conductance ``g`` (µS):
    ``max(-0.009107*g + 4.782321, 0)``."""
    return np.maximum(-0.009107 * np.asarray(g, dtype=np.float64) + 4.782321, 0.0)


def drift_factor(t: float, nu) -> np.ndarray:
    """``((t + t0)/t0)**(-nu)`` with ``t0 = 20 s``; exactly 1.0 at ``t = 0``."""
    return np.power((t + DRIFT_T0) / DRIFT_T0, -np.asarray(nu, dtype=np.float64))


@dataclass(frozen=True)
class _DeviceModel:
    """The shared device non-idealities (validated by the owners)."""

    g_min: float
    g_max: float
    prog_sigma: float
    prog_rel: float
    p_stuck_off: float
    p_stuck_on: float
    drift_t: float
    drift_nu: float
    drift_nu_std: float

    def faults(self, shape, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(shape)
        f = np.full(shape, _OK, dtype=np.int8)
        f[u < self.p_stuck_off] = _OFF
        f[(u >= self.p_stuck_off) & (u < self.p_stuck_off + self.p_stuck_on)] = _ON
        return f

    def nus(self, shape, rng: np.random.Generator) -> np.ndarray:
        if self.drift_nu_std > 0:
            return np.maximum(rng.normal(self.drift_nu, self.drift_nu_std, shape), 0.0)
        return np.full(shape, self.drift_nu)

    def program(self, target: np.ndarray, faults: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Programmed conductance (µS, before drift): target plus programming error, stuck devices fixed."""
        target = np.asarray(target, dtype=np.float64)
        g = target.copy()
        if self.prog_sigma > 0 or self.prog_rel > 0:
            sigma = np.hypot(self.prog_sigma * milo_sigma(target), self.prog_rel * target)
            g = np.maximum(target + sigma * rng.standard_normal(target.shape), 0.0)
        g = np.where(faults == _OFF, self.g_min, g)
        return np.where(faults == _ON, self.g_max, g)

    def drifted(self, g: np.ndarray, nu: np.ndarray) -> np.ndarray:
        return g if self.drift_t == 0 else g * drift_factor(self.drift_t, nu)

    @property
    def g_ref(self) -> float:
        """The g_min baseline the reference subtracts (drifting with the mean exponent)."""
        return self.g_min if self.drift_t == 0 else self.g_min * float(drift_factor(self.drift_t, self.drift_nu))


def _device_model(*, g_min, g_max, prog_sigma, prog_rel, p_stuck_off, p_stuck_on, drift_t, drift_nu,
                  drift_nu_std) -> _DeviceModel:
    g_max = _check_float("g_max", g_max, 0.0, 1e6, lo_open=True)
    g_min = _check_float("g_min", g_min, 0.0, g_max, hi_open=True)
    p_off = _check_float("p_stuck_off", p_stuck_off, 0.0, 1.0)
    p_on = _check_float("p_stuck_on", p_stuck_on, 0.0, 1.0 - p_off)
    return _DeviceModel(
        g_min=g_min, g_max=g_max,
        prog_sigma=_check_float("prog_sigma", prog_sigma, 0.0, 100.0),
        prog_rel=_check_float("prog_rel", prog_rel, 0.0, 10.0),
        p_stuck_off=p_off, p_stuck_on=p_on,
        drift_t=_check_float("drift_t", drift_t, 0.0, 1e12),
        drift_nu=_check_float("drift_nu", drift_nu, 0.0, 1.0),
        drift_nu_std=_check_float("drift_nu_std", drift_nu_std, 0.0, 1.0),
    )


def _g_factor(v_read: object, v_nom: float) -> float:
    if v_read is None:
        return 1.0
    return _check_float("v_read", v_read, 0.0, 100.0, lo_open=True) / v_nom


# ---- crossbar MAC ---------------------------------------------------------------------------------------

class CrossbarMAC:
    """Differential memristor crossbar computing ``u @ W`` in RampADC input codes, with device errors.

    Parameters
    ----------
    weights : array_like
        ``W[n_in, n_out]``, finite floats (rows are inputs, columns outputs), not all zero.
    in_lsb : float
        Analog value of one input code of the ADC the columns feed (> 0), default 1/64.
    g_min, g_max : float
        Device conductance range in µS, ``0 <= g_min < g_max``; default 50 and 225 (CrossSim RRAMMilo).
    w_max : float, optional
        Weight mapped to ``g_max - g_min``; default ``max |W|``. Larger weights are clipped (> 0).
    u_max : float
        Input full scale; inputs are clipped to ``[-u_max, u_max]`` (> 0, default 1).
    v_read_nominal : float
        Nominal read voltage in V, (0, 10], default 0.2.
    prog_sigma : float
        Multiple of the RRAMMilo programming-error sigma, [0, 100]; 0 (default) = none, 1 = measured device.
    prog_rel : float
        Relative programming-error sigma ``prog_rel * G``, [0, 10], default 0.
    read_noise : float
        Per-read Gaussian output noise as a fraction of the column full scale, [0, 10], default 0.
    p_stuck_off, p_stuck_on : float
        Fractions of stuck-at-OFF (``g_min``) and stuck-at-ON (``g_max``) devices, each in [0, 1] with a sum
        <= 1; default 0.
    drift_t : float
        Seconds since programming for conductance drift, [0, 1e12]; 0 (default) = no drift.
    drift_nu, drift_nu_std : float
        Drift exponent mean (default 0.05, assumed) and per-device spread (default 0), each in [0, 1].
    seed : int or numpy.random.Generator
        Seeds programming (errors and faults, drawn here) and the per-read noise (drawn per call).

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or out of range (the message names the value and the range).

    Notes
    -----
    One array read per input vector (all columns in parallel); the numpy cost is ``O(n_in * n_out)`` per
    vector.
    """

    def __init__(self, weights, *, in_lsb: float = 1 / 64, g_min: float = 50.0, g_max: float = 225.0,
                 w_max: float | None = None, u_max: float = 1.0, v_read_nominal: float = 0.2,
                 prog_sigma: float = 0.0, prog_rel: float = 0.0, read_noise: float = 0.0,
                 p_stuck_off: float = 0.0, p_stuck_on: float = 0.0, drift_t: float = 0.0,
                 drift_nu: float = 0.05, drift_nu_std: float = 0.0, seed: int | np.random.Generator = 0):
        w = np.asarray(weights)
        if w.dtype.kind not in "iuf":
            raise TypeError(f"weights must be a real numeric array, not dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"weights must be a non-empty 2-D array [n_in, n_out], not shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("weights must be finite")
        self._in_lsb = _check_float("in_lsb", in_lsb, 0.0, 1e6, lo_open=True)
        self._dev = _device_model(g_min=g_min, g_max=g_max, prog_sigma=prog_sigma, prog_rel=prog_rel,
                                  p_stuck_off=p_stuck_off, p_stuck_on=p_stuck_on, drift_t=drift_t,
                                  drift_nu=drift_nu, drift_nu_std=drift_nu_std)
        amax = float(np.abs(w).max())
        if w_max is None:
            if amax == 0:
                raise ValueError("weights are all zero: give w_max")
            w_max = amax
        self._w_max = _check_float("w_max", w_max, 0.0, 1e12, lo_open=True)
        self._u_max = _check_float("u_max", u_max, 0.0, 1e6, lo_open=True)
        self._v_nom = _check_float("v_read_nominal", v_read_nominal, 0.0, 10.0, lo_open=True)
        self._read_noise = _check_float("read_noise", read_noise, 0.0, 10.0)
        self._rng = _make_rng(seed)

        self._w = np.clip(w, -self._w_max, self._w_max)
        self._w.setflags(write=False)
        d = self._dev
        self._gain = (d.g_max - d.g_min) / self._w_max
        gp_t = d.g_min + np.maximum(self._w, 0.0) * self._gain
        gm_t = d.g_min + np.maximum(-self._w, 0.0) * self._gain
        faults = d.faults((2,) + w.shape, self._rng)
        nus = d.nus((2,) + w.shape, self._rng)
        g = d.program(np.stack([gp_t, gm_t]), faults, self._rng)
        g = d.drifted(g, nus)
        self._faults = faults
        self._g_plus, self._g_minus = g[0], g[1]
        self._w_eff = (self._g_plus - self._g_minus) / self._gain
        exact = (faults == _OK).all() and d.prog_sigma == 0 and d.prog_rel == 0 and d.drift_t == 0
        if exact:  # bit-exact: no rounding through conductances
            self._w_eff = self._w.copy()
        for a in (self._g_plus, self._g_minus, self._w_eff, self._faults):
            a.setflags(write=False)
        self._fullscale = self._u_max * np.abs(self._w).sum(axis=0) / self._in_lsb
        self._fullscale.setflags(write=False)

    # ---- read-only properties ----------------------------------------------------------------------

    @property
    def weights(self) -> np.ndarray:
        """Target weights ``[n_in, n_out]`` (clipped to ``w_max``)."""
        return self._w

    @property
    def effective_weights(self) -> np.ndarray:
        """Weights the programmed array holds: ``(G+ - G-) / gain``."""
        return self._w_eff

    @property
    def g_plus(self) -> np.ndarray:
        """Programmed (and drifted) conductances of the + devices, µS."""
        return self._g_plus

    @property
    def g_minus(self) -> np.ndarray:
        return self._g_minus

    @property
    def faults(self) -> np.ndarray:
        """int8 ``[2, n_in, n_out]`` (+ and - device): 0 ok, 1 stuck-at-OFF, 2 stuck-at-ON."""
        return self._faults

    @property
    def shape(self) -> tuple[int, int]:
        return self._w.shape

    @property
    def gain(self) -> float:
        """µS per weight unit: ``(g_max - g_min) / w_max``."""
        return self._gain

    @property
    def kappa(self) -> float:
        """µS per input code (at unit input): ``gain * in_lsb``."""
        return self._gain * self._in_lsb

    @property
    def in_lsb(self) -> float:
        return self._in_lsb

    @property
    def w_max(self) -> float:
        return self._w_max

    @property
    def u_max(self) -> float:
        return self._u_max

    @property
    def v_read_nominal(self) -> float:
        return self._v_nom

    @property
    def read_noise(self) -> float:
        return self._read_noise

    @property
    def fullscale(self) -> np.ndarray:
        """Per-column full scale in input codes, ``u_max * sum_i |w_ij| / in_lsb`` (read-noise reference)."""
        return self._fullscale

    @property
    def g_min(self) -> float:
        return self._dev.g_min

    @property
    def g_max(self) -> float:
        return self._dev.g_max

    # ---- computation --------------------------------------------------------------------------------

    def ideal(self, u) -> np.ndarray:
        """``u @ W / in_lsb`` for clipped inputs (what a perfect array returns at nominal V_read)."""
        u = self._inputs(u)
        return (u @ self._w) / self._in_lsb

    def mac(self, u, *, v_read: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Column outputs in input codes (float64, shape ``(..., n_out)``) for inputs ``u[..., n_in]``.

        Parameters
        ----------
        u : array_like
            Inputs, clipped to ``[-u_max, u_max]``.
        v_read : float, optional
            Read voltage; the outputs scale by ``v_read / v_read_nominal``. Default nominal.
        rng : numpy.random.Generator, optional
            Generator for the read noise (default: the array's own, seeded at construction).
        """
        u = self._inputs(u)
        g = _g_factor(v_read, self._v_nom)
        out = (u @ self._w_eff) / self._in_lsb
        if self._read_noise > 0:
            r = self._rng if rng is None else rng
            out = out + r.standard_normal(out.shape) * (self._read_noise * self._fullscale)
        return out if g == 1.0 else g * out

    def _inputs(self, u) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        if u.ndim == 0 or u.shape[-1] != self._w.shape[0]:
            raise ValueError(f"inputs must have a last axis of {self._w.shape[0]} (n_in), not shape {u.shape}")
        if not np.isfinite(u).all():
            raise ValueError("inputs must be finite")
        return np.clip(u, -self._u_max, self._u_max)

    def __repr__(self) -> str:
        d = self._dev
        return (f"CrossbarMAC({self._w.shape[0]}x{self._w.shape[1]}, g=[{d.g_min}, {d.g_max}] µS, "
                f"w_max={self._w_max:.4g}, prog_sigma={d.prog_sigma}, read_noise={self._read_noise}, "
                f"p_stuck_off={d.p_stuck_off}, p_stuck_on={d.p_stuck_on})")


# ---- in-memory ramp ADC ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CalibrationResult:
    """What :meth:`AnalogRampADC.calibrate` did, per column.

    Attributes
    ----------
    mode : str
        ``"piecewise"`` or ``"offset"``.
    onsets : numpy.ndarray
        int ``[n_columns, n_cal]``: ramp cycle (1-based) from which each calibration device is on;
        0 = device unused.
    trims : numpy.ndarray
        int ``[n_columns, n_cal]``: signed trim in calibration-device LSB (``q_cal``); the sign is the side.
    q_cal : float
        Calibration-device LSB in input codes.
    rms_before, rms_after, max_before, max_after : numpy.ndarray
        Per column, RMS and max |INL| of the measured in-range thresholds in output LSB (the error divided by
        the local code width, the quantity the fit minimises) before and after (after = re-measured when
        ``verify``, else NaN).
    """

    mode: str
    onsets: np.ndarray
    trims: np.ndarray
    q_cal: float
    rms_before: np.ndarray
    rms_after: np.ndarray
    max_before: np.ndarray
    max_after: np.ndarray


class AnalogRampADC:
    """Analog twin of a :class:`RampADC`: an in-memory ramp per column, comparator, counter, calibration.

    Parameters
    ----------
    ramp : RampADC
        The bit-exact ADC whose thresholds the ramp realises (any mode: up, down or lut).
    n_columns : int
        Independent ramp columns (each with its own devices, comparator and calibration), 1 to 65536.
        Inputs to :meth:`convert` have a last axis of this length (any shape when 1).
    g_min, g_max : float
        Device conductance range in µS, ``0 <= g_min < g_max``; default 50, 225 (CrossSim RRAMMilo).
    codes_per_device : float, optional
        Input codes one device spans at ``g_max`` (sets ``kappa = (g_max - g_min) / codes_per_device``); steps
        and offsets above it are split over several devices. Default: the largest step between in-range
        thresholds (one device per step, as on the chip), in [0.5, 2**16].
    prog_sigma, prog_rel, p_stuck_off, p_stuck_on, drift_t, drift_nu, drift_nu_std
        Device non-idealities of the ramp, bias and calibration devices, as in :class:`CrossbarMAC`.
    comparator_offset : float
        Sigma of the static per-column comparator offset, input codes at nominal V_read, [0, 1e4]; default 0.
    comparator_noise : float
        Sigma of the comparator noise, one draw per conversion, input codes, [0, 1e4]; default 0.
    n_cal : int
        Calibration devices per column, 0 to 64; default 5 (the paper).
    cal_levels : int
        Programmable levels of a calibration device, 2 to 4096; default 64.
    v_read_nominal : float
        Nominal read voltage in V, (0, 10], default 0.2.
    fixed_reference : bool
        ``False`` (default): in-memory ramp, scales with V_read like the signal. ``True``: the ramp levels
        come from a fixed reference and do not scale.
    seed : int or numpy.random.Generator
        Seeds device programming, comparator offsets (drawn here), calibration and per-conversion noise.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or out of range (the message names the value and the range).

    Notes
    -----
    Latency: ``ramp.cycles`` clock cycles per conversion (``2**N - 1`` for up/down), all columns in
    parallel; throughput ``n_columns / (cycles * T_clk)`` conversions per second.
    """

    def __init__(self, ramp: RampADC, *, n_columns: int = 1, g_min: float = 50.0, g_max: float = 225.0,
                 codes_per_device: float | None = None, prog_sigma: float = 0.0, prog_rel: float = 0.0,
                 p_stuck_off: float = 0.0, p_stuck_on: float = 0.0, drift_t: float = 0.0,
                 drift_nu: float = 0.05, drift_nu_std: float = 0.0, comparator_offset: float = 0.0,
                 comparator_noise: float = 0.0, n_cal: int = 5, cal_levels: int = 64,
                 v_read_nominal: float = 0.2, fixed_reference: bool = False,
                 seed: int | np.random.Generator = 0):
        if not isinstance(ramp, RampADC):
            raise TypeError(f"ramp must be a RampADC, not {type(ramp).__name__}")
        self._ramp = ramp
        self._C = check_int("n_columns", n_columns, 1, 1 << 16)
        self._dev = _device_model(g_min=g_min, g_max=g_max, prog_sigma=prog_sigma, prog_rel=prog_rel,
                                  p_stuck_off=p_stuck_off, p_stuck_on=p_stuck_on, drift_t=drift_t,
                                  drift_nu=drift_nu, drift_nu_std=drift_nu_std)
        self._cmp_offset = _check_float("comparator_offset", comparator_offset, 0.0, 1e4)
        self._cmp_noise = _check_float("comparator_noise", comparator_noise, 0.0, 1e4)
        self._n_cal = check_int("n_cal", n_cal, 0, 64)
        self._cal_levels = check_int("cal_levels", cal_levels, 2, 4096)
        self._v_nom = _check_float("v_read_nominal", v_read_nominal, 0.0, 10.0, lo_open=True)
        if not isinstance(fixed_reference, (bool, np.bool_)):
            raise TypeError(f"fixed_reference must be True or False, not {fixed_reference!r}")
        self._fixed = bool(fixed_reference)
        self._rng = _make_rng(seed)

        t = ramp.thresholds.astype(np.int64)
        self._K = int(t.size)
        self._ideal = t.astype(np.float64) - 0.5  # exact
        self._ideal.setflags(write=False)
        self._measurable = (t > ramp.x_min) & (t <= ramp.x_max)
        steps = np.diff(t)
        if codes_per_device is None:  # the largest step between in-range thresholds (else any step, else 1)
            s_in = np.diff(t[self._measurable])
            codes_per_device = float(max(s_in.max() if s_in.size else (steps.max() if steps.size else 1), 1))
        self._cpd = _check_float("codes_per_device", codes_per_device, 0.5, 65536.0)
        self._kappa = (self._dev.g_max - self._dev.g_min) / self._cpd

        # Device table (shared by all columns): onset level index (0-based), sign, target contribution (codes).
        onset, sign, share, kind = [], [], [], []
        off = float(self._ideal[0])
        nb = max(1, math.ceil(abs(off) / self._cpd)) if off != 0 else 0
        for _ in range(nb):
            onset.append(0)
            sign.append(1.0 if off > 0 else -1.0)
            share.append(abs(off) / nb)
            kind.append(0)
        for j, s in enumerate(steps, start=1):
            nd = max(1, math.ceil(s / self._cpd))
            for _ in range(nd):
                onset.append(j)
                sign.append(1.0)
                share.append(float(s) / nd)
                kind.append(1)
        self._onset = np.array(onset, dtype=np.int64)
        self._sign = np.array(sign)
        self._kind = np.array(kind, dtype=np.int8)
        self._target = self._dev.g_min + np.array(share) * self._kappa
        D = self._onset.size
        self._faults = self._dev.faults((self._C, D), self._rng)
        self._nu = self._dev.nus((self._C, D), self._rng)
        g = self._dev.drifted(self._dev.program(np.broadcast_to(self._target, (self._C, D)), self._faults,
                                                self._rng), self._nu)
        self._g = g
        # Deviation of each device's contribution from its target, in codes (exactly 0 for a perfect device).
        err = self._sign * ((g - self._dev.g_ref) - (self._target - self._dev.g_min)) / self._kappa
        lev_err = np.zeros((self._C, self._K))
        np.add.at(lev_err, (slice(None), self._onset), err)
        self._ramp_err = np.cumsum(lev_err, axis=1)
        self._cmp_delta = (self._rng.normal(0.0, self._cmp_offset, self._C) if self._cmp_offset > 0
                           else np.zeros(self._C))
        self._cal_faults = self._dev.faults((self._C, self._n_cal), self._rng)
        self._cal_nu = self._dev.nus((self._C, self._n_cal), self._rng)
        self._cal_corr = np.zeros((self._C, self._K))
        self._cal: CalibrationResult | None = None
        self._update_levels()

    # ---- read-only properties ----------------------------------------------------------------------

    @property
    def ramp(self) -> RampADC:
        return self._ramp

    @property
    def n_columns(self) -> int:
        return self._C

    @property
    def cycles(self) -> int:
        """Clock cycles per conversion (``ramp.cycles``)."""
        return self._K

    @property
    def codes_per_device(self) -> float:
        return self._cpd

    @property
    def kappa(self) -> float:
        """Ramp conductance per input code, µS: ``(g_max - g_min) / codes_per_device``."""
        return self._kappa

    @property
    def q_cal(self) -> float:
        """Calibration-device LSB in input codes: ``codes_per_device / (cal_levels - 1)``."""
        return self._cpd / (self._cal_levels - 1)

    @property
    def device_counts(self) -> dict[str, int]:
        """Devices per column: ``bias``, ``ramp`` (incl. split steps), ``cal``, ``total``; and ``split_steps``,
        the number of ramp steps that needed more than one device."""
        nb = int((self._kind == 0).sum())
        nr = int((self._kind == 1).sum())
        ons = self._onset[self._kind == 1]
        split = int((np.bincount(ons, minlength=self._K) > 1).sum())
        return {"bias": nb, "ramp": nr, "cal": self._n_cal, "total": nb + nr + self._n_cal, "split_steps": split}

    @property
    def device_onsets(self) -> np.ndarray:
        """Ramp cycle (1-based) from which each bias/ramp device is on (bias devices: 1)."""
        return self._onset + 1

    @property
    def device_targets(self) -> np.ndarray:
        """Target conductance (µS) of each bias/ramp device."""
        return self._target

    @property
    def conductances(self) -> np.ndarray:
        """Programmed (drifted) conductances ``[n_columns, n_devices]`` of the bias/ramp devices, µS."""
        return self._g

    @property
    def faults(self) -> np.ndarray:
        """int8 ``[n_columns, n_devices]``: 0 ok, 1 stuck-at-OFF, 2 stuck-at-ON (bias/ramp devices)."""
        return self._faults

    @property
    def comparator_offsets(self) -> np.ndarray:
        """Static comparator offsets per column, input codes at nominal V_read."""
        return self._cmp_delta.copy()

    @property
    def comparator_noise(self) -> float:
        return self._cmp_noise

    @property
    def fixed_reference(self) -> bool:
        return self._fixed

    @property
    def v_read_nominal(self) -> float:
        return self._v_nom

    @property
    def n_cal(self) -> int:
        return self._n_cal

    @property
    def cal_levels(self) -> int:
        return self._cal_levels

    @property
    def calibration(self) -> CalibrationResult | None:
        """The last calibration, or None when uncalibrated."""
        return self._cal

    @property
    def ideal_levels(self) -> np.ndarray:
        """``T_k - 1/2`` for ``k = 1 .. K`` (input codes)."""
        return self._ideal

    @property
    def measurable(self) -> np.ndarray:
        """Which thresholds lie inside the input range (``x_min < T_k <= x_max``)."""
        return self._measurable

    def levels(self) -> np.ndarray:
        """Ramp levels ``[n_columns, K]`` in input codes at nominal V_read, calibration included, comparator
        offset excluded (a copy)."""
        return self._ideal + self._ramp_err + self._cal_corr

    # ---- conversion ----------------------------------------------------------------------------------

    def _update_levels(self) -> None:
        lev = self._ideal + self._ramp_err + self._cal_corr
        self._eff = np.maximum.accumulate(lev, axis=1)  # latch at the first flip

    def _columns(self, x) -> tuple[np.ndarray, tuple[int, ...]]:
        x = np.asarray(x, dtype=np.float64)
        if self._C == 1:
            return x.reshape(-1, 1), x.shape
        if x.ndim == 0 or x.shape[-1] != self._C:
            raise ValueError(f"inputs must have a last axis of {self._C} (n_columns), not shape {x.shape}")
        return x.reshape(-1, self._C), x.shape

    def count(self, x, *, v_read: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Ramp steps counted before the comparator flips (int64, shape of ``x``).

        Parameters
        ----------
        x : array_like
            Column signals in input codes at nominal V_read (real; integers are exact). Last axis =
            columns when ``n_columns > 1``.
        v_read : float, optional
            Read voltage (default nominal); scales the signal, and the ramp unless ``fixed_reference``.
        rng : numpy.random.Generator, optional
            Generator for the comparator noise (default: the ADC's own).
        """
        flat, shape = self._columns(x)
        if not np.isfinite(flat).all():
            raise ValueError("inputs must be finite")
        g = _g_factor(v_read, self._v_nom)
        lo, hi = self._ramp.x_min, self._ramp.x_max
        if self._fixed:
            v = np.clip(flat * g, lo, hi) if g != 1.0 else np.clip(flat, lo, hi)
            scale = 1.0
        else:
            v = np.clip(flat, lo, hi)
            scale = 1.0 / g
        if self._cmp_noise > 0:
            r = self._rng if rng is None else rng
            v = v + r.standard_normal(v.shape) * (self._cmp_noise * scale)
        if self._cmp_offset > 0:
            v = v - self._cmp_delta * scale
        out = np.empty(v.shape, dtype=np.int64)
        for c in range(self._C):
            out[:, c] = np.searchsorted(self._eff[c], v[:, c], side="left")
        return out.reshape(shape)

    def convert(self, x, *, v_read: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Output codes (int64, shape of ``x``): ``ramp.step_codes[count(x)]``. See :meth:`count`."""
        return self._ramp.step_codes[self.count(x, v_read=v_read, rng=rng)]

    def __call__(self, z, *, v_read: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """``ramp.value(convert(z / in_lsb))`` of real analog values ``z``: the nonlinearity an RNN cell sees
        (the twin of ``RampADC.__call__``; half-code ties round down, see the module notes)."""
        z = np.asarray(z, dtype=np.float64)
        return self._ramp.value(self.convert(z / self._ramp.in_lsb, v_read=v_read, rng=rng))

    # ---- calibration ---------------------------------------------------------------------------------

    def reset_calibration(self) -> None:
        """Switch the calibration devices off (the uncalibrated ramp)."""
        self._cal_corr = np.zeros((self._C, self._K))
        self._cal = None
        self._update_levels()

    def calibrate(self, *, mode: str = "piecewise", reads: int = 4, sub: int = 8, tries: int = 10,
                  verify: bool = True, rng: np.random.Generator | None = None) -> CalibrationResult:
        """Measure the thresholds against known references and trim the calibration devices.

        Parameters
        ----------
        mode : {"piecewise", "offset"}
            Calibration devices as independent thermometer rows with chosen onsets (default), or all in
            parallel as one per-column offset.
        reads : int
            Conversions per reference input, 1 to 1024 (averages the comparator noise).
        sub : int
            Reference grid points per input code, 2 to 64, even.
        tries : int
            Program-verify attempts per calibration device, 1 to 100: a device is re-programmed (a fresh
            programming error) until it reads within one trim LSB ``q_cal`` of its target; the last attempt
            stays. 1 = program once.
        verify : bool
            Re-measure after programming (fills ``rms_after``/``max_after``).
        rng : numpy.random.Generator, optional
            For the measurement noise and the programming of the calibration devices (default: own).

        Returns
        -------
        CalibrationResult
            Also stored as :attr:`calibration`. Cost: ``2**in_bits * sub * reads`` conversions per column.
        """
        if mode not in CAL_MODES:
            raise ValueError(f"mode must be one of {CAL_MODES}, not {mode!r}")
        reads = check_int("reads", reads, 1, 1024)
        sub = check_int("sub", sub, 2, 64)
        tries = check_int("tries", tries, 1, 100)
        if sub % 2:
            raise ValueError(f"sub must be an even integer in [2, 64], not {sub!r}")
        r = self._rng if rng is None else rng
        self.reset_calibration()
        meas = measure_thresholds(self, sub=sub, reads=reads, rng=r)
        m = self._measurable
        err = meas[:, m] - self._ideal[m]
        width = _local_widths(self._ramp.thresholds)[m]
        rms_b = np.sqrt(np.mean((err / width) ** 2, axis=1)) if m.any() else np.full(self._C, np.nan)
        max_b = np.abs(err / width).max(axis=1) if m.any() else np.full(self._C, np.nan)
        onsets = np.zeros((self._C, self._n_cal), dtype=np.int64)
        trims = np.zeros((self._C, self._n_cal), dtype=np.int64)
        idx = np.flatnonzero(m)
        wts = width**-2.0  # minimise the error in output LSB
        q = self.q_cal
        lv = self._cal_levels - 1
        if self._n_cal and idx.size:
            for c in range(self._C):
                # Program-verify finds stuck calibration devices; only the healthy ones are used.
                healthy = np.flatnonzero(self._cal_faults[c] == _OK)
                nh = healthy.size
                if nh == 0:
                    continue
                if mode == "offset":
                    mean = float((wts * err[c]).sum() / wts.sum())
                    total = int(np.clip(np.rint(-mean / q), -nh * lv, nh * lv))
                    base, rem = divmod(abs(total), nh)
                    tr = np.full(nh, base) + (np.arange(nh) < rem)
                    trims[c, healthy] = np.sign(total) * tr
                    onsets[c, healthy] = np.where(tr > 0, 1, 0)
                else:
                    starts, jumps = _fit_steps(-err[c], nh, wts)
                    for dev, a, jv in zip(healthy, starts, jumps, strict=False):
                        onsets[c, dev] = 1 if a == 0 else int(idx[a]) + 1
                        trims[c, dev] = int(np.clip(np.rint(jv / q), -lv, lv))
                    onsets[c, trims[c] == 0] = 0
        used = onsets > 0
        target = self._dev.g_min + np.abs(trims) * q * self._kappa
        g = self._dev.program(target, self._cal_faults, r)
        for _ in range(tries - 1):  # program-verify (before drift: verify happens at programming time)
            bad = (np.abs(g - target) > q * self._kappa) & (self._cal_faults == _OK)
            if not bad.any():
                break
            g = np.where(bad, self._dev.program(target, self._cal_faults, r), g)
        g = self._dev.drifted(g, self._cal_nu)
        contrib = np.where(used, np.sign(trims) * (g - self._dev.g_ref) / self._kappa, 0.0)
        # An unused row is not driven: its device (stuck or not) contributes nothing.
        corr = np.zeros((self._C, self._K))
        for i in range(self._n_cal):
            on = used[:, i]
            if on.any():
                rows = np.flatnonzero(on)
                np.add.at(corr, (rows, onsets[rows, i] - 1), contrib[rows, i])
        self._cal_corr = np.cumsum(corr, axis=1)
        self._update_levels()
        if verify and idx.size:
            err2 = (measure_thresholds(self, sub=sub, reads=reads, rng=r)[:, m] - self._ideal[m]) / width
            rms_a, max_a = np.sqrt(np.mean(err2**2, axis=1)), np.abs(err2).max(axis=1)
        else:
            rms_a = max_a = np.full(self._C, np.nan)
        self._cal = CalibrationResult(mode=mode, onsets=onsets, trims=trims, q_cal=q, rms_before=rms_b,
                                      rms_after=rms_a, max_before=max_b, max_after=max_a)
        return self._cal

    def __repr__(self) -> str:
        dc = self.device_counts
        return (f"AnalogRampADC({self._ramp.tag}, columns={self._C}, devices/column={dc['total']} "
                f"(bias {dc['bias']}, ramp {dc['ramp']}, cal {dc['cal']}), "
                f"{'fixed reference' if self._fixed else 'in-memory ramp'}, "
                f"{'calibrated' if self._cal else 'uncalibrated'})")


def _local_widths(t: np.ndarray) -> np.ndarray:
    """Ideal local code width at each threshold: mean of the two adjacent codes' widths (one-sided at the ends),
    at least 1 input code."""
    t = np.asarray(t, dtype=np.float64)
    if t.size < 2:
        return np.ones(t.size)
    d = np.diff(t)
    left = np.concatenate([[d[0]], d])
    right = np.concatenate([d, [d[-1]]])
    return np.maximum((left + right) / 2.0, 1.0)


def _fit_steps(t: np.ndarray, n_jumps: int, w: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Best weighted least-squares approximation of ``t`` (weights ``w``, default 1) by a step function that is
    0 before its first step and has at most ``n_jumps`` steps (exact dynamic programming, ``O(n_jumps *
    len(t)**2)``): returns the start indices and the jump values (ascending starts)."""
    t = np.asarray(t, dtype=np.float64)
    w = np.ones_like(t) if w is None else np.asarray(w, dtype=np.float64)
    M = t.size
    p0 = np.concatenate([[0.0], np.cumsum(w)])
    p1 = np.concatenate([[0.0], np.cumsum(w * t)])
    p2 = np.concatenate([[0.0], np.cumsum(w * t * t)])
    a = np.arange(M + 1)[:, None]
    b = np.arange(M + 1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = (p2[b] - p2[a]) - (p1[b] - p1[a]) ** 2 / (p0[b] - p0[a])
    sse = np.where(b > a, np.maximum(np.nan_to_num(sse, nan=0.0), 0.0), np.inf)
    f = [p2.copy()]
    arg = [None]
    for _ in range(min(n_jumps, M)):
        cand = f[-1][:, None] + sse
        arg.append(np.argmin(cand, axis=0))
        f.append(cand[arg[-1], np.arange(M + 1)])
    costs = np.array([fj[M] for fj in f])
    best = int(np.flatnonzero(costs <= costs.min() + 1e-12 * max(1.0, costs.min()))[0])
    bounds = []
    end = M
    for j in range(best, 0, -1):
        start = int(arg[j][end])
        bounds.append((start, end))
        end = start
    bounds.reverse()
    starts, jumps, prev = [], [], 0.0
    for s, e in bounds:
        v = float((w[s:e] * t[s:e]).sum() / w[s:e].sum())
        starts.append(s)
        jumps.append(v - prev)
        prev = v
    return starts, jumps


# ---- measurement: thresholds, INL/DNL, code error -------------------------------------------------------

def measure_thresholds(adc: AnalogRampADC, *, sub: int = 8, reads: int = 1, v_read: float | None = None,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """Threshold positions ``[n_columns, K]`` (input codes at nominal V_read) measured from the transfer curve.

    The reference input sweeps ``x_min + (i + 1/2)/sub`` over ``[x_min, x_max]``; with ``reads`` conversions
    per point, ``t^_k = x_min + #{conversions with count < k} / (sub * reads)`` (the 50 % point for
    symmetric noise; exact for a noise-free ramp level on the ``1/sub`` grid, e.g. ``T_k - 1/2``).
    Thresholds outside the input range come out clipped to ``[x_min, x_max]``.
    """
    if not isinstance(adc, AnalogRampADC):
        raise TypeError(f"adc must be an AnalogRampADC, not {type(adc).__name__}")
    sub = check_int("sub", sub, 1, 256)
    reads = check_int("reads", reads, 1, 4096)
    ramp = adc.ramp
    n = (ramp.x_max - ramp.x_min) * sub
    x = ramp.x_min + (np.arange(n) + 0.5) / sub
    C, K = adc.n_columns, adc.cycles
    hist = np.zeros((C, K + 1), dtype=np.int64)
    xs = np.broadcast_to(x[:, None], (n, C))
    for _ in range(reads):
        cnt = adc.count(xs if C > 1 else x, v_read=v_read, rng=rng).reshape(n, C)
        for c in range(C):
            hist[c] += np.bincount(cnt[:, c], minlength=K + 1)
    below = np.cumsum(hist, axis=1)[:, :K]  # #{count < k} for k = 1..K
    return ramp.x_min + below / (sub * reads)


@dataclass(frozen=True)
class Linearity:
    """INL/DNL of each column against the ideal RampADC (see the module notes for the definitions).

    Attributes
    ----------
    inl : numpy.ndarray
        ``[n_columns, K]`` threshold error in output LSB (NaN for thresholds outside the input range).
    inl_codes : numpy.ndarray
        The same error in input codes.
    dnl : numpy.ndarray
        ``[n_columns, K-1]`` code-width error in LSB (NaN where undefined).
    thresholds : numpy.ndarray
        The measured thresholds ``[n_columns, K]``.
    """

    inl: np.ndarray
    inl_codes: np.ndarray
    dnl: np.ndarray
    thresholds: np.ndarray

    @property
    def max_inl(self) -> float:
        """max |INL| over columns and thresholds, output LSB."""
        return float(np.nanmax(np.abs(self.inl))) if np.isfinite(self.inl).any() else float("nan")

    @property
    def max_dnl(self) -> float:
        return float(np.nanmax(np.abs(self.dnl))) if np.isfinite(self.dnl).any() else float("nan")

    @property
    def mean_inl(self) -> float:
        """mean |INL|, output LSB."""
        return float(np.nanmean(np.abs(self.inl))) if np.isfinite(self.inl).any() else float("nan")

    def summary(self) -> dict[str, float]:
        return {"max_inl": self.max_inl, "mean_inl": self.mean_inl, "max_dnl": self.max_dnl,
                "max_inl_codes": float(np.nanmax(np.abs(self.inl_codes)))
                if np.isfinite(self.inl_codes).any() else float("nan")}


def linearity(adc: AnalogRampADC, *, sub: int = 8, reads: int = 1, v_read: float | None = None,
              rng: np.random.Generator | None = None) -> Linearity:
    """Measure the thresholds (:func:`measure_thresholds`) and report INL and DNL in LSB.

    ``INL_k = (t^_k - (T_k - 1/2)) / w_k`` with ``w_k = max(1, (T_{k+1} - T_{k-1}) / 2)`` (one-sided at the
    ends): the output error, in codes, the shifted threshold causes. ``DNL_c = (t^_{c+1} - t^_c) /
    (T_{c+1} - T_c) - 1`` for codes of non-zero ideal width. Only thresholds with ``x_min < T_k <= x_max``
    count.
    """
    meas = measure_thresholds(adc, sub=sub, reads=reads, v_read=v_read, rng=rng)
    t = adc.ramp.thresholds.astype(np.float64)
    m = adc.measurable
    err = np.where(m, meas - adc.ideal_levels, np.nan)
    inl = err / _local_widths(t)
    width = np.diff(t)
    ok = (width > 0) & m[1:] & m[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        dnl = np.where(ok, np.diff(meas, axis=1) / np.where(width > 0, width, 1.0) - 1.0, np.nan)
    return Linearity(inl=inl, inl_codes=err, dnl=dnl, thresholds=meas)


def code_error(adc: AnalogRampADC, *, v_read: float | None = None, reads: int = 1,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """``|analog code - RampADC.convert(x)|`` for every integer input ``x_min .. x_max`` (int64
    ``[reads, 2**in_bits, n_columns]``): the output-LSB error a user sees."""
    reads = check_int("reads", reads, 1, 4096)
    ramp = adc.ramp
    x = np.arange(ramp.x_min, ramp.x_max + 1, dtype=np.int64)
    ideal = ramp.convert(x)
    xs = np.broadcast_to(x[:, None], (x.size, adc.n_columns)).astype(np.float64)
    out = np.stack([adc.convert(xs, v_read=v_read, rng=rng).reshape(x.size, adc.n_columns)
                    for _ in range(reads)])
    return np.abs(out - ideal[None, :, None])
