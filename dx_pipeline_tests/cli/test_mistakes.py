"""Mistakes at the command line, as people make them: each is one line on stderr that says
what is wrong and what works instead, exit code 1, never a traceback. And every verb says in
one line what it does."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dx_pipeline.cli import main as cli_main
from dx_pipeline.cli.main import build_parser, main
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline_tests.index.test_explain import _result

Q = "2025-Q2"
REGISTRY_CSV = (
    "agency_code,name_vi,name_en,level,peer_group,parent_code,provides_public_services,valid_from,"
    "valid_to,successor_code\n"
    "SO-YT,Sở Y tế,Department of Health,department,department,,true,2020-01-01,,\n"
    "SO-TC,Sở Tài chính,Department of Finance,department,department,,true,2020-01-01,,\n"
)


@pytest.fixture
def home(tmp_path) -> Path:
    """A DX_HOME with a registry and one quarter's scores (agencies SYT and STC, qd766)."""
    root = tmp_path / "home"
    dx = DxHome(root).ensure()
    dx.registry_file.parent.mkdir(parents=True)
    dx.registry_file.write_text(REGISTRY_CSV, encoding="utf-8")
    scored = _result()
    write_partition(dx, "index_scores", Q, scored.scores)
    write_partition(dx, "ranking_snapshot", Q,
                    scored.ranking.assign(revision=1, published_at=pd.Timestamp("2025-07-16")))
    return root


MISTAKES = [
    # a quarter the pipeline cannot run: before the first, not closed, not a quarter at all
    (["run", "--quarter", "2023-Q4"], "run: error: 2023-Q4 is before 2024-Q1, the first quarter the "
                                       "pipeline covers; quarters run from 2024-Q1 to "),
    (["run", "--quarter", "2099-Q1"], "run: error: 2099-Q1 has not closed yet (it ends on 31/03/2099)"),
    (["run", "--quarter", "2025-Q5"], "run: error: not a quarter: '2025-Q5' (expected e.g. 2024-Q3"),
    (["backfill", "--from", "2023-Q1", "--to", "2024-Q2"], "backfill: error: 2023-Q1 is before 2024-Q1"),
    # explain: the suggested command only when it can work
    (["explain", "--agency", "SYT", "--quarter", "2023-Q4"], "explain: error: 2023-Q4 is before 2024-Q1"),
    (["explain", "--agency", "SYT", "--quarter", "2025-Q1"],
     "explain: error: no index scores for 2025-Q1 under {home}/warehouse; run the quarter first: "
     "dx-pipeline run --quarter 2025-Q1"),
    # codes: the close ones, not the first ten
    (["explain", "--agency", "SYTT", "--quarter", Q],
     "explain: error: no agency 'SYTT' in the scores of 2025-Q2; did you mean SYT?"),
    (["explain", "--agency", "SYT", "--quarter", Q, "--framework", "dti"],
     "explain: error: no framework 'dti' in the scores of 2025-Q2; 1 framework codes exist, e.g. qd766"),
    (["template", "--agency", "so_ytt", "--quarter", Q],
     "template: error: no agency 'so_ytt' in the registry {home}/registry/agencies.csv; did you mean SO-YT?"),
    (["template", "--agency", "SO-YT", "--quarter", "2030-Q1"],
     "template: error: 2030-Q1 has not begun (it starts on 01/01/2030); a template can be written for "),
    # other verbs' everyday mistakes
    (["dq", "--quarter", "2025-Q1"], "dq: error: no checked dataset has a partition for 2025-Q1"),
    (["verify", "--rev", "2"], "verify: error: --rev needs --quarter"),
    (["publications", "--quarter", "Q2-2025"], "publications: error: not a publication period: 'Q2-2025'"),
    (["score", "--framework", "nope", "--input", "x.csv", "--output", "out"],
     "score: error: no built-in framework 'nope' (built-in: "),
    (["frameworks", "--quarter", "2025-Q9"], "frameworks: error: not a quarter: '2025-Q9'"),
]


@pytest.mark.parametrize("argv, message", MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_mistake_is_one_line_with_the_fix(home, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(home.parent)
    assert main(["--home", str(home), *argv]) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dx-pipeline " + message.format(home=home)), lines[0]


def test_agency_codes_ignore_case_and_separator(home, capsys):
    assert main(["--home", str(home), "explain", "--agency", "syt", "--quarter", Q]) == 0
    assert "Sở Y tế (SYT) — qd766" in capsys.readouterr().out


def test_an_unexpected_error_is_one_line_unless_debug(home, capsys, monkeypatch):
    def broken(_args):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli_main, "COMMAND_MODULES", cli_main.COMMAND_MODULES)
    parser = build_parser()
    monkeypatch.setattr(cli_main, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["publications"].set_defaults(func=broken)  # type: ignore[union-attr]
    assert main(["--home", str(home), "publications"]) == 1
    assert capsys.readouterr().err == (
        "dx-pipeline publications: error: RuntimeError: disk on fire "
        "(dx-pipeline --debug publications ... shows the traceback)\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        main(["--home", str(home), "--debug", "publications"])


def _verbs(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, verb in action.choices.items():
                out.append((f"{prefix}{name}", verb))
                out += _verbs(verb, f"{prefix}{name} ")
    return out


def test_every_verb_says_what_it_does_and_every_option_what_it_is_for():
    verbs = _verbs(build_parser())
    assert len(verbs) > 20
    for name, verb in verbs:
        assert verb.description and "\n" not in verb.description.split(". ")[0], name
        assert "issue" not in verb.format_help().lower(), name  # no tracker references
        for action in verb._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"dx-pipeline {name} {action.option_strings[0]} has no help"


def test_the_installed_command_prints_no_traceback(tmp_path):
    """The console script itself, as a shell runs it."""
    script = Path(sys.executable).parent / "dx-pipeline"
    done = subprocess.run([str(script), "--home", str(tmp_path), "run", "--quarter", "2023-Q4"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.startswith("dx-pipeline run: error: 2023-Q4 is before 2024-Q1")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
