"""A user's run of `impsim fuzz`: progress on a terminal only, Ctrl-C stops every worker and
reports the best failure found so far (exit 130, no traceback), and the README's Python path."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from impapi.testing.fuzz.engine import Progress
from impapi.testing.fuzz_cli import ProgressBar

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = (ROOT / "examples/polite-sleeper/sleeper.device.nut", ROOT / "examples/polite-sleeper/sleeper.agent.nut")

# A custom check that marks (a file) that the search has started, and, with FAIL set, fails every
# scenario that has an event, slowly, so that Ctrl-C lands while the failure is being shrunk.
CHECK = textwrap.dedent('''
    import os, time
    def marked(run):
        path, failing = os.environ["MARK"], os.environ.get("FAIL")
        if failing and not run.scenario.events:
            return None
        if failing:
            time.sleep(0.3)
        if not os.path.exists(path):
            open(path, "w").close()
        return f"{len(run.scenario.events)} events" if failing else None
''')


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("HYPOTHESIS_NO_PLUGINS", None)
    return env


def _interrupt(tmp_path, *, fail, group, jobs=2):
    (tmp_path / "mark_check.py").write_text(CHECK)
    mark = tmp_path / "started"
    cmd = [sys.executable, "-m", "impapi.cli", "fuzz", str(SLEEPER[0]), "--agent", str(SLEEPER[1]),
           "--examples", "100000", "--jobs", str(jobs), "--seed", "3", "--check", "handler-first",
           "--extra", f"{tmp_path / 'mark_check.py'}:marked", "--out", str(tmp_path / "out"), "--no-coverage"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                         env=_env(MARK=str(mark), **({"FAIL": "1"} if fail else {})), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        if group:
            os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        else:
            p.send_signal(signal.SIGINT)  # the parent alone must stop its workers
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    with pytest.raises(ProcessLookupError):  # no worker left behind
        os.killpg(p.pid, 0)
    return p.returncode, out, err


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "parent-only"])
def test_ctrl_c_without_a_failure_says_how_far_it_got(tmp_path, group):
    code, out, err = _interrupt(tmp_path, fail=False, group=group)
    assert code == 130, (out, err)
    assert out.startswith("impsim fuzz: interrupted after ") and "no failure found so far" in out
    assert "Traceback" not in err and "Traceback" not in out


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "parent-only"])
def test_ctrl_c_while_shrinking_reports_the_best_failure_so_far(tmp_path, group):
    code, out, err = _interrupt(tmp_path, fail=True, group=group)
    assert code == 130, (out, err)
    assert out.startswith("impsim fuzz: FAILED, interrupted after ")
    assert "the best failure found so far, shrunk from" in out
    assert "[marked]" in out and "reproduce (the same log, byte for byte):" in out
    assert (tmp_path / "out" / "sleeper.fuzz-failure.toml").is_file()
    assert "Traceback" not in err and "Traceback" not in out


def test_progress_is_quiet_when_stderr_is_not_a_terminal(tmp_path):
    cmd = [sys.executable, "-m", "impapi.cli", "fuzz", str(SLEEPER[0]), "--agent", str(SLEEPER[1]), "--for", "2h",
           "--examples", "5", "--jobs", "1", "--seed", "1", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_is_drawn_on_a_terminal(tmp_path):
    import pty

    leader, follower = pty.openpty()
    cmd = [sys.executable, "-m", "impapi.cli", "fuzz", str(SLEEPER[0]), "--agent", str(SLEEPER[1]), "--for", "1d",
           "--examples", "30", "--jobs", "2", "--seed", "1", "--out", str(tmp_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=follower, env=_env(), cwd=tmp_path)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        drawn += chunk
    out = p.communicate(timeout=300)[0]
    os.close(leader)
    assert p.returncode == 0, out
    text = drawn.decode()
    assert "/30 examples, 0 failures, " in text and "/s" in text and "[#" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


def test_the_progress_bar_line():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = ProgressBar(stream)
    bar(Progress(examples=250, total=500, failures=0, shrinks=0, elapsed_s=5.0))
    assert stream.getvalue() == "\r\x1b[K[############............] 250/500 examples, 0 failures, 50.0/s"
    bar(Progress(examples=251, total=500, failures=1, shrinks=7, elapsed_s=5.0))
    assert stream.getvalue().endswith("251/500 examples, 1 failure, 50.2/s, shrinking (7 steps)")
    bar(Progress(examples=251, total=500, failures=1, shrinks=9, elapsed_s=6.0, done=True))
    assert stream.getvalue().endswith("\r\x1b[K")


def test_the_readme_python_path_works_as_written(tmp_path):
    """README: from Python, impapi.testing.scenarios, Simulation.play(scenario) and
    impapi.testing.checks.polite(run) — each as written, in a fresh interpreter."""
    code = textwrap.dedent(f'''
        import impapi.testing.checks
        from hypothesis import given, settings
        from impapi import Simulation
        from impapi.testing import scenarios

        device, agent = {str(SLEEPER[0])!r}, {str(SLEEPER[1])!r}
        played = []

        @settings(max_examples=5, deadline=None, database=None)
        @given(scenarios(duration="6h", app=(device, agent)))
        def test(scn):
            run = Simulation(device=device, agent=agent, start=False).play(scn)
            impapi.testing.checks.polite(run)
            played.append(run)

        test()
        from impapi.testing.checks import PoliteViolation, polite
        assert polite is impapi.testing.checks.polite and len(played) == 5
        print("ok")
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=tmp_path,
                          timeout=300)
    assert done.stdout.strip() == "ok", done.stderr
