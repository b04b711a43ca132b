"""Checks over a played run, drawn from the polite-deployment best practices (the seed,
``polite-impos-deployment.txt``).

Each check takes a :class:`~impapi.testing.fuzz.run.Run` (what :func:`play` returns; the
:class:`~impapi.replay.Replay` :meth:`impapi.Simulation.play` returns will do) and raises a
:class:`PoliteViolation` — an ``AssertionError`` — whose message names the rule, quotes the
seed, says when it happened and points at the app's ``file:line`` when it can. ``polite(run)``
runs the default set. Definitions:

``handler_registered_first`` (handler-first)
    In every boot, ``server.onshutdown`` is called (event ``handler-registered``) before the
    first server contact (``server-contact``: ``agent.send``, ``server.log``, ...).
    ``when="pending"`` flags only contacts made while an update was pending (released, not yet
    applied) — the ones that can restart the device under the app.
``restart_before_sleep`` (restart-before-sleep)
    Once the shutdown handler has been told of an update (``update``/``handler-called``), the
    device does not go to deep sleep (``state``/``asleep``) before that update is applied.
``update_applied_within`` (update-applied)
    An update is applied within ``bound`` (default 1 h) of the device hearing of it
    (``announced``; ``since="released"`` counts from the release). Only time the device could
    act counts: outages and power-off time are not counted. An update still pending at the end
    of the run is a violation only once ``bound`` has passed.
``no_forced_update_mid_write`` (no-forced-mid-write)
    No boot is ended by an update the app did not consent to (``paths``, default no-handler and
    deadline) while it was mid-write. Critical sections are declared (``critical``: a function
    of the run returning ``(start_us, end_us)`` intervals, or a pair of regexes over device log
    lines opening and closing one) or inferred from the flash: a boot's writes form a
    *transaction* while each touches or overlaps the address span of the ones before (an erase
    spans its sector); transactions of boots that ended by the app's own choice are complete,
    and the last transaction of a boot ended by the update is *incomplete* if it spans fewer
    bytes than the smallest complete one. (Power cycles, forced deployments and group moves are
    the world's doing, not the app's, and are left out unless ``paths`` includes them.)
``data_persists`` (data-persists)
    What the app claimed stored is still there at the end. By default a claim is a device log
    line matching ``claim`` (default ``^stored\\b``), covering the bytes its boot had written
    by then; a claim is broken if any of those bytes differ at the end. ``declare`` replaces
    that with the app's own statement: a function of the run returning problems (strings), for
    instance :func:`log_records` (log lines vs records decoded from the flash).
``no_crash_loop`` (no-crash-loop)
    No ``Config.crash_loop_boots`` (default 5) runs in a row end in an error restart (an uncaught
    error, the watchdog, out of memory): the rule of :mod:`impapi.crashloop`, which ``impsim
    run`` applies too.
``no_simultaneous_restart`` (no-simultaneous-restart)
    A deployment does not restart the device at the same instant (within ``window_us``,
    default 0) as it restarts the agent: when the device, online at the release of deployment *v*,
    was told of it (``announced`` or ``handler-called``), its restart applying *v* (``applied``) is
    not at the time *v* was released, when the agent restarted. (A deployment that lands as the
    device happens to restart for another reason — another update, a boot — or as an offline
    device happens to connect is the world's timing, not the app's, and is not flagged; nor are
    power cycles, forced deployments and group moves.)

Custom checks are callables ``check(run)`` that raise ``AssertionError`` or return a problem
(a string, a list of strings, or False); pass them as ``polite(run, extra=[...])`` or wrap one
with :func:`custom`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from impapi.crashloop import CrashStreak
from impapi.durations import format_duration, parse_duration

from .run import Boot, Run
from .source import Site, error_site

__all__ = [
    "CHECKS", "DEFAULTS", "CrashLoop", "CustomCheckFailed", "DataLost", "ForcedUpdateMidWrite",
    "HandlerNotFirst", "PoliteViolation", "SimultaneousRestart", "SleptOnPendingUpdate",
    "UpdateNotApplied", "custom", "data_persists", "handler_registered_first", "log_records",
    "no_crash_loop", "no_forced_update_mid_write", "no_simultaneous_restart", "polite",
    "restart_before_sleep", "select", "update_applied_within",
]

SEED = "polite-impos-deployment"

# --- violations -----------------------------------------------------------------------------


class PoliteViolation(AssertionError):
    """A broken rule. ``check`` names the check, ``rule`` quotes the seed, ``time_us`` is when
    (virtual time from the start of the run), ``where`` the app's file:line when known."""

    check = "polite"
    rule = ""

    def __init__(self, message: str, *, time_us: int | None = None, where: Iterable[Site | str] = (),
                 details: Iterable[str] = (), check: str | None = None) -> None:
        if check is not None:
            self.check = check
        self.summary = message
        self.time_us = time_us
        self.where = [w for w in where if w]
        self.details = list(details)
        self.others: list[PoliteViolation] = []
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"[{self.check}] {self.summary}"]
        if self.time_us is not None:
            lines[0] = f"[{self.check}] at {format_duration(self.time_us)}: {self.summary}"
        for w in self.where:
            lines.append(f"  app:  {w.show() if isinstance(w, Site) else w}")
        lines += [f"  {d}" for d in self.details]
        if self.rule:
            lines.append(f"  rule: \"{self.rule}\" ({SEED})")
        for other in self.others:
            lines.append(f"  also: [{other.check}] {other.summary}")
        return "\n".join(lines)

    def add_others(self, others: list["PoliteViolation"]) -> None:
        self.others = others
        self.args = (self._text(),)

    def __str__(self) -> str:
        return self.args[0] if self.args else self._text()


