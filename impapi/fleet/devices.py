"""One device of a fleet: its seed and its scenario, both derived from the fleet seed and its index.

A device's life is an ordinary scenario (:mod:`impapi.scenario`), so any device can be replayed
alone with ``impsim run``:

- start phase: a device powered on at ``p`` > 0 is ``0s:power-off`` then ``p:power-on`` (the agent
  runs from 0, as agents live in the cloud);
- the release plan (``--at`` impos / deploy / force-deploy events) reaches its device group
  ``delay`` later; every other ``--at`` event reaches every device at its time;
- a flaky network: ``offline=LENGTH`` events, a Poisson process; unplanned power cycles: the same;
- a group move: ``move-group=NAME`` at a random moment of the window.

Each aspect draws from its own random stream, named by the fleet seed, the device index and the
aspect, so changing one setting of the fleet file does not reshuffle the others, and nothing
depends on which worker or shard simulates the device.
"""

from __future__ import annotations

import hashlib
import math
import random
import shlex
from dataclasses import dataclass
from typing import Any

from ..durations import format_duration
from ..scenario import Scenario, ScenarioEvent
from .config import DAY_US, FleetConfig, Group

__all__ = ["RELEASES", "DeviceSpec", "Plan", "device_seed"]

RELEASES = frozenset({"impos", "deploy", "force-deploy"})  # staged by device group
SECOND_US = 1_000_000
MAX_DURATION_US = 400 * DAY_US  # its load curves hold a count per minute


def device_seed(fleet_seed: int, index: int) -> int:
    """The device's own seed (its ``impsim run --seed``): 48 bits of a hash of the fleet seed and
    the device index, so devices of one fleet practically never share one."""
    digest = hashlib.sha256(f"impsim-fleet/{fleet_seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def _stream(fleet_seed: int, index: int, aspect: str) -> random.Random:
    return random.Random(f"impsim-fleet/{fleet_seed}/{index}/{aspect}")  # str seeds hash with SHA-512


def _seconds(us: float) -> int:
    """Whole seconds: replay commands stay readable and every time survives the round trip."""
    return int(us // SECOND_US) * SECOND_US


@dataclass(frozen=True)
class DeviceSpec:
    index: int
    seed: int
    group: str
    imp: str
    start_us: int
    released_us: int | None  # when the group's first release reaches it (None: not in this run)
    outages: int
    power_cycles: int
    moved_us: int | None
    events: tuple[ScenarioEvent, ...]


@dataclass(frozen=True)
class Plan:
    """What every device of the fleet shares: the fleet file, its size and seed, the run's length,
    the ``--at`` events and how the code is loaded."""

    config: FleetConfig
    devices: int
    seed: int
    duration_us: int
    events: tuple[ScenarioEvent, ...] = ()
    load_args: tuple[str, ...] = ()  # impsim run's options for loading the code (--lib-dir, -D...)

    def __post_init__(self) -> None:
        if not 0 < self.duration_us <= MAX_DURATION_US:
            raise ValueError(f"a fleet runs for more than 0s and at most {format_duration(MAX_DURATION_US)}, "
                             f"not {format_duration(self.duration_us)}")
        late = [e for e in self.events if e.at_us > self.duration_us]
        if late:
            raise ValueError(f"event {late[0].to_cli()!r} is after the end of the run "
                             f"({format_duration(self.duration_us)}): lengthen --for or move the event")
        sizes = self.config.group_sizes(self.devices)
        bounds, start = [], 0
        for group, count in sizes:
            bounds.append((start + count, group))
            start += count
        object.__setattr__(self, "_bounds", tuple(bounds))

    @property
    def first_release_us(self) -> int | None:
        times = [e.at_us for e in self.events if e.kind in RELEASES]
        return min(times) if times else None

    def group_of(self, index: int) -> Group:
        """Groups hold consecutive device indices, in the order the fleet file lists them."""
        for end, group in self._bounds:  # type: ignore[attr-defined]
            if index < end:
                return group
        raise IndexError(f"device {index} is not in a fleet of {self.devices}")

    def spec(self, index: int) -> DeviceSpec:
        cfg, seed, end = self.config, self.seed, self.duration_us
        group = self.group_of(index)
        events: list[ScenarioEvent] = []

        names, weights = zip(*cfg.modules)
        imp = names[0] if len(names) == 1 else _stream(seed, index, "module").choices(names, weights)[0]

        start = _seconds(_stream(seed, index, "start").random() * cfg.start_spread_us)
        start = min(start, end)
        if start > 0:
            events += [ScenarioEvent(0, "power-off"), ScenarioEvent(start, "power-on")]

        released = None
        for e in self.events:
            if e.kind in RELEASES:
                at = e.at_us + group.delay_us
                if at <= end:
                    events.append(ScenarioEvent(at, e.kind, e.arg))
                    released = at if released is None else min(released, at)
            else:
                events.append(e)

        outages = 0
        rng = _stream(seed, index, "network")
        if rng.random() < cfg.flaky_share and cfg.outages_per_day > 0:
            t = 0.0
            lo, hi = math.log(cfg.outage_min_us), math.log(cfg.outage_max_us)
            while True:
                t += rng.expovariate(cfg.outages_per_day / DAY_US)
                at = _seconds(t)
                if at >= end:
                    break
                length = max(SECOND_US, _seconds(math.exp(rng.uniform(lo, hi))))
                events.append(ScenarioEvent(at, "offline", length))
                outages += 1
                t = at + length  # the next outage starts after this one ends

        cycles = 0
        if cfg.power_cycles_per_day > 0:
            rng = _stream(seed, index, "power")
            t = 0.0
            while True:
                t += rng.expovariate(cfg.power_cycles_per_day / DAY_US)
                at = _seconds(t)
                if at >= end:
                    break
                events.append(ScenarioEvent(at, "power-cycle"))
                cycles += 1

        moved = None
        if cfg.move_share > 0:
            rng = _stream(seed, index, "move")
            if rng.random() < cfg.move_share:
                lo = cfg.move_window_us[0]
                hi = min(end, cfg.move_window_us[1] if cfg.move_window_us[1] is not None else end)
                if lo < hi:
                    moved = _seconds(rng.uniform(lo, hi))
                    events.append(ScenarioEvent(moved, "move-group", cfg.move_to))

        return DeviceSpec(index, device_seed(seed, index), group.name, imp, start, released, outages, cycles,
                          moved, tuple(sorted(events, key=lambda e: e.at_us)))

    def scenario(self, spec: DeviceSpec, device: str, agent: str | None) -> Scenario:
        """The device's life as a scenario (code paths as the user gave them, made absolute)."""
        return Scenario(spec.events, self.duration_us, device, agent, spec.imp, spec.seed)

    def replay_args(self, spec: DeviceSpec, device: str, agent: str | None,
                    relative_to: Any = None) -> list[str]:
        """``impsim run`` arguments that replay the device alone."""
        args = self.scenario(spec, device, agent).to_cli_args(relative_to)
        if self.config.deadline_us is not None:
            args += ["--update-deadline", format_duration(self.config.deadline_us)]
        return args + list(self.load_args)

    def replay_command(self, spec: DeviceSpec, device: str, agent: str | None, relative_to: Any = None) -> str:
        return "impsim run " + shlex.join(self.replay_args(spec, device, agent, relative_to))
