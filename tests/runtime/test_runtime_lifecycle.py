"""Boot kinds, wake reasons and what survives them (imp-api.md §1.2, §1.3, §4.2, §5, §6, §10)."""

from runtime_helpers import device_lines, simulate

from impapi import Config


def test_cold_boot_connects_before_squirrel_starts():
    """§1.3, §11.4: a cold boot connects, then logs Device Booting, then runs the code."""
    sim = simulate('server.log("wake " + hardware.wakereason());', run="30s")
    texts = [e.text for e in sim.log]
    assert texts[:3] == ["Device connected", "Device Booting; %.2f%% program storage used" % sim.device.storage_used(),
                         "wake 0"]
    assert sim.log[0].time_us == 2_000_000  # the default connect latency


def test_squirrel_starts_offline_after_10s_without_network():
    """§1.3: after a cold power-up Squirrel starts after 10 s or on connection."""
    sim = simulate('''
        server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);
        nv <- {};
        agent.send("x", 1);
        imp.wakeup(100, function() { server.log("online " + server.isconnected()); });
    ''', run=None, start=False)
    sim.outage(0, "2m")
    sim.start()
    sim.run("3m")
    assert sim.device.boot_us == 10_000_000
    assert sim.device.connected is False
    assert device_lines(sim) == []  # RETURN_ON_ERROR while offline: the message is lost (§2.9)


def test_deep_sleep_wakes_warm_with_nv_and_timer_reason():
    """§4.2, §5.1, §6: deep sleep -> warm boot, WAKEREASON_TIMER, nv kept; code after never runs."""
    sim = simulate('''
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        server.log("boot " + nv.n + " reason " + hardware.wakereason());
        try {
            imp.deepsleepfor(60);
        } catch (e) {
            server.log("caught " + e);
        }
        server.log("after sleep");
    ''', run="3m10s")
    assert device_lines(sim) == ["boot 1 reason 0", "boot 2 reason 1", "boot 3 reason 1", "boot 4 reason 1"]


def test_warm_boot_is_offline_until_server_access():
    """§4.2: after a deep-sleep wake the device stays offline until code touches the server."""
    sim = simulate('''
        if (hardware.wakereason() == WAKEREASON_TIMER) {
            imp.wakeup(30, function() { server.log("talking"); });
        } else {
            imp.deepsleepfor(10);
        }
    ''', run=None)
    sim.run("20s")
    assert sim.device.state == "running" and sim.device.connected is False
    sim.run("30s")
    assert sim.device.connected is True
    log = [(round(e.time_us, -3), e.text) for e in sim.log]  # to the ms: the code's work adds µs
    wake = 2_000_000 + 10_000_000
    assert (wake + 30_000_000 + 2_000_000, "Device connected") in log  # connects on first access
    assert log[-1] == (wake + 32_000_000, "talking")


def test_millis_restarts_at_every_boot():
    """§5.2: hardware.millis() restarts at 0 on every cold and warm boot."""
    sim = simulate('''
        imp.wakeup(5, function() {
            server.log("millis " + hardware.millis());
            imp.deepsleepfor(1);
        });
    ''', run="20s")
    assert device_lines(sim)[:2] == ["millis 5000", "millis 5000"]


def test_server_restart_restarts_squirrel_with_sw_restart_and_loses_nv():
    """§1.2, §5.1, §6: server.restart() never returns; WAKEREASON_SW_RESTART; nv not kept."""
    sim = simulate('''
        server.log("reason " + hardware.wakereason() + " nv " + ("nv" in getroottable()));
        nv <- { x = 1 };
        if (hardware.wakereason() == WAKEREASON_POWER_ON) {
            try { server.restart(); } catch (e) { server.log("caught"); }
            server.log("never");
        }
    ''')
    assert device_lines(sim) == ["reason 0 nv false", "reason 10 nv false"]


