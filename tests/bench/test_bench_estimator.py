"""`make bench`: estimator speed (layer evaluations per second) and the same layers through ZigZag in the
same run, plus both tools' results side by side on the reference sheet's GEMM and convolution."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from npegen.analysis import workloads as W
from npegen.analysis.estimator import default_design, estimate
from npegen.analysis.oracles import ORACLE_CASES, compare_zigzag, run_zigzag, tpu_like_design, zigzag_available
from npegen.analysis.workloads import Workload

pytestmark = pytest.mark.bench


def _layers_per_s(design, workloads, seconds=2.0):
    n_layers, t0, runs = 0, time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or runs == 0:
        for wl in workloads:
            estimate(design, wl)
            n_layers += len(wl.layers)
        runs += 1
    return n_layers / (time.perf_counter() - t0), n_layers


def test_estimator_speed_and_zigzag(capsys):
    design = default_design()
    wls = [W.get_workload(n) for n in W.WORKLOADS]
    rate_all, n = _layers_per_s(design, wls)
    # the same layers in both tools: the oracle cases, one layer per call as ZigZag gets them
    mirror = tpu_like_design()
    single = [Workload(c.name, (c.layer(),)) for c in ORACLE_CASES]
    rate_same, _ = _layers_per_s(mirror, single, seconds=1.0)
    lines = [f"estimator: {rate_all:,.0f} layer evaluations/s over every built-in workload ({n:,} layers), "
             f"{rate_same:,.0f}/s on the oracle cases one layer per call"]
    if zigzag_available():
        t0 = time.perf_counter()
        for c in ORACLE_CASES:
            run_zigzag(c)
        zz_rate = len(ORACLE_CASES) / (time.perf_counter() - t0)
        lines.append(f"ZigZag 3.9.1: {zz_rate:.2f} layer evaluations/s on the same cases: the estimator is "
                     f"{rate_same / zz_rate:,.0f}x faster")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            table = compare_zigzag().T.to_string()
    else:
        table = "ZigZag not installed (pip install -e '.[oracles]'): comparison skipped"
    with capsys.disabled():
        print("\n\n" + "\n".join(lines) + "\n\nsame machine (ZigZag tpu_like and its npegen mirror):\n" + table)
