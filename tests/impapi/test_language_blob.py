"""impapi.language: the imp's blob class (imp-api.md §9.4)."""

from __future__ import annotations

import random

import pytest

import squirrel
from impapi.language import install_language


def make(side: str = "device", dialect: str = "imp") -> squirrel.VM:
    vm = squirrel.VM(dialect=dialect)
    install_language(vm, side=side, now_us=lambda: 0, epoch_us=0, uptime_us=lambda: 0,
                     rng=random.Random(0))
    return vm


@pytest.fixture(params=["device", "agent"])
def vm(request):
    v = make(request.param)
    yield v
    v.close()


def error_of(vm: squirrel.VM, source: str) -> str:
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(source)
    return str(info.value)


def test_construction_zero_filled(vm):
    """§9.4: blob([size]) makes size zero bytes (default 0) with the pointer at 0."""
    assert vm.run("local b = blob(4); return [b.len(), b.tell(), b[0], b[3], blob().len()]") == [4, 0, 0, 0, 0]
    assert vm.run("return blob(3)") == b"\0\0\0"
    assert "negative" in error_of(vm, "return blob(-1)")


def test_typeof_blob(vm):
    """§9.4: typeof a blob is "blob", clones too."""
    assert vm.run("local b = blob(1); return [typeof b, typeof clone b]") == ["blob", "blob"]


def test_indexing(vm):
    """§9.4: b[i] reads/writes one byte; out of range raises an index error."""
    assert vm.run("local b = blob(2); b[1] = 300; b[0] = 0xAB; return [b[0], b[1]]") == [0xAB, 300 & 0xFF]
    assert "index out of range" in error_of(vm, "local b = blob(2); return b[2]")
    assert "index out of range" in error_of(vm, "local b = blob(2); b[-1] = 1")


def test_writen_readn_all_type_codes(vm):
    """§9.4: writen/readn are little-endian, advance the pointer, type codes c b s w i f d."""
    r = vm.run("""
        local b = blob();
        b.writen(-2, 'c'); b.writen(200, 'b'); b.writen(-3, 's'); b.writen(0xFFFE, 'w');
        b.writen(0x12345678, 'i'); b.writen(1.5, 'f'); b.writen(2.25, 'd');
        local n = b.tell();
        b.seek(0);
        return [n, b.readn('c'), b.readn('b'), b.readn('s'), b.readn('w'), b.readn('i'),
                b.readn('f'), b.readn('d'), b.eos() != null];
    """)
    assert r == [1 + 1 + 2 + 2 + 4 + 4 + 8, -2, 200, -3, 0xFFFE, 0x12345678, 1.5, 2.25, True]
    raw = vm.run("local b = blob(); b.writen(0x01020304, 'i'); b.writen(1, 'w'); return b")
    assert raw == b"\x04\x03\x02\x01\x01\x00"


def test_d_is_a_64_bit_double(vm):
    """§9.4: 'd' writes 8 bytes, a double converted from the imp's 32-bit float, and back."""
    assert vm.run("local b = blob(); b.writen(0.1, 'd'); b.seek(0); return [b.len(), b.readn('d') == 0.1]") == [8, True]
    assert vm.run("local b = blob(); b.writen(1.0, 'd'); return b") == b"\0\0\0\0\0\0\xf0\x3f"


def test_writen_non_number_writes_zeros(vm):
    """§9.4: writen with a non-number value writes zeros (of the type's size)."""
    assert vm.run("""local b = blob(); b.writen("x", 'i'); b.writen(null, 'b'); b.writen(true, 'w');
                     b.writen([1], 'd'); return b""") == b"\0" * (4 + 1 + 2 + 8)
    assert "invalid format" in error_of(vm, 'local b = blob(); b.writen("x", \'q\')')


def test_read_past_end_raises(vm):
    """§9.4: reading past the end raises an error [inferred]."""
    assert "io error" in error_of(vm, "local b = blob(1); b.seek(1); return b.readn('b')")
    assert "io error" in error_of(vm, "local b = blob(3); return b.readn('i')")


def test_write_past_end_grows(vm):
    """§9.4: writing past the end grows the blob."""
    assert vm.run("local b = blob(2); b.seek(2); b.writen(7, 'i'); return [b.len(), b.tell()]") == [6, 6]


def test_writestring_readstring(vm):
    """§9.4: writestring writes the raw bytes (no terminator) at the pointer and advances;
    readstring(n) reads up to n bytes, a shorter string when fewer remain."""
    r = vm.run(r"""
        local b = blob();
        b.writestring("hi\x00there");
        local n = b.tell();
        b.seek(0);
        return [n, b.len(), b.readstring(2), b.tell(), b.readstring(100), b.tell(), b.readstring(4)];
    """)
    assert r == [8, 8, "hi", 2, "\0there", 8, ""]
    assert vm.run('local b = blob(4); b.seek(1); b.writestring("ab"); return b') == b"\0ab\0"


def test_readstring_binary_and_empty(vm):
    """§9.4: readstring is binary-safe; n <= 0 reads nothing."""
    assert vm.run("local b = blob(3); b[0] = 0xFF; b[1] = 0; b[2] = 0xC0; local s = b.readstring(3); "
                  "return [s.len(), s[0], s[1], s[2]]") == [3, 0xFF, 0, 0xC0]
    assert vm.run('local b = blob(3); return [b.readstring(0), b.readstring(-5), b.tell()]') == ["", "", 0]


