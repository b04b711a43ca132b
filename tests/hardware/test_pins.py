"""hardware.pinX (docs/imp-model/hardware.md, "Pins")."""

import pytest
from hw_helpers import events, lines, logged, sim_of

from impapi import Config


def test_inputs_read_their_pull_and_floating_reads_the_configured_level():
    src = '''
        hardware.pin1.configure(DIGITAL_IN);
        hardware.pin2.configure(DIGITAL_IN_PULLUP);
        hardware.pin5.configure(DIGITAL_IN_PULLDOWN);
        hardware.pin1.configure(DIGITAL_IN_WAKEUP);
        hardware.pin7.configure(DIGITAL_IN);
        server.log(hardware.pin1.read() + " " + hardware.pin2.read() + " " + hardware.pin5.read() + " "
                   + hardware.pin7.read() + " " + hardware.pin8.read());
    '''
    assert logged(src) == ["0 1 0 0 0"]
    assert logged(src, config=Config(floating_input=1)) == ["0 1 0 1 1"]


def test_outputs_read_back_and_every_write_is_recorded():
    sim = sim_of('''
        local led = hardware.pin9;
        led.configure(DIGITAL_OUT);
        server.log(led.read());
        led.write(1); server.log(led.read());
        led.write(0.0); led.write(true); led.write(7);
        hardware.pin8.configure(DIGITAL_OUT, 1);
        server.log(hardware.pin8.read());
    ''')
    assert lines(sim) == ["0", "1", "1"]
    assert [(e["pin"], e["value"]) for e in events(sim, "pin")] == [
        ("pin9", 0), ("pin9", 1), ("pin9", 0), ("pin9", 1), ("pin9", 1), ("pin8", 1)]
    assert {e["mode"] for e in events(sim, "pin")} == {"DIGITAL_OUT"}


def test_open_drain_reads_the_line_when_released():
    out = logged('''
        hardware.pin1.configure(DIGITAL_OUT_OD, 0); server.log(hardware.pin1.read());
        hardware.pin1.write(1); server.log(hardware.pin1.read());
        hardware.pin2.configure(DIGITAL_OUT_OD_PULLUP, 1); server.log(hardware.pin2.read());
    ''')
    assert out == ["0", "0", "1"]  # released with no pull floats to the configured 0


def test_analog_in_reads_the_configured_level_and_a_source():
    src = 'hardware.pin2.configure(ANALOG_IN); server.log(hardware.pin2.read());'
    assert logged(src) == ["32768"]
    assert logged(src, config=Config(analog_input=0.25)) == ["16384"]
    assert logged(src, config=Config(analog_input=1.0)) == ["65535"]
    sim = sim_of(src + 'imp.wakeup(1, function() { server.log(hardware.pin2.read()); });', run=None)
    sim.device.board.analog("pin2", lambda t_us: t_us / 10_000_000)
    sim.run("5s")
    assert lines(sim) == ["13107", "19661"]  # at 2 s and 3 s of virtual time


def test_pwm_duty_period_and_events():
    sim = sim_of('''
        hardware.pin5.configure(PWM_OUT, 1.0 / 500, 0.25);
        server.log(hardware.pin5.read() + " " + hardware.pin5.getdutycycle());
        hardware.pin5.write(0.75);
        server.log(hardware.pin5.read());
        hardware.pin5.write(2.0);
        server.log(hardware.pin5.read());
    ''')
    assert lines(sim) == ["0.25 0.25", "0.75", "1"]
    pwm = events(sim, "pin")
    assert pwm[0]["mode"] == "PWM_OUT" and pwm[0]["duty"] == 0.25 and pwm[0]["period"] == pytest.approx(0.002)
    assert [e["duty"] for e in pwm[1:]] == [0.75, 1.0]


def test_analog_out_only_on_dac_pins():
    out = logged('''
        hardware.pin5.configure(ANALOG_OUT); hardware.pin5.write(0.5); server.log(hardware.pin5.read());
        try { hardware.pin2.configure(ANALOG_OUT); } catch (e) { server.log(e); }
        try { hardware.pin2.configure(DIGITAL_IN_WAKEUP); } catch (e) { server.log(e); }
    ''')
    assert out == ["0.5", "pin2 cannot be configured as ANALOG_OUT", "pin2 cannot be configured as DIGITAL_IN_WAKEUP"]


