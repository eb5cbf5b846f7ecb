"""Chaos soak: no report lost and none routed twice while the worker, Redis and PostgreSQL fail.

Proves that of N reports (default 10,000) sent to ``POST /api/v1/reports``, each with its own
Idempotency-Key, every one is stored exactly once and routed exactly once, and its owner
partner gets one email in the outbox, counted by state in the database at the end, while the
reports are being sent:

- the Celery worker (all its processes) is SIGKILLed every 10 s and started again;
- a third of the way through, Redis is stopped and started again on the same port; it keeps
  nothing on disk, so every queued and unacknowledged message is lost;
- two thirds of the way through, PostgreSQL is stopped in ``immediate`` mode (every backend
  aborted, as in a crash) and started again on the same port and data directory.

Then the backlog drains with the worker left running, and the count waits until no routing task
is queued or unacknowledged, so a late redelivery could not route anything a second time.

Run: .venv/bin/python -m bench.bench_chaos [--reports 10000] [--rate 100]

Everything is real and private to this run: a PostgreSQL cluster (PostGIS) in a temporary
directory and a Redis server on free ports, gunicorn serving the app, a Celery worker with two
processes, a separate ``celery beat`` (as the Procfile runs it) that schedules the sweep of
reports left ``received``, and a local SMTP server for partner emails. The client behaves like
a mobile app: it sends at a steady rate and repeats a request, with the same key, after a
dropped connection, a 5xx or a 429 until it gets 201. Exit status 1 when an invariant fails.
Logs of gunicorn, the worker and beat: var/chaos/.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import re
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bench.bench_intake import environment, gunicorn, report_body
from bench.loadgen import Connection, build_request
from safer_streets.db import make_engine
from safer_streets.settings import Settings
from tests.faults.services import (
    BeatProcess,
    Outcome,
    PrivatePostgres,
    PrivateRedis,
    WorkerProcess,
    count_outcomes,
    free_port,
)
from tests.helpers import Mailbox
from workers.queue import PROCESS_REPORTS

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "var" / "chaos"
QUEUE = "safer-streets-chaos"
HOST = "127.0.0.1"
START = time.monotonic()
# A client waits at most this long between two attempts, whatever Retry-After says.
MAX_BACKOFF_S = 5.0
# A client gives up on a report after this long: the run has failed by then.
GIVE_UP_S = 300.0


def say(message: str) -> None:
    """Print a line stamped with the clock (to match the logs) and the seconds since start."""
    print(f"{time.strftime('%H:%M:%S')} [{time.monotonic() - START:6.1f} s] {message}", flush=True)


@dataclass
class Faults:
    """How many of each fault the schedule injected."""

    worker_kills: int = 0
    redis_restarts: int = 0
    postgres_restarts: int = 0
    # Messages the faults took away: held by a killed worker, or in Redis when it stopped.
    unacked_at_kills: int = 0
    lost_with_redis: int = 0


def queue_depth(redis_url: str) -> tuple[int, int]:
    """Messages waiting in the queue, and messages delivered but not yet acknowledged."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        # kombu's Redis transport keeps each delivered, unacknowledged message in the
        # `unacked` hash until it is acknowledged or handed out again.
        return client.llen(QUEUE), client.hlen("unacked")
    finally:
        client.close()


