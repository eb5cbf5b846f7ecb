"""Accounts: sessions that expire, password reset by email, a second factor, partner admins
managing their own team, and sign-in throttling."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.accounts.passwords import Passwords
from safer_streets.models import EmailOutbox, Role, User
from safer_streets.notifications import outbox
from safer_streets.settings import Settings
from tests.helpers import PASSWORD, PASSWORDS, body_of, csrf_token, login, second_step

NEW_PASSWORD = "a much longer new password"


@pytest.fixture
def strict_app(app_with, redis_client):
    """The app with the production sign-in limits, and a clean count of attempts."""
    app = app_with(
        login_limit_per_account=Settings.login_limit_per_account,
        login_limit_per_address=Settings.login_limit_per_address,
    )
    redis_client.flushdb()
    yield app
    redis_client.flushdb()


def from_address(app, address: str):
    """A client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def make(session, email, partner="met-snt-rushey-green", role=Role.STAFF) -> User:
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


def test_a_password_hashed_at_another_cost_signs_in_and_takes_the_configured_cost(
    client, db_session
):
    # Hashed at the production cost; the test app hashes at the cheapest (tests/helpers.py).
    production = Passwords.for_settings(Settings(secret_key="x"))
    user = users.create_user(
        db_session,
        passwords=production,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="met-snt-rushey-green",
    )
    db_session.flush()
    made_in_production = user.password_hash

    wrong = client.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert wrong.status_code == 401
    db_session.refresh(user)
    assert user.password_hash == made_in_production  # only a right password is re-hashed

    login(client, user.email)
    db_session.refresh(user)
    assert user.password_hash != made_in_production
    assert not PASSWORDS.needs_rehash(user.password_hash)
    assert production.needs_rehash(user.password_hash)
    client.post("/logout")
    login(client, user.email)


def test_a_session_ends_after_idle_time_and_after_its_absolute_lifetime(client, db_session):
    make(db_session, "sgt@rg.example")
    login(client, "sgt@rg.example")
    assert client.get("/triage").status_code == 200
    with client.session_transaction() as cookie:
        cookie["seen_at"] -= 31 * 60
    idle = client.get("/triage", follow_redirects=True)
    assert "signed out after 30 minutes without activity" in idle.text
    assert "Partner sign in" in idle.text

    login(client, "sgt@rg.example")
    with client.session_transaction() as cookie:
        cookie["signed_in_at"] -= 9 * 3600
    expired = client.get("/triage", follow_redirects=True)
    assert "sign-ins last 8 hours" in expired.text


