"""Files the user names: read with bounds, written only where they can be.

A path on the command line or in a scenario can be anything: a FIFO (opening it waits for a
writer that never comes), a device (``/dev/zero`` never ends), a directory, a file of gigabytes.
impsim reads only regular files, and no more than a limit; it writes a file only into a
directory that exists (it never creates the parent directories of a misspelt path). Every error
is an :class:`InputError` (a ``ValueError``) whose text names the file and says what to do.

Nothing here imports the rest of impapi: the builder reads code through it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_TEXT_BYTES", "InputError", "read_bytes", "read_text", "check_output"]

# The largest code or scenario file impsim reads. An imp's code is at most a few hundred KB;
# built code with every library included stays well under this.
MAX_TEXT_BYTES = 16 << 20


class InputError(ValueError):
    """A file the user named cannot be used; the text says which and why."""


def _size_text(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB" if n >= 1 << 10 else f"{n} bytes"


def read_bytes(path: str | os.PathLike, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The contents of the regular file ``path`` (``what`` it is, for errors: "scenario file"),
    refused when it is not a regular file or holds more than ``limit`` bytes."""
    shown = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file (the {what})") from None
    except IsADirectoryError:
        raise InputError(f"{shown}: is a directory, not a {what}") from None
    except OSError as e:
        raise InputError(f"{shown}: cannot read the {what}: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{shown}: is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise InputError(f"{shown}: not a regular file (a pipe or a device?): give the {what} as a file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InputError(f"{shown}: cannot read the {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"{shown}: the {what} is larger than {_size_text(limit)}, more than impsim reads")
    return data


def read_text(path: str | os.PathLike, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8. A byte-order mark at the start is dropped: editors
    on some systems write one, and it is not part of the code."""
    data = read_bytes(path, what, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{os.fspath(path)}: not UTF-8 text (byte {e.start}): save the {what} as UTF-8") from None
    return text.removeprefix("\ufeff")


def check_output(path: str | os.PathLike, what: str, *, parents: bool = False) -> Path:
    """``path`` as a place impsim may write a file to (at the end of a run): its directory
    exists (``parents``: or will be made, as for a report in a CI job's output tree) and it is
    not a directory, a pipe or a device. Checked before the run starts, so a misspelt path does
    not cost a whole run."""
    p = Path(path)
    shown = os.fspath(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parents and not parent.is_dir():
        raise InputError(f"{shown}: cannot write the {what}: the directory {parent} does not exist "
                         "(impsim does not create directories: make it first)")
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return p
    except OSError as e:
        raise InputError(f"{shown}: cannot write the {what}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{shown}: is a directory: name a file for the {what}")
    if not stat.S_ISREG(mode):
        raise InputError(f"{shown}: not a regular file (a pipe or a device?): name a file for the {what}")
    return p
