"""``python -m benchmarks.portal_faults``: what 60 % injected faults cost a portal pull.

Pulls the sample quarter over HTTP from the sample portal server on 127.0.0.1 twice into
fresh DX_HOMEs: without faults, then with a seeded schedule failing 60 % of requests
(timeouts, HTTP 500, 429 with ``Retry-After: 1``, connection resets). The client runs with
its production budgets and backoff (``RetryPolicy()``, waits not scaled); only the read
timeout is 2 s instead of 60 s (the delayed answers take 3 s), so a timeout costs 2 s.
Prints attempts per request and the pull times, and their ratio; writes ``portal_faults.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import PortalClient, pull_portal_quarter
from dx_pipeline.sources.portal_retry import RetryPolicy
from dx_pipeline.storage import DxHome

TOKEN = "bench-token"
FAULT_KINDS = ["delay", "500", "429", "reset"]


def _schedule(rate: float, seed: int) -> list[dict]:
    if rate <= 0:
        return []
    return [{"kind": "mix", "path": "*", "times": 10**9, "rate": rate, "seed": seed,
             "kinds": FAULT_KINDS, "retry_after": "1", "seconds": 3.0}]


def pull_once(source: DxHome, target: Path, quarter: Quarter, rate: float, seed: int) -> dict:
    """One pull of the quarter at a fault rate: time, requests, attempts per request."""
    shutil.rmtree(target, ignore_errors=True)
    with serve_portal(source, token=TOKEN, faults=_schedule(rate, seed)) as server:
        server.data.dossiers(quarter)
        server.data.procedures()
        client = PortalClient(server.url, TOKEN, policy=RetryPolicy(timeout=(5.0, 2.0)),
                              rng=random.Random(seed).random)
        start = time.perf_counter()
        result = pull_portal_quarter(DxHome(target), quarter, client=client)
        seconds = time.perf_counter() - start
        statuses = [str(e["status"]) for e in server.log]
    return {
        "fault_rate": rate, "dossiers": result.dossier_rows, "seconds": round(seconds, 2),
        "waited_seconds": round(client.waited, 2),
        "requests": len(client.attempts), "attempts": sum(client.attempts),
        "attempts_per_request": round(sum(client.attempts) / len(client.attempts), 2),
        "max_attempts": max(client.attempts),
        "failed_share": round(sum(s != "200" for s in statuses) / len(statuses), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.portal_faults", description=__doc__)
    p.add_argument("--out", default="bench_out/portal_faults", help="working folder (sample cached)")
    p.add_argument("--quarter", default="2025-Q1", help="sample quarter (default %(default)s)")
    p.add_argument("--scale", type=float, default=0.1, help="sample volume (default 0.1)")
    p.add_argument("--seed", type=int, default=15, help="fault schedule and jitter seed")
    args = p.parse_args(argv)
    out, quarter = Path(args.out), Quarter.parse(args.quarter)
    source = DxHome(out / "source")
    if not (source.portal_exports / f"quarter={quarter.label}").exists():
        generate_sample(source.ensure(), seed=7, scale=args.scale, quarters=[quarter])
    runs = [pull_once(source, out / f"pull-{rate}", quarter, rate, args.seed) for rate in (0.0, 0.6)]
    report = {"quarter": quarter.label, "runs": runs,
              "time_ratio_60_vs_0": round(runs[1]["seconds"] / runs[0]["seconds"], 1)}
    (out / "portal_faults.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    for r in runs:
        print(f"{r['fault_rate']:.0%} faults: {r['dossiers']:,} dossiers in {r['seconds']} s "
              f"({r['waited_seconds']} s of it waiting); {r['requests']} requests, "
              f"{r['attempts_per_request']} attempts per request (at most {r['max_attempts']}), "
              f"{r['failed_share']:.0%} of answers failed")
    print(f"time ratio 60 % / 0 %: {report['time_ratio_60_vs_0']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