def test_pulse_counter_blocks_for_its_gate_time():
    out = logged('''
        hardware.pin1.configure(PULSE_COUNTER, 0.5);
        local t = hardware.millis();
        local n = hardware.pin1.read();
        server.log(n + " " + (hardware.millis() - t));
    ''')
    assert out == ["0 500"]


def test_state_change_callback_fires_on_each_change_of_what_the_pin_reads():
    sim = sim_of('''
        hardware.pin1.configure(DIGITAL_IN_PULLUP, function() {
            server.log("changed to " + hardware.pin1.read() + " at " + hardware.millis());
        });
    ''', run="3s")  # the device boots at 2 s, once connected
    board = sim.device.board
    board.drive("pin1", 0)
    sim.run("1s")
    board.drive("pin1", 0)  # no change: no callback
    board.drive("pin1", None)  # released: back to the pull-up
    sim.run("1s")
    assert lines(sim) == ["changed to 0 at 1000", "changed to 1 at 2000"]


def test_callbacks_die_with_the_run_and_a_new_boot_starts_unconfigured():
    sim = sim_of('''
        if (!("nv" in getroottable())) nv <- { boot = 0 };
        nv.boot++;
        server.log("boot " + nv.boot + " reads " + hardware.pin2.read());
        if (nv.boot == 1) {
            hardware.pin2.configure(DIGITAL_IN_PULLUP, function() { server.log("cb"); });
            imp.deepsleepfor(1);
        }
    ''', run="20s")
    sim.device.board.drive("pin2", 0)
    sim.run("2s")
    assert lines(sim) == ["boot 1 reads 0", "boot 2 reads 0"]


def test_argument_errors_use_squirrel_texts():
    out = logged('''
        foreach (f in [
            @() hardware.pin1.configure("x"),
            @() hardware.pin1.configure(),
            @() hardware.pin1.configure(12345),
            @() hardware.pin1.configure(DIGITAL_IN, 3),
            @() hardware.pin1.configure(DIGITAL_OUT, 1, 2),
            @() hardware.pin5.configure(PWM_OUT, 0.001),
            @() hardware.pin5.configure(PWM_OUT, "a", 0.5),
            @() hardware.pin5.configure(PWM_OUT, 0, 0.5),
            @() hardware.pin1.write(),
            @() hardware.pin1.read(1),
        ]) {
            try { f(); server.log("no error"); } catch (e) { server.log(e); }
        }
    ''')
    assert out == [
        "parameter 1 has an invalid type 'string' ; expected: 'integer'",
        "wrong number of parameters",
        "invalid pin configuration 12345",
        "parameter 2 has an invalid type 'integer' ; expected: 'function'",
        "wrong number of parameters",
        "wrong number of parameters",
        "parameter 2 has an invalid type 'string' ; expected: 'integer|float'",
        "the PWM period must be greater than zero",
        "wrong number of parameters",
        "wrong number of parameters",
    ]


def test_disable_returns_the_pin_to_unconfigured():
    sim = sim_of('''
        hardware.pin1.configure(DIGITAL_IN_PULLUP, function() { server.log("cb"); });
        hardware.pin1.disable();
        server.log(hardware.pin1.read());
    ''', run="3s")
    sim.device.board.drive("pin1", 1)
    sim.run("1s")
    assert lines(sim) == ["0"]


def test_a_method_taken_off_its_object_is_an_error_not_a_crash():
    out = logged('''
        local f = hardware.pin1.read;
        try { f(); } catch (e) { server.log("error"); }
        try { hardware.pin1.getclass()(); } catch (e) { server.log("error"); }
        server.log("still running");
    ''')
    assert out[-1] == "still running"


def test_the_wake_input_configured_when_the_run_ends_is_left_armed_on_the_board():
    sim = sim_of('''
        hardware.pin1.configure(DIGITAL_IN_WAKEUP);
        hardware.pin2.configure(DIGITAL_IN_PULLUP);
        imp.deepsleepfor(60);
    ''', run="10s")
    assert sim.device.state == "asleep"
    assert sim.device.board.wake_armed == {"pin1"}
