"""Where things are: the borough outline, the offline gazetteer and the configured geocoder,
shared by intake, routing and the web."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import cache

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, undefer

from geo.gazetteer import Candidate, Gazetteer, default_gazetteer, is_ambiguous
from geo.geocoders import Geocoder, NominatimGeocoder, OfflineGeocoder
from geo.postcodes import OutsideBorough
from geo.wards import Borough, WardIndex, WardShape
from safer_streets.models import PlacedFrom, PlaceExtent, Ward
from safer_streets.settings import Settings

# Below this a typed street or place is not used without a person confirming it.
CONFIDENT = 0.9


@dataclass(frozen=True)
class Places:
    """Where things are: the borough outline, the offline gazetteer and the geocoder in use."""

    borough: Borough
    gazetteer: Gazetteer
    outside: OutsideBorough
    geocoder: Geocoder

    @classmethod
    def default(cls) -> Places:
        """The shipped Lewisham data with the offline geocoder, loaded once per process."""
        return _default_places()

    @classmethod
    def for_settings(cls, settings: Settings) -> Places:
        """The shipped data with the configured geocoder (offline unless set otherwise)."""
        default = _default_places()
        return replace(default, geocoder=make_geocoder(settings, default.gazetteer))


@cache
def _default_places() -> Places:
    gazetteer = default_gazetteer()
    return Places(
        Borough.from_geojson(),
        gazetteer,
        OutsideBorough.from_gazetteer(gazetteer),
        OfflineGeocoder(gazetteer),
    )


def load_ward_index(session: Session) -> WardIndex:
    """The active wards from the database as an in-memory index (build once, reuse)."""
    wards = session.scalars(select(Ward).options(undefer(Ward.geom)).where(Ward.active)).all()
    return WardIndex(WardShape(w.code, w.name, to_shape(w.geom)) for w in wards)


def confident_match(candidates: list[Candidate]) -> Candidate | None:
    """The one candidate we may use without asking a person, if there is one."""
    if candidates and candidates[0].confidence >= CONFIDENT and not is_ambiguous(candidates):
        return candidates[0]
    return None


@dataclass(frozen=True)
class TextPlacement:
    """How a candidate places a report typed as text: the point stored as its ``location``,
    how it was placed, and the street's or area's extent when it has one."""

    candidate: Candidate
    placed_from: PlacedFrom
    extent: BaseGeometry | None


def placement_of(places: Places, candidate: Candidate) -> TextPlacement:
    """A gazetteer (or geocoder) candidate as a placement: a postcode is a point; a street or
    place is somewhere in its extent (``Gazetteer.extent``; none for a network geocoder's)."""
    if candidate.kind == "postcode":
        return TextPlacement(candidate, PlacedFrom.POSTCODE, None)
    return TextPlacement(candidate, PlacedFrom.TYPED_PLACE, places.gazetteer.extent(candidate))


def store_extent(session: Session | Connection, placement: TextPlacement) -> int | None:
    """The id of the ``place_extent`` row for a placement's extent (made on first use), or
    None when it has none. Reports typed as the same place share the row.

    Read first and written only when new: most typed places were typed before, and neither a
    write nor a flush of the session's pending changes (the worker's batch of reports, which
    would then go one UPDATE each) is needed to find them.
    """
    if placement.extent is None:
        return None
    cand = placement.candidate
    key = hashlib.sha256(f"{cand.kind}\n{cand.label}\n".encode() + placement.extent.wkb).hexdigest()
    find = select(PlaceExtent.id).where(PlaceExtent.key == key)
    make = (
        insert(PlaceExtent)
        .values(
            key=key,
            kind=cand.kind,
            label=cand.label[:200],
            geom=from_shape(placement.extent, srid=4326),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(PlaceExtent.id)
    )
    with session.no_autoflush if isinstance(session, Session) else nullcontext():
        found = session.execute(find).scalar()
        if found is None:
            # Made here, or (None) by a concurrent transaction since the look-up.
            found = session.execute(make).scalar() or session.execute(find).scalar_one()
    return found


def make_geocoder(settings: Settings, gazetteer: Gazetteer) -> Geocoder:
    """The configured geocoder; whatever it is, the offline gazetteer is its fallback."""
    if settings.geocoder == "nominatim":
        # geopy is imported here so the offline default never needs it.
        from geopy.geocoders import Nominatim

        return NominatimGeocoder(
            settings.nominatim_user_agent,
            timeout_s=settings.nominatim_timeout_seconds,
            gazetteer=gazetteer,
            geocoder=Nominatim(
                user_agent=settings.nominatim_user_agent,
                timeout=settings.nominatim_timeout_seconds,
                domain=settings.nominatim_domain,
            ),
        )
    return OfflineGeocoder(gazetteer)
