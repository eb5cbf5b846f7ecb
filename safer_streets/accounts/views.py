"""Forgotten passwords, emailed set-password links and the authenticator app."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address

from safer_streets.accounts import users
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import User
from safer_streets.web.context import (
    current_user,
    db,
    login_required,
    must_use_two_step,
    note_two_step,
    services,
    show_refused,
    sign_in,
    signed_in_with_two_step,
)
from safer_streets.web.limits import (
    limiter,
    note_wrong_password,
    password_check_limits,
    per_address_limit,
)

bp = Blueprint("accounts", __name__)

SENT = (
    "If an active account uses that email, we have sent it a link to choose a new password. "
    "The link works once, within an hour."
)


def _now() -> datetime:
    return datetime.now(UTC)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(per_address_limit, key_func=get_remote_address, methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the account exists."""
    if request.method == "POST":
        session = db()
        outbox_id = users.request_password_reset(session, request.form.get("email", ""), _now())
        session.commit()
        if outbox_id is not None:
            services().task_queue.send_emails([outbox_id])
        return render_template("accounts/forgot.html", sent=SENT)
    return render_template("accounts/forgot.html")


def _reset_page(user: User, purpose: str, errors: dict[str, str] | None = None, status=200):
    return render_template(
        "accounts/reset.html", user=user, purpose=purpose, errors=errors or {}
    ), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from an emailed link."""
    session = db()
    try:
        user, purpose = users.user_for_token(session, token, services().settings.secret_key)
    except NotFound as void:
        return render_template("accounts/forgot.html", error=void.message), 404
    if request.method == "POST":
        try:
            users.reset_password(
                session,
                token,
                request.form.get("password", ""),
                request.form.get("confirm", ""),
                services().settings.secret_key,
                _now(),
                passwords=services().passwords,
            )
        except InvalidInput as invalid:
            return show_refused(_reset_page, invalid.field_errors, user=user, purpose=purpose)
        session.commit()
        flash("Your password is set. Sign in with it now.")
        return redirect(url_for("casework.login"), code=303)
    return _reset_page(user, purpose)


def _security_page(
    has_second_factor: bool,
    errors: dict[str, str] | None = None,
    status: int = 200,
    form: str | None = None,
) -> ResponseReturnValue:
    """The account page; ``errors`` belong to ``form`` ("password" or "two-factor")."""
    return render_template(
        "accounts/security.html",
        has_second_factor=has_second_factor,
        two_factor_required=must_use_two_step(_signed_in()),
        errors=errors or {},
        form=form,
    ), status


def _refused(invalid: InvalidInput, form: str, has_second_factor: bool) -> ResponseReturnValue:
    """Show the account page again saying what was wrong; a wrong password counts against
    the sign-in limits."""
    if "password" in invalid.field_errors:
        note_wrong_password()
    return show_refused(
        _security_page, invalid.field_errors, form=form, has_second_factor=has_second_factor
    )


def _signed_in() -> User:
    user = current_user()
    assert user is not None  # login_required ran first
    return user


@bp.get("/account")
@login_required
def security():
    """The signed-in user's account security: the password and the second factor."""
    return _security_page(users.has_second_factor(db(), _signed_in()))


@bp.post("/account/password")
@login_required
@password_check_limits
def change_password():
    """Change the password (the current one is asked for): every session of the account
    ends, and this browser gets a fresh one."""
    session = db()
    user = _signed_in()
    try:
        users.change_password(
            session,
            user,
            current=request.form.get("password", ""),
            new=request.form.get("new_password", ""),
            confirm=request.form.get("confirm", ""),
            now=_now(),
            passwords=services().passwords,
        )
    except InvalidInput as invalid:
        return _refused(invalid, "password", users.has_second_factor(session, user))
    session.commit()
    sign_in(user, two_step=signed_in_with_two_step())
    flash("Your password is changed, and this account is signed out everywhere else.")
    return redirect(url_for("accounts.security"), code=303)


def _enrol_page(
    enrolment: users.TotpEnrolment | None, errors: dict[str, str] | None = None, status=200
):
    return render_template("accounts/enrol.html", enrolment=enrolment, errors=errors or {}), status


@bp.post("/account/two-factor/start")
@login_required
@password_check_limits
def start_two_factor():
    """Show a new authenticator secret and QR code, once, to whoever types the password."""
    session = db()
    try:
        enrolment = users.begin_totp_enrolment(
            session,
            _signed_in(),
            request.form.get("password", ""),
            passwords=services().passwords,
        )
    except InvalidInput as invalid:
        return _refused(invalid, "two-factor", has_second_factor=False)
    session.commit()
    return _enrol_page(enrolment)


@bp.post("/account/two-factor/confirm")
@login_required
def confirm_two_factor():
    """Finish enrolment with a code from the app."""
    session = db()
    try:
        users.confirm_totp(session, _signed_in(), request.form.get("code", ""), _now())
    except InvalidInput as invalid:
        return show_refused(_enrol_page, invalid.field_errors, enrolment=None)
    session.commit()
    note_two_step()
    flash("Two-step sign-in is on: you will be asked for a code each time you sign in.")
    return redirect(url_for("accounts.security"), code=303)


@bp.post("/account/two-factor/remove")
@login_required
@password_check_limits
def remove_two_factor():
    """Turn the second factor off (asks for the password again)."""
    session = db()
    try:
        users.remove_second_factor(
            session,
            _signed_in(),
            request.form.get("password", ""),
            passwords=services().passwords,
            required=must_use_two_step(_signed_in()),
        )
    except InvalidInput as invalid:
        return _refused(invalid, "two-factor", has_second_factor=True)
    session.commit()
    flash("Two-step sign-in is off.")
    return redirect(url_for("accounts.security"), code=303)
