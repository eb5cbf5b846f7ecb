"""The queue as a partner opens it: open reports, its own first, search by reference, street
or words, rows that say where and what, due times only for the owner, its own wards."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from safer_streets.accounts import users
from safer_streets.casework import queues
from safer_streets.models import ReportStatus, Role
from tests.helpers import PASSWORD, PASSWORDS, login

SNT = "met-snt-rushey-green"  # owns drug dealing at Catford Broadway
COUNCIL = "lewisham-community-safety"  # owns feeling unsafe; notified of drug dealing
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _login_as(client, db_session, email: str, partner: str | None, role: Role = Role.STAFF):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    db_session.flush()
    login(client, email)


def _references(html: str) -> list[str]:
    return re.findall(r">(LEW-[2-9A-Z]{5})</a>", html)


def test_the_queue_opens_on_open_reports_with_its_own_first(client, db_session, routed_report):
    owned = routed_report(db_session, category="feeling-unsafe", description="Dark path")
    notified = routed_report(db_session, description="Dealing by the bus stop")
    resolved = routed_report(db_session, category="feeling-unsafe", description="Fixed now")
    resolved.status = ReportStatus.RESOLVED
    _login_as(client, db_session, "officer@council.example", COUNCIL)

    page = client.get("/triage").text
    assert _references(page) == [owned.reference, notified.reference], "newer notified after"
    assert resolved.reference in _references(client.get("/triage?status=any").text)
    assert resolved.reference in _references(client.get("/triage?status=closed").text)
    assert "/triage?status=any" in page, "All is one click away"


@pytest.mark.parametrize(
    "typed",
    ["{ref}", "{lower}", "{spaced}", "{bare}", "  {lower_bare} "],
)
def test_search_finds_a_reference_typed_any_way(client, db_session, routed_report, typed):
    report = routed_report(db_session)
    routed_report(db_session)
    _login_as(client, db_session, "sgt@rg.example", SNT)
    code = report.reference.removeprefix("LEW-")
    q = typed.format(
        ref=report.reference,
        lower=report.reference.lower(),
        spaced=f"lew {code.lower()}",
        bare=f"LEW{code}",
        lower_bare=f"lew{code.lower()}",
    )
    assert _references(client.get("/triage", query_string={"q": q}).text) == [report.reference]


def test_search_finds_streets_places_and_words(client, db_session, routed_report):
    broadway = routed_report(db_session, description="Lights out and people hanging about")
    elsewhere = routed_report(
        db_session, lat=51.4500, lon=-0.0150, description="Dealing from a parked car"
    )
    _login_as(client, db_session, "sgt@rg.example", SNT)

    def found(q: str) -> set[str]:
        return set(_references(client.get("/triage", query_string={"q": q}).text))

    assert broadway.street and elsewhere.street != broadway.street
    assert found(broadway.street.upper()) == {broadway.reference}
    assert found("light") == {broadway.reference}, "English stemming: light finds lights"
    assert found('"parked car"') == {elsewhere.reference}
    assert found("dealing -car") == set()
    assert found("100%_") == set(), "LIKE wildcards are taken literally"


def test_rows_say_where_what_how_many_and_how_long(client, db_session, routed_report):
    report = routed_report(db_session, description="Dealing outside the shops " + "x" * 200)
    report.supporter_count = 4
    _login_as(client, db_session, "sgt@rg.example", SNT)

    page = client.get("/triage").text
    assert "Dealing outside the shops" in page and "x" * 100 not in page
    assert ">4</td>" in page
    assert re.search(r">(just now|\d+ minutes? ago)</time>", page)
    assert "ack " in page, "the owner sees when to acknowledge by"
    assert 'class="map-legend"' in page and "In progress" in page


def test_due_times_only_for_the_owner_and_only_while_open(client, db_session, routed_report):
    report = routed_report(db_session)
    routed_report(db_session, category="feeling-unsafe").status = ReportStatus.RESOLVED
    _login_as(client, db_session, "officer@council.example", COUNCIL)

    notified = client.get("/triage").text
    assert report.reference in notified
    assert "ack " not in notified and "Missed" not in notified
    assert "fix " not in client.get("/triage?status=resolved").text


def test_a_ward_team_is_offered_its_own_ward(client, db_session):
    _login_as(client, db_session, "sgt@rg.example", SNT)
    page = client.get("/triage").text
    wards = re.search(r'<select id="f-ward" name="ward">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r"<option[^>]*>([^<]+)</option>", wards) == ["Any", "Rushey Green"]


def test_a_search_too_long_is_explained(client, db_session):
    _login_as(client, db_session, "sgt@rg.example", SNT)
    assert client.get("/triage", query_string={"q": "x" * 201}).status_code == 422


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59), "59 minutes ago"),
        (timedelta(hours=3), "3 hours ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=12), "12 days ago"),
        (timedelta(days=130), "4 months ago"),
    ],
)
def test_age_in_words(ago, words):
    assert queues.age_in_words(NOW - ago, NOW) == words
