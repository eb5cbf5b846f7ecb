"""Password hashing at the cost the settings name: production's, and the tests' cheap one."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from safer_streets.accounts.passwords import Passwords
from safer_streets.settings import Settings, SettingsError
from tests.helpers import CHEAP_ARGON2, PASSWORD, PASSWORDS


@pytest.fixture(scope="module")
def production() -> Passwords:
    return Passwords.for_settings(Settings(secret_key="x"))


def test_production_keeps_argon2_cffi_s_defaults(production):
    # Changing these re-hashes every password at its next sign-in: a decision, not a drift.
    ours, library = production.hasher, PasswordHasher()
    assert (ours.time_cost, ours.memory_cost, ours.parallelism, ours.hash_len) == (
        library.time_cost,
        library.memory_cost,
        library.parallelism,
        library.hash_len,
    )
    settings = Settings.from_env({"SAFER_STREETS_SECRET_KEY": "x"})
    assert (
        settings.argon2_time_cost,
        settings.argon2_memory_cost_kib,
        settings.argon2_parallelism,
    ) == (3, 65536, 4)


def test_the_cost_is_read_from_the_environment():
    settings = Settings.from_env(
        {
            "SAFER_STREETS_SECRET_KEY": "x",
            "SAFER_STREETS_ARGON2_TIME_COST": "4",
            "SAFER_STREETS_ARGON2_MEMORY_COST_KIB": "131072",
            "SAFER_STREETS_ARGON2_PARALLELISM": "2",
        }
    )
    parameters = extract_parameters(Passwords.for_settings(settings).hash(PASSWORD))
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (4, 131072, 2)


def test_the_tests_hash_at_the_smallest_cost():
    parameters = extract_parameters(PASSWORDS.hash(PASSWORD))
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (1, 8, 1)
    assert Settings(secret_key="x", **CHEAP_ARGON2).argon2_memory_cost_kib == 8


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SAFER_STREETS_ARGON2_TIME_COST": "0"}, "ARGON2_TIME_COST must be at least 1"),
        ({"SAFER_STREETS_ARGON2_PARALLELISM": "0"}, "ARGON2_PARALLELISM must be at least 1"),
        (
            {"SAFER_STREETS_ARGON2_MEMORY_COST_KIB": "16"},
            "ARGON2_MEMORY_COST_KIB must be at least 8 per lane",
        ),
        ({"SAFER_STREETS_ARGON2_TIME_COST": "cheap"}, "ARGON2_TIME_COST must be a whole number"),
    ],
)
def test_a_cost_argon2_would_refuse_stops_the_start(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SAFER_STREETS_SECRET_KEY": "x", **env})


def test_a_hash_made_at_one_cost_verifies_at_the_other(production):
    # Each hash carries its parameters: lowering or raising the cost locks nobody out.
    assert PASSWORDS.verify(production.hash(PASSWORD), PASSWORD)
    assert production.verify(PASSWORDS.hash(PASSWORD), PASSWORD)
    assert not PASSWORDS.verify(production.hash(PASSWORD), "wrong password")
    assert not production.verify(PASSWORDS.hash(PASSWORD), "wrong password")


def test_only_a_hash_made_at_another_cost_needs_re_hashing(production):
    cheap_hash = PASSWORDS.hash(PASSWORD)
    assert not PASSWORDS.needs_rehash(cheap_hash)
    assert production.needs_rehash(cheap_hash)
    assert PASSWORDS.needs_rehash(production.dummy_hash)
    assert not production.needs_rehash(production.dummy_hash)


def test_no_account_and_a_broken_hash_never_match():
    assert not PASSWORDS.verify(None, "not-a-real-password")  # the dummy's own password
    assert not PASSWORDS.verify("", PASSWORD)
    assert not PASSWORDS.verify("x", PASSWORD)
