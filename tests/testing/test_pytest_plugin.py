"""The pytest plugin (impapi.testing.pytest_plugin), driven through pytester: collection of
*.test.nut files, items in the runner's order with their locations, one session per file,
failure reports, .impt.test, options, the fixtures, and the pytest11 entry point."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from impapi.testing import _stack

pytest_plugins = ["pytester"]

PLUGIN = "impapi.testing.pytest_plugin"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """The inner runs see only this plugin (even if impsim is installed, whose entry point would
    load it a second time) and no library directories from the developer's environment."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)


def files(pytester: pytest.Pytester, spec: dict[str, str]) -> None:
    for name, text in spec.items():
        p = pytester.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider", *args)


def line_of(pytester: pytest.Pytester, name: str, needle: str) -> int:
    """1-based line of the first line of file ``name`` containing ``needle``."""
    for number, text in enumerate((pytester.path / name).read_text().split("\n"), 1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


ORDER = """
class MyTestCase extends ImpTestCase {
    function testMe_1() { }
    function testMe() { }
    function helper() { }
}
class MyTestCase_1 extends ImpTestCase {
    function testZ() { }
    function testA() { }
    function testa() { }
    function testB() { }
}
"""

COMMON = """
class CommonTest extends ImpTestCase {
    function checkPositive(x) {
        assertTrue(x > 0, "not positive: " + x);
    }
    function testInherited() { return "inherited"; }
}
"""

MIXED = """
@include "tests/CommonTest.nut"

class ATest extends CommonTest {
    function testOne() {
        server.log("in testOne");
        checkPositive(-1);
    }
    function testTwo() { assertDeepEqual({a = 1}, {a = 2}); }
    function testThree() { return {answer = 42}; }
    function testFour() {
        agent.send("ping", 1);
        return Promise(function(ok, bad) {
            imp.wakeup(1, function() {
                try { assertEqual(3, 4, "late"); ok(); } catch (e) { bad(e); }
            }.bindenv(this));
        }.bindenv(this));
    }
}
"""


# --- collection ------------------------------------------------------------------------------


def test_items_come_in_the_runners_order_one_per_test_method(pytester):
    files(pytester, {"tests/order.test.nut": ORDER})
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        # classes in the runner's (Squirrel table) order, methods sorted byte-wise
        "tests/order.test.nut::MyTestCase_1::testA",
        "tests/order.test.nut::MyTestCase_1::testB",
        "tests/order.test.nut::MyTestCase_1::testZ",
        "tests/order.test.nut::MyTestCase_1::testa",
        "tests/order.test.nut::MyTestCase::testMe",
        "tests/order.test.nut::MyTestCase::testMe_1",
        "6 tests collected*",
    ])
    assert "helper" not in result.stdout.str()


def test_item_locations_are_the_method_definitions_in_the_original_files(pytester):
    files(pytester, {"tests/CommonTest.nut": COMMON, "tests/a.test.nut": MIXED})
    items, _ = pytester.inline_genitems("-p", PLUGIN)
    where = {i.nodeid.split("::", 1)[1]: i.location for i in items}
    a = "tests/a.test.nut"
    assert where["ATest::testOne"] == (a, line_of(pytester, a, "function testOne") - 1, "ATest::testOne")
    assert where["ATest::testFour"] == (a, line_of(pytester, a, "function testFour") - 1, "ATest::testFour")
    # inherited from a helper class in an included file: located there
    common = "tests/CommonTest.nut"
    assert where["ATest::testInherited"] == (common, line_of(pytester, common, "function testInherited") - 1,
                                             "ATest::testInherited")
    # the helper base class is a test case too (impUnit runs it), with its own item
    assert "CommonTest::testInherited" in where
    assert set(where) == {"CommonTest::testInherited", "ATest::testInherited", "ATest::testOne",
                          "ATest::testTwo", "ATest::testThree", "ATest::testFour"}


