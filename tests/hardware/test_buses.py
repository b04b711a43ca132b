"""hardware.i2c*, spi*, uart* with nothing attached and with simple models
(docs/imp-model/hardware.md, "I2C", "SPI", "UART", "Bus time")."""

import pytest
from hw_helpers import events, lines, logged, sim_of

from impapi import Config


# --- I2C ---------------------------------------------------------------------------------------------

I2C_PROBE = '''
    local i2c = hardware.{bus};
    server.log("unconfigured " + i2c.read(0x80, "\\x00", 1) + " " + i2c.readerror() + " " + i2c.write(0x80, "\\x00"));
    i2c.configure(CLOCK_SPEED_400_KHZ);
    server.log("sub " + i2c.read(0xBE, "\\x0F", 1) + " " + i2c.readerror());
    server.log("bare " + i2c.read(0xBE, "", 2) + " " + i2c.readerror());
    server.log("write " + i2c.write(0xBE, "\\x20\\x81"));
'''


@pytest.mark.parametrize("imp, bus, sub, bare, write", [
    ("imp001", "i2c89", -2, -6, -2), ("imp003", "i2cAB", -2, -6, -2), ("imp005", "i2c0", -9, -9, -9)])
def test_i2c_nothing_attached(imp, bus, sub, bare, write):
    out = logged(I2C_PROBE.format(bus=bus), imp)
    assert out == ["unconfigured (null : (nil)) -13 -13", f"sub (null : (nil)) {sub}", f"bare (null : (nil)) {bare}",
                   f"write {write}"]


def test_i2c_nack_code_is_configurable():
    out = logged(I2C_PROBE.format(bus="i2c89"), config=Config(i2c_nack_error=-3))
    assert out[1:] == ["sub (null : (nil)) -3", "bare (null : (nil)) -3", "write -3"]


class Registers:
    """An I2C device with 8-bit registers and an auto-incrementing pointer."""

    def __init__(self):
        self.regs = bytearray(256)
        self.regs[0x0F] = 0xBC
        self.writes = []

    def i2c_write(self, data, t_us):
        self.writes.append((data, t_us))
        if data:
            self.regs[data[0]: data[0] + len(data) - 1] = data[1:]
        return 0

    def i2c_read(self, register, count, t_us):
        start = register[0] if register else 0
        return bytes(self.regs[start:start + count])


def test_i2c_device_answers_its_address_and_transfers_are_recorded():
    dev = Registers()
    sim = sim_of('''
        local i2c = hardware.i2c89;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        server.log(format("0x%02X %d", i2c.read(0xBE, "\\x0F", 1)[0], i2c.readerror()));
        server.log(i2c.write(0xBF, "\\x20\\x81\\x7F"));
        local r = i2c.read(0xBE, "\\x20", 2);
        server.log(format("%02x%02x", r[0], r[1]));
        server.log(i2c.read(0x30, "\\x0F", 1) + " " + i2c.readerror());
        server.log(i2c.read(0xBE, "\\x0F", 1).len() + " " + i2c.readerror());
    ''', run=None)
    sim.device.board.attach_i2c("i2c89", 0xBE, dev)
    sim.run("3s")
    assert lines(sim) == ["0xBC 0", "0", "817f", "(null : (nil)) -2", "1 0"]
    assert [(data, round(t, -3)) for data, t in dev.writes] == [(b"\x20\x81\x7f", 2_000_000)]  # the code's work: µs
    rec = events(sim, "i2c")
    assert rec[0] == {"bus": "i2c89", "address": 0xBE, "write": "0f", "read": "bc", "error": 0}
    assert rec[1] == {"bus": "i2c89", "address": 0xBF, "write": "20817f", "read": None, "error": 0}
    assert rec[3]["error"] == -2 and rec[3]["read"] is None


def test_i2c_argument_errors():
    out = logged('''
        local i2c = hardware.i2c89;
        i2c.configure(CLOCK_SPEED_100_KHZ);
        foreach (f in [@() i2c.read("a", "", 1), @() i2c.read(0x10, 5, 1), @() i2c.write(0x10),
                       @() i2c.write(0x10, blob(2)), @() i2c.configure("fast")]) {
            try { f(); server.log("no error"); } catch (e) { server.log(e); }
        }
    ''')
    assert out == ["parameter 1 has an invalid type 'string' ; expected: 'integer'",
                   "parameter 2 has an invalid type 'integer' ; expected: 'string'",
                   "wrong number of parameters",
                   "parameter 2 has an invalid type 'instance' ; expected: 'string'",
                   "parameter 1 has an invalid type 'string' ; expected: 'integer'"]


# --- SPI ---------------------------------------------------------------------------------------------

