"""Scenarios: the event vocabulary, its one parser (``--at`` and TOML), validation messages that
say what is valid, and the round trips the fuzzer relies on (``to_toml``, ``to_cli_args``)."""

import json
import os

import pytest

from impapi.durations import D, H, M, S
from impapi.scenario import (
    EVENTS,
    Deploy,
    Http,
    Message,
    Scenario,
    ScenarioError,
    ScenarioEvent,
    load_toml,
    loads_toml,
    parse_at,
)


@pytest.fixture
def code(tmp_path, monkeypatch):
    """A working directory with device and agent code files."""
    for name in ("app.device.nut", "app.agent.nut", "v2.device.nut", "v2.agent.nut"):
        (tmp_path / name).write_text('server.log("hi");\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the CLI form -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, at_us, kind, arg", [
    ("30m:impos=43.1", 30 * M, "impos", "43.1"),
    ("1d:impos=44", D, "impos", "44"),
    ("5h:power-cycle", 5 * H, "power-cycle", None),
    ("5h:power-off", 5 * H, "power-off", None),
    ("5h30m:power-on", 5 * H + 30 * M, "power-on", None),
    ("8h:offline=45m", 8 * H, "offline", 45 * M),
    ("90:offline=1.5h", 90 * S, "offline", 90 * M),
    ("12h:move-group=production", 12 * H, "move-group", "production"),
    ("1h:message=led", H, "message", Message("led")),
    ('1h:message=led:{"on": true, "level": 3}', H, "message", Message("led", '{"on": true, "level": 3}')),
    ('1h:message=say:"a: b"', H, "message", Message("say", '"a: b"')),
    ("1h:message=n:null", H, "message", Message("n", "null")),
    ("2h:http=GET /status", 2 * H, "http", Http("GET", "/status")),
    ("2h:http=post /led?x=1 on and off", 2 * H, "http", Http("POST", "/led?x=1", "on and off")),
    ("1d6h:advance", D + 6 * H, "advance", None),
    ("0:advance", 0, "advance", None),
    ("1.5s:advance", 1_500_000, "advance", None),
])
def test_parse_at_each_event(text, at_us, kind, arg):
    assert parse_at(text) == ScenarioEvent(at_us, kind, arg)


def test_the_vocabulary_is_the_documented_one():
    assert list(EVENTS) == ["impos", "deploy", "force-deploy", "power-cycle", "power-off", "power-on",
                            "offline", "move-group", "message", "http", "pin", "analog", "advance"]


def test_deploy_paths_resolve_against_the_working_directory_and_are_kept_absolute(code):
    assert parse_at("3h:deploy=v2.device.nut") == ScenarioEvent(3 * H, "deploy", Deploy(str(code / "v2.device.nut")))
    e = parse_at("3h:force-deploy=v2.device.nut,v2.agent.nut")
    assert e.arg == Deploy(str(code / "v2.device.nut"), str(code / "v2.agent.nut"))
    assert parse_at("3h:deploy=,v2.agent.nut").arg == Deploy(None, str(code / "v2.agent.nut"))
    assert parse_at("3h:deploy").arg == Deploy()  # redeploy the code the cloud has


