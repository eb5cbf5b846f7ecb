"""A report that routing cannot handle is counted, set aside as needs_attention, listed for
admins and retried by them; it never holds up or slows the other reports."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from geo.wards import WardIndex
from safer_streets.accounts import users
from safer_streets.db import make_session_factory, session_scope
from safer_streets.errors import Conflict, NotAllowed
from safer_streets.models import (
    ProcessingFailure,
    Report,
    ReportEvent,
    ReportStatus,
    Role,
    User,
)
from safer_streets.places import Places
from safer_streets.routing import processing, quarantine
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, login, wait_for_status
from tests.routing.test_batched_routing import PLACES, submit
from workers import tasks
from workers.queue import PROCESS_REPORTS, SWEEP_RECEIVED

POISON = "This one cannot be routed"


class NoRuleFits(ValueError):
    """What the patched routing raises for the poisoned report."""


@pytest.fixture
def poisoned_routing(monkeypatch: pytest.MonkeyPatch):
    """Routing raises for any report whose description is ``POISON``, as a bug would.

    The worker in these tests runs in this process, so it takes the patched path too.
    """
    real_route = processing._route

    def route(session, report, *args, **kwargs):
        if report.description == POISON:
            raise NoRuleFits(f"no rule can place report {report.reference}")
        return real_route(session, report, *args, **kwargs)

    monkeypatch.setattr(processing, "_route", route)
    return monkeypatch


def events(session, report: Report) -> list[str]:
    return list(
        session.scalars(
            select(ReportEvent.kind)
            .where(ReportEvent.report_id == report.id)
            .order_by(ReportEvent.id)
        )
    )


def test_a_bad_report_fails_alone_and_is_set_aside_after_the_attempts_allowed(
    db_session, ward_index: WardIndex, poisoned_routing
):
    places = Places.default()
    good = [submit(db_session, *place) for place in PLACES]
    bad = submit(db_session, "fly-tipping", 51.4452, -0.0207, POISON)
    ids = sorted([bad.id, *(r.id for r in good)])

    handled = processing.process_reports(db_session, ids, ward_index, places, max_attempts=3)

    assert sorted(handled) == sorted(r.id for r in good), "the others are routed at once"
    for report in good:
        db_session.refresh(report)
        assert report.status is ReportStatus.ROUTED
    db_session.refresh(bad)
    assert bad.status is ReportStatus.RECEIVED
    failure = db_session.get(ProcessingFailure, bad.id)
    assert failure.attempts == 1
    assert failure.error_kind == "tests.routing.test_quarantine.NoRuleFits"
    assert failure.error_message == f"no rule can place report {bad.reference}"
    first_failed = failure.first_failed_at

    for _ in range(2):
        assert (
            processing.process_reports(db_session, [bad.id], ward_index, places, max_attempts=3)
            == []
        )
    db_session.refresh(bad)
    db_session.refresh(failure)
    assert bad.status is ReportStatus.NEEDS_ATTENTION
    assert failure.attempts == 3
    assert failure.first_failed_at == first_failed < failure.last_failed_at
    assert events(db_session, bad) == ["submitted", "needs_attention"]
    set_aside = db_session.scalars(
        select(ReportEvent).where(
            ReportEvent.report_id == bad.id, ReportEvent.kind == "needs_attention"
        )
    ).one()
    assert (set_aside.from_status, set_aside.to_status) == ("received", "needs_attention")
    assert set_aside.data["attempts"] == 3
    assert set_aside.data["error_kind"].endswith("NoRuleFits")
    assert not set_aside.public, "an internal matter, not a public update"

    # Out of the sweep, out of every batch, and a task naming it finds nothing to do.
    assert bad.id not in processing.stale_received_ids(db_session, 0)
    late = submit(db_session, *PLACES[0])
    assert processing.process_reports(
        db_session, [late.id], ward_index, places, also_waiting=50, max_attempts=3
    ) == [late.id]
    assert (
        processing.process_reports(db_session, [bad.id], ward_index, places, max_attempts=3) == []
    )
    db_session.refresh(failure)
    assert failure.attempts == 3, "not tried again"
    assert [s.report.reference for s in quarantine.needs_attention(db_session)] == [bad.reference]
    assert quarantine.count_needs_attention(db_session) == 1


def test_a_report_that_failed_is_left_to_its_own_task_not_pulled_into_other_batches(
    db_session, ward_index: WardIndex, poisoned_routing
):
    places = Places.default()
    bad = submit(db_session, "fly-tipping", 51.4452, -0.0207, POISON)
    processing.process_reports(db_session, [bad.id], ward_index, places, max_attempts=5)
    waiting = submit(db_session, *PLACES[1])
    first = submit(db_session, *PLACES[0])

    handled = processing.process_reports(
        db_session, [first.id], ward_index, places, also_waiting=50, max_attempts=5
    )

    assert handled == [first.id, waiting.id], "the waiting report joins; the failed one does not"
    assert db_session.get(ProcessingFailure, bad.id).attempts == 1


def test_an_unreachable_database_is_not_held_against_the_reports(
    db_session, ward_index: WardIndex, monkeypatch
):
    report = submit(db_session, *PLACES[0])

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(processing, "_route", down)
    with pytest.raises(OperationalError):
        processing.process_reports(db_session, [report.id], ward_index, Places.default())
    assert db_session.get(ProcessingFailure, report.id) is None


def admin_and_staff(db_session) -> tuple[User, User]:
    made = [
        users.create_user(
            db_session,
            passwords=PASSWORDS,
            email=email,
            password=PASSWORD,
            role=role,
            partner_slug=partner,
        )
        for email, role, partner in (
            ("admin@lewisham.example", Role.ADMIN, None),
            ("staff@lewisham.example", Role.STAFF, "lewisham-asb"),
        )
    ]
    return made[0], made[1]


def test_only_an_admin_retries_and_the_retry_is_a_report_event(
    db_session, ward_index: WardIndex, poisoned_routing
):
    admin, staff = admin_and_staff(db_session)
    bad = submit(db_session, "fly-tipping", 51.4452, -0.0207, POISON)
    processing.process_reports(db_session, [bad.id], ward_index, Places.default(), max_attempts=1)
    db_session.refresh(bad)
    assert bad.status is ReportStatus.NEEDS_ATTENTION

    with pytest.raises(NotAllowed):
        quarantine.retry(db_session, bad, staff)
    event = quarantine.retry(db_session, bad, admin)

    assert bad.status is ReportStatus.RECEIVED
    assert (event.kind, event.actor_id, event.from_status, event.to_status) == (
        "retried",
        admin.id,
        "needs_attention",
        "received",
    )
    assert event.data["attempts"] == 1 and event.data["error_kind"].endswith("NoRuleFits")
    assert db_session.get(ProcessingFailure, bad.id) is None, "as many attempts as at first"
    with pytest.raises(Conflict):
        quarantine.retry(db_session, bad, admin)


# ---- Through the real worker, the sweep and the admin page ------------------------------------


def _status(engine, reference: str) -> tuple[ReportStatus, int | None]:
    with session_scope(make_session_factory(engine)) as session:
        report = session.scalars(select(Report).where(Report.reference == reference)).one()
        failure = session.get(ProcessingFailure, report.id)
        return report.status, failure.attempts if failure else None


@pytest.mark.worker
def test_the_worker_sets_a_bad_report_aside_and_an_admin_retries_it_after_a_fix(
    live_app, worker, celery_app, engine, settings, make_user, poisoned_routing
):
    poisoned_routing.setattr(
        tasks.context(), "settings", replace(settings, processing_max_attempts=3)
    )
    client = live_app.test_client()

    def report(description: str) -> str:
        response = client.post(
            "/api/v1/reports",
            json={
                "category": "fly-tipping",
                "lat": 51.4452,
                "lon": -0.0207,
                "description": description,
            },
        )
        assert response.status_code == 201
        return response.get_json()["reference"]

    bad = report(POISON)
    good = [report(f"Mattress {n}") for n in range(3)]
    for reference in good:
        wait_for_status(engine, reference, ReportStatus.ROUTED)
    deadline = time.monotonic() + 15
    while _status(engine, bad)[1] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    # Its own task failed; so may a busy batch that picked it up before its first failure was
    # recorded, but it is not set aside before its third attempt.
    status, attempts = _status(engine, bad)
    assert status is ReportStatus.RECEIVED and attempts in (1, 2), "it failed, and waits"

    # The sweep (every 15 s under beat; reports count as stale at once in the tests) retries it.
    while _status(engine, bad)[0] is ReportStatus.RECEIVED and time.monotonic() < deadline + 15:
        celery_app.send_task(SWEEP_RECEIVED)
        time.sleep(0.5)
    assert _status(engine, bad) == (ReportStatus.NEEDS_ATTENTION, 3)

    # Set aside: new reports are routed in batches that leave it alone, and sweeps skip it.
    later = report("Sofa")
    celery_app.send_task(SWEEP_RECEIVED)
    celery_app.send_task(PROCESS_REPORTS, args=[[]])
    wait_for_status(engine, later, ReportStatus.ROUTED)
    time.sleep(0.5)
    assert _status(engine, bad) == (ReportStatus.NEEDS_ATTENTION, 3)

    health = client.get("/healthz").get_json()
    assert health["backlog"]["needs_attention"] == 1
    assert health["status"] == "degraded"
    assert any("needs attention" in reason for reason in health["reasons"])

    make_user("admin@lewisham.example", None, Role.ADMIN)
    make_user("staff@lewisham.example", "lewisham-environment")
    staff = live_app.test_client()
    login(staff, "staff@lewisham.example")
    assert staff.get("/admin/needs-attention").status_code == 403
    admin = live_app.test_client()
    login(admin, "admin@lewisham.example")
    page = admin.get("/admin/needs-attention").text
    assert bad in page and "NoRuleFits" in page and f"no rule can place report {bad}" in page
    assert "Needs attention (1)" in admin.get("/triage").text, "admins see it in the navigation"

    poisoned_routing.undo()  # the fix is deployed
    token = csrf_token(admin, "/admin/needs-attention")
    response = admin.post(f"/admin/needs-attention/{bad}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    wait_for_status(engine, bad, ReportStatus.ROUTED)
    with session_scope(make_session_factory(engine)) as session:
        report_id = session.scalars(select(Report.id).where(Report.reference == bad)).one()
        history = session.execute(
            select(ReportEvent.kind, ReportEvent.actor_id)
            .where(ReportEvent.report_id == report_id)
            .order_by(ReportEvent.id)
        ).all()
    kinds = [kind for kind, _actor in history]
    assert kinds == ["submitted", "needs_attention", "retried", "routed"]
    assert history[2].actor_id is not None, "who retried it is recorded"
    page = admin.get("/admin/needs-attention").text
    assert f"{bad} put back for routing." in page
    assert "Nothing is waiting" in page
