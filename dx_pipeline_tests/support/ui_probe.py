"""Start the Dagster UI on a free port and ask it, over its GraphQL API, what a user would see.

Why this exists: "the code location loads" is not the same as "a data engineer opening the UI
finds every asset, check, job, schedule and sensor, and can launch a quarter from it". This
module drives the real ``dagster-webserver`` (and, for runs launched from the UI, the real
``dagster-daemon``) as subprocesses and talks to them the way the browser does: plain HTTP
POSTs to ``/graphql``. Tests and smoke checks share it.

Plain Python on purpose (subprocess + requests, no Dagster import): the processes under test
import Dagster, the prober does not, so it sees only what the UI sees.

Every process is started in its own session (process group), so :meth:`UiServer.stop` can
kill the webserver or daemon together with everything they spawned: code servers, run
workers and their step processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from dx_pipeline.defs.graphql import GraphQLError, graphql
from dx_pipeline.reference.quarters import Quarter

LOCATION = "dx_pipeline"
"""The code location name in workspace.yaml."""
REPOSITORY = "__repository__"
"""The repository name Dagster gives a module-level ``Definitions`` object."""

TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
PARTITION_TAG = "dagster/partition"


UiError = GraphQLError
"""The UI answered, but not with what was asked for (GraphQL errors, a failed mutation)."""


# --------------------------------------------------------------------------- processes


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _console_script(name: str, module: str) -> list[str]:
    """The venv's console script next to this interpreter, else ``python -m module``."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``; Linux /proc, else a probe."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - non-Linux fallback
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..." -- comm may hold spaces, so split after ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


