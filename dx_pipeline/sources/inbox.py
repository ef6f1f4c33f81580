"""The inbox as the sensor sees it: which quarters have file versions no run has read yet.

Plain Python, so the Dagster sensor stays a thin loop around it (:func:`inbox_tick`). Three
records decide, none of them a list of every file the sensor ever saw:

- **The ledger** (:func:`record_taken_in`, :func:`read_taken_in`): each ingestion of a quarter
  writes the versions it read (path, sha256 and the file's size and times just before the read)
  to ``DX_HOME/ledger/inbox/quarter=YYYY-Qn.json``. A file version in its quarter's ledger has
  been taken in, however the run was started (sensor, schedule, ``dx-pipeline run``, a
  backfill) and whichever Dagster instance recorded it.
- **The cursor** (:class:`InboxCursor`, a few dozen bytes per quarter): for each quarter
  folder, the digest of its files' sizes and times when it was last found settled (nothing to
  run), and the digest of their contents. An unchanged folder is not read at all; a touched one
  is hashed and compared.
- **The first tick** (no cursor: a new Dagster instance, or a reset cursor) starts from what is
  there: quarters with a ledger are compared with it (a file that arrived after the last run is
  new), quarters never taken in are left as they are (their runs are the schedule's or a
  backfill's), so starting the UI next to a finished DX_HOME launches nothing.

A version is identified by content (sha256), not by time: a file copied again unchanged, or a
DX_HOME copied elsewhere, is not new; an edited file with a preserved mtime is. Runs read
``inbox/YYYY-Qn/`` only, so a file anywhere else is reported with the folder to move it to,
never run. Deleting a file starts nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources import submission_readers as sr
from dx_pipeline.sources.file_safety import DEFAULT_LIMITS
from dx_pipeline.sources.submission_numbers import parse_period
from dx_pipeline.storage.atomic import atomic_write_text
from dx_pipeline.storage.home import DxHome
from dx_pipeline.storage.inputs import FILE, Entry, read_beneath, sha256_beneath, walk

_QUARTER_FOLDER = re.compile(r"^\d{4}-[Qq][1-4]$")
DIGEST_CHARS = 16
"""Hex characters kept of a folder digest in the cursor (64 bits)."""


@dataclass(frozen=True)
class InboxFile:
    """One version of one inbox file."""

    relpath: str
    size: int
    mtime_ns: int
    sha256: str
    quarter: Quarter | None
    ctime_ns: int = 0

    @property
    def run_key(self) -> str:
        label = self.quarter.label if self.quarter else "unknown"
        return f"{label}:{self.relpath}:{self.sha256[:12]}"


def quarter_from_path(relpath: str) -> Quarter | None:
    """The quarter of the first folder named like ``2025-Q2`` on the path, if any."""
    for part in Path(relpath).parts[:-1]:
        if _QUARTER_FOLDER.match(part):
            return Quarter.parse(part.upper())
    return None


def quarter_from_content(inbox: Path, relpath: str) -> Quarter | None:
    """The reporting period written in the file ``inbox/relpath`` (header block or KyBaoCao
    column), if it is a readable regular file: it is opened without following links."""
    layout = sr.load_layout()
    suffix = Path(relpath).suffix.lower()
    try:
        data, _ = read_beneath(inbox, relpath, DEFAULT_LIMITS.max_file_bytes)
        if suffix == ".csv":
            _, grid, _ = sr._csv_grid_bytes(data)
        elif suffix == ".xlsx":
            _, grid = sr._xlsx_grid(data, layout, name=relpath)
        else:
            return None
    except (sr._Unreadable, OSError):  # links, special files, too large, removed: not read
        return None
    return _period_in(grid, layout, suffix == ".csv")


def _period_in(grid: sr.Grid, layout: sr.SubmissionLayout, is_csv: bool) -> Quarter | None:
    """The first readable period of the header block, the layout's cell or the KyBaoCao column."""
    head = [cells for _, cells, _ in grid[: sr.HEADER_SEARCH_ROWS]]
    found = sr._find_header(head, layout.header_lookup())
    candidates = []
    if found is not None:
        idx, columns = found
        candidates.append(sr._meta_from_labels(head[:idx]).get("quarter"))
        if not is_csv:
            candidates.append(sr._cell_at(grid, layout.meta_cells["quarter"]))
        qcol = next((i for i, name in columns.items() if name == "quarter"), None)
        if qcol is not None:
            candidates.extend(cells[qcol] for _, cells, _ in grid[idx + 1: idx + 50] if qcol < len(cells))
    for value in candidates:
        try:
            return parse_period(value)
        except ValueError:
            continue
    return None


