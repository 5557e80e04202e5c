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

.PHONY: help install gen check-generated lint test test-plugin run clean

help:
	@echo "make run              serve the app on embedded defaults"
	@echo "make test             install everything, check generated code, lint, run all tests"
	@echo "make gen              regenerate generated/ from db/migrations and queries/"
	@echo "make check-generated  fail if generated/ is not what make gen writes"
	@echo "make lint             ruff check, ruff format --check, mypy --strict"

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

run: $(STAMP)
	@echo "The service does not exist yet (see the service issue)."; exit 1

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
