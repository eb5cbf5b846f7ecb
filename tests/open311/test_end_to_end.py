"""An app reports through Open311, the real worker routes it, and the owning partner's case
system posts its progress back, which reaches the resident by email: all on committed data,
Redis, a Celery worker and a local SMTP server."""

from __future__ import annotations

import pytest

from safer_streets.api import keys
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import ReportStatus
from tests.helpers import body_of, wait_for_status
from tests.open311.conftest import validate_json, validate_xml

pytestmark = pytest.mark.worker


def issue(engine, name: str, partner: str | None) -> str:
    with session_scope(make_session_factory(engine)) as session:
        return keys.create_client(session, name=name, partner_slug=partner, actor=None).key


def test_an_open311_report_is_routed_and_its_owner_reports_back(live_app, worker, engine, mailbox):
    mailbox.clear()
    app_key = issue(engine, "Civic app", None)
    snt_key = issue(engine, "SNT case system", "met-snt-rushey-green")
    client = live_app.test_client()

    posted = client.post(
        "/open311/v2/requests.xml",
        data={
            "api_key": app_key,
            "service_code": "drug-dealing",
            "address_string": "Catford Broadway",
            "description": "Dealing by the bus stop every evening",
            "email": "resident@example.org",
        },
    )
    assert posted.status_code == 200, posted.text
    (created,) = validate_xml("post-response", posted.data)
    reference = created["service_request_id"]
    wait_for_status(engine, reference, ReportStatus.ROUTED)

    (request,) = client.get(f"/open311/v2/requests/{reference}.json").get_json()
    validate_json("requests", [request])
    assert request["agency_responsible"] == "Met Police Rushey Green Safer Neighbourhood Team"
    # Drug dealing is a safety category: the public address is the police.uk street point.
    assert request["address"] == "On or near Catford Broadway"

    for number, status, description in (
        (1, "INVESTIGATING", "Officers are looking into it."),
        (2, "FIXED", "Dispersal order in place; two arrests."),
    ):
        update = client.post(
            "/open311/v2/servicerequestupdates.json",
            data={
                "api_key": snt_key,
                "service_request_id": reference,
                "status": status,
                "description": description,
                "update_id": f"case-{number}",
            },
        )
        assert update.status_code == 200, update.text
    (request,) = validate_xml("requests", client.get(f"/open311/v2/requests/{reference}.xml").data)
    assert request["status"] == "closed"
    assert request["status_notes"] == "Dispersal order in place; two arrests."
    tracking = client.get(f"/track/{reference}")
    assert "Dispersal order in place" in tracking.text
    # Public updates reach the resident as triage's do: one email each.
    emails = mailbox.wait_for(lambda m: m["To"] == "resident@example.org", count=2)
    bodies = " ".join(body_of(m) for m in emails)
    assert "Officers are looking into it." in bodies
    assert "Dispersal order in place; two arrests." in bodies
