"""``dagster-daemon`` whose backfill loop ticks every few seconds instead of every 30.

Dagster's backfill daemon sleeps ``DEFAULT_DAEMON_INTERVAL_SECONDS`` (30 s, a module constant,
no instance setting) between iterations, and a backfill advances only on an iteration: it
submits the next runs a tick after their parents finished and is marked complete a tick after
its last run. In the two-quarter backfill test that was ~40 s of a ~190 s test spent waiting
with nothing running. What the test checks (ordering, overlap, storage) does not depend on the
tick, so the tests start the daemon through this module with a short one; production keeps
Dagster's. Usage: ``python -m dx_pipeline_tests.support.quick_daemon SECONDS run -w ws.yaml``.
"""

import sys

import dagster._daemon.controller as controller


def main() -> None:
    """Set the backfill tick from argv[1], then run the ordinary ``dagster-daemon`` CLI."""
    if not isinstance(getattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", None), int):
        raise SystemExit("dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS is gone: "
                         "this Dagster sets the backfill tick elsewhere; update quick_daemon.py")
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = int(sys.argv.pop(1))
    from dagster._daemon.cli import main as daemon_main

    sys.argv[0] = "dagster-daemon"
    daemon_main()


if __name__ == "__main__":
    main()
