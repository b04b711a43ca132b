"""Config.reuse_vms, seen through the figures a script reads: the execution time (the VM's
instructions, as virtual time) and the free memory of every boot, at every point the script
looks, on a module that keeps its code in flash and on one that loads it into RAM (where the
code's load counts against the free memory), against a new VM per boot."""

from __future__ import annotations

import pytest

from impapi import Config, Simulation
from runtime_helpers import device_lines

# Each boot reports free memory and elapsed microseconds around work of a fixed size: at its
# start, after making strings and a closure-heavy table, in a timer's callback, and just before
# it ends. The app's own code has literals of every kind, nested functions and a class, so the
# load of its code at each boot makes strings, prototypes and closures.
APP = """
const LIMIT = 40;
enum Mode { IDLE = 1, BUSY = 7 }
class Meter {
    name = null; samples = null;
    constructor(name) { this.name = name; this.samples = []; }
    function add(v) { samples.push(v * 1.5); return this; }
    function mean() { local s = 0.0; foreach (v in samples) s += v; return s / samples.len(); }
}
function report(tag, t0) {
    server.log(format("%s free=%d us=%d", tag, imp.getmemoryfree(), hardware.micros() - t0));
}
local t0 = hardware.micros();
report("start", t0);
local meters = {}, text = "x";
for (local i = 0; i < LIMIT; i++) meters["m" + i] <- Meter("meter " + i).add(i).add(Mode.BUSY);
for (local i = 0; i < 11; i++) text += text;
local total = 0.0;
foreach (k, m in meters) total += m.mean();
report("work " + text.len() + " " + total, t0);
imp.wakeup(0.25, function() {
    local t1 = hardware.micros();
    local words = split("a fixed sentence of several words to split", " ");
    report("callback " + words.len(), t1);
    END
});
"""
ENDS = {"imp003": "imp.deepsleepfor(30);", "imp005": "server.restart();"}


def figures(imp: str, reuse: bool) -> tuple[int, list[str]]:
    app = APP.replace("END", 'report("end", t1); ' + ENDS[imp])
    sim = Simulation(device=app, imp=imp, config=Config(reuse_vms=reuse))
    sim.run("4m")
    return sim.device.boots, device_lines(sim)


def _time_and_memory(lines: list[str]) -> tuple[list[str], list[str]]:
    """The execution-time and the free-memory figures of the reported lines."""
    return [line.rsplit(" ", 1)[1] for line in lines], [line.rsplit(" ", 2)[1] for line in lines]


@pytest.mark.parametrize("imp", sorted(ENDS))
def test_each_boots_execution_time_is_a_new_vms(imp):
    boots, reused = figures(imp, True)
    _, fresh = figures(imp, False)
    assert boots >= 5 and len(reused) == 4 * boots
    time_reused, _ = _time_and_memory(reused)
    time_fresh, _ = _time_and_memory(fresh)
    assert all(t.startswith("us=") for t in time_reused)
    assert time_reused == time_fresh  # the same instructions, at every point, at every boot


@pytest.mark.parametrize("imp", sorted(ENDS))
def test_each_boots_free_memory_is_a_new_vms(imp):
    boots, reused = figures(imp, True)
    _, fresh = figures(imp, False)
    assert boots >= 5
    assert _time_and_memory(reused)[1] == _time_and_memory(fresh)[1]


# Helpers the API compiles on their first call in a run (date, swap2...): each run in a restored VM
# compiles them again, and frees what a new VM frees, where the script can see it.
LAZY_APP = """
local early = swap2;  // the stub, captured before the first call
server.log("start free=" + imp.getmemoryfree());
local d = date();
server.log("date free=" + imp.getmemoryfree() + " " + d.year);
local s = early(0x1234) + swap2(0x1234) + early(1);
server.log("swap free=" + imp.getmemoryfree() + " " + s);
imp.wakeup(1, function() { END });
"""


def reused_and_fresh(app: str, imp: str) -> tuple[list[str], list[str]]:
    """The device's log lines over 3 minutes of ``app`` (END: the way ``imp`` ends a boot), with
    a restored VM per boot and with a new one."""
    runs = []
    for reuse in (True, False):
        sim = Simulation(device=app.replace("END", ENDS[imp]), imp=imp, config=Config(reuse_vms=reuse))
        sim.run("3m")
        runs.append(device_lines(sim))
    return runs[0], runs[1]


@pytest.mark.parametrize("imp", sorted(ENDS))
def test_helpers_compiled_on_first_call_cost_each_boot_what_a_new_vm_pays(imp):
    reused, fresh = reused_and_fresh(LAZY_APP, imp)
    assert len(reused) >= 9 and reused == fresh
    assert len(set(reused[1::3])) == 1  # the first call's cost is the same at every boot


# A run that leaves a reference cycle (garbage only a collection frees) holding a string: the next
# run makes a string with the same text, which in a VM still holding the garbage costs nothing.
CYCLE_APP = """
local t = { n = 1 }; t.me <- t; t.s <- "left " + hardware.millis() + " behind";
server.log("start free=" + imp.getmemoryfree());
local u = "left " + 0 + " behind";
server.log("string free=" + imp.getmemoryfree());
imp.wakeup(1, function() { END });
"""


@pytest.mark.parametrize("imp", sorted(ENDS))
def test_what_a_run_left_in_cycles_does_not_reach_the_next_runs_figures(imp):
    reused, fresh = reused_and_fresh(CYCLE_APP, imp)
    assert len(reused) >= 6 and reused == fresh


# A reused VM keeps the code its last boot loaded for the next boot's load of the same code. Boots
# after a runtime error (which reboots the device) and after a deployment of other code (which the
# VM has never loaded) must still see what a new VM shows, the new code's boots included.
ERRING_APP = """
local n = time();
server.log("boot " + n + " free=" + imp.getmemoryfree());
local words = split("some words to split here", " ");
server.log("split free=" + imp.getmemoryfree());
if (n / 10 % 3 == 0) throw "failing at boot " + n;
imp.wakeup(1, function() { server.log("timer free=" + imp.getmemoryfree()); END });
"""
DEPLOYED_APP = """
server.log("new code free=" + imp.getmemoryfree() + " " + hardware.wakereason());
local t = { a = "some", b = "other", c = "words" };
server.log("table free=" + imp.getmemoryfree());
imp.wakeup(1, function() { server.log("timer free=" + imp.getmemoryfree()); END });
"""


@pytest.mark.parametrize("imp", sorted(ENDS))
def test_boots_after_an_error_and_after_a_deployment_see_what_a_new_vm_shows(imp):
    runs = []
    for reuse in (True, False):
        sim = Simulation(device=ERRING_APP.replace("END", ENDS[imp]), imp=imp, config=Config(reuse_vms=reuse))
        sim.run("3m")
        sim.cloud.deploy(DEPLOYED_APP.replace("END", ENDS[imp]), force=True)
        sim.run("3m")
        runs.append(device_lines(sim))
    reused, fresh = runs
    assert reused == fresh
    assert sum("new code" in line for line in reused) >= 3
    assert sum("failing at boot" in line for line in reused) >= 1
