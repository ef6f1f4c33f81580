"""Data quality: expectation suites declared once, a runner (DuckDB + Great Expectations),
dq_results and the quarter's HTML report. Plain Python; the Dagster checks live in
:mod:`dx_pipeline.defs.checks`."""