def test_deploy_paths_resolve_against_a_given_base_dir(code, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    os.chdir(elsewhere)
    assert parse_at("3h:deploy=v2.device.nut", base_dir=code).arg.device == str(code / "v2.device.nut")


@pytest.mark.parametrize("text, message", [
    ("impos=43.1", "use TIME:EVENT[=ARG], e.g. 30m:impos=43.1"),
    (":impos=43.1", "use TIME:EVENT[=ARG]"),
    ("3h:", "no event after the time"),
    ("3x:power-cycle", "bad time '3x': use a number with a unit d, h, m, s, ms or us"),
    ("-3h:power-cycle", "durations cannot be negative"),
    ("3h:reboot", ("unknown event 'reboot': valid events are impos=VERSION, deploy[=DEVICE.nut][,AGENT.nut], "
                  "force-deploy[=DEVICE.nut][,AGENT.nut], power-cycle, power-off, power-on, offline=DURATION, "
                  "move-group=NAME, message=NAME[:JSON], http=METHOD PATH[ BODY], pin=PIN:LEVEL | "
                  "pin=PIN:pulse:DURATION, analog=PIN:VALUE, advance")),
    ("3h:powercycle", "unknown event 'powercycle' (did you mean 'power-cycle'?)"),
    ("3h:power-cycle=now", "power-cycle takes no argument: got '=now'"),
    ("3h:advance=", "advance takes no argument"),
    ("3h:impos", "impos takes an impOS version such as 43.1 (impos=VERSION): the argument is missing"),
    ("3h:impos=latest", "impos takes an impOS version such as 43.1 (impos=VERSION): got 'latest'"),
    ("3h:impos=43.1.2", "got '43.1.2'"),
    ("3h:offline", "offline takes how long the network is down, such as 45m (offline=DURATION)"),
    ("3h:offline=soon", "bad duration 'soon': use a number with a unit"),
    ("3h:offline=0s", "an outage must last longer than 0s"),
    ("3h:move-group=", "move-group takes the name of a device group (move-group=NAME): the argument is missing"),
    ("3h:message=", "message takes a message name"),
    ("3h:message=:1", "the message name is missing"),
    ("3h:message=led:{on: true}", "'{on: true}' is not JSON"),
    ("3h:message=led:NaN", "is not JSON"),
    ("3h:message=led:hello", 'quote a string: message=name:"text"'),
    ("3h:http=GET", "give a method and a path, e.g. http=GET /status"),
    ("3h:http=GET status", "bad path 'status': a path starts with /"),
    ("3h:http=G3T /x", "bad method 'G3T'"),
    ("3h:deploy=missing.device.nut", "deploy: no such device code file: missing.device.nut (looked in "),
    ("3h:deploy=app.device.nut,missing.agent.nut", "no such agent code file: missing.agent.nut"),
    ("3h:deploy=a,b,c", "deploy takes the device code file, optionally followed by a comma and the agent code file"),
    ("3h:deploy=v2.agent.nut", ("'v2.agent.nut' looks like agent code; to deploy only agent code write "
                               "deploy=,v2.agent.nut")),
])
def test_parse_at_errors_say_what_is_valid(code, text, message):
    with pytest.raises(ScenarioError) as info:
        parse_at(text)
    assert str(info.value).startswith(f"bad --at {text!r}: ")
    assert message in str(info.value)


def test_errors_are_value_errors_for_argparse():
    with pytest.raises(ValueError):
        parse_at("nonsense")


# --- the data model -----------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    ((-1, "advance"), "non-negative int of microseconds"),
    ((1.5, "advance"), "non-negative int of microseconds"),
    ((0, "reboot"), "unknown event 'reboot'"),
    ((0, "impos", 43.1), "takes an impOS version"),
    ((0, "impos", "x"), "bad impOS version"),
    ((0, "offline", "45m"), "takes how long the network is down"),
    ((0, "offline", 0), "positive duration"),
    ((0, "offline", True), "takes how long"),
    ((0, "power-cycle", "now"), "takes no argument"),
    ((0, "move-group", " prod"), "bad group name"),
    ((0, "message", "led"), "takes a message name"),
])
def test_events_built_in_python_are_validated(args, message):
    with pytest.raises(ScenarioError, match=message):
        ScenarioEvent(*args)


@pytest.mark.parametrize("make, message", [
    (lambda: Message("a:b"), "has no colon"),
    (lambda: Message(""), "not empty"),
    (lambda: Message("x", "{bad"), "not JSON"),
    (lambda: Message.of("x", {1: 2}), "keys must be strings"),
    (lambda: Message.of("x", float("inf")), "only finite numbers"),
    (lambda: Message.of("x", object()), "cannot be sent"),
    (lambda: Http("GET", "status"), "bad path"),
    (lambda: Http("", "/"), "bad method"),
    (lambda: Deploy(""), "must be a file path"),
])
def test_arguments_built_in_python_are_validated(make, message):
    with pytest.raises(ScenarioError, match=message):
        make()


