"""A throwaway toy block for ``tests/test_blocks.py``: the four files of README "Adding a block" in one module.

The model (:class:`ToyAddParams`, :func:`ref_toy_add`), the generator (:class:`ToyAdd`), the cocotb testbench
(:func:`test_all_pairs`) with its runner (:func:`verify_toy_add`), and the registry entry (:data:`SPEC`, which the
test registers and unregisters). cocotb imports this module inside the simulator as ``toy_block`` (``tests/`` is on
the pytest process's ``sys.path``, which the cocotb runner passes on).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SPEC", "ToyAdd", "ToyAddParams", "ref_toy_add", "verify_toy_add"]


# ---- models/toy_add.py --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyAddParams:
    """Design point of the toy adder.

    Parameters
    ----------
    width : int
        Operand width in bits, 1..12.
    """

    width: int = field(default=4, metadata={"help": "operand width in bits, 1..12"})

    #: Combinational: no cycle of latency (a class attribute, not a field).
    latency = 0

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) or not 1 <= self.width <= 12:
            raise ValueError(f"width must be an integer in [1, 12], not {self.width!r}")

    @property
    def tag(self) -> str:
        return f"w{self.width}"

    def to_env(self) -> dict[str, str]:
        return {"PARAM_WIDTH": str(self.width)}

    @classmethod
    def from_env(cls) -> ToyAddParams:
        return cls(width=int(os.environ["PARAM_WIDTH"]))


def ref_toy_add(a, b) -> np.ndarray:
    """The unsigned sum, one bit wider than the operands."""
    return np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)


# ---- hw/toy_add.py --------------------------------------------------------------------------------------------


class ToyAdd(wiring.Component):
    """Combinational unsigned adder ``s = a + b`` (latency 0, one sum per cycle)."""

    def __init__(self, *, width: int = 4) -> None:
        self._params = ToyAddParams(width=width)
        super().__init__({"a": In(unsigned(width)), "b": In(unsigned(width)), "s": Out(unsigned(width + 1))})

    @classmethod
    def from_params(cls, params: ToyAddParams) -> ToyAdd:
        return cls(width=params.width)

    @property
    def width(self) -> int:
        return self._params.width

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.s.eq(self.a + self.b)
        return m


# ---- sim/tb_toy_add.py ----------------------------------------------------------------------------------------

try:
    import cocotb
    from cocotb.triggers import Timer
except ImportError:  # pragma: no cover - the block still generates and synthesises without cocotb
    cocotb = None

if cocotb is not None:

    @cocotb.test()
    async def test_all_pairs(dut):
        """Every operand pair against :func:`ref_toy_add`."""
        p = ToyAddParams.from_env()
        n = 1 << p.width
        a, b = np.divmod(np.arange(n * n), n)
        want = ref_toy_add(a, b)
        for x, y, s in zip(a.tolist(), b.tolist(), want.tolist(), strict=True):
            dut.a.value = x
            dut.b.value = y
            await Timer(1, "ns")
            assert int(dut.s.value) == s, f"{x} + {y}: got {int(dut.s.value)}, want {s}"


def verify_toy_add(params: ToyAddParams, *, sim=None, seed=None, testcase=None, n_random=None, **kw):
    """Emit, build and run this testbench on one design point (``n_random`` is ignored: the test is exhaustive)."""
    from npegen.sim.runner import run_cocotb

    return run_cocotb(ToyAdd.from_params(params), toplevel=f"toy_add_{params.tag}", test_module="toy_block",
                      env=params.to_env(), tag=params.tag, sim=sim, seed=seed, testcase=testcase, **kw)


# ---- the one registry entry -----------------------------------------------------------------------------------


def _spec():
    from npegen.blocks import BlockSpec

    return BlockSpec("toy-add", "toy unsigned adder (a test's throwaway block)", ToyAddParams, ToyAdd.from_params,
                     lambda p: f"toy_add_{p.tag}", verify_toy_add, example="--width 3")


SPEC = _spec()
