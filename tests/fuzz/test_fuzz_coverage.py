"""Simulation.coverage: the app lines each boot ran, through the binding's line hook."""

import pytest

from impapi import Simulation
from impapi.testing.fuzz.coverage import CoverageCollector, collect_live

APP = """if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
if (nv.n < 3) {
    imp.deepsleepfor(60);
} else {
    server.log("never");
}
"""


def _three_boots(tmp_path):
    app = tmp_path / "app.device.nut"
    app.write_text(APP)
    sim = Simulation(device=str(app), start=False)
    sim.coverage = CoverageCollector()
    sim.start()
    sim.run("150s")  # boots at 0 s and 60 s go to sleep; the third (120 s) is still running
    collect_live(sim)
    return app, sim


def test_every_boot_hands_its_lines_to_the_collector(tmp_path):
    app, sim = _three_boots(tmp_path)
    hits = sim.coverage.hits
    assert set(hits) == {str(app)}  # the API's own Squirrel prelude is not counted
    assert hits[str(app)][2] == 3 and hits[str(app)][4] == 2 and hits[str(app)][6] == 1


def test_a_vm_collected_at_the_end_and_again_as_it_closes_counts_once(tmp_path):
    app, sim = _three_boots(tmp_path)  # the third boot, still running, is collected there
    sim.close()  # and handed over again as its VM stops
    hits = sim.coverage.hits[str(app)]
    assert hits[2] == 3 and hits[4] == 2 and hits[6] == 1


def test_a_collector_that_is_done_with_a_file_turns_the_hook_off(tmp_path):
    app = tmp_path / "app.device.nut"
    app.write_text(APP)
    sim = Simulation(device=str(app), start=False)
    sim.coverage = CoverageCollector()
    sim.coverage.done.add(str(app))
    sim.start()
    sim.run("150s")
    collect_live(sim)
    assert sim.coverage.hits == {}


SEEN = """
local t0 = hardware.micros();
local s = 0;
for (local i = 0; i < 20; i++) { s += i; }
server.log("took " + (hardware.micros() - t0) + " free " + imp.getmemoryfree());
imp.onidle(function() { imp.deepsleepfor(60); });
"""


@pytest.mark.parametrize("imp", ["imp003", "imp005"])
def test_an_app_sees_the_same_time_and_memory_with_coverage_on(tmp_path, imp):
    """impsim fuzz counts coverage while an example runs (until every line has run), and the
    report replays the scenario without it: the app must not see the difference."""
    (tmp_path / "a.device.nut").write_text(SEEN)
    (tmp_path / "a.agent.nut").write_text('server.log("agent free " + imp.getmemoryfree());')
    logs = []
    for coverage in (None, CoverageCollector()):
        sim = Simulation(device=str(tmp_path / "a.device.nut"), agent=str(tmp_path / "a.agent.nut"), imp=imp,
                         start=False)
        sim.coverage = coverage
        sim.start()
        sim.run("70s")
        logs.append(sim.log.text())
        sim.close()
    assert logs[0] == logs[1]


# Busy enough to come within a few percent of the watchdog set below: a line instruction per
# pass of the loop (what coverage used to add) would take it over.
BUSY = """
function busy(n) {
    local s = 0;
    for (local i = 0; i < n; i++) {
        s += i;
    }
    return s;
}
local t0 = hardware.micros();
local s = busy(%d);
server.log("busy " + s + " took " + (hardware.micros() - t0) + " free " + imp.getmemoryfree());
imp.wakeup(1, function() {
    local before = imp.getmemoryfree();
    local parts = [];
    foreach (i, c in "coverage") parts.append(c);
    server.log("parts " + parts.len() + " " + (before - imp.getmemoryfree()) + " at " + hardware.millis());
    imp.onidle(function() { imp.deepsleepfor(30); });
});
"""
AGENT = """
local t0 = time();
local n = 0;
for (local i = 0; i < 1000; i++) {
    n += i % 7;
}
server.log("agent " + n + " free " + imp.getmemoryfree() + " at " + date().usec);
device.onconnect(function() { server.log("agent sees the device, free " + imp.getmemoryfree()); });
"""


@pytest.mark.parametrize("imp", ["imp001", "imp003", "imp004m", "imp005"])
def test_coverage_on_changes_no_time_memory_or_instruction_count_near_the_watchdog(tmp_path, imp):
    """Device and agent, several boots, a loop close to the watchdog: the record (log lines with
    times and free memory, events, errors) is the same with coverage on as off, and coverage
    still sees the lines that ran."""
    from impapi import Config

    (tmp_path / "b.device.nut").write_text(BUSY % 2500)
    (tmp_path / "b.agent.nut").write_text(AGENT)
    records = []
    for coverage in (None, CoverageCollector()):
        sim = Simulation(device=str(tmp_path / "b.device.nut"), agent=str(tmp_path / "b.agent.nut"), imp=imp,
                         config=Config(watchdog_instructions=WATCHDOG), start=False)
        sim.coverage = coverage
        sim.start()
        sim.run("100s")
        records.append((sim.log.text(), list(sim.events)))
        sim.close()  # hands the running VMs to the collector
    assert records[0] == records[1]
    text = records[0][0]
    assert "busy 3123750 took" in text and text.count("parts 8") >= 3  # no watchdog kill, three boots
    assert "watchdog" not in text.lower()
    hits = coverage.hits
    assert hits[str(tmp_path / "b.device.nut")][5] >= 3 * 2500  # the loop's body, every pass of every boot
    assert hits[str(tmp_path / "b.agent.nut")][5] == 1000


WATCHDOG = 10_500  # the busy boot needs ~10,040 instructions (bisected)
