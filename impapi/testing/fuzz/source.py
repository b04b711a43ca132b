"""Where in the app's code something happens, for messages that point at ``file:line``.

The structured events do not (yet) carry the Squirrel call site of ``server.onshutdown`` or of a
server contact, so these are found statically: comments and string contents are blanked out,
then calls are matched by name. Error locations come from the imp-style error lines in the log
(``ERROR:   in main device_code:12``), mapped back to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from impapi.inputs import read_text

__all__ = ["AppSource", "blank_comments_and_strings"]

CONTACT_CALLS = ("agent.send", "server.log", "server.error", "server.connect")
SLEEP_CALLS = ("imp.deepsleepfor", "imp.deepsleepuntil", "server.sleepfor", "server.sleepuntil")


def _call_re(names: tuple[str, ...]) -> re.Pattern:
    alts = "|".join(r"\b" + r"\s*\.\s*".join(map(re.escape, n.split("."))) for n in names)
    return re.compile(rf"(?:{alts})\s*\(")


_CONTACT = _call_re(CONTACT_CALLS)
_SLEEP = _call_re(SLEEP_CALLS)
_ONSHUTDOWN = _call_re(("server.onshutdown",))
_RESTART = _call_re(("server.restart",))
_AGENT_ON = re.compile(r"""\bagent\s*\.\s*on\s*\(\s*"((?:[^"\\]|\\.)*)\"""")
_FUNCTION_HEAD = re.compile(r"\bfunction\b\s*[\w:.]*\s*\([^()]*\)\s*$")
_CLASS_HEAD = re.compile(r"\bclass\b[^{};]*$")
_ERROR_AT = re.compile(r"^ERROR:\s+(?:in|from) (\S+) (\S+):(\d+)$")


def blank_comments_and_strings(text: str) -> str:
    """``text`` with comments and the insides of string literals replaced by spaces, keeping
    every newline (so line numbers stay). Squirrel: ``//``, ``#`` and ``/* */`` comments,
    ``"..."``, ``'c'`` and ``@"verbatim"`` strings."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/" or c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "@" and nxt == '"':
            j = i + 2
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            out.append('@"' + "".join(ch if ch == "\n" else " " for ch in text[i + 2:j]) + '"')
            i = j + 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + (c if j < n and text[j] == c else ""))
            i = j + 1 if j < n and text[j] == c else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Site:
    file: str
    line: int
    code: str  # the source line, stripped

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def show(self) -> str:
        return f"{self.file}:{self.line}: {self.code}"


class AppSource:
    """One code file (device or agent) and the call sites the checks cite."""

    def __init__(self, source: str, filename: str, label: str) -> None:
        self.source = source
        self.filename = filename
        self.label = label  # "device_code" / "agent_code": how the imp's error lines name it
        self.lines = source.splitlines()

    @classmethod
    def from_file(cls, path: str, label: str) -> "AppSource":
        return cls(read_text(path, "code file"), str(path), label)

    @cached_property
    def _code(self) -> list[str]:
        return blank_comments_and_strings(self.source).splitlines()

    @cached_property
    def _in_function(self) -> list[bool]:
        """For each character of the blanked code: is it inside a function (or class) body, i.e.
        code that does not run when the file is loaded?"""
        code = "\n".join(self._code)
        flags, stack, depth = [], [], 0
        for i, c in enumerate(code):
            if c == "{":
                prefix = code[max(0, i - 400):i]
                is_fn = bool(_FUNCTION_HEAD.search(prefix) or _CLASS_HEAD.search(prefix))
                stack.append(is_fn)
                depth += is_fn
            elif c == "}" and stack:
                depth -= stack.pop()
            flags.append(depth > 0)
        return flags

    def _sites(self, pattern: re.Pattern, top_level: bool = False) -> list[Site]:
        sites, offset = [], 0
        for i, line in enumerate(self._code, 1):
            for m in pattern.finditer(line):
                if not top_level or not self._in_function[offset + m.start()]:
                    sites.append(Site(self.filename, i, self.lines[i - 1].strip()))
                    break
            offset += len(line) + 1
        return sites

    @cached_property
    def onshutdown(self) -> list[Site]:
        return self._sites(_ONSHUTDOWN)

    @cached_property
    def contacts(self) -> list[Site]:
        return self._sites(_CONTACT)

    @cached_property
    def sleeps(self) -> list[Site]:
        return self._sites(_SLEEP)

    @cached_property
    def restarts(self) -> list[Site]:
        return self._sites(_RESTART)

    def contacts_before_handler(self) -> list[Site]:
        """Server contacts the file makes as it loads (outside function bodies), above its
        first load-time ``server.onshutdown`` call: the likely culprits when a boot talks to the
        server before registering the handler."""
        handlers = self._sites(_ONSHUTDOWN, top_level=True)
        first = handlers[0].line if handlers else len(self.lines) + 1
        return [s for s in self._sites(_CONTACT, top_level=True) if s.line < first]

    @cached_property
    def message_names(self) -> list[str]:
        """Names the device code handles with ``agent.on("name", ...)``."""
        return list(dict.fromkeys(_AGENT_ON.findall(self.source)))

    def site(self, line: int) -> Site:
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return Site(self.filename, line, code)


def error_site(log_lines: list[str], sources: list[AppSource]) -> Site | None:
    """The innermost ``file:line`` of the imp-style error lines, mapped to the app's file."""
    for text in log_lines:
        m = _ERROR_AT.match(text)
        if not m:
            continue
        label, line = m.group(2), int(m.group(3))
        for src in sources:
            if label in (src.label, src.filename):
                return src.site(line)
        return Site(label, line, "")
    return None
