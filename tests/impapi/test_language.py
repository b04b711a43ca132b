"""impapi.language: globals, maths, time, numbers and strings of the imp's Squirrel dialect.

Blob tests are in test_language_blob.py, the agent's http/crypto/regexp2 in test_language_agent.py.
Each test names the imp-api.md section it checks."""

from __future__ import annotations

import datetime
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import squirrel
from impapi.language import OPS, RAND_MAX, install_language, web
from impapi.language.prelude import LAZY

EPOCH_US = 1_700_000_000_250_000  # 2023-11-14 22:13:20.25 UTC at virtual time 0


def make(side: str = "device", *, now_us: int = 0, epoch_us: int = EPOCH_US, uptime_us: int = 0,
         seed: int = 1, dialect: str = "imp", **kw) -> squirrel.VM:
    vm = squirrel.VM(dialect=dialect)
    install_language(vm, side=side, now_us=lambda: now_us, epoch_us=epoch_us,
                     uptime_us=lambda: uptime_us, rng=random.Random(seed), **kw)
    return vm


def error_of(vm: squirrel.VM, source: str) -> str:
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(source)
    return str(info.value)


@pytest.fixture
def vm():
    v = make()
    yield v
    v.close()


# -- §9.2 globals ---------------------------------------------------------------------------

REMOVED = ["setroottable", "getconsttable", "setconsttable", "compilestring", "newthread", "suspend",
           "setdebughook", "seterrorhandler", "getstackinfos"]
IO_SYSTEM = ["file", "dofile", "loadfile", "writeclosuretofile", "getenv", "system", "remove", "rename"]
PRESENT = ["getroottable", "assert", "print", "error", "array", "type", "callee", "dummy", "format",
           "split", "strip", "lstrip", "rstrip", "regexp", "time", "date", "clock", "swap2", "swap4",
           "swapfloat", "castf2i", "casti2f", "blob", "math"]


@pytest.mark.parametrize("side", ["device", "agent"])
@pytest.mark.parametrize("name", REMOVED + IO_SYSTEM)
def test_removed_globals_are_absent(side, name):
    """§9.2: setroottable … getstackinfos and all file/stream/system I/O are removed on the imp."""
    vm = make(side)
    assert vm.run(f'return "{name}" in getroottable()') is False
    assert f"the index '{name}' does not exist" in error_of(vm, f"return {name};")


@pytest.mark.parametrize("side", ["device", "agent"])
def test_present_globals(side):
    """§9.2: the base library globals the imp keeps are all there, on both sides."""
    vm = make(side)
    for name in PRESENT:
        assert vm.run(f'return "{name}" in getroottable()'), name


KEPT_STOCK = ["PI", "RAND_MAX", "_charsize_", "_floatsize_", "_intsize_", "_version_", "_versionnumber_",
              "crypto"]


@pytest.mark.parametrize("side", ["device", "agent"])
def test_root_table_is_exactly_the_imp_globals(side):
    """§9.2: after install the root table holds the imp's globals and nothing of the prelude's own
    (agent: plus http and regexp2)."""
    expected = set(PRESENT) | set(KEPT_STOCK) | ({"http", "regexp2"} if side == "agent" else set())
    assert set(make(side).root.keys()) == expected


def test_install_fits_a_small_instruction_budget():
    """§10 (watchdog): the prelude runs in well under 1000 VM instructions, so a host budget on
    every call from Python does not trip on it."""
    for side in ("device", "agent"):
        vm = squirrel.VM(dialect="imp", instruction_limit=1000)
        install_language(vm, side=side, now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                         rng=random.Random(0))
        assert vm.run("return time()") == 0


def test_other_stock_globals_removed(vm):
    """§9.2 (decision): stdlib extras the imp does not list are gone: stream, collectgarbage,
    resurrectunreachable, enabledebuginfo; blob still derives from the hidden stream class."""
    for name in ["stream", "collectgarbage", "resurrectunreachable", "enabledebuginfo"]:
        assert vm.run(f'return "{name}" in getroottable()') is False, name
    assert vm.run("return blob.getbase() != null")


def test_generators_are_kept(vm):
    """§9.2: generators (yield/resume) are supported on the imp."""
    assert vm.run("function g() { yield 1; yield 2; } local x = g(); return [resume x, resume x]") == [1, 2]


