"""RNN study for the ramp-ADC nonlinearity: LSTM and GRU classifiers of the scikit-learn digits (8x8 images
read row by row: 8 steps of 8 features, 10 classes) trained in float with hand-written BPTT + Adam (numpy),
then run with every sigmoid/tanh through

* the ideal :class:`~npegen.models.ramp_adc.RampADC` (N = 3, 4, 5, 8 bits), and
* the analog twin: weights on a noisy :class:`~npegen.models.crossbar.CrossbarMAC`, nonlinearities through
  :class:`~npegen.models.crossbar.AnalogRampADC` columns (one ramp column per hidden unit and gate),

plus the read-voltage sweep (in-memory ramp vs fixed-reference ADC) and stuck-at-OFF ramp-device faults with
and without calibration. Entry point: :func:`rnn_study`.

Cells (PyTorch ``nn.LSTM`` / ``nn.GRU`` equations, gate order i, f, g, o and r, z, n)::

    LSTM: a = x Wx + h Wh + b;  i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
          c' = f c + i g;  h' = o tanh(c')                                  (3 sigmoid + 2 tanh per cell)
    GRU:  gx = x Wx + bx;  gh = h Wh + bh;  r, z = sigmoid(gx_rz + gh_rz)
          n = tanh(gx_n + r gh_n);  h' = (1 - z) n + z h                    (2 sigmoid + 1 tanh per cell)
    logits = h_T Wy + by     (float, digital, in every mode)

ADC grid: ``in_bits = 10``, ``in_lsb = 1/64`` by default, i.e. pre-activations in ``[-8, 8)`` in steps of
1/64: sigmoid and tanh are saturated (within 3.4e-4 of their limits) at the clip, and the grid resolves the
8-bit sigmoid (its narrowest code is about 1 input code wide). The 8-bit tanh is limited by the input grid
near 0 (slope 1: 2/255 per output code < 1/64 per input code), so some of its codes are never produced.

Analog mapping (documented choices):

* LSTM: one crossbar ``[Wx; Wh; b]`` driven by ``[x, h, 1]`` (``x`` in [0, 1], ``h`` in [-1, 1]). GRU: two
  crossbars, ``[Wx; bx]`` by ``[x, 1]`` and ``[Wh; bh]`` by ``[h, 1]``; ``r * gh_n`` is formed on the
  column values before the tanh ADC (as if ``r`` scaled the read pulses), an idealisation.
* ``tanh(c')`` converts the cell state through its own ADC columns (the state applied as a signal).
* ``v_read`` scales every ADC input signal and, for the in-memory ramp, the ramp itself.

Noise levels are multiples ``s`` of :data:`BASE_NOISE` (``s = 1`` is the "realistic" point: the measured
CrossSim RRAMMilo programming error on every device, 1 % read noise, comparator offset sigma 2 codes and
noise sigma 0.5 code, all ramp columns calibrated; the last three values are **assumed**).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..models._checks import check_int
from ..models.crossbar import AnalogRampADC, CrossbarMAC, code_error, linearity
from ..models.ramp_adc import RampADC

__all__ = [
    "CELLS",
    "BASE_NOISE",
    "load_digit_sequences",
    "init_params",
    "loss_and_grads",
    "train",
    "forward",
    "accuracy",
    "AnalogChip",
    "rnn_study",
    "format_tables",
    "plot_rnn_study",
]

#: Cells and their gates (sigmoid gates, tanh gates); the last LSTM "gate" c is tanh of the cell state.
CELLS = {
    "lstm": {"gates": 4, "sigmoid": ("i", "f", "o"), "tanh": ("g", "c")},
    "gru": {"gates": 3, "sigmoid": ("r", "z"), "tanh": ("n",)},
}

#: The s = 1 noise point of the analog twin: MAC and ramp programming error (multiple of RRAMMilo sigma), MAC
#: read noise (fraction of column full scale), comparator offset and noise sigma (input codes).
BASE_NOISE = {"prog_sigma": 1.0, "read_noise": 0.01, "comparator_offset": 2.0, "comparator_noise": 0.5}


def _log(verbose: bool, msg: str) -> None:
    if verbose:
        print(f"[rnn] {msg}", flush=True)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---- data ------------------------------------------------------------------------------------------------

def load_digit_sequences(*, seed: int = 0, test_size: float = 0.2):
    """The 1797 scikit-learn digits as sequences ``[n, 8 steps, 8 features]`` in [0, 1] and labels 0..9,
    split stratified with ``seed``: returns ``(X_train, X_test, y_train, y_test)``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    X = d.images.astype(np.float64) / 16.0
    return train_test_split(X, d.target.astype(np.int64), test_size=test_size, random_state=seed,
                            stratify=d.target)


