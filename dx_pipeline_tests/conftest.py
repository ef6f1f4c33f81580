"""Suite-wide guards and how the suite is spread over CPUs.

``DX_WAREHOUSE_URL`` in the shell that runs pytest would send every DX_HOME the entry points build from
the suite (Dagster runs included) to that bucket. The object-storage tests set their own
bucket on the test S3 server (dx_pipeline_tests/storage/conftest.py).

``make test`` runs the suite on two pytest-xdist workers with ``--dist loadfile
--no-loadscope-reorder``: each test file is one unit of work, so its module fixtures (often a
whole Dagster quarter) are built once, on one worker. Files holding end-to-end ``slow`` tests are
ordered by their measured cost, longest first (the classic way to balance a queue of uneven
jobs; ``file_costs.py``): the cheap files then fill whichever worker frees first, instead of one
long Dagster test starting alone at the end. Each worker gets its own DX_HOME and DAGSTER_HOME, so no SQLite
instance or warehouse file is shared between them.

``--dist loadgroup`` is not used: with pytest 9 it silently degrades to plain ``load`` (xdist
3.8 renames ``item._nodeid``, which pytest 9 no longer reads), which spread a module's tests over
both workers and built every module fixture twice.
"""

import os
import tempfile

import pytest

from dx_pipeline_tests.file_costs import load_costs, queue_costs

os.environ.pop("DX_WAREHOUSE_URL", None)

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _home = tempfile.mkdtemp(prefix=f"dx_home_{_WORKER}_")
    os.environ["DX_HOME"] = _home
    os.environ["DAGSTER_HOME"] = os.path.join(_home, "dagster")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files longest first (measured costs, :mod:`dx_pipeline_tests.file_costs`), each file's
    tests kept together and in order (a stable sort, so every worker collects the same order, as
    xdist requires)."""
    root = config.rootpath
    files = {item.path: item.path.relative_to(root).as_posix() for item in items}
    slow = {files[item.path] for item in items if item.get_closest_marker("slow")}
    cost = queue_costs(list(dict.fromkeys(files.values())), slow, load_costs())
    items.sort(key=lambda item: -cost[files[item.path]])
