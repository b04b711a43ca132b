"""Connection management and send-timeout policies (imp-api.md §2.3-§2.9, §2.10)."""

import textwrap

from runtime_helpers import device_lines, simulate

from impapi import Simulation
from impapi.scenario import Pin, Scenario, ScenarioEvent

S = 1_000_000

RETURN = "server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);\n"


def test_return_on_error_offline_send_returns_not_connected_and_is_lost():
    """§2.3, §2.9: under RETURN_ON_ERROR an offline server.log returns 1 and the message is lost."""
    sim = simulate(RETURN + '''
        server.disconnect();
        local rc = server.log("lost");
        imp.wakeup(1, function() { server.connect(function(r) { server.log("rc " + rc + " reason " + r); }); });
    ''', run="30s")
    assert device_lines(sim) == ["rc 1 reason 5"]


def test_connect_callback_reports_failure_reason_after_timeout():
    """§2.4: under RETURN_ON_ERROR server.connect is asynchronous; a failure gives the reason."""
    sim = simulate(RETURN + '''
        server.disconnect();
        server.connect(function(r) {
            if (r == SERVER_CONNECTED) server.log("connected at " + hardware.millis());
            else imp.wakeup(0, function() { server.connect(function(r2) { server.log("first " + r + " then " + r2); }, 120); });
        }, 20);
    ''', run=None, start=False)
    sim.outage("3s", "30s")  # down before the first attempt (from 2 s) can complete
    sim.start()
    sim.run("2m")
    assert device_lines(sim) == ["first 1 then 5"]  # NO_WIFI, then SERVER_CONNECTED


def test_suspend_on_error_blocks_while_reconnecting():
    """§2.3: under SUSPEND_ON_ERROR a send while offline blocks until impOS reconnects."""
    sim = simulate('''
        imp.wakeup(10, function() {
            local before = hardware.millis();
            server.log("after " + (hardware.millis() - before));
        });
    ''', run=None, start=False)
    sim.outage("5s", "20s")
    sim.start()
    sim.run("1m")
    entry = [e for e in sim.log if e.source == "device"][0]
    assert entry.text == "after 0"  # the argument was built before the call blocked
    assert round(entry.time_us, -3) == 25_000_000 + 2_000_000  # outage over at 25 s, then 2 s to connect


def test_suspend_on_error_snoozes_when_reconnect_fails_and_keeps_nv():
    """§2.3, §5.1, §6: reconnect fails for a minute -> snooze; WAKEREASON_SNOOZE with nv kept."""
    sim = simulate('''
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        server.log("boot " + hardware.wakereason() + " n " + nv.n);
        if (nv.n == 1) imp.wakeup(10, function() { server.log("during outage"); });
    ''', run=None, start=False)
    sim.outage("5s", "30m")
    sim.start()
    sim.run("1h")
    assert device_lines(sim) == ["boot 0 n 1", "boot 7 n 2"]
    snooze = [e for e in sim.events if e.kind == "state" and e.data["state"] == "snoozing"]
    # The link dropped at 5 s and impOS retried for a minute; the call at 12 s waited for its end.
    assert snooze and snooze[0].time_us == 5_000_000 + 60_000_000


def test_suspend_on_error_reconnects_by_itself_after_a_blip():
    """§2.3: SUSPEND_ON_ERROR is "automatic reconnect": after a short outage impOS connects
    again without the app calling the server, so an app that only listens hears its agent."""
    sim = simulate('''
        agent.on("ping", function(n) { server.log("ping " + n); });
    ''', agent='''
        local n = 0;
        function ping() { device.send("ping", ++n); imp.wakeup(10, ping); }
        imp.wakeup(5, ping);
    ''', run=None, start=False)
    sim.outage("12s", "5s")
    sim.start()
    sim.run("40s")
    assert status_lines(sim) == [(2, "Device connected"), (12, "Device disconnected"), (19, "Device connected")]
    assert device_lines(sim) == ["ping 1", "ping 3", "ping 4"]  # the one sent during the blip is lost


