"""The log stream: typed, timestamped entries rendered like impCentral / impt.

An entry is ``(time_us, source, type, text)``. ``type`` is an impCentral API log type
(imp-api.md §11.1) or ``impsim`` for the simulator's own notes (scenario events such as an
outage starting); ``source`` is derived from the type and exists for filtering.

Text rendering, one line per entry::

    2026-01-01T00:00:05.000Z [Device] hello

The timestamp is the ISO-8601 form of the impCentral API's ``ts`` field, which is what
``impt log stream`` prints: UTC, millisecond precision (virtual microseconds are truncated,
never rounded up, so an entry never shows a time that had not yet come), ``Z`` suffix. The
bracketed label is the impCentral/VS Code label of the type (§11.1) where impt would print the
raw type; labels are what developers recognise from the impCentral log pane.

Text is stored verbatim: producers add ``ERROR: `` prefixes and the like (§10, §11.4). A text
holding newlines renders as several physical lines; ``to_json`` is the lossless form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from .durations import DEFAULT_EPOCH

__all__ = ["LOG_TYPES", "SOURCES", "Log", "LogEntry", "parse_json_lines"]

# type -> (source, label). Labels from imp-api.md §11.1.
LOG_TYPES: dict[str, tuple[str, str]] = {
    "server.log": ("device", "[Device]"),
    "server.error": ("device", "[Device]"),
    "server.sleep": ("device", "[Device]"),
    "agent.log": ("agent", "[Agent]"),
    "agent.error": ("agent", "[Agent]"),
    "status": ("status", "[Status]"),
    "powerstate": ("status", "[Power State]"),
    "lastexitcode": ("status", "[Exit Code]"),
    "firmware": ("status", "[Firmware]"),
    "impsim": ("sim", "[Sim]"),
}
SOURCES: tuple[str, ...] = ("device", "agent", "status", "sim")

_UNIX = datetime(1970, 1, 1, tzinfo=timezone.utc)
_tuple_new = tuple.__new__
_ONE_US = timedelta(microseconds=1)


class LogEntry(NamedTuple):
    time_us: int
    source: str
    type: str
    text: str

    @property
    def is_error(self) -> bool:
        return self.type.endswith(".error")

    @property
    def label(self) -> str:
        return LOG_TYPES[self.type][1]


Sink = Callable[[LogEntry], None]
_Selector = str | Iterable[str] | None


class Log:
    """Collects entries in the order they are added, renders and filters them.

    ``epoch`` is the real-world instant of virtual time 0 (naive datetimes are UTC).
    ``sink``, if given, is called with each entry as it is added (the CLI streams with it).
    ``keep=False`` only counts the entries once the sinks have them: a long run that streams
    its log need not hold it all in memory (iterating then gives nothing).
    """

    def __init__(self, *, epoch: datetime = DEFAULT_EPOCH, sink: Sink | None = None, keep: bool = True) -> None:
        if epoch.tzinfo is None:
            epoch = epoch.replace(tzinfo=timezone.utc)
        self.epoch = epoch
        self._epoch_us = (epoch - _UNIX) // _ONE_US
        self._entries: list[LogEntry] = []
        self._keep = keep
        self._count = 0
        self._sinks: list[Sink] = [] if sink is None else [sink]

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        self._sinks.remove(sink)

    def add(self, time_us: int, type: str, text: str) -> LogEntry:
        """Append an entry of log type ``type`` at virtual time ``time_us``."""
        if (time_us.__class__ is not int and (not isinstance(time_us, int) or isinstance(time_us, bool))
                or time_us < 0):
            raise ValueError(f"time_us must be a non-negative int, got {time_us!r}")
        try:
            source = LOG_TYPES[type][0]
        except (KeyError, TypeError):
            raise ValueError(f"unknown log type {type!r}: use one of {', '.join(LOG_TYPES)}") from None
        if text.__class__ is not str and not isinstance(text, str):  # no call for a str itself
            raise TypeError(f"log text must be a str, not {text.__class__.__name__}")
        entry = _tuple_new(LogEntry, (time_us, source, type, text))  # LogEntry(...) without its Python __new__
        self._count += 1
        if self._keep:
            self._entries.append(entry)
        for sink in self._sinks:
            sink(entry)
        return entry

    def clear(self) -> None:
        """Drop the entries kept so far, as ``keep=False`` would not have kept them (``len`` still
        counts them): for a caller done reading the log."""
        self._entries.clear()

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Entries added (with ``keep=False`` too)."""
        return self._count

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def __getitem__(self, index: int) -> LogEntry:
        return self._entries[index]

    @property
    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    def filter(
        self,
        *,
        source: _Selector = None,
        type: _Selector = None,
        since_us: int | None = None,
        until_us: int | None = None,
        contains: str | None = None,
    ) -> list[LogEntry]:
        """Entries matching every given criterion; ``since_us`` inclusive, ``until_us`` exclusive."""
        sources = _selector(source, SOURCES, "source")
        types = _selector(type, LOG_TYPES, "log type")
        return [
            e
            for e in self._entries
            if (sources is None or e.source in sources)
            and (types is None or e.type in types)
            and (since_us is None or e.time_us >= since_us)
            and (until_us is None or e.time_us < until_us)
            and (contains is None or contains in e.text)
        ]

    def messages(self, **criteria: object) -> list[str]:
        """Just the texts of ``filter(**criteria)``; handy in tests."""
        return [e.text for e in self.filter(**criteria)]  # type: ignore[arg-type]

    # -- rendering ----------------------------------------------------------------------------

    def timestamp(self, time_us: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for virtual time ``time_us`` (truncated to the ms)."""
        when = _UNIX + timedelta(microseconds=self._epoch_us + time_us)
        return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"

    def format(self, entry: LogEntry) -> str:
        return f"{self.timestamp(entry.time_us)} {LOG_TYPES[entry.type][1]} {entry.text}"

    def text(self, entries: Iterable[LogEntry] | None = None) -> str:
        """The impt-style rendering of ``entries`` (default: all), one line each, newline-terminated."""
        return "".join(self.format(e) + "\n" for e in (self._entries if entries is None else entries))

    def to_json_line(self, entry: LogEntry) -> str:
        """One entry as a JSON object: ``ts``, ``time_us``, ``source``, ``type``, ``msg``.

        ``ts`` and ``msg`` carry the impCentral API's field names (§11.1). Output is ASCII, with
        keys in a fixed order, so it is byte-for-byte reproducible.
        """
        return json.dumps(
            {
                "ts": self.timestamp(entry.time_us),
                "time_us": entry.time_us,
                "source": entry.source,
                "type": entry.type,
                "msg": entry.text,
            },
            ensure_ascii=True,
            separators=(",", ":"),
        )

    def to_json(self, entries: Iterable[LogEntry] | None = None) -> str:
        """JSON lines: one object per entry, newline-terminated."""
        return "".join(self.to_json_line(e) + "\n" for e in (self._entries if entries is None else entries))


def parse_json_lines(text: str) -> list[LogEntry]:
    """Read back what ``Log.to_json`` wrote."""
    entries = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            entries.append(LogEntry(obj["time_us"], obj["source"], obj["type"], obj["msg"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not a log entry written by Log.to_json: {exc}") from None
    return entries


def _selector(value: _Selector, valid: Iterable[str], what: str) -> frozenset[str] | None:
    if value is None:
        return None
    chosen = frozenset([value] if isinstance(value, str) else value)
    unknown = chosen.difference(valid)
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)[0]!r}: use one of {', '.join(valid)}")
    return chosen
