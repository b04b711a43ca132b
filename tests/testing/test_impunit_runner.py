"""Conformance of ImpUnitRunner and the impt-like runner (impunit.md §1.4-§1.7, §1.9-§1.11):
discovery and order, setUp/tearDown, async tests and timeouts in virtual time, stopOnFail,
selection, partner files, agent-only sessions, session errors and the output."""

from __future__ import annotations

import io
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from impapi.simulation import Config, Simulation
from impapi.testing.config import TestConfig, discover_test_files
from impapi.testing.runner import run_tests
from impapi.testing.session import (SessionOptions, build_session_code, framework_code, js_string,
                                    js_stringify, run_session)

LINE = re.compile(r"^\[(?:\+(\d+\.\d\d)/(\d+\.\d\d)s )?(info|test|warning|error)\] (.*)$", re.S)


@pytest.fixture(autouse=True)
def _no_library_environment(monkeypatch):
    """Libraries or checkouts named by the developer's environment must not change the results."""
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)


def write(home: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = home / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def run_home(home: Path, files: dict[str, str], config: dict | None = None, **kw):
    write(home, files)
    (home / ".impt.test").write_text(json.dumps({"timeout": 5} if config is None else config))
    out = io.StringIO()
    result = run_tests(home, out=out, **kw)
    return result, out.getvalue()


def lines(output: str, kinds=("test",)) -> list[str]:
    """Texts of the prefixed lines of the given kinds (a line continued with a tab-indented
    line, like the list of test files, is one text)."""
    joined: list[str] = []
    for line in output.split("\n"):
        if line.startswith("\t") and joined:
            joined[-1] += "\n" + line
        else:
            joined.append(line)
    result = []
    for line in joined:
        m = LINE.match(line)
        if m and m.group(3) in kinds:
            result.append(m.group(4))
    return result


def steps(output: str) -> list[str]:
    """[test] lines without the session start/end lines."""
    return [t for t in lines(output) if not t.startswith(("Starting test session", 'Session "'))]


# --- discovery and order (§1.4) -------------------------------------------------------------


def test_class_order_is_squirrel_table_order_and_methods_are_sorted(tmp_path):
    _, out = run_home(tmp_path, {"tests/order.test.nut": r'''
class MyTestCase extends ImpTestCase {
    function testMe_1() { }
    function testMe() { }
    function helperNotATest() { throw "never run"; }
    function tes() { throw "never run"; }
}
class MyTestCase_1 extends ImpTestCase {
    function testZ() { }
    function testA() { }
    function testa() { }
    function testB() { }
}
'''})
    assert steps(out) == [
        # the TestingGuide sample's class order (a table keyed by class name, Squirrel 3.1 hash)
        "MyTestCase_1::testA()", "Success",
        "MyTestCase_1::testB()", "Success",
        "MyTestCase_1::testZ()", "Success",
        "MyTestCase_1::testa()", "Success",  # byte-wise sort: upper case first
        "MyTestCase::testMe()", "Success",  # sorted: testMe before testMe_1
        "MyTestCase::testMe_1()", "Success",
        "Tests: 6, Assertions: 0, Failures: 0",
    ]


def test_setup_and_teardown_run_once_per_class_and_state_carries_over(tmp_path):
    _, out = run_home(tmp_path, {"tests/fixtures.test.nut": r'''
class Fixtures extends ImpTestCase {
    log = null;
    function setUp() { log = ["setUp"]; return "ready"; }
    function testA() { log.push("A"); return log.len(); }
    function testB() { log.push("B"); return log.len(); }
    function tearDown() { log.push("tearDown"); return log; }
}
'''})
    assert steps(out) == [
        "Fixtures::setUp()", "Success: ready",
        "Fixtures::testA()", "Success: 2",
        "Fixtures::testB()", "Success: 3",
        "Fixtures::tearDown()", 'Success: ["setUp","A","B","tearDown"]',
        "Tests: 2, Assertions: 0, Failures: 0",
    ]


def test_helper_base_classes_are_test_cases_and_members_are_inherited(tmp_path):
    _, out = run_home(tmp_path, {"tests/helpers.test.nut": r'''
class Core extends ImpTestCase {
    function setUp() { return "core setUp"; }
    function helper() { return 41; }
}
class Real extends Core {
    function testUsesHelper() { assertEqual(41, helper()); }
}
class Deeper extends Real {
    function testOwn() { }
}
class NotATestCase {
    function testNever() { throw "never run"; }
}
'''})
    got = steps(out)
    # every class in the chain is a test case: Core has no tests but its setUp runs
    blocks: dict[str, list[str]] = {}
    for i, t in enumerate(got):
        m = re.fullmatch(r"(\w+)::(\w+)\(\)", t)
        if m:
            blocks.setdefault(m.group(1), []).append(f"{m.group(2)} {got[i + 1]}")
    assert blocks == {
        "Core": ["setUp Success: core setUp"],
        "Real": ["setUp Success: core setUp", "testUsesHelper Success"],
        "Deeper": ["setUp Success: core setUp", "testOwn Success", "testUsesHelper Success"],
    }
    assert got[-1] == "Tests: 3, Assertions: 2, Failures: 0"


def test_failing_setup_counts_as_a_failure_but_not_as_a_test(tmp_path):
    _, out = run_home(tmp_path, {"tests/setup.test.nut": r'''
class S extends ImpTestCase {
    function setUp() { throw "setUp broke"; }
    function testStillRuns() { }
    function tearDown() { throw "tearDown broke"; }
}
'''})
    assert steps(out) == [
        "S::setUp()", "Failure: setUp broke",
        "S::testStillRuns()", "Success",
        "S::tearDown()", "Failure: tearDown broke",
        "Tests: 1, Assertions: 0, Failures: 2",
    ]


def test_test_classes_must_be_root_table_slots(tmp_path):
    """A class in a local variable is not found; a class statement in the wrapping function is."""
    _, out = run_home(tmp_path, {"tests/slots.test.nut": r'''
local Hidden = class extends ImpTestCase { function testHidden() { } };
class Visible extends ImpTestCase { function testVisible() { return typeof getroottable().Visible; } }
'''})
    assert steps(out) == ["Visible::testVisible()", "Success: class", "Tests: 1, Assertions: 0, Failures: 0"]


# --- async tests and timeouts (§1.4), in virtual time ----------------------------------------


ASYNC = r'''
class Async extends ImpTestCase {
    function test1_resolves() {
        return Promise(function(resolve, reject) { imp.wakeup(1, function() { resolve("later"); }); });
    }
    function test2_rejects() {
        return Promise(function(resolve, reject) { imp.wakeup(0.5, function() { reject("no luck"); }); });
    }
    function test3_rejects_null() {
        return Promise.reject(null);
    }
    function test4_resolves_null() {
        return Promise.resolve(null);
    }
    function test5_assertion_in_callback() {
        return Promise(function(resolve, reject) {
            imp.wakeup(0.1, function() {
                try { assertEqual(1, 2); resolve(); } catch (e) { reject(e); }
            }.bindenv(this));
        }.bindenv(this));
    }
    function test6_times_out() {
        return Promise(function(resolve, reject) { imp.wakeup(20, function() { resolve("too late"); }); });
    }
    function test7_after_timeout() { return "next"; }
    function test8_not_resolved_yet() {
        local p = Promise.resolve(5), seen = null;
        p.then(function(v) { seen = v; });
        assertEqual(null, seen);  // resolution is deferred with imp.wakeup(0, ...)
        return p;
    }
}
'''


def test_async_tests(tmp_path):
    _, out = run_home(tmp_path, {"tests/async.test.nut": ASYNC}, {"timeout": 3})
    assert steps(out) == [
        "Async::test1_resolves()", "Success: later",
        "Async::test2_rejects()", "Failure: no luck",
        "Async::test3_rejects_null()", "Failure: null",
        "Async::test4_resolves_null()", "Success",
        "Async::test5_assertion_in_callback()", "Failure: Expected value: 1, got: 2",
        "Async::test6_times_out()", "Failure: Test timed out after 3s",
        "Async::test7_after_timeout()", "Success: next",
        "Async::test8_not_resolved_yet()", "Success: 5",
        "Tests: 8, Assertions: 2, Failures: 4",
    ]
    # virtual times: test1 takes 1 s, test2 0.5 s, the timeout 3 s
    times = {}
    for line in out.split("\n"):
        m = LINE.match(line)
        if m and m.group(1):
            times.setdefault(m.group(4), float(m.group(1)))
    assert times["Success: later"] - times["Async::test1_resolves()"] == pytest.approx(1.0)
    assert times["Failure: Test timed out after 3s"] - times["Async::test6_times_out()"] == pytest.approx(3.0)


TIMEOUTS = r'''
function delay(sec) {
    return Promise(function (resolve, reject) {
        imp.wakeup(sec, function () { resolve(); });
    });
}
class TestCaseTimeouts extends ImpTestCase {
    function test01() { return delay(5.0); }
    function test02() { return delay(5.0); }
    function test03() { return delay(5.0); }
}
'''


def test_three_5s_async_tests_fail_with_timeout_3(tmp_path):
    started = time.perf_counter()
    result, out = run_home(tmp_path, {"tests/agent.test.nut": TIMEOUTS}, {"timeout": 3})
    assert time.perf_counter() - started < 2.0  # 9+ s of virtual time, no waiting
    assert steps(out) == [
        "TestCaseTimeouts::test01()", "Failure: Test timed out after 3s",
        "TestCaseTimeouts::test02()", "Failure: Test timed out after 3s",
        "TestCaseTimeouts::test03()", "Failure: Test timed out after 3s",
        "Tests: 3, Assertions: 0, Failures: 3",
    ]
    assert "Testing failed" in lines(out, ("info",))
    assert out.rstrip().endswith("IMPT COMMAND FAILS")
    assert result.exit_code == 1


def test_three_5s_async_tests_pass_with_timeout_10(tmp_path):
    """The timeout applies to each test method, not to the whole session (15 s > 10 s)."""
    started = time.perf_counter()
    result, out = run_home(tmp_path, {"tests/agent.test.nut": TIMEOUTS}, {"timeout": 10})
    assert time.perf_counter() - started < 2.0
    assert steps(out) == [
        "TestCaseTimeouts::test01()", "Success",
        "TestCaseTimeouts::test02()", "Success",
        "TestCaseTimeouts::test03()", "Success",
        "Tests: 3, Assertions: 0, Failures: 0",
    ]
    assert result.exit_code == 0
    assert out.rstrip().endswith("Testing succeeded\nIMPT COMMAND SUCCEEDS")


def test_sync_test_longer_than_the_timeout_fails(tmp_path):
    _, out = run_home(tmp_path, {"tests/slow.test.nut": r'''
class Slow extends ImpTestCase {
    function testSlow() { imp.sleep(3); return "done"; }
    function testQuick() { imp.sleep(1); return "done"; }
}
'''}, {"timeout": 2})
    assert steps(out) == [
        "Slow::testQuick()", "Success: done",
        "Slow::testSlow()", "Failure: Test took 3s, longer than timeout of 2s",
        "Tests: 2, Assertions: 0, Failures: 1",
    ]


def test_agent_sync_duration_uses_time(tmp_path):
    """On the agent the runner times tests with time(): whole seconds."""
    _, out = run_home(tmp_path, {"tests/slow.agent.test.nut": r'''
class Slow extends ImpTestCase {
    function testSlow() { imp.sleep(3.5); }
}
'''}, {"timeout": 2})
    assert re.fullmatch(r"Failure: Test took [34]s, longer than timeout of 2s", steps(out)[1])


# --- stopOnFail --------------------------------------------------------------------------------


STOP_FILES = {
    "tests/1.test.nut": r'''
class First extends ImpTestCase {
    function test1() { assertTrue(false); }
    function test2() { }
}
''',
    "tests/2.device.test.nut": r'''
class Second extends ImpTestCase { function testX() { } }
''',
}


def test_stop_on_fail_stops_the_session_and_the_command(tmp_path):
    result, out = run_home(tmp_path, STOP_FILES, {"timeout": 5, "stopOnFail": True})
    assert steps(out) == ["First::test1()", "Failure: Failed to assert that condition is true"]
    assert 'Using device test file "tests/2.device.test.nut"' not in out
    info = lines(out, ("info",))
    # impt stops reading the session at the failure: its SESSION_RESULT is never counted
    assert "1) First::test1()" in info
    assert "Tests: 0, Assertions: 0, Failures: 0" in info
    assert result.exit_code == 1
    assert result.sessions[0].stopped_on_failure


def test_without_stop_on_fail_everything_runs(tmp_path):
    result, out = run_home(tmp_path, STOP_FILES, {"timeout": 5, "stopOnFail": False})
    assert 'Using device test file "tests/2.device.test.nut"' in out
    assert steps(out) == [
        "First::test1()", "Failure: Failed to assert that condition is true",
        "First::test2()", "Success",
        "Tests: 2, Assertions: 1, Failures: 1",
        "Second::testX()", "Success",
        "Tests: 1, Assertions: 0, Failures: 0",
    ]
    assert "Tests: 3, Assertions: 1, Failures: 1" in lines(out, ("info",))
    assert result.exit_code == 1


def test_runner_stop_on_failure_inside_impunit(tmp_path):
    """ImpUnitRunner.stopOnFailure by itself: SESSION_RESULT right after the first failure."""
    code = framework_code() + r'''
class A extends ImpTestCase {
    function test1() { throw "first"; }
    function test2() { }
}
local r = ImpUnitRunner();
r.stopOnFailure = true;
r.run();
'''
    sim = Simulation(device=code)
    sim.run(for_="5s")
    assert [e.text for e in sim.log if e.type == "server.log"] == [
        "[impUnit:SESSION_START] ",
        "[impUnit:TEST_START] A::test1()",
        "[impUnit:TEST_FAIL] first",
        '[impUnit:SESSION_RESULT] {"assertions":0,"failures":1,"tests":1}',
    ]


# --- selection with --tests (§1.5) -------------------------------------------------------------


SELECT_FILES = {
    "tests/alpha.test.nut": r'''
class Alpha extends ImpTestCase {
    function testOne() { }
    function testTwo() { }
}
class Beta extends ImpTestCase {
    function testOne() { }
}
''',
    "tests/gamma.test.nut": r'''
class Gamma extends ImpTestCase { function testOne() { } }
''',
}


def test_select_by_file(tmp_path):
    _, out = run_home(tmp_path, SELECT_FILES, tests="gam")
    assert "Found 1 test file(s):\n\ttests/gamma.test.nut" in lines(out, ("info",))
    assert steps(out) == ["Gamma::testOne()", "Success", "Tests: 1, Assertions: 0, Failures: 0"]


def test_select_by_class(tmp_path):
    _, out = run_home(tmp_path, SELECT_FILES, tests=":Beta")
    assert 'Skip "tests/gamma.test.nut" testing' in lines(out, ("info",))
    assert steps(out) == ["Beta::testOne()", "Success", "Tests: 1, Assertions: 0, Failures: 0"]


def test_select_by_class_and_method(tmp_path):
    result, out = run_home(tmp_path, SELECT_FILES, tests="alpha:Alpha::testTwo")
    assert steps(out) == ["Alpha::testTwo()", "Success", "Tests: 1, Assertions: 0, Failures: 0"]
    assert result.exit_code == 0


def test_select_by_method_only(tmp_path):
    _, out = run_home(tmp_path, SELECT_FILES, tests="::testOne")
    assert [t for t in steps(out) if t.endswith("()")] == [
        "Beta::testOne()", "Alpha::testOne()", "Gamma::testOne()"]  # table order, then file order


def test_selecting_a_missing_class_skips_every_file_and_fails(tmp_path):
    result, out = run_home(tmp_path, SELECT_FILES, tests=":Nope")
    assert lines(out, ("info",)).count('Skip "tests/alpha.test.nut" testing') == 1
    assert "Starting test session" not in out
    assert all(s.skipped for s in result.sessions)
    # impt would succeed; a selection that runs no test is no pass here.
    assert lines(out, ("error",))[0].startswith("--tests :Nope selected no test: no class Nope in tests/")
    assert result.exit_code == 1


def test_selecting_a_missing_method_of_a_class_skips_the_file_and_fails(tmp_path):
    """impt's spec (test run not exist test method): ``file:Class::notExistingMethod`` runs nothing
    in that file, and impt succeeds; impsim skips the file too, then fails the command saying
    what matched nothing."""
    result, out = run_home(tmp_path, SELECT_FILES, tests="alpha:Alpha::notExistingMethod")
    assert lines(out, ("info",)).count('Skip "tests/alpha.test.nut" testing') == 1
    assert "Starting test session" not in out
    assert "selected no test: no class Alpha method notExistingMethod" in out
    assert "IMPT COMMAND FAILS" in out and result.exit_code == 1


@pytest.mark.parametrize("selection", ["alpha:Alpha::not-exist-method", "alpha:Not.A.Class",
                                       'alpha:Alpha::say"hi\\'])
def test_a_name_that_is_not_an_identifier_is_not_a_configuration_error(tmp_path, selection):
    """impt does not check the names: a method or class name that is no Squirrel identifier just
    selects nothing (the file is skipped); the run then fails as any selection of no test does."""
    result, out = run_home(tmp_path, SELECT_FILES, tests=selection)
    assert "Error:" not in out  # not a configuration error
    assert 'Skip "tests/alpha.test.nut" testing' in lines(out, ("info",))
    assert "selected no test" in out and result.exit_code == 1


def test_a_pattern_name_found_in_the_code_runs_no_test(tmp_path):
    """The pre-deploy check searches the name as a regular expression (impt's), so ``test.*`` is
    found; the runner then compares names exactly, so no method runs: the session passes, the
    command fails because no test ran."""
    result, out = run_home(tmp_path, SELECT_FILES, tests="alpha:Alpha::test.*")
    assert "Tests: 0, Assertions: 0, Failures: 0" in lines(out)
    assert result.sessions[0].passed
    assert "selected no test" in out and result.exit_code == 1


# --- device/agent pairing (§1.6) and agent-only sessions ---------------------------------------


def test_agent_test_with_device_partner(tmp_path):
    result, out = run_home(tmp_path, {
        "tests/echo.agent.test.nut": r'''
class Echo extends ImpTestCase {
    function testRoundTrip() {
        return Promise(function(resolve, reject) {
            device.on("pong", function(data) { resolve(data); });
            device.send("ping", 20);
        });
    }
}
''',
        "tests/echo.device.nut": r'''
agent.on("ping", function(n) { agent.send("pong", n + 1); });
''',
    })
    info = lines(out, ("info",))
    assert "Found 1 test file(s):\n\ttests/echo.agent.test.nut (tests/echo.device.nut)" in info
    assert "Test session is agent-only" in info  # impt: no device *source file*
    assert steps(out) == ["Echo::testRoundTrip()", "Success: 21", "Tests: 1, Assertions: 0, Failures: 0"]
    assert result.exit_code == 0


def test_device_test_with_agent_partner_and_source_files(tmp_path):
    result, out = run_home(tmp_path, {
        "src/device.nut": "function twice(x) { return 2 * x; }\n",
        "src/agent.nut": "function agentTwice(x) { return 2 * x; }\n",
        "tests/calc.device.test.nut": r'''
class Calc extends ImpTestCase {
    function testSource() { assertEqual(8, twice(4)); }
    function testAgent() {
        return Promise(function(resolve, reject) {
            agent.on("result", resolve);
            agent.send("compute", 5);
        });
    }
}
''',
        "tests/calc.agent.nut": r'''
device.on("compute", function(n) { device.send("result", agentTwice(n)); });
''',
    }, {"timeout": 5, "deviceFile": "src/device.nut", "agentFile": "src/agent.nut"})
    info = lines(out, ("info",))
    assert "Using agent source file: src/agent.nut" in info
    assert "Using device source file: src/device.nut" in info
    assert "Test session is agent-only" not in info
    assert steps(out) == ["Calc::testAgent()", "Success: 10", "Calc::testSource()", "Success",
                          "Tests: 2, Assertions: 1, Failures: 0"]
    assert result.exit_code == 0


# The device's side of a deployment: it runs the new code only after downloading it
# (Config.device_start_delay_us, 1 s by default), after the agent restarted.
HANDSHAKE_FILES = {
    # Like a connection manager: the device says hello 1.5 s after its code starts.
    "tests/hello.device.nut": r'''
imp.wakeup(1.5, function() { agent.send("hello", hardware.millis()); });
''',
    "tests/hello.agent.test.nut": r'''
class Handshake extends ImpTestCase {
    function testHello() {
        return Promise(function(resolve, reject) {
            device.on("hello", function(ms) { resolve("hello after " + ms + " ms of device time"); });
        });
    }
}
''',
}


def test_the_device_starts_after_the_agent_restarted(tmp_path):
    """The agent's runner starts 2 s after the agent restarted; the device runs its code 1 s
    after that restart, so its hello (1.5 s into its run) reaches the agent's test at 2.5 s."""
    result, out = run_home(tmp_path, HANDSHAKE_FILES)
    assert steps(out) == ["Handshake::testHello()", "Success: hello after 1500 ms of device time",
                          "Tests: 1, Assertions: 0, Failures: 0"]
    boots = [e for e in result.sessions[0].log if e.type == "status" and e.text.startswith("Device Booting")]
    assert [e.time_us for e in boots] == [1_000_000]
    assert result.exit_code == 0


def test_the_device_start_delay_is_configurable(tmp_path):
    """With no download time, the device's hello leaves at 1.5 s and reaches the agent before its
    runner starts (2 s): no handler yet, the message is lost and the test times out."""
    from impapi.simulation import Config

    result, out = run_home(tmp_path, HANDSHAKE_FILES, sim_config=Config(device_start_delay_us=0))
    assert 'Agent Runtime Error: ERROR: no handler for agent.send(): "hello"' in lines(out, ("warning",))
    assert steps(out)[1] == "Failure: Test timed out after 5s"


def test_a_device_test_starts_two_seconds_after_the_device(tmp_path):
    _, out = run_home(tmp_path, {"tests/t.device.test.nut": "class T extends ImpTestCase { function testA() {} }\n"})
    timed = [line for line in out.splitlines() if "Device code space usage" in line or "T::testA()" in line]
    assert timed[0].startswith("[+1.00/1.00s info] Device code space usage")
    assert timed[1].startswith("[+3.00/2.00s test] T::testA()")


def test_code_that_sleeps_while_it_loads(tmp_path):
    """Both sides start as events of the deployment, so top-level code may block in imp.sleep."""
    result, out = run_home(tmp_path, {
        "tests/nap.agent.nut": 'imp.sleep(0.5);\ndevice.on("ping", function(d) { device.send("pong", d); });\n',
        "tests/nap.device.test.nut": r'''
imp.sleep(0.25);
class Nap extends ImpTestCase {
    function testPing() {
        return Promise(function(resolve, reject) { agent.on("pong", resolve); agent.send("ping", 7); });
    }
}
'''})
    assert steps(out) == ["Nap::testPing()", "Success: 7", "Tests: 1, Assertions: 0, Failures: 0"]
    assert result.exit_code == 0


def test_cli_device_start_delay(tmp_path, capsys):
    from impapi.cli import main

    write(tmp_path, HANDSHAKE_FILES)
    (tmp_path / ".impt.test").write_text(json.dumps({"timeout": 5}))
    assert main(["test", "-c", str(tmp_path), "--device-start-delay", "0", "--color", "never"]) == 1
    assert "Test timed out after 5s" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["test", "-c", str(tmp_path), "--device-start-delay", "-1"])
    assert "the delay must be between 0 and 86400 seconds" in capsys.readouterr().err


