"""One scenario, one log: every way of replaying a scenario goes through Simulation.play, so the
command line (a scenario file or --at flags), the Python API and the fuzzer's replay give the
same log, byte for byte, wherever the code files are."""

import contextlib
import io
import shutil
import textwrap
from dataclasses import replace

import pytest

from impapi import Simulation
from impapi.cli import main
from impapi.replay import Replay
from impapi.scenario import ScenarioError, load_toml, parse_at

# Both sides draw from math.rand() and show the device ID; the device registers a handler. The
# scenario puts events at the instants the app's own events fall due (0 s: the agent's timers;
# 2 s: the device connects and boots, the agent's second timer), so the order of same-instant
# events decides the log.
DEVICE = """
    server.log("device " + hardware.getdeviceid() + " " + math.rand());
    server.onshutdown(function(r) { server.log("shutdown " + r); server.restart(); });
    imp.wakeup(0, function() { server.log("tick"); });
"""
AGENT = """
    server.log("agent " + math.rand());
    imp.wakeup(0, function() { server.log("agent tick 0"); });
    imp.wakeup(2, function() { server.log("agent tick 2"); });
"""
EVENTS = ["0s:advance", "0s:impos=44.0", "2s:advance", "2s:deploy", "2s:message=ping", "1m:power-cycle"]
TOML_EVENTS = """
[[event]]
at = "0s"
type = "advance"

[[event]]
at = "0s"
type = "impos"
version = "44.0"

[[event]]
at = "2s"
type = "advance"

[[event]]
at = "2s"
type = "deploy"

[[event]]
at = "2s"
type = "message"
name = "ping"

[[event]]
at = "1m"
type = "power-cycle"
"""
SEED = 3


def impsim(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *args]) == 0
    return out.getvalue()


def write_app(directory):
    directory.mkdir(exist_ok=True)
    (directory / "app.device.nut").write_text(textwrap.dedent(DEVICE))
    (directory / "app.agent.nut").write_text(textwrap.dedent(AGENT))


def at_flags(tie_seed):
    flags = ["--for", "10m", "--seed", str(SEED)] + (["--tie-seed", str(tie_seed)] if tie_seed is not None else [])
    for e in EVENTS:
        flags += ["--at", e]
    return flags


def reordering_tie_seed():
    """A tie seed whose order of same-instant events gives another log than first in, first out."""
    fifo = impsim("app.device.nut", "--agent", "app.agent.nut", *at_flags(None))
    return next(s for s in range(1, 50)
                if impsim("app.device.nut", "--agent", "app.agent.nut", *at_flags(s)) != fifo)


def test_every_door_gives_the_same_log(tmp_path, monkeypatch):
    from impapi.testing import play

    write_app(tmp_path)
    monkeypatch.chdir(tmp_path)
    tie_seed = reordering_tie_seed()
    scenario_file = tmp_path / "run.toml"
    scenario_file.write_text(textwrap.dedent(f"""
        [scenario]
        duration = "10m"
        device = "app.device.nut"
        agent = "app.agent.nut"
        seed = {SEED}
        tie_seed = {tie_seed}
    """) + TOML_EVENTS)
    scn = load_toml(scenario_file)
    assert scn.events == tuple(parse_at(e) for e in EVENTS)

    from_file = impsim("--scenario", str(scenario_file))
    assert f"device {Simulation(device=scn.device, seed=SEED).device.id} " in from_file
    logs = {
        "impsim run --at": impsim("app.device.nut", "--agent", "app.agent.nut", *at_flags(tie_seed)),
        "Simulation(start=False).play": Simulation(scn.device, scn.agent, start=False).play(scn).sim.log.text(),
        "Simulation(seeds).play": Simulation(scn.device, scn.agent, seed=SEED, tie_seed=tie_seed).play(scn)
                                  .sim.log.text(),
        "Simulation.from_scenario.play": Simulation.from_scenario(scn).play(scn).sim.log.text(),
        "testing.play": play(None, scn).log_text(),
        # impsim fuzz replays a scenario it drew (no tie seed in it) with the tie seed it found
        "fuzz replay": play(None, replace(scn, tie_seed=None), tie_seed=tie_seed).log_text(),
    }
    for door, log in logs.items():
        assert log == from_file, door


