"""The watchdog measures what the imp's does, time in Squirrel natives included: natives charge
their work to the instruction budget (vendor patch 10), so Config.watchdog_instructions stops a
loop of heavy native calls as it stops a loop of instructions."""

from __future__ import annotations

from impapi.simulation import Config
from runtime_helpers import device_lines, simulate

HEAVY = """
local s = ""; for (local i = 0; i < 1000; i++) s += "a";
local r = regexp("a*b");
for (local i = 0; i < 2000; i++) r.search(s);  // ~1,000 instructions of its own, 10^9 steps of matching
server.log("done");
"""


def test_a_loop_of_heavy_regexp_calls_trips_the_watchdog():
    sim = simulate(HEAVY, run="20s", config=Config(watchdog_instructions=50_000_000))
    lines = device_lines(sim)
    assert "done" not in lines
    assert "ERROR: watchdog: Squirrel ran too long" in lines
    assert any("watchdog" in e.text and "50000000" in e.text for e in sim.log if e.source == "sim")


def test_the_same_work_in_small_pieces_passes():
    light = HEAVY.replace("i < 1000; i++) s +=", "i < 10; i++) s +=")
    sim = simulate(light, run="20s", config=Config(watchdog_instructions=50_000_000))
    assert "done" in device_lines(sim)


def test_long_work_that_finishes_is_not_stopped_by_default():
    """The default watchdog is a safety net for runaway loops: one event that does about
    100 million instructions' worth of work (25,600 searches of a 16 KB string) finishes."""
    long_event = """
    local s = blob(16384).tostring() + "x";
    local found = 0;
    for (local i = 0; i < 25600; i++) found += s.find("x") > 0 ? 1 : 0;
    server.log("found " + found);
    """
    assert "found 25600" in device_lines(simulate(long_event, run="10s"))


def test_a_runaway_loop_of_api_calls_is_stopped_after_as_much_host_time():
    """A call of the imp API costs the simulation about a thousand instructions' time, and the
    watchdog counts it so: a runaway loop of server.log is stopped after about a thousand calls
    per million instructions of budget, not after a quarter of a million lines."""
    sim = simulate('while (true) server.log("x");', run="4s", config=Config(watchdog_instructions=1_000_000))
    lines = device_lines(sim)
    assert "ERROR: watchdog: Squirrel ran too long" in lines
    assert 900 <= lines.count("x") < 1000
