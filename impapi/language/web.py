"""The Python half of the imp's helpers: ``format`` for 32-bit negatives, ``crypto.equals``, the
agent's ``http.json*/url*/base64*`` and ``regexp2`` (imp-api.md §9.2–§9.3, §3.6; the choices where
the docs are silent are listed in :mod:`impapi.language`)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import struct
from functools import lru_cache
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

import re2

from squirrel import MemoryLimitError, ScriptError, SquirrelError
from squirrel.proxies import Array, Blob, SquirrelObject, Table

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_FLOAT = struct.Struct("<f")


def to_bytes(value: Any, what: str) -> bytes:
    """A Squirrel string or blob as bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, Blob):
        return bytes(value)
    raise ScriptError(f"{what}: string or blob expected, got {_typename(value)}")


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (str, bytes)):
        return "string"
    if isinstance(value, SquirrelObject):
        try:
            return value.typeof()
        except SquirrelError:
            return value.kind
    return type(value).__name__


def _float32(x: float) -> float:
    return _FLOAT.unpack(_FLOAT.pack(x))[0]


def format_squirrel_float(x: float) -> str:
    """Squirrel's ``tostring`` of a float (C ``%g``)."""
    return "%g" % x


# -- format() with 32-bit unsigned conversions (imp-api.md §9.1, §9.3) ----------------------------

_FLAGS = b"-+ #0"


def _skip_digits(f: bytes, n: int, size: int, what: str) -> int:
    """Past the digits of a width or precision at ``n``; like the C format, at most two."""
    digits = 0
    while n < size and 0x30 <= f[n] <= 0x39:
        n += 1
        digits += 1
        if digits >= 3:
            raise ScriptError(f"{what} format too long")
    return n


def format32(fmt: str | bytes, args: Any) -> bytes:
    """sqstdlib's ``format`` where ``%x %X %o %u`` see a negative integer as its 32-bit two's
    complement, as on the imp. Same errors as sqstdstring.cpp; only used when an argument is a
    negative integer (the prelude calls the stock C ``format`` otherwise)."""
    f = fmt.encode("utf-8") if isinstance(fmt, str) else bytes(fmt)
    values = list(args)
    out = bytearray()
    n, size, ai = 0, len(f), 0
    while n < size:
        c = f[n]
        if c != 0x25:  # '%'
            out.append(c)
            n += 1
            continue
        if n + 1 < size and f[n + 1] == 0x25:
            out += b"%"
            n += 2
            continue
        n += 1
        if ai >= len(values):
            raise ScriptError("not enough parameters for the given format string")
        start = n
        while n < size and f[n] in _FLAGS:
            n += 1
        n = _skip_digits(f, n, size, "width")
        if n < size and f[n] == 0x2E:  # '.'
            n = _skip_digits(f, n + 1, size, "precision")
        if n - start > 20:
            raise ScriptError("format too long")
        conv = chr(f[n]) if n < size else "\0"
        spec = f[start:n]
        v = values[ai]
        if conv == "s":
            if not isinstance(v, (str, bytes)):
                raise ScriptError("string expected for the specified format")
            out += (b"%" + spec + b"s") % (v.encode("utf-8") if isinstance(v, str) else v,)
        elif conv in "idouxXc":
            if isinstance(v, (bool, float)):
                v = int(v)
            elif not isinstance(v, int):
                raise ScriptError("integer expected for the specified format")
            if b"." in spec and conv != "c":  # C ignores the 0 flag when a precision is given
                flags = spec[:len(spec) - len(spec.lstrip(_FLAGS))]
                spec = flags.replace(b"0", b"") + spec[len(flags):]
            if v == 0 and conv != "c" and b"." in spec and not spec.split(b".")[1].lstrip(b"0"):
                out += _empty_zero(spec, conv)  # C prints no digits for a zero at precision 0
            elif conv in "ouxX":
                if v < 0:
                    v &= 0xFFFFFFFF if v >= _INT32_MIN else 0xFFFFFFFFFFFFFFFF
                spec = spec.replace(b"+", b"").replace(b" ", b"")  # C ignores them for unsigned
                if v == 0:
                    spec = spec.replace(b"#", b"")  # C: no 0x prefix (nor extra 0) for zero
                if conv == "o" and b"#" in spec:  # C: a leading 0 (Python's "#" gives "0o")
                    flags = spec[:len(spec) - len(spec.lstrip(_FLAGS))]
                    width, _, prec = spec[len(flags):].partition(b".")
                    digits = (b"%." + (prec or b"0") + b"o") % v if b"." in spec else b"%o" % v
                    if not digits.startswith(b"0"):
                        digits = b"0" + digits
                    w = int(width or 0)
                    out += (digits.ljust(w) if b"-" in flags else
                            digits.rjust(w, b"0") if b"0" in flags else digits.rjust(w))
                else:
                    out += (b"%" + spec + (b"d" if conv == "u" else conv.encode())) % v
            elif conv == "c":
                out += (b"%" + spec + b"c") % (v & 0xFF)
            else:
                out += (b"%" + spec + b"d") % v
        elif conv in "fgGeE":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ScriptError("float expected for the specified format")
            out += (b"%" + spec + conv.encode()) % _float32(float(v))
        else:
            raise ScriptError("invalid format")
        n += 1
        ai += 1
    return bytes(out)


