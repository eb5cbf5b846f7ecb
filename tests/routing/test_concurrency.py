"""Two people acting on one report at once: the second gets a clear conflict, never a lost
update (optimistic locking on the report's version)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from safer_streets.accounts import users
from safer_streets.casework import workflow
from safer_streets.db import make_session_factory, session_scope
from safer_streets.errors import Conflict
from safer_streets.models import Priority, Report, ReportStatus, Role, User
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"


def version_on(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page)[1]


def test_a_stale_form_gets_a_conflict_message_and_keeps_what_was_typed(
    app, db_session, routed_report
):
    report = routed_report(db_session)
    for email in ("sgt@rg.example", "pc@rg.example"):
        users.create_user(
            db_session,
            passwords=PASSWORDS,
            email=email,
            password=PASSWORD,
            role=Role.STAFF,
            partner_slug=OWNER,
        )
    db_session.flush()
    first, second = app.test_client(), app.test_client()
    login(first, "sgt@rg.example")
    login(second, "pc@rg.example")
    path = f"/triage/reports/{report.reference}"
    seen_by_first = version_on(first.get(path).text)
    seen_by_second = version_on(second.get(path).text)

    done = first.post(f"{path}/inspect", data={"version": seen_by_first, "priority": "urgent"})
    assert done.status_code == 303
    clash = second.post(
        f"{path}/inspect",
        data={
            "version": seen_by_second,
            "status": "referred",
            "public_update": "Passed to the council",
        },
    )

    assert clash.status_code == 409
    assert re.search(
        rf"Someone else changed {report.reference} at \d\d:\d\d: review it and try again",
        clash.text,
    )
    assert "Passed to the council</textarea>" in clash.text, "nothing typed is lost"
    assert '<option value="referred" selected>' in clash.text, "nor anything chosen"
    assert "Priority changed" in clash.text, "the page says what the other officer did"
    assert version_on(clash.text) != seen_by_second, "the retry uses the latest version"
    db_session.expire_all()
    assert report.priority is Priority.URGENT and report.status is ReportStatus.ROUTED


def test_a_race_between_check_and_write_is_a_conflict_too(live_app, engine, routed_report):
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        report_id = routed_report(session).id
        sergeant_id = users.create_user(
            session,
            passwords=PASSWORDS,
            email="sgt@rg.example",
            password=PASSWORD,
            role=Role.STAFF,
            partner_slug=OWNER,
        ).id
    slow, quick = factory(), factory()
    try:
        stale = slow.get(Report, report_id)
        seen = stale.version_id
        fresh = quick.get(Report, report_id)
        fresh.priority = Priority.HIGH
        quick.commit()

        sergeant = slow.get(User, sergeant_id)
        with pytest.raises(Conflict, match="changed this report a moment ago"):
            workflow.acknowledge(
                slow, sergeant, stale, expected_version=seen, now=datetime.now(UTC)
            )
        slow.rollback()
        assert slow.get(Report, report_id).priority is Priority.HIGH
    finally:
        slow.close()
        quick.close()