def test_squirrel31_string_globals_absent_by_default(vm):
    """§9.3/§12 item 13: startswith, endswith, escape (3.1 additions) are removed by default."""
    for name in ["startswith", "endswith", "escape"]:
        assert vm.run(f'return "{name}" in getroottable()') is False


def test_squirrel31_extras_keeps_them():
    """§12 item 13: squirrel31_extras=True keeps the 3.1 string globals (configurable)."""
    vm = make(squirrel31_extras=True)
    assert vm.run('return [startswith("abc", "ab"), endswith("abc", "bc"), escape("a\\n").len() > 2]') == \
        [True, True, True]


def test_array_filter_and_find_present(vm):
    """§9.3: array filter/find are [inferred] present; reduce returns null on an empty array."""
    assert vm.run("return [1, 2, 3].filter(@(i, v) v > 1)") == [2, 3]
    assert vm.run("return [5, 6].find(6)") == 1
    assert vm.run("return [[].reduce(@(a, b) a + b), [7].reduce(@(a, b) a + b)]") == [None, 7]


def test_missing_global_error_text_unchanged(vm):
    """§10 / imp-api.md general caveats: touching a missing global raises the stock error text."""
    assert "the index 'nosuchthing' does not exist" in error_of(vm, "return nosuchthing;")
    assert "the index 'nosuchthing' does not exist" in error_of(vm, "return ::nosuchthing;")
    assert vm.run('return "nosuchthing" in getroottable()') is False


def test_rarely_used_globals_compile_on_first_call(vm):
    """§9.2 (implementation): date/swap2/swap4/castf2i start as stubs that compile the real
    function on first call and put it in the root table; a stub captured before keeps working."""
    assert vm.run('return getroottable().rawin("date") && typeof date == "function"')
    vm.run("stub <- swap2")
    assert vm.run("return [stub(0x1234), stub(0x0102), swap2(0x1234)]") == [0x3412, 0x0201, 0x3412]
    assert vm.run("return stub != swap2")
    vm.run("date = function(...) { return 42 }")
    assert vm.run("return date()") == 42


def test_regexp2_is_an_agent_class_from_the_start():
    """§9.3: regexp2 is agent-only, and a class before its first use: an app can ask its type or
    extend it first thing."""
    assert make("device").run('return "regexp2" in getroottable()') is False
    agent = make("agent")
    assert agent.run('return [typeof regexp2, "regexp2" in getroottable()]') == ["class", True]
    assert agent.run('''local Words = class extends regexp2 { constructor() { base.constructor(@"\\w+") } };
        local r = Words(); return [typeof r, r instanceof regexp2, r.search("  hi").begin]''') == ["regexp2", True, 2]
    assert agent.run('local r = regexp2("a+"); return [typeof r, r instanceof regexp2, typeof regexp2]') == \
        ["regexp2", True, "class"]


def test_intsize_is_four_in_imp_dialect():
    """§9.1: integers are 32-bit on the imp, and _intsize_ says so (standard dialect keeps 8)."""
    assert make().run("return _intsize_") == 4
    assert make(dialect="standard").run("return _intsize_") == 8


def test_side_is_checked():
    """General caveats (sides; API contract): side must be device or agent."""
    with pytest.raises(ValueError):
        make("cloud")


def test_ops_table_matches_prelude():
    """§9 (implementation): the op names cover every number the preludes use."""
    import re

    from impapi.language import prelude
    sources = [prelude.AGENT, *prelude.LAZY.values()]
    used = {int(n) for src in sources for n in re.findall(r"\bpy\((\d+)", src)}
    assert used <= set(range(len(OPS))) and OPS[19] == "lazy"
    assert used | {8, 9, 10, 11, 12, 13} == set(range(len(OPS)))  # 8-13: the http template


# -- §9.2 math ---------------------------------------------------------------------------------

MATH = ["abs", "fabs", "acos", "asin", "atan", "atan2", "ceil", "floor", "cos", "sin", "tan", "exp",
        "log", "log10", "pow", "sqrt", "rand", "srand"]


def test_math_namespace(vm):
    """§9.2: all maths lives under math.; the functions are not globals."""
    for name in MATH:
        assert vm.run(f'return typeof math.{name}') in ("function", "native function"), name
        assert vm.run(f'return "{name}" in getroottable()') is False, name
    assert vm.run("return [math.abs(-3), math.sqrt(16.0), math.pow(2, 10), math.floor(2.7)]") == \
        [3, 4.0, 1024.0, 2.0]
    assert vm.run("return math.atan2(1, 1)") == pytest.approx(0.785398, rel=1e-5)


