"""ST LIS3DH three-axis accelerometer, on I2C (address 0x18 or 0x19; 0x30 or 0x32 in the imp's
8-bit form) or SPI. Register facts from the datasheet (DocID17530); docs/wiring.md lists them
and what the model leaves out.

What it measures are signals (:mod:`..signals`): the acceleration ``x``, ``y``, ``z`` in g
(default: lying flat, 0, 0, 1) and the auxiliary ADC inputs ``adc1``..``adc3`` in volts.
"""

from __future__ import annotations

from typing import Any

from ..registers import RegisterDevice
from ..signals import SignalAttr, next_change

STATUS_AUX, OUT_ADC1, WHO_AM_I, CTRL_REG0, TEMP_CFG = 0x07, 0x08, 0x0F, 0x1E, 0x1F
CTRL_REG1, CTRL_REG3, CTRL_REG4, CTRL_REG5, CTRL_REG6 = 0x20, 0x22, 0x23, 0x24, 0x25
I1_IA1, I1_ZYXDA, I1_WTM = 0x40, 0x10, 0x04  # CTRL_REG3: what INT1 shows
LIR_INT1, INT_POLARITY = 0x08, 0x02  # CTRL_REG5: INT1_SRC latched until read; CTRL_REG6: active low
STATUS, OUT_X_L, OUT_Z_H, FIFO_CTRL, FIFO_SRC = 0x27, 0x28, 0x2D, 0x2E, 0x2F
INT1_CFG, INT1_SRC, INT1_THS, INT2_CFG, INT2_SRC, INT2_THS = 0x30, 0x31, 0x32, 0x34, 0x35, 0x36
CLICK_SRC = 0x39

# CTRL_REG1 ODR bits -> sample period in microseconds (normal/high-resolution; low-power for 8 and 9).
ODR_US = {1: 1_000_000, 2: 100_000, 3: 40_000, 4: 20_000, 5: 10_000, 6: 5_000, 7: 2_500}
ODR_LP_US = {8: 625, 9: 186}  # 1.6 kHz, 5.376 kHz (low-power mode)
ODR_9_NORMAL_US = 744  # 1.344 kHz
# Sensitivity in mg per digit by resolution (bits) and full scale (CTRL_REG4 FS: 2, 4, 8, 16 g).
SENSITIVITY = {12: (1, 2, 4, 12), 10: (4, 8, 16, 48), 8: (16, 32, 64, 192)}
THRESHOLD_MG = (16, 32, 62, 186)  # INTx_THS: mg per LSB by full scale
FIFO_SIZE = 32


