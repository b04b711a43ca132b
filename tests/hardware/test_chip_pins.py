"""Chip models drive the imp's pins: HTS221's data-ready output, LIS3DH's INT1 (data ready and
the inertial interrupt, latched or not), through a wiring file or from Python; an interrupt wakes
a deep-sleeping imp from its wake-up pin."""

import pytest
from hw_helpers import events, lines

from impapi import Simulation
from impapi import constants as C
from impapi.peripherals import HTS221, LIS3DH, Wiring, WiringError

HTS_DRDY = '''
local i2c = hardware.i2c89, drdy = hardware.pin1;
i2c.configure(CLOCK_SPEED_400_KHZ);
function reg(r) { return i2c.read(0xBE, r.tochar(), 1)[0]; }
function write(r, v) { i2c.write(0xBE, format("%c%c", r, v)); }
local reads = 0;
drdy.configure(DIGITAL_IN, function() {
    local level = drdy.read();
    server.log(format("drdy %d status %02X", level, reg(0x27)));
    if (level == %ACTIVE% && ++reads <= 2) {
        i2c.read(0xBE, "\\xA8", 4);            // both outputs: the status bits clear
    }
});
write(0x22, %CTRL3%);                        // DRDY_EN (and polarity)
write(0x20, 0x81);                           // power on, 1 Hz
'''


def hts_drdy(ctrl3: int, active: int) -> list[str]:
    code = HTS_DRDY.replace("%CTRL3%", f"0x{ctrl3:02X}").replace("%ACTIVE%", str(active))
    sim = Simulation(device=code, imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0xBE, HTS221(), pins={"drdy": "pin1"})
    sim.start()
    sim.run("5.5s")
    return [f"{e.time_us // 1000} {e.text}" for e in sim.log if e.source == "device"]


def test_hts221_drdy_rises_at_each_sample_and_falls_when_the_data_is_read():
    # Active high: the pin rises at each 1 Hz sample and falls once the outputs are read; after
    # the app stops reading (two reads), it stays high.
    assert hts_drdy(0x04, 1) == ["3000 drdy 1 status 03", "3000 drdy 0 status 00",
                                 "4000 drdy 1 status 03", "4000 drdy 0 status 00",
                                 "5000 drdy 1 status 03"]


def test_hts221_drdy_active_low():
    # DRDY_H_L: the line idles high as soon as DRDY_EN is set, and goes low with data.
    out = hts_drdy(0x84, 0)
    assert out[:3] == ["2000 drdy 1 status 00", "3000 drdy 0 status 03", "3000 drdy 1 status 00"]


LIS_FALL = '''
local i2c = hardware.i2c89, int1 = hardware.pin1;
i2c.configure(CLOCK_SPEED_400_KHZ);
function reg(r) { return i2c.read(0x32, r.tochar(), 1)[0]; }
function write(r, v) { i2c.write(0x32, format("%c%c", r, v)); }
int1.configure(DIGITAL_IN_WAKEUP);
if (hardware.wakereason() == WAKEREASON_PIN) {
    server.log("pin wake: INT1 " + int1.read());
    imp.sleep(1);                            // the fall is over by now
    server.log(format("src %02X then %02X, INT1 %d", reg(0x31), reg(0x31), int1.read()));
} else {
    write(0x20, 0x57);                       // 100 Hz
    write(0x22, 0x40);                       // I1_IA1
    write(0x24, 0x08);                       // LIR_INT1: latched
    write(0x32, 0x16);                       // 22 x 16 mg = 352 mg
    write(0x30, 0x95);                       // AOI: X low and Y low and Z low (free fall)
    server.log(format("armed: INT1 %d src %02X", int1.read(), reg(0x31)));
}
imp.onidle(function() { imp.deepsleepfor(3600); });
'''

FALL_WIRING = '''
[[i2c]]
bus = "i2c89"
model = "lis3dh"
address7 = 0x19
int1 = "pin1"
# Dropped at 10 minutes: 300 ms of free fall.
z = { points = [["0s", 1], ["600s", 1], ["600.001s", 0], ["600.3s", 0], ["600.301s", 1]], interpolate = "step" }
'''


