"""The one facade: a device, its agent, the network and the clock they share.

    sim = Simulation(device="app.device.nut", agent="app.agent.nut", imp="imp003")
    sim.run(for_="2d")
    print(sim.log.text())

It builds the :class:`~impapi.environment.Environment` and the parts on it (device, agent,
cloud, relay, network), says what the world does to them (power, outages, messages, HTTP) and
plays scenarios (:meth:`Simulation.play`, the one path every entry point replays through).
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from dataclasses import replace

from .agent import Agent
from .builder import BuildError, LoadedCode, LoadOptions, build_app
from .clock import Clock, TieBreak
from .cloud import Cloud
from .config import Config
from .device import Device, make_device_id
from .durations import DEFAULT_EPOCH, format_duration, parse_duration
from .environment import Environment
from .events import Event, EventLog
from .flash import SpiFlash
from .host import NO_TIME
from .internet import Internet, Routes
from .inputs import read_text
from .log import Log, LogEntry
from .iorecord import IORecord
from .network import Network
from .peripherals import Board, Wiring, signal
from .pinmux import module_hardware
from .profiles import Profile, get_profile, parse_impos, software_version
from .relay import Relay
from .replay import Replay
from .scenario import Scenario, ScenarioError, apply, read_code
from .serialize import python_to_wire
from .vmshelf import VMShelf

DEFAULT_IMP = "imp003"  # has nv, deep sleep and SPI flash: the common imp API surface


def _source(spec: str | os.PathLike | LoadedCode | None, what: str, load: LoadOptions) -> tuple[str, str] | None:
    """(source, filename) from a path (loaded as impCloud builds code: Builder, ``#require``),
    from code already loaded, or from code given inline: a str that holds a newline, or that
    neither ends in ``.nut`` nor names an existing file."""
    if spec is None:
        return None
    if isinstance(spec, LoadedCode):
        return spec.source, spec.filename
    if isinstance(spec, str) and ("\n" in spec or (not spec.rstrip().endswith(".nut") and not Path(spec).is_file())):
        return spec, f"<{what}>"
    text = read_text(spec, f"{what} code file")
    code = build_app(text, spec, load)
    return code.source, code.filename


def load_code(path: str | os.PathLike, load: LoadOptions | None = None) -> LoadedCode:
    """The code file at ``path`` as the imp runs it (:func:`impapi.builder.load_app`). Raises
    ``ValueError`` for a file that cannot be read and :class:`~impapi.builder.BuildError` for
    one that cannot be built; both name the file."""
    return build_app(read_text(path, "code file"), path, load)


def compile_problem(code: str | os.PathLike | LoadedCode, load: LoadOptions | None = None) -> str | None:
    """Why code cannot run, naming the original file:line:column and showing the line, or None."""
    import squirrel

    if not isinstance(code, LoadedCode):
        try:
            code = load_code(code, load)
        except (ValueError, BuildError) as e:
            return str(e)
    with squirrel.VM() as vm:
        try:
            vm.compile(code.source, code.filename)
        except squirrel.CompileError as e:
            return str(e)
    return None


def _check_compiles(code: tuple[str, str] | None) -> None:
    """Raise :class:`squirrel.CompileError` (file, line, column, the offending line) for code
    that does not compile, before anything runs. The bytecode is cached, so the boot that
    compiles it next pays nothing more."""
    if code is not None:
        _compiles(*code)


# The same code again (every example of a fuzz run, every device of a fleet) needs no throwaway
# VM to check it: compiling is deterministic. Code that fails is not cached (it raises).
@functools.lru_cache(maxsize=64)
def _compiles(source: str, filename: str) -> None:
    import squirrel

    with squirrel.VM("imp") as vm:
        vm.compile(source, filename)


class Simulation:
    """A device and its agent, the impCloud and the network between them, in virtual time.

        sim = Simulation(device="app.device.nut", agent="app.agent.nut", imp="imp003")
        sim.outage("3h", "45m")          # the world: outages, power, messages, HTTP requests
        sim.run("1d")
        sim.cloud.release_impos("44.0")  # the cloud: impOS releases, deployments, group moves
        sim.run("1d")
        print(sim.log.text())            # what happened: sim.log, sim.events, sim.device...

    Code that does not compile raises :class:`squirrel.CompileError` here, naming the file,
    line and column; a Builder or ``#require`` problem raises
    :class:`~impapi.builder.BuildError`; a missing file ``FileNotFoundError``. Everything after
    that is reported the way an imp reports it: in the log (``sim.log``), as structured events
    (``sim.events``), and in ``sim.crash_loop`` and ``sim.fatal_error``.
    """

    def __init__(self, device: str | os.PathLike | LoadedCode | None = None,
                 agent: str | os.PathLike | LoadedCode | None = None, *,
                 imp: str | Profile = DEFAULT_IMP, seed: int = 0, flash: str | os.PathLike | None = None,
                 impos: str | None = None, config: Config | None = None, epoch: datetime = DEFAULT_EPOCH,
                 log_sink: Callable[[LogEntry], Any] | None = None, start: bool = True,
                 tie_seed: int | None = None, keep_history: bool = True, load: LoadOptions | None = None,
                 internet: Routes | None = None, event_sink: Callable[[Event], Any] | None = None,
                 wiring: str | os.PathLike | Wiring | Callable[[Board], Any] | None = None,
                 vms: VMShelf | None = None) -> None:
        """``device``/``agent``: a ``.nut`` path, code loaded with :func:`impapi.builder.load_app`,
        or the code itself. A path is loaded as impCloud builds code (Builder directives,
        ``#require``) with ``load`` (default :class:`~impapi.builder.LoadOptions`: libraries from
        ``IMPSIM_LIB_PATH``, checkouts from ``IMPSIM_GITHUB_DIR``); so are the files scenario
        deployments name. A file without directives runs as written. A build failure raises
        :class:`~impapi.builder.BuildError` naming the file and line; code that does not compile
        raises :class:`squirrel.CompileError` naming the file, line and column.
        ``tie_seed``: the order of events due at the same virtual microsecond: None for first
        in, first out; an integer for the order ``impsim fuzz`` explored with that seed.
        ``keep_history=False``: ``log_sink`` sees every log entry, but ``sim.log`` and
        ``sim.events`` keep none (a long run that streams its log then runs in constant memory;
        the checks and the timeline need the history).
        ``internet``: the :class:`~impapi.internet.Routes` that answer the agent's outgoing HTTP
        requests (shareable; default: a new, empty table, as ``sim.internet.routes``).
        ``event_sink`` sees every structured event as it is recorded, whether or not
        ``sim.events`` keeps it.
        ``wiring``: what is attached to the device's pins and buses: a wiring file
        (docs/wiring.md), a :class:`~impapi.peripherals.Wiring`, or a function given the board
        (``sim.device.board``) to attach models to; each simulation gets fresh models.
        ``vms``: a :class:`~impapi.vmshelf.VMShelf` to take the VMs from that earlier simulations
        left, and to leave this one's in when it closes (for many simulations in a row)."""
        self.load_options = load or LoadOptions()
        self.env = env = Environment(config, seed=seed, tie_seed=tie_seed, epoch=epoch, log_sink=log_sink,
                                     keep_history=keep_history, event_sink=event_sink)
        self.clock: Clock = env.clock
        self.log: Log = env.log
        self.network = Network(connect_latency_us=env.config.connect_latency_us)
        self.relay = relay = Relay(env)
        self.internet = Internet(routes=internet if internet is not None else Routes(), keep=keep_history)
        self.profile = imp if isinstance(imp, Profile) else get_profile(imp)
        dev_src = _source(device, "device", self.load_options)
        agent_src = _source(agent, "agent", self.load_options)
        if dev_src is None and agent_src is None:
            raise ValueError("a simulation needs device code, agent code or both")
        _check_compiles(dev_src)
        _check_compiles(agent_src)
        self.cloud = Cloud(env, device_code=dev_src[0] if dev_src else None)
        self.device: Device | None = None
        self.agent: Agent | None = None
        # The IDs follow from what the user names, the seed and the code file's name, so a run is
        # the same wherever the files are.
        self._code_name = Path(dev_src[1] if dev_src else agent_src[1]).name
        device_id, agent_id = _ids(seed, self._code_name)
        if dev_src is not None:
            fl = None
            if self.profile.has_spiflash:
                fl = SpiFlash(self.profile.spiflash_size, chipid=self.profile.spiflash_chipid or 0xC22016,
                              speeds=self.profile.spiflash_speeds, image=flash, now=lambda: env.clock.now_us)
            elif flash is not None:
                raise ValueError(f"{self.profile.name} has no hardware.spiflash: --flash needs imp003 or later")
            self.device = Device(env, dev_src[0], dev_src[1], self.profile, device_id, fl, network=self.network,
                                 cloud=self.cloud, relay=relay)
            if impos:
                parse_impos(impos)  # a bad version fails here, not when the app asks for it
                self.device.impos = impos
        if agent_src is not None:
            self.agent = Agent(env, agent_src[0], agent_src[1], agent_id, relay=relay, internet=self.internet,
                               cloud=self.cloud, impos=self.profile.default_impos)
        relay.device, relay.agent = self.device, self.agent
        self._vms = vms
        if vms is not None and env.config.reuse_vms:  # else every run has a new VM
            for side, owner in (("device", self.device), ("agent", self.agent)):
                if owner is not None:
                    owner.spare_vm = vms.take(side)
        self.wiring_file: str | None = None  # the wiring file attached, for scenarios and replays
        if wiring is not None:
            self._attach(wiring)
        self._started = False
        if start:
            self.start()

    def _attach(self, wiring: Any) -> None:
        if self.device is None:
            raise ValueError("a wiring attaches models to the device's pins and buses: the simulation has no "
                             "device code")
        board = self.device.board
        if callable(wiring) and not isinstance(wiring, Wiring):
            wiring(board)
            return
        if not isinstance(wiring, Wiring):
            wiring = Wiring.load(wiring)
        wiring.attach(board, module_hardware(self.profile.name), self.config.supply_voltage)
        self.wiring_file = wiring.path

    def start(self) -> None:
        """Power the device on and start the agent, at the current virtual time. The device's
        boot is only set going here, so an agent whose main code blocks (``imp.sleep``) does
        not hold it back: the two sides are separate machines."""
        self._started = True
        self.power_on()
        if self.agent is not None:
            self.agent.start()

    @property
    def started(self) -> bool:
        """Whether anything has happened yet (:meth:`start`, or a part driven directly)."""
        return (self._started or self.clock.now_us != 0 or not self.clock.idle
                or (self.device is not None and self.device.state != "off")
                or (self.agent is not None and self.agent.restarts > 0))

    # --- scenarios ------------------------------------------------------------------------------

    @classmethod
    def from_scenario(cls, scenario: Scenario, **options: Any) -> "Simulation":
        """A simulation, not started yet, of the scenario's code, imp, seed and tie seed
        (``options`` go to the constructor and win): what ``impsim run`` builds before it plays
        the scenario (:meth:`play`)."""
        kwargs: dict[str, Any] = {"device": scenario.device, "agent": scenario.agent, "start": False}
        if scenario.wiring is not None:
            kwargs["wiring"] = scenario.wiring
        for key in ("imp", "seed", "tie_seed"):
            if getattr(scenario, key) is not None:
                kwargs[key] = getattr(scenario, key)
        kwargs.update(options)
        return cls(**kwargs)

    def play(self, scenario: Scenario, *, duration: str | int | None = None, tie_seed: int | None | str = "scenario",
             until_idle: bool = False, coverage: Any = None, order: TieBreak | None = None,
             progress: Callable[[int], Any] | None = None) -> Replay:
        """Play ``scenario`` and return the :class:`~impapi.replay.Replay`.

        Every way of running a scenario comes through here (``impsim run`` with ``--scenario``
        or ``--at``, this method, the fuzzer's replays), so one scenario gives one log, byte for
        byte: the simulation is started, the scenario's events are scheduled from that moment,
        and it runs for the scenario's duration.

        A simulation that has not started yet (``start=False``, :meth:`from_scenario`) takes
        the scenario's seed and tie seed and is started here. One that has started plays the
        scenario from its current time; its seeds took effect as it started, so a scenario that
        names other ones is refused.

        ``duration``: how long to run when the scenario does not say (``"2d"``, or seconds).
        ``tie_seed``: the same-instant order, instead of the scenario's (None: first in, first
        out). ``until_idle``: run until nothing is scheduled instead. ``coverage``: a line
        coverage collector for the run (see :class:`~impapi.environment.Environment`); at the
        end it also gets the VMs still running. ``order``: for a simulation not started yet, the
        object that chooses the order of same-instant events instead of a tie seed (a tool that
        enumerates every order: :func:`impapi.testing.fuzz.ties.every_order`); the replay's
        tie seed is then None and does not reproduce it. ``progress``: as for :meth:`run`."""
        seed = scenario.seed if scenario.seed is not None else self.seed
        if tie_seed == "scenario":
            tie_seed = scenario.tie_seed if scenario.tie_seed is not None else self.env.tie_seed
        fresh = not self.started
        if order is not None and not fresh:
            raise ValueError("play(order=...) needs a simulation that has not started (start=False)")
        if fresh:
            if seed != self.seed or tie_seed != self.env.tie_seed:
                self._reseed(seed, tie_seed)  # type: ignore[arg-type]
            if order is not None:
                self.clock.tie_break = order
        else:
            for key, wanted, have in (("seed", seed, self.seed), ("tie_seed", tie_seed, self.env.tie_seed)):
                if wanted != have:
                    raise ScenarioError(
                        f"the scenario is played with {key}={wanted}, but this simulation started with "
                        f"{key}={have}: make it with start=False (play() then starts it) or with {key}={wanted}")
        if until_idle:
            run_us = None
        elif scenario.duration_us is not None:
            run_us = scenario.duration_us
        elif duration is not None:
            run_us = parse_duration(duration)
        else:
            raise ValueError("the scenario has no duration: give it one, or pass duration= (e.g. '2d')")
        code = read_code(scenario, self)  # a missing file is an error before anything runs
        replay = Replay(self, self._as_played(scenario, seed, run_us), tie_seed=tie_seed,  # type: ignore[arg-type]
                        start_us=self.clock.now_us)
        if coverage is not None:
            self.coverage = coverage
        with self.ending_at(None if run_us is None else replay.start_us + run_us):
            if fresh:
                self.start()
            apply(scenario, self, start_us=replay.start_us, code=code)
            if run_us is None:
                self.run(until_idle=True, progress=progress)
            else:
                self.run(for_us=max(0, replay.start_us + run_us - self.clock.now_us), progress=progress)
        if coverage is not None:
            self.collect_coverage()
        return replay

    @contextmanager
    def ending_at(self, end_us: int | None) -> Iterator[None]:
        """Within: the run ends at virtual time ``end_us`` (None: no end known). Code blocked
        then (``imp.sleep``, a blocking wait, its own execution time) waits only until the end
        and ends with the run, as at a power cut, instead of carrying time past it
        (docs/imp-model/timers-and-events.md "Where a run ends"). :meth:`play` runs in it; whoever runs a
        simulation to a known end enters it before anything starts, so code that blocks as it
        starts stops there too. Outside, code blocked at the end of a :meth:`run` goes on
        blocking, so a later :meth:`run` continues it."""
        previous, self.clock.end_us = self.clock.end_us, end_us
        try:
            yield
        finally:
            self.clock.end_us = previous

    def _reseed(self, seed: int, tie_seed: int | None) -> None:
        self.env.reseed(seed, tie_seed)
        device_id, agent_id = _ids(seed, self._code_name)
        if self.device is not None:
            self.device.id = device_id
        if self.agent is not None:
            self.agent.id = agent_id

    def _as_played(self, scenario: Scenario, seed: int, run_us: int | None) -> Scenario:
        """The scenario with what this simulation runs: its code files, imp, seed, duration."""
        changes: dict[str, Any] = {}
        for side, part in (("device", self.device), ("agent", self.agent)):
            path = _real_file(part.filename) if part is not None else None
            if path is not None and path != getattr(scenario, side):
                changes[side] = path
        if self.wiring_file is not None and self.wiring_file != scenario.wiring:
            changes["wiring"] = self.wiring_file
        if self.profile.name != (scenario.imp or DEFAULT_IMP):
            changes["imp"] = self.profile.name
        if scenario.seed is None and seed:
            changes["seed"] = seed
        if scenario.duration_us is None and run_us is not None:
            changes["duration_us"] = run_us
        return replace(scenario, **changes) if changes else scenario

    # --- what the environment holds -----------------------------------------------------------

    @property
    def config(self) -> Config:
        return self.env.config

    @config.setter
    def config(self, value: Config) -> None:
        self.env.config = value

    @property
    def seed(self) -> int:
        return self.env.seed

    @property
    def rng(self) -> Any:
        return self.env.rng

    @property
    def epoch_us(self) -> int:
        return self.env.epoch_us

    @property
    def events(self) -> EventLog:
        """The structured record of the run (:mod:`impapi.events`)."""
        return self.env.events

    @events.setter
    def events(self, value: EventLog) -> None:
        self.env.events = value

    @property
    def coverage(self) -> Any:
        """The line-coverage hook (see :class:`~impapi.environment.Environment`), or None."""
        return self.env.coverage

    @coverage.setter
    def coverage(self, value: Any) -> None:
        self.env.coverage = value

    @property
    def fatal_error(self) -> str | None:
        """Why the run stopped for good (code that does not compile...), or None."""
        return self.env.fatal_error

    def record(self, kind: str, **data: Any) -> None:
        self.env.record(kind, **data)

    @property
    def io(self) -> IORecord:
        """The run's pin and bus activity, as questions (:class:`~impapi.iorecord.IORecord`)."""
        return IORecord(self.env.events)

    @property
    def models(self) -> dict[str, Any]:
        """The peripheral models attached to the device, by name (a wiring file names them)."""
        return self.device.board.models if self.device is not None else {}

    # --- what the world does to the device ----------------------------------------------------

    def power_on(self) -> None:
        if self.device is not None and self.device.state == "off":
            self.record("power", on=True)
            self.device.power_on()

    def power_off(self) -> None:
        if self.device is not None and self.device.state != "off":
            self.device.power_off()

    def power_cycle(self) -> None:
        """Cut the power and restore it: a cold boot that installs pending updates before
        Squirrel starts, without calling the shutdown handler (seed, §1.1)."""
        self.power_off()
        self.power_on()

    def drive(self, pin: str, level: int | None, *, at: str | int | float | None = None, note: str | None = None) -> None:
        """Something outside drives input ``pin`` to ``level`` (0, 1; None: releases it), now or
        ``at`` (a duration) from now. Input callbacks fire; a deep-sleeping imp whose wake-up
        pin goes high wakes (WAKEREASON_PIN). ``note``: a log line written as it happens."""
        board = self._board_pin(pin)
        if at is None:
            if note:
                self.log.add(self.clock.now_us, "impsim", note)
            board.drive(pin, level)
        else:
            board.plan(pin, self.clock.now_us + parse_duration(at), level, then=self._noter(note))

    def pulse(self, pin: str, width: str | int | float, *, level: int = 1, at: str | int | float | None = None,
              note: str | None = None) -> None:
        """A pulse on input ``pin``: driven to ``level`` ``at`` from now (default now) for
        ``width`` (a duration: ``"50ms"``), then back to what drove it before (a button press)."""
        board = self._board_pin(pin)
        start = self.clock.now_us + (0 if at is None else parse_duration(at))
        width_us = parse_duration(width)
        if width_us <= 0:
            raise ValueError(f"a pulse lasts longer than 0s, not {width!r}")
        before = board.level_planned(pin, start)
        board.plan(pin, start, level, then=self._noter(note))
        board.plan(pin, start + width_us, before)

    def analog(self, pin: str, value: Any, *, note: str | None = None) -> None:
        """The voltage on analog input ``pin`` from now on: a fraction of the supply (0-1), a
        signal description or a function of virtual time (:func:`impapi.peripherals.signal`)."""
        board = self._board_pin(pin)
        board.analog(pin, signal(value, f"analog {pin}"))
        board.record("pin-in", pin=pin, analog=value if isinstance(value, (int, float)) else "signal")
        if note:
            self.log.add(self.clock.now_us, "impsim", note)

    def _board_pin(self, pin: str) -> Board:
        if self.device is None:
            raise ValueError("the simulation has no device: there are no pins to drive")
        mux = module_hardware(self.profile.name)
        if mux.pin(pin) is None:
            names = ", ".join(p.name for p in mux.pins)
            raise ValueError(f"the {self.profile.name} has no pin {pin!r}; its pins: {names}")
        return self.device.board

    def _noter(self, note: str | None) -> Callable[[], None] | None:
        if not note:
            return None
        return lambda: self.log.add(self.clock.now_us, "impsim", note)

    def agent_to_device(self, name: str, data: Any = None) -> None:
        """The agent sends the device a message (as ``device.send`` would)."""
        if self.device is not None and self.device.connected:  # otherwise lost, as device.send's are (§3.3)
            self.relay.to_device(name, python_to_wire(data, "the message"))

    # --- running --------------------------------------------------------------------------------

    def run(self, for_: str | int | float | None = None, *, for_us: int | None = None,
            until_idle: bool = False, progress: Callable[[int], Any] | None = None) -> "Simulation":
        """Advance virtual time by ``for_`` (``"90s"``, ``"2d"``, or seconds) or ``for_us``, or
        until nothing is scheduled. Stops early on a fatal error (code that does not compile).
        ``progress(now_us)`` is called every half per cent of the way (every thousand events
        when running until idle); it sees the run, it cannot change it."""
        if for_us is None and for_ is not None:
            for_us = parse_duration(for_)
        self.clock.on_still = self._time_stands_still
        self.clock.on_spin = self._code_never_waits
        try:
            if until_idle or for_us is None:
                steps = 0
                while self.fatal_error is None and self.clock.step():
                    steps += 1
                    if progress is not None and steps % 1000 == 0:
                        progress(self.clock.now_us)
            elif progress is None:
                self.clock.run_until(self.clock.now_us + for_us)
            else:
                # Running to each half per cent in turn runs the same events in the same order
                # as running to the end at once: run_until only moves time when nothing is due.
                end, stride = self.clock.now_us + for_us, max(1, for_us // 200)
                while self.clock.now_us < end and self.fatal_error is None:
                    self.clock.run_until(min(end, self.clock.now_us + stride))
                    progress(self.clock.now_us)
        finally:
            self.clock.on_still = self.clock.on_spin = None
        if self.flash is not None:
            self.flash.sync()
        return self

    def collect_coverage(self) -> None:
        """Hand the VMs still running to the coverage hook (a run's end does not close them)."""
        collector = self.env.coverage
        if collector is None:
            return
        for owner in (self.device, self.agent):
            host = owner.host if owner is not None else None
            if host is not None and host.alive:
                collector.collect(host.vm)

    def close(self) -> None:
        """Free the VMs now rather than whenever the garbage collector gets to them (the record
        stays readable): the running ones and those kept for the next boot (Config.reuse_vms);
        made with ``vms=``, those that can be kept go back to that shelf instead."""
        for owner in (self.device, self.agent):
            if owner is None:
                continue
            host = owner.host
            if host is not None:
                host.stop()
            spare, owner.spare_vm = owner.spare_vm, None
            kept = spare is not None and self._vms is not None and self._vms.put(*spare)
            if host is not None and not host.vm.closed and not (kept and host.vm is spare[0]):
                try:
                    host.vm.close()
                except Exception:  # still running: the garbage collector will close it
                    pass
            if spare is not None and not kept and not spare[0].closed and not spare[0].running:
                spare[0].close()

    @property
    def flash(self) -> SpiFlash | None:
        return self.device.flash if self.device is not None else None

    def _time_stands_still(self) -> None:
        # On an imp, real time would pass; here nothing would ever end the run.
        self.fatal(f"virtual time stands still: {self.clock.still_events} events ran at "
                   f"{format_duration(self.clock.now_us)} without time passing (an imp.wakeup(0, ...) "
                   f"or imp.onidle() loop?{self.still_hint()})")

    def _code_never_waits(self, side: str, callbacks: int, span_us: int) -> None:
        # With Squirrel taking time, such a loop moves time on but would spin to the run's end.
        self.fatal(spin_message(side, callbacks, span_us))

    def still_hint(self) -> str:
        """What a note on time standing still adds when Squirrel takes no virtual time here."""
        config = self.config
        if config.instruction_ps(self.profile) and config.instruction_ps(None):
            return ""
        return f" {NO_TIME}: impsim --instruction-ns sets it"

    def fatal(self, message: str) -> None:
        self.env.fatal(message)

    @property
    def crash_loop(self) -> bool:
        return self.device is not None and self.device.crash_loop

    def outage(self, start: str | int | float, duration: str | int | float | None, reason: int | None = None) -> None:
        """The network is down from ``start`` (from now) for ``duration`` (None: for ever)."""
        start_us = self.clock.now_us + parse_duration(start)
        dur = None if duration is None else parse_duration(duration)
        self.network.add_outage(start_us, dur, reason if reason is not None else self.profile.default_outage_reason)
        self.record("outage", start_us=start_us, end_us=None if dur is None else start_us + dur)
        if self.device is not None:
            self.device.network_changed()

    def http(self, method: str = "GET", path: str = "/", body: str = "", headers: dict | None = None, *,
             on_response: Callable[[int, str, dict], Any] | None = None) -> tuple[int, str, dict] | None:
        """An HTTP request to the agent. Without ``on_response`` it runs the simulation until the
        agent answers and returns (status, body, headers); with it (as from inside a scheduled
        event, where the clock cannot be run) it returns at once and the answer goes to
        ``on_response`` when the agent sends it."""
        if self.agent is None:
            raise ValueError("this simulation has no agent")
        if on_response is None:
            return self.agent.http_request(method, path, body, headers)
        from .natives.incoming import _start_request

        if _start_request(self.agent, method, path, body, headers or {},
                          lambda r: on_response(r.status, r.body, r.headers)) is None:
            on_response(404, "", {})
        return None

    def software_version(self, side: str) -> str:
        """What imp.getsoftwareversion() reports on ``side`` ("device" or "agent")."""
        owner = self.device if side == "device" and self.device is not None else self.agent
        if owner is None:
            return software_version(self.profile.default_impos)
        return owner.software_version()


def simulate(scenario: Scenario, **overrides: Any) -> Simulation:
    """Build a simulation from the scenario's code, imp and seeds (``overrides`` go to the
    constructor and win), play the scenario for its duration (or until idle) and return it."""
    seeds = {key: overrides[key] for key in ("seed", "tie_seed") if key in overrides}
    if seeds:
        scenario = replace(scenario, **seeds)
    sim = Simulation.from_scenario(scenario, **overrides)
    return sim.play(scenario, until_idle=scenario.duration_us is None).sim


def _ids(seed: int, code_name: str) -> tuple[str, str]:
    """(device ID, agent ID) for ``seed`` and the name of the code file (not its path)."""
    device_id = make_device_id(f"{seed}:{code_name}")
    return device_id, device_id[::-1][:12]


def _real_file(path: str) -> str | None:
    return os.path.abspath(path) if "\n" not in path and os.path.isfile(path) else None


def spin_message(side: str, callbacks: int, span_us: int) -> str:
    """What ends a run in which a VM's callbacks only queue the next one (Clock.on_spin)."""
    return (f"the {side}'s code never waits: {callbacks} callbacks in a row, each queued by the one before "
            f"(an imp.wakeup(0, ...) or imp.onidle() loop?), ran for {format_duration(span_us)} "
            "with nothing else to do")
