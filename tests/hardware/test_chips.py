"""The shipped chip models, read the way a driver written from their datasheets reads them."""

import pytest
from hw_helpers import lines

from impapi import Simulation
from impapi.peripherals import HTS221, LIS3DH

# What a driver does with an HTS221 (datasheet DocID026333): read the calibration, start a
# one-shot conversion or a continuous rate, read the outputs, convert.
HTS221_DRIVER = '''
local i2c = hardware.i2c89;
i2c.configure(CLOCK_SPEED_400_KHZ);
function reg(r) { return i2c.read(0xBE, r.tochar(), 1)[0]; }
function reg16(r) { local b = i2c.read(0xBE, (r | 0x80).tochar(), 2); return ((b[1] << 8 | b[0]) << 16) >> 16; }
function write(r, v) { return i2c.write(0xBE, format("%c%c", r, v)); }
local h0 = reg(0x30) / 2.0, h1 = reg(0x31) / 2.0, msb = reg(0x35);
local t0 = (((msb & 0x03) << 8) | reg(0x32)) / 8.0, t1 = (((msb & 0x0C) << 6) | reg(0x33)) / 8.0;
local h0o = reg16(0x36), h1o = reg16(0x3A), t0o = reg16(0x3C), t1o = reg16(0x3E);
function convert() {
    local h = reg16(0x28), t = reg16(0x2A);
    return format("%.2f %.2f", t0 + (t - t0o) * (t1 - t0) / (t1o - t0o), h0 + (h - h0o) * (h1 - h0) / (h1o - h0o));
}
server.log(format("id %02X conf %02X status %02X", reg(0x0F), reg(0x10), reg(0x27)));
write(0x21, 0x80);                                // BOOT: clears itself
write(0x20, 0x80);                                // power on, one-shot
write(0x21, 0x01);                                // one shot
server.log(format("ctrl2 %02X status %02X", reg(0x21), reg(0x27)));
server.log(convert() + format(" status %02X", reg(0x27)));
write(0x20, 0x81);                                // continuous, 1 Hz
imp.wakeup(3.5, function() { server.log(convert()); });
'''


def hts(temperature, humidity, run="10s") -> list[str]:
    sim = Simulation(device=HTS221_DRIVER, imp="imp001", start=False)
    chip = HTS221(temperature=temperature, humidity=humidity)
    sim.device.board.attach_i2c("i2c89", 0xBE, chip, name="climate")
    sim.start()
    sim.run(run)
    return [e.text for e in sim.log if e.source == "device"]


def test_hts221_reads_back_what_it_measures_through_its_calibration():
    out = hts(21.5, 48.0)
    assert out[0] == "id BC conf 1B status 00"
    assert out[1] == "ctrl2 00 status 03"                    # done, both new
    assert out[2] == "21.50 48.00 status 00"                 # reading OUT_H cleared the flags
    assert out[3] == "21.50 48.00"


def test_hts221_samples_a_changing_signal_at_its_data_rate():
    # 1 °C a second from 10 °C; the driver starts 1 Hz sampling at 2 s and reads at 5.5 s:
    # the samples fall at 3, 4 and 5 s, so it reads the one taken at 5 s.
    out = hts({"points": [["0s", 10], ["100s", 110]]}, {"wave": "square", "period": "1h", "mean": 50,
                                                      "amplitude": 10})
    assert out[2].startswith("12.00 60.00")
    assert out[3] == "15.00 60.00"


@pytest.mark.parametrize("temperature, humidity, shown", [
    (-40.0, 0.0, "-40.00 0.00"),
    (85.0, 100.0, "85.00 100.00"),
])
def test_hts221_covers_its_range(temperature, humidity, shown):
    assert hts(temperature, humidity)[2].startswith(shown)


# A LIS3DH driver (datasheet DocID17530): identity, rate, range and resolution, then a burst read
# of the three axes with auto-increment, scaled by the sensitivity of the mode.
LIS3DH_DRIVER = '''
local i2c = hardware.i2c89;
i2c.configure(CLOCK_SPEED_400_KHZ);
function reg(r) { return i2c.read(0x32, r.tochar(), 1)[0]; }
function write(r, v) { i2c.write(0x32, format("%c%c", r, v)); }
server.log(format("id %02X ctrl1 %02X", reg(0x0F), reg(0x20)));
local modes = [[0x00, 0x00, 10], [0x08, 0x00, 12], [0x00, 0x08, 8]];   // CTRL4 HR, CTRL1 LPen, bits
local mg = { "10": [4, 8, 16, 48], "12": [1, 2, 4, 12], "8": [16, 32, 64, 192] };
foreach (m in modes) {
    local line = m[2] + ":";
    foreach (fs in [0, 1, 2, 3]) {
        write(0x20, 0x57 | m[1]);                 // 100 Hz, axes on, LPen as the mode needs
        write(0x23, (fs << 4) | m[0]);
        imp.sleep(0.011);
        local b = i2c.read(0x32, "\\xA8", 6);
        local g = [];
        for (local i = 0; i < 6; i += 2) {
            local v = ((b[i + 1] << 8 | b[i]) << 16) >> 16;
            g.push((v >> (16 - m[2])) * mg[m[2] + ""][fs] / 1000.0);
        }
        line += format(" %.3f,%.3f,%.3f", g[0], g[1], g[2]);
    }
    server.log(line);
}
'''


