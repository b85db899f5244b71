# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # XRBench scenarios: how many SIMD engines, at what clock and precision?
#
# XRBench (Kwon et al., MLSys 2023) defines seven usage scenarios, each a set of models running at fixed frame
# rates (some with a probability, and two cascades: keyword detection -> speech recognition, eye segmentation
# -> gaze estimation). A design meets a scenario here when **every model meets its frame deadline**, its
# latency (plus its producer's, for a cascade) at most `1/fps`, as `npegen.analysis.report.xr_deadlines`
# computes it. Whether the models also fit *together* (time shares `sum(fps x probability x latency) <= 1`)
# is reported as well.
#
# The sweep: the default SIMD MAC engine (all four modes, 16-bit words; its synthesised size from the cache)
# x engine count x clock x precision of every layer (posit8_0 or posit4_1), with the estimator alone: no
# synthesis per point, each design point takes about 0.1 s. Per design point and scenario: met or not, and the
# scenario's average power (sum of its models' `energy per frame x fps x probability`).
#
# Results are appended per design point to `<out>/sweeps/xr_scenarios/results.csv`; a re-run only estimates
# the missing points. `NPEGEN_NB_SMALL=1` runs a smaller grid (store `xr_scenarios_small`). Figures and the
# result CSV go to `build/notebooks/` (or `$NPEGEN_NB_OUT`). Runs as a plain script too:
# `NPEGEN_NB_SMALL=1 python notebooks/04_xr_scenarios.py`.

# %%
import os
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from npegen.analysis import workloads as W  # noqa: E402
from npegen.analysis.estimator import SimdArray, default_design  # noqa: E402
from npegen.analysis.report import xr_deadlines  # noqa: E402
from npegen.hw.simd_mac import SimdMac  # noqa: E402
from npegen.hw.synth import synthesize  # noqa: E402
from npegen.models.simd_mac import SimdMacParams  # noqa: E402


def _repo_root() -> Path:
    try:
        return Path(__file__).resolve().parents[1]
    except NameError:  # inside Jupyter: the kernel starts in notebooks/
        cwd = Path.cwd()
        return cwd.parent if cwd.name == "notebooks" else cwd


SMALL = os.environ.get("NPEGEN_NB_SMALL", "0") == "1"
OUT = Path(os.environ.get("NPEGEN_NB_OUT") or _repo_root() / "build" / "notebooks")
OUT.mkdir(parents=True, exist_ok=True)
print(f"small={SMALL} output={OUT}")

# %% [markdown]
# ## The design points
#
# The engine's area comes from its synthesised transistor count (cached after the first synthesis), so the
# estimate includes leakage and the chip area (engines + the 512 KiB SRAM) is the cost of a design point.

# %%
if SMALL:
    COUNTS, CLOCKS = [16, 64, 256, 1024], [500, 1500]
else:
    COUNTS, CLOCKS = [16, 32, 64, 128, 256, 512, 1024], [500, 1000, 1500]
PRECISIONS = ["posit8_0", "posit4_1"]
SCENARIOS = list(W.xrbench_scenarios())

t0 = time.perf_counter()
params = SimdMacParams()
rep = synthesize(SimdMac.from_params(params), top="simd_mac", tag=params.tag, quiet=True)
print(f"SIMD engine {params.tag}: {rep.transistors} transistors (synthesis {'cached' if rep.cached else 'ran'}, "
      f"{time.perf_counter() - t0:.1f} s)")
BASE = replace(default_design(), areas=(("simd", rep.transistors),))


def design_at(count: int, clock_mhz: float):
    return replace(BASE.with_engine(SimdArray(count=count, params=params)), name=f"simd x{count} @ {clock_mhz:g} MHz",
                   tech=replace(BASE.tech, clock_mhz=float(clock_mhz)))


# %% [markdown]
# ## Deadlines at a precision
#
# `xr_deadlines(design, precision)` estimates every XRBench model at that precision and checks each frame
# deadline, cascades (KD -> ASR, ES -> GE) included.


# %%
def xr_deadlines_at(design, precision: str) -> pd.DataFrame:
    return xr_deadlines(design, precision)


# %% [markdown]
# ## Run the sweep (resumable)
#
# One row per (design point, scenario, model) in the store.

# %%
name = "xr_scenarios_small" if SMALL else "xr_scenarios"
STORE = OUT / "sweeps" / name
STORE.mkdir(parents=True, exist_ok=True)
store = STORE / "results.csv"
KEY = ["precision", "count", "clock_mhz"]
N_ROWS = sum(len(m) for m in W.xrbench_scenarios().values())  # rows of one design point


