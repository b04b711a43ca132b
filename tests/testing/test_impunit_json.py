"""impsim's JSONEncoder.nut against the electricimp JSONEncoder 2.x API and documented output."""

from __future__ import annotations

import json

import pytest

from impapi.simulation import Simulation
from impapi.testing.session import BUILTIN_LIBRARIES

ENCODER = BUILTIN_LIBRARIES["JSONEncoder.class.nut"].read_text(encoding="utf-8")


def encode(expression: str, prelude: str = "", side: str = "agent") -> str:
    code = ENCODER + prelude + f"\nserver.log(JSONEncoder.encode({expression}));\n"
    sim = Simulation(**{side: code})
    sim.run(for_="5s")
    logs = [e for e in sim.log if e.type in ("agent.log", "server.log", "agent.error", "server.error")]
    assert len(logs) == 1 and not logs[0].is_error, logs
    return logs[0].text


@pytest.mark.parametrize(("expression", "expected"), [
    ("null", "null"),
    ("true", "true"),
    ("false", "false"),
    ("123", "123"),
    ("-7", "-7"),
    ("5.125", "5.125"),
    ('"plain"', '"plain"'),
    ('"q\\"b\\\\s/"', '"q\\"b\\\\s/"'),
    ('"\\n\\r\\t\\x08\\x0c\\x01"', '"\\n\\r\\t\\b\\f\\u0001"'),
    ("[]", "[]"),
    ("[1, [2, []], null]", "[1,[2,[]],null]"),
    ("{}", "{}"),
    ('{ "one": 1 }', '{"one":1}'),
])
def test_values(expression, expected):
    assert encode(expression) == expected


def test_readme_extended_example_and_library_test():
    """The README's extended example and the library's own Basic test (same expected text)."""
    prelude = r'''
class A {
    _field = 123;
    function _serialize() { return { field = this._field }; }
}
local someblob = blob();
someblob.writestring("a\ta");
data <- {
    a = 123,
    b = [1, 2, 3, 4],
    c = A,
    d = 5.125,
    e = A(),
    f = null,
    g = true,
    h = "Some\nùnicode\rstring ø∆ø",
    i = someblob
};
'''
    assert encode("data", prelude) == (
        '{"a":123,"c":{"_field":123},"b":[1,2,3,4],"e":{"field":123},"d":5.125,"g":true,"f":null,'
        '"i":"a\\ta","h":"Some\\nùnicode\\rstring ø∆ø"}')


def test_serialize_raw():
    prelude = 'class A { function _serializeRaw() { return "12345678901234567890"; } }\n'
    assert encode("[ A() ]", prelude) == "[12345678901234567890]"


def test_custom_iterator():
    prelude = r'''
class C {
    field = 123;
    function _nexti(p) { if (p == null) return 0; if (p < 1) return p + 1; return null; }
    function _get(i) { return "c"; }
}
'''
    assert encode("{c = C()}", prelude) == '{"c":{"0":"c","1":"c"}}'


def test_instance_members_without_functions_and_inherited_fields():
    prelude = r'''
class Base { x = 1; function method() {} }
class Derived extends Base { y = "two"; }
local d = Derived();
d.x = 10;
'''
    assert json.loads(encode("d", prelude)) == {"x": 10, "y": "two"}


def test_functions_are_left_out_of_tables():
    assert encode('{a = 1, f = function() {}}') == '{"a":1}'
    assert encode('[1, @() 2]').startswith('[1,"(function : 0x')


def test_table_order_and_keys():
    assert encode("{[1] = 2, b = 3}") in ('{"1":2,"b":3}', '{"b":3,"1":2}')
    assert json.loads(encode("{a = {b = {c = [true]}}}")) == {"a": {"b": {"c": [True]}}}


def test_cycle_is_an_error_not_a_crash():
    code = ENCODER + r'''
local t = {};
t.t <- t;
try { JSONEncoder.encode(t); } catch (e) { server.log("caught: " + e); }
'''
    sim = Simulation(agent=code)
    sim.run(for_="1s")
    assert [e.text for e in sim.log if e.type == "agent.log"] == [
        "caught: JSONEncoder: nesting too deep (a reference cycle?)"]


def test_on_the_device_too():
    assert encode('{list = [1.5, "x"]}', side="device") == '{"list":[1.5,"x"]}'


def test_version():
    assert encode("JSONEncoder.VERSION") == '"2.0.0"'
