"""The agent's ``http`` object: its URL, the handler of incoming requests (impapi.natives.incoming), outgoing requests (impapi.natives.httprequest) and ``http.hash``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ..api import AGENT, Api, Blob, Callback, Table
from ..language.web import to_bytes
from .httprequest import new_request as _request

http = Api("http")
hash_ = Api("hash")  # http.hash


@http.native((AGENT,))
def agenturl(host: Any) -> str:
    return host.owner.url


@http.native((AGENT,))
def onrequest(host: Any, callback: Callback | None) -> None:
    host.handlers["\x00onrequest"] = callback


@http.native((AGENT,))
def request(host: Any, method: str, url: str, headers: Table | None = None, body: str | Blob | None = "") -> Any:
    return host.vm.to_squirrel(_request(host, method, url, headers, body))


@http.native((AGENT,))
def get(host: Any, url: str, headers: Table | None = None) -> Any:
    return host.vm.to_squirrel(_request(host, "GET", url, headers, ""))


@http.native((AGENT,))
def post(host: Any, url: str, headers: Table | None, body: str | Blob | None) -> Any:
    return host.vm.to_squirrel(_request(host, "POST", url, headers, body))


@http.native((AGENT,))
def put(host: Any, url: str, headers: Table | None, body: str | Blob | None) -> Any:
    return host.vm.to_squirrel(_request(host, "PUT", url, headers, body))


@http.native((AGENT,))
def httpdelete(host: Any, url: str, headers: Table | None = None) -> Any:
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
        hash_.native((AGENT,), name=algorithm)(_plain_hash(algorithm))
        hash_.native((AGENT,), name="hmac" + algorithm)(_keyed_hash(algorithm))


def _plain_hash(algorithm: str) -> Any:
    def plain(host: Any, data: str | Blob) -> Any:
        return _digest(host, algorithm, data)

    return plain


def _keyed_hash(algorithm: str) -> Any:
    def keyed(host: Any, data: str | Blob, key: str | Blob) -> Any:
        return _digest(host, algorithm, data, key)

    return keyed


_register_hashes()
