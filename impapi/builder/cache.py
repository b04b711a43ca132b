"""Builder's cache of remote includes (``.builder-cache``), as ``impt test`` uses it with
``builderCache: true``.

A file included from GitHub is stored under ``<cache>/github/<owner>/<repo>[/<ref>]/<path>`` the
first time it is read, and later builds read that copy instead of the checkout while it is less
than 24 hours old (Builder's lifetime for a cached file); an older copy is read again from the
checkout and replaced. A file included over HTTP is stored by Builder under
``<cache>/http/<host, parts reversed, without www>/<path>``; impsim fetches nothing, so such a copy
is used whatever its age, and without one the include is an error as before.

The age is the file's modification time against the wall clock: the cache belongs to the tool
that builds the code, not to the simulation.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["CACHE_DIR_NAME", "CACHE_LIFETIME_S", "RemoteCache"]

CACHE_DIR_NAME = ".builder-cache"
CACHE_LIFETIME_S = 24 * 3600


class RemoteCache:
    def __init__(self, directory: str | os.PathLike, now: Callable[[], float] = time.time) -> None:
        self.directory = Path(os.path.abspath(directory))
        self._now = now

    def github_path(self, owner: str, repo: str, path: str, ref: str | None) -> Path:
        parts = ["github", owner, repo] + ([ref] if ref else []) + path.split("/")
        return self.directory.joinpath(*parts)

    def http_path(self, url: str) -> Path:
        split = urlsplit(url)
        host = [p for p in (split.hostname or "").split(".") if p and p != "www"]
        path = [p for p in posixpath.normpath(split.path or "/").split("/") if p and p != ".."]
        return self.directory.joinpath("http", *reversed(host), *path)

    def read(self, path: Path, *, fresh_only: bool = True) -> str | None:
        """The cached text at ``path``; None when absent, unreadable or (``fresh_only``) too old."""
        try:
            if fresh_only and self._now() - path.stat().st_mtime >= CACHE_LIFETIME_S:
                return None
            return path.read_bytes().decode("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError):
            return None

    def write(self, path: Path, text: str) -> None:
        """Store ``text`` (a build goes on without its cache if the disk refuses)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass
