"""Python proxies for Squirrel objects: each holds a strong reference into its VM."""

from __future__ import annotations

import threading
from typing import Any, Iterator

from ._squirrel import ffi, lib
from .errors import SquirrelError
from .kinds import FLOAT, INTEGER, NULL, STRING, TEXT, VMLike

_fcall, _fcall1i, _fcall1s = lib.sqpy_fcall, lib.sqpy_fcall1i, lib.sqpy_fcall1s
_OVERFLOW = -lib.SQPY_OVERFLOW  # the one error vm._result looks at the arguments for
_release = lib.sqpy_release
_get_ident = threading.get_ident
_PLAIN_KEYS = frozenset((str, int, float, bool, type(None)))  # converted into a slot without running Python code


class SquirrelObject:
    """A reference to a Squirrel object. Equal proxies refer to the same object."""

    __slots__ = ("_vm", "_ref", "_type", "__weakref__")
    kind = "object"

    def __init__(self, vm: VMLike, ref: int, type_: int) -> None:
        self._vm = vm
        self._ref = ref
        self._type = type_

    def __del__(self) -> None:
        try:
            vm = self._vm
            ref = self._ref
            # A handle of an earlier generation (before the VM's last restore) is released
            # already: no call (~3 such proxies die per boot of a reused VM, ~1,900 instructions each).
            if ref >= 0 and ref >> 32 == vm._gen and not vm._closed:
                _release(vm._ptr, ref)  # a module global: ~50 ns less (timeit); ~4 proxies die per boot
        except Exception:  # interpreter shutdown
            pass

    def _live(self) -> int:
        self._vm._live()
        if self._ref < 0:
            raise SquirrelError("this proxy no longer refers to anything")
        return self._ref

    def _detach(self) -> int:
        ref, self._ref = self._ref, -1
        return ref

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SquirrelObject) or other._vm is not self._vm:
            return NotImplemented
        return bool(lib.sqpy_same(self._vm._live(), self._ref, other._ref))

    def __hash__(self) -> int:
        return hash(lib.sqpy_hash(self._vm._live(), self._ref))

    def __repr__(self) -> str:
        if self._vm.closed:
            return f"<squirrel {self.kind} of a closed VM>"
        try:
            return f"<squirrel {self.kind} {tostring(self._vm, self)}>"
        except SquirrelError:
            return f"<squirrel {self.kind}>"

    def typeof(self) -> str:
        """Squirrel's ``typeof`` (honours ``_typeof`` metamethods)."""
        vm = self._vm
        out = ffi.new("sqpy_value *")
        slot = ffi.new("sqpy_value *")
        vm._to(self, slot, [])
        rc = lib.sqpy_typeof(vm._live(), slot, out)
        if rc:
            vm._raise(rc)
        return vm._from(out)

    def to_python(self) -> Any:
        """Deep conversion to Python values (see :func:`to_python`)."""
        return to_python(self)

    # -- shared by the container kinds --

    def _key(self, key: Any, slot: Any, temps: list) -> None:
        self._vm._to(key, slot, temps)

    def _get(self, key: Any, raw: bool = False) -> Any:
        vm = self._vm
        temps: list = []
        # The VM's own slots (C reads the key before any script code can run, and writes the
        # result last) for a plain key, whose conversion runs no Python code that could use
        # them too; not from a foreign thread, which must not touch them.
        if key.__class__ in _PLAIN_KEYS and _get_ident() == vm._home:
            slot, out = vm._key, vm._val
        else:
            slot, out = ffi.new("sqpy_value *"), ffi.new("sqpy_value *")
        vm._to(key, slot, temps)
        rc = lib.sqpy_get(vm._live(), self._live(), slot, 1 if raw else 0, out)
        if rc:
            if rc == lib.SQPY_ERROR:
                raise KeyError(key)
            vm._raise(rc)
        return vm._from(out)

    def _rawset(self, key: Any, value: Any, newslot: bool) -> None:
        vm = self._vm
        temps: list = []
        if (key.__class__ in _PLAIN_KEYS and (value.__class__ in _PLAIN_KEYS or isinstance(value, SquirrelObject))
                and _get_ident() == vm._home):  # as in _get: C takes both before any script code runs
            k, v = vm._key, vm._val
        else:
            k, v = ffi.new("sqpy_value *"), ffi.new("sqpy_value *")
        vm._to(key, k, temps)
        vm._to(value, v, temps)
        rc = lib.sqpy_set(vm._live(), self._live(), k, v, 1 if newslot else 0)
        if rc:
            if rc == lib.SQPY_ERROR:
                msg = ffi.string(lib.sqpy_error_message(vm._ptr)).decode("utf-8", "replace")
                raise KeyError(f"cannot set {key!r}: {msg}" if msg else key)
            vm._raise(rc)

    def _items(self) -> Iterator[tuple[Any, Any]]:
        if self._type in _SIZED:  # the whole container in one C call
            vm = self._vm
            n = lib.sqpy_len(vm._live(), self._live())
            if n <= 0:
                if n == -2:
                    vm._raise(lib.SQPY_WRONG_THREAD)
                return iter(())
            keys, vals = ffi.new("sqpy_value[]", n), ffi.new("sqpy_value[]", n)
            got = lib.sqpy_items(vm._ptr, self._ref, n, keys, vals)
            if got < 0:
                vm._raise(-got)
            from_ = vm._from
            return iter([(from_(keys[i]), from_(vals[i])) for i in range(got)])
        return self._next_items()

    def _next_items(self) -> Iterator[tuple[Any, Any]]:
        vm = self._vm
        it = ffi.new("sqpy_value *")
        it.type = NULL
        k, v = ffi.new("sqpy_value *"), ffi.new("sqpy_value *")
        while True:
            rc = lib.sqpy_next(vm._live(), self._live(), it, k, v)
            if rc == 1:
                yield vm._from(k), vm._from(v)
            elif rc == 0:
                return
            else:
                vm._raise(-rc)

    def __len__(self) -> int:
        n = lib.sqpy_len(self._vm._live(), self._live())
        if n == -2:
            self._vm._raise(lib.SQPY_WRONG_THREAD)
        if n < 0:
            raise TypeError(f"a Squirrel {self.kind} has no length")
        return n


