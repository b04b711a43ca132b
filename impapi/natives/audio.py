"""``hardware.fixedfrequencydac`` and ``hardware.sampler``: buffers played and filled in virtual time
(docs/imp-model/hardware.md).

The DAC plays its queued buffers one after another at the sample rate; as each finishes, the
callback receives it (to refill and ``addbuffer()``); with no buffer left it stops. The sampler
fills its buffers round-robin with what the pins' analog sources give at each sample time and
passes each full buffer to the callback with its length; the buffer is reused after."""

from __future__ import annotations

import math
from typing import Any

import squirrel

from .. import constants as C
from ..api import DEVICE, Array, Blob, Callback, ImpError
from ..pinmux import ADC, DAC
from .objects import PIN, PWMPAIR, mux_of, need_number, objects, run_of


def _blobs(n: int, buffers: squirrel.Array) -> list:
    out = list(buffers)
    if not out or not all(isinstance(b, squirrel.Blob) for b in out):
        raise ImpError(f"parameter {n} must be an array of blobs")
    return out


def _rate(n: int, value: Any) -> float:
    rate = need_number(n, value)
    if rate <= 0:
        raise ImpError("the sample rate must be greater than zero")
    return rate


def _pin_name(run: Any, oid: Any, need: str) -> str:
    """The name of the pin (or imp004m PWM pair) passed as a DAC or sampler pin."""
    if isinstance(oid, int) and 0 <= oid - PIN < len(run.mux.pins):
        spec = run.mux.pins[oid - PIN]
        if need not in spec.caps:
            raise ImpError(f"{spec.name} cannot be used for {'analog output' if need == DAC else 'analog input'}")
        return spec.name
    if need == DAC and isinstance(oid, int) and 0 <= oid - PWMPAIR < len(run.mux.pwmpair):
        return run.mux.pwmpair[oid - PWMPAIR]
    raise ImpError("parameter 1 must be a pin")


