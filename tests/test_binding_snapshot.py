"""VM.snapshot / restore / rebind: reusing one VM for many short scripts."""

from __future__ import annotations

import pytest

import squirrel

SETUP = """
x <- 1;
t <- { a = 1, sub = { b = 2 } };
class C { v = 1; function get() { return v } }
function pristine_f() { return 1 }
"""


@pytest.fixture
def vm():
    with squirrel.VM() as vm:
        vm.run(SETUP)
        vm.snapshot()
        yield vm


def test_restore_gives_a_fresh_copy_of_the_globals(vm):
    vm.run("x = 2; t.a = 9; t.sub.b = 8; t.n <- 3; y <- 4; delete t.sub;")
    assert vm.restore()
    assert vm.run("return [x, t.a, t.sub.b, 'n' in t, 'y' in getroottable()]") == [1, 1, 2, False, False]
    assert vm.root["x"] == 1  # vm.root follows the new root table


def test_each_restore_is_independent(vm):
    for i in range(5):
        assert vm.restore()
        assert vm.run(f"t.sub.b += {i}; return t.sub.b") == 2 + i


def test_functions_compiled_after_restore_see_the_new_globals(vm):
    vm.restore()
    f = vm.compile("return function() { return ::x }")()
    vm.run("x = 42")
    assert f() == 42


def test_constants_of_earlier_scripts_are_forgotten(vm):
    vm.compile("const LIMIT = 5; return LIMIT", "v1.nut")
    assert vm.restore()
    assert vm.compile("LIMIT <- 7; return LIMIT", "v2.nut")() == 7


@pytest.mark.parametrize("change", [
    "C.extra <- function() { return 2 }",        # a method added to a shared class
    "C.rawset(\"get\", function() { return 2 })",  # a method replaced
    "C.setattributes(null, { tag = 1 })",         # class attributes
    "pristine_f.getroot().leak <- 1",             # the pristine root, through a closure
    "pristine_f.setroot({})",                     # a shared closure's root
    "C.setattributes(\"get\", { tag = 1 })",       # a member's attributes
    "C.rawset(\"v\", 2)",                          # a field's default value
    "C._tostring <- pristine_f",                   # a metamethod (not a member: kept apart)
    "C._get <- function(k) { return 2 }",          # a metamethod added
])
def test_a_change_to_shared_state_refuses_the_restore(vm, change):
    vm.run(change)
    assert vm.restore() is False
    assert vm.root["x"] == 1  # nothing changed: the caller replaces the VM
    assert vm.restore() is False  # and stays refused, however often it is asked


@pytest.mark.parametrize("change", [
    "obj.f = 2",                                   # a field of a pristine instance
    "obj.getclass()._get <- pristine_f",           # its class, reached only through it: a metamethod
    "obj.getclass().m <- pristine_f",              # a method replaced (no allocation: pristine_f)
    "obj.f.t.n = 2",                               # a table in one of its fields
])
def test_a_change_through_a_pristine_instance_refuses_the_restore(change):
    with squirrel.VM() as vm:
        vm.run("function pristine_f(...) { return 1 }"
               "obj <- (class { f = null; function m() { return 0 } })(); obj.f = { t = { n = 1 } };")
        vm.snapshot()
        probe = "try { return [obj.f.t.n, obj.m(), obj.nosuch] } catch (e) { return [obj.f.t.n, obj.m(), e] }"
        fresh = vm.run(probe)
        assert vm.restore()
        vm.run(change)
        assert vm.restore() is False
        assert vm.restore() is False
    with squirrel.VM() as vm:
        vm.run("function pristine_f(...) { return 1 }"
               "obj <- (class { f = null; function m() { return 0 } })(); obj.f = { t = { n = 1 } };")
        vm.snapshot()
        assert vm.run(probe) == fresh == [1, 0, "the index 'nosuch' does not exist"]


