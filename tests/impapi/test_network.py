"""The network model: outages over virtual time, merging, connection attempts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.constants import (
    NO_IP_ADDRESS,
    NO_LINK,
    NO_REGISTRATION,
    NO_SERVER,
    NO_WIFI,
    NOT_CONNECTED,
    NOT_RESOLVED,
    SERVER_CONNECTED,
)
from impapi.network import (
    DEFAULT_CONNECT_LATENCY_US,
    DEFAULT_CONNECT_TIMEOUT_US,
    FOREVER,
    ConnectAttempt,
    Network,
    Outage,
)

S = 1_000_000


def test_up_by_default():
    net = Network()
    assert net.is_up(0) and net.is_up(10**12)
    assert net.reason_at(5) == SERVER_CONNECTED == 5
    assert net.next_up(7) == 7 and net.next_down(7) is None
    assert net.outages == ()


def test_an_outage_is_a_half_open_window_with_a_reason():
    """§2.2: reasons are the server.connect constants; NO_WIFI (1) is the default."""
    net = Network()
    net.add_outage(10 * S, 5 * S)
    assert net.is_up(10 * S - 1)
    assert not net.is_up(10 * S) and net.reason_at(10 * S) == NO_WIFI == 1
    assert not net.is_up(15 * S - 1)
    assert net.is_up(15 * S)
    assert net.outages == (Outage(10 * S, 15 * S, NO_WIFI),)


def test_next_up_and_next_down():
    net = Network([(10, 20, NO_WIFI), (30, 40, NO_SERVER)])
    assert net.next_down(0) == 10 and net.next_down(15) == 15 and net.next_down(20) == 30
    assert net.next_down(40) is None
    assert net.next_up(5) == 5 and net.next_up(10) == 20 and net.next_up(35) == 40


def test_overlapping_and_touching_outages_with_one_reason_merge():
    net = Network()
    net.add_outage(0, 10)
    net.add_outage(5, 10)
    net.add_outage(15, 5)  # touches
    net.add_outage(30, 1)
    assert net.outages == (Outage(0, 20, NO_WIFI), Outage(30, 31, NO_WIFI))


def test_overlap_of_different_reasons_reports_the_lowest_layer():
    """No WiFi means DHCP is never tried: where NO_WIFI and NO_IP_ADDRESS overlap, NO_WIFI shows."""
    net = Network()
    net.add_outage(0, 100, NO_IP_ADDRESS)
    net.add_outage(40, 20, NO_WIFI)
    assert net.outages == (
        Outage(0, 40, NO_IP_ADDRESS),
        Outage(40, 60, NO_WIFI),
        Outage(60, 100, NO_IP_ADDRESS),
    )
    assert [net.reason_at(t) for t in (0, 39, 40, 59, 60, 99, 100)] == [2, 2, 1, 1, 2, 2, 5]
    assert net.next_up(10) == 100  # across touching segments of different reasons


def test_layer_ranking():
    net = Network([(0, 10, NOT_CONNECTED), (0, 10, NO_SERVER), (0, 10, NOT_RESOLVED)])
    assert net.reason_at(0) == NOT_RESOLVED
    net.add_outage(0, 10, NO_REGISTRATION)
    assert net.reason_at(5) == NO_REGISTRATION


def test_no_link_is_accepted_as_no_wifi():
    """§2.2: NO_LINK has the same value as NO_WIFI."""
    net = Network()
    net.add_outage(0, 10, NO_LINK)
    assert net.reason_at(0) == NO_WIFI


def test_outage_for_ever():
    net = Network()
    net.add_outage(100, None)
    assert not net.is_up(10**15)
    assert net.next_up(100) is None
    assert net.outages == (Outage(100, FOREVER, NO_WIFI),)


def test_zero_length_outage_is_ignored():
    net = Network()
    net.add_outage(5, 0)
    assert net.outages == () and net.is_up(5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 5), "start must be a non-negative int"),
        ((0, -5), "duration must be a non-negative int"),
        ((0.5, 5), "start must be a non-negative int"),
        ((0, 5, SERVER_CONNECTED), "bad outage reason 5: use one of NOT_CONNECTED, NO_WIFI"),
        ((0, 5, 99), "bad outage reason 99"),
    ],
)
def test_bad_outages(args, message):
    with pytest.raises(ValueError, match=message):
        Network().add_outage(*args)


def test_constructor_validates_too():
    with pytest.raises(ValueError, match="end 5 is before its start 10"):
        Network([(10, 5, NO_WIFI)])
    with pytest.raises(ValueError, match="connect_latency_us"):
        Network(connect_latency_us=-1)


# -- connection attempts ----------------------------------------------------------------------


def test_defaults():
    """§2.4: server.connect's timeout defaults to 60 s. Latency default is our choice: 2 s."""
    assert DEFAULT_CONNECT_TIMEOUT_US == 60 * S
    assert DEFAULT_CONNECT_LATENCY_US == 2 * S
    assert Network().connect_latency_us == 2 * S


def test_connect_while_up_succeeds_after_the_latency():
    net = Network()
    assert net.connect_attempt(5 * S) == ConnectAttempt(True, SERVER_CONNECTED, 7 * S)


def test_connect_waits_for_the_network_within_the_timeout():
    net = Network([(0, 30 * S, NO_WIFI)])
    assert net.connect_attempt(10 * S) == ConnectAttempt(True, SERVER_CONNECTED, 32 * S)


