"""Helpers shared by integration and browser tests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage as Message

import pyotp
import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse as Response

from safer_streets.accounts.passwords import Passwords
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Report, ReportEvent, ReportStatus, User, UserSecurity
from safer_streets.settings import Settings

PASSWORD = "correct horse battery"
# The smallest argon2 cost argon2 allows, for every Settings the tests make: they create
# accounts and sign in hundreds of times, and nothing they check depends on how slow a
# guess is. Production keeps argon2-cffi's defaults (tests/accounts/test_passwords.py).
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 8, "argon2_parallelism": 1}
# For accounts a test creates itself, outside the app: hashed as the test app hashes.
PASSWORDS = Passwords.for_settings(Settings(secret_key="test-secret-key", **CHEAP_ARGON2))
LIVE_TABLES = (
    "admin_change",
    "open311_send",
    "partner_send_method",
    "email_outbox",
    "user_security",
    "response_template",
    "partner_sla",
    "partner_preference",
    "alert_delivery",
    "alert_swept_report",
    "alert_subscription",
    "partner_action_report",
    "partner_action",
    "report_event",
    "report_notified_partner",
    "report",
    "api_client",
    "hotspot_cell",
    "hotspot_run",
    "published_summary",
    "police_crime",
)


def truncate_live_tables(engine: Engine) -> None:
    """Remove what a test with real commits left behind (the seed data stays)."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(LIVE_TABLES)} RESTART IDENTITY CASCADE"))
        # Users are deleted, not truncated: a cascade would also empty the routing rules'
        # history, whose seeded entries belong to the seed data.
        conn.execute(text("DELETE FROM routing_rule_change WHERE actor_id IS NOT NULL"))
        conn.execute(text("DELETE FROM app_user"))


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on a page, as a browser would submit it."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str) -> Response:
    """Sign in through the real login form, and the second step for accounts that must
    use one: setting the authenticator up the first time, a code from it after that."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return second_step(client, email, response)


def second_step(client: FlaskClient, email: str, response: Response) -> Response:
    """After a right password (``response``), set up the authenticator or give its code
    where the account must; the response that then signs the account in."""
    location = response.headers["Location"]
    if location.endswith("/login/enrol"):
        page = client.get("/login/enrol")
        secret = TOTP_SECRET.search(page.text)[1]
        token = CSRF_TOKEN.search(page.text)[1]
        response = client.post(
            "/login/enrol", data={"code": next_totp_code(email, secret), "csrf_token": token}
        )
        assert response.status_code == 303, response.text
    elif location.endswith("/login/code"):
        token = csrf_token(client, "/login/code")
        response = client.post(
            "/login/code", data={"code": _code(client, email), "csrf_token": token}
        )
        assert response.status_code == 303, response.text
    return response


def _code(client: FlaskClient, email: str) -> str:
    """A code the app accepts now for an account with an authenticator: never a step it has
    accepted already."""
    factory = client.application.extensions["safer_streets"].session_factory
    with factory() as session:
        user = session.scalars(select(User).where(User.email == email.lower())).one()
        security = session.get(UserSecurity, user.id)
        totp = pyotp.TOTP(security.totp_secret)
        current = totp.timecode(datetime.now(UTC))
        if security.totp_last_step is not None and security.totp_last_step > current:
            # Both steps the app accepts now (this one and the next) are spent. A person
            # would wait up to 30 s for a new code; suites that sign one account in many
            # times instead have the app forget the steps it accepted.
            security.totp_last_step = current - 1
            session.commit()
        last = security.totp_last_step
        step = current if last is None or last < current else last + 1
        return totp.generate_otp(step)


TOTP_SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# The last time step each account's code was made for: the app refuses a step it has
# accepted, as an authenticator app never shows one twice.
_LAST_TOTP_STEP: dict[tuple[str, str], int] = {}


def next_totp_code(email: str, secret: str) -> str:
    """A code the app accepts now for this account: the current step's or the next one's,
    never one already used, waiting for a new step when both are spent.

    The current step and the next are accepted by the app however the clock turns between
    here and the app's check; the previous one might not be.
    """
    totp = pyotp.TOTP(secret)
    key = (email.lower(), secret)
    while True:
        current = totp.timecode(datetime.now(UTC))
        last = _LAST_TOTP_STEP.get(key, current - 1)
        step = max(current, last + 1)
        if step <= current + 1:
            _LAST_TOTP_STEP[key] = step
            return totp.generate_otp(step)
        time.sleep(1)


def sign_in_page(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in on the login form a browser is showing, and the second step where the
    account must use one (setting the authenticator up the first time)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if "/login/enrol" in page.url:
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(next_totp_code(email, secret))
        page.get_by_role("button", name="Turn on and continue").click()
        page.wait_for_load_state()
        _BROWSER_SECRETS[email.lower()] = secret
    elif "/login/code" in page.url:
        secret = _BROWSER_SECRETS[email.lower()]
        page.get_by_label("Code").fill(next_totp_code(email, secret))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()


# Secrets the browser was shown when setting the app up, for its later sign-ins.
_BROWSER_SECRETS: dict[str, str] = {}


def wait_for_status(engine: Engine, reference: str, status: ReportStatus, timeout: float = 15):
    """Poll the database until the report reaches ``status``."""
    factory = make_session_factory(engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(factory) as session:
            report = session.scalars(select(Report).where(Report.reference == reference)).one()
            if report.status is status:
                return report
        time.sleep(0.1)
    pytest.fail(f"{reference} did not reach {status} within {timeout}s")


def routed_events(engine: Engine, reference: str) -> int:
    with session_scope(make_session_factory(engine)) as session:
        return session.scalar(
            select(func.count())
            .select_from(ReportEvent)
            .join(Report)
            .where(Report.reference == reference, ReportEvent.kind == "routed")
        )


class Mailbox:
    """A real SMTP server on localhost that keeps every message it receives."""

    def __init__(self, host: str, port: int) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=host, port=port)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def to(self, address: str) -> list[Message]:
        """Messages received so far for one address."""
        with self._lock:
            return [m for m in self.messages if address in m["To"]]

    def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 15, count: int = 1
    ) -> list[Message]:
        """Wait until ``count`` messages match, then return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if predicate(m)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        pytest.fail(f"expected {count} matching email(s) within {timeout}s, got {len(found)}")


def body_of(message: Message) -> str:
    """The plain-text body of an email."""
    return message.get_body(("plain",)).get_content()
