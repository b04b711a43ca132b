"""Requests that reach the agent's own URL: ``http.onrequest`` and the answer it sends, for the
world outside (``Simulation.http``, a scenario's ``http=`` event) and for the agent's own
outgoing requests to its URL."""

from __future__ import annotations

from typing import Any

import squirrel

from ..api import ImpError, function


def text(host: Any, value: Any) -> str:
    """A header's name or value as text: Squirrel's tostring(); bytes that are not UTF-8 kept
    one character per byte."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else squirrel.proxies.tostring(host.vm, value)


class _Response:
    __slots__ = ("status", "body", "headers", "done")

    def __init__(self) -> None:
        self.status, self.body, self.headers, self.done = 0, "", {}, False


def _start_request(agent: Any, method: str, path: str, body: str, headers: dict,
                   on_done: Any = None) -> _Response | None:
    """Hand a request to ``http.onrequest``; None when the agent has no handler (a 404)."""
    host = agent.host
    handler = host.handlers.get("\x00onrequest") if host is not None and host.alive else None
    if handler is None:
        return None
    resp = _Response()

    @function
    def send(status: int, data: Any = "") -> None:
        if resp.done:
            raise ImpError("response already sent")
        resp.status = status
        resp.body = data if isinstance(data, str) else bytes(data).decode("latin-1") \
            if isinstance(data, (bytes, squirrel.Blob)) else squirrel.proxies.tostring(host.vm, data)
        resp.done = True
        if on_done is not None:
            on_done(resp)

    @function
    def header(name: str, value: Any) -> None:
        resp.headers[text(host, name).lower()] = text(host, value)

    query = {}
    if "?" in path:
        from urllib.parse import parse_qsl

        path, qs = path.split("?", 1)
        query = dict(parse_qsl(qs))
    request = {"method": method.upper(), "path": path, "query": query, "body": body,
               "headers": {k.lower(): v for k, v in headers.items()}}
    response = {"send": send, "header": header}
    host._fire(handler, (host.vm.to_squirrel(request), host.vm.to_squirrel(response)))
    return resp


def deliver_request(agent: Any, method: str, path: str, body: str, headers: dict,
                    wait_us: int) -> tuple[int, str, dict]:
    """Run ``http.onrequest(request, response)`` and the clock until ``response.send``."""
    resp = _start_request(agent, method, path, body, headers)
    if resp is None:
        return 404, "", {}
    clock = agent.env.clock
    deadline = clock.now_us + wait_us
    while not resp.done and clock.peek() is not None and clock.peek() <= deadline:
        clock.step()
    if not resp.done:
        return 504, "", {}
    return resp.status, resp.body, resp.headers


# Outgoing requests (http.request, get, post...): natives/httprequest.py.
