"""The safety board's pages: maps, trends, partner performance, exports, "you said, we did".

Views parse the filters, check who is asking, call the board's domain modules and render or
stream what they return. The map is drawn by folium from stored results; its script is served
from /board/map.js so that the page runs under the site's Content-Security-Policy
(``web.security``): scripts and styles from this site only, images also from the configured
tile server, whose tiles the map draws.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    url_for,
)

from geo import maps
from geo.suntimes import LONDON
from safer_streets import taxonomy
from safer_streets.actions import partner_actions
from safer_streets.board import charts, dashboard, exports, map_layers, publishing, query, runs
from safer_streets.board.audience import Audience, audience_for
from safer_streets.board.filters import (
    BoardFilters,
    FilterOptions,
    Period,
    TimeOfDay,
    filter_options,
    parse_filters,
)
from safer_streets.errors import InvalidInput
from safer_streets.models import HotspotRun
from safer_streets.web.clients import client_address
from safer_streets.web.context import current_user, db, login_required, services, streaming

bp = Blueprint("board", __name__)


@bp.context_processor
def board_globals() -> dict[str, Any]:
    """Values the board's templates format with."""
    return {"london": LONDON, "point_limit": services().settings.board_point_limit}


def _today() -> date:
    return datetime.now(UTC).astimezone(LONDON).date()


def _filters() -> tuple[BoardFilters, FilterOptions]:
    options = filter_options(db())
    filters = parse_filters(request.args, today=_today(), **options.values())
    return filters, options


def _settings() -> dict[str, int]:
    settings = services().settings
    return {"min_count": settings.board_min_count}


def _map_urls(filters: BoardFilters) -> dict[str, str]:
    args = filters.query_args()
    return {
        "map_js": url_for("board.map_script", **args),
        "crime": url_for("board.crime_geojson", **args),
        "points": url_for("board.reports_geojson", **args),
    }


def _area_links(filters: BoardFilters, options: FilterOptions) -> list[tuple[str, str, bool]]:
    """Links that open the board zoomed to each town centre, Catford first."""
    args = filters.query_args()
    args.pop("area", None)
    areas = sorted(options.areas, key=lambda a: (a.value != "catford-town-centre", a.label))
    return [
        (a.label, url_for("board.page", **args, area=a.value), a.value == filters.area)
        for a in areas
    ]


@bp.get("/board/legend.css")
def legend_css():
    """Legend swatch colours, from the same constants as the map layers."""
    colours = {**maps.HOTSPOT_COLOURS, **maps.EMERGING_COLOURS}
    css = "".join(f".swatch-{name}{{background:{colour}}}" for name, colour in colours.items())
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _trend_charts(view: dashboard.TrendView) -> list[charts.TrendFigure]:
    return charts.trend_figures(
        [m.strftime("%b %y") for m in view.months],
        [
            (now.name, [c.value for c in now.counts], [c.value for c in before.counts])
            for now, before in zip(view.category_trends, view.previous_category_trends, strict=True)
        ],
    )


def _reason_rows(filters: BoardFilters) -> list[dict[str, Any]]:
    """StreetSafe reasons after dark, in daylight and in the named town centres, from the run
    for these filters; small counts withheld outside the board when the run includes
    sensitive categories."""
    run = runs.latest_run(db(), filters)
    if run is None or run.computed_at is None:
        return []
    min_count = services().settings.board_min_count
    withhold = audience_for(current_user()) is not Audience.BOARD and run.summary.get(
        "includes_sensitive", True
    )
    labels = {r.key: r.label for r in taxonomy.all_reasons(db())}

    def seen(n: int) -> int | None:
        return None if withhold and 0 < n < min_count else n

    return [
        {
            "label": labels.get(r["reason"], r["reason"]),
            "after_dark": seen(r["after_dark"]),
            "daylight": seen(r["daylight"]),
            "centres": [seen(r["town_centres"].get(slug, 0)) for slug in runs.NAMED_TOWN_CENTRES],
        }
        for r in run.summary.get("reasons", [])
    ]


def _reason_chart(reasons: list[dict[str, Any]]) -> charts.BarChart | None:
    rows = [(r["label"], r["after_dark"], r["daylight"]) for r in reasons]
    return charts.reason_chart(rows) if rows else None


def _centre_names() -> list[str]:
    names = {a.value: a.label for a in filter_options(db()).areas}
    return [names.get(slug, slug) for slug in runs.NAMED_TOWN_CENTRES]


def _partner_charts(rows: list[dashboard.PartnerRow]) -> dict[str, charts.BarChart]:
    return charts.partner_charts(
        [
            (
                p.name,
                p.median_hours_to_acknowledge,
                p.median_days_to_resolve,
                p.acknowledge_breaches,
                p.resolve_breaches,
            )
            for p in rows
        ]
    )


TABS = (
    ("board.page", "Map and summary"),
    ("board.trends", "Trends"),
    ("board.partners", "Partner performance"),
    ("board.said_did", "You said, we did"),
)


