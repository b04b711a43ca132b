"""The example apps run under impsim with the log and outcomes a user expects."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from impapi import Simulation
from impapi.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_cli(capsys, *args):
    code = main(["run", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ping_pong_round_trips(capsys):
    """§3: agent.send/device.on and device.send/agent.on, 50 ms each way."""
    code, out, _ = run_cli(capsys, EXAMPLES / "ping-pong/pingpong.device.nut",
                           "--agent", EXAMPLES / "ping-pong/pingpong.agent.nut", "--for", "65s")
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        "2026-01-01T00:00:00.000Z [Status] Agent restarted: reload.",
        "2026-01-01T00:00:02.000Z [Status] Device connected",
        "2026-01-01T00:00:02.000Z [Agent] device is online",
        "2026-01-01T00:00:02.000Z [Status] Device Booting; 0.20% program storage used",
    ]
    assert "2026-01-01T00:00:02.100Z [Device] pong 1 after 100 ms" in lines
    assert "2026-01-01T00:00:52.050Z [Agent] answered 6 pings" in lines
    assert sum("pong" in l for l in lines) == 7


def test_sleepy_sensor_batches_through_deep_sleep(capsys):
    """§4.2, §6: nv keeps the readings across deep sleep; every 4th wake uploads a batch."""
    code, out, _ = run_cli(capsys, EXAMPLES / "sleepy-sensor/sensor.device.nut",
                           "--agent", EXAMPLES / "sleepy-sensor/sensor.agent.nut", "--for", "1d")
    assert code == 0
    batches = [l for l in out.splitlines() if "[Agent] batch of" in l]
    assert len(batches) == 24  # 96 wakes a day, 4 readings a batch
    assert batches[0].endswith("batch of 4, mean 18.31 C, 4 readings so far")
    assert batches[-1].endswith("96 readings so far")
    assert out.count("Device connected") == 25  # the cold boot, then only to upload


def test_flash_ring_log_survives_runs_with_an_image(capsys, tmp_path):
    """§7: the SPI flash keeps its contents across runs through --flash."""
    image = tmp_path / "flash.bin"
    app = EXAMPLES / "flash-ring-log/ring.device.nut"
    code, out, _ = run_cli(capsys, app, "--for", "2h", "--flash", image)
    assert code == 0 and "ring log: 0 records written before this boot" in out
    assert "ring log: 120 records" in out
    code, out, _ = run_cli(capsys, app, "--for", "1m", "--flash", image)
    assert "ring log: 120 records written before this boot" in out


def test_polite_logger_defers_update_until_its_write_is_committed():
    """Seed best practices: handler first, restart when idle and before deep sleep: nothing lost."""
    sim = Simulation(device=EXAMPLES / "polite-logger/logger.device.nut",
                     agent=EXAMPLES / "polite-logger/logger.agent.nut")
    sim.run("25m")
    sim.cloud.release_impos("44.0")
    sim.run("30m")
    applied = sim.events.of("update", stage="applied")
    assert [(e.data["update"], e.data["path"]) for e in applied] == [("impos", "polite")]
    stored = [e.text.split() for e in sim.log if e.text.startswith("stored reading")]
    # The reading is drawn from hardware.millis() when the code takes it (a few ms into the run).
    assert [int(words[2]) for words in stored] == list(range(7))  # no gap
    texts = [e.text for e in sim.log]
    assert texts.index(" ".join(stored[3])) < texts.index("update: restarting now")
    assert sim.http("GET", "/")[:2] == (200, f"reading 6 = {stored[6][4]}")


def test_impolite_logger_loses_a_batch_to_the_update():
    """Seed: "Until server.onshutdown() is called, any attempt to contact the server will cause
    the device to ... restart": the batch kept in nv is gone (nv does not survive impOS updates)."""
    sim = Simulation(device=EXAMPLES / "impolite-logger/logger.device.nut",
                     agent=EXAMPLES / "impolite-logger/logger.agent.nut")
    sim.run("25m")
    sim.cloud.release_impos("44.0")
    sim.run("40m")
    applied = sim.events.of("update", stage="applied")
    assert [(e.data["update"], e.data["path"]) for e in applied] == [("impos", "no-handler")]
    wakes = len(sim.events.of("boot"))
    records = 0
    flash = sim.device.flash
    while flash.peek(records * 8, 4) != b"\xff" * 4:
        records += 1
    # wakes at 0..60 min plus the update's restart; the 3 readings of the 30-50 min wakes are lost
    assert wakes == 8 and records == 3
    assert sim.http("GET", "/")[1] == "3"


