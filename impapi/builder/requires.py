"""The ``#require`` registry: impCloud-style library resolution, offline.

``#require "Name.lib.nut:1.2.3"`` is not Builder's business: impCloud resolves it after Builder,
and :func:`resolve_requires` does the same from library directories (``--lib-dir``, then
``IMPSIM_LIB_PATH``; see :func:`library_dirs`), with the layouts described in :func:`find_library`:
``DIR/Name.lib.nut:1.2.3`` (or ``@1.2.3``), ``DIR/Name/1.2.3/Name.lib.nut``, ``DIR/Name.lib.nut`` or
``DIR/Name/Name.lib.nut``, then the built-in libraries the caller supplies (usually
:data:`BUILTIN_LIBRARIES`: impsim's own Promise 3.x/4.x and JSONEncoder, in ``libraries/``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .errors import MAX_DEPTH, BuildError
from .lines import LINE_DIRECTIVE, NORMAL, SquirrelLexer, quote_name
from .sources import PathLike, display_name, read_text

__all__ = [
    "BUILTIN_LIBRARIES", "BUILTIN_MAJOR_VERSIONS", "LIBRARIES_DIR", "LIB_PATH_ENV", "find_library", "library_dirs",
    "resolve_requires",
]

LIB_PATH_ENV = "IMPSIM_LIB_PATH"

_REQUIRE = re.compile(r'^[ \t]*#require[ \t]+"([^"]*)"[ \t]*(?://.*)?\r?$')
_REQUIRE_START = re.compile(r"^[ \t]*#require\b")
_LIB_SUFFIXES = (".device.lib.nut", ".agent.lib.nut", ".lib.nut", ".class.nut", ".nut")

#: impsim's own libraries, written for impsim and API-compatible with the Electric Imp libraries
#: they are named after: ``#require`` falls back to them when no library directory has the name.
LIBRARIES_DIR = Path(__file__).resolve().parent / "libraries"
BUILTIN_LIBRARIES: dict[str, Path] = {
    "Promise.lib.nut": LIBRARIES_DIR / "Promise.nut",
    "JSONEncoder.class.nut": LIBRARIES_DIR / "JSONEncoder.nut",
}

#: Built-in libraries that stand in only for the API generations they implement: the
#: built-in Promise follows the 3.x/4.x API (1.x/2.x differ).
BUILTIN_MAJOR_VERSIONS: dict[str, tuple[int, ...]] = {"promise": (3, 4)}


def _lib_base(name: str) -> str:
    lowered = name.lower()
    for suffix in _LIB_SUFFIXES:
        if lowered.endswith(suffix):
            return lowered[: -len(suffix)]
    return lowered


def _split_require(spec: str) -> tuple[str, str | None]:
    name, sep, version = spec.strip().rpartition(":")
    if not sep:
        return spec.strip(), None
    return name.strip(), version.strip().lstrip("vV") or None


def library_dirs(cli_dirs: Iterable[PathLike] = (), env: Mapping[str, str] | None = None) -> list[Path]:
    """Library directories: those given on the command line, then ``IMPSIM_LIB_PATH``
    (``os.pathsep``-separated)."""
    env = os.environ if env is None else env
    dirs = [Path(d) for d in cli_dirs]
    for part in env.get(LIB_PATH_ENV, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()))
    return dirs


class _DirIndex:
    """Case-insensitive directory listings, read once per resolution."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, str]] = {}

    def entries(self, directory: Path) -> dict[str, str]:
        listing = self._cache.get(directory)
        if listing is None:
            listing = {}
            try:
                for entry in sorted(os.listdir(directory), reverse=True):
                    listing[entry.lower()] = entry  # sorted reverse so the first spelling wins
            except OSError:
                pass
            self._cache[directory] = listing
        return listing

    def find(self, directory: Path, name: str, *, dirs: bool = False) -> Path | None:
        entry = self.entries(directory).get(name.lower())
        if entry is None:
            return None
        p = directory / entry
        return p if (p.is_dir() if dirs else p.is_file()) else None


