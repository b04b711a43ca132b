"""Conformance of ImpTestCase's assertions (impunit.md §1.2, §1.3): one test file per assertion,
with passing and failing cases, run through ``impsim test`` (the runner); the per-test lines and
the failure texts impt would print are checked exactly."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from impapi.testing.runner import run_tests

LINE = re.compile(r"^\[(?:\+\d+\.\d\d/\d+\.\d\ds )?(info|test|warning|error)\] (.*)$")


@pytest.fixture(autouse=True)
def _no_library_environment(monkeypatch):
    """Libraries or checkouts named by the developer's environment must not change the results."""
    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)


def run_home(home: Path, files: dict[str, str], config: dict | None = None, **kw):
    for name, text in files.items():
        p = home / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (home / ".impt.test").write_text(json.dumps(config if config is not None else {"timeout": 5}))
    out = io.StringIO()
    result = run_tests(home, out=out, **kw)
    return result, out.getvalue()


def test_lines(output: str) -> list[str]:
    """The [test] lines of a session: test names, Success/Failure, info values, totals."""
    lines = []
    for line in output.splitlines():
        m = LINE.match(line)
        if m and m.group(1) == "test" and not m.group(2).startswith(("Starting test session", "Session \"")):
            lines.append(m.group(2))
    return lines


test_lines.__test__ = False  # a helper, not a pytest test


def outcomes(output: str) -> dict[str, str]:
    """Method name -> "Success..." / "Failure: ..." line that followed it."""
    result: dict[str, str] = {}
    current = None
    for text in test_lines(output):
        m = re.fullmatch(r"\w+::(\w+)\(\)", text)
        if m:
            current = m.group(1)
        elif current and (text.startswith("Success") or text.startswith("Failure: ")):
            result[current] = text
            current = None
    return result


def totals(output: str) -> str:
    return [t for t in test_lines(output) if t.startswith("Tests: ")][-1]


def run_case(tmp_path: Path, body: str, **config):
    cfg = {"timeout": 5}
    cfg.update(config)
    return run_home(tmp_path, {"tests/case.test.nut": body}, cfg)


# --- assertTrue -----------------------------------------------------------------------------


def test_assert_true(tmp_path):
    result, out = run_case(tmp_path, r'''
class AssertTrue extends ImpTestCase {
    function test1_true() { assertTrue(true); }
    function test2_truthy() { assertTrue(1); assertTrue(-1); assertTrue(0.5); assertTrue("x"); assertTrue(""); assertTrue([]); assertTrue({}); }
    function test3_false() { assertTrue(false); }
    function test4_zero() { assertTrue(0); }
    function test5_float_zero() { assertTrue(0.0); }
    function test6_null() { assertTrue(null); }
    function test7_custom_as_is() { assertTrue(false, "custom %s message, 100%"); }
    function test8_counts_then_fails() { assertTrue(true); assertTrue(false); assertTrue(true); }
}
''')
    assert outcomes(out) == {
        "test1_true": "Success",
        "test2_truthy": "Success",
        "test3_false": "Failure: Failed to assert that condition is true",
        "test4_zero": "Failure: Failed to assert that condition is true",
        "test5_float_zero": "Failure: Failed to assert that condition is true",
        "test6_null": "Failure: Failed to assert that condition is true",
        "test7_custom_as_is": "Failure: custom %s message, 100%",
        "test8_counts_then_fails": "Failure: Failed to assert that condition is true",
    }
    # 1 + 7 + 1 + 1 + 1 + 1 + 1 + 2 (the failing assertion counts, the one after it never runs)
    assert totals(out) == "Tests: 8, Assertions: 15, Failures: 6"
    assert result.exit_code == 1


# --- assertEqual ----------------------------------------------------------------------------


