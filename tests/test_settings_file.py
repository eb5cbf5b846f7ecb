"""Settings from a .env file, as after set-up: the environment wins, and tests can skip it."""

from __future__ import annotations

import os

import pytest

from safer_streets.settings import Settings, SettingsError, dotenv_file_values

ENV_FILE = """\
# written by scripts/write-env
SAFER_STREETS_SECRET_KEY=from-the-file
SAFER_STREETS_DATABASE_URL=postgresql+psycopg://postgres:postgres@127.0.0.1:5432/safer_streets
SAFER_STREETS_REDIS_URL=redis://127.0.0.1:6379/0
"""


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout with a .env, entered from a folder inside it; no SAFER_STREETS_* set."""
    (tmp_path / ".env").write_text(ENV_FILE)
    inside = tmp_path / "bench"
    inside.mkdir()
    monkeypatch.chdir(inside)
    monkeypatch.delenv("FLASK_SKIP_DOTENV", raising=False)
    for name in [n for n in os.environ if n.startswith("SAFER_STREETS_")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_the_nearest_env_file_is_read(checkout):
    settings = Settings.from_env()
    assert settings.secret_key == "from-the-file"
    assert settings.database_url.endswith("@127.0.0.1:5432/safer_streets")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_the_real_environment_wins_over_the_file(checkout, monkeypatch):
    monkeypatch.setenv("SAFER_STREETS_REDIS_URL", "redis://127.0.0.1:6379/5")
    settings = Settings.from_env()
    assert settings.redis_url == "redis://127.0.0.1:6379/5"
    assert settings.secret_key == "from-the-file"


def test_flask_s_switch_skips_the_file(checkout, monkeypatch):
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    assert dotenv_file_values() == {}
    with pytest.raises(SettingsError, match=r"SECRET_KEY is not set.*\.env"):
        Settings.from_env()


def test_settings_given_explicitly_never_read_the_file(checkout):
    settings = Settings.from_env({"SAFER_STREETS_SECRET_KEY": "given"})
    assert settings.secret_key == "given"
    assert settings.redis_url == Settings(secret_key="x").redis_url


def test_without_a_file_the_secret_is_still_required(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLASK_SKIP_DOTENV", raising=False)
    monkeypatch.delenv("SAFER_STREETS_SECRET_KEY", raising=False)
    if dotenv_file_values():  # pragma: no cover - a .env above the temporary folder
        pytest.skip("a .env file above the temporary folder")
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        Settings.from_env()


def test_too_few_permutations_stop_the_start_with_the_reason():
    with pytest.raises(SettingsError, match="HOTSPOT_PERMUTATIONS must be at least 99"):
        Settings.from_env(
            {"SAFER_STREETS_SECRET_KEY": "x", "SAFER_STREETS_HOTSPOT_PERMUTATIONS": "0"}
        )
