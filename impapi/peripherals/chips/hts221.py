"""ST HTS221, relative humidity and temperature, on I2C (address 0x5F, 0xBE in the imp's 8-bit
form) or SPI. Register facts from the datasheet (DocID026333); docs/wiring.md lists them.

What it measures are two signals (:mod:`..signals`): ``temperature`` in °C and ``humidity`` in
%rH. The output registers hold the 16-bit ADC codes a part with this model's calibration would
give; a driver converts them back through the calibration registers, as it must on a real part.
"""

from __future__ import annotations

from typing import Any

from ..registers import RegisterDevice
from ..signals import SignalAttr

WHO_AM_I, AV_CONF, CTRL_REG1, CTRL_REG2, CTRL_REG3, STATUS = 0x0F, 0x10, 0x20, 0x21, 0x22, 0x27
HUMIDITY_OUT, TEMP_OUT = 0x28, 0x2A
PD, ONE_SHOT, BOOT = 0x80, 0x01, 0x80
H_DA, T_DA = 0x02, 0x01
DRDY_H_L, PP_OD, DRDY_EN = 0x80, 0x40, 0x04  # CTRL_REG3
ODR_US = {1: 1_000_000, 2: 142_857, 3: 80_000}  # CTRL_REG1 ODR bits: 1 Hz, 7 Hz, 12.5 Hz