def test_rand_range_and_rand_max(vm):
    """§9.2: math.rand() returns an integer in 0..RAND_MAX; RAND_MAX is a global (2147483647)."""
    assert vm.run("return RAND_MAX") == RAND_MAX == 2147483647
    values = vm.run("local r = []; for (local i = 0; i < 500; i++) r.append(math.rand()); return r")
    assert all(isinstance(v, int) and 0 <= v <= RAND_MAX for v in values)
    assert len(set(values)) > 490
    assert vm.run("return 1.0 * math.rand() / RAND_MAX") <= 1.0


def test_rand_is_deterministic_for_a_seed():
    """§9.2 + DESIGN determinism: math.rand() draws from the given rng, so a seed repeats it."""
    src = "return [math.rand(), math.rand(), math.rand()]"
    assert make(seed=7).run(src) == make(seed=7).run(src)
    assert make(seed=7).run(src) != make(seed=8).run(src)
    rng = random.Random(3)
    expected = [rng.getrandbits(31) for _ in range(3)]
    assert make(seed=3).run(src) == expected


def test_srand_has_no_effect():
    """§9.2: math.srand() has no effect: the sequence is the same with or without it."""
    a = make(seed=5).run("math.srand(1); return [math.rand(), math.rand()]")
    b = make(seed=5).run("math.srand(99); return [math.rand(), math.rand()]")
    assert a == b == make(seed=5).run("return [math.rand(), math.rand()]")


def test_pi_kept(vm):
    """§9.2: PI is [UNCONFIRMED] on the imp; stock Squirrel registers it and we keep it."""
    assert vm.run("return PI") == pytest.approx(3.14159265, rel=1e-6)


# -- §8 timekeeping ----------------------------------------------------------------------------

def test_time_comes_from_virtual_clock():
    """§8: time() is integer UTC seconds since the epoch, from the virtual clock."""
    now = [0]
    vm = squirrel.VM(dialect="imp")
    install_language(vm, side="device", now_us=lambda: now[0], epoch_us=EPOCH_US,
                     uptime_us=lambda: 0, rng=random.Random(0))
    assert vm.run("return time()") == 1_700_000_000
    now[0] = 749_999
    assert vm.run("return time()") == 1_700_000_000
    now[0] = 750_000
    assert vm.run("return time()") == 1_700_000_001
    now[0] = 86_400 * 10**6
    assert vm.run("return time()") == 1_700_086_400


def test_time_wraps_to_32_bits_in_imp_dialect():
    """§9.1: integers are 32-bit, so time() after 2038-01-19 wraps like the imp's int."""
    vm = make(epoch_us=(2**31 + 5) * 10**6)
    assert vm.run("return time()") == -(2**31) + 5
    assert make(epoch_us=(2**31 + 5) * 10**6, dialect="standard").run("return time()") == 2**31 + 5


def test_clock_is_uptime_float():
    """§8: clock() returns uptime seconds as a float, from the boot's virtual uptime."""
    vm = make(uptime_us=2_500_000, now_us=99_000_000)
    assert vm.run("return clock()") == 2.5
    assert vm.run("return typeof clock()") == "float"


def test_date_fields_now_device():
    """§8: date() is a UTC table sec/min/hour/day/month(0-11)/year/wday(0=Sunday)/yday/time/usec;
    usec is 0 on the device."""
    vm = make(now_us=5_000_000)
    assert vm.run("return date()") == {
        "sec": 25, "min": 13, "hour": 22, "day": 14, "month": 10, "year": 2023, "wday": 2,
        "yday": 317, "time": 1_700_000_005, "usec": 0}


def test_date_usec_on_agent():
    """§8: on the agent date().usec gives the microseconds of the current (virtual) time."""
    vm = make("agent", now_us=5_123_456)
    d = vm.run("return date()")
    assert d["time"] == 1_700_000_005 and d["usec"] == 373_456
    assert vm.run("return date(0).usec") == 0


