# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser demo test bench bench-quick lint format clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## install: create the virtualenv and install everything (once; again when pins change)
install: $(STAMP) browser

## browser: Debian's chromium and chromium-driver for the browser test (apt-get, as root)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null || \
	  { apt-get update -q >/dev/null && \
	    apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; }; \
	else echo "The browser test needs Debian's chromium and chromium-driver:" \
	  "sudo apt-get install chromium chromium-driver"; fi

## demo: start the Xero sandbox with demo data and run the tour against it
demo: install
	$(BIN)/python -m xero_sandbox.tour

## test: the whole test suite
test: install
	$(BIN)/python -m pytest

## bench: the benchmarks (not part of `make test`); figures also go to bench/results.json
bench: install
	$(BIN)/python -m tests.benchmarks.run

## bench-quick: the same with smaller sizes (under a minute)
bench-quick: install
	$(BIN)/python -m tests.benchmarks.run --quick

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
