"""Applying scenarios to a simulation: each event calls the documented Simulation/cloud method at
its virtual time, logs a [Sim] line, and deployed code is read before the run starts."""

import textwrap

import pytest

from impapi import Simulation
from impapi.clock import Clock
from impapi.durations import H, M
from impapi.scenario import (
    Scenario,
    ScenarioError,
    ScenarioEvent,
    apply,
    loads_toml,
    parse_at,
)
from impapi.simulation import simulate

POLITE = '''
    server.onshutdown(function(reason) {
        server.log("shutdown " + reason);
        imp.wakeup(5, function() { server.restart(); });
    });
    agent.on("led", function(v) { server.log("led " + v); });
    server.log("version 1, wake " + hardware.wakereason());
'''
AGENT = '''
    http.onrequest(function(req, res) { res.send(200, req.method + " " + req.path + " " + req.body); });
'''


def sim_of(device=POLITE, agent=AGENT, **kw):
    return Simulation(device=textwrap.dedent(device) + "\n" if device else None,
                      agent=textwrap.dedent(agent) + "\n" if agent else None, **kw)


def sim_lines(sim):
    return [e.text for e in sim.log if e.type == "impsim"]


def device_lines(sim):
    return [e.text for e in sim.log if e.source == "device"]


def updates(sim, stage):
    return [(e.time_us, e.data["update"], e.data["path"]) for e in sim.events.of("update", stage=stage)]


# --- the exact calls, against a stand-in simulation ---------------------------------------------


class FakeLog:
    def __init__(self):
        self.entries = []

    def add(self, time_us, type, text):
        self.entries.append((time_us, type, text))


class FakeSim:
    """Records the calls the scenario makes, with the virtual time of each."""

    def __init__(self):
        self.clock = Clock()
        self.log = FakeLog()
        self.calls = []
        self.device = self.agent = object()
        self.load_options = None  # deployed code loads with the default options
        sim = self

        class Cloud:
            pending = {}

            def release_impos(self, version):
                sim.calls.append((sim.clock.now_us, "release_impos", version))

            def deploy(self, device_source, agent_source, *, force, device_file=None, agent_file=None):
                sim.calls.append((sim.clock.now_us, "deploy", device_source, agent_source, force))

            def move_group(self, name):
                sim.calls.append((sim.clock.now_us, "move_group", name))

        self.cloud = Cloud()

    def __getattr__(self, name):
        def call(*args, on_response=None):
            self.calls.append((self.clock.now_us, name, *args))
            if on_response is not None:
                on_response(201, "made", {})
        return call


def test_each_event_calls_its_method_at_its_time(tmp_path):
    (tmp_path / "v2.device.nut").write_text("// v2 device\n")
    (tmp_path / "v2.agent.nut").write_text("// v2 agent\n")
    text = "\n".join([
        '[[event]]\nat = "1m"\ntype = "impos"\nversion = "43.1"',
        '[[event]]\nat = "2m"\ntype = "deploy"\ndevice = "v2.device.nut"',
        '[[event]]\nat = "3m"\ntype = "force-deploy"\ndevice = "v2.device.nut"\nagent = "v2.agent.nut"',
        '[[event]]\nat = "4m"\ntype = "power-cycle"',
        '[[event]]\nat = "5m"\ntype = "power-off"',
        '[[event]]\nat = "6m"\ntype = "power-on"',
        '[[event]]\nat = "7m"\ntype = "offline"\nduration = "45m"',
        '[[event]]\nat = "8m"\ntype = "move-group"\ngroup = "production"',
        '[[event]]\nat = "9m"\ntype = "message"\nname = "led"\ndata = { on = true }',
        '[[event]]\nat = "10m"\ntype = "http"\nmethod = "POST"\npath = "/x"\nbody = "hi"',
        '[[event]]\nat = "11m"\ntype = "advance"',
    ])
    sim = FakeSim()
    timers = apply(loads_toml(text, base_dir=tmp_path), sim)
    assert len(timers) == 11 and sim.calls == []  # only scheduled
    sim.clock.run(H)
    assert sim.calls == [
        (1 * M, "release_impos", "43.1"),
        (2 * M, "deploy", "// v2 device\n", None, False),
        (3 * M, "deploy", "// v2 device\n", "// v2 agent\n", True),
        (4 * M, "power_cycle"),
        (5 * M, "power_off"),
        (6 * M, "power_on"),
        (7 * M, "outage", 0, "45m"),
        (8 * M, "move_group", "production"),
        (9 * M, "agent_to_device", "led", {"on": True}),
        (10 * M, "http", "POST", "/x", "hi"),
    ]
    assert [(t, text) for t, kind, text in sim.log.entries] == [
        (1 * M, "Scenario: impOS 43.1 released to the device's group"),
        (2 * M, "Scenario: deployment of v2.device.nut (build and run)"),
        (3 * M, "Scenario: deployment of v2.device.nut, v2.agent.nut (build and force restart)"),
        (4 * M, "Scenario: power cycle"),
        (5 * M, "Scenario: power off"),
        (6 * M, "Scenario: power on"),
        (7 * M, "Scenario: network outage for 45m"),
        (8 * M, "Scenario: device moved to device group 'production'"),
        (9 * M, 'Scenario: agent sends the device \'led\' with {"on": true}'),
        (10 * M, "Scenario: HTTP POST /x with a 2-character body"),
        (10 * M, "Scenario: HTTP POST /x answered 201: made"),
        (11 * M, "Scenario: advance"),
    ]
    assert {kind for _, kind, _ in sim.log.entries} == {"impsim"}


