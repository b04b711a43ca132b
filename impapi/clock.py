"""The virtual clock: one event heap in integer microseconds.

Modelled on SimPy's event heap and trio's MockClock. Heap entries are tuples
``(when_us, tie_key, seq, timer)``: ``seq`` increases with every schedule, so with the default
constant ``tie_key`` equal-time events run in the order they were scheduled, and an event
scheduled for "now" from inside a running event runs after it (the running one has already
left the heap). Passing a ``random.Random`` as ``tie_break`` draws ``tie_key`` from it, so a
fuzzer can explore (and shrink) the order of same-instant events; ``seq`` still breaks any
remaining tie, keeping every run a pure function of the seed.

Time never comes from the wall clock. It moves only when events are processed
(``step``/``run_until``/``run``) or when a running event blocks (``advance``, for ``imp.sleep``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Any

__all__ = ["Clock", "Timer", "US_PER_S"]

US_PER_S = 1_000_000

_PENDING, _FIRED, _CANCELLED = 0, 1, 2

# Rebuilding the heap costs O(n); only do it when cancelled entries are both numerous and the
# majority, so cancel() stays O(1) amortised.
_COMPACT_MIN = 256


STILL_EVENTS = 100_000  # events at one virtual instant after which Clock.on_still is called


class Timer:
    """Handle for one scheduled callback."""

    __slots__ = ("when_us", "callback", "args", "_state", "_clock")

    def __init__(self, clock: Clock, when_us: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when_us = when_us
        self.callback = callback
        self.args = args
        self._state = _PENDING
        self._clock = clock

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
        return f"<Timer at {self.when_us}us {state}>"


def _noop(*_: Any) -> None:
    pass


def _check_us(value: int, what: str) -> int:
    # bool is an int subclass but never a sensible time; floats would reintroduce drift.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int number of microseconds, not {type(value).__name__}")
    return value


class Clock:
    """Deterministic virtual clock.

    ``tie_break``: ``None`` for strict FIFO among equal-time events, or a ``random.Random``
    that supplies the tie key (can be replaced between runs through the attribute).
    """

    __slots__ = ("_now", "_heap", "_seq", "_cancelled", "_running", "_stop", "tie_break", "still_events", "on_still")

    def __init__(self, start_us: int = 0, *, tie_break: random.Random | None = None) -> None:
        if _check_us(start_us, "start_us") < 0:
            raise ValueError(f"start_us must be >= 0, got {start_us}")
        self._now = start_us
        self._heap: list[tuple[int, float, int, Timer]] = []
        self._seq = 0
        self._cancelled = 0
        self._running = False
        self._stop = False
        self.tie_break = tie_break
        # Events run one after another without time passing, and what to call when that count
        # reaches STILL_EVENTS (an imp.wakeup(0, ...) loop would otherwise run for ever).
        self.still_events = 0
        self.on_still: Callable[[], Any] | None = None

    # -- time ---------------------------------------------------------------------------------

    @property
    def now_us(self) -> int:
        return self._now

    @property
    def now(self) -> float:
        """Current virtual time in seconds (a view; the integer microseconds are authoritative)."""
        return self._now / US_PER_S

    def advance(self, delta_us: int) -> None:
        """Move time forward without running events: a running event that blocks (``imp.sleep``).

        Events that fall due meanwhile run late, in their (time, seq) order, once control
        returns to the event loop; time never moves backwards to meet them.
        """
        if _check_us(delta_us, "delta_us") < 0:
            raise ValueError(f"cannot advance by a negative amount ({delta_us}us)")
        if delta_us:
            self._now += delta_us
            self.still_events = 0

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, delay_us: int, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` ``delay_us`` microseconds from now (0: after the current event)."""
        if _check_us(delay_us, "delay_us") < 0:
            raise ValueError(f"delay_us must be >= 0, got {delay_us}")
        return self._push(self._now + delay_us, callback, args)

    def schedule_at(self, at_us: int, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` at absolute virtual time ``at_us`` (not in the past)."""
        if _check_us(at_us, "at_us") < self._now:
            raise ValueError(f"cannot schedule at {at_us}us: it is before now ({self._now}us)")
        return self._push(at_us, callback, args)

    def _push(self, when: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> Timer:
        timer = Timer(self, when, callback, args)
        rng = self.tie_break
        seq = self._seq
        self._seq = seq + 1
        heappush(self._heap, (when, 0 if rng is None else rng.random(), seq, timer))
        return timer

    def _on_cancel(self) -> None:
        self._cancelled += 1
        heap = self._heap
        if self._cancelled >= _COMPACT_MIN and self._cancelled * 2 > len(heap):
            heap[:] = [e for e in heap if e[3]._state == _PENDING]
            heapify(heap)
            self._cancelled = 0

    # -- inspection ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Number of scheduled, not yet fired, not cancelled events."""
        return len(self._heap) - self._cancelled

    @property
    def idle(self) -> bool:
        """True when nothing is scheduled."""
        return len(self._heap) == self._cancelled

    def peek(self) -> int | None:
        """Time of the next event, or None when idle."""
        heap = self._heap
        while heap and heap[0][3]._state != _PENDING:
            heappop(heap)
            self._cancelled -= 1
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

        Afterwards ``now_us == t_us``, unless ``stop()`` was called or a callback advanced time
        past ``t_us`` (time never goes back). An exception from a callback propagates; the clock
        stays consistent, with ``now_us`` at that event's time.
        """
        if _check_us(t_us, "t_us") < self._now:
            raise ValueError(f"cannot run until {t_us}us: it is before now ({self._now}us)")
        self._enter()
        self._stop = False
        try:
            while self._pop_and_run(t_us):
                if self._stop:
                    return
            if t_us > self._now:
                self._now = t_us
                self.still_events = 0
        finally:
            self._running = False
            self._stop = False

    def run(self, for_us: int) -> None:
        """Run for ``for_us`` microseconds of virtual time."""
        if _check_us(for_us, "for_us") < 0:
            raise ValueError(f"for_us must be >= 0, got {for_us}")
        self.run_until(self._now + for_us)

    def _enter(self) -> None:
        if self._running:
            raise RuntimeError("the clock is already running: step/run cannot be called from an event")
        self._running = True

    def _pop_and_run(self, limit: int | None) -> bool:
        heap = self._heap
        while heap:
            entry = heap[0]
            if limit is not None and entry[0] > limit:
                return False
            heappop(heap)
            timer = entry[3]
            if timer._state != _PENDING:
                self._cancelled -= 1
                continue
            timer._state = _FIRED
            if entry[0] > self._now:
                self._now = entry[0]
                self.still_events = 0
            else:
                self.still_events += 1
                if self.still_events == STILL_EVENTS and self.on_still is not None:
                    self.on_still()
            callback, args = timer.callback, timer.args
            timer.callback, timer.args = _noop, ()
            callback(*args)
            return True
        return False

    def __repr__(self) -> str:
        return f"<Clock now={self._now}us pending={self.pending}>"
