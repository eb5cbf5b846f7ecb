"""Administrators issue and revoke API keys at /admin/api-keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets.api import keys
from safer_streets.errors import InvalidInput, NotAllowed
from safer_streets.models import Partner, Role
from safer_streets.web.context import current_user, db, login_required

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed-in administrators only; anyone else signed in gets a 403."""

    @login_required
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or user.role is not Role.ADMIN:
            raise NotAllowed("Only administrators manage API keys.")
        return view(*args, **kwargs)

    return wrapped


def _page(status: int = 200, **context: Any):
    session = db()
    clients = keys.list_clients(session, actor=current_user())
    partners = session.scalars(select(Partner).order_by(Partner.name)).all()
    response = render_template("admin/api_keys.html", clients=clients, partners=partners, **context)
    # The page may show a new key once: it must not be cached anywhere.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("")
@admin_required
def index():
    """Every API client, with a form to issue a new key."""
    return _page()


@bp.post("")
@admin_required
def create():
    """Issue a key and show it once."""
    session = db()
    form = {"name": request.form.get("name", ""), "partner": request.form.get("partner", "")}
    try:
        issued = keys.create_client(
            session, name=form["name"], partner_slug=form["partner"], actor=current_user()
        )
    except InvalidInput as invalid:
        return _page(422, form=form, errors=invalid.field_errors)
    session.commit()
    return _page(201, issued=issued)


@bp.post("/<int:client_id>/revoke")
@admin_required
def revoke(client_id: int):
    """Revoke a key at once."""
    session = db()
    keys.revoke_client(session, client_id, actor=current_user())
    session.commit()
    return redirect(url_for("api_keys.index"), code=303)