class Chaos(threading.Thread):
    """Breaks things on a schedule until stopped.

    The worker is SIGKILLed every ``kill_every`` seconds and started again at once; Redis and
    PostgreSQL are each stopped once, at ``redis_at`` and ``postgres_at`` seconds, and started
    again ``outage`` seconds later.
    """

    def __init__(
        self,
        worker: WorkerProcess,
        redis_server: PrivateRedis,
        postgres: PrivatePostgres,
        *,
        kill_every: float,
        redis_at: float,
        postgres_at: float,
        outage: float,
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.worker, self.redis, self.postgres = worker, redis_server, postgres
        self.kill_every, self.outage = kill_every, outage
        self.one_offs = sorted(
            [(redis_at, self.restart_redis), (postgres_at, self.restart_postgres)],
            key=lambda item: item[0],
        )
        self.faults = Faults()
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        start = time.monotonic()
        next_kill = self.kill_every
        try:
            while True:
                if self.one_offs and self.one_offs[0][0] < next_kill:
                    due, action = self.one_offs.pop(0)
                else:
                    due, action = next_kill, self.kill_worker
                    next_kill += self.kill_every
                if self.stopped.wait(max(0.0, start + due - time.monotonic())):
                    return
                action()
        except BaseException as error:
            self.error = error
            say(f"the chaos schedule failed: {error!r}")

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def kill_worker(self) -> None:
        pid = self.worker.process.pid if self.worker.process else None
        _queued, unacked = queue_depth(self.redis.url)
        self.worker.kill()
        self.worker.start()
        self.faults.worker_kills += 1
        self.faults.unacked_at_kills += unacked
        say(f"fault: SIGKILL worker (pid {pid}, {unacked} tasks unacknowledged); restarted it")

    def restart_redis(self) -> None:
        queued, unacked = queue_depth(self.redis.url)
        self.redis.stop()
        self.faults.lost_with_redis += queued + unacked
        say(f"fault: Redis stopped, losing {queued} queued and {unacked} unacknowledged messages")
        time.sleep(self.outage)
        self.redis.start()
        self.faults.redis_restarts += 1
        say(f"fault: Redis started again (empty) on port {self.redis.port}")

    def restart_postgres(self) -> None:
        self.postgres.stop(mode="immediate")
        say("fault: PostgreSQL stopped (immediate: every connection aborted)")
        time.sleep(self.outage)
        self.postgres.start()
        self.faults.postgres_restarts += 1
        say(f"fault: PostgreSQL started again on port {self.postgres.port}")


@dataclass
class Clients:
    """Residents' phones: each report is sent until it is accepted, with the same key."""

    port: int
    rate: float
    max_in_flight: int
    run_id: str = field(default_factory=lambda: f"{random.getrandbits(48):012x}")
    accepted: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → reference
    retries: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    gave_up: int = 0
    latencies_s: list[float] = field(default_factory=list)
    in_flight: int = 0

    def request(self, i: int) -> tuple[str, bytes]:
        """Report ``i``: its key and the raw HTTP request."""
        key = f"chaos-{self.run_id}-{i}"
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        return key, build_request(HOST, "/api/v1/reports", report_body(i), headers)

    async def submit(self, i: int, scheduled: float) -> None:
        key, raw = self.request(i)
        attempt = 0
        while True:
            retry_after = 0.0
            # A fresh connection each attempt: after a backoff longer than gunicorn's keep-alive
            # a reused one would only fail for being stale.
            connection = Connection(HOST, self.port)
            try:
                status, headers, body = await asyncio.wait_for(connection.exchange(raw), 30)
            except (OSError, EOFError, ValueError, TimeoutError) as error:
                # The report may or may not have been stored: only the same key is safe.
                reason = type(error).__name__
            else:
                if status == 201:
                    self.accepted[key] = json.loads(body)["reference"]
                    self.replayed += headers.get("idempotent-replayed") == "true"
                    self.latencies_s.append(time.perf_counter() - scheduled)
                    connection.close()
                    return
                if status != 429 and status < 500:
                    raise RuntimeError(f"report {i}: unexpected {status}: {body[:300]!r}")
                reason = str(status)
                retry_after = float(headers.get("retry-after", 0) or 0)
            finally:
                connection.close()
            self.retries[reason] += 1
            if time.perf_counter() - scheduled > GIVE_UP_S:
                self.gave_up += 1
                return
            attempt += 1
            backoff = retry_after or 0.1 * 2**attempt
            await asyncio.sleep(min(MAX_BACKOFF_S, backoff) * random.uniform(0.5, 1.0))

    async def run(self, reports: int) -> float:
        """Send every report at the steady rate; seconds until the last one was accepted."""
        slots = asyncio.Semaphore(self.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()

        async def one(i: int, scheduled: float) -> None:
            self.in_flight += 1
            try:
                await self.submit(i, scheduled)
            finally:
                self.in_flight -= 1
                slots.release()

        progress = asyncio.create_task(self.progress())
        for i in range(reports):
            scheduled = start + i / self.rate
            if (delay := scheduled - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            # A cap on open connections: past it, sending slips behind the schedule.
            await slots.acquire()
            task = asyncio.create_task(one(i, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        progress.cancel()
        return time.perf_counter() - start

    async def progress(self) -> None:
        while True:
            await asyncio.sleep(10)
            say(
                f"clients: {len(self.accepted)} accepted, {self.in_flight} in flight, "
                f"{sum(self.retries.values())} retries"
            )


def wait_until_healthy(port: int, timeout: float = 120) -> None:
    """Until /healthz says the database, Redis and a worker all answer: the soak starts from a
    running system, not from gunicorn and the worker still loading."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            if json.loads(connection.getresponse().read()).get("status") == "ok":
                return
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.5)
    raise TimeoutError(f"the system was not healthy within {timeout:.0f} s")


def received_count(engine: Engine) -> int | None:
    """Reports still `received`, or None while the database cannot answer."""
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM report WHERE status = 'received'"))
    except OperationalError:
        return None


def wait_until_drained(engine: Engine, timeout: float) -> float | None:
    """Seconds until no report is `received`; None if some still are after ``timeout``."""
    start = time.monotonic()
    last_said = start
    while (elapsed := time.monotonic() - start) < timeout:
        left = received_count(engine)
        if left == 0:
            return elapsed
        if time.monotonic() - last_said >= 10:
            say(f"draining: {left} reports still received")
            last_said = time.monotonic()
        time.sleep(0.5)
    return None


def pending_routing_tasks(client: redis.Redis) -> int:
    """Messages queued, plus routing tasks delivered but not yet acknowledged."""
    # Each value in `unacked` (see queue_depth) is [message, exchange, routing key].
    unacked = [json.loads(value)[0] for value in client.hvals("unacked")]
    routing = sum(1 for message in unacked if message["headers"]["task"] == PROCESS_REPORTS)
    return client.llen(QUEUE) + routing


def wait_until_settled(redis_url: str, timeout: float) -> int:
    """Wait until no task that could route a report is left; how many are left at the end.

    Until then a redelivered or swept task could still route something a second time.
    """
    client = redis.Redis.from_url(redis_url)
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        left = pending_routing_tasks(client)
        # Empty at two looks a second apart, so no message was between the list and `unacked`.
        quiet = 0 if left else quiet + 1
        if quiet == 2:
            break
        time.sleep(1)
    client.close()
    return left


def smtp_deliveries(mailbox: Mailbox) -> tuple[int, int]:
    """New-report emails the SMTP server received, and reports it received more than one for."""
    subjects = [str(message["Subject"]) for message in list(mailbox.messages)]
    references = Counter(
        match.group(1) for s in subjects if (match := re.match(r"New report (\S+):", s))
    )
    return sum(references.values()), sum(1 for n in references.values() if n > 1)


def log_count(path: Path, pattern: str) -> tuple[int, int]:
    """Lines in a log matching ``pattern``, and the sum of its first group (0 without one)."""
    if not path.exists():
        return 0, 0
    matches = re.findall(pattern, path.read_text(errors="replace"))
    return len(matches), sum(int(m) for m in matches if str(m).isdigit())


def print_table(
    outcome: Outcome,
    clients: Clients,
    faults: Faults,
    submit_s: float,
    drain_s: float | None,
    mailbox: Mailbox,
) -> None:
    latencies = np.array(clients.latencies_s) if clients.latencies_s else np.array([np.nan])
    delivered, delivered_more = smtp_deliveries(mailbox)
    sweeps, swept = log_count(LOGS / "worker.log", r"Swept (\d+) received reports")
    publish_failures, _ = log_count(LOGS / "gunicorn.log", r"Could not enqueue")
    routed = outcome.statuses.get("routed", 0) + outcome.statuses.get("needs_location", 0)
    # (what, count, whether it is an invariant that holds; None for figures that only inform)
    rows: list[tuple[str, object, bool | None]] = [
        ("submitted (201 from the API)", outcome.submitted, clients.gave_up == 0),
        ("stored: exactly one report per key", outcome.stored, None),
        ("lost", outcome.lost, outcome.lost == 0),
        ("duplicated", outcome.duplicated, outcome.duplicated == 0),
        ("given another reference", outcome.wrong_reference, outcome.wrong_reference == 0),
        ("routed once", outcome.routed_once, outcome.routed_once == outcome.submitted),
        ("routed twice or more", outcome.routed_twice, outcome.routed_twice == 0),
        ("never routed", outcome.never_routed, outcome.never_routed == 0),
        ("still received", outcome.still_received, outcome.still_received == 0),
        ("partner emailed twice (outbox)", outcome.emailed_twice, outcome.emailed_twice == 0),
        ("status now", dict(sorted(outcome.statuses.items())), None),
        ("routed reports with a partner email", f"{outcome.reports_emailed} / {routed}", None),
        ("partner emails sent / delivered", f"{outcome.emails_sent} / {delivered}", None),
        ("reports delivered twice by SMTP", delivered_more, None),
        ("time to submit all", f"{submit_s:.1f} s", None),
        (
            "time to drain after the last 201",
            "timed out" if drain_s is None else f"{drain_s:.1f} s",
            drain_s is not None,
        ),
        (
            "submit → 201 p50 / p99 / max",
            f"{np.percentile(latencies, 50):.2f} / {np.percentile(latencies, 99):.2f} / "
            f"{latencies.max():.2f} s",
            None,
        ),
        ("fault: worker SIGKILLed", faults.worker_kills, faults.worker_kills > 0),
        ("  tasks it held unacknowledged", faults.unacked_at_kills, None),
        ("fault: Redis restarted", faults.redis_restarts, faults.redis_restarts > 0),
        ("  messages lost with it", faults.lost_with_redis, None),
        ("fault: PostgreSQL restarted", faults.postgres_restarts, faults.postgres_restarts > 0),
        ("client retries", sum(clients.retries.values()), None),
        *((f"  after {reason}", n, None) for reason, n in sorted(clients.retries.items())),
        ("client retries answered as a replay", clients.replayed, None),
        ("failed publishes logged by the web", publish_failures, None),
        ("sweeps that re-enqueued reports", f"{sweeps} ({swept} reports)", None),
    ]
    print()
    for what, count, holds in rows:
        verdict = "" if holds is None else ("ok" if holds else "FAILED")
        print(f"  {what:<40} {count!s:>24}  {verdict}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100, help="reports sent per second")
    parser.add_argument("--kill-every", type=float, default=10, help="seconds between SIGKILLs")
    parser.add_argument("--outage", type=float, default=3, help="seconds each is down")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--sweep-after", type=int, default=30, help="SWEEP_AFTER_SECONDS")
    parser.add_argument("--max-in-flight", type=int, default=500)
    args = parser.parse_args()
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)

    sending_s = args.reports / args.rate
    say(f"{args.reports} reports at {args.rate:.0f}/s (~{sending_s:.0f} s); starting services")
    postgres = PrivatePostgres.seeded()
    redis_server = PrivateRedis()
    redis_server.start()
    smtp_port = free_port()
    mailbox = Mailbox(HOST, smtp_port)
    mailbox.start()
    settings = Settings(
        secret_key="chaos",
        database_url=postgres.url,
        redis_url=redis_server.url,
        celery_queue=QUEUE,
        smtp_port=smtp_port,
        # A report whose message was lost is re-enqueued 30-40 s later. Not sooner: the sweep
        # cannot tell a lost message from one still waiting behind the backlog, and at 5 s it
        # re-enqueues some 50,000 duplicates for 10,000 reports, which the worker then has to
        # get through as no-ops.
        sweep_after_seconds=args.sweep_after,
        sweep_every_seconds=10,
        # A killed worker's unacknowledged task is handed out again after 10 s.
        visibility_timeout_seconds=10,
        # The load generator is one address standing in for thousands of residents.
        api_write_rate_limit="1000000 per minute",
        area_rate_limit="1000000 per minute",
    )
    env = environment(settings)
    worker = WorkerProcess(env, LOGS / "worker.log", concurrency=2, embedded_beat=False)
    beat = BeatProcess(env, LOGS / "beat.log")
    chaos: Chaos | None = None
    try:
        worker.start()
        beat.start()
        with gunicorn(
            "safer_streets.web.app:create_app()",
            env,
            workers=2,
            threads=8,
            log=LOGS / "gunicorn.log",
        ) as port:
            wait_until_healthy(port)
            say(f"up: PostgreSQL :{postgres.port}, Redis :{redis_server.port}, gunicorn :{port}")
            chaos = Chaos(
                worker,
                redis_server,
                postgres,
                kill_every=args.kill_every,
                redis_at=sending_s / 3,
                postgres_at=sending_s * 2 / 3,
                outage=args.outage,
            )
            clients = Clients(port, args.rate, args.max_in_flight)
            say("sending; the chaos schedule starts")
            chaos.start()
            submit_s = asyncio.run(clients.run(args.reports))
            # The worker restarting every 10 s spends much of its time starting up; the backlog
            # drains with it left running.
            chaos.stop()
            say(f"all {len(clients.accepted)} reports accepted in {submit_s:.1f} s; chaos stopped")
            engine = make_engine(postgres.url)
            drain_s = wait_until_drained(engine, args.drain_timeout)
            if drain_s is None:
                say(f"not drained within {args.drain_timeout:.0f} s; counting now")
            else:
                say(f"drained in {drain_s:.1f} s; waiting until no routing task is left")
                if left := wait_until_settled(redis_server.url, 120):
                    say(f"{left} routing tasks still queued after 120 s; counting anyway")
            outcome = count_outcomes(engine, clients.accepted)
            engine.dispose()
    finally:
        if chaos is not None and chaos.is_alive():
            chaos.stop()
        beat.stop()
        worker.stop()
        redis_server.stop()
        mailbox.stop()
        postgres.stop()
        shutil.rmtree(postgres.directory, ignore_errors=True)

    print_table(outcome, clients, chaos.faults, submit_s, drain_s, mailbox)
    failures = outcome.failures()
    if clients.gave_up:
        failures.append(f"{clients.gave_up} reports never accepted")
    if chaos.error is not None:
        failures.append(f"the chaos schedule failed: {chaos.error!r}")
    if drain_s is None:
        failures.append(f"not drained within {args.drain_timeout:.0f} s")
    faults = chaos.faults
    if not (faults.worker_kills and faults.redis_restarts and faults.postgres_restarts):
        failures.append("not every fault was injected")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(
        f"PASSED: {outcome.submitted} reports, each stored once and routed once, through "
        f"{chaos.faults.worker_kills} worker SIGKILLs, {chaos.faults.redis_restarts} Redis and "
        f"{chaos.faults.postgres_restarts} PostgreSQL restarts"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