def test_the_device_id_follows_the_seed_and_the_file_name_not_its_directory(tmp_path):
    write_app(tmp_path / "a")
    write_app(tmp_path / "b")
    a, b = tmp_path / "a/app.device.nut", tmp_path / "b/app.device.nut"
    assert Simulation(a).device.id == Simulation(b).device.id == Simulation(str(a)).device.id
    assert Simulation(a, seed=1).device.id != Simulation(a).device.id
    other = tmp_path / "a/other.device.nut"
    shutil.copy(a, other)
    assert Simulation(other).device.id != Simulation(a).device.id


def test_a_started_simulation_refuses_a_scenario_with_other_seeds(tmp_path):
    write_app(tmp_path)
    device, agent = str(tmp_path / "app.device.nut"), str(tmp_path / "app.agent.nut")
    scn = load_toml_text(tmp_path, 'duration = "1m"\nseed = 3\n')
    with pytest.raises(ScenarioError, match="seed=3, but this simulation started with seed=0: make it with start="):
        Simulation(device, agent).play(scn)
    with pytest.raises(ScenarioError, match="tie_seed=9, but this simulation started with tie_seed=None"):
        Simulation(device, agent, seed=3).play(load_toml_text(tmp_path, 'duration = "1m"\nseed = 3\ntie_seed = 9\n'))
    replay = Simulation(device, agent, seed=3).play(scn)  # the seeds it started with: fine
    assert isinstance(replay, Replay) and replay.scenario.seed == 3 and replay.tie_seed is None


def test_a_replay_records_what_it_played_and_errors_come_before_the_run(tmp_path):
    write_app(tmp_path)
    device = str(tmp_path / "app.device.nut")
    sim = Simulation(device, start=False)
    replay = sim.play(load_toml_text(tmp_path, ""), duration="5m")
    assert replay.scenario.device == device and replay.scenario.duration_us == 300_000_000
    assert sim.clock.now_us == 300_000_000 and [b.event_index for b in replay.boots] == \
        [i for i, e in enumerate(sim.events) if e.kind == "boot"]
    missing = load_toml_text(tmp_path, 'duration = "1m"\n', '[[event]]\nat = "30s"\ntype = "deploy"\n'
                             'device = "v2.device.nut"\n', make=("v2.device.nut",))
    (tmp_path / "v2.device.nut").unlink()
    fresh = Simulation(device, start=False)
    with pytest.raises(ScenarioError, match="no such file"):
        fresh.play(missing)
    assert not fresh.started and len(fresh.log) == 0  # nothing ran
    with pytest.raises(ValueError, match="no duration"):
        Simulation(device, start=False).play(load_toml_text(tmp_path, ""))


def test_the_event_list_taken_before_a_play_is_the_one_the_run_fills(tmp_path):
    """The replay marks boots as they are recorded without swapping the simulation's list."""
    write_app(tmp_path)
    sim = Simulation(str(tmp_path / "app.device.nut"), start=False)
    events = sim.events
    replay = sim.play(load_toml_text(tmp_path, ""), duration="5m")
    boots = [i for i, e in enumerate(events) if e.kind == "boot"]
    assert sim.events is events and boots and [b.event_index for b in replay.boots] == boots


