"""Connection management and send-timeout policies (imp-api.md §2.3-§2.9, §2.10)."""

from runtime_helpers import device_lines, simulate

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
    assert entry.time_us == 25_000_000 + 2_000_000  # outage over at 25 s, then 2 s to connect


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
    assert snooze and snooze[0].time_us == 12_000_000 + 60_000_000  # boot at 2 s, wakeup(10), a minute of retries


def test_onunexpecteddisconnect_only_after_a_minute_of_outage():
    """§2.7: under RETURN_ON_ERROR the callback fires only if the link stays down 60 s."""
    sim = simulate(RETURN + '''
        server.onunexpecteddisconnect(function(reason) { server.connect(function(r) { server.log("lost " + reason); }); });
    ''', run=None, start=False)
    sim.outage("10s", "20s")   # a blip: never reported
    sim.outage("2m", "5m")
    sim.start()
    sim.run("10m")
    assert device_lines(sim) == ["lost 1"]


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
