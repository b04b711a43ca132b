"""`impsim test` as a user runs it: a real test home, the installed command, its exit status."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from user_helpers import impsim

MATH_TEST = '''
class MathTest extends ImpTestCase {
    function setUp() { this.info("setting up"); }
    function testAdd() { this.assertEqual(3, add(1, 2)); }
    function testAlsoAdd() { this.assertEqual(5, add(2, 3)); }
}
'''


@pytest.fixture
def home(tmp_path):
    (tmp_path / ".impt.test").write_text('{"deviceFile": "app.device.nut", "agentFile": false, '
                                         '"testFiles": ["tests/*.test.nut"]}')
    (tmp_path / "app.device.nut").write_text("function add(a, b) { return a + b; }\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "math.test.nut").write_text(MATH_TEST)
    return tmp_path


@pytest.mark.parametrize("selector, what", [(":MathTest::testAd", "class MathTest method testAd"),
                                            (":mathtest", "class mathtest")])
def test_a_selector_that_matches_no_test_fails_and_says_so(home, selector, what):
    r = impsim("test", "--tests", selector, cwd=home)
    assert r.code == 1
    assert f"--tests {selector} selected no test: no {what} in tests/math.test.nut." in r.out
    assert "Testing failed" in r.out and "Testing succeeded" not in r.out


def test_a_selector_that_matches_runs_only_that(home):
    r = impsim("test", "--tests", ":MathTest::testAdd", cwd=home)
    assert r.code == 0, r.out
    assert "MathTest::testAdd()" in r.out and "testAlsoAdd" not in r.out


def test_junit_xml_counts_test_methods_not_set_up(home):
    r = impsim("test", "--junit-xml", "results.xml", cwd=home)
    assert r.code == 0, r.out
    root = ET.parse(home / "results.xml").getroot()
    assert root.get("tests") == "2"
    assert [c.get("name") for c in root.iter("testcase")] == ["testAdd", "testAlsoAdd"]


def test_a_failing_set_up_is_reported_in_junit_xml(home):
    (home / "tests" / "math.test.nut").write_text(MATH_TEST.replace('this.info("setting up");',
                                                                    'throw "no fixture";'))
    r = impsim("test", "--junit-xml", "results.xml", cwd=home)
    assert r.code == 1
    names = [c.get("name") for c in ET.parse(home / "results.xml").getroot().iter("testcase")]
    assert "setUp" in names


def test_a_top_level_deep_sleep_is_named_as_the_cause_of_a_startup_timeout(home):
    (home / "app.device.nut").write_text("function add(a, b) { return a + b; }\nimp.deepsleepfor(3600);\n")
    r = impsim("test", cwd=home)
    assert r.code == 1
    [line] = [l for l in r.out.splitlines() if "Session startup timeout" in l]
    assert "the device went to deep sleep at +1.00s" in line
    assert 'if (!("ImpTestCase" in getroottable())) imp.deepsleepfor(60);' in line
    # ...and the guard it suggests works.
    (home / "app.device.nut").write_text('function add(a, b) { return a + b; }\n'
                                         'if (!("ImpTestCase" in getroottable())) imp.deepsleepfor(3600);\n')
    assert impsim("test", cwd=home).code == 0


def test_a_runtime_error_in_a_test_names_the_line_that_raised_it(home):
    (home / "app.device.nut").write_text("function add(a, b) { return a + b; }\n"
                                         "function average(values) {\n"
                                         "    return values.total / values.len();\n"
                                         "}\n")
    (home / "tests" / "math.test.nut").write_text(
        "class MathTest extends ImpTestCase {\n"
        "    function testNull() {\n"
        "        local reading = null;\n"
        "        this.assertEqual(1, reading.value);\n"
        "    }\n"
        "    function testInApp() {\n"
        "        local avg = average([1, 2]);\n"
        "        return avg;\n"
        "    }\n"
        "}\n")
    r = impsim("test", "--junit-xml", "results.xml", cwd=home)
    assert r.code == 1
    summary = r.out[r.out.index("TEST SUMMARY"):]
    assert "MathTest::testNull()\n" in summary
    assert "at tests/math.test.nut:4\n" in summary and "Error: the index 'value' does not exist" in summary
    assert "at app.device.nut:3\n" in summary and "Error: the index 'total' does not exist" in summary
    cases = {c.get("name"): c for c in ET.parse(home / "results.xml").getroot().iter("testcase")}
    assert (cases["testNull"].get("file"), cases["testNull"].get("line")) == ("tests/math.test.nut", "4")
    assert "tests/math.test.nut:7" in cases["testInApp"].find("failure").text  # the stack, through the test
