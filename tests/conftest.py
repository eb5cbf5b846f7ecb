"""Shared fixtures: a real PostGIS database migrated once, Redis, and the Flask app.

Two ways to use the database:
- ``db_session``: one transaction per test, rolled back afterwards (app code may commit;
  commits become savepoints). Fast; most tests use it.
- ``live_app``: real commits, for tests where a Celery worker or a browser must see the data.
  Rows are removed after each such test.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from geo.wards import WardIndex
from safer_streets import migrate
from safer_streets.accounts import users
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.intake import submission
from safer_streets.models import Report, Role, User
from safer_streets.places import Places, load_ward_index
from safer_streets.routing import processing
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from tests.helpers import CHEAP_ARGON2, PASSWORD, PASSWORDS, Mailbox, truncate_live_tables
from workers import tasks
from workers.queue import make_celery

SERVER_URL = os.environ.get(
    "SAFER_STREETS_TEST_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
# Under pytest-xdist each worker process (gw0, gw1, ...) gets a database and a Redis database of
# its own, so the processes never see each other's rows, queues or rate-limit counters.
XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
TEST_DATABASE = os.environ.get("SAFER_STREETS_TEST_DATABASE", "safer_streets_test") + (
    f"_{XDIST_WORKER}" if XDIST_WORKER else ""
)
_REDIS_SERVER, _REDIS_DB = os.environ.get(
    "SAFER_STREETS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"
).rsplit("/", 1)
TEST_REDIS_URL = f"{_REDIS_SERVER}/{int(_REDIS_DB) - XDIST_WORKER}"
CATFORD_BROADWAY = (51.4452, -0.0207)  # lat, lon: Rushey Green ward, inside Catford town centre
# The tests name every setting they use. The .env that set-up writes for a developer's own
# system must not reach them: not the settings, not the CLI they invoke (Flask's CLI would load
# it into the environment), not the worker processes they start, which inherit this.
os.environ["FLASK_SKIP_DOTENV"] = "1"


# A test that reaches any of these needs PostgreSQL (with PostGIS) and Redis: it is marked
# `integration`, so `pytest -m "not integration"` runs just the tests that need no services.
SERVICE_FIXTURES = frozenset({"engine", "redis_client", "celery_app"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need services, whichever folder they live in."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


class InternetRefused(ConnectionRefusedError):
    """A test tried to reach a host other than this machine."""


def _on_this_machine(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # Unix sockets
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving and reaching it is the internet


@pytest.fixture(scope="session", autouse=True)
def no_internet() -> Iterator[None]:
    """Nothing in the tests talks to the internet: connections off this machine fail."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if not _on_this_machine(address):
            raise InternetRefused(f"tests may not connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _on_this_machine(address):
            raise InternetRefused(f"tests may not connect to {address!r}")
        return real_connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def smtp_port() -> int:
    """A free local port for the test SMTP server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def settings(smtp_port: int) -> Settings:
    """Settings for a private test database, Redis database, queue name and SMTP server."""
    return Settings(
        secret_key="test-secret-key",
        database_url=f"{SERVER_URL}/{TEST_DATABASE}",
        redis_url=TEST_REDIS_URL,
        celery_queue="safer-streets-test",
        sweep_after_seconds=0,
        smtp_port=smtp_port,
        base_url="http://safer-streets.test",
        # Tests of rate limiting set their own; the rest must never trip over each other's.
        api_write_rate_limit="100000 per minute",
        api_read_rate_limit="100000 per minute",
        submission_rate_limit="100000 per minute",
        area_rate_limit="100000 per minute",
        lookup_rate_limit="100000 per minute",
        login_limit_per_account="100000 per minute",
        login_limit_per_address="100000 per minute",
        pseudo_locale=True,
        **CHEAP_ARGON2,
    )


@pytest.fixture(scope="session")
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on localhost; tests read what arrived."""
    box = Mailbox("127.0.0.1", smtp_port)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """A fresh test database with the schema from the migrations and the Lewisham seed."""
    admin = create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{TEST_DATABASE}"'))
    admin.dispose()
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        seed.load_reference_data(session)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """The test Redis database, emptied before and after the run."""
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    transaction.rollback()
    connection.close()


@pytest.fixture
def app_with(
    settings: Settings, db_session: Session, redis_client: redis.Redis
) -> Callable[..., Flask]:
    """Apps on the rolled-back test transaction, with the given settings changed."""
    factory = sessionmaker(
        bind=db_session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )

    def make(**changes: Any) -> Flask:
        app = create_app(replace(settings, **changes), session_factory=factory)
        app.config["WTF_CSRF_ENABLED"] = False
        return app

    return make


@pytest.fixture
def app(app_with: Callable[..., Flask]) -> Flask:
    """The app on the rolled-back test transaction."""
    return app_with()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture(autouse=True, scope="module")
def collect_garbage_after_each_module() -> Iterator[None]:
    """A connection left open is reported by psycopg only when the garbage collector finds it,
    inside whatever runs then: collecting at the end of each module makes a leak fail the
    module that made it, every run."""
    yield
    gc.collect()


@pytest.fixture
def live_app(settings: Settings, engine: Engine, redis_client: redis.Redis) -> Iterator[Flask]:
    """The app on real, committed transactions; report and user rows are removed after."""
    app = create_app(settings)
    yield app
    app.extensions["safer_streets"].dispose()
    truncate_live_tables(engine)
    redis_client.flushdb()


@pytest.fixture(scope="session")
def celery_app(settings: Settings, engine: Engine, mailbox: Mailbox) -> Iterator[Celery]:
    """The worker's Celery app, with tasks pointed at the test database and SMTP server."""
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

    def make(email: str, partner_slug: str | None, role: Role = Role.STAFF, name: str = "") -> User:
        with session_scope(make_session_factory(engine)) as session:
            return users.create_user(
                session,
                passwords=PASSWORDS,
                email=email,
                password=PASSWORD,
                role=role,
                partner_slug=partner_slug,
                name=name,
            )

    return make


@pytest.fixture(scope="session")
def ward_index() -> WardIndex:
    """The shipped Lewisham wards, as the worker holds them."""
    return WardIndex.from_geojson()


@pytest.fixture
def places() -> Places:
    """The shipped place data with the offline geocoder."""
    return Places.default()


@pytest.fixture
def wards(db_session: Session) -> WardIndex:
    """The active wards as stored in the test database."""
    return load_ward_index(db_session)


@pytest.fixture
def routed_report(ward_index: WardIndex) -> Callable[..., Report]:
    """Submit and route a report in the given session, as the intake and the worker would."""

    def make(session: Session, **fields: object) -> Report:
        values = {
            "category": "drug-dealing",
            "lat": CATFORD_BROADWAY[0],
            "lon": CATFORD_BROADWAY[1],
            "description": "Dealing outside the shops",
            **fields,
        }
        places = Places.default()
        report, _ = submission.submit_report(
            session, submission.parse_submission(values), places=places
        )
        processing.process_reports(session, [report.id], ward_index, places)
        session.refresh(report)
        return report

    return make
