"""The device: persistent parts, the boot kinds, the connection, and one VM per boot.

What survives what follows imp-api.md §5-§6: the SPI flash's contents, user configuration and
RTC survive everything; nv survives deep sleep and snooze only (and ``server.restart()`` when
``Config.nv_survives_restart``); timers, handlers, the send-timeout policy and the SPI flash's
enabled state die with the VM; ``hardware.millis()`` restarts at every boot; the power-save flag
dies with the power. How updates reach the running app is the device's
:class:`~impapi.lifecycle.UpdateLifecycle` (``device.updates``).

Every connection attempt (at a cold boot, a restart, a snooze, impOS's own retry after the link
drops, ``server.connect``) is a :class:`_Attempt`: its outcome is worked out from the network as
it is known, and worked out again whenever an outage is added while it is in flight, so an
outage that begins during an attempt defeats it as it would on an imp."""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

import squirrel

from . import constants as C
from .crashloop import CrashStreak
from .events import Event
from .flash import SpiFlash
from .halt import DeepSleep, Halt, Restart, Snooze
from .host import ScriptHost
from .lifecycle import UpdateLifecycle, restart_for
from .network import ConnectAttempt
from .profiles import Profile, software_version
from .peripherals import Board
from .serialize import MAX_DEPTH, SerialisationError, from_wire, to_wire, too_large, wire_size

if TYPE_CHECKING:
    from .cloud import Cloud
    from .environment import Environment
    from .network import Network
    from .relay import Relay

NV_KEPT = frozenset({C.WAKEREASON_TIMER, C.WAKEREASON_PIN, C.WAKEREASON_SNOOZE})
# What every boot starts with: the send-timeout policy (imp-api.md §2.3) and no pin armed to wake.
DEFAULT_POLICY = (C.SUSPEND_ON_ERROR, C.WAIT_TIL_SENT, 30.0)
NO_PINS: frozenset[str] = frozenset()
# The TCP send buffer of a new connection (imp-api.md §2.3: about 3 KB; the exact figure is
# unpublished, 3456 is the one a sample suggests).
DEFAULT_SEND_BUFFER = 3456


