"""Build ``squirrel._squirrel``: obtain, verify and patch Squirrel 3.1, then compile it with cffi.

``pip install .`` runs this through cffi's setuptools integration (``build.py:ffibuilder``);
``python build.py`` builds the extension in place for development.

The upstream sources are never committed. They are obtained as the Debian source package
``squirrel3`` through apt's own source mechanism, under a private apt configuration whose archive
URI is read from this machine's apt sources, so no archive host is named here. Set
``SQUIRREL3_SOURCE`` to a tarball, to a directory holding the tarball (and optionally Debian's
``*.debian.tar.xz``), or to an unpacked tree to build without apt.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENDOR = ROOT / "vendor" / "squirrel3"
DOWNLOADS = VENDOR / "downloads"
SRC = VENDOR / "src"
PATCHES = VENDOR / "patches"
CSRC = ROOT / "squirrel" / "csrc"

PACKAGE = "squirrel3"
ORIG_TARBALL = "squirrel3_3.1.orig.tar.gz"
ORIG_SHA256 = "51942b8638a97b673e34ecf3ca50304996fa99bbdbfa7fe93d9744e6769b2f95"
TREE = "squirrel-3.1"
# The suite that carries squirrel3 with both security fixes; override for other archives.
SUITE = os.environ.get("SQUIRREL3_SUITE", "trixie")
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

VM_SOURCES = [
    "squirrel/" + n
    for n in ("sqapi", "sqbaselib", "sqclass", "sqcompiler", "sqdebug", "sqfuncstate",
              "sqlexer", "sqobject", "sqstate", "sqtable", "sqvm")
]
# No io and no system library: a script must not reach the host's files or shell.
STDLIB_SOURCES = [
    "sqstdlib/" + n
    for n in ("sqstdaux", "sqstdblob", "sqstdmath", "sqstdrex", "sqstdstream", "sqstdstring")
]
# -funsigned-char: the imp is ARM, where "\xC0"[0] == 192. _SQ64: 64-bit storage on x86-64
# (the imp dialect narrows arithmetic to 32 bits per VM; turning _SQ64 off here crashes).
# -fno-semantic-interposition: Python's -fPIC build otherwise stops GCC inlining calls inside the
# VM (measured: matrix 1.07x native without it, 1.03x with it; bench/README.md).
CFLAGS = ["-O2", "-fno-semantic-interposition", "-funsigned-char", "-fno-strict-aliasing", "-fno-exceptions", "-fno-rtti",
          "-D_SQ64", "-DNDEBUG", "-Wno-unused-parameter", "-Wno-misleading-indentation",
          "-Wno-class-memaccess", "-Wno-unused-variable", "-Wno-implicit-fallthrough"]


class BuildError(SystemExit):
    """A build failure with a message that says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\nbuild.py: {message}\n")


def log(message: str) -> None:
    print(f"build.py: {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


# --- where apt finds Debian ---------------------------------------------------------------

def _apt_source_files() -> list[Path]:
    etc = Path("/etc/apt")
    files = [etc / "sources.list"] if (etc / "sources.list").exists() else []
    parts = etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return files


def _entries(path: Path):
    """Yield (uris, suites, signed_by) for every binary or source entry of an apt sources file."""
    text = path.read_text(errors="replace")
    if path.suffix == ".sources":
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no" or "uris" not in fields:
                continue
            yield fields["uris"].split(), fields.get("suites", "").split(), fields.get("signed-by")
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"deb(?:-src)?\s+(?:\[(?P<opts>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)", line)
            if m:
                opts = dict(o.split("=", 1) for o in (m["opts"] or "").split() if "=" in o)
                yield [m["uri"]], [m["suite"]], opts.get("signed-by")


def debian_archive() -> tuple[str, str]:
    """The machine's configured Debian archive: (URI, keyring)."""
    for path in _apt_source_files():
        for uris, suites, signed_by in _entries(path):
            if any(s.endswith(("-security", "/updates")) for s in suites):
                continue
            for uri in uris:
                if uri.rstrip("/").endswith("/debian"):
                    keyring = signed_by if signed_by and not signed_by.startswith("-") else DEFAULT_KEYRING
                    return uri, keyring
    raise BuildError(
        "no Debian archive found in /etc/apt/sources.list(.d). Either configure one, or download "
        f"{ORIG_TARBALL} (SHA-256 {ORIG_SHA256}) yourself and set SQUIRREL3_SOURCE to its path."
    )


