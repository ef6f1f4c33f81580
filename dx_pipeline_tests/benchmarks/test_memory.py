"""The benchmark's memory figures are each process's own.

A parent that has grown large first (as the runner did when it generated the data itself)
starts a child that allocates a known, smaller amount. Measured through
:func:`benchmarks.memory.run_measured` the child's peak is its own allocation plus an
interpreter; read from the parent's own ``wait4`` it would be the parent's size (checked too,
so the test shows the trap is real on this kernel and not only that the launcher works).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.runner import REPO_ROOT

PARENT_MB = 700
CHILD_MB = 150

# The child touches every page of CHILD_MB, then reports its own VmHWM.
CHILD = f"""
from benchmarks.memory import own_peak_mb
block = bytearray({CHILD_MB} * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
print(own_peak_mb())
"""

# The parent grows to PARENT_MB first, then runs the child both ways.
PARENT = f"""
import json, os, subprocess, sys
from benchmarks.memory import own_peak_mb, run_measured
ballast = bytearray({PARENT_MB} * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1
cmd = [sys.executable, "-c", {CHILD!r}]
measured = run_measured(cmd, stdout=subprocess.PIPE)
direct = subprocess.Popen(cmd, stdout=subprocess.PIPE)
own = float(direct.stdout.read())
_, status, usage = os.wait4(direct.pid, 0)
print(json.dumps(dict(parent_mb=own_peak_mb(), measured_mb=measured.peak_mb, launcher_mb=measured.launcher_mb,
                      returncode=measured.returncode, cpu=measured.cpu_seconds,
                      child_own_mb=own, direct_wait4_mb=usage.ru_maxrss / 1024)))
"""


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_childs_peak_is_its_own_not_its_big_parents():
    r = _run(PARENT)
    assert r["parent_mb"] >= PARENT_MB  # the trap: a parent much larger than the child
    assert r["returncode"] == 0 and r["cpu"] > 0
    # the child's allocation plus one interpreter, and nowhere near the parent's size
    assert CHILD_MB <= r["measured_mb"] <= CHILD_MB + 80, r
    assert abs(r["measured_mb"] - r["child_own_mb"]) <= 5, r  # what the child saw itself
    assert r["launcher_mb"] < 30, r  # the launcher stays small
    # measured directly from the big parent, the same child would have shown the parent's size
    assert r["direct_wait4_mb"] >= PARENT_MB, r


def test_a_grandchilds_peak_counts_in_its_parents_figure():
    """A stage that starts a process of its own is charged for it (wait4 counts reaped children)."""
    grandchild = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}], check=True)"
    code = f"""
import json, sys
from benchmarks.memory import run_measured
m = run_measured([sys.executable, "-c", {grandchild!r}])
print(json.dumps(dict(measured_mb=m.peak_mb)))
"""
    r = _run(code)
    assert r["measured_mb"] >= CHILD_MB, r


def test_a_failing_command_reports_its_exit_code(tmp_path: Path):
    from benchmarks.memory import run_measured

    m = run_measured([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert m.returncode == 3
    missing = run_measured([str(tmp_path / "no-such-program")], stderr=subprocess.DEVNULL)
    assert missing.returncode == 127
