"""File-level guards for everything agencies send: the one place that decides what is refused.

Submissions come from outside the province's control (e-mail attachments, USB sticks, zips
made on any tool), so before a reader opens a file we check what it is, not what it claims:

* what it is: a symbolic link (to a file or a folder) is refused without being resolved, and so
  is anything that is not a regular file; the inbox is walked and opened by
  ``storage.inputs``, which never follows a link (a link would let anyone who can drop a file
  make the pipeline read, hash and publish any file on the server);
* how big it is: files over ``FileLimits.max_file_bytes`` are refused before being read;
* what is inside a zip container (``.xlsx`` is one): member count, total uncompressed size,
  compression ratio and each worksheet's unpacked size are checked from the zip directory
  BEFORE openpyxl inflates anything, so a zip bomb or a sheet of a million rows costs nothing;
  member names that are absolute or climb out with ``..`` are refused;
* how long it is: readers stop at ``FileLimits.max_rows`` filled rows and refuse the file;
* active content: workbooks with macros (``vbaProject.bin``, ``.xlsm``) or links to other
  workbooks (``xl/externalLinks/``) are refused, because their values are not what was typed.

Every refusal is an :class:`UnsafeFileError` (a ``ValueError``) whose message names the file and
says what to do; readers turn it into one reject row so the rest of the quarter goes on.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MACRO_MEMBER = re.compile(r"(^|/)vbaProject\.bin$", re.IGNORECASE)
EXTERNAL_LINK_PREFIX = "xl/externallinks/"
BUNDLE_SUFFIXES = (".zip",)
READABLE_IN_BUNDLE = (".xlsx", ".csv")


class UnsafeFileError(ValueError):
    """A file (or a member of a zip bundle) is refused; ``reason`` is for the clerk."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


@dataclass(frozen=True)
class FileLimits:
    """What one submission file may cost. Real submission workbooks are a few hundred KB."""

    max_file_bytes: int = 25 * 1024 * 1024
    max_members: int = 1_000
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_applies_above: int = 1024 * 1024
    """Tiny members (styles, empty sheets) legitimately compress 1000:1; only large ones count."""
    max_cell_chars: int = 32_767
    """Excel's own limit for one cell; anything longer did not come from a person typing."""
    max_bundle_files: int = 500
    max_rows: int = 20_000
    """Filled rows of one file (sheet or CSV; all members of a bundle together). A report has one
    row per indicator (a whole province's agencies fit several times over); more is not a report,
    and reading stops there, so a million pasted rows cost what 20,000 do."""
    max_sheet_bytes: int = 16 * 1024 * 1024
    """Unpacked size of one worksheet's XML: about 300,000 cells, far beyond ``max_rows`` of a
    report, and checked from the zip directory so openpyxl never parses a sheet longer."""


DEFAULT_LIMITS = FileLimits()


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB"


LINK_REASON = (
    "refused unread: it is a symbolic link, and links are never followed (one could point "
    "anywhere on the server); copy the file itself into the inbox"
)
"""Why a link (to a file or a folder, inside the inbox or not) is refused: it is never resolved."""

SPECIAL_REASON = "refused unread: it is not a regular file (a pipe, socket or device); send a file"
"""Why a FIFO, socket or device node is refused (a FIFO would block its reader forever)."""


def check_size(name: str, size: int, limits: FileLimits = DEFAULT_LIMITS) -> None:
    """Refuse a file larger than a submission may be, saying how large it is and what to send."""
    if size > limits.max_file_bytes:
        raise UnsafeFileError(name, too_large_reason(size, limits))


def too_large_reason(size: int, limits: FileLimits = DEFAULT_LIMITS) -> str:
    """Why a file of ``size`` bytes (more than a submission may be) is refused."""
    return (
        f"refused: the file is {_mb(size)}, more than the {_mb(limits.max_file_bytes)} a "
        "submission may be (send only the reporting sheet, without pictures or attachments)"
    )


def safe_member_name(name: str, container: str) -> str:
    """A zip member's name as a relative POSIX path; refuses absolute paths and ``..``.

    Backslashes count as separators, because zips made on Windows sometimes use them.
    """
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean) or ".." in parts or not parts:
        raise UnsafeFileError(
            f"{container}::{name}",
            "refused: the member's path is absolute or climbs out of the bundle with '..'",
        )
    return posixpath.join(*parts)


