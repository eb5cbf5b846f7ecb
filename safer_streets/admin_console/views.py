"""The admin console's pages: partners and their service levels, categories and what the public
sees of them, the reasons residents tick, named areas and their outlines, and the history of
every change. Admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets.admin_console import (
    areas,
    audit,
    categories,
    partners,
    reasons,
    send_methods,
)
from safer_streets.admin_console.outlines import MAX_BYTES, MAX_VERTICES
from safer_streets.casework.sla import MAX_HOURS
from safer_streets.disclosure.policy import Description, Location, TimePrecision
from safer_streets.errors import InvalidInput
from safer_streets.models import AdminAction, AdminEntity, Category, SendMethod
from safer_streets.web.context import current_user, db, services, show_refused

bp = Blueprint("console", __name__, url_prefix="/admin")
bp.add_app_template_global(audit.describe, "describe_admin_change")
bp.add_app_template_global(audit.ENTITY_WORDS, "admin_entity_words")


@bp.before_request
def admins_only():
    """Everyone signs in; only admins get further (403 for anyone else)."""
    if current_user() is None:
        return redirect(url_for("casework.login", next=request.full_path.rstrip("?")))
    audit.require_admin(current_user())
    return None


# ---- partners ------------------------------------------------------------------------------


@bp.get("/partners")
def partners_list():
    """Every partner, with its service levels and rules counted."""
    return render_template("admin/partners.html", rows=partners.list_partners(db(), current_user()))


def _new_partner_page(form=None, errors=None, status: int = 200):
    return render_template(
        "admin/new_partner.html",
        form=form or {},
        errors=errors or {},
        kinds=partners.kinds(db()),
        max_hours=MAX_HOURS,
    ), status


@bp.route("/partners/new", methods=["GET", "POST"])
def new_partner():
    """Add a partner; its slug is made from its name and never changes."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            partner = partners.create_partner(db(), current_user(), form)
        except InvalidInput as invalid:
            return show_refused(_new_partner_page, invalid.field_errors, form=form)
        db().commit()
        flash(f"{partner.name} added as {partner.slug}. Add routing rules to send it reports.")
        return redirect(url_for("console.partner", slug=partner.slug), code=303)
    return _new_partner_page()


def _partner_page(
    slug: str,
    *,
    form=None,
    errors=None,
    sla_form=None,
    sla_errors=None,
    remove_errors=None,
    send_form=None,
    send_errors=None,
    status: int = 200,
):
    session = db()
    partner = partners.get_partner(session, current_user(), slug)
    method = send_methods.method_of(session, partner)
    return render_template(
        "admin/partner.html",
        partner=partner,
        form=partners.form_from_partner(partner) if form is None else form,
        errors=errors or {},
        sla_form=sla_form or {},
        sla_errors=sla_errors or {},
        remove_errors=remove_errors or {},
        service_levels=partners.service_levels(session, partner),
        categories=session.scalars(select(Category).order_by(Category.position)).all(),
        kinds=partners.kinds(db()),
        max_hours=MAX_HOURS,
        changes=audit.history(session, current_user(), entity=AdminEntity.PARTNER, key=slug),
        send_method=method,
        send_form=send_methods.form_from_method(method) if send_form is None else send_form,
        send_errors=send_errors or {},
        stored_key=send_methods.snapshot(method).get("open311_api_key"),
        unsent=send_methods.unsent(session, current_user(), slug),
        max_send_attempts=send_methods.MAX_ATTEMPTS,
    ), status


@bp.route("/partners/<slug>", methods=["GET", "POST"])
def partner(slug: str):
    """One partner: its details and default service levels, its per-category service levels,
    and their history."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            partners.edit_partner(db(), current_user(), slug, form)
        except InvalidInput as invalid:
            return show_refused(_partner_page, invalid.field_errors, slug=slug, form=form)
        db().commit()
        flash("Partner saved. Reports already routed keep their due times.")
        return redirect(url_for("console.partner", slug=slug), code=303)
    return _partner_page(slug)


@bp.post("/partners/<slug>/service-levels")
def set_service_level(slug: str):
    """Add or change the partner's service level for one category."""
    form = request.form.to_dict()
    try:
        row = partners.set_service_level(db(), current_user(), slug, form)
    except InvalidInput as invalid:
        db().rollback()
        return _partner_page(slug, sla_form=form, sla_errors=invalid.field_errors, status=422)
    name = row.category.name
    db().commit()
    flash(f"Service level for {name} saved. It applies to reports routed from now on.")
    return redirect(url_for("console.partner", slug=slug, _anchor="service-levels"), code=303)


@bp.post("/partners/<slug>/service-levels/<category>/remove")
def remove_service_level(slug: str, category: str):
    """Drop a per-category service level: the partner's defaults apply again."""
    try:
        partners.remove_service_level(
            db(), current_user(), slug, category, request.form.get("why", "")
        )
    except InvalidInput as invalid:
        db().rollback()
        return _partner_page(slug, remove_errors=invalid.field_errors, status=422)
    db().commit()
    flash("Service level removed: the partner's defaults apply to new reports.")
    return redirect(url_for("console.partner", slug=slug, _anchor="service-levels"), code=303)


