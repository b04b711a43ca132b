"""What a person at a terminal sees: colour when they want it, and one line of progress for
commands that can take a while.

Colour: ``--color auto`` (the default) colours output written to a terminal unless the
``NO_COLOR`` environment variable is set and not empty (no-color.org); ``always`` and ``never``
decide regardless.

Progress: the line goes to a terminal only (never into a file or a pipe), appears only once a command has
been busy for a moment, is redrawn in place a few times a second at most, and is cleared before
anything else is printed and at the end. Reading the wall clock here is fine: progress is about
the person waiting, never about the simulation.
"""

from __future__ import annotations

import os
import time
from typing import IO, Callable

CLEAR = "\r\x1b[K"
COLOR_CHOICES = ("auto", "always", "never")
ANSI = {"grey": "90", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}


def is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def use_color(choice: str, stream: object) -> bool:
    """Whether to colour what goes to ``stream`` for a ``--color`` choice."""
    if choice == "auto":
        return is_terminal(stream) and not os.environ.get("NO_COLOR")
    return choice == "always"


def paint(color: str, text: str) -> str:
    """``text`` in one of :data:`ANSI`'s colours (then the terminal's default colour again)."""
    return f"\x1b[{ANSI[color]}m{text}\x1b[39m" if text else text


def bar(fraction: float, width: int = 24) -> str:
    """``[#####.......]`` for a fraction between 0 and 1."""
    filled = min(width, max(0, int(width * fraction)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class StatusLine:
    """A line of text kept at the bottom of a terminal.

    ``show(text)`` asks for the line to say ``text`` (drawn if the command has been running for
    ``delay`` seconds and the last drawing is ``interval`` seconds old); ``clear()`` removes it
    before other output (the next ``show`` draws it again); ``close()`` removes it for good.
    On a stream that is not a terminal nothing is ever written.
    """

    def __init__(self, stream: IO[str], *, delay: float = 1.0, interval: float = 0.2,
                 enabled: bool | None = None, now: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = is_terminal(stream) if enabled is None else enabled
        self._now = now
        self._start = now()
        self._delay = delay
        self._interval = interval
        self._drawn_at: float | None = None
        self._visible = False

    def show(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        t = self._now()
        if not force and (t - self._start < self._delay
                          or (self._drawn_at is not None and t - self._drawn_at < self._interval)):
            return
        self.stream.write(CLEAR + text)
        self.stream.flush()
        self._drawn_at, self._visible = t, True

    def clear(self) -> None:
        if self._visible:
            self.stream.write(CLEAR)
            self.stream.flush()
            self._visible = False

    def close(self) -> None:
        self.clear()
        self.enabled = False

    @property
    def visible(self) -> bool:
        return self._visible
