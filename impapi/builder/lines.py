"""Line control: Builder output that maps every line back to its source with ``#line N "file"``.

The VM's line map reads ``#line N "file"`` as "the next line is line N of file". :class:`LineOutput`
writes one wherever the source file or the line continuity changes, so every output line maps
back to where it came from (Builder itself writes them only on file switches, which drifts after
skipped ``@if`` blocks). A directive that would land inside a Squirrel verbatim string ``@"..."``
is postponed until the string ends, so string values never change; :class:`SquirrelLexer`
follows comments and strings to know where that is (``#require`` resolution uses it as well, so
that a ``#require`` inside a comment or a string stays text).
"""

from __future__ import annotations

import re

__all__ = ["LINE_DIRECTIVE", "NORMAL", "VERBATIM", "LineOutput", "SquirrelLexer", "quote_name"]

#: A ``#line N ["file"]`` line as the VM reads it.
LINE_DIRECTIVE = re.compile(r'^[ \t]*#line[ \t]+(\d+)(?:[ \t]+"([^"]*)")?[ \t]*\r?$')

# Lexical states.
NORMAL, _LINE_COMMENT, _BLOCK_COMMENT, VERBATIM, _STRING = range(5)
_NORMAL_STOP = re.compile(r'//|#|/\*|@"|"|\'')
_STRING_STOP = re.compile(r"\\.|[\"'\n]", re.DOTALL)


class SquirrelLexer:
    """Where Squirrel text fed so far leaves off: code, a comment or inside a string."""

    __slots__ = ("quote", "state")

    def __init__(self) -> None:
        self.state = NORMAL
        self.quote = ""

    def feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            state = self.state
            if state == NORMAL:
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
                    self.state = VERBATIM
                else:
                    self.state, self.quote = _STRING, tok
            elif state == _LINE_COMMENT:
                j = text.find("\n", i)
                if j < 0:
                    return
                i, self.state = j + 1, NORMAL
            elif state == _BLOCK_COMMENT:
                j = text.find("*/", i)
                if j < 0:
                    return
                i, self.state = j + 2, NORMAL
            elif state == VERBATIM:
                j = text.find('"', i)
                if j < 0:
                    return
                if text.startswith('""', j):
                    i = j + 2  # "" is an escaped quote inside @"..."
                else:
                    i, self.state = j + 1, NORMAL
            else:
                m = _STRING_STOP.search(text, i)
                if m is None:
                    return
                i = m.end()
                tok = m.group()
                if tok == "\n" or tok == self.quote:
                    self.state = NORMAL


def quote_name(name: str) -> str:
    # The VM's #line parser takes the name up to the next '"' and has no escapes.
    return name.replace('"', "'")


class LineOutput:
    """Collects built text; with ``line_control``, adds ``#line`` wherever the mapping would be wrong."""

    def __init__(self, line_control: bool) -> None:
        self.line_control = line_control
        self.parts: list[str] = []
        self.lexer = SquirrelLexer()
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
        if self.override is None and self.mapped != (file, line) and self.lexer.state != VERBATIM:
            if not self.at_bol:
                self._append("\n")
            self.parts.append(f'#line {line} "{quote_name(file)}"\n')
            self.mapped = (file, line)
        self._append(text)
        if "#line" in text:
            m = LINE_DIRECTIVE.match(text.rstrip("\n"))
            if m is not None:
                # The VM applies every such line, whatever the lexical context.
                self.override = file
                previous = self.mapped[0] if self.mapped is not None else file
                self.mapped = (m.group(2) if m.group(2) is not None else previous, int(m.group(1)))

    def text(self) -> str:
        return "".join(self.parts)

