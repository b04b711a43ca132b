"""The hostile-program campaign: generate, run, classify, shrink, report.

    python -m tools.hostile campaign --cpu-seconds 3600 --workers 2 --out /tmp/hostile
    python -m tools.hostile campaign --seeds 0:300 --json        # a fixed set (what CI runs)
    python -m tools.hostile replay /tmp/hostile/crash/1a2b3c4d   # run a saved reproducer again
    python -m tools.hostile replay --seed 17                     # or one seed (its mode: seed % 3)

Seed ``s`` is a program of mode ``MODES[s % 3]`` (``vm-imp``, ``vm-standard``, ``impsim``). The
report gives programs, programs per second (wall clock and CPU), and outcomes by class and
mode. Each distinct failure (class and signature) is shrunk once and saved under
``OUT/<class>/<hash>/`` with the original program, the reproducer, the outcome and the command
that replays it. Run it niced on a shared machine (``nice -n 10``); ``kill -TERM`` ends it cleanly (the programs
running finish, then the report), and ``OUT/progress.txt`` has the table so far every minute.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

from .generator import Program
from .runner import CLASSES, FAILURES, MODES, Job, Limits, Outcome, Pool, mode_of
from .shrink import shrink


def _seeds(spec: str | None, start: int) -> Iterator[int]:
    if spec:
        a, _, b = spec.partition(":")
        return iter(range(int(a), int(b))) if b else iter([int(a)])
    return itertools.count(start)


def save(out: Path, outcome: Outcome, original: Program, small: Program, small_outcome: Outcome) -> Path:
    sig = outcome.signature()
    where = out / outcome.cls / hashlib.sha256(sig.encode()).hexdigest()[:10]
    where.mkdir(parents=True, exist_ok=True)
    for name, program in (("original", original), ("reproducer", small)):
        if program.target == "imp":
            (where / f"{name}.device.nut").write_text(program.source())
            (where / f"{name}.agent.nut").write_text(program.agent_source())
        else:
            (where / f"{name}.nut").write_text(program.source())
    (where / "outcome.json").write_text(json.dumps({
        "signature": sig, "class": outcome.cls, "detail": outcome.detail, "mode": outcome.mode,
        "seed": outcome.seed, "reproducer_detail": small_outcome.detail,
        "replay": f"python -m tools.hostile replay {where}", "output": small_outcome.output[-2000:],
    }, indent=2) + "\n")
    return where


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(memory_limit=args.memory_limit << 20, time_limit=args.time_limit, cpu_budget=args.cpu_budget,
                  firing_budget=args.firing_budget, boot_budget=args.boot_budget,
                  blocked_budget=args.blocked_budget)


def campaign(args: argparse.Namespace) -> int:
    limits = _limits(args)
    out = Path(args.out) if args.out else None
    modes = set(args.modes.split(",")) if args.modes else set(MODES)
    counts: collections.Counter = collections.Counter()
    first: dict[str, Outcome] = {}
    seen: collections.Counter = collections.Counter()
    saved: dict[str, str] = {}
    start = time.monotonic()
    programs = 0
    run_cpu = 0.0
    seeds_run: list[int] = []
    progress_at = start

    def summarise() -> dict:
        wall = time.monotonic() - start
        return {
            "programs": programs, "wall_seconds": round(wall, 1), "cpu_seconds": round(run_cpu, 1),
            "seeds": f"{min(seeds_run)}..{max(seeds_run)}" if seeds_run else "",
            "programs_per_second": round(programs / wall, 2) if wall else 0.0,
            "programs_per_cpu_second": round(programs / run_cpu, 2) if run_cpu else 0.0,
            "by_class": {c: sum(v for (m, k), v in counts.items() if k == c) for c in CLASSES},
            "by_mode": {m: {c: counts[(m, c)] for c in CLASSES if counts[(m, c)]} for m in MODES if m in modes},
            "failures": [{"signature": sig, "count": seen[sig], "seed": o.seed, "mode": o.mode, "class": o.cls,
                          "detail": o.detail, "saved": saved.get(sig), "output": o.output[-1500:]}
                         for sig, o in first.items()],
        }

    # SIGTERM (or SIGINT) ends the campaign cleanly: no new programs, the running ones finish,
    # the report is written.
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    with Pool(args.workers, limits) as pool:
        def jobs() -> Iterator[Job]:
            for seed in _seeds(args.seeds, args.start_seed):
                if stopping or (args.seconds and time.monotonic() - start > args.seconds):
                    return
                if args.cpu_seconds and pool.cpu_total > args.cpu_seconds:
                    return
                mode = mode_of(seed)
                if mode in modes:
                    yield Job(seed, mode)

        for job, outcome in pool.run(jobs()):
            programs += 1
            run_cpu += outcome.cpu
            seeds_run.append(outcome.seed)
            counts[(outcome.mode, outcome.cls)] += 1
            if outcome.cls in FAILURES:
                sig = outcome.signature()
                seen[sig] += 1
                if sig not in first:
                    first[sig] = outcome
                    print(f"[{programs}] {outcome.cls} in {outcome.mode} (seed {outcome.seed}): {outcome.detail}",
                          file=sys.stderr, flush=True)
            if out is not None and time.monotonic() - progress_at > 60:
                # The table so far, for whoever watches a long campaign.
                progress_at = time.monotonic()
                out.mkdir(parents=True, exist_ok=True)
                (out / "progress.txt").write_text(report(summarise()) + "\n")
        summary = summarise()
        if out is not None and not args.no_shrink:
            for sig, outcome in first.items():
                job = Job(outcome.seed, outcome.mode)
                small, small_outcome = shrink(pool, outcome, job.get_program(), budget=args.shrink_budget)
                saved[sig] = str(save(out, outcome, job.get_program(), small, small_outcome))
            summary["failures"] = summarise()["failures"]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "progress.txt").write_text(report(summary) + "\n(finished)\n")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(report(summary))
    return 1 if first else 0


def report(summary: dict) -> str:
    lines = [f"programs: {summary['programs']} (seeds {summary['seeds']})   wall: {summary['wall_seconds']} s   "
             f"CPU: {summary['cpu_seconds']} s   programs/s: {summary['programs_per_second']} "
             f"(per CPU second: {summary['programs_per_cpu_second']})", ""]
    modes = list(summary["by_mode"])
    lines.append("| class | " + " | ".join(modes) + " | total |")
    lines.append("|---|" + "---:|" * (len(modes) + 1))
    for c in CLASSES:
        row = [summary["by_mode"][m].get(c, 0) for m in modes]
        lines.append(f"| {c} | " + " | ".join(map(str, row)) + f" | {summary['by_class'][c]} |")
    if summary["failures"]:
        lines += ["", "Distinct failures:"]
        for f in summary["failures"]:
            lines.append(f"  {f['count']:>5}x {f['class']} {f['mode']} seed {f['seed']}: {f['detail']}")
            if f["saved"]:
                lines.append(f"         reproducer: {f['saved']}")
    return "\n".join(lines)


def replay(args: argparse.Namespace) -> int:
    if args.dir:
        meta = json.loads((Path(args.dir) / "outcome.json").read_text())
        d = Path(args.dir)
        if (d / "reproducer.nut").exists():
            program = Program(meta["seed"], "vm", ((d / "reproducer.nut").read_text(),))
        else:
            program = Program(meta["seed"], "imp", ((d / "reproducer.device.nut").read_text(),),
                              ((d / "reproducer.agent.nut").read_text(),))
        # The saved files carry the prelude already: run them as they are.
        program = _verbatim(program)
        job = Job(meta["seed"], meta["mode"], program)
    else:
        job = Job(args.seed, args.mode or mode_of(args.seed))
    with Pool(1, _limits(args)) as pool:
        outcome = pool.run_one(job)
    if args.show:
        p = job.get_program()
        print(p.source() if p.target == "vm" else p.source() + "\n// --- agent ---\n" + p.agent_source())
    print(outcome.output)
    print(f"==> {outcome.cls}: {outcome.detail} ({outcome.cpu:.2f} s CPU)")
    return 1 if outcome.cls in FAILURES else 0


class _VerbatimProgram(Program):
    def source(self) -> str:
        return self.chunks[0]

    def agent_source(self) -> str:
        return self.agent_chunks[0] if self.agent_chunks else ""


def _verbatim(p: Program) -> Program:
    return _VerbatimProgram(p.seed, p.target, p.chunks, p.agent_chunks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.hostile", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("campaign", "replay"):
        p = sub.add_parser(name)
        p.add_argument("--memory-limit", type=int, default=64, help="the VM's memory_limit in MB (64)")
        p.add_argument("--time-limit", type=float, default=1.0, help="the VM's time_limit in seconds (1)")
        p.add_argument("--cpu-budget", type=float, default=Limits.cpu_budget,
                       help="CPU seconds a program may use (plus the boot and firing budgets): more is a hang")
        p.add_argument("--firing-budget", type=float, default=Limits.firing_budget,
                       help="CPU seconds more for each watchdog firing the log shows")
        p.add_argument("--boot-budget", type=float, default=Limits.boot_budget,
                       help="CPU seconds more for each boot of Squirrel the log shows")
        p.add_argument("--blocked-budget", type=float, default=Limits.blocked_budget,
                       help="wall seconds a program may use no CPU while not runnable: more is a hang")
        if name == "campaign":
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--seconds", type=float, help="stop starting programs after this many wall seconds")
            p.add_argument("--cpu-seconds", type=float, help="... or after the programs used this much CPU")
            p.add_argument("--seeds", help="A:B, a fixed range of seeds")
            p.add_argument("--start-seed", type=int, default=0)
            p.add_argument("--modes", help="comma-separated subset of " + ",".join(MODES))
            p.add_argument("--out", help="directory for shrunk reproducers of each distinct failure")
            p.add_argument("--no-shrink", action="store_true")
            p.add_argument("--shrink-budget", type=float, default=300.0, help="CPU seconds per shrink")
            p.add_argument("--json", action="store_true", help="print the summary as JSON")
        else:
            p.add_argument("dir", nargs="?", help="a saved reproducer directory")
            p.add_argument("--seed", type=int)
            p.add_argument("--mode", choices=MODES)
            p.add_argument("--show", action="store_true", help="print the program too")
    args = parser.parse_args(argv)
    if args.command == "replay" and not args.dir and args.seed is None:
        parser.error("replay needs a reproducer directory or --seed")
    if args.command == "campaign" and not (args.seconds or args.cpu_seconds or args.seeds):
        parser.error("campaign needs --seconds, --cpu-seconds or --seeds")
    return campaign(args) if args.command == "campaign" else replay(args)


if __name__ == "__main__":
    sys.exit(main())
