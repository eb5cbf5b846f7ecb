"""Partner, board and admin accounts: passwords (argon2), sessions, second factor, resets.

Sessions end after ``session_hours`` whatever happens and after ``session_idle_minutes``
without a request. Signing out, changing or resetting the password and deactivating the
account end every session of the account at once: the session cookie is signed but held by
the browser, so what ends it is a value kept here, checked on every request (``signed_in_user``).
Partner admins manage the accounts of their own partner and nobody else's.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from itsdangerous import BadSignature
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.accounts.passwords import Passwords
from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.models import Partner, Role, User, UserSecurity
from safer_streets.notifications import outbox

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
# Said when a signed-in user is asked for their password again and types another.
NOT_YOUR_PASSWORD = "that is not your password"  # noqa: S105 - a message, not a password


def create_user(
    session: Session,
    *,
    passwords: Passwords,
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
        email=email, name=name, password_hash=passwords.hash(password), role=role, partner=partner
    )
    session.add(user)
    session.flush()
    return user


def authenticate(
    session: Session, email: str, password: str, *, passwords: Passwords
) -> User | None:
    """The active user with these credentials, or None.

    A password hashed at another cost than the configured one is re-hashed now, the one
    moment the password is known.
    """
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if not passwords.verify(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    return user


# ---- Sessions ----------------------------------------------------------------------------

SESSION_ENDED = (
    "You were signed out: this account signed out, or its password was changed. "
    "Please sign in again."
)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a sign-in lasts: at most ``absolute``, and ``idle`` between requests."""

    absolute: timedelta
    idle: timedelta


def security_for(session: Session, user: User) -> UserSecurity:
    """The account's second-factor and revocation record, created on first use."""
    security = session.get(UserSecurity, user.id)
    if security is None:
        security = UserSecurity(user_id=user.id)
        session.add(security)
        session.flush()
    return security


def session_generation(session: Session, user: User) -> int | None:
    """Which generation of the account's sessions a sign-in now belongs to.

    It is the moment every session was last ended, in whole microseconds (``None`` if that
    never happened). A session records it when it starts and is void once it changes. It is
    compared for equality, never against a clock, so web servers whose clocks disagree can
    neither revive an ended session nor end a new one.
    """
    security = session.get(UserSecurity, user.id)
    if security is None or security.sessions_valid_after is None:
        return None
    return (security.sessions_valid_after - _UNIX_EPOCH) // timedelta(microseconds=1)


