"""Helpers shared by integration and browser tests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage as Message

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from safer_streets.accounts.passwords import Passwords
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Report, ReportEvent, ReportStatus
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


def login(client: FlaskClient, email: str) -> None:
    """Sign in through the real login form."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text


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
