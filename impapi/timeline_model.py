"""What a timeline shows, computed from a run's structured events (:mod:`impapi.events`).

Pure data, no drawing: device state and connection intervals, outages, update lifecycles
(released → announced → handler called → deferred → applied) and point markers (restarts with
their cause, shutdown-handler calls, updates applied, forced updates, errors, power, agent
restarts). :mod:`impapi.timeline` draws it; its summary table reads it too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROUTINE_WAKES", "STATES", "Interval", "Marker", "TimelineModel", "UpdateSpan", "build_model"]

STATES = ("running", "booting", "asleep", "snoozing", "off")
# Wakes that are the app's own rhythm, not restarts worth a label: a deep sleep ending.
ROUTINE_WAKES = frozenset({"WAKEREASON_TIMER"})
_NO_DEVICE = None  # events without a "device" key belong to the one device


@dataclass(frozen=True)
class Interval:
    start_us: int
    end_us: int
    value: str  # a state, or "connected" / "offline"


@dataclass(frozen=True)
class Marker:
    """A point on a lane.

    kind: ``restart`` | ``wake`` (routine) | ``handler`` | ``deferred`` | ``update`` | ``error``
    | ``power`` | ``agent-restart`` | ``agent-start``."""

    time_us: int
    kind: str
    label: str
    detail: str
    update: str | None = None  # "squirrel" | "impos" for update-related markers
    forced: bool = False
    priority: int = 0  # higher: labelled first when labels compete for room


@dataclass
class UpdateSpan:
    """One update's life: from its release to its application (or the end of the run)."""

    update: str  # "squirrel" | "impos"
    version: str
    released_us: int
    announced_us: int | None = None
    handler_us: list[int] = field(default_factory=list)
    deferred_us: list[int] = field(default_factory=list)
    applied_us: int | None = None
    superseded_us: int | None = None  # a newer release of the same kind replaced it
    path: str | None = None
    forced: bool = False

    @property
    def end_us(self) -> int | None:
        return self.applied_us if self.applied_us is not None else self.superseded_us

    @property
    def title(self) -> str:
        return f"{'impOS' if self.update == 'impos' else 'Squirrel'} {self.version}"


@dataclass
class DeviceLane:
    key: Any
    name: str
    states: list[Interval] = field(default_factory=list)
    connection: list[Interval] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    boots: Counter = field(default_factory=Counter)  # reason name -> count
    # Pin and bus activity, one row per pin or bus: (time, "out" | "in", what happened).
    io: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)


@dataclass
class TimelineModel:
    duration_us: int
    devices: list[DeviceLane]
    agent_markers: list[Marker]
    agent_start_us: int | None
    updates: list[UpdateSpan]
    outages: list[tuple[int, int]]
    errors: int = 0

    @property
    def agent(self) -> bool:
        return self.agent_start_us is not None

    def state_totals(self, lane: DeviceLane) -> dict[str, int]:
        totals = dict.fromkeys(STATES, 0)
        for iv in lane.states:
            totals[iv.value] = totals.get(iv.value, 0) + iv.end_us - iv.start_us
        return totals

    def connected_us(self, lane: DeviceLane) -> int:
        return sum(iv.end_us - iv.start_us for iv in lane.connection if iv.value == "connected")


IO_KINDS = frozenset({"pin", "pin-in", "i2c", "spi", "uart", "uart-rx", "dac", "bluetooth"})


def io_text(kind: str, d: dict) -> str:
    """A pin or bus event in a few words, for a tooltip."""
    if kind == "pin":
        if "duty" in d:
            return f"duty {d['duty']:.3g}"
        return f"wrote {d.get('value')}"
    if kind == "pin-in":
        return f"driven to {d['analog']}" if "analog" in d else \
            ("released" if d.get("level") is None else f"driven {d.get('level')}")
    if kind == "i2c":
        what = f"0x{d.get('address', 0):02X} wrote {d.get('write') or '-'}"
        if d.get("read") is not None:
            what += f" read {d['read']}"
        return what + (f" error {d['error']}" if d.get("error") else "")
    if kind == "spi":
        return "chip select " + str(d["chipselect"]) if "chipselect" in d else f"wrote {d.get('write')} read {d.get('read')}"
    if kind in ("uart", "uart-rx"):
        return ("sent " if kind == "uart" else "received ") + str(d.get("data", ""))
    if kind == "dac":
        return f"{d.get('samples')} samples at {d.get('rate')} Hz"
    return str(d.get("action", kind))


