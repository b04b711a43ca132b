#!/usr/bin/env python3
"""Benchmarks of the Squirrel binding, each a ratio against a reference measured in the same run.

    python bench/bench_vm.py            # the full run (about two minutes)
    python bench/bench_vm.py --quick    # smaller sizes and fewer repeats, for a smoke test

(a) Pure-Squirrel programs (bench/programs/*.nut) through the binding vs the native `sq`
    interpreter built from the same patched sources and flags (bench/native_sq.py).
(b) Call overhead, Python->Squirrel and Squirrel->Python, in microseconds per call; lupa (if
    installed) measured the same way is the reference.
(c) VM creation in microseconds (a VM with the dialect's libraries), lupa's LuaRuntime() as
    the reference.

Times are CPU times (the binding's process time; the native interpreter's rusage), and every
figure is the minimum over several repeats: on a shared machine wall-clock times of the same
run vary by 20%, CPU times by 1-2%. See bench/README.md."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
if "--squirrel-from" in sys.argv:  # a variant build (bench/build_variant.py) instead of the tree's
    sys.path.insert(0, sys.argv[sys.argv.index("--squirrel-from") + 1])

import squirrel  # noqa: E402
from native_sq import build_native_sq  # noqa: E402

try:
    import lupa  # optional: only a reference
    from lupa import LuaRuntime
except ImportError:  # pragma: no cover
    lupa = None

PROGRAMS = ROOT / "bench" / "programs"
# name -> (argument for the measured run, argument for the native baseline run)
SIZES = {"fib": ("32", "1"), "loops": ("6000", "1"), "matrix": ("200", "1"), "methcall": ("3000000", "1")}
QUICK_SIZES = {"fib": ("25", "1"), "loops": ("500", "1"), "matrix": ("60", "1"), "methcall": ("200000", "1")}

rows: list[tuple[str, str, str, str, str]] = []


def row(name: str, ours: float, ref: float | None, unit: str, target: str, ok: bool | None) -> None:
    fmt = (lambda v: f"{v:.3f} {unit}") if unit != "s" else (lambda v: f"{v:.3f} s")
    ratio = f"{ours / ref:.2f}x" if ref else "-"
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    rows.append((name, fmt(ours), fmt(ref) if ref else "-", ratio, f"{target} {verdict}".strip()))
    print(f"  {name:42} {rows[-1][1]:>12} {rows[-1][2]:>12} {ratio:>7}  {rows[-1][4]}", flush=True)


# --- (a) programs -------------------------------------------------------------------------------

def run_native(sq: Path, program: Path, arg: str) -> float:
    """CPU seconds of one run of the native interpreter."""
    with open(os.devnull, "wb") as devnull:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.dup2(devnull.fileno(), 1)
            os.execv(str(sq), [str(sq), str(program), arg])
        _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def run_binding(program: Path, arg: str) -> float:
    """CPU seconds of one call of the compiled program through the binding."""
    with squirrel.VM("standard") as vm:
        f = vm.compile(program.read_bytes(), program.name)
        gc.collect()
        t = time.process_time()
        f(arg)
        return time.process_time() - t


def bench_programs(sizes: dict, repeats: int, extra_flags: list[str]) -> None:
    sq = build_native_sq(extra_flags)
    label = "native sq" + (f" ({' '.join(extra_flags)})" if extra_flags else "")
    print(f"(a) pure Squirrel, binding vs {label}: {sq}")
    for name, (arg, small) in sizes.items():
        program = PROGRAMS / f"{name}.nut"
        native, ours, base = [], [], []
        for _ in range(repeats):  # interleaved, so a disturbance hits both sides alike
            base.append(run_native(sq, program, small))
            native.append(run_native(sq, program, arg))
            ours.append(run_binding(program, arg))
        n = min(native) - min(base)  # minus process start-up, VM creation and compiling
        o = min(ours)
        row(f"{name}({arg})" + (" vs -fPIC build" if extra_flags else ""), o, n, "s", "<= 1.05x",
            o / n <= 1.05 if not extra_flags else None)


# --- (b) call overhead -------------------------------------------------------------------------

def per_call(stmt: str, env: dict, number: int, repeats: int) -> float:
    times = timeit.repeat(stmt, globals=env, number=number, repeat=repeats, timer=time.process_time)
    return min(times) / number * 1e6


def loop_cost(run_with, run_without, n: int, repeats: int) -> float:
    """Microseconds per iteration that the call adds to a loop in the guest language."""
    with_calls, without = [], []
    for _ in range(repeats):
        t = time.process_time(); run_with(n); with_calls.append(time.process_time() - t)
        t = time.process_time(); run_without(n); without.append(time.process_time() - t)
    return (min(with_calls) - min(without)) / n * 1e6


def bench_calls(number: int, repeats: int) -> None:
    print("(b) call overhead, microseconds per call (reference: lupa, same measurement)")
    vm = squirrel.VM()
    identity = vm.compile("return function(x) { return x; }")()
    empty = vm.compile("return function() {}")()
    s_identity = vm.compile("return function(s) { return s; }")()
    vm.root["p"] = lambda x: x
    vm.root["q"] = lambda: None
    sq_calls = vm.compile("return function(n) { for (local i = 0; i < n; i++) p(i); }")()
    sq_calls0 = vm.compile("return function(n) { for (local i = 0; i < n; i++) q(); }")()
    sq_loop = vm.compile("return function(n) { for (local i = 0; i < n; i++) {} }")()
    env = {"f": identity, "f0": empty, "fs": s_identity}

    lua = LuaRuntime() if lupa else None
    if lua:
        lua.globals().p = lambda x: x
        lua.globals().q = lambda: None
        lenv = {"f": lua.eval("function(x) return x end"), "f0": lua.eval("function() end"),
                "fs": lua.eval("function(s) return s end")}
        l_calls = lua.eval("function(n) for i = 1, n do p(i) end end")
        l_calls0 = lua.eval("function(n) for i = 1, n do q() end end")
        l_loop = lua.eval("function(n) for i = 1, n do end end")

    def ref(stmt):
        return per_call(stmt, lenv, number, repeats) if lua else None

    ours = per_call("f(1)", env, number, repeats)
    row("Python->Squirrel f(1) (int identity)", ours, ref("f(1)"), "us", "<= 0.6 us", ours <= 0.6)
    ours = per_call("f0()", env, number, repeats)
    row("Python->Squirrel f() (no arguments)", ours, ref("f0()"), "us", "<= 0.6 us", ours <= 0.6)
    ours = per_call("fs('a string')", env, number, repeats)
    row("Python->Squirrel f('a string')", ours, ref("fs('a string')"), "us", "", None)
    ours = loop_cost(sq_calls, sq_loop, number, repeats)
    theirs = loop_cost(l_calls, l_loop, number, repeats) if lua else None
    row("Squirrel->Python p(i) (int identity)", ours, theirs, "us", "<= 0.6 us", ours <= 0.6)
    ours = loop_cost(sq_calls0, sq_loop, number, repeats)
    theirs = loop_cost(l_calls0, l_loop, number, repeats) if lua else None
    row("Squirrel->Python q() (no arguments)", ours, theirs, "us", "<= 0.6 us", ours <= 0.6)
    vm.close()


# --- (c) VM creation ---------------------------------------------------------------------------

def creation(make, close, count: int, repeats: int) -> tuple[float, float]:
    """(microseconds to create one, microseconds to create and close one)"""
    best_new = best_pair = float("inf")
    for _ in range(repeats):
        gc.collect()
        t = time.process_time()
        made = [make() for _ in range(count)]
        best_new = min(best_new, (time.process_time() - t) / count * 1e6)
        for m in made:
            close(m)
        del made
        gc.collect()
        t = time.process_time()
        for _ in range(count):
            close(make())
        best_pair = min(best_pair, (time.process_time() - t) / count * 1e6)
    return best_new, best_pair


def bench_creation(count: int, repeats: int) -> None:
    print("(c) VM creation, microseconds (reference: lupa's LuaRuntime())")
    for dialect in ("imp", "standard"):
        new, pair = creation(lambda: squirrel.VM(dialect), lambda vm: vm.close(), count, repeats)
        ref_new = ref_pair = None
        if lupa:
            ref_new, ref_pair = creation(LuaRuntime, lambda rt: None, count, repeats)
        row(f"VM('{dialect}')", new, ref_new, "us", "<= 60 us", new <= 60)
        row(f"VM('{dialect}') + close()", pair, ref_pair, "us", "", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--only", choices=["programs", "calls", "creation"], help="run one section")
    ap.add_argument("--pic", action="store_true",
                    help="also compare with a native sq built with -fPIC -fwrapv (how Python builds extensions)")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown at the end")
    ap.add_argument("--squirrel-from", metavar="DIR",
                    help="benchmark the squirrel package in DIR (a variant from bench/build_variant.py)")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    print(f"squirrel binding benchmarks (Python {sys.version.split()[0]}, "
          f"lupa {lupa.__version__ if lupa else 'not installed'}, squirrel from "
          f"{Path(squirrel.__file__).parent})")
    print(f"  {'benchmark':42} {'binding':>12} {'reference':>12} {'ratio':>7}  target")
    if args.only in (None, "programs"):
        bench_programs(QUICK_SIZES if args.quick else SIZES, 3 if args.quick else 7, [])
        if args.pic:
            bench_programs(QUICK_SIZES if args.quick else SIZES, 3 if args.quick else 5, ["-fPIC", "-fwrapv"])
    if args.only in (None, "calls"):
        bench_calls(50_000 if args.quick else 300_000, repeats)
    if args.only in (None, "creation"):
        bench_creation(100 if args.quick else 400, repeats)
    if args.markdown:
        print("\n| benchmark | binding | reference | ratio | target |\n|---|---:|---:|---:|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
