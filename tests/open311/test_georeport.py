"""Open311 GeoReport v2 end to end on real PostGIS: every response checked against the spec's
schemas in both formats, round trips, every error the spec names, and privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from geo.wards import WardIndex
from safer_streets import places
from safer_streets.disclosure.policy import TimePrecision, truncate
from safer_streets.models import Category, Report, ReportEvent
from safer_streets.routing import processing
from tests.open311.conftest import read, validate_json, validate_xml

V2 = "/open311/v2"
FORMATS = ["xml", "json"]
CATFORD = {"lat": "51.4452", "long": "-0.0207"}
WARDS = WardIndex.from_geojson()
GEOD = Geod(ellps="WGS84")


def post_request(client, key: str | None, fmt: str = "json", **fields: str | list[str]):
    data = {"service_code": "street-lighting", **CATFORD, "description": "Light out", **fields}
    if key is not None:
        data["api_key"] = key
    return client.post(f"{V2}/requests.{fmt}", data=data)


def created_id(response, fmt: str) -> str:
    document = validate_xml("post-response", response.data) if fmt == "xml" else response.get_json()
    if fmt == "json":
        validate_json("post-response", document)
    return document[0]["service_request_id"]


def route(db_session, reference: str) -> Report:
    report = db_session.scalars(select(Report).where(Report.reference == reference)).one()
    processing.process_reports(db_session, [report.id], WARDS, places.Places.default())
    db_session.refresh(report)
    return report


# ---- discovery and services -------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_and_both_formats(client, fmt):
    response, document = read(client, "GET", f"{V2}/discovery.{fmt}", "discovery")
    assert response.status_code == 200
    (endpoint,) = document["endpoints"]
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


def test_services_are_the_categories_in_both_formats(client, db_session):
    _, as_json = read(client, "GET", f"{V2}/services.json", "services")
    _, as_xml = read(client, "GET", f"{V2}/services.xml", "services")
    assert as_xml == as_json
    slugs = list(db_session.scalars(select(Category.slug).order_by(Category.position)))
    assert [s["service_code"] for s in as_json] == slugs
    by_code = {s["service_code"]: s for s in as_json}
    assert by_code["feeling-unsafe"]["metadata"] is True
    assert by_code["drug-dealing"]["metadata"] is False
    assert by_code["harassment"] == {
        "service_code": "harassment",
        "service_name": "Harassment of women and girls",
        "description": (
            "Catcalling, following, intimidation or unwanted sexual behaviour in public."
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": "VAWG, catcalling, followed, intimidation, sexual harassment",
        "group": "Safety",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeling_unsafe_asks_for_the_streetsafe_reasons(client, fmt):
    _, definition = read(client, "GET", f"{V2}/services/feeling-unsafe.{fmt}", "service-definition")
    (attribute,) = definition["attributes"]
    assert attribute["code"] == "reasons"
    assert attribute["datatype"] == "multivaluelist"
    assert attribute["required"] is False and attribute["variable"] is True
    assert [v["key"] for v in attribute["values"]] == [
        "badly-lit",
        "isolated",
        "no-cctv",
        "blind-spots",
        "restricted-visibility",
        "rundown",
        "drugs-or-alcohol",
        "followed",
        "verbal-harassment-individual",
        "verbal-harassment-group",
        "other-harassment",
    ]


def test_a_service_without_questions_has_no_attributes(client):
    _, definition = read(client, "GET", f"{V2}/services/fly-tipping.xml", "service-definition")
    assert definition == {"service_code": "fly-tipping", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_service_is_404_with_an_errors_document(client, fmt):
    response, errors = read(client, "GET", f"{V2}/services/burglary.{fmt}", "errors")
    assert response.status_code == 404
    assert errors[0]["code"] == 404
    assert "burglary" in errors[0]["description"]


@pytest.mark.parametrize("path", ["discovery.html", "services", "nothing.xml", "requests/x.csv"])
def test_unknown_resources_are_404_errors_documents(client, path):
    response, errors = read(client, "GET", f"{V2}/{path}", "errors")
    assert response.status_code == 404 and errors[0]["code"] == 404


def test_a_method_the_resource_does_not_take_is_405_with_allow(client):
    response, errors = read(client, "PUT", f"{V2}/requests.json", "errors")
    assert response.status_code == 405 and errors[0]["code"] == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


# ---- POST requests and reading them back ------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_round_trips_by_id_token_and_list(client, db_session, issue_key, fmt):
    key = issue_key("Civic app")
    response = post_request(
        client,
        key,
        fmt,
        service_code="feeling-unsafe",
        description="Dark underpass",
        email="resident@example.org",
        first_name="Ada",
        last_name="Lovelace",
        phone="020 7946 0000",
        device_id="phone-1",
        account_id="acct-9",
        media_url="https://photos.example.org/1.jpg",
        **{"attribute[reasons][]": ["badly-lit", "no-cctv"]},
    )
    assert response.status_code == 200, response.text
    reference = created_id(response, fmt)
    posted = (
        validate_xml("post-response", response.data) if fmt == "xml" else response.get_json()
    )[0]
    assert posted["account_id"] == "acct-9"
    assert posted["token"]

    _, by_id = read(client, "GET", f"{V2}/requests/{reference}.{fmt}", "requests")
    (request,) = by_id
    assert request["service_request_id"] == reference
    assert request["service_code"] == "feeling-unsafe"
    assert request["status"] == "open"
    # Feeling unsafe is a safety category: its words, reasons and photo stay private until a
    # partner publishes them, the place is a police.uk street point once routed (none before),
    # and the time is the day only.
    assert request["description"] is None
    assert request["media_url"] is None
    assert request["lat"] is None and request["long"] is None
    requested = datetime.fromisoformat(request["requested_datetime"])
    assert requested == truncate(datetime.now(UTC), TimePrecision.DAY)

    _, listed = read(client, "GET", f"{V2}/requests.{fmt}", "requests")
    assert request in listed

    _, token = read(client, "GET", f"{V2}/tokens/{posted['token']}.{fmt}", "tokens")
    assert token == [{"service_request_id": reference, "token": posted["token"]}]

    for body in (
        client.get(f"{V2}/requests/{reference}.{fmt}").text,
        client.get(f"{V2}/requests.{fmt}").text,
    ):
        for private in ("resident@example.org", "Lovelace", "7946", "phone-1", "acct-9"):
            assert private not in body

    report = db_session.scalars(select(Report).where(Report.reference == reference)).one()
    assert report.reasons == ["badly-lit", "no-cctv"]
    assert report.contact_email == "resident@example.org"
    assert (report.contact_name, report.contact_phone) == ("Ada Lovelace", "020 7946 0000")
    assert report.source == "open311"
    assert report.api_client.name == "Civic app"
    submitted = db_session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id)
    ).one()
    assert submitted.api_client_id == report.api_client_id
    assert submitted.data == {
        "device_id": "phone-1",
        "account_id": "acct-9",
        "api_client": "Civic app",
        "partner": None,
    }


def test_a_post_repeated_with_its_idempotency_key_makes_one_request(client, db_session, issue_key):
    key = issue_key("Case system")

    def post(idempotency_key: str, description: str = "Light out", api_key: str = key):
        data = {"service_code": "street-lighting", **CATFORD, "description": description}
        return client.post(
            f"{V2}/requests.json",
            data={**data, "api_key": api_key},
            headers={"Idempotency-Key": idempotency_key},
        )

    first = post("send-1")
    again = post("send-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.get_json() == first.get_json(), "the same id and the same token"
    reference = first.get_json()[0]["service_request_id"]
    assert db_session.scalars(select(Report.reference).where(Report.source == "open311")).all() == [
        reference
    ]

    changed = post("send-1", description="Another light out")
    assert changed.status_code == 409
    assert "already used for a different report" in changed.get_json()[0]["description"]
    other_client = post("send-1", api_key=issue_key("Another app"))
    assert other_client.status_code == 200
    assert other_client.get_json()[0]["service_request_id"] != reference
    assert post("x" * 201).status_code == 400


def test_open311_and_the_json_api_validate_alike(client, issue_key):
    """Both doors lead to one validation: the same mistakes are refused with the same words."""
    key = issue_key()
    bare = {"category": "feeling-unsafe", "lat": 51.4452, "lon": -0.0207}
    json_errors = client.post("/api/v1/reports", json={**bare, "reasons": ["sunny"]}).get_json()
    response = post_request(
        client,
        key,
        service_code="feeling-unsafe",
        description="",
        **{"attribute[reasons]": "sunny"},
    )
    assert response.status_code == 400
    by_field = {e["description"].split(": ", 1)[0]: e["description"] for e in response.get_json()}
    assert by_field["description"] == f"description: {json_errors['errors']['description']}"
    assert json_errors["errors"]["description"] == "is required"
    described = {**bare, "reasons": ["sunny"], "description": "Dark"}
    json_errors = client.post("/api/v1/reports", json=described).get_json()
    response = post_request(
        client, key, service_code="feeling-unsafe", **{"attribute[reasons]": "sunny"}
    )
    (error,) = response.get_json()
    assert error["description"] == f"attribute[reasons]: {json_errors['errors']['reasons']}"


@pytest.mark.parametrize(
    ("fields", "address", "zipcode"),
    [
        ({"address_string": "Catford Broadway"}, "Catford Broadway", None),
        ({"address_string": "se6 4ju"}, "se6 4ju", "SE6 4JU"),
        ({"address_id": "SE6 4JU"}, "SE6 4JU", "SE6 4JU"),
    ],
)
def test_a_request_can_be_placed_by_address(client, issue_key, fields, address, zipcode):
    data = {"service_code": "fly-tipping", "description": "Mattress", **fields}
    data["api_key"] = issue_key()
    response = client.post(f"{V2}/requests.json", data=data)
    assert response.status_code == 200, response.text
    reference = created_id(response, "json")
    _, (request,) = read(client, "GET", f"{V2}/requests/{reference}.json", "requests")
    assert request["address"] == address
    assert request["zipcode"] == zipcode
    assert 51.41 < request["lat"] < 51.50 and -0.08 < request["long"] < 0.04


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address_string": "Chestnut Close"}, "address_string: 'Chestnut Close' could be several"),
        ({"address_string": "Catford"}, "address_string: 'Catford' is not precise enough"),
        ({"address_string": "SE1 7PB"}, "SE1 7PB is outside Lewisham, in Southwark or Lambeth"),
        ({"address_string": "SE17"}, "SE17 is outside Lewisham, in Southwark"),
        ({"address_string": "SE15"}, "'SE15' is not precise enough"),
        ({"address_string": "zzzz qqq"}, "address_string: could not find 'zzzz qqq' in Lewisham"),
        ({"address_id": "Catford Broadway"}, "address_id: must be a Lewisham postcode"),
        ({"address_id": "SE3 7AA"}, "address_id: SE3 7AA is outside Lewisham"),
        ({}, "lat: a location is required: lat and long, address_string or address_id"),
    ],
)
def test_an_unplaceable_address_is_refused_saying_why(client, issue_key, fields, message):
    data = {"service_code": "fly-tipping", "description": "Mattress", "api_key": issue_key()}
    response, errors = read(client, "POST", f"{V2}/requests.xml", "errors", data={**data, **fields})
    assert response.status_code == 400
    (error,) = errors
    assert message in error["description"]


# ---- errors the spec names --------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("key", "message"), [(None, "api_key is required"), ("ssk_0000_nope", "not valid")]
)
def test_posting_without_a_valid_api_key_is_403(client, db_session, fmt, key, message):
    before = db_session.scalar(select(Report.id).order_by(Report.id.desc()).limit(1))
    response = post_request(client, key, fmt)
    assert response.status_code == 403
    errors = validate_xml("errors", response.data) if fmt == "xml" else response.get_json()
    validate_json("errors", errors)
    assert errors[0]["code"] == 403 and message in errors[0]["description"]
    assert db_session.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) == before


def test_a_revoked_key_is_403(client, db_session, issue_key):
    from safer_streets.api import keys

    key = issue_key()
    client_id = keys.authenticate(db_session, key).id
    keys.revoke_client(db_session, client_id, actor=None)
    response = post_request(client, key, "xml")
    assert response.status_code == 403
    assert "revoked" in validate_xml("errors", response.data)[0]["description"]


def test_a_missing_service_code_is_400_and_an_unknown_one_404(client, issue_key):
    key = issue_key()
    response = post_request(client, key, "xml", service_code="")
    assert response.status_code == 400
    assert validate_xml("errors", response.data) == [
        {"code": 400, "description": "service_code: is required"}
    ]
    response = post_request(client, key, "json", service_code="burglary")
    assert response.status_code == 404
    assert "burglary" in response.get_json()[0]["description"]


def test_every_bad_parameter_is_named_in_one_errors_document(client, issue_key):
    response = post_request(
        client,
        issue_key(),
        "json",
        service_code="feeling-unsafe",
        lat="north",
        description="x" * 4001,
        email="not-an-email",
        phone="call me",
        media_url="ftp://example.org/x",
        **{"attribute[reasons][]": ["badly-lit"], "attribute[colour]": "red"},
    )
    assert response.status_code == 400
    errors = response.get_json()
    validate_json("errors", errors)
    assert {e["code"] for e in errors} == {400}
    by_field = {e["description"].split(": ", 1)[0]: e["description"] for e in errors}
    assert set(by_field) == {
        "lat",
        "description",
        "email",
        "phone",
        "media_url",
        "attribute[colour]",
    }
    assert "must be a number" in by_field["lat"]
    assert "at most 4000 characters" in by_field["description"]
    assert "not an attribute of service 'feeling-unsafe'" in by_field["attribute[colour]"]


def test_an_unknown_reason_and_a_point_outside_lewisham_are_named(client, issue_key):
    response = post_request(
        client,
        issue_key(),
        "json",
        service_code="feeling-unsafe",
        lat="51.5072",
        long="-0.1276",
        **{"attribute[reasons][]": ["too-sunny"]},
    )
    by_field = {e["description"].split(": ", 1)[0]: e["description"] for e in response.get_json()}
    assert "not a reason for feeling unsafe in a place: too-sunny" in by_field["attribute[reasons]"]
    assert "outside Lewisham" in by_field["location"]


def test_text_that_cannot_be_stored_is_refused_not_crashed_on(client, issue_key):
    for fields in ({"description": "a\x00b"}, {"device_id": "\x00"}):
        response = post_request(client, issue_key(), "xml", **fields)
        assert response.status_code == 400
        (error,) = validate_xml("errors", response.data)
        assert error["description"] == f"{next(iter(fields))}: must not contain NUL characters"


def test_a_malformed_attribute_parameter_is_400(client, issue_key):
    response = post_request(client, issue_key(), "xml", **{"attribute[reasons": "badly-lit"})
    assert response.status_code == 400
    assert "attribute[reasons" in validate_xml("errors", response.data)[0]["description"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start_date=yesterday", "start_date", "W3C date and time"),
        ("start_date=2026-11-01T10:00:00", "start_date", "time zone"),
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-05-01T00:00:00Z",
            "end_date",
            "within 90 days",
        ),
        (
            "start_date=2026-05-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "end_date",
            "before start_date",
        ),
        ("status=pending", "status", "open or closed"),
        ("service_code=burglary", "service_code", "burglary"),
        ("page=0", "page", "whole number"),
        ("page_size=5000", "page_size", "at most 1000"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_request_filters_are_400(client, query, field, message, fmt):
    response, errors = read(client, "GET", f"{V2}/requests.{fmt}?{query}", "errors")
    assert response.status_code == 400
    assert any(
        e["description"].startswith(f"{field}: ") and message in e["description"] for e in errors
    )


@pytest.mark.parametrize(
    "path", ["services.xml", "requests.json", "requests/LEW-22222.xml", "tokens/abc.json"]
)
def test_another_jurisdiction_is_404(client, path):
    response, errors = read(client, "GET", f"{V2}/{path}?jurisdiction_id=camden.gov.uk", "errors")
    assert response.status_code == 404
    assert "jurisdiction_id" in errors[0]["description"]


def test_our_jurisdiction_is_accepted(client):
    response, _ = read(
        client, "GET", f"{V2}/services.xml?jurisdiction_id=lewisham.gov.uk", "services"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_and_token_are_404(client, fmt):
    for path in (f"requests/LEW-22222.{fmt}", f"tokens/no-such-token.{fmt}"):
        response, errors = read(client, "GET", f"{V2}/{path}", "errors")
        assert response.status_code == 404 and errors[0]["code"] == 404


# ---- GET requests: filters, windows, pages ----------------------------------------------


def test_requests_filter_by_service_status_ids_and_dates(client, db_session, issue_key):
    key = issue_key()
    lighting = created_id(post_request(client, key), "json")
    tipping = created_id(post_request(client, key, service_code="fly-tipping"), "json")
    closed = created_id(post_request(client, key, service_code="graffiti-vandalism"), "json")
    owner_key = issue_key("Council CRM", partner=route(db_session, closed).owner.slug)
    for status, description in (("INVESTIGATING", None), ("FIXED", "Cleaned")):
        update = {"api_key": owner_key, "service_request_id": closed, "status": status}
        if description:
            update["description"] = description
        assert client.post(f"{V2}/servicerequestupdates.json", data=update).status_code == 200

    def ids(query: str) -> list[str]:
        _, found = read(client, "GET", f"{V2}/requests.json?{query}", "requests")
        return [r["service_request_id"] for r in found]

    assert ids("service_code=fly-tipping") == [tipping]
    assert set(ids("service_code=fly-tipping,street-lighting")) == {tipping, lighting}
    assert ids("status=closed") == [closed]
    assert set(ids("status=open")) >= {lighting, tipping} and closed not in ids("status=open")
    assert set(ids("status=open,closed")) >= {lighting, tipping, closed}
    # service_request_id overrides every other filter, as the spec says.
    assert set(ids(f"service_request_id={lighting},{closed}&status=open&service_code=x")) == {
        lighting,
        closed,
    }
    now = datetime.now(UTC)
    recent = f"start_date={(now - timedelta(hours=1)).isoformat()}".replace("+", "%2B")
    assert lighting in ids(recent)
    old = "start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00Z"
    assert ids(old) == []
    # An unencoded "+01:00" (decoded as a space) is still read as a time zone.
    assert lighting in ids(f"end_date={(now + timedelta(hours=1)).isoformat()}")

    _, (closed_request,) = read(client, "GET", f"{V2}/requests/{closed}.xml", "requests")
    assert closed_request["status"] == "closed"
    assert closed_request["status_notes"] == "Cleaned"


def test_requests_are_paged_newest_first(client, db_session, issue_key):
    key = issue_key()
    made = [
        created_id(post_request(client, key, description=f"Light {i}"), "json") for i in range(3)
    ]
    # One test transaction gives every report the same created_at: spread them a minute apart.
    for minutes, reference in enumerate(made):
        report = db_session.scalars(select(Report).where(Report.reference == reference)).one()
        report.created_at = datetime.now(UTC) - timedelta(minutes=10 - minutes)
    db_session.flush()

    def page(number: int) -> list[str]:
        _, found = read(client, "GET", f"{V2}/requests.xml?page_size=2&page={number}", "requests")
        return [r["service_request_id"] for r in found]

    first, second = page(1), page(2)
    assert first[:2] == [made[2], made[1]]
    assert made[0] in second
    assert not set(first) & set(second)


# ---- privacy ----------------------------------------------------------------------------


def test_harassment_requests_are_never_listed_nor_found_by_id(client, db_session, issue_key):
    """Finding 3 of the disclosure issue: harassment and weapons reports never appear one by
    one in Open311, in any format; looking one up is the 404 of an unknown id."""
    key = issue_key()
    references = [
        created_id(
            post_request(
                client,
                key,
                service_code=code,
                description="Man followed me from 12 Example Road",
                media_url="https://photos.example.org/face.jpg",
            ),
            "json",
        )
        for code in ("harassment", "weapons")
    ]
    for reference in references:
        route(db_session, reference)
    for fmt in FORMATS:
        for reference in references:
            found = client.get(f"{V2}/requests/{reference}.{fmt}")
            unknown = client.get(f"{V2}/requests/LEW-ZZZZZ.{fmt}")
            assert found.status_code == unknown.status_code == 404
            assert found.text == unknown.text.replace("LEW-ZZZZZ", reference)
        listed = client.get(f"{V2}/requests.{fmt}?service_request_id={','.join(references)}")
        everything = client.get(f"{V2}/requests.{fmt}").text + listed.text
        for private in (*references, "Example Road", "face.jpg"):
            assert private not in everything
        updates = client.get(f"{V2}/servicerequestupdates.{fmt}").text
        assert not any(reference in updates for reference in references)


def test_safety_requests_show_a_street_point_the_day_and_no_words(client, db_session, issue_key):
    """Finding 2 of the disclosure issue: drug dealing, anti-social behaviour and feeling
    unsafe show the police.uk street point, the day, and no description, postcode or photo
    until a partner publishes them; as the tracking page does."""
    key = issue_key()
    reference = created_id(
        post_request(
            client,
            key,
            service_code="drug-dealing",
            description="drug dealing outside my flat at 12 Example Road",
            media_url="https://photos.example.org/door.jpg",
        ),
        "json",
    )
    report = route(db_session, reference)
    report.postcode = "SE6 4JU"
    db_session.flush()
    for fmt in FORMATS:
        _, (request,) = read(client, "GET", f"{V2}/requests/{reference}.{fmt}", "requests")
        assert request["description"] is None and request["media_url"] is None
        assert request["zipcode"] is None and request["address_id"] is None
        assert request["address"].startswith("On or near ")
        assert (request["lat"], request["long"]) != (51.4452, -0.0207)
        _, _, metres = GEOD.inv(-0.0207, 51.4452, request["long"], request["lat"])
        assert 0 < metres <= 250
        requested = datetime.fromisoformat(request["requested_datetime"])
        assert requested == truncate(report.created_at, TimePrecision.DAY)
        assert "Example Road" not in client.get(f"{V2}/requests.{fmt}").text
    tracking = client.get(f"/track/{reference}").text
    assert request["address"] in tracking and "Example Road" not in tracking

    report.public_description = "Drug dealing reported near the shops."
    db_session.flush()
    _, (request,) = read(client, "GET", f"{V2}/requests/{reference}.json", "requests")
    assert request["description"] == "Drug dealing reported near the shops."


def test_environmental_requests_show_the_spot_the_words_and_the_postcode(
    client, db_session, issue_key
):
    reference = created_id(
        post_request(client, issue_key(), service_code="fly-tipping", description="Sofa"), "json"
    )
    report = route(db_session, reference)
    report.postcode = "SE6 4JU"
    db_session.flush()
    _, (request,) = read(client, "GET", f"{V2}/requests/{reference}.json", "requests")
    assert request["description"] == "Sofa"
    assert (request["lat"], request["long"]) == (51.4452, -0.0207)
    assert request["zipcode"] == request["address_id"] == "SE6 4JU"


def test_a_narrow_date_window_cannot_recover_a_time_the_list_does_not_show(
    client, db_session, issue_key
):
    """Dates filter by the time as published: a safety report made at 14:23 is in every
    window that holds its day's midnight, and in none that holds 14:23 alone."""
    reference = created_id(post_request(client, issue_key(), service_code="drug-dealing"), "json")
    report = route(db_session, reference)
    report.created_at = datetime(2026, 11, 20, 14, 23, 5, tzinfo=UTC)
    db_session.flush()

    def found(start: str, end: str) -> bool:
        query = f"start_date={start}&end_date={end}&service_request_id="
        _, listed = read(client, "GET", f"{V2}/requests.json?{query}", "requests")
        return reference in [r["service_request_id"] for r in listed]

    assert not found("2026-11-20T14:23:00Z", "2026-11-20T14:24:00Z")
    assert found("2026-11-20T00:00:00Z", "2026-11-20T00:00:01Z")