def _empty_zero(spec: bytes, conv: str) -> bytes:
    flags = spec[:len(spec) - len(spec.lstrip(_FLAGS))]
    width = int(spec[len(flags):].split(b".")[0] or 0)
    body = b""
    if conv in "di":
        body = b"+" if b"+" in flags else b" " if b" " in flags else b""
    elif conv == "o" and b"#" in flags:
        body = b"0"
    return body.ljust(width) if b"-" in flags else body.rjust(width)


# -- crypto.equals (imp-api.md §9.2; used by impUnit's assertDeepEqual) ----------------------------

def crypto_equals(a: Any, b: Any) -> bool:
    """Constant-time comparison of two strings/blobs (by their bytes)."""
    return hmac.compare_digest(to_bytes(a, "crypto.equals"), to_bytes(b, "crypto.equals"))


# -- http.jsonencode / jsondecode -----------------------------------------------------------------

_json_string = json.JSONEncoder(ensure_ascii=False).encode


def _jstr(s: str | bytes) -> str:
    if isinstance(s, bytes):
        s = s.decode("utf-8", "surrogateescape")  # bytes that are not UTF-8 pass through unchanged
    return _json_string(s)


def _jkey(k: Any) -> str:
    t = type(k)
    if t is str or t is bytes:
        return _jstr(k)
    if t is bool:
        return '"true"' if k else '"false"'
    if t is int:
        return f'"{k}"'
    if t is float:
        return f'"{format_squirrel_float(k)}"'
    raise ScriptError(f"http.jsonencode: a {_typename(k)} cannot be a JSON key")


# How deep http.jsonencode follows tables and arrays (the imp's limit is not documented; real
# data is a few levels deep, and deeper would meet Python's recursion limit).
JSON_MAX_DEPTH = 256

# The most JSON text http.jsonencode writes for a VM without a memory limit (an agent always has
# one: its text must fit the memory the agent has left).
JSON_MAX_BYTES = 16 << 20


