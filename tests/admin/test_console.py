"""The admin console through the test client: partners and their service levels, categories and
what the public sees, named areas from GeoJSON, and the one history every change writes."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from safer_streets.accounts import users
from safer_streets.models import (
    AdminAction,
    AdminChange,
    AdminEntity,
    Area,
    Category,
    EmailOutbox,
    Partner,
    PartnerSla,
    Role,
    RoutingRule,
)
from safer_streets.notifications import outbox
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, login

OWNER = "lewisham-community-safety"
# Weapons reports at Catford Broadway go to the neighbourhood team.
SNT = "met-snt-rushey-green"
ADMIN_EMAIL = "console-admin@lewisham.example"
CONSOLE_PAGES = [
    "/admin/partners",
    "/admin/partners/new",
    f"/admin/partners/{OWNER}",
    "/admin/categories",
    "/admin/categories/fly-tipping",
    "/admin/areas",
    "/admin/areas/outlines.geojson",
    "/admin/changes",
]
# A square in Catford (inside Lewisham), well away from any existing town centre's edge.
CATFORD_SQUARE = [
    [-0.0240, 51.4430],
    [-0.0170, 51.4430],
    [-0.0170, 51.4470],
    [-0.0240, 51.4470],
    [-0.0240, 51.4430],
]
CATFORD_BROADWAY = {"lat": 51.4452, "lon": -0.0207}


def feature(coordinates, kind="Polygon"):
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def geojson_file(document, name="area.geojson"):
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return (io.BytesIO(raw), name)


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def signed_in(app, db_session, email, role, partner=None):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def admin(csrf_app, db_session):
    return signed_in(csrf_app, db_session, ADMIN_EMAIL, Role.ADMIN)


def post(client, path, data, **kwargs):
    token = csrf_token(client, kwargs.pop("form_page", path))
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def summary_links_resolve(html):
    """Every link in an error summary leads to an element on the page; returns their targets."""
    summaries = re.findall(r'class="error-summary".*?</div>', html, flags=re.S)
    assert summaries, "no error summary"
    targets = [t for summary in summaries for t in re.findall(r'href="#([^"]+)"', summary)]
    for target in targets:
        assert f'id="{target}"' in html, target
    return targets


def changes(db_session, entity):
    return db_session.scalars(
        select(AdminChange).where(AdminChange.entity == entity).order_by(AdminChange.id)
    ).all()


# ---- who may use the console -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.STAFF, Role.BOARD])
def test_only_admins_may_use_the_console(csrf_app, db_session, role):
    partner = OWNER if role is not Role.BOARD else None
    client = signed_in(csrf_app, db_session, f"{role.value}@x.example", role, partner)
    for path in CONSOLE_PAGES:
        assert client.get(path).status_code == 403, path
    csrf_app.config["WTF_CSRF_ENABLED"] = False
    for path in (f"/admin/partners/{OWNER}", "/admin/categories/fly-tipping", "/admin/areas"):
        assert client.post(path, data={"why": "x"}).status_code == 403, path
    assert db_session.scalar(select(func.count()).select_from(AdminChange)) == 0


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/partners")
    assert response.status_code == 302
    assert "/login?next=/admin/partners" in response.headers["Location"]


def test_every_console_page_and_the_api_keys_page_carry_the_admin_navigation(admin):
    for path in [
        *CONSOLE_PAGES[:-3],
        "/admin/areas",
        "/admin/changes",
        "/admin/api-keys",
        "/admin",
    ]:
        page = admin.get(path)
        assert page.status_code == 200, path
        assert 'aria-label="Administration"' in page.text, path
        for link in ("/admin/partners", "/admin/categories", "/admin/areas", "/admin/changes"):
            assert f'href="{link}"' in page.text, (path, link)


def test_the_admin_home_counts_partners_categories_and_areas(admin, db_session):
    page = admin.get("/admin").text
    partners = db_session.scalar(select(func.count()).select_from(Partner))
    assert re.search(rf'href="/admin/partners">Partners</a></dt><dd>{partners}<', page)
    areas = db_session.scalar(select(func.count()).select_from(Area))
    assert re.search(rf'href="/admin/areas">Named areas</a></dt><dd>{areas}<', page)


# ---- partners ----------------------------------------------------------------------------------


def test_a_partners_service_level_sets_the_due_times_of_reports_routed_afterwards(
    admin, db_session, routed_report
):
    before = routed_report(db_session, category="weapons")
    assert before.owner.slug == SNT
    assert before.acknowledge_due_at - before.routed_at == timedelta(hours=24)

    response = post(
        admin,
        f"/admin/partners/{SNT}/service-levels",
        {
            "sla_category": "weapons",
            "sla_hours_to_acknowledge": "2",
            "sla_hours_to_resolve": "72",
            "sla_why": "Weapons reports need a same-morning call back (CSP meeting 3 Dec)",
        },
        form_page=f"/admin/partners/{SNT}",
    )
    assert response.status_code == 303
    after = routed_report(db_session, category="weapons")
    assert after.acknowledge_due_at - after.routed_at == timedelta(hours=2)
    assert after.resolve_due_at - after.routed_at == timedelta(hours=72)
    db_session.refresh(before)
    assert before.acknowledge_due_at - before.routed_at == timedelta(hours=24)

    [change] = changes(db_session, AdminEntity.PARTNER_SLA)
    assert change.action is AdminAction.CREATED
    assert change.entity_key == f"{SNT}/weapons"
    assert change.actor.email == ADMIN_EMAIL
    assert change.after == {"hours_to_acknowledge": 2, "hours_to_resolve": 72}
    page = admin.get(f"/admin/partners/{SNT}").text
    assert "same-morning call back" in page
    assert f"{SNT}/weapons" in page

    removed = post(
        admin,
        f"/admin/partners/{SNT}/service-levels/weapons/remove",
        {"why": "Back to the defaults after the pilot"},
        form_page=f"/admin/partners/{SNT}",
    )
    assert removed.status_code == 303
    default_again = routed_report(db_session, category="weapons")
    assert default_again.acknowledge_due_at - default_again.routed_at == timedelta(hours=24)
    assert [c.action for c in changes(db_session, AdminEntity.PARTNER_SLA)] == [
        AdminAction.CREATED,
        AdminAction.REMOVED,
    ]


def test_changing_a_partners_default_hours_changes_new_reports_due_times(
    admin, db_session, routed_report
):
    partner = routed_report(db_session).owner
    form = {
        "name": partner.name,
        "kind": partner.kind,
        "email": partner.email or "",
        "hours_to_acknowledge": "6",
        "hours_to_resolve": "100",
        "why": "New council service standard",
    }
    before = {
        "hours_to_acknowledge": partner.hours_to_acknowledge,
        "hours_to_resolve": partner.hours_to_resolve,
    }
    response = post(admin, f"/admin/partners/{partner.slug}", form)
    assert response.status_code == 303, response.text
    report = routed_report(db_session)
    assert report.acknowledge_due_at - report.routed_at == timedelta(hours=6)
    assert report.resolve_due_at - report.routed_at == timedelta(hours=100)
    [change] = changes(db_session, AdminEntity.PARTNER)
    assert change.before == before
    assert change.after == {"hours_to_acknowledge": 6, "hours_to_resolve": 100}
    assert change.why == "New council service standard"
    assert change.actor.email == ADMIN_EMAIL


@pytest.mark.parametrize(
    ("acknowledge", "resolve", "field", "message"),
    [
        ("48", "24", "sla_hours_to_resolve", "must be at least the hours to acknowledge (48)"),
        ("0", "24", "sla_hours_to_acknowledge", "must be between 1 and"),
        ("two", "24", "sla_hours_to_acknowledge", "must be a whole number of hours"),
        ("", "24", "sla_hours_to_acknowledge", "enter a number of hours"),
    ],
)
def test_an_invalid_service_level_says_what_is_wrong_and_changes_nothing(
    admin, db_session, acknowledge, resolve, field, message
):
    response = post(
        admin,
        f"/admin/partners/{OWNER}/service-levels",
        {
            "sla_category": "weapons",
            "sla_hours_to_acknowledge": acknowledge,
            "sla_hours_to_resolve": resolve,
            "sla_why": "Trying",
        },
        form_page=f"/admin/partners/{OWNER}",
    )
    assert response.status_code == 422
    assert message in response.text
    assert field in summary_links_resolve(response.text)
    assert db_session.scalar(select(func.count()).select_from(PartnerSla)) == 0
    assert changes(db_session, AdminEntity.PARTNER_SLA) == []


def test_a_change_without_a_why_is_refused(admin, db_session):
    response = post(
        admin,
        f"/admin/partners/{OWNER}/service-levels",
        {"sla_category": "weapons", "sla_hours_to_acknowledge": "2", "sla_hours_to_resolve": "4"},
        form_page=f"/admin/partners/{OWNER}",
    )
    assert response.status_code == 422
    assert "say why" in response.text
    assert db_session.scalar(select(func.count()).select_from(PartnerSla)) == 0


def test_a_new_partner_gets_a_unique_slug_that_never_changes(admin, db_session):
    form = {
        "name": "Lewisham Homes: Estates",
        "kind": "housing",
        "email": "estates@homes.example",
        "why": "Estates team joins the scheme",
    }
    first = post(admin, "/admin/partners/new", form)
    assert first.status_code == 303
    assert first.headers["Location"].endswith("/admin/partners/lewisham-homes-estates")
    second = post(admin, "/admin/partners/new", form)
    assert second.headers["Location"].endswith("/admin/partners/lewisham-homes-estates-2")

    renamed = post(
        admin,
        "/admin/partners/lewisham-homes-estates",
        {**form, "name": "Lewisham Homes Estates Team", "why": "Renamed"},
    )
    assert renamed.status_code == 303
    partner = db_session.scalar(
        select(Partner).where(Partner.name == "Lewisham Homes Estates Team")
    )
    assert partner.slug == "lewisham-homes-estates"
    created = changes(db_session, AdminEntity.PARTNER)[0]
    assert created.action is AdminAction.CREATED
    assert created.after["slug"] == "lewisham-homes-estates"


def test_a_partner_form_with_bad_values_lists_each_problem(admin, db_session):
    response = post(
        admin,
        "/admin/partners/new",
        {
            "name": "",
            "kind": "cartel",
            "email": "not an address",
            "hours_to_acknowledge": "5",
            "why": "",
        },
    )
    assert response.status_code == 422
    summary = response.text.split('id="error-summary"')[1].split("</div>")[0]
    for field in ("name", "kind", "email", "hours_to_resolve", "why"):
        assert f'href="#{field}"' in summary, field
    summary_links_resolve(response.text)
    assert db_session.scalar(select(func.count()).select_from(AdminChange)) == 0


# ---- categories --------------------------------------------------------------------------------


def category_form(db_session, category_slug, **changes):
    db_session.expire_all()  # the app saved through its own session
    category = db_session.scalar(select(Category).where(Category.slug == category_slug))
    form = {
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "position": str(category.position),
        "disclosure_location": category.disclosure_location,
        "disclosure_time": category.disclosure_time,
        "disclosure_description": category.disclosure_description,
    }
    for flag in ("sensitive", "emergency_notice", "public", "disclosure_listed"):
        if getattr(category, flag):
            form[flag] = "on"
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_a_disclosure_change_changes_what_the_public_api_shows(
    admin, client, db_session, routed_report
):
    report = routed_report(db_session, category="fly-tipping", description="Mattresses dumped")
    path = f"/api/v1/reports/{report.reference}"
    assert client.get(path).get_json()["description"] == "Mattresses dumped"

    form = category_form(
        db_session, "fly-tipping", disclosure_description="none", why="Names were being posted"
    )
    preview = post(admin, "/admin/categories/fly-tipping", {**form, "action": "preview"})
    assert preview.status_code == 200
    assert "the public would see" in preview.text
    assert "Your description is never public." in preview.text
    assert client.get(path).get_json()["description"] == "Mattresses dumped"  # nothing saved

    saved = post(admin, "/admin/categories/fly-tipping", {**form, "action": "save"})
    assert saved.status_code == 303
    assert client.get(path).get_json()["description"] is None

    unlisted = category_form(
        db_session, "fly-tipping", disclosure_listed=None, why="Pause public listing"
    )
    assert post(admin, "/admin/categories/fly-tipping", unlisted).status_code == 303
    assert client.get(path).status_code == 404

    [first, second] = changes(db_session, AdminEntity.CATEGORY)
    assert first.before == {"disclosure_description": "full"}
    assert first.after == {"disclosure_description": "none"}
    assert second.after == {"disclosure_listed": False}
    page = admin.get("/admin/categories/fly-tipping").text
    assert "Names were being posted" in page and "Pause public listing" in page
    assert "never shown to the public" in page


def test_a_sensitive_category_is_not_made_listed_or_exact_without_confirmation(admin, db_session):
    form = category_form(
        db_session,
        "harassment",
        disclosure_listed="on",
        disclosure_location="exact",
        why="Testing",
    )
    refused = post(admin, "/admin/categories/harassment", form)
    assert refused.status_code == 422
    assert "confirm_sensitive" in summary_links_resolve(refused.text)
    category = db_session.scalar(select(Category).where(Category.slug == "harassment"))
    db_session.refresh(category)
    assert not category.disclosure_listed
    confirmed = post(admin, "/admin/categories/harassment", {**form, "confirm_sensitive": "on"})
    assert confirmed.status_code == 303
    db_session.refresh(category)
    assert category.disclosure_listed and category.disclosure_location == "exact"


def test_only_the_policys_values_are_accepted_and_the_slug_never_changes(admin, db_session):
    form = category_form(
        db_session, "fly-tipping", disclosure_time="second", slug="tipping", why="x"
    )
    refused = post(admin, "/admin/categories/fly-tipping", form)
    assert refused.status_code == 422
    assert 'href="#disclosure_time"' in refused.text
    renamed = post(
        admin,
        "/admin/categories/fly-tipping",
        category_form(
            db_session, "fly-tipping", name="Dumped rubbish", slug="dumped", why="Plainer"
        ),
    )
    assert renamed.status_code == 303
    assert db_session.scalar(select(Category.slug).where(Category.name == "Dumped rubbish")) == (
        "fly-tipping"
    )


def test_categories_are_listed_in_display_order(admin, db_session):
    page = admin.get("/admin/categories").text
    slugs = db_session.scalars(select(Category.slug).order_by(Category.position, Category.name))
    positions = [page.index(f'id="category-{slug}"') for slug in slugs]
    assert positions == sorted(positions)


# ---- named areas -------------------------------------------------------------------------------


def upload(admin, document, **form):
    data = {"name": "Catford Broadway market", "kind": "town-centre", "why": "Market pilot", **form}
    data["file"] = geojson_file(document)
    data["csrf_token"] = csrf_token(admin, "/admin/areas")
    # A large body is spooled to a temporary file, which the test client leaves open.
    environ = EnvironBuilder(path="/admin/areas", method="POST", data=data).get_environ()
    try:
        return admin.open(environ)
    finally:
        environ["wsgi.input"].close()


def test_an_uploaded_area_is_drawn_and_routing_rules_can_use_it(admin, client, db_session):
    response = upload(admin, {"type": "FeatureCollection", "features": [feature([CATFORD_SQUARE])]})
    assert response.status_code == 303, response.text
    area = db_session.scalar(select(Area).where(Area.slug == "catford-broadway-market"))
    assert area is not None and area.kind == "town-centre"
    assert db_session.scalar(select(func.ST_SRID(Area.geom)).where(Area.id == area.id)) == 4326

    outlines = admin.get("/admin/areas/outlines.geojson").get_json()
    assert "catford-broadway-market" in {f["properties"]["slug"] for f in outlines["features"]}
    page = admin.get("/admin/areas").text
    assert 'data-slug="catford-broadway-market"' in page and "<script>" not in page
    # Residents may follow a town centre's reports on the public map's place list.
    assert "Catford Broadway market" in client.get("/around").text

    rule = post(
        admin,
        "/admin/routing/new",
        {
            "category": "street-lighting",
            "place": "area",
            "area": "catford-broadway-market",
            "partner": "met-snt-rushey-green",
            "role": "owner",
            "why": "Market lighting pilot",
        },
    )
    assert rule.status_code == 303, rule.text
    answer = admin.get(
        "/admin/routing/try",
        query_string={"category": "street-lighting", **CATFORD_BROADWAY},
    ).text
    assert "Catford Broadway market" in answer

    [change] = changes(db_session, AdminEntity.AREA)
    assert change.action is AdminAction.CREATED and change.why == "Market pilot"
    assert change.after["slug"] == "catford-broadway-market"


def test_an_area_used_by_a_rule_cannot_be_removed_but_an_unused_one_can(admin, db_session):
    used = db_session.scalar(
        select(Area).join(RoutingRule, RoutingRule.area_id == Area.id).limit(1)
    )
    refused = post(
        admin, f"/admin/areas/{used.slug}/remove", {"why": "Tidy"}, form_page="/admin/areas"
    )
    assert refused.status_code == 422
    assert "cannot be removed: routing rule" in refused.text
    assert summary_links_resolve(refused.text) == ["remove_area"]
    assert db_session.get(Area, used.id) is not None

    assert upload(admin, feature([CATFORD_SQUARE])).status_code == 303
    removed = post(
        admin,
        "/admin/areas/catford-broadway-market/remove",
        {"why": "Pilot over"},
        form_page="/admin/areas",
    )
    assert removed.status_code == 303
    assert db_session.scalar(select(Area).where(Area.slug == "catford-broadway-market")) is None
    assert [c.action for c in changes(db_session, AdminEntity.AREA)] == [
        AdminAction.CREATED,
        AdminAction.REMOVED,
    ]
    assert "Pilot over" in admin.get("/admin/changes").text


def test_the_changes_page_shows_london_time_in_summer(admin, db_session):
    assert upload(admin, feature([CATFORD_SQUARE])).status_code == 303
    (change,) = changes(db_session, AdminEntity.AREA)
    change.at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    db_session.commit()
    assert "01 Jul 2026, 13:00" in admin.get("/admin/changes").text


def test_replacing_an_outline_keeps_the_slug_and_records_the_change(admin, db_session):
    existing = db_session.scalar(select(Area).order_by(Area.id).limit(1))
    response = upload(
        admin,
        feature([CATFORD_SQUARE]),
        replace=existing.slug,
        name="",
        kind="",
        why="Boundary redrawn",
    )
    assert response.status_code == 303, response.text
    db_session.refresh(existing)
    [change] = changes(db_session, AdminEntity.AREA)
    assert change.action is AdminAction.EDITED and change.entity_key == existing.slug
    assert set(change.after) == {"outline"}


BOW_TIE = [[-0.024, 51.443], [-0.017, 51.447], [-0.017, 51.443], [-0.024, 51.447], [-0.024, 51.443]]
CAMDEN = [[-0.15, 51.54], [-0.14, 51.54], [-0.14, 51.55], [-0.15, 51.55], [-0.15, 51.54]]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "the file is not JSON"),
        (feature([-0.02, 51.44], kind="Point"), "the geometry is a Point"),
        (feature([BOW_TIE]), "not a valid polygon (Self-intersection"),
        (feature([CAMDEN]), "outside Lewisham"),
        (feature([[[y, x] for x, y in CATFORD_SQUARE]]), "longitude and latitude swapped"),
        (
            feature([[[537000, 174000], [538000, 174000], [538000, 175000], [537000, 174000]]]),
            "British National Grid",
        ),
        (b" " * (2 * 1024 * 1024 + 1), "at most 2 MB"),
        (
            feature([[[-0.02 + i * 1e-7, 51.44] for i in range(20_001)] + [[-0.02, 51.44]]]),
            "more than 20,000 points",
        ),
    ],
)
def test_a_bad_upload_gets_a_specific_error_and_changes_nothing(
    admin, db_session, document, message
):
    before = db_session.scalar(select(func.count()).select_from(Area))
    response = upload(admin, document)
    assert response.status_code == 422
    assert message in response.text
    assert summary_links_resolve(response.text) == ["file"]
    assert db_session.scalar(select(func.count()).select_from(Area)) == before
    assert changes(db_session, AdminEntity.AREA) == []


def test_a_new_area_may_not_take_an_existing_areas_name(admin, db_session):
    existing = db_session.scalar(select(Area).order_by(Area.id).limit(1))
    response = upload(admin, feature([CATFORD_SQUARE]), name=existing.name)
    assert response.status_code == 422
    assert "exists already" in response.text


def test_new_report_emails_go_to_every_address_a_partner_is_given(
    admin, db_session, routed_report, settings, mailbox
):
    partner = routed_report(db_session).owner
    form = {
        "name": partner.name,
        "kind": partner.kind,
        "email": "desk@rg.example; Night.Desk@rg.example,desk@rg.example",
        "hours_to_acknowledge": str(partner.hours_to_acknowledge or ""),
        "hours_to_resolve": str(partner.hours_to_resolve or ""),
        "why": "Night desk reads new reports too",
    }
    assert post(admin, f"/admin/partners/{partner.slug}", form).status_code == 303
    db_session.expire_all()
    assert partner.email == "desk@rg.example, Night.Desk@rg.example"

    mailbox.clear()
    report = routed_report(db_session)
    row = db_session.scalar(
        select(EmailOutbox).where(
            EmailOutbox.report_id == report.id, EmailOutbox.partner_id == partner.id
        )
    )
    assert outbox.deliver(
        db_session, row.id, outbox.SmtpMailer.from_settings(settings), settings, datetime.now(UTC)
    )
    [message] = mailbox.wait_for(lambda m: report.reference in m["Subject"])
    assert "desk@rg.example" in message["To"] and "Night.Desk@rg.example" in message["To"]

    refused = post(
        admin, f"/admin/partners/{partner.slug}", {**form, "email": "desk@, x@y.example"}
    )
    assert refused.status_code == 422
    assert "is not an email address" in refused.text
