"""`impsim fuzz` and the Python API end to end: the polite example passes, the impolite one
fails and shrinks to a few events, and a failure replays byte for byte with `impsim run`."""

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from impapi import Config, Simulation
from impapi.scenario import Scenario, load_toml, parse_at
from impapi.testing import checks, play, scenarios
from impapi.testing.fuzz.engine import fuzz
from impapi.testing.fuzz_cli import add_fuzz_parser, cmd_fuzz

from loggers import impolite_keeps_readings, polite_persist

ROOT = Path(__file__).resolve().parents[2]
LOGGERS = str(Path(__file__).with_name("loggers.py"))


def impsim_fuzz(capsys, *argv):
    parser = argparse.ArgumentParser(prog="impsim")
    add_fuzz_parser(parser.add_subparsers(dest="command"))
    code = cmd_fuzz(parser.parse_args(["fuzz", *map(str, argv)]))
    out = capsys.readouterr()
    return code, out.out, out.err


def impsim_run(args, cwd):
    """`impsim run ARGS` in a separate process; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "impapi.cli", "run", *args], cwd=cwd, env=env,
                          capture_output=True, check=True).stdout


def test_impolite_fails_check_all_and_shrinks_to_at_most_3_events(capsys, tmp_path, impolite_app):
    code, out, _ = impsim_fuzz(capsys, impolite_app[0], "--agent", impolite_app[1], "--for", "2d",
                               "--examples", "500", "--check", "all", "--seed", "1", "--out", tmp_path)
    assert code == 1
    assert "impsim fuzz: FAILED after" in out
    scn = load_toml(tmp_path / "logger.fuzz-failure.toml")
    assert len(scn.events) <= 3
    assert "[handler-first]" in out and "logger.device.nut:15: agent.send(" in out
    for name in ("logger.fuzz-failure.log", "logger.fuzz-failure.html"):
        assert (tmp_path / name).stat().st_size > 100


def test_impolite_loses_data_to_one_update_and_the_command_replays_it_byte_for_byte(capsys, tmp_path,
                                                                                    impolite_app):
    code, out, _ = impsim_fuzz(capsys, impolite_app[0], "--agent", impolite_app[1], "--for", "6h",
                               "--examples", "200", "--check", "data-persists,update-applied",
                               "--extra", f"{LOGGERS}:impolite_keeps_readings", "--seed", "2", "--out", tmp_path)
    assert code == 1, out
    assert "[impolite_keeps_readings]" in out and "lost" in out
    scn = load_toml(tmp_path / "logger.fuzz-failure.toml")
    assert 1 <= len(scn.events) <= 3
    assert scn.events[0].kind in ("impos", "deploy", "power-cycle")
    logged = (tmp_path / "logger.fuzz-failure.log").read_bytes()
    command = next(line.strip() for line in out.splitlines() if line.strip().startswith("impsim run ") and "--at" in line)
    args = shlex.split(command)[2:]
    assert impsim_run(args, cwd=os.getcwd()) == logged
    assert impsim_run(["--scenario", str(tmp_path / "logger.fuzz-failure.toml")], cwd=tmp_path) == logged


def test_polite_passes_quickly_with_its_persistence_declared(impolite_app, polite_app):
    result = fuzz(*polite_app, duration="6h", examples=25, seed=3, persist=polite_persist)
    assert result.passed and result.examples == 25
    assert result.events > 25 and set(result.kinds) <= {"impos", "deploy", "power-cycle", "offline"}
    covered = {Path(f.file).name: (len(f.covered), len(f.executable)) for f in result.coverage.files}
    device_covered, device_total = covered["logger.device.nut"]
    assert device_total > 30 and device_covered >= device_total - 2


def test_pass_summary_lists_examples_events_checks_and_coverage(capsys, polite_app):
    code, out, _ = impsim_fuzz(capsys, polite_app[0], "--agent", polite_app[1], "--for", "3h",
                               "--examples", "12", "--seed", "4")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("impsim fuzz: passed: 12 scenarios of 3h")
    assert lines[0].endswith("seed 4, 1 job") or lines[0].endswith(f"seed 4, {len(os.sched_getaffinity(0))} jobs")
    assert lines[1].startswith("  events explored: ")
    assert lines[2] == ("  checks held: handler-first, restart-before-sleep, update-applied, no-forced-mid-write, "
                        "data-persists, no-crash-loop, no-simultaneous-restart")
    assert lines[3].startswith("  coverage: logger.device.nut ") and "lines (" in lines[3]


def test_the_same_seed_repeats_the_search(impolite_app):
    a = fuzz(*impolite_app, duration="6h", examples=60, seed=9, checks="data-persists",
             extra=[checks.custom(impolite_keeps_readings)], coverage=False)
    b = fuzz(*impolite_app, duration="6h", examples=60, seed=9, checks="data-persists",
             extra=[checks.custom(impolite_keeps_readings)], coverage=False)
    assert not a.passed and a.failure.scenario == b.failure.scenario
    assert a.failure.run.log_text() == b.failure.run.log_text()


def test_jobs_share_the_examples(impolite_app):
    result = fuzz(*impolite_app, duration="2h", examples=20, seed=5, checks="no-crash-loop", jobs=2)
    assert result.passed and result.examples == 20 and result.jobs == 2
    assert result.coverage.covered > 0


def test_jobs_report_a_failure_found_by_a_worker(impolite_app):
    result = fuzz(*impolite_app, duration="2h", examples=4, seed=5, jobs=2)
    assert not result.passed and result.failure.violation.check == "handler-first"


def test_a_failure_stops_the_other_workers(polite_app):
    # The polite app fails only in this process (a check keyed on its pid): its worker would pass
    # all of its 150 two-day examples, which take many seconds, unless told that one was found.
    parent = os.getpid()

    def fails_here(run):
        return "the parent's failure" if os.getpid() == parent else None

    result = fuzz(*polite_app, duration="2d", examples=300, seed=1, checks=(), extra=[checks.custom(fails_here)],
                  coverage=False, jobs=2)
    assert not result.passed and result.failure.violation.check == "fails_here"
    assert result.examples < 100  # 1 in this process, a few in the worker before it heard


def test_cli_jobs_default_to_one_per_cpu(impolite_app):
    parser = argparse.ArgumentParser(prog="impsim")
    add_fuzz_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["fuzz", impolite_app[0]]).jobs == len(os.sched_getaffinity(0))
    assert parser.parse_args(["fuzz", impolite_app[0], "--jobs", "3"]).jobs == 3


@pytest.mark.parametrize("jobs, message", [("0", "must be at least 1, got 0"), ("many", "not a whole number: 'many'")])
def test_bad_jobs_exit_2(capsys, impolite_app, jobs, message):
    with pytest.raises(SystemExit) as exit_:
        impsim_fuzz(capsys, impolite_app[0], "--jobs", jobs)
    assert exit_.value.code == 2 and f"argument --jobs: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--check", "polite-ish"], "unknown check 'polite-ish'"),
    (["--events", "impos,reboot"], "unknown event 'reboot'"),
    (["--persist", "nowhere.py:f"], "no such file nowhere.py"),
    (["--persist", "loggers"], "write FILE.py:FUNCTION"),
    (["--critical", "only-one"], "--critical takes BEGIN,END"),
    (["--critical", "[,x"], "--critical: '[' is not a regular expression"),
    (["--claim", "("], "--claim: '(' is not a regular expression"),
    (["--events", ",,"], "--events names no event"),
])
def test_usage_errors_exit_2(capsys, impolite_app, argv, message):
    code, out, err = impsim_fuzz(capsys, impolite_app[0], *argv)
    assert code == 2 and out == "" and message in err


def test_code_that_does_not_compile_exits_2_with_file_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.device.nut"
    bad.write_text('server.log("ok");\nlocal x = ;\n')
    code, _, err = impsim_fuzz(capsys, bad)
    assert code == 2 and f"{bad}:2:" in err
    code, _, err = impsim_fuzz(capsys, tmp_path / "missing.device.nut")
    assert code == 2 and "no such file" in err


# --- the Python API, as the issue writes it ------------------------------------------------------


@settings(max_examples=8, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
          suppress_health_check=list(HealthCheck))
@given(scenarios(duration="3h", events=["impos", "deploy", "power-cycle", "offline"],
                 app=(str(ROOT / "examples/polite-logger/logger.device.nut"),
                      str(ROOT / "examples/polite-logger/logger.agent.nut"))))
def test_logger_is_polite(scn):
    run = Simulation(device=scn.device, agent=scn.agent, start=False)
    checks.polite(play(lambda: run, scn), persist=polite_persist)


def test_play_on_a_simulation_replays_like_impsim_run(tmp_path, polite_app):
    """play(Simulation(...), scn) — what Simulation.play delegates to — gives the log `impsim run`
    prints for the command it reports."""
    sim = Simulation(device=polite_app[0], agent=polite_app[1])
    run = play(sim, Scenario((parse_at("25m:impos=44.0"), parse_at("1h:power-cycle")), duration_us=7_200_000_000))
    assert run.scenario.device == os.path.abspath(polite_app[0])
    args = shlex.split(run.command())[2:]
    assert impsim_run(args, cwd=os.getcwd()).decode() == run.log_text()
    with pytest.raises(ValueError, match="no duration"):
        play(Simulation(device=polite_app[0]), Scenario())


@pytest.mark.skipif(not hasattr(Simulation, "play"), reason="Simulation.play is not added yet")
def test_simulation_play_as_in_the_issue(polite_app):
    run = Simulation(device=polite_app[0], agent=polite_app[1]).play(
        Scenario((parse_at("25m:impos=44.0"),), duration_us=3_600_000_000))
    checks.polite(run)


def test_a_run_that_cannot_finish_fails_the_search(tmp_path):
    app = tmp_path / "spin.device.nut"
    app.write_text("server.onshutdown(function(r) { server.restart(); });\n"
                   "function f() { imp.wakeup(0, f); }\nf();\n")
    # With Squirrel taking no time the loop keeps time still (with execution time it spins for
    # a second first: test_runtime_execution_time).
    result = fuzz(str(app), duration="1h", examples=3, seed=1, coverage=False,
                  config=Config(instruction_ns=0, agent_instruction_ns=0))
    assert not result.passed and result.failure.violation.check == "run-completes"
    assert "virtual time stands still" in str(result.failure.violation)


def test_an_unusable_out_directory_is_refused_before_the_search(capsys, impolite_app, tmp_path):
    taken = tmp_path / "afile"
    taken.write_text("")
    for out in (taken, taken / "sub"):
        code, stdout, err = impsim_fuzz(capsys, impolite_app[0], "--out", out, "--examples", "1")
        assert code == 2 and stdout == "" and f"--out {out}: cannot make that directory" in err


@pytest.mark.parametrize("option", ["--extra", "--persist"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_check_function_that_raises_is_a_usage_error_not_a_finding(capsys, polite_app, tmp_path, option, jobs):
    broken = tmp_path / "broken.py"
    broken.write_text("def check(run):\n    return run.no_such_thing\n")
    code, out, err = impsim_fuzz(capsys, polite_app[0], "--for", "1h", "--examples", "50", "--jobs", jobs,
                                 option, f"{broken}:check")
    assert code == 2 and out == ""
    assert f"the check check ({broken}) raised AttributeError" in err and "fix the check and run again" in err


def test_every_example_plays_the_code_the_search_started_with(tmp_path):
    app = tmp_path / "edited.device.nut"
    first = "server.onshutdown(function(r) { server.restart(); });\nserver.log(\"v1\");\n"
    app.write_text(first)
    seen = []

    def edit_the_file(run):  # a custom check: it sees every example, and edits the app after the first
        seen.append(run.device_source)
        app.write_text(first.replace("v1", "v2"))

    result = fuzz(str(app), duration="10m", examples=5, seed=1, extra=[checks.custom(edit_the_file)])
    assert result.passed and len(seen) == 5
    assert all(source == first for source in seen)
    assert "v2" in app.read_text()


def test_a_failing_hypothesis_test_says_how_to_replay_its_last_run(polite_app):
    @settings(max_examples=3, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(scenarios("10m", app=polite_app, max_events=1))
    def test(scn):
        play(None, scn)
        raise AssertionError("the app is fine; this test is not")

    with pytest.raises(AssertionError) as failed:
        test()
    notes = [n for n in getattr(failed.value, "__notes__", []) if n.startswith("replay: ")]
    assert len(notes) == 1 and notes[0].startswith("replay: impsim run ") and "--for 10m" in notes[0]


def test_a_discarded_run_has_freed_its_vms_and_dropped_its_record(polite_app):
    """What the engine does with a passing example's run: nothing of it stays alive waiting for
    the cycle collector but the simulation's parts."""
    import gc

    gc.collect()
    scenario = Scenario(tuple(parse_at(e) for e in ["1h:deploy", "2h:power-cycle"]), duration_us=3 * 3600_000_000)
    run = play(polite_app, scenario)
    sim = run.sim
    entries, events = len(sim.log), len(sim.events)
    assert entries and events and run.replay.boots
    vms = [o.host.vm if o.host is not None else o.spare_vm[0] for o in (sim.device, sim.agent)]
    run.discard()
    assert all(vm.closed for vm in vms)
    assert (list(sim.log), list(sim.events), run.replay.boots, run.replay.lines) == ([], [], [], [])
    assert len(sim.log) == entries  # the log still counts what was added, as with keep=False
    del run, sim, vms
    assert gc.collect() < 200  # the simulation's parts; its record went already (with close(): thousands)
