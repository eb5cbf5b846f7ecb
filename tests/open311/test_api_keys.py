"""API keys: issued by admins (command line and web page), stored hashed, shown once,
revocable, recorded when used."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.api import keys
from safer_streets.cli import main
from safer_streets.errors import NotAllowed
from safer_streets.models import ApiClient, Role
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, login
from tests.open311.test_georeport import V2, post_request

KEY_RE = re.compile(r"ssk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def run(app, *args: str):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_the_command_line_issues_lists_and_revokes_keys(app, client, db_session):
    created = run(app, "api-keys", "create", "FixMyStreet", "--partner", "tfl")
    assert created.exit_code == 0, created.output
    (key,) = KEY_RE.findall(created.output)
    assert "acting for tfl" in created.output
    stored = db_session.scalars(select(ApiClient).where(ApiClient.name == "FixMyStreet")).one()
    assert key not in (stored.key_hash, stored.key_prefix) and len(stored.key_hash) == 64

    listed = run(app, "api-keys", "list")
    assert f"ssk_{stored.key_prefix}_…" in listed.output and key not in listed.output
    assert "never" in listed.output and "active" in listed.output

    assert post_request(client, key).status_code == 200
    db_session.refresh(stored)
    assert stored.last_used_at is not None

    revoked = run(app, "api-keys", "revoke", str(stored.id))
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert post_request(client, key).status_code == 403
    assert "revoked" in run(app, "api-keys", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "App", "--partner", "nobody"], "partner: unknown partner 'nobody'"),
        (["create", "  "], "name: is required"),
        (["revoke", "999999"], "no API client with id 999999"),
    ],
)
def test_the_command_line_explains_mistakes(app, args, message):
    result = run(app, "api-keys", *args)
    assert result.exit_code == 1
    assert message in result.output


def test_only_admins_manage_keys_in_the_domain(db_session):
    staff = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="staff@keys.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="tfl",
    )
    with pytest.raises(NotAllowed):
        keys.create_client(db_session, name="x", partner_slug=None, actor=staff)
    with pytest.raises(NotAllowed):
        keys.list_clients(db_session, actor=staff)


@pytest.fixture
def admin(db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@keys.example",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    return "admin@keys.example"


def test_an_admin_issues_a_key_on_the_web_and_sees_it_once(client, db_session, admin):
    login(client, admin)
    assert client.get("/admin/api-keys").status_code == 200
    response = client.post(
        "/admin/api-keys",
        data={
            "name": "Met case system",
            "partner": "met-snt-rushey-green",
            "csrf_token": csrf_token(client, "/admin/api-keys"),
        },
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    (key,) = KEY_RE.findall(response.text)
    assert "shown only once" in response.text
    again = client.get("/admin/api-keys")
    assert key not in again.text and "Met case system" in again.text
    created = db_session.scalars(select(ApiClient).where(ApiClient.name == "Met case system")).one()
    assert created.partner.slug == "met-snt-rushey-green"
    assert created.created_by.email == admin

    revoke = client.post(
        f"/admin/api-keys/{created.id}/revoke",
        data={"csrf_token": csrf_token(client, "/admin/api-keys")},
    )
    assert revoke.status_code == 303
    db_session.refresh(created)
    assert created.revoked_at is not None
    assert "revoked" in client.get("/admin/api-keys").text


def test_the_web_form_names_a_missing_name(client, admin):
    login(client, admin)
    response = client.post(
        "/admin/api-keys",
        data={"name": "", "partner": "", "csrf_token": csrf_token(client, "/admin/api-keys")},
    )
    assert response.status_code == 422
    assert "Client name is required" in response.text
    assert 'aria-invalid="true"' in response.text


def test_the_page_is_for_admins_only(client, db_session):
    anonymous = client.get("/admin/api-keys")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="officer@keys.example",
        password=PASSWORD,
        role=Role.PARTNER_ADMIN,
        partner_slug="tfl",
    )
    login(client, "officer@keys.example")
    assert client.get("/admin/api-keys").status_code == 403
    assert client.post("/admin/api-keys", data={"name": "x"}).status_code in (400, 403)


def test_keys_are_checked_as_a_whole(client, db_session, issue_key):
    key = issue_key()
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = post_request(client, tampered, "xml")
    assert response.status_code == 403
    assert client.get(f"{V2}/services.xml?api_key={tampered}").status_code == 403
    assert client.get(f"{V2}/services.xml?api_key={key}").status_code == 200
