"""Waking a deep-sleeping imp with its wake-up pin (docs/imp-model/boot-and-wake.md)."""

import textwrap

import pytest

from impapi import Config, Simulation
from impapi.cli import main
from impapi.pinmux import MODULES
from impapi.scenario import Scenario, loads_toml, parse_at

S = 1_000_000
M = 60 * S

SLEEPER = '''
if (!("nv" in getroottable())) nv <- { boots = 0 };
nv.boots++;
server.log(format("boot %d reason %d", nv.boots, hardware.wakereason()));
hardware.%PIN%.configure(DIGITAL_IN_WAKEUP, function() { server.log("callback"); });
imp.wakeup(1, function() { imp.deepsleepfor(3600); });
'''


def sleeper(imp: str, pin: str, **kw) -> Simulation:
    return Simulation(device=SLEEPER.replace("%PIN%", pin), imp=imp, **kw)


def device_lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "device"]


WAKE_PINS = [(imp, pin) for imp in sorted(MODULES) for pin in MODULES[imp].wake_pins]


@pytest.mark.parametrize("imp, pin", WAKE_PINS)
def test_a_rising_wake_pin_wakes_a_sleeping_imp_with_the_pin_reason_and_nv(imp, pin):
    from impapi.profiles import get_profile

    sim = sleeper(imp, pin)
    sim.run("10m")
    assert sim.device.state == "asleep" and sim.device.board.wake_armed == {pin}
    sim.pulse(pin, "50ms")
    sim.run("2.5s")  # awake, offline; the log line connects it (2 s)
    # The pin woke it (reason 3) with nv kept where the module has nv; the callback did not run
    # for the edge that woke it.
    second = 2 if get_profile(imp).has_nv else 1
    assert device_lines(sim) == ["boot 1 reason 0", f"boot {second} reason 3"]
    assert sim.events.of("boot")[-1].data["reason_name"] == "WAKEREASON_PIN"
    assert sim.events.of("boot")[-1].time_us == 10 * M
    # Awake, a press calls the callback (pressed, released); then it sleeps an hour and its
    # timer wakes it.
    sim.pulse(pin, "50ms", at="0.1s")
    sim.run("1h1m")
    assert device_lines(sim)[2:] == ["callback", "callback", f"boot {2 * second - 1} reason 1"]


def test_only_an_armed_wake_pin_wakes_and_only_from_deep_sleep():
    # pin1 configured as a plain input: no wake; pin5 is not a wake pin at all.
    sim = Simulation(device='''
        server.log("boot " + hardware.wakereason());
        hardware.pin1.configure(DIGITAL_IN);
        imp.wakeup(1, function() { imp.deepsleepfor(600); });
    ''', imp="imp001")
    sim.run("5m")
    sim.pulse("pin1", "1s")
    sim.run("2m")
    assert device_lines(sim) == ["boot 0"]
    # A pin armed by an earlier run but not by the one that went to sleep wakes nothing.
    sim = Simulation(device='''
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        server.log("boot " + hardware.wakereason());
        if (nv.n == 1) hardware.pin1.configure(DIGITAL_IN_WAKEUP);
        imp.wakeup(1, function() { imp.deepsleepfor(nv.n == 1 ? 600 : 3600); });
    ''', imp="imp001")
    sim.run("20m")  # woken by its timer at 10m3s, sleeping for an hour again, pin not armed
    assert sim.device.board.wake_armed == frozenset()
    sim.pulse("pin1", "1s")
    sim.run("1m")
    assert device_lines(sim) == ["boot 0", "boot 1"]
    # Awake (not sleeping), a high wake pin is only an input.
    sim = sleeper("imp001", "pin1")
    sim.run("2.5s")
    sim.drive("pin1", 1)
    sim.run("0.2s")
    assert device_lines(sim) == ["boot 1 reason 0", "callback"]
    assert sim.device.boots == 1


