"""The Squirrel VM as a Python object: values both ways, calls both ways, errors and limits
(plain data packed in one call: packing.py; limits and accounting: limits.py).

Over 1,000 lines on purpose: conversions, the two call paths and the callbacks from C all work
on the VM's shared slot buffer, and the hot paths among them are inlined by hand; splitting them
apart would spread one protocol over several files."""

from __future__ import annotations

import itertools
import threading
import weakref
from types import MethodType
from typing import Any, Callable, Iterable

from ._squirrel import ffi, lib
from .errors import (Frame, MemoryLimitError, ScriptError, SquirrelError,
                     TimeLimitError, Uncatchable, format_traceback)
from .escapes import ESCAPED_TEXT, escape, escaped, escaped_later
from .kinds import ARRAY, BOOL, FLOAT, INTEGER, NULL, STRING, TABLE, TEXT
from .compiling import Compiling
from .coverage import Coverage
from .lines import LineMap
from .natives import _NO_OPTIONS, CallContext, NativeSet, _direct_for, _Native, native
from .limits import Limits
from .packing import Packing
from . import proxies as _p

# Read several times per call of a native by hosts that keep an execution-time model.
_work, _caller = lib.sqpy_work, lib.sqpy_caller

OK = lib.SQPY_OK
TIME_LIMIT, MEMORY_LIMIT, STOPPED, BADREF = lib.SQPY_TIME_LIMIT, lib.SQPY_MEMORY_LIMIT, lib.SQPY_STOPPED, lib.SQPY_BADREF
STACK_OVERFLOW, OVERFLOW, WRONG_THREAD = lib.SQPY_STACK_OVERFLOW, lib.SQPY_OVERFLOW, lib.SQPY_WRONG_THREAD
SQPY_HAS_THIS = lib.SQPY_HAS_THIS
CB_RETURN, CB_NORETURN, CB_RAISE, CB_STOP = lib.SQPY_CB_RETURN, lib.SQPY_CB_NORETURN, lib.SQPY_CB_RAISE, lib.SQPY_CB_STOP
CB_RETURN_TEMP, CB_RETURN_INT, CB_RETURN_TEXT = lib.SQPY_CB_RETURN_TEMP, lib.SQPY_CB_RETURN_INT, lib.SQPY_CB_RETURN_TEXT
CB_RAISE_TEXT, CB_STOP_TEXT, CB_ESCAPED = lib.SQPY_CB_RAISE_TEXT, lib.SQPY_CB_STOP_TEXT, lib.SQPY_CB_ESCAPED
NBUF = lib.SQPY_NBUF  # values per call on the fast path (more take the general one)
MIN_STACK, MAX_STACK = 64, 1 << 20  # VM(stack_size=): initial slots of the Squirrel stack
_PLAIN = frozenset((int, str, float, type(None)))  # what the fast path writes straight into a slot
_VMS: dict[int, Any] = {}  # vmid -> weakref to the VM, for sqpy_fdispatch
_VMIDS = itertools.count(1)
_get_ident = threading.get_ident
# Read at every boot of a reused VM: module globals, no lookup in lib (with compiling.py's two,
# ~1,000 instructions a boot less, callgrind).
_restore, _depth, BADARG = lib.sqpy_restore, lib.sqpy_depth, lib.SQPY_BADARG
_KEEP: Any = object()  # restore(memory_limit=): leave the limit as it is

DIALECTS = {"imp": 32, "standard": 64}
_INT_RANGE = {32: (-(1 << 31), (1 << 31) - 1), 64: (-(1 << 63), (1 << 63) - 1)}
_SCRATCH = 16


_BYTES = "const unsigned char *"


def _reader_target(view: Callable[[Any], tuple[Any, Any]], context: Any) -> tuple[Any, Any, Any]:
    """(view, data, gate) of a NativeSet reader, the cffi buffers of ``view(context)`` (gate
    None: always open), kept alive as long as C reads them."""
    buffer, gate = view(context)
    data = ffi.from_buffer(buffer)
    g = None
    if gate is not None:
        g = ffi.from_buffer(gate, require_writable=True)
        if len(g) < 1:
            raise ValueError("a reader's gate must be at least one byte")
    return view, data, g