def test_a_replay_indexes_the_events_of_the_rare_kinds_as_they_happen(tmp_path):
    """Updates, errors, outages, power changes and agent restarts: their indices in sim.events,
    the events a simulation had before the replay included; a later replay of the same
    simulation takes the indexing over (the earlier one then says it has none)."""
    from impapi.replay import INDEXED_KINDS

    write_app(tmp_path)
    sim = Simulation(str(tmp_path / "app.device.nut"), str(tmp_path / "app.agent.nut"), start=False)
    first = sim.play(load_toml_text(tmp_path, 'duration = "20m"',
                                    '[[event]]\nat = "1m"\ntype = "impos"\nversion = "44.1"\n'
                                    '[[event]]\nat = "3m"\ntype = "offline"\nduration = "2m"\n'
                                    '[[event]]\nat = "9m"\ntype = "power-cycle"\n'
                                    '[[event]]\nat = "12m"\ntype = "deploy"\n'))

    def walk(kind):
        return [i for i, e in enumerate(sim.events) if e.kind == kind]

    assert all(first.indices(k) == walk(k) for k in INDEXED_KINDS)
    assert all(walk(k) for k in ("update", "outage", "power", "agent-restart"))
    assert first.indices("boot") is None and first.indices("state") is None  # not indexed: common
    later = sim.play(load_toml_text(tmp_path, 'duration = "10m"',
                                    '[[event]]\nat = "2m"\ntype = "impos"\nversion = "45.0"\n'))
    assert all(later.indices(k) == walk(k) for k in INDEXED_KINDS)
    assert all(first.indices(k) is None for k in INDEXED_KINDS)


FLASH_LINES = """
    if (hardware.wakereason() == WAKEREASON_TIMER) {
        server.log("woke");
        imp.onidle(function() { imp.deepsleepfor(60); });
        return;
    }
    server.log("first");
    local f = hardware.spiflash;
    f.enable();
    f.erasesector(0);
    local b = blob(4);
    b.writen(0x0F0F0F0F, 'i');
    f.write(0, b);
    server.log("stored A");
    b.seek(0);
    b.writen(0x00FF00FF, 'i');
    f.write(0, b);
    server.log("stored B");
    f.disable();
    imp.onidle(function() { imp.deepsleepfor(60); });
"""


def test_a_replay_line_holds_the_flash_as_it_was_when_the_line_was_logged(tmp_path):
    """Each device line: its boot, the flash operations made so far, and the bytes its boot had
    written as they were at that moment (a later write to the same bytes does not reach back)."""
    (tmp_path / "f.device.nut").write_text(textwrap.dedent(FLASH_LINES))
    sim = Simulation(str(tmp_path / "f.device.nut"), start=False)
    replay = sim.play(load_toml_text(tmp_path, 'duration = "3m"'))
    got = [(line.entry.text, line.boot, line.op_index, line.written) for line in replay.lines]
    a, b = (0x0F0F0F0F).to_bytes(4, "little"), (0x0F0F0F0F & 0x00FF00FF).to_bytes(4, "little")
    assert got[:4] == [("first", 0, 0, ()), ("stored A", 0, 2, ((0, a),)), ("stored B", 0, 3, ((0, b),)),
                       ("woke", 1, 3, ())]
    assert len(got) > 4 and all(g == ("woke", i + 1, 3, ()) for i, g in enumerate(got[3:]))
    assert [m.op_index for m in replay.boots][:2] == [0, 3]


def load_toml_text(directory, head, events="", make=()):
    for name in make:
        (directory / name).write_text("// deployed\n")
    path = directory / "s.toml"
    path.write_text(f"[scenario]\n{head}\n{events}")
    return load_toml(path)


def test_a_copied_app_replays_the_same(tmp_path, monkeypatch):
    """The reproduction a failure prints runs the same wherever the app was copied to, given
    with a relative or an absolute path."""
    write_app(tmp_path / "orig")
    shutil.copytree(tmp_path / "orig", tmp_path / "copy")
    monkeypatch.chdir(tmp_path)
    orig = impsim("orig/app.device.nut", "--agent", "orig/app.agent.nut", *at_flags(7))
    monkeypatch.chdir(tmp_path / "copy")
    assert impsim(str(tmp_path / "copy/app.device.nut"), "--agent", "app.agent.nut", *at_flags(7)) == orig
