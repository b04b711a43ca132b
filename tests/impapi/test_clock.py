"""The virtual clock: ordering, cancellation, running, tie-breaks, speed."""

from __future__ import annotations

import random
import time as _time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impapi.clock import US_PER_S, Clock, Timer


def recorder():
    seen: list = []
    return seen, seen.append


# -- ordering ---------------------------------------------------------------------------------


def test_events_run_in_time_order():
    clock = Clock()
    seen, rec = recorder()
    clock.schedule(30, rec, "c")
    clock.schedule(10, rec, "a")
    clock.schedule(20, rec, "b")
    clock.run_until(100)
    assert seen == ["a", "b", "c"]


def test_every_way_of_scheduling_makes_the_same_complete_timer():
    # Clock._push fills a Timer without calling Timer(...): it must set every slot Timer sets.
    clock = Clock(5)
    made = [clock.schedule(0, print, 1), clock.schedule(3, print), clock.schedule_at(9, print),
            clock.schedule_idle("device VM", print, 2)]
    reference = Timer(clock, 5, print, (1,), 0, "world")
    for timer in made:
        assert type(timer) is Timer
        for name in Timer.__slots__:
            getattr(reference, name)
            getattr(timer, name)  # raises AttributeError if left unset
        assert timer.pending and not timer.fired and not timer.cancelled
    assert [(t.when_us, t.seq, t.source, t.args) for t in made] == [
        (5, 0, "world", (1,)), (8, 1, "world", ()), (9, 2, "world", ()), (5, 3, "device VM", (2,))]
    assert made[1].cancel() and clock.pending == 3

def test_equal_time_events_run_in_the_order_scheduled():
    clock = Clock()
    seen, rec = recorder()
    for name in "abcdefgh":
        clock.schedule(5, rec, name)
    clock.run_until(5)
    assert seen == list("abcdefgh")


def test_event_scheduled_for_now_from_inside_an_event_runs_after_it():
    """DESIGN.md: ``imp.wakeup(0, f)`` runs after the current event, and after events already
    due at the same instant (imp-api.md §4.1: wakeup(0) runs at the next idle opportunity)."""
    clock = Clock()
    seen, rec = recorder()

    def first():
        rec("first-start")
        clock.schedule(0, rec, "zero-delay")
        rec("first-end")

    clock.schedule(10, first)
    clock.schedule(10, rec, "already-due")
    clock.run_until(10)
    assert seen == ["first-start", "first-end", "already-due", "zero-delay"]


def test_callbacks_receive_their_arguments():
    clock = Clock()
    got = []
    clock.schedule(1, lambda *a: got.append(a), 1, "two", None)
    clock.run(1)
    assert got == [(1, "two", None)]


def test_schedule_at_uses_absolute_time():
    clock = Clock(start_us=1_000)
    seen, rec = recorder()
    clock.schedule_at(1_500, rec, "abs")
    clock.schedule(100, rec, "rel")
    clock.run_until(2_000)
    assert seen == ["rel", "abs"]


def test_callback_sees_its_own_time_as_now():
    clock = Clock()
    times = []
    for d in (7, 3, 3, 12):
        clock.schedule(d, lambda: times.append(clock.now_us))
    clock.run_until(50)
    assert times == [3, 3, 7, 12]


# -- running ----------------------------------------------------------------------------------


def test_run_until_leaves_now_at_target_and_keeps_later_events():
    clock = Clock()
    seen, rec = recorder()
    clock.schedule(10, rec, "in")
    clock.schedule(20, rec, "at-target")
    clock.schedule(21, rec, "later")
    clock.run_until(20)
    assert seen == ["in", "at-target"]
    assert clock.now_us == 20
    assert clock.pending == 1
    assert clock.peek() == 21


def test_run_advances_relative_to_now():
    clock = Clock()
    clock.run(5 * US_PER_S)
    clock.run(2 * US_PER_S)
    assert clock.now_us == 7 * US_PER_S
    assert clock.now == 7.0


def test_run_until_runs_events_scheduled_during_the_run():
    clock = Clock()
    count = [0]

    def tick():
        count[0] += 1
        clock.schedule(10, tick)

    clock.schedule(0, tick)
    clock.run_until(100)
    assert count[0] == 11  # t = 0, 10, ..., 100
    assert clock.now_us == 100


