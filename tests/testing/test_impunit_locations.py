"""Where failing assertions were called (TestOutcome.location / .stack, the summary's ``at`` line,
JUnit XML) and list_tests (the runner's order without running)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from impapi.testing import _stack
from impapi.testing.config import TestConfig
from impapi.testing.runner import run_tests
from impapi.testing.session import ListingError, SessionOptions, list_tests, run_session



@pytest.fixture(autouse=True)
def _no_library_environment(monkeypatch):
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)


def write(home: Path, files: dict[str, str], config: dict | None = None) -> TestConfig:
    for name, text in files.items():
        p = home / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text.lstrip("\n"), encoding="utf-8")
    (home / ".impt.test").write_text(json.dumps(config or {"timeout": 5}))
    return TestConfig.load(home)


def line_of(path: Path, needle: str) -> int:
    for number, text in enumerate(path.read_text().split("\n"), 1):
        if needle in text:
            return number
    raise AssertionError(needle)


def outcomes(home: Path, files: dict[str, str], **options) -> dict[str, object]:
    config = write(home, files)
    [test_file] = [f for f in config.discover()]
    result = run_session(test_file, config, SessionOptions(**options))
    return {o.name: o for o in result.outcomes}


HELPERS = """
class Checks extends ImpTestCase {
    function checkSmall(x) {
        assertLess(x, 10);
    }
}
"""

FOO = """
@include "tests/helpers.nut"

class Foo extends Checks {
    function testDirect() {
        local x = 1;
        assertEqual(2, x);
    }
    function testHelper() {
        checkSmall(50);
    }
    function testAsync() {
        return Promise(function(ok, bad) {
            imp.wakeup(1, function() {
                try { assertTrue(false, "late failure"); ok(); } catch (e) { bad(e); }
            }.bindenv(this));
        }.bindenv(this));
    }
    function testDeep() { assertDeepEqual({a = [1, 2]}, {a = [1, 3]}); }
    function testThrows() { assertThrowsError(function() { }, this, []); }
    function testCaughtThenThrown() {
        try { assertEqual(1, 2); } catch (e) { }
        throw "plain throw";
    }
    function testCaughtInside() { assertThrowsError(function() { assertTrue(false); }, this); }
    function testRejected() { return Promise(function(ok, bad) { imp.wakeup(0.1, @() bad("no")); }); }
    function testPasses() { assertTrue(true); }
}
"""


def test_outcomes_carry_the_location_of_the_assertion_call(tmp_path):
    got = outcomes(tmp_path, {"tests/helpers.nut": HELPERS, "tests/foo.test.nut": FOO})
    foo = tmp_path / "tests/foo.test.nut"

    def at(needle: str) -> str:
        return f"tests/foo.test.nut:{line_of(foo, needle)}"

    assert got["Foo::testDirect()"].location == at("assertEqual(2, x)")
    assert got["Foo::testDirect()"].stack == [("testDirect", "tests/foo.test.nut", line_of(foo, "assertEqual(2, x)"))]
    # through a helper in an included file: the line in the test file, the stack through both
    helper = got["Foo::testHelper()"]
    assert helper.location == at("checkSmall(50)")
    assert helper.stack == [("checkSmall", "tests/helpers.nut", line_of(tmp_path / "tests/helpers.nut", "assertLess")),
                            ("testHelper", "tests/foo.test.nut", line_of(foo, "checkSmall(50)"))]
    assert got["Foo::testAsync()"].location == at('"late failure"')
    assert got["Foo::testDeep()"].location == at("assertDeepEqual")
    assert got["Foo::testThrows()"].location == at("assertThrowsError(function() { }")
    # the assertion that failed first was caught: the location is the test's own throw
    caught = got["Foo::testCaughtThenThrown()"]
    assert caught.text == "plain throw" and caught.location == at('throw "plain throw"')
    assert got["Foo::testCaughtInside()"].passed and got["Foo::testCaughtInside()"].location is None
    assert got["Foo::testPasses()"].location is None


def test_agent_tests_have_locations_too(tmp_path):
    got = outcomes(tmp_path, {"tests/x.agent.test.nut": """
