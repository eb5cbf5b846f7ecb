"""The triage pages and the queue's CSV export show each report as the disclosure policy lets
the viewer see it: contact only to the owner's staff, sensitive reports to the board only with
the case-detail permission, internal notes only to partners, and every view of a sensitive
report's detail in the access log (issue 13, finding 5)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import workflow
from safer_streets.models import ReportAccess, ReportEvent, ReportPhoto, Role
from tests.helpers import PASSWORD, PASSWORDS, login

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OWNER = "met-snt-rushey-green"
NOTIFIED = "lewisham-community-safety"
EMAIL = "resident@example.org"
SECRET = "He waits by the door of flat 3 every night"


def account(session, email, partner, role=Role.STAFF, *, case_detail=False):
    user = users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    user.sees_case_detail = case_detail
    session.flush()
    return user


def views_of(session, report, user=None):
    query = select(ReportAccess).where(ReportAccess.report_id == report.id)
    if user is not None:
        query = query.where(ReportAccess.user_id == user.id)
    return list(session.scalars(query.order_by(ReportAccess.id)))


def export_rows(client, query=""):
    response = client.get(f"/triage/export.csv{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def harassment(db_session, routed_report):
    report = routed_report(
        db_session,
        category="harassment",
        description=SECRET,
        contact_email=EMAIL,
        anonymous=False,
    )
    assert report.owner.slug == OWNER
    return report


def test_a_board_account_attached_to_a_partner_never_sees_reporters_contact(
    client, db_session, routed_report
):
    report = routed_report(db_session, contact_email=EMAIL, anonymous=False)
    board = account(db_session, "board@rg.example", OWNER, Role.BOARD, case_detail=True)
    login(client, board.email)

    page = client.get(f"/triage/reports/{report.reference}")
    assert page.status_code == 200
    assert EMAIL not in page.text
    assert all(row["contact_email"] == "" for row in export_rows(client))


def test_the_board_does_not_see_sensitive_reports_one_by_one(client, db_session, harassment):
    board = account(db_session, "board@example.org", None, Role.BOARD)
    login(client, board.email)

    assert client.get(f"/triage/reports/{harassment.reference}").status_code == 404
    assert harassment.reference not in client.get("/triage").text
    assert harassment.reference not in client.get("/triage/map.json").text
    assert harassment.reference not in client.get("/triage/export.csv").text
    assert client.get(f"/triage/reports/{harassment.reference}/photo").status_code == 404


def test_a_board_member_allowed_case_detail_sees_it_without_internal_notes_and_is_logged(
    client, db_session, harassment
):
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    workflow.add_note(db_session, sergeant, harassment, "Suspect known to us", now=NOW)
    workflow.add_note(db_session, sergeant, harassment, "Patrols increased", public=True, now=NOW)
    board = account(db_session, "board@example.org", None, Role.BOARD, case_detail=True)
    login(client, board.email)

    page = client.get(f"/triage/reports/{harassment.reference}")
    assert page.status_code == 200
    assert SECRET in page.text
    assert "Patrols increased" in page.text
    assert "Suspect known to us" not in page.text
    assert EMAIL not in page.text
    assert "recorded in the access log" in page.text
    [view] = views_of(db_session, harassment, board)
    assert (view.surface, view.address) == ("report page", "127.0.0.1")


def test_internal_notes_are_for_partners_not_the_board(client, db_session, routed_report):
    report = routed_report(db_session)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    workflow.add_note(db_session, sergeant, report, "Informant says Tuesday", now=NOW)
    officer = account(db_session, "officer@cs.example", NOTIFIED)
    board = account(db_session, "board@example.org", None, Role.BOARD)

    login(client, board.email)
    assert "Informant says Tuesday" not in client.get(f"/triage/reports/{report.reference}").text
    client.post("/logout")
    login(client, sergeant.email)
    assert "Informant says Tuesday" in client.get(f"/triage/reports/{report.reference}").text
    assert officer  # a notified partner's staff read them too (test_casework)


def test_each_view_of_a_sensitive_report_by_its_owners_is_logged_but_not_other_reports(
    client, db_session, routed_report, harassment
):
    ordinary = routed_report(db_session)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    login(client, sergeant.email)

    page = client.get(f"/triage/reports/{harassment.reference}")
    assert SECRET in page.text and EMAIL in page.text
    client.get(f"/triage/reports/{harassment.reference}")
    client.get(f"/triage/reports/{ordinary.reference}")

    assert [v.surface for v in views_of(db_session, harassment, sergeant)] == ["report page"] * 2
    assert views_of(db_session, ordinary) == []


def test_each_sensitive_row_of_a_csv_export_is_logged(
    client, db_session, routed_report, harassment
):
    ordinary = routed_report(db_session)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    login(client, sergeant.email)

    rows = {row["reference"]: row for row in export_rows(client)}
    assert rows[harassment.reference]["description"] == SECRET
    assert rows[harassment.reference]["contact_email"] == EMAIL
    [view] = views_of(db_session, harassment, sergeant)
    assert view.surface == "queue CSV export"
    assert views_of(db_session, ordinary) == []


def test_a_notified_partner_sees_no_contact_on_the_page_or_in_the_export(
    client, db_session, harassment
):
    officer = account(db_session, "officer@cs.example", NOTIFIED)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    workflow.reroute(
        db_session, sergeant, harassment, NOTIFIED, "Council case", keep_informed=True, now=NOW
    )
    db_session.flush()
    login(client, sergeant.email)  # now the notified partner
    page = client.get(f"/triage/reports/{harassment.reference}")
    assert page.status_code == 200 and EMAIL not in page.text
    assert export_rows(client)[0]["contact_email"] == ""
    client.post("/logout")
    login(client, officer.email)  # the new owner
    assert EMAIL in client.get(f"/triage/reports/{harassment.reference}").text


def _photo(session, report):
    session.add(
        ReportPhoto(
            report_id=report.id,
            content_type="image/jpeg",
            data=b"\xff\xd8x",
            width=1,
            height=1,
            sha256="1" * 64,
        )
    )
    session.flush()


def test_owner_staff_show_a_photo_to_the_public_and_withdraw_it_with_a_record(
    app, db_session, routed_report
):
    report = routed_report(db_session)
    _photo(db_session, report)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    public, staff = app.test_client(), app.test_client()
    login(staff, sergeant.email)
    photo_url = f"/report/{report.reference}/photo"
    assert public.get(photo_url).status_code == 404
    page = staff.get(f"/triage/reports/{report.reference}")
    assert "Show this photo to the public" in page.text

    shown = staff.post(f"/triage/reports/{report.reference}/photo", data={"photo": "show"})
    assert shown.status_code == 303
    assert public.get(photo_url).status_code == 200
    page = staff.get(f"/triage/reports/{report.reference}")
    assert "Withdraw it from public view" in page.text
    assert "Photo shown to the public" in page.text

    staff.post(f"/triage/reports/{report.reference}/photo", data={"photo": "withdraw"})
    assert public.get(photo_url).status_code == 404
    assert (
        "Photo withdrawn from public view" in staff.get(f"/triage/reports/{report.reference}").text
    )
    kinds = db_session.scalars(
        select(ReportEvent.kind).where(
            ReportEvent.report_id == report.id, ReportEvent.actor_id == sergeant.id
        )
    ).all()
    assert kinds == ["photo_approved", "photo_withdrawn"]


def test_a_notified_partner_cannot_publish_a_photo(client, db_session, routed_report):
    report = routed_report(db_session)
    _photo(db_session, report)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    officer = account(db_session, "officer@cs.example", NOTIFIED)
    workflow.reroute(
        db_session, sergeant, report, NOTIFIED, "Council case", keep_informed=True, now=NOW
    )
    db_session.flush()
    login(client, sergeant.email)
    assert "Show this photo" not in client.get(f"/triage/reports/{report.reference}").text
    refused = client.post(f"/triage/reports/{report.reference}/photo", data={"photo": "show"})
    assert refused.status_code == 403
    assert report.photo.approved_at is None
    assert officer


def test_a_sensitive_reports_photo_is_never_offered_to_the_public_and_each_view_is_logged(
    client, db_session, harassment
):
    _photo(db_session, harassment)
    sergeant = account(db_session, "sgt@rg.example", OWNER)
    login(client, sergeant.email)
    page = client.get(f"/triage/reports/{harassment.reference}")
    assert "The public never sees this photo" in page.text
    assert "Show this photo to the public" not in page.text
    assert client.get(f"/triage/reports/{harassment.reference}/photo").status_code == 200
    surfaces = [v.surface for v in views_of(db_session, harassment, sergeant)]
    assert surfaces == ["report page", "report photo"]
