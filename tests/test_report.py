"""The report behind `make demo`: tables, plots that open, the key comparisons, one-line CLI errors."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.image as mpimg
import pytest

from npegen.analysis.estimator import default_design
from npegen.analysis.report import key_comparisons, write_report, xr_deadlines


def test_write_report(tmp_path):
    res = write_report(tmp_path, default_design())
    text = res["report"].read_text()
    for head in ("## Key comparisons", "## Workloads", "## XRBench scenarios", "## Every energy and area number"):
        assert head in text
    for p in res["plots"].values():
        img = mpimg.imread(p)
        assert img.shape[0] > 200 and img.shape[1] > 400
    assert len(res["summary"]) >= 28 and (res["summary"]["runs/s"] > 0).all()
    assert res["provenance"]["source"].str.len().min() > 5


def test_key_comparisons_and_deadlines():
    comp = key_comparisons(default_design())
    assert comp.loc["LLaMA-3.2-1B decode linears, tokens/s at 25.6 GB/s", "ratio"] >= 1.5
    assert comp.loc["energy per activation (KWS LSTM-S), pJ", "ratio"] >= 3
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
    assert "scenarios meet every deadline on small" in r.stdout
    assert (tmp_path / "rep" / "report.md").is_file() and (tmp_path / "rep" / "xr_deadlines.png").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text('{"crossbar": {"adc_bits": 12}}')
    r = subprocess.run([sys.executable, "-m", "npegen", "report", "--no-blocks", "--design", str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "adc_bits" in r.stderr
