"""The SPI flash behind ``hardware.spiflash``: a NOR chip model (imp-api.md §7).

NOR rules (§7.2): erased bytes read 0xFF; programming can only clear bits, so a write stores
``old & data``; only an erase of a whole 4096-byte sector sets bits again. Addresses are the
user (Squirrel-visible) addresses, 0 to ``size - 1`` (§7.1): the impOS-reserved part of the
chip is not modelled.

``FlashError`` carries the text the natives show to Squirrel. The imp's own texts for these
errors are [UNCONFIRMED] (§12 gap 7), so the wording here is ours: it says what went wrong and
what is valid.

For the fuzzer, the chip keeps erase counters per sector and a log of write and erase
operations with the virtual time they happened at (when given a ``now`` callable).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .constants import SPIFLASH_POSTVERIFY, SPIFLASH_PREVERIFY
from .inputs import check_output, read_bytes

__all__ = ["SECTOR_SIZE", "FlashError", "FlashImageError", "FlashOp", "SpiFlash"]

SECTOR_SIZE = 4096

NOT_ENABLED = "spiflash is not enabled: call hardware.spiflash.enable() first"


class FlashError(ValueError):
    """Misuse of ``hardware.spiflash``; the message is what Squirrel sees."""


class FlashImageError(ValueError):
    """The backing image file does not fit this flash (a configuration error, not Squirrel's)."""


class FlashOp(NamedTuple):
    kind: str  # "write" or "erase"
    addr: int
    length: int
    time_us: int | None
    result: int  # write(): its return code (2 = pre-verify refused, nothing written); erase: 0


class SpiFlash:
    """A NOR flash of ``size`` user bytes (a positive multiple of ``SECTOR_SIZE``).

    ``chipid``: the 3-byte JEDEC ID ``chipid()`` returns.
    ``speeds``: the SPI speeds in Hz that ``setspeed`` offers, or None where the module has no
    ``setspeed`` (§7.3: only imp003 and imp004m). The default speed is the slowest, which is
    the documented default on both modules.
    ``image``: a file holding the chip's contents: loaded now if it exists (otherwise the chip
    starts erased), written back by ``sync()``/``close()``.
    ``now``: returns the current virtual time in microseconds, for the operation log.
    """

    def __init__(
        self,
        size: int,
        *,
        chipid: int = 0xC22016,
        speeds: Sequence[int] | None = None,
        image: str | os.PathLike[str] | None = None,
        now: Callable[[], int] | None = None,
    ) -> None:
        if not isinstance(size, int) or size <= 0 or size % SECTOR_SIZE:
            raise ValueError(f"flash size must be a positive multiple of {SECTOR_SIZE}, got {size!r}")
        if not 0 <= chipid <= 0xFFFFFF:
            raise ValueError(f"chipid must be a 3-byte JEDEC ID, got {chipid:#x}")
        self._size = size
        self._chipid = chipid
        self._speeds = tuple(sorted(speeds)) if speeds else None
        self._requested_speed = self._speed = self._speeds[0] if self._speeds else None
        # One byte, 1 while enabled: the VM's C fast path for read() looks at it (read_view).
        self._gate = bytearray(1)
        self._now = now
        self._path = Path(image) if image is not None else None
        self._data = bytearray(b"\xff" * size)
        self._erase_counts = [0] * (size // SECTOR_SIZE)
        self._ops: list[FlashOp] = []
        # Called before the contents or the operation log change: a record of what was written
        # when (impapi.replay) reads the flash as it was at an earlier instant then.
        self.before_change: list[Callable[[], Any]] = []
        self._dirty = False
        if self._path is not None:
            check_output(self._path, "flash image")  # written back at the end: fail now, not then
            if self._path.exists():
                self._load(self._path)

    # -- state --------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """User bytes available to Squirrel (``hardware.spiflash.size()``)."""
        return self._size

    @property
    def enabled(self) -> bool:
        return bool(self._gate[0])

    @property
    def speed(self) -> int | None:
        """The SPI speed in effect (Hz), or None on modules without ``setspeed``."""
        return self._speed

    def chipid(self) -> int:
        # Allowed while disabled: impOS reads the JEDEC ID at start-up (spiflash.info() page),
        # and §7.3 requires enable() only before reads, writes and erases.
        return self._chipid

    def enable(self) -> None:
        self._gate[0] = 1
        # setspeed() takes effect at the next enable() [doc D:api/hardware/spiflash/setspeed].
        self._speed = self._requested_speed

    def disable(self) -> None:
        self._gate[0] = 0

    def reset(self) -> None:
        """State after a restart of Squirrel or the device: disabled, default speed. Data stays."""
        self._gate[0] = 0
        self._requested_speed = self._speed = self._speeds[0] if self._speeds else None

    def setspeed(self, hz: int | float) -> int:
        """Request an SPI speed; returns the speed chosen, i.e. ``hz`` rounded down to a valid one.

        Outside the module's range it raises [doc D:api/hardware/spiflash/setspeed].
        """
        if self._speeds is None:
            raise FlashError("spiflash.setspeed() is not available on this module (imp003 and imp004m only)")
        if isinstance(hz, bool) or not isinstance(hz, (int, float)):
            raise FlashError(f"spiflash speed must be a number of Hz, not {type(hz).__name__}")
        low, high = self._speeds[0], self._speeds[-1]
        if not low <= hz <= high:
            valid = ", ".join(str(s) for s in self._speeds)
            raise FlashError(f"spiflash speed {hz:g} Hz is out of range: this module supports {valid} Hz")
        self._requested_speed = max(s for s in self._speeds if s <= hz)
        return self._requested_speed

    # -- data ---------------------------------------------------------------------------------

    def read_view(self) -> tuple[bytearray, bytearray]:
        """(the chip's bytes, the enabled byte) for a reader that bypasses :meth:`read` where it
        would succeed (:meth:`squirrel.VM.buffer_reader`). The chip's bytearray is never
        resized or replaced, so a view of it stays valid."""
        return self._data, self._gate

    def read(self, addr: int, length: int) -> bytes:
        """``length`` bytes from ``addr`` (``hardware.spiflash.read``)."""
        self._require_enabled()
        self._check_range("read", addr, length)
        return bytes(self._data[addr : addr + length])

    def write(
        self,
        addr: int,
        data: bytes | bytearray | memoryview,
        flags: int = 0,
        start: int | None = None,
        end: int | None = None,
    ) -> int:
        """Program ``data[start:end]`` at ``addr``; NOR semantics (stored = old & data).

        Returns 0 on success or when no verification was asked for; ``SPIFLASH_PREVERIFY`` (2)
        when pre-verification finds a bit that would have to go from 0 to 1 (nothing is then
        written); ``SPIFLASH_POSTVERIFY`` (1) when the read-back differs from the source. These
        are the electricimp/SpiFlash library's codes (§7.3).
        """
        for hook in self.before_change:
            hook()
        self._require_enabled()
        if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~(SPIFLASH_PREVERIFY | SPIFLASH_POSTVERIFY):
            raise FlashError(f"invalid spiflash write flags {flags!r}: use SPIFLASH_PREVERIFY, SPIFLASH_POSTVERIFY, both or 0")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"spiflash write source must be bytes-like, not {type(data).__name__}")
        source = bytes(data)
        first = 0 if start is None else start
        last = len(source) if end is None else end
        if not (_is_int(first) and _is_int(last) and 0 <= first <= last <= len(source)):
            raise FlashError(
                f"spiflash write start/end {start!r}/{end!r} out of range for a source of {len(source)} bytes: "
                f"need 0 <= start <= end <= {len(source)}"
            )
        source = source[first:last]
        length = len(source)
        self._check_range("write", addr, length)
        if length == 0:
            return 0

        old = int.from_bytes(self._data[addr : addr + length], "little")
        new = int.from_bytes(source, "little")
        if flags & SPIFLASH_PREVERIFY and old & new != new:
            self._record("write", addr, length, SPIFLASH_PREVERIFY)
            return SPIFLASH_PREVERIFY
        stored = old & new
        self._data[addr : addr + length] = stored.to_bytes(length, "little")
        self._dirty = True
        result = SPIFLASH_POSTVERIFY if flags & SPIFLASH_POSTVERIFY and stored != new else 0
        self._record("write", addr, length, result)
        return result

    def erasesector(self, addr: int) -> None:
        """Set the 4096-byte sector starting at ``addr`` to 0xFF."""
        for hook in self.before_change:
            hook()
        self._require_enabled()
        if not _is_int(addr):
            raise FlashError(f"spiflash erasesector address must be an integer, not {type(addr).__name__}")
        if addr % SECTOR_SIZE:
            raise FlashError(f"spiflash erasesector address {_hex(addr)} is not a multiple of 4096 (0x1000)")
        if not 0 <= addr < self._size:
            raise FlashError(
                f"spiflash erasesector address {_hex(addr)} is out of range: "
                f"valid sector addresses are 0 to 0x{self._size - SECTOR_SIZE:X}"
            )
        self._data[addr : addr + SECTOR_SIZE] = b"\xff" * SECTOR_SIZE
        self._erase_counts[addr // SECTOR_SIZE] += 1
        self._dirty = True
        self._record("erase", addr, SECTOR_SIZE, 0)

    # -- inspection (not Squirrel-visible) ----------------------------------------------------

    def peek(self, addr: int, length: int) -> bytes:
        """Read without the enable check or logging: for tests and checkers."""
        self._check_range("read", addr, length)
        return bytes(self._data[addr : addr + length])

    @property
    def image(self) -> bytes:
        return bytes(self._data)

    def load_image(self, image: bytes) -> None:
        for hook in self.before_change:
            hook()
        if len(image) != self._size:
            raise FlashImageError(f"flash image is {len(image)} bytes but this flash is {self._size} bytes")
        self._data[:] = image
        self._dirty = True

    @property
    def erase_counts(self) -> tuple[int, ...]:
        """Erases per sector, index = address // 4096."""
        return tuple(self._erase_counts)

    def erase_count(self, addr: int) -> int:
        """Erases of the sector containing ``addr``."""
        self._check_range("read", addr, 1)
        return self._erase_counts[addr // SECTOR_SIZE]

    @property
    def ops(self) -> tuple[FlashOp, ...]:
        """Writes and erases in the order they happened (zero-length writes are not recorded)."""
        return tuple(self._ops)

    def clear_ops(self) -> None:
        for hook in self.before_change:
            hook()
        self._ops.clear()

    # -- backing file -------------------------------------------------------------------------

    def sync(self) -> None:
        """Write the image to the backing file, if any (atomically: a crash keeps the old file)."""
        if self._path is None or (not self._dirty and self._path.exists()):
            return
        target = self._path.resolve()  # through a symlink: replacing the link would orphan its file
        try:
            mode = target.stat().st_mode & 0o777  # keep the image's permissions...
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # ...or give a new one what open() would
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(self._data)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        self._dirty = False

    def close(self) -> None:
        self.sync()

    def __enter__(self) -> SpiFlash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        image = read_bytes(path, "flash image", limit=self._size + 1)  # a FIFO or /dev/zero is refused
        if len(image) != self._size:
            raise FlashImageError(
                f"flash image {path} is {len(image)} bytes but this device's flash is {self._size} bytes: "
                "use an image of the same size, or delete the file to start from an erased chip"
            )
        self._data[:] = image

    def _require_enabled(self) -> None:
        if not self._gate[0]:
            raise FlashError(NOT_ENABLED)

    def _check_range(self, op: str, addr: int, length: int) -> None:
        if not _is_int(addr) or not _is_int(length):
            raise FlashError(f"spiflash {op} address and length must be integers")
        if length < 0:
            raise FlashError(f"spiflash {op} length must not be negative, got {length}")
        if addr < 0 or addr + length > self._size:
            raise FlashError(
                f"spiflash {op} of {length} bytes at {_hex(addr)} is out of range: "
                f"the flash holds 0x{self._size:X} ({self._size}) bytes"
            )

    def _record(self, kind: str, addr: int, length: int, result: int) -> None:
        self._ops.append(FlashOp(kind, addr, length, None if self._now is None else self._now(), result))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hex(addr: int) -> str:
    return f"0x{addr:X}" if addr >= 0 else str(addr)
