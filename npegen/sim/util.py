"""Small helpers shared by the testbenches: seeds, bounded waits, and the component's layouts as bits.

Nothing here imports cocotb at module level (the Amaranth-simulator tests use the same helpers); the cocotb
stream pair is :mod:`npegen.sim.stream`, the Amaranth-simulator pair :mod:`npegen.sim.amaranth_stream`.

*Layouts do the packing*: :class:`LayoutCodec` packs a payload given as a dict (a list for an
``ArrayLayout``), a :class:`amaranth.lib.data.Const` or raw bits into the integer on a Verilog port exactly as
``layout.const(value).as_value().value`` does, and unpacks port bits as ``layout.from_bits(bits)`` into nested
dicts, lists and Python ints; :class:`Ports` carries a component's port shapes (its own layouts) from the
process that emits the Verilog into the simulator (``NPEGEN_PORTS``), so a testbench never restates them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CLOCK_NS", "LayoutCodec", "Port", "Ports", "Watchdog", "codec", "cycle_now", "record_measurement", "reset",
           "rng_from_env", "seed_from_env", "sim_env", "stall_runs", "start", "tick_until"]

#: Clock period of :func:`start` (ns): the cocotb pair numbers cycles with it.
CLOCK_NS = 10


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
    return at the first falling edge after reset (where the testbenches drive and sample).

    The clock is cocotb's GPI clock: toggled inside the simulator, with no Python coroutine and ReadWrite phase per
    edge (cocotb's own choice on Verilator). Its edges take effect at once instead of in the ReadWrite phase of their
    time step, as a Python clock's would; the testbenches drive and sample only at falling edges (never in the time
    step of a rising one), so they see the same values either way."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.simtime import convert, get_sim_time
    from cocotb.triggers import FallingEdge

    global _origin, _period
    for name, value in idle.items():
        getattr(dut, name).value = value
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start())
    await reset(dut)
    await FallingEdge(dut.clk)
    _origin, _period = get_sim_time("step"), convert(CLOCK_NS, "ns", to="step")


#: Simulator time (steps) of the falling edge where :func:`start` returned (cycle 0 of the cocotb pair), and the
#: clock period in steps: integers, so that no float rounding moves a cycle boundary.
_origin, _period = 0, 10_000


def cycle_now() -> int:
    """cocotb: the number of the current cycle, counted in falling clock edges from the one where :func:`start`
    returned (cycle 0). Cycle ``n`` runs from falling edge ``n`` to falling edge ``n + 1``, so the rising edge
    inside it takes what was driven at its start; every coroutine of a testbench agrees on the number."""
    return (_sim_steps() - _origin) // _period


def _sim_steps() -> int:
    """The simulator time in steps (cocotb's ``get_sim_time("step")`` without its unit handling: it runs every
    cycle in every driver and monitor)."""
    global _sim_steps
    from cocotb import simulator

    get = simulator.get_sim_time

    def steps() -> int:
        hi, lo = get()
        return hi << 32 | lo

    _sim_steps = steps
    return steps()


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


# ---- layouts as bits ------------------------------------------------------------------------------------------


class LayoutCodec:
    """Packs and unpacks values of one Amaranth shape or :mod:`amaranth.lib.data` layout as port bits.

    :meth:`pack` equals ``layout.const(value).as_value().value`` (fields at their layout offsets, first field in
    the LSBs) and :meth:`unpack` equals ``layout.from_bits(bits)`` read out into Python values, but both are
    compiled once from the layout's fields, so a testbench may call them for every beat, and :meth:`pack` refuses a
    field value outside its shape (``layout.const`` silently truncates it) naming the field.

    Parameters
    ----------
    shape : amaranth.lib.data.Layout or shape-castable
        ``StructLayout``/``UnionLayout``/``FlexibleLayout`` values are dicts by field name, ``ArrayLayout`` values
        lists, plain shapes Python ints (negative for a signed shape).

    Attributes
    ----------
    shape
        The layout or shape given.
    width : int
        Bits of a packed value.
    """

    def __init__(self, shape):
        from amaranth.hdl import Shape
        from amaranth.lib import data

        self.shape = shape
        self._const_type = data.Const
        self._is_layout = isinstance(shape, data.Layout)
        self._pack, self._unpack, self.width = _compile(shape, data, Shape)

    def pack(self, value) -> int:
        """The port bits of ``value``: a dict / list of field values (missing fields are 0), a
        :class:`amaranth.lib.data.Const` of this layout, or the raw bits as an int (a signed plain shape also takes
        its negative values)."""
        if isinstance(value, self._const_type):
            if value.shape() != self.shape:
                raise TypeError(f"a Const of {value.shape()!r} is not a value of {self.shape!r}")
            return value.as_bits()
        if isinstance(value, (int, np.integer)) and self._is_layout:
            v = int(value)
            if not 0 <= v < 1 << self.width:
                raise ValueError(f"{v} is not {self.width} bits of {self.shape!r}")
            return v
        try:
            return self._pack(value)
        except _FieldError as e:
            raise ValueError(f"{e} (packing a value of {self.shape!r})") from None

    def unpack(self, bits: int):
        """``bits`` (an int, e.g. a cocotb ``handle.value.to_unsigned()``) as dicts, lists and ints."""
        return self._unpack(int(bits))

    def const(self, value):
        """``value`` (as :meth:`pack` takes it) as the layout's :class:`amaranth.lib.data.Const`."""
        return self.shape.from_bits(self.pack(value))


