"""The run the checks read: :class:`Run`, an analysis of the core's
:class:`~impapi.replay.Replay`, and :func:`play`, which makes one.

:func:`play` builds the simulation the way ``impsim run`` does
(:meth:`impapi.Simulation.from_scenario`) and plays the scenario through
:meth:`impapi.Simulation.play`, the one replay path, so the command a failure prints replays it
byte for byte; under hypothesis it also lets hypothesis choose the order of same-instant events
(:mod:`.ties`). A run adds to the replay's record what the checks share:

- the device's boots (:meth:`Run.boots`), each with the flash operations it made and the
  updates installed as it started;
- *claims*: the device log lines matching ``claim`` (default: starting with ``stored``), with
  the bytes their boot had written so far as they were at that moment — the data the app says
  is safe, compared with the flash at the end by ``checks.data_persists``;
- optionally, the app lines the VMs executed (:mod:`.coverage`).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Union

from impapi.events import Event, EventLog
from impapi.inputs import InputError, read_text
from impapi.log import LogEntry
from impapi.replay import Replay
from impapi.scenario import Deploy, Scenario
from impapi.simulation import Simulation

from . import ties
from .coverage import CoverageCollector
from .source import AppSource

__all__ = ["DEFAULT_CLAIM", "Boot", "Claim", "Run", "play"]

DEFAULT_CLAIM = r"^stored\b"

SimSpec = Union[Simulation, Callable[[], Simulation], str, os.PathLike, tuple, dict, None]


@dataclass(frozen=True)
class Claim:
    """The app said (in a device log line) that what its boot wrote is stored."""

    time_us: int
    text: str
    boot: int  # index into Run.boots
    ranges: tuple[tuple[int, bytes], ...]  # (address, bytes there when the claim was made)
    op_index: int = 0  # flash operations made before the claim


@dataclass(slots=True)
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


class Run:
    """A played scenario, as the checks see it: the core's :class:`~impapi.replay.Replay` (the
    simulation after the run and its record) and the views the checks share."""

    def __init__(self, replay: Replay, *, claim: str | re.Pattern | None = DEFAULT_CLAIM,
                 coverage: CoverageCollector | None = None) -> None:
        self.replay = replay
        self._claim_re = re.compile(claim) if isinstance(claim, str) else claim
        self.coverage = coverage
        self._claims: list[Claim] = []
        self._lines_seen = 0

    @classmethod
    def of(cls, run: "Run | Replay") -> "Run":
        """A Run of ``run`` (what :meth:`impapi.Simulation.play` returns), with the default claims."""
        if isinstance(run, Run):
            return run
        made = cls(run)
        _note(made)
        return made

    @property
    def sim(self) -> Simulation:
        return self.replay.sim

    @property
    def scenario(self) -> Scenario:
        """The scenario as played, its tie seed as given (:attr:`tie_seed`: the one the run used)."""
        return self.replay.scenario

    @property
    def tie_seed(self) -> int | None:
        return self.replay.tie_seed

    @property
    def start_us(self) -> int:
        return self.replay.start_us

    @property
    def device_source(self) -> str | None:
        return self.replay.device_source

    @property
    def agent_source(self) -> str | None:
        return self.replay.agent_source

    @property
    def claims(self) -> list[Claim]:
        """The device log lines matching ``claim``, with what their boot had written by then."""
        lines = self.replay.lines
        if self._claim_re is not None and self._lines_seen < len(lines):  # a machine's run keeps growing
            search = self._claim_re.search
            self._claims += [Claim(line.entry.time_us, line.entry.text, line.boot, line.written, line.op_index)
                             for line in lines[self._lines_seen:] if search(line.entry.text)]
            self._lines_seen = len(lines)
        return self._claims

    def _op_count(self) -> int:
        return self.replay._op_count()

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
        """The device's Squirrel runs, in order (made again when the run has grown: a machine's
        run keeps going)."""
        events = self.sim.events
        n_ops = self._op_count()
        marks = self.replay.boots
        cached = self.__dict__.get("_boots")
        if cached is not None and cached[0] == (len(events), n_ops, len(marks)):
            return list(cached[1])
        out: list[Boot] = []
        ends = [(m[0], m[1]) for m in marks[1:]] + [(len(events), n_ops)]
        for i, (ev_index, op_index, _) in enumerate(marks):
            e = events[ev_index]
            end_ev, end_op = ends[i]
            applied = []  # install() records them just before the boot (and its state change)
            j = ev_index - 1
            while j >= 0:
                before = events[j]
                if before.kind == "update" and before.data.get("stage") == "applied":
                    applied.insert(0, before)
                elif before.kind != "state":
                    break
                j -= 1
            data = e.data
            out.append(Boot(i, e.time_us, data.get("wakereason", -1), data.get("reason_name", ""),
                            ev_index, end_ev, op_index, end_op, applied))
        self.__dict__["_boots"] = ((len(events), n_ops, len(marks)), out)
        return list(out)

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
        marks = self.replay.boots
        if index is None or not 0 <= index < len(marks):
            return self.device_app
        source = marks[index].source
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
        return [e.arg.device for e in self.scenario.events if isinstance(e.arg, Deploy) and e.arg.device]

    # --- reproduction -----------------------------------------------------------------------

    def command(self, relative_to: str | os.PathLike | None = None) -> str:
        """The ``impsim run`` command that replays this run."""
        return shlex.join(["impsim", "run", *self._replay().to_cli_args(relative_to)])

    def toml(self, relative_to: str | os.PathLike | None = None) -> str:
        return self._replay().to_toml(relative_to)

    def _replay(self) -> Scenario:
        return self.replay.replayable

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
        self.sim.close()

    def discard(self) -> None:
        """Free the VMs and drop the run's record now: for a caller done with the run (the fuzz
        engine, once an example's checks passed); the run must not be read afterwards.
        The record (thousands of events, log entries, boot marks) hangs off the simulation's
        reference cycles: emptied here, it is freed at once, and the cycle collector that frees
        the simulation walks a few dozen objects instead of thousands (sleeper, 2-day example:
        0.49 -> 0.35 ms of the two together)."""
        self.close()
        replay = self.replay
        replay.sim.events.clear()
        replay.sim.log.clear()
        replay.forget()

    def __repr__(self) -> str:
        return f"<Run {len(self.scenario.events)} events, {len(self.sim.events)} sim events, tie_seed={self.tie_seed}>"


def _read(path: str) -> str | None:
    try:
        return read_text(path, "code file")
    except InputError:
        return None


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
         tie_seed: int | None | str = "auto", order: "ties.Choices | None" = None,
         coverage: bool | CoverageCollector = False,
         claim: str | re.Pattern | None = DEFAULT_CLAIM, config: Any = None,
         keep_open: bool = True, load: Any = None, vms: Any = None) -> Run:
    """Play ``scenario`` and return the :class:`Run`.

    ``sim``: a :class:`~impapi.Simulation` (played from its current time), a function returning
    one (made with ``start=False`` for full fidelity), a device code path, a ``(device, agent)``
    tuple, a dict, or None (the scenario's own ``device``/``agent``).
    ``duration``: how long to run when the scenario has none.
    ``tie_seed``: the same-instant order: ``"auto"`` (first-in first-out, unless hypothesis is
    exploring interleavings: see :mod:`.ties`), None (first-in first-out) or a seed.
    ``order``: instead of a seed, a tie-break that makes given choices (:class:`.ties.Choices`,
    as :func:`.ties.every_order` hands out); the run's ``command()`` does not carry it.
    ``coverage``: collect executed app lines (True, or a collector to accumulate into).
    ``claim``: the device log lines that claim data is stored (a regex; None: none).
    ``config``: an :class:`impapi.Config` for simulations made here.
    ``load``: how simulations made here load code (an :class:`impapi.builder.LoadOptions`).
    ``vms``: the :class:`impapi.vmshelf.VMShelf` simulations made here take their VMs from and
    leave them in as they close.
    """
    if isinstance(sim, Simulation):
        s = sim
    elif callable(sim):
        s = sim()
    else:
        device, agent = _paths(sim, scenario)
        s = Simulation.from_scenario(scenario, device=device, agent=agent, config=config, load=load, vms=vms)
    if tie_seed == "auto":
        # A started simulation's order was fixed as it started: only a fresh one can explore.
        tie_seed = (scenario.tie_seed if scenario.tie_seed is not None else
                    s.env.tie_seed if s.started else ties.tie_seed())
    collector = None
    if coverage:
        collector = coverage if isinstance(coverage, CoverageCollector) else CoverageCollector()
    if order is not None:
        tie_seed = None
    fresh = not s.started
    replay = s.play(scenario, duration=duration, tie_seed=tie_seed, coverage=collector, order=order)
    if fresh and replay.tie_seed is not None and not getattr(s.clock.tie_break, "reordered", True):
        replay.tie_seed = None  # every choice was first in, first out: the plain run is this run
    run = Run(replay, claim=claim, coverage=collector)
    _note(run)
    return run


def _note(run: Run) -> None:
    """Inside a hypothesis test, say how to replay the run (printed with a falsifying example)."""
    hypothesis = sys.modules.get("hypothesis")
    if hypothesis is not None and hypothesis.currently_in_test_context():
        hypothesis.note(_ReplayNote(run))


class _ReplayNote:
    """The note, written only when hypothesis shows or records it (it converts a note that is
    not a string with repr): most examples pass, and the command costs ~35 us to write."""

    __slots__ = ("run",)

    def __init__(self, run: Run) -> None:
        self.run = run

    def __repr__(self) -> str:
        return f"replay: {self.run.command()}"

    __str__ = __repr__
