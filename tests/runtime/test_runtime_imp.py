"""Timers, the imp object, hardware and the SPI flash natives (imp-api.md §4, §5, §7)."""

import pytest
from runtime_helpers import agent_lines, device_lines, simulate


def test_timers_run_in_time_order_and_wakeup_zero_after_the_current_event():
    """§4.1: wakeup(0) runs after the current code returns; timers run in time order."""
    sim = simulate('''
        imp.wakeup(0.5, function() { server.log("b " + hardware.millis()); });
        imp.wakeup(0.2, function() { server.log("a " + hardware.millis()); });
        imp.wakeup(0, function() { server.log("zero"); });
        server.log("main");
    ''', run="5s")
    assert device_lines(sim) == ["main", "zero", "a 200", "b 500"]


def test_timer_resolution_is_10ms():
    """§4.1: intervals round to 10 ms; a positive interval below 10 ms becomes 10 ms."""
    sim = simulate('''
        imp.wakeup(0.001, function() { server.log("tiny " + hardware.millis()); });
        imp.wakeup(0.126, function() { server.log("rounded " + hardware.millis()); });
    ''', run="5s")
    assert device_lines(sim) == ["tiny 10", "rounded 130"]


def test_a_negative_wakeup_interval_is_taken_as_zero():
    """§4.1: imp.wakeup(-1, f) does not raise; the timer fires like imp.wakeup(0, f), after the
    current code, and it can be cancelled (a deadline computed as already past)."""
    sim = simulate('''
        imp.wakeup(0.01, function() { server.log("tick " + hardware.millis()); });
        local t = imp.wakeup(-1, function() { server.log("past " + hardware.millis()); });
        server.log("timer " + (t != null));
        imp.wakeup(-0.5, function() { server.log("also past " + hardware.millis()); });
        imp.cancelwakeup(imp.wakeup(-3, function() { server.log("never"); }));
        try { imp.wakeup("soon", function() {}); } catch (e) { server.log(e); }
    ''', run="5s")
    assert device_lines(sim) == ["timer true", "parameter 1 has an invalid type 'string' ; expected: 'integer|float'",
                                 "past 0", "also past 0", "tick 10"]


def test_cancelwakeup_and_cancelling_twice():
    """§4.1: a cancelled timer never fires; cancelling again or after firing does nothing."""
    sim = simulate('''
        local t = imp.wakeup(1, function() { server.log("never"); });
        imp.cancelwakeup(t);
        imp.cancelwakeup(t);
        local u = imp.wakeup(0.1, function() { server.log("fired"); });
        imp.wakeup(0.5, function() { imp.cancelwakeup(u); server.log("ok"); });
    ''', run="5s")
    assert device_lines(sim) == ["fired", "ok"]


def test_agent_timers_have_names_that_cancelwakeup_takes():
    """D:api/imp/cancelwakeup: on the agent a timer may be named and cancelled by its name; a
    name that identifies no active timer (cancelled, fired, never set) throws."""
    sim = simulate(agent='''
        imp.wakeup(5, function() { server.log("named fired"); }, "poll");
        imp.wakeup(1, function() { server.log("other fired"); }, "other");
        imp.cancelwakeup("poll");
        foreach (name in ["poll", "nosuch"]) {
            try { imp.cancelwakeup(name); server.log("no error"); } catch (e) { server.log(e); }
        }
        imp.wakeup(2, function() {
            try { imp.cancelwakeup("other"); } catch (e) { server.log("after firing: " + e); }
        });
    ''', run="10s")
    assert agent_lines(sim) == ['imp.cancelwakeup(): no active timer is named "poll"',
                                'imp.cancelwakeup(): no active timer is named "nosuch"',
                                "other fired",
                                'after firing: imp.cancelwakeup(): no active timer is named "other"']


def test_a_timer_name_given_again_names_the_newer_timer():
    """UNCONFIRMED: the name follows the newest timer; the older one runs unless cancelled by reference."""
    sim = simulate(agent='''
        imp.wakeup(1, function() { server.log("older"); }, "t");
        imp.wakeup(2, function() { server.log("newer"); }, "t");
        imp.cancelwakeup("t");
    ''', run="5s")
    assert agent_lines(sim) == ["older"]


def test_about_20_timers_then_null():
    """§4.1: the device holds about 20 timers; beyond, imp.wakeup returns null."""
    sim = simulate('''
        local made = 0;
        for (local i = 0; i < 25; i++) if (imp.wakeup(10, function() {}) != null) made++;
        server.log(made);
    ''')
    assert device_lines(sim) == ["20"]