def test_cli_instruction_time_lets_a_test_busy_wait_on_micros(tmp_path, capsys):
    from impapi.cli import main

    write(tmp_path, {"tests/busy.device.test.nut": r'''
class Busy extends ImpTestCase {
    function testWaitAMillisecond() {
        local start = hardware.micros();
        while (hardware.micros() - start < 1000) {}
        assertTrue(hardware.micros() - start >= 1000);
    }
}
'''})
    assert main(["test", "-c", str(tmp_path), "--instruction-ns", "500", "--color", "never"]) == 0
    assert "Tests: 1, Assertions: 1, Failures: 0" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["test", "-c", str(tmp_path), "--instruction-ns", "-1"])
    assert "must be a number of nanoseconds >= 0, got -1" in capsys.readouterr().err


def test_agent_only_session_reads_agent_log(tmp_path):
    result, out = run_home(tmp_path, {"tests/only.agent.test.nut": r'''
class OnlyAgent extends ImpTestCase {
    function testWhere() {
        assertTrue(!("hardware" in getroottable()));
        return http.agenturl().len() > 0;
    }
}
'''})
    info = lines(out, ("info",))
    assert "Test session is agent-only" in info
    assert not any(t.startswith("Device code space usage") for t in info)
    assert steps(out) == ["OnlyAgent::testWhere()", "Success: true", "Tests: 1, Assertions: 1, Failures: 0"]
    session = result.sessions[0]
    assert session.code.device is None
    assert any("__IMPUNIT__" in e.text for e in session.log if e.type == "agent.log")
    assert not any("__IMPUNIT__" in e.text for e in session.log if e.type == "server.log")