def test_step_runs_one_event_and_moves_time_to_it():
    clock = Clock()
    seen, rec = recorder()
    clock.schedule(40, rec, "a")
    clock.schedule(90, rec, "b")
    assert clock.step() is True
    assert (seen, clock.now_us) == (["a"], 40)
    assert clock.step() is True
    assert (seen, clock.now_us) == (["a", "b"], 90)
    assert clock.step() is False
    assert clock.now_us == 90


def test_peek_and_idle():
    clock = Clock()
    assert clock.idle and clock.peek() is None and clock.pending == 0
    t = clock.schedule(5, lambda: None)
    assert not clock.idle and clock.peek() == 5 and clock.pending == 1
    t.cancel()
    assert clock.idle and clock.peek() is None and clock.pending == 0


def test_stop_ends_the_run_at_the_current_event():
    clock = Clock()
    seen, rec = recorder()

    def stopper():
        rec("stop")
        clock.stop()

    clock.schedule(10, stopper)
    clock.schedule(10, rec, "same-instant")
    clock.schedule(20, rec, "later")
    clock.run_until(1_000)
    assert seen == ["stop"]
    assert clock.now_us == 10
    clock.run_until(1_000)  # stop does not stick
    assert seen == ["stop", "same-instant", "later"]
    assert clock.now_us == 1_000


def test_advance_blocks_time_and_overdue_events_then_run_in_order():
    """imp.sleep() blocks Squirrel while time passes; timers that fall due meanwhile are
    queued and run afterwards (imp-api.md §4.2, §4.1 "callbacks are queued, not interrupts")."""
    clock = Clock()
    seen = []

    def sleeper():
        clock.advance(100)
        seen.append(("sleeper-done", clock.now_us))

    clock.schedule(10, sleeper)
    clock.schedule(50, lambda: seen.append(("t50", clock.now_us)))
    clock.schedule(30, lambda: seen.append(("t30", clock.now_us)))
    clock.schedule(200, lambda: seen.append(("t200", clock.now_us)))
    clock.run_until(300)
    assert seen == [("sleeper-done", 110), ("t30", 110), ("t50", 110), ("t200", 200)]


def test_run_until_never_moves_time_backwards_after_advance():
    clock = Clock()
    clock.schedule(0, clock.advance, 500)
    clock.run_until(100)
    assert clock.now_us == 500


def test_exception_from_a_callback_propagates_and_the_clock_stays_usable():
    clock = Clock()
    seen, rec = recorder()

    def boom():
        raise KeyError("boom")

    clock.schedule(5, boom)
    clock.schedule(6, rec, "after")
    with pytest.raises(KeyError):
        clock.run_until(10)
    assert clock.now_us == 5
    clock.run_until(10)
    assert seen == ["after"] and clock.now_us == 10


def test_the_clock_cannot_be_run_from_inside_an_event():
    clock = Clock()
    errors = []

    def nested():
        for call in (clock.step, lambda: clock.run(1), lambda: clock.run_until(clock.now_us)):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))

    clock.schedule(1, nested)
    clock.run(5)
    assert len(errors) == 3 and all("already running" in e for e in errors)


# -- cancellation -----------------------------------------------------------------------------


def test_cancelled_timer_does_not_run():
    clock = Clock()
    seen, rec = recorder()
    t = clock.schedule(10, rec, "x")
    clock.schedule(10, rec, "y")
    assert isinstance(t, Timer) and t.pending
    assert t.cancel() is True
    clock.run(20)
    assert seen == ["y"]
    assert t.cancelled and not t.fired and not t.pending


def test_cancelling_a_fired_or_cancelled_timer_has_no_effect():
    """imp-api.md §4.1: cancelling a timer that already fired, or was cancelled, has no effect."""
    clock = Clock()
    t = clock.schedule(1, lambda: None)
    clock.run(1)
    assert t.fired
    assert t.cancel() is False
    assert t.fired and not t.cancelled
    u = clock.schedule(1, lambda: None)
    assert u.cancel() is True
    assert u.cancel() is False
    assert clock.pending == 0


def test_a_callback_can_cancel_a_same_instant_event():
    clock = Clock()
    seen, rec = recorder()
    holder = {}
    clock.schedule(5, lambda: holder["victim"].cancel())
    holder["victim"] = clock.schedule(5, rec, "victim")
    clock.run(5)
    assert seen == []


