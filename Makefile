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

.PHONY: help install install-run lock check-lock gen check-generated lint test pytest run eval clean \
	db db-stop migrate migration rollback status psql bench bench-quick bench-micro

help:
	@echo "make run              serve the app on embedded defaults"
	@echo "make test             install everything, check generated code, lint, run all tests"
	@echo "make eval             recall@3 and MRR of retrieval over the sample corpus"
	@echo "make gen              regenerate generated/ from db/migrations and queries/"
	@echo "make check-generated  fail if generated/ is not what make gen writes"
	@echo "make lint             ruff check, ruff format --check, mypy --strict, lint-imports"
	@echo "make db               start the embedded PostgreSQL (data in .data/postgres)"
	@echo "make migrate          apply pending migrations (dbmate up), dump db/schema.sql"
	@echo "make migration name=create_things   new migration file"
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

lint: $(DEV_STAMP)
	ruff check .
	ruff format --check .
	mypy
	lint-imports

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

migration: $(RUN_STAMP)
	@test -n "$(name)" || { echo 'usage: make migration name=<verb>_<noun>'; exit 2; }
	$(DBMATE) new $(name)

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