@pytest.mark.parametrize("t, fields", [
    (0, dict(year=1970, month=0, day=1, hour=0, min=0, sec=0, wday=4, yday=0)),
    (951_782_400, dict(year=2000, month=1, day=29, hour=0, min=0, sec=0, wday=2, yday=59)),
    (978_307_199, dict(year=2000, month=11, day=31, hour=23, min=59, sec=59, wday=0, yday=365)),
    (4_102_444_799, None),  # beyond 32 bits: only in the standard dialect below
    (-1, dict(year=1969, month=11, day=31, hour=23, min=59, sec=59, wday=3, yday=364)),
])
def test_date_of_timestamp(t, fields):
    """§8: date(t) for a given timestamp, in UTC (leap day, last day of a leap year, pre-1970)."""
    if fields is None:
        vm = make(dialect="standard")
        assert vm.run(f"return date({t})")["year"] == 2099
        return
    d = make().run(f"return date({t})")
    assert {k: d[k] for k in fields} == fields
    assert d["time"] == t and d["usec"] == 0


def test_date_accepts_format_argument(vm):
    """§8: stock date's second argument ('u'/'l') is accepted; local time is UTC on the imp."""
    assert vm.run("return date(1000, 'l')") == vm.run("return date(1000, 'u')") == vm.run("return date(1000)")
    assert vm.run("return date(1000.7).time") == 1000


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_date_matches_python_calendar(t):
    """§8: date(t) agrees with the proleptic Gregorian calendar for every 32-bit timestamp."""
    vm = _date_vm()
    d = vm.run(f"return date({t})")
    e = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=t)
    assert d == dict(sec=e.second, min=e.minute, hour=e.hour, day=e.day, month=e.month - 1,
                     year=e.year, wday=e.isoweekday() % 7, yday=e.timetuple().tm_yday - 1,
                     time=t, usec=0)


_DATE_VM: list = []


def _date_vm() -> squirrel.VM:
    if not _DATE_VM:
        _DATE_VM.append(make())
    return _DATE_VM[0]


def test_no_host_clock(monkeypatch):
    """§8 + DESIGN: nothing reads the host clock: time/date/clock follow only the given callables."""
    import time as host_time

    def boom(*a):
        raise AssertionError("host clock read")

    for name in ("time", "time_ns", "monotonic", "perf_counter", "localtime", "gmtime"):
        monkeypatch.setattr(host_time, name, boom)
    vm = make("agent", now_us=1, uptime_us=2)
    assert vm.run("return [time(), date().sec, clock()]") == [1_700_000_000, 20, pytest.approx(2e-6)]


# -- §9.2 byte-order and casts ------------------------------------------------------------------

def test_swap2(vm):
    """§9.2: swap2 swaps the bytes of a 16-bit integer (result 0..65535; docs silent on the
    stock sign extension, see the module docstring)."""
    assert vm.run("return [swap2(0x1234), swap2(0xFF00), swap2(0x0080), swap2(0xABCD1234)]") == \
        [0x3412, 0x00FF, 0x8000, 0x3412]


def test_swap4(vm):
    """§9.2 + §9.1: swap4 reverses a 32-bit integer's bytes; the result is a signed 32-bit int."""
    assert vm.run("return [swap4(0x12345678), swap4(0x80), swap4(-1), swap4(0x01000000)]") == \
        [0x78563412, -(2**31), -1, 1]
    assert make(dialect="standard").run("return swap4(0x80)") == -(2**31)


def test_castf2i_and_casti2f(vm):
    """§9.2: castf2i/casti2f reinterpret the 32-bit pattern (castf2i(1.0) == 0x3f800000)."""
    assert vm.run("return [castf2i(1.0), castf2i(-2.0), castf2i(0.0), castf2i(1)]") == \
        [0x3F800000, -0x40000000, 0, 0x3F800000]
    assert vm.run("return [casti2f(0x3f800000), casti2f(0x40490fdb)]") == [1.0, pytest.approx(3.1415927)]
    assert vm.run("return casti2f(castf2i(12.5))") == 12.5


def test_swapfloat(vm):
    """§9.2: swapfloat reverses the bytes of a float's 32-bit pattern."""
    assert vm.run("return castf2i(swapfloat(1.0))") == 0x0000803F
    assert vm.run("return swapfloat(swapfloat(3.5))") == 3.5


# -- §9.3 strings ---------------------------------------------------------------------------------

def test_format_conversions(vm):
    """§9.3: format is printf-like with d i x X o c s f e E g G %%, flags, width and precision;
    integer conversions accept floats (truncating) and vice versa."""
    assert vm.run('return format("%d|%5.2f|%x|%X|%o|%c|%s|%%|%-4d|%04d", 3.9, 2, 255, 255, 8, 65, "hi", 7, 7)') == \
        "3| 2.00|ff|FF|10|A|hi|%|7   |0007"
    assert vm.run('return format("%e %g %G %.3g", 12345.678, 0.5, 1e-10, 2.0/3)') == \
        "1.234568e+04 0.5 1E-10 0.667"