def json_encode(value: Any, settings: Any = None, room: int = JSON_MAX_BYTES) -> bytes:
    """JSON for a Squirrel value: tables in Squirrel's iteration order, floats like Squirrel's
    ``tostring``, ``", "``/``": "`` separators unless ``settings.compact`` is true.

    The text is counted as it is written: past ``room`` bytes it could not be held, and the call
    is out of memory (:class:`squirrel.MemoryLimitError`) -- at once, not after expanding a table
    that holds the same table twice at every level into 2^depth copies."""
    compact = False
    if isinstance(settings, Table):
        compact = bool(settings.get("compact", False))
    elif settings is not None:
        raise ScriptError("http.jsonencode: settings must be a table")
    item_sep, key_sep = (",", ":") if compact else (", ", ": ")
    out: list[str] = []
    path: set = set()
    left = [room]
    # A table or array met again is written again (JSON has no references): its text is taken
    # from where it was first written, so a value that shares tables costs the length of its
    # text, not a walk of every copy. Keyed by the container's address (its hash), which stays
    # its own while the value is written; holding proxies would grow the VM's references.
    # container -> [first piece, end piece, height, text].
    done: dict[int, list] = {}

    def put(text: str) -> None:
        left[0] -= len(text)
        if left[0] < 0:
            raise MemoryLimitError("out of memory")
        out.append(text)

    def enc(v: Any, depth: int = 0) -> int:
        """Write v; its height (0 for a scalar)."""
        t = type(v)
        if t is str or t is bytes:
            put(_jstr(v))
        elif t is int:
            put(str(v))
        elif t is float:
            put(format_squirrel_float(v))
        elif v is None:
            put("null")
        elif t is bool:
            put("true" if v else "false")
        elif t is Table or t is Array:
            seen = done.get(hash(v))
            if seen is not None:
                start, end, height, text = seen
                if depth + height > JSON_MAX_DEPTH:
                    raise ScriptError(f"http.jsonencode: tables and arrays nested more than {JSON_MAX_DEPTH} deep")
                if text is None:
                    text = seen[3] = "".join(out[start:end])
                put(text)
                return height
            if v in path:
                raise ScriptError("http.jsonencode: a table or array contains itself")
            if depth >= JSON_MAX_DEPTH:
                raise ScriptError(f"http.jsonencode: tables and arrays nested more than {JSON_MAX_DEPTH} deep")
            path.add(v)
            start = len(out)
            height = 0
            first = True
            if t is Table:
                put("{")
                for k, item in v.items():
                    if not first:
                        put(item_sep)
                    first = False
                    put(_jkey(k))
                    put(key_sep)
                    height = max(height, enc(item, depth + 1))
                put("}")
            else:
                put("[")
                for item in v:
                    if not first:
                        put(item_sep)
                    first = False
                    height = max(height, enc(item, depth + 1))
                put("]")
            path.discard(v)
            done[hash(v)] = [start, len(out), height + 1, None]
            return height + 1
        else:
            raise ScriptError(f"http.jsonencode: cannot encode a {_typename(v)} "
                                "(only null, bool, integer, float, string, array and table)")
        return 0

    enc(value)
    return "".join(out).encode("utf-8", "surrogateescape")


def _json_int(text: str) -> int | float:
    v = int(text)
    return v if _INT32_MIN <= v <= _INT32_MAX else float(v)


