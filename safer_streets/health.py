"""What ``/healthz`` says: each part's state, and ``ok``, ``degraded`` or ``down`` with why.

``down`` (HTTP 503) only when the database does not answer: nothing works without it.
``degraded`` (still 200) names every reason a resident's report or a partner's email is, or
soon will be, late: Redis or the workers gone, the mail server not answering, emails piling
up in the outbox, reports waiting in ``received`` longer than the sweep should ever let them,
or reports set aside as ``needs_attention``. The view only renders what ``check`` returns.
"""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from sqlalchemy import Float, cast, func, select, text
from sqlalchemy.orm import Session

from safer_streets.models import EmailOutbox, Report, ReportStatus
from safer_streets.notifications.outbox import MAX_ATTEMPTS
from safer_streets.redis_client import make_redis
from safer_streets.settings import Settings

WORKER_PING_SECONDS = 0.5


def received_alert_after_seconds(settings: Settings) -> int:
    """How long a report may wait in ``received`` before health says routing is late.

    The sweep re-enqueues a report ``sweep_after_seconds`` after it arrived and runs every
    ``sweep_every_seconds``: a report older than that plus two sweeps has been missed twice
    (no worker, no beat, or routing failing), whatever the queue did with it.
    """
    return settings.sweep_after_seconds + 2 * settings.sweep_every_seconds


def _age(column: Any, where: Any) -> Any:
    """Seconds since the oldest value of ``column`` among the rows matching ``where``."""
    return cast(func.extract("epoch", func.now() - func.min(column).filter(where)), Float)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(max(value, 0.0), 1)


@dataclass(frozen=True)
class Part:
    """One part of the answer: its fields in the body, and what is wrong with it, in words."""

    fields: dict[str, Any]
    reasons: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The fields with ``ok``, which is false exactly when there is a reason."""
        return {"ok": not self.reasons, **self.fields}


def backlog(session: Session, settings: Settings) -> Part:
    """Reports waiting to be routed: how many are stale, the oldest one's age, those set aside.

    One query on the (status, created_at) index; ages come from the database's clock, so a web
    server whose clock drifts cannot make them wrong.
    """
    received = Report.status == ReportStatus.RECEIVED
    stale_cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, settings.sweep_after_seconds)
    stale, oldest, set_aside = session.execute(
        select(
            func.count().filter(received, Report.created_at < stale_cutoff),
            _age(Report.created_at, received),
            func.count().filter(Report.status == ReportStatus.NEEDS_ATTENTION),
        ).where(Report.status.in_([ReportStatus.RECEIVED, ReportStatus.NEEDS_ATTENTION]))
    ).one()
    oldest = _seconds(oldest)
    limit = received_alert_after_seconds(settings)
    reasons = []
    if oldest is not None and oldest > limit:
        reasons.append(
            f"backlog: the oldest report waiting to be routed arrived {oldest:.0f} s ago "
            f"(the sweep should have it routed within {limit} s)"
        )
    if set_aside:
        reasons.append(
            f"backlog: {set_aside} report(s) needs attention (routing failed repeatedly): "
            "retry at /admin/needs-attention after a fix"
        )
    return Part(
        {
            "stale_received": stale,
            "oldest_received_seconds": oldest,
            "needs_attention": set_aside,
        },
        tuple(reasons),
    )


def outbox(session: Session, settings: Settings) -> Part:
    """Emails not sent yet: how many, the oldest one's age, and those given up on.

    Emails given up on (``MAX_ATTEMPTS`` failed sends) are counted apart: nothing will send
    them, so they would keep the oldest age growing for ever.
    """
    trying = EmailOutbox.attempts < MAX_ATTEMPTS
    unsent, oldest, gave_up = session.execute(
        select(
            func.count().filter(trying),
            _age(EmailOutbox.created_at, trying),
            func.count().filter(~trying),
        ).where(EmailOutbox.sent_at.is_(None))
    ).one()
    oldest = _seconds(oldest)
    reasons = []
    if unsent > settings.health_outbox_max_unsent:
        reasons.append(
            f"outbox: {unsent} emails wait to be sent "
            f"(more than {settings.health_outbox_max_unsent})"
        )
    if oldest is not None and oldest > settings.health_outbox_max_age_seconds:
        reasons.append(
            f"outbox: the oldest unsent email was written {oldest:.0f} s ago "
            f"(more than {settings.health_outbox_max_age_seconds} s)"
        )
    return Part(
        {"unsent": unsent, "oldest_unsent_seconds": oldest, "gave_up": gave_up}, tuple(reasons)
    )


@dataclass(frozen=True)
class SmtpState:
    """Whether the mail server answered, and if not the error's class."""

    ok: bool
    error: str | None = None