class A extends ImpTestCase {
    function testA() {
        assertEqual("a", "b");
    }
}
"""})
    assert got["A::testA()"].location == "tests/x.agent.test.nut:3"


def test_summary_and_junit_show_the_line(tmp_path):
    write(tmp_path, {"tests/helpers.nut": HELPERS, "tests/foo.test.nut": FOO})
    out = io.StringIO()
    result = run_tests(tmp_path, out=out, junit_xml=tmp_path / "junit.xml")
    text = out.getvalue()
    direct = line_of(tmp_path / "tests/foo.test.nut", "assertEqual(2, x)")
    assert f"at tests/foo.test.nut:{direct}\n" in text
    assert "Failure: Expected value: 2, got: 1\n" in text  # the failure line itself is impt's
    assert [f.location for f in result.failed if f.test == "Foo::testRejected()"] == [None]
    assert "] at tests/foo.test.nut\n" in text  # ... whose summary entry is impt's plain file
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    assert cases["testDirect"].get("file") == "tests/foo.test.nut"
    assert cases["testDirect"].get("line") == str(direct)
    failure = cases["testDirect"].find("failure")
    assert failure.get("message") == "Expected value: 2, got: 1"
    assert f"at tests/foo.test.nut:{direct}" in failure.text
    assert "Squirrel stack" in cases["testHelper"].find("failure").text
    assert cases["testRejected"].get("line") is None


def test_without_the_stack_there_is_no_location_and_nothing_else_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPSIM_NO_STACK", "1")
    assert not _stack.available() and "IMPSIM_NO_STACK" in _stack.why_unavailable()
    got = outcomes(tmp_path, {"tests/helpers.nut": HELPERS, "tests/foo.test.nut": FOO})
    assert all(o.location is None for o in got.values())
    assert got["Foo::testDirect()"].text == "Expected value: 2, got: 1"
    out = io.StringIO()
    run_tests(tmp_path, out=out)
    assert "] at tests/foo.test.nut\n" in out.getvalue()


def test_locations_can_be_switched_off(tmp_path):
    got = outcomes(tmp_path, {"tests/helpers.nut": HELPERS, "tests/foo.test.nut": FOO}, locations=False)
    assert all(o.location is None for o in got.values())


def test_the_native_is_not_a_root_table_slot(tmp_path):
    got = outcomes(tmp_path, {"tests/r.test.nut": """
class R extends ImpTestCase {
    function testRoot() { return ("__impsim_where" in getroottable()) + "," + ("__impsim_where" in imp); }
}
"""})
    assert got["R::testRoot()"].value == ("false," + ("true" if _stack.available() else "false"))


def test_log_indices_delimit_each_step(tmp_path):
    config = write(tmp_path, {"tests/l.test.nut": """
class L extends ImpTestCase {
    function testA() { server.log("a1"); server.log("a2"); }
    function testB() { server.log("b"); }
}
"""})
    result = run_session(config.discover()[0], config, SessionOptions())
    entries = list(result.log)
    for o in result.outcomes:
        inside = [e.text for e in entries[o.log_start + 1: o.log_end] if "__IMPUNIT__" not in e.text]
        assert inside == {"L::testA()": ["a1", "a2"], "L::testB()": ["b"]}[o.name]
        assert "TEST_START" in entries[o.log_start].text and "TEST_OK" in entries[o.log_end].text


# --- list_tests ------------------------------------------------------------------------------


def test_list_tests_gives_the_runner_order_without_running(tmp_path):
    config = write(tmp_path, {"tests/o.test.nut": """
class MyTestCase extends ImpTestCase {
    function testMe_1() { }
    function testMe() { server.log("RAN"); }
    function setUp() { }
}
class MyTestCase_1 extends ImpTestCase {
    function testZ() { }
    function testA() { }
    function tearDown() { }
}
"""})
    listing = list_tests(config.discover()[0], config)
    assert listing.problem is None
    assert [(c.name, c.methods, c.set_up, c.tear_down) for c in listing.cases] == [
        ("MyTestCase_1", ["testA", "testZ"], False, True),
        ("MyTestCase", ["testMe", "testMe_1"], True, False),
    ]
    assert '#line 1 "tests/o.test.nut"' in listing.test_built


def test_list_tests_errors(tmp_path):
    config = write(tmp_path, {"tests/b.test.nut": '@include "missing.nut"\n'})
    with pytest.raises(ListingError, match="missing.nut"):
        list_tests(config.discover()[0], config)
    config = write(tmp_path, {"tests/b.test.nut": "class X extends ImpTestCase { function testX( { } }\n"})
    with pytest.raises(ListingError, match="does not compile"):
        list_tests(config.discover()[0], config)
    config = write(tmp_path, {"src/d.nut": 'throw "at load";\n', "tests/b.test.nut": "class X extends ImpTestCase {}\n"},
                   {"deviceFile": "src/d.nut"})
    listing = list_tests(config.discover()[0], config)
    assert listing.cases is None and "at load" in listing.problem


# --- runtime errors in test methods ------------------------------------------------------------

ERRORS = """
@include "tests/helpers.nut"

