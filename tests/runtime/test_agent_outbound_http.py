"""The agent's requests to other services: answered by routes, responders and local servers, in
virtual time, never by the Internet (docs/imp-model/agent-http.md)."""

from __future__ import annotations

import textwrap
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from impapi import Config, Simulation
from impapi.internet import Reply, Routes
from impapi.scenario import Scenario, loads_toml
from impapi.simulation import simulate

S = 1_000_000


def agent_sim(code: str, routes: Routes | None = None, **kw) -> Simulation:
    return Simulation(agent=textwrap.dedent(code), internet=routes, **kw)


def agent_log(sim: Simulation) -> list[tuple[float, str]]:
    return [(e.time_us / S, e.text) for e in sim.log if e.source == "agent"]


def test_routes_answer_async_and_sync_requests_in_virtual_time():
    routes = Routes()
    routes.route("https://api.example.com/v1/items", method="GET", json={"items": [1, 2]}, latency="250ms",
                 headers={"X-Rate": "10"})
    routes.route("https://api.example.com/v1/items", method="POST", status=201, body="made", latency="2s")
    sim = agent_sim('''
        http.get("https://api.example.com/v1/items?page=2").sendasync(function(r) {
            server.log("get " + r.statuscode + " " + r.body + " " + r.headers["content-type"] + " " + r.headers["x-rate"]);
        });
        local r = http.post("https://api.example.com/v1/items", {}, "x").sendsync();
        server.log("post " + r.statuscode + " " + r.body);
    ''', routes)
    sim.run("10s")
    # sendsync blocks the agent for the route's 2 s; the GET's answer, due at 0.25 s, runs after it.
    assert agent_log(sim) == [(2.0, "post 201 made"),
                              (2.0, 'get 200 {"items":[1,2]} application/json 10')]
    reqs = sim.internet.requests
    assert [(r.method, r.url, r.status, r.answered_by, r.time_us) for r in reqs] == [
        ("GET", "https://api.example.com/v1/items?page=2", 200, "route", 0),
        ("POST", "https://api.example.com/v1/items", 201, "route", 0)]
    assert reqs[1].text == "x" and reqs[0].query == {"page": "2"}
    assert [(e.kind, e.data) for e in sim.events.of("http-request")] == [
        ("http-request", {"method": "GET", "url": "https://api.example.com/v1/items?page=2"}),
        ("http-request", {"method": "POST", "url": "https://api.example.com/v1/items"})]


def test_a_responder_sees_the_request_and_may_pass():
    seen = []
    routes = Routes()

    @routes.respond
    def echo(req):
        seen.append((req.method, req.path, req.headers, req.json()))
        if req.host == "echo.example.com":
            return Reply(202, "echo " + req.text, {"X-Id": "7"}, latency="1s")
        return None  # not ours: the next rule, or nothing

    routes.route("https://*", status=418)
    sim = agent_sim('''
        local body = http.jsonencode({"n": 1});
        http.put("https://echo.example.com/a/b", {"Content-Type": "application/json"}, body).sendasync(function(r) {
            server.log(r.statuscode + " " + r.body + " " + r.headers["x-id"]);
        });
        http.put("https://other.example.com/", {}, body).sendasync(function(r) { server.log("other " + r.statuscode); });
    ''', routes)
    sim.run("5s")
    assert agent_log(sim) == [(0.1, "other 418"), (1.0, '202 echo {"n": 1} 7')]
    assert seen[0] == ("PUT", "/a/b", {"Content-Type": "application/json"}, {"n": 1})


def test_streaming_and_timeouts():
    routes = Routes()
    routes.route("https://stream.example.com/*", chunks=["a", "b", "c"], chunk_interval="4s")
    routes.route("https://hang.example.com/*", fail="timeout")
    sim = agent_sim('''
        http.get("https://stream.example.com/feed").sendasync(
            function(r) { server.log("done " + r.statuscode + " [" + r.body + "]"); },
            function(data) { server.log("data " + data); });
        http.get("https://stream.example.com/short").sendasync(
            function(r) { server.log("short " + r.statuscode); }, function(data) { server.log("short data " + data); }, 5);
        http.get("https://stream.example.com/whole").sendasync(function(r) { server.log("whole " + r.body); });
        http.get("https://hang.example.com/").sendasync(function(r) { server.log("hang " + r.statuscode); });
        http.get("https://hang.example.com/forever").sendasync(function(r) { server.log("never"); }, null, NO_TIMEOUT);
        local r = http.get("https://hang.example.com/sync").sendsync();
        server.log("sync " + r.statuscode);
    ''', routes)
    sim.run("1h")
    assert agent_log(sim) == [
        (60.0, "sync 28"),  # sendsync gives up after a minute (Config.http_sync_timeout_us)
        (60.0, "data a"), (60.0, "short data a"),  # due at 0.1 s: they waited for the sendsync
        (60.0, "data b"), (60.0, "short data b"), (60.0, "short 28"),
        (60.0, "data c"), (60.0, "done 200 []"), (60.0, "whole abc"),
        (600.0, "hang 28"),  # sendasync's default timeout, 600 s (Config.http_timeout_us)
    ]


