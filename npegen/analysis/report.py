"""The estimator's report: every built-in workload on a design, the XRBench deadlines, the key comparisons
of the three blocks, and PNG plots, written as ``report.md`` + ``*.png`` + CSV into one directory.

``npegen report`` (behind ``make demo``) adds the generated, verified and synthesised blocks' table on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..models.ternary import TernaryParams
from . import workloads as W
from .estimator import CrossbarArray, Design, TernaryArray, energy_breakdown, estimate, scenario_table
from .plots import subplots

__all__ = ["estimate_all", "xr_deadlines", "key_comparisons", "roofline_plot", "energy_plot", "throughput_plot",
           "deadline_plot", "write_report"]


def estimate_all(design: Design, names=None, progress: Callable[[str], None] | None = None):
    """Every (or the named) built-in workload on ``design``: (summary DataFrame, {name: Result})."""
    names = list(W.WORKLOADS) if names is None else list(names)
    results, rows = {}, []
    for i, name in enumerate(names, 1):
        r = estimate(design, W.get_workload(name))
        results[name] = r
        s = r.summary
        rows.append({"workload": name, "unit": s["unit"], "GMACs": s["MACs"] / 1e9,
                     "runs/s": s[f"{s['unit']}s_per_s"], "latency ms": s["latency_s"] * 1e3,
                     "energy/run mJ": s["energy_per_run_J"] * 1e3, "TOPS/W": s["TOPS_per_W"],
                     "GOPS/mm2": s["GOPS_per_mm2"], "target/s": s["target_rate"],
                     "meets target": s.get("meets_target", None),
                     "bound (most cycles)": r.layers.groupby("bound")["cycles"].sum().idxmax()})
        if progress:
            progress(f"estimated {name} ({i}/{len(names)})")
    return pd.DataFrame(rows).set_index("workload"), results


def xr_deadlines(design: Design, precision: str = "posit8_0") -> pd.DataFrame:
    """Every XRBench scenario's models at their frame rates (in ``precision``): latency against the deadline,
    with cascades, and time share."""
    frames = []
    for scen, models in W.xrbench_scenarios().items():
        df = scenario_table(design, [(W.xrbench_model(m, precision), fps, p) for m, fps, p, _ in models])
        df = df.reset_index()
        df.insert(0, "scenario", scen)
        # cascades (KD -> ASR, ES -> GE): a dependent model starts when its producer finishes, so the chain's
        # latency must fit the dependent model's frame deadline
        lat = dict(zip(df["model"], df["latency_ms"], strict=True))
        deps = {f"xrbench.{m}": [f"xrbench.{d}" for d in dd] for m, _, _, dd in models}
        df["chain_latency_ms"] = [lat[m] + sum(lat.get(d, 0.0) for d in deps.get(m, [])) for m in df["model"]]
        df["meets_deadline"] = df["chain_latency_ms"] <= df["deadline_ms"]
        df["scenario fits"] = df["time_share"].sum() <= 1.0
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def key_comparisons(design: Design) -> pd.DataFrame:
    """The comparisons the three blocks exist for, each measured here on ``design``'s technology."""
    rows = []
    # Sherry vs 2-bit on LLaMA-3.2-1B decode, memory-bound (enough engines that DRAM is the limit)
    dec = W.get_workload("llm.llama32_1b.decode")
    tok = {}
    for pk in ("sherry", "i2s", "tl2"):
        p = TernaryParams(packing=pk, lanes=6 if pk == "tl2" else 8, group_size=96 if pk == "tl2" else 128)
        d = replace(design, ternary=TernaryArray(count=64, params=p))
        r = estimate(d, dec)
        lin = r.layers[r.layers["precision"] == "ternary"]
        tok[pk] = (1 / (lin["cycles"].sum() * d.cycle_s), float(r.summary["tokens_per_s"]))
    rows.append({"comparison": f"LLaMA-3.2-1B decode linears, tokens/s at {design.memory.dram_gbps:g} GB/s",
                 "ours": f"Sherry {tok['sherry'][0]:.1f}",
                 "baseline": f"I2_S {tok['i2s'][0]:.1f}, TL2 {tok['tl2'][0]:.1f}",
                 "ratio": tok["sherry"][0] / tok["i2s"][0]})
    rows.append({"comparison": "LLaMA-3.2-1B whole decode token (bf16 lm_head), tokens/s",
                 "ours": f"Sherry {tok['sherry'][1]:.1f}", "baseline": f"I2_S {tok['i2s'][1]:.1f}",
                 "ratio": tok["sherry"][1] / tok["i2s"][1]})
    # ramp NL-ADC vs SAR + digital activation, energy per activation, KWS LSTM-S
    wl = W.get_workload("rnn.kws_lstm_s")
    e = {}
    for adc in ("ramp", "sar"):
        xb = design.crossbar or CrossbarArray()
        d = replace(design, crossbar=replace(xb, adc=adc))
        rl = estimate(d, wl).layers
        rnn = rl[rl["engine"] == "crossbar"]
        e[adc] = (rnn["E_adc_pJ"].sum() + rnn["E_nl_pJ"].sum()) / rnn["adc_conversions"].sum()
    rows.append({"comparison": "energy per activation (KWS LSTM-S), pJ", "ours": f"ramp NL-ADC {e['ramp']:.3f}",
                 "baseline": f"SAR + digital sigmoid/tanh {e['sar']:.3f}", "ratio": e["sar"] / e["ramp"]})
    # SIMD precision modes on ResNet-18 CIFAR: energy per inference
    if design.simd is not None:
        rn = W.get_workload("xr.cls_resnet18_cifar")
        en = {}
        for mode in design.simd.params.modes:
            en[mode] = float(estimate(design, rn.with_precision(mode)).summary["energy_per_run_J"])
        ad = W.layer_adaptive(rn, wide="posit16_1", narrow="posit8_0", fraction=0.25)
        en["adaptive P16/P8 25%"] = float(estimate(design, ad).summary["energy_per_run_J"])
        rows.append({"comparison": "ResNet-18 CIFAR energy/inference, uJ, per SIMD mode",
                     "ours": ", ".join(f"{k} {v * 1e6:.1f}" for k, v in en.items()), "baseline": "posit16_1",
                     "ratio": en.get("posit16_1", math.nan) / en.get("posit8_0", math.nan)})
    return pd.DataFrame(rows).set_index("comparison")