def test_assert_equal(tmp_path):
    result, out = run_case(tmp_path, r'''
class AssertEqual extends ImpTestCase {
    function test01_ints() { assertEqual(1, 1); }
    function test02_int_float() { assertEqual(1, 1.0); }
    function test03_strings() { assertEqual("abc", "abc"); }
    function test04_nulls() { assertEqual(null, null); }
    function test05_same_table() { local t = {a = 1}; assertEqual(t, t); }
    function test06_bools() { assertEqual(true, false); }
    function test07_numbers() { assertEqual(1, 2); }
    function test08_strings() { assertEqual("a", "b"); }
    function test09_null() { assertEqual(null, 0); }
    function test10_tables_by_identity() { assertEqual({a = 1}, {a = 1}); }
    function test11_arrays_by_identity() { assertEqual([1], [1]); }
    function test12_custom_format() { assertEqual(1, 2, "wanted %s but had %s"); }
    function test13_custom_int_format() { assertEqual(3, 4, "%d != %d"); }
    function test14_stray_percent() { assertEqual(1, 2, "100% wrong"); }
    function test15_custom_no_placeholders() { assertEqual(1, 2, "plain text"); }
    function test16_floats() { assertEqual(0.5, 0.25); }
}
''')
    got = outcomes(out)
    assert {k: v for k, v in got.items() if k not in ("test10_tables_by_identity", "test11_arrays_by_identity")} == {
        "test01_ints": "Success",
        "test02_int_float": "Success",
        "test03_strings": "Success",
        "test04_nulls": "Success",
        "test05_same_table": "Success",
        "test06_bools": "Failure: Expected value: true, got: false",
        "test07_numbers": "Failure: Expected value: 1, got: 2",
        "test08_strings": "Failure: Expected value: a, got: b",
        "test09_null": "Failure: Expected value: null, got: 0",
        "test12_custom_format": "Failure: wanted 1 but had 2",
        "test13_custom_int_format": "Failure: 3 != 4",
        "test14_stray_percent": "Failure: invalid format",
        "test15_custom_no_placeholders": "Failure: plain text",
        "test16_floats": "Failure: Expected value: 0.5, got: 0.25",
    }
    assert re.fullmatch(r"Failure: Expected value: \(table : 0x(?:0x)?[0-9a-f]+\), got: \(table : 0x(?:0x)?[0-9a-f]+\)",
                        got["test10_tables_by_identity"])
    assert re.fullmatch(r"Failure: Expected value: \(array : 0x(?:0x)?[0-9a-f]+\), got: \(array : 0x(?:0x)?[0-9a-f]+\)",
                        got["test11_arrays_by_identity"])
    assert totals(out) == "Tests: 16, Assertions: 16, Failures: 11"


# --- assertGreater / assertLess -------------------------------------------------------------


def test_assert_greater(tmp_path):
    _, out = run_case(tmp_path, r'''
class AssertGreater extends ImpTestCase {
    function test1_greater() { assertGreater(3, 2); }
    function test2_floats() { assertGreater(1.5, 1); }
    function test3_equal_fails() { assertGreater(2, 2); }
    function test4_less_fails() { assertGreater(1, 2); }
    function test5_custom() { assertGreater(1, 2, "%s is not above %s"); }
    function test6_strings() { assertGreater("b", "a"); }
}
''')
    assert outcomes(out) == {
        "test1_greater": "Success",
        "test2_floats": "Success",
        "test3_equal_fails": "Failure: Failed to assert that 2 > 2",
        "test4_less_fails": "Failure: Failed to assert that 1 > 2",
        "test5_custom": "Failure: 1 is not above 2",
        "test6_strings": "Success",
    }
    assert totals(out) == "Tests: 6, Assertions: 6, Failures: 3"


def test_assert_less(tmp_path):
    _, out = run_case(tmp_path, r'''
class AssertLess extends ImpTestCase {
    function test1_less() { assertLess(1, 2); }
    function test2_floats() { assertLess(1, 1.5); }
    function test3_equal_fails() { assertLess(2, 2); }
    function test4_greater_fails() { assertLess(3, 2.5); }
    function test5_custom() { assertLess(3, 2, "%s >= %s"); }
}
''')
    assert outcomes(out) == {
        "test1_less": "Success",
        "test2_floats": "Success",
        "test3_equal_fails": "Failure: Failed to assert that 2 < 2",
        "test4_greater_fails": "Failure: Failed to assert that 3 < 2.5",
        "test5_custom": "Failure: 3 >= 2",
    }


# --- assertClose ----------------------------------------------------------------------------


