"""Side-by-side runs of the estimator and ZigZag (``pip install npegen[oracles]``: zigzag-dse 3.9.1 + six).

Both get the same machine: ZigZag's own ``tpu_like`` accelerator (a 32 x 32 weight-stationary 8-bit MAC
array, 128 B register files, a 2 MB SRAM with a 2048-bit port, DRAM with a 64-bit port) and the npegen
:func:`tpu_like_design` that mirrors it - 1024 INT8 MAC lanes, 256 B/cycle SRAM, 8 B/cycle DRAM at 1 GHz -
with the estimator's energy entries overridden by ZigZag's numbers (``unit_energy`` 0.04 pJ per MAC,
0.095 pJ per 8-bit register access, 416.16 pJ per 2048-bit SRAM read, 700 pJ per 64-bit DRAM read).

Where they differ (by construction): ZigZag searches spatial/temporal mappings and charges every memory
port per loop; the estimator assumes a weight-stationary mapping with double buffering, so a layer costs
``max(compute, DRAM, SRAM)``. Measured (``make bench``, ``tests/bench/test_bench_estimator.py``):

* q_proj GEMM 16x2048x2048 (DRAM-bound, 4 MiB of weights through 8 B/cycle): npegen 532,480 cycles vs
  ZigZag 529,471 (1.006x), energy 1.016x - both are set by the weight traffic.
* conv 3x3, 64x32x56x56 (compute-bound): npegen 56,449 cycles vs ZigZag 69,968 (0.81x), energy 0.96x.
  ZigZag loads the layer's 107,648-byte input from DRAM *before* computing (13,456 cycles at 8 B/cycle;
  56,449 + 13,456 = 69,905), where the estimator overlaps it with the computation.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from dataclasses import dataclass

from .energy import EnergyTable
from .estimator import Design, IntMacArray, Memory, estimate
from .workloads import Layer, Workload

__all__ = ["OracleCase", "ORACLE_CASES", "tpu_like_design", "zigzag_available", "run_zigzag", "compare_zigzag"]


@dataclass(frozen=True)
class OracleCase:
    """A GEMM (``O[d][k] += I[d][c] * W[c][k]``) or a convolution, in both tools' terms."""

    name: str
    kind: str  # "gemm" or "conv"
    dims: dict

    def zigzag_layer(self) -> dict:
        prec = {"W": 8, "I": 8, "O": 16, "O_final": 8}
        if self.kind == "gemm":
            d = self.dims
            return {"id": 0, "name": self.name, "operator_type": "Gemm",
                    "equation": "O[b][d][k]+=I[b][d][c]*W[c][k]", "loop_dims": ["B", "D", "C", "K"],
                    "loop_sizes": [1, d["M"], d["K"], d["N"]], "operand_precision": prec}
        d = self.dims
        return {"id": 0, "name": self.name, "operator_type": "Conv",
                "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                "dimension_relations": ["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
                "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                "loop_sizes": [1, d["K"], d["C"], d["OY"], d["OX"], d["FY"], d["FX"]], "operand_precision": prec}

    def layer(self) -> Layer:
        d = self.dims
        if self.kind == "gemm":
            return Layer(self.name, d["M"], d["N"], d["K"], precision="int8", kind="linear")
        inputs = d["C"] * (d["OY"] + d["FY"] - 1) * (d["OX"] + d["FX"] - 1)  # stride 1, no padding
        return Layer(self.name, d["OY"] * d["OX"], d["K"], d["C"] * d["FY"] * d["FX"], precision="int8", kind="conv",
                     inputs=inputs)


#: The reference sheet's cases (estimator.md 4.1): LLaMA q_proj for 16 tokens, and a 3x3 convolution.
ORACLE_CASES = (
    OracleCase("q_proj_gemm_16x2048x2048", "gemm", {"M": 16, "K": 2048, "N": 2048}),
    OracleCase("conv3x3_64x32x56x56", "conv", {"K": 64, "C": 32, "OY": 56, "OX": 56, "FY": 3, "FX": 3}),
)


def tpu_like_design() -> Design:
    """The npegen design that mirrors ZigZag's ``tpu_like`` accelerator (see the module docstring)."""
    zz = "zigzag-dse 3.9.1 inputs/hardware/tpu_like.yaml"
    t = EnergyTable().update({
        "mac.int8": {"value": 0.04, "source": f"{zz}: unit_energy", "node_nm": 28, "vdd": 0.9},
        "rf.pj_per_bit": {"value": 0.095 / 8, "source": f"{zz}: rf_128B r_cost per 8 bits"},
        "sram.large.pj_per_bit": {"value": 416.16 / 2048, "source": f"{zz}: sram_2MB r_cost per 2048 bits"},
        "dram.pj_per_bit": {"value": 700 / 64, "source": f"{zz}: dram r_cost per 64 bits"},
    })
    return Design(name="tpu_like (npegen mirror)", engines=(IntMacArray(lanes=1024),),
                  memory=Memory(sram_kib=2048, sram_bytes_per_cycle=256, dram_gbps=8.0), table=t)


def zigzag_available() -> bool:
    try:
        import zigzag  # noqa: F401
    except ImportError:
        return False
    return True


def run_zigzag(case: OracleCase) -> dict:
    """Latency (cycles), energy (pJ) and MAC utilisation of one case on ZigZag's ``tpu_like``."""
    import zigzag
    from zigzag.api import get_hardware_performance_zigzag

    root = os.path.dirname(zigzag.__file__)
    logging.getLogger("zigzag").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        energy, latency, cmes = get_hardware_performance_zigzag(
            [case.zigzag_layer()], f"{root}/inputs/hardware/tpu_like.yaml", f"{root}/inputs/mapping/tpu_like.yaml",
            opt="latency", dump_folder=out, loma_show_progress_bar=False)
    cme = cmes[0][1][0][0] if isinstance(cmes[0][1], list) else cmes[0][0]
    return {"cycles": float(latency), "energy_pJ": float(energy),
            "mac_energy_pJ": float(getattr(cme, "mac_energy", float("nan"))),
            "utilization": float(getattr(cme, "mac_utilization2", float("nan")))}


def compare_zigzag(cases=ORACLE_CASES):
    """Both tools on each case: a pandas DataFrame with cycles, energy and their ratios."""
    import pandas as pd

    design = tpu_like_design()
    rows = []
    for case in cases:
        zz = run_zigzag(case)
        r = estimate(design, Workload(case.name, (case.layer(),)))
        ly = r.layers.iloc[0]
        ours_e = float(r.summary["energy_per_run_J"]) * 1e12
        rows.append({"case": case.name, "MACs": case.layer().macs, "ideal": ly["ideal"],
                     "npegen cycles": ly["cycles"], "zigzag cycles": zz["cycles"],
                     "cycles npegen/zigzag": ly["cycles"] / zz["cycles"], "npegen bound": ly["bound"],
                     "npegen pJ": ours_e, "zigzag pJ": zz["energy_pJ"],
                     "energy npegen/zigzag": ours_e / zz["energy_pJ"],
                     "npegen MAC pJ": ly["E_mac_pJ"], "zigzag MAC pJ": zz["mac_energy_pJ"],
                     "zigzag utilization": zz["utilization"]})
    return pd.DataFrame(rows).set_index("case")
