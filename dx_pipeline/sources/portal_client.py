"""HTTP client for the portal's paged JSON export API, with incremental, resumable, checked pulls.

The API (the sample portal, :mod:`dx_pipeline.sample.portal_server`, implements it)::

    GET {base}/api/v1/dossiers?received_from=YYYY-MM-DD&received_to=YYYY-MM-DD
            [&updated_since=yyyyMMddHHmmss][&page_size=N][&page_token=T]
    GET {base}/api/v1/procedures[?page_size=N&page_token=T]
    Authorization: Bearer <token>

    200 {"items": [{portal field names: MaHoSo, MaCoQuan, NgayTiepNhan, ...}],
         "page_token": "<the token this page answers>", "next_page_token": "T" | null,
         "total": n}

``received_from`` is inclusive, ``received_to`` exclusive (the quarter's start and end). The
answer holds the dossiers received in that range and, with their state now, those received
earlier and still open on ``received_from`` (the portal exports open dossiers with their
history; the quarter's judged KPIs count them, :mod:`portal_mapping` keeps exactly those).
Dates in items use the API format ``yyyyMMddHHmmss``. ``updated_since`` keeps items whose
NgayCapNhat >= it. Page tokens are opaque. ``total`` is the number of records the whole
query matches (all pages together).

Behaviour:
- base URL and token from ``DX_PORTAL_URL`` / ``DX_PORTAL_TOKEN`` unless given; the token is
  sent only in the Authorization header and never appears in logs, errors, metadata or repr.
- retrying (:mod:`portal_retry` holds the budgets and why they are sized so): timeouts;
  retries with exponential backoff and full jitter on connection errors, timeouts, truncated
  or unreadable bodies, pages without a ``total``, replayed pages, 5xx and 429 (Retry-After
  honoured); other 4xx fail at once. A GET that spent its attempts pauses the pull, which
  resumes from its last good page within the same call, a few times, inside a time budget
  for the whole pull; after that a :class:`PortalError` says which request failed, how often
  and why, and that rerunning the pull resumes it.
- every page is landed unchanged under ``landing/portal/quarter=YYYY-Qn/pull-NNNN/`` with its
  sha256 in ``landing/portal/quarter=YYYY-Qn/checksums.sha256`` before the pull state moves on;
  the state (``landing/portal/state.json``, written atomically) records, per endpoint, the
  token that asked for each landed page, its item count, the advertised total and the next
  token. A pull that stopped resumes where it stopped: landed pages whose checksum verifies
  are not fetched again, a page that fails it is fetched again with its own token.
- completeness: every page must advertise the same ``total``, and when the last page has come
  the items received must add up to it. A pull that comes up short (or long) is refused with
  :class:`PortalIncomplete` naming the quarter, the endpoint, the advertised and received
  counts; its pages stay in the landing zone for diagnosis, nothing is written to the
  warehouse, and the next call starts a new pull. If the total changes between pages (the
  portal registered new dossiers during the pull, so offsets shifted) the pull is abandoned
  and started again from the first page, at most ``RetryPolicy.restarts`` times; then it
  fails with :class:`PortalTotalChanged` giving both totals.
- incremental: each completed pull advances the quarter's cursor to the largest NgayCapNhat
  seen; the next pull asks only for what changed since (``full=True`` starts over).
- normalisation: the landed pages since the last full pull go through the same field mapping
  as export files; a dossier present in several pulls is taken from the latest one (duplicates
  within a pull are kept for the quality gate to flag).
"""

from __future__ import annotations

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
from dx_pipeline.sources.portal_retry import Deadline, RetryPolicy, retry_after_seconds
from dx_pipeline.storage import DxHome, atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

DOSSIERS_PATH = "/api/v1/dossiers"
PROCEDURES_PATH = "/api/v1/procedures"
RETRY_STATUS = {429, 500, 502, 503, 504}
ENDPOINTS = (("dossiers", DOSSIERS_PATH), ("procedures", PROCEDURES_PATH))


