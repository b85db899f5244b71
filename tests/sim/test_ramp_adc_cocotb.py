# amaranth: UnusedElaboratable=no
"""RampAdc as emitted Verilog on a real simulator: every input code of in_bits <= 12 through several columns at
once, codes = the convention, valid exactly ``cycles`` edges after start, back to back; idle gaps, starts while
busy, a long hold of the output. Every ramp (ROM, accumulator), column (latch, counter) and mode (up, count-down,
LUT) runs; a deliberately lost or extra result fails within seconds, naming the batch."""

from __future__ import annotations

import time

import numpy as np
import pytest

from npegen.hw.ramp_adc import RampAdc
from npegen.models.ramp_adc import RampADC, RampAdcParams
from npegen.sim.runner import SimulationError
from npegen.sim.tb_ramp_adc import sabotaged, verify_ramp_adc

POINTS = [  # up: every ramp x column; LUT and count-down (below): ROM + latch and accumulator + counter
    RampAdcParams(),  # sigmoid, 5 bits, 10-bit input, 8 columns, threshold ROM, latches
    RampAdcParams(fn="tanh", n_bits=3, in_bits=10, in_lsb=1 / 128, n_cols=4, ramp="accumulator", column="counter"),
    RampAdcParams(fn="tanh", n_bits=8, in_bits=10, in_lsb=1 / 128, n_cols=32, column="counter"),
    RampAdcParams(fn="hardsigmoid", n_bits=4, in_bits=10, in_lsb=1 / 64, n_cols=16, ramp="accumulator"),  # ties
    RampAdcParams(fn="gelu", n_bits=5, in_bits=8, in_lsb=1 / 64, n_cols=8),  # 33 steps for 32 codes
    RampAdcParams(fn="silu", n_bits=5, in_bits=10, in_lsb=1 / 64, n_cols=8, ramp="accumulator", column="counter"),
]


@pytest.mark.parametrize("p", POINTS, ids=lambda p: p.tag)
def test_ramp_adc_cocotb(p, sim, seed):
    """Both cocotb tests of ``npegen.sim.tb_ramp_adc`` on a named-function design point (up and LUT modes)."""
    res = verify_ramp_adc(p, sim=sim, seed=seed)
    assert (res.tests, res.failed) == (2, 0)


def neg_tanh(x):
    return -np.tanh(x)


@pytest.mark.parametrize(("ramp", "column"), [("rom", "counter"), ("accumulator", "latch")])
def test_ramp_adc_cocotb_count_down(ramp, column, sim, seed):
    """Count-down mode (a decreasing f, -tanh) on the simulator: every input code, idle gaps, starts while busy."""
    adc = RampADC(neg_tanh, 4, 9, 1 / 32, (-1.0, 1.0))
    assert adc.mode == "down"
    res = verify_ramp_adc(RampAdcParams(n_cols=8, ramp=ramp, column=column), adc=adc, sim=sim, seed=seed)
    assert (res.tests, res.failed) == (2, 0)


@pytest.mark.parametrize(("kw", "match"), [
    (dict(drop=2), r"batch 2 of 4: no valid at cycle 22, where it was due \(start taken at cycle 15 \+ 7 cycles\): "
                   r"the result is lost"),
    (dict(extra=3), r"extra result: valid at cycle 30 with no start outstanding \(after batch 3 of 4\)"),
    (dict(stuck=True), r"batch 0 of 4: its start was never taken \(ready low\): nothing arrived within 9 cycles "
                       r"\(lost or stuck\)"),
], ids=["lost", "extra", "stuck"])
def test_bench_fails_at_once_on_a_lost_extra_or_stuck_result(kw, match, sim, seed):
    """A DUT that loses a result, adds one, or never answers fails within seconds, the message naming the batch
    (never a hang): the exact-cycle check of each valid, the extra-valid check and the watchdog."""
    adc = RampADC("sigmoid", 3, 5, 1 / 4)  # 32 inputs over 8 columns: 4 batches of 7 cycles
    t0 = time.monotonic()
    with pytest.raises(SimulationError, match=match):
        verify_ramp_adc(RampAdcParams(n_cols=8), adc=adc, component=sabotaged(RampAdc(adc, n_cols=8), **kw), sim=sim,
                        seed=seed, testcase="test_all_inputs_back_to_back", quiet=True)
    assert time.monotonic() - t0 < 30
