"""The Config knobs: each unconfirmed or world-dependent behaviour has the default the imp model
documents (docs/imp-model), and its knob changes it."""

from runtime_helpers import agent_lines, device_lines, simulate

from impapi import Config

S = 1_000_000

NV_APP = '''
    server.log("boot " + hardware.wakereason() + " nv " + ("nv" in getroottable()));
    if (hardware.wakereason() == WAKEREASON_POWER_ON) {
        nv <- { big = blob(4500).tostring() };
        imp.deepsleepfor(10);
    }
'''


def test_nv_over_the_limit_is_not_kept_and_the_log_says_why():
    sim = simulate(NV_APP, run="1m")
    assert device_lines(sim) == ["boot 0 nv false", "boot 1 nv false"]
    notes = sim.log.messages(type="impsim")
    # What happened and the setting that changes it, in words a user can act on.
    assert notes == ["nv not kept for the next run: it is 4516 bytes, over the 4096-byte limit "
                     "(Config.nv_limit sets the limit)"]
    roomy = simulate(NV_APP, run="1m", config=Config(nv_limit=8192))
    assert device_lines(roomy) == ["boot 0 nv false", "boot 1 nv true"]


def test_unserialisable_nv_is_not_kept():
    sim = simulate('''
        server.log("nv " + ("nv" in getroottable()));
        if (hardware.wakereason() == WAKEREASON_POWER_ON) { nv <- { n = 1 }; nv.self <- nv; imp.deepsleepfor(10); }
    ''', run="1m")
    assert device_lines(sim) == ["nv false", "nv false"]
    notes = sim.log.messages(type="impsim")
    assert len(notes) == 1 and notes[0].startswith("nv not kept for the next run: cannot serialise nv: nested too deeply")


SHARED_NV_APP = '''
    server.log("boot " + hardware.wakereason() + " nv " + ("nv" in getroottable()) + " free " + imp.getmemoryfree());
    local t = { b = blob(20000) };
    local u = { a = t, b = t, c = t, d = t, e = t, f = t, g = t, h = t };
    nv <- { a = u, b = u, c = u, d = u, e = u, f = u, g = u, h = u };  // 20 KB held, 1.28 MB serialised
    imp.deepsleepfor(10);
'''


def test_nv_that_shares_a_blob_past_1_mb_serialised_is_not_kept_for_its_size():
    """A blob held 64 times through shared tables costs 20 KB of memory and 1.28 MB as nv: the
    log gives its size, not a cycle; the next boots see the memory a new VM would."""
    sim = simulate(SHARED_NV_APP, run="25s")
    notes = sim.log.messages(type="impsim")
    assert notes[0] == ("nv not kept for the next run: it is 1281229 bytes, over the 4096-byte limit "
                        "(Config.nv_limit sets the limit)") and len(set(notes)) == 1
    fresh = simulate(SHARED_NV_APP, run="25s", config=Config(reuse_vms=False))
    assert device_lines(sim) == device_lines(fresh) and len(device_lines(sim)) == 3
    roomy = simulate(SHARED_NV_APP, run="25s", config=Config(nv_limit=4 << 20))
    assert roomy.log.messages(type="impsim")[0] == ("nv not kept for the next run: cannot serialise nv: it is over "
                                                     "1 MB serialised, far over what the imp sends or stores")
    assert device_lines(roomy)[1].startswith("boot 1 nv false")


def test_nv_across_server_restart_is_a_config_choice():
    """§6 leaves open whether server.restart() keeps nv: dropped by default, kept with
    Config.nv_survives_restart (with the same limit as at deep sleep). A restart for new code
    drops it whatever the setting."""
    app = '''
        server.log("reason " + hardware.wakereason() + " nv " + ("nv" in getroottable() ? nv.n : "none"));
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        imp.wakeup(1, function() { server.restart(); });
    '''
    # Booted at 2 s, a restart every second.
    assert device_lines(simulate(app, run="4500ms")) == ["reason 0 nv none", "reason 10 nv none", "reason 10 nv none"]
    kept = simulate(app, run="4500ms", config=Config(nv_survives_restart=True))
    assert device_lines(kept) == ["reason 0 nv none", "reason 10 nv 1", "reason 10 nv 2"]
    updated = simulate(app, run="2500ms", config=Config(nv_survives_restart=True))
    updated.cloud.deploy(updated.cloud.device_code)  # no shutdown handler: it restarts for the new code
    updated.run("2s")
    assert device_lines(updated) == ["reason 0 nv none", "reason 4 nv none", "reason 10 nv 1"]


def test_the_error_restart_delay_is_configurable():
    app = 'server.log("boot " + hardware.wakereason()); if (hardware.wakereason() == 0) imp.wakeup(1, function() { throw "x"; });'
    sim = simulate(app, run="1m", config=Config(error_restart_delay_us=30 * S))
    boots = sim.events.of("boot")
    assert [b.data["wakereason"] for b in boots] == [0, 5]
    assert round(boots[1].time_us, -3) == 2 * S + 1 * S + 30 * S  # to the ms: the code's work adds µs


def test_the_watchdog_stops_a_runaway_event_and_restarts_like_an_error():
    sim = simulate('''
        server.log("boot " + hardware.wakereason());
        if (hardware.wakereason() == WAKEREASON_POWER_ON) imp.wakeup(1, function() { while (true) {} });
    ''', run="1m", config=Config(watchdog_instructions=100_000))
    assert device_lines(sim) == ["boot 0", "ERROR: watchdog: Squirrel ran too long", "boot 5"]
    assert sim.log.messages(type="impsim") == [
        "device watchdog: an event ran over 100000 Squirrel instructions (see Config.watchdog_instructions)"]
    assert [e.data["message"] for e in sim.events.of("error")] == ["watchdog"]


