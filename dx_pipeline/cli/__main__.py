"""``python -m dx_pipeline.cli``: the same as ``dx-pipeline``."""

import sys

from dx_pipeline.cli.main import main

sys.exit(main())
