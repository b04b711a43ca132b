"""Values both ways: round trips through the root table, through a Squirrel function called from
Python and through a Python function called from Squirrel, for every convertible type."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

import squirrel
from squirrel import to_python

from binding_helpers import INT_RANGE, expected, f32

DIALECTS = ["imp", "standard"]


class Trip:
    """One VM and the three ways a value can travel through it."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.vm = squirrel.VM(dialect)
        self.received: list = []
        self.vm.root["pyid"] = lambda x: x
        self.vm.root["record"] = lambda x: self.received.append(to_python(x))
        self.sq_identity = self.vm.compile("return function(x) { return x; }")()
        self.through_python = self.vm.compile("return function(x) { return pyid(x); }")()
        self.record = self.vm.compile("return function(x) { record(x); }")()
        self.n = 0

    def via_root(self, value):
        self.n += 1
        key = f"k{self.n}"
        self.vm.root[key] = value
        try:
            return to_python(self.vm.root[key])
        finally:
            del self.vm.root[key]

    def via_squirrel_function(self, value):
        return to_python(self.sq_identity(value))

    def via_python_function(self, value):
        return to_python(self.through_python(value))

    def as_seen_by_python_native(self, value):
        self.received.clear()
        self.record(value)
        return self.received[0]


@pytest.fixture(scope="module", params=DIALECTS)
def trip(request):
    t = Trip(request.param)
    yield t
    t.vm.close()


PATHS = ["via_root", "via_squirrel_function", "via_python_function", "as_seen_by_python_native"]


def scalars(dialect: str):
    lo, hi = INT_RANGE[dialect]
    return (st.none() | st.booleans() | st.integers(lo, hi) | st.floats(allow_nan=False)
            | st.text() | st.binary())


def values(dialect: str):
    lo, hi = INT_RANGE[dialect]
    # Keys that stay distinct in both languages (Python merges 1, 1.0 and True; Squirrel does not).
    keys = st.text(max_size=8) | st.integers(lo, hi)
    return st.recursive(
        scalars(dialect),
        lambda children: st.lists(children, max_size=5) | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=5),
        max_leaves=20,
    )


