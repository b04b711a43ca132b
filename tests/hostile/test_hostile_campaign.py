"""A few hundred hostile Squirrel programs, each in a forked child, in both dialects of a bare
VM and through ``impsim run``: none may end in a crash, a hang, an undocumented exception, a VM
left unusable after a limit, or a run far over its limits. The same driver as the long
campaign (``python -m tools.hostile campaign``), over fixed seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = 300  # 100 programs per mode; about 45 s of CPU, on two workers


def test_a_few_hundred_hostile_programs_end_in_documented_outcomes():
    proc = subprocess.run([sys.executable, "-m", "tools.hostile", "campaign", "--seeds", f"0:{SEEDS}",
                           "--workers", "2", "--json", "--no-shrink"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    summary = json.loads(proc.stdout)
    assert summary["programs"] == SEEDS
    by_class = summary["by_class"]
    # The generator reaches every documented outcome, not only the easy ones.
    assert by_class["ok"] and by_class["script-error"] and by_class["limit"]
    found = [f"{f['class']} in {f['mode']} (seed {f['seed']}, {f['count']}x): {f['detail']}\n"
             f"replay: python -m tools.hostile replay --seed {f['seed']} --show\n{f['output'][-600:]}"
             for f in summary["failures"]]
    assert not found, "\n\n".join(found)
    assert proc.returncode == 0, proc.stderr
