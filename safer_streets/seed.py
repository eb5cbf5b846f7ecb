"""Loads Lewisham's wards and the seed categories, partners and routing rules: idempotent."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import DATA_DIR
from geo.wards import WARDS_FILE, read_wards_geojson
from safer_streets.models import Area, Category, Partner, RoutingRule, RuleRole, Ward

SEED_DIR = Path(__file__).parent / "seed"
TOWN_CENTRES_FILE = DATA_DIR / "lewisham_town_centres.geojson"
WARD_PLACEHOLDER = "{ward}"


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


def seed(session: Session) -> SeedSummary:
    """Create or update categories, partners and routing rules from ``seed/*.toml``."""
    wards = session.scalars(select(Ward).where(Ward.active).order_by(Ward.code)).all()
    if not wards:
        raise LookupError("load the wards before seeding: `safer-streets wards load`")

    categories = {}
    for position, entry in enumerate(_read("categories.toml")["category"]):
        values = {"sensitive": False, "emergency_notice": False, "public": True, **entry}
        slug = values.pop("slug")
        categories[slug] = _upsert(session, Category, slug, position=position, **values)

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

    rules_data = _read("rules.toml")
    wanted: set[tuple[int | None, int | None, int, RuleRole]] = {
        (None, None, partners[rules_data["fallback"]].id, RuleRole.OWNER)
    }
    for entry in rules_data["rule"]:
        assignments = [(entry["owner"], RuleRole.OWNER)]
        assignments += [(slug, RuleRole.NOTIFIED) for slug in entry.get("notified", [])]
        for category_slug in entry["categories"]:
            category_id = categories[category_slug].id
            for partner_slug, role in assignments:
                if WARD_PLACEHOLDER in partner_slug:
                    for ward in wards:
                        partner = partners[partner_slug.replace(WARD_PLACEHOLDER, ward.slug)]
                        wanted.add((category_id, ward.id, partner.id, role))
                else:
                    wanted.add((category_id, None, partners[partner_slug].id, role))
    existing = {
        (r.category_id, r.ward_id, r.partner_id, r.role)
        for r in session.scalars(select(RoutingRule))
    }
    for category_id, ward_id, partner_id, role in wanted - existing:
        session.add(
            RoutingRule(category_id=category_id, ward_id=ward_id, partner_id=partner_id, role=role)
        )
    session.flush()
    return SeedSummary(
        wards=len(wards),
        categories=len(categories),
        partners=len(partners),
        rules=len(wanted | existing),
    )
