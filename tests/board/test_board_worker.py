"""Hotspot runs are computed by a real Celery worker and stored; the board reads them."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import HotspotCell, HotspotRun, Role, RunStatus
from tests.board_data import CATFORD, add_reports, around, scattered
from tests.helpers import csrf_token, login
from workers.queue import NIGHTLY_HOTSPOT_RUNS

pytestmark = pytest.mark.worker


def wait_for_runs(engine, count: int, timeout: float = 60) -> list[HotspotRun]:
    """Poll until ``count`` runs are finished (done or failed)."""
    factory = make_session_factory(engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(factory) as session:
            runs = session.scalars(
                select(HotspotRun)
                .where(HotspotRun.status.in_((RunStatus.DONE, RunStatus.FAILED)))
                .order_by(HotspotRun.id)
            ).all()
            if len(runs) >= count:
                return list(runs)
        time.sleep(0.2)
    pytest.fail(f"{count} hotspot runs were not computed within {timeout}s")


@pytest.fixture
def stored_reports(engine):
    with session_scope(make_session_factory(engine)) as session:
        add_reports(session, "fly-tipping", scattered(200), owner="lewisham-environment")
        add_reports(session, "drug-dealing", around(CATFORD, 50), owner="met-snt-rushey-green")


def test_a_run_asked_for_on_the_board_is_computed_by_the_worker_and_shown(
    live_app, worker, engine, make_user, stored_reports
):
    make_user("chair@board.test", None, Role.BOARD)
    client = live_app.test_client()
    login(client, "chair@board.test")
    page = client.get("/board?category=drug-dealing")
    assert "No hotspot run for these filters yet" in page.text

    token = csrf_token(client, "/board?category=drug-dealing")
    response = client.post(
        "/board/runs",
        data={"category": "drug-dealing", "period": "12m", "time": "any", "csrf_token": token},
    )
    assert response.status_code == 303
    assert "queued=1" in response.headers["Location"]

    (run,) = wait_for_runs(engine, 1)
    assert run.status is RunStatus.DONE, run.error
    assert run.parameters["categories"] == ["drug-dealing"]
    assert run.summary["n_points"] == 50
    assert run.summary["label_counts"].get("hot-99", 0) > 0
    with session_scope(make_session_factory(engine)) as session:
        cells = session.scalar(
            select(func.count()).select_from(HotspotCell).where(HotspotCell.run_id == run.id)
        )
    assert cells == run.summary["cells_stored"] > 3000

    page = client.get("/board?category=drug-dealing")
    assert f"Hotspot run {run.id}" in page.text
    assert "Hot and cold spots (Gi*, FDR)" in client.get("/board/map.js?category=drug-dealing").text


def test_the_nightly_task_computes_every_standard_run_once(
    live_app, worker, engine, celery_app, stored_reports
):
    celery_app.send_task(NIGHTLY_HOTSPOT_RUNS)
    runs = wait_for_runs(engine, 20, timeout=180)
    assert all(run.status is RunStatus.DONE for run in runs), [r.error for r in runs]
    kinds = {(tuple(r.parameters["categories"] or ()), r.parameters["time_of_day"]) for r in runs}
    assert ((), "any") in kinds
    assert ((), "after-dark") in kinds
    assert (("fly-tipping",), "any") in kinds
    assert (("feeling-unsafe",), "after-dark") in kinds
    # Every category at any time (13), and the five safety categories after dark too.
    assert len(kinds) == 20
    # A second beat the same night adds nothing.
    celery_app.send_task(NIGHTLY_HOTSPOT_RUNS)
    time.sleep(2)
    assert len(wait_for_runs(engine, 20)) == 20
