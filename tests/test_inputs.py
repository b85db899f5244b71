# amaranth: UnusedElaboratable=no
"""Hostile inputs: design and energy files, CLI arguments, output and cache paths, generator parameters whose
cost explodes, the synthesis cache (self-heal, unwritable), progress lines and Ctrl-C.

Every bad input must give exit code 2 (1 for a failed verification or synthesis), exactly one stderr line
``npegen: error: ...``, no traceback, and no file outside the output folder.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from npegen.analysis.energy import EnergyTable
from npegen.analysis.estimator import Design, Memory, Tech, design_from_dict
from npegen.cli import main

WL = "rnn.kws_gru_s"


def _default_sigint() -> None:
    """In the child: SIGINT's default disposition, so Python installs its Ctrl-C handler even when the test runs
    under a shell that ignores SIGINT (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def one_line_error(capsys, rc, code: int = 2) -> str:
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npegen: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("NPEGEN_CACHE_DIR", str(tmp_path / "cache"))
    return d


# ---- design files ------------------------------------------------------------------------------------------

HOSTILE_DESIGNS = [
    ('{"tech": {"clock_mhz": 1e308}}', "clock_mhz must be a finite number in [0.001, 100000], not 1e+308"),
    ('{"tech": {"clock_mhz": 1e-308}}', "clock_mhz must be a finite number in [0.001, 100000]"),
    ('{"tech": {"vdd": NaN}}', "vdd must be a finite number in [0.1, 5], not nan"),
    ('{"tech": {"node_nm": Infinity}}', "node_nm must be a finite number in [1, 1000], not inf"),
    ('{"tech": {"node_nm": "28"}}', "node_nm must be a finite number in [1, 1000], not '28'"),
    ('{"tech": {"nodenm": 28}}', "unknown field 'nodenm' (did you mean 'node_nm'?)"),
    ('{"tech": [1, 2]}', "design tech must be a mapping"),
    ('{"memory": {"dram_gbps": -1}}', "dram_gbps must be a finite number in [0.001, 100000], not -1"),
    ('{"memory": {"sram_kib": 1e999}}', "sram_kib must be a finite number in"),
    ('{"energy": [1, 2]}', "energy overrides must be a mapping of entry name to value, not list"),
    ('{"energy": null}', "energy overrides must be a mapping"),
    ('{"energy": {"mac.posit8": 1.0}}', "unknown energy table entry 'mac.posit8'; did you mean 'mac.posit8_0'"),
    ('{"energy": {"mac.posit8_0": {"value": 1, "sorce": "x"}}}', "unknown field(s) ['sorce'] (did you mean "
                                                                   "'source'?)"),
    ('{"energy": {"mac.posit8_0": NaN}}', "value must be a finite number in [0, 1000000000000], not nan"),
    ('{"energy": {"mac.posit8_0": -1}}', "value must be a finite number in [0, 1000000000000], not -1"),
    ('{"energy": {"mac.int8": {"new": true, "value": 1, "unit": "pJ", "node_nm": 28, "vdd": 0.9}}}',
     "'mac.int8' already exists"),
    ('{"energy": {"x.new": {"new": true, "value": 1}}}', "new energy table entry 'x.new' needs unit, node_nm, vdd"),
    ('{"energy": {"mac.int8": {"value": 1, "node_nm": [28]}}}', "node_nm must be a finite number"),
    ('{"simd": {"count": 1e9}}', "simd count must be an integer in [1, 1048576], not 1000000000.0"),
    ('{"simd": {"count": ' + "9" * 400 + '}}', "simd count must be an integer in [1, 1048576], not 9999"),
    ('{"simd": {"params": [1, 2]}}', "design simd params must be a mapping"),
    ('{"simd": {"params": {"modes": [[1]]}}}', "modes must be a list of format names"),
    ('{"simd": {"params": {"modes": ["posit32_4"], "word_bits": 64}}}', "at most 1024"),
    ('{"simd": {"params": {"mdoes": []}}}', "unknown field 'mdoes' (did you mean 'modes'?)"),
    ('{"ternary": {"params": {"lanes": null}}}', "lanes must be an integer in [1, 64], not None"),
    ('{"int_mac": {"params": {"width": 1e9}}}', "width must be an integer in [2, 32]"),
    ('{"crossbar": {"adc": {"a": 1}}}', "crossbar adc must be 'ramp' or 'sar'"),
    ('{"name": {"a": 1}}', "design name must be a string"),
    ('{"name": ""}', "design name must be a printable string of 1 to 200 characters"),
    ('{"gpu": {}}', "unknown design section(s) ['gpu']"),
    ("[1, 2]", "a design must be a mapping, not list"),
    ("null", "a design must be a mapping, not NoneType"),
    ("", "not valid JSON"),
    ("{", "not valid JSON"),
    ("[" * 100000 + "]" * 100000, "design file"),
    ('{"simd": {"count": 1' + "0" * 5000 + '}}', "not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE_DESIGNS, ids=range(len(HOSTILE_DESIGNS)))
@pytest.mark.parametrize("cmd", ["estimate", "report"])
def test_hostile_design_files_give_one_line(cmd, text, message, cwd, capsys):
    f = cwd / "design.json"
    f.write_text(text)
    argv = ["estimate", "--workload", WL] if cmd == "estimate" else ["report", "--no-blocks", "-o", "out"]
    t0 = time.perf_counter()
    line = one_line_error(capsys, main([*argv, "--design", str(f)]))
    assert message in line
    assert time.perf_counter() - t0 < 5  # refused before any work
    assert sorted(p.name for p in cwd.iterdir()) == ["design.json"]  # report refused before creating out/


def test_design_file_paths(cwd, capsys, tmp_path):
    (cwd / "binary.json").write_bytes(b"\xff\xfe\x00{")
    (cwd / "big.json").write_text(" " * (1 << 21) + "{}")
    for path, message in [(cwd, "no design file"), (cwd / "missing.json", "no design file"),
                          (cwd / "binary.json", "binary.json"), (cwd / "big.json", "at most 1048576 bytes")]:
        assert message in one_line_error(capsys, main(["estimate", "--workload", WL, "--design", str(path)]))


@pytest.mark.parametrize(("cls", "field"), [(Tech, "node_nm"), (Tech, "vdd"), (Tech, "clock_mhz"),
                                            (Memory, "sram_kib"), (Memory, "sram_bytes_per_cycle"),
                                            (Memory, "dram_gbps")])
def test_python_api_is_as_strict_as_the_files(cls, field):
    """Every real-valued design field, through the Python API: non-finite, out-of-range and wrongly typed values
    are refused with the field and the allowed range in the message; the defaults and the range ends pass."""
    for bad in [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 10**400, "1", True, None, [1.0]]:
        with pytest.raises((TypeError, ValueError), match=rf"{field} must be a finite number in \[[0-9.e+]+, "):
            cls(**{field: bad})
    default = getattr(cls(), field)
    assert getattr(cls(**{field: int(default) if float(default).is_integer() else default}), field) == default


def test_energy_overrides_need_existing_names_or_new():
    t = EnergyTable()
    new = t.update({"mac.posit8_0": {"value": 0.9, "source": "my PE"},
                    "my.sram": {"new": True, "value": 0.1, "unit": "pJ/bit", "node_nm": 28, "vdd": 0.9,
                                "source": "datasheet"}})
    assert new["mac.posit8_0"].value == 0.9 and new["mac.posit8_0"].source == "my PE"
    assert new["my.sram"].unit == "pJ/bit" and set(new.names()) - set(t.names()) == {"my.sram"}
    for name in t.names():  # any one-character typo of any entry is refused, naming the entry it meant
        typo = name[:-1] if len(name) > 3 else name + "x"
        if typo in t:
            continue
        with pytest.raises(ValueError, match="unknown energy table entry") as info:
            t.update({typo: 1.0})
        assert repr(name) in str(info.value) or "did you mean" in str(info.value)
        with pytest.raises(ValueError, match="unknown energy table entry"):
            t.override(typo, 1.0, unit="pJ", node_nm=28, vdd=0.9)  # Python: new entries need new=True too
    assert "x.y" in t.override("x.y", 1.0, unit="pJ", node_nm=28, vdd=0.9, new=True)


def test_design_dict_engine_modes_and_null():
    d = design_from_dict({"simd": {"params": {"modes": "fp4_e2m1,posit8_0"}}, "ternary": None})
    assert d.simd.params.modes == ("fp4_e2m1", "posit8_0") and d.ternary is None
    with pytest.raises(ValueError, match="design areas: unknown engine kind 'gpu'"):
        Design(areas={"gpu": 1})


# ---- generator parameters whose cost explodes ----------------------------------------------------------------


def test_simd_accumulator_bits_are_bounded(cwd, capsys):
    from npegen.models.simd_mac import MAX_ACC_BITS, SimdMacParams

    for modes, word in [(("posit32_4",), 64), (("posit32_4",), 32), (("posit24_3",), 48),
                        (("posit16_2", "posit32_2"), 64)]:
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match=f"at most {MAX_ACC_BITS}"):
            SimdMacParams(modes=modes, word_bits=word)
        line = one_line_error(capsys, main(["generate", "simd-mac", "--modes", ",".join(modes), "--word-bits",
                                            str(word), "-o", "out"]))
        assert f"at most {MAX_ACC_BITS}" in line and time.perf_counter() - t0 < 2
    assert not (cwd / "out").exists()
    for p in (SimdMacParams(), SimdMacParams(modes=("posit16_2",), word_bits=64), SimdMacParams(shared=False)):
        assert p.acc_bits_total <= MAX_ACC_BITS


# ---- CLI arguments and output paths -------------------------------------------------------------------------


def test_bad_arguments_and_output_paths(cwd, capsys):
    (cwd / "afile").write_text("x")
    cases = [
        (["generate", "int-mac", "-o", "afile"], "is not a directory"),
        (["generate", "int-mac", "-o", "afile/sub"], "cannot be written"),
        (["generate", "int-mac", "-o", ""], "must name a directory"),
        (["report", "--no-blocks", "-o", "afile"], "is not a directory"),
        (["report", "--no-blocks", "-o", "afile/deeper/report"], "cannot be written"),
        (["demo", "-o", "afile/x", "--blocks", "int-mac"], "cannot be written"),
        (["report", "--seed", "-5", "--no-blocks", "-o", "r"], "--seed must be in [0, 2**32), not -5"),
        (["demo", "--seed", "-5", "-o", "d"], "--seed must be in [0, 2**32), not -5"),
        (["demo", "--blocks", ",", "-o", "d"], "--blocks: unknown block(s)"),
        (["verify", "int-mac", "--test", "("], "--test must be a regular expression"),
        (["verify", "int-mac", "--n-random", "0"], "--n-random must be in [1, 10000000]"),
        (["verify", "int-mac", "--n-random", "99999999999"], "--n-random must be in [1, 10000000]"),
        (["verify", "int-mac", "--seed", "4294967296"], "--seed must be in [0, 2**32)"),
        (["generate", "ramp-adc", "--in-lsb", "nan", "-o", "g"], "in_lsb must be a positive finite number"),
        (["generate", "ramp-adc", "--y-range", "0,inf", "-o", "g"], "y_range must be finite"),
        (["generate", "decoder", "--format", "x" * 10000, "-o", "g"], "characters)"),
        (["demo", "--bogus", "a\rb\nc"], "--bogus a\\rb\\nc"),
        (["estimate", "--workload", "nope"], "unknown workload 'nope'"),
    ]
    for argv, message in cases:
        t0 = time.perf_counter()
        line = one_line_error(capsys, main(argv))
        assert message in line, (argv, line)
        assert time.perf_counter() - t0 < 5, argv  # refused before any simulation or synthesis
    assert sorted(p.name for p in cwd.iterdir()) == ["afile"]  # nothing created for a refused command


def test_generate_writes_whole_files_only(cwd, capsys):
    assert main(["generate", "int-mac", "-o", "out"]) == 0
    assert (cwd / "out" / "int_mac.v").read_text().startswith("/*") or "module int_mac" in \
        (cwd / "out" / "int_mac.v").read_text()
    assert [p.name for p in (cwd / "out").iterdir()] == ["int_mac.v"]  # no temporary or probe file left


def test_internal_errors_are_one_line_unless_debugging(monkeypatch, capsys):
    import npegen.cli as cli

    def bug(args):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(cli, "cmd_workloads", bug)
    rc = cli.main(["workloads"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "internal error: ZeroDivisionError" in err and "NPEGEN_DEBUG" in err
    monkeypatch.setenv("NPEGEN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["workloads"])


# ---- synthesis cache, progress and Ctrl-C --------------------------------------------------------------------


@pytest.mark.synth
def test_synthesis_cache_self_heals_and_survives_an_unwritable_dir(tmp_path, capsys):
    from npegen.hw import synth
    from npegen.hw.int_mac import IntMac

    cache = tmp_path / "cache"
    first = synth.synthesize(IntMac(width=2, acc_width=4), top="int_mac", cache=cache, heartbeat=0.05)
    assert "s elapsed" in capsys.readouterr().err  # the heartbeat while Yosys runs
    (entry,) = cache.glob("int_mac_*.json")
    good = entry.read_text()
    entry.write_text(good[: len(good) // 2])  # truncated, as by a full disk or a killed writer
    again = synth.synthesize(IntMac(width=2, acc_width=4), top="int_mac", cache=cache, heartbeat=None)
    err = capsys.readouterr().err
    assert not again.cached and again.transistors == first.transistors
    assert f"corrupt synthesis cache entry {str(entry)!r}" in err and err.count("npegen: warning") == 1
    assert json.loads(entry.read_text())["transistors"] == first.transistors  # re-synthesised, re-written whole
    assert synth.synthesize(IntMac(width=2, acc_width=4), top="int_mac", cache=cache).cached
    for junk in ["", "[1, 2]", '{"cells": "many"}', json.dumps({**json.loads(good), "cells": "many"}), "\xff",
                 json.dumps({**json.loads(good), "bogus": 1})]:  # every kind of bad entry: warned, deleted
        entry.write_text(junk)
        assert synth._read_entry(entry) is None and not entry.exists()
        assert str(entry) in capsys.readouterr().err
    # a cache "directory" below a regular file: warned once, the run goes on without the cache
    (tmp_path / "afile").write_text("x")
    bad = tmp_path / "afile" / "cache"
    rep = synth.synthesize(IntMac(width=2, acc_width=4), top="int_mac", cache=bad, quiet=True, heartbeat=None)
    assert rep.transistors == first.transistors and not rep.cached
    assert not synth._writable_dir(bad)
    assert capsys.readouterr().err.count("is not writable") == 1


def test_first_run_hint_only_with_an_empty_wasm_cache(tmp_path, monkeypatch):
    from npegen.hw import synth

    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "yowasp"))
    synth._wasm_cache_file.cache_clear()
    try:
        assert not synth.yosys_compiled()
        f = synth._wasm_cache_file()
        f.parent.mkdir(parents=True)
        f.write_bytes(b"compiled")
        assert synth.yosys_compiled()
    finally:
        synth._wasm_cache_file.cache_clear()


@pytest.mark.synth
def test_ctrl_c_exits_130_with_nothing_half_written(tmp_path):
    from npegen.hw.synth import synthesize, yosys_compiled

    if not yosys_compiled():  # the first Yosys run on a machine compiles it (~1 min, not interruptible): not here
        from npegen.hw.int_mac import IntMac

        synthesize(IntMac(width=2), top="int_mac", cache=tmp_path / "warm", quiet=True)
    env = dict(os.environ, NPEGEN_CACHE_DIR=str(tmp_path / "cache"), NPEGEN_BUILD_DIR=str(tmp_path / "build"))
    env.pop("NPEGEN_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "npegen", "synth", "simd-mac", "--no-cache"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)
    try:
        line = proc.stderr.readline()  # the start line: Yosys is running
        assert "synthesising simd_mac" in line, line
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("npegen: interrupted")
    assert not list((tmp_path / "cache").rglob("*.tmp")) and not list((tmp_path / "cache").rglob("run_*"))
    assert not list((tmp_path / "cache").glob("*.json"))  # no cache entry for a synthesis that did not finish
