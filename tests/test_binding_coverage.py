"""Line coverage (squirrel/coverage.py, csrc/sqpy_cov.cpp): it changes nothing a script sees, the
same code runs with it on as off (the same results, instruction counts and memory figures), and
it reports the lines that ran, also of code loaded from cached bytecode or kept by a restore."""

from __future__ import annotations

import squirrel

SOURCE = """
local total = 0;
function step(i) {
    if (i % 3 == 0) {
        return i * 2;
    }
    return i;
}
for (local i = 0; i < 30; i++) {
    total += step(i);
}
local t = {};
t.made <- [1, 2, 3];
return [total, t.made.len()];
"""


def run(coverage: bool, source: str = SOURCE, name: str = "cov.nut"):
    vm = squirrel.VM("imp")
    try:
        vm.set_coverage(coverage)
        w0, m0 = vm.work, vm.memory_used
        fn = vm.compile(source, name)
        m1 = vm.memory_used
        result = squirrel.to_python(fn())
        return (result, vm.work - w0, m1 - m0, vm.memory_used - m0, vm.memory_peak), vm.coverage()
    finally:
        vm.close()


def test_coverage_on_runs_the_same_instructions_in_the_same_memory():
    seen_off, lines_off = run(False)
    seen_on, lines = run(True)
    assert seen_on == seen_off
    assert lines_off == {}
    hits = lines["cov.nut"]
    assert hits[4] == 30 and hits[5] == 10 and hits[7] == 20 and hits[10] == 30  # one per entry
    assert hits[2] == hits[12] == hits[13] == hits[14] == 1
    assert 6 not in hits  # a closing brace has no code


def test_only_code_compiled_while_coverage_is_on_is_reported():
    vm = squirrel.VM("imp")
    try:
        before = vm.compile("function helper(x) {\n  return x + 1;\n}", "prelude.nut")
        before()
        vm.set_coverage(True)
        fn = vm.compile("return helper(1)\n+ helper(2);", "app.nut")
        assert squirrel.to_python(fn()) == 5
        assert vm.coverage() == {"app.nut": {1: 1}}
    finally:
        vm.close()


def test_a_function_freed_and_another_made_in_its_place_start_their_own_counts():
    vm = squirrel.VM("imp")
    try:
        vm.set_coverage(True)
        for n in range(1, 6):  # each compile frees the last one's code, often at the same address
            src = "local s = 0;\n" * n + "for (local i = 0; i < %d; i++)\n  s += i;\nreturn s;" % n
            assert squirrel.to_python(vm.compile(src, f"gen{n}.nut")()) == n * (n - 1) // 2
        got = vm.coverage()
        for n in range(1, 6):
            assert got[f"gen{n}.nut"][n + 2] == n
            assert got[f"gen{n}.nut"][1] == 1
    finally:
        vm.close()


def restored_runs(coverages):
    vm = squirrel.VM("imp")
    try:
        vm.snapshot()
        figures, lines = [], []
        for coverage in coverages:
            assert vm.restore()
            vm.set_coverage(coverage)
            w0, m0 = vm.work, vm.memory_used
            fn = vm.compile(SOURCE, "kept.nut")  # read from cached bytecode, or kept by the restore
            figures.append((repr(squirrel.to_python(fn())), vm.work - w0, vm.memory_used - m0, vm.memory_peak))
            del fn
            lines.append(vm.coverage())
        return figures, lines
    finally:
        vm.close()


def test_code_loaded_again_after_a_restore_is_counted_as_it_runs():
    figures, lines = restored_runs([False, True, True, False, True])
    assert figures == restored_runs([False] * 5)[0]
    expected = {"kept.nut": run(True)[1]["cov.nut"]}
    assert lines == [{}, expected, expected, {}, expected]
