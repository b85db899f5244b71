"""Sweep files are data, never code: the constraint language refuses everything outside its grammar (and agrees
with Python on everything inside it), names cannot leave the sweeps folder, the point count is bounded before any
point exists, one store has one writer, duplicate rows are dropped, every bad document is one line and exit 2,
failed points exit 1, Ctrl-C exits 130 with whole rows only.

Most tests replace the per-point work (synthesis, estimation) with a fast fake and the process pool with threads,
so the document handling, the store and the CLI are exercised for real in milliseconds per case."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npegen.analysis import sweep as S
from npegen.analysis.sweep import (
    BLOCKS,
    CONSTRAINT_LIMITS,
    ESTIMATOR_KEYS,
    SAMPLERS,
    Constraint,
    Space,
    SweepStoreError,
    SweepWarning,
    block_parameters,
    load_results,
    point_key,
    run_sweep,
)
from npegen.cli import main

# ---- helpers --------------------------------------------------------------------------------------------------


def _default_sigint() -> None:
    """In the child: SIGINT's default disposition, so Python installs its Ctrl-C handler even when the test runs
    under a shell that ignores SIGINT (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def fake_evaluate(block, point, verifier=None):
    """Stands in for generate + synthesise + estimate: metrics derived from the point; 'fail' anywhere fails it."""
    h = int(point_key(block, point), 16)
    if "fail" in json.dumps(point, sort_keys=True, default=str):
        raise ValueError("fake failure")
    return {"tag": f"t{h % 1000}", "latency": 1, "cells": h % 500 + 1, "transistors": h % 5000 + 10,
            "area_mm2": (h % 97) / 7 + 0.1, "energy_per_op_pJ": (h % 89) / 5 + 0.1, "runs_per_s": (h % 83) + 1.0,
            "TOPS_per_W": (h % 31) / 3 + 0.1}


def flaky_evaluate(block, point, verifier=None):
    """:func:`fake_evaluate`, and one point in three fails."""
    if int(point_key(block, point), 16) % 3 == 0:
        raise ValueError("fake failure")
    return fake_evaluate(block, point, verifier)


@pytest.fixture
def fake_work(monkeypatch):
    """No synthesis and no worker processes: the fake evaluation on threads."""
    monkeypatch.setattr(S, "evaluate_point", fake_evaluate)
    monkeypatch.setattr(S, "_synth_only", lambda block, gen: None)
    monkeypatch.setattr(S, "_local_executor", lambda workers: ThreadPoolExecutor(max_workers=2))


def cli(*args) -> tuple[int, str, str]:
    """``npegen.cli.main`` in-process: (exit code, stdout, stderr). With ``NPEGEN_DEBUG=1`` an unexpected
    exception is raised (and fails the test) instead of becoming main's one-line "internal error"."""
    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("NPEGEN_DEBUG")
    os.environ["NPEGEN_DEBUG"] = "1"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
    finally:
        if old is None:
            del os.environ["NPEGEN_DEBUG"]
        else:
            os.environ["NPEGEN_DEBUG"] = old
    assert "internal error" not in err.getvalue()
    return rc, out.getvalue(), err.getvalue()


def assert_one_line_error(rc: int, err: str, code: int = 2, match: str | None = None) -> None:
    assert isinstance(rc, int) and rc == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("npegen: error: "), err
    assert "Traceback" not in err
    if match is not None:
        assert match in lines[0], lines[0]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BASE = {"name": "s", "block": "int-mac", "params": {"width": [4, 8]}}

# ---- the constraint language ----------------------------------------------------------------------------------

HOSTILE = {
    "().__class__.__base__.__subclasses__()": "attribute access",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['system']('touch CANARY')": "which sweep constraints do not allow",
    "__import__('os').system('touch CANARY')": "attribute access",
    "__import__('os')": "a call to '__import__'",
    "eval('1')": "a call to 'eval'",
    "open('CANARY', 'w')": "a call to 'open'",
    "getattr(width, 'real')": "a call to 'getattr'",
    "(lambda: 1)()": "a call of a computed function",
    "lambda: 1": "lambda",
    "[x for x in (1, 2)]": "comprehensions",
    "any(x for x in (1, 2))": "a call to 'any'",
    "width.__class__": "attribute access",
    "width.real > 1": "attribute access",
    "f'{width}' == '8'": "f-strings",
    "(w := width) > 1": "assignment (:=)",
    "(1, 2)[0] == 1": "subscripts",
    "'abc'[::-1] == 'cba'": "subscripts",
    "{1: 2} == {}": "dict literals",
    "{1} == {1}": "set literals",
    "width is None": "identity comparisons",
    "~width": "the operator '~'",
    "width << 2": "the operator LShift",
    "max(width, key=abs) > 1": "keyword arguments",
    "b'x' == b'x'": "a bytes literal",
    "1j == 1j": "a complex literal",
    "... == ...": "a ellipsis literal",
    "9**9**9**9": "exponent",
    "2**64**2 > 1": "raises to the power 4096",
    "width ** 10**6 > 1": "raises to the power 1000000",
    "10**100000 > width": "raises to the power 100000",
    "1" + "0" * 30 + " > width": "integer literal beyond 2**63",
    "1e999 > width": "not a finite number",
    "width in [" + ",".join(["(1,2)"] * 150) + "]": "syntax nodes",
    "width > " + "+".join(["1"] * 100): "nests deeper",
    "width + " * 200 + "1 > 0": "characters long",
    "-" * 40 + "width > 0": "nests deeper",
    "lane > 2": "names 'lane', which is not a parameter of this space",
    "len > 2": "the function 'len' without calling it",
    "width >": "not a Python expression",
    "width\x00 > 1": "not a Python expression",
    "width.split(',', 1, 2)": "takes 0 to 1 arguments",
}


@pytest.mark.parametrize("source", list(HOSTILE), ids=range(len(HOSTILE)))
def test_hostile_constraint_is_one_line_error_before_any_work(source, tmp_path, monkeypatch, fake_work):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="constraint ") as exc:
        Space(**{**BASE, "constraints": [source]})
    assert HOSTILE[source] in str(exc.value) and "\n" not in str(exc.value)
    doc = tmp_path / "s.json"
    doc.write_text(json.dumps({**BASE, "constraints": [source]}))
    rc, out, err = cli("sweep", doc)
    assert_one_line_error(rc, err, match=HOSTILE[source])
    assert files_under(tmp_path) == {"s.json"}  # no store, no canary


