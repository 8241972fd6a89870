# netviz: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
# Python 3.13 as pinned in .python-version: pyenv's when present, else whatever python3.13 is.
PYTHON ?= $(shell pyenv which python3.13 2>/dev/null || command -v python3.13 || command -v python3)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: help install run serve worker test lint test-sqlite test-postgres browser-deps bench vendor clean

help:
	@echo "make run    - install, migrate, load the demo cluster, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install test needs (chromium, postgresql) and run the whole suite"
	@echo "make serve  - gunicorn + whitenoise (production-like); run 'make worker' beside it"
	@echo "make worker - the analysis worker for large uploads (manage.py db_worker)"
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

# A local development server: DEBUG on (static files served, cookies over plain http), with
# the analysis worker beside it in its own process group (reloading on code changes, as
# runserver does), stopped with the server however that ends (Ctrl+C included).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_local_user
	NETVIZ_DEBUG=true setsid $(PY) manage.py db_worker --no-startup-delay & worker=$$!; \
	trap 'kill -TERM -- -$$worker 2>/dev/null' EXIT INT TERM; \
	NETVIZ_DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

# gunicorn only: run the analysis worker (`make worker`, or `manage.py db_worker`) as a
# process of its own beside it, under the same supervisor (systemd, a container), one or
# more of them; see README.md. Each gunicorn worker is replaced after MAX_REQUESTS requests
# (give or take MAX_REQUESTS_JITTER, so that they do not all restart at once): a safety net
# against memory that grows with the revisions a process has kept.
serve: install
	$(PY) manage.py migrate --noinput
	NETVIZ_MANIFEST_STATIC=true $(PY) manage.py collectstatic --noinput
	NETVIZ_MANIFEST_STATIC=true $(VENV)/bin/gunicorn netviz.wsgi --bind $(HOST):$(PORT) \
		--workers $${WEB_CONCURRENCY:-3} \
		--max-requests $${MAX_REQUESTS:-1000} --max-requests-jitter $${MAX_REQUESTS_JITTER:-100}

# The analysis worker of production-like serving: takes tasks from the database one at a
# time; start as many as there are cores to spare, on any machine that reaches the database.
worker: install
	$(PY) manage.py db_worker --no-reload

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
	@# bytecode for what changed since the install stamp (a merge, a pull): with
	@# PYTHONDONTWRITEBYTECODE set, a stale .pyc is compiled again at every start-up, in each run
	@$(PY) -m compileall -q policies netviz >/dev/null
	$(PY) benchmarks/run.py

vendor:
	npm ci && npm run vendor

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles build policies/engine/_fastyaml*.so
