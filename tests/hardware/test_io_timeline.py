"""Pin and bus activity on the timeline: one row per pin or bus, what the imp did above, what
came from outside below, at their times."""

import xml.etree.ElementTree as ET

from impapi import Simulation
from impapi.peripherals import Wiring
from impapi.timeline import render_svg

NS = {"s": "http://www.w3.org/2000/svg"}

APP = '''
local led = hardware.pin9, button = hardware.pin1, i2c = hardware.i2c89;
led.configure(DIGITAL_OUT, 0);
button.configure(DIGITAL_IN_PULLDOWN, function() { led.write(button.read()); });
i2c.configure(CLOCK_SPEED_400_KHZ);
function poll() { i2c.read(0xBE, "\\x0F", 1); imp.wakeup(600, poll); }
poll();
'''


def drawn() -> tuple[Simulation, ET.Element]:
    sim = Simulation(device=APP, imp="imp001", wiring=Wiring.loads('[[i2c]]\nbus = "i2c89"\nmodel = "hts221"'))
    sim.pulse("pin1", "1s", at="30m")
    sim.run("1h")
    return sim, ET.fromstring(render_svg(sim.events, duration_us=sim.clock.now_us))


def test_each_pin_and_bus_the_app_used_has_a_row_with_its_ticks():
    sim, svg = drawn()
    rows = {r.get("data-line"): r for r in svg.iterfind(".//s:g[@class='io-row']", NS)}
    assert list(rows) == ["pin1", "pin9", "i2c89"]  # pins first
    ticks = {name: [(t.get("class"), int(t.get("data-time-us")), int(t.get("data-count")))
                    for t in row.iterfind("s:rect[@data-time-us]", NS)] for name, row in rows.items()}
    # The button: driven high at 30 m and released a second later (from outside, below): one
    # pixel at this scale, so one tick of two events.
    assert ticks["pin1"] == [("io-in", 1_800_000_000, 2)]
    # The LED follows it (the imp wrote, above), after its first write at configure.
    assert [(c, n) for c, _, n in ticks["pin9"]] == [("io-out", 1), ("io-out", 2)]
    assert round(ticks["pin9"][1][1], -3) == 1_800_000_000  # its callback's own work: µs later
    # Six polls of the sensor in the hour, each a tick at its time with the transfer in its tooltip.
    polls = [e.time_us for e in sim.events if e.kind == "i2c"]
    assert [t for _, t, _ in ticks["i2c89"]] == polls and len(polls) == 6
    tip = rows["i2c89"].find("s:rect[@data-time-us]/s:title", NS).text
    assert tip.endswith("0xBE wrote 0f read bc")


def test_the_legend_explains_the_rows_and_a_run_without_io_has_none():
    _, svg = drawn()
    labels = [g.get("data-label") for g in svg.iterfind(".//s:g[@class='legend-item']", NS)]
    assert "pin or bus: the imp wrote or sent" in labels and "pin or bus: driven or sent from outside" in labels
    bare = Simulation(device="imp.wakeup(1, function() {});", imp="imp001")
    bare.run("1m")
    plain = ET.fromstring(render_svg(bare.events, duration_us=bare.clock.now_us))
    assert plain.find(".//s:g[@class='io']", NS) is None