def test_assert_close(tmp_path):
    _, out = run_case(tmp_path, r'''
class AssertClose extends ImpTestCase {
    function test1_close() { assertClose(9, 9.4, 0.5); }
    function test2_boundary_inclusive() { assertClose(10, 10.5, 0.5); }
    function test3_negative_difference() { assertClose(10, 9.75, 0.25); }
    function test4_too_far() { assertClose(9, 10, 0.5); }
    function test5_small_tolerance() { assertClose(1, 1.2, 0.1); }
    function test6_small_tolerance_ok() { assertClose(1, 1.05, 0.1); }
    function test7_custom() { assertClose(1, 3, 1, "%s~%s vs %s"); }
}
''')
    assert outcomes(out) == {
        "test1_close": "Success",
        "test2_boundary_inclusive": "Success",
        "test3_negative_difference": "Success",
        "test4_too_far": "Failure: Expected value: 9±0.5, got: 10",
        "test5_small_tolerance": "Failure: Expected value: 1±0.1, got: 1.2",
        # math.fabs (1.2.3), not the integer math.abs of older versions: 0.05 is within 0.1
        "test6_small_tolerance_ok": "Success",
        "test7_custom": "Failure: 1~1 vs 3",
    }


# --- assertBetween --------------------------------------------------------------------------


def test_assert_between(tmp_path):
    _, out = run_case(tmp_path, r'''
class AssertBetween extends ImpTestCase {
    function test1_inside() { assertBetween(10, 9, 11); }
    function test2_low_edge() { assertBetween(9, 9, 11); }
    function test3_high_edge() { assertBetween(11, 9, 11); }
    function test4_swapped_bounds() { assertBetween(10, 11, 9); }
    function test5_below() { assertBetween(10, 11, 12); }
    function test6_below_swapped() { assertBetween(10, 12, 11); }
    function test7_above_float() { assertBetween(2.5, 0, 2); }
    function test8_custom() { assertBetween(5, 1, 2, "%s-%s: %s"); }
}
''')
    assert outcomes(out) == {
        "test1_inside": "Success",
        "test2_low_edge": "Success",
        "test3_high_edge": "Success",
        "test4_swapped_bounds": "Success",
        "test5_below": "Failure: Expected value the range of 11..12, got 10",
        "test6_below_swapped": "Failure: Expected value the range of 11..12, got 10",
        "test7_above_float": "Failure: Expected value the range of 0..2, got 2.5",
        "test8_custom": "Failure: 1-2: 5",
    }


# --- assertThrowsError ----------------------------------------------------------------------


def test_assert_throws_error(tmp_path):
    _, out = run_case(tmp_path, r'''
class AssertThrows extends ImpTestCase {
    function test1_throws_returns_value() {
        return assertThrowsError(function() { throw "boom"; }, this, []);
    }
    function test2_args_passed() {
        return assertThrowsError(function(a, b) { throw a + b; }, this, [20, 22]);
    }
    function test3_ctx_is_this() {
        local ctx = {tag = "ctx"};
        return assertThrowsError(function() { throw this.tag; }, ctx, []);
    }
    function test4_no_throw() {
        assertThrowsError(function(x) { return x; }, this, [1]);
    }
    function test5_custom_message() {
        assertThrowsError(function(x) { return x; }, this, [1], "should have thrown");
    }
    function test6_runtime_error_counts() {
        return assertThrowsError(function() { local t = {}; return t.missing; }, this, []);
    }
    // The default args array is shared and grows by one ctx per call that uses it (§1.2 quirk):
    // the first such call passes only ctx, so a zero-parameter function does not throw ...
    function test7_default_args_first_use() {
        assertThrowsError(function() { return 1; }, this);
    }
    // ... the next one passes ctx plus the stale ctx: "wrong number of parameters", a pass.
    function test8_default_args_second_use() {
        return assertThrowsError(function() { return 1; }, this);
    }
}
''')
    assert outcomes(out) == {
        "test1_throws_returns_value": "Success: boom",
        "test2_args_passed": "Success: 42",
        "test3_ctx_is_this": "Success: ctx",
        "test4_no_throw": "Failure: Function was expected to throw an error",
        "test5_custom_message": "Failure: should have thrown",
        "test6_runtime_error_counts": "Success: the index 'missing' does not exist",
        "test7_default_args_first_use": "Failure: Function was expected to throw an error",
        "test8_default_args_second_use": "Success: wrong number of parameters",
    }
    assert totals(out) == "Tests: 8, Assertions: 8, Failures: 3"


