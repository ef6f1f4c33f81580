# dx_pipeline: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DX_HOME ?= $(CURDIR)/.dx_home
export DAGSTER_HOME ?= $(DX_HOME)/dagster
RUN_QUARTERS ?= 2025-Q3 2025-Q4
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install lint run test ui bench sample clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check dx_pipeline dx_pipeline_tests benchmarks
	$(BIN)/pyright

sample: install
	$(BIN)/dx-pipeline sample

run: install
	$(BIN)/dx-pipeline sample
	$(BIN)/dx-pipeline run $(addprefix --quarter ,$(RUN_QUARTERS))

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

ui: install
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dx-pipeline ui

bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(DX_HOME)