def find_library(
    spec: str,
    lib_dirs: Sequence[PathLike],
    builtins: Mapping[str, PathLike] | None = None,
) -> Path | None:
    """The file that provides ``#require "spec"`` (``Name.lib.nut:1.2.3``), or ``None``.

    Library directory layouts, names matched case-insensitively, ``.lib.nut`` and ``.class.nut``
    interchangeable (``promise.class.nut`` finds ``Promise.lib.nut``):

    1. exact version: ``DIR/Name.lib.nut:1.2.3`` or ``DIR/Name.lib.nut@1.2.3`` (for file systems
       without ``:``), or ``DIR/Name/1.2.3/Name.lib.nut`` (also ``.../v1.2.3/...``);
    2. any version: ``DIR/Name.lib.nut``, or a checkout of the library's repository
       ``DIR/Name/Name.lib.nut``.

    Exact versions in any directory win over unversioned files; directories are searched in
    order. Then ``builtins`` (keys are library names in any of the spellings above, e.g.
    ``"Promise"`` or ``"JSONEncoder.class.nut"``), which serve any version except that the
    built-in Promise only serves 3.x and 4.x.
    """
    return _find_library(spec, lib_dirs, builtins, _DirIndex())


def _find_library(
    spec: str, lib_dirs: Sequence[PathLike], builtins: Mapping[str, PathLike] | None, index: _DirIndex
) -> Path | None:
    name, version = _split_require(spec)
    base = _lib_base(name)
    stem = name[: len(base)]  # the base name in the spelling the #require used
    candidates = [name] + [stem + s for s in (".lib.nut", ".class.nut") if (stem + s).lower() != name.lower()]
    dirs = [Path(os.path.abspath(d)) for d in lib_dirs]

    if version is not None:
        for d in dirs:
            for cand in candidates:
                for sep in (":", "@"):
                    hit = index.find(d, f"{cand}{sep}{version}")
                    if hit is not None:
                        return hit
            lib_dir = index.find(d, stem, dirs=True)
            if lib_dir is not None:
                for vdir_name in (version, "v" + version):
                    vdir = index.find(lib_dir, vdir_name, dirs=True)
                    if vdir is not None:
                        for cand in candidates:
                            hit = index.find(vdir, cand)
                            if hit is not None:
                                return hit
    for d in dirs:
        for cand in candidates:
            hit = index.find(d, cand)
            if hit is not None:
                return hit
        lib_dir = index.find(d, stem, dirs=True)
        if lib_dir is not None:
            for cand in candidates:
                hit = index.find(lib_dir, cand)
                if hit is not None:
                    return hit

    for key, path in (builtins or {}).items():
        if _lib_base(key) != base:
            continue
        majors = BUILTIN_MAJOR_VERSIONS.get(base)
        if version is not None and majors is not None:
            major = version.split(".", 1)[0]
            if not (major.isdigit() and int(major) in majors):
                continue
        return Path(path)
    return None


def _missing_library(spec: str, dirs: Sequence[Path], builtins: Mapping[str, PathLike]) -> str:
    name, version = _split_require(spec)
    stem = name[: len(_lib_base(name))]
    looked = ", ".join(p.as_posix() for p in dirs) if dirs else "no library directories are set"
    layouts = f"{name} (any version)"
    if version:
        layouts += f", {name}:{version}, or {stem}/{version}/{name}"
    hint = ""
    base = _lib_base(name)
    majors = BUILTIN_MAJOR_VERSIONS.get(base)
    if majors and version and any(_lib_base(k) == base for k in builtins):
        hint = f" (the built-in {stem} implements versions {'/'.join(f'{m}.x' for m in majors)} only)"
    sep = "';'" if os.pathsep == ";" else "':'"
    return (
        f'#require "{spec}": library not found{hint} (looked in: {looked}). Provide it: put {layouts} '
        f"in a directory given with --lib-dir DIR, or list directories in the environment variable "
        f"{LIB_PATH_ENV} (separated by {sep})"
    )


