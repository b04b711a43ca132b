"""The order of same-instant events, under hypothesis's control (trio's habit), or every one of
them in turn.

The virtual clock lets events of different sources due at the same microsecond run in any order
(each source stays first in, first out; see :mod:`impapi.clock`): first in, first out
(``tie_break=None``), with choices drawn from a ``random.Random``, or with any object that
chooses. :data:`TIE_RANDOM`
is registered with hypothesis (``hypothesis.register_random``) by the entry-point plugin
:mod:`impapi.testing._hypothesis_plugin`, so hypothesis seeds it at the start of every example:
with 0 by default, or with a drawn, shrinkable seed when the test draws
``st.random_module()`` (``scenarios(interleavings=True)`` does).

:func:`tie_seed` turns that into something a run can be replayed with: ``None`` (first-in
first-out) outside a hypothesis test and whenever hypothesis left the generator at seed 0 (so a
shrunk interleaving reads "no reordering"), else an integer drawn from it; a simulation's clock
then gets ``random.Random(tie_seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TypeVar

from impapi.clock import RandomOrder

T = TypeVar("T")

__all__ = ["TIE_RANDOM", "Choices", "every_order", "register", "registered", "tie_seed"]

TIE_RANDOM = random.Random(0)
_ZERO_STATE = random.Random(0).getstate()
_registered = False


def register() -> None:
    """Hand :data:`TIE_RANDOM` to hypothesis (idempotent). Called by the plugin entry point."""
    global _registered
    if _registered:
        return
    from hypothesis import register_random

    register_random(TIE_RANDOM)
    _registered = True


def registered() -> bool:
    return _registered


def tie_seed() -> int | None:
    """The tie-break seed for a simulation started now: None (first-in first-out) unless
    hypothesis is running a test and has seeded :data:`TIE_RANDOM` with something other than 0."""
    if not _registered:
        return None
    from hypothesis import currently_in_test_context

    if not currently_in_test_context() or TIE_RANDOM.getstate() == _ZERO_STATE:
        return None
    return TIE_RANDOM.getrandbits(32)


def clock_tie_break(seed: int | None) -> RandomOrder | None:
    """What :class:`impapi.clock.Clock` takes for a tie seed."""
    return None if seed is None else RandomOrder(random.Random(seed))


class Choices:
    """A tie-break that makes the given choices, then first in, first out (0), and records every
    choice it made with the number of candidates it had: ``made`` is a list of (choice, n)."""

    __slots__ = ("prefix", "made")

    def __init__(self, prefix: tuple[int, ...] | list[int] = ()) -> None:
        self.prefix = tuple(prefix)
        self.made: list[tuple[int, int]] = []

    def choose(self, n: int) -> int:
        i = len(self.made)
        choice = min(self.prefix[i], n - 1) if i < len(self.prefix) else 0
        self.made.append((choice, n))
        return choice

    @property
    def choices(self) -> tuple[int, ...]:
        return tuple(c for c, _ in self.made)


def every_order(run: Callable[[Choices], T], *, limit: int | None = None) -> Iterator[tuple[tuple[int, ...], T]]:
    """Call ``run(tie_break)`` once for every order the clock can give same-instant events,
    depth first (a run is deterministic given its choices, so re-running a prefix reaches the
    same choice point): yields ``(choices, result)``. The first is first in, first out.
    ``limit``: raise ``RuntimeError`` rather than run more than that many times."""
    prefix: tuple[int, ...] = ()
    runs = 0
    while True:
        if limit is not None and runs >= limit:
            raise RuntimeError(f"more than {limit} orders: make the scenario smaller")
        order = Choices(prefix)
        result = run(order)
        runs += 1
        yield order.choices, result
        made = order.made
        i = len(made) - 1
        while i >= 0 and made[i][0] + 1 >= made[i][1]:
            i -= 1
        if i < 0:
            return
        prefix = tuple(c for c, _ in made[:i]) + (made[i][0] + 1,)