class HandlerNotFirst(PoliteViolation):
    check = "handler-first"
    rule = ("Call server.onshutdown() as soon as possible in your application code to ensure that it "
            "is ready — polite deployment is not available to your application until this imp API "
            "method is called.")


class SleptOnPendingUpdate(PoliteViolation):
    check = "restart-before-sleep"
    rule = ("Applications which put devices into deep sleep should ensure they make their "
            "server.restart() call before they next sleep.")


class UpdateNotApplied(PoliteViolation):
    check = "update-applied"
    rule = ("we do not recommend delaying the update indefinitely as this could compromise device "
            "security.")


class ForcedUpdateMidWrite(PoliteViolation):
    check = "no-forced-mid-write"
    rule = ("By registering a shutdown handler function, developers can delay the upgrade and run "
            "code to perform housekeeping tasks such as storing device settings in persistent "
            "storage such as external SPI flash.")


class DataLost(PoliteViolation):
    check = "data-persists"
    rule = ("developers can delay the upgrade and run code to perform housekeeping tasks such as "
            "storing device settings in persistent storage such as external SPI flash.")


class CrashLoop(PoliteViolation):
    check = "no-crash-loop"
    rule = "polite deployment is only available when Squirrel is running."


class SimultaneousRestart(PoliteViolation):
    check = "no-simultaneous-restart"
    rule = ("Take care that device and agent restarts are suitably timed to prevent post-restart "
            "communications with their own servers and third-party services from occurring "
            "simultaneously.")


class CustomCheckFailed(PoliteViolation):
    check = "custom"


# --- helpers --------------------------------------------------------------------------------

CONSENTED_PATHS = frozenset({"polite", "restart"})
WORLD_PATHS = frozenset({"power-cycle", "force", "group-move"})  # updates the app cannot hold back


_kind = itemgetter(1)  # an Event's kind (a plain index: the attribute goes through a descriptor)


def _kinds(run: Run) -> tuple[str, dict[str, list[int]]]:
    """The run's event kinds, each between NULs ("\\0boot\\0state\\0...\\0"), and the indices
    of the events of each kind asked for so far; kept while the run does not grow. Most checks
    read a few rare events (updates, outages, errors): the string's searches (in C) find them
    without a Python step per event of the run (a two-day run of a sleepy app records ~1,500)."""
    events = run.events
    cached = run.__dict__.get("_event_kinds")
    if cached is None or cached[0] != len(events):
        cached = (len(events), "\0" + "\0".join(map(_kind, events)) + "\0", {})
        run.__dict__["_event_kinds"] = cached
    return cached[1], cached[2]


_FILE_ALL = "\0"  # a key of _kinds' dict: every kind of the run has been filed


def _of_kind(run: Run, kind: str) -> list[int]:
    """Indices of the run's events of ``kind``, in order."""
    recorded = run.replay.indices(kind)  # the few events of some kinds, indexed as they happened
    if recorded is not None:
        return recorded
    text, found = _kinds(run)
    indices = found.get(kind)
    if indices is not None:
        return indices
    if _FILE_ALL in found:
        return []
    name = f"\0{kind}\0"
    if text.count(name) > 32:
        # A common kind (states, connections): a search per event of it costs more than one
        # Python pass filing every event by kind, which then serves every later question.
        by_kind: dict[str, list[int]] = {}
        for i, k in enumerate(map(_kind, run.events)):
            try:
                by_kind[k].append(i)
            except KeyError:
                by_kind[k] = [i]
        for k, of_kind in by_kind.items():
            found.setdefault(k, of_kind)  # (the kinds searched for already are complete)
        found[_FILE_ALL] = []
        return found.get(kind, [])
    found[kind], found[name] = _search(text, name)
    return found[kind]


