"""Our patches to the Squirrel 3.1 VM (vendor/squirrel3/patches/), seen from Python:
01 the imp's 32-bit integer dialect, 02 bindenv keeping its environment alive, 03 host
interruption that try/catch cannot swallow."""

from __future__ import annotations

import struct
import time

import pytest

import squirrel
from binding_helpers import assert_clean_run, assert_errors_isolated, run_isolated

DIALECTS = ("imp", "standard")


@pytest.fixture(params=DIALECTS)
def vm(request):
    with squirrel.VM(dialect=request.param) as vm:
        yield vm


# --- 01-imp-dialect ----------------------------------------------------------------------------

# (source, result in the imp dialect (32-bit), result in the standard dialect (stock 64-bit))
INTEGER_ORACLES = [
    ("return 2147483647 + 1", -2147483648, 2147483648),
    ("local a = 2147483647; return a + 1", -2147483648, 2147483648),
    ("local a = -2147483648; return a - 1", 2147483647, -2147483649),
    ("return (0x7fffffff * 2) == -2", True, False),
    ("local a = 65536; return a * a", 0, 4294967296),
    ("local a = 100000; return a * a / 100000", 14100, 100000),
    ("local a = -2147483648, b = -1; return a / b", -2147483648, 2147483648),
    ("return -2147483648 / -1", -2147483648, 2147483648),
    ("local a = -2147483648, b = -1; return a % b", 0, 0),
    ("local t = {a = -2147483648}; t.a /= -1; return t.a", -2147483648, 2147483648),
    ("local a = -7, b = 2; return [a / b, a % b]", [-3, -1], [-3, -1]),
    ("return (1 << 31) < 0", True, False),
    ("return 1 << 31", -2147483648, 2147483648),
    ("return -1 >>> 28", 15, 68719476735),
    ("return 0x80000000 >> 4", -134217728, 134217728),
    ("return 0x80000000 >>> 4", 134217728, 134217728),
    ("local n = 32; return [1 << n, -1 >>> n, -8 >> n, 8 >> n]", [0, 0, -1, 0], [4294967296, 4294967295, -1, 0]),
    ("return 0xFFFFFFFF == -1", True, False),
    ("return 0xFFFFFFFF", -1, 4294967295),
    ("return 0x80000000 < 0", True, False),
    ("return 4294967296 == 0", True, False),
    ("return 2147483648", -2147483648, 2147483648),
    ("return -2147483648", -2147483648, -2147483648),
    ("return 037777777777", -1, 4294967295),
    ("const C = 0xFFFFFFFF; return C", -1, 4294967295),
    ("enum E { A = 0xFFFFFFFF, B = -2147483648 }; return E.A + E.B", 2147483647, 2147483647),
    ("return [0xFFFFFFFF, {x = 0xFFFFFFFF}.x]", [-1, -1], [4294967295, 4294967295]),
    ("local x = 2147483647; x++; return x == -2147483648", True, False),
    ("local x = 2147483647; local y = ++x; return [x, y]", [-2147483648, -2147483648], [2147483648, 2147483648]),
    ("local x = -2147483648; local y = x--; return [x, y]", [2147483647, -2147483648], [-2147483649, -2147483648]),
    ("local x = 2147483647; x += 1; return x", -2147483648, 2147483648),
    ("local x = 0x10000; x *= x; return x", 0, 4294967296),
    ("local t = {a=2147483647}; t.a += 1; return t.a == -2147483648", True, False),
    ("local t = {a=2147483647}; local b = t.a++; return [t.a, b]", [-2147483648, 2147483647], [2147483648, 2147483647]),
    ("local t = [2147483647]; ++t[0]; return t[0]", -2147483648, 2147483648),
    ("class C { x = 2147483647; function f() { x++; x += 1; return x; } }; return C().f()", -2147483647, 2147483649),
    ("g <- 2147483647; ::g += 1; return g", -2147483648, 2147483648),
    ("local x = 2147483647; local f = function() { x++; return x; }; return f()", -2147483648, 2147483648),
    ("return -(-2147483648) == -2147483648", True, False),
    ("local x = -2147483648; return -x", -2147483648, 2147483648),
    ("return ~0 == -1", True, True),
    ("local a = 0xFFFFFFFF; return a & 0xFF00FF00", -16711936, 4278255360),
    ("local a = 0x80000000; return a ^ 0xFFFFFFFF", 2147483647, 2147483647),
    ("return (3.9).tointeger() == 3", True, True),
    ("return (-3.9).tointeger()", -3, -3),
    ("return (1e20).tointeger() == 2147483647", True, False),
    ("return (-1e20).tointeger()", -2147483648, -9223372036854775808),
    ("return \"4294967295\".tointeger()", -1, 4294967295),
    ("return \"FFFFFFFF\".tointeger(16)", -1, 4294967295),
    ("return true.tointeger()", 1, 1),
    ("return format(\"%x %X\", -1, -2)", "ffffffff FFFFFFFE", "ffffffffffffffff FFFFFFFFFFFFFFFE"),
    ("return format(\"%u %o\", -1, -1)", "4294967295 37777777777", "18446744073709551615 1777777777777777777777"),
    ("return format(\"%d %08x\", -1, 255)", "-1 000000ff", "-1 000000ff"),
    ("return abs(-2147483648)", -2147483648, -2147483648),
    ("return swap4(0xFF)", -16777216, 4278190080),
    ("local s = 0; for (local i = 0; i < 100; i++) s += 0x7fffffff; return s", -100, 214748364700),
    ("return \"\\xC0\"[0]", 192, 192),
]


