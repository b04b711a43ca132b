"""impapi.language on the agent: http.json*/url*/base64*, regexp2 (imp-api.md §9.2–§9.3, §3.6)."""

from __future__ import annotations

import json
import random

import pytest

import squirrel
from impapi.language import install_language
from impapi.language.web import REGEXP2_UNINITIALISED


def make(side: str = "agent") -> squirrel.VM:
    vm = squirrel.VM(dialect="imp")
    install_language(vm, side=side, now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    return vm


@pytest.fixture
def vm():
    v = make()
    yield v
    v.close()


def error_of(vm: squirrel.VM, source: str) -> str:
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(source)
    return str(info.value)


HTTP = ["jsonencode", "jsondecode", "urlencode", "urldecode", "base64encode", "base64decode"]


def test_http_members_agent_only():
    """General caveats (sides) + §9.2: http and regexp2 exist on the agent only; crypto on both."""
    device = make("device")
    assert device.run('return ["http" in getroottable(), "regexp2" in getroottable(), "crypto" in getroottable()]') == \
        [False, False, True]
    agent = make("agent")
    for name in HTTP:
        assert agent.run(f'return typeof http.{name}') == "function", name


def test_existing_http_table_is_extended():
    """§3 (runtime contract): an http table the runtime made keeps its members."""
    vm = squirrel.VM(dialect="imp")
    vm.run("http <- { agenturl = @() \"https://agent/x\" }")
    install_language(vm, side="agent", now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    assert vm.run("return [http.agenturl(), http.jsonencode(1)]") == ["https://agent/x", "1"]


# -- jsonencode --------------------------------------------------------------------------------

def test_jsonencode_scalars(vm):
    """§3.6/D:api/http/jsonencode: null, bool, integer, float, string encode; floats as Squirrel
    prints them."""
    assert vm.run('return [http.jsonencode(null), http.jsonencode(true), http.jsonencode(-42), '
                  'http.jsonencode(2.5), http.jsonencode(1.0), http.jsonencode(1.0/3), '
                  'http.jsonencode("a\\"b\\\\c\\n\\u00e9")]') == \
        ["null", "true", "-42", "2.5", "1", "0.333333", '"a\\"b\\\\c\\né"']


def test_jsonencode_table_order_is_squirrel_iteration_order(vm):
    """§3.6 + DESIGN (3.1's hash reproduces the imp's order): keys come in table iteration order,
    the same order foreach sees (the order electricimp/JSONEncoder's agent test records)."""
    src = """local t = {a = 123, b = [1, 2, 3, 4], c = 1, d = 5.125, e = 2, f = null, g = true, h = "s", i = 3};
             local keys = []; foreach (k, v in t) keys.append(k);
             return [http.jsonencode(t, {compact = true}), keys]"""
    text, keys = vm.run(src)
    assert list(json.loads(text)) == keys
    assert keys == ["a", "c", "b", "e", "d", "g", "f", "i", "h"]
    assert text == '{"a":123,"c":1,"b":[1,2,3,4],"e":2,"d":5.125,"g":true,"f":null,"i":3,"h":"s"}'


def test_jsonencode_compact_setting(vm):
    """General caveats (http is agent-only) + D:api/http/jsonencode: settings.compact (default false) removes whitespace between keys,
    values and pairs; the non-compact layout is our documented choice."""
    assert vm.run('return http.jsonencode({k = [1, {x = "a b"}]}, {compact = true})') == '{"k":[1,{"x":"a b"}]}'
    assert vm.run('return http.jsonencode({k = [1, {x = "a b"}]})') == '{"k": [1, {"x": "a b"}]}'
    assert vm.run('return http.jsonencode({k = [1, 2]}, {compact = false})') == '{"k": [1, 2]}'
    assert vm.run('return [http.jsonencode({}), http.jsonencode([])]') == ["{}", "[]"]


def test_jsonencode_non_string_keys(vm):
    """General caveats (http is agent-only) + D:api/http/jsonencode: keys are written as strings (integer keys as their digits)."""
    assert json.loads(vm.run('local t = {}; t[1] <- "one"; t[2.5] <- 2; return http.jsonencode(t)')) == \
        {"1": "one", "2.5": 2}


@pytest.mark.parametrize("value", ["blob(2)", "function() {}", "class {}", "(class {})()", "[1, blob(1)]"])
def test_jsonencode_unserialisable_raises(vm, value):
    """General caveats (http is agent-only) + D:api/http/jsonencode + §3.6: blobs, functions, classes and instances are not encodable."""
    assert "cannot encode" in error_of(vm, f"return http.jsonencode({value})")


def test_jsonencode_cycle_raises(vm):
    """§3.6: a table containing itself has no JSON form (an error, not a hang)."""
    assert "contains itself" in error_of(vm, "local t = {}; t.me <- t; return http.jsonencode(t)")
    assert vm.run("local s = [1]; return http.jsonencode({a = s, b = s}, {compact = true})") in \
        ('{"a":[1],"b":[1]}', '{"b":[1],"a":[1]}')


def test_jsonencode_text_must_fit_the_memory_left():
    """The JSON text (and urlencode's) is a string the agent must hold: text past the VM's free memory is out of
    memory, found as it is written -- a table that holds the same table twice at every level
    (2^24 copies when expanded) stops at once instead of being expanded for minutes."""
    vm = make()
    vm.memory_limit = vm.memory_used + (256 << 10)
    assert vm.run('return http.jsonencode(array(1000, "abc")).len()') == 1000 * 7 - 2 + 2
    for source in ('local t = {a = 1}; for (local i = 0; i < 24; i++) t = {x = t, y = t}; return http.jsonencode(t)',
                   'local s = blob(4000).tostring(); return http.jsonencode(array(1000, s), {compact = true})',
                   'local s = blob(4000).tostring(); return http.urlencode({a = array(1000, s)})'):
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run(source)
        assert vm.run("return 1") == 1
    vm.close()


def test_jsonencode_writes_a_shared_table_in_full_each_time_it_appears(vm):
    """JSON has no references: a table met twice is written twice, exactly as a copy would be,
    and the nesting limit counts where each appearance sits."""
    shared = vm.run('''local t = {a = [1, "x"]}; local v = null;
                     for (local i = 0; i < 6; i++) v = {x = v, y = [v, t], z = t};
                     return http.jsonencode(v)''')
    copied = vm.run('''local v = null;
                     for (local i = 0; i < 6; i++) v = {x = clone_deep(v), y = [clone_deep(v), {a = [1, "x"]}], z = {a = [1, "x"]}};
                     return http.jsonencode(v)'''.replace("clone_deep(v)", "(v == null ? null : http.jsondecode(http.jsonencode(v)))"))
    assert json.loads(shared) == json.loads(copied) and len(shared) == len(copied)
    assert "nested more than 256 deep" in error_of(vm, '''local s = [[1]]; local d = s;
        for (local i = 0; i < 254; i++) d = [d]; return http.jsonencode([s, d])''')
    assert vm.run('''local s = [[1]]; local d = s;
        for (local i = 0; i < 253; i++) d = [d]; return http.jsonencode([s, d]).len()''') > 0


def test_jsonencode_without_a_memory_limit_stops_at_16_mb():
    """A VM with no memory limit (never an agent's) still bounds the text it writes."""
    vm = make()
    with pytest.raises(squirrel.MemoryLimitError):
        vm.run('local t = {a = "' + "x" * 64 + '"}; for (local i = 0; i < 24; i++) t = {x = t, y = t}; '
               'return http.jsonencode(t)')
    vm.close()


def test_jsonencode_binary_string_passes_through(vm):
    """§3.6: strings are bytes; non-UTF-8 bytes are written unchanged."""
    assert vm.run('local s = http.jsonencode("\\xff\\x01"); return [s.len(), s[1], s[2]]') == [9, 0xFF, ord("\\")]


# -- jsondecode -------------------------------------------------------------------------------

def test_jsondecode(vm):
    """General caveats (http is agent-only) + D:api/http/jsondecode: JSON text to tables, arrays, strings, numbers, bool, null."""
    r = vm.run(r'return http.jsondecode("{\"a\": [1, 2.5, \"x\", true, null], \"b\": {\"c\": -3}, \"u\": \"\\u00e9\"}")')
    assert r == {"a": [1, 2.5, "x", True, None], "b": {"c": -3}, "u": "é"}
    assert vm.run('return typeof http.jsondecode("{}")') == "table"
    assert vm.run('local v = http.jsondecode("[4]"); return [typeof v, typeof v[0]]') == ["array", "integer"]


def test_jsondecode_big_integers_become_floats(vm):
    """§9.1: integers are 32-bit, so larger JSON integers decode as floats."""
    assert vm.run('local v = http.jsondecode("[2147483647, 2147483648]"); return [typeof v[0], typeof v[1]]') == \
        ["integer", "float"]


def test_jsondecode_bad_input_raises(vm):
    """General caveats (http is agent-only) + D:api/http/jsondecode: invalid JSON is a runtime error."""
    assert "invalid JSON" in error_of(vm, 'return http.jsondecode("{bad")')
    assert "string expected" in error_of(vm, "return http.jsondecode(1)")


def test_json_roundtrip(vm):
    """§3.6: jsondecode(jsonencode(v)) gives v back for serialisable values."""
    assert vm.run('local v = {a = [1, "x", {b = null}], c = false}; '
                  'local w = http.jsondecode(http.jsonencode(v)); return [w.a[1], w.a[2].b, w.c, w.len()]') == \
        ["x", None, False, 2]


# -- urlencode / urldecode ----------------------------------------------------------------------

def test_urlencode(vm):
    """General caveats (http is agent-only) + D:api/http/urlencode: RFC 3986 escaping of keys and values, arrays as repeated keys."""
    text = vm.run('return http.urlencode({q = "a b&c=d/é", n = 5, f = 1.5, arr = [1, "two"]})')
    fields = {k: v for k, v in (p.split("=") for p in text.split("&")) if k != "arr"}
    assert fields == {"q": "a%20b%26c%3Dd%2F%C3%A9", "n": "5", "f": "1.5"}
    assert [p for p in text.split("&") if p.startswith("arr=")] == ["arr=1", "arr=two"]
    assert vm.run('return http.urlencode({k = "-._~"})') == "k=-._~"


def test_urlencode_null_like_the_imp(vm):
    """General caveats (http is agent-only) + D:api/http/urlencode: null encodes as the documented "(null : (nil))"."""
    assert vm.run('return http.urlencode({foo = null})') == "foo=%28null%20%3A%20%28nil%29%29"


def test_urlencode_rejects_nested(vm):
    """General caveats (http is agent-only) + D:api/http/urlencode: arrays may not be nested; tables are not values."""
    assert "cannot encode" in error_of(vm, "return http.urlencode({a = [[1]]})")
    assert "cannot encode" in error_of(vm, "return http.urlencode({a = {}})")
    assert "table expected" in error_of(vm, 'return http.urlencode("x")')


def test_urldecode(vm):
    """General caveats (http is agent-only) + D:api/http/urldecode: a table of strings; a repeated field gives an array of its values."""
    assert vm.run('return http.urldecode("a=1&b=x+y%21&c=&d&a=2&e=%C3%A9")') == \
        {"a": ["1", "2"], "b": "x y!", "c": "", "d": "", "e": "é"}
    assert vm.run('return http.urldecode("")') == {}


def test_url_roundtrip(vm):
    """General caveats (http is agent-only) + D:api/http/urlencode + urldecode are inverse for string values."""
    assert vm.run('return http.urldecode(http.urlencode({k = "a b/c?d", r = ["1", "2"]}))') == \
        {"k": "a b/c?d", "r": ["1", "2"]}


# -- base64 --------------------------------------------------------------------------------------

def test_base64(vm):
    """General caveats (http is agent-only) + D:api/http/base64encode/decode: string or blob in, string out; decode gives a blob."""
    assert vm.run('return http.base64encode("hello")') == "aGVsbG8="
    assert vm.run('local b = blob(3); b[0] = 0xFF; return http.base64encode(b)') == "/wAA"
    assert vm.run('local b = http.base64decode("aGVsbG8="); return [typeof b, b.tostring(), b.tell()]') == \
        ["blob", "hello", 0]
    assert vm.run('return http.base64decode("aGVsbG8").tostring()') == "hello"
    assert vm.run('return http.base64encode(http.base64decode("-_8="))') == "+/8="
    assert vm.run('local b = http.base64decode("*!*"); return [typeof b, b.len()]') == ["blob", 0]


def test_base64decode_of_data_that_is_not_base64_is_an_empty_blob(vm):
    """D:api/http/base64decode: "a zero-length blob if the data is not valid Base64", not an
    error. A Basic authorization header that is not Base64 ("Basic wrong") then yields no
    credentials instead of stopping the request handler."""
    assert vm.run('''
        local out = [];
        foreach (s in ["wrong", "a", "abcde", "ab$d", "====", "Zm9v=Zm9v"]) {
            local b = http.base64decode(s);
            out.push(typeof b + ":" + b.len());
        }
        return out;''') == ["blob:0"] * 6
    assert vm.run('return split(http.base64decode("wrong").tostring(), ":").len()') == 0
    assert "string or blob expected" in error_of(vm, "return http.base64decode(12)")


# -- regexp2 ----------------------------------------------------------------------------------------

def test_regexp2_methods(vm):
    """§9.3/D:squirrel/regexp2: match (whole string), search and capture ({begin, end}, byte
    offsets), subexpcount; typeof "regexp2"."""
    r = vm.run(r'''local r = regexp2(@"(\w+)@(\w+)\.com");
        return [r.match("me@ex.com"), r.match("x me@ex.com"), r.search("to: me@ex.com"), r.search("none"),
                r.capture("é me@ex.com"), r.subexpcount(), r.search("a@b.com c@d.com", 8), typeof r]''')
    assert r == [True, False, {"begin": 4, "end": 13}, None,
                 [{"begin": 3, "end": 12}, {"begin": 3, "end": 5}, {"begin": 6, "end": 8}], 3,
                 {"begin": 8, "end": 15}, "regexp2"]


def test_regexp2_re2_syntax(vm):
    """§9.3 + D:node/2350: POSIX-style classes and escapes (\\d, \\s, {n,m}, (?:...), \\A, \\z)."""
    assert vm.run(r'return [regexp2(@"\A\d{2,3}\s*(?:kb|mb)\z").match("128 kb"), regexp2(@"[a-c]+").search("xxbca")]') == \
        [True, {"begin": 2, "end": 5}]


def test_regexp2_unmatched_group(vm):
    """§9.3 + D:squirrel/regexp2 (silent): an optional group that did not take part captures as -1/-1."""
    assert vm.run(r'return regexp2(@"a(b)?").capture("a")') == [{"begin": 0, "end": 1}, {"begin": -1, "end": -1}]


def test_regexp2_errors(vm):
    """§9.3 + D:node/2350: a bad expression raises; expressions are limited to 256 characters."""
    assert "invalid expression" in error_of(vm, 'return regexp2("(")')
    assert "longer than 256" in error_of(vm, 'return regexp2(format("%s", "' + "a" * 300 + '"))')


def test_regexp2_of_a_subclass_that_skips_its_base_constructor_raises(vm):
    """§9.3 (inferred, as the stock regexp's own message): a subclass whose constructor never calls
    base.constructor(pattern) holds no expression; each method throws a catchable Squirrel error
    that says so, and so does an instance whose expression the app overwrote with a non-string."""
    vm.run("class R extends regexp2 { constructor() {} }")
    for call in ('R().match("a")', 'R().search("a")', 'R().capture("a")', "R().subexpcount()",
                 'local r = regexp2("a"); r._re = 5; r.match("a")'):
        assert REGEXP2_UNINITIALISED in error_of(vm, call)


def test_http_wrong_argument_count(vm):
    """§10: a wrong argument count to an http function is an ordinary, catchable Squirrel error."""
    assert "wrong number of parameters" in error_of(vm, "return http.jsondecode()")
    assert "wrong number of parameters" in error_of(vm, 'return http.base64encode("a", "b")')
    assert vm.run('try { http.urlencode() } catch (e) { return e }') == "wrong number of parameters"
