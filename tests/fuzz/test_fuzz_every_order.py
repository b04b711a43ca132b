"""Every finding must be reachable on an imp: small scenarios played in *every* order the clock
can give their same-instant events (ties.every_order, depth first, not sampled). Polite apps
pass in all of them; each impolite pattern is still caught, and its failing order replays."""

from pathlib import Path

import pytest

from impapi.config import Config
from impapi.durations import MS, M, S
from impapi.scenario import Deploy, Scenario, ScenarioEvent
from impapi.testing.fuzz import checks
from impapi.testing.fuzz.run import play
from impapi.testing.fuzz.strategies import activity_of
from impapi.testing.fuzz.ties import Choices, every_order

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
READING_AGENT = str(APPS / "reading.agent.nut")

POLITE = {
    "nv, onidle sleep": (str(ROOT / "examples/polite-sleeper/sleeper.device.nut"),
                         str(ROOT / "examples/polite-sleeper/sleeper.agent.nut")),
    "batching": (str(APPS / "batching.device.nut"), str(APPS / "batching.agent.nut")),
    "explicit server.connect": (str(APPS / "connect.device.nut"), READING_AGENT),
}
IMPOLITE = {  # app, the check that catches it, a scenario long enough for it
    "handler after the first contact": (str(APPS / "handler_late.device.nut"), "handler-first", "40m"),
    "handler only sets a flag": (str(APPS / "flag_only.device.nut"), "restart-before-sleep", "40m"),
    "handler never restarts": (str(APPS / "never_restarts.device.nut"), "update-applied", "2h"),
}
OFFSETS = (0, -1, 1, 50 * MS)  # at the app's own instants, and just either side
ONE = (("impos", "44.0"), ("deploy", Deploy()), ("power-cycle", None), ("offline", 1 * M), ("force-deploy", Deploy()))
TWO = ((("impos", "44.0"), ("power-cycle", None)), (("deploy", Deploy()), ("offline", 1 * M)),
       (("impos", "44.0"), ("deploy", Deploy())))


def small_scenarios(app, duration: str):
    """One event at each of the app's activity instants (and just either side), and pairs at
    the same instant."""
    from impapi.durations import parse_duration

    span = parse_duration(duration)
    for at in activity_of(app, duration):
        for off in OFFSETS:
            for kind, arg in ONE:
                yield Scenario((ScenarioEvent(max(0, at + off), kind, arg),), duration_us=span)
        for (k1, a1), (k2, a2) in TWO:
            yield Scenario((ScenarioEvent(at, k1, a1), ScenarioEvent(at, k2, a2)), duration_us=span)


def every_run(app, scenario):
    for choices, run in every_order(lambda order: play(app, scenario, order=order, claim=None), limit=2_000):
        try:
            yield choices, run, checks.violations(run)
        finally:
            run.close()


@pytest.mark.parametrize("name", list(POLITE))
def test_polite_apps_pass_in_every_order_of_small_scenarios(name):
    app = POLITE[name]
    runs = reordered = 0
    for scenario in small_scenarios(app, "40m"):
        for choices, run, found in every_run(app, scenario):
            runs += 1
            reordered += any(choices)
            assert not found, (f"{name}: {found[0]}\nscenario: {[e.to_cli() for e in scenario.events]}, "
                               f"choices {choices}")
    assert reordered > 0 and runs > 100  # the enumeration did explore other orders


@pytest.mark.parametrize("name", list(IMPOLITE))
def test_impolite_apps_are_caught_and_the_failing_order_replays(name):
    device, check, duration = IMPOLITE[name]
    app = (device, READING_AGENT)
    caught = None
    for scenario in small_scenarios(app, duration):
        for choices, run, found in every_run(app, scenario):
            if any(v.check == check for v in found):
                caught = (scenario, choices, run.log_text())
                break
        if caught:
            break
    assert caught, f"{name}: no order of any small scenario broke {check}"
    scenario, choices, log = caught
    again = play(app, scenario, order=Choices(choices), claim=None)
    assert again.log_text() == log
    assert any(v.check == check for v in checks.violations(again))


def test_the_false_alarm_of_the_textbook_sleepy_app_is_gone_in_every_order():
    """The update notice arrives with the wake's connection; the handler call is queued then and
    runs before the idle callback: the update installs, the device never sleeps on it."""
    app = POLITE["nv, onidle sleep"]
    wake = 15 * M + 4 * S  # the second wake's connection
    scenario = Scenario((ScenarioEvent(wake - 2 * S, "impos", "44.0"),), duration_us=20 * M)
    orders = 0
    for _choices, run, found in every_run(app, scenario):
        orders += 1
        assert not found
        stages = [(e.data["stage"], round(e.time_us, -3)) for e in run.events.of("update")]  # the code's work: µs
        # installed by the restart the handler asks for, which takes Config.restart_us
        assert ("handler-called", wake) in stages and ("applied", wake + Config().restart_us) in stages
    assert orders >= 1
