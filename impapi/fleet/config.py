"""The fleet file (``fleet.toml``): how the devices of a fleet differ, with defaults for all of it.

Every table and key is optional; an absent file is the defaults. Durations are strings such as
``"45m"`` or ``"1d6h"`` (or plain seconds)::

    [fleet]
    devices = 1000           # --devices wins
    seed = 1                 # --seed wins

    [start]
    spread = "1h"            # devices power on at random moments in the first hour ("0s": all at once)

    [modules]                # the imp module mix, by weight
    imp003 = 3
    imp004m = 1

    [connectivity]
    flaky = 0.1              # share of devices whose network drops now and then
    outages_per_day = 2.0    # on those devices, on average
    outage_length = ["1m", "2h"]   # each outage lasts between these (log-uniform)

    [power]
    cycles_per_day = 0.02    # unplanned power cycles per device per day, on average

    [rollout]
    deadline = "1d"          # the impCloud forces an update a shutdown handler has delayed this long

    [[group]]                # device groups, in release order
    name = "canary"
    share = 0.05             # of the fleet (or: devices = 50)
    delay = "0s"             # releases reach the group this long after their --at time

    [[group]]
    name = "production"      # no share: the rest of the fleet
    delay = "12h"

    [moves]
    share = 0.01             # share of devices moved to another device group during the run
    to = "field-test"        # the group they move to
    window = ["0s", "3d"]    # when: at random between these (default: the whole run)

    [report]
    herd_factor = 3.0        # a post-release peak this many times the busiest minute before is a finding
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..durations import format_duration, parse_duration
from ..profiles import PROFILES
from ..simulation import DEFAULT_IMP

__all__ = ["FleetConfig", "FleetFileError", "Group", "load_fleet", "loads_fleet"]

MINUTE_US = 60_000_000
DAY_US = 24 * 60 * MINUTE_US


class FleetFileError(ValueError):
    """A fleet file that cannot be read; the message names the file, the key and what is valid."""


@dataclass(frozen=True)
class Group:
    name: str
    share: float | None = None  # None: the rest of the fleet
    devices: int | None = None  # an exact count instead of a share
    delay_us: int = 0


@dataclass(frozen=True)
class FleetConfig:
    """How the devices of a fleet differ. The defaults describe a plain fleet: one production
    group, imp003 modules powered on over an hour, a tenth of them with a flaky network, a power
    cut now and then, no group moves and no update deadline."""

    devices: int | None = None
    seed: int | None = None
    start_spread_us: int = 60 * MINUTE_US
    modules: tuple[tuple[str, float], ...] = ((DEFAULT_IMP, 1.0),)
    flaky_share: float = 0.1
    outages_per_day: float = 2.0
    outage_min_us: int = MINUTE_US
    outage_max_us: int = 120 * MINUTE_US
    power_cycles_per_day: float = 0.02
    deadline_us: int | None = None
    groups: tuple[Group, ...] = (Group("production"),)
    move_share: float = 0.0
    move_to: str = "moved"
    move_window_us: tuple[int, int | None] = (0, None)  # None: the end of the run
    herd_factor: float = 3.0
    source: str = field(default="(defaults)", compare=False)

    def group_sizes(self, devices: int) -> list[tuple[Group, int]]:
        """How many devices each group has: exact counts first, shares rounded so the sizes add
        up to ``devices`` (largest remainders), the share-less group takes the rest."""
        exact = sum(g.devices for g in self.groups if g.devices is not None)
        if exact > devices:
            raise FleetFileError(f"{self.source}: the groups name {exact} devices, more than the fleet's {devices}")
        rest = devices - exact
        shared = [g for g in self.groups if g.share is not None]
        wants = [g.share * devices for g in shared]
        counts = [min(rest, math.floor(w)) for w in wants]
        remaining = rest - sum(counts)
        leftover = next((g for g in self.groups if g.share is None and g.devices is None), None)
        if leftover is None and not shared and remaining > 0:
            raise FleetFileError(f"{self.source}: the groups hold {exact} of the fleet's {devices} devices: "
                                 "leave one group without a share or count to take the rest")
        if leftover is None:
            # the shares cover the fleet: hand out the rounding by largest remainder
            order = sorted(range(len(shared)), key=lambda i: (-(wants[i] - counts[i]), i))
            for i in order[:max(0, remaining)]:
                counts[i] += 1
            remaining = 0
        by_name = {g.name: c for g, c in zip(shared, counts)}
        sizes = []
        for g in self.groups:
            if g.devices is not None:
                sizes.append((g, g.devices))
            elif g.share is not None:
                sizes.append((g, by_name[g.name]))
            else:
                sizes.append((g, max(0, remaining)))
        return sizes

    def to_json(self) -> dict[str, Any]:
        """The settings as plain data (for the report and ``--json``)."""
        return {
            "start_spread": format_duration(self.start_spread_us),
            "modules": {name: weight for name, weight in self.modules},
            "connectivity": {"flaky": self.flaky_share, "outages_per_day": self.outages_per_day,
                             "outage_length": [format_duration(self.outage_min_us),
                                               format_duration(self.outage_max_us)]},
            "power": {"cycles_per_day": self.power_cycles_per_day},
            "rollout": {"deadline": None if self.deadline_us is None else format_duration(self.deadline_us)},
            "groups": [{"name": g.name, "share": g.share, "devices": g.devices,
                        "delay": format_duration(g.delay_us)} for g in self.groups],
            "moves": {"share": self.move_share, "to": self.move_to,
                      "window": [format_duration(self.move_window_us[0]),
                                 None if self.move_window_us[1] is None else format_duration(self.move_window_us[1])]},
            "report": {"herd_factor": self.herd_factor},
        }


# --- reading ------------------------------------------------------------------------------------

_TABLES: dict[str, tuple[str, ...]] = {
    "fleet": ("devices", "seed"),
    "start": ("spread",),
    "modules": tuple(sorted(PROFILES)),
    "connectivity": ("flaky", "outages_per_day", "outage_length"),
    "power": ("cycles_per_day",),
    "rollout": ("deadline",),
    "group": ("name", "share", "devices", "delay"),
    "moves": ("share", "to", "window"),
    "report": ("herd_factor",),
}


def load_fleet(path: str | os.PathLike) -> FleetConfig:
    """Read a fleet file; errors name the file, the key and what is valid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetFileError(f"{path}: no such fleet file") from None
    except UnicodeDecodeError as e:
        raise FleetFileError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise FleetFileError(f"{path}: {e.strerror}") from None
    return loads_fleet(text, str(path))


