"""Sources and includes: reading the files a build includes, local or from GitHub checkouts.

Local include lookup: an absolute path is used as is; a relative one is tried relative to the
including file's directory, then the input file's directory, then the home directory (the test
home, or the current directory when loading an app to run). Inside a file
that came from github, a relative path is first tried in the same repository at the same ref.

``github:owner/repo/path[@ref]`` is read from a directory of checkouts (``--github-dir`` or the
environment variable ``IMPSIM_GITHUB_DIR``) laid out as ``DIR/owner/repo`` (names matched
case-insensitively if the exact spelling is absent). Without ``@ref`` the working-tree file is
read; with ``@ref`` (tag, branch or commit) ``git -C DIR/owner/repo show ref:./path``. A github
path without ``@ref`` that points into the repository of the including github file inherits that
file's ref, so ``@include __PATH__ + "/src/x.nut"`` in a pinned library stays at the same version.
HTTP includes are refused: nothing is fetched. With a :class:`~.cache.RemoteCache` (Builder's
``.builder-cache``), remote includes are read from the cache when it holds them.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from .. import inputs
from .cache import RemoteCache
from .errors import BuildError

__all__ = ["GITHUB_DIR_ENV", "GithubRef", "Source", "Sources", "display_name", "parse_github", "read_text"]

GITHUB_DIR_ENV = "IMPSIM_GITHUB_DIR"

PathLike = str | os.PathLike

_T = TypeVar("_T")


@dataclass(frozen=True)
class GithubRef:
    """A ``github:owner/repo/path[@ref]`` include."""

    owner: str
    repo: str
    path: str  # inside the repository, '/'-separated, no leading '/'
    ref: str | None

    @property
    def spec(self) -> str:
        return f"github:{self.owner}/{self.repo}/{self.path}" + (f"@{self.ref}" if self.ref else "")


_GITHUB_PREFIX = re.compile(r"^(?:github:|github\.com/)", re.IGNORECASE)


def parse_github(spec: str) -> GithubRef | None:
    """The github reference ``spec`` names, ``None`` if it is not one; ``ValueError`` if malformed."""
    m = _GITHUB_PREFIX.match(spec)
    if m is None:
        return None
    rest = spec[m.end():]
    ref: str | None = None
    at = rest.rfind("@")
    if at >= 0:
        rest, ref = rest[:at], rest[at + 1:] or None
    parts = [p for p in rest.split("/") if p]
    if len(parts) < 3:
        raise ValueError(f'github include "{spec}" must look like "github:owner/repo/path/to/file.nut[@ref]"')
    path = posixpath.normpath("/".join(parts[2:]))
    if path.startswith(".."):
        raise ValueError(f'github include "{spec}" points outside the repository')
    return GithubRef(parts[0], parts[1], path, ref)


@dataclass
class Source:
    """One file of a build, read, with what expressions see of it."""

    key: str  # identity for @include once
    display: str  # name used in #line and errors
    file_var: str  # __FILE__
    path_var: str  # __PATH__
    local_dir: Path | None
    github: GithubRef | None
    text: str


def _posix_abs(p: Path) -> str:
    return Path(os.path.abspath(p)).as_posix()


def display_name(path: Path, root: Path | None) -> str:
    """How ``path`` is named in ``#line`` and errors: relative to ``root`` if inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    if root is not None:
        try:
            return absolute.relative_to(root).as_posix()
        except ValueError:
            pass
    return absolute.as_posix()