def test_times_count_from_when_the_scenario_is_applied():
    sim = FakeSim()
    sim.clock.run(H)
    apply(Scenario((parse_at("1m:power-cycle"),)), sim)
    apply(Scenario((parse_at("1m:power-off"),)), sim, start_us=0 + 2 * H)
    sim.clock.run(2 * H)
    assert sim.calls == [(H + M, "power_cycle"), (2 * H + M, "power_off")]


def test_equal_times_keep_the_written_order():
    sim = FakeSim()
    apply(Scenario((parse_at("1m:power-off"), parse_at("1m:power-on"), parse_at("1m:power-cycle"))), sim)
    sim.clock.run(H)
    assert [c[1] for c in sim.calls] == ["power_off", "power_on", "power_cycle"]


def test_deployed_code_is_read_when_applied_so_a_missing_file_fails_before_the_run(tmp_path):
    f = tmp_path / "v2.device.nut"
    f.write_text("x")
    s = Scenario((parse_at("1h:deploy=v2.device.nut", base_dir=tmp_path),))
    f.unlink()
    sim = FakeSim()
    with pytest.raises(ScenarioError, match=r"1h:deploy=.*v2.device.nut: .*v2.device.nut: no such file"):
        apply(s, sim)
    assert sim.clock.pending == 0


def test_a_file_changed_after_apply_does_not_change_the_run(tmp_path):
    f = tmp_path / "v2.device.nut"
    f.write_text("first")
    sim = FakeSim()
    apply(Scenario((parse_at("1h:deploy=v2.device.nut", base_dir=tmp_path),)), sim)
    f.write_text("second")
    sim.clock.run(2 * H)
    assert sim.calls == [(H, "deploy", "first", None, False)]


def test_http_and_message_events_need_an_agent_and_a_device():
    with pytest.raises(ScenarioError, match="sends HTTP requests to the agent, but the simulation has no agent"):
        apply(Scenario((parse_at("1m:http=GET /"),)), sim_of(agent=None))
    with pytest.raises(ScenarioError, match="sends messages to the device, but the simulation has no device"):
        apply(Scenario((parse_at("1m:message=x"),)), sim_of(device=None))


def test_apply_takes_a_single_event():
    sim = FakeSim()
    apply(parse_at("1m:advance"), sim)
    sim.clock.run(H)
    assert sim.log.entries == [(M, "impsim", "Scenario: advance")]


# --- against the real simulation ----------------------------------------------------------------


def test_impos_release_reaches_a_polite_device():
    sim = sim_of()
    apply(Scenario((parse_at("30m:impos=43.1"),)), sim)
    sim.run("1h")
    assert sim_lines(sim) == ["Scenario: impOS 43.1 released to the device's group"]
    assert "shutdown 2" in device_lines(sim)
    assert [(u, p) for _, u, p in updates(sim, "applied")] == [("impos", "polite")]
    assert sim.device.impos == "43.1"
    released = updates(sim, "released")
    assert released[0][0] == 30 * M


def test_deploy_from_a_file_runs_the_new_code(tmp_path):
    (tmp_path / "v2.device.nut").write_text('server.log("version 2");\n')
    sim = sim_of()
    apply(Scenario((parse_at("10m:deploy=v2.device.nut", base_dir=tmp_path),)), sim)
    sim.run("30m")
    assert device_lines(sim)[-2:] == ["shutdown 1", "version 2"]
    assert [(u, p) for _, u, p in updates(sim, "applied")] == [("squirrel", "polite")]


def test_force_deploy_skips_the_handler(tmp_path):
    (tmp_path / "v2.device.nut").write_text('server.log("version 2");\n')
    sim = sim_of()
    apply(Scenario((parse_at("10m:force-deploy=v2.device.nut", base_dir=tmp_path),)), sim)
    sim.run("30m")
    assert "shutdown 1" not in device_lines(sim) and device_lines(sim)[-1] == "version 2"
    assert [(u, p) for _, u, p in updates(sim, "applied")] == [("squirrel", "force")]


def test_deploy_without_files_redeploys_the_current_code():
    sim = sim_of()
    apply(Scenario((parse_at("10m:deploy"),)), sim)
    sim.run("30m")
    assert device_lines(sim)[-2:] == ["shutdown 1", "version 1, wake 4"]  # WAKEREASON_NEW_SQUIRREL
    assert [e.time_us for e in sim.events.of("agent-restart")] == [0, 10 * M]


