"""Peak memory of a command, measured so that it is the command's own.

Why not ``os.wait4`` on a child of the runner: Linux keeps a process's RSS high-water mark
across ``execve`` (the old address space's peak is folded into the process's ``maxrss`` when
it is replaced), so a child started by a runner that once held 1.2 GB reports at least 1.2 GB
whatever it did itself. The benchmark's first version showed the data generator's 1,156 MB
for every later stage this way.

What this module does instead: the runner starts a *launcher*, a bare interpreter (``python
-S``, only ``os`` and ``sys``, about 10 MB), which forks and execs the command, waits for it
with ``os.wait4`` and writes the command's ``ru_maxrss`` and CPU time to a file. The mark
the command inherits is the launcher's, not the runner's; and ``wait4`` counts the command's
own waited-for children too. The launcher's own high-water mark is recorded beside it
(``launcher_mb``): a figure at that level means "no more than the launcher", not a measurement.

:func:`own_peak_mb` is the other half: a process's ``VmHWM`` (peak RSS of its current address
space, which starts fresh at ``execve``), read from ``/proc/self/status``; the stages report it
themselves as a cross-check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_LAUNCHER = r"""
import os, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
hwm = 0
with open("/proc/self/status") as fh:
    for line in fh:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
with open(out, "w") as fh:
    fh.write(f"{os.waitstatus_to_exitcode(status)} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime} {hwm}")
"""


@dataclass(frozen=True)
class Measured:
    """One command's exit code, wall time and resource use, as its launcher saw them."""

    returncode: int
    seconds: float
    peak_mb: float
    cpu_seconds: float
    launcher_mb: float


def run_measured(cmd: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 stdout: IO | int | None = None, stderr: IO | int | None = None,
                 env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` under a small launcher; its peak RSS is its own (and its children's)."""
    with tempfile.TemporaryDirectory(prefix="dx_measure_") as tmp:
        result = Path(tmp) / "usage"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, str(result), *cmd],
                              cwd=cwd, stdout=stdout, stderr=stderr, env=env, check=False)
        seconds = time.perf_counter() - t0
        if not result.exists():
            raise RuntimeError(f"the measuring launcher failed (exit {proc.returncode}) for {list(cmd)}")
        code, maxrss_kb, cpu, launcher_kb = result.read_text().split()
    return Measured(returncode=int(code), seconds=seconds, peak_mb=int(maxrss_kb) / 1024,
                    cpu_seconds=float(cpu), launcher_mb=int(launcher_kb) / 1024)


def own_peak_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``), in MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