# What a script can leave holding instances of a pristine class: reference counting frees a
# global's at the restore, Squirrel's collector the ones in a cycle.
LEFT_INSTANCES = {
    "a global": "keep <- C()",
    "a table cycle": "local t = { c = C() }; t.me <- t;",
    "an array cycle": "local a = [C(), C()]; a.push(a);",
    "a closure's cycle": "local c = C(); local t = {}; t.f <- function() { return [t, c] };",
    "a cycle through an instance": "local c = C(); c.v = { c = c };",
    "a global and a cycle": "keep <- C(); local t = { c = C() }; t.me <- t;",
}


@pytest.mark.parametrize("left", sorted(LEFT_INSTANCES))
def test_a_pristine_class_a_script_made_instances_of_is_unlocked_again(vm, left):
    """A class locks at its first instance (no more fields); a new VM's pristine class has none,
    whatever the last script left, so a restored VM's has none either."""
    probe = "try { C.extra <- 1; return C().extra } catch (e) { return e }"
    vm.run(LEFT_INSTANCES[left])
    assert vm.restore()
    with squirrel.VM() as new:
        new.run(SETUP)
        new.snapshot()
        assert vm.run(probe) == new.run(probe) == 1
        assert vm.memory_used == new.memory_used  # the cycle is gone too


@pytest.mark.parametrize("cls, make", [("blob", "blob(4)"), ("regexp", 'regexp("a+")')])
def test_a_standard_class_left_in_a_cycle_is_unlocked_again(cls, make):
    probe = f"try {{ {cls}.extra <- 1; return {cls}.extra }} catch (e) {{ return e }}"
    with squirrel.VM() as vm, squirrel.VM() as new:
        for v in (vm, new):
            v.snapshot()
        vm.run(f"local t = {{ i = {make} }}; t.me <- t;")
        assert vm.restore()
        assert vm.run(probe) == new.run(probe) == 1


def test_tables_reached_twice_or_through_a_cycle_are_copied_once():
    with squirrel.VM() as vm:
        vm.run("shared <- { n = 1 }; pair <- { a = shared, b = shared }; cyc <- {}; cyc.self <- cyc;"
               "t <- { a = 1 }; w <- t.weakref();")
        vm.snapshot()
        for _ in range(3):
            assert vm.restore()
            # One copy per pristine table, however it is reached; a weak reference to a pristine
            # table becomes the copy itself (as it always has: the copy holds the table).
            assert vm.run("local r = [pair.a == pair.b, pair.a == shared, cyc.self == cyc, typeof w, w == t];"
                          "shared.n = 5; r.push(pair.b.n); return r") == [True, True, True, "table", True, 5]


def test_every_restore_gives_the_globals_in_the_same_order(vm):
    order = "local k = []; foreach (n, v in getroottable()) k.push(n); return k"
    first = vm.run(order)
    vm.run("x = 5; extra <- 1; delete t")
    assert vm.restore()
    assert vm.run(order) == first
    assert vm.restore()
    assert vm.run(order) == first


def test_instances_made_from_shared_classes_are_not_shared_state(vm):
    vm.run("keep <- C(); keep.v = 5")
    assert vm.restore()
    assert vm.run("return C().get()") == 1


def test_proxies_made_after_a_restore_release_their_handles_and_old_ones_stay_dead(vm):
    # A proxy knows its VM's handle generation: one made before a restore does not release (its
    # handle went with the restore), one made after does.
    old = vm.to_squirrel({"a": 1})
    for _ in range(3):
        assert vm.restore()
        held = lib.sqpy_live_refs(vm._ptr)
        t = vm.to_squirrel({"a": [1, 2]})
        assert lib.sqpy_live_refs(vm._ptr) == held + 1
        del t
        assert lib.sqpy_live_refs(vm._ptr) == held
    del old
    assert lib.sqpy_live_refs(vm._ptr) == held


