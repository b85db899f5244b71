"""cocotb testbench of :class:`npegen.hw.int_mac.IntMac`, bit-exact against
:func:`npegen.models.int_mac.ref_int_mac`.

The design point arrives as ``PARAM_*`` environment variables
(:meth:`IntMacParams.to_env`), the lane's port layouts as ``NPEGEN_PORTS``
(:class:`~npegen.sim.util.Ports`) and the stimulus seed as ``NPEGEN_SEED``; run it
through :func:`verify_int_mac` (or ``npegen verify int-mac``).

Timing convention: beats go in through a :class:`~npegen.sim.stream.StreamDriver`
(packed with the lane's own ``i`` layout; ``clear`` as sideband; the sequence's
idle cycles as explicit idle items that still carry their operands), driven and
sampled at the *falling* edge, one trigger per cycle. The value sampled after
rising edge ``t`` must equal the model's state after beat ``t - latency + 1``, and
the reset state before that, so a wrong latency fails as surely as a wrong sum.

Lost and extra results: the lane has no output handshake, so every cycle is
checked. A beat whose product never reaches the accumulator fails naming the
beat ("lost"); an accumulator that moves on an idle cycle, or during the
``latency + 2`` idle cycles that follow every sequence, fails naming the cycle
("extra"). The only wait on a value (the dot-product job of
``test_reset_and_ready``) is bounded by a :class:`~npegen.sim.util.Watchdog` of
``latency`` cycles after the last beat.

Tests
-----
test_all_pairs
    Every operand pair for ``width <= 8`` (65,536 for INT8), each beat with
    ``clear`` so the accumulator shows each product alone, then 8,192 of them
    (seeded, random order) accumulated back to back; for wider lanes the
    corner table plus 16,384 random pairs.
test_random_accumulate
    Random sequences with clears, idle cycles and range-end operands
    (``NPEGEN_N`` cycles, default 20,000).
test_overflow_corners
    Hand-written table: worst-case products up to and past overflow in both
    directions, clear with and without a beat, idle cycles, overflow flag
    stickiness; then one dot product that overflows and is cleared, checked
    against values computed here with Python integers (not the model).
test_reset_and_ready
    Reset values, ``i.ready`` held high, ``clear`` alone; the cycles of one dot product as a job (recorded
    for the estimator's cross-check when ``NPEGEN_MEASURE_FILE`` is set).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.int_mac import IntMacParams, exhaustive_pairs, random_sequence, ref_int_mac
from .stream import StreamDriver
from .util import Ports, Watchdog, cycle_now, record_measurement, rng_from_env, sim_env, start

TOPLEVEL = "int_mac"
TEST_MODULE = __name__
#: Pairs of ``test_all_pairs`` accumulated back to back (after every pair was checked alone).
ACCUMULATED_PAIRS = 8192


def overflow_corner_table(p: IntMacParams) -> dict[str, np.ndarray]:
    """Deterministic corner sequence for design point ``p`` (see module docstring)."""
    lo, hi = -(1 << (p.width - 1)), (1 << (p.width - 1)) - 1
    k = min(p.safe_beats + 3, 600)  # enough worst-case products to overflow (narrow accs), bounded
    rows: list[tuple[int, int, int, int]] = []  # (a, b, valid, clear)
    rows += [(lo, lo, 1, 0)] * k  # +2**(2w-2) repeatedly: positive overflow
    rows += [(0, 0, 0, 0)] * 3  # idle: acc and sticky flag hold
    rows += [(hi, hi, 1, 0)] * 2
    rows += [(lo, hi, 1, 1)]  # clear with a beat: acc = lo*hi, flag reset
    rows += [(lo, hi, 1, 0)] * k  # negative products: negative overflow
    rows += [(1, 1, 1, 0), (-1, 1, 1, 0)]
    rows += [(hi, lo, 0, 1)]  # clear alone, with operands that must not be accumulated
    rows += [(hi, 1, 1, 0), (lo, 1, 1, 0), (lo, -1, 1, 0), (0, lo, 1, 0), (lo, 0, 1, 0)]
    rows += [(lo, lo, 1, 1)] * 3  # back-to-back clears with beats
    rows += [(lo, lo, 0, 0)] * 2  # operands change while idle: ignored
    a, b, v, c = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    return {"a": a, "b": b, "valid": v.astype(bool), "clear": c.astype(bool)}


def overflow_then_clear(p: IntMacParams) -> tuple[dict[str, np.ndarray], list[tuple[int, int, bool, str]]] | None:
    """One dot product that overflows, is cleared (with a beat), overflows again and is cleared alone.

    Returns ``(seq, checkpoints)``: ``checkpoints`` are ``(beat, acc, overflow, what)`` computed here with
    Python integers from the documented semantics (independently of :func:`ref_int_mac`), or ``None`` when
    the accumulator is too wide to overflow within 600 worst-case beats.
    """
    lo = -(1 << (p.width - 1))
    big = lo * lo  # the largest product
    k = p.acc_max // big + 2  # the exact sum passes acc_max on beat k-2; one more beat after it
    if k > 600:
        return None
    mod, half = 1 << p.acc_width, 1 << (p.acc_width - 1)

    def fit(x: int) -> int:
        return (x + half) % mod - half if p.overflow == "wrap" else min(max(x, p.acc_min), p.acc_max)

    rows = [(lo, lo, 1, 0)] * k  # overflow (the first row also clears: see below)
    rows += [(3, -5, 1, 1), (2, 2, 1, 0)]  # clear with a beat: a new sum, flag reset
    rows += [(lo, lo, 1, 0)] * k  # overflow again
    rows += [(lo, lo, 0, 1), (lo, lo, 0, 0), (1, 1, 1, 0)]  # clear alone, idle, one beat
    a, b, v, c = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    c[0] = 1
    after_first = fit(k * big)
    checks = [
        (k - 1, after_first, True, "after the overflow"),
        (k, -15, False, "clear with a beat after the overflow"),
        (k + 1, -11, False, "the beat after that clear"),
        (2 * k + 1, fit(-11 + k * big), True, "after the second overflow"),
        (2 * k + 2, 0, False, "clear alone after the overflow"),
        (2 * k + 3, 0, False, "idle cycle after that clear"),
        (2 * k + 4, 1, False, "the beat after that"),
    ]
    return {"a": a, "b": b, "valid": v.astype(bool), "clear": c.astype(bool)}, checks


def check_trace(p: IntMacParams, seq: dict[str, np.ndarray], got_acc: np.ndarray, got_ovf: np.ndarray,
                label: str) -> None:
    """Compare the sampled trace (``got_*[i]`` = the outputs once beat ``i`` is in, see the module docstring)
    with :func:`ref_int_mac`; raise :class:`AssertionError` naming the first differing beat and whether its
    result was lost (the accumulator does not include it) or extra (the accumulator moved on an idle cycle)."""
    a, b, valid, clear = seq["a"], seq["b"], seq["valid"], seq["clear"]
    n = a.size
    want_acc, want_ovf = ref_int_mac(p, a, b, valid, clear)
    if got_acc.shape != (n,) or got_ovf.shape != (n,):
        raise AssertionError(f"{label}: {got_acc.size} samples for {n} beats ({p.tag})")
    bad = np.flatnonzero((got_acc != want_acc) | (got_ovf != want_ovf))
    if not bad.size:
        return
    i = int(bad[0])
    before = int(want_acc[i - 1]) if i else 0  # every sequence starts with a clear or from reset
    without = 0 if clear[i] else before  # the accumulator had this cycle's beat not arrived
    if got_acc[i] == want_acc[i]:
        kind = "wrong overflow flag"
    elif valid[i] and got_acc[i] == without:
        kind = "lost: the accumulator does not show this beat"
    elif clear[i] and not valid[i]:
        kind = ("lost clear: the accumulator was not zeroed" if got_acc[i] == before
                else "extra: a clear without a beat accumulated the idle operands")
    elif not valid[i]:
        kind = "extra: the accumulator changed on an idle cycle"
    else:
        kind = "wrong result for this beat"
    raise AssertionError(
        f"{label}: {bad.size} of {n} cycles differ from the model; first at cycle {i} (beat {i}, {kind}): "
        f"a={a[i]} b={b[i]} valid={int(valid[i])} clear={int(clear[i])} -> "
        f"rtl acc={got_acc[i]} overflow={int(got_ovf[i])}, model acc={want_acc[i]} "
        f"overflow={int(want_ovf[i])} ({p.tag})"
    )


def check_drain(p: IntMacParams, final: tuple[int, bool], got_acc, got_ovf, label: str) -> None:
    """The idle cycles after a sequence: the accumulator and flag must hold ``final`` (an extra result fails,
    naming the idle cycle)."""
    for j, (x, o) in enumerate(zip(got_acc, got_ovf, strict=True)):
        if (int(x), bool(o)) != (int(final[0]), bool(final[1])):
            raise AssertionError(
                f"{label}: extra result after the last beat: at idle cycle {j + 1} after the sequence acc={x} "
                f"overflow={int(o)}, but it must hold acc={final[0]} overflow={int(final[1])} ({p.tag})")


def drain_cycles(p: IntMacParams) -> int:
    """Idle cycles checked after every sequence (:func:`check_drain`)."""
    return p.latency + 2


async def _start(dut) -> tuple[IntMacParams, Ports]:
    await start(dut, i__valid=0, i__payload=0, clear=0)
    return IntMacParams.from_env(), Ports.from_env()


def beats(seq: dict[str, np.ndarray]) -> list[dict[str, int]]:
    """The ``i`` payloads of ``seq`` as dicts of the lane's layout (``{"a": ..., "b": ...}``)."""
    return [{"a": x, "b": y} for x, y in zip(seq["a"].tolist(), seq["b"].tolist(), strict=True)]


