"""Benchmark of `impsim fuzz`: examples per second of two-day scenarios, the fuzzer's overhead
over bare replays, two workers, and what sharing a scenario prefix could save.

    python bench/bench_fuzz.py [--examples 100] [--for 2d] [--jobs 2] [--apps sleeper,logger]
                               [--check all] [--profile 0] [--root DIR]

Apps: ``sleeper`` (examples/polite-sleeper: 15-minute wakes, one message a wake, the minimal
sleepy app) and ``logger`` (examples/polite-logger: it scans its flash record log at every boot).
For each app, in one process and one window:

(a) the engine, one process: hypothesis generating scenarios, each played for --for and checked
    with --check (coverage on, as `impsim fuzz` runs by default): examples/s of wall time and CPU
    ms per example;
(b) the fuzzer's overhead over bare replays (target <= 1.15), measured so that the load of a
    shared machine falls alike on both sides: the scenarios of (a) played pair by pair, once as
    the engine plays them (coverage until every line has run, claims, every check, the order of
    same-instant events the example drew, VMs handed on from one example to the next, the
    record dropped once checked) and once bare (play() alone, first in first out), alternating
    which goes first; plus what hypothesis and the engine cost per example (the search with
    one-second plays, less those plays, which hand their VMs on too);
(c) --jobs workers (as `impsim fuzz --jobs N`): examples/s of wall time, and of CPU time over N
    cores (the parent's and the workers' CPU together): what N free cores give when the machine
    is shared (the load average is printed beside every wall figure);
(d) sharing a scenario's prefix: a scenario's run before its first event is the app's undisturbed
    run, the same for every example, so a checkpoint of it (a forked copy of the simulation, say)
    could be shared. Over the generated scenarios, the mean fraction of a run before its first
    event bounds what any such sharing can save, even at no cost: speedup <= 1 / (1 - mean).
(e) `impsim fuzz --jobs N` as a user runs it: a new process (interpreter start-up, imports,
    forking the workers, each warming up) for the same number of examples: wall time and CPU
    (the CLI's and its workers'), beside the CPU of the start-up alone (`import impapi.cli`).
    Modules load from cached bytecode, as in an installed impsim.
    For a short search the start-up weighs: (c) is the steady rate a long search reaches.

``--root DIR`` measures another checkout's impapi (for a "before" figure: run it with that
checkout's venv; the apps are always this checkout's files). A checkout whose fuzzer reports a
failure stops early and its figures are not comparable: give --check without the check it fails.

Recorded figures are in bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=100)
    p.add_argument("--for", dest="duration", default="2d")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--apps", default="sleeper,logger")
    p.add_argument("--check", default="all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, help="examples to profile with cProfile (0: skip)")
    p.add_argument("--root", default=str(HERE), help="the checkout whose impapi is measured")
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
ROOT = Path(ARGS.root).resolve() if ARGS else HERE
sys.path.insert(0, str(ROOT))

from impapi.testing.fuzz import engine  # noqa: E402
from impapi.testing.fuzz.engine import fuzz  # noqa: E402
from impapi.scenario import Scenario  # noqa: E402
from impapi.testing.fuzz.run import play  # noqa: E402

APPS = {
    "sleeper": (str(HERE / "examples/polite-sleeper/sleeper.device.nut"),
                str(HERE / "examples/polite-sleeper/sleeper.agent.nut")),
    "logger": (str(HERE / "examples/polite-logger/logger.device.nut"),
               str(HERE / "examples/polite-logger/logger.agent.nut")),
}


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    wall, cpu = time.perf_counter(), cpu_now()
    result = fn()
    return time.perf_counter() - wall, cpu_now() - cpu, result


def search(app, examples: int, jobs: int, seed: int, keep: list | None = None):
    """The engine as `impsim fuzz` runs it; ``keep`` collects the scenarios it generated."""
    original = engine.play

    def keeping(sim, scn, **kw):
        if keep is not None and len(keep) < examples:
            keep.append(scn)
        return original(sim, scn, **kw)

    engine.play = keeping
    try:
        return fuzz(app[0], app[1], duration=ARGS.duration, examples=examples, checks=ARGS.check, seed=seed,
                    jobs=jobs)
    finally:
        engine.play = original


def shelf_options() -> dict:
    """play()'s options for simulations that hand their VMs on, as the engine's examples do
    (impapi.vmshelf), where the measured checkout has them."""
    import inspect

    if "vms" not in inspect.signature(play).parameters:
        return {}
    from impapi.vmshelf import VMShelf

    return {"vms": VMShelf()}


def done_with(run) -> None:
    """What the engine does with a passing example's run once checked."""
    getattr(run, "discard", run.close)()


