"""The worker's Celery app: ``celery -A workers.celery_app worker`` (and ``beat``)."""

from __future__ import annotations

from safer_streets.settings import Settings
from workers import tasks
from workers.queue import make_celery

settings = Settings.from_env()
celery = make_celery(settings, include=("workers.tasks",))
tasks.configure(settings)
app = celery