def _search(text: str, name: str) -> tuple[list[int], list[int]]:
    """The indices of the events whose kind is ``name`` (between NULs) in the kind string, and
    where each starts in it (its separator)."""
    indices: list[int] = []
    positions: list[int] = []
    find, count = text.find, text.count
    at = last = 0
    pos = find(name)
    while pos >= 0:  # an event's index: the separators before it
        at += count("\0", last, pos)
        last = pos
        indices.append(at)
        positions.append(pos)
        pos = find(name, pos + 1)
    return indices, positions


def _at(run: Run, kind: str, index: int) -> int:
    """Where event ``index`` (of ``kind``) starts in the kind string, or -1 if the kind's events
    were filed by the Python pass instead (its positions are not known)."""
    text, found = _kinds(run)
    name = f"\0{kind}\0"
    positions = found.get(name)
    if positions is None:
        if run.replay.indices(kind) is None:
            return -1
        indices, positions = _search(text, name)
        found[kind], found[name] = indices, positions
    return positions[bisect_left(found[kind], index)]


def _select(run: Run, *kinds: str, since: int = 0) -> list[tuple[int, Any]]:
    """(index, event) of the run's events of ``kinds`` from index ``since`` on, in order."""
    indices: list[int] = []
    for k in kinds:
        of_kind = _of_kind(run, k)
        indices += of_kind[bisect_left(of_kind, since):] if since else of_kind
    if len(kinds) > 1:
        indices.sort()
    events = run.events
    return [(i, events[i]) for i in indices]


def _t(us: int | None) -> str:
    return "the end" if us is None else format_duration(us)


def _rel(run: Run, us: int) -> int:
    return us - run.start_us


def _pending_at(run: Run, upto_index: int) -> dict[str, int]:
    """{update kind: release time} of updates released and not applied before event ``upto_index``."""
    pending: dict[str, int] = {}
    for e in run.events[:upto_index]:
        if e.kind == "update":
            stage, kind = e.data.get("stage"), e.data.get("update")
            if stage == "released":
                pending.setdefault(kind, e.time_us)
            elif stage == "applied":
                pending.pop(kind, None)
    return pending


def _handler_sites(app: Any) -> list[Site | str]:
    if app is None:
        return []
    return list(app.onshutdown[:1]) or [f"{app.filename}: no server.onshutdown() call"]


def _boot_label(b: Boot, run: Run, booted: bool = False) -> str:
    if booted:
        return f"boot {b.index + 1} ({b.reason_name or b.wakereason}, booted {format_duration(_rel(run, b.time_us))})"
    return f"boot {b.index + 1} ({b.reason_name or b.wakereason}) at {format_duration(_rel(run, b.time_us))}"


# --- the checks -----------------------------------------------------------------------------


def _handler_first(run: Run, when: str = "always") -> Iterator[PoliteViolation]:
    if when not in ("always", "pending"):
        raise ValueError(f"when= takes 'always' or 'pending', not {when!r}")
    if when == "always" and not _contact_first(run):
        return
    bad: list[tuple[int, Any, int]] = []  # (boot index, the contact, its event index)
    boot, settled = -1, True  # settled: this boot registered its handler or was flagged already
    # A boot runs from its boot event to the next one (Run.boots).
    for k, e in _select(run, "boot", "handler-registered", "server-contact"):
        kind = e.kind
        if kind == "boot":
            boot, settled = boot + 1, False
        elif settled:
            continue
        elif kind == "handler-registered":
            settled = True
        elif when == "pending" and not _pending_at(run, k):
            continue
        else:
            bad.append((boot, e, k))
            settled = True
    if not bad:
        return
    i, e, k = bad[0]
    b = run.boots()[i]
    app = run.app_of(b)
    where: list[Site | str] = []
    if e.data.get("file"):  # where the app made the contact, recorded by the simulator
        if app is not None and e.data["file"] == app.filename:
            where.append(app.site(e.data["line"]))
        else:
            where.append(f"{e.data['file']}:{e.data.get('line')} (the first server contact)")
    elif app is not None:
        culprits = app.contacts_before_handler()
        where += culprits[:3]
    if app is not None:
        where += app.onshutdown[:1] or [f"{app.filename}: no server.onshutdown() call at all"]
    pending = _pending_at(run, k)
    extra = [f"an update ({', '.join(pending)}) was pending then" if pending else
             "no update was pending then, but one released at that moment would restart the device"]
    if len(bad) > 1:
        extra.append(f"{len(bad)} boots in all, the first shown")
    yield HandlerNotFirst(
        f"{_boot_label(b, run)} contacted the server before registering its shutdown handler",
        time_us=_rel(run, e.time_us), where=where, details=extra)


