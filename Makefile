# klimakommune-connector — two commands on a fresh machine (python3 + make):
#   make run    set up .venv and run the Hagen demo connector (SQLite, no other service)
#   make test   set up .venv and run the whole test suite (lint, types, layers, tests;
#               starts and stops a throwaway PostgreSQL for the multi-replica tests)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: setup run test check lint typecheck layers pytest bench clean sd

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/connector demo
	$(BIN)/connector serve

test: setup
	scripts/with-postgres.sh $(MAKE) --no-print-directory check

check: lint typecheck layers pytest

lint:
	$(BIN)/ruff check connector tests benchmarks
	$(BIN)/ruff format --check connector tests benchmarks

typecheck:
	$(BIN)/mypy connector

layers:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

bench: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

sd: setup
	$(BIN)/connector sd build && $(BIN)/connector sd sign && $(BIN)/connector sd verify self-descriptions/*.json self-descriptions/*.jwt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
