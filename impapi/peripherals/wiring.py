"""Wiring files: which models sit on which buses and pins of a simulated board (docs/wiring.md).

A wiring file is TOML with four kinds of entries, each an array of tables::

    [[i2c]]                      # a device on an I2C bus
    bus = "i2c89"
    model = "hts221"             # a chip model, "registers" (a register map), or MODULE:CLASS
    temperature = { wave = "sine", period = "1d", mean = 20, amplitude = 4 }

    [[spi]]                      # a device on an SPI bus, selected by a chip-select pin
    bus = "spi257"
    cs = "pin8"
    model = "lis3dh"

    [[uart]]                     # the other end of a UART: a script, a loopback or MODULE:NAME
    bus = "uart57"
    step = [ { expect = "AT\\r", answer = "OK\\r\\n", delay = "20ms" } ]

    [[pin]]                      # what drives an input from the start
    pin = "pin1"
    level = 1                    # or analog = 0.25 (a fraction of the supply), or volts = 1.2

:class:`Wiring` is the file read and checked (every signal, CSV file and Python reference is
resolved when it is read, so a mistake is an error before anything runs); :meth:`Wiring.attach`
builds fresh models on a device's board, checking the bus and pin names against the module. The
same wiring attached twice gives two independent sets of models: each simulation starts from the
file's state.
"""

from __future__ import annotations

import difflib
import inspect
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..durations import parse_duration
from .registers import RegisterDevice
from .signals import SignalError, base_dir, load_object, signal
from .uart import Loopback, Responder, Script, Step

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

__all__ = ["Wiring", "WiringError"]

_SECTIONS = ("i2c", "spi", "uart", "pin")
_REGISTER_KEYS = ("auto_increment", "fill", "register", "spi_read_bit", "spi_increment_bit")
_STEP_KEYS = ("expect", "expect_hex", "answer", "answer_hex", "send", "send_hex", "delay")


class WiringError(ValueError):
    """A wiring that cannot be read or attached; the message names the file, the entry and
    what to do."""


@dataclass(frozen=True)
class Entry:
    """One model or input of a wiring: where it goes and how to make it."""

    kind: str  # "i2c" | "spi" | "uart" | "pin"
    where: str  # for messages: "board.toml: [[i2c]] 1 (hts221)"
    bus: str | None = None  # the bus, or the pin for "pin"
    address: int | None = None  # I2C: the 8-bit address; None: any address
    cs: str | None = None  # SPI: the chip-select pin
    name: str | None = None
    make: Callable[[], Any] | None = None  # builds the model (a fresh one each time)
    level: int | None = None  # pin: the driven level
    analog: Any = None  # pin: a signal, in the unit of `unit`
    unit: str = "fraction"  # pin analog: "fraction" of the supply or "volts"
    pins: dict[str, str] = field(default_factory=dict, hash=False)  # the model's output pins -> the imp's pins
    table: dict = field(default_factory=dict, compare=False, repr=False)


class Wiring:
    """A wiring read from a file (:meth:`load`) or text (:meth:`loads`)."""

    def __init__(self, entries: tuple[Entry, ...], path: str | None = None) -> None:
        self.entries = entries
        self.path = path  # the file it came from (absolute), None for text

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Wiring":
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise WiringError(f"{path}: no such wiring file") from None
        except UnicodeDecodeError as e:
            raise WiringError(f"{path}: not UTF-8 text (byte {e.start})") from None
        except OSError as e:
            raise WiringError(f"{path}: {e.strerror}") from None
        return cls.loads(text, base_dir=path.parent, name=str(path), path=os.path.abspath(path))

    @classmethod
    def loads(cls, text: str, base_dir: str | os.PathLike | None = None, name: str = "<wiring>",
              path: str | None = None) -> "Wiring":
        if tomllib is None:
            raise WiringError("reading wiring files needs Python 3.11 or later (or: pip install tomli)")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise WiringError(f"{name}: invalid TOML: {e}") from None
        return cls(_parse(doc, name, Path(base_dir) if base_dir is not None else Path.cwd()), path)

    def attach(self, board: Any, module: Any, supply_voltage: float = 3.3) -> dict[str, Any]:
        """Build this wiring's models on ``board`` (a :class:`~impapi.peripherals.Board`) of a
        device whose hardware is ``module`` (:class:`~impapi.pinmux.ModuleHardware`). Returns the
        models by name."""
        for e in self.entries:
            _check_names(e, module)
        made: dict[str, Any] = {}
        for e in self.entries:
            if e.kind == "pin":
                if e.level is not None:
                    board.drive(e.bus, e.level)
                if e.analog is not None:
                    source = e.analog
                    board.analog(e.bus, source if e.unit == "fraction"
                                 else (lambda t, s=source: float(s(t)) / supply_voltage))
                continue
            assert e.make is not None
            if e.kind == "i2c" and e.address is None:
                board.attach_i2c(e.bus, None, lambda address, make=e.make: make())
                continue
            model = e.make()
            if e.kind == "i2c":
                board.attach_i2c(e.bus, e.address, model, name=e.name, pins=e.pins)
            elif e.kind == "spi":
                board.attach_spi(e.bus, model, cs=e.cs, name=e.name, pins=e.pins)
            else:
                board.attach_uart(e.bus, model, name=e.name)
            made[e.name or ""] = model
        return made

    def __repr__(self) -> str:
        return f"<Wiring {self.path or 'from text'}: {len(self.entries)} entries>"


