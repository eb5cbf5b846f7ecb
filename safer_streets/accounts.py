"""Partner, board and admin accounts: creation and password checks (argon2)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.errors import InvalidInput
from safer_streets.models import Partner, Role, User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# Verifying against a dummy hash when the email is unknown keeps response times alike,
# so login timing does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    partner_slug: str | None,
    name: str = "",
) -> User:
    """Create an account; partner roles need a partner, board and admin may have one."""
    errors: dict[str, str] = {}
    email = email.strip().lower()
    if "@" not in email:
        errors["email"] = "must be an email address"
    elif session.scalar(select(User).where(func.lower(User.email) == email)):
        errors["email"] = f"an account for {email} already exists"
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    partner = None
    if partner_slug:
        partner = session.scalar(select(Partner).where(Partner.slug == partner_slug))
        if partner is None:
            errors["partner"] = f"unknown partner {partner_slug!r}"
    elif role in (Role.STAFF, Role.PARTNER_ADMIN):
        errors["partner"] = f"a {role.value} account needs a partner"
    if errors:
        raise InvalidInput(errors)
    user = User(
        email=email, name=name, password_hash=_hasher.hash(password), role=role, partner=partner
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