# A boot whose first server contact or handler registration is a contact: the kinds from the
# boot's to the contact's, none of them a handler registration or another boot.
_CONTACT_FIRST = re.compile(r"\0boot\0(?:(?!boot\0|handler-registered\0|server-contact\0)[^\0]*\0)*?server-contact\0")


def _contact_first(run: Run) -> bool:
    """Whether the walk in _handler_first would flag a boot (with ``when="always"``), asked of
    the run's kinds (one regular-expression search, in C) first: most runs have none, and the
    walk is ~560 Python steps in a two-day run of a sleepy app (a boot, a registration and a
    contact every 15 minutes)."""
    return _CONTACT_FIRST.search(_kinds(run)[0]) is not None


def handler_registered_first(run: Run, *, when: str = "always") -> None:
    """The shutdown handler is registered before the first server contact of every boot."""
    run = Run.of(run)
    _raise_first(_handler_first(run, when))


def _restart_before_sleep(run: Run) -> Iterator[PoliteViolation]:
    told: dict[str, int] = {}  # update kind -> when the handler heard of it (this boot)
    # Nothing is told before the first handler call: the walk starts there.
    first = next((i for i, e in _select(run, "update") if e.data.get("stage") == "handler-called"), None)
    if first is None or not _may_sleep_told(run):
        return
    for i, e in _select(run, "boot", "update", "state", since=first):
        if e.kind == "boot":
            told.clear()
        elif e.kind == "update":
            stage = e.data.get("stage")
            if stage == "handler-called":
                told.setdefault(e.data.get("update"), e.time_us)
            elif stage == "applied":
                told.pop(e.data.get("update"), None)
        elif e.kind == "state" and e.data.get("state") == "asleep" and told:
            kind, t = next(iter(told.items()))
            app = run.app_of(run.boot_at(i))
            where: list[Site | str] = []
            if app is not None:
                where += app.sleeps[:2]
                where += app.onshutdown[:1]
            yield SleptOnPendingUpdate(
                f"the device went to deep sleep with the {kind} update it was told of at "
                f"{format_duration(_rel(run, t))} still pending (no server.restart() first)",
                time_us=_rel(run, e.time_us), where=where)
            return


def _may_sleep_told(run: Run) -> bool:
    """False when no deep sleep follows a handler call before the boot ends or that update is
    applied, so the walk in _restart_before_sleep cannot flag one: found from the updates (few)
    and the kind string, where the walk takes a Python step per boot, update and state change
    after the first handler call (~600 in a two-day run of a sleepy app)."""
    text, _ = _kinds(run)
    events = run.events
    updates = _select(run, "update")
    for j, (i, e) in enumerate(updates):
        if e.data.get("stage") != "handler-called":
            continue
        start = _at(run, "update", i)
        if start < 0:
            return True  # the kinds were filed in Python: let the walk decide
        end = text.find("\0boot\0", start + 1)
        kind = e.data.get("update")
        applied = next((k for k, later in updates[j + 1:]
                        if later.data.get("update") == kind and later.data.get("stage") == "applied"), None)
        if applied is not None:
            at = _at(run, "update", applied)
            end = at if end < 0 else min(end, at)
        at, pos = i, start
        while True:  # a state change up to the one just before the end (its separator is the end's)
            state = text.find("\0state\0", pos + 1, len(text) if end < 0 else end + 1)
            if state < 0:
                break
            at, pos = at + text.count("\0", pos, state), state
            if events[at].data.get("state") == "asleep":
                return True
    return False


def restart_before_sleep(run: Run) -> None:
    """When the handler has heard of an update, the app restarts before it deep-sleeps."""
    run = Run.of(run)
    _raise_first(_restart_before_sleep(run))


def _unavailable(run: Run) -> list[tuple[int, int]]:
    """Intervals when the device could not act on an update: outages and power off."""
    out: list[tuple[int, int]] = []
    off_since: int | None = None
    end = run.end_us
    for _i, e in _select(run, "outage", "power"):
        if e.kind == "outage":
            s, f = e.data.get("start_us", e.time_us), e.data.get("end_us")
            out.append((s, end if f is None else f))
        elif e.kind == "power":
            if not e.data.get("on") and off_since is None:
                off_since = e.time_us
            elif e.data.get("on") and off_since is not None:
                out.append((off_since, e.time_us))
                off_since = None
    if off_since is not None:
        out.append((off_since, end))
    return out


def _available_until(start: int, budget: int, gaps: list[tuple[int, int]], end: int) -> int | None:
    """The instant at which ``budget`` of available time has passed since ``start`` (None if not
    before ``end``)."""
    merged: list[list[int]] = []
    for s, f in sorted(gaps):
        if f <= start:
            continue
        s = max(s, start)
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], f)
        else:
            merged.append([s, f])
    t, left = start, budget
    for s, f in merged:
        if s - t >= left:
            break
        left -= max(0, s - t)
        t = max(t, f)
    at = t + left
    return at if at <= end else None


