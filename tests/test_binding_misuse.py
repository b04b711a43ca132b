"""No crash from misuse or hostile scripts. Each risky case runs in a child interpreter (address
space capped), so a segfault is a test failure instead of the end of the test session."""

from __future__ import annotations

import pytest

import squirrel

from binding_helpers import assert_clean_run, run_isolated


# --- closed VMs and orphaned proxies ----------------------------------------------------------

def test_calling_into_a_closed_vm():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        f = vm.compile("return function() { return 1 }")()
        t = vm.compile("return {a = [1]}")()
        a = t["a"]
        root = vm.root
        vm.root["py"] = lambda: 1
        native = vm.root["py"]
        vm.close()
        vm.close()  # twice is fine
        checks = [lambda: f(), lambda: t["a"], lambda: len(a), lambda: list(a), lambda: a == a,
                  lambda: hash(a), lambda: root["x"], lambda: vm.run("return 1"), lambda: vm.root,
                  lambda: vm.compile("1"), lambda: vm.memory_used, lambda: a.to_python(), lambda: native(),
                  lambda: vm.collect_garbage(), lambda: vm.new_blob(b"x"), lambda: t.typeof(), lambda: vm.work,
                  lambda: vm.read_work()]
        for check in checks:
            try:
                check()
            except squirrel.SquirrelError as e:
                assert "closed" in str(e), e
            else:
                raise AssertionError("no error")
        print(repr(a))
        print(vm.closed, vm.running)
    """), "<squirrel array of a closed VM>", "True False")


def test_proxies_outliving_their_vm():
    assert_clean_run(run_isolated("""
        import gc, squirrel
        vm = squirrel.VM()
        arr = vm.compile("return [1, {a = 2}]")()
        t = arr[1]
        del vm
        gc.collect()  # the VM object may go; the proxies keep it open and working
        print(t["a"], arr[0])
        del arr, t
        gc.collect()
        print("done")
    """), "2 1", "done")


def test_context_manager_closes_and_proxies_fail_cleanly():
    assert_clean_run(run_isolated("""
        import squirrel
        with squirrel.VM() as vm:
            t = vm.compile("return {a = 1}")()
        try:
            t["a"]
        except squirrel.SquirrelError:
            print("closed")
        del t
        print("ok")
    """), "closed", "ok")


def test_close_from_inside_a_native_raises():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        vm.root["close"] = lambda: vm.close()
        try:
            vm.run("close()")
        except squirrel.SquirrelError as e:
            print("refused:", "running" in str(e))
        print(vm.run("try { close() } catch (e) { return 7 }"))
        vm.print = lambda text: vm.close()
        try:
            vm.run('print("x")')
        except squirrel.SquirrelError:
            print("refused in print")
        print(vm.closed, vm.run("return 3"))
        vm.close()
        print(vm.closed)
    """), "refused: True", "7", "refused in print", "False 3", "True")


def test_closing_with_suspended_threads_and_generators():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        g = vm.compile("function gen() { yield 1; yield 2; } local g = gen(); resume g; return g")()
        th = vm.compile("local t = newthread(function() { suspend(1); return 2; }); t.call(); return t")()
        vm.root["keep"] = [g, th]
        vm.close()
        del g, th
        print("ok")
    """), "ok")


# --- re-entrancy --------------------------------------------------------------------------------

def test_natives_calling_back_into_squirrel():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        vm.root["twice"] = lambda f, x: f(f(x))
        vm.root["compute"] = lambda: vm.run("return 6 * 7")
        vm.root["ev"] = lambda src: vm.compile(src)()
        print(vm.run("return twice(function(v) { return v * 3 }, 2)"))
        print(vm.run("return compute()"))
        print(vm.run("return ev(\\"return twice(function(v) { return v + 1 }, 0)\\")"))
        t = vm.compile("return {n = 0}")()
        vm.root["bump"] = lambda: t.__setitem__("n", t["n"] + 1)
        vm.run("for (local i = 0; i < 1000; i++) bump()")
        print(t["n"])
    """), "18", "42", "2", "1000")