@pytest.mark.parametrize("source", ["'a' * 10**9 == 'a'", "[1] * 10**9 == [1]", "width ** 0.5 > (-1) ** 0.5",
                                    "round(width, -10**18) == 0", "width / 0 > 1", "log2(0) > 1",
                                    "width * 2**63 * 2**63 * 2**63 * 2**63 * 2**63 > 0",
                                    "1e308 * 10 > round(1e308 * 10)"])
def test_runtime_bounds_are_one_line_errors_quickly(source):
    sp = Space(**{**BASE, "constraints": [source]})
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"constraint .* failed on") as exc:
        sp.points()
    assert time.perf_counter() - t0 < 0.5 and "\n" not in str(exc.value)


def test_python_payload_in_yaml_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = tmp_path / "s.yaml"
    doc.write_text("name: !!python/object/apply:os.system ['touch CANARY']\nblock: int-mac\n")
    rc, _, err = cli("sweep", doc)
    assert_one_line_error(rc, err, match="not valid YAML")
    assert files_under(tmp_path) == {"s.yaml"}


# the allowed grammar, generated: our interpreter must agree with Python's own evaluation of the same text
NAMES = {"a": 6, "b": -3, "f": 2.5, "s": "x,yy,z", "t": True}
_num = st.sampled_from(["a", "b", "f", "t", "0", "1", "2", "7", "-4", "0.5", "3.25"])
_str = st.sampled_from(["s", "'x'", "'yy'", "''", "'x,yy,z'"])


