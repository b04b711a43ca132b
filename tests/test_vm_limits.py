"""Patch 10 (limits inside natives) and the binding's limits: natives charge their work to the
instruction budget and ask before large allocations, results of any depth convert, a VM stopped
for memory stays usable, and cached bytecode keeps its constants."""

from __future__ import annotations

import pytest

import squirrel
from binding_helpers import assert_clean_run, run_isolated

# A script calls each native a few times on a large input: it runs only some hundred instructions
# of its own, so only the natives' charges can use up the budget.
BIG = 'local s = "ab,cd "; while (s.len() < 1 << 20) s += s; '  # 1.5 MiB of text
HEAVY_NATIVES = {
    "find": 's.find("zz")',
    "split": 'split(s, ",")',
    "strip": "strip(s)",
    "tolower": "s.tolower()",
    "slice": "s.slice(1)",
    "format": 'format("%s", s)',
    "regexp": 'regexp("a*z").search(aa)',
    "sort": "a.sort()",
    "array reverse": "a.reverse()",
    "array slice": "a.slice(1)",
    "array map": "a.map(@(x) x)",
    "array find": "a.find(-1)",
    "clone": "clone a",
    "blob": "b.resize(b.len() + 1); b.seek(0); b.writeblob(b);",
    "concat": "s + s",
}


@pytest.mark.parametrize("dialect", ["imp", "standard"])
@pytest.mark.parametrize("name", sorted(HEAVY_NATIVES))
def test_heavy_natives_use_up_the_instruction_budget(dialect, name):
    setup = BIG + "local a = array(200000, 1), b = blob(1 << 22), aa = \"a\"; while (aa.len() < 3000) aa += \"a\"; "
    with squirrel.VM(dialect) as vm:
        own = vm.run(setup + "return 0")  # the setup alone fits the budget below
        assert own == 0
        vm.instruction_limit = 3_000_000
        vm.run(setup + "return 1")
        with pytest.raises(squirrel.TimeLimitError):
            # block copies are cheap per byte (SQ_COST_COPY): those take more rounds
            rounds = 300 if name in ("slice", "blob", "concat") else 30
            vm.run(setup + f"for (local i = 0; i < {rounds}; i++) {HEAVY_NATIVES[name]};")
        assert vm.run("return 2") == 2  # usable afterwards


