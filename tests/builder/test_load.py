"""One loader for every entry point: Builder directives, #require, errors at the original line.

The CLI tests run ``impsim`` as a user does: a subprocess, real files in a temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from impapi import Simulation
from impapi.builder import BuildError, LoadOptions, build_app, load_app
from impapi.scenario import ScenarioError

GREETER = 'class Greeter {\n    static VERSION = "1.0.0";\n    function hello(n) { return "hello " + n; }\n}\n'
HELPERS = "function helper() {\n    local x = null;\n    return x.boom;\n}\n"
APP = (
    '#require "Greeter.lib.nut:1.0.0"\n'
    '@include "src/helpers.nut";\n'
    "@if DEBUG == 1\n"
    'server.log("debug build");\n'
    "@endif\n"
    'server.log(Greeter().hello("imp"));\n'
    "imp.wakeup(1, helper);\n"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write(tmp_path, {"app.device.nut": APP, "src/helpers.nut": HELPERS, "libs/Greeter.lib.nut": GREETER})


def impsim(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("IMPSIM_LIB_PATH", "IMPSIM_GITHUB_DIR")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "impapi.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=environ, timeout=600)


def linemap(source: str, filename: str) -> list[tuple[str, int, str]]:
    """(file, line, text) of every line of compiled code, through its #line directives."""
    from squirrel.lines import LineMap

    lm = LineMap.scan(source, filename)
    return [(*(lm.map(n, filename) if lm else (filename, n)), text) for n, text in enumerate(source.split("\n"), 1)]


# --------------------------------------------------------------------------- the loader


def test_plain_file_loads_as_written(tmp_path):
    text = 'local s = @"a verbatim\n string @";\nserver.log(s + "x@y");  // @include "x"\n'
    (tmp_path / "plain.nut").write_text(text)
    code = load_app(tmp_path / "plain.nut", LoadOptions(env={}))
    assert (code.source, code.filename, code.files) == (text, str(tmp_path / "plain.nut"), (str(tmp_path / "plain.nut"),))


def test_built_code_maps_every_line_to_its_file(app, monkeypatch):
    monkeypatch.chdir(app)
    code = load_app("app.device.nut", LoadOptions(lib_dirs=[app / "libs"], variables={"DEBUG": 1}, home=app, env={}))
    assert code.filename == "app.device.nut"
    assert code.files == ("app.device.nut", "src/helpers.nut", "libs/Greeter.lib.nut")
    lines = {(f, n): text for f, n, text in linemap(code.source, "app.device.nut") if text}
    assert lines[("app.device.nut", 4)] == 'server.log("debug build");'
    assert lines[("src/helpers.nut", 3)] == "    return x.boom;"
    assert lines[("libs/Greeter.lib.nut", 3)].strip().startswith("function hello")
    assert lines[("app.device.nut", 7)] == "imp.wakeup(1, helper);"


def test_only_require_keeps_the_file_name_for_its_own_lines(tmp_path):
    write(tmp_path, {"libs/Greeter.lib.nut": GREETER})
    code = build_app('#require "Greeter.lib.nut:1.0.0"\nserver.log(1);\n', "a.nut",
                     LoadOptions(lib_dirs=[tmp_path / "libs"], home=tmp_path, env={}))
    assert ("a.nut", 2, "server.log(1);") in linemap(code.source, "a.nut")


def test_builtin_promise_serves_require(tmp_path):
    code = build_app('#require "Promise.lib.nut:4.0.0"\n', "a.nut", LoadOptions(home=tmp_path, env={}))
    assert "class Promise" in code.source



def test_a_text_built_under_a_name_of_its_own(tmp_path):
    # how impsim test builds a session's generated code: as a file in the test home, named apart
    write(tmp_path, {"libs/Greeter.lib.nut": GREETER, "part.nut": "server.log(2);\n"})
    text = '#require "Greeter.lib.nut:1.0.0"\n@include "part.nut"\nserver.log(3);\n'
    code = build_app(text, tmp_path / "__session__", LoadOptions(lib_dirs=[tmp_path / "libs"], home=tmp_path, env={}),
                     name="__session__")
    assert code.filename == "__session__"
    assert ("part.nut", 1, "server.log(2);") in linemap(code.source, "__session__")
    assert ("__session__", 3, "server.log(3);") in linemap(code.source, "__session__")
    # built: Builder's output, before #require (what impt checks before deploying)
    assert "class Greeter" in code.source and "class Greeter" not in code.built
    assert '#require "Greeter.lib.nut:1.0.0"' in code.built and "server.log(2);" in code.built

