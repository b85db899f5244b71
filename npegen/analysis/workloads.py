"""Workloads for the estimator: layers as GEMMs, with their precision and nonlinearity counts.

Every layer is reduced to the GEMM ``out[M, N] += in[M, K] * W[K, N]`` that a MAC array computes:

* convolution (MAESTRO N, K, C, Y, X, R, S; Y and X the *output* size): ``M = N*Y*X``, ``N = K``,
  ``K = C*R*S`` (dense) or ``R*S`` with ``groups = C`` (depthwise: one filter per channel);
* fully connected / linear on T tokens: ``M = T``, ``N = out``, ``K = in``;
* an RNN cell step is its gate GEMM (``M = batch``, ``N = gates*hidden``, ``K = in + hidden``) repeated
  ``steps`` times, with ``nonlin`` activations per step (LSTM: 3 sigmoid + 2 tanh per cell; GRU: 2 + 1).

MACs = ``repeat * groups * M * N * K`` (for depthwise ``N`` is 1 per group).

Built-in workloads (ids as in the estimator reference, all in :data:`WORKLOADS`, built by :func:`get_workload`):

* ``xrbench.<model>``: the 12 XRBench models (:func:`xrbench_model`, shapes shipped as package data), with
  the scenarios of :func:`xrbench_scenarios` and their loads (:func:`scenario_load_gmacs`);
* ``xr.cls_resnet18_cifar``, ``xr.vio_ulvio``, ``xr.cls_effnet_b0``, ``xr.gaze_lle``: XR-NPE workloads;
* ``rnn.kws_{lstm,gru}_{s,m,l}``, ``rnn.kws_basic_lstm_s``, ``rnn.ptb_lstm_{s,m,l}``: RNN presets for the
  ramp-ADC crossbar;
* ``llm.llama32_1b.decode`` / ``.prefill``: LLaMA-3.2-1B on the ternary datapath.

:func:`layer_adaptive` applies the XR-NPE layer-adaptive mixed-precision policy to any workload;
:func:`workload_table` summarises the registry (the ``npegen workloads`` CLI).
"""

from __future__ import annotations

import functools
import importlib.resources as resources
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import TYPE_CHECKING

import pandas as pd

from ..models import formats as F
from ..models._checks import check_int

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "Layer",
    "Workload",
    "PRECISIONS",
    "precisions",
    "is_precision",
    "is_format_precision",
    "register_precision",
    "XRBENCH_MODELS",
    "XRBENCH_SOURCE",
    "xrbench_data_path",
    "xrbench_model",
    "xrbench_scenarios",
    "scenario_load_gmacs",
    "resnet18_cifar",
    "ulvio",
    "effnet_b0",
    "gaze_lle",
    "kws_lstm",
    "kws_gru",
    "ptb_lstm",
    "llama32_1b_decode",
    "llama32_1b_prefill",
    "layer_adaptive",
    "WORKLOADS",
    "get_workload",
    "workload_table",
]

#: Precisions of a layer's MACs: a named number format (a SIMD MAC mode, ``int8`` for INT MAC lanes,
#: :func:`npegen.models.formats.names`), the ternary datapath and the analog crossbar. Any ``posit<n>_<es>`` /
#: ``int<n>`` spec works too, and an estimator engine type adds its own (:func:`register_precision`).
PRECISIONS = (*F.names(), "ternary", "analog")
_REGISTERED: list[str] = []


def register_precision(name: str) -> None:
    """Make ``name`` a valid layer precision (an estimator engine type's own, e.g. ``"ternary"``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a precision is an identifier, not {name!r}")
    if name not in PRECISIONS and name not in _REGISTERED:
        _REGISTERED.append(name)


def precisions() -> tuple[str, ...]:
    """The named layer precisions: :data:`PRECISIONS` and those engines registered."""
    return PRECISIONS + tuple(_REGISTERED)


def is_format_precision(value: object) -> bool:
    """Whether ``value`` names a number format (a MAC layer's precision, not ``"ternary"``/``"analog"``)."""
    try:
        F.parse(value)
    except (TypeError, ValueError):
        return False
    return True


def is_precision(value: object) -> bool:
    """Whether ``value`` is a layer precision: one of :func:`precisions` or a format spec ``parse`` accepts."""
    if not isinstance(value, str):
        return False
    if value in PRECISIONS or value in _REGISTERED or is_format_precision(value):
        return True
    from . import engines  # noqa: F401 - registering the engine types registers their precisions

    return value in _REGISTERED


@dataclass(frozen=True)
class Layer:
    """One layer as a GEMM (see the module docstring).

    Parameters
    ----------
    name : str
    m, n, k : int
        GEMM sizes (>= 1): rows of the output (pixels x batch, or tokens), output channels, reduction length.
    groups : int
        Independent GEMMs of this size (depthwise convolution: the channel count). Default 1.
    repeat : int
        Times the layer runs per inference (RNN steps, decode tokens). Default 1.
    precision : str
        A layer precision (:func:`is_precision`); the estimator runs the layer on the design's first engine that
        serves it.
    nonlin : int
        Nonlinear activations per run (sigmoid/tanh through an ADC or a digital unit). Default 0.
    kind : str
        ``"conv"``, ``"dwconv"``, ``"linear"``, ``"rnn"``, ``"attention"`` or ``"head"`` (for reports).
    weight_bits : float, optional
        Stored bits per weight (default: from the precision; ternary defaults to Sherry 1.25 + scales).
    inputs : int, optional
        Distinct input activations of one run (all groups); default ``groups * m * k``, which for a
        convolution counts every input once per filter tap (the im2col size, an upper bound).
    """

    name: str
    m: int
    n: int
    k: int
    groups: int = 1
    repeat: int = 1
    precision: str = "posit8_0"
    nonlin: int = 0
    kind: str = "linear"
    weight_bits: float | None = None
    inputs: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"layer name must be a non-empty string, not {self.name!r}")
        for f in ("m", "n", "k", "groups", "repeat"):
            check_int(f, getattr(self, f), 1, 1 << 40, context=f" (layer {self.name!r})")
        check_int("nonlin", self.nonlin, 0, 1 << 40, context=f" (layer {self.name!r})")
        if self.inputs is not None:
            check_int("inputs", self.inputs, 1, 1 << 40, context=f" (layer {self.name!r})")
        if not is_precision(self.precision):
            raise ValueError(f"layer {self.name!r}: precision must be one of {precisions()} (or a posit<n>_<es> / "
                             f"int<n> spec), not {self.precision!r}")
        if self.weight_bits is not None and not (isinstance(self.weight_bits, (int, float))
                                                 and 0 < self.weight_bits <= 64):
            raise ValueError(f"layer {self.name!r}: weight_bits must be in (0, 64], not {self.weight_bits!r}")

    @property
    def macs(self) -> int:
        return self.repeat * self.groups * self.m * self.n * self.k

    @property
    def weights(self) -> int:
        """Distinct weights (read once per run when they do not stay on chip)."""
        return self.groups * self.n * self.k

    @property
    def input_count(self) -> int:
        """Distinct input activations of one run (``inputs``, default ``groups * m * k``)."""
        return self.inputs if self.inputs is not None else self.groups * self.m * self.k

    def with_precision(self, precision: str) -> Layer:
        return replace(self, precision=precision)


