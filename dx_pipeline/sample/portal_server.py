"""The sample public-service portal: a real HTTP server over the sample's export files.

Serves ``DX_HOME/portal_exports`` through the paged JSON export API that
:mod:`dx_pipeline.sources.portal_client` speaks (the API is documented there), checks the
bearer token, and injects faults on request so the client is tested against real failures:

- ``delay``     sleep ``seconds`` before answering (client timeouts)
- ``500``       answer HTTP 500 (any 5xx with ``status``)
- ``429``       answer HTTP 429 with ``Retry-After: retry_after``
- ``truncate``  announce the full Content-Length, send half the body, close the connection
- ``bad_json``  a complete HTTP answer whose JSON body is cut in half
- ``duplicate`` answer with the previous page's body again (a replayed page)
- ``reset``     close the connection without answering (a connection reset)
- ``short``     HTTP 200, valid JSON, the page's tokens and ``total`` - and half its items (a
                proxy that loses records)
- ``grow``      the portal registers a new dossier of the quarter just before answering (the
                ``total`` changes during a pull)
- ``mix``       a seeded fault schedule: each matching request fails with probability ``rate``,
                with one of ``kinds`` drawn by ``random.Random(seed)`` (the same requests fail
                the same way on every run)

A fault is ``{"kind": ..., "path": "/api/v1/dossiers", "after": 0, "times": 1, ...}``: it hits
the matching requests number ``after`` .. ``after + times - 1`` (0-based); ``path`` ``"*"``
matches both API endpoints. Faults are given to
the constructor or replaced at run time with ``POST /_control/faults`` (a JSON list).
``GET /_control/log`` lists the requests served (path, query, status; never headers).

Usage: ``with serve_portal(home, token="t", faults=[...]) as server: server.url``.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome

API_DATE_FIELDS = (
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayKetThucXuLy",
    "NgayTraKetQua",
    "NgayDungXuLy",
    "NgayCapNhat",
    "NgayTiepNhanPAKN",
    "HanXuLyPAKN",
    "NgayXuLyPAKN",
)
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


FAULT_KINDS = ("delay", "500", "429", "truncate", "bad_json", "duplicate", "reset", "short", "grow", "mix")
API_PATHS = ("/api/v1/dossiers", "/api/v1/procedures")


@dataclass
class Fault:
    """A fault the sample portal injects on purpose (HTTP error, slowness, bad page) for tests."""

    kind: str
    path: str = "/api/v1/dossiers"
    after: int = 0
    times: int = 1
    status: int = 500
    retry_after: str = "0"
    seconds: float = 0.5
    rate: float = 1.0
    seed: int = 0
    kinds: tuple[str, ...] = ("delay", "500", "429", "reset")
    seen: int = field(default=0, compare=False)
    _draws: random.Random | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Fault":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k not in ("seen", "_draws")}
        if known.get("kind") not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {d.get('kind')!r}")
        if "kinds" in known:
            known["kinds"] = tuple(known["kinds"])
            if not known["kinds"] or set(known["kinds"]) - set(FAULT_KINDS[:-1]):
                raise ValueError(f"kinds must be some of {FAULT_KINDS[:-1]}, got {d['kinds']!r}")
        return cls(**known)

    def hits(self, path: str) -> str | None:
        """Count a matching request; the kind of fault it gets, or None when it is answered."""
        if path != self.path and not (self.path == "*" and path in API_PATHS):
            return None
        n = self.seen
        self.seen += 1
        if not self.after <= n < self.after + self.times:
            return None
        if self.kind != "mix":
            return self.kind
        if self._draws is None:
            self._draws = random.Random(self.seed)
        failing, kind = self._draws.random() < self.rate, self._draws.choice(self.kinds)
        return kind if failing else None


def to_api_datetime(text: str | None) -> str | None:
    """Export format ``dd/mm/yyyy[ HH:MM:SS]`` -> the API's ``yyyyMMddHHmmss``; others unchanged."""
    if not text:
        return text
    t = text.strip()
    try:
        if len(t) == 19 and t[2] == "/" and t[5] == "/":
            return f"{t[6:10]}{t[3:5]}{t[0:2]}{t[11:13]}{t[14:16]}{t[17:19]}"
        if len(t) == 10 and t[2] == "/" and t[5] == "/":
            return f"{t[6:10]}{t[3:5]}{t[0:2]}000000"
    except IndexError:  # pragma: no cover
        pass
    return text