# --- reading ---------------------------------------------------------------------------------------


def _parse(doc: dict, name: str, base: Path) -> tuple[Entry, ...]:
    for key in doc:
        if key not in _SECTIONS:
            close = difflib.get_close_matches(key, _SECTIONS, n=1)
            hint = f" (did you mean [[{close[0]}]]?)" if close else ""
            raise WiringError(f"{name}: unknown section {key!r}{hint}: a wiring file has [[i2c]], [[spi]], "
                              "[[uart]] and [[pin]] entries")
    entries: list[Entry] = []
    names: dict[str, str] = {}
    token = base_dir.set(base)
    try:
        for kind in _SECTIONS:
            tables = doc.get(kind, [])
            if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
                raise WiringError(f"{name}: {kind!r} must be an array of tables: write each entry under [[{kind}]]")
            for i, table in enumerate(tables, 1):
                label = table.get("model") if isinstance(table.get("model"), str) else None
                where = f"{name}: [[{kind}]] {i}" + (f" ({label})" if label else "")
                try:
                    entry = _ENTRY[kind](table, where)
                except SignalError as e:
                    raise WiringError(str(e) if str(e).startswith(where) else f"{where}: {e}") from None
                if entry.name is not None and "name" in table:
                    if entry.name in names:
                        raise WiringError(f"{where}: the name {entry.name!r} is taken by {names[entry.name]}: "
                                          "give each model its own name")
                    names[entry.name] = where
                entries.append(entry)
    finally:
        base_dir.reset(token)
    return tuple(_default_names(entries, names))


def _default_names(entries: list[Entry], taken: dict[str, str]) -> list[Entry]:
    """An entry without a name is called after its model ("hts221"); when two would share one,
    or a given name has it, each says where it is ("registers@i2c89:0x90")."""
    defaulted = [e.name for e in entries if e.name is not None and "name" not in e.table]
    out = []
    for e in entries:
        if e.name is None or "name" in e.table or (defaulted.count(e.name) == 1 and e.name not in taken):
            out.append(e)
            continue
        where = e.bus if e.kind == "uart" else \
            f"{e.bus}:0x{e.address:02X}" if e.kind == "i2c" and e.address is not None else f"{e.bus}:{e.cs or 'cs'}"
        out.append(replace(e, name=f"{e.name}@{where}"))
    return out


