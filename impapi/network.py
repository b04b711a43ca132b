"""Connectivity over virtual time: when the device could reach the server, and why not.

The network is up except during outages, half-open windows ``[start_us, end_us)`` each with a
§2.2 reason (``NO_WIFI``, ``NO_IP_ADDRESS``, ...). Overlapping or touching outages merge; where
outages of different reasons overlap, the instant reports the reason of the lowest network
layer, because that is the step a connection attempt fails at first (no WiFi means DHCP is
never tried). Reasons are ranked:

    link (NO_WIFI/NO_LINK, NO_MODEM, SIM_ERROR, NO_REGISTRATION, REGISTRATION_DENIED,
    NO_PPP_CONNECTION, PPP_NO_CONNECTIVITY) < NO_IP_ADDRESS < NOT_RESOLVED < NO_PROXY
    < NOT_AUTHORISED < NO_SERVER < NOT_CONNECTED (the catch-all)

A connection attempt takes ``connect_latency_us`` (a simulation takes it from
``Config.connect_latency_us``, default 2 s: joining WiFi, DHCP, DNS and TLS on a good network;
the real figure varies and is not in imp-api.md) of uninterrupted network, and gives up after a
timeout (default 60 s, ``server.connect``'s default, §2.4).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import NamedTuple

from .constants import (
    CONNECTION_REASONS,
    NO_IP_ADDRESS,
    NO_MODEM,
    NO_PPP_CONNECTION,
    NO_PROXY,
    NO_REGISTRATION,
    NO_SERVER,
    NO_WIFI,
    NOT_AUTHORISED,
    NOT_CONNECTED,
    NOT_RESOLVED,
    PPP_NO_CONNECTIVITY,
    REGISTRATION_DENIED,
    SERVER_CONNECTED,
    SIM_ERROR,
)

__all__ = [
    "DEFAULT_CONNECT_LATENCY_US",
    "DEFAULT_CONNECT_TIMEOUT_US",
    "FOREVER",
    "ConnectAttempt",
    "Network",
    "Outage",
]

DEFAULT_CONNECT_LATENCY_US = 2_000_000
DEFAULT_CONNECT_TIMEOUT_US = 60_000_000

# End of an outage that never ends. Far beyond any simulation (about 292,000 years).
FOREVER = 2**63 - 1

_LAYER_ORDER = (
    NO_WIFI, NO_MODEM, SIM_ERROR, NO_REGISTRATION, REGISTRATION_DENIED, NO_PPP_CONNECTION,
    PPP_NO_CONNECTIVITY, NO_IP_ADDRESS, NOT_RESOLVED, NO_PROXY, NOT_AUTHORISED, NO_SERVER,
    NOT_CONNECTED,
)
_RANK = {reason: rank for rank, reason in enumerate(_LAYER_ORDER)}
_OUTAGE_REASONS = frozenset(_RANK)
_tuple_new = tuple.__new__  # a named tuple made without its Python-level __new__


class Outage(NamedTuple):
    start_us: int
    end_us: int  # exclusive; FOREVER for an outage that never ends
    reason: int


class ConnectAttempt(NamedTuple):
    ok: bool
    reason: int  # SERVER_CONNECTED when ok, else the outage reason that defeated the attempt
    completes_at: int  # when the device learns the outcome


class Network:
    def __init__(
        self,
        outages: Iterable[Outage | tuple[int, int, int]] = (),
        *,
        connect_latency_us: int = DEFAULT_CONNECT_LATENCY_US,
    ) -> None:
        if not _is_int(connect_latency_us) or connect_latency_us < 0:
            raise ValueError(f"connect_latency_us must be a non-negative int, got {connect_latency_us!r}")
        self.connect_latency_us = connect_latency_us
        self._raw: list[Outage] = []
        self._segments: list[Outage] = []
        self._starts: list[int] = []
        self._dirty = False
        self.version = 0  # outages added so far: what is known of the network changes with it
        for start, end, reason in outages:
            self._add(start, end, reason)

    # -- building -----------------------------------------------------------------------------

    def add_outage(self, start_us: int, duration_us: int | None, reason: int = NO_WIFI) -> None:
        """The network is down from ``start_us`` for ``duration_us`` (None: for ever)."""
        if duration_us is None:
            end = FOREVER
        elif not _is_int(duration_us) or duration_us < 0:
            raise ValueError(f"outage duration must be a non-negative int of microseconds or None, got {duration_us!r}")
        else:
            end = start_us + duration_us if _is_int(start_us) else start_us
        self._add(start_us, end, reason)

    def _add(self, start: int, end: int, reason: int) -> None:
        if not _is_int(start) or start < 0:
            raise ValueError(f"outage start must be a non-negative int of microseconds, got {start!r}")
        if not _is_int(end) or end < start:
            raise ValueError(f"outage end {end!r} is before its start {start}")
        if reason not in _OUTAGE_REASONS:
            names = ", ".join(n for n, v in CONNECTION_REASONS.items() if v in _OUTAGE_REASONS)
            raise ValueError(f"bad outage reason {reason!r}: use one of {names}")
        if end > start:
            self._raw.append(Outage(start, min(end, FOREVER), reason))
            self._dirty = True
            self.version += 1

    def _rebuild(self) -> None:
        # Sweep over the boundaries keeping a count of active outages per reason; each
        # elementary interval takes the lowest-layer active reason, equal neighbours join.
        changes: dict[int, dict[int, int]] = {}
        for o in self._raw:
            changes.setdefault(o.start_us, {}).setdefault(o.reason, 0)
            changes[o.start_us][o.reason] += 1
            changes.setdefault(o.end_us, {}).setdefault(o.reason, 0)
            changes[o.end_us][o.reason] -= 1
        active = [0] * len(_LAYER_ORDER)
        segments: list[Outage] = []
        bounds = sorted(changes)
        for lo, hi in zip(bounds, bounds[1:]):
            for reason, delta in changes[lo].items():
                active[_RANK[reason]] += delta
            rank = next((r for r, n in enumerate(active) if n), None)
            if rank is None:
                continue
            reason = _LAYER_ORDER[rank]
            if segments and segments[-1].end_us == lo and segments[-1].reason == reason:
                segments[-1] = segments[-1]._replace(end_us=hi)
            else:
                segments.append(Outage(lo, hi, reason))
        self._segments = segments
        self._starts = [seg.start_us for seg in segments]
        self._dirty = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def outages(self) -> tuple[Outage, ...]:
        """The merged outages, sorted, disjoint. Touching segments differ in reason."""
        return tuple(self._merged())

    def _merged(self) -> list[Outage]:
        if self._dirty:
            self._rebuild()
        return self._segments

    def _segment_at(self, t_us: int) -> Outage | None:
        self._merged()
        i = bisect_right(self._starts, t_us) - 1
        if i >= 0 and t_us < self._segments[i].end_us:
            return self._segments[i]
        return None

    def is_up(self, t_us: int) -> bool:
        return self._segment_at(t_us) is None

    def reason_at(self, t_us: int) -> int:
        """``SERVER_CONNECTED`` while up, else the reason of the outage in force."""
        segment = self._segment_at(t_us)
        return SERVER_CONNECTED if segment is None else segment.reason

    def next_up(self, t_us: int) -> int | None:
        """The first instant at or after ``t_us`` when the network is up; None if never."""
        self._merged()
        i = bisect_right(self._starts, t_us) - 1
        if i < 0 or t_us >= self._segments[i].end_us:
            return t_us
        # Skip touching segments (different reasons back to back).
        while i + 1 < len(self._segments) and self._segments[i + 1].start_us == self._segments[i].end_us:
            i += 1
        end = self._segments[i].end_us
        return None if end >= FOREVER else end

    def next_down(self, t_us: int) -> int | None:
        """The first instant at or after ``t_us`` when the network is down; None if never."""
        if self._dirty:  # _merged() without its frame: asked at every connection of a sleepy app
            self._rebuild()
        segments = self._segments
        starts = self._starts
        i = bisect_right(starts, t_us)  # segments[i - 1] is the last to start by t_us
        if i and t_us < segments[i - 1].end_us:
            return t_us
        return starts[i] if i < len(starts) else None

    def connect_attempt(self, t_us: int, timeout_us: int = DEFAULT_CONNECT_TIMEOUT_US,
                        latency_us: int | None = None) -> ConnectAttempt:
        """Outcome of a connection attempt started at ``t_us`` (taking ``latency_us``, default
        ``connect_latency_us``).

        It succeeds at the first ``s + latency`` (``s >= t_us``) such that the network is up
        throughout ``[s, s + latency)``, provided that is no later than ``t_us + timeout_us``.
        Otherwise it fails at ``t_us + timeout_us`` with the reason of the last outage that
        overlapped the attempt, or ``NOT_CONNECTED`` if none did (a timeout shorter than the
        latency).
        """
        if timeout_us.__class__ is not int and not _is_int(timeout_us) or timeout_us < 0:  # no call when an int
            raise ValueError(f"timeout_us must be a non-negative int, got {timeout_us!r}")
        deadline = t_us + timeout_us
        latency = self.connect_latency_us if latency_us is None else latency_us
        if self._dirty:  # _merged() without its frame, as in next_down
            self._rebuild()
        segments = self._segments
        starts = self._starts
        s: int | None = t_us
        # is_up and next_down worked out from one lookup: every wake of a sleepy app asks.
        while s is not None and s + latency <= deadline:
            i = bisect_right(starts, s)  # segments[i - 1] is the last to start by s
            if i and s < segments[i - 1].end_us:  # down at s
                s = self.next_up(s)
                continue
            down = starts[i] if i < len(starts) else None
            if down is None or down >= s + latency:
                return _tuple_new(ConnectAttempt, (True, SERVER_CONNECTED, s + latency))
            s = down  # the link dropped mid-connect; try again once it is back
        # Failed: name the last outage within the attempt, [t_us, deadline) and at least the
        # instant t_us, including one that began too late for any retry to complete.
        i = bisect_left(starts, max(deadline, t_us + 1)) - 1
        last_reason = segments[i].reason if i >= 0 and segments[i].end_us > t_us else NOT_CONNECTED
        return ConnectAttempt(False, last_reason, deadline)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
