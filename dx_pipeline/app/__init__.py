"""The application layer: runs one stage of a quarter or a period from the rooms below.

Belongs here: one function per stage (read the stage's inputs from the warehouse, call the
domain, write its outputs atomically, return a plain record of what happened), and the
:class:`~dx_pipeline.app.settings.Settings` those functions receive. Both the Dagster assets
and the command line call these functions, so a quarter computes the same way from either.
Does not belong here: Dagster objects, reading the environment (the entry points do that),
or domain rules (those live in the rooms below).
"""
