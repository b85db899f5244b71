# amaranth: UnusedElaboratable=no
"""The bounded-wait helpers every testbench uses: a lost result fails with the awaited item's name, never hangs."""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from amaranth.hdl import Const, Module, Shape, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from npegen.sim.amaranth_stream import StreamLog, stream_recv, stream_send
from npegen.sim.runner import run_cocotb
from npegen.sim.util import LayoutCodec, Ports, Watchdog, codec, sim_env, tick_until


def test_watchdog_counts_idle_cycles_and_names_what_is_awaited():
    wd = Watchdog(3, lambda: "result 7 (row 2)")
    for _ in range(3):
        wd.tick()
    wd.progress()
    for _ in range(3):
        wd.tick()
    with pytest.raises(AssertionError, match=r"result 7 \(row 2\): nothing arrived within 3 cycles"):
        wd.tick()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            Watchdog(bad, str)


class _Port:
    def __init__(self, name):
        self.ready = Signal(name=f"{name}_ready")


def _run(bench, m):
    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_tick_until_is_bounded():
    m = Module()
    count = Signal(8)
    m.d.sync += count.eq(count + 1)
    i = _Port("i")  # i.ready never rises
    m.d.comb += i.ready.eq(0)
    seen = {}

    async def bench(ctx):
        assert await tick_until(ctx, count == 5, limit=10, what="x") == 6  # sampled at each edge, before it
        with pytest.raises(AssertionError, match="beat 3: .* not high within 4 cycles"):
            await tick_until(ctx, i.ready, limit=4, what="beat 3")
        seen["done"] = True

    _run(bench, m)
    assert seen == {"done": True}


# ---- layouts as bits -----------------------------------------------------------------------------------------

LAYOUTS = [
    data.StructLayout({"a": signed(8), "b": signed(8)}),
    data.StructLayout({"codes": 40, "acts": data.ArrayLayout(signed(8), 12), "scale": 16, "last": 1}),
    data.ArrayLayout(unsigned(5), 8),
    data.StructLayout({"word": 16, "acc": data.ArrayLayout(signed(70), 3), "flags": data.StructLayout({"n": 1,
                                                                                                       "o": 3})}),
    signed(9),
]