class PortalData:
    """The export files as API records, loaded on first use and kept in memory."""

    def __init__(self, exports: Path):
        self.exports = exports
        self._dossiers: dict[str, list[dict]] = {}
        self._procedures: list[dict] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _read(path: Path) -> list[dict]:
        con = duckdb.connect()
        try:
            rel = con.sql(
                f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true, encoding = 'utf-8')"
            )
            names = [c.strip().lstrip("\ufeff") for c in rel.columns]
            rows = rel.fetchall()
        finally:
            con.close()
        out = []
        for row in rows:
            rec = dict(zip(names, row, strict=True))
            for f in API_DATE_FIELDS:
                if f in rec:
                    rec[f] = to_api_datetime(rec[f])
            out.append(rec)
        return out

    def dossiers(self, quarter: Quarter) -> list[dict]:
        with self._lock:
            if quarter.label not in self._dossiers:
                folder = self.exports / f"quarter={quarter.label}"
                recs: list[dict] = []
                for f in sorted(folder.glob("dossiers*.csv")):
                    recs += self._read(f)
                self._dossiers[quarter.label] = recs
            return self._dossiers[quarter.label]

    def procedures(self) -> list[dict]:
        with self._lock:
            if self._procedures is None:
                f = self.exports / "procedures.csv"
                self._procedures = self._read(f) if f.exists() else []
            return self._procedures

    def add_dossier(self, quarter: Quarter) -> None:
        """Register one more dossier in the quarter (a copy of its first, under a new code), as
        the live portal does while a pull is running."""
        records = self.dossiers(quarter)
        with self._lock:
            if records:
                records.append(dict(records[0], MaHoSo=f"NEW{len(records):06d}"))