def engine_cost(app, n: int) -> float:
    """CPU seconds per example of hypothesis and the engine alone: the search with every play
    replaced by a one-second run."""
    original = engine.play

    def short(sim, scn, **kw):
        return original(sim, Scenario(device=app[0], agent=app[1], duration_us=1_000_000), **kw)

    shelf = shelf_options()

    def tiny():
        for _ in range(n):
            play(None, Scenario(device=app[0], agent=app[1], duration_us=1_000_000), **shelf).close()

    engine.play = short
    try:
        _w, with_engine, _ = timed(lambda: fuzz(app[0], app[1], duration=ARGS.duration, examples=n,
                                                checks=ARGS.check, seed=ARGS.seed, jobs=1))
    finally:
        engine.play = original
    _w, plays, _ = timed(tiny)
    return max(0.0, with_engine - plays) / n


def overhead(app, played: list) -> tuple[float, float]:
    """CPU seconds of the scenarios played as the engine plays them (coverage until every line
    has run, claims, every check, the drawn same-instant order) and played bare, pair by pair,
    alternating which goes first, so that both see the same load."""
    from impapi.testing.fuzz import checks
    from impapi.testing.fuzz.coverage import CoverageCollector

    collector = CoverageCollector()
    code = {path: Path(path).read_text(encoding="utf-8") for path in app if path}
    fuzz_cpu = bare_cpu = 0.0

    shelf = shelf_options()

    def as_fuzzed(scn):
        run = play(None, scn, coverage=collector, **shelf)  # with the same-instant order the engine drew
        checks.violations(run, only=ARGS.check)
        done_with(run)
        collector.mark_done(code)

    def as_bare(scn):
        play(None, scn, tie_seed=None, claim=None).close()

    # As the engine does, the heap made before the pairs is frozen: otherwise a collection of
    # the whole heap (tens of ms) falls every few dozen plays on one side or the other, the same
    # side every time for a given checkout, and tips the ratio by about 1 ms an example.
    gc.collect()
    gc.freeze()
    try:
        for i, scn in enumerate(played):
            pair = (as_fuzzed, as_bare) if i % 2 == 0 else (as_bare, as_fuzzed)
            for fn in pair:
                _w, cpu, _ = timed(lambda: fn(scn))
                if fn is as_fuzzed:
                    fuzz_cpu += cpu
                else:
                    bare_cpu += cpu
    finally:
        gc.unfreeze()
    return fuzz_cpu, bare_cpu