def test_onidle_runs_once_and_null_cancels():
    """§4.1: onidle runs once when idle; a new call replaces the old; null cancels."""
    sim = simulate('''
        imp.onidle(function() { server.log("replaced"); });
        imp.onidle(function() { server.log("idle"); });
        imp.wakeup(1, function() {
            imp.onidle(function() { server.log("cancelled"); });
            imp.onidle(null);
        });
    ''', run="5s")
    assert device_lines(sim) == ["idle"]


def test_imp_sleep_blocks_and_timers_run_late():
    """§4.2: imp.sleep blocks Squirrel; a timer due meanwhile runs late, after it."""
    sim = simulate('''
        imp.wakeup(0.1, function() { server.log("timer " + hardware.millis()); });
        imp.sleep(1.5);
        server.log("slept " + hardware.millis());
    ''', run="5s")
    assert device_lines(sim) == ["slept 1500", "timer 1500"]


def test_info_and_software_version_parse_like_libraries_do():
    """§4.3: imp.info().type; split(getsoftwareversion(), "-")[2].tofloat() is the impOS version."""
    sim = simulate('server.log(imp.info().type + " " + split(imp.getsoftwareversion(), "-")[2].tofloat() + " " + imp.environment());',
                   imp="imp004m", impos="42.5")
    assert device_lines(sim) == ["imp004m 42.5 1"]


@pytest.mark.parametrize("imp,has", [("imp001", True), ("imp005", True), ("imp006", True), ("impC001", False)])
def test_imp_configure_is_a_no_op_except_on_impc001(imp, has):
    """imp.configure() (the retired Blueprint's) has no effect and returns a string; impC001's
    impOS no longer has it."""
    sim = simulate('''
        server.log(("configure" in imp) + "");
        if ("configure" in imp) server.log(typeof imp.configure("Lamp", [], []));
        server.log("on");
    ''', imp=imp)
    assert device_lines(sim) == ([str(has).lower(), "string", "on"] if has else ["false", "on"])


def test_userconfiguration_survives_cold_boots_and_is_limited():
    """§4.4: user configuration lives in flash (survives power cycles), at most 4096 bytes."""
    sim = simulate('''
        local c = imp.getuserconfiguration();
        server.log(c == null ? "none" : c.tostring());
        imp.setuserconfiguration("hello");
        try { imp.setuserconfiguration(blob(5000)); } catch (e) { server.log(e); }
    ''', run="10s")
    sim.power_cycle()
    sim.run("10s")
    assert device_lines(sim) == ["none", "value too long in imp.setuserconfiguration(value)", "hello",
                                 "value too long in imp.setuserconfiguration(value)"]


@pytest.mark.parametrize("imp,has", [("imp001", False), ("imp003", True), ("imp004m", True)])
def test_spiflash_exists_from_imp003(imp, has):
    """§7.1: hardware.spiflash only on imp003 and later."""
    sim = simulate('server.log("spiflash" in hardware);', imp=imp)
    assert device_lines(sim) == [str(has).lower()]


def test_spiflash_nor_semantics_through_squirrel():
    """§7.2, §7.3: erase -> 0xFF; writes only clear bits; PREVERIFY 2 / POSTVERIFY 1; size per module."""
    sim = simulate('''
        local f = hardware.spiflash;
        try { f.read(0, 4); } catch (e) { server.log("disabled: " + (e.len() > 0)); }
        f.enable();
        f.erasesector(0);
        server.log(format("%02x", f.read(0, 1)[0]) + " size " + f.size());
        local b = blob(1); b[0] = 0x0F;
        server.log("w " + f.write(0, b));
        b[0] = 0xF0;
        server.log("pre " + f.write(0, b, SPIFLASH_PREVERIFY) + " post " + f.write(0, b, SPIFLASH_POSTVERIFY));
        server.log(format("%02x", f.read(0, 1)[0]));
        try { f.erasesector(100); } catch (e) { server.log("unaligned"); }
        local into = blob(4); into.seek(2);
        f.readintoblob(0, into, 1);
        server.log(into.len() + " " + format("%02x", into[2]));
    ''', imp="imp003")
    assert device_lines(sim) == ["disabled: true", "ff size 65536", "w 0", "pre 2 post 1", "00", "unaligned", "4 00"]


