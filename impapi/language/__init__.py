"""The imp's Squirrel dialect on a stock Squirrel 3.1 VM (imp-api.md §8, §9; §3.6 for JSON).

:func:`install_language` turns the root table of a fresh ``squirrel.VM(dialect="imp")`` into what
an imp device or agent sees, once per boot, before the app is loaded. It compiles one short
Squirrel prelude (:mod:`impapi.language.prelude`) and registers one Python native that the
prelude's functions call for what needs the host (the virtual clock, the random generator,
bytes↔string copies, the agent's web helpers in :mod:`impapi.language.web`). Rarely used
globals (``date``, ``swap2``, ``swap4``, ``castf2i``, ``regexp2``) start as forwarding stubs whose
first call compiles the real one. Nothing reads the host's clock.
``python -m impapi.language.timing`` prints the cost per install (about 70 µs, 1.4× the cost of
``squirrel.VM()`` itself, when measured) and the bytes it adds to the VM (about 15 KB device,
18 KB agent, counted against the VM's memory limit).

What it does, by section of imp-api.md:

- §9.2 removed globals: ``setroottable getconsttable setconsttable compilestring newthread suspend
  setdebughook seterrorhandler getstackinfos`` and, when present, the io/system names (``file
  dofile loadfile writeclosuretofile getenv system remove rename``). Also removed: ``stream``
  (the blob's stdlib base class; ``blob`` keeps it as its base), ``enabledebuginfo``,
  ``collectgarbage`` and ``resurrectunreachable`` (the imp is reference-counted; §9.2 says
  ``collectgarbage`` is probably absent). Generators stay. ``_version_``, ``_versionnumber_``,
  ``_charsize_``, ``_floatsize_`` stay; ``_intsize_`` is 4 in the imp dialect.
- 3.1 additions over the imp's 3.0.4 (§12 item 13). With ``squirrel31_extras=False`` (default)
  the 3.1 string-library globals ``startswith``, ``endswith`` and ``escape`` are removed; ``True``
  keeps them. Left in place whatever the flag, because they live in the VM's default delegates,
  which only C can edit (``squirrel/`` owns that): ``array.filter``/``array.find`` (§9.3 infers
  them present), the base argument of ``string.tointeger(base)``, the ranges of
  ``string.tolower/toupper``, ``closure.getroot/setroot``, ``class.newmember/rawnewmember``.
  ``table.keys/values`` do not exist in 3.1 at all.
- §9.2 maths: ``math.<fn>`` for abs fabs acos asin atan atan2 ceil floor cos sin tan exp log log10
  pow sqrt rand srand; the stdlib's global copies are removed. ``math.rand()`` draws
  ``rng.getrandbits(31)``: 0..``RAND_MAX``, reproducible for a seed; ``math.srand(x)`` does nothing.
  ``RAND_MAX`` is a global 2147483647 (§12 item 9: unconfirmed; glibc's value, and what the stdlib
  registered). ``PI`` stays a global.
- §8 time: ``time()`` = (``epoch_us`` + ``now_us()``) // 10⁶ (wrapped to 32 bits in the imp
  dialect); ``clock()`` = ``uptime_us()`` / 10⁶ as a float. ``date([t[, 'u'|'l']])`` is computed in
  Squirrel (proleptic Gregorian, any year), always UTC (the format argument is accepted and
  ignored); fields sec min hour day month(0-11) year wday(0=Sunday) yday time usec. ``usec`` is 0
  on the device and for an explicit ``t``; on the agent ``date()`` gives the µs of the current
  virtual time. Stock's ``dst`` field is not there.
- §9.2 numbers: ``swap2(i)`` gives the byte-swapped low 16 bits, 0..65535 (stock 3.x
  sign-extends: ``swap2(0xFF00)`` was -65281; docs silent, we give 0x00FF). ``swap4`` is signed
  32-bit in both dialects. ``castf2i(1.0) == 0x3f800000`` (stock read 8 bytes of a 4-byte float);
  ``casti2f`` and ``swapfloat`` are stock (correct).
- §9.3 strings: ``format``, ``strip``, ``lstrip``, ``rstrip``, ``regexp`` are stock sqstdlib and
  behave as §9.3 says. ``split`` drops empty tokens (3.0's strtok behaviour; 3.1 keeps them).
  In the imp dialect ``format`` shows a negative number under ``%x %X %o %u`` as its 32-bit two's
  complement (``format("%x", -1) == "ffffffff"``). When the VM's C ``format`` does not already do
  so (the dialect patch makes it), ``format`` is wrapped: calls with no negative number argument
  go straight to the C ``format``, the others through :func:`impapi.language.web.format32`.
- §9.4 blob (extends the stdlib class, so every blob, however made, has them): ``readstring(n)``,
  ``writestring(s)``, ``tostring()`` (binary-safe), ``readblob(n)`` (up to n bytes; at the end or
  for n <= 0 an empty blob/string rather than stock's "no data left to read"), ``writen`` of a
  non-number writes zeros of the type's size, ``resize(n)`` zero-extends (stock left the length
  unchanged when growing). The VM's patch 04 gives a signed ``readn('c')`` and a ``writeblob``
  of a blob into itself that copies it first. Stock already gives: ``seek`` returning -1 without
  moving when out of range, the c b s w i f d codes ('d' converts to and from the 32-bit float),
  ``swap2/swap4`` in place leaving trailing bytes, ``typeof`` "blob", ``b[i]`` range errors,
  reading past the end raising "io error". Stock's extra 'l' code (64-bit) is left in.
- ``crypto.equals(a, b)`` on both sides (the ``crypto`` table is made if absent): constant-time
  comparison of the bytes of two strings/blobs (a string and a blob with the same bytes are equal).
- Agent only, into ``http`` (made if absent; the runtime adds ``onrequest``, ``agenturl``,
  ``request``...): ``jsonencode(v[, settings])``: tables in Squirrel's iteration order, floats as
  Squirrel's ``tostring`` (``%g``), integer/float/bool keys as their text; blobs, functions,
  instances and cycles raise. The imp documents ``settings.compact`` (default false) but not the
  non-compact layout; we write ``{"a": 1, "b": [1, 2]}`` (", " and ": ", the usual non-compact
  JSON) and ``{"a":1,"b":[1,2]}`` with ``{compact = true}``; text that would not fit in the VM's
  free memory (16 MB without a limit) is out of memory, found as it is written (also ``urlencode``).
  ``jsondecode(s)``: objects → tables,
  integers outside 32 bits → floats, bad JSON raises. ``urlencode(t)``: RFC 3986 (unreserved kept,
  space → %20), arrays as repeated keys, null as the imp's documented ``(null : (nil))``.
  ``urldecode(s)``: ``+`` and %XX decoded, a repeated field → an array (documented).
  ``base64encode(string|blob)`` → string, ``base64decode(s)`` → blob.
- Agent only: ``regexp2(pattern)`` with ``match``/``search``/``capture``/``subexpcount`` shaped like
  ``regexp`` (byte offsets), backed by Python's ``re`` (ASCII classes, as RE2; ``\\z`` accepted);
  patterns over 256 bytes raise as documented; the ten-objects limit is not enforced; an unmatched
  group captures as ``{begin = -1, end = -1}``; ``typeof`` gives "regexp2".
- ``print``/``error`` are the runtime's.
- Errors the script causes in these functions are :class:`squirrel.ScriptError` (catchable in
  Squirrel, a script error for the host), including a wrong argument count."""

