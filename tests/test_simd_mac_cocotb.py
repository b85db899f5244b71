# amaranth: UnusedElaboratable=no
"""SIMD MAC engine as emitted Verilog on a real simulator, bit-exact against the model.

The default design point runs every test (exhaustive FP4 / Posit(4,1) / Posit(8,0) lanes, 100,000
random Posit(16,1) pairs plus corners, mixed-mode dot products with back-pressure, overflow, latency);
the baseline, dot and other pipeline depths run the quick tests; the default design point also runs
every test on Verilator (about 30 s with its C++ build). ``-m slow`` runs the sweeps on the other
design points.
"""

from __future__ import annotations

import pytest

from npegen.models.simd_mac import SimdMacParams
from npegen.sim.tb_simd_mac import verify_simd_mac

QUICK = "test_small_formats_all_pairs|test_dot_products_mixed|test_overflow_saturates|test_latency"


def test_default_engine_full(sim, seed):
    res = verify_simd_mac(SimdMacParams(), sim=sim, seed=seed)
    assert (res.tests, res.failed, res.skipped) == (6, 0, 0)


@pytest.mark.parametrize(
    "p",
    [SimdMacParams(shared=False), SimdMacParams(dot=True), SimdMacParams(stages=1), SimdMacParams(stages=3),
     SimdMacParams(dot=True, shared=False, stages=1)],
    ids=lambda p: p.tag,
)
def test_engine_variants_quick(p, sim, seed):
    res = verify_simd_mac(p, sim=sim, seed=seed, testcase=QUICK)
    assert res.failed == 0 and res.tests - res.skipped == 4


@pytest.mark.slow
@pytest.mark.parametrize("p", [SimdMacParams(shared=False), SimdMacParams(dot=True)], ids=lambda p: p.tag)
def test_engine_variants_full(p, sim, seed):
    verify_simd_mac(p, sim=sim, seed=seed)


@pytest.mark.verilator
def test_default_engine_on_verilator(seed):
    res = verify_simd_mac(SimdMacParams(), sim="verilator", seed=seed)
    assert res.sim == "verilator" and res.failed == 0
