"""Scenarios: what the cloud and the world do to a device, at given virtual times.

(Over 1,000 lines on purpose: each event kind's argument type, CLI parser, TOML reader and
writer, and its application to a simulation sit side by side, so a kind is added or changed in
one place and the three spellings cannot drift apart.)

One vocabulary and one parser serve the command line (``--at TIME:EVENT[=ARG]``, repeatable)
and TOML scenario files. TIME is an offset from the start of the run, a duration as
:func:`impapi.durations.parse_duration` reads it (``90s``, ``30m``, ``1d6h``, or plain seconds).

Events (CLI spelling, then the TOML ``[[event]]`` keys besides ``at`` and ``type``):

- ``impos=VERSION``: a new impOS release (``43.1``) reaches the device's group.
  TOML: ``version = "43.1"`` (a string: a TOML number would read 43.10 as 43.1).
- ``deploy[=DEVICE.nut][,AGENT.nut]``: "build and run", a polite deployment.
  TOML: ``device = "v2.device.nut"``, ``agent = "v2.agent.nut"``, both optional. With no files it
  redeploys the code the cloud has (a new version of the same code: enough to exercise an
  update); agent code only: ``deploy=,v2.agent.nut``.
- ``force-deploy[=DEVICE.nut][,AGENT.nut]``: "build and force restart". TOML: as ``deploy``.
- ``power-cycle``, ``power-off``, ``power-on``: the power, cut and restored, cut, restored.
  TOML: no other keys.
- ``offline=DURATION``: a network outage that long (``45m``). TOML: ``duration = "45m"``.
- ``move-group=NAME``: the device moves to another device group (a forced deployment).
  TOML: ``group = "production"``.
- ``message=NAME[:JSON]``: the agent sends the device a message (``message=led:{"on":true}``).
  TOML: ``name = "led"``, optionally ``data = <any TOML value>`` or ``json = '<JSON text>'``
  (TOML has no null: ``json = 'null'``).
- ``http=METHOD PATH[ BODY]``: an HTTP request to the agent's URL; the body is everything after
  the second space. TOML: ``method = "POST"`` (default GET), ``path = "/led"``, optionally
  ``body = "on"``.
- ``pin=PIN:LEVEL``: something outside drives input PIN (``pin1``, ``pinA``) to LEVEL from now
  on: ``1``, ``0``, or ``float`` (released). ``pin=PIN:pulse:DURATION`` drives it high for
  DURATION (a button press, ``pin=pinW:pulse:50ms``), then back to what drove it before;
  ``pin=PIN:0:DURATION`` is a low pulse. TOML: ``pin = "pinW"``, ``level = 1`` (or ``0``,
  ``"float"``), optionally ``pulse = "50ms"``.
- ``analog=PIN:VALUE``: the voltage on analog input PIN from now on, as a fraction of the supply
  (0 to 1). TOML: ``pin = "pin2"``, ``value = 0.25``.
- ``advance``: nothing happens but a line in the log (a marker). TOML: no other keys.

``at`` in TOML is a duration string (``"1d6h"``) or a number of seconds.

A file's ``[[http]]`` tables are routes that answer the agent's outgoing HTTP requests
(:func:`impapi.internet.route_from_toml`; ``Scenario.http``, ``Scenario.routes()``).

A scenario file (:func:`template` gives a complete one, with every field and event type)::

    [scenario]
    duration = "2d"              # how long to run (optional; the runner's default otherwise)
    device = "app.device.nut"    # optional: the code to start with
    agent = "app.agent.nut"      # optional
    imp = "imp003"               # optional: the imp module
    seed = 0                     # optional
    tie_seed = 1234              # optional: same-instant order (what `impsim fuzz` found; default FIFO)
    wiring = "board.toml"        # optional: the models on the device's pins and buses (docs/wiring.md)

    [[event]]
    at = "30m"
    type = "impos"
    version = "43.1"

    [[event]]
    at = "3h"
    type = "deploy"
    device = "v2.device.nut"

    [[event]]
    at = "8h"
    type = "offline"
    duration = "45m"

Relative file paths in a file resolve against the file's directory (on the command line, against
the working directory); the files must exist when the scenario is read, and deployed code is read
when the scenario is applied to a simulation, so a missing file is an error before the run.
Events are kept in time order; events at the same time happen in the order written.

Python: :func:`parse_at` and :func:`load_toml` make :class:`ScenarioEvent` and :class:`Scenario`
values (frozen; they can also be built directly, with the same validation);
:meth:`Scenario.to_toml` / :meth:`Scenario.save` and :meth:`Scenario.to_cli_args` write them back
in forms that parse to equal values; :func:`apply` schedules them on a simulation.
:meth:`impapi.Simulation.play` replays one from the start, exactly as ``impsim run`` does, and
returns an :class:`impapi.replay.Replay`.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

from .builder import BuildError, LoadOptions, build_app
from .durations import format_duration, parse_duration
from .internet import Route, Routes, route_from_toml, route_to_toml
from .inputs import InputError, read_text
from .profiles import PROFILES, parse_impos

if TYPE_CHECKING:
    from .clock import Clock, Timer
    from .cloud import Cloud
    from .log import Log

__all__ = [
    "EVENTS",
    "Deploy",
    "Analog",
    "Http",
    "Message",
    "Pin",
    "Scenario",
    "ScenarioError",
    "ScenarioEvent",
    "World",
    "apply",
    "load_toml",
    "loads_toml",
    "parse_at",
    "parse_event",
    "read_code",
    "template",
]


_METHOD = re.compile(r"[A-Za-z]+")
_PIN = re.compile(r"pin[0-9A-Z]+")


class ScenarioError(ValueError):
    """A scenario that cannot be read or applied; the message says what is valid."""


# --- argument types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deploy:
    """Code to deploy: paths (made absolute), or None for "the code the cloud already has"."""

    device: str | None = None
    agent: str | None = None

    def __post_init__(self) -> None:
        for what in ("device", "agent"):
            value = getattr(self, what)
            if value is not None:
                if not isinstance(value, (str, os.PathLike)) or not str(value):
                    raise ScenarioError(f"deploy: the {what} code must be a file path, not {value!r}")
                other = "agent" if what == "device" else "device"
                if str(value).endswith(f".{other}.nut"):
                    raise ScenarioError(f"deploy: {value} looks like {other} code, not {what} code")
                object.__setattr__(self, what, os.path.abspath(value))


@dataclass(frozen=True)
class Message:
    """A message from the agent to the device. ``json`` is canonical JSON text, or None for no data
    (Squirrel receives null); ``data`` is its value."""

    name: str
    json: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip() or ":" in self.name:
            raise ScenarioError(f"message: bad name {self.name!r}: a message name is not empty, has no colon "
                                "and no surrounding spaces")
        if self.json is not None:
            try:
                value = _json_value(self.json)
            except (TypeError, ValueError) as e:
                raise ScenarioError(f"message {self.name!r}: the data is not JSON ({e})") from None
            object.__setattr__(self, "json", _canonical_json(value, "message data"))

    @property
    def data(self) -> Any:
        return None if self.json is None else json.loads(self.json)

    @classmethod
    def of(cls, name: str, data: Any = None) -> Message:
        """A message carrying the Python value ``data`` (JSON-like: dict, list, str, number, bool)."""
        return cls(name, None if data is None else _canonical_json(data, "message data"))


@dataclass(frozen=True)
class Http:
    """An HTTP request to the agent (the method is kept upper-case)."""

    method: str
    path: str
    body: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not _METHOD.fullmatch(self.method):
            raise ScenarioError(f"http: bad method {self.method!r}: use GET, POST, PUT, DELETE, ...")
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.path, str) or not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise ScenarioError(f"http: bad path {self.path!r}: a path starts with / and has no spaces, "
                                "e.g. /status?x=1")
        if not isinstance(self.body, str):
            raise ScenarioError(f"http: the body must be a str, not {type(self.body).__name__}")


@dataclass(frozen=True)
class Pin:
    """An input pin driven from outside: to ``level`` (0, 1; None: released), for ``pulse_us``
    only when set (then back to what drove it before)."""

    pin: str
    level: int | None = 1
    pulse_us: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pin, str) or not _PIN.fullmatch(self.pin):
            raise ScenarioError(f"pin: bad pin name {self.pin!r}: write the hardware name, such as pin1 or pinW")
        if self.level is not None and (isinstance(self.level, bool) or self.level not in (0, 1)):
            raise ScenarioError(f"pin {self.pin}: the level is 0, 1 or float (released), not {self.level!r}")
        if self.pulse_us is not None:
            if isinstance(self.pulse_us, bool) or not isinstance(self.pulse_us, int) or self.pulse_us <= 0:
                raise ScenarioError(f"pin {self.pin}: a pulse lasts longer than 0s, not {self.pulse_us!r}us")
            if self.level is None:
                raise ScenarioError(f"pin {self.pin}: a pulse drives the pin to 0 or 1, not float")

    @property
    def text(self) -> str:
        """The CLI spelling after ``pin=``."""
        if self.pulse_us is not None:
            if self.level == 1:
                return f"{self.pin}:pulse:{format_duration(self.pulse_us)}"
            return f"{self.pin}:{self.level}:{format_duration(self.pulse_us)}"
        return f"{self.pin}:{'float' if self.level is None else self.level}"


@dataclass(frozen=True)
class Analog:
    """The voltage on an analog input, as a fraction of the supply."""

    pin: str
    value: float

    def __post_init__(self) -> None:
        if not isinstance(self.pin, str) or not _PIN.fullmatch(self.pin):
            raise ScenarioError(f"analog: bad pin name {self.pin!r}: write the hardware name, such as pin2")
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ScenarioError(f"analog {self.pin}: the value is a fraction of the supply from 0 to 1, not {value!r}")
        object.__setattr__(self, "value", float(value))


Arg = None | str | int | Deploy | Message | Http | Pin | Analog


@dataclass(frozen=True)
class _Kind:
    name: str
    usage: str  # the CLI form
    takes: str  # what the argument is, for error messages
    toml_keys: tuple[str, ...]
    description: str


_KINDS = (
    _Kind("impos", "impos=VERSION", "an impOS version such as 43.1", ("version",),
          "a new impOS release reaches the device"),
    _Kind("deploy", "deploy[=DEVICE.nut][,AGENT.nut]",
          "the device code file, optionally followed by a comma and the agent code file",
          ("device", "agent"), '"build and run": a polite deployment'),
    _Kind("force-deploy", "force-deploy[=DEVICE.nut][,AGENT.nut]",
          "the device code file, optionally followed by a comma and the agent code file",
          ("device", "agent"), '"build and force restart"'),
    _Kind("power-cycle", "power-cycle", "no argument", (), "power off and on again"),
    _Kind("power-off", "power-off", "no argument", (), "cut the power"),
    _Kind("power-on", "power-on", "no argument", (), "restore the power"),
    _Kind("offline", "offline=DURATION", "how long the network is down, such as 45m", ("duration",),
          "a network outage"),
    _Kind("move-group", "move-group=NAME", "the name of a device group", ("group",),
          "move the device to another device group"),
    _Kind("message", "message=NAME[:JSON]",
          "a message name, optionally followed by a colon and JSON data",
          ("name", "data", "json"), "the agent sends the device a message"),
    _Kind("http", "http=METHOD PATH[ BODY]", "an HTTP method and a path, optionally followed by a body",
          ("method", "path", "body"), "an HTTP request to the agent"),
    _Kind("pin", "pin=PIN:LEVEL | pin=PIN:pulse:DURATION",
          "a pin and a level (1, 0 or float), or pulse and a duration, such as pinW:1 or pinW:pulse:50ms",
          ("pin", "level", "pulse"), "an input pin driven from outside (a button, a sensor's interrupt line)"),
    _Kind("analog", "analog=PIN:VALUE", "a pin and a fraction of the supply, such as pin2:0.25",
          ("pin", "value"), "the voltage on an analog input"),
    _Kind("advance", "advance", "no argument", (), "nothing (a marker in the log)"),
)
EVENTS: dict[str, _Kind] = {k.name: k for k in _KINDS}
_NO_ARG = frozenset(k.name for k in _KINDS if k.takes == "no argument")
_AT_HINT = "use TIME:EVENT[=ARG], e.g. 30m:impos=43.1, 3h:deploy=v2.device.nut or 5h:power-cycle"


def _valid_events() -> str:
    return ", ".join(k.usage for k in _KINDS)


def _unknown(kind: str) -> str:
    close = difflib.get_close_matches(kind, EVENTS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown event {kind!r}{hint}: valid events are {_valid_events()}"


# --- events and scenarios -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioEvent:
    """``kind`` at ``at_us`` microseconds from the start, with its argument:

    ``impos``: str version; ``deploy``/``force-deploy``: :class:`Deploy`; ``offline``: int
    microseconds; ``move-group``: str; ``message``: :class:`Message`; ``http``: :class:`Http`;
    the others: None."""

    at_us: int
    kind: str
    arg: Arg = None

    def __post_init__(self) -> None:
        if not isinstance(self.at_us, int) or isinstance(self.at_us, bool) or self.at_us < 0:
            raise ScenarioError(f"at_us must be a non-negative int of microseconds, not {self.at_us!r}")
        if self.kind not in EVENTS:
            raise ScenarioError(_unknown(self.kind))
        expected: Any = {
            "impos": str, "deploy": Deploy, "force-deploy": Deploy, "offline": int, "move-group": str,
            "message": Message, "http": Http, "pin": Pin, "analog": Analog,
        }.get(self.kind, type(None))
        arg: Any = self.arg
        if self.kind in ("deploy", "force-deploy") and arg is None:
            object.__setattr__(self, "arg", Deploy())
        elif not isinstance(arg, expected) or isinstance(arg, bool):
            raise ScenarioError(f"event {self.kind!r} takes {EVENTS[self.kind].takes}, not {arg!r}")
        elif self.kind == "offline" and arg <= 0:
            raise ScenarioError(f"event 'offline' takes a positive duration, not {arg!r}us")
        elif self.kind == "impos":
            try:
                parse_impos(arg)
            except (TypeError, ValueError) as e:
                raise ScenarioError(f"event 'impos': {e}") from None
            if arg != arg.strip():
                raise ScenarioError(f"event 'impos': write the version without spaces, not {arg!r}")
        elif self.kind == "move-group" and (not arg or arg != arg.strip()):
            raise ScenarioError(f"event 'move-group': bad group name {arg!r}: it is not empty and has no "
                                "surrounding spaces")

    def to_cli(self, relative_to: str | os.PathLike | None = None) -> str:
        """The ``--at`` value for this event, with paths relative to ``relative_to`` (default:
        the working directory)."""
        relative_to = os.path.abspath(relative_to if relative_to is not None else os.getcwd())
        text = f"{format_duration(self.at_us)}:{self.kind}"
        arg: Any = self.arg
        if self.kind in ("deploy", "force-deploy"):
            if any("," in p for p in (arg.device, arg.agent) if p):
                raise ScenarioError(f"{self.kind}: a path with a comma cannot be written as --at "
                                    f"{self.kind}=DEVICE.nut,AGENT.nut; use a scenario file")
            dev = _rel(arg.device, relative_to) if arg.device else ""
            if arg.agent:
                text += f"={dev},{_rel(arg.agent, relative_to)}"
            elif dev:
                text += f"={dev}"
        elif self.kind == "offline":
            text += f"={format_duration(arg)}"
        elif self.kind == "message":
            text += f"={arg.name}" + (f":{arg.json}" if arg.json is not None else "")
        elif self.kind == "http":
            text += f"={arg.method} {arg.path}" + (f" {arg.body}" if arg.body else "")
        elif self.kind == "pin":
            text += f"={arg.text}"
        elif self.kind == "analog":
            text += f"={arg.pin}:{arg.value!r}"
        elif arg is not None:
            text += f"={arg}"
        return text

    def describe(self) -> str:
        """A line for the log."""
        arg: Any = self.arg
        if self.kind == "impos":
            return f"impOS {arg} released to the device's group"
        if self.kind in ("deploy", "force-deploy"):
            files = [Path(p).name for p in (arg.device, arg.agent) if p] or ["the current code"]
            how = "build and force restart" if self.kind == "force-deploy" else "build and run"
            return f"deployment of {', '.join(files)} ({how})"
        if self.kind == "offline":
            return f"network outage for {format_duration(arg)}"
        if self.kind == "move-group":
            return f"device moved to device group {arg!r}"
        if self.kind == "message":
            return f"agent sends the device {arg.name!r}" + (f" with {arg.json}" if arg.json is not None else "")
        if self.kind == "http":
            return f"HTTP {arg.method} {arg.path}" + (f" with a {len(arg.body)}-character body" if arg.body else "")
        if self.kind == "pin":
            if arg.pulse_us is not None:
                return f"{arg.pin} pulsed {'high' if arg.level else 'low'} for {format_duration(arg.pulse_us)}"
            return f"{arg.pin} " + ("released" if arg.level is None else f"driven {'high' if arg.level else 'low'}")
        if self.kind == "analog":
            return f"{arg.pin} at {arg.value:g} of the supply"
        return self.kind.replace("-", " ")


@dataclass(frozen=True)
class Scenario:
    """Events in time order (stable: equal times keep their order), and optionally how long to
    run and what to run. Paths are absolute; None means "not set" (the runner's default)."""

    events: tuple[ScenarioEvent, ...] = ()
    duration_us: int | None = None
    device: str | None = None
    agent: str | None = None
    imp: str | None = None
    seed: int | None = None
    tie_seed: int | None = None  # the same-instant order (Simulation's tie_seed); None: FIFO
    http: tuple[Route, ...] = ()  # answers to the agent's outgoing requests ([[http]] tables)
    wiring: str | None = None  # a wiring file (docs/wiring.md)

    def __post_init__(self) -> None:
        object.__setattr__(self, "http", tuple(self.http))
        if not all(isinstance(r, Route) for r in self.http):
            raise ScenarioError("a scenario's http holds impapi.internet.Route objects (Routes().route(...))")
        events = tuple(self.events)
        for e in events:
            if not isinstance(e, ScenarioEvent):
                raise ScenarioError(f"a scenario holds ScenarioEvent objects, not {e!r}")
        object.__setattr__(self, "events", tuple(sorted(events, key=lambda e: e.at_us)))
        d = self.duration_us
        if d is not None:
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise ScenarioError(f"duration_us must be a non-negative int of microseconds, not {d!r}")
            late = [e for e in self.events if e.at_us > d]
            if late:
                raise ScenarioError(f"event {late[0].to_cli()!r} is after the end of the run "
                                    f"({format_duration(d)}): lengthen the duration or move the event")
        if self.imp is not None and self.imp not in PROFILES:
            raise ScenarioError(f"unknown imp {self.imp!r}: valid imps are {', '.join(sorted(PROFILES))}")
        for what in ("seed", "tie_seed"):
            value = getattr(self, what)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ScenarioError(f"{what} must be an integer, not {value!r}")
        for what in ("device", "agent", "wiring"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, os.path.abspath(value))

    # --- writing ----------------------------------------------------------------------------

    def to_toml(self, relative_to: str | os.PathLike | None = None) -> str:
        """The scenario as a TOML file that :func:`load_toml` reads back equal. File paths are
        written relative to ``relative_to`` (the directory the file will be saved in; default:
        the working directory)."""
        base = os.path.abspath(relative_to if relative_to is not None else os.getcwd())
        lines = ["# impsim scenario: times are offsets from the start of the run", "[scenario]"]
        if self.duration_us is not None:
            lines.append(f"duration = {_toml_str(format_duration(self.duration_us))}")
        for key in ("device", "agent"):
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key} = {_toml_str(_rel(value, base))}")
        if self.imp is not None:
            lines.append(f"imp = {_toml_str(self.imp)}")
        if self.seed is not None:
            lines.append(f"seed = {self.seed}")
        if self.tie_seed is not None:
            lines.append(f"tie_seed = {self.tie_seed}")
        if self.wiring is not None:
            lines.append(f"wiring = {_toml_str(_rel(self.wiring, base))}")
        for e in self.events:
            lines += ["", "[[event]]", f"at = {_toml_str(format_duration(e.at_us))}", f"type = {_toml_str(e.kind)}"]
            lines += [f"{k} = {v}" for k, v in _toml_fields(e, base)]
        for rule in self.http:
            lines += ["", "[[http]]", *route_to_toml(rule)]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_toml` to ``path``, with file paths relative to its directory."""
        path = Path(path)
        path.write_text(self.to_toml(relative_to=path.parent.resolve()), encoding="utf-8")
        return path

    def to_cli_args(self, relative_to: str | os.PathLike | None = None) -> list[str]:
        """Arguments for ``impsim run`` (after ``run``) that replay this scenario: the device
        code first if set, then ``--agent``, ``--for``, ``--imp``, ``--seed``, ``--tie-seed`` and
        ``--wiring`` and one ``--at`` per event. Paths are relative to ``relative_to`` (default:
        the working directory). HTTP routes have no flags: a scenario with some must be saved and
        run with ``--scenario``."""
        if self.http:
            raise ScenarioError("[[http]] routes cannot be written as impsim run flags: save the scenario "
                                "(Scenario.save) and run it with --scenario")
        base = os.path.abspath(relative_to if relative_to is not None else os.getcwd())
        args: list[str] = []
        if self.device is not None:
            args.append(_rel(self.device, base))
        if self.agent is not None:
            args += ["--agent", _rel(self.agent, base)]
        if self.duration_us is not None:
            args += ["--for", format_duration(self.duration_us)]
        if self.imp is not None:
            args += ["--imp", self.imp]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if self.tie_seed is not None:
            args += ["--tie-seed", str(self.tie_seed)]
        if self.wiring is not None:
            args += ["--wiring", _rel(self.wiring, base)]
        for e in self.events:
            args += ["--at", e.to_cli(base)]
        return args

    def code_files(self) -> list[str]:
        """Every code file the scenario names (to check they compile before a run)."""
        files = [p for p in (self.device, self.agent) if p]
        for e in self.events:
            if isinstance(e.arg, Deploy):
                files += [p for p in (e.arg.device, e.arg.agent) if p]
        return list(dict.fromkeys(files))

    def routes(self) -> Routes:
        """A new route table of the ``[[http]]`` routes, for ``Simulation(internet=...)``."""
        return Routes().add(*(rule.copy() for rule in self.http))

    def with_events(self, *events: ScenarioEvent) -> Scenario:
        """A copy with more events (e.g. ``--at`` flags added to a scenario file's)."""
        return replace(self, events=self.events + tuple(events))


# --- the one parser -----------------------------------------------------------------------------


def parse_at(text: str, base_dir: str | os.PathLike | None = None) -> ScenarioEvent:
    """Parse ``TIME:EVENT[=ARG]`` (the ``--at`` option). Relative paths resolve against
    ``base_dir`` (default: the working directory)."""
    if not isinstance(text, str):
        raise TypeError(f"--at takes a str, not {type(text).__name__}")
    time_text, colon, rest = text.partition(":")
    if not colon or not time_text.strip():
        raise ScenarioError(f"bad --at {text!r}: {_AT_HINT}")
    kind, eq, arg = rest.partition("=")
    kind = kind.strip()
    try:
        at_us = _parse_time(time_text)
        if not kind:
            raise ScenarioError(f"no event after the time: {_AT_HINT}; valid events are {_valid_events()}")
        return parse_event(at_us, kind, arg if eq else None, base_dir)
    except ScenarioError as e:
        raise ScenarioError(f"bad --at {text!r}: {e}") from None


def parse_event(at_us: int, kind: str, arg: str | None, base_dir: str | os.PathLike | None = None) -> ScenarioEvent:
    """One event from its CLI spelling: ``kind`` and the text after ``=`` (None if no ``=``)."""
    if kind not in EVENTS:
        raise ScenarioError(_unknown(kind))
    spec = EVENTS[kind]
    base = Path(base_dir) if base_dir is not None else Path.cwd()

    def bad(why: str) -> ScenarioError:
        if kind in _NO_ARG:
            return ScenarioError(f"{kind} takes no argument: {why}")
        return ScenarioError(f"{kind} takes {spec.takes} ({spec.usage}): {why}")

    if kind in _NO_ARG:
        if arg is not None:
            raise bad(f"got {'=' + arg!r}")
        return ScenarioEvent(at_us, kind)
    if kind in ("deploy", "force-deploy"):
        if arg is None:
            return ScenarioEvent(at_us, kind, Deploy())
        parts = [p.strip() for p in arg.split(",")]
        if len(parts) > 2 or not any(parts):
            raise bad(f"got {arg!r}")
        device, agent = (parts + [""])[:2]
        if device.endswith(".agent.nut") and not agent:
            raise bad(f"{device!r} looks like agent code; to deploy only agent code write {kind}=,{device}")
        return ScenarioEvent(at_us, kind, Deploy(_existing(device, base, kind, "device") if device else None,
                                                 _existing(agent, base, kind, "agent") if agent else None))
    if arg is None or not arg.strip():
        raise bad("the argument is missing")
    if kind == "impos":
        return ScenarioEvent(at_us, kind, _impos_version(arg, bad))
    if kind == "offline":
        try:
            us = parse_duration(arg.strip())
        except (ValueError, TypeError) as e:
            raise bad(str(e)) from None
        if us <= 0:
            raise bad("an outage must last longer than 0s")
        return ScenarioEvent(at_us, kind, us)
    if kind == "move-group":
        return ScenarioEvent(at_us, kind, arg.strip())
    if kind == "pin":
        return ScenarioEvent(at_us, kind, _pin_arg(arg, bad))
    if kind == "analog":
        pin, colon, value = arg.partition(":")
        if not colon:
            raise bad(f"got {arg!r}: give the pin and a value, e.g. pin2:0.25")
        try:
            number = float(value)
        except ValueError:
            raise bad(f"{value!r} is not a number (a fraction of the supply, 0 to 1)") from None
        return ScenarioEvent(at_us, kind, Analog(pin.strip(), number))
    if kind == "message":
        name, colon, data = arg.partition(":")
        if not name.strip():
            raise bad("the message name is missing")
        if not colon:
            return ScenarioEvent(at_us, kind, Message(name.strip()))
        try:
            value = _json_value(data)
        except ValueError as e:
            raise bad(f"{data!r} is not JSON ({e}); quote a string: message=name:\"text\"") from None
        return ScenarioEvent(at_us, kind, Message(name.strip(), _canonical_json(value, "message data")))
    # http: METHOD PATH[ BODY], the body verbatim after the second space
    parts = arg.lstrip().split(" ", 2)
    if len(parts) < 2:
        raise bad(f"got {arg!r}: give a method and a path, e.g. http=GET /status")
    return ScenarioEvent(at_us, kind, _http(parts[0], parts[1], parts[2] if len(parts) > 2 else "", bad))


def _pin_arg(arg: str, bad: Any) -> Pin:
    """``PIN:LEVEL``, ``PIN:pulse:DURATION`` or ``PIN:LEVEL:DURATION``."""
    parts = [p.strip() for p in arg.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise bad(f"got {arg!r}: write PIN:1, PIN:0, PIN:float or PIN:pulse:50ms")
    pin, level_text = parts[0], parts[1]
    if level_text == "pulse":
        if len(parts) != 3:
            raise bad(f"got {arg!r}: a pulse needs a duration, e.g. {pin}:pulse:50ms")
        level_text = "1"
    levels = {"1": 1, "0": 0, "float": None, "high": 1, "low": 0}
    if level_text not in levels:
        raise bad(f"{level_text!r} is not a level: write 1, 0, float or pulse")
    pulse = None
    if len(parts) == 3:
        try:
            pulse = parse_duration(parts[2])
        except (ValueError, TypeError) as e:
            raise bad(str(e)) from None
    return Pin(pin, levels[level_text], pulse)


def load_toml(path: str | os.PathLike) -> Scenario:
    """Read a scenario file (schema in the module docstring). Errors name the file, the
    ``[[event]]`` entry (counted from 1) and the field."""
    _need_toml()
    path = Path(path)
    try:
        text = read_text(path, "scenario file")
    except InputError as e:
        raise ScenarioError(str(e)) from None
    return _from_document(_parse_toml(text, str(path)), path, path.parent)


def template() -> str:
    """A complete scenario file, every field and event type with a comment
    (``impsim run --scenario-template``; docs/scenarios.md shows the same file)."""
    from importlib.resources import files

    return files("impapi").joinpath("templates", "scenario.toml").read_text(encoding="utf-8")


def loads_toml(text: str, base_dir: str | os.PathLike | None = None, name: str = "<scenario>") -> Scenario:
    """:func:`load_toml` for text in memory."""
    _need_toml()
    return _from_document(_parse_toml(text, name), name, Path(base_dir) if base_dir is not None else Path.cwd())


def _parse_toml(text: str, name: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{name}: invalid TOML: {e}") from None
    except RecursionError:  # the parser recurses once per nested array or inline table
        raise ScenarioError(f"{name}: arrays or tables nested too deeply: a scenario needs a few levels") from None


def _need_toml() -> None:
    if tomllib is None:
        raise ScenarioError("reading TOML scenario files needs Python 3.11 or later (or: pip install tomli)")


_SCENARIO_KEYS = ("duration", "device", "agent", "imp", "seed", "tie_seed", "wiring")


def _from_document(doc: dict, name: Any, base: Path) -> Scenario:
    for key in doc:
        if key not in ("scenario", "event", "http"):
            close = difflib.get_close_matches(key, ("scenario", "event", "http"), n=1)
            hint = f" (did you mean [{close[0]}]?)" if close == ["scenario"] else \
                f" (did you mean [[{close[0]}]]?)" if close else ""
            raise ScenarioError(f"{name}: unknown top-level key {key!r}{hint}: a scenario file has a "
                                "[scenario] table, [[event]] entries and [[http]] routes")
    head = doc.get("scenario", {})
    if not isinstance(head, dict):
        raise ScenarioError(f"{name}: 'scenario' must be a table: write [scenario] on a line of its own")
    for key in head:
        if key not in _SCENARIO_KEYS:
            raise ScenarioError(f"{name}: [scenario]: unknown field {key!r}{_did_you_mean(key, _SCENARIO_KEYS)}: "
                                f"valid fields are {', '.join(_SCENARIO_KEYS)}")

    def field_error(field_name: str, why: str) -> ScenarioError:
        return ScenarioError(f"{name}: [scenario] field {field_name!r}: {why}")

    duration = None
    if "duration" in head:
        try:
            duration = parse_duration(_duration_value(head["duration"]))
        except (ValueError, TypeError) as e:
            raise field_error("duration", str(e)) from None
    files: dict[str, str | None] = {}
    for key in ("device", "agent", "wiring"):
        value = head.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise field_error(key, f"must be a file path string, not {value!r}")
            path = base / value
            if not path.is_file():
                raise field_error(key, f"no such file: {value} (looked in {base.resolve()})")
            value = str(path)
        files[key] = value
    imp = head.get("imp")
    if imp is not None and (not isinstance(imp, str) or imp not in PROFILES):
        raise field_error("imp", f"unknown imp {imp!r}: valid imps are {', '.join(sorted(PROFILES))}")
    for key in ("seed", "tie_seed"):
        value = head.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise field_error(key, f"must be an integer, not {value!r}")

    entries = doc.get("event", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ScenarioError(f"{name}: 'event' must be an array of tables: write each event under [[event]]")
    events = [_toml_event(entry, i, name, base) for i, entry in enumerate(entries, 1)]
    routes = doc.get("http", [])
    if not isinstance(routes, list) or not all(isinstance(r, dict) for r in routes):
        raise ScenarioError(f"{name}: 'http' must be an array of tables: write each route under [[http]]")
    try:
        http = tuple(route_from_toml(r, f"{name}: [[http]] {i}") for i, r in enumerate(routes, 1))
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    try:
        return Scenario(tuple(events), duration, files.get("device"), files.get("agent"), imp,
                        head.get("seed"), head.get("tie_seed"), http, files.get("wiring"))
    except ScenarioError as e:
        raise ScenarioError(f"{name}: {e}") from None


def _toml_event(entry: dict, index: int, name: Any, base: Path) -> ScenarioEvent:
    kind = entry.get("type")
    where = f"{name}: [[event]] {index}" + (f" ({kind})" if isinstance(kind, str) else "")

    def err(field_name: str, why: str) -> ScenarioError:
        return ScenarioError(f"{where}, field {field_name!r}: {why}")

    if "type" not in entry:
        raise err("type", f"missing: give the event type, one of {', '.join(EVENTS)}")
    if not isinstance(kind, str) or kind not in EVENTS:
        raise err("type", _unknown(str(kind)))
    spec = EVENTS[kind]
    allowed = ("at", "type") + spec.toml_keys
    for key in entry:
        if key not in allowed:
            fields = ", ".join(spec.toml_keys) if spec.toml_keys else "no other fields"
            raise err(key, f"unknown field{_did_you_mean(key, allowed)}: {kind} takes {fields} besides at and type")
    if "at" not in entry:
        raise err("at", "missing: give the time from the start, e.g. at = \"30m\"")
    try:
        at_us = _parse_time(_duration_value(entry["at"]))
    except (ScenarioError, TypeError) as e:
        raise err("at", str(e)) from None

    def bad(field_name: str):
        return lambda why: err(field_name, why)

    def text(key: str, required: bool = True) -> Any:
        value = entry.get(key)
        if value is None:
            if required:
                raise err(key, f"missing: {kind} needs {key} ({spec.usage})")
            return None
        if not isinstance(value, str):
            raise err(key, f"must be a string (in quotes), not {value!r}")
        return value

    if kind in _NO_ARG:
        return ScenarioEvent(at_us, kind)
    if kind in ("deploy", "force-deploy"):
        paths = {}
        for key in ("device", "agent"):
            value = text(key, required=False)
            paths[key] = None if value is None else _existing(value, base, kind, key, err=err)
        return ScenarioEvent(at_us, kind, Deploy(paths["device"], paths["agent"]))
    if kind == "impos":
        if isinstance(entry.get("version"), (int, float)) and not isinstance(entry.get("version"), bool):
            raise err("version", f"write the version as a string, version = \"{entry['version']}\" "
                                 "(a TOML number would read 43.10 as 43.1)")
        return ScenarioEvent(at_us, kind, _impos_version(text("version"), bad("version")))
    if kind == "offline":
        if "duration" not in entry:
            raise err("duration", "missing: how long the network is down, e.g. duration = \"45m\"")
        try:
            us = parse_duration(_duration_value(entry["duration"]))
        except (ValueError, TypeError) as e:
            raise err("duration", str(e)) from None
        if us <= 0:
            raise err("duration", "an outage must last longer than 0s")
        return ScenarioEvent(at_us, kind, us)
    if kind == "move-group":
        group = text("group").strip()
        if not group:
            raise err("group", "the group name is empty")
        return ScenarioEvent(at_us, kind, group)
    if kind == "pin":
        pin = text("pin")
        level = entry.get("level", 1)
        if level == "float":
            level = None
        elif isinstance(level, bool) or level not in (0, 1):
            raise err("level", f"0, 1 or \"float\" (released), not {level!r}")
        pulse = None
        if "pulse" in entry:
            try:
                pulse = parse_duration(_duration_value(entry["pulse"]))
            except (ValueError, TypeError) as e:
                raise err("pulse", str(e)) from None
            if pulse <= 0 or level is None:
                raise err("pulse", "a pulse lasts longer than 0s and drives the pin to 0 or 1")
        try:
            return ScenarioEvent(at_us, kind, Pin(pin, level, pulse))
        except ScenarioError as e:
            raise err("pin", str(e)) from None
    if kind == "analog":
        value = entry.get("value")
        try:
            return ScenarioEvent(at_us, kind, Analog(text("pin"), value))
        except ScenarioError as e:
            raise err("value" if "pin" in entry else "pin", str(e)) from None
    if kind == "message":
        msg_name = text("name").strip()
        if not msg_name:
            raise err("name", "the message name is empty")
        if "data" in entry and "json" in entry:
            raise err("json", "give data (a TOML value) or json (JSON text), not both")
        if "json" in entry:
            try:
                value = _json_value(text("json"))
            except ValueError as e:
                raise err("json", f"not JSON: {e}") from None
            return ScenarioEvent(at_us, kind, Message(msg_name, _canonical_json(value, "json")))
        if "data" in entry:
            try:
                return ScenarioEvent(at_us, kind, Message(msg_name, _canonical_json(entry["data"], "data")))
            except ScenarioError as e:
                raise err("data", str(e)) from None
        return ScenarioEvent(at_us, kind, Message(msg_name))
    # http
    method = text("method", required=False) or "GET"
    path = text("path")
    _http(method, "/", "", bad("method"))
    return ScenarioEvent(at_us, kind, _http(method, path, text("body", required=False) or "", bad("path")))


# --- applying -----------------------------------------------------------------------------------


class World(Protocol):
    """What a scenario acts on: :class:`impapi.Simulation` is one. ``device`` and ``agent`` are
    None when the simulation has no such code; deployed files load with ``load_options``
    (None: the defaults)."""

    clock: Clock
    log: Log
    cloud: Cloud
    device: Any
    agent: Any
    load_options: LoadOptions | None

    def power_cycle(self) -> None: ...

    def power_off(self) -> None: ...

    def power_on(self) -> None: ...

    def outage(self, start: str | int | float, duration: str | int | float | None) -> None: ...

    def agent_to_device(self, name: str, data: Any = None) -> None: ...

    def http(self, method: str, path: str, body: str, *, on_response: Any) -> Any: ...

    def drive(self, pin: str, level: int | None, *, at: Any = None, note: str | None = None) -> None: ...

    def pulse(self, pin: str, width: Any, *, level: int = 1, at: Any = None, note: str | None = None) -> None: ...

    def analog(self, pin: str, value: Any, *, note: str | None = None) -> None: ...


def read_code(scenario: Scenario | ScenarioEvent, sim: World) -> dict[str, str]:
    """Check that ``scenario`` fits ``sim`` and read the code it deploys, by path, so that a
    missing file or an event the simulation cannot take is an error before anything runs."""
    events = (scenario,) if isinstance(scenario, ScenarioEvent) else scenario.events
    kinds = {e.kind for e in events}
    if "http" in kinds and sim.agent is None:
        raise ScenarioError("the scenario sends HTTP requests to the agent, but the simulation has no agent code")
    if "message" in kinds and sim.device is None:
        raise ScenarioError("the scenario sends messages to the device, but the simulation has no device code")
    for e in events:
        if isinstance(e.arg, (Pin, Analog)):
            if sim.device is None:
                raise ScenarioError(f"{e.to_cli()}: the simulation has no device code, so no pins")
            profile = getattr(sim, "profile", None)
            if profile is not None:
                from .pinmux import module_hardware

                mux = module_hardware(profile.name)
                if mux.pin(e.arg.pin) is None:
                    raise ScenarioError(f"{e.to_cli()}: the {profile.name} has no pin {e.arg.pin!r}; its pins: "
                                        f"{', '.join(p.name for p in mux.pins)}")
    # Routes are best given to the Simulation before it starts (Scenario.routes()): an agent asks
    # at once. Those not there yet take effect now.
    if scenario.http:
        sim.internet.routes.add(*(r.copy() for r in scenario.http if r not in sim.internet.routes.rules))
    sources: dict[str, str] = {}
    for e in events:
        if isinstance(e.arg, Deploy):
            for path in (e.arg.device, e.arg.agent):
                if path and path not in sources:
                    sources[path] = _read_code(path, e, sim.load_options)
    return sources


def apply(scenario: Scenario | ScenarioEvent, sim: World, *, start_us: int | None = None,
          code: dict[str, str] | None = None) -> list[Timer]:
    """Schedule the scenario's events on ``sim``'s clock, at ``start_us`` (default: now) plus
    each event's offset. Deployed code is read now (or taken from ``code``, what
    :func:`read_code` returned), so a missing file fails before the run. Each event writes a
    ``[Sim]`` line to the log. Returns the timers (cancellable) of all but ``pin`` events, which
    are planned on the device's board (:meth:`impapi.Simulation.drive`)."""
    if isinstance(scenario, ScenarioEvent):
        scenario = Scenario((scenario,))
    sources = read_code(scenario, sim) if code is None else code
    start = sim.clock.now_us if start_us is None else start_us
    timers = []
    for e in scenario.events:
        if e.kind == "pin":
            # Planned on the board now: a pulse counter counting over the time sees the edges.
            at = start + e.at_us - sim.clock.now_us
            note = f"Scenario: {e.describe()}"
            if e.arg.pulse_us is None:
                sim.drive(e.arg.pin, e.arg.level, at=f"{at}us", note=note)
            else:
                sim.pulse(e.arg.pin, f"{e.arg.pulse_us}us", level=e.arg.level, at=f"{at}us", note=note)
            continue
        timers.append(sim.clock.schedule_at(start + e.at_us, _run_event, sim, e, sources, source="scenario"))
    return timers


def _run_event(sim: World, e: ScenarioEvent, sources: dict[str, str]) -> None:
    sim.log.add(sim.clock.now_us, "impsim", f"Scenario: {e.describe()}")
    arg: Any = e.arg
    kind = e.kind
    if kind == "impos":
        sim.cloud.release_impos(arg)
    elif kind in ("deploy", "force-deploy"):
        device_source = sources[arg.device] if arg.device else None
        agent_source = sources[arg.agent] if arg.agent else None
        if arg.device is None and arg.agent is None:
            device_source = sim.cloud.device_code  # a new version of the code the cloud has
        sim.cloud.deploy(device_source, agent_source, force=kind == "force-deploy",
                         device_file=arg.device, agent_file=arg.agent)
    elif kind == "power-cycle":
        sim.power_cycle()
    elif kind == "power-off":
        sim.power_off()
    elif kind == "power-on":
        sim.power_on()
    elif kind == "offline":
        sim.outage(0, format_duration(arg))
    elif kind == "move-group":
        sim.cloud.move_group(arg)
    elif kind == "message":
        sim.agent_to_device(arg.name, arg.data)
    elif kind == "analog":
        sim.analog(arg.pin, arg.value)
    elif kind == "http":
        def answered(status: int, body: str, _headers: dict) -> None:
            shown = body if len(body) <= 80 else body[:77] + "..."
            sim.log.add(sim.clock.now_us, "impsim", f"Scenario: HTTP {arg.method} {arg.path} answered {status}"
                                                    + (f": {shown}" if shown else ""))

        sim.http(arg.method, arg.path, arg.body, on_response=answered)
    # "advance": nothing but the log line


def _read_code(path: str, e: ScenarioEvent, load: LoadOptions) -> str:
    """The code a deployment sends, loaded as the simulation loads its own."""
    try:
        text = read_text(path, "code file")
    except InputError as exc:
        raise ScenarioError(f"{e.to_cli()}: {exc}") from None
    try:
        return build_app(text, path, load).source
    except BuildError as exc:
        raise ScenarioError(f"{e.to_cli()}: {exc}") from None


# --- helpers ------------------------------------------------------------------------------------


def _parse_time(value: Any) -> int:
    try:
        return parse_duration(value.strip() if isinstance(value, str) else value)
    except ValueError as e:
        raise ScenarioError(str(e).replace("bad duration", "bad time", 1) +
                            " (times are offsets from the start of the run)") from None


def _duration_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"{value!r} is not a duration: write a string such as \"30m\" or \"1d6h\", or seconds")
    return value


def _did_you_mean(key: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _existing(value: str, base: Path, kind: str, what: str, err: Any = None) -> str:
    path = base / value
    if not path.is_file():
        why = f"no such {what} code file: {value} (looked in {base.resolve()})"
        if err is not None:
            raise err(what, why)
        raise ScenarioError(f"{kind}: {why}")
    return os.path.abspath(path)


def _impos_version(text: str, bad: Any) -> str:
    try:
        parse_impos(text)
    except (ValueError, TypeError):
        raise bad(f"got {text!r}") from None
    return text.strip()


def _http(method: str, path: str, body: str, bad: Any) -> Http:
    if not _METHOD.fullmatch(method):
        raise bad(f"bad method {method!r}: use GET, POST, PUT, DELETE, ...")
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise bad(f"bad path {path!r}: a path starts with / and has no spaces, e.g. /status?x=1")
    return Http(method.upper(), path, body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Message data a scenario may nest: far more than any app's message, and few enough that the
# checks and the conversions on the way to Squirrel stay clear of Python's recursion limit.
MAX_DATA_DEPTH = 100


def _json_value(text: str) -> Any:
    """JSON text as a value; ValueError saying why for text that is not JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"arrays or objects nested too deeply (at most {MAX_DATA_DEPTH} levels)") from None


def _canonical_json(value: Any, what: str) -> str:
    def check(v: Any, depth: int = 0) -> None:
        if depth > MAX_DATA_DEPTH:
            raise ScenarioError(f"{what}: nested more than {MAX_DATA_DEPTH} levels deep")
        if isinstance(v, float) and not math.isfinite(v):
            raise ScenarioError(f"{what}: {v} cannot be sent (only finite numbers)")
        if isinstance(v, int) and not isinstance(v, bool) and not -2**31 <= v < 2**31:
            raise ScenarioError(f"{what}: {v} does not fit Squirrel's 32-bit integers on the imp "
                                "(-2147483648..2147483647); send it as a string or a float")
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    raise ScenarioError(f"{what}: table keys must be strings, not {k!r}")
                check(item, depth + 1)
        elif isinstance(v, (list, tuple)):
            for item in v:
                check(item, depth + 1)
        elif v is not None and not isinstance(v, (str, int, float, bool)):
            raise ScenarioError(f"{what}: {v!r} ({type(v).__name__}) cannot be sent: use tables, arrays, "
                                "strings, numbers and booleans")

    check(value)
    return json.dumps(value, ensure_ascii=False)


def _rel(path: str, base: str | os.PathLike) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive (Windows)
        return path
    return rel.replace(os.sep, "/")


# --- TOML writing (tomllib only reads) ----------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_str(s: str) -> str:
    out = []
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[c])
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any) -> str | None:
    """TOML for a JSON value, or None if TOML cannot hold it (null, out-of-range integers)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if -(2**63) <= v < 2**63 else None
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        items = [_toml_value(x) for x in v]
        return None if None in items else "[" + ", ".join(i for i in items if i is not None) + "]"
    if isinstance(v, dict):
        pairs: list[str] = []
        for k, x in v.items():
            tv = _toml_value(x)
            if tv is None:
                return None
            pairs.append(f"{k if _BARE_KEY.fullmatch(k) else _toml_str(k)} = {tv}")
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    return None


def _toml_fields(e: ScenarioEvent, base: str) -> list[tuple[str, str]]:
    arg: Any = e.arg
    if e.kind == "impos":
        return [("version", _toml_str(arg))]
    if e.kind in ("deploy", "force-deploy"):
        return [(k, _toml_str(_rel(p, base))) for k, p in (("device", arg.device), ("agent", arg.agent)) if p]
    if e.kind == "offline":
        return [("duration", _toml_str(format_duration(arg)))]
    if e.kind == "move-group":
        return [("group", _toml_str(arg))]
    if e.kind == "message":
        out = [("name", _toml_str(arg.name))]
        if arg.json is not None:
            value = _toml_value(arg.data)
            out.append(("data", value) if value is not None else ("json", _toml_str(arg.json)))
        return out
    if e.kind == "pin":
        out = [("pin", _toml_str(arg.pin)), ("level", '"float"' if arg.level is None else str(arg.level))]
        if arg.pulse_us is not None:
            out.append(("pulse", _toml_str(format_duration(arg.pulse_us))))
        return out
    if e.kind == "analog":
        return [("pin", _toml_str(arg.pin)), ("value", repr(arg.value))]
    if e.kind == "http":
        out = [("method", _toml_str(arg.method)), ("path", _toml_str(arg.path))]
        if arg.body:
            out.append(("body", _toml_str(arg.body)))
        return out
    return []
