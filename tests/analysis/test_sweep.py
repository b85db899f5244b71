"""Sweep engine: samplers and constraints, errors recorded per point, resume after kill -9 with every point
computed exactly once, the same DataFrame on a Dask LocalCluster as on the local process pool, Pareto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from npegen.analysis.sweep import METRICS, Space, load_results, pareto_mask, pareto_plot, point_key, run_sweep

# int-mac points synthesise in a few seconds (and come from the synthesis cache after the first run)
SPACE = dict(name="intmac", block="int-mac", params={"width": [8, 10, 12], "stages": [1, 2], "count": [64],
                                                     "workload": "xr.vio_ulvio", "precision": "int8"})
# a bigger space for the kill test, so the sweep is still running when two points have finished (12 points,
# 4 engines to synthesise: the counts share an engine)
KILL_SPACE = dict(name="intmac_kill", block="int-mac", params={"width": [8, 12], "stages": [1, 2],
                                                               "count": [16, 64, 256], "workload": "xr.vio_ulvio",
                                                               "precision": "int8"})
RESULT_COLS = ["key", "status", "error", "width", "stages", "cells", "transistors", "runs_per_s", "energy_per_run_J"]


def test_samplers_and_constraints():
    g = Space(name="g", block="ternary", params={"lanes": [3, 6], "packing": ["sherry", "tl2"]},
              constraints=["packing != 'tl2' or lanes % 3 == 0"])
    assert len(g.points()) == 4
    c = Space(name="c", block="ternary", params={"lanes": [4, 6], "packing": ["sherry", "tl2"]},
              constraints=["packing != 'tl2' or lanes % 3 == 0"])
    assert {(p["lanes"], p["packing"]) for p in c.points()} == {(4, "sherry"), (6, "sherry"), (6, "tl2")}
    r = Space(name="r", block="simd-mac", sampler="lhs", samples=12, seed=3,
              params={"stages": {"low": 1, "high": 4, "int": True}, "count": {"low": 16, "high": 1024, "log": True,
                                                                              "int": True}})
    pts = r.points()
    assert pts == r.points() and len(pts) >= 8  # reproducible; duplicates removed
    assert all(1 <= p["stages"] <= 4 and 16 <= p["count"] <= 1024 for p in pts)
    # Latin hypercube: every quarter of the stages range is hit
    assert {p["stages"] for p in pts} == {1, 2, 3, 4}
    rnd = Space(name="x", block="int-mac", sampler="random", samples=5, params={"width": [4, 8, 16]})
    assert all(p["width"] in (4, 8, 16) for p in rnd.points())


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(block="gpu"), "sweep block must be one of"),
        (dict(sampler="sobol"), "sampler must be one of"),
        (dict(params={"width": {"low": 4, "high": 8}}), "grid sampler needs a list"),
        (dict(params={"width": []}), "empty list"),
        (dict(constraints=["width >"]), "not a Python expression"),
        (dict(samples=0), r"samples must be an integer in \[1, 100000\]"),
    ],
)
def test_bad_spaces(kw, match):
    args = dict(name="s", block="int-mac", params={"width": [8]})
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        Space(**args)


def test_invalid_point_is_recorded_and_the_sweep_continues(tmp_path):
    sp = Space(name="bad", block="int-mac", params={"width": [8, 40], "count": [16], "workload": "xr.vio_ulvio",
                                                    "precision": "int8"})
    df = run_sweep(sp, tmp_path, workers=2, progress=False)
    assert list(df["status"]) == ["ok", "error"]
    assert "width must be an integer in [2, 32], not 40" in df.loc[1, "error"]
    assert df.loc[0, "transistors"] > 0 and df.loc[0, "runs_per_s"] > 0
    metrics = {c.removesuffix("_result") for c in df.columns} - {"key", "status", "error", "seconds", "worker"}
    metrics -= set(sp.params) - {"workload"}  # the workload parameter and metric share a name
    assert metrics == set(METRICS)  # what --pareto and the docs name is exactly what a point returns


def _frame(df):
    return df[RESULT_COLS].sort_values("key").reset_index(drop=True)


def test_kill_9_midway_then_resume_computes_every_point_once(tmp_path):
    out = tmp_path / "sweep"
    script = textwrap.dedent(f"""
        import sys
        from npegen.analysis.sweep import Space, run_sweep
        run_sweep(Space(**{KILL_SPACE!r}), {str(out)!r}, workers=1, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    store = out / "results.csv"
    t0 = time.time()
    while time.time() - t0 < 300:
        if store.is_file() and len(store.read_text().strip().splitlines()) >= 3:  # header + 2 finished points
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-point
    proc.wait()
    first = load_results(store)
    n_first = len(first)
    assert 2 <= n_first < 12
    df = run_sweep(Space(**KILL_SPACE), out, workers=2, progress=False)
    assert len(df) == 12 and df["key"].is_unique and (df["status"] == "ok").all()
    allrows = load_results(store)
    assert len(allrows) == 12 and allrows["key"].is_unique  # nothing computed twice
    kept = allrows.set_index("key").loc[first["key"], "worker"]
    assert list(kept) == list(first["worker"])  # the finished points of the killed run were not redone
    assert set(df["key"]) == {point_key("int-mac", p) for p in Space(**KILL_SPACE).points()}


def test_dask_local_cluster_gives_the_same_dataframe(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run_sweep(Space(**SPACE), tmp_path / "local", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        dask_df = run_sweep(Space(**SPACE), tmp_path / "dask", executor=client.get_executor(), progress=False)
    pd.testing.assert_frame_equal(_frame(local), _frame(dask_df))


def test_pareto(tmp_path):
    df = pd.DataFrame({"area": [1, 2, 3, 1.5, 2.5], "energy": [5, 3, 1, 5, 4], "name": list("abcde")})
    m = pareto_mask(df, {"area": "min", "energy": "min"})
    assert list(m) == [True, True, True, False, False]
    assert list(pareto_mask(df, {"area": "max", "energy": "max"})) == [False, False, True, True, True]
    with pytest.raises(ValueError, match="no column 'power'"):
        pareto_mask(df, {"power": "min"})
    p = pareto_plot(df, "area", "energy", tmp_path / "p.png", label="name")
    import matplotlib.image as mpimg

    assert mpimg.imread(p).shape[0] > 100
    assert np.isfinite(df["area"]).all()


def test_cli_sweep_resumes_and_reports_errors(tmp_path):
    import json

    space = tmp_path / "s.yaml"
    space.write_text("name: cli\nblock: int-mac\nparams:\n  width: [8, 99]\n  count: 16\n"
                     "  workload: xr.vio_ulvio\n  precision: int8\n")
    cmd = [sys.executable, "-m", "npegen", "sweep", str(space), "--out", str(tmp_path / "o"), "--workers", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 1, r.stderr[-2000:]  # a failed point: exit 1, with everything else written
    assert "1 of 2 points ok" in r.stdout and "width must be an integer in [2, 32], not 99" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("npegen: error: 1 of 2 points of sweep 'cli' failed")
    assert "Traceback" not in r.stderr
    assert (tmp_path / "o" / "pareto.png").is_file()
    assert json.loads((tmp_path / "o" / "space.json").read_text())["name"] == "cli"
    r2 = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r2.returncode == 1 and len(load_results(tmp_path / "o" / "results.csv")) == 2  # nothing re-run
    bad = tmp_path / "b.yaml"
    bad.write_text("name: b\nblock: int-mac\nparams: {width: [8]}\nsampler: sobol\n")
    r3 = subprocess.run([sys.executable, "-m", "npegen", "sweep", str(bad)], capture_output=True, text=True,
                        check=False)
    assert r3.returncode == 2 and r3.stderr.count("\n") == 1 and "sampler must be one of" in r3.stderr


def test_verify_runs_the_testbench_per_point(tmp_path, sim):
    sp = Space(name="v", block="ramp-adc", verify=True,  # verified through the block registry, no CLI
               params={"fn": ["sigmoid", "tanh"], "n_bits": 3, "in_bits": 6, "in_lsb": 0.125, "n_cols": 4})
    df = run_sweep(sp, tmp_path, workers=2, progress=False)
    assert list(df["status"]) == ["ok", "ok"] and list(df["verified_tests"]) == [2, 2]
