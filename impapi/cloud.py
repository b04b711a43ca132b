"""The impCloud's side of updates: releases, deployments, the device group and the policies
(the seed document and imp-api.md §1).

The cloud holds what is *pending* for the device (an impOS release, new Squirrel, or both) from
its release until the device installs it, the code of the current deployment, and the
policies that decide how an update may reach the device: a forced path (a "build and force
restart" deployment, a move to another device group) skips the app's shutdown handler, and the
optional deadline (``Config.update_deadline_us``, off by default) forces an update the app was
told about but did not restart for.

The cloud never reaches into a device's run. It *publishes*: a device listens to
:attr:`Cloud.releases` and, while it is online, heeds ``("released", update)`` for each new
update and ``("deadline", update)`` when the deadline forces one; the agent listens to
:attr:`Cloud.agent_deployments` and restarts with each deployment. What a device does with an
update, and when, is the device's own lifecycle (:mod:`impapi.lifecycle`), which asks the cloud
what is pending when it connects or boots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .durations import format_duration

if TYPE_CHECKING:
    from .environment import Environment

__all__ = ["Cloud", "Topic", "Update"]


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
    notified: set = field(default_factory=set)  # numbers of the runs whose handler call was queued
    heard: set = field(default_factory=set)  # numbers of the runs whose handler has run for it


class Topic:
    """Listeners, called at once and in the order they subscribed, with what is published."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[Callable[..., Any]] = []

    def subscribe(self, listener: Callable[..., Any]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[..., Any]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, *args: Any) -> None:
        for listener in tuple(self._listeners):
            listener(*args)


class Cloud:
    """``device_code``: the device code of the first deployment (None: a simulation without a
    device, where deployments carry agent code only)."""

    def __init__(self, env: "Environment", device_code: str | None = None, group: str = "development") -> None:
        self.env = env
        self.group = group
        self.pending: dict[str, Update] = {}
        self.deployments = 1
        self.device_code = device_code  # the device code of the current deployment
        self.history: list[tuple[int, str, str]] = []  # (time, kind, version) of applied updates
        self.releases = Topic()  # (notice, Update) to the devices online now
        self.agent_deployments = Topic()  # (agent source or None, its file name or None) to the agent

    # --- what users (and scenarios) do ------------------------------------------------------

    def release_impos(self, version: str) -> None:
        """A new impOS release reaches the device's group."""
        upd = self.pending["impos"] = Update("impos", str(version), self.env.clock.now_us)
        self._release(upd)

    def deploy(self, device_source: str | None = None, agent_source: str | None = None, *,
               force: bool = False, device_file: str | None = None, agent_file: str | None = None) -> None:
        """"Build and run" (polite), or "build and force restart" with ``force``. The agent
        restarts at once with its new code, keeping its server.save() data. ``device_file`` /
        ``agent_file``: the files the code came from (default: the names the code had before)."""
        self.deployments += 1
        version = f"v{self.deployments}"
        self.agent_deployments.publish(agent_source, agent_file)
        if device_source is not None and self.device_code is not None:
            self.device_code = device_source
            upd = Update("squirrel", version, self.env.clock.now_us, device_source=device_source,
                         device_file=device_file, forced="force" if force else None)
            self.pending["squirrel"] = upd
            self._release(upd)

    def move_group(self, name: str) -> None:
        """Moving the device to another device group is a forced deployment."""
        self.group = name
        self.deployments += 1
        upd = self.pending.get("squirrel") or Update("squirrel", f"v{self.deployments}", self.env.clock.now_us,
                                                     device_source=self.device_code)
        upd.forced = "group-move"
        self.pending["squirrel"] = upd
        for u in self.pending.values():
            u.forced = u.forced or "group-move"
        self._release(upd)

    def _release(self, upd: Update) -> None:
        self.record("released", upd)
        self.releases.publish("released", upd)

    # --- what a device tells the cloud ------------------------------------------------------

    def next_update(self) -> Update:
        """The update a device is told of first: impOS (it brings the latest code along)."""
        return self.pending["impos"] if "impos" in self.pending else self.pending["squirrel"]

    def forced_path(self) -> str | None:
        """The forced path of whatever is pending, if any of it skips the shutdown handler."""
        return next((u.forced for u in self.pending.values() if u.forced), None)

    def announced(self, upd: Update) -> None:
        if upd.announced_us is None:
            upd.announced_us = self.env.clock.now_us
            self.record("announced", upd)

    def handler_called(self, upd: Update, run: Any) -> None:
        """The shutdown handler of ``run`` is being called for ``upd``."""
        upd.notified.add(run.number)
        upd.heard.add(run.number)
        self.record("handler-called", upd)

    def await_restart(self, upd: Update) -> None:
        """The app was told; the deadline policy, when there is one, starts with the first run told."""
        deadline = self.env.config.update_deadline_us
        if deadline is not None and len(upd.notified) == 1:
            self.env.clock.schedule(deadline, self._deadline, upd, source="cloud")

    def _deadline(self, upd: Update) -> None:
        if self.pending.get(upd.kind) is not upd:
            return  # applied meanwhile
        env = self.env
        env.log.add(env.clock.now_us, "status",
                    f"impCloud forced the {'impOS' if upd.kind == 'impos' else 'Squirrel'} update "
                    f"after {format_duration(env.config.update_deadline_us)} without server.restart()")
        upd.forced = "deadline"
        self.releases.publish("deadline", upd)

    def take_pending(self) -> tuple[Update | None, Update | None]:
        """(impOS, Squirrel): what a device installs as Squirrel starts; nothing is pending after."""
        return self.pending.pop("impos", None), self.pending.pop("squirrel", None)

    def applied(self, upd: Update, path: str) -> None:
        self.history.append((self.env.clock.now_us, upd.kind, upd.version))
        self.record("applied", upd, path)

    def record(self, stage: str, upd: Update, path: str | None = None) -> None:
        """An ``update`` event (:mod:`impapi.events`) for ``upd`` reaching ``stage``."""
        self.env.record("update", stage=stage, update=upd.kind, version=upd.version, path=path or upd.forced,
                        forced=bool(upd.forced) or path in ("power-cycle", "force", "group-move", "deadline"))
