"""Real `dx-pipeline run` processes killed, run twice at once, and searched for secrets.

One small sample province (seed 7, 1 % volume, one quarter) is copied into three DX_HOMEs:

* ``ref``: one uninterrupted run from the portal export files;
* ``crash``: the same, SIGKILLed the moment it starts writing ``agency_kpis``; its home is then
  inspected (no partial table or snapshot visible), then two runs of the same quarter are
  started AT ONCE on it; the result must equal ``ref`` byte for byte;
* ``secret``: a run reading dossiers over HTTP from the sample portal server with a secret
  token and (when $DX_TEST_POSTGRES_URL is set) the reporting database from PostgreSQL through
  a URL with a secret password. Every file under that home (warehouse, landing, published, dq
  reports, the Dagster instance's SQLite event log), every event record of its run and every
  line it printed is searched for the token and the password.

The crash comparison uses export files, not HTTP: a rerun over HTTP makes a new incremental
pull (``landing/portal/.../pull-0002``) and the rows' ``source_file`` names it, so HTTP reruns
are equal in content but not byte-identical (see docs/reliability.md).

dq_results carries run metadata (``checked_at``, ``run_id``) and ranking_snapshot the time of
publication (``published_at``): they are compared without those columns.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from dx_pipeline.publish.verify import verify
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.storage import DxHome, table_glob

pytestmark = pytest.mark.slow

Q = Quarter.parse("2025-Q1")
TOKEN = "tok-" + uuid.uuid4().hex
PASSWORD = "pw-" + uuid.uuid4().hex
RUN_METADATA = {"dq_results": ["checked_at", "run_id"], "ranking_snapshot": ["published_at"]}
"""Columns that record when (and by which run) a row was made: they differ between two homes."""
KILL_WHEN = "agency_kpis"


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "dx-pipeline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dx_pipeline.cli"]


def _start(home: Path, env: dict, log: Path, portal: str = "files") -> subprocess.Popen:
    out = open(log, "wb")
    return subprocess.Popen(
        _cli() + ["--home", str(home), "run", "--quarter", Q.label, "--portal", portal],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _wait(proc: subprocess.Popen, timeout: float = 480) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _postgres_reporting_db(sample_db: Path):
    """A throwaway PostgreSQL database and role with a password, holding the sample's
    reporting table; None without $DX_TEST_POSTGRES_URL."""
    admin_url = os.environ.get("DX_TEST_POSTGRES_URL")
    if not admin_url:
        return None, None
    import pandas as pd
    import sqlalchemy as sa

    from dx_pipeline.sources.reporting_db import make_engine

    name = "dx_rel_" + uuid.uuid4().hex[:10]
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'"))
        con.execute(sa.text(f"CREATE DATABASE {name} OWNER {name}"))
    url = sa.engine.make_url(admin_url).set(
        drivername="postgresql+psycopg2", username=name, password=PASSWORD, database=name
    )
    rows = pd.read_sql_table("dx_indicator_reports", f"sqlite:///{sample_db}")
    engine = sa.create_engine(url)
    rows.to_sql("dx_indicator_reports", engine, index=False)
    engine.dispose()

    def drop():
        with admin.connect() as con:
            con.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            con.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def _table_files(home: Path) -> dict[str, Path]:
    return {p.relative_to(home).as_posix(): p for p in (home / "warehouse").rglob("*") if p.is_file()}


def _observe_crashed(home: DxHome) -> dict:
    """What a reader would see in a home whose run was just killed."""
    files = _table_files(home.root)
    unreadable = []
    for rel, path in files.items():
        if path.name == "data.parquet":
            try:
                pq.read_table(path)
            except Exception as exc:  # noqa: BLE001 - any failure is what we look for
                unreadable.append(f"{rel}: {exc}")
    visible_temps = [rel for rel in files if rel.endswith(".tmp") and not Path(rel).name.startswith(".")]
    seen_by_readers = []
    con = duckdb.connect()
    for table in sorted({Path(rel).parts[1] for rel in files}):
        for f in con.execute("SELECT file FROM glob(?)", [table_glob(home, table)]).fetchall():
            seen_by_readers.append(f[0])
        if list((home.warehouse / table).glob("quarter=*/data.parquet")):
            con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", [table_glob(home, table)]
            )
    con.close()
    published = verify(home) if home.published.exists() else None
    return {
        "unreadable": unreadable,
        "visible_temps": visible_temps,
        "hidden_temps": [rel for rel in files if rel.endswith(".tmp")],
        "temps_seen_by_readers": [f for f in seen_by_readers if not f.endswith("/data.parquet")],
        "published_ok": None if published is None else (published.ok, published.summary()),
        "tables": sorted({Path(rel).parts[1] for rel in files}),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    seed_home = DxHome(base / "seed").ensure()
    generate_sample(seed_home, seed=7, scale=0.01, quarters=[Q])
    pg_url, drop_pg = _postgres_reporting_db(seed_home.sample / "reporting.db")
    homes = {}
    for name in ("ref", "crash", "secret"):
        shutil.copytree(seed_home.root, base / name, symlinks=True)  # keeps file times
        homes[name] = DxHome(base / name)
    server = serve_portal(seed_home, token=TOKEN)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "DX_HOME", "DX_REGISTRY", "DX_DAGSTER_PG_URL", "DX_REPORTING_DB_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    secret_env = dict(env, DX_PORTAL_URL=server.url, DX_PORTAL_TOKEN=TOKEN)
    if pg_url:
        secret_env["DX_REPORTING_DB_URL"] = pg_url
    logs = {n: base / f"{n}.log" for n in ("ref", "crash", "again1", "again2", "secret")}
    out: dict = {"homes": homes, "logs": logs, "base": base, "pg": bool(pg_url)}
    try:
        ref = _start(homes["ref"].root, env, logs["ref"])
        crash = _start(homes["crash"].root, env, logs["crash"])
        target = homes["crash"].table_dir(KILL_WHEN) / f"quarter={Q.label}"
        while crash.poll() is None and not target.exists():
            time.sleep(0.02)
        out["killed_while_running"] = crash.poll() is None
        os.killpg(crash.pid, signal.SIGKILL)
        crash.wait()
        out["after_kill"] = _observe_crashed(homes["crash"])
        out["ref_rc"] = _wait(ref)
        again = [_start(homes["crash"].root, env, logs[n]) for n in ("again1", "again2")]
        secret = _start(homes["secret"].root, secret_env, logs["secret"], portal="http")
        out["again_rc"] = [_wait(p) for p in again]
        out["secret_rc"] = _wait(secret)
        yield out
    finally:
        server.stop()
        if drop_pg:
            drop_pg()


def test_a_killed_run_leaves_no_partial_table_or_snapshot(runs):
    seen = runs["after_kill"]
    assert runs["killed_while_running"], "the run ended before it was killed: kill point not reached"
    assert seen["unreadable"] == []
    assert seen["visible_temps"] == [] and seen["temps_seen_by_readers"] == []
    if seen["published_ok"] is not None:
        assert seen["published_ok"][0], seen["published_ok"][1]


def test_two_runs_at_once_after_a_crash_equal_one_uninterrupted_run(runs):
    ref, crash = runs["homes"]["ref"], runs["homes"]["crash"]
    assert runs["again_rc"] == [runs["ref_rc"], runs["ref_rc"]], _tail(runs["logs"]["again1"])
    ref_files, crash_files = _table_files(ref.root), _table_files(crash.root)
    assert not [r for r in crash_files if r.endswith(".tmp")], "stale temp files survived the rerun"
    assert sorted(crash_files) == sorted(ref_files)
    assert any(r.startswith(f"warehouse/{KILL_WHEN}/") for r in ref_files)
    different = []
    for rel, path in ref_files.items():
        table = Path(rel).parts[1]
        if table in RUN_METADATA and rel.endswith("/data.parquet"):
            a = pq.read_table(path).drop_columns(RUN_METADATA[table])
            b = pq.read_table(crash_files[rel]).drop_columns(RUN_METADATA[table])
            if not a.equals(b):
                different.append(rel)
        elif path.read_bytes() != crash_files[rel].read_bytes():
            different.append(rel)
    assert different == []
    if ref.published.exists() or crash.published.exists():
        assert verify(crash).ok and verify(ref).ok
        ref_pub = sorted(p.relative_to(ref.published) for p in ref.published.rglob("*") if p.is_file())
        crash_pub = sorted(p.relative_to(crash.published) for p in crash.published.rglob("*") if p.is_file())
        assert crash_pub == ref_pub, "the concurrent runs published a different set of revisions"


def _tail(path: Path, n: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def _secret_forms(secret: str) -> list[bytes]:
    return [secret.encode(), urllib.parse.quote(secret).encode(), secret.encode("utf-16-le")]


def _leaks(root: Path, secret: str) -> list[str]:
    forms = _secret_forms(secret)
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(f in data for f in forms):
                found.append(str(path.relative_to(root)))
    return found


def _event_log_text(home: DxHome) -> str:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster_shared.serdes import serialize_value

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home.root / "dagster")))
    try:
        parts = []
        for run in instance.get_runs():
            parts.append(serialize_value(run))
            for record in instance.all_logs(run.run_id):
                parts.append(serialize_value(record))
                parts.append(str(record.user_message))
        assert parts, "no runs in the instance"
        return "\n".join(parts)
    finally:
        instance.dispose()


def _secrets(runs) -> list[str]:
    return [TOKEN] + ([PASSWORD] if runs["pg"] else [])


def test_secrets_never_reach_files_under_dx_home(runs):
    home = runs["homes"]["secret"]
    for secret in _secrets(runs):
        assert _leaks(home.root, secret) == [], "secret found in files"
    assert list(home.landing.rglob("dossiers-*.json")), "the portal was not read over HTTP"


def test_secrets_never_reach_the_event_log_or_printed_output(runs):
    text = _event_log_text(runs["homes"]["secret"])
    for secret in _secrets(runs):
        assert secret not in text, "secret in the Dagster event log"
    for log in runs["logs"].values():
        text = log.read_text(errors="replace")
        for secret in _secrets(runs):
            assert secret not in text, f"{log.name}: secret printed"


def test_the_reporting_db_password_was_really_used(runs):
    if not runs["pg"]:
        pytest.skip("DX_TEST_POSTGRES_URL is not set: no database password to search for")
    submissions = runs["homes"]["secret"].partition_dir("agency_submissions", Q) / "data.parquet"
    sources = set(pq.read_table(submissions).column("source").to_pylist())
    assert "reporting_db" in sources
