"""The timeline picture: lanes, markers and labels where the events put them (SVG parsed as XML),
colours where they should be (rasterised PNG), and the HTML page around it.

The fixture run lasts 1032 s, exactly the plot width of a 1200 px picture, so event second ``t``
sits at x = 132 + t."""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from impapi import Simulation
from impapi.events import Event
from impapi.timeline import (
    COLORS,
    TimelineError,
    build_model,
    render_html,
    render_png,
    render_svg,
    text_width,
    write_timeline,
)

NS = {"s": "http://www.w3.org/2000/svg"}
S = 1_000_000
LEFT = 132
DURATION = 1032 * S


def ev(t_s, kind, **data):
    return Event(round(t_s * S), kind, data)


def upd(t_s, stage, update, version, path=None, forced=False):
    return ev(t_s, "update", stage=stage, update=update, version=version, path=path, forced=forced)


def boot(t_s, name, value):
    return ev(t_s, "boot", wakereason=value, reason_name=name)


EVENTS = [
    ev(0, "agent-restart"),
    ev(0, "power", on=True),
    ev(0, "state", state="booting"),
    ev(2, "connection", connected=True),
    ev(2, "state", state="running"),
    boot(2, "WAKEREASON_POWER_ON", 0),
    upd(100, "released", "impos", "43.1"),
    upd(100, "announced", "impos", "43.1"),
    upd(100, "handler-called", "impos", "43.1"),
    ev(160, "state", state="running"),
    upd(160, "applied", "impos", "43.1", path="polite"),
    boot(160, "WAKEREASON_NEW_FIRMWARE", 6),
    ev(200, "connection", connected=False),
    ev(200, "state", state="asleep"),
    ev(300, "state", state="running"),
    boot(300, "WAKEREASON_TIMER", 1),
    ev(300.5, "state", state="asleep"),
    ev(390, "outage", start_us=400 * S, end_us=500 * S),
    ev(420, "state", state="running"),
    boot(420, "WAKEREASON_TIMER", 1),
    ev(420, "state", state="snoozing"),
    ev(480, "connection", connected=True),
    ev(480, "state", state="running"),
    boot(480, "WAKEREASON_SNOOZE", 7),
    upd(600, "released", "squirrel", "v3", path="group-move", forced=True),
    upd(600, "announced", "squirrel", "v3", path="group-move", forced=True),
    upd(600, "applied", "squirrel", "v3", path="group-move", forced=True),
    boot(600, "WAKEREASON_NEW_SQUIRREL", 4),
    ev(700, "error", message="the index 'x' does not exist"),
    boot(705, "WAKEREASON_SQUIRREL_ERROR", 5),
    ev(800, "power", on=False),
    ev(800, "state", state="off"),
    ev(800, "connection", connected=False),
    ev(800, "power", on=True),
    ev(800, "state", state="booting"),
    ev(802, "connection", connected=True),
    ev(802, "state", state="running"),
    boot(802, "WAKEREASON_POWER_ON", 0),
    ev(900, "agent-restart"),
    upd(950, "released", "squirrel", "v4"),
]


def x_of(t_s):
    return LEFT + t_s


@pytest.fixture(scope="module")
def svg_text():
    return render_svg(EVENTS, duration_us=DURATION, title="fixture run")


@pytest.fixture(scope="module")
def svg(svg_text):
    return ET.fromstring(svg_text)


def find(svg, xpath):
    return svg.findall(xpath, NS)


def by_class(svg, cls, tag="*"):
    return [e for e in svg.iter() if cls in (e.get("class") or "").split() and (tag == "*" or e.tag.endswith(tag))]


def texts(el):
    return ["".join(t.itertext()) for t in el.iter("{http://www.w3.org/2000/svg}text")]


def marker(svg, kind, t_s):
    found = [g for g in by_class(svg, f"marker-{kind}") if g.get("data-time-us") == str(round(t_s * S))]
    assert len(found) == 1, (kind, t_s, len(found))
    return found[0]


def rect_at(svg, cls, start_s):
    found = [r for r in by_class(svg, cls, "rect") if r.get("data-start-us") == str(round(start_s * S))]
    assert len(found) == 1, (cls, start_s, found)
    return found[0]


# --- structure ----------------------------------------------------------------------------------


