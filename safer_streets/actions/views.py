"""Partners' pages for "you said, we did" actions: list, publish, change, withdraw.

Views parse the request and call ``partner_actions``, which checks who may do what.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from geo.suntimes import LONDON
from safer_streets.actions import partner_actions
from safer_streets.errors import InvalidInput
from safer_streets.models import PartnerAction, User
from safer_streets.residents.listing import Choices
from safer_streets.web.context import current_user, db, login_required, show_refused

bp = Blueprint("actions", __name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _publisher() -> User:
    return partner_actions.require_publisher(current_user())


def _form_page(
    *,
    action: PartnerAction | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    user = _publisher()
    if form is None and action is not None:
        form = {
            "title": action.title,
            "body": action.body,
            "done_on": action.done_on.isoformat(),
            "place": partner_actions.place_value(action),
            "reports": "\n".join(partner_actions.linked_references(db(), user, action)),
        }
    return render_template(
        "actions/form.html",
        action=action,
        choices=Choices.load(db()),
        form=form or {"done_on": _now().astimezone(LONDON).date().isoformat()},
        errors=errors or {},
        partner=user.partner,
    ), status


@bp.get("/triage/actions")
@login_required
def index():
    """What the user's partner has published, newest first, and a link to publish another."""
    user = _publisher()
    return render_template(
        "actions/index.html",
        actions=partner_actions.partner_actions(db(), user),
        partner=user.partner,
    )


@bp.get("/triage/actions/new")
@login_required
def new():
    """The form for a new action."""
    return _form_page()


@bp.post("/triage/actions/new")
@login_required
def create():
    """Publish an action for the user's partner."""
    session, user = db(), _publisher()
    try:
        data = partner_actions.parse_action(
            session, user, request.form, today=_now().astimezone(LONDON).date()
        )
    except InvalidInput as invalid:
        return show_refused(_form_page, invalid.field_errors, form=request.form.to_dict())
    partner_actions.publish(session, user, data, _now())
    session.commit()
    flash("Published. Residents see it on “You said, we did” and on the linked reports.")
    return redirect(url_for("actions.index"), code=303)


@bp.get("/triage/actions/<int:action_id>")
@login_required
def edit_page(action_id: int):
    """The form to change one of the partner's actions."""
    return _form_page(action=partner_actions.action_of_partner(db(), current_user(), action_id))


@bp.post("/triage/actions/<int:action_id>")
@login_required
def edit(action_id: int):
    """Change one of the partner's actions."""
    session, user = db(), _publisher()
    action = partner_actions.action_of_partner(session, user, action_id)
    try:
        data = partner_actions.parse_action(
            session, user, request.form, today=_now().astimezone(LONDON).date()
        )
    except InvalidInput as invalid:
        return show_refused(
            _form_page, invalid.field_errors, action=action, form=request.form.to_dict()
        )
    partner_actions.edit(session, user, action_id, data, _now())
    session.commit()
    flash("Changed.")
    return redirect(url_for("actions.index"), code=303)


@bp.post("/triage/actions/<int:action_id>/withdraw")
@login_required
def withdraw(action_id: int):
    """Take an action off the public pages."""
    session = db()
    partner_actions.withdraw(session, current_user(), action_id, _now())
    session.commit()
    flash("Withdrawn: it is no longer shown to residents.")
    return redirect(url_for("actions.index"), code=303)
