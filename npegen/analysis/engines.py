"""The estimator's engines: one class per engine type, each with the same small protocol.

An engine is a frozen dataclass (``count`` units of one design point) that answers, for one layer:

* :meth:`Engine.cycles` -- the compute-side cycles, from the **one** job-cycle formula its parameter object defines
  and ``tests/analysis/test_estimator_rtl.py`` checks against the cycles the block's testbench measures on the RTL
  (:meth:`SimdMacParams.job_cycles <npegen.models.simd_mac.SimdMacParams.job_cycles>`,
  :meth:`TernaryParams.job_cycles <npegen.models.ternary.TernaryParams.job_cycles>`,
  :meth:`IntMacParams.job_cycles <npegen.models.int_mac.IntMacParams.job_cycles>`,
  :meth:`RampADC.job_cycles <npegen.models.ramp_adc.RampADC.job_cycles>`);
* :meth:`Engine.energy` -- the datapath energy (MACs, ADC conversions, digital nonlinearities) priced by a
  :class:`Prices` (the energy table at the design's node and supply, which records every entry it is asked for);
* :meth:`Engine.area_parts` -- its silicon area from its synthesised transistor count;
* :meth:`Engine.precisions` -- the layer precisions it runs; :meth:`Engine.act_bits` /
  :meth:`Engine.weight_bits` -- operand widths, from the number formats and parameter objects (one source).

:func:`register_engine` adds an engine type (a design file's section, the layer precisions it adds); the
built-in ones are :class:`SimdArray`, :class:`TernaryArray`, :class:`IntMacArray` and :class:`CrossbarArray`.
README "Adding an engine" shows a new one.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from ..models import formats as F
from ..models._checks import check_int, short_repr
from ..models.int_mac import IntMacParams
from ..models.ramp_adc import RampADC
from ..models.simd_mac import SimdMacParams
from ..models.ternary import TernaryParams
from . import workloads as W
from .energy import EnergyTable, nand2_area_um2

__all__ = ["Engine", "LayerCycles", "LayerEnergy", "Prices", "SimdArray", "FloatArray", "TernaryArray",
           "IntMacArray", "CrossbarArray", "ENGINE_TYPES", "register_engine", "unregister_engine", "default_engines"]


@dataclass(frozen=True)
class LayerCycles:
    """Compute-side cycles of one layer (all its ``repeat`` runs) on one engine type.

    ``peak``: MACs per cycle of all the engine's units; ``beats``: busy cycles besides the fill (the ideal
    ``MACs / peak`` plus the mapping loss); ``fill``: pipeline fill/drain; ``adc``: conversions and digital
    nonlinearities; ``mode``: what the layer ran as (a SIMD mode, a packing, ``ramp5``); ``parallel_outputs``:
    outputs computed at once (the input activations are re-read from SRAM once per such group).
    """

    peak: float
    beats: float
    fill: float = 0.0
    adc: float = 0.0
    mode: str = ""
    parallel_outputs: float = 0.0

    @property
    def compute(self) -> float:
        return self.beats + self.fill + self.adc


@dataclass(frozen=True)
class LayerEnergy:
    """Datapath energy of one layer (pJ): MACs, ADC conversions, digital nonlinearities; and the conversions."""

    mac: float
    adc: float = 0.0
    nl: float = 0.0
    conversions: int = 0


class Prices:
    """An :class:`~npegen.analysis.energy.EnergyTable` at one node and supply that records every entry read.

    ``prices("mac.int8")`` is the entry's value at ``node_nm``/``vdd`` (the table's scaling rule); the names read
    so far are :attr:`used` (the result's provenance). A missing entry is a ``ValueError`` that says how to add it.
    """

    def __init__(self, table: EnergyTable, node_nm: float, vdd: float):
        self.table, self.node_nm, self.vdd = table, node_nm, vdd
        self.used: set[str] = set()

    def __call__(self, name: str, *, why: str = "") -> float:
        if name not in self.table:
            raise ValueError(f"the energy table has no entry {name!r}{f' ({why})' if why else ''}; add it to the "
                             f"design file: \"energy\": {{\"{name}\": {{\"new\": true, \"value\": ..., \"unit\": "
                             "..., \"node_nm\": ..., \"vdd\": ..., \"source\": ...}}")
        self.used.add(name)
        return self.table.value(name, self.node_nm, self.vdd)


def _outputs(layer: W.Layer) -> int:
    return layer.groups * layer.m * layer.n


class Engine(ABC):
    """The protocol of an estimator engine type (subclasses are frozen dataclasses that validate their fields).

    Class attributes: ``kind`` (the design file's section, ``design.<kind>`` in the provenance, the ``engine``
    column of a result), ``title`` (plots), ``params_class`` (the block's design-point dataclass, or ``None``),
    ``count_field`` (the field counting the units), ``area_kind`` (the key of its synthesised transistor count in
    ``Design.areas``), ``PRECISIONS`` (layer precisions this type adds to :data:`npegen.analysis.workloads`
    besides the number formats), ``cycle_rows`` (``{provenance key: (status, text)}`` of its cycle model) and
    ``weights_in_array`` (weights live in the array: no weight traffic).
    """

    kind: ClassVar[str]
    title: ClassVar[str]
    params_class: ClassVar[type | None] = None
    count_field: ClassVar[str] = "count"
    area_kind: ClassVar[str] = ""
    PRECISIONS: ClassVar[tuple[str, ...]] = ()
    cycle_rows: ClassVar[dict[str, tuple[str, str]]] = {}
    weights_in_array: ClassVar[bool] = False

    @property
    def units(self) -> int:
        """How many units (engines, lanes, crossbars) the design has."""
        return getattr(self, self.count_field)

    # -- what it runs -------------------------------------------------------------------------------------------

    @abstractmethod
    def precisions(self) -> tuple[str, ...]:
        """The layer precisions this engine runs."""

    def act_bits(self, layer: W.Layer) -> float:
        """Bits of one input/output activation of ``layer`` (default: the precision's number format)."""
        return F.parse(layer.precision).nbits

    def weight_bits(self, layer: W.Layer) -> float:
        """Stored bits per weight (the layer's ``weight_bits`` if it sets one, else the precision's format)."""
        return float(layer.weight_bits) if layer.weight_bits is not None else float(self.act_bits(layer))

    # -- cost ---------------------------------------------------------------------------------------------------

    @abstractmethod
    def cycles(self, layer: W.Layer) -> LayerCycles:
        """Compute-side cycles of ``layer`` (all its runs), from the parameter object's job-cycle formula."""

    @abstractmethod
    def energy(self, layer: W.Layer, prices: Prices) -> LayerEnergy:
        """Datapath energy of ``layer`` (all its runs), in pJ."""

    def nl_energy(self, layer: W.Layer, prices: Prices) -> float:
        """Digital sigmoid/tanh units: ``nonlin`` activations per run at ``nl.digital`` each."""
        return layer.repeat * layer.nonlin * prices("nl.digital") if layer.nonlin else 0.0

    def component(self):
        """``(Amaranth component, Verilog top)`` of one unit, to synthesise for its area; ``None`` if none."""
        return None

    def area_parts(self, transistors: int | None, prices: Prices) -> list[dict]:
        """The engine's parts of :meth:`Design.area_parts`: ``units`` synthesised units (none without
        ``transistors``)."""
        if transistors is None:
            return []
        each = nand2_area_um2(transistors, prices.table, prices.node_nm, prices.vdd)
        return [{"component": f"{self.kind} (synthesised, {transistors} transistors each)", "count": self.units,
                 "um2_each": each, "mm2": self.units * each * 1e-6,
                 "keys": (f"synth.{self.area_kind}.transistors", "area.transistors_per_nand2", "area.nand2",
                          f"design.{self.kind}", "design.tech.node_nm")}]

    def area_missing(self, synthesised: bool) -> list[str]:
        """What :meth:`Design.area_mm2` leaves out of this engine."""
        return [] if synthesised else [f"{self.kind} engines (not synthesised)"]

    # -- description --------------------------------------------------------------------------------------------

    @abstractmethod
    def describe(self) -> tuple[float, str, str]:
        """``(count, unit, text)`` of the design's provenance row ``design.<kind>``."""

    def cycle_keys(self) -> set[str]:
        """The provenance keys of the cycle model a result on this engine depends on."""
        return set(self.cycle_rows)

    def roofs(self, modes) -> list[tuple[str, float, str]]:
        """``(label, peak ops/cycle, line style)`` of its compute roofs for the modes ``modes`` a result used."""
        return [(f"{self.units} x {self.kind}", 2.0 * self.cycles(_probe(self)).peak, "-")]

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_params(cls, params, count: int | None = None) -> Engine:
        """The engine of a block's design point ``params`` (``count`` units, default the class default)."""
        kw = {"params": params}
        if count is not None:
            kw[cls.count_field] = count
        return cls(**kw)

    @classmethod
    def params_from_dict(cls, d: dict):
        """``params_class`` from a design file's ``params`` mapping (fields checked by name)."""
        return cls.params_class(**_fields_of(f"{cls.kind} params", cls.params_class, d))

    @classmethod
    def from_dict(cls, d, base: Engine | None = None) -> Engine:
        """The engine of a design file's section (its fields; ``params`` a mapping), over ``base`` if given."""
        if not isinstance(d, dict):
            raise TypeError(f"design {cls.kind} must be a mapping or null, not {short_repr(d)}")
        kw = _fields_of(cls.kind, cls, d)
        if cls.params_class is not None and "params" in kw:
            kw["params"] = cls.params_from_dict(kw.pop("params"))
        return dataclasses.replace(base, **kw) if base is not None else cls(**kw)


def _probe(engine: Engine) -> W.Layer:
    """A one-MAC layer in the engine's first precision (its peak ops per cycle)."""
    return W.Layer("probe", 1, 1, 1, precision=engine.precisions()[0])


def _fields_of(what: str, cls, v) -> dict:
    """``v`` as keyword arguments of dataclass ``cls``: a mapping whose keys are init fields of ``cls``;
    otherwise a TypeError/ValueError naming ``what``, the bad key, its closest name and the allowed names."""
    import difflib

    if not isinstance(v, dict):
        raise TypeError(f"design {what} must be a mapping, not {short_repr(v)}")
    allowed = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [str(k) for k in v if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"design {what}: unknown field {short_repr(unknown[0])}{hint}; allowed: "
                         f"{', '.join(allowed)}")
    return dict(v)


def _check_params(engine: Engine) -> None:
    check_int(f"{engine.kind} {engine.count_field}", engine.units, 1, 1 << 20)
    if engine.params_class is not None and not isinstance(engine.params, engine.params_class):
        raise TypeError(f"{engine.kind} params must be {engine.params_class.__name__}, not "
                        f"{short_repr(engine.params)}")


# ---- the built-in engines -------------------------------------------------------------------------------------




@dataclass(frozen=True)
class SimdArray(Engine):
    """``count`` SIMD MAC engines of one design point (:class:`SimdMacParams`); runs its modes' layers.

    Cycles: :meth:`SimdMacParams.job_cycles` of the layer's outputs spread evenly over the engines (a dot product
    of length ``k`` per output, ``lanes(mode)`` outputs per engine at once). Energy: ``mac.<mode>`` per MAC.
    """

    kind: ClassVar[str] = "simd"
    title: ClassVar[str] = "SIMD MAC engines"
    params_class: ClassVar[type] = SimdMacParams
    area_kind: ClassVar[str] = "simd"
    cycle_rows: ClassVar[dict] = {
        "cycles.simd": ("measured", "SIMD MAC engine: SimdMacParams.job_cycles = sum(ceil(outputs / lanes) * k) + "
                        "stages cycles per job; checked against the cocotb testbench "
                        "(tests/analysis/test_estimator_rtl.py)")}

    count: int = 256
    params: SimdMacParams = field(default_factory=SimdMacParams)

    def __post_init__(self) -> None:
        _check_params(self)

    def lanes(self, mode: str) -> int:
        """Outputs one engine computes at once in ``mode`` (1 with ``dot``)."""
        if mode not in self.params.modes:
            raise ValueError(f"the SIMD engine has no mode {mode!r}; its modes are {self.params.modes}")
        return 1 if self.params.dot else self.params.lanes(self.params.modes.index(mode))

    def precisions(self) -> tuple[str, ...]:
        return self.params.modes

    def cycles(self, layer: W.Layer) -> LayerCycles:
        p, mode = self.params, layer.precision
        lanes = self.lanes(mode)
        job = p.job_cycles([(mode, -(-_outputs(layer) // self.count), layer.k)])
        return LayerCycles(peak=self.count * lanes, beats=(job - p.latency) * layer.repeat,
                           fill=p.latency * layer.repeat, mode=mode, parallel_outputs=self.count * lanes)

    def energy(self, layer: W.Layer, prices: Prices) -> LayerEnergy:
        e = layer.macs * prices(f"mac.{layer.precision}", why=f"SIMD mode {layer.precision}")
        return LayerEnergy(e, nl=self.nl_energy(layer, prices))

    def component(self):
        from ..hw.simd_mac import SimdMac

        return SimdMac.from_params(self.params), "simd_mac"

    def describe(self):
        return self.count, "engines", f"SIMD MAC engines {self.params.tag}"

    def roofs(self, modes):
        styles = ("-", "-.", "--", ":")
        return [(f"{m}: {self.count} engines x {self.lanes(m)} lanes", 2.0 * self.count * self.lanes(m), ls)
                for m, ls in zip([m for m in self.params.modes if m in set(modes)], styles, strict=False)]

    @classmethod
    def params_from_dict(cls, d: dict):
        kw = _fields_of("simd params", SimdMacParams, d)
        if "modes" in kw:
            m = kw["modes"]
            if isinstance(m, str):  # "fp4_e2m1,posit8_0", as on the command line
                m = [x.strip() for x in m.split(",") if x.strip()]
            if not isinstance(m, (list, tuple)) or not all(isinstance(x, str) for x in m):
                raise TypeError(f"modes must be a list of format names, not {short_repr(kw['modes'])}")
            kw["modes"] = tuple(m)
        return SimdMacParams(**kw)


@dataclass(frozen=True)
class FloatArray(SimdArray):
    """``count`` floating-point MAC engines: the SIMD MAC engine in BF16 (default) or other minifloat modes, kept
    apart from the XR-NPE SIMD engines so that their area stays XR-NPE's. Runs LLaMA's BF16 lm_head and
    attention layers as BF16 (an exact 531-bit accumulator per engine, rounded once).

    Cycles and energy as :class:`SimdArray` (:meth:`SimdMacParams.job_cycles`, ``mac.<mode>``).
    """

    kind: ClassVar[str] = "fpu"
    title: ClassVar[str] = "floating-point MAC engines"
    area_kind: ClassVar[str] = "fpu"
    cycle_rows: ClassVar[dict] = {
        "cycles.fpu": ("measured", "floating-point MAC engines (the SIMD MAC engine in BF16 mode): "
                       "SimdMacParams.job_cycles, checked against the cocotb testbench "
                       "(tests/analysis/test_estimator_rtl.py)")}

    count: int = 16
    params: SimdMacParams = field(default_factory=lambda: SimdMacParams(modes=("bf16",)))

    def describe(self):
        return self.count, "engines", f"floating-point MAC engines {self.params.tag}"


@dataclass(frozen=True)
class TernaryArray(Engine):
    """``count`` ternary GEMV engines (:class:`TernaryParams`); runs ``"ternary"`` layers.

    Cycles: :meth:`TernaryParams.job_cycles` of the layer's rows spread evenly over the engines. Energy:
    ``add.ternary`` per non-zero weight slot (Sherry: 3 of 4). Operands: int8 activations, the packing's code bits
    per weight plus one FP16 scale per group.
    """

    kind: ClassVar[str] = "ternary"
    title: ClassVar[str] = "ternary engines"
    params_class: ClassVar[type] = TernaryParams
    area_kind: ClassVar[str] = "ternary"
    PRECISIONS: ClassVar[tuple[str, ...]] = ("ternary",)
    cycle_rows: ClassVar[dict] = {
        "cycles.ternary": ("measured", "ternary engine: TernaryParams.job_cycles = rows * k/(4P) + latency cycles; "
                           "checked against the cocotb testbench (tests/analysis/test_estimator_rtl.py)")}
    #: The engine's activations: int8 (:func:`npegen.models.ternary.quantize_activations`).
    ACT_FORMAT: ClassVar[str] = "int8"

    count: int = 4
    params: TernaryParams = field(default_factory=TernaryParams)

    def __post_init__(self) -> None:
        _check_params(self)

    def precisions(self) -> tuple[str, ...]:
        return ("ternary",)

    def act_bits(self, layer: W.Layer) -> float:
        return F.get(self.ACT_FORMAT).nbits

    def weight_bits(self, layer: W.Layer) -> float:
        if layer.weight_bits is not None:
            return float(layer.weight_bits)
        p = self.params
        return p.code_bits / p.weights_per_beat + 16 / p.group_size  # payload + one FP16 scale per group

    def cycles(self, layer: W.Layer) -> LayerCycles:
        p = self.params
        job = p.job_cycles(-(-_outputs(layer) // self.count), layer.k)
        return LayerCycles(peak=self.count * p.weights_per_beat, beats=(job - p.latency) * layer.repeat,
                           fill=p.latency * layer.repeat, mode=p.packing,
                           parallel_outputs=self.count * p.weights_per_beat)

    def energy(self, layer: W.Layer, prices: Prices) -> LayerEnergy:
        frac = 0.75 if self.params.packing == "sherry" else 1.0  # Sherry: 3 add/sub per 4 weights
        return LayerEnergy(layer.macs * frac * prices("add.ternary"), nl=self.nl_energy(layer, prices))

    def component(self):
        from ..hw.ternary import TernaryEngine

        return TernaryEngine.from_params(self.params), "ternary"

    def describe(self):
        return self.count, "engines", f"ternary engines {self.params.tag}"

    def roofs(self, modes):
        p = self.params
        return [(f"{self.count} engines x {p.weights_per_beat} weights/cycle ({p.packing})",
                 2.0 * self.count * p.weights_per_beat, "-")]


@dataclass(frozen=True)
class IntMacArray(Engine):
    """``lanes`` INT MAC lanes (:class:`IntMacParams`); runs ``int<n>`` layers for ``2 <= n <= width`` (a lane
    multiplies narrower integers exactly).

    Cycles: :meth:`IntMacParams.job_cycles`. Energy: ``mac.int<n>`` per MAC, the entry of the layer's precision
    (an INT8 MAC on a wider lane is charged as an INT8 MAC: the table has no per-lane-width entries yet).
    """

    kind: ClassVar[str] = "int_mac"
    title: ClassVar[str] = "INT MAC lanes"
    params_class: ClassVar[type] = IntMacParams
    count_field: ClassVar[str] = "lanes"
    area_kind: ClassVar[str] = "int_mac"
    cycle_rows: ClassVar[dict] = {
        "cycles.int_mac": ("measured", "INT MAC lanes: IntMacParams.job_cycles = ceil(outputs / lanes) * k + stages "
                           "cycles; checked against the cocotb testbench (tests/analysis/test_estimator_rtl.py)")}

    lanes: int = 64
    params: IntMacParams = field(default_factory=IntMacParams)

    def __post_init__(self) -> None:
        _check_params(self)

    def precisions(self) -> tuple[str, ...]:
        return tuple(f"int{n}" for n in range(self.params.width, 1, -1))

    def cycles(self, layer: W.Layer) -> LayerCycles:
        p = self.params
        job = p.job_cycles(self.lanes, _outputs(layer), layer.k)
        return LayerCycles(peak=self.lanes, beats=(job - p.latency) * layer.repeat, fill=p.latency * layer.repeat,
                           mode=layer.precision, parallel_outputs=self.lanes)

    def energy(self, layer: W.Layer, prices: Prices) -> LayerEnergy:
        return LayerEnergy(layer.macs * prices(f"mac.{layer.precision}"), nl=self.nl_energy(layer, prices))

    def component(self):
        from ..hw.int_mac import IntMac

        return IntMac.from_params(self.params), "int_mac"

    def describe(self):
        return self.lanes, "lanes", f"INT MAC lanes {self.params.tag}"

    def roofs(self, modes):
        return [(f"{self.lanes} INT{self.params.width} lanes", 2.0 * self.lanes, "-")]


@dataclass(frozen=True)
class CrossbarArray(Engine):
    """``count`` analog crossbars of ``rows`` x ``cols`` differential cells with column ADCs; runs ``"analog"``.

    ``adc="ramp"``: the ramp-ADC nonlinearity (:attr:`ramp_adc`), one ramp shared by ``cols_per_ramp`` columns,
    every column its own comparator (all columns convert in parallel, :attr:`RampADC.cycles` cycles).
    ``adc="sar"``: a SAR ADC per ``cols_per_adc`` columns (``bits + 1`` cycles each, time-multiplexed) plus a
    digital nonlinearity unit. Every MVM of a ``rows x cols`` tile is one read of ``read_cycles`` plus one
    conversion of its columns; the ramp ADC's back-to-back conversions take :meth:`RampADC.job_cycles`. The
    weights stay in the cells (no weight traffic); inputs are 8-bit DAC codes (assumed).
    """

    kind: ClassVar[str] = "crossbar"
    title: ClassVar[str] = "analog crossbars"
    area_kind: ClassVar[str] = "ramp_adc"
    PRECISIONS: ClassVar[tuple[str, ...]] = ("analog",)
    weights_in_array: ClassVar[bool] = True
    cycle_rows: ClassVar[dict] = {
        "cycles.ramp_adc": ("measured", "ramp ADC: RampADC.job_cycles = conversions * RampADC.cycles + 2 cycles per "
                            "job (RampADC.cycles = 2**bits - 1 for a monotone function), all columns in parallel; "
                            "checked against the cocotb testbench (tests/analysis/test_estimator_rtl.py)"),
        "cycles.sar_adc": ("assumed", "SAR ADC: bits + 1 cycles per conversion, cols_per_adc columns in turn "
                           "(no RTL here)"),
        "cycles.crossbar_read": ("assumed", "analog crossbar: read_cycles per matrix-vector read (no RTL here)"),
        "cycles.nl_digital": ("assumed", "digital sigmoid/tanh units: one activation per unit per cycle (no RTL "
                              "here)"),
    }
    #: Input DAC and stored-weight bits of the analog layers (assumed).
    DAC_BITS: ClassVar[int] = 8

    count: int = 4
    rows: int = 128
    cols: int = 128
    adc_bits: int = 5
    adc: str = "ramp"
    cols_per_ramp: int = 128
    cols_per_adc: int = 8
    read_cycles: int = 1
    nl_units: int = 8

    def __post_init__(self) -> None:
        check_int("crossbar count", self.count, 1, 1 << 20)
        check_int("crossbar rows", self.rows, 1, 1 << 16)
        check_int("crossbar cols", self.cols, 1, 1 << 16)
        check_int("adc_bits", self.adc_bits, 1, 10)
        if not isinstance(self.adc, str) or self.adc not in ("ramp", "sar"):
            raise ValueError(f"crossbar adc must be 'ramp' or 'sar', not {short_repr(self.adc)}")
        check_int("cols_per_ramp", self.cols_per_ramp, 1, self.cols)
        check_int("cols_per_adc", self.cols_per_adc, 1, self.cols)
        check_int("read_cycles", self.read_cycles, 1, 1 << 10)
        check_int("nl_units", self.nl_units, 1, 1 << 16)

    @property
    def ramp_adc(self) -> RampADC:
        """The model of the crossbar's ramp ADC: sigmoid, ``adc_bits`` output bits, a 10-bit MAC input code of
        LSB 1/64. :meth:`Design.with_synthesized_areas` synthesises it, and :meth:`cycles` counts its
        :meth:`RampADC.job_cycles` (with ``adc="ramp"``)."""
        return _crossbar_ramp_adc(self.adc_bits)

    @property
    def conversion_cycles(self) -> int:
        """Cycles to convert every column once: :attr:`RampADC.cycles` of :attr:`ramp_adc` (all columns in
        parallel), or ``(bits + 1) * cols_per_adc`` (each SAR ADC converts its columns in turn)."""
        if self.adc == "ramp":
            return self.ramp_adc.cycles
        return (self.adc_bits + 1) * self.cols_per_adc

    def precisions(self) -> tuple[str, ...]:
        return ("analog",)

    def act_bits(self, layer: W.Layer) -> float:
        return self.DAC_BITS

    def cycles(self, layer: W.Layer) -> LayerCycles:
        tiles = layer.groups * -(-layer.k // self.rows) * -(-layer.n // self.cols)
        mvms = -(-(tiles * layer.m) // self.count)  # per crossbar, per run
        peak = self.count * self.rows * self.cols
        nl = 0
        if self.adc == "ramp":
            adc = self.ramp_adc.job_cycles(mvms)
        else:
            adc = mvms * self.conversion_cycles
            if layer.nonlin:
                nl = -(-layer.nonlin // self.nl_units)  # digital sigmoid/tanh units, one activation per cycle each
        return LayerCycles(peak=peak, beats=mvms * self.read_cycles * layer.repeat, adc=(adc + nl) * layer.repeat,
                           mode=f"{self.adc}{self.adc_bits}", parallel_outputs=peak / max(layer.k, 1))

    def energy(self, layer: W.Layer, prices: Prices) -> LayerEnergy:
        conversions = layer.repeat * _outputs(layer) * -(-layer.k // self.rows)
        nl = 0.0
        if self.adc == "ramp":
            per = ((1 << self.adc_bits) - 1) * prices("adc.ramp.compare") + self.adc_bits * prices("adc.ramp.latch_bit")
        else:
            b = self.adc_bits
            per = prices("adc.sar.fj_per_bit") * b * 1e-3 + 0.001 * 4**b * prices.vdd**2 * 1e-3
            nl = layer.repeat * layer.nonlin * prices("nl.digital")
        return LayerEnergy(layer.macs * prices("analog.cell_read"), adc=conversions * per, nl=nl,
                           conversions=conversions)

    def component(self):
        if self.adc != "ramp":
            return None
        from ..hw.ramp_adc import RampAdc

        return RampAdc(self.ramp_adc, n_cols=self.cols_per_ramp), "ramp_adc"

    def area_parts(self, transistors, prices):
        if self.adc == "ramp":
            parts = super().area_parts(transistors, prices)
            for p in parts:  # one ramp-ADC controller per cols_per_ramp columns
                p["count"] = self.count * (self.cols // self.cols_per_ramp)
                p["component"] = f"ramp_adc (synthesised, {transistors} transistors each)"
                p["mm2"] = p["count"] * p["um2_each"] * 1e-6
            return parts
        cnt = self.count * self.cols / self.cols_per_adc
        each = prices.table.value("area.adc.sar_um2", prices.node_nm, prices.vdd)
        return [{"component": f"SAR ADC ({self.adc_bits} bit)", "count": cnt, "um2_each": each,
                 "mm2": cnt * each * 1e-6, "keys": ("area.adc.sar_um2", "design.crossbar", "design.tech.node_nm")}]

    def area_missing(self, synthesised: bool) -> list[str]:
        out = ["the analog crossbar cell arrays, their DACs/drivers and comparators"]
        if self.adc == "ramp" and not synthesised:
            out.append("the ramp-ADC controllers (not synthesised)")
        return out

    def describe(self):
        per = (f"{self.cols_per_ramp} columns per ramp" if self.adc == "ramp"
               else f"{self.cols_per_adc} columns per SAR ADC")
        return self.count, "crossbars", (f"{self.rows}x{self.cols} analog crossbars, {self.adc} ADC {self.adc_bits} "
                                         f"bit, {per}, {self.read_cycles} cycle(s) per read")

    def cycle_keys(self) -> set[str]:
        keys = {"cycles.crossbar_read", "cycles.ramp_adc" if self.adc == "ramp" else "cycles.sar_adc"}
        return keys | ({"cycles.nl_digital"} if self.adc == "sar" else set())

    def roofs(self, modes):
        array = 2.0 * self.count * self.rows * self.cols
        per_read = self.read_cycles + self.conversion_cycles
        conv = (f"{self.conversion_cycles}-cycle ramp conversion" if self.adc == "ramp"
                else f"{self.conversion_cycles}-cycle SAR conversions")
        return [(f"array peak, {self.count} x {self.rows}x{self.cols} cells per read (no conversion time)", array,
                 ":"), (f"with the {conv} per read", array / per_read, "-")]

    @classmethod
    def from_params(cls, params, count: int | None = None) -> CrossbarArray:
        """Crossbars whose ramp ADC is the ramp-adc block's design point (its bits and columns per ramp)."""
        return cls(count=4 if count is None else count, adc_bits=params.n_bits, adc="ramp",
                   cols_per_ramp=params.n_cols)


@functools.lru_cache(maxsize=16)
def _crossbar_ramp_adc(bits: int) -> RampADC:
    return RampADC("sigmoid", bits, 10, 1 / 64)


# ---- registry -------------------------------------------------------------------------------------------------

#: The engine types, by ``kind`` (a design file's sections, in this order).
ENGINE_TYPES: dict[str, type[Engine]] = {}


def register_engine(cls: type[Engine], *, replace: bool = False) -> type[Engine]:
    """Add engine type ``cls`` (a subclass of :class:`Engine`): design files accept its section and layers its
    ``PRECISIONS``. Usable as a class decorator. A kind already registered is a ``ValueError`` unless
    ``replace``."""
    if not (isinstance(cls, type) and issubclass(cls, Engine) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"register_engine takes a dataclass subclass of Engine, not {short_repr(cls)}")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind.isidentifier() or kind in ("name", "tech", "memory", "energy"):
        raise ValueError(f"an engine kind is an identifier other than name/tech/memory/energy, not {kind!r}")
    if kind in ENGINE_TYPES and ENGINE_TYPES[kind] is not cls and not replace:
        raise ValueError(f"engine kind {kind!r} is already registered")
    if not cls.area_kind:
        cls.area_kind = kind
    ENGINE_TYPES[kind] = cls
    for p in cls.PRECISIONS:
        W.register_precision(p)
    return cls


def unregister_engine(kind: str) -> None:
    """Remove an engine type (tests that register a throwaway one); its precisions stay known."""
    ENGINE_TYPES.pop(kind, None)


for _cls in (SimdArray, TernaryArray, IntMacArray, CrossbarArray, FloatArray):
    register_engine(_cls)


def default_engines() -> tuple[Engine, ...]:
    """The engines of the built-in design: 256 SIMD MAC engines (XR-NPE's four modes), 4 ternary engines, 64 INT8
    MAC lanes, 4 ramp-ADC crossbars and 16 BF16 MAC engines (a layer runs on the first engine that serves its
    precision)."""
    return SimdArray(), TernaryArray(), IntMacArray(), CrossbarArray(), FloatArray()
