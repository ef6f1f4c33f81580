"""The ``dx-pipeline`` command line: one module per verb group, :mod:`main` the entry point.

Belongs here: argument parsing, printing for a terminal, turning mistakes into one-line errors.
Does not belong here: anything a Dagster asset or a test also needs to compute (that lives in
the rooms below, or in :mod:`dx_pipeline.app`).
"""
