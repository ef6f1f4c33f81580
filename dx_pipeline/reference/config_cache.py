"""Configuration files parsed once per process, keyed by the file's path and stat.

Why: one republication loaded the KPI catalogue and the framework files 56 times (the scores,
their reproducibility check, the KPI rollup, the exports each load them again), several
seconds of YAML parsing and schema validation for files that did not change. Here the parsed
object is kept for the life of the process under the key (resolved path, size, mtime_ns,
inode, ctime_ns, and whatever else the caller says the result depends on); any change of the
file's stat, even with the same mtime (an editor that keeps it, a copy over it), changes the
key and the file is parsed again. A loader that raises caches nothing.

The objects returned are shared between callers: only immutable ones (frozen dataclasses with
read-only mappings) may be cached here.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 256
"""Entries kept (least recently used dropped): the packaged frameworks and catalogue are a few
dozen; tests that write many temporary files must not grow the process without end."""

_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()


def stat_key(path: str | os.PathLike) -> tuple[str, int, int, int, int]:
    """(resolved path, size, mtime_ns, inode, ctime_ns): what says a file may have changed."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def cached_parse(kind: str, path: str | os.PathLike, extra: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s result for ``path`` as it is now, parsed at most once per stat of the file.

    ``kind`` names the loader (two loaders of one file never share an entry), ``extra`` is
    everything else the result depends on. The path as given is part of the key too (a loaded
    object may record it, e.g. a framework's ``source``). A file that cannot be stat-ed is loaded directly
    (the loader raises its own error)."""
    try:
        key = (kind, os.fspath(path), stat_key(path), extra)
    except OSError:
        return load()
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]
    value = load()
    with _lock:
        _entries[key] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every parsed file (tests)."""
    with _lock:
        _entries.clear()
