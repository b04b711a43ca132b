"""Squirrel takes virtual time as it runs (docs/imp-model/execution-time.md): each instruction
costs Config.instruction_ns, a handler sees its VM's own time (its start plus the work done so
far), its VM is busy until it ends, and other machines are not held up by it."""

import contextlib
import io
import textwrap
from dataclasses import replace

from runtime_helpers import device_lines, simulate

from impapi import Simulation
from impapi.cli import main
from impapi.config import Config
from impapi.durations import S
from impapi.profiles import get_profile
from impapi.scenario import Scenario, ScenarioEvent, load_toml, parse_at
from impapi.testing import play

NS = 500  # one instruction: half a microsecond, on the device and the agent


def timed(ns: float = NS, **kw) -> Config:
    return Config(instruction_ns=ns, agent_instruction_ns=ns, **kw)


def device_log(sim: Simulation) -> list[tuple[int, str]]:
    return [(e.time_us, e.text) for e in sim.log if e.source == "device"]


# SI7021's asynchronous read: poll again at once (imp.wakeup(0, ...)) until the reading is ready
# or a timeout on hardware.millis() passes. Nothing here is ever ready: only the timeout ends it.
POLL = """
    local start = hardware.millis();
    local polls = 0;
    function poll() {
        polls++;
        if (hardware.millis() - start >= 20) { server.log("timed out after " + polls + " polls"); return; }
        imp.wakeup(0, poll);
    }
    poll();
"""


def test_a_poll_on_a_millis_timeout_ends_when_the_timeout_passes():
    sim = simulate(POLL, run="5s", config=timed())
    (at, text), = device_log(sim)
    assert text.startswith("timed out after ")
    polls = int(text.split()[3])
    boot = sim.device.boot_us
    # Each poll is a handful of instructions: thousands of polls fill the 20 ms, then it stops.
    assert 1_000 < polls < 20_000
    assert boot + 20_000 <= at < boot + 21_000
    assert sim.fatal_error is None


def test_without_execution_time_the_poll_stands_still_and_the_message_names_the_knob():
    sim = simulate(POLL, run="5s", config=timed(0))
    assert device_log(sim) == []
    assert "virtual time stands still" in sim.fatal_error
    assert "Config.instruction_ns is 0: impsim --instruction-ns sets it" in sim.fatal_error


def test_a_loop_that_never_waits_ends_the_run_with_a_message_once_it_has_spun_a_second():
    """With code taking time an imp.wakeup(0, ...) loop moves time on, so time no longer stands
    still; a VM whose callbacks only ever queue the next one would spin to the run's end."""
    loop = "function f() { for (local i = 0; i < 100; i++) {} imp.wakeup(0, f); } f();"
    sim = simulate(loop, run="1h", config=timed())
    assert sim.fatal_error.startswith("the device's code never waits: 100000 callbacks in a row, each "
                                      "queued by the one before (an imp.wakeup(0, ...) or imp.onidle() loop?)")
    assert 2_000_000 + 1_000_000 < sim.clock.now_us < 600_000_000  # stopped long before the hour


BUSY = """
    local s = hardware.micros(); local n = 0;
    while (hardware.micros() - s < 1000) { n++; }
    server.log("waited " + (hardware.micros() - s) + " us, " + n + " turns");
"""


def test_a_micros_busy_wait_leaves_after_a_millisecond_of_virtual_time():
    sim = simulate(BUSY, run="5s", config=timed())
    (at, text), = device_log(sim)
    waited, turns = int(text.split()[1]), int(text.split()[3])
    assert 1000 <= waited < 1010
    # A turn of the loop is a few instructions of half a microsecond each.
    assert 100 < turns < 1000
    assert sim.device.boot_us + 1000 <= at < sim.device.boot_us + 1100  # then the log line's own work


def test_without_execution_time_the_busy_wait_runs_into_the_watchdog_whose_note_names_the_knob():
    sim = simulate(BUSY, run="5s", config=timed(0, watchdog_instructions=200_000))
    assert "ERROR: watchdog: Squirrel ran too long" in device_lines(sim)
    note, = sim.log.messages(type="impsim")
    assert "Config.instruction_ns is 0" in note and "impsim --instruction-ns" in note


def test_the_time_a_handler_sees_grows_with_the_work_it_has_done():
    device = """
        function work(n) { local a = 0; for (local i = 0; i < n; i++) a += i; return a; }
        local t0 = hardware.micros();
        work(1000);
        local t1 = hardware.micros();
        work(4000);
        local t2 = hardware.micros();
        server.log((t1 - t0) + " " + (t2 - t1));
    """
    per_turn = {}
    for ns in (100, 400):
        (_, text), = device_log(simulate(device, run="5s", config=timed(ns)))
        first, second = (int(x) for x in text.split())
        assert 3.5 < second / first < 4.5  # four times the turns, four times the time
        per_turn[ns] = second / 4000
    assert 3.5 < per_turn[400] / per_turn[100] < 4.5  # and in proportion to the cost