def test_recursion_through_python():
    # Each Squirrel->Python->Squirrel level costs two of Squirrel's MAX_NATIVE_CALLS (100): about
    # 45 levels work; deeper is a clean "Native stack overflow" error, and the VM stays usable.
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        vm.root["down"] = lambda f, n: f(n)
        vm.run("function r(n) { return n == 0 ? 0 : 1 + down(r, n - 1) }")
        print(vm.run("return r(45)"))
        for depth in (200, 1000):
            try:
                vm.run(f"return r({depth})")
            except squirrel.ScriptError as e:
                print(e.message)
        print(vm.run("return r(10)"))
    """), "45", "Native stack overflow", "Native stack overflow", "10")


def test_python_recursion_limit_inside_natives():
    assert_clean_run(run_isolated("""
        import sys, squirrel
        vm = squirrel.VM()
        def deep(n):
            return deep(n + 1)
        vm.root["deep"] = deep
        try:
            vm.run("deep(0)")
        except RecursionError:
            print("RecursionError")
        sys.setrecursionlimit(120)
        vm.root["down"] = lambda f, n: f(n)
        vm.run("function r(n) { return n == 0 ? 0 : 1 + down(r, n - 1) }")
        try:
            vm.run("return r(40)")
        except (RecursionError, squirrel.ScriptError) as e:
            print(type(e).__name__)
        sys.setrecursionlimit(1000)
        print(vm.run("return r(5)"))
    """), "RecursionError", "RecursionError", "5")


def test_the_recursion_limit_reached_in_a_natives_error_handling_never_returns_a_value():
    # At these limits the RecursionError is raised inside the callback's own error handling (or
    # by the call into it), not in the native: the script must stop with it, never continue
    # with what was left in the argument slots ("arith op + on between 'integer' and 'function'").
    out = run_isolated("""
        import sys, squirrel
        vm = squirrel.VM()
        vm.root["down"] = lambda f, n: f(n)
        vm.run("function r(n) { return n == 0 ? 0 : 1 + down(r, n - 1) }")
        for limit in range(40, 130, 2):
            sys.setrecursionlimit(limit)
            try:
                result = vm.run("return r(40)")
            except RecursionError:
                result = "RecursionError"
            except squirrel.ScriptError as e:
                result = e.message
            sys.setrecursionlimit(1000)
            print(limit, result)
        print(vm.run("return r(5)"))
    """)
    assert_clean_run(out, *(f"{limit} RecursionError" for limit in range(40, 130, 2)), "5")
    assert out.stderr == ""


def test_deep_native_nesting():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        # Squirrel calling builtin natives calling Squirrel: pcall, acall, sort comparators, ...
        vm.run("function r(n) { return n == 0 ? 0 : 1 + r.pcall(this, n - 1); }")
        vm.run("function s(n) { local a = [2, 1]; a.sort(function(x, y) { if (n > 0) s(n - 1); return x <=> y; }); return n; }")
        vm.root["py"] = lambda f, n: f(n)
        vm.run("function m(n) { return n == 0 ? 0 : 1 + (n % 2 ? py(m, n - 1) : m.acall([this, n - 1])); }")
        for src in ("return r(1000)", "return s(1000)", "return m(1000)"):
            try:
                print(vm.run(src))
            except squirrel.ScriptError as e:
                print(e.message)
        print(vm.run("return r(5) + s(5) + m(5)"))
    """), *(["Native stack overflow"] * 3), "15")


def test_generator_resumed_while_running():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        vm.root["consume"] = lambda g: list(g)
        try:
            vm.run("function gen() { yield consume(::g); } ::g <- gen(); return consume(::g)")
        except squirrel.ScriptError as e:
            print(e.message)
        print(vm.run("return 1"))
    """), "resuming active generator", "1")


def test_suspend_in_the_main_thread():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        for i in range(3):
            try:
                vm.run("function f() { suspend(1); return 2; } return f()")
            except squirrel.ScriptError as e:
                print(e.message)
        print(vm.run("try { suspend(); } catch (e) { return \\"caught\\"; }"))
        print(vm.run("local t = newthread(function() { suspend(5); return 6; }); local a = t.call(); return [a, t.wakeup()]"))
        vm.root["s"] = lambda: vm.run("suspend(5)")
        try:
            vm.run("s()")
        except squirrel.ScriptError as e:
            print(e.message)
        print(vm.run("return 7"))
    """), *(["cannot suspend the main thread (suspend() works in a newthread())"] * 3), "caught", "[5, 6]",
        "cannot suspend through native calls/metamethods", "7")