#: Operands on the bus in idle cycles: a non-zero product that must not be accumulated.
IDLE_OPERANDS = {"a": -1, "b": -1}


async def drive_and_check(dut, ports: Ports, p: IntMacParams, seq: dict[str, np.ndarray], label: str):
    """Drive ``seq`` one beat per cycle through a :class:`~npegen.sim.stream.StreamDriver` (the ``valid = 0`` cycles
    of ``seq`` as explicit idle cycles that still carry their operands, ``clear`` as sideband), sample every cycle
    and compare with the model bit for bit; then hold the inputs idle (with non-zero operands) for
    :func:`drain_cycles` cycles and check nothing more arrives. Returns the aligned samples ``(acc, overflow)``,
    one per beat."""
    n, lat, drain = seq["a"].size, p.latency, drain_cycles(p)
    # Samples after rising edge t show the model after beat t - lat + 1; until then, the state before
    # this sequence (a clear at the start of every sequence makes that deterministic).
    acc, ovf = [], []
    h_acc, h_ovf = dut.acc, dut.overflow
    t0 = cycle_now()

    def sample(c: int, ready) -> None:  # at falling edge c: the outputs after the rising edge that ended c - 1
        assert ready == 1, f"{label}: i.ready dropped at cycle {c - t0}"
        if c > t0:
            acc.append(h_acc.value.to_signed())
            ovf.append(int(h_ovf.value))

    # i.ready is constant: read it at the falling edge (no settle), every cycle (the hook)
    drv = StreamDriver.from_ports(dut, ports, "i", settle=False, on_cycle=sample, label=label,
                                  idle_payload=IDLE_OPERANDS)
    await drv.send(beats(seq), valid=seq["valid"].tolist(), sideband={"clear": seq["clear"].astype(int).tolist()})
    await drv.idle(lat + drain)
    got_acc = np.array(acc, dtype=np.int64)
    got_ovf = np.array(ovf, dtype=bool)
    beats_ = slice(lat - 1, lat - 1 + n)
    check_trace(p, seq, got_acc[beats_], got_ovf[beats_], label)
    if n:
        check_drain(p, (got_acc[lat - 2 + n], got_ovf[lat - 2 + n]), got_acc[lat - 1 + n:], got_ovf[lat - 1 + n:],
                    label)
    dut._log.info("%s: %d cycles bit-exact (%s)", label, n, p.tag)
    return got_acc[beats_], got_ovf[beats_]


