"""What a fleet keeps of one device's run: a few numbers and times, read from its structured
events as they happen (``Simulation(event_sink=...)``), never its history.

The rollout: the updates released to the device (impOS releases and deployments; a newer one of
a kind replaces the older) count as applied when the device has installed all of them. A group
move's own forced deployment is not part of the rollout, but it can apply the rollout's pending
updates (its path is then ``group-move``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..builder import LoadedCode
from ..events import Event
from ..scenario import Scenario, apply
from ..simulation import Config, Simulation
from .devices import DeviceSpec

__all__ = ["PATHS", "DeviceOutcome", "Observer", "simulate_device"]

# How an update gets applied (the update event's path), in the order the report stacks them.
PATHS = ("polite", "no-handler", "restart", "power-cycle", "force", "group-move", "deadline")


@dataclass(frozen=True)
class DeviceOutcome:
    """One device's run. Times are microseconds from the start of the run (None: never)."""

    index: int
    seed: int
    group: str
    imp: str
    start_us: int
    outages: int
    power_cycles: int
    moved_us: int | None
    released_us: int | None
    announced_us: int | None
    handler_us: int | None
    deferrals: int
    deferred_us: int | None
    applied_us: int | None
    path: str | None
    pending: bool  # released to it and not applied by the end
    boots: int
    errors: int
    crash_loop_us: int | None
    messages: int  # device -> agent
    http_requests: int  # agent -> the Internet
    connects: int

    @property
    def updated(self) -> bool:
        return self.applied_us is not None and not self.pending

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FIELDS = tuple(f.name for f in fields(DeviceOutcome))


class Observer:
    """The event sink of one device: counts load into the shard's per-minute bins and keeps the
    rollout's milestones."""

    __slots__ = ("bins_us", "messages", "http", "connects", "targets", "done", "announced_us", "handler_us",
                 "deferrals", "deferred_us", "applied_us", "path", "boots", "errors", "crash_loop_us",
                 "n_messages", "n_http", "n_connects", "sim")

    def __init__(self, bin_us: int, messages: list[int], http: list[int], connects: list[int]) -> None:
        self.bins_us = bin_us
        self.messages, self.http, self.connects = messages, http, connects
        self.targets: dict[str, str] = {}  # kind -> the version the rollout wants
        self.done: dict[str, str] = {}  # kind -> the version applied
        self.announced_us = self.handler_us = self.deferred_us = self.applied_us = None
        self.crash_loop_us: int | None = None
        self.path: str | None = None
        self.deferrals = self.boots = self.errors = self.n_messages = self.n_http = self.n_connects = 0
        self.sim: Simulation | None = None

    def _bin(self, series: list[int], t: int) -> None:
        i = t // self.bins_us
        if i < len(series):
            series[i] += 1

    def __call__(self, e: Event) -> None:
        kind = e.kind
        if kind == "message":
            if e.data["to"] == "agent":
                self.n_messages += 1
                self._bin(self.messages, e.time_us)
        elif kind == "boot":
            self.boots += 1
        elif kind == "connection":
            if e.data["connected"]:
                self.n_connects += 1
                self._bin(self.connects, e.time_us)
        elif kind == "update":
            self._update(e)
        elif kind == "http-request":
            self.n_http += 1
            self._bin(self.http, e.time_us)
        elif kind == "error":
            self.errors += 1
            if self.crash_loop_us is None and self.sim is not None and self.sim.crash_loop:
                self.crash_loop_us = e.time_us

    def _update(self, e: Event) -> None:
        d = e.data
        stage, kind, version = d["stage"], d["update"], d["version"]
        if stage == "released":
            if d["path"] != "group-move" or self.targets.get(kind) == version:
                self.targets[kind] = version
            return
        if self.targets.get(kind) != version:
            return  # a group move's own deployment, or an update the rollout has replaced
        if stage == "announced":
            if self.announced_us is None:
                self.announced_us = e.time_us
        elif stage == "handler-called":
            if self.handler_us is None:
                self.handler_us = e.time_us
        elif stage == "deferred":
            self.deferrals += 1
            if self.deferred_us is None:
                self.deferred_us = e.time_us
        elif stage == "applied":
            self.done[kind] = version
            if self.done == self.targets:
                self.applied_us = e.time_us
                self.path = d["path"]

    def outcome(self, spec: DeviceSpec, sim: Simulation) -> DeviceOutcome:
        crash_us = self.crash_loop_us
        if crash_us is None and sim.crash_loop:  # out of memory at every boot: no error event
            crash_us = sim.clock.now_us
        pending = bool(self.targets) and self.done != self.targets
        return DeviceOutcome(
            spec.index, spec.seed, spec.group, spec.imp, spec.start_us, spec.outages, spec.power_cycles,
            spec.moved_us, spec.released_us, self.announced_us, self.handler_us, self.deferrals, self.deferred_us,
            None if pending else self.applied_us, None if pending else self.path, pending, self.boots,
            self.errors, crash_us, self.n_messages, self.n_http, self.n_connects)


def simulate_device(scenario: Scenario, spec: DeviceSpec, *, device: LoadedCode | str,
                    agent: LoadedCode | str | None, deadline_us: int | None, sources: dict[str, str],
                    bin_us: int, bins: tuple[list[int], list[int], list[int]] | None = None,
                    keep_history: bool = False) -> tuple[DeviceOutcome, Simulation]:
    """Run one device the way ``impsim run`` runs its replay command, watching its events."""
    n = -(-scenario.duration_us // bin_us)
    messages, http, connects = bins if bins is not None else ([0] * n, [0] * n, [0] * n)
    observer = Observer(bin_us, messages, http, connects)
    sim = Simulation(device=device, agent=agent, imp=spec.imp, seed=spec.seed, start=False,
                     config=Config(update_deadline_us=deadline_us), keep_history=keep_history,
                     event_sink=observer)
    observer.sim = sim
    with sim.ending_at(scenario.duration_us):  # as Simulation.play: the end is known before code starts
        sim.start()
        apply(scenario, sim, code=sources)
        sim.run(for_us=scenario.duration_us)
    return observer.outcome(spec, sim), sim
