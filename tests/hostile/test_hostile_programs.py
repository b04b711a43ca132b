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
from tools.hostile.runner import MODES, Job, Limits, Pool, mode_of  # noqa: E402
from tools.hostile.shrink import ddmin, shrink  # noqa: E402

@pytest.fixture(scope="module")
def pool():
    with Pool(2, Limits(memory_limit=16 << 20, time_limit=0.25, cpu_budget=3, wall_budget=120)) as p:
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
