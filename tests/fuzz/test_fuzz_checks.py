"""The checks: each on an app and scenario that breaks it and one that keeps it, with messages
that cite the seed's rule and the app's file:line."""

import re
import textwrap

import pytest

from impapi import Config
from impapi.durations import format_duration, parse_duration
from impapi.scenario import Scenario, parse_at
from impapi.testing import checks, play
from impapi.testing.fuzz.checks import (CrashLoop, CustomCheckFailed, DataLost, ForcedUpdateMidWrite,
                                        HandlerNotFirst, PoliteViolation, SimultaneousRestart,
                                        SleptOnPendingUpdate, UpdateNotApplied)

from loggers import impolite_keeps_readings, polite_persist, polite_records


def scenario(duration, *at):
    return Scenario(tuple(parse_at(a) for a in at), duration_us=parse_duration(duration))


def app(tmp_path, code, name="app.device.nut"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(code).lstrip())
    return str(path)


def only(run, name, **options):
    return checks.violations(run, only=name, **options)


# --- the example apps -----------------------------------------------------------------------


def test_polite_logger_keeps_every_check_through_updates_cycles_and_outages(polite_app):
    run = play(polite_app, scenario("6h", "25m:impos=44.0", "1h0m2.05s:power-cycle", "2h:offline=45m",
                                    "3h:deploy", "3h10m:impos=45.0"))
    checks.polite(run)
    checks.polite(run, persist=polite_persist)
    assert run.claims and all(c.text.startswith("stored reading") for c in run.claims)


def to_ms(text: str) -> str:
    """``text`` with its durations to the millisecond: the code's own work (execution time) puts
    what it does microseconds after the instant its event started."""
    return re.sub(r"\b(?:\d+[dhm])*\d+(?:\.\d+)?s\b",
                  lambda m: format_duration(round(parse_duration(m.group()), -3)), text)


def test_impolite_logger_breaks_handler_first_with_file_and_line(impolite_app):
    run = play(impolite_app, scenario("1h"))
    with pytest.raises(HandlerNotFirst) as info:
        checks.polite(run)
    text = to_ms(str(info.value))
    assert text.startswith("[handler-first] at 20m2s: boot 3 (WAKEREASON_TIMER)")
    assert "impolite-logger/logger.device.nut:15: agent.send(" in text  # the contact
    assert "impolite-logger/logger.device.nut:16: server.onshutdown(" in text  # the late handler
    assert "Call server.onshutdown() as soon as possible" in text  # the seed's rule
    assert round(info.value.time_us, -3) == parse_duration("20m2s")


def test_handler_first_when_pending_flags_only_contacts_that_can_restart_the_device(impolite_app):
    assert not only(play(impolite_app, scenario("1h")), "handler-first", handler_when="pending")
    found = only(play(impolite_app, scenario("1h", "25m:impos=44.0")), "handler-first", handler_when="pending")
    assert found and "an update (impos) was pending then" in str(found[0])
    assert round(found[0].time_us, -3) == parse_duration("50m4s")


def test_impolite_logger_loses_readings_to_an_update(impolite_app):
    run = play(impolite_app, scenario("2h", "25m:impos=44.0"))
    found = checks.violations(run, only="data-persists", extra=[impolite_keeps_readings])
    assert [type(v) for v in found] == [CustomCheckFailed]
    assert found[0].check == "impolite_keeps_readings" and "lost" in str(found[0])
    assert not checks.violations(play(impolite_app, scenario("2h")), only="data-persists",
                                 extra=[impolite_keeps_readings])


# --- one check at a time ----------------------------------------------------------------------

SLEEPS_ON_UPDATE = """
    server.onshutdown(function(reason) { server.log("told " + reason); });
    server.log("awake");
    imp.wakeup(20, function() { imp.deepsleepfor(60); });
"""


