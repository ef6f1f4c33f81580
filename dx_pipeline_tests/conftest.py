"""Suite-wide guards and how the suite is spread over CPUs.

``DX_WAREHOUSE_URL`` in the shell that runs pytest would send every DX_HOME the entry points build from
the suite (Dagster runs included) to that bucket. The object-storage tests set their own
bucket on the test S3 server (dx_pipeline_tests/storage/conftest.py).

``make test`` runs the suite on two pytest-xdist workers with ``--dist loadgroup``: each test file
is one group (its module fixtures, often a whole Dagster quarter, are built once), and the files
with end-to-end ``slow`` tests form a single group, so they run one after another on one worker
while the other worker takes everything else. Two of them at once would each start Dagster
daemons, code servers and step processes on the same two cores. Each worker gets its own
DX_HOME and DAGSTER_HOME, so no SQLite instance or warehouse file is shared between them.
"""

import os
import tempfile

import pytest

os.environ.pop("DX_WAREHOUSE_URL", None)

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _home = tempfile.mkdtemp(prefix=f"dx_home_{_WORKER}_")
    os.environ["DX_HOME"] = _home
    os.environ["DAGSTER_HOME"] = os.path.join(_home, "dagster")

SLOW_GROUP = "slow-end-to-end"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test its xdist group (before xdist reads the marks): its file, or the one
    group of files that hold slow end-to-end tests."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = SLOW_GROUP if item.path in slow_files else item.path.relative_to(config.rootpath).as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
