"""The impCloud's relay between a device and its agent (imp-api.md §3).

On a real imp the device and its agent never talk directly: the impCloud carries their
messages, each way with ``Config.message_latency_us`` of delay, and tells the agent when its
device comes and goes. The relay is that link. The device and the agent each hold it; it holds
them (attached by whoever builds the simulation) and nothing else.

A message to a device that is offline when it is sent is lost, not queued (§3.3). A message to
the agent is delivered to whichever agent run is alive when it arrives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .environment import Environment

__all__ = ["Relay"]


class DeviceEnd(Protocol):
    id: str
    connected: bool

    def receive(self, name: str, wire: Any) -> None: ...


class AgentEnd(Protocol):
    def receive(self, name: str, wire: Any) -> None: ...

    def device_presence(self, connected: bool) -> None: ...


class Relay:
    def __init__(self, env: "Environment") -> None:
        self.env = env
        self.device: DeviceEnd | None = None
        self.agent: AgentEnd | None = None

    @property
    def device_id(self) -> str:
        """The ID of the device the agent belongs to ("" for an agent without a device)."""
        return self.device.id if self.device is not None else ""

    def to_agent(self, name: str, wire: Any) -> None:
        """``agent.send`` on the device, once the device is online: the agent hands it to the run
        alive when it arrives. Without an agent it still travels (an event like any other), then
        nothing hears it."""
        env = self.env
        env.record("message", {"to": "agent", "name": name})
        agent = self.agent
        env.clock.schedule(env.config.message_latency_us, _unheard if agent is None else agent.receive, name, wire)

    def to_device(self, name: str, wire: Any) -> None:
        """``device.send`` on the agent: lost unless the device is online now (§3.3)."""
        dev = self.device
        if dev is not None and dev.connected:
            env = self.env
            env.record("message", to="device", name=name)
            env.clock.schedule(env.config.message_latency_us, dev.receive, name, wire)

    def presence(self, connected: bool) -> None:
        """The device connected or disconnected (the agent notices the latter late, §3.5)."""
        if self.agent is not None:
            self.agent.device_presence(connected)


def _unheard(name: str, wire: Any) -> None:
    pass