def test_restart_before_sleep(tmp_path):
    path = app(tmp_path, SLEEPS_ON_UPDATE)
    run = play(path, scenario("10m", "10s:impos=44.0"))
    (v,) = only(run, "restart-before-sleep")
    assert isinstance(v, SleptOnPendingUpdate)
    assert "went to deep sleep with the impos update it was told of at 10.05s" in str(v)
    assert f"{path}:3: imp.wakeup(20, function() {{ imp.deepsleepfor(60); }});" in str(v)
    assert "make their server.restart() call before they next sleep" in str(v)
    assert not only(play(path, scenario("10m")), "restart-before-sleep")


NEVER_RESTARTS = 'server.onshutdown(function(reason) { server.log("later"); });\nserver.log("up");\n'


def test_update_applied_within_a_bound(tmp_path):
    path = app(tmp_path, NEVER_RESTARTS)
    (v,) = only(play(path, scenario("3h", "1m:impos=44.0")), "update-applied")
    assert isinstance(v, UpdateNotApplied)
    assert v.time_us == parse_duration("1h1m0.05s")  # announced 50 ms after the release, plus 1 h
    assert "still not applied at the end of the run" in str(v) and f"{path}: no server.restart() call" in str(v)
    assert not only(play(path, scenario("3h", "1m:impos=44.0")), "update-applied", bound="4h")
    # before the bound has passed there is nothing to say yet
    assert not only(play(path, scenario("50m", "1m:impos=44.0")), "update-applied")


def test_update_bound_does_not_count_outages(tmp_path):
    # RETURN_ON_ERROR: the app runs on through the outage (under SUSPEND_ON_ERROR the device
    # would snooze and take the update when a snooze ends with a connection).
    path = app(tmp_path, "server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);\n" + NEVER_RESTARTS)
    run = play(path, scenario("2h30m", "1m:impos=44.0", "2m:offline=2h"))
    assert not only(run, "update-applied")
    (v,) = only(play(path, scenario("3h30m", "1m:impos=44.0", "2m:offline=2h")), "update-applied")
    assert v.time_us == parse_duration("3h1m0.05s") and "outages and power-off time are not counted" in str(v)


def test_polite_deadline_update_counts_as_applied(polite_app):
    run = play(polite_app, scenario("3h", "30m:impos=44.0"))
    assert not only(run, "update-applied", bound="1s")  # the polite logger restarts at once


TWO_PHASE_NO_HANDLER = """
    local flash = hardware.spiflash;
    flash.enable();
    local slot = 0;
    while (flash.read(slot * 8, 4).readn('i') != -1) slot++;
    local rec = blob(6);
    rec.writen(slot, 'i');
    rec.writen(slot * 3, 's');
    flash.write(slot * 8, rec);
    server.log("writing " + slot);           // talks to the server mid-write, with no handler
    imp.wakeup(0.1, function() {
        local mark = blob(2);
        mark.writen(0x5a5a, 'w');
        flash.write(slot * 8 + 6, mark);
        server.log("stored " + slot);
        imp.wakeup(1, function() { imp.deepsleepfor(600); });
    });
"""


def test_no_forced_update_mid_write_inferred_from_flash(tmp_path):
    path = app(tmp_path, TWO_PHASE_NO_HANDLER)
    run = play(path, scenario("1h", "5m:impos=44.0"))
    (v,) = only(run, "no-forced-mid-write")
    assert isinstance(v, ForcedUpdateMidWrite)
    text = to_ms(str(v))
    assert "(no-handler) stopped boot 2 (WAKEREASON_TIMER, booted 10m3.1s) at 10m5.1s, mid-write" in text
    assert "0x8..0xE, 6 bytes) never completed (complete writes span at least 8 bytes)" in text
    assert f"{path}: no server.onshutdown() call" in text
    assert not only(play(path, scenario("1h")), "no-forced-mid-write")


