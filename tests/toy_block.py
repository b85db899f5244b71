"""A throwaway toy block for ``tests/test_blocks.py``: the four files of README "Adding a block" in one module.

The model (:class:`ToyAddParams` with its cycle formula, :func:`ref_toy_add`), the generator (:class:`ToyAdd`), the
cocotb testbench (:func:`test_all_pairs`) with its runner (:func:`verify_toy_add`), the estimator engine
(:class:`ToyAddArray`, README "Adding an engine"), a workload (:func:`toy_workload`), and the registry entry
(:data:`SPEC`, which the test registers and unregisters with the engine and the workload). cocotb imports this
module inside the simulator as ``toy_block`` (``tests/`` is on the pytest process's ``sys.path``, which the cocotb
runner passes on).
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

    def job_cycles(self, outputs: int, k: int) -> int:
        """Cycles of ``outputs`` sums of ``k`` terms on one adder: one addition per cycle, no latency."""
        return outputs * k


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


# ---- analysis: the estimator engine (README "Adding an engine") -----------------------------------------------

from typing import ClassVar  # noqa: E402 - the sections stand for separate files

from npegen.analysis.engines import Engine, LayerCycles, LayerEnergy  # noqa: E402
from npegen.analysis.workloads import Layer, Workload  # noqa: E402


@dataclass(frozen=True)
class ToyAddArray(Engine):
    """``count`` toy adders; runs ``"toy"`` layers (a sum of ``k`` terms per output, one addition per cycle)."""

    kind: ClassVar[str] = "toy_add"
    title: ClassVar[str] = "toy adders"
    params_class: ClassVar[type] = ToyAddParams
    PRECISIONS: ClassVar[tuple[str, ...]] = ("toy",)
    cycle_rows: ClassVar[dict] = {"cycles.toy_add": ("assumed", "toy adder: ToyAddParams.job_cycles, one addition "
                                                                "per cycle (a test's throwaway engine)")}

    count: int = 2
    params: ToyAddParams = field(default_factory=ToyAddParams)

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 1 <= self.count <= 1024:
            raise ValueError(f"toy_add count must be an integer in [1, 1024], not {self.count!r}")

    def precisions(self) -> tuple[str, ...]:
        return ("toy",)

    def act_bits(self, layer: Layer) -> float:
        return self.params.width

    def cycles(self, layer: Layer) -> LayerCycles:
        per_adder = -(-(layer.groups * layer.m * layer.n) // self.count)
        return LayerCycles(peak=self.count, beats=self.params.job_cycles(per_adder, layer.k) * layer.repeat,
                           mode=self.params.tag, parallel_outputs=self.count)

    def energy(self, layer: Layer, prices) -> LayerEnergy:
        return LayerEnergy(layer.macs * prices("add.ternary"))  # the table's 8-bit addition

    def component(self):
        return ToyAdd.from_params(self.params), f"toy_add_{self.params.tag}"

    def describe(self):
        return self.count, "adders", f"toy adders {self.params.tag}"


def toy_workload() -> Workload:
    """Two layers of sums: 6 outputs of 5 terms, then 4 of 3."""
    return Workload("toy.sums", (Layer("a", 2, 3, 5, precision="toy"), Layer("b", 1, 4, 3, precision="toy")),
                    unit="run")


# ---- the one registry entry -----------------------------------------------------------------------------------


def _spec():
    from npegen.blocks import BlockSpec

    return BlockSpec("toy-add", "toy unsigned adder (a test's throwaway block)", ToyAddParams, ToyAdd.from_params,
                     lambda p: f"toy_add_{p.tag}", verify_toy_add, example="--width 3", workload="toy.sums",
                     engine="toy_add")


SPEC = _spec()
