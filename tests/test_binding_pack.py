"""VM.pack / VM.unpack: plain data out of one VM and into another in one call each way. The
device keeps ``nv`` across deep sleep this way, so the packed copy must equal what the Python
serialiser (impapi.serialize, the device's rules: leave out what cannot be kept) makes of the
same value, with the same size figure, and unpacking must give a table that iterates in the
order the Python conversion would have given."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

import squirrel
from impapi.serialize import Blob, MAX_DEPTH, SerialisationError, from_wire, to_wire, wire_size

DUMP = """
function dump(x) {
    local s = typeof x + ":";
    if (typeof x == "table" || typeof x == "array") {
        foreach (k, v in x) s += "(" + dump(k) + "=" + dump(v) + ")";
    } else if (typeof x == "blob") {
        s += x.len();
        for (local i = 0; i < x.len(); i++) s += "," + x[i];
    } else s += x;
    return s;
}
"""

LEAVES = ["null", "true", "false", "0", "-7", "2147483647", "1.5", '"abc"', '""', '"a\\x00b"', '"\\xff\\xfe"',
          '"\\xc3\\xa9"', '"\\xed\\xa0\\x80"', '"\\xf4\\x90\\x80\\x80"', '"\\xf0\\x9f\\x98\\x80"', '"\\xe0\\x80\\xaf"',
          "blob(3)", "blob(0)", "function(){}", "class{}", "(class{})()", "{}", "[]", "print", "newthread(function(){})", "(function(){ yield 1; })()", "getroottable().weakref()"]
KEYS = ['"k"', '"k2"', "0", "7", '"z\\x00"', '"\\xff"', "1.5", '"\\xc3\\xa9"', "true", '"x\\xc3"']


def squirrel_values():
    leaf = st.sampled_from(LEAVES)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5).map(lambda xs: "[" + ",".join(xs) + "]"),
            st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=7).map(
                lambda kv: "{" + ",".join(f"[{k}]={v}" for k, v in kv) + "}")),
        max_leaves=30)


def _table(vm: squirrel.VM, source: str, delete_first: bool = False) -> squirrel.Table:
    vm.run(f"T <- {source};")
    if delete_first:  # a table whose slots were deleted iterates differently from a fresh one
        vm.run("foreach (k, v in T) { delete T[k]; break; }")
    return vm.root["T"]


@settings(max_examples=150, deadline=None)
@given(squirrel_values(), st.booleans())
# A cycle through the root table, reaching again containers the walk has copied whole: it reuses
# those copies without a handle on their parts, and so must pack (the memory figures differed).
@example(source="[blob(3),blob(3),blob(3),[blob(3)],[getroottable().weakref()]]", delete_first=False)
@example(source='{["k2"]=[1],["\\xc3\\xa9"]=[[[1],[2]],{},getroottable().weakref(),"s",blob(3)],[true]=[1]}',
         delete_first=True)
def test_pack_keeps_what_the_device_serialiser_keeps(source, delete_first):
    src = "{x=" + source + ", y=" + source + ", z=[" + source + "]}"
    _table(squirrel.VM("imp"), src, delete_first)  # the first compile of a source costs more memory
    walked, packer = squirrel.VM("imp"), squirrel.VM("imp")
    t, t2 = _table(walked, src, delete_first), _table(packer, src, delete_first)
    dropped: list[str] = []
    try:
        wire = to_wire(t, "nv", on_drop=dropped.append)
    except SerialisationError:  # a weak reference to the root table, which holds T: a cycle
        assert packer.pack(t2) is None
        assert packer.memory_used == walked.memory_used
        return
    packed, size, left_out = packer.pack(t2)
    assert size == wire_size(wire)
    assert left_out == len(dropped)
    # Free memory, as a script sees it, is the same after either copy (see sqpy_pack)
    assert packer.memory_used == walked.memory_used
    by_python, by_pack = squirrel.VM("imp"), squirrel.VM("imp")
    a, b = from_wire(by_python, wire), by_pack.unpack(packed)
    assert by_pack.memory_used == by_python.memory_used
    assert to_wire(b, "nv") == wire
    by_python.run(DUMP)
    by_pack.run(DUMP)
    assert by_pack.root["dump"](b) == by_python.root["dump"](a)  # also the iteration order


def test_strings_that_are_not_text_and_blobs_come_back_as_blobs():
    vm = squirrel.VM("imp")
    t = _table(vm, '{ok="é", nul="a\\x00b", bad="\\xff", b=blob(2), f=function(){}, [3]=1, ["\\xff"]=1, arr=[print, 1]}')
    packed, size, left_out = vm.pack(t)
    assert left_out == 4  # the function, the integer key, the non-text key and the native
    back = squirrel.VM("imp").unpack(packed)
    assert to_wire(back, "nv") == {"ok": "é", "nul": Blob(b"a\x00b"), "bad": Blob(b"\xff"), "b": Blob(b"\x00\x00"),
                                   "arr": [1]}
    assert isinstance(back["nul"], squirrel.Blob) and isinstance(back["b"], squirrel.Blob)


def test_nesting_deeper_than_the_limit_is_refused_as_the_serialiser_refuses_it():
    vm = squirrel.VM("imp")
    chain = "local t = {}; local c = t; for (local i = 0; i < %d; i++) { c.n <- {}; c = c.n; } c.leaf <- 1; T <- t;"
    vm.run(chain % (MAX_DEPTH - 1))
    assert vm.pack(vm.root["T"]) is not None
    to_wire(vm.root["T"], "nv")
    vm.run(chain % MAX_DEPTH)
    assert vm.pack(vm.root["T"]) is None
    with pytest.raises(SerialisationError, match="nested too deeply"):
        to_wire(vm.root["T"], "nv")
    vm.run("T <- {}; T.me <- T;")
    assert vm.pack(vm.root["T"]) is None


def test_a_value_whose_last_part_takes_it_past_1_mib_is_refused_as_the_serialiser_refuses_it():
    """The limit is checked as each value starts, so a table whose last value crosses it must
    be caught at the end: one 256 KiB string held four times is 1 MiB and a little more."""
    vm = squirrel.VM("imp")
    vm.run('local s = "x"; while (s.len() < 262144) s += s; local u = {s = s}; T <- {a = u, b = u, c = u, d = u};')
    assert vm.pack(vm.root["T"]) is None
    with pytest.raises(SerialisationError, match="over 1 MB serialised"):
        to_wire(vm.root["T"], "the message")
    vm.run("delete T.d;")
    assert vm.pack(vm.root["T"])[1] == wire_size(to_wire(vm.root["T"], "the message"))


def test_pack_refuses_what_is_not_a_container_of_its_vm_and_unpack_refuses_garbage():
    vm, other = squirrel.VM("imp"), squirrel.VM("imp")
    other.run("T <- {a=1};")
    with pytest.raises(TypeError):
        vm.pack(other.root["T"])
    with pytest.raises(TypeError):
        vm.pack(3)  # type: ignore[arg-type]
    packed, _, _ = other.pack(other.root["T"])
    for bad in (b"", b"q", packed[:-1], packed + b"n", b"t\xff\xff\xff\xff"):
        with pytest.raises(ValueError, match="not a packed"):
            vm.unpack(bad)
    assert to_wire(vm.unpack(packed), "nv") == {"a": 1}
