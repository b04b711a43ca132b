"""VM.pack_slot / VM.unpack_slot: ``pack(table.get(key))`` and ``table[key] = unpack(data)`` in
one call each. A host that keeps a global across runs (the device's ``nv``) uses them; they must
give what the two steps give, and leave the VM exactly as the two steps leave it: the same
handles taken and released in the same order, so the same memory figures."""

from __future__ import annotations

import pytest

import squirrel

SETUP = """
nv <- { n = 3, s = "abc", a = [1, 2.5, null, true], t = { deep = { er = blob(4) } }, f = function() {} };
notable <- [1, 2, 3];
number <- 7;
text <- "nv";
inst <- (class { x = 1 })();
"""


def vm_with(setup: str = SETUP) -> squirrel.VM:
    vm = squirrel.VM("imp")
    vm.run(setup)
    return vm


def pair(setup: str = SETUP) -> tuple[squirrel.VM, squirrel.VM]:
    """Two VMs in the same state, memory included: a VM that compiled the setup holds more than
    one that loaded it from the bytecode cache, so a first one fills the cache."""
    vm_with(setup).close()
    return vm_with(setup), vm_with(setup)


def two_steps_pack(vm: squirrel.VM, key: str, depth: int = 64):
    value = vm.root.get(key)
    if not isinstance(value, squirrel.Table):
        return False
    return vm.pack(value, depth)


def test_pack_slot_gives_what_get_then_pack_gives_and_leaves_the_same_memory():
    one, two = pair()
    assert one.memory_used == two.memory_used
    packed = one.pack_slot(one.root, "nv")
    assert packed == two_steps_pack(two, "nv")
    wire, size, left_out = packed
    assert left_out == 1  # the function
    assert one.memory_used == two.memory_used
    assert one.memory_peak == two.memory_peak


@pytest.mark.parametrize("key", ["missing", "notable", "number", "text", "inst"])
def test_pack_slot_is_false_without_a_table_there(key):
    one, two = pair()
    assert one.pack_slot(one.root, key) is False
    assert two_steps_pack(two, key) is False
    assert one.memory_used == two.memory_used


def test_pack_slot_refuses_what_nests_too_deep_as_pack_does():
    one, two = pair()
    assert one.pack_slot(one.root, "nv", 2) is None
    assert two_steps_pack(two, "nv", 2) is None
    assert one.memory_used == two.memory_used


def test_unpack_slot_sets_what_unpack_then_set_sets_with_the_same_memory():
    source = vm_with()
    wire = source.pack_slot(source.root, "nv")[0]
    one, two = pair("x <- 1;")
    one.unpack_slot(one.root, "nv", wire)
    two.root["nv"] = two.unpack(wire)
    dump = "local s = \"\"; foreach (k, v in nv) s += k + \"=\" + typeof v + \";\"; return s + nv.n + nv.t.deep.er.len();"
    assert one.memory_used == two.memory_used
    assert one.memory_peak == two.memory_peak
    assert one.run(dump) == two.run(dump)
    assert one.run("return nv.n;") == 3 and "f" not in one.root["nv"]


def test_unpack_slot_refuses_bytes_that_are_not_a_packed_value():
    vm = vm_with("x <- 1;")
    with pytest.raises(ValueError, match="not a packed Squirrel value"):
        vm.unpack_slot(vm.root, "nv", b"\xff\x00garbage")
    assert vm.root.get("nv") is None


def test_pack_slot_and_unpack_slot_serve_only_the_thread_that_made_the_vm():
    import threading
    vm = vm_with()
    wire = vm.pack_slot(vm.root, "nv")[0]
    refused = []

    def other() -> None:
        for call in (lambda: vm.pack_slot(vm.root, "nv"), lambda: vm.unpack_slot(vm.root, "copy", wire)):
            try:
                call()
            except squirrel.SquirrelError as e:
                refused.append("the thread that made it" in str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert refused == [True, True]
    assert "copy" not in vm.root
    assert vm.pack_slot(vm.root, "nv")[0] == wire


def test_a_key_crosses_as_its_utf8_bytes_nul_and_all():
    one, two = pair('getroottable()["k\\x00\\xc3\\xa9"] <- { a = 1 };')
    assert one.pack_slot(one.root, "k\x00é") == two_steps_pack(two, "k\x00é")
    assert one.pack_slot(one.root, "k") is False
    wire = one.pack_slot(one.root, "k\x00é")[0]
    one.unpack_slot(one.root, "é\x00", wire)
    assert one.run('return getroottable()["\\xc3\\xa9\\x00"].a;') == 1
