"""Each impolite pattern is caught by `impsim fuzz`, and the failure it reports replays to the
same log, byte for byte, through every door: the `impsim run` command it prints, `impsim run
--scenario` of the file it writes, `Simulation(...).play(scenario)` and the fuzzer's own replay."""

import contextlib
import io
import shlex
from pathlib import Path

import pytest

from impapi import Simulation
from impapi.cli import main
from impapi.scenario import load_toml
from impapi.testing.fuzz.engine import fuzz

APPS = Path(__file__).resolve().parent / "apps"
AGENT = str(APPS / "reading.agent.nut")
IMPOLITE = {
    "handler after the first contact": ("handler_late.device.nut", "handler-first"),
    "handler only sets a flag": ("flag_only.device.nut", "restart-before-sleep"),
    "handler never restarts": ("never_restarts.device.nut", "update-applied"),
}


def impsim_run(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *args]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", list(IMPOLITE))
def test_an_impolite_app_is_caught_and_its_failure_replays_through_every_door(name, tmp_path, monkeypatch):
    device, check = IMPOLITE[name]
    monkeypatch.chdir(tmp_path)
    result = fuzz(str(APPS / device), AGENT, duration="1d", examples=60, seed=7, jobs=1, coverage=False)
    assert not result.passed, f"{name}: not caught in 60 examples"
    failure = result.failure
    assert check in [failure.violation.check] + [v.check for v in failure.violation.others]
    fuzz_log = failure.run.log_text()

    command = shlex.split(failure.run.command())
    assert command[:2] == ["impsim", "run"]
    scenario_file = failure.run.save_scenario(tmp_path / "found.toml")
    scenario = load_toml(scenario_file)
    logs = {
        "the command impsim fuzz prints": impsim_run(command[2:]),
        "impsim run --scenario": impsim_run(["--scenario", str(scenario_file)]),
        "Simulation(...).play": Simulation(scenario.device, scenario.agent, start=False).play(scenario)
                                .sim.log.text(),
    }
    for door, log in logs.items():
        assert log == fuzz_log, f"{name}: {door} gives another log than the fuzzer's replay"
