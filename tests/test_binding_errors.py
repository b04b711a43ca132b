"""Errors: compile errors, runtime errors with their Squirrel stack, Python exceptions crossing
Squirrel, uncatchable stops, and where the script's output goes."""

from __future__ import annotations

import pytest

import squirrel
from squirrel.kinds import TEXT


@pytest.fixture
def vm():
    with squirrel.VM() as vm:
        yield vm


# --- compile errors -------------------------------------------------------------------------

def test_compile_error_is_a_syntax_error(vm):
    with pytest.raises(squirrel.CompileError) as info:
        vm.compile("local x = 1;\nlocal y = ;\n", "app.nut")
    e = info.value
    assert isinstance(e, SyntaxError) and isinstance(e, squirrel.SquirrelError)
    assert e.filename == "app.nut"
    assert e.lineno == 2
    # The lexer's column: the 1-based position of the last character read (here the `;`), on
    # every line (patch 08).
    assert e.column == e.offset == 11
    assert e.text == "local y = ;"
    assert e.msg == "expression expected"
    assert str(e).startswith("app.nut:2:11: expression expected")


@pytest.mark.parametrize("source, line, column", [
    ("local a = 1 +* 2", 1, 14),
    ("\n\n\tfunction f( {", 3, 14),
    ("local s = \"abc", 1, 14),
    ("class {", 1, 7),
])
def test_compile_error_positions(vm, source, line, column):
    with pytest.raises(squirrel.CompileError) as info:
        vm.compile(source, "x.nut")
    assert (info.value.lineno, info.value.column) == (line, column)


def test_line_directive_remaps_compile_errors(vm):
    src = 'local a = 1;\n#line 10 "other.nut"\nlocal b = 2;\nlocal c = ;\n'
    with pytest.raises(squirrel.CompileError) as info:
        vm.compile(src, "main.nut")
    assert (info.value.filename, info.value.lineno) == ("other.nut", 11)
    assert info.value.text == "local c = ;"


def test_line_directive_without_file_keeps_the_file(vm):
    with pytest.raises(squirrel.CompileError) as info:
        vm.compile("#line 100\nlocal c = ;", "main.nut")
    assert (info.value.filename, info.value.lineno) == ("main.nut", 100)


def test_compile_error_leaves_the_vm_usable(vm):
    with pytest.raises(squirrel.CompileError):
        vm.run("}")
    assert vm.run("return 1") == 1


# --- runtime errors -------------------------------------------------------------------------

PROGRAM = """function inner(p) {
  local q = p * 2;
  throw "bad " + q;
}
function outer() {
  local z = "zz";
  inner(21);
}
outer();
"""


def test_script_error_with_stack(vm):
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(PROGRAM, "prog.nut")
    e = info.value
    assert e.message == "bad 42" and e.value == "bad 42"
    assert [(f.function, f.file, f.line) for f in e.traceback] == [
        ("inner", "prog.nut", 3), ("outer", "prog.nut", 7), ("main", "prog.nut", 9)]
    assert e.location == ("prog.nut", 3)
    assert str(e) == "bad 42 (prog.nut:3)"
    assert all(f.locals == {} for f in e.traceback)
    text = e.format()
    assert text.splitlines()[0] == "Squirrel traceback (most recent call last):"
    assert 'File "prog.nut", line 3, in inner' in text and text.endswith("bad 42")
    assert text.index("in main") < text.index("in outer") < text.index("in inner")


def test_locals_on_request():
    with squirrel.VM(capture_locals=True) as vm:
        with pytest.raises(squirrel.ScriptError) as info:
            vm.run(PROGRAM, "prog.nut")
    inner, outer = info.value.traceback[:2]
    assert inner.locals["p"] == "21" and inner.locals["q"] == "42"
    assert outer.locals["z"] == '"zz"'
    assert "q = 42" in info.value.format()


