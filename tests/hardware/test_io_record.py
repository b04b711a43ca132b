"""What the app did to its pins and buses, asked from Python (sim.io) and from impUnit tests
(this.impsim()), and the same wiring, scenario and seed giving the same record."""

import textwrap

from hw_helpers import lines, sim_of

from impapi import Config, Simulation
from impapi.peripherals import Wiring
from impapi.scenario import Scenario, parse_at

BOARD = '''
[[i2c]]
bus = "i2c89"
model = "hts221"
name = "climate"
temperature = { wave = "sine", period = "1h", mean = 20, amplitude = 5 }

[[spi]]
bus = "spi257"
cs = "pin8"
model = "lis3dh"

[[uart]]
bus = "uart12"
name = "modem"
step = [ { expect = "AT\\r", answer = "OK\\r\\n", delay = "5ms" } ]
'''

APP = '''
local i2c = hardware.i2c89, spi = hardware.spi257, cs = hardware.pin8, u = hardware.uart12, led = hardware.pin9;
i2c.configure(CLOCK_SPEED_400_KHZ);
spi.configure(0, 1000);
cs.configure(DIGITAL_OUT, 1);
led.configure(DIGITAL_OUT, 0);
hardware.pin5.configure(PWM_OUT, 0.01, 0.25);
u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { server.log("rx " + strip(u.readstring())); });
hardware.pin1.configure(DIGITAL_IN_PULLDOWN, function() { led.write(hardware.pin1.read()); });
i2c.read(0xBE, "\\x0F", 1);
i2c.write(0xBE, "\\x20\\x80");
i2c.read(0x40, "\\x00", 1);                 // nobody there
cs.write(0); spi.writeread("\\x8F\\x00"); cs.write(1);
u.write("AT\\r");
imp.wakeup(2, function() { hardware.pin5.write(0.75); });
'''


def run(seed: int = 0, reuse: bool = True) -> Simulation:
    sim = Simulation(device=APP, imp="imp001", seed=seed, config=Config(reuse_vms=reuse),
                     wiring=Wiring.loads(BOARD), start=False)
    sim.play(Scenario((parse_at("3s:pin=pin1:pulse:100ms"), parse_at("4s:pin=pin1:1")), duration_us=10_000_000))
    return sim


def test_sim_io_answers_for_every_pin_and_bus():
    sim = run()
    io = sim.io
    assert io.writes("pin9") == [0, 1, 0, 1]
    assert [round(t, -3) for t, _ in io.changes("pin9")] == [2_000_000, 3_000_000, 3_100_000, 4_000_000]  # work: µs
    assert io.writes("pin5") == [0.25, 0.75]
    assert io.writes("pin8") == [1, 0, 1]
    assert [(t, level) for t, level in io.inputs("pin1")] == [(3_000_000, 1), (3_100_000, None), (4_000_000, 1)]
    assert io.sent("uart12") == b"AT\r" and io.received("uart12") == b"OK\r\n"
    reads = io.i2c("i2c89", address=0xBE)
    assert [(x.write, x.read, x.error) for x in reads] == [(b"\x0f", b"\xbc", 0), (b"\x20\x80", None, 0)]
    [absent] = io.i2c("i2c89", address=0x40)
    assert absent.read is None and absent.error == -2
    assert [(x.write, x.read) for x in io.spi("spi257")] == [(b"\x8f\x00", b"\x00\x33")]
    assert io.used() == ["i2c89", "pin1", "pin5", "pin8", "pin9", "spi257", "uart12"]
    assert io.since(3_050_000).writes("pin9") == [0, 1]
    assert lines(sim) == ["rx OK"]


def test_the_same_wiring_scenario_and_seed_give_the_same_record():
    def record(sim):
        return sim.log.text(), [(e.time_us, e.kind, sorted(e.data.items())) for e in sim.events]

    a, b = record(run(seed=3)), record(run(seed=3))
    assert a == b
    assert record(run(seed=3, reuse=False)) == a


