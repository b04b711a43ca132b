"""The imp API refuses arguments of the wrong type or count at the call, with Squirrel's texts,
and no Python wording or traceback ever reaches a script or the user."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import squirrel
from impapi import Simulation
from impapi.api import AGENT, BOTH, Api, Blob, Callback, ImpError, Table, typemask
from impapi.natives import APIS
from impapi.natives.hardware import spiflash
from impapi.natives.imp import net

PYTHON_WORDING = re.compile(r"Traceback|Error:|object has no attribute|invalid literal|not callable|"
                            r"NoneType|<\w+(\.\w+)+ object at|argument must be|cannot be interpreted")


# --- the mechanism -------------------------------------------------------------------------------

def test_annotations_become_squirrel_typemasks():
    def f(host: Any, a: int, b: float, c: str | None, d: Callback, e: Table | Blob, g: bool | int = 0) -> None: ...
    assert typemask(f, "f") == (".ins|oct|xb|i", [(5, "table|blob")])

    def h(host: Any, x: Any, y: Any = None) -> None: ...
    assert typemask(h, "h") == ("", [])  # any type, any type: nothing to check

    def k(host: Any, data: str | Blob, more: Any, *rest: Any) -> None: ...
    assert typemask(k, "k") == (".s|x", [(1, "string|blob")])


@pytest.mark.parametrize("source, reason", [
    ("def f(host, a): ...", "annotate parameter 'a'"),
    ("def f(host, a: list): ...", "is not a Squirrel type"),
    ("def f(host, a: Callback = None): ...", "defaults to null, so its type must include None"),
    ("def f(host, a: Any | int): ...", "Any already includes every type"),
    ("def f(host, *, a: int): ...", "must be positional"),
])
def test_a_native_that_does_not_declare_its_types_fails_at_registration(source, reason):
    api = Api("t")
    namespace: dict = {"Any": Any, "Callback": Callback}
    exec(source, namespace)
    with pytest.raises(TypeError, match=re.escape(reason)):
        api.native(BOTH)(namespace["f"])


def _vm_with(api: Api) -> squirrel.VM:
    class Host:
        side = AGENT

    vm = squirrel.VM()
    vm.install(vm.root, squirrel.NativeSet({}, tables={api.table: squirrel.NativeSet(api.functions(Host()))}), Host())
    return vm


def _error(vm: squirrel.VM, code: str) -> str:
    with pytest.raises(squirrel.ScriptError) as e:
        vm.run(code)
    return e.value.message


def test_squirrel_checks_count_and_types_before_the_native_runs():
    api = Api("t")
    calls = []

    @api.native(BOTH)
    def on(host: Any, name: str, callback: Callback | None, timeout: float = 1.0) -> None:
        calls.append((name, callback, timeout))

    vm = _vm_with(api)
    assert _error(vm, 't.on(1, null)') == "parameter 1 has an invalid type 'integer' ; expected: 'string'"
    assert _error(vm, 't.on("x", 5)') == "parameter 2 has an invalid type 'integer' ; expected: 'null|function|function'"
    assert _error(vm, 't.on("x", null, "1")') == ("parameter 3 has an invalid type 'string' ; "
                                                 "expected: 'integer|float'")
    assert _error(vm, 't.on("x")') == "wrong number of parameters"
    assert _error(vm, 't.on("x", null, 1, 2)') == "wrong number of parameters"
    assert calls == []
    vm.run('t.on("x", function() {}); t.on("y", null, 2.5);')
    assert [(n, t) for n, _, t in calls] == [("x", 1.0), ("y", 2.5)]


def test_a_blob_parameter_refuses_other_instances_in_the_same_words():
    api = Api("t")
    got = []

    @api.native(BOTH)
    def write(host: Any, data: Blob | str) -> None:
        got.append(bytes(data) if isinstance(data, squirrel.Blob) else data)

    vm = _vm_with(api)
    assert _error(vm, "t.write(regexp(\"a\"))") == "parameter 1 has an invalid type 'instance' ; expected: 'blob|string'"
    assert _error(vm, "t.write([])") == "parameter 1 has an invalid type 'array' ; expected: 'string|instance'"
    vm.run('local b = blob(2); b.writen(0x4142, \'w\'); t.write(b); t.write("x");')
    assert got == [b"BA", "x"]


def test_python_functions_given_to_squirrel_are_checked_the_same_way():
    from impapi.api import function

    @function
    def send(status: int, body: Any = "") -> int:
        return status

    vm = squirrel.VM()
    vm.root["send"] = send
    assert vm.run("return send(200)") == 200
    assert _error(vm, "send([])") == "parameter 1 has an invalid type 'array' ; expected: 'integer'"


def test_imp_error_is_the_script_error_text():
    assert isinstance(ImpError("x"), squirrel.ScriptError)


# --- every native of the imp API -----------------------------------------------------------------

def _members(api: Api, side: str) -> list[str]:
    return sorted(name for name, n in api.natives.items() if side in n.sides)


ENDS_THE_RUN = {"restart", "reset", "deepsleepfor", "deepsleepuntil", "sleepfor", "sleepuntil", "sleep"}
BAD_VALUES = ['"s"', "-1", "1.5", "null", "true", "[]", "{}", "blob(1)", "function() {}", "regexp(\"a\")",
              "(class {})", "(1e38 * 10)", "(1e38 * 10 - 1e38 * 10)"]


def _calls(side: str) -> str:
    """Squirrel that calls every native of ``side`` with 0-3 arguments of every type, and logs
    what each call threw."""
    tables = [(api.table, api) for api in APIS] + [("imp.net", net)] + ([("hardware.spiflash", spiflash)]
                                                                        if side == "device" else [])
    targets = ", ".join(f'[{table}, "{table}", "{name}", {"true" if name in ENDS_THE_RUN else "false"}]'
                        for table, api in tables for name in _members(api, side))
    return textwrap.dedent(f"""
        local values = [{", ".join(BAD_VALUES)}];
        local safe = values.filter(@(i, v) typeof v != "integer" && typeof v != "float");
        local function try_(t, args) {{
            local call = [t[0]];
            call.extend(args);
            try {{ t[0][t[2]].acall(call); }} catch (e) {{ server.log(t[1] + "." + t[2] + ": " + e); }}
        }}
        foreach (t in [{targets}]) {{
            if (!(t[2] in t[0])) continue;  // not on this module
            local vs = t[3] ? safe : values;
            if (!t[3]) try_(t, []);
            foreach (a in vs) {{
                try_(t, [a]);
                try_(t, [a, a, a]);
                foreach (b in vs) try_(t, [a, b]);
            }}
        }}
    """)


@pytest.mark.parametrize("side", ["device", "agent"])
def test_every_native_answers_bad_arguments_in_squirrel_terms(side):
    code = _calls(side) + '\nserver.log("done");\n'
    sim = Simulation(device=code if side == "device" else "server.log(\"done\");\n",
                     agent=code if side == "agent" else None, imp="imp003", flash=None)
    sim.run("2m")  # connecting, flushing and disconnecting take some virtual time
    lines = [e.text for e in sim.log if e.source == side]
    assert "done" in lines
    leaks = [line for line in lines if PYTHON_WORDING.search(line)]
    assert leaks == []


HARDWARE_CALLS = """
local values = [VALUES];
local seen = {};
foreach (name, obj in hardware) {
    if (typeof obj != "instance" || name == "spiflash") continue;
    local cls = obj.getclass();
    if (cls in seen) continue;  // one object per kind: the same methods and natives
    seen[cls] <- true;
    foreach (method, f in cls) {
        if (typeof f != "function") continue;
        local try_ = function(args) {
            local call = [obj];
            call.extend(args);
            try { f.acall(call); } catch (e) { server.log(name + "." + method + ": " + e); }
        };
        try_([]);
        foreach (a in values) {
            try_([a]);
            try_([a, a, a]);
            foreach (b in values) try_([a, b]);
        }
    }
}
server.log("done");
"""


@pytest.mark.parametrize("imp", ["imp001", "imp003", "imp004m", "imp005", "imp006"])
def test_every_hardware_object_method_answers_bad_arguments_in_squirrel_terms(imp):
    code = HARDWARE_CALLS.replace("VALUES", ", ".join(BAD_VALUES))
    sim = Simulation(device=code, imp=imp, flash=None)
    sim.run("2m")
    lines = [e.text for e in sim.log if e.source == "device"]
    assert "done" in lines
    assert [line for line in lines if PYTHON_WORDING.search(line)] == []


def test_hardware_object_methods_number_arguments_as_the_script_does():
    code = textwrap.dedent("""
        foreach (f in [@() hardware.pin1.write("x"), @() hardware.i2c89.read(0x10, 5, 1),
                       @() hardware.spi189.chipselect(1, 2), @() hardware.uart57.readstring("x"),
                       @() hardware.pin1.configure("x"), @() hardware.uart57.setrxfifosize(1.5)]) {
            try { f(); server.log("no error"); } catch (e) { server.log(e); }
        }
    """)
    sim = Simulation(device=code, imp="imp001")
    sim.run("10s")
    assert [e.text for e in sim.log if e.source == "device"] == [
        "parameter 1 has an invalid type 'string' ; expected: 'integer|float|bool'",
        "parameter 2 has an invalid type 'integer' ; expected: 'string'",
        "wrong number of parameters",
        "parameter 1 has an invalid type 'string' ; expected: 'null|integer'",
        "parameter 1 has an invalid type 'string' ; expected: 'integer'",
        "parameter 1 has an invalid type 'float' ; expected: 'integer'",
    ]


# --- what a user sees ----------------------------------------------------------------------------

ISSUE_CASES = [
    ("agent", "http.request(1.5, 0);", "parameter 1 has an invalid type 'float' ; expected: 'string'"),
    ("agent", "imp.onidle(5);", "parameter 1 has an invalid type 'integer' ; expected: 'null|function|function'"),
    ("agent", "imp.onunhandledexception(1);", "parameter 1 has an invalid type 'integer'"),
    ("agent", 'device.on("x", 1);', "parameter 2 has an invalid type 'integer'"),
    ("agent", "device.onconnect(5);", "parameter 1 has an invalid type 'integer'"),
    ("agent", 'http.onrequest("x");', "parameter 1 has an invalid type 'string'"),
    ("device", "imp.onidle(5);", "parameter 1 has an invalid type 'integer'"),
    ("device", 'agent.on("x", "y");', "parameter 2 has an invalid type 'string'"),
    ("device", "imp.wakeup(1, 2);", "parameter 2 has an invalid type 'integer'"),
]


@pytest.mark.parametrize("side, code, message", ISSUE_CASES)
def test_impsim_run_reports_a_bad_api_argument_as_the_apps_error(tmp_path, side, code, message):
    device = tmp_path / "device.nut"
    agent = tmp_path / "agent.nut"
    device.write_text(code + "\n" if side == "device" else 'server.log("up");\n')
    agent.write_text(code + "\n" if side == "agent" else 'server.log("up");\n')
    proc = subprocess.run([sys.executable, "-m", "impapi.cli", "run", str(device), "--agent", str(agent),
                           "--for", "10s"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    label = "Device" if side == "device" else "Agent"
    assert f"[{label}] ERROR: {message}" in proc.stdout
    assert f"[{label}] ERROR:   in main {side}_code:1" in proc.stdout


def test_an_http_handler_given_the_wrong_values_gets_squirrel_errors():
    sim = Simulation(device=None, agent=textwrap.dedent("""
        http.onrequest(function(req, res) {
            try { res.send([].top, "x"); } catch (e) { server.log("send: " + e); }
            try { res.header({}, []); } catch (e) { server.log("header: " + e); }
            res.header("X-Count", 5);
            res.send(200, "ok");
        });
        http.get(http.agenturl() + "/a", {[1] = 2}).sendasync(function(r) { server.log("got " + r.statuscode); });
        try { http.get("x").sendasync(1); } catch (e) { server.log("sendasync: " + e); }
    """))
    sim.run("5s")
    lines = [e.text for e in sim.log if e.source == "agent"]
    assert lines == [
        "sendasync: parameter 1 has an invalid type 'integer' ; expected: 'function|function'",
        "send: parameter 1 has an invalid type 'function' ; expected: 'integer'",
        "header: parameter 1 has an invalid type 'table' ; expected: 'string'",
        "got 200",
    ]


def test_regexp2_takes_a_start_offset_as_stock_regexp_does():
    """Stock regexp.search(s, start) takes any number (typemask 'n', truncated); regexp2 the same,
    and the same words for anything else."""
    sim = Simulation(device=None, agent=textwrap.dedent('''
        local x = regexp2("a");
        foreach (start in [0, 1.9, null, "1"]) {
            try { local m = x.search("baaa", start); server.log(m.begin + " " + m.end); }
            catch (e) { server.log(e); }
        }
    '''))
    sim.run("1s")
    assert [e.text for e in sim.log if e.source == "agent"] == [
        "1 2", "1 2", "parameter 2 has an invalid type 'null' ; expected: 'integer|float'",
        "parameter 2 has an invalid type 'string' ; expected: 'integer|float'"]


def test_regexp2_is_re2_linear_time_and_without_backreferences():
    """The imp's regexp2 is Google's RE2: a pattern that backtracks exponentially elsewhere
    answers at once, and what RE2 lacks (backreferences) is an invalid expression."""
    sim = Simulation(device='server.log("up");\n', agent=textwrap.dedent("""
        server.log(regexp2("^(a+)+$").match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
        server.log(regexp2("^(a+)+$").match("aaaa"));
        try { regexp2("(a)\\\\1"); } catch (e) { server.log(e); }
        local c = regexp2("(é)(x)?").capture("aé");
        server.log(c[1].begin + " " + c[1].end + " " + c[2].begin);
    """))
    sim.run("5s")
    assert [e.text for e in sim.log if e.source == "agent"] == [
        "false", "true", "regexp2: invalid expression (invalid escape sequence: \\1)", "1 3 -1"]


def test_json_nested_too_deeply_is_a_squirrel_error_not_pythons():
    sim = Simulation(device=None, agent=textwrap.dedent('''
        local s = ""; for (local i = 0; i < 5000; i++) s += "["; for (local i = 0; i < 5000; i++) s += "]";
        try { http.jsondecode(s); } catch (e) { server.log(e); }
        local a = null; for (local i = 0; i < 5000; i++) a = [a];
        try { http.jsonencode(a); } catch (e) { server.log(e); }
        local b = null; for (local i = 0; i < 200; i++) b = [b];
        server.log(http.jsondecode(http.jsonencode(b)).len());
    '''))
    sim.run("1s")
    assert [e.text for e in sim.log if e.source == "agent"] == [
        "http.jsondecode: arrays or objects nested too deeply",
        "http.jsonencode: tables and arrays nested more than 256 deep", "1"]


def test_json_with_a_lone_surrogate_escape_decodes_to_its_bytes():
    """"\\ud800" names no character; a C decoder writes its 3-byte form, and so do we (the
    string then reaches Squirrel instead of a Python UnicodeEncodeError)."""
    sim = Simulation(device=None, agent=textwrap.dedent(r'''
        local v = http.jsondecode("[\"\\ud800\", \"\\ud83d\\ude00\"]");
        server.log(v[0].len() + " " + v[1].len());
    '''))
    sim.run("1s")
    assert [e.text for e in sim.log if e.source == "agent"] == ["3 4"]


def test_blob_tostring_on_something_else_is_refused_by_type_tag():
    sim = Simulation(device=textwrap.dedent('''
        foreach (x in [(class extends blob {}), {}, 1]) {
            try { blob.tostring.call(x); } catch (e) { server.log(e); }
        }
        server.log(blob(2).tostring().len());
    '''))
    sim.run("5s")
    assert [e.text for e in sim.log if e.source == "device"] == ["invalid type tag: a blob expected"] * 3 + ["2"]