def test_password_reset_by_email_is_single_use_and_says_the_same_for_unknown_emails(
    client, app, db_session, settings
):
    user = make(db_session, "sgt@rg.example")
    other_device = app.test_client()
    login(other_device, user.email)

    known = client.post("/password/forgot", data={"email": "SGT@rg.example"})
    unknown = client.post("/password/forgot", data={"email": "nobody@rg.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    emails = db_session.scalars(select(EmailOutbox).where(EmailOutbox.kind == "password-reset"))
    (email,) = emails.all()
    assert email.recipient == user.email

    message = outbox.compose(db_session, email, settings)
    link = re.search(r"http://safer-streets\.test(/password/reset/\S+)", body_of(message))[1]
    assert "within 1 hour" in body_of(message)
    assert client.get(link).status_code == 200
    mismatch = client.post(link, data={"password": NEW_PASSWORD, "confirm": "different"})
    assert mismatch.status_code == 422 and "does not match" in mismatch.text
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303

    again = client.get(link)
    assert again.status_code == 404 and "already been used" in again.text
    assert other_device.get("/triage").status_code == 302, "other sessions are ended"
    response = client.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert response.status_code == 303


def test_an_expired_reset_link_is_refused(client, db_session, settings):
    user = make(db_session, "sgt@rg.example")

    class TwoHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 7200

    serializer = URLSafeTimedSerializer(
        settings.secret_key, salt="safer-streets:password-reset", signer=TwoHoursAgo
    )
    token = serializer.dumps({"user": user.id, "fingerprint": outbox.password_fingerprint(user)})
    response = client.get(f"/password/reset/{token}")
    assert response.status_code == 404
    assert "expired" in response.text


def test_second_factor_enrolment_and_sign_in(client, db_session):
    # Highways staff may choose it; police teams must use it (test_two_factor_policy.py).
    make(db_session, "sgt@rg.example", partner="lewisham-highways")
    login(client, "sgt@rg.example")
    for password in ("", "not my password"):
        refused = client.post("/account/two-factor/start", data={"password": password})
        assert refused.status_code == 422 and "not your password" in refused.text
        assert "totp-secret" not in refused.text, "no secret without the password"
    page = client.post("/account/two-factor/start", data={"password": PASSWORD})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)[1]
    assert "data:image/svg+xml" in page.text
    assert page.headers["Cache-Control"] == "no-store", "the secret is never cached"
    totp = pyotp.TOTP(secret)
    wrong = client.post("/account/two-factor/confirm", data={"code": "000000"})
    assert wrong.status_code == 422 and "not right" in wrong.text
    assert client.post("/account/two-factor/confirm", data={"code": totp.now()}).status_code == 303
    client.post("/logout")

    step_one = client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    assert step_one.headers["Location"].endswith("/login/code")
    assert client.get("/triage").status_code == 302, "not signed in before the code"
    assert client.post("/login/code", data={"code": "123456"}).status_code == 401
    next_code = totp.at(datetime.now(UTC).timestamp() + 30)
    assert client.post("/login/code", data={"code": next_code}).status_code == 303
    assert client.get("/triage").status_code == 200

    client.post("/logout")
    client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    replay = client.post("/login/code", data={"code": next_code})
    assert replay.status_code == 401, "a code works once"


def test_partner_admins_manage_their_own_team_and_nobody_elses(client, app, db_session):
    make(db_session, "lead@asb.example", "lewisham-asb", Role.PARTNER_ADMIN)
    colleague = make(db_session, "officer@asb.example", "lewisham-asb")
    outsider = make(db_session, "sgt@rg.example")
    colleague_device = app.test_client()
    login(colleague_device, colleague.email)
    login(client, "lead@asb.example")

    team = client.get("/triage/team")
    assert colleague.email in team.text and outsider.email not in team.text
    invited = client.post(
        "/triage/team/users", data={"email": "new@asb.example", "name": "New", "role": "staff"}
    )
    assert invited.status_code == 303
    new_user = db_session.scalar(select(User).where(User.email == "new@asb.example"))
    assert new_user.partner.slug == "lewisham-asb" and new_user.role is Role.STAFF
    setup = db_session.scalar(select(EmailOutbox).where(EmailOutbox.user_id == new_user.id))
    assert setup.kind == "account-setup"
    board = client.post("/triage/team/users", data={"email": "b@asb.example", "role": "board"})
    assert board.status_code == 422 and "must be staff or partner admin" in board.text

    assert client.post(f"/triage/team/users/{outsider.id}/deactivate").status_code == 404
    assert client.post(f"/triage/team/users/{outsider.id}/reset").status_code == 404
    assert client.post(f"/triage/team/users/{colleague.id}/deactivate").status_code == 303
    assert colleague_device.get("/triage").status_code == 302, "their session ended"
    response = colleague_device.post(
        "/login", data={"email": colleague.email, "password": PASSWORD}
    )
    assert response.status_code == 401

    client.post("/logout")
    login(client, outsider.email)
    assert client.get("/triage/team").status_code == 403


def test_a_guesser_cannot_lock_the_owner_out_but_its_address_is_slowed(strict_app, db_session):
    make(db_session, "target@rg.example")
    attacker = from_address(strict_app, "192.0.2.10")
    for _ in range(5):
        wrong = attacker.post("/login", data={"email": "target@rg.example", "password": "guess"})
        assert wrong.status_code == 401
    blocked = attacker.post("/login", data={"email": "target@rg.example", "password": "guess"})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert "Too many failed sign-in attempts" in blocked.text
    right = attacker.post("/login", data={"email": "target@rg.example", "password": PASSWORD})
    assert right.status_code == 429, "a right guess from the guessing address is not even tried"

    owner = from_address(strict_app, "192.0.2.11")
    signed_in = owner.post("/login", data={"email": "TARGET@rg.example", "password": PASSWORD})
    assert signed_in.status_code == 303, "the owner signs in from elsewhere"
    second_step(owner, "target@rg.example", signed_in)
    assert owner.get("/triage").status_code == 200


def test_a_guesser_spreading_over_accounts_is_slowed_at_its_address(strict_app, db_session):
    make(db_session, "victim@rg.example")
    attacker = from_address(strict_app, "192.0.2.12")
    for n in range(20):
        guess = {"email": f"staff{n}@rg.example", "password": "guess"}
        assert attacker.post("/login", data=guess).status_code == 401
    refused = attacker.post("/login", data={"email": "victim@rg.example", "password": PASSWORD})
    assert refused.status_code == 429
    owner = from_address(strict_app, "192.0.2.13")
    assert (
        owner.post("/login", data={"email": "victim@rg.example", "password": PASSWORD})
    ).status_code == 303


def test_wrong_passwords_on_the_account_page_count_against_the_limits(strict_app, db_session):
    make(db_session, "sgt@rg.example")
    holder = from_address(strict_app, "192.0.2.14")
    login(holder, "sgt@rg.example")
    for _ in range(5):
        wrong = holder.post("/account/two-factor/start", data={"password": "guess"})
        assert wrong.status_code == 422 and "not your password" in wrong.text
        assert "totp-secret" not in wrong.text
    refused = holder.post("/account/password", data={"password": PASSWORD})
    assert refused.status_code == 429, "a stolen session cannot be used to guess the password"


def test_sign_in_is_throttled_per_address_but_successes_do_not_count(strict_app, db_session):
    make(db_session, "busy@rg.example")
    office = from_address(strict_app, "192.0.2.20")
    for _ in range(21):
        assert (
            office.post("/login", data={"email": "busy@rg.example", "password": PASSWORD})
        ).status_code == 303
    for n in range(20):
        response = office.post("/login", data={"email": f"guess{n}@rg.example", "password": "x"})
        assert response.status_code == 401
    assert (
        office.post("/login", data={"email": "guess99@rg.example", "password": "x"})
    ).status_code == 429


def test_forms_without_a_csrf_token_are_refused(app, db_session, routed_report):
    report = routed_report(db_session)
    make(db_session, "sgt@rg.example")
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"email": "sgt@rg.example", "password": PASSWORD, "csrf_token": token}
    )
    forged = client.post(f"/triage/reports/{report.reference}/inspect", data={})
    assert forged.status_code == 400
    assert "The form expired" in forged.text


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:x"]
)
def test_sign_in_only_redirects_within_the_site(client, db_session, target):
    make(db_session, "sgt@rg.example")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "sgt@rg.example", "password": PASSWORD},
    )
    response = second_step(client, "sgt@rg.example", response)
    assert response.headers["Location"] == "/triage"


