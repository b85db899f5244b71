"""The cocotb stream driver and monitor every testbench uses: beats packed and unpacked with the component's own
layout, random idle beats and back-pressure built in, every wait bounded.

Conventions (the testbenches' own, see :func:`npegen.sim.util.start`): inputs are driven and outputs sampled at the
*falling* clock edge. Cycle ``n`` (:func:`~npegen.sim.util.cycle_now`) runs from falling edge ``n`` to falling edge
``n + 1``; the rising edge inside it, *edge* ``n + 1``, takes what was driven at its start, and a value registered at
edge ``n + 1`` is sampled in cycle ``n + 1``. A driver records the cycle in which each beat was accepted, a monitor
the cycle in which each beat was sampled (taken at the following edge).

Port names follow :mod:`amaranth.back.verilog`: a stream member ``i`` is ``i__valid``, ``i__ready`` and
``i__payload`` (the whole payload layout in one vector); other interfaces name their ports (``valid="start"``,
``payload="x"``), leave out a handshake port (``ready=None``: never stalls) or spread a ``StructLayout`` over one
port per field (``payload=None``: the format decoders and encoders, whose ``valid=None, ready=None`` also make them
combinational: :meth:`StreamDriver.put` and :meth:`StreamMonitor.sample`). The layouts come from the component
(:class:`~npegen.sim.util.Ports`), so the testbench never restates a field offset.

Bounded waits: a driver's wait for ``ready`` and a monitor's wait for a beat each own a
:class:`~npegen.sim.util.Watchdog`; a lost beat, a stuck ``ready`` or a missing result fails with a message naming
the stream, the beat and the cycle count, never a hang.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from .util import Ports, Watchdog, codec, cycle_now

__all__ = ["DEFAULT_WAIT", "StreamDriver", "StreamMonitor", "apply", "transfer"]

#: Cycles a driver waits for ``ready`` (a monitor for a beat) when no watchdog is given.
DEFAULT_WAIT = 10_000
_UNSET = object()


class _Port:
    """The valid / ready / payload handles of one interface and its payload codec."""

    def __init__(self, dut, layout, name, valid, ready, payload):
        self.dut, self.layout, self.codec = dut, layout, codec(layout)
        if valid is _UNSET:
            valid = f"{name}__valid"
        if ready is _UNSET:
            ready = f"{name}__ready"
        if payload is _UNSET:
            payload = f"{name}__payload"
        self.label = name or payload or "ports"
        self.payload_name = payload or "payload"
        self.valid_name, self.ready_name = valid, ready
        self.valid = getattr(dut, valid) if valid else None
        self.ready = getattr(dut, ready) if ready else None
        if payload:
            self.fields = None
            self.payload = getattr(dut, payload)
        else:  # one port per top-level field
            self.payload = None
            self.fields = [(getattr(dut, fname), f.offset, (1 << codec(f.shape).width) - 1, codec(f.shape).width)
                           for fname, f in layout]

    def write(self, bits: int, last: list) -> None:
        """Drive ``bits`` (only the ports that change; ``last`` keeps what each holds)."""
        if self.fields is None:
            if last[0] != bits:
                self.payload.value = last[0] = bits
            return
        for j, (h, off, mask, _) in enumerate(self.fields):
            v = (bits >> off) & mask
            if last[j] != v:
                h.value = last[j] = v

    def read(self) -> int:
        if self.fields is None:
            return _unsigned(self.payload.value)
        bits = 0
        for h, off, _, w in self.fields:
            bits |= (int(h.value) if w == 1 else h.value.to_unsigned()) << off
        return bits


def _unsigned(v) -> int:
    """A cocotb value (``LogicArray``, or ``Logic`` of a 1-bit port) as an unsigned int."""
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


class StreamDriver:
    """Sends beats on one input interface of the DUT, one cycle at a time, with random idle cycles.

    Per cycle (entered at a falling edge): drive ``valid`` and the payload (the next beat, or an idle cycle), wait
    ``settle`` ns if ``ready`` may follow combinationally from what the bench drives this cycle, read ``ready``; the
    beat is *accepted* when ``valid`` and ``ready`` are both high (taken at the coming rising edge) and its cycle
    recorded in :attr:`accepted`; otherwise it stays offered (``valid`` held, payload unchanged) in the next cycle.
    Before each beat the driver idles for a cycle with probability ``idle_prob`` (again and again); while it waits
    for ``ready``, its :class:`~npegen.sim.util.Watchdog` counts the cycle, so a ``ready`` that never comes fails
    with a message naming the stream, the beat and the cycle count.

    Parameters
    ----------
    dut
        The cocotb top-level handle.
    layout : amaranth.lib.data.Layout or shape
        The payload layout, the component's own (e.g. ``Ports.from_env()["i__payload"].shape``); payloads are packed
        with :class:`~npegen.sim.util.LayoutCodec` (= ``layout.const(value).as_value().value``).
    name : str
        Interface name: the ports default to ``{name}__valid``, ``{name}__ready``, ``{name}__payload``.
    valid, ready, payload : str or None, optional
        Port names overriding the defaults; ``ready=None``: the interface never stalls; ``valid=None``: no handshake
        (use :meth:`put`); ``payload=None``: every field of the ``StructLayout`` is a port of its own name.
    idle_prob : float
        Chance of an idle cycle before each beat (repeated: geometric idle runs).
    rng : numpy.random.Generator, optional
        Source of the idle cycles, random idle payloads and spurious strobes (needed when any is asked for).
    watchdog : int or Watchdog, optional
        Bound on the wait for ``ready`` (cycles without an accepted beat); default :data:`DEFAULT_WAIT`.
    settle : bool
        Read ``ready`` 1 ns after driving (needed when ``ready`` follows combinationally from another input driven
        in the same cycle, e.g. ``i.ready = ~o.valid | o.ready`` with a :class:`StreamMonitor` on ``o``). ``False``
        reads it at the falling edge: only for a ``ready`` that is constant or registered.
    idle_payload : None, "random" or payload
        What the payload port carries in idle cycles: unchanged (None), fresh random bits each cycle, or this value.
    spurious_prob : float
        Strobe interfaces only (``RampAdc.start``, which ignores a start while ``ready`` is low): in an idle cycle
        with ``ready`` low, raise ``valid`` with a random payload with this probability; the DUT must ignore it.
        Never on a stream, where it would be a beat.
    downstream : StreamMonitor, optional
        The monitor of an output stream whose back-pressure may hold this ``ready`` low: cycles in which it drove
        its ``ready`` low do not count against the watchdog.
    on_cycle : callable(cycle, ready), optional
        Called once per cycle after ``ready`` is read (block-specific per-cycle checks, sampling of sideband
        outputs); ``ready`` is None when it was not read.
    label : str, optional
        Prefix of failure messages (default: the interface name).
    item : str
        What a beat is called in messages ("beat", "batch", ...).
    """

    def __init__(self, dut, layout, *, name: str | None = "i", valid=_UNSET, ready=_UNSET, payload=_UNSET,
                 idle_prob: float = 0.0, rng=None, watchdog: int | Watchdog | None = None, settle: bool = True,
                 idle_payload=None, spurious_prob: float = 0.0, downstream: StreamMonitor | None = None,
                 on_cycle: Callable | None = None, label: str | None = None, item: str = "beat"):
        from cocotb.triggers import Timer

        self.port = _Port(dut, layout, name, valid, ready, payload)
        if (idle_prob or spurious_prob or isinstance(idle_payload, str)) and rng is None:
            raise ValueError("idle_prob, spurious_prob and idle_payload='random' need an rng")
        if isinstance(idle_payload, str) and idle_payload != "random":
            raise ValueError(f"idle_payload must be None, 'random' or a payload, not {idle_payload!r}")
        self.idle_prob, self.rng, self.settle = float(idle_prob), rng, settle
        self.spurious_prob, self.downstream, self.on_cycle = float(spurious_prob), downstream, on_cycle
        self._idle_bits = (idle_payload if idle_payload in (None, "random")
                           else self.port.codec.pack(idle_payload))
        self.label, self.item = label or self.port.label, item
        self._n = 0  # beats of the running send
        self.index = 0  #: the beat of the running send being offered (= beats of it accepted)
        if isinstance(watchdog, Watchdog):
            self.watchdog = watchdog
        else:
            self.watchdog = Watchdog(watchdog or DEFAULT_WAIT, self._what)
        self.accepted: list[int] = []  #: cycle of every accepted beat
        self.done = True  #: no send running (a linked monitor's watchdog then counts every cycle)
        self._idle: set[int] = set()  # cycles idle by choice (random or explicit idle items)
        self._fall = None  # FallingEdge(dut.clk), made on first use (combinational units have no clock)
        self._timer = Timer(1, unit="ns")
        n_last = 1 if self.port.fields is None else len(self.port.fields)
        self._last = [None] * n_last
        self._last_valid = None
        self._last_side: dict = {}

    @classmethod
    def from_ports(cls, dut, ports: Ports, name: str = "i", **kw) -> StreamDriver:
        """The driver of stream member ``name`` of a component described by ``ports``."""
        return cls(dut, ports[f"{name}__payload"].shape, name=name,
                   ready=f"{name}__ready" if f"{name}__ready" in ports else None, **kw)

    def _what(self) -> str:
        return (f"{self.label}: {self.item} {self.index} of {self._n} not taken "
                f"({self.port.ready_name} low, cycle {cycle_now()})")

    def idled(self, cycle: int) -> bool:
        """The driver idled by its own choice in ``cycle`` (a random or an explicit idle cycle)."""
        return cycle in self._idle

    def _clock(self) -> None:
        if self._fall is None:
            from cocotb.triggers import FallingEdge

            self._fall = FallingEdge(self.port.dut.clk)

    def put(self, value) -> None:
        """Drive ``value`` on the payload port(s) now (no handshake: combinational units, explicit stimulus)."""
        self.port.write(self.port.codec.pack(value), self._last)

    def release(self) -> None:
        """Drop ``valid`` (after the last beat, or when a transfer failed midway)."""
        if self.port.valid is not None:
            self.port.valid.value = self._last_valid = 0

    def _drive(self, valid: int, bits, sideband) -> None:
        if valid != self._last_valid and self.port.valid is not None:
            self.port.valid.value = self._last_valid = valid
        if bits == "random":
            bits = int.from_bytes(self.rng.bytes((self.port.codec.width + 7) // 8), "little") & (
                (1 << self.port.codec.width) - 1)
        if bits is not None:
            self.port.write(bits, self._last)
        if sideband:
            for h, v in sideband.items():
                if self._last_side.get(h) != v:
                    h.value = self._last_side[h] = v

    async def _cycle(self, offer: bool, bits, sideband) -> bool:
        """One cycle: drive, read ready, call the hook, wait for the next falling edge. True if accepted."""
        c = cycle_now()
        self._drive(int(offer), bits, sideband)
        r = None
        port = self.port
        if port.ready is None:
            r = 1
        elif offer or self.on_cycle is not None or self.spurious_prob:
            if self.settle:
                await self._timer
            r = int(port.ready.value)
        if not offer:
            self._idle.add(c)
            if self.spurious_prob and r == 0 and self.rng.random() < self.spurious_prob:
                self._drive(1, "random", None)  # ignored by the DUT: ready is low
        taken = bool(offer and r)
        if taken:
            self.accepted.append(c)
        if self.on_cycle is not None:
            self.on_cycle(c, r)
        await self._fall
        return taken

    async def send(self, payloads: Sequence, *, valid: Sequence | None = None,
                   sideband: dict | None = None) -> list[int]:
        """Send every payload in order and return the cycles in which they were accepted.

        Parameters
        ----------
        payloads : sequence
            Dicts / lists of field values, :class:`amaranth.lib.data.Const` of the layout, or raw ints.
        valid : sequence of bool, optional
            Per item: False makes the item one explicit idle cycle that still drives its payload (and sideband)
            with ``valid`` low (e.g. operands the DUT must ignore); default all beats.
        sideband : mapping of port name to sequence, optional
            Other input ports driven with the item's value in every cycle the item occupies (0 in random idle
            cycles), e.g. ``{"clear": [...]}`` of the INT MAC lane.

        Called at a falling edge; returns at the falling edge after the last item with ``valid`` driven low.
        """
        self._clock()
        words = [self.port.codec.pack(p) for p in payloads]
        n = len(words)
        flags = [True] * n if valid is None else [bool(v) for v in valid]
        if len(flags) != n:
            raise ValueError(f"{len(flags)} valid flags for {n} payloads")
        side = [(getattr(self.port.dut, k), list(v)) for k, v in (sideband or {}).items()]
        for h, v in side:
            if len(v) != n:
                raise ValueError(f"sideband {h._name}: {len(v)} values for {n} payloads")
        zeros = {h: 0 for h, _ in side}
        self._n, self.index, self.done = sum(flags), 0, False
        self.watchdog.progress()
        rnd, p_idle, idle_bits = self.rng, self.idle_prob, self._idle_bits
        down = self.downstream
        for i, bits in enumerate(words):
            sb = {h: v[i] for h, v in side} if side else None
            if not flags[i]:
                await self._cycle(False, bits, sb)
                continue
            while p_idle and rnd.random() < p_idle:
                await self._cycle(False, idle_bits, zeros)
            while not await self._cycle(True, bits, sb):
                c = cycle_now() - 1
                if down is None or down.ready_in(c):
                    self.watchdog.tick()
            self.watchdog.progress()
            self.index += 1
        self._drive(0, idle_bits, zeros)
        self.done = True
        return self.accepted[len(self.accepted) - self._n:]

    async def idle(self, cycles: int, payload=_UNSET) -> None:
        """Hold ``valid`` low for ``cycles`` cycles (with ``payload`` on the bus, default the idle payload), calling
        the hook every cycle."""
        self._clock()
        bits = self._idle_bits if payload is _UNSET else self.port.codec.pack(payload)
        for _ in range(cycles):
            await self._cycle(False, bits, {h: 0 for h in self._last_side})


class StreamMonitor:
    """Takes beats from one output interface of the DUT, with random back-pressure, and unpacks them.

    A background coroutine (started by :meth:`start`, :meth:`expect` or :meth:`get`) runs once per cycle at the
    falling edge: it samples ``valid``, decides ``ready`` for the cycle (while beats are awaited: low with
    probability ``stall_prob``, in every cycle of ``holds``, or as ``ready_pattern`` says; while draining: high;
    otherwise low, so nothing is taken unseen), and when both are high takes the beat, unpacking the payload with
    the component's layout into dicts (:attr:`beats`, with its cycle in :attr:`cycles`). While beats are awaited its
    :class:`~npegen.sim.util.Watchdog` counts each cycle in which nothing arrived although the bench did not hold
    things back (``ready`` high, and the ``source`` driver, if any, not idling by choice); a beat taken or a beat
    accepted by ``source`` restarts it.

    Parameters
    ----------
    dut, layout, name, valid, ready, payload
        As :class:`StreamDriver` (``name`` default ``"o"``; ``ready=None``: the output cannot be stalled, every
        ``valid`` cycle is a beat).
    stall_prob : float
        Chance that ``ready`` is low in a cycle while beats are awaited.
    rng : numpy.random.Generator, optional
        Source of the stalls (needed with ``stall_prob``).
    ready_pattern : iterable of int, optional
        ``ready`` per cycle while beats are awaited (e.g. long stalls: low for 150 cycles, high for 2), instead of
        ``stall_prob``.
    holds : sequence of (start, length)
        ``ready`` low in cycles ``[start, start + length)`` counted from the start of each :meth:`expect`.
    watchdog : int or Watchdog, optional
        Bound on the wait for a beat (cycles the bench did not stall); default :data:`DEFAULT_WAIT`.
    source : StreamDriver, optional
        The driver feeding the DUT: its accepted beats count as progress and its idle cycles do not count.
    latency : int, optional
        A fixed-latency stage, one result per ``source`` beat: the beat taken at edge ``e`` must be answered by a
        ``valid`` registered at edge ``e + latency`` (sampled in cycle ``e + latency``) -- none there fails as lost,
        one elsewhere as early/extra, at once, naming the beat.
    hold : bool
        The payload must not change in cycles without ``valid`` (after the first beat).
    on_cycle : callable(cycle), optional
        Called once per cycle after the sample (block-specific checks of sideband outputs).
    on_beat : callable(k, beat), optional
        Called with each beat as it is taken (``k`` counts the beats of the running :meth:`expect`): check it
        against the model there and a wrong beat fails at once (an AssertionError raised here ends
        :meth:`expect` with it).
    label, item
        Message prefix and the name of a beat, as :class:`StreamDriver`.
    names : callable(k, n) -> str, optional
        Names beat ``k`` of ``n`` awaited by :meth:`expect` in messages (default ``"{item} {k} of {n}"``).
    """

    def __init__(self, dut, layout, *, name: str | None = "o", valid=_UNSET, ready=_UNSET, payload=_UNSET,
                 stall_prob: float = 0.0, rng=None, ready_pattern: Iterable[int] | None = None,
                 holds: Sequence[tuple[int, int]] = (), watchdog: int | Watchdog | None = None,
                 source: StreamDriver | None = None, latency: int | None = None, hold: bool = False,
                 on_cycle: Callable | None = None, on_beat: Callable | None = None, label: str | None = None,
                 item: str = "beat", names: Callable[[int, int], str] | None = None):
        from cocotb.triggers import Event, FallingEdge

        self.port = _Port(dut, layout, name, valid, ready, payload)
        if stall_prob and rng is None:
            raise ValueError("stall_prob needs an rng")
        self.stall_prob, self.rng = float(stall_prob), rng
        self.ready_pattern: Iterator[int] | None = None if ready_pattern is None else iter(ready_pattern)
        self.holds = list(holds)
        self.source, self.latency, self.hold, self.on_cycle = source, latency, hold, on_cycle
        self.on_beat = on_beat
        self.label, self.item = label or self.port.label, item
        self._names = names or (lambda k, n: f"{self.item} {k} of {n}")
        self.watchdog = watchdog if isinstance(watchdog, Watchdog) else Watchdog(watchdog or DEFAULT_WAIT,
                                                                                self._what)
        self.beats: list = []  #: every beat taken, unpacked
        self.cycles: list[int] = []  #: the cycle each was sampled in
        self.blocked: list[int] = []  #: cycles with ``valid`` high and ``ready`` low
        self._event = Event()
        self._fall = FallingEdge(dut.clk) if self.port.valid is not None else None
        self._task = None
        self._error: BaseException | None = None
        self._next = 0  # first beat not yet returned by expect/get
        self._target: int | None = None  # beats awaited: len(beats) must reach it
        self._n = 0
        self._t0 = 0
        self._draining, self._drain_left = False, 0
        self._ready_cycle, self._ready_val, self._valid_val = -1, 1, 0
        self._low: set[int] = set()  # cycles with ready driven low
        self._src_seen = 0
        self._due = 0  # source beats answered (latency check)

    @classmethod
    def from_ports(cls, dut, ports: Ports, name: str = "o", **kw) -> StreamMonitor:
        """The monitor of stream member ``name`` of a component described by ``ports``."""
        return cls(dut, ports[f"{name}__payload"].shape, name=name,
                   ready=f"{name}__ready" if f"{name}__ready" in ports else None, **kw)

    def _name(self, k: int) -> str:
        return self._names(k, self._n)

    def _what(self) -> str:
        k = len(self.beats) - self._next
        s = self.source
        after = f" after {len(s.accepted)} {s.item}s accepted" if s is not None else ""
        return f"{self.label}: {self._name(k)}: awaited{after} (cycle {cycle_now()})"

    def ready_in(self, cycle: int) -> bool:
        """Whether the monitor's ``ready`` was high in ``cycle`` (True for a cycle it has not run yet)."""
        return cycle not in self._low

    def handshake(self, cycle: int) -> tuple[int, int] | None:
        """``(valid, ready)`` the monitor sampled and drove in ``cycle``; None unless that is the cycle it last ran
        (a driver's ``on_cycle`` hook, 1 ns after the falling edge, sees the monitor's current cycle)."""
        return (self._valid_val, self._ready_val) if self._ready_cycle == cycle else None

    def sample(self):
        """The payload now, unpacked (combinational units: drive, wait, sample)."""
        return self.port.codec.unpack(self.port.read())

    def start(self) -> None:
        """Start the per-cycle coroutine (at a falling edge; idempotent)."""
        import cocotb

        if self._task is None:
            self._task = cocotb.start_soon(self._run())

    def stop(self) -> None:
        """Stop the per-cycle coroutine (``ready`` keeps its last value)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def _ready(self, c: int) -> int:
        if self.port.ready is None:
            return 1
        if self._draining:
            return 1
        if self._target is None:
            return 0
        if self.holds:
            rel = c - self._t0
            if any(s <= rel < s + n for s, n in self.holds):
                return 0
        if self.ready_pattern is not None:
            return int(next(self.ready_pattern))
        if self.stall_prob and self.rng.random() < self.stall_prob:
            return 0
        return 1

    def _fail(self, msg: str):
        raise AssertionError(f"{self.label}: {msg}")

    def _check_latency(self, c: int, valid: int) -> None:
        acc, k = self.source.accepted, self._due
        due = acc[k] + 1 + self.latency if k < len(acc) else None  # taken at edge acc[k] + 1
        src = self.source.item
        if valid:
            if due is None:
                self._fail(f"extra result: valid at cycle {c} with no {src} outstanding (after "
                           f"{self._name(k - 1)})")
            if c != due:
                self._fail(f"{self._name(k)}: valid at cycle {c}, documented {due} ({src} taken at cycle "
                           f"{acc[k] + 1} + {self.latency} cycles): an early, extra or lost result")
            self._due += 1
        elif due is not None and c == due:
            self._fail(f"{self._name(k)}: no valid at cycle {c}, where it was due ({src} taken at cycle {acc[k] + 1} "
                       f"+ {self.latency} cycles): the result is lost")

    async def _run(self) -> None:
        port = self.port
        h_valid, h_ready = port.valid, port.ready
        last_ready, prev_bits, took_prev, ready_prev = None, None, False, 1
        src = self.source
        try:
            while True:
                c = cycle_now()
                if self._target is not None:  # the previous cycle, for the watchdog
                    moved = src is not None and len(src.accepted) != self._src_seen
                    if took_prev or moved:
                        self.watchdog.progress()
                    elif ready_prev and (src is None or not src.idled(c - 1)):
                        self.watchdog.tick()
                if src is not None:
                    self._src_seen = len(src.accepted)
                v = int(h_valid.value)
                r = self._ready(c)
                if h_ready is not None and r != last_ready:
                    h_ready.value = last_ready = r
                self._ready_cycle, self._ready_val, self._valid_val = c, r, v
                if not r:
                    self._low.add(c)
                took = bool(v and r)
                if self.latency is not None:
                    self._check_latency(c, v)
                if took:
                    bits = port.read()
                    if self._draining or (self._target is None and h_ready is not None):
                        self._fail(f"extra {self.item} {port.codec.unpack(bits)} after the {self._n} expected "
                                   f"(cycle {c})")
                    beat = port.codec.unpack(bits)
                    self.beats.append(beat)
                    self.cycles.append(c)
                    prev_bits = bits
                    if self.on_beat is not None:
                        self.on_beat(len(self.beats) - 1 - self._next, beat)
                elif self.hold:
                    bits = port.read()
                    if prev_bits is not None and bits != prev_bits:
                        self._fail(f"{port.payload_name} changed without valid at cycle {c} (after "
                                   f"{self._name(len(self.beats) - 1)})")
                if v and not r:
                    self.blocked.append(c)
                took_prev, ready_prev = took, r
                if self.on_cycle is not None:
                    self.on_cycle(c)
                if self._draining and (src is None or src.done):
                    self._drain_left -= 1
                if ((self._target is not None and len(self.beats) >= self._target)
                        or (self._draining and self._drain_left <= 0)):
                    self._event.set()
                await self._fall
        except AssertionError as e:
            self._error = e
            self._event.set()

    async def _wait(self) -> None:
        await self._event.wait()
        self._event.clear()
        if self._error is not None:
            raise self._error

    async def expect(self, n: int, *, drain: int = 0, timeout: int | None = None) -> list:
        """Await the next ``n`` beats (bounded by the watchdog) and return them unpacked; then keep ``ready`` high
        and, once the ``source`` driver (if any) has sent everything, sample ``drain`` more cycles in which no
        further beat may come (one that does fails as extra, at once).

        ``timeout`` replaces the watchdog's limit for this call."""
        self.start()
        saved = self.watchdog
        if timeout is not None:
            self.watchdog = Watchdog(timeout, self._what)
        self._n, self._t0 = n, cycle_now()
        self.watchdog.progress()
        self._target = self._next + n
        try:
            if len(self.beats) < self._target:
                await self._wait()
        finally:
            self._target = None
            self.watchdog = saved
        if self._error is not None:
            raise self._error
        if drain:
            self._draining, self._drain_left = True, drain
            try:
                await self._wait()
            finally:
                self._draining = False
        if len(self.beats) > self._next + n:
            self._fail(f"extra {self.item} {self.beats[self._next + n]} after the {n} expected")
        got = self.beats[self._next:self._next + n]
        self._next += n
        return got

    async def get(self, timeout_cycles: int | None = None):
        """The next beat, unpacked, awaited at most ``timeout_cycles`` cycles (default: the watchdog's limit)."""
        (beat,) = await self.expect(1, timeout=timeout_cycles)
        return beat