def read_text(path: Path, shown: str) -> str:
    """The UTF-8 text of ``path`` without a byte-order mark; errors name it ``shown``. Only a
    regular file of bounded size is read (:mod:`impapi.inputs`): an include of a FIFO or of
    /dev/zero is an error, not a hang."""
    try:
        data = inputs.read_bytes(path, "file")
    except inputs.InputError as e:
        raise BuildError(f"cannot read {shown}: {str(e).split(': ', 1)[-1]}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BuildError(f"{shown} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    return text.removeprefix("\ufeff")


class Sources:
    """Finds and reads the files of one build: the input, local includes and ``github:`` ones.

    ``input_dir`` is the directory of the input file (the second place relative includes are
    looked up), ``home`` the last place; file names are shown relative to ``display_root``.
    ``github_dir`` holds the checkouts; files read from git are cached for the build.
    """

    def __init__(self, *, home: Path, input_dir: Path, display_root: Path, github_dir: Path | None,
                 cache: RemoteCache | None = None) -> None:
        self.home = home
        self.input_dir = input_dir
        self.display_root = display_root
        self.github_dir = github_dir
        self.cache = cache
        self.git_cache: dict[tuple[str, str, str], str | None] = {}

    def local(self, p: Path, *, text: str | None = None) -> Source:
        """The local file ``p`` (absolute) as a source; ``text``: its text, if already read."""
        display = display_name(p, self.display_root)
        return Source(
            key=os.path.normcase(os.path.realpath(p)),
            display=display,
            file_var=p.name,
            path_var=_posix_abs(p.parent),
            local_dir=p.parent,
            github=None,
            text=read_text(p, display) if text is None else text,
        )

    def resolve(self, spec: str, src: Source, line: int) -> Source:
        """The source ``@include spec`` names on ``line`` of ``src``."""
        if re.match(r"^https?://", spec, re.IGNORECASE):
            return self._http_source(spec, src, line)
        try:
            gh = parse_github(spec)
        except ValueError as e:
            raise BuildError(str(e), src.display, line) from None
        if gh is not None:
            parent = src.github
            if (
                gh.ref is None
                and parent is not None
                and parent.ref is not None
                and (gh.owner.lower(), gh.repo.lower()) == (parent.owner.lower(), parent.repo.lower())
            ):
                gh = GithubRef(gh.owner, gh.repo, gh.path, parent.ref)
            return self._github_source(gh, src, line)
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:(?![\\/])", spec) and not os.path.isabs(spec):
            raise BuildError(f'cannot include "{spec}": only local files and github: sources are supported', src.display, line)

        if src.github is not None and not os.path.isabs(spec):
            # Remote-relative include: the same repository at the same ref.
            inner = posixpath.normpath(posixpath.join(posixpath.dirname(src.github.path), spec.replace("\\", "/")))
            if not inner.startswith(".."):
                gh = GithubRef(src.github.owner, src.github.repo, inner, src.github.ref)
                if self._github_text(gh, src, line, must_exist=False) is not None:
                    return self._github_source(gh, src, line)

        tried: list[Path] = []
        if os.path.isabs(spec):
            tried.append(Path(spec))
        else:
            for base in (src.local_dir, self.input_dir, self.home):
                if base is not None:
                    candidate = Path(os.path.normpath(base / spec))
                    if candidate not in tried:
                        tried.append(candidate)
        for candidate in tried:
            if candidate.is_file():
                return _located(functools.partial(self.local, candidate), src, line)
        places = ", ".join(display_name(t, self.display_root) for t in tried)
        raise BuildError(
            f'included file "{spec}" not found (looked for {places}); relative includes are looked up '
            "next to the including file, then next to the input file, then in the home directory "
            "(the test home; the current directory for impsim run and fuzz)",
            src.display,
            line,
        )

    # -- github

    def _checkout(self, gh: GithubRef, src: Source, line: int) -> Path:
        root = self.github_dir
        if root is None:
            raise BuildError(
                f'"{gh.spec}" needs a local checkout of {gh.owner}/{gh.repo}: set the github directory '
                f"(--github-dir DIR or the environment variable {GITHUB_DIR_ENV}) and clone "
                f"https://github.com/{gh.owner}/{gh.repo} into DIR/{gh.owner}/{gh.repo}",
                src.display,
                line,
            )
        exact = root / gh.owner / gh.repo
        if exact.is_dir():
            return exact
        owner_dir = _find_ci(root, gh.owner, dirs=True)
        repo_dir = _find_ci(owner_dir, gh.repo, dirs=True) if owner_dir is not None else None
        if repo_dir is None:
            raise BuildError(
                f'"{gh.spec}": no checkout at {exact.as_posix()}; clone it there with '
                f"git clone https://github.com/{gh.owner}/{gh.repo} {exact.as_posix()} "
                f"(the github directory comes from --github-dir or {GITHUB_DIR_ENV})",
                src.display,
                line,
            )
        return repo_dir

    def _http_source(self, url: str, src: Source, line: int) -> Source:
        cached = self.cache.http_path(url) if self.cache is not None else None
        text = self.cache.read(cached, fresh_only=False) if cached is not None else None
        if text is None:
            where = f" or put a copy at {cached.as_posix()}" if cached is not None else ""
            raise BuildError(
                f'cannot include "{url}": HTTP includes are not fetched offline; '
                f"download the file and @include it by its local path{where}",
                src.display,
                line,
            )
        return Source(key=url, display=url, file_var=posixpath.basename(urlsplit(url).path),
                      path_var=url.rsplit("/", 1)[0], local_dir=None, github=None, text=text)

    def _github_text(self, gh: GithubRef, src: Source, line: int, *, must_exist: bool = True) -> str | None:
        if self.cache is None:
            return self._github_checkout_text(gh, src, line, must_exist=must_exist)
        cached = self.cache.github_path(gh.owner, gh.repo, gh.path, gh.ref)
        text = self.cache.read(cached)
        if text is None:
            text = self._github_checkout_text(gh, src, line, must_exist=must_exist)
            if text is not None:
                self.cache.write(cached, text)
        return text

    def _github_checkout_text(self, gh: GithubRef, src: Source, line: int, *, must_exist: bool = True) -> str | None:
        checkout = self._checkout(gh, src, line)
        if gh.ref is None:
            f = checkout / gh.path
            if f.is_file():
                return _located(lambda: read_text(f, gh.spec), src, line)
            if not must_exist:
                return None
            raise BuildError(
                f'"{gh.spec}": {gh.path} does not exist in the checkout {checkout.as_posix()} '
                "(without @ref the working tree is read)",
                src.display,
                line,
            )
        cache_key = (str(checkout), gh.ref, gh.path)
        if cache_key not in self.git_cache:
            self.git_cache[cache_key] = self._git_show(checkout, gh, src, line)
        text = self.git_cache[cache_key]
        if text is None and must_exist:
            raise BuildError(
                f'"{gh.spec}": {gh.path} does not exist at {gh.ref} in {checkout.as_posix()}',
                src.display,
                line,
            )
        return text

    def _git_show(self, checkout: Path, gh: GithubRef, src: Source, line: int) -> str | None:
        def git(*args: str) -> subprocess.CompletedProcess[bytes]:
            try:
                return subprocess.run(
                    ["git", "-C", str(checkout), *args], capture_output=True, timeout=60, check=False
                )
            except FileNotFoundError:
                raise BuildError(
                    f'"{gh.spec}" names a ref, which is read with git, and git is not installed; install git '
                    f"or check out {gh.ref} in {checkout.as_posix()} and include without @{gh.ref}",
                    src.display,
                    line,
                ) from None

        probe = git("rev-parse", "--verify", "--quiet", f"{gh.ref}^{{commit}}")
        if probe.returncode != 0:
            inside = git("rev-parse", "--git-dir")
            if inside.returncode != 0:
                raise BuildError(
                    f'"{gh.spec}": {checkout.as_posix()} is not a git checkout, so @{gh.ref} cannot be read; '
                    f"clone https://github.com/{gh.owner}/{gh.repo} there",
                    src.display,
                    line,
                )
            raise BuildError(
                f'"{gh.spec}": ref {gh.ref} is not in {checkout.as_posix()}; fetch it with '
                f"git -C {checkout.as_posix()} fetch --tags origin",
                src.display,
                line,
            )
        shown = git("show", f"{gh.ref}:./{gh.path}")
        if shown.returncode != 0:
            return None
        try:
            text = shown.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BuildError(f'"{gh.spec}" is not UTF-8 text (byte {e.start})', src.display, line) from None
        return text.removeprefix("\ufeff")

    def _github_source(self, gh: GithubRef, src: Source, line: int) -> Source:
        text = self._github_text(gh, src, line)
        assert text is not None
        directory = posixpath.dirname(gh.path)
        return Source(
            key=f"github:{gh.owner.lower()}/{gh.repo.lower()}/{gh.path}@{gh.ref or ''}",
            display=gh.spec,
            file_var=posixpath.basename(gh.path),
            path_var=f"github:{gh.owner}/{gh.repo}" + (f"/{directory}" if directory else ""),
            local_dir=None,
            github=gh,
            text=text,
        )


def _located(fn: Callable[[], _T], src: Source, line: int) -> _T:
    try:
        return fn()
    except BuildError as e:
        if e.file is None:
            raise BuildError(e.message, src.display, line) from None
        raise


def _find_ci(directory: Path | None, name: str, *, dirs: bool) -> Path | None:
    """``directory/name`` matched case-insensitively (exact spelling preferred)."""
    if directory is None or not directory.is_dir():
        return None
    exact = directory / name
    if (exact.is_dir() if dirs else exact.is_file()):
        return exact
    lowered = name.lower()
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return None
    for entry in entries:
        if entry.lower() == lowered:
            candidate = directory / entry
            if candidate.is_dir() if dirs else candidate.is_file():
                return candidate
    return None