# ---- plots ------------------------------------------------------------------------------------------------


def roofline_plot(results: dict, design: Design, path) -> Path:
    """Attained ops/cycle against DRAM ops/byte for every layer, with the DRAM and compute roofs."""
    fig, ax = subplots(figsize=(7.5, 5))
    bpc = design.memory.dram_gbps * 1e9 / (design.tech.clock_mhz * 1e6)
    peaks = []
    for (name, r), mk in zip(results.items(), "os^vD<>phx*+1234", strict=False):
        df = r.layers
        x = df["ops_per_byte"].replace(float("inf"), 1e6).clip(upper=1e6)
        ax.scatter(x, df["attained_ops_per_cycle"], s=10, marker=mk, alpha=0.6, label=name)
        peaks.append(df["peak_ops_per_cycle"].max())
    xs = [10 ** (i / 10) for i in range(-20, 61)]
    peak = max(peaks)
    ax.plot(xs, [min(bpc * x, peak) for x in xs], "k-", lw=1.5, label=f"roof: {bpc:g} B/cycle DRAM, peak {peak:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DRAM byte)")
    ax.set_ylabel("attained ops per cycle")
    ax.set_title(f"Roofline, {design.name}")
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def energy_plot(results: dict, path) -> Path:
    """Energy per run split by component (stacked, normalised to 100 %) for every workload."""
    br = pd.DataFrame({n: energy_breakdown(r) for n, r in results.items()}).T
    share = br.div(br.sum(axis=1), axis=0) * 100
    fig, ax = subplots(figsize=(8, 0.8 + 0.3 * len(share)))
    left = pd.Series(0.0, index=share.index)
    for col in share.columns:
        ax.barh(share.index, share[col], left=left, label=col)
        left += share[col]
    ax.set_xlabel("share of energy per run (%)")
    ax.set_ylabel("workload")
    ax.set_title("Energy breakdown")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.1 / max(len(share), 1)))
    ax.invert_yaxis()
    return _save(fig, path)