def test_message_json_is_canonical_and_data_round_trips():
    m = Message("cfg", '{"a":1,  "b":[true,null]}')
    assert m.json == '{"a": 1, "b": [true, null]}'
    assert m.data == {"a": 1, "b": [True, None]}
    assert Message.of("cfg", {"a": 1, "b": [True, None]}) == m
    assert Message("x").data is None


def test_events_are_frozen_and_hashable():
    e = parse_at('1h:message=led:{"on": true}')
    with pytest.raises(AttributeError):
        e.at_us = 0  # type: ignore[misc]
    assert len({e, parse_at('1h:message=led:{"on":true}')}) == 1


def test_scenario_keeps_events_in_time_order_stably():
    a, b, c = ScenarioEvent(H, "advance"), ScenarioEvent(0, "power-off"), ScenarioEvent(H, "power-cycle")
    assert Scenario((a, b, c)).events == (b, a, c)


def test_scenario_rejects_events_after_its_end():
    with pytest.raises(ScenarioError, match=r"event '3h:power-cycle' is after the end of the run \(2h\)"):
        Scenario((ScenarioEvent(3 * H, "power-cycle"),), duration_us=2 * H)
    Scenario((ScenarioEvent(2 * H, "power-cycle"),), duration_us=2 * H)  # at the very end: runs


def test_scenario_rejects_unknown_imps():
    with pytest.raises(ScenarioError, match="unknown imp 'imp999': valid imps are .*imp003"):
        Scenario(imp="imp999")


def test_code_files_lists_every_file_once(code):
    s = Scenario((parse_at("1h:deploy=v2.device.nut,v2.agent.nut"), parse_at("2h:deploy=v2.device.nut")),
                 device="app.device.nut")
    assert s.code_files() == [str(code / "app.device.nut"), str(code / "v2.device.nut"), str(code / "v2.agent.nut")]


def test_with_events_adds_cli_events_to_a_file_scenario():
    s = Scenario((ScenarioEvent(H, "advance"),), duration_us=D)
    more = s.with_events(ScenarioEvent(0, "power-cycle"))
    assert [e.kind for e in more.events] == ["power-cycle", "advance"] and more.duration_us == D


# --- the TOML form ------------------------------------------------------------------------------

FULL = '''
[scenario]
duration = "2d"
device = "app.device.nut"
agent = "app.agent.nut"
imp = "imp003"
seed = 7

[[event]]
at = "30m"
type = "impos"
version = "43.1"

[[event]]
at = "3h"
type = "deploy"
device = "v2.device.nut"

[[event]]
at = "3h30m"
type = "force-deploy"
device = "v2.device.nut"
agent = "v2.agent.nut"

[[event]]
at = "4h"
type = "deploy"

[[event]]
at = 18000
type = "power-cycle"

[[event]]
at = "6h"
type = "power-off"

[[event]]
at = "6h1m"
type = "power-on"

[[event]]
at = "8h"
type = "offline"
duration = "45m"

[[event]]
at = "12h"
type = "move-group"
group = "production"

[[event]]
at = "13h"
type = "message"
name = "led"
data = { on = true, level = 3 }

[[event]]
at = "13h"
type = "message"
name = "raw"
json = '[1, null]'

[[event]]
at = "14h"
type = "http"
method = "POST"
path = "/led"
body = "on"

[[event]]
at = "15h"
type = "http"
path = "/status"

[[event]]
at = "1d"
type = "advance"
'''


