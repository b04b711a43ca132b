"""Fleet throughput: device-days per CPU-second, parallel efficiency, and a 10,000-device day.

    python bench/bench_fleet.py              # (a) and (b), about two minutes
    python bench/bench_fleet.py --big        # and (c): 10,000 devices x 1 day on 2 workers
    python bench/bench_fleet.py --devices 5000 --big   # (c) with another size

The app is examples/sleepy-sensor (wakes every 15 minutes, reports every hour).

(a) Fleet machinery: CPU time per device-day of plain ``Simulation(...).run("1d")`` in one
    process (the reference), against the fleet's shard task running the same devices in one
    process (per-device scenario, event sink, outcome, load bins): the fleet may add <= 10 %.
    The fleet file switches the variation off (no start phase, outages or power cycles) so both
    simulate the same days; the default fleet's cost is shown beside it.
(b) Parallel efficiency on a LocalCluster: the same fleet on 1 worker and on 2 workers,
    wall-clock T1 / (2 x T2) (target >= 0.9), with the load average beside it (on a shared
    machine other users' processes take cores away), the workers' CPU time, and the share of
    workers x wall the workers spent inside shard tasks (Dask's task stream): the part of the
    efficiency that the fleet machinery, not the machine's load, decides.
(c) 10,000 devices x 1 day on 2 workers: wall-clock (target <= 100 s), the workers' CPU time,
    and each worker's peak memory (bounded: it does not grow with the fleet).

CPU times are process CPU (``time.process_time`` here, ``getrusage`` in the workers); every
figure of (a) is the best of 5 alternating repeats.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impapi import Simulation  # noqa: E402
from impapi.fleet import Fleet  # noqa: E402
from impapi.fleet.shard import run_shard  # noqa: E402

DEVICE = str(ROOT / "examples/sleepy-sensor/sensor.device.nut")
AGENT = str(ROOT / "examples/sleepy-sensor/sensor.agent.nut")
PLAIN = {"start": {"spread": "0s"}, "connectivity": {"flaky": 0.0}, "power": {"cycles_per_day": 0.0}}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def one_process(n: int, repeats: int) -> tuple[float, float, float]:
    """CPU seconds per device-day (best of ``repeats``): plain simulations, the fleet's shard
    task over the same days, and the shard task over the default fleet. The three alternate, so
    a change in the machine's load touches all of them alike."""
    from impapi.fleet import device_seed

    plain_job = Fleet(DEVICE, AGENT, devices=n, seed=1, fleet=PLAIN).job("1d")
    default_job = Fleet(DEVICE, AGENT, devices=n, seed=1).job("1d")
    best = [float("inf")] * 3
    for _ in range(repeats):
        t = time.process_time()
        for i in range(n):
            Simulation(device=DEVICE, agent=AGENT, seed=device_seed(1, i), keep_history=False).run("1d")
        best[0] = min(best[0], (time.process_time() - t) / n)
        for k, job in ((1, plain_job), (2, default_job)):
            t = time.process_time()
            run_shard(job, 0, n)
            best[k] = min(best[k], (time.process_time() - t) / n)
    return best[0], best[1], best[2]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def on_cluster(workers: int, devices: int, fleet: dict | None) -> dict:
    import dask
    from distributed import Client, LocalCluster, get_task_stream

    from impapi.fleet.engine import NO_PROFILER

    with dask.config.set(NO_PROFILER), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        warm = Fleet(DEVICE, AGENT, devices=2 * workers, seed=99, fleet=fleet)
        warm.run("1h", client, shard_size=1)  # imports and first compiles in every worker
        before = client.run(_cpu)
        start, load_before = time.perf_counter(), load()
        with get_task_stream(client) as stream:
            result = Fleet(DEVICE, AGENT, devices=devices, seed=1, fleet=fleet).run("1d", client)
        wall = time.perf_counter() - start
        cpu = sum(client.run(_cpu)[w] - before[w] for w in before)
        rss = client.run(_rss_mb)
        # time the workers spent inside shard tasks: what is left of workers x wall is idle time
        # (waiting for work, the client's merge, stragglers), whatever else the machine runs
        busy = sum(s["stop"] - s["start"] for task in stream.data for s in task["startstops"]
                   if s["action"] == "compute")
    return {"wall": wall, "cpu": cpu, "rss": sorted(rss.values()), "load": f"{load_before} -> {load()}",
            "busy": busy / (workers * wall), "updated": result.summary()["devices"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    ap.add_argument("--big", action="store_true", help="also (c): a 10,000-device day on 2 workers")
    ap.add_argument("--devices", type=int, default=10_000, help="devices for (c) (default 10000)")
    args = ap.parse_args()
    n_a, n_b = (8, 40) if args.quick else (40, 400)

    print(f"load average at start: {load()}")
    repeats = 2 if args.quick else 5
    ref, plain, default = one_process(n_a, repeats)
    print(f"(a) CPU per device-day, sleepy sensor, {n_a} devices in one process (best of {repeats}, alternating)")
    print(f"    plain Simulation(...).run('1d'):   {ref * 1000:7.2f} ms  ({1 / ref:6.1f} device-days per CPU-second)")
    print(f"    fleet shard, same days:            {plain * 1000:7.2f} ms  ({1 / plain:6.1f})  "
          f"overhead {100 * (plain / ref - 1):+.1f}%  (target <= +10%)")
    print(f"    fleet shard, default fleet file:   {default * 1000:7.2f} ms  ({1 / default:6.1f})  "
          "(start phases, outages, power cycles)")

    one = on_cluster(1, n_b, PLAIN)
    two = on_cluster(2, n_b, PLAIN)
    eff = one["wall"] / (2 * two["wall"])
    print(f"(b) {n_b} devices x 1 day on a LocalCluster")
    for name, r in (("1 worker ", one), ("2 workers", two)):
        print(f"    {name}: wall {r['wall']:6.2f} s, workers' CPU {r['cpu']:6.2f} s "
              f"({1000 * r['cpu'] / n_b:.2f} ms per device-day), peak memory per worker "
              f"{', '.join(f'{m:.0f} MB' for m in r['rss'])}, load {r['load']}")
    print(f"    parallel efficiency (wall) T1 / (2 T2) = {eff:.2f}  (target >= 0.9)")
    print(f"    workers busy in shard tasks: {100 * one['busy']:.1f}% (1 worker), {100 * two['busy']:.1f}% "
          "(2 workers) of workers x wall")
    print(f"    CPU efficiency (CPU1 / CPU2) = {one['cpu'] / two['cpu']:.2f}  (1.0: two workers cost no extra CPU)")

    if args.big:
        big = on_cluster(2, args.devices, None)
        print(f"(c) {args.devices} devices x 1 day, default fleet file, 2 workers")
        print(f"    wall {big['wall']:.1f} s (target <= 100 s), workers' CPU {big['cpu']:.1f} s "
              f"({1000 * big['cpu'] / args.devices:.2f} ms per device-day), load {big['load']}")
        print(f"    peak memory per worker: {', '.join(f'{m:.0f} MB' for m in big['rss'])}; workers busy in "
              f"shard tasks {100 * big['busy']:.1f}% of workers x wall")
        print(f"    on an idle 2-core machine the wall time would be about {big['cpu'] / 2:.0f} s "
              "(the workers' CPU time over 2 cores)")


if __name__ == "__main__":
    main()
