"""Each kind of model a wiring attaches, seen from the app: register maps on I2C and SPI, UART
peers, driven and analog inputs, signals, and bus time."""

import textwrap

import pytest
from hw_helpers import events, lines, sim_of

from impapi import Config, Simulation
from impapi.peripherals import RegisterDevice, SignalError, Wiring, signal

M = 60_000_000
H = 60 * M


def wired(device: str, wiring: str, imp: str = "imp001", run: str = "5s", **kw) -> Simulation:
    return sim_of(device, imp, run=run, wiring=Wiring.loads(textwrap.dedent(wiring), name="board.toml"), **kw)


REGISTERS = '''
    [[i2c]]
    bus = "i2c89"
    address = 0x90
    name = "chip"
    auto_increment = 0x80

    [[i2c.register]]
    at = 0x0F
    value = 0x6A
    readonly = true

    [[i2c.register]]
    at = 0x10
    value = 0x81
    writable = 0x0F

    [[i2c.register]]
    at = 0x20
    width = 2
    signed = true
    scale = 100
    offset = 5
    value = { points = [["0s", -1.5], ["10s", 1.5]] }
'''


def test_a_register_map_keeps_read_only_bits_and_follows_its_signal():
    sim = wired('''
        local i2c = hardware.i2c89;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        function hex(s) { local o = ""; foreach (b in s) o += format("%02x", b); return o; }
        server.log(hex(i2c.read(0x90, "\\x0F", 1)) + " " + i2c.write(0x90, "\\x0F\\x00") + " " + hex(i2c.read(0x90, "\\x0F", 1)));
        i2c.write(0x90, "\\x10\\xFE");
        server.log(hex(i2c.read(0x90, "\\x10", 1)));           // bit 7 kept, low bits written
        server.log(hex(i2c.read(0x90, "\\x10", 3)));           // no increment without bit 7
        server.log(hex(i2c.read(0x90, "\\xA0", 2)));           // increment: the 16-bit value
        imp.wakeup(3, function() { server.log(hex(i2c.read(0x90, "\\xA0", 2))); });
        server.log(hex(i2c.read(0x90, "", 2)));                // a bare read continues
    ''', REGISTERS, run="6s")  # the 3 s timer, set as the code boots, fires a few µs after 5 s
    # At 2 s the signal is -0.9: round(-90 + 5) = -85 = 0xFFAB, little-endian; at 5 s, 0 -> 5.
    assert lines(sim) == ["6a 0 6a", "8e", "8e8e8e", "abff", "0000", "0500"]


def test_register_maps_auto_increment_as_configured():
    base = '''
        [[i2c]]
        bus = "i2c89"
        address = 0x90
        auto_increment = {inc}
        register = [ {{ at = 1, value = 0x11 }}, {{ at = 2, value = 0x22 }} ]
    '''
    app = '''
        local i2c = hardware.i2c89; i2c.configure(CLOCK_SPEED_400_KHZ);
        local r = i2c.read(0x90, "\\x01", 2);
        server.log(format("%02x%02x", r[0], r[1]));
    '''
    assert lines(wired(app, base.format(inc="true"))) == ["1122"]
    assert lines(wired(app, base.format(inc="false"))) == ["1111"]


SPI = '''
    [[spi]]
    bus = "spi257"
    cs = "pin8"
    name = "chip"
    spi_read_bit = 0x80
    spi_increment_bit = 0x40
    fill = 0xFF
    register = [ { at = 0x0F, value = 0x33, readonly = true }, { at = 0x20, value = 0x07 } ]
'''


def test_an_spi_register_map_follows_its_chip_select():
    sim = wired('''
        local spi = hardware.spi257, cs = hardware.pin8;
        spi.configure(CLOCK_IDLE_HIGH | CLOCK_2ND_EDGE, 1000);
        cs.configure(DIGITAL_OUT, 1);
        function hex(s) { local o = ""; foreach (b in s) o += format("%02x", b); return o; }
        server.log(hex(spi.writeread("\\x8F\\x00")));            // not selected: the idle line
        cs.write(0); server.log(hex(spi.writeread("\\x8F\\x00"))); cs.write(1);
        cs.write(0); spi.write("\\x20"); spi.write("\\x57"); cs.write(1);     // one transaction, two writes
        cs.write(0); server.log(hex(spi.writeread("\\xCF\\x00\\x00"))); cs.write(1);
        cs.write(0); server.log(hex(spi.writeread("\\xA0\\x00"))); cs.write(1);
    ''', SPI)
    assert lines(sim) == ["ffff", "ff33", "ff33ff", "ff57"]  # 0x10 is not described: fill
    assert sim.models["chip"].get(0x20) == 0x57
    transfers = sim.io.spi("spi257")
    assert [t.write.hex() for t in transfers][:2] == ["8f00", "8f00"]