@pytest.mark.parametrize("dialect, source, result", [
    pytest.param(d, src, r, id=f"{d}:{src}")
    for src, imp, std in INTEGER_ORACLES for d, r in (("imp", imp), ("standard", std))])
def test_integer_dialect(dialect, source, result):
    """Integer arithmetic, shifts, bitwise ops, literals, ++/--/+=, tointeger and format wrap to
    32 bits in the imp dialect and give stock 64-bit results in the standard one."""
    with squirrel.VM(dialect=dialect) as vm:
        assert vm.run(source, filename="t.nut") == result


@pytest.mark.parametrize("source", [
    "local a = 7, b = 0; return a / b",
    "local t = {a = 7}; t.a /= 0; return t.a",
    "return -2147483648 / 0",
])
def test_division_by_zero_is_still_an_error(vm, source):
    """Integer division by zero keeps the stock "division by zero" error in both dialects."""
    with pytest.raises(squirrel.ScriptError, match="division by zero"):
        vm.run(source, filename="t.nut")


def test_division_by_zero_is_catchable(vm):
    """The division-by-zero error is an ordinary error: try/catch takes it."""
    assert vm.run("local b = 0; try { return 1 / b } catch(e) { return e }") == "division by zero"


def test_long_hex_literal_is_a_compile_error_in_the_imp_dialect():
    """A hex literal of more than 8 digits does not fit a 32-bit build: compile error; the
    standard dialect takes it."""
    with squirrel.VM(dialect="imp") as vm:
        with pytest.raises(squirrel.CompileError, match="too many digits"):
            vm.compile("return 0x100000000", "t.nut")
    with squirrel.VM(dialect="standard") as vm:
        assert vm.run("return 0x100000000") == 4294967296


def test_float_to_integer_saturates_like_arm():
    """imp dialect: float.tointeger() saturates to the int32 range and NaN gives 0 (the ARM's
    vcvt), where a plain C cast would be undefined."""
    with squirrel.VM(dialect="imp") as vm:
        assert vm.run("return [(0.0 / 0.0).tointeger(), (2147483648.0).tointeger(), "
                      "(-2147483904.0).tointeger(), (2147483520.0).tointeger(), \"3e10\".tointeger()]") == \
            [0, 2147483647, -2147483648, 2147483520, 2147483647]


