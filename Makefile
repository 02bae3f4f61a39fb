# Two commands on a fresh machine with only Python 3.11+ and pip:
#   make run   - create .venv from the lock if needed, run the main program
#   make test  - same set-up, then the test suite
# The environment is exactly requirements.lock (hashed pins of every package);
# `make lock` refreshes it after a change to pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# The locker, bootstrapped through pip into its own environment when needed.
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
LATEST_VENV := .venv-latest
SOURCES := src tests benchmarks programs tools .ci

.PHONY: run demo test test-latest lint format bench check-lock lock upgrade clean

# Rebuilt from scratch whenever the lock or pyproject.toml changes, so nothing
# but the lock is ever in it.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) .ci/lock.py check
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/llmgine chat --tools tools/weather.py

demo: $(STAMP)
	$(BIN)/python programs/bus_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check --no-cache $(SOURCES)  # as on a fresh clone: a cache can hide what moved
	$(BIN)/ruff format --no-cache --check $(SOURCES)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format $(SOURCES)
	$(BIN)/ruff check --fix $(SOURCES)

bench: $(STAMP)
	$(BIN)/python benchmarks/bus_bench.py
	$(BIN)/python benchmarks/engine_bench.py
	$(BIN)/python benchmarks/memory_bench.py

check-lock:
	@$(PYTHON) .ci/lock.py check

$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(LOCK_VENV)/bin/uv
	$(PYTHON) .ci/lock.py compile $(LOCK_VENV)/bin/uv

upgrade: $(LOCK_VENV)/bin/uv
	$(PYTHON) .ci/lock.py compile $(LOCK_VENV)/bin/uv --upgrade

# The suite on the newest versions pyproject.toml allows (not the lock): meet an
# upstream release on purpose, before `make upgrade` takes it. Not run in CI.
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade hatchling -e ".[dev]"
	LLMGINE_UNLOCKED=1 $(LATEST_VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(LOCK_VENV) $(LATEST_VENV) .pytest_cache .ruff_cache
