"""HTTP client for the portal's paged JSON export API, with incremental, resumable pulls.

The API (the sample portal, :mod:`dx_pipeline.sample.portal_server`, implements it)::

    GET {base}/api/v1/dossiers?received_from=YYYY-MM-DD&received_to=YYYY-MM-DD
            [&updated_since=yyyyMMddHHmmss][&page_size=N][&page_token=T]
    GET {base}/api/v1/procedures[?page_size=N&page_token=T]
    Authorization: Bearer <token>

    200 {"items": [{portal field names: MaHoSo, MaCoQuan, NgayTiepNhan, ...}],
         "page_token": "<the token this page answers>", "next_page_token": "T" | null,
         "total": n}

``received_from`` is inclusive, ``received_to`` exclusive (the quarter's start and end).
Dates in items use the API format ``yyyyMMddHHmmss``. ``updated_since`` keeps items whose
NgayCapNhat >= it. Page tokens are opaque.

Behaviour:
- base URL and token from ``DX_PORTAL_URL`` / ``DX_PORTAL_TOKEN`` unless given; the token is
  sent only in the Authorization header and never appears in logs, errors, metadata or repr.
- timeouts (connect, read); retries with exponential backoff and full jitter on connection
  errors, timeouts, truncated or unreadable bodies, replayed pages, 5xx and 429 (Retry-After
  honoured); other 4xx fail at once; after the retry budget a :class:`PortalError` says which
  request failed, how often and why, and that rerunning the pull resumes it.
- every page is landed unchanged under ``landing/portal/quarter=YYYY-Qn/pull-NNNN/`` with its
  sha256 in ``landing/portal/quarter=YYYY-Qn/checksums.sha256`` before the pull state moves on;
  the state (``landing/portal/state.json``, written atomically) records the cursor and the
  page token of an unfinished pull, so a pull that failed resumes where it stopped: no page is
  fetched twice into the landing zone, none is skipped.
- incremental: each completed pull advances the quarter's cursor to the largest NgayCapNhat
  seen; the next pull asks only for what changed since (``full=True`` starts over).
- normalisation: the landed pages since the last full pull go through the same field mapping
  as export files; a dossier present in several pulls is taken from the latest one (duplicates
  within a pull are kept for the quality gate to flag).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import requests

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_files import json_source
from dx_pipeline.sources.portal_ingest import (
    PortalIngestResult,
    RawSource,
    write_quarter,
)
from dx_pipeline.sources.portal_mapping import load_field_mapping
from dx_pipeline.storage import DxHome, atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

DOSSIERS_PATH = "/api/v1/dossiers"
PROCEDURES_PATH = "/api/v1/procedures"
RETRY_STATUS = {429, 500, 502, 503, 504}


class PortalError(RuntimeError):
    """The portal could not be read; the message never contains the token."""


class _Secret:
    """Holds the token so that printing, logging or repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass(frozen=True)
class Page:
    """One page of the portal API: the raw bytes as received, its records and the next token."""

    raw: bytes
    items: list[dict]
    next_token: str | None


class PortalClient:
    """Paged GETs against the export API with timeouts, retries, backoff and jitter."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        if not base_url:
            raise ValueError("portal URL missing (DX_PORTAL_URL)")
        if not token:
            raise ValueError("portal token missing (DX_PORTAL_TOKEN)")
        self.base_url = base_url.rstrip("/")
        self._token = _Secret(token)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.session = session or requests.Session()
        self._sleep = sleep
        self._rng = rng
        self.retries = 0  # retries made, for metadata

    def __repr__(self) -> str:
        return f"PortalClient(base_url={self.base_url!r}, token=***)"

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return self._rng() * min(self.backoff_max, self.backoff_base * (2**attempt))

    @staticmethod
    def _retry_after(resp: requests.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time()) if when else None

    def get_page(self, path: str, params: dict[str, Any]) -> Page:
        """One page, retried until good or the budget is spent."""
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json"}
        asked = params.get("page_token") or ""
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                resp = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                last = f"{type(exc).__name__} (connection failed, timed out or the body was cut off)"
            else:
                if resp.status_code == 200:
                    try:
                        doc = json.loads(resp.content)
                        items = doc["items"]
                        if not isinstance(items, list):
                            raise ValueError("items is not a list")
                    except (ValueError, KeyError, TypeError) as exc:
                        last = f"unreadable or truncated JSON body ({type(exc).__name__})"
                    else:
                        if "page_token" in doc and (doc.get("page_token") or "") != asked:
                            last = "the portal replayed another page (page_token mismatch)"
                        else:
                            return Page(resp.content, items, doc.get("next_page_token"))
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                    if resp.status_code == 429:
                        wait = self._retry_after(resp)
                else:
                    raise PortalError(
                        f"GET {url} answered HTTP {resp.status_code}: {resp.text[:200]!r} "
                        "(not retried: check the URL, token and parameters)"
                    )
            if attempt == self.max_retries:
                break
            delay = wait if wait is not None else self._backoff(attempt)
            self.retries += 1
            log.warning(
                "portal GET %s page_token=%r attempt %d failed: %s; retrying in %.2fs",
                path, asked, attempt + 1, last, delay,
            )
            self._sleep(delay)
        raise PortalError(
            f"GET {url} (page_token={asked!r}) failed after {self.max_retries + 1} attempts: {last}. "
            "Pages fetched so far are landed; rerun the pull to resume from this page."
        )


# ---------------------------------------------------------------------------- landing & state
def portal_landing(home: DxHome) -> Path:
    """The landing folder of the portal's pages."""
    return home.landing / "portal"


