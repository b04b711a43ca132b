"""Run hostile programs, each in a forked child, and say what happened to it.

The parent imports ``squirrel`` and ``impapi`` once and forks a child per program, so a
segfault, an abort or a runaway is an outcome of that program and never the end of the run.
A child writes its report (JSON) to a file and exits; the parent reads the exit status and the
child's resource usage (``os.wait4``): a signal is a crash; going over the CPU budget is a hang.

A hang is judged by the child's CPU, never by the wall clock: a niced child starved on a loaded
machine has not hung. The budget is ``cpu_budget`` seconds, plus ``boot_budget`` seconds for
each boot of Squirrel the log shows (``[Status] Device Booting``, ``[Status] Agent restarted``:
each runs the app from the top), plus ``firing_budget`` seconds for each time it shows impsim's
watchdog stopping an event (``[Sim] device watchdog: ...``). Runaway app code that the watchdog
stops costs up to ``Config.watchdog_instructions`` of work at every boot, and an app that runs
out of memory at every boot redoes its work each time: that is the simulator doing what the app
asks, not a stall. Work that stalls within one boot still goes over. The parent watches
each child's CPU (``/proc``) and log as it runs and stops it when it goes over; ``RLIMIT_CPU``
is the backstop. A child that uses no CPU at all for ``blocked_budget`` seconds of wall clock
while not runnable is blocked (waiting on something that never comes): a hang too.

Modes:

``vm-imp`` / ``vm-standard``
    the program in a bare ``squirrel.VM`` of that dialect with ``memory_limit`` and
    ``time_limit``; the result is converted to Python, then the VM is collected and closed.
    After a limit error the VM must still run ``return 1`` (the documented promise).
``impsim``
    device and agent code through ``impsim run`` (the CLI's ``main``, in the child) for an hour
    of virtual time.

Outcome classes, worst first (:data:`FAILURES` are what a campaign must not find):

crash          the child died of a signal (SIGSEGV, SIGABRT...) or exited without a report
hang           the child went over its CPU budget, or blocked
undocumented   a Python exception that is not part of the documented API reached the caller
               (AttributeError, RecursionError, a traceback from the CLI...), or Python's
               wording reached the script or the log (``'int' object has no attribute``)
unusable       after a documented limit error the VM could not run ``return 1``
limit-escape   the run finished but used far more CPU or memory than its limits allow
limit          a documented limit stopped the script (MemoryLimitError, TimeLimitError, the
               imp's watchdog, out of memory, virtual time standing still)
script-error   a Squirrel error (compile or runtime) with a location
ok             none of the above
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import reprlib
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator

import re2

from .generator import Program, generate

CLASSES = ("crash", "hang", "undocumented", "unusable", "limit-escape", "limit", "script-error", "ok")
FAILURES = frozenset(("crash", "hang", "undocumented", "unusable", "limit-escape"))
MODES = ("vm-imp", "vm-standard", "impsim")

# Python's own words: exception names, a traceback, reprs of Python objects and the phrases of
# its built-in errors. None of these is part of what a script or a user should ever read.
PYTHON_WORDING = re2.compile(  # RE2: 50 times faster on a long log, and linear
    r"Traceback \(most recent call last\)"
    r"|\b(?:Attribute|Type|Value|Key|Index|Recursion|Overflow|ZeroDivision|Unicode\w*|Name|Runtime|"
    r"Assertion|System|NotImplemented|OS|Buffer|Lookup|Arithmetic|FloatingPoint|Reference|EOF|Import|"
    r"ModuleNotFound|UnboundLocal|BlockingIO|FileNotFound|Permission|IsADirectory|Connection)Error\b"
    r"|\bMemoryError\b|\bStopIteration\b|\bKeyboardInterrupt\b"
    r"|object has no attribute|invalid literal for|object is not (?:callable|subscriptable|iterable)"
    r"|unsupported operand type|positional argument|unexpected keyword argument|NoneType"
    r"|<\w+(?:\.\w+)+ object at 0x|squirrel\.proxies|impapi\.\w"
)


@dataclass
class Limits:
    """What each program may use: the VM's limits and the child's budgets."""

    memory_limit: int = 64 << 20
    time_limit: float = 1.0
    cpu_budget: float = 20.0        # seconds of CPU a program may use: more is a hang
    # ... plus this much for each watchdog firing its log shows. A firing is 250 million
    # instructions' worth of work (Config.watchdog_instructions): 0.67 s of CPU for
    # `while (true) {}`, 3-6 s for loops of cheap natives (split, format).
    firing_budget: float = 10.0
    # ... and this much for each boot of Squirrel (device or agent) it shows: a crash loop
    # boots every 5 s of virtual time, 36 times in a 3-minute run.
    boot_budget: float = 2.0
    cpu_cap: float = 900.0          # RLIMIT_CPU, the backstop if the parent cannot watch
    blocked_budget: float = 120.0   # wall seconds without any CPU while not runnable: blocked
    address_space: int = 3 << 30    # RLIMIT_AS of the child: an escaped allocation fails here
    impsim_for: str = "3m"           # virtual time of an impsim run (a crash loop of runaway code
    #                                 costs a watchdog budget per boot: keep the boots few)

    def budget(self, firings: int, boots: int = 0) -> float:
        """CPU seconds a program whose log shows ``firings`` watchdog firings and ``boots`` boots
        may use."""
        return self.cpu_budget + self.firing_budget * firings + self.boot_budget * boots

    def judge(self, state: str, cpu: float, firings: int, idle: float, boots: int = 0) -> tuple[str, str] | None:
        """Whether a running child has hung: over its CPU budget, or blocked (``idle`` wall
        seconds without CPU while its process ``state`` is not R). Runnable but starved of CPU
        (a niced child on a loaded machine) is not a hang however long it waits."""
        budget = self.budget(firings, boots)
        if cpu > budget:
            return "hang", f"over {budget:g} s of CPU ({boots} boots, {firings} watchdog firings)"
        if state != "R" and idle > self.blocked_budget:
            return "hang", f"blocked: no CPU for {self.blocked_budget:g} s (state {state})"
        return None

    def escaped(self, mode: str, cpu: float, rss_growth: int) -> str | None:
        """Why a finished run used more than its limits allow (None if it did not). Generous:
        the collector, close() and conversions run outside the limits."""
        if mode != "impsim" and cpu > 4 * self.time_limit + 3:
            return f"time: {cpu:.1f} s of CPU under time_limit={self.time_limit:g} s"
        if rss_growth > 3 * self.memory_limit + (64 << 20):
            return f"memory: peak {rss_growth >> 20} MB over the start under memory_limit={self.memory_limit >> 20} MB"
        return None


@dataclass
class Outcome:
    seed: int
    mode: str
    cls: str
    detail: str = ""
    cpu: float = 0.0
    wall: float = 0.0
    rss_mb: int = 0
    output: str = ""
    chunks: int = 0

    def signature(self) -> str:
        """What makes two failures the same failure: class, mode family and the detail with
        numbers, addresses and quoted values taken out."""
        family = "impsim" if self.mode == "impsim" else "vm"
        d = re.sub(r"0x[0-9a-fA-F]+", "ADDR", self.detail)
        d = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", d)
        d = re.sub(r"\d+(?:\.\d+)?", "N", d)
        return f"{self.cls}|{family}|{d[:160]}"

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Job:
    seed: int
    mode: str
    program: Program | None = None  # None: generate(seed) in the child
    key: object = None              # anything the caller wants back with the outcome
    # Run this in the child instead of the program (the harness's own tests): it returns
    # (class, detail, output lines) like a mode does, or dies trying.
    action: Callable[[], tuple[str, str, list[str]]] | None = None

    def get_program(self) -> Program:
        if self.program is None:
            self.program = generate(self.seed, "imp" if self.mode == "impsim" else "vm")
        return self.program


def mode_of(seed: int) -> str:
    return MODES[seed % len(MODES)]


# --- inside the child ----------------------------------------------------------------------------

def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _limit_child(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(max(limits.cpu_cap, limits.cpu_budget)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (limits.address_space, limits.address_space))
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the campaign's own handler is the parent's
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)


def _wording(text: str) -> str | None:
    m = PYTHON_WORDING.search(text)
    if not m:
        return None
    line = text[text.rfind("\n", 0, m.start()) + 1:]
    return "Python wording: " + line.split("\n", 1)[0][:200]


def _run_vm(program: Program, dialect: str, limits: Limits) -> tuple[str, str, list[str]]:
    import squirrel

    out: list[str] = []
    cls, detail = "ok", ""
    vm = squirrel.VM(dialect, memory_limit=limits.memory_limit, time_limit=limits.time_limit,
                     print=out.append, error=out.append)
    try:
        result = vm.run(program.source(), "hostile.nut")
        reprlib.repr(result)  # bounded: a result may share one table at every level
    except squirrel.CompileError as e:
        cls, detail = "script-error", f"compile error at {e.lineno}:{e.column}: {e.msg}"
        out.append(detail)
    except squirrel.ScriptError as e:
        out.append(e.message)
        cls, detail = "script-error", e.message[:200]
        if e.location is None:
            cls, detail = "undocumented", f"ScriptError without a location: {e.message[:200]}"
    except (squirrel.MemoryLimitError, squirrel.TimeLimitError) as e:
        cls, detail = "limit", type(e).__name__
        try:
            if vm.run("return 1") != 1:
                cls, detail = "unusable", f"after {type(e).__name__}: return 1 gave something else"
        except squirrel.SquirrelError as again:
            cls, detail = "unusable", f"after {type(e).__name__}: {type(again).__name__}: {again}"[:300]
    except squirrel.SquirrelError as e:  # documented, though none of the above
        cls, detail = "script-error", f"{type(e).__name__}: {e}"[:300]
    vm.collect_garbage()
    vm.close()
    return cls, detail, out


def _run_impsim(program: Program, seed: int, limits: Limits, workdir: str) -> tuple[str, str, list[str]]:
    from impapi import cli

    dev = os.path.join(workdir, "device.nut")
    agent = os.path.join(workdir, "agent.nut")
    with open(dev, "w") as f:
        f.write(program.source())
    with open(agent, "w") as f:
        f.write(program.agent_source())
    rc = cli.main(["run", dev, "--agent", agent, "--for", limits.impsim_for, "--seed", str(seed)])
    sys.stdout.flush()
    sys.stderr.flush()
    seen, words, tail = _scan(os.path.join(workdir, "out"))
    if words:
        return "undocumented", words, [tail]
    if rc == 0 or rc == 1:
        if seen["watchdog"] or seen["out of memory"]:
            return "limit", "watchdog or out of memory", [tail]
        if rc == 1 or seen["ERROR:"]:
            return "script-error", "", [tail]
        return "ok", "", [tail]
    if rc == 2 and seen["virtual time stands still"]:
        return "limit", "virtual time stands still", [tail]
    if rc == 2 and re.search(r"impsim: .*(device|agent)\.nut:\d+", tail):
        return "script-error", "does not compile", [tail]
    return "undocumented", f"impsim run exit {rc}: " + tail.strip().rsplit("\n", 1)[-1][:200], [tail]


_MARKS = ("watchdog", "out of memory", "ERROR:", "virtual time stands still")


def _scan(path: str) -> tuple[dict[str, bool], str | None, str]:
    """What the log of a run shows, read a few MB at a time (runaway code can log hundreds of
    MB): which marks occur, the first Python wording, and the last 4,000 characters."""
    seen = dict.fromkeys(_MARKS, False)
    words = None
    tail = ""
    with open(path, errors="replace") as f:
        carry = ""
        while True:
            chunk = f.read(4 << 20)
            text = carry + chunk
            cut = len(text) if not chunk else text.rfind("\n") + 1  # whole lines, but all at the end
            whole, carry = text[:cut], text[cut:]
            for mark in _MARKS:
                seen[mark] = seen[mark] or mark in whole
            if words is None:
                words = _wording(whole)
            tail = (tail + whole)[-4000:]
            if not chunk:
                return seen, words, tail


class _MarksFlushed:
    """A text stream that flushes after each line the simulator writes ([Sim], [Status]); the
    rest is buffered (a runaway log is millions of lines)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        if "Z [Sim] " in text or "Z [Status] " in text:
            self._stream.flush()
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _child(job: Job, limits: Limits, workdir: str) -> None:
    """In the forked child: run the job, write report.json, exit. Never returns."""
    code = 0
    try:
        _limit_child(limits)
        out_fd = os.open(os.path.join(workdir, "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        # Marked lines at once, so the parent sees watchdog firings and boots as they happen.
        sys.stdout = _MarksFlushed(open(1, "w", closefd=False, errors="replace"))
        sys.stderr = open(2, "w", closefd=False, errors="replace")
        faulthandler.enable(sys.stderr)  # a crash's Python stack goes to the report, not the parent's stderr
        start_rss = _rss_bytes()
        program = job.get_program() if job.action is None else Program(job.seed, "vm", ())
        try:
            if job.action is not None:
                cls, detail, out = job.action()
            elif job.mode == "impsim":
                cls, detail, out = _run_impsim(program, job.seed, limits, workdir)
            else:
                cls, detail, out = _run_vm(program, job.mode[3:], limits)
        except BaseException as e:  # noqa: BLE001 - exactly what the campaign looks for
            cls, detail = "undocumented", f"{type(e).__name__}: {e}"[:300]
            out = [traceback.format_exc()]
        text = "".join(out)
        if cls not in ("undocumented", "crash"):
            words = _wording(text)
            if words:
                cls, detail = "undocumented", words
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        report = {"cls": cls, "detail": detail, "output": text[-4000:], "rss_growth": max(0, peak - start_rss),
                  "chunks": program.size()}
        with open(os.path.join(workdir, "report.json"), "w") as f:
            json.dump(report, f)
    except BaseException:  # noqa: BLE001 - a fault of the runner itself: say so in the output
        code = 3
        try:
            os.write(2, traceback.format_exc().encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


# --- in the parent -------------------------------------------------------------------------------

# A watchdog firing and a boot as impsim logs them: only the simulator writes "[Sim]" or
# "[Status]" right after the time.
WATCHDOG_LINE = re.compile(rb"Z \[Sim\] (?:device|agent) watchdog: an event ran over")
BOOT_LINE = re.compile(rb"Z \[Status\] (?:Device Booting|Agent restarted)")
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class _Child:
    """What the parent knows of a running child."""

    job: Job
    workdir: str
    started: float
    offset: int = 0           # how much of its log has been read
    firings: int = 0
    boots: int = 0
    cpu: float = 0.0
    last_advance: float = 0.0  # when its CPU last grew (wall clock)
    verdict: tuple[str, str] | None = None  # why the parent stopped it


def proc_state(pid: int) -> tuple[str, float] | None:
    """(state letter, CPU seconds) of a process from /proc, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0].decode(), (int(fields[11]) + int(fields[12])) / _TICK


class Pool:
    """Up to ``workers`` children at a time; :meth:`run` yields outcomes as children end."""

    WATCH_EVERY = 0.25  # seconds between looks at each child's CPU and log

    def __init__(self, workers: int = 2, limits: Limits | None = None) -> None:
        self.workers = max(1, workers)
        self.limits = limits or Limits()
        self.cpu_total = 0.0
        self._tmp = tempfile.mkdtemp(prefix="impsim-hostile-")
        import squirrel  # noqa: F401 - imported once here, inherited by every child
        import impapi.cli  # noqa: F401

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Outcome]]:
        pending = iter(jobs)
        running: dict[int, _Child] = {}
        exhausted = False
        watched = 0.0
        try:
            while True:
                while not exhausted and len(running) < self.workers:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    pid, child = self._start(job)
                    running[pid] = child
                if not running:
                    return
                pid, status, usage = os.wait4(-1, os.WNOHANG)
                if pid == 0:
                    now = time.monotonic()
                    if now - watched >= self.WATCH_EVERY:
                        watched = now
                        for cpid, child in running.items():
                            self._watch(cpid, child, now)
                    time.sleep(0.003)
                    continue
                child = running.pop(pid)
                yield child.job, self._finish(child, status, usage)
        finally:
            for pid, child in running.items():
                _kill(pid)
                os.waitpid(pid, 0)
                shutil.rmtree(child.workdir, ignore_errors=True)

    def run_one(self, job: Job) -> Outcome:
        return next(self.run([job]))[1]

    def _start(self, job: Job) -> tuple[int, _Child]:
        workdir = tempfile.mkdtemp(dir=self._tmp)
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(job, self.limits, workdir)
        return pid, _Child(job, workdir, started, last_advance=started)

    def _watch(self, pid: int, child: _Child, now: float) -> None:
        """Count the child's watchdog firings and stop it once it is over its CPU budget, or
        blocked."""
        if child.verdict is not None:
            return
        state = proc_state(pid)
        if state is None or state[0] in "ZX":
            return
        letter, cpu = state
        if cpu > child.cpu:
            child.cpu, child.last_advance = cpu, now
        try:
            with open(os.path.join(child.workdir, "out"), "rb") as f:
                f.seek(child.offset)
                text = f.read()
        except OSError:
            text = b""
        # Only whole lines: a line half written now is counted when it is complete.
        end = text.rfind(b"\n") + 1
        child.firings += len(WATCHDOG_LINE.findall(text, 0, end))
        child.boots += len(BOOT_LINE.findall(text, 0, end))
        child.offset += end
        child.verdict = self.limits.judge(letter, cpu, child.firings, now - child.last_advance, child.boots)
        if child.verdict is not None:
            _kill(pid)

    def _finish(self, child: _Child, status: int, usage: resource.struct_rusage) -> Outcome:
        job, workdir = child.job, child.workdir
        cpu = usage.ru_utime + usage.ru_stime
        self.cpu_total += cpu
        wall = time.monotonic() - child.started
        outcome = Outcome(job.seed, job.mode, "crash", cpu=round(cpu, 3), wall=round(wall, 3),
                          rss_mb=usage.ru_maxrss >> 10)
        report = None
        try:
            with open(os.path.join(workdir, "report.json")) as f:
                report = json.load(f)
        except (OSError, ValueError):
            pass
        try:
            with open(os.path.join(workdir, "out"), errors="replace") as f:
                raw = f.read()[-4000:]
        except OSError:
            raw = ""
        shutil.rmtree(workdir, ignore_errors=True)
        if child.verdict is not None:
            outcome.cls, outcome.detail = child.verdict
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= self.limits.cpu_cap):
                outcome.cls, outcome.detail = "hang", f"over {self.limits.cpu_cap:g} s of CPU (the backstop)"
            else:
                outcome.detail = signal.Signals(sig).name
        elif report is not None:
            outcome.cls, outcome.detail = report["cls"], report["detail"]
            outcome.chunks = report.get("chunks", 0)
            if outcome.cls not in FAILURES:
                escaped = self.limits.escaped(job.mode, cpu, report.get("rss_growth", 0))
                if escaped:
                    outcome.cls, outcome.detail = "limit-escape", escaped
            raw = report.get("output", raw)
        else:
            outcome.detail = f"exit status {os.WEXITSTATUS(status)} without a report"
        outcome.output = raw
        return outcome


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