def test_a_wake_pin_high_at_sleep_wakes_again_at_once_unless_configured_not_to():
    sim = sleeper("imp003", "pinW", start=False)
    sim.device.board.drive("pinW", 1)  # held high from the start
    sim.start()
    sim.run("3s")  # boot at 2 s, sleeps at 3 s (and the few µs its code takes)
    sim.run("0.002s")
    assert sim.device.boots == 2 and sim.device.wakereason == 3  # 1 ms after the sleep began
    sim.drive("pinW", 0)
    sim.run("10s")
    assert sim.device.state == "asleep"

    sim = sleeper("imp003", "pinW", start=False, config=Config(wake_pin_high_at_sleep_us=None))
    sim.device.board.drive("pinW", 1)
    sim.start()
    sim.run("30m")
    assert sim.device.boots == 1 and sim.device.state == "asleep"
    sim.drive("pinW", 0)
    sim.drive("pinW", 1, at="1s")  # the next rising edge
    sim.run("5s")
    assert device_lines(sim)[-1] == "boot 2 reason 3"


def test_a_press_while_blocked_is_seen_at_its_time_not_when_its_event_runs():
    """A press that starts and ends while the app blocks (imp.sleep) is over when it sleeps: it
    does not wake it."""
    sim = Simulation(device='''
        server.log("boot " + hardware.wakereason());
        hardware.pin1.configure(DIGITAL_IN_WAKEUP);
        imp.sleep(5);
        imp.deepsleepfor(600);
    ''', imp="imp001", start=False)
    sim.pulse("pin1", "100ms", at="3s")
    sim.start()
    sim.run("5m")
    assert device_lines(sim) == ["boot 0"]


WAKE_APP = '''
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
server.log(nv.n + " " + hardware.wakereason() + " " + hardware.pinW.read());
hardware.pinW.configure(DIGITAL_IN_WAKEUP);
imp.deepsleepfor(3600);
'''


def test_a_wake_through_every_entry_point_gives_one_log(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wake.device.nut").write_text(WAKE_APP, encoding="utf-8")
    assert main(["run", "wake.device.nut", "--for", "2h", "--at", "20m:pin=pinW:pulse:50ms",
                 "--at", "50m:pin=pinW:1", "--at", "50m1s:pin=pinW:float"]) == 0
    by_flags = capsys.readouterr().out
    assert "[Device] 2 3 " in by_flags and "[Sim] Scenario: pinW pulsed high for 50ms" in by_flags
    # The held pin wakes it again and again until released, each cycle a boot and a connection.
    assert by_flags.count(" 3 ") >= 2

    (tmp_path / "run.toml").write_text(textwrap.dedent('''
        [scenario]
        device = "wake.device.nut"
        duration = "2h"
        [[event]]
        at = "20m"
        type = "pin"
        pin = "pinW"
        pulse = "50ms"
        [[event]]
        at = "50m"
        type = "pin"
        pin = "pinW"
        [[event]]
        at = "50m1s"
        type = "pin"
        pin = "pinW"
        level = "float"
    '''), encoding="utf-8")
    assert main(["run", "--scenario", "run.toml"]) == 0
    assert capsys.readouterr().out == by_flags

    scn = Scenario((parse_at("20m:pin=pinW:pulse:50ms"), parse_at("50m:pin=pinW:1"),
                    parse_at("50m1s:pin=pinW:float")), duration_us=120 * M, device=str(tmp_path / "wake.device.nut"))
    sim = Simulation.from_scenario(scn)
    sim.play(scn)
    assert "".join(sim.log.format(e) + "\n" for e in sim.log) == by_flags
    # Scenario values write back to forms that read back equal.
    assert loads_toml(scn.to_toml(tmp_path), base_dir=tmp_path) == scn
    assert [e.to_cli() for e in scn.events] == ["20m:pin=pinW:pulse:50ms", "50m:pin=pinW:1", "50m1s:pin=pinW:float"]


def test_an_unknown_pin_in_a_scenario_is_refused_before_the_run(tmp_path, capsys):
    app = tmp_path / "a.device.nut"
    app.write_text(WAKE_APP, encoding="utf-8")
    assert main(["run", str(app), "--imp", "imp001", "--at", "1m:pin=pinW:1"]) == 2
    assert "the imp001 has no pin 'pinW'" in capsys.readouterr().err
    assert main(["run", str(app), "--at", "1m:pin=pinW:2"]) == 2
    assert "'2' is not a level" in capsys.readouterr().err
