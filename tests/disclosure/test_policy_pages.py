"""/privacy for everyone, /admin/disclosure and /admin/access-log for admins: from the policy."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.models import Category, Role
from tests.helpers import PASSWORD, PASSWORDS, login


def signed_in(app, db_session, email, role, partner=None):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    client = app.test_client()
    login(client, email)
    return client


def row_of(page: str, category: str) -> list[str]:
    """The cells of the first table row headed ``category``, as text."""
    row = re.search(rf"<tr><th scope=\"row\">{re.escape(category)}</th>(.*?)</tr>", page)
    assert row, f"no row for {category}"
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_privacy_says_what_the_public_sees_of_each_category_as_stored(client, db_session):
    page = client.get("/privacy").text
    assert row_of(page, "Weapons") == ["No", "Not shown", "Not shown", "Not shown", "Not shown"]
    assert row_of(page, "Fly-tipping")[:2] == ["Yes", "Exact point"]

    # An administrator's change to a category's policy shows at once: the page reads the data.
    fly_tipping = db_session.scalar(select(Category).where(Category.slug == "fly-tipping"))
    fly_tipping.disclosure_location = "ward"
    db_session.flush()
    assert row_of(client.get("/privacy").text, "Fly-tipping")[:2] == ["Yes", "Ward only"]


def test_privacy_says_who_sees_the_reporters_email_and_how_long_it_is_kept(app_with):
    page = app_with(retention_days=90).test_client().get("/privacy").text
    assert "removed 90 days after your report is closed" in page
    assert "Staff of the partner handling it" in page and "Safety board" in page
    assert "Reporter&#39;s contact" in page
    assert "who it was, when and from where is recorded for administrators to check: " in page
    assert "Harassment of women and girls, Weapons." in page


def test_every_public_page_links_to_privacy(client):
    for path in ("/", "/report", "/privacy"):
        assert 'href="/privacy"' in client.get(path).text, path


def test_the_policy_and_the_access_log_are_for_admins_only(app, db_session):
    anonymous = app.test_client()
    for path in ("/admin/disclosure", "/admin/access-log"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    staff = signed_in(app, db_session, "s@x.example", Role.PARTNER_ADMIN, "lewisham-asb")
    board = signed_in(app, db_session, "b@x.example", Role.BOARD)
    for client in (staff, board):
        for path in ("/admin/disclosure", "/admin/access-log"):
            assert client.get(path).status_code == 403


@pytest.fixture
def admin(app, db_session):
    return signed_in(app, db_session, "admin@lewisham.example", Role.ADMIN)


def test_admins_read_the_policy_with_every_audience(admin):
    page = admin.get("/admin/disclosure").text
    assert row_of(page, "Drug dealing")[1] == "Nearest police.uk street point (else the ward)"
    for audience in Audience:
        assert audience.label in page
    assert 'href="/admin/access-log"' in page


def test_admins_see_who_viewed_a_sensitive_report_and_can_filter_by_reference(
    admin, db_session, routed_report
):
    weapons = routed_report(db_session, category="weapons", description="a knife in the bin")
    other = routed_report(db_session, category="harassment", description="followed home")
    viewer = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="officer@met.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=weapons.owner.slug,
    )
    for report, address in ((weapons, "203.0.113.7"), (other, "198.51.100.4")):
        access_log.record_views(
            db_session,
            [disclose(report, Audience.OWNER_STAFF)],
            viewer=viewer,
            surface="report page",
            address=address,
        )
    db_session.flush()

    everything = admin.get("/admin/access-log").text
    assert weapons.reference in everything and other.reference in everything
    assert "officer@met.example" in everything and "203.0.113.7" in everything

    one = admin.get(f"/admin/access-log?reference={weapons.reference.lower()}").text
    assert "203.0.113.7" in one and "report page" in one
    assert "198.51.100.4" not in one
    assert "a knife in the bin" not in one  # the log says who looked, not what they saw

    missing = admin.get("/admin/access-log?reference=LEW-NOSUCH").text
    assert "No report has the reference LEW-NOSUCH" in missing and "203.0.113.7" not in missing