def json_decode(text: Any) -> Any:
    """Squirrel values for JSON text (objects → tables, integers outside 32 bits → floats)."""
    if not isinstance(text, (str, bytes)):
        raise ScriptError(f"http.jsondecode: string expected, got {_typename(text)}")
    try:
        value = json.loads(text, parse_int=_json_int)
    except ValueError as e:
        raise ScriptError(f"http.jsondecode: invalid JSON ({e})") from None
    except RecursionError:
        raise ScriptError("http.jsondecode: arrays or objects nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text if isinstance(text, str) else text.decode("latin-1")):
        value = _without_surrogates(value)
    return value


# A \uD800-\uDFFF escape that does not pair up decodes to a lone surrogate, which is no UTF-8
# character: such a string becomes the bytes a C decoder writes for it (its 3-byte form).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


# -- http.urlencode / urldecode ---------------------------------------------------------------------

_NULL_TEXT = b"(null : (nil))"  # what the imp encodes for null, per D:api/http/urlencode


def _urlvalue(v: Any) -> bytes:
    t = type(v)
    if t is str:
        return v.encode("utf-8")
    if t is bytes:
        return v
    if t is int:
        return str(v).encode()
    if t is float:
        return format_squirrel_float(v).encode()
    if t is bool:
        return b"true" if v else b"false"
    if v is None:
        return _NULL_TEXT
    raise ScriptError(f"http.urlencode: cannot encode a {_typename(v)} (strings, numbers or arrays of them)")


def url_encode(table: Any, room: int = JSON_MAX_BYTES) -> str:
    """``k=v&...`` in the table's iteration order, RFC 3986 unreserved characters kept, arrays as
    repeated keys. Text past ``room`` bytes is out of memory, as for :func:`json_encode` (an
    array that holds one long string many times repeats it in full each time)."""
    if not isinstance(table, Table):
        raise ScriptError(f"http.urlencode: table expected, got {_typename(table)}")
    parts = []
    for k, v in table.items():
        key = quote_from_bytes(_urlvalue(k), safe="")
        for item in v if isinstance(v, Array) else (v,):  # repeated keys; arrays may not nest
            parts.append(f"{key}={quote_from_bytes(_urlvalue(item), safe='')}")
            room -= len(parts[-1]) + 1
            if room < 0:
                raise MemoryLimitError("out of memory")
    return "&".join(parts)


def _unquote(b: bytes) -> str | bytes:
    raw = unquote_to_bytes(b.replace(b"+", b" "))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def url_decode(text: Any) -> dict:
    """A table of the fields; a field named more than once gives an array of its values."""
    if not isinstance(text, (str, bytes)):
        raise ScriptError(f"http.urldecode: string expected, got {_typename(text)}")
    data = text.encode("utf-8") if isinstance(text, str) else text
    out: dict = {}
    for field in data.split(b"&"):
        if not field:
            continue
        k, _, v = field.partition(b"=")
        key, value = _unquote(k), _unquote(v)
        if key in out:
            prev = out[key]
            if isinstance(prev, list):
                prev.append(value)
            else:
                out[key] = [prev, value]
        else:
            out[key] = value
    return out


# -- http.base64encode / base64decode ---------------------------------------------------------------

_URLSAFE = bytes.maketrans(b"-_", b"+/")


def base64_encode(data: Any) -> str:
    return base64.b64encode(to_bytes(data, "http.base64encode")).decode("ascii")


def base64_decode(text: Any) -> bytes:
    """D:api/http/base64decode: the decoded bytes, or no bytes (a zero-length blob) when the data
    is not valid Base64 -- never an error for the data itself."""
    raw = to_bytes(text, "http.base64decode")
    raw = b"".join(raw.split()).translate(_URLSAFE)  # whitespace ignored, either alphabet
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return b""


# -- regexp2 (agent): RE2, the imp's engine ----------------------------------------------------------
# RE2 matches in time linear in the subject, so a pattern that backtracks exponentially in other
# engines (``^(a+)+$``) is as fast here as on the imp; it works on bytes, so offsets are byte
# offsets as the imp gives them, and what RE2 does not support (backreferences, lookaround) is an
# invalid expression, as on the imp.

REGEXP2_MAX_PATTERN = 256
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would print parse errors on impsim's stderr


@lru_cache(maxsize=256)
def _compile(pattern: bytes) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def regexp2_new(pattern: Any) -> Any:
    if not isinstance(pattern, (str, bytes)):
        raise ScriptError(f"regexp2: string expected, got {_typename(pattern)}")
    if len(_bytes(pattern)) > REGEXP2_MAX_PATTERN:
        raise ScriptError(f"regexp2: the expression is longer than {REGEXP2_MAX_PATTERN} characters")
    try:
        _compile(_bytes(pattern))
    except re2.error as e:
        reason = e.args[0] if e.args else e
        raise ScriptError(f"regexp2: invalid expression ({reason.decode('utf-8', 'replace') if isinstance(reason, bytes) else reason})") from None
    return pattern


# What an instance holds when its constructor never ran: a subclass's own constructor that does
# not call base.constructor(pattern), as the stock regexp says of the same mistake.
REGEXP2_UNINITIALISED = "the regexp2 is not initialised (a subclass's constructor must call base.constructor(pattern))"


def _compiled(pattern: Any) -> Any:
    if not isinstance(pattern, (str, bytes)):
        raise ScriptError(REGEXP2_UNINITIALISED)
    return _compile(_bytes(regexp2_new(pattern)))


def _subject(pattern: Any, s: Any) -> tuple[Any, bytes]:
    rx = _compiled(pattern)
    if not isinstance(s, (str, bytes)):
        raise ScriptError(f"regexp2: string expected, got {_typename(s)}")
    return rx, _bytes(s)


def _start(start: Any) -> int:
    """A start offset (in bytes) as stock regexp takes it (typemask 'n': a float is truncated)."""
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        raise ScriptError(f"parameter 2 has an invalid type '{_typename(start)}' ; expected: 'integer|float'")
    if isinstance(start, float):
        start = int(start) if math.isfinite(start) else 0
    return max(start, 0)


def regexp2_match(pattern: Any, s: Any) -> bool:
    rx, s = _subject(pattern, s)
    return rx.fullmatch(s) is not None


def regexp2_search(pattern: Any, s: Any, start: int = 0) -> dict | None:
    rx, s = _subject(pattern, s)
    m = rx.search(s, _start(start))
    if m is None:
        return None
    return {"begin": m.start(), "end": m.end()}


def regexp2_capture(pattern: Any, s: Any, start: int = 0) -> list | None:
    rx, s = _subject(pattern, s)
    m = rx.search(s, _start(start))
    if m is None:
        return None
    out = []
    for g in range(rx.groups + 1):
        b, e = m.span(g)
        out.append({"begin": -1, "end": -1} if b < 0 else {"begin": b, "end": e})
    return out


def regexp2_subexpcount(pattern: Any) -> int:
    return _compiled(pattern).groups + 1