def test_proxies_of_an_earlier_run_stop_working_and_free_what_they_held(vm):
    table = vm.compile("return { n = 1, big = array(1000, 0) }")()
    f = vm.compile("return 1")
    used = vm.memory_used
    assert vm.restore()
    assert vm.memory_used < used - 8000  # the array went with the restore, not with the proxy
    for use in (lambda: table["n"], f, lambda: vm.root["t"].__setitem__("x", table)):
        with pytest.raises(squirrel.SquirrelError, match="before restore"):
            use()
    del table, f  # releasing stale handles does nothing to the new run's objects
    fresh = vm.run("return { n = 2 }")
    assert fresh["n"] == 2 and vm.run("return t.a") == 1


@pytest.mark.parametrize("script", [
    'local s = "' + "x" * 20000 + '"; return s.len();',  # the closure last called holds the literal
    'local s = "y"; for (local i = 0; i < 14; i++) s += s; throw s;',  # the last error, the scratch pad
    'local a = []; for (local i = 0; i < 5000; i++) a.push("s" + i);',  # the string table's slots
])
def test_restore_frees_what_the_last_call_left_in_the_vm(vm, script):
    # The VM's temporary register keeps the closure it last called (its only reference once
    # Python lets go of it), the VM keeps its last error, its scratch pad and string table keep
    # the size they grew to: the restore gives all of it back, not the next script's run.
    base = vm.memory_used
    main = vm.compile(script)
    try:
        main()
    except squirrel.ScriptError:
        pass
    del main
    assert vm.restore()
    assert vm.memory_used < base + 1024


# What a script can see of the VM's working space, as memory figures: its code's load (the first
# closure made over the root table), calls deep enough to grow the call stack and the value
# stack, nested try blocks, a closure made later. Each figure is memory used at that point
# minus memory used before the load.
GROWTH_PROBE = """
local m = [mem()];
function down(n) { return n == 0 ? mem() : down(n - 1) + 0 }
m.push(down(300));
try { try { throw 1; } catch (e) { m.push(mem()); } } catch (e) {}
local later = function() { return m };
m.push(mem());
return m;
"""


def _probe(vm):
    before = vm.memory_used
    main = vm.compile(GROWTH_PROBE)
    return [vm.memory_used - before] + [used - before for used in main()]


def _vm_with_setup():
    vm = squirrel.VM()
    vm.root["mem"] = lambda: vm.memory_used
    vm.run(SETUP)
    return vm


def test_a_restored_vm_holds_and_grows_as_a_new_vm_does():
    # A new VM's stacks start small and grow at the script's first deep call or try block, its
    # root table has had a weak reference (for closures) since it was set up: a restored VM,
    # whatever the last script grew, gives the next script the same figures at every point.
    new = _vm_with_setup()
    reused = _vm_with_setup()
    try:
        expected = _probe(new)
        reused.snapshot()
        assert _probe(reused) == expected  # the first script after the snapshot
        for _ in range(3):
            assert reused.restore()
            assert _probe(reused) == expected
    finally:
        new.close()
        reused.close()


def test_the_handles_the_host_holds_are_not_the_scripts_memory(vm):
    items = vm.compile("return array(64).map(@(i) {})")()
    used = vm.memory_used
    held = [items[i] for i in range(64)]  # a handle to each of 64 tables
    assert vm.memory_used == used
    del held
    assert vm.memory_used == used


def test_cycles_are_collected_on_request(vm):
    base = vm.memory_used
    vm.run("for (local i = 0; i < 200; i++) { local a = {}; a.self <- a; }")
    assert vm.restore()
    assert vm.memory_used > base  # reference counting cannot free cycles...
    vm.collect_garbage()
    assert vm.memory_used <= base + 512  # ...the collector can


def test_restore_needs_a_snapshot_and_a_resting_vm():
    with squirrel.VM() as fresh:
        with pytest.raises(squirrel.SquirrelError, match="snapshot"):
            fresh.restore()
        fresh.snapshot()

        def inside():
            fresh.restore()

        fresh.root["inside"] = inside
        with pytest.raises(squirrel.SquirrelError, match="not running"):
            fresh.run("inside()")