def test_load_toml_reads_every_event_type(code):
    (code / "s.toml").write_text(FULL)
    s = load_toml(code / "s.toml")
    assert (s.duration_us, s.device, s.agent, s.imp, s.seed) == (
        2 * D, str(code / "app.device.nut"), str(code / "app.agent.nut"), "imp003", 7)
    v2, v2a = str(code / "v2.device.nut"), str(code / "v2.agent.nut")
    assert s.events == (
        ScenarioEvent(30 * M, "impos", "43.1"),
        ScenarioEvent(3 * H, "deploy", Deploy(v2)),
        ScenarioEvent(3 * H + 30 * M, "force-deploy", Deploy(v2, v2a)),
        ScenarioEvent(4 * H, "deploy", Deploy()),
        ScenarioEvent(5 * H, "power-cycle"),
        ScenarioEvent(6 * H, "power-off"),
        ScenarioEvent(6 * H + M, "power-on"),
        ScenarioEvent(8 * H, "offline", 45 * M),
        ScenarioEvent(12 * H, "move-group", "production"),
        ScenarioEvent(13 * H, "message", Message.of("led", {"on": True, "level": 3})),
        ScenarioEvent(13 * H, "message", Message("raw", "[1, null]")),
        ScenarioEvent(14 * H, "http", Http("POST", "/led", "on")),
        ScenarioEvent(15 * H, "http", Http("GET", "/status")),
        ScenarioEvent(D, "advance"),
    )


def test_toml_paths_resolve_against_the_files_directory(code, tmp_path_factory):
    sub = code / "scenarios"
    sub.mkdir()
    (sub / "s.toml").write_text('[scenario]\ndevice = "../app.device.nut"\n\n'
                                '[[event]]\nat = "1h"\ntype = "deploy"\ndevice = "../v2.device.nut"\n')
    os.chdir(tmp_path_factory.mktemp("elsewhere"))
    s = load_toml(sub / "s.toml")
    assert s.device == str(code / "app.device.nut")
    assert s.events[0].arg.device == str(code / "v2.device.nut")


def test_the_scenario_table_is_optional(code):
    s = loads_toml('[[event]]\nat = "1h"\ntype = "power-cycle"\n')
    assert s == Scenario((ScenarioEvent(H, "power-cycle"),))


