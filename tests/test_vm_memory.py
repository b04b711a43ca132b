"""Patch 11 and VM(overhead_scale=...): string and blob contents count in full, everything else
scaled, and the memory limit compares against that sum."""

from __future__ import annotations

import pytest

import squirrel

MAKE_TABLES = "return function(n) { local a = []; for (local i = 0; i < n; i++) a.push({x = i}); return a; }"


def cost(vm: squirrel.VM, source: str) -> tuple[int, object]:
    f = vm.compile(f"return function() {{ {source} }}")()
    f()  # a first run grows what later runs reuse (the scratch pad, string table)
    before = vm.memory_used
    kept = f()
    return vm.memory_used - before, kept


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_blob_contents_count_in_full(scale):
    with squirrel.VM(overhead_scale=scale) as vm:
        used, _ = cost(vm, "return blob(65536);")
        assert 65536 <= used <= 65536 + 512


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_string_contents_count_in_full(scale):
    with squirrel.VM(overhead_scale=scale) as vm:
        vm.run("::kept <- []; ::n <- 64;")
        # a new string each run (strings are interned), kept
        used, _ = cost(vm, 'local s = (::n++).tochar(); while (s.len() < 65536) s += s; ::kept.push(s + "!");')
        assert 65537 <= used <= 65537 + 256


def test_object_overhead_is_scaled():
    full, half = squirrel.VM(), squirrel.VM(overhead_scale=0.5)
    tables = {}
    for vm in (full, half):
        vm.run("::make <- " + MAKE_TABLES[len("return "):])
        used, _ = cost(vm, "return ::make(1000);")
        tables[vm.overhead_scale] = used
        vm.close()
    assert tables[1.0] > 1000 * 16  # a table and an array slot each
    assert abs(tables[0.5] * 2 - tables[1.0]) <= 0.02 * tables[1.0]


def test_the_limit_compares_against_the_weighted_sum():
    with squirrel.VM(overhead_scale=0.5, memory_limit=256 * 1024) as vm:
        vm.run("::keep <- [];")
        vm.run("for (local i = 0; i < 3; i++) ::keep.push(blob(65536));")  # 192 KB of contents fit
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("::keep.push(blob(65536));")  # the fourth does not, scaled or not
        vm.root["keep"] = None
        assert vm.run("return 1") == 1


def test_allocation_guards_weigh_contents_and_slots_apart():
    # blob(n) is n bytes of contents; array(n) is n slots of (scaled) overhead.
    with squirrel.VM(overhead_scale=0.5, memory_limit=1 << 20) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("return blob((1 << 20) + 1).len()")
        assert vm.run("return array(100000).len()") == 100000  # 1.6 MB here, 0.8 MB scaled


def test_overhead_scale_is_checked():
    for bad in (0, -1, 17):
        with pytest.raises(ValueError):
            squirrel.VM(overhead_scale=bad)


def test_a_vm_holds_the_same_after_compiling_a_new_source_as_after_a_cached_one():
    """The first VM to compile a source and every later one (which get its bytecode from the
    cache) hold the same memory: a figure does not depend on what the process compiled before."""
    src = ('local greeting = "memory " + "figures"; '
           'function f(a, b) { local t = {x = a, y = b}; return t.x + t.y; } return f(1, 2);')
    used, results = [], []
    for _ in range(3):
        with squirrel.VM() as vm:
            results.append(vm.compile(src, "first-and-later.nut")())
            used.append(vm.memory_used)
    assert results == [3, 3, 3]
    assert used[0] == used[1] == used[2]



@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_headroom_sets_the_limit_the_current_use_plus_it(scale):
    with squirrel.VM(overhead_scale=scale) as vm:
        vm.run("::keep <- [];")
        used = vm.memory_used
        assert vm.set_memory_headroom(100000) == used + 100000 == vm.memory_limit
        vm.run("::keep.push(blob(60000));")  # fits
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("::keep.push(blob(60000));")  # 120 KB over what was used: not
        vm.root["keep"] = None
        with pytest.raises(ValueError):
            vm.set_memory_headroom(0)
        assert vm.memory_limit == used + 100000  # a refused headroom changes nothing
    with pytest.raises(squirrel.SquirrelError):
        vm.set_memory_headroom(1)  # closed
