"""How the imp's hardware objects (``hardware.pin1``, ``hardware.i2c89``, ...) exist in a VM.

Each object is an instance of a small Squirrel class per kind (pin, i2c, spi, uart, ...) whose
methods forward to one Python native per method, passing the object's id: ``hardware.pin1.write(1)``
calls ``pin_write(host, 0, 1)``. The classes and instances are made once per VM by a short
Squirrel builder (:func:`builder_source`, one text per module, so its bytecode is cached), and
the natives arrive in one hidden table of the same ``NativeSet`` install as the rest of the API.

Why instances and not tables of natives: a boot restores the VM's pristine globals by copying
its tables (``squirrel.VM.restore``); instances are shared, not copied, so dozens of objects add
only their slots in ``hardware`` to a boot, and no native per object is made per VM. The
instance-to-id map lives in a local of the builder, out of the script's reach, and the instances
have no fields, so nothing a script does to one survives into the next boot.

Frames of these forwarding methods carry the file name ``impsim:hardware``; error reports skip
``impsim:`` frames, so an error points at the app's line as the imp's would.

Per boot, the imp's side of the hardware (pin modes, bus settings, FIFOs, callbacks) is a
:class:`HardwareRun`, made on first use and dropped with the run.
"""

from __future__ import annotations

import math
from typing import Any

import squirrel

from ..api import Api, ImpError
from ..pinmux import ModuleHardware, module_hardware

# The natives the objects' methods forward to, installed as ``hardware._impsim`` and moved into
# the builder's closures (each is "<kind>_<method>" and takes the object's id first).
objects = Api("_impsim")  # register with objects.native(sides, this=True) when the method passes its id

# Object ids: a base per kind, plus the index in the module's table.
PIN, I2C, SPI, UART, PWMPAIR = 0, 1000, 2000, 3000, 4000
KINDS = {PIN: "pin", I2C: "i2c", SPI: "spi", UART: "uart", PWMPAIR: "pwmpair"}

# Squirrel's own wording for an argument of the wrong type (what a native registered with a
# type mask says); the imp's natives are registered the same way.
_SQ_TYPES = {bool: "bool", int: "integer", float: "float", str: "string", bytes: "string", type(None): "null"}


def typename(value: Any) -> str:
    t = _SQ_TYPES.get(type(value))
    if t is not None:
        return t
    if isinstance(value, squirrel.Instance):
        return "instance"  # a blob too: type masks name the raw type, not _typeof's
    if isinstance(value, squirrel.SquirrelObject):
        return "function" if value.kind == "native function" else value.kind
    if isinstance(value, squirrel.BoundFunction):
        return "function"
    return type(value).__name__


def bad_type(n: int, value: Any, expected: str) -> ImpError:
    return ImpError(f"parameter {n} has an invalid type '{typename(value)}' ; expected: '{expected}'")


def wrong_count() -> ImpError:
    return ImpError("wrong number of parameters")


