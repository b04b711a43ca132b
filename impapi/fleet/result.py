"""A fleet's result, merged on the client: the per-device table, the rollout and load curves, the
summary (times to 50/95/99/100 %, devices never updated, the thundering-herd finding) and the
outliers, each with the ``impsim run`` command that replays it.

Everything here is computed from the outcomes and counts alone, in device order, so the same
fleet gives the same result — and the same JSON, byte for byte — however it was sharded.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durations import format_duration
from .devices import Plan
from .observe import FIELDS, PATHS, DeviceOutcome
from .shard import BIN_US, ShardResult

__all__ = ["FleetResult", "Merger", "Outlier"]

MILESTONES = (50, 95, 99, 100)
SERIES = ("messages", "http", "connects")
FORCED = ("power-cycle", "force", "group-move", "deadline")


class Merger:
    """Collects shards as they complete, in any order."""

    def __init__(self, devices: int, bins: int) -> None:
        self.outcomes: list[DeviceOutcome | None] = [None] * devices
        self.load = {name: [0] * bins for name in SERIES}
        self.done = 0

    def add(self, shard: ShardResult) -> None:
        for name in SERIES:
            total, part = self.load[name], getattr(shard, name)
            for i, v in enumerate(part):
                if v:
                    total[i] += v
        for o in shard.outcomes:
            self.outcomes[o.index] = o
        self.done += len(shard.outcomes)

    def result(self, plan: Plan, device: str, agent: str | None) -> FleetResult:
        missing = [i for i, o in enumerate(self.outcomes) if o is None]
        if missing:
            raise RuntimeError(f"{len(missing)} devices have no outcome (first: {missing[0]})")
        return FleetResult(plan, device, agent, self.outcomes, self.load)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Outlier:
    kind: str
    index: int
    why: str
    command: str


class FleetResult:
    """``devices``: one :class:`DeviceOutcome` per device, in index order; ``load``: counts per
    minute of ``messages`` (device→agent), ``http`` (agent outbound requests) and ``connects``."""

    def __init__(self, plan: Plan, device: str, agent: str | None, devices: list[DeviceOutcome],
                 load: dict[str, list[int]]) -> None:
        self.plan = plan
        self.device_file = device
        self.agent_file = agent
        self.devices = devices
        self.load = load
        self.bin_us = BIN_US

    # --- the table ------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """The per-device table as plain rows (one dict per device, in index order)."""
        return [o.to_json() for o in self.devices]

    def table(self) -> Any:
        """The per-device table as a pandas DataFrame (indexed by device), or rows without pandas."""
        try:
            import pandas
        except ImportError:
            return self.rows()
        return pandas.DataFrame(self.rows(), columns=list(FIELDS)).set_index("index")

    # --- curves ---------------------------------------------------------------------------------

    @property
    def bins(self) -> int:
        return len(self.load["messages"])

    def rollout(self) -> dict[str, list[int]]:
        """Devices updated by the end of each minute, cumulative, one series per path (the paths
        that occur, in :data:`PATHS` order)."""
        n = self.bins
        counts: dict[str, list[int]] = {}
        for o in self.devices:
            if o.updated:
                series = counts.setdefault(o.path or "restart", [0] * n)
                series[min(n - 1, o.applied_us // self.bin_us)] += 1
        out = {}
        for path in PATHS:
            if path in counts:
                total, series = 0, []
                for v in counts[path]:
                    total += v
                    series.append(total)
                out[path] = series
        return out

    # --- the summary ----------------------------------------------------------------------------

    def milestones(self) -> dict[str, int | None]:
        """Time from the first release until 50/95/99/100 % of the fleet runs the release (None:
        not within the run)."""
        start = self.plan.first_release_us
        times = sorted(o.applied_us for o in self.devices if o.updated)
        n = len(self.devices)
        out: dict[str, int | None] = {}
        for pct in MILESTONES:
            need = math.ceil(pct * n / 100)
            out[f"{pct}%"] = (times[need - 1] - start if start is not None and need <= len(times) else None)
        return out

    def herd(self) -> dict[str, Any] | None:
        """Per load series: the busiest minute after the first release against the minutes before
        it. The reference is the busiest minute before the release (the peak the backend already
        takes), or, for traffic that did not exist before, the mean minute after it. A herd: a
        peak ``herd_factor`` times the reference and at least 5 above it. None without a release."""
        release = self.plan.first_release_us
        if release is None:
            return None
        first = min(self.bins, release // self.bin_us)
        settled = min(first, -(-self.plan.config.start_spread_us // self.bin_us))
        lo = settled if first - settled >= 10 else 0  # after the boots, when there is room for it
        factor = self.plan.config.herd_factor
        out = {}
        for name in SERIES:
            series = self.load[name]
            before, after = series[lo:first], series[first:]
            if not after:
                continue
            baseline = sum(before) / len(before) if before else 0.0
            usual = max(before) if before else 0
            peak = max(after)
            at = first + after.index(peak)
            reference = usual or sum(after) / len(after)
            out[name] = {
                "baseline_per_minute": round(baseline, 3), "busiest_before": usual, "peak_per_minute": peak,
                "peak_at": format_duration(at * self.bin_us), "peak_at_us": at * self.bin_us,
                "ratio": round(peak / reference, 2) if reference else None,
                "herd": peak >= factor * reference and peak >= reference + 5,
            }
        return out

    def summary(self) -> dict[str, Any]:
        devices = self.devices
        released = [o for o in devices if o.released_us is not None]
        paths = {p: 0 for p in PATHS}
        for o in devices:
            if o.updated:
                paths[o.path or "restart"] += 1
        return {
            "devices": len(devices),
            "released_to": len(released),
            "updated": sum(o.updated for o in devices),
            "by_path": {p: c for p, c in paths.items() if c},
            "forced": sum(paths[p] for p in FORCED),
            "never_updated": sum(o.pending for o in devices),
            "not_released": len(devices) - len(released),
            "crash_loops": sum(o.crash_loop_us is not None for o in devices),
            "deferrals": sum(o.deferrals for o in devices),
            "time_to": {k: None if v is None else format_duration(v) for k, v in self.milestones().items()},
            "messages": sum(o.messages for o in devices),
            "http_requests": sum(o.http_requests for o in devices),
            "herd": self.herd(),
        }

    # --- outliers -------------------------------------------------------------------------------

    def replay_command(self, index: int, relative_to: str | os.PathLike | None = None) -> str:
        """The ``impsim run`` command that replays device ``index`` alone, exactly."""
        return self.plan.replay_command(self.plan.spec(index), self.device_file, self.agent_file, relative_to)

    def outliers(self, relative_to: str | os.PathLike | None = None) -> list[Outlier]:
        """One representative device for each kind of outlier that occurs."""
        devices = self.devices
        picks: list[tuple[str, DeviceOutcome, str]] = []

        def pick(kind: str, candidates: list[DeviceOutcome], key: Any, why: Any) -> None:
            if candidates:
                o = min(candidates, key=lambda o: (key(o), o.index))
                picks.append((kind, o, why(o)))

        pick("never updated", [o for o in devices if o.pending], lambda o: o.released_us,
             lambda o: f"released to it at {format_duration(o.released_us)}, still pending at the end"
                       + (f" after {o.deferrals} deferrals" if o.deferrals else ""))
        pick("crash loop", [o for o in devices if o.crash_loop_us is not None], lambda o: o.crash_loop_us,
             lambda o: f"crash-looping from {format_duration(o.crash_loop_us)} ({o.errors} errors)")
        for path in ("no-handler", *FORCED):
            pick(f"updated by {path}", [o for o in devices if o.updated and o.path == path],
                 lambda o: o.applied_us,
                 lambda o: f"updated at {format_duration(o.applied_us)} by {o.path}")
        updated = [o for o in devices if o.updated and o.released_us is not None]
        pick("slowest update", updated, lambda o: -(o.applied_us - o.released_us),
             lambda o: f"updated {format_duration(o.applied_us - o.released_us)} after the release reached it "
                       f"({o.path})")
        pick("most deferrals", [o for o in devices if o.deferrals], lambda o: -o.deferrals,
             lambda o: f"deferred the update {o.deferrals} times")
        traffic = sorted(o.messages + o.http_requests for o in devices)
        typical = traffic[len(traffic) // 2]
        pick("busiest", [o for o in devices if o.messages + o.http_requests >= max(1, 2 * typical)],
             lambda o: -(o.messages + o.http_requests),
             lambda o: f"{o.messages} messages and {o.http_requests} agent HTTP requests "
                       f"(the median device: {typical})")
        return [Outlier(kind, o.index, why, self.replay_command(o.index, relative_to)) for kind, o, why in picks]

    # --- outputs --------------------------------------------------------------------------------

    def to_json(self, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
        """The whole result as plain data: summary, curves, outliers and per-device outcomes."""
        plan = self.plan
        return {
            "fleet": {"devices": plan.devices, "seed": plan.seed, "duration": format_duration(plan.duration_us),
                      "events": [e.to_cli(relative_to) for e in plan.events],
                      "device": _rel(self.device_file, relative_to),
                      "agent": None if self.agent_file is None else _rel(self.agent_file, relative_to),
                      "file": plan.config.to_json()},
            "summary": self.summary(),
            "curves": {"bin": format_duration(self.bin_us), "rollout": self.rollout(), "load": self.load},
            "outliers": [{"kind": x.kind, "device": x.index, "why": x.why, "replay": x.command}
                         for x in self.outliers(relative_to)],
            "devices": self.rows(),
        }

    def json_text(self, relative_to: str | os.PathLike | None = None) -> str:
        return json.dumps(self.to_json(relative_to), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"

    def write_csv(self, path: str | os.PathLike) -> Path:
        from .report import write_csv

        return write_csv(self, path)

    def write_report(self, path: str | os.PathLike) -> Path:
        """The report as ``.html`` (the picture, the summary, the outliers), ``.svg`` or ``.png``."""
        from .report import write_report

        return write_report(self, path)

    def plot(self, path: str | os.PathLike | None = None) -> Any:
        """The rollout and load picture: written to ``path`` (.svg, .png or .html) when given,
        else returned as SVG (shown inline in Jupyter)."""
        from .chart import Picture, render_svg

        if path is not None:
            return self.write_report(path)
        return Picture(render_svg(self))


def _rel(path: str, base: str | os.PathLike | None) -> str:
    base = os.path.abspath(base if base is not None else os.getcwd())
    try:
        return os.path.relpath(path, base).replace(os.sep, "/")
    except ValueError:
        return path
