"""Every page, export and API answer obeys the disclosure policy: a walk of the app's URL map.

Reports in each kind of category (and one held for review) carry canary strings in every
private field. Every GET rule is requested, with each report's reference where it takes one,
by each kind of visitor; a canary may appear only where ``disclose(report, audience)`` allows
that field. A new endpoint is walked automatically; one whose arguments the walk cannot fill
must be listed in ``SKIPPED`` with the reason it shows no report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from werkzeug.routing import Rule

from geo.wards import WardIndex
from safer_streets.accounts import users
from safer_streets.db import make_session_factory, session_scope
from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.intake import submission
from safer_streets.models import (
    Partner,
    PartnerAction,
    Report,
    ReportEvent,
    ReportStatus,
    Role,
    User,
)
from safer_streets.places import Places
from safer_streets.routing import processing
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from tests.conftest import CATFORD_BROADWAY
from tests.helpers import PASSWORD, PASSWORDS, login, truncate_live_tables

OWNER = "lewisham-community-safety"
NOTIFIED = "met-snt-rushey-green"

# Endpoints with an argument the walk cannot fill from a report, and why none shows a report.
SKIPPED = {
    "static": "the app's own files (CSS, JavaScript, images)",
    "admin.rule": "one routing rule and its history: no report",
    "console.partner": "one partner, its service levels and their history: no report",
    "console.category": "one category's settings, its public wording and history: no report",
    "console.reason": "one reason's words, order, use counts and history: no report",
    "residents.confirm_page": "an alert's signed confirmation link: the subscription, no report",
    "residents.unsubscribe_page": "an alert's signed unsubscribe link: the subscription, no report",
    "residents.stop_supporter_emails_page": "a supporter's signed stop link: a button, no report",
    "accounts.reset_password": "the set-a-new-password form of a reset link",
    "open311.service_definition": "a category's Open311 definition: no report",
    "open311.token": "answers only the reference a client's own POST token stands for",
    "board.cells_csv": "a hotspot run's cell counts, suppressed like every board aggregate",
    "board.cells_geojson": "a hotspot run's cell counts, suppressed like every board aggregate",
    "actions.edit_page": "the edit form of a partner's own action: staff's words, references",
}
# One report per disclosure profile (environmental, safety, private), and one held for review.
PLANTED = ("fly-tipping", "drug-dealing", "harassment", "street-lighting")
HELD = 3
# Arguments the walk fills: a report's reference, or each format.
REPORT_ARGUMENTS = {"reference", "service_request_id"}
FORMATS = ("json", "xml")
# Query strings without which an endpoint answers nothing about reports.
QUERIES = {
    "resident_api.similar_reports": lambda report: {
        "category": report.category,
        "lat": CATFORD_BROADWAY[0],
        "lon": CATFORD_BROADWAY[1],
    },
}


@dataclass(frozen=True)
class Visitor:
    name: str
    audience: Audience
    role: Role | None = None
    partner: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


VISITORS = (
    Visitor("anonymous", Audience.PUBLIC),
    # No key: the public's view, whatever the client.
    Visitor("keyless API client", Audience.PUBLIC, headers={"Accept": "application/json"}),
    Visitor("board", Audience.BOARD, Role.BOARD),
    Visitor("notified partner's staff", Audience.NOTIFIED_STAFF, Role.STAFF, NOTIFIED),
    Visitor("owner's staff", Audience.OWNER_STAFF, Role.STAFF, OWNER),
)


def _rules() -> list[Rule]:
    """The app's GET rules, from an app that never connects to a database."""
    settings = Settings(secret_key="walk", database_url="postgresql+psycopg://127.0.0.1/unused")
    app = create_app(settings)
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "GET" in rule.methods),
        key=lambda rule: rule.endpoint,
    )


RULES = _rules()
WALKED = [
    rule.endpoint
    for rule in RULES
    if rule.endpoint not in SKIPPED and rule.arguments <= REPORT_ARGUMENTS | {"fmt"}
]


# Surfaces that others are converting to the policy: each case here fails today.
@dataclass(frozen=True)
class Planted:
    """One report's canaries, and whether each visitor may see each of them."""

    reference: str
    category: str
    canaries: dict[str, str]
    allowed: dict[str, frozenset[str]]  # visitor name -> the fields they may see


