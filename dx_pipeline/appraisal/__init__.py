"""Appraisal: the evaluators' decisions on a period's result, kept as an append-only record.

The appraisal database (SQLAlchemy 2; SQLite under DX_HOME by default, PostgreSQL in
production) holds every state transition of a period's result, every adjustment an evaluator
made to an agency's indicator, every appeal an agency filed with its decision, and every
approval. Nothing in it is ever updated or deleted: a correction is a new row, and the database
itself refuses UPDATE and DELETE. What the rows mean for the points is the index engine's
business (:mod:`dx_pipeline.index.appraised`); rendering them belongs to ``publish``.
"""