def test_the_runner_order_needs_no_test_to_run(pytester):
    files(pytester, {"tests/side.test.nut": """
        class Effects extends ImpTestCase {
            function testWrites() { server.log("RAN"); }
        }
        """})
    result = run(pytester, "--collect-only", "-q")
    result.assert_outcomes()
    assert "RAN" not in result.stdout.str()


def test_a_file_whose_code_fails_to_load_is_still_collected_and_fails(pytester):
    """Top-level code throws: the runner's order cannot be read, so the classes are collected
    from the source; the run then reports why nothing ran."""
    files(pytester, {
        "src/device.nut": 'throw "boom at load";\n',
        ".impt.test": json.dumps({"deviceFile": "src/device.nut", "timeout": 2}),
        "tests/x.test.nut": """
            class Zeta extends ImpTestCase { function testB() { } function testA() { } }
            """,
    })
    result = run(pytester, "-v")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "tests/x.test.nut::Zeta::testA FAILED*",
        "tests/x.test.nut::Zeta::testB FAILED*",
        "*Zeta::testA() did not complete: the session failed",
        "*Session startup timeout*",
        "*boom at load*",
    ])


def test_build_errors_are_collection_errors(pytester):
    files(pytester, {"tests/bad.test.nut": '@include "nowhere.nut"\nclass A extends ImpTestCase {}\n',
                     "tests/syntax.test.nut": "class B extends ImpTestCase { function testX() { local = ; } }\n"})
    result = run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR collecting tests/bad.test.nut*",
        "*nowhere.nut*",
        "*ERROR collecting tests/syntax.test.nut*",
        "*does not compile*",
    ])


def test_a_file_without_test_methods_is_one_session_item(pytester):
    files(pytester, {"tests/empty.test.nut": """
        class Core extends ImpTestCase {
            function setUp() { throw "core setUp failed"; }
        }
        """, "tests/none.test.nut": "// nothing here\n"})
    result = run(pytester, "-v", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines_random([
        "tests/empty.test.nut::<session> FAILED*",
        "*Core::setUp() failed: core setUp failed*",
        "*no impUnit tests in tests/none.test.nut*",
    ])


def test_plugin_is_inert_without_test_files(pytester):
    files(pytester, {"app.device.nut": 'server.log("app");\n', "lib/util.nut": "function f() {}\n"})
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_plain.py::test_ok PASSED*"])
    assert ".nut" not in result.stdout.str()
    # the options exist
    assert "--impsim-lib-dir" in run(pytester, "--help").stdout.str()


def test_ini_globs_choose_the_files(pytester):
    files(pytester, {"checks/thing_spec.nut": "class S extends ImpTestCase { function testS() { } }\n",
                     "tests/ignored.test.nut": "class I extends ImpTestCase { function testI() { } }\n",
                     "deep/sub/deep.check.nut": "class D extends ImpTestCase { function testD() { } }\n"})
    pytester.makeini("[pytest]\nimpsim_test_files =\n    *_spec.nut\n    deep/**/*.check.nut\n")
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["checks/thing_spec.nut::S::testS", "deep/sub/deep.check.nut::D::testD"])
    assert "ignored" not in result.stdout.str()


def test_impt_test_globs_and_partner_files(pytester):
    files(pytester, {
        ".impt.test": json.dumps({"testFiles": ["spec/*.nut"]}),
        "spec/echo.device.test.nut": """
            class Echo extends ImpTestCase {
                function testEcho() {
                    return Promise(function(ok, bad) {
                        agent.on("echo", ok);
                        agent.send("echo", "hi");
                    });
                }
            }
            """,
        "spec/echo.agent.nut": 'device.on("echo", function(v) { device.send("echo", v + "!"); });\n',
        "tests/other.test.nut": "class O extends ImpTestCase { function testO() { } }\n",
    })
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["spec/echo.device.test.nut::Echo::testEcho PASSED*"])
    assert "other.test.nut" not in result.stdout.str() and "echo.agent.nut" not in result.stdout.str()


