"""``hardware.pinX``: configure, read, write, getdutycycle, disable (docs/imp-model/hardware.md, "pin").

A pin starts each boot unconfigured. What it reads comes from the board (what drives it from
outside, else its pull, else the configured floating level); what it writes goes to the board
and to the event record (kind ``pin``)."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..api import DEVICE, ImpError
from ..pinmux import ADC, DAC, PULSE, PWM, WAKE
from .objects import PIN, need_function, need_number, objects, run_of, wrong_count

MODE_NAMES = {v: k for k, v in C.PIN_MODES.items()}
# Input modes and the pull each applies (None: none; the wake input is pulled down).
INPUT_PULL = {C.DIGITAL_IN: None, C.DIGITAL_IN_PULLUP: 1, C.DIGITAL_IN_PULLDOWN: 0, C.DIGITAL_IN_WAKEUP: 0}
OUTPUTS = (C.DIGITAL_OUT, C.DIGITAL_OUT_OD, C.DIGITAL_OUT_OD_PULLUP)
# The capability a mode needs beyond plain digital I/O.
NEEDS = {C.ANALOG_IN: ADC, C.ANALOG_OUT: DAC, C.PWM_OUT: PWM, C.PWM_OUT_STEPS: PWM, C.DIGITAL_IN_WAKEUP: WAKE,
         C.PULSE_COUNTER: PULSE}
FULL_SCALE = 65535  # ANALOG_IN reads 0 (0 V) to 65535 (the supply voltage)


class PinState:
    __slots__ = ("run", "index", "name", "caps", "mode", "pull", "callback", "level", "value", "period",
                 "seen", "listener", "duration")

    def __init__(self, run: Any, index: int) -> None:
        spec = run.mux.pins[index]
        self.run = run
        self.index = index
        self.name = spec.name
        self.caps = spec.caps
        self.mode: int | None = None
        self.pull: int | None = None
        self.callback: Any = None
        self.level = 0  # digital output level
        self.value = 0.0  # PWM duty or DAC level
        self.period = 0.0
        self.duration = 0.0  # pulse counter gate time
        self.seen: int | None = None  # the input level the callback last saw
        self.listener: Any = None

    # --- inputs -----------------------------------------------------------------------------

    def input_level(self) -> int:
        return self.run.board.input_level(self.name, self.pull)

    def listen(self) -> None:
        line = self.run.board.line(self.name)
        if self.listener is None:
            self.listener = self._changed
            line.listeners.append(self.listener)
        self.seen = self.input_level()

    def _changed(self, _level: int) -> None:
        level = self.input_level()
        if level != self.seen:
            self.seen = level
            if self.callback is not None and self.run.host.alive:
                self.run.schedule(0, self.callback)

    def detach(self) -> None:
        if self.listener is not None:
            line = self.run.board.line(self.name)
            if self.listener in line.listeners:
                line.listeners.remove(self.listener)
            self.listener = None
        if self.mode in OUTPUTS:
            self.run.board.output(self.name, None, self.run.clock.now_us)

    # --- outputs ----------------------------------------------------------------------------

    def drive(self, level: int) -> None:
        self.level = level
        run = self.run
        now = run.clock.now_us
        # An open-drain output that is released does not drive the line.
        run.board.output(self.name, None if (level and self.mode != C.DIGITAL_OUT) else level, now)
        run.record("pin", pin=self.name, mode=MODE_NAMES[self.mode], value=level)


def _state(host: Any, pid: int) -> PinState:
    run = run_of(host)
    state = run.pins.get(pid)
    if state is None:
        if not 0 <= pid - PIN < len(run.mux.pins):
            raise ImpError("this is not a pin")
        state = run.pins[pid] = PinState(run, pid - PIN)
    return state


def _flag(value: Any, n: int) -> int:
    """A level (bool or number, parameter ``n``) as 0 or 1."""
    if isinstance(value, bool):
        return int(value)
    return 1 if need_number(n, value) != 0 else 0


@objects.native((DEVICE,), this=True)
def pin_configure(host: Any, pid: int, mode: int, *extra: Any) -> None:
    p = _state(host, pid)
    name = MODE_NAMES.get(mode)
    if name is None:
        raise ImpError(f"invalid pin configuration {mode}")
    need = NEEDS.get(mode)
    if need is not None and need not in p.caps:
        raise ImpError(f"{p.name} cannot be configured as {name}")
    p.detach()
    p.callback = None
    p.pull = None
    p.mode = mode
    if mode in INPUT_PULL:
        if len(extra) > 1:
            raise wrong_count()
        callback = extra[0] if extra else None
        if callback is not None:
            need_function(2, callback)
        p.pull = INPUT_PULL[mode]
        p.callback = callback
        p.listen()
    elif mode in OUTPUTS:
        if len(extra) > 1:
            raise wrong_count()
        if mode == C.DIGITAL_OUT_OD_PULLUP:
            p.pull = 1
        p.drive(_flag(extra[0], 2) if extra else 0)
    elif mode == C.ANALOG_IN:
        if extra:
            raise wrong_count()
    elif mode == C.ANALOG_OUT:
        if len(extra) > 1:
            raise wrong_count()
        p.value = min(1.0, max(0.0, need_number(2, extra[0]))) if extra else 0.0
        p.run.record("pin", pin=p.name, mode=name, value=p.value)
    elif mode in (C.PWM_OUT, C.PWM_OUT_STEPS):
        if len(extra) not in (2, 3):
            raise wrong_count()
        period = need_number(2, extra[0])
        if period <= 0:
            raise ImpError("the PWM period must be greater than zero")
        p.period = period
        p.value = min(1.0, max(0.0, need_number(3, extra[1])))
        if len(extra) == 3:
            need_number(4, extra[2])
        p.run.record("pin", pin=p.name, mode=name, duty=p.value, period=period)
    elif mode == C.PULSE_COUNTER:
        if len(extra) != 1:
            raise wrong_count()
        duration = need_number(2, extra[0])
        if duration <= 0:
            raise ImpError("the pulse counter's sample time must be greater than zero")
        p.duration = duration


@objects.native((DEVICE,), this=True)
def pin_read(host: Any, pid: int) -> Any:
    p = _state(host, pid)
    mode = p.mode
    if mode is None or mode in INPUT_PULL:
        return p.input_level()
    if mode == C.DIGITAL_OUT:
        return p.level
    if mode in OUTPUTS:  # open drain: low when driven low, else whatever the line is
        return 0 if p.level == 0 else p.input_level()
    if mode == C.ANALOG_IN:
        return int(p.run.board.analog_level(p.name, host.clock.now_us) * FULL_SCALE + 0.5)
    if mode == C.PULSE_COUNTER:
        # Blocks for the gate time, as imp.sleep does (the device's VM alone waits), counting the
        # rising edges of what drives the pin meanwhile (nothing attached: none).
        start = host.clock.now_us
        gate = int(round(p.duration * 1e6))
        count = p.run.board.rising_edges(p.name, None, start, start + gate)
        host.block_until(start + gate)
        return count
    return p.value  # ANALOG_OUT, PWM_OUT: the level or duty last set


@objects.native((DEVICE,), this=True)
def pin_write(host: Any, pid: int, value: float | bool) -> None:
    p = _state(host, pid)
    mode = p.mode
    if mode in OUTPUTS:
        p.drive(_flag(value, 1))
    elif mode in (C.PWM_OUT, C.PWM_OUT_STEPS, C.ANALOG_OUT):
        p.value = min(1.0, max(0.0, need_number(1, value)))
        key = "value" if mode == C.ANALOG_OUT else "duty"
        p.run.record("pin", pin=p.name, mode=MODE_NAMES[mode], **{key: p.value})
    elif not isinstance(value, bool):
        need_number(1, value)  # checked, then ignored: the pin is not an output


@objects.native((DEVICE,), this=True)
def pin_getdutycycle(host: Any, pid: int) -> float:
    p = _state(host, pid)
    return p.value if p.mode in (C.PWM_OUT, C.PWM_OUT_STEPS) else 0.0


@objects.native((DEVICE,), this=True)
def pin_disable(host: Any, pid: int) -> None:
    p = _state(host, pid)
    p.detach()
    p.mode = None
    p.pull = None
    p.callback = None