class Table(SquirrelObject):
    """A Squirrel table, used like a dict. Iteration follows Squirrel's own order."""

    __slots__ = ()
    kind = "table"

    def __getitem__(self, key: Any) -> Any:
        return self._get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._rawset(key, value, True)

    def __delitem__(self, key: Any) -> None:
        vm = self._vm
        slot = ffi.new("sqpy_value *")
        temps: list = []
        vm._to(key, slot, temps)
        if lib.sqpy_delete(vm._live(), self._live(), slot):
            raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        try:
            self._get(key)
            return True
        except KeyError:
            return False

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._items())

    def keys(self) -> list[Any]:
        return [k for k, _ in self._items()]

    def values(self) -> list[Any]:
        return [v for _, v in self._items()]

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._items())

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self._get(key)
        except KeyError:
            return default

    def rawget(self, key: Any) -> Any:
        """Without delegates or metamethods."""
        return self._get(key, raw=True)


class Array(SquirrelObject):
    """A Squirrel array, used like a list."""

    __slots__ = ()
    kind = "array"

    def _index(self, i: int) -> int:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("Squirrel array index out of range")
        return i

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(len(self)))]
        return self._get(self._index(i))

    def __setitem__(self, i: int, value: Any) -> None:
        self._rawset(self._index(i), value, False)

    def __iter__(self) -> Iterator[Any]:
        return (v for _, v in self._items())

    def append(self, value: Any) -> None:
        vm = self._vm
        slot = ffi.new("sqpy_value *")
        temps: list = []
        vm._to(value, slot, temps)
        rc = lib.sqpy_append(vm._live(), self._live(), slot)
        if rc:
            vm._raise(rc)


class Function(SquirrelObject):
    """A Squirrel closure or native closure. Calling it runs it with ``this`` = root table."""

    __slots__ = ()
    kind = "function"

    def __call__(self, *args: Any) -> Any:
        # The hot path of Python->Squirrel calls, inlined from VM._call for the commonest calls
        # (no argument, one integer): every Python-level step here costs ~5% of a call.
        vm = self._vm
        if vm._closed or self._ref < 0:
            return vm._call(self._ref, None, args, False)  # raises the right error
        if not args:
            rc = _fcall(vm._ptr, self._ref, 0, b"", 0)
        elif len(args) == 1 and type(args[0]) is int:
            try:
                rc = _fcall1i(vm._ptr, self._ref, args[0])
            except OverflowError:  # beyond 64 bits
                return vm._call(self._ref, None, args, False)
        elif len(args) == 1 and type(args[0]) is str:
            b = args[0].encode("utf-8")
            rc = _fcall1s(vm._ptr, self._ref, b, len(b))
        elif len(args) <= 4:
            if _get_ident() != vm._home:  # before writing the slots its own thread may be using
                return vm._call(self._ref, None, args, False)
            bt = vm._bt
            strs = b""
            i = 0
            for a in args:
                t = type(a)
                if t is int:
                    bt[i] = INTEGER
                    vm._bi[i] = a
                elif t is str:
                    b = a.encode("utf-8")
                    bt[i] = STRING
                    vm._bi[i] = len(b)
                    strs += b
                elif t is float:
                    bt[i] = FLOAT
                    vm._bf[i] = a
                elif a is None:
                    bt[i] = NULL
                else:
                    return vm._call(self._ref, None, args, False)
                i += 1
            try:
                rc = _fcall(vm._ptr, self._ref, i, strs, len(strs))
            except OverflowError:
                return vm._call(self._ref, None, args, False)
        else:
            return vm._call(self._ref, None, args, False)
        if rc == INTEGER:
            result = vm._bi[0]
        elif rc == NULL:
            result = None
        elif rc == STRING and vm._bi[0] <= TEXT:
            b = vm._tbuf[:vm._bi[0]]
            try:
                result = b.decode("utf-8")
            except UnicodeDecodeError:
                result = b
        elif rc < 0 and rc != _OVERFLOW:
            # An error (every imp boot ends with one: its sleep) raised here rather than in
            # vm._result: two frames fewer for the traceback, ~4,300 instructions a boot.
            raise vm._error(-rc)
        else:
            result = vm._result(rc, args)  # other types, and overflow errors (raised)
        if vm._dirty:
            vm._after_call()
        return result

    def call(self, this: Any, *args: Any) -> Any:
        """Call with an explicit ``this``."""
        return self._vm._call(self._ref, this, args, True)

    def bind(self, this: Any) -> "BoundFunction":
        return BoundFunction(self, this)

    @property
    def name(self) -> str | None:
        vm = self._vm
        n, name, src, line = ffi.new("long long *"), ffi.new("sqpy_value *"), ffi.new("sqpy_value *"), ffi.new("long long *")
        lib.sqpy_closure_info(vm._live(), self._live(), n, name, src, line)
        return vm._from(name)


