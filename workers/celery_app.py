"""The worker's Celery app: ``celery -A workers.celery_app worker`` (and ``beat``)."""

from __future__ import annotations

from safer_streets.settings import Settings
from safer_streets.tasks_queue import make_celery
from workers import tasks

settings = Settings.from_env()
celery = make_celery(settings, include=("workers.tasks",))
tasks.configure(settings)
app = celery