def test_it_is_an_svg_document_with_its_size_and_title(svg_text, svg):
    assert svg_text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.get("width") == "1200" and int(svg.get("height")) > 300
    assert svg.get("data-duration-us") == str(DURATION)
    assert (svg.get("data-plot-left"), svg.get("data-plot-width")) == ("132", "1032")
    assert find(svg, "s:title")[0].text == "fixture run"
    [title] = by_class(svg, "title", "text")
    assert title.text == "fixture run"
    [subtitle] = by_class(svg, "subtitle", "text")
    assert subtitle.text == ("17m12s of virtual time, 2026-01-01 00:00 UTC → 2026-01-01 00:17 UTC · 8 boots · "
                             "2 updates applied (1 forced) · 1 outage · 1 error")


def test_lanes_in_order_with_their_titles(svg):
    lanes = by_class(svg, "lane", "g")
    assert [g.get("data-lane") for g in lanes] == ["updates", "device", "agent"]
    titles = [texts(g)[0] for g in lanes]
    assert titles == ["impCloud", "Device", "Agent"]
    tops = [min(float(r.get("y")) for r in g.iter("{http://www.w3.org/2000/svg}rect")) for g in lanes]
    assert tops == sorted(tops)


def test_state_intervals_span_their_times(svg):
    running = rect_at(svg, "state-running", 2)
    assert float(running.get("x")) == x_of(2) and float(running.get("width")) == 198
    assert running.get("data-end-us") == str(200 * S) and running.get("fill") == COLORS["running"]
    # asleep 200-300 s and 300.5-420 s: one rect, the half-second wake between them drawn on top
    asleep = rect_at(svg, "state-asleep", 200)
    assert (float(asleep.get("x")), float(asleep.get("width"))) == (x_of(200), 220)
    assert asleep.get("data-end-us") == str(420 * S)
    snoozing = rect_at(svg, "state-snoozing", 420)
    assert (float(snoozing.get("x")), float(snoozing.get("width"))) == (x_of(420), 60)
    assert snoozing.get("fill") == "url(#hatch-snoozing)"
    booting = rect_at(svg, "state-booting", 800)
    assert (float(booting.get("x")), float(booting.get("width"))) == (x_of(800), 2)
    last = rect_at(svg, "state-running", 802)
    assert float(last.get("x")) + float(last.get("width")) == pytest.approx(LEFT + 1032)


def test_a_wake_too_short_to_see_is_a_visible_tick_not_a_long_awake_bar(svg):
    tick = rect_at(svg, "state-running", 300)
    assert "brief" in tick.get("class")
    assert float(tick.get("x")) == x_of(300) and 1 <= float(tick.get("width")) <= 2
    band = rect_at(svg, "state-running", 2)
    assert float(tick.get("height")) < float(band.get("height")) / 2  # a tick along the top of the band
    assert float(tick.get("y")) == float(band.get("y"))


def test_connection_band(svg):
    on = rect_at(svg, "conn-connected", 2)
    assert (float(on.get("x")), float(on.get("width"))) == (x_of(2), 198)
    assert on.get("fill") == COLORS["connected"]
    off = rect_at(svg, "conn-offline", 200)
    assert (float(off.get("x")), float(off.get("width"))) == (x_of(200), 280)
    state = rect_at(svg, "state-running", 2)
    assert float(on.get("y")) > float(state.get("y")) + float(state.get("height"))  # beneath the state band
    assert float(on.get("height")) < float(state.get("height")) / 3  # a thinner band


def test_outage_window(svg):
    [g] = by_class(svg, "outage", "g")
    assert (g.get("data-start-us"), g.get("data-end-us")) == (str(400 * S), str(500 * S))
    band = [r for r in g if "outage-band" in (r.get("class") or "")][0]
    assert (float(band.get("x")), float(band.get("width"))) == (x_of(400), 100)
    assert band.get("fill") == "url(#hatch-outage)"
    assert "outage 1m40s" in texts(g)
    [window] = by_class(svg, "outage-window", "rect")
    assert (float(window.get("x")), float(window.get("width"))) == (x_of(400), 100)


def label_of(g):
    return [t for t in texts(g) if t]


