"""scenarios(): Scenario objects over the vocabulary, clustered near app activity, shrinking
toward fewer, earlier, simpler events."""

import math

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from impapi.durations import H, M, S, parse_duration
from impapi.scenario import EVENTS, Deploy, Scenario
from impapi.testing import scenarios
from impapi.testing.fuzz.strategies import DEFAULT_EVENTS, activity_of

QUICK = settings(max_examples=60, database=None, deadline=None, suppress_health_check=list(HealthCheck))


@QUICK
@given(scenarios(duration="6h", events=["impos", "power-cycle", "offline"], max_events=4))
def test_scenarios_are_scenario_objects_within_bounds(scn):
    assert isinstance(scn, Scenario)
    assert scn.duration_us == parse_duration("6h")
    assert len(scn.events) <= 4
    assert all(e.kind in ("impos", "power-cycle", "offline") for e in scn.events)
    assert all(0 <= e.at_us <= scn.duration_us for e in scn.events)
    assert [e.at_us for e in scn.events] == sorted(e.at_us for e in scn.events)
    for e in scn.events:
        if e.kind == "offline":
            assert isinstance(e.arg, int) and e.arg > 0
        if e.kind == "impos":
            assert e.arg in ("44.0", "44.1", "45.0")


@QUICK
@given(scenarios(duration="1d", events=sorted(EVENTS), max_events=6, messages=["led"]))
def test_every_kind_of_the_vocabulary_can_be_drawn_and_replayed_as_cli_args(scn):
    from impapi.scenario import parse_at

    for e in scn.events:
        assert parse_at(e.to_cli()) == e  # what a failure prints reads back the same


def test_app_goes_into_the_scenario(polite_app):
    scn = find(scenarios("1h", app=polite_app), lambda s: True, settings=settings(database=None, derandomize=True))
    assert scn.device.endswith("polite-logger/logger.device.nut")
    assert scn.agent.endswith("polite-logger/logger.agent.nut")


def test_shrinks_to_fewer_earlier_simpler_events():
    """Needing an outage after the first hour: one event, the first outage choice, at the earliest
    position at or after 1h: just after it (a linear position), or the first log-spread position
    after the start, 1/20 of the run (72 minutes), when the failure the search found had its time
    drawn that way (shrinking lowers each choice; it does not always switch the mapping)."""
    scn = find(scenarios("1d", events=["impos", "offline", "power-cycle"], max_events=5),
               lambda s: any(e.kind == "offline" and e.at_us >= H for e in s.events),
               settings=settings(database=None, max_examples=500, derandomize=True))
    assert len(scn.events) == 1
    (e,) = scn.events
    assert e.kind == "offline" and e.arg == parse_duration("1m")
    first_spread = int(math.log2(2) / math.log2(1 + 2**20) * parse_duration("1d"))
    assert H <= e.at_us < H + 2 * M or e.at_us == first_spread


def test_shrinks_toward_the_first_kind_and_version():
    scn = find(scenarios("1d", events=["power-cycle", "deploy"], max_events=3), lambda s: len(s.events) >= 1,
               settings=settings(database=None, max_examples=500, derandomize=True))
    assert [(e.kind, e.at_us) for e in scn.events] == [("power-cycle", 0)]
    scn = find(scenarios("1d", events=["power-cycle", "impos"], max_events=3),
               lambda s: any(e.kind == "impos" for e in s.events),
               settings=settings(database=None, max_examples=500, derandomize=True))
    assert [(e.kind, e.arg, e.at_us) for e in scn.events] == [("impos", "44.0", 0)]


def test_events_cluster_on_app_activity(polite_app):
    """A good share of events land on what the app does, or a simulated latency from it, and
    some exactly on it (same-instant ties with the app's own events)."""
    from impapi.testing.fuzz.strategies import NEAR

    instants = set(activity_of(polite_app, "6h"))
    assert len(instants) > 100  # boots, writes, connections every 10 minutes
    near, exact = [], []

    @settings(max_examples=150, database=None, phases=[Phase.generate], derandomize=True)
    @given(scenarios("6h", app=polite_app))
    def collect(scn):
        near.extend(any(e.at_us - d in instants for d in NEAR) for e in scn.events)
        exact.extend(e.at_us in instants for e in scn.events)

    collect()
    assert sum(near) > len(near) / 6
    assert sum(exact) > len(exact) / 50


def test_explicit_activity_and_deploy_files(tmp_path):
    v2 = tmp_path / "v2.device.nut"
    v2.write_text('server.log("v2");\n')
    scn = find(scenarios("1h", events=["deploy"], activity=[10 * S], deploys=[str(v2)]),
               lambda s: any(e.at_us == 10 * S for e in s.events), settings=settings(database=None, max_examples=500, derandomize=True))
    assert scn.events[0].arg == Deploy(str(v2), None)


def test_times_spread_over_the_run():
    """Events are not all in the first hour: a fair share is in the second half of the run."""
    times = []

    @settings(max_examples=200, database=None, phases=[Phase.generate], derandomize=True)
    @given(scenarios("2d"))
    def collect(scn):
        times.extend(e.at_us for e in scn.events)

    collect()
    late = sum(t > parse_duration("1d") for t in times)
    assert late > len(times) / 8


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(ValueError, match="unknown event kind 'reboot'"):
        scenarios(events=["reboot"])
    with pytest.raises(ValueError, match="at least one event kind"):
        scenarios(events=[])
    with pytest.raises(ValueError, match="min_events"):
        scenarios(min_events=3, max_events=1)


def test_defaults_are_the_issue_vocabulary():
    assert DEFAULT_EVENTS == ("impos", "deploy", "power-cycle", "offline")


@settings(max_examples=30, database=None)
@given(scenarios("1h", interleavings=False), st.data())
def test_without_interleavings_no_random_module_is_drawn(scn, data):
    from impapi.testing.fuzz import ties

    assert ties.tie_seed() is None  # hypothesis left the tie random at seed 0: first-in first-out