def test_a_file_named_on_the_command_line_is_collected_whatever_the_globs(pytester):
    files(pytester, {".impt.test": json.dumps({"testFiles": ["spec/*.nut"]}),
                     "tests/direct.test.nut": "class Direct extends ImpTestCase { function testD() { } }\n"})
    run(pytester, "tests/direct.test.nut").assert_outcomes(passed=1)


# --- running ---------------------------------------------------------------------------------


def test_one_session_per_file(pytester, monkeypatch):
    from impapi.testing import session

    calls = []
    real = session.run_session

    def spy(test_file, config, options=None, **kw):
        calls.append((test_file.name, options.selector))
        return real(test_file, config, options, **kw)

    monkeypatch.setattr(session, "run_session", spy)
    files(pytester, {"tests/order.test.nut": ORDER, "tests/b.test.nut": "class B extends ImpTestCase { function testB() { } }\n"})
    run(pytester).assert_outcomes(passed=7)
    assert sorted(name for name, _ in calls) == ["tests/b.test.nut", "tests/order.test.nut"]
    assert all(s.is_empty for _, s in calls)


def test_selecting_items_selects_in_the_session(pytester, monkeypatch):
    from impapi.testing import session

    selectors = []
    real = session.run_session

    def spy(test_file, config, options=None, **kw):
        selectors.append(options.selector)
        return real(test_file, config, options, **kw)

    monkeypatch.setattr(session, "run_session", spy)
    files(pytester, {"tests/order.test.nut": ORDER})
    run(pytester, "-k", "testZ").assert_outcomes(passed=1)
    assert [(s.test_class, s.test_method) for s in selectors] == [("MyTestCase_1", "testZ")]
    selectors.clear()
    run(pytester, "tests/order.test.nut::MyTestCase").assert_outcomes(passed=2)
    assert [(s.test_class, s.test_method) for s in selectors] == [("MyTestCase", "")]


def test_outcomes_and_failure_report(pytester):
    files(pytester, {"tests/CommonTest.nut": COMMON, "tests/a.device.test.nut": MIXED,  # partner: a.agent.nut
                     "tests/a.agent.nut": 'device.on("ping", function(v) { server.log("agent got ping " + v); });\n'})
    result = run(pytester, "-v", "-rA")
    result.assert_outcomes(passed=3, failed=3)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*ATest::testFour() failed: late",
        "*Captured impsim log call*",
        "*[[]Agent] agent got ping 1",  # the partner agent, while the test waited
    ])
    result.stdout.fnmatch_lines([
        "*ATest::testOne() failed: not positive: -1",
        "*Captured impsim log call*",
        "*[[]Device] in testOne",
    ])
    result.stdout.fnmatch_lines(["*ATest::testTwo() failed: Comparison failed on 'a': expected 1, got 2"])
    result.stdout.fnmatch_lines(["FAILED tests/a.device.test.nut::ATest::testOne - not positive: -1"])
    # impUnit's protocol messages are not log lines worth showing
    assert "__IMPUNIT__" not in out


def test_failures_point_at_the_assertion_call(pytester):
    files(pytester, {"tests/CommonTest.nut": COMMON, "tests/a.test.nut": MIXED})
    result = run(pytester, "-v")
    one = line_of(pytester, "tests/a.test.nut", "checkPositive(-1)")
    four = line_of(pytester, "tests/a.test.nut", '"late"')
    check = line_of(pytester, "tests/CommonTest.nut", "assertTrue(x > 0")
    result.stdout.fnmatch_lines([
        "*ATest::testOne() failed: not positive: -1",
        f"    at tests/a.test.nut:{one}",
        f"*{one} | checkPositive(-1);",
        "Squirrel stack (innermost first):",
        f"    checkPositive  tests/CommonTest.nut:{check}",
        f"    testOne  tests/a.test.nut:{one}",
        f"tests/a.test.nut:{one}: not positive: -1",
    ])
    # an assertion in a timer callback of a Promise-based test
    result.stdout.fnmatch_lines([f"    at tests/a.test.nut:{four}"])