@dataclass(frozen=True)
class Workload:
    """A named list of layers, with what it is measured against.

    Parameters
    ----------
    name : str
    layers : tuple of Layer
    unit : str
        What one run is: ``"frame"``, ``"token"``, ``"sequence"`` or ``"inference"``.
    target_rate : float, optional
        Required runs per second (XRBench frame rate), if any.
    source : str
        Where the shapes come from.
    assumptions : str
        What was assumed to get them.
    """

    name: str
    layers: tuple[Layer, ...]
    unit: str = "inference"
    target_rate: float | None = None
    source: str = ""
    assumptions: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers or not all(isinstance(ly, Layer) for ly in layers):
            raise TypeError(f"workload {self.name!r} needs a non-empty sequence of Layer, not {self.layers!r}")
        object.__setattr__(self, "layers", layers)
        if self.target_rate is not None and not self.target_rate > 0:
            raise ValueError(f"workload {self.name!r}: target_rate must be > 0, not {self.target_rate!r}")

    @property
    def macs(self) -> int:
        return sum(ly.macs for ly in self.layers)

    @property
    def weights(self) -> int:
        return sum(ly.weights for ly in self.layers)

    def with_precision(self, precision: str) -> Workload:
        return replace(self, layers=tuple(ly.with_precision(precision) for ly in self.layers))


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _check_precision(what: str, value: object) -> str:
    """``value`` if it is a layer precision (:func:`is_precision`; ``TypeError`` if not a string, else
    ``ValueError``)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {precisions()}, not {value!r}")
    if not is_precision(value):
        raise ValueError(f"{what} must be one of {precisions()} (or a posit<n>_<es> / int<n> spec), not {value!r}")
    return value


def _conv(name: str, cin: int, cout: int, oh: int, ow: int, r: int, *, s: int | None = None,
          depthwise: bool = False, precision: str, nonlin: int = 0) -> Layer:
    """A 2-D convolution with output size ``oh x ow`` as a GEMM (depthwise: ``cin`` groups of one filter)."""
    s = r if s is None else s
    # distinct inputs ~ cin x the output grid (exact for stride 1; the im2col default would count r*s times)
    if depthwise:
        return Layer(name, oh * ow, 1, r * s, groups=cin, precision=precision, nonlin=nonlin, kind="dwconv",
                     inputs=cin * oh * ow)
    return Layer(name, oh * ow, cout, cin * r * s, precision=precision, nonlin=nonlin, kind="conv",
                 inputs=cin * oh * ow)


def _conv_out(size: int, k: int, stride: int) -> int:
    """Output size of a convolution with "same" padding ``(k - 1) // 2``."""
    return (size + 2 * ((k - 1) // 2) - k) // stride + 1


# ---------------------------------------------------------------------------------------------------------------
# XRBench

#: Where the XRBench shapes come from (the JSON in ``npegen/analysis/data`` was extracted from these files).
XRBENCH_SOURCE = ("XRBench/XRBench-MLSys2023@89156663be7a1afb97749e1a6894dedcad78e060:"
                  "XRbench_evaluation/usage_scenarios/*.m (Kwon et al., MLSys 2023, arXiv 2211.08675; MIT)")

#: The 12 XRBench models in ``xrbench_layers.json`` (registered as ``xrbench.<model>``).
XRBENCH_MODELS = (
    "KD_res8_narrow", "ASR_EM_24L", "SS_HRViT_b1", "DE_midas_v21_small", "PD_Plane_RCNN_Quarter",
    "OD_D2go_FasterRCNN", "HT_hand_graph_cnn_half", "ES_RITNet", "GE_FBNet_C", "D2go_FastRCNN",
    "DR_RGBd_200", "AS_ED_TCN",
)

_XRBENCH_OVERCOUNT = ("SS_HRViT_b1", "ASR_EM_24L")


def xrbench_data_path() -> Traversable:
    """The packaged ``xrbench_layers.json`` as an :mod:`importlib.resources` traversable.

    Returns
    -------
    importlib.resources.abc.Traversable
        ``files("npegen.analysis") / "data" / "xrbench_layers.json"`` (never a path outside the package).
    """
    return resources.files("npegen.analysis") / "data" / "xrbench_layers.json"


@functools.lru_cache(maxsize=1)
def _xrbench_json() -> dict:
    return json.loads(xrbench_data_path().read_text(encoding="utf-8"))


def _xrbench_depthwise(dims: list[dict]) -> list[bool]:
    """Which layers are depthwise convolutions written as dense ones (the rule of ``data/README.md``).

    A layer is depthwise when K == C and R > 1, the previous layer is a 1x1 expansion (R = 1, its K = this C,
    its C < this C) and the next layer is a 1x1 projection (R = 1, its C = this K).
    """
    flags = []
    for i, d in enumerate(dims):
        prev = dims[i - 1] if i > 0 else None
        nxt = dims[i + 1] if i + 1 < len(dims) else None
        flags.append(d["K"] == d["C"] and d["R"] > 1
                     and prev is not None and prev["R"] == 1 and prev["K"] == d["C"] and prev["C"] < d["C"]
                     and nxt is not None and nxt["R"] == 1 and nxt["C"] == d["K"])
    return flags


def _check_xrbench_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"XRBench model name must be a string, not {name!r}")
    if name not in XRBENCH_MODELS:
        raise ValueError(f"unknown XRBench model {name!r}; choose from {', '.join(XRBENCH_MODELS)}")
    return name


def xrbench_scenarios() -> dict[str, list[tuple[str, float, float, tuple[str, ...]]]]:
    """The seven XRBench usage scenarios.

    Returns
    -------
    dict
        Scenario name -> list of ``(model, fps, probability, dependencies)``. ``probability`` is 1.0 unless the
        scenario file states one (ASR_EM_24L: 0.5 in AR_Assistant, 0.2 in outdoor_activity_A/B);
        ``dependencies`` are the models whose output the model waits for (KD -> ASR, ES -> GE cascades).
    """
    return {sc: [(str(m), float(fps), float(p), tuple(deps)) for m, fps, deps, p in entries]
            for sc, entries in _xrbench_json()["scenarios"].items()}


def scenario_load_gmacs(name: str, weighted: bool = True) -> float:
    """Load of an XRBench scenario in GMAC/s (depthwise-corrected MACs).

    Parameters
    ----------
    name : str
        A key of :func:`xrbench_scenarios`.
    weighted : bool
        Weight each model by its probability (default); ``False`` counts every model as always running.

    Returns
    -------
    float
        ``sum(macs * fps * probability) / 1e9`` over the scenario's models.

    Raises
    ------
    TypeError
        ``name`` not a string or ``weighted`` not a bool.
    ValueError
        Unknown scenario.
    """
    scenarios = xrbench_scenarios()
    if not isinstance(name, str):
        raise TypeError(f"scenario name must be a string, not {name!r}")
    if name not in scenarios:
        raise ValueError(f"unknown XRBench scenario {name!r}; choose from {', '.join(scenarios)}")
    if not isinstance(weighted, bool):
        raise TypeError(f"weighted must be a bool, not {weighted!r}")
    return sum(xrbench_model(m).macs * fps * (p if weighted else 1.0) for m, fps, p, _ in scenarios[name]) / 1e9


def xrbench_model(name: str, precision: str = "posit8_0", *, scenario: str | None = None) -> Workload:
    """An XRBench model as a :class:`Workload` (one run = one frame).

    Every layer of the scenario files is a MAESTRO ``CONV``: ``M = N*Y*X``, ``N = K``, ``K = C*R*S``. Layers
    that the depthwise rule of ``data/README.md`` identifies (K == C, R > 1, between a 1x1 expansion and a 1x1
    projection) become ``kind="dwconv"`` with ``groups = C``, ``n = 1``, ``k = R*S``. Layers named ``fc*`` are
    ``kind="linear"``, the rest ``"conv"``.

    Parameters
    ----------
    name : str
        One of :data:`XRBENCH_MODELS`.
    precision : str
        Precision of every layer (one of :data:`PRECISIONS`). Default ``"posit8_0"``.
    scenario : str, optional
        Take ``target_rate`` from this scenario. By default it is the **lowest** frame rate over the scenarios
        that run the model (HT_hand_graph_cnn_half: 30, not 45; OD_D2go_FasterRCNN: 10, not 30).

    Returns
    -------
    Workload
        Named ``"xrbench.<name>"``, unit ``"frame"``.

    Raises
    ------
    TypeError, ValueError
        Unknown model, precision or scenario, or a scenario that does not run the model.
    """
    name = _check_xrbench_name(name)
    precision = _check_precision("precision", precision)
    entries = _xrbench_json()["nets"][name]
    dw = _xrbench_depthwise([d for _, d in entries])
    layers = []
    for (lid, d), is_dw in zip(entries, dw, strict=True):
        m = d["N"] * d["Y"] * d["X"]
        if is_dw:
            layers.append(Layer(lid, m, 1, d["R"] * d["S"], groups=d["C"], precision=precision, kind="dwconv",
                                inputs=d["C"] * m))
        else:
            kind = "linear" if lid.startswith("fc") else "conv"
            # distinct inputs ~ C x the output grid (exact for stride 1): not the im2col size
            layers.append(Layer(lid, m, d["K"], d["C"] * d["R"] * d["S"], precision=precision, kind=kind,
                                inputs=d["C"] * m))
    rates = {sc: fps for sc, ent in xrbench_scenarios().items() for m, fps, _, _ in ent if m == name}
    if scenario is None:
        rate = min(rates.values())
        rate_note = (f"target_rate {rate:g} fps = lowest over scenarios "
                     f"({', '.join(f'{sc} {fps:g}' for sc, fps in rates.items())})")
    else:
        if scenario not in rates:
            raise ValueError(f"scenario must be one that runs {name!r} ({', '.join(rates)}), not {scenario!r}")
        rate = rates[scenario]
        rate_note = f"target_rate {rate:g} fps from scenario {scenario}"
    n_dw = sum(dw)
    notes = [
        "MAESTRO CONV dims (Y, X output sizes) mapped to GEMMs M=N*Y*X, N=K, K=C*R*S.",
        f"Depthwise correction (data/README.md rule: K==C, R>1, between a 1x1 expansion and a 1x1 projection) "
        f"applied to {n_dw} layer(s): groups=C, n=1, k=R*S.",
        rate_note + ".",
        "Activations, pooling and normalisation are not counted (no nonlinearity counts in the source).",
    ]
    tags = ["xrbench", "verified"]
    if name in _XRBENCH_OVERCOUNT:
        notes.append("Probable overcount: attention products or depthwise terms may be encoded as dense convs "
                     "that the depthwise rule does not catch; review before relying on the total.")
        tags.append("probable_overcount")
    else:
        notes.append("SS_HRViT_b1 and ASR_EM_24L (not this model) are probable overcounts.")
    return Workload(f"xrbench.{name}", tuple(layers), unit="frame", target_rate=float(rate), source=XRBENCH_SOURCE,
                    assumptions=" ".join(notes), tags=tuple(tags))


# ---------------------------------------------------------------------------------------------------------------
# XR-NPE workloads


def resnet18_cifar(precision: str = "posit8_0") -> Workload:
    """ResNet-18, CIFAR-10 variant (``xr.cls_resnet18_cifar``): 555.4 M MACs, 11.2 M weights.

    3x3 stem with 64 channels on the 32x32 input and no max-pool; four stages of two BasicBlocks with
    [64, 128, 256, 512] channels, stride 2 in the first block of stages 2-4 with a 1x1 downsample
    convolution; global average pool; FC 512 -> 10.

    Parameters
    ----------
    precision : str
        Precision of every layer. Default ``"posit8_0"``.
    """
    precision = _check_precision("precision", precision)
    layers = [_conv("conv1", 3, 64, 32, 32, 3, precision=precision)]
    cin, size = 64, 32
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            size = size // stride
            pre = f"layer{stage}.{block}"
            layers.append(_conv(f"{pre}.conv1", cin, cout, size, size, 3, precision=precision))
            layers.append(_conv(f"{pre}.conv2", cout, cout, size, size, 3, precision=precision))
            if stride != 1 or cin != cout:
                layers.append(_conv(f"{pre}.downsample", cin, cout, size, size, 1, precision=precision))
            cin = cout
    layers.append(Layer("fc", 1, 10, 512, precision=precision, kind="head"))
    return Workload(
        "xr.cls_resnet18_cifar", tuple(layers), unit="inference",
        source="He et al., arXiv 1512.03385, CIFAR-10 variant (3x3 stem, no max-pool); XR-NPE CIFAR-10 workload "
               "(mukullokhande99/XR-NPE); estimator.md 2.2",
        assumptions="BatchNorm folded, ReLU, residual adds and pooling not counted.",
        tags=("xr-npe", "verified"))


#: UL-VIO visual encoder convolutions: (name, in, out, kernel, stride), from ``ULVIO.py`` ``VisualEncoderLatency``.
_ULVIO_VISUAL = (
    ("conv1", 6, 8, 5, 2), ("conv2", 8, 16, 3, 2), ("conv3", 16, 64, 5, 2), ("conv4", 64, 64, 3, 2),
    ("conv4_1", 64, 64, 3, 1), ("conv5", 64, 192, 3, 2), ("conv5_1", 192, 64, 3, 1), ("conv6", 64, 378, 3, 2),
)


def ulvio(precision: str = "posit8_0") -> Workload:
    """UL-VIO (ECCV 2024) per frame pair (``xr.vio_ulvio``): 174.76 M MACs, 0.89 M weights.

    * Visual encoder on the two stacked RGB frames (6 x 256 x 512): eight "same"-padded convolutions
      (:data:`_ULVIO_VISUAL`) down to 378 x 4 x 8, global average pool, linear 378 -> 378 (174.36 M MACs).
    * Inertial encoder on one 11-sample IMU window (6 channels): three conv1d (k = 3, 6 -> 32 -> 64 -> 64)
      and a linear 64*11 -> 128 (0.30 M MACs).
    * Pose MLP on the 378 + 128 fused features: 506 -> 128 -> 128, regressor 128 -> 128 -> 6 (0.10 M MACs).

    Parameters
    ----------
    precision : str
        Precision of every layer. Default ``"posit8_0"``.
    """
    precision = _check_precision("precision", precision)
    layers = []
    h, w = 256, 512
    for name, cin, cout, k, stride in _ULVIO_VISUAL:
        h, w = _conv_out(h, k, stride), _conv_out(w, k, stride)
        layers.append(_conv(f"visual.{name}", cin, cout, h, w, k, precision=precision))
    layers.append(Layer("visual.head", 1, 378, 378, precision=precision))
    imu_len = 11
    for name, cin, cout in (("imu.conv1", 6, 32), ("imu.conv2", 32, 64), ("imu.conv3", 64, 64)):
        layers.append(Layer(name, imu_len, cout, cin * 3, precision=precision, kind="conv"))
    layers.append(Layer("imu.proj", 1, 128, 64 * imu_len, precision=precision))
    for name, fin, fout in (("pose.fc1", 378 + 128, 128), ("pose.fc2", 128, 128),
                            ("pose.regressor1", 128, 128), ("pose.regressor2", 128, 6)):
        layers.append(Layer(name, 1, fout, fin, precision=precision, kind="head" if fout == 6 else "linear"))
    return Workload(
        "xr.vio_ulvio", tuple(layers), unit="frame", target_rate=10.0,
        source="UL-VIO (ECCV 2024), jp4327/ulvio@086819f5bb312f3edf8e1e81e2cb4996f46b45c7: ULVIO.py "
               "(VisualEncoderLatency, InertialEncoder, PoseMLP), params.py (256x512, visual_f_len 378, "
               "imu_f_len 128, mlp_hidden 128); estimator.md 2.2",
        assumptions="Layer shapes reconstructed from the model code; ConvLayer (layers.py, not in the repository) "
                    "assumed to pad (k-1)//2, giving 128x256, 64x128, 32x64, 16x32, 16x32, 8x16, 8x16, 4x8 outputs. "
                    "Totals (visual 174.36 M, IMU 0.30 M, pose 0.10 M) match estimator.md to 0.1 %. BatchNorm "
                    "folded; LeakyReLU and pooling not counted. KITTI at 10 Hz.",
        tags=("xr-npe", "verified"))


#: EfficientNet-B0 stages: (expand ratio, kernel, stride, in, out, repeats), Tan & Le 2019 Table 1.
_EFFNET_B0 = (
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
)


def effnet_b0(precision: str = "posit8_0", resolution: int = 224) -> Workload:
    """EfficientNet-B0 (``xr.cls_effnet_b0``): about 0.39 G MACs and 5.3 M weights at 224 x 224.

    Stem 3x3/2 (32 ch), the seven MBConv stages of :data:`_EFFNET_B0` (1x1 expansion, depthwise kxk as
    ``groups``, squeeze-excitation with ``in/4`` channels as two linears, 1x1 projection), head 1x1 320 -> 1280,
    average pool, FC 1280 -> 1000. ``nonlin`` counts the swish (one sigmoid each) and SE sigmoid activations.

    Parameters
    ----------
    precision : str
        Precision of every layer. Default ``"posit8_0"``.
    resolution : int
        Input size (square). XR-NPE trains on CIFAR-10; its input resolution is unconfirmed, so 224 is assumed.
    """
    precision = _check_precision("precision", precision)
    resolution = check_int("resolution", resolution, 32, 4096)
    size = _conv_out(resolution, 3, 2)
    layers = [_conv("stem", 3, 32, size, size, 3, precision=precision, nonlin=32 * size * size)]
    idx = 0
    for expand, k, stride, cin, cout, repeats in _EFFNET_B0:
        for r in range(repeats):
            bin_ = cin if r == 0 else cout
            s = stride if r == 0 else 1
            mid = bin_ * expand
            pre = f"blocks.{idx}"
            if expand != 1:
                layers.append(_conv(f"{pre}.expand", bin_, mid, size, size, 1, precision=precision,
                                    nonlin=mid * size * size))
            size = _conv_out(size, k, s)
            layers.append(_conv(f"{pre}.dw", mid, mid, size, size, k, depthwise=True, precision=precision,
                                nonlin=mid * size * size))
            se = max(1, bin_ // 4)
            layers.append(Layer(f"{pre}.se_reduce", 1, se, mid, precision=precision, nonlin=se))
            layers.append(Layer(f"{pre}.se_expand", 1, mid, se, precision=precision, nonlin=mid))
            layers.append(_conv(f"{pre}.project", mid, cout, size, size, 1, precision=precision))
            idx += 1
    layers.append(_conv("head", 320, 1280, size, size, 1, precision=precision, nonlin=1280 * size * size))
    layers.append(Layer("fc", 1, 1000, 1280, precision=precision, kind="head"))
    return Workload(
        "xr.cls_effnet_b0", tuple(layers), unit="inference",
        source="Tan & Le, EfficientNet, arXiv 1905.11946 (B0 baseline, Table 1); estimator.md 2.2",
        assumptions=f"Standard ImageNet B0 at {resolution}x{resolution} with the 1000-way classifier (XR-NPE's "
                    "CIFAR-10 input size and head are unconfirmed); 'same' padding; SE on in/4 channels; BatchNorm "
                    "folded; swish counted as one sigmoid per element.",
        tags=("xr-npe", "assumed"))


def gaze_lle(precision: str = "posit8_0") -> Workload:
    """Gaze-LLE backbone (``xr.gaze_lle``): DINOv2 ViT-L/14 at 448 x 448, about 361 G MACs.

    Patch embedding (14x14/14 convolution, 3 -> 1024) then 24 blocks of 1024 tokens, d = 1024, 16 heads of 64,
    MLP 4096: qkv, QK^T and AV (``kind="attention"``, one group per head), output projection, fc1, fc2. The
    gaze decoder is not counted. ``nonlin`` counts the softmax exponentials and the GELUs. The ``weights`` of
    the attention layers are the K and V activations (50 M), so the workload's ``weights`` exceed the 302 M
    parameters.

    Parameters
    ----------
    precision : str
        Precision of every layer. Default ``"posit8_0"``.
    """
    precision = _check_precision("precision", precision)
    t, d, heads, hd, mlp = 1024, 1024, 16, 64, 4096
    layers = [_conv("patch_embed", 3, d, 32, 32, 14, precision=precision)]
    for i in range(24):
        p = f"blocks.{i}"
        layers += [
            Layer(f"{p}.qkv", t, 3 * d, d, precision=precision),
            Layer(f"{p}.qk", t, t, hd, groups=heads, precision=precision, nonlin=heads * t * t, kind="attention"),
            Layer(f"{p}.av", t, hd, t, groups=heads, precision=precision, kind="attention"),
            Layer(f"{p}.proj", t, d, d, precision=precision),
            Layer(f"{p}.fc1", t, mlp, d, precision=precision, nonlin=t * mlp),
            Layer(f"{p}.fc2", t, d, mlp, precision=precision),
        ]
    return Workload(
        "xr.gaze_lle", tuple(layers), unit="frame",
        source="Gaze-LLE (DINOv2 ViT-L/14 backbone at 448); estimator.md 2.2",
        assumptions="1024 patch tokens (the CLS token is not counted); decoder not counted; LayerNorm, softmax "
                    "normalisation and residual adds not counted. Far beyond an XR budget.",
        tags=("xr-npe", "assumed"))


# ---------------------------------------------------------------------------------------------------------------
# RNN presets (ramp-ADC crossbar)

_KWS_SOURCE = ("Zhang et al., Hello Edge, arXiv 1711.07128; ARM-software/ML-KWS-for-MCU train_commands.txt "
               "(Google Speech Commands, 12 classes, 10 MFCC); estimator.md 2.3")


def _rnn_common(precision: str, fc_precision: str, inputs: int, classes: int) -> tuple[str, str, int, int]:
    return (_check_precision("precision", precision), _check_precision("fc_precision", fc_precision),
            check_int("inputs", inputs, 1, 1 << 20), check_int("classes", classes, 1, 1 << 20))


def kws_lstm(cells: int, proj: int | None, steps: int, *, inputs: int = 10, classes: int = 12,
             precision: str = "analog", fc_precision: str = "int8", name: str = "rnn.kws_lstm") -> Workload:
    """Keyword-spotting LSTM (Hello Edge), optionally with a projection layer, and a final FC.

    Per step: the gate GEMM ``N = 4*cells``, ``K = inputs + proj`` (``inputs + cells`` without projection),
    with ``(3 + 2) * cells`` nonlinearities, then the projection GEMM ``cells -> proj``; after the last step
    the FC ``proj -> classes`` (``kind="head"``, digital).

    Parameters
    ----------
    cells : int
        LSTM cells.
    proj : int or None
        Projection size (None: a basic LSTM whose output is the cell output).
    steps : int
        Time steps (feature frames) per inference.
    inputs, classes : int
        MFCC features per step (10) and output classes (12).
    precision : str
        Precision of the recurrent GEMMs (default ``"analog"``, the crossbar).
    fc_precision : str
        Precision of the final FC (default ``"int8"``, digital).
    name : str
        Workload name.
    """
    cells = check_int("cells", cells, 1, 1 << 20)
    proj = None if proj is None else check_int("proj", proj, 1, 1 << 20)
    steps = check_int("steps", steps, 1, 1 << 20)
    precision, fc_precision, inputs, classes = _rnn_common(precision, fc_precision, inputs, classes)
    out = cells if proj is None else proj
    layers = [Layer("lstm.gates", 1, 4 * cells, inputs + out, repeat=steps, precision=precision,
                    nonlin=5 * cells, kind="rnn")]
    if proj is not None:
        layers.append(Layer("lstm.proj", 1, proj, cells, repeat=steps, precision=precision, kind="rnn"))
    layers.append(Layer("fc", 1, classes, out, precision=fc_precision, kind="head"))
    shape = f"{cells} cells" + ("" if proj is None else f", projection {proj}")
    return Workload(
        name, tuple(layers), unit="inference", source=_KWS_SOURCE,
        assumptions=f"LSTM ({shape}), {steps} steps, batch 1; gate GEMM K = inputs + recurrent output, "
                    f"N = 4*cells; nonlin per step = 3 sigmoid + 2 tanh per cell; FC on the last output only; "
                    "biases not counted.",
        tags=("rnn", "kws", "verified"))


def kws_gru(hidden: int, steps: int, *, inputs: int = 10, classes: int = 12, precision: str = "analog",
            fc_precision: str = "int8", name: str = "rnn.kws_gru") -> Workload:
    """Keyword-spotting GRU (Hello Edge) and a final FC.

    Per step: the gate GEMM ``N = 3*hidden``, ``K = inputs + hidden`` (input and recurrent halves counted as
    one GEMM) with ``(2 + 1) * hidden`` nonlinearities; after the last step the FC ``hidden -> classes``.

    Parameters
    ----------
    hidden : int
        GRU units.
    steps : int
        Time steps per inference.
    inputs, classes : int
        MFCC features per step (10) and output classes (12).
    precision, fc_precision : str
        Precision of the recurrent GEMM (default ``"analog"``) and of the FC (default ``"int8"``).
    name : str
        Workload name.
    """
    hidden = check_int("hidden", hidden, 1, 1 << 20)
    steps = check_int("steps", steps, 1, 1 << 20)
    precision, fc_precision, inputs, classes = _rnn_common(precision, fc_precision, inputs, classes)
    layers = (Layer("gru.gates", 1, 3 * hidden, inputs + hidden, repeat=steps, precision=precision,
                    nonlin=3 * hidden, kind="rnn"),
              Layer("fc", 1, classes, hidden, precision=fc_precision, kind="head"))
    return Workload(
        name, layers, unit="inference", source=_KWS_SOURCE,
        assumptions=f"GRU ({hidden} units), {steps} steps, batch 1; gate GEMM K = inputs + hidden, N = 3*hidden; "
                    "nonlin per step = 2 sigmoid + 1 tanh per unit; FC on the last output only; biases not counted.",
        tags=("rnn", "kws", "verified"))


def ptb_lstm(hidden: int, *, layers: int = 2, vocab: int = 10000, precision: str = "analog",
             head_precision: str = "int8", name: str = "rnn.ptb_lstm") -> Workload:
    """Word-level PTB language model (Zaremba et al. 2014): stacked LSTMs and a softmax over the vocabulary.

    One run is one token: the embedding lookup (size ``hidden``, no MACs), ``layers`` LSTM gate GEMMs
    (``K = 2*hidden``, ``N = 4*hidden``, ``5*hidden`` nonlinearities each) and the output projection
    ``hidden -> vocab`` (``kind="head"``; its softmax exponentials are not counted in ``nonlin``).

    Parameters
    ----------
    hidden : int
        Hidden (and embedding) size.
    layers : int
        LSTM layers (2).
    vocab : int
        Vocabulary size (10 000).
    precision, head_precision : str
        Precision of the recurrent GEMMs (default ``"analog"``) and of the output projection (default ``"int8"``).
    name : str
        Workload name.
    """
    hidden = check_int("hidden", hidden, 1, 1 << 20)
    n_layers = check_int("layers", layers, 1, 64)
    vocab = check_int("vocab", vocab, 1, 1 << 24)
    precision = _check_precision("precision", precision)
    head_precision = _check_precision("head_precision", head_precision)
    lys = [Layer(f"lstm{i}.gates", 1, 4 * hidden, 2 * hidden, precision=precision, nonlin=5 * hidden, kind="rnn")
           for i in range(n_layers)]
    lys.append(Layer("softmax", 1, vocab, hidden, precision=head_precision, kind="head"))
    return Workload(
        name, tuple(lys), unit="token",
        source="Zaremba et al., Recurrent Neural Network Regularization, arXiv 1409.2329; estimator.md 2.3",
        assumptions=f"{n_layers}-layer LSTM, hidden = embedding = {hidden}, vocabulary {vocab}; sizes assumed "
                    "(small/medium/large = 200/650/1500); embedding lookup has no MACs; biases and softmax "
                    "exponentials not counted.",
        tags=("rnn", "lm", "assumed"))


# ---------------------------------------------------------------------------------------------------------------
# LLaMA-3.2-1B (ternary datapath)

#: LLaMA-3.2-1B configuration (Hugging Face config.json; ternary.md section 8).
LLAMA32_1B = {"hidden": 2048, "intermediate": 8192, "layers": 16, "heads": 32, "kv_heads": 8, "head_dim": 64,
              "vocab": 128256}

_LLAMA_SOURCE = ("meta-llama/Llama-3.2-1B config.json (hidden 2048, intermediate 8192, 16 layers, 32 heads, "
                 "8 KV heads, head_dim 64, vocab 128256, tied embeddings); ternary.md 8, estimator.md 2.4")


def _llama_layers(tokens: int, keys: int, *, linear_precision: str, attn_precision: str, head_precision: str,
                  head_tokens: int, exps: int) -> tuple[Layer, ...]:
    """All layers for ``tokens`` query tokens that each attend to ``keys`` keys (an average when causal)."""
    c = LLAMA32_1B
    hid, inter, hd = c["hidden"], c["intermediate"], c["head_dim"]
    kv, rep = c["kv_heads"], c["heads"] // c["kv_heads"]
    layers: list[Layer] = []
    for i in range(c["layers"]):
        p = f"layers.{i}"

        def lin(n: str, out: int, inp: int, nonlin: int = 0, p: str = p) -> Layer:
            return Layer(f"{p}.{n}", tokens, out, inp, precision=linear_precision, nonlin=nonlin)

        layers += [
            lin("q", c["heads"] * hd, hid), lin("k", kv * hd, hid), lin("v", kv * hd, hid),
            Layer(f"{p}.qk", rep * tokens, keys, hd, groups=kv, precision=attn_precision, nonlin=exps,
                  kind="attention"),
            Layer(f"{p}.av", rep * tokens, hd, keys, groups=kv, precision=attn_precision, kind="attention"),
            lin("o", hid, c["heads"] * hd),
            lin("gate", inter, hid, nonlin=tokens * inter), lin("up", inter, hid), lin("down", hid, inter),
        ]
    layers.append(Layer("lm_head", head_tokens, c["vocab"], hid, precision=head_precision, kind="head"))
    return tuple(layers)


def llama32_1b_decode(ctx: int = 512, head_precision: str = "bf16", attn_precision: str = "bf16", *,
                      linear_precision: str = "ternary") -> Workload:
    """LLaMA-3.2-1B, one decode token at context length ``ctx`` (``llm.llama32_1b.decode``).

    Per layer: q, k, v, o, gate, up, down (``m = 1``, 60.8 M MACs) in ``linear_precision``, and the attention
    products with the KV cache in ``attn_precision``, written per KV head (grouped-query attention: the 4 query
    heads sharing a KV head are the GEMM rows): QK ``groups = 8, m = 4, n = ctx, k = 64`` and AV
    ``groups = 8, m = 4, n = 64, k = ctx``, so their ``weights`` are the K and V caches. Then the lm_head
    2048 -> 128256. Totals per token: linears 973,078,528 MACs, lm_head 262,668,288, attention
    ``2 * 16 * 32 * 64 * ctx`` (33.6 M at ctx 512).

    ``nonlin`` counts the SiLU of the gate projection (one sigmoid per element, on the ``gate`` layer) and the
    softmax exponentials (``heads * ctx``, on the ``qk`` layer).

    Parameters
    ----------
    ctx : int
        Context length (keys in the KV cache), >= 1. Default 512.
    head_precision, attn_precision : str
        Precision of the lm_head and of the attention products (default ``"bf16"``).
    linear_precision : str
        Precision of the seven linears (default ``"ternary"``).
    """
    ctx = check_int("ctx", ctx, 1, 1 << 20)
    layers = _llama_layers(
        1, ctx, linear_precision=_check_precision("linear_precision", linear_precision),
        attn_precision=_check_precision("attn_precision", attn_precision),
        head_precision=_check_precision("head_precision", head_precision), head_tokens=1,
        exps=LLAMA32_1B["heads"] * ctx)
    return Workload(
        "llm.llama32_1b.decode", layers, unit="token", source=_LLAMA_SOURCE,
        assumptions=f"Batch 1, context {ctx}; attention QK and AV per KV head with the 4 grouped query heads as "
                    "rows (weights = KV cache); RMSNorm, RoPE, softmax normalisation and residual adds not counted; "
                    "lm_head kept out of the ternary datapath.",
        tags=("llm", "ternary", "verified"))


def llama32_1b_prefill(prompt: int = 512, head_precision: str = "bf16", attn_precision: str = "bf16", *,
                       linear_precision: str = "ternary", logits: str = "all") -> Workload:
    """LLaMA-3.2-1B prefill of a ``prompt``-token sequence (``llm.llama32_1b.prefill``).

    The decode GEMMs with ``m = prompt`` tokens. Attention is causal: query ``i`` sees ``i + 1`` keys, i.e.
    ``P*(P+1)/2`` query-key pairs per head. It is written with the average ``ceil((P+1)/2)`` keys per query
    (``n`` of QK, ``k`` of AV), which is exact for odd ``P`` and ``1/(P+1)`` high for even ``P`` (0.2 % at 512).
    The softmax exponential count on ``qk`` is exact: ``heads * P*(P+1)/2``.

    Parameters
    ----------
    prompt : int
        Prompt tokens ``P`` >= 1. Default 512.
    head_precision, attn_precision, linear_precision : str
        As for :func:`llama32_1b_decode`.
    logits : {"all", "last"}
        Run the lm_head on every prompt token (default, as when scoring a sequence) or only on the last one (as
        a generation server does before the first decode step).
    """
    prompt = check_int("prompt", prompt, 1, 1 << 20)
    if logits not in ("all", "last"):
        raise ValueError(f"logits must be 'all' or 'last', not {logits!r}")
    keys = (prompt + 2) // 2  # ceil((P + 1) / 2)
    layers = _llama_layers(
        prompt, keys, linear_precision=_check_precision("linear_precision", linear_precision),
        attn_precision=_check_precision("attn_precision", attn_precision),
        head_precision=_check_precision("head_precision", head_precision),
        head_tokens=prompt if logits == "all" else 1, exps=LLAMA32_1B["heads"] * prompt * (prompt + 1) // 2)
    return Workload(
        "llm.llama32_1b.prefill", layers, unit="sequence", source=_LLAMA_SOURCE,
        assumptions=f"Batch 1, prompt {prompt} tokens, causal attention with {keys} keys per query on average "
                    f"(attention weights = half the KV cache); lm_head on {logits} token(s); RMSNorm, RoPE, softmax "
                    "normalisation and residual adds not counted.",
        tags=("llm", "ternary", "verified"))


# ---------------------------------------------------------------------------------------------------------------
# Mixed precision


def layer_adaptive(workload: Workload, *, wide: str = "posit16_1", narrow: str = "posit8_0", fraction: float = 0.25,
                   sensitivity: Mapping[str, float] | None = None) -> Workload:
    """XR-NPE layer-adaptive mixed precision: the most sensitive ``fraction`` of layers ``wide``, the rest ``narrow``.

    The number of wide layers is ``floor(fraction * len(layers) + 0.5)`` (rounded half up).

    Sensitivity proxy (when ``sensitivity`` is None): the first and the last layer rank first (they see the raw
    input and produce the output, and are the layers quantisation studies most often keep wide), then the
    layers with the fewest weights (least redundancy, and the cheapest to keep wide); ties keep layer order.
    With a ``sensitivity`` dict (layer name -> score, higher is more sensitive) the scored layers rank first by
    decreasing score, then the unscored ones in proxy order; equal scores keep proxy order.

    Parameters
    ----------
    workload : Workload
    wide, narrow : str
        Precisions (from :data:`PRECISIONS`) of the sensitive and of the other layers.
    fraction : float
        Share of layers that get ``wide``, in [0, 1].
    sensitivity : mapping of str to float, optional
        Per-layer scores overriding the proxy. Every key must name a layer of ``workload``.

    Returns
    -------
    Workload
        Named ``"<name>+adaptive"``, tagged ``"layer_adaptive"``; ``assumptions`` lists the wide layers.

    Raises
    ------
    TypeError
        ``workload`` not a Workload, ``fraction`` or a score not a real number, ``sensitivity`` not a mapping.
    ValueError
        ``fraction`` outside [0, 1], a NaN score, an unknown precision or a sensitivity key naming no layer.
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, not {workload!r}")
    wide = _check_precision("wide", wide)
    narrow = _check_precision("narrow", narrow)
    if isinstance(fraction, bool) or not isinstance(fraction, Real):
        raise TypeError(f"fraction must be a real number in [0, 1], not {fraction!r}")
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], not {fraction!r}")
    layers = workload.layers
    n = len(layers)
    n_wide = min(n, math.floor(float(fraction) * n + 0.5))
    proxy = sorted(range(n), key=lambda i: (0 if i in (0, n - 1) else 1, layers[i].weights, i))
    rank = {i: r for r, i in enumerate(proxy)}
    if sensitivity is None:
        order = proxy
        how = "proxy: first/last layer, then fewest weights"
    else:
        if not isinstance(sensitivity, Mapping):
            raise TypeError(f"sensitivity must be a mapping of layer name to score, not {sensitivity!r}")
        names = {ly.name for ly in layers}
        unknown = [k for k in sensitivity if k not in names]
        if unknown:
            raise ValueError(f"sensitivity names no layer of {workload.name!r}: {unknown!r}")
        for k, v in sensitivity.items():
            if isinstance(v, bool) or not isinstance(v, Real):
                raise TypeError(f"sensitivity[{k!r}] must be a real number, not {v!r}")
            if math.isnan(v):
                raise ValueError(f"sensitivity[{k!r}] must not be NaN, not {v!r}")

        def key(i: int) -> tuple:
            name = layers[i].name
            return (0, -float(sensitivity[name]), rank[i]) if name in sensitivity else (1, 0.0, rank[i])

        order = sorted(range(n), key=key)
        how = "sensitivity scores, then proxy"
    chosen = set(order[:n_wide])
    new = tuple(ly.with_precision(wide if i in chosen else narrow) for i, ly in enumerate(layers))
    wide_names = [layers[i].name for i in sorted(chosen)]
    shown = ", ".join(wide_names[:20]) + (", ..." if len(wide_names) > 20 else "")
    note = (f"Layer-adaptive precision ({how}): {n_wide}/{n} layers in {wide} ({shown or 'none'}), "
            f"the rest in {narrow}.")
    return replace(workload, name=f"{workload.name}+adaptive", layers=new,
                   assumptions=f"{workload.assumptions} {note}".strip(), tags=(*workload.tags, "layer_adaptive"))


# ---------------------------------------------------------------------------------------------------------------
# Registry

#: Built-in workloads: id -> factory with the default parameters.
WORKLOADS: dict[str, Callable[[], Workload]] = {
    "xr.cls_resnet18_cifar": resnet18_cifar,
    "xr.vio_ulvio": ulvio,
    "xr.cls_effnet_b0": effnet_b0,
    "xr.gaze_lle": gaze_lle,
    "rnn.kws_lstm_s": functools.partial(kws_lstm, 98, 144, 25, name="rnn.kws_lstm_s"),
    "rnn.kws_lstm_m": functools.partial(kws_lstm, 130, 280, 49, name="rnn.kws_lstm_m"),
    "rnn.kws_lstm_l": functools.partial(kws_lstm, 188, 500, 49, name="rnn.kws_lstm_l"),
    "rnn.kws_gru_s": functools.partial(kws_gru, 154, 25, name="rnn.kws_gru_s"),
    "rnn.kws_gru_m": functools.partial(kws_gru, 250, 49, name="rnn.kws_gru_m"),
    "rnn.kws_gru_l": functools.partial(kws_gru, 400, 49, name="rnn.kws_gru_l"),
    "rnn.kws_basic_lstm_s": functools.partial(kws_lstm, 118, None, 49, name="rnn.kws_basic_lstm_s"),
    "rnn.ptb_lstm_s": functools.partial(ptb_lstm, 200, name="rnn.ptb_lstm_s"),
    "rnn.ptb_lstm_m": functools.partial(ptb_lstm, 650, name="rnn.ptb_lstm_m"),
    "rnn.ptb_lstm_l": functools.partial(ptb_lstm, 1500, name="rnn.ptb_lstm_l"),
    "llm.llama32_1b.decode": llama32_1b_decode,
    "llm.llama32_1b.prefill": llama32_1b_prefill,
    **{f"xrbench.{m}": functools.partial(xrbench_model, m) for m in XRBENCH_MODELS},
}


def get_workload(name: str) -> Workload:
    """The built-in workload ``name`` (a key of :data:`WORKLOADS`) with its default parameters.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        Unknown name: ``"unknown workload 'x'; choose from ..."``.
    """
    if not isinstance(name, str):
        raise TypeError(f"workload name must be a string, not {name!r}")
    try:
        factory = WORKLOADS[name]
    except KeyError:
        others = [k for k in WORKLOADS if not k.startswith("xrbench.")]
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(others)}, "
                         f"xrbench.<{'|'.join(XRBENCH_MODELS)}>") from None
    return factory()


def workload_table(names: list[str] | None = None) -> pd.DataFrame:
    """One row per built-in workload (for the ``npegen workloads`` CLI).

    Parameters
    ----------
    names : list of str, optional
        Workload ids (default: all of :data:`WORKLOADS`, in registry order).

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``unit``, ``layers``, ``MMACs``, ``Mweights``, ``target_rate`` (NaN when none) and
        ``source``.
    """
    rows = []
    for key in WORKLOADS if names is None else names:
        w = get_workload(key)
        rows.append({"name": key, "unit": w.unit, "layers": len(w.layers), "MMACs": w.macs / 1e6,
                     "Mweights": w.weights / 1e6,
                     "target_rate": float("nan") if w.target_rate is None else w.target_rate, "source": w.source})
    return pd.DataFrame(rows, columns=["name", "unit", "layers", "MMACs", "Mweights", "target_rate", "source"])
