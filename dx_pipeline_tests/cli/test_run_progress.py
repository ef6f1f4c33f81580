"""``dx-pipeline run`` prints each step's progress line once, reading only the new events."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from dx_pipeline.cli.pipeline import _print_progress


def _skipped(step: str) -> SimpleNamespace:
    return SimpleNamespace(dagster_event=SimpleNamespace(event_type_value="STEP_SKIPPED", step_key=step))


class _Log:
    """A run's event log that gains one event per read (after a first read that fails: the run
    is not registered yet) and answers only the events after the cursor it is given."""

    def __init__(self, steps: list[str], stop: threading.Event) -> None:
        self.pending, self.events, self.stop = list(steps), [], stop
        self.reads: list[tuple[str | None, str]] = []  # (cursor given, cursor returned)
        self.failed = False

    def get_records_for_run(self, run_id: str, cursor: str | None = None):
        if not self.failed:
            self.failed = True
            raise LookupError(run_id)
        if self.pending:
            self.events.append(_skipped(self.pending.pop(0)))
        else:
            self.stop.set()  # the run ends: one last read follows
        start = 0 if cursor is None else int(cursor)
        self.reads.append((cursor, str(len(self.events))))
        return SimpleNamespace(records=[SimpleNamespace(event_log_entry=e) for e in self.events[start:]],
                               cursor=str(len(self.events)))


def test_each_event_is_printed_once_and_the_log_is_read_from_the_last_cursor(capsys):
    stop = threading.Event()
    log = _Log(["a", "b", "c"], stop)
    watcher = threading.Thread(target=_print_progress, args=(log, "run-1", stop), daemon=True)
    watcher.start()
    watcher.join(timeout=10)
    assert not watcher.is_alive(), "the progress watcher never read the run's log to its end"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["a", "b", "c"]
    given = [given for given, _ in log.reads]
    assert given == [None] + [returned for _, returned in log.reads[:-1]]