def _tab(template: str, title: str, build: Callable[[BoardFilters], dict[str, Any]]):
    """Parse the filters and render one tab of the board; bad filters are shown by name."""
    options = filter_options(db())
    context: dict[str, Any] = {
        "tab_title": title,
        "tabs": TABS,
        "options": options,
        "periods": list(Period),
        "times": list(TimeOfDay),
        "audience": audience_for(current_user()).value,
        "assets": maps.asset_urls(lambda p: url_for("static", filename=p)),
        "queued": request.args.get("queued") == "1",
        "published": request.args.get("published") == "1",
    }
    try:
        filters = parse_filters(request.args, today=_today(), **options.values())
    except InvalidInput as invalid:
        context |= {"errors": invalid.field_errors, "form": request.args.to_dict()}
        return render_template(template, **context), 422
    context |= {"errors": {}, "form": filters.query_args(), **build(filters)}
    if "left_out" not in context:
        context["left_out"] = query.left_out_sources(db(), filters)
    return render_template(template, **context)


@bp.get("/board")
@login_required
def page():
    """The board's map with the stored hot spots, and reports by ward and category."""

    def build(filters: BoardFilters) -> dict[str, Any]:
        settings = services().settings
        overview = dashboard.overview(
            db(),
            current_user(),
            filters,
            min_count=settings.board_min_count,
            point_limit=settings.board_point_limit,
        )
        hot = map_layers.top_hotspots(
            db(), current_user(), overview.run, min_count=settings.board_min_count, filters=filters
        )
        return {
            "overview": overview,
            "left_out": overview.left_out,
            "hot": hot,
            "urls": _map_urls(filters),
            "area_links": _area_links(filters, filter_options(db())),
            "crime_types": map_layers.crime_types(db(), overview.crime_months),
        }

    return _tab("board/page.html", "Map and summary", build)


@bp.get("/board/trends")
@login_required
def trends():
    """Reports per month by category and ward, and by day of the week and hour."""
    min_count = services().settings.board_min_count

    def build(filters: BoardFilters) -> dict[str, Any]:
        view = dashboard.trends(db(), current_user(), filters, min_count=min_count)
        reasons = _reason_rows(filters)
        return {
            "trend_view": view,
            "trend_charts": _trend_charts(view),
            "reasons": reasons,
            "reason_chart": _reason_chart(reasons),
            "centre_names": _centre_names(),
        }

    return _tab("board/trends.html", "Trends", build)


@bp.get("/board/partners")
@login_required
def partners():
    """How each partner responds against its service levels."""

    def build(filters: BoardFilters) -> dict[str, Any]:
        rows = dashboard.partner_performance(db(), filters)
        return {"partners": rows, "partner_charts": _partner_charts(rows)}

    return _tab("board/partners.html", "Partner performance", build)


@bp.get("/board/you-said-we-did")
@login_required
def said_did():
    """What residents reported per ward and what was done; the board can publish it."""
    min_count = services().settings.board_min_count
    audience = audience_for(current_user())
    return _tab(
        "board/said_did.html",
        "You said, we did",
        lambda filters: {
            "entries": dashboard.you_said_we_did(
                db(), filters, audience=audience, min_count=min_count
            ),
            "min_count": min_count,
        },
    )


@bp.get("/board/map.js")
@login_required
def map_script():
    """The folium map's script for the current filters (stored results only)."""
    filters, _ = _filters()
    user = current_user()
    settings = services().settings
    counts = dashboard.ward_category_counts(db(), filters)
    layers = map_layers.map_layers(
        db(), user, filters, min_count=settings.board_min_count, counts=counts
    )
    urls = _map_urls(filters)
    points_allowed = (
        audience_for(user) is Audience.BOARD
        and dashboard.count_from(counts) < settings.board_point_limit
    )
    layers = replace(
        layers,
        crime_url=urls["crime"],
        report_points_url=urls["points"] if points_allowed else None,
    )
    script = maps.map_script(
        maps.board_map(layers, focus_area=filters.area, tiles=settings.map_tiles_url)
    )
    # Not cached: like every response for a signed-in user it is "no-store" (web.security).
    return Response(script, mimetype="text/javascript")


@bp.get("/board/crime.geojson")
@login_required
def crime_geojson():
    """Recorded crime (police.uk) beside the period, per police map point."""
    filters, _ = _filters()
    return _json_response(map_layers.crime_points(db(), filters), "application/geo+json")


@bp.post("/board/runs")
@login_required
def request_run():
    """Queue a hotspot run for the current filters (board and admin only)."""
    options = filter_options(db())
    filters = parse_filters(request.form, today=_today(), **options.values())
    settings = services().settings
    session = db()
    run, created = runs.request_run(
        session,
        current_user(),
        filters,
        permutations=settings.hotspot_permutations,
        seed=settings.hotspot_seed,
    )
    session.commit()
    if created:
        services().task_queue.compute_hotspot_run(run.id)
    return redirect(url_for("board.page", **filters.query_args(), queued="1"), code=303)


