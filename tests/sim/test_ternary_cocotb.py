# amaranth: UnusedElaboratable=no
"""TernaryEngine as emitted Verilog on a real simulator, bit-exact against the model."""

from __future__ import annotations

import pytest

from npegen.models.ternary import TernaryParams
from npegen.sim.tb_ternary import verify_ternary


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(packing="i2s"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96), TernaryParams(lanes=1),
                               TernaryParams(epilogue="none"), TernaryParams(packing="tl2", lanes=3, group_size=12,
                                                                             epilogue="none")],
                         ids=lambda p: p.tag)
def test_ternary_engine_cocotb(p, sim, seed):
    """The three tests of :mod:`npegen.sim.tb_ternary` on the design point: every code (reserved codes too)
    with extreme activations; a random GEMV with idle beats and back-pressure, then long back-pressure;
    cycles per row, then the bench's own lost/extra-result bounds."""
    res = verify_ternary(p, sim=sim, seed=seed)
    assert (res.tests, res.failed) == (3, 0)


# lanes=8 at K=8192 is slow-marked: the default point runs the same datapath at K=2048 in
# test_ternary_engine_cocotb (8192 only adds groups to a row accumulator sized for max_k=65536).
@pytest.mark.parametrize("lanes", [pytest.param(8, marks=pytest.mark.slow), 16])
def test_ternary_engine_k8192_group128(lanes, sim, seed):
    """LLaMA-3.2-1B's longest rows (down_proj, K = 8192) with group 128, through the FP16 epilogue (random
    GEMV with idle beats and back-pressure, then long back-pressure)."""
    res = verify_ternary(TernaryParams(lanes=lanes), sim=sim, seed=seed, testcase="test_random_gemv", k=8192,
                         rows=4)
    assert (res.tests, res.failed) == (1, 0)