def test_lis3dh_reads_the_acceleration_at_each_range_and_resolution():
    sim = Simulation(device=LIS3DH_DRIVER, imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x32, LIS3DH(x=0.25, y=-0.5, z=1.0))
    sim.start()
    sim.run("5s")
    out = [e.text for e in sim.log if e.source == "device"]
    assert out[0] == "id 33 ctrl1 07"
    # Each value rounds to the mode's sensitivity (mg per digit, ties to even): 12 mg steps at
    # 16 g in high resolution give 0.252 and 0.996; 192 mg steps in low power 0.192, -0.576, 0.960.
    assert out[1] == "10: 0.248,-0.500,1.000 0.248,-0.496,1.000 0.256,-0.496,0.992 0.240,-0.480,1.008"
    assert out[2] == "12: 0.250,-0.500,1.000 0.250,-0.500,1.000 0.248,-0.500,1.000 0.252,-0.504,0.996"
    assert out[3] == "8: 0.256,-0.496,0.992 0.256,-0.512,0.992 0.256,-0.512,1.024 0.192,-0.576,0.960"


def test_lis3dh_is_powered_down_at_first_and_fills_its_fifo_at_its_rate():
    sim = Simulation(device='''
        local i2c = hardware.i2c89;
        i2c.configure(CLOCK_SPEED_400_KHZ);
        function reg(r) { return i2c.read(0x30, r.tochar(), 1)[0]; }
        function write(r, v) { i2c.write(0x30, format("%c%c", r, v)); }
        server.log(format("status %02X out %02X", reg(0x27), reg(0x29)));    // powered down: nothing new
        write(0x20, 0x27);                 // 10 Hz
        write(0x24, 0x40);                 // FIFO on
        write(0x2E, 0x80 | 9);             // stream mode, watermark 9
        imp.wakeup(1.05, function() {
            server.log(format("fifo %02X", reg(0x2F)));                       // 10 samples: WTM, 10
            i2c.read(0x30, "\\xA8", 12);                                      // two samples drained
            server.log(format("fifo %02X", reg(0x2F)));
            imp.wakeup(5, function() { server.log(format("fifo %02X", reg(0x2F))); });   // full: overrun
        });
    ''', imp="imp001", start=False)
    sim.device.board.attach_i2c("i2c89", 0x30, LIS3DH())
    sim.start()
    sim.run("10s")
    assert [e.text for e in sim.log if e.source == "device"] == ["status 00 out 00", "fifo 8A", "fifo 08",
                                                                  "fifo DF"]


def test_lis3dh_on_spi_and_its_inertial_interrupt_source():
    sim = Simulation(device='''
        local spi = hardware.spi257, cs = hardware.pin8;
        spi.configure(CLOCK_IDLE_HIGH | CLOCK_2ND_EDGE, 4000);
        cs.configure(DIGITAL_OUT, 1);
        function xfer(data) { cs.write(0); local r = spi.writeread(data); cs.write(1); return r; }
        server.log(format("%02X", xfer("\\x8F\\x00")[1]));
        xfer("\\x20\\x57");                     // 100 Hz
        xfer("\\x32\\x20");                     // INT1_THS: 32 x 16 mg = 512 mg
        xfer("\\x30\\x20");                     // INT1_CFG: Z high
        imp.wakeup(1, function() { server.log(format("%02X", xfer("\\xB1\\x00")[1])); });
        imp.wakeup(3, function() { server.log(format("%02X", xfer("\\xB1\\x00")[1])); });
    ''', imp="imp001", start=False)
    chip = LIS3DH(z={"points": [["0s", 1.0], ["4s", 1.0], ["4.001s", 0.0]]})
    sim.device.board.attach_spi("spi257", chip, cs="pin8")
    sim.start()
    sim.run("6s")
    # At 3 s Z (1 g) is above 512 mg: IA and ZH; at 5 s it is 0 g, below the threshold.
    assert [e.text for e in sim.log if e.source == "device"] == ["33", "60", "00"]
