"""Analog twin of the ramp-ADC nonlinearity: exactness at zero error, V_read ratiometry, faults and calibration,
step splitting, the crossbar MAC's error models, and parameter validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from npegen.models.crossbar import (
    AnalogRampADC,
    CrossbarMAC,
    code_error,
    drift_factor,
    linearity,
    measure_thresholds,
    milo_sigma,
)
from npegen.models.ramp_adc import RampADC

V_SWEEP = np.linspace(0.15, 0.25, 9)  # 0.75 .. 1.25 x the nominal 0.2 V


# ---- (a) zero noise: bit-exact against RampADC ----------------------------------------------------------

@pytest.mark.parametrize("fn", ["sigmoid", "tanh"])
@pytest.mark.parametrize("n_bits", [3, 4, 5, 8])
def test_zero_error_twin_is_bit_exact_on_every_input_code(fn, n_bits, seed):
    rng = np.random.default_rng(seed)
    for in_bits in range(8, 13):
        ramp = RampADC(fn, n_bits, in_bits, 1 / 64)
        x = np.arange(ramp.x_min, ramp.x_max + 1)  # every input code, thresholds included
        want = ramp.convert(x)
        on_thresholds = ramp.thresholds[(ramp.thresholds >= ramp.x_min) & (ramp.thresholds <= ramp.x_max)]
        for adc in (AnalogRampADC(ramp, seed=seed),
                    AnalogRampADC(ramp, codes_per_device=3.0, seed=seed),  # heavy step splitting
                    AnalogRampADC(ramp, fixed_reference=True, seed=seed)):
            np.testing.assert_array_equal(adc.convert(x), want, err_msg=f"{ramp!r} {adc!r}")
            np.testing.assert_array_equal(adc.convert(on_thresholds), ramp.convert(on_thresholds))
            assert adc.convert(x.astype(np.float64)).dtype == np.int64
        # The in-memory ramp stays exact at any read voltage (the gain cancels exactly).
        adc = AnalogRampADC(ramp, seed=seed)
        for v in (0.15, 0.2137, 0.25):
            np.testing.assert_array_equal(adc.convert(x, v_read=v), want)
        # Real inputs: RampADC.convert(rint(x)) away from half-integer ties; ties round down.
        xr = rng.uniform(ramp.x_min - 40, ramp.x_max + 40, 4000)
        xr = xr[np.abs(xr - np.floor(xr) - 0.5) > 1e-6]
        ref = ramp.convert(np.clip(np.rint(xr), ramp.x_min, ramp.x_max).astype(np.int64))
        np.testing.assert_array_equal(adc.convert(xr), ref)
        ties = np.arange(ramp.x_min, ramp.x_max) + 0.5
        np.testing.assert_array_equal(adc.convert(ties), ramp.convert(np.ceil(ties - 0.5).astype(np.int64)))
        # __call__ mirrors RampADC.__call__ on real values.
        z = xr * ramp.in_lsb
        np.testing.assert_array_equal(adc(z), ramp(z))


def test_zero_error_multi_column_and_other_modes(seed):
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)
    adc = AnalogRampADC(ramp, n_columns=7, seed=seed)
    x = np.random.default_rng(seed).integers(ramp.x_min, ramp.x_max + 1, (50, 7))
    np.testing.assert_array_equal(adc.convert(x), ramp.convert(x))
    with pytest.raises(ValueError, match="last axis of 7"):
        adc.convert(np.zeros((3, 6)))
    # down-counting and code-table ADCs: the ramp is monotone in x, the counter maps through step_codes.
    for r in (RampADC(lambda v: -np.tanh(v), 4, 9, 1 / 32, (-1.0, 1.0)), RampADC("gelu", 4, 9, 1 / 32, lut=True)):
        assert r.mode in ("down", "lut")
        xs = np.arange(r.x_min, r.x_max + 1)
        np.testing.assert_array_equal(AnalogRampADC(r, seed=seed).convert(xs), r.convert(xs))


def test_zero_noise_thresholds_measure_exactly_and_inl_is_zero():
    ramp = RampADC("tanh", 5, 10, 1 / 64)
    adc = AnalogRampADC(ramp, n_columns=2)
    m = adc.measurable
    meas = measure_thresholds(adc, sub=8)
    np.testing.assert_array_equal(meas[:, m], np.broadcast_to(ramp.thresholds[m] - 0.5, (2, int(m.sum()))))
    lin = linearity(adc)
    assert lin.max_inl == 0.0 and lin.max_dnl == 0.0
    assert code_error(adc).max() == 0


def test_crossbar_zero_error_is_exact_and_scales_with_v_read(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (41, 24))
    xb = CrossbarMAC(w, in_lsb=1 / 64, seed=seed)
    u = rng.uniform(-1, 1, (10, 41))
    np.testing.assert_array_equal(xb.mac(u), u @ w * 64)
    np.testing.assert_array_equal(xb.ideal(u), u @ w * 64)
    np.testing.assert_allclose(xb.mac(u, v_read=0.25), 1.25 * (u @ w) * 64, rtol=1e-12)
    np.testing.assert_array_equal(xb.mac(3 * u), xb.mac(np.clip(3 * u, -1, 1)))  # DAC saturates at u_max
    # conductances realise w: G+ - G- = w * gain within [g_min, g_max]
    np.testing.assert_allclose((xb.g_plus - xb.g_minus) / xb.gain, w, atol=1e-12)
    assert xb.g_plus.min() >= 50 and xb.g_plus.max() <= 225 + 1e-9
    assert xb.kappa == pytest.approx(175 / np.abs(w).max() / 64)


# ---- (b) V_read: ratiometric in-memory ramp vs fixed reference -------------------------------------------

@pytest.mark.parametrize("fn", ["sigmoid", "tanh"])
@pytest.mark.parametrize("n_bits", [5, 8])
def test_vread_sweep_in_memory_ramp_tracks_fixed_reference_does_not(fn, n_bits, capsys):
    """V_read 0.15-0.25 V (0.75-1.25 x nominal), every input code of a 10-bit grid (in_lsb 1/64).

    Zero noise: the in-memory ramp is exact (error 0) at every V_read, N = 5 and 8. Small noise, N = 5 only
    (ramp programming error 0.25 x RRAMMilo, comparator offset sigma 2 codes, comparator noise 0.5 code, 8
    columns, calibrated at 0.2 V): within +-1 LSB at every V_read (seen: 1 at every V_read). At N = 8 the
    same noise already gives 4-6 LSB at nominal V_read (one device per step: 70 codes per device against
    1-code steps; tanh at in_lsb 1/64 even has zero-width codes, so any sub-code shift moves two codes), so it
    is not asserted there. The fixed-reference ADC (ideal devices) is off by more than 1 LSB at the extremes;
    seen at 0.15/0.25 V: sigmoid N=5 2/2 LSB, tanh N=5 3/2, N=8 17/13 for both (N = 3, 4 only reach 1 LSB).
    """
    ramp = RampADC(fn, n_bits, 10, 1 / 64)
    ideal_mem = AnalogRampADC(ramp)
    ideal_fix = AnalogRampADC(ramp, fixed_reference=True)
    noisy = AnalogRampADC(ramp, n_columns=8, prog_sigma=0.25, comparator_offset=2.0, comparator_noise=0.5,
                          seed=12345)
    noisy.calibrate()
    mem0 = [int(code_error(ideal_mem, v_read=v).max()) for v in V_SWEEP]
    memn = [int(code_error(noisy, v_read=v, reads=2).max()) for v in V_SWEEP]
    fix0 = [int(code_error(ideal_fix, v_read=v).max()) for v in V_SWEEP]
    with capsys.disabled():
        print(f"\n{fn} N={n_bits} V_read {V_SWEEP.round(4).tolist()}: max |code error| in-memory zero noise "
              f"{mem0}, in-memory small noise {memn}, fixed reference {fix0}")
    assert mem0 == [0] * len(V_SWEEP)
    if n_bits == 5:
        assert max(memn) <= 1
    assert fix0[len(V_SWEEP) // 2] == 0  # nominal
    assert fix0[0] > 1 and fix0[-1] > 1


def test_vread_fixed_reference_with_noise_is_worse_than_in_memory():
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)
    kw = {"n_columns": 8, "prog_sigma": 0.25, "comparator_offset": 2.0, "comparator_noise": 0.5, "seed": 7}
    mem, fix = AnalogRampADC(ramp, **kw), AnalogRampADC(ramp, fixed_reference=True, **kw)
    mem.calibrate()
    fix.calibrate()
    for v in (0.15, 0.25):
        assert code_error(fix, v_read=v).mean() > 3 * code_error(mem, v_read=v).mean()


# ---- (c) faults and calibration (Fig. 3a: a clean block and a faulty block of 8 columns) -----------------

def test_calibration_recovers_stuck_off_and_high_programming_error(capsys):
    """Block 1: RRAMMilo programming error (x1). Block 2: 5 % stuck-at-OFF devices and 2 x RRAMMilo error.
    Both with comparator offset sigma 2 codes and noise 0.5 code; sigmoid, N = 5, 10-bit input, one device per
    step (73 codes per device), 5 calibration devices per column with program-verify. Seen (seed 1): block 1
    max/mean |INL| 2.82/0.48 LSB -> 0.42/0.11 calibrated (offset-only calibration 0.80/0.22); block 2 (14
    stuck-at-OFF devices) 8.80/1.77 -> 0.90/0.19 LSB (offset-only 2.34/0.46)."""
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)
    common = {"n_columns": 8, "comparator_offset": 2.0, "comparator_noise": 0.5, "seed": 1}
    rows = {}
    for name, kw in (("block1", {"prog_sigma": 1.0}), ("block2", {"prog_sigma": 2.0, "p_stuck_off": 0.05})):
        adc = AnalogRampADC(ramp, **kw, **common)
        before = linearity(adc, reads=4, rng=np.random.default_rng(0))
        cal = adc.calibrate()
        after = linearity(adc, reads=4, rng=np.random.default_rng(0))
        adc.calibrate(mode="offset")
        offset_only = linearity(adc, reads=4, rng=np.random.default_rng(0))
        rows[name] = (before, after, offset_only, cal, adc)
        with capsys.disabled():
            print(f"\n{name}: stuck-off devices {int((adc.faults == 1).sum())}; max/mean |INL| (LSB) "
                  f"uncalibrated {before.max_inl:.2f}/{before.mean_inl:.2f}, calibrated "
                  f"{after.max_inl:.2f}/{after.mean_inl:.2f}, offset-only {offset_only.max_inl:.2f}/"
                  f"{offset_only.mean_inl:.2f}; max DNL {before.max_dnl:.2f} -> {after.max_dnl:.2f}")
    b1, b2 = rows["block1"], rows["block2"]
    assert (b2[4].faults == 1).sum() >= 8  # faults are present in the faulty block
    assert b2[0].max_inl > 4.0 and b2[0].mean_inl > 1.0  # large INL without calibration
    assert b2[1].max_inl < 1.5 and b2[1].mean_inl < 0.35  # small with it
    assert b2[1].mean_inl < b2[2].mean_inl  # piecewise beats offset-only on lost steps
    assert b1[1].mean_inl < 0.5 * b1[0].mean_inl and b1[1].max_inl < 0.5 * b1[0].max_inl
    # The calibration used steps after cycle 1 (re-inserted lost steps) and reports its trims.
    cal = b2[3]
    assert (cal.onsets > 1).any()
    assert np.all(np.abs(cal.trims) <= 63) and cal.q_cal == pytest.approx(73 / 63)
    assert cal.rms_after.mean() < 0.5 * cal.rms_before.mean()
    assert cal.max_after.max() == pytest.approx(b2[1].max_inl, abs=0.5)  # its own re-measurement agrees


def test_single_lost_step_is_reinserted_exactly():
    """No analog error except stuck-at-OFF devices: calibration brings every code back to within 1 LSB of
    the ideal and the mean code error close to zero (limited by the trim LSB q_cal = 73/63 codes)."""
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)
    adc = AnalogRampADC(ramp, n_columns=16, p_stuck_off=0.03, seed=3)
    assert (adc.faults == 1).sum() > 0
    before = code_error(adc)
    adc.calibrate(reads=1)
    after = code_error(adc)
    assert before.max() >= 2
    assert after.max() <= 1 and after.mean() < 0.1 * before.mean()


def test_comparator_offset_is_removed_by_calibration():
    ramp = RampADC("tanh", 5, 10, 1 / 64)
    adc = AnalogRampADC(ramp, n_columns=8, comparator_offset=6.0, seed=5)
    assert np.abs(adc.comparator_offsets).max() > 4
    assert code_error(adc).max() >= 1
    adc.calibrate(mode="offset", reads=1)
    assert code_error(adc).max() == 0
    adc.reset_calibration()
    assert adc.calibration is None and code_error(adc).max() >= 1


# ---- (d) step splitting ----------------------------------------------------------------------------------

def test_step_splitting_when_a_step_exceeds_the_device_range():
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)  # steps 8..73 codes, offset T_1 - 1/2 = -263.5
    one = AnalogRampADC(ramp)
    assert one.codes_per_device == 73.0
    assert one.device_counts == {"bias": 4, "ramp": 30, "cal": 5, "total": 39, "split_steps": 0}
    adc = AnalogRampADC(ramp, codes_per_device=16.0)
    steps = ramp.steps
    want = sum(max(1, math.ceil(s / 16)) for s in steps)
    dc = adc.device_counts
    assert dc["ramp"] == want and dc["bias"] == math.ceil(263.5 / 16)
    assert dc["split_steps"] == int((steps > 16).sum()) > 0
    # every device within [g_min, g_max]; the devices of a step sum to the step
    assert adc.device_targets.min() >= 50 and adc.device_targets.max() <= 225 + 1e-9
    contrib = (adc.device_targets - 50) / adc.kappa
    ramp_dev = adc.device_onsets > 1
    per_step = np.bincount(adc.device_onsets[ramp_dev] - 1, weights=contrib[ramp_dev], minlength=ramp.cycles)
    np.testing.assert_allclose(per_step[1:], steps, rtol=1e-12)
    x = np.arange(ramp.x_min, ramp.x_max + 1)
    np.testing.assert_array_equal(adc.convert(x), ramp.convert(x))
    # Finer conductance per code: less relative programming error (same seed, same device model).
    lin_one = linearity(AnalogRampADC(ramp, n_columns=8, prog_sigma=1.0, seed=2))
    lin_split = linearity(AnalogRampADC(ramp, n_columns=8, prog_sigma=1.0, codes_per_device=8.0, seed=2))
    assert lin_split.mean_inl < 0.6 * lin_one.mean_inl


# ---- crossbar error models -------------------------------------------------------------------------------

def test_crossbar_programming_error_faults_noise_and_drift():
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (200, 100))
    xb = CrossbarMAC(w, prog_sigma=1.0, seed=1)
    err = (xb.effective_weights - xb.weights) * xb.gain  # µS
    gp = 50 + np.maximum(w, 0) * 175
    gm = 50 + np.maximum(-w, 0) * 175
    want = np.sqrt(milo_sigma(gp) ** 2 + milo_sigma(gm) ** 2)
    assert np.std(err / want) == pytest.approx(1.0, abs=0.03)
    assert milo_sigma(50.0) == pytest.approx(4.782321 - 0.45535) and milo_sigma(600.0) == 0.0
    rel = CrossbarMAC(w, prog_rel=0.05, seed=1)
    e = rel.g_plus - gp
    assert np.std(e / (0.05 * gp)) == pytest.approx(1.0, abs=0.03)

    f = CrossbarMAC(w, p_stuck_off=0.1, p_stuck_on=0.05, seed=2)
    assert (f.faults == 1).mean() == pytest.approx(0.1, abs=0.01)
    assert (f.faults == 2).mean() == pytest.approx(0.05, abs=0.01)
    assert np.all(f.g_plus[f.faults[0] == 1] == 50) and np.all(f.g_minus[f.faults[1] == 2] == 225)

    n = CrossbarMAC(w, read_noise=0.02, seed=3)
    u = np.full((400, 200), 0.5)
    d = n.mac(u) - n.ideal(u)
    assert np.std(d / (0.02 * n.fullscale)) == pytest.approx(1.0, abs=0.02)
    # per-read noise is fresh each call but the seed reproduces the sequence
    a, b = CrossbarMAC(w, read_noise=0.02, seed=9), CrossbarMAC(w, read_noise=0.02, seed=9)
    np.testing.assert_array_equal(a.mac(u[:3]), b.mac(u[:3]))
    assert not np.array_equal(a.mac(u[:3]), a.mac(u[:3]))

    t = 86400.0
    dr = CrossbarMAC(w, drift_t=t, seed=4)
    np.testing.assert_allclose(dr.effective_weights, w * ((t + 20) / 20) ** -0.05, rtol=1e-9)
    assert float(drift_factor(0.0, 0.05)) == 1.0


def test_uniform_drift_scales_the_ramp_like_the_weights():
    """Uniform drift scales the ramp like the weights: a drifted ramp with drifted (scaled) signal is exact."""
    ramp = RampADC("sigmoid", 5, 10, 1 / 64)
    t = 3600.0
    adc = AnalogRampADC(ramp, drift_t=t)
    fac = float(drift_factor(t, 0.05))
    np.testing.assert_allclose(adc.levels()[0], fac * adc.ideal_levels, rtol=1e-9)
    x = np.arange(ramp.x_min, ramp.x_max + 1)
    # a signal that drifted by the same factor meets its drifted ramp: codes agree away from ties
    assert (adc.convert(fac * x) != ramp.convert(x)).mean() < 0.01


# ---- (e) validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"n_columns": 0}, ValueError, r"n_columns must be an integer in \[1, 65536\], not 0"),
    ({"n_columns": 2.0}, TypeError, r"n_columns must be an integer"),
    ({"g_max": -1.0}, ValueError, r"g_max must be a number in \(0.0, 1000000.0\], not -1.0"),
    ({"g_min": 300.0}, ValueError, r"g_min must be a number in \[0.0, 225.0\), not 300.0"),
    ({"g_min": "50"}, TypeError, r"g_min must be a number"),
    ({"prog_sigma": -0.1}, ValueError, r"prog_sigma must be a number in \[0.0, 100.0\], not -0.1"),
    ({"prog_rel": float("nan")}, ValueError, r"prog_rel must be a number in \[0.0, 10.0\], not nan"),
    ({"p_stuck_off": 1.5}, ValueError, r"p_stuck_off must be a number in \[0.0, 1.0\], not 1.5"),
    ({"p_stuck_off": 0.7, "p_stuck_on": 0.5}, ValueError,
     r"p_stuck_on must be a number in \[0.0, 0.30000000000000004\], not 0.5"),
    ({"drift_t": -1}, ValueError, r"drift_t must be a number in \[0.0, 1000000000000.0\], not -1"),
    ({"drift_nu": True}, TypeError, r"drift_nu must be a number"),
    ({"comparator_offset": -1}, ValueError, r"comparator_offset must be a number in \[0.0, 10000.0\]"),
    ({"comparator_noise": None}, TypeError, r"comparator_noise must be a number"),
    ({"n_cal": 65}, ValueError, r"n_cal must be an integer in \[0, 64\], not 65"),
    ({"cal_levels": 1}, ValueError, r"cal_levels must be an integer in \[2, 4096\], not 1"),
    ({"codes_per_device": 0.1}, ValueError, r"codes_per_device must be a number in \[0.5, 65536.0\], not 0.1"),
    ({"v_read_nominal": 0.0}, ValueError, r"v_read_nominal must be a number in \(0.0, 10.0\], not 0.0"),
    ({"fixed_reference": 1}, TypeError, r"fixed_reference must be True or False, not 1"),
    ({"seed": -3}, TypeError, r"seed must be a non-negative integer or a numpy.random.Generator, not -3"),
    ({"seed": 1.5}, TypeError, r"seed must be a non-negative integer"),
])
def test_analog_adc_validation(kw, exc, match):
    with pytest.raises(exc, match=match):
        AnalogRampADC(RampADC("sigmoid", 4, 8, 1 / 16), **kw)


def test_analog_adc_validation_of_ramp_calls_and_keyword_only():
    ramp = RampADC("sigmoid", 4, 8, 1 / 16)
    with pytest.raises(TypeError, match="ramp must be a RampADC, not str"):
        AnalogRampADC("sigmoid")
    with pytest.raises(TypeError):
        AnalogRampADC(ramp, 4)  # keyword-only parameters
    adc = AnalogRampADC(ramp)
    with pytest.raises(ValueError, match=r"v_read must be a number in \(0.0, 100.0\], not -0.2"):
        adc.convert([1, 2], v_read=-0.2)
    with pytest.raises(ValueError, match="inputs must be finite"):
        adc.convert([np.nan])
    with pytest.raises(ValueError, match=r"mode must be one of \('piecewise', 'offset'\), not 'bias'"):
        adc.calibrate(mode="bias")
    with pytest.raises(ValueError, match=r"sub must be an even integer in \[2, 64\], not 3"):
        adc.calibrate(sub=3)
    with pytest.raises(ValueError, match=r"reads must be an integer in \[1, 1024\], not 0"):
        adc.calibrate(reads=0)
    with pytest.raises(AttributeError):
        adc.n_columns = 3  # read-only


@pytest.mark.parametrize(("args", "kw", "exc", "match"), [
    (([[1.0]],), {"in_lsb": 0}, ValueError, r"in_lsb must be a number in \(0.0, 1000000.0\], not 0"),
    (([1.0, 2.0],), {}, ValueError, r"weights must be a non-empty 2-D array \[n_in, n_out\], not shape \(2,\)"),
    (([[True]],), {}, TypeError, r"weights must be a real numeric array, not dtype bool"),
    (([[np.inf]],), {}, ValueError, "weights must be finite"),
    (([[0.0]],), {}, ValueError, "weights are all zero: give w_max"),
    (([[1.0]],), {"w_max": -2}, ValueError, r"w_max must be a number in \(0.0, 1000000000000.0\], not -2"),
    (([[1.0]],), {"u_max": 0}, ValueError, r"u_max must be a number in \(0.0, 1000000.0\], not 0"),
    (([[1.0]],), {"read_noise": 11}, ValueError, r"read_noise must be a number in \[0.0, 10.0\], not 11"),
    (([[1.0]],), {"p_stuck_on": -0.1}, ValueError, r"p_stuck_on must be a number in \[0.0, 1.0\], not -0.1"),
    (([[1.0]],), {"seed": "x"}, TypeError, r"seed must be a non-negative integer"),
])
def test_crossbar_validation(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        CrossbarMAC(*args, **kw)


def test_crossbar_input_validation():
    xb = CrossbarMAC(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"inputs must have a last axis of 3 \(n_in\), not shape \(2,\)"):
        xb.mac([1.0, 2.0])
    with pytest.raises(ValueError, match="inputs must be finite"):
        xb.mac([1.0, np.nan, 0.0])
    with pytest.raises(ValueError, match=r"v_read must be a number"):
        xb.mac([1.0, 0.0, 0.0], v_read=0)