def test_timeouts_follow_the_config():
    routes = Routes()
    routes.route("https://hang.example.com/*", fail="timeout")
    sim = agent_sim('''
        http.get("https://hang.example.com/").sendasync(function(r) { server.log("async " + r.statuscode); });
        server.log("sync " + http.get("https://hang.example.com/").sendsync().statuscode);
    ''', routes, config=Config(http_timeout_us=20 * S, http_sync_timeout_us=5 * S, http_latency_us=0))
    sim.run("1m")
    assert agent_log(sim) == [(5.0, "sync 28"), (20.0, "async 28")]


def test_failures_cancel_and_one_send_per_request():
    routes = Routes()
    routes.route("https://down.example.com/", fail="refused", latency="3s")
    routes.route("https://gone.example.com/", fail="unreachable")
    routes.route("https://twice.example.com/", status=200, times=1)
    sim = agent_sim('''
        http.get("https://down.example.com/").sendasync(function(r) { server.log("down " + r.statuscode); });
        http.get("https://gone.example.com/").sendasync(function(r) { server.log("gone " + r.statuscode); });
        local req = http.get("https://slow.example.com/");
        req.sendasync(function(r) { server.log("cancelled, yet called"); });
        req.cancel();
        try { req.sendasync(function(r) {}); } catch (e) { server.log(e); }
        http.get("https://twice.example.com/").sendasync(function(r) { server.log("first " + r.statuscode); });
        http.get("https://twice.example.com/").sendasync(function(r) { server.log("second " + r.statuscode); });
        http.get("gopher://old.example.com/").sendasync(function(r) { server.log("gopher " + r.statuscode); });
    ''', routes)
    sim.run("10s")
    assert agent_log(sim) == [
        (0.0, "httprequest: a request can be sent only once"),
        (0.1, "gone 6"), (0.1, "first 200"), (0.1, "second 6"), (0.1, "gopher 3"), (3.0, "down 7")]


def test_unanswered_requests_fail_and_the_log_says_how_to_answer():
    sim = agent_sim('''
        http.get("https://api.salesforce.example/x").sendasync(function(r) { server.log("a " + r.statuscode); });
        http.get("https://api.twilio.example/y").sendasync(function(r) { server.log("b " + r.statuscode); });
    ''')
    sim.run("5s")
    assert agent_log(sim) == [(0.1, "a 6"), (0.1, "b 6")]
    notes = sim.log.messages(type="impsim")
    assert len(notes) == 2
    assert notes[0].startswith("HTTP GET https://api.salesforce.example/x from the agent: nothing answers it here")
    assert "[[http]]" in notes[0] and "sim.internet.route" in notes[0] and "impsim_internet" in notes[0]
    assert notes[1] == ("HTTP GET https://api.twilio.example/y from the agent: nothing answers it here, so it "
                        "fails as a host that cannot be reached does (statuscode 6)")


class _Server:
    """A real HTTP server on 127.0.0.1, in a thread, that records what it was asked."""

    def __init__(self) -> None:
        self.asked = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                n = int(self.headers.get("content-length") or 0)
                outer.asked.append((self.command, self.path, self.rfile.read(n), self.headers.get("x-token")))
                self.send_response(201)
                self.send_header("X-Server", "local")
                self.end_headers()
                self.wfile.write(b"stored")

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_local_server_answers_in_virtual_time():
    with _Server() as server:
        routes = Routes()
        routes.forward("https://api.example.com/v1", server.url + "/api", latency="2s")
        routes.forward(server.url)
        sim = agent_sim('''
            http.post("https://api.example.com/v1/readings?n=3", {"X-Token": "t"}, "42").sendasync(function(r) {
                server.log(r.statuscode + " " + r.body + " " + r.headers["x-server"]);
            });
            local r = http.get(http.agenturl().slice(0, 0) + "%s/direct").sendsync();
            server.log("direct " + r.statuscode);
        ''' % server.url, routes)
        sim.run("10s")
    assert server.asked == [("POST", "/api/readings?n=3", b"42", "t"), ("GET", "/direct", b"", None)]
    assert agent_log(sim) == [(0.1, "direct 201"), (2.0, "201 stored local")]
    assert [r.answered_by for r in sim.internet.requests] == ["localhost", "localhost"]


