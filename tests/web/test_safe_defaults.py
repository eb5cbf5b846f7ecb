"""Safe defaults: Secure cookies and HSTS on an https site, nothing signed-in is cached, and
absolute URLs come from the configured base URL, never from the request's Host header."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from geo.suntimes import LONDON
from safer_streets.accounts import users
from safer_streets.board import runs
from safer_streets.board.filters import default_filters
from safer_streets.models import EmailOutbox, Role, RunStatus
from safer_streets.notifications import outbox
from tests.helpers import PASSWORD, PASSWORDS, body_of, login

FORGED_HOST = "evil.example"
REPORT = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}
COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def make(session, email: str, role: Role = Role.STAFF, partner: str | None = None) -> None:
    users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner or ("met-snt-rushey-green" if role is Role.STAFF else None),
    )
    session.flush()


# ---- HTTPS ---------------------------------------------------------------------------------


def test_an_https_base_url_makes_cookies_secure_and_sends_hsts(app_with, db_session):
    make(db_session, "sgt@rg.example")
    client = app_with(base_url="https://safer-streets.lewisham.gov.uk").test_client()
    page = client.get("/login")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    signed_in = client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    cookie = signed_in.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_plain_http_base_url_sends_neither(client, db_session):
    make(db_session, "sgt@rg.example")
    assert "Strict-Transport-Security" not in client.get("/login").headers
    signed_in = client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    assert "Secure" not in signed_in.headers["Set-Cookie"]


def test_secure_cookies_can_be_forced_with_a_plain_http_base_url(app_with, db_session):
    make(db_session, "sgt@rg.example")
    client = app_with(secure_cookies=True).test_client()
    assert "Strict-Transport-Security" in client.get("/login").headers
    signed_in = client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_the_containers_are_configured_for_https():
    compose = COMPOSE.read_text()
    (base_url,) = re.findall(r"SAFER_STREETS_BASE_URL: (.+)", compose)
    assert re.fullmatch(r"\$\{SAFER_STREETS_BASE_URL:-https://[^}]+\}", base_url.strip())
    assert "SECURE_COOKIES" not in compose, "an https base URL is enough"


# ---- Nothing signed-in is stored by a browser or a cache -------------------------------------


@pytest.fixture
def board_member(app, db_session):
    make(db_session, "member@board.test", Role.BOARD)
    client = app.test_client()
    login(client, "member@board.test")
    return client


def test_every_signed_in_page_and_export_is_no_store(board_member, db_session):
    run = runs.create_run(
        db_session,
        runs.RunParameters.from_filters(
            default_filters(datetime.now(UTC).astimezone(LONDON).date()), permutations=0, seed=1
        ),
    )
    run.status = RunStatus.DONE
    run.computed_at = datetime.now(UTC)
    run.summary = {"n_points": 0, "includes_sensitive": False, "label_counts": {}, "method": ""}
    db_session.flush()
    for path in (
        "/triage",
        "/triage/export.csv",
        "/account",
        "/board",
        "/board/map.js",
        "/board/pack",
        "/board/reports.csv",
        "/board/reports.geojson?download=1",
        "/board/aggregates.csv",
        f"/board/runs/{run.id}/cells.csv",
        f"/board/runs/{run.id}/cells.geojson",
        "/report",  # a public page, but it shows who is signed in
    ):
        response = board_member.get(path)
        response.get_data()  # read streamed exports to the end, as a browser would
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_authenticator_secret_pages_are_no_store(client, db_session):
    make(db_session, "sgt@rg.example")  # a police account: it sets the app up at sign-in
    client.post("/login", data={"email": "sgt@rg.example", "password": PASSWORD})
    page = client.get("/login/enrol")
    assert "totp-secret" in page.text
    assert page.headers["Cache-Control"] == "no-store"

    make(db_session, "lights@highways.example", partner="lewisham-highways")
    login(client, "lights@highways.example")
    page = client.post("/account/two-factor/start", data={"password": PASSWORD})
    assert "totp-secret" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_public_assets_stay_cacheable_for_signed_in_users(board_member):
    assert board_member.get("/board/legend.css").headers["Cache-Control"].startswith("public")


# ---- Absolute URLs from the base URL, never the Host header -----------------------------------


def test_a_forged_host_appears_in_no_response_and_no_email(client, db_session, settings):
    make(db_session, "sgt@rg.example")
    forged = {"Host": FORGED_HOST}
    responses = [
        client.get("/open311/v2/discovery.xml", headers=forged),
        client.get("/open311/v2/discovery.json", headers=forged),
        client.get("/open311/v2/services.json", headers=forged),
        client.get("/api/v1/openapi.json", headers=forged),
        client.get("/api/v1/docs", headers=forged),
        client.post("/api/v1/reports", json=REPORT, headers=forged),
        client.get("/triage?status=open", headers=forged),
        client.get("/no-such-page", headers=forged),
        client.post("/password/forgot", data={"email": "sgt@rg.example"}, headers=forged),
        client.post(
            "/login",
            query_string={"next": "/board"},
            data={"email": "sgt@rg.example", "password": PASSWORD},
            headers=forged,
        ),
        client.post("/logout", headers=forged),
    ]
    for response in responses:
        assert FORGED_HOST not in response.get_data(as_text=True), response.request.path
        for name, value in response.headers.items():
            assert FORGED_HOST not in value, (response.request.path, name)

    discovery = responses[1].get_json()
    assert discovery["endpoints"][0]["url"] == "http://safer-streets.test/open311/v2"
    assert responses[3].get_json()["servers"] == [{"url": "http://safer-streets.test"}]
    created = responses[5].get_json()
    assert created["links"]["self"].startswith("http://safer-streets.test/api/v1/reports/")
    assert responses[5].headers["Location"] == created["links"]["self"]

    email = db_session.scalars(select(EmailOutbox).where(EmailOutbox.kind == "password-reset"))
    body = body_of(outbox.compose(db_session, email.one(), settings))
    assert FORGED_HOST not in body
    assert "http://safer-streets.test/password/reset/" in body
