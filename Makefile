# Every entry point of the project. Targets bootstrap .venv from nothing: `make run` installs
# requirements.lock (what serving needs), the development targets requirements-dev.lock too.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter .venv is made from (3.11 or newer), and where .venv is.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# The venv first, so sqlc, dbmate, ruff and the plugin's python are the pinned ones.
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)

# DATABASE_URL wins; otherwise the embedded local PostgreSQL (started on first use).
# Recursive (=) so it is only evaluated by the targets that need a database.
DB_URL = $(or $(DATABASE_URL),$(shell $(BIN)/python -m tools.localpg url))
PG_BIN = $(shell $(BIN)/python -m tools.localpg bin)
DBMATE = PATH="$(PG_BIN):$$PATH" DATABASE_URL="$(DB_URL)" \
	DBMATE_MIGRATIONS_DIR=db/migrations DBMATE_SCHEMA_FILE=db/schema.sql dbmate

.PHONY: help install install-run lock check-lock gen check-generated lint lint-migrations vet test \
	pytest run eval clean db db-stop migrate migration rollback status psql bench bench-quick \
	bench-micro

help:
	@echo "make run              serve the app on embedded defaults"
	@echo "make test             install everything, check generated code, lint, run all tests"
	@echo "make eval             recall@3 and MRR of retrieval over the sample corpus"
	@echo "make gen              regenerate generated/ from db/migrations and queries/"
	@echo "make check-generated  fail if generated/ is not what make gen writes"
	@echo "make lint             ruff check, ruff format --check, mypy --strict, lint-imports,"
	@echo "                      lint-migrations and vet"
	@echo "make lint-migrations  squawk over db/migrations (locking hazards; rules: db/README.md)"
	@echo "make vet              sqlc vet: every query planned on a migrated database (sqlc.yaml)"
	@echo "make db               start the embedded PostgreSQL (data in .data/postgres)"
	@echo "make migrate          apply pending migrations (dbmate up), dump db/schema.sql"
	@echo "make migration NAME=add_things_column   new migration, timeouts set (db/README.md)"
	@echo "make migration NAME=create_things_index CONCURRENTLY=1   new index on an existing table"
	@echo "make rollback         revert the latest migration"
	@echo "make status           list applied and pending migrations"
	@echo "make psql             open psql on the database"
	@echo "make bench            every benchmark level (about 9 min); results: tests/bench/RESULTS.md"
	@echo "make bench-quick      every benchmark level briefly, as a smoke test (under 2 min)"
	@echo "make install          install everything into .venv (make install-run: what make run needs)"
	@echo "make lock             re-pin requirements.lock and requirements-dev.lock from pyproject.toml"
	@echo "make check-lock       requirements.lock alone runs the service (a venv of its own)"

# One line and a failure, before anything is created, unless $(PYTHON) is Python 3.11+.
define check_python
found=$$("$(PYTHON)" --version 2>&1) && where=$$(command -v "$(PYTHON)") || { \
	echo "Python 3.11+ is needed ($(PYTHON) was not found); run make with PYTHON=/path/to/python3.11" >&2; \
	exit 1; }; \
if ! [[ "$$found" =~ ^Python\ ([0-9]+)\.([0-9]+) ]] \
	|| (( BASH_REMATCH[1] == 3 && BASH_REMATCH[2] < 11 || BASH_REMATCH[1] < 3 )); then \
	echo "Python 3.11+ is needed (found $${found#Python } at $$where); run make with PYTHON=/path/to/python3.11" >&2; \
	exit 1; \
fi
endef

# Install lock file $(1) into the venv, making the venv first when it has no python. A failed
# or interrupted creation or install removes the venv, so the next run starts clean.
define install_lock
@trap 'rm -rf "$(VENV)"; exit 130' INT TERM; \
if [ ! -x "$(BIN)/python" ]; then \
	$(check_python); \
	"$(PYTHON)" -m venv "$(VENV)" || { \
		rm -rf "$(VENV)"; echo "creating $(VENV) with $(PYTHON) failed: removed it" >&2; exit 1; }; \
fi; \
"$(BIN)/python" -m pip install --quiet --disable-pip-version-check -r $(1) || { \
	rm -rf "$(VENV)"; \
	echo "installing $(1) failed: removed $(VENV), so the next run starts clean" >&2; \
	exit 1; }
endef

$(RUN_STAMP): requirements.lock pyproject.toml
	$(call install_lock,requirements.lock)
	@touch $@

# requirements-dev.lock includes requirements.lock: what make run needs is in too.
$(DEV_STAMP): requirements-dev.lock requirements.lock pyproject.toml
	$(call install_lock,requirements-dev.lock)
	@touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

install-run: $(RUN_STAMP)

# Re-pin both lock files from pyproject.toml's pins, in a clean venv (needs the package
# index): requirements.lock gets the dependencies and the `local` extra, then
# requirements-dev.lock the other extras, resolved within requirements.lock's pins.
LOCK_VENV := $(CURDIR)/.data/lock-venv
define PINS
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for group in sys.argv[1:]:
    extras = project["optional-dependencies"]
    print(*(project["dependencies"] if group == "dependencies" else extras[group]), sep="\n")