@pytest.mark.parametrize("how", ["server.restart()", "imp.deepsleepfor(1)", "throw \"oops\""])
def test_every_run_finds_the_spiflash_disabled_at_its_default_speed(how):
    """§7.3: a run must enable() the flash before using it, whatever ended the previous run
    (inferred: a new run's hardware objects start as at power-up); setspeed() of an earlier run
    is forgotten. The data stays."""
    sim = simulate(f'''
        local f = hardware.spiflash;
        try {{ f.read(0, 1); server.log("enabled"); }} catch (e) {{ server.log("disabled"); }}
        if (hardware.wakereason() == WAKEREASON_POWER_ON) {{
            f.setspeed(18000000);
            f.enable();
            f.erasesector(0);
            f.write(0, blob(1));
            imp.wakeup(1, function() {{ {how}; }});
        }} else {{
            f.enable();
            server.log("byte " + f.read(0, 1)[0]);
        }}
    ''', imp="imp003", run="30s")
    lines = [line for line in device_lines(sim) if not line.startswith("ERROR:")]
    assert lines[:3] == ["disabled", "disabled", "byte 0"]
    assert sim.device.flash.speed == 4_500_000  # what the second run's enable() applied: the default


def test_spiflash_read_fast_path_agrees_with_the_model():
    """§7.3: hardware.spiflash.read gives the chip's bytes in the same boot, at the edges of the
    chip, after disable() and across a deep sleep; every refusal keeps the model's error text
    (C serves plain reads, spiflash.read decides the rest; Squirrel refuses a length that is not
    an integer before either runs)."""
    sim = simulate('''
        local f = hardware.spiflash;
        local err = function(a, n) { try { f.read(a, n); return "ok" } catch (e) { return e } };
        if (hardware.wakereason() != WAKEREASON_TIMER) {
            server.log(err(0, 1));
            f.enable();
            f.erasesector(0);
            local b = blob(3); b.writestring("abc");
            f.write(0, b);
            server.log(f.read(0, 3).tostring() + " " + f.read(f.size() - 2, 2).len() + " " + f.read(0, 0).len());
            server.log(err(f.size() - 1, 2) + " | " + err(-1, 1) + " | " + err(0, -1) + " | " + err(0, 1.5));
            f.disable();
            server.log(err(0, 1));
            imp.deepsleepfor(60);
        }
        f.enable();
        server.log("after sleep " + f.read(0, 3).tostring());
    ''', imp="imp003", run="2m")
    flash = sim.device.flash
    lines = device_lines(sim)
    disabled = lines[0]
    assert disabled == "spiflash is not enabled: call hardware.spiflash.enable() first"
    assert lines[1] == "abc 2 0"
    assert lines[2].split(" | ")[0].startswith("spiflash read of 2 bytes at ")
    assert [text.split(" ")[:2] for text in lines[2].split(" | ")][:3] == [["spiflash", "read"]] * 3
    assert lines[2].split(" | ")[3] == "parameter 2 has an invalid type 'float' ; expected: 'integer'"
    assert lines[3:] == [disabled, "after sleep abc"]
    assert bytes(flash.read_view()[0][:3]) == b"abc"


def test_wake_reasons_constants():
    """§5.1: the wake reason constants."""
    sim = simulate('server.log(WAKEREASON_POWER_ON + " " + WAKEREASON_SNOOZE + " " + WAKEREASON_SW_RESTART + " " + WAKEREASON_POWER_RESTORED);')
    assert device_lines(sim) == ["0 7 10 11"]


def test_millis_is_signed_32_bit():
    """§5.2: hardware.millis() wraps to negative after about 24.8 days."""
    sim = simulate('imp.wakeup(2147484, function() { server.log(hardware.millis()); });', run="25d")
    assert int(device_lines(sim)[0]) < 0


def test_deep_sleep_absent_on_imp005():
    """§4.2: imp.deepsleepfor is absent on imp005."""
    sim = simulate('server.log(("deepsleepfor" in imp) + " " + ("sleepfor" in server));', imp="imp005")
    assert device_lines(sim) == ["false false"]


def test_server_log_of_a_blob_shows_its_bytes():
    """server.log(b) logs the blob's bytes: text as text, other bytes as binary: and hex; a
    _tostring that throws is the script's error, with its message."""
    sim = simulate('''
        local t = blob(); t.writestring("text");
        server.log(t);
        local b = blob(); b.writestring("A\\xff");
        server.log(b);
        class T { function _tostring() { throw "no text"; } }
        try { server.log(T()); } catch (e) { server.log("caught " + e); }
    ''', run="5s")
    assert device_lines(sim) == ["text", "binary: 41ff", "caught no text"]
