"""Submissions are rate-limited per client and per area, with a clear 429 and Retry-After; an
IPv6 client is counted by its /64."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from safer_streets.web.clients import address_bucket

REPORT = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}


@pytest.fixture
def limited_client(app_with, redis_client):
    app = app_with(submission_rate_limit="2 per hour", area_rate_limit="3 per hour")
    redis_client.flushdb()
    yield app.test_client()
    redis_client.flushdb()


def test_one_address_sending_too_many_form_reports_is_told_to_wait(limited_client):
    form = {**REPORT, "when": "now"}
    codes = [
        limited_client.post(
            "/report", data=form, environ_base={"REMOTE_ADDR": "10.0.0.1"}
        ).status_code
        for _ in range(2)
    ]
    assert 429 not in codes
    refused = limited_client.post("/report", data=form, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_one_area_flooded_from_many_addresses_is_slowed_for_every_channel(limited_client):
    for n in range(3):
        response = limited_client.post(
            "/api/v1/reports", json=REPORT, environ_base={"REMOTE_ADDR": f"10.0.1.{n}"}
        )
        assert response.status_code == 201
    refused = limited_client.post(
        "/api/v1/reports", json=REPORT, environ_base={"REMOTE_ADDR": "10.0.2.1"}
    )
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"]
    elsewhere = limited_client.post(
        "/api/v1/reports",
        json={**REPORT, "lat": 51.4300, "lon": -0.0200},
        environ_base={"REMOTE_ADDR": "10.0.2.1"},
    )
    assert elsewhere.status_code == 201


# ---- How addresses are counted --------------------------------------------------------------


ipv6_networks = st.integers(min_value=0, max_value=2**64 - 1)
hosts = st.integers(min_value=0, max_value=2**64 - 1)


@given(network=ipv6_networks, one=hosts, other=hosts)
def test_ipv6_addresses_count_by_their_64_network(network, one, other):
    first = ipaddress.IPv6Address((network << 64) | one)
    second = ipaddress.IPv6Address((network << 64) | other)
    assume(first.ipv4_mapped is None)
    assert address_bucket(str(first)) == address_bucket(str(second))
    assert address_bucket(str(first)).endswith("/64")
    neighbour = ipaddress.IPv6Address((((network + 1) % 2**64) << 64) | one)
    assume(neighbour.ipv4_mapped is None)
    assert address_bucket(str(neighbour)) != address_bucket(str(first))


@given(address=st.ip_addresses(v=4))
def test_ipv4_addresses_count_as_they_are_also_when_mapped_to_ipv6(address):
    assert address_bucket(str(address)) == str(address)
    assert address_bucket(f"::ffff:{address}") == str(address)


@given(text=st.text(max_size=60))
def test_anything_else_is_counted_as_it_is(text):
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        assert address_bucket(text) == text
