# amaranth: UnusedElaboratable=no
"""RampAdc in the Amaranth simulator (``rtl_*``) against the model (``ref_*``) for every ramp/column
variant and conversion mode, parameter validation and Verilator lint."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from npegen.hw.ramp_adc import RampAdc
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models.ramp_adc import RampADC


def rtl_ramp_adc(dut: RampAdc, batches: np.ndarray):
    """Codes of each batch [B, n_cols] and the edges from each start to its valid."""
    out, lat = [], []

    async def tb(ctx):
        for b in batches:
            while not ctx.get(dut.ready):
                await ctx.tick()
            ctx.set(dut.x, [int(v) for v in b])
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            n = 0
            while not ctx.get(dut.valid):
                await ctx.tick()
                n += 1
            lat.append(n)
            out.append([int(v) for v in ctx.get(dut.y)])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return np.array(out), lat


ADCS = {
    "sigmoid_up": RampADC("sigmoid", 4, 7, 1 / 8),
    "neg_tanh_down": RampADC(lambda x: -np.tanh(x), 3, 7, 1 / 16, (-1, 1)),
    "gelu_lut": RampADC("gelu", 3, 7, 1 / 16),
    "one_bit": RampADC("tanh", 1, 5, 1 / 4),
}


@pytest.mark.parametrize("ramp", ["rom", "accumulator"])
@pytest.mark.parametrize("column", ["latch", "counter"])
@pytest.mark.parametrize("name", list(ADCS))
def test_rtl_matches_model_on_every_input(name, ramp, column):
    adc = ADCS[name]
    dut = RampAdc(adc, n_cols=4, ramp=ramp, column=column)
    xs = np.arange(adc.x_min, adc.x_max + 1).reshape(-1, 4)
    got, lat = rtl_ramp_adc(dut, xs)
    np.testing.assert_array_equal(got, adc.convert(xs))
    assert set(lat) == {adc.cycles} and dut.latency == adc.cycles


def test_gelu_lut_has_more_steps_than_levels():
    adc = RampADC("gelu", 5, 8, 1 / 64)  # the code falls then rises: more breakpoints than 2**N - 1
    assert adc.mode == "lut" and adc.cycles > adc.levels - 1
    xs = np.arange(adc.x_min, adc.x_max + 1).reshape(-1, 8)
    got, lat = rtl_ramp_adc(RampAdc(adc, n_cols=8), xs)
    np.testing.assert_array_equal(got, adc.table[xs - adc.x_min])
    assert set(lat) == {adc.cycles}


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(adc="sigmoid"), TypeError, "adc must be a npegen RampADC, not 'sigmoid'"),
        (dict(n_cols=300), ValueError, r"n_cols must be an integer in \[1, 256\], not 300"),
        (dict(ramp="dac"), ValueError, r"ramp must be one of \('rom', 'accumulator'\), not 'dac'"),
        (dict(column="sar"), ValueError, r"column must be one of \('latch', 'counter'\), not 'sar'"),
    ],
)
def test_invalid_parameters(kwargs, exc, match):
    kw = dict(adc=RampADC("sigmoid", 5, 10, 1 / 64))
    kw.update(kwargs)
    with pytest.raises(exc, match=match):
        RampAdc(kw.pop("adc"), **kw)


@pytest.mark.parametrize(("ramp", "column"), [("rom", "latch"), ("accumulator", "counter")])
def test_lint_clean(ramp, column, tmp_path):
    for adc in (RampADC("sigmoid", 5, 10, 1 / 64), RampADC("gelu", 4, 9, 1 / 32)):
        v = write_verilog(RampAdc(adc, n_cols=8, ramp=ramp, column=column), tmp_path / "ramp_adc.v", name="ramp_adc")
        lint_verilog(v, top="ramp_adc")