def test_connect_times_out_with_the_outage_reason():
    """§2.4: on failure the callback gets the failure reason, not SERVER_CONNECTED."""
    net = Network([(0, 100 * S, NO_IP_ADDRESS)])
    assert net.connect_attempt(10 * S) == ConnectAttempt(False, NO_IP_ADDRESS, 70 * S)
    assert net.connect_attempt(10 * S, timeout_us=5 * S) == ConnectAttempt(False, NO_IP_ADDRESS, 15 * S)


def test_connect_needs_the_whole_latency_without_a_drop():
    net = Network([(11 * S, 12 * S, NO_SERVER)], connect_latency_us=2 * S)
    # starts at 10 s, link drops at 11 s before the 2 s handshake completes; back at 12 s
    assert net.connect_attempt(10 * S) == ConnectAttempt(True, SERVER_CONNECTED, 14 * S)


def test_connect_fails_when_the_network_returns_too_late_to_finish():
    net = Network([(0, 59 * S, NO_WIFI)], connect_latency_us=2 * S)
    assert net.connect_attempt(0) == ConnectAttempt(False, NO_WIFI, 60 * S)
    net2 = Network([(0, 58 * S, NO_WIFI)], connect_latency_us=2 * S)
    assert net2.connect_attempt(0) == ConnectAttempt(True, SERVER_CONNECTED, 60 * S)


def test_connect_fails_when_an_outage_starts_too_late_to_retry():
    net = Network([(59 * S, 69 * S, NO_SERVER)], connect_latency_us=60 * S)
    assert net.connect_attempt(0, timeout_us=70 * S) == ConnectAttempt(False, NO_SERVER, 70 * S)


def test_connect_with_a_timeout_shorter_than_the_latency_fails_generically():
    net = Network(connect_latency_us=5 * S)
    assert net.connect_attempt(0, timeout_us=1 * S) == ConnectAttempt(False, NOT_CONNECTED, 1 * S)


def test_zero_latency_connects_instantly_when_up():
    net = Network([(10, 20, NO_WIFI)], connect_latency_us=0)
    assert net.connect_attempt(0) == ConnectAttempt(True, SERVER_CONNECTED, 0)
    assert net.connect_attempt(10) == ConnectAttempt(True, SERVER_CONNECTED, 20)


def test_connect_never_succeeds_into_a_permanent_outage():
    net = Network()
    net.add_outage(0, None, NO_REGISTRATION)
    assert net.connect_attempt(10 * S) == ConnectAttempt(False, NO_REGISTRATION, 70 * S)


# -- properties against brute force -----------------------------------------------------------

REASONS = [NO_WIFI, NO_IP_ADDRESS, NOT_RESOLVED, NO_SERVER, NOT_CONNECTED, NO_REGISTRATION]
RANK = {NO_WIFI: 0, NO_REGISTRATION: 3, NO_IP_ADDRESS: 7, NOT_RESOLVED: 8, NO_SERVER: 11, NOT_CONNECTED: 12}
windows = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 20), st.sampled_from(REASONS)), max_size=8
)


def brute_reason(ws, t):
    covering = [r for s, d, r in ws if s <= t < s + d]
    return min(covering, key=RANK.__getitem__) if covering else SERVER_CONNECTED


@given(windows)
def test_reason_and_up_match_brute_force(ws):
    net = Network()
    for s, d, r in ws:
        net.add_outage(s, d, r)
    for t in range(0, 85):
        assert net.reason_at(t) == brute_reason(ws, t)
        assert net.is_up(t) == (brute_reason(ws, t) == SERVER_CONNECTED)
    segs = net.outages
    assert all(a.end_us <= b.start_us for a, b in zip(segs, segs[1:]))
    assert all(not (a.end_us == b.start_us and a.reason == b.reason) for a, b in zip(segs, segs[1:]))


@given(windows, st.integers(0, 80))
def test_next_up_and_down_match_brute_force(ws, t):
    net = Network([(s, s + d, r) for s, d, r in ws])
    up = [u for u in range(t, 200) if brute_reason(ws, u) == SERVER_CONNECTED]
    down = [u for u in range(t, 200) if brute_reason(ws, u) != SERVER_CONNECTED]
    assert net.next_up(t) == up[0]
    assert net.next_down(t) == (down[0] if down else None)


@given(windows, st.integers(0, 80), st.integers(0, 6), st.integers(0, 40))
def test_connect_attempt_is_the_earliest_feasible_connection(ws, t, latency, timeout):
    net = Network([(s, s + d, r) for s, d, r in ws], connect_latency_us=latency)
    result = net.connect_attempt(t, timeout_us=timeout)

    def feasible(start):
        return all(brute_reason(ws, u) == SERVER_CONNECTED for u in range(start, start + latency)) and (
            latency > 0 or brute_reason(ws, start) == SERVER_CONNECTED
        )

    starts = [s for s in range(t, t + timeout - latency + 1) if feasible(s)]
    if starts:
        assert result == ConnectAttempt(True, SERVER_CONNECTED, starts[0] + latency)
    else:
        assert not result.ok and result.completes_at == t + timeout
        # the attempt spans [t, t + timeout), at least the instant t
        span = range(t, max(t + 1, t + timeout))
        overlapping = [brute_reason(ws, u) for u in span if brute_reason(ws, u) != SERVER_CONNECTED]
        assert result.reason == (overlapping[-1] if overlapping else NOT_CONNECTED)


def test_many_outages_merge_quickly():
    net = Network()
    for i in range(20_000):
        net.add_outage(i * 100, 50 + (i % 3) * 30, REASONS[i % len(REASONS)])
    assert not net.is_up(150)
    assert len(net.outages) > 1_000
