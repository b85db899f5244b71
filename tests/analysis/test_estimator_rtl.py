# amaranth: UnusedElaboratable=no
"""The estimator's cycle formulas against the cycles the cocotb testbenches measure on the RTL (Icarus,
or Verilator with SIM=verilator): INT MAC lane, SIMD MAC in each mode (mixed-mode dot products), the
ternary engine (both epilogues), and the ramp ADC.

Each formula is defined once, on its parameter object (:meth:`SimdMacParams.job_cycles`,
:meth:`TernaryParams.job_cycles`, :meth:`IntMacParams.job_cycles`, :meth:`RampADC.job_cycles`). The
``*_cycles_equal_rtl`` tests check the formula; ``test_estimate_cycles_equal_rtl`` checks what
:func:`estimate` itself reports for a one-layer workload sized to the measured job, on the design point the
estimator uses; ``test_estimate_calls_job_cycles`` shows the estimate moves when the formula does."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from npegen.analysis.estimator import CrossbarArray, IntMacArray, SimdArray, TernaryArray, default_design, estimate
from npegen.analysis.workloads import Layer, Workload
from npegen.models.int_mac import IntMacParams
from npegen.models.ramp_adc import RampADC, RampAdcParams
from npegen.models.simd_mac import SimdMacParams
from npegen.models.ternary import TernaryParams


def _measured(path, test):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    got = [r for r in rows if r["test"] == test]
    assert got, f"the testbench recorded no {test} measurement"
    return got


@pytest.mark.parametrize("p", [SimdMacParams(stages=1), SimdMacParams(stages=3), SimdMacParams(dot=True)],
                         ids=lambda p: f"s{p.stages}{'_dot' if p.dot else ''}")
def test_simd_mac_cycles_equal_rtl(p, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_simd_mac import verify_simd_mac

    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_simd_mac(p, sim=sim, seed=seed, testcase="test_latency")
    (m,) = _measured(f, "simd_mac.test_latency")
    assert {j[0] for j in m["jobs"]} == set(p.modes), "the run should cover every mode"
    assert p.job_cycles([tuple(j) for j in m["jobs"]]) == m["cycles"]


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96)], ids=lambda p: p.tag)
def test_ternary_cycles_equal_rtl(p, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_ternary import verify_ternary

    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_ternary(p, sim=sim, seed=seed, testcase="test_cycles_per_row")
    (m,) = _measured(f, "ternary.test_cycles_per_row")
    assert p.job_cycles(m["rows"], m["k"]) == m["cycles"]


@pytest.mark.parametrize("p", [RampAdcParams(), RampAdcParams(fn="tanh", n_bits=3, in_bits=8, in_lsb=1 / 32, n_cols=4),
                               RampAdcParams(fn="gelu", n_bits=5, in_bits=8, in_lsb=1 / 64, column="counter")],
                         ids=lambda p: p.tag)
def test_ramp_adc_cycles_equal_rtl(p, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_ramp_adc import verify_ramp_adc

    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_ramp_adc(p, sim=sim, seed=seed, testcase="test_all_inputs_back_to_back")
    (m,) = _measured(f, "ramp_adc.test_all_inputs_back_to_back")
    assert p.adc.job_cycles(m["conversions"]) == m["cycles"]


@pytest.mark.parametrize("stages", [1, 2, 4])
def test_int_mac_cycles_equal_rtl(stages, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_int_mac import verify_int_mac

    p = IntMacParams(width=8, stages=stages)
    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_int_mac(p, sim=sim, seed=seed, testcase="test_reset_and_ready")
    (m,) = _measured(f, "int_mac.test_reset_and_ready")
    assert p.job_cycles(1, 1, m["k"]) == m["cycles"]


# ---- estimate() itself: one layer sized to the measured job, on the estimator's own design point ----------

#: One engine of each kind, with the default design's parameters (the crossbar: 8 columns per ramp, so the
#: ramp-ADC bench converts 8 columns at a time; its ADC is :attr:`CrossbarArray.ramp_adc`, as the estimate's).
_D0 = default_design()
_DESIGN = replace(_D0, engines=(SimdArray(count=1, params=_D0.simd.params),
                                 TernaryArray(count=1, params=_D0.ternary.params),
                                 IntMacArray(lanes=1, params=_D0.int_mac.params),
                                 replace(_D0.crossbar, count=1, cols=8, cols_per_ramp=8, cols_per_adc=8)))


def _measure(engine: str, sim, seed, tmp_path, monkeypatch) -> tuple[Layer, int]:
    """Run ``engine``'s testbench job measurement on :data:`_DESIGN`'s design point: the one-layer job the
    estimate should cost as the RTL did, and the measured cycles."""
    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    if engine == "simd":
        from npegen.sim.tb_simd_mac import verify_simd_mac

        p = _DESIGN.simd.params
        verify_simd_mac(p, sim=sim, seed=seed, testcase="test_latency")
        (m,) = _measured(f, "simd_mac.test_latency")
        # the bench streams dot products back to back (it asserts no bubbles), each of `lanes` outputs: as
        # many beats as one dot product of their total length on one beat's outputs, with one fill/drain
        mode, lanes, _ = m["jobs"][-1]
        return Layer("job", m=1, n=lanes, k=sum(j[2] for j in m["jobs"]), precision=mode), m["cycles"]
    if engine == "ternary":
        from npegen.sim.tb_ternary import verify_ternary

        verify_ternary(_DESIGN.ternary.params, sim=sim, seed=seed, testcase="test_cycles_per_row")
        (m,) = _measured(f, "ternary.test_cycles_per_row")
        return Layer("job", m=1, n=m["rows"], k=m["k"], precision="ternary"), m["cycles"]
    if engine == "int_mac":
        from npegen.sim.tb_int_mac import verify_int_mac

        verify_int_mac(_DESIGN.int_mac.params, sim=sim, seed=seed, testcase="test_reset_and_ready")
        (m,) = _measured(f, "int_mac.test_reset_and_ready")
        return Layer("job", m=1, n=1, k=m["k"], precision="int8"), m["cycles"]
    from npegen.sim.tb_ramp_adc import verify_ramp_adc

    xb = _DESIGN.crossbar
    verify_ramp_adc(RampAdcParams(n_cols=xb.cols_per_ramp), adc=xb.ramp_adc, sim=sim, seed=seed,
                    testcase="test_all_inputs_back_to_back")
    (m,) = _measured(f, "ramp_adc.test_all_inputs_back_to_back")
    # one MVM per conversion: one crossbar tile (k <= rows, n = cols), m["conversions"] input vectors
    return Layer("job", m=m["conversions"], n=xb.cols, k=xb.rows, precision="analog"), m["cycles"]


def _compute_cycles(design, layer: Layer) -> float:
    """``estimate()``'s compute cycles of the one layer (everything but the memory stall); for the crossbar,
    the ADC's share (``adc_nl``: the crossbar reads have no RTL)."""
    (row,) = estimate(design, Workload("one-layer", (layer,))).layers.to_dict(orient="records")
    if row["engine"] == "crossbar":
        return row["adc_nl"]
    return row["ideal"] + row["mapping_loss"] + row["fill_drain"] + row["adc_nl"]


