"""The crash-loop rule: when a device's runs keep ending in error restarts.

One rule serves ``impsim run`` (exit status 1, ``Simulation.crash_loop``) and the fuzzer's
``no-crash-loop`` check, so the two never disagree about the same run:

    A crash loop is ``limit`` (``Config.crash_loop_boots``) runs of Squirrel in a row that each
    ended in an error restart: an uncaught runtime error, the watchdog, or running out of
    memory. A run that ends any other way (deep sleep, a snooze, ``server.restart()``,
    ``imp.reset()``, a restart for an update) and a power change end the streak.

The rule reads the structured record (:mod:`impapi.events`): each error restart is an ``error``
event, each run starts with a ``boot`` event, and ``power`` events are the power changes. A
boot that follows a run that did not end in an ``error`` event ends the streak; so does any
``power`` event. The wake reason of a boot does not matter: a run that installed an update as it
started and then crashed still crashed.
"""

from __future__ import annotations

from .events import Event

__all__ = ["CrashStreak"]


class CrashStreak:
    """Feed it the events of one device in order (:meth:`see`); ``errors`` is the current
    streak's ``error`` events, ``loop`` the errors of the first crash loop (None: none yet)."""

    __slots__ = ("limit", "errors", "loop", "_ended_in_error")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.errors: list[Event] = []
        self.loop: list[Event] | None = None
        self._ended_in_error = False  # the current run has ended in an error restart

    def see(self, event: Event) -> bool:
        """Take the next event; True when it completes the first crash loop."""
        kind = event.kind
        if kind == "error":
            self.errors.append(event)
            self._ended_in_error = True
            if self.loop is None and len(self.errors) >= self.limit:
                self.loop = list(self.errors)
                return True
        elif kind == "boot":
            if not self._ended_in_error:
                self.errors.clear()
            self._ended_in_error = False
        elif kind == "power":
            self.errors.clear()
            self._ended_in_error = False
        return False
