"""The agent's ``http`` object: its URL and incoming requests (imp-api.md §1.2)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import squirrel

from ..api import AGENT, Api, ImpError
from ..language.web import to_bytes
from .httprequest import new_request as _request

http = Api("http")
hash_ = Api("hash")  # http.hash


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


def _start_request(agent: Any, method: str, path: str, body: str, headers: dict,
                   on_done: Any = None) -> _Response | None:
    """Hand a request to ``http.onrequest``; None when the agent has no handler (a 404)."""
    host = agent.host
    handler = host.handlers.get("\x00onrequest") if host is not None and host.alive else None
    if handler is None:
        return None
    resp = _Response()

    def send(status: int, data: Any = "") -> None:
        if resp.done:
            raise ImpError("response already sent")
        resp.status = int(status)
        resp.body = data if isinstance(data, str) else bytes(data).decode("latin-1") \
            if isinstance(data, (bytes, squirrel.Blob)) else squirrel.proxies.tostring(host.vm, data)
        resp.done = True
        if on_done is not None:
            on_done(resp)

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
    return resp


def deliver_request(agent: Any, method: str, path: str, body: str, headers: dict,
                    wait_us: int) -> tuple[int, str, dict]:
    """Run ``http.onrequest(request, response)`` and the clock until ``response.send``."""
    resp = _start_request(agent, method, path, body, headers)
    if resp is None:
        return 404, "", {}
    clock = agent.clock
    deadline = clock.now_us + wait_us
    while not resp.done and clock.peek() is not None and clock.peek() <= deadline:
        clock.step()
    if not resp.done:
        return 504, "", {}
    return resp.status, resp.body, resp.headers


# Outgoing requests (http.request, get, post...): natives/httprequest.py.


@http.native((AGENT,))
def request(host: Any, method: str, url: str, headers: Any = None, body: Any = "") -> Any:
    return host.vm.to_squirrel(_request(host, method.upper(), url, headers, body))


@http.native((AGENT,))
def get(host: Any, url: str, headers: Any = None) -> Any:
    return host.vm.to_squirrel(_request(host, "GET", url, headers, ""))


@http.native((AGENT,))
def post(host: Any, url: str, headers: Any, body: Any) -> Any:
    return host.vm.to_squirrel(_request(host, "POST", url, headers, body))


@http.native((AGENT,))
def put(host: Any, url: str, headers: Any, body: Any) -> Any:
    return host.vm.to_squirrel(_request(host, "PUT", url, headers, body))


@http.native((AGENT,))
def httpdelete(host: Any, url: str, headers: Any = None) -> Any:
    return host.vm.to_squirrel(_request(host, "DELETE", url, headers, ""))


# http.hash (D:api/http/hash): digests and HMACs of a string or blob, returned as a blob.

def _digest(host: Any, algorithm: str, data: Any, key: Any = None) -> Any:
    what = f"http.hash.{'hmac' if key is not None else ''}{algorithm}"
    raw = to_bytes(data, what)
    if key is None:
        return host.vm.new_blob(hashlib.new(algorithm, raw).digest())
    return host.vm.new_blob(hmac.new(to_bytes(key, what), raw, algorithm).digest())


def _register_hashes() -> None:
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        def plain(host: Any, data: Any, _a: str = algorithm) -> Any:
            return _digest(host, _a, data)

        def keyed(host: Any, data: Any, key: Any, _a: str = algorithm) -> Any:
            return _digest(host, _a, data, key)

        hash_.native((AGENT,), name=algorithm)(plain)
        hash_.native((AGENT,), name="hmac" + algorithm)(keyed)


_register_hashes()