TEST_HOME = {
    "app.device.nut": '''
        led <- hardware.pin9;
        led.configure(DIGITAL_OUT, 0);
        hardware.pin1.configure(DIGITAL_IN_PULLDOWN, function() { led.write(hardware.pin1.read()); });
        i2c <- hardware.i2c89;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        uart <- hardware.uart57;
        uart.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { uart.write(uart.readstring().toupper()); });
        function temperature() {
            i2c.write(0xBE, "\\x20\\x80");           // powered on, one-shot
            i2c.write(0xBE, "\\x21\\x01");           // a conversion
            local b = i2c.read(0xBE, "\\xAA", 2);
            return ((b[1] << 8 | b[0]) << 16) >> 16;
        }
    ''',
    "board.toml": '''
        [[i2c]]
        bus = "i2c89"
        model = "hts221"
        name = "climate"
    ''',
    ".impt.test": '{"deviceFile": "app.device.nut", "testFiles": ["tests/*.test.nut"], "wiring": "board.toml"}',
    "tests/board.test.nut": '''
        class BoardTest extends ImpTestCase {
            function testTheButtonDrivesTheLed() {
                local io = this.impsim();
                io.drive("pin1", 1);
                return Promise(function(resolve, reject) {
                    // The press comes once the LED has followed the first edge (its callback runs
                    // after this code, which takes time: a press microseconds later would be seen).
                    imp.wakeup(0.01, function() { io.pulse("pin1", 0.05, 0); });
                    imp.wakeup(0.2, function() {
                        try {
                            this.assertDeepEqual([1, 0, 1], io.writes("pin9"));
                            this.assertEqual(3, io.changes("pin9").len());
                            resolve();
                        } catch (e) { reject(e); }
                    }.bindenv(this));
                }.bindenv(this));
            }

            function testTheModelFollowsTheTest() {
                local io = this.impsim();
                io.set("climate", "temperature", 36.125);
                this.assertEqual(1177, temperature());          // T1_OUT: the calibration's top point
                this.assertClose(36.125, io.get("climate", "temperature"), 0.001);
                this.assertEqual(0xBC, io.register("climate", 0x0F));
                local t = io.i2c("i2c89", 0xBE);
                this.assertEqual(3, t.len());
                this.assertEqual("\\xAA", t[2].write);
                this.assertEqual(0, t[2].error);
            }

            function testThePeerTalksBack() {
                local io = this.impsim();
                io.send("uart57", "hello");
                return Promise(function(resolve, reject) {
                    imp.wakeup(0.1, function() {
                        try {
                            this.assertEqual("HELLO", io.sent("uart57"));
                            this.assertEqual("hello", io.received("uart57"));
                            resolve();
                        } catch (e) { reject(e); }
                    }.bindenv(this));
                }.bindenv(this));
            }

            function testMistakesAreSquirrelErrors() {
                local io = this.impsim();
                this.assertThrowsError(function() { io.get("nobody", "x"); }, this);
                this.assertThrowsError(function() { io.drive("pinZ", 1); }, this);
                this.assertThrowsError(function() { io.set("climate", "colour", 1); }, this);
            }
        }
    ''',
}


def test_impunit_tests_reach_the_board_through_impsim(tmp_path, capsys):
    from impapi.testing.runner import run_tests

    for name, text in TEST_HOME.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = run_tests(tmp_path, imp="imp001")
    out = capsys.readouterr().out
    assert result.exit_code == 0, out
    assert "Tests: 4, Assertions: 13, Failures: 0" in out


def test_impsim_is_not_there_outside_test_sessions():
    """An app that called this.impsim() on an imp would fail; so it does under impsim run, even
    with impsim's own ImpUnit loaded."""
    from impapi.testing.session import framework_code

    sim = sim_of(framework_code() + textwrap.dedent('''
        local C = class extends ImpTestCase {};
        try { C().impsim(); } catch (e) { server.log(e); }
        server.log("__impsim_io" in imp);
    '''), "imp001", run="3s")
    assert lines(sim) == ["impsim() reads the simulated board: it works only in impsim's test sessions", "false"]