def test_dialect_is_per_vm():
    """Two VMs with different dialects in one process keep their own arithmetic."""
    with squirrel.VM(dialect="imp") as imp, squirrel.VM(dialect="standard") as std:
        src = "local a = 2147483647; return a + 1"
        assert (imp.run(src), std.run(src), imp.run(src)) == (-2147483648, 2147483648, -2147483648)


def test_dialect_covers_threads_and_generators():
    """The 32-bit switch lives in the VM's shared state: coroutines and generators wrap too."""
    with squirrel.VM(dialect="imp") as vm:
        assert vm.run("""
            local th = newthread(function(a) { return a + 1 })
            local g = (function() { local x = 0x7fffffff; yield x + 1 })()
            return [th.call(2147483647), resume g]
        """) == [-2147483648, -2147483648]


def test_int64_min_divided_by_minus_one_does_not_crash():
    """Stock 64-bit Squirrel dies of SIGFPE on INT64_MIN / -1 and INT64_MIN % -1; patched, / is
    an "integer overflow" error and % gives 0 (run in a child: a crash must not kill pytest)."""
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM(dialect="standard")
        print(vm.run("local a = -9223372036854775807 - 1; return a % -1"))
        for src in ("local a = -9223372036854775807 - 1; return a / -1",
                    "local t = {a = -9223372036854775807 - 1}; t.a /= -1; return t.a"):
            try:
                vm.run(src)
            except squirrel.ScriptError as e:
                print(e.message)
    """)
    assert_clean_run(result, "0", "integer overflow", "integer overflow")


# --- 02-bindenv-strong -----------------------------------------------------------------------

def test_bindenv_keeps_its_environment(vm):
    """A closure bound to a table nothing else references keeps `this` across collectgarbage()
    (stock 3.1 holds it weakly and `this` becomes null)."""
    assert vm.run("""
        local f = (function(){ return this.v; }).bindenv({v=42});
        collectgarbage();
        return f() == 42
    """) is True


def test_bindenv_environment_made_elsewhere(vm):
    """The environment is created in another function (no stale stack slot keeps it), for a
    closure, a rebound closure, a native closure and an instance environment."""
    assert vm.run("""
        local function mk(env) { return (function(){ return this.v; }).bindenv(env); }
        local function fresh() { return mk({v = 42}); }
        local function rebound(f) { return f.bindenv({v = 7}); }
        local function native() { return getroottable().rawget.bindenv({v = 1}); }
        class A { v = 3 }
        local function inst() { return mk(A()); }
        local f = fresh(), g = rebound(f), n = native(), i = inst();
        collectgarbage();
        return [f(), g(), n("v"), i()]
    """) == [42, 7, 1, 3]


def test_bindenv_environment_only_reachable_through_the_closure_survives_collection(vm):
    """The cycle collector marks the environment through the closure: an environment reachable
    only from a live closure is not finalized by collectgarbage(), and goes with the closure."""
    assert vm.run("""
        local w = null;
        local function mk() { local t = {v = 5}; w = t.weakref(); return (function(){ return this.v; }).bindenv(t); }
        local holder = {f = mk()};
        collectgarbage();
        local first = holder.f();
        holder = null;
        collectgarbage();
        return [first, w.ref() == null]
    """) == [5, True]


def test_bindenv_cycle_is_collected(vm):
    """No leak: an environment table that holds its own bound closure (a cycle through the strong
    reference) is freed by collectgarbage(), closure and table both."""
    assert vm.run("""
        local wt = null, wf = null;
        local function cycle() {
            local t = {};
            local f = (function(){ return this; }).bindenv(t);
            t.f <- f;
            wt = t.weakref(); wf = f.weakref();
        }
        cycle();
        local alive = wt.ref() != null && wf.ref() != null;
        collectgarbage(); collectgarbage();
        return [alive, wt.ref() == null, wf.ref() == null]
    """) == [True, True, True]


def test_bindenv_promise_style_chain(vm):
    """A then-chain of callbacks bound to short-lived context tables still sees its `this` after
    collections, as Promise libraries built on bindenv need."""
    assert vm.run("""
        local queue = [];
        local function then(f) { queue.append(f); }
        local function step(n) { then((function(){ return this.n * 10; }).bindenv({n = n})); }
        for (local i = 1; i <= 3; i++) step(i);
        collectgarbage();
        local out = [];
        foreach (f in queue) { out.append(f()); collectgarbage(); }
        return out
    """) == [10, 20, 30]


# --- 03-interrupt ----------------------------------------------------------------------------

RUNAWAYS = [
    pytest.param('try { while(true){} } catch(e) { return "caught" }', id="try-loop"),
    pytest.param('while(true) { try { while(true){} } catch(e) {} }', id="retry-loop"),
    pytest.param('local f = function() { try { while(true){} } catch(e) { return "inner" } };'
                 ' try { return f() } catch(e) { return "outer" }', id="nested-functions"),
    pytest.param('local g = (function(){ try { while(true) yield 1 } catch(e) {} })();'
                 ' try { foreach(x in g) {} } catch(e) { return "caught" }', id="generator"),
    pytest.param('local g = (function(){ try { while(true) {} } catch(e) { yield 2 } })();'
                 ' try { return resume g } catch(e) { return "caught" }', id="generator-resume"),
    pytest.param('local th = newthread(function() { try { while(true){} } catch(e) { return "caught" } });'
                 ' try { return th.call() } catch(e) { return "outer" }', id="thread-call"),
    pytest.param('local th = newthread(function() { suspend(1); try { while(true){} } catch(e) { return "caught" } });'
                 ' th.call(); try { return th.wakeup(2) } catch(e) { return "outer" }', id="thread-wakeup"),
    pytest.param('class A { constructor() { try { while(true){} } catch(e) {} } };'
                 ' try { A() } catch(e) { return "caught" }', id="constructor"),
    pytest.param('class A { function _get(k) { try { while(true){} } catch(e) { return 1 } } };'
                 ' try { return A().x } catch(e) { return "caught" }', id="metamethod-get"),
    pytest.param('class A { function _add(o) { try { while(true){} } catch(e) { return 1 } } };'
                 ' try { return A() + 1 } catch(e) { return "caught" }', id="metamethod-add"),
    pytest.param('local a = [3, 1, 2]; try { a.sort(function(x, y) { try { while(true){} } catch(e) { return 0 } }) }'
                 ' catch(e) { return "caught" }', id="sort-compare"),
    pytest.param('try { (function() { while(true){} }).pcall(this) } catch(e) { return "caught" }', id="pcall"),
]


@pytest.mark.parametrize("source", RUNAWAYS)
def test_instruction_limit_cannot_be_caught(vm, source):
    """An instruction budget stops a runaway script with TimeLimitError: no try/catch in
    functions, generators, threads, constructors, metamethods or sort compares swallows it."""
    vm.instruction_limit = 10_000
    with pytest.raises(squirrel.TimeLimitError):
        vm.run(source, filename="t.nut")


@pytest.mark.parametrize("source", RUNAWAYS[:6])
def test_time_limit_cannot_be_caught(source):
    """A wall-clock limit stops a runaway script promptly with TimeLimitError, uncatchably."""
    with squirrel.VM(time_limit=0.2) as vm:
        start = time.monotonic()
        with pytest.raises(squirrel.TimeLimitError):
            vm.run(source, filename="t.nut")
        assert time.monotonic() - start < 5


def test_vm_is_usable_after_an_interrupt(vm):
    """After a TimeLimitError the same VM runs new code, with its globals intact, and try/catch
    works again for ordinary errors (the uncatchable state was cleared)."""
    vm.instruction_limit = 10_000
    vm.run("counter <- 41")
    with pytest.raises(squirrel.TimeLimitError):
        vm.run("try { while(true) {} } catch(e) {}")
    assert vm.run('try { throw "x" } catch(e) { return e + (counter + 1) }') == "x42"
    assert vm.run("local s = 0; for (local i = 0; i < 100; i++) s += i; return s") == 4950


def test_instruction_limit_applies_per_call(vm):
    """The budget counts the instructions of one call from Python: a loop well under it runs
    any number of times, a loop far over it is stopped."""
    vm.instruction_limit = 20_000
    loop = "local s = 0; for (local i = 0; i < %d; i++) s += i; return s"
    for _ in range(5):
        assert vm.run(loop % 1000) == 499500
    with pytest.raises(squirrel.TimeLimitError):
        vm.run(loop % 100_000)
    vm.instruction_limit = None
    assert vm.run(loop % 100_000) == (4999950000 if vm.dialect == "standard" else 704982704)


def test_interrupt_is_not_swallowed_by_a_python_native(vm):
    """A Python native that calls back into Squirrel and swallows the failure (pcall-style) does
    not keep the script running: the stop reaches the Python caller."""
    def pcall(f):
        try:
            return f()
        except squirrel.SquirrelError:
            return "swallowed"

    vm.root["pcall"] = pcall
    vm.instruction_limit = 10_000
    with pytest.raises(squirrel.TimeLimitError):
        vm.run('local r = pcall(function() { while(true) {} }); return r', filename="t.nut")
    with pytest.raises(squirrel.TimeLimitError):
        vm.run('while(true) { pcall(function() { try { while(true) {} } catch(e) {} }) }', filename="t.nut")
    vm.instruction_limit = None
    assert vm.run("return pcall(function() { return 5 })") == 5


def test_interrupted_run_leaves_nothing_alive(vm):
    """What an interrupted run built (a self-referencing table, a suspended generator, a thread
    holding both) is freed once collected: the unwinding left no stale references."""
    vm.run("wr <- null; wg <- null;")
    vm.instruction_limit = 10_000
    with pytest.raises(squirrel.TimeLimitError):
        vm.run("""
            local t = {}; t.self <- t; ::wr = t.weakref();
            local g = (function(){ local a = [t]; try { while(true) yield 1 } catch(e) {} })();
            ::wg = g.weakref();
            local th = newthread(function() { local q = [t, g]; try { while(true){} } catch(e) {} });
            th.call();
        """)
    vm.instruction_limit = None
    assert vm.run("collectgarbage(); collectgarbage(); return [::wr == null, ::wg == null]") == [True, True]


def test_interrupt_reports_where_the_script_was(vm):
    """The stop carries the Squirrel stack at the point it was raised (the innermost function),
    not at the outermost try."""
    vm.instruction_limit = 10_000
    with pytest.raises(squirrel.TimeLimitError) as info:
        vm.run("function outer() { try { return spin() } catch(e) {} }\n"
               "function spin() {\n  while(true) {}\n}\n"
               "return outer()", filename="t.nut")
    text = "\n".join(str(n) for n in getattr(info.value, "__notes__", [])) + str(info.value) + \
        "\n".join(str(f) for f in getattr(info.value, "traceback", []))
    assert "spin" in text


# --- 05-script-cannot-crash --------------------------------------------------------------------

# Scripts that crashed the process with stock Squirrel 3.1, and the error each raises now.
SCRIPT_CRASHES = [
    ("local b = blob(16); try { b.readblob(-64) } catch (e) { for (local i = 0; i < 16; i++) b.writen(0x41414141, 'i'); throw e; }",
     "readblob: the size must not be negative"),
    ("blob(4).resize(-1)", "size must not be negative"),
    ("class B extends blob { constructor() {} } local c = clone B();", "cannot clone an uninitialised blob"),
    ('regexp("x").search("abc", 100000000)', "start index out of range"),
    ('regexp("x").capture("abc", -100000000)', "start index out of range"),
    ('regexp("%s")' % ("(" * 100000), "pattern nested too deep"),
    ('regexp("%s").match("%s")' % ("a+" * 3000, "a" * 5000), "regexp: the pattern recursed too deep on this text"),
    ("local a = [{},{},{},{},{},{},{},{}]; a.sort(function(x, y) { a.clear(); return 1; });",
     "array resized while sorting"),
    ("newthread(print).call(1)", "newthread needs a Squirrel function, not a native one"),
    ('compilestring("%s;")' % ("if(1) " * 100000), "code nested too deep"),
    ("local t = {}, c = t; for (local i = 0; i < 100000; i++) { local n = {}; c.setdelegate(n); c = n; } return t.x;",
     "delegate chain too long"),
    ("local t = {}, c = t; for (local i = 0; i < 100000; i++) { local n = {}; c.setdelegate(n); c = n; } t.x = 1;",
     "delegate chain too long"),
]


def test_scripts_that_crashed_stock_squirrel_raise_errors(tmp_path):
    assert_errors_isolated(SCRIPT_CRASHES, tmp_path)


def test_acall_takes_as_many_arguments_as_the_array_holds(vm):
    assert vm.run("return (function(...) { return vargv.len(); }).acall(array(5001))") == 5000


def test_long_patterns_and_deep_but_fair_code_still_work(vm):
    assert vm.run('return regexp("%s").match("%s")' % ("a" * 50000, "a" * 50000)) is True
    assert vm.run('return regexp("(a|b)*c").capture("ababc").len()') == 2
    assert vm.run("return " + "(" * 300 + "1" + ")" * 300) == 1
    deep = "local t = {}, c = t; for (local i = 0; i < 900; i++) { local n = {}; c.setdelegate(n); c = n; }"
    assert vm.run(deep + " c.x <- 7; return t.x") == 7


def test_code_nested_too_deep_is_a_compile_error_with_its_line(vm):
    with pytest.raises(squirrel.CompileError, match="code nested too deep") as e:
        vm.compile("local x = 1;\nreturn " + "(" * 5000 + "1" + ")" * 5000, "deep.nut")
    assert e.value.filename == "deep.nut" and e.value.lineno == 2


def test_open_outers_survive_the_stack_growing_under_acall(vm):
    # acall reserves stack for its arguments; the closure's outer must follow the moved stack.
    assert vm.run("""
        local x = 1;
        local get = function() { return x; };
        local r = (function(...) { x = vargv.len(); return get(); }).acall(array(20000));
        return r;
    """) == 19999  # the array's first element is `this`


def test_getstackinfos_of_a_level_outside_the_call_stack_is_null():
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM()
        print(vm.run("return [getstackinfos(-2147483648), getstackinfos(-1), getstackinfos(1000)]"))
        print(vm.run("return getstackinfos(1).func"))
    """)
    assert_clean_run(result, "[None, None, None]", "main")


