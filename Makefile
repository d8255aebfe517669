# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-quick lint format clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## install: create the virtualenv and install everything (once; again when pins change)
install: $(STAMP)

## demo: start the Xero sandbox with demo data and run the tour against it
demo: install
	$(BIN)/python -m xero_sandbox.tour

## test: the whole test suite
test: install
	$(BIN)/python -m pytest

## bench: the benchmarks (not part of `make test`); figures also go to bench/results.json
bench: install
	$(BIN)/python -m tests.benchmarks.run
	$(BIN)/python -m tests.benchmarks.triggers

## bench-quick: the same with smaller sizes (under a minute)
bench-quick: install
	$(BIN)/python -m tests.benchmarks.run --quick
	$(BIN)/python -m tests.benchmarks.triggers --quick

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
