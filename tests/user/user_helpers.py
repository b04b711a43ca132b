"""Running impsim the way a user does: the installed `impsim` command in a working directory,
with real files, its output read from pipes or from a terminal (a pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
IMPSIM = str(Path(sys.executable).with_name("impsim"))


@dataclass
class Result:
    code: int
    out: str
    err: str


def impsim(*args: object, cwd: Path, env: dict | None = None, timeout: float = 300) -> Result:
    """``impsim ARGS`` with stdout and stderr read through pipes."""
    r = subprocess.run([IMPSIM, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=_env(env), stdin=subprocess.DEVNULL)
    return Result(r.returncode, r.stdout, r.stderr)


def impsim_on_a_terminal(*args: object, cwd: Path, env: dict | None = None, timeout: float = 300) -> Result:
    """``impsim ARGS`` with stdout and stderr both on one terminal, as in an interactive shell:
    ``out`` is everything the terminal received, ``err`` is empty."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([IMPSIM, *map(str, args)], cwd=cwd, env=_env(env), stdin=subprocess.DEVNULL,
                                stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the program has exited
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=timeout)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return Result(code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), "")


def _env(extra: dict | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "IMPSIM_LIB_PATH", "IMPSIM_GITHUB_DIR")}
    env.update(extra or {})
    return env
