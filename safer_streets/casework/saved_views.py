"""Saved views: a member of staff's named queue filters.

A view keeps the filters as the queue's own query string, checked by the queue's parser when
saved, so opening one is an ordinary queue link and a view can never hold what the queue
would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.casework import queues
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import SavedView, User

MAX_NAME_CHARS = 80
MAX_VIEWS = 20


def views_for(session: Session, user: User) -> list[SavedView]:
    """The user's saved views, by name."""
    return list(
        session.scalars(
            select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name)
        )
    )


def save_view(session: Session, user: User, name: str, filters: Mapping[str, str]) -> SavedView:
    """Save the queue's ``filters`` (its query-string arguments) under ``name``; saving a name
    again replaces what it holds. Raises ``InvalidInput`` naming the field at fault."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput({"view_name": "give the view a name"})
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput({"view_name": f"must be at most {MAX_NAME_CHARS} characters"})
    parsed = queues.parse_filters(filters)  # InvalidInput naming the filter
    query = urlencode(parsed.query_args(page=None))
    view = session.scalar(
        select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name)
    )
    if view is None:
        held = session.scalar(
            select(func.count()).select_from(SavedView).where(SavedView.user_id == user.id)
        )
        if (held or 0) >= MAX_VIEWS:
            raise InvalidInput(
                {"view_name": f"you have {MAX_VIEWS} saved views: delete one to save another"}
            )
        view = SavedView(user_id=user.id, name=name, query=query)
        session.add(view)
    else:
        view.query = query
    session.flush()
    return view


def delete_view(session: Session, user: User, view_id: int) -> None:
    """Delete one of the user's saved views (``NotFound`` for anyone else's)."""
    view = session.get(SavedView, view_id)
    if view is None or view.user_id != user.id:
        raise NotFound("no such saved view")
    session.delete(view)
    session.flush()