def test_a_loop_of_regexp_searches_stops_at_the_deadline():
    # Each search stays under the matcher's own step limit; before, the deadline was read only
    # between instructions (every 10,000), so this ran for minutes. A child process: a
    # regression would hang there, not here.
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM(time_limit=0.3)
        try:
            vm.run('local s = ""; for (local i = 0; i < 1000; i++) s += "a"; local r = regexp("a*b");'
                   'for (local i = 0; i < 1000000; i++) r.search(s);')
            print("finished")
        except squirrel.TimeLimitError:
            print("stopped")
    """, timeout=120)
    assert_clean_run(result, "stopped")


def test_the_budget_counts_instructions_exactly_without_natives():
    with squirrel.VM("standard", instruction_limit=1000) as vm:
        vm.root["count"] = 0
        with pytest.raises(squirrel.TimeLimitError):
            vm.run("while (true) ::count++;")
        first = vm.root["count"]
        vm.root["count"] = 0
        with pytest.raises(squirrel.TimeLimitError):
            vm.run("while (true) ::count++;")
        assert vm.root["count"] == first > 0


def test_work_done_is_exact_at_any_moment_and_counts_what_natives_charge():
    """VM.work: every instruction and every native's charge, readable from inside a native as
    well as between calls, never reset; the budget counts the same units."""
    with squirrel.VM("standard") as vm:
        seen = []
        vm.root["mark"] = lambda: seen.append(vm.work)
        loop = vm.compile("mark(); for (local i = 0; i < 1000; i++) {} mark();", "loop")
        text = vm.compile('local s = "abcd"; while (s.len() < 1 << 16) s += s; mark(); s.tolower(); mark();', "text")
        before = vm.work
        loop()
        between = vm.work
        loop()
        assert seen[1] - seen[0] == seen[3] - seen[2] > 3000  # a few instructions a turn, exactly again
        assert before < seen[0] < seen[1] < between < seen[2]
        text()
        assert seen[5] - seen[4] >= (1 << 16) // 4  # tolower charged 4 bytes a unit, on top of its call
        # read_work(): the same counter, from inside a native as well as between calls
        vm.root["both"] = lambda: seen.append((vm.work, vm.read_work()))
        vm.run("both(); for (local i = 0; i < 100; i++) {}")
        assert seen[-1][0] == seen[-1][1] and vm.read_work() == vm.work > seen[-1][0]
    with squirrel.VM("standard", instruction_limit=5000) as vm:
        before = vm.work
        with pytest.raises(squirrel.TimeLimitError):
            vm.run("while (true) {}")
        assert 5000 <= vm.work - before < 5010  # what the budget stopped at


def test_each_call_of_a_python_function_counts_call_instructions():
    """A Python function costs far more than an instruction: with call_instructions set, a loop
    that calls one uses up the budget that many instructions a call sooner, and the stop cannot
    be caught. Without it (the default) a call counts as the one instruction that makes it."""
    with squirrel.VM("imp", instruction_limit=1_000_000) as vm:
        vm.root["f"] = lambda: 1
        counts = []
        for cost in (0, 1000):
            vm.call_instructions = cost
            vm.root["n"] = 0
            with pytest.raises(squirrel.TimeLimitError):
                vm.run("while (true) { try { f(); } catch (e) { ::caught <- e; } ::n++; }")
            counts.append(vm.root["n"])
            assert "caught" not in vm.root
        assert counts[0] > 50_000 and 900 <= counts[1] < 1000
        assert vm.run("return 1") == 1
        with pytest.raises(ValueError):
            vm.call_instructions = -1


@pytest.mark.parametrize("source", [
    'local s = "\\x01"; while (s.len() < 1 << 22) s += s; return escape(s);',
    'local s = "A"; while (s.len() < 1 << 23) s += s; return s.tolower();',
    'local s = "A"; while (s.len() < 1 << 23) s += s; return s + s;',
    'local s = "A"; while (s.len() < 1 << 23) s += s; return s.slice(1);',
    'local a = array(1 << 19, 0); return a.slice(0);',
    'local a = array(1 << 19, 0); return clone a;',
    'local b = blob(1 << 23); b.writeblob(b); return 1;',
    'local b = blob(1 << 23); return b.readblob(1 << 23);',
])
def test_natives_ask_before_allocating_past_the_memory_limit(source):
    limit = 12 << 20
    with squirrel.VM("standard", memory_limit=limit) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run(source)
        assert vm.memory_peak <= limit + (1 << 20)  # stock escape() peaked at 4-8x the input


def test_split_into_many_tokens_stops_at_the_memory_limit():
    with squirrel.VM("standard", memory_limit=32 << 20) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run('local s = ","; while (s.len() < 1 << 22) s += s; return split(s, ",").len();')
        # stopped at the token that went over, give or take the array's last doubling
        assert vm.memory_peak < 2 * (32 << 20)


def test_a_vm_stopped_for_memory_held_in_cycles_stays_usable():
    with squirrel.VM(memory_limit=4 << 20) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("while (true) { local t = {}; t.self <- t; t.pad <- array(100); }")
        assert vm.run("return 7") == 7 and vm.memory_used < 1 << 20


def test_memory_still_held_keeps_failing_until_released():
    """What the script still holds stays counted: work that needs more than is left fails (how
    much is left depends on which allocation went over, so ask for half the limit), and works
    once the memory is released."""
    with squirrel.VM(memory_limit=4 << 20) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("::hold <- []; while (true) ::hold.push({});")
        assert vm.memory_used > 2 << 20
        with pytest.raises(squirrel.MemoryLimitError):
            vm.run("return blob(2 << 20).len()")
        vm.root["hold"] = None
        assert vm.run("return blob(2 << 20).len()") == 2 << 20


def test_results_keyed_by_tables_keep_those_keys_as_proxies():
    with squirrel.VM() as vm:
        result = vm.run("local t = {}; t[{name = \"k\"}] <- 1; t[[1]] <- 2; t.x <- {y = [1, {z = 3}]}; return t")
        keys = [k for k in result if not isinstance(k, str)]
        assert sorted(k.kind for k in keys) == ["array", "table"]
        assert result["x"] == {"y": [1, {"z": 3}]}
        assert {result[k] for k in keys} == {1, 2}


@pytest.mark.parametrize("depth", [500, 50000])
def test_results_nested_deeper_than_python_recursion_convert(depth):
    with squirrel.VM() as vm:
        result = vm.run(f"local a = [], t = {{}}; for (local i = 0; i < {depth}; i++) {{ a = [a]; t = {{t = t}}; }} "
                        "return [a, t];")
        a, t = result
        for _ in range(depth):
            a, t = a[0], t["t"]
        assert a == [] and t == {}


def test_shared_and_cyclic_results_keep_their_shape():
    with squirrel.VM() as vm:
        r = vm.run("local a = [1]; a.push(a); local t = {a = a, b = a}; t.t <- t; return t")
        assert r["t"] is r and r["a"] is r["b"] and r["a"][1] is r["a"]


def test_cached_bytecode_defines_its_constants_in_every_vm():
    source = "const K = 41; enum E { A = 2, B = 7 } return K + E.B;"
    first, second = squirrel.VM(), squirrel.VM()
    assert first.run(source) == 48 and second.run(source) == 48  # the second loads cached bytecode
    for vm in (first, second):
        assert vm.run("return [K, E.A, E.B]") == [41, 2, 7]
        vm.close()


def test_cached_bytecode_is_not_shared_between_different_constants():
    use = "return C * 10"
    one, two = squirrel.VM(), squirrel.VM()
    one.run("const C = 1;")
    two.run("const C = 2;")
    assert one.run(use) == 10 and two.run(use) == 20
    three = squirrel.VM()
    assert three.run(use.replace("C", "::getroottable().len() * 0 + 3")) == 30
    for vm in (one, two, three):
        vm.close()
