"""The hostile-program harness (``tools/hostile``: generator, runner, shrinker) sees what it
must see: a crash, a hang, Python's wording, each documented outcome; a seed reproduces its
program; the shrinker keeps only what fails. ``test_hostile_campaign.py`` runs the programs."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.hostile.generator import Program, generate  # noqa: E402
from tools.hostile.runner import BOOT_LINE, MODES, Job, Limits, Pool, mode_of  # noqa: E402
from tools.hostile.shrink import ddmin, shrink  # noqa: E402

@pytest.fixture(scope="module")
def pool():
    with Pool(2, Limits(memory_limit=16 << 20, time_limit=0.25, cpu_budget=3, firing_budget=2)) as p:
        yield p


# --- the harness sees what it must see ---------------------------------------------------------

def _die(sig: int):
    def action():
        os.kill(os.getpid(), sig)
        raise AssertionError("still alive")
    return action


def _spin():
    while True:
        pass


def test_a_signal_is_a_crash_and_a_runaway_is_a_hang(pool):
    crash = pool.run_one(Job(0, "vm-imp", action=_die(signal.SIGSEGV)))
    assert (crash.cls, crash.detail) == ("crash", "SIGSEGV")
    abort = pool.run_one(Job(0, "vm-imp", action=_die(signal.SIGABRT)))
    assert (abort.cls, abort.detail) == ("crash", "SIGABRT")
    hang = pool.run_one(Job(0, "vm-imp", action=_spin))
    assert hang.cls == "hang" and "CPU" in hang.detail


def _logs_watchdog_firings(lines: list[str]):
    """Spin for about 2.5 s of CPU, logging each line after each half second."""
    def action():
        import time
        for line in lines:
            start = time.process_time()
            while time.process_time() - start < 0.5:
                pass
            print(line)
        return "limit", "watchdog", []
    return action


FIRING = "2026-01-01T00:00:05.000Z [Sim] device watchdog: an event ran over 250000000 Squirrel instructions"


def test_each_watchdog_firing_in_the_log_adds_to_the_cpu_budget():
    """A run whose log shows the watchdog stopping runaway code has more CPU; the same CPU
    without firings -- or with a script's own line that mimics one -- is a hang."""
    with Pool(1, Limits(cpu_budget=1, firing_budget=1, boot_budget=0)) as pool:
        fired = pool.run_one(Job(0, "impsim", action=_logs_watchdog_firings([FIRING] * 5)))
        assert (fired.cls, fired.detail) == ("limit", "watchdog") and fired.cpu > 2
        fake = FIRING.replace("Z [Sim]", "Z [Device] [Sim]")
        for lines in (["x"] * 5, [fake] * 5):
            hang = pool.run_one(Job(0, "impsim", action=_logs_watchdog_firings(lines)))
            assert (hang.cls, hang.detail) == ("hang", "over 1 s of CPU (0 boots, 0 watchdog firings)")


def test_impsims_watchdog_lines_are_counted():
    """The real log lines of a firing and a boot match what the runner counts: three firings of about
    0.7 s of CPU each fit 1.5 s plus 1 s a firing, where the whole run (~2.1 s) would not fit 1.5 s
    alone. (A firing is 250 million instructions: 75 s of the device's time at 300 ns an
    instruction, so three in four minutes: at 1:17, 2:37 and 3:57.) The first firing comes after
    ~1 s of CPU (start-up and the work): the base budget leaves it room on a noisy machine, where a
    run's CPU time varies by a fifth."""
    with Pool(1, Limits(cpu_budget=1.5, firing_budget=1, boot_budget=0, impsim_for="4m")) as pool:
        out = pool.run_one(Job(0, "impsim", Program(0, "imp", ("while (true) {}",), ())))
    assert out.cls == "limit" and out.output.count("[Sim] device watchdog") == 3 and out.cpu > 1.5
    # Its boots (three of the device, the agent's first) are what the boot budget counts.
    assert len(BOOT_LINE.findall(out.output.encode())) == 4


