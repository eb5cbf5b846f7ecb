"""The Open311 client against a real HTTP server on a local port: what it sends, what it reads,
and the clear errors it gives for servers that fail, refuse, stall or answer nonsense."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from safer_streets.open311.client import Open311Client, Open311Error


def client_for(endpoint: str, **changes: Any) -> Open311Client:
    return Open311Client(
        endpoint=endpoint, api_key="k3y", jurisdiction_id="lewisham.gov.uk", **changes
    )


def test_posting_a_request_sends_the_key_and_fields_and_reads_the_new_id(server):
    endpoint, script = server
    script.answer(200, [{"service_request_id": "CASE-17", "service_notice": ""}])
    posted = client_for(endpoint).post_request(
        {"service_code": "ASB", "lat": "51.445200", "long": "-0.020700", "description": "Words"}
    )
    assert posted.service_request_id == "CASE-17"
    assert posted.token is None
    method, path, form = script.received[0]
    assert (method, path) == ("POST", "/open311/v2/requests.json")
    assert form["api_key"] == ["k3y"]
    assert form["jurisdiction_id"] == ["lewisham.gov.uk"]
    assert form["service_code"] == ["ASB"]
    assert form["lat"] == ["51.445200"]


def test_a_server_answering_with_a_token_only_is_understood(server):
    endpoint, script = server
    script.answer(200, [{"token": "abc123"}])
    posted = client_for(endpoint).post_request({"service_code": "ASB"})
    assert (posted.service_request_id, posted.token) == (None, "abc123")
    script.answer(200, [{"service_request_id": "CASE-18", "token": "abc123"}])
    assert client_for(endpoint).request_for_token("abc123") == "CASE-18"
    assert script.received[-1][1] == "/open311/v2/tokens/abc123.json"


def test_a_refusal_names_the_servers_own_reasons_and_is_not_worth_repeating(server):
    endpoint, script = server
    script.answer(400, [{"code": 400, "description": "service_code: unknown service 'ASB'"}])
    with pytest.raises(Open311Error) as raised:
        client_for(endpoint).post_request({"service_code": "ASB"})
    assert "HTTP 400" in str(raised.value)
    assert "service_code: unknown service 'ASB'" in str(raised.value)
    assert raised.value.refused


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_a_server_error_is_worth_trying_again(server, status):
    endpoint, script = server
    script.status, script.body = status, b"<html>Bad gateway</html>"
    with pytest.raises(Open311Error) as raised:
        client_for(endpoint).post_request({"service_code": "ASB"})
    assert f"HTTP {status}" in str(raised.value)
    assert "Bad gateway" in str(raised.value)
    assert not raised.value.refused


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html>not json</html>", "not JSON"),
        (b"{}", "not a list of service requests"),
        (b"[]", "not a list of service requests"),
        (b'[{"service_notice": "thanks"}]', "neither service_request_id nor token"),
    ],
)
def test_an_answer_that_is_not_the_spec_document_is_an_error(server, body, words):
    endpoint, script = server
    script.body = body
    with pytest.raises(Open311Error, match=words):
        client_for(endpoint).post_request({"service_code": "ASB"})


def test_a_server_that_does_not_answer_in_time_is_an_error(server):
    endpoint, script = server
    script.delay = 1.0
    with pytest.raises(Open311Error, match=r"no answer within 0\.2 seconds"):
        client_for(endpoint, timeout_seconds=0.2).post_request({"service_code": "ASB"})


def test_a_server_that_is_not_there_is_an_error_that_does_not_give_the_key_away():
    with pytest.raises(Open311Error, match="could not connect"):
        client_for("http://127.0.0.1:9/open311/v2", timeout_seconds=1).post_request({})
    # Updates are read with the key in the query string, which requests' message repeats.
    now = datetime.now(UTC)
    with pytest.raises(Open311Error, match="could not connect") as raised:
        client_for("http://127.0.0.1:9/open311/v2", timeout_seconds=1).updates(now, now)
    assert "servicerequestupdates" in str(raised.value)
    assert "k3y" not in str(raised.value)


def test_updates_are_read_for_a_window(server):
    endpoint, script = server
    script.answer(
        200,
        [
            {
                "update_id": "77",
                "service_request_id": "CASE-17",
                "status": "investigating",
                "updated_datetime": "2026-12-04T10:00:00+00:00",
                "description": "Officers are on it.",
                "media_url": "",
            }
        ],
    )
    start = datetime(2026, 12, 3, 10, tzinfo=UTC)
    end = datetime(2026, 12, 4, 11, tzinfo=UTC)
    [update] = client_for(endpoint).updates(start, end)
    assert update.update_id == "77"
    assert update.status == "investigating"
    assert update.updated_datetime == datetime(2026, 12, 4, 10, tzinfo=UTC)
    assert update.media_url is None
    method, path, query = script.received[0]
    assert (method, path) == ("GET", "/open311/v2/servicerequestupdates.json")
    assert query["start_date"] == ["2026-12-03T10:00:00+00:00"]
    assert query["end_date"] == ["2026-12-04T11:00:00+00:00"]


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"service_request_id": "CASE-17"}, "no update_id"),
        ({"update_id": "1", "service_request_id": "C", "updated_datetime": "soon"}, "bad"),
        (
            {"update_id": "1", "service_request_id": "C", "updated_datetime": "2026-12-04T10:00"},
            "time zone",
        ),
        ("an update", "not an object"),
    ],
)
def test_a_malformed_update_is_an_error(server, item, words):
    endpoint, script = server
    script.answer(200, [item])
    now = datetime.now(UTC)
    with pytest.raises(Open311Error, match=words):
        client_for(endpoint).updates(now, now)