def test_power_cycle_applies_a_pending_update_without_the_handler():
    sim = sim_of(device='server.onshutdown(function(r) { server.log("later"); });\nserver.log("up");\n')
    apply(Scenario((parse_at("10m:impos=44.0"), parse_at("20m:power-cycle"))), sim)
    sim.run("30m")
    assert [(e.time_us, e.data["on"]) for e in sim.events.of("power")] == [(0, True), (20 * M, False), (20 * M, True)]
    assert [(u, p) for _, u, p in updates(sim, "applied")] == [("impos", "power-cycle")]


def test_power_off_and_on():
    sim = sim_of()
    apply(Scenario((parse_at("10m:power-off"), parse_at("15m:power-on"))), sim)
    sim.run("20m")
    assert [(e.time_us, e.data["on"]) for e in sim.events.of("power")] == [(0, True), (10 * M, False), (15 * M, True)]


def test_offline_is_an_outage_from_the_event_for_its_duration():
    sim = sim_of()
    apply(Scenario((parse_at("10m:offline=45m"),)), sim)
    sim.run("2h")
    assert [e.data for e in sim.events.of("outage")] == [{"start_us": 10 * M, "end_us": 55 * M}]
    connections = [(e.time_us, e.data["connected"]) for e in sim.events.of("connection")]
    assert (10 * M, False) in connections  # the device was online: it loses its connection


def test_move_group_forces_the_update():
    sim = sim_of()
    apply(Scenario((parse_at("10m:move-group=production"),)), sim)
    sim.run("30m")
    assert sim.cloud.group == "production"
    assert [(u, p) for _, u, p in updates(sim, "applied")] == [("squirrel", "group-move")]
    assert "shutdown 1" not in device_lines(sim)


def test_message_reaches_the_device():
    sim = sim_of()
    apply(Scenario((parse_at("10m:message=led:1"),)), sim)
    sim.run("11m")
    assert device_lines(sim)[-1] == "led 1"
    [entry] = [e for e in sim.log if e.text == "led 1"]
    assert round(entry.time_us, -3) == 10 * M + sim.config.message_latency_us  # to the ms: the code's work adds µs


def test_http_request_is_answered_and_logged():
    sim = sim_of()
    apply(Scenario((parse_at("10m:http=POST /led on"),)), sim)
    sim.run("11m")
    assert sim_lines(sim) == ["Scenario: HTTP POST /led with a 2-character body",
                              "Scenario: HTTP POST /led answered 200: POST /led on"]


def test_http_request_answered_later_is_logged_when_answered():
    sim = sim_of(agent='http.onrequest(function(q, r) { imp.wakeup(1, function() { r.send(200, "x"); }); });')
    apply(Scenario((parse_at("1m:http=GET /slow"),)), sim)
    sim.run("2m")
    answer = [e for e in sim.log if e.text == "Scenario: HTTP GET /slow answered 200: x"]
    assert len(answer) == 1 and answer[0].time_us == 61 * 1_000_000


def test_advance_only_marks_the_log():
    sim = sim_of()
    before = sim_of()
    apply(Scenario((parse_at("10m:advance"),)), sim)
    sim.run("20m")
    before.run("20m")
    assert [e for e in sim.log if e.type != "impsim"] == list(before.log)
    assert [(e.time_us, e.text) for e in sim.log if e.type == "impsim"] == [(10 * M, "Scenario: advance")]


def test_simulate_runs_a_scenario_file_for_its_duration(tmp_path):
    (tmp_path / "app.device.nut").write_text(textwrap.dedent(POLITE))
    (tmp_path / "app.agent.nut").write_text(textwrap.dedent(AGENT))
    (tmp_path / "run.toml").write_text(textwrap.dedent('''
        [scenario]
        duration = "2h"
        device = "app.device.nut"
        agent = "app.agent.nut"
        seed = 4

        [[event]]
        at = "30m"
        type = "impos"
        version = "43.1"

        [[event]]
        at = "1h"
        type = "http"
        path = "/status"
    '''))
    from impapi.scenario import load_toml

    sim = simulate(load_toml(tmp_path / "run.toml"))
    assert sim.clock.now_us == 2 * H and sim.seed == 4
    assert sim.device.impos == "43.1"
    assert "Scenario: HTTP GET /status answered 200: GET /status " in sim_lines(sim)


def test_same_scenario_same_log():
    def run():
        sim = sim_of()
        apply(Scenario((parse_at("5m:impos=43.1"), parse_at("20m:offline=5m"), parse_at("40m:power-cycle"))), sim)
        sim.run("1h")
        return sim.log.text()

    assert run() == run()


def test_events_before_start_are_refused():
    sim = sim_of()
    sim.run("1h")
    with pytest.raises(ValueError, match="before now"):
        apply(Scenario((ScenarioEvent(0, "advance"),)), sim, start_us=0)
