#!/usr/bin/env python3
"""Build a variant of the extension with extra compiler flags, next to the tree (not in it), to
measure what a flag would change:

    python bench/build_variant.py -fno-semantic-interposition -fvisibility=hidden
    python bench/bench_vm.py --squirrel-from bench/_native/ext-<key>

The variant is the current squirrel/ package with its own _squirrel*.so, in
bench/_native/ext-<key>/squirrel (git-ignored); the tree's own build is untouched."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_variant(extra_flags: list[str]) -> Path:
    sys.path.insert(0, str(ROOT))
    import build

    build.CFLAGS = list(build.CFLAGS) + list(extra_flags)
    key = hashlib.sha256("\0".join(build.CFLAGS).encode()).hexdigest()[:12]
    dest = ROOT / "bench" / "_native" / f"ext-{key}"
    ffi = build.ffibuilder()
    _, _, _, kwds = ffi._assigned_source
    kwds["sources"] = [str((ROOT / p).resolve()) for p in kwds["sources"]]  # cffi compiles in tmpdir
    tmp = dest / "build"
    ffi.compile(tmpdir=str(tmp))
    pkg = dest / "squirrel"
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(ROOT / "squirrel", pkg, ignore=shutil.ignore_patterns("_squirrel*.so", "__pycache__"))
    for so in glob.glob(str(tmp / "squirrel" / "_squirrel*.so")):
        shutil.copy2(so, pkg)
    (dest / "FLAGS").write_text(" ".join(build.CFLAGS) + "\n")
    return dest


if __name__ == "__main__":
    os.chdir(ROOT)
    print(build_variant(sys.argv[1:]))
