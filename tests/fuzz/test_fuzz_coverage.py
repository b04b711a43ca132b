"""Simulation.coverage: the app lines each boot ran, through the binding's line hook."""

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
