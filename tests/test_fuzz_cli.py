# amaranth: UnusedElaboratable=no
"""Fuzz the command line: generated argument lists for every subcommand and generated design/energy documents.

Properties, for every generated input:

* ``main(argv)`` returns 0, 1 or 2 (never raises, never an ``internal error``);
* nothing that looks like a traceback reaches stderr;
* exit code 2 comes with exactly one stderr line ``npegen: error: ...``;
* nothing is written outside the test's temporary folder (cwd, ``NPEGEN_BUILD_DIR`` and ``NPEGEN_CACHE_DIR`` are
  in it; every generated path points into it).

The argument handling is what is fuzzed, so the steps that legitimately take minutes are stubbed: Verilog
emission returns a stub module, a verification or a synthesis fails at once (exit 1, as a real failure does),
Verilator lint passes, and a sweep finds no point to run. Every validation before those steps is the real one.
The number of cases run is printed (``-s``) and recorded in ``CASES``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import npegen.cli as cli

CASES = {"argv": 0, "design": 0}
_SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


def _commands() -> dict[str, dict]:
    """Every subcommand (and block) with its option names and positionals, read from the real parser."""
    p = cli._parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, sp in sub.choices.items():
        bsub = [a for a in sp._actions if isinstance(a, argparse._SubParsersAction)]
        if bsub:
            for block, bp in bsub[0].choices.items():
                out[f"{name} {block}"] = {"options": [o for a in bp._actions for o in a.option_strings
                                                       if o not in ("-h", "--help")]}
        else:
            out[name] = {"options": [o for a in sp._actions for o in a.option_strings if o not in ("-h", "--help")]}
    return out


COMMANDS = _commands()

_WORDS = ["nan", "NaN", "inf", "-inf", "-0", "0", "1", "-1", "-5", "2", "8", "16", "64", "1e308", "-1e308", "1e-308",
          "99999999999999999999999999", "4294967296", "0x10", "", " ", "posit8_0", "posit32_4", "posit16_1",
          "fp4_e2m1", "int8", "int99", "fp4_e2m1,posit8_0", ",", "x", "0,1", "1,0", "nan,1", "auto", "yes", "no",
          "sherry", "tl2", "i2s", "none", "fp16", "wrap", "saturate", "icarus", "verilator", "gelu", "sigmoid",
          "rom", "accumulator", "latch", "counter", "int-mac,decoder", "show", "xr.gaze_lle", "rnn.kws_gru_s",
          "llm.llama32_1b.decode", "area_mm2,energy_per_op_pJ", "tcp://127.0.0.1:1", "(", ".*", "--", "-o"]
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12).filter(
    lambda t: not t.startswith(("/", "~")) and ".." not in t)


def _values(tmp: Path):
    paths = [str(tmp / "out"), str(tmp / "afile"), str(tmp / "afile" / "sub"), str(tmp / "missing.json"),
             str(tmp / "design_ok.json"), str(tmp / "design_bad.json"), str(tmp), "out", "./x/y"]
    return st.one_of(st.sampled_from(_WORDS), st.sampled_from(paths), _TEXT,
                     st.integers(-(2**80), 2**80).map(str), st.floats().map(repr))


@st.composite
def _argv(draw, tmp: Path):
    cmd = draw(st.sampled_from(sorted(COMMANDS)))
    argv = cmd.split()
    options = COMMANDS[cmd]["options"] + ["--bogus", "-x", "--width=3", "--seed=-1"]
    for _ in range(draw(st.integers(0, 5))):
        opt = draw(st.sampled_from(options))
        argv.append(opt)
        if draw(st.integers(0, 9)):  # mostly with a value; sometimes the value is missing
            argv.append(draw(_values(tmp)))
    if cmd.split()[0] in ("formats", "lint", "sweep") or draw(st.integers(0, 5)) == 0:
        argv += draw(st.lists(_values(tmp), max_size=2))  # positionals (and stray words elsewhere)
    if cmd.startswith("generate") and draw(st.booleans()):
        argv += ["-o", str(tmp / "out")]
    if cmd == "estimate" and draw(st.booleans()):
        argv += ["--workload", draw(st.sampled_from(["xr.gaze_lle", "rnn.kws_gru_s", "x"]))]
    return argv


_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([10**400, -(10**30)]),
                  st.floats(), st.sampled_from(["", "x", "posit8_0", "fp4_e2m1,posit8_0", "ramp", "sar", "sherry",
                                                "mac.posit8_0", "nan"]))
_JSON = st.recursive(_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                     max_leaves=8)
_FIELDS = {"name": [], "tech": ["node_nm", "vdd", "clock_mhz", "nodenm"],
           "memory": ["sram_kib", "sram_bytes_per_cycle", "dram_gbps"],
           "simd": ["count", "params", "lanes"], "ternary": ["count", "params"], "int_mac": ["lanes", "params"],
           "crossbar": ["count", "rows", "cols", "adc_bits", "adc", "cols_per_ramp", "cols_per_adc", "read_cycles",
                        "nl_units"],
           "energy": ["mac.posit8_0", "mac.posit8", "dram.pj_per_bit", "x.new", "area.nand2"],
           "gpu": ["x"]}
_PARAMS = ["modes", "word_bits", "stages", "acc_guard", "dot", "shared", "out_format", "width", "acc_width",
           "overflow", "lanes", "packing", "group_size", "epilogue", "max_k", "bogus"]
_ENTRY = ["value", "source", "assumed", "unit", "node_nm", "vdd", "new", "kind", "scales", "sorce"]


@st.composite
def _design_doc(draw):
    """A design document near the valid ones: real section and field names (and misspellings) with junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_JSON)
    doc = {}
    for sec in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=3, unique=True)):
        if sec == "name" or draw(st.integers(0, 7)) == 0:
            doc[sec] = draw(_JSON)
            continue
        body = {}
        for f in draw(st.lists(st.sampled_from(_FIELDS[sec]), max_size=3, unique=True)):
            if f == "params":
                body[f] = {k: draw(_JSON) for k in draw(st.lists(st.sampled_from(_PARAMS), max_size=3, unique=True))}
            elif sec == "energy" and draw(st.booleans()):
                body[f] = {k: draw(_JSON) for k in draw(st.lists(st.sampled_from(_ENTRY), max_size=5, unique=True))}
            else:
                body[f] = draw(_JSON)
        doc[sec] = body
    return doc


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary cwd, build and cache folder; the slow steps stubbed (see the module docstring)."""
    from npegen.hw import synth, verilog
    from npegen.sim.runner import SimulationError

    (tmp_path / "cwd").mkdir()
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "design_ok.json").write_text(json.dumps({"tech": {"clock_mhz": 500}}))
    (tmp_path / "design_bad.json").write_text('{"tech": {"clock_mhz": 1e308}, "energy": [1, 2]}')
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("NPEGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NPEGEN_DEBUG", raising=False)

    def no_synth(*a, **k):
        raise synth.SynthError("stubbed synthesis (fuzz test)")

    def no_verify(*a, **k):
        raise SimulationError("stubbed verification (fuzz test)")

    def stub_run_sweep(*a, **k):
        import pandas as pd

        return pd.DataFrame(columns=["key", "status", "error"])

    monkeypatch.setattr(synth, "synthesize", no_synth)
    monkeypatch.setattr(verilog, "emit_verilog", lambda component, *, name: f"module {name}();\nendmodule\n")
    monkeypatch.setattr(verilog, "lint_verilog", lambda *a, **k: None)
    for name, block in list(cli.BLOCKS.items()):
        monkeypatch.setitem(cli.BLOCKS, name, dataclasses.replace(block, verify=no_verify))
    try:
        from npegen.analysis import sweep

        monkeypatch.setattr(sweep, "run_sweep", stub_run_sweep)
    except ImportError:  # pragma: no cover
        pass
    return tmp_path


def _outside_snapshot() -> dict[str, set[str]]:
    """Listings of the places a stray write would land: the repository root and its build folder, the user
    synthesis cache."""
    repo = Path(__file__).resolve().parents[1]
    places = [repo, repo / "build", Path("/")]
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # other xdist workers legitimately synthesise into it meanwhile
        places.append(Path(os.path.expanduser("~/.cache/npegen/synth")))
    return {str(p): set(os.listdir(p)) if p.is_dir() else set() for p in places}


def _check(rc, err: str, what) -> None:
    assert rc in (0, 1, 2), (what, rc, err)
    assert "Traceback" not in err and "internal error" not in err, (what, err)
    if rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("npegen: error: "), (what, err)


def test_fuzz_every_subcommand(sandbox, capsys):
    before = _outside_snapshot()

    @_SETTINGS
    @given(data=st.data())
    def run(data):
        argv = data.draw(_argv(sandbox))
        capsys.readouterr()
        rc = cli.main(argv)
        _check(rc, capsys.readouterr().err, argv)
        CASES["argv"] += 1

    run()
    assert _outside_snapshot() == before
    for p in sandbox.rglob("*"):  # every file written is below the sandbox, and none is half-written
        assert not p.name.endswith(".tmp"), p
    with capsys.disabled():
        print(f"\n[fuzz] {CASES['argv']} generated argument lists over {len(COMMANDS)} subcommands/blocks")
    assert CASES["argv"] >= 100


def test_fuzz_design_and_energy_documents(sandbox, capsys):
    before = _outside_snapshot()
    f = sandbox / "fuzz_design.json"

    @_SETTINGS
    @given(doc=_design_doc())
    def run(doc):
        f.write_text(json.dumps(doc))  # NaN/Infinity written as JSON's extensions, as a user's tool might
        capsys.readouterr()
        rc = cli.main(["estimate", "--workload", "rnn.kws_gru_s", "--design", str(f)])
        _check(rc, capsys.readouterr().err, doc)
        assert rc in (0, 2), doc  # nothing to synthesise or verify: valid or bad input
        CASES["design"] += 1

    run()
    assert _outside_snapshot() == before
    with capsys.disabled():
        print(f"\n[fuzz] {CASES['design']} generated design/energy documents")
    assert CASES["design"] >= 100
