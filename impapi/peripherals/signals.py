"""Quantities that follow virtual time: what a sensor model measures, what an analog pin sees.

A signal is a function of virtual time in microseconds (``t_us``, from the start of the
simulation) returning a float. :func:`signal` makes one from what a wiring file or a Python
caller gives:

- a number: a constant (``21.5``);
- ``{points = [["0s", 18], ["6h", 24], ["1d", 18]]}``: a series of (time, value) points, times
  as durations (``"90s"``, ``"6h"``) or seconds;
- ``{csv = "weather.csv", column = "temperature"}``: the same, from a CSV file with a header
  row; the time column is ``time`` if there is one, else the first column;
- ``{wave = "sine", period = "1d", mean = 20, amplitude = 4}``: a periodic wave (``sine``,
  ``square``, ``triangle``, ``sawtooth``), optionally shifted by ``phase`` (a duration);
- ``{function = "module:name"}``: a Python function of ``t_us``;
- a Python callable of ``t_us`` (from Python only).

Series take ``interpolate = "linear"`` (the default) or ``"step"`` (each value holds until the
next point), and ``repeat = true`` to start again after the last point (the series' period is
its last time); otherwise the first value holds before the first point and the last after the
last. Signals are pure: the same time gives the same value, whatever was asked before.
"""

from __future__ import annotations

import bisect
import contextvars
import csv
import importlib
import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

from ..durations import parse_duration

__all__ = ["Signal", "SignalAttr", "SignalError", "base_dir", "load_object", "signal"]

Signal = Callable[[int], float]

# Where relative file names in signal descriptions resolve (the wiring file's directory while it
# is read; the working directory otherwise).
base_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar("impsim_signal_base", default=None)

_KINDS = ("points", "csv", "wave", "function")
_WAVES = ("sine", "square", "triangle", "sawtooth")


class SignalError(ValueError):
    """A signal description that cannot be used; the message says what is valid."""


def signal(value: Any, where: str = "value") -> Signal:
    """A function of ``t_us`` from ``value`` (see the module docstring). ``where`` names the
    value in error messages (``"[[i2c]] 1, temperature"``)."""
    if callable(value):
        return value
    if isinstance(value, bool):
        raise SignalError(f"{where}: {value!r} is not a number or a signal")
    if isinstance(value, (int, float)):
        constant = float(value)
        if not math.isfinite(constant):
            raise SignalError(f"{where}: {value!r} is not a finite number")
        return _Constant(constant)
    if not isinstance(value, dict):
        raise SignalError(f"{where}: {value!r} is not a number or a signal: write a number, or a table with "
                          f"one of {', '.join(_KINDS)}")
    kinds = [k for k in _KINDS if k in value]
    if len(kinds) != 1:
        raise SignalError(f"{where}: a signal table has exactly one of {', '.join(_KINDS)}, "
                          f"not {sorted(value) or 'none'}")
    kind = kinds[0]
    allowed = {"points": ("points", "interpolate", "repeat"),
               "csv": ("csv", "column", "time", "interpolate", "repeat"),
               "wave": ("wave", "period", "mean", "amplitude", "phase"),
               "function": ("function",)}[kind]
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SignalError(f"{where}: unknown field {unknown[0]!r} of a {kind} signal: it takes {', '.join(allowed)}")
    if kind == "points":
        return _series(_points(value["points"], where), value, where)
    if kind == "csv":
        return _series(_csv_points(value, where), value, where)
    if kind == "wave":
        return _wave(value, where)
    return _function(value["function"], where)


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, t_us: int) -> float:
        return self.value

    def next_change(self, t_us: int) -> int | None:
        return None

    def __repr__(self) -> str:
        return f"constant({self.value})"


def _time(value: Any, where: str) -> int:
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as e:
        raise SignalError(f"{where}: bad time {value!r}: {e}") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(str(value).strip())
        except ValueError:
            raise SignalError(f"{where}: {value!r} is not a number") from None
    value = float(value)
    if not math.isfinite(value):
        raise SignalError(f"{where}: {value!r} is not a finite number")
    return value


