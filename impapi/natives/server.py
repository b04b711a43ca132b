"""The ``server`` object (imp-api.md §1.1-§1.2, §2)."""

from __future__ import annotations

import math
from typing import Any

import squirrel

from .. import constants as C
from ..api import AGENT, BOTH, DEVICE, Api, Callback, ImpError, Table
from ..halt import DeepSleep, Restart
from ..serialize import SerialisationError, from_wire, to_wire, wire_size
from .common import deep_sleep_ok, seconds, sleep_until_us, text_of

server = Api("server")
SAVE_LIMIT = 64 * 1024  # §2.11


def _log(host: Any, value: Any, error: bool) -> int | None:
    if host.side == AGENT:
        host.log("agent.error" if error else "agent.log", text_of(host, value))
        return None
    rc = host.owner.reach_server(host)
    if rc:
        return rc  # RETURN_ON_ERROR while offline: the message is lost (§2.9)
    host.log("server.error" if error else "server.log", text_of(host, value))
    return 0


@server.native(BOTH)
def log(host: Any, value: Any) -> int | None:
    return _log(host, value, False)


@server.native(BOTH)
def error(host: Any, value: Any) -> int | None:
    return _log(host, value, True)


@server.native((DEVICE,))
def connect(host: Any, callback: Callback | None = None, timeout: float = 60.0) -> None:
    dev = host.owner
    if dev.policy[0] == C.SUSPEND_ON_ERROR:
        dev.reach_server(host)  # synchronous; callback and timeout are ignored (§2.4)
    else:
        dev.connect_async(host, callback, seconds(timeout, "server.connect timeout"))


@server.native((DEVICE,))
def connectwith(host: Any, interface: Table, callback: Callback | None = None, timeout: float = 60.0) -> None:
    """impOS 42+: connect through a given interface (§2.4); the simulation has one network."""
    connect(host, callback, timeout)


@server.native((DEVICE,))
def disconnect(host: Any) -> None:
    host.owner.disconnect()


@server.native((DEVICE,))
def isconnected(host: Any) -> bool:
    return host.owner.connected


@server.native((DEVICE,))
def flush(host: Any, timeout: float) -> bool:
    seconds(timeout, "server.flush timeout")
    return host.owner.connected


@server.native((DEVICE,))
def setsendtimeoutpolicy(host: Any, error_policy: int, wait_policy: int, timeout: float) -> None:
    if error_policy not in C.ERROR_POLICIES.values():
        raise ImpError("invalid error policy: use SUSPEND_ON_ERROR, RETURN_ON_ERROR or RETURN_ON_ERROR_NO_DISCONNECT")
    if wait_policy not in C.WAIT_POLICIES.values():
        raise ImpError("invalid wait policy: use WAIT_TIL_SENT or WAIT_FOR_ACK")
    host.owner.policy = (error_policy, wait_policy, seconds(timeout, "send timeout"))


@server.native((DEVICE,))
def onunexpecteddisconnect(host: Any, callback: Callback | None) -> None:
    host.owner.disconnect_handler = callback


@server.native((DEVICE,), available=deep_sleep_ok)
def sleepfor(host: Any, secs: float) -> DeepSleep:
    return DeepSleep(host.clock.now_us + int(round(seconds(secs, "server.sleepfor") * 1e6)), flush=True)


@server.native((DEVICE,), available=deep_sleep_ok)
def sleepuntil(host: Any, hour: int, minute: int, second: int = 0, dayofweek: int | None = None) -> DeepSleep:
    return DeepSleep(sleep_until_us(host, hour, minute, second, dayofweek), flush=True)


@server.native((DEVICE,))
def expectonlinein(host: Any, secs: float) -> int:
    host.owner.disconnect()
    return 0


@server.native((DEVICE,))
def expectonlineat(host: Any, hour: int, minute: int, second: int = 0, dayofweek: int | None = None) -> int:
    host.owner.disconnect()
    return 0


@server.native((DEVICE,))
def onshutdown(host: Any, callback: Callback | None) -> None:
    host.shutdown_handler = callback
    if callback is not None:
        host.record_at_call_site("handler-registered")


@server.native(BOTH)
def restart(host: Any) -> Restart:
    return Restart(C.WAKEREASON_SW_RESTART)


@server.native((AGENT,))
def save(host: Any, table: Table) -> int:
    try:
        wire = _finite(to_wire(table, "the table"))
    except SerialisationError as e:
        raise ImpError(str(e)) from None
    if wire_size(wire) > SAVE_LIMIT:
        raise ImpError(f"server.save(): data is over the {SAVE_LIMIT // 1024} KB limit")
    host.owner.saved = wire
    return 0


def _finite(wire: Any) -> Any:
    """D:resources/serialisablesquirrel: server.save() stores NaN, +inf and -inf as null."""
    if type(wire) is float and not math.isfinite(wire):
        return None
    if type(wire) is list:
        return [_finite(v) for v in wire]
    if type(wire) is dict:
        return {k: _finite(v) for k, v in wire.items()}
    return wire


@server.native((AGENT,))
def load(host: Any) -> Any:
    return from_wire(host.vm, host.owner.saved)
