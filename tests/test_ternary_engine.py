# amaranth: UnusedElaboratable=no
"""TernaryEngine in the Amaranth simulator (``rtl_*``) against the model (``ref_*``), parameter validation
and Verilator lint."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from npegen.hw.ternary import TernaryEngine
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models.ternary import TernaryParams, beat_codes, ref_ternary_engine, sherry_quantize


def rtl_ternary(p: TernaryParams, trits, x, rng, scales=None, bias=None):
    dut = TernaryEngine.from_params(p)
    n, k = trits.shape
    words = beat_codes(p, trits)
    wpb = p.weights_per_beat
    sbits = None if scales is None else np.asarray(scales, np.float16).view(np.uint16)
    bbits = None if bias is None else np.asarray(bias, np.float16).view(np.uint16)
    want = n * (k // p.group_size) if p.epilogue == "none" else n
    out = []

    async def producer(ctx):
        for r in range(n):
            for b in range(k // wpb):
                while rng.random() < 0.2:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                beat = {"codes": int(words[r, b]), "acts": [int(v) for v in x[b * wpb:(b + 1) * wpb]],
                        "last": int(b == k // wpb - 1)}
                if p.epilogue == "fp16":
                    beat.update(scale=int(sbits[r, b * wpb // p.group_size]), bias=int(bbits[r]))
                ctx.set(dut.i.payload, beat)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(out) < want:
            ready = int(rng.random() < 0.7)
            ctx.set(dut.o.ready, ready)
            _, _, valid, pl = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid and ready:
                out.append((int(pl.acc), int(pl.last)) if p.epilogue == "none" else int(pl.y))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return out


def _random_case(p, rng, n=3):
    k = p.group_size * 3
    if p.packing == "sherry":
        trits, scales = sherry_quantize(rng.standard_normal((n, k)), group_size=p.group_size)
    else:
        trits = rng.integers(-1, 2, (n, k)).astype(np.int8)
        scales = rng.uniform(0.01, 2.0, (n, 3))
    x = rng.integers(-128, 128, k).astype(np.int8)
    x[:4] = [-128, 127, -128, 127]
    return trits, scales, x


@pytest.mark.parametrize("p", [TernaryParams(epilogue="none"), TernaryParams(lanes=1, epilogue="none"),
                               TernaryParams(packing="i2s", epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96, epilogue="none"),
                               TernaryParams(packing="tl2", lanes=3, group_size=12, epilogue="none"),
                               TernaryParams(lanes=4, group_size=16, epilogue="none")],
                         ids=lambda p: p.tag)
def test_rtl_matches_model(p, seed):
    rng = np.random.default_rng(seed)
    trits, _, x = _random_case(p, rng)
    got = rtl_ternary(p, trits, x, rng)
    want = ref_ternary_engine(p, trits, x)
    assert [g for g, _ in got] == want.ravel().tolist()
    assert [last for _, last in got] == [int((i + 1) % 3 == 0) for i in range(len(got))]


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(lanes=4, group_size=16),
                               TernaryParams(packing="i2s", lanes=2, group_size=8),
                               TernaryParams(packing="tl2", lanes=3, group_size=12, max_k=12)],
                         ids=lambda p: p.tag)
def test_rtl_epilogue_matches_model(p, seed):
    rng = np.random.default_rng(seed)
    trits, scales, x = _random_case(p, rng, n=4)
    # corner scales: FP16 subnormals, the largest finite value, negative and zero; a bias per row
    scales = np.asarray(scales, np.float64)
    scales[0, :3] = [2.0**-24, 65504.0, -1.5]
    scales[1, 0] = 0.0
    bias = np.array([0.0, -65504.0, 2.0**-20, 3.25])
    got = rtl_ternary(p, trits, x, rng, scales, bias)
    want = ref_ternary_engine(p, trits, x, scales, bias)
    assert got == list(want)


def test_params_and_bounds():
    p = TernaryParams()
    assert (p.weights_per_beat, p.beats_per_group, p.code_bits, p.acc_width) == (32, 4, 40, 15)  # 12,288 < 2**14
    assert TernaryParams(packing="i2s").acc_width == 16  # 16,384 needs 15 magnitude bits
    assert TernaryParams.from_env(p.to_env()) == p
    assert (p.epilogue, p.latency, TernaryParams(epilogue="none").latency) == ("fp16", 2, 1)
    # (65536/128 + 1) groups * 2**14 * 65504 * 2**24 < 2**63: 64 bits plus sign
    assert p.out_width == 65 and TernaryParams(epilogue="none").out_width == 15
    assert p.cycles_per_row(2048) == 64 and TernaryParams(lanes=6, group_size=96).cycles_per_row(8064) == 336


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(lanes=0), ValueError, r"lanes must be an integer in \[1, 64\], not 0"),
        (dict(packing="tq2"), ValueError, r"packing must be one of \('sherry', 'i2s', 'tl2'\), not 'tq2'"),
        (dict(packing="tl2", lanes=4), ValueError, "must be a multiple of 3, not 4"),
        (dict(lanes=8, group_size=48), ValueError, r"group_size \(48\) must be a multiple of the 32 weights"),
        (dict(group_size=128.0), TypeError, "group_size must be an integer"),
        (dict(epilogue="fp32"), ValueError, r"epilogue must be one of \('fp16', 'none'\), not 'fp32'"),
        (dict(max_k=64), ValueError, r"max_k must be an integer in \[128, 16777216\] \(the longest row\), not 64"),
    ],
)
def test_invalid_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TernaryParams(**kwargs)
    with pytest.raises(exc, match=match):
        TernaryEngine(**kwargs)


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(packing="i2s"), TernaryParams(epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96)], ids=lambda p: p.tag)
def test_lint_clean(p, tmp_path):
    lint_verilog(write_verilog(TernaryEngine.from_params(p), tmp_path / "ternary.v", name="ternary"), top="ternary")
