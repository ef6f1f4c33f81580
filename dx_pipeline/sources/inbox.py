"""Inbox change detection: which submission file versions are new since last time.

Plain Python, so the Dagster sensor stays a thin loop around it. A file version is identified
by its content (sha256), not its mtime: a file copied again unchanged is not a new version, an
edited file with a preserved mtime still is. The run key ``quarter:relpath:sha256[:12]`` is
stable, so Dagster's run-key de-duplication and our cursor agree: one run per file version.

Hashing is skipped when a file's size, mtime and ctime are what the previous scan saw
(``known``), so a tick over a large inbox reads only the files that changed. The ctime is in the
test because tools that preserve the mtime (copies, syncs) cannot preserve it.

The quarter comes from the folder (``inbox/2025-Q2/...``); a file dropped elsewhere in the
inbox is opened and its reporting period (KyBaoCao) read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources import submission_readers as sr
from dx_pipeline.sources.file_safety import DEFAULT_LIMITS
from dx_pipeline.sources.submission_numbers import parse_period
from dx_pipeline.storage.inputs import FILE, Entry, read_beneath, sha256_beneath, walk

_QUARTER_FOLDER = re.compile(r"^\d{4}-[Qq][1-4]$")


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


def scan_inbox(inbox: str | Path, known: Mapping[str, tuple] | None = None) -> list[InboxFile]:
    """Every file version now in ``inbox`` (recursively, stable order), links and special
    files included: they are identified by ``lstat`` alone, never resolved or read (the ingest
    refuses them with a reject).

    ``known``: relpath -> (size, mtime_ns, sha256, ctime_ns) from the previous scan, to skip
    re-hashing unchanged files.
    """
    inbox = Path(inbox)
    known = known or {}
    out = []
    for entry in walk(inbox):
        if sr.is_skippable(entry.path):
            continue
        try:
            out.append(_version(inbox, entry, known.get(entry.relpath)))
        except FileNotFoundError:  # removed since the walk: the next tick sees it gone
            continue
    return out


def _version(inbox: Path, entry: Entry, prev: tuple | None) -> InboxFile:
    """One entry's version: its sha256 (reused when size and times are unchanged), quarter."""
    st = entry.path.lstat()
    regular = entry.kind == FILE
    if prev is not None and tuple(prev[:2]) == (st.st_size, st.st_mtime_ns) and (
        len(prev) > 3 and prev[3] == st.st_ctime_ns
    ):
        sha = prev[2]
    elif regular:
        sha = sha256_beneath(inbox, entry.relpath)[0]
    else:
        marker = f"unread:{entry.kind}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        sha = hashlib.sha256(marker.encode()).hexdigest()
    quarter = quarter_from_path(entry.relpath) or (
        quarter_from_content(inbox, entry.relpath) if regular else None
    )
    return InboxFile(entry.relpath, st.st_size, st.st_mtime_ns, sha, quarter, st.st_ctime_ns)


@dataclass(frozen=True)
class InboxState:
    """What the previous scan saw: relpath -> (size, mtime_ns, sha256, ctime_ns). Serialised
    as the sensor cursor."""

    files: Mapping[str, tuple]

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "InboxState":
        if not cursor:
            return cls({})
        data = json.loads(cursor)
        return cls({
            k: (int(v[0]), int(v[1]), str(v[2]), int(v[3]) if len(v) > 3 else 0)
            for k, v in data.get("files", {}).items()
        })

    def to_cursor(self) -> str:
        files = {k: list(v) for k, v in sorted(self.files.items())}
        return json.dumps({"files": files}, separators=(",", ":"))


def changed_files(inbox: str | Path, state: InboxState) -> tuple[list[InboxFile], InboxState]:
    """File versions not seen in ``state`` (new files, or changed content), and the new state."""
    files = scan_inbox(inbox, state.files)
    changed = [f for f in files if state.files.get(f.relpath, (None, None, None))[2] != f.sha256]
    new_state = InboxState({f.relpath: (f.size, f.mtime_ns, f.sha256, f.ctime_ns) for f in files})
    return changed, new_state
