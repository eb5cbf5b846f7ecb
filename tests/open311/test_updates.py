"""mySociety's servicerequestupdates: partner systems post status updates back, and anyone can
read the public updates; every update is attributed to its API client and partner."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from safer_streets.models import Report, ReportEvent, ReportStatus
from tests.open311.conftest import read, validate_json, validate_xml
from tests.open311.test_georeport import V2, created_id, post_request, route

SNT = "met-snt-rushey-green"  # owns drug dealing at Catford Broadway
COMMUNITY_SAFETY = "lewisham-community-safety"  # is notified of it


@pytest.fixture
def routed(client, db_session, issue_key) -> Report:
    """Drug dealing at Catford Broadway, routed to the Rushey Green SNT."""
    reference = created_id(
        post_request(client, issue_key("Resident app"), service_code="drug-dealing"), "json"
    )
    return route(db_session, reference)


def post_update(client, key: str | None, reference: str, fmt: str = "json", **fields: str):
    data = {"service_request_id": reference, **fields}
    if key is not None:
        data["api_key"] = key
    return client.post(f"{V2}/servicerequestupdates.{fmt}", data=data)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_the_owner_moves_a_report_along_and_everyone_reads_it(
    client, db_session, issue_key, routed, fmt
):
    key = issue_key("SNT case system", partner=SNT)
    response = post_update(
        client,
        key,
        routed.reference,
        fmt,
        status="IN_PROGRESS",
        description="Patrols booked for Friday night",
        update_id="case-77-1",
        updated_datetime="2026-11-24T09:00:00Z",
        first_name="Sgt",
        last_name="Patel",
    )
    assert response.status_code == 200, response.text
    body = (
        validate_xml("servicerequestupdates-post", response.data)
        if fmt == "xml"
        else response.get_json()
    )
    validate_json("servicerequestupdates-post", body)
    update_id = body[0]["update_id"]

    db_session.refresh(routed)
    assert routed.status is ReportStatus.IN_PROGRESS
    assert routed.acknowledged_at is not None
    event = db_session.get(ReportEvent, int(update_id))
    assert (event.kind, event.from_status, event.to_status) == (
        "status_changed",
        "routed",
        "in_progress",
    )
    assert event.public and event.note == "Patrols booked for Friday night"
    assert event.api_client.name == "SNT case system"
    assert event.data["partner"] == SNT and event.data["update_id"] == "case-77-1"
    assert event.data["author"] == "Sgt Patel"

    _, updates = read(client, "GET", f"{V2}/servicerequestupdates.{fmt}", "servicerequestupdates")
    mine = [u for u in updates if u["service_request_id"] == routed.reference]
    assert [u["status"] for u in mine] == ["open", "in_progress"]
    assert mine[0]["description"] == "Sent to Met Police Rushey Green Safer Neighbourhood Team."
    assert mine[1] == {
        "update_id": update_id,
        "service_request_id": routed.reference,
        "status": "in_progress",
        "updated_datetime": mine[1]["updated_datetime"],
        "description": "Patrols booked for Friday night",
        "media_url": "",
    }
    _, (request,) = read(client, "GET", f"{V2}/requests/{routed.reference}.{fmt}", "requests")
    assert request["status"] == "open"
    assert request["status_notes"] == "Patrols booked for Friday night"


def test_closing_and_reopening_follow_the_workflow(client, db_session, issue_key, routed):
    key = issue_key("SNT", partner=SNT)
    acknowledged = post_update(client, key, routed.reference, status="INVESTIGATING")
    assert acknowledged.status_code == 200
    fixed = post_update(client, key, routed.reference, status="FIXED", description="Arrests made")
    assert fixed.status_code == 200
    db_session.refresh(routed)
    assert routed.status is ReportStatus.RESOLVED and routed.resolved_at is not None
    _, (request,) = read(client, "GET", f"{V2}/requests/{routed.reference}.json", "requests")
    assert request["status"] == "closed"

    response, errors = read(
        client,
        "POST",
        f"{V2}/servicerequestupdates.xml",
        "errors",
        data={"api_key": key, "service_request_id": routed.reference, "status": "INVESTIGATING"},
    )
    assert response.status_code == 400
    assert errors[0]["description"].startswith(
        "status: a resolved report cannot become acknowledged; it can become: in progress"
    )
    reopened = post_update(client, key, routed.reference, status="REOPEN", description="Back")
    assert reopened.status_code == 200
    db_session.refresh(routed)
    assert routed.status is ReportStatus.IN_PROGRESS and routed.resolved_at is None


def test_a_note_without_a_status_change_needs_a_description(client, db_session, issue_key, routed):
    key = issue_key("SNT", partner=SNT)
    response = post_update(client, key, routed.reference, status="OPEN")
    assert response.status_code == 400
    assert response.get_json()[0]["description"] == (
        "description: is required when the status does not change"
    )
    response = post_update(client, key, routed.reference, status="open", description="Seen")
    assert response.status_code == 200
    db_session.refresh(routed)
    assert routed.status is ReportStatus.ROUTED


def test_a_notified_partner_may_add_notes_but_not_change_the_status(
    client, db_session, issue_key, routed
):
    key = issue_key("Community safety CRM", partner=COMMUNITY_SAFETY)
    note = post_update(client, key, routed.reference, status="OPEN", description="CCTV checked")
    assert note.status_code == 200
    response, errors = read(
        client,
        "POST",
        f"{V2}/servicerequestupdates.json",
        "errors",
        data={"api_key": key, "service_request_id": routed.reference, "status": "FIXED"},
    )
    assert response.status_code == 403
    assert errors[0]["description"].startswith(
        "only Met Police Rushey Green Safer Neighbourhood Team, which owns"
    )
    db_session.refresh(routed)
    assert routed.status is ReportStatus.ROUTED


@pytest.mark.parametrize(
    ("partner", "key_name", "message"),
    [
        ("tfl", "TfL", "Transport for London is not handling"),
        (None, "App", "does not act for a partner"),
    ],
)
def test_keys_of_other_partners_or_none_cannot_update(
    client, issue_key, routed, partner, key_name, message
):
    key = issue_key(key_name, partner=partner)
    response = post_update(client, key, routed.reference, "xml", status="FIXED", description="x")
    assert response.status_code == 403
    assert message in validate_xml("errors", response.data)[0]["description"]


def test_updates_need_a_valid_key_a_known_request_and_a_known_status(client, issue_key, routed):
    key = issue_key("SNT", partner=SNT)
    assert post_update(client, None, routed.reference, status="FIXED").status_code == 403
    unknown = post_update(client, key, "LEW-22222", status="FIXED", description="x")
    assert unknown.status_code == 404
    for status, message in (
        ("", "status: is required"),
        ("SOLVED", "status: unknown status 'SOLVED'"),
    ):
        response = post_update(client, key, routed.reference, status=status, description="x")
        assert response.status_code == 400
        assert response.get_json()[0]["description"].startswith(message)
    response = post_update(
        client, key, routed.reference, status="FIXED", updated_datetime="tuesday"
    )
    assert response.status_code == 400
    assert "updated_datetime" in response.text


def test_the_same_update_id_twice_records_one_update(client, db_session, issue_key, routed):
    key = issue_key("SNT", partner=SNT)
    fields = {"status": "INVESTIGATING", "description": "Looking", "update_id": "u-1"}
    first = post_update(client, key, routed.reference, **fields)
    again = post_update(client, key, routed.reference, **fields)
    assert first.get_json() == again.get_json()
    count = db_session.scalar(
        select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == routed.id)
    )
    assert count == 3  # submitted, routed, the update


def test_an_unrouted_report_cannot_be_updated(client, db_session, issue_key):
    reference = created_id(post_request(client, issue_key(), service_code="drug-dealing"), "json")
    response = post_update(
        client, issue_key("SNT", partner=SNT), reference, status="FIXED", description="x"
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "within 90 days"),
        ("end_date=nope", "W3C date and time"),
    ],
)
def test_reading_updates_keeps_to_90_days(client, query, message):
    response, errors = read(client, "GET", f"{V2}/servicerequestupdates.xml?{query}", "errors")
    assert response.status_code == 400 and message in errors[0]["description"]


def test_a_duplicate_names_its_original_in_attribute_duplicate_of(
    client, db_session, issue_key, routed
):
    key = issue_key("SNT", partner=SNT)
    original = route(
        db_session,
        created_id(
            post_request(client, issue_key("Resident app"), service_code="drug-dealing"), "json"
        ),
    )
    for fields, message in (
        ({"status": "DUPLICATE"}, "attribute[duplicate_of]: give the reference of the report"),
        (
            {"status": "DUPLICATE", "attribute[duplicate_of]": "LEW-22222"},
            "attribute[duplicate_of]: there is no report LEW-22222 in your queue",
        ),
        (
            {"status": "DUPLICATE", "attribute[duplicate_of]": routed.reference},
            "attribute[duplicate_of]: a report cannot duplicate itself",
        ),
        (
            {"status": "FIXED", "attribute[duplicate_of]": original.reference},
            "attribute[duplicate_of]: is only for status DUPLICATE",
        ),
    ):
        response, errors = read(
            client,
            "POST",
            f"{V2}/servicerequestupdates.xml",
            "errors",
            data={"api_key": key, "service_request_id": routed.reference, **fields},
        )
        assert response.status_code == 400
        assert errors[0]["description"].startswith(message), errors

    response = post_update(
        client,
        key,
        routed.reference,
        status="DUPLICATE",
        description="Same group, same evening",
        **{"attribute[duplicate_of]": original.reference.lower()},
    )
    assert response.status_code == 200, response.text
    db_session.refresh(routed)
    db_session.refresh(original)
    assert routed.status is ReportStatus.DUPLICATE and routed.duplicate_of is original
    assert original.supporter_count == 1  # the duplicate's reporter now supports the original
    event = db_session.get(ReportEvent, int(response.get_json()[0]["update_id"]))
    assert event.kind == "marked_duplicate" and event.api_client.name == "SNT"
    assert event.note.startswith(f"This is the same problem as report {original.reference}")
    assert event.note.endswith("Same group, same evening")


def test_closing_without_acting_needs_a_reason(client, db_session, issue_key, routed):
    key = issue_key("SNT", partner=SNT)
    for status, words in (
        ("NO_FURTHER_ACTION", "not actionable"),
        ("NOT_COUNCILS_RESPONSIBILITY", "referred"),
    ):
        response, errors = read(
            client,
            "POST",
            f"{V2}/servicerequestupdates.xml",
            "errors",
            data={"api_key": key, "service_request_id": routed.reference, "status": status},
        )
        assert response.status_code == 400
        assert errors == [{"code": 400, "description": f"description: say why it is {words}"}]
    db_session.refresh(routed)
    assert routed.status is ReportStatus.ROUTED
