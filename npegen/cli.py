"""``npegen`` command line: generate, verify, synthesise and lint blocks; run the demo.

Every bad input ends as one line ``npegen: error: ...`` on stderr and exit code 2; a failed
verification or synthesis ends as one line and exit code 1; Ctrl-C ends as one line and exit
code 130, and a file the CLI writes is either complete or absent (temporary file + rename).
Anything else is a bug: one line ``npegen: internal error: ...`` and exit code 1, with the
traceback when ``NPEGEN_DEBUG=1``. Nothing in the package imports this module.

The work is done by library functions (:mod:`npegen.flow`, :mod:`npegen.blocks`, :mod:`npegen.analysis`); this
module parses (the subcommands are the tables ``_BLOCK_COMMANDS`` and ``_COMMANDS``; ``cmd_<name>`` runs each),
turns bad input into one-line errors and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import textwrap
import time
from pathlib import Path

from . import flow
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
#: Integer options checked after parsing: destination -> (lowest, highest, the range as the error says it).
_RANGES = {"seed": (0, 2**32 - 1, "[0, 2**32)"), "n_random": (1, MAX_N_RANDOM, f"[1, {MAX_N_RANDOM}]"),
           "max_points": (1, 10**8, "[1, 10**8]"), "workers": (1, 1024, "[1, 1024]")}

BLOCKS = REGISTRY  #: the block registry (:data:`npegen.blocks.REGISTRY`, the live mapping)


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


def _check_ranges(args) -> None:
    for dest, (lo, hi, text) in _RANGES.items():
        value = getattr(args, dest, None)
        if value is not None and not lo <= value <= hi:
            raise CliError(f"--{dest.replace('_', '-')} must be in {text}, not {value}")


def _message(exc: BaseException) -> str:
    """First line of an exception's message (a KeyError's without the quotes repr adds)."""
    msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return msg.strip().split("\n")[0] or type(exc).__name__


def _one_line(msg: str) -> str:
    """``msg`` with every character that would break or hide the line (CR, form feed, other controls)
    escaped: a user's junk argument quoted in a message cannot make it two lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in msg)


@contextlib.contextmanager
def _errors(kinds=(TypeError, ValueError), *, prefix: str = "", code: int = 2, whole: bool = False):
    """Turn an exception of ``kinds`` (a class or a tuple) raised inside into a CliError with exit status ``code``:
    ``prefix`` and the exception's first line (all of it if ``whole``; main escapes the line breaks)."""
    try:
        yield
    except kinds as exc:
        raise CliError(prefix + (str(exc) if whole else _message(exc)), code) from None


_say = functools.partial(print, flush=True)


# ---- commands -----------------------------------------------------------------------------------------


def _design(args) -> tuple[BlockSpec, object]:
    block = REGISTRY[args.block]
    with _errors():
        return block, block.from_args(args)


def _sim(args) -> str:
    from .sim.runner import resolve_sim

    with _errors():
        return resolve_sim(args.sim)


def cmd_generate(args) -> int:
    block, params = _design(args)
    print(flow.write_verilog(block, params, _out_dir(args.output)))
    return 0


def cmd_verify(args) -> int:
    import re

    from .sim.runner import SimulationError

    block, params = _design(args)
    sim = _sim(args)
    if args.test is not None:
        try:
            re.compile(args.test)
        except re.error as exc:
            raise CliError(f"--test must be a regular expression, not {args.test!r} ({exc})") from None
    # the simulator's own output goes to build.log/sim.log unless -v (--quiet is the default, kept for scripts)
    kw = {k: v for k, v in (("waves", args.waves or None), ("n_random", args.n_random)) if v is not None}
    with _errors(SimulationError, prefix="verification failed: ", code=1, whole=True):
        res = block.verify(params, sim=sim, seed=args.seed, testcase=args.test, quiet=not args.verbose, **kw)
    print(f"PASS {block.name} {params.tag} on {res.sim}: {res.tests - res.skipped} cocotb tests, seed={res.seed}, "
          f"{res.seconds:.1f} s, build {res.build_dir}" + (f", waves {res.waves}" if res.waves else ""))
    return 0