def test_spi_nothing_attached_reads_the_idle_line_and_configure_returns_the_rate():
    src = '''
        local spi = hardware.spi257;
        server.log(spi.configure(CLOCK_IDLE_LOW | MSB_FIRST, 4000) + " " + spi.configure(0, 100000) + " " +
                   spi.configure(0, 1));
        local s = spi.writeread("\\x01\\x02\\x03");
        local b = spi.writeread(blob(2));
        server.log(typeof s + " " + s.len() + " " + s[0] + " " + typeof b + " " + b.len() + " " + b[1]);
        server.log(spi.readstring(2).len() + " " + spi.readblob(4).len());
        server.log(spi.write("\x01\x02\x03") + " " + spi.write(blob(5)));
    '''
    assert logged(src) == ["3750 15000 117", "string 3 255 blob 2 255", "2 4", "3 5"]
    assert logged(src, config=Config(spi_idle_byte=0x00))[1] == "string 3 0 blob 2 0"
    assert logged(src.replace("spi257", "spiEBCA"), "imp003")[0] == "3750 30000 117"


class Echo:
    def __init__(self):
        self.selected = []

    def spi_select(self, selected, t_us):
        self.selected.append(selected)

    def spi_transfer(self, mosi, t_us):
        return bytes((b + 1) & 0xFF for b in mosi)


def test_spi_device_is_selected_by_its_chip_select_pin():
    dev = Echo()
    sim = sim_of('''
        local spi = hardware.spi257, cs = hardware.pin8;
        cs.configure(DIGITAL_OUT, 1);
        spi.configure(0, 1000);
        server.log(spi.writeread("\\x01")[0]);
        cs.write(0);
        server.log(spi.writeread("\\x01")[0]);
        cs.write(1);
        server.log(spi.writeread("\\x01")[0]);
    ''', run=None)
    sim.device.board.attach_spi("spi257", dev, cs="pin8")
    sim.run("3s")
    assert lines(sim) == ["255", "2", "255"]
    assert dev.selected == [True, False]
    assert [e["read"] for e in events(sim, "spi")] == ["ff", "02", "ff"]


# --- UART --------------------------------------------------------------------------------------------

def test_uart_nothing_attached_receives_nothing():
    sim = sim_of('''
        local u = hardware.uart57;
        server.log(u.configure(115200, 8, PARITY_NONE, 1, NO_CTSRTS, function() { server.log("never"); }));
        u.write("AT\\r\\n"); u.write(0x41); u.write(blob(1));
        u.flush();
        server.log(u.read() + " [" + u.readstring() + "] " + u.readblob().len() + " " + u.flags());
    ''', run="1m")
    assert lines(sim) == ["115200", "-1 [] 0 0"]
    assert [e["data"] for e in events(sim, "uart")] == ["41540d0a", "41", "00"]


def test_uart_baud_rate_is_clamped_to_the_uarts_range():
    out = logged('''
        server.log(hardware.uart57.configure(100, 8, PARITY_NONE, 1, NO_CTSRTS));
        server.log(hardware.uart1289.configure(7500000, 8, PARITY_NONE, 1, 0));
        server.log(hardware.uart57.configure(7500000, 8, PARITY_NONE, 1, NO_CTSRTS));
    ''')
    assert out == ["916", "7500000", "3750000"]


class Modem:
    """Answers "OK\\r\\n" 10 ms after each line the imp sends."""

    def __init__(self):
        self.line = None
        self.got = b""

    def uart_attached(self, line):
        self.line = line

    def uart_receive(self, data, t_us):
        self.got += data
        if data.endswith(b"\r"):
            self.line.send(b"OK\r\n", delay_us=10_000)


def test_uart_peer_answers_through_the_callback_with_or_without_an_event_argument():
    for callback in ('function(ev) { server.log("ev " + ev + " [" + u.readstring() + "] at " + hardware.millis()); }',
                     'function() { server.log("rx " + u.read() + " at " + hardware.millis()); }'):
        modem = Modem()
        sim = sim_of(f'''
            u <- hardware.uart57;
            u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, {callback});
            u.write("AT\\r");
        ''', run=None)
        sim.device.board.attach_uart("uart57", modem)
        sim.run("3s")
        assert modem.got == b"AT\r"
        assert lines(sim) == (["ev 1 [OK\r\n] at 10"] if "ev" in callback else ["rx 79 at 10"])


def test_uart_receive_fifo_overflows():
    modem = Modem()
    sim = sim_of('''
        u <- hardware.uart57;
        u.setrxfifosize(4);
        u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS);
        imp.wakeup(1, function() { server.log(u.readstring() + " " + (u.flags() & OVERRUN_ERROR)); });
    ''', run="2100ms")
    sim.device.board.attach_uart("uart57", modem)
    modem.line.send(b"0123456789")
    sim.run("2s")
    assert lines(sim) == ["0123 32"]


