"""Each submission workbook's sheet, as read by openpyxl, kept under DX_HOME by its bytes.

Why: every ingest of a quarter's submissions read every inbox file again, most of them .xlsx
workbooks through openpyxl (181 of the 239 files of a 10M-dossier quarter: about two thirds of
the submissions step); a late file changes one of them. Here the outcome of
:func:`dx_pipeline.sources.submission_readers._xlsx_grid` (the sheet's name and its grid, or
why the workbook is unreadable) is stored in
``<DX_HOME>/cache/submission_grids/<key>.pickle``, the key being the SHA-256 of the workbook's
bytes, of everything else the reading depends on (the layout's sheet, the file name the
reasons quote, the limits, the rows read before it from the same bundle) and of the code that
reads (this module, ``submission_readers``, ``file_safety``, ``submission_numbers``, the
openpyxl and Python versions). Everything after the grid (the header, each row's rules against
the registry and catalogue, duplicates, versions) runs on every ingest, as before; so the
result is the one a fresh read gives (tested).

Reading back only unpickles plain values (text, numbers, booleans, None, dates and times):
anything else in a stored file, a corrupt or truncated one, is a miss and the workbook is read
again. Writes are atomic. Deleting the folder is safe. The cache is used only while
:func:`using` is active (the quarter's ingest sets it to DX_HOME); elsewhere (the inbox scan,
one-file checks) workbooks are read directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import pickle
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import openpyxl

from dx_pipeline.storage.atomic import atomic_path

CACHE_DIR = Path("cache") / "submission_grids"
_folder: contextvars.ContextVar[Path | None] = contextvars.ContextVar("submission_grid_cache", default=None)
READING_CODE = ("grid_cache.py", "submission_readers.py", "file_safety.py", "submission_numbers.py")
"""The files (in this folder) whose code decides what a workbook reads as."""
_ALLOWED = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"),
            ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal")}


@contextlib.contextmanager
def using(home_root: str | Path | None) -> Iterator[None]:
    """Within the block, workbooks are read through the cache of ``home_root`` (None: not)."""
    token = _folder.set(Path(home_root) / CACHE_DIR if home_root is not None else None)
    try:
        yield
    finally:
        _folder.reset(token)


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 of the reading code and the versions it runs on (the modules' files are read
    by path, not imported: ``submission_readers`` imports this module)."""
    digest = hashlib.sha256(f"{openpyxl.__version__}|{sys.version_info[:3]}".encode())
    for name in READING_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def grid_key(source: bytes, parts: tuple) -> str:
    """The cache key of one reading of ``source`` with ``parts`` (everything else it uses)."""
    digest = hashlib.sha256(code_version().encode())
    digest.update(repr(parts).encode("utf-8"))
    digest.update(hashlib.sha256(source).digest())
    return digest.hexdigest()


class _PlainValues(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def cached(source: bytes, parts: tuple, read: Callable[[], tuple[str, Any]],
           unreadable: type[Exception]) -> tuple[str, Any]:
    """``read()``'s (sheet, grid), or its ``unreadable`` exception raised again, from the cache
    when one is active and holds this key; otherwise read (and stored)."""
    folder = _folder.get()
    if folder is None:
        return read()
    path = folder / f"{grid_key(source, parts)}.pickle"
    stored = _load(path)
    if stored is None:
        try:
            stored = ("ok", read())
        except unreadable as exc:
            stored = ("unreadable", str(exc))
        _store(path, stored)
    kind, value = stored
    if kind == "unreadable":
        raise unreadable(value)
    sheet, grid = value
    return sheet, grid


def _load(path: Path) -> tuple[str, Any] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        stored = _PlainValues(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - any damage is a miss
        return None
    if (isinstance(stored, tuple) and len(stored) == 2 and stored[0] in ("ok", "unreadable")
            and (stored[0] == "unreadable" or (isinstance(stored[1], tuple) and len(stored[1]) == 2))):
        return stored
    return None


def _store(path: Path, stored: tuple[str, Any]) -> None:
    with contextlib.suppress(OSError, pickle.PicklingError):
        data = pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".pickle.tmp", durable=False) as tmp:
            tmp.write_bytes(data)


__all__ = ["CACHE_DIR", "cached", "code_version", "grid_key", "using"]
