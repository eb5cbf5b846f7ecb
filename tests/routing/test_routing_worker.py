"""End to end on the real parts: API -> PostgreSQL -> Redis -> Celery worker -> partner queue."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Report, ReportStatus
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from tests.helpers import login, routed_events, wait_for_status
from workers.queue import PROCESS_REPORTS, SWEEP_RECEIVED

CATFORD_BROADWAY = {"lat": 51.4452, "lon": -0.0207}


def internal_routing_reason(engine, reference: str) -> str:
    """The routing reason as stored for partners."""
    with session_scope(make_session_factory(engine)) as session:
        return session.scalars(
            select(Report.routing_reason).where(Report.reference == reference)
        ).one()


@pytest.mark.worker
def test_drug_dealing_at_catford_broadway_reaches_the_rushey_green_snt(
    live_app, worker, engine, make_user
):
    client = live_app.test_client()
    response = client.post(
        "/api/v1/reports",
        json={"category": "drug-dealing", **CATFORD_BROADWAY, "description": "Dealing at night"},
    )
    assert response.status_code == 201
    reference = response.get_json()["reference"]

    wait_for_status(engine, reference, ReportStatus.ROUTED)
    body = client.get(f"/api/v1/reports/{reference}").get_json()
    assert body["ward"] == {"code": "E05013730", "name": "Rushey Green"}
    assert body["owner"]["slug"] == "met-snt-rushey-green"
    # Catford Broadway is in Catford town centre: the Met's town-centre team hears of it too.
    assert [p["slug"] for p in body["notified"]] == [
        "lewisham-community-safety",
        "met-town-centre-team",
    ]
    # The public hear the rule in general words; the town centre it matched is for partners.
    assert body["routing_reason"] == (
        "Drug dealing reports in Rushey Green ward go to "
        "Met Police Rushey Green Safer Neighbourhood Team."
    )
    assert internal_routing_reason(engine, reference).startswith(
        "Drug dealing in Rushey Green goes to Met Police Rushey Green Safer Neighbourhood Team"
    )
    assert "(area rule: in Catford town centre)" in internal_routing_reason(engine, reference)

    make_user("sergeant@rg.example", "met-snt-rushey-green")
    make_user("sergeant@lc.example", "met-snt-lewisham-central")
    make_user("officer@cs.example", "lewisham-community-safety")
    rushey_green, lewisham_central, community_safety = (
        live_app.test_client(),
        live_app.test_client(),
        live_app.test_client(),
    )
    login(rushey_green, "sergeant@rg.example")
    login(lewisham_central, "sergeant@lc.example")
    login(community_safety, "officer@cs.example")

    assert reference in rushey_green.get("/triage").text
    assert reference in community_safety.get("/triage").text
    assert reference not in lewisham_central.get("/triage").text
    assert rushey_green.get(f"/triage/reports/{reference}").status_code == 200
    assert lewisham_central.get(f"/triage/reports/{reference}").status_code == 404


@pytest.mark.worker
def test_a_report_made_while_the_broker_is_unreachable_is_swept_and_routed_exactly_once(
    settings, live_app, celery_app, engine
):
    # The web app's broker is a closed port: the report must still be saved and acknowledged.
    offline = create_app(Settings(**{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0"}))
    response = offline.test_client().post(
        "/api/v1/reports",
        json={"category": "fly-tipping", **CATFORD_BROADWAY, "description": "Mattresses"},
    )
    offline.extensions["safer_streets"].dispose()
    assert response.status_code == 201
    reference = response.get_json()["reference"]
    time.sleep(0.5)
    assert wait_for_status(engine, reference, ReportStatus.RECEIVED, timeout=1)

    with session_scope(make_session_factory(engine)) as session:
        report_id = session.scalars(select(Report.id).where(Report.reference == reference)).one()
    # Duplicate deliveries as well as the sweep: processing must still happen once.
    celery_app.send_task(PROCESS_REPORTS, args=[[report_id]])
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        celery_app.send_task(SWEEP_RECEIVED)
        celery_app.send_task(PROCESS_REPORTS, args=[[report_id]])
        report = wait_for_status(engine, reference, ReportStatus.ROUTED)
        time.sleep(1)
    assert report.owner_partner_id is not None
    assert routed_events(engine, reference) == 1


@pytest.mark.worker
def test_a_typed_street_is_placed_by_the_worker_and_routed(live_app, worker, engine):
    client = live_app.test_client()
    response = client.post(
        "/api/v1/reports",
        json={"category": "street-lighting", "location_text": "rushey grn", "description": "Dark"},
    )
    reference = response.get_json()["reference"]
    report = wait_for_status(engine, reference, ReportStatus.ROUTED)
    assert report.street == "Rushey Green"
    assert report.postcode is not None
    body = client.get(f"/api/v1/reports/{reference}").get_json()
    assert body["ward"]["name"] == "Rushey Green"
    assert body["owner"]["slug"] == "lewisham-highways"


@pytest.mark.worker
def test_text_that_cannot_be_placed_goes_to_community_safety_to_locate(live_app, worker, engine):
    client = live_app.test_client()
    response = client.post(
        "/api/v1/reports",
        json={
            "category": "fly-tipping",
            "location_text": "behind the big tree",
            "description": "x",
        },
    )
    reference = response.get_json()["reference"]
    wait_for_status(engine, reference, ReportStatus.NEEDS_LOCATION)
    body = client.get(f"/api/v1/reports/{reference}").get_json()
    assert body["owner"]["slug"] == "lewisham-community-safety"
    # What the resident typed is for the team locating it, never for the public.
    assert "behind the big tree" not in str(body)
    assert "could not place “behind the big tree”" in internal_routing_reason(engine, reference)