class Device:
    """One simulated imp. ``state`` is "off", "booting", "running", "asleep" or "snoozing"."""

    def __init__(self, env: "Environment", source: str, filename: str, profile: Profile, device_id: str,
                 flash: SpiFlash | None, *, network: "Network", cloud: "Cloud", relay: "Relay") -> None:
        self.env = env
        # impOS: its own source of events. The time is read from the clock itself
        # (env.clock.now_us), a plain attribute: the view's now_us, a property, costs ~100 ns
        # more a read (CPython 3.11 never specialises one), eight reads a wake.
        self.clock = env.clock.for_source("device")
        self.network = network
        self.cloud = cloud
        self.relay = relay
        self.updates = UpdateLifecycle(env, self, cloud)  # polite deployment, the device's side
        self.source = source
        self.filename = filename
        self.spare_vm: Any = None  # (VM, the ScriptHost that used it last): see ScriptHost
        self.profile = profile
        self.id = device_id
        self.flash = flash
        self.board = Board(env.config)  # what is wired to the pins and buses
        self.board.bind(lambda: self.env.clock.now_us, self._uart_from_peer, schedule=self.clock.schedule,
                        record=env.record, log=lambda text: env.log.add(self.env.clock.now_us, "impsim", text))
        self.board.on_change = self._pin_changed
        self.impos = profile.default_impos
        self.userconfig: bytes | None = None
        # Network settings kept in non-volatile memory (they survive every boot): the stored WiFi
        # configuration (ssid, key), None when cleared, and the enrollment credentials.
        self.wifi_config: tuple[str, str] | None = (env.config.wifi_ssid, env.config.wifi_key or "")
        self.enrolled = True
        self.nv_store: Any = None
        self.state = "off"
        self.host: ScriptHost | None = None
        self.connected = False
        self.boot_us = 0
        self.boots = 0
        self.wakereason = C.WAKEREASON_POWER_ON
        self.crashes = CrashStreak(env.config.crash_loop_boots)
        self.policy = DEFAULT_POLICY
        self.disconnect_handler: Any = None
        # imp.setpowersave: off at power-up (D:resources/imprestartoptions), kept by every other
        # boot. imp.setsendbuffersize: a property of the connection (D:node/2430).
        self.powersave = False
        self.sendbuffer = DEFAULT_SEND_BUFFER
        self._pending_event: Any = None
        self._link_watch: Any = None
        self._attempts: list[_Attempt] = []  # connection attempts in flight, oldest first
        self._retry: _Attempt | None = None  # impOS's own retry after the link dropped
        self._connecting: _Attempt | None = None  # server.connect's attempt (RETURN_ON_ERROR)
        self._suspended: ScriptHost | None = None  # the run whose VM waits out impOS's retry

    # --- power and boots --------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.env.record("state", {"state": state})

    @property
    def crash_loop(self) -> bool:
        """Whether the device has crash-looped (:mod:`impapi.crashloop`)."""
        return self.crashes.loop is not None

    @property
    def crash_streak(self) -> int:
        """Error restarts in a row so far (:mod:`impapi.crashloop`)."""
        return len(self.crashes.errors)

    def _record(self, kind: str, **data: Any) -> None:
        """A structured event of this device, which the crash-loop rule reads too."""
        event = self.env.record(kind, data)
        self.crashes.see(event if event is not None else Event(self.env.clock.now_us, kind, data))

    def power_on(self, wakereason: int = C.WAKEREASON_POWER_ON, path: str = "power-cycle") -> None:
        """A cold boot: impOS connects, installs pending updates, then Squirrel starts — or
        Squirrel starts after 10 s offline (§1.3). Power-save mode is off again."""
        self._cancel_pending()
        self.nv_store = None
        self.powersave = False
        self.sendbuffer = DEFAULT_SEND_BUFFER
        self._set_state("booting")
        self._connect_then_boot(wakereason, path)

    def _connect_then_boot(self, wakereason: int, path: str) -> None:
        """Squirrel starts once impOS has connected, or after ``Config.cold_boot_wait_us``
        offline, whichever comes first."""
        self._pending_event = self._attempt(self.env.config.cold_boot_wait_us, self._cold_attempt_done,
                                            wakereason, path)

    def _cold_attempt_done(self, attempt: "_Attempt", wakereason: int, path: str) -> None:
        self._pending_event = None
        if attempt.result.ok:
            self._cold_connected(wakereason, path)
        else:
            self.boot(wakereason)

    def _cold_connected(self, wakereason: int, path: str) -> None:
        self.set_connected(True)
        self.boot(wakereason, path)

    def power_off(self) -> None:
        self._cancel_pending()
        self._end_run()
        if self.connected:
            self.set_connected(False)
        self._drop_attempts()
        self.nv_store = None
        self._set_state("off")
        self._record("power", on=False)
        self.env.log.add(self.env.clock.now_us, "powerstate", "Device powered off")

    def boot(self, wakereason: int, path: str = "restart") -> None:
        """Start Squirrel afresh (a new VM), with what survives ``wakereason``. Online, impOS
        first installs whatever updates are pending."""
        self._pending_event = None
        self._end_run()
        self.board.wake_armed = NO_PINS  # a new run starts with its pins unconfigured
        if self.connected and self.cloud.pending:
            wakereason = self.updates.install(wakereason, path)
        self._set_state("running")
        self.boots += 1
        self.boot_us = now = self.env.clock.now_us
        self.wakereason = wakereason
        self.policy = DEFAULT_POLICY
        self.disconnect_handler = None
        if self.flash is not None:
            self.flash.reset()  # a new run finds the flash disabled, at its default speed
        self._record("boot", wakereason=wakereason, reason_name=_wake_name(wakereason))
        if self.connected:
            self.env.log.add(now, "status",
                             f"Device Booting; {self.storage_used():.2f}% program storage used")
        nv = self.nv_store if wakereason in NV_KEPT or self._restart_keeps_nv(wakereason) else None
        self.nv_store = None
        try:
            host = ScriptHost(self.env, self, "device", self.source, self.filename, self.profile.memory_free)
        except squirrel.CompileError as e:
            self._set_state("off")
            self.env.log.add(now, "server.error", f"ERROR: {e.msg} (device_code:{e.lineno}:{e.column})")
            self.env.fatal(f"{e.filename}:{e.lineno}:{e.column}: {e.msg}")
            return
        self.host = host
        if nv is not None:
            host.vm.unpack_slot(host.vm.root, "nv", nv)
        host.invoke(host.main)

    def storage_used(self) -> float:
        return 100.0 * _utf8_size(self.source) / self.profile.code_space

    def _restart_keeps_nv(self, wakereason: int) -> bool:
        return wakereason == C.WAKEREASON_SW_RESTART and self.env.config.nv_survives_restart

    def _end_run(self) -> None:
        host = self.host
        if host is not None:
            host.stop()
            self.host = None
        if self._retry is not None or self._connecting is not None:  # they were the ended run's
            for attempt in (self._retry, self._connecting):
                if attempt is not None:
                    attempt.cancel()
            self._retry = self._connecting = None
        if self._suspended is not None:
            self._resume()

    def _cancel_pending(self) -> None:
        if self._pending_event is not None:
            self._pending_event.cancel()
            self._pending_event = None

    # --- how runs end -----------------------------------------------------------------------

    def on_halt(self, host: ScriptHost, h: Halt) -> None:
        if host is not self.host:
            return  # a run something else already ended
        if isinstance(h, DeepSleep):
            if self.cloud.pending:  # as at boot: most sleeps have no update to defer
                self.updates.deferred(host)
            self._save_nv(host)
            hardware = host.hardware
            armed = self.board.wake_armed = hardware.wake_pins() if hardware is not None else NO_PINS
            self._sleep_until(h.wake_us, C.WAKEREASON_TIMER, "asleep")
            if armed:  # most runs arm no pin: no call at every sleep
                self._wake_if_pin_high()
        elif isinstance(h, Snooze):
            self._save_nv(host)
            self._snooze()
        elif isinstance(h, Restart):
            if self._restart_keeps_nv(h.wakereason) and not h.cold:
                self._save_nv(host)
            self.host = None
            if h.exit_code:
                self.env.log.add(self.env.clock.now_us, "lastexitcode", h.exit_code)
            path = getattr(h, "update_path", None)
            if path is None:
                path = "polite" if self.updates.told(host) and h.wakereason == C.WAKEREASON_SW_RESTART else "restart"
            if h.cold:
                if self.connected:
                    self.set_connected(False)
                self.power_on(h.wakereason, path)
            else:
                self._set_state("booting")
                self._pending_event = self.clock.schedule(self.env.config.restart_us, self._restart, h.wakereason, path)

    def _restart(self, wakereason: int, path: str) -> None:
        """server.restart() and friends: "the equivalent of a cold boot so that the device
        connects automatically" (seed): offline, Squirrel starts once connected or after the
        cold-boot wait."""
        if self.connected:
            self.boot(wakereason, path)
        else:
            self._set_state("booting")
            self._connect_then_boot(wakereason, path)

    def restart_for_update(self, path: str, in_squirrel: bool) -> None:
        """End the run so the pending updates install (an impOS update as a cold boot)."""
        has_impos = self.updates.impos_pending()
        if in_squirrel:
            raise restart_for(path, has_impos)
        if self.host is not None:
            self.host.stop()
            self.host = None
        self._cancel_pending()
        if has_impos:
            self.set_connected(False)
            self.power_on(C.WAKEREASON_NEW_FIRMWARE, path)
        else:
            self._set_state("booting")
            self._pending_event = self.clock.schedule(self.env.config.restart_us, self.boot,
                                                      C.WAKEREASON_NEW_SQUIRREL, path)

    def on_script_error(self, host: ScriptHost, e: squirrel.ScriptError | None) -> None:
        host.stop()
        if host is not self.host:
            return
        self.host = None
        self._record("error", message=e.message if e is not None else "watchdog")
        self._set_state("booting")
        self._pending_event = self.clock.schedule(self.env.config.error_restart_delay_us, self.boot,
                                                  C.WAKEREASON_SQUIRREL_ERROR)

    def on_out_of_memory(self, host: ScriptHost) -> None:
        if host is not self.host:
            return
        self.host = None
        self.env.log.add(self.env.clock.now_us, "lastexitcode", "Device restarted: out of memory")
        self._record("error", message="out of memory")  # an error restart, as the crash-loop rule counts
        self._set_state("booting")
        self._pending_event = self.clock.schedule(self.env.config.error_restart_delay_us, self.boot,
                                                  C.WAKEREASON_SW_RESET)

    def script_output(self, host: ScriptHost, text: str, is_error: bool) -> None:
        """print()/error() on the device go to the log like server.log (imp-api.md §9.2)."""
        if self.connected:
            host.log("server.error" if is_error else "server.log", text)

    def _save_nv(self, host: ScriptHost) -> None:
        """At deep sleep impOS keeps a root-table ``nv`` table (§6); what it cannot keep is
        logged, with the setting that changes it."""
        self.nv_store = None
        if not self.profile.has_nv:
            return
        cfg = self.env.config
        # The device's serialiser leaves out what it cannot keep (serialize.to_wire's rules, the
        # device's way), in one call into the VM; the packed bytes go back in at the next boot.
        packed = host.vm.pack_slot(host.vm.root, "nv", MAX_DEPTH)
        if packed is False:
            return
        if packed is None:
            # The VM stops at MAX_DEPTH levels or at 1 MiB serialised without saying which: the
            # serialiser's walk names it. Rare, and the run is over, so the handles the walk takes
            # change no figure the app reads.
            try:
                wire, size = None, wire_size(to_wire(host.vm.root["nv"], "nv", on_drop=_ignore))
            except SerialisationError as e:
                self.env.log.add(self.env.clock.now_us, "impsim", f"nv not kept for the next run: {e}")
                return
        else:
            wire, size, _ = packed
        if size > cfg.nv_limit:
            self.env.log.add(self.env.clock.now_us, "impsim",
                             f"nv not kept for the next run: it is {size} bytes, over the {cfg.nv_limit}-byte "
                             "limit (Config.nv_limit sets the limit)")
            return
        if wire is None:  # within a limit set over 1 MiB, but past what the VM packs (blobs shared many times)
            self.env.log.add(self.env.clock.now_us, "impsim", f"nv not kept for the next run: {too_large('nv')}")
            return
        self.nv_store = wire

    def _sleep_until(self, wake_us: int, reason: int, state: str) -> None:
        self.host = None
        if self.connected:
            self.set_connected(False)
        self._set_state(state)
        # The timer wakes the imp when asked; Squirrel cannot run again before a restart's time.
        clock = self.env.clock
        earliest = clock.now_us + self.env.config.restart_us
        if wake_us < earliest:
            wake_us = earliest
        # The clock itself, naming impOS's source, rather than the view (self.clock): a frame less
        # at every sleep.
        self._pending_event = clock.schedule_at(wake_us, self.boot, reason, source=self.clock.source)

    # --- the wake-up pin (docs/imp-model/boot-and-wake.md) ------------------------------------

    def _armed_high(self) -> bool:
        """A DIGITAL_IN_WAKEUP pin left armed by the last run reads high (its pull is down)."""
        return any(self.board.input_level(pin, 0) == 1 for pin in sorted(self.board.wake_armed))

    def _wake_if_pin_high(self) -> None:
        """Going to sleep with an armed wake pin already high: the imp wakes at once
        (Config.wake_pin_high_at_sleep_us; None: it sleeps until the timer or a new edge)."""
        delay = self.env.config.wake_pin_high_at_sleep_us
        if delay is not None and self.board.wake_armed and self._armed_high():
            self._cancel_pending()
            self._pending_event = self.clock.schedule(delay, self._pin_wake)

    def _pin_changed(self, pin: str) -> None:
        """The outside level of ``pin`` changed: an armed wake pin going high wakes a sleeping imp."""
        if self.state == "asleep" and pin in self.board.wake_armed and self.board.input_level(pin, 0) == 1:
            self._cancel_pending()
            self._pending_event = self.clock.schedule(0, self._pin_wake)

    def _pin_wake(self) -> None:
        if self.state == "asleep":
            self.boot(C.WAKEREASON_PIN)

    def _snooze(self) -> None:
        """SUSPEND_ON_ERROR gave up: sleep 9 minutes, then retry for a minute, until connected;
        Squirrel then restarts, online, with WAKEREASON_SNOOZE and nv kept (§2.3)."""
        self.host = None
        self._set_state("snoozing")
        self._pending_event = self.clock.schedule(self.env.config.snooze_us, self._snooze_retry)

    def _snooze_retry(self) -> None:
        self._pending_event = self._attempt(self.env.config.reconnect_window_us, self._snooze_attempt_done)

    def _snooze_attempt_done(self, attempt: "_Attempt") -> None:
        if attempt.result.ok:
            self._pending_event = None
            self._cold_connected(C.WAKEREASON_SNOOZE, "restart")
        else:
            self._pending_event = self.clock.schedule(self.env.config.snooze_us, self._snooze_retry)

    # --- the connection (imp-api.md §2.3-§2.8) ------------------------------------------------

    def connect_attempt(self, timeout_us: int) -> Any:
        """The outcome of a connection attempt starting now (see :class:`_Attempt`)."""
        return _Attempt(self, timeout_us).result

    def _attempt(self, timeout_us: int, then: Any, *args: Any) -> "_Attempt":
        """Start a connection attempt now; ``then(attempt, *args)`` runs when it succeeds or
        gives up. The attempt follows outages added while it is in flight (:meth:`network_changed`)."""
        attempt = _Attempt(self, timeout_us, then, args)
        self._attempts.append(attempt)
        attempt.schedule()
        return attempt

    def _attempt_done(self, attempt: "_Attempt") -> None:
        if attempt in self._attempts:
            self._attempts.remove(attempt)
        attempt.then(attempt, *attempt.args)

    def _drop_attempts(self) -> None:
        """The power went: no attempt in flight finishes."""
        for attempt in list(self._attempts):
            attempt.cancel()
        self._retry = self._connecting = None
        self._resume()

    def network_changed(self) -> None:
        """An outage was added: watch the open connection again, and work the attempts in
        flight out again (an outage that starts during an attempt defeats it)."""
        if self.connected:
            self._watch_link()
        for attempt in list(self._attempts):
            attempt.update()

    def wifi_joinable(self) -> bool:
        cfg = self.env.config
        stored = self.wifi_config
        return stored is not None and stored[0] == cfg.wifi_ssid and (cfg.wifi_key is None or stored[1] == cfg.wifi_key)

    def set_connected(self, on: bool) -> None:
        if on == self.connected:
            return
        self.connected = on
        now = self.env.clock.now_us
        self.env.record("connection", {"connected": on})
        self.env.log.add(now, "status", "Device connected" if on else "Device disconnected")
        if on:
            self.sendbuffer = DEFAULT_SEND_BUFFER  # a new connection, a new TCP socket (D:node/2430)
            if self._retry is not None:  # connected another way while impOS was retrying
                self._retry.cancel()
                self._retry = None
                self._resume()
            self._watch_link()
        elif self._link_watch is not None:
            self._link_watch.cancel()
            self._link_watch = None
        self.relay.presence(on)

    def disconnect(self) -> None:
        """server.disconnect(): on purpose, so impOS does not retry and nothing is reported."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
            self._resume()
        self.set_connected(False)

    def _watch_link(self) -> None:
        """Arrange to notice when the network drops under an open connection."""
        if self._link_watch is not None:
            self._link_watch.cancel()
            self._link_watch = None
        down = self.network.next_down(self.env.clock.now_us)
        if down is not None:
            self._link_watch = self.clock.schedule_at(max(down, self.env.clock.now_us), self._link_lost, source="network")

    def _link_lost(self) -> None:
        """The network dropped under the open connection. impOS at once tries to reconnect, for
        a minute, by itself, under either policy: a blip ends in a new connection the app never
        hears of. Meanwhile the device is disconnected, as ``server.isconnected()`` says. If the
        minute passes without one: under RETURN_ON_ERROR ``server.onunexpecteddisconnect`` is
        called (§2.7) and nothing reconnects by itself any more; under SUSPEND_ON_ERROR the
        device snoozes (§2.3)."""
        self._link_watch = None
        if not self.connected:
            return
        self.set_connected(False)
        host = self.host
        if host is not None and host.alive:
            self._retry = self._attempt(self.env.config.reconnect_window_us, self._retry_done, host)
            if self.policy[0] == C.SUSPEND_ON_ERROR:
                # Squirrel stops while impOS reconnects: its timers and messages wait in its queue.
                self._suspended = host
                self.env.clock.hold(host.queue)

    def _resume(self) -> None:
        """impOS's retry is over (or the run ended): Squirrel runs again, late, in order."""
        host, self._suspended = self._suspended, None
        if host is not None:
            self.env.clock.release(host.queue)

    def _retry_done(self, attempt: "_Attempt", host: ScriptHost) -> None:
        self._retry = None
        self._resume()
        if host is not self.host or not host.alive or self.connected:
            return
        if attempt.result.ok:
            self.set_connected(True)
            self.updates.announce(in_squirrel=False)
            self._connect_settled()
        elif self.policy[0] == C.SUSPEND_ON_ERROR:
            self._save_nv(host)  # as when a server call gives up: the run ends in a snooze
            self._snooze()
            host.stop()
        elif self.disconnect_handler is not None:
            host._fire(self.disconnect_handler, (attempt.result.reason,))

    def reach_server(self, host: ScriptHost) -> int:
        """Called by every native that talks to the server: 0 when the device is (now) online,
        else a send error. Under SUSPEND_ON_ERROR it blocks while impOS reconnects, and snoozes
        when that fails."""
        host.record_at_call_site("server-contact")
        if self.connected:
            return 0
        if self.policy[0] != C.SUSPEND_ON_ERROR:
            return C.SEND_ERROR_NOT_CONNECTED
        # impOS may be reconnecting already (the link dropped): the call waits for that minute.
        attempt = self._retry or _Attempt(self, self.env.config.reconnect_window_us)
        while self.env.clock.now_us < attempt.result.completes_at:
            host.block_until(attempt.result.completes_at)  # Squirrel waits; the rest of the world runs on
            attempt.update()  # an outage that began while Squirrel waited
        if self._retry is not None:
            self._retry.cancel()  # its outcome is this call's
            self._retry = None
            self._resume()
        if not attempt.result.ok:
            raise Snooze()
        self.set_connected(True)
        if self.cloud.pending:  # as at boot: most connections have no update to announce (a frame less)
            self.updates.announce(in_squirrel=True)  # may end the run for an update
        return 0

    def connect_async(self, host: ScriptHost, callback: Any, timeout_s: float) -> None:
        """server.connect under RETURN_ON_ERROR: the outcome arrives through ``callback``. Only
        one callback can be pending: a call made while an attempt is in flight replaces the
        callback of that attempt, which goes on as it started (§2.4)."""
        if self.connected:
            if callback is not None:
                host.schedule(0, callback, C.SERVER_CONNECTED)
            return
        pending = self._connecting
        if pending is not None and pending.args[0] is host:
            pending.args = (host, callback)
            return
        timeout_us = max(0, int(round(timeout_s * 1e6)))
        self._connecting = self._attempt(timeout_us, self._connect_done, host, callback)

    def _connect_done(self, attempt: "_Attempt", host: ScriptHost, callback: Any) -> None:
        if self._connecting is attempt:
            self._connecting = None
        if host is not self.host or not host.alive:
            return
        if attempt.result.ok:
            self.set_connected(True)
            self.updates.announce(in_squirrel=False)
        if callback is not None and host.alive:
            host._fire(callback, (attempt.result.reason,))

    def _connect_settled(self) -> None:
        """The device connected while server.connect() was waiting: its callback hears so now."""
        pending, self._connecting = self._connecting, None
        if pending is None:
            return
        pending.cancel()
        host, callback = pending.args
        if callback is not None and host is self.host and host.alive:
            host._fire(callback, (C.SERVER_CONNECTED,))

    # --- messages (imp-api.md §3) -------------------------------------------------------------

    def receive(self, name: str, wire: Any) -> None:
        host = self.host
        if host is None or not host.alive or not self.connected:
            return
        handler = host.handlers.get(name)
        if handler is None:
            host.log("server.error", f'ERROR: no handler for device.send(): "{name}"')
            return
        host._fire(handler, (from_wire(host.vm, wire),))

    def _uart_from_peer(self, bus: str, data: bytes, at_us: int) -> None:
        """A peer sends ``data`` from ``at_us``: it reaches the imp once on the line (at the
        configured rate with Config.bus_timing, else at once)."""
        from .natives.buses import uart_arrive, uart_line_us

        at_us = max(at_us, self.env.clock.now_us)
        if self.env.config.bus_timing:
            at_us = self.board.uart_line_free(bus, at_us, uart_line_us(self, bus, len(data)))
        self.clock.schedule_at(at_us, uart_arrive, self, bus, data)

    # --- facts for natives --------------------------------------------------------------------

    def millis(self) -> int:
        return (self.env.clock.now_us - self.boot_us) // 1000

    def micros(self) -> int:
        return self.env.clock.now_us - self.boot_us

    def software_version(self) -> str:
        """What imp.getsoftwareversion() reports: the impOS release the device runs."""
        return software_version(self.impos)