def test_rebind_hands_installed_natives_a_new_context(vm):
    vm.install(vm.root, squirrel.NativeSet({"who": lambda ctx: ctx}), "first")
    assert vm.run("return who()") == "first"
    vm.rebind("first", "second")
    assert vm.run("return who()") == "second"


def test_rebind_keeps_the_upper_argument_bound_of_natives_with_defaults(vm):
    vm.install(vm.root, squirrel.NativeSet({"tag": lambda ctx, a, b="-": f"{ctx}{a}{b}"}), "first")
    assert vm.run("return tag(1) + tag(2, 3)") == "first1-first23"
    vm.rebind("first", "second")
    assert vm.run("return tag(1) + tag(2, 3)") == "second1-second23"
    assert vm.run('try { tag(1, 2, 3) } catch (e) { return e }') == "wrong number of parameters"


# --- property: whatever a script does, the next one starts as in a new VM -----------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

FRAGMENTS = [
    "x = 99;", "y <- [1, 2];", "t.a = 5;", "t.sub.b <- 7;", "t.sub.c <- {};", "delete t.a;",
    "t.setdelegate({ d = 1 });", "C.extra <- 1;", "C.rawset(\"get\", @() 3);",
    "C.setattributes(\"get\", { a = 1 });", "pristine_f.getroot().z <- 1;", "pristine_f.setroot({});",
    "const K2 = 4;", "enum E { A, B };", "local k = C(); k.v = 8;", "t.sub = null;",
    "getroottable().w <- t;", "class D extends C {};", "t.sub.self <- t.sub;",
    "::pristine_f <- @() 2;", "delete t;",
]

# What a script can see of the globals: the root's keys and, one level down, tables' keys and
# classes' members (sorted, so hash order does not matter), plus what the pristine function says.
PROBE = """
local keys = function(o) { local r = []; foreach (k, v in o) r.push(k.tostring()); r.sort(); return r; };
local describe = null;
describe = function(v, depth) {
    local t = typeof v;
    if ((t != "table" && t != "class") || depth > 3) return t == "integer" ? v.tostring() : t;
    local parts = [];
    foreach (k in keys(v)) parts.push(k + "=" + describe(v[k], depth + 1));
    local d = t == "table" ? v.getdelegate() : null;
    return t + (d == null ? "" : "+delegate") + "{" + (parts.len() ? parts.reduce(@(a, b) a + "," + b) : "") + "}";
};
return describe(getroottable(), 0) + " f=" + pristine_f() + " K2=" + ("K2" in getconsttable());
"""


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=6))
def test_after_any_script_the_next_one_sees_what_a_new_vm_shows(fragments):
    with squirrel.VM() as fresh:
        fresh.run(SETUP)
        expected = fresh.run(PROBE)
    with squirrel.VM() as vm:
        vm.run(SETUP)
        vm.snapshot()
        for code in fragments:
            try:
                vm.run(code)
            except squirrel.ScriptError:
                pass  # e.g. a member added to a class already instantiated
        if vm.restore():
            assert vm.run(PROBE) == expected
        else:  # refused: the host makes a new VM, which shows `expected` by definition
            assert vm.root["x"] != 1 or fragments


def test_shared_and_cyclic_tables_are_copied_once():
    with squirrel.VM() as vm:
        vm.run("shared <- { n = 1 }; a <- { s = shared }; b <- { s = shared }; loop <- {}; loop.self <- loop;"
               "for (local i = 0; i < 8; i++) getroottable()[\"r\" + i] <- getroottable();")
        vm.snapshot()
        assert vm.restore()
        assert vm.run("a.s.n = 2; return [b.s.n, a.s == b.s, loop.self == loop, r3 == getroottable()]") \
            == [2, True, True, True]
        assert vm.restore()
        assert vm.run("return [a.s.n, shared == a.s]") == [1, True]


