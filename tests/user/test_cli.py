"""`impsim` as a user runs it: the installed command, real files, pipes and terminals."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest

import impapi
import squirrel
from impapi.scenario import loads_toml
from user_helpers import EXAMPLES, ROOT, impsim, impsim_on_a_terminal

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PING = ("examples/ping-pong/pingpong.device.nut", "--agent", "examples/ping-pong/pingpong.agent.nut")


@pytest.fixture
def app(tmp_path):
    (tmp_path / "app.device.nut").write_text('server.log("hello");\nimp.wakeup(60, function() { server.log("later"); });\n')
    return tmp_path


# --- version ------------------------------------------------------------------------------------

def test_version_is_the_installed_distributions_everywhere(tmp_path):
    r = impsim("--version", cwd=tmp_path)
    assert r.code == 0
    assert r.out.startswith(f"impsim {version('impsim')} (Squirrel 3.1, Python ")
    assert squirrel.__version__ == impapi.__version__ == version("impsim")


# --- what is checked before a run ---------------------------------------------------------------

def test_for_0_is_refused_instead_of_printing_nothing(app):
    r = impsim("run", "app.device.nut", "--for", "0", cwd=app)
    assert (r.code, r.out) == (2, "")
    assert "a run of 0s simulates nothing" in r.err and "--until-idle" in r.err


@pytest.mark.parametrize("timeline, message", [
    ("run.pdf", "unknown timeline format '.pdf': name the file .svg, .html or .png"),
    ("run", "unknown timeline format '(no extension)'"),
    ("missing/run.png", "the directory missing does not exist"),
    (".", "is a directory"),
])
def test_a_timeline_that_cannot_be_written_is_refused_before_the_run(app, timeline, message):
    r = impsim("run", "app.device.nut", "--for", "1h", "--timeline", timeline, cwd=app)
    assert r.code == 2
    assert r.out == ""  # not one log line: the run never started
    assert message in r.err


@pytest.mark.parametrize("name, magic", [("run.png", b"\x89PNG\r\n\x1a\n"), ("run.svg", b"<?xml"),
                                         ("run.html", b"<!DOCTYPE html>")])
def test_every_timeline_format_is_written_after_the_plain_install(app, name, magic):
    r = impsim("run", "app.device.nut", "--for", "5m", "--timeline", name, cwd=app)
    assert r.code == 0, r.err
    assert (app / name).read_bytes().startswith(magic)


# --- discovering scenario files -----------------------------------------------------------------

def test_at_help_shows_toml_that_parses(tmp_path):
    r = impsim("run", "--at", "help", cwd=tmp_path)
    assert r.code == 0
    fragment = r.out[r.out.index("\n[[event]]"):r.out.index("`impsim run --scenario-template`")]
    assert tomllib.loads(fragment) == {"event": [{"at": "30m", "type": "impos", "version": "43.1"}]}


def test_the_scenario_template_is_a_complete_file_that_runs(tmp_path):
    r = impsim("run", "--scenario-template", cwd=tmp_path)
    assert r.code == 0 and r.err == ""
    scn = loads_toml(r.out, base_dir=ROOT)
    assert scn.duration_us and scn.device and scn.events
    # Saved at the top of the repository, as its comments say, it runs as it is.
    (tmp_path / "run.toml").write_text(r.out)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    run = impsim("run", "--scenario", "run.toml", "--quiet", cwd=tmp_path)
    assert run.code == 0, run.err
    assert run.out.startswith("impsim: simulated 1d;")


# --- colour and progress ------------------------------------------------------------------------

def test_the_log_is_coloured_on_a_terminal(tmp_path):
    r = impsim_on_a_terminal("run", *PING, "--for", "10s", cwd=ROOT)
    assert r.code == 0
    assert "\x1b[36m[Device]\x1b[39m" in r.out and "\x1b[35m[Agent]\x1b[39m" in r.out
    assert ANSI.sub("", r.out) == impsim("run", *PING, "--for", "10s", cwd=ROOT).out


def test_no_color_is_honoured(tmp_path):
    r = impsim_on_a_terminal("run", *PING, "--for", "10s", cwd=ROOT, env={"NO_COLOR": "1"})
    assert r.code == 0 and "[Device]" in r.out
    assert not ANSI.search(r.out)


def test_colour_only_on_request_into_a_pipe(tmp_path):
    plain = impsim("run", *PING, "--for", "10s", cwd=ROOT)
    assert not ANSI.search(plain.out)
    forced = impsim("run", *PING, "--for", "10s", "--color", "always", cwd=ROOT, env={"NO_COLOR": "1"})
    assert ANSI.search(forced.out) and ANSI.sub("", forced.out) == plain.out


def test_no_progress_goes_into_pipes(tmp_path):
    r = impsim("run", "examples/sleepy-sensor/sensor.device.nut", "--agent", "examples/sleepy-sensor/sensor.agent.nut",
               "--for", "30d", "--quiet", cwd=ROOT)
    assert r.code == 0
    assert r.err == "" and "\r" not in r.out and "#" not in r.out


# --- the agent's requests to other services ----------------------------------------------------

WEATHER_AGENT = '''
http.get("https://api.weather.example/v1/now?city=Oslo").sendasync(function(r) {
    server.log("weather " + r.statuscode + " " + r.body);
});
'''


def test_a_scenario_file_answers_the_agents_requests(tmp_path):
    (tmp_path / "app.agent.nut").write_text(WEATHER_AGENT)
    (tmp_path / "routes.toml").write_text('[[http]]\nurl = "https://api.weather.example/v1/*"\n'
                                          'json = { temp = -3 }\nlatency = "1s"\n')
    r = impsim("run", "--agent", "app.agent.nut", "--scenario", "routes.toml", "--for", "10s", cwd=tmp_path)
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == ['2026-01-01T00:00:01.000Z [Agent] weather 200 {"temp":-3}']


def test_an_unanswered_request_fails_and_the_log_says_how_to_answer_it(tmp_path):
    (tmp_path / "app.agent.nut").write_text(WEATHER_AGENT)
    r = impsim("run", "--agent", "app.agent.nut", "--for", "10s", cwd=tmp_path)
    assert r.code == 0, r.err
    sim_line, agent_line = r.out.splitlines()[1:]
    assert sim_line.startswith("2026-01-01T00:00:00.000Z [Sim] HTTP GET https://api.weather.example/v1/now?city=Oslo "
                               "from the agent: nothing answers it here")
    assert "an [[http]] table in the scenario file" in sim_line
    assert agent_line == "2026-01-01T00:00:00.100Z [Agent] weather 6 "


def test_a_bad_http_table_is_a_usage_error_before_the_run(tmp_path):
    (tmp_path / "app.agent.nut").write_text(WEATHER_AGENT)
    (tmp_path / "routes.toml").write_text('[[http]]\nurl = "https://x/"\nforward = "http://203.0.113.9/"\n')
    r = impsim("run", "--agent", "app.agent.nut", "--scenario", "routes.toml", cwd=tmp_path)
    assert (r.code, r.out) == (2, "")
    assert "routes.toml: [[http]] 1: 'http://203.0.113.9/': only a server on this machine" in r.err
