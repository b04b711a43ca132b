"""Structured events: what happened in a run, as data (the log is the same story as text).

Kinds and their data:

- ``boot`` {wakereason: int, reason_name: str} — Squirrel started afresh
- ``state`` {state: "booting"|"running"|"asleep"|"snoozing"|"off"}
- ``connection`` {connected: bool}
- ``update`` {stage: "released"|"announced"|"handler-called"|"deferred"|"applied",
  update: "squirrel"|"impos", version: str,
  path: "polite"|"no-handler"|"power-cycle"|"force"|"group-move"|"deadline"|"restart"|None,
  forced: bool} — "restart": applied because Squirrel restarted for another reason while online
- ``outage`` {start_us: int, end_us: int}
- ``agent-restart`` {}
- ``power`` {on: bool}
- ``handler-registered`` {file: str, line: int} — the app called server.onshutdown with a function
- ``server-contact`` {file: str, line: int} — a native talked to the server
  (file and line: the Squirrel code that made the call, absent when none ran it)
- ``error`` {message: str} — an uncaught runtime error
- ``pin`` {pin: str, mode: str, value: int|float} or {pin, mode, duty: float[, period: float]} —
  a pin write (digital level, DAC level or PWM duty)
- ``i2c`` {bus: str, address: int, write: hex str, read: hex str|None, error: int} — one transfer
- ``spi`` {bus: str, write: hex str, read: hex str} — one full-duplex transfer
- ``uart`` {bus: str, data: hex str} — bytes the imp sent
- ``uart-rx`` {bus: str, data: hex str, lost: int} — bytes a peer sent that reached the imp's FIFO
- ``pin-in`` {pin: str, level: int|None} or {pin, analog} — something outside changed an input
- ``dac`` {pin: str, samples: int, rate: float} — a DAC buffer started playing
- ``bluetooth`` {action: "open"|"scan"|"advertise"[, data: hex str]}
  (pin and bus events stop after ``Config.record_io_limit``; see docs/imp-model/hardware.md)
- ``message`` {to: "agent"|"device", name: str} — a device<->agent message was sent (over a live
  connection: a device message that could not be sent, or an agent message to an offline
  device, is not one)
- ``http-request`` {method: str, url: str} — the agent sent an outgoing HTTP request

Flash activity is not an event: ``sim.device.flash.ops`` holds every write and erase with its time.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Event(NamedTuple):
    time_us: int
    kind: str
    data: dict[str, Any]


class EventLog(list):
    """The events of one run, in the order they happened."""

    def of(self, kind: str, **match: Any) -> list[Event]:
        return [e for e in self if e.kind == kind and all(e.data.get(k) == v for k, v in match.items())]
