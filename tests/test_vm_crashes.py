"""Patch 09 and the binding's thread rule: programs that crashed the process now raise errors or
just work. Every crash case runs in a child process (a crash there is a failed test, not a dead
test session)."""

from __future__ import annotations

import json
import threading

import pytest

import squirrel
from squirrel._squirrel import lib
from binding_helpers import assert_clean_run, assert_errors_isolated, run_isolated

UNINIT_BLOB = "the blob is not initialised (a subclass's constructor must call base.constructor())"
UNINIT_REGEXP = "the regexp is not initialised (a subclass's constructor must call base.constructor(pattern))"
B = "class B extends blob { constructor() {} } "
R = "class R extends regexp { constructor() {} } "

# (source, what the script's error says) for instances of built-in classes never initialised.
UNINITIALISED = [
    (B + "B().len()", UNINIT_BLOB),
    (B + "B()[0]", UNINIT_BLOB),
    (B + "B()[0] = 1", UNINIT_BLOB),
    (B + "B().resize(8)", UNINIT_BLOB),
    (B + "B().swap2()", UNINIT_BLOB),
    (B + "foreach (x in B()) {}", UNINIT_BLOB),
    (B + "B().writen(1, 'b')", UNINIT_BLOB),
    (B + "B().readn('b')", UNINIT_BLOB),
    (B + "B().tell()", UNINIT_BLOB),
    (B + "B().seek(0)", UNINIT_BLOB),
    (B + "B().readblob(1)", UNINIT_BLOB),
    (B + "blob(4).writeblob(B())", "invalid parameter: a blob expected (an initialised one)"),
    (B + "local c = clone B();", "cannot clone an uninitialised blob"),
    (R + 'R().match("a")', UNINIT_REGEXP),
    (R + 'R().search("a")', UNINIT_REGEXP),
    (R + 'R().capture("a")', UNINIT_REGEXP),
    (R + "R().subexpcount()", UNINIT_REGEXP),
    ('regexp.match.call(blob(4), "a")', "invalid type tag: a regexp expected"),
    ('regexp("a").match.call({}, "a")', "parameter 0 has an invalid type 'table' ; expected: 'instance'"),
]


def test_uninitialised_builtin_instances_raise(tmp_path):
    assert_errors_isolated(UNINITIALISED, tmp_path)


def test_uninitialised_blob_subclass_reaches_python_as_an_instance():
    # A host converting the value (logging it, sending it) sees an instance with no bytes.
    one, nested, passed = B + "return B();", B + "return [B(), {b = B()}];", B + "keep(B()); keep([B()]);"
    result = run_isolated(f"""
        import squirrel
        with squirrel.VM() as vm:
            b = vm.run({one!r})
            print(type(b).__name__, b.typeof())
            print(squirrel.to_python(vm.run({nested!r}))[0].typeof())
            vm.root["keep"] = lambda x: None
            vm.run({passed!r})
            print("ok")
    """)
    assert_clean_run(result, "Instance blob", "blob", "ok")


DEEP = [
    # (what it builds, a script) -- each once in collectgarbage() and once by dropping it
    "local a = []; for (local i = 0; i < 200000; i++) a = [a];",
    "local a = {}; for (local i = 0; i < 200000; i++) a = {x = a};",
    "local a = {}; for (local i = 0; i < 200000; i++) { local n = {}; n.setdelegate({x = a}); a = n; }",
    "local a = null; for (local i = 0; i < 200000; i++) { local p = a; a = function() { return p; }; }",
    "local c = class {}; for (local i = 0; i < 50000; i++) c = class extends c {}; local a = c();",
    "local a = []; for (local i = 0; i < 200000; i++) { local b = [a]; b.push(b); a = b; }",
]


def test_deep_object_graphs_are_marked_and_freed_without_recursion():
    scripts = [d + " collectgarbage(); a = null; return collectgarbage() >= 0;" for d in DEEP]
    result = run_isolated(f"""
        import squirrel
        for source in {scripts!r}:
            with squirrel.VM("standard") as vm:
                print(vm.run(source))
                vm.collect_garbage()
    """, timeout=600)
    assert_clean_run(result, *["True"] * len(DEEP))


