# The two commands: `make run` brings up the whole system with demo data; `make test` runs
# everything CI runs. Both install and start what they need on a Debian machine.
SHELL := /bin/bash
export PGPASSWORD ?= postgres
DATABASE ?= safer_streets
DATABASE_SERVER ?= postgresql+psycopg://postgres:postgres@127.0.0.1:5432
export SAFER_STREETS_DATABASE_URL ?= $(DATABASE_SERVER)/$(DATABASE)
# A scratch database that `make lint` recreates to compare the migrations with the models.
LINT_DATABASE ?= safer_streets_lint
export SAFER_STREETS_REDIS_URL ?= redis://127.0.0.1:6379/0
VENV := .venv/bin

.PHONY: run test setup lint bench

setup:
	@scripts/setup.sh

var/secret_key:
	@mkdir -p var && python3 -c 'import secrets; print(secrets.token_hex(32))' > $@

run: setup var/secret_key
	@psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$(DATABASE)'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $(DATABASE)"
	@export SAFER_STREETS_SECRET_KEY=$$(cat var/secret_key); \
	  $(VENV)/safer-streets bootstrap --demo && \
	  echo "Safer Streets is starting on http://127.0.0.1:5000 (Ctrl-C stops it)" && \
	  exec $(VENV)/honcho start -f Procfile

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports
	$(VENV)/python -m safer_streets.migrate check $(DATABASE_SERVER)/$(LINT_DATABASE)

test: lint
	@scripts/setup.sh --browser
	$(VENV)/pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/python bench/run_all.py