def test_format_errors(vm):
    """§9.3: %s needs a string ("string expected for the specified format"); missing arguments
    and unknown conversions raise."""
    assert "string expected for the specified format" in error_of(vm, 'return format("%s", 1)')
    assert "not enough parameters for the given format string" in error_of(vm, 'return format("%d")')
    assert "invalid format" in error_of(vm, 'return format("%q", 1)')
    assert "string expected for the specified format" in error_of(vm, 'return format("%s", -1)')


def test_format_negative_hex_is_32_bit():
    """§9.1/§9.3: ints are 32-bit, so %x/%X/%o/%u of a negative show its 32-bit pattern
    (the stock 64-bit standard dialect shows 64 bits)."""
    vm = make()
    assert vm.run('return format("%x %08X %o %u %d %i %c|%5d", -1, -2, -8, -1, -5, -6, 65, -3)') == \
        "ffffffff FFFFFFFE 37777777770 4294967295 -5 -6 A|   -3"
    assert vm.run('return format("%s=%x, %.1f", "k", -256, 2.25)') == "k=ffffff00, 2.2"
    assert vm.run('return format("%x %.2f", -1.0, -0.5)') == "ffffffff -0.50"
    assert make(dialect="standard").run('return format("%x", -1)') == "ffffffffffffffff"


def test_format_wrapper_when_c_format_is_64_bit():
    """§9.1/§9.3: on a build whose C format prints 64-bit patterns, install_language wraps it:
    negative numbers go through the Python formatter, other calls straight to the C format."""
    vm = squirrel.VM(dialect="imp")
    calls: list = []

    def stock64(fmt, *args):  # what an unpatched 64-bit sqstdlib format prints
        calls.append(args)
        return "ffffffffffffffff" if args and args[0] == -1 else web.format32(fmt, args).decode()

    vm.root["format"] = stock64
    install_language(vm, side="device", now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    calls.clear()
    assert vm.run('return format("%x|%s|%4X", -1, "s", -2.0)') == "ffffffff|s|FFFFFFFE"
    assert calls == []
    assert vm.run('return format("%d-%s", 5, "x")') == "5-x"
    assert calls == [(5, "x")]


@settings(max_examples=300, deadline=None)
@given(flags=st.sampled_from(["", "-", "0", "+", " ", "#", "-+", "0#"]),
       width=st.sampled_from(["", "1", "7", "12"]), prec=st.sampled_from(["", ".0", ".3", ".12"]),
       conv=st.sampled_from(list("dixXoucfeEgGs")),
       value=st.one_of(st.integers(0, 2**31 - 1), st.floats(-1e9, 1e9, width=32),
                       st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)))
def test_format32_agrees_with_stock_format(flags, width, prec, conv, value):
    """§9.3: the Python path for negative integers formats every other value exactly as the
    stock C format does (same output, same error text)."""
    if conv == "c" and (not isinstance(value, int) or not 32 <= value < 127):
        return
    if isinstance(value, float) and value < 0 and conv in "ouxX":
        return  # a negative: the imp's 32-bit pattern, not stock's 64 (test_format_negative_hex_is_32_bit)
    spec = f"%{flags}{width}{prec}{conv}"
    stock = _stock_format()
    try:
        expected = stock(spec, value)
    except squirrel.ScriptError as e:
        with pytest.raises(squirrel.SquirrelError) as info:
            web.format32(spec, [value])
        assert str(info.value) == e.message
        return
    got = web.format32(spec, [value]).decode()
    assert got == expected


_STOCK: list = []


def _stock_format():
    if not _STOCK:
        _STOCK.append(squirrel.VM(dialect="imp").root["format"])
    return _STOCK[0]


def test_split_drops_empty_tokens(vm):
    """§9.3: split's separators are a set of characters and empty tokens are dropped."""
    assert vm.run('return split("a,,b", ",")') == ["a", "b"]
    assert vm.run('return split(",a;b,,c;", ",;")') == ["a", "b", "c"]
    assert vm.run('return split("", ",")') == []
    assert vm.run('return split("31.5-abc-x", "-")') == ["31.5", "abc", "x"]


def test_split_empty_separators_raise(vm):
    """§9.3: an empty seps raises an error."""
    assert "empty separators string" in error_of(vm, 'return split("abc", "")')