from __future__ import annotations

import random
import weakref
from typing import Any, Callable

import squirrel

from . import web
from .prelude import AGENT, DEVICE, LAZY

__all__ = ["install_language", "RAND_MAX", "OPS"]

RAND_MAX = 2147483647

# The prelude calls py(op, ...) with these numbers.
OPS = ("rand", "time", "clock", "blob_to_string", "string_to_blob", "format32", "crypto_equals",
       "usec", "jsonencode", "jsondecode", "urlencode", "urldecode", "base64encode", "base64decode",
       "regexp2", "regexp2_match", "regexp2_search", "regexp2_capture", "regexp2_subexpcount",
       "lazy")


def _blob_to_string(b: Any) -> bytes:
    if not isinstance(b, squirrel.Blob):
        if isinstance(b, squirrel.Instance):  # a subclass whose constructor never ran blob's
            raise squirrel.ScriptError("this blob was never initialised (its class's constructor must call "
                                       "base.constructor())")
        # blob.tostring() called with another `this` (blob.tostring.call(x)): stock blob methods
        # refuse it by type tag.
        raise squirrel.ScriptError("invalid type tag: a blob expected")
    return bytes(b)


def install_language(vm: squirrel.VM, *, side: str, now_us: Callable[[], int], epoch_us: int,
                     uptime_us: Callable[[], int], rng: random.Random,
                     squirrel31_extras: bool = False) -> None:
    """Make ``vm``'s root table the imp's Squirrel dialect for ``side`` ("device" or "agent").

    ``now_us()``: virtual µs since the simulation started; ``epoch_us``: the UTC Unix time, in µs,
    of virtual time 0 (so ``time()`` is ``(epoch_us + now_us()) // 10**6``); ``uptime_us()``: µs
    since this boot (``clock()``); ``rng``: where ``math.rand()`` draws from.
    ``squirrel31_extras``: keep the 3.1-only ``startswith``/``endswith``/``escape`` globals."""
    if side not in ("device", "agent"):
        raise ValueError(f"side must be 'device' or 'agent', not {side!r}")
    agent = side == "agent"
    imp32 = vm.dialect == "imp"
    vmref = weakref.ref(vm)
    getrandbits = rng.getrandbits

    def rand() -> int:
        return getrandbits(31)

    def time_() -> int:
        s = (epoch_us + now_us()) // 1_000_000
        return ((s + 0x80000000) & 0xFFFFFFFF) - 0x80000000 if imp32 else s

    def clock() -> float:
        return uptime_us() / 1e6

    def usec() -> int:
        return (epoch_us + now_us()) % 1_000_000

    def string_to_blob(s: Any) -> Any:
        if not isinstance(s, (str, bytes)):
            raise squirrel.ScriptError(f"writestring: string expected, got {web._typename(s)}")
        return vmref().new_blob(s.encode("utf-8") if isinstance(s, str) else s)

    def base64_decode(s: Any) -> Any:
        return vmref().new_blob(web.base64_decode(s))

    def room() -> int:
        # Text a helper writes must fit in what the VM has left, as every string the script makes must.
        v = vmref()
        return web.JSON_MAX_BYTES if v.memory_limit is None else v.memory_limit - v.memory_used

    def json_encode(value: Any, settings: Any = None) -> bytes:
        return web.json_encode(value, settings, room())

    def url_encode(table: Any) -> str:
        return web.url_encode(table, room())

    # The functions LAZY compiled in this run (keyed by name; None: the run's root table): per run,
    # not per VM, so a restored VM compiles them again, as a new VM does. And the prelude's table
    # of stubs, held from the first stub's call on: a stub its function replaced in the root table
    # then stays, as in a restored VM (whose pristine root holds it), and is not freed.
    made: dict[Any, Any] = {}
    held: list[Any] = []

    def lazy(name: Any, native: Any, stubs: Any = None) -> Any:
        if stubs is not None and not held:
            held.append(stubs)
        src = LAZY.get(name) if isinstance(name, str) else None
        if src is None:
            return None
        v = vmref()
        if made.get(None) is not v.root:  # a restore started a new run
            made.clear()
            made[None] = v.root
        f = made.get(name)
        if f is None:
            f = made[name] = v.compile(src, f"impsim:{name}")(native, agent)
        return f

    ops = (rand, time_, clock, _blob_to_string, string_to_blob, web.format32, web.crypto_equals,
           usec, json_encode, web.json_decode, url_encode, web.url_decode,
           web.base64_encode, base64_decode, web.regexp2_new, web.regexp2_match,
           web.regexp2_search, web.regexp2_capture, web.regexp2_subexpcount, lazy)

    def py(op: int, *args: Any) -> Any:
        try:
            return ops[op](*args)
        except TypeError as e:  # a wrong argument count: a Squirrel error, not a host crash
            if e.__traceback__ is not None and e.__traceback__.tb_next is None:
                raise squirrel.ScriptError("wrong number of parameters") from None
            raise

    squirrel.native(py, name="impsim", params=-2)
    vm.compile(AGENT if agent else DEVICE, "impsim:language")(py, agent, imp32, squirrel31_extras)
