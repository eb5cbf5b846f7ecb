#!/usr/bin/env bash
# Prepares a Debian machine for Safer Streets: PostgreSQL + PostGIS, Redis, the virtualenv, and
# the checkout's .env (secret key, database and Redis URLs; see scripts/write-env).
# Idempotent and quick when everything is already there. `--browser` also installs Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

packages=()
command -v psql >/dev/null 2>&1 || packages+=(postgresql-15 postgresql-client-15)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || packages+=(postgresql-15-postgis-3)
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
[ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1 && packages+=(chromium)
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
if [ ${#packages[@]} -gt 0 ]; then
  echo "Installing ${packages[*]}"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${packages[@]}"
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Starting PostgreSQL"
  if ! pg_lsclusters -h | grep -q '^15 *main'; then
    $sudo_cmd pg_createcluster 15 main
  fi
  $sudo_cmd pg_ctlcluster --skip-systemctl-redirect 15 main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# A fresh cluster asks for a password over TCP; give the postgres role the one in our URLs.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; then
  $sudo_cmd su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis"
  mkdir -p var
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$PWD/var" --logfile "$PWD/var/redis.log"
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi

# The settings `make run`, the app, the worker, beat and the safer-streets command share.
scripts/write-env