@pytest.mark.parametrize("engine", ["simd", "ternary", "int_mac", "ramp_adc"])
def test_estimate_cycles_equal_rtl(engine, sim, seed, tmp_path, monkeypatch):
    layer, measured = _measure(engine, sim, seed, tmp_path, monkeypatch)
    assert _compute_cycles(_DESIGN, layer) == pytest.approx(measured, abs=1e-9), layer


_JOB_CYCLES = {"simd": (SimdMacParams, Layer("l", m=3, n=5, k=7, precision="posit8_0")),
               "ternary": (TernaryParams, Layer("l", m=3, n=5, k=200, precision="ternary")),
               "int_mac": (IntMacParams, Layer("l", m=3, n=5, k=7, precision="int8")),
               "ramp_adc": (RampADC, Layer("l", m=3, n=5, k=7, precision="analog"))}


@pytest.mark.parametrize("engine", list(_JOB_CYCLES))
def test_estimate_calls_job_cycles(engine, monkeypatch):
    """One more cycle from the parameter object's ``job_cycles`` is one more cycle per run in the estimate:
    the estimate has no copy of the formula."""
    cls, layer = _JOB_CYCLES[engine]
    layer = replace(layer, repeat=3)
    before = _compute_cycles(_DESIGN, layer)
    orig = cls.job_cycles
    monkeypatch.setattr(cls, "job_cycles", lambda self, *a: orig(self, *a) + 1)
    assert _compute_cycles(_DESIGN, layer) == pytest.approx(before + 3, abs=1e-9)


def test_crossbar_ramp_cycles_follow_the_adc(monkeypatch):
    """The crossbar's conversion time is :attr:`RampADC.cycles` of its ADC (one per ramp step, also in LUT
    mode), not ``2**bits - 1``."""
    lut = RampADC("gelu", 5, 10, 1 / 64)  # non-monotone: a code table, one ramp step per breakpoint
    assert lut.mode == "lut" and lut.cycles != (1 << 5) - 1
    monkeypatch.setattr(CrossbarArray, "ramp_adc", property(lambda self: lut))
    layer = Layer("l", m=4, n=8, k=8, precision="analog")
    assert _DESIGN.crossbar.conversion_cycles == lut.cycles
    assert _compute_cycles(_DESIGN, layer) == lut.job_cycles(4) == 4 * lut.cycles + 2