def _expr():
    num = st.recursive(
        _num,
        lambda e: st.one_of(
            st.tuples(e, st.sampled_from(["+", "-", "*", "/", "//", "%"]), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(e, st.sampled_from(["0", "1", "2", "3"])).map(lambda t: f"({t[0]} ** {t[1]})"),
            e.map(lambda x: f"(-{x})"),
            st.tuples(st.sampled_from(["abs", "round"]), e).map(lambda t: f"{t[0]}({t[1]})"),
            st.lists(e, min_size=1, max_size=3).map(lambda xs: f"max({', '.join(xs)})"),
            st.lists(e, min_size=1, max_size=3).map(lambda xs: f"min({', '.join(xs)})"),
            _str.map(lambda x: f"len({x})"),
            _str.map(lambda x: f"len({x}.split(','))"),
        ), max_leaves=6)
    cmp_ = st.one_of(
        st.tuples(num, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), num, st.sampled_from(["<", "<=", "=="]),
                  num).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]} {t[4]}"),
        st.tuples(num, st.sampled_from(["==", "!=", "<", ">="]), num).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(num, st.sampled_from(["in", "not in"]), st.lists(num, max_size=3)).map(
            lambda t: f"{t[0]} {t[1]} [{', '.join(t[2])}]"),
        st.tuples(_str, st.sampled_from(["in", "not in"]), _str).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(_str, _str).map(lambda t: f"{t[0]} in {t[1]}.split(',')"),
        st.tuples(_str, _str).map(lambda t: f"{t[0]}.startswith({t[1]})"),
        num,
    )
    return st.recursive(cmp_, lambda e: st.one_of(
        st.tuples(e, st.sampled_from(["and", "or"]), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        e.map(lambda x: f"not {x}"),
        st.tuples(e, e, e).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    ), max_leaves=4)


@settings(max_examples=150, deadline=None)
@given(_expr())
def test_constraint_language_agrees_with_python(src):
    env = {"abs": abs, "round": round, "max": max, "min": min, "len": len, **NAMES}
    try:
        expected = bool(eval(src, {"__builtins__": {}}, env))  # noqa: S307 - the test's own generated text
    except (ArithmeticError, TypeError, ValueError):
        expected = "error"
    try:
        got = Constraint(src, NAMES)(NAMES)
    except ValueError as exc:
        assert "nodes" not in str(exc) and "nests" not in str(exc)
        got = "error"
    assert got == expected, src



@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "s", "1", "2.5", "'q'", "(", ")", "[", "]", ",", ".", "__class__", "split",
                                 "__import__", "lambda", "for", "in", "if", "else", ":", "=", ":=", "**", "*", "+",
                                 "not", "and", "or", "==", "<", "is", "abs", "open", "f'{a}'", "{", "}", "~"]),
                max_size=14).map(" ".join))
def test_random_token_soup_is_refused_or_in_the_grammar(src):
    """Whatever the text, a Constraint is refused with a ValueError unless its syntax tree has only allowed node
    types, attribute access only as .split/.startswith/.endswith calls, and calls only to the named functions."""
    import ast

    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
               ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Compare, ast.Eq, ast.NotEq,
               ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.IfExp, ast.List, ast.Tuple, ast.Load,
               ast.Constant, ast.Name, ast.Call, ast.Attribute)
    t0 = time.perf_counter()
    try:
        c = Constraint(src, ["a", "s"])
    except ValueError:
        return
    tree = ast.parse(src.strip(), mode="eval")
    for node in ast.walk(tree):
        assert isinstance(node, allowed), (src, node)
        if isinstance(node, ast.Attribute):
            assert node.attr in ("split", "startswith", "endswith"), src
        if isinstance(node, ast.Call):
            f = node.func
            assert (isinstance(f, ast.Name) and f.id in ("abs", "min", "max", "round", "log2", "len")) or \
                isinstance(f, ast.Attribute), src
            assert not node.keywords
        if isinstance(node, ast.Name):
            assert node.id in ("a", "s", "abs", "min", "max", "round", "log2", "len"), src
    try:
        c({"a": 3, "s": "p,q"})
    except ValueError:
        pass
    assert time.perf_counter() - t0 < 1.0


def test_constraints_of_the_notebooks_and_readme_stay_valid():
    all4 = "fp4_e2m1,posit4_1,posit8_0,posit16_1"
    sp = Space(name="simd_mac_small", block="simd-mac",
               params={"count": [64, 256], "modes": [all4, "posit8_0,posit16_1"], "word_bits": [16], "stages": [2],
                       "acc_guard": [8], "shared": [True, False], "precision": ["posit8_0", "posit4_1"],
                       "workload": "xr.cls_resnet18_cifar"},
               constraints=(f"shared or modes == {all4!r}", "precision in modes.split(',')",
                            "shared or ',' in modes"))
    pts = sp.points()
    assert pts and all(p["precision"] in p["modes"].split(",") and (p["shared"] or p["modes"] == all4) for p in pts)
    assert len(pts) == 10  # 16, minus 4 not shared without all modes, minus 2 without posit4_1
    readme = Path(__file__).resolve().parents[2] / "README.md"
    block = readme.read_text().split("## Design-space sweeps")[1].split("```yaml")[1].split("```")[0]
    Space.from_dict(yaml.safe_load(block)).points()


# ---- names, paths, the store ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "a/b", "a\\b", "a\x00b", ".", "..", ".hidden", "-rf", "",
                                  "x" * 65, "a b", "é", "a\nb"])
def test_sweep_name_must_be_plain_and_nothing_escapes(name, tmp_path, monkeypatch, fake_work):
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(ValueError, match="sweep name must be a plain name"):
        Space(**{**BASE, "name": name})
    doc = tmp_path / "s.json"
    doc.write_text(json.dumps({**BASE, "name": name}))
    rc, _, err = cli("sweep", doc)
    assert_one_line_error(rc, err, match="sweep name must be a plain name")
    assert files_under(tmp_path) == {"s.json", "work", "work/deep"}
    assert not Path("/abs/path").exists()


