"""``dx-pipeline ui`` runs ``dagster dev`` as its own process group and stops all of it: on
SIGTERM every process the command started is gone, even those that ignore the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dx_pipeline.cli.processes import group_alive, run_group

STUBBORN = """
trap '' TERM INT HUP
echo $$ > "$1"
sh -c "trap '' TERM INT HUP; sleep 300" &
sleep 300 &
wait
"""
"""A stand-in for dagster dev at its worst: a leader and children that ignore SIGTERM."""


def _wait_for(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} was never written")


def test_sigterm_stops_the_whole_group_even_what_ignores_it(tmp_path):
    pidfile = tmp_path / "leader.pid"
    code = ("import sys; from dx_pipeline.cli.processes import run_group; "
            f"sys.exit(run_group(['sh', '-c', {STUBBORN!r}, 'sh', {str(pidfile)!r}], grace=1.0))")
    wrapper = subprocess.Popen([sys.executable, "-c", code])
    try:
        leader = int(_wait_for(pidfile))
        time.sleep(0.5)  # the children are started
        assert group_alive(leader)
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=60) == 128 + signal.SIGTERM
        assert not group_alive(leader), "a process of the group survived"
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
        if os.path.exists(pidfile) and group_alive(int(pidfile.read_text())):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)


def test_when_the_command_ends_its_children_go_with_it(tmp_path):
    pidfile = tmp_path / "leader.pid"
    script = 'echo $$ > "$1"; sleep 300 & exit 3'
    try:
        assert run_group(["sh", "-c", script, "sh", str(pidfile)], grace=1.0) == 3
        assert not group_alive(int(_wait_for(pidfile)))
    finally:
        if pidfile.exists() and group_alive(int(pidfile.read_text())):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)
