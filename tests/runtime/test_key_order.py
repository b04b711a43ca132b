"""A table keyed by objects (the app's own, and the imp API's: `hardware`, `imp`, a native
function) iterates in one order for one scenario, whatever ran before in the process, in every
boot of a reused VM, with a new VM per boot, and through `impsim run` in a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from impapi import Simulation
from runtime_helpers import boot_lines, marked_lines

APP = """
class Handler { n = 0; constructor(n) { this.n = n; } }
local keys = [hardware, imp, server, imp.wakeup, server.log, getroottable()];
for (local i = 0; i < 6; i++) { keys.append(Handler(i)); keys.append(function() { return i; }); keys.append({}); }
local t = {};
foreach (i, k in keys) t[k] <- i;
local s = "";
foreach (k, v in t) s += v + ",";
server.log("order " + s);
imp.onidle(function() { imp.deepsleepfor(600); });
"""

CHURN = """
local a = [];
for (local i = 0; i < 3000; i++) a.append(i % 2 ? {x = i} : array(i % 13));
local t = {};
foreach (i, v in a) if (i % 3 == 0) t[v] <- i;
server.log("churned " + t.len());
"""


def orders(lines) -> list[str]:
    return marked_lines(lines, "order ")


def run_app(path: Path, reuse: bool = True) -> list[str]:
    return boot_lines(path, "order ", reuse)


def test_every_boot_and_every_door_shows_one_order(tmp_path):
    app = tmp_path / "keys.device.nut"
    app.write_text(APP)
    churn = tmp_path / "churn.device.nut"
    churn.write_text(CHURN)
    first = run_app(app)
    assert len(set(first)) == 1 and len(first) >= 5  # every boot of a reused VM
    Simulation(device=churn).run("5s")  # other objects were keys in this process meanwhile
    assert run_app(app) == first
    assert run_app(app, reuse=False) == first  # a new VM per boot
    cli = subprocess.run([sys.executable, "-m", "impapi.cli", "run", str(app), "--for", "1h", "--color", "never"],
                         capture_output=True, text=True, check=True)
    assert orders(cli.stdout.splitlines()) == first
