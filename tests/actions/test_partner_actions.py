"""Partners' "you said, we did" actions: who may link which reports, and what residents see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.actions import partner_actions
from safer_streets.board.audience import Audience as BoardAudience
from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.intake.tracking import tracking_path
from safer_streets.models import PartnerAction, Report, Role, User, Ward
from tests.helpers import PASSWORD, PASSWORDS, login

pytestmark = pytest.mark.integration

# The pages date actions by today's date: the tests do too.
NOW = datetime.now(UTC)
TODAY = NOW.date()
DONE = TODAY - timedelta(days=5)
MIN_COUNT = 5


def _user(session, email: str, partner: str | None, role: Role = Role.STAFF) -> User:
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


def _ward_slug(session, report: Report) -> str:
    return session.get(Ward, report.ward_id).slug


def _form(session, report: Report, **changes: str) -> dict[str, str]:
    return {
        "title": "New lighting on Rushey Green",
        "body": "Six new street lights between the station and the shops.",
        "done_on": DONE.isoformat(),
        "place": f"ward:{_ward_slug(session, report)}",
        "reports": report.reference,
        **changes,
    }


@pytest.fixture
def dealing(db_session, routed_report) -> Report:
    """A drug-dealing report, owned by its SNT and shared with community safety."""
    return routed_report(db_session)


@pytest.fixture
def owner_staff(db_session, dealing) -> User:
    return _user(db_session, "pc.jones@rg.example", dealing.owner.slug)


# ---- Validation and who may link what --------------------------------------------------------


def test_every_wrong_field_is_named(db_session, owner_staff):
    with pytest.raises(InvalidInput) as refused:
        partner_actions.parse_action(
            db_session,
            owner_staff,
            {"title": " ", "body": "", "done_on": "28/11/2026", "place": "ward:nowhere"},
            today=TODAY,
        )
    assert set(refused.value.field_errors) == {"title", "body", "done_on", "place", "reports"}


def test_a_date_in_the_future_is_refused(db_session, owner_staff, dealing):
    with pytest.raises(InvalidInput) as refused:
        partner_actions.parse_action(
            db_session,
            owner_staff,
            _form(db_session, dealing, done_on=(TODAY + timedelta(days=1)).isoformat()),
            today=TODAY,
        )
    assert refused.value.field_errors == {"done_on": "The date it was done cannot be in the future"}


def test_an_unknown_reference_is_named(db_session, owner_staff, dealing):
    form = _form(db_session, dealing, reports=f"{dealing.reference}, LEW-ZZZZZ")
    with pytest.raises(InvalidInput) as refused:
        partner_actions.parse_action(db_session, owner_staff, form, today=TODAY)
    assert "LEW-ZZZZZ" in refused.value.field_errors["reports"]
    assert dealing.reference not in refused.value.field_errors["reports"]


def test_a_report_the_partner_cannot_see_reads_as_unknown(db_session, routed_report, dealing):
    outsider = _user(db_session, "someone@elsewhere.example", "met-snt-lewisham-central")
    assert dealing.owner.slug != "met-snt-lewisham-central"
    with pytest.raises(InvalidInput) as refused:
        partner_actions.parse_action(db_session, outsider, _form(db_session, dealing), today=TODAY)
    unknown = _form(db_session, dealing, reports="LEW-ZZZZZ")
    with pytest.raises(InvalidInput) as unknown_refused:
        partner_actions.parse_action(db_session, outsider, unknown, today=TODAY)
    assert refused.value.field_errors["reports"] == unknown_refused.value.field_errors[
        "reports"
    ].replace("LEW-ZZZZZ", dealing.reference)


def test_a_notified_partner_may_link_a_shared_report(db_session, dealing):
    assert dealing.notified, "the drug-dealing rule shares the report"
    shared = _user(db_session, "cs@lewisham.example", dealing.notified[0].slug)
    data = partner_actions.parse_action(db_session, shared, _form(db_session, dealing), today=TODAY)
    assert data.report_ids == (dealing.id,)


def test_references_are_read_as_typed(db_session, owner_staff, dealing):
    code = dealing.reference.removeprefix("LEW-").lower()
    form = _form(db_session, dealing, reports=f"lew {code}\n{dealing.reference};")
    data = partner_actions.parse_action(db_session, owner_staff, form, today=TODAY)
    assert data.report_ids == (dealing.id,)


@pytest.mark.parametrize("role", [Role.BOARD, Role.ADMIN])
def test_only_partner_staff_publish(db_session, dealing, role):
    user = _user(db_session, f"{role.value}@lewisham.example", None, role)
    with pytest.raises(NotAllowed):
        partner_actions.publish(
            db_session,
            user,
            partner_actions.ActionInput("t", "b", TODAY, (dealing.id,), ward_id=dealing.ward_id),
            NOW,
        )


# ---- Publishing, changing, withdrawing --------------------------------------------------------


def _publish(session, user: User, report: Report, **changes: str) -> PartnerAction:
    data = partner_actions.parse_action(
        session, user, _form(session, report, **changes), today=TODAY
    )
    return partner_actions.publish(session, user, data, NOW)


def test_publishing_records_who_and_when(db_session, owner_staff, dealing):
    action = _publish(db_session, owner_staff, dealing)
    assert action.created_by is owner_staff and action.created_at is not None
    assert action.partner_id == owner_staff.partner_id
    assert [r.id for r in action.reports] == [dealing.id]


def test_another_partner_can_neither_change_nor_withdraw(db_session, owner_staff, dealing):
    action = _publish(db_session, owner_staff, dealing)
    outsider = _user(db_session, "someone@elsewhere.example", "met-snt-lewisham-central")
    with pytest.raises(NotFound):
        partner_actions.withdraw(db_session, outsider, action.id, NOW)
    assert action.withdrawn_at is None


def test_editing_and_withdrawing_are_audited(db_session, owner_staff, dealing, routed_report):
    action = _publish(db_session, owner_staff, dealing)
    colleague = _user(db_session, "sgt.khan@rg.example", dealing.owner.slug, Role.PARTNER_ADMIN)
    second = routed_report(db_session, description="Dealing again by the bus stop")
    data = partner_actions.parse_action(
        db_session,
        colleague,
        _form(db_session, dealing, title="Lighting and patrols", reports=second.reference),
        today=TODAY,
    )
    partner_actions.edit(db_session, colleague, action.id, data, NOW)
    db_session.refresh(action)
    assert (action.title, action.updated_by, action.updated_at) == (
        "Lighting and patrols",
        colleague,
        NOW,
    )
    assert [r.id for r in action.reports] == [second.id]
    partner_actions.withdraw(db_session, colleague, action.id, NOW)
    assert (action.withdrawn_by, action.withdrawn_at) == (colleague, NOW)
    assert partner_actions.public_actions(db_session, min_count=MIN_COUNT, today=TODAY) == []


# ---- What the public sees ----------------------------------------------------------------------


def _sensitive_report(session, routed_report) -> Report:
    report = routed_report(session, category="harassment", description="Followed home")
    assert report.category.sensitive and report.owner is not None
    return report


def test_a_sensitive_report_is_counted_never_linked(db_session, routed_report, dealing):
    harassment = _sensitive_report(db_session, routed_report)
    # Both go to the same SNT, which may link both.
    staff = _user(db_session, "both@lewisham.example", dealing.owner.slug)
    references = f"{dealing.reference} {harassment.reference}"
    action = _publish(db_session, staff, dealing, reports=references)
    [public] = partner_actions.public_actions(db_session, min_count=1, today=TODAY)
    assert [linked.reference for linked in public.linked] == [dealing.reference]
    assert str(public.reports) == "2"
    # One sensitive report is below the minimum: left out of the public count, and marked.
    [public] = partner_actions.public_actions(db_session, min_count=MIN_COUNT, today=TODAY)
    assert (public.reports.value, public.reports.partial) == (1, True)
    # The board pack, like the board, counts everything.
    [board] = partner_actions.actions_between(
        db_session, DONE, TODAY, audience=BoardAudience.BOARD, min_count=MIN_COUNT
    )
    assert str(board.reports) == "2"
    # Only sensitive reports, fewer than the minimum: the count is withheld altogether.
    data = partner_actions.parse_action(
        db_session, staff, _form(db_session, dealing, reports=harassment.reference), today=TODAY
    )
    partner_actions.edit(db_session, staff, action.id, data, NOW)
    db_session.expire_all()
    [public] = partner_actions.public_actions(db_session, min_count=MIN_COUNT, today=TODAY)
    assert public.reports.value is None and public.linked == ()


def test_listing_by_ward_and_area(db_session, owner_staff, dealing):
    _publish(db_session, owner_staff, dealing)
    _publish(db_session, owner_staff, dealing, title="Patrols", place="area:catford-town-centre")
    ward = _ward_slug(db_session, dealing)
    by_ward = partner_actions.public_actions(
        db_session, min_count=MIN_COUNT, today=TODAY, ward_slug=ward
    )
    by_area = partner_actions.public_actions(
        db_session, min_count=MIN_COUNT, today=TODAY, area_slug="catford-town-centre"
    )
    assert [a.title for a in by_ward] == ["New lighting on Rushey Green"]
    assert [a.title for a in by_area] == ["Patrols"]
    assert [a.title for a in partner_actions.actions_for_report(db_session, dealing, min_count=5)]


# ---- The pages ---------------------------------------------------------------------------------


def test_partner_publishes_and_residents_see_it(client, db_session, routed_report, dealing):
    harassment = _sensitive_report(db_session, routed_report)
    assert harassment.owner.slug == dealing.owner.slug
    _user(db_session, "staff@partner.example", dealing.owner.slug)
    login(client, "staff@partner.example")
    assert client.get("/triage/actions").status_code == 200
    refused = client.post(
        "/triage/actions/new", data=_form(db_session, dealing, reports="LEW-ZZZZZ")
    )
    assert refused.status_code == 422
    assert "No report LEW-ZZZZZ among those sent or shared to your team" in refused.text
    form = _form(db_session, dealing, reports=f"{dealing.reference}\n{harassment.reference}")
    response = client.post("/triage/actions/new", data=form)
    assert response.status_code == 303, response.text[:2000]
    assert "New lighting on Rushey Green" in client.get("/triage/actions").text
    client.post("/logout")

    said_did = client.get("/you-said-we-did").text
    assert "New lighting on Rushey Green" in said_did
    # Two reports prompted it; the one harassment report is below the minimum: left out.
    assert "after 1 report*" in said_did
    assert "* Harassment and weapons reports are counted only where" in said_did
    assert f"/track/{dealing.reference}" in said_did
    assert harassment.reference not in said_did

    around = client.get(f"/around?ward={_ward_slug(db_session, dealing)}").text
    assert "New lighting on Rushey Green" in around
    assert harassment.reference not in around
    elsewhere = client.get("/around?ward=bellingham").text
    assert "New lighting on Rushey Green" not in elsewhere

    track = client.get(f"/track/{dealing.reference}").text
    assert "What the partnership did" in track
    assert "New lighting on Rushey Green" in track
    assert harassment.reference not in track
    # The reporter's private link to the harassment report shows what was done too.
    private = client.get(tracking_path("test-secret-key", harassment.reference))
    assert private.status_code == 200
    assert "New lighting on Rushey Green" in private.text
    # Anyone else asking about the harassment report learns nothing.
    assert client.get(f"/track/{harassment.reference}").status_code == 404


def test_withdrawn_actions_leave_the_public_pages(client, db_session, dealing):
    staff = _user(db_session, "staff@partner.example", dealing.owner.slug)
    action = _publish(db_session, staff, dealing)
    login(client, "staff@partner.example")
    assert client.post(f"/triage/actions/{action.id}/withdraw").status_code == 303
    assert "New lighting" not in client.get("/you-said-we-did").text
    assert "New lighting" not in client.get(f"/track/{dealing.reference}").text


def test_board_members_cannot_open_the_partner_pages(client, db_session):
    _user(db_session, "board@lewisham.example", None, Role.BOARD)
    login(client, "board@lewisham.example")
    assert client.get("/triage/actions/new").status_code == 403


def test_linked_reports_stay_unique(db_session, owner_staff, dealing):
    action = _publish(
        db_session, owner_staff, dealing, reports=f"{dealing.reference}, {dealing.reference}"
    )
    assert db_session.scalars(select(PartnerAction.id)).all() == [action.id]
    assert len(action.reports) == 1


def test_the_board_pack_and_the_feed_carry_actions(client, db_session, routed_report, dealing):
    harassment = _sensitive_report(db_session, routed_report)
    staff = _user(db_session, "staff@partner.example", dealing.owner.slug)
    _publish(db_session, staff, dealing, reports=f"{dealing.reference} {harassment.reference}")
    ward = _ward_slug(db_session, dealing)

    feed = client.get(f"/around/feed.atom?ward={ward}").text
    assert "What the partnership did: New lighting on Rushey Green" in feed
    assert "after 1* report" in feed
    assert harassment.reference not in feed
    assert "New lighting" not in client.get("/around/feed.atom?ward=bellingham").text

    _user(db_session, "board@lewisham.example", None, Role.BOARD)
    login(client, "board@lewisham.example")
    pack = client.get("/board/pack?period=custom&from=" + DONE.isoformat()).text
    assert "What partners did" in pack
    assert "New lighting on Rushey Green" in pack
    elsewhere = client.get(f"/board/pack?period=custom&from={DONE.isoformat()}&ward=bellingham")
    assert "New lighting on Rushey Green" not in elsewhere.text


def test_a_colleague_changes_an_action_and_the_list_says_who(client, db_session, dealing):
    staff = _user(db_session, "staff@partner.example", dealing.owner.slug)
    action = _publish(db_session, staff, dealing)
    _user(db_session, "colleague@partner.example", dealing.owner.slug, Role.PARTNER_ADMIN)
    login(client, "colleague@partner.example")
    form = client.get(f"/triage/actions/{action.id}").text
    assert dealing.reference in form and "New lighting on Rushey Green" in form
    changed = _form(db_session, dealing, title="Lighting fixed and patrols")
    assert client.post(f"/triage/actions/{action.id}", data=changed).status_code == 303
    listing = client.get("/triage/actions").text
    assert "Lighting fixed and patrols" in listing
    assert "by staff@partner.example" in listing and "changed" in listing
    assert "by colleague@partner.example" in listing
    refused = client.post(f"/triage/actions/{action.id}", data={**changed, "title": ""})
    assert refused.status_code == 422 and "Give the action a title" in refused.text


def test_another_partners_action_is_not_found(client, db_session, dealing):
    staff = _user(db_session, "staff@partner.example", dealing.owner.slug)
    action = _publish(db_session, staff, dealing)
    _user(db_session, "someone@elsewhere.example", "met-snt-lewisham-central")
    login(client, "someone@elsewhere.example")
    assert client.get(f"/triage/actions/{action.id}").status_code == 404
    assert client.post(f"/triage/actions/{action.id}/withdraw").status_code == 404
    assert "New lighting" not in client.get("/triage/actions").text