def test_a_runtime_error_points_at_the_line_that_raised_it(pytester):
    files(pytester, {"app.device.nut": "function average(values) {\n    return values.total / values.len();\n}\n",
                     ".impt.test": '{"deviceFile": "app.device.nut"}',
                     "tests/e.test.nut": """
                         class E extends ImpTestCase {
                             function testNull() {
                                 local reading = null;
                                 assertEqual(1, reading.value);
                             }
                             function testInApp() {
                                 local avg = average([1, 2]);
                                 return avg;
                             }
                         }
                         """})
    result = run(pytester, "-v")
    result.assert_outcomes(failed=2)
    null = line_of(pytester, "tests/e.test.nut", "reading.value")
    call = line_of(pytester, "tests/e.test.nut", "average([1, 2])")
    result.stdout.fnmatch_lines([
        "*E::testNull() failed: the index 'value' does not exist",
        f"    at tests/e.test.nut:{null}",
        f"*{null} | assertEqual(1, reading.value);",
        f"tests/e.test.nut:{null}: the index 'value' does not exist",
    ])
    result.stdout.fnmatch_lines([
        "*E::testInApp() failed: the index 'total' does not exist",
        "    at app.device.nut:2",
        "*2 | return values.total / values.len();",
        "Squirrel stack (innermost first):",
        "    average  app.device.nut:2",
        f"    testInApp  tests/e.test.nut:{call}",
        "app.device.nut:2: the index 'total' does not exist",
    ])

def test_setup_and_teardown_failures_are_errors_of_the_first_and_last_item(pytester):
    files(pytester, {"tests/fix.test.nut": """
        class Fix extends ImpTestCase {
            function setUp() { server.log("setting up"); throw "setUp broke"; }
            function testA() { }
            function testB() { }
            function tearDown() { assertEqual(1, 2, "tearDown broke"); }
        }
        """})
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, errors=2)  # testA: setup error; testB passes, then teardown error
    result.stdout.fnmatch_lines([
        "*ERROR at setup of Fix::testA*",
        "Fix::setUp() failed: setUp broke",
        "*Captured impsim log setup*",
        "*[[]Device] setting up",
        "*ERROR at teardown of Fix::testB*",
        "Fix::tearDown() failed: tearDown broke",
    ])


def test_failures_outside_the_items_are_an_error_at_the_end_of_the_file(pytester):
    files(pytester, {"tests/m.test.nut": """
        class Helper extends ImpTestCase {
            function setUp() { throw "helper setUp broke"; }
        }
        class Real extends ImpTestCase {
            function testA() { }
        }
        class Other extends ImpTestCase {
            function testBad() { assertTrue(false); }
            function testC() { }
        }
        """})
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of *", "Helper::setUp() failed: helper setUp broke"])
    # two classes selected: the whole file runs, but a deselected test's failure is not reported
    result = run(pytester, "-v", "-k", "testA or testC")
    result.assert_outcomes(passed=2, errors=1)
    assert "Failed to assert" not in result.stdout.str()


def test_impt_test_settings_apply(pytester):
    files(pytester, {
        ".impt.test": json.dumps({"deviceFile": "src/app.device.nut", "timeout": 3, "stopOnFail": True}),
        "src/app.device.nut": "function double(x) { return 2 * x; }\n",
        "tests/app.test.nut": """
            class App extends ImpTestCase {
                function test1_uses_device_file() { assertEqual(4, double(2)); }
                function test2_slow() { return Promise(function(ok, bad) { imp.wakeup(5, ok); }); }
                function test3_never() { }
            }
            """,
    })
    result = run(pytester, "-v", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*App::test2_slow() failed: Test timed out after 3s",
        "*stopOnFail*",
    ])


