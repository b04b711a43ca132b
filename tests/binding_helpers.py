"""Shared helpers for the test_binding_* suites (imported by them; not collected itself)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import squirrel

INT_RANGE = {"imp": (-(1 << 31), (1 << 31) - 1), "standard": (-(1 << 63), (1 << 63) - 1)}

# The directory that holds the `squirrel` package under test, for child interpreters.
_PACKAGE_PARENT = str(Path(squirrel.__file__).resolve().parent.parent)


def f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (Squirrel's SQFloat), as a Python float."""
    return ctypes.c_float(x).value


def expected(value):
    """What a Python value looks like after a trip through Squirrel and back: floats rounded to
    float32, bytes that are valid UTF-8 as str, tuples as lists, containers converted deeply."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return f32(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    if isinstance(value, (list, tuple)):
        return [expected(v) for v in value]
    if isinstance(value, dict):
        return {expected(k): expected(v) for k, v in value.items()}
    raise TypeError(type(value))


def run_isolated(code: str, timeout: float = 120, memory_gb: float = 4) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports the ``squirrel`` under test, with its
    address space capped (a runaway allocation fails fast instead of exhausting the machine).
    A segfault shows as a negative return code instead of killing the test session."""
    prelude = textwrap.dedent(f"""
        import resource, sys
        _cap = int({memory_gb} * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))
        sys.path.insert(0, {_PACKAGE_PARENT!r})
    """)
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def assert_clean_run(result: subprocess.CompletedProcess, *expected_lines: str) -> None:
    """The child exited normally and printed ``expected_lines`` (each as a whole line, in order)."""
    detail = f"\n--- rc={result.returncode}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}"
    assert result.returncode == 0, "the child did not exit cleanly (crash?)" + detail
    lines = result.stdout.splitlines()
    assert lines == list(expected_lines), detail


def assert_errors_isolated(cases: list[tuple[str, str]], tmp_path: Path) -> None:
    """Run each (source, message) case in both dialects in a child process: each script raises a
    ScriptError with that message (and the child does not crash)."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    result = run_isolated(f"""
        import json, squirrel
        for dialect in ("imp", "standard"):
            with squirrel.VM(dialect) as vm:
                for source, _ in json.load(open({str(path)!r})):
                    try:
                        vm.run(source)
                        print("no error")
                    except squirrel.ScriptError as e:
                        print(e.message)
    """)
    assert_clean_run(result, *[message for _, message in cases] * 2)


def in_other_heap_histories(run, churn) -> list:
    """What ``run(vm)`` returns in VMs whose heaps hold other things first: after ``churn(vm)``
    and Python allocations, and in three live VMs at once, whose objects interleave in the heap.
    A result that follows the script, not the heap, is the same in all four."""
    hold = [bytearray(n * 97 + 13) for n in range(300)]
    del hold[::3]
    results = []
    with squirrel.VM() as vm:
        churn(vm)
        results.append(run(vm))
    vms = [squirrel.VM() for _ in range(3)]
    try:
        for vm in vms:
            churn(vm)
        results += [run(vm) for vm in vms]
    finally:
        for vm in vms:
            vm.close()
    return results


def list_in_a_new_process(script: str) -> list:
    """The array ``script`` returns in a new VM in a new interpreter (as JSON gives it back)."""
    child = run_isolated(f"""
        import json, squirrel
        with squirrel.VM() as vm:
            print(json.dumps(list(vm.run({script!r}))))
    """)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def new_and_restored(pristine: str, between: str, script: str, boots: int = 3) -> list:
    """What ``script`` returns in a new VM set up by ``pristine`` and snapshotted, then in a VM
    set up alike and restored ``boots`` times, each after a run of ``between``. A restored VM
    must give what the new one gives."""
    with squirrel.VM() as new:
        new.run(pristine)
        new.snapshot()
        results = [new.run(script)]
    with squirrel.VM() as reused:
        reused.run(pristine)
        reused.snapshot()
        for _ in range(boots):
            reused.run(between)
            assert reused.restore()
            results.append(reused.run(script))
            assert reused.restore()
    return results