def apt_fetch(dest: Path) -> None:
    """Download the orig tarball and Debian's diff with ``apt-get source`` under a private config."""
    if not shutil.which("apt-get"):
        raise BuildError(
            "apt-get is not available, so the Squirrel sources cannot be fetched. Download "
            f"{ORIG_TARBALL} (SHA-256 {ORIG_SHA256}) and set SQUIRREL3_SOURCE to it."
        )
    uri, keyring = debian_archive()
    with tempfile.TemporaryDirectory(prefix="impsim-apt-") as tmp:
        t = Path(tmp)
        for d in ("state/lists/partial", "cache/archives/partial", "sources", "prefs", "conf"):
            (t / d).mkdir(parents=True)
        (t / "status").touch()
        (t / "sources" / "squirrel3.sources").write_text(
            f"Types: deb-src\nURIs: {uri}\nSuites: {SUITE}\nComponents: main\nSigned-By: {keyring}\n"
        )
        (t / "apt.conf").write_text(
            f'Dir::State "{t}/state";\nDir::State::status "{t}/status";\nDir::Cache "{t}/cache";\n'
            f'Dir::Etc::sourcelist "/dev/null";\nDir::Etc::sourceparts "{t}/sources";\n'
            f'Dir::Etc::preferencesparts "{t}/prefs";\nDir::Etc::parts "{t}/conf";\n'
            'APT::Sandbox::User "root";\n'
        )
        env = dict(os.environ, APT_CONFIG=str(t / "apt.conf"), LC_ALL="C")

        def run(*args: str, cwd: Path | None = None) -> None:
            r = subprocess.run(["apt-get", "-q", *args], cwd=cwd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise BuildError(
                    f"`apt-get {' '.join(args)}` failed ({r.returncode}) against the {SUITE} sources of "
                    f"the configured Debian archive:\n{r.stderr.strip()}\nCheck the network, set "
                    f"SQUIRREL3_SUITE to another suite that carries {PACKAGE}, or set SQUIRREL3_SOURCE "
                    f"to a downloaded {ORIG_TARBALL}."
                )

        log(f"fetching {PACKAGE} ({SUITE}) with apt-get source")
        run("update")
        dest.mkdir(parents=True, exist_ok=True)
        run("source", "--download-only", "--tar-only", PACKAGE, cwd=dest)
        run("source", "--download-only", "--diff-only", PACKAGE, cwd=dest)


def find_archives(where: Path) -> tuple[Path | None, Path | None]:
    orig = where / ORIG_TARBALL
    diffs = sorted(where.glob(f"{PACKAGE}_3.1-*.debian.tar.*"))
    return (orig if orig.exists() else None), (diffs[-1] if diffs else None)


def verify(orig: Path) -> None:
    digest = sha256(orig)
    if digest != ORIG_SHA256:
        raise BuildError(
            f"{orig} has SHA-256 {digest}, expected {ORIG_SHA256}: the download is corrupt or "
            f"tampered with. Delete it and build again, or provide the genuine Squirrel 3.1 "
            f"release tarball through SQUIRREL3_SOURCE."
        )


# --- unpack and patch -----------------------------------------------------------------------

def our_patches() -> list[Path]:
    return sorted(PATCHES.glob("*.patch"))


def _apply(patch: Path, tree: Path, what: str) -> None:
    if not shutil.which("patch"):
        raise BuildError("the `patch` program is needed (Debian: apt-get install patch).")
    r = subprocess.run(["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-i", str(patch)],
                       cwd=tree, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{what} {patch.name} does not apply:\n{r.stdout}{r.stderr}")


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
    else:  # pragma: no cover - Python without PEP 706
        for m in tar.getmembers():
            if m.name.startswith(("/", "..")) or ".." in Path(m.name).parts:
                raise BuildError(f"refusing unsafe path {m.name!r} in {tar.name}")
        tar.extractall(dest)


def _stamp(parts: list[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
    return h.hexdigest()


def prepare_sources() -> Path:
    """Return the patched Squirrel tree, building it if it is missing or stale."""
    override = os.environ.get("SQUIRREL3_SOURCE")
    plain_tree: Path | None = None
    if override:
        o = Path(override).expanduser().resolve()
        if o.is_file():
            orig, diff = o, None
        elif (o / "squirrel" / "sqvm.cpp").exists() or (o / TREE / "squirrel" / "sqvm.cpp").exists():
            plain_tree = o if (o / "squirrel").is_dir() else o / TREE
            orig = diff = None
        elif o.is_dir():
            orig, diff = find_archives(o)
            if orig is None:
                raise BuildError(f"SQUIRREL3_SOURCE={override}: no {ORIG_TARBALL} and no unpacked tree there.")
        else:
            raise BuildError(f"SQUIRREL3_SOURCE={override} does not exist.")
    else:
        orig, diff = find_archives(DOWNLOADS)
        if orig is None or diff is None or sha256(orig) != ORIG_SHA256:
            for stale in DOWNLOADS.glob(f"{PACKAGE}_*"):
                stale.unlink()
            apt_fetch(DOWNLOADS)
            orig, diff = find_archives(DOWNLOADS)
            if orig is None:
                raise BuildError(f"apt-get source did not produce {ORIG_TARBALL}.")
    if orig is not None:
        verify(orig)

    patches = our_patches()
    stamp = _stamp([ORIG_SHA256 if orig else f"tree:{plain_tree}", sha256(diff) if diff else "no-diff"]
                   + [p.name + sha256(p) for p in patches])
    tree = SRC / TREE
    stamp_file = SRC / ".stamp"
    if tree.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return tree

    log(f"unpacking into {tree.relative_to(ROOT)}")
    shutil.rmtree(SRC, ignore_errors=True)
    SRC.mkdir(parents=True)
    if plain_tree is not None:
        shutil.copytree(plain_tree, tree)
    else:
        with tarfile.open(orig) as t:
            _safe_extract(t, SRC)
    if diff is not None:
        with tarfile.open(diff) as t:
            _safe_extract(t, SRC / "debian-diff")
        series_dir = SRC / "debian-diff" / "debian" / "patches"
        series = (series_dir / "series").read_text().split() if (series_dir / "series").exists() else []
        for name in series:
            _apply(series_dir / name, tree, "Debian patch")
        log(f"applied Debian patches: {', '.join(series) or 'none'}")
    for p in patches:
        _apply(p, tree, "patch")
    log(f"applied our patches: {', '.join(p.name for p in patches) or 'none'}")
    stamp_file.write_text(stamp)
    return tree


def source_files(tree: Path) -> list[Path]:
    return [tree / f"{n}.cpp" for n in VM_SOURCES + STDLIB_SOURCES]


# --- the cffi extension ---------------------------------------------------------------------

def read_declarations() -> str:
    """The cdef: the declarations of our C helper's header (pygit2's habit) and the callbacks."""
    header = (CSRC / "sqpy.h").read_text()
    decls = header.split("/* cdef-begin", 1)[1].split("*/", 1)[1].split("/* cdef-end */", 1)[0]
    return decls + (CSRC / "callbacks.h").read_text()


def ffibuilder(absolute_paths: bool = False):
    from cffi import FFI

    tree = prepare_sources()
    ffi = FFI()
    ffi.cdef(read_declarations())
    # setuptools refuses absolute source paths (and runs from the project root); ffi.compile()
    # compiles from inside its temporary directory and needs them absolute.
    os.chdir(ROOT)
    if not absolute_paths:  # pip is building: an in-place build of ours would shadow pip's
        for stale in (ROOT / "squirrel").glob("_squirrel.cpython-*.so"):
            stale.unlink()
    sources = [p if absolute_paths else Path(os.path.relpath(p, ROOT))
               for p in source_files(tree) + [CSRC / "sqpy.cpp", CSRC / "sqpy_snap.cpp", CSRC / "sqpy_code.cpp",
                                                   CSRC / "sqpy_cov.cpp"]]
    sources = [str(p) for p in sources]
    ffi.set_source(
        "squirrel._squirrel",
        '#include "sqpy.h"\n#include "sqpy_cffi.h"\n',  # after cffi's own definitions: see there
        source_extension=".cpp",
        sources=sources,
        include_dirs=[str(tree / "include"), str(tree / "squirrel"), str(tree / "sqstdlib"), str(CSRC)],
        extra_compile_args=CFLAGS,
        language="c++",
    )
    return ffi


if __name__ == "__main__":
    os.chdir(ROOT)
    ffibuilder(absolute_paths=True).compile(tmpdir=str(ROOT / "build" / "cffi"), verbose="-v" in sys.argv)
    built = sorted((ROOT / "build" / "cffi").glob("squirrel/_squirrel*.so"))
    for so in built:
        # Replace rather than overwrite: a running process has the old file mapped.
        dest = ROOT / "squirrel" / so.name
        shutil.copy2(so, dest.with_suffix(".tmp"))
        os.replace(dest.with_suffix(".tmp"), dest)
        log(f"built squirrel/{so.name}")
    # An extension left by another kind of build (pip's is .abi3.so, this one names the
    # interpreter) would shadow this one or be shadowed by it: Python imports whichever suffix it
    # tries first, however old.
    for stale in (ROOT / "squirrel").glob("_squirrel*.so"):
        if stale.name not in {so.name for so in built}:
            stale.unlink()
            log(f"removed squirrel/{stale.name} (an older build)")
