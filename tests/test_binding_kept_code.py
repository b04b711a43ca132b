"""A reused VM keeps the code the last script loaded (see "keeping the loaded code" in
squirrel/csrc/sqpy.cpp): a restore holds its prototypes, and a load of the same bytes right after
makes only the closure. Whatever scripts do, what the next one sees (values, memory used, the
peak, the instruction charge, errors) is what it sees when every load reads the bytes afresh
(sqpy_keep_code(vm, 0))."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import squirrel
from squirrel._squirrel import lib

PRISTINE = """
greeting <- "hello";
limits <- { low = 1, high = 9, names = ["alpha", "beta"] };
class Base { tag = "base"; function name() { return tag } }
function pristine_f(x = 2) { return x * 2 }
"""

# The app's code: literals of every kind (some also in the pristine state, some made again at run
# time), nested functions with default parameters and outer values, a class, a generator.
APP = """
const K = 3;
local seen = [];
local prefix = "alpha";
function outer(n, sep = ",") {
    local parts = [];
    local add = function(v) { parts.push(prefix + sep + v); };
    for (local i = 0; i < n; i++) add(i * K + 0.5);
    return parts;
}
class Meter extends Base {
    samples = null;
    constructor() { samples = []; tag = "meter"; }
    function add(v) { samples.push(v); return this; }
}
function gen() { yield "one"; yield "two"; }
local m = Meter().add(1).add(2.5).add(true);
foreach (v in gen()) seen.push(v);
local made = "hel" + "lo";   // the same text as a pristine string
local again = "al" + "pha";  // the same text as a literal of this code
return [outer(4).len(), m.name(), m.samples.len(), seen, made == greeting, again, pristine_f(), K,
        long.len(), words.len()];
"""
# A long literal (the scratch pad grows to read it) and many (the string table grows).
APP = APP.replace("local seen", 'local long = "%s";\nlocal words = [%s];\nlocal seen' % (
    "0123456789" * 120, ", ".join(f'"word{i}"' for i in range(600))))

# Other code (a deployment): some literals shared with APP, most not.
OTHER = """
local prefix = "alpha";
local words = split("one two three", " ");
function count(t) { local n = 0; foreach (k, v in t) n++; return n; }
return [prefix + "-" + words.len(), count(limits), greeting.len()];
"""

SOURCES = {"app": APP, "other": OTHER}

# What a script does besides its code's main function, and what happens around its load.
STEPS = {
    "nothing": None,
    "error with a literal": 'throw "alpha"',
    "a literal in a global": 'getroottable().kept <- "alpha" + ""; ::held <- outer;',
    "a cycle holding a literal and a closure": 'local c = { s = "alpha", f = outer }; c.me <- c;',
    "its main function dropped": "drop",
    "a string made before the load": "before: alpha",
    "a call before the load": "before: call",
    "a collection before the load": "before: collect",
    "a memory limit the load crosses": "limit",
    "a grown string table": 'local t = {}; for (local i = 0; i < 400; i++) t["s" + i] <- i;',
}


def play(keep: bool, rounds: list[tuple[str, str]]) -> list:
    """Restore, load, run, for each (source, step) of ``rounds``; what a script would see."""
    seen = []
    with squirrel.VM(overhead_scale=0.5) as vm:
        lib.sqpy_keep_code(vm._ptr, keep)
        vm.run(PRISTINE)
        vm.snapshot()
        base = vm.memory_used
        for source, step in rounds:
            what = STEPS[step]
            work = vm.work
            assert vm.restore()
            if vm.memory_used > base:
                vm.collect_garbage()  # what a run left in cycles (a host does this)
            seen.append(("restored", vm.work - work, vm.memory_used, vm.memory_peak))
            if what == "before: alpha":
                vm.root["early"] = "alpha"
            elif what == "before: call":
                vm.eval("1 + 1")
            elif what == "before: collect":
                vm.collect_garbage()
            elif what == "limit":
                vm.memory_limit = vm.memory_used + 600
            main = vm.compile(SOURCES[source], "app.nut")
            seen.append(("loaded", vm.memory_used, vm.memory_peak))
            try:
                result = squirrel.to_python(main())
            except (squirrel.ScriptError, squirrel.MemoryLimitError) as e:
                result = f"{type(e).__name__}: {e}"
            vm.memory_limit = None
            seen.append(("ran", result, vm.work - work, vm.memory_used, vm.memory_peak))
            if what and what[0].isalpha() and what not in ("drop", "limit") and not what.startswith("before"):
                try:
                    vm.run(what, "step.nut")
                except squirrel.ScriptError as e:
                    seen.append(str(e))
            if what == "drop":
                del main
            seen.append(("after", vm.memory_used, vm.memory_peak, squirrel.to_python(vm.run("return \"outer\" in getroottable() ? outer(2) : null"))))
    return seen


def test_a_restore_keeps_the_code_and_the_next_load_of_it_uses_it():
    with squirrel.VM() as vm:
        vm.run(PRISTINE)
        vm.snapshot()
        kept = []
        for _ in range(4):
            assert vm.restore()
            kept.append(lib.sqpy_code_kept(vm._ptr))
            main = vm.compile(APP, "app.nut")
            kept.append(lib.sqpy_code_kept(vm._ptr))
            assert main()[0] == 4
        # The first load follows a compile (in a VM of its own, reading this one's constants),
        # so the second is the one noted, right after a restore: kept from the third restore on.
        assert kept == [0, 0, 0, 0, 1, 0, 1, 0]
        assert vm.restore() and lib.sqpy_code_kept(vm._ptr)
        vm.eval("1")  # anything else entering the VM lets the code go first
        assert not lib.sqpy_code_kept(vm._ptr)


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_script_sees_what_a_load_from_the_bytes_shows(step, source):
    rounds = [("app", "nothing"), ("app", "nothing"), (source, step), ("app", "nothing"), ("app", "nothing")]
    kept = play(True, rounds)
    assert kept == play(False, rounds)


def test_a_load_the_memory_limit_stops_is_stopped_with_kept_code_too():
    rounds = [("app", "nothing")] * 3 + [("app", "a memory limit the load crosses")]
    kept = play(True, rounds)
    assert kept == play(False, rounds)
    assert any(isinstance(r, tuple) and r[0] == "ran" and "MemoryLimitError" in str(r[1]) for r in kept)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(SOURCES)), st.sampled_from(sorted(STEPS))), min_size=1, max_size=7))
def test_after_any_scripts_kept_code_looks_like_code_read_afresh(rounds):
    assert play(True, rounds) == play(False, rounds)


def _keeping_vm() -> squirrel.VM:
    vm = squirrel.VM()
    vm.run(PRISTINE)
    vm.snapshot()
    for _ in range(3):
        assert vm.restore()
        main = vm.compile(APP, "app.nut")
        main()
    assert vm.restore() and lib.sqpy_code_kept(vm._ptr)
    return vm


def test_a_vm_closed_while_it_keeps_code_frees_it():
    vm = _keeping_vm()
    vm.close()
    assert vm.closed


def test_a_snapshot_taken_while_code_is_kept_starts_afresh():
    vm = _keeping_vm()
    vm.snapshot()
    assert not lib.sqpy_code_kept(vm._ptr)
    for _ in range(3):
        assert vm.restore()
        assert squirrel.to_python(vm.compile(APP, "app.nut")())[:2] == [4, "meter"]
    vm.close()