@pytest.mark.parametrize("text, message", [
    ("[scenario\nduration = 1", "s.toml: invalid TOML: "),
    ('[scenario]\nduraton = "1d"', ("s.toml: [scenario]: unknown field 'duraton' (did you mean 'duration'?): "
                                   "valid fields are duration, device, agent, imp, seed")),
    ('[scenario]\nduration = "forever"', "s.toml: [scenario] field 'duration': bad duration 'forever'"),
    ('[scenario]\ndevice = "nope.nut"', "s.toml: [scenario] field 'device': no such file: nope.nut (looked in "),
    ('[scenario]\nimp = "imp9"', "s.toml: [scenario] field 'imp': unknown imp 'imp9': valid imps are "),
    ('[scenario]\nseed = "x"', "s.toml: [scenario] field 'seed': must be an integer"),
    ('scenario = 3', "s.toml: 'scenario' must be a table"),
    ('[[events]]\nat = "1h"', "s.toml: unknown top-level key 'events' (did you mean [[event]]?)"),
    ('[event]\nat = "1h"', "s.toml: 'event' must be an array of tables: write each event under [[event]]"),
    ('[[event]]\nat = "1h"', ("s.toml: [[event]] 1, field 'type': missing: give the event type, one of impos, "
                             "deploy, force-deploy")),
    ('[[event]]\nat = "1h"\ntype = "advance"\n[[event]]\nat = "2h"\ntype = "reboot"',
     "s.toml: [[event]] 2 (reboot), field 'type': unknown event 'reboot': valid events are impos=VERSION"),
    ('[[event]]\ntype = "advance"', ("s.toml: [[event]] 1 (advance), field 'at': missing: give the time from the "
                                    'start, e.g. at = "30m"')),
    ('[[event]]\nat = "soon"\ntype = "advance"', ("s.toml: [[event]] 1 (advance), field 'at': bad time 'soon': "
                                                 "use a number with a unit")),
    ('[[event]]\nat = true\ntype = "advance"', "field 'at': True is not a duration"),
    ('[[event]]\nat = "1h"\ntype = "impos"', ("s.toml: [[event]] 1 (impos), field 'version': missing: impos needs "
                                             "version (impos=VERSION)")),
    ('[[event]]\nat = "1h"\ntype = "impos"\nversion = 43.1',
     "field 'version': write the version as a string, version = \"43.1\""),
    ('[[event]]\nat = "1h"\ntype = "impos"\nversion = "new"', "field 'version': got 'new'"),
    ('[[event]]\nat = "1h"\ntype = "impos"\nverison = "43.1"',
     ("[[event]] 1 (impos), field 'verison': unknown field (did you mean 'version'?): impos takes version "
     "besides at and type")),
    ('[[event]]\nat = "1h"\ntype = "power-cycle"\nduration = "1m"',
     "field 'duration': unknown field: power-cycle takes no other fields besides at and type"),
    ('[[event]]\nat = "1h"\ntype = "offline"', "field 'duration': missing: how long the network is down"),
    ('[[event]]\nat = "1h"\ntype = "offline"\nduration = "0s"', "field 'duration': an outage must last longer"),
    ('[[event]]\nat = "1h"\ntype = "deploy"\ndevice = "gone.nut"',
     "[[event]] 1 (deploy), field 'device': no such device code file: gone.nut"),
    ('[[event]]\nat = "1h"\ntype = "deploy"\ndevice = 3', "field 'device': must be a string (in quotes)"),
    ('[[event]]\nat = "1h"\ntype = "move-group"\ngroup = ""', "field 'group': the group name is empty"),
    ('[[event]]\nat = "1h"\ntype = "message"', "field 'name': missing: message needs name"),
    ('[[event]]\nat = "1h"\ntype = "message"\nname = "a"\ndata = 1\njson = "1"',
     "field 'json': give data (a TOML value) or json (JSON text), not both"),
    ('[[event]]\nat = "1h"\ntype = "message"\nname = "a"\njson = "{x"', "field 'json': not JSON"),
    ('[[event]]\nat = "1h"\ntype = "message"\nname = "a"\ndata = 1979-05-27',
     "field 'data': data: datetime.date(1979, 5, 27) (date) cannot be sent"),
    ('[[event]]\nat = "1h"\ntype = "http"', "field 'path': missing: http needs path"),
    ('[[event]]\nat = "1h"\ntype = "http"\npath = "x"', "field 'path': bad path 'x'"),
    ('[[event]]\nat = "1h"\ntype = "http"\nmethod = "G T"\npath = "/"', "field 'method': bad method 'G T'"),
    ('[scenario]\nduration = "1h"\n[[event]]\nat = "2h"\ntype = "advance"',
     "s.toml: event '2h:advance' is after the end of the run (1h)"),
])
def test_toml_errors_name_the_file_the_entry_and_the_field(code, text, message):
    (code / "s.toml").write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_toml("s.toml")
    assert message in str(info.value)


def test_missing_and_non_utf8_files(code):
    with pytest.raises(ScenarioError, match="nope.toml: no such file"):
        load_toml("nope.toml")
    (code / "bad.toml").write_bytes(b'[scenario]\nimp = "\xff"\n')
    with pytest.raises(ScenarioError, match="bad.toml: not UTF-8 text"):
        load_toml("bad.toml")


# --- writing: to_toml and to_cli_args -----------------------------------------------------------


def test_to_toml_round_trips_the_full_example(code):
    (code / "s.toml").write_text(FULL)
    s = load_toml(code / "s.toml")
    text = s.to_toml(relative_to=code)
    assert 'device = "v2.device.nut"' in text and 'data = { on = true, level = 3 }' in text
    assert 'json = "[1, null]"' in text  # TOML has no null: kept as JSON text
    assert loads_toml(text, base_dir=code) == s