def test_mass_cancellation_compacts_and_keeps_order():
    clock = Clock()
    seen, rec = recorder()
    timers = [clock.schedule(i % 97, rec, i) for i in range(2_000)]
    for i, t in enumerate(timers):
        if i % 10:
            t.cancel()
    assert clock.pending == 200
    assert len(clock._heap) < 2_000  # compaction happened
    clock.run_until(1_000)
    expected = sorted((i for i in range(2_000) if i % 10 == 0), key=lambda i: (i % 97, i))
    assert seen == expected
    assert clock.idle


# -- argument checking ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, True, "10", None])
def test_times_must_be_int_microseconds(bad):
    clock = Clock()
    with pytest.raises(TypeError, match="int number of microseconds"):
        clock.schedule(bad, lambda: None)


def test_negative_delay_and_past_times_are_rejected():
    clock = Clock(start_us=100)
    with pytest.raises(ValueError, match="delay_us must be >= 0"):
        clock.schedule(-1, lambda: None)
    with pytest.raises(ValueError, match="before now"):
        clock.schedule_at(99, lambda: None)
    with pytest.raises(ValueError, match="before now"):
        clock.run_until(50)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-5)
    with pytest.raises(ValueError):
        Clock(start_us=-1)


# -- sources and the same-instant order ---------------------------------------------------------

SOURCES = ("device VM", "agent VM", "device", "world")


def _order_with(tie, n: int = 12, sources=SOURCES) -> list[int]:
    clock = Clock(tie_break=tie)
    seen, rec = recorder()
    for i in range(n):
        clock.schedule(7, rec, i, source=sources[i % len(sources)])
    clock.run(7)
    return seen


def _fifo_per_source(order: list[int], sources=SOURCES) -> bool:
    per: dict = {}
    for i in order:
        per.setdefault(sources[i % len(sources)], []).append(i)
    return all(v == sorted(v) for v in per.values())


def test_random_tie_break_is_reproducible_from_its_seed():
    assert _order_with(random.Random(42)) == _order_with(random.Random(42))


def test_random_tie_break_interleaves_sources_but_keeps_each_first_in_first_out():
    orders = {tuple(_order_with(random.Random(seed))) for seed in range(20)}
    assert len(orders) > 1
    assert all(_fifo_per_source(list(o)) for o in orders)


def test_one_source_is_first_in_first_out_whatever_the_tie_break():
    assert _order_with(random.Random(3), sources=("device VM",)) == list(range(12))


def test_without_a_tie_break_same_instant_events_run_in_schedule_order_across_sources():
    assert _order_with(None) == list(range(12))


def test_choice_zero_is_first_in_first_out():
    class First:
        def choose(self, n: int) -> int:
            return 0

    assert _order_with(First()) == list(range(12))


def test_the_tie_break_is_asked_only_to_choose_between_sources():
    asked = []

    class Last:
        def choose(self, n: int) -> int:
            asked.append(n)
            return n - 1

    clock = Clock(tie_break=Last())
    seen, rec = recorder()
    clock.schedule(5, rec, "a1", source="a")
    clock.schedule(5, rec, "a2", source="a")
    clock.schedule(5, rec, "b1", source="b")
    clock.schedule(6, rec, "alone", source="b")
    clock.run(10)
    assert seen == ["b1", "a1", "a2", "alone"]
    assert asked == [2]  # once b1 ran, only source a had events at 5


def test_events_inherit_the_source_of_the_event_that_scheduled_them():
    clock = Clock()
    sources = []

    def parent():
        sources.append(clock.source)
        clock.schedule(0, lambda: sources.append(clock.source))
        clock.schedule(0, lambda: sources.append(clock.source), source="other")

    clock.schedule(1, parent, source="vm")
    clock.schedule(2, lambda: sources.append(clock.source))
    clock.run(5)
    assert sources == ["vm", "vm", "other", "world"]
    with clock.using("scenario"):
        t = clock.schedule(1, lambda: None)
    assert t.source == "scenario" and clock.source == "world"


