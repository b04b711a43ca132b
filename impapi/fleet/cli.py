"""``impsim fleet``: roll a release out to a simulated fleet on Dask and report how it went.

Hooked into :mod:`impapi.cli` with ``add_fleet_parser(subparsers)`` and ``cmd_fleet(args)``.

Exit codes: 0 the fleet ran; 1 it ran and some device crash-looped; 2 bad usage or files (checked
before the run, outputs included), or a device whose run could not finish (time standing still:
its replay command is printed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..builder.load import add_load_arguments, load_arguments, load_options_from_args
from ..cliargs import EXIT_FAILED as EXIT_APP_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, whole
from ..cliargs import duration as _duration

_positive, _seed = whole(1), whole(0)


def add_fleet_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fleet", help="roll a release out to a simulated fleet of devices (on Dask)",
        description="Simulate one app on many devices — each with its own seed, start phase, module, "
                    "network and power, in its device group — under one release plan, on Dask (a local "
                    "cluster by default). Reports the rollout curve, the times to 50/95/99/100 %, the "
                    "devices never updated, the backend load with any post-release thundering herd, and "
                    "for each kind of outlier the `impsim run` command that replays that device alone.",
        epilog="The fleet file (--fleet) and running on an existing cluster are described in docs/fleet.md.")
    p.add_argument("device", metavar="DEVICE.nut", help="the device code")
    p.add_argument("--agent", metavar="AGENT.nut", help="the agent code")
    p.add_argument("--devices", type=_positive, default=None, metavar="N",
                   help="how many devices (default: the fleet file's, else 1000)")
    p.add_argument("--for", dest="duration", metavar="DURATION", type=_duration, default=_duration("1d"),
                   help="virtual time to simulate: 12h, 3d... (default 1d)")
    p.add_argument("--at", dest="events", metavar="TIME:EVENT[=ARG]", action="append", default=[],
                   help="the release plan and what the world does, as for impsim run: 2h:impos=44.0, "
                        "1d:deploy=v2.device.nut, 5h:power-cycle (every device)... Releases (impos, deploy, "
                        "force-deploy) reach each device group after its delay (repeatable)")
    p.add_argument("--fleet", metavar="FLEET.toml", help="how the devices differ: start phase, modules, "
                   "connectivity, power cycles, device groups and their release delays, group moves "
                   "(default: docs/fleet.md's defaults)")
    p.add_argument("--seed", type=_seed, default=None, metavar="N",
                   help="the fleet seed: every device's seed derives from it (default: the fleet file's, else 1)")
    p.add_argument("--workers", type=_positive, default=None, metavar="N",
                   help="worker processes of the local Dask cluster (default: one per CPU)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing Dask cluster instead, e.g. tcp://scheduler-host:8786")
    p.add_argument("--shard-size", type=_positive, default=None, metavar="N",
                   help="devices per Dask task (default: about four tasks per worker, at most 100 devices)")
    p.add_argument("--report", action="append", default=[], metavar="FILE",
                   help="write the report: FILE.html (picture, summary, outliers), FILE.svg or FILE.png "
                        "(repeatable)")
    p.add_argument("--csv", metavar="FILE", help="write one row per device (for pandas)")
    p.add_argument("--json", action="store_true",
                   help="print the whole result (summary, curves, outliers, devices) as JSON; the same "
                        "fleet seed gives the same bytes whatever the workers or shard size")
    add_load_arguments(p)
    return p


def _problems(args: argparse.Namespace) -> list[str]:
    """Everything that would make the run fail or its outputs unwritable, found before it starts."""
    from ..scenario import Deploy, ScenarioError, parse_at
    from ..simulation import compile_problem
    from .engine import dask_problem
    from .report import REPORT_KINDS, output_problem

    problems = []
    try:
        load = load_options_from_args(args)
    except ValueError as e:
        return [str(e)]
    files = [args.device] + ([args.agent] if args.agent else [])
    events = []
    for text in args.events:
        try:
            events.append(parse_at(text))
        except ScenarioError as e:
            problems.append(str(e))
    for e in events:
        if isinstance(e.arg, Deploy):
            files += [p for p in (e.arg.device, e.arg.agent) if p]
    for path in dict.fromkeys(files):
        problem = compile_problem(path, load)
        if problem:
            problems.append(problem)
    for path in args.report:
        problem = output_problem(path, REPORT_KINDS, "--report")
        if problem:
            problems.append(problem)
    if args.csv:
        problem = output_problem(args.csv, None, "--csv")
        if problem:
            problems.append(problem)
    if args.scheduler and args.workers:
        problems.append("--workers sizes the local cluster; with --scheduler the cluster has the workers it has")
    problem = dask_problem()
    if problem:
        problems.append(problem)
    return problems


class _Progress:
    """A one-line bar on a terminal's stderr; nothing at all when stderr is not a terminal."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.on = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.on:
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\rimpsim fleet [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} devices "
                          f"{100 * done // total:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.on:
            self.stream.write("\r\033[K")
            self.stream.flush()


