"""A user's pytest tests of agent code that calls other services: the impsim_internet fixture,
and a pytest-httpserver server answering the agent for real, on this machine, in virtual time."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "impapi.testing.pytest_plugin"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    # The inner run loads the plugin once, by name (the installed entry point would load it again).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


AGENT = '''
function report(reading) {
    local req = http.post("https://api.example.com/v1/readings", {"Content-Type": "application/json"},
                          http.jsonencode({"value": reading}));
    req.sendasync(function(r) { server.log("stored " + r.statuscode + " " + r.body); });
}
report(42);
'''


def test_the_fixture_and_a_pytest_httpserver_answer_the_agent(pytester):
    pytester.makepyfile(test_weather=textwrap.dedent(f'''
        AGENT = {AGENT!r}

        def test_with_a_route(impsim_simulation, impsim_internet, impsim_log):
            impsim_internet.route("https://api.example.com/v1/*", status=201, json={{"id": 7}}, latency="2s")
            sim = impsim_simulation(agent=AGENT)
            sim.run("5s")
            assert impsim_log.messages(source="agent") == ['stored 201 {{"id":7}}']
            [req] = sim.internet.requests
            assert req.json() == {{"value": 42}} and req.headers["Content-Type"] == "application/json"

        def test_with_pytest_httpserver(impsim_simulation, impsim_internet, impsim_log, httpserver):
            httpserver.expect_request("/v1/readings", method="POST", json={{"value": 42}}).respond_with_data(
                "ok", status=202)
            impsim_internet.forward("https://api.example.com", httpserver.url_for("/").rstrip("/"))
            sim = impsim_simulation(agent=AGENT)
            sim.run("5s")
            httpserver.check_assertions()
            assert impsim_log.messages(source="agent") == ["stored 202 ok"]

        def test_unanswered(impsim_simulation, impsim_log):
            impsim_simulation(agent=AGENT).run("5s")
            assert impsim_log.messages(source="agent") == ["stored 6 "]
    '''))
    result = pytester.runpytest("-p", PLUGIN, "-p", "pytest_httpserver", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
