# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install bytecode browser compose-cli demo airflow airflow-fresh settings test bench bench-quick soak lint format clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv (pinned in requirements.txt) installs the same pins as pip, in a fifth of the time
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -m1 -o '^uv==[^ ]*' requirements.txt)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt -c constraints.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# uv, unlike pip, does not compile what it installs, and where PYTHONDONTWRITEBYTECODE
	@# is set (as on our machines) nothing ever caches it: every Airflow process compiled
	@# Airflow anew (importing it took 4.4 CPU s, 1.8 compiled; README "Tests")
	@# (a file that does not compile is left to whatever imports it: caching is only a speed-up)
	-$(BIN)/python -m compileall -qq -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	touch $(STAMP)

## install: create the virtualenv and install everything (once; again when pins change)
install: $(STAMP) bytecode browser compose-cli

## bytecode: compile the project's own Python (only what changed; stale caches are ignored).
## A file with a syntax error is skipped, not fatal: Airflow shows it as the DAG's import
## error, pytest as a collection error, as without this step.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -qq -j 0 plugins include dags tests || true

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

## compose-cli: Debian's docker-compose, to check docker-compose.yaml (no engine needed)
compose-cli:
	@if command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends docker-compose >/dev/null || \
	  { apt-get update -q >/dev/null && \
	    apt-get install -y -q --no-install-recommends docker-compose >/dev/null; }; \
	else echo "The compose check needs a Compose CLI: sudo apt-get install docker-compose"; fi

## demo: the sandbox and a real Airflow (SQLite); run every example DAG once, print a summary, stop
demo: install
	$(BIN)/python -m xero_demo.demo

## airflow: the same stack, kept up for the UI until Ctrl-C (resumes the demo's runs)
airflow: install
	$(BIN)/python -m xero_demo.demo --keep-running

## airflow-fresh: the same, starting over (a new sandbox and Airflow database)
airflow-fresh: install
	$(BIN)/python -m xero_demo.demo --keep-running --fresh

## settings: load airflow_settings.yaml into the Airflow that AIRFLOW_HOME names
settings: install
	$(BIN)/python -m xero_demo.settings airflow_settings.yaml

## test: the whole test suite, in TEST_WORKERS parallel pytest-xdist workers (README: "Tests")
## (PYTEST_ARGS="--timeline=t.jsonl --durations=60", then python -m tests.timeline t.jsonl)
## Five: with four, the stacks' waits left the 2 cores 12% idle; with six, more contention
TEST_WORKERS ?= 5
PYTEST_ARGS ?=
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

## bench: the benchmarks (not part of `make test`); figures also go to bench/*.json; then the hour's soak
bench: install
	$(BIN)/python -m tests.benchmarks.run; hook=$$?; \
	$(BIN)/python -m tests.benchmarks.triggers; triggers=$$?; \
	$(BIN)/python -m tests.benchmarks.warehouse_sync; sync=$$?; \
	$(BIN)/python -m tests.benchmarks.day --hours 6; day=$$?; \
	$(BIN)/python -m tests.benchmarks.orgs; orgs=$$?; \
	$(BIN)/python -m xero_soak --minutes $(SOAK_MINUTES); soak=$$?; \
	exit $$((hook || triggers || sync || day || orgs || soak))

## bench-quick: the same with smaller sizes (a few minutes: the trigger one starts a real Airflow)
bench-quick: install
	$(BIN)/python -m tests.benchmarks.run --quick; hook=$$?; \
	$(BIN)/python -m tests.benchmarks.triggers --quick; triggers=$$?; \
	$(BIN)/python -m tests.benchmarks.warehouse_sync --quick; sync=$$?; \
	$(BIN)/python -m tests.benchmarks.day --quick; day=$$?; \
	$(BIN)/python -m tests.benchmarks.orgs --quick; orgs=$$?; \
	exit $$((hook || triggers || sync || day || orgs))

## soak: the chaos soak (README "Soak"): the example DAGs on Celery with faults and kills
## for SOAK_MINUTES (60), then a verdict: Xero, the warehouse and the automations agree
SOAK_MINUTES ?= 60
soak: install
	$(BIN)/python -m xero_soak --minutes $(SOAK_MINUTES)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
