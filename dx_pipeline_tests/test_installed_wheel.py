"""The built wheel works outside the checkout: sample, run a quarter, start the UI.

What a user does after ``pip install dx_pipeline-*.whl``: the wheel is built from a copy of the
package (so nothing of the checkout can leak in), installed into a fresh virtual environment in
a temporary folder, and ``dx-pipeline`` runs from another temporary folder. Everything the CLI
reads (configuration, framework files, report templates, the Dagster instance templates and
workspace) must come from the installed package.

The fresh venv gets the wheel with ``--no-deps`` and sees the project's pinned dependencies
(requirements.lock, installed by ``make install``) through a ``.pth`` line: the same packages,
without downloading and unpacking half a gigabyte again. ``pip check`` then proves the wheel's
declared requirements are met by them. The checkout's own source stays out of reach: the
editable install's import hook is not loaded (a ``.pth`` line adds a path, not its hooks), and
the test asserts where ``dx_pipeline`` was imported from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from dx_pipeline_tests.shell_env import PIPELINE_OVERRIDES
from dx_pipeline_tests.support import ui_probe

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
QUARTER = "2025-Q4"
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "dx_pipeline")
"""What the build needs: the project metadata and the package (tests, docs, benchmarks stay out)."""


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"), str(src)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = (tmp / "dist").glob("dx_pipeline-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    # no pip of its own (ensurepip took ~8 s): the dependencies' .pth line below also lends
    # it the project's pip, which installs the wheel into this venv and checks it
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(site) / "dx_pipeline_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, an environment pointing at a fresh DX_HOME, a working folder outside the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp)
    venv = _fresh_venv(tmp, wheel)
    env = {k: v for k, v in os.environ.items() if k not in (*PIPELINE_OVERRIDES, "DX_DAGSTER_PG_URL")}
    env.pop("PYTHONPATH", None)
    env.update(DX_HOME=str(tmp / "dx_home"), DAGSTER_HOME=str(tmp / "dx_home" / "dagster"))
    work = tmp / "elsewhere"
    work.mkdir()
    return wheel, venv, env, work


def _cli(venv: Path, env: dict, work: Path, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "dx-pipeline"), *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, (
        f"dx-pipeline {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def test_the_wheel_ships_what_the_cli_reads(installed):
    wheel, venv, env, work = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "dx_pipeline/dagster_yaml/workspace.yaml",
        "dx_pipeline/dagster_yaml/dagster.sqlite.yaml",
        "dx_pipeline/config/kpi_catalogue.yaml",
        "dx_pipeline/config/framework.schema.json",
        "dx_pipeline/publish/site/templates/summary.html.j2",
        "dx_pipeline/publish/site/templates/agency.html.j2",
        "dx_pipeline/publish/site/templates/site.css",
    ):
        assert needed in names, f"{needed} is missing from {wheel.name}"
    assert not any(n.startswith(("dx_pipeline_tests/", "benchmarks/")) for n in names)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import dx_pipeline; print(dx_pipeline.__file__)"],
        cwd=work, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), f"dx_pipeline imported from {where}, not the wheel"
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "check"], env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_sample_and_run_a_quarter_from_outside_the_checkout(installed):
    _, venv, env, work = installed
    _cli(venv, env, work, "sample", "--scale", "0.02", "--quarters", QUARTER)
    out = _cli(venv, env, work, "run", "--quarter", QUARTER)
    home = Path(env["DX_HOME"])
    published = home / "published" / "ranking" / f"quarter={QUARTER}"
    assert published.is_dir(), out[-3000:]
    assert "Sở Y tế (SO-YT)" in out  # the ranking printed at the end, as computed: not official
    assert "trạng thái / status computed" in out and "Not an official ranking" in out
    assert list((home / "warehouse" / "index_scores").glob(f"quarter={QUARTER}/*.parquet"))
    out = _cli(venv, env, work, "site", "--quarter", QUARTER)
    assert "not public yet (computed" in out, out  # no website before the provisional result
    _cli(venv, env, work, "appraisal", "provisional", "--quarter", QUARTER, "--by", "test")
    out = _cli(venv, env, work, "site", "--quarter", QUARTER)
    site = home / "published" / "site" / f"quarter={QUARTER}" / "rev=2"
    assert "tạm thời / provisional" in out and (site / "index.html").is_file(), out
    assert "Sở Y tế" in (site / "don-vi" / "SO-YT.html").read_text(encoding="utf-8")


def test_ui_starts_answers_and_stops_from_outside_the_checkout(installed, tmp_path):
    _, venv, env, work = installed
    port = ui_probe.free_port()
    ui = ui_probe.start_process(
        "dx-pipeline-ui", [str(venv / "bin" / "dx-pipeline"), "ui", "--port", str(port)],
        env, work, tmp_path,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        ui_probe.wait_for_server(base_url, timeout=240, process=ui)
        inventory = ui_probe.ui_inventory(base_url)
        assert not inventory.location_errors, inventory.location_errors
        assert "agency_kpis" in inventory.assets  # the packaged workspace loaded the code location
    finally:
        left = ui.stop(grace_seconds=10)
    assert not left, f"processes of dx-pipeline ui still alive after stopping it: {left}"
