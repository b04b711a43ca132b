"""pytest plugin: impUnit test files (``*.test.nut``) as pytest tests, and fixtures for
Python-side tests of Squirrel apps.

Loaded through the ``pytest11`` entry point ``impsim`` once impsim is installed (``-p no:impsim``
turns it off); without installing, ``pytest -p impapi.testing.pytest_plugin``.

Collection. A ``.nut`` file is an impUnit test file when it matches

* the ini option ``impsim_test_files`` (globs: one without ``/`` matches the file name, one with
  ``/`` the path relative to the rootdir, node-glob style as in ``.impt.test``), if set;
* else, when a test configuration (``.impt.test`` or ``.imptest``) is found in the file's
  directory or one above it (up to the rootdir), its ``testFiles`` globs, relative to that
  directory, as ``impsim test`` discovers them;
* else ``*.test.nut``.

The directory of that configuration is the test home: ``deviceFile``, ``agentFile``, ``timeout``,
``stopOnFail``, ``allowDisconnect``, ``builderConfig`` apply as with ``impsim test``. Without
one, the defaults apply with the rootdir as the home.

Each file is one node; its test case classes are nodes below it and each ``test*`` method an item
(``tests/foo.test.nut::MyCase::testThing``), in the order the impUnit runner runs them: the file's
session code is loaded on a simulated imp at collection time and the runner's own discovery is
asked (no test runs). An item's location is the line of its ``function testX`` in the original
file (through Builder's ``#line`` mapping). Running the first item runs the whole file as ONE
session (:func:`~impapi.testing.session.run_session`, as ``impsim test`` does), and each item
reports its step's outcome. When only some items of a file are selected (``-k``, node ids) and
they are one class or one method, the session runs only those (impt's ``--tests`` selection).

Reporting. A failure shows the impUnit failure text, ``at <file>:<line>`` of the failing
assertion call with that source line, the Squirrel stack when known, and a "Captured impsim log"
section with the device and agent log lines written during the test (impUnit's own protocol
messages left out). A failing ``setUp`` is an error in the setup of the class's first selected
item, a failing ``tearDown`` one in the teardown of its last. Tests the runner did not reach fail
with the session's errors (timeouts, disconnects, out of memory, ...) or are skipped after a
``stopOnFail`` stop. Failures outside the items (a ``setUp`` of a class without tests, an error
after the last test) are an error in the teardown of the file's last selected item.

Options: ``--impsim-lib-dir DIR`` (repeatable; ini ``impsim_lib_dirs``) for ``#require``,
``--impsim-github-dir DIR`` (ini ``impsim_github_dir``) for ``@include "github:..."``,
``--impsim-allow-commands`` (ini ``impsim_allow_commands``) for ``runCommand()``, ``--impsim-seed``.

Fixtures: ``impsim_simulation`` (a factory of started :class:`~impapi.simulation.Simulation`\\ s,
closed after the test), ``impsim_device`` (a factory: a simulation whose device runs a file,
through Builder and ``#require``) and ``impsim_log`` (the log of the last simulation either made).

The plugin is inert when no ``.nut`` file is collected: it only adds options and fixtures.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .config import TestConfig, TestFile
    from .session import ListedCase, SessionOptions, SessionResult, TestOutcome

__all__ = ["ImpUnitCase", "ImpUnitFailure", "ImpUnitFile", "ImpUnitItem", "parse_definitions"]

DEFAULT_GLOB = "*.test.nut"
LOG_LINES_WITHOUT_TEST = 30  # log lines shown for a failure not tied to one test's window


# ---------------------------------------------------------------------------------------------
# Options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("impsim", "impsim: impUnit test files (*.test.nut) on a simulated imp")
    group.addoption("--impsim-lib-dir", action="append", default=[], metavar="DIR", dest="impsim_lib_dirs",
                    help="directory of libraries for #require in impUnit tests, repeatable "
                         "(also ini impsim_lib_dirs and IMPSIM_LIB_PATH)")
    group.addoption("--impsim-github-dir", metavar="DIR", dest="impsim_github_dir", default=None,
                    help='directory of git checkouts DIR/owner/repo for @include "github:..." '
                         "(also ini impsim_github_dir and IMPSIM_GITHUB_DIR)")
    group.addoption("--impsim-allow-commands", action="store_true", default=None, dest="impsim_allow_commands",
                    help="let runCommand() in impUnit tests run host shell commands")
    group.addoption("--impsim-seed", type=int, default=None, dest="impsim_seed",
                    help="seed for session names and math.rand() (default 0)")
    parser.addini("impsim_test_files", type="linelist", default=[],
                  help="globs of impUnit test files (default: testFiles of .impt.test, else *.test.nut)")
    parser.addini("impsim_lib_dirs", type="paths", default=[],
                  help="directories of libraries for #require (relative to the ini file)")
    parser.addini("impsim_github_dir", type="string", default="",
                  help="directory of git checkouts for github: includes (relative to the ini file)")
    parser.addini("impsim_allow_commands", type="bool", default=False,
                  help="let runCommand() in impUnit tests run host shell commands")


class _Settings:
    """The plugin's view of one pytest run: options, and caches of configurations and globs."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rootdir = Path(config.rootpath)
        base = Path(config.inipath).parent if config.inipath else self.rootdir
        invocation = Path(config.invocation_params.dir)
        self.globs: list[str] = [g for g in config.getini("impsim_test_files") if g.strip()]
        dirs = [Path(os.path.abspath(invocation / d)) for d in config.getoption("impsim_lib_dirs") or []]
        dirs += [Path(p) for p in config.getini("impsim_lib_dirs")]
        self.lib_dirs = tuple(dirs)
        github = config.getoption("impsim_github_dir")
        if github:
            self.github_dir: Path | None = Path(os.path.abspath(invocation / github))
        elif config.getini("impsim_github_dir"):
            self.github_dir = Path(os.path.abspath(base / config.getini("impsim_github_dir")))
        else:
            self.github_dir = None
        allow = config.getoption("impsim_allow_commands")
        self.allow_commands = bool(config.getini("impsim_allow_commands") if allow is None else allow)
        seed = config.getoption("impsim_seed")
        self.seed = 0 if seed is None else seed
        self._homes: dict[Path, Any] = {}
        self._discovered: dict[Path, dict[str, Any]] = {}
        self._globbed: dict[str, set[str]] = {}

    def options(self) -> SessionOptions:
        from .session import SessionOptions

        return SessionOptions(lib_dirs=self.lib_dirs, github_dir=self.github_dir,
                              allow_commands=self.allow_commands, seed=self.seed)

    def home_config(self, directory: Path) -> TestConfig | Exception:
        """The configuration of the nearest directory at or above ``directory`` (up to the
        rootdir) holding ``.impt.test``/``.imptest``; the defaults (home = rootdir) without one.
        A broken configuration is returned as its exception, raised when the file is collected."""
        from .config import CONFIG_FILE, LEGACY_CONFIG_FILE, ConfigError, TestConfig

        cached = self._homes.get(directory)
        if cached is not None:
            return cached
        found: Any = None
        d = directory
        while True:
            for name in (CONFIG_FILE, LEGACY_CONFIG_FILE):
                if (d / name).is_file():
                    try:
                        found = TestConfig.from_file(d / name)
                    except ConfigError as e:
                        found = e
                    break
            if found is not None or d == self.rootdir or d.parent == d:
                break
            d = d.parent
        if found is None:
            inside = directory == self.rootdir or self.rootdir in directory.parents
            found = TestConfig(home=self.rootdir if inside else directory)
        self._homes[directory] = found
        return found

    def discovered(self, config: TestConfig) -> dict[str, TestFile]:
        """The test files ``impsim test`` would run in ``config``'s home, by normalised path."""
        files = self._discovered.get(config.home)
        if files is None:
            files = {_key(f.path): f for f in config.discover()}
            self._discovered[config.home] = files
        return files

    def matches_ini_glob(self, path: Path) -> bool:
        from .config import glob_files

        for pattern in self.globs:
            if "/" not in pattern:
                if fnmatch.fnmatchcase(path.name, pattern):
                    return True
                continue
            found = self._globbed.get(pattern)
            if found is None:
                found = {_key(self.rootdir / name) for name in glob_files(self.rootdir, pattern)}
                self._globbed[pattern] = found
            if _key(path) in found:
                return True
        return False


