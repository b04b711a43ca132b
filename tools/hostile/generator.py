"""Random hostile Squirrel programs, built from a grammar of chunks.

A program is a list of *chunks*: self-contained statements (a block, usually inside a
try/catch that logs what it caught) that stress one thing each — deep structures, metamethods,
delegates, generators, threads, regexp, blobs, debug hooks, the collector, closures and
environments, classes that extend built-ins, huge strings, built-ins and imp API natives called
with wrong types and counts, timers, messages, flash, deep-sleep loops. Chunks do not depend on
one another, so dropping any of them leaves a valid program: that is what makes shrinking by
deleting chunks (:mod:`.shrink`) work.

Everything is decided by ``random.Random(seed)``: the same seed and target give the same
program, byte for byte, so a seed is a complete reproducer.

Two targets:

``"vm"``
    one script for a bare ``squirrel.VM`` (the standard library: threads, debug hooks,
    ``collectgarbage``...). Output goes through ``print``.
``"imp"``
    device code and agent code for ``impsim run``: only what the imp's Squirrel has, plus the
    imp API (called correctly and incorrectly), timers, messages, HTTP, flash, deep sleep.
    Output goes through ``server.log``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

# Values of every Squirrel type, including the awkward ones. Each is an expression that is
# valid on both targets unless marked "vm" (the imp has no threads, no weakref on all types...).
_SCALARS = [
    "null", "0", "1", "-1", "2147483647", "-2147483648", "0x7fffffff", "255", "256", "65536",
    "0.0", "-0.0", "1.5", "-1e30", "1e38", "3.4e38", "1e-45", "true", "false",
    '""', '"x"', '"abc"', '"\\x00"', '"\\xff\\xfe"', '"a\\x00b"', '"%s%d%x"', '"\\t\\n"',
    '"%"', '"é"', '"0x10"', '"12abc"', '"  7  "', "'a'", "(1e38 * 10)", "(1e38 * 10 - 1e38 * 10)",
]
_MAKERS = [
    "[]", "{}", "[1, 2, 3]", '{a = 1, b = "x"}', "[null, [null, [null]]]", "blob(4)", "blob(0)",
    "function() { return 1; }", "function(a, b) { return a; }", "function(...) { return vargv.len(); }",
    "@(x) x", "class {}", "(class { x = 1; function _tostring() { return \"inst\"; } })()",
    "(function() { yield 1; yield 2; })()", 'regexp("a+")', "getroottable()", "this",
    "[1].weakref()", "{}.weakref()", "::print", "array(3, 7)", "[].top", "split",
    "(class extends blob { constructor() {} })", "(class { constructor(a) { } })",
]
_VM_ONLY_MAKERS = ["newthread(function(x) { return x; })", "getconsttable()", "getstackinfos(1)"]

# Built-in functions of the standard library (both targets unless marked).
_GLOBAL_FUNCS_BOTH = [
    "array", "format", "split", "strip", "lstrip", "rstrip", "type", "assert", "error", "print",
    "castf2i", "casti2f", "swap2", "swap4", "swapfloat", "getroottable", "blob", "regexp",
]
_GLOBAL_FUNCS_VM = [
    "escape", "abs", "fabs", "sqrt", "pow", "floor", "ceil", "rand", "srand", "log", "log10", "exp",
    "sin", "cos", "atan2", "startswith", "endswith", "collectgarbage", "resurrectunreachable",
    "getstackinfos", "newthread", "getconsttable", "enabledebuginfo", "compilestring",
]
_GLOBAL_FUNCS_IMP = ["math.abs", "math.sqrt", "math.pow", "math.floor", "math.rand", "math.srand",
                     "math.log", "math.atan2", "time", "date", "clock", "crypto.equals"]

_METHODS = {
    "array": ["append", "push", "extend", "pop", "top", "insert", "remove", "resize", "sort", "reverse",
              "slice", "map", "apply", "reduce", "filter", "find", "clear", "len", "tostring", "weakref"],
    "table": ["rawget", "rawset", "rawdelete", "rawin", "setdelegate", "getdelegate", "clear", "len",
              "tostring", "keys", "values", "filter"],
    "string": ["len", "tointeger", "tofloat", "tostring", "slice", "find", "tolower", "toupper", "weakref"],
    "integer": ["tofloat", "tochar", "tostring", "tointeger"],
    "float": ["tofloat", "tochar", "tostring", "tointeger"],
    "blob": ["writen", "readn", "seek", "tell", "len", "eos", "flush", "resize", "swap2", "swap4",
             "writeblob", "readblob", "tostring", "writestring", "readstring"],
    "regexp": ["match", "search", "capture", "subexpcount"],
    "function": ["call", "pcall", "acall", "pacall", "bindenv", "getinfos", "setroot", "getroot"],
    "generator": ["getstatus"],
    "class": ["getattributes", "setattributes", "rawget", "rawset", "rawin", "newmember", "instance",
              "getbase"],
}

_REGEX = [
    "a+", "(a|b)*c", "^$", "[", "(", "a{2,3}", "\\d+\\s*\\w", "(((((a)))))", "[^\\x00-\\xff]", "\\",
    "a**", "(a*)*b", "(a|aa)+$", "[a-", "\\b", ".", "x{1000}", "[[:alpha:]]", "(?:a)", "\\1",
    "a{99999999}", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "^(a+)+$",
]

_BLOB_TYPES = ["'i'", "'s'", "'w'", "'b'", "'c'", "'f'", "'d'", "'l'", "'x'", "'I'", "0", "\"i\"", "null"]

_WHENCE = ["'b'", "'c'", "'e'", "'x'", "0"]
_SEPARATORS = ['","', '""', '"ab"', "s.slice(0, s.len() / 2)", '"\\x00"']
_TIMER_IDS = ["t", "null", '"t"', "0"]
_FLASH_SOURCES = ["blob(4)", '"abc"']
_STATUSES = ["200", '"x"', "-1", "999", "null"]

_JSON_TEXTS = ['"1e999"', '"-0"', '"[1,]"', '"\\"\\\\ud800\\""', '"99999999999999999999"', '"{\\"a\\":1,\\"a\\":2}"']
_URL_TEXTS = ['"a=%zz&a=1&a"', '"%"', '"&&&="', '"a=%00"']
_BASE64_TEXTS = ['"===="', '"a"', '"\\xff"', '""']

_METAMETHODS = ["_get", "_set", "_newslot", "_delslot", "_add", "_sub", "_mul", "_div", "_modulo",
                "_unm", "_typeof", "_cmp", "_call", "_cloned", "_nexti", "_tostring", "_inherited",
                "_newmember"]


@dataclass(frozen=True)
class Program:
    """One generated program: ``chunks`` for the VM or the device, ``agent_chunks`` for the
    agent (imp target only)."""

    seed: int
    target: str
    chunks: tuple[str, ...]
    agent_chunks: tuple[str, ...] = field(default=())

    def source(self) -> str:
        """The VM script, or the device code."""
        return _assemble(self.target, "device" if self.target == "imp" else "vm", self.chunks)

    def agent_source(self) -> str:
        return _assemble(self.target, "agent", self.agent_chunks)

    def with_chunks(self, chunks: tuple[str, ...], agent_chunks: tuple[str, ...] | None = None) -> "Program":
        return replace(self, chunks=tuple(chunks),
                       agent_chunks=self.agent_chunks if agent_chunks is None else tuple(agent_chunks))

    def size(self) -> int:
        return len(self.chunks) + len(self.agent_chunks)


_PRELUDE = {
    "vm": "local LOG = function(x) { print(x); print(\"\\n\"); };\n",
    "device": "local LOG = function(x) { server.log(x); };\n",
    "agent": "local LOG = function(x) { server.log(x); };\n",
}


def _assemble(target: str, side: str, chunks: tuple[str, ...]) -> str:
    return _PRELUDE[side] + "".join(f"// chunk {i}\n{c}\n" for i, c in enumerate(chunks))


class _Gen:
    """The grammar: one method per kind of chunk, drawing from ``self.r``."""

    def __init__(self, seed: int, target: str, side: str) -> None:
        self.r = random.Random(f"{seed}:{target}:{side}")  # a str seed: no hash randomisation
        self.target = target
        self.side = side  # "vm", "device" or "agent"
        self.n = 0

    # --- small pieces ------------------------------------------------------------------------

    def name(self, prefix: str = "v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def pick(self, seq):
        return self.r.choice(seq)

    def size(self, small: int = 10, large: int = 200_000) -> int:
        """A loop bound: mostly small, sometimes large enough to hit a limit or a deep case."""
        x = self.r.random()
        if x < 0.55:
            return self.r.randint(0, small)
        if x < 0.85:
            return self.r.randint(small, small * 100)
        return self.r.choice([large // 10, large // 2, large, large * 2])

    def value(self, depth: int = 0) -> str:
        """An expression of any type."""
        x = self.r.random()
        if x < 0.45 or depth > 2:
            return self.pick(_SCALARS)
        if x < 0.85:
            makers = _MAKERS + (_VM_ONLY_MAKERS if self.side == "vm" else [])
            return self.pick(makers)
        if x < 0.93:
            return "[" + ", ".join(self.value(depth + 1) for _ in range(self.r.randint(0, 3))) + "]"
        keys = [self.pick(["a", "b", "c", "_get", "len", "weakref"]) for _ in range(self.r.randint(0, 3))]
        return "{" + ", ".join(f"{k} = {self.value(depth + 1)}" for k in dict.fromkeys(keys)) + "}"

    def args(self, most: int = 4) -> str:
        return ", ".join(self.value() for _ in range(self.r.randint(0, most)))

    def body(self) -> str:
        """A short statement body for callbacks and metamethods."""
        options = [
            "return {v};", "throw {v};", "return this;", "local a = [{v}]; return a;",
            "return callee();" if self.side == "vm" else "return {v};",
            "LOG({v});", "return;", "if ({v}) return 1; else throw \"no\";",
        ]
        if self.side == "vm":
            options += ["collectgarbage(); return {v};", "return (function() { yield {v}; })();",
                        "suspend({v});", "return getstackinfos(1);"]
        return self.pick(options).replace("{v}", self.value(1))

    def guarded(self, code: str) -> str:
        """Mostly inside a try/catch that logs what it caught (a Python wording there is a
        finding); sometimes bare, so an uncaught error ends the program."""
        if self.r.random() < 0.95:
            return f'try {{\n{code}\n}} catch (e) {{ LOG("caught: " + e); }}'
        return "{\n" + code + "\n}"

    # --- chunks ------------------------------------------------------------------------------

    def chunk(self) -> str:
        kinds = [
            (self.deep_structure, 6), (self.recursion, 4), (self.metamethods, 6), (self.delegates, 4),
            (self.generators, 4), (self.regexps, 4), (self.blobs, 6), (self.closures, 4),
            (self.builtin_subclass, 5), (self.huge_string, 4), (self.builtin_calls, 8),
            (self.method_calls, 8), (self.sorting, 3), (self.runaway, 2), (self.misc, 4),
        ]
        kinds += [(self.nesting, 3), (self.reentry, 4), (self.big_allocation, 3), (self.foreign_this, 4)]
        if self.side == "vm":
            kinds += [(self.threads, 5), (self.debug_hook, 4), (self.collector, 4), (self.compiler, 3)]
        else:
            kinds += [(self.api_calls, 10), (self.api_sweep, 4), (self.timers, 5), (self.messages, 4)]
            if self.side == "device":
                kinds += [(self.flash, 3), (self.sleep_loop, 2), (self.nv, 2)]
            else:
                kinds += [(self.http, 3), (self.persist, 2)]
        funcs, weights = zip(*kinds)
        return self.r.choices(funcs, weights)[0]()

    def deep_structure(self) -> str:
        n = self.size(50, 200_000)
        v = self.name()
        shape = self.pick(["[{v}]", "{{x = {v}}}", "[0, {v}, 1]", "{{x = {v}, y = [{v}]}}"])
        build = f"local {v} = null;\nfor (local i = 0; i < {n}; i++) {v} = {shape.format(v=v)};"
        if self.side != "vm" and self.r.random() < 0.3:
            build = (f"local {v} = {{}};\nlocal t{v} = {v};\n"
                     f"for (local i = 0; i < {n}; i++) {{ local d = {{}}; t{v}.setdelegate(d); t{v} = d; }}")
        after = self.pick([
            "", f"{v} = null;", f"local c = clone {v};", f'LOG(typeof {v});',
            f"local s = \"\" + {v};", f"{v} = null;" + (" collectgarbage();" if self.side == "vm" else ""),
            f"local w = {v}.weakref(); {v} = null;",
        ])
        if self.side == "vm" and self.r.random() < 0.3:
            after += " collectgarbage();"
        if self.side != "vm" and self.r.random() < 0.3:
            after += " " + self.pick([f'server.log({v});', f'server.error({v});'] +
                                     ([f'agent.send("d", {v});', f"::nv <- {{d = {v}}};"] if self.side == "device" else
                                      [f'device.send("d", {v});', f"server.save({{d = {v}}});",
                                       f"http.jsondecode(http.jsonencode({v}));", f"http.urlencode({{d = {v}}});"]))
        return self.guarded(f"{build}\n{after}")

    def recursion(self) -> str:
        n = self.size(20, 100_000)
        f = self.name("f")
        kind = self.r.randrange(6)
        if kind == 0:
            code = f"local {f}; {f} = function(n) {{ return n <= 0 ? 0 : 1 + {f}(n - 1); }};\nLOG({f}({n}));"
        elif kind == 1:
            code = (f"local C = class {{ function _get(k) {{ return this[k + \"x\"]; }} }};\n"
                    f"local i = C(); LOG(i.a);")
        elif kind == 2:
            code = (f"local C = class {{ function _tostring() {{ return \"\" + this; }} }};\n"
                    f"LOG(\"\" + C());")
        elif kind == 3:
            code = f"local {f}; {f} = function(n) {{ return {f}.acall([this, n + 1]); }};\n{f}(0);"
        elif kind == 4:
            code = (f"local {f}; {f} = function(n) {{ local g = (function() {{ yield {f}(n - 1); }})(); "
                    f"return n <= 0 ? 0 : resume g; }};\nLOG({f}({n}));")
        else:
            code = (f"local t = {{}}; t.setdelegate({{ _get = function(k) {{ return t[k]; }} }});\n"
                    f"LOG(t.missing);")
        return self.guarded(code)

    def metamethods(self) -> str:
        c = self.name("C")
        members = []
        for mm in self.r.sample(_METAMETHODS, self.r.randint(1, 6)):
            params = {"_get": "k", "_set": "k, v", "_newslot": "k, v", "_delslot": "k", "_add": "o",
                      "_sub": "o", "_mul": "o", "_div": "o", "_modulo": "o", "_cmp": "o", "_call": "t, ...",
                      "_cloned": "o", "_nexti": "k", "_inherited": "...", "_newmember": "i, k, v, a, s"}.get(mm, "")
            members.append(f"function {mm}({params}) {{ {self.body()} }}")
        if self.r.random() < 0.3:
            members.append(f"constructor() {{ {self.body()} }}")
        decl = f"local {c} = class {{\n  x = {self.value(1)};\n  " + "\n  ".join(members) + "\n};"
        ops = [
            "i + {v}", "{v} + i", "i - 1", "i * i", "i / 0", "i % 2", "-i", "i <=> {v}", "i < i", "i == {v}",
            "i.x", "i.nope", "i.x = {v}", "i[{v}]", "i[{v}] = 1", "i.newslot <- 1", "delete i.x", "i()",
            "i({v}, {v})", "typeof i", "\"\" + i", "clone i", "(\"k\" in i)", "i instanceof {c}",
            "i.tostring()", "i.getclass()", "i.weakref()",
        ]
        use = [f"local r = {self.pick(ops).format(v=self.value(1), c=c)};" for _ in range(self.r.randint(1, 6))]
        if self.r.random() < 0.4:
            use.append("foreach (k, v in i) { LOG(k); }")
        if self.r.random() < 0.2:
            use.append(f"local D = class extends {c} {{ function _get(k) {{ return base._get(k); }} }}; local d = D(); local r2 = d.q;")
        return self.guarded(f"{decl}\nlocal i = {c}();\n" + "\n".join(use))

    def delegates(self) -> str:
        parts = ["local t = {a = 1};", f"local d = {{ {self.pick(_METAMETHODS)} = function(...) {{ {self.body()} }} }};"]
        for _ in range(self.r.randint(1, 5)):
            parts.append(self.pick([
                "t.setdelegate(d);", "d.setdelegate(t);", "t.setdelegate(t);", f"t.setdelegate({self.value()});",
                "local r = t.zz;", "t.zz = 1;", "t.zz <- 2;", "delete t.a;", "local r = t + 1;", "local r = -t;",
                "local r = t();", "foreach (k, v in t) LOG(k);", "local r = clone t;", "local r = t.getdelegate();",
                "local r = t.rawget(\"a\");", "t.rawset(t, t);", "local r = (\"zz\" in t);",
            ]))
        return self.guarded("\n".join(parts))

    def generators(self) -> str:
        g = self.name("g")
        n = self.size(5, 10_000)
        parts = [f"local {g}; {g} = (function(n) {{ for (local i = 0; i < n; i++) {{ {self.pick(['yield i;', 'yield;', f'yield resume {g};', 'yield ' + self.value(1) + ';', 'if (i == 3) throw i; yield i;'])} }} return n; }})({n});"]
        for _ in range(self.r.randint(1, 5)):
            parts.append(self.pick([
                f"local r = resume {g};", f"foreach (i, x in {g}) if (i < 4) LOG(x);", f"LOG({g}.getstatus());",
                f"local r = clone {g};", f"{g} = null;", f"local r = resume {g}; r = resume {g}; r = resume {g};",
                f"local h = (function() {{ yield resume {g}; }})(); local r = resume h;",
            ]))
        if self.side == "vm" and self.r.random() < 0.3:
            parts.append("collectgarbage();")
        return self.guarded("\n".join(parts))

    def threads(self) -> str:
        kind = self.r.randrange(5)
        n = self.size(10, 50_000)
        if kind == 0:
            return self.guarded(f"local f; f = function(n) {{ if (n > 0) newthread(f).call(n - 1); }};\nf({n});")
        if kind == 1:
            return self.guarded("local t = newthread(function(a) { local x = suspend(a); throw x; });\n"
                                f"local r = t.call({self.value()}); LOG(t.getstatus());\n"
                                f"r = t.wakeup({self.value()}); LOG(t.getstatus()); r = t.wakeup(1);")
        if kind == 2:
            return self.guarded("local t = newthread(function() { return getstackinfos(1); });\n"
                                f"local r = t.call(); t.{self.pick(['wakeupthrow', 'wakeup', 'call'])}({self.args(2)});")
        if kind == 3:
            return self.guarded("local t; t = newthread(function() { return t.call(); });\nt.call();")
        return self.guarded("local ts = [];\n"
                            f"for (local i = 0; i < {n}; i++) {{ local t = newthread(function() {{ suspend(i); }}); t.call(); ts.push(t); }}\n"
                            "ts = null;")

    def regexps(self) -> str:
        pat = self.pick(_REGEX).replace("\\", "\\\\").replace('"', '\\"')
        subject = self.pick(['"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"', '"abc"', '""', '"a\\x00b"',
                             f'(function() {{ local s = "a"; for (local i = 0; i < {self.r.randint(0, 20)}; i++) s += s; return s; }})()'])
        cls = self.pick(["regexp"] + (["regexp2"] if self.side == "agent" else []))
        calls = [f"local r = x.{self.pick(['match', 'search', 'capture'])}({self.pick([subject, self.value()])}"
                 f"{', ' + self.pick(['0', '-1', '1000', self.value()]) if self.r.random() < 0.4 else ''});"
                 for _ in range(self.r.randint(1, 4))]
        if self.r.random() < 0.3:
            loop = self.size(3, 1000)
            calls.append(f"for (local i = 0; i < {loop}; i++) x.search({subject});")
        return self.guarded(f'local x = {cls}("{pat}");\n' + "\n".join(calls))

    def blobs(self) -> str:
        n = self.pick(["0", "1", "4", "-1", "1024", "65536", "0x7fffffff", "16777216", self.value()])
        parts = [f"local b = blob({n});"]
        for _ in range(self.r.randint(1, 8)):
            parts.append(self.pick([
                f"b.writen({self.value()}, {self.pick(_BLOB_TYPES)});", f"local r = b.readn({self.pick(_BLOB_TYPES)});",
                f"b.seek({self.pick(['0', '-1', '4', '100000', self.value()])}, {self.pick(_WHENCE)});",
                f"b.resize({self.pick(['0', '-5', '8', '1000000', self.value()])});", "b.swap2();", "b.swap4();",
                "local r = b.tostring();", "local r = b.len();", f"local r = b[{self.pick(['0', '-1', '3', '99', self.value()])}];",
                f"b[{self.pick(['0', '-1', '99'])}] = {self.value()};", "foreach (i, v in b) if (i < 4) LOG(v);",
                "local r = clone b;", f"b.writeblob({self.pick(['b', 'blob(3)', self.value()])});",
                f"local r = b.readblob({self.pick(['0', '-1', '4', '1000000', self.value()])});",
                f"b.writestring({self.value()});", f"local r = b.readstring({self.pick(['0', '-1', '3', '99999'])});",
                "local r = castf2i(1.5); r = casti2f(r); r = swapfloat(r); r = swap2(0x1234); r = swap4(r);",
                "local r = b.eos(); b.flush(); r = b.tell();",
            ]))
        return self.guarded("\n".join(parts))

    def closures(self) -> str:
        env = self.value()
        parts = ["local f = function(...) { return this; };", "local g = function(a, b = 2) { return a + b; };"]
        for _ in range(self.r.randint(1, 6)):
            parts.append(self.pick([
                f"local h = f.bindenv({env}); local r = h();", f"local r = f.call({self.args()});",
                f"local r = g.acall([{self.args()}]);", f"local r = g.pcall({self.args()});",
                f"local r = g.pacall({self.value()});", "local r = g.getinfos();", f"f.setroot({env}); f();",
                "local r = f.getroot();", f"local r = g({self.args(5)});", f"local r = g.bindenv({env})({self.args(3)});",
                "local h = f.bindenv(f.weakref()); local r = h();",
                f"local k = (function() {{ local x = {self.value()}; return function() {{ return x; }}; }})(); local r = k();",
            ]))
        return self.guarded("\n".join(parts))

    def builtin_subclass(self) -> str:
        base = self.pick(["blob", "regexp", "blob", "regexp"] + (["regexp2"] if self.side == "agent" else []))
        ctor = self.pick(["constructor() {}", "constructor(...) { base.constructor(4); }",
                          "constructor() { base.constructor(\"a\"); }", "", "constructor(x) { this.y <- x; }",
                          "constructor() { base.constructor(-1); }"])
        use = [self.pick([
            "LOG(o);", "LOG(o.len());", "o.writen(1, 'i');", "local r = o.tostring();", "local r = clone o;",
            "local r = o.match(\"a\");", "local r = o.search(\"aa\");", "local r = o.capture(\"a\");",
            "local r = o.readn('i');", "local b = blob(4); b.writeblob(o);", "o.resize(8);", "local r = o[0];",
            "foreach (i, v in o) if (i < 4) LOG(v);", "o.seek(0, 'b');", "o.swap4();", "local r = \"\" + o;",
        ]) for _ in range(self.r.randint(1, 4))]
        if self.side == "device":
            use.append(self.pick(["agent.send(\"b\", o);", "server.log(o);", "hardware.spiflash.write(0, o);",
                                  "imp.setuserconfiguration(o);"]))
        elif self.side == "agent":
            use.append(self.pick(["device.send(\"b\", o);", "server.log(o);", "server.save({o = o});",
                                  "http.base64encode(o);", "crypto.equals(o, o);"]))
        args = self.pick(["", "4", "\"a\"", "1, 2"])
        return self.guarded(f"local B = class extends {base} {{ {ctor} }};\nlocal o = B({args});\n" + "\n".join(use))

    def huge_string(self) -> str:
        doublings = self.r.choice([0, 4, 10, 16, 20, 22, 24, 26])
        seed = self.pick(['"a"', '"ab"', '"\\x00"', '"%s"', '"a,b;"', '"\\\\"', '"é"'])
        ops = [self.pick([
            f"local r = split(s, {self.pick(_SEPARATORS)});",
            "local r = s.find(\"zz\");", "local r = s.slice(1, -1);", "local r = s.toupper();", "local r = s + s;",
            "local r = strip(s);", "local r = format(\"%s%s\", s, s);", "local r = s.tointeger();", "local r = s == s + \"\";",
            "local r = s < s;", "local r = s.len();", f"local r = format(s, {self.args(3)});", "local r = regexp(\"b\").search(s);",
            "local r = (\"\" + s).hash;", "local r = s[s.len() - 1];",
        ] + (["local r = escape(s);", "local r = endswith(s, \"a\");"] if self.side == "vm" else
             ["local r = http.jsonencode(s);", "local r = http.urlencode({s = s});", "local r = http.base64encode(s);"]
             if self.side == "agent" else ["server.log(s);", "agent.send(\"s\", s);"]))
            for _ in range(self.r.randint(1, 4))]
        return self.guarded(f"local s = {seed};\nfor (local i = 0; i < {doublings}; i++) s += s;\n" + "\n".join(ops))

    def builtin_calls(self) -> str:
        funcs = _GLOBAL_FUNCS_BOTH + (_GLOBAL_FUNCS_VM if self.side == "vm" else _GLOBAL_FUNCS_IMP)
        calls = [self.guarded(f"local r = {self.pick(funcs)}({self.args(5)});") for _ in range(self.r.randint(1, 4))]
        return "\n".join(calls)

    def method_calls(self) -> str:
        kind = self.pick(list(_METHODS))
        receiver = {
            "array": "[3, 1, 2]", "table": "{a = 1}", "string": '"abc"', "integer": "65", "float": "1.5",
            "blob": "blob(8)", "regexp": 'regexp("a")', "function": "function(x) { return x; }",
            "generator": "(function() { yield 1; })()", "class": "class { x = 1 }",
        }[kind]
        calls = [self.guarded(f"local o = {receiver}; local r = o.{self.pick(_METHODS[kind])}({self.args(4)});")
                 for _ in range(self.r.randint(1, 4))]
        return "\n".join(calls)

    def sorting(self) -> str:
        n = self.size(20, 3_000_000)
        cmp = self.pick(["", "function(a, b) { return a <=> b; }", "function(a, b) { throw \"no\"; }",
                         "function(a, b) { return null; }", "function(a, b) { return \"x\"; }",
                         "function(a, b) { arr.clear(); return 0; }", "function(a, b) { arr.push(1); return 1; }",
                         "function(a, b) { return b - a; }", f"function(a, b) {{ return {self.value()}; }}"])
        fill = self.pick(["i", "-i", "i % 7", "\"\" + i", "(i % 2) ? i : \"s\"", "null", "[i]", "i * 0.5"])
        return self.guarded(f"local arr = [];\nfor (local i = 0; i < {n}; i++) arr.push({fill});\n"
                            f"arr.sort({cmp});")

    def runaway(self) -> str:
        return self.guarded(self.pick([
            "while (true) {}", "local a = []; while (true) a.push(array(1000));", "local s = \"x\"; while (true) s += s;",
            "local t = {}; for (local i = 0; ; i++) t[i] <- i;", "local f; f = function() { return f() + 1; }; f();",
            "local a = []; while (true) a = [a, a];",
        ]))

    def misc(self) -> str:
        return self.guarded("\n".join(self.pick([
            f"local r = clone {self.value()};", f"local r = typeof {self.value()};", f"local r = {self.value()} in {self.value()};",
            f"local r = {self.value()} instanceof {self.value()};", f"local r = {self.value()} + {self.value()};",
            f"local r = {self.value()} <=> {self.value()};", f"local r = {self.value()}[{self.value()}];",
            f"local r = {{}}; r[{self.value()}] <- {self.value()};", f"local r = delete {{a = 1}}.a;",
            f"local r = {self.value()}.tostring();", f"local r = {self.value()} / {self.pick(['0', '0.0', '-1'])};",
            f"local r = {self.value()} % {self.pick(['0', '-1'])};", f"local r = -2147483648 / -1;",
            f"local r = 1 << {self.pick(['31', '32', '-1', '64'])};", f"local r = ({self.value()}).len();",
            f"::g{self.r.randrange(3)} <- {self.value()};", f"local r = {self.value()}({self.args(3)});",
            f"local r = [{self.args(4)}]; r.resize({self.pick(['0', '-1', '100000', '0x7fffffff'])});",
            f"local r = array({self.pick(['-1', '0', '100000', '0x7fffffff', '1e9'])}, {self.value()});",
            f"local r = format(\"{self.pick(['%d', '%s', '%f', '%x', '%c', '%5.2f', '%-10s', '%99999d', '%.999f', '%q', '%'])}\", {self.args(2)});",
        ]) for _ in range(self.r.randint(1, 4))))

    def debug_hook(self) -> str:
        body = self.pick(["collectgarbage();", "local g = (function() { yield 1; })(); resume g;",
                          "throw \"hook\";", "getstackinfos(2);", "local a = array(100);", "setdebughook(null);",
                          "suspend(1);", "LOG(src);", "newthread(function() {}).call();"])
        work = self.pick(["local g = (function() { for (local i = 0; i < 5; i++) yield i; })(); foreach (x in g) {}",
                          "for (local i = 0; i < 100; i++) { local t = {a = i}; }",
                          "local f = function(n) { return n; }; for (local i = 0; i < 50; i++) f(i);",
                          "collectgarbage();", "local g = (function() { yield 1; })(); g = null; collectgarbage();"])
        return self.guarded(f"enabledebuginfo({self.pick(['true', 'false', '1'])});\n"
                            f"setdebughook(function(ev, src, line, fn) {{ {body} }});\n{work}\nsetdebughook(null);")

    def collector(self) -> str:
        return self.guarded("\n".join(self.pick([
            "collectgarbage();", "local r = resurrectunreachable();",
            "local a = {}; local b = {a = a}; a.b <- b; a = b = null; LOG(collectgarbage());",
            "local a = []; a.push(a); local w = a.weakref(); a = null; collectgarbage(); LOG(w.ref());",
            "local c = class { function _cloned(o) { collectgarbage(); } }; local i = clone c();",
            "local t = {}; t.setdelegate({ _get = function(k) { collectgarbage(); return 1; } }); local r = t.q;",
            "local r = resurrectunreachable(); if (r) foreach (x in r) LOG(typeof x);",
        ]) for _ in range(self.r.randint(1, 3))))

    def nesting(self) -> str:
        """Long chains of the things Squirrel links: class hierarchies, closures over closures,
        delegates, outers, base calls."""
        n = self.size(30, 50_000)
        return self.guarded(self.pick([
            f"local C = class {{ function f(n) {{ return n; }} }};\nfor (local i = 0; i < {n}; i++) "
            f"C = class extends C {{ function f(n) {{ return base.f(n + 1); }} }};\nLOG(C().f(0));",
            f"local f = function() {{ return 0; }};\nfor (local i = 0; i < {n}; i++) {{ local g = f; f = function() {{ return g() + 1; }}; }}\nLOG(f());",
            f"local C = class {{}};\nfor (local i = 0; i < {n}; i++) C = class extends C {{}};\nlocal o = C(); LOG(o instanceof C); C = o = null;",
            f"local g = null;\nfor (local i = 0; i < {n}; i++) {{ local p = g; g = (function() {{ yield p; }})(); }}\ng = null;",
            f"local t = {{}};\nfor (local i = 0; i < {n}; i++) t = {{ [t] = t }};\nt = null;",
            f"local a = [];\nfor (local i = 0; i < {n}; i++) a = [a.weakref(), a];\nlocal w = a.weakref(); a = null; LOG(w.ref() == null);",
        ]))

    def reentry(self) -> str:
        """Squirrel called back from inside natives and metamethods, recursively."""
        n = self.size(10, 20_000)
        return self.guarded(self.pick([
            f"local a = [3, 1, 2]; local d = 0;\na.sort(function(x, y) {{ if (d++ < {n}) a.sort(callee()); return x <=> y; }});",
            f"local a = [1, 2]; local f; f = function(v) {{ return a.map(f); }};\na.map(f);",
            f"local a = [1]; local f; f = function(i, v) {{ return a.filter(f); }};\na.filter(f);",
            f"local a = [1, 2, 3]; local f; f = function(x, y) {{ return a.reduce(f); }};\na.reduce(f);",
            f"local C = class {{ function _cmp(o) {{ return [this, o].sort() ? 0 : 1; }} }};\nlocal r = C() <=> C();",
            f"local C = class {{ function _tostring() {{ return format(\"%s\", this); }} }};\nLOG(C());",
            f"local C = class {{ function _get(k) {{ return ::split(\"a,b\", \",\").map(@(v) this[v]); }} }};\nlocal r = C().x;",
            f"local C = class {{ function _cloned(o) {{ clone this; }} }};\nlocal r = clone C();",
            f"local t = {{}}; t.setdelegate({{ _nexti = function(k) {{ foreach (x in t) {{}} return null; }} }});\nforeach (k, v in t) {{}}",
            f"local f; f = function(n) {{ return n > 0 ? f.pcall(n - 1) : 0; }};\nLOG(f({n}));",
            f"local f; f = function(n) {{ return n > 0 ? f.bindenv(this).call(this, n - 1) : 0; }};\nLOG(f({n}));",
        ] + (["local t = newthread(function() { local C = class { function _get(k) { return suspend(k); } }; return C().q; });\n"
              "LOG(t.call()); LOG(t.wakeup(1));",
              "local g = (function() { yield newthread(function() { suspend(1); }).call(); })(); resume g; g = null; collectgarbage();"]
             if self.side == "vm" else [])))

    def foreign_this(self) -> str:
        """Methods of built-in classes and default delegates called with another kind of
        ``this`` (``blob.tostring.call({})``): each must refuse it, not misread it."""
        owners = {"blob": _METHODS["blob"], "regexp": _METHODS["regexp"], "[]": _METHODS["array"],
                  "{}": _METHODS["table"], '""': _METHODS["string"], "0": _METHODS["integer"],
                  "(function() {})": _METHODS["function"]}
        if self.side == "agent":
            owners["regexp2(\"a\")"] = ["match", "search", "capture", "subexpcount"]
        calls = []
        for _ in range(self.r.randint(1, 4)):
            owner = self.pick(sorted(owners))
            method = self.pick(owners[owner])
            args = self.args(3)
            calls.append(self.guarded(f"local r = {owner}.{method}.call({self.value()}{', ' + args if args else ''});"))
        return "\n".join(calls)

    def big_allocation(self) -> str:
        """One allocation near or over the memory limit."""
        n = self.pick(["1000000", "8000000", "16777215", "0x7fffffff", "0x40000000", "100000000"])
        return self.guarded(self.pick([
            f"local a = array({n});", f"local a = []; a.resize({n});", f"local b = blob({n});",
            f"local b = blob(1); b.resize({n});", f"local a = array(1000, array(1000, null));",
            f"local s = format(\"%{int(n, 0)}d\", 1);", f"local s = format(\"%.{int(n, 0)}f\", 1.5);",
            f"local a = [1]; a.extend(array({n}));", f"local t = {{}}; for (local i = 0; i < {n}; i++) t[i] <- i;",
            f"local a = array({n}, \"x\").map(@(v) v + v);", f"local s = \"x\".slice(0, {n});",
        ]))

    def compiler(self) -> str:
        """compilestring of text built to stress the compiler: deep nesting, many locals, long
        literals, syntax errors at odd places."""
        n = self.size(50, 100_000)
        piece = self.pick([
            f'"return " + (function() {{ local s = ""; for (local i = 0; i < {n}; i++) s += "("; s += "1"; for (local i = 0; i < {n}; i++) s += ")"; return s; }})()',
            f'(function() {{ local s = ""; for (local i = 0; i < {n}; i++) s += "local v" + i + " = " + i + ";"; return s + "return v0;"; }})()',
            f'"return [" + (function() {{ local s = ""; for (local i = 0; i < {n}; i++) s += i + ","; return s; }})() + "];"',
            f'(function() {{ local s = ""; for (local i = 0; i < {n}; i++) s += "function f" + i + "() {{"; return s; }})()',
            f'"return \"" + (function() {{ local s = "x"; for (local i = 0; i < 20; i++) s += s; return s; }})() + "\";"',
            '"local x = @(a) @(b) @(c) a + b + c; return x(1)(2)(3);"',
            '"class A extends A {}"', '"return 1 +"', '"\x00"', '"/* unterminated"', '"enum E { A = B }"',
            '"const C = 1; C = 2;"', '"local a = {a = 1, a = 2};"', '"switch (1) { case 1: break; default: default: }"',
        ])
        return self.guarded(f"local f = compilestring({piece});\nLOG(f());")

    # --- the imp ------------------------------------------------------------------------------

    def api_target(self) -> str:
        common = ["server.log", "server.error", "imp.wakeup", "imp.cancelwakeup", "imp.onidle", "imp.sleep",
                  "imp.getmemoryfree", "imp.onunhandledexception", "imp.environment", "imp.getsoftwareversion",
                  "server.restart", "crypto.equals"]
        device = ["agent.send", "agent.on", "server.connect", "server.disconnect", "server.flush",
                  "server.setsendtimeoutpolicy", "server.onunexpecteddisconnect", "server.sleepfor",
                  "server.sleepuntil", "server.expectonlinein", "server.onshutdown", "server.isconnected",
                  "imp.deepsleepfor", "imp.deepsleepuntil", "imp.reset", "imp.setpowersave", "imp.setsendbuffersize",
                  "imp.setuserconfiguration", "imp.getuserconfiguration", "imp.net.info", "imp.info", "imp.rssi",
                  "imp.enableblinkup", "hardware.millis", "hardware.micros", "hardware.wakereason",
                  "hardware.getdeviceid", "hardware.spiflash.enable", "hardware.spiflash.read",
                  "hardware.spiflash.write", "hardware.spiflash.erasesector", "hardware.spiflash.readintoblob",
                  "hardware.spiflash.setspeed", "imp.scanwifinetworks"]
        agent = ["device.send", "device.on", "device.onconnect", "device.ondisconnect", "device.info",
                 "device.isconnected", "http.request", "http.get", "http.post", "http.put", "http.httpdelete",
                 "http.onrequest", "http.agenturl", "http.jsonencode", "http.jsondecode", "http.urlencode",
                 "http.urldecode", "http.base64encode", "http.base64decode", "server.save", "server.load"]
        return self.pick(common + (device if self.side == "device" else agent))

    def api_calls(self) -> str:
        calls = []
        for _ in range(self.r.randint(1, 5)):
            target = self.api_target()
            if self.r.random() < 0.3:
                calls.append(self.guarded(f"local r = {target}.acall([{self.pick(['this', 'null', '{}'])}, {self.args(5)}]);"))
            else:
                calls.append(self.guarded(f"local r = {target}({self.args(5)});"))
        return "\n".join(calls)

    def api_sweep(self) -> str:
        """Every native of one API object called with the same argument list (new natives are
        covered without the generator knowing their names). Natives that end the run are
        skipped unless the draw says otherwise."""
        objects = {"device": ["server", "imp", "hardware", "agent", "hardware.spiflash", "imp.net", "math", "crypto"],
                   "agent": ["server", "imp", "device", "http", "math", "crypto"]}[self.side]
        obj = self.pick(objects)
        enders = '["restart", "reset", "deepsleepfor", "deepsleepuntil", "sleepfor", "sleepuntil", "sleep"]'
        skip = "" if self.r.random() < 0.05 else f"if ({enders}.find(k) != null) continue;"
        return (f"{{ local names = []; foreach (k, v in {obj}) names.push(k); names.sort();\n"
                f"  foreach (k in names) {{ {skip} local f = {obj}[k]; if (typeof f != \"function\") continue;\n"
                f"    try {{ local r = f.acall([{obj}, {self.args(4)}]); }} catch (e) {{ LOG(k + \": \" + e); }} }} }}")

    def timers(self) -> str:
        when = self.pick(["0", "0.001", "1", "-1", "1e9", "3600", "0.5", "\"1\"", "null"])
        kind = self.r.randrange(4)
        if kind == 0:
            return self.guarded(f"imp.wakeup({when}, function() {{ {self.chunk_small()} }});")
        if kind == 1:
            n = self.size(5, 100)
            return self.guarded(f"for (local i = 0; i < {n}; i++) imp.wakeup({when}, function() {{ LOG(i); }});")
        if kind == 2:
            return self.guarded("local t = imp.wakeup(1, function() { LOG(\"t\"); });\n"
                                f"imp.cancelwakeup({self.pick(_TIMER_IDS + [self.value()])});")
        return self.guarded("local n = 0; local tick; tick = function() { if (n++ < 50) imp.wakeup(0.01, tick); };\n"
                            "tick(); imp.onidle(function() { LOG(\"idle\"); });")

    def chunk_small(self) -> str:
        return self.pick([self.body(), f"LOG({self.value()});", "throw \"in timer\";",
                          f"{self.api_target()}({self.args(3)});"])

    def messages(self) -> str:
        name = self.pick(['"m"', '"x"', '""', "1", "null", '"\\x00"'])
        if self.side == "device":
            return self.guarded(f"agent.on({name}, function(d) {{ {self.chunk_small()} }});\n"
                                f"agent.send({name}, {self.value()});")
        return self.guarded(f"device.on({name}, function(d) {{ {self.chunk_small()} }});\n"
                            f"device.send({name}, {self.value()});\n"
                            f"device.onconnect(function() {{ device.send(\"m\", {self.value()}); }});")

    def flash(self) -> str:
        addr = self.pick(["0", "4096", "-1", "0x7fffffff", "4095", "1000000", "65536", self.value()])
        parts = ["local f = hardware.spiflash;", self.pick(["f.enable();", "", "f.disable();"])]
        for _ in range(self.r.randint(1, 5)):
            parts.append(self.pick([
                f"local r = f.read({addr}, {self.pick(['0', '1', '-1', '4096', '100000', self.value()])});",
                f"local r = f.write({addr}, {self.pick(_FLASH_SOURCES + [self.value()])}{self.pick(['', ', SPIFLASH_PREVERIFY', ', 3', ', 0, 1, 2'])});",
                f"f.erasesector({addr});", "local r = f.size();", "local r = f.chipid();",
                f"local b = blob(8); f.readintoblob({addr}, b, {self.pick(['8', '9', '-1', '0'])});",
            ]))
        return self.guarded("\n".join(parts))

    def sleep_loop(self) -> str:
        how = self.pick([f"imp.deepsleepfor({self.pick(['0', '1', '0.5', '-1', '1e9', '60'])});",
                         f"server.sleepfor({self.pick(['0', '1', '10'])});", "imp.reset();", "server.restart();",
                         f"imp.deepsleepuntil({self.args(4)});", "throw \"boot error\";"])
        if self.r.random() < 0.5:
            return self.guarded(f"imp.onidle(function() {{ {how} }});")
        return self.guarded(f"imp.wakeup({self.pick(['0', '1', '5'])}, function() {{ {how} }});")

    def nv(self) -> str:
        return self.guarded(self.pick([
            "if (!(\"nv\" in getroottable())) ::nv <- {}; nv.n <- (\"n\" in nv) ? nv.n + 1 : 0; LOG(nv.n);",
            f"::nv <- {self.value()};", "::nv <- {}; for (local i = 0; i < 10000; i++) nv[i] <- \"xxxxxxxx\";",
            "::nv <- {f = function() {}};",
        ]))

    def http(self) -> str:
        return self.guarded(self.pick([
            f"http.onrequest(function(req, res) {{ res.send({self.pick(_STATUSES + [self.value()])}, {self.value()}); }});\n"
            f"http.get(http.agenturl() + \"/a\").sendasync(function(r) {{ LOG(r.statuscode); }});",
            f"http.onrequest(function(req, res) {{ {self.body()} }}); http.post(http.agenturl(), {{}}, \"b\").sendasync(function(r) {{ LOG(r.statuscode); }});",
            f"local r = http.request({self.args(5)});",
            f'local s = ""; for (local i = 0; i < {self.size(10, 10000)}; i++) s += "[{{\\"a\\":"; local r = http.jsondecode(s);',
            f"local r = http.jsondecode({self.pick(_JSON_TEXTS + [self.value()])});",
            f"local r = http.urldecode({self.pick(_URL_TEXTS + [self.value()])});",
            f"local r = http.base64decode({self.pick(_BASE64_TEXTS + [self.value()])});",
            f"local q = http.get({self.value()}); q.sendasync({self.value()});",
        ]))

    def persist(self) -> str:
        return self.guarded(self.pick([f"server.save({self.value()});", "local d = server.load(); LOG(d.len());",
                                       "local t = {}; t.t <- t; server.save(t);", f"server.save({{a = {self.value()}}});"]))


def generate(seed: int, target: str = "vm", *, chunks: tuple[int, int] = (2, 8)) -> Program:
    """The program of ``seed`` for ``target`` ("vm" or "imp")."""
    if target not in ("vm", "imp"):
        raise ValueError(f"unknown target {target!r}: use 'vm' or 'imp'")
    sides = ["vm"] if target == "vm" else ["device", "agent"]
    out = []
    for side in sides:
        g = _Gen(seed, target, side)
        out.append(tuple(g.chunk() for _ in range(g.r.randint(*chunks))))
    return Program(seed, target, out[0], out[1] if target == "imp" else ())
