"""Build the native ``sq`` interpreter from the same patched Squirrel sources and flags as the
extension: the reference that the sample-program tests and ``bench_vm.py`` compare against.

The binary is cached under ``bench/_native/<key>/sq`` (git-ignored), keyed by the compiler, the
flags and the contents of every source file, so a changed patch or flag rebuilds it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "_native"


def _build_module():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import build  # the project's cffi builder: its CFLAGS, sources and tree

    return build


def native_sources(tree: Path) -> list[Path]:
    build = _build_module()
    return build.source_files(tree) + [
        tree / "squirrel" / "sqmem.cpp",  # the extension supplies its own allocator hooks instead
        tree / "sqstdlib" / "sqstdio.cpp",
        tree / "sqstdlib" / "sqstdsystem.cpp",
        tree / "sq" / "sq.c",
    ]


def _key(cxx: str, flags: list[str], sources: list[Path], tree: Path) -> str:
    h = hashlib.sha256()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    h.update(version.encode())
    h.update("\0".join(flags).encode())
    for p in sources + sorted((tree / "include").glob("*.h")) + sorted((tree / "squirrel").glob("*.h")) \
            + sorted((tree / "sqstdlib").glob("*.h")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def build_native_sq(extra_flags: list[str] = (), cxx: str | None = None) -> Path:
    """Path of a native ``sq`` built from the patched tree with ``build.CFLAGS`` (+ ``extra_flags``)."""
    build = _build_module()
    tree = build.prepare_sources()
    cxx = cxx or os.environ.get("CXX", "g++")
    flags = list(build.CFLAGS) + list(extra_flags)
    sources = native_sources(tree)
    out = CACHE / _key(cxx, flags, sources, tree) / "sq"
    if out.exists():
        return out
    includes = [f"-I{tree / d}" for d in ("include", "squirrel", "sqstdlib")]
    with tempfile.TemporaryDirectory(prefix="impsim-sq-") as tmp:
        t = Path(tmp)

        def compile_one(src: Path) -> Path:
            obj = t / (src.parent.name + "_" + src.stem + ".o")
            lang = ["-x", "c++"] if src.suffix == ".c" else []
            r = subprocess.run([cxx, *flags, *includes, *lang, "-c", str(src), "-o", str(obj)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"compiling {src} failed:\n{r.stderr}")
            return obj

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            objs = list(pool.map(compile_one, sources))
        exe = t / "sq"
        r = subprocess.run([cxx, *flags, *map(str, objs), "-o", str(exe), "-lm"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"linking sq failed:\n{r.stderr}")
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.parent / f"sq.{os.getpid()}"
        shutil.copy2(exe, staged)
        os.replace(staged, out)  # atomic: concurrent builders never see half a binary
    return out


if __name__ == "__main__":
    print(build_native_sq(sys.argv[1:]))
