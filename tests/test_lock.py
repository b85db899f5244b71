"""The committed lock (constraints.lock) pins every package npegen[dev] needs, and `make test` installed exactly
those versions (checked when ``NPEGEN_LOCKED=1``, which `make test` sets; `make test-latest` does not)."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parents[1] / "constraints.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def locked() -> dict[str, str]:
    pins = {}
    for n, line in enumerate(LOCK.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _PIN.match(line)
        assert m, f"constraints.lock line {n} is not 'name==version': {line!r}"
        name = canonicalize_name(m[1])
        assert name not in pins, f"constraints.lock pins {name} twice"
        pins[name] = m[2]
    return pins


def _closure(extras: tuple[str, ...]) -> set[str]:
    """npegen's requirements with ``extras``, and theirs, recursively, as installed here."""
    todo, seen = [("npegen", extras)], set()
    while todo:
        name, ex = todo.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in map(Requirement, reqs):
            env = [{"extra": e} for e in ex] or [{"extra": ""}]
            if r.marker is None or any(r.marker.evaluate(e) for e in env):
                todo.append((r.name, tuple(r.extras)))
    return seen - {"npegen"}


def test_the_lock_pins_every_dependency_of_npegen_dev():
    pins = locked()
    assert {"pip", "setuptools", "numpy", "amaranth", "cocotb", "ml-dtypes", "softposit"} <= set(pins)
    missing = sorted(_closure(("dev",)) - set(pins))
    assert not missing, f"installed npegen[dev] needs packages the lock does not pin: {missing} (run `make lock`)"


@pytest.mark.skipif(os.environ.get("NPEGEN_LOCKED") != "1", reason="not installed from the lock (make test sets it)")
def test_installed_versions_are_the_locked_ones():
    pins = locked()
    wrong = []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in pins and dist.version != pins[name]:
            wrong.append(f"{name} {dist.version} (locked {pins[name]})")
    assert not wrong, f"installed versions differ from constraints.lock: {', '.join(sorted(wrong))}"
    absent = sorted(n for n in _closure(("dev",)) if n in pins and _version(n) is None)
    assert not absent, f"locked dependencies not installed: {absent}"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