class NativeFunction(Function):
    __slots__ = ()
    kind = "native function"


class BoundFunction:
    """A function with its ``this``: what attribute access on an instance or class returns."""

    __slots__ = ("function", "this")

    def __init__(self, function: Function, this: Any) -> None:
        self.function, self.this = function, this

    def __call__(self, *args: Any) -> Any:
        return self.function.call(self.this, *args)

    def __repr__(self) -> str:
        return f"<bound {self.function!r}>"


class _Members(SquirrelObject):
    """Attribute access for classes and instances; ``obj["name"]`` works too."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = self._get(name)
        except KeyError:
            raise AttributeError(f"Squirrel {self.kind} has no member {name!r}") from None
        if isinstance(value, Function):
            return BoundFunction(value, self)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SquirrelObject.__slots__:
            object.__setattr__(self, name, value)
            return
        try:
            self._rawset(name, value, False)
        except KeyError as e:  # an attribute, not an item: Python code expects AttributeError
            raise AttributeError(*e.args) from None

    def __getitem__(self, key: Any) -> Any:
        return self._get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._rawset(key, value, False)

    def __contains__(self, key: Any) -> bool:
        try:
            self._get(key)
            return True
        except KeyError:
            return False

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._items())

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._items())


class Class(_Members):
    """A Squirrel class. Calling it makes an instance."""

    __slots__ = ()
    kind = "class"

    def __call__(self, *args: Any) -> Any:
        return self._vm._call(self._live(), None, args, False)

    @property
    def base(self) -> "Class | None":
        vm = self._vm
        out = ffi.new("sqpy_value *")
        if lib.sqpy_getbase(vm._live(), self._live(), out):
            return None
        return vm._from(out)

    def __newslot__(self, key: Any, value: Any) -> None:
        self._rawset(key, value, True)


class Instance(_Members):
    """An instance of a Squirrel class. Iterating gives the member names of its class (Squirrel's
    foreach over an instance needs a ``_nexti`` metamethod, which is used when there is one)."""

    __slots__ = ()
    kind = "instance"

    def __iter__(self) -> Iterator[Any]:
        if "_nexti" in self.cls:
            return (k for k, _ in self._items())
        return iter(self.cls)

    def items(self) -> list[tuple[Any, Any]]:
        if "_nexti" in self.cls:
            return list(self._items())
        return [(k, self._get(k)) for k in self.cls]

    @property
    def cls(self) -> Class:
        vm = self._vm
        out = ffi.new("sqpy_value *")
        lib.sqpy_getclass(vm._live(), self._live(), out)
        return vm._from(out)

    def isinstance(self, cls: Class) -> bool:
        r = lib.sqpy_instanceof(self._vm._live(), self._live(), cls._live())
        if r == -2:
            self._vm._raise(lib.SQPY_WRONG_THREAD)
        return r == 1

    def __call__(self, *args: Any) -> Any:
        """Calls the ``_call`` metamethod, as ``inst(...)`` does in Squirrel (``this`` is the
        instance; the metamethod's first parameter, the caller's ``this``, is the root table)."""
        # sq_call cannot call an instance (and metamethods are not members): let Squirrel
        # code make the call, which honours _call.
        n = len(args)
        params = "".join(f", a{i}" for i in range(n))
        call = self._vm._helper(f"call{n}", f"return function(f{params}) {{ return f({params[2:]}); }}")
        return call(self, *args)


class Blob(Instance):
    """A Squirrel blob; ``bytes(blob)`` copies its contents."""

    __slots__ = ()
    kind = "blob"

    def __bytes__(self) -> bytes:
        data, n = ffi.new("const char **"), ffi.new("long long *")
        rc = lib.sqpy_blob_data(self._vm._live(), self._live(), data, n)
        if rc:
            self._vm._raise(rc)
        return ffi.unpack(data[0], n[0])

    def __len__(self) -> int:
        return len(bytes(self))


class Generator(SquirrelObject):
    """A Squirrel generator; iterating resumes it until it returns."""

    __slots__ = ()
    kind = "generator"

    def __iter__(self) -> Iterator[Any]:
        # sq_next refuses generators ("cannot iterate a generator"), so resume it like foreach
        # does: each resume runs to the next yield; the value of its final return is not yielded.
        resume = self._vm._helper("resume", "return function(g) { return resume g; }")
        while not self.dead:
            value = resume(self)
            if self.dead:
                return
            yield value

    def __len__(self) -> int:
        raise TypeError("a Squirrel generator has no length")

    @property
    def dead(self) -> bool:
        r = lib.sqpy_generator_dead(self._vm._live(), self._live())
        if r == -2:
            self._vm._raise(lib.SQPY_WRONG_THREAD)
        return r == 1


class WeakRef(SquirrelObject):
    """A Squirrel weak reference; calling it gives the referent or None."""

    __slots__ = ()
    kind = "weakref"

    def __call__(self) -> Any:
        vm = self._vm
        out = ffi.new("sqpy_value *")
        rc = lib.sqpy_weakref_value(vm._live(), self._live(), out)
        if rc:
            vm._raise(rc)
        return vm._from(out)


class Thread(SquirrelObject):
    __slots__ = ()
    kind = "thread"


class UserData(SquirrelObject):
    __slots__ = ()
    kind = "userdata"


_KINDS: dict[int, type[SquirrelObject]] = {
    lib.SQPY_TABLE: Table,
    lib.SQPY_ARRAY: Array,
    lib.SQPY_CLOSURE: Function,
    lib.SQPY_NATIVECLOSURE: NativeFunction,
    lib.SQPY_CLASS: Class,
    lib.SQPY_INSTANCE: Instance,
    lib.SQPY_BLOB: Blob,
    lib.SQPY_GENERATOR: Generator,
    lib.SQPY_WEAKREF: WeakRef,
    lib.SQPY_WRONG_THREAD: Thread,
    lib.SQPY_USERDATA: UserData,
}


_SIZED = frozenset({lib.SQPY_TABLE, lib.SQPY_ARRAY})


def make_proxy(vm: VMLike, ref: int, type_: int) -> SquirrelObject:
    return _KINDS.get(type_, SquirrelObject)(vm, ref, type_)


def tostring(vm: VMLike, value: Any) -> str:
    """Squirrel's ``tostring`` of a value (honours ``_tostring``)."""
    slot, out = ffi.new("sqpy_value *"), ffi.new("sqpy_value *")
    temps: list = []
    vm._to(value, slot, temps)
    rc = lib.sqpy_tostring(vm._live(), slot, out)
    if rc:
        vm._raise(rc)
    r = vm._from(out)
    return r if isinstance(r, str) else r.decode("latin-1")


