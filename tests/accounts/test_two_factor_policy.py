"""Two-step sign-in by policy: required of administrators, police teams and partners owning a
sensitive category; set up at the first sign-in before any staff page opens; never removable
by whoever must use it."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from safer_streets.accounts import two_factor, users
from safer_streets.models import Category, Partner, Role, RoutingRule, RuleRole, User
from safer_streets.settings import Settings, SettingsError
from tests.helpers import PASSWORD, PASSWORDS, TOTP_SECRET, login, next_totp_code

POLICY = two_factor.TwoFactorPolicy()


def make(session, email, partner: str | None = "met-snt-rushey-green", role=Role.STAFF) -> User:
    user = users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    session.flush()
    return user


def partner(session, slug: str) -> Partner:
    return session.scalars(select(Partner).where(Partner.slug == slug)).one()


@pytest.mark.parametrize(
    ("role", "slug", "kind", "owns_sensitive", "required"),
    [
        (Role.ADMIN, None, None, False, True),
        (Role.BOARD, None, None, False, False),
        (Role.STAFF, "met-snt-rushey-green", "police", False, True),
        (Role.PARTNER_ADMIN, "met-town-centre-team", "police", False, True),
        (Role.STAFF, "lewisham-highways", "council", False, False),
        (Role.STAFF, "lewisham-highways", "council", True, True),
        (Role.BOARD, "lewisham-highways", "council", True, True),
    ],
)
def test_the_policy_from_role_and_partner(role, slug, kind, owns_sensitive, required):
    answer = two_factor.must_use_two_factor(
        role,
        partner_slug=slug,
        partner_kind=kind,
        owns_sensitive_category=owns_sensitive,
        policy=POLICY,
    )
    assert answer is required


def test_settings_add_roles_and_partners_but_never_take_the_defaults_away():
    policy = two_factor.policy_from_settings(
        Settings(secret_key="k", two_factor_roles="partner-admin", two_factor_partners="tfl, asb")
    )
    assert policy.roles == {Role.ADMIN, Role.PARTNER_ADMIN}
    assert policy.partner_kinds == {"police"}
    assert two_factor.must_use_two_factor(
        Role.STAFF,
        partner_slug="tfl",
        partner_kind="transport",
        owns_sensitive_category=False,
        policy=policy,
    )
    with pytest.raises(SettingsError, match="TWO_FACTOR_ROLES"):
        two_factor.policy_from_settings(Settings(secret_key="k", two_factor_roles="resident"))


def test_the_seeded_routing_table_makes_the_police_teams_own_the_sensitive_categories(db_session):
    owners = two_factor.partners_owning_sensitive_categories(db_session)
    slugs = {p.slug for p in db_session.scalars(select(Partner).where(Partner.id.in_(owners)))}
    assert slugs and all(slug.startswith("met-snt-") for slug in slugs)
    highways = partner(db_session, "lewisham-highways")
    assert not two_factor.partner_requires_two_factor(db_session, highways, POLICY)
    assert two_factor.partner_requires_two_factor(
        db_session, partner(db_session, "met-town-centre-team"), POLICY
    ), "police by kind, though it owns nothing sensitive"


def test_owning_a_sensitive_category_makes_it_required(db_session):
    user = make(db_session, "lights@highways.example", partner="lewisham-highways")
    assert not two_factor.required_for(db_session, user, POLICY)
    weapons = db_session.scalars(select(Category).where(Category.slug == "weapons")).one()
    rule = RoutingRule(
        category_id=weapons.id, partner_id=user.partner_id, role=RuleRole.OWNER, active=True
    )
    db_session.add(rule)
    db_session.flush()
    assert two_factor.required_for(db_session, user, POLICY)
    rule.active = False
    db_session.flush()
    assert not two_factor.required_for(db_session, user, POLICY), "only active rules count"
    rule.active, rule.role = True, RuleRole.NOTIFIED
    db_session.flush()
    assert not two_factor.required_for(db_session, user, POLICY), "being told is not owning"


def test_a_police_officer_sets_up_the_app_at_first_sign_in_before_any_staff_page(
    client, db_session
):
    make(db_session, "pc@rg.example")
    step_one = client.post(
        "/login?next=/triage/sla",
        data={"email": "pc@rg.example", "password": PASSWORD},
    )
    assert step_one.status_code == 303 and step_one.headers["Location"].endswith("/login/enrol")
    for path in ("/triage", "/account", "/board", "/admin/routing"):
        assert client.get(path).status_code == 302, f"{path} opens before the app is set up"

    page = client.get("/login/enrol")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store", "the secret is never cached"
    assert "data:image/svg+xml" in page.text
    secret = TOTP_SECRET.search(page.text)[1]
    again = client.get("/login/enrol")
    assert TOTP_SECRET.search(again.text)[1] == secret, "a reload keeps what the app scanned"

    wrong = client.post("/login/enrol", data={"code": "000000"})
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert client.get("/triage").status_code == 302
    done = client.post("/login/enrol", data={"code": next_totp_code("pc@rg.example", secret)})
    assert done.status_code == 303 and done.headers["Location"] == "/triage/sla"
    assert client.get("/triage").status_code == 200

    client.post("/logout")
    step_one = client.post("/login", data={"email": "pc@rg.example", "password": PASSWORD})
    assert step_one.headers["Location"].endswith("/login/code"), "from now on, a code"
    assert client.get("/login/enrol").headers["Location"].endswith("/login")


def test_the_enrolment_page_needs_the_password_first(client, db_session):
    make(db_session, "pc@rg.example")
    response = client.get("/login/enrol")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    wrong = client.post("/login", data={"email": "pc@rg.example", "password": "wrong guess"})
    assert wrong.status_code == 401
    assert client.get("/login/enrol").status_code == 303


def test_an_account_that_must_use_it_cannot_turn_it_off(client, db_session):
    user = make(db_session, "admin@example.org", partner=None, role=Role.ADMIN)
    login(client, user.email)
    page = client.get("/account")
    assert "required for your account" in page.text
    assert "Turn off two-step sign-in" not in page.text
    refused = client.post("/account/two-factor/remove", data={"password": PASSWORD})
    assert refused.status_code == 403
    assert "required for your account" in refused.text
    assert users.has_second_factor(db_session, user)


def test_an_account_that_may_choose_turns_it_off(client, db_session):
    user = make(db_session, "lights@highways.example", partner="lewisham-highways")
    login(client, user.email)
    assert client.post("/account/two-factor/start", data={"password": PASSWORD}).status_code == 200
    secret = users.security_for(db_session, user).totp_secret
    code = next_totp_code(user.email, secret)
    assert client.post("/account/two-factor/confirm", data={"code": code}).status_code == 303
    assert "Turn off two-step sign-in" in client.get("/account").text
    assert client.post("/account/two-factor/remove", data={"password": PASSWORD}).status_code == 303
    assert not users.has_second_factor(db_session, user)


def test_a_session_without_a_code_ends_when_the_account_comes_to_need_one(client, db_session):
    user = make(db_session, "lights@highways.example", partner="lewisham-highways")
    login(client, user.email)
    assert client.get("/triage").status_code == 200
    harassment = db_session.scalars(select(Category).where(Category.slug == "harassment")).one()
    db_session.add(
        RoutingRule(
            category_id=harassment.id, partner_id=user.partner_id, role=RuleRole.OWNER, active=True
        )
    )
    db_session.flush()
    ended = client.get("/triage")
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]
    page = client.get(ended.headers["Location"])
    assert "Two-step sign-in is now required" in page.text
    step_one = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert step_one.headers["Location"].endswith("/login/enrol")


def test_the_board_and_other_partners_sign_in_with_a_password_alone(client, db_session):
    make(db_session, "chair@board.example", partner=None, role=Role.BOARD)
    response = client.post("/login", data={"email": "chair@board.example", "password": PASSWORD})
    assert response.headers["Location"] == "/board"
    assert client.get("/board").status_code == 200


def test_the_app_can_be_set_up_with_the_key_typed_by_hand(client, db_session):
    make(db_session, "pc@rg.example")
    client.post("/login", data={"email": "pc@rg.example", "password": PASSWORD})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', client.get("/login/enrol").text)[1]
    code = pyotp.TOTP(secret).now()
    assert client.post("/login/enrol", data={"code": f"{code[:3]} {code[3:]}"}).status_code == 303


def test_an_enrolment_page_left_open_after_the_app_was_set_up_elsewhere_starts_again(
    app, client, db_session
):
    make(db_session, "pc@rg.example")
    client.post("/login", data={"email": "pc@rg.example", "password": PASSWORD})
    assert client.get("/login/enrol").status_code == 200
    elsewhere = app.test_client()
    login(elsewhere, "pc@rg.example")  # sets the app up in another browser
    stale = client.get("/login/enrol")
    assert stale.status_code == 303 and stale.headers["Location"].endswith("/login")
