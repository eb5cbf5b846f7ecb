"""Administrators' pages that show a report's detail log each view of a sensitive one."""

from __future__ import annotations

from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.intake import abuse
from safer_streets.models import Report, ReportAccess, Role
from tests.helpers import PASSWORD, PASSWORDS, login


def test_the_abuse_list_logs_views_of_held_sensitive_reports(client, db_session):
    abuse.add_entry(db_session, "spam.example", "Repeated false reports", None)
    held = {}
    for category in ("harassment", "fly-tipping"):
        response = client.post(
            "/api/v1/reports",
            json={
                "category": category,
                "lat": 51.4452,
                "lon": -0.0207,
                "description": f"Held {category} report",
                "contact_email": "troll@spam.example",
            },
        )
        assert response.get_json()["status"] == "held"
        held[category] = response.get_json()["reference"]
    admin = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@example.org",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    login(client, admin.email)

    page = client.get("/admin/abuse").text
    assert "Held harassment report" in page and "Held fly-tipping report" in page
    logged = db_session.execute(
        select(Report.reference, ReportAccess.surface)
        .join(Report, Report.id == ReportAccess.report_id)
        .where(ReportAccess.user_id == admin.id)
    ).all()
    assert logged == [(held["harassment"], "abuse list")]