def test_a_uart_script_expects_answers_and_sends_in_order():
    sim = wired('''
        local u = hardware.uart57;
        u.configure(115200, 8, PARITY_NONE, 1, NO_CTSRTS, function() {
            server.log(format("%.3f %s", hardware.millis() / 1000.0, strip(u.readstring())));
        });
        u.write("ATZ\\rAT\\r");     // noise before what the script expects is skipped
        imp.wakeup(1, function() { u.write("AT+X\\r"); });
    ''', '''
        [[uart]]
        bus = "uart57"
        name = "modem"
        [[uart.step]]
        send = "READY\\r\\n"
        delay = "0s"
        [[uart.step]]
        expect = "AT\\r"
        answer = "OK\\r\\n"
        delay = "20ms"
        [[uart.step]]
        send_hex = "3e 0d 0a"
        delay = "100ms"
        [[uart.step]]
        expect = "AT+X\\r"
        answer = "DONE"
    ''')
    # READY was sent before the app configured the UART: lost, as on an imp.
    assert lines(sim) == ["0.020 OK", "0.120 >", "1.000 DONE"]
    modem = sim.models["modem"]
    assert modem.done and bytes(modem.skipped) == b"ATZ\r"
    assert sim.io.sent("uart57") == b"ATZ\rAT\rAT+X\r"
    assert sim.io.received("uart57") == b"OK\r\n>\r\nDONE"


def test_a_repeating_script_answers_every_poll():
    sim = wired('''
        local u = hardware.uart57, n = 0;
        u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { n++; });
        function poll() { u.write("?"); imp.wakeup(1, poll); }
        poll();
        imp.wakeup(9.5, function() { server.log(n); });
    ''', '''
        [[uart]]
        bus = "uart57"
        repeat = true
        step = [ { expect = "?", answer = "!" } ]
    ''', run="15s")
    assert lines(sim) == ["10"]


def test_driven_and_analog_inputs_from_the_wiring():
    sim = wired('''
        hardware.pin1.configure(DIGITAL_IN);
        hardware.pin2.configure(ANALOG_IN);
        hardware.pin5.configure(ANALOG_IN);
        hardware.pin7.configure(DIGITAL_IN_PULLUP);
        server.log(hardware.pin1.read() + " " + hardware.pin2.read() + " " + hardware.pin5.read() + " " + hardware.pin7.read());
        imp.wakeup(10, function() { server.log(hardware.pin2.read() + " " + hardware.pin5.read()); });
    ''', '''
        [[pin]]
        pin = "pin1"
        level = 1
        [[pin]]
        pin = "pin2"
        analog = { points = [["0s", 0.0], ["12s", 1.0]] }
        [[pin]]
        pin = "pin5"
        volts = 1.65
        [[pin]]
        pin = "pin7"
        level = 0
    ''', run="15s")
    # At 2 s pin2 is 1/6 of the supply (10923 of 65535); at 12 s, all of it.
    assert lines(sim) == ["1 10923 32768 0", "65535 32768"]