class Errors extends Checks {
    function testNullIndex() {
        local reading = null;
        local x = reading.value;
    }
    function testNativeArgument() {
        local pin = hardware.pinA;
        pin.configure(12345);
    }
    function testInCodeUnderTest() {
        local scaled = scale(3);
        return scaled;
    }
    function testInHelper() {
        broken();
    }
    function testCaughtRuntimeErrorThenAssertion() {
        try { local t = {}; t.missing; } catch (e) { }
        assertEqual(1, 2);
    }
    function testThrownTable() {
        throw {code = 7};
    }
    function testAsyncRuntimeError() {
        return Promise(function(ok, bad) {
            local t = null;
            t.x;
        });
    }
    function testAsyncThen() {
        return Promise.resolve({}).then(function(v) {
            return v.missing;
        });
    }
    function testAsyncAssertionInThen() {
        return Promise.resolve(2).then(function(v) {
            assertEqual(1, v);
        }.bindenv(this));
    }
}
"""

HELPER_ERRORS = """
function broken() {
    return [1, 2][5];
}
"""

APP = """
function scale(x) {
    local factors = {a = 1};
    return x * factors.b;
}
"""


def test_a_runtime_error_is_located_at_the_statement_that_raised_it(tmp_path):
    files = {"tests/helpers.nut": HELPERS + HELPER_ERRORS, "tests/errors.test.nut": ERRORS, "app.device.nut": APP}
    config = write(tmp_path, files, {"timeout": 5, "deviceFile": "app.device.nut"})
    [test_file] = config.discover()
    got = {o.method: o for o in run_session(test_file, config, SessionOptions()).outcomes}
    test = tmp_path / "tests/errors.test.nut"

    def at(needle: str, name: str = "tests/errors.test.nut") -> str:
        return f"{name}:{line_of(tmp_path / name, needle)}"

    assert got["testNullIndex"].text == "the index 'value' does not exist"
    assert got["testNullIndex"].location == at("reading.value")
    assert got["testNativeArgument"].location == at('pin.configure(12345)')
    # in the code under test and in an included helper: that file's line, then the test's call
    under_test = got["testInCodeUnderTest"]
    assert under_test.text == "the index 'b' does not exist"
    assert under_test.location == at("factors.b", "app.device.nut")
    assert under_test.stack == [("scale", "app.device.nut", line_of(tmp_path / "app.device.nut", "factors.b")),
                                ("testInCodeUnderTest", "tests/errors.test.nut", line_of(test, "scale(3)"))]
    assert got["testInHelper"].location == at("[1, 2][5]", "tests/helpers.nut")
    assert [f[0] for f in got["testInHelper"].stack] == ["broken", "testInHelper"]
    # a runtime error the test caught does not take the place of the assertion that failed
    assert got["testCaughtRuntimeErrorThenAssertion"].location == at("assertEqual(1, 2)")
    assert got["testThrownTable"].location == at("throw {code = 7}")
    # an error impsim's Promise took reaches the runner later, as the rejection: its raise point
    assert got["testAsyncRuntimeError"].text == "the index 'x' does not exist"
    assert got["testAsyncRuntimeError"].location == at("t.x;")
    assert got["testAsyncThen"].location == at("return v.missing;")
    assert got["testAsyncAssertionInThen"].location == at("assertEqual(1, v)")


def test_agent_runtime_errors_are_located_too(tmp_path):
    got = outcomes(tmp_path, {"tests/x.agent.test.nut": """
class A extends ImpTestCase {
    function testA() {
        http.post(1, {}, "").sendasync();
    }
}
"""})
    assert got["A::testA()"].location == "tests/x.agent.test.nut:3"
