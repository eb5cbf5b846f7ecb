"""Chaos soak: no report lost, none routed twice, every owner emailed, while things fail.

Proves that of the reports sent to ``POST /api/v1/reports`` at 80 % of the intake capacity
measured in the same run, each with its own Idempotency-Key, every one is stored exactly once
and routed exactly once, and its owner partner's email reaches the SMTP server at least once
(copies beyond one counted), while, during the sending:

- the Celery workers (the routing one and the email one, all their processes) are SIGKILLed
  every 10 s and started again;
- a third of the way through, Redis is stopped and started again on the same port; it keeps
  nothing on disk, so every queued and unacknowledged message is lost;
- from 40 % to 62 % of the way through, the SMTP server is down;
- two thirds of the way through, PostgreSQL (``fsync=on``) is stopped in ``immediate`` mode
  (every backend aborted, as in a crash) and started again on the same port and data directory.

Then the backlog drains with the workers left running, the count waits until no routing task is
queued or unacknowledged (so a late redelivery could not route anything a second time), and
until the outbox sweep has sent every email. Routing latency (submitted → routed) is recorded
before, during and after the SMTP outage.

Run: .venv/bin/python -m bench.bench_chaos [--duration 120] [--load 0.8] [--quick]

Everything is real and private to this run: a PostgreSQL cluster (PostGIS) in a temporary
directory and a Redis server on free ports, gunicorn serving the app, the two Celery workers and
a separate ``celery beat`` as the Procfile runs them, and a local SMTP server. The client behaves
like a mobile app: it sends at a steady rate and repeats a request, with the same key, after a
dropped connection, a 5xx or a 429 until it gets 201. Exit status 1 when an invariant fails.
Results: bench/results/chaos.json. Logs of gunicorn, the workers and beat: var/chaos/.
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
from email.message import Message
from pathlib import Path

import numpy as np
import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bench.bench_intake import environment, gunicorn, report_body
from bench.loadgen import Connection, build_request, closed_loop
from bench.results import Results
from safer_streets.db import make_engine
from safer_streets.settings import Settings
from tests.faults.services import (
    BeatProcess,
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
    # When the SMTP server was down (time.time(), to compare with the database's clock).
    smtp_down_at: float | None = None
    smtp_up_at: float | None = None


def queue_depth(redis_url: str) -> tuple[int, int]:
    """Messages waiting in the queue, and messages delivered but not yet acknowledged."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        # kombu's Redis transport keeps each delivered, unacknowledged message in the
        # `unacked` hash until it is acknowledged or handed out again.
        return client.llen(QUEUE), client.hlen("unacked")
    finally:
        client.close()


class SmtpSink:
    """The partners' SMTP server, which the chaos stops and starts again. An aiosmtpd server
    cannot be started twice, so each start is a new one on the same port; ``messages`` is
    what all of them received."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.boxes: list[Mailbox] = []
        self.running = False

    def start(self) -> None:
        self.boxes.append(Mailbox(HOST, self.port))
        self.boxes[-1].start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.boxes[-1].stop()
            self.running = False

    @property
    def messages(self) -> list[Message]:
        return [message for box in self.boxes for message in list(box.messages)]


class Chaos(threading.Thread):
    """Breaks things on a schedule until stopped.

    The workers (routing and email) are SIGKILLed every ``kill_every`` seconds and started
    again at once; Redis and PostgreSQL are each stopped once, at ``redis_at`` and
    ``postgres_at`` seconds, and started again ``outage`` seconds later; the SMTP server is
    stopped at ``smtp_down_at`` and started again at ``smtp_up_at``.
    """

    def __init__(
        self,
        workers: list[WorkerProcess],
        redis_server: PrivateRedis,
        postgres: PrivatePostgres,
        smtp: SmtpSink,
        *,
        kill_every: float,
        redis_at: float,
        postgres_at: float,
        outage: float,
        smtp_down_at: float,
        smtp_up_at: float,
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.workers, self.redis, self.postgres = workers, redis_server, postgres
        self.smtp = smtp
        self.kill_every, self.outage = kill_every, outage
        self.one_offs = sorted(
            [
                (redis_at, self.restart_redis),
                (postgres_at, self.restart_postgres),
                (smtp_down_at, self.stop_smtp),
                (smtp_up_at, self.start_smtp),
            ],
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
        pids = [worker.process.pid for worker in self.workers if worker.process]
        _queued, unacked = queue_depth(self.redis.url)
        for worker in self.workers:
            worker.kill()
            worker.start()
        self.faults.worker_kills += 1
        self.faults.unacked_at_kills += unacked
        say(f"fault: SIGKILL workers (pids {pids}, {unacked} tasks unacknowledged); restarted")

    def stop_smtp(self) -> None:
        self.smtp.stop()
        self.faults.smtp_down_at = time.time()
        say("fault: SMTP server stopped")

    def start_smtp(self) -> None:
        self.smtp.start()
        self.faults.smtp_up_at = time.time()
        say(f"fault: SMTP server started again on port {self.smtp.port}")

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


def measure_capacity(port: int, seconds: float, connections: int) -> float:
    """Reports accepted per second by a closed loop of the soak's own requests."""
    run_id = f"{random.getrandbits(48):012x}"

    def make(i: int) -> bytes:
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"cap-{run_id}-{i}"}
        return build_request(HOST, "/api/v1/reports", report_body(i), headers)

    result = asyncio.run(closed_loop(HOST, port, make, connections, seconds))
    say(f"capacity, closed loop: {result.summary()}")
    return result.ok / result.elapsed_s


