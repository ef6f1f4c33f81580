"""Codes a person typed (agency, indicator, framework codes) resolved against the ones that exist.

A code is matched exactly, else ignoring case and the separator (``so_yt``, ``So-Yt`` and
``SO YT`` are ``SO-YT``); a code that matches nothing is a one-line error naming the closest
codes, so the next command works.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MATCHES = 3
"""Close codes a mistake's message suggests."""
CUTOFF = 0.75
"""How similar (difflib ratio) a code must be to be suggested: a letter or two off, not a
shared prefix such as ``SO-``."""


def _folded(code: str) -> str:
    """A code without case or separator differences."""
    return code.strip().upper().replace("_", "-").replace(" ", "-")


def resolve_code(typed: str, known: Iterable[object], what: str = "agency", where: str = "") -> str:
    """The code of ``known`` that ``typed`` means; ValueError with the close matches if none."""
    codes = sorted({str(c) for c in known if c is not None and str(c) != "nan"})
    if typed in codes:
        return typed
    by_folded: dict[str, list[str]] = {}
    for code in codes:
        by_folded.setdefault(_folded(code), []).append(code)
    same = by_folded.get(_folded(typed), [])
    if len(same) == 1:
        return same[0]
    key = _folded(typed)
    close = [f for f in by_folded if key and f.startswith(key)]  # a code typed short
    similar = difflib.get_close_matches(key, list(by_folded), n=MATCHES, cutoff=CUTOFF)
    close += [f for f in similar if f not in close]
    suggestions = [c for folded in close for c in by_folded[folded]][:MATCHES]
    place = f" {where}" if where else ""
    if suggestions:
        hint = "did you mean " + " or ".join(suggestions) + "?"
    elif codes:
        hint = f"{len(codes)} {what} codes exist, e.g. {', '.join(codes[:3])}"
    else:
        hint = f"there is no {what} at all"
    raise ValueError(f"no {what} {typed!r}{place}; {hint}")