def test_a_closed_local_port_is_a_refused_connection():
    with _Server() as server:
        url = server.url
    routes = Routes()
    routes.forward(url)  # the server is gone: nothing listens there any more
    sim = agent_sim(f'server.log(http.get("{url}/").sendsync().statuscode);', routes)
    sim.run("1s")
    assert agent_log(sim) == [(0.1, "7")]


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "https://api.example.com/", "http://192.168.1.5:80",
                                    "ftp://127.0.0.1/", "http://127.0.0.1.example.com/"])
def test_only_this_machine_may_be_forwarded_to(target):
    with pytest.raises(ValueError, match="this machine"):
        Routes().forward("https://api.example.com", target)


def test_the_same_routes_answer_the_same_way_every_run():
    def run():
        routes = Routes()
        routes.route("https://api.example.com/*", json={"ok": True}, times=2)
        sim = agent_sim('''
            function poll() {
                http.get("https://api.example.com/s").sendasync(function(r) { server.log(r.statuscode + " " + r.body); });
                imp.wakeup(30, poll);
            }
            poll();
        ''', routes)
        sim.run("2m")
        return sim.log.text()

    first = run()
    assert first == run()
    # polls at 0, 30, 60, 90 s are answered (the last two fail); the one at 120 s is still on its way
    assert first.count('200 {"ok":true}') == 2 and first.count("[Agent] 6") == 2


SCENARIO = '''
[scenario]
duration = "1m"

[[http]]
url = "https://api.example.com/v1/*"
method = "POST"
status = 201
json = { ok = true }
headers = { "x-request-id" = "42" }
latency = "300ms"
times = 1

[[http]]
url = "https://stream.example.com/events"
chunks = ["data: 1", "data: 2"]
chunk_interval = "5s"

[[http]]
url = "https://flaky.example.com/*"
fail = "timeout"
'''


def test_a_scenario_files_http_tables_answer_and_read_back_equal(tmp_path):
    scn = loads_toml(SCENARIO, base_dir=tmp_path)
    assert len(scn.http) == 3
    assert loads_toml(scn.to_toml(tmp_path), base_dir=tmp_path) == scn
    sim = simulate(scn, agent='''
        http.post("https://api.example.com/v1/r", {}, "").sendasync(function(r) {
            server.log(r.statuscode + " " + r.body + " " + r.headers["x-request-id"]);
        });
        http.post("https://api.example.com/v1/r", {}, "").sendasync(function(r) { server.log("again " + r.statuscode); });
        http.get("https://stream.example.com/events").sendasync(function(r) {}, function(d) { server.log(d); });
        http.get("https://flaky.example.com/").sendasync(function(r) { server.log("flaky " + r.statuscode); }, null, 30);
    ''')
    assert agent_log(sim) == [(0.1, "again 6"), (0.1, "data: 1"), (0.3, '201 {"ok":true} 42'),
                              (5.1, "data: 2"), (30.0, "flaky 28")]
    with pytest.raises(ValueError, match="cannot be written as impsim run flags"):
        scn.to_cli_args()


@pytest.mark.parametrize("table, message", [
    ('url = "https://x/"\nstatsu = 200', "[[http]] 1: unknown field 'statsu' (did you mean 'status'?)"),
    ('method = "GET"', "[[http]] 1: 'url' is required"),
    ('url = "https://x/"\nfail = "slow"', "fail must be one of unreachable, refused, timeout"),
    ('url = "https://x/"\nstatus = 99', "status must be an HTTP status from 100 to 599"),
    ('url = "https://x/"\nforward = "http://8.8.8.8/"', "only a server on this machine"),
    ('url = "https://x/"\nforward = "http://127.0.0.1:9/"\nstatus = 200', "remove status"),
    ('url = "https://x/"\nlatency = "soon"', "latency"),
])
def test_a_bad_http_table_names_the_table_and_the_field(tmp_path, table, message):
    with pytest.raises(ValueError) as e:
        loads_toml(f"[[http]]\n{table}\n", base_dir=tmp_path, name="run.toml")
    assert str(e.value).startswith("run.toml: ")
    assert message in str(e.value)


def test_scenario_routes_start_afresh_in_each_simulation():
    scn = loads_toml('[[http]]\nurl = "https://x.example/"\ntimes = 1\n')
    code = 'http.get("https://x.example/").sendasync(function(r) { server.log(r.statuscode); });'
    for _ in range(2):
        sim = simulate(Scenario(http=scn.http, duration_us=S), agent=code)
        assert agent_log(sim) == [(0.1, "200")]