# --- 06-stable-object-ids ----------------------------------------------------------------------

SHOW_OBJECTS = """
local a = [1], t = {}, r = ["" + a, "" + t, "" + a, "" + (function() {}), "" + blob(1)];
a = null;
r.push("" + [2]);
return r;
"""


def test_tostring_numbers_objects_in_the_order_first_shown(vm):
    assert vm.run(SHOW_OBJECTS) == ["(array : 0x00000001)", "(table : 0x00000002)", "(array : 0x00000001)",
                                    "(function : 0x00000003)", "(instance : 0x00000004)", "(array : 0x00000005)"]


def test_tostring_of_objects_is_the_same_in_every_process():
    code = f"import squirrel\nprint(squirrel.VM().run({SHOW_OBJECTS!r}))"
    first, second = run_isolated(code), run_isolated(code)
    assert first.returncode == 0 and first.stdout == second.stdout and "0x0x" not in first.stdout


def test_restore_numbers_objects_from_one_again():
    with squirrel.VM() as vm:
        vm.snapshot()
        assert vm.run('return "" + {}') == "(table : 0x00000001)"
        assert vm.run('return "" + {}') == "(table : 0x00000002)"
        vm.restore()
        assert vm.run('return "" + {}') == "(table : 0x00000001)"


def test_an_object_at_a_freed_objects_address_gets_its_own_number(vm):
    # Many short-lived tables reuse addresses; each still gets a number of its own.
    shown = vm.run('local r = []; for (local i = 0; i < 3000; i++) r.push("" + {}); return r')
    assert len(set(shown)) == 3000


