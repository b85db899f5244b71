# amaranth: UnusedElaboratable=no
"""npegen.flow: one design point through generate -> verify -> synthesise, the demo's points and tables, atomic
writes; and the sweep summary the command line prints. Verification and synthesis are stubbed here (their real runs
are in test_cli.py's demo test and the block tests)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from npegen import blocks, flow
from npegen.analysis import sweep


@pytest.fixture
def stubbed(monkeypatch):
    """Every block verifies and synthesises at once, recording its calls."""
    from npegen.hw import synth

    calls = {"verify": [], "synth": []}

    def verify(params, **kw):
        calls["verify"].append((params.tag, kw))
        return SimpleNamespace(tests=3, skipped=1, seconds=0.25, seed=kw.get("seed") or 11, sim=kw["sim"],
                               build_dir=Path("/b") / params.tag, waves=None)

    def synthesize(component, *, top, tag="", **kw):
        calls["synth"].append((top, tag, kw))
        return SimpleNamespace(cells=10 * len(tag), transistors=100 * len(tag), luts=len(tag), ffs=2, cached=False,
                               seconds=1.5)

    monkeypatch.setattr(synth, "synthesize", synthesize)
    for name, spec in list(blocks.REGISTRY.items()):
        monkeypatch.setitem(blocks.REGISTRY, name, dataclasses.replace(spec, verify=verify))
    return calls


def test_write_atomic_is_whole_or_nothing(tmp_path):
    p = flow.write_atomic(tmp_path / "a.txt", "one\r\ntwo\n")
    assert p == tmp_path / "a.txt" and p.read_bytes() == b"one\r\ntwo\n"  # written as given (CSV line ends kept)
    flow.write_atomic(p, lambda tmp: Path(tmp).write_text("new"))
    assert p.read_text() == "new"

    def half(tmp):
        Path(tmp).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        flow.write_atomic(p, half)
    assert p.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["a.txt"]  # old file kept, no temporary


def test_write_verilog_leaves_identical_files_alone(tmp_path):
    spec = blocks.get("int-mac")
    params = spec.from_args(spec.defaults())
    path = flow.write_verilog("int-mac", params, tmp_path / "new")
    assert path == tmp_path / "new" / "int_mac.v" and "module int_mac(" in path.read_text()
    os.utime(path, (1, 1))
    assert flow.write_verilog(spec, params, tmp_path / "new") == path and path.stat().st_mtime == 1


def test_demo_points_selects_and_refuses():
    assert flow.demo_points() == flow.DEMO_POINTS and flow.demo_points() is not flow.DEMO_POINTS
    sel = flow.demo_points(" ternary,int-mac ")
    assert [b for b, _ in sel] == ["int-mac"] * 4 + ["ternary"] * 4  # in the demo's order
    with pytest.raises(ValueError, match=r"unknown block\(s\) \['frob'\]; the demo has \['decoder'"):
        flow.demo_points("int-mac,frob")
    with pytest.raises(ValueError, match=r"unknown block\(s\) \[','\]"):
        flow.demo_points(",")


def test_every_demo_point_is_a_valid_design_point():
    tags = []
    for name, kw in flow.DEMO_POINTS:
        import argparse

        tags.append((name, blocks.get(name).from_args(argparse.Namespace(**kw)).tag))
    assert len(set(tags)) == len(tags) == 22


def test_run_points_generates_verifies_and_synthesises(stubbed, tmp_path):
    said = []
    rows = flow.run_points(flow.demo_points("int-mac")[:2], out=tmp_path, sim="icarus", seed=5, label="t",
                           say=said.append)
    assert [r["design point"] for r in rows] == ["w8_a24_wrap_s1", "w8_a18_saturate_s2"]
    assert rows[0] == {"block": "int-mac", "design point": "w8_a24_wrap_s1", "latency": 1, "verified":
                       "2 tests on icarus", "cells": 140, "transistors": 1400, "LUTs": 14, "FFs": 2}
    assert (tmp_path / "w8_a24_wrap_s1" / "int_mac.v").is_file()
    assert said[:3] == [f"[t 1/2] int-mac w8_a24_wrap_s1: Verilog {tmp_path / 'w8_a24_wrap_s1' / 'int_mac.v'}",
                        "[t 1/2] int-mac w8_a24_wrap_s1: 2 cocotb tests passed on icarus in 0.2 s (seed=5, log "
                        "/b/w8_a24_wrap_s1/sim.log)",
                        "[t 1/2] int-mac w8_a24_wrap_s1: synthesised (1.5 s)"]
    assert stubbed["verify"][0][1] == {"sim": "icarus", "seed": 5, "quiet": True}  # int-mac: all its tests
    assert stubbed["synth"][0] == ("int_mac", "w8_a24_wrap_s1", {"quiet": True})
    flow.run_point("simd-mac", blocks.get("simd-mac").from_args(blocks.get("simd-mac").defaults()), out=tmp_path,
                   sim="verilator", quiet=False, say=said.append)
    assert stubbed["verify"][-1][1]["testcase"] == blocks.get("simd-mac").quick_tests
    assert said[-1].startswith("simd-mac ") and stubbed["verify"][-1][1]["quiet"] is False


def test_a_failed_step_is_one_line_naming_the_point(monkeypatch, stubbed, tmp_path):
    from npegen.hw import synth
    from npegen.sim.runner import SimulationError

    def fails(params, **kw):
        raise SimulationError("2 of 4 cocotb tests failed\nsecond line")

    spec = blocks.get("int-mac")
    monkeypatch.setitem(blocks.REGISTRY, "int-mac", dataclasses.replace(spec, verify=fails))
    with pytest.raises(flow.FlowError, match=r"^\[d 1/1\] int-mac w4_a16_wrap_s1: verification failed: 2 of 4"):
        flow.run_points([flow.DEMO_POINTS[2]], out=tmp_path, sim="icarus", label="d", say=lambda m: None)
    monkeypatch.setitem(blocks.REGISTRY, "int-mac", spec)

    def no_synth(*a, **k):
        raise synth.SynthError("yosys failed\nlog follows")

    monkeypatch.setattr(synth, "synthesize", no_synth)
    with pytest.raises(flow.FlowError) as exc:
        flow.run_points([flow.DEMO_POINTS[2]], out=tmp_path, sim="icarus", label="d", say=lambda m: None)
    assert str(exc.value) == "[d 1/1] int-mac w4_a16_wrap_s1: yosys failed"


def test_demo_table_and_summary():
    rows = [{"block": b, "design point": t, "cells": c, "transistors": c * 10, "LUTs": c, "FFs": 1}
            for b, t, c in [("int-mac", "a", 100), ("int-mac", "b", 50), ("simd-mac", "shared", 60),
                            ("simd-mac", "base", 120), ("ternary", "sherry_p6_g96_raw", 40),
                            ("ternary", "i2s_p6_g96_raw", 80), ("ternary", "sherry_p6_g96", 55)]]
    df = flow.demo_table(rows)
    assert list(df["transistors vs block's first"]) == [1.0, 0.5, 1.0, 2.0, 1.0, 2.0, 1.38]
    assert flow.demo_summary(df).splitlines() == [
        "SIMD MAC engine, shared / per-format baseline: cells 0.50, transistors 0.50, LUTs 0.50, FFs 1.00",
        "Ternary datapath (24 activations/cycle, group sums), Sherry / I2_S: cells 0.50, transistors 0.50, LUTs 0.50",
        "The FP16 scale/bias epilogue adds 15 cells (the same for every packing)"]
    assert flow.demo_summary(df[df["block"] == "int-mac"]) == ""


def test_evaluate_point_synthesises_through_the_flow(stubbed):
    m = sweep.evaluate_point("int-mac", {"width": 4, "count": 8})
    assert stubbed["synth"] == [("int_mac", "w4_a16_wrap_s1", {"quiet": True})]
    assert (m["tag"], m["cells"], m["transistors"]) == ("w4_a16_wrap_s1", 140, 1400) and m["area_mm2"] > 0


def test_default_points_are_every_block():
    assert [b for b, _ in flow.default_points()] == list(blocks.REGISTRY)


def test_sweep_summary_and_pareto_axes(tmp_path):
    assert sweep.pareto_axes("cells,area_mm2") == ("cells", "area_mm2")
    for bad in ("area_mm2", "area_mm2,tag", "width,cells", ""):
        with pytest.raises(ValueError, match="--pareto must be two metrics X,Y from "):
            sweep.pareto_axes(bad)
    df = pd.DataFrame([{"key": "k1", "status": "ok", "error": "", "tag": "a", "transistors": 10, "area_mm2": 1.0,
                        "energy_per_op_pJ": 2.0},
                       {"key": "k2", "status": "ok", "error": "", "tag": "b", "transistors": 20, "area_mm2": 0.5,
                        "energy_per_op_pJ": 3.0},
                       {"key": "k3", "status": "error", "error": "ValueError: nope"}])
    text, n_bad = sweep.summarize(df, "s", tmp_path, seconds=3.2)
    lines = text.splitlines()
    assert n_bad == 1 and lines[0] == f"2 of 3 points ok in 3 s; results {tmp_path / 'results.csv'}"
    assert "ValueError: nope" in text and f"Pareto plot {tmp_path / 'pareto.png'}" in lines
    assert (tmp_path / "pareto.png").is_file() and lines[-1].split() == ["b", "20", "0.5", "3"]
    assert sweep.summarize(pd.DataFrame(), "s", tmp_path) == (f"0 of 0 points ok; results {tmp_path / 'results.csv'}",
                                                               0)
