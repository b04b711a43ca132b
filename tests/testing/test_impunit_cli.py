"""The ``impsim test`` command (impapi.testing.cli_test): options, exit codes, files written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from impapi.testing.cli_test import add_test_parser, cmd_test

PASSING = "class P extends ImpTestCase { function testOk() { assertTrue(true); } }\n"
FAILING = "class F extends ImpTestCase { function testBad() { assertEqual(1, 2); } }\n"


@pytest.fixture(autouse=True)
def _no_library_environment(monkeypatch):
    """Libraries or checkouts named by the developer's environment must not change the results."""
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="impsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_test_parser(sub)
    return parser.parse_args(["test", *argv])


def home(tmp_path: Path, files: dict[str, str], config: dict | None = None) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if config is not None:
        (tmp_path / ".impt.test").write_text(json.dumps(config))
    return tmp_path


def test_passing_run_exits_0(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {"tests/p.test.nut": PASSING}, {}))
    assert cmd_test(parse()) == 0
    out = capsys.readouterr().out
    assert out.endswith("Testing succeeded\nIMPT COMMAND SUCCEEDS\n")
    assert "\x1b[" not in out  # no colours when not writing to a terminal


def test_failing_run_exits_1_and_writes_junit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {"tests/p.test.nut": PASSING, "tests/f.test.nut": FAILING}, {}))
    assert cmd_test(parse("--junit-xml", "report/junit.xml")) == 1
    assert (tmp_path / "report" / "junit.xml").read_text().count("<testcase") == 2
    assert capsys.readouterr().out.endswith("Testing failed\nIMPT COMMAND FAILS\n")


def test_tests_selector_and_config_option(tmp_path, capsys):
    h = home(tmp_path / "h", {"tests/p.test.nut": PASSING, "tests/f.test.nut": FAILING}, {})
    assert cmd_test(parse("--config", str(h), "--tests", "tests/p")) == 0
    out = capsys.readouterr().out
    assert "F::testBad()" not in out and "P::testOk()" in out


def test_overrides(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {
        "src/dev.nut": "function answer() { return 42; }\n",
        "checks/a.nut": "class A extends ImpTestCase { function testA() { assertEqual(42, answer()); } "
                        "function testB() { throw \"stop here\"; } function testC() { } }\n",
        "checks/b.nut": PASSING,
    }, {"timeout": 30}))
    args = parse("-x", "src/dev.nut", "-f", "checks/*.nut", "-t", "2.5", "-s")
    assert cmd_test(args) == 1
    out = capsys.readouterr().out
    assert "Using device source file: src/dev.nut" in out
    assert "Found 2 test file(s):\n\tchecks/a.nut\n\tchecks/b.nut" in out
    assert "A::testC()" not in out  # stopped on the failure
    assert 'Using device test file "checks/b.nut"' not in out


def test_defaults_without_a_configuration_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {"p.test.nut": PASSING}))
    assert cmd_test(parse()) == 0
    assert "No .impt.test (or .imptest)" in capsys.readouterr().out


def test_bad_configuration_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {"p.test.nut": PASSING}))
    (tmp_path / ".impt.test").write_text('{"timeout": "soon"}')
    assert cmd_test(parse()) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("Error: ") and '"timeout"' in out[-2]
    assert out[-1] == "IMPT COMMAND FAILS"


def test_allow_commands_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {
        "tests/c.test.nut": 'class C extends ImpTestCase { function testC() { this.runCommand("echo ran"); } }\n'}, {}))
    assert cmd_test(parse()) == 1
    assert cmd_test(parse("--allow-commands")) == 0
    assert "> ran" in capsys.readouterr().out


def test_debug_output_writes_preprocessed_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(home(tmp_path, {"tests/p.test.nut": PASSING}, {}))
    assert cmd_test(parse("--output", "debug")) == 0
    assert "class P extends ImpTestCase" in (tmp_path / ".build/tests/preprocessed.device.p.test.nut").read_text()
    assert (tmp_path / ".build/tests/preprocessed.agent.p.test.nut").exists()
    assert "debug] Log line received: status: Agent restarted: reload." in capsys.readouterr().out


def test_lib_dir_library_wins_over_the_builtin(tmp_path, monkeypatch, capsys):
    """#require is resolved from --lib-dir first, like impCloud's own library; the built-in
    Promise is only the fallback."""
    lib = tmp_path / "libs"
    lib.mkdir()
    builtin = (Path(__file__).resolve().parents[2] / "impapi/builder/libraries/Promise.nut").read_text()
    (lib / "Promise.lib.nut").write_text(builtin.replace('static VERSION = "4.0.0";', 'static VERSION = "from-lib";'))
    monkeypatch.chdir(home(tmp_path, {
        "tests/v.test.nut": "class V extends ImpTestCase { function testV() { return Promise.VERSION; } }\n"}, {}))
    assert cmd_test(parse("--lib-dir", str(lib))) == 0
    assert "Success: from-lib" in capsys.readouterr().out
    assert cmd_test(parse()) == 0
    assert "Success: 4.0.0" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["-t", "0"], ["-t", "x"], ["--imp", "imp999"]])
def test_bad_arguments(argv):
    with pytest.raises(SystemExit):
        parse(*argv)