@dataclass
class ManagedProcess:
    """One started process (its own process group) and its log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pgid(self) -> int:
        return self.popen.pid  # start_new_session=True: the leader's pid is the group id

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_seconds: float = 5.0) -> list[int]:
        """SIGTERM the whole group, SIGKILL what is left after ``grace_seconds``.

        Returns the pids still alive afterwards (empty when the group is gone).
        """
        for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=0.2)
                if self.popen.poll() is not None and not _group_members(self.pgid):
                    return []
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)
        return _group_members(self.pgid)


def start_process(
    name: str, cmd: list[str], env: Mapping[str, str], cwd: Path, log_dir: Path
) -> ManagedProcess:
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it; closed below in the parent
    try:
        popen = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    finally:
        log.close()
    return ManagedProcess(name, popen, log_path)


def start_daemon(workspace: Path, env: Mapping[str, str], log_dir: Path,
                 backfill_tick_seconds: int | None = None) -> ManagedProcess:
    """``dagster-daemon run -w workspace`` in its own process group, logging to
    ``log_dir/dagster-daemon.log``: it launches queued runs, runs backfills, ticks schedules
    and sensors. ``env`` must name the instance (``DAGSTER_HOME``) and the data (``DX_HOME``).
    ``backfill_tick_seconds``: the backfill loop's sleep instead of Dagster's 30 s
    (:mod:`dx_pipeline_tests.support.quick_daemon`).
    Stop it with :meth:`ManagedProcess.stop`, which takes its code server and runs with it."""
    workspace = Path(workspace).resolve()
    if backfill_tick_seconds is None:
        cmd = _console_script("dagster-daemon", "dagster._daemon")
    else:
        cmd = [sys.executable, "-m", "dx_pipeline_tests.support.quick_daemon", str(backfill_tick_seconds)]
    cmd += ["run", "-w", str(workspace)]
    return start_process("dagster-daemon", cmd, env, workspace.parent, Path(log_dir))


@dataclass
class UiServer:
    """A running Dagster webserver (plus, once started, the daemon) on 127.0.0.1."""

    base_url: str
    env: dict[str, str]
    cwd: Path
    workspace: Path
    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        return graphql(self.base_url, query, variables)

    def start_daemon(self) -> ManagedProcess:
        """Start ``dagster-daemon run`` on the same instance: it dequeues runs launched from
        the UI (the instance uses the QueuedRunCoordinator) and evaluates sensors/schedules."""
        daemon = start_daemon(self.workspace, self.env, self.log_dir)
        self.processes.append(daemon)
        return daemon

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.log_tail()}" for p in self.processes)

    def stop(self) -> dict[str, list[int]]:
        """Kill every process group started here; returns {name: pids that survived}."""
        survivors = {p.name: p.stop() for p in reversed(self.processes)}
        return {name: pids for name, pids in survivors.items() if pids}

    def __enter__(self) -> "UiServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_ui(
    workspace: Path,
    dagster_home: Path,
    dx_home: Path,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_dir: Path | None = None,
    extra_env: Mapping[str, str | None] | None = None,
    timeout: float = 180.0,
    before_wait: Callable[[], object] | None = None,
) -> UiServer:
    """Start ``dagster-webserver -w workspace -h host -p port`` and wait for ``/server_info``.

    ``DAGSTER_HOME`` and ``DX_HOME`` are set for the child (and everything it spawns);
    ``extra_env`` adds variables, or removes them when the value is None. The webserver loads
    the code location before it answers, so a ready server has the definitions loaded. If
    it exits or stays silent for ``timeout`` seconds it is killed and the error carries the
    tail of its log. ``before_wait`` runs while the webserver boots (e.g. generating the
    sample it will read), so the two overlap; if it raises, the webserver is killed too.
    """
    workspace = Path(workspace).resolve()
    port = port or free_port(host)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="dx_ui_logs_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(Path(dagster_home).resolve())
    env["DX_HOME"] = str(Path(dx_home).resolve())
    for key, value in (extra_env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    cmd = _console_script("dagster-webserver", "dagster_webserver") + [
        "-w", str(workspace), "-h", host, "-p", str(port),
    ]
    server = UiServer(f"http://{host}:{port}", env, workspace.parent, workspace, log_dir)
    webserver = start_process("dagster-webserver", cmd, env, workspace.parent, log_dir)
    server.processes.append(webserver)
    try:
        if before_wait is not None:
            before_wait()
        wait_for_server(server.base_url, timeout, webserver)
    except BaseException:
        server.stop()
        raise
    return server


def wait_for_server(base_url: str, timeout: float, process: ManagedProcess | None = None) -> dict:
    """Poll ``GET /server_info`` until it answers; fail early if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.popen.poll() is not None:
            raise UiError(
                f"{process.name} exited with code {process.popen.returncode} before serving "
                f"{base_url}:\n{process.log_tail()}"
            )
        try:
            response = requests.get(f"{base_url}/server_info", timeout=5)
            if response.ok:
                return response.json()
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            tail = process.log_tail() if process else ""
            raise UiError(f"{base_url}/server_info did not answer within {timeout:.0f} s\n{tail}")
        time.sleep(0.5)


# --------------------------------------------------------------------------- GraphQL


