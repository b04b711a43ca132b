"""How Squirrel stops: the exceptions non-returning natives raise (or return: the binding stops
the script the same way, and the sleep natives that end every boot of a sleepy imp spare Python
a traceback through their frames).

They derive from :class:`squirrel.Uncatchable`, so a ``try/catch`` in the app cannot swallow
them and code after the call never runs; the device or agent that ran the event catches them
and performs the transition (imp-api.md §1.2, §1.3, §4.2)."""

from __future__ import annotations

import squirrel


class Halt(squirrel.Uncatchable):
    """Squirrel stops and its VM is destroyed."""

    with_stack = False  # the device or agent performs the transition; where Squirrel was is moot


class DeepSleep(Halt):
    """``imp.deepsleepfor/until``, ``server.sleepfor/until``: warm boot at ``wake_us``."""

    def __init__(self, wake_us: int, flush: bool) -> None:
        # What Exception.__init__ would do, without the call through super(): a sleepy imp makes
        # one at every boot (7,300 -> 5,750 machine instructions, callgrind).
        self.args = (f"deep sleep until {wake_us}us",)
        self.wake_us = wake_us
        self.flush = flush


class Restart(Halt):
    """The VM restarts with ``wakereason`` (``server.restart``, ``imp.reset``, an update)."""

    def __init__(self, wakereason: int, *, cold: bool = False, exit_code: str | None = None) -> None:
        super().__init__(f"restart (wake reason {wakereason})")
        self.wakereason = wakereason
        self.cold = cold
        self.exit_code = exit_code


class Snooze(Halt):
    """SUSPEND_ON_ERROR could not reconnect: impOS sleeps and retries (imp-api.md §2.3)."""

    def __init__(self) -> None:
        super().__init__("snooze and retry")