def test_partner_must_not_be_picked_as_a_test_and_side_detection(tmp_path):
    write(tmp_path, {
        "tests/x.agent.test.nut": "",
        "tests/x.device.nut": "",
        "tests/agent/inner.test.nut": "",
        "tests/my_agent.test.nut": "",
    })
    files = {f.name: f.side for f in discover_test_files(tmp_path)}
    assert files == {"tests/agent/inner.test.nut": "agent", "tests/my_agent.test.nut": "device",
                     "tests/x.agent.test.nut": "agent"}


# --- session code layout (§1.5) ----------------------------------------------------------------


def test_session_code_layout(tmp_path):
    write(tmp_path, {"tests/t.test.nut": "class T extends ImpTestCase { function testA() {} }\n",
                     "src/a.nut": "// agent source\n"})
    (tmp_path / ".impt.test").write_text(json.dumps({"timeout": 7.5, "stopOnFail": True, "agentFile": "src/a.nut"}))
    config = TestConfig.load(tmp_path)
    [test_file] = config.discover()
    from impapi.testing.config import parse_selector

    code, device_built, agent_built = build_session_code(
        test_file, config, session_id="word-word", selector=parse_selector(":T::testA"), trigger="X" * 32)
    device = code.device
    assert "function __module_tests(ImpTestCase) {" in device
    assert "class T extends ImpTestCase" in device
    assert '#line 1 "__tests_bootstrap__"' in device
    assert "imp.wakeup(2, function() {" in device
    assert "t.readableOutput = false;" in device
    assert 't.session = "word-word";' in device
    assert "t.timeout = 7.5;" in device
    assert "t.stopOnFailure = true;" in device
    assert 't.testClass = "T";' in device and 't.testCase = "testA";' in device
    assert "__module_tests(__module_impUnit_exports.ImpTestCase);" in device
    assert device.rstrip().endswith('"' + "X" * 32 + '"')
    assert "class ImpUnitRunner" in device and "class Promise" in device and "class JSONEncoder" in device
    assert not re.search(r"^\s*#require", device, re.M)  # resolved like impCloud does
    assert "// agent source" in code.agent and "ImpUnitRunner" not in code.agent
    assert '#line 1 "tests/t.test.nut"' in device


