"""The Amaranth-simulator stream pair every ``rtl_*`` test uses: :func:`stream_send` and :func:`stream_recv`, async
testbench helpers for :mod:`amaranth.lib.stream` interfaces (or any valid/ready/payload trio, :class:`Interface`)
whose payloads are packed and unpacked with the interface's own layout, with random idle cycles and back-pressure
built in and every wait bounded by a :class:`~npegen.sim.util.Watchdog`. (No cocotb here: the cocotb pair is
:mod:`npegen.sim.stream`.)

Edges are counted per testbench from its start: edge ``k`` is the ``k``-th ``ctx.tick()``. A beat is *taken at
edge k* when ``valid`` and ``ready`` are both high just before it (what ``ctx.tick().sample(...)`` returns); a
registered output updated at edge ``k`` is read after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from amaranth.hdl import Value

from .util import Watchdog, codec

__all__ = ["DEFAULT_WAIT", "Interface", "StreamLog", "stream_apply", "stream_idle", "stream_recv", "stream_send"]

#: Edges a helper waits (for ``ready``, or for a beat) when no watchdog is given.
DEFAULT_WAIT = 10_000


@dataclass
class Interface:
    """A valid / ready / payload trio that is not an :mod:`amaranth.lib.stream` interface, e.g. ``RampAdc``'s
    ``start`` / ``ready`` / ``x``; ``ready=None``: never stalls (an output strobe such as ``valid`` / ``y``)."""

    valid: Value
    ready: Value | None
    payload: object


@dataclass
class StreamLog:
    """What one :func:`stream_send` or :func:`stream_recv` saw (pass the same log to link the two).

    Attributes
    ----------
    accepted : list of int
        Edges that took each beat sent (:func:`stream_send`), or each upstream beat (:func:`stream_recv` with
        ``upstream``).
    edges : list of int
        Edges that took each beat received (:func:`stream_recv`).
    blocked : list of int
        Edges before which a beat waited with ``ready`` low (:func:`stream_recv`).
    done : bool
        :func:`stream_send` has sent everything.
    """

    accepted: list[int] = field(default_factory=list)
    edges: list[int] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)
    done: bool = False


def _payload(stream):
    p = stream.payload
    layout = p.shape()
    return Value.cast(p), codec(layout)


def _random_bits(rng, width: int) -> int:
    return int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)


async def stream_send(ctx, stream, payloads: Sequence, *, valid: Sequence | None = None, sideband=None,
                      idle_prob: float = 0.0, rng=None, idle_payload=None, spurious_prob: float = 0.0,
                      watchdog: int | Watchdog | None = None, downstream=None, max_edges: int = 100_000,
                      on_cycle: Callable[[int], None] | None = None, log: StreamLog | None = None,
                      label: str = "i", item: str = "beat") -> list[int]:
    """Send ``payloads`` on ``stream`` in order; return the edges that took them.

    Per cycle: drive ``valid`` and the payload (packed with the stream's layout by
    :class:`~npegen.sim.util.LayoutCodec`), tick, and sample ``ready`` at the edge; a beat not taken stays offered.
    Before each beat the sender idles for a cycle with probability ``idle_prob`` (repeatedly). Each edge that does
    not take the offered beat ticks the watchdog -- except edges where ``downstream.ready`` was low (a stage allowed
    to stall while its consumer does), all bounded by ``max_edges`` -- so a stuck ``ready`` fails with a message
    naming the stream, the beat and the count.

    Parameters
    ----------
    ctx
        The testbench context.
    stream : stream interface or Interface
        ``valid``, ``ready`` (None: never stalls) and a ``payload`` view or signal.
    payloads : sequence
        Dicts / lists of field values, :class:`amaranth.lib.data.Const` of the layout, or raw ints.
    valid : sequence of bool, optional
        Per item: False makes the item one explicit idle cycle that still drives its payload and sideband.
    sideband : sequence of (signal, sequence) pairs, optional
        Other inputs driven with the item's value in every cycle it occupies (0 in random idle cycles), e.g.
        ``[(dut.clear, clears)]`` (a list of pairs: signals are not hashable).
    idle_prob, rng, idle_payload, spurious_prob
        As :class:`npegen.sim.stream.StreamDriver`: idle cycles, the idle payload (None: unchanged, ``"random"``, or
        a payload) and strobes raised while ``ready`` is low (strobe interfaces only).
    watchdog : int or Watchdog, optional
        Bound on the wait for ``ready`` (default :data:`DEFAULT_WAIT` edges).
    downstream : stream interface, optional
        Output stream whose low ``ready`` excuses a low ``ready`` here.
    on_cycle : callable(edge), optional
        Called after every edge (``ctx.get`` then reads what it registered).
    log : StreamLog, optional
        Filled with the accepted edges and ``done``.
    """
    if (idle_prob or spurious_prob or isinstance(idle_payload, str)) and rng is None:
        raise ValueError("idle_prob, spurious_prob and idle_payload='random' need an rng")
    port, cd = _payload(stream)
    words = [cd.pack(p) for p in payloads]
    n = len(words)
    flags = [True] * n if valid is None else [bool(v) for v in valid]
    if len(flags) != n:
        raise ValueError(f"{len(flags)} valid flags for {n} payloads")
    pairs = sideband.items() if isinstance(sideband, Mapping) else sideband or ()
    side = [(sig, list(vals)) for sig, vals in pairs]
    idle_bits = None if idle_payload is None or idle_payload == "random" else cd.pack(idle_payload)
    log = StreamLog() if log is None else log
    log.done = False
    k = 0
    wd = watchdog if isinstance(watchdog, Watchdog) else Watchdog(
        watchdog or DEFAULT_WAIT, lambda: f"{label}: {item} {k} of {sum(flags)} not taken (ready low)")
    wd.progress()
    ready, d_ready = stream.ready, None if downstream is None else downstream.ready
    sampled = [s for s in (ready, d_ready) if s is not None]
    edge = 0
    edges = []

    async def cycle(offer: bool, bits, sb) -> tuple[int, int]:
        nonlocal edge
        ctx.set(stream.valid, int(offer))
        if bits == "random":
            bits = _random_bits(rng, cd.width)
        if bits is not None:
            ctx.set(port, bits)
        for sig, v in sb:
            ctx.set(sig, v)
        if not offer and spurious_prob and ready is not None and not ctx.get(ready) \
                and rng.random() < spurious_prob:
            ctx.set(stream.valid, 1)  # ignored: ready is low
            ctx.set(port, _random_bits(rng, cd.width))
        if sampled:
            vals = (await ctx.tick().sample(*sampled))[2:]
        else:
            await ctx.tick()
            vals = ()
        edge += 1
        r = vals[0] if ready is not None else 1
        dr = vals[-1] if d_ready is not None else 1
        if on_cycle is not None:
            on_cycle(edge)
        return r, dr

    zeros = [(sig, 0) for sig, _ in side]
    for i, bits in enumerate(words):
        sb = [(sig, vals[i]) for sig, vals in side]
        if not flags[i]:
            await cycle(False, bits, sb)
            continue
        while idle_prob and rng.random() < idle_prob:
            await cycle(False, idle_payload if idle_payload == "random" else idle_bits, zeros)
        for _ in range(max_edges):
            r, dr = await cycle(True, bits, sb)
            if r:
                break
            if dr:
                wd.tick()
        else:
            raise AssertionError(f"{wd.describe()}: not taken within {max_edges} edges (downstream never ready?)")
        wd.progress()
        edges.append(edge)
        log.accepted.append(edge)
        k += 1
    ctx.set(stream.valid, 0)
    for sig, v in zeros:
        ctx.set(sig, v)
    log.done = True
    return edges


async def stream_idle(ctx, stream, cycles: int, *, payload=None, on_cycle: Callable[[int], None] | None = None,
                      first_edge: int = 0) -> None:
    """Hold ``stream.valid`` low for ``cycles`` edges with ``payload`` (if given) on the bus; ``on_cycle(edge)``
    after each, edges numbered on from ``first_edge``."""
    ctx.set(stream.valid, 0)
    if payload is not None:
        port, cd = _payload(stream)
        ctx.set(port, cd.pack(payload))
    for j in range(cycles):
        await ctx.tick()
        if on_cycle is not None:
            on_cycle(first_edge + j + 1)


async def stream_recv(ctx, stream, n: int, *, stall_prob: float = 0.0, rng=None,
                      ready_pattern: Iterable[int] | None = None, holds: Sequence[tuple[int, int]] = (),
                      watchdog: int | Watchdog | None = None, upstream=None, upstream_log: StreamLog | None = None,
                      latency: int | None = None, hold: bool = False, drain: int = 0,
                      on_cycle: Callable[[int], None] | None = None, on_beat: Callable | None = None,
                      log: StreamLog | None = None, label: str = "o", item: str = "beat",
                      upstream_item: str = "beat", names: Callable[[int, int], str] | None = None) -> list:
    """Take ``n`` beats from ``stream`` and return them unpacked with its layout (dicts / lists / ints).

    Per cycle: drive ``ready`` (while beats are awaited: low with probability ``stall_prob``, in every cycle of
    ``holds`` -- ``(start, length)`` in edges from the call -- or as ``ready_pattern`` says; high while draining),
    tick, and take the beat when ``valid`` and ``ready`` were high at the edge. The watchdog counts each edge
    at which nothing arrived though the bench held nothing back (``ready`` high; the ``upstream`` interface
    offering a beat, or ``upstream_log.done``); a beat taken or an upstream beat taken restarts it. After the
    ``n`` beats (and once ``upstream_log.done``), ``ready`` stays high for ``drain`` edges in which another beat
    fails as extra.

    Parameters
    ----------
    ctx, stream
        As :func:`stream_send` (``stream.ready`` None: every ``valid`` is a beat).
    n : int
        Beats to take.
    stall_prob, rng, ready_pattern, holds
        Back-pressure (``rng`` needed with ``stall_prob``).
    watchdog : int or Watchdog, optional
        Bound on the wait for a beat (default :data:`DEFAULT_WAIT` edges).
    upstream : stream interface or Interface, optional
        The input feeding the DUT, sampled at every edge (its taken beats are logged in ``log.accepted``).
    upstream_log : StreamLog, optional
        The sender's log (its ``done``).
    latency : int, optional
        One result per upstream beat, registered exactly ``latency`` edges after the edge that took it; a valid
        missing there fails as lost, one elsewhere as early or extra, naming the beat (needs ``upstream``).
    hold : bool
        The payload may not change between beats.
    on_cycle : callable(edge), optional
        Called after every edge.
    on_beat : callable(k, beat), optional
        Called with each beat as it is taken: check it against the model there, so a wrong beat fails at once.
    log : StreamLog, optional
        Filled with the edges of the beats, the blocked edges and the upstream accepts.
    label, item, upstream_item : str
        Message prefix, and what a beat here and upstream is called.
    names : callable(k, n) -> str, optional
        Names beat ``k`` in messages (default ``"{item} {k} of {n}"``).
    """
    if stall_prob and rng is None:
        raise ValueError("stall_prob needs an rng")
    if latency is not None and upstream is None:
        raise ValueError("latency needs the upstream interface")
    port, cd = _payload(stream)
    name = names or (lambda k, total: f"{item} {k} of {total}")
    log = StreamLog() if log is None else log
    beats: list = []
    up_edges = log.accepted
    pattern = None if ready_pattern is None else iter(ready_pattern)
    wd = watchdog if isinstance(watchdog, Watchdog) else Watchdog(
        watchdog or DEFAULT_WAIT, lambda: f"{label}: {name(len(beats), n)}: awaited after {len(up_edges)} upstream "
                                          f"beats")
    wd.progress()
    has_ready = stream.ready is not None
    sampled = [stream.valid, port]
    if upstream is not None:
        sampled += [upstream.valid, upstream.ready if upstream.ready is not None else upstream.valid]
    edge, tail, answered, prev = 0, 0, 0, None
    wanted_done = upstream_log is None

    def fail(msg):
        raise AssertionError(f"{label}: {msg}")

    while True:
        done = len(beats) >= n
        draining = done and (wanted_done or upstream_log.done)
        if draining and tail >= drain:
            break
        if not has_ready:
            r = 1
        elif done:
            r = 1
        elif any(s <= edge < s + length for s, length in holds):
            r = 0
        elif pattern is not None:
            r = int(next(pattern))
        else:
            r = 0 if stall_prob and rng.random() < stall_prob else 1
        if has_ready:
            ctx.set(stream.ready, r)
        _, _, valid, bits, *up = await ctx.tick().sample(*sampled)
        edge += 1
        up_taken = bool(up and up[0] and up[1])
        if up_taken:
            up_edges.append(edge)
        if latency is not None:  # a valid seen at this edge was registered at edge - 1
            due = up_edges[answered] + latency if answered < len(up_edges) else None
            at = edge - 1
            if valid:
                if due is None:
                    fail(f"extra result: valid at edge {at} with no {upstream_item} outstanding (after "
                         f"{name(answered - 1, n)})")
                if at != due:
                    fail(f"{name(answered, n)}: valid at edge {at}, documented {due} ({upstream_item} taken at edge "
                         f"{up_edges[answered]} + {latency} cycles): an early, extra or lost result")
                answered += 1
            elif due is not None and at == due:
                fail(f"{name(answered, n)}: no valid at edge {at}, where it was due ({upstream_item} taken at edge "
                     f"{up_edges[answered]} + {latency} cycles): the result is lost")
        if valid and r:
            if done:
                fail(f"extra {item} {cd.unpack(bits)} after the {n} expected (edge {edge})")
            beat = cd.unpack(bits)
            beats.append(beat)
            log.edges.append(edge)
            prev = bits
            wd.progress()
            if on_beat is not None:
                on_beat(len(beats) - 1, beat)
        else:
            if valid:
                log.blocked.append(edge)
            if hold and prev is not None and bits != prev:
                fail(f"payload changed without valid at edge {edge - 1} (after {name(len(beats) - 1, n)})")
            if up_taken:
                wd.progress()
            elif not done and r and (upstream is None or up[0] or (upstream_log is not None and upstream_log.done)):
                wd.tick()
        if draining:
            tail += 1
        if on_cycle is not None:
            on_cycle(edge)
    if has_ready:
        ctx.set(stream.ready, 0)
    return beats


async def stream_apply(ctx, inputs, outputs, payloads: Sequence, *, settle: float = 1e-9) -> list:
    """Combinational units: for each payload, drive the ``inputs`` fields (a mapping of field name to signal, e.g.
    the decoder's ``{"code": dut.code}``), wait ``settle`` seconds and read the ``outputs`` fields; return one dict
    per payload. Field values are packed and unpacked with each port's own shape."""
    ins = [(k, sig, codec(sig.shape())) for k, sig in inputs.items()]
    outs = [(k, sig, codec(sig.shape())) for k, sig in outputs.items()]
    got = []
    for p in payloads:
        for k, sig, cd in ins:
            ctx.set(Value.cast(sig), cd.pack(p[k]) if k in p else 0)
        await ctx.delay(settle)
        got.append({k: cd.unpack(ctx.get(Value.cast(sig))) for k, sig, cd in outs})
    return got