def test_a_free_fall_wakes_a_sleeping_imp_through_lis3dh_int1():
    sim = Simulation(device=LIS_FALL, imp="imp001", wiring=Wiring.loads(FALL_WIRING))
    sim.run("15m")
    wakes = [(e.time_us, e.data["wakereason"]) for e in sim.events if e.kind == "boot"]
    # Lying flat, X and Y are low (05), Z is not; in the fall all three are, with IA (55), held
    # until INT1_SRC is read; then the source shows the present sample again and the pin falls.
    assert lines(sim) == ["armed: INT1 0 src 05", "pin wake: INT1 1", "src 55 then 05, INT1 0"]
    assert sim.device.wakereason == C.WAKEREASON_PIN
    assert any(e.data.get("pin") == "pin1" and e.data.get("level") == 1 and 600_000_000 <= e.time_us < 600_020_000
               for e in sim.events if e.kind == "pin-in")
    assert [w for w in wakes if w[1] == C.WAKEREASON_PIN] == [wakes[-1]] and 600_000_000 < wakes[-1][0] < 600_020_000


def test_an_unlatched_inertial_interrupt_follows_the_samples():
    sim = Simulation(device='''
        local i2c = hardware.i2c89, int1 = hardware.pin1;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        function write(r, v) { i2c.write(0x30, format("%c%c", r, v)); }
        int1.configure(DIGITAL_IN, function() { server.log("INT1 " + int1.read()); });
        write(0x20, 0x27);                   // 10 Hz
        write(0x22, 0x40);                   // I1_IA1, not latched
        write(0x32, 0x20);                   // 512 mg
        write(0x30, 0x20);                   // Z high
    ''', imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x30, LIS3DH(z={"points": [["0s", 0], ["5s", 0], ["5.0001s", 1],
                                                                     ["7s", 1], ["7.0001s", 0]],
                                                          "interpolate": "step"}), pins={"int1": "pin1"})
    sim.start()
    sim.run("10s")
    # Seen at the first 10 Hz sample after each change (samples fall every 100 ms from when the
    # rate was set, at boot: 2 s).
    assert [f"{e.time_us // 100_000 / 10} {e.text}" for e in sim.log if e.source == "device"] == \
        ["5.1 INT1 1", "7.1 INT1 0"]


def test_lis3dh_data_ready_on_int1_and_its_polarity():
    sim = Simulation(device='''
        local i2c = hardware.i2c89, int1 = hardware.pin1;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        function write(r, v) { i2c.write(0x30, format("%c%c", r, v)); }
        local n = 0;
        int1.configure(DIGITAL_IN, function() {
            server.log("INT1 " + int1.read());
            if (int1.read() == 0 && ++n < 3) i2c.read(0x30, "\\xA8", 6);   // active low: read the sample
        });
        write(0x25, 0x02);                   // INT_POLARITY: active low
        write(0x22, 0x10);                   // I1_ZYXDA
        imp.wakeup(0.5, function() { write(0x20, 0x17); });   // 1 Hz
    ''', imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x30, LIS3DH(), pins={"int1": "pin1"})
    sim.start()
    sim.run("6s")
    out = [f"{e.time_us // 1000} {e.text}" for e in sim.log if e.source == "device"]
    assert out[0].endswith("INT1 1")  # idle high once the polarity is set
    assert [o.split()[1:] for o in out[1:]] == [["INT1", "0"], ["INT1", "1"]] * 2 + [["INT1", "0"]]


@pytest.mark.parametrize("text, message", [
    ('[[i2c]]\nbus = "i2c89"\nmodel = "hts221"\ndrdy = 1',
     "drdy is the imp pin the chip's DRDY output is wired to, such as \"pin1\", not 1"),
    ('[[i2c]]\nbus = "i2c89"\nmodel = "hts221"\nint1 = "pin1"', "unknown field 'int1'"),
    ('[[i2c]]\nbus = "i2c89"\nmodel = "lis3dh"\nint1 = "pinQ"', "the imp001 has no pin 'pinQ'"),
])
def test_output_pin_mistakes_are_named(text, message):
    from impapi.pinmux import module_hardware
    from impapi.peripherals import Board
    from impapi import Config

    with pytest.raises(WiringError, match=None) as e:
        Wiring.loads(text, name="b.toml").attach(Board(Config()), module_hardware("imp001"))
    assert message in str(e.value) and str(e.value).startswith("b.toml: [[i2c]] 1")