def forget_reports(engine: Engine) -> None:
    """Remove the capacity run's reports (and their emails), so the soak counts only its own."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE report CASCADE"))


def unsent_emails(engine: Engine) -> int | None:
    """Outbox rows not yet sent, or None while the database cannot answer."""
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL"))
    except OperationalError:
        return None


def wait_until_sent(engine: Engine, timeout: float) -> float | None:
    """Seconds until the outbox has nothing unsent; None if it still has after ``timeout``."""
    start = time.monotonic()
    last_said = start
    while (elapsed := time.monotonic() - start) < timeout:
        left = unsent_emails(engine)
        if left == 0:
            return elapsed
        if time.monotonic() - last_said >= 10:
            say(f"outbox: {left} emails not yet sent")
            last_said = time.monotonic()
        time.sleep(1)
    return None


@dataclass(frozen=True)
class Deliveries:
    """Whether each routed report's owner got its new-report email, from the SMTP side."""

    expected: int  # routed reports whose owner wants new-report emails now
    delivered: int  # of those, delivered to the owner's address at least once
    missing: list[str]  # references never delivered
    duplicated: int  # reports whose owner got the email more than once
    extra_copies: int  # deliveries beyond one per report


def deliveries(engine: Engine, sink: SmtpSink) -> Deliveries:
    """Match every routed report's owner address with the messages the SMTP servers took."""
    with engine.connect() as conn:
        wanted = dict(
            conn.execute(
                text("""
                SELECT report.reference, lower(partner.email) FROM report
                JOIN partner ON partner.id = report.owner_partner_id
                LEFT JOIN partner_preference ON partner_preference.partner_id = partner.id
                WHERE report.status = 'routed' AND coalesce(partner.email, '') <> ''
                  AND coalesce(partner_preference.new_report_emails, 'immediate') = 'immediate'""")
            ).all()
        )
    got: Counter[tuple[str, str]] = Counter()
    for message in sink.messages:
        if match := re.match(r"New report (\S+):", str(message["Subject"])):
            got[(match.group(1), str(message["To"]).lower())] += 1
    counts = [got[(reference, address)] for reference, address in wanted.items()]
    return Deliveries(
        expected=len(wanted),
        delivered=sum(1 for n in counts if n),
        missing=sorted(ref for ref, address in wanted.items() if not got[(ref, address)]),
        duplicated=sum(1 for n in counts if n > 1),
        extra_copies=sum(n - 1 for n in counts if n > 1),
    )


def routing_latencies(engine: Engine, since: float) -> list[tuple[float, float]]:
    """(submitted at, seconds until routed) of every report placed since ``since``."""
    with engine.connect() as conn:
        return [
            (float(created), float(waited))
            for created, waited in conn.execute(
                text("""
                SELECT extract(epoch FROM created_at), extract(epoch FROM routed_at - created_at)
                FROM report WHERE routed_at IS NOT NULL
                  AND created_at >= to_timestamp(:since)"""),
                {"since": since},
            )
        ]