@bp.post("/partners/<slug>/send-method")
def set_send_method(slug: str):
    """Choose how the partner receives its reports: email, or its case system by Open311."""
    form = request.form.to_dict()
    try:
        row = send_methods.set_send_method(db(), current_user(), slug, form, datetime.now(UTC))
    except InvalidInput as invalid:
        db().rollback()
        form.pop("api_key", None)  # a key typed in is never sent back in the page
        return _partner_page(slug, send_form=form, send_errors=invalid.field_errors, status=422)
    db().commit()
    if row.method is SendMethod.OPEN311:
        flash("Send method saved: reports routed from now on are posted to its case system.")
    else:
        flash("Send method saved: reports routed from now on are emailed.")
    return redirect(url_for("console.partner", slug=slug, _anchor="send-method"), code=303)


@bp.post("/partners/<slug>/unsent/<int:send_id>/retry")
def retry_send(slug: str, send_id: int):
    """Try posting an unsent report to the partner's case system again, now."""
    row = send_methods.retry(db(), current_user(), slug, send_id)
    reference = row.report.reference
    db().commit()
    services().task_queue.send_to_case_systems([send_id])
    flash(f"{reference} will be posted again in a moment.")
    return redirect(url_for("console.partner", slug=slug, _anchor="unsent"), code=303)


# ---- categories ----------------------------------------------------------------------------


@bp.get("/categories")
def categories_list():
    """Every category in the order residents see them."""
    return render_template(
        "admin/categories.html", rows=categories.list_categories(db(), current_user())
    )


def _category_page(slug: str, *, form=None, errors=None, proposed=None, status: int = 200):
    session = db()
    category = categories.get_category(session, current_user(), slug)
    return render_template(
        "admin/category.html",
        category=category,
        form=categories.form_from_category(category) if form is None else form,
        errors=errors or {},
        public_now=categories.public_words(category),
        public_then=categories.public_words(proposed) if proposed is not None else None,
        groups=categories.groups(session),
        locations=[(v.value, categories.LOCATION_WORDS[v]) for v in Location],
        times=[(v.value, categories.TIME_WORDS[v]) for v in TimePrecision],
        descriptions=[(v.value, categories.DESCRIPTION_WORDS[v]) for v in Description],
        changes=audit.history(session, current_user(), entity=AdminEntity.CATEGORY, key=slug),
    ), status


@bp.route("/categories/<slug>", methods=["GET", "POST"])
def category(slug: str):
    """One category: edit it, see what the public would see, and read its history."""
    if request.method == "POST":
        form = request.form.to_dict()
        if form.get("action") == "preview":
            return _preview_category(slug, form)
        try:
            categories.edit_category(db(), current_user(), slug, form)
        except InvalidInput as invalid:
            return show_refused(_category_page, invalid.field_errors, slug=slug, form=form)
        db().commit()
        flash("Category saved. What the public sees of its reports follows at once.")
        return redirect(url_for("console.category", slug=slug), code=303)
    return _category_page(slug)


def _preview_category(slug: str, form: dict[str, str]):
    """What the public would see with the form's settings; nothing is saved."""
    found = categories.get_category(db(), current_user(), slug)
    try:
        values = categories.parse_category_form(form)
    except InvalidInput as invalid:
        return _category_page(slug, form=form, errors=invalid.field_errors, status=422)
    return _category_page(slug, form=form, proposed=categories.preview(found, values))


# ---- reasons -------------------------------------------------------------------------------


def _reasons_page(form=None, errors=None, status: int = 200):
    session = db()
    return render_template(
        "admin/reasons.html",
        groups=reasons.list_reasons(session, current_user()),
        categories=session.scalars(select(Category).order_by(Category.position)).all(),
        use_words=reasons.use_words,
        form=form or {},
        errors=errors or {},
        max_key=reasons.MAX_KEY_CHARS,
        max_label=reasons.MAX_LABEL_CHARS,
        max_help=reasons.MAX_HELP_CHARS,
        changes=audit.history(session, current_user(), entity=AdminEntity.REASON, limit=50),
    ), status


