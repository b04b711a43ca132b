"""Test configuration (``.impt.test`` and the older ``.imptest``), test file discovery and ``--tests``.

The directory holding the configuration file is the *test home*: globs, source files and Builder
configuration paths are relative to it, as ``impt test run`` (run from that directory) treats them.

Discovery follows impt: each ``testFiles`` glob is expanded in turn (node-glob semantics: ``*``,
``?`` and ``[...]`` stay within one path segment and do not match a leading ``.``; ``**`` as a
whole segment matches any number of directories, dot-directories excepted; ``{a,b}`` alternatives;
``\\`` escapes), each glob's matches are sorted (case-insensitively first, then by code point, in
place of node-glob's locale order), and a file matched by several globs is kept at its first
position. Files that are the partner of another matched test file are dropped, since a partner is
never a test. A test file is an agent test when ``agent`` is a whole word anywhere in its relative
path (``/\\bagent\\b/i``), otherwise a device test.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_TEST_FILES",
    "DEFAULT_TIMEOUT",
    "LEGACY_CONFIG_FILE",
    "ConfigError",
    "Side",
    "TestConfig",
    "TestFile",
    "TestSelector",
    "discover_test_files",
    "find_partner",
    "glob_files",
    "parse_selector",
    "side_of",
    "strip_json_comments",
]

CONFIG_FILE = ".impt.test"
LEGACY_CONFIG_FILE = ".imptest"
LEGACY_BUILDER_FILE = ".imptest-builder"
DEFAULT_TEST_FILES: tuple[str, ...] = ("*.test.nut", "tests/**/*.test.nut")
DEFAULT_TIMEOUT = 30.0

Side = Literal["agent", "device"]


class ConfigError(ValueError):
    """A configuration problem; the message names the file (or option) and the field."""


# ---------------------------------------------------------------------------------------------
# JSON with comments


def strip_json_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside JSON strings.

    Comments become spaces and their newlines are kept, so JSON error positions still point at
    the right line and column of the original file.
    """
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\" and i + 1 < n:
                out.append(text[i : i + 2])
                i += 2
                continue
            if c == '"':
                in_string = False
            out.append(c)
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\r\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _load_json(path: Path, *, comments: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if comments:
        text = strip_json_comments(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "" if comments else " (comments are not allowed in this file)"
        raise ConfigError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}{hint}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object {{...}}, not {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------------------------
# Field validation


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _bool(value: Any, where: str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f'{where}: "{name}" must be true or false, got {_show(value)}')


MAX_TIMEOUT = 1e9  # seconds of virtual time, 31 years: far beyond any test, and 1e308 overflowed


def _timeout(value: Any, where: str, name: str) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        # impt passes the value through parseFloat, so "10" works there too.
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not (0 < number <= MAX_TIMEOUT):
        raise ConfigError(f'{where}: "{name}" must be a positive number of seconds (at most {MAX_TIMEOUT:.0e}), '
                          f"got {_show(value)}")
    return number


def _source_file(value: Any, where: str, name: str) -> str | None:
    if value is None or value is False or value == "":
        return None
    if isinstance(value, str):
        return value
    raise ConfigError(f'{where}: "{name}" must be a file path or false, got {_show(value)}')


def _optional_str(value: Any, where: str, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise ConfigError(f'{where}: "{name}" must be a string, got {_show(value)}')


def _patterns(value: Any, where: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        for pattern in value:
            for segment in pattern.split("/"):
                try:
                    _segment_regex(segment)
                except re.error as e:
                    raise ConfigError(f'{where}: "{name}": {pattern!r} is not a valid glob ({e})') from None
        return tuple(value)
    raise ConfigError(
        f'{where}: "{name}" must be a glob or a non-empty list of globs such as ["*.test.nut"], got {_show(value)}'
    )


def _builder_config(value: Any, where: str, name: str) -> str | dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return dict(value)
    raise ConfigError(
        f'{where}: "{name}" must be the path of a JSON file of Builder variables (or an object of them), '
        f"got {_show(value)}"
    )


# JSON field name -> (dataclass field, validator)
_IMPT_FIELDS: dict[str, tuple[str, Any]] = {
    "deviceGroupId": ("device_group_id", _optional_str),
    "deviceGroupName": ("device_group_name", _optional_str),
    "deviceFile": ("device_file", _source_file),
    "agentFile": ("agent_file", _source_file),
    "timeout": ("timeout", _timeout),
    "stopOnFail": ("stop_on_fail", _bool),
    "allowDisconnect": ("allow_disconnect", _bool),
    "builderCache": ("builder_cache", _bool),
    "testFiles": ("test_files", _patterns),
    "githubConfig": ("github_config", _optional_str),
    "builderConfig": ("builder_config", _builder_config),
    "wiring": ("wiring", _optional_str),
}
_LEGACY_FIELDS: dict[str, tuple[str, Any]] = {
    "deviceFile": ("device_file", _source_file),
    "agentFile": ("agent_file", _source_file),
    "tests": ("test_files", _patterns),
    "stopOnFailure": ("stop_on_fail", _bool),
    "builderCache": ("builder_cache", _bool),
    "allowDisconnect": ("allow_disconnect", _bool),
    "timeout": ("timeout", _timeout),
    "wiring": ("wiring", _optional_str),
}
# Cloud-only settings of the old tool; they mean nothing locally but are not mistakes.
_LEGACY_IGNORED = {"apiKey", "modelId", "devices"}

_OVERRIDES: dict[str, Any] = {
    "device_file": _source_file,
    "agent_file": _source_file,
    "timeout": _timeout,
    "stop_on_fail": _bool,
    "allow_disconnect": _bool,
    "builder_cache": _bool,
    "test_files": _patterns,
    "github_config": _optional_str,
    "builder_config": _builder_config,
    "device_group_id": _optional_str,
    "device_group_name": _optional_str,
    "wiring": _optional_str,
}


def _unknown_field_warning(path: Path, key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'{path}: unknown field "{key}" ignored{hint}'


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class TestConfig:
    """Settings of a test home. Field names are the snake_case forms of the ``.impt.test`` keys."""

    __test__ = False  # not a pytest test class

    home: Path
    #: The file the settings came from; ``None`` when no configuration file exists (defaults).
    source: Path | None = None
    device_file: str | None = None
    agent_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    stop_on_fail: bool = False
    allow_disconnect: bool = False
    builder_cache: bool = False
    test_files: tuple[str, ...] = DEFAULT_TEST_FILES
    github_config: str | None = None
    #: Path (relative to home) of a JSON file of Builder variables, or the variables themselves.
    builder_config: str | dict[str, Any] | None = None
    device_group_id: str | None = None
    device_group_name: str | None = None
    #: impsim's own field: a wiring file (relative to home) of models on the device's pins and buses.
    wiring: str | None = None
    #: Non-fatal findings, such as unknown fields, for the runner to show.
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def load(cls, directory: str | os.PathLike[str] = ".", *, required: bool = False) -> TestConfig:
        """Read ``.impt.test`` (preferred) or ``.imptest`` from ``directory``.

        ``directory`` may also name a configuration file. Without one, the defaults apply
        (home = ``directory``), unless ``required``.
        """
        d = Path(os.path.abspath(directory))
        if d.is_file():
            return cls.from_file(d)
        if not d.is_dir():
            raise ConfigError(f"{d}: test directory does not exist")
        for name in (CONFIG_FILE, LEGACY_CONFIG_FILE):
            if (d / name).is_file():
                return cls.from_file(d / name)
        if required:
            raise ConfigError(
                f"{d}: no {CONFIG_FILE} (or {LEGACY_CONFIG_FILE}) test configuration; create one, e.g. "
                '{"deviceFile": "src/device.nut", "testFiles": ["tests/**/*.test.nut"]}'
            )
        return cls(home=d)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TestConfig:
        """Read a configuration file; a file named ``.imptest`` is read in the old format."""
        p = Path(os.path.abspath(path))
        if not p.is_file():
            raise ConfigError(f"{p}: configuration file does not exist")
        legacy = p.name == LEGACY_CONFIG_FILE
        data = _load_json(p, comments=legacy)
        table = _LEGACY_FIELDS if legacy else _IMPT_FIELDS
        values: dict[str, Any] = {}
        warnings: list[str] = []
        for key, value in data.items():
            if key in table:
                attr, check = table[key]
                values[attr] = check(value, str(p), key)
            elif not (legacy and key in _LEGACY_IGNORED):
                warnings.append(_unknown_field_warning(p, key, table))
        if legacy and "builder_config" not in values and (p.parent / LEGACY_BUILDER_FILE).is_file():
            values["builder_config"] = LEGACY_BUILDER_FILE
        return cls(home=p.parent, source=p, warnings=tuple(warnings), **values)

    def with_overrides(self, **overrides: Any) -> TestConfig:
        """A copy with command-line settings applied; ``None`` means "not given" and keeps the file's
        value. Keys are field names (``timeout=10``, ``stop_on_fail=True``, ``test_files=[...]``;
        ``device_file=False`` removes the device source)."""
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            check = _OVERRIDES.get(key)
            if check is None:
                raise ConfigError(
                    f"unknown test setting {key!r}; known settings: {', '.join(sorted(_OVERRIDES))}"
                )
            if value is None:
                continue
            changes[key] = check(value, "command line", key)
        return dataclasses.replace(self, **changes)

    # -- derived values

    def _file(self, value: str | None, name: str) -> Path | None:
        if value is None:
            return None
        p = Path(os.path.normpath(self.home / value))
        if not p.is_file():
            where = str(self.source) if self.source else "command line"
            raise ConfigError(f'{where}: "{name}" file {value} does not exist (looked for {p})')
        return p

    def device_source(self) -> Path | None:
        """The device source file, or ``None`` when there is none; a configured file that does
        not exist is an error."""
        return self._file(self.device_file, "deviceFile")

    def agent_source(self) -> Path | None:
        """The agent source file, like :meth:`device_source`."""
        return self._file(self.agent_file, "agentFile")

    def wiring_file(self) -> Path | None:
        """The wiring file (docs/wiring.md), or ``None``; a configured file that does not exist
        is an error."""
        return self._file(self.wiring, "wiring")

    def builder_variables(self) -> dict[str, Any]:
        """Builder variables from ``builderConfig`` (a JSON object file, relative to home)."""
        if self.builder_config is None:
            return {}
        if isinstance(self.builder_config, dict):
            return dict(self.builder_config)
        p = Path(os.path.normpath(self.home / self.builder_config))
        if not p.is_file():
            where = str(self.source) if self.source else "command line"
            raise ConfigError(f'{where}: "builderConfig" file {self.builder_config} does not exist (looked for {p})')
        return _load_json(p, comments=False)

    def discover(self, selector: TestSelector | str | None = None) -> list[TestFile]:
        """The test files of this home, in run order (see the module documentation)."""
        return discover_test_files(self.home, self.test_files, selector)


# ---------------------------------------------------------------------------------------------
# Globs


def _expand_braces(pattern: str) -> list[str]:
    """``a{b,c}d`` -> ``abd``, ``acd`` (nested allowed; ``{x}`` without a comma stays literal)."""
    depth = 0
    start = -1
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                inner = pattern[start + 1 : i]
                options = _split_top_commas(inner)
                if len(options) > 1:
                    head, tail = pattern[:start], pattern[i + 1 :]
                    result: list[str] = []
                    for option in options:
                        for expanded in _expand_braces(head + option + tail):
                            if expanded not in result:
                                result.append(expanded)
                    return result
                # No alternatives here; look for braces after this one.
                rest = _expand_braces(pattern[i + 1 :])
                return [pattern[: i + 1] + r for r in rest]
        i += 1
    return [pattern]


def _split_top_commas(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _segment_regex(segment: str) -> re.Pattern[str] | None:
    """A regex for one path segment, or ``None`` when the segment has no wildcards."""
    out: list[str] = []
    magic = False
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(segment[i + 1]))
            i += 2
            continue
        if c == "*":
            magic = True
            while i + 1 < n and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            magic = True
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and segment[j] in "!^":
                j += 1
            if j < n and segment[j] == "]":
                j += 1
            while j < n and segment[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))  # no closing bracket: a literal '['
            else:
                magic = True
                body = segment[i + 1 : j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("[", "\\[")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL) if magic else None


def _unescape_glob(segment: str) -> str:
    return re.sub(r"\\(.)", r"\1", segment)


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def glob_files(home: str | os.PathLike[str], pattern: str) -> list[str]:
    """Files matching a node-glob ``pattern`` relative to ``home``, sorted.

    Results are ``/``-separated and spelled as the pattern's literal parts are (``./x/*.nut``
    gives ``./x/a.nut``); an absolute pattern gives absolute results.
    """
    base = Path(os.path.abspath(home))
    found: set[str] = set()
    for expanded in _expand_braces(pattern.replace(os.sep, "/") if os.sep != "/" else pattern):
        if expanded.startswith("/"):
            start, prefix = Path("/"), "/"
            expanded = expanded.lstrip("/")
        else:
            start, prefix = base, ""
        segments = [s for s in expanded.split("/") if s != ""]
        # Consecutive ** are one **.
        collapsed: list[str] = []
        for s in segments:
            if s == "**" and collapsed and collapsed[-1] == "**":
                continue
            collapsed.append(s)
        if collapsed:
            _walk(start, prefix, collapsed, found)
    return sorted(found, key=_sort_key)


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return prefix + name if prefix.endswith("/") else f"{prefix}/{name}"


def _walk(directory: Path, prefix: str, segments: list[str], found: set[str]) -> None:
    segment, rest = segments[0], segments[1:]
    if segment == "**":
        if rest:
            _walk(directory, prefix, rest, found)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            # Symlinked directories are not followed, so a link cycle cannot recurse forever.
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            _walk(Path(entry.path), _join(prefix, entry.name), segments, found)
        if not rest:
            # A trailing ** matches the files of this directory too.
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_file():
                    found.add(_join(prefix, entry.name))
        return
    regex = _segment_regex(segment)
    if regex is None:
        name = _unescape_glob(segment)
        target = directory / name
        if rest:
            if target.is_dir():
                _walk(target, _join(prefix, name), rest, found)
        elif target.is_file():
            found.add(_join(prefix, name))
        return
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    dot_ok = segment.startswith(".")
    for entry in entries:
        if entry.name.startswith(".") and not dot_ok:
            continue
        if not regex.fullmatch(entry.name):
            continue
        if rest:
            if entry.is_dir():
                _walk(Path(entry.path), _join(prefix, entry.name), rest, found)
        elif entry.is_file():
            found.add(_join(prefix, entry.name))


# ---------------------------------------------------------------------------------------------
# Test files

_AGENT_WORD = re.compile(r"\bagent\b", re.IGNORECASE | re.ASCII)
_PARTNER_SUFFIX = re.compile(r"\.(agent|device)\.test\.nut$", re.IGNORECASE)


def side_of(name: str) -> Side:
    """``"agent"`` when ``agent`` is a whole word anywhere in ``name`` (a relative path, as impt
    tests it, so ``tests/agent/x.test.nut`` is an agent test), else ``"device"``. Note that ``_`` is a
    word character: ``my_agent.test.nut`` is a device test, as on impt."""
    return "agent" if _AGENT_WORD.search(name.replace("\\", "/")) else "device"


def find_partner(name: str, home: str | os.PathLike[str] = ".") -> str | None:
    """The partner of test file ``name`` (relative to ``home``) if it exists, spelled like ``name``.

    Only ``*.agent.test.nut`` and ``*.device.test.nut`` have partners: the suffix is replaced by
    the other side's ``.device.nut``/``.agent.nut``. As in impt, "the other side" is the opposite
    of :func:`side_of` for the whole name, which differs from the suffix only for odd names such as
    ``agent/x.device.test.nut``.
    """
    if not _PARTNER_SUFFIX.search(name):
        return None
    other = ".device" if side_of(name) == "agent" else ".agent"
    partner = _PARTNER_SUFFIX.sub("", name) + other + ".nut"
    return partner if Path(os.path.abspath(home), partner).is_file() else None


@dataclass(frozen=True)
class TestFile:
    """A test file to run in its own session."""

    __test__ = False

    #: The path as matched, relative to the test home (``/``-separated), as impt prints it.
    name: str
    path: Path
    side: Side
    partner_name: str | None = None
    partner: Path | None = None


def discover_test_files(
    home: str | os.PathLike[str],
    patterns: Iterable[str] = DEFAULT_TEST_FILES,
    selector: TestSelector | str | None = None,
) -> list[TestFile]:
    """Test files matching ``patterns`` under ``home``, filtered by ``selector``'s file part.

    Order: pattern by pattern, sorted within each; duplicates keep their first position.
    Files that are partners of other matched files are excluded.
    """
    base = Path(os.path.abspath(home))
    if isinstance(selector, str) or selector is None:
        selector = parse_selector(selector)
    names: list[str] = []
    seen: set[str] = set()
    for pattern in patterns:
        for name in glob_files(base, pattern):
            key = os.path.normcase(os.path.normpath(base / name))
            if key not in seen:
                seen.add(key)
                names.append(name)
    files: list[TestFile] = []
    for name in names:
        partner = find_partner(name, base)
        files.append(
            TestFile(
                name=name,
                path=Path(os.path.normpath(base / name)),
                side=side_of(name),
                partner_name=partner,
                partner=Path(os.path.normpath(base / partner)) if partner else None,
            )
        )
    partners = {os.path.normcase(str(f.partner)) for f in files if f.partner is not None}
    return [
        f
        for f in files
        if os.path.normcase(str(f.path)) not in partners and selector.matches_file(f.name)
    ]


# ---------------------------------------------------------------------------------------------
# --tests selector


@dataclass(frozen=True)
class TestSelector:
    """``--tests [file][:Class][::method]``: the file part is a regular expression searched in the
    test file's relative path; class and method are exact names (ImpUnitRunner's ``testClass`` and
    ``testCase``). As in impt, a class or method name is not checked: one that is not a Squirrel
    identifier, or that no file defines, makes impt skip each file; the run as a whole then fails
    (:func:`impapi.testing.runner.run_tests`: a selector that runs no test is not a pass)."""

    __test__ = False

    file_pattern: str = ""
    test_class: str = ""
    test_method: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.file_pattern or self.test_class or self.test_method)

    def matches_file(self, name: str) -> bool:
        if not self.file_pattern:
            return True
        return re.search(self.file_pattern, name.replace(os.sep, "/")) is not None

    def code_has_selection(self, code: str) -> bool:
        """impt's pre-deploy check on the built code: when a class is selected the code must match
        ``class[ s]*<Class>`` and when a method is selected ``function[ ]*<method>``; otherwise impt
        prints ``Skip "<file>" testing``. (impt writes ``"class[ \\s]*"`` in a JS string, where
        ``\\s`` is a plain ``s``, so only spaces may separate ``class`` from the name.)"""
        if self.test_class and not _search_raw("class[ s]*", self.test_class, code):
            return False
        return not (self.test_method and not _search_raw("function[ ]*", self.test_method, code))


def _search_raw(prefix: str, name: str, code: str) -> bool:
    try:
        return re.search(prefix + name, code) is not None
    except re.error:
        return re.search(prefix + re.escape(name), code) is not None


def parse_selector(text: str | None) -> TestSelector:
    """Parse ``--tests``: ``tests/foo``, ``foo.test.nut:MyCase``, ``:MyCase::testThing``,
    ``::testThing``. Splits like impt: the first ``:`` ends the file part, the last ``::`` starts
    the method."""
    if not text:
        return TestSelector()
    colon = text.find(":")
    if colon >= 0:
        file_part, case = text[:colon], text[colon:]
    else:
        file_part, case = text, ""
    if os.sep == "\\":
        # impt turns Windows separators into '/'; elsewhere a backslash is a regex escape.
        file_part = file_part.replace("\\", "/")
    test_class = test_method = ""
    if case:
        sep = case.rfind("::")
        if sep >= 0:
            test_method = case[sep + 2 :]
            test_class = case[1:sep]
        else:
            test_class = case[1:]
    if file_part:
        try:
            re.compile(file_part)
        except re.error as e:
            raise ConfigError(
                f"--tests {text}: the file part {file_part!r} is not a valid regular expression ({e})"
            ) from None
    return TestSelector(file_part, test_class, test_method)