def _points(raw: Any, where: str) -> list[tuple[int, float]]:
    if not isinstance(raw, list) or not raw:
        raise SignalError(f"{where}: points is a non-empty list of [time, value] pairs, e.g. "
                          "[[\"0s\", 18], [\"6h\", 24]]")
    out = []
    for i, p in enumerate(raw, 1):
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise SignalError(f"{where}: point {i} is {p!r}: write [time, value], e.g. [\"6h\", 24]")
        out.append((_time(p[0], f"{where}, point {i}"), _number(p[1], f"{where}, point {i}")))
    return out


def _resolve(name: str, where: str) -> Path:
    if not isinstance(name, str) or not name:
        raise SignalError(f"{where}: csv is a file name, not {name!r}")
    path = Path(name)
    if not path.is_absolute():
        path = (base_dir.get() or Path.cwd()) / path
    return path


def _csv_points(spec: dict, where: str) -> list[tuple[int, float]]:
    path = _resolve(spec["csv"], where)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SignalError(f"{where}: no such CSV file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SignalError(f"{where}: cannot read {path}: {e}") from None
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise SignalError(f"{where}: {path.name} needs a header row and at least one row of values")
    header = [h.strip() for h in rows[0]]
    time_col = spec.get("time", "time" if "time" in header else header[0])
    column = spec.get("column")
    if column is None:
        others = [h for h in header if h != time_col]
        if len(others) != 1:
            raise SignalError(f"{where}: {path.name} has columns {', '.join(header)}: say which with column = \"...\"")
        column = others[0]
    for name, what in ((time_col, "time"), (column, "column")):
        if name not in header:
            raise SignalError(f"{where}: {path.name} has no {what} column {name!r} (its columns: {', '.join(header)})")
    ti, vi = header.index(time_col), header.index(column)
    points = []
    for n, row in enumerate(rows[1:], 2):
        if max(ti, vi) >= len(row):
            raise SignalError(f"{where}: {path.name}:{n}: the row has {len(row)} fields")
        points.append((_time(row[ti].strip(), f"{where}: {path.name}:{n}"),
                       _number(row[vi], f"{where}: {path.name}:{n}")))
    return points


class _Series:
    __slots__ = ("times", "values", "step", "period")

    def __init__(self, points: list[tuple[int, float]], step: bool, repeat: bool) -> None:
        self.times = [t for t, _ in points]
        self.values = [v for _, v in points]
        self.step = step
        self.period = self.times[-1] if repeat and self.times[-1] > 0 else None

    def __call__(self, t_us: int) -> float:
        times, values = self.times, self.values
        if self.period is not None and t_us > self.period:
            t_us = t_us % self.period
        i = bisect.bisect_right(times, t_us)
        if i == 0:
            return values[0]
        if i == len(times):
            return values[-1]
        if self.step:
            return values[i - 1]
        t0, t1 = times[i - 1], times[i]
        v0, v1 = values[i - 1], values[i]
        return v0 + (v1 - v0) * (t_us - t0) / (t1 - t0)

    def next_change(self, t_us: int) -> int | None:
        base, t = 0, t_us
        if self.period is not None and t_us > self.period:
            t = t_us % self.period
            base = t_us - t
        i = bisect.bisect_right(self.times, t)
        if i == len(self.times):
            return None if self.period is None else base + self.period + 1  # the series starts again
        if i > 0 and not self.step and self.values[i - 1] != self.values[i]:
            return t_us + 1  # on a slope: changing all the time
        return base + self.times[i]


def _series(points: list[tuple[int, float]], spec: dict, where: str) -> Signal:
    for (a, _), (b, _) in zip(points, points[1:]):
        if b < a:
            raise SignalError(f"{where}: the times go backwards ({a / 1e6:g}s, then {b / 1e6:g}s): sort the points")
    interpolate = spec.get("interpolate", "linear")
    if interpolate not in ("linear", "step"):
        raise SignalError(f"{where}: interpolate is \"linear\" or \"step\", not {interpolate!r}")
    repeat = spec.get("repeat", False)
    if not isinstance(repeat, bool):
        raise SignalError(f"{where}: repeat is true or false, not {repeat!r}")
    return _Series(points, interpolate == "step", repeat)


class _Wave:
    __slots__ = ("shape", "period", "mean", "amplitude", "phase")

    def __init__(self, shape: str, period: int, mean: float, amplitude: float, phase: int) -> None:
        self.shape, self.period, self.mean, self.amplitude, self.phase = shape, period, mean, amplitude, phase

    def __call__(self, t_us: int) -> float:
        x = ((t_us + self.phase) % self.period) / self.period  # 0..1 through the period
        if self.shape == "sine":
            y = math.sin(2 * math.pi * x)
        elif self.shape == "square":
            y = 1.0 if x < 0.5 else -1.0
        elif self.shape == "triangle":
            y = 4 * x - 1 if x < 0.5 else 3 - 4 * x
        else:  # sawtooth
            y = 2 * x - 1
        return self.mean + self.amplitude * y


def _wave(spec: dict, where: str) -> Signal:
    shape = spec["wave"]
    if shape not in _WAVES:
        raise SignalError(f"{where}: wave is one of {', '.join(_WAVES)}, not {shape!r}")
    if "period" not in spec:
        raise SignalError(f"{where}: a wave needs a period, e.g. period = \"1d\"")
    period = _time(spec["period"], where)
    if period <= 0:
        raise SignalError(f"{where}: the period must be longer than 0s")
    return _Wave(shape, period, _number(spec.get("mean", 0.0), where), _number(spec.get("amplitude", 1.0), where),
                 _time(spec.get("phase", 0), where))


def load_object(ref: str, where: str) -> Any:
    """``module:name`` (or ``file.py:name``, relative to the wiring file): the Python object."""
    if not isinstance(ref, str) or ref.count(":") != 1 or not all(ref.split(":")):
        raise SignalError(f"{where}: {ref!r}: write MODULE:NAME (e.g. mysensors:Thermometer) or FILE.py:NAME")
    target, name = ref.split(":")
    base = base_dir.get() or Path.cwd()
    try:
        if target.endswith(".py"):
            path = Path(target) if os.path.isabs(target) else base / target
            spec = importlib.util.spec_from_file_location(f"impsim_wiring_{path.stem}", path)
            if spec is None or spec.loader is None or not path.is_file():
                raise SignalError(f"{where}: no such Python file: {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            added = str(base) not in sys.path
            if added:
                sys.path.insert(0, str(base))
            try:
                module = importlib.import_module(target)
            finally:
                if added:
                    sys.path.remove(str(base))
    except SignalError:
        raise
    except ImportError as e:
        raise SignalError(f"{where}: cannot import {target}: {e}") from None
    except Exception as e:  # the module's own code failed
        raise SignalError(f"{where}: importing {target} failed: {type(e).__name__}: {e}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise SignalError(f"{where}: {target} has no {name!r}") from None


def _function(ref: Any, where: str) -> Signal:
    fn = load_object(ref, where)
    if not callable(fn):
        raise SignalError(f"{where}: {ref} is not a function")
    return fn



def next_change(source: Any, t_us: int) -> int | None:
    """The earliest time after ``t_us`` at which ``source`` may give another value (None: it never
    will): lets a model that watches a signal look again only then. A function of time, a wave
    or a slope may change at any moment (``t_us + 1``)."""
    ask = getattr(source, "next_change", None)
    return ask(t_us) if ask is not None else t_us + 1


class SignalAttr:
    """A model's attribute holding a signal: assigning a number, a signal description or a
    function of ``t_us`` replaces it (``model.temperature = 30``); reading gives the function."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_signal_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.slot, signal(value, self.name))
