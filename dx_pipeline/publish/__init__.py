"""Publishing: immutable ranking revisions, their manifest and verification, the printable
summary and the DX portal website (``site/``), exports for Excel and BI tools, and the data
dictionary.

Belongs here: turning scored and ranked tables into files people and BI tools read, and
proving later that those files are unchanged. Does not belong here: scoring or ranking (index),
combining quarters into periods (kpis), what a period is (reference), Dagster (defs).
"""
