"""The Electric Imp Builder subset that test code uses, and impCloud-style ``#require`` resolution.

Builder (``impt`` runs it on every test session) is a line-oriented preprocessor. This module
implements the part of it that test files and libraries use, offline:

Directives (a line whose first non-blank character is ``@``):

* ``@include <expr>`` / ``@include once <expr>`` -- a local file, ``"github:owner/repo/path[@ref]"``
  or a macro call ``@include name(args)``. ``once`` skips a source that was already included
  (by any spelling: identity is the resolved file, or the github repo/path/ref). Macros are
  always expanded.
* ``@set NAME <expr>`` and ``@set NAME = <expr>`` -- global for the rest of the build.
* ``@if <expr>`` / ``@elseif <expr>`` / ``@else`` / ``@endif`` (``@end`` closes any block).
* ``@error <expr>`` raises :class:`BuildError`; ``@warning <expr>`` is collected in
  :attr:`BuildResult.warnings`.
* ``@macro name(a, b)`` ... ``@endmacro``; ``@include name(x, y)`` or inline ``@{name(x, y)}``
  (inline output has no line control and its trailing newline trimmed, as in Builder).
* ``@while <expr>`` ... ``@endwhile`` and ``@repeat <expr>`` ... ``@endrepeat`` with
  ``loop.index`` (0-based) and ``loop.iteration`` (1-based).
* ``@`` followed by a blank or the end of the line is a Builder comment and produces nothing.
* ``// comment`` after a directive's expression is ignored.

Inline ``@{expr}`` anywhere in an ordinary line is replaced by the value of ``expr``.

Expressions (a small evaluator with JavaScript semantics, as Builder is written in JS; no Python
``eval``): number literals (``1``, ``1.5``, ``1e6``, ``0x1F``), strings in ``"`` or ``'`` with
JS escapes, ``true``/``false``/``null``, array literals ``[a, b]``; variables; operators
``?:  ||  &&  == != === !==  < > <= >=  + - * / %`` and unary ``! - +``; parentheses; member access
``a.b`` / ``a[i]`` (``.length`` of strings and arrays); filters ``expr | name`` (same as
``name(expr)``). ``+`` concatenates when either side is a string; ``==`` is JS loose equality (so an
environment variable ``"1"`` equals ``1``); ``&&``/``||`` return an operand; ``/`` by zero gives
``Infinity``/``NaN`` like JS. Functions: ``defined(NAME)`` (also ``defined("NAME")``), ``min``,
``max``, ``abs``, ``escape``, ``base64``, ``include(source)`` (the built text of a file, inline) and
any macro. Not supported: the ``S.*`` string functions and JS method calls.

Variables, looked up in this order: macro arguments and ``loop``; ``__FILE__`` (file name of the
current file), ``__LINE__`` (line in the current file), ``__PATH__`` (directory of the current
file, absolute with ``/`` separators; ``github:owner/repo/dir`` inside a github file); ``@set``
variables; the ``variables`` given to :class:`Builder` (the JSON builder config); the environment.
An undefined variable evaluates to ``null``.

Local include lookup: an absolute path is used as is; a relative one is tried relative to the
including file's directory, then the input file's directory, then the test home. Inside a file
that came from github, a relative path is first tried in the same repository at the same ref.

``github:owner/repo/path[@ref]`` is read from a directory of checkouts (``--github-dir`` or the
environment variable ``IMPSIM_GITHUB_DIR``) laid out as ``DIR/owner/repo`` (names matched
case-insensitively if the exact spelling is absent). Without ``@ref`` the working-tree file is
read; with ``@ref`` (tag, branch or commit) ``git -C DIR/owner/repo show ref:./path``. A github
path without ``@ref`` that points into the repository of the including github file inherits that
file's ref, so ``@include __PATH__ + "/src/x.nut"`` in a pinned library stays at the same version.

Line control: with ``line_control`` (the default, as impt runs Builder) the output carries
``#line N "file"`` lines -- the line after one is line N of ``file`` -- wherever the source file or
the line continuity changes, so every output line maps back to its source. (Builder itself emits
them only on file switches, which drifts after skipped ``@if`` blocks.) File names are relative to
the test home when inside it, otherwise absolute. A directive that would land inside a Squirrel
verbatim string ``@"..."`` is postponed until the string ends, so string values never change.

``#require "Name.lib.nut:1.2.3"`` is not Builder's business: impCloud resolves it after Builder,
and :func:`resolve_requires` does the same offline from library directories (``--lib-dir``, then
``IMPSIM_LIB_PATH``; see :func:`library_dirs`), with the layouts described in :func:`find_library`:
``DIR/Name.lib.nut:1.2.3`` (or ``@1.2.3``), ``DIR/Name/1.2.3/Name.lib.nut``, ``DIR/Name.lib.nut`` or
``DIR/Name/Name.lib.nut``, then the built-in Promise (3.x/4.x) and JSONEncoder the caller supplies.
"""

from __future__ import annotations

import base64 as _b64
import functools
import math
import os
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "GITHUB_DIR_ENV",
    "LIB_PATH_ENV",
    "BuildError",
    "BuildResult",
    "BuildWarning",
    "Builder",
    "build",
    "evaluate",
    "find_library",
    "library_dirs",
    "resolve_requires",
]

GITHUB_DIR_ENV = "IMPSIM_GITHUB_DIR"
LIB_PATH_ENV = "IMPSIM_LIB_PATH"

# Builder's own limit; a deeper include chain is almost certainly a cycle.
MAX_DEPTH = 256
# Builder has no limit and would hang; a test build never needs this many iterations.
MAX_LOOP_ITERATIONS = 100_000

PathLike = str | os.PathLike
_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------
# Errors and results