def test_forced_update_marker_is_highlighted_and_labelled(svg):
    g = marker(svg, "update", 600)
    assert "forced" in g.get("class") and "squirrel" in g.get("class")
    assert float(g.get("data-x")) == x_of(600)
    assert label_of(g) == ["FORCED Squirrel v3 · group move"]
    [pill] = by_class(g, "label-pill", "rect")
    assert pill.get("fill") == COLORS["forced"]
    [highlight] = by_class(g, "forced-highlight", "rect")
    assert float(highlight.get("x")) + float(highlight.get("width")) / 2 == x_of(600)
    label = [t for t in g.iter("{http://www.w3.org/2000/svg}text")][0]
    assert float(pill.get("x")) <= float(label.get("x")) <= float(pill.get("x")) + 6
    assert abs(float(pill.get("x")) - x_of(600)) <= 4  # the label starts at the stem


def test_polite_update_marker(svg):
    g = marker(svg, "update", 160)
    assert "forced" not in g.get("class") and "impos" in g.get("class")
    assert label_of(g) == ["impOS 43.1"]
    line = [e for e in g if e.tag.endswith("line") and e.get("stroke") == COLORS["impos"]
            and e.get("class") != "stem"][0]
    assert float(line.get("x1")) == float(line.get("x2")) == x_of(160)


def test_restarts_are_labelled_with_their_wake_reason(svg):
    assert label_of(marker(svg, "restart", 705)) == ["SQUIRREL_ERROR"]
    assert label_of(marker(svg, "restart", 480)) == ["SNOOZE"]
    assert label_of(marker(svg, "restart", 2)) == ["POWER_ON"]
    # A restart that applied an update is told by the update's label; its reason is in the tooltip.
    g = marker(svg, "restart", 600)
    assert label_of(g) == [] and "WAKEREASON_NEW_SQUIRREL" in g.find("s:title", NS).text
    # Routine timer wakes are not restart markers at all.
    assert not [m for m in by_class(svg, "marker-restart") if m.get("data-time-us") == str(300 * S)]


def test_handler_error_and_power_markers(svg):
    assert label_of(marker(svg, "handler", 100)) == ["handler(NEWFIRMWARE)"]
    assert label_of(marker(svg, "error", 700)) == ["error"]
    assert "the index 'x' does not exist" in marker(svg, "error", 700).find("s:title", NS).text
    assert label_of(marker(svg, "power", 800)) == ["power cycle"]  # off and on at once: one marker
    assert len(by_class(svg, "marker-power")) == 1  # switching on at the start is not news


def test_markers_sit_at_their_times(svg):
    for g in by_class(svg, "marker", "g"):
        t = int(g.get("data-time-us"))
        assert float(g.get("data-x")) == pytest.approx(LEFT + 1032 * t / DURATION)


def test_labels_do_not_overlap(svg):
    boxes = []
    for t in svg.iter("{http://www.w3.org/2000/svg}text"):
        if "label" not in (t.get("class") or ""):
            continue
        x, y = float(t.get("x")), float(t.get("y"))
        w = text_width(t.text, float(t.get("font-size")), bold=t.get("font-weight") == "bold")
        x0 = x - w if t.get("text-anchor") == "end" else x
        boxes.append((x0, x0 + w, y, t.text))
    assert len(boxes) >= 9
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if abs(a[2] - b[2]) < 12:
                assert a[1] <= b[0] or b[1] <= a[0], (a, b)


def test_agent_lane(svg):
    [band] = by_class(svg, "agent-band", "rect")
    assert float(band.get("x")) == LEFT and float(band.get("width")) == 1032
    g = marker(svg, "agent-restart", 900)
    assert float(g.get("data-x")) == x_of(900) and label_of(g) == ["restart"]


def test_update_spans_from_release_to_application(svg):
    spans = {g.get("data-version"): g for g in by_class(svg, "update-span", "g")}
    assert set(spans) == {"43.1", "v3", "v4"}
    impos = spans["43.1"]
    assert (impos.get("data-start-us"), impos.get("data-end-us")) == (str(100 * S), str(160 * S))
    assert "applied" in impos.get("class") and "handler called at 1m40s" in impos.find("s:title", NS).text
    [dot] = by_class(impos, "handler-dot")
    assert float(dot.get("cx")) == x_of(100)
    assert "forced" in spans["v3"].get("class")
    pending = spans["v4"]
    assert "pending" in pending.get("class") and pending.get("data-end-us") == str(DURATION)
    assert "Squirrel v4 · still pending" in texts(pending)


