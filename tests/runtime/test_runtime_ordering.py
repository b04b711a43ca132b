"""The order of events and imp.sleep (docs/imp-model/timers-and-events.md): each VM runs its
events first in, first out; imp.onidle waits for the VM's queue; independent sources interleave
in any order; imp.sleep blocks only the VM that calls it. Where an order is a choice, every
order the clock can produce is enumerated (ties.every_order)."""

import textwrap

from runtime_helpers import agent_lines, device_lines, simulate

from impapi.config import Config
from impapi.durations import S
from impapi.scenario import Scenario, ScenarioEvent
from impapi.testing.fuzz.run import play
from impapi.testing.fuzz.ties import every_order


def _code(text: str) -> str:
    return textwrap.dedent(text) + "\n"


# These orders are about events due at one instant. Squirrel's execution time would move the
# device's and the agent's events (a message sent after some work, a timer set after some) a few
# microseconds apart, and the instants apart with them: here code takes no time, so they meet.
AT_ONE_INSTANT = Config(instruction_ns=0, agent_instruction_ns=0)


def every_log(device: str, agent: str | None, scenario: Scenario, lines=device_lines, limit=500):
    """{tuple of lines: choices} over every same-instant order of the scenario."""
    seen: dict[tuple, tuple] = {}
    app = (_code(device), _code(agent) if agent else None)
    for choices, run in every_order(lambda order: play(app, scenario, order=order, config=AT_ONE_INSTANT),
                                    limit=limit):
        seen.setdefault(tuple(lines(run.sim)), choices)
        run.close()
    return seen


# --- a VM's queue is first in, first out -------------------------------------------------------

PING_PONG_DEVICE = '''
    agent.on("pong", function(v) { server.log("pong"); });
    imp.wakeup(0.1, function() {
        server.log("timer");
        imp.wakeup(0, function() { server.log("queued by the timer"); });
    });
    agent.send("ping", 1);
'''
PING_PONG_AGENT = 'device.on("ping", function(v) { device.send("pong", v); });'


def test_a_message_never_overtakes_what_the_vm_queued_before_it_arrived():
    """The device's timer and the agent's answer are due at the same instant (2.1 s): either may
    come first, but once the timer has queued more work, the message waits behind it."""
    orders = every_log(PING_PONG_DEVICE, PING_PONG_AGENT, Scenario(duration_us=5 * S))
    assert set(orders) == {("pong", "timer", "queued by the timer"), ("timer", "queued by the timer", "pong")}


def test_onidle_waits_for_the_shutdown_handler_queued_during_the_connection():
    """The textbook sleepy app: the update notice arrives as its agent.send connects; the handler
    call is queued then, so it runs before the idle callback, in every order."""
    device = '''
        server.onshutdown(function(reason) { server.log("handler"); server.restart(); });
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        agent.send("reading", nv.n);
        server.log("sent " + nv.n);
        imp.onidle(function() { server.log("idle"); imp.deepsleepfor(900); });
    '''
    agent = 'device.on("reading", function(n) { server.log("reading " + n); });'
    scenario = Scenario((ScenarioEvent(100 * S, "impos", "44.0"),), duration_us=950 * S)
    orders = every_log(device, agent, scenario)
    assert set(orders) == {("sent 1", "idle", "sent 2", "handler", "sent 1", "idle")}


def test_a_connect_callback_runs_after_the_shutdown_handler_call_it_brought():
    device = '''
        server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);
        server.onshutdown(function(reason) { server.log("handler"); });
        if (hardware.wakereason() == WAKEREASON_TIMER) {
            server.connect(function(reason) { server.log("connected " + reason); imp.deepsleepfor(60); }, 30);
        } else {
            imp.deepsleepfor(60);
        }
    '''
    scenario = Scenario((ScenarioEvent(30 * S, "impos", "44.0"),), duration_us=70 * S)
    orders = every_log(device, None, scenario)
    assert set(orders) == {("handler", "connected 5")}


# --- imp.sleep blocks its own VM only ------------------------------------------------------------


def test_an_agent_sleep_does_not_delay_the_device():
    sim = simulate('''
        imp.wakeup(1, function() { server.log("tick " + hardware.millis()); });
        agent.send("go", 1);
    ''', '''
        imp.wakeup(3, function() { server.log("agent timer"); });
        device.on("go", function(v) { imp.sleep(5); server.log("agent slept"); });
    ''', run="10s")
    assert device_lines(sim) == ["tick 1000"]
    log = [(round(e.time_us, -3), e.text) for e in sim.log if e.source == "agent"]  # to the ms: the code's own work moves it by microseconds
    assert log == [(7_050_000, "agent slept"), (7_050_000, "agent timer")]  # its own timer waited


