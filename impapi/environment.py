"""What every part of one simulation shares, built first and handed to each part (SimPy's
``Environment``): the virtual clock, the log, the structured event record, the
:class:`~impapi.config.Config`, the seeded random generator, the epoch, the line-coverage hook
and the way to stop the run for good (:meth:`Environment.fatal`).

The parts (device, agent, cloud, relay, the Squirrel hosts) receive this and their explicit
collaborators, never the :class:`~impapi.simulation.Simulation` facade built on top of them.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any, Callable

from .clock import Clock
from .config import Config
from .durations import DEFAULT_EPOCH
from .events import Event, EventLog
from .log import Log, LogEntry

__all__ = ["Environment"]

_tuple_new = tuple.__new__


class Environment:
    """``seed``: math.rand() and the device ID; ``tie_seed``: the order of events due at the
    same virtual microsecond (None: first in, first out; an integer: the order ``impsim fuzz``
    explored with that seed). ``keep_history=False``: ``log_sink`` sees every log entry, but
    the log and the event record keep none. ``event_sink`` sees every structured event as it
    is recorded, whether or not the record keeps it."""

    __slots__ = ("config", "clock", "log", "events", "keep_history", "seed", "rng", "tie_seed", "epoch_us",
                 "coverage", "fatal_error", "event_sink", "watchers")

    def __init__(self, config: Config | None = None, *, seed: int = 0, tie_seed: int | None = None,
                 epoch: datetime = DEFAULT_EPOCH, log_sink: Callable[[LogEntry], Any] | None = None,
                 keep_history: bool = True, event_sink: Callable[[Event], Any] | None = None) -> None:
        self.config = config or Config()
        self.seed = seed
        self.rng = random.Random(seed)
        self.tie_seed = tie_seed
        self.clock = Clock(tie_break=None if tie_seed is None else random.Random(tie_seed))
        self.log = Log(epoch=epoch, sink=log_sink, keep=keep_history)
        self.keep_history = keep_history
        self.event_sink = event_sink
        self.events = EventLog()
        # kind -> callback(index): told of each kept event of that kind, with the index it takes
        # in ``events``, as it is recorded (impapi.replay marks boots so). A dict looked up per
        # event rather than a list whose append is Python code: ~1 us per wake of a sleepy app.
        self.watchers: dict[str, Callable[[int], Any]] = {}
        self.epoch_us = int((epoch if epoch.tzinfo else epoch.replace(tzinfo=timezone.utc)).timestamp()) * 1_000_000
        # Line coverage of the app: an object with wants(filename) -> bool, asked as each boot
        # compiles its code, and collect(vm), handed each VM before it closes
        # (impapi.testing.fuzz.coverage.CoverageCollector). None: no line hook at all.
        self.coverage: Any = None
        self.fatal_error: str | None = None

    def record(self, kind: str, data: dict[str, Any] | None = None, /, **fields: Any) -> Event | None:
        """Add a structured event (:mod:`impapi.events`) at the current virtual time; returns it
        (None when nothing keeps or sees it). Its data are ``fields``, or the dict ``data`` (the
        event keeps that dict). Code that records at every wake of a sleepy app passes a dict:
        Python then builds one dict, not one from the keywords (~600 instructions less an event,
        eight a boot: ~4,700 a boot, ir.sh)."""
        if self.event_sink is None and not self.keep_history:
            return None
        if data is None:
            data = fields
        elif fields:
            raise TypeError(f"record({kind!r}): data as a dict or as keywords, not both")
        # tuple.__new__ directly: Event(...) would run the named tuple's Python-level __new__.
        event = _tuple_new(Event, (self.clock.now_us, kind, data))
        if self.event_sink is not None:
            self.event_sink(event)
        if self.keep_history:
            events = self.events
            watcher = self.watchers.get(kind)
            if watcher is not None:
                watcher(len(events))
            events.append(event)
        return event

    def fatal(self, message: str) -> None:
        """Stop the run for good: something no imp could run (code that does not compile)."""
        self.fatal_error = message
        self.clock.stop()

    def reseed(self, seed: int, tie_seed: int | None) -> None:
        """Use other seeds before anything has run (a scenario that names its own)."""
        self.seed = seed
        self.rng.seed(seed)
        self.tie_seed = tie_seed
        self.clock.tie_break = None if tie_seed is None else random.Random(tie_seed)