@pytest.mark.parametrize("name", ["ok", "a.b-c_1", "X" * 64, "1st"])
def test_plain_names_go_under_build_sweeps(name, tmp_path, monkeypatch, fake_work):
    monkeypatch.chdir(tmp_path)
    doc = tmp_path / "s.json"
    doc.write_text(json.dumps({**BASE, "name": name}))
    rc, out, err = cli("sweep", doc)
    assert rc == 0, err
    assert all(f == "s.json" or f.startswith("build") for f in files_under(tmp_path))
    assert {"results.csv", "space.json", "pareto.png"} <= files_under(tmp_path / "build" / "sweeps" / name)


def test_output_paths_that_cannot_hold_a_store(tmp_path, monkeypatch, fake_work):
    monkeypatch.chdir(tmp_path)
    doc = tmp_path / "s.json"
    doc.write_text(json.dumps(BASE))
    (tmp_path / "afile").write_text("x")
    rc, _, err = cli("sweep", doc, "--out", tmp_path / "afile")
    assert_one_line_error(rc, err, match="is not a directory")
    rc, _, err = cli("sweep", doc, "--out", tmp_path / "afile" / "sub")
    assert_one_line_error(rc, err, match="cannot create the sweep store")
    (tmp_path / "o" / "results.csv").mkdir(parents=True)
    rc, _, err = cli("sweep", doc, "--out", tmp_path / "o")
    assert_one_line_error(rc, err, match="results.csv is not a file")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "results.csv").write_text("a,b\n1,2\n")
    rc, _, err = cli("sweep", doc, "--out", tmp_path / "p")
    assert_one_line_error(rc, err, match="is not a sweep store")
    assert (tmp_path / "p" / "results.csv").read_text() == "a,b\n1,2\n"  # not touched
    for bad in (tmp_path / "missing.yaml", tmp_path):
        rc, _, err = cli("sweep", bad)
        assert_one_line_error(rc, err, match="no sweep file")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    rc, _, err = cli("sweep", tmp_path / "bin.json")
    assert_one_line_error(rc, err, match="not a UTF-8 text file")