endef
define RUNTIME_HEADER
# What `make run` installs: the service's dependencies and pyproject.toml's `local` extra
# (dbmate, the embedded PostgreSQL), every package pinned. Written by `make lock`.
endef
define DEV_HEADER
# What make test, lint, gen and bench install: requirements.lock and pyproject.toml's other
# extras (dev, bench), every package pinned. Written by `make lock`.
endef
export PINS RUNTIME_HEADER DEV_HEADER

lock:
	@$(check_python)
	rm -rf "$(LOCK_VENV)"
	"$(PYTHON)" -m venv "$(LOCK_VENV)"
	"$(LOCK_VENV)/bin/python" -c "$$PINS" dependencies local > "$(LOCK_VENV)/runtime.in"
	"$(LOCK_VENV)/bin/python" -c "$$PINS" dev bench > "$(LOCK_VENV)/dev.in"
	"$(LOCK_VENV)/bin/pip" install --quiet -r "$(LOCK_VENV)/runtime.in"
	{ echo "$$RUNTIME_HEADER"; "$(LOCK_VENV)/bin/pip" freeze; } > "$(LOCK_VENV)/requirements.lock"
	"$(LOCK_VENV)/bin/pip" install --quiet -r "$(LOCK_VENV)/dev.in" \
		-c "$(LOCK_VENV)/requirements.lock"
	{ echo "$$DEV_HEADER"; echo "-r requirements.lock"; "$(LOCK_VENV)/bin/pip" freeze \
		| grep -vxFf <(grep -v '^#' "$(LOCK_VENV)/requirements.lock"); } \
		> "$(LOCK_VENV)/requirements-dev.lock"
	mv "$(LOCK_VENV)/requirements.lock" "$(LOCK_VENV)/requirements-dev.lock" .
	rm -rf "$(LOCK_VENV)"

# make run installs requirements.lock alone: in a venv of its own, every module of service/,
# generated/ and tools/localpg must import, and the command line must start.
LOCK_CHECK_VENV := $(CURDIR)/.data/lock-check-venv
define IMPORT_ALL
import importlib, pkgutil, generated, service, tools.localpg
for package in (service, generated):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
endef
export IMPORT_ALL

check-lock: $(RUN_STAMP)
	rm -rf "$(LOCK_CHECK_VENV)"
	"$(BIN)/python" -m venv "$(LOCK_CHECK_VENV)"
	"$(LOCK_CHECK_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check \
		-r requirements.lock
	"$(LOCK_CHECK_VENV)/bin/python" -c "$$IMPORT_ALL"
	"$(LOCK_CHECK_VENV)/bin/python" -m service serve --help > /dev/null
	rm -rf "$(LOCK_CHECK_VENV)"

gen: $(DEV_STAMP)
	python -m tools.generated write

check-generated: $(DEV_STAMP)
	python -m tools.generated check

lint: $(DEV_STAMP) lint-migrations vet
	ruff check .
	ruff format --check .
	mypy
	lint-imports

# What lint-migrations reads and vet plans: the project's own, or copies (tests/db/test_dba_checks.py).
MIGRATIONS_DIR ?= db/migrations
SQLC_CONFIG ?= sqlc.yaml
SQUAWK_CONFIG := $(CURDIR)/db/squawk.toml