def test_session_errors_fail_the_tests_that_did_not_run(pytester):
    files(pytester, {"tests/cmd.test.nut": """
        class Cmd extends ImpTestCase {
            function testA() { runCommand("echo hi"); }
            function testB() { }
        }
        """})
    result = run(pytester, "-v")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*External command not run*"])
    # allowed: the command runs and both pass
    run(pytester, "--impsim-allow-commands").assert_outcomes(passed=2)


def test_agent_test_files(pytester):
    files(pytester, {"tests/api.agent.test.nut": """
        class Api extends ImpTestCase {
            function testHttp() { assertEqual("string", typeof http.jsonencode({})); }
            function testBad() { assertEqual(1, 2); }
        }
        """})
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Api::testBad() failed: Expected value: 1, got: 2"])


# --- options -------------------------------------------------------------------------------


LIB_TEST = {
    "tests/lib.test.nut": """
        #require "Adder.lib.nut:1.0.0"
        class UsesLib extends ImpTestCase { function testAdd() { assertEqual(5, Adder.add(2, 3)); } }
        """,
    "libs/Adder.lib.nut": "Adder <- { add = function(a, b) { return a + b; } };\n",
}


def test_lib_dirs_from_the_command_line_and_the_ini(pytester):
    files(pytester, LIB_TEST)
    missing = run(pytester)
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*Adder.lib.nut*"])
    run(pytester, "--impsim-lib-dir", str(pytester.path / "libs")).assert_outcomes(passed=1)
    run(pytester, "--impsim-lib-dir", "nowhere", "--impsim-lib-dir", "libs").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nimpsim_lib_dirs = libs\n")
    run(pytester).assert_outcomes(passed=1)


def test_github_dir_from_the_command_line_and_the_ini(pytester):
    files(pytester, {
        "tests/gh.test.nut": """
            @include "github:someone/Helpers/helpers.nut"
            class Gh extends ImpTestCase { function testHelper() { assertEqual(9, square(3)); } }
            """,
        "checkouts/someone/Helpers/helpers.nut": "function square(x) { return x * x; }\n",
    })
    run(pytester).assert_outcomes(errors=1)
    run(pytester, "--impsim-github-dir", "checkouts").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nimpsim_github_dir = checkouts\n")
    run(pytester).assert_outcomes(passed=1)


def test_junit_xml_has_locations(pytester):
    files(pytester, {"tests/j.test.nut": """
        class J extends ImpTestCase {
            function testOk() { return 1; }
            function testBad() {
                assertEqual(1, 2);
            }
        }
        """})
    run(pytester, "--junitxml", "out.xml", "-o", "junit_family=xunit1")  # xunit1 has file and line
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "out.xml").getroot().iter("testcase")}
    assert set(cases) == {"testOk", "testBad"}
    bad = cases["testBad"]
    assert bad.get("classname") == "tests.j.test.nut.J"
    assert bad.get("file") == "tests/j.test.nut"
    assert bad.get("line") == str(line_of(pytester, "tests/j.test.nut", "function testBad") - 1)
    assert bad.find("failure").get("message") == "Expected value: 1, got: 2"
    if _stack.available():
        assert "at tests/j.test.nut:4" in bad.find("failure").text


# --- fixtures --------------------------------------------------------------------------------