def test_syntax_error_exits_2_with_file_line_column(capsys, tmp_path):
    """CLI: a syntax error shows file:line:column and the offending line, exit code 2."""
    bad = tmp_path / "bad.device.nut"
    bad.write_text('server.log("ok");\nlocal x = ;\n')
    code, out, err = run_cli(capsys, bad)
    assert code == 2 and out == ""
    assert f"{bad}:2:" in err and "local x = ;" in err


def test_missing_file_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, tmp_path / "nope.nut")
    assert code == 2 and "no such file" in err


def test_crash_loop_exits_1(capsys, tmp_path):
    """CLI: an app that crashes at every boot exits 1 with a one-line reason."""
    app = tmp_path / "crash.device.nut"
    app.write_text("local t = {};\nt.missing.call();\n")
    code, out, err = run_cli(capsys, app, "--for", "10m", "--quiet")
    assert code == 1 and "crash-looped" in err and err.count("\n") == 1


def test_update_deadline_flag_forces_a_delayed_update(capsys, tmp_path):
    """CLI: --update-deadline is Config.update_deadline_us: a handler that never restarts is
    overruled after that long; without the flag the update stays pending."""
    app = tmp_path / "stubborn.device.nut"
    app.write_text('server.onshutdown(function(r) { server.log("not now"); });\nserver.log("up");\n')
    code, out, _ = run_cli(capsys, app, "--for", "3h", "--at", "10m:impos=44.0", "--update-deadline", "1h")
    assert code == 0 and "impOS 44.0 installed" in out and "forced the impOS update after 1h" in out
    code, out, _ = run_cli(capsys, app, "--for", "3h", "--at", "10m:impos=44.0")
    assert code == 0 and "installed" not in out


def test_json_output_is_one_object_per_entry(capsys):
    code, out, _ = run_cli(capsys, EXAMPLES / "ping-pong/pingpong.device.nut", "--for", "5s", "--json")
    rows = [json.loads(l) for l in out.splitlines()]
    assert rows[0]["type"] == "status" and rows[0]["msg"] == "Device connected"


def test_same_seed_same_log_byte_for_byte():
    """Determinism: the same scenario and seed give the same log, byte for byte (separate processes)."""
    cmd = [sys.executable, "-m", "impapi.cli", "run", str(EXAMPLES / "polite-logger/logger.device.nut"),
           "--agent", str(EXAMPLES / "polite-logger/logger.agent.nut"), "--for", "3h", "--seed", "3"]
    a = subprocess.run(cmd, capture_output=True, check=True).stdout
    b = subprocess.run(cmd, capture_output=True, check=True).stdout
    assert a == b and len(a) > 1000


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for opt in ("--agent", "--for", "--until-idle", "--imp", "--impos", "--flash", "--seed", "--json", "--quiet"):
        assert opt in out


def test_run_with_at_events_and_timeline(capsys, tmp_path):
    """Issue 4: the --at vocabulary drives the cloud and the world; --timeline draws the run."""
    svg = tmp_path / "run.svg"
    code, out, _ = run_cli(capsys, EXAMPLES / "polite-logger/logger.device.nut",
                           "--agent", EXAMPLES / "polite-logger/logger.agent.nut", "--for", "2d",
                           "--at", "30m:impos=43.1", "--at", "3h:deploy", "--at", "5h:power-cycle",
                           "--at", "8h:offline=45m", "--at", "12h:move-group=production", "--timeline", svg)
    assert code == 0
    assert "[Firmware] impOS 43.1 installed" in out
    assert "[Power State] Device powered off" in out
    assert "[Sim] Scenario: device moved to device group 'production'" in out
    assert "<svg " in svg.read_text() and "FORCED" in svg.read_text()


def test_scenario_file_reproduces_the_same_run(capsys, tmp_path):
    """Issue 4: a TOML scenario file and the same --at flags share one parser and one run."""
    toml = tmp_path / "run.toml"
    toml.write_text(f'''
[scenario]
duration = "6h"
device = "{EXAMPLES / 'polite-logger/logger.device.nut'}"
agent = "{EXAMPLES / 'polite-logger/logger.agent.nut'}"

[[event]]
at = "30m"
type = "impos"
version = "43.1"

[[event]]
at = "2h"
type = "offline"
duration = "20m"
''')
    code, from_file, _ = run_cli(capsys, "--scenario", toml)
    assert code == 0
    code, from_flags, _ = run_cli(capsys, EXAMPLES / "polite-logger/logger.device.nut",
                                  "--agent", EXAMPLES / "polite-logger/logger.agent.nut", "--for", "6h",
                                  "--at", "30m:impos=43.1", "--at", "2h:offline=20m")
    assert from_file == from_flags and "impOS 43.1 installed" in from_file


