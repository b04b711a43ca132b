"""Same-instant order: first-in first-out outside hypothesis; under hypothesis, drawn from the
random it seeds per example (registered through the `hypothesis` entry point, trio's way). The
app's timer (its own source) ties with three scenario events (one source, in their order)."""

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from impapi.scenario import Scenario, ScenarioEvent
from impapi.testing import play, scenarios
from impapi.testing.fuzz import ties

ROOT = Path(__file__).resolve().parents[2]
APP = 'server.onshutdown(function(r) { server.restart(); }); imp.wakeup(600, function() { server.log("tick"); });\n'


def _tick() -> int:
    """The instant the app's timer logs: the device boots at 2 s, its timer fires 600 s after the
    code set it, and the log comes a few µs into the callback (the code's own work): where the
    fuzzer puts events that should meet it (the app's server contacts)."""
    run = play(APP, Scenario(duration_us=700_000_000))
    try:
        return next(e.time_us for e in run.log if e.text == "tick")
    finally:
        run.close()


TICK = _tick()
SAME_INSTANT = Scenario((ScenarioEvent(TICK, "advance"), ScenarioEvent(TICK, "impos", "44.0"),
                         ScenarioEvent(TICK, "power-cycle")), duration_us=700_000_000)
NO_EXAMPLE_EXPLAIN = [Phase.generate, Phase.shrink]


def order(run):
    return [e.text for e in run.log if e.time_us == TICK]


def test_outside_hypothesis_the_order_is_first_in_first_out():
    run = play(APP, SAME_INSTANT)
    assert run.tie_seed is None and run.sim.clock.tie_break is None
    assert order(run)[:3] == ["Scenario: advance", "Scenario: impOS 44.0 released to the device's group",
                              "Scenario: power cycle"]
    assert "--tie-seed" not in run.command()


def test_a_tie_seed_reorders_same_instant_events_of_different_sources_and_replays_exactly():
    fifo = order(play(APP, SAME_INSTANT))
    orders = {tuple(order(play(APP, SAME_INSTANT, tie_seed=s))) for s in range(12)}
    assert len(orders) > 1 and any(list(o) != fifo for o in orders)
    scenario_lines = [t for t in fifo if t.startswith("Scenario:")]
    assert all([t for t in o if t.startswith("Scenario:")] == scenario_lines for o in orders)  # one source: in order
    seed = _reordering_seed_for(APP)
    a, b = play(APP, SAME_INSTANT, tie_seed=seed), play(APP, SAME_INSTANT, tie_seed=seed)
    assert a.log_text() == b.log_text()
    assert f"--tie-seed {seed}" in a.command()


def test_the_plugin_registers_the_tie_random_with_hypothesis():
    from hypothesis.internal.entropy import RANDOMS_TO_MANAGE

    from impapi.testing._hypothesis_plugin import setup

    setup()
    setup()  # idempotent
    assert ties.registered()
    assert any(r() is ties.TIE_RANDOM for r in RANDOMS_TO_MANAGE.data.values())


def test_the_entry_point_is_declared_in_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["hypothesis"] == {"impsim": "impapi.testing._hypothesis_plugin:setup"}
    assert any(dep.startswith("hypothesis") for dep in meta["project"]["optional-dependencies"]["test"])


