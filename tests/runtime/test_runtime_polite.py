"""Polite deployment: one test per statement of the seed (polite-impos-deployment.txt) and per
row of imp-api.md §1. Each docstring quotes or names what it checks."""

from runtime_helpers import agent_lines, device_lines, simulate

from impapi import Config

POLITE = '''
    server.onshutdown(function(reason) {
        server.log("shutdown " + reason);
        imp.wakeup(30, function() { server.log("restarting"); server.restart(); });
    });
    server.log("boot " + hardware.wakereason() + " impOS " + split(imp.getsoftwareversion(), "-")[2].tofloat());
'''

NO_HANDLER = '''
    server.log("boot " + hardware.wakereason() + " impOS " + split(imp.getsoftwareversion(), "-")[2].tofloat());
'''


def applied(sim):
    return [(e.data["update"], e.data["path"]) for e in sim.events.of("update", stage="applied")]


def test_reason_constants():
    """§1.1: SHUTDOWN_NEWSQUIRREL 1, SHUTDOWN_NEWFIRMWARE 2, SHUTDOWN_OTHER 3 (reserved, unused)."""
    sim = simulate('server.log(SHUTDOWN_NEWSQUIRREL + " " + SHUTDOWN_NEWFIRMWARE + " " + SHUTDOWN_OTHER);')
    assert device_lines(sim) == ["1 2 3"]


def test_online_device_with_handler_is_told_and_nothing_happens_until_restart():
    """Seed: the handler "will be called when ... an impOS update is pending"; "the impOS update
    will not be applied until [server.restart()] is called"."""
    sim = simulate(POLITE, run="1m")
    sim.cloud.release_impos("44.0")
    sim.run("20s")
    assert device_lines(sim)[-1] == "shutdown 2"
    assert applied(sim) == []
    sim.run("1m")
    lines = device_lines(sim)
    assert lines[-2:] == ["restarting", "boot 6 impOS 44"]
    assert applied(sim) == [("impos", "polite")]


def test_handler_that_never_restarts_holds_the_update_back():
    """Seed: "it is up to the application to call server.restart()" — without it, nothing is applied."""
    sim = simulate('server.onshutdown(function(r) { server.log("later " + r); });', run="1m")
    sim.cloud.release_impos("44.0")
    sim.run("3d")
    assert device_lines(sim) == ["later 2"]
    assert applied(sim) == [] and sim.device.impos != "44.0"


def test_without_handler_impos_update_restarts_at_once_as_cold_boot_and_nv_is_lost():
    """Seed: without polite deployment impOS "restarts the device in emulation of a cold boot";
    "imps with nv storage will not persist the nv contents across impOS updates"."""
    sim = simulate('''
        server.log("boot " + hardware.wakereason() + " nv " + ("nv" in getroottable()));
        nv <- { kept = true };
    ''', run="1m")
    sim.cloud.release_impos("44.0")
    sim.run("1m")
    assert device_lines(sim) == ["boot 0 nv false", "boot 6 nv false"]
    assert applied(sim) == [("impos", "no-handler")]
    assert any(e.text == "Device disconnected" for e in sim.log)  # a cold boot reconnects


def test_without_handler_new_squirrel_restarts_at_once():
    """§1.1: no handler -> new Squirrel restarts the VM at once with WAKEREASON_NEW_SQUIRREL."""
    sim = simulate(NO_HANDLER, run="1m")
    sim.cloud.deploy('server.log("v2 " + hardware.wakereason());\n', None)
    sim.run("10s")
    assert device_lines(sim)[-1] == "v2 4"
    assert applied(sim) == [("squirrel", "no-handler")]
    texts = [e.text for e in sim.log]
    download = next(i for i, t in enumerate(texts) if t.startswith("Downloading new code; "))
    assert texts[download + 1].startswith("Device Booting; ") and texts[download + 2] == "v2 4"


def test_handler_gets_newsquirrel_for_a_deploy():
    """§1.1: the handler receives SHUTDOWN_NEWSQUIRREL (1) for new application code."""
    sim = simulate(POLITE, run="1m")
    sim.cloud.deploy(POLITE.replace("boot", "v2 boot"), None)
    sim.run("2m")
    lines = device_lines(sim)
    assert "shutdown 1" in lines
    assert lines[-1].startswith("v2 boot 4")


def test_late_handler_update_applied_on_first_contact_before_it():
    """Seed: "Until server.onshutdown() is called, any attempt to contact the server will cause
    the device to reconnect and ... restart" — so register it first thing."""
    app = '''
        if (hardware.wakereason() == WAKEREASON_TIMER) {
            server.log("woke; registering late");
            server.onshutdown(function(r) { server.log("handler " + r); });
        } else {
            server.log("boot " + hardware.wakereason());
            imp.deepsleepfor(600);
        }
    '''
    sim = simulate(app, run="1m")
    sim.cloud.release_impos("44.0")  # the device is asleep: it cannot hear of it yet
    sim.run("5m")
    assert applied(sim) == []
    sim.run("10m")
    assert "handler 2" not in device_lines(sim)
    assert applied(sim) == [("impos", "no-handler")]
    assert device_lines(sim)[-1] == "boot 6"