def _entries(inbox: Path) -> list[Entry]:
    """Every entry of the inbox a reader would consider (office lock files and the like not)."""
    return [e for e in walk(inbox) if not sr.is_skippable(e.path)]


def scan_inbox(inbox: str | Path) -> list[InboxFile]:
    """Every file version now in ``inbox`` (recursively, stable order), links and special
    files included: they are identified by ``lstat`` alone, never resolved or read (the ingest
    refuses them with a reject)."""
    inbox = Path(inbox)
    out = []
    for entry in _entries(inbox):
        with contextlib.suppress(FileNotFoundError):  # removed since the walk: gone next tick
            out.append(_version(inbox, entry, with_quarter=True))
    return out


def _version(inbox: Path, entry: Entry, *, with_quarter: bool = False) -> InboxFile:
    """One entry's version: sha256 of a regular file's bytes, or a marker of a link's or special
    file's ``lstat`` (never resolved); the quarter from its folder or, if asked, its content."""
    st = entry.path.lstat()
    regular = entry.kind == FILE
    if regular:
        sha = sha256_beneath(inbox, entry.relpath)[0]
    else:
        marker = f"unread:{entry.kind}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        sha = hashlib.sha256(marker.encode()).hexdigest()
    quarter = quarter_from_path(entry.relpath)
    if quarter is None and with_quarter and regular:
        quarter = quarter_from_content(inbox, entry.relpath)
    return InboxFile(entry.relpath, st.st_size, st.st_mtime_ns, sha, quarter, st.st_ctime_ns)


# --- the ledger: what each quarter's ingestion read ------------------------------------------

def ledger_path(home: DxHome, quarter: Quarter) -> Path:
    """``DX_HOME/ledger/inbox/quarter=YYYY-Qn.json``."""
    return home.root / "ledger" / "inbox" / f"quarter={quarter.label}.json"


def file_stat(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, ctime_ns) from ``lstat``, None if the file is gone. Taken before a file
    is read, so a change during the read shows as a newer ctime."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def record_taken_in(
    home: DxHome, quarter: Quarter, versions: Iterable[tuple[str, str, tuple[int, int, int] | None]]
) -> Path:
    """Write the quarter's ledger: every (relpath under the inbox, sha256, stat before the
    read) an ingestion read. Replaces the previous ledger: an ingestion reads the whole folder."""
    files = {rel: [sha, *(stat or (-1, -1, -1))] for rel, sha, stat in sorted(versions)}
    text = json.dumps({"quarter": quarter.label, "files": files}, indent=0, sort_keys=True)
    return atomic_write_text(ledger_path(home, quarter), text)


def read_taken_in(home: DxHome, quarter: Quarter) -> dict[str, tuple[str, int, int, int]] | None:
    """relpath -> (sha256, size, mtime_ns, ctime_ns) the last ingestion of ``quarter`` read,
    or None if it was never taken in (or its ledger cannot be read)."""
    try:
        data = json.loads(ledger_path(home, quarter).read_text(encoding="utf-8"))
        return {rel: (str(v[0]), int(v[1]), int(v[2]), int(v[3])) for rel, v in data["files"].items()}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


# --- the sensor's tick --------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxCursor:
    """Per quarter folder, the (stat digest, content digest) at which it was last settled."""

    settled: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "InboxCursor | None":
        """The cursor's record, or None on a first tick (no cursor, or one of an older format:
        the tick then starts from what is there, as on a new instance)."""
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            return cls({str(k): (str(v[0]), str(v[1])) for k, v in data["settled"].items()})
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return None

    def to_cursor(self) -> str:
        return json.dumps({"settled": {k: list(v) for k, v in sorted(self.settled.items())}},
                          separators=(",", ":"))


@dataclass(frozen=True)
class QuarterChange:
    """A quarter with file versions no run has read: the run to request."""

    quarter: Quarter
    files: tuple[InboxFile, ...]
    run_key: str


@dataclass(frozen=True)
class InboxTick:
    """What one look at the inbox found."""

    changes: list[QuarterChange]
    """Quarters to run, oldest first."""
    waiting: dict[str, int]
    """Quarters that cannot run yet (not a partition: not closed, or before the first) -> files."""
    loose: list[tuple[str, Quarter | None]]
    """Files outside the quarter folders (runs never read them), with the quarter they name."""
    cursor: InboxCursor