def test_bad_event_says_what_is_valid(capsys):
    code, _, err = run_cli(capsys, EXAMPLES / "ping-pong/pingpong.device.nut", "--at", "5m:reboot")
    assert code == 2 and "power-cycle" in err and "impos" in err


def test_a_reader_that_stops_reading_ends_the_run_quietly(tmp_path):
    """`impsim run ... | head`: no traceback, no error message, the status a shell shows for a
    SIGPIPE, and at once, even when the app catches errors around its server.log calls."""
    app = tmp_path / "chatty.device.nut"
    app.write_text('function tick() { try { server.log("tick"); } catch (e) {} imp.wakeup(1, tick); }\ntick();\n')
    proc = subprocess.Popen([sys.executable, "-m", "impapi.cli", "run", str(app), "--for", "3650d"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        proc.stdout.close()
        code = proc.wait(timeout=120)  # the whole run would take far longer than this
    finally:
        proc.kill()  # if it did not stop, it would run (and keep its log) for ten virtual years
    assert b"[Status] Device connected" in first
    assert code == 141 and proc.stderr.read() == b""


def test_a_streaming_run_can_keep_no_history():
    """What `impsim run` does unless it draws a timeline: every entry reaches the sink, none
    stays in memory (a chatty app run for years would otherwise fill it)."""
    seen = []
    sim = Simulation(device=EXAMPLES / "ping-pong/pingpong.device.nut", agent=EXAMPLES / "ping-pong/pingpong.agent.nut",
                     log_sink=seen.append, keep_history=False)
    sim.run("2m")
    kept = Simulation(device=EXAMPLES / "ping-pong/pingpong.device.nut", agent=EXAMPLES / "ping-pong/pingpong.agent.nut")
    kept.run("2m")
    assert seen == list(kept.log) and len(sim.log) == len(kept.log) > 10
    assert list(sim.log) == [] and list(sim.events) == [] and len(kept.events) > 10


@pytest.mark.parametrize("loop", ["function f() { imp.wakeup(0, f); } f();", "function f() { imp.onidle(f); } f();"])
def test_a_loop_that_keeps_time_still_ends_the_run_with_a_message(capsys, tmp_path, loop):
    app = tmp_path / "spin.device.nut"
    app.write_text('server.log("start");\n' + loop + "\n")
    # Time stands still only while Squirrel takes no time (with it, the loop spins: execution time).
    code, out, err = run_cli(capsys, app, "--for", "1h", "--instruction-ns", "0")
    assert code == 2 and "[Device] start" in out
    assert "virtual time stands still: 100000 events ran at 2s without time passing" in err


def test_ctrl_c_ends_a_run_quietly_and_keeps_the_flash_image(tmp_path):
    import signal

    app = tmp_path / "writer.device.nut"
    app.write_text('hardware.spiflash.enable();\nhardware.spiflash.erasesector(0);\n'
                   'local b = blob(2); b.writestring("ok"); hardware.spiflash.write(0, b);\n'
                   'server.log("written");\nfunction tick() { imp.wakeup(1, tick); }\ntick();\n')
    image = tmp_path / "flash.img"
    proc = subprocess.Popen([sys.executable, "-m", "impapi.cli", "run", str(app), "--for", "3650d",
                             "--flash", str(image)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while b"written" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    assert code == 130 and "Traceback" not in err and "impsim: interrupted at " in err
    assert image.read_bytes()[:2] == b"ok"


def test_weather_station_reads_its_sensor_model_and_wakes_on_the_button(capsys):
    """The README's wired example: an HTS221 model on i2cAB, a button on the wake pin."""
    station = EXAMPLES / "weather-station"
    code, out, _ = run_cli(capsys, station / "weather.device.nut", "--agent", station / "weather.agent.nut",
                           "--wiring", station / "board.toml", "--for", "1d", "--at", "6h10m:pin=pinW:pulse:100ms")
    assert code == 0
    readings = [l for l in out.splitlines() if "[Agent] reading" in l]
    assert len(readings) == 97  # every 15 minutes (and 2 s to connect), plus the button
    assert "2026-01-01T06:10:02.050Z [Agent] reading 26 (button): 11.95 C, 83.4 %RH" in readings
    assert sum("(button)" in l for l in readings) == 1
    # The coolest reading is near 03:00, the warmest near 15:00 (board.toml's daily sine).
    temps = [float(l.split(": ")[1].split(" C")[0]) for l in readings]
    assert 9.9 <= min(temps) < 10.1 and 21.9 < max(temps) <= 22.0
    # Without the wiring, nothing answers on the bus, as on a bare board.
    code, out, _ = run_cli(capsys, station / "weather.device.nut", "--agent", station / "weather.agent.nut",
                           "--for", "20m")
    assert code == 0 and out.count("HTS221 does not answer (I2C error -2)") == 2 and "reading" not in out
