"""What the two example loggers declare must persist (usable with ``--persist loggers.py:NAME``
and ``--extra loggers.py:NAME``)."""

from impapi.testing import checks

RECORD = 8
COMMITTED = b"\x5a\x5a"


def polite_records(image: bytes):
    """The polite logger's committed records: [seq int32][value int16][0x5a5a], as (seq, value)."""
    for i in range(0, 4096, RECORD):
        rec = image[i:i + RECORD]
        if rec[6:8] == COMMITTED:
            yield (int.from_bytes(rec[0:4], "little", signed=True), int.from_bytes(rec[4:6], "little", signed=True))


# Every "stored reading N = V" line names a record that must be in the flash at the end.
polite_persist = checks.log_records(r"stored reading (?P<seq>\d+) = (?P<value>-?\d+)", polite_records)


def committed_records(image: bytes) -> int:
    return sum(1 for i in range(0, 4096, RECORD) if image[i + 6:i + 8] == COMMITTED)


def impolite_keeps_readings(run):
    """The impolite logger takes one reading per boot and keeps at most two in nv between its
    batches: all but the last two must be in the flash at the end."""
    taken = len(run.boots())
    stored = committed_records(run.flash_image())
    if stored < taken - 2:
        return f"{taken} readings taken but only {stored} in the flash: {taken - 2 - stored} or more lost"
    return None
