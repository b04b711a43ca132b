"""Argument checks and conversions the natives share."""

from __future__ import annotations

import math
from typing import Any

import squirrel

from ..api import ImpError

DAY_US = 86_400_000_000


def seconds(value: float, what: str) -> float:
    """A duration argument (its type, a number, is checked before the native runs)."""
    if not math.isfinite(value):
        raise ImpError(f"{what} must be a finite number of seconds")
    if value < 0:
        raise ImpError(f"{what} must not be negative")
    return float(value)


def text_of(host: Any, value: Any) -> str:
    """What server.log shows: Squirrel's tostring(); a non-UTF-8 string as binary (§2.9)."""
    if value.__class__ is str:  # the usual case, without the isinstance calls below
        return value
    if isinstance(value, squirrel.Blob):  # its bytes, as its _tostring gives them
        value = bytes(value)
    elif not isinstance(value, (str, bytes)):
        value = squirrel.proxies.tostring(host.vm, value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "binary: " + value.hex()
    return value


def deep_sleep_ok(host: Any) -> bool:
    return host.side == "device" and host.owner.profile.has_deep_sleep


def sleep_until_us(host: Any, hour: int, minute: int, second: int = 0, dayofweek: int | None = None) -> int:
    """The next UTC instant at hour:minute:second (on ``dayofweek``, 0 = Sunday), after now."""
    for name, v, hi in (("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
            raise ImpError(f"{name} must be an integer from 0 to {hi}")
    if dayofweek is not None and (not isinstance(dayofweek, int) or not 0 <= dayofweek <= 6):
        raise ImpError("dayofweek must be an integer from 0 (Sunday) to 6")
    epoch_us = host.env.epoch_us
    now_abs = epoch_us + host.clock.now_us
    day_start = now_abs - now_abs % DAY_US
    target = day_start + ((hour * 60 + minute) * 60 + second) * 1_000_000
    while target <= now_abs or (dayofweek is not None and ((target // DAY_US) + 4) % 7 != dayofweek):
        target += DAY_US
    return target - epoch_us
