# One command each: `make demo` and `make test` set everything up from nothing first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup node demo test check lint types contracts fmt bench docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The Node.js service of the e2e tests, pinned by its lock file (installed only where node is).
NODE_SERVICE := tests/e2e/node

$(NODE_SERVICE)/node_modules/.package-lock.json: $(NODE_SERVICE)/package-lock.json
	cd $(NODE_SERVICE) && npm ci --no-audit --no-fund

node:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_SERVICE)/node_modules/.package-lock.json; \
	else echo "node/npm not found: the Node.js service tests will skip (and fail under CI=true)"; fi

setup: $(VENV)/.installed node

demo: setup
	$(BIN)/seamscope demo

test: setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

types: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/lint-imports

check: lint types contracts test

bench: setup
	$(PY) -m benchmarks

docs: setup
	$(PY) -m seamscope.classifiers.docs > docs/patterns.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
