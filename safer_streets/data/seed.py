"""Loads Lewisham's wards and the seed categories, partners and routing rules: idempotent."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo import DATA_DIR
from geo.wards import WARDS_FILE, read_wards_geojson
from safer_streets import taxonomy
from safer_streets.disclosure.policy import CategoryPolicy, Description, Location, TimePrecision
from safer_streets.models import (
    Area,
    Category,
    CategoryReason,
    Partner,
    RoutingRule,
    RoutingRuleChange,
    RuleChange,
    RuleRole,
    Ward,
)
from safer_streets.routing.decide import WARD_TEAM
from safer_streets.routing.rules import WARD_TEAM_CHOICE, format_window, record_change, snapshot

SEED_DIR = Path(__file__).parent / "defaults"
TOWN_CENTRES_FILE = DATA_DIR / "lewisham_town_centres.geojson"
WARD_PLACEHOLDER = "{ward}"
SEED_WHY = "Seed data (safer_streets/data/defaults/rules.toml)"


def slugify(name: str) -> str:
    """'Rushey Green' -> 'rushey-green'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class SeedSummary:
    """How many rows of each kind exist after seeding."""

    wards: int
    categories: int
    partners: int
    rules: int


def load_wards(session: Session, path: Path = WARDS_FILE, generation: int = 2022) -> int:
    """Insert or update the wards of one boundary generation from a GeoJSON file."""
    existing = {
        w.code: w for w in session.scalars(select(Ward).where(Ward.generation == generation))
    }
    shapes = read_wards_geojson(path)
    for ward_shape in shapes:
        geometry = ward_shape.geometry
        if isinstance(geometry, Polygon):
            geometry = MultiPolygon([geometry])
        ward = existing.get(ward_shape.code) or Ward(code=ward_shape.code, generation=generation)
        ward.name = ward_shape.name
        ward.slug = slugify(ward_shape.name)
        ward.active = True
        ward.geom = from_shape(geometry, srid=4326)
        session.add(ward)
    session.flush()
    return len(shapes)


def load_areas(session: Session, path: Path = TOWN_CENTRES_FILE) -> int:
    """Insert or update the town centres as named areas (e.g. ``catford-town-centre``)."""
    features = json.loads(path.read_text())["features"]
    for feature in features:
        name = feature["properties"]["sitename"]
        geometry = shape(feature["geometry"])
        if isinstance(geometry, Polygon):
            geometry = MultiPolygon([geometry])
        slug = slugify(name) + "-town-centre"
        area = session.scalar(select(Area).where(Area.slug == slug)) or Area(slug=slug)
        area.name = f"{name} town centre"
        area.kind = "town-centre"
        area.geom = from_shape(geometry, srid=4326)
        session.add(area)
    session.flush()
    return len(features)


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads((SEED_DIR / name).read_text())


def _upsert(session: Session, model: type, slug: str, **values: Any) -> Any:
    row = session.scalar(select(model).where(model.slug == slug))
    if row is None:
        row = model(slug=slug)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    return row


@dataclass(frozen=True)
class RuleSpec:
    """One routing rule as the seed file describes it, by slugs and codes."""

    category: str | None
    ward_code: str | None
    area: str | None
    window: tuple[time, time] | None
    reason: str | None
    partner: str
    role: RuleRole

    @property
    def identity(self) -> tuple[object, ...]:
        """What makes two rules the same rule (as in the history's snapshots)."""
        window = format_window(*self.window) if self.window else None
        return (
            self.category,
            self.ward_code,
            self.area,
            window,
            self.reason,
            WARD_TEAM if self.ward_team else self.partner,
            self.role.value,
        )

    @property
    def ward_team(self) -> bool:
        """Whether the rule names the ward's Safer Neighbourhood Team."""
        return self.partner == WARD_TEAM_CHOICE


def _identity(snap: dict[str, Any]) -> tuple[object, ...]:
    keys = ("category", "ward", "area", "window", "reason", "partner", "role")
    return tuple(snap.get(key) for key in keys)


class SeedError(ValueError):
    """The seed files contradict themselves or the loaded data."""


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise SeedError(f"rules.toml: {text!r} is not a time such as 22:00") from None


