"""A long-running child command (``dagster dev``) run as its own process group, stopped whole.

``dagster dev`` starts the webserver, the daemon, code servers and run workers; on a signal it
shuts them down at its own pace, and a process killed under it can leave the rest running. So
the command runs in a new session (its own process group), every SIGTERM, SIGINT or SIGHUP that
reaches ``dx-pipeline`` is passed to the whole group, and whatever of the group is still alive
``GRACE_SECONDS`` later is killed. The command returns once no process of the group is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence

GRACE_SECONDS = 10.0
"""How long the group has to stop after SIGTERM before it is killed."""
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True
    return True


def stop_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, SIGKILL what is left after ``grace`` seconds, wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_alive(pgid):
            return


def run_group(cmd: Sequence[str], env: dict[str, str] | None = None, grace: float = GRACE_SECONDS) -> int:
    """Run ``cmd`` in its own process group until it exits or a signal stops it; returns its
    exit code (128 + signal number when a signal stopped it)."""
    child = subprocess.Popen(list(cmd), env=env, start_new_session=True)
    received: list[int] = []

    def forward(signum, _frame) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        while child.poll() is None and not received:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.5)
    finally:
        stop_group(child.pid, grace)  # the leader's children too, whether it exited or not
        child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + received[0] if received else int(child.returncode)