def log_count(path: Path, pattern: str) -> tuple[int, int]:
    """Lines in a log matching ``pattern``, and the sum of its first group (0 without one)."""
    if not path.exists():
        return 0, 0
    matches = re.findall(pattern, path.read_text(errors="replace"))
    return len(matches), sum(int(m) for m in matches if str(m).isdigit())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120, help="seconds of sending")
    parser.add_argument(
        "--load", type=float, default=0.8, help="offered load as a share of measured capacity"
    )
    parser.add_argument("--capacity-seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=32, help="for the capacity run")
    parser.add_argument("--kill-every", type=float, default=10, help="seconds between SIGKILLs")
    parser.add_argument("--outage", type=float, default=3, help="seconds Redis and PG are down")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--email-timeout", type=float, default=300)
    parser.add_argument("--sweep-after", type=int, default=30, help="SWEEP_AFTER_SECONDS")
    parser.add_argument("--max-in-flight", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="45 s of sending, 10 s capacity run")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.capacity_seconds = (
            min(args.duration, 45),
            min(args.capacity_seconds, 10),
        )
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    results = Results(
        "chaos",
        "Chaos soak",
        "Everything private to the run: PostgreSQL with `fsync=on`, Redis, gunicorn 2 × 8 "
        "threads, a routing worker (2 processes) and an email worker (1) as the Procfile runs "
        "them, a separate beat, an SMTP server. First the intake's capacity is measured with a "
        "closed loop of the soak's own requests (worker running), then reports are offered at "
        f"{args.load:.0%} of it for {args.duration:.0f} s, each with its own Idempotency-Key, by "
        "clients that repeat a request with the same key after a dropped connection, a 5xx or "
        f"a 429. Meanwhile: both workers SIGKILLed every {args.kill_every:.0f} s and started "
        "again, Redis restarted at a third of the sending (its queued messages lost), "
        "PostgreSQL stopped in `immediate` mode at two thirds, and the SMTP server down from 40 % "
        "to 62 % of the sending. Routing latency is submitted → routed, by when the report was "
        "submitted relative to the SMTP outage. After the backlog drains and the outbox sweep "
        "has sent every email (retries every 5–30 s here, an email never tried re-sent after "
        "60 s), every routed report's owner must have its email at its address, as seen by the "
        "SMTP servers; copies beyond one are counted. One run: each figure is one value.",
        args,
    )

    postgres = PrivatePostgres.seeded(fsync=True)
    redis_server = PrivateRedis()
    redis_server.start()
    sink = SmtpSink(free_port())
    sink.start()
    settings = Settings(
        secret_key="chaos",
        database_url=postgres.url,
        redis_url=redis_server.url,
        celery_queue=QUEUE,
        smtp_port=sink.port,
        # A report whose message was lost is re-enqueued 30-40 s later. Not sooner: the sweep
        # cannot tell a lost message from one still waiting behind the backlog.
        sweep_after_seconds=args.sweep_after,
        sweep_every_seconds=10,
        # A killed worker's unacknowledged task is handed out again after 10 s.
        visibility_timeout_seconds=10,
        # Emails that failed while SMTP was down, or whose message went with Redis, are sent
        # again by the outbox sweep within the run rather than after production's minutes.
        email_retry_base_seconds=5,
        email_retry_max_seconds=30,
        outbox_sweep_every_seconds=10,
        outbox_sweep_after_seconds=60,
        # The load generator is one address standing in for thousands of residents.
        api_write_rate_limit="1000000 per minute",
        area_rate_limit="1000000 per minute",
    )
    routing_queue, email_queue, slow_queue = settings.celery_queues()
    env = environment(settings)
    workers = [
        WorkerProcess(
            env, LOGS / "worker.log", concurrency=2, embedded_beat=False, queues=[routing_queue]
        ),
        WorkerProcess(
            env,
            LOGS / "mailworker.log",
            concurrency=1,
            embedded_beat=False,
            queues=[email_queue, slow_queue],
        ),
    ]
    beat = BeatProcess(env, LOGS / "beat.log")
    chaos: Chaos | None = None
    engine = make_engine(postgres.url)
    try:
        for worker in workers:
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
            capacity = measure_capacity(port, args.capacity_seconds, args.connections)
            if wait_until_drained(engine, args.drain_timeout) is None:
                raise SystemExit("the capacity run's reports did not drain")
            forget_reports(engine)
            rate = args.load * capacity
            reports = int(rate * args.duration)
            say(f"{reports} reports at {rate:.0f}/s ({args.load:.0%} of {capacity:.0f}/s)")
            chaos = Chaos(
                workers,
                redis_server,
                postgres,
                sink,
                kill_every=args.kill_every,
                redis_at=args.duration / 3,
                postgres_at=args.duration * 2 / 3,
                outage=args.outage,
                smtp_down_at=args.duration * 0.40,
                smtp_up_at=args.duration * 0.62,
            )
            clients = Clients(port, rate, args.max_in_flight)
            soak_started = time.time()
            chaos.start()
            submit_s = asyncio.run(clients.run(reports))
            chaos.stop()
            say(f"all {len(clients.accepted)} reports accepted in {submit_s:.1f} s; chaos stopped")
            drain_s = wait_until_drained(engine, args.drain_timeout)
            if drain_s is None:
                say(f"not drained within {args.drain_timeout:.0f} s; counting now")
            elif left := wait_until_settled(redis_server.url, 120):
                say(f"{left} routing tasks still queued after 120 s; counting anyway")
            sent_s = wait_until_sent(engine, args.email_timeout)
            outcome = count_outcomes(engine, clients.accepted)
            mail = deliveries(engine, sink)
            latencies = routing_latencies(engine, soak_started)
    finally:
        if chaos is not None and chaos.is_alive():
            chaos.stop()
        engine.dispose()
        beat.stop()
        for worker in workers:
            worker.stop()
        redis_server.stop()
        sink.stop()
        postgres.stop()
        shutil.rmtree(postgres.directory, ignore_errors=True)

    faults = chaos.faults
    results.add("intake capacity, closed loop, worker running", [capacity], "/s")
    results.add(f"offered load ({args.load:.0%} of capacity)", [rate], "/s")
    submitted = np.array(clients.latencies_s or [np.nan])
    for q in (50, 99):
        results.add(f"submit → 201, p{q}", [float(np.percentile(submitted, q))], "s")
    down = faults.smtp_down_at or float("inf")
    up = faults.smtp_up_at or float("inf")
    for phase, keep in (
        ("before the SMTP outage", lambda at: at < down),
        ("during the SMTP outage", lambda at: down <= at < up),
        ("after the SMTP outage", lambda at: at >= up),
    ):
        waited = np.array([w for at, w in latencies if keep(at)] or [np.nan])
        for name, value in (
            ("p50", np.percentile(waited, 50)),
            ("p95", np.percentile(waited, 95)),
            ("max", waited.max()),
        ):
            results.add(
                f"routing latency {phase} ({len(waited):,} reports), {name}", [float(value)], "s"
            )
    if drain_s is not None:
        results.add("routing drained after the last 201", [drain_s], "s")
    if sent_s is not None:
        results.add("every email sent, after the routing drained", [sent_s], "s")

    sweeps, swept = log_count(LOGS / "worker.log", r"Swept (\d+) received reports")
    routed = outcome.statuses.get("routed", 0) + outcome.statuses.get("needs_location", 0)
    # (what, count, whether it is an invariant that holds; None for figures that only inform)
    checks: list[tuple[str, object, bool | None]] = [
        ("reports accepted (201) / sent", f"{outcome.submitted} / {reports}", not clients.gave_up),
        ("stored, exactly one per key", outcome.stored, None),
        ("lost", outcome.lost, outcome.lost == 0),
        ("duplicated", outcome.duplicated, outcome.duplicated == 0),
        ("given another reference", outcome.wrong_reference, outcome.wrong_reference == 0),
        ("routed exactly once", outcome.routed_once, outcome.routed_once == outcome.submitted),
        ("routed twice or more", outcome.routed_twice, outcome.routed_twice == 0),
        ("never routed", outcome.never_routed, outcome.never_routed == 0),
        ("still received", outcome.still_received, outcome.still_received == 0),
        ("status now", dict(sorted(outcome.statuses.items())), None),
        (
            "outbox: reports with a partner email / routed",
            f"{outcome.reports_emailed} / {routed}",
            None,
        ),
        (
            "outbox: a report's email queued twice",
            outcome.emailed_twice,
            outcome.emailed_twice == 0,
        ),
        ("outbox: every email sent", "yes" if sent_s is not None else "no", sent_s is not None),
        (
            "owner's email delivered, per routed report",
            f"{mail.delivered} / {mail.expected}",
            not mail.missing,
        ),
        ("  delivered more than once (at least once)", mail.duplicated, None),
        ("  extra copies delivered", mail.extra_copies, None),
        ("fault: workers SIGKILLed", faults.worker_kills, faults.worker_kills > 0),
        ("  tasks they held unacknowledged", faults.unacked_at_kills, None),
        ("fault: Redis restarted", faults.redis_restarts, faults.redis_restarts > 0),
        ("  messages lost with it", faults.lost_with_redis, None),
        ("fault: PostgreSQL restarted", faults.postgres_restarts, faults.postgres_restarts > 0),
        ("fault: SMTP server down", f"{up - down:.0f} s", faults.smtp_up_at is not None),
        ("client retries", sum(clients.retries.values()), None),
        *((f"  after {reason}", n, None) for reason, n in sorted(clients.retries.items())),
        ("sweeps that re-enqueued reports", f"{sweeps} ({swept} reports)", None),
    ]
    for what, count, holds in checks:
        verdict = "" if holds is None else (": ok" if holds else ": **FAILED**")
        results.note(f"{what}: {count}{verdict}")
    failures = [what for what, _count, holds in checks if holds is False]
    if mail.missing:
        failures.append(f"no email for {', '.join(mail.missing[:10])}")
    if chaos.error is not None:
        failures.append(f"the chaos schedule failed: {chaos.error!r}")
    if drain_s is None:
        failures.append(f"not drained within {args.drain_timeout:.0f} s")
    results.data["failures"] = failures
    results.save()
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(
        f"PASSED: {outcome.submitted} reports, each stored once, routed once and its owner "
        f"emailed, through {faults.worker_kills} worker SIGKILLs, Redis and PostgreSQL "
        f"restarts and {up - down:.0f} s without SMTP"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
