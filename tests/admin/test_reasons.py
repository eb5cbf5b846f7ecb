"""Reasons as data: the taxonomy read from the ``reason`` table, and the admin pages that add,
reword, reorder, retire and restore them, as residents, clients, routing and staff then see."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from safer_streets import taxonomy
from safer_streets.admin_console import reasons
from safer_streets.errors import NotAllowed
from safer_streets.models import AdminAction, AdminEntity, CategoryReason, Role, User
from safer_streets.routing.processing import RoutingDataCache
from tests.admin.test_console import (
    ADMIN_EMAIL,
    changes,
    post,
    signed_in,
    summary_links_resolve,
)

SEEDED = [
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
NEW_REASON = {
    "category": "feeling-unsafe",
    "key": "poor-sightlines",
    "label": "Poor sightlines at a corner",
    "help": "You cannot see who is round the corner until you reach it.",
    "why": "Asked for at the Catford ward panel",
}


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def admin(csrf_app, db_session):
    return signed_in(csrf_app, db_session, ADMIN_EMAIL, Role.ADMIN)


def add_reason(client, **changes):
    return post(client, "/admin/reasons", {**NEW_REASON, **changes})


def stored(db_session, key, category="feeling-unsafe"):
    db_session.expire_all()  # the app saved through its own session
    taxonomy.forget(db_session)
    return db_session.scalar(select(CategoryReason).where(CategoryReason.key == key))


# ---- the taxonomy, from the database ---------------------------------------------------------


def test_the_seeded_reasons_are_read_from_the_database_in_order(db_session):
    offered = taxonomy.reasons_for(db_session, "feeling-unsafe")
    assert [r.key for r in offered] == SEEDED
    assert offered[7].label == "I was followed"
    assert taxonomy.reasons_for(db_session, "fly-tipping") == ()
    assert taxonomy.invalid_reasons(db_session, "feeling-unsafe", ["isolated", "nope"]) == ["nope"]
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", ["followed", "badly-lit"]) == [
        "Badly lit",
        "I was followed",
    ]


def test_a_change_made_anywhere_is_read_after_it_is_committed(db_session):
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", ["badly-lit"]) == ["Badly lit"]
    # SQL by hand, as an operator might: the table's trigger moves the data version.
    db_session.execute(
        update(CategoryReason).where(CategoryReason.key == "badly-lit").values(label="Poorly lit")
    )
    db_session.commit()
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", ["badly-lit"]) == ["Poorly lit"]


def test_a_rolled_back_change_never_passes_for_a_later_one(db_session):
    def relabel(label):
        db_session.execute(
            update(CategoryReason).where(CategoryReason.key == "isolated").values(label=label)
        )
        db_session.commit()
        return taxonomy.reason_labels(db_session, "feeling-unsafe", ["isolated"])

    savepoint = db_session.begin_nested()
    db_session.execute(
        update(CategoryReason).where(CategoryReason.key == "isolated").values(label="Deserted")
    )
    taxonomy.forget(db_session)
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", ["isolated"]) == ["Deserted"]
    savepoint.rollback()
    # The same data version number again, written by another transaction.
    assert relabel("Empty at night") == ["Empty at night"]


def test_routing_reloads_reason_words_when_a_reason_changes(db_session):
    cache = RoutingDataCache()
    rules = cache.current(db_session).table.rules
    assert {r.reason_label for r in rules if r.reason == "badly-lit"} == {"Badly lit"}
    db_session.execute(
        update(CategoryReason).where(CategoryReason.key == "badly-lit").values(label="Poorly lit")
    )
    db_session.commit()
    rules = cache.current(db_session).table.rules
    assert {r.reason_label for r in rules if r.reason == "badly-lit"} == {"Poorly lit"}


# ---- adding a reason -------------------------------------------------------------------------


def test_an_added_reason_is_offered_on_the_form_to_clients_and_to_rules(admin, client, db_session):
    response = add_reason(admin)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/reasons/feeling-unsafe/poor-sightlines")
    reason = stored(db_session, "poor-sightlines")
    assert (reason.label, reason.position, reason.retired) == (
        "Poor sightlines at a corner",
        len(SEEDED),  # after the others
        False,
    )
    [change] = changes(db_session, AdminEntity.REASON)
    assert change.action is AdminAction.CREATED
    assert change.entity_key == "feeling-unsafe/poor-sightlines"
    assert change.why == "Asked for at the Catford ward panel"
    assert change.actor.email == ADMIN_EMAIL
    assert change.after["label"] == "Poor sightlines at a corner"

    form = client.get("/report").text
    assert 'value="poor-sightlines"' in form and "Poor sightlines at a corner" in form
    assert "You cannot see who is round the corner" in form
    services = client.get("/open311/v2/services/feeling-unsafe.json").get_json()
    values = services["attributes"][0]["values"]
    assert values[-1] == {"key": "poor-sightlines", "name": "Poor sightlines at a corner"}
    api = {c["slug"]: c for c in client.get("/api/v1/categories").get_json()}
    assert {"key": "poor-sightlines", "label": "Poor sightlines at a corner"} in api[
        "feeling-unsafe"
    ]["reasons"]
    assert 'value="poor-sightlines"' in admin.get("/admin/routing/new").text
    listed = admin.get("/admin/reasons").text
    assert (
        "Poor sightlines at a corner" in listed and "Asked for at the Catford ward panel" in listed
    )


def test_a_report_may_give_the_new_reason_through_the_api(admin, client, db_session):
    assert add_reason(admin).status_code == 303
    body = {
        "category": "feeling-unsafe",
        "lat": 51.4452,
        "lon": -0.0207,
        "description": "Dark corner by the station",
        "reasons": ["poor-sightlines", "badly-lit"],
    }
    created = client.post("/api/v1/reports", json=body)
    assert created.status_code == 201, created.text
    refused = client.post("/api/v1/reports", json={**body, "reasons": ["poor-sightline"]})
    assert refused.status_code == 422
    assert "poor-sightline" in refused.get_json()["errors"]["reasons"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"key": "badly-lit"}, "key", "already has a reason with the key 'badly-lit'"),
        ({"label": "   "}, "label", "enter the words residents see"),
        ({"category": "no-such-category"}, "category", "unknown category 'no-such-category'"),
        ({"category": ""}, "category", "choose a category"),
        ({"key": "Poor Sightlines"}, "key", "lower-case letters, digits and single hyphens"),
        ({"key": "x" * 41}, "key", "at most 40 characters"),
        ({"position": "first"}, "position", "whole number"),
        ({"why": ""}, "why", "say why"),
    ],
)
def test_a_bad_new_reason_is_refused_saying_what_is_wrong(
    admin, db_session, changes, field, message
):
    response = add_reason(admin, **changes)
    assert response.status_code == 422
    assert message in html.unescape(response.text)
    assert field in summary_links_resolve(response.text)
    assert (
        db_session.scalar(select(CategoryReason).where(CategoryReason.label.like("Poor%"))) is None
    )
    assert changes_of(db_session) == []


def changes_of(db_session):
    return changes(db_session, AdminEntity.REASON)


def test_the_same_key_may_be_a_reason_of_another_category(admin, db_session):
    response = add_reason(admin, category="street-lighting", key="badly-lit", label="Too dim")
    assert response.status_code == 303
    assert [r.key for r in taxonomy.reasons_for(db_session, "street-lighting")] == ["badly-lit"]
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", ["badly-lit"]) == ["Badly lit"]


# ---- editing, retiring, restoring ------------------------------------------------------------


def test_an_edit_changes_the_words_and_order_and_keeps_before_and_after(admin, client, db_session):
    path = "/admin/reasons/feeling-unsafe/followed"
    edited = post(
        admin,
        path,
        {
            "label": "Someone followed me",
            "help": "On foot or in a car.",
            "position": "20",
            "why": "Residents' wording from the survey",
        },
    )
    assert edited.status_code == 303
    [change] = changes_of(db_session)
    assert change.action is AdminAction.EDITED
    assert change.before == {"label": "I was followed", "help": "", "position": 7}
    assert change.after == {
        "label": "Someone followed me",
        "help": "On foot or in a car.",
        "position": 20,
    }
    keys = [r.key for r in taxonomy.reasons_for(db_session, "feeling-unsafe")]
    assert keys[-1] == "followed"
    form = client.get("/report").text
    assert form.index("Other harassment") < form.index("Someone followed me")
    page = admin.get(path).text
    assert "Residents&#39; wording from the survey" in page and "Someone followed me" in page


def test_a_used_key_never_changes_and_an_unused_one_may_be_corrected(
    admin, db_session, routed_report
):
    routed_report(db_session, category="feeling-unsafe", reasons=["isolated"])
    db_session.commit()
    refused = post(
        admin,
        "/admin/reasons/feeling-unsafe/isolated",
        {"key": "deserted", "label": "Isolated or deserted", "why": "Shorter"},
    )
    assert refused.status_code == 422
    assert "in use (1 report)" in refused.text
    assert stored(db_session, "isolated") is not None

    assert add_reason(admin, key="poor-sightline").status_code == 303
    corrected = post(
        admin,
        "/admin/reasons/feeling-unsafe/poor-sightline",
        {"key": "poor-sightlines", "label": NEW_REASON["label"], "why": "Typo in the key"},
    )
    assert corrected.status_code == 303
    assert corrected.headers["Location"].endswith("/feeling-unsafe/poor-sightlines")
    reason = stored(db_session, "poor-sightlines")
    history = admin.get("/admin/reasons/feeling-unsafe/poor-sightlines").text
    assert "Typo in the key" in history and "Asked for at the Catford ward panel" in history
    assert reason is not None and stored(db_session, "poor-sightline") is None


def test_an_edit_that_empties_the_label_is_refused(admin, db_session):
    response = post(admin, "/admin/reasons/feeling-unsafe/no-cctv", {"label": "", "why": "Tidying"})
    assert response.status_code == 422
    assert "enter the words residents see" in response.text
    assert "label" in summary_links_resolve(response.text)
    assert stored(db_session, "no-cctv").label == "No CCTV"


def test_an_unknown_reason_or_category_is_not_found(admin):
    assert admin.get("/admin/reasons/feeling-unsafe/no-such-reason").status_code == 404
    assert admin.get("/admin/reasons/no-such-category/badly-lit").status_code == 404


def test_a_retired_reason_is_not_offered_but_old_reports_still_show_it(
    admin, client, db_session, routed_report
):
    report = routed_report(db_session, category="feeling-unsafe", reasons=["rundown", "badly-lit"])
    db_session.commit()
    path = "/admin/reasons/feeling-unsafe/rundown"
    retired = post(
        admin, f"{path}/retire", {"retire_why": "Merged into blind spots"}, form_page=path
    )
    assert retired.status_code == 303
    assert stored(db_session, "rundown").retired

    form = client.get("/report").text
    assert 'value="rundown"' not in form and 'value="badly-lit"' in form
    services = client.get("/open311/v2/services/feeling-unsafe.json").get_json()
    assert "rundown" not in {v["key"] for v in services["attributes"][0]["values"]}
    refused = client.post(
        "/api/v1/reports",
        json={
            "category": "feeling-unsafe",
            "lat": 51.4452,
            "lon": -0.0207,
            "description": "Boarded-up shops",
            "reasons": ["rundown"],
        },
    )
    assert refused.status_code == 422

    staff_page = admin.get(f"/triage/reports/{report.reference}").text
    assert "Rundown, neglected or vandalised" in staff_page
    assert taxonomy.reason_labels(db_session, "feeling-unsafe", report.reasons) == [
        "Badly lit",
        "Rundown, neglected or vandalised",
    ]

    again = post(admin, f"{path}/retire", {"retire_why": "Twice"}, form_page=path)
    assert again.status_code == 422 and "already retired" in again.text
    restored = post(admin, f"{path}/restore", {"retire_why": "Back by request"}, form_page=path)
    assert restored.status_code == 303
    assert 'value="rundown"' in client.get("/report").text
    retire, restore = changes_of(db_session)
    assert (retire.action, retire.why) == (AdminAction.RETIRED, "Merged into blind spots")
    assert (retire.before, retire.after) == ({"retired": False}, {"retired": True})
    assert restore.action is AdminAction.RESTORED
    listed = admin.get("/admin/changes").text
    assert "Reason retired" in listed and "Reason restored" in listed


def test_retiring_needs_a_why(admin, db_session):
    path = "/admin/reasons/feeling-unsafe/no-cctv"
    response = post(admin, f"{path}/retire", {"retire_why": " "}, form_page=path)
    assert response.status_code == 422
    assert "retire_why" in summary_links_resolve(response.text)
    assert not stored(db_session, "no-cctv").retired


def test_a_rule_keeps_its_retired_reason_and_reads_it_in_words(admin, db_session):
    path = "/admin/reasons/feeling-unsafe/badly-lit"
    page = admin.get(path).text
    assert "active routing" in page  # the seed routes badly lit places to street lighting
    assert post(admin, f"{path}/retire", {"retire_why": "Test"}, form_page=path).status_code == 303
    rules = admin.get("/admin/routing").text
    assert "reason: badly lit" in rules


# ---- who may, and the admin home -------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.STAFF, Role.BOARD])
def test_only_admins_may_change_reasons(csrf_app, db_session, role):
    partner = "lewisham-community-safety" if role is not Role.BOARD else None
    client = signed_in(csrf_app, db_session, f"{role.value}@x.example", role, partner)
    assert client.get("/admin/reasons").status_code == 403
    assert client.get("/admin/reasons/feeling-unsafe/badly-lit").status_code == 403
    someone = db_session.scalar(select(User).where(User.email == f"{role.value}@x.example"))
    with pytest.raises(NotAllowed):
        reasons.create_reason(db_session, someone, NEW_REASON)


def test_the_admin_home_links_to_the_reasons(admin):
    home = admin.get("/admin").text
    assert 'href="/admin/reasons">Reasons offered</a></dt><dd>11<' in home
    assert admin.get("/admin/reasons").status_code == 200


# ---- the form, as any input --------------------------------------------------------------------


@given(
    st.dictionaries(
        st.sampled_from(["key", "label", "help", "position"]),
        st.text(max_size=300),
    )
)
def test_any_reason_form_reads_as_values_or_field_errors(form):
    values, errors = reasons.read_form(form, with_key=True, default_position=3)
    assert all(isinstance(message, str) and message for message in errors.values())
    if "key" not in errors:
        assert reasons.KEY_PATTERN.fullmatch(values["key"])
        assert len(values["key"]) <= reasons.MAX_KEY_CHARS
    if "label" not in errors:
        assert values["label"] and values["label"] == values["label"].strip()
    if "position" not in errors:
        assert 0 <= values["position"] <= reasons.MAX_POSITION
