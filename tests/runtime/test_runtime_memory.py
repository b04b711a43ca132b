"""Memory on the module (imp-api.md §4.3 imp.getmemoryfree): compiled code counts against RAM
only on modules that keep code in RAM (Profile.code_in_ram), and the contents of blobs and
strings cost what they cost on the imp (Config.memory_scale scales object overhead only)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from impapi import Simulation
from impapi.profiles import PROFILES
from runtime_helpers import device_lines, simulate


def big_app(kb: int) -> str:
    """About kb KB of device code: functions with real bodies, then the free memory."""
    parts = []
    i = 0
    while sum(map(len, parts)) < kb * 1024:
        body = "\n".join(f"    local v{j} = (a * {j + 3} + b) % {j + 7}; if (v{j} > {j}) t += v{j}; else t -= {j};"
                         for j in range(6))
        parts.append(f"function step{i}(a, b) {{\n    local t = {i};\n{body}\n    return t;\n}}\n")
        i += 1
    return "".join(parts) + 'server.log("free " + imp.getmemoryfree());\n'


def free_at_boot(code: str, imp: str) -> int:
    lines = [line for line in device_lines(simulate(code, run="5s", imp=imp)) if line.startswith("free ")]
    assert lines, "the app did not boot"
    return int(lines[0].split()[1])


def test_a_large_app_boots_on_imp003_with_its_ram_left():
    code = big_app(130)
    assert len(code) >= 130 * 1024
    free = free_at_boot(code, "imp003")
    ram = PROFILES["imp003"].memory_free
    # only what running the app made (its functions, its globals) is gone, not its code
    assert ram * 3 // 4 < free < ram


def test_on_a_module_that_keeps_code_in_ram_the_code_counts():
    small, large = free_at_boot(big_app(1), "imp005"), free_at_boot(big_app(130), "imp005")
    flash_small, flash_large = free_at_boot(big_app(1), "imp003"), free_at_boot(big_app(130), "imp003")
    assert small - large > 2 * (flash_small - flash_large)  # the compiled code on top


def test_a_64_kb_blob_costs_64_kb():
    sim = simulate("""
        local before = imp.getmemoryfree();
        local b = blob(65536);
        server.log((before - imp.getmemoryfree()).tostring());
    """, run="5s", imp="imp004m")
    assert 65536 <= int(device_lines(sim)[0]) <= 65536 + 256


FREE_AT_TIMES = """
local d = date();
server.log("free " + imp.getmemoryfree());
imp.wakeup(1, function() {
    server.log("free " + imp.getmemoryfree());
    imp.onidle(function() { imp.deepsleepfor(60); });
});
"""


@pytest.mark.parametrize("imp", ["imp003", "imp006"])
def test_free_memory_is_the_same_in_a_new_process_and_in_one_that_ran_the_app_before(tmp_path, imp):
    """`impsim run` in a new process compiles the imp's API and the app for the first time; a
    process that has run them before (a test session, a fuzz worker replaying a failure) loads
    them from its cache. The logs, free memory included, are the same."""
    app = tmp_path / "app.device.nut"
    app.write_text(FREE_AT_TIMES)
    cli = subprocess.run([sys.executable, "-m", "impapi.cli", "run", str(app), "--imp", imp, "--for", "3m",
                          "--color", "never"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    new_process = re.findall(r"free (\d+)", cli.stdout)
    assert len(new_process) == 6
    for _ in range(2):
        sim = Simulation(device=app, imp=imp)
        sim.run("3m")
        here = re.findall(r"free (\d+)", "\n".join(device_lines(sim)))
        assert here == new_process
