"""The unit of work a Dask worker runs: many devices, one after the other, returning one compact
outcome per device and the shard's load counts per minute — never logs, so a worker's memory
stays that of one simulation however many devices its shards hold."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..builder import LoadedCode
from .devices import Plan
from .observe import DeviceOutcome, simulate_device

__all__ = ["BIN_US", "DeviceFailed", "Job", "ShardResult", "run_shard"]

BIN_US = 60_000_000  # load is counted per minute


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, shipped once: the plan and the code as text (a worker on another
    machine has none of the user's files), under the names of the files it came from."""

    plan: Plan
    device: LoadedCode  # built on the client, named by the file's absolute path
    agent: LoadedCode | None
    sources: dict[str, str] = field(default_factory=dict)  # deployed code, by absolute path

    @property
    def bins(self) -> int:
        return -(-self.plan.duration_us // BIN_US)

    def scenario(self, index: int):  # noqa: ANN201 - (spec, scenario)
        spec = self.plan.spec(index)
        return spec, self.plan.scenario(spec, self.device.filename, self.agent.filename if self.agent else None)


class DeviceFailed(RuntimeError):
    """A device's simulation could not finish (a fatal error such as time standing still, or a
    simulator fault): ``index`` is the device, the message says why."""

    def __init__(self, index: int, why: str) -> None:
        super().__init__(index, why)
        self.index, self.why = index, why

    def __str__(self) -> str:
        return f"device {self.index}: {self.why}"


@dataclass
class ShardResult:
    start: int
    outcomes: list[DeviceOutcome]
    messages: list[int]
    http: list[int]
    connects: list[int]


def run_shard(job: Job, start: int, stop: int) -> ShardResult:
    """Simulate devices ``start`` to ``stop - 1`` of the fleet."""
    n = job.bins
    bins = ([0] * n, [0] * n, [0] * n)
    outcomes = []
    with _worker_heap_frozen():
        for index in range(start, stop):
            spec, scenario = job.scenario(index)
            try:
                outcome, sim = simulate_device(scenario, spec, device=job.device, agent=job.agent,
                                               deadline_us=job.plan.config.deadline_us, sources=job.sources,
                                               bin_us=BIN_US, bins=bins)
            except Exception as e:  # the message travels back to the client; the device replays alone
                raise DeviceFailed(index, f"{type(e).__name__}: {e}") from e
            if sim.fatal_error:
                raise DeviceFailed(index, sim.fatal_error)
            outcomes.append(outcome)
    return ShardResult(start, outcomes, *bins)


@contextmanager
def _worker_heap_frozen() -> Iterator[None]:
    """Python's cycle collector, while the shard runs, without the worker's own heap (Dask, the
    modules): each full collection scanned tens of thousands of objects that the simulations
    never touch (~30 ms, about one every 40 device-days). Unfrozen and collected once after the
    shard: left to the collector's own schedule, the cycles a shard left behind were frozen again
    by the next shard before a full collection came, and a worker's memory grew with every shard."""
    if gc.get_freeze_count():  # the host froze its heap itself: its choice stands
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.collect()