def test_use_from_another_python_thread():
    # A VM belongs to the thread that made it: another thread gets a clear error, and the VM
    # goes on working in its own (tests/test_vm_crashes.py has the concurrent cases).
    assert_clean_run(run_isolated("""
        import threading, squirrel
        vm = squirrel.VM()
        f = vm.compile("return function(x) { return [x] }")()
        out = []
        def work():
            try:
                out.append(f(5)[0])
            except squirrel.SquirrelError as e:
                out.append("the thread that made it" in str(e))
        t = threading.Thread(target=work)
        t.start(); t.join()
        print(out, f(6)[0])
    """), "[True] 6")


def test_threads_each_with_their_own_vm():
    # Python->Squirrel->Python->Squirrel in four threads at once (the binding hands the GIL
    # around natives and nested calls): no deadlock, no crossed values.
    n = 20000
    expected = sorted(n * (n - 1) // 2 + n * k + n * (1 + k) for k in range(4))
    assert_clean_run(run_isolated(f"""
        import threading, squirrel
        results = []
        def work(k):
            vm = squirrel.VM()
            vm.root["p"] = lambda x: x + k
            vm.root["inner"] = lambda: vm.compile("return p(1)")()
            f = vm.compile("return function(n) {{ local s = 0; for (local i = 0; i < n; i++) s += p(i) + inner(); return s; }}")()
            results.append(f({n}))
            vm.close()
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(sorted(results))
    """, timeout=300), str(expected))



def test_other_python_threads_run_while_squirrel_code_runs_a_while():
    # Calls keep the GIL while they are short; code that runs on lets it go at the VM's
    # periodic check. The watcher can only see the VM running if the GIL was let go meanwhile
    # (it tries a few long calls, in case it was not scheduled during one).
    assert_clean_run(run_isolated("""
        import threading, squirrel
        vm = squirrel.VM()
        f = vm.compile("return function(n) { local s = 0; for (local i = 0; i < n; i++) s += i; return s; }")()
        seen, done = [], False
        def watch():
            while not done and not seen:
                if vm.running:
                    seen.append(True)
        t = threading.Thread(target=watch)
        t.start()
        for _ in range(20):
            f(2000000)
            if seen:
                break
        done = True
        t.join()
        print(bool(seen), f(10))
    """, timeout=300), "True 45")

# --- garbage collection ---------------------------------------------------------------------------

def test_gc_during_callbacks():
    assert_clean_run(run_isolated("""
        import gc, squirrel
        vm = squirrel.VM()
        keep = []
        def cb(x, t):
            keep.append(t)
            if len(keep) > 50:
                del keep[:40]
            gc.collect()
            vm.collect_garbage()
            return [x, {"k": x}]
        vm.root["cb"] = cb
        print(vm.run("local r = []; for (local i = 0; i < 2000; i++) { r.append(cb(i, {i = i})) } return r.len()"))
    """), "2000")


def test_exceptions_in_del_during_gc():
    r = run_isolated("""
        import gc, squirrel
        class Grumpy:
            def __del__(self):
                raise RuntimeError("in __del__")
            def __call__(self):
                return 1
        vm = squirrel.VM()
        vm.root["g"] = Grumpy()
        print(vm.run("g(); ::g <- null; collectgarbage(); return 2"))
        vm.root["h"] = Grumpy()
        vm.close()
        vm2 = squirrel.VM()
        vm2.root["cyc"] = vm2.compile("local t = {}; t.t <- t; return t")()
        vm2.root["z"] = Grumpy()
        del vm2
        gc.collect()
        print("ok")
    """)
    assert_clean_run(r, "2", "ok")
    assert "RuntimeError: in __del__" in r.stderr  # Python's own "Exception ignored" report


def test_vm_garbage_collected_without_close():
    assert_clean_run(run_isolated("""
        import gc, squirrel
        for i in range(200):
            vm = squirrel.VM()
            vm.root["f"] = lambda: vm.closed  # a cycle through Squirrel
            vm.run("f()")
        del vm
        gc.collect()
        print("ok")
    """), "ok")


def test_interpreter_exit_with_live_vms_and_proxies():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        vm.root["f"] = print
        t = vm.compile("return {a = [1, 2]}")()
        a = t["a"]
        import sys
        sys.modules["__main__"].keep = (vm, t, a)
        print("exiting")
    """), "exiting")


# --- hostile scripts ----------------------------------------------------------------------------

def test_infinite_recursion_is_an_error_not_a_crash():
    # Stock Squirrel grows its stack until malloc fails, then crashes; the binding stops the
    # script at a call depth limit (this needs the interruption patch's hook).
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        for src in ("function f(n) { return f(n + 1) + 1; } return f(0);",
                    "function f(n) { try { return f(n + 1) + 1; } catch (e) { return 0; } } return f(0);",
                    "local t = newthread(function() { local function f(n) { return f(n + 1) + 1; } return f(0); }); return t.call();"):
            try:
                vm.run(src)
            except squirrel.ScriptError as e:
                print(e.message, len(e.traceback) > 0)
        print(vm.run("function g(n) { return n == 0 ? 0 : 1 + g(n - 1); } return g(50000)"))
    """, memory_gb=3), *(["stack overflow True"] * 3), "50000")