def resolve_requires(
    text: str,
    lib_dirs: Sequence[PathLike],
    builtins: Mapping[str, PathLike] | None = None,
    *,
    filename: str = "main",
    display_root: PathLike | None = None,
    line_control: bool = True,
    included: list[str] | None = None,
) -> str:
    """Replace every ``#require "Name.lib.nut:1.2.3"`` line with the library's source, as impCloud does.

    Libraries are found with :func:`find_library`. Each is pasted once (a repeated ``#require``
    of the same file becomes a comment line) and its own ``#require`` lines are resolved too.
    With ``line_control`` the pasted text is preceded by ``#line 1 "<library file>"`` and followed
    by a ``#line`` that restores the mapping of the following line, taking existing ``#line``
    directives in ``text`` into account; ``filename`` is the name of lines before any directive.
    Library file names are shown relative to ``display_root`` when inside it.

    ``#require`` lines inside block comments and verbatim strings are left alone. A library that
    cannot be found raises :class:`BuildError` located at the ``#require`` line. ``included``, if
    given, receives the name of every library pasted, in order.
    """
    root = Path(os.path.abspath(display_root)) if display_root is not None else None
    dirs = [Path(os.path.abspath(d)) for d in lib_dirs]
    seen: dict[str, str] = {}
    out = _resolve_requires(text, dirs, dict(builtins or {}), filename, root, line_control, seen, _DirIndex(), 0)
    if included is not None:
        included.extend(seen.values())
    return out


def _resolve_requires(
    text: str,
    dirs: list[Path],
    builtins: dict[str, PathLike],
    filename: str,
    root: Path | None,
    line_control: bool,
    seen: dict[str, str],
    index: _DirIndex,
    depth: int,
) -> str:
    if "#require" not in text:
        return text
    lines = text.split("\n")
    out: list[str] = []
    lexer = SquirrelLexer()
    # The line map in force: text line `base_out` is line `base_src` of `cur_file`.
    cur_file, base_out, base_src = filename, 1, 1
    for number, raw in enumerate(lines, 1):
        state = lexer.state
        lexer.feed(raw + "\n")
        if state != NORMAL:
            out.append(raw)
            continue
        m_line = LINE_DIRECTIVE.match(raw)
        if m_line is not None:
            cur_file = m_line.group(2) if m_line.group(2) is not None else cur_file
            base_out, base_src = number + 1, int(m_line.group(1))
            out.append(raw)
            continue
        if not _REQUIRE_START.match(raw):
            out.append(raw)
            continue
        here = (cur_file, base_src + number - base_out)
        m = _REQUIRE.match(raw)
        if m is None:
            raise BuildError('malformed #require; write #require "Name.lib.nut:1.2.3"', *here)
        spec = m.group(1)
        path = _find_library(spec, dirs, builtins, index)
        if path is None:
            raise BuildError(_missing_library(spec, dirs, builtins), *here)
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            # Same line count, so the mapping of the following lines is unchanged.
            out.append(f"// {raw.strip()}: already included from {seen[key]}")
            continue
        display = display_name(path, root)
        seen[key] = display
        if depth >= MAX_DEPTH:
            raise BuildError(f"#require nesting deeper than {MAX_DEPTH}", *here)
        lib_text = _located_plain(functools.partial(read_text, path, display), *here)
        lib_text = _resolve_requires(lib_text, dirs, builtins, display, root, line_control, seen, index, depth + 1)
        if lib_text and not lib_text.endswith("\n"):
            lib_text += "\n"
        block = []
        if line_control:
            block.append(f'#line 1 "{quote_name(display)}"\n')
        block.append(lib_text)
        if line_control:
            block.append(f'#line {here[1] + 1} "{quote_name(cur_file)}"')
        else:
            block.append(f"// end of {display}")
        out.append("".join(block))
        if line_control:
            # The directive just written now governs the following lines.
            base_out, base_src = number + 1, here[1] + 1
    return "\n".join(out)


def _located_plain(fn: Callable[[], str], file: str, line: int) -> str:
    try:
        return fn()
    except BuildError as e:
        raise BuildError(e.message, file, line) from None
