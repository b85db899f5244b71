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
# # Ramp-ADC nonlinearity in recurrent networks
#
# Yang et al. (Nat. Commun. 16, 2025) compute the sigmoid/tanh of an LSTM inside the ADC: an in-memory,
# pre-distorted ramp makes the counter value at the comparator flip equal the quantised f(x). This notebook
# asks three questions on a small task (scikit-learn digits, 8x8 images read row by row as 8 steps of 8
# features; LSTM and GRU, hidden 32, trained in float with numpy BPTT):
#
# 1. How many ADC bits N does the nonlinearity need (ideal `RampADC`, N = 3, 4, 5, 8), and what does the
#    analog twin (noisy crossbar MAC + in-memory ramp columns with programming error, comparator offset and
#    noise, calibrated) cost at N = 5?
# 2. Read-voltage robustness (Fig. 3b of the paper): V_read 0.15-0.25 V around 0.2 V, in-memory ramp
#    (ratiometric) against a fixed-reference ADC.
# 3. Stuck-at-OFF ramp devices, with and without the 5-device calibration (Fig. 3a).
#
# `NPEGEN_NB_SMALL=1` runs the quick variant (one chip per analog point, fewer epochs). Figures and tables
# go to `build/notebooks/` (or `$NPEGEN_NB_OUT`). Runs as a plain script too:
# `NPEGEN_NB_SMALL=1 python notebooks/03_ramp_adc_rnn.py`.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from npegen.analysis.rnn import BASE_NOISE, format_tables, plot_rnn_study, rnn_study  # noqa: E402


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
print(f"small={SMALL} seed={SEED} output={OUT}")
print(f"noise level x1 = {BASE_NOISE}")

# %% [markdown]
# ## Run the study
#
# One line of progress per stage. The analog rows are means over independent simulated chips (device
# programming, faults and comparator offsets drawn per chip from the seed).

# %%
tables = rnn_study(seed=SEED, small=SMALL)

# %% [markdown]
# ## Tables
#
# * `accuracy`: test accuracy, float vs ideal ramp ADC per N vs the analog twin at N = 5 and noise
#   multiples of the x1 point (RRAMMilo programming error, 1 % read noise, comparator offset 2 codes and
#   noise 0.5 code, calibrated).
# * `vread`: accuracy over V_read at noise x1, and the code error of a sigmoid N = 5 ADC over every input
#   code (`ideal` = ideal devices, so only V_read acts; `x1` = at noise x1).
# * `faults`: stuck-at-OFF ramp devices: INL (output LSB) of a 32-column sigmoid ADC and the accuracies.
# * `adc`: INL and mean code error of the analog sigmoid ADC per N, one device per ramp step (the chip)
#   vs steps split at 8 codes per device.

# %%
text = format_tables(tables)
print(text)
(OUT / "rnn_tables.txt").write_text(text)
for name, df in tables.items():
    df.to_csv(OUT / f"rnn_{name}.csv")

# %% [markdown]
# ## Figures

# %%
paths = plot_rnn_study(tables, OUT)
for p in paths:
    print("wrote", p)

# %% [markdown]
# ## Bits vs accuracy vs energy and latency
#
# The same KWS-style LSTM and GRU presets on the estimator's crossbar: every sigmoid/tanh either comes out
# of the ramp NL-ADC (2^N - 1 cycles per conversion, all columns at once, no digital activation) or out of
# a SAR ADC (N + 1 cycles, one per 8 columns) followed by a digital sigmoid/tanh unit. The accuracy axis is
# this notebook's ideal-ADC accuracy at each N; energy and latency per inference come from the estimator
# (every number traceable to its energy-table entry).

# %%

import pandas as pd  # noqa: E402

from npegen.analysis import workloads as W  # noqa: E402
from npegen.analysis.estimator import CrossbarArray, default_design, estimate  # noqa: E402
from npegen.analysis.plots import subplots  # noqa: E402

acc = tables["accuracy"]
rows = []
for n in (3, 4, 5, 8):
    for adc in ("ramp", "sar"):
        d = default_design().with_engine(CrossbarArray(adc=adc, adc_bits=n))
        for cell, wl_name in (("LSTM", "rnn.kws_lstm_s"), ("GRU", "rnn.kws_gru_s")):
            r = estimate(d, W.get_workload(wl_name))
            xb = r.layers[r.layers["engine"] == "crossbar"]
            rows.append({"N": n, "adc": adc, "cell": cell, "workload": wl_name,
                         "accuracy (ideal ADC)": acc.loc[f"ideal N={n}", cell] if f"ideal N={n}" in acc.index
                         else float("nan"),
                         "energy/inference nJ": float(r.summary["energy_per_run_J"]) * 1e9,
                         "ADC+NL energy nJ": (xb["E_adc_pJ"].sum() + xb["E_nl_pJ"].sum()) * 1e-3,
                         "latency us": float(r.summary["latency_s"]) * 1e6})
bits = pd.DataFrame(rows)
print(bits.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
bits.to_csv(OUT / "rnn_bits_energy_latency.csv", index=False)

fig, (a1, a2) = subplots(1, 2, figsize=(10, 4))
for (cell, adc), g in bits.groupby(["cell", "adc"]):
    style = "o-" if adc == "ramp" else "s--"
    a1.plot(g["ADC+NL energy nJ"], g["accuracy (ideal ADC)"], style, label=f"{cell}, {adc}")
    for _, r in g.iterrows():
        a1.annotate(f"N={r['N']}", (r["ADC+NL energy nJ"], r["accuracy (ideal ADC)"]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
    a2.plot(g["N"], g["latency us"], style, label=f"{cell}, {adc}")
a1.set_xscale("log")
a1.set_xlabel("ADC + activation energy per inference (nJ)")
a1.set_ylabel("test accuracy (ideal ADC)")
a1.set_title("accuracy vs conversion energy")
a2.set_yscale("log")
a2.set_xlabel("ADC bits N")
a2.set_ylabel("latency per inference (us)")
a2.set_title("latency vs ADC bits")
for a in (a1, a2):
    a.grid(True, alpha=0.3)
    a.legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "rnn_bits_energy_latency.png", dpi=110)
print("wrote", OUT / "rnn_bits_energy_latency.png")