def test_the_log_time_and_what_the_handler_schedules_start_from_the_time_it_reached():
    device = """
        function work(n) { local a = 0; for (local i = 0; i < n; i++) a += i; return a; }
        work(10000);
        server.log("after work");
        imp.wakeup(0.5, function() { server.log("timer"); });
    """
    sim = simulate(device, run="5s", config=timed())
    (logged, _), (fired, _) = device_log(sim)
    spent = logged - sim.device.boot_us
    assert 10_000 < spent < 100_000  # tens of thousands of instructions at half a microsecond
    assert 500_000 <= fired - logged < 500_100  # the timer counts from when imp.wakeup was called


def test_time_and_date_follow_the_vm_clock_too():
    device = """
        local t0 = time();
        local d0 = date().usec;
        for (local i = 0; i < 1000000; i++) {}
        server.log((time() - t0) + " " + ((date().usec - d0 + 1000000) % 1000000));
    """
    (_, text), = device_log(simulate(device, run="10s", config=timed()))
    seconds, usec = (int(x) for x in text.split())
    assert seconds in (1, 2) or usec > 0  # a million turns: more than a second at these costs


# --- the VM is busy until its handler ends; other machines are not held up ---------------------

BUSY_DEVICE = """
    agent.on("ping", function(v) { server.log("ping " + hardware.millis()); });
    imp.wakeup(1, function() {
        local s = hardware.millis();
        while (hardware.millis() - s < 300) {}
        server.log("busy done " + hardware.millis());
    });
"""
PINGING_AGENT = """
    // The device boots at 2 s; its busy handler runs from 3 s to 3.3 s. The ping arrives at 3.1 s.
    imp.wakeup(3.05, function() { server.log("send"); device.send("ping", 1); });
    imp.wakeup(3.2, function() { server.log("agent on time"); });
"""


def test_a_busy_vm_takes_its_next_event_when_its_handler_ends_and_the_agent_runs_on_time():
    sim = simulate(BUSY_DEVICE, PINGING_AGENT, run="10s", config=timed())
    boot = sim.device.boot_us
    log = device_log(sim)
    assert [t for _, t in log][0].startswith("busy done")
    (done_at, done), (ping_at, ping) = log
    assert done_at - boot >= 1_300_000
    assert ping_at >= done_at  # the message waited in the queue until the handler ended
    assert int(ping.split()[1]) >= int(done.split()[2])
    # The agent's handlers run at their own times (plus their own few instructions' worth): the
    # device's busy 300 ms do not hold them up.
    (sent, _), (on_time, _) = [(e.time_us, e.text) for e in sim.log if e.source == "agent"]
    assert 3_050_000 <= sent < 3_050_100 and 3_200_000 <= on_time < 3_200_100
    assert on_time < done_at


def test_a_power_cut_while_the_device_works_ends_its_code_there():
    device = """
        if (hardware.wakereason() == WAKEREASON_POWER_ON) {
            server.log("start");
            local s = hardware.millis();
            while (hardware.millis() - s < 500) {}
            server.log("never");
        }
    """
    sim = Simulation(device=textwrap.dedent(device), config=timed(), start=False)
    sim.play(Scenario(duration_us=10 * S).with_events(parse_at("2200ms:power-cycle")))
    log = device_log(sim)
    # The first run is cut at 2.2 s, 200 ms into its wait; the run after the power cycle waits
    # its whole 500 ms.
    assert [text for _, text in log] == ["start", "start", "never"]
    assert log[0][0] < 2_200_000 < log[1][0] and log[2][0] - log[1][0] > 499_000


def test_code_reaching_an_instant_ties_with_the_worlds_events_there():
    """A power cut at the very microsecond the code logs: first in, first out the cut comes first
    (the log never happens); another order puts the log first. Both replay from their seed."""
    app = "imp.wakeup(1, function() { server.log(\"tick\"); });\n"
    config = timed()
    plain = play(app, Scenario(duration_us=10 * S), config=config)
    at = next(e.time_us for e in plain.log if e.text == "tick")
    assert at > 3 * S  # a few µs after the timer fired at 3 s: the callback's own work
    cut = Scenario((ScenarioEvent(at, "power-cycle"),), duration_us=10 * S)

    def ticked(run) -> bool:  # the first run's log line, before the power cycle ended it
        return any(e.text == "tick" and e.time_us == at for e in run.log)

    assert not ticked(play(app, cut, config=config))  # first in, first out
    orders = {seed: ticked(play(app, cut, tie_seed=seed, config=config)) for seed in range(8)}
    assert any(orders.values()) and not all(orders.values())
    seed = next(s for s, t in orders.items() if t)
    assert play(app, cut, tie_seed=seed, config=config).log_text() == \
        play(app, cut, tie_seed=seed, config=config).log_text()


