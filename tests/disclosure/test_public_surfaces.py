"""The public surfaces obey the disclosure policy: the JSON API, Open311, the tracking, sent and
supported pages, and the resident's emails. One regression test per finding of the disclosure
issue in these surfaces, named for what it proves."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from safer_streets.api import keys
from safer_streets.casework import workflow
from safer_streets.disclosure.policy import TimePrecision, truncate
from safer_streets.intake.tracking import tracking_key
from safer_streets.models import EmailOutbox, ReportAccess, ReportStatus
from safer_streets.notifications import outbox
from tests.conftest import CATFORD_BROADWAY
from tests.helpers import body_of

SECRET = "test-secret-key"  # the tests' Settings.secret_key
INTERNAL_REASON = "Re-routed: she lives at 14 Example Street, flat 2"
TYPED_PLACE = "outside my flat 7 on Example Road"
WORDS = "drug dealing outside my flat at 12 Example Road"


def private(reference: str) -> str:
    return f"?key={tracking_key(SECRET, reference)}"


def public_surfaces(reference: str) -> list[str]:
    return [
        f"/api/v1/reports/{reference}",
        f"/open311/v2/requests/{reference}.json",
        f"/open311/v2/requests/{reference}.xml",
        f"/track/{reference}",
        f"/report/{reference}/sent",
        f"/report/{reference}/supported",
    ]


def assert_unknown(client, reference: str) -> None:
    """Every look-up of ``reference`` answers exactly as a reference nobody was given does."""
    for path in public_surfaces(reference):
        found = client.get(path)
        unknown = client.get(path.replace(reference, "LEW-ZZZZZ"))
        assert found.status_code == unknown.status_code == 404, path
        assert found.text == unknown.text.replace("LEW-ZZZZZ", reference), path


# ---- Finding 1: the JSON API ------------------------------------------------------------------


def test_the_api_gives_the_public_wording_of_a_routing_reason_never_staffs(
    client, db_session, routed_report
):
    report = routed_report(db_session, category="anti-social-behaviour", description=WORDS)
    report.routing_reason = INTERNAL_REASON
    db_session.flush()
    body = client.get(f"/api/v1/reports/{report.reference}").get_json()
    assert "Example Street" not in str(body)
    assert body["routing_reason"] == (
        f"Anti-social behaviour reports in {report.ward.name} ward go to {report.owner.name}."
    )


def test_the_api_never_shows_what_the_resident_typed_for_the_place(
    client, db_session, routed_report
):
    report = routed_report(db_session, category="feeling-unsafe", location_text=TYPED_PLACE)
    body = client.get(f"/api/v1/reports/{report.reference}")
    assert "flat 7" not in body.text
    assert "Example Road" not in body.text


def test_the_api_gives_a_safety_report_as_a_street_point_and_a_day(
    client, db_session, routed_report
):
    report = routed_report(db_session, category="drug-dealing", description=WORDS)
    body = client.get(f"/api/v1/reports/{report.reference}").get_json()
    place = body["location"]
    assert place["precision"] == "snapped"
    assert place["label"].startswith("On or near ")
    assert (place["lat"], place["lon"]) != CATFORD_BROADWAY
    assert body["time_precision"] == "day"
    made = datetime.fromisoformat(body["created_at"])
    assert made == truncate(report.created_at, TimePrecision.DAY)
    assert body["description"] is None
    assert "Example Road" not in str(body)


def test_the_api_gives_an_environmental_report_its_spot_and_words(
    client, db_session, routed_report
):
    report = routed_report(db_session, category="fly-tipping", description="Sofa on the pavement")
    body = client.get(f"/api/v1/reports/{report.reference}").get_json()
    assert body["location"]["precision"] == "exact"
    assert (body["location"]["lat"], body["location"]["lon"]) == pytest.approx(CATFORD_BROADWAY)
    assert body["description"] == "Sofa on the pavement"
    assert body["time_precision"] == "exact"


@pytest.mark.parametrize("category", ["harassment", "weapons"])
def test_a_harassment_or_weapons_report_is_unknown_to_every_public_surface(
    client, db_session, routed_report, category
):
    report = routed_report(db_session, category=category, description=WORDS)
    assert_unknown(client, report.reference)
    issued = keys.create_client(db_session, name="Civic app", partner_slug=None, actor=None)
    keyed = client.get(f"/api/v1/reports/{report.reference}", headers={"X-Api-Key": issued.key})
    assert keyed.status_code == 404


def test_a_partners_key_reads_its_own_reports_as_its_staff_and_is_logged(
    client, db_session, routed_report
):
    report = routed_report(db_session, category="harassment", description=WORDS)
    report.routing_reason = INTERNAL_REASON
    db_session.flush()
    owner = keys.create_client(
        db_session, name="SNT case system", partner_slug=report.owner.slug, actor=None
    )
    other = keys.create_client(
        db_session, name="Other case system", partner_slug="lewisham-highways", actor=None
    )
    body = client.get(
        f"/api/v1/reports/{report.reference}", headers={"X-Api-Key": owner.key}
    ).get_json()
    assert body["description"] == WORDS
    assert body["routing_reason"] == INTERNAL_REASON
    assert body["location"]["precision"] == "exact"
    logged = db_session.scalars(
        select(ReportAccess).where(ReportAccess.report_id == report.id)
    ).all()
    assert [(row.api_client_id, row.surface) for row in logged] == [(owner.client.id, "api")]
    # A partner that is not handling it reads it as any other client: not at all.
    outside = client.get(f"/api/v1/reports/{report.reference}", headers={"X-Api-Key": other.key})
    assert outside.status_code == 404


# ---- Finding 2: Open311 and the tracking page agree ----------------------------------------


def test_open311_and_the_tracking_page_show_a_safety_report_alike(
    client, db_session, routed_report
):
    report = routed_report(
        db_session, category="drug-dealing", description=WORDS, location_text=TYPED_PLACE
    )
    (request,) = client.get(f"/open311/v2/requests/{report.reference}.json").get_json()
    page = client.get(f"/track/{report.reference}").text
    api = client.get(f"/api/v1/reports/{report.reference}").get_json()
    assert request["address"] == api["location"]["label"]
    assert request["address"] in page
    assert (request["lat"], request["long"]) == (
        round(api["location"]["lat"], 6),
        round(api["location"]["lon"], 6),
    )
    for text in (str(request), page, str(api)):
        assert "Example Road" not in text and "flat 7" not in text


def test_a_status_change_without_words_is_an_update_nowhere(client, db_session, routed_report):
    """A status change with no words for the resident shows as the report's current status on
    both the tracking page and Open311, and as an update on neither."""
    report = routed_report(db_session, category="fly-tipping")
    owner = keys.create_client(
        db_session, name="Council CRM", partner_slug=report.owner.slug, actor=None
    ).client
    workflow.change_status(
        db_session, owner, report, ReportStatus.IN_PROGRESS, now=datetime.now(UTC)
    )
    workflow.add_note(
        db_session, owner, report, "Crew booked for Friday", public=True, now=datetime.now(UTC)
    )
    db_session.flush()
    feed = client.get("/open311/v2/servicerequestupdates.json").get_json()
    mine = [u for u in feed if u["service_request_id"] == report.reference]
    page = client.get(f"/track/{report.reference}").text
    history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S).group(1)
    assert [u["description"] for u in mine] == [
        f"Sent to {report.owner.name}.",
        "Crew booked for Friday",
    ]
    assert history.count("<li>") == len(mine)
    assert "Being dealt with" in page
    assert mine[-1]["status"] == "in_progress"


# ---- Finding 3: look-ups are rate-limited per address --------------------------------------


@pytest.fixture
def three_lookups(app_with, redis_client):
    app = app_with(lookup_rate_limit="3 per minute")
    redis_client.flushdb()
    yield app
    redis_client.flushdb()


@pytest.mark.parametrize(
    "surface",
    [
        "/track/{}",
        "/api/v1/reports/{}",
        "/open311/v2/requests/{}.json",
        "/report/{}/sent",
        "/report/{}/supported",
    ],
)
def test_the_fourth_look_up_from_one_address_is_429(
    three_lookups, db_session, routed_report, surface
):
    reference = routed_report(db_session, category="fly-tipping").reference
    client = three_lookups.test_client()
    here = {"REMOTE_ADDR": "10.50.0.1"}
    answers = [client.get(surface.format(reference), environ_base=here) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]


# ---- Finding 6: held reports and the sent page ----------------------------------------------


@pytest.mark.parametrize("category", ["fly-tipping", "drug-dealing"])
def test_a_held_report_appears_on_no_public_surface(client, db_session, routed_report, category):
    report = routed_report(db_session, category=category)
    owner = keys.create_client(
        db_session, name="Council CRM", partner_slug=report.owner.slug, actor=None
    ).client
    workflow.add_note(
        db_session, owner, report, "Crew booked for Friday", public=True, now=datetime.now(UTC)
    )
    report.status = ReportStatus.HELD
    db_session.flush()
    assert_unknown(client, report.reference)
    # Not even through its own private link: held is nobody's business but the partnership's.
    held_track = client.get(f"/track/{report.reference}{private(report.reference)}")
    assert held_track.status_code == 404
    for path in ("/open311/v2/requests.json", "/open311/v2/servicerequestupdates.json"):
        assert report.reference not in client.get(path).text, path
    listed = client.get(f"/open311/v2/requests.json?service_request_id={report.reference}")
    assert listed.get_json() == []
    support = client.post(f"/api/v1/reports/{report.reference}/support")
    assert support.status_code == 404


def made_by_form(client, **fields) -> str:
    data = {
        "submission_id": str(uuid.uuid4()),
        "lat": str(CATFORD_BROADWAY[0]),
        "lon": str(CATFORD_BROADWAY[1]),
        "description": "Someone followed me",
        **fields,
    }
    response = client.post("/report", data=data)
    assert response.status_code == 303, response.text
    return re.search(r"/report/(LEW-[2-9A-Z]{5})/sent", response.headers["Location"]).group(1)


def test_the_sent_page_tells_only_the_reporters_browser_whether_they_gave_an_email(app):
    reporter = app.test_client()
    with_email = made_by_form(
        reporter, category="fly-tipping", updates="email", contact_email="resident@example.org"
    )
    without = made_by_form(reporter, category="fly-tipping")
    promise = "We email you when something changes."
    assert promise in reporter.get(f"/report/{with_email}/sent").text
    assert promise not in reporter.get(f"/report/{without}/sent").text
    stranger = app.test_client()
    for reference in (with_email, without):
        page = stranger.get(f"/report/{reference}/sent").text
        assert promise not in page
        assert "resident@example.org" not in page
        # Nor is a stranger given the reporter's private link.
        assert tracking_key(SECRET, reference) not in page


def test_a_harassment_report_is_followed_only_through_its_private_link(app):
    reporter = app.test_client()
    reference = made_by_form(reporter, category="harassment")
    sent = reporter.get(f"/report/{reference}/sent")
    assert sent.status_code == 200
    link = re.search(r'class="private-link" href="([^"]+)">([^<]+)<', sent.text)
    assert link.group(1) == f"/track/{reference}{private(reference)}"
    assert link.group(2) == f"http://safer-streets.test{link.group(1)}"

    stranger = app.test_client()
    assert stranger.get(f"/track/{reference}").status_code == 404
    assert stranger.get(f"/track/{reference}?key=0123456789abcdef0123456789abcdef").status_code == (
        404
    )
    followed = stranger.get(link.group(1))
    assert followed.status_code == 200
    assert reference in followed.text
    assert "Someone followed me" not in followed.text
    # The sent page polls the API while the report is routed: the link opens it there too.
    polled = stranger.get(f"/api/v1/reports/{reference}{private(reference)}")
    assert polled.status_code == 200 and polled.get_json()["description"] is None


def test_the_tracking_page_marks_the_street_point_in_words(client, db_session, routed_report):
    report = routed_report(db_session, category="drug-dealing", description=WORDS)
    page = client.get(f"/track/{report.reference}").text
    label = re.search(r'data-label="(On or near [^"]+)"', page).group(1)
    assert f'<dd translate="no">{label}</dd>' in page
    assert "Example Road" not in page
    day = truncate(report.created_at, TimePrecision.DAY).strftime("%-d %B %Y")
    assert f">{day}</time></dd>" in page


def test_the_tracking_page_has_no_map_at_ward_precision(client, db_session, routed_report):
    report = routed_report(db_session, category="harassment")
    page = client.get(f"/track/{report.reference}{private(report.reference)}").text
    assert 'id="area-map"' not in page
    assert f"{report.ward.name} ward" in page


def test_update_emails_carry_the_private_link(settings, db_session, routed_report):
    report = routed_report(
        db_session, category="harassment", contact_email="resident@example.org", anonymous=False
    )
    owner = keys.create_client(
        db_session, name="SNT case system", partner_slug=report.owner.slug, actor=None
    ).client
    outcome = workflow.add_note(
        db_session, owner, report, "We have spoken to the venue", public=True, now=datetime.now(UTC)
    )
    (email_id,) = outcome.emails
    row = db_session.get(EmailOutbox, email_id)
    message = outbox.compose(db_session, row, settings)
    assert f"/track/{report.reference}{private(report.reference)}" in body_of(message)