def probe_smtp(host: str, port: int, timeout: float) -> SmtpState:
    """Connect, read the server's greeting and say goodbye: enough to know it takes mail."""
    try:
        # Connecting reads the 220 greeting (anything else raises); leaving the block says QUIT.
        with smtplib.SMTP(host, port, timeout=timeout):
            pass
    except (OSError, smtplib.SMTPException) as error:
        # smtplib reports a greeting that never came as "disconnected": name the timeout.
        underlying = (
            error.__context__ if isinstance(error, smtplib.SMTPServerDisconnected) else None
        )
        return SmtpState(False, type(underlying or error).__name__)
    return SmtpState(True)


class CachedSmtpCheck:
    """``probe_smtp``, asked at most once every ``cache_seconds``, however often health is.

    One probe at a time: a request arriving during a probe waits for its answer (at most the
    timeout) rather than starting another connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.port, self.timeout, self.cache_seconds = host, port, timeout, cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state: SmtpState | None = None
        self._checked_at = 0.0

    def state(self) -> SmtpState:
        """The last answer if it is recent enough, else a new probe's."""
        with self._lock:
            if self._state is None or self._clock() - self._checked_at >= self.cache_seconds:
                self._state = probe_smtp(self.host, self.port, self.timeout)
                self._checked_at = self._clock()
            return self._state


_smtp_checks: dict[tuple[str, int, float, float], CachedSmtpCheck] = {}
_smtp_checks_lock = threading.Lock()


def smtp_check(settings: Settings) -> CachedSmtpCheck:
    """This process's cached check of the configured SMTP server."""
    key = (
        settings.smtp_host,
        settings.smtp_port,
        settings.health_smtp_timeout_seconds,
        settings.health_smtp_cache_seconds,
    )
    with _smtp_checks_lock:
        if key not in _smtp_checks:
            _smtp_checks[key] = CachedSmtpCheck(*key)
        return _smtp_checks[key]


def _redis(settings: Settings) -> Part:
    try:
        client = make_redis(settings.redis_url)
        client.ping()
        pipe = client.pipeline(transaction=False)
        names = settings.celery_queues()
        for name in names:
            pipe.llen(name)
        lengths = dict(zip(names, pipe.execute(), strict=True))
        # queue_length: all tasks waiting, as before; queues: each queue's, routing first.
        return Part({"queue_length": sum(lengths.values()), "queues": lengths})
    except redis.RedisError as error:
        name = type(error).__name__
        return Part({"error": name}, (f"redis: not answering ({name})",))


def _workers(celery: Celery) -> Part:
    try:
        replies = celery.control.ping(timeout=WORKER_PING_SECONDS)
    except Exception as error:
        name = type(error).__name__
        return Part({"error": name}, (f"worker: cannot ask the workers ({name})",))
    if not replies:
        why = f"worker: no worker answered a ping within {WORKER_PING_SECONDS} s"
        return Part({"workers": 0}, (why,))
    return Part({"workers": len(replies)})


def _smtp(settings: Settings) -> Part:
    state = smtp_check(settings).state()
    if state.ok:
        return Part({})
    return Part({"error": state.error}, (f"smtp: the mail server does not answer ({state.error})",))


def check(session: Session, settings: Settings, celery: Celery) -> tuple[dict[str, Any], int]:
    """Every part's state, the overall status with its reasons, and the HTTP status."""
    parts: dict[str, Part] = {}
    try:
        session.execute(text("SELECT 1"))
        parts["backlog"] = backlog(session, settings)
        parts["outbox"] = outbox(session, settings)
        database = Part({})
    except Exception as error:
        name = type(error).__name__
        database = Part({"error": name}, (f"database: not answering ({name})",))
        parts.clear()
    parts = {
        "database": database,
        "redis": _redis(settings),
        "worker": _workers(celery),
        "smtp": _smtp(settings),
        **parts,
    }
    body: dict[str, Any] = {name: part.body() for name, part in parts.items()}
    reasons = [reason for part in parts.values() for reason in part.reasons]
    up = not database.reasons
    body["status"] = "down" if not up else "degraded" if reasons else "ok"
    body["reasons"] = reasons
    return body, 200 if up else 503