@bp.post("/board/you-said-we-did")
@login_required
def publish():
    """Publish the "you said, we did" summary for the current period (board only)."""
    options = filter_options(db())
    filters = parse_filters(request.form, today=_today(), **options.values())
    session = db()
    publishing.publish_you_said_we_did(session, current_user(), filters, **_settings())
    session.commit()
    return redirect(url_for("board.said_did", **filters.query_args(), published="1"), code=303)


@bp.get("/you-said-we-did")
def published():
    """What residents told us and what partners did about it (public)."""
    summary = publishing.latest_published(db())
    actions = partner_actions.public_actions(
        db(), min_count=services().settings.board_min_count, today=_today()
    )
    return render_template(
        "board/published.html", summary=summary, places=partner_actions.by_place(actions)
    )


@bp.get("/board/pack")
@login_required
def pack():
    """The board pack: the whole board on A4, for printing or saving as PDF."""
    filters, options = _filters()
    settings = services().settings
    user = current_user()
    min_count = settings.board_min_count
    overview = dashboard.overview(
        db(), user, filters, min_count=min_count, point_limit=settings.board_point_limit
    )
    trend_view = dashboard.trends(db(), user, filters, min_count=min_count)
    partners = dashboard.partner_performance(db(), filters)
    reasons = _reason_rows(filters)
    return render_template(
        "board/pack.html",
        overview=overview,
        trend_view=trend_view,
        trend_charts=_trend_charts(trend_view),
        reason_chart=_reason_chart(reasons),
        partners=partners,
        partner_charts=_partner_charts(partners),
        entries=dashboard.you_said_we_did(
            db(), filters, audience=audience_for(user), min_count=min_count
        ),
        hot=map_layers.top_hotspots(db(), user, overview.run, min_count=min_count, filters=filters),
        partner_actions=partner_actions.actions_between(
            db(),
            filters.date_from,
            filters.date_to,
            audience=audience_for(user),
            min_count=min_count,
            ward_slug=filters.ward,
            area_slug=filters.area,
        ),
        options=options,
        urls=_map_urls(filters),
        assets=maps.asset_urls(lambda p: url_for("static", filename=p)),
        crime_types=map_layers.crime_types(db(), overview.crime_months),
        generated=datetime.now(UTC).astimezone(LONDON),
    )


# --------------------------------------------------------------------------- exports


def _json_response(document: Any, mimetype: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(document, separators=(",", ":")), mimetype=mimetype, headers=headers)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _stamp(filters: BoardFilters) -> str:
    return f"{filters.date_from.isoformat()}_{filters.date_to.isoformat()}"


@bp.get("/board/reports.csv")
@login_required
def reports_csv():
    """The filtered reports as CSV (board and admin only; no descriptions or contacts)."""
    filters, _ = _filters()
    chunks = exports.reports_csv(db(), current_user(), filters, address=client_address())
    db().commit()  # the access log holds the sensitive rows before any is sent
    return Response(
        streaming(chunks),
        mimetype="text/csv",
        headers=_attachment(f"safer-streets-reports_{_stamp(filters)}.csv"),
    )


@bp.get("/board/reports.geojson")
@login_required
def reports_geojson():
    """The filtered reports as GeoJSON points (board and admin only)."""
    filters, _ = _filters()
    name = f"safer-streets-reports_{_stamp(filters)}.geojson"
    chunks = exports.reports_geojson(db(), current_user(), filters, address=client_address())
    db().commit()  # the access log holds the sensitive points before any is sent
    return Response(
        streaming(chunks),
        mimetype="application/geo+json",
        headers=_attachment(name) if request.args.get("download") == "1" else {},
    )


@bp.get("/board/aggregates.csv")
@login_required
def aggregates_csv():
    """Reports per month, ward and category (small sensitive counts withheld outside the board)."""
    filters, _ = _filters()
    return Response(
        exports.aggregates_csv(db(), current_user(), filters, **_settings()),
        mimetype="text/csv",
        headers=_attachment(f"safer-streets-counts_{_stamp(filters)}.csv"),
    )


def _cells(run_id: int) -> tuple[HotspotRun, list[map_layers.CellRecord]]:
    run = runs.get_run(db(), run_id)
    cells = map_layers.run_cells(
        db(), current_user(), run, **_settings(), significant_only=request.args.get("all") != "1"
    )
    return run, cells


@bp.get("/board/runs/<int:run_id>/cells.csv")
@login_required
def cells_csv(run_id: int):
    """A run's significant cells (``?all=1``: every analysed cell) as CSV."""
    run, cells = _cells(run_id)
    return Response(
        map_layers.cells_csv(cells, p_method=run.summary.get("p_name", "")),
        mimetype="text/csv",
        headers=_attachment(f"safer-streets-hotspot-run-{run_id}.csv"),
    )


@bp.get("/board/runs/<int:run_id>/cells.geojson")
@login_required
def cells_geojson(run_id: int):
    """A run's significant cells (``?all=1``: every analysed cell) as GeoJSON polygons."""
    run, cells = _cells(run_id)
    return _json_response(
        map_layers.cells_geojson(run, cells),
        "application/geo+json",
        _attachment(f"safer-streets-hotspot-run-{run_id}.geojson"),
    )