class VM(Limits, Compiling, Packing, Coverage):
    """A Squirrel 3.1 virtual machine.

    ``dialect``: ``"imp"`` gives the Electric Imp's 32-bit integer arithmetic, ``"standard"``
    stock 64-bit. ``memory_limit`` (bytes), ``time_limit`` (seconds of wall clock) and
    ``instruction_limit`` (VM instructions) apply to each call from Python; exceeding one raises
    :class:`MemoryLimitError` or :class:`TimeLimitError`, which the script cannot catch, and the
    VM stays usable (a script stopped for memory has its reference cycles collected at once).
    Memory counts the contents of strings and blobs in full and everything else (objects,
    tables, arrays, code) times ``overhead_scale``: a host modelling a 32-bit target with this
    64-bit build sets about 0.5, so a 64 KB blob costs 64 KB where a table costs what it would
    there. ``memory_used``, ``memory_peak`` and ``memory_limit`` are in those bytes.
    The limits reach inside natives: string, array, blob and regexp natives charge their work
    to the instruction budget in units of one instruction's time (16 bytes of text scanned = 4
    units, a regexp step = 1, a sort comparison = 3...: the ``SQ_COST_*`` figures in
    ``vendor/squirrel3/patches/10-limits-in-natives.patch``), the deadline is checked as they
    charge, and they ask before allocating 64 KiB or more at once; a call of a Python function
    counts ``call_instructions`` (0 unless set). ``print``/``error`` receive what the script prints (the binding never
    writes to stdout or stderr; output is dropped when they are None).

    Threads: a VM belongs to the thread that made it. A call from any other thread (running
    code, reading a table, closing it) raises :class:`SquirrelError` and changes nothing; a
    proxy freed in another thread by Python's collector is released later, by the VM's own
    thread. Make one VM per thread (VMs in different threads run in parallel: Squirrel code
    lets the GIL go once it has run a while, 65,536 instructions at most, and a compile at
    once; shorter calls keep it, as Python code would). Sharing one safely would need a lock on every call, and the
    slots that carry values between Python and C are the VM's, not the thread's."""

    def __init__(self, dialect: str = "imp", *, memory_limit: int | None = None,
                 time_limit: float | None = None, instruction_limit: int | None = None,
                 print: Callable[[str], Any] | None = None, error: Callable[[str], Any] | None = None,
                 capture_locals: bool = False, stack_size: int = 1024, overhead_scale: float = 1.0) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}: use 'imp' (32-bit integers) or 'standard' (64-bit)")
        if not MIN_STACK <= stack_size <= MAX_STACK:
            # Squirrel grows the stack as calls need it; it cannot start smaller than its own
            # working room, and a huge start is an allocation the VM does not check.
            raise ValueError(f"stack_size must be {MIN_STACK}..{MAX_STACK} slots, got {stack_size}")
        if not 0 < overhead_scale <= 16:
            raise ValueError(f"overhead_scale must be in (0, 16], got {overhead_scale!r}")
        self.dialect = dialect
        self.overhead_scale = overhead_scale
        self._intmin, self._intmax = _INT_RANGE[DIALECTS[dialect]]
        self.print = print
        self.error = error
        self._ptr = ffi.NULL
        self._handle = ffi.new_handle(self)
        self._functions: dict[int, _Native] = {}
        self._direct: dict[int, Any] = {}  # fid -> callable for the fast dispatch (see _direct_for)
        self._batches: list[tuple[int, list[_Native], Any]] = []  # NativeSet installs: first id, natives, context
        self._coverage = False
        self._covered: set[str] = set()  # files compiled while coverage was on: coverage() reports them
        self._next_fid = 1
        self._pending: BaseException | None = None
        self._stop_exc: BaseException | None = None
        self._callback_exc: BaseException | None = None
        self._dirty = False  # _pending or _callback_exc was set: look at them after a call
        self._describing = False  # _error is running an error value's _tostring
        self._linemaps: dict[str, LineMap] = {}
        self._ret_keep: Any = None
        self._home = threading.get_ident()  # the thread the VM belongs to (sqpy_open's)
        self._ptr = lib.sqpy_open(self._handle, DIALECTS[dialect], stack_size, float(overhead_scale))
        self._closed = False
        self.read_work = MethodType(_work, self._ptr)  # shadows the method read_work (see there)
        self._vmid = next(_VMIDS)
        _VMS[self._vmid] = weakref.ref(self)
        buf = lib.sqpy_fast_init(self._ptr, self._vmid)
        self._bt, self._bi, self._bf, self._bs = buf.type, buf.i, buf.f, buf.s
        self._tbuf = ffi.buffer(buf.text)  # sliced and assigned like a bytearray
        self._scratch = ffi.new("char[]", 256)  # strings returned by natives, on their way in
        self._args = ffi.new("sqpy_value[]", _SCRATCH)
        self._out = ffi.new("sqpy_value *")
        self._key = ffi.new("sqpy_value *")
        self._val = ffi.new("sqpy_value *")
        self._ref_out = ffi.new("long long *")
        self._where, self._sources = ffi.new("int *"), []  # caller(): C's index of a file, the names by index
        self._memory_limit = memory_limit
        self._time_limit = time_limit
        self._instruction_limit = instruction_limit
        self._call_instructions = 0
        self._apply_limits()
        if capture_locals:
            lib.sqpy_capture_locals(self._ptr, 1)
        self._set_root(lib.sqpy_ref_root(self._ptr))

    # --- lifecycle ------------------------------------------------------------------------

    def close(self, _finalizing: bool = False) -> None:
        """Free the VM. Proxies that outlive it raise :class:`SquirrelError` when used."""
        if self._ptr == ffi.NULL:
            return
        if lib.sqpy_foreign(self._ptr) and not _finalizing:
            self._raise(WRONG_THREAD)
        if lib.sqpy_depth(self._ptr):
            raise SquirrelError("cannot close a VM while it is running (close it after the call returns)")
        # Proxies freed while it closes (Python code runs: natives are forgotten) must see it closed.
        ptr, self._ptr = self._ptr, ffi.NULL
        self._closed = True
        self.__dict__.pop("read_work", None)  # never the freed pointer: the method below raises
        _VMS.pop(self._vmid, None)
        lib.sqpy_close(ptr, 1)
        self._functions.clear()
        self._direct.clear()
        self._batches.clear()
        self.__dict__.pop("_exported", None)  # buffers C read from (NativeSet readers)

    def snapshot(self) -> None:
        """Keep the root table (and const table) as they are now as this VM's pristine state,
        for :meth:`restore`; scripts from now on see a copy.

        For hosts that run many short scripts (an imp boots afresh every few minutes): building
        a VM and its globals costs far more than restoring them. Tables reachable from the root
        are copied deeply (a table reached twice, or through a cycle, is copied once);
        functions, classes and other objects are shared between the copies.
        Functions made before the snapshot keep the pristine root as theirs: their unqualified
        global names resolve there, not in a script's copy."""
        rc = lib.sqpy_snapshot(self._live())
        if rc == lib.SQPY_BADARG:
            raise SquirrelError("snapshot() needs a VM that is not running")
        if rc:
            raise SquirrelError("snapshot(): the root table holds tables nested more than 32 deep; "
                                "a snapshot copies them all, so flatten them first")
        self._set_root(lib.sqpy_ref_root(self._ptr))

    def restore(self, *, memory_limit: Any = _KEEP) -> bool:
        """Start afresh from the :meth:`snapshot`: new copies of the pristine root and const tables,
        no line coverage, no pending error. Returns False, changing nothing, when a script changed
        what the copies share with the pristine state (a class's members or metamethods, a pristine
        instance's fields, a pristine closure's root, a pristine table reached through ``getroot()``):
        make a new VM then. A pristine class the last script made instances of can take fields
        again, as a new VM's (its instances left in cycles are collected for it). As after :meth:`close`,
        proxies made before stop working (they raise :class:`SquirrelError`); what they held is freed.
        The code the last script loaded (:meth:`compile`) is kept, unseen, for a load of the same
        bytes right after: that load then makes only the function, with the figures (memory, peak)
        of a load that reads the bytes ("keeping the loaded code" in ``csrc/sqpy.cpp``).
        ``memory_limit``, when given, is set first, as :attr:`memory_limit` would be: the copies
        are held to it (a host lifts the last script's limit so: one call less per restore)."""
        if self._closed:  # _live()'s check inline: a reused VM restores at every boot
            self._live()
        ptr = self._ptr
        if memory_limit is not _KEEP:
            if memory_limit is not None and memory_limit <= 0:
                raise ValueError(f"memory_limit must be positive or None, got {memory_limit!r}")
            self._memory_limit = memory_limit
        rc = _restore(ptr, self._ref_out, self._memory_limit or 0)
        if rc == BADARG:
            raise SquirrelError("restore() needs a snapshot() and a VM that is not running")
        if rc:
            return False
        self._set_root(self._ref_out[0])
        self.__dict__.pop("_helpers", None)  # proxies of the previous generation
        self._coverage = False
        self._covered = set()
        self._pending = self._stop_exc = self._callback_exc = None
        self._dirty = False
        self._ret_keep = None
        return True

    def _set_root(self, ref: int) -> None:
        # A handle's generation (its high bits) is the VM's restore count: proxies of an earlier
        # one are dead in C, and skip the call that would find so (proxies.SquirrelObject.__del__).
        self._gen = ref >> 32
        self._root = _p.Table(self, ref, TABLE)

    def rebind(self, old: Any, new: Any) -> None:
        """Natives installed (:meth:`install`) with context ``old`` receive ``new`` from now on."""
        batches = self._batches
        direct = self._direct
        for i, (base, natives, context) in enumerate(batches):
            if context is old:
                batches[i] = (base, natives, new)
                end = base + len(natives)
                for fid, f in direct.items():  # known to the fast dispatch: bound anew, in place (no new keys)
                    if base <= fid < end:
                        # Most are the native's function bound to the context (_direct_for): bound
                        # to the new one directly, ~0.1 us less per native and boot (timeit).
                        direct[fid] = (MethodType(f.__func__, new) if type(f) is MethodType
                                       else _direct_for(natives[fid - base], new))

    @property
    def closed(self) -> bool:
        return self._closed  # set with _ptr = NULL (close): no cffi comparison, ~5 reads a boot

    @property
    def running(self) -> bool:
        """True while Squirrel code of this VM is on the stack (a native calling back in)."""
        return not self._closed and _depth(self._ptr) > 0

    def __enter__(self) -> "VM":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._ptr != ffi.NULL and not lib.sqpy_depth(self._ptr):
                self.close(_finalizing=True)  # from any thread: nothing else refers to the VM now
        except Exception:
            pass

    def _live(self) -> Any:
        # _closed, not a comparison of the cffi pointer: this runs dozens of times per boot.
        if self._closed:
            raise SquirrelError("the VM is closed")
        return self._ptr

    @property
    def handle(self) -> Any:
        """The raw ``HSQUIRRELVM`` for code that calls the C API through ``squirrel._squirrel``."""
        return lib.sqpy_handle(self._live())

    # --- running code -----------------------------------------------------------------------

    @property
    def root(self) -> "_p.Table":
        """The root table: ``vm.root["f"] = pyfunc`` makes a global."""
        if self._closed:
            self._live()  # raises
        return self._root

    def run(self, source: str | bytes, filename: str = "<script>") -> Any:
        """Compile and run a script; returns its ``return`` value converted to Python values
        (tables to dicts, arrays to lists, blobs to bytes; functions and instances stay proxies)."""
        return _p.to_python(self.compile(source, filename)())

    def eval(self, expression: str) -> Any:
        """The value of one Squirrel expression, converted like :meth:`run`."""
        return self.run(f"return ({expression});", "<eval>")

    def function(self, func: Callable | None = None, *, name: str | None = None, **options: Any):
        """Decorator: make ``func`` a global Squirrel function (named after it)."""

        def register(f: Callable) -> Callable:
            if options:
                native(f, **options)
            self.root[name or f.__name__] = f
            return f

        return register(func) if func is not None else register

    def _helper(self, name: str, source: str) -> Any:
        """A Squirrel function the binding itself needs, compiled once per VM."""
        helpers = self.__dict__.setdefault("_helpers", {})
        f = helpers.get(name)
        if f is None:
            f = helpers[name] = self.compile(source, f"<squirrel.{name}>")()
        return f

    def install(self, table: "_p.Table", natives: "NativeSet", context: Any = None, *,
                into: str | None = None) -> None:
        """Put every member of ``natives`` into ``table`` (or into ``table[into]``, a table made
        if missing) in one C call. Each native receives ``context`` as its first argument."""
        ptr = self._live()
        if not isinstance(table, _p.Table) or table._vm is not self:
            raise TypeError(f"install() puts natives into a table of this VM, not {table!r}")
        base = self._next_fid
        n = len(natives.natives)
        readers: Any = ffi.NULL
        if natives._readers:
            readers = ffi.new("sqpy_reader[]", len(natives._readers))
            exported = self.__dict__.setdefault("_exported", [])
            for r, (index, view) in zip(readers, natives._readers):
                _, data, gate = target = _reader_target(view, context)
                exported.append(target)
                r.index, r.data, r.size = index, ffi.cast(_BYTES, data), len(data)
                if gate is not None:
                    r.gate = ffi.cast(_BYTES, gate)
        rc = lib.sqpy_install(ptr, table._live(), into.encode("utf-8") if into else ffi.NULL, natives._c,
                              base, len(natives._readers), readers)
        if rc:
            self._raise(rc)
        self._next_fid += n
        if n:
            self._batches.append((base, natives.natives, context))

    def retarget_readers(self, context: Any) -> None:
        """Every NativeSet reader installed serves the buffer its view gives for ``context`` from
        now on (a host handing the VM to another owner of another buffer); the buffers it
        served before are no longer kept alive."""
        ptr = self._live()
        exported = self.__dict__.get("_exported", [])
        for n, (view, _, _) in enumerate(exported):
            _, data, gate = target = _reader_target(view, context)
            rc = lib.sqpy_retarget_reader(ptr, n, ffi.cast(_BYTES, data), len(data),
                                          ffi.NULL if gate is None else ffi.cast(_BYTES, gate))
            if rc:
                self._raise(rc)
            exported[n] = target

    def collect_garbage(self) -> int:
        """Run Squirrel's cycle collector; returns what it freed."""
        n = lib.sqpy_collectgarbage(self._live())
        if n < 0:
            self._raise(WRONG_THREAD)
        return n

    # --- values -------------------------------------------------------------------------------

    def _from(self, v: Any) -> Any:
        t = v.type
        if t == INTEGER:
            return v.i
        if t == STRING:
            b = ffi.unpack(v.s, v.len)
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError:
                return b
        if t == NULL:
            return None
        if t == FLOAT:
            return v.f
        if t == BOOL:
            return bool(v.i)
        return _p.make_proxy(self, v.i, t)

    def _to(self, value: Any, slot: Any, temps: list) -> None:
        """Fill ``slot`` with ``value``. What must outlive the fill until the VM has taken the value
        (bytes the slot points into, objects made for it) goes to ``temps``."""
        t = type(value)
        if t is int:
            if not self._intmin <= value <= self._intmax:
                raise OverflowError(f"{value} does not fit a {self.dialect} Squirrel integer "
                                    f"({self._intmin}..{self._intmax})")
            slot.type = INTEGER
            slot.i = value
        elif t is str:
            b = value.encode("utf-8")
            temps.append(b)
            slot.type = STRING
            slot.s = ffi.from_buffer(b)
            slot.len = len(b)
        elif value is None:
            slot.type = NULL
        elif t is bool:
            slot.type = BOOL
            slot.i = 1 if value else 0
        elif t is float:
            slot.type = FLOAT
            slot.f = value
        elif isinstance(value, _p.SquirrelObject):
            if value._vm is not self:
                raise ValueError("a Squirrel object cannot move to another VM")
            slot.type = value._type
            slot.i = value._live()
        elif isinstance(value, (bytes, bytearray, memoryview)):
            b = bytes(value)
            temps.append(b)
            slot.type = STRING
            slot.s = ffi.from_buffer(b)
            slot.len = len(b)
        elif isinstance(value, bool):
            slot.type = BOOL
            slot.i = 1 if value else 0
        elif isinstance(value, int):
            self._to(int(value), slot, temps)
        elif isinstance(value, float):
            self._to(float(value), slot, temps)
        elif isinstance(value, str):
            self._to(str(value), slot, temps)
        else:
            obj = self._new_object(value)
            temps.append(obj)
            slot.type = obj._type
            slot.i = obj._ref

    def _new_object(self, value: Any, _seen: dict | None = None) -> "_p.SquirrelObject":
        """A new Squirrel table/array/function for a Python dict/list/tuple/callable."""
        ptr = self._live()
        out = ffi.new("sqpy_value *")
        if isinstance(value, (dict, list, tuple)):
            is_dict = isinstance(value, dict)
            n = len(value)
            lib.sqpy_new(ptr, TABLE if is_dict else ARRAY, n if is_dict else 0, out)
            obj = _p.make_proxy(self, out.i, out.type)
            if n:
                temps: list = []
                vals = ffi.new("sqpy_value[]", n)
                keys = ffi.new("sqpy_value[]", n) if is_dict else ffi.NULL
                if is_dict:
                    for i, (k, v) in enumerate(value.items()):
                        self._to(k, keys[i], temps)
                        self._to(v, vals[i], temps)
                else:
                    for i, v in enumerate(value):
                        self._to(v, vals[i], temps)
                rc = lib.sqpy_fill(ptr, obj._ref, n, keys, vals)
                if rc:
                    if rc == lib.SQPY_BADARG:
                        raise KeyError("a Squirrel table key cannot be null")
                    self._raise(rc)
            return obj
        if callable(value):
            opts = getattr(value, "__squirrel_native__", _NO_OPTIONS)
            nat = _Native(value, *opts)
            fid = self._next_fid
            self._next_fid += 1
            self._functions[fid] = nat
            mask = nat.typemask.encode("ascii") if nat.typemask else ffi.NULL
            rc = lib.sqpy_new_function(ptr, fid, nat.nparams, mask, nat.name.encode("utf-8"), out)
            if rc:
                del self._functions[fid]
                if rc == lib.SQPY_BADARG:
                    raise ValueError(f"Squirrel cannot compile the typemask {nat.typemask!r} of {nat.name}")
                self._raise(rc)
            return _p.make_proxy(self, out.i, out.type)
        raise TypeError(f"cannot convert {type(value).__name__} to a Squirrel value "
                        "(use None, bool, int, float, str, bytes, list, tuple, dict or a callable)")

    def new_blob(self, data: bytes = b"") -> "_p.Blob":
        """A Squirrel blob holding ``data``."""
        out = ffi.new("sqpy_value *")
        b = bytes(data)
        rc = lib.sqpy_new_blob(self._live(), b, len(b), out)
        if rc:
            self._raise(rc)  # over the memory limit, say: out holds no object then
        return _p.make_proxy(self, out.i, out.type)

    def to_squirrel(self, value: Any) -> Any:
        """Convert ``value`` now: scalars stay Python values, containers become proxies."""
        if isinstance(value, (dict, list, tuple)) or (callable(value) and not isinstance(value, _p.SquirrelObject)):
            return self._new_object(value)
        return value

    # --- calls ----------------------------------------------------------------------------------

    def _call(self, ref: int, this: Any, args: tuple, has_this: bool) -> Any:
        """Call the function with handle ``ref``. The fast path: values go into the VM's slot
        buffer as plain numbers (strings as one bytes object), one C call, the result comes back
        in slot 0 with its type as the return code (the C side checks integer ranges)."""
        if self._closed:
            raise SquirrelError("the VM is closed")
        if ref < 0:
            raise SquirrelError("this proxy no longer refers to anything")
        if _get_ident() != self._home:  # before writing the slots its own thread may be using
            self._raise(WRONG_THREAD)
        if has_this:
            args = (this, *args)
        n = len(args)
        if n > NBUF:
            return self._call_general(ref, args[0] if has_this else None, args[1:] if has_this else args,
                                      has_this)
        bt, bi = self._bt, self._bi
        strs = b""
        temps = None
        if not all(type(a) in _PLAIN for a in args):
            temps = []
            args = tuple(self._plain(a, temps) for a in args)  # before any slot is written
        i = -1
        try:
            for a in args:
                i += 1
                t = type(a)
                if t is int:
                    bt[i] = INTEGER
                    bi[i] = a
                elif t is str:
                    b = a.encode("utf-8")
                    bt[i] = STRING
                    bi[i] = len(b)
                    strs += b
                elif t is float:
                    bt[i] = FLOAT
                    self._bf[i] = a
                elif a is None:
                    bt[i] = NULL
                else:
                    b = self._slot(a, i)
                    if b is not None:
                        strs += b
        except OverflowError:  # beyond 64 bits: cffi refuses it
            self._check_ints(args)
            raise
        rc = lib.sqpy_fcall(self._ptr, ref, n | SQPY_HAS_THIS if has_this else n, strs, len(strs))
        if rc == INTEGER:
            result = bi[0]
        elif rc == NULL:
            result = None
        else:
            result = self._result(rc, args)
        if self._dirty:
            self._after_call()
        return result

    def _check_ints(self, values: Iterable[Any]) -> None:
        for a in values:
            if type(a) is int and not self._intmin <= a <= self._intmax:
                self._int_overflow(a)

    def _int_overflow(self, value: int) -> None:
        raise OverflowError(f"{value} does not fit a {self.dialect} Squirrel integer "
                            f"({self._intmin}..{self._intmax})")

    def _plain(self, value: Any, temps: list) -> Any:
        """``value`` as what the slot buffer takes without running Python code of the caller's
        (``__bytes__``, ``__index__``, iterating a mapping...): that code could call into this VM
        and overwrite the slots already filled."""
        if type(value) in _PLAIN or type(value) is bool or isinstance(value, _p.SquirrelObject):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        for kind in (int, float, str):
            if isinstance(value, kind):
                return kind(value)
        obj = self._new_object(value)
        temps.append(obj)  # alive until the call has pushed it
        return obj

    def _slot(self, value: Any, i: int) -> bytes | None:
        """Slot i of the fast path for what :meth:`_plain` leaves besides int/str/float/None: a
        bool, a proxy, or bytes (returned: they go after the other strings' bytes)."""
        bt, bi = self._bt, self._bi
        if type(value) is bool:
            bt[i] = BOOL
            bi[i] = 1 if value else 0
        elif type(value) is bytes:
            bt[i] = STRING
            bi[i] = len(value)
            return value
        else:
            if value._vm is not self:
                raise ValueError("a Squirrel object cannot move to another VM")
            bt[i] = value._type
            bi[i] = value._live()
        return None

    def _slot_scalar(self, value: Any, i: int) -> bytes | None:
        if type(value) is int:
            if value < self._intmin or value > self._intmax:
                self._int_overflow(value)
            self._bt[i] = INTEGER
            self._bi[i] = value
        elif type(value) is float:
            self._bt[i] = FLOAT
            self._bf[i] = value
        else:
            b = value.encode("utf-8")
            self._bt[i] = STRING
            self._bi[i] = len(b)
            return b
        return None

    def _result(self, rc: int, args: tuple = ()) -> Any:
        """The value in slot 0 after a fast call that returned ``rc`` (its type, or -error)."""
        if rc == STRING:
            n = self._bi[0]
            b = self._tbuf[:n] if n <= TEXT else self._kept_string()
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError:
                return b
        if rc == FLOAT:
            return self._bf[0]
        if rc == BOOL:
            return self._bi[0] != 0
        if rc > 0:
            return _p.make_proxy(self, self._bi[0], rc)
        if rc == -OVERFLOW:
            self._check_ints(args)
        self._raise(-rc)

    def _kept_string(self) -> bytes:
        """A string result that did not fit the slot buffer's text, by the length C kept."""
        s, n = ffi.new("const char **"), ffi.new("long long *")
        rc = lib.sqpy_kept_string(self._ptr, s, n)
        if rc:
            self._raise(rc)
        return ffi.unpack(s[0], n[0])

    def _after_call(self) -> None:
        """After a call that returned normally: an exception from a print target reaches the
        outermost caller; a Python exception some script caught is forgotten."""
        if lib.sqpy_depth(self._ptr):
            return
        self._pending = None
        self._dirty = False
        if self._callback_exc is not None:
            exc, self._callback_exc = self._callback_exc, None
            raise exc

    def _call_general(self, ref: int, this: Any, args: Iterable[Any], has_this: bool) -> Any:
        ptr = self._live()
        if _get_ident() != self._home:  # before writing the scratch slots
            self._raise(WRONG_THREAD)
        args = tuple(args)
        n = len(args)
        outer = lib.sqpy_depth(ptr) == 0
        if outer:
            self._pending = self._stop_exc = self._callback_exc = None
        temps: list = []
        slots = self._args if n <= _SCRATCH and outer else ffi.new("sqpy_value[]", max(n, 1))
        for i, a in enumerate(args):
            self._to(a, slots[i], temps)
        selfslot = ffi.NULL
        if has_this:
            selfslot = ffi.new("sqpy_value *")
            self._to(this, selfslot, temps)
        out = self._out if outer else ffi.new("sqpy_value *")
        rc = lib.sqpy_call(ptr, ref, selfslot, n, slots, out)
        if rc != OK:
            self._raise(rc)
        if self._callback_exc is not None and outer:
            exc, self._callback_exc = self._callback_exc, None
            raise exc
        return self._from(out)

    # --- errors -----------------------------------------------------------------------------------

    def caller(self) -> tuple[str, int] | None:
        """Inside a Python native: the (file, line) of the Squirrel code that called it (the
        innermost script frame, ``#line``-mapped), or None outside a native call."""
        line = _caller(self._ptr, self._where)  # the file as an index: each name decoded once (~0.6 us a call)
        if line < 0:
            return None
        names, i = self._sources, self._where[0]
        while len(names) <= i:  # names C met since the last call
            names.append(ffi.string(lib.sqpy_source_name(self._ptr, len(names))).decode("utf-8", "replace"))
        m = self._linemaps.get(names[i])
        return (names[i], line) if m is None else m.map(line, names[i])

    def record_caught_errors(self, on: bool = True) -> None:
        """Record errors a try/catch takes too (for :meth:`last_error_stack` in a catch block)."""
        if lib.sqpy_record_caught_errors(self._live(), 1 if on else 0):
            self._raise(WRONG_THREAD)

    def last_error_stack(self) -> list[Frame]:
        """Where the last recorded error was raised: frames innermost first, ``#line``-mapped."""
        return self._frames() if self._ptr != ffi.NULL else []

    def _map(self, file: str, line: int) -> tuple[str, int]:
        m = self._linemaps.get(file)
        return m.map(line, file) if m and line >= 0 else (file, line)

    def _frames(self) -> list[Frame]:
        ptr = self._ptr
        frames = []
        func, src = ffi.new("const char **"), ffi.new("const char **")
        line, nloc = ffi.new("long long *"), ffi.new("int *")
        lname, lrepr = ffi.new("const char **"), ffi.new("const char **")
        for i in range(lib.sqpy_error_frames(ptr)):
            lib.sqpy_error_frame(ptr, i, func, src, line, nloc)
            file, mapped = self._map(ffi.string(src[0]).decode("utf-8", "replace"), line[0])
            locs = {}
            for j in range(nloc[0]):
                lib.sqpy_error_local(ptr, i, j, lname, lrepr)
                locs[ffi.string(lname[0]).decode("utf-8", "replace")] = ffi.string(lrepr[0]).decode("utf-8", "replace")
            frames.append(Frame(ffi.string(func[0]).decode("utf-8", "replace"), file, mapped, locs))
        return frames

    def _raise(self, rc: int) -> None:
        exc = self._error(rc)
        try:
            raise exc
        finally:
            # The traceback holds this frame: without the local, a raised error and its frames
            # are freed as soon as it is handled rather than by the cycle collector, later.
            del exc

    def _error(self, rc: int) -> BaseException:
        """The exception a call that returned ``rc`` raises."""
        ptr = self._ptr
        if rc == BADREF:
            return SquirrelError("the object belongs to a closed or different VM, or to a run before restore()")
        if rc == WRONG_THREAD:
            return SquirrelError(f"this VM belongs to thread {self._home}, not to thread {threading.get_ident()}: "
                                "a VM is used only by the thread that made it (make one VM per thread)")
        if rc == STOPPED and self._stop_exc is None and "exc" in escape.__dict__:
            # What escaped a callback stops the whole script: every call into Squirrel the stop
            # unwinds raises it, up to the outermost (a native between may turn it into a
            # catchable error for the script, but the stop stands, as for any other stop).
            self._stop_exc = escape.exc if lib.sqpy_depth(ptr) else escape.__dict__.pop("exc")
        if rc == STOPPED and self._stop_exc is not None:
            exc, self._stop_exc = self._stop_exc, None
            if getattr(exc, "with_stack", True) and ptr != ffi.NULL:
                _attach(exc, self._frames())
            return exc
        frames = self._frames() if ptr != ffi.NULL else []
        self._stop_exc = None  # a stop some script swallowed must not surface in a later call
        escape.__dict__.pop("exc", None)
        if rc == TIME_LIMIT:
            limit = (f"{self._instruction_limit} instructions" if self._instruction_limit else
                     f"{self._time_limit} s")
            exc: BaseException = TimeLimitError(f"the script ran out of its time limit ({limit})")
            _attach(exc, frames)  # where the script was stopped
            return exc
        if rc == MEMORY_LIMIT:
            exc = MemoryLimitError(f"the script went over its memory limit ({self._memory_limit} bytes; "
                                   f"in use: {lib.sqpy_memory_used(ptr)})")
            _attach(exc, frames)
            return exc
        message = ffi.string(lib.sqpy_error_message(ptr)).decode("utf-8", "replace")
        if rc == STOPPED and message == ESCAPED_TEXT:
            # cffi could not even call onerror: Python refused to call a function, which at a
            # native's entry means its recursion limit (the exception itself is gone).
            exc = RecursionError("maximum recursion depth exceeded while calling a Python native from Squirrel")
            _attach(exc, frames)
            return exc
        if rc == STACK_OVERFLOW:
            return ScriptError(message or "stack overflow", message or "stack overflow", frames)
        out = ffi.new("sqpy_value *")
        lib.sqpy_error_value(ptr, out)
        value = self._from(out)
        if not message and value is not None:
            if self._describing:
                # The value's _tostring threw while describing an error (it may throw itself):
                # name the type rather than describe the new error the same way, forever.
                message = f"({type(value).__name__})"
            else:
                self._describing = True
                try:
                    message = _p.tostring(self, value)
                except SquirrelError:
                    message = f"({type(value).__name__})"
                finally:
                    self._describing = False
        pending, self._pending = self._pending, None
        if pending is not None and message == _exc_message(pending):
            _attach(pending, frames)
            return pending
        return ScriptError(message, value, frames)

    # --- callbacks from C -------------------------------------------------------------------------

    def _native(self, fid: int) -> tuple[_Native | None, Any]:
        """The native with id ``fid`` and its context (None, None when it is gone)."""
        nat = self._functions.get(fid)
        if nat is not None:
            return nat, None
        for base, natives, context in self._batches:  # a handful per VM
            if base <= fid < base + len(natives):
                return natives[fid - base], context
        return None, None

    def _dispatch(self, v: Any, fid: int, nargs: int, args: Any, ret: Any) -> int:
        nat, context = self._native(fid)
        try:
            if nat is None:
                raise SquirrelError("this Python function is no longer registered")
            if nat.maxargs is not None and nargs > nat.maxargs:
                raise ScriptError("wrong number of parameters")  # what Squirrel says itself
            from_ = self._from
            first = 0 if nat.pass_this else 1
            pyargs = [from_(args[i]) for i in range(nargs)]
            if nat.pass_context:
                pyargs[0] = CallContext(self, v, pyargs[0])
                first = 0
            if nat.bound:
                result = nat.func(context, *pyargs[first:])
            else:
                result = nat.func(*pyargs[first:])
            if result is None:
                return CB_NORETURN
            if isinstance(result, Uncatchable):
                raise result  # returned rather than raised: the same stop (see _fret)
            temps: list = []
            self._to(result, ret, temps)
            if ret.type > STRING:
                for t in temps:
                    if isinstance(t, _p.SquirrelObject) and t._ref == ret.i:
                        t._detach()  # the trampoline releases it once pushed
                        ret.len = 1
            # Until the trampoline has pushed the value: the bytes of a string, a temporary made
            # for the result, and the result itself when it is a proxy (often one of the
            # argument proxies, which would otherwise release its handle as this frame ends).
            self._ret_keep = (result, temps)
            return CB_RETURN
        except BaseException as e:  # the contract: store it, return a code, re-raise at the boundary
            msg = _exc_message(e).encode("utf-8", "replace")
            buf = ffi.new("char[]", msg)
            self._ret_keep = buf
            ret.s = buf
            ret.len = len(msg)
            return self._keep_exc(e)

    def _fargs(self, nargs: int) -> list:
        """The arguments of a dispatch, from slots 0..nargs-1."""
        bt, bi = self._bt, self._bi
        if nargs == 2:  # the commonest beyond one (a name and a value): no comprehension's frame
            t0, t1 = bt[0], bt[1]
            return [bi[0] if t0 == INTEGER else _arg(self, t0, 0), bi[1] if t1 == INTEGER else _arg(self, t1, 1)]
        return [bi[i] if bt[i] == INTEGER else _arg(self, bt[i], i) for i in range(nargs)]

    def _dispatch_other(self, fid: int, shape: int) -> int:
        """The fast dispatch of a native not in ``_direct`` yet (it goes there unless it takes
        `this`, a context or has an upper argument count; those are dispatched here)."""
        nat, context = self._native(fid)
        if nat is None:
            raise SquirrelError("this Python function is no longer registered")
        args = self._fargs(shape & 0xFF)
        f = _direct_for(nat, context)
        if f is None:
            result = nat.func(*self._fargs_special(nat, context, len(args), args))
        else:
            self._direct[fid] = f
            result = f(*args)
        if result is None:
            return CB_NORETURN
        if type(result) is int:
            self._bi[0] = result
            return CB_RETURN_INT
        return self._fret(result)

    def _fargs_special(self, nat: _Native, context: Any, nargs: int, args: list) -> list:
        """The fast dispatch's extra work for natives that take more than their arguments."""
        if nat.maxargs is not None and nargs + 1 > nat.maxargs:
            raise ScriptError("wrong number of parameters")  # what Squirrel says itself
        if nat.pass_this or nat.pass_context:
            out = ffi.new("sqpy_value *")
            lib.sqpy_cbthis(self._ptr, out)
            this = self._from(out)
            if nat.pass_context:
                this = CallContext(self, lib.sqpy_cbthread(self._ptr), this)
            args.insert(0, this)
        if nat.bound:
            args.insert(0, context)
        return args

    def _fret(self, result: Any) -> int:
        """Slot 0 from what a native returned (anything but None and in-range ints)."""
        if isinstance(result, Uncatchable):
            # A native may return its stop rather than raise it: the script stops the same way,
            # and Python builds no traceback for the frames a raise would cross on its way here
            # (an imp's every boot ends with one, its sleep: ~2,300 instructions a boot, callgrind).
            return self._fexc(result)
        t = type(result)
        if t is str or isinstance(result, (str, bytes, bytearray, memoryview)):
            b = result.encode("utf-8") if isinstance(result, str) else bytes(result)
            self._put_string(b)
            return CB_RETURN
        if t is float:
            self._bt[0] = FLOAT
            self._bf[0] = result
            return CB_RETURN
        if t is bool:
            self._bt[0] = BOOL
            self._bi[0] = 1 if result else 0
            return CB_RETURN
        if isinstance(result, _p.SquirrelObject):
            if result._vm is not self:
                raise ValueError("a Squirrel object cannot move to another VM")
            self._bt[0] = result._type
            self._bi[0] = result._live()
            self._ret_keep = result  # until the trampoline has pushed it
            return CB_RETURN
        if isinstance(result, bool):
            self._bt[0] = BOOL
            self._bi[0] = 1 if result else 0
            return CB_RETURN
        if isinstance(result, int):  # out of range (OverflowError), or an int subclass
            self._slot_scalar(int(result), 0)
            return CB_RETURN
        if isinstance(result, float):
            self._slot_scalar(float(result), 0)
            return CB_RETURN
        obj = self._new_object(result)
        self._bt[0] = obj._type
        self._bi[0] = obj._detach()  # the trampoline releases it once pushed
        return CB_RETURN_TEMP

    def _put_string(self, b: bytes) -> None:
        """Slot 0 := the string b (copied into the scratch buffer, which the trampoline copies
        into Squirrel at once)."""
        n = len(b)
        if n > len(self._scratch):
            self._scratch = ffi.new("char[]", max(n, 2 * len(self._scratch)))
        ffi.memmove(self._scratch, b, n)
        self._bt[0] = STRING
        self._bi[0] = n
        self._bs[0] = self._scratch

    def _fexc(self, e: BaseException) -> int:
        """The error contract on the fast path: store the exception, put the message the script
        sees in slot 0, and tell the trampoline to throw (catchably or not). A message that fits
        goes into the text buffer, as a short string result does: one copy and one slot written
        (~4,000 instructions less per error, and an imp's every boot ends with one: its sleep)."""
        b = _exc_message(e).encode("utf-8", "replace")
        n = len(b)
        if n > TEXT:
            self._put_string(b)
            return self._keep_exc(e)
        self._tbuf[:n] = b
        self._bi[0] = n
        return CB_STOP_TEXT if self._keep_exc(e) == CB_STOP else CB_RAISE_TEXT

    def _keep_exc(self, e: BaseException) -> int:
        """Keep a native's exception for the boundary; what the trampoline does: stop the script
        (uncatchable) or throw (catchable)."""
        if isinstance(e, (Uncatchable, TimeLimitError, MemoryLimitError)) or not isinstance(e, Exception):
            self._stop_exc = e
            return CB_STOP
        self._pending = e
        self._dirty = True
        return CB_RAISE

    def _print(self, is_error: int, text: str) -> None:
        target = self.error if is_error else self.print
        if target is not None:
            try:
                target(text)
            except BaseException as e:
                self._callback_exc = e
                self._dirty = True


