# netviz: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
# Python 3.13 as pinned in .python-version: pyenv's when present, else whatever python3.13 is.
PYTHON ?= $(shell pyenv which python3.13 2>/dev/null || command -v python3.13 || command -v python3)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: help install run serve test lint test-sqlite test-postgres browser-deps bench vendor clean

help:
	@echo "make run    - install, migrate, load the demo cluster, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install test needs (chromium, postgresql) and run the whole suite"
	@echo "make serve  - gunicorn + whitenoise (production-like)"
	@echo "make bench  - benchmarks (writes BENCHMARKS.md)"

# The stamp re-runs pip only when what it installs or builds changes. The native YAML reader
# needs gcc and libyaml-dev (installed when missing and possible); without them netviz reads
# YAML with the pure-Python reader, and says so here.
$(VENV)/.installed: pyproject.toml setup.py policies/engine/_fastyaml.c
	@bash scripts/ensure-libyaml.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# compat: a plain path in a .pth, not setuptools' import hook, which costs every start-up
	@# of `netviz` ~15 ms (it imports pathlib before any line of ours runs)
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@$(PY) -c 'import policies.engine._fastyaml' 2>/dev/null || echo "notice: the native YAML reader was not built (needs gcc and libyaml-dev); using the pure-Python reader"
	@$(PY) -m compileall -q policies netviz >/dev/null
	@touch $@

install: $(VENV)/.installed

# A local development server: DEBUG on (static files served, cookies over plain http).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_local_user
	NETVIZ_DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

serve: install
	$(PY) manage.py migrate --noinput
	NETVIZ_MANIFEST_STATIC=true $(PY) manage.py collectstatic --noinput
	NETVIZ_MANIFEST_STATIC=true $(VENV)/bin/gunicorn netviz.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-3}

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

browser-deps:
	@bash scripts/ensure-chromium.sh

# The engine suite runs again on the pure-Python YAML reader (the fallback where the native one
# cannot be built); the default run uses the native one.
test-sqlite: install browser-deps
	$(PY) -m pytest -p no:cacheprovider
	NETVIZ_YAML_READER=python $(PY) -m pytest -p no:cacheprovider tests/engine

test-postgres: install
	bash scripts/with-postgres.sh $(PY) -m pytest -p no:cacheprovider -m "not browser"

# SQLite carries the whole suite (browser tests included); PostgreSQL runs it again without the
# browser layer, which does not touch the database engine in any way SQLite does not.
test: lint test-sqlite test-postgres

bench: install browser-deps
	$(PY) benchmarks/run.py

vendor:
	npm ci && npm run vendor

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles build policies/engine/_fastyaml*.so
