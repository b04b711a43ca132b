"""Exceptions raised by the binding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One Squirrel call frame, innermost first in a traceback."""

    function: str
    file: str
    line: int
    locals: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        where = "native code" if self.line < 0 else f'File "{self.file}", line {self.line}'
        return f"  {where}, in {self.function}"


def format_traceback(frames: list[Frame]) -> str:
    """Python-style: most recent call last."""
    lines = ["Squirrel traceback (most recent call last):"]
    for f in reversed(frames):
        lines.append(str(f))
        for name, value in f.locals.items():
            lines.append(f"    {name} = {value}")
    return "\n".join(lines)


class SquirrelError(Exception):
    """Base class of every error the binding raises for the script."""


class CompileError(SquirrelError, SyntaxError):
    """The source does not compile. ``filename``, ``lineno`` and ``offset`` (the column) point at
    the error, after ``#line`` directives are applied; ``text`` is the offending line."""

    def __init__(self, message: str, filename: str, lineno: int, column: int, text: str | None) -> None:
        SyntaxError.__init__(self, message, (filename, lineno, column, text))
        self.column = column

    def __str__(self) -> str:
        s = f"{self.filename}:{self.lineno}:{self.column}: {self.msg}"
        if self.text:
            s += f"\n    {self.text.rstrip()}\n    {' ' * max(self.column - 1, 0)}^"
        return s


class ScriptError(SquirrelError):
    """An error raised by the script and caught by nothing in it.

    ``value`` is what the script threw (usually the message string), ``traceback`` the Squirrel
    call stack at the raise point, innermost frame first."""

    def __init__(self, message: str, value: Any = None, traceback: list[Frame] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.traceback: list[Frame] = traceback or []

    @property
    def location(self) -> tuple[str, int] | None:
        """(file, line) of the innermost Squirrel frame, if any."""
        for f in self.traceback:
            if f.line >= 0:
                return f.file, f.line
        return None

    def format(self) -> str:
        return f"{format_traceback(self.traceback)}\n{self.message}" if self.traceback else self.message

    def __str__(self) -> str:
        loc = self.location
        return f"{self.message} ({loc[0]}:{loc[1]})" if loc else self.message


class MemoryLimitError(SquirrelError, MemoryError):
    """The VM went over its memory limit. The script was stopped (try/catch cannot take it);
    what the stack held is freed and the VM stays usable."""


class TimeLimitError(SquirrelError, TimeoutError):
    """The call ran out of its instruction budget or its wall-clock time. The script was stopped
    (try/catch cannot take it) and the VM stays usable."""


class Uncatchable(Exception):
    """Raise a subclass of this from a Python native to stop the script: Squirrel try/catch cannot
    catch it, and it reaches the Python caller unchanged (with the Squirrel stack as a note).
    A native may also return it: the same stop, without a Python traceback through the native's
    own frames (for natives whose every call ends the script, such as an imp's sleep)."""

    #: False on a subclass whose stop is an ordinary end its host handles (nobody reads where the
    #: script was): the stop then costs no Squirrel stack.
    with_stack = True
