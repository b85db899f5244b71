"""The bounded-wait helpers every testbench uses: a lost result fails with the awaited item's name, never hangs."""

from __future__ import annotations

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from npegen.sim.util import Watchdog, await_accept, tick_until


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


def test_tick_until_and_await_accept_are_bounded():
    m = Module()
    count = Signal(8)
    m.d.sync += count.eq(count + 1)
    i, o = _Port("i"), _Port("o")  # i.ready never rises
    m.d.comb += [i.ready.eq(0), o.ready.eq(count[0])]
    stuck_o = _Port("stuck_o")
    m.d.comb += stuck_o.ready.eq(0)
    seen = {}

    async def bench(ctx):
        assert await tick_until(ctx, count == 5, limit=10, what="x") == 6  # sampled at each edge, before it
        with pytest.raises(AssertionError, match="beat 3: .* not high within 4 cycles"):
            await tick_until(ctx, i.ready, limit=4, what="beat 3")
        with pytest.raises(AssertionError, match="beat 4 not taken: nothing arrived within 5 cycles"):
            await await_accept(ctx, i, o, Watchdog(5, lambda: "beat 4 not taken"))
        with pytest.raises(AssertionError, match="beat 5: not taken within 50 edges"):
            await await_accept(ctx, i, stuck_o, Watchdog(5, lambda: "beat 5"), max_edges=50)
        seen["done"] = True

    _run(bench, m)
    assert seen == {"done": True}
