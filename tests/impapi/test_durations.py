"""User-facing durations and instants -> integer microseconds, and back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.durations import (
    DEFAULT_EPOCH,
    format_duration,
    format_epoch,
    parse_duration,
    parse_instant,
    seconds_to_us,
    us_to_seconds,
)

S = 1_000_000


@pytest.mark.parametrize(
    ("text", "us"),
    [
        ("90s", 90 * S),
        ("15m", 15 * 60 * S),
        ("3h", 3 * 3600 * S),
        ("2d", 2 * 86400 * S),
        ("1h30m", 5400 * S),
        ("500ms", 500_000),
        ("250us", 250),
        ("1d2h3m4s5ms6us", ((86400 + 7200 + 180 + 4) * S) + 5006),
        ("1.5h", 5400 * S),
        ("1.1s", 1_100_000),  # exact decimal arithmetic, not 1_099_999
        (".25s", 250_000),
        ("2d 12h", 60 * 3600 * S),
        ("  45s  ", 45 * S),
        ("0", 0),
        ("0s", 0),
        ("30", 30 * S),  # plain number = seconds
        ("2.5", 2_500_000),
        ("30m2h", (1800 + 7200) * S),  # any order
    ],
)
def test_parse_duration(text, us):
    assert parse_duration(text) == us


def test_numbers_are_seconds():
    assert parse_duration(90) == 90 * S
    assert parse_duration(0.5) == 500_000


@pytest.mark.parametrize("text", ["3x", "", "   ", "h", "1h30", "1hh", "abc", "1 2s", "1e3s", "--1s", "1,5s"])
def test_bad_durations_say_what_is_valid(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert message.startswith(f"bad duration {text!r}")
    assert "e.g. 90s, 15m, 2d" in message and "ms" in message


def test_exact_example_message_from_the_brief():
    expected = r"bad duration '3x': use a number with a unit d, h, m, s, ms or us \(e\.g\. 90s, 15m, 2d"
    with pytest.raises(ValueError, match=expected):
        parse_duration("3x")


@pytest.mark.parametrize("bad", ["-5s", " -1h", -3, -0.5])
def test_negative_durations_are_rejected(bad):
    with pytest.raises(ValueError, match="negative|bad duration"):
        parse_duration(bad)


def test_repeated_unit_is_rejected():
    with pytest.raises(ValueError, match="unit 'm' appears twice"):
        parse_duration("1m2m")


def test_non_numbers_are_type_errors():
    with pytest.raises(TypeError):
        parse_duration(True)
    with pytest.raises(TypeError):
        parse_duration([1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (0, "0s"),
        (90 * S, "1m30s"),
        (1_500_000, "1.5s"),
        (500_000, "500ms"),
        (1_500, "1.5ms"),
        (250, "250us"),
        (26 * 3600 * S, "1d2h"),
        (2 * 86400 * S, "2d"),
        (3600 * S + 250_000, "1h0.25s"),
        (-90 * S, "-1m30s"),
    ],
)
def test_format_duration(us, text):
    assert format_duration(us) == text


@given(st.integers(min_value=0, max_value=10**15))
def test_format_then_parse_round_trips(us):
    assert parse_duration(format_duration(us)) == us


@given(st.integers(min_value=0, max_value=10**15))
def test_formatted_durations_are_compact(us):
    text = format_duration(us)
    assert " " not in text and len(text) <= 32


def test_format_rejects_non_ints():
    with pytest.raises(TypeError):
        format_duration(1.5)  # type: ignore[arg-type]


def test_parse_instant_accepts_offsets_from_start():
    assert parse_instant("3h") == 3 * 3600 * S
    assert parse_instant("1d6h") == 30 * 3600 * S
    assert parse_instant(90) == 90 * S


@pytest.mark.parametrize(
    "text",
    ["2026-01-02T06:00:00Z", "2026-01-02 06:00", "2026-01-02T06:00:00+00:00", "2026-01-02T07:00:00+01:00"],
)
def test_parse_instant_accepts_utc_date_times(text):
    assert parse_instant(text) == 30 * 3600 * S


def test_parse_instant_with_another_epoch():
    epoch = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_instant("2030-06-01T12:00:01.5Z", epoch) == 1_500_000
    assert parse_instant("2030-06-01T12:00:00Z", datetime(2030, 6, 1, 12, 0)) == 0  # naive epoch = UTC


def test_parse_instant_errors_are_clear():
    with pytest.raises(ValueError, match="before the simulation start 2026-01-01T00:00:00Z"):
        parse_instant("2025-12-31T23:59:59Z")
    with pytest.raises(ValueError, match="bad time '2026-13-01'.*ISO date"):
        parse_instant("2026-13-01")
    with pytest.raises(ValueError, match="bad time 'soon'.*duration from the start"):
        parse_instant("soon")


def test_default_epoch_and_conversions():
    assert DEFAULT_EPOCH == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert format_epoch(DEFAULT_EPOCH) == "2026-01-01T00:00:00Z"
    assert seconds_to_us(0.01) == 10_000
    assert seconds_to_us(1.5) == 1_500_000
    assert us_to_seconds(2_500_000) == 2.5