def _update_applied(run: Run, bound: str | int = "1h", since: str = "announced") -> Iterator[PoliteViolation]:
    if since not in ("announced", "released"):
        raise ValueError(f"since= takes 'announced' or 'released', not {since!r}")
    limit = parse_duration(bound)
    updates = [e for _i, e in _select(run, "update")]
    gaps = _unavailable(run)
    seen: set[tuple[str, int]] = set()
    for j, e in enumerate(updates):
        if e.data.get("stage") != "released":
            continue
        kind = e.data.get("update")
        start = e.time_us if since == "released" else None
        applied = None
        for later in updates[j + 1:]:
            if later.data.get("update") != kind:
                continue
            stage = later.data.get("stage")
            if stage == "announced" and start is None:
                start = later.time_us
            elif stage == "applied":
                applied = later.time_us
                break
        if start is None or (kind, start) in seen:
            continue  # the device never heard of it (or another release shares the announcement)
        seen.add((kind, start))
        due = _available_until(start, limit, gaps, run.end_us)
        if due is not None and (applied is None or applied > due):
            what = f"applied only at {format_duration(_rel(run, applied))}" if applied is not None else \
                "still not applied at the end of the run"
            app = run.device_app
            where: list[Site | str] = []
            if app is not None:
                where += app.onshutdown[:1] or [f"{app.filename}: no server.onshutdown() call"]
                where += app.restarts[:1] or [f"{app.filename}: no server.restart() call"]
            yield UpdateNotApplied(
                f"the {kind} update {e.data.get('version')} the device heard of at "
                f"{format_duration(_rel(run, start))} was not applied within {format_duration(limit)} "
                f"({what})", time_us=_rel(run, due), where=where,
                details=["outages and power-off time are not counted"] if gaps else [])
            return


def update_applied_within(run: Run, bound: str | int = "1h", *, since: str = "announced") -> None:
    """A pending update is applied within ``bound`` of the device hearing of it."""
    run = Run.of(run)
    _raise_first(_update_applied(run, bound, since))


@dataclass(frozen=True)
class _Txn:
    first: int  # op index
    last: int
    lo: int
    hi: int
    start_us: int
    end_us: int

    @property
    def span(self) -> int:
        return self.hi - self.lo


def _transactions(ops: Iterable[Any], first_index: int) -> list[_Txn]:
    out: list[_Txn] = []
    cur: list[Any] | None = None
    for i, op in enumerate(ops, first_index):
        lo, hi = op.addr, op.addr + op.length
        t = op.time_us or 0
        if cur is not None and lo <= cur[3] and hi >= cur[2]:  # touches or overlaps
            cur[1], cur[2], cur[3], cur[5] = i, min(cur[2], lo), max(cur[3], hi), t
        else:
            if cur is not None:
                out.append(_Txn(*cur))
            cur = [i, i, lo, hi, t, t]
    if cur is not None:
        out.append(_Txn(*cur))
    return out


def _run_end(run: Run, boot: Boot) -> int:
    """When a boot's Squirrel stopped: its first change to a state other than running (or its
    error), else the next boot (a restart at the same instant)."""
    for e in run.events[boot.first_event + 1:boot.end_event]:
        if e.kind == "state" and e.data.get("state") != "running" or e.kind == "error":
            return e.time_us
    return run.events[boot.end_event].time_us if boot.end_event < len(run.events) else run.end_us


def _critical_from_log(run: Run, begin: str, end: str) -> list[tuple[int, int | None, int]]:
    """(start, end or None, boot index) of sections opened and closed by device log lines."""
    b_re, e_re = re.compile(begin), re.compile(end)
    boots = run.boots()
    out: list[tuple[int, int | None, int]] = []
    open_at: int | None = None
    bi = 0
    for entry in run.device_log():
        while bi + 1 < len(boots) and boots[bi + 1].time_us <= entry.time_us:
            if open_at is not None:
                out.append((open_at, None, bi))
                open_at = None
            bi += 1
        if open_at is None and b_re.search(entry.text):
            open_at = entry.time_us
        elif open_at is not None and e_re.search(entry.text):
            out.append((open_at, entry.time_us, bi))
            open_at = None
    if open_at is not None:
        out.append((open_at, None, bi))
    return out


