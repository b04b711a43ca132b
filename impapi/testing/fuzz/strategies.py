"""Hypothesis strategies for scenarios: timed event lists over :mod:`impapi.scenario`'s
vocabulary.

Times are drawn three ways (hypothesis picks; shrinking prefers the first):

1. anywhere in the run (shrinks toward the start);
2. near the app's own activity — a boot, a flash write, a connection change, a deep sleep — at
   the same instant or a few milliseconds to seconds either side (so updates and power cuts
   land mid-write, just before a sleep, as the device talks to the server). The activity is
   that of an undisturbed run of the app (``app=``), computed once and cached, or given as
   ``activity=`` (instants in microseconds);
3. shortly after the event before it in the list (bursts: an update and a power cut together).

Lists shrink toward fewer events; kinds toward the first of ``events``; arguments toward the
first of their choices (the first impOS version, the shortest outage). With
``interleavings=True`` the example also draws the scenario's tie seed, the order of its
same-instant events (:mod:`.ties`); it shrinks toward 0, which means first-in first-out (no tie
seed). (Drawing it as a plain integer costs hypothesis less than seeding a registered
generator with ``st.random_module()``, which :mod:`.ties` still honours for tests that do.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from impapi.durations import MS, H, M, S, parse_duration
from impapi.scenario import EVENTS, Analog, Deploy, Http, Message, Pin, Scenario, ScenarioEvent

from . import ties

__all__ = ["DEFAULT_EVENTS", "activity_of", "event_kinds", "scenarios"]

ties.register()  # the entry point does this when impsim is installed; harmless twice

from . import DEFAULT_EVENTS  # noqa: E402  (re-exported)
IMPOS_VERSIONS = ("44.0", "44.1", "45.0")
OUTAGES = ("1m", "5m", "45m", "2h", "10s", "12h")
GROUPS = ("production", "staging")
# Offsets from an activity instant: the instant itself first (same-instant ties), then the
# latencies the simulation uses (message 50 ms, a slow write's 100 ms, the 2 s connect...).
NEAR = (0, 1, -1, 50 * MS, -50 * MS, 100 * MS, -100 * MS, 1 * S, -1 * S, 2 * S, 10 * S, 60 * S)
# Positions in the run are drawn as integers in [0, _N] (hypothesis shrinks integers well, toward
# 0: earlier) mapped two ways: linearly (fine-grained, for shrinking), and logarithmically, which
# turns hypothesis's roughly log-uniform integers into roughly uniform positions (drawn plainly,
# most events would fall in the first hour of a two-day run).
_N = 2**20
_LOG_N = math.log2(1 + _N)
AFTER = (0, 1, 50 * MS, 100 * MS, 1 * S, 2 * S, 10 * S, 1 * M, 10 * M)
_TIE_SEEDS = st.integers(0, 2**32 - 1)


def event_kinds() -> tuple[str, ...]:
    """Every event kind of the scenario vocabulary."""
    return tuple(EVENTS)


def _args(kind: str, *, versions: Sequence[str], outages: Sequence[int], deploys: Sequence[Deploy],
          messages: Sequence[str], paths: Sequence[str], pins: Sequence[str] = ("pin1",)) -> Any:
    """What an event of ``kind`` draws for its argument: a strategy, a pair of strategies (one of
    the two: drawn flat by :func:`_event`), or None (no argument, nothing drawn)."""
    if kind == "impos":
        return st.sampled_from(list(versions))
    if kind in ("deploy", "force-deploy"):
        return st.sampled_from(list(deploys) or [Deploy()])
    if kind == "offline":
        return st.sampled_from(list(outages)), st.integers(1 * S, 6 * H)
    if kind == "move-group":
        return st.sampled_from(GROUPS)
    if kind == "message":
        data = st.one_of(st.none(), st.integers(-1000, 1000), st.text("abc", max_size=4))
        return st.builds(Message.of, st.sampled_from(list(messages) or ["ping"]), data)
    if kind == "http":
        return st.builds(Http, st.sampled_from(["GET", "POST"]), st.sampled_from(list(paths) or ["/"]))
    if kind == "pin":
        held = st.builds(Pin, st.sampled_from(list(pins)), st.sampled_from([1, 0, None]))
        pressed = st.builds(Pin, st.sampled_from(list(pins)), st.sampled_from([1, 0]),
                            st.one_of(st.sampled_from([50 * MS, 1 * S]), st.integers(1 * MS, 10 * S)))
        return st.one_of(pressed, held)
    if kind == "analog":
        return st.builds(Analog, st.sampled_from(list(pins)), st.floats(0.0, 1.0))
    return None


@lru_cache(maxsize=16)
def _activity(device: str | None, agent: str | None, imp: str | None, seed: int | None,
              duration_us: int, load: Any = None, wiring: str | None = None) -> tuple[int, ...]:
    from .run import play

    run = play((device, agent), Scenario(duration_us=duration_us, imp=imp, seed=seed, wiring=wiring), tie_seed=None,
               claim=None, load=load)
    try:
        instants = {e.time_us for e in run.events
                    if e.kind in ("boot", "state", "connection", "server-contact", "handler-registered")}
        instants.update(op.time_us for op in run.flash_ops if op.time_us is not None)
        return tuple(sorted(t for t in instants if 0 <= t <= duration_us))
    finally:
        run.close()


def activity_of(app: Any, duration: str | int, *, imp: str | None = None, seed: int | None = None,
                load: Any = None, wiring: str | None = None) -> tuple[int, ...]:
    """Instants (µs) at which an undisturbed run of ``app`` (a device path or a (device, agent)
    pair, loaded with ``load``, an :class:`impapi.builder.LoadOptions`) does something: boots,
    state and connection changes, server contacts, flash writes."""
    device, agent = _app_paths(app)
    return _activity(device, agent, imp, seed, parse_duration(duration), load,
                     os.path.abspath(wiring) if wiring else None)


def _app_paths(app: Any) -> tuple[str | None, str | None]:
    if app is None:
        return None, None
    if isinstance(app, (str, os.PathLike)):
        device, agent = os.fspath(app), None
    elif isinstance(app, dict):
        device, agent = app.get("device"), app.get("agent")
    else:
        device, agent = (tuple(app) + (None, None))[:2]
    return (os.path.abspath(device) if device else None, os.path.abspath(agent) if agent else None)


def scenarios(duration: str | int = "1d", events: Iterable[str] = DEFAULT_EVENTS, *, max_events: int = 5,
              min_events: int = 0, app: Any = None, activity: Iterable[int] | None = None,
              imp: str | None = None, seed: int | None = None, interleavings: bool = True,
              versions: Sequence[str] = IMPOS_VERSIONS, outages: Sequence[str | int] = OUTAGES,
              deploys: Sequence[Deploy | str | tuple] = (), messages: Sequence[str] | None = None,
              paths: Sequence[str] = ("/",), load: Any = None, wiring: str | os.PathLike | None = None,
              pins: Sequence[str] | None = None) -> st.SearchStrategy[Scenario]:
    """Scenarios of up to ``max_events`` events of the kinds ``events`` within ``duration``.

    ``app``: the device path or a (device, agent) pair; it goes into the scenarios (so
    ``play(None, scn)`` and the reproduction command know the code) and its undisturbed run
    supplies the activity instants events cluster around. ``deploys``: code to deploy (Deploy
    objects, device paths or (device, agent) pairs; default: redeploy the current code).
    ``messages``: names the agent may send the device (default: the names the device code
    registers with ``agent.on``). ``load``: how the app's code is loaded (an
    :class:`impapi.builder.LoadOptions`). ``wiring``: a wiring file the scenarios carry
    (docs/wiring.md). ``pins``: the inputs ``pin`` and ``analog`` events drive (default: the
    module's wake-up pins)."""
    duration_us = parse_duration(duration)
    kinds = list(dict.fromkeys(events))
    if not kinds:
        raise ValueError("scenarios() needs at least one event kind")
    for k in kinds:
        if k not in EVENTS:
            raise ValueError(f"unknown event kind {k!r}: valid kinds are {', '.join(EVENTS)}")
    if not 0 <= min_events <= max_events:
        raise ValueError(f"need 0 <= min_events <= max_events, got {min_events}, {max_events}")
    device, agent = _app_paths(app)
    if "http" in kinds and app is not None and agent is None:
        raise ValueError("http events need agent code: pass app=(device, agent)")
    if messages is None:
        messages = []
        if device is not None:
            from .source import AppSource

            messages = AppSource.from_file(device, "device_code").message_names
        if "message" in kinds and not messages:
            messages = ["ping"]
    deploy_args = [d if isinstance(d, Deploy) else Deploy(*_app_paths(d)) for d in deploys]
    wiring = os.path.abspath(wiring) if wiring is not None else None
    if pins is None:
        from impapi.pinmux import module_hardware
        from impapi.simulation import DEFAULT_IMP

        pins = module_hardware(imp or DEFAULT_IMP).wake_pins or ("pin1",)
    outage_us = [parse_duration(o) for o in outages]
    arg_for = {k: _args(k, versions=versions, outages=outage_us, deploys=deploy_args, messages=messages,
                        paths=paths, pins=pins) for k in kinds}
    # The app's undisturbed run is played now (once per app and duration), not at the first draw,
    # where its time would count against hypothesis's health checks.
    if activity is not None:
        instants = tuple(sorted(activity))
    else:
        instants = _activity(device, agent, imp, seed, duration_us, load, wiring) if device or agent else ()
    event_list = st.lists(_event(kinds, arg_for, instants, duration_us), min_size=min_events,
                          max_size=max_events)

    @st.composite
    def build(draw: Any) -> Scenario:
        tie_seed = draw(_TIE_SEEDS) if interleavings else 0
        specs = draw(event_list)
        out: list[ScenarioEvent] = []
        previous = 0
        for kind, at, gap, arg in specs:
            at = min(max(at if gap is None else previous + gap, 0), duration_us)
            previous = at
            out.append(ScenarioEvent(at, kind, arg))
        return Scenario(tuple(out), duration_us=duration_us, device=device, agent=agent, imp=imp, seed=seed,
                        wiring=wiring, tie_seed=tie_seed or None)

    return build()


# An event is drawn by one composite that makes exactly the choices the nesting of one_of,
# tuples, map and builds it replaces made (hypothesis flattens a one_of of mapped one_ofs into one
# choice, and drops a repeated branch): the kind; how its time is drawn, one choice among a linear
# position, a log-spread position, near an activity instant (when there are any), a listed gap,
# any gap; the position or gap; the argument. The same choices in the same order with the same
# bounds give the same scenario from a choice sequence and shrink the same way (each choice
# toward 0, the first alternative). Each choice between alternatives is a sampled_from of its
# own names, as one_of's was of its own branches: hypothesis's generation copies a drawn value
# to another span of the same label, so a kind goes to another event's kind, never into a time.
# What it saves is hypothesis's work per draw, mostly a span per draw (a one_of drew three, each
# map and tuples one more): sleeper, 2 days, hypothesis alone ~1.2 -> ~0.85 ms per example.
_POSITION = st.integers(0, _N)
_AFTER_LISTED = st.sampled_from(AFTER)
_AFTER_ANY = st.integers(0, 10 * M)
_HOW = ("linear", "log-spread", "near", "listed gap", "any gap")  # "near": when there are instants


def _one_of_two(names: tuple[str, str], first: st.SearchStrategy[Any],
                second: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``st.one_of(first, second)`` with fewer spans per draw (the same choices)."""
    pick = st.sampled_from(names)

    @st.composite
    def one_of_two(draw: Any) -> Any:
        return draw(first) if draw(pick) == names[0] else draw(second)

    return one_of_two()


_LINEAR_OR_SPREAD = st.sampled_from(_HOW[:2])


@st.composite
def _fraction(draw: Any) -> float:
    """A position in [0, 1]: linear (first: finer, shrinks well) or log-spread."""
    if draw(_LINEAR_OR_SPREAD) == "linear":
        return draw(_POSITION) / _N
    return math.log2(1 + draw(_POSITION)) / _LOG_N


_FRACTION = _fraction()
_NEAR = _one_of_two(("listed offset", "any offset"), st.sampled_from(NEAR), st.integers(-10 * S, 10 * S))


def _event(kinds: list[str], arg_for: dict[str, Any], instants: tuple[int, ...],
           duration_us: int) -> st.SearchStrategy[tuple[str, int, int | None, Any]]:
    """(kind, time, gap, argument): the event's time is ``time`` when ``gap`` is None, else ``gap``
    after the event before it in the list (or after the start)."""
    pick_kind = st.sampled_from(kinds) if len(kinds) > 1 else st.just(kinds[0])
    args = {k: _one_of_two((f"listed {k}", f"any {k}"), *a) if isinstance(a, tuple) else a
            for k, a in arg_for.items()}
    last = len(instants) - 1
    pick_how = st.sampled_from(_HOW if instants else tuple(h for h in _HOW if h != "near"))

    @st.composite
    def event(draw: Any) -> tuple[str, int, int | None, Any]:
        kind = draw(pick_kind)
        how = draw(pick_how)
        at, gap = 0, None
        if how == "linear":
            at = int(draw(_POSITION) / _N * duration_us)
        elif how == "log-spread":
            at = int(math.log2(1 + draw(_POSITION)) / _LOG_N * duration_us)
        elif how == "near":
            f = draw(_FRACTION)
            at = instants[int(f * last)] + draw(_NEAR)
        elif how == "listed gap":
            gap = draw(_AFTER_LISTED)
        else:
            gap = draw(_AFTER_ANY)
        arg = args[kind]
        return kind, at, gap, None if arg is None else draw(arg)

    return event()