def test_timeout_is_written_as_a_float(tmp_path):
    write(tmp_path, {"tests/t.test.nut": "class T extends ImpTestCase { function testA() {} }\n"})
    (tmp_path / ".impt.test").write_text(json.dumps({"timeout": 3}))
    config = TestConfig.load(tmp_path)
    code, _, _ = build_session_code(config.discover()[0], config, session_id="a-b")
    assert "t.timeout = 3.0;" in code.device


# --- session errors and runtime errors (§1.7) ----------------------------------------------------


def test_runtime_errors_and_server_error_do_not_fail(tmp_path):
    result, out = run_home(tmp_path, {"tests/errors.agent.test.nut": r'''
class Errors extends ImpTestCase {
    function test1_ServerError() {
        server.error("reported, not fatal");
        imp.wakeup(0.5, function() { local t = {}; t.missing <- t.nothing; });
        assertTrue(true, "Should still get the line executed");
    }
    function test2_Later() {
        return Promise(function(resolve, reject) { imp.wakeup(1, resolve); });
    }
}
'''})
    got = steps(out)
    assert got[:2] == ["Errors::test1_ServerError()", "Agent Runtime Error: reported, not fatal"]
    assert "Agent Runtime Error: reported, not fatal" in got
    assert "Agent Runtime Error: ERROR: the index 'nothing' does not exist" in got
    assert got[-1] == "Tests: 2, Assertions: 1, Failures: 0"
    assert result.exit_code == 0
    assert result.sessions[0].passed
    assert any(w.kind == "agent-runtime-error" for w in result.sessions[0].warnings)