def test_an_idle_entry_runs_only_when_its_source_has_nothing_else_ready():
    """imp.onidle: the lowest-priority entry of its VM at the instant, however the tie-break
    chooses; other sources may still run before or after it."""
    for seed in range(30):
        clock = Clock(tie_break=random.Random(seed))
        seen, rec = recorder()

        def handler():
            rec("handler")
            clock.schedule(0, rec, "queued by the handler")

        def main():
            rec("main")
            clock.schedule(0, handler)
            clock.schedule_idle("vm", rec, "idle")

        clock.schedule(10, main, source="vm")
        clock.schedule(10, rec, "elsewhere", source="net")
        clock.run(20)
        vm = [s for s in seen if s != "elsewhere"]
        assert vm == ["main", "handler", "queued by the handler", "idle"], seed
        assert "elsewhere" in seen


def test_a_new_idle_entry_replaces_the_pending_one():
    clock = Clock()
    seen, rec = recorder()
    clock.schedule_idle("vm", rec, "old")
    clock.schedule_idle("vm", rec, "new")
    assert clock.pending == 1
    clock.run(1)
    assert seen == ["new"] and clock.idle


def test_a_held_source_waits_and_its_events_run_late_in_order():
    """run_nested: an event blocks its own source while the others run on (imp.sleep)."""
    clock = Clock()
    seen = []

    def note(what):
        seen.append((what, clock.now_us))

    def sleeper():
        clock.hold("vm")
        try:
            clock.run_nested(clock.now_us + 100)
        finally:
            clock.release("vm")
        note("woke")
        clock.schedule(0, note, "after waking")

    clock.schedule(10, sleeper, source="vm")
    clock.schedule(30, note, "vm timer", source="vm")
    clock.schedule(40, note, "other side", source="agent VM")
    clock.schedule(110, note, "vm timer due as it wakes", source="vm")
    clock.schedule(200, note, "later", source="vm")
    clock.run_until(300)
    assert seen == [("other side", 40), ("woke", 110), ("vm timer", 110), ("vm timer due as it wakes", 110),
                    ("after waking", 110), ("later", 200)]


def test_run_nested_runs_what_other_sources_have_ready_now_and_leaves_its_own_waiting():
    """The instant a source starts waiting, another source's event and idle entry ready at that
    very instant run first; the waiting source's own event waits until it is free again."""
    clock = Clock()
    seen = []

    def sleeper():
        clock.schedule(0, seen.append, "mine", source="vm")
        clock.schedule(0, seen.append, "theirs", source="agent")
        clock.schedule_idle("agent", seen.append, "their idle")
        clock.hold("vm")
        try:
            assert clock.run_nested(clock.now_us + 50) is True
        finally:
            clock.release("vm")
        seen.append(("woke", clock.now_us))

    clock.schedule(10, sleeper, source="vm")
    clock.run_until(100)
    assert seen == ["theirs", "their idle", ("woke", 60), "mine"]


def test_a_source_must_wait_while_held_or_behind_what_it_has_ready():
    """must_wait: whether something of a source would overtake it if run at once."""
    clock = Clock()
    assert not clock.must_wait("vm")
    clock.hold("vm")
    assert clock.must_wait("vm")
    clock.release("vm")
    assert not clock.must_wait("vm")
    queued = clock.schedule(0, lambda: None, source="vm")
    assert clock.must_wait("vm") and not clock.must_wait("agent VM")
    queued.cancel()
    assert not clock.must_wait("vm")  # a cancelled event holds nothing up
    clock.schedule_idle("vm", lambda: None)
    assert not clock.must_wait("vm")  # the idle entry comes after anything new


def test_run_nested_stops_when_told_to():
    clock = Clock()
    alive = [True]
    out = []

    def sleeper():
        clock.hold("vm")
        out.append(clock.run_nested(clock.now_us + 1_000, lambda: alive[0]))
        clock.release("vm")
        out.append(clock.now_us)

    clock.schedule(0, sleeper, source="vm")
    clock.schedule(50, lambda: alive.__setitem__(0, False), source="world")
    clock.schedule(60, lambda: out.append("after"), source="world")
    clock.run_until(100)
    assert out == [False, 50, "after"]


