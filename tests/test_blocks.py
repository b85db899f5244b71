"""The block registry (:mod:`npegen.blocks`): today's entries, and a throwaway toy block (``tests/toy_block.py``)
that is one registry entry plus its own files, then works in ``npegen generate/verify/synth/sweep`` and the sweep
API."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from npegen import blocks
from npegen.analysis.sweep import Space, block_parameters, run_sweep

BUILTIN = ("int-mac", "simd-mac", "ternary", "ramp-adc", "decoder", "encoder")


def test_registry_holds_todays_blocks_in_order():
    assert blocks.names()[: len(BUILTIN)] == BUILTIN
    assert set(blocks.sweep_names()) >= {"int-mac", "simd-mac", "ternary", "ramp-adc"}
    assert not {"decoder", "encoder"} & set(blocks.sweep_names())
    spec = blocks.get("ternary")
    assert spec.engine == "ternary" and spec.workload == "llm.llama32_1b.decode"
    assert spec.parameters == tuple(f.name for f in dataclasses.fields(spec.params_class) if f.init)
    params = spec.from_args(spec.defaults())
    assert spec.top(params) == "ternary" and params.tag
    with pytest.raises(KeyError, match="unknown block 'gpu'; choose from"):
        blocks.get("gpu")


def test_register_refuses_duplicates_and_bad_entries():
    spec = blocks.get("int-mac")
    with pytest.raises(ValueError, match="already registered"):
        blocks.register(spec)
    with pytest.raises(TypeError, match="takes a BlockSpec"):
        blocks.register("int-mac")
    with pytest.raises(ValueError, match="a block name is letters"):
        dataclasses.replace(spec, name="int mac")
    with pytest.raises(TypeError, match="params_class must be a dataclass"):
        dataclasses.replace(spec, params_class=int)


def test_options_are_generated_from_the_params_dataclass():
    from toy_block import ToyAddParams

    p = argparse.ArgumentParser()
    blocks.add_dataclass_options(p, ToyAddParams, "toy design point")
    text = p.format_help()
    assert "--width WIDTH" in text and "operand width in bits, 1..12 (default 4)" in text
    assert p.parse_args([]).width == 4 and p.parse_args(["--width", "7"]).width == 7


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy block registered for one test (build and synthesis cache under ``tmp_path``)."""
    from toy_block import SPEC, ToyAddArray, toy_workload

    from npegen.analysis import engines
    from npegen.analysis import workloads as W

    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("NPEGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(W.WORKLOADS, "toy.sums", toy_workload)
    blocks.register(SPEC)
    engines.register_engine(ToyAddArray)
    try:
        yield SPEC
    finally:
        blocks.unregister(SPEC.name)
        engines.unregister_engine(ToyAddArray.kind)
    assert SPEC.name not in blocks.names() and "toy_add" not in engines.ENGINE_TYPES


def test_toy_block_in_the_cli(toy, tmp_path, sim, capsys):
    from npegen.cli import main

    assert main(["generate", "toy-add", "--width", "3", "-o", str(tmp_path / "v")]) == 0
    assert "module toy_add_w3" in (tmp_path / "v" / "toy_add_w3.v").read_text()
    assert main(["generate", "toy-add", "--width", "0", "-o", str(tmp_path / "v")]) == 2
    assert capsys.readouterr().err == "npegen: error: width must be an integer in [1, 12], not 0\n"
    assert main(["verify", "toy-add", "--width", "3", "--sim", sim, "--seed", "5"]) == 0
    assert capsys.readouterr().out.startswith(f"PASS toy-add w3 on {sim}: 1 cocotb tests, seed=5")
    assert main(["generate", "--help"]) == 0
    assert "npegen generate toy-add --width 3 -o out/" in capsys.readouterr().out


@pytest.mark.synth
def test_toy_block_synthesises(toy, capsys):
    from npegen.cli import main

    assert main(["synth", "toy-add", "--width", "3", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["top"] == "toy_add_w3" and rec["cells"] > 0


@pytest.mark.synth
def test_toy_block_sweeps_and_verifies_through_the_registry(toy, tmp_path, sim, capsys):
    assert block_parameters("toy-add")[0] == "width"
    sp = Space(name="toy", block="toy-add", verify=True, params={"width": [2, 3]})
    df = run_sweep(sp, tmp_path / "api", workers=1, progress=False)
    assert list(df["status"]) == ["ok", "ok"], df["error"].tolist()
    assert list(df["tag"]) == ["w2", "w3"] and list(df["verified_tests"]) == [1, 1]
    assert (df["cells"] > 0).all()
    # the estimator runs the toy engine: the default workload toy.sums on the built-in design plus 2 toy adders
    assert (df["workload"] == "toy.sums").all() and (df["area_mm2"] > 0).all() and (df["runs_per_s"] > 0).all()

    from npegen.cli import main

    doc = tmp_path / "toy.yaml"
    doc.write_text("name: toy\nblock: toy-add\nparams: {width: [2]}\n")
    assert main(["sweep", str(doc), "--out", str(tmp_path / "cli"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 points of toy-add" in out and "1 of 1 points ok" in out


def test_toy_engine_in_the_estimator(toy):
    """The toy block's engine, registered with the estimator: a design file section, its layers mapped to it with
    its own cycle formula, its energy and provenance rows."""
    from toy_block import ToyAddParams, toy_workload

    from npegen.analysis.estimator import design_from_dict, estimate, load_design

    design = toy.design(ToyAddParams(width=3), 2)
    assert design.toy_add.params.width == 3 and design.engine("toy_add").units == 2
    r = estimate(design, toy_workload())
    p = ToyAddParams(width=3)
    # 6 outputs of 5 terms over 2 adders, then 4 outputs of 3 terms: the params' formula, nothing else
    assert list(r.layers["cycles"]) == [p.job_cycles(3, 5), p.job_cycles(2, 3)] == [15, 6]
    assert list(r.layers["engine"]) == ["toy_add", "toy_add"] and list(r.layers["mode"]) == ["w3", "w3"]
    assert r.layers["E_mac_pJ"].sum() == pytest.approx(42 * design.value("add.ternary"))
    prov = r.provenance
    assert prov.loc["cycles.toy_add", "status"] == "assumed" and prov.loc["design.toy_add", "value"] == 2
    # a design file section of the new kind, checked like the others
    d2 = design_from_dict({"toy_add": {"count": 4, "params": {"width": 5}}, "simd": None})
    assert d2.toy_add.units == 4 and d2.toy_add.params.width == 5 and d2.simd is None
    with pytest.raises(ValueError, match="design toy_add params: unknown field 'wdth' .did you mean 'width'"):
        design_from_dict({"toy_add": {"params": {"wdth": 5}}})
    with pytest.raises(ValueError, match="needs an engine that runs toy"):
        estimate(design.without("toy_add"), toy_workload())
    assert load_design  # the JSON path is design_from_dict's (tests/analysis/test_estimator.py)


@pytest.mark.synth
def test_toy_engine_area_is_synthesised(toy):
    from toy_block import ToyAddParams

    full = toy.design(ToyAddParams(width=3), 2)
    d = dataclasses.replace(full, engines=(full.toy_add,))  # the toy adders only: nothing else to synthesise
    d = d.with_synthesized_areas()
    assert dict(d.areas)["toy_add"] > 0
    (part,) = [p for p in d.area_parts() if p["component"].startswith("toy_add")]
    assert part["count"] == 2 and part["mm2"] > 0


def test_sweeps_refuse_unregistered_blocks():
    with pytest.raises(ValueError, match="sweep block must be one of .*'int-mac'.*not 'toy-add'"):
        Space(name="t", block="toy-add", params={"width": [2]})
