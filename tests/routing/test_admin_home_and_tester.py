"""The /admin home (counts and links, administrators only) and the routing tester, as a page
and on the command line: the worker's decision, with the matching rules, creating nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from safer_streets.accounts import users
from safer_streets.cli import main
from safer_streets.errors import InvalidInput
from safer_streets.models import Report, ReportEvent, Role
from safer_streets.routing import tester
from tests.helpers import PASSWORD, PASSWORDS, login

CATFORD_BROADWAY = {"lat": "51.4452", "lon": "-0.0207"}
ADMIN_PAGES = [
    "/admin/routing",
    "/admin/routing/try",
    "/admin/needs-attention",
    "/admin/abuse",
    "/admin/api-keys",
    "/triage/team",
    "/admin/disclosure",
    "/admin/access-log",
]


def _signed_in(client, db_session, role: Role, partner: str | None = None):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=f"{role.value}@lewisham.example",
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    db_session.flush()
    login(client, f"{role.value}@lewisham.example")
    return client


def _count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_the_admin_home_counts_and_links_everything(client, db_session, routed_report):
    routed_report(db_session)
    _signed_in(client, db_session, Role.ADMIN)
    page = client.get("/admin")
    assert page.status_code == 200
    for words in (
        "Routed",
        "Routing failed (needs attention)",
        "Held by the abuse list",
        "Emails not yet sent",
        "API keys in use",
        "Admin accounts",
    ):
        assert words in page.text
    links = set(re.findall(r'href="([^"?#]+)"', page.text))
    assert set(ADMIN_PAGES) <= links
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(("role", "partner"), [(Role.STAFF, "lewisham-asb"), (Role.BOARD, None)])
def test_the_admin_home_is_for_administrators(client, db_session, role, partner):
    _signed_in(client, db_session, role, partner)
    assert client.get("/admin").status_code == 403
    assert client.get("/admin/routing/try").status_code == 403


def test_the_tester_says_where_and_why_and_creates_nothing(client, db_session):
    _signed_in(client, db_session, Role.ADMIN)
    reports, events = _count(db_session, Report), _count(db_session, ReportEvent)
    page = client.get(
        "/admin/routing/try", query_string={"category": "drug-dealing", **CATFORD_BROADWAY}
    )
    assert page.status_code == 200
    assert "Met Police Rushey Green Safer Neighbourhood Team would own it" in page.text
    assert "Rushey Green ward" in page.text and "Catford town centre" in page.text
    assert "Lewisham Council Community Safety" in page.text
    assert "Drug dealing in Rushey Green goes to" in page.text
    assert page.text.count('class="decided"') >= 2
    assert (_count(db_session, Report), _count(db_session, ReportEvent)) == (reports, events)


def test_the_tester_reads_reasons_and_places_in_words(client, db_session):
    _signed_in(client, db_session, Role.ADMIN)
    page = client.get(
        "/admin/routing/try",
        query_string={
            "category": "feeling-unsafe",
            "place": "Catford Broadway",
            "reason": "badly-lit",
            "at": "2026-12-03T23:30",
        },
    )
    assert page.status_code == 200
    assert "<dt>Reasons</dt><dd>badly lit</dd>" in page.text
    assert "in Catford town centre" in page.text
    assert "Lewisham Council Highways is notified (borough-wide rule: reason “Badly lit”)" in (
        page.text.replace("&#34;", '"')
    )
    refused = client.get(
        "/admin/routing/try", query_string={"category": "feeling-unsafe", "lat": "north"}
    )
    assert refused.status_code == 422 and "must be a number" in refused.text


def test_rule_conditions_read_as_words(client, db_session):
    _signed_in(client, db_session, Role.ADMIN)
    page = client.get("/admin/routing").text
    assert "reason: badly lit" in page and "reason: badly-lit" not in page


def test_questions_are_checked(db_session):
    with pytest.raises(InvalidInput) as refused:
        tester.parse_question(db_session, category="", lat="91", reasons=["x"])
    assert set(refused.value.field_errors) == {"lat", "category"}
    with pytest.raises(InvalidInput, match="reasons"):
        tester.parse_question(
            db_session, category="drug-dealing", place="Catford", reasons=["badly-lit"]
        )
    asked = tester.parse_question(
        db_session, category="drug-dealing", place="x", at="2026-12-03T22:30"
    )
    assert asked.at.utcoffset() is not None, "a wall-clock time is London time"


def test_the_command_line_tester(app):
    result = app.test_cli_runner().invoke(
        main,
        [
            "routing",
            "try",
            "--lat",
            "51.4452",
            "--lon",
            "-0.0207",
            "--category",
            "drug-dealing",
            "--at",
            "2026-12-03T22:30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Owner: Met Police Rushey Green Safer Neighbourhood Team" in result.output
    assert "Notified: " in result.output and "Matching rules" in result.output
    assert re.search(r" \* rule \d+: ", result.output)
    bad = app.test_cli_runner().invoke(main, ["routing", "try", "--category", "drug-dealing"])
    assert bad.exit_code == 2 and "--place" in bad.output
