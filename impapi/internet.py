"""The Internet as the agent sees it: answers for ``http.request(...)``, never the real Internet.

An agent's outgoing request is answered by the first rule that takes it, in the order the rules
were added (:class:`Routes`):

- a **route**: a URL pattern (``*`` matches anything) and a canned :class:`Reply` (status,
  headers, body, latency, a body streamed in chunks, or a failure: ``"timeout"``,
  ``"unreachable"``, ``"refused"``); from Python (``sim.internet.route(...)``) or from a
  scenario file's ``[[http]]`` tables;
- a **responder**: a Python function that gets the :class:`OutboundRequest` and returns a
  :class:`Reply` (or a status, ``(status, body)``, ``(status, body, headers)``), or None to pass;
- a **forward** to a real HTTP server on this machine (``localhost``, ``127.x.x.x``, ``[::1]``:
  a test server, ``pytest-httpserver``): the request really goes there, and its answer reaches
  the agent after a virtual latency. No other address is ever contacted.

A request to the agent's own URL goes to its own ``http.onrequest`` (:mod:`impapi.natives.http`).
Anything else fails as a request to a host that does not resolve does on an imp (statuscode 6),
and the log says how to answer it. Status codes below 100 are libcurl's error codes, as the
imp reports them (developer.electricimp.com/api/httprequest/sendsync).
"""

from __future__ import annotations

import http.client
import ipaddress
import json as _json
import re
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .durations import parse_duration

__all__ = ["FAILURES", "Internet", "OutboundRequest", "Reply", "Route", "Routes", "is_loopback"]

# libcurl's error codes, which the imp reports as statuscode for a request that got no HTTP answer.
UNSUPPORTED_PROTOCOL, URL_MALFORMED, COULDNT_RESOLVE_HOST, COULDNT_CONNECT, TIMED_OUT = 1, 3, 6, 7, 28
FAILURES: Mapping[str, int] = {"unreachable": COULDNT_RESOLVE_HOST, "refused": COULDNT_CONNECT, "timeout": TIMED_OUT}
WALL_TIMEOUT_S = 30.0  # a local server that takes longer than this (real seconds) has timed out


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (the only place a request may really go)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _us(value: Any, what: str) -> int:
    try:
        us = parse_duration(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: {e}") from None
    if us < 0:
        raise ValueError(f"{what} cannot be negative")
    return us


def _text(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"a body is str or bytes, not {type(value).__name__}")


@dataclass
class OutboundRequest:
    """A request the agent sent. ``status`` and ``answered_by`` (``"route"``, ``"responder"``,
    ``"localhost"``, ``"agent"``, or None when nothing answered) are filled in as it is answered."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    time_us: int
    status: int | None = None
    answered_by: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.body)


class Reply:
    """What answers a request: ``status``, ``body`` (str or bytes; ``json=`` encodes a value and
    sets ``content-type``), ``headers``; ``latency`` (``"250ms"``, or seconds) from the request to
    the answer (default ``Config.http_latency_us``); ``chunks``: a body that arrives in pieces,
    ``chunk_interval`` apart (a streaming callback gets each piece); ``fail``: ``"timeout"`` (no
    answer: the request times out), ``"unreachable"`` or ``"refused"`` instead of an answer."""

    __slots__ = ("status", "body", "headers", "latency_us", "chunks", "chunk_interval_us", "fail")

    def __init__(self, status: int = 200, body: str | bytes = "", headers: Mapping[str, Any] | None = None, *,
                 json: Any = None, latency: str | int | float | None = None, chunks: Sequence[str | bytes] = (),
                 chunk_interval: str | int | float | None = None, fail: str | None = None) -> None:
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status from 100 to 599, not {status!r}")
        if fail is not None and fail not in FAILURES:
            raise ValueError(f"fail must be one of {', '.join(FAILURES)}, not {fail!r}")
        self.status = status
        self.headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        if json is not None:
            body = _json.dumps(json, separators=(",", ":"))
            self.headers.setdefault("content-type", "application/json")
        self.body = _text(body)
        self.chunks = tuple(_text(c) for c in chunks)
        if self.chunks and self.body:
            raise ValueError("give a body or chunks, not both")
        self.latency_us = None if latency is None else _us(latency, "latency")
        self.chunk_interval_us = 0 if chunk_interval is None else _us(chunk_interval, "chunk_interval")
        self.fail = fail

    @classmethod
    def of(cls, value: Any) -> Reply | None:
        """A responder's answer as a Reply: a Reply, a status, ``(status, body[, headers])``, a
        dict of Reply's arguments, or None (no answer)."""
        if value is None or isinstance(value, Reply):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, tuple) and 1 <= len(value) <= 3:
            return cls(*value)
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"a responder returns a Reply, a status, (status, body[, headers]), a dict or None, "
                        f"not {value!r}")

    def _key(self) -> tuple:
        return (self.status, self.body, tuple(self.headers.items()), self.latency_us, self.chunks,
                self.chunk_interval_us, self.fail)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reply) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        what = f"fail={self.fail!r}" if self.fail else f"{self.status}, {self.body[:40]!r}"
        return f"Reply({what})"


