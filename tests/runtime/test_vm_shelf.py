"""VMShelf: simulations played one after another hand their VMs on (impsim fuzz plays thousands).
It must be invisible: each simulation's log and events are those it has alone, with new VMs,
whatever ran in the VMs before and whatever simulation they served."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime, timezone
from pathlib import Path

import pytest

from impapi import Simulation
from impapi.vmshelf import VMShelf
from runtime_helpers import example_app, observed, play_events

APPS = ("impolite-logger", "ping-pong", "polite-logger", "polite-sleeper", "sleepy-sensor")
SCENARIOS = [
    ["20m:impos=44.0", "47m:deploy", "1h10m:power-cycle", "2h:offline=40m", "3h:force-deploy"],
    [],
    ["5m:offline=2h", "3h:deploy", "3h:power-cycle"],
    ["30m:move-group=production", "4h:power-off", "4h5m:power-on"],
]


def play(device, agent, events, duration="6h", vms=None, imp="imp003", epoch=None, seed=0):
    options = {"epoch": epoch} if epoch is not None else {}
    return play_events(device, agent, events, duration, imp=imp, vms=vms, seed=seed, **options)


def agent_vm(sim):
    host = sim.agent.host
    return host.vm if host is not None else sim.agent.spare_vm[0]


def device_vm(sim):
    host = sim.device.host
    return host.vm if host is not None else sim.device.spare_vm[0]


@pytest.mark.parametrize("app", APPS)
def test_simulations_sharing_a_shelf_behave_as_each_does_alone(app):
    device, agent = example_app(app)
    shelf = VMShelf()
    vms = []
    for events in SCENARIOS + SCENARIOS[:1]:
        shared = play(device, agent, events, vms=shelf)
        vms.append((agent_vm(shared), device_vm(shared)))
        seen = observed(shared)
        shared.close()
        alone = play(device, agent, events)
        assert seen == observed(alone)
        alone.close()
    assert len(set(vms)) == 1  # one agent VM and one device VM served them all
    shelf.close()
    assert vms[0][0].closed and vms[0][1].closed


AGENT = """
server.log(format("time %d day %d rand %d %d id %s free %d",
    time(), date().day, math.rand(), math.rand(), imp.configparams.deviceid, imp.getmemoryfree()));
