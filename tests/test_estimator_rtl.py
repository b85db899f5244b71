# amaranth: UnusedElaboratable=no
"""The estimator's cycle formulas against the cycles the cocotb testbenches measure on the RTL (Icarus,
or Verilator with SIM=verilator): INT MAC lane, SIMD MAC in each mode (mixed-mode dot products), the
ternary engine (both epilogues), and the ramp ADC."""

from __future__ import annotations

import json

import pytest

from npegen.analysis.estimator import adc_job_cycles, int_mac_job_cycles, simd_job_cycles, ternary_job_cycles
from npegen.models.int_mac import IntMacParams
from npegen.models.ramp_adc import RampAdcParams
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
    assert simd_job_cycles(p, [tuple(j) for j in m["jobs"]]) == m["cycles"]


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96)], ids=lambda p: p.tag)
def test_ternary_cycles_equal_rtl(p, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_ternary import verify_ternary

    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_ternary(p, sim=sim, seed=seed, testcase="test_cycles_per_row")
    (m,) = _measured(f, "ternary.test_cycles_per_row")
    assert ternary_job_cycles(p, m["rows"], m["k"]) == m["cycles"]


@pytest.mark.parametrize("p", [RampAdcParams(), RampAdcParams(fn="tanh", n_bits=3, in_bits=8, in_lsb=1 / 32, n_cols=4),
                               RampAdcParams(fn="gelu", n_bits=5, in_bits=8, in_lsb=1 / 64, column="counter")],
                         ids=lambda p: p.tag)
def test_ramp_adc_cycles_equal_rtl(p, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_ramp_adc import verify_ramp_adc

    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_ramp_adc(p, sim=sim, seed=seed, testcase="test_all_inputs_back_to_back")
    (m,) = _measured(f, "ramp_adc.test_all_inputs_back_to_back")
    assert adc_job_cycles(p.adc, m["conversions"]) == m["cycles"]


@pytest.mark.parametrize("stages", [1, 2, 4])
def test_int_mac_cycles_equal_rtl(stages, sim, seed, tmp_path, monkeypatch):
    from npegen.sim.tb_int_mac import verify_int_mac

    p = IntMacParams(width=8, stages=stages)
    f = tmp_path / "measure.jsonl"
    monkeypatch.setenv("NPEGEN_MEASURE_FILE", str(f))
    verify_int_mac(p, sim=sim, seed=seed, testcase="test_reset_and_ready")
    (m,) = _measured(f, "int_mac.test_reset_and_ready")
    assert int_mac_job_cycles(p, 1, 1, m["k"]) == m["cycles"]