def test_no_forced_update_mid_write_with_declared_critical_sections(tmp_path):
    path = app(tmp_path, TWO_PHASE_NO_HANDLER)
    run = play(path, scenario("1h", "5m:impos=44.0"))

    def record_writes(r):  # each record write opens a section; the commit mark after it closes it
        ops = r.flash_ops
        return [(op.time_us, next((c.time_us for c in ops[i + 1:i + 2] if c.addr == op.addr + 6), None))
                for i, op in enumerate(ops) if op.length == 6]

    (v,) = only(run, "no-forced-mid-write", critical=record_writes)
    assert "stopped boot 2 (WAKEREASON_TIMER, booted 10m3.1s) at 10m5.1s, inside a critical section opened at 10m3.1s" \
        in to_ms(str(v))
    assert not only(run, "no-forced-mid-write", critical=lambda r: [])
    # log lines as markers: here the update lands at the "writing" line itself (the contact),
    # so no section is open yet
    assert not only(run, "no-forced-mid-write", critical=(r"^writing", r"^stored"))


def test_forced_paths_are_the_worlds_doing_unless_asked(polite_app):
    """A force-deploy landing between the polite logger's two writes: not the app's fault by
    default; flagged when the check is told to count forced deployments."""
    run = play(polite_app, scenario("1h", "2.01s:force-deploy"))
    assert [e.data["path"] for e in run.events.of("update", stage="applied")] == ["force"]
    assert not only(run, "no-forced-mid-write")
    (v,) = only(run, "no-forced-mid-write", forced_paths=("force",))
    assert "(force) stopped boot 1 (WAKEREASON_POWER_ON, booted 2s) at 2.06s, mid-write" in str(v)


ERASES_ON_RESTART = """
    local flash = hardware.spiflash;
    flash.enable();
    if (hardware.wakereason() == WAKEREASON_NEW_FIRMWARE) flash.erasesector(0);   // oops
    server.onshutdown(function(r) { server.restart(); });
    if (hardware.wakereason() == WAKEREASON_POWER_ON) {
        local rec = blob(4); rec.writen(42, 'i');
        flash.write(0, rec);
        server.log("stored 42");
    }
    imp.wakeup(10, function() { imp.deepsleepfor(600); });
"""


def test_data_persists_claims_from_stored_lines(tmp_path):
    path = app(tmp_path, ERASES_ON_RESTART)
    run = play(path, scenario("1h", "5s:impos=44.0"))
    (v,) = only(run, "data-persists")
    assert isinstance(v, DataLost)
    text = to_ms(str(v))
    assert "data the app stored at 2s is gone: flash 0x0 changed (4 bytes at 0x0 claimed)" in text
    assert 'claimed: "stored 42"' in text
    assert "changed by a flash erase at 5.25s in boot 2 (WAKEREASON_NEW_FIRMWARE)" in text
    assert not only(play(path, scenario("1h")), "data-persists")
    assert not only(run, "data-persists", persist=lambda r: [])  # a declaration replaces the claims


def test_log_records_declaration(polite_app):
    run = play(polite_app, scenario("1h"))
    assert not only(run, "data-persists", persist=polite_persist)
    lose_one = checks.log_records(r"stored reading (?P<seq>\d+) = (?P<value>\d+)",
                                  lambda image: list(polite_records(image))[1:])
    (v,) = only(run, "data-persists", persist=lose_one)
    # The reading is drawn from hardware.millis() a few ms into the boot (the code's own work).
    assert re.search(r'"stored reading 0 = \d+" \(2\.10\d*s\) is not in the flash at the end', str(v))
    lose_all = checks.log_records(r"stored reading (?P<seq>\d+) = (?P<value>\d+)", lambda image: [])
    (v,) = only(run, "data-persists", persist=lose_all)
    assert "5 more: " in str(v)


def test_no_crash_loop_points_at_the_error_line(tmp_path):
    path = app(tmp_path, 'server.log("up");\nlocal t = {};\nt.missing.call();\n')
    (v,) = only(play(path, scenario("10m")), "no-crash-loop")
    assert isinstance(v, CrashLoop)
    assert "5 boots in a row ended in an error restart (the index 'missing' does not exist)" in str(v)
    assert f"{path}:3: t.missing.call();" in str(v)
    assert not only(play(path, scenario("10m")), "no-crash-loop", crash_boots=1000)


