"""Block registry: how every tool reaches a block, written once.

One :class:`BlockSpec` per block names its design-point dataclass, its Amaranth component, its Verilog top
name, its cocotb verify function and quick tests, its command-line options, and how the estimator sees it (engine
kind, default workload, design). The CLI (``generate``, ``verify``, ``synth``, ``lint``, ``demo``, ``report``)
and the sweeps (:mod:`npegen.analysis.sweep`) read it; a new block is its four files plus one :func:`register`
call (README, "Adding a block")::

    from npegen import blocks
    blocks.register(blocks.BlockSpec("adder", "toy adder", AdderParams, Adder.from_params, lambda p: "adder",
                                     verify_adder))

Layering
--------
``models <- hw <- sim <- blocks``: a block's verify function runs its cocotb testbench, so this module sits above
:mod:`npegen.sim`. At import it reads only the design-point dataclasses of :mod:`npegen.models`; hw, sim and
:mod:`npegen.analysis.estimator` are imported *inside* the functions of its entries, so importing it is cheap and
creates no import cycle. :mod:`npegen.analysis` imports it only inside
functions (lazily); the CLI imports it at the top. Nothing here imports :mod:`npegen.cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["BlockSpec", "FormatUnitParams", "REGISTRY", "register", "unregister", "get", "names", "sweep_names",
           "quick_verify", "add_dataclass_options"]


def _dataclass_fields(cls) -> tuple[dataclasses.Field, ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.init)


def _hint(cls, f: dataclasses.Field):
    try:
        return typing.get_type_hints(cls).get(f.name)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: fall back to the default's type
        return None


def _option_type(cls, f: dataclasses.Field):
    """The ``type=`` of ``f``'s option: from its annotation (``int``, ``float``, ``str``, ``bool``, a ``Literal``
    of strings, optionally ``| None``), else from its default; ``str`` when neither says."""
    hint = _hint(cls, f)
    args = [a for a in typing.get_args(hint) if a is not type(None)] if hint is not None else []
    if hint in (int, float, str, bool):
        return hint
    if len(args) == 1 and args[0] in (int, float, str, bool):
        return args[0]
    if typing.get_origin(hint) is typing.Literal:
        return str
    default = f.default if f.default is not dataclasses.MISSING else None
    return type(default) if isinstance(default, (int, float, str, bool)) else str


def param_docs(cls) -> dict[str, str]:
    """``{field: description}`` from the numpydoc ``Parameters`` section of ``cls``'s docstring (roles and
    double backticks removed, one line each)."""
    import inspect
    import re

    doc = inspect.getdoc(cls) or ""
    m = re.search(r"^Parameters\n-+\n(.*?)(?=^\w[\w ]*\n-+\n|\Z)", doc, re.S | re.M)
    out: dict[str, list[str]] = {}
    cur = None
    for line in (m.group(1) if m else "").splitlines():
        head = re.match(r"^(\w+)\s*:", line)
        if head:
            cur = head.group(1)
            out[cur] = []
        elif cur is not None and line.startswith(" ") and line.strip():
            out[cur].append(line.strip())
        elif not line.strip() and cur is not None and out[cur]:
            cur = None  # the first paragraph only
    text = {k: re.sub(r":\w+:`~?([^`]+)`", r"\1", " ".join(v)).replace("``", "") for k, v in out.items()}
    return {k: v for k, v in text.items() if v}


def add_dataclass_options(parser: argparse.ArgumentParser, cls, title: str) -> None:
    """One ``--field-name`` option per init field of the dataclass ``cls``, in an argument group ``title``.

    The type comes from the annotation (or the default; a ``Literal`` gives the choices), the default from the
    field, the help from ``field(metadata={"help": ...})``, else from the field's entry in the numpydoc
    ``Parameters`` section of the class docstring (:func:`param_docs`), else the field's name; a ``bool`` field is
    ``--name/--no-name``.
    """
    g = parser.add_argument_group(title)
    docs = param_docs(cls)
    for f in _dataclass_fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        typ = _option_type(cls, f)
        text = f.metadata.get("help", docs.get(f.name, f.name.replace("_", " ")))
        text = text.replace("%", "%%")
        opt = "--" + f.name.replace("_", "-")
        if typ is bool:
            g.add_argument(opt, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                           help=f"{text} (default {default})")
            continue
        hint = _hint(cls, f)
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        g.add_argument(opt, dest=f.name, type=typ, default=default, choices=choices,
                       help=f"{text} (default {default})")


@dataclass(frozen=True)
class BlockSpec:
    """How every tool reaches one block.

    Parameters
    ----------
    name : str
        The block's name on the command line and in sweep files (``"int-mac"``).
    help : str
        One line for ``--help``.
    params_class : type
        The frozen dataclass of a design point (validates itself; has ``tag`` and ``latency``). Its init fields
        are the parameters a sweep may set.
    component : callable
        ``component(params)``: the Amaranth component of a design point.
    top : callable
        ``top(params)``: the Verilog module name of a design point.
    verify : callable
        ``verify(params, *, sim=, seed=, testcase=, quiet=, waves=, n_random=)``: run the cocotb testbench,
        return a :class:`npegen.sim.runner.SimResult`, raise ``SimulationError`` on a mismatch.
    quick_tests : str, optional
        Regular expression of the quick cocotb tests the demo and sweeps run (default: all).
    add_params : callable, optional
        ``add_params(parser)``: the design-point options; default :func:`add_dataclass_options` on
        ``params_class``.
    params : callable, optional
        ``params(namespace)``: the design point from parsed options; default ``params_class(**fields)``.
    from_mapping : callable, optional
        ``from_mapping(dict)``: the design point from a sweep point's generator parameters; default
        ``params_class(**dict)``.
    example : str
        Options of an example design point for ``--help`` (parsed by the tests).
    sweep : bool
        Whether sweeps accept the block.
    workload : str, optional
        Default workload of a sweep point (see ``npegen workloads``).
    engine : str, optional
        The kind of the estimator engine built from the block (a key of
        :data:`npegen.analysis.engines.ENGINE_TYPES`, registered with ``register_engine``). ``None``: the estimator
        does not know the block, and a sweep point reports synthesis (and verification) only.
    design : callable, optional
        ``design(params, count) -> npegen.analysis.estimator.Design``: the design a sweep point estimates; default
        the built-in design with the block's engine built by the engine type's ``from_params(params, count)``
        (``count`` units, or its default when ``None``).
    """

    name: str
    help: str
    params_class: type
    component: Callable[[object], object]
    top: Callable[[object], str]
    verify: Callable[..., object]
    quick_tests: str | None = None
    add_params: Callable[[argparse.ArgumentParser], None] | None = None
    params: Callable[[argparse.Namespace], object] | None = None
    from_mapping: Callable[[dict], object] | None = None
    example: str = ""
    sweep: bool = True
    workload: str | None = None
    engine: str | None = None
    design: Callable[[object, int | None], object] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.replace("-", "").isalnum():
            raise ValueError(f"a block name is letters, digits and '-', not {self.name!r}")
        if not dataclasses.is_dataclass(self.params_class):
            raise TypeError(f"block {self.name!r}: params_class must be a dataclass, not {self.params_class!r}")
        if self.design is None and self.engine is not None:
            object.__setattr__(self, "design", functools.partial(_engine_design, self.engine))

    @property
    def area_kind(self) -> str | None:
        """The key of the block's synthesised transistor count in ``Design.areas`` (its engine's ``area_kind``)."""
        if self.engine is None:
            return None
        from .analysis.engines import ENGINE_TYPES

        return ENGINE_TYPES[self.engine].area_kind

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the design-point fields (what a sweep may set besides the estimator's keys)."""
        return tuple(f.name for f in _dataclass_fields(self.params_class))

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Add the design-point options to ``parser``."""
        if self.add_params is not None:
            self.add_params(parser)
        else:
            add_dataclass_options(parser, self.params_class, f"{self.name} design point")

    def from_args(self, ns: argparse.Namespace):
        """The validated design point of parsed options (``TypeError``/``ValueError`` on a bad one)."""
        if self.params is not None:
            return self.params(ns)
        return self.params_class(**{n: getattr(ns, n) for n in self.parameters if hasattr(ns, n)})

    def defaults(self) -> argparse.Namespace:
        """The parsed default options (the default design point)."""
        p = argparse.ArgumentParser(add_help=False)
        self.add_options(p)
        return p.parse_args([])

    def new_params(self, gen: Mapping):
        """The validated design point of a sweep point's generator parameters."""
        return (self.from_mapping or (lambda d: self.params_class(**d)))(dict(gen))


