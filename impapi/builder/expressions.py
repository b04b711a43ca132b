"""Builder's expression language: a tokenizer, a recursive-descent parser and an evaluator with
JavaScript value semantics (Builder is written in JavaScript; no Python ``eval``).

Only what Builder 4.2 accepts (its parser is jsep 0.3 with some operators removed), so code that
builds here builds with impt: decimal number literals (``1``, ``1.5``, ``1e6``; no hexadecimal),
strings in ``"`` or ``'`` with the escapes ``\n \r \t \b \f \v`` (a backslash before any
other character stands for that character: ``"\x41"`` is ``x41``), ``true``/``false``/``null``,
array literals ``[a, b]``; variables; operators ``?:  ||  &&  == !=  < > <= >=  + - * / %`` and
unary ``! - +`` (no ``===``/``!==``); parentheses; member access ``a.b`` / ``a[i]`` of arrays
(an index, ``length``) and objects (a key they have; anything else is an error, as in Builder);
filters ``expr | name`` and ``expr | name(args)`` (``name(expr)``, ``name(expr, args)``; ``|``
binds less tightly than ``==`` and more than ``&&``, as in jsep). ``+`` concatenates when either side is a string;
unary ``+`` leaves its operand as it is (Builder's); ``==`` is JS loose equality (so an
environment variable ``"1"`` equals ``1``); ``&&``/``||`` return an operand; ``/`` or ``%`` by the
number zero is an error (by ``"0"``, ``Infinity``/``NaN`` like JS). Functions: ``defined(NAME)`` (also ``defined("NAME")``), ``min``,
``max``, ``abs``, ``escape``, ``base64``; the directive processor adds ``include(source)`` and
macros through :class:`Env`. Not supported: the ``S.*`` string functions and JS method calls.

An argument is one expression, as Builder's parser (jsep 0.3) reads it: ``;`` and ``,`` before or
after it are skipped (``@include "x.nut";`` is fine), two or more expressions are a syntax error.
Directive arguments lose their ``//`` and ``/* */`` comments first (:func:`strip_comments`);
inline ``@{...}`` expressions keep them, so a comment there is a syntax error, as in Builder.
"""

from __future__ import annotations

import base64 as _b64
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .errors import BuildError

__all__ = [
    "Env", "ExprError", "eval_node", "evaluate", "js_number", "parse_expr", "strip_comments", "to_number", "to_str",
    "truthy",
]


