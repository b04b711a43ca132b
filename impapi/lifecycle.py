"""The device's side of polite deployment: how an update reaches a running app (the seed
document and imp-api.md §1).

An update is *pending* in the cloud (:mod:`impapi.cloud`) from its release until the device
runs it. The device learns of it only when it (re)connects, or, while it is online, through its
subscription to the cloud's releases (one message latency later). Then:

- no shutdown handler registered (or null): it restarts at once — new Squirrel with
  ``WAKEREASON_NEW_SQUIRREL``, an impOS update as a cold boot with ``WAKEREASON_NEW_FIRMWARE``
  (nv lost);
- a handler registered: it is called once per run with ``SHUTDOWN_NEWFIRMWARE`` or
  ``SHUTDOWN_NEWSQUIRREL``, and nothing happens until the app calls ``server.restart()``.

Both kinds pending: the handler hears ``SHUTDOWN_NEWFIRMWARE`` (the impOS update restarts the
device as a cold boot, which always brings the latest code too), and one restart applies both.

Forced paths skip the handler: a power cycle (updates installed before Squirrel starts), a
"build and force restart" deployment, a move to another device group, and the cloud's optional
deadline (``Config.update_deadline_us``, off by default). Whenever Squirrel restarts while the
device is connected, the pending updates come with it (impOS loads the newest code it has).

:class:`UpdateLifecycle` is that story for one device, top to bottom: :meth:`~UpdateLifecycle.hear`
(a release while online), :meth:`~UpdateLifecycle.announce` (what the running app is told, or
whether the device restarts), :meth:`~UpdateLifecycle.install` (as Squirrel starts online)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from . import constants as C
from .halt import Restart

if TYPE_CHECKING:
    from .cloud import Cloud, Update
    from .environment import Environment
    from .host import ScriptHost

__all__ = ["UpdateLifecycle", "restart_for"]


class UpdatingDevice(Protocol):
    """What the lifecycle reads and drives of its device (:class:`impapi.device.Device`)."""

    host: "ScriptHost | None"
    connected: bool
    impos: str
    source: str
    filename: str

    def storage_used(self) -> float: ...

    def restart_for_update(self, path: str, in_squirrel: bool) -> None: ...


class UpdateLifecycle:
    def __init__(self, env: "Environment", device: UpdatingDevice, cloud: "Cloud") -> None:
        self.env = env
        self.device = device
        self.cloud = cloud
        # Listening for the device's whole life, rather than from each connection to its drop:
        # a sleepy device connects and drops at every wake, and what it would hear offline is
        # ignored as it comes (hear).
        cloud.releases.subscribe(self.hear)

    # --- the connection: the device hears of updates only while online -------------------

    def hear(self, notice: str, upd: "Update") -> None:
        """The cloud published ``upd``: the device hears of it if it is online now."""
        if not self.device.connected:
            return
        if notice == "deadline":
            self.device.restart_for_update("deadline", in_squirrel=False)
            return
        host = self.device.host
        if host is not None and host.alive:  # over the live connection, one message latency later
            self.env.clock.schedule(self.env.config.message_latency_us, self._heard, source="cloud")

    def _heard(self) -> None:
        if self.device.connected:
            self.announce(in_squirrel=False)

    # --- the announcement ----------------------------------------------------------------

    def announce(self, *, in_squirrel: bool) -> None:
        """The device (re)connected, or is online when an update is released: tell the running
        app, or restart for the update. ``in_squirrel``: called from a native (a restart then
        ends the running Squirrel call)."""
        cloud = self.cloud
        host = self.device.host
        if not cloud.pending or host is None or not host.alive:
            return
        upd = cloud.next_update()
        cloud.announced(upd)
        forced = cloud.forced_path()
        if forced:
            self.device.restart_for_update(forced, in_squirrel)
        elif host.shutdown_handler is None:
            self.device.restart_for_update("no-handler", in_squirrel)
        elif host.number not in upd.notified:
            upd.notified.add(host.number)  # once per run: the call is queued now, it runs in turn
            reason = C.SHUTDOWN_NEWFIRMWARE if upd.kind == "impos" else C.SHUTDOWN_NEWSQUIRREL
            handler = host.shutdown_handler

            def call_handler(reason: int) -> Any:
                # The app hears of the update when its handler runs, not when the call is queued:
                # what its VM had queued before runs first, and may sleep or restart meanwhile.
                if cloud.pending.get(upd.kind) is upd:
                    cloud.handler_called(upd, host)
                return handler(reason)

            host.schedule(0, call_handler, reason)
            cloud.await_restart(upd)

    def told(self, host: "ScriptHost") -> bool:
        """Whether the handler of run ``host`` heard of an update that is still pending."""
        return any(host.number in u.heard for u in self.cloud.pending.values())

    def deferred(self, host: "ScriptHost") -> None:
        """The app went to sleep with an update it had been told about."""
        for u in self.cloud.pending.values():
            if host.number in u.heard:
                self.cloud.record("deferred", u)

    def impos_pending(self) -> bool:
        """An impOS update is pending: restarting for it is a cold boot."""
        return "impos" in self.cloud.pending

    # --- installing ----------------------------------------------------------------------

    def install(self, wakereason: int, path: str) -> int:
        """Apply every pending update as Squirrel starts online; returns the wake reason to report."""
        dev = self.device
        cloud = self.cloud
        log = self.env.log
        now = self.env.clock.now_us
        impos, squirrel = cloud.take_pending()
        if impos is not None:
            dev.impos = impos.version
            log.add(now, "firmware", f"impOS {impos.version} installed")
            cloud.applied(impos, path)
            wakereason = C.WAKEREASON_NEW_FIRMWARE
        if squirrel is not None:
            if squirrel.device_source is not None:
                dev.source = squirrel.device_source
                dev.filename = squirrel.device_file or dev.filename
            log.add(now, "status", f"Downloading new code; {dev.storage_used():.2f}% program storage used")
            cloud.applied(squirrel, path)
            if impos is None:
                wakereason = C.WAKEREASON_NEW_SQUIRREL
        return wakereason


def restart_for(path: str, has_impos: bool) -> Restart:
    """The halt that ends a running Squirrel call so that an update can be applied."""
    reason = C.WAKEREASON_NEW_FIRMWARE if has_impos else C.WAKEREASON_NEW_SQUIRREL
    r = Restart(reason, cold=has_impos)
    r.update_path = path  # type: ignore[attr-defined]
    return r