class PortalError(RuntimeError):
    """The portal could not be read; the message never contains the token."""


class PortalRetriesSpent(PortalError):
    """One GET failed every attempt; the pull can resume from its last good page."""


class PortalTimeBudgetSpent(PortalError):
    """The pull's time budget is spent; a rerun resumes it."""


class PortalIncomplete(PortalError):
    """The pull's pages do not add up to the total the portal advertised."""


class PortalTotalChanged(PortalError):
    """The advertised total changed during the pull more often than the pull may restart."""


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
    """One page of the portal API: the raw bytes as received, its records, the next token and
    the total the query advertises."""

    raw: bytes
    items: list[dict]
    next_token: str | None
    total: int


class _Retry(Exception):
    """An attempt failed in a way worth another (the reason, and a Retry-After if given)."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


def read_page(content: bytes, asked: str) -> Page:
    """The page in a 200 body, or ``ValueError`` saying why it cannot be used."""
    try:
        doc = json.loads(content)
    except ValueError as exc:
        raise ValueError(f"unreadable or truncated JSON body ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("the body has no list of items")
    total = doc.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"the page does not advertise its total (total={total!r})")
    if "page_token" in doc and (doc.get("page_token") or "") != asked:
        raise ValueError("the portal replayed another page (page_token mismatch)")
    nxt = doc.get("next_page_token")
    return Page(content, doc["items"], None if nxt in (None, "") else str(nxt), total)


class PortalClient:
    """Paged GETs against the export API with timeouts, retries, backoff, jitter and budgets.

    ``policy`` (or single fields of it as keyword options, e.g. ``attempts=3``) sets the
    budgets; ``sleep`` and ``rng`` are the waiting and the jitter (tests seed the jitter).
    ``attempts`` lists the tries each GET took, ``waited`` the seconds spent waiting.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        **options: Any,
    ):
        if not base_url:
            raise ValueError("portal URL missing (DX_PORTAL_URL)")
        if not token:
            raise ValueError("portal token missing (DX_PORTAL_TOKEN)")
        self.base_url = base_url.rstrip("/")
        self._token = _Secret(token)
        self.policy = RetryPolicy.with_options(policy, **options)
        self.session = session or requests.Session()
        self._sleep = sleep
        self._rng = rng
        self.start_pull()

    def __repr__(self) -> str:
        return f"PortalClient(base_url={self.base_url!r}, token=***)"

    def start_pull(self) -> None:
        """Start the time budget and the counts of a new pull."""
        self.deadline = Deadline(self.policy.time_budget)
        self.attempts: list[int] = []
        self.waited = 0.0

    @property
    def retries(self) -> int:
        """Retries made in this pull (attempts beyond the first of each GET)."""
        return sum(self.attempts) - len(self.attempts)

    def wait(self, seconds: float, what: str) -> None:
        """Sleep ``seconds``, or fail if that would end after the pull's time budget."""
        if not self.deadline.allows(seconds):
            raise PortalTimeBudgetSpent(
                f"{what}: the pull's time budget of {self.deadline.seconds:g} s is spent "
                f"({self.deadline.elapsed():.0f} s so far). Pages fetched so far are landed; "
                "rerun the pull to resume from the last good page."
            )
        if seconds > 0:
            self.waited += seconds
            self._sleep(seconds)

    def _try(self, url: str, params: dict[str, Any], asked: str) -> Page:
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json"}
        try:
            resp = self.session.get(url, params=params, headers=headers, timeout=self.policy.timeout)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise _Retry(
                f"{type(exc).__name__} (connection failed, timed out or the body was cut off)"
            ) from None
        if resp.status_code == 200:
            try:
                return read_page(resp.content, asked)
            except ValueError as exc:
                raise _Retry(str(exc)) from None
        if resp.status_code in RETRY_STATUS:
            wait = retry_after_seconds(resp.headers.get("Retry-After")) if resp.status_code == 429 else None
            raise _Retry(f"HTTP {resp.status_code}", wait)
        raise PortalError(
            f"GET {url} answered HTTP {resp.status_code}: {resp.text[:200]!r} "
            "(not retried: check the URL, token and parameters)"
        )

    def get_page(self, path: str, params: dict[str, Any]) -> Page:
        """One page, retried until good or its attempts (or the pull's time) are spent."""
        url = self.base_url + path
        asked = params.get("page_token") or ""
        what = f"GET {url} (page_token={asked!r})"
        last, delay = "", 0.0
        for attempt in range(self.policy.attempts):
            self.wait(delay, what)  # the first attempt only checks the time budget
            try:
                page = self._try(url, params, asked)
            except _Retry as exc:
                last = exc.reason
                delay = (
                    exc.wait * self.policy.wait_scale if exc.wait is not None
                    else self.policy.backoff(attempt, self._rng)
                )
                if attempt + 1 < self.policy.attempts:
                    log.warning("portal GET %s page_token=%r attempt %d failed: %s; retrying in %.2fs",
                                path, asked, attempt + 1, last, delay)
                continue
            self.attempts.append(attempt + 1)
            return page
        self.attempts.append(self.policy.attempts)
        raise PortalRetriesSpent(
            f"{what} failed after {self.policy.attempts} attempts: {last}. "
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
    return [
        rel for rel, digest in _checksums(qdir).items()
        if not (qdir / rel).is_file() or hashlib.sha256((qdir / rel).read_bytes()).hexdigest() != digest
    ]


def _checksums(qdir: Path) -> dict[str, str]:
    """The quarter's checksum manifest: landed file (relative) -> sha256."""
    manifest = qdir / "checksums.sha256"
    if not manifest.exists():
        return {}
    lines = [ln.split("  ", 1) for ln in manifest.read_text(encoding="utf-8").splitlines() if ln]
    return {rel: digest for digest, rel in lines}


def _new_progress() -> dict:
    """An endpoint's progress in a pull: per landed page the token that asked for it and its
    item count, the advertised total, the next token."""
    return {"tokens": [], "counts": [], "total": None, "next_token": None, "pages": 0, "done": False}


def _request(params: dict, page_size: int, token: str | None) -> dict[str, Any]:
    req: dict[str, Any] = dict(params, page_size=page_size)
    if token:
        req["page_token"] = token
    return req


@dataclass
class _Pull:
    """One call's handle on the quarter's pull in progress: the client, where pages land, the
    state (saved after every page) and what the dossier query asks."""

    client: PortalClient
    home: DxHome
    q: Quarter
    state: dict
    page_size: int

    @property
    def qs(self) -> dict:
        return self.state["quarters"][self.q.label]

    @property
    def current(self) -> dict:
        return self.qs["in_progress"]

    def params(self, kind: str) -> dict:
        if kind != "dossiers":
            return {}
        params = {"received_from": self.q.start.isoformat(), "received_to": self.q.end.isoformat()}
        if self.current["updated_since"]:
            params["updated_since"] = self.current["updated_since"]
        return params

    def rel(self, kind: str, n: int) -> str:
        return f"{self.current['id']}/{kind}-p{n:05d}.json"

    def save(self) -> None:
        save_state(self.home, self.state)


def _check_total(pull: _Pull, kind: str, prog: dict, page: Page, n: int) -> None:
    """Take the advertised total from the first page; any other page must advertise the same."""
    if prog["total"] is None:
        prog["total"] = page.total
    elif page.total != prog["total"]:
        raise PortalTotalChanged(
            f"portal pull {pull.current['id']} of {pull.q.label}, {kind}: the portal advertised "
            f"{prog['total']:,} records, then {page.total:,} on page {n} (records were added or "
            "removed during the pull, so pages shifted)"
        )


def _check_complete(pull: _Pull, kind: str, prog: dict) -> None:
    """The pages of the endpoint add up to the advertised total, or the pull is refused."""
    received, total = sum(prog["counts"]), prog["total"]
    if prog["done"] and received == total:
        return
    folder = quarter_landing(pull.home, pull.q) / pull.current["id"]
    how = "up to its last page" if prog["done"] else "and it still pointed to a next page"
    raise PortalIncomplete(
        f"portal pull of {pull.q.label} came up {'short' if received < total else 'long'}: the "
        f"portal advertised {total:,} {kind}, {received:,} were received in {prog['pages']} "
        f"pages ({how}). Nothing was written to the warehouse; the pages are kept in {folder} "
        "for diagnosis, and the next pull starts afresh."
    )


def _refetch_damaged(pull: _Pull, kind: str, path: str) -> None:
    """Fetch again, with its own token, every landed page of the pull that is missing or
    fails its checksum; pages that verify are not fetched again."""
    prog = pull.current[kind]
    qdir = quarter_landing(pull.home, pull.q)
    sums = _checksums(qdir)
    for i in range(prog["pages"]):
        rel = pull.rel(kind, i + 1)
        f = qdir / rel
        if f.is_file() and sums.get(rel) == hashlib.sha256(f.read_bytes()).hexdigest():
            continue
        log.warning("landed page %s is missing or fails its checksum: fetching it again", rel)
        page = pull.client.get_page(path, _request(pull.params(kind), pull.page_size, prog["tokens"][i]))
        _check_total(pull, kind, prog, page, i + 1)
        following = prog["tokens"][i + 1] if i + 1 < prog["pages"] else prog["next_token"]
        if page.next_token != following:
            raise PortalTotalChanged(
                f"portal pull {pull.current['id']} of {pull.q.label}, {kind}: page {i + 1} fetched "
                "again points to another next page than before (the portal's pages shifted)"
            )
        _land(pull.home, pull.q, rel, page.raw)
        prog["counts"][i] = len(page.items)
        pull.save()


def _fetch_pages(pull: _Pull, kind: str, path: str) -> None:
    """Fetch the endpoint's remaining pages for the pull in progress, landing each and saving
    state, then check that they add up to the advertised total."""
    prog = pull.current.setdefault(kind, _new_progress())
    _refetch_damaged(pull, kind, path)
    while not prog["done"]:
        token = prog["next_token"]
        page = pull.client.get_page(path, _request(pull.params(kind), pull.page_size, token))
        n = prog["pages"] + 1
        _check_total(pull, kind, prog, page, n)
        _land(pull.home, pull.q, pull.rel(kind, n), page.raw)
        if kind == "dossiers":
            stamps = [str(i.get("NgayCapNhat")) for i in page.items if i.get("NgayCapNhat")]
            if stamps:
                pull.current["max_updated"] = max([pull.current.get("max_updated") or ""] + stamps)
        prog["tokens"].append(token)
        prog["counts"].append(len(page.items))
        prog.update(pages=n, next_token=page.next_token, done=page.next_token is None)
        pull.save()
        if not prog["done"] and n > prog["total"]:
            break  # more pages than records: endless paging, refused below
    _check_complete(pull, kind, prog)


def _abandon(qs: dict, why: str) -> None:
    """Close the pull in progress without using it (its pages stay landed, for diagnosis)."""
    qs.setdefault("abandoned", []).append({"id": qs["in_progress"]["id"], "why": why})
    qs["in_progress"] = None


def _open_pull(home: DxHome, q: Quarter, full: bool) -> dict:
    """The state with the quarter's pull in progress (a new one if none is)."""
    state = load_state(home)
    qs = state["quarters"].setdefault(q.label, {"cursor": None, "pulls": []})
    current = qs.get("in_progress")
    if current is not None and any("counts" not in current.get(k, {"counts": []}) for k, _ in ENDPOINTS):
        _abandon(qs, "started by an older client that did not record page counts")
    if qs.get("in_progress") is None:
        seq = len(qs["pulls"]) + len(qs.get("abandoned", [])) + 1
        fresh = full or not qs["pulls"]
        qs["in_progress"] = {
            "id": f"pull-{seq:04d}",
            "full": bool(fresh),
            "updated_since": None if fresh else qs.get("cursor"),
        }
        save_state(home, state)
    return state


def _pull_until_done(client: PortalClient, home: DxHome, q: Quarter, full: bool, page_size: int) -> _Pull:
    """Fetch every page of the pull in progress: resume after a GET spent its attempts, start
    over when the total changed, refuse a pull that does not add up."""
    restarts = resumes = 0
    while True:
        pull = _Pull(client, home, q, _open_pull(home, q, full), page_size)
        log.info("portal pull %s %s (updated_since=%s)", q.label, pull.current["id"],
                 pull.current["updated_since"])
        try:
            for kind, path in ENDPOINTS:
                _fetch_pages(pull, kind, path)
            return pull
        except PortalIncomplete as exc:
            _abandon(pull.qs, str(exc))
            pull.save()
            raise
        except PortalTotalChanged as exc:
            _abandon(pull.qs, str(exc))
            pull.save()
            if restarts == client.policy.restarts:
                raise PortalTotalChanged(
                    f"{exc}; the pull started over {restarts} times and the total changed each "
                    "time. Nothing was written to the warehouse; rerun when the portal is quieter."
                ) from None
            restarts += 1
            log.warning("%s: starting the pull again from the first page", exc)
        except PortalRetriesSpent as exc:
            if resumes == client.policy.resumes:
                raise PortalRetriesSpent(
                    f"{exc} (the pull had resumed {resumes} times in this call)"
                ) from None
            resumes += 1
            log.warning("%s Resuming from the last good page (resume %d of %d) after a pause.",
                        exc, resumes, client.policy.resumes)
            client.wait(client.policy.backoff_max * client.policy.wait_scale, str(exc))


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
    raw pages with checksums, check they add up to the advertised totals, and write
    portal_dossiers, portal_rejects and procedures.

    ``client_options`` go to :class:`PortalClient` (``policy`` or its fields: attempts,
    timeout, backoff_base, wait_scale, ...). On failure a :class:`PortalError` is raised;
    after spent retries or time the state keeps the unfinished pull and calling again resumes
    it, after a refused pull (:class:`PortalIncomplete`) the next call starts a new one.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    client = client or PortalClient(base_url, token, **client_options)
    client.start_pull()
    pull = _pull_until_done(client, home, q, full, page_size)
    qs, current = pull.qs, pull.current
    dossiers, procedures = current["dossiers"], current["procedures"]
    qs["pulls"].append(
        {"id": current["id"], "full": current["full"], "updated_since": current["updated_since"],
         "dossier_pages": dossiers["pages"], "procedure_pages": procedures["pages"],
         "dossier_total": dossiers["total"], "procedure_total": procedures["total"]}
    )
    if current.get("max_updated"):
        qs["cursor"] = max(qs.get("cursor") or "", current["max_updated"])
    qs["in_progress"] = None
    pull.save()
    tries = client.attempts or [0]
    note = (
        f"{current['id']}: {dossiers['total']:,} of {dossiers['total']:,} advertised dossiers and "
        f"{procedures['total']:,} of {procedures['total']:,} procedures received; {len(client.attempts)} "
        f"requests, {sum(tries) / len(tries):.2f} attempts per request (at most {max(tries)}), "
        f"{client.waited:.1f} s waiting, {client.deadline.elapsed():.1f} s in all"
    )
    return normalise_landed(home, q, pull.state, notes=(note,))


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


def normalise_landed(
    home: DxHome, quarter: Quarter | str, state: dict | None = None, notes: tuple[str, ...] = ()
) -> PortalIngestResult:
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
            dossier_mapping=dm, procedure_mapping=pm, notes=notes,
        )
    finally:
        con.close()