def throughput_plot(summary: pd.DataFrame, path) -> Path:
    """Runs per second of every workload (log axis), with the target rate where there is one."""
    fig, ax = subplots(figsize=(8, 0.8 + 0.3 * len(summary)))
    y = range(len(summary))
    ax.barh(list(y), summary["runs/s"], color="tab:blue", label="estimated runs/s")
    tgt = summary["target/s"].astype(float)
    ax.scatter(tgt, list(y), color="tab:red", marker="|", s=200, label="target rate", zorder=3)
    ax.set_yticks(list(y), [f"{n} ({u})" for n, u in zip(summary.index, summary["unit"], strict=True)], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("runs per second (frames, tokens, inferences)")
    ax.set_title("Throughput per workload")
    ax.legend(fontsize=7)
    ax.invert_yaxis()
    return _save(fig, path)


def deadline_plot(xr: pd.DataFrame, path) -> Path:
    """XRBench: each model's latency (with its cascade's producer) against its frame deadline, by scenario."""
    fig, ax = subplots(figsize=(8, 0.8 + 0.28 * len(xr)))
    labels = [f"{s}: {m}" for s, m in zip(xr["scenario"], xr["model"], strict=True)]
    y = list(range(len(xr)))
    colors = ["tab:green" if ok else "tab:red" for ok in xr["meets_deadline"]]
    ax.barh(y, xr["chain_latency_ms"], color=colors, label="latency incl. cascade (green: meets, red: misses)")
    ax.scatter(xr["deadline_ms"], y, marker="|", s=200, color="k", label="deadline 1/fps", zorder=3)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per frame")
    ax.set_title("XRBench scenarios: latency vs frame deadline")
    ax.legend(fontsize=7)
    ax.invert_yaxis()
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# ---- the markdown ------------------------------------------------------------------------------------------


def _md(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    d = df.reset_index() if df.index.name or not isinstance(df.index, pd.RangeIndex) else df
    cols = list(d.columns)

    def fmt(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else floatfmt.format(v)
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in d.itertuples(index=False)]
    return "\n".join(lines)


def write_report(out, design: Design, *, blocks: pd.DataFrame | None = None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Estimate everything on ``design`` and write ``report.md``, CSVs and PNGs into ``out``.

    Returns the paths written and the tables (``{"report": Path, "summary": DataFrame, ...}``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda s: None)
    summary, results = estimate_all(design, progress=say)
    xr = xr_deadlines(design)
    say("XRBench scenarios checked")
    comp = key_comparisons(design)
    say("key comparisons done")
    plots = {
        "roofline": roofline_plot(results, design, out / "roofline.png"),
        "energy": energy_plot(results, out / "energy_breakdown.png"),
        "throughput": throughput_plot(summary, out / "throughput.png"),
        "deadlines": deadline_plot(xr, out / "xr_deadlines.png"),
    }
    say("plots written")
    summary.to_csv(out / "workloads.csv")
    xr.to_csv(out / "xr_deadlines.csv", index=False)
    comp.to_csv(out / "comparisons.csv")
    used = sorted({e for r in results.values() for e in r.entries})
    prov = design.table.to_frame().loc[used][["value", "unit", "node_nm", "vdd", "assumed", "source"]]
    prov.to_csv(out / "provenance.csv")
    t = design.tech
    parts = [f"# npegen report: {design.name}", "",
             f"Technology {t.node_nm:g} nm, {t.vdd:g} V, {t.clock_mhz:g} MHz; SRAM {design.memory.sram_kib:g} KiB, "
             f"DRAM {design.memory.dram_gbps:g} GB/s; area {design.area_mm2():.3f} mm^2 (synthesised engines + SRAM).",
             ""]
    if blocks is not None:
        parts += ["## Blocks: generated, verified on a simulator, synthesised", "", _md(blocks), ""]
    parts += ["## Key comparisons", "", _md(comp), "",
              "## Workloads", "", _md(summary), "", "![throughput](throughput.png)", "",
              "![roofline](roofline.png)", "", "![energy](energy_breakdown.png)", "",
              "## XRBench scenarios (deadline = 1/fps; a scenario fits when its time shares add up to <= 1)", "",
              _md(xr[["scenario", "model", "fps", "probability", "latency_ms", "chain_latency_ms", "deadline_ms",
                      "meets_deadline",
                      "time_share", "power_mW", "scenario fits"]]), "", "![deadlines](xr_deadlines.png)", "",
              "## Every energy and area number used, with its source", "", _md(prov), ""]
    report = out / "report.md"
    report.write_text("\n".join(parts))
    return {"report": report, "summary": summary, "xr": xr, "comparisons": comp, "plots": plots,
            "provenance": prov}