def test_uart_argument_errors():
    out = logged('''
        local u = hardware.uart57;
        foreach (f in [@() u.configure(9600, 8, PARITY_NONE, 1), @() u.configure("9600", 8, PARITY_NONE, 1, 0),
                       @() u.configure(9600, 9, PARITY_NONE, 1, 0), @() u.configure(9600, 8, PARITY_NONE, 1, 0, 5),
                       @() u.write(null)]) {
            try { f(); server.log("no error"); } catch (e) { server.log(e); }
        }
    ''')
    assert out == ["wrong number of parameters", "parameter 1 has an invalid type 'string' ; expected: 'integer'",
                   "the UART word size must be 7 or 8",
                   "parameter 6 has an invalid type 'integer' ; expected: 'null|function|function'",
                   "parameter 1 has an invalid type 'null' ; expected: 'integer|string|instance'"]


# --- bus time ----------------------------------------------------------------------------------------

BUSY = '''
    local t = hardware.micros();
    local i2c = hardware.i2c89; i2c.configure(CLOCK_SPEED_100_KHZ); i2c.write(0xBE, "\\x00\\x00\\x00");
    local t1 = hardware.micros();
    local spi = hardware.spi257; spi.configure(0, 1000); spi.write(blob(125));
    local t2 = hardware.micros();
    local u = hardware.uart57; u.configure(10000, 8, PARITY_NONE, 1, NO_CTSRTS); u.write(blob(100)); u.flush();
    local t3 = hardware.micros();
    server.log((t1 - t) + " " + (t2 - t1) + " " + (t3 - t2));
'''


# The bus's own time alone: the code's execution time (docs/imp-model/execution-time.md) is off.
NO_EXECUTION_TIME = Config(instruction_ns=0)


def test_bus_transfers_take_no_time_by_default():
    assert logged(BUSY, config=NO_EXECUTION_TIME) == ["0 0 0"]


def test_bus_timing_spends_the_bits_at_the_configured_rate():
    # I2C: the address is not acknowledged: start, address byte, stop = 11 bits at 100 kHz;
    # SPI: 1000 bits at 937.5 kHz (the rate the imp001 picks for 1000); UART: 100 x 10 bits at 10 kbaud.
    assert logged(BUSY, config=Config(instruction_ns=0, bus_timing=True)) == ["110 1067 100000"]


def test_io_events_stop_at_the_limit_with_one_log_line():
    sim = sim_of('''
        hardware.pin9.configure(DIGITAL_OUT);
        for (local i = 0; i < 50; i++) hardware.pin9.write(i % 2);
    ''', config=Config(record_io_limit=10))
    assert len(events(sim, "pin")) == 10
    notes = [e.text for e in sim.log if "record_io_limit" in e.text]
    assert notes == ["10 pin and bus events recorded: later ones are not (Config.record_io_limit)"]


def test_absurd_arguments_are_squirrel_errors_or_out_of_memory_never_python_errors():
    sim = sim_of('''
        hardware.spi257.configure(0, 1000);
        foreach (f in [@() hardware.pin5.configure(PWM_OUT, 1e39, 0.5), @() hardware.pin1.configure(PULSE_COUNTER, -1e39),
                       @() hardware.fixedfrequencydac.configure(hardware.pin5, 1e39 * 0, [blob(2)], @(b) null),
                       @() hardware.spi257.configure(0, 1e39)]) {
            try { f(); server.log("no error"); } catch (e) { server.log(e); }
        }
        server.log(hardware.spi257.readstring(-5).len());
        hardware.spi257.readstring(2000000000);
    ''', run="3s")
    assert lines(sim) == ["parameter 2 must be a finite number", "parameter 2 must be a finite number",
                          "parameter 2 must be a finite number", "parameter 2 must be a finite number", "0"]
    assert any("out of memory" in e.text for e in sim.log)


# --- hardware.configure(), the imp001's and imp002's first way to enable a bus -------------------------

def test_hardware_configure_enables_the_named_buses_on_imp001_and_imp002():
    src = '''
        server.log(hardware.i2c89.write(0x80, "\\x00"));          // not enabled yet
        hardware.configure(I2C1_89, SPI_257, UART_57);
        server.log(hardware.i2c89.write(0x80, "\\x00"));          // enabled: nobody acknowledges
        server.log(hardware.spi257.writeread("\\x01")[0]);
        hardware.uart57.write("hi");
        try { hardware.configure(42); } catch (e) { server.log(e); }
    '''
    for imp in ("imp001", "imp002"):
        sim = sim_of(src, imp)
        assert lines(sim) == ["-13", "-2", "255",
                              "hardware.configure: parameter 1 is not a peripheral constant (SPI_257, I2C_89, ...)"]
        assert sim.io.sent("uart57") == b"hi"


def test_hardware_configure_exists_only_where_its_buses_do():
    assert logged('server.log(("configure" in hardware) + "");', "imp003") == ["false"]
