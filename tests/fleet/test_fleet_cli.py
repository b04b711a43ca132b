"""``impsim fleet``: the same JSON, byte for byte, whatever the workers, shard size or cluster;
outputs and inputs checked before the run; reports a user can open."""

import json
import sys

import pytest

from conftest import APPS_DIR, app

from impapi.cli import main

pytest.importorskip("distributed")


def fleet(capsys, *args):
    code = main(["fleet", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


SMALL = ["--devices", "16", "--for", "4h", "--at", "1h30m:impos=44.0", "--seed", "11"]


def test_json_is_the_same_bytes_for_any_workers_shard_size_or_cluster(capsys, cluster):
    device, agent = app("sleepy")
    code, one, err = fleet(capsys, device, "--agent", agent, *SMALL, "--workers", "1", "--json")
    assert code == 0 and err == ""  # no progress bar off a terminal
    code, two, _ = fleet(capsys, device, "--agent", agent, *SMALL, "--workers", "2", "--shard-size", "3", "--json")
    assert code == 0
    code, remote, _ = fleet(capsys, device, "--agent", agent, *SMALL, "--scheduler", cluster.scheduler_address,
                            "--shard-size", "5", "--json")
    assert code == 0
    assert one == two == remote
    data = json.loads(one)
    assert set(data) == {"fleet", "summary", "curves", "outliers", "devices"}
    assert len(data["devices"]) == 16 and data["summary"]["updated"] == 16
    assert len(data["curves"]["load"]["messages"]) == 240


def test_reports_and_table_are_written(capsys, tmp_path, cluster):
    device, agent = app("polite")
    html, svg, csv = tmp_path / "rollout.html", tmp_path / "rollout.svg", tmp_path / "devices.csv"
    code, out, _ = fleet(capsys, device, "--agent", agent, "--devices", "10", "--for", "3h", "--at", "1h:impos=44.0",
                         "--scheduler", cluster.scheduler_address, "--report", html, "--report", svg, "--csv", csv)
    assert code == 0
    assert "updated 10/10 (100.0%)" in out and "time from the release: 50%" in out
    assert "impsim run " in out  # outliers come with their replay commands
    page = html.read_text()
    assert "<svg" in page and "Outliers" in page and "Backend load" in page
    assert svg.read_text().startswith("<svg") and "path-polite" in svg.read_text()
    rows = csv.read_text().splitlines()
    assert len(rows) == 11 and rows[0].startswith("index,seed,group,imp,start_s,")


def test_png_report(capsys, tmp_path, cluster):
    from impapi.timeline import png_problem

    if png_problem():
        pytest.skip(png_problem())
    png = tmp_path / "rollout.png"
    device, agent = app("sleepy")
    code, _, _ = fleet(capsys, device, "--agent", agent, "--devices", "4", "--for", "2h", "--at", "1h:impos=44.0",
                       "--scheduler", cluster.scheduler_address, "--report", png)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra, message", [
    (["--report", "out.pdf"], "--report out.pdf: name the file .html, .svg, .png"),
    (["--csv", "/nonexistent-dir/devices.csv"], "no such directory /nonexistent-dir"),
    (["--report", "/nonexistent-dir/r.html"], "no such directory"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "--workers sizes the local cluster"),
    (["--at", "2h:impos=forty-four"], "bad --at '2h:impos=forty-four'"),
    (["--at", "2d:impos=44.0"], "after the end of the run"),
])
def test_bad_options_stop_before_the_run(capsys, tmp_path, extra, message):
    device, agent = app("sleepy")
    code, out, err = fleet(capsys, device, "--agent", agent, "--devices", "2", "--for", "1h", *extra)
    assert code == 2 and message in err and out == ""


def test_bad_fleet_file_and_bad_code_exit_2_naming_the_file(capsys, tmp_path):
    device, agent = app("sleepy")
    bad = tmp_path / "fleet.toml"
    bad.write_text("[groups]\nname = 'x'\n")
    code, _, err = fleet(capsys, device, "--fleet", bad, "--devices", "2")
    assert code == 2 and f"{bad}: [groups]: unknown table" in err
    broken = tmp_path / "broken.device.nut"
    broken.write_text("local x = ;\n")
    code, _, err = fleet(capsys, broken, "--devices", "2")
    assert code == 2 and "broken.device.nut:1" in err


def test_without_dask_the_message_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    device, agent = app("sleepy")
    code, _, err = fleet(capsys, device, "--devices", "2")
    assert code == 2 and "pip install 'impsim[fleet]'" in err


def test_a_release_that_crash_loops_devices_exits_1(capsys, cluster):
    code, out, _ = fleet(capsys, APPS_DIR / "crash.device.nut", "--devices", "4", "--for", "3h",
                         "--at", "1h:impos=44.0", "--scheduler", cluster.scheduler_address)
    assert code == 1 and "crash loops 4" in out and "crash loop: device" in out


def test_progress_bar_only_on_a_terminal():
    import io

    from impapi.fleet.cli import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = _Progress(stream)
        bar(250, 1000)
        bar(1000, 1000)
        bar.close()
    assert pipe.getvalue() == ""
    assert "250/1,000 devices  25%" in tty.getvalue() and "1,000/1,000 devices 100%" in tty.getvalue()


def test_a_device_that_cannot_finish_names_itself_and_its_replay(capsys, cluster):
    code, out, err = fleet(capsys, APPS_DIR / "still.device.nut", "--devices", "3", "--for", "2h",
                           "--at", "1h:impos=44.0", "--scheduler", cluster.scheduler_address)
    assert code == 2 and out == ""
    assert "code never waits" in err and "replay it alone: impsim run " in err


def test_code_is_loaded_as_impsim_run_loads_it_and_replays_say_how(capsys, tmp_path, cluster, monkeypatch):
    """#require from --lib-dir: the workers get the built code; the replay commands carry the option."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "Greeting.lib.nut").write_text('class Greeting { static TEXT = "hello from the library"; }\n')
    (tmp_path / "app.device.nut").write_text(
        '#require "Greeting.lib.nut:1.0.0"\n'
        'server.log(Greeting.TEXT);\n'
        'imp.wakeup(5, function() { agent.send("hi", 1); imp.deepsleepfor(600); });\n')
    code, out, err = fleet(capsys, "app.device.nut", "--devices", "3", "--for", "2h", "--at", "1h:impos=44.0",
                           "--lib-dir", "libs", "--scheduler", cluster.scheduler_address, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["summary"]["updated"] == 3 and data["summary"]["crash_loops"] == 0
    replay = data["outliers"][0]["replay"]
    assert replay.endswith("--lib-dir libs")
    assert main(replay.split()[1:]) == 0
    assert "hello from the library" in capsys.readouterr().out
    code, _, err = fleet(capsys, "app.device.nut", "--devices", "3", "--for", "2h")
    assert code == 2 and "Greeting.lib.nut" in err  # without the library: stopped before the run