def test_lib_path_environment_variable(tmp_path):
    write(tmp_path, {"elsewhere/Greeter.lib.nut": GREETER})
    options = LoadOptions(home=tmp_path, env={"IMPSIM_LIB_PATH": str(tmp_path / "elsewhere")})
    assert "class Greeter" in build_app('#require "Greeter.lib.nut:1.0.0"\n', "a.nut", options).source


def test_build_errors_name_the_original_file_and_line(app, monkeypatch):
    monkeypatch.chdir(app)
    options = LoadOptions(home=app, env={})
    with pytest.raises(BuildError) as info:
        load_app("app.device.nut", options)
    assert (info.value.file, info.value.line) == ("app.device.nut", 1) and "Greeter.lib.nut" in info.value.message
    write(app, {"b.nut": "\n@include \"src/missing.nut\"\n"})
    with pytest.raises(BuildError) as info:
        load_app("b.nut", options)
    assert (info.value.file, info.value.line) == ("b.nut", 2)


@pytest.mark.parametrize("defines, message", [
    (["NAME"], "-D NAME=VALUE"),
    (["1X=2"], "-D NAME=VALUE"),
])
def test_bad_defines(defines, message):
    with pytest.raises(ValueError, match=message):
        LoadOptions.from_cli(defines=defines)