def _exc_message(e: BaseException) -> str:
    """What the script sees for a native's exception: a SquirrelError's own text (natives raise
    one to throw a plain Squirrel error), else ``Type: text``."""
    if isinstance(e, SquirrelError):
        return str(e.args[0]) if e.args else type(e).__name__
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _attach(exc: BaseException, frames: list[Frame]) -> None:
    if isinstance(exc, ScriptError) and not exc.traceback:
        exc.traceback = frames
        return
    if frames and not getattr(exc, "squirrel_traceback", None):
        exc.squirrel_traceback = frames  # type: ignore[attr-defined]
        if hasattr(exc, "add_note"):
            exc.add_note(format_traceback(frames))


@ffi.def_extern(error=CB_ESCAPED, onerror=escaped)
def sqpy_dispatch(owner, v, fid, nargs, args, ret):
    return ffi.from_handle(owner)._dispatch(v, fid, nargs, args, ret)


def _string_arg(vm: VM, i: int) -> Any:
    n = vm._bi[i]
    b = vm._tbuf[:n] if i == 0 and n <= TEXT else ffi.unpack(vm._bs[i], n)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _arg(vm: VM, t: int, i: int) -> Any:
    """Slot i of a dispatch's arguments, of type t (anything but an integer)."""
    if t == STRING:
        return _string_arg(vm, i)
    if t == FLOAT:
        return vm._bf[i]
    if t == NULL:
        return None
    if t == BOOL:
        return vm._bi[i] != 0
    return _p.make_proxy(vm, vm._bi[i], t)  # the proxy owns the handle the trampoline made


