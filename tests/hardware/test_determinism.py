"""The same code, wiring and seed give the same log and the same events, byte for byte, with or
without VM reuse."""

from hw_helpers import sim_of

from impapi import Config

APP = '''
    if (!("nv" in getroottable())) nv <- { n = 0 };
    nv.n++;
    local i2c = hardware.i2c89, led = hardware.pin9, u = hardware.uart57;
    i2c.configure(CLOCK_SPEED_400_KHZ);
    led.configure(DIGITAL_OUT, nv.n % 2);
    hardware.pin2.configure(ANALOG_IN);
    u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { server.log("rx " + u.readstring()); });
    hardware.pin1.configure(DIGITAL_IN_WAKEUP, function() { server.log("pin1 " + hardware.pin1.read()); });
    local r = i2c.read(0xBE, "\\x0F", 1);
    server.log(nv.n + " " + (r == null ? i2c.readerror() : r[0]) + " " + hardware.pin2.read() + " " + math.rand());
    u.write(format("boot %d\\r", nv.n));
    imp.wakeup(5, function() { imp.deepsleepfor(60); });
'''


class Echo:
    def uart_attached(self, line):
        self.line = line

    def uart_receive(self, data, t_us):
        self.line.send(data.upper(), delay_us=1000)


def run(reuse: bool, seed: int = 3):
    sim = sim_of(APP, "imp001", run=None, seed=seed, config=Config(reuse_vms=reuse))
    board = sim.device.board
    board.attach_uart("uart57", Echo())
    board.analog("pin2", lambda t: (t % 7_000_000) / 7e6)
    sim.run("138s")  # awake: the third boot runs from 2m16s to 2m21s
    board.drive("pin1", 1)
    sim.run("5m")
    return sim.log.text(), [(e.time_us, e.kind, sorted(e.data.items())) for e in sim.events]


def test_same_scenario_same_log_and_events():
    a, b = run(True), run(True)
    assert a == b
    assert "rx BOOT 1" in a[0] and "pin1 1" in a[0] and " 0 " not in a[0].splitlines()[2]


def test_vm_reuse_changes_nothing():
    assert run(True) == run(False)
