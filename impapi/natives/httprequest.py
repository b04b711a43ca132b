"""The agent's outgoing ``httprequest`` objects (D:api/httprequest): ``sendasync``, ``sendsync``,
``cancel``, ``setvalidation``, answered in virtual time by :mod:`impapi.internet` or, for the
agent's own URL, by its own ``http.onrequest``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import constants as C
from ..api import Callback, ImpError, function
from ..internet import COULDNT_RESOLVE_HOST, FAILURES, TIMED_OUT, URL_MALFORMED, OutboundRequest, Reply
from ..language.web import to_bytes
from .incoming import text

SENT_TWICE = "httprequest: a request can be sent only once"


def new_request(host: Any, method: str, url: str, headers: Any, body: Any) -> dict:
    """The members of the httprequest object ``http.request(method, url, headers, body)`` returns."""
    return _Request(host, method, url, headers, body).members()


class _Request:
    """The natives' annotations (impapi.api) have checked the types: a string method and URL,
    a table or null of headers."""

    def __init__(self, host: Any, method: str | bytes, url: str | bytes, headers: Any, body: Any) -> None:
        self.host = host
        self.method = text(host, method).upper()
        self.url = url if isinstance(url, str) else url.decode("utf-8", "replace")
        self.headers = {text(host, k): text(host, v) for k, v in headers.items()} if headers is not None else {}
        self.body = b"" if body is None else to_bytes(body, "http.request: the body")
        self.sent = False
        self.cancelled = False
        self.timers: list[Any] = []

    def members(self) -> dict:
        # Squirrel checks the members' arguments from their annotations, as it does a native's.
        return {"sendasync": function(self.sendasync), "sendsync": function(self.sendsync),
                "cancel": function(self.cancel), "setvalidation": function(self.setvalidation)}

    # --- sending ------------------------------------------------------------------------------

    def _start(self) -> OutboundRequest:
        if self.sent:
            raise ImpError(SENT_TWICE)
        self.sent = True
        env, internet = self.host.env, self.host.owner.internet
        env.record("http-request", method=self.method, url=self.url)
        req = OutboundRequest(self.method, self.url, dict(self.headers), self.body, env.clock.now_us)
        if internet.keep:
            internet.requests.append(req)
        return req

    def sendasync(self, done: Callback, streaming: Callback | None = None, timeout: float | None = None) -> None:
        req = self._start()
        limit = self._timeout_us(timeout)
        if self._to_own_agent():
            req.answered_by = "agent"
            self._loop_back(req, done)
            return
        o = self._outcome(req)
        if o.reply is not None and streaming is not None:
            self._stream(o, streaming, limit)
        if o.done_us is None or (limit is not None and o.done_us > limit):
            if limit is not None:
                self._later(limit, done, self._table(req, TIMED_OUT))
        elif o.reply is None:
            self._later(o.done_us, done, self._table(req, o.status))
        else:
            streamed = streaming is not None and bool(o.reply.chunks)
            body = b"" if streamed else o.reply.body or b"".join(o.reply.chunks)
            self._later(o.done_us, done, self._table(req, o.status, body, o.reply.headers))

    def sendsync(self) -> Any:
        req = self._start()
        if self._to_own_agent():
            # The agent would wait on itself: its http.onrequest cannot run until this returns.
            raise ImpError("httprequest.sendsync() to the agent's own URL cannot be answered while the agent "
                           "waits; use sendasync()")
        o = self._outcome(req)
        limit = self.host.env.config.http_sync_timeout_us
        if o.done_us is None or o.done_us > limit:
            self._block(limit)
            table = self._table(req, TIMED_OUT)
        else:
            self._block(o.done_us)
            table = self._table(req, o.status) if o.reply is None else \
                self._table(req, o.status, o.reply.body or b"".join(o.reply.chunks), o.reply.headers)
        return self.host.vm.to_squirrel(table)

    def cancel(self) -> None:
        """Neither callback is called after this (D:api/httprequest/cancel)."""
        self.cancelled = True
        for t in self.timers:
            t.cancel()
        self.timers.clear()

    def setvalidation(self, mode: int | None = None) -> None:
        """Accepted; nothing is validated: no certificate reaches the simulation."""
        if mode not in (None, C.VALIDATE_NONE, C.VALIDATE_USING_SYSTEM_CA_CERTS):
            raise ImpError("httprequest.setvalidation: VALIDATE_NONE or VALIDATE_USING_SYSTEM_CA_CERTS expected")

    # --- the answer ---------------------------------------------------------------------------

    def _outcome(self, req: OutboundRequest) -> _Outcome:
        """What answers ``req``, and when (from now)."""
        latency = self.host.env.config.http_latency_us
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._note(f"HTTP {self.method} {self.url} from the agent: not an http:// or https:// URL "
                       f"(statuscode {URL_MALFORMED})")
            return _Outcome(URL_MALFORMED, None, latency, latency)
        found = self.host.owner.internet.routes.answer(req)
        if found is None:
            self._unanswered()
            return _Outcome(COULDNT_RESOLVE_HOST, None, latency, latency)
        reply, req.answered_by = found
        if reply.latency_us is not None:
            latency = reply.latency_us
        if reply.fail == "timeout":
            return _Outcome(TIMED_OUT, None, latency, None)
        if reply.fail is not None:
            return _Outcome(FAILURES[reply.fail], None, latency, latency)
        return _Outcome(reply.status, reply, latency,
                        latency + max(0, len(reply.chunks) - 1) * reply.chunk_interval_us)

    def _unanswered(self) -> None:
        internet = self.host.owner.internet
        text = (f"HTTP {self.method} {self.url} from the agent: nothing answers it here, so it fails as a "
                f"host that cannot be reached does (statuscode {COULDNT_RESOLVE_HOST})")
        if not internet.hinted:
            internet.hinted = True
            text += (". To answer requests: an [[http]] table in the scenario file (impsim run --scenario), "
                     "sim.internet.route(...) or .respond(...) in Python (the impsim_internet fixture in "
                     "pytest), or sim.internet.forward(url, \"http://127.0.0.1:PORT\") to a server of yours "
                     "on this machine")
        self._note(text)

    def _note(self, text: str) -> None:
        self.host.env.log.add(self.host.clock.now_us, "impsim", text)

    def _table(self, req: OutboundRequest, status: int, body: bytes = b"", headers: dict | None = None) -> dict:
        req.status = status
        return {"statuscode": status, "headers": dict(headers or {}), "body": _squirrel_string(body)}

    # --- time ---------------------------------------------------------------------------------

    def _timeout_us(self, timeout: Any) -> int | None:
        if timeout is None:
            return self.host.env.config.http_timeout_us
        if timeout == C.NO_TIMEOUT:
            return None
        if not math.isfinite(timeout):
            raise ImpError("httprequest.sendasync: the timeout must be a finite number of seconds")
        if timeout < 0:
            raise ImpError("httprequest.sendasync: the timeout cannot be negative (NO_TIMEOUT: none)")
        return int(round(timeout * 1e6))

    def _later(self, delay_us: int, fn: Any, *args: Any) -> None:
        if fn is not None and not self.cancelled:
            self.timers.append(self.host.schedule(delay_us, fn, *args))

    def _stream(self, o: _Outcome, streaming: Any, until_us: int | None) -> None:
        """Each chunk of the body to the streaming callback as it arrives (before the timeout)."""
        assert o.reply is not None
        for i, chunk in enumerate(o.reply.chunks):
            at = o.first_us + i * o.reply.chunk_interval_us
            if until_us is not None and at > until_us:
                break
            self._later(at, streaming, _squirrel_string(chunk))

    def _block(self, wait_us: int) -> None:
        """The agent waits for ``sendsync``: no other agent code runs meanwhile."""
        if wait_us <= 0:
            return
        self.host.block_until(self.host.clock.now_us + wait_us)  # the VM alone waits, the world runs on

    # --- the agent's own URL ------------------------------------------------------------------

    def _to_own_agent(self) -> bool:
        return self.url.startswith(self.host.owner.url)

    def _loop_back(self, req: OutboundRequest, done: Any) -> None:
        from .incoming import _start_request

        agent, host = self.host.owner, self.host
        path = self.url[len(agent.url):] or "/"
        text = self.body.decode("utf-8", "replace")

        def answered(status: int, body: str, headers: dict) -> None:
            req.status = status
            self._later(0, done, {"statuscode": status, "body": body, "headers": headers})

        def start() -> None:
            if self.cancelled:
                return
            resp = _start_request(agent, self.method, path, text, dict(self.headers),
                                  lambda r: answered(r.status, r.body, r.headers))
            if resp is None:
                answered(404, "", {})

        self.timers.append(host.clock.schedule(0, start))


@dataclass
class _Outcome:
    status: int  # the HTTP status, or libcurl's code for a request that got no answer
    reply: Reply | None  # None: no answer (a failure)
    first_us: int  # from the request to the first byte (or the failure)
    done_us: int | None  # to the whole answer; None: it never comes (the request times out)


def _squirrel_string(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # a Squirrel string holds any bytes

