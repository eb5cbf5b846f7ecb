"""Intake under load, like for like: the JSON API and the resident form behind gunicorn, against
a bare insert-one-row baseline served by the same gunicorn configuration.

Run: .venv/bin/python -m bench.bench_intake [--duration 20] [--repeat 3] [--quick]
     .venv/bin/python -m bench.bench_intake --profile bench/profiles/intake.txt

Everything runs on this machine: a scratch database, a private Redis, an SMTP sink, gunicorn
started with ``gunicorn.conf.py`` for the app and for the baseline (bench/baseline_app.py), a
Celery worker with two processes, and the load generator (bench/loadgen.py). Phases:

1. with the worker stopped, each repetition runs the baseline, the JSON API and the resident
   form in turn, closed loop: the ratios to the baseline of the same repetitions;
2. the worker started on the backlog the first phase left: its drain rate on that mix;
3. the same three with the worker running (and routing what the API and the form take);
4. an open loop at half the JSON API's capacity measured in 3: latency percentiles;
5. (full runs only) an open loop with Redis up, then stopped: no submission may fail, and the
   sweep routes what was stored while Redis was away.

The JSON API gets a realistic mix of bodies: points, postcodes and typed streets, emails, an
Idempotency-Key on two in five (some replayed), an API key on three in ten. The form is filled
in as a browser does: GET /report (a session cookie and its CSRF token), POST it as
multipart/form-data, and when the form answers with similar reports nearby, POST again with
"send my report". CPU time of every process (gunicorn, the worker, Redis, PostgreSQL's
backends for the scratch database, the load generator) is read from /proc for every run.

With ``--profile FILE`` it instead samples the app's gunicorn processes with py-spy while the
JSON API takes the mix with the worker running, and writes the functions where time went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bench.loadgen import (
    Connection,
    LoadResult,
    build_get,
    build_request,
    closed_loop,
    closed_loop_flows,
    open_loop,
)
from bench.results import Baseline, Results
from safer_streets import migrate
from safer_streets.api import keys
from safer_streets.data import seed
from safer_streets.db import make_session_factory, session_scope
from safer_streets.settings import Settings
from tests.faults.services import PrivateRedis, WorkerProcess, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]

SERVER = os.environ.get(
    "SAFER_STREETS_BENCH_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
DATABASE = os.environ.get("SAFER_STREETS_BENCH_DATABASE", "safer_streets_bench")
REDIS_RATE = 200
VENV_BIN = Path(sys.executable).parent
# Points spread over Lewisham so routing sees many wards.
POINTS = [
    (-0.0207, 51.4452),
    (-0.0130, 51.4630),
    (-0.0270, 51.4800),
    (-0.0520, 51.4390),
    (0.0120, 51.4500),
    (-0.0330, 51.4250),
    (-0.0050, 51.4330),
    (-0.0440, 51.4610),
]
CATEGORIES = [
    "drug-dealing",
    "street-lighting",
    "fly-tipping",
    "anti-social-behaviour",
    "feeling-unsafe",
    "dangerous-road",
]
# Postcodes the intake places at once, and streets the worker geocodes.
POSTCODES = ["SE6 4JU", "SE13 5LP", "SE13 7HD", "SE14 6DG", "SE23 2AS", "SE26 6PD", "SE4 1RR"]
STREETS = [
    "Rushey Green",
    "Catford Broadway",
    "Lewisham High Street",
    "Deptford High Street",
    "Sydenham Road",
    "Brockley Road",
    "Lee High Road",
]
# The targets the intake is held to (README, "Intake").
API_STOPPED_TARGET = 0.6
API_RUNNING_TARGET = 0.4
FORM_TARGET = 0.4
P99_TARGET_S = 0.050
DRAIN_TARGET = 1000.0


def prepare_database() -> tuple[str, list[str]]:
    """A fresh scratch database with the schema, wards, areas and seed, and two API keys."""
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = f"{SERVER}/{DATABASE}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        seed.load_reference_data(session)
        issued = [
            keys.create_client(session, name=name, partner_slug=None, actor=None).key
            for name in ("Bench app one", "Bench app two")
        ]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_row (id serial PRIMARY KEY, body text)"))
    engine.dispose()
    return url, issued


def environment(settings: Settings) -> dict[str, str]:
    return {f"SAFER_STREETS_{k.upper()}": str(v) for k, v in settings.__dict__.items()}


@contextmanager
def gunicorn(
    target: str, env: dict[str, str], workers: int, threads: int = 1, log: Path | None = None
):
    """Serve ``target`` on a free port with gunicorn.conf.py; the port."""
    with gunicorn_process(target, env, workers, threads, log) as (port, _process):
        yield port


@contextmanager
def gunicorn_process(
    target: str,
    env: dict[str, str],
    workers: int,
    threads: int = 1,
    log: Path | None = None,
    *,
    root: Path = ROOT,
    wrap: list[str] | None = None,
):
    """Serve ``target`` on a free port with gunicorn.conf.py (workers and threads given as the
    settings it reads); its output goes to ``log`` when given. ``wrap`` runs it under another
    command (a profiler); ``root`` serves another checkout of the code."""
    port = free_port()
    output = log.open("ab") if log is not None else None
    served = {
        "SAFER_STREETS_WEB_WORKERS": str(workers),
        "SAFER_STREETS_WEB_THREADS": str(threads),
        "SAFER_STREETS_WEB_BIND": f"127.0.0.1:{port}",
        # Off for the app and the baseline alike: a log line per request is the load
        # generator's own machine's work here, not the intake's.
        "SAFER_STREETS_WEB_ACCESS_LOG": "false",
    }
    if (root / "gunicorn.conf.py").exists():
        arguments = ["-c", str(root / "gunicorn.conf.py")]
    else:  # a checkout from before the configuration file, for a profile to compare with
        arguments = ["--workers", str(workers), "--threads", str(threads)]
        arguments += ["--bind", served["SAFER_STREETS_WEB_BIND"], "--keep-alive", "75"]
    process = subprocess.Popen(
        [
            *(wrap or []),
            str(VENV_BIN / "gunicorn"),
            *arguments,
            "--log-level",
            "warning",
            target,
        ],
        cwd=root,
        env={**os.environ, **env, **served, "PYTHONPATH": str(root)},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        wait_for_port(port, timeout=60)
        yield port, process
    finally:
        process.terminate()
        process.wait(60)
        if output is not None:
            output.close()


# ---- What is sent ----------------------------------------------------------------------------


def report_body(i: int) -> bytes:
    """Report number ``i``, the cheapest kind: a point, no email, no key (the chaos soak's)."""
    lon, lat = POINTS[i % len(POINTS)]
    return json.dumps(
        {
            "category": CATEGORIES[i % len(CATEGORIES)],
            "lat": lat + (i % 97) * 1e-5,
            "lon": lon + (i % 89) * 1e-5,
            "description": f"Benchmark report {i}",
        }
    ).encode()


def mixed_report(i: int) -> dict[str, object]:
    """Report number ``i`` of the realistic mix: half with a point, a fifth with a postcode, the
    rest a typed street; three in ten with an email for updates."""
    category = CATEGORIES[i % len(CATEGORIES)]
    body: dict[str, object] = {
        "category": category,
        "description": f"Report {i}: seen again this evening near the corner, please look.",
    }
    kind = i % 10
    if kind < 5:
        lon, lat = POINTS[i % len(POINTS)]
        body.update(lat=lat + (i % 97) * 1e-5, lon=lon + (i % 89) * 1e-5)
    elif kind < 7:
        body["location_text"] = POSTCODES[i % len(POSTCODES)]
    else:
        body["location_text"] = STREETS[i % len(STREETS)]
    if category == "feeling-unsafe":
        body["reasons"] = ["badly-lit"]
    if i % 10 in (1, 4, 8):
        body.update(
            contact_email=f"resident{i % 5000}@example.org",
            contact_name="A Resident",
            anonymous=False,
        )
    return body


def mixed_api_request(host: str, api_keys: list[str]) -> Callable[[int], bytes]:
    """Requests of the realistic mix. Two in five carry an Idempotency-Key, and one in twenty a
    key sent ten requests earlier with the same body (a client's retry: a replay); three in
    ten carry an API key."""
    run = uuid.uuid4().hex[:8]  # keys of one run never meet another run's

    def make(i: int) -> bytes:
        first = i - 10 if i % 20 == 0 and i >= 10 else i
        headers = {"Content-Type": "application/json"}
        if first % 5 in (0, 1):
            headers["Idempotency-Key"] = f"{run}-{first}"
        if first % 10 in (0, 3, 6):
            headers["X-Api-Key"] = api_keys[first % len(api_keys)]
        return build_request(
            host, "/api/v1/reports", json.dumps(mixed_report(first)).encode(), headers
        )

    return make


def simple_api_request(host: str) -> Callable[[int], bytes]:
    def make(i: int) -> bytes:
        headers = {"Content-Type": "application/json"}
        return build_request(host, "/api/v1/reports", report_body(i), headers)

    return make


def row_request(host: str) -> Callable[[int], bytes]:
    def make(i: int) -> bytes:
        return build_request(host, "/rows", f"row {i}".encode(), {"Content-Type": "text/plain"})

    return make


def form_fields(i: int) -> list[tuple[str, str]]:
    """What a resident fills in on the form, as the browser sends it (the same mix)."""
    report = mixed_report(i)
    fields = [("category", str(report["category"]))]
    for name in ("lat", "lon", "location_text"):
        if name in report:
            fields.append((name, str(report[name])))
    fields += [(name, "badly-lit") for name in ("reasons",) if "reasons" in report]
    fields += [("when", "now"), ("description", str(report["description"]))]
    if "contact_email" in report:
        fields += [("updates", "email"), ("contact_email", str(report["contact_email"]))]
    else:
        fields.append(("updates", "none"))
    return fields


def multipart(fields: list[tuple[str, str]], *, empty_file: str | None) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it; a file input left empty is a part
    with an empty filename."""
    boundary = "----benchform" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    if empty_file:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{empty_file}"; filename=""'
            "\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
        )
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


_TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')
_FORM_ID = re.compile(rb'name="submission_id" value="([^"]+)"')


def form_flow(host: str) -> Callable[[Connection, int], object]:
    """One resident's report through the form: a new browser each time (no cookie yet)."""

    async def flow(conn: Connection, i: int) -> int:
        status, headers, page = await conn.exchange(build_get(host, "/report"))
        token, form_id = _TOKEN.search(page), _FORM_ID.search(page)
        if status != 200 or token is None or form_id is None:
            return status
        cookie = headers.get("set-cookie", "").split(";", 1)[0]
        hidden = [
            ("csrf_token", token.group(1).decode()),
            ("submission_id", form_id.group(1).decode()),
        ]
        fields = form_fields(i)
        body, content_type = multipart(
            [*hidden, ("nearby_checked", ""), *fields], empty_file="photo"
        )
        sent = {"Content-Type": content_type, "Cookie": cookie, "Origin": f"http://{host}"}
        status, headers, page = await conn.exchange(build_request(host, "/report", body, sent))
        if status == 200 and b'name="nearby_checked" value="yes"' in page:
            # Similar reports nearby: the resident answers "No, send my report".
            body, content_type = multipart(
                [*hidden, ("nearby_checked", "yes"), *fields], empty_file=None
            )
            sent["Content-Type"] = content_type
            status, _, _ = await conn.exchange(build_request(host, "/report", body, sent))
        return status

    return flow


# ---- The database and the worker -------------------------------------------------------------


def count_by_status(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM report GROUP BY status")).all()
    engine.dispose()
    return dict(rows)


def wait_until_routed(url: str, timeout: float = 300) -> float:
    """Seconds until no report is left `received`."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if count_by_status(url).get("received", 0) == 0:
            return time.perf_counter() - start
        time.sleep(0.2)
    return float("inf")


def routing_span(url: str, since_id: int) -> tuple[int, float]:
    """How many reports after ``since_id`` were routed, and the seconds from the first routed
    to the last (the drain rate without the worker's start-up)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        n, first, last = conn.execute(
            text(
                "SELECT count(routed_at), min(routed_at), max(routed_at) FROM report WHERE id > :id"
            ),
            {"id": since_id},
        ).one()
    engine.dispose()
    return n, (last - first).total_seconds() if n > 1 else float("nan")


def last_report_id(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.scalar(text("SELECT coalesce(max(id), 0) FROM report"))
    engine.dispose()
    return int(found)


def truncate(url: str) -> None:
    """Empty the report tables once the worker has let go of them (it may still be emailing)."""
    engine = create_engine(url)
    for _ in range(10):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET lock_timeout = '5s'"))
                conn.execute(
                    text(
                        "TRUNCATE email_outbox, report_event, report_notified_partner, report "
                        "RESTART IDENTITY CASCADE"
                    )
                )
            break
        except OperationalError:
            time.sleep(1)
    engine.dispose()


# ---- CPU per process, from /proc ---------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # after the command name, which may hold spaces


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def database_backends(database: str) -> list[int]:
    """PostgreSQL's processes serving ``database`` (their titles name it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds of named groups of processes between two readings."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups

    def read(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: _cpu_seconds(pid) for pid in find()} for name, find in self.groups.items()
        }

    @staticmethod
    def used(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """Per group; a process that started in between counts from zero."""
        return {
            name: sum(t - before.get(name, {}).get(pid, 0.0) for pid, t in pids.items())
            for name, pids in after.items()
        }


def measured(meter: CpuMeter, run: Callable[[], LoadResult]) -> tuple[LoadResult, dict[str, float]]:
    before = meter.read()
    result = run()
    return result, CpuMeter.used(before, meter.read())


# ---- The benchmark ---------------------------------------------------------------------------


class Series:
    """The repetitions of one configuration: rates, p99s and CPU per request."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.p99s: list[float] = []
        self.cpu: dict[str, list[float]] = {}
        self.statuses: Counter[int] = Counter()

    def add(self, result: LoadResult, cpu: dict[str, float]) -> None:
        self.rates.append(result.ok / result.elapsed_s)
        self.p99s.append(result.percentile_ms(99) / 1000)
        self.statuses.update(result.statuses)
        if result.errors:
            self.statuses[0] += result.errors
        for name, seconds in cpu.items():
            self.cpu.setdefault(name, []).append(seconds / max(1, result.ok))


def record(
    results: Results,
    label: str,
    series: Series,
    baseline: Baseline | None,
    target: float | None = None,
) -> None:
    measure = results.add(
        f"{label}: throughput",
        series.rates,
        "/s",
        baseline=baseline,
        higher_is_better=True,
        target=f"≥ {target} × the bare insert" if target is not None else None,
    )
    if target is not None:
        measure["met"] = bool(measure["ratio"] is not None and measure["ratio"] >= target)
    results.add(f"{label}: p99 (closed loop)", series.p99s, "s")
    for name, per_request in series.cpu.items():
        results.add(f"{label}: CPU per request, {name}", per_request, "s")
    refused = {s: n for s, n in series.statuses.items() if not 200 <= s < 400}
    if refused:
        results.note(f"{label}: answers other than 2xx/3xx (0 = connection error): {refused}")


def profile(
    args: argparse.Namespace, settings: Settings, env: dict[str, str], api_keys: list[str], url: str
) -> None:
    """Sample the app's gunicorn with py-spy under the JSON API mix, worker running."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        sys.exit("py-spy is not installed: make setup installs it (the dev extra)")
    raw = Path(args.profile).with_suffix(".raw").resolve()
    raw.parent.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(env, ROOT / "var" / "bench-worker.log", concurrency=2)
    worker.start()
    host = "127.0.0.1"
    try:
        with gunicorn_process(
            "safer_streets.web.app:create_app()",
            env,
            args.web_workers,
            args.threads,
            root=Path(args.app_root),
        ) as (port, server):
            asyncio.run(closed_loop(host, port, mixed_api_request(host, api_keys), 32, 5))
            sections = []
            # Where requests spend their time (waits on Redis and PostgreSQL included), then
            # only samples of threads holding the GIL: where the CPU goes.
            for kind, option in (
                ("wall clock, waits included", []),
                ("holding the GIL", ["--gil"]),
            ):
                # Non-blocking and at 50 Hz: on a busy machine a stopping sampler slows the
                # very processes it samples.
                sampler = subprocess.Popen(
                    [
                        *(spy, "record", "--pid", str(server.pid), "--subprocesses"),
                        *("--nonblocking", *option, "--rate", "50"),
                        *("--duration", str(int(args.duration))),
                        *("--format", "raw", "--output", str(raw)),
                    ]
                )
                load = asyncio.run(
                    closed_loop(
                        host,
                        port,
                        mixed_api_request(host, api_keys),
                        args.connections,
                        args.duration,
                    )
                )
                sampler.wait(120)
                print(f"profiled load ({kind}): {load.summary()}")
                sections.append(summarise_profile(raw, f"{kind}; load: {load.summary()}"))
    finally:
        worker.stop()
    code = "this checkout" if Path(args.app_root).resolve() == ROOT else "the code before"
    heading = (
        f"py-spy on the app's gunicorn ({code}): {args.web_workers} workers × {args.threads} "
        f"threads, {args.duration:.0f} s of the JSON API mix each, worker running"
    )
    Path(args.profile).write_text("\n".join([heading, "", *sections]), encoding="utf-8")
    raw.unlink(missing_ok=True)
    print(f"wrote {args.profile}")


def summarise_profile(raw: Path, heading: str, top: int = 30) -> str:
    """The functions with the most samples, on their own (self) and with what they call."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        # A function once, whichever of its lines was running.
        frames = [
            re.sub(r":\d+\)$", ")", f)
            for f in stack.split(";")
            if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        # Idle threads (gunicorn's, the publisher's) wait in these; only busy samples count.
        if re.search(r"\b(wait|select|poll|accept|_wait_for_tstate_lock|epoll)\b", frames[-1]):
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"== {heading}", f"samples: {total}", ""]
    for title, counts, shown in (
        ("self", own, top),
        # The outer frames (threads, gunicorn, Flask) fill the top of this list.
        ("inclusive (self and callees)", inclusive, 2 * top),
    ):
        lines.append(f"top {shown} by {title}:")
        for frame, n in counts.most_common(shown):
            lines.append(f"{100 * n / max(1, total):6.1f}%  {frame}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 2 repetitions")
    parser.add_argument("--profile", help="write a py-spy profile summary here instead")
    parser.add_argument("--app-root", default=str(ROOT), help="(profile) the checkout to serve")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeat = min(args.duration, 3), min(args.repeat, 2)

    url, api_keys = prepare_database()
    redis = PrivateRedis()
    redis.start()
    # Every routed report emails its partner: a real SMTP server takes them (and drops them).
    smtp_port = free_port()
    sink = ["-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{smtp_port}"]
    smtp = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", *sink])
    settings = Settings(
        secret_key="bench",
        database_url=url,
        redis_url=redis.url,
        celery_queue="safer-streets-bench",
        # The load generator is one address standing in for thousands of residents.
        api_write_rate_limit="1000000 per minute",
        submission_rate_limit="1000000 per minute",
        area_rate_limit="1000000 per minute",
        smtp_port=smtp_port,
    )
    env = environment(settings)
    (ROOT / "var").mkdir(exist_ok=True)
    try:
        if args.profile:
            profile(args, settings, env, api_keys, url)
            return
        run(args, settings, env, api_keys, url, redis)
    finally:
        redis.stop()
        smtp.terminate()


def run(
    args: argparse.Namespace,
    settings: Settings,
    env: dict[str, str],
    api_keys: list[str],
    url: str,
    redis: PrivateRedis,
) -> None:
    results = Results(
        "intake",
        "Intake under load, like for like",
        f"gunicorn.conf.py with {args.web_workers} workers × {args.threads} threads (database "
        "pools of as many connections, no overflow; access log off) for the app and for the "
        "baseline, `bench/baseline_app.py`, a bare Flask endpoint inserting one row; a Celery "
        "worker with two processes, PostgreSQL, Redis, an SMTP sink and the load generator on the "
        f"same cores; closed loops of {args.connections} connections, {args.duration:.0f} s per "
        f"run, {args.repeat} repetitions, the baseline, the JSON API and the form taking turns "
        "within each repetition, first with the worker stopped, then running. The JSON API gets a "
        "realistic mix (points, postcodes, typed streets, emails, Idempotency-Keys with replays, "
        "API keys); the form is filled in as a browser does (GET it with its CSRF token, POST it, "
        "and POST again past the similar-reports page when shown; the redirect to the "
        "confirmation is not followed). CPU per request is each group's CPU time over the "
        "requests (form: reports) it served.",
        args,
    )
    worker = WorkerProcess(env, ROOT / "var" / "bench-worker.log", concurrency=2)
    host = "127.0.0.1"
    app_log = ROOT / "var" / "bench-gunicorn.log"
    try:
        with (
            gunicorn_process("bench.baseline_app:app", env, args.web_workers, args.threads) as (
                bare_port,
                bare,
            ),
            gunicorn_process(
                "safer_streets.web.app:create_app()", env, args.web_workers, args.threads, app_log
            ) as (app_port, app),
        ):
            meter = CpuMeter(
                {
                    "gunicorn": lambda: descendants(app.pid),
                    "bare gunicorn": lambda: descendants(bare.pid),
                    "worker": lambda: descendants(worker.process.pid) if worker.process else [],
                    "PostgreSQL": lambda: database_backends(DATABASE),
                    "Redis": lambda: descendants(redis.process.pid) if redis.process else [],
                    "load generator": lambda: [os.getpid()],
                }
            )

            def closed(port: int, make) -> LoadResult:
                return asyncio.run(closed_loop(host, port, make, args.connections, args.duration))

            def bare_run() -> LoadResult:
                return closed(bare_port, row_request(host))

            def api_run() -> LoadResult:
                return closed(app_port, mixed_api_request(host, api_keys))

            def form_run() -> LoadResult:
                return asyncio.run(
                    closed_loop_flows(
                        host, app_port, form_flow(host), args.connections, args.duration
                    )
                )

            # Every gunicorn worker loads the app and the pools fill before anything is timed.
            asyncio.run(closed_loop(host, bare_port, row_request(host), 32, 3))
            asyncio.run(closed_loop(host, app_port, mixed_api_request(host, api_keys), 32, 3))
            asyncio.run(closed_loop_flows(host, app_port, form_flow(host), 32, 3))
            truncate(url)

            by_state: dict[str, dict[str, Series]] = {}
            for state in ("stopped", "running"):
                if state == "running":
                    # The backlog the stopped worker left: the mix, as the intake stored it.
                    since = 0
                    waiting = count_by_status(url).get("received", 0)
                    started = time.perf_counter()
                    worker.start()
                    drained = wait_until_routed(url, 600)
                    routed, span = routing_span(url, since)
                    print(
                        f"\n[2] worker drained a backlog of {waiting}: {routed} routed in {span:.1f} s"
                    )
                    drain = results.add(
                        "worker (2 processes) draining the backlog of the mix: first to last routed",
                        [routed / span],
                        "/s",
                        target=f"≥ {DRAIN_TARGET:,.0f}/s",
                    )
                    drain["met"] = bool(routed / span >= DRAIN_TARGET)
                    results.add("the same, from the worker's start", [routed / drained], "/s")
                    results.note(
                        f"backlog drained: {waiting} reports, {time.perf_counter() - started:.0f} s with start-up"
                    )
                print(f"\n[{'1' if state == 'stopped' else '3'}] worker {state}")
                series = {name: Series() for name in ("bare", "api", "form")}
                for repetition in range(args.repeat):
                    for name, work in (("bare", bare_run), ("api", api_run), ("form", form_run)):
                        result, cpu = measured(meter, work)
                        if name == "bare":
                            cpu = {k: v for k, v in cpu.items() if k != "gunicorn"}
                        else:
                            cpu = {k: v for k, v in cpu.items() if k != "bare gunicorn"}
                        series[name].add(result, cpu)
                        print(f"    {repetition + 1}. {name:5} {result.summary()}", flush=True)
                by_state[state] = series
                bare_baseline = Baseline(
                    f"bare insert-one-row endpoint, worker {state}", series["bare"].rates
                )
                record(results, f"bare insert, worker {state}", series["bare"], None)
                api_target = API_STOPPED_TARGET if state == "stopped" else API_RUNNING_TARGET
                record(
                    results, f"JSON API, worker {state}", series["api"], bare_baseline, api_target
                )
                record(
                    results,
                    f"resident form, worker {state}",
                    series["form"],
                    bare_baseline,
                    FORM_TARGET,
                )
            wait_until_routed(url)

            half = 0.5 * statistics.median(by_state["running"]["api"].rates)
            steady = asyncio.run(
                open_loop(host, app_port, mixed_api_request(host, api_keys), half, args.duration)
            )
            print(f"\n[4] open loop at half the capacity ({half:,.0f}/s): {steady.summary()}")
            p99 = results.add(
                f"JSON API, open loop at half its capacity ({half:,.0f}/s), worker running: p99",
                [steady.percentile_ms(99) / 1000],
                "s",
                target=f"< {P99_TARGET_S * 1000:.0f} ms",
            )
            p99["met"] = bool(steady.percentile_ms(99) / 1000 < P99_TARGET_S and steady.failed == 0)
            results.add("the same: p50", [steady.percentile_ms(50) / 1000], "s")
            if steady.failed:
                results.note(f"open loop at half the capacity: {steady.failed} failed")
            wait_until_routed(url)

            if not args.quick:
                redis_outage(results, host, app_port, url, redis, args.duration)
        results.save()
    finally:
        worker.stop()


def redis_outage(
    results: Results, host: str, port: int, url: str, redis: PrivateRedis, duration: float
) -> None:
    """Within capacity, so that only Redis differs between the two runs."""
    length = min(duration, 20)
    before = last_report_id(url)
    up = asyncio.run(open_loop(host, port, simple_api_request(host), REDIS_RATE, length))
    print(f"\n[5] open loop {REDIS_RATE}/s, Redis up:      {up.summary()}")
    wait_until_routed(url)
    redis.stop()
    down = asyncio.run(open_loop(host, port, simple_api_request(host), REDIS_RATE, length))
    print(f"    open loop {REDIS_RATE}/s, Redis stopped: {down.summary()}")
    for state, run in (("up", up), ("stopped", down)):
        results.add(
            f"open loop {REDIS_RATE}/s, Redis {state}: p99 ({run.failed} failed)",
            [run.percentile_ms(99) / 1000],
            "s",
        )
    redis.start()
    swept = wait_until_routed(url, 300)
    print(f"    after Redis returned: all routed in {swept:.1f} s (by the sweep)")
    results.add("all routed after Redis returned (by the sweep)", [swept], "s")
    routed, _ = routing_span(url, before)
    results.note(f"Redis outage: {routed} of {up.ok + down.ok} accepted reports routed")


if __name__ == "__main__":
    main()
