"""The crash-loop rule (impapi.crashloop), on event sequences."""

from impapi.crashloop import CrashStreak
from impapi.events import Event


def ev(kind, **data):
    return Event(0, kind, data)


def boot(reason=5):
    return ev("boot", wakereason=reason)


ERROR = ev("error", message="x")


def feed(streak, events):
    return [streak.see(e) for e in events]


def test_limit_error_restarts_in_a_row_are_a_loop_once():
    streak = CrashStreak(3)
    assert feed(streak, [boot(0), ERROR, boot(), ERROR, boot(), ERROR]) == [False] * 5 + [True]
    assert streak.loop is not None and len(streak.loop) == 3
    assert feed(streak, [boot(), ERROR]) == [False, False]  # reported once; the streak goes on
    assert len(streak.errors) == 4


def test_a_run_that_ends_another_way_ends_the_streak():
    streak = CrashStreak(3)
    feed(streak, [boot(0), ERROR, boot(), ERROR, boot()])  # this run deep-sleeps: no error
    assert feed(streak, [ev("state", state="asleep"), boot(1), ERROR, boot(), ERROR]) == [False] * 5
    assert len(streak.errors) == 2 and streak.loop is None


def test_a_power_change_ends_the_streak_but_the_wake_reason_does_not():
    streak = CrashStreak(3)
    feed(streak, [boot(0), ERROR, boot(), ERROR, ev("power", on=False), ev("power", on=True), boot(0), ERROR])
    assert len(streak.errors) == 1
    # A run that installed new code as it started (wake reason 4) and then crashed still crashed.
    assert feed(streak, [boot(4), ERROR, boot(), ERROR]) == [False, False, False, True]