class ExprError(Exception):
    """Raised by the evaluator; the caller adds the file and line."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
   |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
   |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
   |(?P<op>===|!==|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,;()\[\]|])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# jsep 0.3's escapes; before any other character a backslash is dropped (no \x, \u or \0).
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(body: str) -> str:
    return _ESCAPE.sub(lambda m: _SIMPLE_ESCAPES.get(m.group(1), m.group(1)), body)


def _tokenize(src: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            ch = src[pos]
            if ch in "\"'":
                raise ExprError(f"unterminated string in expression {src.strip()!r}")
            raise ExprError(f"unexpected character {ch!r} in expression {src.strip()!r}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            continue
        if kind == "num":
            after = src[pos:pos + 1]
            if after and (after.isalpha() or after in "_$"):
                hint = "; Builder has no hexadecimal literals" if text == "0" and after in "xX" else ""
                raise ExprError(f"a number cannot run into a name ({text}{after}...) in expression "
                                f"{src.strip()!r}{hint}")
            if re.fullmatch(r"\d+", text):
                tokens.append(("lit", int(text)))
            else:
                tokens.append(("lit", _norm(float(text))))
        elif kind == "str":
            tokens.append(("lit", _unescape(text[1:-1])))
        elif text in ("===", "!=="):
            raise ExprError(f"{text} is not an operator in Builder expressions (Builder removes it from its "
                            f"parser): use {text[:-1]}, in expression {src.strip()!r}")
        else:
            tokens.append((kind, text))  # type: ignore[arg-type]
    tokens.append(("end", None))
    return tokens


def strip_comments(arg: str) -> str:
    """A directive argument without its comments, as Builder leaves it before parsing.

    Builder runs every directive argument (not inline ``@{...}``) through decomment's text mode:
    ``//`` drops the rest of the line and ``/* ... */`` is cut out with nothing in its place (an
    unclosed one drops the rest); comment marks inside ``'``, ``"`` or backquote strings are kept, and
    a ``/`` or quote right after a backslash is an ordinary character. Blanks before the first
    character that is kept are kept only if something follows them.
    """
    if "/" not in arg:
        return arg
    out: list[str] = []
    blanks = ""
    started = False
    i, n = 0, len(arg)
    while i < n:
        c = arg[i]
        escaped = i > 0 and arg[i - 1] == "\\"
        if c == "/" and i + 1 < n and not escaped and arg[i + 1] in "/*":
            if arg[i + 1] == "/":
                break
            end = arg.find("*/", i + 2)
            if end < 0:
                break
            i = end + 2
            if not started:
                blanks = ""
            continue
        if not started:
            if c in " \t":
                blanks += c
                i += 1
                continue
            out.append(blanks)
            started = True
        out.append(c)
        if c in "'\"`" and not escaped:
            close = _closing_quote(arg, i)
            if close < 0:
                break
            out.append(arg[i + 1:close + 1])
            i = close
        i += 1
    return "".join(out)


def _closing_quote(text: str, start: int) -> int:
    """Index of the quote that closes the one at ``start`` (one not escaped by a backslash), or -1."""
    j = start
    while (j := text.find(text[start], j + 1)) >= 0:
        k = j
        while text[k - 1] == "\\":
            k -= 1
        if (j - k) % 2 == 0:
            return j
    return -1


_KEYWORDS = {"true": True, "false": False, "null": None, "undefined": None}


class _Parser:
    """Recursive descent over the token list; nodes are tuples tagged by their first item."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokenize(src)
        self.i = 0

    def parse(self) -> tuple:
        # Builder parses with jsep 0.3, whose top level reads expressions one after another and
        # skips ';' and ',' between them; Builder then takes exactly one ("Syntax error" else).
        if self.toks[0][0] == "end":
            raise ExprError("missing expression")
        nodes: list[tuple] = []
        second: Any = None
        while (token := self.toks[self.i])[0] != "end":
            if token in (("op", ";"), ("op", ",")):
                self.i += 1
                continue
            if len(nodes) == 1:
                second = token[1]
            nodes.append(self._cond())
        if len(nodes) == 1:
            return nodes[0]
        src = self.src.strip()
        if not nodes:
            raise ExprError(f"Syntax error: no expression in {src!r}")
        raise ExprError(
            f"Syntax error: unexpected {second!r} in expression {src!r}; an argument is one expression "
            "(a ';' or ',' around it is ignored)"
        )

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
            raise ExprError(f"expected {op!r} but found {got} in expression {self.src.strip()!r}")

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
        node = self._filter()
        while self._accept("&&"):
            node = ("and", node, self._filter())
        return node

    def _filter(self) -> tuple:
        # jsep's precedence: "|" binds less tightly than == and more than && (a || b | f is
        # a || f(b)); "x | f(y)" is f(x, y).
        node = self._binary(0)
        while self._accept("|"):
            right = self._binary(0)
            if right[0] == "var":
                node = ("call", right[1], [node])
            elif right[0] == "call":
                node = ("call", right[1], [node, *right[2]])
            else:
                raise ExprError(f"a filter name must follow '|' in {self.src.strip()!r}")
        return node

    _LEVELS = (("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

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
                    raise ExprError(f"a member name must follow '.' in {self.src.strip()!r}")
                self.i += 1
                node = ("member", node, ("lit", name))
            elif self._accept("["):
                index = self._cond()
                self._expect("]")
                node = ("member", node, index)
            elif self._accept("("):
                if node[0] != "var":
                    raise ExprError(f"only named functions and macros can be called, in {self.src.strip()!r}")
                args: list[tuple] = []
                if not self._accept(")"):
                    while True:
                        args.append(self._cond())
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
            node = self._cond()
            self._expect(")")
            return node
        if self._accept("["):
            items: list[tuple] = []
            if not self._accept("]"):
                while True:
                    items.append(self._cond())
                    if self._accept("]"):
                        break
                    self._expect(",")
            return ("array", items)
        got = "the end" if kind == "end" else repr(value)
        raise ExprError(f"unexpected {got} in expression {self.src.strip()!r}")


_PARSE_CACHE: dict[str, tuple] = {}


def parse_expr(src: str) -> tuple:
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


def to_number(v: Any) -> float | int:
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
        return to_number(to_str(v)) if len(v) <= 1 else math.nan
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


def to_str(v: Any) -> str:
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
        return ",".join("" if x is None else to_str(x) for x in v)
    if isinstance(v, dict):
        return "[object Object]"
    return str(v)


def truthy(v: Any) -> bool:
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
        return a == to_number(b)
    if isinstance(a, str) and _is_num(b):
        return to_number(a) == b
    if isinstance(a, (list, dict)) and not isinstance(b, (list, dict)):
        return _loose_eq(to_str(a), b)
    if isinstance(b, (list, dict)) and not isinstance(a, (list, dict)):
        return _loose_eq(a, to_str(b))
    return False


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, (list, dict)):
        a = to_str(a)
    if isinstance(b, (list, dict)):
        b = to_str(b)
    if not (isinstance(a, str) and isinstance(b, str)):
        a, b = to_number(a), to_number(b)
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
            return to_str(a) + to_str(b)
        return _norm(to_number(a) + to_number(b))
    if op in "/%" and _is_num(b) and b == 0:  # Builder checks 0 === right: only the number zero
        raise ExprError(f"division by zero ({to_str(a)} {op} 0)")
    x, y = to_number(a), to_number(b)
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
    s = to_str(v)
    table = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "'": "\\'", '"': '\\"'}
    return "".join(table.get(c, c) for c in s)