#: The live registry, in registration order (the order of ``--help``, ``lint`` and ``report``). Change it only
#: through :func:`register` / :func:`unregister`.
REGISTRY: dict[str, BlockSpec] = {}


def register(spec: BlockSpec, *, replace: bool = False) -> BlockSpec:
    """Add ``spec``; a name already registered is a ``ValueError`` unless ``replace``."""
    if not isinstance(spec, BlockSpec):
        raise TypeError(f"register takes a BlockSpec, not {spec!r}")
    if spec.name in REGISTRY and not replace:
        raise ValueError(f"block {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a block (tests that register a throwaway block)."""
    REGISTRY.pop(name, None)


def get(name: str) -> BlockSpec:
    """The block called ``name``; a ``KeyError`` naming the registered blocks otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown block {name!r}; choose from {sorted(REGISTRY)}") from None


def names() -> tuple[str, ...]:
    """The registered blocks, in registration order."""
    return tuple(REGISTRY)


def sweep_names() -> tuple[str, ...]:
    """The blocks a sweep accepts."""
    return tuple(n for n, s in REGISTRY.items() if s.sweep)


def quick_verify(block: str, params) -> int:
    """Run ``block``'s quick cocotb tests on ``params`` (quietly); the number of tests passed. Module-level, so a
    sweep's worker processes can unpickle it."""
    spec = get(block)
    kw = {"testcase": spec.quick_tests} if spec.quick_tests else {}
    res = spec.verify(params, quiet=True, **kw)
    return res.tests - res.skipped


# ---- today's blocks -----------------------------------------------------------------------------------------


def _int_mac_component(params):
    from .hw.int_mac import IntMac

    return IntMac.from_params(params)


def _int_mac_verify(params, **kw):
    from .sim.tb_int_mac import verify_int_mac

    return verify_int_mac(params, **kw)


@dataclass(frozen=True)
class FormatUnitParams:
    """Design point of a format decoder or encoder (validated when the component is built)."""

    unit: str
    fmt: object
    frac_in: int | None = None
    scale_bits: int | None = None

    @property
    def tag(self) -> str:
        extra = "" if self.unit == "decoder" else f"_f{self.frac_in}_s{self.scale_bits}"
        return f"{self.fmt.name}{extra}"

    latency = 0


def _unit_add(unit: str):
    def add(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group(f"{unit} design point")
        g.add_argument("--format", default="posit8_0", metavar="NAME",
                       help="fp4_e2m1, posit4_1, posit8_0, posit16_1, ..., posit<n>_<es>, int<n> (default posit8_0)")
        if unit == "encoder":
            g.add_argument("--frac-in", type=int, default=None, help="fraction bits of the sig input")
            g.add_argument("--scale-bits", type=int, default=None, help="width of the signed scale input")
    return add


def _unit_params(unit: str):
    def params(a: argparse.Namespace):
        from .models.formats import parse

        fmt = parse(a.format)
        if unit == "decoder":
            return FormatUnitParams(unit, fmt)
        from .hw.formats import Encoder

        frac_in, scale_bits = Encoder.resolve(fmt, frac_in=a.frac_in, scale_bits=a.scale_bits)
        return FormatUnitParams(unit, fmt, frac_in, scale_bits)
    return params


def _unit_component(p: FormatUnitParams):
    from .hw.formats import Decoder, Encoder

    return Decoder(p.fmt) if p.unit == "decoder" else Encoder(p.fmt, frac_in=p.frac_in, scale_bits=p.scale_bits)


def _unit_verify(p: FormatUnitParams, *, n_random=None, **kw):
    from .sim.tb_formats import verify_formats

    return verify_formats(p.fmt, p.unit, frac_in=p.frac_in, scale_bits=p.scale_bits, **kw)


def _simd_add(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simd-mac design point")
    g.add_argument("--modes", default="fp4_e2m1,posit4_1,posit8_0,posit16_1",
                   help="comma-separated formats, one per mode (default fp4_e2m1,posit4_1,posit8_0,posit16_1)")
    g.add_argument("--word-bits", type=int, default=16, help="operand word width (default 16)")
    g.add_argument("--stages", type=int, default=2, help="pipeline depth = latency in cycles (default 2)")
    g.add_argument("--acc-guard", type=int, default=8, help="accumulator guard bits, 2**N products (default 8)")
    g.add_argument("--dot", action="store_true", help="sum the lanes of a beat into one accumulator")
    g.add_argument("--out-format", default=None, metavar="POSIT",
                   help="round results to this posit format (default: each mode's own format)")
    g.add_argument("--baseline", action="store_true", help="separate per-format MACs (the area baseline)")


def _simd_params(a: argparse.Namespace):
    from .models.simd_mac import SimdMacParams

    modes = tuple(m.strip() for m in a.modes.split(",") if m.strip()) if isinstance(a.modes, str) else a.modes
    return SimdMacParams(modes=modes, word_bits=a.word_bits, stages=a.stages, acc_guard=a.acc_guard,
                         dot=bool(a.dot), shared=not a.baseline, out_format=getattr(a, "out_format", None))


def _simd_from_mapping(gen: dict):
    from .models.simd_mac import SimdMacParams

    if isinstance(gen.get("modes"), str):
        gen["modes"] = tuple(m.strip() for m in gen["modes"].split(","))
    return SimdMacParams(**gen)


def _simd_component(p):
    from .hw.simd_mac import SimdMac

    return SimdMac.from_params(p)


def _simd_verify(p, **kw):
    from .sim.tb_simd_mac import verify_simd_mac

    return verify_simd_mac(p, **kw)


def _ternary_component(p):
    from .hw.ternary import TernaryEngine

    return TernaryEngine.from_params(p)


def _ternary_verify(p, *, n_random=None, **kw):
    from .sim.tb_ternary import verify_ternary

    return verify_ternary(p, **kw)


def _ramp_add(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ramp-adc design point")
    g.add_argument("--fn", default="sigmoid", help="sigmoid | tanh | hardsigmoid | gelu | silu (default sigmoid)")
    g.add_argument("--bits", type=int, default=5, help="output code bits N, 1..10 (default 5)")
    g.add_argument("--in-bits", type=int, default=10, help="signed input code width, 2..16 (default 10)")
    g.add_argument("--in-lsb", type=float, default=1 / 64, help="value of one input code step (default 1/64)")
    g.add_argument("--y-range", default=None, help="LO,HI output range (default: the function's natural range)")
    g.add_argument("--cols", type=int, default=8, help="columns converted in parallel, 1..256 (default 8)")
    g.add_argument("--ramp", default="rom", help="rom (threshold ROM) | accumulator (offset + step ROM)")
    g.add_argument("--column", default="latch", help="latch (shared counter/LUT) | counter (per column)")
    g.add_argument("--lut", default="auto", help="auto | yes | no: code lookup table (auto: only if non-monotone)")


def _ramp_params(a: argparse.Namespace):
    from .models.ramp_adc import RampAdcParams

    yr = getattr(a, "y_range", None)
    if yr is not None:
        try:
            lo, hi = (float(v) for v in str(yr).split(","))
        except ValueError:
            raise ValueError(f"--y-range must be LO,HI (two numbers), not {yr!r}") from None
        yr = (lo, hi)
    lut = {"auto": None, "yes": True, "no": False}.get(getattr(a, "lut", "auto"), "bad")
    if lut == "bad":
        raise ValueError(f"--lut must be auto, yes or no, not {a.lut!r}")
    return RampAdcParams(fn=a.fn, n_bits=a.bits, in_bits=a.in_bits, in_lsb=a.in_lsb, y_range=yr, lut=lut,
                         n_cols=a.cols, ramp=a.ramp, column=a.column)


def _ramp_component(p):
    from .hw.ramp_adc import RampAdc

    return RampAdc.from_params(p)


def _ramp_verify(p, *, n_random=None, **kw):
    from .sim.tb_ramp_adc import verify_ramp_adc

    return verify_ramp_adc(p, **kw)


def _engine_design(kind: str, p, count):
    """The built-in design with its ``kind`` engine built from design point ``p`` (``count`` units, default the
    engine type's default): :meth:`Engine.from_params <npegen.analysis.engines.Engine.from_params>`."""
    from .analysis.estimator import ENGINE_TYPES, default_design

    return default_design().with_engine(ENGINE_TYPES[kind].from_params(p, count))


def _builtin() -> None:
    from .models.int_mac import IntMacParams
    from .models.ramp_adc import RampAdcParams
    from .models.simd_mac import SimdMacParams
    from .models.ternary import TernaryParams

    register(BlockSpec("int-mac", "signed INT MAC lane (baseline)", IntMacParams, _int_mac_component,
                       lambda p: "int_mac", _int_mac_verify, example="--width 8 --acc-width 24",
                       workload="xr.cls_resnet18_cifar", engine="int_mac"))
    register(BlockSpec("simd-mac", "SIMD mixed-precision MAC engine (XR-NPE style)", SimdMacParams,
                       _simd_component, lambda p: "simd_mac", _simd_verify,
                       quick_tests="test_small_formats_all_pairs|test_dot_products_mixed|test_overflow_saturates|"
                                   "test_latency",
                       add_params=_simd_add, params=_simd_params, from_mapping=_simd_from_mapping,
                       example="--modes fp4_e2m1,posit8_0 --stages 3", workload="xr.cls_resnet18_cifar",
                       engine="simd"))
    register(BlockSpec("ternary", "ternary GEMV engine (Sherry 1.25-bit, I2_S, TL2)", TernaryParams,
                       _ternary_component, lambda p: "ternary", _ternary_verify,
                       example="--packing tl2 --lanes 6 --group-size 96",
                       workload="llm.llama32_1b.decode", engine="ternary"))
    register(BlockSpec("ramp-adc", "ramp-ADC nonlinearity (f(x) at the comparator flip)", RampAdcParams,
                       _ramp_component, lambda p: "ramp_adc", _ramp_verify, add_params=_ramp_add,
                       params=_ramp_params, example="--fn gelu --bits 5 --in-bits 8 --in-lsb 0.015625",
                       workload="rnn.kws_lstm_s", engine="crossbar"))
    for unit, text, example in (("decoder", "number-format decoder (code -> fields)", "--format posit16_1"),
                                ("encoder", "number-format encoder (fields -> code, RNE)",
                                 "--format posit12_3 --frac-in 20")):
        register(BlockSpec(unit, text, FormatUnitParams, _unit_component,
                           (lambda p, unit=unit: f"{unit}_{p.fmt.name}"), _unit_verify, add_params=_unit_add(unit),
                           params=_unit_params(unit), example=example, sweep=False))


_builtin()
