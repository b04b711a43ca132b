"""The log stream: entries, impt-style rendering, JSON lines, filtering, sinks."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.log import LOG_TYPES, SOURCES, Log, LogEntry, parse_json_lines

S = 1_000_000


@pytest.mark.parametrize(
    ("log_type", "label", "source"),
    [
        ("server.log", "[Device]", "device"),
        ("server.error", "[Device]", "device"),
        ("server.sleep", "[Device]", "device"),
        ("agent.log", "[Agent]", "agent"),
        ("agent.error", "[Agent]", "agent"),
        ("status", "[Status]", "status"),
        ("powerstate", "[Power State]", "status"),
        ("lastexitcode", "[Exit Code]", "status"),
        ("firmware", "[Firmware]", "status"),
    ],
)
def test_impcentral_types_render_with_their_labels(log_type, label, source):
    """imp-api.md §11.1: the API log types and the labels they are shown with."""
    log = Log()
    entry = log.add(0, log_type, "msg")
    assert entry.source == source and entry.label == label
    assert log.text() == f"2026-01-01T00:00:00.000Z {label} msg\n"


def test_simulator_notes_have_their_own_type():
    log = Log()
    log.add(5 * S, "impsim", "outage begins (NO_WIFI)")
    assert log.text() == "2026-01-01T00:00:05.000Z [Sim] outage begins (NO_WIFI)\n"
    assert log[0].source == "sim"


def test_timestamps_use_the_virtual_epoch_with_millisecond_precision():
    log = Log()
    assert log.timestamp(0) == "2026-01-01T00:00:00.000Z"
    assert log.timestamp(1_234_567) == "2026-01-01T00:00:01.234Z"  # truncated, not rounded
    assert log.timestamp(999) == "2026-01-01T00:00:00.000Z"
    assert log.timestamp(2 * 86400 * S + 3661 * S + 5_000) == "2026-01-03T01:01:01.005Z"
    assert log.timestamp(366 * 86400 * S) == "2027-01-02T00:00:00.000Z"


def test_configurable_epoch_naive_means_utc():
    aware = Log(epoch=datetime(2017, 1, 31, 11, 51, 49, tzinfo=timezone.utc))
    naive = Log(epoch=datetime(2017, 1, 31, 11, 51, 49))
    assert aware.timestamp(500_000) == naive.timestamp(500_000) == "2017-01-31T11:51:49.500Z"


def test_text_renders_all_entries_in_insertion_order():
    log = Log()
    log.add(0, "status", "Device connected")
    log.add(1_500, "server.log", "hello")
    log.add(2 * S, "agent.log", "got reading")
    log.add(2 * S, "server.error", "ERROR: the index 'foo' does not exist")
    assert log.text() == (
        "2026-01-01T00:00:00.000Z [Status] Device connected\n"
        "2026-01-01T00:00:00.001Z [Device] hello\n"
        "2026-01-01T00:00:02.000Z [Agent] got reading\n"
        "2026-01-01T00:00:02.000Z [Device] ERROR: the index 'foo' does not exist\n"
    )
    assert len(log) == 4 and [e.text for e in log][1] == "hello"


def test_text_is_stored_verbatim():
    """Producers add prefixes such as ERROR: (§10, §11.4); the log adds nothing."""
    log = Log()
    log.add(0, "server.error", "plain")
    assert log.text().endswith("[Device] plain\n")
    assert log[0].is_error and not log.add(0, "server.log", "x").is_error


def test_empty_log_renders_empty():
    assert Log().text() == "" and Log().to_json() == ""


def test_json_lines_are_machine_readable_and_fixed():
    log = Log()
    log.add(1_234_567, "server.log", 'line "one"\nline two é')
    out = log.to_json()
    assert out == (
        '{"ts":"2026-01-01T00:00:01.234Z","time_us":1234567,"source":"device",'
        '"type":"server.log","msg":"line \\"one\\"\\nline two \\u00e9"}\n'
    )
    assert out.isascii() and out.count("\n") == 1
    obj = json.loads(out)
    assert obj["msg"] == 'line "one"\nline two é'


def test_json_round_trips():
    log = Log()
    log.add(0, "status", "Device Booting; 9.45% program storage used")
    log.add(7, "agent.error", "ERROR: boom\n  at main agent_code:3")
    assert parse_json_lines(log.to_json()) == list(log)


def test_parse_json_lines_reports_the_bad_line():
    with pytest.raises(ValueError, match="line 2 is not a log entry"):
        parse_json_lines('{"time_us":0,"source":"device","type":"server.log","msg":"a"}\nnot json\n')


@given(
    st.lists(
        st.tuples(st.integers(0, 10**13), st.sampled_from(sorted(LOG_TYPES)), st.text()),
        max_size=30,
    )
)
def test_rendering_is_deterministic_and_json_is_lossless(items):
    """DESIGN.md: same inputs -> the same log, byte for byte."""
    a, b = Log(), Log()
    for t, ty, text in items:
        a.add(t, ty, text)
        b.add(t, ty, text)
    assert a.text() == b.text()
    assert a.to_json().encode() == b.to_json().encode()
    assert parse_json_lines(a.to_json()) == list(a)


def test_filtering():
    log = Log()
    log.add(0, "status", "Device connected")
    log.add(10, "server.log", "reading 1")
    log.add(20, "server.error", "ERROR: x")
    log.add(30, "agent.log", "stored reading 1")
    log.add(40, "lastexitcode", "out of memory")
    assert [e.text for e in log.filter(source="device")] == ["reading 1", "ERROR: x"]
    assert [e.text for e in log.filter(source=["agent", "status"])] == [
        "Device connected",
        "stored reading 1",
        "out of memory",
    ]
    assert log.messages(type="server.error") == ["ERROR: x"]
    assert log.messages(type=("server.log", "agent.log")) == ["reading 1", "stored reading 1"]
    assert log.messages(since_us=10, until_us=30) == ["reading 1", "ERROR: x"]
    assert log.messages(contains="reading") == ["reading 1", "stored reading 1"]
    assert log.messages(source="device", contains="ERROR") == ["ERROR: x"]
    assert log.text(log.filter(type="lastexitcode")) == "2026-01-01T00:00:00.000Z [Exit Code] out of memory\n"


def test_filter_rejects_unknown_names():
    log = Log()
    with pytest.raises(ValueError, match="unknown source 'cloud'"):
        log.filter(source="cloud")
    with pytest.raises(ValueError, match="unknown log type 'device.log'"):
        log.filter(type=["server.log", "device.log"])


def test_sink_receives_entries_as_they_are_added():
    streamed: list[LogEntry] = []
    log = Log(sink=streamed.append)
    first = log.add(1, "server.log", "a")
    assert streamed == [first]
    more: list[str] = []
    fn = lambda e: more.append(log.format(e))  # noqa: E731
    log.add_sink(fn)
    log.add(2, "agent.log", "b")
    assert [e.text for e in streamed] == ["a", "b"]
    assert more == ["2026-01-01T00:00:00.000Z [Agent] b"]
    log.remove_sink(fn)
    log.add(3, "status", "c")
    assert len(more) == 1 and len(streamed) == 3


def test_bad_entries_are_rejected_with_clear_messages():
    log = Log()
    with pytest.raises(ValueError, match="unknown log type 'debug': use one of server.log, server.error"):
        log.add(0, "debug", "x")
    with pytest.raises(ValueError, match="non-negative int"):
        log.add(-1, "server.log", "x")
    with pytest.raises(ValueError, match="non-negative int"):
        log.add(1.5, "server.log", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="log text must be a str, not bytes"):
        log.add(0, "server.log", b"x")  # type: ignore[arg-type]
    assert len(log) == 0


def test_entries_snapshot_and_sources():
    log = Log()
    log.add(0, "server.log", "x")
    snap = log.entries
    log.add(1, "server.log", "y")
    assert len(snap) == 1 and isinstance(snap, tuple)
    assert set(SOURCES) == {s for s, _ in LOG_TYPES.values()}