def test_a_regexp_that_backtracks_on_a_long_text_gives_up_instead_of_running_for_minutes(vm):
    # All of it runs inside one native call, where the instruction budget cannot stop it.
    with pytest.raises(squirrel.ScriptError, match="regexp: gave up after 20000000 steps"):
        vm.run('local s = "a"; while (s.len() < 1 << 16) s += s; return regexp("a*b").search(s);')
    assert vm.run('local s = "x"; while (s.len() < 1 << 17) s += s; return regexp("ne+dle").search(s + "needle").begin') == 1 << 17


# --- 08-lexer-columns --------------------------------------------------------------------------

@pytest.mark.parametrize("source, line, column", [
    ("local a = 1 +* 2", 1, 14),
    ("local a = 1;\nlocal b = 1 +* 2", 2, 14),
    ("local a = 1;\r\nlocal b = 1 +* 2", 2, 14),
    ("/* one\n two */ local a = 1 +* 2", 2, 22),
    ("local s = @\"one\ntwo\" +* 2", 2, 7),
])
def test_compile_error_columns_count_from_1_on_every_line(vm, source, line, column):
    with pytest.raises(squirrel.CompileError) as e:
        vm.compile(source, "x.nut")
    assert (e.value.lineno, e.value.column) == (line, column)
    assert e.value.text[column - 1] == "*"