def _keys(table: dict, where: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise WiringError(f"{where}: unknown field {key!r}{hint}: this entry takes {', '.join(allowed)}")


def _text(table: dict, key: str, where: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise WiringError(f"{where}: {key} is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise WiringError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value.strip()


def _int(value: Any, where: str, what: str, lo: int = 0, hi: int = 0xFF) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise WiringError(f"{where}: {what} must be an integer from {lo} to {hi} (0x{hi:X}), not {value!r}")
    return value


def _model(table: dict, where: str, kind: str,
           fixed: tuple[str, ...]) -> tuple[Callable[[], Any], str, int | None, dict[str, str]]:
    """(make, the model's name, its default I2C address, its output pins wired to the imp's) for
    an [[i2c]] or [[spi]] entry."""
    from .chips import CHIPS

    model = table.get("model", "registers" if "register" in table or kind == "i2c" else None)
    if model is None:
        raise WiringError(f"{where}: say what is attached: model = \"lis3dh\", model = \"registers\" with "
                          "[[spi.register]] entries, or model = \"module:Class\"")
    if not isinstance(model, str) or not model:
        raise WiringError(f"{where}: model must be a string, not {model!r}")
    params = {k: v for k, v in table.items() if k not in fixed}
    if model == "registers":
        _keys(table, where, fixed + _REGISTER_KEYS)
        return _register_map(params, where), "registers", None, {}
    if model in CHIPS:
        cls, buses, address = CHIPS[model]
        if kind not in buses:
            raise WiringError(f"{where}: the {model} model is not an {kind.upper()} device")
        outputs = tuple(cls.OUTPUT_PINS)
        accepted = tuple(p for p in inspect.signature(cls).parameters if p != "name")
        _keys(table, where, fixed + accepted + outputs)
        pins = _output_pins(params, outputs, where)
        signals = {k: signal(v, f"{where}, {k}") for k, v in params.items()}
        return (lambda: cls(**signals)), model, address, pins
    if ":" not in model:
        close = difflib.get_close_matches(model, list(CHIPS) + ["registers"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise WiringError(f"{where}: unknown model {model!r}{hint}: the models are {', '.join(sorted(CHIPS))}, "
                          "registers, or a Python class as module:Class")
    cls = load_object(model, where)
    if not callable(cls):
        raise WiringError(f"{where}: {model} is not a class")
    pins = _output_pins(params, tuple(getattr(cls, "OUTPUT_PINS", ())), where)
    return _python(cls, params, where, kind), model.split(":")[1], None, pins


def _output_pins(params: dict, outputs: tuple[str, ...], where: str) -> dict[str, str]:
    """Takes the model's output pins (``drdy = "pin1"``) out of ``params``."""
    pins = {}
    for key in outputs:
        if key in params:
            value = params.pop(key)
            if not isinstance(value, str) or not value.strip():
                raise WiringError(f"{where}: {key} is the imp pin the chip's {key.upper()} output is wired to, "
                                  f"such as \"pin1\", not {value!r}")
            pins[key] = value.strip()
    return pins


_PROTOCOLS = {"i2c": ("i2c_write", "i2c_read"), "spi": ("spi_select", "spi_transfer"),
              "uart": ("uart_attached", "uart_receive")}


def _python(cls: Any, params: dict, where: str, kind: str) -> Callable[[], Any]:
    """A Python class made with the entry's other fields as keyword arguments (TOML values as
    they are; :func:`impapi.peripherals.signal` turns a signal description into a function)."""
    try:
        inspect.signature(cls).bind(**params)
    except TypeError as e:
        raise WiringError(f"{where}: {getattr(cls, '__name__', cls)} does not take these fields: {e}") from None
    except ValueError:  # no signature to check (a builtin): let the call say
        pass

    def make() -> Any:
        try:
            return cls(**params)
        except Exception as e:
            raise WiringError(f"{where}: making {getattr(cls, '__name__', cls)} failed: {type(e).__name__}: {e}") from e

    missing = [m for m in _PROTOCOLS[kind] if not callable(getattr(make(), m, None))]  # fail now, not later
    if missing:
        raise WiringError(f"{where}: {getattr(cls, '__name__', cls)} is not an {kind.upper()} model: it has no "
                          f"{', '.join(missing)} (see impapi.peripherals.base)")
    return make


def _register_map(params: dict, where: str) -> Callable[[], RegisterDevice]:
    options: dict[str, Any] = {}
    inc = params.get("auto_increment", True)
    if not isinstance(inc, bool):
        inc = _int(inc, where, "auto_increment (true, false, or the address bit that asks for it)")
    options["auto_increment"] = inc
    for key in ("fill", "spi_read_bit", "spi_increment_bit"):
        if key in params:
            options[key] = _int(params[key], where, key)
    registers = params.get("register", [])
    if not isinstance(registers, list) or not all(isinstance(r, dict) for r in registers):
        raise WiringError(f"{where}: register is a list of tables: write each under [[i2c.register]] (or "
                          "[[spi.register]]), or register = [ { at = 0x0F, value = 0x33 }, ... ]")
    plan = []
    for n, reg in enumerate(registers, 1):
        w = f"{where}, register {n}"
        _keys(reg, w, ("at", "value", "writable", "readonly", "width", "order", "signed", "scale", "offset"))
        if "at" not in reg:
            raise WiringError(f"{w}: at (the register's address) is missing")
        at = _int(reg["at"], w, "at")
        value = reg.get("value", 0)
        follows = not (isinstance(value, int) and not isinstance(value, bool)) or any(
            k in reg for k in ("width", "scale", "offset", "signed", "order"))
        if follows:
            width = _int(reg.get("width", 1), w, "width", 1, 4)
            if at + width > 256:
                raise WiringError(f"{w}: {width} bytes from 0x{at:02X} go past register 0xFF")
            order = reg.get("order", "little")
            if order not in ("little", "big"):
                raise WiringError(f"{w}: order is \"little\" or \"big\", not {order!r}")
            signed = reg.get("signed", False)
            if not isinstance(signed, bool):
                raise WiringError(f"{w}: signed is true or false, not {signed!r}")
            nums = {}
            for key, default in (("scale", 1.0), ("offset", 0.0)):
                v = reg.get(key, default)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise WiringError(f"{w}: {key} must be a number, not {v!r}")
                nums[key] = float(v)
            if "writable" in reg or "readonly" in reg:
                raise WiringError(f"{w}: a register that follows a value is read-only: drop writable/readonly")
            plan.append(("follow", at, signal(value, w), dict(width=width, order=order, signed=signed, **nums)))
        else:
            _int(value, w, "value")
            writable = reg.get("writable", 0xFF)
            if "readonly" in reg:
                if not isinstance(reg["readonly"], bool):
                    raise WiringError(f"{w}: readonly is true or false, not {reg['readonly']!r}")
                if "writable" in reg:
                    raise WiringError(f"{w}: give writable (a bit mask) or readonly, not both")
                writable = 0 if reg["readonly"] else 0xFF
            plan.append(("define", at, value, {"writable": _int(writable, w, "writable")}))

    def make() -> RegisterDevice:
        device = RegisterDevice(**options)
        for how, at, value, extra in plan:
            if how == "define":
                device.define(at, value, **extra)
            else:
                device.follow(at, value, **extra)
        return device

    return make


def _i2c(table: dict, where: str) -> Entry:
    fixed = ("bus", "address", "address7", "model", "name")
    bus = _text(table, "bus", where)
    if "address" in table and "address7" in table:
        raise WiringError(f"{where}: give address (8-bit, as the imp API writes it) or address7 (the "
                          "datasheet's 7-bit address), not both")
    make, label, default, pins = _model(table, where, "i2c", fixed)
    if "address7" in table:
        address = _int(table["address7"], where, "address7", 0, 0x7F) << 1
    elif "address" in table:
        raw = table["address"]
        if raw == "any":
            address = None
        else:
            address = _int(raw, where, "address (the 8-bit address as the imp API writes it, or \"any\")")
            if address & 1:
                raise WiringError(f"{where}: address 0x{address:02X} is odd: the imp API's I2C addresses are the "
                                  f"7-bit address shifted left (0x{address & 0xFE:02X}); or write address7 = "
                                  f"0x{address >> 1:02X}")
    elif default is not None:
        address = default
    else:
        raise WiringError(f"{where}: address is missing (the 8-bit address as the imp API writes it, e.g. "
                          "address = 0xBE, or address7 = 0x5F)")
    name = _text(table, "name", where, required=False) or (None if address is None else label)
    if pins and address is None:
        raise WiringError(f"{where}: a model at any address cannot have its output pins wired")
    return Entry("i2c", where, bus=bus, address=address, name=name, make=make, pins=pins, table=table)


def _spi(table: dict, where: str) -> Entry:
    fixed = ("bus", "cs", "model", "name")
    bus = _text(table, "bus", where)
    cs = _text(table, "cs", where, required=False)
    make, label, _, pins = _model(table, where, "spi", fixed)
    return Entry("spi", where, bus=bus, cs=cs, name=_text(table, "name", where, required=False) or label,
                 make=make, pins=pins, table=table)


def _bytes(step: dict, key: str, where: str) -> bytes | None:
    text, hexed = step.get(key), step.get(key + "_hex")
    if text is not None and hexed is not None:
        raise WiringError(f"{where}: give {key} (text) or {key}_hex, not both")
    if text is not None:
        if not isinstance(text, str):
            raise WiringError(f"{where}: {key} is text (UTF-8), not {text!r}; for raw bytes write {key}_hex")
        return text.encode("utf-8")
    if hexed is not None:
        try:
            return bytes.fromhex(str(hexed))
        except ValueError:
            raise WiringError(f"{where}: {key}_hex is hexadecimal bytes such as \"0d 0a\", not {hexed!r}") from None
    return None


def _uart(table: dict, where: str) -> Entry:
    fixed = ("bus", "model", "name", "loopback", "step", "repeat", "delay")
    bus = _text(table, "bus", where)
    name = _text(table, "name", where, required=False)
    ways = [k for k in ("loopback", "step", "model") if k in table]
    if len(ways) != 1:
        raise WiringError(f"{where}: say what is at the other end, one of: loopback = true, step = [...] (a "
                          "script), model = \"module:Class\" or \"module:function\"")
    way = ways[0]
    if way == "loopback":
        _keys(table, where, ("bus", "name", "loopback"))
        if table["loopback"] is not True:
            raise WiringError(f"{where}: loopback = true (remove the entry for no loopback)")
        return Entry("uart", where, bus=bus, name=name or "loopback", make=Loopback, table=table)
    if way == "step":
        _keys(table, where, ("bus", "name", "step", "repeat"))
        raw = table["step"]
        if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
            raise WiringError(f"{where}: step is a non-empty list of tables ([[uart.step]] entries)")
        steps = []
        for n, s in enumerate(raw, 1):
            w = f"{where}, step {n}"
            _keys(s, w, _STEP_KEYS)
            expect = _bytes(s, "expect", w)
            answer, send = _bytes(s, "answer", w), _bytes(s, "send", w)
            if answer is not None and send is not None:
                raise WiringError(f"{w}: give answer or send, not both (answer after expect, send without)")
            if expect is None and answer is not None:
                raise WiringError(f"{w}: answer follows an expect; a step that expects nothing sends: write send")
            if expect is not None and not expect:
                raise WiringError(f"{w}: expect is empty")
            try:
                delay = parse_duration(s.get("delay", 0))
            except (TypeError, ValueError) as e:
                raise WiringError(f"{w}: delay: {e}") from None
            steps.append(Step(expect, answer or send or b"", delay))
        repeat = table.get("repeat", False)
        if not isinstance(repeat, bool):
            raise WiringError(f"{where}: repeat is true or false, not {repeat!r}")
        try:
            Script(steps, repeat)
        except ValueError as e:
            raise WiringError(f"{where}: {e}") from None
        return Entry("uart", where, bus=bus, name=name or "script", make=lambda: Script(steps, repeat), table=table)
    _keys(table, where, fixed)
    params = {k: v for k, v in table.items() if k not in ("bus", "model", "name")}
    obj = load_object(table["model"], where)
    label = table["model"].split(":")[1]
    if inspect.isclass(obj):
        return Entry("uart", where, bus=bus, name=name or label, make=_python(obj, params, where, "uart"), table=table)
    if not callable(obj):
        raise WiringError(f"{where}: {table['model']} is neither a class nor a function")
    _keys(table, where, ("bus", "model", "name", "delay"))
    try:
        delay = parse_duration(table.get("delay", 0))
    except (TypeError, ValueError) as e:
        raise WiringError(f"{where}: delay: {e}") from None
    return Entry("uart", where, bus=bus, name=name or label, make=lambda: Responder(obj, delay), table=table)


def _pin(table: dict, where: str) -> Entry:
    _keys(table, where, ("pin", "level", "analog", "volts"))
    pin = _text(table, "pin", where)
    level = table.get("level")
    if level is not None and (isinstance(level, bool) or level not in (0, 1)):
        raise WiringError(f"{where}: level is 0 or 1, not {level!r}")
    if "analog" in table and "volts" in table:
        raise WiringError(f"{where}: give analog (a fraction of the supply) or volts, not both")
    analog, unit = None, "fraction"
    if "analog" in table:
        analog = signal(table["analog"], f"{where}, analog")
    elif "volts" in table:
        analog, unit = signal(table["volts"], f"{where}, volts"), "volts"
    if level is None and analog is None:
        raise WiringError(f"{where}: say what drives {pin}: level = 0 or 1, analog = 0.25 or volts = 1.2")
    return Entry("pin", where, bus=pin, level=level, analog=analog, unit=unit, table=table)


_ENTRY: dict[str, Callable[[dict, str], Entry]] = {"i2c": _i2c, "spi": _spi, "uart": _uart, "pin": _pin}


# --- checking against a module ---------------------------------------------------------------------


def _check_names(e: Entry, module: Any) -> None:
    def bad(what: str, value: str, have: list[str]) -> WiringError:
        close = difflib.get_close_matches(value, have, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        plural = what + ("es" if what.endswith("s") else "s")
        return WiringError(f"{e.where}: the {module.name} has no {what} {value!r}{hint}; its {plural}: "
                           f"{', '.join(have) or 'none'}")

    pins = [p.name for p in module.pins]
    if e.kind == "pin":
        if e.bus not in pins:
            raise bad("pin", e.bus, pins)
        return
    buses = {"i2c": list(module.i2c), "spi": list(module.spi), "uart": [u.name for u in module.uart]}[e.kind]
    if e.bus not in buses:
        raise bad(f"{e.kind.upper()} bus" if e.kind != "uart" else "UART", e.bus, buses)
    if e.cs is not None and e.cs not in pins:
        raise bad("pin", e.cs, pins)
    for pin in e.pins.values():
        if pin not in pins:
            raise bad("pin", pin, pins)
