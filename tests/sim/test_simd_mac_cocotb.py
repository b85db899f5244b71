# amaranth: UnusedElaboratable=no
"""SIMD MAC engine as emitted Verilog on a real simulator, bit-exact against the model.

Default suite (one cocotb point per mode and flag, about a minute on an idle 2-core machine):

* the default design point runs every test, in two runs: the quick and flag tests (mixed-mode dot products,
  overflow, overflow and NaR followed by ``clear``, long back-pressure, latency, exhaustive FP4 / Posit(4,1)
  lanes), then the sweeps (Posit(8,0) all 65,536 pairs on both lanes, Posit(16,1) corners plus 3,000 random
  pairs);
* INT8 mode (with a reserved mode index), ``out_format`` (every mode rounded to Posit(16,1), with a reserved
  index), the per-format baseline and the ``dot`` engine at another depth run the quick and flag tests;
* FP8 E4M3 / E5M2 modes with Posit(8,0) run the quick and flag tests and the FP8 corner pairs (NaN, +-Inf,
  subnormals, +-max, -0) with random pairs and special-code dot products.

``-m slow`` adds the 100,000 random Posit(16,1) pairs, INT8 exhaustively, every FP8 pair (both formats, both
lanes, shared and baseline), the full tests on the other design points, and the default point on Verilator (its
C++ build alone takes ~45 s; Icarus runs the same tests).
"""

from __future__ import annotations

import dataclasses

import pytest

from npegen.models.simd_mac import SimdMacParams
from npegen.sim.tb_simd_mac import verify_simd_mac

QUICK = "test_small_formats_all_pairs|test_dot_products_mixed|test_overflow_saturates|test_latency"
#: The quick tests plus the flag/handshake ones (cheap: short runs).
FLAGS = (QUICK + "|test_clear_after_overflow_and_nar|test_long_backpressure|test_reserved_mode_indices"
         "|test_int8_random_and_corners|test_rounding_ties")
#: Random Posit(16,1) / INT8 pairs in the default suite (plus every corner pair); 100,000 with -m slow.
N_QUICK, N_VARIANT = 3000, 1000


def test_default_engine_quick(sim, seed):
    """The default design point: mixed-mode dot products, overflow, overflow / NaR then clear, rounding
    midpoints, long back-pressure, latency, and the FP4 / Posit(4,1) pairs (the mutation check's fast cocotb
    run)."""
    res = verify_simd_mac(SimdMacParams(), sim=sim, seed=seed, testcase=FLAGS)
    # no INT8 mode and no reserved mode index (4 modes fill the 2-bit field) at the default point
    assert (res.tests, res.failed, res.skipped) == (9, 0, 2)


def test_default_engine_sweeps(sim, seed):
    """The default design point's operand sweeps: Posit(8,0) all 65,536 pairs on both lanes, Posit(16,1)
    corners plus random pairs."""
    res = verify_simd_mac(SimdMacParams(), sim=sim, seed=seed, n_random=N_QUICK,
                          testcase="test_posit8_all_pairs|test_posit16_random_and_corners")
    assert (res.tests, res.failed, res.skipped) == (2, 0, 0)


@pytest.mark.parametrize(
    "p",
    [SimdMacParams(modes=("int8", "fp4_e2m1", "posit4_1"), acc_guard=4, stages=1),
     SimdMacParams(modes=("fp4_e2m1", "posit4_1", "int8"), out_format="posit16_1", acc_guard=3),
     SimdMacParams(shared=False),
     SimdMacParams(dot=True, stages=3)],
    ids=lambda p: p.tag,
)
def test_engine_variants_quick(p, sim, seed):
    """INT8 mode, ``out_format``, the baseline and ``dot``: the quick and the flag tests (those that apply)."""
    res = verify_simd_mac(p, sim=sim, seed=seed, testcase=FLAGS, n_random=N_VARIANT, n_dots=12)
    assert res.failed == 0 and res.tests - res.skipped >= 6


#: The FP8 engine of the quick run: two lanes of E4M3 or E5M2, or Posit(8,0) (index 3 reserved).
FP8 = SimdMacParams(modes=("fp8_e4m3", "fp8_e5m2", "posit8_0"), word_bits=16)


def test_minifloat_engine_quick(sim, seed):
    """FP8 E4M3 / E5M2 and Posit(8,0) modes: mixed-mode dot products whose operands include NaN, +-Inf, -0 and
    subnormal codes, overflow, overflow / NaN / Inf then clear, rounding midpoints, the FP8 corner pairs plus
    random pairs and special-code dot products, reserved index, latency."""
    res = verify_simd_mac(FP8, sim=sim, seed=seed, testcase=FLAGS + "|test_minifloat_random_and_corners",
                          n_random=300, n_dots=10)
    # no FP4 / Posit(4,1) / INT4 (the small-format test runs nothing) and no INT8 mode
    assert (res.tests, res.failed, res.skipped) == (10, 0, 1)


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "baseline"])
def test_minifloat_engine_every_fp8_pair(shared, sim, seed):
    """Every pair of FP8 E4M3 and of E5M2 codes (65,536 each) on both lanes, then the special-code dot products."""
    res = verify_simd_mac(dataclasses.replace(FP8, shared=shared), sim=sim, seed=seed,
                          testcase="test_minifloat_random_and_corners", n_random=1 << 16)
    assert (res.tests, res.failed, res.skipped) == (1, 0, 0)


@pytest.mark.slow
def test_default_engine_posit16_100k(sim, seed):
    """100,000 random Posit(16,1) pairs plus the corners (the default suite runs 3,000)."""
    verify_simd_mac(SimdMacParams(), sim=sim, seed=seed, testcase="test_posit16_random_and_corners")


@pytest.mark.slow
@pytest.mark.parametrize(
    "p",
    [SimdMacParams(shared=False), SimdMacParams(dot=True), SimdMacParams(stages=1), SimdMacParams(stages=3),
     SimdMacParams(dot=True, shared=False, stages=1),
     SimdMacParams(modes=("posit8_0", "int8", "fp4_e2m1"), acc_guard=4)],
    ids=lambda p: p.tag,
)
def test_engine_variants_full(p, sim, seed):
    """Every test (INT8 exhaustively, 100,000 random Posit(16,1) pairs) on the other design points."""
    verify_simd_mac(p, sim=sim, seed=seed)


@pytest.mark.slow
@pytest.mark.verilator
def test_default_engine_on_verilator(seed):
    """The default point's tests on Verilator (redundant with Icarus for bugs: same Verilog, same tests)."""
    res = verify_simd_mac(SimdMacParams(), sim="verilator", seed=seed)
    assert res.sim == "verilator" and res.failed == 0
