"""Engine, sessions and the declarative base: plain SQLAlchemy 2, no Flask."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names keep Alembic migrations reproducible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every Safer Streets table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pre_ping: bool = True, **kwargs: object) -> Engine:
    """Create an engine that notices dropped connections (a restarted PostgreSQL).

    Without ``pre_ping`` no connection is tested as it leaves the pool: its user must expect
    a dropped one and try once more (``safer_streets.web.context.store_in_one_transaction``).
    """
    return create_engine(url, pool_pre_ping=pre_ping, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
