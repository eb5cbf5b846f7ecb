"""Admins choose how a partner receives its reports on the partner's page: the form's checks,
the history it writes (with the API key masked), and the list of reports not posted with
their errors and a retry button."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from safer_streets.admin_console import send_methods
from safer_streets.models import (
    AdminChange,
    AdminEntity,
    ApiClient,
    Open311Send,
    Partner,
    PartnerSendMethod,
    Role,
    SendMethod,
)
from safer_streets.open311 import outbound
from tests.admin.test_console import (
    ADMIN_EMAIL,
    OWNER,
    SNT,
    post,
    signed_in,
    summary_links_resolve,
)

PAGE = f"/admin/partners/{SNT}"
FORM = f"{PAGE}/send-method"
KEY = "ss-secret-key-0123456789-wxyz"
GOOD = {
    "send_method": "open311",
    "endpoint": "https://cases.met.example/open311/v2/",
    "api_key": KEY,
    "jurisdiction_id": "lewisham.gov.uk",
    "service_codes": "drug-dealing = DRUGS\n\nfly-tipping=FT",
    "send_why": "The SNT takes its cases in its own system from Monday",
}


@pytest.fixture
def admin(csrf_app, db_session):
    return signed_in(csrf_app, db_session, ADMIN_EMAIL, Role.ADMIN)


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def snt(db_session) -> Partner:
    return db_session.scalar(select(Partner).where(Partner.slug == SNT))


def test_an_admin_switches_a_partner_to_open311_and_the_history_keeps_the_key_masked(
    admin, db_session
):
    page = admin.get(PAGE)
    assert "How it receives reports" in page.text
    assert 'value="email" checked' in page.text

    saved = post(admin, FORM, GOOD, form_page=PAGE)
    assert saved.status_code == 303
    method = db_session.get(PartnerSendMethod, snt(db_session).id)
    assert method.method is SendMethod.OPEN311
    assert method.endpoint == "https://cases.met.example/open311/v2"
    assert method.api_key == KEY
    assert method.service_codes == {"drug-dealing": "DRUGS", "fly-tipping": "FT"}
    assert method.open311_since is not None
    # Updates read back from its system are made under a client of its own, for the partner.
    client = db_session.get(ApiClient, method.api_client_id)
    assert client.partner_id == snt(db_session).id

    [change] = db_session.scalars(
        select(AdminChange).where(AdminChange.entity == AdminEntity.PARTNER)
    ).all()
    assert change.why == GOOD["send_why"]
    assert change.before["send_method"] == "email"
    assert change.before["open311_endpoint"] is None
    assert change.after["send_method"] == "open311"
    assert change.after["open311_api_key"] == "…wxyz"
    assert KEY not in json.dumps([change.before, change.after])

    shown = admin.get(PAGE).text
    assert KEY not in shown
    assert "A key ending …wxyz is stored" in shown
    assert "drug-dealing = DRUGS" in shown
    assert "The SNT takes its cases in its own system from Monday" in shown


def test_leaving_the_key_empty_keeps_it_and_a_new_key_is_recorded_as_new(admin, db_session):
    assert post(admin, FORM, GOOD, form_page=PAGE).status_code == 303
    kept = post(
        admin,
        FORM,
        {**GOOD, "api_key": "", "jurisdiction_id": "", "send_why": "No jurisdiction after all"},
        form_page=PAGE,
    )
    assert kept.status_code == 303
    method = db_session.get(PartnerSendMethod, snt(db_session).id)
    assert method.api_key == KEY
    assert method.jurisdiction_id is None

    renewed = post(
        admin,
        FORM,
        {
            **GOOD,
            "api_key": "another-key-0000-wxyz",
            "jurisdiction_id": "",
            "send_why": "They rotated the key",
        },
        form_page=PAGE,
    )
    assert renewed.status_code == 303
    latest = db_session.scalars(select(AdminChange).order_by(AdminChange.id.desc()).limit(1)).one()
    assert latest.after == {"open311_api_key": "…wxyz (new key)"}
    assert "another-key" not in json.dumps(latest.after)


def test_switching_back_to_email_forgets_the_key(admin, db_session):
    assert post(admin, FORM, GOOD, form_page=PAGE).status_code == 303
    back = post(admin, FORM, {"send_method": "email", "send_why": "Back to email"}, form_page=PAGE)
    assert back.status_code == 303
    method = db_session.get(PartnerSendMethod, snt(db_session).id)
    assert method.method is SendMethod.EMAIL
    assert method.api_key is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"send_method": "fax"}, "send_method", "choose email or Open311"),
        ({"endpoint": ""}, "endpoint", "enter the Open311 address"),
        ({"endpoint": "ftp://cases.met.example/open311"}, "endpoint", "must start with https://"),
        ({"endpoint": "https:///open311/v2"}, "endpoint", "must name a server"),
        ({"endpoint": "https://cases.example/v2?x=1"}, "endpoint", "without ? or # parts"),
        ({"endpoint": "https://me:pw@cases.example/v2"}, "endpoint", "must not hold a user name"),
        ({"api_key": ""}, "api_key", "enter the API key"),
        ({"api_key": "has spaces in it"}, "api_key", "without spaces"),
        (
            {"service_codes": "drug-dealing"},
            "service_codes",
            "line 1: write category = service code",
        ),
        ({"service_codes": "\nno-such = X"}, "service_codes", "line 2: there is no category"),
        (
            {"service_codes": "fly-tipping = A\nfly-tipping = B"},
            "service_codes",
            "fly-tipping is given twice",
        ),
        ({"send_why": ""}, "send_why", "say why"),
    ],
)
def test_a_bad_send_method_is_refused_with_what_to_fix(admin, db_session, changes, field, words):
    refused = post(admin, FORM, {**GOOD, **changes}, form_page=PAGE)
    assert refused.status_code == 422
    assert words in refused.text
    assert field in summary_links_resolve(refused.text)
    # A key typed into a refused form is not sent back in the page.
    assert KEY not in refused.text
    assert db_session.get(PartnerSendMethod, snt(db_session).id) is None
    assert db_session.scalar(select(AdminChange.id)) is None


def test_saving_the_same_method_again_is_refused(admin):
    assert post(admin, FORM, GOOD, form_page=PAGE).status_code == 303
    again = post(admin, FORM, {**GOOD, "api_key": ""}, form_page=PAGE)
    assert again.status_code == 422
    assert "nothing was changed" in again.text


def test_only_admins_choose_send_methods(csrf_app, db_session):
    client = signed_in(csrf_app, db_session, "padmin@x.example", Role.PARTNER_ADMIN, SNT)
    csrf_app.config["WTF_CSRF_ENABLED"] = False
    assert client.post(FORM, data=GOOD).status_code == 403
    assert db_session.get(PartnerSendMethod, snt(db_session).id) is None


def test_reports_not_posted_are_listed_with_their_error_and_can_be_retried(
    admin, db_session, routed_report
):
    assert post(admin, FORM, GOOD, form_page=PAGE).status_code == 303
    report = routed_report(db_session, category="drug-dealing")
    assert report.owner.slug == SNT
    row = Open311Send(
        report_id=report.id,
        partner_id=report.owner_partner_id,
        attempts=outbound.MAX_ATTEMPTS,
        last_error="POST https://cases.met.example/open311/v2/requests.json: HTTP 400: "
        "service_code: unknown service 'DRUGS' (refused: not tried again until retried)",
    )
    db_session.add(row)
    db_session.flush()

    method = db_session.get(PartnerSendMethod, snt(db_session).id)
    method.updates_error = (
        "GET https://cases.met.example/open311/v2/servicerequestupdates.json: HTTP 502"
    )
    db_session.flush()

    page = admin.get(PAGE).text
    assert "Its updates could not be read:" in page
    assert "servicerequestupdates.json: HTTP 502" in page
    listed = re.search(rf'<tr id="unsent-{row.id}">.*?</tr>', page, flags=re.S).group(0)
    assert report.reference in listed
    assert "unknown service &#39;DRUGS&#39;" in listed
    assert "Not tried again until retried" in listed
    assert f"Retry posting {report.reference}" in listed

    retried = post(admin, f"{PAGE}/unsent/{row.id}/retry", {}, form_page=PAGE)
    assert retried.status_code == 303
    db_session.refresh(row)
    assert row.attempts == 0
    assert row.next_attempt_at is None
    assert outbound.claim_due(
        db_session, row.created_at, lease=timedelta(minutes=5), report_ids=[report.id]
    ) == [row.id]
    # Nothing of another partner's can be retried from this page.
    assert (
        post(
            admin, f"/admin/partners/{OWNER}/unsent/{row.id}/retry", {}, form_page=PAGE
        ).status_code
        == 404
    )


@given(st.text(max_size=300))
def test_any_endpoint_text_is_either_a_web_address_or_a_clear_refusal(raw):
    try:
        endpoint = send_methods.parse_endpoint(raw)
    except ValueError as refused:
        assert str(refused)
    else:
        assert endpoint.lower().startswith(("http://", "https://"))
        assert not endpoint.endswith("/")
        assert "?" not in endpoint
        assert "#" not in endpoint


@given(st.text(max_size=300))
def test_any_service_codes_text_is_either_a_mapping_of_known_categories_or_a_refusal(raw):
    known = {"graffiti", "drug-dealing"}
    try:
        codes = send_methods.parse_service_codes(raw, known)
    except ValueError as refused:
        assert str(refused).startswith("line ")
    else:
        assert set(codes) <= known
        assert all(code and code == code.strip() for code in codes.values())
