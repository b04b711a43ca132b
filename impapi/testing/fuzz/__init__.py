"""Fuzzing polite deployment with hypothesis.

    from hypothesis import given, settings
    from impapi.testing import scenarios, checks, play

    @settings(deadline=None)      # a two-day run takes about a second of real time
    @given(scenarios(duration="2d", events=["impos", "deploy", "power-cycle", "offline"],
                     app="logger.device.nut"))
    def test_logger_is_polite(scn):
        run = play("logger.device.nut", scn)   # or Simulation(device=...).play(scn)
        checks.polite(run)                       # raises a PoliteViolation explaining the rule

Modules, one job each: :mod:`.strategies` (scenarios), :mod:`.run` (playing one, the
:class:`Run` record), :mod:`.checks` (the seed's best practices as checks), :mod:`.machine`
(a stateful machine), :mod:`.engine` (``impsim fuzz``: search, shrink, report),
:mod:`.coverage` (which app lines ran), :mod:`.ties` (same-instant order under hypothesis),
:mod:`.source` (where in the app a rule was broken).

Attributes are imported lazily, so the hypothesis plugin can import :mod:`.ties` cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any

# The event kinds scenarios draw from by default (the vocabulary). Here, not in
# .strategies, so that `impsim --help` does not need hypothesis.
DEFAULT_EVENTS = ("impos", "deploy", "power-cycle", "offline")

_EXPORTS = {
    "scenarios": "strategies",
    "event_kinds": "strategies",
    "activity_of": "strategies",
    "play": "run",
    "Run": "run",
    "PoliteViolation": "checks",
    "PoliteMachine": "machine",
    "machine_for": "machine",
    "fuzz": "engine",
    "FuzzResult": "engine",
}
__all__ = ["DEFAULT_EVENTS", "FuzzResult", "PoliteMachine", "PoliteViolation", "Run", "activity_of", "checks",
           "event_kinds", "fuzz", "machine_for", "play", "scenarios"]


def __getattr__(name: str) -> Any:
    if name == "checks":
        return importlib.import_module(f"{__name__}.checks")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
