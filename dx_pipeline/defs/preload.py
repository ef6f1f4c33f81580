"""What the multiprocess executor's forkserver imports once per run, before it forks the steps.

``dx_multiprocess`` starts one process per step, forked from a per-run forkserver. A forked
step inherits every module the forkserver imported; whatever it imports itself it pays for
again, in every step of every run. The assets import their domain modules inside their bodies
(to keep ``dagster dev`` start-up fast), and the quality suites import Great Expectations,
which alone takes 4-5 s: without this module each of a quarter's five check steps paid it.

Importing this module (the forkserver's ``preload_modules``):

- imports the code location and resolves its repository once (Definitions caches it), so a
  step does not rebuild the asset graph before it starts;
- imports the domain modules the asset and check bodies import (:data:`STEP_MODULES`) and
  Great Expectations.

Nothing here starts a thread or opens a connection: a process is only safe to fork without.
"""

from __future__ import annotations

import importlib
import warnings

STEP_MODULES: tuple[str, ...] = (
    "dx_pipeline.sources.registry",
    "dx_pipeline.sources.portal_client",
    "dx_pipeline.sources.portal_files",
    "dx_pipeline.sources.submissions",
    "dx_pipeline.kpis.compute",
    "dx_pipeline.index.quarter_scoring",
    "dx_pipeline.index.sensitivity",
    "dx_pipeline.index.period_scoring",
    "dx_pipeline.publish",
    "dx_pipeline.schemas",
    "dx_pipeline.storage.inputs",
    "dx_pipeline.quality.results",
    "dx_pipeline.quality.runner",
    "great_expectations",
)
"""Modules imported inside asset and check bodies (a test keeps this list complete)."""


def preload() -> None:
    with warnings.catch_warnings():  # Dagster's beta/preview notices, once per run is enough
        warnings.simplefilter("ignore")
        from dx_pipeline.definitions import defs

        defs.get_repository_def()
        for name in STEP_MODULES:
            importlib.import_module(name)


preload()