# --- assertDeepEqual ------------------------------------------------------------------------


def test_assert_deep_equal_impt_cases(tmp_path):
    """The cases of impt's own spec (test_run_asserts / fixtures/asserts/deep_equal): the path of
    c is 'b.c', its parent's path and its key, whichever sibling ('a') was visited before b
    (impUnit 1.2.3 with the 2021 path fix; older copies reported 'a.b.c')."""
    _, out = run_case(tmp_path, r'''
class TestCaseDeepEqualAsserts extends ImpTestCase {
    function testMissingSlot() {
        assertDeepEqual({ "a": 1, "b": { "c": 3 } }, { "a": 1, "b": {} });
    }
    function testExtraSlot() {
        assertDeepEqual({ "a": 1, "b": { "c": 3 } }, { "a": 1, "b": { "c": 3, "d": 4 } });
    }
    function testNotEqual() {
        assertDeepEqual({ "a": 1, "b": { "c": 3 } }, { "a": 1, "b": { "c": 100 } });
    }
    function testEqual() {
        assertDeepEqual({ "a": 1, "b": { "c": 3 } }, { "a": 1, "b": { "c": 3 } });
    }
}
''')
    assert outcomes(out) == {
        "testEqual": "Success",
        "testExtraSlot": "Failure: Comparison failed on 'b.d': expected none, got 4",
        "testMissingSlot": "Failure: Comparison failed on 'b.c': expected 3, got none",
        "testNotEqual": "Failure: Comparison failed on 'b.c': expected 3, got 100",
    }


def test_assert_deep_equal_path_names_only_the_ancestors(tmp_path):
    """Many siblings, some visited before the failing key whatever the table order: the path is
    still the chain of keys from the top (array indices included), never a sibling."""
    _, out = run_case(tmp_path, r'''
class DeepPaths extends ImpTestCase {
    function testSiblingsBefore() {
        assertDeepEqual({ a = 1, b = 2, c = 3, d = { e = [1, { f = 5 }] }, g = 7, h = 8 },
                        { a = 1, b = 2, c = 3, d = { e = [1, { f = 6 }] }, g = 7, h = 8 });
    }
    function testMissingDeep() {
        assertDeepEqual({ p = { q = 1, r = { s = 2 } }, t = 0 }, { p = { q = 1, r = {} }, t = 0 });
    }
}
''')
    assert outcomes(out) == {
        "testMissingDeep": "Failure: Comparison failed on 'p.r.s': expected 2, got none",
        "testSiblingsBefore": "Failure: Comparison failed on 'd.e.1.f': expected 5, got 6",
    }


