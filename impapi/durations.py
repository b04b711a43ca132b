"""Durations and instants as users write them (``90s``, ``1h30m``, ``2026-01-02T06:00Z``).

Everything is converted to integer microseconds, the clock's unit. Decimal arithmetic is exact
(``1.1s`` is 1,100,000 us, not 1,099,999), and results are rounded to the nearest microsecond.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from fractions import Fraction

__all__ = [
    "DEFAULT_EPOCH",
    "UNITS",
    "format_duration",
    "format_epoch",
    "parse_duration",
    "parse_instant",
    "seconds_to_us",
    "us_to_seconds",
]

US = 1
MS = 1_000
S = 1_000_000
M = 60 * S
H = 60 * M
D = 24 * H

UNITS: dict[str, int] = {"d": D, "h": H, "m": M, "s": S, "ms": MS, "us": US}

# Virtual time 0 maps to this instant unless a simulation says otherwise.
DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# "ms" and "us" must be tried before "m" and "s".
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|us|d|h|m|s)", re.ASCII)
_PLAIN = re.compile(rf"\s*({_NUMBER})\s*", re.ASCII)

_HINT = "use a number with a unit d, h, m, s, ms or us (e.g. 90s, 15m, 2d, 1h30m, 500ms), or a plain number of seconds"


# The longest duration or instant a user may write: a century of virtual time is more than any
# run needs, and a bound keeps a typo such as 99999999999999999999999d from being accepted.
MAX_US = 36_500 * D


class TooLong(ValueError):
    """A duration or instant beyond :data:`MAX_US`."""


def parse_duration(text: str | int | float) -> int:
    """Parse a non-negative duration into microseconds.

    Accepts a plain number (seconds), or one or more ``<number><unit>`` parts with units
    d, h, m, s, ms, us, optionally separated by spaces: ``90s``, ``1h30m``, ``1.5h``, ``2d 12h``.
    At most :data:`MAX_US` (36500d, a century).
    """
    us = _parse_duration(text)
    if us > MAX_US:
        raise TooLong(f"bad duration {text!r}: at most 36500d (a century of virtual time)")
    return us


def _parse_duration(text: str | int | float) -> int:
    if isinstance(text, bool):
        raise TypeError("a duration cannot be a bool")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"bad duration {text}: durations cannot be negative")
        return text * S
    if isinstance(text, float):
        if not text >= 0 or text == float("inf"):
            raise ValueError(f"bad duration {text!r}: {_HINT}")
        return seconds_to_us(text)
    if not isinstance(text, str):
        raise TypeError(f"a duration must be a str, int or float, not {type(text).__name__}")

    stripped = text.strip()
    if stripped.startswith("-"):
        try:
            parse_duration(stripped[1:])
        except ValueError:
            raise ValueError(f"bad duration {text!r}: {_HINT}") from None
        raise ValueError(f"bad duration {text!r}: durations cannot be negative")
    plain = _PLAIN.fullmatch(text)
    if plain:
        return round(Fraction(plain.group(1)) * S)

    total = Fraction(0)
    pos = 0
    seen: set[str] = set()
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            if text[pos:].strip() == "" and seen:
                break
            raise ValueError(f"bad duration {text!r}: {_HINT}")
        unit = match.group(2)
        if unit in seen:
            raise ValueError(f"bad duration {text!r}: unit {unit!r} appears twice")
        seen.add(unit)
        total += Fraction(match.group(1)) * UNITS[unit]
        pos = match.end()
    if not seen:
        raise ValueError(f"bad duration {text!r}: {_HINT}")
    return round(total)


def parse_instant(text: str | int | float, epoch: datetime = DEFAULT_EPOCH) -> int:
    """Parse a point in virtual time into microseconds since ``epoch`` (virtual time 0).

    Either a duration counted from the start (``3h``, ``1d6h``, ``90``), or an ISO-8601 date
    and time, read as UTC unless it carries an offset (``2026-01-02T06:00:00Z``,
    ``2026-01-02 06:00``). A date-time before ``epoch`` is an error.
    """
    if isinstance(text, str) and re.match(r"\s*\d{4}-\d{2}-\d{2}", text, re.ASCII):
        iso = text.strip()
        if iso.endswith(("Z", "z")):
            iso = iso[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(
                f"bad time {text!r}: use an ISO date and time such as 2026-01-02T06:00:00Z, "
                "or a duration from the start such as 3h"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delta = when - _aware(epoch)
        if delta < timedelta(0):
            raise ValueError(f"bad time {text!r}: it is before the simulation start {format_epoch(epoch)}")
        if delta > timedelta(microseconds=MAX_US):
            raise TooLong(f"bad time {text!r}: at most 36500d (a century) after the simulation start")
        return delta // timedelta(microseconds=1)
    try:
        return parse_duration(text)
    except TooLong:
        raise
    except ValueError as exc:
        raise ValueError(
            f"bad time {text!r}: use a duration from the start such as 3h or 1d6h, "
            "or an ISO date and time such as 2026-01-02T06:00:00Z"
        ) from exc


def format_duration(us: int) -> str:
    """Format microseconds compactly, in a form ``parse_duration`` reads back exactly.

    ``90_000_000`` -> ``1m30s``; ``1_500_000`` -> ``1.5s``; ``500_000`` -> ``500ms``;
    ``93_600_000_000`` -> ``1d2h``; ``0`` -> ``0s``. Negative values get a leading ``-``.
    """
    if not isinstance(us, int) or isinstance(us, bool):
        raise TypeError(f"format_duration takes int microseconds, not {type(us).__name__}")
    if us < 0:
        return "-" + format_duration(-us)
    if us == 0:
        return "0s"
    days, rest = divmod(us, D)
    hours, rest = divmod(rest, H)
    minutes, rest = divmod(rest, M)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if rest:
        seconds, sub = divmod(rest, S)
        if seconds or parts:
            parts.append(f"{seconds}{_fraction(sub, 6)}s")
        else:
            ms, sub_ms = divmod(sub, MS)
            parts.append(f"{ms}{_fraction(sub_ms, 3)}ms" if ms else f"{sub_ms}us")
    return "".join(parts)


def seconds_to_us(seconds: float) -> int:
    """Seconds (as the imp API takes them) to integer microseconds, rounded to nearest."""
    return round(seconds * S)


def us_to_seconds(us: int) -> float:
    return us / S


def format_epoch(epoch: datetime) -> str:
    """``epoch`` as ``YYYY-MM-DDTHH:MM:SSZ`` (naive datetimes are taken as UTC)."""
    return _aware(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fraction(value: int, digits: int) -> str:
    return "." + f"{value:0{digits}d}".rstrip("0") if value else ""


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