def _key(path: Path | str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


_SETTINGS = pytest.StashKey["_Settings"]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SETTINGS] = _Settings(config)


# ---------------------------------------------------------------------------------------------
# Collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ImpUnitFile | None:
    if file_path.suffix != ".nut":
        return None
    settings: _Settings = parent.config.stash[_SETTINGS]
    config = settings.home_config(file_path.parent)
    test_file = None
    if parent.session.isinitpath(file_path):
        # Named on the command line: collected whatever the globs say (as pytest does for .py).
        if not isinstance(config, Exception) and config.source is not None:
            try:
                test_file = settings.discovered(config).get(_key(file_path))
            except Exception:
                test_file = None
    elif settings.globs:
        if not settings.matches_ini_glob(file_path):
            return None
    elif isinstance(config, Exception) or config.source is None:
        if not fnmatch.fnmatchcase(file_path.name, DEFAULT_GLOB):
            return None
    else:
        try:
            test_file = settings.discovered(config).get(_key(file_path))
        except Exception as e:  # e.g. an unreadable directory: report it on the file
            config = e
        else:
            if test_file is None:
                return None
    return ImpUnitFile.from_parent(parent, path=file_path, home_config=config, test_file=test_file)


def _test_file_for(path: Path, config: TestConfig) -> TestFile:
    """A :class:`TestFile` for a file matched by name rather than by the home's globs."""
    from .config import TestFile, find_partner, side_of

    try:
        name = Path(os.path.relpath(path, config.home)).as_posix()
    except ValueError:  # another drive
        name = path.name
    partner = find_partner(name, config.home)
    return TestFile(name=name, path=Path(os.path.normpath(path)), side=side_of(name), partner_name=partner,
                    partner=Path(os.path.normpath(config.home / partner)) if partner else None)