def test_time_axis_has_readable_labels_at_their_times(svg):
    [axis] = by_class(svg, "axis", "g")
    assert axis.get("data-step-us") == str(120 * S)
    ticks = [(t.text, float(t.get("x"))) for t in by_class(axis, "tick", "text")]
    assert ticks == [("0", 132), ("2m", 252), ("4m", 372), ("6m", 492), ("8m", 612), ("10m", 732), ("12m", 852),
                     ("14m", 972), ("16m", 1092)]
    clock = [t.text for t in by_class(axis, "tick-clock", "text")]
    assert clock[:3] == ["00:00", "00:02", "00:04"]


@pytest.mark.parametrize("duration_us, step, first", [
    (2 * 86_400 * S, 6 * 3600 * S, ["0", "6h", "12h", "18h", "1d", "1d6h"]),
    (30 * 86_400 * S, 3 * 86_400 * S, ["0", "3d", "6d"]),
    (90 * S, 10 * S, ["0", "10s", "20s"]),
    (2 * S, 200_000, ["0", "200ms", "400ms"]),
])
def test_axis_steps_suit_the_run(duration_us, step, first):
    axis = by_class(ET.fromstring(render_svg(EVENTS[:6], duration_us=duration_us)), "axis", "g")[0]
    assert axis.get("data-step-us") == str(step)
    assert [t.text for t in by_class(axis, "tick", "text")][:len(first)] == first


def test_axis_clock_labels_follow_the_epoch():
    from datetime import datetime, timezone

    svg = ET.fromstring(render_svg(EVENTS[:6], duration_us=2 * 86_400 * S,
                                   epoch=datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)))
    clock = [t.text for t in by_class(svg, "tick-clock", "text")]
    assert clock[:3] == ["18:00", "Mar 2", "06:00"]


def test_legend_explains_what_is_drawn(svg):
    labels = [g.get("data-label") for g in by_class(svg, "legend-item", "g")]
    for expected in ("running", "booting", "asleep", "snoozing (reconnecting)", "off", "connected", "not connected",
                     "network outage", "restart (wake reason)", "shutdown handler called", "impOS update",
                     "forced update (handler skipped)", "runtime error", "power", "agent running"):
        assert expected in labels
    assert "update deferred" not in labels  # nothing was deferred


def test_rendering_is_deterministic(svg_text):
    assert render_svg(list(EVENTS), duration_us=DURATION, title="fixture run") == svg_text


def test_text_is_escaped():
    svg = render_svg([ev(0, "state", state="running"), ev(1, "error", message="<&\">")], duration_us=10 * S,
                     title="a <b> & c")
    root = ET.fromstring(svg)
    assert find(root, "s:title")[0].text == "a <b> & c"


def test_no_events_still_draws_an_axis():
    root = ET.fromstring(render_svg([], duration_us=3600 * S))
    assert "no events recorded" in texts(root)
    assert by_class(root, "tick", "text")


def test_a_long_run_stays_small():
    """30 days of 15-minute wakes: neighbouring slivers merge, so the picture stays light."""
    events = [ev(0, "agent-restart"), ev(0, "state", state="booting")]
    for i in range(30 * 96):
        t = i * 900
        events += [ev(t, "state", state="running"), boot(t, "WAKEREASON_TIMER", 1), ev(t + 0.5, "state", state="asleep")]
    svg = render_svg(events, duration_us=30 * 86_400 * S)
    assert len(svg) < 200_000
    root = ET.fromstring(svg)
    assert len(by_class(root, "state-running", "rect")) < 100


# --- the model ----------------------------------------------------------------------------------


def test_model_update_spans_and_superseded_releases():
    m = build_model([upd(10, "released", "squirrel", "v2"), upd(20, "released", "squirrel", "v3"),
                     upd(30, "applied", "squirrel", "v3", path="polite")], duration_us=100 * S)
    v2, v3 = m.updates
    assert (v2.version, v2.superseded_us, v2.applied_us) == ("v2", 20 * S, None)
    assert (v3.version, v3.released_us, v3.applied_us, v3.path, v3.forced) == ("v3", 20 * S, 30 * S, "polite", False)