def test_the_check_and_impsim_run_apply_one_crash_loop_rule(tmp_path):
    """impapi.crashloop: power cycles end a streak, running out of memory is an error restart;
    the fuzzer's check and the CLI's verdict (Simulation.crash_loop) agree on both."""
    crashes = app(tmp_path, 'imp.wakeup(1, function() { local t = {}; t.missing.call(); });\n')
    cycled = play(crashes, scenario("2m", *(f"{20 * i}s:power-cycle" for i in range(1, 6))))
    assert len(cycled.events.of("error")) > 5  # three or so between power cycles
    assert not cycled.sim.crash_loop and not only(cycled, "no-crash-loop")
    hog = app(tmp_path, 'imp.wakeup(1, function() { local a = []; while (true) a.push(blob(10000)); });\n',
              name="hog.device.nut")
    oom = play(hog, scenario("2m"))
    (v,) = only(oom, "no-crash-loop")
    assert oom.sim.crash_loop and "ended in an error restart (out of memory)" in str(v)


def test_no_simultaneous_restart(tmp_path):
    path = app(tmp_path, 'server.log("up " + hardware.wakereason());\n')
    # Restarts without the time a restart takes (Config.restart_us), so that the device's
    # restart can fall on the agent's instant.
    instant = play(lambda: _sim(path, Config(message_latency_us=0, restart_us=0)), scenario("1m", "10s:deploy"))
    (v,) = only(instant, "no-simultaneous-restart")
    assert isinstance(v, SimultaneousRestart)
    assert "restarted for deployment v2 (path no-handler) at the same instant as the agent did" in str(v)
    later = play(lambda: _sim(path, Config(restart_us=0)), scenario("1m", "10s:deploy"))  # 50 ms later
    assert not only(later, "no-simultaneous-restart")
    assert only(later, "no-simultaneous-restart", window_us=100_000)


def test_a_deployment_landing_on_a_restart_for_another_update_is_not_the_apps_doing(polite_app):
    """The polite logger restarts for an impOS update at the instant a deployment restarts the
    agent; the boot installs both. The device restarted for the impOS update, not for the
    deployment: in no order of that instant is it flagged."""
    from impapi.testing.fuzz.ties import every_order

    first = play(polite_app, scenario("2h", "25m:impos=44.0"))
    restart = next(e.time_us for e in first.events.of("update", stage="applied"))
    both = scenario("2h", "25m:impos=44.0", f"{restart}us:deploy")
    coincided = 0
    for _choices, run in every_order(lambda order: play(polite_app, both, order=order)):
        applied = [(e.time_us, e.data["update"]) for e in run.events.of("update", stage="applied")]
        coincided += (restart, "squirrel") in applied and restart in [e.time_us for e in run.events.of("agent-restart")]
        checks.polite(run)
    assert coincided


def _sim(path, config):
    from impapi import Simulation

    return Simulation(device=path, agent=_AGENT, config=config, start=False)


_AGENT = 'server.log("agent up");\n'


# --- composing ------------------------------------------------------------------------------


def test_custom_checks_as_callables(impolite_app):
    run = play(impolite_app, scenario("1h"))

    def never_more_than_two_boots(r):
        return None if len(r.boots()) <= 2 else f"{len(r.boots())} boots"

    def asserts(r):
        assert len(r.log) < 3, "a long log"

    found = checks.violations(run, only="no-crash-loop", extra=[never_more_than_two_boots, asserts,
                                                                   lambda r: False, lambda r: True])
    assert [v.check for v in found] == ["never_more_than_two_boots", "asserts", "<lambda>"]
    assert "[asserts] a long log" in str(found[1])
    wrapped = checks.custom(never_more_than_two_boots, name="two boots")
    with pytest.raises(CustomCheckFailed, match=r"\[two boots\] \d+ boots"):
        wrapped(run)


def test_polite_raises_the_first_violation_and_lists_the_others(impolite_app):
    run = play(impolite_app, scenario("1h", "25m:impos=44.0"))
    with pytest.raises(PoliteViolation) as info:
        checks.polite(run, extra=[impolite_keeps_readings])
    assert info.value.check == "handler-first"
    assert "  also: [impolite_keeps_readings]" in str(info.value)
    assert isinstance(info.value, AssertionError)