def test_nothing_runs_after_the_runs_end_however_deep_the_nesting():
    """end_us: two sources blocked one inside the other past the end; the world runs to the end,
    that instant included, and time stops there (the blocked code then ends with the run)."""
    clock = Clock()
    clock.end_us = 100
    seen = []

    def sleeper(source, span):
        clock.hold(source)
        try:
            clock.run_nested(clock.now_us + span)
        finally:
            clock.release(source)
        seen.append((source + " woke", clock.now_us))

    clock.schedule(10, sleeper, "device", 1_000, source="device")
    clock.schedule(20, sleeper, "agent", 50, source="agent")  # wakes inside the device's sleep
    clock.schedule(30, sleeper, "agent", 5_000, source="agent")  # a second sleep, past the end
    clock.schedule(100, seen.append, ("world at the end", 100), source="world")
    clock.schedule(101, seen.append, ("world after the end", 101), source="world")
    clock.run_until(200)
    assert seen == [("agent woke", 70), ("world at the end", 100), ("agent woke", 100), ("device woke", 100)]
    assert clock.now_us == 100 and clock.peek() == 101
    assert not clock.skip_to(150)
    clock.end_us = None  # no end: the run goes on
    clock.run_until(200)
    assert seen[-1] == ("world after the end", 101) and clock.now_us == 200


def test_advance_stops_at_the_runs_end():
    """end_us: advance, like run_until, never carries time past the run's end, from an event
    or from outside a run; the events due by the end run late, the later ones never do."""
    clock = Clock()
    clock.end_us = 100
    seen = []

    def blocker():
        clock.advance(1_000)
        seen.append(("blocker done", clock.now_us))

    clock.schedule(10, blocker)
    clock.schedule(50, lambda: seen.append(("t50", clock.now_us)))
    clock.schedule(100, lambda: seen.append(("t100", clock.now_us)))
    clock.schedule(101, lambda: seen.append(("t101", clock.now_us)))
    clock.run_until(200)
    assert seen == [("blocker done", 100), ("t50", 100), ("t100", 100)]
    assert clock.now_us == 100 and clock.peek() == 101
    clock.advance(5)  # at the end already: time stays
    assert clock.now_us == 100 and clock.peek() == 101
    clock.end_us = None  # no end: advance moves time again
    clock.advance(5)
    assert clock.now_us == 105


def test_run_nested_outside_a_run_runs_the_other_sources_for_the_span_and_stops_again():
    """Squirrel called from Python between runs (an agent's main code as a simulation starts)
    blocks the same way: the world runs on for the span, the clock is stopped after."""
    clock = Clock()
    seen = []
    clock.schedule(10, lambda: seen.append(("world", clock.now_us)), source="world")
    clock.schedule(20, lambda: seen.append(("vm", clock.now_us)), source="vm")
    clock.schedule(500, lambda: seen.append(("late", clock.now_us)), source="world")
    clock.hold("vm")
    assert clock.run_nested(100) is True
    clock.release("vm")
    assert seen == [("world", 10)] and clock.now_us == 100
    clock.run_until(600)  # not running any more: a run starts as usual
    assert seen == [("world", 10), ("vm", 100), ("late", 500)]


@given(
    delays=st.lists(st.tuples(st.integers(min_value=0, max_value=20), st.integers(0, 2)), min_size=1, max_size=60),
    seed=st.one_of(st.none(), st.integers()),
)
def test_tie_break_never_reorders_different_times_nor_one_source(delays, seed):
    rng = None if seed is None else random.Random(seed)
    clock = Clock(tie_break=rng)
    seen: list[tuple[int, int, int]] = []
    for i, (d, src) in enumerate(delays):
        clock.schedule(d, lambda i=i, d=d, src=src: seen.append((d, src, i)), source=f"s{src}")
    clock.run_until(20)
    assert sorted(seen) == sorted((d, src, i) for i, (d, src) in enumerate(delays))
    assert [d for d, _, _ in seen] == sorted(d for d, _ in delays)
    for src in range(3):
        mine = [(d, i) for d, s, i in seen if s == src]
        assert mine == sorted(mine)  # each source first in, first out
    if rng is None:
        assert [(d, i) for d, _, i in seen] == sorted((d, i) for d, _, i in seen)  # exactly (time, seq) order


