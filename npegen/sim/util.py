"""Small helpers shared by the cocotb testbenches (run inside the simulator)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["pack_fields", "seed_from_env", "rng_from_env", "reset", "start"]


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