def test_thread_call_with_many_arguments_cve_2022_30292():
    args = ",".join(str(i) for i in range(200))
    assert_clean_run(run_isolated(f"""
        import squirrel
        vm = squirrel.VM()
        print(vm.run("local t = newthread(function(...) {{ return vargv.len(); }}); return t.call({args})"))
        print(vm.run("local t = newthread(function(...) {{ suspend(vargv.len()); return 1; }}); return t.call({args})"))
        t = vm.compile("return newthread(function(...) {{ return vargv.len(); }})")()
        call = vm.compile("return function(t, a) {{ local args = [t]; args.extend(a); return t.call.acall(args); }}")()
        print(call(t, list(range(1000))))
    """), "200", "200", "1000")


def test_many_arguments_from_python():
    assert_clean_run(run_isolated("""
        import squirrel
        vm = squirrel.VM()
        f = vm.compile("return function(...) { return vargv.len(); }")()
        print(f(*range(5000)))
        vm.root["count"] = lambda *a: len(a)
        print(vm.compile("return function(a) { local args = [this]; args.extend(a); return count.acall(args); }")()(list(range(3000))))
    """), "5000", "3000")


@pytest.mark.parametrize("src", [
    'local s = "x"; while (true) s += s;',
    "local a = []; while (true) a.append([1, 2, 3, 4]);",
    "local t = {}; for (local i = 0; ; i++) t[i] <- i;",
    "return array(1 << 24, 0).len();",  # 256 MB at once
    "local b = blob(0); while (true) b.writeblob(blob(1 << 20));",
])
def test_huge_allocations_stop_at_the_memory_limit(src):
    assert_clean_run(run_isolated(f"""
        import squirrel
        vm = squirrel.VM("standard", memory_limit=16 << 20)
        try:
            vm.run({src!r})
        except squirrel.MemoryLimitError:
            print("MemoryLimitError")
        print(vm.run("return 1 + 1"), vm.memory_used < 16 << 20)
    """, memory_gb=3), "MemoryLimitError", "2 True")


@pytest.mark.parametrize("src", [
    "return array(1 << 40).len();",
    "return array(0x7fffffff, null).len();",
    "local a = [1]; a.resize(1 << 40);",
    "return blob(1 << 40).len();",
    "local b = blob(1); b.resize(1 << 40);",
    "class B extends blob { constructor(n) { base.constructor(n); } } return B(1 << 40);",
])
@pytest.mark.parametrize("limit", [None, 16 << 20])
def test_allocations_beyond_any_memory_are_refused(src, limit):
    # Squirrel never checks malloc's result: without the binding's guard these crash.
    assert_clean_run(run_isolated(f"""
        import squirrel
        vm = squirrel.VM("standard", memory_limit={limit})
        try:
            vm.run({src!r})
        except squirrel.MemoryLimitError:
            print("refused")
        except squirrel.ScriptError as e:
            print("refused" if e.message == "not enough memory" else e.message)
        print(vm.run("return 1 + 1"))
    """, memory_gb=3), "refused", "2")


@pytest.mark.parametrize("src", ["return array(-1);", "local a = []; a.resize(-1);", "return array(-1e30);",
                                 "return blob(1).resize(-1);"])
def test_negative_sizes_are_errors_not_crashes(src):
    assert_clean_run(run_isolated(f"""
        import squirrel
        vm = squirrel.VM()
        try:
            vm.run({src!r})
        except squirrel.ScriptError as e:
            print(e.message)
        print(vm.run("return 1"))
    """), "size must not be negative", "1")