def test_device_runtime_error_location_maps_to_the_test_file(tmp_path):
    _, out = run_home(tmp_path, {"tests/loc.test.nut": r'''
class Loc extends ImpTestCase {
    function testLater() {
        imp.wakeup(0.5, function() {
            local x = null;
            x.crash();
        });
        return Promise(function(resolve, reject) { imp.wakeup(1, resolve); });
    }
}
'''})
    assert "Device Runtime Error: ERROR:   in unknown tests/loc.test.nut:6" in steps(out)


def test_device_restart_during_the_session_is_an_invalid_state(tmp_path):
    """An uncaught device error restarts Squirrel; the session starts again and impt rejects it."""
    result, out = run_home(tmp_path, {"tests/restart.test.nut": r'''
class Restart extends ImpTestCase {
    function testCrashLater() {
        imp.wakeup(0.1, function() { throw "crash"; });
        return Promise(function(resolve, reject) { imp.wakeup(3, resolve); });
    }
}
'''}, {"timeout": 10})
    assert "Device Runtime Error: ERROR: crash" in steps(out)
    assert "Invalid test session state" in lines(out, ("error",))
    assert result.exit_code == 1


def test_error_before_start_is_a_startup_timeout(tmp_path):
    result, out = run_home(tmp_path, {
        "device.nut": "function error() { local s = 1 / 0; }\nerror();\n",
        "tests/device.test.nut": "class T extends ImpTestCase { function testA() { } }\n",
    }, {"timeout": 5, "deviceFile": "device.nut"})
    assert "Device Runtime Error: ERROR: division by zero" in lines(out, ("warning",))
    errors = [m for m in out.split("\n") if "error]" in m]
    assert len(errors) == 1 and re.match(r"\[\+\d+\.\d\d/\d+\.\d\ds error\] Session startup timeout$", errors[0])
    assert result.exit_code == 1
    # 60 virtual seconds from deployment
    assert result.sessions[0].errors[0].time_us == 60_000_000


