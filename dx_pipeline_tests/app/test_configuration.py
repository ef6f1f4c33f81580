"""Every configuration file is checked before anything runs: ``dx-pipeline check``, the Dagster
definitions' load and ``dx-pipeline run`` all stop on a bad file, naming it and the problem.

A province edits the packaged files in place, so each test copies one into a temporary folder,
breaks it as a person would, and points the loader's own default path at the copy: the check
and the stages read the same file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dx_pipeline.app.configuration import ConfigurationError, check_configuration
from dx_pipeline.cli.main import main
from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.index import builtins
from dx_pipeline.reference import catalogue, targets
from dx_pipeline.sources import portal_mapping, reporting_db, submission_readers
from dx_pipeline.storage.home import DxHome
from dx_pipeline_tests.reliability.inputs import write_registry


def _copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    """A copy of ``source`` with ``old`` replaced by ``new`` (once), as a clerk's typo."""
    text = source.read_text(encoding="utf-8")
    assert old in text, (source, old)
    target = tmp_path / "config" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def _broken_framework(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "frameworks"
    shutil.copytree(builtins.FRAMEWORKS_DIR, folder, ignore=shutil.ignore_patterns("variants"))
    bad = folder / "qd766.yaml"
    text = bad.read_text(encoding="utf-8")
    typo = text.replace("kpi: procedures_published_on_time_rate", "kpi: procedures_publishd_on_time_rate", 1)
    bad.write_text(typo, encoding="utf-8")
    monkeypatch.setattr(builtins, "FRAMEWORKS_DIR", folder)
    return bad


def _broken(kind: str, tmp_path: Path, monkeypatch) -> tuple[Path, str]:
    """Break one configuration file of ``kind``; (its path, what the check must say)."""
    if kind == "framework":
        return _broken_framework(tmp_path, monkeypatch), "procedures_publishd_on_time_rate"
    module, getter, old, new, said = {
        "catalogue": (catalogue, "default_catalogue_path", "unit: ratio", "unit: percent",
                      "unit 'percent' is not one of"),
        "targets": (targets, "default_targets_path", "plans:", "plans: [", "not valid YAML"),
        "field map": (portal_mapping, "default_fields_path", "procedure_fields:", "procedure_feilds:",
                      "'procedure_fields' must be a mapping (missing)"),
        "reporting db map": (reporting_db, "mapping_path", "table: dx_indicator_reports", "tabel: x",
                             "'table' must be text (missing)"),
        "submission layout": (submission_readers, "layout_path", "header_row: 7", "header_row: bảy",
                              "'header_row' must be a whole number (str 'bảy')"),
    }[kind]
    path = _copy(tmp_path, getattr(module, getter)(), old, new)
    monkeypatch.setattr(module, getter, lambda: path)
    return path, said


KINDS = ["framework", "catalogue", "targets", "field map", "reporting db map", "submission layout"]


def test_the_packaged_configuration_passes_and_every_file_is_checked(tmp_path, capsys):
    check = check_configuration()
    assert check.ok, check.lines()
    names = {Path(p).name for p in check.checked}
    assert {"kpi_catalogue.yaml", "plan_targets.yaml", "portal_fields.yaml", "reporting_db.yaml",
            "submission_format.yaml"} | {p.name for p in builtins.builtin_paths().values()} == names


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_file_is_named_by_check_and_stops_the_definitions_loading(kind, tmp_path, monkeypatch, capsys):
    path, said = _broken(kind, tmp_path, monkeypatch)
    home = DxHome(tmp_path / "home")
    write_registry(home.registry_file)
    monkeypatch.delenv("DX_REGISTRY", raising=False)

    assert main(["--home", str(home.root), "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{path}: ") and said in line for line in out), out
    assert out[-1].endswith("problem(s)")

    with pytest.raises(ConfigurationError) as caught:
        build_definitions({"DX_HOME": str(home.root)})
    assert str(path) in str(caught.value) and said in str(caught.value)


def test_a_bad_registry_is_named_and_a_missing_one_only_where_it_is_needed(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DX_REGISTRY", raising=False)
    home = DxHome(tmp_path / "home")
    build_definitions({"DX_HOME": str(home.root)})  # a fresh installation loads before `sample`
    assert main(["--home", str(home.root), "check"]) == 1
    assert f"{home.registry_file}: agency registry not found" in capsys.readouterr().out

    registry = write_registry(home.registry_file)
    lines = registry.read_text(encoding="utf-8").splitlines()
    registry.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # an agency twice
    assert main(["--home", str(home.root), "check"]) == 1
    out = capsys.readouterr().out
    assert f"{registry}: agencies.csv row 4 (agency_code=" in out and "duplicate of agencies.csv row 2" in out
    with pytest.raises(ConfigurationError, match="agencies.csv"):
        build_definitions({"DX_HOME": str(home.root), "DX_REGISTRY": str(registry)})


def test_run_stops_on_a_bad_framework_before_any_asset(tmp_path, monkeypatch, capsys):
    bad = _broken_framework(tmp_path, monkeypatch)
    home = DxHome(tmp_path / "home")
    write_registry(home.registry_file)
    monkeypatch.delenv("DX_REGISTRY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))

    assert main(["--home", str(home.root), "run", "--quarter", "2025-Q2"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("dx-pipeline run: error: the configuration has 1 problem(s) in ")
    assert f"{bad}: " in err and "procedures_publishd_on_time_rate" in err
    assert not list(home.warehouse.rglob("*.parquet"))  # not even the registry was stored