def test_routed_requests_name_the_owner_and_the_emergency_notice(client, db_session, issue_key):
    reference = created_id(
        post_request(client, issue_key(), "xml", service_code="feeling-unsafe"), "xml"
    )
    report = route(db_session, reference)
    report.category.emergency_notice = True
    report.resolve_due_at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    db_session.flush()
    _, (request,) = read(client, "GET", f"{V2}/requests/{reference}.xml", "requests")
    assert request["agency_responsible"] == report.owner.name
    assert request["service_notice"].startswith("If anyone is in danger now, call 999")
    # Due times follow the report's own time precision (the day, for feeling unsafe).
    assert request["expected_datetime"] == "2026-12-01T00:00:00+00:00"


# ---- rate limits ------------------------------------------------------------------------


def test_posting_is_rate_limited_per_key(app_with, issue_key):
    client = app_with(api_write_rate_limit="2 per minute").test_client()
    busy, quiet = issue_key("busy"), issue_key("quiet")
    assert [post_request(client, busy, "xml").status_code for _ in range(2)] == [200, 200]
    response = post_request(client, busy, "xml")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert validate_xml("errors", response.data)[0]["code"] == 429
    assert post_request(client, quiet, "xml").status_code == 200


# ---- robustness -------------------------------------------------------------------------