def test_a_root_nested_too_deep_is_refused_and_left_as_it_was():
    with squirrel.VM() as vm:
        vm.run("local t = deep <- {}; for (local i = 0; i < 40; i++) t = t.next <- {};")
        with pytest.raises(squirrel.SquirrelError, match="nested more than 32 deep"):
            vm.snapshot()
        assert vm.run("local n = 0, t = deep; while (\"next\" in t) { t = t.next; n++ } deep.x <- 1; return n") == 40
        with pytest.raises(squirrel.SquirrelError, match="snapshot"):
            vm.restore()


# --- kept copies: a restore keeps the nested copies the last script left as they were made ------
# (see "snapshot and restore" in squirrel/csrc/sqpy.cpp). Whatever the script did, the next one
# must get what fresh copies give: the same globals, memory, peak and instruction charge.

from squirrel._squirrel import lib  # noqa: E402

NESTED = """
x <- 1; shared <- { n = 1 }; a <- { s = shared }; b <- { s = shared };
t <- { a = 1, sub = { b = 2, deeper = { c = 3 } } };
for (local i = 0; i < 60; i++) t.sub["k" + i] <- i;
"""

NESTED_WRITES = {
    "nothing": "",
    "a slot added": "t.sub.x <- 1;",
    "a slot added and deleted": "t.sub.x <- 1; delete t.sub.x;",
    "a slot deleted": "delete t.sub.b;",
    "cleared": "t.sub.clear();",
    "rawset": 't.sub.rawset("b", 3);',
    "rawdelete": 't.sub.rawdelete("b");',
    "the same value written back": "t.sub.b = 2;",
    "a delegate set": "t.sub.setdelegate({ d = 1 });",
    "a weak reference kept": "w <- t.sub.weakref();",
    "printed (numbered)": "print(t.sub);",
    "a table reached twice written": "a.s.n = 5;",
    "two levels down": "t.sub.deeper.q <- 1;",
    "held by a global": "h <- t.sub;",
    "held by a script table": "h <- { s = t.sub, d = t.sub.deeper };",
    "held by a cycle": "local c = { s = t.sub }; c.self <- c;",
    "replaced": "t.sub = { b = 2 };",
    "the root's slot deleted": "delete t;",
    "a nested table grown": "for (local i = 0; i < 100; i++) t.sub.deeper[i] <- i;",
    "the root table grown": 'for (local i = 0; i < 300; i++) getroottable()["g" + i] <- i;',
    "held by the last call's result": "return t.sub;",
}


def _after_each_restore(write, keep):
    with squirrel.VM() as vm:
        lib.sqpy_keep_copies(vm._ptr, keep)
        vm.run(NESTED)
        vm.snapshot()
        seen = []
        for _ in range(3):
            vm.run(write)
            work = vm.work
            assert vm.restore()
            seen.append((vm.work - work, vm.memory_used, vm.memory_peak,
                         vm.run("return [t.sub.b, t.sub.len(), 'x' in t.sub, t.sub.getdelegate() == null,"
                                "a.s == b.s, a.s.n, t.sub.deeper.len()]"),
                         vm.run('local k = ""; foreach (n, v in getroottable()) k += n + ",";'
                                'foreach (n, v in t.sub) k += n + ","; return k')))
            vm.run("t.sub.k0 = 100; a.s.n = 9;")  # the probe's own writes reach no later restore
            assert vm.restore()
        return seen


@pytest.mark.parametrize("what", sorted(NESTED_WRITES))
def test_a_restore_keeping_copies_gives_what_fresh_copies_give(what):
    # A VM that compiled a source holds more than one that loaded its cached bytecode: the
    # first round only makes both rounds below load it.
    _after_each_restore(NESTED_WRITES[what], False)
    kept = _after_each_restore(NESTED_WRITES[what], True)
    assert kept == _after_each_restore(NESTED_WRITES[what], False)
    assert kept[0][3] == [2, 62, False, True, True, 1, 1]


