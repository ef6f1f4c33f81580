# dx_pipeline: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DX_HOME ?= $(CURDIR)/.dx_home
export DAGSTER_HOME ?= $(DX_HOME)/dagster
RUN_QUARTERS ?= 2025-Q4 2026-Q1 2026-Q2 2026-Q3
PYTEST_ARGS ?=
# Test workers (pytest-xdist; how the suite is split: dx_pipeline_tests/conftest.py). 0 = one process.
TEST_WORKERS ?= 2
# `make bench` runs every issue-17 case; BENCH_ARGS=... runs only what it names (default the quarter).
BENCH_ARGS ?= --case quarter --case engine --case duplicates --case incremental

.PHONY: install lock lint run test ui bench sample clean

# The environment is pinned by requirements.lock (every package of `.[test]`, exact versions);
# the project itself is installed on top without resolving anything again.
$(BIN)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

install: $(BIN)/.installed

# Refresh the pins after changing dependencies in pyproject.toml (or to take new releases):
# `make lock`, run the tests, commit requirements.lock with the change.
lock:
	@test -x $(BIN)/pip-compile || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install --quiet pip-tools; }
	$(BIN)/pip-compile --quiet --upgrade --extra test --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

lint: install
	$(BIN)/ruff check dx_pipeline dx_pipeline_tests benchmarks
	$(BIN)/pyright

sample: install
	$(BIN)/dx-pipeline sample

run: install
	$(BIN)/dx-pipeline sample
	$(BIN)/dx-pipeline run $(addprefix --quarter ,$(RUN_QUARTERS))

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

ui: install
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dx-pipeline ui

bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(DX_HOME)
