"""Supporters count as people: their own reasons and time, counted once each on the board;
updates by email with a working stop link; their address forgotten when no longer needed."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from geo import projection
from geo.suntimes import LONDON
from safer_streets.accounts import users
from safer_streets.board import runs
from safer_streets.board.filters import default_filters
from safer_streets.casework import workflow
from safer_streets.errors import InvalidInput
from safer_streets.intake import forms
from safer_streets.intake.support import (
    SimilarReport,
    parse_support_details,
    similar_words,
)
from safer_streets.models import EmailOutbox, ReportStatus, ReportSupport, Role
from safer_streets.privacy.retention import forget_supporter_emails, subject_access_export
from safer_streets.settings import Settings
from tests.helpers import PASSWORD, PASSWORDS, Mailbox, body_of, login
from tests.residents.test_alerts import send_all

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
SUPPORTER = "neighbour@example.org"
FEELING_UNSAFE = frozenset({"badly-lit", "isolated", "followed"})
# Three nights ago at 23:00 in London: after dark whatever the season.
NIGHT = (NOW.astimezone(LONDON) - timedelta(days=3)).replace(
    hour=23, minute=0, second=0, microsecond=0
)

# ---- what a supporter may send ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "reasons": json_values | st.lists(st.text(max_size=45), max_size=25),
                "occurred_at": json_values | st.datetimes(timezones=st.timezones()),
                "email": json_values | st.emails(),
            },
        ),
    ),
    st.sampled_from([FEELING_UNSAFE, frozenset()]),
)
def test_anything_a_supporter_sends_parses_or_is_invalid_input(data, offered):
    try:
        parse_support_details(data, offered)
    except InvalidInput as invalid:
        assert invalid.field_errors
        assert all(isinstance(m, str) and m for m in invalid.field_errors.values())


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reasons": ["no-such-reason"]}, "reasons", "not a reason for this report"),
        ({"reasons": "badly-lit"}, "reasons", "must be a list"),
        ({"occurred_at": "1999-12-31T23:00:00Z"}, "occurred_at", "on or after 2000-01-01"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", "cannot be in the future"),
        ({"occurred_at": "2026-11-24T21:30:00"}, "occurred_at", "must include a time zone"),
        ({"occurred_at": "last night"}, "occurred_at", "ISO 8601"),
        ({"email": "not an address"}, "email", "valid email address"),
        ({"name": "Sam"}, "name", "not a recognised field"),
    ],
)
def test_a_supporters_details_are_refused_in_plain_words(data, field, message):
    with pytest.raises(InvalidInput) as raised:
        parse_support_details(data, FEELING_UNSAFE)
    assert message in raised.value.field_errors[field]


def test_the_same_reason_twice_is_one_reason():
    details = parse_support_details(
        {"reasons": ["badly-lit", "badly-lit", "isolated"]}, FEELING_UNSAFE
    )
    assert details.reasons == ["badly-lit", "isolated"]
    assert parse_support_details(None, FEELING_UNSAFE).reasons == []


def test_the_form_asks_for_an_email_only_when_updates_are_ticked():
    class Posted(dict):
        def getlist(self, key):
            value = self.get(key)
            return value if isinstance(value, list) else ([value] if value else [])

    data, errors = forms.to_support_details(Posted(updates="email"), NOW)
    assert "contact_email" in errors
    data, errors = forms.to_support_details(
        Posted(contact_email=SUPPORTER, when="other", occurred_date="2026-13-40"), NOW
    )
    assert "email" not in data and errors == {
        "occurred_date": "Enter a real date, for example 24/11/2026",
        "occurred_time": "Enter the time it happened, roughly, for example 21:30",
    }


def _similar(distance_m: int, supporters: int, days: int) -> SimilarReport:
    return SimilarReport(
        "LEW-2345A",
        "Fly-tipping",
        "Rushey Green",
        distance_m,
        NOW - timedelta(days=days),
        supporters,
    )


def test_similar_rows_say_age_distance_and_supporters_in_words():
    words = similar_words(_similar(0, 0, 0), TODAY)
    assert (words.reported, words.distance, words.supporters) == (
        "Reported today",
        "Here",
        "Nobody has added their voice yet",
    )
    words = similar_words(_similar(5, 1, 1), TODAY)
    assert (words.reported, words.distance, words.supporters) == (
        "Reported yesterday",
        "Within 10 m",
        "1 person has added their voice",
    )
    words = similar_words(_similar(40, 2, 3), TODAY)
    assert (words.reported, words.distance, words.supporters) == (
        "Reported 3 days ago",
        "About 40 m away",
        "2 people have added their voice",
    )


# ---- the web form, the API and the board ----------------------------------------------------


def add_voice(client, reference, address="10.70.0.1", **fields):
    data = {"reference": reference, "submission_id": str(uuid.uuid4()), "details": "shown"}
    return client.post("/report/support", data=data | fields, environ_base={"REMOTE_ADDR": address})


def test_a_voice_with_reasons_and_an_email_is_counted_as_a_person_on_the_board(
    app, db_session, routed_report
):
    report = routed_report(db_session, category="feeling-unsafe", reasons=["badly-lit"])
    # The report form's panel (with JavaScript) first shows the fields, filled from the form.
    asked = app.test_client().post(
        "/report/support",
        data={"reference": report.reference, "reasons": ["isolated"], "when": "now"},
    )
    assert asked.status_code == 200
    assert 'value="isolated" checked' in asked.text and "When did it happen to you?" in asked.text

    wrong = add_voice(
        app.test_client(),
        report.reference,
        when="other",
        occurred_date="01/01/2999",
        occurred_time="23:00",
    )
    assert wrong.status_code == 422 and "The date and time must be in the past" in wrong.text

    sent = add_voice(
        app.test_client(),
        report.reference,
        reasons=["badly-lit", "isolated"],
        when="other",
        occurred_date=NIGHT.date().isoformat(),
        occurred_time="23:00",
        updates="email",
        contact_email=SUPPORTER,
    )
    assert sent.status_code == 303
    # The same person again, from another form: not a second person, nothing rewritten.
    again = add_voice(app.test_client(), report.reference, reasons=["no-cctv"])
    assert again.status_code == 303
    rows = db_session.scalars(
        select(ReportSupport).where(ReportSupport.report_id == report.id)
    ).all()
    (person,) = [r for r in rows if r.after_dark is not None]
    assert person.reasons == ["badly-lit", "isolated"]
    assert person.occurred_at == NIGHT and person.after_dark is True
    assert person.email == SUPPORTER
    # Through the API, with the same optional fields.
    api = app.test_client().post(
        f"/api/v1/reports/{report.reference}/support",
        json={"reasons": ["isolated"], "occurred_at": NIGHT.isoformat()},
        environ_base={"REMOTE_ADDR": "10.70.0.9"},
    )
    assert api.status_code == 201 and api.get_json()["supporter_count"] == 2
    bad = app.test_client().post(
        f"/api/v1/reports/{report.reference}/support",
        json={"occurred_at": "2999-01-01T00:00:00Z"},
        environ_base={"REMOTE_ADDR": "10.70.0.10"},
    )
    assert bad.status_code == 422

    filters = replace(default_filters(TODAY), category="feeling-unsafe")
    run = runs.create_run(
        db_session, runs.RunParameters.from_filters(filters, permutations=0, seed=1)
    )
    assert runs.compute_run(db_session, run.id, study_area=projection.read_boundary())
    reasons = {r["reason"]: r for r in run.summary["reasons"]}
    # The reporter and two supporters: people; the report is still one report.
    assert reasons["badly-lit"]["people"] == 2 and reasons["badly-lit"]["reports"] == 1
    assert reasons["isolated"]["people"] == 2 and reasons["isolated"]["reports"] == 0
    assert reasons["isolated"]["after_dark"] == 2 and reasons["isolated"]["daylight"] == 0
    assert "no-cctv" not in reasons

    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="reasons@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    board = app.test_client()
    login(board, "reasons@board.test")
    page = board.get("/board/trends?category=feeling-unsafe").text
    assert "Reasons given by people who reported or added their voice" in page
    assert re.search(r'Isolated or deserted</th><td class="n">2</td><td class="n">0</td>', page)


def test_without_javascript_what_the_resident_typed_goes_with_their_voice(
    app, db_session, routed_report
):
    report = routed_report(db_session, category="feeling-unsafe")
    client = app.test_client()
    typed = {
        "submission_id": str(uuid.uuid4()),
        "category": "feeling-unsafe",
        "lat": "51.4452",
        "lon": "-0.0207",
        "description": "Very dark by the bus stop",
        "reasons": ["isolated"],
        "when": "now",
        "updates": "email",
        "contact_email": SUPPORTER,
    }
    page = client.post("/report", data=typed, environ_base={"REMOTE_ADDR": "10.72.0.1"}).text
    assert "Is this the same? Add your voice instead" in page
    assert "Reported today" in page and "Nobody has added their voice yet" in page
    assert " 0 m" not in page and "0 people" not in page
    assert 'value="isolated" checked' in page and f'value="{SUPPORTER}"' in page
    # The report's button sends the one form: its reference, and the details shown above it.
    sent = client.post(
        "/report/support",
        data={k: v for k, v in typed.items() if k not in ("description", "lat", "lon")}
        | {"reference": report.reference, "details": "shown"},
        environ_base={"REMOTE_ADDR": "10.72.0.1"},
    )
    assert sent.status_code == 303
    person = db_session.scalars(
        select(ReportSupport).where(
            ReportSupport.report_id == report.id, ReportSupport.after_dark.is_not(None)
        )
    ).one()
    assert person.reasons == ["isolated"] and person.email == SUPPORTER
    assert person.occurred_at is None


# ---- updates by email -----------------------------------------------------------------------


@pytest.fixture
def inbox(mailbox: Mailbox) -> Mailbox:
    mailbox.clear()
    return mailbox


def staff_of(session, report):
    return users.create_user(
        session,
        passwords=PASSWORDS,
        email=f"staff-{uuid.uuid4().hex[:6]}@partner.test",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=report.owner.slug,
    )


def test_a_public_update_reaches_the_supporter_with_a_working_stop_link(
    app, db_session, routed_report, settings: Settings, inbox: Mailbox
):
    report = routed_report(
        db_session, category="drug-dealing", description="Dealing from the blue car AB12 CDE"
    )
    assert (
        add_voice(
            app.test_client(), report.reference, updates="email", contact_email=SUPPORTER
        ).status_code
        == 303
    )
    staff = staff_of(db_session, report)
    workflow.add_note(
        db_session, staff, report, "Patrols are going past in the evenings.", public=True, now=NOW
    )
    workflow.add_note(db_session, staff, report, "Internal: suspect known", public=False, now=NOW)
    send_all(db_session, settings)

    (mail,) = inbox.to(SUPPORTER)
    body = body_of(mail)
    assert mail["Subject"] == f"Update on report {report.reference} you added your voice to"
    assert "Patrols are going past in the evenings." in body
    # No more than the public sees: the street point, never the description or internal notes.
    assert "On or near" in body
    assert "AB12 CDE" not in body and "suspect known" not in body
    link = re.search(r"http://safer-streets\.test(/report/support/stop/\S+)", body).group(1)
    assert mail["List-Unsubscribe"] == f"<http://safer-streets.test{link}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    client = app.test_client()
    assert "Stop these emails" in client.get(link).text
    db_session.refresh(report)
    person = db_session.scalars(
        select(ReportSupport).where(
            ReportSupport.report_id == report.id, ReportSupport.email.is_not(None)
        )
    ).one()
    # RFC 8058: the mail program POSTs with no form and no CSRF token.
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db_session.refresh(person)
    assert person.email is None
    assert client.get(link).status_code == 404  # already stopped
    assert client.post("/report/support/stop/forged").status_code == 200

    inbox.clear()
    workflow.change_status(db_session, staff, report, ReportStatus.ACKNOWLEDGED, now=NOW)
    workflow.add_note(db_session, staff, report, "Second update", public=True, now=NOW)
    send_all(db_session, settings)
    assert inbox.to(SUPPORTER) == []


def test_the_resolution_reaches_supporters_even_without_a_note(
    app, db_session, routed_report, settings: Settings, inbox: Mailbox
):
    report = routed_report(db_session, category="fly-tipping", description="Sofa by the bins")
    assert (
        add_voice(
            app.test_client(), report.reference, updates="email", contact_email=SUPPORTER
        ).status_code
        == 303
    )
    staff = staff_of(db_session, report)
    workflow.change_status(db_session, staff, report, ReportStatus.ACKNOWLEDGED, now=NOW)
    workflow.change_status(db_session, staff, report, ReportStatus.RESOLVED, now=NOW)
    send_all(db_session, settings)
    (mail,) = inbox.to(SUPPORTER)
    assert mail["Subject"] == f"Resolved: report {report.reference} you added your voice to"
    assert "has been resolved" in body_of(mail)


# ---- retention ------------------------------------------------------------------------------


def test_supporters_addresses_are_forgotten_once_their_report_cannot_reopen(
    app, db_session, routed_report
):
    old = routed_report(db_session, category="fly-tipping")
    recent = routed_report(db_session, category="fly-tipping", lat=51.4460, lon=-0.0200)
    still_open = routed_report(db_session, category="fly-tipping", lat=51.4470, lon=-0.0190)
    for n, report in enumerate((old, recent, still_open)):
        assert (
            add_voice(
                app.test_client(),
                report.reference,
                address=f"10.71.0.{n}",
                updates="email",
                contact_email=SUPPORTER,
            ).status_code
            == 303
        )
    db_session.add(
        EmailOutbox(
            key="supporter-test",
            kind="supporter-update",
            recipient=SUPPORTER,
            report_id=old.id,
            data={
                "support_id": db_session.scalar(
                    select(ReportSupport.id).where(
                        ReportSupport.report_id == old.id, ReportSupport.email.is_not(None)
                    )
                )
            },
        )
    )
    for report, days in ((old, 60), (recent, 10)):
        report.status = ReportStatus.RESOLVED
        report.resolved_at = NOW - timedelta(days=days)
    db_session.flush()

    held = subject_access_export(db_session, SUPPORTER.upper())["supported"]
    assert {row["reference"] for row in held} == {
        old.reference,
        recent.reference,
        still_open.reference,
    }
    assert forget_supporter_emails(db_session, closed_days=56, now=NOW) == 1
    assert forget_supporter_emails(db_session, closed_days=56, now=NOW) == 0
    kept = dict(
        db_session.execute(
            select(ReportSupport.report_id, ReportSupport.email).where(
                ReportSupport.after_dark.is_not(None)
            )
        ).all()
    )
    assert kept[old.id] is None
    assert kept[recent.id] == SUPPORTER and kept[still_open.id] == SUPPORTER
    assert db_session.scalar(select(EmailOutbox).where(EmailOutbox.key == "supporter-test")) is None
    held = subject_access_export(db_session, SUPPORTER)["supported"]
    assert old.reference not in {row["reference"] for row in held}
    # The voice itself stays.
    db_session.refresh(old)
    assert old.supporter_count == 1
