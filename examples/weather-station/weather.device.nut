// A battery-powered weather station: an imp003 with an ST HTS221 humidity and temperature
// sensor on i2cAB and a button on the wake-up pin W. It wakes every 15 minutes, or when the
// button is pressed, takes one reading, sends it to its agent and goes back to deep sleep.
// The sensor is read through its registers, as its datasheet (ST DocID026333) describes them.
const HTS221 = 0xBE;          // 7-bit address 0x5F, shifted left as the imp API wants it
const SLEEP_S = 900;

i2c <- hardware.i2cAB;
i2c.configure(CLOCK_SPEED_400_KHZ);
hardware.pinW.configure(DIGITAL_IN_WAKEUP);  // armed for the coming sleep

if (!("nv" in getroottable())) nv <- { readings = 0 };

function reg(r) {
    local b = i2c.read(HTS221, r.tochar(), 1);
    if (b == null) throw "HTS221 does not answer (I2C error " + i2c.readerror() + ")";
    return b[0];
}

// A signed 16-bit little-endian pair; bit 7 of the sub-address asks for auto-increment.
function reg16(r) {
    local b = i2c.read(HTS221, (r | 0x80).tochar(), 2);
    if (b == null) throw "HTS221 does not answer (I2C error " + i2c.readerror() + ")";
    return ((b[1] << 8 | b[0]) << 16) >> 16;
}

function write(r, v) {
    local err = i2c.write(HTS221, format("%c%c", r, v));
    if (err != 0) throw "HTS221 does not answer (I2C error " + err + ")";
}

function measure() {
    if (reg(0x0F) != 0xBC) throw "no HTS221 at 0xBE";
    // The factory calibration: two reference points for each quantity.
    local h0 = reg(0x30) / 2.0, h1 = reg(0x31) / 2.0;
    local msb = reg(0x35);
    local t0 = (((msb & 0x03) << 8) | reg(0x32)) / 8.0;
    local t1 = (((msb & 0x0C) << 6) | reg(0x33)) / 8.0;
    local h0out = reg16(0x36), h1out = reg16(0x3A), t0out = reg16(0x3C), t1out = reg16(0x3E);
    write(0x20, 0x80);                              // powered on, one-shot mode
    write(0x21, 0x01);                              // start a conversion
    while (reg(0x21) & 0x01) imp.sleep(0.01);       // the bit clears when it is done
    local h = reg16(0x28), t = reg16(0x2A);
    write(0x20, 0x00);                              // power down until the next wake
    return {
        temperature = t0 + (t - t0out) * (t1 - t0) / (t1out - t0out),
        humidity = h0 + (h - h0out) * (h1 - h0) / (h1out - h0out)
    };
}

nv.readings++;
local reading = null;
try {
    reading = measure();
} catch (e) {
    server.error(e);
}
if (reading != null) {
    reading.n <- nv.readings;
    reading.why <- hardware.wakereason() == WAKEREASON_PIN ? "button" : "timer";
    agent.send("reading", reading);     // connects first (the wake is offline)
}
server.sleepfor(SLEEP_S);               // flushes the message, then sleeps
