"""Progress for long runs: on a terminal only, and never a change to what the run does."""

from __future__ import annotations

import io
import re

import pytest

import impapi.cli
from impapi import Simulation
from impapi.terminal import CLEAR, StatusLine, bar
from user_helpers import EXAMPLES

SENSOR = (str(EXAMPLES / "sleepy-sensor/sensor.device.nut"), "--agent", str(EXAMPLES / "sleepy-sensor/sensor.agent.nut"))


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_status_line_waits_then_redraws_a_few_times_a_second():
    clock, out = FakeClock(), io.StringIO()
    line = StatusLine(out, delay=1.0, interval=0.2, enabled=True, now=clock)
    line.show("early")  # a command that finishes within a second shows nothing
    clock.t = 1.0
    line.show("one")
    clock.t = 1.1
    line.show("too soon")
    clock.t = 1.3
    line.show("two")
    line.clear()
    line.clear()  # nothing left to clear
    line.close()
    clock.t = 5.0
    line.show("after the end")
    assert out.getvalue() == f"{CLEAR}one{CLEAR}two{CLEAR}"


def test_no_status_line_off_a_terminal():
    out = io.StringIO()  # not a terminal
    line = StatusLine(out, delay=0)
    line.show("x", force=True)
    assert out.getvalue() == "" and not line.enabled


def test_bar():
    assert bar(0.5, 10) == "[#####.....]"
    assert bar(2, 4) == "[####]" and bar(-1, 4) == "[....]"


@pytest.mark.parametrize("kind", ["for", "until-idle"])
def test_a_run_with_progress_is_the_same_run(kind):
    def run(progress):
        sim = Simulation(device=SENSOR[0], agent=SENSOR[2])
        seen = []
        if kind == "for":
            sim.run("3d", progress=(seen.append if progress else None))
        else:
            sim.clock.schedule(20 * 86_400_000_000, sim.power_off)  # so that idle comes
            sim.run(until_idle=True, progress=(seen.append if progress else None))
        return sim, seen

    plain, _ = run(False)
    watched, seen = run(True)
    assert watched.log.text() == plain.log.text()
    assert list(watched.events) == list(plain.events)
    assert watched.clock.now_us == plain.clock.now_us
    assert seen == sorted(seen) and len(seen) > 1
    if kind == "for":
        assert len(seen) == 200 and seen[-1] == 3 * 86_400_000_000


def test_impsim_run_draws_progress_on_stderr_and_clears_it(monkeypatch, capsys):
    monkeypatch.setattr(impapi.cli, "StatusLine",
                        lambda stream: StatusLine(stream, delay=0, interval=0, enabled=True))
    assert impapi.cli.main(["run", *SENSOR, "--for", "2d"]) == 0
    with_progress = capsys.readouterr()
    assert "[########################] 2d of 2d simulated" in with_progress.err
    assert "1d of 2d simulated" in with_progress.err
    assert with_progress.err.endswith(CLEAR)  # nothing left on the terminal
    monkeypatch.undo()
    assert impapi.cli.main(["run", *SENSOR, "--for", "2d"]) == 0
    assert capsys.readouterr().out == with_progress.out


# --- impsim test -----------------------------------------------------------------------------

LONG_TEST = """
class Slow extends ImpTestCase {
    function testWaits() {
        return Promise(function(ok, bad) { imp.wakeup(20, ok); });
    }
    function testFails() { assertEqual(1, 2); }
}
"""


@pytest.fixture
def test_home(tmp_path):
    (tmp_path / ".impt.test").write_text('{"timeout": 30, "testFiles": ["tests/*.test.nut"]}')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "a.test.nut").write_text(LONG_TEST)
    (tmp_path / "tests" / "b.test.nut").write_text(LONG_TEST.replace("Slow", "Other"))
    return tmp_path


def test_impsim_test_draws_progress_on_stderr_and_clears_it(monkeypatch, capsys, test_home):
    import impapi.testing.cli_test

    args = ["test", "-c", str(test_home), "--color", "never"]
    assert impapi.cli.main(args) == 1
    plain = capsys.readouterr()
    assert plain.err == ""  # capsys is no terminal
    monkeypatch.setattr(impapi.testing.cli_test, "StatusLine",
                        lambda stream: StatusLine(stream, delay=0, interval=0, enabled=True))
    assert impapi.cli.main(args) == 1
    shown = capsys.readouterr()
    assert shown.out == plain.out  # progress changes nothing that is printed or run
    err = shown.err
    assert f"impsim test: {bar(0)} file 1/2 tests/a.test.nut: 0 passed, 0 failed, 0s simulated" in err
    assert "file 1/2 tests/a.test.nut: 0 passed, 1 failed, 3s simulated" in err  # testFails runs first
    assert "file 1/2 tests/a.test.nut: 1 passed, 1 failed, 23s simulated" in err  # testWaits, 20 s later
    assert f"impsim test: {bar(0.5)} file 2/2 tests/b.test.nut: 1 passed, 1 failed" in err
    assert "file 2/2 tests/b.test.nut: 2 passed, 2 failed" in err
    assert "2 passed, 3 failed" not in err
    assert err.endswith(CLEAR)  # nothing left on the terminal


def test_impsim_test_progress_never_reaches_pipes_and_leaves_a_terminals_lines_intact(test_home):
    from user_helpers import impsim, impsim_on_a_terminal

    piped = impsim("test", cwd=test_home)
    assert piped.code == 1 and piped.err == "" and "\x1b" not in piped.out
    tty = impsim_on_a_terminal("test", "--color", "never", cwd=test_home)
    assert tty.code == 1
    # whatever status lines were drawn (it depends on how long the run took), each was cleared
    # before the next output line, and the lines are those written into a pipe
    lines = re.sub(re.escape(CLEAR) + r"[^\r\n]*(?=" + re.escape(CLEAR) + ")", "", tty.out).replace(CLEAR, "")
    assert lines == piped.out
