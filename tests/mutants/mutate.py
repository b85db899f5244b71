"""``make mutate``: apply each committed single-line mutant of ``npegen/hw`` and ``npegen/models`` in a scratch
copy of the repository, run the tests that must catch it, and print killed/survived per mutant and the score.

The mutants live in ``tests/mutants/<block>.yaml`` (read with ``yaml.safe_load``; nothing in them is executed)::

    block: ternary                      # the block the file belongs to
    tests: [tests/models/test_ternary.py]      # that block's fast tests (pytest paths or node ids)
    mutants:
      - id: i2s-reserved-code-is-plus-one
        file: npegen/hw/ternary.py      # under npegen/hw or npegen/models
        find: "Mux(c == 2, 1, 0)"       # a substring found on exactly one line of the file
        replace: "Mux(c >= 2, 1, 0)"    # what it becomes on that line
        why: the I2_S decoder maps the reserved code 3 to +1
        tests: [tests/hw/test_ternary_engine.py::test_reserved_codes]   # optional: the named killers

A mutant is *killed* when its tests fail (pytest exit 1), *timeout* when they run past ``--timeout`` (a hang:
counted as killed but shown, since a bug should fail with a message), *survived* when they pass, and *error*
when pytest cannot run them (exit 2-5). The unmutated copy is checked first: every test list must pass on it.

Usage::

    python tests/mutants/mutate.py [--block B ...] [--id ID ...] [-j N] [--timeout S] [--list]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ALLOWED = ("npegen/hw/", "npegen/models/")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Mutant:
    """One single-line change: ``find`` (on exactly one line of ``file``) becomes ``replace``."""

    id: str
    block: str
    file: str
    find: str
    replace: str
    why: str
    tests: tuple[str, ...]
    named: bool = field(default=False)  # the tests are the mutant's own named killers

    def locate(self, root: Path = ROOT) -> int:
        """The 0-based line the mutant changes; ValueError unless ``find`` is on exactly one line."""
        lines = (root / self.file).read_text().splitlines()
        hits = [i for i, line in enumerate(lines) if self.find in line]
        if len(hits) != 1:
            raise ValueError(f"mutant {self.id}: {self.find!r} is on {len(hits)} lines of {self.file}, not 1")
        if lines[hits[0]].count(self.find) != 1:
            raise ValueError(f"mutant {self.id}: {self.find!r} occurs more than once on line {hits[0] + 1}")
        return hits[0]

    def mutated(self, root: Path = ROOT) -> tuple[str, int]:
        """(mutated source, 1-based line number); the source is checked to compile and to differ."""
        text = (root / self.file).read_text()
        lines = text.splitlines(keepends=True)
        i = self.locate(root)
        lines[i] = lines[i].replace(self.find, self.replace, 1)
        new = "".join(lines)
        if new == text:
            raise ValueError(f"mutant {self.id}: the replacement changes nothing")
        compile(new, self.file, "exec")
        return new, i + 1


def load(directory: Path = HERE) -> list[Mutant]:
    """Every mutant of every ``<block>.yaml`` in ``directory``, validated (ValueError naming the file)."""
    out: list[Mutant] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or set(doc) != {"block", "tests", "mutants"}:
            raise ValueError(f"{path.name}: needs exactly the keys block, tests, mutants")
        block, tests = doc["block"], doc["tests"]
        if not isinstance(block, str) or not _ID.match(block):
            raise ValueError(f"{path.name}: block must be a plain name, not {block!r}")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError(f"{path.name}: tests must be a non-empty list of pytest paths")
        for m in doc["mutants"]:
            keys = {"id", "file", "find", "replace", "why"}
            if not isinstance(m, dict) or not keys <= set(m) or set(m) - keys - {"tests"}:
                raise ValueError(f"{path.name}: each mutant has id, file, find, replace, why (and optional tests)")
            if not all(isinstance(m[k], str) and m[k] for k in keys):
                raise ValueError(f"{path.name}: mutant {m.get('id')!r}: every field must be a non-empty string")
            if not _ID.match(m["id"]) or m["id"] in seen:
                raise ValueError(f"{path.name}: mutant id {m['id']!r} is not a plain name or is used twice")
            if not m["file"].startswith(ALLOWED) or ".." in m["file"] or not m["file"].endswith(".py"):
                raise ValueError(f"{path.name}: mutant {m['id']}: file must be a .py under {' or '.join(ALLOWED)}")
            own = m.get("tests")
            if own is not None and (not isinstance(own, list) or not own or
                                    not all(isinstance(t, str) for t in own)):
                raise ValueError(f"{path.name}: mutant {m['id']}: tests must be a non-empty list")
            seen.add(m["id"])
            out.append(Mutant(m["id"], block, m["file"], m["find"], m["replace"], m["why"],
                              tuple(own or tests), named=own is not None))
    return out


def _copy_repo(dest: Path) -> None:
    """The files git knows (tracked and untracked-not-ignored) into ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for f in files:
        src = ROOT / f
        if f and src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def _pytest(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
    """Run ``tests`` in ``copy``; (verdict, first failing test or note, seconds)."""
    env = dict(os.environ, NPEGEN_BUILD_DIR=str(copy / "build"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider", "-p", "no:randomly",
           "-m", "not bench and not slow and not verilator", *tests]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"still running after {timeout:.0f} s", time.monotonic() - t0
    dt = time.monotonic() - t0
    # pytest's summary lines name a node id (cocotb's own log lines may also start with "ERROR ")
    failed = [line.split()[1] for line in r.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR ")) and "::" in line.split()[1]]
    if r.returncode == 0:
        return "survived", "", dt
    if r.returncode == 1:
        return "killed", failed[0] if failed else "(failed)", dt
    tail = (r.stdout + r.stderr).strip().splitlines()[-1:] or ["?"]
    return "error", f"pytest exit {r.returncode}: {tail[0][:100]}", dt


def _worker_copy(root: Path, k: int) -> Path:
    copy = root / f"w{k}"
    copy.mkdir()
    _copy_repo(copy)
    return copy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make mutate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--block", action="append", help="only the mutants of this block (repeatable)")
    ap.add_argument("--id", action="append", help="only this mutant (repeatable)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per test run before it counts as a hang")
    ap.add_argument("--no-baseline", action="store_true", help="skip checking the unmutated tests pass first")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    try:
        mutants = load()
        for m in mutants:
            m.mutated()
    except (ValueError, SyntaxError, OSError) as e:
        print(f"make mutate: {e}", file=sys.stderr)
        return 2
    if args.block:
        mutants = [m for m in mutants if m.block in args.block]
    if args.id:
        mutants = [m for m in mutants if m.id in args.id]
    if not mutants or args.jobs < 1:
        print("make mutate: no mutant selected" if not mutants else "make mutate: --jobs must be >= 1",
              file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m.id:40s} {m.block:10s} {m.file}:{m.locate() + 1}  {m.why}")
        return 0
    print(f"make mutate: {len(mutants)} mutants over {len({m.block for m in mutants})} blocks, {args.jobs} at once",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="npegen-mutate-") as tmp:
        copies = [_worker_copy(Path(tmp), k) for k in range(args.jobs)]
        if not args.no_baseline:
            for tests in sorted({m.tests for m in mutants}):
                verdict, note, dt = _pytest(copies[0], tests, args.timeout)
                print(f"  baseline {' '.join(tests)}: {'pass' if verdict == 'survived' else verdict} ({dt:.0f} s)",
                      flush=True)
                if verdict != "survived":
                    print(f"make mutate: the unmutated tests do not pass ({note}); fix them first", file=sys.stderr)
                    return 1
        free = list(copies)
        rows: list[tuple[Mutant, int, str, str, float]] = []

        def run(m: Mutant) -> tuple[Mutant, int, str, str, float]:
            copy = free.pop()
            try:
                src, line = m.mutated(copy)
                target = copy / m.file
                original = target.read_text()
                target.write_text(src)
                try:
                    verdict, note, dt = _pytest(copy, m.tests, args.timeout)
                finally:
                    target.write_text(original)
                return m, line, verdict, note, dt
            finally:
                free.append(copy)

        with cf.ThreadPoolExecutor(args.jobs) as pool:
            for n, (m, line, verdict, note, dt) in enumerate(pool.map(run, mutants), 1):
                rows.append((m, line, verdict, note, dt))
                print(f"  [{n:3d}/{len(mutants)}] {verdict.upper():8s} {m.id} ({m.file}:{line}, {dt:.0f} s) {note}",
                      flush=True)
    print()
    print(f"{'mutant':40s} {'block':10s} {'verdict':9s} {'s':>5s}  killed by / why")
    for m, _line, verdict, note, dt in rows:
        print(f"{m.id:40s} {m.block:10s} {verdict:9s} {dt:5.0f}  {note if verdict != 'survived' else m.why}")
    killed = sum(v in ("killed", "timeout") for _, _, v, _, _ in rows)
    hangs = sum(v == "timeout" for _, _, v, _, _ in rows)
    print(f"\nscore: {killed}/{len(rows)} killed ({100 * killed / len(rows):.0f} %)"
          + (f", {hangs} of them only by a timeout" if hangs else ""))
    return 0 if killed == len(rows) and not hangs else 1


if __name__ == "__main__":
    sys.exit(main())
