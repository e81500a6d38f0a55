# labrig: `make run` starts JupyterLab with labrig on the demo workspace; `make test` runs every check.
# Each step leaves a stamp in .make/ and reruns only when its inputs change, so a second
# `make run` starts at once instead of reinstalling.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JLPM := $(BIN)/jlpm
STAMPS := .make
PORT ?= 8888
# package.json scripts call jlpm and jupyter by name, so the venv must come first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export YARN_ENABLE_PROGRESS_BARS := false
export YARN_ENABLE_TELEMETRY := 0

EXT_SOURCES := $(shell find extension/src extension/style extension/schema -type f 2>/dev/null) \
	package.json tsconfig.json

.PHONY: run test env lint typecheck pytest jest ui-test chromium postgresql clean fuzz

# The demo workspace: examples/ with its own configuration (examples/jupyter_server_config.py:
# the demo dataset, profiles sized to this machine) and its own state in .labrig-demo/.
# Jupyter refuses to start as root unless told to; containers (and these machines) run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

run: env
	@echo "Starting JupyterLab with labrig on examples/ (stop with Ctrl-C)"
	cd examples && ../$(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 \
		--ServerApp.port=$(PORT) --ServerApp.root_dir=. $(ALLOW_ROOT) \
		--config=$(CURDIR)/examples/jupyter_server_config.py

test: env chromium postgresql lint typecheck pytest jest ui-test
	@echo "make test: every check passed"

env: $(STAMPS)/labextension

$(STAMPS)/python: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch 2.13.0 is the CPU wheel on this machine's disk; any other spec downloads gigabytes.
	$(BIN)/pip install --quiet torch==2.13.0 jupyterlab==4.5.11 hatchling hatch-nodejs-version \
		hatch-jupyter-builder
	# The lab extension is built by the node steps below, not inside pip. `labextension develop`
	# links share/jupyter/labextensions/labrig to the build folder; unlink it first, or pip writes
	# install.json through the link into the build folder and the next wheel holds it twice.
	rm -f $(VENV)/share/jupyter/labextensions/labrig server_ext/labrig/labextension/install.json
	SKIP_JUPYTER_BUILDER=1 $(BIN)/pip install --quiet --no-build-isolation -e ".[test,torch]"
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: $(STAMPS)/python package.json yarn.lock
	$(JLPM) install --immutable
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/labextension: $(STAMPS)/node $(EXT_SOURCES)
	$(JLPM) build
	$(BIN)/jupyter labextension develop --overwrite .
	mkdir -p $(STAMPS) && touch $@

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The PostgreSQL tests start their own server (tests/postgres_server.py) from Debian's binaries,
# which live under /usr/lib/postgresql/<version>/bin, not on PATH.
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(JLPM) lint:check

typecheck: env
	$(BIN)/mypy
	$(JLPM) typecheck

pytest: env postgresql
	$(BIN)/pytest

jest: env
	$(JLPM) test

ui-test: env chromium
	$(JLPM) test:ui

# schemathesis against openapi.yaml on a live server, longer than the bounded profiles that
# `make test` runs (tests/integration/test_fuzz_api.py, test_fuzz_users.py): as the server's
# one user, then as bob against alice's objects and without valid credentials.
# FUZZ_EXAMPLES: cases per operation.
FUZZ_EXAMPLES ?= 150
fuzz: env
	$(BIN)/python tests/integration/fuzz_api.py \
		--profile long --max-examples $(FUZZ_EXAMPLES)
	$(BIN)/python tests/integration/fuzz_users.py \
		--profile long --max-examples $(FUZZ_EXAMPLES)

clean:
	rm -rf $(STAMPS) $(VENV) node_modules extension/lib server_ext/labrig/labextension tsconfig.tsbuildinfo