# squawk reads each migration as dbmate runs it on the way up: the part before
# `-- migrate:down` (a rollback drops what the way up made: no hazard to flag), in a
# transaction unless the file says `transaction:false`. The copies keep the files' names and
# line numbers, so squawk's messages point into db/migrations; the migrations squawk.toml
# accepts are left out here too, so that squawk never runs on nothing. A TODO left from the
# template (make migration) fails too.
lint-migrations: $(DEV_STAMP)
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	mkdir -p "$$scratch/db/migrations"; \
	accepted=$$(sed -n 's/^ *"\*\([^"]*\.sql\)",*$$/\1/p' "$(SQUAWK_CONFIG)"); \
	for file in $(MIGRATIONS_DIR)/*.sql; do \
		grep -qxF "$${file##*/}" <<< "$$accepted" && continue; \
		sed '/^-- migrate:down/,$$d' "$$file" > "$$scratch/db/migrations/$${file##*/}"; \
	done; \
	cd "$$scratch"; shopt -s nullglob; files=(db/migrations/*.sql); \
	if (( $${#files[@]} == 0 )); then echo "squawk: every migration is accepted in db/squawk.toml"; exit 0; fi; \
	in_transaction=$$(grep -L '^-- migrate:up transaction:false' "$${files[@]}" || true); \
	alone=$$(grep -l '^-- migrate:up transaction:false' "$${files[@]}" || true); \
	squawk="squawk --config=$(SQUAWK_CONFIG)"; \
	status=0; \
	for file in $$(grep -l TODO "$${files[@]}"); do \
		echo "$$file: TODO left from the template (make migration)"; status=1; done; \
	if [ -n "$$in_transaction" ]; then $$squawk --assume-in-transaction $$in_transaction || status=1; fi; \
	if [ -n "$$alone" ]; then $$squawk --no-assume-in-transaction $$alone || status=1; fi; \
	exit $$status

# sqlc vet (rules in sqlc.yaml) plans every query on a migrated database: VET_DATABASE_URL
# when set (migrated already), otherwise a database of its own on the embedded PostgreSQL,
# migrated by dbmate and dropped afterwards (a server that vet had to start, it stops again).
# Sequential scans are off for vet's session only: why, in sqlc.yaml.
vet: $(DEV_STAMP)
	@url='$(VET_DATABASE_URL)'; \
	if [ -z "$$url" ]; then \
		running=$$(test -e .data/postgres/postmaster.pid && echo yes || true); \
		admin=$$(python -m tools.localpg url --db postgres); \
		url=$${admin/\/postgres\?//vet_$$$$?}; \
		trap 'dbmate --url "$$url" --no-dump-schema drop > /dev/null; \
			test -n "$$running" || python -m tools.localpg stop' EXIT; \
		dbmate --url "$$url" --migrations-dir "$(MIGRATIONS_DIR)" --no-dump-schema up > /dev/null; \
	fi; \
	VET_DATABASE_URL="$$url" PGOPTIONS="-c enable_seqscan=off" sqlc vet --file "$(SQLC_CONFIG)"

# The linters and the tests run side by side, the tests in two processes (pytest-xdist):
# most tests wait on PostgreSQL or a subprocess, so two keep both cores busy.
test: $(DEV_STAMP) check-generated
	@$(MAKE) --no-print-directory --output-sync=target -j2 lint pytest

pytest: $(DEV_STAMP)
	python -m pytest -n 2

# DATABASE_URL / QDRANT_URL when set; otherwise the embedded PostgreSQL and Qdrant Edge.
# Vectors made another way (an older encoder, another engine) are rebuilt first; the sample
# corpus (docs/) goes into the shared corpus once: identical content is a no-op.
run: $(RUN_STAMP)
	$(DBMATE) --no-dump-schema --wait up
	DATABASE_URL="$(DB_URL)" python -m service reindex --if-stale
	DATABASE_URL="$(DB_URL)" python -m service ingest docs --shared
	DATABASE_URL="$(DB_URL)" python -m service serve

# Retrieval quality on eval/questions.json over the sample corpus (ingested first).
eval: $(RUN_STAMP)
	$(DBMATE) --no-dump-schema --wait up
	DATABASE_URL="$(DB_URL)" python -m service reindex --if-stale
	DATABASE_URL="$(DB_URL)" python -m service ingest docs --shared
	DATABASE_URL="$(DB_URL)" python -m service eval

db: $(RUN_STAMP)
	@python -m tools.localpg start

db-stop: $(RUN_STAMP)
	python -m tools.localpg stop

migrate: $(RUN_STAMP)
	$(DBMATE) --wait up

# A new migration from a template: the dbmate markers, the timeouts and a line for the reason
# (db/README.md). CONCURRENTLY=1: an index on an existing table, alone in a file of its own.
NAME ?= $(name)
define MIGRATION_TEMPLATE
-- migrate:up
-- Why: TODO one line: what this changes, and what needs it.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';


-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

endef
define INDEX_MIGRATION_TEMPLATE
-- migrate:up transaction:false
-- Why: TODO one line: which query this index serves.
-- Built CONCURRENTLY, so reads and writes go on. The statement is alone in the file: dbmate
-- sends a file as one string, which PostgreSQL runs as one transaction, where CONCURRENTLY
-- is refused. So it sets no timeouts, and needs none: its lock never queues reads or writes,
-- and lock_timeout would cut the build short while it waits out older transactions. A failed
-- build leaves an INVALID index: drop it, then migrate again.
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS TODO_table_columns_idx ON TODO_table (TODO_columns);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS TODO_table_columns_idx;
endef
export MIGRATION_TEMPLATE INDEX_MIGRATION_TEMPLATE

migration:
	@[[ "$(NAME)" =~ ^[a-z0-9]+(_[a-z0-9]+)+$$ ]] || { \
		echo 'usage: make migration NAME=<verb>_<noun> [CONCURRENTLY=1]'; exit 2; }
	@file=$(MIGRATIONS_DIR)/$$(date -u +%Y%m%d%H%M%S)_$(NAME).sql; \
	if [ -n "$(CONCURRENTLY)" ]; then echo "$$INDEX_MIGRATION_TEMPLATE"; \
	else echo "$$MIGRATION_TEMPLATE"; fi > "$$file"; \
	echo "$$file: write the migration, then make lint-migrations"

rollback: $(RUN_STAMP)
	$(DBMATE) rollback

status: $(RUN_STAMP)
	$(DBMATE) status

psql: $(RUN_STAMP)
	"$(PG_BIN)/psql" "$(DB_URL)"

# Their own PostgreSQL (or BENCH_DATABASE_URL); never the database of make run.
bench: $(DEV_STAMP)
	python -m tests.bench

bench-quick: $(DEV_STAMP)
	python -m tests.bench --quick

bench-micro: $(DEV_STAMP)
	python -m tests.bench.micro_generated

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
