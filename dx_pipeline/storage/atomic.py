"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX within one file system). Temporary files are
named ``.<target>.<host>-<pid>.<random><suffix>``: hidden from every reader (tables are read as
``quarter=*/data.parquet``), and removable by the next writer once their owner is dead.

A target in object storage (a ``UPath``, see :mod:`dx_pipeline.storage.home`) has no rename:
there a single upload is already all-or-nothing (a PUT, or a multipart upload that only
becomes the object when it completes, and is aborted on error). So the temporary file is a
local one (in ``TMPDIR``) and is uploaded over the target in one ``put_file`` on success; on
any exception nothing is uploaded and the previous object stays.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from dx_pipeline.storage.home import WarehousePath, is_remote

if TYPE_CHECKING:
    from upath import UPath


def atomic_path(
    target: "str | os.PathLike | Any", suffix: str = ".tmp", durable: bool = True
) -> AbstractContextManager[Path]:
    """Yield a temporary local path; on success it replaces ``target`` atomically.

    On any exception the temporary file is removed and ``target`` is left as it was. A local
    target's temporary file is beside it and renamed over it; an object-storage target's is in
    ``TMPDIR`` and uploaded over it in one put. ``durable=False`` skips flushing the file and
    its folder to disk: still all-or-nothing for readers, but a power cut may lose it - for
    output that is generated again at will (the sample province), where two fsyncs per file
    cost more than writing it.
    """
    if is_remote(target):
        return _upload_on_success(target, suffix)
    return _replace_on_success(target, suffix, durable)


def _temp_file(name: str, suffix: str, folder: Path | None = None) -> Path:
    """An empty hidden temporary file ``.<name>.<host>-<pid>.<random><suffix>`` in ``folder``
    (``TMPDIR`` when None)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.{_OWNER}.", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(tmp_name)


@contextlib.contextmanager
def _upload_on_success(target: Any, suffix: str) -> Iterator[Path]:
    tmp = _temp_file(target.name, suffix)
    try:
        yield tmp
        target.fs.put_file(str(tmp), target.path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def _replace_on_success(target: str | os.PathLike, suffix: str, durable: bool = True) -> Iterator[Path]:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(target, suffix)
    tmp = _temp_file(target.name, suffix, target.parent)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if durable:
            _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


_HOST = socket.gethostname().replace(".", "_").replace("-", "_") or "host"
_OWNER = f"{_HOST}-{os.getpid()}"
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+$")


def _owner_alive(host: str, pid: int) -> bool:
    if host != _HOST:
        return True  # another machine's writer (shared file system): never touch its file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(target: str | os.PathLike, suffix: str = ".tmp") -> list[Path]:
    """Remove temporary files of ``target`` left by writers that were killed (SIGKILL, power
    loss), so a crashed run leaves no debris after the next write. A temp file whose writer
    still runs (or runs on another host) is left alone: it is about to be renamed."""
    target = Path(target)
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*{suffix}"):
        m = _TEMP_NAME.match(tmp.name[: -len(suffix)] if suffix else tmp.name)
        if m is None or m.group("target") != target.name:
            continue
        if not _owner_alive(m.group("host"), int(m.group("pid"))):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


@overload
def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, durable: bool = ...) -> Path: ...
@overload
def atomic_write_bytes(target: UPath, data: bytes, durable: bool = ...) -> UPath: ...
def atomic_write_bytes(
    target: str | os.PathLike[str] | UPath, data: bytes, durable: bool = True
) -> WarehousePath:
    """Write ``data`` to ``target`` atomically (local or object storage); the written path
    (a ``Path`` for a local target, the ``UPath`` itself for object storage). ``durable``: see
    :func:`atomic_path`."""
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(target) if isinstance(target, (str, os.PathLike)) else target


@overload
def atomic_write_text(target: str | os.PathLike[str], text: str, encoding: str = ...) -> Path: ...
@overload
def atomic_write_text(target: UPath, text: str, encoding: str = ...) -> UPath: ...
def atomic_write_text(
    target: str | os.PathLike[str] | UPath, text: str, encoding: str = "utf-8"
) -> WarehousePath:
    """Write ``text`` to ``target`` atomically (local or object storage); the written path."""
    return atomic_write_bytes(target, text.encode(encoding))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
