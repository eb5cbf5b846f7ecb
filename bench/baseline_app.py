"""The baseline for intake benchmarks: a bare Flask endpoint that inserts one row.

Served by gunicorn exactly like the real app, against the same database, so the ratio shows
what validation, routing data, references and the audit trail cost on top of "insert a row".
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine

metadata = MetaData()
bench_row = Table(
    "bench_row", metadata, Column("id", Integer, primary_key=True), Column("body", Text)
)
engine = create_engine(os.environ["SAFER_STREETS_DATABASE_URL"], pool_pre_ping=True)
app = Flask(__name__)


@app.post("/rows")
def insert_row() -> tuple[dict[str, bool], int]:
    """Insert the request body as one row."""
    with engine.begin() as conn:
        conn.execute(bench_row.insert().values(body=request.get_data(as_text=True)))
    return {"ok": True}, 201
