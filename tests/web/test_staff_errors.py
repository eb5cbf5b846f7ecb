"""Errors on staff pages are staff pages: the staff navigation, without the residents'
quick-exit button and 999 banner; residents' errors keep both."""

from __future__ import annotations

import pytest

from safer_streets.accounts import users
from safer_streets.board import views as board_views
from safer_streets.casework import queues
from safer_streets.models import Role
from safer_streets.routing import rules as routing_rules
from safer_streets.web.context import is_staff_path
from tests.helpers import PASSWORD, PASSWORDS, login

EXIT = "Leave this site"
EMERGENCY = "In danger now? Call 999."


@pytest.fixture
def admin(client, db_session):  # signs in with the second step administrators take
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@example.org",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    db_session.flush()
    login(client, "admin@example.org")


@pytest.mark.parametrize(
    "path", ["/triage/reports/LEW-ZZZZZ", "/triage/nowhere", "/admin/nowhere", "/account/nowhere"]
)
def test_a_staff_error_has_no_residents_banners(client, admin, path):
    response = client.get(path)
    assert response.status_code == 404
    assert EXIT not in response.text and EMERGENCY not in response.text
    assert "Back to the queue" in response.text


def test_a_bad_queue_filter_is_a_staff_page(client, admin):
    response = client.get("/triage/export.csv?sort=sideways")
    assert response.status_code == 422
    assert EXIT not in response.text and EMERGENCY not in response.text


@pytest.mark.parametrize("path", ["/triage", "/admin/routing", "/board"])
def test_a_failure_on_a_staff_page_is_a_staff_page(app, client, admin, monkeypatch, path):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a fault nobody expected")

    # Whatever each page asks first of the domain fails, as a bug would.
    monkeypatch.setattr(queues, "queue", broken)
    monkeypatch.setattr(routing_rules, "list_rules", broken)
    monkeypatch.setattr(board_views.dashboard, "overview", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get(path)
    assert response.status_code == 500
    assert EXIT not in response.text and EMERGENCY not in response.text


def test_signed_in_staff_see_staff_errors_on_any_page(client, admin):
    for path in ("/nowhere", "/report/LEW-ZZZZZ/nowhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert EXIT not in response.text and EMERGENCY not in response.text
        assert "Back to the queue" in response.text


def test_the_staff_sign_in_pages_errors_have_no_residents_banners(client):
    response = client.get("/login/nowhere")
    assert response.status_code == 404
    assert EXIT not in response.text and EMERGENCY not in response.text
    assert "Sign in" in response.text


def test_a_residents_error_keeps_them(client):
    response = client.get("/track/LEW-ZZZZZ")
    assert response.status_code == 404
    assert EXIT in response.text and EMERGENCY in response.text


@pytest.mark.parametrize(
    ("path", "staff"),
    [
        ("/triage", True),
        ("/admin/rules", True),
        ("/board", True),
        ("/account", True),
        ("/login/enrol", True),
        ("/password/forgot", True),
        ("/boardwalk", False),
        ("/track/LEW-ZZZZZ", False),
        ("/", False),
    ],
)
def test_staff_paths(path, staff):
    assert is_staff_path(path) is staff