def test_power_save_lasts_until_a_power_cycle_and_the_send_buffer_until_a_new_connection():
    """D:resources/imprestartoptions: power-save mode is off after a power cycle (other boots
    keep it: UNCONFIRMED). D:node/2430: the send-buffer size survives a Squirrel restart as long
    as the device does not reconnect; a new connection starts with the default (3456 here)."""
    sim = simulate('''
        local r = hardware.wakereason();
        server.log("run " + r);  // online from here
        server.log("powersave " + imp.getpowersave() + ", send buffer " + imp.setsendbuffersize(8192));
        if (r == WAKEREASON_POWER_ON) {
            imp.setpowersave(true);
            imp.wakeup(1, function() { server.restart(); });
        } else if (r == WAKEREASON_SW_RESTART) {
            imp.wakeup(1, function() { imp.deepsleepfor(5); });
        }
    ''', run="20s")
    sim.power_cycle()
    sim.run("20s")
    assert device_lines(sim)[:8] == [
        "run 0", "powersave false, send buffer 3456",
        "run 10", "powersave true, send buffer 8192",  # the same connection
        "run 1", "powersave true, send buffer 3456",  # reconnected after the deep sleep
        "run 0", "powersave false, send buffer 3456",  # power cycled
    ]


def test_a_restart_takes_time_so_code_that_restarts_at_once_runs_its_minute():
    """A restart of Squirrel is not instant (Config.restart_us, 200 ms): an app whose every run
    calls server.restart() at once restarts every 200 ms for its minute, the log showing each
    boot, instead of looping at one instant until the run gives up."""
    sim = simulate("server.restart();", run="1m")
    booting = [e.time_us for e in sim.log if e.text.startswith("Device Booting")]
    # Connected at 2 s, then a boot every 200 ms up to the end of the minute.
    assert booting == list(range(2_000_000, 60_000_001, 200_000))
    assert sim.device.boots == len(booting)
    assert not [e for e in sim.log if "stands still" in e.text]


def test_an_agent_that_restarts_at_once_runs_its_minute():
    sim = simulate("server.log(1);", agent="server.restart();", run="1m")
    restarts = [e.time_us for e in sim.log if e.text == "Agent restarted: reload."]
    assert restarts == list(range(0, 60_000_001, 200_000))
    assert sim.agent.restarts == len(restarts) == 301


def test_the_restart_time_is_configurable():
    sim = simulate("server.restart();", agent="server.restart();", run="1m",
                   config=Config(restart_us=5_000_000))
    assert sim.device.boots == 12  # at 2 s, 7 s, ... 57 s
    assert sim.agent.restarts == 13  # at 0 s, 5 s, ... 60 s


def test_a_deep_sleep_shorter_than_a_restart_wakes_when_squirrel_can_run_again():
    """A deep sleep wakes at the time asked, and a sleep of 0 (a common way to restart) no
    sooner than a restart takes."""
    sim = simulate("""
        if (!("nv" in getroottable())) nv <- { n = 0 };
        if (++nv.n < 4) imp.deepsleepfor(nv.n == 1 ? 0 : 1.5);
        server.log("awake after " + nv.n + " boots");
    """, run="1m")
    boots = [round(e.time_us, -3) for e in sim.events if e.kind == "boot"]  # to the ms: the code's work adds µs
    assert boots[1:] == [boots[0] + 200_000, boots[0] + 1_700_000, boots[0] + 3_200_000]
    assert device_lines(sim) == ["awake after 4 boots"]