def to_python(value: Any) -> Any:
    """Deep-convert: tables to dicts, arrays to lists, blobs to bytes, weakrefs to their referent.
    Functions, classes, instances, generators and threads stay proxies, and so do table keys
    that are tables, arrays or other objects (a dict or list cannot be a key). Shared and cyclic
    structure is preserved. Nesting depth is not limited by Python's recursion limit."""
    if not isinstance(value, SquirrelObject):
        return value
    memo: dict = {}
    work: list = []  # (container proxy, its empty Python copy) still to fill

    def shallow(v: Any, key: bool = False) -> Any:
        while isinstance(v, WeakRef):
            v = v()
        if not isinstance(v, SquirrelObject):
            return v
        if isinstance(v, Blob):
            return bytes(v)
        if key or not isinstance(v, (Table, Array)):
            return v
        k = (v._type, lib.sqpy_hash(v._vm._live(), v._ref))
        made = memo.get(k)
        if made is None:
            made = memo[k] = {} if isinstance(v, Table) else []
            work.append((v, made))
        return made

    result = shallow(value)
    while work:
        src, made = work.pop()
        if isinstance(made, dict):
            for k, v in src._items():
                made[shallow(k, key=True)] = shallow(v)
        else:
            made.extend(shallow(v) for v in src)
    return result
