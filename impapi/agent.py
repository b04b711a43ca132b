"""The agent: the device's partner in the cloud, with its own VM, always online.

It restarts on each deployment (``Agent restarted: reload.``), keeps what ``server.save`` stored,
and sees the device come and go with the delays of imp-api.md §3.5."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import squirrel

from .halt import Halt, Restart
from .host import ScriptHost
from .natives.messaging import ONCONNECT, ONDISCONNECT
from .profiles import software_version
from .serialize import from_wire

if TYPE_CHECKING:
    from .internet import Internet
    from .cloud import Cloud
    from .environment import Environment
    from .relay import Relay

AGENT_MEMORY = 1024 * 1024  # imp-api.md has no figure for agents; generous, configurable via Config


class Agent:
    def __init__(self, env: "Environment", source: str, filename: str, agent_id: str, *, relay: "Relay",
                 internet: "Internet", cloud: "Cloud", impos: str) -> None:
        self.env = env
        self.clock = env.clock.for_source("agent")  # its restarts: its own source of events
        self.relay = relay
        self.internet = internet  # what answers the agent's outgoing HTTP requests
        self.impos = impos  # the impOS release the impCloud reports to agents
        self.source = source
        self.filename = filename
        self.spare_vm: Any = None  # (VM, the ScriptHost that used it last): see ScriptHost
        self.id = agent_id
        self.saved: Any = {}
        self.host: ScriptHost | None = None
        self.device_connected = False
        self._presence = 0
        self.restarts = 0
        cloud.agent_deployments.subscribe(self.deployed)

    @property
    def url(self) -> str:
        return f"https://agent.electricimp.com/{self.id}"

    def start(self) -> None:
        if self.host is not None:
            self.host.stop()
        self.restarts += 1
        self.env.record("agent-restart")
        self.env.log.add(self.env.clock.now_us, "status", "Agent restarted: reload.")
        try:
            host = ScriptHost(self.env, self, "agent", self.source, self.filename, self.env.config.agent_memory)
        except squirrel.CompileError as e:
            self.host = None
            self.env.log.add(self.env.clock.now_us, "agent.error", f"ERROR: {e.msg} (agent_code:{e.lineno}:{e.column})")
            self.env.fatal(f"{e.filename}:{e.lineno}:{e.column}: {e.msg}")
            return
        self.host = host
        host.start()

    def deployed(self, source: str | None, filename: str | None) -> None:
        """A deployment: the agent restarts at once, with new code if it brings some."""
        if source is not None:
            self.source = source
            self.filename = filename or self.filename
        self.start()

    # --- how runs end -------------------------------------------------------------------------

    def on_halt(self, host: ScriptHost, h: Halt) -> None:
        if host is self.host and isinstance(h, Restart):
            self.host = None
            self.clock.schedule(self.env.config.restart_us, self.start)

    def on_script_error(self, host: ScriptHost, e: Any) -> None:
        """Imp-api.md §10 leaves agent restarts after an error unconfirmed: by default the agent
        logs it and keeps running (``Config.agent_error_restarts`` restarts it instead)."""
        if host is self.host and self.env.config.agent_error_restarts:
            host.stop()
            self.host = None
            self.clock.schedule(self.env.config.error_restart_delay_us, self.start)

    def on_out_of_memory(self, host: ScriptHost) -> None:
        if host is self.host:
            self.host = None
            self.env.log.add(self.env.clock.now_us, "agent.error", "ERROR: out of memory")
            self.clock.schedule(self.env.config.error_restart_delay_us, self.start)

    def script_output(self, host: ScriptHost, text: str, is_error: bool) -> None:
        host.log("agent.error" if is_error else "agent.log", text)

    # --- the device, seen from the cloud ------------------------------------------------------

    def receive(self, name: str, wire: Any) -> None:
        host = self.host
        if host is None or not host.alive:
            return
        handler = host.handlers.get(name)
        if handler is None:
            host.log("agent.error", f'ERROR: no handler for agent.send(): "{name}"')
            return
        host._fire(handler, (from_wire(host.vm, wire),))

    def device_presence(self, connected: bool) -> None:
        """device.onconnect fires at once; a disconnect is noticed after missed pings (§3.5)."""
        self._presence += 1
        if connected:
            if not self.device_connected:
                self.device_connected = True
                self._fire_presence(ONCONNECT)
        else:
            # The impCloud notices the missed pings: its doing, not the agent's (the world's
            # clock, naming the source, rather than the agent's: one call less at every sleep).
            self.env.clock.schedule(self.env.config.agent_disconnect_detect_us, self._disconnect_noticed,
                                    self._presence, source="cloud")

    def _disconnect_noticed(self, token: int) -> None:
        if token == self._presence and self.device_connected:
            self.device_connected = False
            self._fire_presence(ONDISCONNECT)

    def _fire_presence(self, key: str) -> None:
        host = self.host
        if host is not None and host.alive:
            handler = host.handlers.get(key)
            if handler is not None:
                host._fire(handler, ())

    def software_version(self) -> str:
        return software_version(self.impos)

    # --- HTTP (http.onrequest) ------------------------------------------------------------------

    def http_request(self, method: str, path: str, body: str = "", headers: dict | None = None,
                     wait_us: int = 60_000_000) -> tuple[int, str, dict]:
        """Send an HTTP request to the agent's URL and run the simulation until it answers.
        Returns (status, body, headers); 404 without an ``http.onrequest`` handler (§1.2)."""
        from .natives.incoming import deliver_request

        return deliver_request(self, method, path, body, headers or {}, wait_us)
