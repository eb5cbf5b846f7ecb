"""Sessions end on the server: a session cookie copied before signing out, a password change,
a password reset or a deactivation opens nothing afterwards, on any device."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.models import EmailOutbox, Role, User
from safer_streets.notifications import outbox
from tests.helpers import PASSWORD, PASSWORDS, body_of, login

NEW_PASSWORD = "a much longer new password"


def make(session, email: str, role: Role = Role.STAFF, partner="met-snt-rushey-green") -> User:
    user = users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    session.flush()
    return user


def captured(client: FlaskClient) -> str:
    """The session cookie as someone copying it (from a shared computer, a proxy log or a
    stolen laptop) would have it."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str) -> FlaskClient:
    """Another browser presenting a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def refused(thief: FlaskClient) -> bool:
    """The copied cookie opens neither the queue nor the account page."""
    queue = thief.get("/triage")
    account = thief.get("/account")
    return (
        queue.status_code == 302
        and queue.headers["Location"].startswith("/login")
        and account.status_code == 302
    )


def test_a_cookie_copied_before_signing_out_is_refused(app, client, db_session):
    make(db_session, "sgt@rg.example")
    login(client, "sgt@rg.example")
    cookie = captured(client)
    assert replay(app, cookie).get("/triage").status_code == 200, "the copy works until then"

    other_device = app.test_client()
    login(other_device, "sgt@rg.example")
    assert client.post("/logout").status_code == 303

    thief = replay(app, cookie)
    assert refused(thief)
    ended = thief.get("/triage", follow_redirects=True)
    assert "this account signed out, or its password was changed" in ended.text
    assert other_device.get("/triage").status_code == 302, "signing out ends every session"
    login(client, "sgt@rg.example")
    assert client.get("/triage").status_code == 200, "signing in again works at once"
    assert refused(replay(app, cookie))


def test_a_cookie_copied_before_a_password_change_is_refused(app, client, db_session):
    user = make(db_session, "sgt@rg.example")
    login(client, user.email)
    cookie = captured(client)

    wrong = client.post(
        "/account/password",
        data={"password": "not it at all", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "not your password" in wrong.text
    short = client.post(
        "/account/password",
        data={"password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert short.status_code == 422 and "at least 10 characters" in short.text
    assert client.get("/triage").status_code == 200, "a refused change ends nothing"
    assert replay(app, cookie).get("/triage").status_code == 200

    changed = client.post(
        "/account/password",
        data={"password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert refused(replay(app, cookie))
    assert client.get("/triage").status_code == 200, "the browser that changed it stays in"
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    )
    assert (
        client.post("/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code
        == 303
    )


def test_a_cookie_copied_before_a_password_reset_is_refused(app, client, db_session, settings):
    user = make(db_session, "sgt@rg.example")
    login(client, user.email)
    cookie = captured(client)

    app.test_client().post("/password/forgot", data={"email": user.email})
    email = db_session.scalars(
        select(EmailOutbox).where(EmailOutbox.kind == "password-reset")
    ).one()
    link = re.search(
        r"http://safer-streets\.test(/password/reset/\S+)",
        body_of(outbox.compose(db_session, email, settings)),
    )[1]
    assert replay(app, cookie).get("/triage").status_code == 200
    done = app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303

    assert refused(replay(app, cookie))
    assert refused(client)


@pytest.mark.parametrize("by", [Role.PARTNER_ADMIN, Role.ADMIN])
def test_a_cookie_copied_before_the_account_is_deactivated_is_refused(app, client, db_session, by):
    member = make(db_session, "officer@rg.example")
    make(db_session, "lead@rg.example", by, "met-snt-rushey-green")
    member_device = app.test_client()
    login(member_device, member.email)
    cookie = captured(member_device)

    login(client, "lead@rg.example")
    assert client.post(f"/triage/team/users/{member.id}/deactivate").status_code == 303

    assert refused(replay(app, cookie))
    assert refused(member_device)


def test_a_sign_in_waiting_for_its_code_ends_with_a_password_reset(app, client, db_session):
    user = make(db_session, "sgt@rg.example")
    login(client, user.email)  # a police account: it sets its authenticator up now
    totp = pyotp.TOTP(users.security_for(db_session, user).totp_secret)
    client.post("/logout")

    step_one = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert step_one.headers["Location"].endswith("/login/code")
    users.end_all_sessions(db_session, user, datetime.now(UTC))  # e.g. a reset meanwhile
    db_session.flush()
    next_code = totp.at(datetime.now(UTC).timestamp() + 30)
    void = client.post("/login/code", data={"code": next_code})
    assert void.status_code == 303 and void.headers["Location"].endswith("/login")
    assert client.get("/triage").status_code == 302


def test_ending_sessions_always_changes_what_a_session_must_carry(db_session):
    user = make(db_session, "sgt@rg.example")
    assert users.session_generation(db_session, user) is None
    now = datetime.now(UTC)
    users.end_all_sessions(db_session, user, now)
    first = users.session_generation(db_session, user)
    # A second end within the same microsecond, or from a server whose clock is behind.
    users.end_all_sessions(db_session, user, now - timedelta(seconds=5))
    db_session.flush()
    db_session.expire_all()
    second = users.session_generation(db_session, user)
    assert first is not None and second is not None and second != first
