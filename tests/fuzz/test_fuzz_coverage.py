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


def test_every_boot_hands_its_lines_to_the_collector(tmp_path):
    app = tmp_path / "app.device.nut"
    app.write_text(APP)
    sim = Simulation(device=str(app), start=False)
    sim.coverage = CoverageCollector()
    sim.start()
    sim.run("150s")  # boots at 0 s and 60 s go to sleep; the third (120 s) is still running
    collect_live(sim)
    hits = sim.coverage.hits
    assert set(hits) == {str(app)}  # the API's own Squirrel prelude is not counted
    assert hits[str(app)][2] == 3 and hits[str(app)][4] == 2 and hits[str(app)][6] == 1


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


@pytest.mark.xfail(strict=True, reason="line coverage compiles a line instruction before each line's "
                   "code: the watchdog and Config.instruction_ns count it, and a module that keeps code "
                   "in RAM (imp005, agents) holds it")
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
