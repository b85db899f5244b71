# amaranth: UnusedElaboratable=no
"""Format decoders (exhaustive) and encoders (structured vectors) as emitted Verilog on a real simulator."""

from __future__ import annotations

import pytest

from npegen.sim.tb_formats import verify_formats

FORMATS = ["fp4_e2m1", "posit4_1", "posit8_0", "posit16_1"]


@pytest.mark.parametrize("unit", ["decoder", "encoder"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_unit_cocotb(fmt, unit, sim, seed):
    res = verify_formats(fmt, unit, sim=sim, seed=seed)
    assert (res.failed, res.tests, res.skipped) == (0, 2, 1)  # one ran; the other unit's test is skipped


@pytest.mark.verilator
@pytest.mark.parametrize("unit", ["decoder", "encoder"])
def test_posit16_units_on_verilator(unit, seed):
    res = verify_formats("posit16_1", unit, sim="verilator", seed=seed)
    assert res.sim == "verilator" and res.failed == 0


def test_wide_encoder_input_cocotb(sim, seed):
    # an encoder fed a product-width significand and scale, as the MAC read-out uses it
    verify_formats("posit8_0", "encoder", frac_in=13, scale_bits=8, sim=sim, seed=seed)
