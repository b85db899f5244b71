# amaranth: UnusedElaboratable=no
"""The simulator runner: a wrong design or a wrong expectation must fail loudly; bad arguments are
rejected by name; every design point builds in its own directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from amaranth.hdl import Module, Mux
from amaranth.lib import wiring

from npegen.hw.int_mac import IntMac
from npegen.models.int_mac import IntMacParams
from npegen.sim import runner
from npegen.sim.runner import SimulationError, resolve_sim, rewrite_patterns, run_cocotb
from npegen.sim.tb_int_mac import verify_int_mac


class CornerBugMac(wiring.Component):
    """IntMac with one wrong product: (-2**(w-1)) * (-2**(w-1)) is computed as (-2**(w-1)) * (-2**(w-1)+1).
    Only one of the 65,536 INT8 pairs is affected, so only an exhaustive test is sure to see it."""

    def __init__(self, params: IntMacParams):
        self._inner = IntMac.from_params(params)
        self._lo = -(1 << (params.width - 1))
        super().__init__(self._inner.signature.flip().flip())

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self._inner
        a, b = self.i.payload.a, self.i.payload.b
        corner = (a == self._lo) & (b == self._lo)
        m.d.comb += [
            inner.i.payload.a.eq(a),
            inner.i.payload.b.eq(Mux(corner, self._lo + 1, b)),
            inner.i.valid.eq(self.i.valid),
            self.i.ready.eq(inner.i.ready),
            inner.clear.eq(self.clear),
            self.acc.eq(inner.acc),
            self.overflow.eq(inner.overflow),
        ]
        return m


def test_mutant_with_one_wrong_product_fails_the_exhaustive_test(sim, seed):
    p = IntMacParams(width=8, acc_width=24)
    with pytest.raises(SimulationError) as info:
        verify_int_mac(p, sim=sim, seed=seed, testcase="test_all_pairs", component=CornerBugMac(p))
    err = info.value
    assert [name for name, _ in err.failures] == ["test_all_pairs"]
    for part in ("1 of 65536 cycles differ", "a=-128 b=-128", "rtl acc=16256 ", "model acc=16384"):
        assert part in str(err)


def test_mismatching_expected_values_fail(sim, seed):
    # The DUT wraps a 16-bit accumulator; the testbench is told it saturates: its expected values
    # disagree as soon as the accumulator overflows.
    p = IntMacParams(width=8, acc_width=16, overflow="wrap")
    with pytest.raises(SimulationError, match=r"1 of 1 cocotb tests failed .*test_overflow_corners"):
        verify_int_mac(p, sim=sim, seed=seed, testcase="test_overflow_corners",
                       env_override={"PARAM_OVERFLOW": "saturate"})


def test_wrong_latency_is_caught(sim, seed):
    p = IntMacParams(width=8, acc_width=24, stages=2)
    with pytest.raises(SimulationError, match="differ from the model"):
        verify_int_mac(p, sim=sim, seed=seed, testcase="test_overflow_corners",
                       env_override={"PARAM_STAGES": "1"})


def test_no_matching_test_is_an_error(sim, seed):
    with pytest.raises(SimulationError, match="no cocotb test ran .* matching 'no_such_test'"):
        verify_int_mac(IntMacParams(width=4, acc_width=8), sim=sim, seed=seed, testcase="no_such_test")


def test_unknown_simulator_is_rejected(monkeypatch):
    with pytest.raises(ValueError, match=r"sim must be one of \('icarus', 'verilator'\), not 'questa'"):
        resolve_sim("questa")
    with pytest.raises(TypeError, match="sim must be one of .* not 3"):
        resolve_sim(3)
    monkeypatch.setenv("SIM", "xsim")
    with pytest.raises(ValueError, match="not 'xsim'"):
        resolve_sim(None)
    with pytest.raises(ValueError, match="not 'questa'"):
        verify_int_mac(sim="questa")


@pytest.mark.parametrize("seed_value", [-1, 2**32, "7", True])
def test_bad_seed_is_rejected(seed_value):
    with pytest.raises(ValueError, match="seed must be an integer in"):
        run_cocotb(IntMac(), toplevel="int_mac", test_module="npegen.sim.tb_int_mac", seed=seed_value)


def test_design_points_build_apart_and_verilog_is_kept_when_unchanged(sim, seed, tmp_path, monkeypatch):
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path))
    p1, p2 = IntMacParams(width=4, acc_width=8), IntMacParams(width=4, acc_width=9)
    r1 = verify_int_mac(p1, sim=sim, seed=seed, testcase="test_reset_and_ready")
    r2 = verify_int_mac(p2, sim=sim, seed=seed, testcase="test_reset_and_ready")
    assert r1.build_dir != r2.build_dir and r1.build_dir.parent == tmp_path / "sim"
    assert r1.seed == seed and "PARAM_ACC_WIDTH" not in str(r1.build_dir)
    mtime = r1.verilog.stat().st_mtime_ns
    r1b = verify_int_mac(p1, sim=sim, seed=seed, testcase="test_reset_and_ready")
    assert r1b.verilog.stat().st_mtime_ns == mtime


def test_waves_are_opt_in(sim, seed, tmp_path, monkeypatch):
    if sim != "icarus":
        pytest.skip("waveform file name checked for Icarus")
    monkeypatch.setenv("NPEGEN_BUILD_DIR", str(tmp_path))
    p = IntMacParams(width=4, acc_width=8)
    r = verify_int_mac(p, sim=sim, seed=seed, testcase="test_reset_and_ready")
    assert r.waves is None and not list(tmp_path.rglob("*.fst"))
    monkeypatch.setenv("WAVES", "1")
    r = verify_int_mac(p, sim=sim, seed=seed, testcase="test_reset_and_ready")
    assert r.waves is not None and r.waves.is_file() and r.waves.stat().st_size > 0


def test_assertion_rewriting_is_limited_to_the_testbench_modules(tmp_path, monkeypatch):
    """Every run rewrites the asserts of the testbench modules only (``tb_*``, ``test_*`` and the test module itself),
    not of every module the simulator imports; a value in ``env`` or in the environment wins."""
    seen = []

    class FakeRunner:  # records the environment of the run; reports one passed test
        def build(self, **kw):
            pass

        def test(self, *, extra_env, results_xml, **kw):
            seen.append(dict(extra_env))
            Path(results_xml).write_text('<testsuites><testsuite><testcase name="t"/></testsuite></testsuites>')

    import cocotb_tools.runner

    monkeypatch.setattr(cocotb_tools.runner, "get_runner", lambda sim: FakeRunner())
    monkeypatch.setattr(runner, "_check_simulator", lambda sim: None)
    monkeypatch.delenv(runner.REWRITE_ENV, raising=False)
    kw = dict(toplevel="int_mac", seed=1, build_dir=tmp_path, quiet=True)
    run_cocotb(IntMac(), test_module="npegen.sim.tb_int_mac", **kw)
    run_cocotb(IntMac(), test_module="toy_block", **kw)
    run_cocotb(IntMac(), test_module="toy_block", env={runner.REWRITE_ENV: "*.py"}, **kw)
    monkeypatch.setenv(runner.REWRITE_ENV, "x_*.py")
    run_cocotb(IntMac(), test_module="toy_block", **kw)
    assert [e.get(runner.REWRITE_ENV) for e in seen] == ["tb_*.py test_*.py", "tb_*.py test_*.py toy_block.py",
                                                         "*.py", None]
    assert rewrite_patterns("test_sim_util") == "tb_*.py test_*.py"
