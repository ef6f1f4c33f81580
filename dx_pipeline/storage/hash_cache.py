"""SHA-256 of large local files, remembered across runs while the file's stat is unchanged.

Why: each publication's manifest hashes every input file, the portal export (1.93 GB at 10M
dossiers) included, and the portal KPI cache key hashes the dossier partition (about 0.5 GB):
seconds of reading for files that a late submission never touches. Here the digest of a file
is kept in ``<DX_HOME>/cache/file_sha256.json`` under its path and the ``fstat`` of the opened
descriptor: device, inode, size, mtime_ns and ctime_ns. Any write to a file changes its ctime
(which no one can set back, unlike mtime), a replaced file has another inode, so a changed file
never matches its old entry and is read again.

Not trusted: an entry is only stored when the file's stat is the same before and after the
hash was computed and its ctime is more than :data:`RACY_SECONDS` old (a file written again
within one timestamp tick could keep its stat: git's "racy" rule), so a file still being
written is hashed every time. A missing, unreadable or corrupt cache file is an empty cache;
writes are atomic (a reader sees the old cache or the new one) and concurrent writers at worst
lose each other's entries, which only costs a rehash. Files smaller than :data:`MIN_BYTES`
are hashed directly: reading them costs less than the bookkeeping.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dx_pipeline.storage.atomic import atomic_path

CACHE_FILE = Path("cache") / "file_sha256.json"
SCHEMA = "dx_pipeline.file_sha256/1"
MIN_BYTES = 8 << 20
RACY_SECONDS = 2.0
MAX_ENTRIES = 512
_CHUNK = 1 << 20
_lock = threading.Lock()


def stat_fingerprint(st: os.stat_result) -> list[int]:
    """What identifies one version of a file: device, inode, size, mtime_ns, ctime_ns."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def sha256_fd(fd: int) -> str:
    """Hex SHA-256 of an open file from its start, in 1 MiB blocks (the descriptor's position
    is moved)."""
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, _CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def cached_sha256_fd(home_root: str | os.PathLike | None, name: str, fd: int,
                     compute: Callable[[int], str] = sha256_fd) -> str:
    """The SHA-256 of the open file ``fd`` (named ``name`` in the cache, e.g. its path), read
    back from ``home_root``'s cache when its ``fstat`` matches the entry, else computed (and
    stored when safe, see the module). ``home_root`` None: always computed."""
    before = os.fstat(fd)
    if home_root is None or before.st_size < MIN_BYTES:
        return compute(fd)
    cache_path = Path(home_root) / CACHE_FILE
    fingerprint = stat_fingerprint(before)
    entry = _read(cache_path).get(name)
    if isinstance(entry, dict) and entry.get("stat") == fingerprint and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = compute(fd)
    after = os.fstat(fd)
    if stat_fingerprint(after) == fingerprint and time.time() - after.st_ctime > RACY_SECONDS:
        _store(cache_path, name, {"stat": fingerprint, "sha256": digest})
    return digest


def cached_sha256_path(home_root: str | os.PathLike | None, path: str | os.PathLike) -> str:
    """:func:`cached_sha256_fd` of the local file ``path`` (opened as it is, links followed:
    for the warehouse's own files; input folders go through ``storage.inputs``)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return cached_sha256_fd(home_root, str(Path(path).absolute()), fd)
    finally:
        os.close(fd)


def _read(cache_path: Path) -> dict:
    try:
        doc = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("files"), dict):
        return {}
    return doc["files"]


def _store(cache_path: Path, name: str, entry: dict) -> None:
    """Add or replace one entry (atomic; the oldest entries dropped beyond MAX_ENTRIES). A cache
    that cannot be written is no error: the next run hashes again."""
    with _lock, contextlib.suppress(OSError):
        files = _read(cache_path)
        files.pop(name, None)
        files[name] = entry
        while len(files) > MAX_ENTRIES:
            files.pop(next(iter(files)))
        with atomic_path(cache_path, suffix=".json.tmp", durable=False) as tmp:
            tmp.write_text(json.dumps({"schema": SCHEMA, "files": files}, indent=0), encoding="utf-8")


__all__ = ["CACHE_FILE", "cached_sha256_fd", "cached_sha256_path", "sha256_fd", "stat_fingerprint"]
