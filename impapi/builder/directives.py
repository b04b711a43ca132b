"""Builder's directive processor: the Electric Imp Builder subset that apps and their tests use.

Builder (``impt`` runs it on every test session) is a line-oriented preprocessor. Directives (a
line whose first non-blank character is ``@``):

* ``@include <expr>`` / ``@include once <expr>`` -- a local file, ``"github:owner/repo/path[@ref]"``
  (see :mod:`.sources`) or a macro call ``@include name(args)``. ``once`` skips a source that was
  already included (by any spelling: identity is the resolved file, or the github repo/path/ref).
  Macros are always expanded.
* ``@set NAME <expr>`` and ``@set NAME = <expr>`` -- global for the rest of the build.
* ``@if <expr>`` / ``@elseif <expr>`` / ``@else`` / ``@endif`` (``@end`` closes any block).
* ``@error <expr>`` raises :class:`BuildError`; ``@warning <expr>`` is collected in
  :attr:`BuildResult.warnings`.
* ``@macro name(a, b)`` ... ``@endmacro``; ``@include name(x, y)`` or inline ``@{name(x, y)}``
  (inline output has no line control and its trailing newline trimmed, as in Builder).
* ``@while <expr>`` ... ``@endwhile`` and ``@repeat <expr>`` ... ``@endrepeat`` with
  ``loop.index`` (0-based) and ``loop.iteration`` (1-based).
* ``@`` followed by a blank or the end of the line is a Builder comment and produces nothing.
* ``// comment`` and ``/* comment */`` in a directive's argument are ignored, and so are ``;`` and
  ``,`` around it (``@include "x.nut";``), as in Builder (see :mod:`.expressions`).

Inline ``@{expr}`` anywhere in an ordinary line is replaced by the value of ``expr``. Expressions
are :mod:`.expressions`; besides its functions they can call ``include(source)`` (the built text
of a file, inline) and any macro.

Variables, looked up in this order: macro arguments and ``loop``; ``__FILE__`` (file name of the
current file), ``__LINE__`` (line in the current file), ``__PATH__`` (directory of the current
file, absolute with ``/`` separators; ``github:owner/repo/dir`` inside a github file); ``@set``
variables; the ``variables`` given to :class:`Builder` (the JSON builder config); the environment.
An undefined variable evaluates to ``null``.

With ``line_control`` (the default, as impt runs Builder) the output carries ``#line N "file"``
lines (see :mod:`.lines`); file names are relative to the test home when inside it, otherwise
absolute.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .cache import RemoteCache
from .errors import MAX_DEPTH, BuildError, BuildWarning
from .expressions import Env, ExprError, eval_node, parse_expr, strip_comments, to_number, to_str, truthy
from .lines import LineOutput
from .sources import GITHUB_DIR_ENV, PathLike, Source, Sources, display_name

__all__ = ["MAX_LOOP_ITERATIONS", "BuildResult", "Builder", "build", "uses_directives"]

# Builder has no limit and would hang; a build never needs this many iterations.
MAX_LOOP_ITERATIONS = 100_000
_FRAMES_PER_LEVEL = 40  # Python frames one level of @include or macro call may take, generously


@dataclass
class BuildResult:
    text: str
    warnings: list[BuildWarning] = field(default_factory=list)
    #: Display names of every source read, in the order first read (main file first).
    sources: list[str] = field(default_factory=list)


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


def uses_directives(text: str) -> bool:
    """Whether Builder would change ``text``: it has a directive, a Builder comment or ``@{``."""
    return "@" in text and any(
        "@{" in line or _DIRECTIVE.match(line) or _BUILDER_COMMENT.match(line)
        for line in text.split("\n") if "@" in line
    )


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
        arg = strip_comments(m.group(2))
        if kind in _NO_ARG:
            if arg.strip():
                raise BuildError(f"unexpected text after @{kind}: {arg.strip()!r}", display, number)
        elif kind in _NEEDS_ARG and not arg.strip():
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


@dataclass
class _Macro:
    name: str
    params: list[str]
    body: list
    source: Source
    line: int


class Builder:
    """Runs the Builder subset over a file or text. One instance can run many independent builds.

    ``home`` is the test home (the last place relative includes are looked up, and the root that
    ``#line`` file names are shown relative to unless ``display_root`` says otherwise).
    ``variables`` are Builder variables (the JSON builder config); ``env`` the environment
    (default ``os.environ``), whose entries are variables too. ``github_dir`` holds checkouts for
    ``github:`` includes (default: ``env["IMPSIM_GITHUB_DIR"]``). ``cache_dir``, when given, is
    Builder's cache of remote includes (:mod:`.cache`).
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
        cache_dir: PathLike | None = None,
    ) -> None:
        self.home = Path(os.path.abspath(home if home is not None else os.getcwd()))
        self.variables: dict[str, Any] = dict(variables or {})
        self.env: Mapping[str, str] = os.environ if env is None else env
        if github_dir is None and self.env.get(GITHUB_DIR_ENV):
            github_dir = self.env[GITHUB_DIR_ENV]
        self.github_dir = Path(os.path.abspath(github_dir)) if github_dir is not None else None
        self.line_control = line_control
        self.display_root = Path(os.path.abspath(display_root)) if display_root is not None else self.home
        self.cache = RemoteCache(cache_dir) if cache_dir is not None else None

    def build_file(self, path: PathLike, *, text: str | None = None, display: str | None = None) -> BuildResult:
        """Build the file at ``path`` (relative paths are relative to the current directory).

        ``text``: the file's text, when the caller has read it already. ``display``: the name
        errors and ``#line`` give the file (default: relative to ``display_root`` when inside it).
        """
        p = Path(os.path.abspath(path))
        if text is None and not p.is_file():
            raise BuildError(f"input file {display or display_name(p, self.display_root)} does not exist")
        sources = self._sources(p.parent)
        source = sources.local(p, text=text)
        if display is not None:
            source = replace(source, display=display)
        return _Run(self, sources).run(source)

    def build_text(self, text: str, *, name: str = "main", directory: PathLike | None = None) -> BuildResult:
        """Build ``text`` as if it were a file called ``name`` in ``directory`` (default: home).

        ``name`` is what ``__FILE__`` and the ``#line`` directives say for lines of this text.
        """
        d = Path(os.path.abspath(directory)) if directory is not None else self.home
        source = Source(
            key=f"<text>{name}", display=name, file_var=name, path_var=d.as_posix(),
            local_dir=d, github=None, text=text,
        )
        return _Run(self, self._sources(d)).run(source)

    def _sources(self, input_dir: Path) -> Sources:
        return Sources(home=self.home, input_dir=input_dir, display_root=self.display_root, github_dir=self.github_dir,
                       cache=self.cache)


def build(path: PathLike, **options: Any) -> BuildResult:
    """Shorthand for ``Builder(**options).build_file(path)``."""
    return Builder(**options).build_file(path)


class _Run(Env):
    """State of one build: @set variables, macros, included sources."""

    def __init__(self, builder: Builder, sources: Sources) -> None:
        self.b = builder
        self.files = sources
        self.globals: dict[str, Any] = {}
        self.macros: dict[str, _Macro] = {}
        self.included: set[str] = set()
        self.warnings: list[BuildWarning] = []
        self.sources: list[str] = []
        self.parsed: dict[str, list] = {}
        self.chain: list[str] = []
        # Set while evaluating an expression so lookups and calls see the right scope.
        self.ctx: dict[str, Any] = {}
        self.where: tuple[Source, int] | None = None

    # -- driving

    def run(self, source: Source) -> BuildResult:
        out = LineOutput(self.b.line_control)
        self.included.add(source.key)
        # Each level of includes and macros is a few dozen Python frames: give MAX_DEPTH levels
        # room, so a cycle meets _enter's error rather than Python's recursion limit.
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _FRAMES_PER_LEVEL * MAX_DEPTH)
        try:
            self._exec_source(source, {}, out, source.display, 0)
        except RecursionError:
            raise BuildError(f"includes, macros or expressions nested too deeply; is there a cycle? "
                             f"(deeper than {MAX_DEPTH} levels are refused)", source.display, 0) from None
        finally:
            sys.setrecursionlimit(limit)
        return BuildResult(out.text(), self.warnings, self.sources)

    def _exec_source(self, source: Source, ctx: dict[str, Any], out: LineOutput, via: str, line: int) -> None:
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

    def _exec(self, nodes: list, src: Source, ctx: dict[str, Any], out: LineOutput) -> None:
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

    def _value(self, expr: str, src: Source, ctx: dict[str, Any], line: int) -> Any:
        saved = (self.ctx, self.where)
        self.ctx, self.where = ctx, (src, line)
        try:
            return eval_node(parse_expr(expr), self)
        except ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        finally:
            self.ctx, self.where = saved

    def _exec_if(self, node: _If, src: Source, ctx: dict[str, Any], out: LineOutput) -> None:
        for line, cond, body in node.branches:
            ctx["__LINE__"] = line
            if truthy(self._value(cond, src, ctx, line)):
                self._exec(body, src, ctx, out)
                return
        if node.otherwise is not None:
            self._exec(node.otherwise, src, ctx, out)

    def _exec_loop(self, node: _Block, src: Source, ctx: dict[str, Any], out: LineOutput) -> None:
        index = 0
        if node.kind == "repeat":
            times = to_number(self._value(node.arg, src, ctx, node.line))
            if not (isinstance(times, int) and times >= 0):
                raise BuildError(f"@repeat needs a whole number of times, got {to_str(times)}", src.display, node.line)
        while True:
            if node.kind == "repeat":
                if index >= times:
                    return
            else:
                ctx["__LINE__"] = node.line
                if not truthy(self._value(node.arg, src, ctx, node.line)):
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

    def _define_macro(self, node: _Block, src: Source) -> None:
        m = re.fullmatch(r"\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:\(([^)]*)\))?[\s;,]*", node.arg)
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

    def _exec_directive(self, node: _Directive, src: Source, ctx: dict[str, Any], out: LineOutput) -> None:
        kind, arg, line = node.kind, node.arg, node.line
        if kind == "set":
            m = re.match(r"([A-Za-z_$][A-Za-z0-9_$]*)(?:\s*=(?!=)|\s+|$)\s*(.*)$", arg)
            if m is None or not m.group(2).strip():
                raise BuildError(f"bad @set {arg!r}; write @set NAME value", src.display, line)
            self.globals[m.group(1)] = self._value(m.group(2), src, ctx, line)
        elif kind in ("include", "include once"):
            self._include(arg, kind == "include once", src, ctx, out, line)
        elif kind == "error":
            raise BuildError(to_str(self._value(arg, src, ctx, line)), src.display, line)
        elif kind == "warning":
            self.warnings.append(BuildWarning(to_str(self._value(arg, src, ctx, line)), src.display, line))
        else:  # pragma: no cover - the parser only produces the kinds above
            raise AssertionError(kind)

    # -- includes

    def _include(self, arg: str, once: bool, src: Source, ctx: dict[str, Any], out: LineOutput, line: int) -> None:
        try:
            node = parse_expr(arg)
        except ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        if node[0] == "call" and node[1] in self.macros:
            args = [self._value_node(a, src, ctx, line) for a in node[2]]
            self._expand_macro(self.macros[node[1]], args, ctx, out, src.display, line)
            return
        spec = self._value(arg, src, ctx, line)
        if not isinstance(spec, str):
            raise BuildError(f"@include needs a file name string, got {to_str(spec)}", src.display, line)
        target = self.files.resolve(spec.strip(), src, line)
        if once and target.key in self.included:
            return
        self.included.add(target.key)
        self._exec_source(target, ctx, out, src.display, line)

    def _value_node(self, node: tuple, src: Source, ctx: dict[str, Any], line: int) -> Any:
        saved = (self.ctx, self.where)
        self.ctx, self.where = ctx, (src, line)
        try:
            return eval_node(node, self)
        except ExprError as e:
            raise BuildError(str(e), src.display, line) from None
        finally:
            self.ctx, self.where = saved

    def _expand_macro(self, macro: _Macro, args: list[Any], ctx: dict[str, Any], out: LineOutput, via: str, line: int) -> None:
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

    # -- inline expressions

    def _expand_inline(self, text: str, src: Source, ctx: dict[str, Any], line: int) -> str:
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
            pieces.append(to_str(self._value(text[start + 2:end], src, ctx, line)))
            pos = end + 1

    # -- Env interface for expressions

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
            buf = LineOutput(False)
            self._expand_macro(macro, args, ctx, buf, src.display, line)
            return _trim_last_newline(buf.text())
        if name == "include":
            if len(args) != 1 or not isinstance(args[0], str):
                raise ExprError("include() takes one file name string")
            target = self.files.resolve(args[0].strip(), src, line)
            self.included.add(target.key)
            buf = LineOutput(False)
            self._exec_source(target, ctx, buf, src.display, line)
            return _trim_last_newline(buf.text())
        return super().call(name, args)


def _trim_last_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


