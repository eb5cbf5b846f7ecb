"""Open311 refuses out-of-range dates and page numbers with the spec's 400 errors document,
in both formats, where they used to be 500s."""

from __future__ import annotations

import pytest

from safer_streets.models import Report
from tests.open311.conftest import read
from tests.open311.test_georeport import V2, created_id, post_request, route
from tests.open311.test_updates import SNT, post_update

FORMATS = ["xml", "json"]
LISTS = ["requests", "servicerequestupdates"]
PAST_BIGINT = "9223372036854775808"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (f"page={PAST_BIGINT}", "page: must be at most 100000"),
        ("page=100001", "page: must be at most 100000"),
        ("page=" + "9" * 5000, "page: must be at most 100000"),
        ("page=%C2%B2", "page: must be a whole number from 1"),
        (f"page_size={PAST_BIGINT}", "page_size: must be at most 1000"),
        (
            "start_date=9999-12-31T23:59:59Z",
            "start_date: must be between 2000-01-01 and 2100-01-01",
        ),
        (
            "end_date=0001-01-01T00:00:00%2B14:00",
            "end_date: must be between 2000-01-01 and 2100-01-01",
        ),
        ("start_date=0001-01-01", "start_date: must be between 2000-01-01 and 2100-01-01"),
        ("end_date=9999-12-31", "end_date: must be between 2000-01-01 and 2100-01-01"),
    ],
)
@pytest.mark.parametrize("resource", LISTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_out_of_range_pages_and_dates_are_the_spec_s_400(client, resource, query, error, fmt):
    response, errors = read(client, "GET", f"{V2}/{resource}.{fmt}?{query}", "errors")
    assert response.status_code == 400
    assert errors == [{"code": 400, "description": error}]


@pytest.mark.parametrize("resource", LISTS)
def test_the_edges_of_the_ranges_are_still_served(client, resource):
    for query in (
        "page=100000&page_size=1000",
        "start_date=2000-01-01T00:00:00Z",
        "end_date=2100-01-01T00:00:00Z",
    ):
        response = client.get(f"{V2}/{resource}.json?{query}")
        assert response.status_code == 200, (query, response.text)


@pytest.fixture
def dealing(client, db_session, issue_key) -> Report:
    """Drug dealing at Catford Broadway, routed to the Rushey Green SNT."""
    response = post_request(client, issue_key("Resident app"), service_code="drug-dealing")
    return route(db_session, created_id(response, "json"))


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59Z"]
)
def test_an_update_s_own_time_out_of_range_is_refused(client, issue_key, dealing, when):
    response = post_update(
        client,
        issue_key("SNT case system", partner=SNT),
        dealing.reference,
        "json",
        status="IN_PROGRESS",
        updated_datetime=when,
    )
    assert response.status_code == 400
    assert response.get_json() == [
        {
            "code": 400,
            "description": "updated_datetime: must be between 2000-01-01 and 2100-01-01",
        }
    ]