def _digest(lines: Iterable[str]) -> str:
    text = "\n".join(sorted(lines)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()[:DIGEST_CHARS]


def _stat_digest(entries: list[Entry]) -> str:
    """Digest of a folder's entries' kinds, sizes and times (``lstat``: cheap, nothing read)."""
    lines = []
    for e in entries:
        stat = file_stat(e.path)
        lines.append(f"{e.relpath}\0{e.kind}\0{stat}")
    return _digest(lines)


def _group(entries: list[Entry]) -> tuple[dict[Quarter, list[Entry]], list[Entry]]:
    """Entries of the quarter folders (``inbox/YYYY-Qn/``, named exactly as runs read them) by
    quarter, and the entries anywhere else."""
    folders: dict[Quarter, list[Entry]] = {}
    loose = []
    for e in entries:
        top = e.relpath.split("/", 1)[0]
        if "/" in e.relpath and _QUARTER_FOLDER.match(top) and top == top.upper():
            folders.setdefault(Quarter.parse(top), []).append(e)
        else:
            loose.append(e)
    return folders, loose


def _new_versions(home: DxHome, quarter: Quarter, entries: list[Entry],
                  taken: Mapping[str, tuple[str, int, int, int]]) -> list[InboxFile]:
    """The quarter's file versions its ledger does not hold (unchanged stat: not read again)."""
    out = []
    for e in entries:
        known = taken.get(e.relpath)
        if known is not None and known[1:] == file_stat(e.path):
            continue
        with contextlib.suppress(FileNotFoundError):
            version = _version(home.inbox, e)
            if known is None or (known[0] != version.sha256 and e.kind == FILE):
                out.append(version)
    return out


def _versions(home: DxHome, entries: list[Entry]) -> list[InboxFile]:
    out = []
    for e in entries:
        with contextlib.suppress(FileNotFoundError):
            out.append(_version(home.inbox, e))
    return out


def _change(quarter: Quarter, files: list[InboxFile], whole_folder: str | None = None) -> QuarterChange:
    """One run request's worth: a lone new file keeps its own run key; several share one keyed
    by all their versions; a folder never taken in is keyed by its content digest."""
    if whole_folder is not None:
        key = f"{quarter.label}:inbox:{whole_folder}"
    elif len(files) == 1:
        key = files[0].run_key
    else:
        key = f"{quarter.label}:batch:{_digest(f.run_key for f in files)[:12]}"
    return QuarterChange(quarter, tuple(files), key)


def _judge_folder(home: DxHome, quarter: Quarter, entries: list[Entry], stat: str,
                  previous: tuple[str, str] | None, first_tick: bool,
                  ) -> tuple[QuarterChange | None, tuple[str, str] | None]:
    """A changed quarter folder (``stat`` its new stat digest): the run it needs (if any), and
    its settled record (None while a run is needed: the folder is judged again next tick, and
    Dagster refuses the same run key twice)."""
    taken = read_taken_in(home, quarter)
    if taken is not None:
        new = _new_versions(home, quarter, entries, taken)
        if new:
            return _change(quarter, new), None
        return None, (stat, previous[1] if previous else "")
    versions = _versions(home, entries)
    content = _digest(f"{v.relpath}\0{v.sha256}" for v in versions)
    if first_tick or (previous is not None and previous[1] == content):
        return None, (stat, content)  # as it was found (first tick), or only touched
    return _change(quarter, versions, whole_folder=content), None


Runnable = Callable[[Quarter], bool]


def inbox_tick(home: DxHome, cursor: InboxCursor | None, runnable: Runnable) -> InboxTick:
    """Look at the inbox once: the quarters whose folders hold versions no run has read (and
    that ``runnable`` says can run), the ones that must wait, the files in no quarter folder,
    and the cursor to keep. ``cursor`` None is a first tick (see the module docstring)."""
    folders, loose = _group(_entries(home.inbox))
    first_tick = cursor is None
    before = cursor.settled if cursor is not None else {}
    settled: dict[str, tuple[str, str]] = {}
    changes: list[QuarterChange] = []
    waiting: dict[str, int] = {}
    for quarter, entries in sorted(folders.items()):
        previous, stat = before.get(quarter.label), _stat_digest(entries)
        if previous is not None and previous[0] == stat:
            settled[quarter.label] = previous
            continue
        if not runnable(quarter):
            waiting[quarter.label] = len(entries)
            continue
        change, record = _judge_folder(home, quarter, entries, stat, previous, first_tick)
        if change is not None:
            changes.append(change)
        if record is not None:
            settled[quarter.label] = record
    named = [(e.relpath, quarter_from_path(e.relpath) or (
        quarter_from_content(home.inbox, e.relpath) if e.kind == FILE else None)) for e in loose]
    return InboxTick(changes, waiting, named, InboxCursor(settled))