def test_a_device_sleep_lets_the_agent_run_and_its_messages_wait_in_order():
    sim = simulate('''
        agent.on("msg", function(v) { server.log("msg " + v + " at " + hardware.millis()); });
        agent.send("start", 1);
        imp.sleep(2);
        server.log("slept " + hardware.millis());
    ''', '''
        device.on("start", function(v) {
            device.send("msg", 1);
            imp.wakeup(0.5, function() { server.log("agent runs on"); device.send("msg", 2); });
        });
    ''', run="10s")
    assert device_lines(sim) == ["slept 2000", "msg 1 at 2000", "msg 2 at 2000"]
    assert [(round(e.time_us, -3), e.text) for e in sim.log if e.source == "agent"] == [(2_550_000, "agent runs on")]


def test_overlapping_sleeps_resume_the_outer_sleeper_when_the_inner_one_ends():
    """The device sleeps 1 s; meanwhile the agent sleeps 3 s. The agent's sleep runs inside the
    device's, so the device wakes late, when the agent's ends (documented)."""
    sim = simulate('''
        agent.send("go", 1);
        imp.sleep(1);
        server.log("device slept until " + hardware.millis());
    ''', '''
        device.on("go", function(v) { imp.sleep(3); server.log("agent slept"); });
    ''', run="10s")
    assert device_lines(sim) == ["device slept until 3050"]


def test_a_power_cut_during_imp_sleep_ends_the_run_there():
    device = '''
        server.log("boot " + hardware.wakereason());
        imp.sleep(10);
        server.log("after the sleep");
    '''
    run = play(_code(device), Scenario((ScenarioEvent(5 * S, "power-cycle"),), duration_us=30 * S))
    log = [(round(e.time_us, -3), e.text) for e in run.sim.log if e.source == "device"]  # to the ms: the code's own work moves it by microseconds
    assert log == [(2 * S, "boot 0"), (7 * S, "boot 0"), (17 * S, "after the sleep")]
    assert [e.data["state"] for e in run.sim.events if e.kind == "state"] == ["booting", "running", "off", "booting",
                                                                               "running"]


def test_a_run_that_ends_while_a_vm_sleeps_ends_when_it_wakes():
    """Python cannot leave a native half-way: sim.run() returns once the sleeping VM wakes."""
    sim = simulate('''
        imp.sleep(10);
        server.log("slept");
    ''', run="5s")
    assert round(sim.clock.now_us, -3) == 12 * S and device_lines(sim) == ["slept"]


def test_a_forced_deployment_during_imp_sleep_ends_the_run_and_starts_the_new_code(tmp_path):
    from impapi.scenario import Deploy

    new = tmp_path / "new.device.nut"
    new.write_text('server.log("new");\n')
    device = '''
        server.log("old");
        imp.sleep(10);
        server.log("old again");
    '''
    run = play(_code(device), Scenario((ScenarioEvent(5 * S, "force-deploy", Deploy(str(new))),), duration_us=30 * S))
    assert device_lines(run.sim) == ["old", "new"]


def test_the_network_goes_on_during_imp_sleep():
    """impOS keeps the connection during imp.sleep: an outage is noticed when it starts."""
    sim = simulate('''
        imp.sleep(60);
        server.log("slept");
    ''', run=None)
    sim.outage("10s", "5m")
    sim.run("70s")
    down = next(e.time_us for e in sim.events if e.kind == "connection" and not e.data["connected"])
    assert down == 10 * S


def test_timers_due_during_imp_sleep_run_late_in_order_with_messages():
    sim = simulate('''
        agent.on("m", function(v) { server.log("message " + v); });
        imp.wakeup(0.5, function() { server.log("timer 0.5"); });
        imp.wakeup(1.5, function() { server.log("timer 1.5"); });
        agent.send("go", 1);
        imp.sleep(2);
        server.log("awake");
    ''', '''
        device.on("go", function(v) { imp.wakeup(0.9, function() { device.send("m", 1); }); });
    ''', run="5s")
    assert device_lines(sim) == ["awake", "timer 0.5", "message 1", "timer 1.5"]
    assert agent_lines(sim) == []


