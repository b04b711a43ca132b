"""Device <-> agent messages: ``agent`` on the device, ``device`` on the agent (imp-api.md §3)."""

from __future__ import annotations

from typing import Any

from ..api import AGENT, DEVICE, Api, Callback, ImpError
from ..serialize import SerialisationError, to_wire_packed

# Where the agent keeps its device.onconnect / device.ondisconnect handlers (impapi.agent fires them).
ONCONNECT, ONDISCONNECT = "\x00onconnect", "\x00ondisconnect"

agent = Api("agent")
device = Api("device")


def _name(name: str | bytes) -> str:
    # A name that is not UTF-8 (a Squirrel string is bytes then) is kept as readable text.
    return name if isinstance(name, str) else name.decode("utf-8", "replace")


def _wire(host: Any, data: Any, what: str, on_drop: Any = None) -> Any:
    try:
        return to_wire_packed(data, host.vm, "the message", on_drop)
    except SerialisationError as e:
        raise ImpError(f"{what}: {e}") from None


@agent.native((DEVICE,))
def send(host: Any, name: str, data: Any) -> int:
    if name.__class__ is not str:
        name = _name(name)
    dropped: list[str] = []
    wire = _wire(host, data, "agent.send", dropped.append)
    if dropped:
        # What the device logs when it leaves parts of a message out (code: MessageManager's
        # tests quote it as a "Device Runtime Error"); the agent says nothing (UNCONFIRMED).
        host.log("server.error", "ERROR: skipped unserialisable data")
    rc = host.owner.reach_server(host)
    if rc:
        return rc
    host.owner.relay.to_agent(name, wire)
    return 0


@agent.native((DEVICE,), name="on")
def on_(host: Any, name: str, callback: Callback | None) -> None:
    _register(host, _name(name), callback)


def _register(host: Any, name: str, callback: Callback | None) -> None:
    if callback is None:
        host.handlers.pop(name, None)
    else:
        host.handlers[name] = callback


@device.native((AGENT,), name="send")
def device_send(host: Any, name: str, data: Any) -> None:
    name = _name(name)
    wire = _wire(host, data, "device.send")
    host.owner.relay.to_device(name, wire)


@device.native((AGENT,), name="on")
def device_on(host: Any, name: str, callback: Callback | None) -> None:
    _register(host, _name(name), callback)


@device.native((AGENT,))
def onconnect(host: Any, callback: Callback | None) -> None:
    _register(host, ONCONNECT, callback)


@device.native((AGENT,))
def ondisconnect(host: Any, callback: Callback | None) -> None:
    _register(host, ONDISCONNECT, callback)


@device.native((AGENT,))
def isconnected(host: Any) -> bool:
    return host.owner.device_connected


@device.native((AGENT,))
def info(host: Any) -> dict:
    return {"id": host.owner.relay.device_id, "isconnected": host.owner.device_connected,
            "ipaddress": "192.0.2.1" if host.owner.device_connected else ""}