def _canaries(tag: str, number: int) -> dict[str, str]:
    return {
        "description": f"Canarydesc{tag} seen by the bins",
        "location_text": f"Canaryplace{tag} outside flat 7",
        "contact_email": f"canarymail{tag.lower()}@example.org",
        "contact_name": f"Canaryname{tag}",
        "contact_phone": f"077009001{number:02d}",
        "routing_reason": f"Canaryreason{tag}: she lives at 14 Example Street",
        "internal_note": f"Canarynote{tag} spoke to the caretaker",
    }


def _allowed(report: Report, audience: Audience, canaries: dict[str, str]) -> frozenset[str]:
    shown = disclose(report, audience)
    allowed = set()
    if shown.description and canaries["description"] in shown.description:
        allowed.add("description")
    if shown.location_text:
        allowed.add("location_text")
    if shown.contact is not None:
        allowed.update({"contact_email", "contact_name", "contact_phone"})
    if shown.routing_reason == report.routing_reason:
        allowed.add("routing_reason")
    if shown.internal_notes:
        allowed.add("internal_note")
    return frozenset(allowed)


def _plant(session, places: Places, wards: WardIndex, staff_id: int, number: int, category: str):
    tag = f"{category.split('-')[0].title()}{number}"
    held = number == HELD
    canaries = _canaries(tag, number)
    report, _ = submission.submit_report(
        session,
        submission.parse_submission(
            {
                "category": category,
                "lat": CATFORD_BROADWAY[0],
                "lon": CATFORD_BROADWAY[1],
                "location_text": canaries["location_text"],
                "description": canaries["description"],
                "contact_email": canaries["contact_email"],
            }
        ),
        places=places,
    )
    if held:
        report.status = ReportStatus.HELD
    else:
        processing.process_reports(session, [report.id], wards, places)
        session.refresh(report)
        partners = {p.slug: p for p in session.scalars(select(Partner))}
        report.owner = partners[OWNER]
        report.notified = [partners[NOTIFIED]]
        session.add(
            ReportEvent(
                report_id=report.id,
                actor_id=staff_id,
                kind="note",
                note=canaries["internal_note"],
                public=False,
            )
        )
    report.anonymous = False
    report.contact_email = canaries["contact_email"]
    report.contact_name = canaries["contact_name"]
    report.contact_phone = canaries["contact_phone"]
    report.routing_reason = canaries["routing_reason"]
    session.flush()
    session.refresh(report)
    return Planted(
        report.reference,
        category,
        canaries,
        {v.name: _allowed(report, v.audience, canaries) for v in VISITORS},
    )


def _plant_action(session, staff_id: int, reports: list[Planted]) -> None:
    """An action prompted by every planted report but the held one, so that the public
    pages that show actions show links to reports too."""
    staff = session.get(User, staff_id)
    linked = session.scalars(
        select(Report).where(
            Report.reference.in_([p.reference for p in reports]),
            Report.status != ReportStatus.HELD,
        )
    ).all()
    action = PartnerAction(
        partner_id=staff.partner_id,
        created_by=staff,
        title="Canaryaction new lighting",
        body="Six new street lights by the shops.",
        done_on=date.today(),
        ward_id=linked[0].ward_id,
        reports=list(linked),
    )
    session.add(action)
    session.flush()


@dataclass
class Walk:
    reports: list[Planted]
    # (visitor, endpoint) -> [(url, status, body)]
    pages: dict[tuple[str, str], list[tuple[str, int, str]]]


def _urls(app: Flask, rule: Rule, reports: list[Planted]) -> Iterator[str]:
    adapter = app.url_map.bind("localhost")
    formats = FORMATS if "fmt" in rule.arguments else (None,)
    takes_report = bool(rule.arguments & REPORT_ARGUMENTS)
    for planted in reports if takes_report or rule.endpoint in QUERIES else reports[:1]:
        for fmt in formats:
            values = dict.fromkeys(rule.arguments & REPORT_ARGUMENTS, planted.reference)
            if fmt:
                values["fmt"] = fmt
            if rule.endpoint in QUERIES:
                values.update(QUERIES[rule.endpoint](planted))
            yield adapter.build(rule.endpoint, values, method="GET")


