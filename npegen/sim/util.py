"""Small helpers shared by the cocotb testbenches (run inside the simulator)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["Watchdog", "await_accept", "pack_fields", "reset", "rng_from_env", "seed_from_env", "start", "tick_until"]


def pack_fields(values, widths) -> int:
    """Pack signed or unsigned integers into one word, first field in the LSBs (Amaranth
    ``StructLayout``/``ArrayLayout`` order)."""
    word, shift = 0, 0
    for v, w in zip(values, widths, strict=True):
        word |= (int(v) & ((1 << w) - 1)) << shift
        shift += w
    return word


def seed_from_env() -> int:
    """``NPEGEN_SEED`` (set by :func:`npegen.sim.runner.run_cocotb`); 0 when run by hand without it."""
    return int(os.environ.get("NPEGEN_SEED", "0"))


def rng_from_env(stream: int = 0) -> np.random.Generator:
    """A numpy generator from ``NPEGEN_SEED``; ``stream`` separates independent tests of one run."""
    return np.random.default_rng([seed_from_env(), stream])


async def reset(dut, cycles: int = 2) -> None:
    """Hold ``rst`` high for ``cycles`` rising edges of ``clk`` (clock already running)."""
    from cocotb.triggers import RisingEdge

    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def start(dut, **idle: int) -> None:
    """Set the inputs named in ``idle`` (``i__valid=0``, ...), start a 10 ns clock on ``clk``, reset, and
    return at the first falling edge after reset (where the testbenches drive and sample)."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge

    for name, value in idle.items():
        getattr(dut, name).value = value
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await reset(dut)
    await FallingEdge(dut.clk)


def record_measurement(test: str, **data) -> None:
    """Append ``{"test": test, **data}`` as one JSON line to ``NPEGEN_MEASURE_FILE`` when it is set: the cycle
    counts a testbench measured, for cross-checks outside the simulator (the estimator's tests)."""
    path = os.environ.get("NPEGEN_MEASURE_FILE")
    if not path:
        return
    import json

    with open(path, "a") as f:
        f.write(json.dumps({"test": test, **data}) + "\n")


class Watchdog:
    """A bound on a wait, counted in clock cycles: every testbench loop that waits for a result owns one.

    ``limit`` is derived by the caller from the documented latency (plus the stall and idle cycles the
    testbench itself applies); :meth:`tick` raises :class:`AssertionError` with ``what()`` -- a message naming
    the beat or result being waited for -- once ``limit`` cycles pass with no :meth:`progress`. Works in
    cocotb and in the Amaranth simulator alike (it only counts).

    Parameters
    ----------
    limit : int
        Cycles without progress before the wait fails (>= 1).
    what : callable returning str
        Describes what is awaited, evaluated only on failure.
    """

    def __init__(self, limit: int, what):
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"watchdog limit must be a positive integer, not {limit!r}")
        self._limit, self._what, self.idle = limit, what, 0

    @property
    def limit(self) -> int:
        return self._limit

    def describe(self) -> str:
        """What is awaited (the ``what`` message)."""
        return self._what()

    def progress(self) -> None:
        """Something awaited arrived (a beat accepted, a result taken): restart the count."""
        self.idle = 0

    def tick(self, n: int = 1) -> None:
        """``n`` more cycles passed; fail when the count exceeds the limit."""
        self.idle += n
        if self.idle > self._limit:
            raise AssertionError(f"{self._what()}: nothing arrived within {self._limit} cycles (lost or stuck)")


async def tick_until(ctx, signal, *, limit: int, what: str) -> int:
    """Amaranth simulator: tick until ``signal`` is sampled high at a clock edge, at most ``limit`` edges; return
    the number of edges waited. A bounded ``ctx.tick().until(signal)``: raises :class:`AssertionError` naming
    ``what`` instead of waiting forever."""
    for n in range(1, limit + 1):
        *_, value = await ctx.tick().sample(signal)
        if value:
            return n
    raise AssertionError(f"{what}: {getattr(signal, 'name', signal)} not high within {limit} cycles")


async def await_accept(ctx, stream_in, stream_out, watchdog: Watchdog, *, max_edges: int = 100_000) -> int:
    """Amaranth simulator: with a beat offered on ``stream_in`` (``valid`` already high), tick until it is taken
    (``stream_in.ready`` sampled high at an edge); return the edges waited. The wait is bounded by ``watchdog``,
    which counts only the edges where ``stream_out.ready`` was high: a stream stage documented to hold
    ``i.ready`` low only while a result waits on ``o`` may stall for as long as its consumer does. ``max_edges``
    bounds the wait even when ``o.ready`` never rises (a stuck consumer)."""
    for n in range(1, max_edges + 1):
        _, _, i_ready, o_ready = await ctx.tick().sample(stream_in.ready, stream_out.ready)
        if i_ready:
            return n
        if o_ready:
            watchdog.tick()
    raise AssertionError(f"{watchdog.describe()}: not taken within {max_edges} edges (o.ready never rose?)")
