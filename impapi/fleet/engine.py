"""Running a fleet's shards on Dask distributed.

The embedded default is a ``LocalCluster`` with one single-threaded worker process per CPU,
started for the run and shut down after it; ``scheduler="tcp://host:8786"`` or a
``distributed.Client`` runs the same shards on an existing cluster. The client submits shards in
device order and merges them as they complete: the merge is a sum of counts and a placement of
outcomes by device index, so its result does not depend on which shard finishes first, on the
number of workers or on the shard size.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any, Callable

from .shard import Job, ShardResult, run_shard

__all__ = ["FleetError", "default_workers", "dask_problem", "run_job", "shard_bounds"]

INSTALL_HINT = "pip install 'impsim[fleet]'"
NO_PROFILER = {"distributed.worker.profile.enabled": False}  # also: DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False


class FleetError(RuntimeError):
    """A fleet that could not run: Dask missing, a cluster out of reach, a worker without impsim."""


def dask_problem() -> str | None:
    """Why fleets cannot run here (Dask distributed is missing), or None."""
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        return f"impsim fleet runs on Dask distributed, which is not installed ({e}): {INSTALL_HINT}"
    return None


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shard_bounds(devices: int, shard_size: int) -> list[tuple[int, int]]:
    return [(start, min(devices, start + shard_size)) for start in range(0, devices, shard_size)]


def default_shard_size(devices: int, workers: int) -> int:
    """About four shards per worker (the last ones to finish then leave little idle time), and
    no more than 100 devices a shard (progress moves, and a lost worker costs little)."""
    return max(1, min(100, math.ceil(devices / (4 * max(1, workers)))))


def run_job(job: Job, *, client: Any = None, scheduler: str | None = None, workers: int | None = None,
            shard_size: int | None = None, on_shard: Callable[[ShardResult], None]) -> None:
    """Run every device of ``job``, handing each finished shard to ``on_shard`` as it completes."""
    problem = dask_problem()
    if problem:
        raise FleetError(problem)
    from distributed import Client, LocalCluster

    if client is not None:
        _run(client, job, shard_size, on_shard)
        return
    if scheduler is not None:
        try:
            with Client(scheduler) as c:  # Dask's own connect timeout (30 s by default)
                _run(c, job, shard_size, on_shard)
        except OSError as e:
            raise FleetError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        return
    import dask

    n = workers or default_workers()
    # ":0": any free port for the scheduler's HTTP server, so two fleets (or another Dask user)
    # on one machine do not contend for the default one. No statistical profiler in the workers:
    # its history of the simulation's deep call stacks grew a worker by ~20 KB a device-day
    # (to hundreds of MB over a long fleet), and its sampling costs CPU.
    with dask.config.set(NO_PROFILER), \
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        _run(c, job, shard_size, on_shard)


def _run(client: Any, job: Job, shard_size: int | None, on_shard: Callable[[ShardResult], None]) -> None:
    from distributed import as_completed

    devices = job.plan.devices
    threads = sum(client.nthreads().values())
    if not threads:
        raise FleetError(f"the Dask cluster at {client.scheduler.address} has no workers: start some with "
                         f"`dask worker {client.scheduler.address} --nthreads 1`")
    size = shard_size or default_shard_size(devices, threads)
    shipped = client.scatter(job, broadcast=True, hash=False)
    futures = [client.submit(run_shard, shipped, start, stop, pure=False)
               for start, stop in shard_bounds(devices, size)]
    try:
        for future in as_completed(futures):
            try:
                shard = future.result()
            except ModuleNotFoundError as e:
                raise FleetError(f"a worker cannot import impsim ({e}): install impsim[fleet] on every "
                                 "worker of the cluster") from None
            on_shard(shard)
            future.release()
    finally:
        client.cancel(futures)
