"""An app that compares and sorts objects without `_cmp` (blobs, tables, arrays, functions,
instances, the imp API's own objects) logs the same results in every boot of a reused VM, with
a new VM per boot, whatever ran before in the process, and through `impsim run` in a new
process, and in simulations that hand their VMs on: the order follows what the app did, never the heap (patch 21-object-order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from impapi import Simulation
from impapi.vmshelf import VMShelf
from runtime_helpers import boot_lines, marked_lines

APP = """
class Reading { v = 0; constructor(v) { this.v = v; } }
local made = [];
for (local i = 0; i < 8; i++) made.append(i % 2 ? Reading(i) : Reading(-i));
local sorted = clone made;
sorted.sort();
local s = "";
foreach (r in sorted) s += r.v + ",";
local tables = [{}, {}, {}];
local fs = [imp.getmemoryfree, imp.sleep, imp.wakeup, server.log];
local picks = [fs[3] <=> fs[2], fs[0] > fs[1], tables[2] <=> tables[0], [] <=> []];
local blobs = [blob(1) <=> blob(1), blob(1) < blob(2), (function() {}) > (function() {})];
server.log("order " + s + " " + picks.map(@(x) x.tostring()).reduce(@(a, b) a + " " + b)
           + " " + blobs.map(@(x) x.tostring()).reduce(@(a, b) a + " " + b));
imp.onidle(function() { imp.deepsleepfor(600); });
"""

CHURN = """
local a = [];
for (local i = 0; i < 3000; i++) a.append(i % 2 ? {x = i} : blob(i % 13));
for (local i = 0; i < 3000; i += 3) a[i] = null;
local b = a.filter(@(i, v) v != null);
b.sort(@(x, y) (typeof x <=> typeof y));
server.log("churned " + b.len());
"""


def orders(lines) -> list[str]:
    return marked_lines(lines, "order ")


def run_app(path: Path, reuse: bool = True, vms: VMShelf | None = None) -> list[str]:
    return boot_lines(path, "order ", reuse, vms)


def test_every_boot_and_every_door_compares_objects_alike(tmp_path):
    app = tmp_path / "order.device.nut"
    app.write_text(APP)
    churn = tmp_path / "churn.device.nut"
    churn.write_text(CHURN)
    first = run_app(app)
    assert len(first) >= 5 and set(first) == {first[0]}  # every boot of a reused VM
    # the rule's results: sort keeps objects never compared in their order; first compared, first
    assert first[0] == "order 0,1,-2,3,-4,5,-6,7, -1 false -1 -1 -1 true false"
    Simulation(device=churn).run("5s")  # other objects were compared in this process meanwhile
    assert run_app(app) == first
    assert run_app(app, reuse=False) == first  # a new VM per boot
    shelf = VMShelf()  # simulations one after another on the same VMs, as impsim fuzz plays them
    assert run_app(app, vms=shelf) == first
    other = Simulation(device=churn, vms=shelf)  # another app on the same VM
    other.run("5s")
    other.close()
    assert run_app(app, vms=shelf) == first
    cli = subprocess.run([sys.executable, "-m", "impapi.cli", "run", str(app), "--for", "1h", "--color", "never"],
                         capture_output=True, text=True, check=True)
    assert orders(cli.stdout.splitlines()) == first
    scenario = tmp_path / "run.toml"  # a scenario file, with a deployment and a power cut between boots
    scenario.write_text(f'[scenario]\nduration = "1h"\ndevice = "{app.as_posix()}"\n\n'
                        '[[event]]\nat = "15m"\ntype = "deploy"\n\n[[event]]\nat = "35m"\ntype = "power-cycle"\n')
    run = subprocess.run([sys.executable, "-m", "impapi.cli", "run", "--scenario", str(scenario), "--color", "never"],
                         capture_output=True, text=True, check=True)
    assert len(orders(run.stdout.splitlines())) >= 7 and set(orders(run.stdout.splitlines())) == {first[0]}


SHOW = """
local keep = [], objs = [], s = 0;
for (local i = 0; i < 300; i++) {
    local o = (i % 3 == 0) ? {} : (i % 3 == 1) ? [i] : function() { return i; };
    s += o.tostring().len();
    objs.append(o);
    if (i % 5 == 0) keep.append(array(i % 11));
    if (i % 7 == 0) objs = objs.slice(objs.len() / 2);
    if (i % 4 == 0 && objs.len() > 3) objs.remove(1);
}
server.log("order free " + imp.getmemoryfree() + " after showing " + s + " characters");
imp.onidle(function() { imp.deepsleepfor(600); });
"""


def test_free_memory_after_showing_objects_is_the_same_in_every_boot(tmp_path):
    """tostring() of objects: the free memory an app logs afterwards is one figure for every
    boot, reused VM or new, whatever ran before in the process."""
    app = tmp_path / "show.device.nut"
    app.write_text(SHOW)
    churn = tmp_path / "churn.device.nut"
    churn.write_text(CHURN)
    first = run_app(app)
    assert len(first) >= 5 and set(first) == {first[0]}
    Simulation(device=churn).run("5s")
    assert run_app(app) == first
    assert run_app(app, reuse=False) == first
