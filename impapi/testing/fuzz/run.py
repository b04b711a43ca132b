"""Playing a scenario against an app: :func:`play` and the :class:`Run` it returns.

A run is built the way ``impsim run ... --at ...`` builds it (``Simulation(..., start=False)``,
``start()``, the scenario applied from time 0, then run for its duration), so the command a
failure prints replays it byte for byte. Besides the simulation's own record (``sim.events``,
``sim.log``, the flash's operation log), a run keeps what the checks need and the simulation
does not record:

- the flash operations made by each boot (the operation index at every ``boot`` event);
- *claims*: when the device logs a line matching ``claim`` (default: starting with ``stored``),
  the bytes its current boot has written so far, as they are at that moment — the data the app
  says is safe, compared with the flash at the end by ``checks.data_persists``;
- optionally, the app lines the VMs executed (:mod:`.coverage`).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union

from impapi.durations import parse_duration
from impapi.events import Event, EventLog
from impapi.log import LogEntry
from impapi.scenario import Scenario, apply

from . import ties
from .coverage import CoverageCollector, collect_live
from .source import AppSource

if TYPE_CHECKING:
    from impapi.simulation import Simulation

__all__ = ["DEFAULT_CLAIM", "Boot", "Claim", "Run", "play"]

DEFAULT_CLAIM = r"^stored\b"

SimSpec = Union["Simulation", Callable[[], "Simulation"], str, os.PathLike, tuple, dict, None]


@dataclass(frozen=True)
class Claim:
    """The app said (in a device log line) that what its boot wrote is stored."""

    time_us: int
    text: str
    boot: int  # index into Run.boots
    ranges: tuple[tuple[int, bytes], ...]  # (address, bytes there when the claim was made)
    op_index: int = 0  # flash operations made before the claim


@dataclass
class Boot:
    """One run of the device's Squirrel: from its ``boot`` event to the next one (or the end)."""

    index: int
    time_us: int
    wakereason: int
    reason_name: str
    first_event: int  # index into the events
    end_event: int  # index of the next boot's first event (exclusive end)
    first_op: int  # index into the flash operations
    end_op: int
    applied: list[Event] = field(default_factory=list)  # updates installed as it started

    @property
    def started_by(self) -> str | None:
        """The path of the update installed at this boot ("polite", "no-handler", ...), if any."""
        return self.applied[0].data.get("path") if self.applied else None


class _Recorder(EventLog):
    """The simulation's event list, also noting the flash operation index at every boot."""

    def __init__(self, run: "Run", existing: list[Event]) -> None:
        super().__init__(existing)
        self._run = run

    def append(self, event: Event) -> None:  # type: ignore[override]
        if event.kind == "boot":
            run = self._run
            run._boot_ops.append((len(self), run._op_count()))
            dev = run.sim.device
            run._boot_sources.append(dev.source if dev is not None else None)
        super().append(event)


