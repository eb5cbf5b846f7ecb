"""The baseline for intake benchmarks: a bare Flask endpoint that inserts one row.

Served by gunicorn exactly like the real app (gunicorn.conf.py), against the same database,
with a pool sized as the app's (a connection per thread, no overflow) and, like the app's
intake, no ping as a connection leaves the pool: the ratio shows what validation, limits,
idempotency, references, the audit trail and queueing cost on top of "insert a row".
"""

from __future__ import annotations

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, Table, Text

from safer_streets.db import make_engine
from safer_streets.settings import Settings

metadata = MetaData()
bench_row = Table(
    "bench_row", metadata, Column("id", Integer, primary_key=True), Column("body", Text)
)
settings = Settings.from_env()
engine = make_engine(
    settings.database_url, pre_ping=False, pool_size=settings.web_threads, max_overflow=0
)
app = Flask(__name__)


@app.post("/rows")
def insert_row() -> tuple[dict[str, bool], int]:
    """Insert the request body as one row."""
    with engine.begin() as conn:
        conn.execute(bench_row.insert().values(body=request.get_data(as_text=True)))
    return {"ok": True}, 201