def test_a_second_sweep_on_one_store_is_refused_naming_the_holder(tmp_path, fake_work):
    out = tmp_path / "store"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys, time
            fd = os.open({str(out / '.lock')!r}, os.O_RDWR | os.O_CREAT)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, b"%d" % os.getpid())
            print("locked", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        doc = tmp_path / "s.json"
        doc.write_text(json.dumps(BASE))
        rc, _, err = cli("sweep", doc, "--out", out)
        assert_one_line_error(rc, err, match=f"is in use by another sweep (pid {holder.pid})")
        with pytest.raises(SweepStoreError, match="in use by another sweep"):
            run_sweep(Space(**BASE), out, progress=False)
        assert not (out / "results.csv").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    df = run_sweep(Space(**BASE), out, progress=False)  # the lock is released with its holder
    assert len(df) == 2
    # in one process too: a sweep holds the lock for its whole run and releases it after
    with S._StoreLock(out), pytest.raises(SweepStoreError, match=f"pid {os.getpid()}"):
        run_sweep(Space(**BASE), out, progress=False)
    assert len(run_sweep(Space(**BASE), out, progress=False)) == 2


def test_duplicate_rows_are_dropped_keeping_the_first(tmp_path, fake_work):
    sp = Space(name="d", block="int-mac", params={"width": [4, 6, 8]})
    run_sweep(sp, tmp_path, progress=False)
    store = tmp_path / "results.csv"
    lines = store.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    changed = [r.replace(",ok,", ",error,", 1) for r in rows]  # later copies that differ: the first must win
    store.write_text("\n".join([header, *rows, changed[0], changed[2], changed[0]]) + "\n")
    with pytest.warns(SweepWarning, match="dropped 3 duplicate row"):
        df = load_results(store)
    assert len(df) == 3 and df["key"].is_unique and (df["status"] == "ok").all()
    assert df.attrs["duplicates_dropped"] == 3
    with pytest.warns(SweepWarning, match="dropped 3 duplicate row"):
        again = run_sweep(sp, tmp_path, progress=False)
    assert len(again) == 3 and (again["status"] == "ok").all()
    assert store.read_text().splitlines() == [header, *rows]  # compacted once, nothing recomputed
    doc = tmp_path / "d.json"
    doc.write_text(json.dumps(sp.to_dict()))
    store.write_text("\n".join([header, *rows, rows[1]]) + "\n")
    rc, _, err = cli("sweep", doc, "--out", tmp_path)
    assert rc == 0 and "npegen: warning: sweep store" in err and "dropped 1 duplicate row" in err


def test_a_kill_mid_row_leaves_a_readable_store(tmp_path, fake_work):
    sp = Space(name="k", block="int-mac", params={"width": [4, 6, 8]})
    run_sweep(sp, tmp_path, progress=False)
    store = tmp_path / "results.csv"
    text = store.read_text()
    store.write_text(text[: len(text) - 25])  # the last row cut short
    assert len(load_results(store)) == 2
    df = run_sweep(sp, tmp_path, progress=False)
    assert len(df) == 3 and df["key"].is_unique


# ---- bounded work ---------------------------------------------------------------------------------------------


def test_a_2_to_the_30_grid_is_refused_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wl = ["xr.cls_resnet18_cifar", "xr.vio_ulvio", "xr.cls_effnet_b0", "xr.gaze_lle", "rnn.kws_lstm_s",
          "rnn.kws_lstm_m", "rnn.kws_lstm_l", "rnn.kws_gru_s"]
    params = {"width": list(range(2, 10)), "stages": list(range(1, 9)), "acc_width": list(range(24, 32)),
              "overflow": ["wrap", "saturate"] * 4, "count": list(range(1, 9)), "dram_gbps": list(range(1, 9)),
              "clock_mhz": list(range(100, 108)), "sram_kib": list(range(1, 9)), "precision": ["int8"] * 8,
              "workload": wl}
    assert math.prod(len(v) for v in params.values()) == 2**30
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"the grid has 1,073,741,824 points, more than the limit of 100,000"):
        Space(name="big", block="int-mac", params=params)
    doc = tmp_path / "big.yaml"
    doc.write_text(yaml.safe_dump({"name": "big", "block": "int-mac", "params": params}))
    rc, _, err = cli("sweep", doc)
    assert time.perf_counter() - t0 < 1.0
    assert_one_line_error(rc, err, match="raise it with --max-points")
    rc, _, err = cli("sweep", doc, "--max-points", str(2**40))
    assert_one_line_error(rc, err, match="--max-points must be in [1, 10**8]")
    assert files_under(tmp_path) == {"big.yaml"}
    lhs = {"name": "l", "block": "int-mac", "sampler": "lhs", "samples": 2**30, "params": {"width": [4, 8]}}
    with pytest.raises(ValueError, match=r"in \[1, 100000\], not 1073741824 \(the point limit; raise it"):
        Space(**lhs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(1, 400))
def test_the_point_count_is_exact_and_the_cap_is_explicit(lengths, cap):
    keys = ["width", "stages", "acc_width", "overflow"]
    params = {k: [f"v{i}" for i in range(n)] if k == "overflow" else list(range(10, 10 + n))
              for k, n in zip(keys, lengths, strict=False)}
    n = math.prod(lengths)
    if n > cap:
        with pytest.raises(ValueError, match=f"the grid has {n:,} points, more than the limit of {cap:,}"):
            Space(name="g", block="int-mac", params=params, max_points=cap)
    else:
        sp = Space(name="g", block="int-mac", params=params, max_points=cap)
        assert sp.size() == n == len(sp.points())


def test_constraint_work_is_bounded_before_any_point_exists():
    heavy = " and ".join(["width > -1"] * 60)  # 241 syntax nodes
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"4 constraints of 964 syntax nodes on 100,000 points is 96,400,000 node "
                                         r"evaluations, more than the limit of 10,000,000"):
        Space(name="w", block="int-mac", params={"width": list(range(100_000))}, constraints=[heavy] * 4)
    assert time.perf_counter() - t0 < 1.0
    sp = Space(name="w", block="int-mac", params={"width": list(range(1000))}, constraints=[heavy] * 4)
    t0 = time.perf_counter()
    assert len(sp.points()) == 1000
    assert time.perf_counter() - t0 < 5.0  # the budget's 964,000 node evaluations: well within it


def test_ranges_must_be_finite_numbers():
    for rng, match in [({"low": 1, "high": math.inf}, "finite numbers"), ({"low": math.nan, "high": 2}, "finite"),
                       ({"low": 2, "high": 1}, "low <= high"), ({"low": "1", "high": 2}, "finite numbers"),
                       ({"low": 0, "high": 2, "log": True}, "log range needs low > 0"),
                       ({"low": 1, "high": 2, "int": "yes"}, "'int' must be true or false"),
                       ({"low": 1, "high": 2, "step": 1}, "a mapping must be a range"),
                       ({"low": 1}, "a mapping must be a range"), ({"low": 1, "high": 10**30}, r"within ±2\*\*53")]:
        with pytest.raises((TypeError, ValueError), match=match):
            Space(name="r", block="int-mac", sampler="random", params={"width": rng})
    with pytest.raises(ValueError, match="needs int: true"):
        Space(name="r", block="int-mac", sampler="random", params={"count": {"low": 1, "high": 9}})


