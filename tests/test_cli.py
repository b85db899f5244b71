# amaranth: UnusedElaboratable=no
"""The ``npegen`` command line: deterministic Verilog, lint-clean output, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from npegen.cli import BLOCKS, main
from npegen.hw.int_mac import IntMac
from npegen.hw.verilog import LintError, emit_verilog, lint_verilog, write_verilog


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "npegen", *args], capture_output=True, text=True, cwd=cwd,
                          check=False)


def test_generate_is_byte_identical_across_processes(tmp_path):
    outs = []
    for d in ("a", "b"):
        r = run_cli("generate", "int-mac", "--width", "8", "--acc-width", "24", "-o", str(tmp_path / d))
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / d / "int_mac.v").read_bytes())
    assert outs[0] == outs[1]
    text = outs[0].decode()
    assert "module int_mac(" in text and "src =" not in text and "/work" not in text
    for port in ("i__payload", "i__valid", "i__ready", "clear", "acc", "overflow", "clk", "rst"):
        assert port in text


@pytest.mark.parametrize(
    "kw",
    [dict(width=8, acc_width=24), dict(width=8, acc_width=16, overflow="saturate", stages=2),
     dict(width=2, acc_width=4, stages=8), dict(width=32, acc_width=64, overflow="saturate", stages=3)],
    ids=lambda kw: "_".join(f"{k}{v}" for k, v in kw.items()),
)
def test_verilator_lint_is_clean(kw, tmp_path):
    path = write_verilog(IntMac(**kw), tmp_path / "int_mac.v", name="int_mac")
    lint_verilog(path, top="int_mac")


def test_lint_reports_width_problems(tmp_path):
    bad = tmp_path / "w.v"
    bad.write_text("module w(input wire [7:0] a, output wire [3:0] y); assign y = a + 8'd1; endmodule\n")
    with pytest.raises(LintError, match="WIDTHTRUNC"):
        lint_verilog(bad)


def test_emit_verilog_validates(tmp_path):
    with pytest.raises(ValueError, match=r"name must be a Verilog identifier .* not '1bad'"):
        emit_verilog(IntMac(), name="1bad")
    with pytest.raises(TypeError, match="component must be an amaranth.lib.wiring.Component, not 'x'"):
        emit_verilog("x", name="top")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "int-mac", "--width", "0", "-o", "x"], "width must be an integer in [2, 32], not 0"),
        (["generate", "int-mac", "--width", "8", "--acc-width", "12", "-o", "x"],
         "acc_width must be an integer in [16, 64]"),
        (["generate", "int-mac", "--overflow", "clamp", "-o", "x"], "argument --overflow: invalid choice: 'clamp'"),
        (["generate", "int-mac", "--width", "eight", "-o", "x"], "invalid int value: 'eight'"),
        (["generate", "int-mac"], "the following arguments are required: -o/--output"),
        (["verify", "int-mac", "--sim", "questa"], "sim must be one of ('icarus', 'verilator'), not 'questa'"),
        (["verify", "int-mac", "--seed", "-3"], "--seed must be in [0, 2**32)"),
        (["synth", "no-such-block"], "invalid choice: 'no-such-block'"),
        (["lint", "no-such-block"], "unknown block 'no-such-block'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, tmp_path):
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npegen: error: "), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "x").exists()


def test_main_returns_codes_in_process(tmp_path, capsys):
    assert main(["generate", "int-mac", "--width", "4", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "int_mac.v").is_file()
    assert main(["generate", "int-mac", "--width", "1", "-o", str(tmp_path)]) == 2
    assert "width must be" in capsys.readouterr().err


def test_every_block_has_a_lint_clean_default(capsys):
    assert main(["lint"]) == 0
    out = capsys.readouterr().out
    for name in BLOCKS:
        assert f"lint clean: {name}" in out


@pytest.mark.synth
def test_synth_prints_the_area_record(tmp_path):
    import os

    env = dict(os.environ, NPEGEN_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "npegen", "synth", "int-mac", "--width", "4", "--acc-width", "8"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.strip().splitlines()[-2:]
    for col in ("cells", "transistors", "luts", "ffs"):
        assert col in header.split()
    assert "w4_a8_wrap_s1" in row


def test_verify_prints_pass(tmp_path, sim, seed):
    import os

    env = dict(os.environ, NPEGEN_BUILD_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "npegen", "verify", "int-mac", "--width", "4", "--acc-width", "8",
                        "--sim", sim, "--seed", str(seed), "--test", "test_all_pairs"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert f"PASS int-mac w4_a8_wrap_s1 on {sim}: 1 cocotb tests, seed={seed}" in r.stdout


@pytest.mark.synth
@pytest.mark.parametrize("blocks", [
    "int-mac,decoder",
    # the ternary engines' syntheses take minutes from an empty cache: `make test-full`
    pytest.param("int-mac,decoder,ternary", marks=pytest.mark.slow),
])
def test_demo_prints_its_table(tmp_path, seed, blocks):
    # The demo's machinery on the cheaper blocks (the SIMD MAC engine's synthesis alone takes ~80 s and its
    # verification runs in tests/sim/test_simd_mac_cocotb.py); `make demo` runs them all.
    import os

    env = dict(os.environ, NPEGEN_BUILD_DIR=str(tmp_path / "build"), NPEGEN_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "npegen", "demo", "--seed", str(seed), "-o", str(tmp_path / "demo"),
                        "--blocks", blocks],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    lines = r.stdout.splitlines()
    header = next(line for line in lines if "design point" in line and "transistors" in line)
    for col in ("verified", "cells", "transistors", "LUTs", "FFs"):
        assert col in header

    def rows(block):
        return [line for line in lines if line.split()[:1] == [block]]

    assert len(rows("int-mac")) == 4 and all("4 tests on icarus" in row for row in rows("int-mac"))
    assert len(rows("decoder")) == 4 and all("1 tests on icarus" in row for row in rows("decoder"))
    assert not rows("encoder") and not rows("simd-mac")
    if "ternary" in blocks:
        assert len(rows("ternary")) == 4 and all("3 tests on icarus" in row for row in rows("ternary"))
        assert any(line.startswith("Ternary datapath (24 activations/cycle, group sums), Sherry / I2_S: cells 0.")
                   for line in lines)
        assert any(line.startswith("The FP16 scale/bias epilogue adds ") for line in lines)
    else:
        assert not rows("ternary")
    assert (tmp_path / "demo" / "demo.csv").is_file() and (tmp_path / "demo" / "area.png").is_file()
    assert (tmp_path / "demo" / "w8_a24_wrap_s1" / "int_mac.v").is_file()


def test_demo_rejects_unknown_blocks(tmp_path):
    r = run_cli("demo", "--blocks", "int-mac,frob", cwd=tmp_path)
    assert r.returncode == 2 and "unknown block(s) ['frob']" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_formats_lists_and_shows_value_tables(capsys):
    from npegen.models import formats as F

    table = F.format_table()
    assert list(table["format"]) == F.names()
    assert dict(zip(table["format"], table["specials"], strict=True))["fp8_e4m3"] == "-0, NaN"  # OCP E4M3 has no Inf
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(table.to_string(index=False)) and "'npegen formats show NAME'" in out
    for name, special in (("fp4_e2m1", "-0"), ("posit4_1", "NaR")):
        assert main(["formats", "show", name]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines == F.value_table(F.parse(name)) and len(lines) == 17
        assert lines[0].split() == ["code", "bits", "value", "sign", "scale", "sig"]
        assert lines[9].split()[:3] == ["0x8", "1000", special]
    assert F.value_table(F.get("fp8_e5m2"))[1 + 0x7C].split()[2] == "inf"
    for argv, message in ((["formats", "show", "posit32_2"], "posit32_2 has 4294967296 codes; a value table lists "
                                                             "formats of at most 16 bits"),
                          (["formats", "show"], "usage: npegen formats [show NAME], not 'show'"),
                          (["formats", "show", "nope"], "unknown format 'nope'")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_nothing_in_the_package_imports_the_cli():
    """The CLI sits on top: no module of npegen imports it (absolute or relative, at any depth)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "npegen").rglob("*.py")):
        if path.name in ("cli.py", "__main__.py"):  # the CLI and its `python -m npegen` entry
            continue
        package = ".".join(path.relative_to(root).parent.parts)  # npegen or npegen.analysis, ...
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                mod = ".".join([*base, node.module] if node.module else base)
                mods = [mod, *(f"{mod}.{a.name}" for a in node.names)]
            else:
                continue
            if "npegen.cli" in mods:
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, f"modules importing npegen.cli: {offenders}"
