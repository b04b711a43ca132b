"""The search behind ``impsim fuzz``: hypothesis generates scenarios for one app, each is played
and checked, a failure is shrunk, and the smallest failing scenario is replayed once more (outside
hypothesis, with the tie seed it had) for its log, timeline and reproduction command.

``jobs > 1`` splits the examples over worker processes, each with its own hypothesis seed
(``seed + i``). The first process to find a failure tells the others to stop generating, so a
failing app is reported as soon as one of them has shrunk its failure; which process gets there
first can vary from run to run (``jobs=1`` with a ``seed`` repeats a search exactly). A passing
search runs every example whatever ``jobs`` is.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from impapi.durations import parse_duration
from impapi.scenario import Scenario, loads_toml

from . import checks as _checks
from .coverage import CoverageCollector, CoverageReport
from .run import DEFAULT_CLAIM, Run, play
from .strategies import DEFAULT_EVENTS, scenarios

__all__ = ["Failure", "FuzzResult", "fuzz"]


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


def fuzz(device: str | os.PathLike | None, agent: str | os.PathLike | None = None, *, duration: str | int = "2d",
         examples: int = 500, checks: str | Iterable[str] = "all", events: Iterable[str] = DEFAULT_EVENTS,
         max_events: int = 5, seed: int | None = None, imp: str | None = None, bound: str | int = "1h",
         handler_when: str = "always", persist: Callable[[Run], Iterable[Any]] | None = None,
         claim: str | None = DEFAULT_CLAIM, critical: Any = None,
         extra: Iterable[Callable[[Run], Any]] = (), coverage: bool = True, interleavings: bool = True,
         config: Any = None, jobs: int = 1, shrink: bool = True, load: Any = None,
         wiring: str | os.PathLike | None = None) -> FuzzResult:
    """Search for a scenario that breaks a check. Options as in :func:`checks.violations`;
    ``seed`` makes the search repeatable (default: a fresh one, reported in the result);
    ``load``: :class:`impapi.builder.LoadOptions` for the app's code (libraries, includes);
    ``wiring``: a wiring file of models on the device's pins and buses (docs/wiring.md)."""
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
    jobs = max(1, min(jobs, examples or 1))
    if jobs == 1:
        result = _search(opts)
    else:
        result = _parallel(opts, jobs)
    result.wall_s = time.perf_counter() - started
    return result


def _search(o: _Options) -> FuzzResult:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    result = FuzzResult(o.device, o.agent, parse_duration(o.duration), o.seed, o.names)
    collector = CoverageCollector() if o.coverage else None
    strategy = scenarios(o.duration, o.events, app=(o.device, o.agent), imp=o.imp, max_events=o.max_events,
                         interleavings=o.interleavings, load=o.load, wiring=o.wiring)
    state: dict[str, Any] = {"found": None, "first_events": 0, "shrinks": 0, "last": None, "broken": None}
    code = _code_files(o)

    def check(scn: Scenario) -> None:
        failing_before = state["found"] is not None
        if state["broken"] is not None:
            return  # a check function is broken: no example can be judged
        if not failing_before and o.stop is not None and o.stop.is_set():
            return  # another process found a failure: the rest of this share is not needed
        run = play(None, scn, coverage=collector if not failing_before else False, claim=o.claim, config=o.config, load=o.load)
        try:
            found = _checks.violations(run, only=o.names, **o.check_options)
        except _checks.CheckFunctionError as e:
            state["broken"] = e
            if o.stop is not None:
                o.stop.set()
            return
        finally:
            run.close()
        if collector is not None and not failing_before:
            collector.mark_done(code)
        if failing_before:
            state["shrinks"] += 1
        else:
            result.examples += 1
            result.events += len(scn.events)
            result.kinds.update(e.kind for e in scn.events)
            result.interleavings += run.tie_seed is not None
        if found:
            if state["found"] is None:
                state["found"] = result.examples
                state["first_events"] = len(scn.events)
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
        scn, tie_seed = state["last"]
        result.failure = _replay(o, scn, tie_seed, state)
    if state["broken"] is not None:
        raise state["broken"]
    if collector is not None:
        result.coverage = CoverageReport.of(collector, code)
    return result


def _replay(o: _Options, scn: Scenario, tie_seed: int | None, state: dict[str, Any]) -> Failure:
    """Play the shrunk scenario again, outside hypothesis, and keep that run."""
    run = play(None, scn, tie_seed=tie_seed, claim=o.claim, config=o.config, load=o.load)
    found = _checks.violations(run, only=o.names, **o.check_options)
    if not found:  # pragma: no cover - the simulation is deterministic
        raise RuntimeError(f"the shrunk scenario did not fail again when replayed:\n{run.toml()}")
    found[0].add_others(found[1:])
    return Failure(found[0], run, state["found"] or 0, state["shrinks"], state["first_events"])


def _code_files(o: _Options) -> dict[str, str]:
    """{filename: code as compiled} of the app (built, as the simulations load it)."""
    from impapi.simulation import load_code

    out = {}
    for path in (o.device, o.agent):
        if path:
            out[path] = load_code(path, o.load).source
    return out


# --- several processes -------------------------------------------------------------------------


def _worker(o: _Options, conn: Any) -> None:
    try:
        r = _search(o)
        summary: dict[str, Any] = {
            "examples": r.examples, "events": r.events, "kinds": dict(r.kinds), "interleavings": r.interleavings,
            "coverage": {k: dict(v) for k, v in (r.coverage and _hits(r.coverage) or {}).items()},
            "failure": None,
        }
        if r.failure is not None:
            f = r.failure
            summary["failure"] = {"toml": f.run.scenario.to_toml(os.getcwd()), "tie_seed": f.run.tie_seed,
                                  "found_after": f.found_after, "shrinks": f.shrink_steps,
                                  "first_events": f.first_events}
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
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    share = [o.examples // jobs + (i < o.examples % jobs) for i in range(jobs)]
    o = _Options(**{**o.__dict__, "stop": ctx.Event()})
    procs = []
    for i in range(1, jobs):
        parent, child = ctx.Pipe(duplex=False)
        sub = _Options(**{**o.__dict__, "examples": share[i], "seed": (o.seed + i) % 2**32})
        p = ctx.Process(target=_worker, args=(sub, child), daemon=True)
        p.start()
        child.close()
        procs.append((p, parent))
    mine = _search(_Options(**{**o.__dict__, "examples": share[0]}))
    result = FuzzResult(o.device, o.agent, parse_duration(o.duration), o.seed, o.names, jobs=jobs)
    result.examples, result.events, result.kinds = mine.examples, mine.events, Counter(mine.kinds)
    result.interleavings = mine.interleavings
    collector = CoverageCollector()
    if mine.coverage is not None:
        collector.merge(_hits(mine.coverage))
    failure = mine.failure
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
        collector.merge({k: Counter(v) for k, v in summary["coverage"].items()})
        if failure is None and summary["failure"] is not None:
            f = summary["failure"]
            scn = loads_toml(f["toml"], base_dir=os.getcwd())
            failure = _replay(o, scn, f["tie_seed"], {"found": f["found_after"], "shrinks": f["shrinks"],
                                                       "first_events": f["first_events"]})
    result.failure = failure
    if o.coverage:
        result.coverage = CoverageReport.of(collector, _code_files(o))
    return result
