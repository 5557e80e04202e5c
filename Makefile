# Every entry point of the project. Targets bootstrap .venv from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The venv first, so sqlc, dbmate, ruff and the plugin's python are the pinned ones.
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)

# DATABASE_URL wins; otherwise the embedded local PostgreSQL (started on first use).
# Recursive (=) so it is only evaluated by the targets that need a database.
DB_URL = $(or $(DATABASE_URL),$(shell $(BIN)/python -m tools.localpg url))
PG_BIN = $(shell $(BIN)/python -m tools.localpg bin)
DBMATE = PATH="$(PG_BIN):$$PATH" DATABASE_URL="$(DB_URL)" \
	DBMATE_MIGRATIONS_DIR=db/migrations DBMATE_SCHEMA_FILE=db/schema.sql dbmate

.PHONY: help install gen check-generated lint test run eval clean \
	db db-stop migrate migration rollback status psql bench bench-quick bench-micro

help:
	@echo "make run              serve the app on embedded defaults"
	@echo "make test             install everything, check generated code, lint, run all tests"
	@echo "make eval             recall@3 and MRR of retrieval over the sample corpus"
	@echo "make gen              regenerate generated/ from db/migrations and queries/"
	@echo "make check-generated  fail if generated/ is not what make gen writes"
	@echo "make lint             ruff check, ruff format --check, mypy --strict"
	@echo "make db               start the embedded PostgreSQL (data in .data/postgres)"
	@echo "make migrate          apply pending migrations (dbmate up), dump db/schema.sql"
	@echo "make migration name=create_things   new migration file"
	@echo "make rollback         revert the latest migration"
	@echo "make status           list applied and pending migrations"
	@echo "make psql             open psql on the database"
	@echo "make bench            every benchmark level (about 9 min); results: tests/bench/RESULTS.md"
	@echo "make bench-quick      every benchmark level briefly, as a smoke test (under 2 min)"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

install: $(STAMP)

gen: $(STAMP)
	python -m tools.generated write

check-generated: $(STAMP)
	python -m tools.generated check

lint: $(STAMP)
	ruff check .
	ruff format --check .
	mypy

test: $(STAMP) check-generated lint
	python -m pytest

# DATABASE_URL / QDRANT_URL when set; otherwise the embedded PostgreSQL and Qdrant Edge.
# Vectors made another way (an older encoder, another engine) are rebuilt first; the sample
# corpus (docs/) goes into the shared corpus once: identical content is a no-op.
run: $(STAMP)
	$(DBMATE) --no-dump-schema --wait up
	DATABASE_URL="$(DB_URL)" python -m service reindex --if-stale
	DATABASE_URL="$(DB_URL)" python -m service ingest docs --shared
	DATABASE_URL="$(DB_URL)" python -m service serve

# Retrieval quality on eval/questions.json over the sample corpus (ingested first).
eval: $(STAMP)
	$(DBMATE) --no-dump-schema --wait up
	DATABASE_URL="$(DB_URL)" python -m service reindex --if-stale
	DATABASE_URL="$(DB_URL)" python -m service ingest docs --shared
	DATABASE_URL="$(DB_URL)" python -m service eval

db: $(STAMP)
	@python -m tools.localpg start

db-stop: $(STAMP)
	python -m tools.localpg stop

migrate: $(STAMP)
	$(DBMATE) --wait up

migration: $(STAMP)
	@test -n "$(name)" || { echo 'usage: make migration name=<verb>_<noun>'; exit 2; }
	$(DBMATE) new $(name)

rollback: $(STAMP)
	$(DBMATE) rollback

status: $(STAMP)
	$(DBMATE) status

psql: $(STAMP)
	"$(PG_BIN)/psql" "$(DB_URL)"

# Their own PostgreSQL (or BENCH_DATABASE_URL); never the database of make run.
bench: $(STAMP)
	python -m tests.bench

bench-quick: $(STAMP)
	python -m tests.bench --quick

bench-micro: $(STAMP)
	python -m tests.bench.micro_generated

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
