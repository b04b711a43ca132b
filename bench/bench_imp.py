"""Benchmarks of the simulated imp (issues 3 and 4).

    python bench/bench_imp.py [--days 365]

(a) boots: a device that wakes every 15 minutes, reads, stores to nv and sleeps, for a year
    (35,040 boots); references in the same run: the same number of bare VM boots (a new VM +
    imp dialect + compile + run of the same code, no simulation around them), and the same
    simulation with a new VM per boot (Config(reuse_vms=False)).
(b) messages: a device <-> agent ping-pong; reference: the same number of Python->Squirrel
    calls of the handler alone.
(c) polite deployment: 30 days, a deployment every day, the device waking every 15 minutes;
    reports wall time and the simulated-to-real speed-up.
"""

from __future__ import annotations

import argparse
import time

import squirrel
from impapi import Config, Simulation

SENSOR = '''
server.onshutdown(function(reason) { server.restart(); });
if (!("nv" in getroottable())) nv <- { readings = [] };
nv.readings.push(hardware.millis() & 0xff);
if (nv.readings.len() > 8) nv.readings.remove(0);
imp.deepsleepfor(900);
'''

# The same sensor, reporting every reading to its agent (so it hears of updates).
REPORTING = SENSOR.replace("imp.deepsleepfor(900);", '''agent.send("r", nv.readings.top());
imp.wakeup(1, function() { imp.deepsleepfor(899); });''')

PING_DEVICE = '''
local n = 0;
agent.on("pong", function(v) { n++; agent.send("ping", n); });
agent.send("ping", 0);
'''
PING_AGENT = '''
device.on("ping", function(v) { device.send("pong", v); });
'''


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def bench_boots(days: int) -> None:
    boots = days * 96

    def simulate():
        sim = Simulation(device=SENSOR)
        sim.run(f"{days}d")
        return sim.device.boots

    def bare():
        for _ in range(boots):
            with squirrel.VM("imp") as vm:
                vm.root["nv"] = {"readings": []}
                vm.run("nv.readings.push(1); if (nv.readings.len() > 8) nv.readings.remove(0);")

    def simulate_fresh_vms():
        sim = Simulation(device=SENSOR, config=Config(reuse_vms=False))
        sim.run(f"{days}d")
        return sim.device.boots

    t_sim, n = timed(simulate)
    t_bare, _ = timed(bare)
    t_fresh, _ = timed(simulate_fresh_vms)
    print(f"(a) boots: {n} boots over {days} d in {t_sim:.2f} s wall = {n / t_sim:,.0f} boots/s "
          f"({t_sim / n * 1e6:.0f} us per boot); bare VM boots: {t_bare / boots * 1e6:.0f} us; "
          f"simulator/bare ratio {t_sim / t_bare:.2f}x; target <= 10 s for 365 d")
    print(f"    with a new VM per boot (Config(reuse_vms=False)): {t_fresh:.2f} s "
          f"({t_fresh / n * 1e6:.0f} us per boot): reusing VMs is {t_fresh / t_sim:.2f}x faster")


def bench_messages(seconds: int) -> None:
    sim = Simulation(device=PING_DEVICE, agent=PING_AGENT)
    t, _ = timed(lambda: sim.run(f"{seconds}s"))
    n = len(sim.log)  # no logging in the loop: count messages from the latency instead
    msgs = int(seconds * 1e6 // sim.config.message_latency_us)
    vm = squirrel.VM("imp")
    f = vm.compile("return function(v) { return v; }")()
    t_ref, _ = timed(lambda: [f(i) for i in range(msgs)])
    print(f"(b) messages: {msgs} one-way messages in {t:.2f} s = {msgs / t:,.0f} msg/s "
          f"({t / msgs * 1e6:.1f} us each); bare handler call {t_ref / msgs * 1e6:.2f} us; ratio {t / t_ref:.1f}x")


def bench_deploys(days: int) -> None:
    sim = Simulation(device=REPORTING, agent='device.on("r", function(v) {});')

    def run():
        for d in range(days):
            sim.run("1d")
            sim.cloud.deploy(REPORTING.replace("0xff", f"0x{d % 200 + 1:x}"), None)
        return sim

    t, _ = timed(run)
    applied = len(sim.events.of("update", stage="applied"))
    print(f"(c) polite deployment: {days} d, {days} deployments ({applied} applied), {sim.device.boots} boots "
          f"in {t:.2f} s wall; speed-up {days * 86400 / t:,.0f}x real time")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    bench_boots(args.days)
    bench_messages(600)
    bench_deploys(30)
