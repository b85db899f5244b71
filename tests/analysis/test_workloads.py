"""Built-in workloads: MAC totals against the reference tables, XRBench data and rules, layer-adaptive policy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import npegen
from npegen.analysis import workloads as wl
from npegen.analysis.workloads import (
    WORKLOADS,
    XRBENCH_MODELS,
    Layer,
    Workload,
    get_workload,
    layer_adaptive,
    llama32_1b_decode,
    llama32_1b_prefill,
    scenario_load_gmacs,
    workload_table,
    xrbench_data_path,
    xrbench_model,
    xrbench_scenarios,
)


def _raw() -> dict:
    return json.loads(xrbench_data_path().read_text(encoding="utf-8"))


def _macs(w: Workload, prefix: str = "", kind: str | None = None, precision: str | None = None) -> int:
    return sum(ly.macs for ly in w.layers if ly.name.startswith(prefix)
               and (kind is None or ly.kind == kind) and (precision is None or ly.precision == precision))


# ---------------------------------------------------------------------------------------------------- XRBench


def test_xrbench_data_is_package_data():
    pkg = Path(npegen.__file__).resolve().parent
    path = Path(str(xrbench_data_path())).resolve()
    assert path == pkg / "analysis" / "data" / "xrbench_layers.json"
    assert path.is_file()
    for other in ("XRBench-LICENSE", "README.md"):
        assert (path.parent / other).is_file()
    assert "MIT License" in (path.parent / "XRBench-LICENSE").read_text()
    assert "shared" not in Path(wl.__file__).read_text()


def test_xrbench_json_read_through_importlib_resources(monkeypatch):
    calls = []
    real = wl.resources.files

    def spy(package):
        calls.append(package)
        return real(package)

    monkeypatch.setattr(wl.resources, "files", spy)
    wl._xrbench_json.cache_clear()
    try:
        assert xrbench_model("KD_res8_narrow").macs == 6_756_780
    finally:
        wl._xrbench_json.cache_clear()
    assert calls == ["npegen.analysis"]


def test_xrbench_model_list_matches_json():
    raw = _raw()
    assert tuple(raw["nets"]) == XRBENCH_MODELS
    assert set(raw["summary"]) == set(XRBENCH_MODELS)


@pytest.mark.parametrize("model", XRBENCH_MODELS)
def test_xrbench_macs_match_summary(model):
    s = _raw()["summary"][model]
    w = xrbench_model(model)
    assert w.name == f"xrbench.{model}"
    assert w.unit == "frame"
    assert len(w.layers) == s["layers"]
    assert w.macs / 1e6 == pytest.approx(s["dw_corrected_MMAC"], rel=1e-9, abs=1e-6)
    assert w.weights / 1e6 == pytest.approx(s["corr_Mweights"], rel=1e-9, abs=1e-6)
    assert sum(ly.kind == "dwconv" for ly in w.layers) == s["dw_layers"]
    assert all(ly.precision == "posit8_0" for ly in w.layers)
    assert "89156663be7a1afb97749e1a6894dedcad78e060" in w.source
    assert "depthwise" in w.assumptions.lower() and "overcount" in w.assumptions


def test_xrbench_depthwise_correction_changes_exactly_these_models():
    expected = {"GE_FBNet_C": 18, "DE_midas_v21_small": 19, "OD_D2go_FasterRCNN": 29, "D2go_FastRCNN": 29}
    raw = _raw()
    for model in XRBENCH_MODELS:
        w = xrbench_model(model)
        dw = [ly for ly in w.layers if ly.kind == "dwconv"]
        assert len(dw) == expected.get(model, 0), model
        dims = dict(raw["nets"][model])
        for ly in dw:
            d = dims[ly.name]
            assert d["K"] == d["C"] and d["R"] > 1
            assert (ly.groups, ly.n, ly.k, ly.m) == (d["C"], 1, d["R"] * d["S"], d["N"] * d["Y"] * d["X"])
        raw_macs = sum(d["N"] * d["K"] * d["C"] * d["Y"] * d["X"] * d["R"] * d["S"] for d in dims.values())
        assert raw_macs / 1e6 == pytest.approx(raw["summary"][model]["raw_MMAC"], rel=1e-9)
        assert (w.macs < raw_macs) == (model in expected)


def test_xrbench_reference_totals():
    # estimator.md 2.1 (dw-corrected G MACs)
    for model, g in {"GE_FBNet_C": 0.171, "DE_midas_v21_small": 3.54, "OD_D2go_FasterRCNN": 0.582,
                     "ES_RITNet": 1.085, "HT_hand_graph_cnn_half": 4.167, "SS_HRViT_b1": 27.0,
                     "ASR_EM_24L": 9.66, "DR_RGBd_200": 19.1, "AS_ED_TCN": 0.372}.items():
        assert xrbench_model(model).macs / 1e9 == pytest.approx(g, rel=5e-3), model
    assert "probable_overcount" in xrbench_model("SS_HRViT_b1").tags
    assert "probable_overcount" not in xrbench_model("ES_RITNet").tags


def test_xrbench_target_rate_lowest_or_per_scenario():
    assert xrbench_model("HT_hand_graph_cnn_half").target_rate == 30.0
    assert xrbench_model("HT_hand_graph_cnn_half", scenario="AR_gaming").target_rate == 45.0
    assert xrbench_model("OD_D2go_FasterRCNN").target_rate == 10.0
    assert xrbench_model("OD_D2go_FasterRCNN", scenario="outdoor_activity_A").target_rate == 30.0
    assert xrbench_model("D2go_FastRCNN").target_rate == 30.0
    assert xrbench_model("KD_res8_narrow").target_rate == 3.0
    with pytest.raises(ValueError, match="'VR_gaming'"):
        xrbench_model("KD_res8_narrow", scenario="VR_gaming")


def test_xrbench_precision():
    w = xrbench_model("AS_ED_TCN", "fp4_e2m1")
    assert {ly.precision for ly in w.layers} == {"fp4_e2m1"}
    with pytest.raises(ValueError, match="'fp8'"):
        xrbench_model("AS_ED_TCN", "fp8")


def test_xrbench_scenarios():
    sc = xrbench_scenarios()
    assert len(sc) == 7
    asr = [e for e in sc["AR_Assistant"] if e[0] == "ASR_EM_24L"]
    assert asr == [("ASR_EM_24L", 3.0, 0.5, ("KD_res8_narrow",))]
    assert ("GE_FBNet_C", 60.0, 1.0, ("ES_RITNet",)) in sc["VR_gaming"]
    assert [e[2] for e in sc["outdoor_activity_B"] if e[0] == "ASR_EM_24L"] == [0.2]


@pytest.mark.parametrize(("scenario", "weighted", "unweighted"), [
    ("VR_gaming", 263, 263), ("AR_gaming", 425, 425), ("AR_Assistant", 528, 542),
    ("social_interactionA", 773, 773), ("social_interactionB", 86.5, 86.5),
    ("outdoor_activity_A", 294, 317), ("outdoor_activity_B", 23.3, 46.5),
])
def test_scenario_loads(scenario, weighted, unweighted):
    assert scenario_load_gmacs(scenario) == pytest.approx(weighted, rel=0.01)
    assert scenario_load_gmacs(scenario, weighted=False) == pytest.approx(unweighted, rel=0.01)


def test_scenario_load_errors():
    with pytest.raises(ValueError, match="unknown XRBench scenario 'Mars'"):
        scenario_load_gmacs("Mars")
    with pytest.raises(TypeError, match="weighted must be a bool, not 1"):
        scenario_load_gmacs("VR_gaming", 1)
    with pytest.raises(ValueError, match="unknown XRBench model 'FBNet'"):
        xrbench_model("FBNet")
    with pytest.raises(TypeError, match="not 3"):
        xrbench_model(3)


# ---------------------------------------------------------------------------------------------------- XR-NPE


def test_resnet18_cifar():
    w = get_workload("xr.cls_resnet18_cifar")
    assert w.macs == 555_422_720
    assert w.macs / 1e6 == pytest.approx(555.4, rel=5e-3)
    assert w.weights / 1e6 == pytest.approx(11.16, rel=5e-3)
    assert len(w.layers) == 1 + 16 + 3 + 1
    assert [ly.name for ly in w.layers if "downsample" in ly.name] == [
        "layer2.0.downsample", "layer3.0.downsample", "layer4.0.downsample"]
    assert w.layers[0].m == 32 * 32 and w.layers[-1].n == 10


def test_ulvio():
    w = get_workload("xr.vio_ulvio")
    assert w.macs == 174_755_556
    assert w.macs / 1e6 == pytest.approx(174.8, rel=0.01)
    assert _macs(w, "visual.") / 1e6 == pytest.approx(174.4, rel=0.01)
    assert _macs(w, "imu.") / 1e6 == pytest.approx(0.30, rel=0.01)
    assert _macs(w, "pose.") / 1e6 == pytest.approx(0.10, rel=0.02)
    assert w.weights / 1e6 == pytest.approx(0.89, rel=0.01)
    assert w.target_rate == 10.0 and w.unit == "frame"
    assert "086819f5bb312f3edf8e1e81e2cb4996f46b45c7" in w.source
    conv6 = next(ly for ly in w.layers if ly.name == "visual.conv6")
    assert (conv6.m, conv6.n, conv6.k) == (4 * 8, 378, 64 * 9)


def test_effnet_b0():
    w = get_workload("xr.cls_effnet_b0")
    assert w.macs / 1e9 == pytest.approx(0.39, rel=0.02)
    assert w.weights / 1e6 == pytest.approx(5.3, rel=0.03)
    assert "assumed" in w.tags
    dw = [ly for ly in w.layers if ly.kind == "dwconv"]
    assert len(dw) == 16 and all(ly.n == 1 and ly.k in (9, 25) for ly in dw)
    assert dw[0].groups == 32 and dw[-1].groups == 1152
    with pytest.raises(ValueError, match="resolution"):
        wl.effnet_b0(resolution=8)


def test_gaze_lle():
    w = get_workload("xr.gaze_lle")
    blocks = _macs(w, "blocks.")
    assert blocks / 24 / 1e9 == pytest.approx(15.0, rel=0.01)
    assert w.macs / 1e9 == pytest.approx(361, rel=0.01)


# ---------------------------------------------------------------------------------------------------- RNN


@pytest.mark.parametrize(("name", "mmacs", "exact"), [
    ("rnn.kws_lstm_s", 1.86, 1_863_728), ("rnn.kws_lstm_m", 9.18, 9_176_160), ("rnn.kws_lstm_l", 23.4, 23_404_480),
    ("rnn.kws_gru_s", 1.90, 1_896_048), ("rnn.kws_gru_m", 9.56, 9_558_000), ("rnn.kws_gru_l", 24.1, 24_112_800),
    ("rnn.kws_basic_lstm_s", 2.96, 2_961_800),
])
def test_kws_presets(name, mmacs, exact):
    w = get_workload(name)
    assert w.macs == exact
    assert w.macs / 1e6 == pytest.approx(mmacs, rel=0.02)
    gates = w.layers[0]
    assert gates.kind == "rnn" and gates.precision == "analog"
    cells = gates.n // (3 if "gru" in name else 4)
    assert gates.nonlin == (3 if "gru" in name else 5) * cells
    assert gates.repeat in (25, 49)
    fc = w.layers[-1]
    assert (fc.kind, fc.n, fc.repeat, fc.precision) == ("head", 12, 1, "int8")


def test_kws_lstm_shapes():
    w = get_workload("rnn.kws_lstm_s")
    gates, proj, fc = w.layers
    assert (gates.m, gates.n, gates.k, gates.repeat, gates.nonlin) == (1, 4 * 98, 10 + 144, 25, 5 * 98)
    assert (proj.n, proj.k, proj.repeat) == (144, 98, 25)
    assert fc.k == 144
    assert w.weights == pytest.approx(76e3, rel=0.01)
    basic = get_workload("rnn.kws_basic_lstm_s")
    assert basic.layers[0].k == 10 + 118 and len(basic.layers) == 2


@pytest.mark.parametrize(("name", "total", "recurrent", "softmax"), [
    ("rnn.ptb_lstm_s", 2.64, 0.64, 2.0), ("rnn.ptb_lstm_m", 13.3, 6.76, 6.5), ("rnn.ptb_lstm_l", 51.0, 36, 15),
])
def test_ptb_presets(name, total, recurrent, softmax):
    w = get_workload(name)
    assert w.unit == "token"
    assert w.macs / 1e6 == pytest.approx(total, rel=0.01)
    assert _macs(w, kind="rnn") / 1e6 == pytest.approx(recurrent, rel=0.01)
    assert _macs(w, kind="head") / 1e6 == pytest.approx(softmax, rel=0.01)


def test_rnn_parameters_validated():
    with pytest.raises(ValueError, match="'fp8'"):
        wl.kws_lstm(98, 144, 25, precision="fp8")
    with pytest.raises(TypeError, match="cells must be an integer"):
        wl.kws_lstm(98.0, 144, 25)
    with pytest.raises(ValueError, match="steps must be an integer.*not 0"):
        wl.kws_gru(100, 0)
    w = wl.kws_gru(100, 10, precision="int8", fc_precision="posit8_0")
    assert [ly.precision for ly in w.layers] == ["int8", "posit8_0"]


# ---------------------------------------------------------------------------------------------------- LLaMA


def test_llama_decode_totals():
    w = get_workload("llm.llama32_1b.decode")
    assert w.unit == "token"
    assert _macs(w, precision="ternary") == 973_078_528
    assert _macs(w, kind="linear") == 973_078_528
    assert _macs(w, kind="head") == 262_668_288
    assert _macs(w, kind="attention") == 33_554_432
    assert w.macs == 973_078_528 + 262_668_288 + 33_554_432
    assert sum(ly.kind == "linear" for ly in w.layers) == 16 * 7
    assert all(ly.m == 1 for ly in w.layers if ly.kind in ("linear", "head"))
    head = w.layers[-1]
    assert (head.name, head.n, head.k, head.precision) == ("lm_head", 128256, 2048, "bf16")
    # the attention "weights" are the KV cache: 16.8 MB in bf16 at ctx 512
    kv = sum(ly.weights for ly in w.layers if ly.kind == "attention")
    assert kv * 2 / 1e6 == pytest.approx(16.8, rel=0.01)
    assert sum(ly.weights for ly in w.layers if ly.kind == "linear") == 16 * 60_817_408


def test_llama_decode_parameters():
    w = llama32_1b_decode(ctx=2048, head_precision="int8", attn_precision="posit16_1")
    assert _macs(w, kind="attention") == 134_217_728
    assert {ly.precision for ly in w.layers if ly.kind == "attention"} == {"posit16_1"}
    assert w.layers[-1].precision == "int8"
    qk = next(ly for ly in w.layers if ly.name == "layers.0.qk")
    assert (qk.groups, qk.m, qk.n, qk.k, qk.nonlin) == (8, 4, 2048, 64, 32 * 2048)
    with pytest.raises(ValueError, match="ctx must be an integer.*not 0"):
        llama32_1b_decode(ctx=0)
    with pytest.raises(TypeError, match="not 1.5"):
        llama32_1b_decode(ctx=1.5)
    with pytest.raises(ValueError, match="'fp17'"):
        llama32_1b_decode(head_precision="fp17")


def test_llama_prefill():
    p = 511  # odd: the causal count is exact
    w = llama32_1b_prefill(prompt=p)
    assert w.unit == "sequence"
    assert _macs(w, kind="linear") == 973_078_528 * p
    assert _macs(w, kind="head") == 262_668_288 * p
    assert _macs(w, kind="attention") == 16 * 2 * 32 * 64 * p * (p + 1) // 2
    assert all(ly.m == p for ly in w.layers if ly.kind == "linear")
    w512 = get_workload("llm.llama32_1b.prefill")
    assert _macs(w512, kind="attention") == pytest.approx(16 * 2 * 32 * 64 * 512 * 513 / 2, rel=2.5e-3)
    assert sum(ly.nonlin for ly in w512.layers if ly.kind == "attention") == 16 * 32 * 512 * 513 // 2
    last = llama32_1b_prefill(prompt=16, logits="last")
    assert last.layers[-1].m == 1
    with pytest.raises(ValueError, match="'first'"):
        llama32_1b_prefill(logits="first")
    with pytest.raises(ValueError, match="prompt must be an integer.*not -1"):
        llama32_1b_prefill(prompt=-1)


# ---------------------------------------------------------------------------------------------------- adaptive


def _toy() -> Workload:
    ws = [50, 10, 40, 5, 30, 20, 60, 70]   # k for n = 1: weights per layer
    return Workload("toy", tuple(Layer(f"l{i}", 1, 1, k) for i, k in enumerate(ws)))


def test_layer_adaptive_proxy():
    out = layer_adaptive(_toy(), fraction=0.5)   # 4 of 8: first, last, then fewest weights (l3: 5, l1: 10)
    wide = [ly.name for ly in out.layers if ly.precision == "posit16_1"]
    assert wide == ["l0", "l1", "l3", "l7"]
    assert {ly.precision for ly in out.layers} == {"posit16_1", "posit8_0"}
    assert out.name == "toy+adaptive" and "layer_adaptive" in out.tags
    assert out.macs == _toy().macs
    assert "4/8 layers in posit16_1" in out.assumptions


@pytest.mark.parametrize(("fraction", "count"), [(0, 0), (0.1, 1), (0.25, 2), (0.3, 2), (0.5, 4), (1, 8), (1.0, 8)])
def test_layer_adaptive_count(fraction, count):
    out = layer_adaptive(_toy(), fraction=fraction, wide="fp4_e2m1", narrow="int8")
    assert sum(ly.precision == "fp4_e2m1" for ly in out.layers) == count
    assert sum(ly.precision == "int8" for ly in out.layers) == 8 - count


def test_layer_adaptive_real_workload():
    w = get_workload("xr.cls_resnet18_cifar")
    out = layer_adaptive(w)   # 21 layers, 0.25 -> 5
    wide = [ly.name for ly in out.layers if ly.precision == "posit16_1"]
    assert len(wide) == math.floor(0.25 * 21 + 0.5) == 5
    assert {"conv1", "fc"} <= set(wide)
    assert {"layer2.0.downsample", "layer3.0.downsample"} <= set(wide)


def test_layer_adaptive_sensitivity_overrides_proxy():
    out = layer_adaptive(_toy(), fraction=0.25, sensitivity={"l4": 0.5, "l2": 3.0, "l5": 0.1})
    assert [ly.name for ly in out.layers if ly.precision == "posit16_1"] == ["l2", "l4"]
    # more wide layers than scores: the unscored ones follow in proxy order (first, last, fewest weights)
    out = layer_adaptive(_toy(), fraction=0.5, sensitivity={"l5": 1.0})
    assert sorted(ly.name for ly in out.layers if ly.precision == "posit16_1") == ["l0", "l3", "l5", "l7"]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"fraction": 1.5}, ValueError, "fraction must be in \\[0, 1\\], not 1.5"),
    ({"fraction": -0.1}, ValueError, "not -0.1"),
    ({"fraction": float("nan")}, ValueError, "not nan"),
    ({"fraction": "0.5"}, TypeError, "not '0.5'"),
    ({"fraction": True}, TypeError, "not True"),
    ({"wide": "posit32"}, ValueError, "'posit32'"),
    ({"narrow": 8}, TypeError, "not 8"),
    ({"sensitivity": {"l9": 1.0}}, ValueError, "\\['l9'\\]"),
    ({"sensitivity": {"l1": "high"}}, TypeError, "'high'"),
    ({"sensitivity": {"l1": float("nan")}}, ValueError, "nan"),
    ({"sensitivity": [("l1", 1.0)]}, TypeError, "mapping"),
])
def test_layer_adaptive_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        layer_adaptive(_toy(), **kwargs)


def test_layer_adaptive_needs_workload():
    with pytest.raises(TypeError, match="not 'toy'"):
        layer_adaptive("toy")


# ---------------------------------------------------------------------------------------------------- registry


def test_registry_ids_and_names():
    expected = {
        "xr.cls_resnet18_cifar", "xr.vio_ulvio", "xr.cls_effnet_b0", "xr.gaze_lle",
        "rnn.kws_lstm_s", "rnn.kws_lstm_m", "rnn.kws_lstm_l", "rnn.kws_gru_s", "rnn.kws_gru_m", "rnn.kws_gru_l",
        "rnn.kws_basic_lstm_s", "rnn.ptb_lstm_s", "rnn.ptb_lstm_m", "rnn.ptb_lstm_l",
        "llm.llama32_1b.decode", "llm.llama32_1b.prefill",
        *(f"xrbench.{m}" for m in XRBENCH_MODELS),
    }
    assert set(WORKLOADS) == expected
    for key in WORKLOADS:
        w = get_workload(key)
        assert isinstance(w, Workload) and w.name == key
        assert w.source and w.assumptions
        assert len({ly.name for ly in w.layers}) == len(w.layers), key


def test_get_workload_errors():
    with pytest.raises(ValueError, match="^unknown workload 'xr.nope'; choose from xr.cls_resnet18_cifar, ") as e:
        get_workload("xr.nope")
    assert "\n" not in str(e.value) and "xrbench.<KD_res8_narrow|" in str(e.value)
    with pytest.raises(TypeError, match="not None"):
        get_workload(None)


def test_workload_table():
    df = workload_table()
    assert list(df.columns) == ["name", "unit", "layers", "MMACs", "Mweights", "target_rate", "source"]
    assert list(df["name"]) == list(WORKLOADS)
    row = df.set_index("name").loc["xrbench.GE_FBNet_C"]
    assert row["MMACs"] == pytest.approx(170.74576) and row["target_rate"] == 60 and row["layers"] == 63
    assert math.isnan(df.set_index("name").loc["rnn.kws_lstm_s", "target_rate"])
    sub = workload_table(["rnn.kws_gru_s"])
    assert len(sub) == 1 and sub["MMACs"].iloc[0] == pytest.approx(1.896048)
