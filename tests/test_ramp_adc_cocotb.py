# amaranth: UnusedElaboratable=no
"""RampAdc as emitted Verilog on a real simulator: every input code of in_bits <= 10 through several
columns at once, codes = the convention, valid exactly ``cycles`` edges after start, back to back."""

from __future__ import annotations

import pytest

from npegen.models.ramp_adc import RampAdcParams
from npegen.sim.tb_ramp_adc import verify_ramp_adc

POINTS = [
    RampAdcParams(),  # sigmoid, 5 bits, 10-bit input, 8 columns, threshold ROM, latches
    RampAdcParams(fn="tanh", n_bits=3, in_bits=10, in_lsb=1 / 128, n_cols=4, ramp="accumulator", column="counter"),
    RampAdcParams(fn="tanh", n_bits=8, in_bits=10, in_lsb=1 / 128, n_cols=32),
    RampAdcParams(fn="sigmoid", n_bits=4, in_bits=9, in_lsb=1 / 32, n_cols=16, ramp="accumulator"),
    RampAdcParams(fn="gelu", n_bits=5, in_bits=8, in_lsb=1 / 64, n_cols=8, column="counter"),
    RampAdcParams(fn="silu", n_bits=5, in_bits=10, in_lsb=1 / 64, n_cols=8),
    RampAdcParams(fn="hardsigmoid", n_bits=5, in_bits=12, in_lsb=1 / 256, n_cols=16),
]


@pytest.mark.parametrize("p", POINTS, ids=lambda p: p.tag)
def test_ramp_adc_cocotb(p, sim, seed):
    res = verify_ramp_adc(p, sim=sim, seed=seed)
    assert (res.tests, res.failed) == (2, 0)