def same(a, b) -> bool:
    """Equality that also tells bytes from str and bool from int, at any depth."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_round_trip(trip, path, data):
    value = data.draw(values(trip.dialect))
    got = getattr(trip, path)(value)
    assert same(got, expected(value)), (value, got)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=50, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=True))
def test_floats_are_float32(trip, path, x):
    got = getattr(trip, path)(x)
    assert type(got) is float
    assert got == f32(x)


@pytest.mark.parametrize("path", PATHS)
def test_nan(trip, path):
    assert math.isnan(getattr(trip, path)(math.nan))


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=50, deadline=None)
@given(st.text())
def test_str_utf8(trip, path, s):
    assert getattr(trip, path)(s) == s


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("s", ["", "a\x00b", "\x00", "é", "€", "\U0001F600", "x\U00010348\x00y", "\uffff"])
def test_str_edge_cases(trip, path, s):
    got = getattr(trip, path)(s)
    assert type(got) is str and got == s


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("b", [b"\xff", b"\x00\xff\x00", b"\xc0\x80", b"\xed\xa0\x80", bytes(range(256))])
def test_non_utf8_bytes_come_back_as_bytes(trip, path, b):
    got = getattr(trip, path)(b)
    assert type(got) is bytes and got == b


@pytest.mark.parametrize("path", PATHS)
def test_utf8_bytes_come_back_as_str(trip, path):
    assert getattr(trip, path)(b"caf\xc3\xa9\x00") == "café\x00"


def test_squirrel_strings_keep_nul_and_length(trip):
    assert trip.vm.run(r'return "a\x00b"') == "a\x00b"
    assert trip.vm.run(r'local s = "a\x00b"; return s.len()') == 3
    assert trip.vm.run(r'return "\xff\x00"') == b"\xff\x00"


def test_string_length_seen_by_squirrel(trip):
    trip.vm.root["s"] = "\U0001F600\x00"
    assert trip.vm.run("return s.len()") == 5  # UTF-8 bytes, NUL included


@pytest.mark.parametrize("dialect", DIALECTS)
def test_int_range_limits_round_trip(dialect):
    lo, hi = INT_RANGE[dialect]
    with squirrel.VM(dialect) as vm:
        f = vm.compile("return function(x) { return x; }")()
        for v in (lo, hi, 0, -1):
            vm.root["v"] = v
            assert vm.root["v"] == v
            assert f(v) == v


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_out_of_range_ints_raise_overflow(dialect, side):
    lo, hi = INT_RANGE[dialect]
    bad = lo - 1 if side == "below" else hi + 1
    with squirrel.VM(dialect) as vm:
        f = vm.compile("return function(x) { return x; }")()
        with pytest.raises(OverflowError):
            vm.root["v"] = bad
        assert "v" not in vm.root
        with pytest.raises(OverflowError):
            f(bad)
        with pytest.raises(OverflowError):
            f([1, {"deep": [bad]}])
        with pytest.raises(OverflowError):
            vm.root["t"] = {"k": bad}
        vm.root["big"] = lambda: bad
        with pytest.raises(OverflowError):
            vm.run("return big()")
        # The script sees it as an error it can catch, like any error of a native.
        assert vm.run("try { big() } catch (e) { return e }").startswith("OverflowError")
        assert vm.run("return 1 + 1") == 2


@settings(max_examples=100, deadline=None)
@given(st.integers())
def test_any_python_int_either_fits_or_overflows(x):
    with squirrel.VM("imp") as vm:
        lo, hi = INT_RANGE["imp"]
        if lo <= x <= hi:
            vm.root["x"] = x
            assert vm.root["x"] == x
        else:
            with pytest.raises(OverflowError):
                vm.root["x"] = x


def test_bool_stays_bool_and_int_stays_int(trip):
    assert trip.via_squirrel_function(True) is True
    assert trip.via_squirrel_function(False) is False
    assert type(trip.via_squirrel_function(1)) is int
    trip.vm.root["b"] = True
    trip.vm.root["i"] = 1
    assert trip.vm.run("return [typeof b, typeof i, typeof 1.5]") == ["bool", "integer", "float"]


def test_types_seen_by_squirrel(trip):
    trip.vm.root["v"] = [None, True, 1, 1.5, "s", b"\xff", [1], {"a": 1}, (1, 2), lambda: 1]
    assert trip.vm.run("local r = []; foreach (x in v) r.append(typeof x); return r") == [
        "null", "bool", "integer", "float", "string", "string", "array", "table", "array", "function"]


def test_nested_structure(trip):
    value = {"list": [1, [2, [3, {"x": None}]]], "t": {"u": {"v": b"\xff\x00"}}, "f": 0.5, "e": {}, "l": []}
    for path in PATHS:
        assert getattr(trip, path)(value) == expected(value)


def test_dict_keys_of_several_types(trip):
    trip.vm.root["t"] = {1: "one", "1": "string one", -5: "neg"}
    assert trip.vm.run('return [t[1], t["1"], t[-5]]') == ["one", "string one", "neg"]


def test_unconvertible_values_raise_type_error(trip):
    for bad in (object(), {1, 2}, 1j):
        with pytest.raises(TypeError):
            trip.vm.root["bad"] = bad
        with pytest.raises(TypeError):
            trip.sq_identity(bad)
    with pytest.raises(TypeError):
        trip.vm.root["bad"] = [1, object()]
    assert "bad" not in trip.vm.root


def test_table_keys_must_not_be_null(trip):
    with pytest.raises((KeyError, squirrel.SquirrelError)):
        trip.vm.root["t"] = {None: 1}


def test_bool_and_int_subclasses_and_bytearray(trip):
    import enum

    class Color(enum.IntEnum):
        RED = 3

    assert trip.via_squirrel_function(Color.RED) == 3
    assert trip.via_squirrel_function(bytearray(b"\xff\x01")) == b"\xff\x01"
    assert trip.via_squirrel_function(memoryview(b"ab")) == "ab"


def test_containers_become_proxies_until_converted(trip):
    t = trip.sq_identity({"a": [1, 2]})
    assert isinstance(t, squirrel.Table)
    assert isinstance(t["a"], squirrel.Array)
    assert t.to_python() == {"a": [1, 2]}
    # run() and eval() convert the result deeply.
    assert trip.vm.run("return {a = [1, 2]}") == {"a": [1, 2]}
    assert trip.vm.eval("[1, [2]]") == [1, [2]]


def test_proxies_round_trip_as_the_same_object(trip):
    t = trip.vm.compile("return {x = 1}")()
    assert trip.sq_identity(t) == t
    assert trip.through_python(t) == t
    trip.vm.root["same"] = t
    assert trip.vm.root["same"] == t


def test_proxy_cannot_move_to_another_vm(trip):
    t = trip.vm.compile("return {x = 1}")()
    with squirrel.VM() as other:
        with pytest.raises(ValueError):
            other.root["t"] = t


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5000])
def test_strings_of_every_size(trip, path, size):
    # Short strings cross through a fixed buffer, long ones through pointers: both must agree.
    s = ("é\x00" * size)[:size]
    assert getattr(trip, path)(s) == s
    b = (b"\xff\x00" * size)[:size]
    assert getattr(trip, path)(b) == expected(b)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 17, 64, 65, 300])
def test_many_mixed_arguments_both_ways(trip, n):
    # Several strings in one call (their bytes travel packed together), mixed with other types,
    # below and above the fast path's slot count.
    args = [(f"s{i}" * (i % 7)) if i % 3 == 0 else (i if i % 3 == 1 else i + 0.5) for i in range(n)]
    seen = []
    trip.vm.root["collect"] = lambda *a: seen.append(a) or list(a)
    collect = trip.vm.compile("return function(...) { local a = [this]; a.extend(vargv); return collect.acall(a); }")()
    assert to_python(collect(*args)) == [expected(a) for a in args]
    assert list(seen[-1]) == [expected(a) for a in args]
    identity = trip.vm.compile("return function(...) { return vargv; }")()
    assert to_python(identity(*args)) == [expected(a) for a in args]