INVENTORY_QUERY = """
query DxInventory {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name description isAssetJob }
        schedules {
          name cronSchedule executionTimezone description
          scheduleState { status }
          futureTicks(limit: 2) { results { timestamp } }
        }
        sensors { id name sensorType minIntervalSeconds sensorState { status } }
        assetNodes {
          assetKey { path }
          groupName
          description
          isPartitioned
          partitionKeys
          owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
          metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name } } } }
          assetChecksOrError {
            __typename
            ... on AssetChecks { checks { name blocking description } }
          }
        }
      }
    }
    ... on PythonError { message stack }
  }
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class UiInventory:
    """What the UI lists for the code location ``LOCATION``."""

    assets: dict[str, dict]  # "agencies" -> {group, description, partitioned, partition_keys,
    #                                       owners ("team:x" / e-mail), columns (or None)}
    checks: dict[tuple[str, str], dict]  # (asset, check) -> {blocking, description}
    jobs: dict[str, dict]
    schedules: dict[str, dict]  # name -> {cron, timezone, status, next_ticks (epoch s)}
    sensors: dict[str, dict]  # name -> {id, type, status, min_interval}
    location_errors: dict[str, str]


def ui_inventory(base_url: str, location: str = LOCATION) -> UiInventory:
    """Assets, checks, jobs, schedules and sensors the UI shows for ``location``."""
    data = graphql(base_url, INVENTORY_QUERY)
    location_errors = {
        entry["name"]: entry["locationOrLoadError"]["message"]
        for entry in data["workspaceOrError"].get("locationEntries", [])
        if (entry.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
    }
    repos = data["repositoriesOrError"]
    if repos["__typename"] != "RepositoryConnection":
        raise UiError(f"repositoriesOrError: {repos.get('message')}")
    assets: dict[str, dict] = {}
    checks: dict[tuple[str, str], dict] = {}
    jobs: dict[str, dict] = {}
    schedules: dict[str, dict] = {}
    sensors: dict[str, dict] = {}
    for repo in repos["nodes"]:
        if repo["location"]["name"] != location:
            continue
        for node in repo["assetNodes"]:
            key = "/".join(node["assetKey"]["path"])
            assets[key] = {
                "group": node["groupName"],
                "description": node["description"] or "",
                "partitioned": node["isPartitioned"],
                "partition_keys": node["partitionKeys"] or [],
                "owners": [f"team:{o['team']}" if "team" in o else o.get("email") for o in node["owners"]],
                "columns": next(([c["name"] for c in e["schema"]["columns"]] for e in node["metadataEntries"]
                                 if e["label"] == "dagster/column_schema" and "schema" in e), None),
            }
            result = node["assetChecksOrError"]
            if result["__typename"] != "AssetChecks":
                raise UiError(f"asset checks of {key}: {result['__typename']}")
            for check in result["checks"]:
                checks[(key, check["name"])] = {
                    "blocking": check["blocking"], "description": check["description"] or "",
                }
        for job in repo["jobs"]:
            jobs[job["name"]] = {
                "description": job["description"] or "", "asset_job": job["isAssetJob"],
            }
        for sched in repo["schedules"]:
            schedules[sched["name"]] = {
                "cron": sched["cronSchedule"],
                "timezone": sched["executionTimezone"],
                "status": sched["scheduleState"]["status"],
                "description": sched["description"] or "",
                "next_ticks": [t["timestamp"] for t in sched["futureTicks"]["results"]],
            }
        for sensor in repo["sensors"]:
            sensors[sensor["name"]] = {
                "id": sensor["id"],
                "type": sensor["sensorType"],
                "status": sensor["sensorState"]["status"],
                "min_interval": sensor["minIntervalSeconds"],
            }
    return UiInventory(assets, checks, jobs, schedules, sensors, location_errors)


STOP_SENSOR_MUTATION = """
mutation DxStopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def stop_sensor(base_url: str, sensor_id: str) -> str:
    """Turn a sensor off, as the UI toggle does; returns its new status (``STOPPED``)."""
    result = graphql(base_url, STOP_SENSOR_MUTATION, {"id": sensor_id})["stopSensor"]
    if result["__typename"] != "StopSensorMutationResult":
        raise UiError(f"stopSensor: {result['__typename']}: {result.get('message')}")
    return result["instigationState"]["status"]