AGENT_THROWS = '''
    server.log("agent up");
    imp.wakeup(1, function() { throw "boom"; });
    imp.wakeup(2, function() { server.log("still running"); });
'''


def test_an_agent_error_is_logged_and_the_agent_keeps_running_by_default():
    sim = simulate(None, AGENT_THROWS, run="1m")
    assert agent_lines(sim) == ["agent up", "ERROR: boom", "ERROR:   in unknown agent_code:3", "still running"]
    assert len(sim.events.of("agent-restart")) == 1


def test_agent_error_restarts_restarts_the_agent_after_the_delay():
    sim = simulate(None, AGENT_THROWS, run="10s", config=Config(agent_error_restarts=True))
    restarts = sim.events.of("agent-restart")
    assert [r.time_us for r in restarts] == [0, 1 * S + Config().error_restart_delay_us]
    assert "still running" not in agent_lines(sim)[:4]


def test_an_agent_that_runs_out_of_memory_restarts():
    sim = simulate(None, '''
        server.log("agent up");
        imp.wakeup(1, function() { local hog = []; while (true) hog.push(array(1000, 1)); });
    ''', run="10s", config=Config(agent_memory=64 * 1024))
    assert agent_lines(sim)[:3] == ["agent up", "ERROR: out of memory", "agent up"]


def test_an_agent_whose_jsonencode_text_does_not_fit_runs_out_of_memory():
    """http.jsonencode writes a string in the agent's memory: a table that holds the same table
    twice at every level would expand to 2^22 copies, so the agent runs out of memory (and
    restarts) at once instead of encoding for minutes."""
    sim = simulate(None, '''
        server.log("agent up");
        local t = {a = 1};
        for (local i = 0; i < 22; i++) t = {x = t, y = t};
        imp.wakeup(1, function() { http.jsonencode(t); server.log("encoded"); });
    ''', run="10s")
    assert agent_lines(sim)[:3] == ["agent up", "ERROR: out of memory", "agent up"]


def test_the_crash_loop_threshold_is_configurable():
    app = "local x = null; x.y = 1;"
    assert not simulate(app, run="8s", config=Config(crash_loop_boots=3)).crash_loop  # 2 errors
    assert simulate(app, run="8s", config=Config(crash_loop_boots=2)).crash_loop


def test_the_cold_boot_wait_is_configurable():
    sim = simulate('server.log("up");', run=None, start=False, config=Config(cold_boot_wait_us=30 * S))
    sim.outage(0, "2m")
    sim.start()
    sim.run("1m")
    assert sim.device.boot_us == 30 * S and not sim.device.connected


def test_the_connect_latency_is_configurable():
    """A connection takes Config.connect_latency_us (2 s) of network; the simulation's Network
    takes it from there (sim.network.connect_latency_us)."""
    assert simulate('server.log("up");', run="10s").device.boot_us == 2 * S
    slow = simulate('server.log("up");', run="10s", config=Config(connect_latency_us=5 * S))
    assert slow.device.boot_us == 5 * S and slow.network.connect_latency_us == 5 * S


def test_the_snooze_and_the_reconnect_window_are_configurable():
    sim = simulate('''
        server.log("boot " + hardware.wakereason());
        imp.wakeup(10, function() { server.log("try"); });
    ''', run=None, start=False, config=Config(reconnect_window_us=20 * S, snooze_us=60 * S))
    sim.outage("5s", "3m")
    sim.start()
    sim.run("10m")
    snooze = sim.events.of("state", state="snoozing")[0]
    assert snooze.time_us == 5 * S + 20 * S  # the link dropped at 5 s; impOS tried for 20 s
    boots = sim.events.of("boot")
    assert [b.data["wakereason"] for b in boots] == [0, 7]
    # 60 s asleep, then a 20 s try: from 85 s (fails at 105 s), from 165 s (the network is back
    # at 185 s: too late to connect by then), from 245 s: connected 2 s later
    assert boots[1].time_us == 245 * S + 2 * S


def test_the_agent_disconnect_detection_delay_is_configurable():
    sim = simulate('imp.wakeup(10, function() { imp.deepsleepfor(3600); });',
                   'device.ondisconnect(function() { server.log("gone"); });',
                   run=None, config=Config(agent_disconnect_detect_us=30 * S))
    sim.run("1m")
    gone = [e for e in sim.log if e.text == "gone"]
    assert len(gone) == 1 and round(gone[0].time_us, -3) == 12 * S + 30 * S  # to the ms: the code's work adds µs


def test_a_power_cycle_that_installs_a_deployment_reports_new_squirrel():
    """docs/imp-model/boot-and-wake.md: a boot that installs an update reports the update's wake
    reason, whatever started it."""
    sim = simulate('server.log("boot " + hardware.wakereason());', run="1m")
    sim.power_off()
    sim.cloud.deploy('server.log("v2 " + hardware.wakereason());\n')
    sim.run("1m")
    sim.power_on()
    sim.run("1m")
    assert device_lines(sim) == ["boot 0", "v2 4"]


def test_an_error_whose_tostring_throws_itself_is_logged_by_its_type():
    # Describing the error runs its _tostring, which throws the same instance again: the log
    # names the type and the agent goes on (before: a Python RecursionError ended the run).
    sim = simulate(None, '''
        server.log("agent up");
        class C { function _tostring() { throw this; } }
        imp.wakeup(1, function() { throw C(); });
        imp.wakeup(2, function() { server.log("still running"); });
    ''', run="1m")
    assert agent_lines(sim) == ["agent up", "ERROR: (Instance)", "ERROR:   in unknown agent_code:4", "still running"]