def test_impsim_run_of_a_restarting_app_ends_cleanly(tmp_path, capsys):
    from impapi.cli import main

    (tmp_path / "r.nut").write_text("server.restart();\n")
    assert main(["run", str(tmp_path / "r.nut"), "--agent", str(tmp_path / "r.nut"), "--for", "1m"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert sum("Device Booting" in line for line in lines) == 291
    assert sum("Agent restarted: reload." in line for line in lines) == 301
    assert lines[-1].startswith("2026-01-01T00:01:00.000Z")


def test_runtime_error_logs_and_restarts_with_squirrel_error():
    """§10: ERROR lines, onunhandledexception first, then a restart with WAKEREASON_SQUIRREL_ERROR."""
    sim = simulate('''
        server.log("reason " + hardware.wakereason());
        imp.onunhandledexception(function(err) { server.log("handler: " + err); });
        function inner() { return nosuch.x; }
        function outer() { inner(); }
        if (hardware.wakereason() == WAKEREASON_POWER_ON) imp.wakeup(1, outer);
    ''', run="30s")
    lines = device_lines(sim)
    assert lines == [
        "reason 0",
        "ERROR: the index 'nosuch' does not exist",
        "ERROR:   in inner device_code:4",
        "ERROR:   from outer device_code:5",
        "handler: the index 'nosuch' does not exist: in inner device_code:4",
        "reason 5",
    ]
    restart = [e for e in sim.log if e.text == "reason 5"][0]
    assert round(restart.time_us, -3) == 2_000_000 + 1_000_000 + Config().error_restart_delay_us  # the work: µs


def test_crash_loop_is_detected():
    """§10: an error at every boot restarts Squirrel again and again."""
    sim = simulate("local x = null; x.y = 1;", run="2m")
    assert sim.crash_loop
    assert sim.device.boots > Config().crash_loop_boots


def test_imp_reset_is_a_cold_boot_with_exit_code_16():
    """§1.3: imp.reset() never returns, warm boot like a power cycle, WAKEREASON_SW_RESET, Exit Code 16."""
    sim = simulate('''
        server.log("reason " + hardware.wakereason());
        if (hardware.wakereason() == WAKEREASON_POWER_ON) { imp.reset(); server.log("never"); }
    ''')
    assert device_lines(sim) == ["reason 0", "reason 2"]
    exits = [e for e in sim.log if e.type == "lastexitcode"]
    assert len(exits) == 1 and "16" in exits[0].text


def test_out_of_memory_restarts_with_sw_reset():
    """§10: running out of memory restarts with WAKEREASON_SW_RESET and an out-of-memory exit code."""
    sim = simulate('''
        server.log("reason " + hardware.wakereason());
        if (hardware.wakereason() == WAKEREASON_POWER_ON) {
            local hog = [];
            while (true) hog.push(array(1000, 1));
        }
    ''')
    assert device_lines(sim) == ["reason 0", "reason 2"]
    assert any("out of memory" in e.text for e in sim.log if e.type == "lastexitcode")


def test_getmemoryfree_reports_the_module_budget():
    """§4.3: imp.getmemoryfree() is about the module's free Squirrel memory and shrinks with use."""
    sim = simulate('''
        local before = imp.getmemoryfree();
        local keep = array(2000, 0);
        server.log((before - imp.getmemoryfree()) + " " + before);
    ''', imp="imp004m")
    used, before = map(int, device_lines(sim)[0].split())
    assert used >= 2000 * 8  # 8 bytes a value, as on the 32-bit imp (Config.memory_scale)
    assert abs(before - 184 * 1024) < 4096


def test_runs_are_deterministic():
    """DESIGN: the same scenario and seed give the same log, byte for byte."""
    code = '''
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        server.log(nv.n + " " + math.rand());
        imp.deepsleepfor(30);
    '''
    a = simulate(code, run="10m", seed=7).log.to_json()
    b = simulate(code, run="10m", seed=7).log.to_json()
    assert a == b and len(a) > 0


def test_code_that_blocks_past_the_end_of_the_run_as_it_starts_ends_the_run(tmp_path, capsys):
    """The agent starts with the run; an imp.sleep at its top longer than the run is still
    sleeping when the run ends: the run ends at its end, cleanly, and the agent never wakes."""
    from impapi.cli import main

    (tmp_path / "d.nut").write_text('server.log("up");\n')
    (tmp_path / "a.nut").write_text('imp.sleep(256);\nserver.log("awake");\n')
    assert main(["run", str(tmp_path / "d.nut"), "--agent", str(tmp_path / "a.nut"), "--for", "3m"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[-1] == "2026-01-01T00:00:02.000Z [Device] up"
    assert "awake" not in out


def _blocked_at_the_end(tmp_path, capsys, agent: str, device: str, *args: str) -> list[str]:
    from impapi.cli import main

    (tmp_path / "a.agent.nut").write_text(agent)
    (tmp_path / "d.device.nut").write_text(device)
    capsys.readouterr()
    assert main(["run", str(tmp_path / "d.device.nut"), "--agent", str(tmp_path / "a.agent.nut"), *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out.splitlines()


TICKS = 'function tick() { imp.wakeup(60, tick); server.log("tick"); } tick();\n'


def test_an_agent_asleep_for_a_day_as_it_starts_ends_with_a_3_minute_run(tmp_path, capsys):
    """Before, the agent's sleep carried the simulation 27 hours past a 3-minute run (and its
    log with it). The run's end is known before any code starts: the world runs to 3m, the
    agent is still asleep then, and the run ends there."""
    lines = _blocked_at_the_end(tmp_path, capsys, 'imp.sleep(100000); server.log("agent woke");\n', TICKS,
                                "--for", "3m")
    assert not any("agent woke" in line for line in lines)
    assert [line[:24] for line in lines if "tick" in line] == [
        f"2026-01-01T00:0{m}:02.000Z" for m in range(3)]
    assert max(line[:24] for line in lines) <= "2026-01-01T00:03:00.000Z"


def test_a_device_asleep_as_it_boots_ends_with_the_run(tmp_path, capsys):
    lines = _blocked_at_the_end(tmp_path, capsys, TICKS.replace("tick", "atick"),
                                'server.log("up"); imp.sleep(100000); server.log("device woke");\n', "--for", "3m")
    assert not any("device woke" in line for line in lines)
    assert lines[-1] == "2026-01-01T00:03:00.000Z [Agent] atick"  # the world runs to the end, that instant included


def test_a_handler_that_blocks_across_the_end_ends_with_the_run(tmp_path, capsys):
    """A handler near the end that waits past it: what it did before the wait is in the log,
    what follows the wait is not; a longer run shows it woke."""
    device = 'imp.wakeup(170, function() { server.log("h"); imp.sleep(30); server.log("after"); });\n'
    short = _blocked_at_the_end(tmp_path, capsys, "", device, "--for", "3m")
    assert short[-1].endswith("[Device] h") and not any("after" in line for line in short)
    longer = _blocked_at_the_end(tmp_path, capsys, "", device, "--for", "4m")
    assert longer[-1] == "2026-01-01T00:03:22.000Z [Device] after"


def test_every_way_of_running_ends_blocked_code_at_the_end(tmp_path, capsys):
    """A scenario file, the Python API's play() and simulate() give the CLI's log."""
    from impapi import Simulation
    from impapi.scenario import Scenario
    from impapi.simulation import simulate as simulate_scenario

    cli = _blocked_at_the_end(tmp_path, capsys, 'imp.sleep(100000); server.log("agent woke");\n', TICKS, "--for", "3m")
    scenario = Scenario(device=str(tmp_path / "d.device.nut"), agent=str(tmp_path / "a.agent.nut"),
                        duration_us=180_000_000)
    played = Simulation.from_scenario(scenario)
    played.play(scenario)
    assert played.log.text().splitlines() == cli
    assert simulate_scenario(scenario).log.text().splitlines() == cli
    assert played.clock.now_us == 180_000_000 and played.clock.end_us is None


# Awake from a deep sleep at 1:02, the device is offline (§1.3): agent.send waits (SUSPEND_ON_ERROR)
# while impOS reconnects, for a minute at most (§2.3).
SEND_ON_WAKE = ('if (hardware.wakereason() == WAKEREASON_TIMER) { agent.send("ping", 1); server.log("sent"); }\n'
                'else { server.log("up"); imp.onidle(function() { imp.deepsleepfor(60); }); }\n')
PINGED = ('function tick() { imp.wakeup(10, tick); server.log("atick"); } tick();\n'
          'device.on("ping", function(v) { server.log("ping " + v); });\n')


def test_a_device_waiting_for_a_connection_at_the_end_ends_with_the_run(tmp_path, capsys):
    """A device blocked in agent.send, waiting for the network, when the run ends: the log is
    the longer run's log cut at the end, that instant included, and nothing of the wait's
    outcome follows; play() gives the CLI's log and stops the clock at the end."""
    import json

    from impapi import Simulation
    from impapi.scenario import Scenario, ScenarioEvent

    def run(duration: str, outage: str, device: str = SEND_ON_WAKE) -> list[dict]:
        lines = _blocked_at_the_end(tmp_path, capsys, PINGED, device, "--for", duration,
                                    "--at", f"30s:offline={outage}", "--json")
        return [json.loads(line) for line in lines]

    def cut(entries: list[dict], end_us: int) -> list[dict]:
        return [e for e in entries if e["time_us"] <= end_us]

    # The network is back at 1:30; the device connects at 1:32 and its message goes through.
    whole = run("3m", "1m")
    assert [(e["ts"], e["msg"]) for e in whole if e["msg"] in ("Device connected", "sent", "ping 1")][1:] == [
        ("2026-01-01T00:01:32.000Z", "Device connected"), ("2026-01-01T00:01:32.000Z", "sent"),
        ("2026-01-01T00:01:32.050Z", "ping 1")]
    ends_waiting = run("1m20s", "1m")  # the end falls inside the wait
    assert ends_waiting == cut(whole, 80_000_000) and ends_waiting[-1]["time_us"] == 80_000_000
    assert not any(e["msg"] in ("sent", "ping 1") for e in ends_waiting)
    ends_as_it_connects = run("1m32s", "1m")  # the connection completes at the end, that instant included
    assert ends_as_it_connects == cut(whole, 92_000_000)
    # Down for an hour: the wait would fail at 2:02 and the device snooze; a run ending at 1:30
    # ends in the wait, its log the same as the longer run's up to then.
    failing = run("15m", "1h")
    assert run("1m30s", "1h") == cut(failing, 90_000_000)
    # The link drops at 0:30 under a handler in imp.sleep: its send at 0:35 waits for impOS's own
    # reconnection, which succeeds at 1:02.
    asleep = 'imp.wakeup(25, function() { imp.sleep(10); agent.send("ping", 1); server.log("sent"); });\n'
    dropped = run("2m", "30s", asleep)
    assert ("2026-01-01T00:01:02.000Z", "sent") in [(e["ts"], e["msg"]) for e in dropped]
    assert run("45s", "30s", asleep) == cut(dropped, 45_000_000)

    cli = _blocked_at_the_end(tmp_path, capsys, PINGED, SEND_ON_WAKE, "--for", "1m20s", "--at", "30s:offline=1m")
    scenario = Scenario(device=str(tmp_path / "d.device.nut"), agent=str(tmp_path / "a.agent.nut"),
                        duration_us=80_000_000, events=(ScenarioEvent(30_000_000, "offline", 60_000_000),))
    played = Simulation.from_scenario(scenario)
    played.play(scenario)
    assert played.log.text().splitlines() == cli
    assert played.clock.now_us == 80_000_000 and played.clock.end_us is None


def test_a_simulation_run_in_pieces_has_no_known_end(tmp_path):
    """Driven piece by piece (sim.run), nothing says where the run ends: code blocked at the end
    of one piece goes on blocking into the next, so pieces give the log of one long run."""
    from impapi import Simulation

    device = tmp_path / "d.device.nut"
    device.write_text('imp.wakeup(50, function() { server.log("h"); imp.sleep(30); server.log("after"); });\n')
    whole = Simulation(device=device).run("3m")
    pieces = Simulation(device=device).run("1m").run("1m").run("1m")
    assert pieces.log.text() == whole.log.text()
    assert any(e.text == "after" for e in whole.log)
    # Given an end before it starts, a run in pieces ends there like a played one.
    ended = Simulation(device=device, start=False)
    with ended.ending_at(60_000_000):
        ended.start()
        ended.run("40s").run("40s")
    assert ended.clock.now_us == 60_000_000 and device_lines(ended) == ["h"]


def test_an_imp_sleep_longer_than_a_century_is_refused():
    """imp.sleep(1e38) would carry the device's clock past any date the log can show: it is an
    error at the call, which the script can catch."""
    sim = simulate('try { imp.sleep(1e38); } catch (e) { server.log(e); } server.log("on");', run="10s")
    assert device_lines(sim) == ["imp.sleep: at most 3153600000 seconds", "on"]