def test_importing_hypothesis_runs_the_plugin(tmp_path):
    """Through the entry point alone (a stand-in distribution declaring it), as an installed
    impsim does: importing hypothesis registers the tie random."""
    dist = tmp_path / "impsim_probe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: impsim-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[hypothesis]\nimpsim = impapi.testing._hypothesis_plugin:setup\n")
    code = textwrap.dedent("""
        import hypothesis, sys
        ties = sys.modules.get("impapi.testing.fuzz.ties")
        print(bool(ties and ties.registered()))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("HYPOTHESIS_NO_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"


def test_under_hypothesis_interleavings_are_explored_and_shrink_to_fifo():
    seeds = []

    @settings(max_examples=40, database=None, deadline=None, phases=NO_EXAMPLE_EXPLAIN,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.random_module())
    def explore(_):
        seeds.append(ties.tie_seed())

    explore()
    assert len({s for s in seeds if s is not None}) > 10  # many orders tried...
    assert None in seeds  # ...and seed 0 (what shrinking heads for) means first-in first-out


def test_a_failure_that_needs_an_order_shrinks_and_reports_its_tie_seed():
    """A property that only fails when the device's timer runs before the power cycle at the
    same instant (first in, first out, the cycle comes first and the timer dies with the run):
    hypothesis finds an order, and the run it reports replays exactly from its tie seed."""
    failing = []

    @settings(max_examples=60, database=None, deadline=None, phases=NO_EXAMPLE_EXPLAIN,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.random_module())
    def prop(_):
        run = play(APP, SAME_INSTANT)
        if "tick" in order(run):
            failing.append(run)
            raise AssertionError("the timer ran before the power cycle")

    try:
        prop()
    except AssertionError:
        pass
    assert failing, "no interleaving put the timer first"
    last = failing[-1]
    assert last.tie_seed is not None
    assert play(APP, SAME_INSTANT, tie_seed=last.tie_seed).log_text() == last.log_text()


@settings(max_examples=15, database=None, deadline=None, phases=NO_EXAMPLE_EXPLAIN,
          suppress_health_check=list(HealthCheck))
@given(scenarios("1h", interleavings=False))
def test_scenarios_without_interleavings_play_first_in_first_out(scn):
    assert play(APP, scn).tie_seed is None


def _reordering_seed(app_path):
    fifo = order(play(str(app_path), SAME_INSTANT))
    return next(s for s in range(1, 50) if order(play(str(app_path), SAME_INSTANT, tie_seed=s)) != fifo)


def test_impsim_run_replays_a_tie_seed_from_the_command_and_the_scenario_file(tmp_path, capsys, monkeypatch):
    """The reproduction `impsim fuzz` prints for a non-FIFO order: `--tie-seed N` on the command
    line, or `tie_seed = N` in the scenario file, gives the run's log byte for byte."""
    import shlex

    from impapi.cli import main

    app = tmp_path / "app.device.nut"
    app.write_text(APP)
    seed = _reordering_seed(app)
    run = play(str(app), SAME_INSTANT, tie_seed=seed)
    assert f"--tie-seed {seed}" in run.command()
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(run.command())[1:]) == 0
    assert capsys.readouterr().out == run.log_text()
    scenario_file = run.save_scenario(tmp_path / "found.toml")
    assert f"tie_seed = {seed}" in scenario_file.read_text()
    assert main(["run", "--scenario", str(scenario_file)]) == 0
    assert capsys.readouterr().out == run.log_text()
    assert main(["run", "--scenario", str(scenario_file), "--tie-seed", "0"]) == 0  # the flag wins
    assert capsys.readouterr().out == play(str(app), SAME_INSTANT, tie_seed=0).log_text()


def test_a_scenario_tie_seed_must_be_an_integer(tmp_path):
    import pytest

    from impapi.scenario import ScenarioError, load_toml

    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\ntie_seed = "7"\n')
    with pytest.raises(ScenarioError, match="tie_seed.*must be an integer"):
        load_toml(bad)


def test_a_tie_seed_that_changed_no_order_is_dropped_from_the_run():
    """With nothing at one instant but events of one source, every choice is first in, first
    out: the run is the plain run, and its command says so (no --tie-seed)."""
    quiet = Scenario((ScenarioEvent(100_000_000, "impos", "44.0"),), duration_us=700_000_000)
    run = play(APP, quiet, tie_seed=7)
    assert run.tie_seed is None and "--tie-seed" not in run.command()
    assert run.log_text() == play(APP, quiet).log_text()
    assert play(APP, SAME_INSTANT, tie_seed=_reordering_seed_for(APP)).tie_seed is not None


def _reordering_seed_for(app):
    fifo = order(play(app, SAME_INSTANT))
    return next(s for s in range(1, 50) if order(play(app, SAME_INSTANT, tie_seed=s)) != fifo)


def test_scenarios_carry_their_tie_seed_and_shrink_it_to_none():
    seen = []

    @settings(max_examples=40, database=None, deadline=None, phases=NO_EXAMPLE_EXPLAIN,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(scenarios("1h"))
    def draw(scn):
        seen.append(scn.tie_seed)

    draw()
    assert len({s for s in seen if s is not None}) > 10 and None in seen
    from hypothesis import find

    assert find(scenarios("1h"), lambda scn: True).tie_seed is None  # the smallest: first in, first out