# ---- typos and types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS)
def test_allowed_parameters_are_the_blocks_dataclass_fields(block):
    cls = S._params_class(block)
    want = [f.name for f in dataclasses.fields(cls) if f.init] + list(ESTIMATOR_KEYS)
    assert list(block_parameters(block)) == want
    for name in want:  # every one is accepted (with a value of its kind)
        value = "xr.vio_ulvio" if name == "workload" else ("int8" if name == "precision" else 8)
        Space(name="p", block=block, params={name: [value]})
    for typo in [want[0][:-1], want[0] + "s", want[0].upper(), "lane", "dram_gpbs", "__class__"]:
        if typo in want:
            continue
        with pytest.raises(ValueError, match=f"unknown parameter '{typo}' for a {block} sweep; allowed: ") as exc:
            Space(name="p", block=block, params={typo: [1]})
        assert ", ".join(want) in str(exc.value)


@pytest.mark.parametrize(("doc", "match"), [
    ("verify: 'false'", "verify must be true or false, not 'false'"),
    ("verify: 1", "verify must be true or false"),
    ("params: {lanes: [4]}", "unknown parameter 'lanes' for a int-mac sweep"),
    ("params: {dram_gpbs: [4]}", "unknown parameter 'dram_gpbs'"),
    ("params: [width, 4]", "params must be a mapping"),
    ("params: {width: []}", "empty list"),
    ("params: {width: [.nan]}", "is not a finite number"),
    ("params: {width: [.inf]}", "is not a finite number"),
    ("params: {width: [1.0e+400]}", "is not a finite number"),
    ("params: {width: [99999999999999999999999]}", "within ±2**63"),
    ("params: {width: [[[1]]]}", "is not a number, string, boolean, null"),
    ("params: {width: [{a: 1}]}", "is not a number"),
    ("params: {width: 2020-01-01}", "is not a number"),
    ("params: {workload: [xr.nope]}", "unknown workload 'xr.nope'"),
    ("params: {count: [0]}", "'count' must be a positive integer"),
    ("params: {dram_gbps: [-1]}", "'dram_gbps' must be a positive number"),
    ("sampler: random\nparams: {width: {low: 1, high: .inf}}", "finite numbers"),
    ("samples: 0", r"samples must be an integer in [1, 100000]"),
    ("samples: '5'", "samples must be an integer"),
    ("seed: -5", "seed must be an integer in [0, 2**63)"),
    ("seed: 1.5", "seed must be an integer"),
    ("sampler: sobol", "sampler must be one of"),
    ("constraints: 5", "constraints must be a string or a list of strings"),
    ("constraints: [5]", "a constraint must be a string"),
    ("extra: 1", "unknown sweep key(s) 'extra'"),
    ("max_points: 10000000", "unknown sweep key(s) 'max_points'"),
    ("1: 2", "unknown sweep key(s) 1"),
])
def test_every_field_is_checked(doc, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nblock: int-mac\n" + ("" if doc.startswith("params") else "params: {width: [8]}\n")
                    + doc + "\n")
    rc, _, err = cli("sweep", path)
    assert_one_line_error(rc, err, match=match)
    assert err.startswith(f"npegen: error: {path}: ")  # the file is named
    assert files_under(tmp_path) == {"s.yaml"}


@pytest.mark.parametrize(("args", "match"), [
    (["--workers", "0"], "--workers must be in [1, 1024]"),
    (["--workers", "100000"], "--workers must be in [1, 1024]"),
    (["--max-points", "0"], "--max-points must be in"),
    (["--max-points", "1e9"], "invalid int value"),
    (["--pareto", "area_mm2"], "--pareto must be two metrics"),
    (["--pareto", "area_mm2,tag"], "--pareto must be two metrics"),
    (["--pareto", "width,cells"], "--pareto must be two metrics"),
])
def test_bad_sweep_arguments(args, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(BASE))
    rc, _, err = cli("sweep", path, *args)
    assert_one_line_error(rc, err, match=match)


def test_no_point_left_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**BASE, "constraints": "width > 100"}))
    rc, _, err = cli("sweep", path)
    assert_one_line_error(rc, err, match="has no point: the constraints exclude all 2")


