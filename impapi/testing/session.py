"""One impUnit test session: the code impt would deploy for one test file, run on a fresh
simulated device and agent in virtual time, and what came of it.

:func:`build_session_code` lays the code out as ``impt test run`` does (impunit.md §1.5):

* the test side (the agent for a file whose name has ``agent`` as a word, else the device) gets
  the impUnit module (``nut/index.nut``: our own ImpUnit.nut, with ``#require`` of Promise 4.0.0
  and JSONEncoder 2.0.0), the configured source file of that side (or a comment), the test file
  wrapped in ``function __module_tests(ImpTestCase) { ... }``, and ``__module_tests_bootstrap``,
  which starts an ``ImpUnitRunner`` (``readableOutput = false``, the session id, the timeout,
  ``stopOnFailure``, ``testClass``, ``testCase``) from ``imp.wakeup(2, ...)``; device code ends
  with a 32-character string literal (impt's "force code update");
* the other side gets its configured source file (or a comment) and the partner file, if any.

Both are loaded as every app is (:func:`~impapi.builder.build_app`, docs/loading-code.md):
Builder (line control on, Builder variables from the configuration and the environment, the
test home's ``.builder-cache`` with ``builderCache``), then ``#require`` resolved from the library
directories, falling back to impsim's own Promise and JSONEncoder.

:func:`run_session` runs that code in a fresh :class:`~impapi.simulation.Simulation` and follows
the log the way impt's log parser does (impunit.md §1.7): impUnit messages of the session are read
from ``server.log`` (device tests) or ``agent.log`` (agent tests); other sessions' messages are
ignored; ``server.error``/``agent.error`` lines are reported as runtime errors that do not fail the
session; a disconnect fails it unless ``allowDisconnect``; running out of memory, another exit
code, a failing or forbidden external command, a message out of order and the two watchdogs
(60 s from deployment to ``SESSION_START``, then timeout + 5 s between impUnit messages) end it
with an error. Watchdogs run in virtual time: a test that waits 5 s costs no wall time.

What the user sees is emitted line by line through ``on_output(kind, text, time_us)`` with the
texts impt prints (kinds ``info``, ``test``, ``warning``, ``error``, ``debug`` and ``print`` for
unprefixed lines); :mod:`impapi.testing.runner` adds the prefixes. The structured outcome is a
:class:`SessionResult`.

Over 1,000 lines on purpose: the code a session deploys and the log follower that reads it back
speak one protocol (the session id, impUnit's message formats, the two watchdogs, error
locations); kept in one module, a change to one side is made next to the other.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import STILL_EVENTS
from . import _stack
from .board_hook import BoardHook, TestSideHook
from ..builder import BUILTIN_LIBRARIES, LIBRARIES_DIR, BuildError, LoadOptions, build_app, js_number
from ..builder.cache import CACHE_DIR_NAME
from .config import TestConfig, TestFile, TestSelector

__all__ = [
    "NUT_DIR",
    "BUILTIN_LIBRARIES",
    "ListedCase",
    "ListingError",
    "TestListing",
    "SessionCode",
    "SessionIssue",
    "SessionOptions",
    "SessionResult",
    "TestOutcome",
    "build_session_code",
    "framework_code",
    "js_string",
    "js_stringify",
    "list_tests",
    "run_session",
    "session_name",
]

NUT_DIR = Path(__file__).resolve().parent / "nut"
IMPUNIT_INDEX = NUT_DIR / "index.nut"

STARTUP_DELAY_S = 2  # impt's bootstrap imp.wakeup(2, ...)
STARTUP_TIMEOUT_US = 60_000_000  # impt: deploy -> SESSION_START
EXTRA_MESSAGE_TIMEOUT_US = 5_000_000  # impt: config timeout + 5 s between impUnit messages
STILL_TIME_RESTARTS = 5  # restarts of the device and agent at one virtual instant that end a session
DEVICE_GROUP_NAME = "impsim"
DEVICE_NAME = "impsim"

Output = Callable[[str, str, int], None]


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class TestOutcome:
    """One step the runner reported: a ``test*`` method, or a ``setUp``/``tearDown``."""

    __test__ = False

    name: str  #: ``Class::method()`` as impUnit reports it
    class_name: str
    method: str
    passed: bool
    #: The TEST_OK value (what the method returned or its promise resolved with) or the
    #: TEST_FAIL value (what it threw or rejected with, or a timeout text), decoded from JSON.
    value: Any
    #: What impt prints after ``Success: `` / ``Failure: `` (empty for a plain success).
    text: str
    start_us: int
    end_us: int
    #: Where a failing ImpTestCase assertion was called: ``tests/foo.test.nut:42`` (the file as
    #: the ``#line`` directives name it, relative to the test home), when known.
    location: str | None = None
    #: The Squirrel stack at that assertion, innermost first, as (function, file, line), without
    #: the impUnit framework's own frames.
    stack: list[tuple[str, str, int]] = field(default_factory=list)
    #: Indices into the session's log: the TEST_START entry and the TEST_OK/TEST_FAIL entry (the
    #: log lines of this step are those between).
    log_start: int = 0
    log_end: int = 0

    @property
    def is_test(self) -> bool:
        return self.method.startswith("test")

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def duration_s(self) -> float:
        """Virtual seconds from TEST_START to TEST_OK/TEST_FAIL."""
        return (self.end_us - self.start_us) / 1e6


@dataclass
class SessionIssue:
    """Something outside the test methods: ``fatal`` ones fail the session."""

    kind: str
    message: str
    time_us: int
    fatal: bool


@dataclass
class SessionCode:
    """The built code of one session (after Builder and ``#require``)."""

    device: str | None  #: None: no device (an agent-only session without device code)
    agent: str
    test_side: str
    agent_only: bool


@dataclass
class SessionResult:
    test_file: TestFile
    session_id: str
    #: Steps in the order they finished.
    outcomes: list[TestOutcome] = field(default_factory=list)
    #: The SESSION_RESULT counters, or None when it never arrived (or came after a stop).
    tests: int | None = None
    assertions: int | None = None
    failures: int | None = None
    #: Problems that failed the session (timeouts, disconnect, out of memory, ...).
    errors: list[SessionIssue] = field(default_factory=list)
    #: Reported, not failing: runtime errors and ``server.error`` lines, early warnings.
    warnings: list[SessionIssue] = field(default_factory=list)
    #: True when ``--tests`` named a class or method absent from this file (impt's "Skip").
    skipped: bool = False
    #: The session stopped at a failing test because of stopOnFail.
    stopped_on_failure: bool = False
    started: bool = False
    finished: bool = False
    code: SessionCode | None = None
    log: Any = None  #: the simulation's :class:`~impapi.log.Log`
    duration_us: int = 0  #: virtual time the session took

    @property
    def failed_tests(self) -> list[TestOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def passed(self) -> bool:
        """impt's view: no error and no failure (a skipped session passes)."""
        if self.skipped:
            return True
        return not self.errors and not self.failed_tests and bool(self.finished) and not self.failures


@dataclass
class SessionOptions:
    """How to run sessions; the defaults are what ``impsim test`` uses."""

    selector: TestSelector = field(default_factory=TestSelector)
    lib_dirs: Sequence[str | os.PathLike] = ()
    github_dir: str | os.PathLike | None = None
    env: Mapping[str, str] | None = None  #: Builder's environment (default os.environ)
    allow_commands: bool = False  #: run ``runCommand()`` host commands
    imp: str = "imp003"
    seed: int = 0
    debug: bool = False  #: emit every log line, write preprocessed code under .build/
    #: Record where steps failed (TestOutcome.location), through natives the session adds to
    #: the test side's ``imp`` table (``imp.__impsim_where``, ``imp.__impsim_caught``).
    locations: bool = True
    #: The simulation's :class:`~impapi.simulation.Config` (None: the defaults), e.g. for
    #: ``device_start_delay_us``, the time the device takes to download the session's code.
    config: Any = None


# ---------------------------------------------------------------------------------------------
# Session names and code


_WORDS = (
    "amber anchor apple arrow aspen autumn badger basil beacon birch bison breeze brook cactus "
    "canyon cedar cherry cloud clover comet copper coral cotton crane crystal daisy delta desert "
    "dolphin dune eagle ember falcon fern field finch flint forest fox garden glacier granite "
    "harbor hazel heron hollow island ivory jade jasmine juniper kettle lagoon lantern lark "
    "lemon lily linen lotus maple marble meadow mesa mint moss nectar oak ocean olive orchid "
    "otter owl palm pebble pepper pine plum pond poppy quartz rain raven reed ridge river robin "
    "saffron sage sand shell sierra silver slate sparrow spruce stone storm summit swan thistle "
    "thunder tide timber topaz tulip valley velvet violet walnut willow wind wren yarrow zephyr"
).split()


def session_name(rng: random.Random) -> str:
    """Two words joined by ``-``, like impt's session ids."""
    return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}"


def _posix(p: Path) -> str:
    return p.resolve().as_posix()


def _quote(p: str) -> str:
    return p.replace('"', '\\"')


def _session_texts(test_file: TestFile, config: TestConfig, session_id: str, test_class: str,
                   test_method: str, trigger: str) -> tuple[str, str]:
    """(test side text, other side text) before Builder, laid out as impt writes them."""
    agent_src = config.agent_source()
    device_src = config.device_source()
    agent_part = f'@include "{_quote(_posix(agent_src))}"' if agent_src else "/* no agent source */"
    device_part = f'@include "{_quote(_posix(device_src))}"' if device_src else "/* no device source */"
    bootstrap = (
        "// bootstrap tests\n"
        f"imp.wakeup({STARTUP_DELAY_S}, function() {{\n"
        "  local t = ImpUnitRunner();\n"
        "  t.readableOutput = false;\n"
        f'  t.session = "{session_id}";\n'
        f"  t.timeout = {_squirrel_float(config.timeout)};\n"
        f"  t.stopOnFailure = {'true' if config.stop_on_fail else 'false'};\n"
        f"  t.testClass = {_squirrel_string(test_class)};\n"
        f"  t.testCase = {_squirrel_string(test_method)};\n"
        "  // poehali!\n"
        "  t.run();\n"
        "});"
    )
    own_part = agent_part if test_file.side == "agent" else device_part
    test_text = (
        f'@include "{_quote(_posix(IMPUNIT_INDEX))}"\n\n'
        f"{own_part}\n\n"
        "// tests module\n"
        "function __module_tests(ImpTestCase) {\n"
        f'@include "{_quote(_posix(test_file.path))}"\n'
        "}\n\n"
        "// tests bootstrap module\n"
        "function __module_tests_bootstrap(ImpUnitRunner) {\n"
        '#line 1 "__tests_bootstrap__"\n'
        f"{bootstrap}\n"
        "}\n\n"
        "// resolve modules\n"
        "__module_tests(__module_impUnit_exports.ImpTestCase);\n"
        "__module_tests_bootstrap(__module_impUnit_exports.ImpUnitRunner);\n"
    )
    partner = f'@include "{_quote(_posix(test_file.partner))}"' if test_file.partner else ""
    other_text = f"{device_part if test_file.side == 'agent' else agent_part}\n\n{partner}\n"
    if test_file.side == "device":
        test_text += f'\n// force code update\n"{trigger}"\n'
    else:
        other_text += f'\n// force code update\n"{trigger}"\n'
    return test_text, other_text


def _squirrel_string(text: str) -> str:
    """A Squirrel string literal of ``text``: a ``--tests`` name is not checked (impt does not
    check it either), so it may hold quotes or backslashes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _squirrel_float(value: float) -> str:
    """A float literal Squirrel reads back as the same float (``3`` -> ``3.0``)."""
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def build_session_code(test_file: TestFile, config: TestConfig, *, session_id: str,
                       selector: TestSelector | None = None, trigger: str = "0" * 32,
                       lib_dirs: Sequence[str | os.PathLike] = (), github_dir: str | os.PathLike | None = None,
                       env: Mapping[str, str] | None = None) -> tuple[SessionCode | None, str, str]:
    """Build the device and agent code of a session.

    Returns ``(code, test_side_built, other_side_built)`` where the built texts are Builder's
    output (before ``#require``); ``code`` is None when ``selector`` names a class or method the
    test side's built code lacks (impt's pre-deploy check). Raises :class:`BuildError`.
    """
    selector = selector or TestSelector()
    test_text, other_text = _session_texts(test_file, config, session_id, selector.test_class,
                                           selector.test_method, trigger)
    # builderCache: impt lets Builder keep remote includes in the test home's .builder-cache.
    cache_dir = Path(config.home) / CACHE_DIR_NAME if config.builder_cache else None
    options = LoadOptions(lib_dirs=tuple(lib_dirs), github_dir=github_dir, variables=config.builder_variables(),
                          home=config.home, env=env, cache_dir=cache_dir)
    where = Path(config.home) / "__session__"  # the texts are built as a file in the test home
    test = build_app(test_text, where, options, name="__session__")
    other = build_app(other_text, where, options, name="__session__")
    test_built, other_built = test.built, other.built
    # impt checks Builder's output for the selection before deploying, i.e. before #require.
    if not selector.code_has_selection(test_built):
        return None, test_built, other_built
    test_code, other_code = test.source, other.source
    agent_only = test_file.side == "agent" and config.device_source() is None
    if test_file.side == "agent":
        has_device = config.device_source() is not None or test_file.partner is not None
        code = SessionCode(device=other_code if has_device else None, agent=test_code, test_side="agent",
                           agent_only=agent_only)
    else:
        code = SessionCode(device=test_code, agent=other_code, test_side="device", agent_only=False)
    return code, test_built, other_built


def framework_code(lib_dirs: Sequence[str | os.PathLike] = (), env: Mapping[str, str] | None = None) -> str:
    """The impUnit module alone (ImpUnit.nut, with Promise and JSONEncoder resolved), for running
    ``ImpUnitRunner`` by hand: ``ImpUnitRunner().run()`` then logs readable
    ``[impUnit:<TYPE>] <message>`` lines (impunit.md §1.11)."""
    options = LoadOptions(lib_dirs=tuple(lib_dirs), home=NUT_DIR, env=env)
    return build_app(IMPUNIT_INDEX.read_text(encoding="utf-8"), IMPUNIT_INDEX, options, name="index.nut").source


# ---------------------------------------------------------------------------------------------
# JavaScript renderings (what impt, a node program, prints)


def _js_number(x: float | int) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return js_number(x)


def js_string(value: Any) -> str:
    """JavaScript ``String(value)`` of a decoded JSON value (how impt shows a failure)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return _js_number(value)
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return "[object Object]"


def js_stringify(value: Any) -> str:
    """JavaScript ``JSON.stringify(value)`` of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return "null"
        return _js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{js_stringify(v)}"
                              for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Running


_CODE_SPACE = re.compile(r"(Out of space)?.*?([\d.]+)% program storage used")
_BINARY = "binary: "


class _Session:
    """impt's TestSession + TestHelper for one file, fed by the simulation's log sink."""

    def __init__(self, test_file: TestFile, config: TestConfig, options: SessionOptions,
                 result: SessionResult, emit: Output) -> None:
        self.test_file = test_file
        self.config = config
        self.options = options
        self.sim: Any = None  # the session's Simulation, once made
        self.result = result
        self.emit = emit
        self.id = result.session_id
        self.api_type = "server" if test_file.side == "device" else "agent"
        self.state = "initialized"
        self.stopped = False
        self.error = False  # the session failed (impt's session.error)
        self.code_space: float | None = None
        self.current: tuple[str, int, int] | None = None  # (TEST_START message, time, log index)
        self.entries = 0  # log entries seen (the index of the next one)
        #: Failing assertions of the current step: (message, location, stack).
        self.sites: list[tuple[Any, str | None, list[tuple[str, str, int]]]] = []
        #: Where the current step's error was raised, when it threw synchronously.
        self.thrown: tuple[str, list[tuple[str, str, int]]] | None = None
        self.message_deadline: int | None = None
        self.start_deadline: int | None = STARTUP_TIMEOUT_US
        self.message_timeout_us = int(round(config.timeout * 1e6)) + EXTRA_MESSAGE_TIMEOUT_US
        self.now = 0

    # -- impt's _onError, by error class --------------------------------------------------

    def fail(self, kind: str, message: str, *, line_kind: str = "error", stop: bool = True) -> None:
        """A session error: printed, fails the session, usually stops it."""
        self.emit(line_kind, message, self.now)
        self.result.errors.append(SessionIssue(kind, message, self.now, True))
        self.error = True
        if stop:
            self.stop()

    def warn(self, kind: str, message: str) -> None:
        self.emit("warning", message, self.now)
        self.result.warnings.append(SessionIssue(kind, message, self.now, False))

    def runtime_error(self, kind: str, message: str) -> None:
        """Device/Agent Runtime Error: a red [test] line once started, a warning before; never fails."""
        if self.state == "started":
            self.emit("test", message, self.now)
            self.result.warnings.append(SessionIssue(kind, message, self.now, False))
        else:
            self.warn(kind, message)

    def device_error(self, kind: str, message: str) -> None:
        """impt's DeviceError: fails and stops the session once started, a warning before."""
        if self.state == "started":
            self.fail(kind, message, line_kind="test")
        else:
            self.warn(kind, message)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.sim is not None:  # the session's end is the run's: code blocked now ends with it
            self.sim.clock.end_us = self.sim.clock.now_us
        self.result.finished = True
        self.message_deadline = self.start_deadline = None
        name = self.id
        self.emit("test", f'Session "{name}" {"failed" if self.error else "succeeded"}', self.now)

    # -- the log ------------------------------------------------------------------------------

    def on_log(self, entry: Any) -> None:
        self.entries += 1
        # A watchdog that expired before this entry (time moved on inside an event, e.g. during
        # imp.sleep) fires first, as it would have in real time.
        self.check_watchdogs(entry.time_us)
        if self.stopped:
            return
        self.now = entry.time_us
        if self.options.debug:
            self.emit("debug", f"Log line received: {entry.type}: {entry.text}", entry.time_us)
        t = entry.type
        text = entry.text
        if t == "status":
            if "Agent restarted" in text:
                if self.state == "initialized":
                    self.state = "ready"
            else:
                m = _CODE_SPACE.search(text)
                if m:
                    value = float(m.group(2))
                    if value != self.code_space:
                        self.emit("info", f"Device code space usage: {value:.1f}%", self.now)
                        self.code_space = value
                    if m.group(1):
                        self.device_error("out-of-code-space", "Device is out of code space")
                elif "Device disconnected" in text:
                    self.disconnected()
        elif t == "lastexitcode":
            if "out of memory" in text:
                self.device_error("out-of-memory", "Device is out of memory")
            else:
                self.device_error("device-error", f"Device Error: {text}")
        elif t in ("server.log", "agent.log"):
            if t.split(".")[0] == self.api_type and "__IMPUNIT__" in text:
                self.impunit(text)
        elif t == "agent.error":
            self.runtime_error("agent-runtime-error", f"Agent Runtime Error: {text}")
        elif t == "server.error":
            self.runtime_error("device-runtime-error", f"Device Runtime Error: {text}")
        elif t == "powerstate":
            self.emit("info", f"Powerstate: {text}", self.now)
        elif t == "firmware":
            self.emit("info", f"Firmware: {text}", self.now)

    def disconnected(self) -> None:
        if self.config.allow_disconnect:
            self.emit("info", "Disconnected. Allowed by config.", self.now)
        elif self.state == "started":
            self.fail("disconnect", "Device disconnected", line_kind="test")
        else:
            self.warn("disconnect", "Device disconnected")

    def impunit(self, text: str) -> None:
        if text.startswith(_BINARY):
            try:
                text = bytes.fromhex(text[len(_BINARY):]).decode("utf-8", "replace")
            except ValueError:
                pass
        try:
            msg = json.loads(text)
        except ValueError as e:
            self.fail("protocol", f"An impUnit message is not valid JSON ({e}): {text[:200]}")
            return
        if not isinstance(msg, dict) or msg.get("session") != self.id:
            return  # another session's message
        # Any message of the session restarts the message watchdog.
        self.message_deadline = self.now + self.message_timeout_us
        kind = msg.get("type")
        value = msg.get("message")
        if kind == "SESSION_START":
            self.start_deadline = None
            if self.state != "ready":
                self.fail("state", "Invalid test session state")
                return
            self.state = "started"
            self.result.started = True
        elif kind == "TEST_START":
            if self.state != "started":
                self.fail("state", "Invalid test session state")
                return
            shown = value if isinstance(value, str) else js_string(value)
            self.current = (shown, self.now, self.entries - 1)
            self.sites = []
            self.thrown = None
            self.emit("test", shown, self.now)
        elif kind == "TEST_FAIL":
            if self.state != "started":
                self.fail("state", "Invalid test session state")
                return
            text_ = js_string(value)
            self.outcome(False, value, text_)
            self.emit("test", f"Failure: {text_}", self.now)
            self.error = True
            if self.config.stop_on_fail:
                self.result.stopped_on_failure = True
                self.stop()
        elif kind == "SESSION_RESULT":
            self.message_deadline = None
            if self.state != "started":
                self.fail("state", "Invalid test session state")
                return
            counts = value if isinstance(value, dict) else {}
            self.result.tests = _int(counts.get("tests"))
            self.result.assertions = _int(counts.get("assertions"))
            self.result.failures = _int(counts.get("failures"))
            self.state = "finished"
            self.emit("test", f"Tests: {self.result.tests}, Assertions: {self.result.assertions}, "
                              f"Failures: {self.result.failures}", self.now)
            if self.result.failures:
                self.error = True
            self.stop()
        elif kind == "TEST_OK":
            shown = value if isinstance(value, str) else js_stringify(value)
            self.outcome(True, value, "" if value is None else shown)
            self.emit("test", "Success" if value is None else f"Success: {shown}", self.now)
        elif kind == "EXTERNAL_COMMAND":
            command = value.get("command") if isinstance(value, dict) else None
            self.external_command("" if command is None else js_string(command))
        elif kind == "INFO":
            inner = value.get("message") if isinstance(value, dict) else None
            self.emit("test", js_stringify(inner), self.now)

    def outcome(self, passed: bool, value: Any, text: str) -> None:
        name, start, first = self.current if self.current is not None else ("", self.now, self.entries - 1)
        m = re.fullmatch(r"(.*)::(.*)\(\)", name)
        cls, method = (m.group(1), m.group(2)) if m else ("", name)
        outcome = TestOutcome(name, cls, method, passed, value, text, start, self.now,
                              log_start=max(first, 0), log_end=self.entries - 1)
        if not passed:
            # Where a synchronous step's error was raised; else (an asynchronous step) the
            # failing assertion whose message was the rejection.
            site = self.thrown or self.site_of(value)
            if site is not None:
                outcome.location, outcome.stack = site[-2], site[-1]
        self.result.outcomes.append(outcome)

    def step_threw(self, location: str | None, stack: list[tuple[str, str, int]]) -> None:
        """The running step threw (from ``imp.__impsim_caught``, in the runner's catch block);
        ``location`` is where the error was raised."""
        if not self.stopped and location is not None:
            self.thrown = (location, stack)

    def assertion_failed(self, message: Any, location: str | None, stack: list[tuple[str, str, int]]) -> None:
        """An ImpTestCase assertion is about to throw ``message`` (from ``imp.__impsim_where``), or
        an error rejects a promise (``imp.__impsim_raised``)."""
        if not self.stopped:
            self.sites.append((message, location, stack))

    def site_of(self, value: Any) -> tuple[Any, str | None, list[tuple[str, str, int]]] | None:
        """The failing assertion that threw the TEST_FAIL value: the last one of the step with
        that message (a failure caught by the test, e.g. in assertThrowsError, is not it)."""
        scalar = (str, int, float, bool, type(None))
        for site in reversed(self.sites):
            message = site[0]
            if isinstance(message, scalar) and isinstance(value, scalar):
                if _same_scalar(message, value):
                    return site
            elif not isinstance(message, scalar) and not isinstance(value, scalar):
                return site
        return None

    def external_command(self, command: str) -> None:
        self.emit("info", f"Running external command: {command}", self.now)
        if not self.options.allow_commands:
            self.fail("external-command",
                      f'External command not run: "{command}". impsim runs the host commands of '
                      "runCommand() only when allowed (impsim test --allow-commands)")
            return
        try:
            res = subprocess.run(command, shell=True, cwd=self.config.home, capture_output=True,
                                 timeout=self.config.timeout, text=True, errors="replace")
        except subprocess.TimeoutExpired:
            self.fail("external-command", "External command timed out")
            return
        if self.options.debug:
            self.emit("debug", f"External command STDOUT: {res.stdout}", self.now)
            self.emit("debug", f"External command STDERR: {res.stderr}", self.now)
            self.emit("debug", f"External command exit code: {res.returncode}", self.now)
        out = "\n".join("> " + line for line in re.split(r"\n|\r\n", res.stdout.strip()))
        self.emit("print", out, self.now)
        if res.returncode != 0:
            self.fail("external-command", f"External command failed with exit code {res.returncode}")

    # -- watchdogs ----------------------------------------------------------------------------

    def startup_hint(self) -> str:
        """Why the tests never started, when the simulation shows it: the device went to deep
        sleep (impsim's addition to impt's message)."""
        sim = self.sim
        if sim is None:
            return ""
        slept = [e for e in sim.events if e.kind == "state" and e.data.get("state") == "asleep"]
        if not slept or self.test_file.side == "agent":
            return ""
        return (f": the device went to deep sleep at +{slept[0].time_us / 1e6:.2f}s (imp.deepsleepfor, "
                "server.sleepfor...) before the tests could start. Code under test must not sleep while "
                "it loads: start the app from a function the tests do not call, or guard the sleep, e.g. "
                "if (!(\"ImpTestCase\" in getroottable())) imp.deepsleepfor(60);")

    def next_deadline(self) -> int | None:
        ds = [d for d in (self.start_deadline, self.message_deadline) if d is not None]
        return min(ds) if ds else None

    def check_watchdogs(self, now: int) -> None:
        if self.stopped:
            return
        if self.start_deadline is not None and now >= self.start_deadline:
            self.now = self.start_deadline
            self.fail("startup-timeout", "Session startup timeout" + self.startup_hint())
        elif self.message_deadline is not None and now >= self.message_deadline:
            self.now = self.message_deadline
            self.fail("testing-timeout", "Testing timeout")


def _same_scalar(a: Any, b: Any) -> bool:
    """Squirrel's thrown value and its JSON-decoded TEST_FAIL form are the same (a float that
    JSONEncoder wrote as ``1`` comes back as an int)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return a == b


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _ids(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def run_session(test_file: TestFile, config: TestConfig, options: SessionOptions | None = None, *,
                on_output: Output | None = None, session_id: str | None = None,
                rng: random.Random | None = None,
                on_progress: Callable[[int], None] | None = None) -> SessionResult:
    """Build and run the session of ``test_file``; report through ``on_output`` as it goes, and
    the virtual time reached through ``on_progress`` after each event (for a progress display)."""
    from ..simulation import Simulation, spin_message

    options = options or SessionOptions()
    rng = rng or random.Random(f"{options.seed}:{test_file.name}")
    session_id = session_id or session_name(rng)
    trigger = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
    result = SessionResult(test_file=test_file, session_id=session_id)
    emit: Output = on_output or (lambda kind, text, t: None)

    def use_file_line() -> None:
        emit("info", f'Using {test_file.side} test file "{test_file.name}"', 0)

    # impt: _getSessionCode (prints the file line), then deploys.
    use_file_line()
    try:
        code, test_built, other_built = build_session_code(
            test_file, config, session_id=session_id, selector=options.selector, trigger=trigger,
            lib_dirs=options.lib_dirs, github_dir=options.github_dir, env=options.env)
    except (BuildError, OSError, ValueError) as e:
        message = str(e)
        emit("error", message, 0)
        result.errors.append(SessionIssue("build", message, 0, True))
        result.finished = True
        return result
    if code is None:
        emit("info", f'Skip "{test_file.name}" testing', 0)
        result.skipped = True
        return result
    result.code = code
    if options.debug:
        _write_preprocessed(config.home, test_file, code)

    # impt asks impCentral for a deployment; code that does not compile is refused there.
    emit("info", f'Using Device Group "{DEVICE_GROUP_NAME}" [{_ids(rng)}]', 0)
    problem = _compile_problem(code)
    if problem is not None:
        result.errors.append(SessionIssue("compile", problem.report(emit), 0, True))
        result.finished = True
        return result
    emit("info", f"Created Deployment: {_ids(rng)}", 0)
    emit("print", "", 0)
    emit("test", f'Starting test session "{session_id}"', 0)
    if code.agent_only:
        emit("info", "Test session is agent-only", 0)

    session = _Session(test_file, config, options, result, emit)
    try:
        wiring = config.wiring_file()
        sim = session.sim = Simulation(device=code.device, agent=code.agent, imp=options.imp,
                                       seed=options.seed, config=options.config, log_sink=session.on_log,
                                       start=False, wiring=wiring)
    except ValueError as e:  # a wiring file that cannot be read or does not fit the module
        emit("error", str(e), 0)
        result.errors.append(SessionIssue("wiring", str(e), 0, True))
        result.finished = True
        return result
    where = _Where(session, test_file, config, code) if options.locations and _stack.available() else None
    board = BoardHook(test_file.side)
    result.log = sim.log
    device_id = sim.device.id if sim.device is not None else (sim.agent.id if sim.agent else "")
    emit("info", f"Using Device {DEVICE_NAME} [{device_id}] (1/1)", 0)
    use_file_line()  # impt builds the code a second time per device, printing this again

    clock = sim.clock
    _deploy(sim)
    instant_us, instant_steps, instant_boots = clock.now_us, 0, _boots(sim)
    spins: list[str] = []  # a VM whose callbacks only queue the next one (Squirrel taking time)
    clock.on_spin = lambda side, callbacks, span_us: spins.append(spin_message(side, callbacks, span_us))
    while not session.stopped:
        if where is not None:
            where.install(sim)
        board.install(sim)
        if spins:
            session.now = clock.now_us
            session.fail("still-time", spins[0][0].upper() + spins[0][1:])
            break
        if sim.fatal_error:
            session.now = clock.now_us
            session.fail("compile", sim.fatal_error)
            break
        deadline = session.next_deadline()
        nxt = clock.peek()
        if deadline is not None and (nxt is None or nxt > deadline):
            clock.run_until(deadline)
            session.check_watchdogs(clock.now_us)
            continue
        if nxt is None:  # nothing scheduled and no watchdog running: cannot go on
            session.now = clock.now_us
            session.fail("testing-timeout", "Testing timeout")
            break
        clock.step()
        session.check_watchdogs(clock.now_us)
        if on_progress is not None:
            on_progress(clock.now_us)
        # Events that keep virtual time still (an imp.wakeup(0, ...) loop, a device or agent
        # that restarts at once because it runs out of memory while loading) would never let a
        # watchdog fire; on an imp, real time would pass.
        if clock.now_us != instant_us:
            instant_us, instant_steps, instant_boots = clock.now_us, 0, _boots(sim)
        else:
            instant_steps += 1
            restarts = _boots(sim) - instant_boots
            if (instant_steps >= STILL_EVENTS or restarts >= STILL_TIME_RESTARTS) and not session.stopped:
                session.now = clock.now_us
                session.fail("still-time", f"Virtual time stands still: {instant_steps} events and {restarts} "
                                           f"restarts at {clock.now_us / 1e6:.2f} s without time passing (an "
                                           "imp.wakeup(0, ...) loop, or restarts after running out of memory "
                                           f"while loading?{sim.still_hint()})")
    clock.on_spin = None
    result.duration_us = max(session.now, 0)
    _close(sim)
    return result


class _Where(TestSideHook):
    """Two natives that tell the session where a step failed, as the innermost frame in the test
    file, else the innermost outside the impUnit framework (each frame mapped through the session
    code's ``#line`` directives):

    * ``imp.__impsim_where(message)``, which ImpTestCase calls just before a failing assertion
      throws: the stack of its caller (:mod:`._stack`). Needed for asynchronous tests, whose
      failure arrives later as a promise's rejection value;
    * ``imp.__impsim_caught()``, which the runner calls in the catch block around a test method:
      the stack where the caught error was raised (the VM records caught errors), so a runtime
      error (``null.x``, a bad argument to a native, a ``throw``) has the line that threw;
    * ``imp.__impsim_raised(error)``, which impsim's Promise calls when a callback's error
      rejects a promise: where it was raised, matched to the step's rejection by its value,
      as an assertion's message is.

    Installed into the test side's ``imp`` table (not the root table, which the runner walks)
    whenever that side starts a new VM, i.e. after every boot or agent restart."""

    def __init__(self, session: _Session, test_file: TestFile, config: TestConfig, code: SessionCode) -> None:
        from squirrel.lines import LineMap

        self.session = session
        super().__init__(test_file.side)
        self.home = Path(config.home)
        self.test_path = os.path.normcase(os.path.normpath(test_file.path))
        self.framework = tuple(os.path.normcase(str(d)) + os.sep for d in (NUT_DIR, LIBRARIES_DIR))
        text = code.agent if test_file.side == "agent" else code.device
        self.text = text or ""
        self.maps: dict[str, Any] = {}  # chunk name -> LineMap (None: no #line directives)
        self.scan = LineMap.scan
        self.kinds: dict[str, str] = {}

    def natives(self, sim: Any, host: Any) -> dict[str, Any]:
        import squirrel

        if host.filename not in self.maps:
            self.maps[host.filename] = self.scan(self.text, host.filename)
        linemap = self.maps[host.filename]

        vm = host.vm

        def raise_site() -> tuple[str | None, list[tuple[str, str, int]]]:
            return self.locate([(f.function, f.file, f.line) for f in vm.last_error_stack()], raised=True)

        def key(value: Any) -> Any:  # what a site is matched on: a scalar, or any other value
            return value if isinstance(value, (str, int, float, bool, type(None))) else object()

        @squirrel.native(pass_context=True)
        def __impsim_where(ctx: Any, message: Any = None) -> None:
            self.session.assertion_failed(key(message), *self.locate(self.frames(ctx.handle, host.filename, linemap)))

        @squirrel.native
        def __impsim_caught() -> None:
            # First thing: the record is of the error the runner's catch block took.
            self.session.step_threw(*raise_site())

        @squirrel.native
        def __impsim_raised(value: Any = None) -> None:
            location, stack = raise_site()
            if location is not None:
                self.session.assertion_failed(key(value), location, stack)

        return {"__impsim_where": __impsim_where, "__impsim_caught": __impsim_caught,
                "__impsim_raised": __impsim_raised}

    def installed(self, host: Any) -> None:
        host.vm.record_caught_errors()

    def kind(self, file: str) -> str:
        """What ``file`` (a ``#line`` name) is: ``test`` (the test file), ``framework`` (impsim's
        impUnit, Promise, JSONEncoder, imp API), ``session`` (code impt generates) or ``code``."""
        k = self.kinds.get(file)
        if k is None:
            if file.startswith(("__", "<")):
                k = "session"
            elif file.startswith("impsim:"):  # the imp API's own Squirrel code (impapi.language)
                k = "framework"
            else:
                path = os.path.normcase(os.path.normpath(self.home / file))
                k = "test" if path == self.test_path else "framework" if path.startswith(self.framework) else "code"
            self.kinds[file] = k
        return k

    @staticmethod
    def frames(handle: Any, chunk: str, linemap: Any) -> list[tuple[str, str, int]]:
        """The frames of the code calling the native on thread ``handle``, ``#line``-mapped
        (``linemap`` maps lines of the session code, compiled as ``chunk``)."""
        return [(function, *(linemap.map(line, source) if linemap is not None and source == chunk
                             else (source, line)))
                for function, source, line in _stack.frames(handle)[1:]]

    def locate(self, frames: list[tuple[str, str, int]], *, raised: bool = False) -> tuple[str | None, list[tuple[str, str, int]]]:
        """(location, stack) from mapped frames, innermost first: the stack without native,
        framework and session frames; the location is its innermost frame in the test file, else
        its innermost frame -- except for an error ``raised`` outside the framework (a runtime
        error, a ``throw``), whose location is the statement that raised it, in whatever file."""
        stack: list[tuple[str, str, int]] = []
        location = None
        for function, file, mapped in frames:
            if file == "NATIVE" or mapped < 0:
                continue
            kind = self.kind(file)
            if kind in ("framework", "session"):
                raised = False  # e.g. an assertion: where it was called is what matters
                continue
            if raised and location is None:
                location = f"{file}:{mapped}"
            stack.append((function or "unknown", file, mapped))
            if location is None and kind == "test":
                location = f"{file}:{mapped}"
        if location is None and stack:
            location = f"{stack[0][1]}:{stack[0][2]}"
        return location, stack


# ---------------------------------------------------------------------------------------------
# Listing the tests of a file


class ListingError(Exception):
    """The session of a file cannot start: its code does not build or does not compile."""


@dataclass
class ListedCase:
    """A test case class as the runner sees it: its root-table name, its ``test*`` methods in
    run order, and whether it has ``setUp``/``tearDown`` (run even without tests)."""

    name: str
    methods: list[str]
    set_up: bool = False
    tear_down: bool = False


@dataclass
class TestListing:
    """What :func:`list_tests` found."""

    __test__ = False

    #: The cases in the order the runner runs them; None when the order could not be read
    #: (``problem`` says why, e.g. the test side's code stopped with an error while loading).
    cases: list[ListedCase] | None
    #: Builder's output for the test side (with ``#line`` directives), before ``#require``.
    test_built: str
    problem: str | None = None


_LIST_SNIPPET = """
local r = __module_impUnit_exports.ImpUnitRunner(), out = [];
foreach (name, c in r._findTests()) out.push([name, c[1], "setUp" in c[0], "tearDown" in c[0]]);
return out;
"""


def list_tests(test_file: TestFile, config: TestConfig, options: SessionOptions | None = None) -> TestListing:
    """The test cases and methods of ``test_file`` in the order a session runs them, without
    running any: the session code is built and loaded on a fresh simulated device and agent,
    virtual time runs up to the moment the bootstrap would start the runner, and the runner's
    own discovery is asked. Raises :class:`ListingError` when the code does not build or compile."""
    from ..simulation import Simulation

    options = options or SessionOptions()
    try:
        code, test_built, _ = build_session_code(test_file, config, session_id="impsim-listing",
                                                 lib_dirs=options.lib_dirs, github_dir=options.github_dir,
                                                 env=options.env)
    except (BuildError, OSError, ValueError) as e:
        raise ListingError(str(e)) from None
    assert code is not None  # no selector
    problem = _compile_problem(code)
    if problem is not None:
        raise ListingError(str(problem))
    sim = Simulation(device=code.device, agent=code.agent, imp=options.imp, seed=options.seed,
                     config=options.config, start=False)
    try:
        _deploy(sim)
        clock = sim.clock
        deadline = STARTUP_DELAY_S * 1_000_000
        if test_file.side == "device":
            deadline += sim.config.device_start_delay_us
        steps = 0
        while sim.fatal_error is None and steps < STILL_EVENTS:
            nxt = clock.peek()
            if nxt is None or nxt >= deadline:
                break
            clock.step()
            steps += 1
        owner = sim.agent if test_file.side == "agent" else sim.device
        host = getattr(owner, "host", None)
        if sim.fatal_error is not None:
            return TestListing(None, test_built, sim.fatal_error)
        if host is None or not host.alive or host.vm.closed:
            errors = [e.text for e in sim.log if e.is_error]
            why = f"the {test_file.side} code stopped before the tests started"
            return TestListing(None, test_built, why + (": " + " ".join(errors) if errors else ""))
        import squirrel

        try:
            raw = host.vm.run(_LIST_SNIPPET, "<impsim-listing>")
        except squirrel.SquirrelError as e:
            return TestListing(None, test_built, f"cannot list the tests: {e}")
        cases = [ListedCase(str(name), [str(m) for m in methods], bool(s), bool(t)) for name, methods, s, t in raw]
        return TestListing(cases, test_built)
    finally:
        _close(sim)


def _boots(sim: Any) -> int:
    return (sim.device.boots if sim.device is not None else 0) + (sim.agent.restarts if sim.agent is not None else 0)


def _deploy(sim: Any) -> None:
    """Start the session as a deployment to an online device: the agent restarts at once; the
    device downloads the new code and runs it ``Config.device_start_delay_us`` later
    (WAKEREASON_NEW_SQUIRREL, already connected, without a cold boot's connection delay). So
    the agent is running, and an agent test's runner has started, before the device's first
    message arrives, as on hardware."""
    if sim.agent is not None:
        # As an event, like every restart the cloud causes: the agent's code may block in
        # imp.sleep while it loads, which needs the clock running.
        sim.clock.schedule(0, sim.agent.start)
    if sim.device is not None:
        delay = sim.config.device_start_delay_us
        if delay > 0:
            sim.clock.schedule(delay, _start_device, sim)
        else:
            _start_device(sim)


def _start_device(sim: Any) -> None:
    from .. import constants as C

    network = sim.network
    latency = network.connect_latency_us
    network.connect_latency_us = 0
    try:
        sim.record("power", on=True)
        sim.device.power_on(C.WAKEREASON_NEW_SQUIRREL, "deploy")
    finally:
        network.connect_latency_us = latency


def _close(sim: Any) -> None:
    """Free the session's VMs now rather than whenever the garbage collector gets to them."""
    for owner in (sim.device, sim.agent):
        host = getattr(owner, "host", None)
        if host is None:
            continue
        host.stop()
        if not host.vm.closed:
            host.vm.close()


@dataclass
class _CompileProblem:
    """The first compile error of a session's code, located through its ``#line`` directives."""

    side: str
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"The {self.side} code does not compile: {self.file}:{self.line}:{self.column}: {self.message}"

    def report(self, emit: Output) -> str:
        """Print it as impt prints impCentral's refusal of a deployment whose code does not
        compile (an ``[error]`` line with the error's title and detail, then the error's location
        line, ``<file> <type> (line N, column M): <text>``); return the session issue's text."""
        detail = f"the {self.side} code does not compile"
        emit("error", f"Compilation Error: {detail}", 0)
        emit("print", f"{self.file} error (line {self.line}, column {self.column}): {self.message}", 0)
        return f"Compilation Error: {detail}: {self.file}:{self.line}:{self.column}: {self.message}"


def _compile_problem(code: SessionCode) -> _CompileProblem | None:
    import squirrel

    for side, text in (("device", code.device), ("agent", code.agent)):
        if text is None:
            continue
        with squirrel.VM("imp") as vm:
            try:
                vm.compile(text, f"<{side}>")
            except squirrel.CompileError as e:
                return _CompileProblem(side, str(e.filename), int(e.lineno or 0), e.column, str(e.msg))
    return None


def _write_preprocessed(home: Path, test_file: TestFile, code: SessionCode) -> None:
    """impt --output debug: .build/<dir>/preprocessed.{agent,device}.<file>."""
    target = Path(home) / ".build" / test_file.name
    target.parent.mkdir(parents=True, exist_ok=True)
    (target.parent / f"preprocessed.agent.{target.name}").write_text(code.agent, encoding="utf-8")
    (target.parent / f"preprocessed.device.{target.name}").write_text(code.device or "", encoding="utf-8")
