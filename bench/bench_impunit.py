"""Benchmark of the impUnit runner (issue 5): a generated suite of 300 test methods.

    python bench/bench_impunit.py [--methods 300] [--files 10] [--repeat 3]

The suite: ``--files`` test files (``tests/suite_NN.test.nut``), each one class, ``--methods`` test
methods in all; every other method is Promise-based (it resolves from an ``imp.wakeup`` after a few
virtual milliseconds), the others are synchronous. The bodies do a little real work each (a loop,
a table, string formatting) and make 2-3 assertions.

Measured, in the same run:

* **runner**: ``run_tests`` on that test home -- what ``impsim test`` does: per file, Builder and
  ``#require``, a compile check, a fresh simulated device and agent, the impUnit session with its
  JSON messages, and impt's output (written to a buffer, not the terminal). Target <= 3 s.
* **reference**: the same test bodies (the same methods, with the same ImpTestCase assertions)
  run as plain Squirrel function calls in ONE VM (a simulated agent: the 300 methods together
  do not fit in a device's memory): a loop calls every method, and the Promise-based ones are
  waited for with ``then``. No runner, no per-file sessions, no impUnit messages.

It prints the wall times (best of ``--repeat``), the ratio runner / reference and the overhead per
test method.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from impapi import Simulation
from impapi.testing.runner import run_tests
from impapi.testing.session import framework_code

SYNC = """
    function test{n:03d}_sync() {{
        local total = 0;
        for (local i = 0; i < {k}; i++) total += i * {n};
        local t = {{ n = {n}, name = "case" + {n}, items = [1, 2, 3] }};
        assertEqual({expected}, total);
        assertDeepEqual({{ n = {n}, name = "case{n}", items = [1, 2, 3] }}, t);
        assertTrue(format("%d-%s", {n}, t.name).len() > 0);
    }}
"""

ASYNC = """
    function test{n:03d}_promise() {{
        local total = 0;
        for (local i = 0; i < {k}; i++) total += i * {n};
        return Promise(function(resolve, reject) {{
            imp.wakeup(0.00{d}, function() {{
                try {{
                    assertEqual({expected}, total);
                    assertClose({n}.0, {n}.0 + 0.001, 0.01);
                    resolve(total);
                }} catch (e) {{
                    reject(e);
                }}
            }}.bindenv(this));
        }}.bindenv(this));
    }}
"""


def method(n: int) -> str:
    k = 20 + n % 13
    expected = n * k * (k - 1) // 2
    template = ASYNC if n % 2 else SYNC
    return template.format(n=n, k=k, expected=expected, d=1 + n % 9)


def generate(home: Path, methods: int, files: int) -> list[str]:
    """Write the suite; returns the class bodies (for the reference)."""
    bodies = []
    per_file = [methods // files + (1 if i < methods % files else 0) for i in range(files)]
    n = 0
    for index, count in enumerate(per_file):
        body = "".join(method(n + j) for j in range(count))
        n += count
        bodies.append(body)
        path = home / "tests" / f"suite_{index:02d}.test.nut"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"class Suite{index:02d} extends ImpTestCase {{\n{body}}}\n", encoding="utf-8")
    (home / ".impt.test").write_text('{"timeout": 10, "testFiles": ["tests/*.test.nut"]}')
    return bodies


def reference_code(bodies: list[str]) -> str:
    """One device program: impsim's impUnit module (for ImpTestCase and Promise), the same
    classes, and a loop that calls every test method directly."""
    classes = "".join(f"class Ref{i:02d} extends ImpTestCase {{\n{b}}}\n" for i, b in enumerate(bodies))
    names = ", ".join(f"Ref{i:02d}" for i in range(len(bodies)))
    driver = f"""
local done = 0, failed = 0, total = 0;
foreach (cls in [{names}]) {{
    local instance = cls(), methods = [];
    foreach (m, _ in cls) if (m.len() > 4 && m.slice(0, 4) == "test") methods.push(m);
    methods.sort();
    foreach (m in methods) {{
        total++;
        local r = instance[m]();
        if (r instanceof Promise) r.then(function(v) {{ done++; }}, function(e) {{ failed++; }});
        else done++;
    }}
}}
imp.wakeup(1, function() {{ server.log(format("reference %d/%d done, %d failed", done, total, failed)); }});
"""
    return framework_code() + "\n" + classes + driver


def timed(repeat: int, fn):
    """(first run, best run, result): the first run is cold (nothing compiled yet); later ones
    reuse the bytecode the binding caches for an identical source."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times[0], min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", type=int, default=300)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pytest", action="store_true",
                    help="also time the suite through the pytest plugin (collection lists each file's tests "
                         "on a simulated imp, then one session per file), in a subprocess")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="impsim-bench-") as tmp:
        home = Path(tmp)
        bodies = generate(home, args.methods, args.files)

        def runner():
            return run_tests(home, out=io.StringIO())

        def reference():
            # An agent: 300 methods in one program outgrow a device's memory, not an agent's.
            sim = Simulation(agent=reference_code(bodies))
            sim.run("10s")
            return sim.log.messages(type="agent.log")

        cold_run, t_run, result = timed(args.repeat, runner)
        cold_ref, t_ref, ref_log = timed(args.repeat, reference)
        if args.pytest:
            import subprocess

            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "impapi.testing.pytest_plugin", "-p", "no:cacheprovider",
                   str(home)]
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
            t = time.perf_counter()
            proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True)
            t_py = time.perf_counter() - t
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "--version"], env=env, capture_output=True)
            t_start = time.perf_counter() - t
            summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]

    ok = result.tests == args.methods and result.failures == 0 and result.success
    ref_ok = ref_log == [f"reference {args.methods}/{args.methods} done, 0 failed"]
    sync = sum(1 for n in range(args.methods) if n % 2 == 0)
    print(f"impUnit runner: {args.methods} test methods ({sync} sync, {args.methods - sync} Promise-based) in "
          f"{args.files} files -> {t_run:.3f} s wall (best of {args.repeat}; first run {cold_run:.3f} s; "
          f"target <= 3 s) [tests {result.tests}, assertions {result.assertions}, failures {result.failures}]")
    print(f"reference: the same bodies as plain calls in one VM -> {t_ref:.3f} s wall (first run {cold_ref:.3f} s) "
          f"{ref_log}")
    print(f"ratio runner/reference: {t_run / t_ref:.1f}x (first runs: {cold_run / cold_ref:.1f}x); runner overhead "
          f"{(t_run - t_ref) / args.methods * 1e3:.2f} ms per test method, "
          f"{t_run / args.files * 1e3:.1f} ms per file (session)")
    if args.pytest:
        print(f"pytest plugin: {t_py:.3f} s wall for the whole pytest process ({summary}); "
              f"a bare `pytest --version` takes {t_start:.3f} s")
    print(f"(reproduce: python3 bench/bench_impunit.py --methods {args.methods} --files {args.files})")
    if not (ok and ref_ok):
        print("ERROR: the suite did not pass as expected (too many methods per file for a device's memory?)")
        return 1
    return 0 if max(t_run, cold_run) <= 3.0 else 2


if __name__ == "__main__":
    sys.exit(main())
