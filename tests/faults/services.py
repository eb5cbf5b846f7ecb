"""Private PostgreSQL, Redis and Celery worker processes that fault tests may kill.

They run on their own ports and temporary directories, never touching the machine's shared
services.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from safer_streets import migrate
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.intake.submission import scoped_idempotency_key

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


class PrivateRedis:
    """A Redis server of our own that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (PostGIS available) in a temporary directory."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = directory
        # Off for tests, where a crash of the machine loses nothing we need; on where the cost
        # of durable commits is part of what is measured (the chaos soak).
        self.fsync = fsync
        self.port = free_port()
        self.data = directory / "data"
        # PostgreSQL refuses to run as root; use its own account when we are root.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @classmethod
    def seeded(cls, *, fsync: bool = False) -> PrivatePostgres:
        """A started cluster with the schema, the wards, the areas and the seed."""
        # Not pytest's tmp_path or var/: the postgres account must be able to reach it.
        postgres = cls(Path(tempfile.mkdtemp(prefix="safer-streets-pg-")), fsync=fsync)
        postgres.init()
        postgres.start()
        migrate.upgrade(postgres.url)
        engine = make_engine(postgres.url)
        with session_scope(make_session_factory(engine)) as session:
            seed.load_reference_data(session)
        engine.dispose()
        return postgres

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True)

    def init(self) -> None:
        if self.as_user:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            f"-c fsync={'on' if self.fsync else 'off'}"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Shut down; ``immediate`` aborts every backend at once, as a crash would."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


class CeleryProcess:
    """A `celery` command as a separate process group, so it can be SIGKILLed; started again
    if it exits by itself, as the Procfile runs it (``scripts/keep-running``)."""

    def __init__(self, arguments: list[str], environment: dict[str, str], log: Path) -> None:
        self.arguments = arguments
        self.environment = environment
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(ROOT / "scripts" / "keep-running"),
                    *(sys.executable, "-m", "celery", "-A", "workers.celery_app"),
                    *self.arguments,
                ],
                cwd=ROOT,
                env={**os.environ, **self.environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no chance to requeue anything."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


class WorkerProcess(CeleryProcess):
    """`celery worker`, with beat embedded unless a separate `BeatProcess` schedules."""

    def __init__(
        self,
        environment: dict[str, str],
        log: Path,
        concurrency: int = 1,
        *,
        embedded_beat: bool = True,
        queues: list[str] | None = None,
    ) -> None:
        beat = ["--beat", "--schedule", str(log.with_suffix(".beat"))] if embedded_beat else []
        only = ["-Q", ",".join(queues)] if queues else []  # as the Procfile's two workers
        super().__init__(
            ["worker", *beat, *only, "--concurrency", str(concurrency), "--loglevel", "INFO"],
            environment,
            log,
        )
        self.concurrency = concurrency


class BeatProcess(CeleryProcess):
    """`celery beat` on its own, as the Procfile runs it: exactly one per deployment."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        super().__init__(
            ["beat", "--schedule", str(log.with_suffix(".beat")), "--loglevel", "INFO"],
            environment,
            log,
        )


@dataclass(frozen=True)
class Outcome:
    """What the database holds for a set of accepted submissions, counted after a fault run."""

    submitted: int
    stored: int  # accepted keys with their report in the database
    lost: int  # accepted keys with no report
    duplicated: int  # reports beyond one per accepted key
    wrong_reference: int  # a report whose reference is not the one its client was given
    statuses: dict[str, int]
    routed_once: int  # exactly one `routed` or `needs_location` event
    never_routed: int
    routed_twice: int  # more than one such event
    reports_emailed: int  # reports with a new-report email to their partner in the outbox
    emailed_twice: int  # reports with more than one such email
    emails_sent: int

    @property
    def still_received(self) -> int:
        return self.statuses.get("received", 0)

    def failures(self) -> list[str]:
        """The invariants that do not hold (none, after a good run)."""
        counts = {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "with another reference": self.wrong_reference,
            "still received": self.still_received,
            "never routed": self.never_routed,
            "routed more than once": self.routed_twice,
            "partner emailed more than once": self.emailed_twice,
        }
        return [f"{n} {what}" for what, n in counts.items() if n]


def count_outcomes(engine: Engine, accepted: Mapping[str, str]) -> Outcome:
    """Count what became of each accepted submission (Idempotency-Key → reference given)."""
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT idempotency_key, reference FROM report")).all())
        total = conn.scalar(text("SELECT count(*) FROM report"))
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM report GROUP BY status")).all()
        )
        never, once, twice = conn.execute(
            text("""
            SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n = 1),
                   count(*) FILTER (WHERE n > 1)
            FROM (SELECT count(report_event.id) AS n FROM report
                  LEFT JOIN report_event ON report_event.report_id = report.id
                       AND report_event.kind IN ('routed', 'needs_location')
                  GROUP BY report.id) AS per_report""")
        ).one()
        emailed, emailed_twice, sent = conn.execute(
            text("""
            SELECT count(*), count(*) FILTER (WHERE n > 1), coalesce(sum(sent), 0)
            FROM (SELECT count(*) AS n, count(sent_at) AS sent FROM email_outbox
                  WHERE kind = 'new-report' GROUP BY report_id) AS per_report""")
        ).one()
    # Keys sent without an API key are stored, hashed, in the JSON API's anonymous space.
    as_stored = {key: scoped_idempotency_key(key, channel="api", client=None) for key in accepted}
    rows = {key: rows[as_stored[key]] for key in accepted if as_stored[key] in rows}
    stored = sum(1 for key in accepted if key in rows)
    return Outcome(
        submitted=len(accepted),
        stored=stored,
        lost=len(accepted) - stored,
        duplicated=total - stored,
        wrong_reference=sum(
            1 for key, reference in accepted.items() if rows.get(key, reference) != reference
        ),
        statuses=statuses,
        routed_once=once,
        never_routed=never,
        routed_twice=twice,
        reports_emailed=emailed,
        emailed_twice=emailed_twice,
        emails_sent=int(sent),
    )
