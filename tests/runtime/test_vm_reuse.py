"""Config.reuse_vms: a boot restores the previous boot's VM to the imp's pristine globals instead
of building a new VM. It must be invisible: the same logs and events as a new VM per boot, and
nothing a boot did reaches the next one."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from impapi import Config, Simulation
from impapi.scenario import apply
from impapi.testing import scenarios
from runtime_helpers import device_lines, example_app, observed, play_events

APPS = ("flash-ring-log", "impolite-logger", "ping-pong", "polite-logger", "sleepy-sensor")
BUSY = ["20m:impos=44.0", "47m:deploy", "1h10m:power-cycle", "2h:offline=40m", "3h:force-deploy",
        "3h30m:move-group=production", "4h:power-off", "4h5m:power-on"]


def play(device, agent, events, duration, reuse, imp="imp003"):
    return play_events(device, agent, events, duration, imp=imp, config=Config(reuse_vms=reuse))


@pytest.mark.parametrize("app", APPS)
def test_examples_behave_the_same_with_a_new_vm_per_boot(app):
    device, agent = example_app(app)
    reused = play(device, agent, BUSY, "6h", True)
    fresh = play(device, agent, BUSY, "6h", False)
    assert reused.device.boots > 5
    assert observed(reused) == observed(fresh)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios("12h"))
def test_any_scenario_behaves_the_same_with_a_new_vm_per_boot(scn):
    device, agent = example_app("polite-logger")
    runs = []
    for reuse in (True, False):
        sim = Simulation(device=device, agent=agent, start=False, config=Config(reuse_vms=reuse))
        sim.start()
        apply(scn, sim)
        sim.run("12h")
        runs.append(observed(sim))
    assert runs[0] == runs[1]


# Each app changes something at its first boot and reports, at every boot, whether the change
# is still there. On the imp every boot is a new Squirrel VM: it never is.
LEAKS = {
    "a global": ('leak <- 1;', '"leak" in getroottable()'),
    "an API table member": ('server.extra <- 1;', '"extra" in server'),
    "an API function replaced": ('server.log = function(s) {};', 'server.log.getinfos().native == false'),
    "a method added to blob": ('blob.extra <- function() { return 1 };', '"extra" in blob'),
    "the math table": ('math.extra <- 1;', '"extra" in math'),
    "a prelude closure's root": ('time.getroot().extra <- 1;', '"extra" in getroottable()'),
    "a delegate on an API table": ('hardware.setdelegate({ extra = 1 });', '"extra" in hardware'),
    # The class of a hardware object, reached through it; pristine closures, so nothing allocated.
    "a metamethod on a hardware object's class": (
        'local c = hardware.pinA.getclass(); c._get <- math.srand;',
        '(function() { try { hardware.pinA.extra; return true } catch (e) { return false } })()'),
    "a hardware object's method replaced": ('hardware.pinA.getclass().read <- math.srand;',
                                            'hardware.pinA.read == math.srand'),
    # A class locks at its first instance (no fields can be added); a new VM's blob class has none.
    # (Probed from the second boot on: a field added changes the class, so the next boot's VM is new.)
    "the blob class locked by an instance": ('local b = blob(1);', '''(function() {
        if (hardware.wakereason() != WAKEREASON_TIMER) return false;
        try { blob.extra <- 1; return false } catch (e) { return true } })()'''),
}


@pytest.mark.parametrize("what", sorted(LEAKS))
def test_nothing_a_boot_changes_reaches_the_next_boot(what):
    change, probe = LEAKS[what]
    app = f"""
        server.log("leaked: " + ({probe}));
        {change}
        imp.deepsleepfor(60);
    """
    sim = Simulation(device=app, imp="imp003")
    sim.run("4m")
    assert sim.device.boots == 4
    lines = [line for line in device_lines(sim) if line.startswith("leaked")]
    assert lines == ["leaked: false"] * 4


def test_a_deployment_does_not_see_the_constants_of_the_code_it_replaced(tmp_path):
    v1 = tmp_path / "v1.device.nut"
    v1.write_text('const LIMIT = 5;\nserver.onshutdown(function(r) { server.restart(); });\n'
                  'server.log("v1 " + LIMIT);\n')
    v2 = tmp_path / "v2.device.nut"
    v2.write_text('LIMIT <- 7;\nserver.log("v2 " + LIMIT);\n')
    sim = play(str(v1), None, [f"1m:deploy={v2}"], "2m", True)
    assert device_lines(sim) == ["v1 5", "v2 7"]


def test_a_boot_ending_inside_a_call_closes_its_vm_instead_of_reusing_it():
    """server.restart() from a handler that Squirrel called through a native (onidle through
    imp.wakeup here): the next boot must not take a VM that is still unwinding."""
    app = """
        server.log("boot " + hardware.wakereason());
        imp.wakeup(1, function() { imp.onidle(function() { server.restart(); }); });
    """
    sim = Simulation(device=app, imp="imp003")
    sim.run("10s")
    assert sim.device.boots >= 3


def test_free_memory_at_each_boot_matches_a_new_vm_and_does_not_leak():
    """§5.4: imp.getmemoryfree() at each boot, with leftovers of the previous boot the simulator
    still holds (a pending timer's closure, a cycle, the boot's main function and its error, a
    scratch pad grown by a long string, a string table grown by many strings): the same as in a
    new VM, at the start of the boot and after it makes strings, and the same at every boot
    (nothing accumulates)."""
    app = """
        server.log("free " + imp.getmemoryfree());
        local text = "x", names = [];
        for (local i = 0; i < 12; i++) text += text;
        for (local i = 0; i < 500; i++) names.push("n" + i);
        server.log("free " + imp.getmemoryfree() + " after " + text.len());
        local cycle = {}; cycle.self <- cycle;
        imp.wakeup(3600, function() { server.log("never"); });
        imp.deepsleepfor(60);
    """
    free = {}
    for reuse in (True, False):
        sim = Simulation(device=app, imp="imp003", config=Config(reuse_vms=reuse))
        sim.run("10m")
        free[reuse] = [int(line.split()[1]) for line in device_lines(sim)]
    assert len(free[True]) == 20
    assert free[True] == free[False]
    assert len(set(free[True][0::2])) == 1 and len(set(free[True][1::2])) == 1


# Every other boot adds a field to a class (a class that changed means a new VM for the boot after:
# the one between leaves its instance to a reused VM); every boot leaves an instance in a cycle.
EXTEND_AFTER_A_CYCLE = """
    server.log("free " + imp.getmemoryfree());
    if (count % 2 == 0) {{
        try {{ {cls}.extra <- 1; server.log("extended " + {cls}.extra); }}
        catch (e) {{ server.log("refused: " + e); }}
    }}
    local t = {{ i = {make} }}; t.me <- t;
