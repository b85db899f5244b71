"""Energy and area table with provenance: every number the estimator uses is an :class:`Entry` with its
unit, technology node, supply, source and an ``assumed`` flag (``True`` where the value is a recollection,
a split of a published total, or a scaling rule rather than a checked figure).

Node scaling (assumed, the rule of ``estimator.md`` section 1.2): dynamic energy of logic and SRAM scales
linearly with the feature size and with Vdd squared, ``E(node, V) = E0 * (node/node0) * (V/V0)**2``;
area scales with ``(node/node0)**2``; DRAM entries (``scales=False``) do not scale with logic.

Users override entries from Python (``table.override("mac.posit8_0", 0.9, source="my PE")``), from a dict,
or from a JSON/YAML file (:meth:`EnergyTable.load`). An override must name an existing entry: a misspelt
name is rejected with the closest names. A new entry is added only when marked so, with ``"new": true``
and its ``unit``, ``node_nm`` and ``vdd`` (``override(..., new=True)`` in Python).

Limits (every entry): ``value`` finite in [0, 1e12] in its unit, ``node_nm`` in [1, 1000], ``vdd`` in
[0.1, 5] V.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..models._checks import check_real, short_repr

__all__ = ["Entry", "EnergyTable", "default_table", "nand2_area_um2", "NODE_NM_RANGE", "VDD_RANGE", "VALUE_MAX"]

#: Technology node (nm) and supply (V) accepted by an entry and by a design's ``tech``.
NODE_NM_RANGE = (1.0, 1000.0)
VDD_RANGE = (0.1, 5.0)
#: Largest entry value, in the entry's unit.
VALUE_MAX = 1e12
#: Fields of an override given as a mapping; ``new``, ``kind`` and ``scales`` only for a new entry.
OVERRIDE_FIELDS = ("value", "source", "assumed", "unit", "node_nm", "vdd")
NEW_FIELDS = ("new", "kind", "scales")


@dataclass(frozen=True)
class Entry:
    """One table value with where it comes from.

    Parameters
    ----------
    name : str
        Key, e.g. ``"mac.posit8_0"`` or ``"dram.pj_per_bit"``.
    value : float
        In ``unit``, at ``node_nm`` and ``vdd``.
    unit : str
        ``"pJ"``, ``"pJ/bit"``, ``"um2"``, ``"mW/mm2"``, ...
    node_nm, vdd : float
        Technology node and supply the value was measured or derived at.
    source : str
        Citation (paper, repository file, or the derivation).
    assumed : bool
        True unless the value was checked against the cited source.
    scales : bool
        Whether node/Vdd scaling applies (False for DRAM and for ratios).
    kind : str
        ``"energy"`` (scales with node * V^2), ``"area"`` (node^2) or ``"other"`` (never scaled).
    """

    name: str
    value: float
    unit: str
    node_nm: float
    vdd: float
    source: str
    assumed: bool
    scales: bool = True
    kind: str = "energy"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= 100 or not self.name.isprintable():
            raise ValueError(f"an energy table entry name must be a printable string of 1 to 100 characters, not "
                             f"{short_repr(self.name)}")
        what = f"energy table entry {self.name!r}: "
        object.__setattr__(self, "value", check_real(f"{what}value", self.value, 0.0, VALUE_MAX))
        object.__setattr__(self, "node_nm", check_real(f"{what}node_nm", self.node_nm, *NODE_NM_RANGE))
        object.__setattr__(self, "vdd", check_real(f"{what}vdd", self.vdd, *VDD_RANGE))
        for name in ("unit", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{what}{name} must be a string, not {short_repr(getattr(self, name))}")
        for name in ("assumed", "scales"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{what}{name} must be true or false, not {short_repr(getattr(self, name))}")
        if not isinstance(self.kind, str) or self.kind not in ("energy", "area", "other"):
            raise ValueError(f"{what}kind must be energy, area or other, not {short_repr(self.kind)}")

    def at(self, node_nm: float, vdd: float) -> float:
        """The value scaled to ``node_nm`` and ``vdd`` (see the module docstring)."""
        if not self.scales or self.kind == "other":
            return float(self.value)
        if self.kind == "area":
            return float(self.value) * (node_nm / self.node_nm) ** 2
        return float(self.value) * (node_nm / self.node_nm) * (vdd / self.vdd) ** 2


_ZZ = "KULeuven-MICAS/zigzag 3.9.1"
_DEFAULTS = [
    # SIMD MAC per lane operation (28 nm published PEs; per-MAC splits of the PE power are assumed)
    Entry("mac.posit8_0", 1.1, "pJ", 28, 0.9, "SPADE arXiv 2601.17279: 4.4 pJ/cycle SIMD PE, split over 4 P8 lanes",
          True),
    Entry("mac.posit16_1", 2.2, "pJ", 28, 0.9, "SPADE arXiv 2601.17279: 4.4 pJ/cycle, split over 2 P16 lanes", True),
    Entry("mac.posit4_1", 0.55, "pJ", 28, 0.9, "DHFP-PE arXiv 2604.04507: 1.10 pJ/cycle over 2 FP4 lanes (as P4)",
          True),
    Entry("mac.fp4_e2m1", 0.55, "pJ", 28, 0.9, "DHFP-PE arXiv 2604.04507: 1.10 pJ/cycle over 2 FP4 lanes", True),
    Entry("mac.int8", 0.23, "pJ", 45, 0.9, "Horowitz ISSCC 2014: INT8 mult 0.2 + add 0.03", True),
    Entry("mac.bf16", 1.5, "pJ", 45, 0.9, "Horowitz ISSCC 2014: FP16 mult 1.1 + add 0.4", True),
    Entry("mac.fp16", 1.5, "pJ", 45, 0.9, "Horowitz ISSCC 2014: FP16 mult 1.1 + add 0.4", True),
    # ternary datapath: one add/sub into the accumulator per non-zero weight
    Entry("add.ternary", 0.03, "pJ", 28, 0.9, f"{_ZZ} TECH_PARAM_28NM: 8-bit ripple add 0.027 pJ + register toggles",
          True),
    # analog crossbar
    Entry("analog.cell_read", 0.004, "pJ", 28, 0.9, "V_read^2*G*t: (0.2 V)^2 * 100 uS * 1 ns (ramp_adc.md s6)", True,
          scales=False),
    Entry("adc.sar.fj_per_bit", 100.0, "fJ", 28, 0.9, f"{_ZZ} imc_array.py: energy_fJ = (100*B + 0.001*4**B)*Vdd^2",
          False),
    Entry("adc.ramp.compare", 0.002, "pJ", 28, 0.9, "one comparator decision per ramp step (assumed ~2 fJ)", True),
    Entry("adc.ramp.latch_bit", 0.0017, "pJ", 28, 0.9, f"{_ZZ} TECH_PARAM_28NM: DFF 2.1 fF * 0.81 V^2 per bit", False),
    Entry("nl.digital", 1.0, "pJ", 40, 1.1, "Chen et al., Electronics 9(10):1739 (2020): CORDIC sigmoid/tanh "
          "~0.9-1.1 pJ/op at 40 nm", False),
    # memories
    Entry("rf.pj_per_bit", 0.012, "pJ/bit", 28, 0.9, f"{_ZZ} tpu_like rf_128B: 0.095 pJ per 8-bit access", False),
    Entry("sram.small.pj_per_bit", 0.045, "pJ/bit", 28, 0.9, f"{_ZZ} sram_32KB: 22.9 pJ per 512-bit read", False),
    Entry("sram.large.pj_per_bit", 0.2, "pJ/bit", 28, 0.9, f"{_ZZ} sram_2MB: 416 pJ per 2048-bit read", False),
    Entry("dram.pj_per_bit", 10.9, "pJ/bit", 28, 0.9, f"{_ZZ} DRAM: 700 pJ per 64-bit read", False, scales=False),
    # area and leakage
    Entry("area.nand2", 0.614, "um2", 28, 0.9, f"{_ZZ} TECH_PARAM_28NM: NAND2 area", False, kind="area"),
    Entry("area.transistors_per_nand2", 4.0, "1", 28, 0.9, "CMOS NAND2 = 4 transistors (yosys stat -tech cmos)",
          False, kind="other"),
    Entry("area.sram_um2_per_bit", 0.25, "um2", 28, 0.9, "28 nm 6T cell 0.127 um2 with ~2x periphery overhead",
          True, kind="area"),
    Entry("area.adc.sar_um2", 336.0, "um2", 28, 0.9, f"{_ZZ} imc_array.py: 10**(-0.0369*B+1.206)*2**B at B=5", False,
          kind="area"),
    Entry("leak.mw_per_mm2", 20.0, "mW/mm2", 28, 0.9, "28 nm HPC logic leakage order of magnitude", True),
]


class EnergyTable:
    """The estimator's numbers, keyed by name, each with provenance (see :class:`Entry`).

    Parameters
    ----------
    entries : iterable of Entry, optional
        Default :func:`default_table`'s entries.
    """

    def __init__(self, entries=None):
        self._e: dict[str, Entry] = {}
        for e in (_DEFAULTS if entries is None else entries):
            if not isinstance(e, Entry):
                raise TypeError(f"energy table entries must be Entry, not {e!r}")
            self._e[e.name] = e

    def __contains__(self, name: str) -> bool:
        return name in self._e

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._e[name]
        except KeyError:
            raise KeyError(f"no energy table entry {name!r}; entries: {', '.join(sorted(self._e))}") from None

    def names(self) -> list[str]:
        return sorted(self._e)

    def value(self, name: str, node_nm: float, vdd: float) -> float:
        return self[name].at(node_nm, vdd)

    def _unknown(self, name: object) -> str:
        """The message for an override of an entry that does not exist, with the closest names."""
        close = difflib.get_close_matches(str(name), self._e, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        return (f"unknown energy table entry {short_repr(name)}; {hint}(a new entry must be marked "
                f'{{"new": true, "value": .., "unit": .., "node_nm": .., "vdd": ..}}; entries: '
                f"{', '.join(sorted(self._e))})")

    def override(self, name: str, value: float, *, source: str = "user override", assumed: bool = False,
                 unit: str | None = None, node_nm: float | None = None, vdd: float | None = None,
                 new: bool = False, kind: str = "energy", scales: bool = True) -> EnergyTable:
        """A copy with entry ``name`` set to ``value``.

        Parameters
        ----------
        name : str
            An existing entry, or with ``new=True`` a name the table does not have yet.
        value : float
            Finite, in [0, 1e12], in the entry's unit.
        source, assumed
            Provenance of the new value.
        unit, node_nm, vdd : optional
            Change the entry's unit and reference technology; required with ``new=True``.
        new : bool
            Add a new entry (``kind`` and ``scales`` apply only then).

        Raises
        ------
        TypeError, ValueError
            An unknown name without ``new`` (the message lists the closest names), an existing name with
            ``new``, a new entry without ``unit``/``node_nm``/``vdd``, or a field of the wrong type or out of
            range.
        """
        if not isinstance(new, bool):
            raise TypeError(f"new must be true or false, not {short_repr(new)}")
        if not isinstance(name, str):
            raise TypeError(f"an energy table entry name must be a string, not {short_repr(name)}")
        if new:
            if name in self._e:
                raise ValueError(f"energy table entry {name!r} already exists; drop \"new\" to override it")
            missing = [k for k, v in (("unit", unit), ("node_nm", node_nm), ("vdd", vdd)) if v is None]
            if missing:
                raise ValueError(f"new energy table entry {name!r} needs {', '.join(missing)}")
            entry = Entry(name, value, unit, node_nm, vdd, source, assumed, scales=scales, kind=kind)
        else:
            if name not in self._e:
                raise ValueError(self._unknown(name))
            old = self._e[name]
            entry = Entry(name, value, old.unit if unit is None else unit, old.node_nm if node_nm is None else
                          node_nm, old.vdd if vdd is None else vdd, source, assumed, scales=old.scales, kind=old.kind)
        t = EnergyTable(self._e.values())
        t._e[name] = entry
        return t

    def update(self, overrides: dict) -> EnergyTable:
        """A copy with ``{name: value}`` or ``{name: {"value": .., "source": .., ...}}`` applied.

        A mapping may hold ``value`` (required), ``source``, ``assumed``, ``unit``, ``node_nm`` and ``vdd``;
        ``{"new": true, ...}`` adds an entry (then ``unit``, ``node_nm`` and ``vdd`` are required and ``kind``
        and ``scales`` are allowed). Any other field, or an unknown entry name without ``new``, raises
        ValueError naming it (see :meth:`override`).
        """
        if not isinstance(overrides, dict):
            raise TypeError(f"energy overrides must be a mapping of entry name to value, not "
                            f"{type(overrides).__name__}")
        t = self
        for name, v in overrides.items():
            kw = dict(v) if isinstance(v, dict) else {"value": v}
            what = f"energy override {short_repr(name)}"
            allowed = OVERRIDE_FIELDS + (NEW_FIELDS if kw.get("new") is True else ("new",))
            unknown = sorted(str(k) for k in kw if k not in allowed)
            if unknown:
                close = difflib.get_close_matches(unknown[0], allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"{what}: unknown field(s) {unknown}{hint}; allowed: {', '.join(allowed)}")
            if "value" not in kw:
                raise ValueError(f"{what} needs a value")
            value = kw.pop("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{what}: value must be a number, not {short_repr(value)}")
            t = t.override(name, value, **kw)
        return t

    @classmethod
    def load(cls, path, base: EnergyTable | None = None) -> EnergyTable:
        """``base`` (default table) with the overrides of a JSON or YAML file (a mapping, see :meth:`update`)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no energy table file {str(p)!r}")
        try:
            text = p.read_text()
            if p.suffix in (".yaml", ".yml"):
                try:
                    import yaml
                except ImportError:
                    raise ValueError(f"{p}: reading YAML needs PyYAML; use JSON") from None
                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    raise ValueError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
            else:
                data = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"{p}: cannot read the energy table ({str(exc).splitlines()[0][:100]})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{p}: expected a mapping of entry name to value")
        return (base or cls()).update(data)

    def to_frame(self):
        """All entries as a pandas DataFrame (the provenance manifest)."""
        import pandas as pd

        return pd.DataFrame([asdict(e) for e in self._e.values()]).set_index("name").sort_index()


def default_table() -> EnergyTable:
    return EnergyTable()


def nand2_area_um2(transistors: int, table: EnergyTable, node_nm: float, vdd: float = 0.9) -> float:
    """Area of a synthesised block from its CMOS transistor count: NAND2 equivalents times the NAND2 area."""
    return transistors / table.value("area.transistors_per_nand2", node_nm, vdd) * table.value("area.nand2", node_nm,
                                                                                               vdd)
