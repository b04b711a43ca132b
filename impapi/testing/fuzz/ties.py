"""The order of same-instant events, under hypothesis's control (trio's habit).

The virtual clock breaks ties between events due at the same microsecond either first-in
first-out (``tie_break=None``) or with keys drawn from a ``random.Random``. :data:`TIE_RANDOM`
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

__all__ = ["TIE_RANDOM", "register", "registered", "tie_seed"]

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


def clock_tie_break(seed: int | None) -> random.Random | None:
    """What :class:`impapi.clock.Clock` takes for a tie seed."""
    return None if seed is None else random.Random(seed)
