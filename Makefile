# One command each: `make demo` and `make test` set everything up from nothing first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup node lock demo test check lint types contracts fmt bench docs mutate clean

# constraints.txt pins every package the dev install takes, so a fresh machine gets the set CI
# tested; `make lock` rewrites it. The editable build uses the pinned setuptools (no isolation).
LOCK := constraints.txt
PIP_INSTALL := $(PY) -m pip install --quiet --constraint $(LOCK)

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP_INSTALL) setuptools
	$(PIP_INSTALL) --no-build-isolation -e '.[dev]'
	touch $@

# The Node.js services (the e2e tests' and the demo's webapp BFF), each pinned by its lock file
# (installed only where node is).
NODE_SERVICES := tests/e2e/node demo/fleet/node
NODE_INSTALLED := $(addsuffix /node_modules/.package-lock.json,$(NODE_SERVICES))

%/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund

node:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_INSTALLED); \
	else echo "node/npm not found: the Node.js service tests will skip (and fail under CI=true), the demo runs in Python only"; fi

setup: $(VENV)/.installed node

# The newest releases that fit pyproject.toml's dev extra, resolved for every platform and Python
# it supports. In a venv of its own, so it runs even when the lock no longer fits pyproject.toml.
lock:
	$(PYTHON) -m venv build/lock
	build/lock/bin/python -m pip install --quiet $(if $(wildcard $(LOCK)),--constraint $(LOCK)) uv
	build/lock/bin/uv pip compile --quiet --universal --upgrade --extra dev \
		--custom-compile-command 'make lock' --output-file $(LOCK) pyproject.toml

demo: setup
	$(BIN)/seamscope demo

# Two workers on two cores (three were no clear gain, and made a timing test of the TUI's
# settle flaky: docs/testing.md). The slowest tests are listed at the end, for CI's log.
test: setup
	$(PY) -m pytest -n 2 --durations=25 $(PYTEST_ARGS)

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

# Mutation testing of the rule catalog, the redaction, the baseline comparison and the landscape
# fingerprint (docs/testing.md). Not part of check: some 2.5 h on a shared two-core machine.
mutate: setup
	$(PY) -m tests.mutation --report docs/testing.md

bench: setup
	$(PY) -m benchmarks

docs: setup
	$(PY) -m seamscope.classifiers.docs > docs/patterns.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