"""


@pytest.mark.parametrize("side", ["device", "agent"])
def test_a_class_a_boot_left_an_instance_of_in_a_cycle_can_take_fields_at_the_next_boot(side):
    """A class locks at its first instance (no field can be added after). A boot that leaves
    one in a reference cycle leaves the next boot nothing on the imp, where every boot is a new
    VM: that boot can add a field to the class, and finds the same free memory."""
    if side == "device":
        device = ('if (!("nv" in getroottable())) nv <- { n = 0 };\nlocal count = ++nv.n;\n'
                  + EXTEND_AFTER_A_CYCLE.format(cls="blob", make="blob(4)") + "imp.deepsleepfor(60);\n")
        agent, events = None, []
    else:
        device = None
        agent = ('local saved = server.load(), count = ("n" in saved ? saved.n : 0) + 1;\n'
                 "server.save({ n = count });\n" + EXTEND_AFTER_A_CYCLE.format(cls="regexp2", make='regexp2("a+")'))
        events = [f"{m}m:deploy" for m in range(1, 6)]
    lines = {}
    for reuse in (True, False):
        sim = play_events(device, agent, events, "5m30s", imp="imp003", config=Config(reuse_vms=reuse))
        lines[reuse] = [e.text for e in sim.log if e.source == side]
    assert lines[True] == lines[False]
    assert [line for line in lines[True] if not line.startswith("free")] == ["extended 1"] * 3


def test_a_replaced_flash_chip_gets_a_new_vm():
    """spiflash.read is served in C from the chip's buffer: a VM made for one chip is not
    reused for another."""
    from impapi.flash import SpiFlash

    app = """
        hardware.spiflash.enable();
        server.log("byte " + hardware.spiflash.read(0, 1)[0]);
        imp.deepsleepfor(60);
    """
    sim = Simulation(device=app, imp="imp003")
    sim.run("30s")
    chip = SpiFlash(sim.device.flash.size)
    chip.enable()
    chip.write(0, b"\x2a")
    sim.device.flash = chip
    sim.run("1m")
    assert device_lines(sim) == ["byte 255", "byte 42"]


def test_a_boot_that_grew_the_stack_hands_on_a_new_vm():
    """Unbounded recursion grows Squirrel's stack, which never shrinks: a reused VM would let
    later boots recurse deeper (out of memory turned into stack overflow after a few boots)."""
    app = "function f(n) { return f(n + 1) + 1; }\nf(0);\n"

    def outcomes(reuse: bool) -> list[str]:
        sim = Simulation(device=app, config=Config(reuse_vms=reuse))
        sim.run("10m")
        return [e.text for e in sim.log if e.type == "lastexitcode" or "ERROR" in e.text]

    reused, fresh = outcomes(True), outcomes(False)
    assert len(reused) > 100 and reused == fresh
    assert all("out of memory" in text for text in reused)


@pytest.mark.parametrize("ending", ["imp.deepsleepfor(60);", "imp.onidle(function() { imp.deepsleepfor(60); });",
                                    'throw "boom";', "server.restart();"])
def test_a_boot_leaves_nothing_for_the_cycle_collector(ending):
    """What a boot leaves (its host, the halt or error that ended it and that exception's frames)
    is freed as the boot ends, by reference counting: a long run does not pile work up for
    Python's cycle collector, whose pauses would grow with it."""
    import gc

    sim = Simulation(device='agent.send("n", 1);\n' + ending, agent='device.on("n", function(v) {});',
                     imp="imp003")
    sim.run("10m")  # imports, caches and the VMs' first boots are made
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        boots = len(sim.events.of("boot"))
        sim.run("1h")
        assert len(sim.events.of("boot")) > boots + 5
        gc.collect()
        left = sorted({type(o).__name__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


def test_writes_to_api_tables_leave_the_next_boot_a_fresh_copy_and_the_same_free_memory():
    """A reused VM keeps the copies of the API's tables a boot left untouched (a restore then
    copies only the root table): whatever a boot wrote to them, added, deleted or held, the next
    boot sees fresh tables and the same free memory as with a new VM per boot."""
    app = """
        if (!("nv" in getroottable())) nv <- { n = 0 };
        server.log("boot " + nv.n + " free " + imp.getmemoryfree() + " extra " + ("extra" in imp)
                   + " " + ("extra" in hardware) + " " + server.len());
        switch (nv.n++ % 9) {
            case 0: imp.extra <- 1; break;
            case 1: delete server.log; break;
            case 2: math.clear(); break;
            case 3: hardware.rawset("extra", 1); break;
            case 4: hardware.setdelegate({ extra = 1 }); break;
            case 5: keep <- imp.weakref(); break;
            case 6: held <- [imp, hardware]; break;
            case 7: imp.extra <- 1; delete imp.extra; break;
        }
        imp.deepsleepfor(60);
    """
    logs = {}
    for reuse in (True, False):
        sim = Simulation(device=app, imp="imp003", config=Config(reuse_vms=reuse))
        sim.run("20m")
        logs[reuse] = device_lines(sim)
    assert len(logs[True]) == 20
    assert logs[True] == logs[False]
    assert all(line.endswith(" extra false false 15") for line in logs[True])