def test_testing_timeout_between_messages(tmp_path):
    """imp.sleep blocks the runner past timeout + 5 s: impt's message watchdog fires."""
    result, out = run_home(tmp_path, {"tests/stuck.test.nut": r'''
class Stuck extends ImpTestCase {
    function testStuck() { imp.sleep(30); }
}
'''}, {"timeout": 2})
    assert "Testing timeout" in lines(out, ("error",))
    assert result.sessions[0].errors[0].kind == "testing-timeout"
    assert result.exit_code == 1


def test_disconnect_fails_unless_allowed(tmp_path):
    files = {"tests/net.test.nut": r'''
class Net extends ImpTestCase {
    function testDisconnect() { server.disconnect(); imp.sleep(1); server.connect(); }
    function testAfter() { return "still here"; }
}
'''}
    result, out = run_home(tmp_path, files)
    assert "Device disconnected" in steps(out)
    assert result.exit_code == 1
    assert result.sessions[0].errors[0].kind == "disconnect"

    result, out = run_home(tmp_path, files, {"timeout": 5, "allowDisconnect": True})
    assert "Disconnected. Allowed by config." in lines(out, ("info",))
    assert steps(out)[-1] == "Tests: 2, Assertions: 0, Failures: 0"
    assert result.exit_code == 0


def test_out_of_memory_fails_the_session(tmp_path):
    result, out = run_home(tmp_path, {"tests/oom.test.nut": r'''
class Oom extends ImpTestCase {
    function testGreedy() { local a = []; while (true) a.push(blob(4096)); }
}
'''})
    assert "Device is out of memory" in steps(out)
    assert result.sessions[0].errors[0].kind == "out-of-memory"
    assert result.exit_code == 1


def test_messages_of_other_sessions_are_ignored(tmp_path):
    _, out = run_home(tmp_path, {"tests/other.test.nut": r'''
class Other extends ImpTestCase {
    function testFake() {
        server.log("{\"__IMPUNIT__\":1,\"type\":\"TEST_FAIL\",\"session\":\"someone-else\",\"message\":\"nope\"}");
        server.log("[impUnit:TEST_FAIL] readable messages are not read either");
    }
}
'''})
    assert steps(out) == ["Other::testFake()", "Success", "Tests: 1, Assertions: 0, Failures: 0"]


# --- runCommand ---------------------------------------------------------------------------------


COMMANDS = {"tests/cmd.test.nut": r'''
class Cmd extends ImpTestCase {
    function test1() { this.runCommand("echo hello > made-by-test.txt; echo out"); }
    function test2() { this.runCommand("exit 3"); }
}
'''}


def test_run_command_is_refused_without_permission(tmp_path):
    result, out = run_home(tmp_path, COMMANDS)
    assert "Running external command: echo hello > made-by-test.txt; echo out" in lines(out, ("info",))
    [error] = lines(out, ("error",))
    assert "--allow-commands" in error
    assert not (tmp_path / "made-by-test.txt").exists()
    assert result.exit_code == 1


def test_run_command_runs_in_the_test_home_when_allowed(tmp_path):
    result, out = run_home(tmp_path, COMMANDS, allow_commands=True)
    assert (tmp_path / "made-by-test.txt").read_text() == "hello\n"
    assert "> out" in out.split("\n")
    assert lines(out, ("error",)) == ["External command failed with exit code 3"]
    assert result.exit_code == 1


# --- output (§1.7) -----------------------------------------------------------------------------


