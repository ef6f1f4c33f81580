"""The index engine: frameworks as data, scores that explain themselves.

Plain Python, no Dagster. Typical use::

    from dx_pipeline.index import score, load_builtin
    result = score("qd766", long_df, registry=agencies_df)
    result.scores   # index_scores rows (without quarter)
    result.ranking  # ranking_snapshot rows (without quarter, revision, published_at)
"""

from dx_pipeline.index.builtins import (
    builtin_frameworks,
    builtin_paths,
    frameworks_for,
    load_builtin,
    resolve_framework,
)
from dx_pipeline.index.engine import ScoreResult, score
from dx_pipeline.index.explain import explain
from dx_pipeline.index.loader import FrameworkError, load_framework
from dx_pipeline.index.ranking import competition_rank
from dx_pipeline.index.uncertainty import rank_uncertainty
from dx_pipeline.reference.frameworks import Framework, Node

__all__ = [
    "Framework",
    "FrameworkError",
    "Node",
    "ScoreResult",
    "builtin_frameworks",
    "builtin_paths",
    "competition_rank",
    "explain",
    "frameworks_for",
    "load_builtin",
    "load_framework",
    "rank_uncertainty",
    "resolve_framework",
    "score",
]
