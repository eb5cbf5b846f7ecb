"""The command line as a newcomer runs it: settings from the checkout's .env, and the
database `make run` creates with it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from safer_streets.cli import main
from safer_streets.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]


def _drop(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_db_create_makes_the_configured_database_once(settings, engine):
    url = make_url(settings.database_url)
    name = f"{url.database}_created"
    server = url.set(database="postgres").render_as_string(hide_password=False)
    database_url = url.set(database=name).render_as_string(hide_password=False)
    app = create_app(replace(settings, database_url=database_url))
    info = ScriptInfo(create_app=lambda: app)
    _drop(server, name)
    try:
        first = CliRunner().invoke(main, ["db", "create"], obj=info)
        assert first.exit_code == 0, first.output
        assert f"Created the database {name}." in first.output
        again = CliRunner().invoke(main, ["db", "create"], obj=info)
        assert again.exit_code == 0, again.output
        assert f"The database {name} exists already." in again.output
    finally:
        app.extensions["safer_streets"].dispose()
        _drop(server, name)


def test_the_command_reads_the_env_file_of_the_folder_it_runs_in(settings, engine, tmp_path):
    # What set-up writes, pointing at the test database; nothing exported.
    (tmp_path / ".env").write_text(
        f"SAFER_STREETS_SECRET_KEY=from-the-file\n"
        f"SAFER_STREETS_DATABASE_URL={settings.database_url}\n"
        f"SAFER_STREETS_REDIS_URL={settings.redis_url}\n"
    )
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SAFER_STREETS_") and name != "FLASK_SKIP_DOTENV"
    }
    # This checkout's code, whichever checkout the virtualenv was installed from.
    environment["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", "from safer_streets.cli import main; main()", "db", "create"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"The database {make_url(settings.database_url).database} exists already." in (
        result.stdout
    )
