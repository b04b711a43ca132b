"""squirrel.NativeSet: batches of natives and constants in nested tables, and buffer readers."""

from __future__ import annotations

import pytest

import squirrel


@pytest.fixture
def vm():
    with squirrel.VM() as vm:
        yield vm


def test_nested_tables_constants_and_context(vm):
    ns = squirrel.NativeSet(
        {"add": lambda ctx, x: ctx + x}, {"K": 3},
        tables={"sub": squirrel.NativeSet({"name": lambda ctx: f"ctx{ctx}"}, {"Z": 1},
                                          tables={"deep": squirrel.NativeSet({}, {"D": 9})})})
    vm.install(vm.root, ns, 10)
    assert vm.run("return [add(1), K, sub.name(), sub.Z, sub.deep.D]") == [11, 3, "ctx10", 1, 9]


def test_install_into_a_named_table_and_again_with_another_context(vm):
    ns = squirrel.NativeSet({"who": lambda ctx: ctx}, tables={"t": squirrel.NativeSet({}, {"X": 1})})
    vm.install(vm.root, ns, "first", into="a")
    vm.install(vm.root, ns, "second", into="b")
    assert vm.run("return [a.who(), b.who(), a.t.X, b.t.X]") == ["first", "second", 1, 1]


def test_existing_tables_are_filled_not_replaced(vm):
    vm.run("sub <- { mine = 1 }")
    vm.install(vm.root, squirrel.NativeSet({}, tables={"sub": squirrel.NativeSet({}, {"Y": 2})}))
    assert vm.run("return [sub.mine, sub.Y]") == [1, 2]


def test_paramscheck_comes_from_the_signature_without_the_context(vm):
    vm.install(vm.root, squirrel.NativeSet({"two": lambda ctx, a, b: a + b}), None)
    assert vm.run("return two(1, 2)") == 3
    assert vm.run('try { two(1) } catch (e) { return e }') == "wrong number of parameters"


def test_a_member_that_takes_this_counts_it_once(vm):
    @squirrel.native(pass_this=True, typemask="ii")
    def pick(ctx, this, a, b=0):
        return [ctx, this, a, b]

    @squirrel.native(pass_this=True)
    def rest(ctx, this, *args):
        return [this, len(args)]

    vm.install(vm.root, squirrel.NativeSet({"pick": pick, "rest": rest}), "c")
    assert vm.run("return pick.call(7, 1)") == ["c", 7, 1, 0]
    assert vm.run("return pick.call(7, 1, 2)") == ["c", 7, 1, 2]
    for call in ("pick.call(7)", "pick.call(7, 1, 2, 3)"):
        assert vm.run(f"try {{ {call} }} catch (e) {{ return e }}") == "wrong number of parameters"
    assert vm.run('try { pick.call(7, "x") } catch (e) { return e }') == \
        "parameter 1 has an invalid type 'string' ; expected: 'integer'"
    assert vm.run("return [rest.call(3), rest.call(3, 1, 2)]") == [[3, 0], [3, 2]]


def test_readers_must_name_functions_of_the_set():
    with pytest.raises(ValueError, match="not in the set"):
        squirrel.NativeSet({"read": lambda ctx, a, n: b""}, readers={"other": lambda ctx: (b"", None)})


class Chip:
    """A Python reader with the semantics the C path must agree with, counting its calls."""

    def __init__(self, size: int = 64) -> None:
        self.data = bytearray(range(size))
        self.gate = bytearray(b"\x01")
        self.calls = 0

    def read(self, vm: squirrel.VM, offset: int, length: int):
        self.calls += 1
        if not self.gate[0]:
            raise squirrel.ScriptError("chip is off")
        if not all(type(v) is int for v in (offset, length)) or offset < 0 or length < 0 \
                or offset + length > len(self.data):
            raise squirrel.ScriptError("out of range")
        return vm.new_blob(bytes(self.data[offset:offset + length]))


@pytest.fixture
def chip(vm):
    chip = Chip()
    ns = squirrel.NativeSet({"read": lambda ctx, offset, length: chip.read(vm, offset, length)},
                            readers={"read": lambda ctx: (chip.data, chip.gate)})
    vm.install(vm.root, ns, None, into="chip")
    return chip


def test_reader_serves_plain_reads_in_c(vm, chip):
    assert vm.run("local b = chip.read(4, 3); return [typeof b, b.len(), b[0], b[2]]") == ["blob", 3, 4, 6]
    assert vm.run("return chip.read(60, 4).len()") == 4
    assert chip.calls == 0


def test_reader_sees_the_buffer_as_it_is_now(vm, chip):
    chip.data[5] = 0xAB
    assert vm.run("return chip.read(5, 1)[0]") == 0xAB


@pytest.mark.parametrize("call", ["chip.read(61, 4)", "chip.read(-1, 2)", "chip.read(0, -1)",
                                  "chip.read(1.0, 2)", "chip.read(0, 1 == 1)"])
def test_reader_hands_everything_else_to_the_function(vm, chip, call):
    assert vm.run(f"try {{ {call}; return null }} catch (e) {{ return e }}") == "out of range"
    assert chip.calls == 1