def test_line_directive_remaps_runtime_frames(vm):
    src = 'local x = 1;\n#line 100 "lib.nut"\nfunction f() {\n  throw "e";\n}\nf();'
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(src, "main.nut")
    assert [(f.file, f.line) for f in info.value.traceback] == [("lib.nut", 101), ("lib.nut", 103)]


@pytest.mark.parametrize("code, message", [
    ("local a = null; a.b = 1;", "trying to set 'null'"),
    ("return {}.nope;", "the index 'nope' does not exist"),
    ("return 1 / 0;", "division by zero"),
    ("return undefined_thing;", "the index 'undefined_thing' does not exist"),
    ('return "a" + {}.x;', "the index 'x' does not exist"),
    ("local f = 5; f();", "attempt to call 'integer'"),
    ("assert(false);", "assertion failed"),
])
def test_runtime_error_messages(vm, code, message):
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(code)
    assert info.value.message == message


def test_thrown_values_keep_their_type(vm):
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run("throw 42")
    assert info.value.value == 42 and info.value.message == "42"
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run("throw {code = 7}")
    assert isinstance(info.value.value, squirrel.Table) and info.value.value["code"] == 7
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run("throw null")
    assert info.value.value is None


@pytest.mark.parametrize("thrown", ["this", '"no"'])
def test_an_error_whose_tostring_throws_is_named_by_its_type(vm, thrown):
    # Describing the error runs _tostring, which throws again: once, not until Python's
    # recursion limit (a RecursionError from the binding, found by the hostile campaign).
    code = f"class C {{ function _tostring() {{ throw {thrown}; }} }} local i = C(); "
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(code + "throw i;")
    assert info.value.message == "(Instance)"
    # The instance thrown out of a catch block by the concatenation that describes it.
    caught = 'try { local r = "" + i; } catch (e) { print("caught: " + e); }'
    if thrown == "this":
        with pytest.raises(squirrel.ScriptError) as info:
            vm.run(code + caught)
        assert info.value.message == "(Instance)"
    else:
        vm.run(code + caught)
    assert vm.run("return 1 + 1") == 2


def test_error_from_a_squirrel_function_called_from_python(vm):
    f = vm.compile("return function(x) {\n  if (x) throw \"no\";\n  return 1;\n}", "fn.nut")()
    assert f(False) == 1
    with pytest.raises(squirrel.ScriptError) as info:
        f(True)
    assert info.value.traceback[0].line == 2
    assert f(False) == 1


def test_errors_do_not_leak_into_later_calls(vm):
    with pytest.raises(squirrel.ScriptError):
        vm.run("throw \"first\"")
    assert vm.run("return 5") == 5
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run("throw \"second\"")
    assert info.value.message == "second"



# --- where a caught error was raised ---------------------------------------------------------------

CATCHER = """
function inner() {
  local t = null;
  return t.x;
}
function run() {
  try {
    inner();
  } catch (e) {
    where();
    return e;
  }
}
"""


def _catcher(vm):
    seen = []
    vm.root["where"] = squirrel.native(lambda: seen.append(
        [(f.function, f.file, f.line) for f in vm.last_error_stack()]))
    vm.run(CATCHER, "catch.nut")
    return seen