def expand_rules(
    data: dict[str, Any],
    wards: Sequence[tuple[str, str]],
    areas: Collection[str],
    categories: Collection[str],
    reasons: Collection[tuple[str, str]] = (),
) -> list[RuleSpec]:
    """Expand ``rules.toml`` into one spec per rule row.

    ``wards`` are (code, slug) pairs. In an entry, ``{ward-team}`` as a partner names the
    ward's Safer Neighbourhood Team, in one rule for every ward; a partner slug containing
    ``{ward}`` makes one ward rule per ward; ``areas`` makes one area rule per named area;
    ``between`` is a local time-of-day window; ``reason`` a reason within the categories
    (``reasons`` are the known (category, key) pairs).
    ``owner`` may be left out by an entry that only notifies.
    """
    specs = [RuleSpec(None, None, None, None, None, data["fallback"], RuleRole.OWNER)]
    for number, entry in enumerate(data["rule"], start=1):
        assignments = [(entry["owner"], RuleRole.OWNER)] if "owner" in entry else []
        assignments += [(slug, RuleRole.NOTIFIED) for slug in entry.get("notified", [])]
        if not assignments:
            raise SeedError(f"rules.toml rule {number}: give an owner or notified partners")
        window = None
        if "between" in entry:
            start, end = (_clock(t) for t in entry["between"])
            window = (start, end)
        reason = entry.get("reason")
        for area in entry.get("areas", []):
            if area not in areas:
                raise SeedError(
                    f"rules.toml rule {number}: unknown area {area!r} "
                    "(load them first: `safer-streets areas load`)"
                )
        places: list[str | None] = list(entry.get("areas", [])) or [None]
        for category in entry["categories"]:
            if category not in categories:
                raise SeedError(f"rules.toml rule {number}: unknown category {category!r}")
            if reason and (category, reason) not in reasons:
                raise SeedError(f"rules.toml rule {number}: {reason!r} is not a {category} reason")
            for area in places:
                for partner, role in assignments:
                    if WARD_PLACEHOLDER in partner:
                        if area is not None:
                            raise SeedError(f"rules.toml rule {number}: {{ward}} in an area rule")
                        specs += [
                            RuleSpec(
                                category,
                                code,
                                None,
                                window,
                                reason,
                                partner.replace(WARD_PLACEHOLDER, slug),
                                role,
                            )
                            for code, slug in wards
                        ]
                    else:
                        specs.append(RuleSpec(category, None, area, window, reason, partner, role))
    return specs