def _client(app: Flask, visitor: Visitor, user_emails: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    if visitor.name in user_emails:
        login(client, user_emails[visitor.name])
    return client


@pytest.fixture(scope="module")
def walk(settings: Settings, engine: Engine, redis_client, ward_index: WardIndex) -> Iterator[Walk]:
    """Plant the reports, then request every walked URL as every visitor, once."""
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False
    factory = make_session_factory(engine)
    places = Places.default()
    emails = {}
    try:
        with session_scope(factory) as session:
            ids = {}
            for visitor in VISITORS:
                if visitor.role is None:
                    continue
                user = users.create_user(
                    session,
                    passwords=PASSWORDS,
                    email=f"{visitor.audience.value}@walk.example",
                    password=PASSWORD,
                    role=visitor.role,
                    partner_slug=visitor.partner,
                )
                emails[visitor.name] = user.email
                ids[visitor.name] = user.id
            reports = [
                _plant(session, places, ward_index, ids["owner's staff"], number, category)
                for number, category in enumerate(PLANTED)
            ]
            _plant_action(session, ids["owner's staff"], reports)
        pages: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
        for visitor in VISITORS:
            for rule in RULES:
                if rule.endpoint not in WALKED:
                    continue
                # Signed in afresh for each endpoint: some (the sign-in page) end the session.
                client = _client(app, visitor, emails)
                for url in _urls(app, rule, reports):
                    response = client.get(url, headers=visitor.headers)
                    body = response.get_data().decode("utf-8", "replace")
                    pages.setdefault((visitor.name, rule.endpoint), []).append(
                        (url, response.status_code, body)
                    )
        yield Walk(reports, pages)
    finally:
        app.extensions["safer_streets"].dispose()
        truncate_live_tables(engine)
        redis_client.flushdb()


@pytest.mark.parametrize(
    ("visitor", "endpoint"),
    [
        pytest.param(v.name, endpoint, id=f"{v.name}-{endpoint}")
        for v in VISITORS
        for endpoint in WALKED
    ],
)
def test_no_surface_shows_more_than_the_policy_allows(walk: Walk, visitor: str, endpoint: str):
    leaks = []
    for url, status, body in walk.pages[(visitor, endpoint)]:
        for planted in walk.reports:
            for name, canary in planted.canaries.items():
                if canary in body and name not in planted.allowed[visitor]:
                    leaks.append(f"{url} ({status}) shows {planted.category}'s {name}")
    assert not leaks, "\n".join(leaks)


def test_actions_link_only_the_reports_the_public_may_see(walk: Walk):
    """A partner's action is shown in public, but a report it links to appears only where the
    policy lists it: never a harassment report, nor one held for review."""
    hidden = [
        p.reference
        for p in walk.reports
        if p.category == "harassment" or p.reference == walk.reports[HELD].reference
    ]
    for endpoint in ("board.published", "residents.around", "residents.feed"):
        for _url, status, body in walk.pages[("anonymous", endpoint)]:
            assert status == 200 and "Canaryaction" in body, endpoint
            assert not [r for r in hidden if r in body], endpoint


def test_the_walk_reaches_what_staff_may_see(walk: Walk):
    """The walk is no proof if nobody sees anything: the owner's staff do see the details."""
    for visitor, seen in (
        ("owner's staff", ("contact_email", "internal_note", "routing_reason")),
        ("notified partner's staff", ("internal_note", "routing_reason")),
    ):
        pages = walk.pages[(visitor, "casework.report_detail")]
        for planted in walk.reports[:3]:
            body = next(body for url, _, body in pages if url.endswith(planted.reference))
            for name in seen:
                assert planted.canaries[name] in body, (visitor, planted.category, name)


def test_every_get_endpoint_is_walked_or_said_to_show_no_report():
    endpoints = {rule.endpoint for rule in RULES}
    unwalkable = endpoints - set(WALKED) - set(SKIPPED)
    assert not unwalkable, (
        f"{sorted(unwalkable)} take arguments the walk cannot fill: teach the walk to fill "
        "them from a report, or add them to SKIPPED saying why they show no report"
    )
    assert set(SKIPPED) <= endpoints, f"SKIPPED names endpoints that are gone: {SKIPPED}"