def _mid_write(run: Run, paths: Iterable[str] = ("no-handler", "deadline"),
               critical: Any = None) -> Iterator[PoliteViolation]:
    paths = frozenset(paths)
    if None not in paths and not any(e.data.get("stage") == "applied" and e.data.get("path") in paths
                                     for _i, e in _select(run, "update")):
        return  # no boot was started by such an update (Boot.started_by): nothing to make
    boots = run.boots()
    ops = run.flash_ops
    ended_by = {b.index - 1: b for b in boots if b.index and b.started_by in paths}
    if not ended_by:
        return
    if critical is not None:
        if isinstance(critical, tuple):
            sections = _critical_from_log(run, *critical)
        else:
            sections = [(s, f, -1) for s, f in critical(run)]
        for idx, nxt in sorted(ended_by.items()):
            prev = boots[idx]
            cut = _run_end(run, prev)
            for s, f, bi in sections:
                inside = (bi == idx) if bi >= 0 else (prev.time_us <= s <= cut)
                if inside and (f is None or f > cut):
                    yield ForcedUpdateMidWrite(
                        f"an update applied without the app's consent ({nxt.started_by}) stopped "
                        f"{_boot_label(prev, run, True)} at {format_duration(_rel(run, cut))}, inside a critical "
                        f"section opened at {format_duration(_rel(run, s))}", time_us=_rel(run, cut),
                        where=_handler_sites(run.app_of(prev)))
                    return
        return
    complete: list[_Txn] = []
    for b in boots:
        if b.index in ended_by:
            continue
        nxt = boots[b.index + 1] if b.index + 1 < len(boots) else None
        if nxt is not None and nxt.started_by not in CONSENTED_PATHS and nxt.started_by is not None:
            continue  # ended by something else the app did not choose
        complete += _transactions(ops[b.first_op:b.end_op], b.first_op)
    if not complete:
        return  # nothing to learn what a whole write looks like from
    smallest = min(t.span for t in complete)
    for idx, nxt in sorted(ended_by.items()):
        prev = boots[idx]
        txns = _transactions(ops[prev.first_op:prev.end_op], prev.first_op)
        if not txns or txns[-1].span >= smallest:
            continue
        last = txns[-1]
        where = _handler_sites(run.app_of(prev))
        cut = _run_end(run, prev)
        yield ForcedUpdateMidWrite(
            f"an update applied without the app's consent ({nxt.started_by}) stopped {_boot_label(prev, run, True)} "
            f"at {format_duration(_rel(run, cut))}, mid-write: its write at {format_duration(_rel(run, last.start_us))} "
            f"(0x{last.lo:X}..0x{last.hi:X}, {last.span} bytes) never completed (complete writes "
            f"span at least {smallest} bytes)", time_us=_rel(run, cut), where=where,
            details=["critical sections inferred from flash activity (declare them with critical=)"])
        return


def no_forced_update_mid_write(run: Run, *, paths: Iterable[str] = ("no-handler", "deadline"),
                               critical: Any = None) -> None:
    """No update the app did not consent to ends a boot while it is mid-write."""
    run = Run.of(run)
    _raise_first(_mid_write(run, paths, critical))


def _data_persists(run: Run, declare: Callable[[Run], Iterable[Any]] | None = None) -> Iterator[PoliteViolation]:
    if declare is not None:
        problems = [p for p in (_call_user(declare, getattr(declare, "__name__", "persist"), run) or ()) if p]
        if problems:
            first = problems[0]
            t, text = (first if isinstance(first, tuple) else (None, str(first)))
            more = [f"{len(problems) - 1} more: " + "; ".join(str(p[1] if isinstance(p, tuple) else p)
                                                             for p in problems[1:4])] if len(problems) > 1 else []
            yield DataLost(text, time_us=None if t is None else _rel(run, t), details=more)
        return
    fl = run.sim.flash
    if fl is None:
        return
    ops = run.flash_ops
    for claim in run.claims:
        for addr, data in claim.ranges:
            now = fl.peek(addr, len(data))
            if now == data:
                continue
            diff = next(i for i in range(len(data)) if now[i] != data[i])
            culprit = next((op for op in ops[claim.op_index:] if op.addr <= addr + diff < op.addr + op.length), None)
            boot = None
            if culprit is not None:
                boot = next((b for b in reversed(run.boots()) if b.time_us <= (culprit.time_us or 0)), None)
            details = [f"claimed: \"{claim.text}\""]
            if culprit is not None:
                details.append(f"changed by a flash {culprit.kind} at {format_duration(_rel(run, culprit.time_us or 0))}"
                               + (f" in {_boot_label(boot, run)}" if boot is not None else ""))
            yield DataLost(
                f"data the app stored at {format_duration(_rel(run, claim.time_us))} is gone: flash "
                f"0x{addr + diff:X} changed ({len(data)} bytes at 0x{addr:X} claimed)",
                time_us=_rel(run, claim.time_us), details=details)
            return


