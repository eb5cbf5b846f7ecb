# The two commands: `make run` brings up the whole system with demo data; `make test` runs
# everything CI runs. Both install and start what they need on a Debian machine.
# Set-up writes .env (secret key, database and Redis URLs) once; `make run`, the app, the worker,
# beat and .venv/bin/safer-streets all read it, so nothing needs exporting.
SHELL := /bin/bash
export PGPASSWORD ?= postgres
# A scratch database that `make lint` recreates to compare the migrations with the models.
DATABASE_SERVER ?= postgresql+psycopg://postgres:postgres@127.0.0.1:5432
LINT_DATABASE ?= safer_streets_lint
VENV := .venv/bin

.PHONY: run test setup lint bench bench-quick

setup:
	@scripts/setup.sh

run: setup
	@mkdir -p var && \
	  $(VENV)/safer-streets db create && \
	  $(VENV)/safer-streets bootstrap --demo && \
	  echo "Safer Streets is starting on http://127.0.0.1:5000 (Ctrl-C stops it)" && \
	  echo "Email it sends is saved in var/mail/ (the mail sink on 127.0.0.1:1025)" && \
	  exec $(VENV)/honcho start -f Procfile

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports
	$(VENV)/python -m safer_streets.migrate check $(DATABASE_SERVER)/$(LINT_DATABASE)

test: lint
	@scripts/setup.sh --browser
	$(VENV)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# Every benchmark, each writing bench/results/<name>.json, then bench/RESULTS.md from those.
# The board benchmark renders the map in Chromium, so set-up installs it.
bench:
	@scripts/setup.sh --browser
	$(VENV)/python -m bench.run_all

# Smaller sizes and fewer repetitions, without the board benchmark: ten minutes.
bench-quick: setup
	$(VENV)/python -m bench.run_all --quick