device.on("tick", function(n) {
    server.log(format("tick %d at %d clock %.3f rand %d", n, time(), clock(), math.rand()));
});
"""
DEVICE = """
local n = hardware.wakereason() == WAKEREASON_TIMER ? 1 : 0;
agent.send("tick", n);
imp.onidle(function() { imp.deepsleepfor(600); });
"""


def app_files(tmp_path, device_code, agent_code, name="t"):
    (tmp_path / f"{name}.device.nut").write_text(device_code)
    (tmp_path / f"{name}.agent.nut").write_text(agent_code)
    return str(tmp_path / f"{name}.device.nut"), str(tmp_path / f"{name}.agent.nut")


def test_an_agent_vm_from_the_shelf_reads_the_clock_random_and_id_of_its_new_simulation(tmp_path):
    """The first simulation leaves its agent VM with its clock at 3 h and its math.rand() drawn
    from: the next must not see either."""
    device, agent = app_files(tmp_path, DEVICE, AGENT)
    shelf = VMShelf()
    first = play(device, agent, [], "3h", vms=shelf)
    vm = agent_vm(first)
    first.close()
    for events in ([], ["1h:deploy"]):
        shared = play(device, agent, events, "1h30m", vms=shelf)
        assert agent_vm(shared) is vm
        seen = observed(shared)
        shared.close()
        assert seen == observed(play(device, agent, events, "1h30m"))
    shelf.close()


def test_a_shelf_hands_no_vm_to_a_simulation_its_pristine_state_was_not_built_for(tmp_path):
    """Another epoch (time() and date() are built on it) or another agent ID
    (imp.configparams, from the seed): a new VM, and the same log as alone."""
    device, agent = app_files(tmp_path, DEVICE, AGENT)
    shelf = VMShelf()
    first = play(device, agent, [], "1h", vms=shelf)
    vm = agent_vm(first)
    first.close()
    for options in ({"epoch": datetime(2030, 5, 1, tzinfo=timezone.utc)}, {"seed": 7}):
        other = play(device, agent, [], "1h", vms=shelf, **options)
        assert agent_vm(other) is not vm
        assert vm.closed
        seen = observed(other)
        vm = agent_vm(other)
        other.close()
        assert seen == observed(play(device, agent, [], "1h", **options))
    shelf.close()


FLASH_DEVICE = """
local f = hardware.spiflash;
f.enable();
local first = f.read(0, 4)[0];
if (first == 0xFF) { f.erasesector(0); f.write(0, blob(4)); }
server.log(format("flash %d then %d free %d", first, f.read(0, 4)[0], imp.getmemoryfree()));
imp.onidle(function() { imp.deepsleepfor(120); });
"""


@pytest.mark.parametrize("imp", ["imp001", "imp003", "imp004m"])
def test_a_device_vm_from_the_shelf_reads_its_new_simulations_flash(tmp_path, imp):
    """The first simulation writes its chip: a VM handed on must read the next one's, erased,
    chip (spiflash.read is served from C), and log what a new VM logs."""
    device, agent = app_files(tmp_path, FLASH_DEVICE, "")
    shelf = VMShelf()
    first = play(device, agent, [], "5m", vms=shelf, imp=imp)
    vm = first.device.spare_vm[0]
    first.close()
    for events in ([], ["3m:power-cycle"]):
        second = play(device, agent, events, "5m", vms=shelf, imp=imp)
        assert second.device.spare_vm[0] is vm
        seen = observed(second)
        second.close()
        assert seen == observed(play(device, agent, events, "5m", imp=imp))
    shelf.close()
    assert vm.closed


def test_a_shelved_vm_does_not_keep_its_simulation_alive():
    device, agent = example_app("polite-sleeper")
    shelf = VMShelf()
    sim = play(device, agent, SCENARIOS[0], "2h", vms=shelf)
    sim.close()
    gone = weakref.ref(sim.device)
    del sim
    gc.collect()
    assert gone() is None
    assert shelf.take("agent") is not None and shelf.take("device") is not None
    shelf.close()


MEMORY_DEVICE = """
local d = date();
server.log(format("free %d at %d:%02d", imp.getmemoryfree(), d.hour, d.min));
imp.onidle(function() { imp.deepsleepfor(60); });
"""
MEMORY_AGENT = """
local d = date();
server.log(format("free %d day %d rand %d", imp.getmemoryfree(), d.day, math.rand()));
"""
MEMORY_CASES = [("imp003", [], "3m"), ("imp001", ["1m:deploy"], "3m"), ("imp005", ["1h:deploy"], "2h"),
                ("imp003", ["30m:deploy", "1h:force-deploy"], "2h")]
ALONE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from test_vm_shelf import MEMORY_CASES, observed, play
imp, events, duration = MEMORY_CASES[int(sys.argv[4])]
print(json.dumps(observed(play(sys.argv[2], sys.argv[3], events, duration, imp=imp))))
"""


def test_a_scenario_after_others_on_a_shelf_logs_what_it_logs_alone_in_a_new_process(tmp_path):
    """The free memory scripts see (date()'s helper compiled on first use, the agent's restarts
    after a deploy) and everything else: the same bytes whatever the shelf's VMs ran before,
    as in a process that ran nothing before."""
    import json
    import subprocess
    import sys

    device, agent = app_files(tmp_path, MEMORY_DEVICE, MEMORY_AGENT)
    alone = []
    for i in range(len(MEMORY_CASES)):
        out = subprocess.run([sys.executable, "-c", ALONE, str(Path(__file__).parent), device, agent, str(i)],
                             capture_output=True, text=True, timeout=120, check=True)
        alone.append(json.loads(out.stdout))
    shelf = VMShelf()
    for order in (range(len(MEMORY_CASES)), reversed(range(len(MEMORY_CASES)))):
        for i in order:
            imp, events, duration = MEMORY_CASES[i]
            sim = play(device, agent, events, duration, vms=shelf, imp=imp)
            seen = json.loads(json.dumps(observed(sim)))
            sim.close()
            assert seen == alone[i], MEMORY_CASES[i]
    assert "free" in alone[0][0]
    shelf.close()


def test_a_simulation_that_never_ran_a_vm_from_the_shelf_hands_it_back():
    """Made with a shelf and closed before it started (or before an owner ever ran): the VMs go
    back as they came, and serve the next simulation as a new VM would."""
    device, agent = example_app("polite-sleeper")
    shelf = VMShelf()
    first = play(device, agent, [], "1h", vms=shelf)
    vms = (device_vm(first), agent_vm(first))
    first.close()
    unstarted = Simulation(device=device, agent=agent, start=False, vms=shelf)
    unstarted.close()
    again = play(device, agent, SCENARIOS[2], vms=shelf)
    assert (device_vm(again), agent_vm(again)) == vms
    seen = observed(again)
    again.close()
    assert seen == observed(play(device, agent, SCENARIOS[2]))
    shelf.close()
