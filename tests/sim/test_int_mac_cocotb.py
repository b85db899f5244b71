# amaranth: UnusedElaboratable=no
"""INT MAC lane: the emitted Verilog on a real simulator (cocotb), bit-exact against the numpy model.

``SIM=icarus`` (default) or ``SIM=verilator`` picks the simulator of the parametrised runs; the
``verilator``-marked test runs the INT8 exhaustive test on Verilator in every default run.
"""

from __future__ import annotations

import pytest

from npegen.models.int_mac import IntMacParams
from npegen.sim.tb_int_mac import verify_int_mac

POINTS = [
    IntMacParams(width=8, acc_width=24, overflow="wrap", stages=1),
    IntMacParams(width=8, acc_width=18, overflow="saturate", stages=2),
    IntMacParams(width=8, acc_width=16, overflow="wrap", stages=3),
    IntMacParams(width=12, acc_width=32, overflow="saturate", stages=1),
]


@pytest.mark.parametrize("p", POINTS, ids=lambda p: p.tag)
def test_int_mac_cocotb(p, sim, seed):
    """All four cocotb tests pass: exhaustive INT8 products, random accumulation (20,000 cycles on the default
    point, 5,000 elsewhere), the overflow corner table and overflow-then-clear, reset and the bounded job wait;
    every sequence ends with idle cycles that must not change the outputs (no extra result)."""
    res = verify_int_mac(p, sim=sim, seed=seed, n_random=None if p == IntMacParams() else 5000)
    assert res.failed == 0
    assert set(res.testcases) == {"test_all_pairs", "test_random_accumulate", "test_overflow_corners",
                                  "test_reset_and_ready"}


@pytest.mark.verilator
def test_int8_exhaustive_on_verilator(seed):
    """The INT8 exhaustive test on Verilator (the C++ build is cached per design point)."""
    res = verify_int_mac(IntMacParams(width=8, acc_width=24), sim="verilator", seed=seed,
                         testcase="test_all_pairs")
    assert (res.sim, res.tests, res.failed) == ("verilator", 1, 0)


@pytest.mark.slow
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("stages", [1, 2, 5])
def test_int8_long_random_on_verilator(overflow, stages, seed):
    """A million random cycles per design point (opt-in)."""
    p = IntMacParams(width=8, acc_width=20, overflow=overflow, stages=stages)
    verify_int_mac(p, sim="verilator", seed=seed, n_random=1_000_000)
