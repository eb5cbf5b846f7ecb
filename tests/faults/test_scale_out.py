"""Scaled out as docs/scaling.md describes: two web servers and two workers, separate processes,
sharing one PostgreSQL and one Redis. What a resident or a partner relies on holds across them:
one report per Idempotency-Key, rate limits counted once, sessions and their revocation, and
every report routed once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from safer_streets.models import Report, ReportStatus
from safer_streets.settings import Settings
from tests.faults.conftest import worker_environment
from tests.faults.services import ROOT, WorkerProcess, free_port, wait_for_port
from tests.helpers import PASSWORD, routed_events, wait_for_status

pytestmark = pytest.mark.faults

REPORT = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}


@pytest.fixture
def cluster(
    fault_settings: Settings, tmp_path: Path, make_worker: Callable[[Settings], WorkerProcess]
) -> Iterator[list[str]]:
    """Two gunicorn web servers on their own ports and two workers, all one deployment."""
    settings = replace(fault_settings, api_write_rate_limit="5 per minute")
    environment = {**os.environ, **worker_environment(settings)}
    servers, ports = [], []
    for n in range(2):
        port = free_port()
        # Started as the Procfile starts the web: gunicorn.conf.py, told by the settings.
        served = {
            "SAFER_STREETS_WEB_BIND": f"127.0.0.1:{port}",
            "SAFER_STREETS_WEB_WORKERS": "1",
            "SAFER_STREETS_WEB_THREADS": "4",
        }
        with (tmp_path / f"web{n}.log").open("wb") as log:
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                    cwd=ROOT,
                    env={**environment, **served},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for_port(port)
        ports.append(port)
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    for base in bases:
        _wait_until_serving(base)
    for _ in range(2):
        make_worker(settings).start()
    yield bases
    for server in servers:
        server.terminate()
        server.wait(20)


def _wait_until_serving(base: str, timeout: float = 90) -> None:
    """The port opens before the app is built (place data loads in seconds): wait for a page."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=timeout)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_one_idempotency_key_sent_to_both_servers_at_once_makes_one_report(
    cluster: list[str], engine: Engine
):
    headers = {"Idempotency-Key": "scale-out-1"}

    def post(base: str) -> str:
        response = requests.post(f"{base}/api/v1/reports", json=REPORT, headers=headers, timeout=10)
        assert response.status_code in (200, 201), response.text
        return response.json()["reference"]

    with ThreadPoolExecutor(4) as pool:
        references = set(pool.map(post, cluster * 2))
    assert len(references) == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Report)) == 1


def test_a_rate_limit_counts_requests_to_either_server_once(cluster: list[str]):
    codes = [
        requests.post(
            f"{cluster[n % 2]}/api/v1/reports",
            json={**REPORT, "description": f"Sofa {n}"},
            timeout=10,
        ).status_code
        for n in range(6)
    ]
    assert codes[:5] == [201] * 5
    assert codes[5] == 429


def test_a_session_opened_on_one_server_works_on_the_other_and_ends_on_both(
    cluster: list[str], make_user
):
    make_user("officer@scale.example", "lewisham-environment")
    browser = requests.Session()
    first, second = cluster
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{first}/login").text)
    assert token
    signed_in = browser.post(
        f"{first}/login",
        data={"email": "officer@scale.example", "password": PASSWORD, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 303
    captured = dict(browser.cookies)
    assert browser.get(f"{second}/triage", allow_redirects=False, timeout=10).status_code == 200

    page = browser.get(f"{second}/triage", timeout=10).text
    logout_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert logout_token
    browser.post(f"{second}/logout", data={"csrf_token": logout_token[1]}, timeout=10)
    browser.close()
    replayed = requests.get(f"{first}/triage", cookies=captured, allow_redirects=False, timeout=10)
    assert replayed.status_code in (302, 303) and "/login" in replayed.headers["Location"]


def test_two_workers_route_reports_from_both_servers_each_exactly_once(
    cluster: list[str], engine: Engine
):
    references = [
        requests.post(
            f"{cluster[n % 2]}/api/v1/reports",
            json={**REPORT, "description": f"Mattress {n}"},
            headers={"Idempotency-Key": f"scale-out-route-{n}"},
            timeout=10,
        ).json()["reference"]
        for n in range(5)
    ]
    for reference in references:
        wait_for_status(engine, reference, ReportStatus.ROUTED, timeout=60)
    assert [routed_events(engine, reference) for reference in references] == [1] * 5