class ImpUnitCollectError(Exception):
    """A test file that cannot be collected: its configuration, build or compilation fails."""


class ImpUnitFile(pytest.File):
    """One impUnit test file: collected into its test case classes, run as one session."""

    def __init__(self, *, home_config: Any, test_file: TestFile | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.home_config = home_config
        self._test_file = test_file
        self._result: SessionResult | None = None
        self._selected: list[ImpUnitItem] | None = None
        self.listing_problem: str | None = None
        self.total_tests = 0  # test methods collected
        self.known_steps: set[str] = set()  # Class::method() of the items and of their classes' setUp/tearDown

    @property
    def test_config(self) -> TestConfig:
        if isinstance(self.home_config, Exception):
            raise ImpUnitCollectError(str(self.home_config))
        return self.home_config

    @property
    def test_file(self) -> TestFile:
        if self._test_file is None:
            self._test_file = _test_file_for(self.path, self.test_config)
        return self._test_file

    @property
    def settings(self) -> _Settings:
        return self.config.stash[_SETTINGS]

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from .session import ListedCase, ListingError, list_tests

        config = self.test_config
        try:
            listing = list_tests(self.test_file, config, self.settings.options())
        except ListingError as e:
            raise ImpUnitCollectError(str(e)) from None
        definitions = parse_definitions(listing.test_built, config.home)
        cases = listing.cases
        if cases is None:
            # The runner's order could not be read (the code stopped while loading): the classes
            # that derive from ImpTestCase in the file, in file order; the run reports the error.
            self.listing_problem = listing.problem
            cases = [ListedCase(name, sorted(definitions.test_methods(name)), definitions.has(name, "setUp"),
                                definitions.has(name, "tearDown"))
                     for name in definitions.test_cases(self.test_file.path)]
        for case in cases:
            self.total_tests += len(case.methods)
            if case.methods:
                self.known_steps.update(f"{case.name}::{m}()" for m in (*case.methods, "setUp", "tearDown"))
                yield ImpUnitCase.from_parent(self, name=case.name, case=case, definitions=definitions)
        if not any(c.methods for c in cases):
            # Nothing to run as items: one item reports the session as a whole.
            yield ImpUnitSessionItem.from_parent(self, name="<session>")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ImpUnitCollectError):
            return str(excinfo.value)  # Builder and compile errors name the file and line
        return super().repr_failure(excinfo, style=style)

    # -- running the session ----------------------------------------------------------------------

    def selected_items(self) -> list[ImpUnitItem]:
        if self._selected is None:
            items = getattr(self.session, "items", None) or []
            self._selected = [i for i in items if isinstance(i, ImpUnitItem) and i.file_node is self]
        return self._selected

    def _selector(self) -> Any:
        from .config import TestSelector

        selected = [i for i in self.selected_items() if isinstance(i, ImpUnitTestItem)]
        if not selected or len(selected) >= self.total_tests:
            return TestSelector()
        classes = {i.class_name for i in selected}
        if len(classes) != 1:
            return TestSelector()
        [cls] = classes
        if len(selected) == 1:
            return TestSelector(test_class=cls, test_method=selected[0].method)
        return TestSelector(test_class=cls)

    def session_result(self) -> SessionResult:
        """Run the file's session once; every item reads its outcome from it."""
        if self._result is None:
            from .session import run_session

            selector = self._selector()
            options = dataclasses.replace(self.settings.options(), selector=selector)
            result = run_session(self.test_file, self.test_config, options)
            if result.skipped and not selector.is_empty:
                # impt's pre-deploy check did not find the class or method in the code (a class
                # made with "Name <- class ..."): run the whole file instead.
                result = run_session(self.test_file, self.test_config, self.settings.options())
            self._result = result
        return self._result

    def outcome(self, class_name: str, method: str) -> TestOutcome | None:
        result = self.session_result()
        name = f"{class_name}::{method}()"
        for o in result.outcomes:
            if o.name == name:
                return o
        return None

    def unattributed(self) -> list[TestOutcome]:
        """Failing steps no collected item stands for: the setUp/tearDown of classes without
        test methods, steps the listing did not know (deselected items' steps are not shown)."""
        result = self.session_result()
        return [o for o in result.outcomes if not o.passed and o.name not in self.known_steps]

    def teardown(self) -> None:
        # Only for a file whose session ran: report what no item showed (a session item shows all).
        if self._result is None or any(isinstance(i, ImpUnitSessionItem) for i in self.selected_items()):
            return
        result = self._result
        problems = []
        items = [i for i in self.selected_items() if isinstance(i, ImpUnitTestItem)]
        all_reported = all(self.outcome(i.class_name, i.method) is not None for i in items)
        for o in self.unattributed():
            problems.append(_failure_lines(o, self.test_config.home, title=f"{o.name} failed"))
        if result.errors and all_reported and items:
            problems.append(_session_error_lines(result))
        if problems:
            last = items[-1] if items else None
            log = _log_text(result, None) if result.log is not None else ""
            if last is not None and log:
                last.add_report_section("teardown", "impsim log", log)
            raise ImpUnitFailure([line for block in problems for line in block + [""]][:-1],
                                 crash=(_shown(self.path), 1, problems[0][0]))


