"""The upstream Squirrel 3.1 sample programs give, through the binding, exactly the output of a
native `sq` interpreter built from the same patched sources with the same flags."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import squirrel

ROOT = Path(__file__).resolve().parent.parent

# Arguments for the samples that read vargv: small enough to stay quick, big enough to do work.
ARGS = {"ackermann": ["5"], "array": ["100"], "fibonacci": ["20"], "list": ["10"], "matrix": ["10"],
        "methcall": ["1000"]}
# The one line that is not deterministic: methcall prints its own run time.
TIMING = re.compile(rb"^TIME=[0-9.e+-]+$", re.M)


@pytest.fixture(scope="session")
def native_sq() -> Path:
    if not shutil.which("g++"):
        pytest.skip("g++ is needed to build the native sq interpreter")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from native_sq import build_native_sq

        return build_native_sq()
    except (Exception, SystemExit) as e:  # build.py reports a missing source tree with SystemExit
        pytest.skip(f"cannot build the native sq interpreter: {e}")
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="session")
def samples_dir(native_sq) -> Path:
    import build

    return build.prepare_sources() / "samples"


SAMPLES = ["ackermann", "array", "class", "classattributes", "coroutines", "delegation", "fibonacci",
           "flow", "generators", "hello", "list", "loops", "matrix", "metamethods", "methcall", "regex",
           "tailstate"]


def test_all_samples_are_covered(samples_dir):
    assert sorted(p.stem for p in samples_dir.glob("*.nut")) == SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_output_matches_native_sq(name, native_sq, samples_dir):
    path = samples_dir / f"{name}.nut"
    args = ARGS.get(name, [])
    native = subprocess.run([str(native_sq), path.name, *args], cwd=samples_dir, capture_output=True, timeout=120)
    assert native.returncode == 0 and native.stderr == b"", native.stderr

    out, err = [], []
    with squirrel.VM("standard", print=out.append, error=err.append) as vm:
        vm.root["clock"] = time.process_time  # sq's system library, which the binding leaves out
        vm.compile(path.read_bytes(), path.name)(*args)
    ours = "".join(out).encode("utf-8")
    assert err == []
    assert ours, "the sample printed nothing"
    assert TIMING.sub(b"TIME=<t>", ours) == TIMING.sub(b"TIME=<t>", native.stdout)