def test_model_an_outage_without_end_lasts_to_the_end():
    m = build_model([ev(10, "outage", start_us=10 * S, end_us=None)], duration_us=100 * S)
    assert m.outages == [(10 * S, 100 * S)]


def test_model_axis_defaults_to_the_last_event():
    assert build_model([ev(42, "state", state="running")]).duration_us == 42 * S


def test_model_lanes_per_device():
    m = build_model([ev(0, "state", state="running", device="a"), ev(0, "state", state="asleep", device="b")],
                    duration_us=S)
    assert [(lane.name, lane.states[0].value) for lane in m.devices] == [("Device a", "running"), ("Device b", "asleep")]
    root = ET.fromstring(render_svg([ev(0, "state", state="running", device="a"),
                                     ev(0, "state", state="asleep", device="b")], duration_us=S))
    assert [g.get("data-device") for g in by_class(root, "lane-device", "g")] == ["a", "b"]


def test_model_state_totals():
    m = build_model(EVENTS, duration_us=DURATION)
    totals = m.state_totals(m.devices[0])
    assert sum(totals.values()) == DURATION
    assert totals["snoozing"] == 60 * S and totals["booting"] == 4 * S and totals["off"] == 0


# --- HTML -----------------------------------------------------------------------------------------


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.classes, self.svg = [], None, None, [], 0
        self.title = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.row = []
            self.classes.append(dict(attrs).get("class", ""))
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "svg":
            self.svg += 1
        elif tag == "title" and self.title is None:
            self._in_title = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr":
            self.rows.append(self.row)
            self.row = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self._in_title:
            self.title = (self.title or "") + data


def test_html_page_has_the_picture_and_a_summary():
    page = render_html(EVENTS, duration_us=DURATION, title="fixture run")
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    parsed = _Tables()
    parsed.feed(page)
    assert parsed.title == "fixture run" and parsed.svg == 1
    rows = {r[0]: r[1:] for r in parsed.rows if r}
    assert rows["Virtual time"] == ["17m12s from 2026-01-01 00:00:00 UTC"]
    assert rows["Device: boots"] == ["8 (POWER_ON 2, TIMER 2, NEW_FIRMWARE 1, SNOOZE 1, NEW_SQUIRREL 1, "
                                     "SQUIRREL_ERROR 1)"]
    assert rows["Network outages"] == ["1, 1m40s in all"]
    assert rows["Agent restarts"] == ["1"]
    assert rows["impOS 43.1"] == ["1m40s", "1m40s", "1m40s", "–", "2m40s", "polite", "applied, 1m"]
    assert rows["Squirrel v3"][-2:] == ["group move forced", "applied, 0s"]
    assert rows["Squirrel v4"][-1] == "pending, 1m22s"
    forced_rows = [r for r, c in zip(parsed.rows, parsed.classes, strict=True) if c == "forced"]
    assert [r[0] for r in forced_rows] == ["Squirrel v3"]
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    ET.fromstring(svg)  # the embedded picture is well-formed
    assert "<?xml" not in page


# --- files ----------------------------------------------------------------------------------------


def test_write_timeline_picks_the_format_by_extension(tmp_path):
    svg = write_timeline(tmp_path / "run.svg", EVENTS, duration_us=DURATION)
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    html = write_timeline(tmp_path / "run.HTML", EVENTS, duration_us=DURATION)
    assert html.read_text().startswith("<!DOCTYPE html>")
    for bad in ("run.txt", "run", "run.svg.gz"):
        with pytest.raises(TimelineError, match=r"unknown timeline format .*: name the file \.svg, \.html or \.png"):
            write_timeline(tmp_path / bad, EVENTS)


def test_a_simulation_can_be_drawn_directly(tmp_path):
    sim = Simulation(device='server.onshutdown(function(r) { imp.wakeup(5, server.restart); });\n'
                            'imp.wakeup(60, function() { imp.deepsleepfor(600); });\n',
                     agent="server.log(1);\n")
    sim.run("20m")
    sim.cloud.release_impos("43.1")
    sim.run("20m")
    sim.power_cycle()
    sim.run("20m")
    root = ET.fromstring(render_svg(sim))
    assert root.get("data-duration-us") == str(sim.clock.now_us)
    assert "impsim · <device>" in "".join(root.find("s:title", NS).itertext())
    applied = sim.events.of("update", stage="applied")
    assert applied, "the release reached the device"
    for e in applied:
        g = marker(root, "update", e.time_us / S)
        assert ("forced" in g.get("class")) == e.data["forced"]
    boots = [e for e in sim.events if e.kind == "boot" and e.data["reason_name"] != "WAKEREASON_TIMER"]
    assert {int(g.get("data-time-us")) for g in by_class(root, "marker-restart", "g")} == {e.time_us for e in boots}