def test_an_administrator_allows_and_withdraws_case_detail_for_a_board_account(
    client, app, db_session, routed_report
):
    harassment = routed_report(db_session, category="harassment")
    make(db_session, "admin@example.org", None, Role.ADMIN)
    member = make(db_session, "member@board.example", None, Role.BOARD)
    officer = make(db_session, "officer@asb.example", "lewisham-asb")
    lead = make(db_session, "lead@asb.example", "lewisham-asb", Role.PARTNER_ADMIN)
    board_device = app.test_client()
    login(board_device, member.email)
    page = f"/triage/reports/{harassment.reference}"
    assert board_device.get(page).status_code == 404

    login(client, "admin@example.org")
    assert "Allow case detail" in client.get("/triage/team").text
    allowed = client.post(f"/triage/team/users/{member.id}/case-detail", data={"allowed": "yes"})
    assert allowed.status_code == 303
    assert "Withdraw case detail" in client.get("/triage/team").text
    assert board_device.get(page).status_code == 200

    client.post(f"/triage/team/users/{member.id}/case-detail", data={"allowed": "no"})
    assert board_device.get(page).status_code == 404
    not_board = client.post(f"/triage/team/users/{officer.id}/case-detail", data={"allowed": "yes"})
    assert not_board.status_code == 403 and not officer.sees_case_detail

    client.post("/logout")
    login(client, lead.email)
    refused = client.post(f"/triage/team/users/{member.id}/case-detail", data={"allowed": "yes"})
    assert refused.status_code == 403 and not member.sees_case_detail
