"""A partner whose case system speaks Open311 has its reports posted there and its progress
read back. The partner's system here is a second Safer Streets, from the project's own app
factory on a database of its own, served over HTTP on a local port: the real worker posts the
report to it, staff there move it along their own workflow, and the update read brings that
progress into our report's history, status and tracking page."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from geo.wards import WardIndex
from safer_streets import migrate
from safer_streets.accounts import users
from safer_streets.admin_console import send_methods
from safer_streets.api import keys
from safer_streets.casework import workflow
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.intake import submission
from safer_streets.models import (
    Open311Send,
    Report,
    ReportAccess,
    ReportEvent,
    ReportStatus,
    Role,
    User,
)
from safer_streets.open311 import outbound
from safer_streets.places import Places
from safer_streets.routing import processing
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from tests.conftest import CATFORD_BROADWAY, SERVER_URL, TEST_DATABASE
from tests.helpers import PASSWORD, PASSWORDS, wait_for_status
from workers import tasks

pytestmark = pytest.mark.worker

PARTNER_DATABASE = f"{TEST_DATABASE}_partner_system"
SNT = "met-snt-rushey-green"


@dataclass(frozen=True)
class PartnerSystem:
    """The partner's own Safer Streets: its database, its Open311 address and our key there."""

    engine: Engine
    endpoint: str
    api_key: str


@pytest.fixture(scope="module")
def partner_system(settings: Settings, engine: Engine) -> Iterator[PartnerSystem]:
    """A second Safer Streets on its own database, served on a free local port."""
    admin = create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PARTNER_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PARTNER_DATABASE}"'))
    url = f"{SERVER_URL}/{PARTNER_DATABASE}"
    migrate.upgrade(url)
    partner_engine = make_engine(url)
    with session_scope(make_session_factory(partner_engine)) as session:
        seed.load_reference_data(session)
        key = keys.create_client(
            session, name="Safer Streets Lewisham", partner_slug=None, actor=None
        ).key
    # Its own queue name: nothing here consumes it, so its routing is done by the test.
    app: Flask = create_app(
        replace(
            settings,
            database_url=url,
            celery_queue="safer-streets-partner-system-test",
            base_url="http://partner-system.test",
        )
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield PartnerSystem(partner_engine, f"http://127.0.0.1:{server.server_port}/open311/v2", key)
    server.shutdown()
    thread.join()
    app.extensions["safer_streets"].dispose()
    partner_engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PARTNER_DATABASE}" WITH (FORCE)'))
    admin.dispose()