async def apply(driver: StreamDriver, monitor: StreamMonitor, payloads: Iterable, *, settle_ns: float = 1) -> list:
    """Combinational units (no clock, no handshake): for each payload, drive it (:meth:`StreamDriver.put`), wait
    ``settle_ns`` and sample the outputs (:meth:`StreamMonitor.sample`); return one unpacked output per payload.
    Nothing is awaited but the settle time, so nothing can hang."""
    from cocotb.triggers import Timer

    settle = Timer(settle_ns, unit="ns")
    put, sample = driver.put, monitor.sample
    out = []
    for p in payloads:
        put(p)
        await settle
        out.append(sample())
    return out


async def transfer(driver: StreamDriver, payloads: Sequence, monitor: StreamMonitor, n: int, *, drain: int = 0,
                   **send_kw) -> list:
    """Send ``payloads`` with ``driver`` while ``monitor`` awaits ``n`` beats (then ``drain`` idle cycles); return
    the beats. Both run concurrently from this falling edge; whichever fails first (a stuck ``ready``, a lost or
    extra beat) raises here with its message and the other is stopped, so a testbench can also catch the failure.
    At the end, passed or failed, the monitor is stopped, the driver drops ``valid``, and the monitor's
    ``source`` is the driver (for its watchdog)."""
    import cocotb
    from cocotb.triggers import First

    if monitor.source is None:
        monitor.source = driver
    monitor.start()
    recv = cocotb.start_soon(monitor.expect(n, drain=drain))
    send = cocotb.start_soon(driver.send(payloads, **send_kw))
    try:
        await First(send.complete, recv.complete)
        if send.done():
            send.result()  # raises the driver's failure
            beats = await recv
        else:
            beats = recv.result()
            await send
        return beats
    finally:
        for t in (send, recv):
            if not t.done():
                t.cancel()
        monitor.stop()
        driver.release()