@bp.route("/reasons", methods=["GET", "POST"])
def reasons_list():
    """Every category's reasons, offered and retired, and the form that adds one."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            reason = reasons.create_reason(db(), current_user(), form)
        except InvalidInput as invalid:
            return show_refused(_reasons_page, invalid.field_errors, form=form)
        category, key = reason.category.slug, reason.key
        db().commit()
        flash(f"“{reason.label}” is now offered to residents reporting {reason.category.name}.")
        return redirect(url_for("console.reason", category=category, key=key), code=303)
    return _reasons_page()


def _reason_page(
    category: str, key: str, *, form=None, errors=None, retire_errors=None, status: int = 200
):
    session = db()
    found = reasons.get_reason(session, current_user(), category, key)
    use = reasons.use_of(session, found)
    return render_template(
        "admin/reason.html",
        reason=found,
        use=use,
        use_words=reasons.use_words(use),
        form=reasons.form_from_reason(found) if form is None else form,
        errors=errors or {},
        retire_errors=retire_errors or {},
        max_key=reasons.MAX_KEY_CHARS,
        max_label=reasons.MAX_LABEL_CHARS,
        max_help=reasons.MAX_HELP_CHARS,
        changes=audit.history(
            session, current_user(), entity=AdminEntity.REASON, entity_id=found.id
        ),
    ), status


@bp.route("/reasons/<category>/<key>", methods=["GET", "POST"])
def reason(category: str, key: str):
    """One reason: its words, help text and order (its key while nothing uses it), whether it
    is offered, and its history."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            saved = reasons.edit_reason(db(), current_user(), category, key, form)
        except InvalidInput as invalid:
            return show_refused(
                _reason_page, invalid.field_errors, category=category, key=key, form=form
            )
        key = saved.key
        db().commit()
        flash("Reason saved. Residents see the new words at once; reports keep the key.")
        return redirect(url_for("console.reason", category=category, key=key), code=303)
    return _reason_page(category, key)


@bp.post("/reasons/<category>/<key>/retire")
def retire_reason(category: str, key: str):
    """Stop offering a reason; reports that gave it still show it."""
    return _set_retired(category, key, retired=True)


@bp.post("/reasons/<category>/<key>/restore")
def restore_reason(category: str, key: str):
    """Offer a retired reason again."""
    return _set_retired(category, key, retired=False)


def _set_retired(category: str, key: str, *, retired: bool):
    try:
        reasons.set_retired(
            db(),
            current_user(),
            category,
            key,
            retired=retired,
            why=request.form.get("retire_why", ""),
        )
    except InvalidInput as invalid:
        db().rollback()
        # The page's edit form has its own "why": this one is named apart.
        errors = {
            ("retire_why" if name == "why" else name): message
            for name, message in invalid.field_errors.items()
        }
        return _reason_page(category, key, retire_errors=errors, status=422)
    db().commit()
    if retired:
        flash("Reason retired: residents are no longer offered it; reports that gave it keep it.")
    else:
        flash("Reason restored: residents are offered it again.")
    return redirect(url_for("console.reason", category=category, key=key), code=303)


# ---- named areas ---------------------------------------------------------------------------


def _areas_page(form=None, errors=None, status: int = 200):
    return render_template(
        "admin/areas.html",
        rows=areas.list_areas(db(), current_user()),
        form=form or {},
        errors=errors or {},
        kinds=areas.KINDS,
        max_megabytes=MAX_BYTES // 1024 // 1024,
        max_points=MAX_VERTICES,
        tiles=services().settings.map_tiles_url,
        changes=audit.history(db(), current_user(), entity=AdminEntity.AREA, limit=50),
    ), status


@bp.route("/areas", methods=["GET", "POST"])
def areas_list():
    """The named areas with their outlines, and the upload that adds or replaces one."""
    if request.method == "POST":
        form = request.form.to_dict()
        upload = request.files.get("file")
        raw = None
        if upload is not None:
            # Large uploads are spooled to a temporary file: close it now, not at exit.
            try:
                raw = upload.read() if upload.filename else None
            finally:
                upload.close()
        try:
            area, action = areas.save_area(
                db(), current_user(), form, raw, services().places.borough.geometry
            )
        except InvalidInput as invalid:
            return show_refused(_areas_page, invalid.field_errors, form=form)
        db().commit()
        flash(f"{area.name} {'added' if action is AdminAction.CREATED else 'replaced'}.")
        return redirect(url_for("console.areas_list", _anchor=f"area-{area.slug}"), code=303)
    return _areas_page()


@bp.get("/areas/outlines.geojson")
def area_outlines():
    """Every area's outline, for the list's map previews."""
    response = jsonify(areas.outlines(db(), current_user()))
    response.mimetype = "application/geo+json"
    return response


@bp.post("/areas/<slug>/remove")
def remove_area(slug: str):
    """Remove an area no rule or alert uses."""
    try:
        removed = areas.remove_area(db(), current_user(), slug, request.form.get("why", ""))
    except InvalidInput as invalid:
        db().rollback()
        return _areas_page(errors=invalid.field_errors, form={"remove": slug}, status=422)
    db().commit()
    flash(f"{removed.name} removed.")
    return redirect(url_for("console.areas_list"), code=303)


# ---- history -------------------------------------------------------------------------------


@bp.get("/changes")
def changes():
    """Every change made on these pages, newest first."""
    return render_template(
        "admin/changes.html", changes=audit.history(db(), current_user(), limit=500)
    )