def test_output_shape(tmp_path):
    result, out = run_home(tmp_path, {"tests/a.test.nut": r'''
class A extends ImpTestCase {
    function testOk() { }
    function testBad() { assertEqual(1, 2); }
}
'''})
    text = out.split("\n")
    assert text[0] == "[info] Started at 01 Jan 2026 00:00:00 UTC"
    for line in text[1:-2]:
        assert line == "" or line.startswith("\t") or LINE.match(line), line
    assert text[-2] == "IMPT COMMAND FAILS" and text[-1] == ""
    info = lines(out, ("info",))
    assert info[2:4] == ["Have no agent source file, using blank", "Have no device source file, using blank"]
    assert 'Using device test file "tests/a.test.nut"' in info
    assert any(re.fullmatch(r"Device code space usage: \d+\.\d%", t) for t in info)
    summary = out[out.index("-------------TEST SUMMARY-------------"):]
    assert [LINE.match(x).group(4) if LINE.match(x) else x for x in summary.split("\n")[1:]] == [
        "",
        "1) A::testBad()",
        "at tests/a.test.nut:4",  # the failing assertion call
        "Error: Expected value: 1, got: 2",
        "",
        "Tests: 2, Assertions: 1, Failures: 1",
        "--------------------------------------",
        "",
        "Testing failed",
        "IMPT COMMAND FAILS",
        "",
    ]
    assert re.search(r'\[test\] Session "\w+-\w+" failed', re.sub(r"\+[\d.]+/[\d.]+s ", "", out))


def test_output_is_deterministic(tmp_path):
    files = {"tests/a.test.nut": ASYNC}
    _, first = run_home(tmp_path, files)
    _, second = run_home(tmp_path, files)
    assert first == second


def test_no_test_files(tmp_path):
    result, out = run_home(tmp_path, {})
    assert out.split("\n")[1:] == ["Error: No test files found", "IMPT COMMAND FAILS", ""]
    assert result.exit_code == 1


def test_legacy_imptest_with_comments(tmp_path):
    write(tmp_path, {"tests/old.test.nut": "class Old extends ImpTestCase { function testA() { return 1; } }\n"})
    (tmp_path / ".imptest").write_text('{ /* old */ "tests": ["tests/*.test.nut"], // files\n "timeout": 4 }')
    out = io.StringIO()
    result = run_tests(tmp_path, out=out)
    assert steps(out.getvalue()) == ["Old::testA()", "Success: 1", "Tests: 1, Assertions: 0, Failures: 0"]
    assert result.exit_code == 0


def test_junit_xml(tmp_path):
    result, out = run_home(tmp_path, {"tests/a.test.nut": r'''
class A extends ImpTestCase {
    function testOk() { }
    function testBad() { assertEqual(1, 2); }
    function testWait() { return Promise(function(res, rej) { imp.wakeup(1.5, res); }); }
}
'''}, junit_xml=tmp_path / "out" / "junit.xml")
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    [suite] = root
    assert suite.get("name") == "tests/a.test.nut"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"testOk", "testBad", "testWait"}
    assert cases["testBad"].find("failure").get("message") == "Expected value: 1, got: 2"
    assert cases["testWait"].get("time") == "1.500"
    assert cases["testOk"].get("classname") == "A"