def test_all_points_failing_exits_1_with_the_store_written(tmp_path, monkeypatch):
    """Real evaluation (the parameters fail before any synthesis)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "f", "block": "int-mac", "params": {"width": [40, 99]}}))
    rc, out, err = cli("sweep", path, "--workers", "1")
    assert rc == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == ("npegen: error: 2 of 2 points of sweep 'f' failed (errors above and in "
                                    "build/sweeps/f/results.csv)")
    assert "0 of 2 points ok" in out and "width must be an integer in [2, 32], not 40" in out
    assert len(load_results(tmp_path / "build" / "sweeps" / "f" / "results.csv")) == 2


def test_progress_bar_counts_the_syntheses(tmp_path, fake_work):
    sp = Space(name="b", block="int-mac", params={"width": [4, 8], "count": [16, 32, 64]})
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        run_sweep(sp, tmp_path, progress=True)
    text = err.getvalue()
    assert "synthesising 2 engine(s)" in text and "8/8" in text  # 2 engines + 6 points


# ---- Ctrl-C ---------------------------------------------------------------------------------------------------


def test_ctrl_c_exits_130_with_whole_rows_only(tmp_path):
    """SIGINT to the whole process group (what a terminal sends) in the middle of a sweep on a process pool."""
    out = tmp_path / "o"
    doc = tmp_path / "s.json"
    # 56 points of 0.5 s on 2 workers: 14 s, so that even a starved test process sees the sweep midway
    doc.write_text(json.dumps({"name": "c", "block": "int-mac", "params": {"width": list(range(2, 30)),
                                                                          "stages": [1, 2]}}))
    script = textwrap.dedent(f"""
        import sys, time
        import npegen.analysis.sweep as S
        def slow(block, point, verifier=None):
            time.sleep(0.5)
            return {{"tag": "t", "area_mm2": 1.0, "energy_per_op_pJ": 1.0}}
        S.evaluate_point = slow
        S._synth_only = lambda block, gen: None
        from npegen.cli import main
        sys.exit(main(["sweep", {str(doc)!r}, "--out", {str(out)!r}, "--workers", "2"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, preexec_fn=_default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = out / "results.csv"
    t0 = time.time()
    while time.time() - t0 < 60 and proc.poll() is None:
        if store.is_file() and len(store.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("npegen: interrupted")
    rows = store.read_text().splitlines()
    assert 3 <= len(rows) < 57 and all(r.count('"') % 2 == 0 for r in rows)
    assert len(load_results(store)) == len(rows) - 1  # every row is a whole finished point
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# ---- generated documents --------------------------------------------------------------------------------------

_junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
              st.sampled_from([2**70, -(2**64), 1e308, -1e-308, "fail", "../x", "/abs", "\x00", "true", "false",
                               "9**9**9**9", "xr.vio_ulvio", "int8", "wrap", "", ".inf"])),
    lambda ch: st.lists(ch, max_size=3) | st.dictionaries(st.text(max_size=5), ch, max_size=3),
    max_leaves=8)
_POOL = {"workload": ["xr.vio_ulvio", "xr.cls_resnet18_cifar"], "count": [16, 64], "dram_gbps": [12.8, 25.6],
         "clock_mhz": [500, 1000.0], "sram_kib": [256], "precision": ["int8", "posit8_0"], "node_nm": [7, 28]}
_GEN_VALUES = [1, 2, 4, 8, 16, 0.5, "wrap", "sherry", "fail", True, False, None, [0.0, 1.0]]
_CONSTRAINTS = ["width.__class__", "9**9**9**9", "(", "", "__import__('os')", "x" * 1200, "1 if 1 else 2",
                "lane > 2", "'a' < 1", "1 / 0 > 1"]


@st.composite
def _sweep_docs(draw):
    """A plausible sweep document for a random block, then 0-3 corruptions (junk in a field, an unknown key or
    parameter, a bad element, a hostile constraint, a missing field, or the whole document replaced)."""
    block = draw(st.sampled_from(BLOCKS))
    names = block_parameters(block)
    sampler = draw(st.sampled_from(SAMPLERS))
    params = {}
    for k in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        pool = _POOL.get(k, _GEN_VALUES)
        if sampler != "grid" and k not in ("workload", "precision") and draw(st.booleans()):
            lo = draw(st.integers(1, 8))
            params[k] = {"low": lo, "high": lo + draw(st.integers(0, 8)), "int": True, "log": draw(st.booleans())}
        else:
            vals = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique_by=repr))
            params[k] = vals if len(vals) > 1 or draw(st.booleans()) else vals[0]
    cons = [f"{k} == {k}" for k in draw(st.lists(st.sampled_from(sorted(params) or ["x"]), max_size=2))
            if k in params]
    doc = {"name": draw(st.sampled_from(["fz", "fz.2", "F-3"])), "block": block, "params": params, "sampler": sampler,
           "samples": draw(st.integers(1, 12)), "seed": draw(st.integers(0, 2**40)), "constraints": cons,
           "verify": draw(st.booleans())}
    for what in draw(st.lists(st.sampled_from(["field", "unknown", "param", "element", "constraint", "drop",
                                               "name", "whole"]), max_size=3)):
        if not isinstance(doc, dict) or not doc:
            break
        if what == "field":
            doc[draw(st.sampled_from(sorted(doc)))] = draw(_junk)
        elif what == "unknown":
            doc[draw(st.sampled_from(["extra", "max_points", "Name", "paramz"]))] = draw(_junk)
        elif what == "param" and isinstance(doc.get("params"), dict):
            doc["params"][draw(st.sampled_from([*names, "lane", "dram_gpbs", "__class__", ""]))] = draw(_junk)
        elif what == "element" and isinstance(doc.get("params"), dict) and doc["params"]:
            k = draw(st.sampled_from(sorted(doc["params"], key=str)))
            doc["params"][k] = [draw(_junk), *(doc["params"][k] if isinstance(doc["params"][k], list) else [])]
        elif what == "constraint":
            doc["constraints"] = [*(doc["constraints"] if isinstance(doc.get("constraints"), list) else []),
                                  draw(st.sampled_from(_CONSTRAINTS))]
        elif what == "drop":
            doc.pop(draw(st.sampled_from(sorted(doc))), None)
        elif what == "name":
            doc["name"] = draw(st.sampled_from(["../../x", "/abs/x", "a/b", ".", "..", "\x00", "x" * 100]))
        elif what == "whole":
            doc = draw(_junk)
    return doc