# --- 20-blob-casts-32-bit -----------------------------------------------------------------------

CASTS = r"""
local xs = [1.0, -2.0, 0.5, -7.25, 1.5e30, 0.0, -0.0, 3, -3], r = [];
foreach (x in xs) r.push([castf2i(x), castf2i.call(this, x), castf2i.pcall(this, x)]);
foreach (i in [0x3f800000, -1073741824, (0x7fffffff << 32) | 0x3f800000]) r.push(casti2f(i));
r.push(castf2i(swapfloat(1.0)));
return r;
"""


def _pattern(x: float) -> int:
    return struct.unpack("<i", struct.pack("<f", x))[0]


def test_standard_blob_casts_use_the_floats_32_bits_every_time():
    """castf2i gives a float's 32-bit pattern, sign-extended (castf2i(-2.0) == -0x40000000, as
    the imp dialect's castf2i gives it), whatever the call path; casti2f reads an integer's low
    32 bits. Stock castf2i read 64 bits from a 32-bit float: the upper half was the C stack's."""
    expected = [[_pattern(x)] * 3 for x in (1.0, -2.0, 0.5, -7.25, 1.5e30, 0.0, -0.0, 3.0, -3.0)]
    expected += [1.0, -2.0, 1.0, 0x0000803F]
    assert expected[1][0] == -0x40000000
    for _ in range(2):
        with squirrel.VM("standard") as vm:
            assert vm.run(CASTS) == expected
    code = f"import squirrel\nprint(squirrel.VM('standard').run({CASTS!r}))"
    first, second = run_isolated(code), run_isolated(code)
    assert first.returncode == 0 and first.stdout == second.stdout == f"{expected}\n"
