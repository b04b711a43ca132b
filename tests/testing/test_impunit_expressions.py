"""Builder expressions: JS semantics without Python eval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.builder import BuildError, evaluate


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("1", 1),
        ("1.5", 1.5),
        ("1e3", 1000),
        ("'a\\'b'", "a'b"),
        ('"tab\\there"', "tab\there"),
        # jsep's escapes are \n \r \t \b \f \v; before anything else the backslash is dropped
        ('"\\u0041\\x42\\0\\q"', "u0041x420q"),
        ('"\\v\\f\\b\\r"', "\v\f\b\r"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("7.5 % 2", 1.5),
        ("2 - 5", -3),
        ("-(3)", -3),
        ("+'4'", "4"),  # Builder's unary + returns its operand unchanged
        ("+'4' + 1", "41"),
        ("-'4'", -4),
        ('"a" + 1', "a1"),
        ('1 + "a"', "1a"),
        ('"v" + 1 + 2', "v12"),
        ("1 + 2 + 'v'", "3v"),
        ('"x" + null + true', "xnulltrue"),
        ("'5' * '2'", 10),
        ("1 == 1.0", True),
        ("'1' == 1", True),
        ("null == null", True),
        ("null == 0", False),
        ("true == 1", True),
        ("'a' != 'b'", True),
        ("2 < 10", True),
        ("'2' < '10'", False),
        ("'2' < 10", True),
        ("'a' < 1", False),
        ("3 >= 3", True),
        ("3 <= 2", False),
        ("0 || 'x'", "x"),
        ("'' || 0", 0),
        ("1 && 'y'", "y"),
        ("0 && 'y'", 0),
        ("!0", True),
        ("!'0'", False),
        ("!''", True),
        ("!null", True),
        ("true ? 'a' : 'b'", "a"),
        ("0 ? 'a' : 1 ? 'b' : 'c'", "b"),
        ("[1, 2, 3][1]", 2),
        ("([1, 2, 3]).length", 3),
        ("[1, 2]['1']", 2),
        ("[[1, 2]][0].length", 2),
        ("min(3, 1, 2)", 1),
        ("max(3, '7', 2)", 7),
        ("abs(-4)", 4),
        ("escape('a\"b\\n')", 'a\\"b\\n'),
        ("base64('hi')", "aGk="),
        ("'hi' | base64", "aGk="),
        ("1 + 1 | escape", "2"),
        # jsep's precedence for the filter: below == (and +), above && and ||, inside ?:
        ("'a' || 'b' | base64", "a"),
        ("0 || 'hi' | base64", "aGk="),
        ("0 ? 1 : 'hi' | base64", "aGk="),
        ("1 == 1 | escape", "true"),
        ("3 | max(7, 5)", 7),
        ("'x' | escape | base64", "eA=="),
        ("1 // trailing comment", 1),
    ],
)
def test_values(expr, expected):
    result = evaluate(expr)
    assert result == expected
    assert type(result) is type(expected)


def test_variables_and_defined():
    v = {"A": 2, "S": "x", "T": {"k": [10, 20]}, "N": None}
    assert evaluate("A * 3", v) == 6
    assert evaluate("T.k[1] + T['k'][0]", v) == 30
    assert evaluate("UNDEFINED", v) is None
    assert evaluate("UNDEFINED == null", v) is True
    assert evaluate("defined(A)", v) is True
    assert evaluate("defined('S')", v) is True
    assert evaluate("defined(N)", v) is True  # defined, even though null
    assert evaluate("defined(NOPE)", v) is False
    with pytest.raises(BuildError, match="no member 'missing' in the object"):
        evaluate("T.missing", v)


@pytest.mark.parametrize(
    "expr, check",
    [
        # Builder refuses the number zero as a divisor; anything else is JS division
        ("1 / '0'", lambda x: x == math.inf),
        ("-1 / '0'", lambda x: x == -math.inf),
        ("0 / null", lambda x: math.isnan(x)),
        ("5 % '0'", lambda x: math.isnan(x)),
        ("'abc' * 2", lambda x: math.isnan(x)),
        ("min()", lambda x: x == math.inf),
    ],
)
def test_js_special_numbers(expr, check):
    assert check(evaluate(expr))


@pytest.mark.parametrize(
    "expr, text",
    [
        ("0.1 + 0.2", "0.30000000000000004"),
        ("1e21", "1e+21"),
        ("1e-7", "1e-7"),
        ("0.00001", "0.00001"),
        ("123456789012345680000", "123456789012345680000"),
        ("1 / '0'", "Infinity"),
        ("0 / '0'", "NaN"),
        ("2.50", "2.5"),
        ("[1, null, 'a']", "1,,a"),
    ],
)
def test_number_formatting_like_js(tmp_path, expr, text):
    from impapi.builder import Builder

    src = tmp_path / "f.nut"
    src.write_text(f"@{{{expr}}}\n")
    assert Builder(home=tmp_path, env={}, line_control=False).build_file(src).text == text + "\n"


@pytest.mark.parametrize(
    "expr, message",
    [
        ("1 +", "unexpected the end"),
        ("(1", "expected ')'"),
        ("'abc", "unterminated string"),
        ("1 2", "unexpected 2"),
        ("foo(1)", "unknown function foo()"),
        ("a.b()", "only named functions"),
        ("#", "unexpected character"),
        ("null.x", "cannot read member"),
        ("defined(1)", "defined() takes a variable name"),
        ("", "missing expression"),
        # what Builder 4.2 (jsep 0.3 without some operators) refuses
        ("1 | 2", "a filter name must follow '|'"),
        ("0x1F", "Builder has no hexadecimal literals"),
        ("12abc", "a number cannot run into a name"),
        ("1e", "a number cannot run into a name"),
        ("1 === 1", "=== is not an operator in Builder expressions"),
        ("1 !== 2", "!== is not an operator in Builder expressions"),
        ("1 / 0", "division by zero"),
        ("1 / 0.0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("'abc'.length", "cannot read member 'length' of a string"),
        ("'abc'[1]", "cannot read member '1' of a string"),
        ("(1).x", "cannot read member 'x' of a number"),
        ("[1][5]", "no member '5' in the array"),
        ("[1]['-0']", "no member '-0' in the array"),
        ("''.x", "cannot read member 'x' of an empty string"),
        ("(0)[0]", "cannot read member '0' of 0"),
    ],
)
def test_errors(expr, message):
    with pytest.raises(BuildError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expr)


ints = st.integers(min_value=-10**6, max_value=10**6)


@given(ints, ints)
def test_integer_arithmetic_matches_python(a, b):
    assert evaluate(f"{a} + {b}") == a + b
    assert evaluate(f"{a} - {b}") == a - b
    assert evaluate(f"{a} * {b}") == a * b
    assert evaluate(f"{a} < {b}") == (a < b)
    assert evaluate(f"{a} == {b}") == (a == b)
    assert evaluate(f"'{a}' == {b}") == (a == b)
    if b:
        assert evaluate(f"{a} % {b}") == int(math.fmod(a, b))
        assert evaluate(f"{a} / {b}") == pytest.approx(a / b)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_string_literal_round_trip(s):
    literal = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    assert evaluate(literal) == s
    assert evaluate(literal + " + ''") == s
