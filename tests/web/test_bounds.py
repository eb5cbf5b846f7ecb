"""Out-of-range and oversized input is refused at every door with an error naming what is
wrong, never a 500; and a report stored before the bounds existed routes and renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from safer_streets.accounts import users
from safer_streets.cli import main
from safer_streets.intake.importing import COLUMNS
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import Report, ReportStatus, Role
from safer_streets.places import Places
from safer_streets.routing import processing
from safer_streets.routing.rerouting import reroute_open_reports
from tests.helpers import PASSWORD, PASSWORDS, login

CATFORD = {"lat": 51.4452, "lon": -0.0207}
PERRY_VALE = {"lat": 51.4390, "lon": -0.0520}
YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)


def report_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Report))


def api_report(client, **fields):
    body = {"category": "fly-tipping", **CATFORD, "description": "Sofa", **fields}
    return client.post("/api/v1/reports", json=body)


# ---- When it happened: every channel --------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        ("0001-01-01T00:00:00Z", "must be on or after 2000-01-01"),
        ("0001-01-01T00:00:00+14:00", "must be on or after 2000-01-01"),
        ("1999-12-31T23:59:59Z", "must be on or after 2000-01-01"),
        ("9999-12-31T23:59:59-14:00", "cannot be in the future"),
        ("2999-01-01T00:00:00Z", "cannot be in the future"),
    ],
)
def test_the_json_api_refuses_an_occurred_at_out_of_range(client, db_session, occurred_at, message):
    before = report_count(db_session)
    response = api_report(client, occurred_at=occurred_at)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"occurred_at": message}
    assert report_count(db_session) == before


def test_a_phone_clock_a_minute_or_two_ahead_is_not_the_future(client):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert api_report(client, occurred_at=soon).status_code == 201
    assert api_report(client, occurred_at="2000-01-01T00:00:00Z").status_code == 201


@pytest.mark.parametrize("day", ["0001-01-01", "01/01/0001", "31/12/1999"])
def test_the_report_form_refuses_a_date_before_2000(client, db_session, day):
    before = report_count(db_session)
    response = client.post(
        "/report",
        data={
            "category": "fly-tipping",
            "location_text": "SE6 4JU",
            "description": "Sofa",
            "when": "other",
            "occurred_date": day,
            "occurred_time": "00:00",
        },
    )
    assert response.status_code == 422
    assert "Enter a date from 1 January 2000 onwards" in response.text
    assert report_count(db_session) == before


def test_the_csv_import_refuses_an_occurred_at_out_of_range(app, db_session, tmp_path):
    rows = [
        ",".join(COLUMNS),
        "B-1,fly-tipping,Sofa,51.4452,-0.0207,,0001-01-01T00:00:00,,,",
        "B-2,fly-tipping,Sofa,51.4452,-0.0207,,0001-01-01T00:00:00+14:00,,,",
        "B-3,fly-tipping,Sofa,51.4452,-0.0207,,9999-12-31T23:59:59,,,",
    ]
    path = tmp_path / "reports.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = report_count(db_session)
    result = app.test_cli_runner().invoke(main, ["reports", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert "row 2: occurred_at: must be on or after 2000-01-01" in result.output
    assert "row 3: occurred_at: must be on or after 2000-01-01" in result.output
    assert "row 4: occurred_at: cannot be in the future" in result.output
    assert report_count(db_session) == before


# ---- JSON bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("[" * 100_000, "the JSON body is too large: at most 65,536 bytes"),
        ("[" * 5_000, "the JSON is nested too deeply: at most 32 levels"),
        ("{" * 5_000, "the JSON is nested too deeply: at most 32 levels"),
        ('{"a":' * 5_000 + "1" + "}" * 5_000, "the JSON is nested too deeply: at most 32 levels"),
        ('{"category": ' + '"' + "x" * 70_000 + '"}', "the JSON body is too large"),
        ('{"category": "fly-tipping",', "the body is not valid JSON"),
        ('{"lat": ' + "1" * 5_000 + "}", "the body is not valid JSON"),
    ],
)
def test_oversized_deep_or_broken_json_is_a_400_problem(client, db_session, body, detail):
    before = report_count(db_session)
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 400 and problem["detail"].startswith(detail)
    assert report_count(db_session) == before


def test_json_as_deep_as_allowed_reaches_validation(client):
    body = '{"category": ' + "[" * 31 + "]" * 31 + "}"
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["errors"]["category"] == "must be text"


# ---- Whole numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["%C2%B2", "9223372036854775808", "9" * 5000, "0", "11"])
def test_the_places_limit_is_a_small_whole_number(client, limit):
    response = client.get(f"/api/v1/places?q=rushey&limit={limit}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"limit": "must be a whole number from 1 to 10"}


@pytest.fixture
def admin(client, db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@example.org",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    db_session.flush()
    login(client, "admin@example.org")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/routing/99999999999999999999"),
        ("GET", "/admin/routing/2147483648"),
        ("POST", "/admin/routing/9223372036854775808/active"),
        ("POST", "/admin/api-keys/99999999999999999999/revoke"),
        ("POST", "/admin/abuse/99999999999999999999/remove"),
        ("GET", "/board/runs/99999999999999999999/cells.csv"),
        ("GET", "/board/runs/%C2%B2/cells.geojson"),
    ],
)
def test_an_id_past_postgresql_s_integers_is_404(client, admin, method, path):
    assert client.open(path, method=method).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999", "9" * 5000, "%C2%B2", "0"])
def test_a_triage_page_out_of_range_is_explained(client, admin, page):
    response = client.get(f"/triage?page={page}")
    assert response.status_code == 422


def test_a_triage_form_s_odd_version_is_no_version(client, db_session, routed_report, admin):
    report = routed_report(db_session)
    path = f"/triage/reports/{report.reference}"
    assert (
        client.post(f"{path}/inspect", data={"version": "²", "status": "acknowledged"}).status_code
        == 303
    )
    response = client.post(
        "/triage/bulk",
        data={"selected": f"{report.reference}@²", "action": "priority", "value": "high"},
    )
    assert response.status_code == 303


# ---- Signing in: where next ------------------------------------------------------------------


@pytest.fixture
def staff(db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="staff@example.org",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-asb",
    )
    db_session.flush()
    return {"email": "staff@example.org", "password": PASSWORD}


@pytest.mark.parametrize(
    "next_",
    [
        "/triage%0d%0aX-Injected:%201",
        "/triage%0aX-Injected:%201",
        "//evil.example/",
        "/%5Cevil.example",
        "https://evil.example/triage",
        "/%09/evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_ignores_a_next_that_is_not_a_page_of_this_site(client, staff, next_):
    response = client.post(f"/login?next={next_}", data=staff)
    assert response.status_code == 303
    assert response.headers["Location"] == "/triage"
    assert "X-Injected" not in response.headers
    assert client.get("/triage").status_code == 200


def test_sign_in_goes_on_to_the_page_asked_for(client, staff):
    response = client.post("/login?next=%2Ftriage%3Fstatus%3Dopen%26sort%3Ddue", data=staff)
    assert response.headers["Location"] == "/triage?status=open&sort=due"


def test_a_page_that_asks_for_sign_in_is_returned_to_whole(client, staff):
    asked = client.get("/triage?status=open&sort=due&ward=rushey-green")
    assert asked.status_code == 302
    signed_in = client.post(asked.headers["Location"], data=staff)
    assert signed_in.headers["Location"] == "/triage?status=open&sort=due&ward=rushey-green"


# ---- Reports stored before the bounds --------------------------------------------------------


def _stored(db_session, *, occurred_at: datetime, created_at: datetime, **fields) -> Report:
    """A report as intake stored it before occurred_at was bounded."""
    values = {"category": "anti-social-behaviour", **PERRY_VALE, "description": "Noise", **fields}
    report, _ = submit_report(db_session, parse_submission(values), places=Places.default())
    db_session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(occurred_at=occurred_at, created_at=created_at)
    )
    db_session.refresh(report)
    return report


def test_a_report_with_a_year_1_time_routes_in_its_batch_by_when_it_was_received(
    db_session, ward_index
):
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    at_night = _stored(db_session, occurred_at=YEAR_1, created_at=late)
    at_noon = _stored(db_session, occurred_at=YEAR_1, created_at=noon)
    fine = _stored(db_session, occurred_at=late, created_at=late)
    ids = [at_night.id, at_noon.id, fine.id]

    # One batch, no exception: the task never falls back to one report at a time.
    assert processing.process_reports(db_session, ids, ward_index, Places.default()) == ids
    for report in (at_night, at_noon, fine):
        db_session.refresh(report)
        assert report.status is ReportStatus.ROUTED
    notified = {r.id: {p.slug for p in r.notified} for r in (at_night, at_noon, fine)}
    # The out-of-hours rule (22:00-06:00) reads when it was received instead.
    assert "lewisham-out-of-hours" in notified[at_night.id]
    assert "lewisham-out-of-hours" not in notified[at_noon.id]
    assert "lewisham-out-of-hours" in notified[fine.id]
    # Re-routing keys reports by the same time, so it finds nothing to change.
    assert reroute_open_reports(db_session, None, dry_run=True).changed == 0


def test_a_report_with_a_year_1_time_shows_on_the_triage_pages(client, db_session, ward_index):
    report = _stored(db_session, occurred_at=YEAR_1, created_at=datetime.now(UTC))
    processing.process_reports(db_session, [report.id], ward_index, Places.default())
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="asb@example.org",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-asb",
    )
    db_session.flush()
    login(client, "asb@example.org")
    page = client.get(f"/triage/reports/{report.reference}")
    assert page.status_code == 200
    assert "0001-01-01T00:00+00:00" in page.text
    assert report.reference in client.get("/triage").text