def loads_fleet(text: str, name: str = "<fleet>") -> FleetConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FleetFileError(f"{name}: not valid TOML: {e}") from None
    return from_dict(data, name)


def from_dict(data: dict[str, Any], name: str = "<fleet>") -> FleetConfig:
    """A fleet configuration from the fleet file's tables as a dict (``Fleet(fleet={...})``)."""
    r = _Reader(data, name)
    return r.config()


class _Reader:
    def __init__(self, data: dict[str, Any], name: str) -> None:
        self.data = data
        self.name = name

    def err(self, where: str, why: str) -> FleetFileError:
        return FleetFileError(f"{self.name}: {where}: {why}")

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.err(f"[{key}]", f"must be a table ([{key}] followed by key = value lines)")
        self.keys(value, key, f"[{key}]")
        return value

    def keys(self, table: dict[str, Any], kind: str, where: str) -> None:
        allowed = _TABLES[kind]
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.err(f"{where} {key}", f"unknown key{hint}: valid keys are {', '.join(allowed)}")

    def number(self, table: dict[str, Any], key: str, where: str, default: float, *, lo: float = 0.0,
               hi: float | None = None) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.err(f"{where} {key}", f"must be a number, not {value!r}")
        if value < lo or (hi is not None and value > hi):
            span = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
            raise self.err(f"{where} {key}", f"must be {span}, not {value!r}")
        return float(value)

    def integer(self, table: dict[str, Any], key: str, where: str, lo: int) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise self.err(f"{where} {key}", f"must be a whole number of at least {lo}, not {value!r}")
        return value

    def duration(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.err(where, f"must be a duration such as \"45m\" or \"1d6h\", not {value!r}")
        try:
            return parse_duration(value)
        except (TypeError, ValueError) as e:
            raise self.err(where, str(e)) from None

    def span(self, value: Any, where: str) -> tuple[int, int]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.err(where, f"must be two durations, [\"from\", \"to\"], not {value!r}")
        lo, hi = (self.duration(v, where) for v in value)
        if hi < lo:
            raise self.err(where, f"the second duration must not be shorter than the first ({value!r})")
        return lo, hi

    def config(self) -> FleetConfig:
        for key in self.data:
            if key not in _TABLES:
                close = difflib.get_close_matches(key, _TABLES, n=1)
                hint = f" (did you mean [{close[0]}]?)" if close else ""
                raise self.err(f"[{key}]", f"unknown table{hint}: valid tables are "
                                           f"{', '.join('[[group]]' if t == 'group' else f'[{t}]' for t in _TABLES)}")
        d = FleetConfig()
        fleet = self.table("fleet")
        devices = self.integer(fleet, "devices", "[fleet]", 1)
        seed = fleet.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise self.err("[fleet] seed", f"must be a whole number of at least 0, not {seed!r}")
        start = self.table("start")
        spread = self.duration(start["spread"], "[start] spread") if "spread" in start else d.start_spread_us

        modules = self.table("modules")
        mix = d.modules
        if modules:
            mix = tuple((name, self.number(modules, name, "[modules]", 0.0)) for name in sorted(modules))
            if not any(w > 0 for _, w in mix):
                raise self.err("[modules]", "give at least one module a weight above 0, e.g. imp003 = 1")
            mix = tuple((n, w) for n, w in mix if w > 0)

        conn = self.table("connectivity")
        flaky = self.number(conn, "flaky", "[connectivity]", d.flaky_share, hi=1.0)
        per_day = self.number(conn, "outages_per_day", "[connectivity]", d.outages_per_day, hi=1440.0)
        lo, hi = (self.span(conn["outage_length"], "[connectivity] outage_length")
                  if "outage_length" in conn else (d.outage_min_us, d.outage_max_us))
        if lo <= 0:
            raise self.err("[connectivity] outage_length", "an outage lasts longer than 0s")

        power = self.table("power")
        cycles = self.number(power, "cycles_per_day", "[power]", d.power_cycles_per_day, hi=1440.0)

        rollout = self.table("rollout")
        deadline = self.duration(rollout["deadline"], "[rollout] deadline") if "deadline" in rollout else None

        groups = self.groups()

        moves = self.table("moves")
        move_share = self.number(moves, "share", "[moves]", 0.0, hi=1.0)
        move_to = moves.get("to", d.move_to)
        if not isinstance(move_to, str) or not move_to.strip() or move_to != move_to.strip():
            raise self.err("[moves] to", f"must be a group name (not empty, no surrounding spaces), not {move_to!r}")
        window: tuple[int, int | None] = self.span(moves["window"], "[moves] window") if "window" in moves else (0, None)

        report = self.table("report")
        herd = self.number(report, "herd_factor", "[report]", d.herd_factor, lo=1.0)
        return FleetConfig(devices=devices, seed=seed, start_spread_us=spread, modules=mix, flaky_share=flaky,
                           outages_per_day=per_day, outage_min_us=lo, outage_max_us=hi,
                           power_cycles_per_day=cycles, deadline_us=deadline, groups=groups,
                           move_share=move_share, move_to=move_to, move_window_us=window,
                           herd_factor=herd, source=self.name)

    def groups(self) -> tuple[Group, ...]:
        entries = self.data.get("group")
        if entries is None:
            return FleetConfig().groups
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) or not entries:
            raise self.err("group", "write each device group as a [[group]] table")
        out: list[Group] = []
        for i, entry in enumerate(entries, 1):
            where = f"[[group]] {i}"
            self.keys(entry, "group", where)
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise self.err(f"{where} name", f"give the group a name (not empty, no surrounding spaces), not {name!r}")
            where = f"[[group]] {name!r}"
            if any(g.name == name for g in out):
                raise self.err(where, "two groups have this name")
            if "share" in entry and "devices" in entry:
                raise self.err(where, "give share or devices, not both")
            share = self.number(entry, "share", where, 0.0, hi=1.0) if "share" in entry else None
            devices = self.integer(entry, "devices", where, 0)
            delay = self.duration(entry["delay"], f"{where} delay") if "delay" in entry else 0
            out.append(Group(name, share, devices, delay))
        rest = [g for g in out if g.share is None and g.devices is None]
        if len(rest) > 1:
            raise self.err("[[group]]", f"groups {rest[0].name!r} and {rest[1].name!r} both have no share: "
                                        "only one group may take the rest of the fleet")
        total = sum(g.share for g in out if g.share is not None)
        if total > 1.0 + 1e-9:
            raise self.err("[[group]]", f"the shares add up to {total:g}, more than the whole fleet (1)")
        if not rest and not any(g.devices is not None for g in out) and abs(total - 1.0) > 1e-9:
            raise self.err("[[group]]", f"the shares add up to {total:g}: make them add up to 1, or leave "
                                        "one group without a share to take the rest")
        return tuple(out)