def test_strip_functions(vm):
    """§9.3: strip/lstrip/rstrip remove whitespace from both, the left, the right end."""
    assert vm.run('return [strip(" \\t a b \\n"), lstrip("  a "), rstrip(" a  "), strip("   "), strip("")]') == \
        ["a b", "a ", " a", "", ""]


def test_regexp(vm):
    """§9.3: regexp(pattern) with match → bool, search/capture → {begin, end} tables or null,
    subexpcount."""
    r = vm.run(r'''local r = regexp(@"(\d+)-(\d+)");
        return [r.match("12-34"), r.match("x12-34"), r.search("xx12-34"), r.search("nope"),
                r.capture("a1-2"), r.subexpcount(), r.search("1-2 3-4", 3), typeof r]''')
    assert r == [True, False, {"begin": 2, "end": 7}, None,
                 [{"begin": 1, "end": 4}, {"begin": 1, "end": 2}, {"begin": 3, "end": 4}], 3,
                 {"begin": 4, "end": 7}, "regexp"]


def test_string_delegate(vm):
    """§9.3: the stock 3.0 string delegate methods are present."""
    assert vm.run('return ["abcdef".len(), "abcdef".slice(2, 4), "abcdef".slice(-2), "abcdef".find("cd"), '
                  '"abc".find("z"), "AbC".tolower(), "AbC".toupper(), "42".tointeger(), "2.5".tofloat(), '
                  '"x".tostring()]') == [6, "cd", "ef", 2, None, "abc", "ABC", 42, 2.5, "x"]


def test_table_delegate_has_no_keys_values(vm):
    """§9.3/§12 item 13: table keys()/values() are not there (they arrived after 3.1)."""
    assert "does not exist" in error_of(vm, "return {a = 1}.keys()")


def test_print_and_error_untouched():
    """§9.2: print/error stay the VM's (the runtime routes them)."""
    out: list = []
    vm = squirrel.VM(dialect="imp", print=out.append, error=out.append)
    install_language(vm, side="device", now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    vm.run('print("a"); error("b");')
    assert "".join(out) == "ab"


# -- §3.6 / crypto.equals (both sides) ------------------------------------------------------------

@pytest.mark.parametrize("side", ["device", "agent"])
def test_crypto_equals(side):
    """§9.2 (impUnit's assertDeepEqual): crypto.equals compares strings/blobs on both sides."""
    vm = make(side)
    assert vm.run('return [crypto.equals("abc", "abc"), crypto.equals("abc", "abd"), crypto.equals("", ""), '
                  'crypto.equals("a", "ab")]') == [True, False, True, False]
    assert vm.run('local a = blob(3), b = blob(3); b[1] = 7; return [crypto.equals(a, clone a), '
                  'crypto.equals(a, b), crypto.equals("\\x00\\x00\\x00", a)]') == [True, False, True]
    assert "string or blob expected" in error_of(vm, "return crypto.equals(1, 2)")


def test_crypto_table_members_kept():
    """§9.2: an existing crypto table keeps its members; equals is added to it."""
    vm = squirrel.VM(dialect="imp")
    vm.run("crypto <- { sha256 = @(x) 1 }")
    install_language(vm, side="device", now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    assert vm.run("return [crypto.sha256(0), crypto.equals(\"a\", \"a\")]") == [1, True]


def test_wrong_argument_count_is_a_squirrel_error(vm):
    """§10: calling an imp function with too many arguments is an ordinary Squirrel error."""
    assert "wrong number of parameters" in error_of(vm, "return time(1, 2, 3)")
    assert "wrong number of parameters" in error_of(vm, "return crypto.equals(\"a\")")
    assert vm.run("try { crypto.equals(\"a\") } catch (e) { return e }") == "wrong number of parameters"


def test_a_blob_in_a_string_concatenation_gives_its_bytes(vm):
    """A blob turned into text is its bytes (as b.tostring()), not "(instance : 0x...)": UBX
    packets are built as string + blob on the imp."""
    assert vm.run('local b = blob(); b.writen(0xB5, \'b\'); b.writen(0, \'b\'); b.writen(0x62, \'b\');'
                  'return "<" + b + ">";') == b"<\xb5\x00\x62>"
    assert vm.run('local b = blob(); b.writestring("ok"); return b + "!";') == "ok!"
    assert error_of(vm, "class B extends blob { constructor() {} } return \"x\" + B();").startswith(
        "this blob was never initialised (its class's constructor must call base.constructor())")