def state_file(home: DxHome) -> Path:
    """The JSON file with the pull cursors of every quarter."""
    return portal_landing(home) / "state.json"


def quarter_landing(home: DxHome, quarter: Quarter) -> Path:
    """The landing folder of one quarter's portal pages."""
    return portal_landing(home) / f"quarter={quarter.label}"


def load_state(home: DxHome) -> dict:
    """The pull state (cursors per quarter); empty when nothing was pulled yet."""
    path = state_file(home)
    if not path.exists():
        return {"quarters": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: pull state is not valid JSON ({exc}); fix or remove it") from exc


def save_state(home: DxHome, state: dict) -> None:
    """Write the pull state atomically."""
    atomic_write_text(state_file(home), json.dumps(state, indent=2, sort_keys=True))


def _land(home: DxHome, quarter: Quarter, rel: str, raw: bytes) -> Path:
    """Write a page unchanged and record its checksum (one manifest per quarter)."""
    qdir = quarter_landing(home, quarter)
    target = atomic_write_bytes(qdir / rel, raw)
    manifest = qdir / "checksums.sha256"
    lines = manifest.read_text(encoding="utf-8").splitlines() if manifest.exists() else []
    lines = [ln for ln in lines if not ln.endswith(f"  {rel}")]
    lines.append(f"{hashlib.sha256(raw).hexdigest()}  {rel}")
    atomic_write_text(manifest, "\n".join(lines) + "\n")
    return target


def verify_landing(home: DxHome, quarter: Quarter | str) -> list[str]:
    """Files whose bytes no longer match the checksum manifest (empty when all is well)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    qdir = quarter_landing(home, q)
    manifest = qdir / "checksums.sha256"
    bad = []
    for line in manifest.read_text(encoding="utf-8").splitlines() if manifest.exists() else []:
        digest, rel = line.split("  ", 1)
        f = qdir / rel
        if not f.exists() or hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            bad.append(rel)
    return bad


def _pull_pages(client: PortalClient, home: DxHome, q: Quarter, state: dict, qs: dict, kind: str,
                path: str, params: dict, page_size: int) -> None:
    """Fetch pages of one endpoint for the pull in progress, landing each and saving state."""
    pull = qs["in_progress"]
    prog = pull.setdefault(kind, {"next_token": None, "pages": 0, "done": False})
    while not prog["done"]:
        req = dict(params, page_size=page_size)
        if prog["next_token"]:
            req["page_token"] = prog["next_token"]
        page = client.get_page(path, req)
        n = prog["pages"] + 1
        _land(home, q, f"{pull['id']}/{kind}-p{n:05d}.json", page.raw)
        if kind == "dossiers":
            stamps = [str(i.get("NgayCapNhat")) for i in page.items if i.get("NgayCapNhat")]
            if stamps:
                pull["max_updated"] = max([pull.get("max_updated") or ""] + stamps)
        prog.update(pages=n, next_token=page.next_token, done=page.next_token is None)
        save_state(home, state)


def pull_portal_quarter(
    home: DxHome,
    quarter: Quarter | str,
    base_url: str | None = None,
    token: str | None = None,
    *,
    full: bool = False,
    page_size: int = 500,
    client: PortalClient | None = None,
    **client_options: Any,
) -> PortalIngestResult:
    """Pull a quarter's dossiers (incrementally) and the procedure catalogue over HTTP, land the
    raw pages with checksums, and write portal_dossiers, portal_rejects and procedures.

    ``client_options`` go to :class:`PortalClient` (timeout, max_retries, backoff_base, ...).
    On failure a :class:`PortalError` is raised and the state keeps the unfinished pull;
    calling again resumes it.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    client = client or PortalClient(base_url, token, **client_options)
    state = load_state(home)
    qs = state["quarters"].setdefault(q.label, {"cursor": None, "pulls": []})
    if qs.get("in_progress") is None:
        seq = len(qs["pulls"]) + 1
        qs["in_progress"] = {
            "id": f"pull-{seq:04d}",
            "full": bool(full or not qs["pulls"]),
            "updated_since": None if (full or not qs["pulls"]) else qs.get("cursor"),
        }
        save_state(home, state)
    pull = qs["in_progress"]
    params = {"received_from": q.start.isoformat(), "received_to": q.end.isoformat()}
    if pull["updated_since"]:
        params["updated_since"] = pull["updated_since"]
    log.info("portal pull %s %s (updated_since=%s)", q.label, pull["id"], pull["updated_since"])
    _pull_pages(client, home, q, state, qs, "dossiers", DOSSIERS_PATH, params, page_size)
    _pull_pages(client, home, q, state, qs, "procedures", PROCEDURES_PATH, {}, page_size)
    qs["pulls"].append(
        {"id": pull["id"], "full": pull["full"], "updated_since": pull["updated_since"],
         "dossier_pages": pull["dossiers"]["pages"], "procedure_pages": pull["procedures"]["pages"]}
    )
    if pull.get("max_updated"):
        qs["cursor"] = max(qs.get("cursor") or "", pull["max_updated"])
    qs["in_progress"] = None
    save_state(home, state)
    result = normalise_landed(home, q, state)
    return result


def _pulls_to_read(home: DxHome, q: Quarter, state: dict) -> list[dict]:
    """The completed pulls whose pages make the quarter: the last full pull and those after it."""
    pulls = state["quarters"].get(q.label, {}).get("pulls", [])
    if not pulls:
        raise FileNotFoundError(f"no completed portal pull for {q.label} under {quarter_landing(home, q)}")
    last_full = max(i for i, p in enumerate(pulls) if p["full"])
    return pulls[last_full:]


def landed_pages(home: DxHome, quarter: Quarter | str) -> list[Path]:
    """The landed pages :func:`normalise_landed` reads for the quarter (dossier pages since the
    last full pull, procedure pages of the latest pull); none when nothing was pulled."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    try:
        pulls = _pulls_to_read(home, q, load_state(home))
    except FileNotFoundError:
        return []
    qdir = quarter_landing(home, q)
    dossiers = [f for p in pulls for f in _page_files(qdir, p, "dossiers")]
    return dossiers + _page_files(qdir, pulls[-1], "procedures")


def _page_files(qdir: Path, pull: dict, kind: str) -> list[Path]:
    """The landed pages of one completed pull and endpoint (``dossiers`` or ``procedures``)."""
    pages = pull["dossier_pages"] if kind == "dossiers" else pull["procedure_pages"]
    return [qdir / pull["id"] / f"{kind}-p{i:05d}.json" for i in range(1, pages + 1)]


def normalise_landed(home: DxHome, quarter: Quarter | str, state: dict | None = None) -> PortalIngestResult:
    """Map the quarter's landed pages (since the last full pull) into the warehouse."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    state = state or load_state(home)
    pulls = _pulls_to_read(home, q, state)
    qdir = quarter_landing(home, q)
    dm, pm = load_field_mapping("dossiers"), load_field_mapping("procedures")
    con = duckdb.connect()
    try:
        parts, labels, pages, present = [], [], 0, set()
        for n, p in enumerate(pulls):
            files = _page_files(qdir, p, "dossiers")
            pages += len(files) + p["procedure_pages"]
            names = [f.relative_to(home.root).as_posix() for f in files]
            src = json_source(con, files, names, dm)
            parts.append(f"SELECT *, {n} AS _pull FROM {src.sql}")
            labels += names
            present |= src.present  # a field no page carries stays unknown, as in an export file
        union = " UNION ALL ".join(f"({p})" for p in parts)
        if len(pulls) > 1:
            union = (
                f"SELECT * FROM ({union}) QUALIFY _pull = max(_pull) OVER (PARTITION BY \"MaHoSo\")"
            )
        dossiers = RawSource(
            f"(SELECT * EXCLUDE (_pull) FROM ({union}) ORDER BY _pull, _source_file, _row)",
            frozenset(present),
            f"{qdir.relative_to(home.root).as_posix()} ({len(labels)} landed pages)",
        )
        pfiles = _page_files(qdir, pulls[-1], "procedures")
        procedures = [
            json_source(con, pfiles, [f.relative_to(home.root).as_posix() for f in pfiles], pm)
        ] if pfiles else []
        return write_quarter(
            con, home, q, [dossiers], procedures, "http", landed_pages=pages,
            dossier_mapping=dm, procedure_mapping=pm,
        )
    finally:
        con.close()