# --- PNG: colours where they belong ---------------------------------------------------------------


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("png") / "run.png"
    assert render_png(EVENTS, path, duration_us=DURATION, title="fixture run", scale=1) == path
    return Image.open(path).convert("RGB")


def rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def near(a, b, tolerance=24):
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def bands(svg):
    state = rect_at(svg, "state-running", 2)
    conn = rect_at(svg, "conn-connected", 2)
    return (float(state.get("y")), float(state.get("height"))), (float(conn.get("y")), float(conn.get("height")))


def test_png_has_the_svg_size(png, svg):
    assert png.size == (1200, int(svg.get("height")))


def test_png_forced_update_colour_at_its_x(png, svg):
    (top, height), _ = bands(svg)
    y = int(top + height * 0.7)
    x = x_of(600)
    assert png.getpixel((x - 1, y)) == rgb(COLORS["forced"])
    assert png.getpixel((x, y)) == rgb(COLORS["forced"])
    # ...and nowhere on the band far from forced updates
    row = [png.getpixel((px, y)) for px in range(LEFT, LEFT + 1032) if abs(px - x) > 6]
    assert rgb(COLORS["forced"]) not in row


def test_png_state_and_connection_colours(png, svg):
    (top, height), (ctop, cheight) = bands(svg)
    y, cy = int(top + height * 0.7), int(ctop + cheight / 2)
    assert png.getpixel((x_of(100), y)) == rgb(COLORS["running"])
    assert png.getpixel((x_of(250), y)) == rgb(COLORS["asleep"])
    assert png.getpixel((x_of(100), cy)) == rgb(COLORS["connected"])
    assert png.getpixel((x_of(250), cy)) == rgb(COLORS["offline"])
    # a polite impOS update: its own colour, not the forced one
    assert near(png.getpixel((x_of(160) - 1, y)), rgb(COLORS["impos"]))


def test_png_brief_wake_is_a_tick_at_the_top(png, svg):
    (top, height), _ = bands(svg)
    assert near(png.getpixel((x_of(300), int(top + 3))), rgb(COLORS["running"]), 60)
    assert png.getpixel((x_of(300), int(top + height - 3))) == rgb(COLORS["asleep"])


def test_png_outage_is_red_hatched(png, svg):
    _, (ctop, cheight) = bands(svg)
    pixels = [png.getpixel((px, int(ctop + dy))) for px in range(x_of(402), x_of(498)) for dy in (2, 4, 6)]
    reds = [p for p in pixels if p[0] > 180 and p[0] - p[1] > 90 and p[0] - p[2] > 90]
    pale = [p for p in pixels if near(p, rgb(COLORS["outage-tint"]), 30)]
    assert len(reds) > 15 and len(pale) > 15  # stripes of both


def test_png_labels_are_drawn(png, svg):
    """The forced label's pill: white text on magenta, above the band at the stem."""
    g = marker(svg, "update", 600)
    [pill] = by_class(g, "label-pill", "rect")
    x0, y0 = float(pill.get("x")), float(pill.get("y"))
    w, h = float(pill.get("width")), float(pill.get("height"))
    box = [png.getpixel((int(px), int(py))) for px in range(int(x0) + 2, int(x0 + w) - 2)
           for py in range(int(y0) + 2, int(y0 + h) - 2)]
    assert sum(p == rgb(COLORS["forced"]) for p in box) > len(box) / 2
    assert sum(near(p, (255, 255, 255), 40) for p in box) > 40  # the text


def test_png_scale_doubles_the_pixels(tmp_path, svg):
    from PIL import Image

    path = write_timeline(tmp_path / "big.png", EVENTS, duration_us=DURATION)  # default scale 2
    assert Image.open(path).size == (2400, 2 * int(svg.get("height")))
    assert re.match(rb"\x89PNG\r\n\x1a\n", path.read_bytes()[:8])
