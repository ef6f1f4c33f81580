"""Reading the input folders of DX_HOME without ever leaving them, and naming what was read.

Anyone who can drop a file in the inbox could drop a symbolic link instead, to ``/etc/passwd``
or to a folder of secrets. So input folders are walked and opened here without following any
link: :func:`walk` lists links, folder links included, as entries of their own (never resolved
and never walked into), and :func:`open_beneath` opens a file one path component at a time
with ``O_NOFOLLOW``, so a link anywhere on the way (even one swapped in after the walk) fails
the open instead of being followed. Anything that is not a regular file (a FIFO would block a
reader forever) is refused after ``fstat`` on the opened descriptor, so what is checked is what
is read. :func:`input_entry` names a file read for a publication manifest: its path relative
to DX_HOME, sha256 and size, from the same safe open.

Not here: which files a reader reads (``sources``), or why a refused file is refused in words
a clerk understands (``sources.file_safety``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dx_pipeline.storage.hash_cache import cached_sha256_fd
from dx_pipeline.storage.home import DxHome

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _ROOT_FLAGS | _NOFOLLOW

FILE, LINK, SPECIAL = "file", "link", "special"
"""What a walked entry is: a regular file, a symbolic link (to anything), anything else."""


class NotARegularFile(OSError):
    """A path in an input folder that is a link (``is_link``), or has one on its way, or is not
    a regular file."""

    def __init__(self, message: str, is_link: bool = False):
        self.is_link = is_link
        super().__init__(message)


@dataclass(frozen=True)
class Entry:
    """One entry of an input folder: its path, its path relative to the folder (POSIX), and
    what it is (FILE, LINK or SPECIAL), from ``lstat``: a link is never resolved."""

    path: Path
    relpath: str
    kind: str


def walk(folder: str | os.PathLike) -> list[Entry]:
    """Every file, link and special file under ``folder``, in relpath order. Folders are walked
    into, folder links are not (they are entries of kind LINK). A missing folder is empty."""
    root = Path(folder)
    if not root.is_dir() or root.is_symlink():
        return []
    return sorted(_walk(root, ""), key=lambda e: e.relpath)


def _walk(folder: Path, prefix: str) -> Iterator[Entry]:
    with os.scandir(folder) as it:
        for entry in it:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                yield Entry(Path(entry.path), rel, LINK)
            elif entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), rel + "/")
            elif entry.is_file(follow_symlinks=False):
                yield Entry(Path(entry.path), rel, FILE)
            else:
                yield Entry(Path(entry.path), rel, SPECIAL)


def open_beneath(root: str | os.PathLike, relpath: str) -> int:
    """A read-only descriptor of the regular file ``root/relpath``, opened without following a
    link at any component below ``root`` (``root`` itself is the operator's: it may be a link);
    :class:`NotARegularFile` otherwise."""
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise NotARegularFile(f"{relpath}: not a path inside {root}")
    fd = os.open(root, _ROOT_FLAGS)
    try:
        for part in parts[:-1]:
            nxt = _open_at(part, _DIR_FLAGS, fd, relpath)
            os.close(fd)
            fd = nxt
        leaf = _open_at(parts[-1], _FILE_FLAGS, fd, relpath)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(leaf).st_mode):
        os.close(leaf)
        raise NotARegularFile(f"{relpath}: not a regular file")
    return leaf


def _open_at(name: str, flags: int, dir_fd: int, relpath: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):  # how O_NOFOLLOW and O_DIRECTORY refuse
            raise
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise NotARegularFile(f"{relpath}: {name!r} is a symbolic link (never followed)", True) from None
        raise NotARegularFile(f"{relpath}: {name!r} is not a folder") from None


def read_beneath(root: str | os.PathLike, relpath: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes and ``fstat`` of the regular file ``root/relpath`` (see :func:`open_beneath`);
    a file larger than ``max_bytes`` raises :class:`FileTooLarge`, unread."""
    with os.fdopen(open_beneath(root, relpath), "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_size > max_bytes:
            raise FileTooLarge(relpath, st.st_size, st)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while it was read
        raise FileTooLarge(relpath, len(data), st)
    return data, st


class FileTooLarge(OSError):
    """A file larger than its reader takes: ``size`` is what it holds (or grew to while it was
    read), ``stat`` its ``fstat``."""

    def __init__(self, relpath: str, size: int, st: os.stat_result):
        self.size = size
        self.stat = st
        super().__init__(f"{relpath}: {size:,} bytes")


def sha256_beneath(root: str | os.PathLike, relpath: str,
                   cache_root: str | os.PathLike | None = None) -> tuple[str, int]:
    """(hex sha256, bytes) of the regular file ``root/relpath``, read in 1 MiB blocks; with
    ``cache_root`` (DX_HOME) a large file's digest is read back from the stat-keyed cache of
    :mod:`dx_pipeline.storage.hash_cache` while the opened file's ``fstat`` is unchanged."""
    with os.fdopen(open_beneath(root, relpath), "rb") as fh:
        fd = fh.fileno()
        digest = cached_sha256_fd(cache_root, str(Path(root) / relpath), fd)
        return digest, os.fstat(fd).st_size


def input_entry(home: DxHome, root: Path, relpath: str) -> dict:
    """A manifest entry for the input file ``root/relpath`` (``root`` an input folder): its path
    relative to DX_HOME as written, never resolved (absolute when the folder is configured
    outside DX_HOME), sha256 and size, read with :func:`open_beneath`."""
    path = root / relpath
    try:
        name = path.relative_to(home.root).as_posix()
    except ValueError:
        name = path.as_posix()
    digest, size = sha256_beneath(root, relpath, home.root)
    return {"path": name, "sha256": digest, "bytes": size}


__all__ = [
    "FILE",
    "LINK",
    "SPECIAL",
    "Entry",
    "FileTooLarge",
    "NotARegularFile",
    "input_entry",
    "open_beneath",
    "read_beneath",
    "sha256_beneath",
    "walk",
]