open311_names = st.sampled_from(
    [
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "description",
        "email",
        "phone",
        "first_name",
        "media_url",
        "attribute[reasons][]",
        "attribute[reasons]",
        "attribute[x]",
        "attribute[",
        "jurisdiction_id",
    ]
)
open311_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["feeling-unsafe", "51.4452", "-0.0207", "badly-lit", "SE6 4JU", "nan"]),
)


@pytest.fixture
def fuzz_key(issue_key) -> str:
    return issue_key("fuzz")


@given(form=st.lists(st.tuples(open311_names, open311_values), max_size=8))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_posted_form_gets_a_spec_answer_never_a_crash(client, fuzz_key, form):
    data = MultiDict([("api_key", fuzz_key), *form])
    response = client.post(f"{V2}/requests.xml", data=data)
    assert response.status_code in (200, 400, 404)
    if response.status_code == 200:
        validate_xml("post-response", response.data)
    else:
        errors = validate_xml("errors", response.data)
        assert {e["code"] for e in errors} == {response.status_code}


@given(
    query=st.dictionaries(
        st.sampled_from(
            ["service_request_id", "service_code", "start_date", "end_date", "status", "page"]
        ),
        st.text(max_size=40),
        max_size=4,
    )
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_query_gets_a_spec_answer_never_a_crash(client, query):
    response = client.get(f"{V2}/requests.json", query_string=query)
    assert response.status_code in (200, 400)
    validate_json("requests" if response.status_code == 200 else "errors", response.get_json())