class LIS3DH(RegisterDevice):
    """The chip. ``x``, ``y``, ``z`` (g) and ``adc1``..``adc3`` (V, 0.8-1.6): numbers, signal
    descriptions or functions of ``t_us``."""

    I2C_ADDRESS = 0x30
    OUTPUT_PINS = ("int1",)  # the INT1 output: data ready, FIFO watermark, inertial interrupt 1
    auto_increment = 0x80  # I2C: bit 7 of the sub-address asks for auto-increment
    spi_read_bit, spi_increment_bit = 0x80, 0x40

    x = SignalAttr()
    y = SignalAttr()
    z = SignalAttr()
    adc1 = SignalAttr()
    adc2 = SignalAttr()
    adc3 = SignalAttr()

    def __init__(self, x: Any = 0.0, y: Any = 0.0, z: Any = 1.0, adc1: Any = 1.2, adc2: Any = 1.2, adc3: Any = 1.2,
                 *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.x, self.y, self.z = x, y, z
        self.adc1, self.adc2, self.adc3 = adc1, adc2, adc3
        for r in range(STATUS_AUX, WHO_AM_I):
            self.define(r, 0x00, writable=0)
        self.define(WHO_AM_I, 0x33, writable=0)
        self.define(CTRL_REG0, 0x10)
        self.define(TEMP_CFG, 0x00, writable=0xC0)
        self.define(CTRL_REG1, 0x07)
        for r in range(0x21, 0x27):  # CTRL_REG2..CTRL_REG6, REFERENCE
            self.define(r, 0x00)
        for r in (STATUS, *range(OUT_X_L, OUT_Z_H + 1), FIFO_SRC, INT1_SRC, INT2_SRC, CLICK_SRC):
            self.define(r, 0x00, writable=0)
        self.define(FIFO_SRC, 0x20, writable=0)  # empty
        for r in (INT1_THS, INT1_THS + 1, INT2_THS, INT2_THS + 1):
            self.define(r, 0x00, writable=0x7F)
        self._rate_from = 0  # when the current data rate was set: samples fall on its period
        self._read_tick = -1  # the last sample the outputs were read at (STATUS_REG's new-data bits)
        self._fifo_first: int | None = None  # FIFO: the tick of the oldest unread sample
        self._fifo_on_us = 0
        self._ia1_latched = 0  # INT1_SRC as latched (LIR_INT1) when IA was seen, until INT1_SRC is read
        self._armed = 0  # the INT1 wake-up scheduled last (older ones are stale)

    # --- sampling -------------------------------------------------------------------------------

    def period_us(self) -> int | None:
        """The sample period at the current data rate (None: powered down)."""
        ctrl = self.regs[CTRL_REG1]
        odr, low_power = ctrl >> 4, bool(ctrl & 0x08)
        if odr == 0:
            return None
        if odr in ODR_US:
            return ODR_US[odr]
        if odr == 8:
            return ODR_LP_US[8] if low_power else None
        if odr == 9:
            return ODR_LP_US[9] if low_power else ODR_9_NORMAL_US
        return None

    def resolution(self) -> int:
        if self.regs[CTRL_REG1] & 0x08:
            return 8
        return 12 if self.regs[CTRL_REG4] & 0x08 else 10

    def full_scale(self) -> int:
        return (self.regs[CTRL_REG4] >> 4) & 0x03  # 0: 2 g, 1: 4 g, 2: 8 g, 3: 16 g

    def _tick(self, t_us: int) -> int:
        """The index of the latest sample taken by ``t_us`` (-1: none yet)."""
        period = self.period_us()
        if period is None or t_us < self._rate_from:
            return -1
        return (t_us - self._rate_from) // period

    def _tick_time(self, tick: int) -> int:
        return self._rate_from + tick * (self.period_us() or 0)

    def counts(self, t_us: int) -> tuple[int, int, int]:
        """The signed 16-bit, left-justified output codes of a sample at ``t_us``."""
        bits = self.resolution()
        mg_per_digit = SENSITIVITY[bits][self.full_scale()]
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        enabled = self.regs[CTRL_REG1] & 0x07
        out = []
        for axis, source in enumerate((self.x, self.y, self.z)):
            if not enabled & (1 << axis):
                out.append(0)
                continue
            digits = min(hi, max(lo, int(round(float(source(t_us)) * 1000.0 / mg_per_digit))))
            out.append(digits << (16 - bits))
        return out[0], out[1], out[2]

    def _sample_bytes(self, tick: int) -> bytes:
        if tick < 0:
            return bytes(6)
        big = self.resolution() == 12 and self.regs[CTRL_REG4] & 0x40  # BLE, high resolution only
        data = bytearray()
        for c in self.counts(self._tick_time(tick)):
            data += (c & 0xFFFF).to_bytes(2, "big" if big else "little")
        return bytes(data)

    # --- FIFO -----------------------------------------------------------------------------------

    def _fifo_mode(self) -> int | None:
        """FIFO_CTRL_REG mode (1 FIFO, 2 stream, 3 stream-to-FIFO) when the FIFO is on, else None."""
        if not self.regs[CTRL_REG5] & 0x40:
            return None
        mode = self.regs[FIFO_CTRL] >> 6
        return mode or None

    def _fifo_count(self, t_us: int) -> int:
        latest = self._tick(t_us)
        if self._fifo_first is None or latest < self._fifo_first:
            return 0
        if self._fifo_mode() != 1 and latest - self._fifo_first + 1 > FIFO_SIZE:
            self._fifo_first = latest - FIFO_SIZE + 1  # stream: the oldest samples are overwritten
        return min(FIFO_SIZE, latest - self._fifo_first + 1)

    # --- registers ------------------------------------------------------------------------------

    def read(self, register: int, t_us: int) -> int:
        if register == INT1_SRC and self._ia1_latched:
            value, self._ia1_latched = self._ia1_latched, 0  # reading INT1_SRC releases the latch
        else:
            value = self._read(register, t_us)
        if self.pins and (OUT_X_L <= register <= OUT_Z_H or register == INT1_SRC):
            self._int1(t_us)
        return value

    def _read(self, register: int, t_us: int) -> int:
        if OUT_X_L <= register <= OUT_Z_H:
            if self._fifo_mode() is not None:
                if self._fifo_count(t_us) == 0:
                    return self._sample_bytes(self._tick(t_us))[register - OUT_X_L]
                value = self._sample_bytes(self._fifo_first)[register - OUT_X_L]
                if register == OUT_Z_H:
                    self._fifo_first += 1  # the sample has been read
                return value
            tick = self._tick(t_us)
            self._read_tick = tick
            return self._sample_bytes(tick)[register - OUT_X_L]
        if register == STATUS:
            tick = self._tick(t_us)
            new = tick > self._read_tick and tick >= 0
            overrun = tick > self._read_tick + 1 and self._read_tick >= 0
            return (0x0F if new else 0) | (0xF0 if overrun else 0)
        if register == FIFO_SRC:
            if self._fifo_mode() is None:
                return 0x20
            count = self._fifo_count(t_us)
            watermark = self.regs[FIFO_CTRL] & 0x1F
            return ((0x80 if count > watermark else 0) | (0x40 if count >= FIFO_SIZE else 0)
                    | (0x20 if count == 0 else 0) | min(count, FIFO_SIZE - 1))
        if register in (INT1_SRC, INT2_SRC):
            return self._interrupt_source(register - 1, t_us)
        if OUT_ADC1 <= register < OUT_ADC1 + 6:
            return self._adc_byte(register - OUT_ADC1, t_us)
        return super().read(register, t_us)

    def write(self, register: int, value: int, t_us: int) -> None:
        before = self.period_us()
        super().write(register, value, t_us)
        if register in (CTRL_REG1, CTRL_REG4) and self.period_us() != before:
            self._rate_from = t_us  # a new data rate: samples from now on its period
            self._read_tick = -1
            if self._fifo_first is not None:
                self._fifo_first = self._tick(t_us) + 1
        elif register == CTRL_REG5:
            self.regs[CTRL_REG5] &= 0x7F  # BOOT clears itself once the trimming is reloaded
        if register in (CTRL_REG5, FIFO_CTRL):
            if self._fifo_mode() is None:
                self._fifo_first = None
            elif self._fifo_first is None:
                self._fifo_first = self._tick(t_us) + 1  # collecting from the next sample
        if self.pins:
            self._int1(t_us)

    # --- the INT1 pin ---------------------------------------------------------------------------

    def _int1_active(self, t_us: int) -> bool:
        """INT1 shows what CTRL_REG3 routes to it: a sample not read yet (I1_ZYXDA), the FIFO past
        its watermark (I1_WTM), inertial interrupt 1 (I1_IA1; held once seen with LIR_INT1)."""
        ctrl3 = self.regs[CTRL_REG3]
        tick = self._tick(t_us)
        if ctrl3 & I1_ZYXDA and self._fifo_mode() is None and tick >= 0 and tick > self._read_tick:
            return True
        if ctrl3 & I1_WTM and self._fifo_mode() is not None and \
                self._fifo_count(t_us) > (self.regs[FIFO_CTRL] & 0x1F):
            return True
        if ctrl3 & I1_IA1:
            source = self._interrupt_source(INT1_CFG, t_us)
            if source & 0x40:
                if self.regs[CTRL_REG5] & LIR_INT1 and not self._ia1_latched:
                    self._ia1_latched = source
                return True
            return bool(self._ia1_latched)
        return False

    def _int1_next(self, t_us: int, active: bool) -> int | None:
        """The next sample at which what INT1 shows may change (None: not before the app acts)."""
        period = self.period_us()
        ctrl3 = self.regs[CTRL_REG3]
        if period is None:
            return None
        tick = self._tick(t_us)
        ticks = []
        # Data ready and the watermark stay active until the app reads: nothing to look at until then.
        if ctrl3 & I1_ZYXDA and not active and self._fifo_mode() is None:
            ticks.append(tick + 1)
        if ctrl3 & I1_WTM and not active and self._fifo_mode() is not None:
            first = self._fifo_first if self._fifo_first is not None else tick + 1
            ticks.append(max(tick + 1, first + (self.regs[FIFO_CTRL] & 0x1F)))
        if ctrl3 & I1_IA1 and not self._ia1_latched:
            # The inertial interrupt follows the acceleration: look again at the first sample
            # after any axis may have changed (a still chip costs nothing).
            seen_at = self._tick_time(max(tick, 0))
            changes = [c for c in (next_change(axis, seen_at) for axis in (self.x, self.y, self.z)) if c is not None]
            if changes:
                ticks.append(max(tick + 1, -(-(min(changes) - self._rate_from) // period)))
        return self._tick_time(min(ticks)) if ticks else None

    def _int1(self, t_us: int) -> None:
        """Drive INT1 (active high, or low with INT_POLARITY) and, while something routed to it
        could change at the next sample, look again then."""
        active = self._int1_active(t_us)
        self.pins.set("int1", int(active) ^ (1 if self.regs[CTRL_REG6] & INT_POLARITY else 0))
        self._armed += 1
        due = self._int1_next(t_us, active)
        if due is None:
            return
        token = self._armed
        self.pins.after(due - t_us, lambda: self._int1(self.pins.now()) if token == self._armed else None)

    def _interrupt_source(self, cfg_register: int, t_us: int) -> int:
        """INTx_SRC for the current sample: the high/low events of the axes INTx_CFG enables,
        combined by AOI (OR / AND); IA when the combination holds. Evaluated when read."""
        cfg = self.regs[cfg_register]
        if not cfg & 0x3F or self._tick(t_us) < 0:
            return 0
        threshold = (self.regs[cfg_register + 2] & 0x7F) * THRESHOLD_MG[self.full_scale()]
        values = (self.x, self.y, self.z)
        bits = 0
        for axis in range(3):
            g = abs(float(values[axis](self._tick_time(self._tick(t_us))))) * 1000.0
            if cfg & (2 << 2 * axis) and g > threshold:
                bits |= 2 << 2 * axis
            if cfg & (1 << 2 * axis) and g < threshold:
                bits |= 1 << 2 * axis
        wanted = cfg & 0x3F
        active = (bits & wanted) == wanted if cfg & 0x80 else bool(bits & wanted)
        return bits | (0x40 if active else 0)

    def _adc_byte(self, offset: int, t_us: int) -> int:
        """OUT_ADCn: (V - 1.2 V) / 0.4 V * 512, left-justified, 10 bits (8 in low-power mode)."""
        if not self.regs[TEMP_CFG] & 0x80:
            return 0
        source = (self.adc1, self.adc2, self.adc3)[offset // 2]
        bits = 8 if self.regs[CTRL_REG1] & 0x08 else 10
        code = int(round((float(source(t_us)) - 1.2) / 0.4 * (1 << (bits - 1))))
        code = min((1 << (bits - 1)) - 1, max(-(1 << (bits - 1)), code))
        word = (code << (16 - bits)) & 0xFFFF
        return word.to_bytes(2, "little")[offset % 2]

    def i2c_read(self, register: bytes, count: int, t_us: int) -> bytes | int:
        # With the FIFO on, auto-increment wraps from OUT_Z_H back to OUT_X_L, so one long read
        # drains several samples.
        if register and self._fifo_mode() is not None and (register[0] & 0x7F) == OUT_X_L and register[0] & 0x80:
            out = bytearray()
            for i in range(count):
                out.append(self.read(OUT_X_L + i % 6, t_us))
            self.pointer = OUT_X_L + count % 6
            return bytes(out)
        return super().i2c_read(register, count, t_us)