@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["schedule", "cancel", "step", "run"]), st.integers(0, 50)),
        max_size=80,
    )
)
def test_clock_matches_a_naive_model(ops):
    """Against a list-based reference: the same events fire, at the same times, in (time, seq) order."""
    clock = Clock()
    model: list[list] = []  # [when, seq, alive]
    fired_real: list[tuple[int, int]] = []
    fired_model: list[tuple[int, int]] = []
    timers: list[Timer] = []
    seq = 0
    for op, n in ops:
        if op == "schedule":
            timers.append(clock.schedule(n, lambda s=seq: fired_real.append((clock.now_us, s))))
            model.append([clock.now_us + n, seq, True])
            seq += 1
        elif op == "cancel" and timers:
            idx = n % len(timers)
            was_pending = timers[idx].pending
            assert timers[idx].cancel() == was_pending
            model[idx][2] = False
        elif op == "step":
            live = sorted((m for m in model if m[2]), key=lambda m: (m[0], m[1]))
            assert clock.step() == bool(live)
            if live:
                live[0][2] = False
                fired_model.append((live[0][0], live[0][1]))
        elif op == "run":
            target = clock.now_us + n
            for m in sorted((m for m in model if m[2] and m[0] <= target), key=lambda m: (m[0], m[1])):
                m[2] = False
                fired_model.append((m[0], m[1]))
            clock.run_until(target)
            assert clock.now_us == target
        assert clock.pending == sum(1 for m in model if m[2])
    assert fired_real == fired_model


# -- determinism and speed --------------------------------------------------------------------


def test_no_wall_clock_reads(monkeypatch):
    """DESIGN.md: no wall-clock reads anywhere in the simulation."""

    def forbidden(*_a, **_k):
        raise AssertionError("the clock read the wall clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns", "perf_counter_ns"):
        monkeypatch.setattr(_time, name, forbidden)
    clock = Clock(tie_break=random.Random(1))
    seen, rec = recorder()
    for i in range(100):
        clock.schedule(i * 1000, rec, i)
    clock.run(10**9)
    clock.step()
    clock.peek()
    assert len(seen) == 100


def test_35040_schedule_and_run_pairs_are_cheap():
    """A year of 15-minute wake-ups (35,040) must be trivial; generous bound for slow CI."""
    clock = Clock()
    count = [0]
    quarter = 15 * 60 * US_PER_S

    def tick():
        count[0] += 1
        if count[0] < 35_040:
            clock.schedule(quarter, tick)

    clock.schedule(quarter, tick)
    start = _time.perf_counter()
    clock.run(365 * 24 * 3600 * US_PER_S)
    elapsed = _time.perf_counter() - start
    assert count[0] == 35_040
    assert clock.now_us == 365 * 24 * 3600 * US_PER_S
    assert elapsed < 1.0, f"35,040 events took {elapsed:.3f}s"


@settings(max_examples=25)
@given(seed=st.integers())
def test_same_seed_same_trace(seed):
    def trace() -> list[tuple[int, int]]:
        clock = Clock(tie_break=random.Random(seed))
        out: list[tuple[int, int]] = []

        def node(i: int) -> None:
            out.append((clock.now_us, i))
            if i < 40:
                clock.schedule(i % 3, node, i * 2 + 1)
                clock.schedule(i % 3, node, i * 2 + 2)

        clock.schedule(0, node, 0)
        clock.run(100)
        return out

    assert trace() == trace()


def test_events_without_time_passing_are_counted_from_the_last_time_time_moved(monkeypatch):
    import impapi.clock as clock_module

    monkeypatch.setattr(clock_module, "STILL_EVENTS", 3)
    clock = Clock()
    stills = []
    clock.on_still = lambda: stills.append(clock.now_us)
    for _ in range(2):
        clock.schedule(0, lambda: None)
    clock.run_until(10)  # time moves to 10 with no event there: the count starts again
    clock.schedule(0, lambda: None)
    clock.run_until(10)
    clock.schedule(0, lambda: clock.advance(5))  # so does time an event moves on
    clock.schedule(5, lambda: None)
    clock.schedule(5, lambda: None)
    clock.run_until(20)
    assert stills == []
    for _ in range(3):
        clock.schedule(0, lambda: None)
    clock.run_until(20)
    assert stills == [20]


def test_run_nested_for_no_time_runs_nothing():
    clock = Clock()
    seen = []

    def blocker():
        clock.hold("vm")
        seen.append(clock.run_nested(clock.now_us))
        clock.release("vm")
        seen.append("resumed")

    clock.schedule(5, blocker, source="vm")
    clock.schedule(5, seen.append, "other source, same instant", source="world")
    clock.run(10)
    assert seen == [True, "resumed", "other source, same instant"]