def test_fixtures(pytester):
    files(pytester, {
        "app/app.device.nut": """
            @include "app/parts.nut"
            #require "Promise.lib.nut:4.0.0"
            Promise(function(ok, bad) { imp.wakeup(1, ok); }).then(function(v) { server.log("tick " + PART); });
            """,
        "app/parts.nut": 'const PART = "from parts";\n',
        "app/app.agent.nut": 'device.on("x", function(v) { server.log("agent got " + v); });\n',
    })
    pytester.makepyfile(test_fx="""
        import pytest

        made = []

        def test_simulation_factory(impsim_simulation, impsim_log):
            sim = impsim_simulation(device='imp.wakeup(2, function() { server.log("hello"); });')
            made.append(sim)
            sim.run("5s")  # a cold boot connects first (2 s), then 2 s to the wakeup
            assert impsim_log.messages(type="server.log") == ["hello"]
            second = impsim_simulation(agent='server.log("agent up");')
            assert impsim_log.messages(type="agent.log") == ["agent up"]  # the last one made
            assert len(impsim_log) > 0 and "agent up" in str(impsim_log)

        def test_simulations_are_closed_afterwards():
            [sim] = made
            assert sim.device.host is None or sim.device.host.vm.closed

        def test_device_from_a_file(impsim_device, impsim_log):
            sim = impsim_device("app/app.device.nut", agent="app/app.agent.nut")
            sim.run("5s")
            assert "tick from parts" in impsim_log.messages(type="server.log")

        def test_device_path_next_to_the_test(impsim_device, impsim_log, tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)  # not found from here: looked up beside the test module
            sim = impsim_device("app/app.device.nut")
            sim.run("5s")
            assert "tick from parts" in impsim_log.messages()

        def test_log_before_any_simulation(impsim_log):
            with pytest.raises(LookupError, match="no simulation"):
                len(impsim_log)
        """)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=5)


# --- the entry point ---------------------------------------------------------------------------


def test_entry_point_loads_the_plugin(pytester, monkeypatch):
    """pyproject's pytest11 entry point, installed as a distribution would install it."""
    eps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert eps == {"impsim": PLUGIN}
    site = pytester.path / "site"
    info = site / "impsim_fake-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: impsim-fake\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    files(pytester, {"tests/ep.test.nut": "class Ep extends ImpTestCase { function testEp() { } }\n"})
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "tests")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*tests/ep.test.nut::Ep::testEp PASSED*"])
    off = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:impsim", "tests")
    assert off.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert sys.executable  # the subprocess used this interpreter


# --- where methods are defined ---------------------------------------------------------------


def test_parse_definitions_skips_comments_and_strings_and_maps_lines(tmp_path):
    from impapi.testing.pytest_plugin import parse_definitions

    text = "\n".join([
        '#line 10 "tests/x.test.nut"',
        "class A extends ImpTestCase {  // { not a brace",  # 10
        '    s = "} { function testNo() {";',  # 11
        '    v = @"verbatim "" } {";',  # 12
        "    /* function testNo2() { */",  # 13
        "    function testOne() {",  # 14
        "        local f = function() { };",  # 15
        "        function inner() { }",  # 16
        "    }",  # 17
        "    testTwo = function() { };",  # 18
        "}",  # 19
        'B <- class extends ::A {',  # 20
        '#line 3 "tests/helpers.nut"',
        "    function testThree() { }",  # 3
        "}",
        "class Outer.Inner { function testNever() { } }",
        "function testFree() { }",
    ])
    d = parse_definitions(text, tmp_path)
    assert set(d.classes) == {"A", "B"}
    assert d.classes["A"].base == "ImpTestCase" and d.classes["B"].base == "A"
    assert d.classes["A"].methods == {"testOne": ("tests/x.test.nut", 14), "testTwo": ("tests/x.test.nut", 18)}
    assert d.classes["B"].methods == {"testThree": ("tests/helpers.nut", 3)}
    assert d.method_location("B", "testOne") == (tmp_path / "tests/x.test.nut", 14)  # inherited
    assert d.method_location("B", "testThree") == (tmp_path / "tests/helpers.nut", 3)
    assert d.method_location("B", "testMissing") == (tmp_path / "tests/x.test.nut", 20)  # the class
    assert d.test_methods("B") == {"testOne", "testTwo", "testThree"}
    assert d.test_cases(tmp_path / "tests/x.test.nut") == ["A", "B"]
