"""Who may do what to a report: role x relation to the report x action, as a case table.

Relations: the user's partner owns the report, is notified on it (a joint case), or has
nothing to do with it. The board and administrators have no partner: they see everything.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from safer_streets.accounts import users
from safer_streets.models import Report, ReportEvent, Role
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"  # drug dealing at Catford Broadway
NOTIFIED = "lewisham-community-safety"
OTHER = "met-snt-lewisham-central"
PARTNER_FOR = {"owned": OWNER, "notified": NOTIFIED, "other": OTHER, "any": None}

READ = ("view",)
SHARED = ("note", "public_update")
OWNER_ONLY = ("acknowledge", "assign", "priority", "status", "reroute", "duplicate")
ALL = READ + SHARED + OWNER_ONLY


def _expect(allowed: tuple[str, ...], refused: int) -> dict[str, int]:
    return {action: (200 if action in allowed else refused) for action in ALL}


# (role, relation) -> action -> HTTP outcome (200: done or shown; 403: refused; 404: unseen)
MATRIX = {
    ("staff", "owned"): _expect(ALL, 403),
    ("staff", "notified"): _expect(READ + SHARED, 403),
    ("staff", "other"): _expect((), 404),
    ("partner-admin", "owned"): _expect(ALL, 403),
    ("partner-admin", "notified"): _expect(READ + SHARED, 403),
    ("partner-admin", "other"): _expect((), 404),
    ("board", "any"): _expect(READ, 403),
    ("admin", "any"): _expect(ALL, 403),
}
CASES = [
    pytest.param(role, relation, action, outcome, id=f"{role}-{relation}-{action}")
    for (role, relation), outcomes in MATRIX.items()
    for action, outcome in outcomes.items()
]


def _request(client, report: Report, original: Report, action: str, colleague_id: int):
    path = f"/triage/reports/{report.reference}"
    version = str(report.version_id)
    forms = {
        "acknowledge": ("inspect", {"version": version, "status": "acknowledged"}),
        "assign": ("inspect", {"version": version, "assignee": str(colleague_id)}),
        "priority": ("inspect", {"version": version, "priority": "high"}),
        "status": ("inspect", {"version": version, "status": "in_progress"}),
        "note": ("inspect", {"version": version, "internal_note": "Patrol passed at 22:00"}),
        "public_update": ("inspect", {"version": version, "public_update": "Officers visited"}),
        "reroute": ("reroute", {"version": version, "partner": "lewisham-asb", "reason": "ASB"}),
        "duplicate": ("duplicate", {"version": version, "original": original.reference}),
    }
    if action == "view":
        return client.get(path)
    name, data = forms[action]
    return client.post(f"{path}/{name}", data=data)


def _events(session, report: Report) -> int:
    return session.scalar(
        select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == report.id)
    )


@pytest.mark.parametrize(("role", "relation", "action", "outcome"), CASES)
def test_permission_matrix(client, db_session, routed_report, role, relation, action, outcome):
    report = routed_report(db_session)
    original = routed_report(db_session, description="The same dealing, reported earlier")
    colleague = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="pc.jones@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=OWNER,
    )
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="actor@example.org",
        password=PASSWORD,
        role=Role(role),
        partner_slug=PARTNER_FOR[relation],
    )
    db_session.flush()
    login(client, "actor@example.org")

    events_before = _events(db_session, report)
    response = _request(client, report, original, action, colleague.id)

    if outcome == 200:
        assert response.status_code == (200 if action == "view" else 303), response.text[:500]
        if action != "view":
            assert _events(db_session, report) == events_before + 1
    else:
        assert response.status_code == outcome
        assert _events(db_session, report) == events_before
    if outcome == 404:
        assert report.reference not in response.text or "no report" in response.text
    if outcome == 403:
        assert "cannot" in response.text or "only" in response.text