def _wait_until_sent(engine: Engine, report_id: int, timeout: float = 20) -> Open311Send:
    factory = make_session_factory(engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(factory) as session:
            row = session.scalar(select(Open311Send).where(Open311Send.report_id == report_id))
            if row is not None and row.sent_at is not None:
                session.expunge(row)
                return row
        time.sleep(0.1)
    pytest.fail(f"report {report_id} was not posted within {timeout}s")


def _send_by_open311(session: Session, admin: User, partner_system: PartnerSystem) -> None:
    """The SNT's send method, set by an admin: posts to the partner's system."""
    send_methods.set_send_method(
        session,
        session.get(User, admin.id),
        SNT,
        {
            "send_method": "open311",
            "endpoint": partner_system.endpoint,
            "api_key": partner_system.api_key,
            "jurisdiction_id": "lewisham.gov.uk",
            "send_why": "The SNT works its cases in its own system now",
        },
        datetime.now(UTC),
    )


def _move_there(session: Session, staff: User, report: Report, status: ReportStatus, note: str):
    workflow.change_status(
        session, staff, report, status, note=note, public=True, now=datetime.now(UTC)
    )


def test_a_report_routed_to_an_open311_partner_reaches_its_case_system_and_its_progress_comes_back(
    live_app, worker, engine, make_user, partner_system, ward_index: WardIndex
):
    factory = make_session_factory(engine)
    admin = make_user("admin@lewisham.example", None, Role.ADMIN)
    with session_scope(factory) as session:
        _send_by_open311(session, admin, partner_system)
        report, _ = submission.submit_report(
            session,
            submission.parse_submission(
                {
                    "category": "drug-dealing",
                    "lat": CATFORD_BROADWAY[0],
                    "lon": CATFORD_BROADWAY[1],
                    "description": "Dealing by the bus stop every evening",
                    "contact_email": "resident@example.org",
                    "anonymous": False,
                }
            ),
            places=Places.default(),
        )
        report_id, reference = report.id, report.reference
    live_app.extensions["safer_streets"].task_queue.process_report(report_id)
    wait_for_status(engine, reference, ReportStatus.ROUTED)

    # The worker posts it to the partner's system, which now holds it as an Open311 request.
    sent = _wait_until_sent(engine, report_id)
    assert sent.service_request_id
    partner_factory = make_session_factory(partner_system.engine)
    with session_scope(partner_factory) as session:
        theirs = session.scalar(select(Report).where(Report.reference == sent.service_request_id))
        assert theirs is not None
        assert theirs.source == "open311"
        assert theirs.category.slug == "drug-dealing"
        assert f"Safer Streets reference: {reference}" in theirs.description
        assert "Dealing by the bus stop every evening" in theirs.description
        # The reporter's contact details never leave for another system.
        assert theirs.contact_email is None
        # Its own routing, then its own staff moving it along its own workflow.
        processing.process_reports(session, [theirs.id], ward_index, Places.default())
        staff = users.create_user(
            session,
            passwords=PASSWORDS,
            email="sergeant@met.example",
            password=PASSWORD,
            role=Role.STAFF,
            partner_slug=SNT,
        )
        session.refresh(theirs)
        _move_there(session, staff, theirs, ReportStatus.ACKNOWLEDGED, "Officers are on it.")
        _move_there(session, staff, theirs, ReportStatus.RESOLVED, "Dispersal order in place.")

    with session_scope(factory) as session:
        # Drug dealing is not a sensitive category: its post is not an access-logged view.
        assert (
            session.scalar(select(ReportAccess.id).where(ReportAccess.report_id == report_id))
            is None
        )
        history = [
            e.kind
            for e in session.scalars(select(ReportEvent).where(ReportEvent.report_id == report_id))
        ]
        assert "sent_to_case_system" in history

    assert tasks.read_case_system_updates() >= 2
    mine = wait_for_status(engine, reference, ReportStatus.RESOLVED)
    assert mine.acknowledged_at is not None
    tracking = live_app.test_client().get(f"/track/{reference}")
    assert "Officers are on it." in tracking.text
    assert "Dispersal order in place." in tracking.text

    # Reading again applies nothing twice.
    assert tasks.read_case_system_updates() == 0
    with session_scope(factory) as session:
        notes = session.scalars(
            select(ReportEvent.note).where(
                ReportEvent.report_id == report_id,
                ReportEvent.note == "Dispersal order in place.",
            )
        ).all()
        assert len(notes) == 1


def test_a_post_whose_answer_was_lost_here_is_not_made_twice_in_the_case_system(
    engine, make_user, partner_system, routed_report
):
    factory = make_session_factory(engine)
    admin = make_user("admin2@lewisham.example", None, Role.ADMIN)
    with session_scope(factory) as session:
        _send_by_open311(session, admin, partner_system)
    with session_scope(factory) as session:
        report = routed_report(session, description="Dealing from a parked car at night")
        outbound.queue_unsent(session, report_ids=[report.id])
        reference = report.reference
        row_id = session.scalar(select(Open311Send.id).where(Open311Send.report_id == report.id))
    client_for = outbound.client_factory(5.0)

    # The case system takes the post, but this side never commits that it went (a crash,
    # a lost connection to the database): the row is still unsent, so it is posted again.
    with factory() as session:
        assert outbound.send(session, row_id, client_for, datetime.now(UTC))
        first = session.get(Open311Send, row_id).service_request_id
        session.rollback()
    with session_scope(factory) as session:
        assert session.get(Open311Send, row_id).sent_at is None
        assert outbound.send(session, row_id, client_for, datetime.now(UTC))
        again = session.get(Open311Send, row_id).service_request_id

    assert again == first
    with session_scope(make_session_factory(partner_system.engine)) as session:
        theirs = session.scalars(
            select(Report.reference).where(Report.description.contains(reference))
        ).all()
    assert theirs == [first], "one request in the case system, not two"
