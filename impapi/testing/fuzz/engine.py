"""The search behind ``impsim fuzz``: hypothesis generates scenarios for one app, each is played
and checked, a failure is shrunk, and the smallest failing scenario is replayed once more (outside
hypothesis, with the tie seed it had) for its log, timeline and reproduction command.

``jobs > 1`` splits the examples over worker processes, each with its own hypothesis seed
(``seed + i``). The first process to find a failure tells the others to stop generating, so a
failing app is reported as soon as one of them has shrunk its failure; which process gets there
first can vary from run to run (``jobs=1`` with a ``seed`` repeats a search exactly). A passing
search runs every example whatever ``jobs`` is.

``progress``: a function called about five times a second (from a thread of the calling process)
and once at the end with a :class:`Progress`. Ctrl-C (SIGINT, in the main thread) stops the
search cleanly between examples, in every process: the result says ``interrupted`` and carries
the smallest failure found so far, if any.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from impapi.durations import parse_duration
from impapi.scenario import Scenario, loads_toml
from impapi.vmshelf import VMShelf

from . import checks as _checks
from .coverage import CoverageCollector, CoverageReport
from .run import DEFAULT_CLAIM, Run, play
from .strategies import DEFAULT_EVENTS, scenarios

__all__ = ["Failure", "FuzzResult", "Progress", "fuzz"]

# Per process, three counters: examples checked, failures found, shrink steps.
_EXAMPLES, _FAILURES, _SHRINKS = range(3)
PROGRESS_EVERY_S = 0.2


@dataclass(frozen=True)
class Progress:
    examples: int  # checked so far, over every process
    total: int  # to check (a passing search checks them all)
    failures: int  # processes that found a failure
    shrinks: int  # shrink steps taken
    elapsed_s: float
    done: bool = False

    @property
    def rate(self) -> float:
        """Examples per second of wall time."""
        return self.examples / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class Failure:
    """The shrunk failing example, replayed."""

    violation: _checks.PoliteViolation
    run: Run
    found_after: int  # examples generated before the first failure
    shrink_steps: int
    first_events: int  # events in the first failing example, before shrinking

    @property
    def scenario(self) -> Scenario:
        return self.run.scenario


@dataclass
class FuzzResult:
    device: str | None
    agent: str | None
    duration_us: int
    seed: int
    checks: tuple[str, ...]
    examples: int = 0  # scenarios generated and checked (not counting shrinking)
    events: int = 0  # scenario events in them
    kinds: Counter = field(default_factory=Counter)
    interleavings: int = 0  # examples played with a non-FIFO same-instant order
    failure: Failure | None = None
    coverage: CoverageReport | None = None
    wall_s: float = 0.0
    jobs: int = 1
    interrupted: bool = False  # Ctrl-C ended the search early (failure: the best one found so far)

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class _Options:
    device: str | None
    agent: str | None
    duration: str | int
    examples: int
    names: tuple[str, ...]
    events: tuple[str, ...]
    max_events: int
    seed: int
    imp: str | None
    claim: str | None
    coverage: bool
    interleavings: bool
    check_options: dict[str, Any]
    config: Any
    shrink: bool
    load: Any = None  # impapi.builder.LoadOptions for the app's code
    wiring: str | None = None  # the wiring file every scenario carries
    stop: Any = None  # a multiprocessing Event shared by the processes of one search
    interrupt: Any = None  # set by Ctrl-C in any process: every process stops between examples
    counters: Any = None  # _EXAMPLES/_FAILURES/_SHRINKS per process (shared between processes)
    slot: int = 0  # this process's counters
    app: Any = None  # the app's code (_app_code), read and built once for the whole search


def fuzz(device: str | os.PathLike | None, agent: str | os.PathLike | None = None, *, duration: str | int = "2d",
         examples: int = 500, checks: str | Iterable[str] = "all", events: Iterable[str] = DEFAULT_EVENTS,
         max_events: int = 5, seed: int | None = None, imp: str | None = None, bound: str | int = "1h",
         handler_when: str = "always", persist: Callable[[Run], Iterable[Any]] | None = None,
         claim: str | None = DEFAULT_CLAIM, critical: Any = None,
         extra: Iterable[Callable[[Run], Any]] = (), coverage: bool = True, interleavings: bool = True,
         config: Any = None, jobs: int = 1, shrink: bool = True, load: Any = None,
         wiring: str | os.PathLike | None = None,
         progress: Callable[[Progress], Any] | None = None) -> FuzzResult:
    """Search for a scenario that breaks a check. Options as in :func:`checks.violations`;
    ``seed`` makes the search repeatable (default: a fresh one, reported in the result);
    ``load``: :class:`impapi.builder.LoadOptions` for the app's code (libraries, includes);
    ``wiring``: a wiring file of models on the device's pins and buses (docs/wiring.md);
    ``progress``: see the module doc."""
    started = time.perf_counter()
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    opts = _Options(
        device=os.path.abspath(device) if device is not None else None,
        agent=os.path.abspath(agent) if agent is not None else None,
        duration=duration, examples=examples, names=_checks.select(checks), events=tuple(events),
        max_events=max_events, seed=seed, imp=imp, claim=claim, coverage=coverage,
        interleavings=interleavings,
        check_options={"bound": bound, "handler_when": handler_when, "persist": persist,
                       "critical": critical, "extra": tuple(extra)},
        config=config, shrink=shrink, load=load, wiring=os.path.abspath(wiring) if wiring is not None else None)
    # Every example, in every process, plays the code the search started with (a file edited
    # meanwhile does not mix versions), without reading it again.
    opts.app = _app_code(opts)
    jobs = max(1, min(jobs, examples or 1))
    if jobs > 1:
        # The app's undisturbed run (the strategy's activity instants) is played here, once, before
        # the heap is frozen and the workers are forked: they inherit it instead of each playing it.
        _strategy(opts)
    ctx = _context()
    opts.interrupt = ctx.Event() if jobs > 1 else threading.Event()
    opts.counters = ctx.Array("q", 3 * jobs, lock=False) if jobs > 1 else [0, 0, 0]
    reporter = _Reporter(progress, opts.counters, examples, started) if progress is not None else None
    with _sigint_sets(opts.interrupt):
        try:
            with _young_garbage_only():
                result = _single(opts) if jobs == 1 else _parallel(opts, jobs)
        finally:
            if reporter is not None:
                reporter.close()
    result.wall_s = time.perf_counter() - started
    return result


def _context() -> Any:
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


class _sigint_sets:
    """While the search runs, Ctrl-C sets ``event`` (checked between examples) instead of raising
    wherever Python happens to be. Outside the main thread, signals cannot be handled: no-op."""

    def __init__(self, event: Any) -> None:
        self.event = event
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *_: self.event.set())

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Reporter:
    """Calls ``progress`` from a thread while the search runs, and once at the end."""

    def __init__(self, progress: Callable[[Progress], Any], counters: Any, total: int, started: float) -> None:
        self.progress, self.counters, self.total, self.started = progress, counters, total, started
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="impsim-fuzz-progress", daemon=True)
        self.thread.start()

    def snapshot(self, done: bool = False) -> Progress:
        c = list(self.counters)
        return Progress(sum(c[_EXAMPLES::3]), self.total, sum(c[_FAILURES::3]), sum(c[_SHRINKS::3]),
                        time.perf_counter() - self.started, done)

    def _loop(self) -> None:
        while not self.done.wait(PROGRESS_EVERY_S):
            self.progress(self.snapshot())

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.progress(self.snapshot(done=True))


@contextmanager
def _young_garbage_only() -> Iterator[None]:
    """While examples run, the garbage collector leaves alone what existed before (modules, the
    app's undisturbed run, hypothesis's state as it was): examples make cycles, but each
    collection then walks only what the examples made (measured: about a third less time in
    collections). Everything is collectable again afterwards. Workers are forked inside it:
    their collections do not walk (and so copy) the heap they share with the parent.

    An example's garbage is one graph (the simulation, its record: thousands of objects in
    cycles) that dies as a whole when the example ends. It is collected then, in one pass, as
    the next example starts (``check`` in :func:`_search`); collections triggered while an
    example runs would walk it while it is still alive (measured with the sleeper: gc time 1.3
    -> 0.85 ms per example). The allocation threshold stays, high, only as a bound on what
    one example can pile up.

    Only the young generations are collected before the freeze: the garbage made just before a
    search (the app's undisturbed run) is young, and a full collection walks the whole heap
    (a command-line search of the sleeper: 13-17 ms, against 0.7 ms, the same 2,464 objects
    freed). Older garbage, if any, is frozen with the rest and collectable again afterwards."""
    gc.collect(1)
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class _Interrupted(BaseException):
    """Raised between examples after Ctrl-C: hypothesis lets it through at once."""


def _single(o: _Options) -> FuzzResult:
    result, found = _search(o)
    if found is not None:
        result.failure = _replay(o, *found)
    return result


def _search(o: _Options) -> tuple[FuzzResult, tuple[Scenario, int | None, dict[str, Any]] | None]:
    """One process's share: its result, and the shrunk failing example (scenario, tie seed,
    stats) if it found one, to replay for the report."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    result = FuzzResult(o.device, o.agent, parse_duration(o.duration), o.seed, o.names)
    collector = CoverageCollector() if o.coverage else None
    strategy = _strategy(o)
    state: dict[str, Any] = {"found": None, "first_events": 0, "shrinks": 0, "last": None, "broken": None}
    app = o.app
    code = _code_files(app)
    counters, base = o.counters, 3 * o.slot
    # The examples' simulations hand their VMs on to the next example's (impapi.vmshelf): a new
    # device VM and agent VM with the imp API, made and closed per example, were 2.6 % of the
    # sleeper's example (callgrind: 114.7 -> 111.7 M instructions per 2-day example).
    shelf = VMShelf()

    def check(scn: Scenario) -> None:
        if o.interrupt.is_set():
            raise _Interrupted()
        gc.collect(1)  # the last example's garbage (see _young_garbage_only); survivors go to the oldest
        failing_before = state["found"] is not None
        if state["broken"] is not None:
            return  # a check function is broken: no example can be judged
        if not failing_before and o.stop is not None and o.stop.is_set():
            return  # another process found a failure: the rest of this share is not needed
        run = play(app, scn, coverage=collector if not failing_before else False, claim=o.claim, config=o.config,
                   load=o.load, vms=shelf)
        found = None
        try:
            found = _checks.violations(run, only=o.names, **o.check_options)
        except _checks.CheckFunctionError as e:
            state["broken"] = e
            if o.stop is not None:
                o.stop.set()
            return
        finally:
            if found is not None and not found:
                run.discard()  # a passing example's run is not read again: its record goes now
            else:
                run.close()
        if collector is not None and not failing_before:
            collector.mark_done(code)
        if failing_before:
            state["shrinks"] += 1
            counters[base + _SHRINKS] += 1
        else:
            result.examples += 1
            counters[base + _EXAMPLES] += 1
            result.events += len(scn.events)
            result.kinds.update(e.kind for e in scn.events)
            result.interleavings += run.tie_seed is not None
        if found:
            if state["found"] is None:
                state["found"] = result.examples
                state["first_events"] = len(scn.events)
                counters[base + _FAILURES] += 1
                if o.stop is not None:
                    o.stop.set()
            state["last"] = (scn, run.tie_seed)
            first = found[0]
            first.add_others(found[1:])
            raise first

    phases = (Phase.generate, Phase.shrink) if o.shrink else (Phase.generate,)
    test = settings(max_examples=o.examples, deadline=None, database=None, phases=phases,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                    verbosity=Verbosity.quiet, print_blob=False)(given(strategy)(check))
    test = hseed(o.seed)(test)
    try:
        test()
    except _checks.PoliteViolation:
        pass
    except _Interrupted:
        result.interrupted = True
    finally:
        shelf.close()
    if state["broken"] is not None:
        raise state["broken"]
    found = None
    if state["last"] is not None:
        scn, tie_seed = state["last"]
        found = (scn, tie_seed, {"found": state["found"], "shrinks": state["shrinks"],
                                 "first_events": state["first_events"]})
    if collector is not None:
        result.coverage = CoverageReport.of(collector, code)
    return result, found


