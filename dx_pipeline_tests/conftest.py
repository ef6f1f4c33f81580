"""Suite-wide guard: the tests never write into a developer's real warehouse.

``DX_WAREHOUSE_URL`` in the shell that runs pytest would send every DX_HOME the entry points build from
the suite (Dagster runs included) to that bucket. The object-storage tests set their own
bucket on the test S3 server (dx_pipeline_tests/storage/conftest.py).
"""

import os

os.environ.pop("DX_WAREHOUSE_URL", None)