def _restore_under_a_limit(margin, keep):
    with squirrel.VM() as vm:
        lib.sqpy_keep_copies(vm._ptr, keep)
        vm.run(NESTED)
        vm.snapshot()
        vm.run("")
        assert vm.restore()
        vm.run("")
        vm.memory_limit = vm.memory_used + margin
        restored = vm.restore()
        return restored, vm.memory_used, vm.memory_peak


@pytest.mark.parametrize("margin", [100, 1000, 3000, 100000])
def test_a_memory_limit_stops_a_restore_keeping_copies_where_it_stops_fresh_copies(margin):
    # The limit is checked as the copies are charged to the instruction budget: a restore that
    # keeps copies counts the memory fresh ones would have allocated, at the same points.
    _restore_under_a_limit(margin, False)  # warm the bytecode cache (see above)
    kept = _restore_under_a_limit(margin, True)
    assert kept == _restore_under_a_limit(margin, False)
    assert kept[0] is (margin > 3000)


@pytest.mark.parametrize("margin", [100, 100000])
def test_a_restore_given_a_memory_limit_is_held_to_that_one(margin):
    # restore(memory_limit=) sets the limit first, as the attribute would: the same restore as
    # under a limit set just before it, and one lifted (None) stops nothing.
    expected = _restore_under_a_limit(margin, True)
    with squirrel.VM() as vm:
        vm.run(NESTED)
        vm.snapshot()
        vm.run("")
        assert vm.restore()
        vm.run("")
        limit = vm.memory_used + margin
        vm.memory_limit = 1  # replaced before the copies are made
        assert (vm.restore(memory_limit=limit), vm.memory_used, vm.memory_peak) == expected
        assert vm.memory_limit == limit
        vm.memory_limit = 1
        assert vm.restore(memory_limit=None) and vm.memory_limit is None
        assert vm.restore() and vm.memory_limit is None  # not given: left as it is
        vm.memory_limit = 1
        assert vm.restore() is False  # held to the limit it had
        with pytest.raises(ValueError):
            vm.restore(memory_limit=0)
        assert vm.memory_limit == 1


def test_a_pristine_table_written_and_put_back_is_still_reused(vm):
    # Its bytes changed (a slot taken and freed again): the digest is taken, finds the same
    # slots, and the restore goes ahead, as it always has; later restores compare with this state.
    for _ in range(3):
        vm.run("local r = pristine_f.getroot(); r.tmp <- 1; delete r.tmp; t.sub.b = 5;")
        assert vm.restore()
        assert vm.run('return ["tmp" in getroottable(), t.sub.b]') == [False, 2]
    vm.run("pristine_f.getroot().tmp <- 1")
    assert vm.restore() is False


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(sorted(NESTED_WRITES)), max_size=3), min_size=1, max_size=4))
def test_after_any_scripts_kept_and_fresh_copies_look_the_same(rounds):
    def play(keep):
        with squirrel.VM() as vm:
            lib.sqpy_keep_copies(vm._ptr, keep)
            vm.run(NESTED)
            vm.snapshot()
            seen = []
            for writes in rounds:
                for what in writes:
                    try:
                        vm.run(NESTED_WRITES[what])
                    except squirrel.ScriptError:
                        pass  # e.g. t.sub.deeper after t.sub.clear()
                work = vm.work
                assert vm.restore()
                seen.append((vm.work - work, vm.memory_used, vm.memory_peak,
                             vm.run('local k = ""; foreach (n, v in getroottable()) k += n + ",";'
                                    'foreach (n, v in t.sub) k += n + "=" + (typeof v == "table" ? "t" : v) + ",";'
                                    'return k + a.s.n')))
            return seen

    play(False)  # the bytecode cache, as above
    assert play(True) == play(False)