class ImpUnitCase(pytest.Collector):
    """A test case class: its ``test*`` methods as items, in run order."""

    def __init__(self, *, case: ListedCase, definitions: Definitions, **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.definitions = definitions

    def collect(self) -> list[pytest.Item]:
        return [ImpUnitTestItem.from_parent(self, name=m, class_name=self.case.name, method=m,
                                            where=self.definitions.method_location(self.case.name, m))
                for m in self.case.methods]

    def items(self) -> list[ImpUnitTestItem]:
        return [i for i in self.parent.selected_items() if isinstance(i, ImpUnitTestItem) and i.parent is self]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        where = self.definitions.class_location(self.case.name)
        if where is None:
            return self.path, None, self.name
        return where[0], where[1] - 1, self.name


# ---------------------------------------------------------------------------------------------
# Items


class ImpUnitFailure(Exception):
    """An impUnit failure, rendered without a Python traceback."""

    def __init__(self, lines: list[str], crash: tuple[str, int, str] | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.crash = crash


class ImpUnitItem(pytest.Item):
    """Base of the items: they read the session result of their file."""

    @property
    def file_node(self) -> ImpUnitFile:
        node = self.parent
        while not isinstance(node, ImpUnitFile):
            node = node.parent
        return node

    def setup(self) -> None:
        self.file_node.session_result()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ImpUnitFailure):
            return _render(excinfo.value)
        if isinstance(excinfo.value, ImpUnitCollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class ImpUnitTestItem(ImpUnitItem):
    """One ``test*`` method of a test case class."""

    def __init__(self, *, class_name: str, method: str, where: tuple[Path, int] | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.class_name = class_name
        self.method = method
        self.where = where

    def reportinfo(self) -> tuple[Path, int | None, str]:
        if self.where is None:
            return self.path, None, f"{self.class_name}::{self.method}"
        return self.where[0], self.where[1] - 1, f"{self.class_name}::{self.method}"

    def _class_items(self) -> list[ImpUnitTestItem]:
        case = self.parent
        return case.items() if isinstance(case, ImpUnitCase) else [self]

    def setup(self) -> None:
        node = self.file_node
        result = node.session_result()
        mine = self._class_items()
        if mine and mine[0] is self:
            step = node.outcome(self.class_name, "setUp")
            if step is not None and not step.passed:
                self._log_section("setup", result, step)
                raise ImpUnitFailure(_failure_lines(step, node.test_config.home),
                                     crash=_crash(step, node, self._step_location(step.method)))

    def runtest(self) -> None:
        node = self.file_node
        result = node.session_result()
        o = node.outcome(self.class_name, self.method)
        if o is not None:
            self.user_properties.append(("virtual_time_s", round(o.duration_s, 6)))
            if o.passed:
                if o.value is not None:
                    self.user_properties.append(("impunit_value", o.text))
                return
            self._log_section("call", result, o)
            raise ImpUnitFailure(_failure_lines(o, node.test_config.home), crash=_crash(o, node, self.where))
        if result.skipped:
            pytest.skip("not run: the file's session skipped this selection")
        if result.errors:
            log = _log_text(result, None)
            if log:
                self.add_report_section("call", "impsim log", log)
            lines = [f"{self.class_name}::{self.method}() did not complete: the session failed"]
            lines += _session_error_lines(result)[1:]
            if node.listing_problem:
                lines.append(f"(collected without the runner's order: {node.listing_problem})")
            raise ImpUnitFailure(lines, crash=(_shown(self.path), (self.where or (self.path, 1))[1], lines[0]))
        if result.stopped_on_failure:
            pytest.skip("not run: the session stopped at the first failure (stopOnFail)")
        raise ImpUnitFailure([f"{self.class_name}::{self.method}() was not run: the impUnit runner did not "
                              "report it (is the class a root-table slot deriving from ImpTestCase?)"])

    def teardown(self) -> None:
        node = self.file_node
        if node._result is None:
            return
        mine = self._class_items()
        if mine and mine[-1] is self:
            step = node.outcome(self.class_name, "tearDown")
            if step is not None and not step.passed:
                self._log_section("teardown", node._result, step)
                raise ImpUnitFailure(_failure_lines(step, node.test_config.home),
                                     crash=_crash(step, node, self._step_location(step.method)))

    def _step_location(self, method: str) -> tuple[Path, int] | None:
        case = self.parent
        return case.definitions.method_location(self.class_name, method) if isinstance(case, ImpUnitCase) else None

    def _log_section(self, when: str, result: SessionResult, outcome: TestOutcome) -> None:
        text = _log_text(result, outcome)
        if text:
            self.add_report_section(when, "impsim log", text)


class ImpUnitSessionItem(ImpUnitItem):
    """The item of a file without test methods: passes when the session does."""

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, "<session>"

    def runtest(self) -> None:
        node = self.file_node
        result = node.session_result()
        problems = [_failure_lines(o, node.test_config.home, title=f"{o.name} failed") for o in result.failed_tests]
        if result.errors:
            problems.append(_session_error_lines(result))
        if not result.passed and not problems:
            problems.append([f"the session of {node.test_file.name} failed"])
        if problems:
            log = _log_text(result, None)
            if log:
                self.add_report_section("call", "impsim log", log)
            raise ImpUnitFailure([line for block in problems for line in block + [""]][:-1],
                                 crash=(_shown(self.path), 1, problems[0][0]))
        if result.tests == 0 and not result.outcomes:
            pytest.skip(f"no impUnit tests in {node.test_file.name}"
                        + (f" ({node.listing_problem})" if node.listing_problem else ""))


# ---------------------------------------------------------------------------------------------
# Rendering


def _crash(o: TestOutcome, node: ImpUnitFile, where: tuple[Path, int] | None) -> tuple[str, int, str]:
    """(path, line, message) of pytest's one-line summary of a failure: the failing assertion
    call when known, else the method's definition (``where``)."""
    if o.location:
        file, _, line = o.location.rpartition(":")
        if line.isdigit():
            return _shown(_resolve(node.test_config.home, file)), int(line), o.text
    return (_shown(where[0]), where[1], o.text) if where else (_shown(node.path), 1, o.text)


def _shown(path: Path | str) -> str:
    """A path as pytest shows one: relative to the current directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _resolve(home: Path, file: str) -> Path:
    return Path(os.path.normpath(Path(home) / file))


def _source_line(home: Path, file: str, line: int) -> str | None:
    try:
        with open(_resolve(home, file), encoding="utf-8", errors="replace") as f:
            for number, text in enumerate(f, 1):
                if number == line:
                    return text.rstrip("\r\n")
    except OSError:
        return None
    return None


def _failure_lines(o: TestOutcome, home: Path, *, title: str | None = None) -> list[str]:
    """The failure text, ``at <file>:<line>`` with that source line, the Squirrel stack."""
    lines = [f"{title}: {o.text}" if title else f"{o.name} failed: {o.text}"]
    if o.location:
        file, _, line = o.location.rpartition(":")
        lines.append(f"    at {o.location}")
        source = _source_line(home, file, int(line)) if line.isdigit() else None
        if source is not None:
            lines.append(f"    {int(line):>5} | {source.strip()}")
    if len(o.stack) > 1:
        lines.append("Squirrel stack (innermost first):")
        for function, file, line in o.stack:
            lines.append(f"    {function}  {file}:{line}")
    if o.value is not None and not isinstance(o.value, str):
        from .session import js_stringify

        lines.append(f"value: {js_stringify(o.value)}")
    return lines


def _session_error_lines(result: SessionResult) -> list[str]:
    lines = [f"the session of {result.test_file.name} failed:"]
    lines += [f"    {e.message}" for e in result.errors]
    return lines


def _log_text(result: SessionResult, o: TestOutcome | None) -> str:
    """The log lines of a step (between its TEST_START and its result), or the last lines of the
    session; impUnit's protocol messages are left out."""
    log = result.log
    if log is None:
        return ""
    entries = list(log)
    if o is not None:
        window = entries[o.log_start + 1 : o.log_end]
    else:
        window = entries[-LOG_LINES_WITHOUT_TEST * 3 :]
    shown = [e for e in window if "__IMPUNIT__" not in e.text]
    if o is None:
        shown = shown[-LOG_LINES_WITHOUT_TEST:]
    return log.text(shown) if shown else ""


def _render(exc: ImpUnitFailure) -> Any:
    try:
        from _pytest._code.code import ReprFileLocation, TerminalRepr
    except ImportError:  # pragma: no cover - a pytest without these: plain text
        return "\n".join(exc.lines)

    class ImpUnitRepr(TerminalRepr):
        def __init__(self, lines: list[str], crash: tuple[str, int, str] | None) -> None:
            self.lines = lines
            self.reprcrash = ReprFileLocation(*crash) if crash else None

        def toterminal(self, tw: Any) -> None:
            for i, line in enumerate(self.lines):
                tw.line(line, red=i == 0, bold=i == 0)
            if self.reprcrash is not None:
                tw.line("")
                self.reprcrash.toterminal(tw)

    return ImpUnitRepr(exc.lines, exc.crash)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Failures in setup/teardown without a Python traceback; skips located at the item."""
    outcome = yield
    if not isinstance(item, ImpUnitItem) or call.excinfo is None:
        return
    report = outcome.get_result()
    if isinstance(call.excinfo.value, ImpUnitFailure) and call.when != "call":
        report.longrepr = _render(call.excinfo.value)
    elif report.skipped and isinstance(report.longrepr, tuple):
        path, line, _ = item.reportinfo()
        report.longrepr = (_shown(path), (line or 0) + 1, report.longrepr[2])


# ---------------------------------------------------------------------------------------------
# Where classes and methods are defined (for item locations)


_TOKEN = re.compile(
    r'(?P<comment>//[^\n]*|#[^\n]*|/\*.*?(?:\*/|\Z))'
    r'|(?P<string>@"(?:[^"]|"")*(?:"|\Z)|"(?:\\.|[^"\\\n])*"?|\'(?:\\.|[^\'\\\n])*\'?)'
    r'|(?P<id>[A-Za-z_]\w*)'
    r'|(?P<op>::|<-|[{}()=])',
    re.DOTALL,
)


@dataclasses.dataclass
class _ClassDef:
    name: str
    base: str | None
    file: str
    line: int
    methods: dict[str, tuple[str, int]]


class Definitions:
    """Classes and their methods found in Builder output, with the original file and line of
    each (the ``#line`` directives applied)."""

    def __init__(self, classes: dict[str, _ClassDef], home: Path) -> None:
        self.classes = classes
        self.home = Path(home)

    def _chain(self, name: str) -> Iterator[_ClassDef]:
        seen = set()
        while name in self.classes and name not in seen:
            seen.add(name)
            c = self.classes[name]
            yield c
            if not c.base:
                break
            name = c.base

    def method_location(self, class_name: str, method: str) -> tuple[Path, int] | None:
        for c in self._chain(class_name):
            if method in c.methods:
                file, line = c.methods[method]
                return _resolve(self.home, file), line
        return self.class_location(class_name)

    def class_location(self, class_name: str) -> tuple[Path, int] | None:
        c = self.classes.get(class_name)
        return (_resolve(self.home, c.file), c.line) if c else None

    def has(self, class_name: str, method: str) -> bool:
        return any(method in c.methods for c in self._chain(class_name))

    def test_methods(self, class_name: str) -> set[str]:
        return {m for c in self._chain(class_name) for m in c.methods if m.startswith("test")}

    def test_cases(self, test_path: Path) -> list[str]:
        """Classes defined in the test file deriving from ImpTestCase (through known classes)."""
        out = []
        for name, c in self.classes.items():
            if _key(_resolve(self.home, c.file)) != _key(test_path):
                continue
            if any(d.base == "ImpTestCase" for d in self._chain(name)):
                out.append(name)
        return out


def parse_definitions(text: str, home: Path | str) -> Definitions:
    """Find ``class Name [extends Base] { ... function name(...) ... }`` (and ``Name <- class``)
    in Builder output. A light tokenizer (comments, strings, braces), not a parser: good enough to
    place test methods, which are plain ``function testX()`` members."""
    from squirrel.lines import LineMap

    linemap = LineMap.scan(text, "<built>")
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())

    def where(pos: int) -> tuple[str, int]:
        line = bisect.bisect_right(starts, pos)
        return linemap.map(line, "<built>") if linemap is not None else ("<built>", line)

    classes: dict[str, _ClassDef] = {}
    depth = 0
    stack: list[tuple[_ClassDef, int]] = []  # (class, depth of its body)
    recent: deque[tuple[str, str, int]] = deque(maxlen=4)  # last significant tokens: (kind, text, pos)
    pending: _ClassDef | None = None
    pending_state = ""  # "name" | "base" | "body"
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "comment":
            continue
        if kind == "string":
            recent.append(("string", "", m.start()))
            continue
        tok = m.group()
        if pending is not None:
            if pending_state == "name" and kind == "id" and tok != "extends":
                pending.name = tok
                pending_state = "afterName"
                continue
            if pending_state in ("name", "afterName") and tok == "::":
                continue
            if tok == "extends":
                pending_state = "base"
                pending.base = ""
                continue
            if pending_state == "base" and (kind == "id" or tok == "::"):
                if kind == "id":
                    pending.base = tok  # the last name of a dotted or :: path
                continue
            if tok == "{":
                depth += 1
                if pending.name:
                    classes.setdefault(pending.name, pending)
                    stack.append((pending, depth))
                pending = None
                continue
            if kind == "id" and pending_state == "afterName" and tok != "extends":
                pending = None  # "class A.B" or something else: not a root class
        if kind == "id" and tok == "class":
            name = ""
            if len(recent) >= 2 and recent[-1][1] in ("<-", "=") and recent[-2][0] == "id":
                name = recent[-2][1]
            file, line = where(m.start())
            pending = _ClassDef(name, None, file, line, {})
            pending_state = "afterName" if name else "name"
            recent.append((kind, tok, m.start()))
            continue
        if tok == "{":
            depth += 1
        elif tok == "}":
            if stack and stack[-1][1] == depth:
                stack.pop()
            depth = max(depth - 1, 0)
        elif stack and stack[-1][1] == depth:
            cls = stack[-1][0]
            if kind == "id" and len(recent) >= 1 and recent[-1][1] == "function" and recent[-1][0] == "id":
                cls.methods.setdefault(tok, where(recent[-1][2]))
            elif tok == "function" and len(recent) >= 2 and recent[-1][1] in ("=", "<-") and recent[-2][0] == "id":
                cls.methods.setdefault(recent[-2][1], where(recent[-2][2]))
        recent.append((kind or "", tok, m.start()))
    return Definitions(classes, Path(home))


# ---------------------------------------------------------------------------------------------
# Fixtures


class _Simulations:
    """The factory behind ``impsim_simulation``: remembers what it made, closes it afterwards."""

    def __init__(self, request: pytest.FixtureRequest, internet: Any = None) -> None:
        self.request = request
        self.internet = internet  # the impsim_internet route table every simulation here uses
        self.made: list[Any] = []

    @property
    def last(self) -> Any:
        if not self.made:
            raise LookupError("impsim_log: no simulation was made yet (call impsim_simulation or impsim_device first)")
        return self.made[-1]

    def resolve(self, spec: Any, suffix: str = ".nut") -> Any:
        """A relative ``*.nut`` (or ``suffix``) path that does not exist from the current
        directory is looked up next to the test module."""
        if isinstance(spec, (str, os.PathLike)):
            text = os.fspath(spec)
            if "\n" not in text and text.rstrip().endswith(suffix) and not os.path.isabs(text) \
                    and not os.path.exists(text):
                beside = Path(self.request.path).parent / text
                if beside.exists():
                    return str(beside)
        return spec

    def __call__(self, device: Any = None, agent: Any = None, **kw: Any) -> Any:
        """Make a started :class:`~impapi.simulation.Simulation` (the keyword arguments are
        Simulation's: ``imp``, ``seed``, ``config``, ``start``, ...); closed after the test."""
        from ..simulation import Simulation

        if self.internet is not None:
            kw.setdefault("internet", self.internet)
        if "wiring" in kw:
            kw["wiring"] = self.resolve(kw["wiring"], ".toml")
        sim = Simulation(device=self.resolve(device), agent=self.resolve(agent), **kw)
        self.made.append(sim)
        return sim

    def close(self) -> None:
        from .session import _close

        while self.made:
            sim = self.made.pop()
            try:
                _close(sim)
            except Exception:  # a VM already closed by the test
                pass


@pytest.fixture
def impsim_internet() -> Any:
    """The :class:`~impapi.internet.Routes` that answer the agent's outgoing HTTP requests in the
    simulations ``impsim_simulation`` and ``impsim_device`` make in this test:
    ``impsim_internet.route(url, status=..., json=...)``, ``.respond(fn)``,
    ``.forward(url, "http://127.0.0.1:PORT")`` (a server on this machine, e.g. pytest-httpserver's)."""
    from ..internet import Routes

    return Routes()


@pytest.fixture
def impsim_simulation(request: pytest.FixtureRequest, impsim_internet: Any) -> Iterator[Callable[..., Any]]:
    """A factory: ``impsim_simulation(device=..., agent=..., **kw)`` returns a started
    :class:`~impapi.simulation.Simulation` (code inline or from files; a relative path is also
    looked up next to the test module). Every simulation made is closed after the test; the
    agent's outgoing requests are answered by ``impsim_internet``."""
    sims = _Simulations(request, impsim_internet)
    yield sims
    sims.close()


@pytest.fixture
def impsim_device(request: pytest.FixtureRequest, impsim_simulation: _Simulations) -> Callable[..., Any]:
    """A factory: ``impsim_device(path, agent=None, **kw)`` returns a started Simulation whose
    device runs the file at ``path``, built like a test session's code: Builder directives
    (``@include``, ``@set``, ...; the test home -- the last place relative includes are looked up --
    is the nearest directory with ``.impt.test``, else the rootdir) and ``#require`` (the plugin's library directories, then impsim's own
    Promise and JSONEncoder). ``agent`` (a path or code) is built the same way when it is a file."""
    settings: _Settings = request.config.stash[_SETTINGS]

    def build(spec: Any) -> Any:
        spec = impsim_simulation.resolve(spec)
        if spec is None:
            return None
        text = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else spec
        if not isinstance(text, str) or "\n" in text or not os.path.isfile(text):
            if isinstance(text, str) and "\n" not in text and text.rstrip().endswith(".nut"):
                raise FileNotFoundError(f"impsim_device: no such file: {text}")
            return spec
        from ..builder import LoadOptions, load_app

        config = settings.home_config(Path(os.path.abspath(text)).parent)
        if isinstance(config, Exception):
            raise config
        return load_app(text, LoadOptions(lib_dirs=tuple(settings.lib_dirs), github_dir=settings.github_dir,
                                          variables=config.builder_variables(), home=config.home))

    def factory(path: Any, agent: Any = None, **kw: Any) -> Any:
        return impsim_simulation(device=build(path), agent=build(agent), **kw)

    return factory


@pytest.fixture
def impsim_wiring(impsim_simulation: _Simulations) -> Callable[[Any], Any]:
    """A factory: ``impsim_wiring(spec)`` returns a :class:`~impapi.peripherals.Wiring` from a
    wiring file (a relative path is also looked up next to the test module) or from TOML text,
    to pass as ``impsim_simulation(..., wiring=...)``; each simulation gets fresh models."""
    from ..peripherals import Wiring

    def factory(spec: Any) -> Any:
        text = os.fspath(spec) if isinstance(spec, os.PathLike) else spec
        if isinstance(text, str) and "\n" not in text and text.strip().endswith(".toml"):
            return Wiring.load(impsim_simulation.resolve(text, ".toml"))
        if isinstance(text, str):
            return Wiring.loads(text, base_dir=Path(impsim_simulation.request.path).parent,
                                name=f"<wiring in {Path(impsim_simulation.request.path).name}>")
        raise TypeError(f"impsim_wiring takes a file path or TOML text, not {type(spec).__name__}")

    return factory


class _LastLog:
    """The :class:`~impapi.log.Log` of the last simulation the factories made, looked up on each
    use (so the fixture can be requested before the simulation is made)."""

    def __init__(self, sims: _Simulations) -> None:
        self._sims = sims

    @property
    def log(self) -> Any:
        return self._sims.last.log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.log, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.log)

    def __len__(self) -> int:
        return len(self.log)

    def __getitem__(self, index: int) -> Any:
        return self.log[index]

    def __str__(self) -> str:
        return self.log.text()

    def __repr__(self) -> str:
        return f"<impsim_log of {len(self._sims.made)} simulation(s)>"


@pytest.fixture
def impsim_log(impsim_simulation: _Simulations) -> _LastLog:
    """The log of the last simulation made by ``impsim_simulation``/``impsim_device`` in this
    test (an :class:`~impapi.log.Log`: ``messages(...)``, ``filter(...)``, ``text()``, iteration)."""
    return _LastLog(impsim_simulation)
