"""The /triage queue and its CSV export: filters, counts, sorting, pages, bad input."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from safer_streets.accounts import users
from safer_streets.casework import export, queues, workflow
from safer_streets.models import Priority, Role
from tests.helpers import PASSWORD, PASSWORDS, login

NOW = datetime.now(UTC)
OWNER = "met-snt-rushey-green"
LEWISHAM_CENTRAL = {"lat": 51.4620, "lon": -0.0130}  # Lewisham Central, outside Catford
RUSHEY_GREEN_OUTSIDE_CATFORD = {"lat": 51.4500, "lon": -0.0150}


@pytest.fixture
def sergeant(db_session):
    return users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=OWNER,
    )


def in_order(response) -> list[str]:
    return re.findall(r">(LEW-[2-9A-Z]{5})</a>", response.text)


def refs(response) -> set[str]:
    return set(in_order(response))


def test_filters_by_ward_area_category_and_assignment(client, db_session, routed_report, sergeant):
    catford = routed_report(db_session, description="Catford Broadway")
    outside_centre = routed_report(db_session, **RUSHEY_GREEN_OUTSIDE_CATFORD)
    elsewhere = routed_report(db_session, **LEWISHAM_CENTRAL)
    lighting = routed_report(db_session, category="street-lighting")
    board = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="board@example.org",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    workflow.assign(db_session, sergeant, outside_centre, sergeant.id, now=NOW)
    db_session.flush()

    login(client, board.email)
    assert refs(client.get("/triage?ward=rushey-green")) >= {catford.reference, lighting.reference}
    assert elsewhere.reference not in refs(client.get("/triage?ward=rushey-green"))
    in_centre = refs(client.get("/triage?area=catford-town-centre"))
    assert catford.reference in in_centre and outside_centre.reference not in in_centre
    assert refs(client.get("/triage?category=street-lighting")) == {lighting.reference}

    client.post("/logout")
    login(client, sergeant.email)
    mine = client.get("/triage?assigned=me")
    assert refs(mine) == {outside_centre.reference}
    everything = refs(client.get("/triage"))
    assert lighting.reference not in everything, "highways' report is not in the SNT queue"
    assert elsewhere.reference not in everything


def test_counts_status_filter_sorting_and_pages(client, db_session, routed_report, sergeant):
    made = [routed_report(db_session, description=f"Report {i}") for i in range(53)]
    workflow.acknowledge(db_session, sergeant, made[0], now=NOW)
    workflow.set_priority(db_session, sergeant, made[1], "urgent", now=NOW)
    db_session.flush()
    login(client, sergeant.email)

    page = client.get("/triage")
    assert "Routed (52)" in page.text and "Acknowledged (1)" in page.text
    assert "Page 1 of 2" in page.text
    assert len(refs(page)) == 50
    second = client.get("/triage?page=2")
    assert len(refs(second)) == 3
    assert refs(page).isdisjoint(refs(second))
    assert refs(client.get("/triage?status=acknowledged")) == {made[0].reference}
    by_priority = in_order(client.get("/triage?sort=priority"))
    assert by_priority[0] == made[1].reference, "the urgent one first"
    assert by_priority[1:3] == [made[52].reference, made[51].reference], "then newest first"
    oldest = in_order(client.get("/triage?sort=oldest")) + in_order(
        client.get("/triage?sort=oldest&page=2")
    )
    assert oldest == [report.reference for report in made]


def test_breached_filter_shows_missed_service_levels(client, db_session, routed_report, sergeant):
    late = routed_report(db_session)
    on_time = routed_report(db_session)
    late.acknowledge_due_at = NOW - timedelta(hours=1)
    db_session.flush()
    login(client, sergeant.email)
    page = client.get("/triage?breached=yes")
    assert refs(page) == {late.reference}
    assert "Missed: acknowledge" in page.text
    assert on_time.reference in client.get("/triage").text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("status=lost", "Status", "is not one of the choices"),
        ("priority=asap", "Priority", "is not one of the choices"),
        ("page=0", "Page", "must be 1 or more"),
        ("page=two", "Page", "must be a whole number"),
        ("ward=atlantis", "Ward", "no ward called &#39;atlantis&#39;"),
        ("area=Catford+Town+Centre%21", "Area", "is not a valid name"),
        ("sort=random", "Sort", "is not one of the choices"),
        ("age=1y", "Age", "is not one of the choices"),
        ("breached=maybe", "Breached", "must be yes or no"),
    ],
)
def test_bad_filters_get_a_clear_message_not_a_500(
    client, db_session, sergeant, query, field, message
):
    login(client, sergeant.email)
    response = client.get(f"/triage?{query}")
    assert response.status_code == 422
    assert f"{field}: {message}" in response.text
    refused = client.get(f"/triage/export.csv?{query}")
    assert refused.status_code == 422


def test_csv_export_streams_the_filtered_queue_with_contact_only_for_the_owner(
    client, db_session, routed_report, sergeant
):
    shared = routed_report(
        db_session,
        description='=HYPERLINK("http://evil.example")',
        contact_email="resident@example.org",
        anonymous=False,
    )
    workflow.add_note(db_session, sergeant, shared, "We are on it", public=True, now=NOW)
    officer = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="officer@cs.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-community-safety",
    )
    db_session.flush()
    login(client, sergeant.email)

    response = client.get("/triage/export.csv?ward=rushey-green")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == list(export.EXPORT_COLUMNS)
    row = next(r for r in rows if r["reference"] == shared.reference)
    assert row["contact_email"] == "resident@example.org"
    assert row["description"] == '\'=HYPERLINK("http://evil.example")'
    assert row["ward"] == "Rushey Green" and row["owner"].startswith("Met Police Rushey Green")
    assert row["public_updates"] == "1" and row["status"] == "routed"
    assert float(row["latitude"]) == pytest.approx(51.4452)
    assert float(row["longitude"]) == pytest.approx(-0.0207), "numbers are not 'guarded'"

    client.post("/logout")
    login(client, officer.email)
    notified_rows = list(csv.DictReader(io.StringIO(client.get("/triage/export.csv").text)))
    assert (
        next(r for r in notified_rows if r["reference"] == shared.reference)["contact_email"] == ""
    )


def test_the_queue_map_has_markers_of_the_filtered_reports_from_its_own_request(
    client, db_session, routed_report, sergeant
):
    here = routed_report(db_session)
    there = routed_report(db_session, **RUSHEY_GREEN_OUTSIDE_CATFORD)
    login(client, sergeant.email)
    page = client.get("/triage?area=catford-town-centre").text
    assert 'id="queue-map"' in page and "vendor/leaflet/leaflet.js" in page
    assert "tile.openstreetmap.org" in page
    assert 'data-points="/triage/map.json?area=catford-town-centre"' in page

    markers = client.get("/triage/map.json?area=catford-town-centre")
    assert markers.headers["Cache-Control"] == "no-store"
    assert [p["reference"] for p in markers.json["points"]] == [here.reference]
    assert markers.json["points"][0]["category"] == here.category.name
    assert markers.json["points"][0]["status"] == "routed"
    everywhere = client.get("/triage/map.json").json["points"]
    assert {p["reference"] for p in everywhere} == {here.reference, there.reference}

    wrong = client.get("/triage/map.json?ward=atlantis")
    assert wrong.status_code == 422 and "ward" in wrong.json["fields"]


def test_the_queue_map_is_for_signed_in_staff_only(client, db_session, routed_report):
    routed_report(db_session)
    response = client.get("/triage/map.json")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("sort", list(queues.Sort))
def test_few_matches_are_put_in_the_same_order_as_the_walk_along_the_index(
    db_session, routed_report, sergeant, sort
):
    made = [routed_report(db_session, description=f"Report {i}") for i in range(12)]
    for i, report in enumerate(made):
        report.priority = list(Priority)[i % 4]
        report.supporter_count = i % 3
        report.created_at = NOW - timedelta(hours=i % 5)  # ties broken by id
        report.resolve_due_at = NOW + timedelta(hours=(i * 7) % 11)
    db_session.flush()

    def stretch(few: bool | None, offset: int) -> list[int]:
        return queues._ordered_ids(db_session, sergeant, [], sort, limit=5, offset=offset, few=few)

    for offset in (0, 5, 10):
        walked = stretch(False, offset)
        assert stretch(True, offset) == walked
        assert stretch(None, offset) == walked
    assert sorted(stretch(False, 0) + stretch(False, 5) + stretch(False, 10)) == sorted(
        r.id for r in made
    )
