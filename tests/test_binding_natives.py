"""Python callables as Squirrel functions: registration, `this` and context, argument checking."""

from __future__ import annotations

import functools
import gc
import weakref

import pytest

import squirrel
from squirrel import to_python


@pytest.fixture
def vm():
    with squirrel.VM() as vm:
        yield vm


def test_root_assignment_makes_a_global_function(vm):
    calls = []

    def add(a, b):
        calls.append((a, b))
        return a + b

    vm.root["add"] = add
    assert vm.run("return add(2, 3)") == 5
    assert vm.run('return add("a", "b")') == "ab"
    assert calls == [(2, 3), ("a", "b")]
    assert vm.run("return typeof add") == "function"
    assert isinstance(vm.root["add"], squirrel.NativeFunction)
    assert vm.root["add"](4, 5) == 9  # callable from Python too, through Squirrel


def test_arguments_and_results_are_converted(vm):
    seen = []

    @vm.function
    def probe(*args):
        seen.append(args)
        return {"n": len(args), "list": [1, "two", None], "nested": {"f": 0.5}}

    assert vm.run('return probe(1, 2.5, "s", null, true, [1], {a = 1})') == {
        "n": 7, "list": [1, "two", None], "nested": {"f": 0.5}}
    args = seen[0]
    assert args[:5] == (1, 2.5, "s", None, True)
    assert isinstance(args[5], squirrel.Array) and list(args[5]) == [1]
    assert isinstance(args[6], squirrel.Table) and to_python(args[6]) == {"a": 1}



@pytest.mark.parametrize("name", ['"reading"', '"%s"' % ("n" * (squirrel.vm.TEXT + 5)), '"\\xff\\xfe"'],
                         ids=["short", "beyond-the-text-area", "not-utf8"])
def test_a_name_and_a_value_cross_as_two_arguments_of_any_kind(vm, name):
    # A name and a value (a message, a setting) is the commonest two-argument call: it has a
    # path of its own in the fast dispatch, and must give what the general one gives.
    seen = []
    vm.root["send"] = lambda key, value: seen.append((key, value))
    values = ['7', '2.5', '"v"', 'null', 'true', '[1]', '{a = 1}', 'function() { return 3 }']
    for v in values:
        vm.run(f"send({name}, {v})")
    expected_name = vm.run(f"return {name}")
    assert [k for k, _ in seen] == [expected_name] * len(values)
    got = [v for _, v in seen]
    assert got[:5] == [7, 2.5, "v", None, True]
    assert isinstance(got[5], squirrel.Array) and list(got[5]) == [1]
    assert to_python(got[6]) == {"a": 1}
    assert isinstance(got[7], squirrel.Function) and got[7]() == 3

def test_returning_none_gives_null(vm):
    vm.root["nothing"] = lambda: None
    assert vm.run("return nothing() == null") is True


def test_returned_python_function_is_callable_from_squirrel(vm):
    vm.root["make"] = lambda k: (lambda x: x * k)
    assert vm.run("local triple = make(3); return triple(5)") == 15


def test_returned_proxies_are_the_same_objects(vm):
    vm.root["first"] = lambda a: a[0]
    vm.root["same"] = lambda x: x
    assert vm.run("local t = {}; return first([t]) == t") is True
    assert vm.run("local a = [1, 2]; return same(a) == a") is True
    assert vm.run("local f = function() {}; return same(f) == f") is True


def test_function_decorator_forms(vm):
    @vm.function
    def plain(x):
        return x + 1

    @vm.function(name="other_name")
    def renamed(x):
        return x + 2

    @vm.function(pass_this=True)
    def with_this(this, x):
        return this["k"] + x

    assert plain(1) == 2  # the decorator returns the function itself
    assert vm.run("return plain(1)") == 2
    assert vm.run("return other_name(1)") == 3
    assert "renamed" not in vm.root
    assert vm.run("return {k = 10, m = with_this}.m(5)") == 15


