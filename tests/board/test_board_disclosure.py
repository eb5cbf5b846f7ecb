"""What the board sees of sensitive reports matches the form's promise (issue 13, finding 5):
counts by default; report points and rows only for members allowed case detail, and then
each report shown is written to the access log."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.models import Report, ReportAccess, Role
from tests.board_data import CATFORD, add_reports, around
from tests.helpers import PASSWORD, PASSWORDS, login

SECRET = "He follows me home from the station"


@pytest.fixture
def reports(db_session):
    harassment = add_reports(
        db_session,
        "harassment",
        around(CATFORD, 2, seed=3),
        owner="met-snt-rushey-green",
        description=SECRET,
        contact_email="resident@example.org",
    )
    fly_tips = add_reports(db_session, "fly-tipping", around(CATFORD, 3))
    refs = dict(db_session.execute(select(Report.id, Report.reference)).all())
    return {refs[i] for i in harassment}, {refs[i] for i in fly_tips}


@pytest.fixture
def member(app, db_session):
    """A board member's signed-in client, with or without the case-detail permission."""

    def sign(*, case_detail: bool, partner: str | None = None):
        email = f"board{int(case_detail)}.{partner or 'all'}@board.test"
        user = users.create_user(
            db_session,
            passwords=PASSWORDS,
            email=email,
            password=PASSWORD,
            role=Role.BOARD,
            partner_slug=partner,
        )
        user.sees_case_detail = case_detail
        db_session.flush()
        client = app.test_client()
        login(client, email)
        return client, user

    return sign


def csv_refs(client) -> set[str]:
    text = client.get("/board/reports.csv").text
    return {row["reference"] for row in csv.DictReader(io.StringIO(text))}


def geojson_refs(client) -> set[str]:
    document = json.loads(client.get("/board/reports.geojson").text)
    return {feature["properties"]["reference"] for feature in document["features"]}


def logged(session, user) -> list[tuple[str, str]]:
    return session.execute(
        select(Report.reference, ReportAccess.surface)
        .join(Report, Report.id == ReportAccess.report_id)
        .where(ReportAccess.user_id == user.id)
        .order_by(ReportAccess.id)
    ).all()


def test_the_board_sees_no_points_or_rows_of_sensitive_reports_only_their_counts(
    member, reports, db_session
):
    _, fly_tips = reports
    client, user = member(case_detail=False)

    assert csv_refs(client) == fly_tips
    assert geojson_refs(client) == fly_tips
    counts = list(csv.DictReader(io.StringIO(client.get("/board/aggregates.csv").text)))
    assert sum(int(r["count"]) for r in counts if r["category"] == "harassment") == 2
    assert logged(db_session, user) == []


def test_a_board_account_attached_to_a_partner_sees_no_sensitive_rows_either(member, reports):
    _, fly_tips = reports
    client, _ = member(case_detail=False, partner="met-snt-rushey-green")
    assert csv_refs(client) == fly_tips


def test_case_detail_shows_sensitive_points_and_logs_each_one_shown(member, reports, db_session):
    harassment, fly_tips = reports
    client, user = member(case_detail=True)

    response = client.get("/board/reports.csv")
    assert {r["reference"] for r in csv.DictReader(io.StringIO(response.text))} == (
        harassment | fly_tips
    )
    assert SECRET not in response.text and "resident@example.org" not in response.text
    assert geojson_refs(client) == harassment | fly_tips

    views = logged(db_session, user)
    assert sorted(views) == sorted(
        [(ref, "board CSV export") for ref in harassment]
        + [(ref, "board map and GeoJSON export") for ref in harassment]
    )