def as_user(app, n: int) -> None:
    """(e): `impsim fuzz` in a new process, as a user runs it."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as pyc:
        # Modules load from cached bytecode, as in an installed impsim (pip compiles it), even
        # where the environment says not to write any (PYTHONDONTWRITEBYTECODE): the first
        # import, not timed, writes it.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=pyc)
        warm = "import impapi.cli, impapi.testing.fuzz.engine"
        subprocess.run([sys.executable, "-c", warm], env=env, check=True)
        _w, startup, _ = timed(lambda: subprocess.run([sys.executable, "-c", "import impapi.cli"], env=env, check=True))
        cmd = [sys.executable, "-m", "impapi.cli", "fuzz", app[0], "--examples", str(n), "--for", ARGS.duration,
               "--jobs", str(ARGS.jobs), "--check", ARGS.check, "--seed", str(ARGS.seed + 1), "--out", out]
        if app[1]:
            cmd[5:5] = ["--agent", app[1]]
        wall, cpu, done = timed(lambda: subprocess.run(cmd, env=env, capture_output=True, text=True))
    verdict = {0: "passed", 1: "FAILED"}.get(done.returncode, f"exit {done.returncode}")
    print(f"  (e) `impsim fuzz --jobs {ARGS.jobs}` in a new process: {n} examples {verdict}: {wall:6.2f} s wall "
          f"({load()}) -> {n / wall:6.1f}/s; CPU {cpu:.2f} s in all (start-up alone {startup:.2f} s) -> "
          f"{n / (cpu / ARGS.jobs):6.1f}/s on {ARGS.jobs} free cores")


def bench_app(name: str) -> dict:
    app = APPS[name]
    n = ARGS.examples
    search(app, 3, 1, ARGS.seed + 1000)  # warm: the app's undisturbed run, imports, caches
    played: list = []
    wall, cpu, result = timed(lambda: search(app, n, 1, ARGS.seed, played))
    verdict = "passed" if result.passed else f"FAILED ({result.failure.violation.check}: not comparable)"
    print(f"  (a) engine, 1 process: {n} examples {verdict}: {wall:6.2f} s wall ({load()}), "
          f"{n / wall:6.1f}/s; CPU {1000 * cpu / n:6.1f} ms/example")
    per_example = engine_cost(app, n)  # over as many examples as (a): a 100-example window read +-1 ms
    fuzz_cpu, bcpu = overhead(app, played)
    ratio = (fuzz_cpu + per_example * len(played)) / bcpu
    print(f"  (b) the same {len(played)} scenarios, pair by pair: bare CPU {1000 * bcpu / len(played):6.1f} ms/example; "
          f"as fuzzed (coverage, claims, checks, drawn order) {1000 * fuzz_cpu / len(played):6.1f}; hypothesis and the engine "
          f"{1000 * per_example:4.1f} ms/example -> fuzz/bare CPU {ratio:.3f} (target <= 1.15)")
    jwall, jcpu, jresult = timed(lambda: search(app, n, ARGS.jobs, ARGS.seed + 1))
    per_core = n / (jcpu / ARGS.jobs)
    print(f"  (c) {ARGS.jobs} workers: {n} examples {'passed' if jresult.passed else 'FAILED'}: {jwall:6.2f} s wall "
          f"({load()}) -> {n / jwall:6.1f}/s; CPU {jcpu:.2f} s in all -> {per_core:6.1f}/s on "
          f"{ARGS.jobs} free cores")
    fractions = [(min(e.at_us for e in s.events) / s.duration_us) if s.events else 1.0 for s in played]
    mean = statistics.mean(fractions)
    bound = 1 / (1 - mean) if mean < 1 else float("inf")
    print(f"  (d) prefix before the first event: mean {mean:.2f} of a run (median {statistics.median(fractions):.3f})"
          f" -> sharing prefixes saves at most {bound:.2f}x (kept only if >= 2x)")
    as_user(app, n)
    return {"fuzz_cpu_ms": 1000 * cpu / n, "bare_cpu_ms": 1000 * bcpu / len(played), "ratio": ratio,
            "jobs_wall_rate": n / jwall, "jobs_cpu_rate": per_core, "prefix_bound": bound}


def profile(name: str, count: int) -> None:
    app = APPS[name]
    prof = cProfile.Profile()
    prof.enable()
    search(app, count, 1, ARGS.seed + 7)
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"  profile of {count} examples, top functions by own time:")
    for (file, line, fn), (_cc, nc, tt, _ct, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:15]:
        where = fn if file == "~" else f"{Path(file).name}:{line}({fn})"
        print(f"    {tt:7.3f} s  {where}  [{nc // count} calls/example]")


def main() -> None:
    print(f"impsim fuzz benchmark: {ARGS.duration} scenarios, --check {ARGS.check}, impapi from {ROOT}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {load()}")
    for name in ARGS.apps.split(","):
        print(f"{name} ({Path(APPS[name][0]).name}):")
        bench_app(name)
        if ARGS.profile:
            profile(name, ARGS.profile)


if __name__ == "__main__":
    main()