@cocotb.test()
async def test_all_pairs(dut):
    p, ports = await _start(dut)
    rng = rng_from_env(1)
    if p.width <= 8:
        a, b = exhaustive_pairs(p.width)
        label = f"all {a.size} pairs"
    else:
        n = 16384
        lo, hi = -(1 << (p.width - 1)), (1 << (p.width - 1)) - 1
        corners = np.array([lo, lo + 1, -2, -1, 0, 1, 2, hi - 1, hi], dtype=np.int64)
        ca, cb = np.meshgrid(corners, corners, indexing="ij")
        a = np.concatenate([ca.ravel(), rng.integers(lo, hi, n, endpoint=True)])
        b = np.concatenate([cb.ravel(), rng.integers(lo, hi, n, endpoint=True)])
        label = f"{corners.size ** 2} corner + {n} random pairs"
    ones = np.ones(a.size, dtype=bool)
    await drive_and_check(dut, ports, p, {"a": a, "b": b, "valid": ones, "clear": ones}, label + ", one product each")
    # back to back into one accumulation: a seeded random subset in random order (test_random_accumulate and
    # test_overflow_corners cover accumulation further)
    pick = rng.permutation(a.size)[:ACCUMULATED_PAIRS]
    ones = np.ones(pick.size, dtype=bool)
    clear = np.zeros(pick.size, dtype=bool)
    clear[0] = True
    await drive_and_check(dut, ports, p, {"a": a[pick], "b": b[pick], "valid": ones, "clear": clear},
                          f"{pick.size} of the pairs, accumulated")


@cocotb.test()
async def test_random_accumulate(dut):
    p, ports = await _start(dut)
    n = int(os.environ.get("NPEGEN_N", "20000"))
    seq = random_sequence(p, n, rng_from_env(2))
    seq["clear"][0] = True
    await drive_and_check(dut, ports, p, seq, f"{n} random cycles")