class Run:
    """A played scenario: the simulation after it, and views the checks share."""

    def __init__(self, sim: "Simulation", scenario: Scenario, *, tie_seed: int | None = None,
                 start_us: int = 0, claim: str | re.Pattern | None = DEFAULT_CLAIM) -> None:
        self.sim = sim
        self.scenario = scenario
        self.tie_seed = tie_seed
        self.start_us = start_us
        self.claims: list[Claim] = []
        self._boot_ops: list[tuple[int, int]] = []  # (event index, flash op index) per boot
        self._boot_sources: list[str | None] = []  # the device code each boot ran
        self._claim_re = re.compile(claim) if isinstance(claim, str) else claim
        self.coverage: CoverageCollector | None = None
        self.device_source = sim.device.source if sim.device is not None else None
        self.agent_source = sim.agent.source if sim.agent is not None else None
        # Boots that happened before the run was observed (a Simulation started earlier).
        for i, e in enumerate(sim.events):
            if e.kind == "boot":
                self._boot_ops.append((i, 0))
                self._boot_sources.append(self.device_source)
        sim.events = _Recorder(self, sim.events)
        sim.log.add_sink(self._on_log)

    # --- recording ------------------------------------------------------------------------

    def _op_count(self) -> int:
        fl = self.sim.flash
        return len(fl._ops) if fl is not None else 0  # the list itself: ops copies it

    def _on_log(self, entry: LogEntry) -> None:
        if self._claim_re is None or entry.source != "device" or not self._claim_re.search(entry.text):
            return
        fl = self.sim.flash
        if fl is None or not self._boot_ops:
            return
        first = self._boot_ops[-1][1]
        ranges = _merge((op.addr, op.addr + op.length) for op in fl._ops[first:]
                        if op.kind == "write" and op.result != 2)
        self.claims.append(Claim(entry.time_us, entry.text, len(self._boot_ops) - 1,
                                 tuple((lo, fl.peek(lo, hi - lo)) for lo, hi in ranges), len(fl._ops)))

    # --- what happened --------------------------------------------------------------------

    @property
    def events(self) -> EventLog:
        return self.sim.events

    @property
    def log(self):
        return self.sim.log

    @property
    def end_us(self) -> int:
        return self.sim.clock.now_us

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us

    @property
    def flash_ops(self) -> tuple:
        fl = self.sim.flash
        return fl.ops if fl is not None else ()

    def flash_image(self) -> bytes:
        fl = self.sim.flash
        return fl.image if fl is not None else b""

    def boots(self) -> list[Boot]:
        """The device's Squirrel runs, in order. Not cached: a machine's run keeps growing."""
        events = self.sim.events
        out: list[Boot] = []
        n_ops = self._op_count()
        marks = self._boot_ops
        for i, (ev_index, op_index) in enumerate(marks):
            e = events[ev_index]
            end_ev = marks[i + 1][0] if i + 1 < len(marks) else len(events)
            end_op = marks[i + 1][1] if i + 1 < len(marks) else n_ops
            applied = []  # install() records them just before the boot (and its state change)
            j = ev_index - 1
            while j >= 0 and (events[j].kind == "state" or
                              events[j].kind == "update" and events[j].data.get("stage") == "applied"):
                if events[j].kind == "update":
                    applied.insert(0, events[j])
                j -= 1
            out.append(Boot(i, e.time_us, e.data.get("wakereason", -1), e.data.get("reason_name", ""),
                            ev_index, end_ev, op_index, end_op, applied))
        return out

    def boot_events(self, boot: Boot) -> list[Event]:
        return self.sim.events[boot.first_event:boot.end_event]

    def device_log(self) -> list[LogEntry]:
        return [e for e in self.sim.log if e.source == "device"]

    def log_text(self) -> str:
        """The log as ``impsim run`` prints it."""
        return self.sim.log.text()

    @cached_property
    def sources(self) -> list[AppSource]:
        out = []
        dev, agent = self.sim.device, self.sim.agent
        if dev is not None and self.device_source is not None:
            out.append(AppSource(self.device_source, dev.filename, "device_code"))
        if agent is not None and self.agent_source is not None:
            out.append(AppSource(self.agent_source, agent.filename, "agent_code"))
        return out

    @property
    def device_app(self) -> AppSource | None:
        """The device code the run started with."""
        return next((s for s in self.sources if s.label == "device_code"), None)

    def app_of(self, boot: "Boot | int | None") -> AppSource | None:
        """The device code a boot ran (a deployment may have replaced the first), named after the
        file it was deployed from when the scenario says."""
        index = boot.index if isinstance(boot, Boot) else boot
        if index is None or not 0 <= index < len(self._boot_sources):
            return self.device_app
        source = self._boot_sources[index]
        first = self.device_app
        if source is None or first is None or source == first.source:
            return first
        cache = self.__dict__.setdefault("_apps", {})
        if source not in cache:
            name = next((p for p in self._deployed_files() if _read(p) == source), "<deployed device code>")
            cache[source] = AppSource(source, name, "device_code")
        return cache[source]

    def boot_at(self, event_index: int) -> "Boot | None":
        """The boot whose events include ``event_index``."""
        found = None
        for b in self.boots():
            if b.first_event <= event_index:
                found = b
            else:
                break
        return found

    def _deployed_files(self) -> list[str]:
        from impapi.scenario import Deploy

        return [e.arg.device for e in self.scenario.events if isinstance(e.arg, Deploy) and e.arg.device]

    # --- reproduction -----------------------------------------------------------------------

    def command(self, relative_to: str | os.PathLike | None = None) -> str:
        """The ``impsim run`` command that replays this run."""
        return shlex.join(["impsim", "run", *self._replay().to_cli_args(relative_to)])

    def toml(self, relative_to: str | os.PathLike | None = None) -> str:
        return self._replay().to_toml(relative_to)

    def _replay(self) -> Scenario:
        return replace(self.scenario, tie_seed=self.tie_seed)

    def save_scenario(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(self.toml(relative_to=path.parent.resolve()), encoding="utf-8")
        return path

    def timeline(self, path: str | os.PathLike, **options: Any) -> Path:
        from impapi.timeline import write_timeline

        options.setdefault("title", f"impsim: {Path(self.sim.device.filename).name if self.sim.device else 'agent'}")
        return write_timeline(path, self.sim, **options)

    def close(self) -> None:
        """Free the VMs (the run's record stays readable)."""
        for owner in (self.sim.device, self.sim.agent):
            host = getattr(owner, "host", None) if owner is not None else None
            if host is not None:
                host.stop()
                if not host.vm.closed:
                    try:
                        host.vm.close()
                    except Exception:  # still running: the GC will close it
                        pass

    def __repr__(self) -> str:
        return f"<Run {len(self.scenario.events)} events, {len(self.sim.events)} sim events, tie_seed={self.tie_seed}>"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def _merge(ranges: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _paths(spec: Any, scenario: Scenario) -> tuple[str | None, str | None]:
    if spec is None:
        return scenario.device, scenario.agent
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec), scenario.agent
    if isinstance(spec, dict):
        return spec.get("device", scenario.device), spec.get("agent", scenario.agent)
    if isinstance(spec, tuple):
        device, agent = (tuple(spec) + (None, None))[:2]
        return device, agent
    raise TypeError(f"play() takes a Simulation, a function making one, a device path, a "
                    f"(device, agent) tuple or a dict, not {type(spec).__name__}")


def play(sim: SimSpec, scenario: Scenario, *, duration: str | int | None = None,
         tie_seed: int | None | str = "auto", coverage: bool | CoverageCollector = False,
         claim: str | re.Pattern | None = DEFAULT_CLAIM, config: Any = None,
         keep_open: bool = True, load: Any = None) -> Run:
    """Play ``scenario`` and return the :class:`Run`.

    ``sim``: a :class:`~impapi.Simulation` (played from its current time), a function returning
    one (made with ``start=False`` for full fidelity), a device code path, a ``(device, agent)``
    tuple, a dict, or None (the scenario's own ``device``/``agent``).
    ``duration``: how long to run when the scenario has none.
    ``tie_seed``: the same-instant order: ``"auto"`` (first-in first-out, unless hypothesis is
    exploring interleavings: see :mod:`.ties`), None (first-in first-out) or a seed.
    ``coverage``: collect executed app lines (True, or a collector to accumulate into).
    ``claim``: the device log lines that claim data is stored (a regex; None: none).
    ``config``: an :class:`impapi.Config` for simulations made here.
    ``load``: how simulations made here load code (an :class:`impapi.builder.LoadOptions`).
    """
    from impapi.simulation import Simulation

    if tie_seed == "auto":
        tie_seed = scenario.tie_seed if scenario.tie_seed is not None else ties.tie_seed()
    made_here = not isinstance(sim, Simulation)
    if isinstance(sim, Simulation):
        s = sim
    elif callable(sim):
        s = sim()
    else:
        device, agent = _paths(sim, scenario)
        kwargs: dict[str, Any] = {"device": device, "agent": agent, "start": False}
        if scenario.imp is not None:
            kwargs["imp"] = scenario.imp
        if scenario.seed is not None:
            kwargs["seed"] = scenario.seed
        if config is not None:
            kwargs["config"] = config
        if load is not None:
            kwargs["load"] = load
        s = Simulation(**kwargs)
        scenario = replace(scenario, device=_real_path(device) or scenario.device,
                           agent=_real_path(agent) or scenario.agent)
    fresh = s.clock.now_us == 0 and s.clock.idle and (s.device is None or s.device.state == "off")
    if tie_seed is not None:
        s.clock.tie_break = ties.clock_tie_break(tie_seed)
    run = Run(s, scenario, tie_seed=tie_seed, start_us=s.clock.now_us, claim=claim)
    if coverage:
        run.coverage = coverage if isinstance(coverage, CoverageCollector) else CoverageCollector()
        s.coverage = run.coverage
    if fresh:
        s.start()
    if not made_here:
        scenario = _with_code_of(scenario, s)
        run.scenario = scenario
    apply(scenario, s, start_us=run.start_us)
    if scenario.duration_us is not None:
        run_us = scenario.duration_us
    elif duration is not None:
        run_us = parse_duration(duration)
        run.scenario = replace(scenario, duration_us=run_us)
    else:
        raise ValueError("the scenario has no duration: give it one, or pass duration= (e.g. '2d')")
    s.run(for_us=run.start_us + run_us - s.clock.now_us)
    if coverage:
        collect_live(s)
    _note(run)
    return run


def _note(run: Run) -> None:
    """Inside a hypothesis test, say how to replay the run (printed with a falsifying example)."""
    hypothesis = sys.modules.get("hypothesis")
    if hypothesis is not None and hypothesis.currently_in_test_context():
        hypothesis.note(f"replay: {run.command()}")


def _real_path(path: Any) -> str | None:
    if path is None:
        return None
    text = os.fspath(path)
    return os.path.abspath(text) if "\n" not in text and os.path.isfile(text) else None


def _with_code_of(scenario: Scenario, sim: "Simulation") -> Scenario:
    """Fill the scenario's device/agent from a simulation made elsewhere (for the command)."""
    device = scenario.device or (_real_path(sim.device.filename) if sim.device else None)
    agent = scenario.agent or (_real_path(sim.agent.filename) if sim.agent else None)
    changes: dict[str, Any] = {}
    if device != scenario.device:
        changes["device"] = device
    if agent != scenario.agent:
        changes["agent"] = agent
    if scenario.imp is None and sim.profile.name != "imp003":
        changes["imp"] = sim.profile.name
    if scenario.seed is None and sim.seed:
        changes["seed"] = sim.seed
    return replace(scenario, **changes) if changes else scenario
