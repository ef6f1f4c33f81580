"""Fixtures of the portal tests: the sample portal's export files, and an empty pipeline home."""

import pytest

from dx_pipeline.storage import DxHome

from .portal_fixtures import write_exports


@pytest.fixture
def source(tmp_path):
    """A home holding the test portal's export files (no bad rows): what the server serves."""
    home = DxHome(tmp_path / "portal")
    write_exports(home.root, bad_rows=False)
    return home


@pytest.fixture
def target(tmp_path):
    """The pipeline's own home, empty."""
    return DxHome(tmp_path / "pipeline")
