"""Fixtures of the fault tests: private Redis, worker processes and settings that use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from safer_streets.settings import Settings
from tests.faults.services import PrivateRedis, WorkerProcess
from tests.helpers import truncate_live_tables


def worker_environment(settings: Settings) -> dict[str, str]:
    """The worker process's view of the same settings, as environment variables."""
    return {
        f"SAFER_STREETS_{name.upper()}": str(value) for name, value in settings.__dict__.items()
    }


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def make_worker(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def make(settings: Settings) -> WorkerProcess:
        worker = WorkerProcess(worker_environment(settings), tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture
def fault_settings(
    settings: Settings, private_redis: PrivateRedis, engine: Engine
) -> Iterator[Settings]:
    """The test database with a private Redis, quick sweeps and a short visibility timeout."""
    yield replace(
        settings,
        redis_url=private_redis.url,
        sweep_after_seconds=1,
        sweep_every_seconds=1,
        visibility_timeout_seconds=3,
    )
    truncate_live_tables(engine)
