"""The bytecode cache: a source compiled once is loaded from its bytes in every later VM. The
load reads the bytes in place (squirrel/csrc/sqpy_code.cpp) and must build what Squirrel's own
reader builds: the same function, field for field, and nothing else."""

from __future__ import annotations

import ctypes
import itertools
from typing import Callable

import pytest

import squirrel
from squirrel._squirrel import ffi, lib
from binding_helpers import assert_clean_run, run_isolated

# Every part of a function prototype the stream carries: string, integer, float and large
# integer literals, parameters with defaults, varargs, outer values (free variables), local
# variable names, nested functions three deep, a generator, a class with attributes, a
# method with a default parameter, a lambda, line information.
SOURCE = r"""
local big = 1000000007, ratio = 0.375, name = "caf\xc3\xa9 \x00 nul";
function count(...) { return vargv.len(); }
function outer(a, b = 5) {
    local n = count(a, b, "c");
    local inner = function(x) {
        local deeper = @(y) y + a + x + big;
        return deeper(b) + n;
    };
    return inner(2);
}
function gen(k) { for (local i = 0; i < k; i++) yield i * ratio; }
class Point </ tag = "pt", weight = 2.5 /> {
    x = 0; y = 0;
    constructor(x, y = -1) { this.x = x; this.y = y; }
    function len2() { return x * x + y * y; }
}
local g = gen(4), got = [];
foreach (v in g) got.push(v);
local p = Point(3);
return [outer(1), outer(1, 2), got, p.len2(), Point.getattributes(null).tag,
        name.len(), 0x7fffffff, -2147483648, 1e10, "", "x"];
"""


def fields(code: bytes) -> tuple:
    """The stream sq_writeclosure writes (sqobject.cpp, Save), field by field. An outer value's
    kind is written as 8 bytes from a 4-byte enum: the other 4 are whatever was in memory, so
    only the low 4 count."""
    pos = 0

    def take(n):
        nonlocal pos
        pos += n
        assert pos <= len(code)
        return code[pos - n:pos]

    def word(n=8, signed=True):
        return int.from_bytes(take(n), "little", signed=signed)

    def obj():
        kind = word(4, False)
        if kind & 0xFF == 0x10:  # a string
            return ("s", take(word()))
        if kind & 0xFF == 0x01:  # null
            return ("n",)
        return (kind, take(8))  # an integer, float or bool: its 8 bytes

    def part():
        assert take(4) == b"TRAP"

    def proto():
        part()
        head = (obj(), obj())
        part()
        nlit, npar, nout, nloc, nline, ndef, ninst, nfun = (word() for _ in range(8))
        part()
        literals = [obj() for _ in range(nlit)]
        part()
        params = [obj() for _ in range(npar)]
        part()
        outers = [(word(8, False) & 0xFFFFFFFF, obj(), obj()) for _ in range(nout)]
        part()
        local_vars = [(obj(), take(24)) for _ in range(nloc)]
        part()
        lines = take(16 * nline)
        part()
        defaults = take(8 * ndef)
        part()
        code_ = take(8 * ninst)
        part()
        functions = [proto() for _ in range(nfun)]
        tail = take(8 + 1 + 8)  # stack size, the generator flag (a bool), varargs
        return head, literals, params, outers, local_vars, lines, defaults, code_, functions, tail

    assert take(2) == b"\xfa\xfa" and take(4) == b"RIQS"
    sizes = take(12)
    body = proto()
    assert take(4) == b"LIAT" and pos == len(code)
    return sizes, body


def dump(vm: squirrel.VM, fn: squirrel.Function) -> bytes:
    size = lib.sqpy_dump(vm._ptr, fn._ref, ffi.NULL, 0)
    buf = ffi.new("char[]", size)
    assert lib.sqpy_dump(vm._ptr, fn._ref, buf, size) == size
    return ffi.buffer(buf)[:]


@pytest.mark.parametrize("dialect", ["imp", "standard"])
@pytest.mark.parametrize("coverage", [False, True])
def test_a_cached_load_builds_the_function_it_was_dumped_from(dialect, coverage):
    source = SOURCE + f"// {dialect} {coverage}"  # a key of its own: the first VM compiles
    vms = [squirrel.VM(dialect), squirrel.VM(dialect)]
    try:
        fns = []
        for vm in vms:
            vm.set_coverage(coverage)
            fns.append(vm.compile(source, "proto.nut"))
        compiled, loaded = (dump(vm, fn) for vm, fn in zip(vms, fns))
        assert len(loaded) == len(compiled)
        assert fields(loaded) == fields(compiled)  # every field read back as it was written
        results = [squirrel.to_python(fn()) for fn in fns]
        assert results[1] == results[0]
        assert results[0][:2] == [1000000018, 1000000015] and results[0][3] == 10
    finally:
        for vm in vms:
            vm.close()


def test_a_cached_load_holds_what_its_function_holds_and_no_more():
    # Loading the same bytes again in one VM interns no new strings and makes one more
    # function: what it costs the second time is the function's objects, and freeing them
    # gives back exactly that.
    source = SOURCE + "// twice"
    with squirrel.VM() as first:
        first.compile(source)
    with squirrel.VM() as vm:
        one = vm.compile(source)
        before = vm.memory_used
        two = vm.compile(source)
        cost = vm.memory_used - before
        assert cost > 0
        del two
        assert vm.memory_used == before
        del one


