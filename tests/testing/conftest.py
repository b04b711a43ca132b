"""Helpers shared by the impUnit-runner tests: a #line mapper and a git repository factory."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

_DIRECTIVE = re.compile(r'^[ \t]*#line[ \t]+(\d+)(?:[ \t]+"([^"]*)")?[ \t]*\r?$')


def map_lines(text: str, filename: str = "<out>") -> list[tuple[str, int, str]]:
    """(file, line, text) for every output line that is not a #line directive, applying the
    directives the way the VM binding does: the line after ``#line N "f"`` is line N of f."""
    result = []
    current, base_out, base_src = filename, 1, 1
    for number, line in enumerate(text.split("\n"), 1):
        m = _DIRECTIVE.match(line)
        if m:
            current = m.group(2) if m.group(2) is not None else current
            base_out, base_src = number + 1, int(m.group(1))
            continue
        result.append((current, base_src + number - base_out, line))
    return result


@pytest.fixture
def linemap() -> Callable[..., list[tuple[str, int, str]]]:
    return map_lines


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(cwd),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    ).stdout


@pytest.fixture
def make_repo() -> Callable[..., Path]:
    """Create a git repository at ``path`` from a list of commits ``[(files, tag_or_None), ...]``."""

    def make(path: Path, commits: list[tuple[dict[str, str], str | None]]) -> Path:
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")
        for files, tag in commits:
            for name, content in files.items():
                f = path / name
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(content)
            git(path, "add", "-A")
            git(path, "commit", "-q", "-m", "c")
            if tag:
                git(path, "tag", tag)
        return path

    return make