def test_a_delegate_chain_longer_than_lookups_follow_is_refused():
    # Stock checked each setdelegate for a cycle along the whole chain: quadratic time.
    with squirrel.VM() as vm:
        with pytest.raises(squirrel.ScriptError, match="delegate chain too long"):
            vm.run("local a = {}; for (local i = 0; i < 200000; i++) { local n = {}; n.setdelegate(a); a = n; }")
        assert vm.run("local a = {x = 1}; for (local i = 0; i < 999; i++) { local n = {}; n.setdelegate(a); a = n; } "
                      "return a.x") == 1


def test_deep_chain_freed_by_the_host():
    # The last reference is the host's: releasing the proxy frees 300,000 levels at once.
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM()
        a = vm.run("local a = []; for (local i = 0; i < 300000; i++) a = [a]; return a;".replace("return a;", "::keep <- a; return 1;"))
        proxy = vm.root["keep"]
        del vm.root["keep"]
        del proxy
        print(vm.collect_garbage() >= 0)
        vm.close()
    """, timeout=600)
    assert_clean_run(result, "True")


def test_weak_references_into_a_freed_deep_chain_see_null():
    with squirrel.VM() as vm:
        assert vm.run("""
            function make(n) { local a = []; for (local i = 0; i < n; i++) a = [a]; return a; }
            local a = make(50000), w = a;
            for (local i = 0; i < 49990; i++) w = w[0];
            w = w.weakref();
            local near = a[0].weakref();
            a = null;
            return [w.ref(), near.ref()];
        """) == [None, None]


def test_recursion_through_threads_is_stopped():
    result = run_isolated("""
        import squirrel
        with squirrel.VM("standard") as vm:
            for source in ["function f() { newthread(f).call(); } f();",
                           "function f() { local t = newthread(function() { f(); }); t.call(); } f();"]:
                try:
                    vm.run(source)
                except squirrel.ScriptError as e:
                    print(e.message)
            print(vm.run("function g(n) { return n == 0 ? 0 : 1 + newthread(g).call(n - 1); } return g(40);"))
    """)
    assert_clean_run(result, *["Native stack overflow (calls nested too deep across threads)"] * 2, "40")


GENERATORS = [
    # the debug hook collects garbage while a generator is being made and resumed
    ("""setdebughook(function(e, s, l, n) { collectgarbage(); });
        function gen() { yield 1; yield 2; }
        local x = 0;
        for (local i = 0; i < 30; i++) { local g = gen(); foreach (v in g) x += v; }
        setdebughook(null);
        return x;""", 90),
    # a generator that drops the only reference to itself, then collects
    ("""local g;
        function gen() { g = null; collectgarbage(); local a = [1, 2]; yield a; yield 3; }
        g = gen();
        local r = resume g;
        collectgarbage();
        return r;""", [1, 2]),
    # ... and through a debug hook, from outside
    ("""local g;
        setdebughook(function(e, s, l, n) { if (e == 'l') { g = null; collectgarbage(); } });
        function gen() { local t = [7]; yield t; yield 8; }
        g = gen();
        local r = resume g;
        setdebughook(null);
        return r;""", [7]),
    # a generator that fails after dropping itself
    ("""local g;
        function gen() { g = null; yield 1; throw "boom"; }
        g = gen();
        local h = g;
        resume h;
        try { resume h; } catch (e) { h = null; collectgarbage(); return e; }""", "boom"),
    # a thread that dies while a generator runs in it
    ("""local gen = function() { suspend(1); yield 2; };
        local t = newthread(function() { local g = gen(); resume g; });
        t.call();
        t = null;
        return collectgarbage() >= 0;""", True),
]


def test_generators_survive_hooks_collections_and_dropping_themselves(tmp_path):
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(GENERATORS))
    result = run_isolated(f"""
        import json, squirrel
        for source, _ in json.load(open({str(cases)!r})):
            with squirrel.VM("standard") as vm:
                print(json.dumps(vm.run(source)))
    """)
    assert_clean_run(result, *[json.dumps(expected) for _, expected in GENERATORS])


def test_a_vm_used_from_another_thread_refuses_it():
    """A VM belongs to the thread that made it: another thread's calls fail with a clear error
    (no crash), even while the VM runs; proxies it frees are released by the VM's thread."""
    with squirrel.VM() as vm:
        inside, leave = threading.Event(), threading.Event()

        def wait() -> None:
            inside.set()
            leave.wait(30)

        vm.root["wait"] = wait
        add = vm.run("return function(a, b) { return a + b; }")
        held = [vm.compile("return {x = 1}")()]
        live_before = lib.sqpy_live_refs(vm._ptr)
        seen: list = []

        def other() -> None:
            inside.wait(30)
            for attempt in (lambda: vm.run("return 1"), lambda: add(1, 2), lambda: add(1), lambda: add(),
                            lambda: add(1, 2, 3, 4, 5, 6), lambda: held[0]["x"], lambda: vm.root["add"],
                            lambda: vm.collect_garbage(), lambda: vm.close(), lambda: vm.new_blob(b"x")):
                try:
                    attempt()
                    seen.append("ran")
                except squirrel.SquirrelError as e:
                    seen.append(str(e))
            held.clear()  # the proxy dies in this thread while the VM runs in its own
            leave.set()

        t = threading.Thread(target=other)
        t.start()
        vm.run("wait()")
        t.join()
        assert len(seen) == 10 and all("a VM is used only by the thread that made it" in s for s in seen), seen
        assert vm.run("return 5") == 5 and add(2, 3) == 5
        assert lib.sqpy_live_refs(vm._ptr) == live_before - 1  # the table's handle went
        seen.clear()
        t = threading.Thread(target=lambda: seen.append(_error_of(lambda: vm.run("return 1"))))
        t.start()
        t.join()
        assert "the thread that made it" in seen[0]  # idle or not, the VM stays its thread's


def _error_of(f) -> str:
    try:
        f()
    except squirrel.SquirrelError as e:
        return str(e)
    return "no error"


def test_a_vm_shared_by_busy_threads_does_not_crash():
    # The VM's own thread keeps getting right answers while two others hammer it (and fail).
    result = run_isolated("""
        import threading, squirrel
        vm = squirrel.VM()
        vm.root["nap"] = lambda: None
        f = vm.run("return function(a, s) { nap(); return s + a; }")
        errors, wrong = [], []

        def work(mine):
            for i in range(2000):
                try:
                    r = f(i, "x" * 2000)
                    if r != "x" * 2000 + str(i):
                        wrong.append(r[:20])
                except squirrel.SquirrelError as e:
                    errors.append(mine)

        threads = [threading.Thread(target=work, args=(False,)) for _ in range(2)]
        for t in threads: t.start()
        work(True)
        for t in threads: t.join()
        print(len(wrong), errors.count(True), errors.count(False))
    """, timeout=600)
    assert_clean_run(result, "0 0 4000")


def test_proxies_freed_while_their_vm_closes():
    # Closing releases the VM's handles; the one of a Python native frees it, and forgetting
    # the Python function drops the proxies it held, whose release must not reach the VM being
    # torn down (nor release a handle a second time).
    result = run_isolated("""
        import gc, squirrel
        for i in range(50):
            vm = squirrel.VM()
            tables = [vm.compile("return {x = [1, 2]}")() for _ in range(20)]
            native = vm.to_squirrel((lambda held: lambda: held)(tables))
            del tables
            vm.close()
            vm = squirrel.VM()
            held = [vm.compile("return [{}]")() for _ in range(20)]
            native = vm.to_squirrel((lambda h: lambda: h)(held))
            del held, vm, native  # closed by the collector this time
            gc.collect()
        print("ok")
    """)
    assert_clean_run(result, "ok")