class PortalServer(ThreadingHTTPServer):
    """The sample portal's export API over DX_HOME/portal_exports, with optional faults."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, home: DxHome, host: str, port: int, token: str, faults: list[Fault]):
        super().__init__((host, port), _Handler)
        self.data = PortalData(home.portal_exports)
        self.token = token
        self.faults = faults
        self.log: list[dict] = []
        self.last_body: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PortalServer":
        self._thread = threading.Thread(target=self.serve_forever, name="sample-portal", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_faults(self, faults: Sequence[dict | Fault]) -> None:
        with self.lock:
            self.faults = [f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults]

    def __enter__(self) -> "PortalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PortalServer(url={self.url!r})"


def serve_portal(
    home: DxHome,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sample-token",
    faults: Sequence[dict | Fault] | None = None,
) -> PortalServer:
    """Start the sample portal in a background thread; ``port=0`` picks a free port."""
    server = PortalServer(home, host, port, token, [])
    server.set_faults(faults or [])
    return server.start()


def _page(records: list[dict], token: str | None, size: int) -> tuple[list[dict], str | None]:
    start = int(token) if token else 0
    items = records[start : start + size]
    nxt = start + size
    return items, (str(nxt) if nxt < len(records) else None)


class _Handler(BaseHTTPRequestHandler):
    server: PortalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> bytes:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, headers)
        return body

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.server.token}"

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if not self._authorised():
            self._json(401, {"error": "unauthorised"})
            return
        if path == "/_control/faults":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                self.server.set_faults(json.loads(self.rfile.read(length) or b"[]"))
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"faults": len(self.server.faults)})
            return
        self._json(404, {"error": "not found"})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        entry: dict[str, Any] = {"path": path, "query": parts.query, "status": None}
        with self.server.lock:
            self.server.log.append(entry)
            fault, kind = next(
                ((f, k) for f in self.server.faults if (k := f.hits(path)) is not None), (None, None)
            )
        if kind == "reset":
            entry["status"] = "reset"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "delay" and fault is not None:
            time.sleep(fault.seconds)
        if not self._authorised():
            entry["status"] = 401
            self._json(401, {"error": "unauthorised: send Authorization: Bearer <token>"})
            return
        if path == "/_control/log":
            entry["status"] = 200
            self._json(200, self.server.log[:-1])
            return
        if fault is None or not self._error_answer(fault, kind, path, entry):
            self._api_answer(path, query, kind, entry)

    def _error_answer(self, fault: Fault, kind: str | None, path: str, entry: dict[str, Any]) -> bool:
        """Answer with the fault's error status or a replayed page; False if it has none."""
        if kind == "500":
            entry["status"] = fault.status
            self._json(fault.status, {"error": "injected server error"})
        elif kind == "429":
            entry["status"] = 429
            self._json(429, {"error": "too many requests"}, {"Retry-After": fault.retry_after})
        elif kind == "duplicate" and path in self.server.last_body:
            entry["status"] = "duplicate"
            self._send(200, self.server.last_body[path])
        else:
            return False
        return True

    def _api_answer(self, path: str, query: dict[str, list[str]], kind: str | None,
                    entry: dict[str, Any]) -> None:
        """The page asked for, whole, halved (``short``) or cut off (``truncate``, ``bad_json``)."""
        try:
            body = self._api_body(path, query, kind)
        except ValueError as exc:
            entry["status"] = 400
            self._json(400, {"error": str(exc)})
            return
        if body is None:
            entry["status"] = 404
            self._json(404, {"error": f"no such endpoint {path}"})
            return
        self.server.last_body[path] = body
        if kind in ("truncate", "bad_json"):
            entry["status"] = kind
            half = body[: len(body) // 2]
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if kind == "truncate" else len(half)))
            self.end_headers()
            self.wfile.write(half)
            self.wfile.flush()
            if kind == "truncate":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        entry["status"] = kind if kind in ("short", "grow", "delay") else 200
        self._send(200, body)

    def _api_body(self, path: str, query: dict[str, list[str]], kind: str | None = None) -> bytes | None:
        one = lambda k: (query.get(k) or [None])[0]  # noqa: E731
        size = int(one("page_size") or DEFAULT_PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        token = one("page_token")
        if path == "/api/v1/dossiers":
            received_from, received_to = one("received_from"), one("received_to")
            if not received_from or not received_to:
                raise ValueError("received_from and received_to (YYYY-MM-DD) are required")
            q = Quarter.parse(received_from)
            if kind == "grow":
                self.server.data.add_dossier(q)
            lo = received_from.replace("-", "") + "000000"
            hi = received_to.replace("-", "") + "000000"
            carried = q.start.strftime("%Y%m%d") + "000000"
            since = one("updated_since")
            records = [
                r for r in self.server.data.dossiers(q)
                if _in_range(r.get("NgayTiepNhan"), lo, hi, carried)
                and (not since or not r.get("NgayCapNhat") or r["NgayCapNhat"] >= since)
            ]
        elif path == "/api/v1/procedures":
            records = self.server.data.procedures()
        else:
            return None
        items, nxt = _page(records, token, size)
        if kind == "short":
            items = items[: len(items) // 2]
        return json.dumps(
            {"items": items, "page_token": token or "", "next_page_token": nxt, "total": len(records)},
            ensure_ascii=False,
        ).encode("utf-8")


def _in_range(received: str | None, lo: str, hi: str, carried: str) -> bool:
    """Received within [lo, hi), or before ``carried`` (the quarter's start: a dossier the quarter's
    export carries over, still open then); a date the server cannot read is served (the client
    rejects it)."""
    import datetime as dt

    text = received or ""
    try:
        dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return True
    return lo <= text < hi or text < carried