# ---- parameters, forward, BPTT ---------------------------------------------------------------------------

def _check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {tuple(CELLS)}, not {cell!r}")
    return cell


def init_params(cell: str, n_in: int, hidden: int, n_out: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-style initialisation, ``U(-1/sqrt(H), 1/sqrt(H))``; LSTM forget-gate bias 1."""
    _check_cell(cell)
    rng = np.random.default_rng(seed)
    G = CELLS[cell]["gates"] * hidden
    k = 1.0 / np.sqrt(hidden)

    def u(*shape):
        return rng.uniform(-k, k, shape)

    p = {"Wx": u(n_in, G), "Wh": u(hidden, G)}
    if cell == "lstm":
        p["b"] = u(G)
        p["b"][hidden:2 * hidden] += 1.0
    else:
        p["bx"], p["bh"] = u(G), u(G)
    p["Wy"], p["by"] = u(hidden, n_out), np.zeros(n_out)
    return p


def _hidden(params) -> int:
    return params["Wh"].shape[0]


def _run(cell: str, params, X, act: Callable, mac: Callable | None, cache: list | None):
    """Unroll the cell over ``X[B, T, D]``; ``act(name, z)`` applies the nonlinearity of gate ``name``."""
    B, T, _ = X.shape
    H = _hidden(params)
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    for t in range(T):
        x = X[:, t, :]
        if cell == "lstm":
            a = mac(x, h) if mac is not None else x @ params["Wx"] + h @ params["Wh"] + params["b"]
            i, f = act("i", a[:, :H]), act("f", a[:, H:2 * H])
            g, o = act("g", a[:, 2 * H:3 * H]), act("o", a[:, 3 * H:])
            c_new = f * c + i * g
            tc = act("c", c_new)
            h_new = o * tc
            if cache is not None:
                cache.append((x, h, c, i, f, g, o, c_new, tc))
            h, c = h_new, c_new
        else:
            if mac is not None:
                gx, gh = mac(x, h)
            else:
                gx, gh = x @ params["Wx"] + params["bx"], h @ params["Wh"] + params["bh"]
            r = act("r", gx[:, :H] + gh[:, :H])
            z = act("z", gx[:, H:2 * H] + gh[:, H:2 * H])
            n = act("n", gx[:, 2 * H:] + r * gh[:, 2 * H:])
            h_new = (1.0 - z) * n + z * h
            if cache is not None:
                cache.append((x, h, r, z, n, gh))
            h = h_new
    return h


def _float_act(name: str, z):
    return np.tanh(z) if name in ("g", "c", "n") else _sigmoid(z)


def forward(cell: str, params, X, *, act: Callable | None = None, mac: Callable | None = None) -> np.ndarray:
    """Logits ``[B, classes]`` for sequences ``X[B, T, D]``.

    Parameters
    ----------
    act : callable, optional
        ``act(gate_name, z) -> y``: the nonlinearity of each gate (float sigmoid/tanh by default). Gate names
        are in :data:`CELLS`.
    mac : callable, optional
        ``mac(x, h)``: the pre-activations, LSTM ``a[B, 4H]`` or GRU ``(gx, gh)`` (float matmul by default).
    """
    _check_cell(cell)
    h = _run(cell, params, np.asarray(X, dtype=np.float64), act or _float_act, mac, None)
    return h @ params["Wy"] + params["by"]


def accuracy(cell: str, params, X, y, **kw) -> float:
    """Fraction of ``X`` classified as ``y`` (keyword arguments go to :func:`forward`)."""
    return float((forward(cell, params, X, **kw).argmax(axis=1) == y).mean())


def loss_and_grads(cell: str, params, X, y) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy of float ``forward`` and its exact gradient (BPTT) w.r.t. every parameter."""
    _check_cell(cell)
    X = np.asarray(X, dtype=np.float64)
    B = X.shape[0]
    cache: list = []
    hT = _run(cell, params, X, _float_act, None, cache)
    logits = hT @ params["Wy"] + params["by"]
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(-np.log(p[np.arange(B), y]).mean())
    dlog = p.copy()
    dlog[np.arange(B), y] -= 1.0
    dlog /= B
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["Wy"] = hT.T @ dlog
    grads["by"] = dlog.sum(axis=0)
    dh = dlog @ params["Wy"].T
    H = _hidden(params)
    if cell == "lstm":
        dc = np.zeros_like(dh)
        for x, h, c, i, f, g, o, _c_new, tc in reversed(cache):
            do = dh * tc
            dc = dc + dh * o * (1.0 - tc * tc)
            di, df, dg = dc * g, dc * c, dc * i
            da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
            grads["Wx"] += x.T @ da
            grads["Wh"] += h.T @ da
            grads["b"] += da.sum(axis=0)
            dh = da @ params["Wh"].T
            dc = dc * f
    else:
        for x, h, r, z, n, gh in reversed(cache):
            dn = dh * (1.0 - z)
            dz = dh * (h - n)
            dh_prev = dh * z
            dan = dn * (1.0 - n * n)
            dar = dan * gh[:, 2 * H:] * r * (1.0 - r)
            daz = dz * z * (1.0 - z)
            dgx = np.concatenate([dar, daz, dan], axis=1)
            dgh = np.concatenate([dar, daz, dan * r], axis=1)
            grads["Wx"] += x.T @ dgx
            grads["bx"] += dgx.sum(axis=0)
            grads["Wh"] += h.T @ dgh
            grads["bh"] += dgh.sum(axis=0)
            dh = dh_prev + dgh @ params["Wh"].T
    return loss, grads


def train(cell: str, X, y, *, hidden: int = 32, epochs: int = 40, batch: int = 32, lr: float = 0.01,
          seed: int = 0, clip: float = 5.0, n_classes: int = 10, verbose: bool = False):
    """Float training with Adam (``beta = (0.9, 0.999)``, global-norm clipping at ``clip``, cosine learning-rate
    decay), shuffled minibatches from ``seed``. Returns ``(params, history)`` with per-epoch mean loss."""
    _check_cell(cell)
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    params = init_params(cell, X.shape[2], hidden, n_classes, seed=seed)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    history = []
    steps_per_epoch = -(-len(X) // batch)
    total = epochs * steps_per_epoch
    for ep in range(epochs):
        order = rng.permutation(len(X))
        losses = []
        for s in range(0, len(X), batch):
            idx = order[s:s + batch]
            loss, grads = loss_and_grads(cell, params, X[idx], y[idx])
            losses.append(loss)
            norm = np.sqrt(sum(float((g * g).sum()) for g in grads.values()))
            scale = min(1.0, clip / (norm + 1e-12))
            step += 1
            lr_t = lr * 0.5 * (1.0 + np.cos(np.pi * (step - 1) / total))
            for k in params:
                g = grads[k] * scale
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh = m[k] / (1 - 0.9**step)
                vh = v[k] / (1 - 0.999**step)
                params[k] -= lr_t * mh / (np.sqrt(vh) + 1e-8)
        history.append(float(np.mean(losses)))
        if verbose and (ep + 1) % max(1, epochs // 5) == 0:
            _log(True, f"  {cell} epoch {ep + 1}/{epochs} loss {history[-1]:.4f}")
    return params, history


# ---- ideal ADC and analog chip ---------------------------------------------------------------------------

def _ideal_act(n_bits: int, in_bits: int, in_lsb: float) -> Callable:
    sig = RampADC("sigmoid", n_bits, in_bits, in_lsb)
    tnh = RampADC("tanh", n_bits, in_bits, in_lsb)
    return lambda name, z: tnh(z) if name in ("g", "c", "n") else sig(z)


@dataclass(frozen=True)
class _Noise:
    prog_sigma: float = 0.0
    read_noise: float = 0.0
    comparator_offset: float = 0.0
    comparator_noise: float = 0.0

    @classmethod
    def scaled(cls, s: float) -> _Noise:
        return cls(**{k: v * s for k, v in BASE_NOISE.items()})


class AnalogChip:
    """One programmed instance of a trained cell on the analog twin.

    Parameters
    ----------
    cell : {"lstm", "gru"}
    params : dict
        Trained float parameters (:func:`train`).
    n_bits, in_bits, in_lsb : int, int, float
        The ADC (RampADC) of every gate.
    noise : float
        Multiple of :data:`BASE_NOISE` (0 = ideal devices).
    p_stuck_off : float
        Stuck-at-OFF fraction of the ramp devices (bias, ramp and calibration devices of every ADC column).
    calibrate : bool
        Calibrate every ADC column (piecewise, 5 devices) after programming.
    fixed_reference : bool
        Use fixed-reference ramps instead of in-memory ramps.
    seed : int
        Seeds every crossbar and ADC (independent streams).

    Notes
    -----
    A chip holds one crossbar (LSTM) or two (GRU) and one ADC column per hidden unit and gate: LSTM ``5H``
    ramp columns, GRU ``3H``.
    """

    def __init__(self, cell: str, params, *, n_bits: int = 5, in_bits: int = 10, in_lsb: float = 1 / 64,
                 noise: float = 1.0, p_stuck_off: float = 0.0, calibrate: bool = True,
                 fixed_reference: bool = False, seed: int = 0):
        self.cell = _check_cell(cell)
        self.params = params
        self.in_lsb = in_lsb
        nz = _Noise.scaled(noise)
        ss = np.random.SeedSequence(seed)
        seeds = iter(ss.spawn(16))
        H = _hidden(params)

        def xbar(w):
            return CrossbarMAC(w, in_lsb=in_lsb, prog_sigma=nz.prog_sigma, read_noise=nz.read_noise,
                               seed=np.random.default_rng(next(seeds)))

        if cell == "lstm":
            self._xbars = [xbar(np.vstack([params["Wx"], params["Wh"], params["b"][None, :]]))]
        else:
            self._xbars = [xbar(np.vstack([params["Wx"], params["bx"][None, :]])),
                           xbar(np.vstack([params["Wh"], params["bh"][None, :]]))]
        ramps = {"sigmoid": RampADC("sigmoid", n_bits, in_bits, in_lsb), "tanh": RampADC("tanh", n_bits, in_bits,
                                                                                         in_lsb)}
        self.adcs: dict[str, AnalogRampADC] = {}
        for fn in ("sigmoid", "tanh"):
            for name in CELLS[cell][fn]:
                adc = AnalogRampADC(ramps[fn], n_columns=H, prog_sigma=nz.prog_sigma,
                                    comparator_offset=nz.comparator_offset,
                                    comparator_noise=nz.comparator_noise, p_stuck_off=p_stuck_off,
                                    fixed_reference=fixed_reference, seed=np.random.default_rng(next(seeds)))
                if calibrate:
                    adc.calibrate(reads=2, sub=4)
                self.adcs[name] = adc
        self.v_read = None

    def _mac(self, x, h):
        B = x.shape[0]
        one = np.ones((B, 1))
        lsb = self.in_lsb
        if self.cell == "lstm":
            return self._xbars[0].mac(np.hstack([x, h, one])) * lsb
        return self._xbars[0].mac(np.hstack([x, one])) * lsb, self._xbars[1].mac(np.hstack([h, one])) * lsb

    def _act(self, name, z):
        return self.adcs[name](z, v_read=self.v_read)

    def logits(self, X, *, v_read: float | None = None) -> np.ndarray:
        """Logits of ``X`` on this chip at read voltage ``v_read`` (default nominal)."""
        self.v_read = v_read
        return forward(self.cell, self.params, X, act=self._act, mac=self._mac)

    def accuracy(self, X, y, *, v_read: float | None = None) -> float:
        return float((self.logits(X, v_read=v_read).argmax(axis=1) == y).mean())


# ---- the study -------------------------------------------------------------------------------------------

def rnn_study(*, seed: int = 0, small: bool = False, hidden: int | None = None, epochs: int | None = None,
              bits: Sequence[int] = (3, 4, 5, 8), analog_bits: int = 5,
              noise_levels: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
              v_reads: Sequence[float] = (0.15, 0.175, 0.2, 0.225, 0.25),
              fault_rates: Sequence[float] = (0.0, 0.02, 0.05, 0.1), trials: int | None = None,
              in_bits: int = 10, in_lsb: float = 1 / 64, verbose: bool = True) -> dict[str, pd.DataFrame]:
    """Train LSTM and GRU digit classifiers and evaluate them through ideal and analog ramp ADCs.

    Parameters
    ----------
    seed : int
        Seeds the split, initialisation, minibatches and every simulated chip (printed).
    small : bool
        Quick mode for the test suite (20 epochs, 1 chip per analog point): about 5 s on 2 cores. Full mode
        (60 epochs, 5 chips per point): about 20 s.
    hidden, epochs, trials : int, optional
        Hidden size (default 32), training epochs and chips (trials) per analog point (defaults by mode).
    bits : sequence of int
        ADC bits N of the ideal rows.
    analog_bits : int
        N of the analog twin (default 5, the paper's chip).
    noise_levels : sequence of float
        Multiples of :data:`BASE_NOISE` for the analog rows.
    v_reads : sequence of float
        Read voltages (V) of the sweep; nominal 0.2 V. Run at noise level 1.
    fault_rates : sequence of float
        Stuck-at-OFF fractions of the ramp devices, at noise level 1, with and without calibration.
    in_bits, in_lsb : int, float
        The ADC input grid (default 10 bits of 1/64: pre-activations in [-8, 8)).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``accuracy`` (rows ``float``, ``ideal N=..``, ``analog N=.. noise x..``; columns ``LSTM``, ``GRU``),
        ``accuracy_std`` (std over chips), ``vread`` (accuracies at noise x1; sigmoid ADC code error, max
        with ideal devices and max/mean at noise x1), ``faults``, ``adc`` (INL and mean code error of the
        analog sigmoid ADC per N and device mapping, noise x1), ``training`` and ``setup``.
    """
    t_start = time.perf_counter()
    hidden = check_int("hidden", hidden if hidden is not None else 32, 1, 1024)
    epochs = check_int("epochs", epochs if epochs is not None else (20 if small else 60), 1, 100_000)
    trials = check_int("trials", trials if trials is not None else (1 if small else 5), 1, 1000)
    analog_bits = check_int("analog_bits", analog_bits, 1, 10)
    for n in bits:
        check_int("bits entry", n, 1, 10)
    _log(verbose, f"seed={seed} small={small} hidden={hidden} epochs={epochs} trials={trials} "
                  f"in_bits={in_bits} in_lsb={in_lsb}")
    Xtr, Xte, ytr, yte = load_digit_sequences(seed=seed)
    cells = ("lstm", "gru")
    names = {"lstm": "LSTM", "gru": "GRU"}
    params, train_rows = {}, []
    for cell in cells:
        t0 = time.perf_counter()
        p, hist = train(cell, Xtr, ytr, hidden=hidden, epochs=epochs, seed=seed, verbose=verbose)
        dt = time.perf_counter() - t0
        params[cell] = p
        train_rows.append({"cell": names[cell], "hidden": hidden, "epochs": epochs, "train_s": dt,
                           "final_loss": hist[-1], "train_acc": accuracy(cell, p, Xtr, ytr),
                           "test_acc": accuracy(cell, p, Xte, yte)})
        _log(verbose, f"trained {names[cell]}: test accuracy {train_rows[-1]['test_acc']:.4f} in {dt:.1f} s")

    acc, std = {}, {}

    def put(row, cell, vals):
        acc.setdefault(row, {})[names[cell]] = float(np.mean(vals))
        std.setdefault(row, {})[names[cell]] = float(np.std(vals))

    for cell in cells:
        put("float", cell, [accuracy(cell, params[cell], Xte, yte)])
        for n in bits:
            put(f"ideal N={n}", cell, [accuracy(cell, params[cell], Xte, yte, act=_ideal_act(n, in_bits, in_lsb))])
    _log(verbose, "ideal-ADC accuracies done")

    def chips(cell, **kw):
        return [AnalogChip(cell, params[cell], n_bits=analog_bits, in_bits=in_bits, in_lsb=in_lsb,
                           seed=seed * 1000 + 17 * k + 1, **kw) for k in range(trials)]

    for s in noise_levels:
        row = f"analog N={analog_bits} noise x{s:g}"
        for cell in cells:
            put(row, cell, [c.accuracy(Xte, yte) for c in chips(cell, noise=s)])
        _log(verbose, f"{row}: LSTM {acc[row]['LSTM']:.4f} GRU {acc[row]['GRU']:.4f}")

    # Read-voltage sweep (noise level 1): the same chips with in-memory and with fixed-reference ramps.
    vrows = []
    sig = RampADC("sigmoid", analog_bits, in_bits, in_lsb)
    base = _Noise.scaled(1.0)
    adc_kw = {"n_columns": hidden, "prog_sigma": base.prog_sigma, "comparator_offset": base.comparator_offset,
              "comparator_noise": base.comparator_noise}
    ref_adcs, ideal_adcs = {}, {}
    for fixed in (False, True):
        a = AnalogRampADC(sig, fixed_reference=fixed, seed=seed + 7, **adc_kw)
        a.calibrate(reads=2, sub=4)
        ref_adcs[fixed] = a
        ideal_adcs[fixed] = AnalogRampADC(sig, fixed_reference=fixed, n_columns=1)
    chipsets = {(cell, fixed): chips(cell, noise=1.0, fixed_reference=fixed) for cell in cells
                for fixed in (False, True)}
    for v in v_reads:
        row = {"v_read": v}
        for cell in cells:
            for fixed, tag in ((False, "in-memory"), (True, "fixed-ref")):
                row[f"{names[cell]} {tag}"] = float(np.mean([c.accuracy(Xte, yte, v_read=v)
                                                             for c in chipsets[cell, fixed]]))
        for fixed, tag in ((False, "in-memory"), (True, "fixed-ref")):
            row[f"code err max {tag} ideal"] = int(code_error(ideal_adcs[fixed], v_read=v).max())
            e = code_error(ref_adcs[fixed], v_read=v)
            row[f"code err max {tag} x1"] = int(e.max())
            row[f"code err mean {tag} x1"] = float(e.mean())
        vrows.append(row)
        _log(verbose, f"v_read {v:.3f} V: " + ", ".join(f"{k} {val:.3g}" for k, val in row.items() if k != "v_read"))
    vread = pd.DataFrame(vrows).set_index("v_read")

    # Stuck-at-OFF ramp devices, with and without calibration (noise level 1).
    frows = []
    for p in fault_rates:
        row = {"p_stuck_off": p}
        for cal, tag in ((False, "uncal"), (True, "cal")):
            a = AnalogRampADC(sig, p_stuck_off=p, seed=seed + 11, **adc_kw)
            if cal:
                a.calibrate(reads=2, sub=4)
            lin = linearity(a, reads=2)
            row[f"INL max {tag}"] = lin.max_inl
            row[f"INL mean {tag}"] = lin.mean_inl
            for cell in cells:
                row[f"{names[cell]} {tag}"] = float(np.mean([c.accuracy(Xte, yte) for c in
                                                             chips(cell, noise=1.0, p_stuck_off=p, calibrate=cal)]))
        frows.append(row)
        _log(verbose, f"p_stuck_off {p:g}: " + ", ".join(f"{k} {val:.3g}" for k, val in row.items()
                                                         if k != "p_stuck_off"))
    faults = pd.DataFrame(frows).set_index("p_stuck_off")

    # The analog ADC itself per N (noise level 1, sigmoid columns): one device per step (the chip's mapping)
    # and with steps split at 8 codes per device (finer conductance per code, more devices).
    arows = []
    for n in sorted(set(bits) | {analog_bits}):
        r = RampADC("sigmoid", n, in_bits, in_lsb)
        for mapping, cpd in (("1 device/step", None), ("split at 8 codes", 8.0)):
            a = AnalogRampADC(r, seed=seed + 13, codes_per_device=cpd, **adc_kw)
            row = {"N": n, "mapping": mapping, "devices/column": a.device_counts["total"],
                   "codes/device": a.codes_per_device}
            for tag in ("uncal", "cal"):
                if tag == "cal":
                    a.calibrate(reads=2, sub=4)
                lin = linearity(a, reads=2)
                row[f"INL max {tag}"] = lin.max_inl
                row[f"INL mean {tag}"] = lin.mean_inl
                row[f"code err mean {tag}"] = float(code_error(a).mean())
            arows.append(row)
    adc = pd.DataFrame(arows).set_index(["N", "mapping"])
    _log(verbose, "ADC linearity done")

    acc_df = pd.DataFrame.from_dict(acc, orient="index")[["LSTM", "GRU"]]
    acc_df.index.name = "config"
    std_df = pd.DataFrame.from_dict(std, orient="index")[["LSTM", "GRU"]]
    std_df.index.name = "config"
    setup = pd.DataFrame({"value": {
        "seed": seed, "small": small, "hidden": hidden, "epochs": epochs, "trials": trials, "in_bits": in_bits,
        "in_lsb": in_lsb, "analog_bits": analog_bits, "train/test": f"{len(Xtr)}/{len(Xte)}",
        **{f"base {k}": v for k, v in BASE_NOISE.items()}, "total_s": round(time.perf_counter() - t_start, 1)}})
    _log(verbose, f"done in {time.perf_counter() - t_start:.1f} s")
    return {"accuracy": acc_df, "accuracy_std": std_df, "vread": vread, "faults": faults, "adc": adc,
            "training": pd.DataFrame(train_rows).set_index("cell"), "setup": setup}


def format_tables(tables: dict[str, pd.DataFrame], *, float_format: str = "{:.4f}") -> str:
    """All tables as plain text (``DataFrame.to_string``), each under its name."""
    out = []
    for name, df in tables.items():
        out.append(f"== {name} ==")
        out.append(df.to_string(float_format=lambda v: float_format.format(v)))
        out.append("")
    return "\n".join(out)


def plot_rnn_study(tables: dict[str, pd.DataFrame], outdir: str | os.PathLike) -> list[Path]:
    """Three PNG figures from :func:`rnn_study` tables into ``outdir`` (created): accuracy vs ADC bits,
    the V_read sweep and the fault sweep. Returns the paths."""
    from .plots import subplots

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    acc = tables["accuracy"]
    paths = []
    colors = {"LSTM": "tab:blue", "GRU": "tab:orange"}

    fig, ax = subplots(figsize=(6, 4))
    ideal = acc[acc.index.str.startswith("ideal N=")]
    nbits = [int(s.split("=")[1]) for s in ideal.index]
    for col in ("LSTM", "GRU"):
        ax.plot(nbits, ideal[col], "o-", color=colors[col], label=f"{col} ideal ramp ADC")
        ax.axhline(acc.loc["float", col], color=colors[col], ls="--", lw=1, label=f"{col} float")
        an = acc[acc.index.str.startswith("analog") & acc.index.str.endswith("x1")]
        if len(an):
            nb = int(an.index[0].split("N=")[1].split()[0])
            ax.plot([nb], [an[col].iloc[0]], "s", color=colors[col], mfc="none", ms=9,
                    label=f"{col} analog twin (noise x1)")
    ax.set_xlabel("ADC output bits N")
    ax.set_ylabel("test accuracy")
    ax.set_xticks(nbits)
    ax.set_title("Digits (8 steps x 8): accuracy vs ramp-ADC bits")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    paths.append(outdir / "rnn_accuracy_vs_bits.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)

    vr = tables["vread"]
    fig, (a1, a2) = subplots(1, 2, figsize=(10, 4))
    for col in ("LSTM", "GRU"):
        a1.plot(vr.index, vr[f"{col} in-memory"], "o-", color=colors[col], label=f"{col} in-memory ramp")
        a1.plot(vr.index, vr[f"{col} fixed-ref"], "x--", color=colors[col], label=f"{col} fixed reference")
    a1.set_xlabel("V_read (V)")
    a1.set_ylabel("test accuracy")
    a1.set_title("Read-voltage sweep")
    a1.legend(fontsize=7)
    a1.grid(alpha=0.3)
    a2.plot(vr.index, vr["code err max in-memory ideal"], "o-", color="tab:green",
            label="max, in-memory ramp, ideal devices")
    a2.plot(vr.index, vr["code err max fixed-ref ideal"], "x-", color="tab:red",
            label="max, fixed reference, ideal devices")
    a2.plot(vr.index, vr["code err mean in-memory x1"], "o:", color="tab:green", label="mean, in-memory, noise x1")
    a2.plot(vr.index, vr["code err mean fixed-ref x1"], "x:", color="tab:red", label="mean, fixed ref., noise x1")
    a2.set_xlabel("V_read (V)")
    a2.set_ylabel("|code - ideal code| (LSB)")
    a2.set_title("Sigmoid ADC code error over all inputs")
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3)
    paths.append(outdir / "rnn_vread_sweep.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)

    fl = tables["faults"]
    fig, (a1, a2) = subplots(1, 2, figsize=(10, 4))
    x = fl.index.to_numpy() * 100
    for col in ("LSTM", "GRU"):
        a1.plot(x, fl[f"{col} uncal"], "x--", color=colors[col], label=f"{col} uncalibrated")
        a1.plot(x, fl[f"{col} cal"], "o-", color=colors[col], label=f"{col} calibrated")
    a1.set_xlabel("stuck-at-OFF ramp devices (%)")
    a1.set_ylabel("test accuracy")
    a1.set_title("Ramp-device faults")
    a1.legend(fontsize=7)
    a1.grid(alpha=0.3)
    a2.plot(x, fl["INL max uncal"], "x--", color="tab:red", label="max |INL|, uncalibrated")
    a2.plot(x, fl["INL max cal"], "o-", color="tab:green", label="max |INL|, calibrated")
    a2.plot(x, fl["INL mean uncal"], "x:", color="tab:red", label="mean |INL|, uncalibrated")
    a2.plot(x, fl["INL mean cal"], "o:", color="tab:green", label="mean |INL|, calibrated")
    a2.set_xlabel("stuck-at-OFF ramp devices (%)")
    a2.set_ylabel("INL (output LSB)")
    a2.set_title("Sigmoid ADC INL")
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3)
    paths.append(outdir / "rnn_faults.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    return paths
