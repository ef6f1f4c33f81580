"""Re-check published revisions against their manifests: nothing changed, missing or added.

Anyone holding a copy of ``published/`` can run this: every output's sha256 must match the
manifest, no output may be missing, no unlisted file may have appeared, the manifest must
name the folder's period and revision, and ``LATEST`` must name the newest revision. Hidden
leftovers of interrupted publications are reported (the next publication removes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dx_pipeline.publish import manifest as mf
from dx_pipeline.publish.layout import LATEST_FILE, period_dir, ranking_root, revisions
from dx_pipeline.publish.snapshot import leftovers
from dx_pipeline.reference.quarters import Period
from dx_pipeline.storage import DxHome


@dataclass
class RevisionCheck:
    """What verifying one revision found: the files checked and every problem."""

    period: str
    revision: int
    path: Path
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    """The verification of every revision checked plus problems of the latest pointers."""

    revisions: list[RevisionCheck] = field(default_factory=list)
    pointer_problems: list[str] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    """Hidden temporary files of interrupted publications: reported, not failures (no reader
    sees them, and the next publication of their period removes them)."""

    @property
    def ok(self) -> bool:
        return not self.pointer_problems and all(r.ok for r in self.revisions)

    @property
    def problems(self) -> list[str]:
        out = list(self.pointer_problems)
        for r in self.revisions:
            out.extend(f"{r.period} rev={r.revision}: {p}" for p in r.problems)
        return out

    def summary(self) -> str:
        lines = []
        for r in self.revisions:
            state = "OK" if r.ok else "FAILED"
            lines.append(f"{state:6} {r.period} rev={r.revision} ({r.files_checked} files) {r.path}")
            lines.extend(f"       - {p}" for p in r.problems)
        lines.extend(f"FAILED {p}" for p in self.pointer_problems)
        lines.extend(f"LEFTOVER {p} (of an interrupted publication; the next publication of "
                     f"{p.parent.name.split('=', 1)[-1]} removes it)" for p in self.leftovers)
        n_bad = sum(not r.ok for r in self.revisions)
        lines.append(
            f"{len(self.revisions)} revision(s) checked, {n_bad} failed"
            + (f", {len(self.pointer_problems)} pointer problem(s)" if self.pointer_problems else "")
            + (f", {len(self.leftovers)} leftover(s) of interrupted publications" if self.leftovers else "")
        )
        return "\n".join(lines)


def verify_revision(folder: Path, period: Period, revision: int) -> RevisionCheck:
    """Recheck one revision folder against its manifest: period, revision, every file's hash."""
    check = RevisionCheck(period.label, revision, folder)
    try:
        manifest = mf.read_manifest(folder)
    except (FileNotFoundError, ValueError) as exc:
        check.problems.append(str(exc))
        return check
    if manifest.get("period") != period.label:
        check.problems.append(f"manifest names period {manifest.get('period')!r}, folder is {period.label}")
    if manifest.get("revision") != revision:
        check.problems.append(
            f"manifest names revision {manifest.get('revision')!r}, folder is rev={revision}"
        )
    content = manifest.get("content")
    if content is None or mf.content_sha256(content) != manifest.get("content_sha256"):
        check.problems.append("manifest content fingerprint does not match its content")
    outputs = manifest.get("outputs") or {}
    if not outputs:
        check.problems.append("manifest lists no outputs")
    for name, meta in sorted(outputs.items()):
        path = folder / name
        if not path.is_file():
            check.problems.append(f"missing file {name}")
            continue
        check.files_checked += 1
        actual = mf.sha256_file(path)
        if actual != meta.get("sha256"):
            check.problems.append(
                f"{name} was modified: sha256 {actual[:12]}… "
                f"but the manifest says {str(meta.get('sha256'))[:12]}…"
            )
    expected = set(outputs) | {mf.MANIFEST_FILE}
    for child in sorted(folder.iterdir()):
        if child.name not in expected:
            check.problems.append(f"unexpected file {child.name} (not in the manifest)")
    return check


def verify(home: DxHome, quarter: str | None = None, revision: int | None = None) -> VerifyReport:
    """Verify one revision, every revision of one period (quarter, half-year or year), or all.

    Raises FileNotFoundError when the named period or revision was never published.
    """
    report = VerifyReport()
    if quarter is not None:
        per = Period.parse(quarter)
        folders = [(per, period_dir(home, per))]
        if not revisions(folders[0][1]) and not leftovers(folders[0][1]):
            raise FileNotFoundError(f"nothing published for {per.label} under {folders[0][1]}")
    else:
        folders = [
            (Period.parse(f.name.split("=", 1)[1]), f)
            for f in sorted(ranking_root(home).glob("*=*"))
            if f.is_dir()
        ]
    for per, folder in folders:
        report.leftovers += leftovers(folder)
        revs = revisions(folder)
        chosen = revs
        if revision is not None:
            if int(revision) not in revs:
                raise FileNotFoundError(f"{per.label} has no revision {revision} (published: {revs})")
            chosen = [int(revision)]
        for rev in chosen:
            report.revisions.append(verify_revision(folder / f"rev={rev}", per, rev))
        if revs:
            latest = folder / LATEST_FILE
            want = f"rev={revs[-1]}"
            if not latest.is_file():
                report.pointer_problems.append(f"{per.label}: {LATEST_FILE} is missing")
            elif latest.read_text(encoding="utf-8").strip() != want:
                report.pointer_problems.append(
                    f"{per.label}: {LATEST_FILE} says {latest.read_text(encoding='utf-8').strip()!r}, "
                    f"newest is {want}"
                )
    return report
