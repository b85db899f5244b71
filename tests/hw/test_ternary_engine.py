# amaranth: UnusedElaboratable=no
"""TernaryEngine in the Amaranth simulator (``rtl_*``) against the model (``ref_*``), parameter validation
and Verilator lint.

Every wait of the producer and the consumer is bounded by a :class:`~npegen.sim.util.Watchdog` whose limit
comes from the documented latency, counting only the cycles in which the bench itself does not stall
(``o.ready`` high; the producer offering a beat or done). Each result is compared with the model as it
arrives, so a lost, extra or wrong result fails at once with a message naming its row (and group)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from npegen.hw.ternary import TernaryEngine
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models.ternary import TernaryParams, beat_codes, beat_trits, sherry_quantize
from npegen.sim.amaranth_stream import StreamLog, stream_recv, stream_send
from npegen.sim.tb_ternary import beat_payloads, result_name, result_value, stall_bound
from npegen.sim.tb_ternary import expected as _expect
from npegen.sim.util import Watchdog, stall_runs


def rtl_ternary(p: TernaryParams, words, x, rng, scales=None, bias=None, *, expect, p_idle=0.2, p_ready=0.7,
                holds=()):
    """Stream beat words [N, K/(4P)] against ``x`` [K] through the engine in the Amaranth simulator and check
    every result against ``expect`` (the model's outputs in order) as it arrives.

    The producer (:func:`~npegen.sim.amaranth_stream.stream_send`, the engine's input layout) idles before a beat
    with probability ``p_idle``; the consumer (:func:`~npegen.sim.amaranth_stream.stream_recv`) drives ``o.ready``
    high with probability ``p_ready``, and low for whole cycles ``[start, start + length)`` of every ``holds`` entry.
    Returns ``(results, stalls)``: the results ((acc, last) for epilogue ``"none"``, y for ``"fp16"``) and,
    per cycle run in which a result waited with ``o.ready`` low, the beats the engine took meanwhile.
    """
    dut = TernaryEngine.from_params(p)
    payloads = beat_payloads(p, words, x, scales, bias)
    nb = np.asarray(words).shape[1]
    gpr = nb * p.weights_per_beat // p.group_size
    expect = list(expect)
    log, rlog = StreamLog(), StreamLog()  # the producer's; the consumer's (taken edges, blocked edges)
    got = {}

    def check(k, beat):  # each result against the model as it arrives, naming its row (and group)
        value = result_value(p, beat)
        if k < len(expect) and value != expect[k]:
            raise AssertionError(f"{result_name(p, gpr, k)}: rtl {value}, model {expect[k]} ({p.tag})")

    async def producer(ctx):
        # i.ready is documented low only while o.ready is low: count only the cycles o.ready was high
        await stream_send(ctx, dut.i, payloads, idle_prob=p_idle, rng=rng, downstream=dut.o, log=log,
                          watchdog=p.latency + 1, label=f"i ({p.tag})")

    async def consumer(ctx):
        # a result is due at most `latency` cycles after the beat completing it: count the cycles in which
        # o.ready is high and the producer is not idling of its own accord (offering a beat, or done)
        wd = Watchdog(p.latency + 2, lambda: f"{result_name(p, gpr, len(rlog.edges))}: awaited after "
                                             f"{len(log.accepted)} of {len(payloads)} beats ({p.tag})")
        got["beats"] = await stream_recv(ctx, dut.o, len(expect), stall_prob=1 - p_ready, rng=rng, holds=holds,
                                         watchdog=wd, upstream=dut.i, upstream_log=log, drain=p.latency + 3,
                                         on_beat=check, log=rlog, item="result", label=p.tag)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    stalls = stall_runs(rlog.blocked, rlog.accepted)
    return [result_value(p, b) for b in got["beats"]], stalls


def _random_case(p, rng, n=3, groups=3):
    k = p.group_size * groups
    if p.packing == "sherry":
        trits, scales = sherry_quantize(rng.standard_normal((n, k)), group_size=p.group_size)
    else:
        trits = rng.integers(-1, 2, (n, k)).astype(np.int8)
        scales = rng.uniform(0.01, 2.0, (n, groups))
    x = rng.integers(-128, 128, k).astype(np.int8)
    x[:4] = [-128, 127, -128, 127]
    return trits, scales, x


@pytest.mark.parametrize("p", [TernaryParams(epilogue="none"), TernaryParams(lanes=1, epilogue="none"),
                               TernaryParams(packing="i2s", epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96, epilogue="none"),
                               TernaryParams(packing="tl2", lanes=3, group_size=12, epilogue="none"),
                               TernaryParams(lanes=4, group_size=16, epilogue="none"),
                               TernaryParams(lanes=3, group_size=24, epilogue="none")],
                         ids=lambda p: p.tag)
def test_rtl_matches_model(p, seed):
    """Raw group sums and their ``last`` flags, bit-exact, with random idle beats and back-pressure (lanes=3:
    an odd number of block sums in the adder tree)."""
    rng = np.random.default_rng(seed)
    trits, _, x = _random_case(p, rng)
    got, _ = rtl_ternary(p, beat_codes(p, trits), x, rng, expect=_expect(p, trits, x))
    assert [last for _, last in got] == [int((i + 1) % 3 == 0) for i in range(len(got))]


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(lanes=4, group_size=16),
                               TernaryParams(packing="i2s", lanes=2, group_size=8),
                               TernaryParams(packing="tl2", lanes=3, group_size=12, max_k=12)],
                         ids=lambda p: p.tag)
def test_rtl_epilogue_matches_model(p, seed):
    """FP16 epilogue rows bit-exact, scales with FP16 subnormals, the largest finite value, negative and zero,
    and a bias per row (a subnormal among them); random idle beats and back-pressure."""
    rng = np.random.default_rng(seed)
    trits, scales, x = _random_case(p, rng, n=4)
    scales = np.asarray(scales, np.float64)
    scales[0, :3] = [2.0**-24, 65504.0, -1.5]
    scales[1, 0] = 0.0
    scales[2, 1] = 1023 * 2.0**-24  # the largest subnormal
    bias = np.array([0.0, -65504.0, 2.0**-20, 3.25])
    rtl_ternary(p, beat_codes(p, trits), x, rng, scales, bias, expect=_expect(p, trits, x, scales, bias))


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(epilogue="none"),
                               TernaryParams(packing="i2s", lanes=2, group_size=16),
                               TernaryParams(packing="tl2", lanes=3, group_size=24, epilogue="none")],
                         ids=lambda p: p.tag)
def test_rtl_long_backpressure(p, seed):
    """``o.ready`` low for many rows (twice) while the producer keeps offering beats: no result lost,
    overwritten or duplicated, and the engine stops taking beats within the documented bound."""
    rng = np.random.default_rng(seed)
    trits, scales, x = _random_case(p, rng, n=8, groups=2)
    k = trits.shape[1]
    row = p.cycles_per_row(k)
    holds = [(3, 4 * row), (9 * row, 3 * row)]
    bias = rng.uniform(-4, 4, 8)
    out, stalls = rtl_ternary(p, beat_codes(p, trits), x, rng, scales, bias, expect=_expect(p, trits, x, scales,
                                                                                             bias),
                              p_idle=0.0, holds=holds)
    assert max(stalls) <= stall_bound(p, k), f"took {max(stalls)} beats while a result waited ({p.tag})"
    assert len(stalls) >= 2, f"the holds did not block a result ({p.tag})"


RESERVED = [TernaryParams(), TernaryParams(epilogue="none"), TernaryParams(packing="i2s"),
            TernaryParams(packing="i2s", epilogue="none"), TernaryParams(packing="tl2", lanes=6, group_size=96),
            TernaryParams(packing="tl2", lanes=3, group_size=12, epilogue="none")]


@pytest.mark.parametrize("p", RESERVED, ids=lambda p: p.tag)
def test_rtl_reserved_codes(p, seed):
    """Random code words with every field value, reserved ones included (I2_S 3; TL2 magnitudes 14, 15 and
    the sign with magnitude 0; all 32 Sherry codes are legal), decode as documented in
    :func:`~npegen.models.ternary.beat_trits`."""
    rng = np.random.default_rng(seed)
    k = p.group_size * 2
    nb = k // p.weights_per_beat
    width = 2 if p.packing == "i2s" else 5
    per = p.code_bits // width
    fields = rng.integers(0, 1 << width, (4, nb, per))
    fields[0].ravel()[: 1 << width] = np.arange(1 << width)[: fields[0].size]  # every field value at least once
    if p.packing == "i2s":
        fields[1] = 3  # a row of reserved codes only
    elif p.packing == "tl2":
        fields[1] = rng.choice([14, 15, 30, 31, 16], fields[1].shape)
    words = np.array([[sum(int(f) << (width * j) for j, f in enumerate(beat)) for beat in row] for row in fields],
                     dtype=object)
    trits = beat_trits(p, words)
    x = rng.integers(-128, 128, k).astype(np.int8)
    scales = rng.uniform(0.1, 2.0, (4, 2))
    rtl_ternary(p, words, x, rng, scales, np.ones(4), expect=_expect(p, trits, x, scales, np.ones(4)))


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(epilogue="none")], ids=lambda p: p.tag)
@pytest.mark.parametrize("change", ["lost", "extra", "wrong"])
def test_bench_names_a_lost_extra_or_wrong_result(p, change, seed):
    """The bench itself: a result the engine never makes fails within the watchdog's bound (naming the
    result awaited), one result more than expected fails as extra, and a wrong one names its row."""
    rng = np.random.default_rng(seed)
    trits, scales, x = _random_case(p, rng, n=2, groups=2)
    words, expect = beat_codes(p, trits), _expect(p, trits, x, scales)
    if change == "lost":  # row 1 is never sent, so its results never come
        words = words[:1]
        match = r"result \d+ \(row 1.*: awaited after \d+ of \d+ beats .*nothing arrived within \d+ cycles"
    elif change == "extra":  # only row 0's results are expected
        expect, match = expect[: len(expect) // 2], r"extra result .* after the \d+ expected"
    else:
        expect[-1] = (expect[-1][0] + 1, 1) if p.epilogue == "none" else expect[-1] + 1
        match = r"result \d+ \(row 1.*\): rtl .*, model "
    with pytest.raises(AssertionError, match=match):
        rtl_ternary(p, words, x, rng, scales, expect=expect)


def test_params_and_bounds():
    """Derived widths, latency and cycles of known design points (hand-computed bounds)."""
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
    """Invalid design points raise the same named error from the model and the component."""
    with pytest.raises(exc, match=match):
        TernaryParams(**kwargs)
    with pytest.raises(exc, match=match):
        TernaryEngine(**kwargs)


@pytest.mark.parametrize("p", [TernaryParams(), TernaryParams(packing="i2s"), TernaryParams(epilogue="none"),
                               TernaryParams(packing="tl2", lanes=6, group_size=96)], ids=lambda p: p.tag)
def test_lint_clean(p, tmp_path):
    """The emitted Verilog passes Verilator lint."""
    lint_verilog(write_verilog(TernaryEngine.from_params(p), tmp_path / "ternary.v", name="ternary"), top="ternary")