def test_each_check_function_raises(tmp_path, impolite_app):
    run = play(impolite_app, scenario("1h"))
    with pytest.raises(HandlerNotFirst):
        checks.handler_registered_first(run)
    checks.restart_before_sleep(run)
    checks.update_applied_within(run, "1h")
    checks.no_forced_update_mid_write(run)
    checks.data_persists(run)
    checks.no_crash_loop(run)
    checks.no_simultaneous_restart(run)


def test_select_names_the_valid_checks():
    assert checks.select("all") == checks.DEFAULTS
    assert checks.select("no-crash-loop, handler-first") == ("no-crash-loop", "handler-first")
    with pytest.raises(ValueError, match="unknown check 'polite-ish': valid checks are all, handler-first"):
        checks.select("polite-ish")


def test_violations_cite_the_code_the_boot_ran(polite_app, impolite_app):
    """After a deployment of other code, file:line points into the deployed file."""
    run = play(polite_app, scenario("3h", f"5m:deploy={impolite_app[0]}"))
    (v,) = only(run, "handler-first")
    assert "impolite-logger/logger.device.nut:15: agent.send(" in str(v)
    assert "polite-logger/logger.device.nut" not in str(v).replace("impolite-logger", "")


# --- how the checks find events --------------------------------------------------------------

_STEPS = {
    "boot": ("boot", {}), "told": ("update", {"stage": "handler-called", "update": "impos"}),
    "applied": ("update", {"stage": "applied", "update": "impos"}), "asleep": ("state", {"state": "asleep"}),
    "running": ("state", {"state": "running"}), "online": ("connection", {"connected": True}),
}


class _Record:
    """Just a record of events, as the checks' searches read a run: with the indices a replay
    keeps of its rare kinds (``indexed``), or without (a later replay took the indexing over)."""

    def __init__(self, steps, indexed):
        from impapi.events import Event

        self.events = [Event(t, *_STEPS[s]) for t, s in enumerate(steps)]
        self.replay = self
        self.indexed = indexed

    def indices(self, kind):
        from impapi.replay import INDEXED_KINDS

        if not self.indexed or kind not in INDEXED_KINDS:
            return None
        return [i for i, e in enumerate(self.events) if e.kind == kind]


def _told_then_slept(events):
    told = set()
    for e in events:
        if e.kind == "boot":
            told.clear()
        elif e.kind == "update":
            (told.add if e.data["stage"] == "handler-called" else told.discard)(e.data["update"])
        elif e.kind == "state" and e.data["state"] == "asleep" and told:
            return True
    return False


def test_the_searches_that_find_events_for_the_checks_agree_with_a_plain_walk():
    """Every sequence of up to five boots, handler calls, applied updates, state and connection
    changes (the events end, begin or sit next to each other every way): the indices of a kind,
    the last connection change before an update, and the pre-check that lets restart-before-sleep
    skip its walk (it must never skip a sleep the walk flags)."""
    from itertools import product

    from impapi.testing.fuzz import checks as c

    for n in range(6):
        for steps, indexed in product(product(sorted(_STEPS), repeat=n), (True, False)):
            for first in ("update", "state", "connection"):  # which kind is searched for first
                run = _Record(steps, indexed)
                kinds = [first] + [k for k in ("boot", "update", "state", "connection") if k != first]
                for kind in kinds:
                    assert c._of_kind(run, kind) == [i for i, e in enumerate(run.events) if e.kind == kind]
                run = _Record(steps, indexed)
                c._of_kind(run, first)
                for i, e in c._select(run, "update"):
                    before = [j for j in range(i) if run.events[j].kind == "connection"]
                    assert c._last_before(run, "connection", i, "update") == (before[-1] if before else None)
                run = _Record(steps, indexed)
                if _told_then_slept(run.events):
                    assert c._may_sleep_told(run), steps