def test_a_hang_is_judged_by_cpu_not_by_the_wall_clock():
    """Starved of CPU (runnable: state R) is never a hang; without CPU and not runnable for
    longer than blocked_budget is one."""
    limits = Limits(cpu_budget=20, firing_budget=10, boot_budget=2, blocked_budget=60)
    assert limits.judge("R", 5.0, 0, idle=10_000) is None
    assert limits.judge("S", 5.0, 0, idle=30) is None
    assert limits.judge("S", 5.0, 0, idle=61) == ("hang", "blocked: no CPU for 60 s (state S)")
    assert limits.judge("R", 25.0, 1, idle=0) is None
    assert limits.judge("R", 25.0, 0, idle=0) == ("hang", "over 20 s of CPU (0 boots, 0 watchdog firings)")
    assert limits.judge("R", 25.0, 0, idle=0, boots=3) is None
    assert limits.judge("R", 27.0, 0, idle=0, boots=3) == ("hang", "over 26 s of CPU (3 boots, 0 watchdog firings)")


def test_a_blocked_child_is_a_hang():
    def sleeps():
        import time
        time.sleep(600)
    with Pool(1, Limits(blocked_budget=1)) as pool:
        out = pool.run_one(Job(0, "vm-imp", action=sleeps))
    assert out.cls == "hang" and out.detail.startswith("blocked: no CPU for 1 s")


def test_a_python_exception_or_python_wording_is_undocumented(pool):
    def raises():
        raise RecursionError("maximum recursion depth exceeded")

    out = pool.run_one(Job(0, "vm-imp", action=raises))
    assert (out.cls, out.detail) == ("undocumented", "RecursionError: maximum recursion depth exceeded")
    worded = pool.run_one(Job(0, "vm-standard", Program(0, "vm", ('print("x: \'int\' object has no attribute \'upper\'");',))))
    assert worded.cls == "undocumented" and "has no attribute" in worded.detail


@pytest.mark.parametrize("code, cls", [
    ("return [1, {a = 2}];", "ok"),
    ('throw "nope";', "script-error"),
    ("local x = ;", "script-error"),
    ("while (true) {}", "limit"),
    ("local a = []; while (true) a.push(array(10000));", "limit"),
])
def test_documented_outcomes_are_told_apart(pool, code, cls):
    for mode in ("vm-imp", "vm-standard"):
        assert pool.run_one(Job(0, mode, Program(0, "vm", (code,)))).cls == cls


def test_impsim_runs_device_and_agent_code(pool):
    ok = pool.run_one(Job(0, "impsim", Program(0, "imp", ('server.log("d");',), ('server.log("a");',))))
    assert ok.cls == "ok" and "[Device] d" in ok.output and "[Agent] a" in ok.output
    bad = pool.run_one(Job(0, "impsim", Program(0, "imp", ("imp.wakeup(1, 2);",), ())))
    assert bad.cls == "script-error" and "parameter 2 has an invalid type" in bad.output


# --- the generator and the shrinker ---------------------------------------------------------

def test_a_seed_is_a_complete_reproducer():
    for seed in range(20):
        for target in ("vm", "imp"):
            a, b = generate(seed, target), generate(seed, target)
            assert (a.source(), a.agent_source()) == (b.source(), b.agent_source())
    assert len({generate(s, "vm").source() for s in range(20)}) == 20
    assert mode_of(0) == MODES[0] and {mode_of(s) for s in range(3)} == set(MODES)


def test_ddmin_finds_a_minimal_failing_subset():
    assert ddmin(list(range(40)), lambda xs: 7 in xs and 31 in xs) == [7, 31]
    assert ddmin(list(range(10)), lambda xs: True) == []


def test_shrink_keeps_only_the_chunk_that_fails(pool):
    chunks = tuple(f'LOG("chunk {i}");' for i in range(12))
    program = Program(5, "vm", chunks[:7] + ('throw "the one";',) + chunks[7:])
    failure = pool.run_one(Job(5, "vm-imp", program))
    assert failure.detail == "the one"
    small, outcome = shrink(pool, failure, program, budget=60)
    assert small.chunks == ('throw "the one";',) and outcome.signature() == failure.signature()
