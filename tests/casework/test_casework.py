"""Casework on real PostGIS: the workflow, assignment, re-routing, duplicates, joint cases,
bulk actions and templates, each refusing with a reason when it must."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import access, queues, workflow
from safer_streets.disclosure.policy import disclose
from safer_streets.errors import Conflict, InvalidInput, NotAllowed, NotFound
from safer_streets.models import EmailOutbox, ReportStatus, Role
from tests.helpers import PASSWORD, PASSWORDS

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OWNER = "met-snt-rushey-green"
NOTIFIED = "lewisham-community-safety"


def user(session, email, partner, role=Role.STAFF):
    return users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )


# (from, to) -> None if allowed, else words the refusal must contain.
TRANSITIONS = [
    ("routed", "acknowledged", None),
    ("routed", "in_progress", None),
    ("routed", "not_actionable", None),
    ("routed", "referred", None),
    ("routed", "resolved", "acknowledge it first"),
    ("acknowledged", "in_progress", None),
    ("acknowledged", "resolved", None),
    ("acknowledged", "referred", None),
    ("acknowledged", "routed", "cannot become routed"),
    ("acknowledged", "acknowledged", "already acknowledged"),
    ("in_progress", "resolved", None),
    ("in_progress", "not_actionable", None),
    ("in_progress", "acknowledged", "cannot become acknowledged"),
    ("resolved", "in_progress", None),
    ("resolved", "not_actionable", "cannot become not actionable"),
    ("not_actionable", "in_progress", None),
    ("referred", "in_progress", None),
    ("referred", "resolved", "cannot become resolved"),
    ("duplicate", "resolved", "is a duplicate, so it cannot become resolved"),
    ("duplicate", "in_progress", "is a duplicate"),
    ("received", "acknowledged", "cannot change status"),
    ("out_of_area", "in_progress", "cannot change status"),
]


@pytest.mark.parametrize(("from_status", "to_status", "refusal"), TRANSITIONS)
def test_workflow_transitions(db_session, routed_report, from_status, to_status, refusal):
    report = routed_report(db_session)
    officer = user(db_session, "sgt@rg.example", OWNER)
    report.status = ReportStatus(from_status)
    db_session.flush()
    if refusal is None:
        workflow.change_status(
            db_session, officer, report, to_status, note="Checked on patrol", now=NOW
        )
        assert report.status is ReportStatus(to_status)
        closed = ReportStatus(to_status) in workflow.CLOSED
        assert (report.resolved_at is not None) == closed
        assert report.acknowledged_at is not None
        assert report.events[-1].actor_id == officer.id
    else:
        with pytest.raises(Conflict, match=refusal):
            workflow.change_status(db_session, officer, report, to_status, note="x", now=NOW)
        assert report.status is ReportStatus(from_status)


def test_closing_as_not_actionable_needs_a_reason(db_session, routed_report):
    report = routed_report(db_session)
    officer = user(db_session, "sgt@rg.example", OWNER)
    with pytest.raises(InvalidInput) as refused:
        workflow.change_status(db_session, officer, report, "not_actionable", now=NOW)
    assert refused.value.field_errors == {"note": "say why it is not actionable"}


def test_assigning_outside_the_owner_partner_is_refused(db_session, routed_report):
    report = routed_report(db_session)
    officer = user(db_session, "sgt@rg.example", OWNER)
    colleague = user(db_session, "pc@rg.example", OWNER)
    outsider = user(db_session, "pc@lc.example", "met-snt-lewisham-central")
    with pytest.raises(InvalidInput) as refused:
        workflow.assign(db_session, officer, report, outsider.id, now=NOW)
    assert (
        "only assign to colleagues in Met Police Rushey Green"
        in refused.value.field_errors["assignee"]
    )
    workflow.assign(db_session, officer, report, colleague.id, now=NOW)
    assert report.assigned_to_id == colleague.id
    assert [e.kind for e in report.events][-1] == "assigned"


def test_a_stale_form_is_a_conflict_naming_the_time_of_the_other_change(db_session, routed_report):
    report = routed_report(db_session)
    first = user(db_session, "sgt@rg.example", OWNER)
    second = user(db_session, "pc@rg.example", OWNER)
    seen_version = report.version_id
    workflow.set_priority(db_session, first, report, "high", expected_version=seen_version, now=NOW)
    with pytest.raises(Conflict, match=r"Someone else changed LEW-\w+ at \d\d:\d\d"):
        workflow.acknowledge(db_session, second, report, expected_version=seen_version, now=NOW)
    assert report.status is ReportStatus.ROUTED
    assert report.priority.value == "high"


def test_rerouting_moves_ownership_and_the_old_owner_loses_access(db_session, routed_report):
    report = routed_report(db_session)
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    asb_officer = user(db_session, "officer@asb.example", "lewisham-asb")
    workflow.acknowledge(db_session, sergeant, report, now=NOW)

    outcome = workflow.reroute(
        db_session, sergeant, report, "lewisham-asb", "Groups gathering, not dealing", now=NOW
    )

    assert outcome.emails, "the new owner is emailed"
    assert report.owner.slug == "lewisham-asb"
    assert report.status is ReportStatus.ROUTED and report.acknowledged_at is None
    assert report.acknowledge_due_at is not None
    assert access.report_for(db_session, asb_officer, report.reference) is report
    with pytest.raises(NotFound):
        access.report_for(db_session, sergeant, report.reference)
    event = report.events[-1]
    assert (event.kind, event.note) == ("rerouted", "Groups gathering, not dealing")
    assert event.data["from"] == OWNER and event.data["to"] == "lewisham-asb"
    email = db_session.get(EmailOutbox, outcome.emails[0])
    assert email.recipient == "asb@lewisham.gov.uk" and email.kind == "new-report"


def test_rerouting_can_keep_the_old_owner_informed(db_session, routed_report):
    report = routed_report(db_session)
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    workflow.reroute(
        db_session, sergeant, report, "lewisham-asb", "ASB", keep_informed=True, now=NOW
    )
    assert access.access(db_session, sergeant, report) is access.Access.NOTIFIED
    with pytest.raises(NotAllowed, match="as a notified partner you can add notes"):
        workflow.acknowledge(db_session, sergeant, report, now=NOW)


def test_a_duplicate_merges_its_supporters_and_cannot_be_resolved(db_session, routed_report):
    original = routed_report(db_session, description="Dealing by the bus stop")
    duplicate = routed_report(db_session, description="Same again", contact_email="r@example.org")
    duplicate.supporter_count = 2
    sergeant = user(db_session, "sgt@rg.example", OWNER)

    outcome = workflow.mark_duplicate(
        db_session, sergeant, duplicate, original.reference.lower(), now=NOW
    )

    assert "3 supporters added" in outcome.message
    assert original.supporter_count == 3
    assert duplicate.status is ReportStatus.DUPLICATE and duplicate.duplicate_of is original
    assert original.events[-1].kind == "duplicate_merged"
    assert duplicate.events[-1].public, "the resident is told where to follow it"
    assert len(outcome.emails) == 1
    with pytest.raises(Conflict, match="is a duplicate, so it cannot become resolved"):
        workflow.change_status(db_session, sergeant, duplicate, "resolved", now=NOW)
    with pytest.raises(InvalidInput, match="original"):
        workflow.mark_duplicate(db_session, sergeant, original, original.reference, now=NOW)


def test_a_notified_partner_adds_notes_the_owner_sees(db_session, routed_report):
    report = routed_report(db_session)
    officer = user(db_session, "officer@cs.example", NOTIFIED)
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    workflow.add_note(db_session, officer, report, "CCTV request sent", now=NOW)
    workflow.add_note(
        db_session, officer, report, "Council wardens will patrol", public=True, now=NOW
    )
    history = queues.history(
        db_session, access.disclosure_for(db_session, sergeant, report.reference)
    )
    notes = [(e.kind, e.note, e.data["partner"]) for e in history if e.actor_id == officer.id]
    assert notes == [
        ("note", "CCTV request sent", NOTIFIED),
        ("public_update", "Council wardens will patrol", NOTIFIED),
    ]
    assert report.owner.slug == OWNER


def test_contact_email_only_for_the_owner_and_only_when_shared(db_session, routed_report):
    shared = routed_report(db_session, contact_email="resident@example.org", anonymous=False)
    anonymous = routed_report(db_session, contact_email="quiet@example.org")
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    officer = user(db_session, "officer@cs.example", NOTIFIED)
    board = user(db_session, "board@example.org", None, Role.BOARD)

    def contact(viewer, report):
        shown = disclose(report, access.audience_for(db_session, viewer, report))
        return shown.contact.email if shown.contact else None

    assert contact(sergeant, shared) == "resident@example.org"
    assert contact(sergeant, anonymous) is None
    assert contact(officer, shared) is None
    assert contact(board, shared) is None


def test_bulk_actions_apply_to_each_and_say_why_some_were_refused(db_session, routed_report):
    first, second, third = (routed_report(db_session) for _ in range(3))
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    workflow.acknowledge(db_session, sergeant, second, now=NOW)
    stale = third.version_id - 1

    outcome = workflow.bulk(
        db_session,
        sergeant,
        [(first.reference, first.version_id), (second.reference, None), (third.reference, stale)],
        "acknowledge",
        None,
        now=NOW,
    )

    assert outcome.done == [first.reference]
    assert "already acknowledged" in outcome.refused[second.reference]
    assert "Someone else changed" in outcome.refused[third.reference]
    assert first.status is ReportStatus.ACKNOWLEDGED
    assert third.status is ReportStatus.ROUTED


def test_only_partner_admins_manage_templates_and_staff_use_them(db_session, routed_report):
    report = routed_report(db_session, contact_email="r@example.org")
    admin = user(db_session, "admin@rg.example", OWNER, Role.PARTNER_ADMIN)
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    other_admin = user(
        db_session, "admin@lc.example", "met-snt-lewisham-central", Role.PARTNER_ADMIN
    )
    template = workflow.save_template(
        db_session, admin, None, "Patrol arranged", "Officers will patrol the area this week."
    )
    with pytest.raises(NotAllowed):
        workflow.save_template(db_session, sergeant, None, "Mine", "text")
    with pytest.raises(NotFound):
        workflow.delete_template(db_session, other_admin, template.id)
    with pytest.raises(InvalidInput, match="title"):
        workflow.save_template(db_session, admin, None, "Patrol arranged", "again")

    outcome = workflow.inspect(
        db_session,
        sergeant,
        report,
        workflow.Inspection(template_id=str(template.id)),
        expected_version=None,
        now=NOW,
    )
    assert report.events[-1].note == "Officers will patrol the area this week."
    email = db_session.scalar(select(EmailOutbox).where(EmailOutbox.id == outcome.emails[0]))
    assert email.recipient == "r@example.org" and email.kind == "public-update"


def test_a_report_is_offered_its_categorys_templates_and_the_general_ones(
    db_session, routed_report
):
    report = routed_report(db_session)  # feeling unsafe
    admin = user(db_session, "admin@rg.example", OWNER, Role.PARTNER_ADMIN)
    workflow.save_template(db_session, admin, None, "Any", "We have your report {reference}.")
    workflow.save_template(
        db_session,
        admin,
        None,
        "Patrols done",
        "Officers patrolled {ward}.",
        category=report.category.slug,
        status="resolved",
    )
    workflow.save_template(db_session, admin, None, "Cleared", "Cleared.", category="fly-tipping")
    offered = [t.title for t in workflow.templates_for(db_session, admin, report)]
    assert offered == ["Patrols done", "Any"]
    with pytest.raises(InvalidInput) as refused:
        workflow.save_template(
            db_session, admin, None, "Odd", "x", category="no-such", status="received"
        )
    assert set(refused.value.field_errors) == {"category", "status"}


def test_nearby_and_related_reports(db_session, routed_report):
    report = routed_report(db_session)
    related = routed_report(db_session, lat=51.4460, lon=-0.0207)  # ~90 m north
    unrelated = routed_report(db_session, category="weapons", lat=51.4455, lon=-0.0215)
    routed_report(db_session, lat=51.4560, lon=-0.0207)  # over a kilometre away
    sergeant = user(db_session, "sgt@rg.example", OWNER)
    neighbours = queues.nearby(db_session, sergeant, report)
    assert [(n.shown.report.reference, n.related) for n in neighbours] == [
        (related.reference, True),
        (unrelated.reference, False),
    ]
    assert 80 < neighbours[0].metres < 100


def test_board_reads_everything_and_changes_nothing(db_session, routed_report):
    report = routed_report(db_session)
    board = user(db_session, "board@example.org", None, Role.BOARD)
    assert access.report_for(db_session, board, report.reference) is report
    with pytest.raises(NotAllowed, match="board"):
        workflow.add_note(db_session, board, report, "Noted", now=NOW)
