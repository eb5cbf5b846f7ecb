"""Password hashing (argon2id) with the cost the settings ask for, built in one place.

Every argon2 hash records the parameters it was made with, so a hash made under one cost
verifies under any other: changing the cost never locks anyone out. ``needs_rehash`` is true
for a hash made under another cost, and signing in then re-hashes the password with the
configured one, so stored hashes follow the settings one sign-in at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from safer_streets.settings import Settings


@dataclass(frozen=True)
class Passwords:
    """Hashes and checks passwords at one argon2 cost."""

    hasher: PasswordHasher
    # Checked instead of a real hash when nobody has the email, so that a failed sign-in
    # takes as long either way and its timing does not reveal who has an account. It is
    # made at the configured cost, the cost real hashes have once signed in with.
    dummy_hash: str

    @classmethod
    def at_cost(cls, *, time_cost: int, memory_cost_kib: int, parallelism: int) -> Passwords:
        """Hashing with these argon2id parameters."""
        hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        return cls(hasher, hasher.hash("not-a-real-password"))

    @classmethod
    def for_settings(cls, settings: Settings) -> Passwords:
        """Hashing at the cost the settings name (argon2-cffi's defaults unless changed)."""
        return cls.at_cost(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )

    def hash(self, password: str) -> str:
        """A new salted hash of ``password``."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no account) costs the same and is false."""
        try:
            self.hasher.verify(self.dummy_hash if stored_hash is None else stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the hash was made at another cost than the configured one."""
        return self.hasher.check_needs_rehash(stored_hash)
