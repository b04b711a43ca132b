"""``Fleet``: a device group of many simulated imps, one app, one release plan.

    from impapi.fleet import Fleet
    fleet = Fleet(device="app.device.nut", agent="app.agent.nut", devices=12000, seed=1,
                  fleet="fleet.toml", at=["2h:impos=44.0"])
    result = fleet.run("3d")            # a LocalCluster, one worker per CPU; or client=Client(...)
    result.summary()["time_to"], result.table(), result.plot("rollout.png")
    sim = fleet.replay(42)              # one device alone, with its whole log and events
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

from ..durations import parse_duration
from ..scenario import Deploy, ScenarioEvent, parse_at
from ..builder import LoadOptions
from ..simulation import Simulation, load_code
from .config import FleetConfig, from_dict, load_fleet
from .devices import Plan
from .engine import run_job
from .observe import DeviceOutcome, simulate_device
from .result import FleetResult, Merger
from .shard import BIN_US, Job

__all__ = ["Fleet"]

DEFAULT_DEVICES = 1000
DEFAULT_SEED = 1


class Fleet:
    """``devices`` and ``seed`` default to the fleet file's, else 1000 and 1. ``fleet``: a path to
    a fleet file, a :class:`FleetConfig`, a dict of its tables, or None for the defaults. ``at``:
    the release plan and other events, as ``--at`` strings or :class:`ScenarioEvent` values."""

    def __init__(self, device: str | os.PathLike, agent: str | os.PathLike | None = None, *,
                 devices: int | None = None, seed: int | None = None,
                 fleet: str | os.PathLike | FleetConfig | dict | None = None,
                 at: Iterable[str | ScenarioEvent] = (), load: LoadOptions | None = None,
                 load_args: Sequence[str] = ()) -> None:
        if isinstance(fleet, FleetConfig):
            self.config = fleet
        elif isinstance(fleet, dict):
            self.config = from_dict(fleet)
        elif fleet is None:
            self.config = FleetConfig()
        else:
            self.config = load_fleet(fleet)
        self.devices = devices if devices is not None else (self.config.devices or DEFAULT_DEVICES)
        self.seed = seed if seed is not None else (self.config.seed if self.config.seed is not None else DEFAULT_SEED)
        if isinstance(self.devices, bool) or not isinstance(self.devices, int) or self.devices < 1:
            raise ValueError(f"a fleet needs at least 1 device, not {self.devices!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"the fleet seed is a whole number of at least 0, not {self.seed!r}")
        self.config.group_sizes(self.devices)  # a fleet file whose groups cannot hold the fleet fails now
        self.device_file = os.path.abspath(device)
        self.agent_file = os.path.abspath(agent) if agent is not None else None
        # Loaded now, on this machine (Builder, #require): the workers get the code, under these
        # names, and need none of the user's files.
        self.load_args = tuple(load_args)
        self.device_code = load_code(self.device_file, load)
        self.agent_code = load_code(self.agent_file, load) if self.agent_file else None
        self.events = tuple(e if isinstance(e, ScenarioEvent) else parse_at(e) for e in at)
        self.sources: dict[str, str] = {}
        for e in self.events:
            if isinstance(e.arg, Deploy):
                for path in (e.arg.device, e.arg.agent):
                    if path and path not in self.sources:
                        self.sources[path] = load_code(path, load).source

    def plan(self, duration: str | int | float) -> Plan:
        return Plan(self.config, self.devices, self.seed, parse_duration(duration), self.events, self.load_args)

    def job(self, duration: str | int | float) -> Job:
        return Job(self.plan(duration), self.device_code, self.agent_code, self.sources)  # type: ignore[arg-type]

    def run(self, duration: str | int | float, client: Any = None, *, scheduler: str | None = None,
            workers: int | None = None, shard_size: int | None = None,
            progress: Callable[[int, int], Any] | None = None) -> FleetResult:
        """Simulate every device for ``duration`` on Dask: ``client`` (a ``distributed.Client``),
        else the cluster at ``scheduler``, else a LocalCluster of ``workers`` processes (default
        one per CPU), started and shut down here. ``progress(done, total)`` hears of each shard."""
        job = self.job(duration)
        merger = Merger(self.devices, job.bins)

        def on_shard(shard: Any) -> None:
            merger.add(shard)
            if progress is not None:
                progress(merger.done, self.devices)

        run_job(job, client=client, scheduler=scheduler, workers=workers, shard_size=shard_size,
                on_shard=on_shard)
        return merger.result(job.plan, self.device_file, self.agent_file)

    def replay(self, index: int, duration: str | int | float) -> tuple[DeviceOutcome, Simulation]:
        """Device ``index`` alone, in this process, keeping its whole log and events: its outcome
        (the same as in the fleet) and the simulation."""
        job = self.job(duration)
        if not 0 <= index < self.devices:
            raise IndexError(f"device {index} is not in a fleet of {self.devices}")
        spec, scenario = job.scenario(index)
        return simulate_device(scenario, spec, device=job.device, agent=job.agent,
                               deadline_us=self.config.deadline_us, sources=self.sources, bin_us=BIN_US,
                               keep_history=True)

    def replay_command(self, index: int, duration: str | int | float,
                       relative_to: str | os.PathLike | None = None) -> str:
        plan = self.plan(duration)
        return plan.replay_command(plan.spec(index), self.device_file, self.agent_file, relative_to)