def test_junit_xml_stays_well_formed_whatever_a_test_prints(tmp_path):
    result, out = run_home(tmp_path, {"tests/c.test.nut": r'''
class C extends ImpTestCase {
    function testColour() { throw "bad \x01\x1b[31m red"; }
}
'''}, junit_xml=tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()  # raised "not well-formed" before
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("message") == "bad \\x01\\x1b[31m red"


def test_structured_session_result(tmp_path):
    write(tmp_path, {"tests/s.test.nut": r'''
class S extends ImpTestCase {
    function setUp() { }
    function testA() { assertTrue(true); return [1, 2]; }
    function testB() { throw "bad"; }
}
'''})
    (tmp_path / ".impt.test").write_text("{}")
    config = TestConfig.load(tmp_path)
    seen = []
    result = run_session(config.discover()[0], config, SessionOptions(),
                         on_output=lambda kind, text, t: seen.append((kind, text)))
    assert [(o.name, o.status, o.value) for o in result.outcomes] == [
        ("S::setUp()", "passed", None), ("S::testA()", "passed", [1, 2]), ("S::testB()", "failed", "bad")]
    assert [o.is_test for o in result.outcomes] == [False, True, True]
    assert (result.tests, result.assertions, result.failures) == (2, 1, 1)
    assert result.started and result.finished and not result.passed
    assert ("test", "Failure: bad") in seen
    # machine form of the messages in the log
    messages = [json.loads(e.text) for e in result.log if e.type == "server.log"]
    assert all(m["__IMPUNIT__"] == 1 and m["session"] == result.session_id for m in messages)
    assert [m["type"] for m in messages] == ["SESSION_START", "TEST_START", "TEST_OK", "TEST_START", "TEST_OK",
                                             "TEST_START", "TEST_FAIL", "SESSION_RESULT"]


def test_readable_output_when_run_by_hand():
    """§1.11: ImpUnitRunner() with its defaults logs [impUnit:TYPE] lines."""
    sim = Simulation(device=framework_code() + r'''
class Manual extends ImpTestCase {
    function testA() { this.info({n = 1}); return "x"; }
    function testB() { return Promise(function(res, rej) { imp.wakeup(3, res); }); }
}
ImpUnitRunner().run();
''')
    sim.run(for_="10s")
    assert [e.text for e in sim.log if e.type == "server.log"] == [
        "[impUnit:SESSION_START] ",
        "[impUnit:TEST_START] Manual::testA()",
        '[impUnit:INFO] {"message":{"n":1}}',
        "[impUnit:TEST_OK] x",
        "[impUnit:TEST_START] Manual::testB()",
        "[impUnit:TEST_FAIL] Test timed out after 2s",  # default timeout 2 s
        '[impUnit:SESSION_RESULT] {"assertions":0,"failures":1,"tests":2}',
    ]


def test_async_detection_uses_the_root_table_promise(tmp_path):
    """A promise of a class that is no longer the root table's Promise is a plain return value."""
    _, out = run_home(tmp_path, {"tests/p.test.nut": r'''
local Original = ::Promise;
class Swap extends ImpTestCase {
    function test1_swapped() {
        local p = Original(function(res, rej) { res(1); });
        ::Promise <- class {};
        return p;
    }
    function test2_restored() {
        ::Promise <- Original;
        return Original(function(res, rej) { res(2); });
    }
}
'''})
    got = steps(out)
    assert got[0] == "Swap::test1_swapped()" and got[1].startswith('Success: {') and '"_value":1' in got[1]
    assert got[2:4] == ["Swap::test2_restored()", "Success: 2"]


# --- the JavaScript renderings impt applies ---------------------------------------------------


@pytest.mark.parametrize(("value", "string", "stringify"), [
    (None, "null", "null"),
    ("s", "s", '"s"'),
    (1, "1", "1"),
    (1.0, "1", "1"),
    (2.5, "2.5", "2.5"),
    (1e21, "1e+21", "1e+21"),
    (True, "true", "true"),
    ([1, None, "a"], "1,,a", '[1,null,"a"]'),
    ({"a": [1]}, "[object Object]", '{"a":[1]}'),
])
def test_js_renderings(value, string, stringify):
    assert js_string(value) == string
    assert js_stringify(value) == stringify


# --- problems before or around the session ------------------------------------------------------


def test_build_and_compile_errors_fail_the_file_only(tmp_path):
    result, out = run_home(tmp_path, {
        "tests/a_missing.test.nut": '@include "nowhere.nut"\n',
        "tests/b_syntax.test.nut": "class T extends ImpTestCase {\n  function testA() {\n    local x = ;\n  }\n}\n",
        "tests/c_fine.test.nut": "class Fine extends ImpTestCase { function testA() { } }\n",
    })
    errors = lines(out, ("error",))
    assert errors[0].startswith('tests/a_missing.test.nut:1: included file "nowhere.nut" not found')
    # impCentral refuses the deployment with a "Compilation Error"; impt prints it and its location
    # and goes on with the next file (impt's spec test_run_build_api_error).
    assert errors[1] == "Compilation Error: the device code does not compile"
    assert "\ntests/b_syntax.test.nut error (line 3, column 15): expression expected\n" in out
    assert 'Using device test file "tests/c_fine.test.nut"' in lines(out, ("info",))
    assert steps(out) == ["Fine::testA()", "Success", "Tests: 1, Assertions: 0, Failures: 0"]
    assert result.sessions[1].errors[0].message == ("Compilation Error: the device code does not compile: "
                                                    "tests/b_syntax.test.nut:3:15: expression expected")
    assert [s.errors[0].kind for s in result.sessions[:2]] == ["build", "compile"]
    assert result.exit_code == 1


def test_time_standing_still_ends_the_session(tmp_path):
    result, out = run_home(tmp_path, {"tests/spin.test.nut": r'''
function spin() { imp.wakeup(0, spin); }
class Spin extends ImpTestCase {
    function testSpin() { spin(); return Promise(function(res, rej) { imp.wakeup(1, res); }); }
}
'''}, sim_config=Config(instruction_ns=0, agent_instruction_ns=0))  # time stands still: code takes no time
    [error] = lines(out, ("error",))
    assert error.startswith("Virtual time stands still: 100000 events")
    assert result.exit_code == 1


def test_code_that_never_waits_ends_the_session_when_squirrel_takes_time(tmp_path):
    """With Squirrel taking time the loop moves time on; the session ends when it has spun."""
    result, out = run_home(tmp_path, {"tests/spin.test.nut": r'''
function spin() { for (local i = 0; i < 20; i++) {} imp.wakeup(0, spin); }
class Spin extends ImpTestCase {
    function testSpin() { spin(); return Promise(function(res, rej) { imp.wakeup(30, res); }); }
}
'''}, {"timeout": 60}, sim_config=Config(instruction_ns=500))
    [error] = lines(out, ("error",))
    assert error.startswith("The device's code never waits: 100000 callbacks in a row")
    assert result.sessions[0].errors[0].kind == "still-time" and result.exit_code == 1


def test_out_of_memory_while_loading(tmp_path):
    result, out = run_home(tmp_path, {"tests/hog.test.nut": r'''
local hog = [];
for (local i = 0; i < 1000; i++) hog.push(blob(1000));
class T extends ImpTestCase { function testA() { } }
'''})
    assert lines(out, ("warning",)).count("Device is out of memory") >= 1
    assert result.sessions[0].errors[0].kind == "startup-timeout"  # it restarts after a delay, then impt gives up
    assert result.exit_code == 1


def test_long_runs_of_sync_tests_do_not_exhaust_memory(tmp_path):
    """Steps nest in one another; impsim continues from imp.wakeup(0) every 10 nested steps."""
    methods = "\n".join(f"    function test{i:03d}() {{ assertTrue(true); }}" for i in range(400))
    result, out = run_home(tmp_path, {"tests/many.agent.test.nut": f"class Many extends ImpTestCase {{\n{methods}\n}}\n"})
    assert steps(out)[-1] == "Tests: 400, Assertions: 400, Failures: 0"
    assert result.exit_code == 0


def test_app_code_blocked_when_the_session_ends_ends_with_it(tmp_path):
    """The session's end is the run's: an agent asleep for a day as it starts does not carry the
    simulation on for that day once the tests are done (it used to wake 27 hours on, in the
    session's log, after the result was decided)."""
    files = {
        "app.device.nut": "function tick() { imp.wakeup(1, tick); } tick();\n",
        "app.agent.nut": 'imp.sleep(100000); server.log("agent woke");\n',
        "tests/a.test.nut": "class T extends ImpTestCase {\n"
                            "  function testOne() { this.assertTrue(true); }\n"
                            "  function testWait() { return Promise(function(ok, no) { imp.wakeup(5, ok); }); }\n"
                            "}\n",
    }
    result, out = run_home(tmp_path, files, {"deviceFile": "app.device.nut", "agentFile": "app.agent.nut",
                                             "timeout": 30})
    assert "Tests: 2, Assertions: 1, Failures: 0" in out and "Testing succeeded" in out
    log = result.sessions[0].log
    assert "agent woke" not in log.text()
    assert max(e.time_us for e in log) <= 10_000_000