def check_zip_directory(zf: zipfile.ZipFile, name: str, limits: FileLimits = DEFAULT_LIMITS) -> None:
    """Member count, total uncompressed size and compression ratio, from the zip directory."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeFileError(
            name, f"refused: the zip holds {len(infos):,} members (more than {limits.max_members:,})"
        )
    total = 0
    for info in infos:
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise UnsafeFileError(
                name,
                f"refused: it unpacks to more than {_mb(limits.max_uncompressed_bytes)} "
                "(a zip bomb or an oversized workbook)",
            )
        if info.file_size > limits.ratio_applies_above:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise UnsafeFileError(
                    name,
                    f"refused: member {info.filename!r} is compressed {ratio:,.0f}:1 "
                    f"(more than {limits.max_ratio:,.0f}:1 is a zip bomb, not a report)",
                )
        if info.flag_bits & 0x1:
            raise UnsafeFileError(name, f"refused: member {info.filename!r} is password-protected")


def _open_zip(source: str | Path | bytes, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        kind = "the zip" if name.lower().endswith(".zip") else "the workbook"
        raise UnsafeFileError(
            name, f"cannot open {kind}: it is damaged or not a real .xlsx/.zip file ({type(exc).__name__})"
        ) from None


def check_workbook(source: str | Path | bytes, name: str, limits: FileLimits = DEFAULT_LIMITS) -> None:
    """Refuse a workbook that is a zip bomb, oversized, has macros or links to other files.

    Reads only the zip directory; openpyxl opens the workbook afterwards.
    """
    if name.lower().endswith(".xlsm"):
        raise UnsafeFileError(
            name,
            "refused: macro-enabled workbook (.xlsm); save it as Excel Workbook (.xlsx) "
            "without macros and send it again",
        )
    with _open_zip(source, name) as zf:
        check_zip_directory(zf, name, limits)
        _check_sheet_sizes(zf, name, limits)
        for member in zf.namelist():
            if MACRO_MEMBER.search(member):
                raise UnsafeFileError(
                    name,
                    f"refused: the workbook contains macros ({member}); save it as Excel "
                    "Workbook (.xlsx) without macros and send it again",
                )
            if member.lower().startswith(EXTERNAL_LINK_PREFIX):
                raise UnsafeFileError(
                    name,
                    f"refused: the workbook links to other files ({member}); their values cannot "
                    "be checked: copy the cells and paste as values, then save and send again",
                )


def _check_sheet_sizes(zf: zipfile.ZipFile, name: str, limits: FileLimits) -> None:
    """Refuse a workbook with a worksheet too long to be a report, from the zip directory."""
    for info in zf.infolist():
        if info.filename.lower().startswith("xl/worksheets/") and info.file_size > limits.max_sheet_bytes:
            raise UnsafeFileError(
                name,
                f"refused: the sheet {info.filename} unpacks to {_mb(info.file_size)}, more than the "
                f"{_mb(limits.max_sheet_bytes)} of a report's sheet (a report has one row per "
                "indicator); send each agency's report, or use the reporting database for bulk data",
            )


@dataclass(frozen=True)
class BundleMember:
    """One readable file from a zip bundle, already read into memory (size-checked)."""

    name: str
    data: bytes


def bundle_members(
    data: bytes, bundle: str, limits: FileLimits = DEFAULT_LIMITS
) -> Iterator[BundleMember | UnsafeFileError]:
    """The workbooks and CSVs inside the ``.zip`` bundle ``data`` (named ``bundle``), in name
    order, read into memory.

    Nothing is extracted to disk. A bad member is yielded as its :class:`UnsafeFileError`
    (the others are still read); a bad bundle raises.
    """
    with _open_zip(data, bundle) as zf:
        check_zip_directory(zf, bundle, limits)
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
        readable = 0
        for info in infos:
            try:
                member = safe_member_name(info.filename, bundle)
            except UnsafeFileError as exc:
                yield exc
                continue
            base = posixpath.basename(member)
            if member.startswith("__MACOSX/") or base.startswith((".", "~$")):
                continue
            label = f"{bundle}::{member}"
            suffix = posixpath.splitext(base)[1].lower()
            if suffix in BUNDLE_SUFFIXES:
                yield UnsafeFileError(label, "refused: a zip inside a zip; send the files in one zip")
                continue
            if suffix not in READABLE_IN_BUNDLE:
                hint = " (macro-enabled: save it as .xlsx)" if suffix == ".xlsm" else ""
                yield UnsafeFileError(label, f"skipped: not an Excel (.xlsx) or CSV file{hint}")
                continue
            readable += 1
            if readable > limits.max_bundle_files:
                yield UnsafeFileError(label, f"refused: more than {limits.max_bundle_files} files in one zip")
                continue
            try:
                check_size(label, info.file_size, limits)
                with zf.open(info) as fh:
                    data = fh.read(limits.max_file_bytes + 1)
                check_size(label, len(data), limits)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                yield UnsafeFileError(label, f"cannot unpack it: {type(exc).__name__}: {exc}")
                continue
            except UnsafeFileError as exc:
                yield exc
                continue
            yield BundleMember(member, data)


def long_cell_reason(value: str, limits: FileLimits = DEFAULT_LIMITS) -> str | None:
    """Why a cell is refused for its length, or None."""
    if len(value) > limits.max_cell_chars:
        return (
            f"the cell holds {len(value):,} characters, more than the {limits.max_cell_chars:,} "
            "a spreadsheet cell can hold"
        )
    return None


_SURROGATES = re.compile("[\udc80-\udcff]")


def bad_bytes_reason(value: str) -> str | None:
    """Why a cell decoded with ``surrogateescape`` is refused (it held bytes that are not
    UTF-8), or None."""
    m = _SURROGATES.search(value)
    if m is None:
        return None
    byte = ord(m.group(0)) - 0xDC00
    return (
        f"the cell contains the byte 0x{byte:02X} at character {m.start() + 1}, which is not "
        "valid UTF-8 (the file was edited with another encoding; save it as CSV UTF-8)"
    )


def printable(value: str, limit: int = 200) -> str:
    """A cell as it can be stored in a reject row: invalid bytes shown as U+FFFD, and cut."""
    text = _SURROGATES.sub("\ufffd", value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


__all__ = [
    "DEFAULT_LIMITS",
    "LINK_REASON",
    "SPECIAL_REASON",
    "BundleMember",
    "FileLimits",
    "UnsafeFileError",
    "bad_bytes_reason",
    "bundle_members",
    "check_size",
    "check_workbook",
    "check_zip_directory",
    "long_cell_reason",
    "printable",
    "safe_member_name",
    "too_large_reason",
]