def _random_value(shape, rng):
    if isinstance(shape, data.ArrayLayout):
        return [_random_value(shape.elem_shape, rng) for _ in range(shape.length)]
    if isinstance(shape, data.Layout):
        return {name: _random_value(f.shape, rng) for name, f in shape}
    s = Shape.cast(shape)
    lo = -(1 << (s.width - 1)) if s.signed else 0
    return lo + int.from_bytes(rng.bytes((s.width + 7) // 8), "little") % (1 << s.width)


@pytest.mark.parametrize("layout", LAYOUTS, ids=repr)
def test_codec_equals_layout_const_and_from_bits(layout, seed):
    """LayoutCodec packs exactly as ``layout.const(v).as_value().value`` and unpacks as ``layout.from_bits``; a
    ``data.Const`` packs to its bits; out-of-range fields are refused by name."""
    rng = np.random.default_rng(seed)
    c = LayoutCodec(layout)
    for _ in range(50):
        v = _random_value(layout, rng)
        bits = c.pack(v)
        if isinstance(layout, data.Layout):
            assert bits == layout.const(v).as_value().value
            const = layout.from_bits(bits)
            assert c.pack(const) == bits and c.const(v).as_bits() == bits
        else:
            assert bits == Const(v, layout).value % (1 << 9)
        assert c.unpack(bits) == v
    assert codec(layout) is codec(layout)


def test_codec_refuses_values_outside_the_layout():
    c = LayoutCodec(LAYOUTS[1])
    with pytest.raises(ValueError, match=r"acts\[3\]: 200 is outside signed\(8\)"):
        c.pack({"acts": [0, 0, 0, 200] + [0] * 8})
    with pytest.raises(ValueError, match=r"\['bias'\] are not fields"):
        c.pack({"bias": 1})
    with pytest.raises(ValueError, match="is not 153 bits"):
        c.pack(1 << 153)
    with pytest.raises(ValueError, match="has 12 elements, not 2"):
        c.pack({"acts": [1, 2]})
    with pytest.raises(TypeError, match="is not a value of"):
        c.pack(LAYOUTS[0].const({"a": 1}))


def test_ports_carry_the_component_layouts():
    """Ports names every Verilog port as amaranth.back.verilog does, with the component's own shapes, and
    survives the trip through the environment."""
    dut = Fifo(LAYOUTS[1])
    ports = Ports.of(dut)
    assert list(ports) == ["i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"]
    assert ports["i__payload"].shape == LAYOUTS[1] and ports["o__ready"].flow == "in"
    back = Ports.from_json(ports.to_json())
    assert [(p.name, p.flow, p.shape) for p in back.values()] == [
        (p.name, p.flow, p.shape if isinstance(p.shape, data.Layout) else Shape.cast(p.shape))
        for p in ports.values()]
    assert back.group("out") == data.StructLayout({"i__ready": 1, "o__payload": LAYOUTS[1], "o__valid": 1})
    with pytest.raises(KeyError, match="no port 'x'"):
        ports["x"]


# ---- the Amaranth-simulator stream pair ----------------------------------------------------------------------


class Fifo(wiring.Component):
    """A 4-deep stream FIFO: the exercise of both stream pairs."""

    def __init__(self, layout, depth: int = 4):
        self._layout, self._depth = layout, depth
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.q = q = fifo.SyncFIFOBuffered(width=Shape.cast(self._layout).width, depth=self._depth)
        m.d.comb += [q.w_data.eq(self.i.payload), q.w_en.eq(self.i.valid), self.i.ready.eq(q.w_rdy),
                     self.o.payload.eq(q.r_data), self.o.valid.eq(q.r_rdy), q.r_en.eq(self.o.ready)]
        return m


def _sim(dut, *benches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for b in benches:
        sim.add_testbench(b)
    sim.run()


@pytest.mark.parametrize("layout", LAYOUTS[:4], ids=repr)
def test_amaranth_pair_round_trips_every_payload_in_order(layout, seed):
    """Random idle cycles, random and long back-pressure (ready low for 30 edges): every payload arrives once, in
    order, unpacked with the layout; dicts, Consts and raw ints are all payloads."""
    rng = np.random.default_rng(seed)
    dut = Fifo(layout)
    vals = [_random_value(layout, rng) for _ in range(120)]
    c = codec(layout)
    payloads = [v if i % 3 == 0 else c.const(v) if i % 3 == 1 else c.pack(v) for i, v in enumerate(vals)]
    got, log = {}, StreamLog()

    async def producer(ctx):
        got["sent"] = await stream_send(ctx, dut.i, payloads, idle_prob=0.3, rng=rng, log=log, watchdog=40,
                                        downstream=dut.o)

    async def consumer(ctx):
        got["recv"] = await stream_recv(ctx, dut.o, len(vals), stall_prob=0.4, rng=rng, holds=[(50, 30)],
                                        watchdog=10, upstream=dut.i, upstream_log=log, drain=5)

    _sim(dut, producer, consumer)
    assert got["recv"] == vals
    assert len(got["sent"]) == len(vals) and log.done and log.accepted == got["sent"]


def test_amaranth_pair_bounds_every_wait():
    """A ready that never rises fails the sender within its watchdog, naming the stream and the beat; a beat that
    never comes fails the receiver; one beat too many fails as extra."""
    layout = LAYOUTS[0]
    dut = Fifo(layout)
    beats = [{"a": i, "b": -i} for i in range(8)]

    async def stuck(ctx):  # o.ready low: the FIFO fills and i.ready stays low
        ctx.set(dut.o.ready, 0)
        with pytest.raises(AssertionError, match=r"i: beat 4 of 8 not taken \(ready low\): nothing arrived within "
                                                 r"12 cycles"):
            await stream_send(ctx, dut.i, beats, watchdog=12)

    _sim(dut, stuck)

    dut = Fifo(layout)

    async def stalled(ctx):  # a low o.ready excuses the low i.ready: the watchdog waits, max_edges still bounds it
        ctx.set(dut.o.ready, 0)
        with pytest.raises(AssertionError, match=r"i: beat 4 of 8 not taken \(ready low\): not taken within 50 edges "
                                                 r"\(downstream never ready\?\)"):
            await stream_send(ctx, dut.i, beats, watchdog=3, downstream=dut.o, max_edges=50)

    _sim(dut, stalled)

    dut = Fifo(layout)

    async def lost(ctx):
        log = StreamLog(done=True)
        with pytest.raises(AssertionError, match=r"o: beat 0 of 1: awaited after 0 upstream beats: nothing arrived "
                                                 r"within 6 cycles"):
            await stream_recv(ctx, dut.o, 1, watchdog=6, upstream=dut.i, upstream_log=log)

    _sim(dut, lost)

    dut = Fifo(layout)

    async def extra_tx(ctx):
        await stream_send(ctx, dut.i, beats[:3])

    async def extra_rx(ctx):
        with pytest.raises(AssertionError, match=r"extra result \{'a': 2, 'b': -2\} after the 2 expected"):
            await stream_recv(ctx, dut.o, 2, drain=6, item="result")

    _sim(dut, extra_tx, extra_rx)


# ---- the cocotb stream pair, on the FIFO's emitted Verilog ----------------------------------------------------
# cocotb imports this module inside the simulator as ``test_sim_util`` (tests/ is on sys.path); its coroutines are
# named without the test_ prefix so that pytest does not collect them.


def _long_stalls(rng):
    """``ready`` per cycle: random, with a stall of 40 cycles every 60."""
    c = 0
    while True:
        yield 0 if c % 60 >= 20 else int(rng.random() > 0.4)
        c += 1


@cocotb.test()
async def cocotb_pair_round_trip(dut):
    """Idle beats, random and long back-pressure: every payload (dict, Const or int) arrives once, in order."""
    from npegen.sim.stream import StreamDriver, StreamMonitor, transfer
    from npegen.sim.util import rng_from_env, start

    await start(dut, i__valid=0, o__ready=0)
    ports = Ports.from_env()
    rng = rng_from_env(1)
    layout = ports["i__payload"].shape
    c = codec(layout)
    vals = [_random_value(layout, rng) for _ in range(150)]
    payloads = [v if i % 3 == 0 else c.const(v) if i % 3 == 1 else c.pack(v) for i, v in enumerate(vals)]
    mon = StreamMonitor.from_ports(dut, ports, "o", ready_pattern=_long_stalls(rng), watchdog=8)
    drv = StreamDriver.from_ports(dut, ports, "i", idle_prob=0.3, rng=rng, watchdog=8, downstream=mon)
    mon.source = drv
    got = await transfer(drv, payloads, mon, len(vals), drain=10)
    assert got == vals
    assert len(drv.accepted) == len(vals) and len(mon.cycles) == len(vals) and len(mon.blocked) > 40
    assert all(b > a for a, b in zip(drv.accepted, mon.cycles, strict=True))
    mon.stop()


@cocotb.test()
async def cocotb_pair_bounds_every_wait(dut):
    """A stuck ready fails the driver, a missing beat the monitor, one beat too many fails as extra: each with a
    message naming the stream and the cycle count, and each catchable."""
    from npegen.sim.stream import StreamDriver, StreamMonitor, transfer
    from npegen.sim.util import start

    await start(dut, i__valid=0, o__ready=0)
    ports = Ports.from_env()
    beats = [{"codes": i} for i in range(8)]
    drv = StreamDriver.from_ports(dut, ports, "i", watchdog=12)
    with pytest.raises(AssertionError, match=r"i: beat 4 of 8 not taken \(i__ready low, cycle \d+\): nothing "
                                             r"arrived within 12 cycles"):
        await drv.send(beats)  # nobody takes from o: the FIFO fills
    dut.i__valid.value = 0
    mon = StreamMonitor.from_ports(dut, ports, "o", watchdog=8, item="result")
    first = [await mon.get(5) for _ in range(4)]
    assert [b["codes"] for b in first] == [0, 1, 2, 3]
    with pytest.raises(AssertionError, match=r"o: result 0 of 1: awaited \(cycle \d+\): nothing arrived within 6"):
        await mon.get(6)
    mon.stop()
    mon = StreamMonitor.from_ports(dut, ports, "o", item="result")
    drv = StreamDriver.from_ports(dut, ports, "i")
    with pytest.raises(AssertionError, match=r"extra result \{'codes': 2, .*\} after the 2 expected"):
        await transfer(drv, beats[:3], mon, 2, drain=6)
    mon.stop()


def test_cocotb_pair_on_a_fifo(sim, seed):
    """Both cocotb coroutines above pass on the FIFO's Verilog (Icarus, or Verilator with SIM=verilator)."""
    dut = Fifo(LAYOUTS[1])
    res = run_cocotb(dut, toplevel="fifo", test_module="test_sim_util", env=sim_env(dut), tag="stream_pair",
                     sim=sim, seed=seed)
    assert (res.tests, res.failed) == (2, 0)