def test_hostile_builtins_do_not_crash():
    r = run_isolated("""
        import squirrel
        cases = [
            'return format("%1000000000d", 1)',
            'setroottable(null); return 1',
            'seterrorhandler(null); throw "x"',
            'return regexp("(((a*)*)*)*b").match("aaaaaaaaaaaaaaaaaaaaaa")',
            'return compilestring("}")',
            'return compilestring("return 5")()',
            'getroottable().clear(); return 1',
            'return getstackinfos(1000)',
            'return "abc".slice(5, 1)',
            'return "abc"[10]',
            'return [1, 2, 3].slice(2, 1)',
            'local t = {}; t.setdelegate(t); return t.nope',
            'local a = []; a.append(a); return a.tostring()',
            'return getroottable().weakref().weakref()',
            'local c = class {}; c.newmember("x", 1); return c().x',
        ]
        for src in cases:
            vm = squirrel.VM()
            try:
                vm.run(src)
            except squirrel.SquirrelError:
                pass
            vm.close()
        print("alive")
    """, timeout=300)
    assert_clean_run(r, "alive")


# --- snapshot / restore -------------------------------------------------------------------------

def test_snapshot_and_restore_misuse_never_crashes():
    assert_clean_run(run_isolated("""
        import gc, squirrel
        vm = squirrel.VM()
        vm.run("loop <- {}; loop.self <- loop; shared <- { n = 1 }; a <- { s = shared, l = loop };"
               "getroottable().me <- getroottable();")
        vm.snapshot()
        vm.snapshot()  # twice: the copy becomes the pristine state
        stale = vm.compile("return { big = array(100, 1) }")()
        fn = vm.compile("return function() { return a.s.n }")()
        results = []
        for i in range(50):
            vm.run("a.s.n += 1; loop.self = null; me.x <- [1, 2, 3]; delete a.l;")
            results.append(vm.restore())
        def inside():
            try:
                vm.restore()
            except squirrel.SquirrelError as e:
                return str(e)
        vm.root["inside"] = inside
        print(vm.run("return inside()"))
        for use in (lambda: stale["big"], fn):
            try:
                use()
            except squirrel.SquirrelError as e:
                assert "before restore" in str(e), e
        del stale, fn
        gc.collect()
        print(all(results), vm.run("return [a.s.n, loop.self == loop, me == getroottable()]"))
        vm.run("local t = deep <- {}; for (local i = 0; i < 100; i++) t = t.next <- {};")
        try:
            vm.snapshot()
        except squirrel.SquirrelError as e:
            print("refused")
        vm.close()
        for call in (vm.snapshot, vm.restore):
            try:
                call()
            except squirrel.SquirrelError as e:
                assert "closed" in str(e)
        print("done")
    """), "restore() needs a snapshot() and a VM that is not running", "True [1, True, True]", "refused", "done")


def test_stack_size_out_of_range_is_refused():
    for size in (0, 1, 63, 1 << 40):
        with pytest.raises(ValueError, match="stack_size must be 64..1048576 slots"):
            squirrel.VM(stack_size=size)


def test_arguments_whose_conversion_calls_back_into_the_vm_reach_it_intact():
    # bytes(Evil()) runs Python that calls the same VM while the outer call fills its slots.
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM()
        f = vm.compile('return function(a, b) { return a + "/" + b; }')()
        mk = vm.compile('return function(n) { local s = "7"; while (s.len() < n) s += s; return s.len(); }')()
        class Evil(bytes):
            def __bytes__(self):
                mk(1 << 20)
                return b"evil"
        print(f("short", Evil()))
        print(f(Evil(), "end"))
    """)
    assert_clean_run(result, "short/evil", "evil/end")


def test_install_ignores_a_delegates_newslot_and_takes_tables_only():
    result = run_isolated("""
        import squirrel
        vm = squirrel.VM()
        t = vm.compile('local d = {}; d.setdelegate({ _newslot = function(k, v) { throw "no"; } }); return d')()
        vm.install(t, squirrel.NativeSet({"f": lambda ctx: 1}, integers={"K": 2}), into="sub")
        print(t["sub"]["f"](), t["sub"]["K"])
        for target in ("[1]", "class {}"):
            try:
                vm.install(vm.compile("return " + target)(), squirrel.NativeSet({"f": lambda ctx: 1}))
            except TypeError as e:
                print(str(e).split(",")[0])
    """)
    assert_clean_run(result, "1 2", "install() puts natives into a table of this VM", "install() puts natives into a table of this VM")


def test_new_blob_over_the_memory_limit_raises_and_leaves_the_vm_usable():
    with squirrel.VM(memory_limit=1 << 20) as vm:
        with pytest.raises(squirrel.MemoryLimitError):
            vm.new_blob(b"x" * (2 << 20))
        assert vm.run("return 1 + 1") == 2 and bytes(vm.new_blob(b"ok")) == b"ok"

