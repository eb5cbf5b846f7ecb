"""A real Celery worker on the test Redis, processing against the test database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from safer_streets import accounts
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Role, User
from safer_streets.settings import Settings
from safer_streets.tasks_queue import make_celery
from workers import tasks

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def celery_app(settings: Settings, engine: Engine) -> Iterator[Celery]:
    """The worker's Celery app, with tasks pointed at the test database."""
    context = tasks.configure(settings)
    yield make_celery(settings, include=("workers.tasks",))
    context.session_factory.kw["bind"].dispose()


@pytest.fixture
def worker(celery_app: Celery, live_app: Flask) -> Iterator[None]:
    """A real worker consuming the test queue for the duration of one test."""
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        yield


@pytest.fixture
def make_user(engine: Engine) -> Callable[..., User]:
    """Create and commit an account (works with both database fixtures' clean-up)."""

    def make(email: str, partner_slug: str | None, role: Role = Role.STAFF) -> User:
        with session_scope(make_session_factory(engine)) as session:
            return accounts.create_user(
                session, email=email, password=PASSWORD, role=role, partner_slug=partner_slug
            )

    return make


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