@cocotb.test()
async def test_overflow_corners(dut):
    p, ports = await _start(dut)
    seq = overflow_corner_table(p)
    seq["clear"][0] = True
    await drive_and_check(dut, ports, p, seq, "overflow corner table")
    case = overflow_then_clear(p)
    if case is None:
        dut._log.info("overflow then clear: acc_width %d does not overflow within 600 beats", p.acc_width)
        return
    seq, checks = case
    acc, ovf = await drive_and_check(dut, ports, p, seq, "overflow then clear")
    for beat, want_acc, want_ovf, what in checks:
        assert (int(acc[beat]), bool(ovf[beat])) == (want_acc, want_ovf), (
            f"overflow then clear, beat {beat} ({what}): rtl acc={acc[beat]} overflow={int(ovf[beat])}, "
            f"expected acc={want_acc} overflow={int(want_ovf)} ({p.tag})")


@cocotb.test()
async def test_reset_and_ready(dut):
    p, ports = await _start(dut)
    assert dut.acc.value.to_signed() == 0 and int(dut.overflow.value) == 0, "reset state is not zero"
    assert int(dut.i__ready.value) == 1
    lo = -(1 << (p.width - 1))
    seq = {"a": np.array([lo, lo]), "b": np.array([lo, 1]), "valid": np.array([True, True]),
           "clear": np.array([False, False])}
    await drive_and_check(dut, ports, p, seq, "two beats after reset")
    drv = StreamDriver.from_ports(dut, ports, "i", settle=False, label="clear alone")
    await drv.send([IDLE_OPERANDS], valid=[False], sideband={"clear": [1]})  # clear without a beat
    await drv.idle(p.latency)
    assert dut.acc.value.to_signed() == 0, "clear alone did not zero the accumulator"
    assert int(dut.overflow.value) == 0

    # a dot product as a job: K beats (the first with clear) of one positive product each, so the
    # accumulator rises every cycle; wait (at most `latency` cycles after the last beat) for its final value
    k, prod = 40, 1
    want = k * prod
    wd = Watchdog(p.latency, lambda: f"dot-product job of {k} beats: the final sum {want} (beat {k - 1} "
                                     f"accumulated) ({p.tag})")
    seen: list[int] = []
    t0 = cycle_now()

    def watch(c: int, _ready) -> None:  # the sample after the edge that ended cycle c - 1, read at falling edge c
        if c > t0 and not seen and dut.acc.value.to_signed() == want:
            seen.append(c - t0 - 1)

    one = {"a": 1, "b": 1}
    drv = StreamDriver.from_ports(dut, ports, "i", settle=False, on_cycle=watch, idle_payload=one,
                                  label="dot-product job")
    await drv.send([one] * k, sideband={"clear": [1] + [0] * (k - 1)})
    while not seen:
        await drv.idle(1)
        if not seen:
            wd.tick()
    record_measurement("int_mac.test_reset_and_ready", cycles=seen[0] + 1 + 1, k=k)


def verify_int_mac(params: IntMacParams | None = None, *, sim: str | None = None, seed: int | None = None,
                   testcase: str | None = None, n_random: int | None = None, env_override=None,
                   component=None, **runner_kwargs):
    """Emit, build and run this testbench for one design point; raise on any mismatch.

    Parameters
    ----------
    params : IntMacParams, optional
        Design point (default: INT8, 24-bit wrapping accumulator, 1 stage).
    sim, seed, testcase
        As :func:`npegen.sim.runner.run_cocotb`.
    n_random : int, optional
        Cycles of ``test_random_accumulate`` (default 20,000).
    env_override : mapping, optional
        Replace testbench parameters (tests use it to tell the testbench a wrong design point).
    component : optional
        Run the testbench on this component instead of ``IntMac.from_params(params)`` (mutation tests).

    Returns
    -------
    npegen.sim.runner.SimResult
    """
    from ..hw.int_mac import IntMac
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)  # reject a bad simulator before anything is built
    params = IntMacParams() if params is None else params
    env = params.to_env()
    if n_random is not None:
        env["NPEGEN_N"] = str(int(n_random))
    env.update(env_override or {})
    dut = IntMac.from_params(params) if component is None else component
    env.update(sim_env(dut))  # the lane's own layouts, for the testbench to pack with
    tag = params.tag if component is None else f"{params.tag}_{type(component).__name__.lower()}"
    return run_cocotb(dut, toplevel=TOPLEVEL, test_module=TEST_MODULE, env=env, tag=tag, sim=sim, seed=seed,
                      testcase=testcase, **runner_kwargs)
