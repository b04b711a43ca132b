"""Make a failing program small: delta debugging over its chunks, then over its lines.

A candidate still fails when running it gives the same outcome class with the same signature
(:meth:`~.runner.Outcome.signature`), so a crash does not shrink into a different crash, nor a
crash into a compile error. Each test is a run in a forked child (:class:`~.runner.Pool`);
``budget`` caps the CPU seconds a shrink may spend (hangs cost their whole budget per test).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from .generator import Program
from .runner import Job, Outcome, Pool

T = TypeVar("T")


def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` for which ``fails`` holds (``fails`` must
    hold for ``items``)."""
    items = list(items)
    n = 2
    while len(items) >= 2:
        size = len(items) // n
        chunks = [items[i:i + size] for i in range(0, len(items), size)] if size else [[x] for x in items]
        reduced = False
        for i, c in enumerate(chunks):
            if fails(c):  # one chunk alone
                items, n, reduced = c, 2, True
                break
            rest = [x for j, other in enumerate(chunks) if j != i for x in other]
            if len(chunks) > 2 and fails(rest):  # everything but one chunk
                items, n, reduced = rest, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    if len(items) == 1 and fails([]):
        return []
    return items


class _OutOfBudget(Exception):
    pass


def shrink(pool: Pool, failure: Outcome, program: Program, budget: float = 300.0) -> tuple[Program, Outcome]:
    """The smallest program found that fails like ``failure``, and its outcome."""
    target = failure.signature()
    start_cpu = pool.cpu_total
    best = [program, failure]

    def fails(candidate: Program) -> bool:
        if pool.cpu_total - start_cpu > budget:
            raise _OutOfBudget
        outcome = pool.run_one(Job(failure.seed, failure.mode, candidate))
        if outcome.signature() == target:
            best[0], best[1] = candidate, outcome
            return True
        return False

    # Chunks of both sides in one list, tagged with their side, so either side can go.
    tagged = [("d", c) for c in program.chunks] + [("a", c) for c in program.agent_chunks]

    def build(items: list[tuple[str, str]]) -> Program:
        return program.with_chunks(tuple(c for s, c in items if s == "d"), tuple(c for s, c in items if s == "a"))

    try:
        kept = ddmin(tagged, lambda items: fails(build(items)))
        # Then lines inside what is left (a line that breaks the syntax gives a compile error:
        # a different outcome, so it stays).
        lines = [(s, line) for s, c in kept for line in c.split("\n")]
        ddmin(lines, lambda items: fails(_from_lines(program, items)))
    except _OutOfBudget:
        pass
    return best[0], best[1]


def _from_lines(program: Program, items: list[tuple[str, str]]) -> Program:
    def side(tag: str) -> tuple[str, ...]:
        lines = [line for s, line in items if s == tag]
        return ("\n".join(lines),) if lines else ()

    return program.with_chunks(side("d"), side("a"))
