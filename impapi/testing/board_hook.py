"""``this.impsim()`` in impUnit tests: the simulated board, seen from a test method.

impsim's ImpTestCase has a method ``impsim()`` that returns a table of functions reading what
the app did to its pins and buses and acting as the world outside the imp (docs/testing.md,
"Reaching the hardware from a test"). It works through ``imp.__impsim_io``, a native this module
installs in the test side's VM at every boot, in test sessions only: an app running on an imp,
or under ``impsim run``, has no such native, and ``impsim()`` throws there.

The queries answer for what happened since ``impsim()`` was called (each test takes its own
view when it starts), from the simulation's structured events (:mod:`impapi.iorecord`).
"""

from __future__ import annotations

from typing import Any

import squirrel

from ..durations import seconds_to_us
from ..iorecord import IORecord

__all__ = ["BoardHook", "TestSideHook"]


class TestSideHook:
    """Natives a test session puts into the ``imp`` table of the test side's VM. Every boot and
    agent restart makes a new VM, so :meth:`install` is called as the session runs and adds them
    once to each new one (:meth:`natives`)."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.host: Any = None

    def install(self, sim: Any) -> None:
        owner = sim.agent if self.side == "agent" else sim.device
        host = getattr(owner, "host", None)
        if host is None or host is self.host:
            return
        self.host = host
        if not host.alive or host.vm.closed:
            return
        natives = self.natives(sim, host)
        try:
            imp = host.vm.root["imp"]
            for name, fn in natives.items():
                imp[name] = fn
        except (KeyError, squirrel.SquirrelError):  # no imp table (not on a simulated imp)
            return
        self.installed(host)

    def natives(self, sim: Any, host: Any) -> dict[str, Any]:
        raise NotImplementedError

    def installed(self, host: Any) -> None:
        """After the natives went in (the VM has an imp table)."""


class BoardHook(TestSideHook):
    """Installs ``imp.__impsim_io`` into whichever VM runs the test side now."""

    def natives(self, sim: Any, host: Any) -> dict[str, Any]:
        @squirrel.native
        def __impsim_io() -> dict[str, Any]:
            return _view(sim)

        return {"__impsim_io": __impsim_io}


def _fail(text: str) -> squirrel.SquirrelError:
    return squirrel.SquirrelError(f"impsim(): {text}")


def _view(sim: Any) -> dict[str, Any]:
    """The functions of one ``impsim()`` view, reading the events from this moment on."""
    events = sim.events
    start = len(events)
    if sim.device is None:
        raise _fail("the session has no device code, so no pins or buses")
    board = sim.device.board

    def caught_up() -> None:
        # The test's code has taken time too (execution time): what it reads and drives happens
        # at the time it has reached, as the imp API's natives do.
        host = sim.device.host
        if host is not None:
            host.catch_up()

    def io() -> IORecord:
        caught_up()
        return IORecord(events[start:])

    def seconds(t_us: int) -> float:
        return t_us / 1e6

    def pin_name(pin: Any) -> str:
        if not isinstance(pin, str):
            raise _fail(f"give the pin's name as a string, such as \"pin1\", not {pin!r}")
        return pin

    def call(fn: Any, *args: Any, **kw: Any) -> Any:
        caught_up()
        try:
            return fn(*args, **kw)
        except (ValueError, TypeError) as e:
            raise _fail(str(e)) from None

    def model(name: Any) -> Any:
        found = sim.models.get(name) if isinstance(name, str) else None
        if found is None:
            raise _fail(f"no model named {name!r}; the wiring names {', '.join(sorted(sim.models)) or 'none'}")
        return found

    def get(name: Any, attribute: Any) -> Any:
        value = getattr(model(name), str(attribute), None)
        if value is None:
            raise _fail(f"the model {name!r} has no {attribute!r}")
        if callable(value):
            caught_up()
            value = value(sim.clock.now_us)  # a signal: its value now
        if isinstance(value, (bool, int, float, str, bytes)):
            return value
        raise _fail(f"{name}.{attribute} is not a number or a string")

    def set_(name: Any, attribute: Any, value: Any) -> None:
        m = model(name)
        if not hasattr(m, str(attribute)):
            raise _fail(f"the model {name!r} has no {attribute!r}")
        if not isinstance(value, (bool, int, float, str)):
            raise _fail(f"set a number or a string, not a {type(value).__name__}")
        call(setattr, m, str(attribute), value)

    def register(name: Any, address: Any) -> int:
        m = model(name)
        if not hasattr(m, "get") or not isinstance(address, int):
            raise _fail(f"{name!r} is not a register device, or {address!r} is not a register address")
        return call(m.get, address)

    def send(bus: Any, data: Any) -> None:
        if not isinstance(bus, str) or not isinstance(data, (str, bytes)):
            raise _fail("send(bus, data): a UART name and a string")
        payload = data.encode("utf-8") if isinstance(data, str) else data
        caught_up()
        board._deliver_uart(bus, payload, sim.clock.now_us)

    return {
        "writes": lambda pin: io().writes(pin_name(pin)),
        "changes": lambda pin: [{"time": seconds(t), "value": v} for t, v in io().changes(pin_name(pin))],
        "sent": lambda bus: io().sent(bus),
        "received": lambda bus: io().received(bus),
        "i2c": lambda bus, address=None: [
            {"time": seconds(x.time_us), "address": x.address, "write": x.write, "read": x.read, "error": x.error}
            for x in io().i2c(bus, address)],
        "spi": lambda bus: [{"time": seconds(x.time_us), "write": x.write, "read": x.read} for x in io().spi(bus)],
        "drive": lambda pin, level: call(sim.drive, pin_name(pin), level),
        "pulse": lambda pin, secs, level=1: call(sim.pulse, pin_name(pin), f"{seconds_to_us(float(secs))}us",
                                                 level=level),
        "analog": lambda pin, value: call(sim.analog, pin_name(pin), value),
        "send": send,
        "get": get,
        "set": set_,
        "register": register,
    }