class _Stream:
    """What the DAC and the sampler share: a rate, buffers, a callback and one pending event."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.pending: Any = None
        self.configured = False

    def cancel(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None

    def end(self) -> None:
        self.cancel()

    def after(self, us: int, fn: Any) -> None:
        self.pending = self.run.clock.schedule(max(1, us), self._fire, fn)

    def _fire(self, fn: Any) -> None:
        self.pending = None
        if self.run.host.alive:
            fn()


class DACState(_Stream):
    running = False  # started and not stopped (it may be waiting for a buffer)

    def configure(self, pin: str, rate: float, buffers: list, callback: Any, flags: int) -> None:
        self.cancel()
        self.running = False
        self.pin, self.rate, self.queue, self.callback, self.flags = pin, rate, buffers, callback, flags
        self.configured = True

    def start(self) -> None:
        self.running = True
        if self.pending is None:
            self._next()

    def stop(self) -> None:
        self.running = False
        self.cancel()

    def _next(self) -> None:
        if not self.queue:
            return  # out of buffers: silent until addbuffer() gives it one
        buffer = self.queue.pop(0)
        size = len(buffer)
        samples = size if self.flags & C.A_LAW_DECOMPRESS else size // 2
        self.run.record("dac", pin=self.pin, samples=samples, rate=self.rate)
        self.after(int(math.ceil(samples * 1e6 / self.rate)), lambda: self._done(buffer))

    def _done(self, buffer: Any) -> None:
        self.run.schedule(0, self.callback, buffer)
        self._next()


class SamplerState(_Stream):
    def configure(self, pins: list[str], rate: float, buffers: list, callback: Any, flags: int) -> None:
        self.cancel()
        self.pins, self.rate, self.buffers, self.callback, self.flags = pins, rate, buffers, callback, flags
        self.width = 1 if flags & C.A_LAW_COMPRESS else 2
        self.next_buffer = 0
        self.started_us = 0
        self.configured = True

    def frames(self, buffer: Any) -> int:
        return len(buffer) // (self.width * len(self.pins))

    def start(self) -> None:
        if self.pending is None and self.configured:
            self._begin()

    def _begin(self) -> None:
        buffer = self.buffers[self.next_buffer]
        self.started_us = self.run.clock.now_us
        self.after(int(math.ceil(self.frames(buffer) * 1e6 / self.rate)), self._full)

    def _sample(self, level: float) -> bytes:
        if self.width == 1:
            return bytes([alaw(int(round((level - 0.5) * 65535)))])
        return int(level * 65535 + 0.5).to_bytes(2, "little")

    def _fill(self, buffer: Any, frames: int) -> int:
        board, t0 = self.run.board, self.started_us
        if all(board.line(pin).analog is None for pin in self.pins):
            # Nothing attached: every frame is the same (a buffer of audio is thousands of frames).
            out = b"".join(self._sample(board.analog_level(pin, t0)) for pin in self.pins) * frames
        else:
            frame = bytearray()
            for i in range(frames):
                t = t0 + int(i * 1e6 / self.rate)
                for pin in self.pins:
                    frame += self._sample(board.analog_level(pin, t))
            out = bytes(frame)
        buffer.seek(0)
        buffer.writeblob(self.run.host.vm.new_blob(bytes(out)))
        buffer.seek(0)
        return len(out)

    def _full(self) -> None:
        buffer = self.buffers[self.next_buffer]
        length = self._fill(buffer, self.frames(buffer))
        self.next_buffer = (self.next_buffer + 1) % len(self.buffers)
        self.run.schedule(0, self.callback, buffer, length)
        self._begin()

    def stop(self) -> None:
        """The partly filled buffer goes to the callback with what it holds."""
        if self.pending is None:
            return
        self.cancel()
        buffer = self.buffers[self.next_buffer]
        frames = min(self.frames(buffer), int((self.run.clock.now_us - self.started_us) * self.rate / 1e6))
        length = self._fill(buffer, frames)
        self.next_buffer = (self.next_buffer + 1) % len(self.buffers)
        self.run.schedule(0, self.callback, buffer, length)


def alaw(sample: int) -> int:
    """G.711 A-law code of a signed 16-bit sample."""
    sample = max(-32768, min(32767, sample)) >> 3  # 13 bits
    sign = 0x80 if sample >= 0 else 0
    if sample < 0:
        sample = -sample - 1
    if sample < 32:
        code = sample >> 1
    else:
        exponent = min(7, sample.bit_length() - 5)
        code = (exponent << 4) | ((sample >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def _dac(host: Any) -> DACState:
    run = run_of(host)
    state = run.extras.get("dac")
    if state is None:
        state = run.extras["dac"] = DACState(run)
    return state


def _sampler(host: Any) -> SamplerState:
    run = run_of(host)
    state = run.extras.get("sampler")
    if state is None:
        state = run.extras["sampler"] = SamplerState(run)
    return state


def _has_dac(host: Any) -> bool:
    return mux_of(host).fixedfrequencydac


def _has_sampler(host: Any) -> bool:
    return mux_of(host).sampler


@objects.native((DEVICE,), available=_has_dac)
def dac_configure(host: Any, pin: int, rate: float, buffers: Array, callback: Callback, flags: int) -> None:
    dac = _dac(host)  # pin: the id the method passes, -1 for anything that is not a pin
    dac.configure(_pin_name(dac.run, pin, DAC), _rate(2, rate), _blobs(3, buffers), callback, flags)


@objects.native((DEVICE,), available=_has_dac)
def dac_start(host: Any) -> None:
    dac = _dac(host)
    if not dac.configured:
        raise ImpError("fixedfrequencydac is not configured")
    dac.start()


@objects.native((DEVICE,), available=_has_dac)
def dac_stop(host: Any) -> None:
    _dac(host).stop()


@objects.native((DEVICE,), available=_has_dac)
def dac_addbuffer(host: Any, buffer: Blob) -> None:
    dac = _dac(host)
    if not dac.configured:
        raise ImpError("fixedfrequencydac is not configured")
    dac.queue.append(buffer)
    if dac.running and dac.pending is None:
        dac._next()


@objects.native((DEVICE,), available=_has_sampler)
def sampler_configure(host: Any, pins: int | Array, rate: float, buffers: Array, callback: Callback,
                      flags: int) -> None:
    sampler = _sampler(host)
    run = sampler.run
    ids = list(pins) if isinstance(pins, squirrel.Array) else [pins]
    if not ids:
        raise ImpError("parameter 1 must be a pin or an array of pins")
    sampler.configure([_pin_name(run, oid, ADC) for oid in ids], _rate(2, rate), _blobs(3, buffers),
                      callback, flags)


@objects.native((DEVICE,), available=_has_sampler)
def sampler_start(host: Any) -> None:
    sampler = _sampler(host)
    if not sampler.configured:
        raise ImpError("sampler is not configured")
    sampler.start()


@objects.native((DEVICE,), available=_has_sampler)
def sampler_stop(host: Any) -> None:
    _sampler(host).stop()


@objects.native((DEVICE,), available=_has_sampler)
def sampler_reset(host: Any) -> None:
    sampler = _sampler(host)
    sampler.cancel()
    sampler.configured = False


@objects.native((DEVICE,), available=_has_sampler)
def sampler_getsampleratehz(host: Any) -> float:
    sampler = _sampler(host)
    return float(sampler.rate) if sampler.configured else 0.0