class Route:
    """One rule of a :class:`Routes` table."""

    def __init__(self, url: str, *, method: str | None = None, reply: Reply | None = None,
                 forward_to: str | None = None, times: int | None = None, latency_us: int | None = None) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError("a route needs a URL (or a pattern with *)")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError(f"times must be a positive integer, not {times!r}")
        self.url = url
        self.method = method.upper() if method else None
        self.reply = reply
        self.forward_to = forward_to
        self.times = times
        self.latency_us = latency_us
        self.hits = 0
        pattern = url + "*" if forward_to is not None and not url.endswith("*") else url
        self._query_matters = "?" in pattern
        self._rx = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)

    def matches(self, request: OutboundRequest) -> bool:
        if self.method is not None and self.method != request.method:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        url = request.url if self._query_matters else request.url.split("?", 1)[0]
        return self._rx.fullmatch(url) is not None

    def copy(self) -> Route:
        """The same rule, not yet used (``times`` counts afresh)."""
        return Route(self.url, method=self.method, reply=self.reply, forward_to=self.forward_to, times=self.times,
                     latency_us=self.latency_us)

    def _key(self) -> tuple:
        return (self.url, self.method, self.reply, self.forward_to, self.times, self.latency_us)

    def __eq__(self, other: object) -> bool:  # the rule, not how often it was used
        return isinstance(other, Route) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        target = f"forward to {self.forward_to}" if self.forward_to else repr(self.reply)
        return f"Route({self.method or '*'} {self.url} -> {target})"


Responder = Callable[[OutboundRequest], Any]


class Routes:
    """An ordered table of ways to answer the agent's outgoing requests; the first that answers
    wins. One table can serve several simulations (the pytest fixture ``impsim_internet``)."""

    def __init__(self) -> None:
        self.rules: list[Route | Responder] = []

    def route(self, url: str, reply: Reply | None = None, *, method: str | None = None, times: int | None = None,
              **reply_args: Any) -> Route:
        """Answer requests to ``url`` (``*`` matches anything; without a ``?`` the query string
        is ignored) with ``reply``, or a :class:`Reply` made of ``reply_args`` (``status``,
        ``body``, ``json``, ``headers``, ``latency``, ``chunks``, ``chunk_interval``, ``fail``).
        ``method``: only that method; ``times``: only the first so many requests."""
        rule = Route(url, method=method, reply=reply if reply is not None else Reply(**reply_args), times=times)
        self.rules.append(rule)
        return rule

    def respond(self, responder: Responder) -> Responder:
        """Let ``responder(request)`` answer (a Reply, a status, ``(status, body[, headers])``)
        or pass (None). Usable as a decorator."""
        if not callable(responder):
            raise TypeError(f"a responder is a function of the request, not {responder!r}")
        self.rules.append(responder)
        return responder

    def forward(self, url: str, to: str | None = None, *, method: str | None = None,
                latency: str | int | float | None = None) -> Route:
        """Send requests whose URL starts with ``url`` to a real HTTP server on this machine:
        ``to`` replaces that start (``forward("https://api.example.com", "http://127.0.0.1:8080")``),
        or, without ``to``, ``url`` is itself the local server's address. The answer reaches the
        agent ``latency`` later in virtual time, however long the server took."""
        target = url if to is None else to
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{target!r}: forward to an http:// or https:// URL of a server on this machine")
        if not is_loopback(parts.hostname):
            raise ValueError(f"{target!r}: only a server on this machine (localhost, 127.0.0.1, [::1]) can "
                             "answer; impsim never sends a request to the Internet")
        rule = Route(url, method=method, forward_to=target,
                     latency_us=None if latency is None else _us(latency, "latency"))
        self.rules.append(rule)
        return rule

    def answer(self, request: OutboundRequest) -> tuple[Reply, str] | None:
        """The first rule's answer and what gave it (``"route"``, ``"responder"``,
        ``"localhost"``), or None."""
        for rule in self.rules:
            if isinstance(rule, Route):
                if not rule.matches(request):
                    continue
                rule.hits += 1
                if rule.forward_to is not None:
                    return _ask_local_server(rule, request), "localhost"
                return rule.reply, "route"  # type: ignore[return-value]
            reply = Reply.of(rule(request))
            if reply is not None:
                return reply, "responder"
        return None

    def add(self, *rules: Route | Responder) -> Routes:
        self.rules.extend(rules)
        return self

    def __len__(self) -> int:
        return len(self.rules)


