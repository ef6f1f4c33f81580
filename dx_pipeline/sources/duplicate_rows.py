"""Rows naming the same agency and indicator twice at the same submission time: all of them
are rejected (which one did the agency mean?), with one reason per group that says how often
and names a few of its rows ("... 1,000,000 times: rows 1, 2, 3 and 999,997 others").

:class:`DuplicateRows` finds them while the rows stream in (the reporting database is read in
chunks): a row stays an accepted row only while its group has one member; the second member
turns the group's rows into rejects, made at once, and the group's reason, which needs the final
count, is written into them at the end. What it holds is the output itself (the kept rows and
the rejects) plus each group's first few rows, never every accepted row of a duplicate group
beside its reject. :func:`reject_duplicates` is the same over a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dx_pipeline.reference.listing import SHOWN, few, rows_phrase
from dx_pipeline.sources.submission_numbers import as_written
from dx_pipeline.sources.submission_rows import RawRow, make_reject

Key = tuple
"""(agency_code, indicator_code, submitted_at) of an accepted row."""


def duplicate_reason(code: str, raws: list[RawRow], total: int, what: str) -> str:
    """One reason for every row of a duplicate group of ``total`` rows whose first rows (at
    most :data:`SHOWN`) are ``raws``: how often, and those rows."""
    if all(r.row is not None for r in raws):
        where = rows_phrase((r.row for r in raws), total=total)
    else:
        where = few((r.row if r.row is not None else r.source_ref for r in raws), total=total)
    times = f"{total:,} times: {where}"
    return f"indicator {code} is reported more than once in {what} ({times}); send it once"


def _reject(raw: RawRow) -> dict:
    """A duplicate's reject, its reason left to be written when the group's count is known."""
    return make_reject(raw, field="MaChiSo" if raw.source == "inbox" else "indicator_code", reason="",
                       value=as_written(raw.value))


@dataclass
class _Group:
    code: str
    first: int
    """Where the group's first row is in the sequence."""
    count: int = 1
    shown: list[RawRow] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


class DuplicateRows:
    """Accepted rows added one at a time, in order; :meth:`result` gives the rows kept and the
    duplicates' rejects, both in the order the rows were added (as :func:`reject_duplicates`)."""

    def __init__(self, what: str = "this file") -> None:
        self.what = what
        self._groups: dict[Key, _Group] = {}
        self._rows: list[dict] = []
        self._rejected = bytearray()

    def add(self, rec: dict) -> None:
        key = (rec["agency_code"], rec["indicator_code"], rec["submitted_at"])
        group = self._groups.get(key)
        raw: RawRow = rec["_raw"]
        if group is None:
            self._groups[key] = _Group(rec["indicator_code"], len(self._rows), shown=[raw])
            self._rows.append(rec)
            self._rejected.append(0)
            return
        if group.count == 1:  # the second member: the first row is a duplicate too
            first = self._rows[group.first]["_raw"]
            self._rows[group.first] = reject = _reject(first)
            self._rejected[group.first] = 1
            group.rejects.append(reject)
        group.count += 1
        if len(group.shown) < SHOWN:
            group.shown.append(raw)
        reject = _reject(raw)
        group.rejects.append(reject)
        self._rows.append(reject)
        self._rejected.append(1)

    def result(self) -> tuple[list[dict], list[dict]]:
        """(rows kept, rejects of the duplicates), each with its group's reason."""
        for group in self._groups.values():
            if group.count > 1:
                reason = duplicate_reason(group.code, group.shown, group.count, self.what)
                for reject in group.rejects:
                    reject["reason"] = reason
                group.rejects.clear()
        keep = [r for r, rejected in zip(self._rows, self._rejected, strict=True) if not rejected]
        rejects = [r for r, rejected in zip(self._rows, self._rejected, strict=True) if rejected]
        self._groups, self._rows, self._rejected = {}, [], bytearray()
        return keep, rejects


def reject_duplicates(accepted: list[dict], what: str = "this file") -> tuple[list[dict], list[dict]]:
    """The rows of ``accepted`` kept, and the rejects of those naming the same agency and
    indicator at the same submission time as another (linear: each group's reason made once)."""
    rows = DuplicateRows(what)
    for rec in accepted:
        rows.add(rec)
    return rows.result()