def _min_max(fn: Callable[..., Any], empty: float, args: list[Any]) -> Any:
    if not args:
        return empty
    nums = [to_number(a) for a in args]
    if any(isinstance(n, float) and math.isnan(n) for n in nums):
        return math.nan
    return fn(nums)


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "min": lambda args: _min_max(min, math.inf, args),
    "max": lambda args: _min_max(max, -math.inf, args),
    "abs": lambda args: _norm(abs(to_number(args[0] if args else None))),
    "escape": lambda args: _escape(args[0] if args else None),
    "base64": lambda args: _b64.b64encode(to_str(args[0] if args else None).encode("utf-8")).decode("ascii"),
}


class Env:
    """What an expression can see; the builder supplies variable lookup and calls."""

    def lookup(self, name: str) -> tuple[bool, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, name: str, args: list[Any]) -> Any:
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise ExprError(
                f"unknown function {name}(); supported: defined, {', '.join(sorted(_FUNCTIONS))}, include, "
                "and macros declared with @macro before this line"
            )
        return fn(args)


class _DictEnv(Env):
    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.variables:
            return True, self.variables[name]
        return False, None


def _member(obj: Any, key: Any) -> Any:
    """``obj[key]`` as Builder reads it: a falsy owner, a key the owner lacks and a member of a
    string, number or boolean (JavaScript's ``in`` refuses those) are errors."""
    name = to_str(key)
    if not truthy(obj):
        raise ExprError(f"cannot read member {name!r} of {to_str(obj) if obj != '' else 'an empty string'}")
    if isinstance(obj, list):
        if name == "length":
            return len(obj)
        if re.fullmatch(r"0|[1-9]\d*", name) and int(name) < len(obj):
            return obj[int(name)]
    elif isinstance(obj, dict):
        if name in obj:
            return obj[name]
    else:
        raise ExprError(f"cannot read member {name!r} of {_type_name(obj)} {to_str(obj)!r}: Builder reads "
                        "members of arrays and objects only")
    raise ExprError(f"no member {name!r} in the {'array' if isinstance(obj, list) else 'object'} (Builder makes "
                    "a missing member an error; give it a value, or test for it with defined() on a variable)")


def _type_name(v: Any) -> str:
    return "a string" if isinstance(v, str) else "a boolean" if isinstance(v, bool) else "a number"


def eval_node(node: tuple, env: Env) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "var":
        return env.lookup(node[1])[1]
    if tag == "bin":
        op, a, b = node[1], eval_node(node[2], env), eval_node(node[3], env)
        if op == "==":
            return _loose_eq(a, b)
        if op == "!=":
            return not _loose_eq(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        return _arith(op, a, b)
    if tag == "and":
        left = eval_node(node[1], env)
        return eval_node(node[2], env) if truthy(left) else left
    if tag == "or":
        left = eval_node(node[1], env)
        return left if truthy(left) else eval_node(node[2], env)
    if tag == "un":
        v = eval_node(node[2], env)
        if node[1] == "!":
            return not truthy(v)
        return _norm(-to_number(v)) if node[1] == "-" else v  # Builder's unary + converts nothing
    if tag == "cond":
        return eval_node(node[2], env) if truthy(eval_node(node[1], env)) else eval_node(node[3], env)
    if tag == "member":
        return _member(eval_node(node[1], env), eval_node(node[2], env))
    if tag == "array":
        return [eval_node(item, env) for item in node[1]]
    if tag == "call":
        name, args = node[1], node[2]
        if name == "defined":
            if len(args) != 1:
                raise ExprError("defined() takes one variable name")
            arg = args[0]
            if arg[0] == "var" or arg[0] == "lit" and isinstance(arg[1], str):
                target = arg[1]
            else:
                raise ExprError("defined() takes a variable name, e.g. defined(DEBUG)")
            return env.lookup(target)[0]
        return env.call(name, [eval_node(a, env) for a in args])
    raise AssertionError(f"unknown node {tag}")


def evaluate(expression: str, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a Builder expression as a directive argument, with ``variables`` (a convenience
    for tools and tests).

    Returns ``None`` for ``null``, ``bool``, ``int``/``float``, ``str``, ``list`` or ``dict``.
    Raises :class:`BuildError` for syntax errors and unknown functions.
    """
    try:
        return eval_node(parse_expr(strip_comments(expression)), _DictEnv(variables or {}))
    except ExprError as e:
        raise BuildError(str(e)) from None