def data_persists(run: Run, *, declare: Callable[[Run], Iterable[Any]] | None = None) -> None:
    """What the app claimed stored is still in the flash at the end (see the module docstring)."""
    run = Run.of(run)
    _raise_first(_data_persists(run, declare))


def log_records(pattern: str, decode: Callable[[bytes], Iterable[tuple]], *, key: Callable[[dict], tuple] | None = None
                ) -> Callable[[Run], list[tuple[int, str]]]:
    """A ``declare`` for :func:`data_persists`: every device log line matching ``pattern`` (a
    regex with named groups) names a record that ``decode(flash_image)`` must yield at the end.
    Records compare as tuples of the named groups, converted to int where they are digits (or
    as ``key(groupdict)``)."""
    rx = re.compile(pattern)

    def convert(d: dict) -> tuple:
        if key is not None:
            return key(d)
        return tuple(int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v for v in d.values())

    def declare(run: Run) -> list[tuple[int, str]]:
        present = set(map(tuple, decode(run.flash_image())))
        problems = []
        for entry in run.device_log():
            m = rx.search(entry.text)
            if m and convert(m.groupdict()) not in present:
                when = format_duration(_rel(run, entry.time_us))
                problems.append((entry.time_us, f"\"{entry.text}\" ({when}) is not in the flash at the end"))
        return problems

    return declare


def _crash_loop(run: Run, boots: int | None = None) -> Iterator[PoliteViolation]:
    streak = CrashStreak(boots or run.sim.config.crash_loop_boots)  # the rule impsim run applies
    if not _select(run, "error"):
        return
    for _i, e in _select(run, "error", "boot", "power"):  # the kinds CrashStreak reads
        if streak.see(e):
            errors = streak.loop or []
            lines = [x.text for x in run.log if errors[0].time_us <= x.time_us and x.text.startswith("ERROR:")]
            site = error_site(lines, run.sources)
            yield CrashLoop(
                f"{len(errors)} boots in a row ended in an error restart ({errors[0].data.get('message')})",
                time_us=_rel(run, e.time_us), where=[site] if site else [],
                details=[f"first at {format_duration(_rel(run, errors[0].time_us))}"])
            return


def no_crash_loop(run: Run, *, boots: int | None = None) -> None:
    """No ``boots`` (default ``Config.crash_loop_boots``) error restarts in a row."""
    run = Run.of(run)
    _raise_first(_crash_loop(run, boots))


def _simultaneous(run: Run, window_us: int = 0) -> Iterator[PoliteViolation]:
    agent_restarts = [e.time_us for _i, e in _select(run, "agent-restart")]
    released: dict[str, int] = {}
    heard: set[str] = set()  # deployments the device was told of (announced, or its handler called)
    updates = _select(run, "update")
    if not agent_restarts or not updates:
        return  # no deployment restarted the agent (the test below never passes)
    events = run.events
    for i, e in updates:
        if e.data.get("update") != "squirrel":
            continue
        version, stage = e.data.get("version"), e.data.get("stage")
        if stage == "released":
            last = _last_before(run, "connection", i, "update")  # the last connection change before the release
            connected = last is not None and bool(events[last].data.get("connected"))
            if connected:  # offline, it hears when it next connects: when that is, is the world's doing
                released.setdefault(version, e.time_us)
        elif stage in ("announced", "handler-called"):
            heard.add(version)
        elif (stage == "applied" and version in released and version in heard
              and e.data.get("path") not in WORLD_PATHS):
            t_release = released[version]
            if not any(abs(t - t_release) <= window_us for t in agent_restarts):
                continue  # the agent did not restart with this deployment (a group move)
            if abs(e.time_us - t_release) <= window_us:
                yield SimultaneousRestart(
                    f"the device restarted for deployment {version} (path {e.data.get('path')}) at the same "
                    f"instant as the agent did" + (f" (within {format_duration(window_us)})" if window_us else ""),
                    time_us=_rel(run, e.time_us),
                    where=_handler_sites(run.app_of(run.boot_at(i))))
                return


def _last_before(run: Run, kind: str, index: int, of: str) -> int | None:
    """The index of the last event of ``kind`` before event ``index`` (an event of kind ``of``)."""
    text, _ = _kinds(run)
    pos = _at(run, of, index)
    if pos < 0:
        indices = _of_kind(run, kind)
        before = bisect_left(indices, index)
        return indices[before - 1] if before else None
    found = text.rfind(f"\0{kind}\0", 0, pos + 1)
    return None if found < 0 else index - text.count("\0", found, pos)


def no_simultaneous_restart(run: Run, *, window_us: int = 0) -> None:
    """Device and agent do not restart at the same instant."""
    run = Run.of(run)
    _raise_first(_simultaneous(run, window_us))