class _FieldError(ValueError):
    """A value that does not fit its field; ``path`` grows as it leaves nested layouts."""

    def __init__(self, path: str, message: str):
        super().__init__(path, message)
        self.path, self.message = path, message

    def __str__(self) -> str:
        return f"{self.path or 'value'}: {self.message}"


def _prefixed(e: _FieldError, key: str) -> _FieldError:
    return _FieldError(key + (e.path if e.path.startswith("[") else "." + e.path if e.path else ""), e.message)


def _compile(shape, data, Shape):
    """(pack(value), unpack(bits), width) for ``shape``; pack raises :class:`_FieldError` naming the field."""
    if isinstance(shape, data.ArrayLayout):
        e_pack, e_unpack, stride = _compile(shape.elem_shape, data, Shape)
        n = shape.length
        offsets = [i * stride for i in range(n)]

        def pack(value):
            if isinstance(value, (Mapping, str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
                raise _FieldError("", f"a value of {shape!r} is a sequence of {n}, not {value!r}")
            if len(value) != n:
                raise _FieldError("", f"a value of {shape!r} has {n} elements, not {len(value)}")
            word = 0
            try:
                for i, v in enumerate(value):
                    word |= e_pack(v) << offsets[i]
            except _FieldError as e:
                raise _prefixed(e, f"[{i}]") from None
            return word

        def unpack(bits):
            return [e_unpack(bits >> off) for off in offsets]

        return pack, unpack, shape.size
    if isinstance(shape, data.Layout):
        fields = [(name, field.offset, *_compile(field.shape, data, Shape)[:2]) for name, field in shape]
        names = {f[0] for f in fields}

        def pack(value):
            if not isinstance(value, Mapping):
                raise _FieldError("", f"a value of {shape!r} is a mapping of its fields, not {value!r}")
            word = 0
            for name, off, f_pack, _ in fields:
                if name in value:
                    try:
                        word |= f_pack(value[name]) << off
                    except _FieldError as e:
                        raise _prefixed(e, name) from None
            if len(value) > len(names) or not names.issuperset(value):
                raise _FieldError("", f"{sorted(map(str, set(value) - names))} are not fields of {shape!r}")
            return word

        def unpack(bits):
            return {name: f_unpack(bits >> off) for name, off, _, f_unpack in fields}

        return pack, unpack, shape.size
    s = Shape.cast(shape)
    w, signed = s.width, s.signed
    mask = (1 << w) - 1
    lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, mask)
    half = 1 << (w - 1) if w else 0

    def pack(value):
        v = int(value)
        if not lo <= v <= hi:
            raise _FieldError("", f"{v} is outside {s!r} [{lo}, {hi}]")
        return v & mask

    if signed:
        def unpack(bits):
            b = bits & mask
            return b - ((b & half) << 1)
    else:
        def unpack(bits):
            return bits & mask

    return pack, unpack, w


_CODECS: dict = {}


def codec(shape) -> LayoutCodec:
    """The (cached) :class:`LayoutCodec` of ``shape``."""
    key = (type(shape), repr(shape))
    c = _CODECS.get(key)
    if c is None:
        c = _CODECS[key] = LayoutCodec(shape)
    return c


def _shape_to_json(shape):
    from amaranth.hdl import Shape
    from amaranth.lib import data

    if isinstance(shape, data.ArrayLayout):
        return {"array": _shape_to_json(shape.elem_shape), "length": shape.length}
    if isinstance(shape, data.StructLayout):
        return {"struct": [[name, _shape_to_json(f.shape)] for name, f in shape]}
    if isinstance(shape, data.UnionLayout):
        return {"union": [[name, _shape_to_json(f.shape)] for name, f in shape]}
    if isinstance(shape, data.Layout):
        return {"flexible": [[name, f.offset, _shape_to_json(f.shape)] for name, f in shape], "size": shape.size}
    s = Shape.cast(shape)
    return {"width": s.width, "signed": s.signed}


def _shape_from_json(d):
    from amaranth.hdl import Shape
    from amaranth.lib import data

    if "array" in d:
        return data.ArrayLayout(_shape_from_json(d["array"]), d["length"])
    if "struct" in d:
        return data.StructLayout({name: _shape_from_json(f) for name, f in d["struct"]})
    if "union" in d:
        return data.UnionLayout({name: _shape_from_json(f) for name, f in d["union"]})
    if "flexible" in d:
        return data.FlexibleLayout(d["size"], {name: data.Field(_shape_from_json(f), off)
                                               for name, off, f in d["flexible"]})
    return Shape(d["width"], d["signed"])


@dataclass(frozen=True)
class Port:
    """One Verilog port of an emitted component: its name (``i__payload``: signature path joined by ``__``),
    direction seen from the component (``"in"`` or ``"out"``) and shape (the component's own layout)."""

    name: str
    flow: str
    shape: object

    @property
    def codec(self) -> LayoutCodec:
        return codec(self.shape)


class Ports(Mapping):
    """The Verilog ports of a component with their shapes, in signature order: a mapping of port name to
    :class:`Port`.

    The process that emits the Verilog builds it from the component (:meth:`of`) and hands it to the simulator in
    the environment (:meth:`env`, ``NPEGEN_PORTS``); the testbench reads it back (:meth:`from_env`), so it packs
    and unpacks with exactly the layouts of the component under test (also a sabotaged or mutated one).
    """

    ENV = "NPEGEN_PORTS"

    def __init__(self, ports):
        self._ports = {p.name: p for p in ports}

    @classmethod
    def of(cls, component) -> Ports:
        """The ports of an :class:`amaranth.lib.wiring.Component` (as :mod:`amaranth.back.verilog` names them)."""
        return cls(Port("__".join(str(k) for k in path), "in" if member.flow.name == "In" else "out", member.shape)
                   for path, member, _ in component.signature.flatten(component))

    def to_json(self) -> str:
        return json.dumps([[p.name, p.flow, _shape_to_json(p.shape)] for p in self._ports.values()])

    @classmethod
    def from_json(cls, text: str) -> Ports:
        return cls(Port(name, flow, _shape_from_json(shape)) for name, flow, shape in json.loads(text))

    def env(self) -> dict[str, str]:
        """``{"NPEGEN_PORTS": json}`` for :func:`npegen.sim.runner.run_cocotb`'s ``env``."""
        return {self.ENV: self.to_json()}

    @classmethod
    def from_env(cls) -> Ports:
        text = os.environ.get(cls.ENV)
        if not text:
            raise RuntimeError(f"{cls.ENV} is not set: run the testbench through its verify_* function")
        return cls.from_json(text)

    def group(self, flow: str):
        """A ``StructLayout`` of every port of direction ``flow`` (``"in"``/``"out"``), fields named as the ports: the
        payload of a unit whose fields are separate top-level ports (the format decoders and encoders)."""
        from amaranth.lib import data

        return data.StructLayout({p.name: p.shape for p in self._ports.values() if p.flow == flow})

    def __getitem__(self, name: str) -> Port:
        try:
            return self._ports[name]
        except KeyError:
            raise KeyError(f"no port {name!r}; the component has {list(self._ports)}") from None

    def __iter__(self):
        return iter(self._ports)

    def __len__(self) -> int:
        return len(self._ports)


def sim_env(component) -> dict[str, str]:
    """Environment for a cocotb run on ``component``: its port layouts (:class:`Ports`, ``NPEGEN_PORTS``). (The
    runner limits pytest's assertion rewriting to the testbench modules on every run,
    :func:`npegen.sim.runner.run_cocotb`.)"""
    return Ports.of(component).env()


def stall_runs(blocked: Sequence[int], accepted: Sequence[int]) -> list[int]:
    """Per run of consecutive cycles (edges) in which an output beat waited with ``ready`` low (``blocked``, e.g.
    :attr:`npegen.sim.stream.StreamMonitor.blocked`), how many input beats the DUT accepted meanwhile (``accepted``
    in the same numbering): what a stall bound such as "no beat taken while a result waits" is checked on."""
    acc = set(accepted)
    runs: list[int] = []
    prev = None
    for c in blocked:
        if prev is not None and c == prev + 1:
            runs[-1] += c in acc
        else:
            runs.append(int(c in acc))
        prev = c
    return runs