def short_reason(name: str) -> str:
    return name.removeprefix("WAKEREASON_")


_PATH_WORDS = {
    "polite": "polite", "no-handler": "no handler", "power-cycle": "power cycle", "force": "force restart",
    "group-move": "group move", "deadline": "deadline", "restart": "on restart",
}


def path_words(path: str | None) -> str:
    return _PATH_WORDS.get(path or "", path or "")


def build_model(events: Iterable[Any], duration_us: int | None = None) -> TimelineModel:
    """The timeline of ``events`` (``impapi.events.Event`` or anything with ``time_us``, ``kind``
    and ``data``). ``duration_us`` is where the time axis ends (default: the last event)."""
    events = sorted(events, key=lambda e: e.time_us)  # stable: same-time events keep their order
    last = max((e.time_us for e in events), default=0)
    end = max(duration_us if duration_us is not None else last, last, 1)

    lanes: dict[Any, DeviceLane] = {}
    state_log: dict[Any, list[tuple[int, str]]] = {}
    conn_log: dict[Any, list[tuple[int, bool]]] = {}
    power: dict[Any, list[tuple[int, bool]]] = {}
    agent_markers: list[Marker] = []
    agent_start: int | None = None
    spans: list[UpdateSpan] = []
    open_spans: dict[str, UpdateSpan] = {}
    outages: list[tuple[int, int]] = []
    errors = 0

    def lane(e: Any) -> DeviceLane:
        key = e.data.get("device", _NO_DEVICE)
        if key not in lanes:
            lanes[key] = DeviceLane(key, "Device" if key is None else f"Device {key}")
        return lanes[key]

    def span_for(d: dict, t: int) -> UpdateSpan:
        kind, version = d.get("update", "squirrel"), str(d.get("version", "?"))
        span = open_spans.get(kind)
        if span is None or span.version != version:
            if span is not None:
                span.superseded_us = t
            span = UpdateSpan(kind, version, t)
            spans.append(span)
            open_spans[kind] = span
        return span

    for e in events:
        t, kind, d = e.time_us, e.kind, e.data
        if kind == "state":
            state_log.setdefault(lane(e).key, []).append((t, d.get("state", "running")))
        elif kind == "connection":
            conn_log.setdefault(lane(e).key, []).append((t, bool(d.get("connected"))))
        elif kind == "boot":
            ln = lane(e)
            name = d.get("reason_name") or f"wake reason {d.get('wakereason')}"
            ln.boots[name] += 1
            if name in ROUTINE_WAKES:
                ln.markers.append(Marker(t, "wake", "", f"woke: {name}"))
            else:
                ln.markers.append(Marker(t, "restart", short_reason(name),
                                         f"Squirrel started: {name} ({d.get('wakereason')})", priority=2))
        elif kind == "power":
            power.setdefault(lane(e).key, []).append((t, bool(d.get("on"))))
        elif kind == "error":
            errors += 1
            message = str(d.get("message", ""))
            lane(e).markers.append(Marker(t, "error", "error", f"runtime error: {message}", priority=3))
        elif kind == "outage":
            start = d.get("start_us", t)
            stop = d.get("end_us")
            outages.append((start, end if stop is None else stop))
        elif kind == "agent-restart":
            if agent_start is None:
                agent_start = t
                agent_markers.append(Marker(t, "agent-start", "", "agent started"))
            else:
                agent_markers.append(Marker(t, "agent-restart", "restart", "Agent restarted: reload.", priority=1))
        elif kind == "update":
            stage = d.get("stage")
            span = span_for(d, t)
            span.forced = span.forced or bool(d.get("forced"))
            who = span.title
            if stage == "announced":
                span.announced_us = t if span.announced_us is None else span.announced_us
            elif stage == "handler-called":
                span.handler_us.append(t)
                reason = "NEWFIRMWARE" if span.update == "impos" else "NEWSQUIRREL"
                lane(e).markers.append(Marker(t, "handler", f"handler({reason})",
                                              f"shutdown handler called with SHUTDOWN_{reason} for {who}",
                                              update=span.update, priority=4))
            elif stage == "deferred":
                span.deferred_us.append(t)
                lane(e).markers.append(Marker(t, "deferred", "deferred",
                                              f"{who} deferred: the app slept without server.restart()",
                                              update=span.update, priority=1))
            elif stage == "applied":
                span.applied_us = t
                span.path = d.get("path")
                span.forced = bool(d.get("forced"))
                open_spans.pop(span.update, None)
                how = path_words(span.path)
                if span.forced:
                    label = f"FORCED {who}" + (f" · {how}" if how else "")
                else:
                    label = who + (f" · {how}" if how and span.path != "polite" else "")
                lane(e).markers.append(Marker(t, "update", label, f"{who} applied ({how or 'unknown path'})",
                                              update=span.update, forced=span.forced,
                                              priority=6 if span.forced else 5))
            # "released" (and unknown stages) only open the span
        elif kind in IO_KINDS:
            line = str(d.get("pin") or d.get("bus") or kind)
            lane(e).io.setdefault(line, []).append((t, "in" if kind in ("pin-in", "uart-rx") else "out",
                                                    io_text(kind, d)))

    # Power: an off and an on at the same instant are one power cycle.
    for key, changes in power.items():
        ln = lanes[key]
        i = 0
        while i < len(changes):
            t, on = changes[i]
            if not on and i + 1 < len(changes) and changes[i + 1] == (t, True):
                ln.markers.append(Marker(t, "power", "power cycle", "power cut and restored", priority=3))
                i += 2
                continue
            if on and t == 0 and i == 0:
                i += 1  # the device being switched on at the start is not news
                continue
            ln.markers.append(Marker(t, "power", "power on" if on else "power off",
                                     "power restored" if on else "power cut", priority=3))
            i += 1

    for key, states in state_log.items():
        lanes[key].states = _intervals(states, end)
    for key, changes in conn_log.items():
        ln = lanes[key]
        first = state_log.get(key, [(changes[0][0], "")])[0][0]
        ln.connection = _intervals([(first, "offline")] + [(t, "connected" if c else "offline") for t, c in changes], end)
    for ln in lanes.values():
        # A restart that applies an update is told by the update's own label (the wake reason
        # stays in the tooltip): one label per event keeps busy stretches readable.
        update_times = {mk.time_us for mk in ln.markers if mk.kind == "update"}
        ln.markers = [Marker(mk.time_us, mk.kind, "", mk.detail, priority=mk.priority)
                      if mk.kind == "restart" and mk.time_us in update_times else mk for mk in ln.markers]
        if not ln.connection and ln.states:
            ln.connection = [Interval(ln.states[0].start_us, end, "offline")]
        ln.markers.sort(key=lambda m: m.time_us)

    devices = sorted(lanes.values(), key=lambda ln: (ln.key is not None, str(ln.key)))
    return TimelineModel(end, devices, agent_markers, agent_start, spans,
                         [(s, max(s, min(x, end))) for s, x in outages], errors)


def _intervals(changes: list[tuple[int, str]], end: int) -> list[Interval]:
    """Intervals from (time, value) changes: each value holds until the next change. Zero-length
    intervals are kept (Squirrel runs in zero virtual time; a wake still happened)."""
    out: list[Interval] = []
    for i, (t, value) in enumerate(changes):
        stop = changes[i + 1][0] if i + 1 < len(changes) else max(end, t)
        if out and out[-1].value == value and out[-1].end_us == t:
            out[-1] = Interval(out[-1].start_us, stop, value)
        else:
            out.append(Interval(t, stop, value))
    return out
