"""Hypothesis plugin (entry point group ``hypothesis``, run when hypothesis is imported).

Registers the random generator the simulated clock breaks same-instant ties with, so that
hypothesis seeds it per example and can explore and shrink interleavings — the way trio hands
its scheduler's random to hypothesis. Outside hypothesis tests the order stays first-in
first-out (see :mod:`impapi.testing.fuzz.ties`)."""

from __future__ import annotations


def setup() -> None:
    from .fuzz.ties import register

    register()