class BuildError(Exception):
    """A preprocessing failure, located at ``file:line`` of the original source when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class BuildWarning:
    """An ``@warning`` message and where it was issued."""

    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class BuildResult:
    text: str
    warnings: list[BuildWarning] = field(default_factory=list)
    #: Display names of every source read, in the order first read (main file first).
    sources: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Expressions


class _ExprError(Exception):
    """Raised by the evaluator; the caller adds the file and line."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<comment>//.*)
   |(?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
   |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
   |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
   |(?P<op>===|!==|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]|])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unescape(body: str) -> str:
    def repl(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xu" and len(e) > 1:
            return chr(int(e[1:], 16))
        return _SIMPLE_ESCAPES.get(e, e)

    return _ESCAPE.sub(repl, body)


def _tokenize(src: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            ch = src[pos]
            if ch in "\"'":
                raise _ExprError(f"unterminated string in expression {src.strip()!r}")
            raise _ExprError(f"unexpected character {ch!r} in expression {src.strip()!r}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            continue
        if kind == "comment":
            break
        if kind == "num":
            if text[:2].lower() == "0x":
                tokens.append(("lit", int(text, 16)))
            elif re.fullmatch(r"\d+", text):
                tokens.append(("lit", int(text)))
            else:
                tokens.append(("lit", _norm(float(text))))
        elif kind == "str":
            tokens.append(("lit", _unescape(text[1:-1])))
        else:
            tokens.append((kind, text))  # type: ignore[arg-type]
    tokens.append(("end", None))
    return tokens


_KEYWORDS = {"true": True, "false": False, "null": None, "undefined": None}


class _Parser:
    """Recursive descent over the token list; nodes are tuples tagged by their first item."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokenize(src)
        self.i = 0

    def parse(self) -> tuple:
        if self.toks[0][0] == "end":
            raise _ExprError("missing expression")
        node = self._filter()
        kind, value = self.toks[self.i]
        if kind != "end":
            raise _ExprError(f"unexpected {value!r} in expression {self.src.strip()!r}")
        return node

    def _accept(self, *ops: str) -> str | None:
        kind, value = self.toks[self.i]
        if kind == "op" and value in ops:
            self.i += 1
            return value
        return None

    def _expect(self, op: str) -> None:
        if self._accept(op) is None:
            kind, value = self.toks[self.i]
            got = "the end" if kind == "end" else repr(value)
            raise _ExprError(f"expected {op!r} but found {got} in expression {self.src.strip()!r}")

    def _filter(self) -> tuple:
        node = self._cond()
        while self._accept("|"):
            kind, name = self.toks[self.i]
            if kind != "name":
                raise _ExprError(f"a filter name must follow '|' in {self.src.strip()!r}")
            self.i += 1
            node = ("call", name, [node])
        return node

    def _cond(self) -> tuple:
        test = self._or()
        if self._accept("?"):
            yes = self._cond()
            self._expect(":")
            no = self._cond()
            return ("cond", test, yes, no)
        return test

    def _or(self) -> tuple:
        node = self._and()
        while self._accept("||"):
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple:
        node = self._binary(0)
        while self._accept("&&"):
            node = ("and", node, self._binary(0))
        return node

    _LEVELS = (("==", "!=", "===", "!=="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def _binary(self, level: int) -> tuple:
        if level == len(self._LEVELS):
            return self._unary()
        node = self._binary(level + 1)
        while (op := self._accept(*self._LEVELS[level])) is not None:
            node = ("bin", op, node, self._binary(level + 1))
        return node

    def _unary(self) -> tuple:
        op = self._accept("!", "-", "+")
        if op is not None:
            return ("un", op, self._unary())
        return self._postfix()

    def _postfix(self) -> tuple:
        node = self._primary()
        while True:
            if self._accept("."):
                kind, name = self.toks[self.i]
                if kind != "name":
                    raise _ExprError(f"a member name must follow '.' in {self.src.strip()!r}")
                self.i += 1
                node = ("member", node, ("lit", name))
            elif self._accept("["):
                index = self._filter()
                self._expect("]")
                node = ("member", node, index)
            elif self._accept("("):
                if node[0] != "var":
                    raise _ExprError(f"only named functions and macros can be called, in {self.src.strip()!r}")
                args: list[tuple] = []
                if not self._accept(")"):
                    while True:
                        args.append(self._filter())
                        if self._accept(")"):
                            break
                        self._expect(",")
                node = ("call", node[1], args)
            else:
                return node

    def _primary(self) -> tuple:
        kind, value = self.toks[self.i]
        if kind == "lit":
            self.i += 1
            return ("lit", value)
        if kind == "name":
            self.i += 1
            if value in _KEYWORDS:
                return ("lit", _KEYWORDS[value])
            return ("var", value)
        if self._accept("("):
            node = self._filter()
            self._expect(")")
            return node
        if self._accept("["):
            items: list[tuple] = []
            if not self._accept("]"):
                while True:
                    items.append(self._filter())
                    if self._accept("]"):
                        break
                    self._expect(",")
            return ("array", items)
        got = "the end" if kind == "end" else repr(value)
        raise _ExprError(f"unexpected {got} in expression {self.src.strip()!r}")


_PARSE_CACHE: dict[str, tuple] = {}


def _parse_expr(src: str) -> tuple:
    node = _PARSE_CACHE.get(src)
    if node is None:
        node = _Parser(src).parse()
        if len(_PARSE_CACHE) < 4096:
            _PARSE_CACHE[src] = node
    return node


# JS value semantics. Numbers are int when integral (so they print without ".0") and float
# otherwise; null is None.


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _norm(x: float) -> float | int:
    if isinstance(x, float) and x.is_integer() and abs(x) <= 2**53:
        return int(x)
    return x


_JS_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _to_number(v: Any) -> float | int:
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if _is_num(v):
        return v
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return 0
        if _JS_NUMBER.fullmatch(s):
            return _norm(float(s)) if re.search(r"[.eE]", s) else int(s)
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", s):
            return int(s, 16)
        if s in ("Infinity", "+Infinity"):
            return math.inf
        if s == "-Infinity":
            return -math.inf
        return math.nan
    if isinstance(v, list):
        return _to_number(_to_str(v)) if len(v) <= 1 else math.nan
    return math.nan


def js_number(x: float) -> str:
    """JavaScript ``String(x)`` of a number (ECMAScript Number::toString)."""
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    # ECMAScript Number::toString from the shortest round-trip digits.
    sign = "-" if x < 0 else ""
    t = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    k = len(digits)
    n = t.exponent + k  # type: ignore[operator]
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + body


def _to_str(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if _is_num(v):
        return js_number(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return ",".join("" if x is None else _to_str(x) for x in v)
    if isinstance(v, dict):
        return "[object Object]"
    return str(v)


def _truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if _is_num(v):
        return not (v == 0 or (isinstance(v, float) and math.isnan(v)))
    if isinstance(v, str):
        return v != ""
    return True


def _strict_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is b


def _loose_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if type(a) is type(b) or (_is_num(a) and _is_num(b)):
        return _strict_eq(a, b)
    if isinstance(a, bool):
        return _loose_eq(int(a), b)
    if isinstance(b, bool):
        return _loose_eq(a, int(b))
    if _is_num(a) and isinstance(b, str):
        return a == _to_number(b)
    if isinstance(a, str) and _is_num(b):
        return _to_number(a) == b
    if isinstance(a, (list, dict)) and not isinstance(b, (list, dict)):
        return _loose_eq(_to_str(a), b)
    if isinstance(b, (list, dict)) and not isinstance(a, (list, dict)):
        return _loose_eq(a, _to_str(b))
    return False


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, (list, dict)):
        a = _to_str(a)
    if isinstance(b, (list, dict)):
        b = _to_str(b)
    if not (isinstance(a, str) and isinstance(b, str)):
        a, b = _to_number(a), _to_number(b)
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return False
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if isinstance(a, (str, list, dict)) or isinstance(b, (str, list, dict)):
            return _to_str(a) + _to_str(b)
        return _norm(_to_number(a) + _to_number(b))
    x, y = _to_number(a), _to_number(b)
    if op == "-":
        return _norm(x - y)
    if op == "*":
        return _norm(x * y)
    if op == "/":
        if y == 0:
            if x == 0 or (isinstance(x, float) and math.isnan(x)):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1, y)
        if isinstance(x, int) and isinstance(y, int) and x % y == 0:
            return x // y
        return _norm(x / y)
    # "%" follows the sign of the dividend, like JS (and math.fmod).
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    if math.isinf(y):
        return x
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    return _norm(math.fmod(x, y))


def _escape(v: Any) -> str:
    s = _to_str(v)
    table = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "'": "\\'", '"': '\\"'}
    return "".join(table.get(c, c) for c in s)


def _min_max(fn: Callable[..., Any], empty: float, args: list[Any]) -> Any:
    if not args:
        return empty
    nums = [_to_number(a) for a in args]
    if any(isinstance(n, float) and math.isnan(n) for n in nums):
        return math.nan
    return fn(nums)


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "min": lambda args: _min_max(min, math.inf, args),
    "max": lambda args: _min_max(max, -math.inf, args),
    "abs": lambda args: _norm(abs(_to_number(args[0] if args else None))),
    "escape": lambda args: _escape(args[0] if args else None),
    "base64": lambda args: _b64.b64encode(_to_str(args[0] if args else None).encode("utf-8")).decode("ascii"),
}


class _Env:
    """What an expression can see; the builder supplies variable lookup and calls."""

    def lookup(self, name: str) -> tuple[bool, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, name: str, args: list[Any]) -> Any:
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise _ExprError(
                f"unknown function {name}(); supported: defined, {', '.join(sorted(_FUNCTIONS))}, include, "
                "and macros declared with @macro before this line"
            )
        return fn(args)


class _DictEnv(_Env):
    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.variables:
            return True, self.variables[name]
        return False, None


def _eval(node: tuple, env: _Env) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "var":
        return env.lookup(node[1])[1]
    if tag == "bin":
        op, a, b = node[1], _eval(node[2], env), _eval(node[3], env)
        if op == "==":
            return _loose_eq(a, b)
        if op == "!=":
            return not _loose_eq(a, b)
        if op == "===":
            return _strict_eq(a, b)
        if op == "!==":
            return not _strict_eq(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        return _arith(op, a, b)
    if tag == "and":
        left = _eval(node[1], env)
        return _eval(node[2], env) if _truthy(left) else left
    if tag == "or":
        left = _eval(node[1], env)
        return left if _truthy(left) else _eval(node[2], env)
    if tag == "un":
        v = _eval(node[2], env)
        if node[1] == "!":
            return not _truthy(v)
        n = _to_number(v)
        return _norm(-n) if node[1] == "-" else n
    if tag == "cond":
        return _eval(node[2], env) if _truthy(_eval(node[1], env)) else _eval(node[3], env)
    if tag == "member":
        obj = _eval(node[1], env)
        key = _eval(node[2], env)
        if obj is None:
            raise _ExprError(f"cannot read member {_to_str(key)!r} of null")
        if isinstance(obj, (str, list)):
            if key == "length":
                return len(obj)
            if _is_num(key) and float(key).is_integer() and 0 <= key < len(obj):
                return obj[int(key)]
            return None
        if isinstance(obj, dict):
            return obj.get(_to_str(key))
        return None
    if tag == "array":
        return [_eval(item, env) for item in node[1]]
    if tag == "call":
        name, args = node[1], node[2]
        if name == "defined":
            if len(args) != 1:
                raise _ExprError("defined() takes one variable name")
            arg = args[0]
            if arg[0] == "var" or arg[0] == "lit" and isinstance(arg[1], str):
                target = arg[1]
            else:
                raise _ExprError("defined() takes a variable name, e.g. defined(DEBUG)")
            return env.lookup(target)[0]
        return env.call(name, [_eval(a, env) for a in args])
    raise AssertionError(f"unknown node {tag}")


def evaluate(expression: str, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a Builder expression with ``variables`` (a convenience for tools and tests).

    Returns ``None`` for ``null``, ``bool``, ``int``/``float``, ``str``, ``list`` or ``dict``.
    Raises :class:`BuildError` for syntax errors and unknown functions.
    """
    try:
        return _eval(_parse_expr(expression), _DictEnv(variables or {}))
    except _ExprError as e:
        raise BuildError(str(e)) from None


# ---------------------------------------------------------------------------------------------
# Squirrel lexical state, so that line control never lands inside a verbatim string and
# #require is not taken from inside a comment or string.

_NORMAL, _LINE_COMMENT, _BLOCK_COMMENT, _VERBATIM, _STRING = range(5)
_NORMAL_STOP = re.compile(r'//|#|/\*|@"|"|\'')
_STRING_STOP = re.compile(r"\\.|[\"'\n]", re.DOTALL)


class _Lexer:
    __slots__ = ("quote", "state")

    def __init__(self) -> None:
        self.state = _NORMAL
        self.quote = ""

    def feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            state = self.state
            if state == _NORMAL:
                m = _NORMAL_STOP.search(text, i)
                if m is None:
                    return
                tok = m.group()
                i = m.end()
                if tok in ("//", "#"):
                    self.state = _LINE_COMMENT
                elif tok == "/*":
                    self.state = _BLOCK_COMMENT
                elif tok == '@"':
                    self.state = _VERBATIM
                else:
                    self.state, self.quote = _STRING, tok
            elif state == _LINE_COMMENT:
                j = text.find("\n", i)
                if j < 0:
                    return
                i, self.state = j + 1, _NORMAL
            elif state == _BLOCK_COMMENT:
                j = text.find("*/", i)
                if j < 0:
                    return
                i, self.state = j + 2, _NORMAL
            elif state == _VERBATIM:
                j = text.find('"', i)
                if j < 0:
                    return
                if text.startswith('""', j):
                    i = j + 2  # "" is an escaped quote inside @"..."
                else:
                    i, self.state = j + 1, _NORMAL
            else:
                m = _STRING_STOP.search(text, i)
                if m is None:
                    return
                i = m.end()
                tok = m.group()
                if tok == "\n" or tok == self.quote:
                    self.state = _NORMAL


# ---------------------------------------------------------------------------------------------
# Output with line control


def _quote_name(name: str) -> str:
    # The VM's #line parser takes the name up to the next '"' and has no escapes.
    return name.replace('"', "'")


class _Out:
    def __init__(self, line_control: bool) -> None:
        self.line_control = line_control
        self.parts: list[str] = []
        self.lexer = _Lexer()
        # What the VM's line map will make of the next output line: (file, line) or None.
        self.mapped: tuple[str, int] | None = None
        self.at_bol = True
        # A source that writes its own "#line" (impt's session code does, for the bootstrap
        # function) keeps control of the mapping until output comes from another source.
        self.override: str | None = None

    def _append(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        if self.line_control:
            self.lexer.feed(text)
            if self.mapped is not None:
                self.mapped = (self.mapped[0], self.mapped[1] + text.count("\n"))
        self.at_bol = text.endswith("\n")

    def line(self, text: str, file: str, line: int) -> None:
        if not self.line_control:
            self._append(text)
            return
        if self.override is not None and self.override != file:
            self.override = None
        if self.override is None and self.mapped != (file, line) and self.lexer.state != _VERBATIM:
            if not self.at_bol:
                self._append("\n")
            self.parts.append(f'#line {line} "{_quote_name(file)}"\n')
            self.mapped = (file, line)
        self._append(text)
        if "#line" in text:
            m = _LINE.match(text.rstrip("\n"))
            if m is not None:
                # The VM applies every such line, whatever the lexical context.
                self.override = file
                previous = self.mapped[0] if self.mapped is not None else file
                self.mapped = (m.group(2) if m.group(2) is not None else previous, int(m.group(1)))

    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------------------------
# Source files


@dataclass(frozen=True)
class _Github:
    owner: str
    repo: str
    path: str  # inside the repository, '/'-separated, no leading '/'
    ref: str | None

    @property
    def spec(self) -> str:
        return f"github:{self.owner}/{self.repo}/{self.path}" + (f"@{self.ref}" if self.ref else "")


_GITHUB_PREFIX = re.compile(r"^(?:github:|github\.com/)", re.IGNORECASE)


def _parse_github(spec: str) -> _Github | None:
    m = _GITHUB_PREFIX.match(spec)
    if m is None:
        return None
    rest = spec[m.end():]
    ref: str | None = None
    at = rest.rfind("@")
    if at >= 0:
        rest, ref = rest[:at], rest[at + 1:] or None
    parts = [p for p in rest.split("/") if p]
    if len(parts) < 3:
        raise _ExprError(f'github include "{spec}" must look like "github:owner/repo/path/to/file.nut[@ref]"')
    path = posixpath.normpath("/".join(parts[2:]))
    if path.startswith(".."):
        raise _ExprError(f'github include "{spec}" points outside the repository')
    return _Github(parts[0], parts[1], path, ref)


@dataclass
class _Source:
    key: str  # identity for @include once
    display: str  # name used in #line and errors
    file_var: str  # __FILE__
    path_var: str  # __PATH__
    local_dir: Path | None
    github: _Github | None
    text: str


@dataclass
class _Text:
    line: int
    text: str


@dataclass
class _Directive:
    line: int
    kind: str
    arg: str


@dataclass
class _If:
    line: int
    branches: list[tuple[int, str, list]]
    otherwise: list | None = None


@dataclass
class _Block:
    line: int
    kind: str  # macro | while | repeat
    arg: str
    body: list


_DIRECTIVE = re.compile(
    r"^[ \t]*@(include[ \t]+once|include|set|if|elseif|else|endif|end|error|warning|macro|endmacro"
    r"|while|endwhile|repeat|endrepeat)(?![A-Za-z0-9_$])[ \t]*(.*?)[ \t]*\r?$"
)
_BUILDER_COMMENT = re.compile(r"^[ \t]*@(?:[ \t]|\r?$)")
_NO_ARG = {"else", "endif", "end", "endmacro", "endwhile", "endrepeat"}
_CLOSERS = {"endif": "if", "endmacro": "macro", "endwhile": "while", "endrepeat": "repeat"}
_NEEDS_ARG = {"include", "include once", "set", "if", "elseif", "error", "warning", "macro", "while", "repeat"}


def _strip_comment(arg: str) -> str:
    return "" if arg.startswith("//") else arg


def _parse_source(text: str, display: str) -> list:
    """Turn a file into nested nodes: directives become blocks, everything else text lines."""
    root: list = []
    # Each frame: (node or None, the list that receives children).
    stack: list[tuple[Any, list]] = [(None, root)]
    lines = text.split("\n")
    last = len(lines)
    if lines and lines[-1] == "":
        lines.pop()
        last -= 1
    for number, raw in enumerate(lines, 1):
        if "@" not in raw:
            stack[-1][1].append(_Text(number, raw + "\n"))
            continue
        m = _DIRECTIVE.match(raw)
        if m is None:
            if _BUILDER_COMMENT.match(raw):
                continue
            stack[-1][1].append(_Text(number, raw + "\n"))
            continue
        kind = re.sub(r"[ \t]+", " ", m.group(1))
        arg = m.group(2)
        if kind in _NO_ARG:
            if _strip_comment(arg):
                raise BuildError(f"unexpected text after @{kind}: {arg!r}", display, number)
        elif kind in _NEEDS_ARG and not _strip_comment(arg):
            raise BuildError(f"@{kind} needs an argument", display, number)
        top = stack[-1][0]
        if kind == "if":
            node = _If(number, [(number, arg, [])])
            stack[-1][1].append(node)
            stack.append((node, node.branches[0][2]))
        elif kind in ("elseif", "else"):
            if not isinstance(top, _If):
                raise BuildError(f"@{kind} without a matching @if", display, number)
            if top.otherwise is not None:
                raise BuildError(f"@{kind} after @else (the @if is at line {top.line})", display, number)
            stack.pop()
            if kind == "elseif":
                top.branches.append((number, arg, []))
                stack.append((top, top.branches[-1][2]))
            else:
                top.otherwise = []
                stack.append((top, top.otherwise))
        elif kind in ("macro", "while", "repeat"):
            block = _Block(number, kind, arg, [])
            stack[-1][1].append(block)
            stack.append((block, block.body))
        elif kind == "end" or kind in _CLOSERS:
            if top is None:
                raise BuildError(f"@{kind} without an open block", display, number)
            open_kind = "if" if isinstance(top, _If) else top.kind
            if kind != "end" and _CLOSERS[kind] != open_kind:
                raise BuildError(
                    f"@{kind} closes the @{open_kind} at line {top.line}; use @end{open_kind} or @end",
                    display,
                    number,
                )
            stack.pop()
        else:
            stack[-1][1].append(_Directive(number, kind, arg))
    if len(stack) > 1:
        top = stack[-1][0]
        open_kind = "if" if isinstance(top, _If) else top.kind
        raise BuildError(
            f"@{open_kind} at line {top.line} is never closed: add @end{open_kind} (or @end)", display, last
        )
    return root


def _find_inline_end(text: str, start: int) -> int:
    """Index of the '}' closing an ``@{`` whose expression starts at ``start``; -1 if none."""
    i, n = start, len(text)
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "}":
            return i
        elif c == "\n":
            return -1
        i += 1
    return -1


# ---------------------------------------------------------------------------------------------
# The builder


def _posix_abs(p: Path) -> str:
    return Path(os.path.abspath(p)).as_posix()


def _display(path: Path, root: Path | None) -> str:
    absolute = Path(os.path.abspath(path))
    if root is not None:
        try:
            return absolute.relative_to(root).as_posix()
        except ValueError:
            pass
    return absolute.as_posix()


def _read_text(path: Path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BuildError(f"cannot read {shown}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BuildError(f"{shown} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    return text.removeprefix("\ufeff")


@dataclass
class _Macro:
    name: str
    params: list[str]
    body: list
    source: _Source
    line: int


class Builder:
    """Runs the Builder subset over a file or text. One instance can run many independent builds.

    ``home`` is the test home (the last place relative includes are looked up, and the root that
    ``#line`` file names are shown relative to unless ``display_root`` says otherwise).
    ``variables`` are Builder variables (the JSON builder config); ``env`` the environment
    (default ``os.environ``), whose entries are variables too. ``github_dir`` holds checkouts for
    ``github:`` includes (default: ``env["IMPSIM_GITHUB_DIR"]``).
    """

    def __init__(
        self,
        *,
        home: PathLike | None = None,
        variables: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        github_dir: PathLike | None = None,
        line_control: bool = True,
        display_root: PathLike | None = None,
    ) -> None:
        self.home = Path(os.path.abspath(home if home is not None else os.getcwd()))
        self.variables: dict[str, Any] = dict(variables or {})
        self.env: Mapping[str, str] = os.environ if env is None else env
        if github_dir is None and self.env.get(GITHUB_DIR_ENV):
            github_dir = self.env[GITHUB_DIR_ENV]
        self.github_dir = Path(os.path.abspath(github_dir)) if github_dir is not None else None
        self.line_control = line_control
        self.display_root = Path(os.path.abspath(display_root)) if display_root is not None else self.home

    def build_file(self, path: PathLike) -> BuildResult:
        """Build the file at ``path`` (relative paths are relative to the current directory)."""
        p = Path(os.path.abspath(path))
        display = _display(p, self.display_root)
        if not p.is_file():
            raise BuildError(f"input file {display} does not exist")
        source = self._local_source(p)
        run = _Run(self, p.parent)
        return run.run(source)

    def build_text(self, text: str, *, name: str = "main", directory: PathLike | None = None) -> BuildResult:
        """Build ``text`` as if it were a file called ``name`` in ``directory`` (default: home).

        ``name`` is what ``__FILE__`` and the ``#line`` directives say for lines of this text.
        """
        d = Path(os.path.abspath(directory)) if directory is not None else self.home
        source = _Source(
            key=f"<text>{name}", display=name, file_var=name, path_var=d.as_posix(),
            local_dir=d, github=None, text=text,
        )
        return _Run(self, d).run(source)

    def _local_source(self, p: Path) -> _Source:
        display = _display(p, self.display_root)
        return _Source(
            key=os.path.normcase(os.path.realpath(p)),
            display=display,
            file_var=p.name,
            path_var=_posix_abs(p.parent),
            local_dir=p.parent,
            github=None,
            text=_read_text(p, display),
        )


def build(path: PathLike, **options: Any) -> BuildResult:
    """Shorthand for ``Builder(**options).build_file(path)``."""
    return Builder(**options).build_file(path)


class _Run(_Env):
    """State of one build: @set variables, macros, included sources."""

    def __init__(self, builder: Builder, input_dir: Path) -> None:
        self.b = builder
        self.input_dir = input_dir
        self.globals: dict[str, Any] = {}
        self.macros: dict[str, _Macro] = {}
        self.included: set[str] = set()
        self.warnings: list[BuildWarning] = []
        self.sources: list[str] = []
        self.parsed: dict[str, list] = {}
        self.git_cache: dict[tuple[str, str, str], str | None] = {}
        self.chain: list[str] = []
        # Set while evaluating an expression so lookups and calls see the right scope.
        self.ctx: dict[str, Any] = {}
        self.where: tuple[_Source, int] | None = None

    # -- driving

    def run(self, source: _Source) -> BuildResult:
        out = _Out(self.b.line_control)
        self.included.add(source.key)
        self._exec_source(source, {}, out, source.display, 0)
        return BuildResult(out.text(), self.warnings, self.sources)

    def _exec_source(self, source: _Source, ctx: dict[str, Any], out: _Out, via: str, line: int) -> None:
        if source.display not in self.sources:
            self.sources.append(source.display)
        nodes = self.parsed.get(source.key)
        if nodes is None:
            nodes = _parse_source(source.text, source.display)
            self.parsed[source.key] = nodes
        ctx = dict(ctx)
        ctx["__FILE__"] = source.file_var
        ctx["__PATH__"] = source.path_var
        self._enter(f"{source.display}", via, line)
        try:
            self._exec(nodes, source, ctx, out)
        finally:
            self.chain.pop()

    def _enter(self, what: str, via: str, line: int) -> None:
        if len(self.chain) >= MAX_DEPTH:
            chain = " -> ".join(self.chain[-6:] + [what])
            raise BuildError(
                f"includes nested deeper than {MAX_DEPTH}; is there an include cycle? ({chain}); "
                "use @include once for files that may be included twice",
                via,
                line,
            )
        self.chain.append(what)

    def _exec(self, nodes: list, src: _Source, ctx: dict[str, Any], out: _Out) -> None:
        for node in nodes:
            ctx["__LINE__"] = node.line
            if isinstance(node, _Text):
                text = node.text
                if "@{" in text:
                    text = self._expand_inline(text, src, ctx, node.line)
                out.line(text, src.display, node.line)
            elif isinstance(node, _If):
                self._exec_if(node, src, ctx, out)
            elif isinstance(node, _Block):
                if node.kind == "macro":
                    self._define_macro(node, src)
                else:
                    self._exec_loop(node, src, ctx, out)
            else:
                self._exec_directive(node, src, ctx, out)

    def _value(self, expr: str, src: _Source, ctx: dict[str, Any], line: int) -> Any:
        saved = (self.ctx, self.where)
        self.ctx, self.where = ctx, (src, line)
        try:
            return _eval(_parse_expr(expr), self)
        except _ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        finally:
            self.ctx, self.where = saved

    def _exec_if(self, node: _If, src: _Source, ctx: dict[str, Any], out: _Out) -> None:
        for line, cond, body in node.branches:
            ctx["__LINE__"] = line
            if _truthy(self._value(cond, src, ctx, line)):
                self._exec(body, src, ctx, out)
                return
        if node.otherwise is not None:
            self._exec(node.otherwise, src, ctx, out)

    def _exec_loop(self, node: _Block, src: _Source, ctx: dict[str, Any], out: _Out) -> None:
        index = 0
        if node.kind == "repeat":
            times = _to_number(self._value(node.arg, src, ctx, node.line))
            if not (isinstance(times, int) and times >= 0):
                raise BuildError(f"@repeat needs a whole number of times, got {_to_str(times)}", src.display, node.line)
        while True:
            if node.kind == "repeat":
                if index >= times:
                    return
            else:
                ctx["__LINE__"] = node.line
                if not _truthy(self._value(node.arg, src, ctx, node.line)):
                    return
            if index >= MAX_LOOP_ITERATIONS:
                raise BuildError(
                    f"@{node.kind} ran {MAX_LOOP_ITERATIONS} times; does its condition ever become false?",
                    src.display,
                    node.line,
                )
            inner = dict(ctx)
            inner["loop"] = {"index": index, "iteration": index + 1}
            self._exec(node.body, src, inner, out)
            index += 1

    def _define_macro(self, node: _Block, src: _Source) -> None:
        m = re.fullmatch(r"([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:\(([^)]*)\))?\s*(?://.*)?", node.arg)
        if m is None:
            raise BuildError(f"bad macro declaration {node.arg!r}; write @macro name(a, b)", src.display, node.line)
        name = m.group(1)
        params = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
        for p in params:
            if not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", p):
                raise BuildError(f"bad macro parameter name {p!r}", src.display, node.line)
        if name in self.macros:
            old = self.macros[name]
            raise BuildError(
                f"macro {name} is already declared at {old.source.display}:{old.line}", src.display, node.line
            )
        self.macros[name] = _Macro(name, params, node.body, src, node.line)

    def _exec_directive(self, node: _Directive, src: _Source, ctx: dict[str, Any], out: _Out) -> None:
        kind, arg, line = node.kind, node.arg, node.line
        if kind == "set":
            m = re.match(r"([A-Za-z_$][A-Za-z0-9_$]*)(?:\s*=(?!=)|\s+|$)\s*(.*)$", arg)
            if m is None or not _strip_comment(m.group(2)):
                raise BuildError(f"bad @set {arg!r}; write @set NAME value", src.display, line)
            self.globals[m.group(1)] = self._value(m.group(2), src, ctx, line)
        elif kind in ("include", "include once"):
            self._include(arg, kind == "include once", src, ctx, out, line)
        elif kind == "error":
            raise BuildError(_to_str(self._value(arg, src, ctx, line)), src.display, line)
        elif kind == "warning":
            self.warnings.append(BuildWarning(_to_str(self._value(arg, src, ctx, line)), src.display, line))
        else:  # pragma: no cover - the parser only produces the kinds above
            raise AssertionError(kind)

    # -- includes

    def _include(self, arg: str, once: bool, src: _Source, ctx: dict[str, Any], out: _Out, line: int) -> None:
        try:
            node = _parse_expr(arg)
        except _ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        if node[0] == "call" and node[1] in self.macros:
            args = [self._value_node(a, src, ctx, line) for a in node[2]]
            self._expand_macro(self.macros[node[1]], args, ctx, out, src.display, line)
            return
        spec = self._value(arg, src, ctx, line)
        if not isinstance(spec, str):
            raise BuildError(f"@include needs a file name string, got {_to_str(spec)}", src.display, line)
        target = self._resolve(spec.strip(), src, line)
        if once and target.key in self.included:
            return
        self.included.add(target.key)
        self._exec_source(target, ctx, out, src.display, line)

    def _value_node(self, node: tuple, src: _Source, ctx: dict[str, Any], line: int) -> Any:
        saved = (self.ctx, self.where)
        self.ctx, self.where = ctx, (src, line)
        try:
            return _eval(node, self)
        except _ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        finally:
            self.ctx, self.where = saved

    def _expand_macro(self, macro: _Macro, args: list[Any], ctx: dict[str, Any], out: _Out, via: str, line: int) -> None:
        inner = dict(ctx)
        for name in macro.params:
            inner.pop(name, None)  # a missing argument is undefined, not the caller's value
        for name, value in zip(macro.params, args):
            inner[name] = value
        inner["__FILE__"] = macro.source.file_var
        inner["__PATH__"] = macro.source.path_var
        self._enter(f"{macro.name}()", via, line)
        try:
            self._exec(macro.body, macro.source, inner, out)
        finally:
            self.chain.pop()

    def _resolve(self, spec: str, src: _Source, line: int) -> _Source:
        if re.match(r"^https?://", spec, re.IGNORECASE):
            raise BuildError(
                f'cannot include "{spec}": HTTP includes are not fetched offline; '
                "download the file and @include it by its local path",
                src.display,
                line,
            )
        try:
            gh = _parse_github(spec)
        except _ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        if gh is not None:
            parent = src.github
            if (
                gh.ref is None
                and parent is not None
                and parent.ref is not None
                and (gh.owner.lower(), gh.repo.lower()) == (parent.owner.lower(), parent.repo.lower())
            ):
                gh = _Github(gh.owner, gh.repo, gh.path, parent.ref)
            return self._github_source(gh, src, line)
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:(?![\\/])", spec) and not os.path.isabs(spec):
            raise BuildError(f'cannot include "{spec}": only local files and github: sources are supported', src.display, line)

        if src.github is not None and not os.path.isabs(spec):
            # Remote-relative include: the same repository at the same ref.
            inner = posixpath.normpath(posixpath.join(posixpath.dirname(src.github.path), spec.replace("\\", "/")))
            if not inner.startswith(".."):
                gh = _Github(src.github.owner, src.github.repo, inner, src.github.ref)
                if self._github_text(gh, src, line, must_exist=False) is not None:
                    return self._github_source(gh, src, line)

        tried: list[Path] = []
        if os.path.isabs(spec):
            tried.append(Path(spec))
        else:
            for base in (src.local_dir, self.input_dir, self.b.home):
                if base is not None:
                    candidate = Path(os.path.normpath(base / spec))
                    if candidate not in tried:
                        tried.append(candidate)
        for candidate in tried:
            if candidate.is_file():
                return _located(functools.partial(self.b._local_source, candidate), src, line)
        places = ", ".join(_display(t, self.b.display_root) for t in tried)
        raise BuildError(
            f'included file "{spec}" not found (looked for {places}); relative includes are looked up '
            "next to the including file, then next to the input file, then in the test home",
            src.display,
            line,
        )

    # -- github

    def _checkout(self, gh: _Github, src: _Source, line: int) -> Path:
        root = self.b.github_dir
        if root is None:
            raise BuildError(
                f'"{gh.spec}" needs a local checkout of {gh.owner}/{gh.repo}: set the github directory '
                f"(--github-dir DIR or the environment variable {GITHUB_DIR_ENV}) and clone "
                f"https://github.com/{gh.owner}/{gh.repo} into DIR/{gh.owner}/{gh.repo}",
                src.display,
                line,
            )
        exact = root / gh.owner / gh.repo
        if exact.is_dir():
            return exact
        owner_dir = _find_ci(root, gh.owner, dirs=True)
        repo_dir = _find_ci(owner_dir, gh.repo, dirs=True) if owner_dir is not None else None
        if repo_dir is None:
            raise BuildError(
                f'"{gh.spec}": no checkout at {exact.as_posix()}; clone it there with '
                f"git clone https://github.com/{gh.owner}/{gh.repo} {exact.as_posix()} "
                f"(the github directory comes from --github-dir or {GITHUB_DIR_ENV})",
                src.display,
                line,
            )
        return repo_dir

    def _github_text(self, gh: _Github, src: _Source, line: int, *, must_exist: bool = True) -> str | None:
        checkout = self._checkout(gh, src, line)
        if gh.ref is None:
            f = checkout / gh.path
            if f.is_file():
                return _located(lambda: _read_text(f, gh.spec), src, line)
            if not must_exist:
                return None
            raise BuildError(
                f'"{gh.spec}": {gh.path} does not exist in the checkout {checkout.as_posix()} '
                "(without @ref the working tree is read)",
                src.display,
                line,
            )
        cache_key = (str(checkout), gh.ref, gh.path)
        if cache_key not in self.git_cache:
            self.git_cache[cache_key] = self._git_show(checkout, gh, src, line)
        text = self.git_cache[cache_key]
        if text is None and must_exist:
            raise BuildError(
                f'"{gh.spec}": {gh.path} does not exist at {gh.ref} in {checkout.as_posix()}',
                src.display,
                line,
            )
        return text

    def _git_show(self, checkout: Path, gh: _Github, src: _Source, line: int) -> str | None:
        def git(*args: str) -> subprocess.CompletedProcess[bytes]:
            try:
                return subprocess.run(
                    ["git", "-C", str(checkout), *args], capture_output=True, timeout=60, check=False
                )
            except FileNotFoundError:
                raise BuildError(
                    f'"{gh.spec}" names a ref, which is read with git, and git is not installed; install git '
                    f"or check out {gh.ref} in {checkout.as_posix()} and include without @{gh.ref}",
                    src.display,
                    line,
                ) from None

        probe = git("rev-parse", "--verify", "--quiet", f"{gh.ref}^{{commit}}")
        if probe.returncode != 0:
            inside = git("rev-parse", "--git-dir")
            if inside.returncode != 0:
                raise BuildError(
                    f'"{gh.spec}": {checkout.as_posix()} is not a git checkout, so @{gh.ref} cannot be read; '
                    f"clone https://github.com/{gh.owner}/{gh.repo} there",
                    src.display,
                    line,
                )
            raise BuildError(
                f'"{gh.spec}": ref {gh.ref} is not in {checkout.as_posix()}; fetch it with '
                f"git -C {checkout.as_posix()} fetch --tags origin",
                src.display,
                line,
            )
        shown = git("show", f"{gh.ref}:./{gh.path}")
        if shown.returncode != 0:
            return None
        try:
            text = shown.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BuildError(f'"{gh.spec}" is not UTF-8 text (byte {e.start})', src.display, line) from None
        return text.removeprefix("\ufeff")

    def _github_source(self, gh: _Github, src: _Source, line: int) -> _Source:
        text = self._github_text(gh, src, line)
        assert text is not None
        directory = posixpath.dirname(gh.path)
        return _Source(
            key=f"github:{gh.owner.lower()}/{gh.repo.lower()}/{gh.path}@{gh.ref or ''}",
            display=gh.spec,
            file_var=posixpath.basename(gh.path),
            path_var=f"github:{gh.owner}/{gh.repo}" + (f"/{directory}" if directory else ""),
            local_dir=None,
            github=gh,
            text=text,
        )

    # -- inline expressions

    def _expand_inline(self, text: str, src: _Source, ctx: dict[str, Any], line: int) -> str:
        pieces: list[str] = []
        pos = 0
        while True:
            start = text.find("@{", pos)
            if start < 0:
                pieces.append(text[pos:])
                return "".join(pieces)
            end = _find_inline_end(text, start + 2)
            if end < 0:
                raise BuildError("@{ is not closed on the same line: add }", src.display, line)
            pieces.append(text[pos:start])
            pieces.append(_to_str(self._value(text[start + 2:end], src, ctx, line)))
            pos = end + 1

    # -- _Env interface for expressions

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.ctx:
            return True, self.ctx[name]
        if name in self.globals:
            return True, self.globals[name]
        if name in self.b.variables:
            return True, self.b.variables[name]
        if name in self.b.env:
            return True, self.b.env[name]
        if name in self.macros:
            return True, f"<macro {name}>"
        return False, None

    def call(self, name: str, args: list[Any]) -> Any:
        macro = self.macros.get(name)
        assert self.where is not None
        src, line = self.where
        ctx = self.ctx
        if macro is not None:
            buf = _Out(False)
            self._expand_macro(macro, args, ctx, buf, src.display, line)
            return _trim_last_newline(buf.text())
        if name == "include":
            if len(args) != 1 or not isinstance(args[0], str):
                raise _ExprError("include() takes one file name string")
            target = self._resolve(args[0].strip(), src, line)
            self.included.add(target.key)
            buf = _Out(False)
            self._exec_source(target, ctx, buf, src.display, line)
            return _trim_last_newline(buf.text())
        return super().call(name, args)


def _trim_last_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def _located(fn: Callable[[], _T], src: _Source, line: int) -> _T:
    try:
        return fn()
    except BuildError as e:
        if e.file is None:
            raise BuildError(e.message, src.display, line) from None
        raise


def _find_ci(directory: Path | None, name: str, *, dirs: bool) -> Path | None:
    """``directory/name`` matched case-insensitively (exact spelling preferred)."""
    if directory is None or not directory.is_dir():
        return None
    exact = directory / name
    if (exact.is_dir() if dirs else exact.is_file()):
        return exact
    lowered = name.lower()
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return None
    for entry in entries:
        if entry.lower() == lowered:
            candidate = directory / entry
            if candidate.is_dir() if dirs else candidate.is_file():
                return candidate
    return None


# ---------------------------------------------------------------------------------------------
# #require


_REQUIRE = re.compile(r'^[ \t]*#require[ \t]+"([^"]*)"[ \t]*(?://.*)?\r?$')
_REQUIRE_START = re.compile(r"^[ \t]*#require\b")
_LINE = re.compile(r'^[ \t]*#line[ \t]+(\d+)(?:[ \t]+"([^"]*)")?[ \t]*\r?$')
_LIB_SUFFIXES = (".device.lib.nut", ".agent.lib.nut", ".lib.nut", ".class.nut", ".nut")

#: Built-in libraries that stand in only for the API generations they implement: the
#: built-in Promise follows the 3.x/4.x API (1.x/2.x differ).
BUILTIN_MAJOR_VERSIONS: dict[str, tuple[int, ...]] = {"promise": (3, 4)}


def _lib_base(name: str) -> str:
    lowered = name.lower()
    for suffix in _LIB_SUFFIXES:
        if lowered.endswith(suffix):
            return lowered[: -len(suffix)]
    return lowered


def _split_require(spec: str) -> tuple[str, str | None]:
    name, sep, version = spec.strip().rpartition(":")
    if not sep:
        return spec.strip(), None
    return name.strip(), version.strip().lstrip("vV") or None


def library_dirs(cli_dirs: Iterable[PathLike] = (), env: Mapping[str, str] | None = None) -> list[Path]:
    """Library directories: those given on the command line, then ``IMPSIM_LIB_PATH``
    (``os.pathsep``-separated)."""
    env = os.environ if env is None else env
    dirs = [Path(d) for d in cli_dirs]
    for part in env.get(LIB_PATH_ENV, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()))
    return dirs


class _DirIndex:
    """Case-insensitive directory listings, read once per resolution."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, str]] = {}

    def entries(self, directory: Path) -> dict[str, str]:
        listing = self._cache.get(directory)
        if listing is None:
            listing = {}
            try:
                for entry in sorted(os.listdir(directory), reverse=True):
                    listing[entry.lower()] = entry  # sorted reverse so the first spelling wins
            except OSError:
                pass
            self._cache[directory] = listing
        return listing

    def find(self, directory: Path, name: str, *, dirs: bool = False) -> Path | None:
        entry = self.entries(directory).get(name.lower())
        if entry is None:
            return None
        p = directory / entry
        return p if (p.is_dir() if dirs else p.is_file()) else None


def find_library(
    spec: str,
    lib_dirs: Sequence[PathLike],
    builtins: Mapping[str, PathLike] | None = None,
) -> Path | None:
    """The file that provides ``#require "spec"`` (``Name.lib.nut:1.2.3``), or ``None``.

    Library directory layouts, names matched case-insensitively, ``.lib.nut`` and ``.class.nut``
    interchangeable (``promise.class.nut`` finds ``Promise.lib.nut``):

    1. exact version: ``DIR/Name.lib.nut:1.2.3`` or ``DIR/Name.lib.nut@1.2.3`` (for file systems
       without ``:``), or ``DIR/Name/1.2.3/Name.lib.nut`` (also ``.../v1.2.3/...``);
    2. any version: ``DIR/Name.lib.nut``, or a checkout of the library's repository
       ``DIR/Name/Name.lib.nut``.

    Exact versions in any directory win over unversioned files; directories are searched in
    order. Then ``builtins`` (keys are library names in any of the spellings above, e.g.
    ``"Promise"`` or ``"JSONEncoder.class.nut"``), which serve any version except that the
    built-in Promise only serves 3.x and 4.x.
    """
    return _find_library(spec, lib_dirs, builtins, _DirIndex())


def _find_library(
    spec: str, lib_dirs: Sequence[PathLike], builtins: Mapping[str, PathLike] | None, index: _DirIndex
) -> Path | None:
    name, version = _split_require(spec)
    base = _lib_base(name)
    stem = name[: len(base)]  # the base name in the spelling the #require used
    candidates = [name] + [stem + s for s in (".lib.nut", ".class.nut") if (stem + s).lower() != name.lower()]
    dirs = [Path(os.path.abspath(d)) for d in lib_dirs]

    if version is not None:
        for d in dirs:
            for cand in candidates:
                for sep in (":", "@"):
                    hit = index.find(d, f"{cand}{sep}{version}")
                    if hit is not None:
                        return hit
            lib_dir = index.find(d, stem, dirs=True)
            if lib_dir is not None:
                for vdir_name in (version, "v" + version):
                    vdir = index.find(lib_dir, vdir_name, dirs=True)
                    if vdir is not None:
                        for cand in candidates:
                            hit = index.find(vdir, cand)
                            if hit is not None:
                                return hit
    for d in dirs:
        for cand in candidates:
            hit = index.find(d, cand)
            if hit is not None:
                return hit
        lib_dir = index.find(d, stem, dirs=True)
        if lib_dir is not None:
            for cand in candidates:
                hit = index.find(lib_dir, cand)
                if hit is not None:
                    return hit

    for key, path in (builtins or {}).items():
        if _lib_base(key) != base:
            continue
        majors = BUILTIN_MAJOR_VERSIONS.get(base)
        if version is not None and majors is not None:
            major = version.split(".", 1)[0]
            if not (major.isdigit() and int(major) in majors):
                continue
        return Path(path)
    return None


def _missing_library(spec: str, dirs: Sequence[Path], builtins: Mapping[str, PathLike]) -> str:
    name, version = _split_require(spec)
    stem = name[: len(_lib_base(name))]
    looked = ", ".join(p.as_posix() for p in dirs) if dirs else "no library directories are set"
    layouts = f"{name} (any version)"
    if version:
        layouts += f", {name}:{version}, or {stem}/{version}/{name}"
    hint = ""
    base = _lib_base(name)
    majors = BUILTIN_MAJOR_VERSIONS.get(base)
    if majors and version and any(_lib_base(k) == base for k in builtins):
        hint = f" (the built-in {stem} implements versions {'/'.join(f'{m}.x' for m in majors)} only)"
    sep = "';'" if os.pathsep == ";" else "':'"
    return (
        f'#require "{spec}": library not found{hint} (looked in: {looked}). Provide it: put {layouts} '
        f"in a directory given with --lib-dir DIR, or list directories in the environment variable "
        f"{LIB_PATH_ENV} (separated by {sep})"
    )


def resolve_requires(
    text: str,
    lib_dirs: Sequence[PathLike],
    builtins: Mapping[str, PathLike] | None = None,
    *,
    filename: str = "main",
    display_root: PathLike | None = None,
    line_control: bool = True,
) -> str:
    """Replace every ``#require "Name.lib.nut:1.2.3"`` line with the library's source, as impCloud does.

    Libraries are found with :func:`find_library`. Each is pasted once (a repeated ``#require``
    of the same file becomes a comment line) and its own ``#require`` lines are resolved too.
    With ``line_control`` the pasted text is preceded by ``#line 1 "<library file>"`` and followed
    by a ``#line`` that restores the mapping of the following line, taking existing ``#line``
    directives in ``text`` into account; ``filename`` is the name of lines before any directive.
    Library file names are shown relative to ``display_root`` when inside it.

    ``#require`` lines inside block comments and verbatim strings are left alone. A library that
    cannot be found raises :class:`BuildError` located at the ``#require`` line.
    """
    root = Path(os.path.abspath(display_root)) if display_root is not None else None
    dirs = [Path(os.path.abspath(d)) for d in lib_dirs]
    return _resolve_requires(text, dirs, dict(builtins or {}), filename, root, line_control, {}, _DirIndex(), 0)


def _resolve_requires(
    text: str,
    dirs: list[Path],
    builtins: dict[str, PathLike],
    filename: str,
    root: Path | None,
    line_control: bool,
    seen: dict[str, str],
    index: _DirIndex,
    depth: int,
) -> str:
    if "#require" not in text:
        return text
    lines = text.split("\n")
    out: list[str] = []
    lexer = _Lexer()
    # The line map in force: text line `base_out` is line `base_src` of `cur_file`.
    cur_file, base_out, base_src = filename, 1, 1
    for number, raw in enumerate(lines, 1):
        state = lexer.state
        lexer.feed(raw + "\n")
        if state != _NORMAL:
            out.append(raw)
            continue
        m_line = _LINE.match(raw)
        if m_line is not None:
            cur_file = m_line.group(2) if m_line.group(2) is not None else cur_file
            base_out, base_src = number + 1, int(m_line.group(1))
            out.append(raw)
            continue
        if not _REQUIRE_START.match(raw):
            out.append(raw)
            continue
        here = (cur_file, base_src + number - base_out)
        m = _REQUIRE.match(raw)
        if m is None:
            raise BuildError('malformed #require; write #require "Name.lib.nut:1.2.3"', *here)
        spec = m.group(1)
        path = _find_library(spec, dirs, builtins, index)
        if path is None:
            raise BuildError(_missing_library(spec, dirs, builtins), *here)
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            # Same line count, so the mapping of the following lines is unchanged.
            out.append(f"// {raw.strip()}: already included from {seen[key]}")
            continue
        display = _display(path, root)
        seen[key] = display
        if depth >= MAX_DEPTH:
            raise BuildError(f"#require nesting deeper than {MAX_DEPTH}", *here)
        lib_text = _located_plain(functools.partial(_read_text, path, display), *here)
        lib_text = _resolve_requires(lib_text, dirs, builtins, display, root, line_control, seen, index, depth + 1)
        if lib_text and not lib_text.endswith("\n"):
            lib_text += "\n"
        block = []
        if line_control:
            block.append(f'#line 1 "{_quote_name(display)}"\n')
        block.append(lib_text)
        if line_control:
            block.append(f'#line {here[1] + 1} "{_quote_name(cur_file)}"')
        else:
            block.append(f"// end of {display}")
        out.append("".join(block))
        if line_control:
            # The directive just written now governs the following lines.
            base_out, base_src = number + 1, here[1] + 1
    return "\n".join(out)


def _located_plain(fn: Callable[[], str], file: str, line: int) -> str:
    try:
        return fn()
    except BuildError as e:
        raise BuildError(e.message, file, line) from None
