"""Seconds each test file took in a measured ``make test`` run, for ordering the queue.

``make test`` hands whole files to two xdist workers in queue order (``--dist loadfile``). The
suite's wall time is that of the busier worker, so the queue is ordered longest file first
(LPT, the classic greedy rule for balancing jobs over machines): the long end-to-end files
start at once and the many short files fill whichever worker frees first.

The costs come from ``file_costs.json`` next to this module, written from a run's JUnit XML:

    .venv/bin/python -m pytest -n 2 --dist loadfile --junitxml=junit.xml
    .venv/bin/python -m dx_pipeline_tests.file_costs junit.xml

A file missing from it (new since the measurement) is ranked by its ``slow`` marker: as the
cheapest slow file if it has one, else at the end. Costs only order the queue; a stale table
makes the suite slower, never wrong.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

COSTS_PATH = Path(__file__).with_name("file_costs.json")
TESTS_ROOT = Path(__file__).parent


def load_costs(path: Path = COSTS_PATH) -> dict[str, float]:
    """{file path relative to the repository root: seconds}; empty when there is no table."""
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    except FileNotFoundError:
        return {}


def queue_costs(files: list[str], slow: set[str], costs: dict[str, float]) -> dict[str, float]:
    """Each file's sort cost: its measured seconds; an unmeasured slow file the least measured
    slow cost (or 60 s), an unmeasured other file 0."""
    slow_known = [costs[f] for f in slow if f in costs]
    unmeasured_slow = min(slow_known) if slow_known else 60.0
    return {f: costs.get(f, unmeasured_slow if f in slow else 0.0) for f in files}


def costs_from_junit(xml_path: Path) -> dict[str, float]:
    """Seconds per test file from a pytest JUnit XML report (setup, call and teardown of every
    test, so a module fixture's cost counts for its file)."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        module = classname.split(".")
        # classname is dotted module[.Class]; find the longest prefix that is a file.
        for end in range(len(module), 0, -1):
            candidate = Path(*module[:end]).with_suffix(".py")
            if (TESTS_ROOT.parent / candidate).is_file():
                totals[candidate.as_posix()] += float(case.get("time", 0.0))
                break
    return {f: round(s, 1) for f, s in sorted(totals.items(), key=lambda kv: -kv[1])}


def main(argv: list[str]) -> int:
    """Write file_costs.json from the JUnit XML named in argv[1]."""
    if len(argv) != 2:
        print("usage: python -m dx_pipeline_tests.file_costs JUNIT.xml", file=sys.stderr)
        return 2
    costs = costs_from_junit(Path(argv[1]))
    COSTS_PATH.write_text(json.dumps(costs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(costs)} files, {sum(costs.values()):.0f} s in all -> {COSTS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
