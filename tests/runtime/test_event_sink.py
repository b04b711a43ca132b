"""The structured events as a stream (``Simulation(event_sink=...)``), and the events that count
what a device and its agent send: ``message`` and ``http-request``."""

import pytest
from runtime_helpers import simulate

from impapi.environment import Environment

DEVICE = '''
    agent.on("pong", function(n) { server.log("pong " + n); });
    agent.send("ping", 1);
    imp.wakeup(60, function() { agent.send("ping", 2); });
'''
AGENT = '''
    device.on("ping", function(n) {
        device.send("pong", n);
        http.get("https://example.invalid/report?n=" + n).sendasync(function(r) {});
    });
'''


def test_sink_sees_every_event_even_when_history_is_not_kept():
    seen = []
    kept = simulate(DEVICE, AGENT, run="5m")
    streamed = simulate(DEVICE, AGENT, run="5m", keep_history=False, event_sink=seen.append)
    assert len(streamed.events) == 0
    assert seen == list(kept.events)


def test_sink_and_history_see_the_same_events():
    seen = []
    sim = simulate(DEVICE, AGENT, run="5m", event_sink=seen.append)
    assert seen == list(sim.events) and seen


def test_messages_are_recorded_each_way_with_their_names():
    sim = simulate(DEVICE, AGENT, run="5m")
    sent = [(e.data["to"], e.data["name"]) for e in sim.events.of("message")]
    assert sent == [("agent", "ping"), ("device", "pong"), ("agent", "ping"), ("device", "pong")]


def test_outgoing_agent_requests_are_recorded():
    sim = simulate(DEVICE, AGENT, run="5m")
    requests = sim.events.of("http-request")
    assert [(e.data["method"], e.data["url"]) for e in requests] == [
        ("GET", "https://example.invalid/report?n=1"), ("GET", "https://example.invalid/report?n=2")]
    assert round(requests[1].time_us - requests[0].time_us, -3) == 60_000_000  # to the ms: the code's work adds µs


def test_a_message_an_offline_device_cannot_send_is_not_recorded():
    sim = simulate('''
        server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);
        imp.wakeup(30, function() { server.log("rc " + agent.send("late", 1)); });
    ''', 'device.on("late", function(v) {});', run=None)
    sim.outage("10s", "10m")
    sim.run("5m")
    assert sim.events.of("server-contact")  # it tried
    assert sim.events.of("message") == []


def test_an_event_takes_its_data_as_keywords_or_as_one_dict_never_both():
    seen = []
    env = Environment(event_sink=seen.append)
    env.clock.advance(7)
    data = {"state": "running"}
    by_dict = env.record("state", data)
    by_keywords = env.record("state", state="running")
    bare = env.record("boot")
    assert by_dict == by_keywords == (7, "state", {"state": "running"}) and by_dict.data is data
    assert bare.data == {} and env.record("x", data=1).data == {"data": 1}
    assert seen == list(env.events) == [by_dict, by_keywords, bare, env.events[-1]]
    with pytest.raises(TypeError, match="data as a dict or as keywords, not both"):
        env.record("state", {"a": 1}, b=2)
    assert len(env.events) == 4
