# Lodestar — everyday commands. GNU make 4.3; needs only python3 (3.11) and make.
#
#   make run     install, migrate, seed demo data, serve http://127.0.0.1:8000 (HOST=, PORT=)
#   make test    the test suite (SQLite, or PostgreSQL when DATABASE_URL is set)
#   make lint    ruff check and ruff format --check
#   make bench   page and API latency on 10,000 products (needs PostgreSQL)
#   make clean   remove the virtualenv, caches and collected static files (keeps the database in var/)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements*.txt)

# make run
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ROWS ?= 100000
DEMO_PASSWORD ?= lodestar
WEB_WORKERS ?= 2
WEB_THREADS ?= 4
# Start a Celery worker and beat beside the web server: yes, no, or auto (yes as soon as an
# app has a tasks.py). The embedded broker is a folder under LODESTAR_VAR_DIR; no server needed.
CELERY ?= auto

# make test: extra pytest arguments, e.g. make test PYTEST_ARGS="tests/access -k drafts"
PYTEST_ARGS ?=

# make bench
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lodestar_bench
BENCH_ARGS ?=

.PHONY: help install run test lint format bench clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

install: $(STAMP)

# Reinstall only when a requirements file is newer than the stamp.
$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: install
	HOST=$(HOST) PORT=$(PORT) DEMO_ROWS=$(DEMO_ROWS) DEMO_PASSWORD=$(DEMO_PASSWORD) \
	WEB_WORKERS=$(WEB_WORKERS) WEB_THREADS=$(WEB_THREADS) CELERY=$(CELERY) \
	PATH="$(abspath $(BIN)):$$PATH" scripts/run_embedded.sh

test: install
	@status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests — that is a failure" >&2; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/bench_pages.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/static .ruff_cache .pytest_cache .hypothesis bench/results tests/artifacts
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

#   make bench-quality  our check engine vs Great Expectations and Soda Core 4 on 10M rows (needs PostgreSQL)
# make bench-quality: e.g. BENCH_QUALITY_ARGS="--repeat 5". GX and Soda 4 are installed into
# bench/quality/.venvs/ on first use; the data (Parquet file, lodestar_bench_quality database) is kept
# while it holds --rows rows (another --rows makes it again, for both copies).
BENCH_QUALITY_ARGS ?=

.PHONY: bench-quality
bench-quality: install
	$(PY) bench/quality/bench_checks.py $(BENCH_QUALITY_ARGS)

#   make bench-delivery  a masked, row-filtered CSV download of 1M rows through the real view: rows/s and peak RSS
# make bench-delivery: e.g. BENCH_DELIVERY_ARGS="--rows 100000 --repeat 1". The Parquet file and the benchmark's own
# SQLite database are kept in bench/delivery/data/; results in bench/delivery/results/.
BENCH_DELIVERY_ARGS ?=

.PHONY: bench-delivery
bench-delivery: install
	$(PY) bench/delivery/bench_download.py $(BENCH_DELIVERY_ARGS)

#   make bench-access  listing the outputs a user with 1,000 grants may read among 100,000 (needs PostgreSQL)
# make bench-access: e.g. BENCH_ACCESS_ARGS="--rebuild --requests 500". The dataset is kept in the
# lodestar_bench_access database; the table goes to bench/results/access.md.
BENCH_ACCESS_ARGS ?=
BENCH_ACCESS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lodestar_bench_access

.PHONY: bench-access
bench-access: install
	DATABASE_URL=$(BENCH_ACCESS_DATABASE_URL) $(PY) bench/access/bench_readable.py $(BENCH_ACCESS_ARGS)

#   make bench-specs  import 1,000 spec files and export them back, on SQLite and PostgreSQL
# make bench-specs: e.g. BENCH_SPECS_ARGS="--files 200 --backend sqlite". Each backend runs in a process
# of its own on a fresh database (PostgreSQL: lodestar_bench_specs, dropped first); table in bench/results/specs.md.
BENCH_SPECS_ARGS ?=

.PHONY: bench-specs
bench-specs: install
	$(PY) bench/specs/bench_specs.py $(BENCH_SPECS_ARGS)

#   make bench-kpis  the KPI engine: distinct users per day, week and month over a year of 10M events (target < 5 s)
# make bench-kpis: e.g. BENCH_KPIS_ARGS="--postgres --repeat 5" (--postgres: also a table in lodestar_bench_kpis).
# The Parquet file and the benchmark's own SQLite database are kept in bench/kpis/data/; results in bench/kpis/results/.
BENCH_KPIS_ARGS ?=

.PHONY: bench-kpis
bench-kpis: install
	$(PY) bench/kpis/bench_kpis.py $(BENCH_KPIS_ARGS)

#   make bench-dashboard  a dashboard page with six charts from stored series, 200 requests (target: p95 < 200 ms)
# make bench-dashboard: e.g. BENCH_DASHBOARD_ARGS="--rows 200000 --requests 50". The Parquet file is kept in
# bench/kpis/data/ (the benchmark's SQLite database is made anew each run); results in bench/kpis/results/dashboard.md.
BENCH_DASHBOARD_ARGS ?=

.PHONY: bench-dashboard
bench-dashboard: install
	$(PY) bench/kpis/bench_dashboard.py $(BENCH_DASHBOARD_ARGS)
