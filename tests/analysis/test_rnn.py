"""RNN study: BPTT gradients against finite differences, the small-mode study tables, the analog chip at zero
noise, and the notebook run as a script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npegen.analysis.rnn import (
    CELLS,
    AnalogChip,
    accuracy,
    forward,
    init_params,
    load_digit_sequences,
    loss_and_grads,
    rnn_study,
    train,
)
from npegen.models.ramp_adc import RampADC

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bptt_gradient_matches_finite_differences(cell, seed):
    rng = np.random.default_rng(seed)
    params = init_params(cell, 3, 4, 3, seed=seed)
    for k in params:  # move away from the initial point so every term matters
        params[k] = params[k] + rng.normal(0, 0.3, params[k].shape)
    X = rng.normal(size=(5, 4, 3))
    y = rng.integers(0, 3, 5)
    _, grads = loss_and_grads(cell, params, X, y)
    eps = 1e-6
    for k, p in params.items():
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            lp, _ = loss_and_grads(cell, params, X, y)
            p[idx] = old - eps
            lm, _ = loss_and_grads(cell, params, X, y)
            p[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(grads[k], num, rtol=1e-5, atol=1e-8, err_msg=f"{cell} d loss / d {k}")


def test_forward_hooks_and_loss_agree():
    Xtr, Xte, ytr, yte = load_digit_sequences(seed=0)
    assert Xtr.shape == (1437, 8, 8) and Xte.shape == (360, 8, 8) and Xtr.max() <= 1.0
    assert set(np.unique(ytr)) == set(range(10))
    p = init_params("gru", 8, 8, 10, seed=1)
    base = forward("gru", p, Xte[:20])

    def act(name, z):
        assert name in ("r", "z", "n")
        return np.tanh(z) if name == "n" else 1 / (1 + np.exp(-z))

    np.testing.assert_allclose(forward("gru", p, Xte[:20], act=act), base, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"cell must be one of \('lstm', 'gru'\), not 'rnn'"):
        forward("rnn", p, Xte[:2])
    with pytest.raises(ValueError, match=r"hidden must be an integer in \[1, 1024\], not 0"):
        rnn_study(hidden=0, verbose=False)
    with pytest.raises(TypeError, match=r"bits entry must be an integer in \[1, 10\], not 4.0"):
        rnn_study(bits=(4.0,), verbose=False)


def test_analog_chip_at_zero_noise_matches_the_ideal_adc():
    Xtr, Xte, ytr, yte = load_digit_sequences(seed=0)
    sig, tnh = RampADC("sigmoid", 5, 10, 1 / 64), RampADC("tanh", 5, 10, 1 / 64)

    def act(name, z):
        return tnh(z) if name in ("g", "c", "n") else sig(z)

    for cell in CELLS:
        p, _ = train(cell, Xtr[:400], ytr[:400], hidden=12, epochs=4, seed=0)
        ideal = forward(cell, p, Xte, act=act)
        chip = AnalogChip(cell, p, noise=0.0, calibrate=False)
        analog = chip.logits(Xte)
        # identical up to float summation order at exact half-code ties (measure zero)
        assert (analog.argmax(1) == ideal.argmax(1)).mean() >= 0.99
        np.testing.assert_allclose(analog, ideal, atol=0.05)
        # the in-memory ramp is ratiometric: a zero-noise chip does not care about V_read
        assert (chip.logits(Xte, v_read=0.15).argmax(1) == analog.argmax(1)).mean() >= 0.99


@pytest.fixture(scope="module")
def small_study():
    return rnn_study(seed=0, small=True, verbose=True)


def test_small_study_tables(small_study):
    t = small_study
    assert set(t) == {"accuracy", "accuracy_std", "vread", "faults", "adc", "training", "setup"}
    acc = t["accuracy"]
    assert list(acc.columns) == ["LSTM", "GRU"]
    assert list(acc.index) == ["float", "ideal N=3", "ideal N=4", "ideal N=5", "ideal N=8",
                               "analog N=5 noise x0", "analog N=5 noise x0.5", "analog N=5 noise x1",
                               "analog N=5 noise x2"]
    assert acc.notna().all().all() and ((acc >= 0) & (acc <= 1)).all().all()
    for col in ("LSTM", "GRU"):
        f = acc.loc["float", col]
        assert f > 0.85  # chance is 0.1
        assert abs(acc.loc["ideal N=8", col] - f) <= 0.02
        assert abs(acc.loc["ideal N=5", col] - f) <= 0.03
        assert abs(acc.loc["analog N=5 noise x0", col] - acc.loc["ideal N=5", col]) <= 0.01
        assert acc.loc["analog N=5 noise x2", col] < acc.loc["analog N=5 noise x0", col]
    tr = t["training"]
    assert list(tr.index) == ["LSTM", "GRU"] and (tr["test_acc"] == acc.loc["float"]).all()


def test_small_study_vread_and_faults(small_study):
    vr = small_study["vread"]
    assert list(vr.index) == [0.15, 0.175, 0.2, 0.225, 0.25]
    assert (vr["code err max in-memory ideal"] == 0).all()
    assert vr.loc[0.15, "code err max fixed-ref ideal"] > 1 and vr.loc[0.25, "code err max fixed-ref ideal"] > 1
    assert vr.loc[0.2, "code err max fixed-ref ideal"] == 0
    for v in (0.15, 0.25):
        assert vr.loc[v, "code err mean fixed-ref x1"] > 3 * vr.loc[v, "code err mean in-memory x1"]
    # the fixed-reference LSTM loses accuracy at the low end while the in-memory one holds
    assert vr.loc[0.15, "LSTM fixed-ref"] < vr.loc[0.15, "LSTM in-memory"] - 0.05
    fl = small_study["faults"]
    assert list(fl.index) == [0.0, 0.02, 0.05, 0.1]
    assert (fl["INL mean cal"] < fl["INL mean uncal"]).all()
    assert fl.loc[0.05, "INL max uncal"] > 4 and fl.loc[0.05, "INL mean cal"] < 0.3
    for col in ("LSTM", "GRU"):
        assert fl.loc[0.1, f"{col} cal"] > fl.loc[0.1, f"{col} uncal"] + 0.05
    adc = small_study["adc"]
    assert adc.loc[(5, "1 device/step"), "devices/column"] == 39  # 4 bias + 30 ramp + 5 calibration
    assert (adc["INL mean cal"] <= adc["INL mean uncal"]).all()


def test_notebook_runs_as_a_script_in_small_mode(tmp_path):
    out = tmp_path / "figs"
    env = dict(os.environ, NPEGEN_NB_SMALL="1", MPLBACKEND="Agg", NPEGEN_NB_OUT=str(out))
    res = subprocess.run([sys.executable, str(ROOT / "notebooks" / "03_ramp_adc_rnn.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "== accuracy ==" in res.stdout and "[rnn] done" in res.stdout
    for name in ("rnn_accuracy_vs_bits.png", "rnn_vread_sweep.png", "rnn_faults.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert (out / "rnn_tables.txt").read_text().startswith("== accuracy ==")


@pytest.mark.slow
def test_full_study_reaches_ninety_percent():
    t = rnn_study(seed=0, small=False, verbose=True)
    acc = t["accuracy"]
    for col in ("LSTM", "GRU"):
        assert acc.loc["float", col] >= 0.9
        assert abs(acc.loc["ideal N=8", col] - acc.loc["float", col]) <= 0.01
        assert acc.loc["analog N=5 noise x1", col] >= 0.85


def test_accuracy_helper():
    Xtr, Xte, ytr, yte = load_digit_sequences(seed=3)
    p, hist = train("lstm", Xtr, ytr, hidden=16, epochs=3, seed=3)
    assert len(hist) == 3 and hist[-1] < hist[0]
    a = accuracy("lstm", p, Xte, yte)
    assert a == float((forward("lstm", p, Xte).argmax(1) == yte).mean()) and a > 0.3