def test_a_catch_block_sees_where_its_error_was_raised_when_asked(vm):
    seen = _catcher(vm)
    assert vm.root["run"]() == "the index 'x' does not exist"
    assert seen == [[]]  # by default a caught error is not recorded
    vm.record_caught_errors()
    assert vm.root["run"]() == "the index 'x' does not exist"
    assert seen[-1] == [("inner", "catch.nut", 4), ("run", "catch.nut", 8)]
    vm.record_caught_errors(False)
    vm.root["run"]()
    assert seen[-1] == []
    # like every call, only from the thread that made the VM
    import threading
    refused = []

    def other() -> None:
        try:
            vm.record_caught_errors()
        except squirrel.SquirrelError as e:
            refused.append("the thread that made it" in str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert refused == [True]
    vm.root["run"]()
    assert seen[-1] == []  # still off


def test_recording_caught_errors_leaves_uncaught_ones_as_they_were(vm):
    vm.record_caught_errors()
    vm.run("""
function g() {
  try { throw "caught"; } catch (e) {}
  throw {code = 7};
}
function h() {
  try { throw "caught"; } catch (e) {}
  return [3, 1, 2].sort(function(a, b) { return "not an integer"; });
}
""", "g.nut")
    with pytest.raises(squirrel.ScriptError) as info:
        vm.root["g"]()
    assert info.value.value["code"] == 7
    assert [(f.function, f.line) for f in info.value.traceback] == [("g", 4)]
    with pytest.raises(squirrel.ScriptError) as info:
        vm.root["h"]()
    assert info.value.message != "caught" and info.value.traceback[0].line == 8


def test_an_error_a_native_raises_is_not_mistaken_for_one_caught_before(vm):
    # A native called straight from Python fails without the error handler running; the last
    # error recorded is then one its callback caught, which must not be reported instead.
    vm.record_caught_errors()
    array = vm.compile("::A <- [3, 1, 2]; return A;")()
    sort = vm.compile("return A.sort")()
    compare = vm.compile('return function(x, y) { try { throw "caught"; } catch (e) {} return "1"; }')()
    with pytest.raises(squirrel.ScriptError) as info:
        sort.call(array, compare)
    assert info.value.message == "numeric value expected as return value of the compare function"

# --- Python exceptions through Squirrel -------------------------------------------------------------

class AppError(Exception):
    pass


class StopHere(squirrel.Uncatchable):
    pass


def test_python_exception_propagates_with_its_own_type_and_identity(vm):
    raised = AppError("boom")

    def fail():
        raise raised

    vm.root["fail"] = fail
    with pytest.raises(AppError) as info:
        vm.run("function a() {\n  fail();\n}\na();", "app.nut")
    assert info.value is raised
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "Squirrel traceback" in notes
    assert 'File "app.nut", line 2, in a' in notes and 'line 4, in main' in notes
    frames = info.value.squirrel_traceback
    assert (frames[0].function, frames[0].line) == ("a", 2)


def test_python_exception_from_a_native_called_from_python(vm):
    def fail():
        raise KeyError("k")

    vm.root["fail"] = fail
    with pytest.raises(KeyError):
        vm.root["fail"]()


def test_python_exception_through_nested_calls(vm):
    vm.root["call"] = lambda f: f()

    def fail():
        raise AppError("deep")

    vm.root["fail"] = fail
    with pytest.raises(AppError, match="deep"):
        vm.run("call(function() { call(function() { fail(); }); })")
    assert vm.run("return 1") == 1


def test_squirrel_catches_python_exceptions_as_strings(vm):
    def fail():
        raise ValueError("bad value")

    vm.root["fail"] = fail
    assert vm.run("try { fail(); } catch (e) { return e; }") == "ValueError: bad value"
    assert vm.run("try { fail(); } catch (e) { return typeof e; }") == "string"
    assert vm.run("return 2") == 2  # nothing of the caught exception is raised later


def test_squirrel_error_raised_by_a_native_is_a_plain_message(vm):
    def fail():
        raise squirrel.SquirrelError("plain message")

    vm.root["fail"] = fail
    assert vm.run("try { fail(); } catch (e) { return e; }") == "plain message"


class _Unprintable(Exception):
    """An exception the binding cannot turn into the script's message: its __str__ fails inside
    the callback's own error handling, so the failure escapes the callback into cffi."""

    def __str__(self):
        raise LookupError("no text for this error")


class _UnprintableStop(BaseException):
    def __str__(self):
        raise LookupError("no text for this stop")


def _native_with_args(n: int, exc: type):
    def native(*args):
        raise exc()
    return native


@pytest.mark.parametrize("nargs", [0, 1, 2, squirrel.vm.NBUF + 1],  # one arg, several, the general path
                         ids=["none", "one", "two", "beyond-the-slots"])
@pytest.mark.parametrize("exc", [_Unprintable, _UnprintableStop])
def test_an_exception_escaping_the_callback_stops_the_script_with_that_exception(vm, capfd, nargs, exc):
    # What escapes the callback must not become a result: the script neither continues with
    # whatever was in the argument slots (the first argument, 5) nor catches it.
    vm.root["fail"] = _native_with_args(nargs, exc)
    args = ", ".join(["5"] * nargs)
    source = f"local r; try {{ r = fail({args}) }} catch (e) {{ return \"caught\" }} return r"
    with pytest.raises(LookupError, match="no text for this") as info:
        vm.run(source, "app.nut")
    assert isinstance(info.value.__context__, exc)  # the native's own exception, not lost
    assert 'File "app.nut", line 1' in "\n".join(getattr(info.value, "__notes__", []))
    assert capfd.readouterr().err == ""  # not printed by cffi as an ignored exception
    assert vm.run("return 2 + 2") == 4


def test_an_escaped_exception_reaches_python_through_nested_calls(vm, capfd):
    vm.root["call"] = lambda f: f()
    vm.root["fail"] = _native_with_args(1, _Unprintable)
    with pytest.raises(LookupError, match="no text for this error"):
        vm.run("call(function() { call(function() { fail(1) + 1; }); return 7 })")
    assert capfd.readouterr().err == ""
    assert vm.run("return 1") == 1


@pytest.mark.parametrize("nargs", [1, squirrel.vm.NBUF + 1], ids=["fast", "general"])
def test_a_native_may_return_its_stop_instead_of_raising_it(vm, nargs):
    stop = StopHere("returned")
    vm.root["stop"] = lambda *args: stop
    vm.root["log"] = log = []
    args = ", ".join(["1"] * nargs)
    with pytest.raises(StopHere) as info:
        vm.run(f"try {{ stop({args}); log.append(1) }} catch (e) {{ log.append(2) }} log.append(3)", "app.nut")
    assert info.value is stop
    assert 'File "app.nut", line 1' in "\n".join(info.value.__notes__)
    assert list(log) == []  # nothing ran after it, and no catch block saw it
    assert vm.run("return 2") == 2


@pytest.mark.parametrize("message", ["", "m" * (TEXT - 1), "m" * TEXT, "m" * (TEXT + 1), "m" * (3 * TEXT),
                                     "\u00e9" * (TEXT // 2), "\u00e9" * (TEXT // 2 + 1)],
                         ids=["empty", "text-1", "text", "text+1", "long", "utf8-text", "utf8-text+2"])
def test_a_natives_error_message_reaches_the_script_whole_at_any_length(vm, message):
    # Short messages cross in the slot buffer's text, longer ones through a pointer: the script
    # sees the same string either way, and so does the catch of an uncatchable stop's caller.
    def fail(arg):
        raise squirrel.SquirrelError(message)

    def stop(arg):
        raise Halt(message)

    vm.root["fail"], vm.root["stop"] = fail, stop
    assert vm.run('try { fail("an argument in the text"); } catch (e) { return e; }') == message
    with pytest.raises(Halt) as info:
        vm.run('stop("x");')
    assert info.value.args == (message,)
    assert vm.run('try { fail(1); } catch (e) { return e.len(); }') == len(message.encode())


def test_exception_caught_then_different_error(vm):
    def fail():
        raise ValueError("x")

    vm.root["fail"] = fail
    with pytest.raises(squirrel.ScriptError, match="other"):
        vm.run('try { fail(); } catch (e) {} throw "other";')


class Halt(squirrel.Uncatchable):
    pass


def test_uncatchable_skips_squirrel_try_catch(vm):
    def halt():
        raise Halt("stop now")

    vm.root["halt"] = halt
    src = """
    function f() {
        try { halt(); } catch (e) { ::caught <- e; }
        ::after <- true;
    }
    try { f(); } catch (e) { ::outer_caught <- e; }
    ::end <- true;
    """
    with pytest.raises(Halt, match="stop now"):
        vm.run(src)
    for name in ("caught", "after", "outer_caught", "end"):
        assert name not in vm.root, name
    assert vm.run("return 3") == 3  # the VM stays usable


def test_uncatchable_carries_the_squirrel_stack(vm):
    def halt():
        raise Halt()

    vm.root["halt"] = halt
    with pytest.raises(Halt) as info:
        vm.run("function g() {\n  halt();\n}\ng();", "u.nut")
    assert [(f.function, f.line) for f in info.value.squirrel_traceback][:2] == [("g", 2), ("main", 4)]


def test_an_uncatchable_that_wants_no_stack_stops_the_script_without_one(vm):
    class End(squirrel.Uncatchable):
        with_stack = False

    def end():
        raise End("the run is over")

    vm.root["end"] = end
    with pytest.raises(End) as info:
        vm.run("function g() {\n  try { end(); } catch (e) { ::caught <- e; }\n  ::after <- true;\n}\ng();", "u.nut")
    assert not hasattr(info.value, "squirrel_traceback") and not getattr(info.value, "__notes__", None)
    assert "caught" not in vm.root and "after" not in vm.root
    assert vm.run("return 3") == 3


def test_base_exceptions_are_uncatchable(vm):
    def interrupt():
        raise KeyboardInterrupt

    vm.root["interrupt"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        vm.run("try { interrupt(); } catch (e) { ::caught <- 1; }")
    assert "caught" not in vm.root


# --- output -------------------------------------------------------------------------------------

def test_print_and_error_go_to_callables():
    out, err = [], []
    with squirrel.VM(print=out.append, error=err.append) as vm:
        vm.run('print("a"); print(1); print(2.5); error("oops"); ::print("b\\n")')
    assert "".join(out) == "a12.5b\n"
    assert "".join(err) == "oops"


def test_print_targets_can_change_and_be_none(vm):
    out = []
    vm.run('print("dropped")')
    vm.print = out.append
    vm.run('print("kept")')
    vm.print = None
    vm.run('print("dropped again")')
    assert out == ["kept"]


def test_long_and_binary_output(vm):
    out = []
    vm.print = out.append
    vm.run('local s = ""; for (local i = 0; i < 2000; i++) s += "x"; print(s); print("\\xff\\xfe")')
    assert out[0] == "x" * 2000
    assert out[1] == "\ufffd\ufffd"  # invalid UTF-8 is replaced


def test_exception_in_print_target_reaches_the_caller(vm):
    def broken(text):
        raise RuntimeError("print failed")

    vm.print = broken
    with pytest.raises(RuntimeError, match="print failed"):
        vm.run('print("x"); ::went_on <- true')
    assert vm.root["went_on"] is True  # the script itself was not interrupted


def test_the_binding_never_writes_to_stdout_or_stderr(capfd):
    def fail():
        raise ValueError("x")

    with squirrel.VM() as vm:  # no print/error targets: output is dropped
        vm.root["fail"] = fail
        vm.run('print("to nowhere\\n"); error("to nowhere either\\n")')
        for code in ("throw \"e\"", "local x = ;", "fail()", "return {}.x", "function f() { f(); } f(1)"):
            try:
                vm.run(code)
            except Exception:
                pass
        vm.run("try { fail(); } catch (e) {}")
        vm.collect_garbage()
    with squirrel.VM(capture_locals=True) as vm:
        try:
            vm.run("local a = 1; throw a")
        except squirrel.ScriptError:
            pass
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_nul_byte_in_the_source_is_a_compile_error_where_it_is():
    # Squirrel's lexer reads a NUL as the end of the source: the code after it would vanish.
    with squirrel.VM() as vm:
        with pytest.raises(squirrel.CompileError, match="a NUL byte") as e:
            vm.compile('x <- 1;\nserver <- 2;\0 y <- 3;\n', "app.nut")
        assert (e.value.filename, e.value.lineno, e.value.column) == ("app.nut", 2, 13)
        assert vm.run('return "a\\x00b".len()') == 3  # the escape is the way to write one
