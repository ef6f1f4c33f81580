"""Variables of a developer's shell that would point a test's pipeline elsewhere than its sample."""

PIPELINE_OVERRIDES = (
    "DX_REGISTRY", "DX_REPORTING_DB_URL", "DX_PORTAL_URL", "DX_PORTAL_TOKEN", "DX_EXECUTOR",
    "DX_MAX_CONCURRENT", "DX_START_METHOD", "DX_CELERY_BROKER", "DX_CELERY_BACKEND",
    "DX_CELERY_QUEUE",
)
"""Cleared for tests that start Dagster processes on a sample (the UI, the backfill daemon)."""