def test_messages_from_one_side_arrive_in_order_in_every_order():
    device = '''
        agent.on("ack", function(v) { server.log("ack " + v); });
        imp.wakeup(0.05, function() { server.log("timer"); });
        for (local i = 1; i <= 3; i++) agent.send("m", i);
    '''
    agent = '''
        device.on("m", function(v) { server.log("got " + v); device.send("ack", v); });
        imp.wakeup(2.05, function() { server.log("agent timer"); });
    '''
    orders = every_log(device, agent, Scenario(duration_us=5 * S), lines=lambda sim: [e.text for e in sim.log
                                                                                      if e.source in ("device", "agent")])
    assert len(orders) > 1  # the agent's timer and the messages interleave...
    for lines in orders:
        assert [t for t in lines if t.startswith("got")] == ["got 1", "got 2", "got 3"]  # ...the messages never
        assert [t for t in lines if t.startswith("ack")] == ["ack 1", "ack 2", "ack 3"]


def test_a_blocking_reconnect_holds_the_device_only():
    """SUSPEND_ON_ERROR: a server call made offline waits for the connection (2 s); the agent's
    timer fires on time meanwhile, the device's own timer waits."""
    sim = simulate('''
        imp.wakeup(0.5, function() { server.log("device timer " + hardware.millis()); });
        server.disconnect();
        server.log("reconnecting");  // blocks until connected
        server.log("reconnected at " + hardware.millis());
    ''', '''
        imp.wakeup(3, function() { server.log("agent timer " + time()); });
    ''', run="10s")
    assert device_lines(sim) == ["reconnecting", "reconnected at 2000", "device timer 2000"]
    assert [(e.time_us, e.text) for e in sim.log if e.source == "agent"] == [(3 * S, "agent timer 1767225603")]


def test_an_agent_sleeping_in_its_main_code_as_the_simulation_starts_blocks_only_itself():
    device = '''
        server.log("device up at " + hardware.millis());
        agent.send("hello", 1);
    '''
    agent = '''
        device.on("hello", function(v) { server.log("hello " + v); });
        imp.sleep(%s);
        server.log("agent awake");
    '''
    awake = simulate(device, agent % "0", run="30s")
    slept = simulate(device, agent % "15", run="30s")
    # The device boots as if the agent had not slept; its message waits for the agent's main.
    assert device_lines(slept) == device_lines(awake)
    boot_us = next(e.time_us for e in awake.log if e.source == "device")
    assert boot_us < 15 * S
    assert [(e.time_us, e.text) for e in slept.log if e.source == "agent"] == [
        (15 * S, "agent awake"), (15 * S, "hello 1")]
    assert agent_lines(awake) == ["agent awake", "hello 1"]


def test_an_outage_that_begins_while_the_device_waits_to_reconnect_delays_it_and_only_it():
    """SUSPEND_ON_ERROR: a server call made offline at 3 s waits for impOS's attempt; an outage
    from 6 s to 16 s breaks it, so the call goes on once the device connects after the outage.
    The agent's timer runs on time meanwhile; the device's own timer waits for the call."""
    sim = simulate('''
        imp.wakeup(3, function() { server.disconnect(); server.log("sent"); });
        imp.wakeup(4, function() { server.log("device timer"); });
    ''', '''
        imp.wakeup(8, function() { server.log("agent timer"); });
    ''', run=None)
    sim.clock.schedule_at(6 * S, sim.outage, 0, "10s")
    sim.run("30s")
    assert [(round(e.time_us, -3), e.text) for e in sim.log if e.source == "device"] == [
        (18 * S, "sent"), (18 * S, "device timer")]
    assert [(round(e.time_us, -3), e.text) for e in sim.log if e.source == "agent"] == [(8 * S, "agent timer")]


def test_an_app_hears_of_an_update_when_its_handler_runs_not_when_the_call_is_queued(tmp_path):
    """Under SUSPEND_ON_ERROR Squirrel stops while impOS reconnects after the link drops: the
    app's timer that fell due meanwhile runs first once the device reconnects, before the
    shutdown handler call the connection brought, and deep-sleeps. The app never heard of the
    update, so it did not sleep on it: it hears of it at its next wake and restarts."""
    from impapi.testing.fuzz import checks

    device = tmp_path / "app.device.nut"
    device.write_text(_code('''
        server.onshutdown(function(reason) { server.log("handler"); server.restart(); });
        server.log("awake");
        imp.wakeup(1, function() { imp.deepsleepfor(60); });
    '''))
    scenario = Scenario((ScenarioEvent(2 * S + 500_000, "offline", 2 * S),
                         ScenarioEvent(3 * S, "impos", "44.0")), duration_us=3 * 60 * S)
    run = play((str(device), None), scenario, tie_seed=None, claim=None)
    stages = [(e.data["stage"], e.time_us // S) for e in run.events.of("update")]
    # Reconnected at 6.5 s, asleep at once; awake at 66.5 s, connected at 68.5 s: told, restarts.
    assert stages == [("released", 3), ("announced", 6), ("handler-called", 68), ("applied", 68)]
    assert not checks.violations(run)
