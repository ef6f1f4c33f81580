"""How a message names many things (rows, codes, files): the first few shown, the rest counted.

A message that names every item grows with its input, so a hostile file of a million duplicate
rows would make a million messages each naming a million rows. Every reason, error and printout
that lists items from the input goes through :func:`few`, so it stays a few lines long whatever
the input ("rows 12, 40, 97 and 9,997 others"). Counting and formatting only; nothing here
knows what the items are.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

SHOWN = 3
"""How many items a message names before it counts the rest."""


def few(items: Iterable[object], total: int | None = None, shown: int = SHOWN) -> str:
    """``"a"``, ``"a and b"``, ``"a, b, c and 9,997 others"``: at most ``shown`` items named.

    ``items`` is read only as far as needed; ``total`` (when the caller knows it, e.g. a group's
    size) counts the items not named without reading them.
    """
    it = iter(items)
    head = [str(x) for x in islice(it, shown)]
    rest = (total - len(head)) if total is not None else sum(1 for _ in it)
    if rest > 0:
        return f"{', '.join(head)} and {rest:,} other{'s' if rest > 1 else ''}"
    if len(head) <= 1:
        return "".join(head)
    return f"{', '.join(head[:-1])} and {head[-1]}"


def rows_phrase(rows: Iterable[object], total: int | None = None, shown: int = SHOWN) -> str:
    """``"row 8"``, ``"rows 8 and 9"``, ``"rows 8, 9, 10 and 997 others"``."""
    text = few(rows, total, shown)
    return f"row {text}" if " and " not in text else f"rows {text}"


__all__ = ["SHOWN", "few", "rows_phrase"]
