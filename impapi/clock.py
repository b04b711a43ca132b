"""The virtual clock: one event heap in integer microseconds, and the order of same-instant events.

Modelled on SimPy's event heap and trio's MockClock. Time never comes from the wall clock: it
moves only when events are processed (``step``/``run_until``/``run``), when an event blocks its
own machine while the rest of the world runs on (``run_nested``, for ``imp.sleep``), or when a
caller moves it on without running anything (``advance``).

**Sources.** Every event belongs to a *source*: the thing that made it happen. A VM's queue is
one source ("device VM", "agent VM") and its timers' expiries another ("device timers"); a
machine's own doings and what its code sets going (boots, connection attempts, messages in
flight) are "device" and "agent"; then "network", "cloud", "scenario", and "world" for what the
simulation's own start set going. An event scheduled without naming a source inherits the
source of the event (or VM) that scheduled it; a part can hold a :class:`SourceClock` that names
its own.

**Same-instant order** (the model rules, docs/imp-model/timers-and-events.md):

- events of one source run in the order they were scheduled (a VM's queue is first in, first
  out; a handler never overtakes one queued before it);
- events of different sources at the same instant may run in any order: the ``tie_break``
  chooses among the head events of the sources that have one ready (``None``: the one scheduled
  first, so a run with no tie-break is plain first in, first out by schedule order);
- an *idle* entry (``schedule_idle``: ``imp.onidle``) is a candidate only when its source has
  nothing else ready at that instant;
- a source that is *busy* (its VM is on the Python stack, blocked in ``imp.sleep``) is not a
  candidate: its events wait, in order, and run once it is free, late.

A tie-break is any object with ``choose(n) -> int`` (an index into the ``n`` candidates, ordered
by schedule order, so 0 is first in, first out); a ``random.Random`` is wrapped in
:class:`RandomOrder`. Every run is a pure function of the scheduled events and the choices.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from heapq import heapify, heappop, heappush
from operator import attrgetter
from typing import Any, Iterator, Protocol

__all__ = ["Clock", "RandomOrder", "SourceClock", "TieBreak", "Timer", "US_PER_S", "WORLD"]

US_PER_S = 1_000_000
WORLD = "world"  # the source of events scheduled outside any event or VM

_PENDING, _FIRED, _CANCELLED = 0, 1, 2

# Rebuilding the heap costs O(n); only do it when cancelled entries are both numerous and the
# majority, so cancel() stays O(1) amortised.
_COMPACT_MIN = 256


STILL_EVENTS = 100_000  # events at one virtual instant after which Clock.on_still is called
# A VM whose callbacks only ever queue the next one (imp.wakeup(0, ...), imp.onidle()) never waits
# for anything: with Squirrel taking virtual time it would spin for the rest of the run. After
# this many such callbacks in a row, spanning at least SPIN_US of virtual time, Clock.on_spin is
# called. Drivers poll this way for a timeout of milliseconds; a second is far beyond any.
SPIN_CALLBACKS = 100_000
SPIN_US = 1_000_000


class TieBreak(Protocol):
    def choose(self, n: int) -> int:
        """Which of ``n`` (>= 2) same-instant candidates runs next, 0 being the first scheduled."""
        ...


class RandomOrder:
    """A tie-break drawing each choice from a ``random.Random``: the same seed, the same order.
    ``reordered`` tells whether any choice differed from first in, first out."""

    __slots__ = ("rng", "reordered")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.reordered = False

    def choose(self, n: int) -> int:
        choice = int(self.rng.random() * n)
        if choice:
            self.reordered = True
        return choice


class Timer:
    """Handle for one scheduled callback. (Clock._push makes most of them without calling this
    __init__: a slot added here is set there too; tests/impapi/test_clock.py checks every slot.)"""

    __slots__ = ("when_us", "callback", "args", "_state", "_clock", "seq", "source")

    def __init__(self, clock: Clock, when_us: int, callback: Callable[..., Any], args: tuple[Any, ...],
                 seq: int, source: str) -> None:
        self.when_us = when_us
        self.callback = callback
        self.args = args
        self._state = _PENDING
        self._clock = clock
        self.seq = seq
        self.source = source

    @property
    def pending(self) -> bool:
        """True until the timer fires or is cancelled."""
        return self._state == _PENDING

    @property
    def fired(self) -> bool:
        return self._state == _FIRED

    @property
    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def cancel(self) -> bool:
        """Cancel the callback. Returns False, and does nothing, if it already fired or was cancelled."""
        if self._state != _PENDING:
            return False
        self._state = _CANCELLED
        # Drop references now: a cancelled entry may sit in the heap until it surfaces.
        self.callback = _noop
        self.args = ()
        self._clock._on_cancel()
        return True

    def __repr__(self) -> str:
        state = ("pending", "fired", "cancelled")[self._state]
        return f"<Timer at {self.when_us}us {self.source} {state}>"


_new_timer = object.__new__


def _noop(*_: Any) -> None:
    pass


def _check_us(value: int, what: str) -> int:
    # bool is an int subclass but never a sensible time; floats would reintroduce drift.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int number of microseconds, not {type(value).__name__}")
    return value


def _seq_of(timer: Timer) -> int:
    return timer.seq


class Clock:
    """Deterministic virtual clock.

    ``tie_break``: ``None`` for first in, first out among equal-time events, or a
    :class:`TieBreak` (or a ``random.Random``) choosing among sources (see the module doc); it
    can be replaced between runs through the attribute.
    """

    __slots__ = ("now_us", "_heap", "_ready", "_idle", "held", "_seq", "_live", "_dead", "_running", "_stop", "end_us",
                 "_tie", "source", "still_events", "on_still", "on_spin")

    def __init__(self, start_us: int = 0, *, tie_break: TieBreak | random.Random | None = None) -> None:
        if _check_us(start_us, "start_us") < 0:
            raise ValueError(f"start_us must be >= 0, got {start_us}")
        # The virtual time, in µs: read everywhere, many times per event, so a plain attribute
        # (not a property); only the clock moves it.
        self.now_us = start_us
        self._heap: list[tuple[int, int, Timer]] = []  # events due after now: (when, seq, timer)
        self._ready: dict[str, deque[Timer]] = {}  # events due now (or late), per source, in order
        self._idle: dict[str, Timer] = {}  # one idle entry per source
        # Sources that cannot run now (a VM on the stack), with how many holds each: hold() and
        # release(); ScriptHost.invoke, the hottest caller, does what they do itself.
        self.held: dict[str, int] = {}
        self._seq = 0
        self._live = 0  # pending events
        self._dead = 0  # cancelled events still stored
        self._running = False
        self._stop = False
        self._tie: TieBreak | None = None
        self.tie_break = tie_break
        self.source = WORLD  # of the running event (or VM); what schedule() tags new events with
        # Events run one after another without time passing, and what to call when that count
        # reaches STILL_EVENTS (an imp.wakeup(0, ...) loop would otherwise run for ever).
        self.still_events = 0
        self.on_still: Callable[[], Any] | None = None
        # What to call with (side, callbacks, span in µs) when a VM spins (SPIN_CALLBACKS).
        self.on_spin: Callable[[str, int, int], Any] | None = None
        # The instant the run ends, once it is known (Simulation.ending_at): no event after it
        # runs and time never moves past it, however deep the nesting (a machine blocked past
        # it waits only until then). None: the run may go on (a simulation driven in pieces).
        self.end_us: int | None = None

    @property
    def tie_break(self) -> TieBreak | None:
        return self._tie

    @tie_break.setter
    def tie_break(self, value: TieBreak | random.Random | None) -> None:
        self._tie = RandomOrder(value) if isinstance(value, random.Random) else value

    # -- time ---------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Current virtual time in seconds (a view; the integer microseconds are authoritative)."""
        return self.now_us / US_PER_S

    def advance(self, delta_us: int) -> None:
        """Move time forward without running events: the whole world stands still meanwhile.

        Events that fall due meanwhile run late, in their (time, schedule) order, once control
        returns to the event loop; time never moves backwards to meet them. Time stops at the
        run's end (``end_us``) if it comes first, as in ``run_until``: events due after the end
        do not fall due. (A machine that blocks while the rest of the world runs on uses
        ``run_nested``.)
        """
        if _check_us(delta_us, "delta_us") < 0:
            raise ValueError(f"cannot advance by a negative amount ({delta_us}us)")
        self._move_within(self.now_us + delta_us)

    def _move_to(self, t_us: int) -> None:
        self.now_us = t_us
        self.still_events = 0
        self._pull()

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, delay_us: int, callback: Callable[..., Any], *args: Any, source: str | None = None) -> Timer:
        """Run ``callback(*args)`` ``delay_us`` microseconds from now (0: after the current event,
        and after what its source has ready now). ``source``: default, the running one's."""
        if delay_us.__class__ is not int:  # the common case costs no call (bool is not int here)
            _check_us(delay_us, "delay_us")
        if delay_us < 0:
            raise ValueError(f"delay_us must be >= 0, got {delay_us}")
        return self._push(self.now_us + delay_us, callback, args, source or self.source)

    def schedule_at(self, at_us: int, callback: Callable[..., Any], *args: Any, source: str | None = None) -> Timer:
        """Run ``callback(*args)`` at absolute virtual time ``at_us`` (not in the past)."""
        if at_us.__class__ is not int:  # as in schedule()
            _check_us(at_us, "at_us")
        if at_us < self.now_us:
            raise ValueError(f"cannot schedule at {at_us}us: it is before now ({self.now_us}us)")
        return self._push(at_us, callback, args, source or self.source)

    def schedule_idle(self, source: str, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` at this instant once ``source`` has nothing else ready (its
        lowest-priority entry). One per source: a new one replaces a pending one."""
        old = self._idle.pop(source, None)
        if old is not None and old.cancel():
            self._dead -= 1  # dropped here, not left for _next to find
        seq = self._seq
        self._seq = seq + 1
        timer = Timer(self, self.now_us, callback, args, seq, source)
        self._idle[source] = timer
        self._live += 1
        return timer

    def _push(self, when: int, callback: Callable[..., Any], args: tuple[Any, ...], source: str) -> Timer:
        # Timer(self, when, callback, args, seq, source), made and filled here: CPython 3.11 calls
        # a class with a Python __init__ through a tuple of its arguments and a frame of its own.
        # Three events a wake of a sleepy app: ~2,300 instructions a boot less (ir.sh).
        timer = _new_timer(Timer)
        timer.when_us = when
        timer.callback = callback
        timer.args = args
        timer._state = _PENDING
        timer._clock = self
        timer.seq = seq = self._seq
        timer.source = source
        self._seq = seq + 1
        self._live += 1
        if when <= self.now_us:
            queue = self._ready.get(source)
            if queue is None:
                self._ready[source] = queue = deque()
            queue.append(timer)
        else:
            heappush(self._heap, (when, seq, timer))
        return timer

    def _on_cancel(self) -> None:
        self._live -= 1
        self._dead += 1
        heap = self._heap
        if self._dead >= _COMPACT_MIN and self._dead * 2 > len(heap):
            heap[:] = [e for e in heap if e[2]._state == _PENDING]
            heapify(heap)
            for source, queue in list(self._ready.items()):
                kept = deque(t for t in queue if t._state == _PENDING)
                if kept:
                    self._ready[source] = kept
                else:
                    del self._ready[source]
            for source, timer in list(self._idle.items()):
                if timer._state != _PENDING:
                    del self._idle[source]
            self._dead = 0

    # -- sources ----------------------------------------------------------------------------

    def for_source(self, source: str) -> "SourceClock":
        """This clock as one part sees it: what the part schedules belongs to ``source``."""
        return SourceClock(self, source)

    @contextmanager
    def using(self, source: str) -> Iterator[None]:
        """Events scheduled inside the block belong to ``source`` (unless they name one)."""
        previous = self.source
        self.source = source
        try:
            yield
        finally:
            self.source = previous

    def hold(self, source: str) -> None:
        """``source`` is busy (its VM is on the stack): none of its events runs until ``release``."""
        self.held[source] = self.held.get(source, 0) + 1

    def release(self, source: str) -> None:
        n = self.held[source] - 1
        if n:
            self.held[source] = n
        else:
            del self.held[source]

    def must_wait(self, source: str) -> bool:
        """True when something of ``source`` cannot run at once: the source is held (its VM is on
        the stack), or has an event (not its idle entry) ready at this instant, which goes first."""
        if source in self.held:
            return True
        queue = self._ready.get(source)
        if not queue:
            return False
        while queue and queue[0]._state != _PENDING:
            queue.popleft()
            self._dead -= 1
        if not queue:
            del self._ready[source]
            return False
        return True

    # -- inspection ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Number of scheduled, not yet fired, not cancelled events."""
        return self._live

    @property
    def idle(self) -> bool:
        """True when nothing is scheduled."""
        return self._live == 0

    def peek(self) -> int | None:
        """Time of the next event, or None when idle."""
        if self._live == 0:
            return None
        if any(t._state == _PENDING for q in self._ready.values() for t in q) or \
                any(t._state == _PENDING for t in self._idle.values()):
            return self.now_us
        heap = self._heap
        while heap and heap[0][2]._state != _PENDING:
            heappop(heap)
            self._dead -= 1
        return heap[0][0] if heap else None

    # -- running ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Make the current ``run``/``run_until`` return after the running event.

        Time then stays at that event's time instead of moving on to the target.
        """
        self._stop = True

    def step(self) -> bool:
        """Run the next event. Returns False (and leaves time alone) when idle."""
        self._enter()
        try:
            return self._pop_and_run(None)
        finally:
            self._running = False

    def run_until(self, t_us: int) -> None:
        """Run every event due at or before ``t_us`` (including ones scheduled meanwhile).

        Afterwards ``now_us == t_us``, unless ``stop()`` was called, a callback advanced time
        past ``t_us`` (time never goes back), or the run's end (``end_us``) comes first. An
        exception from a callback propagates; the clock stays consistent, with ``now_us`` at
        that event's time.
        """
        if _check_us(t_us, "t_us") < self.now_us:
            raise ValueError(f"cannot run until {t_us}us: it is before now ({self.now_us}us)")
        self._enter()
        self._stop = False
        try:
            while self._pop_and_run(t_us):
                if self._stop:
                    return
            self._move_within(t_us)
        finally:
            self._running = False
            self._stop = False

    def run(self, for_us: int) -> None:
        """Run for ``for_us`` microseconds of virtual time."""
        if _check_us(for_us, "for_us") < 0:
            raise ValueError(f"for_us must be >= 0, got {for_us}")
        self.run_until(self.now_us + for_us)

    def run_nested(self, until_us: int, go_on: Callable[[], bool] | None = None) -> bool:
        """From inside an event whose source is held (``hold``): run the other sources' events
        due before ``until_us``, then move time to ``until_us`` (never back), or only to the
        run's end (``end_us``) if it comes first, its own events included. Stops early, and
        returns False, when ``go_on()`` turns false after an event or ``stop()`` is called.

        Called while the clock is not running (Squirrel run straight from Python: an agent's
        main code as the simulation starts, a test calling into a VM), it runs the world the
        same way for that span and leaves the clock stopped again."""
        if until_us <= self.now_us:
            return True  # no time to wait: nothing else runs
        if self.skip_to(until_us):
            return True  # nothing else is due meanwhile: time only moves (a waiting device, every wake)
        if not self._running:
            self._enter()
            try:
                return self._run_others(until_us, go_on)
            finally:
                self._running = False
                self._stop = False
        return self._run_others(until_us, go_on)

    def skip_to(self, until_us: int) -> bool:
        """The fast way of ``run_nested(until_us)`` when no source that is not held has anything
        due until then, that instant included: move time there and return True; otherwise do
        nothing and return False."""
        heap = self._heap
        if (heap and heap[0][0] <= until_us) or (self.end_us is not None and until_us > self.end_us):
            return False
        if self._ready or self._idle:  # usually neither: no iterators made (five calls a wake)
            busy = self.held
            for source in self._ready:
                if source not in busy:
                    return False
            for source in self._idle:
                if source not in busy:
                    return False
        if until_us > self.now_us:  # _move_to without its _pull: nothing in the heap is due yet
            self.now_us = until_us
            self.still_events = 0
        return True

    def due_now(self) -> bool:
        """True when a source that is not held has an event (or its idle entry) due at this very
        instant."""
        busy = self.held
        for source, queue in self._ready.items():
            if source not in busy and any(t._state == _PENDING for t in queue):
                return True
        for source, timer in self._idle.items():
            if source not in busy and timer._state == _PENDING:
                return True
        heap = self._heap
        return any(when <= self.now_us and t._state == _PENDING and t.source not in busy for when, _, t in heap[:1])

    def run_now(self, go_on: Callable[[], bool] | None = None) -> bool:
        """From inside a held source's event: run the other sources' events due at this very
        instant, without moving time. Returns False when ``go_on()`` turns false or ``stop()``."""
        if not self._running:
            self._enter()
            try:
                return self._run_others(self.now_us + 1, go_on, move=False)
            finally:
                self._running = False
                self._stop = False
        return self._run_others(self.now_us + 1, go_on, move=False)

    def _run_others(self, until_us: int, go_on: Callable[[], bool] | None, move: bool = True) -> bool:
        limit = until_us - 1
        while self._pop_and_run(limit):
            if self._stop or (go_on is not None and not go_on()):
                return False
        if move:
            self._move_within(until_us)
        return True

    def _move_within(self, t_us: int) -> None:
        """Move time to ``t_us``, or to the run's end if that comes first (never back)."""
        end = self.end_us
        if end is not None and t_us > end:
            t_us = end
        if t_us > self.now_us:
            self._move_to(t_us)

    def _enter(self) -> None:
        if self._running:
            raise RuntimeError("the clock is already running: step/run cannot be called from an event")
        self._running = True

    def _pull(self) -> None:
        """Move the heap's events due now (or late) into the sources' ready queues, in
        (time, schedule) order."""
        heap = self._heap
        now = self.now_us
        ready = self._ready
        while heap and heap[0][0] <= now:
            timer = heappop(heap)[2]
            if timer._state != _PENDING:
                self._dead -= 1
                continue
            queue = ready.get(timer.source)
            if queue is None:
                ready[timer.source] = queue = deque()
            queue.append(timer)

    def _next(self) -> Timer | None:
        """The event to run next at this instant, or None when no source has one ready."""
        ready = self._ready
        idle = self._idle
        busy = self.held
        if len(ready) == 1 and not idle and not busy:  # the common case: one source, no choice
            source, queue = next(iter(ready.items()))
            while queue:
                timer = queue.popleft()
                if timer._state == _PENDING:
                    if not queue:
                        del ready[source]
                    return timer
                self._dead -= 1
            del ready[source]
            return None
        if not ready and len(idle) == 1 and not busy:  # an idle entry alone (imp.onidle's turn)
            timer = idle.popitem()[1]
            if timer._state == _PENDING:
                return timer
            self._dead -= 1
            return None
        candidates: list[Timer] = []
        for source, queue in list(ready.items()):
            while queue and queue[0]._state != _PENDING:
                queue.popleft()
                self._dead -= 1
            if not queue:
                del ready[source]
            elif source not in busy:
                candidates.append(queue[0])
        for source, timer in list(idle.items()):
            if timer._state != _PENDING:
                del idle[source]
                self._dead -= 1
            elif source not in busy and source not in ready:
                candidates.append(timer)
        if not candidates:
            return None
        if len(candidates) == 1:
            chosen = candidates[0]
        else:
            candidates.sort(key=_seq_of)
            tie = self._tie
            chosen = candidates[0] if tie is None else candidates[tie.choose(len(candidates))]
        source = chosen.source
        if idle.get(source) is chosen:
            del idle[source]
        else:
            queue = ready[source]
            queue.popleft()
            if not queue:
                del ready[source]
        return chosen

    def _pop_and_run(self, limit: int | None) -> bool:
        heap = self._heap
        ready = self._ready
        while True:
            if ready or self._idle:
                timer = self._next()
                if timer is not None:
                    break
            # Nothing can run at this instant: time moves to the next event.
            if not heap:
                return False
            when = heap[0][0]
            if (limit is not None and when > limit) or (self.end_us is not None and when > self.end_us):
                return False
            timer = heappop(heap)[2]
            if timer._state != _PENDING:
                self._dead -= 1
                continue
            if when > self.now_us:
                self.now_us = when
                self.still_events = -1  # the first event at an instant is not "without time passing"
            if not ready and not self._idle and not self.held and (not heap or heap[0][0] != when):
                break  # alone at its instant (the common case): no choice to make
            queue = ready.get(timer.source)
            if queue is None:
                ready[timer.source] = queue = deque()
            queue.append(timer)
            self._pull()
        self.still_events += 1
        if self.still_events == STILL_EVENTS and self.on_still is not None:
            self.on_still()
        timer._state = _FIRED
        self._live -= 1
        callback, args = timer.callback, timer.args
        timer.callback, timer.args = _noop, ()
        previous = self.source
        self.source = timer.source
        try:
            callback(*args)
        finally:
            self.source = previous
        return True

    def __repr__(self) -> str:
        return f"<Clock now={self.now_us}us pending={self.pending}>"


class SourceClock:
    """A :class:`Clock` as one part schedules on it: ``schedule``/``schedule_at`` tag what they
    schedule with the part's source (its own doings: the device's impOS, the agent's restarts).
    For anything else the part uses the clock itself (``clock``): a view that passed other
    attributes on (``__getattr__``) would make CPython 3.11 read every attribute of it the slow,
    unspecialised way, its methods included."""

    __slots__ = ("clock", "source")

    def __init__(self, clock: Clock, source: str) -> None:
        self.clock = clock
        self.source = source

    # The clock's time, read through a getter written in C (no Python frame). Hot code reads the
    # clock's own attribute instead: CPython 3.11 never specialises a property (~100 ns a read
    # against ~20).
    now_us = property(attrgetter("clock.now_us"), doc="The clock's time, in µs.")

    def schedule(self, delay_us: int, callback: Callable[..., Any], *args: Any, source: str | None = None) -> Timer:
        return self.clock.schedule(delay_us, callback, *args, source=source or self.source)

    def schedule_at(self, at_us: int, callback: Callable[..., Any], *args: Any, source: str | None = None) -> Timer:
        return self.clock.schedule_at(at_us, callback, *args, source=source or self.source)