def _strategy(o: _Options) -> Any:
    """The scenarios to draw (building it plays the app's undisturbed run, cached per app)."""
    return scenarios(o.duration, o.events, app=(o.device, o.agent), imp=o.imp, max_events=o.max_events,
                     interleavings=o.interleavings, load=o.load, wiring=o.wiring)


def _replay(o: _Options, scn: Scenario, tie_seed: int | None, stats: dict[str, Any]) -> Failure:
    """Play the shrunk scenario again, outside hypothesis, and keep that run."""
    run = play(None, scn, tie_seed=tie_seed, claim=o.claim, config=o.config, load=o.load)
    found = _checks.violations(run, only=o.names, **o.check_options)
    if not found:  # pragma: no cover - the simulation is deterministic
        raise RuntimeError(f"the shrunk scenario did not fail again when replayed:\n{run.toml()}")
    found[0].add_others(found[1:])
    return Failure(found[0], run, stats["found"] or 0, stats["shrinks"], stats["first_events"])


def _app_code(o: _Options) -> tuple[Any, Any]:
    """The app's device and agent code (:class:`impapi.builder.LoadedCode`, or None), built as
    the simulations load it, under the names the scenarios give the files."""
    from impapi.simulation import load_code

    return tuple(load_code(path, o.load) if path else None for path in (o.device, o.agent))  # type: ignore[return-value]