def test_reader_zero_length_goes_to_the_function(vm, chip):
    assert vm.run("return chip.read(3, 0).len()") == 0
    assert chip.calls == 1


def test_closed_gate_goes_to_the_function(vm, chip):
    chip.gate[0] = 0
    assert vm.run("try { chip.read(0, 1) } catch (e) { return e }") == "chip is off"
    chip.gate[0] = 1
    assert vm.run("return chip.read(0, 1).len()") == 1
    assert chip.calls == 1


def test_wrong_argument_count_is_the_functions_error(vm, chip):
    assert vm.run("try { chip.read(1) } catch (e) { return e }") == "wrong number of parameters"
    assert vm.run("try { chip.read(1, 2, 3) } catch (e) { return e }") == "wrong number of parameters"


def test_reader_blobs_count_against_the_memory_limit(vm, chip):
    vm.memory_limit = vm.memory_used + 4096
    with pytest.raises(squirrel.MemoryLimitError):
        vm.run("local keep = []; for (;;) keep.push(chip.read(0, 64));")


def test_buffer_stays_exported_while_the_vm_lives():
    chip = Chip()
    vm = squirrel.VM()
    vm.install(vm.root, squirrel.NativeSet({"read": lambda ctx, o, n: chip.read(vm, o, n)},
                                           readers={"read": lambda ctx: (chip.data, chip.gate)}))
    with pytest.raises(BufferError):
        chip.data.extend(b"more")  # C holds a pointer into it: resizing must not move it
    vm.close()
    chip.data.extend(b"more")


def test_gate_must_be_writable(vm):
    ns = squirrel.NativeSet({"read": lambda ctx, o, n: b""}, readers={"read": lambda ctx: (b"abc", b"\x01")})
    with pytest.raises(BufferError):
        vm.install(vm.root, ns)


def test_stream_readn_c_is_signed_in_both_dialects():
    """Patch 04: the build's -funsigned-char must not change readn('c')."""
    for dialect in ("imp", "standard"):
        with squirrel.VM(dialect) as vm:
            assert vm.run("local b = blob(2); b.writen(-2, 'c'); b.writen(200, 'b'); b.seek(0); "
                          "return [b.readn('c'), b.readn('c')]") == [-2, -56]


def test_stream_writeblob_into_itself_copies_first():
    """Patch 04: stock grew the buffer and then copied from the freed one."""
    with squirrel.VM("standard") as vm:
        assert vm.run("local b = blob(); for (local i = 0; i < 100; i++) b.writen(i, 'b'); "
                      "for (local i = 0; i < 6; i++) b.writeblob(b); "
                      "return [b.len(), b[0], b[99], b[100], b[6399]]") == [6400, 0, 99, 0, 99]


def test_retargeted_readers_serve_the_new_contexts_buffer_and_free_the_old_one():
    """A host hands its VM to another owner of another chip (impapi's VMShelf): C reads the new
    buffer, falls back with the new gate, and no longer pins the old buffer."""
    chips = {"a": Chip(), "b": Chip(16)}
    chips["b"].data[:] = bytes(range(100, 116))
    vm = squirrel.VM()
    ns = squirrel.NativeSet({"read": lambda ctx, o, n: chips[ctx].read(vm, o, n)},
                            readers={"read": lambda ctx: (chips[ctx].data, chips[ctx].gate)})
    vm.install(vm.root, ns, "a", into="chip")
    assert vm.run("return chip.read(2, 1)[0]") == 2
    vm.rebind("a", "b")
    vm.retarget_readers("b")
    assert vm.run("return [chip.read(2, 1)[0], chip.read(15, 1)[0]]") == [102, 115]
    assert chips["a"].calls == chips["b"].calls == 0
    assert vm.run("try { chip.read(15, 2) } catch (e) { return e }") == "out of range"  # b's size
    assert chips["b"].calls == 1
    chips["b"].gate[0] = 0
    assert vm.run("try { chip.read(0, 1) } catch (e) { return e }") == "chip is off"
    chips["a"].data.extend(b"more")  # no longer exported: it may move
    with pytest.raises(BufferError):
        chips["b"].data.extend(b"more")
    vm.close()


def test_retargeting_a_reader_the_script_let_go_is_harmless():
    """The reader's closure was freed (Squirrel tells C as it frees it): a retarget writes
    nowhere. In a child process: a write into freed memory shows as a crash there."""
    import subprocess
    import sys
    code = """if True:
        import squirrel
        data = bytearray(b"abcd")
        vm = squirrel.VM()
        ns = squirrel.NativeSet({"read": lambda ctx, o, n: None}, readers={"read": lambda ctx: (data, None)})
        vm.install(vm.root, ns, None, into="chip")
        vm.run("delete getroottable().chip")
        for i in range(200):  # the freed memory is reused for blobs meanwhile
            vm.run("local t = array(64, blob(24)); return t.len()")
            vm.retarget_readers(None)
        vm.close()
        print("ok")
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "ok\n"), out.stderr