def test_attach_refuses_an_output_pin_the_model_does_not_have():
    sim = Simulation(device="", imp="imp001", start=False)
    with pytest.raises(ValueError, match="HTS221 has no output pin 'int2'; its output pins: drdy"):
        sim.device.board.attach_i2c("i2c89", 0xBE, HTS221(), pins={"int2": "pin1"})


def test_nothing_is_scheduled_while_no_interrupt_is_enabled():
    """A wired chip whose interrupts are off costs the run nothing: it goes idle."""
    sim = Simulation(device='hardware.i2c89.configure(CLOCK_SPEED_400_KHZ); '
                            'hardware.i2c89.write(0x30, "\\x20\\x97");',  # 1.344 kHz, no interrupt routed
                     imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x30, LIS3DH(), pins={"int1": "pin1"})
    sim.start()
    sim.run(until_idle=True)
    assert sim.clock.now_us < 60_000_000
    assert not [e for e in events(sim, "pin-in") if e.get("level") == 1]


def test_the_same_wiring_gives_the_same_interrupts_log_and_record(tmp_path, capsys):
    """Two runs of the free-fall app, from Python and from impsim run: one log, one record."""
    from impapi.cli import main

    (tmp_path / "fall.toml").write_text(FALL_WIRING, encoding="utf-8")
    (tmp_path / "app.device.nut").write_text(LIS_FALL, encoding="utf-8")
    runs = []
    for _ in range(2):
        sim = Simulation(device=LIS_FALL, imp="imp001", seed=3, wiring=tmp_path / "fall.toml")
        sim.run("15m")
        runs.append(("\n".join(sim.log.format(e) for e in sim.log) + "\n",
                     [(e.time_us, e.kind, sorted(e.data.items())) for e in sim.events]))
    assert runs[0] == runs[1]
    assert main(["run", str(tmp_path / "app.device.nut"), "--imp", "imp001", "--seed", "3", "--for", "15m",
                 "--wiring", str(tmp_path / "fall.toml")]) == 0
    assert capsys.readouterr().out == runs[0][0]


@pytest.mark.parametrize("spec, at, change", [
    (1.0, 5, None),                                                              # a constant never changes
    ({"points": [["0s", 1], ["10s", 0]], "interpolate": "step"}, 3_000_000, 10_000_000),
    ({"points": [["0s", 1], ["10s", 0]], "interpolate": "step"}, 11_000_000, None),
    ({"points": [["0s", 1], ["10s", 0]]}, 3_000_000, 3_000_001),                  # on a slope
    ({"points": [["0s", 1], ["10s", 1], ["20s", 0]]}, 3_000_000, 10_000_000),     # flat until 10 s
    ({"points": [["0s", 1], ["10s", 0]], "interpolate": "step", "repeat": True}, 13_000_000, 20_000_000),
    ({"wave": "sine", "period": "1h", "mean": 1, "amplitude": 1}, 7, 8),
])
def test_signals_say_when_they_may_change_next(spec, at, change):
    from impapi.peripherals.signals import next_change, signal

    assert next_change(signal(spec), at) == change


def test_a_still_accelerometer_costs_a_sleeping_run_no_samples():
    """Free fall armed, the chip lying still for a day: INT1 is looked at when the app writes its
    registers (at each hourly boot) and never in between (the acceleration cannot change), yet a
    drop later is still seen."""
    chip = LIS3DH()
    looks = []
    original = chip._int1
    chip._int1 = lambda t_us: (looks.append(t_us), original(t_us))[1]
    sim = Simulation(device=LIS_FALL, imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x32, chip, pins={"int1": "pin1"})
    sim.start()
    sim.run("1d")
    boots = {e.time_us for e in sim.events if e.kind == "boot"}
    # It looks only as the code configures it, a few ms into a boot (the code's own work).
    assert len(boots) == 24 and all(any(0 <= t - b < 5_000 for b in boots) for t in looks)
    chip.z = {"points": [["0s", 1], ["25h", 1], ["25h10ms", 0], ["25h100ms", 1]], "interpolate": "step"}
    chip._int1(sim.clock.now_us)  # a model's signal changed from Python: it looks again
    sim.run("2h")
    assert lines(sim)[-2:] == ["pin wake: INT1 1", "src 55 then 05, INT1 0"]