LAUNCH_RUN_MUTATION = """
mutation DxLaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status jobName tags { key value } } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


def launch_quarter(
    base_url: str,
    quarter: Quarter | str,
    *,
    job: str = "quarter_job",
    location: str = LOCATION,
    repository: str = REPOSITORY,
    tags: Mapping[str, str] | None = None,
) -> dict:
    """Launch ``job`` for one quarter's partition, as the UI's "Materialize" on a partition does.

    Returns the run record the UI answered with (``runId``, ``status`` -- ``QUEUED`` on an
    instance with the queued run coordinator --, ``tags``); raises UiError if it refused.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    all_tags = {PARTITION_TAG: q.partition_key, "dx/quarter": q.label, **(tags or {})}
    params = {
        "selector": {
            "repositoryLocationName": location, "repositoryName": repository, "jobName": job,
        },
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
    }
    result = graphql(base_url, LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        detail = result.get("message") or result.get("errors")
        raise UiError(f"launchRun {job} {q.label}: {result['__typename']}: {detail}")
    return result["run"]


RUN_QUERY = """
query DxRun($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status jobName startTime endTime
      tags { key value }
      stepStats { stepKey status }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def run_info(base_url: str, run_id: str) -> dict:
    """The run as the UI's run page sees it: status, tags, per-step status."""
    result = graphql(base_url, RUN_QUERY, {"runId": run_id})["runOrError"]
    if result["__typename"] != "Run":
        raise UiError(f"runOrError {run_id}: {result['__typename']}: {result.get('message')}")
    return result


RUNS_QUERY = """
query DxRuns($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on PythonError { message }
  }
}
"""


def runs_of_quarter(base_url: str, quarter: Quarter | str, job: str | None = None) -> list[dict]:
    """Runs the UI lists for one quarter's partition (the Runs page filtered by its tag)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    run_filter: dict[str, Any] = {"tags": [{"key": PARTITION_TAG, "value": q.partition_key}]}
    if job:
        run_filter["pipelineName"] = job
    result = graphql(base_url, RUNS_QUERY, {"filter": run_filter})["runsOrError"]
    if result["__typename"] != "Runs":
        raise UiError(f"runsOrError: {result.get('message')}")
    return result["results"]


def wait_for_run(
    base_url: str, run_id: str, done, timeout: float, poll_seconds: float = 1.0
) -> dict:
    """Poll the run until ``done(run_info)`` is true or it reaches a terminal status.

    Returns the last run record; the caller decides whether that status is acceptable.
    """
    deadline = time.monotonic() + timeout
    while True:
        info = run_info(base_url, run_id)
        if done(info) or info["status"] in TERMINAL_RUN_STATUSES or time.monotonic() > deadline:
            return info
        time.sleep(poll_seconds)


TERMINATE_RUN_MUTATION = """
mutation DxTerminateRun($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


def terminate_run(base_url: str, run_id: str) -> str:
    """Ask the UI to terminate a run (the "Terminate" button).

    Returns the status the UI answered with; termination is asynchronous, so this is often
    still ``STARTED`` -- poll :func:`wait_for_run` for ``CANCELED``.
    """
    result = graphql(base_url, TERMINATE_RUN_MUTATION, {"runId": run_id})["terminateRun"]
    if result["__typename"] != "TerminateRunSuccess":
        raise UiError(f"terminateRun {run_id}: {result['__typename']}: {result.get('message')}")
    return result["run"]["status"]


ASSET_BACKFILL_PREVIEW_QUERY = """
query DxBackfillPreview($partitionNames: [String!]!, $assetKeys: [AssetKeyInput!]!) {
  assetBackfillPreview(params: {partitionNames: $partitionNames, assetSelection: $assetKeys}) {
    assetKey { path }
    partitions { partitionKeys ranges { start end } }
  }
}
"""


def asset_backfill_preview(
    base_url: str,
    partition_names: Iterable[str],
    asset_keys: Iterable[str],
    partition_keys: list[str],
) -> dict[str, list[str]]:
    """The partitions of each asset a backfill of ``partition_names`` over ``asset_keys``
    would target, as the UI's launch dialog previews them (it sends the same selection).

    Ranges are expanded with ``partition_keys`` (every partition key, oldest first).
    """
    variables = {
        "partitionNames": list(partition_names),
        "assetKeys": [{"path": key.split("/")} for key in asset_keys],
    }
    rows = graphql(base_url, ASSET_BACKFILL_PREVIEW_QUERY, variables)["assetBackfillPreview"]
    out: dict[str, list[str]] = {}
    for row in rows:
        parts = row["partitions"] or {}
        keys = list(parts.get("partitionKeys") or [])
        for r in parts.get("ranges") or []:
            keys += partition_keys[partition_keys.index(r["start"]): partition_keys.index(r["end"]) + 1]
        out["/".join(row["assetKey"]["path"])] = sorted(set(keys))
    return out


CANCEL_BACKFILL_MUTATION = """
mutation DxCancelBackfill($backfillId: String!) {
  cancelPartitionBackfill(backfillId: $backfillId) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


def cancel_backfill(base_url: str, backfill_id: str) -> None:
    """Cancel a backfill, as its page's "Cancel backfill" button does (the daemon then stops
    launching its runs and marks it CANCELED); raises UiError unless the UI accepted it."""
    result = graphql(base_url, CANCEL_BACKFILL_MUTATION, {"backfillId": backfill_id})
    result = result["cancelPartitionBackfill"]
    if result["__typename"] != "CancelBackfillSuccess":
        raise UiError(f"cancelPartitionBackfill {backfill_id}: {result['__typename']}: "
                      f"{result.get('message')}")


def dismiss_community_prompt(base_url: str) -> bool:
    """Record that the one-time "Join the Dagster community" dialog was seen.

    The UI shows it once per instance on localhost; a screenshot should show the graph, not
    the dialog. Same mutation the dialog's "Skip" button sends (it writes
    ``$DAGSTER_HOME/.nux/nux.yaml``).
    """
    return bool(graphql(base_url, "mutation DxNux { setNuxSeen }")["setNuxSeen"])


# --------------------------------------------------------------------------- browser


def asset_graph_url(base_url: str, groups: Iterable[str]) -> str:
    """The global asset lineage page (``/asset-groups``) with ``groups`` expanded.

    Dagster 1.13 draws a multi-group graph with every group collapsed; the page keeps the
    expanded groups in its ``expanded`` query parameter, each id ``global@global:<group>``.
    """
    expanded = ",".join(f"global@global:{g}" for g in sorted(set(groups)))
    return f"{base_url}/asset-groups?expanded={quote(expanded, safe='@:,')}"


def chromium_binary() -> str | None:
    """A Chromium/Chrome executable on PATH (``$CHROMIUM`` wins), or None."""
    names = ["chromium", "chromium-browser", "google-chrome", "chrome"]
    for candidate in [os.environ.get("CHROMIUM"), *names]:
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def capture_page(
    url: str,
    screenshot: Path,
    *,
    chromium: str | None = None,
    budget_ms: int = 15000,
    window: tuple[int, int] = (1600, 1000),
    timeout: float = 120.0,
) -> str:
    """Render ``url`` in headless Chromium; write a PNG to ``screenshot`` and return the DOM.

    The Dagster UI is a JavaScript app: ``--virtual-time-budget`` lets its scripts, GraphQL
    fetches and graph layout finish before the picture and the DOM are taken (one browser
    run does both). A throwaway profile keeps the user's own browser state out of it.
    """
    browser = chromium or chromium_binary()
    if not browser:
        raise UiError("no chromium executable found (set $CHROMIUM or install chromium)")
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dx_chromium_") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
            f"--window-size={window[0]},{window[1]}", f"--screenshot={screenshot}",
            "--dump-dom", url,
        ]
        # Own session: on a timeout the browser's helper processes go down with it.
        popen = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            stdout, stderr = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.communicate()
            raise UiError(f"chromium did not render {url} within {timeout:.0f} s") from None
    if popen.returncode != 0 or not screenshot.exists():
        raise UiError(
            f"chromium exited {popen.returncode} without a screenshot of {url}:\n"
            f"{stderr.decode(errors='replace')[-2000:]}"
        )
    return stdout.decode("utf-8", errors="replace")