def test_suspend_on_error_snoozes_a_minute_after_the_link_drops():
    """§2.3: "the imp will ... attempt to reconnect to the server for one minute. If it fails to
    do so, it will go into a deep sleep", whether or not the app was talking to the server."""
    sim = simulate('''
        if (!("nv" in getroottable())) nv <- { boots = 0 };
        nv.boots++;
        imp.wakeup(1, function() { server.log("boot " + hardware.wakereason() + ", " + nv.boots); });
    ''', run=None, start=False)
    sim.outage("10s", "5m")
    sim.start()
    sim.run("30m")
    assert [(e.time_us // S, e.data["state"]) for e in sim.events.of("state")][:3] == [
        (0, "booting"), (2, "running"), (70, "snoozing")]
    assert device_lines(sim) == ["boot 0, 1", "boot 7, 2"]


def status_lines(sim):
    """(seconds, text) of the connection's status lines."""
    return [(e.time_us // S, e.text) for e in sim.log if e.type == "status" and e.text.startswith("Device ")
            and "connected" in e.text]


def test_a_blip_never_reaches_onunexpecteddisconnect_impos_reconnects_by_itself():
    """§2.7: under RETURN_ON_ERROR impOS retries for 60 s by itself, so a short outage ends in
    a new connection the app is not told of. Meanwhile the device is offline as the app sees it:
    server.isconnected() is false and a send returns SEND_ERROR_NOT_CONNECTED."""
    sim = simulate(RETURN + '''
        notes <- [];
        server.onunexpecteddisconnect(function(reason) { notes.append("unexpected " + reason); });
        imp.wakeup(10, function() { notes.append("at 12s: " + server.isconnected() + " " + server.log("lost")); });
        imp.wakeup(30, function() {
            server.log("at 32s: " + server.isconnected() + "; " + notes.reduce(@(a, b) a + ", " + b));
        });
    ''', run=None, start=False)
    sim.outage("10s", "5s")
    sim.start()
    sim.run("3m")
    assert device_lines(sim) == ["at 32s: true; at 12s: false 1"]
    # The link drops at 10 s; impOS has a new connection 2 s after the network is back.
    assert status_lines(sim) == [(2, "Device connected"), (10, "Device disconnected"), (17, "Device connected")]


def test_onunexpecteddisconnect_only_after_a_minute_of_outage_and_nothing_reconnects_after():
    """§2.7: the callback runs, with the reason, once impOS has tried for a minute; from then on
    only server.connect() reconnects (§2.3), even after the network is back."""
    sim = simulate(RETURN + '''
        notes <- [];
        server.onunexpecteddisconnect(function(reason) {
            notes.append("unexpected " + reason + " at " + hardware.millis() / 1000);
        });
        imp.wakeup(478, function() { notes.append("at 8m: " + server.isconnected()); });
        imp.wakeup(538, function() {
            server.connect(function(r) { server.log(r + "; " + notes.reduce(@(a, b) a + ", " + b)); });
        });
    ''', run=None, start=False)
    sim.outage("2m", "5m")
    sim.start()
    sim.run("10m")
    # Booted at 2 s: the link dropped at 120 s, the callback ran at 180 s (millis 178 s).
    assert device_lines(sim) == ["5; unexpected 1 at 178, at 8m: false"]
    assert status_lines(sim) == [(2, "Device connected"), (120, "Device disconnected"), (542, "Device connected")]


def test_overlapping_connect_calls_keep_only_the_last_callback():
    """§2.4: one callback can be pending; a second server.connect() while an attempt is in
    flight replaces its callback. The attempt goes on as it started (its timeout), inferred."""
    sim = simulate(RETURN + '''
        server.disconnect();
        server.connect(function(r) { server.log("first " + r); }, 5);
        server.connect(function(r) { imp.wakeup(0, function() {
            server.connect(function(r2) { server.log("second " + r + ", then " + r2); }, 60);
        }); }, 60);
    ''', run=None, start=False)
    sim.outage("3s", "20s")
    sim.start()
    sim.run("2m")
    # The attempt from 2 s gives up at 7 s (its 5 s timeout) with NO_WIFI; the next connects.
    assert device_lines(sim) == ["second 1, then 5"]
    assert status_lines(sim)[-1] == (25, "Device connected")


def test_an_outage_that_begins_during_a_connection_attempt_defeats_it():
    """An attempt needs the network up for the whole 2 s; an outage that begins while it is in
    flight (as a scenario's offline event does) makes it start again once the network is back."""
    sim = Simulation(device='server.log("up");\n', start=False)
    sim.clock.schedule_at(1 * S, sim.outage, 0, "5s")  # from 1 s to 6 s, during the cold boot's attempt
    sim.start()
    sim.run("30s")
    assert status_lines(sim) == [(8, "Device connected")]
    assert [e.time_us // S for e in sim.log if e.text == "up"] == [8]


def test_server_restart_offline_waits_for_a_connection_as_a_cold_boot_does():
    """server.restart() "performs the equivalent of a cold boot": an offline device starts
    Squirrel once connected or after 10 s, not before it could know the attempt fails. (Under
    RETURN_ON_ERROR: under SUSPEND_ON_ERROR Squirrel is stopped while impOS reconnects.)"""
    sim = simulate(RETURN + '''
        if (hardware.wakereason() == WAKEREASON_POWER_ON) imp.wakeup(8, function() { server.restart(); });
    ''', run=None, start=False)
    sim.outage("5s", "1m")
    sim.start()
    sim.run("2m")
    boots = [(e.time_us // S, e.data["wakereason"]) for e in sim.events.of("boot")]
    assert boots == [(2, 0), (20, 10)]  # restart asked at 10 s; no connection by 20 s: offline


def test_isconnected_flush_and_disconnect():
    """§2.5, §2.6, §2.8."""
    sim = simulate('''
        local a = server.isconnected();
        local f = server.flush(5);
        server.disconnect();
        local b = server.isconnected();
        local g = server.flush(5);
        server.log(a + " " + f + " " + b + " " + g);
    ''')
    assert device_lines(sim) == ["true true false false"]


def test_sleepfor_wakes_with_timer_reason():
    """§2.10: server.sleepfor() deep-sleeps; the wake is a warm boot with WAKEREASON_TIMER."""
    sim = simulate('''
        server.log("reason " + hardware.wakereason());
        if (hardware.wakereason() == WAKEREASON_POWER_ON) server.sleepfor(30);
    ''', run="1m")
    assert device_lines(sim) == ["reason 0", "reason 1"]


def test_sleepuntil_wakes_at_the_next_utc_time():
    """§2.10: server.sleepuntil(hour, minute) wakes at that UTC time."""
    sim = simulate('''
        if (hardware.wakereason() == WAKEREASON_POWER_ON) imp.deepsleepuntil(3, 30);
        else server.log(format("%02d:%02d", date().hour, date().min));
    ''', run="4h")
    assert device_lines(sim) == ["03:30"]


def test_invalid_policy_is_an_error():
    sim = simulate('try { server.setsendtimeoutpolicy(99, WAIT_TIL_SENT, 1); } catch (e) { server.log(e); }')
    assert device_lines(sim)[0].startswith("invalid error policy")


# --- the stored WiFi configuration (D:api/imp/setwificonfiguration, D:api/imp/clearconfiguration) ---


def test_clearing_the_wifi_configuration_keeps_the_connection_but_blocks_the_next_one():
    """Clearing affects future connections only: the device stays connected until it disconnects,
    then cannot connect (NO_WIFI) until a configuration naming its network is stored again. (What
    happens offline is logged once the device is back.)"""
    sim = simulate(RETURN + '''
        local seen = [];
        seen.push("ssid " + imp.getssid() + " " + imp.net.info().interface[0].ssid);
        imp.clearconfiguration(CONFIG_WIFI);
        seen.push("still " + server.isconnected() + " ssid '" + imp.getssid() + "' " + ("ssid" in imp.net.info().interface[0]));
        server.disconnect();
        server.connect(function(r) {
            seen.push("cleared " + r + " at " + hardware.millis());
            imp.setwificonfiguration("elsewhere", "pw");
            server.connect(function(r) {
                seen.push("wrong network " + r);
                imp.setwificonfiguration("impsim", "any key");
                server.connect(function(r) {
                    seen.push("configured " + r + " " + imp.getssid());
                    foreach (line in seen) server.log(line);
                }, 10);
            }, 10);
        }, 10);
    ''', run="1m")
    assert device_lines(sim) == ["ssid impsim impsim", "still true ssid '' false", "cleared 1 at 10000",
                                 "wrong network 1", "configured 5 impsim"]


def _device_global(sim, name):
    return sim.device.host.vm.root[name]


def test_the_wifi_configuration_survives_every_boot():
    """It is kept in non-volatile memory: after a power cycle the device cannot connect (Squirrel
    starts offline after 10 s), and a stored configuration is used at the next cold boot."""
    code = '''
        boot <- [hardware.wakereason(), server.isconnected(), imp.getssid()];
        if (imp.getssid() == "impsim") imp.clearconfiguration(CONFIG_WIFI);
    '''
    sim = simulate(code, run="5s")
    assert list(_device_global(sim, "boot")) == [0, True, "impsim"]
    sim.power_cycle()
    sim.run("30s")
    assert list(_device_global(sim, "boot")) == [0, False, ""]
    assert not sim.device.connected
    sim.device.wifi_config = ("impsim", "")  # as a BlinkUp would store it
    sim.power_cycle()
    sim.run("30s")
    assert list(_device_global(sim, "boot")) == [0, True, "impsim"]


def test_the_network_password_is_checked_when_configured():
    from impapi.simulation import Config

    code = RETURN + '''
        server.disconnect();
        imp.setwificonfiguration("impsim", "wrong");
        server.connect(function(r) {
            imp.setwificonfiguration("impsim", "s3cret");
            server.connect(function(r2) { server.log(r + " then " + r2); }, 10);
        }, 10);
    '''
    assert device_lines(simulate(code, run="1m", config=Config(wifi_key="s3cret"))) == ["1 then 5"]
    assert device_lines(simulate(code, run="1m")) == ["5 then 5"]  # wifi_key None: any key


def test_clearing_everything_forgets_the_enrollment_too():
    """imp.clearconfiguration() (CONFIG_ALL, the default) also clears the enrollment: a WiFi
    configuration alone no longer gets the device onto the server (NOT_AUTHORISED is our
    choice of reason, UNCONFIRMED)."""
    sim = simulate(RETURN + '''
        imp.clearconfiguration();
        server.disconnect();
        imp.setwificonfiguration("impsim", "");
        server.connect(function(r) { reason <- r; }, 10);
    ''', run="1m")
    assert _device_global(sim, "reason") == 7 and not sim.device.connected


def test_config_constants_and_bad_arguments():
    sim = simulate('''
        server.log(CONFIG_WIFI + " " + CONFIG_STATIC_NETWORK + " " + CONFIG_PROXY + " " + CONFIG_ALL);
        foreach (bad in [99, "wifi", 0]) {
            try { imp.clearconfiguration(bad); } catch (e) { server.log(e); }
        }
        try { imp.setwificonfiguration("x"); } catch (e) { server.log("one argument"); }
        try { imp.setwificonfiguration("x", 5); } catch (e) { server.log(e); }
        imp.clearconfiguration(CONFIG_PROXY | CONFIG_STATIC_NETWORK);
        server.log("kept " + imp.getssid());
    ''', run="5s")
    bad = ("imp.clearconfiguration: the action must be CONFIG_WIFI, CONFIG_STATIC_NETWORK, CONFIG_PROXY "
           "or CONFIG_ALL")
    assert device_lines(sim) == ["1 2 4 7", bad,
                                 "parameter 1 has an invalid type 'string' ; expected: 'integer'", bad,
                                 "one argument",
                                 "parameter 2 has an invalid type 'integer' ; expected: 'string'",
                                 "kept impsim"]


def test_wifi_settings_exist_only_on_wifi_devices_and_not_on_the_agent():
    sim = simulate('server.log(("setwificonfiguration" in imp) + " " + ("clearconfiguration" in imp));',
                   'server.log(("setwificonfiguration" in imp) + " " + ("CONFIG_WIFI" in getroottable()));',
                   run="15s", imp="impC001")
    assert device_lines(sim) == ["false true"]
    assert [e.text for e in sim.log if e.source == "agent"] == ["false false"]


def test_an_update_released_during_a_blip_is_heard_when_impos_reconnects_by_itself():
    """updates.md: a device hears of a pending update whenever it connects again, impOS's own
    reconnection after a dropped link included."""
    sim = simulate(RETURN + '''
        server.onshutdown(function(reason) { server.log("shutdown " + reason); });
    ''', run=None, start=False)
    sim.outage("10s", "5s")
    sim.start()
    sim.run("12s")
    sim.cloud.release_impos("44.0")  # the device is offline: it cannot hear of it now
    sim.run("30s")
    assert [(e.time_us // S, e.text) for e in sim.log if e.source == "device"] == [(17, "shutdown 2")]


def test_suspend_on_error_stops_squirrel_while_impos_reconnects():
    """§2.3: under SUSPEND_ON_ERROR "the imp will stop executing code" while it reconnects after
    the link drops: the device's timers due meanwhile run late, once it has reconnected, in
    order; the agent runs on. If the minute passes without a connection, they never run."""
    device = '''
        imp.wakeup(14, function() { server.log("timer 14"); });
        imp.wakeup(15, function() { server.log("timer 15"); });
    '''
    agent = 'imp.wakeup(15, function() { server.log("agent on time"); });'
    sim = simulate(device, agent, run=None, start=False)
    sim.outage("12s", "5s")
    sim.start()
    sim.run("40s")
    assert status_lines(sim) == [(2, "Device connected"), (12, "Device disconnected"), (19, "Device connected")]
    assert [(e.time_us // S, e.text) for e in sim.log if e.source == "device"] == [(19, "timer 14"), (19, "timer 15")]
    assert [(e.time_us // S, e.text) for e in sim.log if e.source == "agent"] == [(15, "agent on time")]

    sim = simulate(device, None, run=None, start=False)
    sim.outage("12s", "5m")
    sim.start()
    sim.run("2m")
    assert [(e.time_us // S, e.data["state"]) for e in sim.events.of("state")][-1] == (72, "snoozing")
    assert device_lines(sim) == []


# An idle app (booted online at 2 s, nothing running) whose link drops at 10 s under
# SUSPEND_ON_ERROR: its timers fall due at 14 s, 16 s and 32 s, a button is pressed at 15 s, and
# it writes to nv at 7 s.
IDLE_APP = '''
    if (!("nv" in getroottable())) nv <- { note = "none" };
    server.log("boot " + hardware.wakereason() + ", nv " + nv.note);
    hardware.pinA.configure(DIGITAL_IN, function() { server.log("pin " + hardware.pinA.read() + " at " + hardware.millis()); });
    imp.wakeup(5, function() { nv.note = "set at " + hardware.millis(); });
    imp.wakeup(12, function() {
        server.log("timer 12 at " + hardware.millis());
        imp.wakeup(0, function() { server.log("queued by timer 12"); });
    });
    imp.wakeup(14, function() { server.log("timer 14 at " + hardware.millis()); });
    imp.wakeup(30, function() { server.log("timer 30 at " + hardware.millis()); });
'''
ON_TIME_AGENT = 'imp.wakeup(13, function() { server.log("agent timer"); });'


def _idle_app_scenario(outage_us: int, duration_us: int) -> Scenario:
    events = (ScenarioEvent(10 * S, "offline", outage_us), ScenarioEvent(15 * S, "pin", Pin("pinA", 1)))
    return Scenario(tuple(e for e in events if e.at_us <= duration_us), duration_us=duration_us)


def _play(device: str, scenario: Scenario) -> Simulation:
    sim = Simulation(device=textwrap.dedent(device), agent=ON_TIME_AGENT, start=False)
    sim.play(scenario)
    return sim


def _seconds_and_text(sim: Simulation, source: str) -> list[tuple[int, str]]:
    return [(e.time_us // S, e.text) for e in sim.log if e.source == source]


def test_an_idle_app_paused_while_impos_reconnects_runs_what_waited_late_first_in_first_out():
    """The link drops at 10 s and impOS reconnects at 17 s (the outage ends at 15 s, then 2 s to
    connect). Squirrel is stopped meanwhile: the timers due at 14 s and 16 s and the button
    press of 15 s run at 17 s, in the order they became ready, and what the first of them
    queues (imp.wakeup(0, ...)) runs after them; hardware.millis() shows how late. The timer
    due at 32 s runs on time, the agent runs on. Under RETURN_ON_ERROR the app runs on
    through the same minute: everything on time."""
    sim = _play(IDLE_APP, _idle_app_scenario(5 * S, 60 * S))
    assert status_lines(sim) == [(2, "Device connected"), (10, "Device disconnected"), (17, "Device connected")]
    assert _seconds_and_text(sim, "device") == [
        (2, "boot 0, nv none"), (17, "timer 12 at 15000"), (17, "pin 1 at 15000"), (17, "timer 14 at 15000"),
        (17, "queued by timer 12"), (32, "timer 30 at 30000")]
    assert _seconds_and_text(sim, "agent") == [(13, "agent timer")]

    # Under RETURN_ON_ERROR the app runs on through the outage (a line it logs offline is lost,
    # so it notes the times and logs them once connected again).
    returning = _play(RETURN + '''
        local seen = "";
        hardware.pinA.configure(DIGITAL_IN, function() { seen += " pin@" + hardware.millis(); });
        imp.wakeup(12, function() { seen += " timer12@" + hardware.millis(); });
        imp.wakeup(14, function() { seen += " timer14@" + hardware.millis(); });
        imp.wakeup(30, function() { server.log("ran" + seen); });
    ''', _idle_app_scenario(5 * S, 60 * S))
    assert status_lines(returning) == status_lines(sim)
    assert _seconds_and_text(returning, "device") == [(32, "ran timer12@12000 pin@13000 timer14@14000")]


def test_an_idle_app_paused_while_impos_fails_to_reconnect_snoozes_and_what_waited_never_runs():
    """Down for 5 minutes: impOS's minute of retries ends at 70 s without a connection, so the
    run ends in a snooze, nv saved as it was (the timers and the press that waited never run).
    The snooze retries at 10:10, connects at 10:12 (the outage was over) and the app boots
    again with WAKEREASON_SNOOZE and its nv."""
    sim = _play(IDLE_APP, _idle_app_scenario(5 * 60 * S, 15 * 60 * S))
    assert [(e.time_us // S, e.data["state"]) for e in sim.events.of("state")] == [
        (0, "booting"), (2, "running"), (70, "snoozing"), (612, "running")]
    assert status_lines(sim) == [(2, "Device connected"), (10, "Device disconnected"), (612, "Device connected")]
    assert _seconds_and_text(sim, "device") == [
        (2, "boot 0, nv none"), (612, "boot 7, nv set at 5000"), (624, "timer 12 at 12000"),
        (624, "queued by timer 12"), (626, "timer 14 at 14000"), (642, "timer 30 at 30000")]
    # Between the drop and the next boot the app did nothing at all (not even unlogged).
    assert [(e.time_us // S, e.kind) for e in sim.events if 10 * S < e.time_us < 612 * S] == [
        (15, "pin-in"), (70, "state")]


def test_a_run_that_ends_while_an_idle_app_is_paused_for_impos_ends_there():
    """A run whose end falls in the pause (the reconnection succeeding or failing later) ends
    there, its log and events those of a longer run up to the end, that instant included (17 s:
    the reconnection; 70 s: the snooze), and nothing of what waited runs after it."""
    def cut(sim: Simulation, end_us: int) -> tuple[list, list]:
        return [e for e in sim.log if e.time_us <= end_us], [e for e in sim.events if e.time_us <= end_us]

    ended = {}
    for outage_us, whole_us, ends_us in ((5 * S, 60 * S, (12 * S, 15 * S + 500_000, 17 * S, 17 * S + 100_000)),
                                         (5 * 60 * S, 15 * 60 * S, (16 * S, 60 * S, 70 * S))):
        whole = _play(IDLE_APP, _idle_app_scenario(outage_us, whole_us))
        for end_us in ends_us:
            short = _play(IDLE_APP, _idle_app_scenario(outage_us, end_us))
            assert (list(short.log), list(short.events)) == cut(whole, end_us), end_us
            assert short.clock.now_us == end_us and short.clock.end_us is None
            ended[outage_us, end_us] = short
    assert _seconds_and_text(ended[5 * S, 15 * S + 500_000], "device") == [(2, "boot 0, nv none")]
    # At 17 s the device reconnects; the late handlers start then, their lines a few microseconds
    # on (Squirrel's execution time): cut by an end at 17 s, there by 17.1 s.
    assert status_lines(ended[5 * S, 17 * S])[-1] == (17, "Device connected")
    assert _seconds_and_text(ended[5 * S, 17 * S], "device") == [(2, "boot 0, nv none")]
    assert _seconds_and_text(ended[5 * S, 17 * S + 100_000], "device")[-1] == (17, "queued by timer 12")
    assert [e.data["state"] for e in ended[5 * 60 * S, 70 * S].events.of("state")][-1] == "snoozing"
