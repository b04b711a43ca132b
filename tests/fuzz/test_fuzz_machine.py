"""The stateful machine: rules drive one simulation (time, updates, power, network, messages),
the polite checks are its invariant, and a failure is reported as a replayable scenario."""

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from impapi.testing import machine_for
from impapi.testing.fuzz.checks import HandlerNotFirst
from impapi.testing.fuzz.machine import PoliteMachine

from loggers import polite_persist

FEW = settings(max_examples=12, stateful_step_count=8, deadline=None, database=None, derandomize=True,
               phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))


def test_polite_logger_machine_holds_its_invariants(polite_app):
    machine = machine_for(*polite_app, persist=polite_persist)
    assert issubclass(machine, PoliteMachine) and machine.messages == ()
    run_state_machine_as_test(machine, settings=FEW)


def test_impolite_logger_machine_finds_a_pending_update_before_the_handler(impolite_app):
    machine = machine_for(*impolite_app, handler_when="pending")
    with pytest.raises(HandlerNotFirst) as info:
        run_state_machine_as_test(machine, settings=settings(FEW, max_examples=150, stateful_step_count=15))
    text = str(info.value)
    assert "an update (" in text and "was pending then" in text
    assert "scenario so far: --at " in text and "(replayed from scratch: fails the same way)" in text


def test_machine_testcase_runs_under_unittest(impolite_app):
    machine = machine_for(*impolite_app, only="no-crash-loop")
    machine.TestCase.settings = FEW
    result = machine.TestCase("runTest").run()
    assert result.wasSuccessful()
