"""The agent's ``http`` object: its URL and incoming requests (imp-api.md §1.2)."""

from __future__ import annotations

from typing import Any

import squirrel

from ..api import AGENT, Api, ImpError

http = Api("http")


@http.native((AGENT,))
def agenturl(host: Any) -> str:
    return host.owner.url


@http.native((AGENT,))
def onrequest(host: Any, callback: Any) -> None:
    host.handlers["\x00onrequest"] = callback


class _Response:
    __slots__ = ("status", "body", "headers", "done")

    def __init__(self) -> None:
        self.status, self.body, self.headers, self.done = 0, "", {}, False


def deliver_request(agent: Any, method: str, path: str, body: str, headers: dict,
                    wait_us: int) -> tuple[int, str, dict]:
    """Run ``http.onrequest(request, response)`` and the clock until ``response.send``."""
    host = agent.host
    handler = host.handlers.get("\x00onrequest") if host is not None and host.alive else None
    if handler is None:
        return 404, "", {}
    resp = _Response()

    def send(status: int, data: Any = "") -> None:
        if resp.done:
            raise ImpError("response already sent")
        resp.status = int(status)
        resp.body = data if isinstance(data, str) else bytes(data).decode("latin-1") \
            if isinstance(data, (bytes, squirrel.Blob)) else squirrel.proxies.tostring(host.vm, data)
        resp.done = True

    def header(name: str, value: Any) -> None:
        resp.headers[str(name).lower()] = str(value)

    query = {}
    if "?" in path:
        from urllib.parse import parse_qsl

        path, qs = path.split("?", 1)
        query = dict(parse_qsl(qs))
    request = {"method": method.upper(), "path": path, "query": query, "body": body,
               "headers": {k.lower(): v for k, v in headers.items()}}
    response = {"send": send, "header": header}
    host._fire(handler, (host.vm.to_squirrel(request), host.vm.to_squirrel(response)))
    clock = agent.clock
    deadline = clock.now_us + wait_us
    while not resp.done and clock.peek() is not None and clock.peek() <= deadline:
        clock.step()
    if not resp.done:
        return 504, "", {}
    return resp.status, resp.body, resp.headers
