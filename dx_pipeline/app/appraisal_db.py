"""The appraisal database as the stages reach it: opened from the settings, and the verdicts
in force a quarter is scored with.

A quarter nobody has appraised is scored without opening (or creating) a database: only a
configured ``DX_APPRAISAL_DB_URL`` or an existing default file under DX_HOME is read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd

from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.adjustments import verdicts_in_force
from dx_pipeline.appraisal.database import AppraisalDb, open_appraisal_db
from dx_pipeline.index.appraised import empty_appraisal


@contextlib.contextmanager
def appraisal_db(settings: Settings) -> Iterator[AppraisalDb]:
    """The installation's appraisal database (created on first use), closed afterwards."""
    db = open_appraisal_db(settings.appraisal_db())
    try:
        yield db
    finally:
        db.dispose()


def stored_verdicts(settings: Settings, period: str) -> pd.DataFrame:
    """The evaluators' verdicts in force for ``period`` as the engine's appraisal table (none
    when the installation has no appraisal database yet)."""
    if not settings.has_appraisal_db():
        return empty_appraisal()
    with appraisal_db(settings) as db, db.read() as conn:
        return verdicts_in_force(conn, period)
