"""/healthz tells the truth: degraded, with the reasons, when mail cannot go out, emails pile
up, reports wait too long or are set aside; ok again once they are fixed."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from safer_streets import health
from safer_streets.models import EmailOutbox, Report
from safer_streets.notifications.mail_sink import MailSink
from safer_streets.web.app import create_app
from tests.routing.test_batched_routing import PLACES, submit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(client, timeout: float = 15) -> dict:
    """/healthz once it says ok: on two busy cores a worker can miss one 0.5 s ping."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get("/healthz").get_json()
        if body["status"] == "ok" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@pytest.mark.worker
def test_stopping_the_mail_server_makes_health_degraded_and_starting_it_makes_it_ok(
    settings, worker, tmp_path
):
    port = free_port()
    # Not cached here, so that each request sees the server as it is now.
    app = create_app(replace(settings, smtp_port=port, health_smtp_cache_seconds=0))
    client = app.test_client()
    sink = MailSink(tmp_path / "mail", port=port)
    sink.start()
    try:
        body = healthy(client)
        assert (body["status"], body["reasons"]) == ("ok", []), body
        assert body["smtp"] == {"ok": True}

        sink.stop()
        response = client.get("/healthz")
        body = response.get_json()
        assert response.status_code == 200, "degraded, not down: reports are still taken"
        assert body["status"] == "degraded"
        assert body["smtp"] == {"ok": False, "error": "ConnectionRefusedError"}
        assert "smtp: the mail server does not answer (ConnectionRefusedError)" in body["reasons"]
        assert body["database"]["ok"] and body["redis"]["ok"]
        assert list(body["redis"]["queues"]) == list(settings.celery_queues()), "routing first"
        assert body["redis"]["queue_length"] == sum(body["redis"]["queues"].values())

        sink = MailSink(tmp_path / "mail", port=port)
        sink.start()
        body = healthy(client)
        assert (body["status"], body["reasons"]) == ("ok", []), body
    finally:
        sink.stop()
        app.extensions["safer_streets"].dispose()


def test_the_smtp_answer_is_kept_so_a_poller_cannot_hammer_the_mail_server(tmp_path):
    port = free_port()
    now = [1000.0]
    check = health.CachedSmtpCheck(
        "127.0.0.1", port, timeout=1, cache_seconds=10, clock=lambda: now[0]
    )
    sink = MailSink(tmp_path, port=port)
    sink.start()
    try:
        assert check.state().ok
    finally:
        sink.stop()
    now[0] += 9.9
    assert check.state().ok, "the answer of 9.9 s ago stands: no new connection"
    now[0] += 0.1
    assert check.state() == health.SmtpState(False, "ConnectionRefusedError")


def test_a_mail_server_that_never_greets_is_given_up_on_after_the_timeout():
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        state = health.probe_smtp("127.0.0.1", silent.getsockname()[1], timeout=0.3)
    assert state == health.SmtpState(False, "TimeoutError")
    assert time.monotonic() - started < 2


def test_old_received_reports_set_aside_reports_and_an_outbox_backlog_are_reasons(
    app_with, db_session, settings
):
    client = app_with(health_outbox_max_unsent=1, health_outbox_max_age_seconds=600)
    body = client.test_client().get("/healthz").get_json()
    assert body["backlog"] == {
        "ok": True,
        "stale_received": 0,
        "oldest_received_seconds": None,
        "needs_attention": 0,
    }
    assert body["outbox"] == {"ok": True, "unsent": 0, "oldest_unsent_seconds": None, "gave_up": 0}

    waiting = submit(db_session, *PLACES[0])
    set_aside = submit(db_session, *PLACES[1])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    db_session.execute(update(Report).where(Report.id == waiting.id).values(created_at=an_hour_ago))
    db_session.execute(
        update(Report).where(Report.id == set_aside.id).values(status="needs_attention")
    )
    for n, attempts in enumerate((0, 1, 10)):
        db_session.add(
            EmailOutbox(
                key=f"test:{n}",
                kind="new_report",
                recipient="team@lewisham.example",
                created_at=an_hour_ago,
                attempts=attempts,
            )
        )
    db_session.flush()

    body = client.test_client().get("/healthz").get_json()
    assert body["status"] == "degraded"
    backlog, outbox = body["backlog"], body["outbox"]
    assert backlog["ok"] is False and backlog["stale_received"] == 1
    assert backlog["needs_attention"] == 1
    assert 3590 < backlog["oldest_received_seconds"] < 3700
    assert outbox["ok"] is False and (outbox["unsent"], outbox["gave_up"]) == (2, 1)
    assert 3590 < outbox["oldest_unsent_seconds"] < 3700
    limit = health.received_alert_after_seconds(settings)
    reasons = [r for r in body["reasons"] if r.startswith(("backlog", "outbox"))]
    assert reasons == [
        f"backlog: the oldest report waiting to be routed arrived "
        f"{backlog['oldest_received_seconds']:.0f} s ago "
        f"(the sweep should have it routed within {limit} s)",
        "backlog: 1 report(s) needs attention (routing failed repeatedly): "
        "retry at /admin/needs-attention after a fix",
        "outbox: 2 emails wait to be sent (more than 1)",
        f"outbox: the oldest unsent email was written {outbox['oldest_unsent_seconds']:.0f} s "
        "ago (more than 600 s)",
    ]