def _key(precision, count, clock) -> tuple:
    return (str(precision), int(count), float(clock))


def _load() -> pd.DataFrame:
    """The store without duplicate rows (a point re-run after a kill mid-write keeps its last rows)."""
    if not store.is_file() or not store.stat().st_size:
        return pd.DataFrame(columns=[*KEY, "scenario", "model"])
    return pd.read_csv(store).drop_duplicates([*KEY, "scenario", "model"], keep="last")


sizes = _load().groupby(KEY).size()
done = {_key(*k) for k, n in sizes.items() if n == N_ROWS}
grid = [_key(p, c, f) for p in PRECISIONS for c in COUNTS for f in CLOCKS]
todo = [g for g in grid if g not in done]
print(f"{len(grid)} design points, {len(grid) - len(todo)} already in {store}")
t0 = time.perf_counter()
for prec, count, clock in todo:
    d = design_at(count, clock)
    xr = xr_deadlines_at(d, prec)
    xr.insert(0, "clock_mhz", clock)
    xr.insert(0, "count", count)
    xr.insert(0, "precision", prec)
    xr["area_mm2"] = d.area_mm2()
    xr.to_csv(store, mode="a", header=not store.is_file() or store.stat().st_size == 0, index=False)
print(f"estimated {len(todo)} design points in {time.perf_counter() - t0:.1f} s")
rows = _load()
wanted = set(grid)
rows = rows[[_key(*k) in wanted for k in rows[KEY].itertuples(index=False)]].reset_index(drop=True)
assert len(rows) == len(grid) * N_ROWS

# %% [markdown]
# ## Scenarios met per design point
#
# `met`: every model meets its deadline (cascades included); `fits`: the time shares add up to at most 1 as
# well; `power_mW`: the scenario's average power.

# %%
per = rows.groupby(KEY + ["scenario"], sort=False).agg(
    met=("meets_deadline", "all"), fits=("scenario fits", "first"), power_mW=("power_mW", "sum"),
    time_share=("time_share", "sum"), area_mm2=("area_mm2", "first")).reset_index()
per["met_and_fits"] = per["met"] & per["fits"]
SHORT = {"posit8_0": "p8", "posit4_1": "p4"}
per["design"] = [f"{SHORT[p]} x{c} @{f:g}MHz" for p, c, f in zip(per["precision"], per["count"], per["clock_mhz"],
                                                                strict=True)]
summary = per.groupby(KEY, sort=False).agg(
    design=("design", "first"), area_mm2=("area_mm2", "first"), scenarios_met=("met", "sum"),
    scenarios_met_and_fit=("met_and_fits", "sum"), total_power_mW=("power_mW", "sum")).reset_index()
print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
per.to_csv(OUT / "xr_scenarios.csv", index=False)
summary.to_csv(OUT / "xr_design_points.csv", index=False)


def cheapest(col: str, precision: str | None = None):
    """The design point of least area (then least total power) that meets all scenarios by ``col``."""
    ok = summary[summary[col] == len(SCENARIOS)]
    if precision is not None:
        ok = ok[ok["precision"] == precision]
    if ok.empty:
        return None
    return ok.sort_values(["area_mm2", "total_power_mW"]).iloc[0]


best = cheapest("scenarios_met")
best_fit = cheapest("scenarios_met_and_fit")
for label, b in (("all 7 deadlines met", best), ("all 7 met and fitting together", best_fit)):
    if b is None:
        print(f"cheapest design with {label}: none in this grid")
    else:
        print(f"cheapest design with {label}: {b['design']} ({b['area_mm2']:.3f} mm², "
              f"total power over the 7 scenarios {b['total_power_mW']:.1f} mW)")
for prec in PRECISIONS:
    b = cheapest("scenarios_met", prec)
    print(f"  cheapest meeting all 7 deadlines at {prec}: "
          + ("none" if b is None else f"{b['design']} ({b['area_mm2']:.3f} mm²)"))
if best is not None:
    sel = per[per["design"] == best["design"]]
    print(sel[["scenario", "met", "fits", "time_share", "power_mW"]].to_string(index=False,
                                                                              float_format=lambda v: f"{v:.4g}"))

# %% [markdown]
# ## Heat map: scenarios met per design point
#
# One panel per precision, one row per (engines, clock), one column per scenario. Red: some model misses its
# deadline; yellow: every deadline is met but the models do not fit together (time shares > 1); green: met
# and fits. The cheapest design meeting all seven is outlined.