def test_generated_sweep_documents_end_in_0_1_or_one_line_2(tmp_path_factory, fake_work, monkeypatch):
    """Wrong types, NaN/inf, huge numbers, unknown keys, nesting, hostile names and constraints: the CLI exits
    0, 1 or 2, never with a traceback; 2 is exactly one line; nothing is written outside build/sweeps/. The
    documents must reach all three outcomes (a generator that only makes bad files would prove little)."""
    monkeypatch.setattr(S, "evaluate_point", flaky_evaluate)
    codes: dict[int, int] = {}

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(doc=_sweep_docs(), fmt=st.sampled_from(["json", "yaml", "yaml", "raw"]))
    def one(doc, fmt):
        root = tmp_path_factory.mktemp("fuzz")
        cwd = root / "cwd"
        cwd.mkdir()
        path = root / f"s.{'yaml' if fmt == 'yaml' else 'json'}"
        if fmt == "yaml":
            path.write_text(yaml.safe_dump(doc))
        elif fmt == "json":
            path.write_text(json.dumps(doc))
        else:
            path.write_text(repr(doc)[:2000])
        here = os.getcwd()
        os.chdir(cwd)
        try:
            rc, out, err = cli("sweep", path, "--max-points", "200")
        finally:
            os.chdir(here)
        codes[rc] = codes.get(rc, 0) + 1
        assert isinstance(rc, int) and rc in (0, 1, 2), (rc, err)
        assert "Traceback" not in err and "Traceback" not in out
        if rc == 2:
            assert_one_line_error(rc, err)
            assert files_under(cwd) == set()
        else:
            assert all(f == "build" or f.startswith(("build/sweeps", "build\\sweeps")) for f in files_under(cwd))
            if rc == 1:
                assert err.splitlines()[-1].startswith("npegen: error: ")

    one()
    print(f"generated sweep documents: {sum(codes.values())} cases, exit codes {codes}")
    assert sum(codes.values()) >= 80 and all(codes.get(c, 0) > 0 for c in (0, 1, 2)), codes


def test_limits_are_documented():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Design-space sweeps")[1].split("\n## ")[0]
    for word in ("--max-points", f"{S.MAX_POINTS:,}", "split", "log2", "2**63", "2**256", ".lock", "exit code",
                 *(f"{n} {what}" for n, what in [(CONSTRAINT_LIMITS["chars"], "characters"),
                                                 (CONSTRAINT_LIMITS["nodes"], "syntax nodes"),
                                                 (CONSTRAINT_LIMITS["depth"], "levels"),
                                                 (CONSTRAINT_LIMITS["constraints"], "constraints"),
                                                 (CONSTRAINT_LIMITS["items"], "items")]),
                 f"±{CONSTRAINT_LIMITS['exponent']}"):
        assert word.lower() in section.lower(), word
    doc = S.__doc__
    for n in CONSTRAINT_LIMITS.values():
        assert str(n) in doc
