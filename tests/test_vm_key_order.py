"""Patch 16-key-order: a table keyed by objects (tables, arrays, closures, instances, classes,
generators, threads) iterates in an order that follows what the script did,
never where malloc put the objects: the same in a new process, after other work in the same
process, and in a VM reused through snapshot()/restore()."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import squirrel
from binding_helpers import in_other_heap_histories, list_in_a_new_process, new_and_restored

# Keys of every refcounted kind, made in an order that interleaves allocations the table
# never sees; returns the values in foreach order.
ORDER_SCRIPT = """
class C { n = 0; constructor(n) { this.n = n; } function _cmp(o) { return 0; } }
function gen() { yield 1; }
local junk = [];
local keys = [];
for (local i = 0; i < 6; i++) {
    junk.append(array(i * 7 + 1, i));
    keys.append({n = i});
    keys.append([i]);
    keys.append(function() { return i; });
    keys.append(C(i));
    junk.append("s" + i);
}
keys.append(C);
keys.append(gen());
keys.append(newthread(gen));
local t = {};
foreach (i, k in keys) t[k] <- i;
local order = [];
foreach (k, v in t) order.append(v);
return order;
"""


def _order(vm: squirrel.VM) -> list[int]:
    return list(vm.run(ORDER_SCRIPT))


def _churn_heap(vm: squirrel.VM) -> None:
    """Allocate and free in the VM without keying any table by an object."""
    vm.run("""
        local a = [];
        for (local i = 0; i < 500; i++) a.append(i % 3 ? {x = i} : array(i % 17));
        for (local i = 0; i < 500; i += 2) a[i] = null;
        local s = {};
        for (local i = 0; i < 200; i++) s["k" + i] <- [i];
    """)


def test_order_is_the_same_in_vms_with_different_heap_histories():
    with squirrel.VM() as fresh:
        expected = _order(fresh)
    assert sorted(expected) == list(range(27))

    def churn(vm: squirrel.VM) -> None:
        vm.run("local t = {}; for (local i = 0; i < 64; i++) t[i] <- array(i);")  # not keyed by objects
        _churn_heap(vm)

    assert in_other_heap_histories(_order, churn) == [expected] * 4


def test_order_in_a_new_process_is_the_order_in_this_one():
    with squirrel.VM() as vm:
        _churn_heap(vm)
        here = _order(vm)
    assert list_in_a_new_process(ORDER_SCRIPT) == here


def test_a_restored_vm_orders_as_a_new_vm():
    pristine = """
        pristine_t <- {};
        pristine_f <- function() {};
        keyed <- {};
        keyed[pristine_f] <- 1;  // numbered before the snapshot: kept by every restore
    """
    script = """
        local t = {};
        local made = [{}, [], function() {}];
        t[made[0]] <- 0;
        t[getroottable().pristine_f] <- 1;
        t[made[1]] <- 2;
        t[getroottable().pristine_t] <- 3;
        t[made[2]] <- 4;
        t[getroottable()] <- 5;
        local order = [];
        foreach (k, v in t) order.append(v);
        return [order, ::keyed[::pristine_f]];
    """
    # between: a script that numbers many objects (pristine ones too)
    between = ("local t = {}; for (local i = 0; i < 40; i++) t[[i]] <- i; t[::pristine_t] <- 1;"
               "t[::pristine_f] <- 2; t[getroottable()] <- 3;")
    expected, *restored = new_and_restored(pristine, between, script)
    assert restored == [expected] * 3


def test_numbering_a_key_costs_no_script_memory():
    setup = "k <- {}; s <- \"x\"; t <- {};"
    with squirrel.VM() as a, squirrel.VM() as b:
        a.run(setup)
        b.run(setup)
        a.run("t[s] <- 1;")  # the same script but for one global's name
        b.run("t[k] <- 1;")  # the same one slot, keyed by a table: numbered, outside the heap figures
        assert a.memory_used == b.memory_used
        assert a.memory_peak == b.memory_peak


def test_keys_that_are_not_objects_look_up_as_before():
    with squirrel.VM() as vm:
        assert vm.run("""
            local t = {}, k = {};
            t[k] <- 0; t[1] <- 1; t[1.5] <- 2; t[true] <- 3; t["s"] <- 4;
            return [null in t, t[k], t[1], t[1.5], t[true], t["s"], t.len()];
        """) == [False, 0, 1, 2, 3, 4, 5]


def test_printed_object_numbers_do_not_see_key_numbers():
    with squirrel.VM() as vm:
        shown = vm.run("""
            local a = {}, b = [], t = {};
            t[b] <- 1; t[a] <- 2;  // keyed in the other order
            return [a.tostring(), b.tostring()];
        """)
    assert shown == ["(table : 0x00000001)", "(array : 0x00000002)"]


def test_weak_references_of_keyed_objects_still_see_them_die():
    with squirrel.VM() as vm:
        assert vm.run("""
            local t = {}, k = {}, w1 = k.weakref();
            t[k] <- 1;
            local w2 = k.weakref();
            local same = w1 == w2 && t[w1.ref()] == 1;
            delete t[k];
            k = null;
            return [same, w1.ref() == null, w2.ref() == null];
        """) == [True, True, True]


def test_a_weak_reference_dropped_before_its_keyed_object_leaves_the_key_intact():
    with squirrel.VM() as vm:
        assert vm.run("""
            local t = {}, k = {};
            t[k] <- 1;
            local w = k.weakref(); w = null;  // the weak reference goes first
            local w2 = k.weakref();
            t[w2] <- 2;
            return [t[k], t[w2], k in t, w2.ref() == k];
        """) == [1, 2, True, True]


# --- lookups stay right through inserts, deletes, rehashes and address reuse -------------------

KINDS = ["{}", "[]", "function() {}", "C()", "gen()", "newthread(gen)", "C"]

OP = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 11), st.integers(0, 99)),
    st.tuples(st.just("del"), st.integers(0, 11)),
    st.tuples(st.just("get"), st.integers(0, 11)),
    st.tuples(st.just("renew"), st.integers(0, 11), st.integers(0, len(KINDS) - 1)),
    st.tuples(st.just("grow"), st.integers(1, 40)),
)


def _program(ops: list[tuple]) -> str:
    lines = ["class C { function _cmp(o) { return 0; } }", "function gen() { yield 1; }",
             "local t = {}, out = [], pool = [];",
             f"for (local i = 0; i < 12; i++) pool.append([{', '.join(KINDS)}][i % {len(KINDS)}]);",
             "local hold = [];"]
    for op in ops:
        if op[0] == "set":
            lines.append(f"t[pool[{op[1]}]] <- {op[2]};")
        elif op[0] == "del":
            lines.append(f"if (pool[{op[1]}] in t) delete t[pool[{op[1]}]];")
        elif op[0] == "get":
            lines.append(f"out.append(pool[{op[1]}] in t ? t[pool[{op[1]}]] : -1);")
        elif op[0] == "renew":
            lines.append(f"pool[{op[1]}] = {KINDS[op[2]]};")
        else:  # many short-lived keys: rehashes up and down, freed objects' addresses reused
            lines.append(f"for (local i = 0; i < {op[1]}; i++) {{ local k = {{}}; t[k] <- -2; hold.append(k); }}")
            lines.append("foreach (k in hold) delete t[k]; hold.clear();")
    lines.append("local n = 0; foreach (k, v in t) { if (t[k] != v) return \"lost\"; n++; }")
    lines.append("return [out, n];")
    return "\n".join(lines)


def _model(ops: list[tuple]) -> list:
    kinds_c = [k == "C" for k in KINDS]
    serial = list(range(12))
    shared_class = {i for i in range(12) if kinds_c[i % len(KINDS)]}  # the class C: one object
    identity = {i: ("C" if i in shared_class else serial[i]) for i in range(12)}
    table: dict = {}
    out = []
    nxt = 12
    for op in ops:
        if op[0] == "set":
            table[identity[op[1]]] = op[2]
        elif op[0] == "del":
            table.pop(identity[op[1]], None)
        elif op[0] == "get":
            out.append(table.get(identity[op[1]], -1))
        elif op[0] == "renew":
            if KINDS[op[2]] == "C":
                identity[op[1]] = "C"
            else:
                identity[op[1]] = nxt
                nxt += 1
    return [out, len(table)]


@settings(max_examples=60, deadline=None)
@given(st.lists(OP, max_size=60))
def test_lookups_stay_right_through_inserts_deletes_and_rehashes(ops):
    program = _program(ops)
    with squirrel.VM() as a, squirrel.VM() as b:
        _churn_heap(b)
        got = a.run(program)
        assert got == _model(ops)
        assert b.run(program) == got


def test_vms_on_several_threads_at_once_give_one_order():
    import threading

    results: list[list[int]] = []

    def work() -> None:
        for _ in range(10):
            with squirrel.VM() as vm:
                results.append(_order(vm))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with squirrel.VM() as vm:
        expected = _order(vm)
    assert len(results) == 40 and all(r == expected for r in results)