def test_pass_this(vm):
    @squirrel.native(pass_this=True)
    def whoami(this):
        return this

    vm.root["whoami"] = whoami
    assert vm.run("return whoami() == getroottable()") is True
    assert vm.run("local t = {f = whoami}; return t.f() == t") is True
    assert vm.run("class C { f = null; constructor() { f = whoami; } } local c = C(); return c.f() == c") is True
    assert vm.run("return whoami.call({tag = 1}).tag") == 1


def test_pass_context(vm):
    seen = []

    @squirrel.native(pass_context=True)
    def ctx(c, x):
        seen.append(c)
        return x * 2

    vm.root["ctx"] = ctx
    assert vm.run("return ctx(21)") == 42
    c = seen[-1]
    assert isinstance(c, squirrel.CallContext)
    assert c.vm is vm
    assert c.this == vm.root
    assert c.handle == vm.handle  # the raw HSQUIRRELVM of the main thread
    assert vm.run("::t <- {m = ctx}; return t.m(1)") == 2
    assert seen[-1].this == vm.root["t"]
    # From a coroutine, the handle is the coroutine's own thread.
    assert vm.run("local th = newthread(function() { return ctx(5); }); return th.call()") == 10
    assert seen[-1].handle != vm.handle


def test_pass_context_handle_is_a_raw_vm_pointer(vm):
    from squirrel._squirrel import ffi

    handles = []
    vm.root["grab"] = squirrel.native(pass_context=True)(lambda c: handles.append(c.handle))
    vm.run("grab()")
    assert ffi.typeof(handles[0]) is ffi.typeof("HSQUIRRELVM")
    assert handles[0] != ffi.NULL


def test_callable_objects_partials_and_methods(vm):
    class Counter:
        def __init__(self):
            self.n = 0

        def __call__(self, step):
            self.n += step
            return self.n

        def get(self):
            return self.n

    c = Counter()
    vm.root["count"] = c
    vm.root["get"] = c.get
    vm.root["pow2"] = functools.partial(pow, 2)
    vm.root["length"] = len
    assert vm.run("count(2); count(3); return get()") == 5
    assert vm.run("return pow2(10)") == 1024
    assert vm.run('return length("abc")') == 3


# --- argument count checking ----------------------------------------------------------------

WRONG = "wrong number of parameters"


def call_error(vm, code):
    with pytest.raises(squirrel.ScriptError) as info:
        vm.run(code)
    return info.value


@pytest.mark.parametrize("code", ["return two()", "return two(1)", "return two(1, 2, 3)"])
def test_exact_count(vm, code):
    vm.root["two"] = lambda a, b: [a, b]
    assert WRONG in str(call_error(vm, code))
    assert vm.run("return two(1, 2)") == [1, 2]


def test_defaults(vm):
    vm.root["opt"] = lambda a, b=10, c=20: [a, b, c]
    assert vm.run("return opt(1)") == [1, 10, 20]
    assert vm.run("return opt(1, 2)") == [1, 2, 20]
    assert vm.run("return opt(1, 2, 3)") == [1, 2, 3]
    assert WRONG in str(call_error(vm, "return opt()"))
    assert WRONG in str(call_error(vm, "return opt(1, 2, 3, 4)"))


def test_varargs(vm):
    vm.root["va"] = lambda a, *rest: [a, list(rest)]
    vm.root["any"] = lambda *rest: len(rest)
    assert vm.run("return va(1)") == [1, []]
    assert vm.run("return va(1, 2, 3)") == [1, [2, 3]]
    assert WRONG in str(call_error(vm, "return va()"))
    assert vm.run("return any()") == 0
    assert vm.run("return any(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)") == 20


def test_wrong_count_is_catchable_and_points_at_the_call(vm):
    vm.root["one"] = lambda a: a
    assert vm.run("try { one(); } catch (e) { return e; }") == WRONG
    err = call_error(vm, "function f() {\n  return one(1, 2);\n}\nreturn f();")
    assert (err.traceback[0].function, err.traceback[0].line) == ("f", 2)


def test_wrong_count_when_called_from_python(vm):
    vm.root["one"] = lambda a: a
    with pytest.raises(squirrel.ScriptError, match=WRONG):
        vm.root["one"]()
    with pytest.raises(squirrel.ScriptError, match=WRONG):
        vm.root["one"](1, 2)
    assert vm.root["one"](1) == 1


