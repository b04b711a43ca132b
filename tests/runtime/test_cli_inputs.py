"""Whatever a user names on the command line — a FIFO, a device, a file nested thousands deep, a
path whose directory does not exist, a full output — impsim stops with one ``impsim:`` line
naming the file and what to do, exit status 2, and no traceback. Run as a user runs it: the
CLI in a subprocess, on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = 'server.log("up");\n'


def impsim(*args: str, cwd: Path, stdout=subprocess.PIPE, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "impapi.cli", *args], cwd=cwd, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(("impsim: ", "impsim run: error: ", "impsim fuzz: ")), proc.stderr
    for w in words:
        assert w in last, (w, last)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "app.nut").write_text(APP)
    return tmp_path


def test_a_scenario_nested_thousands_deep_is_refused(home):
    (home / "deep.toml").write_text('device = "app.nut"\nx = ' + "[" * 2000 + "]" * 2000 + "\n")
    (home / "deep2.toml").write_text('device = "app.nut"\nx = ' + "{a = " * 2000 + "1" + "}" * 2000 + "\n")
    for name in ("deep.toml", "deep2.toml"):
        refused(impsim("run", "--scenario", name, "--for", "1s", cwd=home), name, "nested too deeply")


def test_message_data_nested_thousands_deep_is_refused(home):
    for depth, words in ((3000, "nested too deeply"), (300, "nested more than 100 levels")):
        data = "[" * depth + "]" * depth
        refused(impsim("run", "app.nut", "--for", "1m", "--at", f"1s:message=x:{data}", cwd=home), words)


def test_code_scenario_and_flash_must_be_regular_files(home):
    os.mkfifo(home / "fifo")
    refused(impsim("run", "/dev/zero", "--for", "1s", cwd=home), "/dev/zero", "not a regular file")
    refused(impsim("run", "app.nut", "--scenario", "fifo", "--for", "1s", cwd=home), "fifo", "not a regular file")
    refused(impsim("run", "app.nut", "--flash", "fifo", "--for", "1s", cwd=home), "fifo", "flash image")
    refused(impsim("run", "app.nut", "--flash", "/dev/zero", "--for", "1s", cwd=home), "/dev/zero", "flash image")
    refused(impsim("run", str(home), "--for", "1s", cwd=home), "is a directory")


def test_a_huge_code_file_is_refused_without_reading_it_all(home):
    with open(home / "huge.nut", "wb") as f:
        f.truncate(64 << 20)  # sparse: costs no disk
    refused(impsim("run", "huge.nut", "--for", "1s", cwd=home), "huge.nut", "larger than 16 MB")


def test_outputs_go_only_into_directories_that_exist(home):
    refused(impsim("run", "app.nut", "--flash", "nodir/sub/f.bin", "--for", "1s", cwd=home),
            "nodir/sub/f.bin", "directory nodir/sub does not exist")
    refused(impsim("run", "app.nut", "--timeline", "nodir/t.svg", "--for", "1s", cwd=home),
            "nodir/t.svg", "does not exist")
    assert not (home / "nodir").exists()
    ok = impsim("run", "app.nut", "--flash", "f.bin", "--for", "1s", cwd=home)
    assert ok.returncode == 0 and (home / "f.bin").is_file()


def test_durations_and_versions_are_checked(home):
    refused(impsim("run", "app.nut", "--for", "99999999999999999999999d", cwd=home), "at most 36500d")
    refused(impsim("run", "app.nut", "--for", "1h", "--at", "99999999d:power-cycle", cwd=home), "36500d")
    refused(impsim("run", "app.nut", "--impos", "x", cwd=home), "bad impOS version 'x'")


def test_fuzz_extra_must_be_python(home):
    refused(impsim("fuzz", "app.nut", "--extra", "/etc/passwd:f", "--examples", "1", cwd=home),
            "/etc/passwd is not a Python file")


def test_a_byte_order_mark_at_the_start_of_code_is_skipped(home):
    (home / "bom.nut").write_bytes(b"\xef\xbb\xbf" + APP.encode())
    (home / "bom.agent.nut").write_bytes(b"\xef\xbb\xbf" + b'server.log("agent up");\n')
    proc = impsim("run", "bom.nut", "--agent", "bom.agent.nut", "--for", "5s", cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert "[Device] up" in proc.stdout and "[Agent] agent up" in proc.stdout


def test_a_full_output_is_reported_once(home):
    with open("/dev/full", "w") as full:
        for args in (["app.nut", "--for", "5s"], ["app.nut", "--for", "5s", "--quiet"]):
            proc = impsim("run", *args, cwd=home, stdout=full)
            refused(proc, "cannot write the output: No space left on device")
            assert proc.stderr.count("impsim:") == 1


TEST_OK = "class T extends ImpTestCase { function testA() { this.assertTrue(true); } }\n"


def test_junit_xml_that_cannot_be_written(home):
    (home / "a.test.nut").write_text(TEST_OK)
    refused(impsim("test", "--junit-xml", "/proc/x.xml", cwd=home), "/proc/x.xml", "cannot write the JUnit XML report")
    (home / "adir").mkdir()
    refused(impsim("test", "--junit-xml", "adir", cwd=home), "adir", "is a directory")
    ok = impsim("test", "--junit-xml", "reports/junit.xml", cwd=home)  # like pytest, it makes the directory
    assert ok.returncode == 0 and (home / "reports" / "junit.xml").is_file()


@pytest.mark.parametrize("text", [
    '@include "self.test.nut"\n' + TEST_OK,
    "@macro m()\n@{m()}\n@end\n@{m()}\n" + TEST_OK,
    "@set x " + "(" * 5000 + "1" + ")" * 5000 + "\n" + TEST_OK,
])
def test_impsim_test_reports_a_cycle_in_a_test_file_like_impt(home, text):
    """An include of the file itself, a macro that calls itself, an expression nested thousands
    deep: impt's report of a build error for that file (exit 1, as every failed test run),
    never a Python traceback."""
    (home / "self.test.nut").write_text(text)
    proc = impsim("test", cwd=home)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "self.test.nut" in proc.stdout and ("nested" in proc.stdout or "deeper" in proc.stdout)
    assert "IMPT COMMAND FAILS" in proc.stdout
