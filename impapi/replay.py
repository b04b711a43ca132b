"""What :meth:`impapi.Simulation.play` returns: a scenario played on a simulation.

A :class:`Replay` holds the simulation after the run, the scenario as played (completed with
what the simulation ran: its code files, imp, seed and duration, so that
:attr:`Replay.replayable` replays it byte for byte through ``impsim run``) and, besides the
simulation's own record (``sim.events``, ``sim.log``, the flash's operation log), what that
record does not keep and a later analysis may need (the checks of
:mod:`impapi.testing.fuzz.checks` read it):

- :attr:`Replay.boots`: at every ``boot`` event, the flash operations made so far and the
  device code the boot runs;
- :attr:`Replay.lines`: at every line the device logs, the bytes its boot has written to the
  flash so far, as they are at that moment (an app that logs "stored ..." can then be held to
  its word at the end of the run);
- :meth:`Replay.indices`: where the events of the kinds a run has few of (updates, errors,
  outages, power changes, agent restarts) are in ``sim.events``.

Recording starts when the Replay is made, before the simulation starts, and only when the
simulation keeps its history (``keep_history=False`` streams a run in constant memory)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .log import LogEntry
    from .scenario import Scenario

__all__ = ["INDEXED_KINDS", "BootMark", "Line", "Replay"]

# The event kinds whose indices a Replay keeps: few in any run, and what the checks look for
# first (finding them in a two-day run's ~1,500 events took a search of them all per kind).
INDEXED_KINDS = ("update", "error", "outage", "power", "agent-restart")

_tuple_new = tuple.__new__


class BootMark(NamedTuple):
    event_index: int  # of the boot event in sim.events
    op_index: int  # flash operations made before the boot
    source: str | None  # the device code the boot runs


class Line(NamedTuple):
    entry: "LogEntry"  # a line the device logged
    boot: int  # index into Replay.boots
    op_index: int  # flash operations made before the line
    written: tuple[tuple[int, bytes], ...]  # (address, bytes there now) of each range the boot wrote


class Replay:
    """``sim``: the :class:`impapi.Simulation` that played it; ``scenario``: the scenario as
    played; ``tie_seed``: the same-instant order it ran with; ``start_us``: when it started."""

    def __init__(self, sim: Any, scenario: "Scenario", *, tie_seed: int | None, start_us: int) -> None:
        self.sim = sim
        self.scenario = scenario
        self.tie_seed = tie_seed
        self.start_us = start_us
        dev, agent = sim.device, sim.agent
        self.device_source: str | None = dev.source if dev is not None else None
        self.agent_source: str | None = agent.source if agent is not None else None
        self._device = dev
        self._flash = dev.flash if dev is not None else None
        self.boots: list[BootMark] = []
        self._lines: list[Line] = []
        self._written: tuple[int, int, tuple] | None = None  # (boot, op count, written): the last line's
        self._pending: list["LogEntry"] = []  # log entries not yet looked at (_make_lines)
        self._pending_from = 0  # the log index of the first of them
        self._log_at_boot: list[int] = []  # per boot mark: entries the log had when it was made
        self._log: Any = None
        env = sim.env
        # Boots before the replay started (a simulation started earlier) ran the code it has now.
        self.boots += [BootMark(i, 0, self.device_source) for i, e in enumerate(env.events) if e.kind == "boot"]
        self._indices: dict[str, list[int]] = {k: [] for k in INDEXED_KINDS}
        for i, e in enumerate(env.events):
            if e.kind in self._indices:
                self._indices[e.kind].append(i)
        if env.keep_history:
            env.watchers["boot"] = self._booted
            for kind, indices in self._indices.items():
                env.watchers[kind] = indices.append  # called with the index the event gets
            if self._flash is not None:
                # Log entries are kept as they come (a C append: most are the agent's and the
                # status lines) and made into Lines later, at the latest before the flash changes
                # (sleeper, 2 days: ~575 entries, ~140 -> ~50 us per run).
                self._log = env.log
                self._log_at_boot += [0] * len(self.boots)
                self._pending_from = len(env.log)
                env.log.add_sink(self._pending.append)
                self._flash.before_change.append(self._make_lines)

    @property
    def replayable(self) -> "Scenario":
        """The scenario with the tie seed it ran with: ``impsim run`` replays it exactly."""
        return replace(self.scenario, tie_seed=self.tie_seed)

    def indices(self, kind: str) -> list[int] | None:
        """The indices in ``sim.events`` of the events of ``kind``, in order (not to be changed),
        if ``kind`` is one of :data:`INDEXED_KINDS` and this replay is recording them (not a later
        replay of the same simulation); else None."""
        found = self._indices.get(kind)
        if found is None or self.sim.env.watchers.get(kind) != found.append:
            return None
        return found

    # --- recording ------------------------------------------------------------------------

    def _op_count(self) -> int:
        fl = self._flash
        return len(fl._ops) if fl is not None else 0  # the list itself: fl.ops copies it

    @property
    def lines(self) -> list[Line]:
        """The device's log lines so far, each with what its boot had written by then."""
        self._make_lines()
        return self._lines

    def forget(self) -> None:
        """Drop the boot marks and lines (for a caller done reading them)."""
        self.boots.clear()
        self._lines.clear()
        self._pending_from += len(self._pending)
        self._pending.clear()
        self._log_at_boot.clear()

    def _booted(self, event_index: int) -> None:
        if self._log is not None:
            self._log_at_boot.append(len(self._log))
        self.boots.append(_tuple_new(BootMark, (event_index, self._op_count(), self._device.source)))

    def _make_lines(self) -> None:
        """Make Lines of the device's entries among the pending ones. Called before the flash
        changes (and when lines are read), so the flash and its operation log are as they were
        when each entry was logged; its boot is the last one marked before it."""
        pending = self._pending
        if not pending:
            return
        first = self._pending_from
        self._pending_from = first + len(pending)
        device = [(first + i, e) for i, e in enumerate(pending) if e[1] == "device"]
        pending.clear()
        if not device:
            return
        fl = self._flash
        ops = fl._ops
        count = len(ops)
        at_boot = self._log_at_boot
        for index, entry in device:
            boot = bisect_right(at_boot, index) - 1
            if boot < 0:
                continue  # before the first boot
            last = self._written
            if last is not None and last[0] == boot and last[1] == count:
                written = last[2]  # no flash operation since the last line: the same bytes
            else:
                ranges = _merge((op.addr, op.addr + op.length) for op in ops[self.boots[boot].op_index:]
                                if op.kind == "write" and op.result != 2)
                written = tuple((lo, fl.peek(lo, hi - lo)) for lo, hi in ranges)
                self._written = (boot, count, written)
            self._lines.append(_tuple_new(Line, (entry, boot, count, written)))  # Line(...) without its __new__

    def __repr__(self) -> str:
        return (f"<Replay {len(self.scenario.events)} events, {len(self.sim.events)} sim events, "
                f"tie_seed={self.tie_seed}>")


def _merge(ranges: Any) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]