def _ask_local_server(rule: Route, request: OutboundRequest) -> Reply:
    """Send ``request`` to the local server ``rule`` forwards to, now (wall time)."""
    url = rule.forward_to + request.url[len(rule.url.rstrip("*")):] if rule.url != rule.forward_to \
        else request.url
    parts = urlsplit(url)
    assert parts.hostname is not None and is_loopback(parts.hostname)  # checked by Routes.forward
    if parts.scheme == "https":  # a test server's certificate is its own: nothing to verify here
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=WALL_TIMEOUT_S, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WALL_TIMEOUT_S)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(request.method, target, body=request.body or None, headers=request.headers)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    except (socket.timeout, TimeoutError):
        reply = Reply(fail="timeout")
    except OSError:  # nothing listening there, or the connection broke
        reply = Reply(fail="refused")
    else:
        reply = Reply(status, body, headers) if 100 <= status <= 599 else Reply(fail="refused")
    finally:
        conn.close()
    reply.latency_us = rule.latency_us
    return reply


# --- scenario files: [[http]] tables -----------------------------------------------------------

ROUTE_KEYS = ("url", "method", "status", "body", "json", "headers", "latency", "chunks", "chunk_interval",
              "fail", "times", "forward")


def route_from_toml(entry: dict, where: str) -> Route:
    """One ``[[http]]`` table of a scenario file as a :class:`Route`; errors name ``where``."""
    import difflib

    for key in entry:
        if key not in ROUTE_KEYS:
            close = difflib.get_close_matches(key, ROUTE_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}: unknown field {key!r}{hint}: valid fields are {', '.join(ROUTE_KEYS)}")
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}: 'url' is required: the URL to answer, e.g. \"https://api.example.com/v1/*\"")
    method = entry.get("method")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise ValueError(f"{where}: field 'method': an HTTP method such as \"GET\", not {method!r}")
    try:
        if "forward" in entry:
            extra = sorted(set(entry) - {"url", "method", "latency", "forward"})
            if extra:
                raise ValueError(f"a forwarded route takes its answer from the server: remove {', '.join(extra)}")
            return Routes().forward(url, entry["forward"], method=method, latency=entry.get("latency"))
        headers = entry.get("headers", {})
        if not isinstance(headers, dict):
            raise ValueError("field 'headers': a table such as { \"content-type\" = \"text/plain\" }")
        args = {k: entry[k] for k in ("status", "body", "json", "latency", "chunk_interval", "fail") if k in entry}
        if "chunks" in entry:
            if not isinstance(entry["chunks"], list) or not all(isinstance(c, str) for c in entry["chunks"]):
                raise ValueError("field 'chunks': a list of strings")
            args["chunks"] = entry["chunks"]
        return Route(url, method=method, reply=Reply(headers=headers, **args), times=entry.get("times"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def route_to_toml(rule: Route) -> list[str]:
    """``key = value`` lines of an ``[[http]]`` table that :func:`route_from_toml` reads back."""
    def s(text: str) -> str:
        return _json.dumps(text, ensure_ascii=False)

    lines = [f"url = {s(rule.url)}"]
    if rule.method:
        lines.append(f"method = {s(rule.method)}")
    if rule.forward_to is not None:
        lines.append(f"forward = {s(rule.forward_to)}")
        if rule.latency_us is not None:
            lines.append(f"latency = \"{rule.latency_us}us\"")
        return lines
    r = rule.reply
    assert r is not None
    if r.fail:
        lines.append(f"fail = {s(r.fail)}")
    else:
        lines.append(f"status = {r.status}")
    if r.body:
        lines.append(f"body = {s(r.body.decode('utf-8', 'surrogateescape'))}")
    if r.chunks:
        lines.append("chunks = [" + ", ".join(s(c.decode("utf-8", "surrogateescape")) for c in r.chunks) + "]")
    if r.chunk_interval_us:
        lines.append(f"chunk_interval = \"{r.chunk_interval_us}us\"")
    if r.headers:
        lines.append("headers = { " + ", ".join(f"{s(k)} = {s(v)}" for k, v in r.headers.items()) + " }")
    if r.latency_us is not None:
        lines.append(f"latency = \"{r.latency_us}us\"")
    if rule.times is not None:
        lines.append(f"times = {rule.times}")
    return lines


# --- one simulation's view ---------------------------------------------------------------------

@dataclass
class Internet:
    """``sim.internet``: the rules that answer this simulation's agent (shared with whoever made
    them) and the requests it sent (``requests``, when the simulation keeps its history)."""

    routes: Routes = field(default_factory=Routes)
    requests: list[OutboundRequest] = field(default_factory=list)
    keep: bool = True  # keep ``requests`` (Simulation's keep_history)
    hinted: bool = False  # the log has said once how to answer an unanswered request

    def route(self, url: str, reply: Reply | None = None, **kw: Any) -> Route:
        return self.routes.route(url, reply, **kw)

    def respond(self, responder: Responder) -> Responder:
        return self.routes.respond(responder)

    def forward(self, url: str, to: str | None = None, **kw: Any) -> Route:
        return self.routes.forward(url, to, **kw)