def test_asleep_device_learns_of_update_only_when_it_talks_to_the_server():
    """Seed: "Devices awaking from sleep do not connect to the impCloud automatically"."""
    app = '''
        server.onshutdown(function(r) { server.log("told " + r); server.restart(); });
        if (hardware.wakereason() == WAKEREASON_TIMER) imp.wakeup(60, function() { server.log("hello"); });
        else imp.deepsleepfor(10);
    '''
    sim = simulate(app, run="5s")
    sim.cloud.release_impos("44.0")
    sim.run("50s")  # awake since ~12 s, offline, silent
    assert sim.device.connected is False and applied(sim) == []
    sim.run("1m")
    lines = device_lines(sim)
    assert lines[:2] == ["hello", "told 2"]
    assert applied(sim) == [("impos", "polite")]


def test_restart_before_deep_sleep_applies_the_update():
    """Seed best practice: make the server.restart() call before the next deep sleep; server.restart()
    "performs the equivalent of a cold boot so that the device connects automatically"."""
    app = '''
        local pending = false;
        server.onshutdown(function(r) { pending = true; });
        server.log("boot " + hardware.wakereason());
        imp.wakeup(20, function() {
            if (pending) server.restart();
            imp.deepsleepfor(300);
        });
    '''
    sim = simulate(app, run="10s")
    sim.cloud.release_impos("44.0")
    sim.run("1m")
    assert applied(sim) == [("impos", "polite")]
    assert device_lines(sim)[-1] == "boot 6"
    texts = [e.text for e in sim.log]
    # it came back online by itself, and booted online (no server access needed)
    assert texts[texts.index("boot 6") - 1].startswith("Device Booting; ")


def test_sleeping_without_restart_defers_and_handler_must_be_registered_again():
    """Seed: "Waking from deep sleep is a warm start ... your restart request handler will need to be
    re-registered"; the update stays pending across the sleep (recorded as deferred)."""
    app = '''
        server.onshutdown(function(r) { server.log("told " + r); });
        server.log("boot " + hardware.wakereason());
        imp.wakeup(20, function() { imp.deepsleepfor(60); });
    '''
    sim = simulate(app, run="10s")
    sim.cloud.release_impos("44.0")
    sim.run("3m")
    assert [e.data["stage"] for e in sim.events.of("update")][:4] == ["released", "announced", "handler-called", "deferred"]
    assert device_lines(sim).count("told 2") >= 2  # told again in each new run
    assert applied(sim) == []


def test_every_run_that_registers_a_handler_is_told_however_many_runs_came_before():
    """Seed: the handler "will be called when, upon reconnecting, the device receives a message ...
    that an impOS update is pending" — in every run, the two-hundredth as well as the first, and
    whether or not the simulation keeps its history (which changes how memory is reused)."""
    app = '''
        server.onshutdown(function(r) { server.log("told " + r); });
        server.log("awake");
        imp.wakeup(1, function() { imp.deepsleepfor(600); });
    '''
    for keep in (True, False):
        told = []
        sim = simulate(app, run="1h", keep_history=keep,
                       log_sink=lambda e: told.append(e.time_us) if e.text == "told 2" else None)
        boots_before = sim.device.boots
        sim.cloud.release_impos("44.0")
        sim.run("2d")
        assert len(told) == sim.device.boots - boots_before


def test_power_cycle_applies_update_without_handler():
    """Seed: "Any device which is manually power-cycled will receive and apply the impOS update
    irrespective of your use of polite deployment, and the ... callback will not be executed"."""
    sim = simulate('server.onshutdown(function(r) { server.log("told " + r); });', run="1m")
    sim.cloud.release_impos("44.0")
    sim.power_cycle()
    sim.run("1m")
    assert "told 2" not in device_lines(sim)
    assert applied(sim) == [("impos", "power-cycle")]
    boots = sim.events.of("boot")
    assert boots[-1].data["wakereason"] == 6 and sim.device.impos == "44.0"


def test_group_move_is_a_forced_deployment():
    """Seed: "if a device is moved from one Device Group to another, that will also operate as a
    forced deployment"."""
    sim = simulate('server.onshutdown(function(r) { server.log("told " + r); }); server.log("up");', run="1m")
    sim.cloud.move_group("production")
    sim.run("10s")
    assert "told 1" not in device_lines(sim)
    assert applied(sim) == [("squirrel", "group-move")]


