"""Every ``npegen`` subcommand (and every block under generate/verify/synth) has a description and examples
that parse; the simulator's own log stays out of the terminal unless ``-v``."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

from npegen.cli import BLOCKS, _parser


def _commands(parser: argparse.ArgumentParser, path=()):
    """(path, parser) of every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                yield (*path, name), sp
                yield from _commands(sp, (*path, name))


COMMANDS = dict(_commands(_parser()))


def test_every_command_is_walked():
    top = {p[0] for p in COMMANDS}
    assert {"generate", "verify", "synth", "formats", "lint", "demo", "report", "sweep", "estimate",
            "workloads"} <= top
    for cmd in ("generate", "verify", "synth"):
        assert {p[1] for p in COMMANDS if len(p) == 2 and p[0] == cmd} == set(BLOCKS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_has_a_description_and_examples_that_parse(path):
    sp = COMMANDS[path]
    text = sp.format_help()
    assert sp.description and len(sp.description) > 15 and sp.description.split()[0] in text
    assert "example" in (sp.epilog or "") and "example" in text, f"npegen {' '.join(path)} --help has no example"
    lines = [ln.split("#")[0].strip() for ln in sp.epilog.splitlines() if ln.strip().startswith("npegen ")]
    assert lines
    for line in lines:
        if "<" in line:  # a placeholder such as 'npegen <command> --help'
            continue
        args = _parser().parse_args(shlex.split(line)[1:])  # the example is a valid command line
        assert args.command == path[0]


def test_help_on_the_command_line():
    r = subprocess.run([sys.executable, "-m", "npegen", "estimate", "--help"], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0 and "examples:" in r.stdout and "--synth" in r.stdout


def test_verify_is_quiet_unless_verbose(tmp_path, monkeypatch, sim):
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "npegen", "verify", "int-mac", "--sim", sim, "--seed", "1", "--test",
                        "test_reset_and_ready"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert r.stdout.strip().splitlines() == [ln for ln in r.stdout.strip().splitlines() if ln.startswith("PASS")]
    assert len(r.stdout.strip().splitlines()) == 1 and not r.stderr.strip()
    logs = list(tmp_path.rglob("sim.log"))
    assert logs and "test_reset_and_ready" in logs[0].read_text()
