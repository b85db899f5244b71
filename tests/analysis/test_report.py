"""The report behind `make demo`: tables, plots that open, the key comparisons, one verdict per XRBench scenario
used everywhere, every printed number traceable in provenance.csv, one-line CLI errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import matplotlib.image as mpimg
import pandas as pd
import pytest

from npegen.analysis import workloads as W
from npegen.analysis.estimator import default_design, estimate
from npegen.analysis.report import (
    DEADLINE_STATUS,
    deadline_plot_data,
    key_comparisons,
    scenario_verdicts,
    write_report,
    xr_deadlines,
)
from npegen.analysis.workloads import get_workload

# transistor counts standing in for synthesis (the area arithmetic is what these tests check; `npegen report`
# and the CLI test below synthesise for real)
FAKE_AREAS = {"simd": 96000, "ternary": 52000, "int_mac": 7800, "ramp_adc": 136000}


def _design():
    return replace(default_design(), areas=FAKE_AREAS)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    return out, write_report(out, _design())


def test_write_report(report):
    out, res = report
    text = res["report"].read_text()
    for head in ("## Area", "## Key comparisons", "## Workloads", "## XRBench scenarios", "## Provenance"):
        assert head in text
    for p in res["plots"].values():
        img = mpimg.imread(p)
        assert img.shape[0] > 200 and img.shape[1] > 400
    assert {"roofline_simd", "roofline_ternary", "roofline_int_mac", "roofline_crossbar"} <= set(res["plots"])
    assert len(res["summary"]) >= 28 and (res["summary"]["runs/s"] > 0).all()
    prov = pd.read_csv(out / "provenance.csv", index_col="name")
    assert prov["source"].str.len().min() > 5
    assert set(prov["status"]) == {"measured", "characterised", "assumed"}


def test_scenario_verdict_agrees_everywhere(report):
    out, res = report
    xr, scen = res["xr"], res["scenarios"]
    n_met, n = int(scen["meets every deadline"].sum()), len(scen)
    # a scenario whose time shares add up to more than 1 does not meet its deadlines (AR_Assistant: 1.14)
    over = scen[scen["time_share_sum"] > 1]
    assert len(over) and not over["meets every deadline"].any() and n_met < n
    assert (scen["meets every deadline"] == (scen["fits"] & scen["deadlines_met"])).all()
    # console / report.md sentence and the plot's data say the same
    assert res["xr_line"].startswith(f"XRBench: {n_met} of {n} scenarios meet every deadline")
    assert f"**XRBench: {n_met} of {n} scenarios meet every deadline" in res["report"].read_text()
    for frame in (xr, pd.read_csv(out / "xr_deadlines.csv")):  # the data behind xr_deadlines.png, and its CSV
        data = deadline_plot_data(frame)
        heads = data[data["kind"] == "scenario"].set_index("scenario")
        assert int(heads["meets"].sum()) == n_met and (heads["meets"] == scen["meets every deadline"]).all()
        bars = data[data["kind"] == "model"]
        green = bars[bars["color"] == DEADLINE_STATUS["meets"]]
        assert not green["scenario"].isin(over.index).any()  # nothing green in a scenario that does not fit
        assert set(green["scenario"]) <= set(scen.index[scen["meets every deadline"]])


def test_scenario_verdicts_rule():
    xr = pd.DataFrame({"scenario": ["a", "a", "b", "c"], "model": ["m1", "m2", "m3", "m4"],
                       "chain_latency_ms": [1.0, 2.0, 5.0, 1.0], "deadline_ms": [10.0, 10.0, 4.0, 10.0],
                       "time_share": [0.6, 0.5, 0.1, 0.2]})
    v = scenario_verdicts(xr)
    assert list(v["meets every deadline"]) == [False, False, True]
    assert "1.10 > 1" in v.loc["a", "verdict"] and "m3 takes 5 ms > 4 ms" in v.loc["b", "verdict"]


def test_every_printed_number_is_traceable(report):
    out, res = report
    prov = pd.read_csv(out / "provenance.csv", index_col="name")
    comp = pd.read_csv(out / "comparisons.csv", index_col="comparison")
    for name, keys in comp["provenance keys"].items():
        missing = set(keys.split()) - set(prov.index)
        assert keys and not missing, f"{name}: {missing} not in provenance.csv"
    # every key behind every workload row (and so behind the XRBench rows): energy and area entries, design,
    # synthesis, cycle models, the workload itself
    design = _design()
    for wl in W.WORKLOADS:
        missing = set(estimate(design, get_workload(wl)).keys) - set(prov.index)
        assert not missing, f"{wl}: {missing} not in provenance.csv"
    for key in ("area.sram_um2_per_bit", "area.nand2", "area.transistors_per_nand2", "leak.mw_per_mm2",
                "adc.sar.fj_per_bit", "synth.simd.transistors", "design.tech.clock_mhz", "cycles.simd"):
        assert key in prov.index, key
    # values taken at another node say how they were scaled to the design's 28 nm
    assert prov.loc["mac.bf16", "scaling"].startswith("scaled from 45 nm")
    assert prov.loc["mac.int8", "scaling"].startswith("scaled from 45 nm")
    assert prov.loc["nl.digital", "scaling"].startswith("scaled from 40 nm")
    assert prov.loc["mac.bf16", "value_used"] == pytest.approx(1.5 * 28 / 45)
    assert pd.isna(prov.loc["mac.posit8_0", "scaling"])  # a 28 nm value is used as given
    # the printed area can be recomputed from provenance rows alone (default crossbar: one ramp per crossbar)
    v = pd.to_numeric(prov["value_used"], errors="coerce")
    count = {"simd": "design.simd", "ternary": "design.ternary", "int_mac": "design.int_mac",
             "ramp_adc": "design.crossbar"}
    um2 = sum(v[count[k]] * v[f"synth.{k}.transistors"] / v["area.transistors_per_nand2"] * v["area.nand2"]
              for k in FAKE_AREAS)
    um2 += v["design.memory.sram_kib"] * 8192 * v["area.sram_um2_per_bit"]
    assert um2 * 1e-6 == pytest.approx(design.area_mm2(), rel=1e-9)
    assert f"area {um2 * 1e-6:.3f} mm^2" in res["report"].read_text()


def test_every_ratio_says_what_over_what():
    comp = key_comparisons(default_design())
    assert comp.loc["LLaMA-3.2-1B decode linears, tokens/s at 25.6 GB/s", "ratio"] >= 1.5
    assert comp.loc["energy per activation (KWS LSTM-S), pJ", "ratio"] >= 3
    for name, c in comp.iterrows():
        # "label value" pairs of ours and baseline; ratio_of must start "<label> / <label>"
        vals = dict(part.rsplit(" ", 1) for part in f"{c['ours']}, {c['baseline']}".split(", "))
        pairs = [(a, b) for a in vals for b in vals if c["ratio_of"].startswith(f"{a} / {b} ")]
        assert len(pairs) == 1, f"{name}: ratio_of {c['ratio_of']!r} does not name two of {list(vals)}"
        (a, b), = pairs
        assert c["ratio"] == pytest.approx(float(vals[a]) / float(vals[b]), rel=0.01), name


def test_key_comparisons_and_deadlines():
    xr = xr_deadlines(default_design())
    assert set(xr["scenario"]) == {"AR_Assistant", "AR_gaming", "VR_gaming", "outdoor_activity_A",
                                   "outdoor_activity_B", "social_interactionA", "social_interactionB"}
    assert ((xr["chain_latency_ms"] <= xr["deadline_ms"]) == xr["meets_deadline"]).all()
    ge = xr[(xr["scenario"] == "VR_gaming") & (xr["model"] == "xrbench.GE_FBNet_C")].iloc[0]
    es = xr[(xr["scenario"] == "VR_gaming") & (xr["model"] == "xrbench.ES_RITNet")].iloc[0]
    assert ge["chain_latency_ms"] == pytest.approx(ge["latency_ms"] + es["latency_ms"])  # the ES -> GE cascade


def test_cli_report_without_blocks(tmp_path):
    design = tmp_path / "d.json"
    design.write_text('{"name": "small", "simd": {"count": 4}}')
    r = subprocess.run([sys.executable, "-m", "npegen", "report", "--no-blocks", "--design", str(design), "-o",
                        str(tmp_path / "rep")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "[report] estimated llm.llama32_1b.decode" in r.stdout
    m = re.search(r"XRBench: (\d+) of (\d+) scenarios meet every deadline on small \(([0-9.]+) mm\^2\)", r.stdout)
    assert m, r.stdout[-1500:]
    rep = tmp_path / "rep"
    text = (rep / "report.md").read_text()
    assert f"**XRBench: {m.group(1)} of {m.group(2)} scenarios meet every deadline on small" in text
    scen = pd.read_csv(rep / "xr_scenarios.csv", index_col="scenario")
    heads = deadline_plot_data(pd.read_csv(rep / "xr_deadlines.csv")).query("kind == 'scenario'")
    assert int(scen["meets every deadline"].sum()) == int(heads["meets"].sum()) == int(m.group(1))
    assert (rep / "xr_deadlines.png").is_file()
    # npegen estimate --synth reports the same area and energy (leakage included) as the report
    e = subprocess.run([sys.executable, "-m", "npegen", "estimate", "--synth", "--design", str(design), "--workload",
                        "llm.llama32_1b.decode", "--json"], capture_output=True, text=True, check=False)
    assert e.returncode == 0, e.stderr
    s = json.loads(e.stdout)["summary"]
    assert f"{s['area_mm2']:.2f}" == m.group(3) and s["leakage_J"] > 0
    wl = pd.read_csv(rep / "workloads.csv", index_col="workload").loc["llm.llama32_1b.decode"]
    assert s["energy_per_run_J"] * 1e3 == pytest.approx(wl["energy/run mJ"], rel=1e-9)
    bad = tmp_path / "bad.json"
    bad.write_text('{"crossbar": {"adc_bits": 12}}')
    r = subprocess.run([sys.executable, "-m", "npegen", "report", "--no-blocks", "--design", str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "adc_bits" in r.stderr