def test_force_restart_deployment_skips_the_handler():
    """§1.1: "Build and Force Restart" applies the update without calling the handler."""
    sim = simulate(POLITE, run="1m")
    sim.cloud.deploy('server.log("forced in " + hardware.wakereason());\n', None, force=True)
    sim.run("10s")
    assert not any(l.startswith("shutdown") for l in device_lines(sim))
    assert device_lines(sim)[-1] == "forced in 4"
    assert applied(sim) == [("squirrel", "force")]


def test_optional_deadline_forces_a_delayed_update():
    """Seed: "Electric Imp reserves the right to force essential upgrades" — off by default;
    with Config.update_deadline_us the cloud forces it, with its own log line."""
    app = 'server.onshutdown(function(r) { server.log("not now " + r); });'
    sim = simulate(app, run="1m", config=Config(update_deadline_us=3_600_000_000))
    sim.cloud.release_impos("44.0")
    sim.run("59m")
    assert applied(sim) == []
    sim.run("2m")
    assert applied(sim) == [("impos", "deadline")]
    assert any("forced" in e.text and e.type == "status" for e in sim.log)


def test_deploy_restarts_agent_and_keeps_saved_data():
    """§1.2: agents restart on deployment ("Agent restarted: reload.") and keep server.save() data."""
    agent = '''
        local d = server.load();
        if (!("n" in d)) d.n <- 0;
        d.n++;
        server.save(d);
        server.log("agent run " + d.n);
    '''
    sim = simulate(NO_HANDLER, agent, run="1m")
    sim.cloud.deploy(None, agent)
    sim.run("1m")
    assert agent_lines(sim) == ["agent run 1", "agent run 2"]
    assert [e.text for e in sim.log if e.type == "status"].count("Agent restarted: reload.") == 2


def test_contact_and_handler_events_name_the_calling_line(tmp_path):
    """The structured events the polite checks read say where the app made the call (after a
    deployment: in the deployed file), so a violation can point at file:line."""
    from impapi import Simulation
    from impapi.scenario import load_toml, apply

    v1 = tmp_path / "v1.device.nut"
    v1.write_text('server.log("hello");\n\nserver.onshutdown(function(r) { server.restart(); });\n')
    v2 = tmp_path / "v2.device.nut"
    v2.write_text('// v2\nserver.onshutdown(function(r) { server.restart(); });\nagent.send("x", 1);\n')
    sim = Simulation(device=str(v1), start=False)
    sim.start()
    scn = tmp_path / "s.toml"
    scn.write_text(f'[[event]]\nat = "1m"\ntype = "deploy"\ndevice = "{v2.name}"\n')
    apply(load_toml(scn), sim)
    sim.run("2m")
    sites = [(e.kind, e.data.get("file"), e.data.get("line")) for e in sim.events
             if e.kind in ("server-contact", "handler-registered")]
    assert sites[:2] == [("server-contact", str(v1), 1), ("handler-registered", str(v1), 3)]
    assert ("handler-registered", str(v2), 2) in sites and ("server-contact", str(v2), 3) in sites


def test_every_run_is_told_of_a_pending_update_it_did_not_apply():
    """The cloud remembers which runs it told by a number per run, never reused: each of 170-odd
    boots of an app that keeps sleeping on the update hears of it (an object's id() is reused
    once it is freed, and some boots went untold)."""
    sim = simulate('''
        server.onshutdown(function(r) { server.log("told " + r); });
        agent.send("x", 1);
        imp.onidle(function() { imp.deepsleepfor(60); });
    ''', 'device.on("x", function(v) {});', run="5m")
    sim.cloud.release_impos("44.0")
    sim.run("3h")
    boots = [e for e in sim.events if e.kind == "boot" and e.time_us > 5 * 60_000_000]
    assert len(boots) > 150
    assert sum(1 for e in sim.log if e.text == "told 2") == len(boots)


def test_a_deadline_that_passes_while_the_device_is_offline_forces_the_update_when_it_reconnects():
    """The cloud reaches a device only over its connection: the deadline that falls while the
    app is offline (server.disconnect()) forces nothing then; the device hears of the forced
    update when it connects again."""
    app = '''
        server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 30);
        server.onshutdown(function(r) { server.log("not now " + r); });
        imp.wakeup(120, function() { server.disconnect(); });
        imp.wakeup(7200, function() { server.connect(function(state) {}, 30); });
    '''
    sim = simulate(app, run="1m", config=Config(update_deadline_us=3_600_000_000))
    sim.cloud.release_impos("44.0")
    sim.run("90m")  # told at once; offline from 2m; the deadline passes at about 1h01m
    assert device_lines(sim) == ["not now 2"]
    assert any("forced" in e.text and e.type == "status" for e in sim.log)
    assert applied(sim) == [] and not sim.device.connected
    sim.run("35m")  # reconnects at 2h
    assert applied(sim) == [("impos", "deadline")]
    restart = next(e.time_us for e in sim.events.of("update", stage="applied"))
    assert restart >= 7_200_000_000