class HTS221(RegisterDevice):
    """The chip. ``temperature`` (°C) and ``humidity`` (%rH): numbers, signal descriptions or
    functions of ``t_us``. The calibration is one plausible part's (each real part has its own,
    written at the factory): T0 = 18.75 °C at code 65, T1 = 36.125 °C at code 1177 (64 codes a
    degree); H0 = 25.5 %rH at code -5340, H1 = 75 %rH at code 7332 (256 codes a percent)."""

    I2C_ADDRESS = 0xBE
    OUTPUT_PINS = ("drdy",)  # the data-ready output (pin 3), while CTRL_REG3's DRDY_EN is set
    auto_increment = 0x80  # I2C: bit 7 of the sub-address asks for auto-increment
    spi_read_bit, spi_increment_bit = 0x80, 0x40

    temperature = SignalAttr()
    humidity = SignalAttr()

    T0_DEGC, T1_DEGC, T0_OUT, T1_OUT = 18.75, 36.125, 65, 1177
    H0_RH, H1_RH, H0_T0_OUT, H1_T0_OUT = 25.5, 75.0, -5340, 7332

    def __init__(self, temperature: Any = 21.0, humidity: Any = 45.0, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.temperature = temperature
        self.humidity = humidity
        self.define(WHO_AM_I, 0xBC, writable=0)
        self.define(AV_CONF, 0x1B, writable=0x3F)  # bits 7:6 reserved
        self.define(CTRL_REG1, 0x00, writable=0x87)  # PD, BDU, ODR1:0
        self.define(CTRL_REG2, 0x00, writable=0x83)  # BOOT, heater, ONE_SHOT
        self.define(CTRL_REG3, 0x00, writable=0xC4)  # DRDY_H_L, PP_OD, DRDY_EN
        self.define(STATUS, 0x00, writable=0)
        for r in range(HUMIDITY_OUT, TEMP_OUT + 2):
            self.define(r, 0x00, writable=0)
        t0x8, t1x8 = round(self.T0_DEGC * 8), round(self.T1_DEGC * 8)
        calibration = {
            0x30: round(self.H0_RH * 2), 0x31: round(self.H1_RH * 2),
            0x32: t0x8 & 0xFF, 0x33: t1x8 & 0xFF, 0x34: 0x00,
            0x35: ((t1x8 >> 8) & 0x03) << 2 | ((t0x8 >> 8) & 0x03),
        }
        for r, v in calibration.items():
            self.define(r, v, writable=0)
        for r, v in ((0x36, self.H0_T0_OUT), (0x38, 0), (0x3A, self.H1_T0_OUT), (0x3C, self.T0_OUT),
                     (0x3E, self.T1_OUT)):
            lo, hi = (v & 0xFFFF).to_bytes(2, "little")
            self.define(r, lo, writable=0)
            self.define(r + 1, hi, writable=0)
        self._sample_us: int | None = None  # when the output registers were last sampled
        self._continuous_from: int | None = None  # continuous mode: the first sample's time
        self._armed = 0  # the data-ready wake-up scheduled last (older ones are stale)

    # --- conversions ----------------------------------------------------------------------------

    def codes(self, t_us: int) -> tuple[int, int]:
        """(humidity code, temperature code) of a conversion at ``t_us``."""
        t = float(self.temperature(t_us))
        h = float(self.humidity(t_us))
        t_code = self.T0_OUT + (t - self.T0_DEGC) * (self.T1_OUT - self.T0_OUT) / (self.T1_DEGC - self.T0_DEGC)
        h_code = self.H0_T0_OUT + (h - self.H0_RH) * (self.H1_T0_OUT - self.H0_T0_OUT) / (self.H1_RH - self.H0_RH)
        return _int16(h_code), _int16(t_code)

    def _convert(self, t_us: int) -> None:
        h_code, t_code = self.codes(t_us)
        self.regs[HUMIDITY_OUT:HUMIDITY_OUT + 2] = (h_code & 0xFFFF).to_bytes(2, "little")
        self.regs[TEMP_OUT:TEMP_OUT + 2] = (t_code & 0xFFFF).to_bytes(2, "little")
        self.regs[STATUS] |= H_DA | T_DA
        self._sample_us = t_us

    def _catch_up(self, t_us: int) -> None:
        """In continuous mode, the latest sample due by ``t_us`` is in the output registers."""
        ctrl = self.regs[CTRL_REG1]
        period = ODR_US.get(ctrl & 0x03)
        start = self._continuous_from
        if not ctrl & PD or period is None or start is None or t_us < start:
            return
        due = start + ((t_us - start) // period) * period
        if self._sample_us is None or due > self._sample_us:
            self._convert(due)

    # --- registers ------------------------------------------------------------------------------

    def read(self, register: int, t_us: int) -> int:
        self._catch_up(t_us)
        value = self.regs[register]
        if register == HUMIDITY_OUT + 1:
            self.regs[STATUS] &= ~H_DA  # H_DA clears when HUMIDITY_OUT_H is read
        elif register == TEMP_OUT + 1:
            self.regs[STATUS] &= ~T_DA  # T_DA clears when TEMP_OUT_H is read
        if register in (HUMIDITY_OUT + 1, TEMP_OUT + 1):
            self._drdy(t_us)
        return value

    def write(self, register: int, value: int, t_us: int) -> None:
        self._catch_up(t_us)
        super().write(register, value, t_us)
        if register == CTRL_REG1:
            ctrl = self.regs[CTRL_REG1]
            if ctrl & PD and ctrl & 0x03:
                self._continuous_from = t_us  # the first sample of the new rate: one period on
                self._continuous_from += ODR_US[ctrl & 0x03]
                self._sample_us = None
            else:
                self._continuous_from = None
        elif register == CTRL_REG2:
            ctrl2 = self.regs[CTRL_REG2]
            if ctrl2 & ONE_SHOT and self.regs[CTRL_REG1] & PD and not self.regs[CTRL_REG1] & 0x03:
                self._convert(t_us)  # a one-shot conversion; the bit clears when it is done
            # BOOT (reload the calibration) and ONE_SHOT clear themselves once done.
            self.regs[CTRL_REG2] = ctrl2 & ~(BOOT | ONE_SHOT) & 0xFF
        self._drdy(t_us)

    # --- the data-ready pin ---------------------------------------------------------------------

    def _drdy(self, t_us: int) -> None:
        """DRDY shows whether new data waits to be read (a status bit set), while DRDY_EN is set;
        active high or low (DRDY_H_L), push-pull or open drain (PP_OD: only the low level is
        driven). With data waiting it stays active until read; otherwise the next continuous
        sample is when it may change."""
        if not self.pins:
            return
        ctrl3 = self.regs[CTRL_REG3]
        waiting = bool(ctrl3 & DRDY_EN and self.regs[STATUS] & (H_DA | T_DA))
        level = int(waiting) ^ (1 if ctrl3 & DRDY_H_L else 0)
        self.pins.set("drdy", level if level == 0 or not ctrl3 & PP_OD else None)
        self._armed += 1
        period = ODR_US.get(self.regs[CTRL_REG1] & 0x03)
        start = self._continuous_from
        if waiting or not ctrl3 & DRDY_EN or not self.regs[CTRL_REG1] & PD or period is None or start is None:
            return
        due = start if t_us < start else start + ((t_us - start) // period + 1) * period
        token = self._armed
        self.pins.after(due - t_us, lambda: self._sampled(token))

    def _sampled(self, token: int) -> None:
        if token == self._armed:
            now = self.pins.now()
            self._catch_up(now)
            self._drdy(now)


def _int16(code: float) -> int:
    return min(32767, max(-32768, int(round(code))))