# --- determinism, and 0 is the model switched off ----------------------------------------------

APP_DEVICE = """
    server.log("device " + math.rand());
    function work(n) { local a = 0; for (local i = 0; i < n; i++) a += i; return a; }
    agent.on("ping", function(v) { work(300); server.log("ping " + hardware.micros()); });
    imp.wakeup(0, function() { work(2000); server.log("tick " + hardware.micros()); });
    imp.wakeup(1, function() { work(5000); agent.send("pong", hardware.millis()); });
"""
APP_AGENT = """
    server.log("agent " + math.rand());
    device.on("pong", function(v) { server.log("pong " + v + " " + time()); device.send("ping", 1); });
"""


def impsim(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *args]) == 0
    return out.getvalue()


def test_every_door_gives_the_same_log_with_execution_time(tmp_path, monkeypatch):
    (tmp_path / "app.device.nut").write_text(textwrap.dedent(APP_DEVICE))
    (tmp_path / "app.agent.nut").write_text(textwrap.dedent(APP_AGENT))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(textwrap.dedent("""
        [scenario]
        duration = "20s"
        device = "app.device.nut"
        agent = "app.agent.nut"
        seed = 3
        tie_seed = 5

        [[event]]
        at = "3s"
        type = "message"
        name = "ping"
    """))
    scn = load_toml(tmp_path / "run.toml")
    config = timed(250)
    cli = impsim("--scenario", "run.toml", "--instruction-ns", "250")
    logs = {
        "impsim run --at": impsim("app.device.nut", "--agent", "app.agent.nut", "--for", "20s", "--seed", "3",
                                  "--tie-seed", "5", "--at", "3s:message=ping", "--instruction-ns", "250"),
        "Simulation.from_scenario.play": Simulation.from_scenario(scn, config=config).play(scn).sim.log.text(),
        "testing.play": play(None, scn, config=config).log_text(),
        "fuzz replay": play(None, replace(scn, tie_seed=None), tie_seed=5, config=config).log_text(),
        "again": impsim("--scenario", "run.toml", "--instruction-ns", "250"),
    }
    for door, log in logs.items():
        assert log == cli, door
    assert "[Device] tick 0\n" not in cli  # time moved: the tick ran after the main code's work
    assert cli != impsim("--scenario", "run.toml", "--instruction-ns", "0")


def test_a_cost_of_zero_is_code_taking_no_time():
    """0 ns per instruction: every log line at the instant its event fell due, as if Squirrel ran
    in no time at all."""
    sim = simulate(APP_DEVICE, APP_AGENT, run="20s", config=timed(0), seed=3)
    device = [(e.time_us, e.text.split()[0]) for e in sim.log if e.source == "device"]
    agent = [(e.time_us, e.text.split()[0]) for e in sim.log if e.source == "agent"]
    boot = sim.device.boot_us
    assert device == [(boot, "device"), (boot, "tick"), (boot + 1_100_000, "ping")]
    assert agent == [(0, "agent"), (boot + 1_050_000, "pong")]
    # and each handler read the very instant its event fell due
    assert [e.text for e in sim.log if e.source == "device"][1:] == ["tick 0", "ping 1100000"]


def test_each_module_has_its_own_figure_and_the_config_overrides_it():
    fast = replace(get_profile("imp005"), instruction_ns=10.0)
    slow = replace(get_profile("imp001"), instruction_ns=1000.0)
    turns = {}
    for profile in (fast, slow):
        (_, text), = device_log(simulate(BUSY, run="5s", imp=profile))
        turns[profile.name] = int(text.split()[3])
    assert 80 < turns["imp005"] / turns["imp001"] < 120  # a hundred times faster: a hundred times the turns
    config = Config(instruction_ns=1000.0)
    (_, text), = device_log(simulate(BUSY, run="5s", imp=fast, config=config))
    assert int(text.split()[3]) == turns["imp001"]


def test_instruction_ps_refuses_what_is_not_a_time_every_time_it_is_asked():
    """The picoseconds of a valid setting are worked out once; a setting that is not a number of
    nanoseconds is refused however often it is asked, also after valid ones equal to it."""
    imp = get_profile("imp001")
    for ns in (1, 1.0, 0, 250.5):
        assert Config(instruction_ns=ns).instruction_ps(imp) == round(ns * 1000)
        assert Config(instruction_ns=ns).instruction_ps(imp) == round(ns * 1000)
        assert Config(agent_instruction_ns=ns).instruction_ps() == round(ns * 1000)
    for bad in (True, False, float("nan"), float("inf"), -1, "5", None):
        for _ in range(2):
            with contextlib.suppress(ValueError):
                Config(instruction_ns=bad).instruction_ps(replace(imp, instruction_ns=bad))
                raise AssertionError(f"{bad!r} was taken as a time")
