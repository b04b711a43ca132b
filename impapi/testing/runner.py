"""``impsim test``: run a test home's impUnit test files the way ``impt test run`` does.

Reads ``.impt.test`` (or ``.imptest``), finds the test files, runs one session per file
(:func:`~impapi.testing.session.run_session`, a fresh simulated device and agent each), prints
what impt prints and exits 0 when everything passed, 1 otherwise (impunit.md §1.7, §1.10).

Output. Every line is impt's text with impt's prefix ``[+<total>/<delta>s <kind>]`` (the very first
line has no times, as in impt; blank lines, external command output and the final
``IMPT COMMAND SUCCEEDS``/``FAILS`` have no prefix). The two times are **virtual**: seconds of
simulated time since the first line and since the previous prefixed line, sessions laid end to
end (each starts where the previous one ended). So the output is the same on every run, and the
times show how long the tests would take on an imp; impt shows wall-clock times there. The
``Started at`` date is the simulation epoch (2026-01-01 UTC). Device group, deployment and
device ids are made up, deterministically from the seed.

Deviations from impt, on purpose:

* a missing configuration file is not an error: the defaults apply (with a warning);
* a Builder or ``#require`` error fails that file's session with an ``[error]`` line instead of
  aborting the whole command;
* code that does not compile is reported as impCentral's refusal is (``Compilation Error: ...``
  and a ``<file> error (line N, column M): <message>`` line), without impt's repeated
  ``Error: ...`` line, and with the file and line the ``#line`` directives give;
* ``runCommand()`` runs the host command only with ``allow_commands`` (``--allow-commands``);
  otherwise the session fails with an error saying so;
* there is one device per session, so the ``(1/1)`` device index never varies;
* a summary entry says where the test failed, ``at tests/foo.test.nut:42`` (impt prints the
  file alone): where the failing ImpTestCase assertion was called, or where a runtime error or
  ``throw`` was raised; so does the JUnit XML (the testcase's ``file``/``line`` and the end of
  the failure text).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..builder.cache import CACHE_DIR_NAME
from ..durations import DEFAULT_EPOCH, format_duration
from ..inputs import InputError, check_output
from ..terminal import StatusLine, bar
from .config import CONFIG_FILE, LEGACY_CONFIG_FILE, ConfigError, TestConfig, TestSelector, parse_selector
from .session import SessionOptions, SessionResult, run_session

__all__ = ["EXIT_FAILED", "EXIT_OK", "Failure", "RunResult", "run_tests", "write_junit_xml"]

EXIT_OK, EXIT_FAILED = 0, 1

SUMMARY_HEADER = "-------------TEST SUMMARY-------------"
SUMMARY_FOOTER = "--------------------------------------"


@dataclass
class Failure:
    """A line of the summary: the test (``Class::method()``), its file and the message.
    ``location`` is ``file:line`` of the failing assertion call when known."""

    test: str
    file: str
    message: str
    location: str | None = None


@dataclass
class RunResult:
    sessions: list[SessionResult] = field(default_factory=list)
    success: bool = True
    #: Totals as impt's summary counts them (sessions that reached SESSION_RESULT).
    tests: int = 0
    assertions: int = 0
    failures: int = 0
    failed: list[Failure] = field(default_factory=list)
    #: Set when the command could not run at all (bad configuration, no test files).
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.success else EXIT_FAILED


# ---------------------------------------------------------------------------------------------
# Output


_ANSI = {"grey": "90", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class _Printer:
    """impt's TestHelper._log: ``[+t/dts kind] text`` with virtual times. A status line on the
    same terminal is cleared before each line (its next update draws it again)."""

    def __init__(self, out: IO[str], color: bool, status: StatusLine | None = None) -> None:
        self.out = out
        self.color = color
        self.status = status
        self.start_us: int | None = None
        self.last_us = 0

    def _c(self, name: str, text: str) -> str:
        return f"\x1b[{_ANSI[name]}m{text}\x1b[39m" if self.color and text else text

    def line(self, kind: str, text: str, t_us: int) -> None:
        if self.status is not None:
            self.status.clear()
        if kind == "print":
            self.out.write(self._c("cyan", text) if text.startswith("> ") else text)
            self.out.write("\n")
            return
        if self.start_us is None:
            self.start_us = t_us
            times = ""
        else:
            times = f"+{(t_us - self.start_us) / 1e6:.2f}/{(t_us - self.last_us) / 1e6:.2f}s "
        self.last_us = t_us
        prefix_color = {"warning": "yellow", "error": "red"}.get(kind, "grey")
        self.out.write(f"{self._c(prefix_color, f'[{times}{kind}]')} {self._style(kind, text)}\n")
        self.out.flush()

    def _style(self, kind: str, text: str) -> str:
        if not self.color:
            return text
        if kind == "error":
            return self._c("red", text)
        if kind == "warning":
            return self._c("yellow", text)
        if kind == "test":
            if text.startswith("Success"):
                return self._c("green", "Success") + text[len("Success"):]
            if text.startswith(("Failure: ", "Device ", "Agent Runtime Error")) or text.endswith('" failed'):
                return self._c("red", text)
            if text.endswith('" succeeded'):
                return self._c("green", text)
            if text.startswith("Tests: "):
                return self._c("red" if not text.endswith("Failures: 0") else "green", text)
        if kind == "info" and text in ("Testing succeeded",):
            return self._c("green", text)
        if kind == "info" and text in ("Testing failed",):
            return self._c("red", text)
        return text

    def plain(self, text: str) -> None:
        if self.status is not None:
            self.status.clear()
        self.out.write(text + "\n")
        self.out.flush()


# ---------------------------------------------------------------------------------------------
# Running


def run_tests(
    home: str | os.PathLike | TestConfig = ".",
    *,
    tests: str | TestSelector | None = None,
    overrides: Mapping[str, Any] | None = None,
    lib_dirs: Sequence[str | os.PathLike] = (),
    github_dir: str | os.PathLike | None = None,
    allow_commands: bool = False,
    junit_xml: str | os.PathLike | None = None,
    out: IO[str] | None = None,
    color: bool = False,
    debug: bool = False,
    seed: int = 0,
    imp: str = "imp003",
    env: Mapping[str, str] | None = None,
    sim_config: Any = None,
    clear_cache: bool = False,
    status: StatusLine | None = None,
) -> RunResult:
    """Run the tests of a test home (a directory, a configuration file or a loaded
    :class:`TestConfig`) and print impt's output to ``out`` (default stdout).

    ``tests`` is impt's ``--tests [file][:Class][::method]``; ``overrides`` are configuration
    settings given on the command line (:meth:`TestConfig.with_overrides` names, e.g.
    ``{"timeout": 10, "stop_on_fail": True}``). ``sim_config`` is the
    :class:`~impapi.simulation.Config` of every session's simulation (None: the defaults).
    ``clear_cache`` removes the test home's ``.builder-cache`` first (impt's ``--clear-cache``).
    ``status`` (a terminal's :class:`~impapi.terminal.StatusLine`) shows the progress of the run:
    the file, the tests passed and failed so far and the virtual time; it never changes what is
    printed to ``out`` or what runs.
    """
    out = out if out is not None else sys.stdout
    printer = _Printer(out, color, status)
    run = RunResult()
    started = DEFAULT_EPOCH.strftime("%d %b %Y %H:%M:%S UTC")
    printer.line("info", f"Started at {started}", 0)

    def fatal(message: str) -> RunResult:
        printer.plain(f"Error: {message}")
        printer.plain("IMPT COMMAND FAILS")
        run.success = False
        run.error = message
        return run

    try:
        if isinstance(home, TestConfig):
            config = home
        else:
            config = TestConfig.load(home)
        if overrides:
            config = config.with_overrides(**overrides)
        selector = tests if isinstance(tests, TestSelector) else parse_selector(tests)
        files = config.discover(selector)
    except ConfigError as e:
        return fatal(str(e))
    if clear_cache:
        cache = Path(config.home) / CACHE_DIR_NAME
        if cache.is_dir():
            shutil.rmtree(cache, ignore_errors=True)
    if config.source is None:
        printer.line("warning", f"No {CONFIG_FILE} (or {LEGACY_CONFIG_FILE}) in {config.home}; using the defaults", 0)
    for warning in config.warnings:
        printer.line("warning", warning, 0)
    if not files:
        return fatal("No test files found")

    listing = "\n\t".join(f"{f.name} ({f.partner_name})" if f.partner_name else f.name for f in files)
    printer.line("info", f"Found {len(files)} test file(s):\n\t{listing}", 0)
    try:
        agent_src = config.agent_source()
        device_src = config.device_source()
    except ConfigError as e:
        return fatal(str(e))
    printer.line("info", f"Using agent source file: {config.agent_file}" if agent_src
                 else "Have no agent source file, using blank", 0)
    printer.line("info", f"Using device source file: {config.device_file}" if device_src
                 else "Have no device source file, using blank", 0)

    options = SessionOptions(selector=selector, lib_dirs=tuple(lib_dirs), github_dir=github_dir, env=env,
                             allow_commands=allow_commands, imp=imp, seed=seed, debug=debug, config=sim_config)
    offset = 0
    counts = {"passed": 0, "failed": 0}
    for index, test_file in enumerate(files):
        rng = random.Random(f"{seed}:{index}:{test_file.name}")
        progress = None
        if status is not None and status.enabled:
            def progress(t_us: int, _offset: int = offset, _index: int = index, _name: str = test_file.name) -> None:
                status.show(f"impsim test: {bar(_index / len(files))} file {_index + 1}/{len(files)} {_name}: "
                            f"{counts['passed']} passed, {counts['failed']} failed, "
                            f"{format_duration((_offset + t_us) // 1_000_000 * 1_000_000)} simulated")

        def emit(kind: str, text: str, t_us: int, _offset: int = offset, _progress: Any = progress) -> None:
            printer.line(kind, text, _offset + t_us)
            if kind == "test" and text.startswith(("Success", "Failure: ")):
                counts["passed" if text.startswith("Success") else "failed"] += 1
            if _progress is not None:
                _progress(t_us)

        result = run_session(test_file, config, options, on_output=emit, rng=rng, on_progress=progress)
        run.sessions.append(result)
        offset += result.duration_us
        if result.skipped:
            continue
        for outcome in result.outcomes:
            if not outcome.passed:
                run.failed.append(Failure(outcome.name, test_file.name, outcome.text, outcome.location))
        if result.code is not None and result.finished:
            # impt adds a session's counters when it is done; they are 0 unless SESSION_RESULT
            # was read before the session stopped.
            run.tests += result.tests or 0
            run.assertions += result.assertions or 0
            run.failures += result.failures or 0
        session_failed = bool(result.errors or result.failed_tests or result.failures)
        if session_failed:
            run.success = False
        if config.stop_on_fail and (result.errors or result.failed_tests):
            break

    if not selector.is_empty and run.success and run.tests == 0 and \
            all(o.method in ("setUp", "tearDown") for s in run.sessions for o in s.outcomes):
        # impt reports success here; a selector that matches nothing is more likely a typo than a pass.
        message = _nothing_selected(selector, files)
        printer.line("error", message, offset)
        run.success = False
        run.error = message

    printer.plain("")
    printer.line("info", SUMMARY_HEADER, offset)
    printer.plain("")
    for number, failure in enumerate(run.failed, 1):
        printer.line("info", f"{number}) {failure.test}", offset)
        # impt prints the test file; impsim adds the line of the failing assertion when known.
        printer.line("info", f"at {failure.location or failure.file}", offset)
        printer.line("info", f"Error: {failure.message}", offset)
        printer.plain("")
    printer.line("info", f"Tests: {run.tests}, Assertions: {run.assertions}, Failures: {run.failures}", offset)
    printer.line("info", SUMMARY_FOOTER, offset)
    printer.plain("")
    printer.line("info", "Testing succeeded" if run.success else "Testing failed", offset)
    printer.plain("IMPT COMMAND SUCCEEDS" if run.success else "IMPT COMMAND FAILS")

    if junit_xml is not None:
        write_junit_xml(run, junit_xml)
    return run


def _nothing_selected(selector: TestSelector, files: Sequence[Any]) -> str:
    text = selector.file_pattern + (f":{selector.test_class}" if selector.test_class else "") + \
        (f"::{selector.test_method}" if selector.test_method else "")
    what = " ".join(filter(None, [f"class {selector.test_class}" if selector.test_class else "",
                                  f"method {selector.test_method}" if selector.test_method else ""]))
    names = ", ".join(f.name for f in files)
    return (f"--tests {text} selected no test: no {what or 'test'} in {names}. Class and method names are "
            "exact (case matters); the file part is a regular expression searched in the file's path")


# ---------------------------------------------------------------------------------------------
# JUnit XML


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str | None) -> str | None:
    """``text`` with the characters XML 1.0 cannot carry written as ``\\xNN`` escapes."""
    if text is None:
        return None
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def write_junit_xml(run: RunResult, path: str | os.PathLike) -> None:
    """One ``<testsuite>`` per test file, one ``<testcase>`` per test method (and per ``setUp`` or
    ``tearDown`` that failed); times are virtual seconds. A failing assertion's location gives the
    testcase's ``file`` and ``line`` and ends the failure text (``at tests/foo.test.nut:42``). Session errors become an ``<error>`` in a
    testcase named ``<session>``; a skipped file is a suite with one skipped testcase."""
    root = ET.Element("testsuites", name="impsim test")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for session in run.sessions:
        suite = ET.SubElement(root, "testsuite", name=session.test_file.name)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        classname_default = session.test_file.name
        for o in session.outcomes:
            if o.passed and o.method in ("setUp", "tearDown"):
                continue  # not tests: they count only when they fail
            case = ET.SubElement(suite, "testcase", classname=o.class_name or classname_default,
                                 name=o.method or o.name, time=f"{o.duration_s:.3f}",
                                 file=str(session.test_file.name))
            counts["tests"] += 1
            if o.location:
                file, _, line = o.location.rpartition(":")
                case.set("file", file)
                case.set("line", line)
            if not o.passed:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=o.text)
                failure.text = o.text
                if o.location:
                    stack = "".join(f"\n  {f} {file}:{line}" for f, file, line in o.stack)
                    failure.text = f"{o.text}\nat {o.location}" + (f"\nSquirrel stack:{stack}" if stack else "")
        if session.skipped:
            case = ET.SubElement(suite, "testcase", classname=classname_default, name="<session>", time="0")
            ET.SubElement(case, "skipped", message="no selected class or method in this file")
            counts["tests"] += 1
            counts["skipped"] += 1
        elif session.errors:
            case = ET.SubElement(suite, "testcase", classname=classname_default, name="<session>",
                                 time=f"{session.duration_us / 1e6:.3f}")
            text = "\n".join(e.message for e in session.errors)
            err = ET.SubElement(case, "error", message=session.errors[0].message)
            err.text = text
            counts["tests"] += 1
            counts["errors"] += 1
        if session.warnings:
            out = ET.SubElement(suite, "system-err")
            out.text = "\n".join(w.message for w in session.warnings)
        seconds = session.duration_us / 1e6
        total_time += seconds
        for k, v in counts.items():
            suite.set(k, str(v))
            total[k] += v
        suite.set("time", f"{seconds:.3f}")
        suite.set("id", session.session_id)
    for k, v in total.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    for element in root.iter():  # test output may hold any byte; XML 1.0 allows fewer
        element.text = _xml_text(element.text)
        for key, value in element.attrib.items():
            element.set(key, _xml_text(value))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    target = check_output(path, "JUnit XML report", parents=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # as pytest's --junitxml does
        tree.write(target, encoding="utf-8", xml_declaration=True)
    except OSError as e:  # a directory that takes no new files (/proc), a full disk...
        raise InputError(f"{path}: cannot write the JUnit XML report: {e.strerror or e}") from None