def test_assert_deep_equal_details(tmp_path):
    _, out = run_case(tmp_path, r'''
class Thing {
    x = 1;
}
class DeepEqual extends ImpTestCase {
    function test01_scalars() { assertDeepEqual(1, 1); assertDeepEqual("s", "s"); assertDeepEqual(null, null); }
    function test02_arrays() { assertDeepEqual([1, [2, 3], {a = [4]}], [1, [2, 3], {a = [4]}]); }
    function test03_int_vs_float() { assertDeepEqual(1, 1.0); }
    function test04_table_vs_instance() { assertDeepEqual({x = 1}, Thing()); }
    function test05_longer_actual() { assertDeepEqual([1, 2], [1, 2, 3]); }
    function test06_shorter_actual() { assertDeepEqual([1, 2, 3], [1, 2]); }
    function test07_top_level_mismatch() { assertDeepEqual(1, 2); }
    function test08_instances_by_identity() { assertDeepEqual(Thing(), Thing()); }
    function test09_same_instance() { local t = Thing(); assertDeepEqual([t], [t]); }
    function test10_cycle() { local t = {}; t.self <- t; assertDeepEqual(t, t); }
    function test11_custom_message() { assertDeepEqual({k = 1}, {k = 2}, "at %s: %s vs %s"); }
    function test12_nested_array_type() { assertDeepEqual({v = [1]}, {v = [1.0]}); }
    function test13_blobs_same_bytes() { local a = blob(), b = blob(); a.writestring("hey"); b.writestring("hey"); assertDeepEqual(a, b); }
    function test14_blob_lengths() { local a = blob(), b = blob(); a.writestring("hey"); b.writestring("heya"); assertDeepEqual(a, b); }
    function test15_blob_contents() { local a = blob(), b = blob(); a.writestring("hey"); b.writestring("hex"); assertDeepEqual(a, b); }
    function test16_null_vs_value() { assertDeepEqual({n = null}, {n = 0}); }
    function test17_classes_iterated() { assertDeepEqual(Thing, Thing); }
}
''')
    got = outcomes(out)
    assert got["test01_scalars"] == "Success"
    assert got["test02_arrays"] == "Success"
    assert got["test03_int_vs_float"] == "Failure: Values are not the same type, typeof lhs = integer, typeof rhs = float"
    assert got["test04_table_vs_instance"] == "Failure: Values are not the same type, typeof lhs = table, typeof rhs = instance"
    assert got["test05_longer_actual"] == "Failure: Comparison failed on '2': expected none, got 3"
    assert got["test06_shorter_actual"] == "Failure: Comparison failed on '2': expected 3, got none"
    assert got["test07_top_level_mismatch"] == "Failure: Comparison failed on '': expected 1, got 2"
    assert re.fullmatch(r"Failure: Comparison failed on '': expected \(instance : 0x(?:0x)?[0-9a-f]+\), "
                        r"got \(instance : 0x(?:0x)?[0-9a-f]+\)", got["test08_instances_by_identity"])
    assert got["test09_same_instance"] == "Success"
    assert got["test10_cycle"] == "Failure: Possible cyclic reference at " + ".".join(["self"] * 33)
    assert got["test11_custom_message"] == "Failure: at k: 1 vs 2"
    assert got["test12_nested_array_type"] == "Failure: Values are not the same type, typeof lhs = integer, typeof rhs = float"
    # impsim decision (§1.3): blobs compare by content, as the imp's "meta" type() implies
    assert got["test13_blobs_same_bytes"] == "Success"
    assert got["test14_blob_lengths"] == "Failure: Blob lengths unequal, lhs.len() == 3, rhs.len() == 4"
    assert got["test15_blob_contents"] == ("Failure: Blobs are the same length (3 bytes), but the contents are "
                                           "not identical.")
    assert got["test16_null_vs_value"] == "Failure: Values are not the same type, typeof lhs = null, typeof rhs = integer"
    assert got["test17_classes_iterated"] == "Success"
    # assertDeepEqual counts once per call
    assert totals(out).startswith("Tests: 17, Assertions: 19, ")


# --- info -----------------------------------------------------------------------------------


def test_info_prints_json_of_value(tmp_path):
    _, out = run_case(tmp_path, r'''
class Info extends ImpTestCase {
    function testInfo() {
        this.info("hello");
        this.info();
        this.info(42);
        this.info(1.5);
        this.info(true);
        this.info(null);
        this.info([1, "a"]);
        this.info({k = "v"});
        this.info("quote \" and \\ and\nnewline");
    }
}
''')
    assert test_lines(out) == [
        "Info::testInfo()",
        '"hello"',
        '""',
        "42",
        "1.5",
        "true",
        "null",
        '[1,"a"]',
        '{"k":"v"}',
        '"quote \\" and \\\\ and\\nnewline"',
        "Success",
        "Tests: 1, Assertions: 0, Failures: 0",
    ]


# --- what a test returns or throws ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("return null;", "Success"),
        ('return "text";', "Success: text"),
        ("return 7;", "Success: 7"),
        ("return 2.5;", "Success: 2.5"),
        ("return false;", "Success: false"),
        ('return {a = [1, 2], b = "c"};', 'Success: {"a":[1,2],"b":"c"}'),
        ('throw "thrown text";', "Failure: thrown text"),
        ("throw 12;", "Failure: 12"),
        ("throw null;", "Failure: null"),
        ("throw {a = 1};", "Failure: [object Object]"),
        ("throw [1, 2];", "Failure: 1,2"),
        ("local t = {}; t.nothing();", "Failure: the index 'nothing' does not exist"),
    ],
)
def test_returned_and_thrown_values(tmp_path, body, line):
    _, out = run_case(tmp_path, f"class R extends ImpTestCase {{ function testIt() {{ {body} }} }}\n")
    assert outcomes(out) == {"testIt": line}