class _Attempt:
    """One connection attempt of a device: started at ``start_us``, it needs the network up for
    the connect latency without a break and gives up after ``timeout_us``. Over WiFi the stored
    configuration must name the network around the device (``Config.wifi_ssid``, and
    ``wifi_key`` when set), else it fails with NO_WIFI; a device whose enrollment was cleared
    cannot be admitted (NOT_AUTHORISED, UNCONFIRMED). The settings and the latency are those of
    the moment it started; the network is the one known now (:meth:`update`)."""

    __slots__ = ("device", "start_us", "timeout_us", "latency_us", "joinable", "enrolled", "result",
                 "then", "args", "event", "known")

    def __init__(self, device: Device, timeout_us: int, then: Any = None, args: tuple = ()) -> None:
        self.device = device
        self.start_us = device.env.clock.now_us
        self.timeout_us = timeout_us
        self.latency_us = device.network.connect_latency_us
        self.joinable = device.profile.interfaces[0] != "wifi" or device.wifi_joinable()
        self.enrolled = device.enrolled
        self.then = then
        self.args = args
        self.event: Any = None
        self.known = device.network.version  # the network as known when the outcome was worked out
        self.result = self._outcome()

    def _outcome(self) -> Any:
        deadline = self.start_us + self.timeout_us
        if not self.joinable:
            return ConnectAttempt(False, C.NO_WIFI, deadline)
        result = self.device.network.connect_attempt(self.start_us, self.timeout_us, self.latency_us)
        if result.ok and not self.enrolled:
            return ConnectAttempt(False, C.NOT_AUTHORISED, deadline)
        return result

    def schedule(self) -> None:
        device = self.device
        self.event = device.clock.schedule_at(max(self.result.completes_at, device.env.clock.now_us),
                                              device._attempt_done, self)

    def update(self) -> None:
        """Work the outcome out again from the network as now known; reschedule if it changed."""
        known = self.device.network.version
        if known == self.known:
            return  # no outage added since: the outcome, a function of the outages, is the same
        self.known = known
        result = self._outcome()
        if result != self.result:
            self.result = result
            if self.event is not None:
                self.event.cancel()
                self.schedule()

    def cancel(self) -> None:
        if self.event is not None:
            self.event.cancel()
            self.event = None
        if self in self.device._attempts:
            self.device._attempts.remove(self)


def _ignore(part: str) -> None:
    pass  # the device leaves out what it cannot keep, without a word


@functools.lru_cache(maxsize=None)  # every boot asks: each value looked up once
def _wake_name(wakereason: int) -> str:
    """The name of a wake reason, as the boot event gives it."""
    return C.name_of(C.WAKE_REASONS, wakereason)


@functools.lru_cache(maxsize=16)  # logged at every boot: each code encoded once
def _utf8_size(source: str) -> int:
    return len(source.encode("utf-8"))


def make_device_id(seed: str) -> str:
    """16 lowercase hex characters, like a real device ID (§5.2), derived from ``seed``."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
