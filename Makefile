# Two commands on a fresh machine with only Python and pip:
#   make run   - create .venv if missing, install the project, run the main program
#   make test  - same set-up, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m llmgine.engines.tool_chat_engine --tools tools/weather.py

demo: $(STAMP)
	$(BIN)/python programs/bus_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks programs tools
	$(BIN)/ruff format --check src tests benchmarks programs tools

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks programs tools
	$(BIN)/ruff check --fix src tests benchmarks programs tools

bench: $(STAMP)
	$(BIN)/python benchmarks/bus_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