def disclosure_profiles(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The disclosure profiles of ``disclosure.toml`` as category column values, checked."""
    profiles = {}
    for name, profile in data["profile"].items():
        try:
            policy = CategoryPolicy(
                listed=bool(profile["listed"]),
                location=Location(profile["location"]),
                time=TimePrecision(profile["time"]),
                description=Description(profile["description"]),
            )
        except (KeyError, ValueError) as error:
            raise SeedError(f"disclosure.toml: profile {name!r}: {error}") from error
        profiles[name] = {
            "disclosure_listed": policy.listed,
            "disclosure_location": policy.location.value,
            "disclosure_time": policy.time.value,
            "disclosure_description": policy.description.value,
        }
    return profiles


def seed(session: Session) -> SeedSummary:
    """Create or update categories, partners and routing rules from ``defaults/*.toml``."""
    wards = session.scalars(select(Ward).where(Ward.active).order_by(Ward.code)).all()
    if not wards:
        raise LookupError("load the wards before seeding: `safer-streets wards load`")

    profiles = disclosure_profiles(_read("disclosure.toml"))
    categories = {}
    for position, entry in enumerate(_read("categories.toml")["category"]):
        values = {"sensitive": False, "emergency_notice": False, "public": True, **entry}
        slug = values.pop("slug")
        profile = values.pop("disclosure", None)
        if profile not in profiles:
            raise SeedError(
                f"categories.toml: {slug} needs a disclosure profile, one of {sorted(profiles)}"
            )
        values.update(profiles[profile])
        categories[slug] = _upsert(session, Category, slug, position=position, **values)

    load_reasons(session, categories)

    partner_data = _read("partners.toml")
    partners = {}
    for entry in partner_data["partner"]:
        values = dict(entry)
        slug = values.pop("slug")
        partners[slug] = _upsert(session, Partner, slug, **values)
    template = partner_data["ward_partner"]
    for ward in wards:
        values = {
            key: value.format(ward=ward.slug, ward_name=ward.name)
            if isinstance(value, str)
            else value
            for key, value in template.items()
        }
        slug = values.pop("slug")
        partners[slug] = _upsert(session, Partner, slug, ward_code=ward.code, **values)
    session.flush()

    areas = {a.slug: a for a in session.scalars(select(Area))}
    specs = expand_rules(
        _read("rules.toml"),
        [(w.code, w.slug) for w in wards],
        set(areas),
        set(categories),
        set(taxonomy.labels_by_key(session)),
    )
    wards_by_code = {w.code: w for w in wards}
    existing = session.scalars(select(RoutingRule)).all()
    # A rule an admin has since edited or deactivated is in the history: never bring it back.
    known = {_identity(snapshot(r)) for r in existing}
    for change in session.scalars(select(RoutingRuleChange)):
        known.update(_identity(s) for s in (change.before, change.after) if s)
    # Where the table still has (or once had) one row per ward for the wards' teams, which
    # migration 0008 could not collapse because an admin had changed some of them, a rule for
    # the ward's team would bring back what the admin changed: those rows stand instead.
    ward_teams = {slug for slug, partner in partners.items() if partner.ward_code}
    per_ward = {
        (category, area, window, reason, role)
        for category, ward, area, window, reason, partner, role in known
        if ward is not None and partner in ward_teams
    }
    for spec in specs:
        if not spec.ward_team and spec.partner not in partners:
            raise SeedError(f"rules.toml: unknown partner {spec.partner!r}")
        category, _, area, window, reason, _, role = spec.identity
        if spec.ward_team and (category, area, window, reason, role) in per_ward:
            continue
        if spec.identity in known:
            continue
        rule = RoutingRule(
            category=categories[spec.category] if spec.category else None,
            ward=wards_by_code[spec.ward_code] if spec.ward_code else None,
            area=areas[spec.area] if spec.area else None,
            window_start=spec.window[0] if spec.window else None,
            window_end=spec.window[1] if spec.window else None,
            reason=spec.reason,
            partner=None if spec.ward_team else partners[spec.partner],
            ward_team=spec.ward_team,
            role=spec.role,
            active=True,
        )
        session.add(rule)
        record_change(
            session, rule, actor=None, action=RuleChange.CREATED, why=SEED_WHY, before=None
        )
        known.add(spec.identity)
    session.flush()
    return SeedSummary(
        wards=len(wards),
        categories=len(categories),
        partners=len(partners),
        rules=session.scalar(select(func.count()).select_from(RoutingRule)) or 0,
    )


def load_reasons(session: Session, categories: dict[str, Category]) -> int:
    """Add the reasons of ``categories.toml`` that the database lacks. One already there is left
    as it is: an admin may have reworded or retired it, and a seed never undoes that."""
    existing = {
        (slug, key)
        for slug, key in session.execute(
            select(Category.slug, CategoryReason.key).join(
                Category, Category.id == CategoryReason.category_id
            )
        )
    }
    added = 0
    for position, entry in enumerate(_read("categories.toml").get("reason", [])):
        slug, key = entry["category"], entry["key"]
        if slug not in categories:
            raise SeedError(f"categories.toml: reason {key!r} of unknown category {slug!r}")
        if (slug, key) in existing:
            continue
        session.add(
            CategoryReason(
                category=categories[slug],
                key=key,
                label=entry["label"],
                help=entry.get("help", ""),
                position=position,
            )
        )
        existing.add((slug, key))
        added += 1
    session.flush()
    taxonomy.forget(session)
    return added


def load_reference_data(session: Session) -> SeedSummary:
    """What every new database needs: the wards, the town centres, then the seed."""
    load_wards(session)
    load_areas(session)
    return seed(session)