def need_int(n: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_type(n, value, "integer")
    return value


def need_number(n: int, value: Any) -> float:
    """A finite number (an infinite or NaN period, rate or level means nothing to the hardware)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(n, value, "integer|float")
    value = float(value)
    if not math.isfinite(value):
        raise ImpError(f"parameter {n} must be a finite number")
    return value


def need_count(n: int, value: Any, host: Any) -> int:
    """A byte count for data the call returns: at least 0, and a count the VM cannot hold is what
    asking Squirrel for that much memory is, out of memory."""
    count = max(0, need_int(n, value))
    vm = host.vm
    if vm.memory_limit is not None and count > vm.memory_limit - vm.memory_used:
        raise squirrel.MemoryLimitError("out of memory")
    return count


def need_bytes(n: int, value: Any, *, blob: bool = True) -> bytes:
    """A Squirrel string (or blob, where the method takes one) as bytes."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if blob and isinstance(value, squirrel.Blob):
        return bytes(value)
    raise bad_type(n, value, "string|blob" if blob else "string")


def is_function(value: Any) -> bool:
    return isinstance(value, (squirrel.Function, squirrel.BoundFunction))


def need_function(n: int, value: Any) -> Any:
    if not is_function(value):
        raise bad_type(n, value, "function")
    return value


# --- the Squirrel side -----------------------------------------------------------------------------

# Methods per kind: (name, parameters) where parameters is "..." for a variable list (forwarded
# with acall) or a fixed list of names. The natives are "<kind>_<method>".
METHODS: dict[str, tuple[tuple[str, str], ...]] = {
    "pin": (("configure", "..."), ("read", ""), ("write", "v"), ("getdutycycle", ""), ("disable", "")),
    "i2c": (("configure", "speed"), ("read", "a, r, c"), ("write", "a, d"), ("readerror", ""), ("disable", "")),
    "spi": (("configure", "flags, rate"), ("write", "d"), ("writeread", "d"), ("readstring", "c"),
            ("readblob", "c"), ("chipselect", "..."), ("disable", "")),
    "uart": (("configure", "..."), ("write", "d"), ("read", ""), ("readstring", "..."), ("readblob", "..."),
             ("flush", ""), ("disable", ""), ("setrxfifosize", "c"), ("settxfifosize", "c"), ("flags", ""),
             ("settxactive", "...")),
    "pwmpair": (),
}


def _class_source(kind: str) -> str:
    lines = []
    for name, params in METHODS[kind]:
        native = f"n.{kind}_{name}"
        # The object's id goes to the native as its `this`, so that Squirrel's checks number the
        # arguments as the script counts them (the natives are registered with this=True).
        if params == "...":
            body = f"vargv.insert(0, ids[this]); return {native}.acall(vargv);"
            lines.append(f"function {name}(...) {{ {body} }}")
        else:
            args = ", ".join(["ids[this]"] + ([params] if params else []))
            lines.append(f"function {name}({params}) {{ return {native}.call({args}); }}")
    return "class {\n" + "\n".join(lines) + "\n}"


_HEADER = r"""
local root = getroottable(), h = root.hardware, n = h._impsim, ids = {};
delete h._impsim;
// A pin-like argument as its id (-1 for anything else): the natives check it.
local function oid(o) { return (typeof o == "instance" && o in ids) ? ids[o] : -1 }
// Callbacks the imp calls with an argument are called without one when they take none.
local function adapt(f) {
    if (typeof f != "function") return f;
    local i = f.getinfos();
    if (("parameters" in i) && i.parameters != null && i.parameters.len() < 2 && !i.varargs) return function(...) { return f() };
    return f;
}
n.uart_configure = (function(c) { return function(...) {
    if (vargv.len() > 5) vargv[5] = adapt(vargv[5]);  // this: the id; vargv: baud, word, parity, stop, flags, callback
    vargv.insert(0, this);
    return c.acall(vargv);
} })(n.uart_configure);
n.uart_settxactive = (function(c) { return function(...) {
    if (vargv.len() > 0) vargv[0] = oid(vargv[0]);  // this: the id; vargv: pin, ...
    vargv.insert(0, this);
    return c.acall(vargv);
} })(n.uart_settxactive);
local function make(cls, names, first) {
    foreach (i, k in names) { local o = cls(); ids[o] <- first + i; h[k] <- o; }
}
"""

_DAC = r"""
h.fixedfrequencydac <- (class {
    function configure(pin, rate, buffers, callback, flags = 0) { return n.dac_configure(oid(pin), rate, buffers, callback, flags) }
    function start() { return n.dac_start() }
    function stop() { return n.dac_stop() }
    function addbuffer(b) { return n.dac_addbuffer(b) }
})();
"""

_SAMPLER = r"""
h.sampler <- (class {
    function configure(pins, rate, buffers, callback, flags = 0) {
        pins = typeof pins == "array" ? pins.map(oid) : oid(pins);
        return n.sampler_configure(pins, rate, buffers, callback, flags);
    }
    function start() { return n.sampler_start() }
    function stop() { return n.sampler_stop() }
    function reset() { return n.sampler_reset() }
    function getsampleratehz() { return n.sampler_getsampleratehz() }
})();
"""

_BLUETOOTH = r"""
local BLE = class {
    function startscan(...) { vargv.insert(0, this); return n.ble_startscan.acall(vargv) }
    function stopscan() { return n.ble_stopscan() }
    function setscanparams(...) { return null }
    function setscanfilter(...) { return null }
    function startadvertise(...) { vargv.insert(0, this); return n.ble_startadvertise.acall(vargv) }
    function stopadvertise() { return n.ble_stopadvertise() }
    function onconnect(callback) { return n.ble_onconnect(callback) }
    function serve(...) { return null }
    function close() { return n.ble_close() }
};
h.bluetooth <- class {
    static function open(...) {
        if (vargv.len() > 0) vargv[0] = oid(vargv[0]);
        vargv.insert(0, this);
        n.ble_open.acall(vargv);
        return BLE();
    }
    static function setsecurity(...) { return null }
};
"""

_USB = r"""
h.usb <- (class {
    function configure(callback) { return n.usb_configure(callback) }
    function disable() { return n.usb_disable() }
    function openendpoint(...) { vargv.insert(0, this); return n.usb_transfer.acall(vargv) }
    function controltransfer(...) { vargv.insert(0, this); return n.usb_transfer.acall(vargv) }
    function generaltransfer(...) { vargv.insert(0, this); return n.usb_transfer.acall(vargv) }
})();
"""

_SOURCES: dict[str, str] = {}


def builder_source(mux: ModuleHardware) -> str:
    """The Squirrel that makes ``mux``'s objects in a VM whose ``hardware._impsim`` holds the
    natives (run once per VM, right after the install)."""
    src = _SOURCES.get(mux.name)
    if src is None:
        parts = [_HEADER]
        for kind, base, names in (("pin", PIN, [p.name for p in mux.pins]), ("i2c", I2C, mux.i2c),
                                  ("spi", SPI, mux.spi), ("uart", UART, [u.name for u in mux.uart]),
                                  ("pwmpair", PWMPAIR, mux.pwmpair)):
            if names:
                quoted = ", ".join(f'"{k}"' for k in names)
                parts.append(f"make({_class_source(kind)}, [{quoted}], {base});")
        if mux.fixedfrequencydac:
            parts.append(_DAC)
        if mux.sampler:
            parts.append(_SAMPLER)
        if mux.bluetooth:
            parts.append(_BLUETOOTH)
        if mux.usb:
            parts.append(_USB)
        src = _SOURCES[mux.name] = "\n".join(parts)
    return src


def install_objects(host: Any) -> None:
    """Make the module's hardware objects in ``host.vm`` (its natives already installed)."""
    host.vm.compile(builder_source(mux_of(host)), "impsim:hardware")()


def mux_of(host: Any) -> ModuleHardware:
    return module_hardware(host.owner.profile.name)


# --- the Python side: one boot's hardware -----------------------------------------------------------

class HardwareRun:
    """The imp's side of the hardware for one boot (what configure() set up, FIFOs, callbacks).
    Made on first use by :func:`run_of`; it dies with the run, as the imp's pin and bus
    settings do when Squirrel restarts."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.env = host.env
        self.clock = host.clock
        self.mux = mux_of(host)
        self.board = host.owner.board
        self.config = self.board.config
        self.record_io = self.config.record_io
        self.pins: dict[int, Any] = {}
        self.buses: dict[int, Any] = {}
        self.extras: dict[str, Any] = {}

    def record(self, kind: str, **data: Any) -> None:
        if self.record_io:
            self.board.record(kind, **data)

    def schedule(self, delay_us: int, fn: Any, *args: Any) -> Any:
        """Run Squirrel ``fn(*args)`` as its own event, if this run is still alive then."""
        return self.host.schedule(delay_us, fn, *args)

    def spend(self, us: int) -> None:
        """A bus transfer that takes ``us`` of virtual time (only with bus timing on): the VM
        waits, the agent and the rest of the world run on."""
        if us > 0 and self.config.bus_timing:
            self.host.block_until(self.clock.now_us + us)

    def wake_pins(self) -> frozenset[str]:
        """The pins configured as DIGITAL_IN_WAKEUP now."""
        from .. import constants as C

        return frozenset(p.name for p in self.pins.values() if p.mode == C.DIGITAL_IN_WAKEUP)

    def end(self) -> None:
        """The run ended: detach from the board (input listeners, UART delivery), and leave on
        it the wake-up inputs that were configured, which stay armed through a deep sleep."""
        self.board.wake_armed = self.wake_pins()
        for state in self.pins.values():
            state.detach()
        for state in self.extras.values():
            stop = getattr(state, "end", None)
            if stop is not None:
                stop()


def run_of(host: Any) -> HardwareRun:
    run = host.hardware
    if run is None:
        run = host.hardware = HardwareRun(host)
    return run