def test_save_writes_paths_relative_to_the_new_file(code):
    s = Scenario((parse_at("1h:deploy=v2.device.nut"),), duration_us=D, device="app.device.nut")
    out = code / "out" / "deep"
    out.mkdir(parents=True)
    path = s.save(out / "failing.toml")
    assert 'device = "../../app.device.nut"' in path.read_text()
    assert load_toml(path) == s


def test_awkward_strings_survive_toml(code):
    body = 'quote " backslash \\ tab \t newline \n del \x7f bell \x07 unicode é ✓ \'single\''
    s = Scenario((
        ScenarioEvent(0, "http", Http("PUT", "/x?a=1&b='2'", body)),
        ScenarioEvent(S, "move-group", 'group "prod" \\ 1'),
        ScenarioEvent(2 * S, "message", Message.of("m", {"k e y": ["\n", 1.5, -2, {"": False}], "a-b": 1e300})),
    ))
    assert loads_toml(s.to_toml()) == s


def test_to_cli_args(code):
    (code / "s.toml").write_text(FULL)
    args = load_toml(code / "s.toml").to_cli_args()
    assert args[:9] == ["app.device.nut", "--agent", "app.agent.nut", "--for", "2d", "--imp", "imp003", "--seed", "7"]
    ats = args[10::2]
    assert ats == [
        "30m:impos=43.1", "3h:deploy=v2.device.nut", "3h30m:force-deploy=v2.device.nut,v2.agent.nut", "4h:deploy",
        "5h:power-cycle", "6h:power-off", "6h1m:power-on", "8h:offline=45m", "12h:move-group=production",
        '13h:message=led:{"on": true, "level": 3}', "13h:message=raw:[1, null]", "14h:http=POST /led on",
        "15h:http=GET /status", "1d:advance",
    ]
    assert all(a == "--at" for a in args[9::2])


def test_cli_args_parse_back_to_the_same_scenario(code):
    (code / "s.toml").write_text(FULL)
    s = load_toml(code / "s.toml")
    args = s.to_cli_args()
    events = tuple(parse_at(a) for a in args[10::2])
    assert Scenario(events, s.duration_us, s.device, s.agent, s.imp, s.seed) == s


def test_http_body_is_kept_verbatim_on_the_command_line():
    e = ScenarioEvent(H, "http", Http("POST", "/x", "  two  spaces  "))
    assert parse_at(e.to_cli()) == e


def test_a_path_with_a_comma_cannot_be_a_cli_argument(tmp_path):
    f = tmp_path / "a,b.device.nut"
    f.write_text("")
    with pytest.raises(ScenarioError, match="a path with a comma cannot be written as --at"):
        ScenarioEvent(0, "deploy", Deploy(str(f))).to_cli()


def test_module_docstring_documents_every_event_type():
    import impapi.scenario as mod

    for kind, spec in EVENTS.items():
        assert f"``{spec.usage.split('[')[0].split('=')[0]}" in mod.__doc__, kind
        for key in spec.toml_keys:
            assert f"``{key} = " in mod.__doc__, (kind, key)


def test_json_data_is_exactly_what_the_device_gets():
    e = parse_at('1m:message=cfg:{"rate": 5, "names": ["a", "b"]}')
    assert e.arg.data == json.loads('{"rate": 5, "names": ["a", "b"]}')


@pytest.mark.parametrize("text, message", [
    ("5m:message=x:2147483648", "2147483648 does not fit Squirrel's 32-bit integers"),
    ('5m:message=x:{"a": [-2147483649]}', "-2147483649 does not fit Squirrel's 32-bit integers"),
    ("5m:impos=99999.0", "got '99999.0'"),
])
def test_values_the_imp_cannot_hold_are_refused_when_read(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_at(text)
