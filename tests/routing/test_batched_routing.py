"""A burst of reports is published in batches and routed in one transaction, each exactly once."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import func, select, update

from geo.wards import WardIndex
from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import EmailOutbox, Partner, Report, ReportEvent, ReportStatus, Ward
from safer_streets.notifications import outbox as outbox_module
from safer_streets.notifications.outbox import unsent_ids
from safer_streets.places import Places
from safer_streets.routing import processing
from workers import tasks
from workers.queue import PROCESS_REPORTS, QueuedMarks, Queues, TaskQueue, make_celery

PLACES = [
    ("drug-dealing", 51.4452, -0.0207),  # Catford
    ("street-lighting", 51.4630, -0.0130),  # Lewisham Central
    ("fly-tipping", 51.4800, -0.0270),  # Deptford
    ("anti-social-behaviour", 51.4390, -0.0520),  # Perry Vale
    ("dangerous-road", 51.4250, -0.0330),  # Bellingham
]


def submit(session, category: str, lat: float, lon: float, text: str = "Seen tonight") -> Report:
    submission = parse_submission(
        {"category": category, "lat": lat, "lon": lon, "description": text}
    )
    report, _ = submit_report(session, submission, places=Places.default())
    return report


def test_a_batch_routes_every_report_once_with_its_own_reason_and_email(
    db_session, ward_index: WardIndex
):
    batch = [submit(db_session, *place) for place in PLACES]
    one_at_a_time = submit(db_session, *PLACES[0])
    places = Places.default()
    ids = [r.id for r in batch]

    assert processing.process_reports(db_session, ids, ward_index, places) == ids
    assert processing.process_reports(db_session, ids, ward_index, places) == [], "idempotent"
    processing.process_reports(db_session, [one_at_a_time.id], ward_index, places)

    for report in [*batch, one_at_a_time]:
        db_session.refresh(report)
        assert report.status is ReportStatus.ROUTED
        assert report.ward is not None and report.ward.name in report.routing_reason
        routed = db_session.scalars(
            select(ReportEvent).where(
                ReportEvent.report_id == report.id, ReportEvent.kind == "routed"
            )
        ).all()
        assert len(routed) == 1
        emails = db_session.scalar(select(func.count()).where(EmailOutbox.report_id == report.id))
        assert emails == 1, "the owner partner hears about each report once"
    # Routed in a batch or alone, a report gets the same owner, reason and deadlines.
    first, alone = batch[0], one_at_a_time
    assert (alone.owner_partner_id, alone.routing_reason) == (
        first.owner_partner_id,
        first.routing_reason,
    )
    assert alone.acknowledge_due_at - alone.routed_at == first.acknowledge_due_at - first.routed_at


def test_a_burst_of_submissions_is_published_as_a_few_batches(settings, redis_client):
    settings = replace(settings, celery_queue="safer-streets-test-burst")  # this test's alone
    queue = TaskQueue(make_celery(settings))
    ids = list(range(1, 301))
    for report_id in ids:
        assert queue.process_report(report_id)
    deadline = time.monotonic() + 10
    messages: list[list[int]] = []
    while sum(map(len, messages)) < len(ids) and time.monotonic() < deadline:
        raw = redis_client.lpop(settings.celery_queue)
        if raw is None:
            time.sleep(0.01)
            continue
        message = json.loads(raw)
        assert message["headers"]["task"] == PROCESS_REPORTS
        messages.append(json.loads(_body(message))[0][0])
    assert sorted(i for batch in messages for i in batch) == ids, "every id, once"
    assert len(messages) < len(ids) / 2, f"{len(messages)} messages for {len(ids)} reports"


def _body(message: dict) -> str:
    return base64.b64decode(message["body"]).decode()


def test_a_routed_batch_emails_each_partner_once_and_a_failed_send_waits_in_the_outbox(
    live_app, celery_app, settings, engine, mailbox, ward_index, redis_client, monkeypatch
):
    mailbox.clear()
    queues = Queues.for_settings(settings)
    with session_scope(make_session_factory(engine)) as session:
        ids = [submit(session, *place).id for place in PLACES[:3]]
        processing.process_reports(session, ids, ward_index, Places.default())
        outbox = unsent_ids(session, report_ids=ids)
    assert len(outbox) == 3

    redis_client.delete(*queues.all())
    # The worker's own context is put back afterwards (monkeypatch), so the session's worker
    # fixture disposes the engine it made, and this one is disposed here.
    refused = tasks.WorkerContext(replace(settings, smtp_port=1))  # nothing listens there
    monkeypatch.setattr(tasks, "_context", refused)
    try:
        assert tasks.send_emails(outbox[:1]) == 0
    finally:
        refused.session_factory.kw["bind"].dispose()
        monkeypatch.undo()
    assert not any(redis_client.llen(name) for name in queues.all()), (
        "a failed send publishes no retry: the outbox row holds it"
    )
    with session_scope(make_session_factory(engine)) as session:
        failed = session.get(EmailOutbox, outbox[0])
        assert failed.attempts == 1 and "refused" in failed.last_error.lower()
        retry_at = failed.next_attempt_at
        assert retry_at is not None and retry_at > datetime.now(UTC)
        claim = partial(outbox_module.claim_due, session, never_tried_after=timedelta(minutes=5))
        assert claim(datetime.now(UTC), lease=timedelta(minutes=5)) == [], "not due yet"
        later = retry_at + timedelta(seconds=1)
        assert claim(later, lease=timedelta(minutes=5)) == [outbox[0]], "due after the backoff"
        assert claim(later, lease=timedelta(minutes=5)) == [], "leased: not handed out twice"

    assert tasks.send_emails(outbox) == 3
    assert tasks.send_emails(outbox) == 0, "a redelivered batch sends nothing again"
    arrived = mailbox.wait_for(lambda m: "LEW-" in m["Subject"], count=3)
    assert len(arrived) == 3


def test_failed_sends_back_off_exponentially_up_to_the_cap():
    delays = [outbox_module.retry_delay(n, 30, 600).total_seconds() for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 600, 600]


def test_the_worker_s_routing_data_is_reloaded_after_any_change_to_what_routing_reads(db_session):
    cache = processing.RoutingDataCache()
    before = cache.current(db_session)
    assert cache.current(db_session) is before, "unchanged: kept, not read again"

    db_session.execute(
        update(Partner)
        .where(Partner.slug == "met-snt-rushey-green")
        .values(name="Rushey Green SNT")
    )
    after = cache.current(db_session)
    assert after.version > before.version
    assert "Rushey Green SNT" in {team.name for team in after.table.teams.values()}

    db_session.execute(update(Ward).values(name=Ward.name + " (old)"))
    assert all(w.name.endswith("(old)") for w in cache.current(db_session).wards.values())


def test_a_task_also_routes_reports_waiting_behind_it_and_their_own_tasks_find_nothing(
    db_session, ward_index: WardIndex
):
    first, *waiting = [submit(db_session, *place) for place in PLACES]
    places = Places.default()

    handled = processing.process_reports(
        db_session, [first.id], ward_index, places, also_waiting=10
    )
    assert handled == [first.id, *(r.id for r in waiting)]
    for report in waiting:
        assert processing.process_reports(db_session, [report.id], ward_index, places) == []
        db_session.refresh(report)
        assert report.status is ReportStatus.ROUTED


def test_the_sweep_re_enqueues_only_reports_with_no_message_queued(
    live_app, celery_app, settings, engine, redis_client
):
    marks = QueuedMarks.for_settings(settings)
    with session_scope(make_session_factory(engine)) as session:
        waiting, lost = (submit(session, *place).id for place in PLACES[:2])
    redis_client.delete(settings.celery_queue)
    marks.mark([waiting])  # the publisher sent it; it waits behind other work

    def swept() -> list[int]:
        tasks.sweep_received()
        raw = redis_client.lrange(settings.celery_queue, 0, -1)
        redis_client.delete(settings.celery_queue)
        return [i for m in raw for i in json.loads(_body(json.loads(m)))[0][0]]

    assert swept() == [lost], "the report with a message queued is not queued again"
    assert swept() == [], "nor is the one just swept, while its message waits"
    marks.clear([waiting, lost])  # the worker took both and could not route them
    assert sorted(swept()) == sorted([waiting, lost])
    marks.clear([waiting, lost])
    marks.client.close()