def custom(fn: Callable[[Run], Any], name: str | None = None) -> Callable[[Run], None]:
    """Turn ``fn(run)`` — raising ``AssertionError`` or returning a problem (a string, strings,
    or False) — into a check raising :class:`CustomCheckFailed`."""
    label = name or getattr(fn, "__name__", "custom check")

    def check(run: Run) -> None:
        _raise_first(_run_custom(fn, label, run))

    check.__name__ = label
    check._violations = lambda run: _run_custom(fn, label, run)  # type: ignore[attr-defined]
    return check


class CheckFunctionError(Exception):
    """A user's check function (custom, or data-persists' declaration) did not run: a bug in
    the check, not a finding about the app."""


def _call_user(fn: Callable[[Run], Any], label: str, run: Run) -> Any:
    try:
        return fn(run)
    except (PoliteViolation, AssertionError):
        raise
    except Exception as e:
        where = getattr(getattr(fn, "__code__", None), "co_filename", None)
        raise CheckFunctionError(f"the check {label}{f' ({where})' if where else ''} raised "
                                 f"{type(e).__name__}: {e}") from e


def _run_custom(fn: Callable[[Run], Any], label: str, run: Run) -> Iterator[PoliteViolation]:
    try:
        result = _call_user(fn, label, run)
    except PoliteViolation as v:
        yield v
        return
    except AssertionError as e:
        yield CustomCheckFailed(str(e) or "failed", check=label)
        return
    if result is None or result is True:
        return
    problems = [result] if isinstance(result, str) else (["returned False"] if result is False else list(result))
    if problems:
        yield CustomCheckFailed(str(problems[0]), details=[str(p) for p in problems[1:5]], check=label)


def _raise_first(violations: Iterator[PoliteViolation]) -> None:
    for v in violations:
        raise v


# --- the set ------------------------------------------------------------------------------------

# name -> a generator of that check's violations
CHECKS: dict[str, Callable[..., Iterator[PoliteViolation]]] = {
    "handler-first": _handler_first,
    "restart-before-sleep": _restart_before_sleep,
    "update-applied": _update_applied,
    "no-forced-mid-write": _mid_write,
    "data-persists": _data_persists,
    "no-crash-loop": _crash_loop,
    "no-simultaneous-restart": _simultaneous,
}
DEFAULTS = tuple(CHECKS)


def select(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Check names from ``"all"`` or a comma-separated list (errors list the valid names)."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names or names == ["all"]:
        return DEFAULTS
    bad = [n for n in names if n not in CHECKS]
    if bad:
        raise ValueError(f"unknown check {bad[0]!r}: valid checks are all, {', '.join(CHECKS)}")
    return tuple(dict.fromkeys(names))


def violations(run: Run, *, only: Iterable[str] | str = "all", bound: str | int = "1h", since: str = "announced",
               handler_when: str = "always", persist: Callable[[Run], Iterable[Any]] | None = None,
               critical: Any = None, forced_paths: Iterable[str] = ("no-handler", "deadline"),
               crash_boots: int | None = None, window_us: int = 0,
               extra: Iterable[Callable[[Run], Any]] = ()) -> list[PoliteViolation]:
    """Every check's first violation (in the order of :data:`CHECKS`, then ``extra``)."""
    run = Run.of(run)
    options: dict[str, dict[str, Any]] = {
        "handler-first": {"when": handler_when},
        "update-applied": {"bound": bound, "since": since},
        "no-forced-mid-write": {"paths": forced_paths, "critical": critical},
        "data-persists": {"declare": persist},
        "no-crash-loop": {"boots": crash_boots},
        "no-simultaneous-restart": {"window_us": window_us},
    }
    found = []
    if run.sim.fatal_error is not None:  # whatever the checks say of it, the run did not finish
        found.append(PoliteViolation(f"the run stopped: {run.sim.fatal_error}",
                                     time_us=run.sim.clock.now_us - run.start_us, check="run-completes"))
    for name in select(only):
        v = next(CHECKS[name](run, **options.get(name, {})), None)
        if v is not None:
            found.append(v)
    for fn in extra:
        gen = getattr(fn, "_violations", None)
        v = next(gen(run) if gen else _run_custom(fn, getattr(fn, "__name__", "custom check"), run), None)
        if v is not None:
            found.append(v)
    return found


def polite(run: Run, **options: Any) -> None:
    """Run the default checks (or ``only=``) and the ``extra`` custom ones; raise the first
    violation, with the others listed under it. Options: see :func:`violations`."""
    found = violations(run, **options)
    if found:
        first = found[0]
        first.add_others(found[1:])
        raise first