def test_scenario_inputs_fire_callbacks_and_are_recorded():
    sim = sim_of('''
        hardware.pin1.configure(DIGITAL_IN_PULLDOWN, function() { server.log("pin1 " + hardware.pin1.read()); });
        hardware.pin2.configure(ANALOG_IN);
        imp.wakeup(6, function() { server.log("pin2 " + hardware.pin2.read()); });
    ''', "imp001", run=None)
    sim.drive("pin1", 1, at="3s")
    sim.pulse("pin1", "100ms", level=0, at="4s")
    sim.run("5s")
    sim.analog("pin2", 0.25)
    sim.run("5s")
    assert lines(sim) == ["pin1 1", "pin1 0", "pin1 1", "pin2 16384"]
    assert [(t // 1000, level) for t, level in sim.io.inputs("pin1")] == [(3000, 1), (4000, 0), (4100, 1)]
    with pytest.raises(ValueError, match="the imp001 has no pin 'pinA'"):
        sim.drive("pinA", 1)


def test_the_pulse_counter_counts_the_rising_edges_driven_during_its_gate():
    sim = sim_of('''
        hardware.pin1.configure(PULSE_COUNTER, 1.0);
        imp.wakeup(1, function() { server.log("count " + hardware.pin1.read()); });
    ''', "imp001", run=None)
    for i in range(7):  # 7 presses from 3.1 s, 0.2 s apart: 5 start inside [3 s, 4 s)
        sim.pulse("pin1", "50ms", at=f"{3.1 + 0.2 * i}s")
    sim.run("5s")
    assert lines(sim) == ["count 5"]


@pytest.mark.parametrize("spec, at, value", [
    (21.5, 0, 21.5),
    ({"points": [["0s", 0], ["10s", 10]]}, 2_500_000, 2.5),
    ({"points": [["0s", 0], ["10s", 10]], "interpolate": "step"}, 9_999_999, 0.0),
    ({"points": [["0s", 0], ["10s", 10]]}, 60_000_000, 10.0),
    ({"points": [[0, 0], [10, 10]], "repeat": True}, 12_500_000, 2.5),
    ({"wave": "sine", "period": "4s", "mean": 1, "amplitude": 2}, 1_000_000, 3.0),
    ({"wave": "square", "period": "4s"}, 3_000_000, -1.0),
    ({"wave": "triangle", "period": "4s"}, 1_000_000, 0.0),
    ({"wave": "sawtooth", "period": "4s", "phase": "2s"}, 0, 0.0),
])
def test_signals_are_functions_of_virtual_time(spec, at, value):
    assert signal(spec)(at) == pytest.approx(value)


def test_csv_signals_read_a_column(tmp_path):
    (tmp_path / "w.csv").write_text("time,temperature,humidity\n0s,10,50\n1h,20,70\n", encoding="utf-8")
    w = Wiring.loads(textwrap.dedent('''
        [[i2c]]
        bus = "i2c89"
        model = "hts221"
        temperature = { csv = "w.csv", column = "temperature" }
        humidity = { csv = "w.csv", column = "humidity" }
    '''), base_dir=tmp_path)
    sim = Simulation(device="server.log(1);\n", imp="imp001", wiring=w, start=False)
    chip = sim.models["hts221"]
    assert chip.temperature(30 * M) == pytest.approx(15.0) and chip.humidity(2 * H) == pytest.approx(70.0)
    with pytest.raises(SignalError, match="has no column column 'pressure'|has no column 'pressure'|column 'pressure'"):
        signal({"csv": str(tmp_path / "w.csv"), "column": "pressure"})
    with pytest.raises(SignalError, match="say which with column"):
        signal({"csv": str(tmp_path / "w.csv")})


def test_bus_timing_applies_to_models_on_every_bus():
    app = '''
        local i2c = hardware.i2c89; i2c.configure(CLOCK_SPEED_100_KHZ);
        local t0 = hardware.micros();
        i2c.read(0xBE, "\\x0F", 1);                                     // start, address+reg, address, 1 byte, stop
        local t1 = hardware.micros();
        local spi = hardware.spi257; spi.configure(0, 1000);             // 937.5 kHz on the imp001
        spi.writeread("\\x8F\\x00");
        local t2 = hardware.micros();
        local u = hardware.uart57;
        u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() {
            server.log("rx at " + (hardware.micros() - t2) + " " + u.readstring());
        });
        u.write("ping");
        server.log((t1 - t0) + " " + (t2 - t1));
    '''
    board = '''
        [[i2c]]
        bus = "i2c89"
        model = "hts221"
        [[spi]]
        bus = "spi257"
        model = "lis3dh"
        [[uart]]
        bus = "uart57"
        loopback = true
    '''
    timed = lines(wired(app, board, config=Config(instruction_ns=0, bus_timing=True)))  # the bus's time alone
    # I2C: (2 + 1 + 1) bytes of 9 bits + start/stop = 38 bits at 100 kHz = 380 us.
    # SPI: 16 bits at 937.5 kHz = 17 us. UART: 4 characters of 10 bits at 9600 baud = 4167 us,
    # back through the loopback at the same rate: 2 x 4167 us after the write.
    assert timed == ["380 17", "rx at 8334 ping"]
    assert lines(wired(app, board, config=Config(instruction_ns=0))) == ["0 0", "rx at 0 ping"]


def test_register_device_is_a_base_for_python_models():
    class Barometer(RegisterDevice):
        def __init__(self):
            super().__init__(auto_increment=0x80)
            self.define(0x0F, 0xB1, writable=0)
            self.follow(0x28, 1013.25, width=3, scale=4096)

    sim = sim_of('''
        local i2c = hardware.i2c89; i2c.configure(CLOCK_SPEED_400_KHZ);
        local p = i2c.read(0xBA, "\\xA8", 3);
        server.log(((p[2] << 16) | (p[1] << 8) | p[0]) / 4096.0);
    ''', "imp001", run=None)
    sim.device.board.attach_i2c("i2c89", 0xBA, Barometer(), name="barometer")
    sim.run("3s")
    assert lines(sim) == ["1013.25"]
    assert "barometer" in sim.models
    [transfer] = events(sim, "i2c")
    assert transfer["address"] == 0xBA and transfer["read"] == "00543f"


TIMED_READER = '''
    local u = hardware.uart57;
    u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS | TIMING_ENABLED, function() {
        local out = [];
        for (local v = u.read(); v != -1; v = u.read()) out.append(format("%c+%d", v & 0xFF, v >> 8));
        server.log(out.reduce(@(a, b) a + " " + b));
    });
    u.write("?");
'''
TIMED_PEER = '''
    [[uart]]
    bus = "uart57"
    step = [ { expect = "?", answer = "AB" }, { send = "C", delay = "50ms" } ]
'''


@pytest.mark.parametrize("timing, out", [
    # The first byte since configure has no byte before it: the longest interval (0x7FFFFF).
    (False, ["A+8388607 B+0", "C+50000"]),
    # With bus timing each 10-bit character takes 1042 us at 9600 baud (1041.67): B follows A
    # by one character; C starts 50 ms after the answer started, so it ends 50 ms + 1 character
    # after A's end, 1 character after B's: 50000 - 1041.67 (rounded per byte arrival).
    (True, ["A+8388607 B+1042", "C+48959"]),
])
def test_uart_timing_enabled_stamps_each_byte_with_the_interval_since_the_one_before(timing, out):
    sim = wired(TIMED_READER, TIMED_PEER, config=Config(bus_timing=timing))
    assert lines(sim) == out
