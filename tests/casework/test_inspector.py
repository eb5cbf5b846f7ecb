"""The inspector form: one submit acknowledges, assigns, sets priority and status, posts a
public update and an internal note; one history entry per change; all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.models import (
    EmailOutbox,
    Partner,
    Priority,
    Report,
    ReportEvent,
    ReportStatus,
    ResponseTemplate,
    Role,
)
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"  # drug dealing at Catford Broadway
NOTIFIED = "lewisham-community-safety"
RESIDENT = "resident@example.org"


def _staff(session, email: str, partner: str, name: str = "", role: Role = Role.STAFF):
    return users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
        name=name,
    )


def _kinds(session, report: Report) -> list[str]:
    return list(
        session.scalars(
            select(ReportEvent.kind)
            .where(ReportEvent.report_id == report.id, ReportEvent.actor_id.is_not(None))
            .order_by(ReportEvent.id)
        )
    )


@pytest.fixture
def case(client, db_session, routed_report):
    report = routed_report(db_session, contact_email=RESIDENT)
    sergeant = _staff(db_session, "sgt@rg.example", OWNER, "Sgt Amira Khan")
    colleague = _staff(db_session, "pc.jones@rg.example", OWNER, "PC Dan Jones")
    nameless = _staff(db_session, "pc.nameless@rg.example", OWNER)
    db_session.flush()
    login(client, sergeant.email)
    return report, colleague, nameless


def test_one_submit_does_everything_with_one_history_entry_per_change(client, db_session, case):
    report, colleague, _ = case
    response = client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={
            "version": str(report.version_id),
            "status": "acknowledged",
            "assignee": str(colleague.id),
            "priority": "high",
            "public_update": "Officers will patrol Catford Broadway tonight.",
            "internal_note": "Known dealer, see intelligence log 42",
        },
    )

    assert response.status_code == 303
    db_session.expire_all()
    assert report.status is ReportStatus.ACKNOWLEDGED
    assert report.acknowledged_at is not None
    assert report.assigned_to_id == colleague.id
    assert report.priority is Priority.HIGH
    assert _kinds(db_session, report) == [
        "assigned",
        "priority_changed",
        "acknowledged",
        "note",
    ]
    acknowledged = report.events[-2]
    assert acknowledged.public and acknowledged.note.startswith("Officers will patrol")
    emails = db_session.scalars(select(EmailOutbox).where(EmailOutbox.recipient == RESIDENT))
    assert [e.kind for e in emails] == ["public-update"], "the resident gets one email"
    page = client.get(f"/triage/reports/{report.reference}").text
    assert "Assigned to PC Dan Jones" in page
    assert "Known dealer" in page


def test_staff_are_listed_by_name_falling_back_to_email(client, case):
    report, _, _ = case
    page = client.get(f"/triage/reports/{report.reference}").text
    assert ">PC Dan Jones</option>" in page
    assert ">pc.nameless@rg.example</option>" in page
    assert "pc.jones@rg.example" not in page


def test_bad_input_names_each_field_and_changes_nothing(client, db_session, case):
    report, _, _ = case
    before = _kinds(db_session, report)
    response = client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={
            "version": str(report.version_id),
            "priority": "urgent",  # fine on its own
            "assignee": "999999",
            "public_update": "x" * 4001,
            "internal_note": "Kept when refused",
        },
    )

    assert response.status_code == 422
    assert "choose someone from the list" in response.text
    assert "at most 4000 characters" in response.text
    assert "Kept when refused</textarea>" in response.text
    db_session.expire_all()
    assert report.priority is Priority.NORMAL and report.status is ReportStatus.ROUTED
    assert _kinds(db_session, report) == before


def test_a_move_the_workflow_refuses_is_a_conflict_that_keeps_the_input(client, db_session, case):
    report, colleague, _ = case
    response = client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={
            "version": str(report.version_id),
            "status": "resolved",
            "assignee": str(colleague.id),
            "public_update": "Sorted",
        },
    )
    assert response.status_code == 409
    assert "acknowledge it first" in response.text
    assert "Sorted</textarea>" in response.text
    assert f'<option value="{colleague.id}" selected>' in response.text
    db_session.expire_all()
    assert report.assigned_to_id is None


@pytest.mark.parametrize("assignee", ["99999999999999999999", "²", "someone"])
def test_an_assignee_out_of_range_is_a_field_error(client, case, assignee):
    report, _, _ = case
    response = client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={"version": str(report.version_id), "assignee": assignee, "template": "9" * 30},
    )
    assert response.status_code == 422
    assert "choose someone from the list" in response.text
    assert "choose one of your partner" in response.text


def test_closing_without_a_reason_is_refused(client, db_session, case):
    report, _, _ = case
    response = client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={"version": str(report.version_id), "status": "not_actionable"},
    )
    assert response.status_code == 422
    assert "say why it is not actionable" in response.text
    assert (
        client.post(
            f"/triage/reports/{report.reference}/inspect",
            data={"version": str(report.version_id)},
        ).status_code
        == 422
    ), "an empty submit changes nothing and says so"


def test_a_template_fills_an_empty_public_update(client, db_session, case):
    report, _, _ = case
    partner = db_session.scalar(select(Partner).where(Partner.slug == OWNER))
    template = ResponseTemplate(
        partner_id=partner.id,
        title="Patrol",
        body="{partner} will patrol {ward} about your {category} report {reference}. {other}",
    )
    db_session.add(template)
    db_session.flush()

    client.post(
        f"/triage/reports/{report.reference}/inspect",
        data={"version": str(report.version_id), "template": str(template.id)},
    )

    update = db_session.scalar(
        select(ReportEvent).where(
            ReportEvent.report_id == report.id, ReportEvent.kind == "public_update"
        )
    )
    assert update.note == (
        f"{partner.name} will patrol Rushey Green about your drug dealing report "
        f"{report.reference}. {{other}}"
    )


def test_a_notified_partner_gets_only_the_update_and_note(client, db_session, routed_report):
    report = routed_report(db_session)
    _staff(db_session, "officer@lewisham.example", NOTIFIED)
    db_session.flush()
    login(client, "officer@lewisham.example")
    path = f"/triage/reports/{report.reference}"

    page = client.get(path).text
    assert 'name="public_update"' in page and 'name="internal_note"' in page
    assert 'name="priority"' not in page and 'name="assignee"' not in page
    assert client.post(f"{path}/inspect", data={"priority": "urgent"}).status_code == 403
    done = client.post(f"{path}/inspect", data={"internal_note": "CCTV requested"})
    assert done.status_code == 303
