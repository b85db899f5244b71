# amaranth: UnusedElaboratable=no
"""Format decoders (exhaustive, plus the reserved codes against their documented fields) and encoders (structured
vectors, plus the special inputs against their documented codes) as emitted Verilog on a real simulator, for the
default design point of every default format and of the INT baseline, and of the minifloat family (FP8 E4M3 /
E5M2, FP6 E3M2 / E2M3, BF16)."""

from __future__ import annotations

import pytest

from npegen.sim.tb_formats import verify_formats

FORMATS = ["fp4_e2m1", "posit4_1", "posit8_0", "posit16_1", "int8"]


@pytest.mark.parametrize("unit", ["decoder", "encoder"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_unit_cocotb(fmt, unit, sim, seed):
    """The unit's cocotb test runs and passes (the other unit's test is skipped)."""
    res = verify_formats(fmt, unit, sim=sim, seed=seed)
    assert (res.failed, res.tests, res.skipped) == (0, 2, 1)


@pytest.mark.parametrize(("fmt", "unit"), [("fp8_e4m3", "decoder"), ("fp8_e5m2", "decoder"), ("bf16", "decoder"),
                                         ("fp8_e4m3", "encoder"), ("fp8_e5m2", "encoder"),
                                         ("fp6_e3m2", "decoder"), ("fp6_e2m3", "decoder"),
                                         ("fp6_e3m2", "encoder"), ("fp6_e2m3", "encoder")])
def test_minifloat_unit_cocotb(fmt, unit, sim, seed):
    """The minifloat family: every code of OCP FP8 E4M3 / E5M2, FP6 E3M2 / E2M3 and BF16 decoded (with the ``inf``
    output where the format has Inf) and the FP8 / FP6 encoders' structured vectors, against the model and the
    documented special codes."""
    res = verify_formats(fmt, unit, sim=sim, seed=seed)
    assert (res.failed, res.tests, res.skipped) == (0, 2, 1)


def test_wide_encoder_input_cocotb(sim, seed):
    """An encoder fed a product-width significand and scale, as the MAC read-out uses it."""
    verify_formats("posit8_0", "encoder", frac_in=13, scale_bits=8, sim=sim, seed=seed)


@pytest.mark.slow
def test_posit16_encoder_every_boundary_cocotb(sim, seed):
    """All ~393,000 structured Posit(16,1) encoder vectors (the default run takes a 65,536-row subset)."""
    verify_formats("posit16_1", "encoder", sim=sim, seed=seed, n_vectors=0)


@pytest.mark.verilator
@pytest.mark.parametrize("unit", ["decoder", "encoder"])
def test_posit16_units_on_verilator(unit, seed):
    """The same testbenches on Verilator."""
    res = verify_formats("posit16_1", unit, sim="verilator", seed=seed)
    assert res.sim == "verilator" and res.failed == 0