def cmd_synth(args) -> int:
    import json

    import pandas as pd

    from .hw.synth import SynthError

    block, params = _design(args)
    with _errors(SynthError, code=1):
        rep = flow.synthesise(block, params, use_cache=not args.no_cache)
    if args.json:
        print(json.dumps(rep.as_dict(detail=True), indent=1))
    else:
        cols = ["top", "tag", "cells", "flops", "transistors", "luts", "ffs", "carry", "yosys", "seconds", "cached"]
        print(pd.DataFrame([rep.as_dict()])[cols].to_string(index=False))
    return 0


def cmd_lint(args) -> int:
    import tempfile

    from .hw.verilog import LintError, lint_verilog

    for name in args.blocks:
        if name not in REGISTRY:
            raise CliError(f"unknown block {name!r}; choose from {sorted(REGISTRY)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.blocks or list(REGISTRY):
            block = REGISTRY[name]
            params = block.from_args(block.defaults())
            path = flow.write_verilog(block, params, tmp)
            try:
                lint_verilog(path, top=path.stem)
            except LintError as exc:
                print(str(exc), file=sys.stderr)
                raise CliError(f"verilator lint failed on {name} {params.tag}", code=1) from None
            print(f"lint clean: {name} {params.tag}")
    return 0


def cmd_formats(args) -> int:
    from .models import formats as F

    if not args.what:
        print(F.format_table().to_string(index=False))
        print("\nany posit<n>_<es> (2<=n<=32, 0<=es<=4) or int<n> (2<=n<=24) works too; "
              "'npegen formats show NAME' prints a value table")
        return 0
    if args.what[0] != "show" or len(args.what) != 2:
        raise CliError(f"usage: npegen formats [show NAME], not {' '.join(args.what)!r}")
    with _errors():
        print("\n".join(F.value_table(F.parse(args.what[1]))))
    return 0


def _run_points(args, points, sim: str, out: Path, label: str) -> list[dict]:
    with _errors(flow.FlowError, code=1, whole=True):
        return flow.run_points(points, out=out, sim=sim, seed=args.seed, label=label, quiet=not args.verbose,
                               say=_say)


def cmd_demo(args) -> int:
    sim = _sim(args)
    with _errors(prefix="--blocks: "):
        points = flow.demo_points(args.blocks)
    out = _out_dir(args.output)
    _say(f"npegen demo: {len(points)} design points on {sim}{flow.first_synthesis_note()}")
    t0 = time.perf_counter()
    df = flow.demo_table(_run_points(args, points, sim, out, "demo"))
    table, fig = flow.write_demo(df, out)
    summary = flow.demo_summary(df)
    print(f"\n{df.to_string(index=False)}" + (f"\n\n{summary}" if summary else ""))
    print(f"\n{len(df)} design points generated, verified bit-exact and synthesised in "
          f"{time.perf_counter() - t0:.0f} s; table in {table}, plot {fig}, Verilog under {out}/")
    return 0


def _design_file(path):
    """The design of the JSON file ``path`` (--design), or the built-in design."""
    from .analysis.estimator import default_design, load_design

    with _errors((TypeError, ValueError, KeyError)):
        return load_design(path) if path else default_design()


def _synthesized(design, *, say: bool = True):
    """``design`` with its engines' synthesised areas: the one path ``npegen report`` and ``npegen estimate
    --synth`` share (cached per design point; the first synthesis on a machine compiles Yosys)."""
    from .hw.synth import SynthError

    if say:
        _say("synthesising the design's engines for their area (cached after the first run)")
    with _errors(SynthError, prefix="synthesis of the design's engines failed: ", code=1):
        return design.with_synthesized_areas()


def cmd_report(args) -> int:
    import pandas as pd

    from .analysis.report import write_report

    sim = _sim(args)
    design = _design_file(args.design)
    out = _out_dir(args.output)
    t0 = time.perf_counter()
    points = [] if args.no_blocks else flow.default_points()
    _say(f"npegen report: {len(points)} blocks (default design points) on {sim}, then every built-in workload "
         f"on {design.name}{flow.first_synthesis_note()}")
    rows = _run_points(args, points, sim, out / "verilog", "block")
    blocks = pd.DataFrame(rows).set_index("block") if rows else None
    print("[report] ", end="")
    design = _synthesized(design)
    res = write_report(out, design, blocks=blocks, progress=lambda m: _say(f"[report] {m}"))
    print(f"\n{flow.report_summary(res, design, blocks)}")
    print(f"report {res['report']} with {len(res['plots'])} plots; every number above is traced in "
          f"{Path(res['report']).parent / 'provenance.csv'}; {time.perf_counter() - t0:.0f} s")
    return 0


def cmd_sweep(args) -> int:
    import warnings

    from .analysis import sweep

    with _errors():
        pareto = sweep.pareto_axes(args.pareto)
        space = sweep.Space.load(args.space, max_points=args.max_points or sweep.MAX_POINTS)
    with _errors(prefix=f"{args.space}: "):  # a constraint that cannot be evaluated on a point
        pts = space.points()
    if not pts:
        raise CliError(f"sweep {space.name!r} has no point: the constraints exclude all {space.size()}")
    out = Path(args.out) if args.out else Path("build") / "sweeps" / space.name  # a plain name: stays inside
    with _errors():
        client = sweep.connect_dask(args.dask) if args.dask else None
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"
    _say(f"npegen sweep {space.name}: {len(pts)} points of {space.block} ({space.sampler}) on {where}; "
         f"store {out / 'results.csv'}")
    t0 = time.perf_counter()
    with warnings.catch_warnings(), _errors():
        warnings.simplefilter("always", sweep.SweepWarning)
        warnings.showwarning = lambda message, *a, **k: print(f"npegen: warning: {message}", file=sys.stderr)
        try:
            df = sweep.run_sweep(space, out, executor=client and client.get_executor(), workers=args.workers,
                                 retry_errors=args.retry_errors)
        finally:
            if client is not None:
                client.close()
    text, n_bad = sweep.summarize(df, space.name, out, pareto=pareto, seconds=time.perf_counter() - t0)
    print(text)
    if n_bad:
        raise CliError(f"{n_bad} of {len(df)} points of sweep {space.name!r} failed (errors above and in "
                       f"{out / 'results.csv'})", code=1)
    return 0


def cmd_estimate(args) -> int:
    import json

    from .analysis.estimator import estimate
    from .analysis.workloads import get_workload

    design = _design_file(args.design)
    with _errors((TypeError, ValueError, KeyError)):
        wl = get_workload(args.workload)
    if args.synth:
        design = _synthesized(design, say=not args.json)  # the same areas as npegen report
    with _errors((TypeError, ValueError, KeyError)):
        res = estimate(design, wl)
    print(json.dumps(res.to_dict(), indent=1, default=str) if args.json
          else flow.estimate_summary(res, design, wl, layers=args.layers))
    return 0


def cmd_workloads(args) -> int:
    from .analysis.workloads import workload_table

    df = workload_table()
    df["source"] = df["source"].str.slice(0, 50)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


# ---- the parser: tables of subcommands and their options ----------------------------------------------------


def _opt(*flags: str, **kw) -> tuple[tuple[str, ...], dict]:
    """One ``add_argument(*flags, **kw)`` of a table below."""
    return flags, kw


_SIM = _opt("--sim", default=None, help="icarus | verilator (default $SIM or icarus)")
_SEED = _opt("--seed", type=int, default=None, help="stimulus seed (default: random, printed)")
_VERBOSE = _opt("-v", "--verbose", action="store_true",
                help="show the simulator's own output instead of writing it to the log files")
_DESIGN = _opt("--design", default=None, metavar="FILE", help="JSON design file (default: built-in design)")


def _run_options(output: str) -> list:
    """The options of the commands that verify and synthesise blocks (demo, report)."""
    return [_SIM, _SEED, _opt("-o", "--output", default=output, metavar="DIR", help="output directory"), _VERBOSE]


#: generate, verify and synth: (name, help, what follows each example, options after the design point's).
_BLOCK_COMMANDS = [
    ("generate", "write a block's Verilog", " -o out/",
     [_opt("-o", "--output", required=True, metavar="DIR", help="directory for <toplevel>.v")]),
    ("verify", "run a block's cocotb testbench against its numpy model", " --seed 7",
     [_SIM, _SEED, _opt("--test", default=None, metavar="REGEX", help="run only matching cocotb tests"),
      _opt("--waves", action="store_true", help="record waveforms (also WAVES=1)"),
      _opt("--n-random", type=int, default=None, help="cycles of the random test"),
      _opt("--quiet", action="store_true",
           help="simulator output to build.log/sim.log in the build directory (the default)"), _VERBOSE]),
    ("synth", "synthesise a block with yosys and print its area record", "",
     [_opt("--json", action="store_true", help="print the full record as JSON"),
      _opt("--no-cache", action="store_true", help="synthesise again even if cached")]),
]

#: The other subcommands: (name, help, description, examples, options).
_COMMANDS = [
    ("formats", "list the number formats, or 'formats show NAME' for a value table",
     "List the number formats (bits, range, exact product and accumulator widths), or print every code of one "
     "format with its value.", ["npegen formats", "npegen formats show posit8_0"],
     [_opt("what", nargs="*", metavar="show NAME")]),
    ("lint", "verilator --lint-only on every block's default Verilog",
     "Run verilator --lint-only on the Verilog of every (or the named) block's default design point; any default "
     "warning but WIDTHEXPAND fails.", ["npegen lint", "npegen lint int-mac ternary"],
     [_opt("blocks", nargs="*", metavar="BLOCK")]),
    ("demo", "generate, verify and synthesise the built-in design points",
     f"Generate, verify (quick cocotb tests) and synthesise the {len(flow.DEMO_POINTS)} built-in design points, one "
     "line per step; writes demo.csv and area.png. The simulator's own output goes to sim.log in each build "
     "directory unless -v.", ["npegen demo", "npegen demo --blocks int-mac,ternary --sim verilator -o build/demo"],
     [*_run_options("build/demo"), _opt("--blocks", default=None, metavar="LIST",
                                        help="only these blocks, comma-separated (default: all of the demo's)")]),
    ("report", "the main job: generate, verify and synthesise every block's default design point, estimate every "
     "built-in workload, write build/report/",
     "The main job (make demo): generate, verify and synthesise every block's default design point, synthesise the "
     "design's engines for its area, estimate every built-in workload and the XRBench deadlines, and write "
     "report.md, the plots, the CSVs and provenance.csv (every number's source) into the output directory. One "
     "line per step; the simulator's own output goes to sim.log unless -v.",
     ["npegen report", "npegen report --no-blocks -o /tmp/rep        # estimates only, a few seconds",
      "npegen report --design my_design.json"],
     [*_run_options("build/report"), _DESIGN,
      _opt("--no-blocks", action="store_true", help="skip generating/verifying the blocks")]),
    ("sweep", "run a design-space sweep from a YAML/JSON file (resumable)",
     "Run a design-space sweep: every point of SPACE.yaml is generated, verified, synthesised and estimated, on "
     "local worker processes or a Dask cluster; results go to a resumable store and a Pareto plot.",
     ["npegen sweep space.yaml --workers 2", "npegen sweep space.yaml --dask tcp://host:8786 --out build/sweeps/mine"],
     [_opt("space", metavar="SPACE.yaml", help="the sweep: name, block, params, sampler, constraints, ..."),
      _opt("--out", default=None, metavar="DIR", help="store directory (default build/sweeps/<name>)"),
      _opt("--workers", type=int, default=None, help="local worker processes, 1..1024 (default: CPU count)"),
      _opt("--dask", default=None, metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786"),
      _opt("--retry-errors", action="store_true", help="run points recorded with an error again"),
      _opt("--max-points", type=int, default=None, metavar="N",
           help="allow up to N points (grid size or samples; default 100000, at most 10**8)"),
      _opt("--pareto", default="area_mm2,energy_per_op_pJ", metavar="X,Y",
           help="metrics of the Pareto plot, both minimised (default area_mm2,energy_per_op_pJ)")]),
    ("estimate", "cycles, energy and throughput of a built-in workload on a design",
     "Estimate one built-in workload on a design: cycles (split into ideal, mapping loss, fill/drain, ADC/NL and "
     "memory stall), energy, throughput; with --synth also the area, GOPS/mm2 and leakage, exactly as npegen report.",
     ["npegen estimate --workload llm.llama32_1b.decode --layers",
      "npegen estimate --workload xrbench.ES_RITNet --design my_design.json --synth",
      "npegen estimate --workload rnn.kws_lstm_s --json"],
     [_opt("--workload", required=True, metavar="NAME", help="a name from 'npegen workloads'"), _DESIGN,
      _opt("--json", action="store_true", help="print the result as JSON"),
      _opt("--layers", action="store_true", help="also print the per-layer table"),
      _opt("--synth", action="store_true", help="synthesise the design's engines (cached) for the area, GOPS/mm2 "
           "and leakage, as 'npegen report' does; without it those are reported as not synthesised")]),
    ("workloads", "list the built-in workloads with their MACs and targets",
     "List the built-in workloads: unit, layers, MACs, weights, target rate and source.", ["npegen workloads"], []),
]


def _add(sub, name: str, help_: str, description: str, examples: list[str], options=()) -> _Parser:
    """A subcommand: ``description`` wrapped, the ``examples`` in the epilog line by line (the tests run them)."""
    epilog = ("examples:" if len(examples) > 1 else "example:") + "".join(f"\n  {e}" for e in examples)
    p = sub.add_parser(name, help=help_, description=textwrap.fill(description, 100), epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    for flags, opts in options:
        p.add_argument(*flags, **opts)
    return p


def _parser() -> _Parser:
    from . import __version__

    p = _Parser(prog="npegen", description="npegen: generate, verify and measure neural datapath hardware.",
                epilog="examples:\n"
                       "  npegen report --no-blocks            # estimate every workload, write build/report/\n"
                       "  npegen verify int-mac --width 8      # run a block's cocotb testbench\n"
                       "  npegen <command> --help              # each command's options and examples",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"npegen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True)
    for cmd, help_, tail, options in _BLOCK_COMMANDS:  # one example design point per block (its registry entry's)
        c = _add(sub, cmd, help_, f"{help_}; the block and its design point follow the command",
                 [f"npegen {cmd} {b.name} {b.example}".rstrip() + tail for b in REGISTRY.values()])
        bsub = c.add_subparsers(dest="block", metavar="BLOCK", parser_class=_Parser, required=True)
        for b in REGISTRY.values():
            bp = _add(bsub, b.name, b.help, f"{help_}: {b.help}",
                      [f"npegen {cmd} {b.name}{tail}    # the default design point"]
                      + ([f"npegen {cmd} {b.name} {b.example}{tail}"] if b.example else []))
            b.add_options(bp)
            for flags, opts in options:
                bp.add_argument(*flags, **opts)
    for name, help_, description, examples, options in _COMMANDS:
        _add(sub, name, help_, description, examples, options)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the ``npegen`` console script).

    Exit status: 0 done; 2 a bad argument or input file, or an output/input path that cannot be used (one
    line ``npegen: error: ...``); 1 a failed verification or synthesis (one line), or an internal error
    (one line ``npegen: internal error: ...``: a bug; ``NPEGEN_DEBUG=1`` re-raises it with its traceback);
    130 Ctrl-C (one line; files the CLI writes are renamed into place only when complete).
    """
    try:
        args = _parser().parse_args(argv)
        _check_ranges(args)
        return globals()[f"cmd_{args.command}"](args)  # looked up when called: tests may replace a command
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