DAMAGE = """
    import squirrel
    from squirrel._squirrel import ffi, lib
    from squirrel import compiling as vmod
    vm = squirrel.VM()
    fn = vm.compile({source!r})
    code = next(entry[1] for key, entry in vmod._BYTECODE.items() if key[0] == {source!r})
    out = ffi.new("sqpy_value *")
    refused = 0
    for n in range(len(code)):  # every truncation
        refused += lib.sqpy_load(vm._ptr, code[:n], n, out) == lib.SQPY_BADARG
    print("truncations refused", refused == len(code))
    loaded = 0
    for i in range(0, len(code), 3):  # a byte changed, everywhere: refused or a function
        for bits in (0x01, 0x80, 0xff):
            damaged = code[:i] + bytes([code[i] ^ bits]) + code[i + 1:]
            rc = lib.sqpy_load(vm._ptr, damaged, len(damaged), out)
            assert rc in (lib.SQPY_OK, lib.SQPY_BADARG), rc
            if rc == lib.SQPY_OK:
                lib.sqpy_release(vm._ptr, out.i)
                loaded += 1
    print("loaded some", loaded > 0)
    print("still works", vm.run("return 6 * 7") == 42 and fn()[3] == 9 + 1)
"""


def test_damaged_bytecode_is_refused_or_loaded_never_a_crash():
    source = SOURCE + "// damage"
    result = run_isolated(DAMAGE.format(source=source))
    assert_clean_run(result, "truncations refused True", "loaded some True", "still works True")


# Enough string literals that the load grows the string table, long ones among them.
MANY_STRINGS = "local t = [" + ", ".join(f'"lit{i}' + "w" * (i % 7) * 40 + '"' for i in range(400)) + "];\n" + SOURCE


def squirrels_own_load(vm: squirrel.VM, code: bytes) -> Callable[[], None]:
    """Loads ``code`` with Squirrel's own reader (sq_readclosure, one read callback per field,
    as the binding did before it read the bytes in place); returns what pops the closure."""
    so = ctypes.PyDLL(lib_path())
    reader_type = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    pos = 0

    def read(_up, dest, n):
        nonlocal pos
        if pos + n > len(code):
            return -1
        ctypes.memmove(dest, code[pos:pos + n], n)
        pos += n
        return n

    handle = ctypes.c_void_p(int(ffi.cast("uintptr_t", lib.sqpy_handle(vm._ptr))))
    so.sq_readclosure.argtypes = [ctypes.c_void_p, reader_type, ctypes.c_void_p]
    so.sq_pop.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    assert so.sq_readclosure(handle, reader_type(read), None) == 0
    return lambda: so.sq_pop(handle, 1)


def lib_path() -> str:
    import squirrel._squirrel as ext
    return ext.__file__


# What comes before the load: a scratch pad grown by a long string, which the load shrinks; or
# a large array made last, so that the load, which then only adds, sets the peak.
BEFORE = {"grown-pad": 'local s = "x"; for (local i = 0; i < 15; i++) s += s;',
          "at-peak": 'keep <- array(3000);'}
AFTER = 'local a = []; for (local i = 0; i < 600; i++) a.push("n" + i); local t = "y"; for (local i = 0; i < 8; i++) t += t;'


@pytest.mark.parametrize("dialect,scale", [("imp", 0.5), ("standard", 1.0)])
@pytest.mark.parametrize("source", [SOURCE, MANY_STRINGS], ids=["features", "many-strings"])
def test_a_cached_load_costs_what_squirrels_own_reader_costs(dialect, scale, source):
    # Memory before and after the load, the peak, what freeing the function gives back, and
    # what the scratch pad and string table the load leaves cost the script's next strings:
    # the same, at every step, as when Squirrel's reader loads the same bytes in the same state.
    from squirrel import compiling as vm_module

    source = source + f"// {dialect} {scale} cost"
    scripts = {name: before + " load(); " + AFTER for name, before in BEFORE.items()}
    with squirrel.VM(dialect) as first:
        first.compile(source)
        for script in scripts.values():
            first.compile(script)  # the VMs below load the scripts themselves from the cache too
    code = next(entry[1] for key, entry in vm_module._BYTECODE.items() if key[0] == source)
    figures = {}
    for (name, script), route in itertools.product(scripts.items(), ("squirrel", "binding")):
        with squirrel.VM(dialect, overhead_scale=scale) as vm:
            seen = []

            def load():
                seen.extend((vm.memory_used, vm.memory_peak))
                if route == "squirrel":
                    release = squirrels_own_load(vm, code)
                else:
                    fn = vm.compile(source)
                    release = lambda: None
                seen.extend((vm.memory_used, vm.memory_peak))
                release()
                if route == "binding":
                    del fn
                seen.append(vm.memory_used)

            vm.root["load"] = load
            vm.run(script)
            seen.extend((vm.memory_used, vm.memory_peak))
            figures[name, route] = seen
    for name in scripts:
        assert figures[name, "binding"] == figures[name, "squirrel"], name
    used, peak, loaded, loaded_peak = figures["at-peak", "squirrel"][:4]
    assert used == peak and loaded_peak == loaded > peak  # the comparison covers the peak
    shrunk = figures["grown-pad", "squirrel"]
    assert shrunk[2] - shrunk[0] < loaded - used  # and the scratch pad the load shrinks
