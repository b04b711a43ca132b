"""The impCloud: deployments, impOS releases and polite deployment (the seed document and
imp-api.md §1).

An update is *pending* from its release until the device runs it. The device learns of it only
when it (re)connects, or at once when it is already online. Then:

- no shutdown handler registered (or null): it restarts at once — new Squirrel with
  ``WAKEREASON_NEW_SQUIRREL``, an impOS update as a cold boot with ``WAKEREASON_NEW_FIRMWARE``
  (nv lost);
- a handler registered: it is called once per run with ``SHUTDOWN_NEWFIRMWARE`` or
  ``SHUTDOWN_NEWSQUIRREL``, and nothing happens until the app calls ``server.restart()``.

Both kinds pending: the handler hears ``SHUTDOWN_NEWFIRMWARE`` (the impOS update restarts the
device as a cold boot, which always brings the latest code too), and one restart applies both.

Forced paths skip the handler: a power cycle (updates installed before Squirrel starts), a
"build and force restart" deployment, a move to another device group, and the optional
deadline (``Config.update_deadline_us``, off by default). Whenever Squirrel restarts while the
device is connected, the pending updates come with it (impOS loads the newest code it has)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import constants as C
from .durations import format_duration
from .halt import Restart

if TYPE_CHECKING:
    from .device import Device
    from .host import ScriptHost
    from .environment import Environment
    from .simulation import Simulation


@dataclass
class Update:
    kind: str  # "squirrel" | "impos"
    version: str
    released_us: int
    device_source: str | None = None
    agent_source: str | None = None
    device_file: str | None = None  # the name the new device code runs under (errors, events)
    forced: str | None = None  # the forced path, when the update skips the handler
    announced_us: int | None = None
    notified: set = field(default_factory=set)  # ids of the runs whose handler heard of it


class Cloud:
    def __init__(self, env: "Environment", sim: "Simulation", group: str = "development") -> None:
        self.env = env
        self.sim = sim
        self.group = group
        self.pending: dict[str, Update] = {}
        self.deployments = 1
        self.history: list[tuple[int, str, str]] = []  # (time, kind, version) of applied updates

    # --- what users (and scenarios) do ------------------------------------------------------

    def release_impos(self, version: str) -> None:
        """A new impOS release reaches the device's group."""
        self.pending["impos"] = Update("impos", str(version), self.env.clock.now_us)
        self._record("released", self.pending["impos"])
        self._offer()

    def deploy(self, device_source: str | None = None, agent_source: str | None = None, *,
               force: bool = False, device_file: str | None = None, agent_file: str | None = None) -> None:
        """"Build and run" (polite), or "build and force restart" with ``force``. The agent
        restarts at once with its new code, keeping its server.save() data. ``device_file`` /
        ``agent_file``: the files the code came from (default: the names the code had before)."""
        self.deployments += 1
        version = f"v{self.deployments}"
        sim = self.sim
        if agent_source is not None and sim.agent is not None:
            sim.agent.source = agent_source
            sim.agent.filename = agent_file or sim.agent.filename
        if sim.agent is not None:
            sim.agent.start()
        if device_source is not None and sim.device is not None:
            upd = Update("squirrel", version, self.env.clock.now_us, device_source=device_source,
                         device_file=device_file, forced="force" if force else None)
            self.pending["squirrel"] = upd
            self._record("released", upd)
            self._offer()

    def move_group(self, name: str) -> None:
        """Moving the device to another device group is a forced deployment."""
        self.group = name
        sim = self.sim
        self.deployments += 1
        upd = self.pending.get("squirrel") or Update("squirrel", f"v{self.deployments}", self.env.clock.now_us,
                                                     device_source=sim.device.source if sim.device else None)
        upd.forced = "group-move"
        self.pending["squirrel"] = upd
        for u in self.pending.values():
            u.forced = u.forced or "group-move"
        self._record("released", upd)
        self._offer()

    # --- what the device does ---------------------------------------------------------------

    def _offer(self) -> None:
        """An online device hears of a new update at once (over its live connection)."""
        dev = self.sim.device
        if dev is not None and dev.connected and dev.host is not None and dev.host.alive:
            self.env.clock.schedule(self.env.config.message_latency_us, self._offer_now)

    def _offer_now(self) -> None:
        dev = self.sim.device
        if dev is not None and dev.connected:
            self.device_online(dev, in_squirrel=False)

    def device_online(self, dev: "Device", *, in_squirrel: bool) -> None:
        """The device (re)connected, or is online when an update is released."""
        host = dev.host
        if not self.pending or host is None or not host.alive:
            return
        now = self.env.clock.now_us
        kind = "impos" if "impos" in self.pending else "squirrel"
        upd = self.pending[kind]
        if upd.announced_us is None:
            upd.announced_us = now
            self._record("announced", upd)
        forced = next((u.forced for u in self.pending.values() if u.forced), None)
        if forced:
            dev.update_restart(forced, in_squirrel)
        elif host.shutdown_handler is None:
            dev.update_restart("no-handler", in_squirrel)
        elif id(host) not in upd.notified:
            upd.notified.add(id(host))
            self._record("handler-called", upd)
            reason = C.SHUTDOWN_NEWFIRMWARE if kind == "impos" else C.SHUTDOWN_NEWSQUIRREL
            host.schedule(0, host.shutdown_handler, reason)
            deadline = self.env.config.update_deadline_us
            if deadline is not None and len(upd.notified) == 1:
                self.env.clock.schedule(deadline, self._deadline, upd)

    def _deadline(self, upd: Update) -> None:
        if self.pending.get(upd.kind) is not upd:
            return  # applied meanwhile
        sim = self.sim
        self.env.log.add(self.env.clock.now_us, "status",
                    f"impCloud forced the {'impOS' if upd.kind == 'impos' else 'Squirrel'} update "
                    f"after {format_duration(self.env.config.update_deadline_us)} without server.restart()")
        upd.forced = "deadline"
        dev = sim.device
        if dev is not None and dev.connected:
            dev.update_restart("deadline", in_squirrel=False)

    def deferred(self, host: "ScriptHost") -> None:
        """The app went to sleep (or disconnected) with an update it had been told about."""
        for u in self.pending.values():
            if id(host) in u.notified:
                self._record("deferred", u)

    def install(self, dev: "Device", wakereason: int, path: str) -> int:
        """Apply every pending update as Squirrel starts; returns the wake reason to report."""
        sim = self.sim
        now = self.env.clock.now_us
        impos = self.pending.pop("impos", None)
        squirrel = self.pending.pop("squirrel", None)
        if impos is not None:
            dev.impos = impos.version
            self.env.log.add(now, "firmware", f"impOS {impos.version} installed")
            self._applied(impos, path)
            wakereason = C.WAKEREASON_NEW_FIRMWARE
        if squirrel is not None:
            if squirrel.device_source is not None:
                dev.source = squirrel.device_source
                dev.filename = squirrel.device_file or dev.filename
            self.env.log.add(now, "status", f"Downloading new code; {dev.storage_used():.2f}% program storage used")
            self._applied(squirrel, path)
            if impos is None:
                wakereason = C.WAKEREASON_NEW_SQUIRREL
        return wakereason

    def _applied(self, upd: Update, path: str) -> None:
        self.history.append((self.env.clock.now_us, upd.kind, upd.version))
        self._record("applied", upd, path)

    def _record(self, stage: str, upd: Update, path: str | None = None) -> None:
        self.env.record("update", stage=stage, update=upd.kind, version=upd.version, path=path or upd.forced,
                        forced=bool(upd.forced) or path in ("power-cycle", "force", "group-move", "deadline"))


def restart_for(path: str, has_impos: bool) -> Restart:
    """The halt that ends a run so that an update can be applied."""
    reason = C.WAKEREASON_NEW_FIRMWARE if has_impos else C.WAKEREASON_NEW_SQUIRREL
    r = Restart(reason, cold=has_impos)
    r.update_path = path  # type: ignore[attr-defined]
    return r