def test_pass_this_and_context_do_not_count_as_arguments(vm):
    vm.root["t1"] = squirrel.native(pass_this=True)(lambda this, a: a)
    vm.root["t2"] = squirrel.native(pass_context=True)(lambda ctx, a, b=0: a + b)
    assert vm.run("return t1(5)") == 5
    assert WRONG in str(call_error(vm, "return t1()"))
    assert vm.run("return t2(1, 2)") == 3
    assert WRONG in str(call_error(vm, "return t2(1, 2, 3)"))


def test_explicit_params_override(vm):
    # Squirrel's convention: the count includes `this`; negative means "at least".
    vm.root["loose"] = squirrel.native(params=-2)(lambda *a: len(a))
    assert vm.run("return loose(1, 2, 3)") == 3
    assert WRONG in str(call_error(vm, "return loose()"))


def test_uninspectable_callables_are_unchecked(vm):
    vm.root["mx"] = max  # builtins without a signature: Python does the checking
    assert vm.run("return mx(3, 9, 4)") == 9
    with pytest.raises(TypeError):
        vm.run("return mx()")


# --- lifetime -----------------------------------------------------------------------------------

def test_python_function_is_released_with_its_squirrel_closure(vm):
    class Fn:
        def __call__(self):
            return 1

    fn = Fn()
    ref = weakref.ref(fn)
    vm.root["fn"] = fn
    del fn
    gc.collect()
    assert ref() is not None  # Squirrel still holds it
    assert vm.run("return fn()") == 1
    del vm.root["fn"]
    vm.collect_garbage()
    gc.collect()
    assert ref() is None


def test_python_functions_released_when_the_vm_closes():
    class Fn:
        def __call__(self):
            return 1

    fn = Fn()
    ref = weakref.ref(fn)
    vm = squirrel.VM()
    vm.root["fn"] = fn
    del fn
    vm.close()
    gc.collect()
    assert ref() is None


def test_many_natives_and_calls(vm):
    for i in range(200):
        vm.root[f"f{i}"] = (lambda k: lambda x: x + k)(i)
    assert vm.run("local s = 0; for (local i = 0; i < 200; i++) s += getroottable()[\"f\" + i](1); return s") \
        == sum(range(200)) + 200


def test_native_called_in_a_loop_from_squirrel(vm):
    acc = []
    vm.root["push"] = acc.append
    vm.run("for (local i = 0; i < 10000; i++) push(i)")
    assert acc == list(range(10000))


def test_caller_names_the_calling_line_even_after_a_nested_dispatch(vm):
    """VM.caller() inside a native: the innermost script frame that called it. A native that
    calls back into Squirrel (which calls another native) still sees its own caller after."""
    seen = []

    def inner():
        seen.append(("inner", vm.caller()))

    def outer(cb):
        cb()
        seen.append(("outer", vm.caller()))

    vm.root["inner"] = inner
    vm.root["outer"] = outer
    vm.compile("local cb = function() {\n    inner();\n}\nouter(cb);\n", "app.nut")()
    assert seen == [("inner", ("app.nut", 2)), ("outer", ("app.nut", 4))]
    assert vm.caller() is None  # outside any native


def test_caller_names_each_source_file_and_follows_line_directives(vm):
    """Scripts from several files call one native in turn: each call names its own file, a
    ``#line`` directive maps the line, and a name seen before is still named right."""
    seen = []
    vm.root["where"] = lambda: seen.append(vm.caller())
    vm.compile("where();\n", "a.nut")()
    vm.compile("\nwhere();\n", "b.nut")()
    vm.compile('where();\n#line 10 "lib.nut"\nwhere();\n', "c.nut")()
    vm.compile("where();\n", "a.nut")()
    vm.compile("\n\nwhere();\n", "b.nut")()
    assert seen == [("a.nut", 1), ("b.nut", 2), ("c.nut", 1), ("lib.nut", 10), ("a.nut", 1), ("b.nut", 3)]
    vm.close()
    assert vm.caller() is None