def test_long_strings(vm):
    """§9.4: writestring/readstring of longer binary strings (the copy goes through the host)."""
    r = vm.run(r"""
        local s = "";
        for (local i = 0; i < 300; i++) s += (i % 256).tochar();
        local b = blob(2);
        b.seek(1);
        b.writestring(s);
        b.seek(1);
        local a = b.readstring(40), c = b.readstring(1000);
        return [b.len(), a.len(), a[0], a[39], c.len(), c[0], c[254], a + c == s, b.readstring(20)];
    """)
    assert r == [301, 40, 0, 39, 260, 40, 38, True, ""]


def test_writestring_needs_a_string(vm):
    """§9.4: writestring of a non-string is an error."""
    assert "string expected" in error_of(vm, "blob().writestring(12)")


def test_readblob(vm):
    """§9.4: readblob(n) reads up to n bytes into a new blob (at the end: an empty blob)."""
    r = vm.run("""
        local b = blob(5); b[0] = 1; b[4] = 5;
        local x = b.readblob(2), y = b.readblob(10), z = b.readblob(3), w = b.readblob(0);
        return [typeof x, x.len(), x[0], y.len(), y[2], b.tell(), z.len(), w.len(), x.tell()];
    """)
    assert r == ["blob", 2, 1, 3, 5, 5, 0, 0, 0]


def test_writeblob(vm):
    """§9.4: writeblob(b) copies another blob's whole contents in at the pointer."""
    assert vm.run("""local a = blob(3); a[0] = 9; a.seek(2);
                     local b = blob(); b.writestring("xyz"); b.seek(1);
                     b.writeblob(a); return [b.tostring(), b.tell(), a.tell()]""") == ["x\x09\0\0", 4, 2]


def test_writeblob_into_itself(vm):
    """§9.4: writing a blob into itself copies it (stock read freed memory when it grew)."""
    assert vm.run('local b = blob(); b.writestring("abc"); b.writeblob(b); b.writeblob(b); return b.tostring()') == \
        "abc" * 4


def test_tostring_binary_safe(vm):
    """§9.4: tostring() returns the blob's bytes as a Squirrel string (binary-safe), whatever the
    pointer."""
    assert vm.run(r'local b = blob(); b.writestring("a\x00b\xff"); return [b.tostring().len(), b.tostring() == "a\x00b\xff"]') == [4, True]
    assert vm.run("return blob(0).tostring()") == ""


def test_seek(vm):
    """§9.4: seek(offset[, origin 'b'|'c'|'e']) returns 0, or -1 without moving when out of range."""
    r = vm.run("""
        local b = blob(4), r = [];
        r.append(b.seek(2)); r.append(b.tell());
        r.append(b.seek(1, 'c')); r.append(b.tell());
        r.append(b.seek(-4, 'e')); r.append(b.tell());
        r.append(b.seek(5)); r.append(b.tell());
        r.append(b.seek(-1)); r.append(b.tell());
        r.append(b.seek(-1, 'c')); r.append(b.tell());
        r.append(b.seek(1, 'e')); r.append(b.tell());
        r.append(b.seek(4)); r.append(b.eos() != null);
        return r;
    """)
    assert r == [0, 2, 0, 3, 0, 0, -1, 0, -1, 0, -1, 0, -1, 0, 0, True]


def test_tell_len_eos_flush(vm):
    """§9.4: tell() is the pointer, len() the length, eos() non-null at the end, flush() harmless."""
    assert vm.run("local b = blob(2); local r = [b.tell(), b.len(), b.eos()]; b.seek(2); "
                  "b.flush(); r.append(b.eos() != null); return r") == [0, 2, None, True]


def test_resize(vm):
    """§9.4: resize(n) truncates or zero-extends (stock left the length alone when growing)."""
    assert vm.run("local b = blob(2); b[1] = 7; b.resize(5); return [b.len(), b.tell(), b[1], b[4]]") == [5, 0, 7, 0]
    assert vm.run("local b = blob(5); b.seek(4); b.resize(2); return [b.len(), b.tell()]") == [2, 2]
    assert vm.run("local b = blob(0); b.resize(3); b.writen(1, 'b'); return b") == b"\x01\0\0"
    assert "negative" in error_of(vm, "blob(2).resize(-1)")


def test_swap_in_place(vm):
    """§9.4: swap2()/swap4() reverse each 2-/4-byte group in place; trailing bytes stay."""
    assert vm.run("local b = blob(); b.writestring(\"abcdefg\"); b.swap2(); return b.tostring()") == "badcfeg"
    assert vm.run("local b = blob(); b.writestring(\"abcdefg\"); b.swap4(); return b.tostring()") == "dcbaefg"


def test_blob_from_host_has_imp_methods(vm):
    """§9.4: blobs made outside Squirrel (the host's new_blob) are the same class."""
    vm.root["hb"] = vm.new_blob(b"xyz")
    assert vm.run("return [hb.tostring(), hb.readstring(2), typeof hb]") == ["xyz", "xy", "blob"]


def test_blob_methods_standard_dialect():
    """§9.4: the blob methods do not depend on the 32-bit dialect."""
    vm = make(dialect="standard")
    assert vm.run('local b = blob(); b.writestring("ok"); b.writen("x", \'b\'); return b.tostring()') == "ok\0"
