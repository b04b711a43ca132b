"""hardware.fixedfrequencydac, hardware.sampler, hardware.bluetooth, hardware.usb
(docs/imp-model/hardware.md)."""

from hw_helpers import events, lines, logged, sim_of

from impapi.natives.audio import alaw


def test_dac_plays_buffers_in_virtual_time_and_hands_each_back():
    sim = sim_of('''
        local played = 0;
        function done(buffer) {
            played++;
            server.log("done " + buffer.len() + " at " + hardware.millis());
            if (played < 3) hardware.fixedfrequencydac.addbuffer(blob(1000));
        }
        hardware.fixedfrequencydac.configure(hardware.pin5, 1000, [blob(2000), blob(500)], done);
        hardware.fixedfrequencydac.start();
    ''', run="10s")
    # 16-bit samples at 1 kHz: 2000 bytes play for 1 s, 500 for 0.25 s, each added 1000 for 0.5 s.
    assert lines(sim) == ["done 2000 at 1000", "done 500 at 1250", "done 1000 at 1750", "done 1000 at 2250"]
    assert [e["samples"] for e in events(sim, "dac")] == [1000, 250, 500, 500]


def test_dac_a_law_buffers_hold_a_sample_per_byte_and_stop_silences_it():
    sim = sim_of('''
        function done(buffer) { server.log("done at " + hardware.millis()); }
        local dac = hardware.fixedfrequencydac;
        dac.configure(hardware.pin1, 8000, [blob(8000), blob(8000)], done, A_LAW_DECOMPRESS);
        dac.start();
        imp.wakeup(1.5, function() { dac.stop(); });
    ''', run="10s")
    assert lines(sim) == ["done at 1000"]


def test_dac_needs_a_dac_pin():
    out = logged('''
        try { hardware.fixedfrequencydac.configure(hardware.pin2, 1000, [blob(2)], @(b) null); }
        catch (e) { server.log(e); }
        try { hardware.fixedfrequencydac.configure(3, 1000, [blob(2)], @(b) null); } catch (e) { server.log(e); }
    ''')
    assert out == ["pin2 cannot be used for analog output", "parameter 1 must be a pin"]


def test_imp004m_dac_plays_on_the_pwm_pair():
    out = logged('''
        hardware.fixedfrequencydac.configure(hardware.pwmpairKD, 1000, [blob(200)], function(b) { server.log("ok"); });
        hardware.fixedfrequencydac.start();
    ''', "imp004m", run="5s")
    assert out == ["ok"]


def test_sampler_fills_buffers_with_the_pins_levels_round_robin():
    sim = sim_of('''
        local n = 0;
        function ready(buffer, length) {
            n++;
            server.log(format("%d bytes at %d: %04x", length, hardware.millis(), buffer.readn('w')));
            if (n == 3) hardware.sampler.stop();
        }
        hardware.sampler.configure([hardware.pin2, hardware.pin7], 100, [blob(40), blob(40)], ready);
        hardware.sampler.start();
    ''', run=None)
    sim.device.board.analog("pin2", 0.25)
    sim.run("10s")
    # 40 bytes = 10 frames of two 16-bit samples = 100 ms at 100 Hz; pin2 reads 0x4000.
    assert lines(sim) == ["40 bytes at 100: 4000", "40 bytes at 200: 4000", "40 bytes at 300: 4000",
                          "0 bytes at 300: 4000"]


def test_sampler_a_law_and_stop_hands_over_the_partial_buffer():
    out = logged('''
        function ready(buffer, length) { server.log(length + " " + buffer[0] + " at " + hardware.millis()); }
        hardware.sampler.configure(hardware.pin2, 1000, [blob(100)], ready, A_LAW_COMPRESS);
        hardware.sampler.start();
        server.log(hardware.sampler.getsampleratehz());
        imp.wakeup(0.25, function() { hardware.sampler.stop(); });
    ''', run="3s")
    assert out == ["1000", "100 213 at 100", "100 213 at 200", "50 213 at 250"]
    assert alaw(0) == 0xD5 == 213 and alaw(32767) == 0xAA and alaw(-32768) == 0x2A


def test_bluetooth_opens_and_finds_nothing():
    out = logged('''
        local bt = hardware.bluetooth.open(hardware.uartFGJH, "firmware");
        bt.startscan(function(ads) { server.log("found"); });
        bt.startadvertise("\\x02\\x01\\x06", 100, 100);
        bt.stopadvertise(); bt.stopscan();
        server.log(typeof bt);
        try { hardware.bluetooth.open(); } catch (e) { server.log(e); }
        bt.close();
    ''', "imp004m", run="1m")
    assert out == ["instance", "wrong number of parameters"]
    assert logged('local bt = hardware.bluetooth.open(); bt.startscan(@(a) server.log("found")); server.log("open");',
                  "imp006", run="1m") == ["open"]


def test_usb_configures_and_nothing_attaches():
    out = logged('''
        hardware.usb.configure(function(type, payload) { server.log("event"); });
        try { hardware.usb.controltransfer(0, 1, 0, 0, 0, 0, 0, 8); } catch (e) { server.log(e); }
    ''', "imp005", run="1m")
    assert out == ["no USB device is attached"]