_ONE_INT = 1 | INTEGER << 8  # the shape of a call with one integer argument
_ONE_STR = 1 | STRING << 8
_TWO_STR = 2 | STRING << 8
_ONE_CLOSURE = 1 | lib.SQPY_CLOSURE << 8  # a handler (onidle, onshutdown, a timer's callback...)


@ffi.def_extern(error=CB_ESCAPED, onerror=escaped)
def sqpy_fdispatch(vmid, fid, shape, i0):
    """Squirrel calling a Python native: the hot path of Squirrel->Python calls. Keep it flat;
    every Python-level step here costs ~5% of a call. (Called by the trampoline directly: below.)"""
    vm = _VMS[vmid]()
    try:
        # _direct: fid -> what to call with just the arguments (not for natives that take
        # `this`, a context or have an upper argument count: _dispatch_other does those).
        f = vm._direct.get(fid)
        if f is None:
            return vm._dispatch_other(fid, shape)
        if shape == _ONE_INT:
            result = f(i0)
        elif shape == 0:
            result = f()
        elif shape == _ONE_STR or shape == _TWO_STR:  # a name, and a value with it (a message...)
            n = vm._bi[0]
            b = vm._tbuf[:n] if n <= TEXT else ffi.unpack(vm._bs[0], n)
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError:
                s = b
            if shape == _ONE_STR:
                result = f(s)
            else:  # not through _fargs, _arg and _string_arg: ~1,500 instructions less (callgrind)
                t1 = vm._bt[1]
                result = f(s, vm._bi[1] if t1 == INTEGER else _arg(vm, t1, 1))
        elif shape == _ONE_CLOSURE:  # its proxy made here, not by _arg and make_proxy: ~1,000
            result = f(_p.Function(vm, vm._bi[0], shape >> 8))  # instructions less (callgrind)
        elif shape & 0xFF == 1:  # one argument of another type (a table, a blob...)
            result = f(_arg(vm, shape >> 8, 0))
        else:
            result = f(*vm._fargs(shape & 0xFF))
        if result is None:
            return CB_NORETURN
        if type(result) is int:
            vm._bi[0] = result  # the trampoline checks the dialect's range (cffi checks 64 bits)
            return CB_RETURN_INT
        if type(result) is str:
            b = result.encode("utf-8")
            n = len(b)
            if n <= TEXT:
                vm._tbuf[:n] = b
                vm._bi[0] = n
                return CB_RETURN_TEXT
        if isinstance(result, Uncatchable):  # a returned stop (an imp's sleep): not through _fret
            return vm._fexc(result)
        return vm._fret(result)
    except BaseException as e:  # the contract: store it, return a code, re-raise at the boundary
        return vm._fexc(e)


# The trampoline calls it through Python's C API (sqpy.cpp fdispatch: ~1,500 instructions less a
# call than cffi's callback), on cffi's contract; id() is an object's address in CPython.
lib.sqpy_direct_dispatch(ffi.cast("void *", id(sqpy_fdispatch)), ffi.cast("void *", id(escaped)))


@ffi.def_extern(error=CB_ESCAPED, onerror=escaped)
def sqpy_overflow(vmid, value):
    vm = _VMS[vmid]()
    try:
        vm._int_overflow(value)
    except OverflowError as e:
        return vm._fexc(e)
    return CB_RAISE


@ffi.def_extern(onerror=escaped_later)
def sqpy_print(owner, is_error, s, n):
    vm = ffi.from_handle(owner)
    vm._print(is_error, ffi.unpack(s, n).decode("utf-8", "replace"))


@ffi.def_extern(onerror=escaped_later)
def sqpy_forget(owner, fid):
    vm = ffi.from_handle(owner)
    vm._functions.pop(fid, None)
    vm._direct.pop(fid, None)