def _code_files(app: tuple[Any, Any]) -> dict[str, str]:
    """{filename: code as compiled} of the app's code (:func:`_app_code`)."""
    return {c.filename: c.source for c in app if c is not None}


# --- several processes -------------------------------------------------------------------------


def _worker(o: _Options, conn: Any) -> None:
    try:
        with _young_garbage_only():  # forked: nothing new to freeze; spawned: as the parent does
            r, found = _search(o)
        summary: dict[str, Any] = {
            "examples": r.examples, "events": r.events, "kinds": dict(r.kinds), "interleavings": r.interleavings,
            "coverage": {k: dict(v) for k, v in (r.coverage and _hits(r.coverage) or {}).items()},
            "failure": None, "interrupted": r.interrupted,
        }
        if found is not None:
            scn, tie_seed, stats = found
            summary["failure"] = {"toml": scn.to_toml(os.getcwd()), "tie_seed": tie_seed, **stats}
        conn.send(("ok", summary))
    except _checks.CheckFunctionError as e:
        conn.send(("broken", str(e)))
    except BaseException as e:  # report it to the parent rather than dying silently
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _hits(report: CoverageReport) -> dict[str, Counter]:
    return {f.file: f.hits for f in report.files}


def _parallel(o: _Options, jobs: int) -> FuzzResult:
    ctx = _context()
    share = [o.examples // jobs + (i < o.examples % jobs) for i in range(jobs)]
    o = _Options(**{**o.__dict__, "stop": ctx.Event()})
    procs = []
    for i in range(1, jobs):
        parent, child = ctx.Pipe(duplex=False)
        sub = _Options(**{**o.__dict__, "examples": share[i], "seed": (o.seed + i) % 2**32, "slot": i})
        p = ctx.Process(target=_worker, args=(sub, child), daemon=True)
        p.start()
        child.close()
        procs.append((p, parent))
    mine, found = _search(_Options(**{**o.__dict__, "examples": share[0]}))
    result = FuzzResult(o.device, o.agent, parse_duration(o.duration), o.seed, o.names, jobs=jobs)
    result.examples, result.events, result.kinds = mine.examples, mine.events, Counter(mine.kinds)
    result.interleavings = mine.interleavings
    result.interrupted = mine.interrupted
    collector = CoverageCollector()
    if mine.coverage is not None:
        collector.merge(_hits(mine.coverage))
    for p, conn in procs:
        try:
            status, summary = conn.recv()
        except EOFError:
            status, summary = "error", f"worker {p.pid} exited with code {p.exitcode}"
        p.join()
        if status == "broken":
            raise _checks.CheckFunctionError(summary)
        if status == "error":
            raise RuntimeError(f"a fuzz worker failed: {summary}")
        result.examples += summary["examples"]
        result.events += summary["events"]
        result.kinds.update(summary["kinds"])
        result.interleavings += summary["interleavings"]
        result.interrupted = result.interrupted or summary["interrupted"]
        collector.merge({k: Counter(v) for k, v in summary["coverage"].items()})
        if found is None and summary["failure"] is not None:
            f = summary["failure"]
            found = (loads_toml(f["toml"], base_dir=os.getcwd()), f["tie_seed"], f)
    if found is not None:
        scn, tie_seed, stats = found
        result.failure = _replay(o, scn, tie_seed, stats)
    if o.coverage:
        result.coverage = CoverageReport.of(collector, _code_files(o.app))
    return result
