"""Board members land on the board after signing in, and every page's header links to it."""

from __future__ import annotations

import pytest

from safer_streets.accounts import users
from safer_streets.models import Role
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, second_step


@pytest.mark.parametrize(
    ("role", "partner", "landing"),
    [
        (Role.BOARD, None, "/board"),
        (Role.ADMIN, None, "/triage"),
        (Role.STAFF, "lewisham-highways", "/triage"),
    ],
)
def test_sign_in_lands_board_members_on_the_board(app, db_session, role, partner, landing):
    email = f"landing.{role.value}@board.test"
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")},
    )
    assert response.status_code == 303
    response = second_step(client, email, response)  # administrators set up the app first
    assert response.headers["Location"].split("?")[0] == landing
    header = client.get("/track").text.split("</header>")[0]
    assert ('href="/board"' in header) is (role in (Role.BOARD, Role.ADMIN))


def test_a_page_asked_for_still_wins_over_the_landing_page(app, db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="next@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    client = app.test_client()
    response = client.post(
        "/login?next=/board/trends",
        data={
            "email": "next@board.test",
            "password": PASSWORD,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.headers["Location"] == "/board/trends"
