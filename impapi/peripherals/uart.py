"""What can sit at the other end of a UART: a loopback, a Python function, or a script of
expected and answered bytes. Each implements :class:`~impapi.peripherals.UARTPeer`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .base import UARTLine

__all__ = ["Loopback", "Responder", "Script", "Step"]


class Loopback:
    """TX wired to RX: every byte the imp sends comes straight back."""

    def uart_attached(self, line: UARTLine) -> None:
        self.line = line

    def uart_receive(self, data: bytes, t_us: int) -> None:
        self.line.send(data)


class Responder:
    """A Python function ``fn(data, t_us)`` sees what the imp sends and returns the bytes to
    answer (or None for nothing), sent ``delay_us`` later."""

    def __init__(self, fn: Callable[[bytes, int], Any], delay_us: int = 0) -> None:
        self.fn = fn
        self.delay_us = delay_us

    def uart_attached(self, line: UARTLine) -> None:
        self.line = line

    def uart_receive(self, data: bytes, t_us: int) -> None:
        answer = self.fn(data, t_us)
        if answer:
            self.line.send(answer.encode("utf-8") if isinstance(answer, str) else bytes(answer), self.delay_us)


@dataclass(frozen=True)
class Step:
    """One step of a :class:`Script`: wait for ``expect`` (None: do not wait), then ``delay_us``
    later send ``send`` (b"": nothing)."""

    expect: bytes | None = None
    send: bytes = b""
    delay_us: int = 0


class Script:
    """A peer that follows a script, step by step.

    A step with ``expect`` waits until the bytes the imp has sent since the previous match
    contain it (bytes before the match are skipped, and kept in ``skipped``), then answers; a
    step without waits for nothing and sends ``delay_us`` after the previous step. With
    ``repeat`` the script starts again after its last step. ``done`` tells whether it got to
    the end; ``waiting`` is the step it waits on."""

    def __init__(self, steps: list[Step] | tuple[Step, ...], repeat: bool = False) -> None:
        self.steps = tuple(steps)
        if not self.steps:
            raise ValueError("a UART script needs at least one step")
        self.repeat = repeat
        if repeat and all(s.expect is None for s in self.steps) and not any(s.delay_us for s in self.steps):
            raise ValueError("a repeating UART script needs a step that expects bytes or a step with a delay: "
                             "otherwise it would send for ever at one instant")
        self.index = 0
        self.buffer = bytearray()
        self.skipped = bytearray()
        self.line: UARTLine | None = None

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    @property
    def waiting(self) -> Step | None:
        return None if self.done else self.steps[self.index]

    def uart_attached(self, line: UARTLine) -> None:
        self.line = line
        self._advance()

    def uart_receive(self, data: bytes, t_us: int) -> None:
        self.buffer += data
        step = self.waiting
        if step is None or step.expect is None:
            return
        at = self.buffer.find(step.expect)
        if at < 0:
            return
        self.skipped += self.buffer[:at]
        del self.buffer[:at + len(step.expect)]
        self._finish(step)

    def _finish(self, step: Step) -> None:
        """``step``'s condition holds now: send its bytes and go on once they are out."""
        assert self.line is not None
        if step.send:
            self.line.send(step.send, step.delay_us)
        self.index += 1
        if self.index >= len(self.steps) and self.repeat:
            self.index = 0
        if step.delay_us:
            self.line.after(step.delay_us, self._advance)
        else:
            self._advance()

    def _advance(self) -> None:
        step = self.waiting
        if step is None or step.expect is not None:
            if step is not None and self.buffer:
                self.uart_receive(b"", 0)  # what already arrived may satisfy it
            return
        self._finish(step)
