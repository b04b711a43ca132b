"""``impsim fuzz``: search the timing of updates, power cycles and outages for a scenario that
breaks polite deployment, and show the smallest one.

Hooked into :mod:`impapi.cli` with ``add_fuzz_parser(subparsers)`` and ``cmd_fuzz(args)``; also
runnable alone as ``python -m impapi.testing.fuzz_cli DEVICE.nut ...``.

Exit codes: 0 every check held; 1 a failing scenario was found (printed, and written as a
scenario file, a log and a timeline); 2 bad usage or files; 130 interrupted (Ctrl-C): the
workers stop and the best failure found so far is reported, if any.

On a terminal, progress goes to stderr (examples checked, failures, examples/s, a bar); not on a
terminal, nothing does.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from ..builder.load import add_load_arguments, load_arguments, load_options_from_args
from ..cliargs import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, whole
from ..cliargs import duration as _duration
from ..simulation import compile_problem
from ..terminal import StatusLine, bar, is_terminal

LOG_CONTEXT = 40  # log lines printed around the violation (all of them go to the .log file)
_positive = whole(1)


def _jobs(text: str) -> int:
    """``auto``: one worker per CPU this process may run on."""
    if text == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    return _positive(text)


def add_fuzz_parser(subparsers: Any) -> argparse.ArgumentParser:
    from impapi.profiles import PROFILES
    from impapi.scenario import EVENTS

    from .fuzz import DEFAULT_EVENTS
    from .fuzz.checks import CHECKS

    p = subparsers.add_parser(
        "fuzz", help="search update/power/outage timings for one that breaks polite deployment",
        description="Generate scenarios (updates, deployments, power cycles, outages... at chosen "
                    "virtual times) with hypothesis, play each against the app, check the polite-"
                    "deployment best practices, and shrink a failure to the smallest scenario. A "
                    "failure is printed as a runnable `impsim run` command and written as a "
                    "scenario file, a log and a timeline.",
        epilog=f"checks: {', '.join(CHECKS)}. events: {', '.join(EVENTS)}.")
    p.add_argument("device", metavar="DEVICE.nut", help="the device code")
    p.add_argument("--agent", metavar="AGENT.nut", help="the agent code")
    p.add_argument("--for", dest="duration", metavar="DURATION", type=_duration, default=_duration("2d"),
                   help="virtual time each scenario runs: 6h, 2d... (default 2d)")
    p.add_argument("--examples", type=_positive, default=500, metavar="N",
                   help="scenarios to try before declaring a pass (default 500)")
    p.add_argument("--check", default="all", metavar="CHECKS",
                   help="'all' (default) or a comma-separated list of checks (see below)")
    p.add_argument("--events", default=",".join(DEFAULT_EVENTS), metavar="KINDS",
                   help=f"event kinds to draw from, comma-separated (default {','.join(DEFAULT_EVENTS)})")
    p.add_argument("--max-events", type=int, default=5, metavar="N", help="events per scenario at most (default 5)")
    p.add_argument("--seed", type=int, metavar="N", help="hypothesis seed: repeats a search exactly (default: new)")
    p.add_argument("--jobs", type=_jobs, default="auto", metavar="N",
                   help="worker processes sharing the examples: a number, or auto (default), one per "
                        "CPU. --jobs 1 with --seed repeats a search exactly; with more, which worker "
                        "reports a failure first can vary")
    p.add_argument("--imp", default=None, choices=sorted(PROFILES), help="the imp module (default imp003)")
    p.add_argument("--wiring", metavar="FILE.toml",
                   help="models on the device's pins and buses (docs/wiring.md); the reproduction command names it")
    p.add_argument("--bound", type=_duration, default=_duration("1h"), metavar="DURATION",
                   help="update-applied: how long an update may wait once the device heard of it (default 1h)")
    p.add_argument("--handler-when", choices=("always", "pending"), default="always",
                   help="handler-first: flag every boot (always, default) or only contacts made while "
                        "an update was pending")
    p.add_argument("--claim", default=None, metavar="REGEX",
                   help=r"data-persists: device log lines that claim data is stored (default ^stored\b)")
    p.add_argument("--persist", metavar="FILE.py:FUNCTION",
                   help="data-persists: a Python function of the run returning what was lost (replaces --claim)")
    p.add_argument("--critical", metavar="BEGIN,END",
                   help="no-forced-mid-write: regexes of device log lines that open and close a critical "
                        "section (default: inferred from flash activity)")
    p.add_argument("--extra", action="append", default=[], metavar="FILE.py:FUNCTION",
                   help="a custom check: a Python function of the run (repeatable)")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="where a failure's scenario file, log and timeline go (default: here)")
    p.add_argument("--no-coverage", action="store_true", help="do not report which app lines ran")
    p.add_argument("--no-interleavings", action="store_true",
                   help="keep same-instant events first-in first-out (do not explore their order)")
    p.add_argument("--no-shrink", action="store_true", help="report the first failure as found")
    add_load_arguments(p)
    return p


def load_callable(spec: str) -> Callable[..., Any]:
    """``path/to/file.py:name`` or ``package.module:name``."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ValueError(f"{spec!r}: write FILE.py:FUNCTION or MODULE:FUNCTION")
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise ValueError(f"{spec!r}: no such file {target}")
        mod_spec = importlib.util.spec_from_file_location(f"_impsim_user_{path.stem}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise ValueError(f"{spec!r}: {target} is not a Python file: name a .py file")
        module = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(module)
        except Exception as e:  # the user's own Python: say what it raised
            raise ValueError(f"{spec!r}: loading {target} raised {type(e).__name__}: {e}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise ValueError(f"{spec!r}: cannot import {target}: {e}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"{spec!r}: {target} has no function {name!r}")
    return fn


class ProgressBar:
    """Draws a :class:`~impapi.testing.fuzz.engine.Progress` on the terminal's status line
    (:class:`~impapi.terminal.StatusLine`), cleared at the end. The engine already calls it only a
    few times a second, so every call is drawn."""

    WIDTH = 24

    def __init__(self, stream: Any) -> None:
        self.line = StatusLine(stream, delay=0.0, interval=0.0, enabled=True)

    def __call__(self, p: Any) -> None:
        if p.done:
            self.line.close()
            return
        text = (f"{bar(p.examples / max(1, p.total), self.WIDTH)} {p.examples}/{p.total} examples, "
                f"{p.failures} failure{'s' if p.failures != 1 else ''}, {p.rate:.1f}/s")
        if p.failures:
            text += f", shrinking ({p.shrinks} steps)"
        self.line.show(text)


def cmd_fuzz(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _cmd_fuzz(args, out, err)
    except KeyboardInterrupt:  # before the search, or after it while writing the report
        err.write("\nimpsim fuzz: interrupted\n")
        return EXIT_INTERRUPTED


def _cmd_fuzz(args: argparse.Namespace, out: Any, err: Any) -> int:
    from impapi.durations import format_duration
    from impapi.scenario import EVENTS

    from .fuzz import checks as checks_mod
    from .fuzz.engine import fuzz
    from .fuzz.run import DEFAULT_CLAIM

    def usage(message: str) -> int:
        print(f"impsim fuzz: {message}", file=err)
        return EXIT_USAGE

    if importlib.util.find_spec("hypothesis") is None:
        return usage("fuzzing needs hypothesis: pip install hypothesis (or impsim[test])")

    try:
        load = load_options_from_args(args)
    except ValueError as e:
        return usage(str(e))
    for path in filter(None, (args.device, args.agent)):
        problem = compile_problem(path, load)
        if problem:
            return usage(problem)
    try:
        names = checks_mod.select(args.check)
        kinds = [k.strip() for k in args.events.split(",") if k.strip()]
        if not kinds:
            raise ValueError(f"--events names no event: give some of {', '.join(EVENTS)}")
        for k in kinds:
            if k not in EVENTS:
                raise ValueError(f"unknown event {k!r}: valid events are {', '.join(EVENTS)}")
        if "http" in kinds and not args.agent:
            raise ValueError("http events need --agent")
        persist = load_callable(args.persist) if args.persist else None
        extra = [checks_mod.custom(load_callable(s), name=s.rpartition(":")[2]) for s in args.extra]
        critical = None
        if args.critical:
            begin, sep, end = args.critical.partition(",")
            if not sep or not begin or not end:
                raise ValueError("--critical takes BEGIN,END: two regexes separated by a comma")
            critical = (begin, end)
        for option, pattern in [("--claim", args.claim)] + [("--critical", p) for p in critical or ()]:
            try:
                re.compile(pattern or "")
            except re.error as e:
                raise ValueError(f"{option}: {pattern!r} is not a regular expression ({e})") from None
        if args.max_events < 0:
            raise ValueError("--max-events must be 0 or more")
        if args.wiring:
            from impapi.peripherals import Wiring

            Wiring.load(args.wiring)  # a mistake in it is an error now, not in every example
        # Before the search, not after it: a failure found must not be lost to a bad --out.
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"--out {args.out}: cannot make that directory ({e.strerror})") from None
    except ValueError as e:
        return usage(str(e))

    # argparse gives microseconds; the library reads plain numbers as seconds, so pass text.
    try:
        result = fuzz(args.device, args.agent, duration=format_duration(args.duration), examples=args.examples,
                      checks=names, events=kinds, max_events=args.max_events, seed=args.seed, imp=args.imp,
                      bound=format_duration(args.bound),
                      handler_when=args.handler_when, persist=persist, claim=args.claim or DEFAULT_CLAIM,
                      critical=critical, extra=extra, coverage=not args.no_coverage,
                      interleavings=not args.no_interleavings, jobs=args.jobs, shrink=not args.no_shrink,
                      load=load, wiring=args.wiring, progress=ProgressBar(err) if is_terminal(err) else None)
    except checks_mod.CheckFunctionError as e:
        return usage(f"{e}; fix the check and run again")
    span = format_duration(result.duration_us)
    kinds_text = ", ".join(f"{k} {n}" for k, n in result.kinds.most_common()) or "none"
    held = names + tuple(c.__name__ for c in extra)
    if result.interrupted and result.passed:
        out.write(f"impsim fuzz: interrupted after {result.examples} of up to {args.examples} scenarios "
                  f"(seed {result.seed}, {_jobs_text(result.jobs)}): no failure found so far\n")
        return EXIT_INTERRUPTED
    if result.passed:
        out.write(f"impsim fuzz: passed: {result.examples} scenarios of {span} "
                  f"({result.examples * result.duration_us // 86_400_000_000} simulated days) in "
                  f"{result.wall_s:.1f} s, seed {result.seed}, {_jobs_text(result.jobs)}\n")
        out.write(f"  events explored: {result.events} ({kinds_text}); "
                  f"{result.interleavings} with same-instant order explored\n")
        out.write(f"  checks held: {', '.join(held)}\n")
        if result.coverage is not None:
            out.write(f"  coverage: {result.coverage.summary()}\n")
        return EXIT_OK
    f = result.failure
    assert f is not None
    run = f.run
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(args.device).name.removesuffix(".nut").removesuffix(".device") + ".fuzz-failure"
    toml_path = run.save_scenario(out_dir / f"{stem}.toml")
    log_path = out_dir / f"{stem}.log"
    log_path.write_text(run.log_text(), encoding="utf-8")
    timeline = None
    try:
        timeline = run.timeline(out_dir / f"{stem}.html")
    except Exception as e:  # a drawing problem must not hide the failure
        err.write(f"impsim fuzz: could not draw the timeline: {e}\n")
    n = len(f.scenario.events)
    shrunk = f"shrunk from {f.first_events} to {n} event{'s' if n != 1 else ''} in {f.shrink_steps} steps"
    if result.interrupted:
        out.write(f"impsim fuzz: FAILED, interrupted after {result.examples} scenarios (seed {result.seed}, "
                  f"{_jobs_text(result.jobs)}); the best failure found so far, {shrunk}\n\n")
    else:
        out.write(f"impsim fuzz: FAILED after {f.found_after} of up to {args.examples} scenarios "
                  f"(seed {result.seed}, {_jobs_text(result.jobs)}); {shrunk}\n\n")
    out.write(str(f.violation) + "\n\n")
    out.write("scenario:\n")
    for e in f.scenario.events:
        out.write(f"  {format_duration(e.at_us):>14}  {e.describe()}\n")
    if not f.scenario.events:
        out.write("  (no events: the app breaks the rule on its own)\n")
    if run.tie_seed is not None:
        out.write(f"  same-instant events ordered by tie seed {run.tie_seed}\n")
    out.write("\nreproduce (the same log, byte for byte):\n")
    loading = "".join(" " + shlex.quote(word) for word in load_arguments(args))
    out.write(f"  {run.command()}{loading}\n")
    out.write(f"  impsim run --scenario {toml_path}{loading}\n")
    out.write(f"written: {toml_path} (scenario), {log_path} (log)"
              + (f", {timeline} (timeline)" if timeline else "") + "\n")
    out.write("\n" + _log_excerpt(run, f.violation) + "\n")
    if result.coverage is not None:
        out.write(f"coverage ({result.examples} scenarios): {result.coverage.summary()}\n")
    return EXIT_INTERRUPTED if result.interrupted else EXIT_FAILED


def _jobs_text(jobs: int) -> str:
    return f"{jobs} job{'s' if jobs != 1 else ''}"


def _log_excerpt(run: Any, violation: Any) -> str:
    entries = list(run.log)
    if not entries:
        return "log: (empty)"
    t = run.start_us + (violation.time_us or 0)
    at = next((i for i, e in enumerate(entries) if e.time_us >= t), len(entries) - 1)
    lo = max(0, at - LOG_CONTEXT // 2)
    hi = min(len(entries), lo + LOG_CONTEXT)
    head = f"log of that run, lines {lo + 1}-{hi} of {len(entries)} (around the violation):"
    return head + "\n" + "".join("  " + run.log.format(e) + "\n" for e in entries[lo:hi]).rstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="impsim")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_fuzz_parser(sub)
    args = parser.parse_args(["fuzz", *(sys.argv[1:] if argv is None else argv)])
    return cmd_fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