def cmd_fleet(args: argparse.Namespace) -> int:
    from ..builder import BuildError
    from ..durations import format_duration
    from .config import FleetFileError
    from .engine import FleetError, default_workers
    from .fleet import Fleet
    from .shard import DeviceFailed

    problems = _problems(args)
    if problems:
        for problem in problems:
            print(f"impsim: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        fleet = Fleet(args.device, args.agent, devices=args.devices, seed=args.seed, fleet=args.fleet,
                      at=args.events, load=load_options_from_args(args), load_args=load_arguments(args))
        duration = format_duration(args.duration)
        fleet.plan(duration)  # events after the end, groups that cannot hold the fleet: now
    except (FleetFileError, BuildError, ValueError, OSError) as e:
        print(f"impsim: {e}", file=sys.stderr)
        return EXIT_USAGE
    for code in filter(None, (fleet.device_code, fleet.agent_code)):
        for warning in code.warnings:
            print(f"impsim: warning: {warning}", file=sys.stderr)
    progress = _Progress(sys.stderr)
    try:
        result = fleet.run(duration, scheduler=args.scheduler, workers=args.workers,
                           shard_size=args.shard_size, progress=progress)
    except KeyboardInterrupt:
        progress.close()
        print("impsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FleetError as e:
        progress.close()
        print(f"impsim: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DeviceFailed as e:
        progress.close()
        print(f"impsim: {e}\nimpsim: replay it alone: {fleet.replay_command(e.index, duration)}", file=sys.stderr)
        return EXIT_USAGE
    progress.close()
    try:
        for path in args.report:
            result.write_report(path)
        if args.csv:
            result.write_csv(args.csv)
    except (OSError, ValueError) as e:  # checked before the run; the disk can still fill up
        print(f"impsim: cannot write the output: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(result.json_text())
    else:
        where = args.scheduler or f"a local cluster of {args.workers or default_workers()} workers"
        print(_text(result, where, args))
    return EXIT_APP_FAILED if any(o.crash_loop_us is not None for o in result.devices) else EXIT_OK


def _text(result: Any, where: str, args: argparse.Namespace) -> str:
    from ..durations import format_duration
    from .chart import LOAD_WORDS, PATH_WORDS

    s = result.summary()
    n = s["devices"]
    lines = [f"impsim fleet: {n} devices for {format_duration(result.plan.duration_us)} "
             f"(fleet seed {result.plan.seed}) on {where}"]
    paths = ", ".join(f"{PATH_WORDS[p]} {c}" for p, c in s["by_path"].items())
    lines.append(f"updated {s['updated']}/{n} ({100 * s['updated'] / n:.1f}%)" + (f": {paths}" if paths else ""))
    lines.append(f"forced {s['forced']} · never updated {s['never_updated']} · crash loops {s['crash_loops']} · "
                 f"deferrals {s['deferrals']}" + (f" · not released in this run {s['not_released']}"
                                                   if s["not_released"] else ""))
    if result.plan.first_release_us is not None:
        lines.append("time from the release: " + " · ".join(f"{k} {v or 'not reached'}" for k, v in s["time_to"].items()))
    for name, h in (s["herd"] or {}).items():
        if h["peak_per_minute"]:
            verdict = " — THUNDERING HERD" if h["herd"] else ""
            ratio = f" ({h['ratio']:g}×)" if h["ratio"] else ""
            lines.append(f"{LOAD_WORDS[name]} per minute after the release: peak {h['peak_per_minute']} at "
                         f"{h['peak_at']} vs {h['busiest_before']} at most before it{ratio}{verdict}")
    outliers = result.outliers()
    if outliers:
        lines.append("outliers (each command replays that device alone):")
        for x in outliers:
            lines.append(f"  {x.kind}: device {x.index}, {x.why}")
            lines.append(f"    {x.command}")
    for path in args.report:
        lines.append(f"report: {path}")
    if args.csv:
        lines.append(f"per device: {args.csv}")
    return "\n".join(lines)
