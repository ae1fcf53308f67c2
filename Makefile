# ent-idp: `make demo` runs the whole stack locally, `make test` runs every test.
# Both install what they need (Debian packages through devstack/install-system-deps.sh,
# Python packages into .venv/).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo demo-cluster test test-security lint format system-deps venv clean bench bench-soak \
	translations-extract translations-compile

demo: system-deps venv
	$(BIN)/python -m devstack.demo

# The services of several hosts on one machine (devstack/cluster.py): two OpenLDAP providers
# in multi-provider replication, Redis master + replica + three Sentinels, nginx round robin.
# The app instances behind nginx and the mail workers are not started yet (it says so).
demo-cluster: system-deps venv
	$(BIN)/python -m devstack.cluster

AXE := tests/axe/node_modules/axe-core/axe.min.js

test: system-deps venv $(AXE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The security rules and the faults only (a subset of make test).
test-security: system-deps venv
	$(BIN)/pytest -m "security or faults"

# Throughput of whole activations against the directory's own limit (bench/run.py);
# BENCH_WORKERS, BENCH_THREADS, BENCH_USERS, BENCH_SECONDS, BENCH_LIMIT_SECONDS, BENCH_KEEP.
bench: system-deps venv
	$(BIN)/python -m bench.run

# A fixed rate for a fixed time (bench/soak.py): BENCH_SOAK_RATE (50), BENCH_SOAK_SECONDS (600).
bench-soak: system-deps venv
	$(BIN)/python -m bench.soak

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The catalogues (devstack/translations.py; README, Translations): collect the French texts
# into ent_idp/translations/messages.pot and merge it into each language's messages.po...
translations-extract: venv
	$(BIN)/python -m devstack.translations extract

# ...then, once translated, compile each messages.po into the messages.mo the app reads.
translations-compile: venv
	$(BIN)/python -m devstack.translations compile

system-deps:
	bash devstack/install-system-deps.sh

# axe-core from npm, injected by the accessibility tests.
$(AXE): tests/axe/package.json tests/axe/package-lock.json
	cd tests/axe && npm ci --no-audit --no-fund --silent
	touch $@

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf var/ build/ *.egg-info