# %%
cmap = ListedColormap(["#d9534f", "#f0ad4e", "#5cb85c"])
fig, axes = plt.subplots(1, len(PRECISIONS), figsize=(6.2 * len(PRECISIONS), 1.6 + 0.32 * len(COUNTS) * len(CLOCKS)),
                         squeeze=False)
for ax, prec in zip(axes[0], PRECISIONS, strict=True):
    sub = per[per["precision"] == prec].copy()
    sub["state"] = sub["met"].astype(int) + sub["met_and_fits"].astype(int)
    sub["row"] = [f"x{c} @ {f:g} MHz" for c, f in zip(sub["count"], sub["clock_mhz"], strict=True)]
    order = [f"x{c} @ {f:g} MHz" for c in COUNTS for f in CLOCKS]
    mat = sub.pivot(index="row", columns="scenario", values="state").reindex(index=order, columns=SCENARIOS)
    ax.imshow(mat.to_numpy(float), cmap=cmap, vmin=0, vmax=2, aspect="auto")
    ax.set_xticks(range(len(SCENARIOS)), SCENARIOS, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_xlabel("XRBench scenario")
    ax.set_ylabel("design point (SIMD engines @ clock)")
    ax.set_title(f"Every layer in {prec}")
    if best is not None and best["precision"] == prec:
        r = order.index(f"x{best['count']} @ {best['clock_mhz']:g} MHz")
        ax.add_patch(plt.Rectangle((-0.5, r - 0.5), len(SCENARIOS), 1, fill=False, lw=2.5, ec="k"))
fig.legend(handles=[Patch(color=cmap(0), label="a deadline missed"),
                    Patch(color=cmap(1), label="deadlines met, time shares > 1"),
                    Patch(color=cmap(2), label="deadlines met and fits"),
                    Patch(fill=False, ec="k", lw=2, label="cheapest design meeting all 7")],
           loc="lower center", ncol=4, fontsize=8)
fig.suptitle("XRBench scenarios met by SIMD engine count, clock and precision")
fig.tight_layout(rect=(0, 0.06, 1, 0.97))
p = OUT / "xr_scenarios_heatmap.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)

# %% [markdown]
# ## Power of the design points that meet each scenario
#
# One panel per scenario: its average power against the engine count, only for the design points that meet
# it (colour: clock; marker: precision). The star is the cheapest design meeting all seven scenarios. In this
# model the clock does not scale the supply voltage, so a faster clock costs no dynamic energy and saves
# leakage time: the estimate favours high clocks (a DVFS model would not).

# %%
fig, axes = plt.subplots(2, 4, figsize=(16, 7.5), sharex=True)
clock_color = dict(zip(CLOCKS, ["tab:blue", "tab:orange", "tab:green", "tab:red"], strict=False))
prec_marker = {"posit8_0": "o", "posit4_1": "^"}
for ax, scen in zip(axes.flat, SCENARIOS, strict=False):
    sub = per[(per["scenario"] == scen) & per["met"]]
    for (prec, clock), g in sub.groupby(["precision", "clock_mhz"]):
        g = g.sort_values("count")
        ax.plot(g["count"], g["power_mW"], marker=prec_marker[prec], color=clock_color[int(clock)], lw=0.8,
                label=f"{prec} @ {clock:g} MHz")
    if best is not None:
        b = per[(per["scenario"] == scen) & (per["design"] == best["design"])]
        ax.scatter(b["count"], b["power_mW"], marker="*", s=250, color="gold", edgecolors="k", zorder=5,
                   label=f"cheapest for all 7: {best['design']}")
    if sub.empty:
        ax.text(0.5, 0.5, "no design point meets it", ha="center", va="center", transform=ax.transAxes)
    ax.set_xscale("log", base=2)
    ax.set_title(scen, fontsize=10)
    ax.set_xlabel("SIMD engines")
    ax.set_ylabel("average power (mW)")
    ax.grid(True, which="both", alpha=0.3)
handles, labels = {}, {}
for ax in axes.flat[: len(SCENARIOS)]:
    for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
        handles.setdefault(lab, h)
leg_ax = axes.flat[-1]
leg_ax.axis("off")
leg_ax.legend(list(handles.values()), list(handles), loc="center", fontsize=8, title="precision @ clock")
fig.suptitle("XRBench scenario power at the design points that meet it")
fig.tight_layout()
p = OUT / "xr_power_vs_engines.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)