def signed_in_user(
    session: Session,
    *,
    user_id: int | None,
    signed_in_at: float | None,
    seen_at: float | None,
    generation: int | None,
    now: datetime,
    policy: SessionPolicy,
) -> tuple[User | None, str | None]:
    """The user a session belongs to, or ``None`` and why the session ended.

    ``generation`` is what ``session_generation`` said when the session started.
    """
    if not user_id or signed_in_at is None or seen_at is None:
        return None, None
    started = datetime.fromtimestamp(signed_in_at, UTC)
    if now - started > policy.absolute:
        hours = int(policy.absolute.total_seconds() // 3600)
        return None, f"For safety, sign-ins last {hours} hours. Please sign in again."
    if now - datetime.fromtimestamp(seen_at, UTC) > policy.idle:
        minutes = int(policy.idle.total_seconds() // 60)
        return None, (
            f"You were signed out after {minutes} minutes without activity. Please sign in again."
        )
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None, "Your account is no longer active."
    if generation != session_generation(session, user):
        return None, SESSION_ENDED
    return user, None


def record_sign_in(session: Session, user: User, now: datetime) -> None:
    """Note a completed sign-in."""
    security_for(session, user).last_login_at = now


def end_all_sessions(session: Session, user: User, now: datetime) -> None:
    """Sign the user out everywhere: every session started until now is void at its next
    request, whoever holds a copy of its cookie."""
    security = security_for(session, user)
    previous = security.sessions_valid_after
    # The value must change for the sessions to end, even when two ends fall within one
    # microsecond or this server's clock is behind the one that ended them last.
    if previous is not None and now <= previous:
        now = previous + timedelta(microseconds=1)
    security.sessions_valid_after = now


def change_password(
    session: Session,
    user: User,
    *,
    current: str,
    new: str,
    confirm: str,
    now: datetime,
    passwords: Passwords,
) -> None:
    """Set a new password, given the current one, and end every session of the account."""
    if not passwords.verify(user.password_hash, current):
        raise InvalidInput({"password": NOT_YOUR_PASSWORD})
    _replace_password(session, user, new, confirm, now, passwords, field="new_password")


# ---- Second factor (TOTP) ----------------------------------------------------------------

TOTP_ISSUER = "Safer Streets Lewisham"


@dataclass(frozen=True)
class TotpEnrolment:
    """A new secret to add to an authenticator app, shown once."""

    secret: str
    uri: str
    qr_svg_data_uri: str


def has_second_factor(session: Session, user: User) -> bool:
    """True once the user has confirmed a TOTP authenticator."""
    security = session.get(UserSecurity, user.id)
    return bool(security and security.totp_confirmed_at and security.totp_secret)


def begin_totp_enrolment(
    session: Session, user: User, password: str, *, passwords: Passwords
) -> TotpEnrolment:
    """Start (or restart) enrolment with a fresh secret; the previous unconfirmed one dies.

    The password is asked again: whoever holds the secret can make sign-in codes, so a
    borrowed or stolen session must not be enough to see it.
    """
    if not passwords.verify(user.password_hash, password):
        raise InvalidInput({"password": NOT_YOUR_PASSWORD})
    security = security_for(session, user)
    if security.totp_confirmed_at is not None:
        raise NotAllowed("a second factor is already set up; remove it first to replace it")
    security.totp_secret = pyotp.random_base32()
    return _enrolment(user, security.totp_secret)


def enrolment_at_sign_in(session: Session, user: User) -> TotpEnrolment:
    """The secret for an account that must use two-step sign-in and has none yet, asked
    for straight after its password was checked.

    A secret already being set up is shown again rather than replaced, so that reloading
    the page does not void what the app has just scanned.
    """
    security = security_for(session, user)
    if security.totp_confirmed_at is not None:
        raise NotAllowed("a second factor is already set up")
    if not security.totp_secret:
        security.totp_secret = pyotp.random_base32()
    return _enrolment(user, security.totp_secret)


def set_up_authenticator(session: Session, user: User, now: datetime) -> str:
    """Give the account a confirmed authenticator secret, or return the one it has: for
    accounts an operator sets up (the demo logins), whose key is then handed over with the
    password rather than scanned at the first sign-in."""
    security = security_for(session, user)
    if security.totp_confirmed_at is None or not security.totp_secret:
        security.totp_secret = pyotp.random_base32()
        security.totp_confirmed_at = now
        security.totp_last_step = None
    return security.totp_secret


def _enrolment(user: User, secret: str) -> TotpEnrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2)
    return TotpEnrolment(secret, uri, qr)


def _accept_code(security: UserSecurity, code: str, now: datetime) -> bool:
    """Check a six-digit code within one step either side, never accepting a step twice."""
    code = "".join(code.split())
    if not security.totp_secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(security.totp_secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if security.totp_last_step is not None and step <= security.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            security.totp_last_step = step
            return True
    return False


def confirm_totp(session: Session, user: User, code: str, now: datetime) -> None:
    """Finish enrolment with a code from the new authenticator."""
    security = security_for(session, user)
    if security.totp_confirmed_at is not None:
        raise NotAllowed("a second factor is already set up")
    if not security.totp_secret:
        raise InvalidInput({"code": "start again: no authenticator is being set up"})
    if not _accept_code(security, code, now):
        raise InvalidInput({"code": "that code is not right: check the app and try again"})
    security.totp_confirmed_at = now


def verify_second_factor(session: Session, user: User, code: str, now: datetime) -> bool:
    """Check a sign-in code from the user's authenticator."""
    security = session.get(UserSecurity, user.id)
    if security is None or security.totp_confirmed_at is None:
        return False
    return _accept_code(security, code, now)


TWO_FACTOR_REQUIRED = (
    "Two-step sign-in is required for your account (administrators, police teams and teams "
    "handling sensitive reports), so it cannot be turned off."
)


def remove_second_factor(
    session: Session, user: User, password: str, *, passwords: Passwords, required: bool
) -> None:
    """Turn the second factor off; the password is asked again so a stolen session cannot.

    ``required`` says the account must use two-step sign-in (``two_factor.required_for``):
    it then stays on.
    """
    if required:
        raise NotAllowed(TWO_FACTOR_REQUIRED)
    if not passwords.verify(user.password_hash, password):
        raise InvalidInput({"password": NOT_YOUR_PASSWORD})
    security = security_for(session, user)
    security.totp_secret = None
    security.totp_confirmed_at = None
    security.totp_last_step = None


# ---- Passwords by email ------------------------------------------------------------------

LINK_EXPIRED = "This link has expired or has already been used. Ask for a new one."


def request_password_reset(session: Session, email: str, now: datetime) -> int | None:
    """Email a reset link if an active account has this email; the caller says the same
    thing either way, so the page does not reveal who has an account."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active:
        return None
    return outbox.account_link(session, user, outbox.Kind.PASSWORD_RESET, now)


def user_for_token(session: Session, token: str, secret_key: str) -> tuple[User, str]:
    """The user a reset or set-up link is for, and its purpose; ``NotFound`` when void."""
    for purpose, lifetime in outbox.TOKEN_PURPOSES.items():
        serializer = outbox.token_serializer(secret_key, purpose)
        try:
            payload = serializer.loads(token, max_age=int(lifetime.total_seconds()))
        except BadSignature:
            continue
        user = session.get(User, payload.get("user")) if isinstance(payload, dict) else None
        if (
            user is None
            or not user.active
            or payload.get("fingerprint") != outbox.password_fingerprint(user)
        ):
            break
        return user, purpose
    raise NotFound(LINK_EXPIRED)


def reset_password(
    session: Session,
    token: str,
    password: str,
    confirm: str,
    secret_key: str,
    now: datetime,
    *,
    passwords: Passwords,
) -> User:
    """Set a new password from an emailed link; the link then stops working."""
    user, _purpose = user_for_token(session, token, secret_key)
    _replace_password(session, user, password, confirm, now, passwords, field="password")
    return user


# ---- Partner admins manage their own partner's accounts ---------------------------------

GRANTABLE_ROLES = (Role.STAFF, Role.PARTNER_ADMIN)


def _require_manager(actor: User) -> None:
    if actor.role is Role.ADMIN:
        return
    if actor.role is not Role.PARTNER_ADMIN or actor.partner_id is None:
        raise NotAllowed("only a partner admin can manage accounts")


def managed_users(session: Session, actor: User) -> list[User]:
    """The accounts this actor manages: their partner's (an admin's: everyone's)."""
    _require_manager(actor)
    query = select(User).order_by(User.active.desc(), User.email)
    if actor.role is not Role.ADMIN:
        query = query.where(User.partner_id == actor.partner_id)
    return list(session.scalars(query))


def managed_user(session: Session, actor: User, user_id: int) -> User:
    """One account the actor manages, or ``NotFound``."""
    _require_manager(actor)
    user = session.get(User, user_id)
    if user is None or (actor.role is not Role.ADMIN and user.partner_id != actor.partner_id):
        raise NotFound("no such account in your team")
    return user


def invite_user(
    session: Session,
    actor: User,
    *,
    passwords: Passwords,
    email: str,
    name: str,
    role: str,
    now: datetime,
    partner_slug: str | None = None,
) -> User:
    """Create an account in the actor's partner; the new user sets a password by email."""
    _require_manager(actor)
    errors: dict[str, str] = {}
    if role not in {r.value for r in GRANTABLE_ROLES}:
        errors["role"] = "must be staff or partner admin"
    if actor.role is not Role.ADMIN:
        partner_slug = actor.partner.slug if actor.partner else None
    elif not partner_slug:
        errors["partner"] = "choose the partner the account belongs to"
    if errors:
        raise InvalidInput(errors)
    user = create_user(
        session,
        passwords=passwords,
        email=email,
        password=secrets.token_urlsafe(32),
        role=Role(role),
        partner_slug=partner_slug,
        name=name.strip()[:200],
    )
    outbox.account_link(session, user, outbox.Kind.ACCOUNT_SETUP, now)
    return user


def deactivate_user(session: Session, actor: User, user_id: int, now: datetime) -> User:
    """Stop an account signing in, and end its sessions; its history stays."""
    user = managed_user(session, actor, user_id)
    if user.id == actor.id:
        raise NotAllowed("you cannot deactivate your own account: ask another partner admin")
    user.active = False
    end_all_sessions(session, user, now)
    session.flush()
    return user


def set_case_detail(session: Session, actor: User, user_id: int, *, allowed: bool) -> User:
    """Allow a board account to see sensitive reports one by one (each view then logged), or
    withdraw it. Only administrators decide this; without it the board sees them in counts."""
    if actor.role is not Role.ADMIN:
        raise NotAllowed("only an administrator can allow case detail")
    user = managed_user(session, actor, user_id)
    if user.role is not Role.BOARD:
        raise NotAllowed(f"{user.email} is not a board account: case detail is for the board")
    if user.sees_case_detail != allowed:
        user.sees_case_detail = allowed
        session.flush()
        logger.info(
            "Case detail %s for %s by %s",
            "allowed" if allowed else "withdrawn",
            user.email,
            actor.email,
        )
    return user


def send_reset_link(session: Session, actor: User, user_id: int, now: datetime) -> User:
    """Email one of the actor's team a link to set a new password."""
    user = managed_user(session, actor, user_id)
    if not user.active:
        raise NotAllowed(f"{user.email} is deactivated")
    outbox.account_link(session, user, outbox.Kind.PASSWORD_RESET, now)
    return user


def _replace_password(
    session: Session,
    user: User,
    new: str,
    confirm: str,
    now: datetime,
    passwords: Passwords,
    *,
    field: str,
) -> None:
    """Check a new password (reported under ``field``), store it and end every session."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise InvalidInput({field: f"must be at least {MIN_PASSWORD_LENGTH} characters"})
    if new != confirm:
        raise InvalidInput({"confirm": "does not match the new password"})
    user.password_hash = passwords.hash(new)
    end_all_sessions(session, user, now)
    session.flush()