def test_builder_config_and_defines(tmp_path):
    (tmp_path / "vars.json").write_text('{"DEBUG": true, "LEVEL": 2}')
    options = LoadOptions.from_cli(builder_config=tmp_path / "vars.json", defines=["LEVEL=3", "TAG=a=b"])
    assert dict(options.variables) == {"DEBUG": True, "LEVEL": "3", "TAG": "a=b"}
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        LoadOptions.from_cli(builder_config=tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no such file"):
        LoadOptions.from_cli(builder_config=tmp_path / "none.json")


# --------------------------------------------------------------------------- Simulation and scenarios


def test_simulation_loads_with_options(app, monkeypatch):
    monkeypatch.chdir(app)
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    sim = Simulation(device="app.device.nut", load=LoadOptions(lib_dirs=["libs"], variables={"DEBUG": 1}))
    sim.run(for_="4s")  # the 1 s timer set as the code boots at 2 s fires a few µs after 3 s
    messages = [e.text for e in sim.log]
    assert "debug build" in messages and "hello imp" in messages
    assert "ERROR:   in helper src/helpers.nut:3" in messages
    with pytest.raises(BuildError, match="library not found"):
        Simulation(device="app.device.nut")


def test_plain_simulation_runs_the_file_as_written(tmp_path, monkeypatch):
    """A file without directives is compiled as its own text under the name it was given."""
    text = "server.log(imp.getmemoryfree());\nimp.wakeup(1, function() { local t = null; t.x; });"
    (tmp_path / "p.nut").write_text(text)
    monkeypatch.chdir(tmp_path)
    sim = Simulation(device="p.nut").run(for_="4s")  # the timer fires a few µs after 3 s
    assert sim.device.source == text and sim.device.filename == "p.nut"
    assert "ERROR:   in unknown device_code:2" in [e.text for e in sim.log]


def test_scenario_deployment_is_loaded_like_the_app(tmp_path, monkeypatch):
    from impapi.scenario import apply, parse_at

    write(tmp_path, {"v1.device.nut": 'server.log("v1");\n', "v2.device.nut": '@include "src/v2.nut"\n',
                     "src/v2.nut": 'server.log("v2 @{VERSION}");\n', "bad.device.nut": '\n@include "nope.nut"\n'})
    monkeypatch.chdir(tmp_path)
    sim = Simulation(device="v1.device.nut", load=LoadOptions(variables={"VERSION": "x"}, env={}), start=False)
    sim.start()
    apply(parse_at("1m:deploy=v2.device.nut"), sim)
    sim.run(for_="3m")
    messages = [e.text for e in sim.log]
    assert messages.index("v1") < messages.index("v2 x")
    with pytest.raises(ScenarioError, match='deploy=bad.device.nut: .*bad.device.nut:2: included file "nope.nut"'):
        apply(parse_at("4m:deploy=bad.device.nut"), sim)


# --------------------------------------------------------------------------- impsim run and fuzz


def test_run_loads_require_include_and_if(app):
    r = impsim(app, "run", "app.device.nut", "--lib-dir", "libs", "-D", "DEBUG=1", "--for", "4s")
    assert r.returncode == 0, r.stderr
    assert "[Device] debug build" in r.stdout and "[Device] hello imp" in r.stdout
    # A runtime error in an included file names that file and line.
    assert "[Device] ERROR:   in helper src/helpers.nut:3" in r.stdout
    r = impsim(app, "run", "app.device.nut", "--for", "3s", env={"IMPSIM_LIB_PATH": str(app / "libs")})
    assert r.returncode == 0 and "debug build" not in r.stdout and "hello imp" in r.stdout


def test_run_without_the_library_says_how_to_provide_it(app):
    r = impsim(app, "run", "app.device.nut", "--for", "3s")
    assert r.returncode == 2 and r.stdout == ""
    assert "app.device.nut:1: #require \"Greeter.lib.nut:1.0.0\": library not found" in r.stderr
    assert "--lib-dir DIR" in r.stderr and "IMPSIM_LIB_PATH" in r.stderr


def test_run_compile_error_in_an_included_file(tmp_path):
    write(tmp_path, {"main.nut": 'server.log("a");\n@include "src/broken.nut"\n',
                     "src/broken.nut": "function f() {\n  local a = ;\n}\n"})
    r = impsim(tmp_path, "run", "main.nut", "--for", "1s")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("impsim: src/broken.nut:2:") and "local a = ;" in r.stderr


def test_run_builder_config_github_include_and_warning(tmp_path):
    write(tmp_path, {
        "main.nut": '@include "github:someone/lib/src/lib.nut"\n@if LEVEL > 1\n@warning "level " + LEVEL\n'
                    "@endif\nserver.log(LIB + @{LEVEL});\n",
        "gh/someone/lib/src/lib.nut": 'const LIB = "lib ";\n',
        "vars.json": json.dumps({"LEVEL": 2}),
    })
    r = impsim(tmp_path, "run", "main.nut", "--github-dir", "gh", "--builder-config", "vars.json", "--for", "3s")
    assert r.returncode == 0, r.stderr
    assert "[Device] lib 2" in r.stdout
    assert "impsim: warning: " in r.stderr and "main.nut:3: level 2" in r.stderr


def test_run_scenario_deployment_of_built_code(app):
    write(app, {"v1.device.nut": '#require "Greeter.lib.nut:1.0.0"\nserver.log(Greeter().hello("v1"));\n',
                "v2.device.nut": '#require "Greeter.lib.nut:1.0.0"\nserver.log(Greeter().hello("v2"));\n'})
    r = impsim(app, "run", "v1.device.nut", "--lib-dir", "libs", "--at", "1m:deploy=v2.device.nut", "--for", "3m")
    assert r.returncode == 0, r.stderr
    assert r.stdout.index("hello v1") < r.stdout.index("hello v2")


@pytest.mark.parametrize("args, message", [
    (["-D", "DEBUG"], "-D NAME=VALUE"),
    (["--builder-config", "none.json"], "builder config none.json: no such file"),
])
def test_run_bad_load_options(app, args, message):
    r = impsim(app, "run", "app.device.nut", "--lib-dir", "libs", *args)
    assert r.returncode == 2 and message in r.stderr


FUZZ_APP = (
    '#require "Greeter.lib.nut:1.0.0"\n'
    '@include "src/shutdown.nut";\n'
    "@if defined(TAG)\n"
    'server.log("@{TAG}");\n'
    "@endif\n"
    'server.log(Greeter().hello("imp"));\n'
)


def test_fuzz_loads_like_run(app):
    write(app, {"fz.device.nut": FUZZ_APP,
                "src/shutdown.nut": "server.onshutdown(function(reason) { server.restart(); });\n"})
    args = ["fuzz", "fz.device.nut", "--examples", "3", "--jobs", "1", "--seed", "1", "--for", "1h"]
    r = impsim(app, *args, "--lib-dir", "libs", "-D", "TAG=x")
    assert r.returncode == 0, r.stdout + r.stderr
    # Coverage counts the app file's own lines, by their numbers in that file (4 and 6).
    assert "coverage: fz.device.nut 2/2 lines (100%)" in r.stdout
    r = impsim(app, *args)
    assert r.returncode == 2 and "fz.device.nut:1: #require \"Greeter.lib.nut:1.0.0\": library not found" in r.stderr
