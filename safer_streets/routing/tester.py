"""Where would a report go? The routing tester: a point or a place, a category, a time and
reasons in; the owner, the notified partners, the reason and the rules that matched out.

It places the point and decides with the worker's own data and decision (``processing``'s
``RoutingData`` and ``decide``), so what it says is what routing would do; it creates nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.suntimes import LONDON
from geo.wards import WardIndex
from safer_streets import taxonomy
from safer_streets.errors import InvalidInput
from safer_streets.models import Category
from safer_streets.places import Places, confident_match
from safer_streets.routing import decide
from safer_streets.routing.processing import RoutingData


@dataclass(frozen=True)
class Question:
    """What the tester is asked; either a point (``lat``, ``lon``) or a ``place`` in words."""

    category: str
    lat: float | None = None
    lon: float | None = None
    place: str = ""
    at: datetime | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """Where the report would go and why, with every rule that matched, most specific first."""

    question: Question
    lat: float
    lon: float
    place_label: str
    ward_name: str | None
    areas: tuple[str, ...]
    at: datetime
    reasons: tuple[str, ...]  # in words
    decision: decide.RoutingDecision
    # A rule naming the ward's team appears with the team it resolved to.
    matching: tuple[decide.Rule, ...]

    def deciding(self, rule: decide.Rule) -> bool:
        """Whether this matching rule is one that decided (the owner's, or a notified one)."""
        return rule.id in self.decision.rule_ids


def parse_question(
    session: Session,
    *,
    category: str,
    lat: str | float | None = None,
    lon: str | float | None = None,
    place: str = "",
    at: str | datetime | None = None,
    reasons: Collection[str] = (),
) -> Question:
    """A question from a form or the command line; ``InvalidInput`` names each bad field."""
    errors: dict[str, str] = {}
    point: list[float | None] = []
    for name, value, low, high in (("lat", lat, -90, 90), ("lon", lon, -180, 180)):
        if value in (None, ""):
            point.append(None)
            continue
        try:
            number = float(value)  # type: ignore[arg-type]
            if not low <= number <= high:
                raise ValueError
            point.append(number)
        except ValueError:
            errors[name] = f"must be a number from {low} to {high}"
            point.append(None)
    place = (place or "").strip()
    if not place and (point[0] is None or point[1] is None) and not errors:
        errors["place"] = "give a latitude and longitude, or a place"
    when = None
    if isinstance(at, datetime):
        when = at
    elif at:
        try:
            when = datetime.fromisoformat(at.strip())
        except ValueError:
            errors["at"] = "must be a date and time such as 2026-12-03T22:30"
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=LONDON)  # a wall-clock time, as an officer means it
    category = (category or "").strip()
    keys = tuple(r.strip() for r in reasons if r and r.strip())
    if not category:
        errors["category"] = "choose a category"
    elif keys and (wrong := taxonomy.invalid_reasons(session, category, keys)):
        allowed = ", ".join(r.key for r in taxonomy.reasons_for(session, category)) or "none"
        errors["reasons"] = (
            f"not reasons for this category: {', '.join(wrong)} (reasons: {allowed})"
        )
    if errors:
        raise InvalidInput(errors)
    return Question(category, point[0], point[1], place, when, keys)


def try_routing(
    session: Session,
    question: Question,
    *,
    wards: WardIndex,
    places: Places,
    now: datetime | None = None,
) -> Answer:
    """Decide where a report would go, as the worker would decide it; nothing is stored."""
    category = session.scalar(select(Category).where(Category.slug == question.category))
    if category is None:
        raise InvalidInput({"category": f"no category called {question.category!r}"})
    if question.lat is not None and question.lon is not None:
        lat, lon = question.lat, question.lon
        nearest = places.geocoder.reverse(lon, lat)
        label = nearest.street or f"{lat:.5f}, {lon:.5f}"
    else:
        found = confident_match(places.geocoder.search(question.place))
        if found is None:
            raise InvalidInput({"place": f"no single place in Lewisham matches {question.place!r}"})
        lat, lon, label = found.lat, found.lon, found.label
    data = RoutingData.load(session)
    shape = wards.ward_for_point(lon, lat)
    ward = data.wards.get(shape.code) if shape is not None else None
    place = decide.Place(
        ward_code=ward.code if ward else None,
        ward_name=ward.name if ward else None,
        areas=tuple(data.areas_at(Point(lon, lat))),
    )
    at = question.at or now or datetime.now(UTC)
    decision = data.table.decide(
        category=category.slug,
        category_name=category.name,
        place=place,
        at=decide.local_time(at),
        reasons=question.reasons,
    )
    matching = tuple(
        data.table.matching(
            category=category.slug,
            place=place,
            at=decide.local_time(at),
            reasons=question.reasons,
        )
    )
    return Answer(
        question=question,
        lat=lat,
        lon=lon,
        place_label=label,
        ward_name=place.ward_name,
        areas=tuple(area.name for area in place.areas),
        at=at,
        reasons=tuple(
            w.lower() for w in taxonomy.reason_labels(session, category.slug, question.reasons)
        ),
        decision=decision,
        matching=matching,
    )
