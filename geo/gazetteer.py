"""Forward and reverse geocoding for Lewisham from shipped data, plus an optional network adapter.

Forward: full postcodes (OS Code-Point Open), street names (police.uk snap points), town centres
(GLA boundaries) and postcode districts. Reverse: nearest street snap point, nearest postcode and
the covering ward. Everything is memory-resident after ``Gazetteer.from_files()``.

Confidence scale used by ``Gazetteer.search`` (0..1, comparable across kinds):

- full postcode found: 1.0
- exact name (after normalising case, punctuation and abbreviations): 1.0, minus 0.1 for every
  other name that extends it ("Lewisham" → "Lewisham Way", ...), at most minus 0.5
- name that starts with the query: 0.30 to 0.55, higher when the query covers more of the name
- typo match (rapidfuzz ratio ≥ 80): 0.85 × ratio / 100
- postcode district ("SE6"): 0.5; a partial postcode ("SE6 4J"): 0.8 when it has one completion,
  0.4 each otherwise
- several places sharing one name (two Chestnut Closes) divide their confidence between them.

So a single confident answer is one with confidence ≥ 0.9; ``is_ambiguous()`` says when the
runner-up is too close to the top to pick without asking the resident.

Extents: a candidate is one point, but a typed street or place means somewhere in it.
``Gazetteer.extent()`` gives the ground a street or town centre covers, as far as the shipped
data knows it: a town centre's GLA boundary, and for a street the shortest lines joining its
police snap points widened by ``STREET_REACH_M``. The snap points are not centrelines: half
the streets have all their points within 14 m of each other, so the points alone would say a
300 m street is a spot.
"""

from __future__ import annotations

import bisect
import csv
import functools
import json
import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from rapidfuzz import fuzz, process
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist, squareform
from shapely.geometry import MultiLineString, shape
from shapely.geometry.base import BaseGeometry

from geo import DATA_DIR
from geo.postcodes import (
    EMBEDDED_POSTCODE_RE,
    PARTIAL_POSTCODE_RE,
    compact_postcode,
    normalise_postcode,
    outward_code,
)
from geo.projection import transformer_to_bng, transformer_to_lonlat
from geo.wards import WardIndex

log = logging.getLogger(__name__)

POSTCODES_FILE = "lewisham_postcodes_codepoint_2025.csv"
STREETS_FILE = "lewisham_street_points_from_police.csv"
TOWN_CENTRES_FILE = "lewisham_town_centres.geojson"
WARDS_FILE = "lewisham_wards_2022.geojson"

Kind = Literal["postcode", "street", "place"]

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One forward-geocoding answer: a labelled WGS84 point, its ward and a 0..1 confidence."""

    label: str
    kind: Kind
    lon: float
    lat: float
    ward_code: str | None
    ward_name: str | None
    confidence: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence!r}")


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """Nearest street and postcode to a point (distances in metres) and the covering ward."""

    street: str | None
    street_distance_m: float | None
    postcode: str | None
    postcode_distance_m: float | None
    ward_code: str | None
    ward_name: str | None


AMBIGUITY_MARGIN = 0.1


def is_ambiguous(candidates: Sequence[Candidate], margin: float = AMBIGUITY_MARGIN) -> bool:
    """True when the runner-up is within ``margin`` of the top candidate's confidence."""
    return len(candidates) > 1 and candidates[0].confidence - candidates[1].confidence < margin


# --------------------------------------------------------------------------------------------
# Name normalisation
# --------------------------------------------------------------------------------------------

# Abbreviations residents (and Royal Mail, OS and Nominatim) use for street types and common
# words. "st" is handled separately because it means Saint before a name and Street after one.
_ABBREVIATIONS = {
    "rd": "road",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "cl": "close",
    "cls": "close",
    "cres": "crescent",
    "cresc": "crescent",
    "cr": "crescent",
    "gdns": "gardens",
    "gdn": "gardens",
    "gds": "gardens",
    "pk": "park",
    "hl": "hill",
    "pl": "place",
    "sq": "square",
    "tce": "terrace",
    "ter": "terrace",
    "terr": "terrace",
    "grn": "green",
    "gr": "grove",
    "gro": "grove",
    "gv": "grove",
    "dr": "drive",
    "drv": "drive",
    "ct": "court",
    "crt": "court",
    "wy": "way",
    "mws": "mews",
    "wlk": "walk",
    "wk": "walk",
    "rw": "row",
    "appr": "approach",
    "app": "approach",
    "bdwy": "broadway",
    "bway": "broadway",
    "hts": "heights",
    "cotts": "cottages",
    "pde": "parade",
    "pth": "path",
    "vw": "view",
    "gt": "great",
    "lwr": "lower",
    "upr": "upper",
    "nth": "north",
    "sth": "south",
    "mt": "mount",
    "stn": "station",
    "ctr": "centre",
    "center": "centre",
    "saint": "st",
}
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?")
_POLICE_POSSESSIVE = re.compile(r"'S\b")
_POLICE_ACRONYMS = {"Dlr": "DLR"}


def normalise_name(text: str, *, expand: bool = True) -> str:
    """Lower-case ASCII words; with ``expand`` abbreviations are spelt out and house numbers go."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    lowered = _APOSTROPHES.sub("", ascii_text.lower()).replace("&", " and ")
    tokens = _NON_ALNUM.sub(" ", lowered).split()
    if not expand:
        return " ".join(tokens)
    if len(tokens) > 1 and _HOUSE_NUMBER.fullmatch(tokens[0]):
        tokens = tokens[1:]
    out = [_ABBREVIATIONS.get(t, t) for t in tokens]
    if len(out) > 1 and out[-1] == "st":
        out[-1] = "street"
    return " ".join(out)


def _display_name(police_name: str) -> str:
    """Police.uk title-cases after apostrophes ("Trundley'S Road"); undo that for display."""
    name = _POLICE_POSSESSIVE.sub("'s", police_name.strip())
    return " ".join(_POLICE_ACRONYMS.get(word, word) for word in name.split())


# --------------------------------------------------------------------------------------------
# Gazetteer
# --------------------------------------------------------------------------------------------

# Scoring constants (see the module docstring for the scale they build).
_LONGER_NAME_PENALTY = 0.1
_MAX_LONGER_NAME_PENALTY = 0.5
_PREFIX_BASE = 0.30
_PREFIX_SPAN = 0.25
_FUZZY_WEIGHT = 0.85
_FUZZY_CUTOFF = 80.0
_DISTRICT_CONFIDENCE = 0.5
_SEGMENT_FACTOR = 0.9
_MIN_QUERY_CHARS = 3
# No street or place name comes near this; longer text is prose, and bounding it bounds the
# per-request cost of the fuzzy scan.
_MAX_QUERY_CHARS = 200
# Snap points of one name further apart than this (single linkage) are different streets: the
# two Chestnut Closes (5 km apart) and Hamlet Closes (2 km). Long roads keep points closer than
# this; the widest gap on one road is on Sydenham Hill, about 1.1 km.
_SAME_STREET_GAP_M = 1500.0
# A police "street" named like a town centre ("Catford") within this distance of the centre's
# boundary is the same place; the town centre answers for both.
_PLACE_STREET_MERGE_M = 500.0
_KIND_ORDER = {"place": 0, "street": 1, "postcode": 2}
# How far from its snap points a street is taken to reach. Police snap points stand for the
# stretch of street around them; Lewisham's residential streets are mostly 150-400 m long, so
# "on Catford Broadway" is, as far as the data can tell, within about this of its points.
STREET_REACH_M = 100.0

# Distances: all points are projected to British National Grid (EPSG:27700) with pyproj and
# measured there. The grid scale factor in Lewisham is about 0.9998, so grid distances are within
# 0.02% of ground distances, far inside the snap points' own accuracy.


@dataclass(frozen=True, slots=True)
class _Entity:
    """A searchable thing: the candidate it yields at confidence 1 and its sharing group size."""

    candidate: Candidate
    same_name: int  # how many entities share this entity's primary name


class Gazetteer:
    """Memory-resident forward and reverse geocoder over the shipped Lewisham data."""

    def __init__(
        self,
        wards: WardIndex,
        postcodes: Sequence[tuple[str, float, float]],
        street_points: Sequence[tuple[str, float, float]],
        town_centres: Sequence[tuple[str, Any]],
    ) -> None:
        self.wards = wards
        to_bng = transformer_to_bng()

        # Postcodes: canonical → candidate; compact forms sorted for partial-postcode prefixes.
        pc_lon = np.array([p[1] for p in postcodes], dtype=float)
        pc_lat = np.array([p[2] for p in postcodes], dtype=float)
        pc_ward = self._ward_fields(pc_lon, pc_lat)
        self._postcode_labels = [p[0] for p in postcodes]
        self._postcodes: dict[str, Candidate] = {}
        for i, (label, lon, lat) in enumerate(postcodes):
            code, name = pc_ward[i]
            self._postcodes[label] = Candidate(label, "postcode", lon, lat, code, name, 1.0)
        self._compact_postcodes = sorted(p.replace(" ", "") for p in self._postcodes)
        pc_x, pc_y = to_bng.transform(pc_lon, pc_lat)
        self._postcode_xy = np.column_stack([pc_x, pc_y])
        self._postcode_tree = cKDTree(self._postcode_xy)
        self._districts = self._build_districts()

        # Street snap points for reverse geocoding: every point, under its display name.
        st_lon = np.array([s[1] for s in street_points], dtype=float)
        st_lat = np.array([s[2] for s in street_points], dtype=float)
        st_x, st_y = to_bng.transform(st_lon, st_lat)
        st_xy = np.column_stack([st_x, st_y])
        self._street_point_names = [_display_name(s[0]) for s in street_points]
        self._street_tree = cKDTree(st_xy) if len(street_points) else None
        self._street_xy = st_xy
        # Label → the snap points of that street, and label → a town centre's boundary: what
        # ``extent`` draws a candidate's ground from.
        self._street_members: dict[str, list[int]] = {}
        # Worked out on first use and kept: a street's extent never changes, and working it
        # out (a spanning tree, a buffer, a projection) costs about a millisecond a report.
        self._street_extents: dict[str, BaseGeometry] = {}
        self._place_shapes: dict[str, BaseGeometry] = {}

        entities: list[_Entity] = []
        keys: dict[str, list[int]] = defaultdict(list)
        place_keys = self._add_town_centres(town_centres, entities, keys)
        self._add_streets(street_points, st_lon, st_lat, st_xy, place_keys, entities, keys)

        self._entities = entities
        self._keys: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in keys.items()}
        self._sorted_keys = sorted(self._keys)
        # For each entity, the keys that belong to it, so its aliases never count as rivals.
        own: dict[int, set[str]] = defaultdict(set)
        for key, ids in self._keys.items():
            for i in ids:
                own[i].add(key)
        self._own_keys = {i: frozenset(k) for i, k in own.items()}

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def from_files(cls, data_dir: Path = DATA_DIR) -> Gazetteer:
        """Load the shipped postcode, street, town-centre and ward files."""
        wards = WardIndex.from_geojson(data_dir / WARDS_FILE)
        with (data_dir / POSTCODES_FILE).open(newline="", encoding="utf-8") as fh:
            postcodes = [
                (row["postcode"], float(row["longitude"]), float(row["latitude"]))
                for row in csv.DictReader(fh)
            ]
        with (data_dir / STREETS_FILE).open(newline="", encoding="utf-8") as fh:
            # poi_category rows are generic labels ("Supermarket"), not places you can name.
            streets = [
                (row["name"], float(row["longitude"]), float(row["latitude"]))
                for row in csv.DictReader(fh)
                if row["kind"] == "street" and row["name"].strip()
            ]
        features = json.loads((data_dir / TOWN_CENTRES_FILE).read_text(encoding="utf-8"))
        centres = [
            (f["properties"]["sitename"], shape(f["geometry"])) for f in features["features"]
        ]
        return cls(wards, postcodes, streets, centres)

    def _ward_fields(self, lons: np.ndarray, lats: np.ndarray) -> list[tuple[str | None, ...]]:
        idx = self.wards.ward_indices(lons, lats)
        wards = self.wards.wards
        return [(wards[i].code, wards[i].name) if i >= 0 else (None, None) for i in idx]

    def _build_districts(self) -> dict[str, Candidate]:
        by_district: dict[str, list[int]] = defaultdict(list)
        for i, label in enumerate(self._postcode_labels):
            by_district[label.split(" ")[0]].append(i)
        districts = {}
        for district, members in by_district.items():
            # The member postcode nearest the district's mean is a real Lewisham address point,
            # whereas the mean of a crescent-shaped district could fall outside the borough.
            xy = self._postcode_xy[members]
            nearest = members[int(np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T)))]
            districts[district] = replace(
                self._postcodes[self._postcode_labels[nearest]],
                label=f"{district} (postcode district, Lewisham part)",
                kind="place",
                confidence=_DISTRICT_CONFIDENCE,
            )
        return districts

    def _add_town_centres(
        self,
        town_centres: Sequence[tuple[str, Any]],
        entities: list[_Entity],
        keys: dict[str, list[int]],
    ) -> dict[str, Any]:
        place_keys: dict[str, Any] = {}
        for sitename, geometry in town_centres:
            centroid = geometry.centroid
            point = centroid if geometry.contains(centroid) else geometry.point_on_surface()
            lon, lat = round(point.x, 6), round(point.y, 6)  # the data's own precision
            ward = self.wards.ward_for_point(lon, lat)
            cand = Candidate(
                label=f"{sitename} town centre",
                kind="place",
                lon=lon,
                lat=lat,
                ward_code=ward.code if ward else None,
                ward_name=ward.name if ward else None,
                confidence=1.0,
            )
            entity_id = len(entities)
            entities.append(_Entity(cand, 1))
            self._place_shapes[cand.label] = geometry
            names = [sitename]
            # "New Cross and New Cross Gate" is two names residents use separately.
            names += [part.strip() for part in sitename.split(" and ") if part.strip()]
            for name in names:
                base = normalise_name(name)
                for alias in (base, f"{base} town centre", f"{base} centre"):
                    if entity_id not in keys[alias]:
                        keys[alias].append(entity_id)
                    place_keys[alias] = geometry
        return place_keys

    def _add_streets(
        self,
        street_points: Sequence[tuple[str, float, float]],
        lons: np.ndarray,
        lats: np.ndarray,
        xy: np.ndarray,
        place_keys: dict[str, Any],
        entities: list[_Entity],
        keys: dict[str, list[int]],
    ) -> None:
        ward_fields = self._ward_fields(lons, lats)
        by_key: dict[str, list[int]] = defaultdict(list)
        for i, (name, _, _) in enumerate(street_points):
            by_key[normalise_name(name)].append(i)

        for key, members in sorted(by_key.items()):
            clusters = _single_linkage(xy[members], _SAME_STREET_GAP_M)
            labels = Counter(street_points[i][0] for i in members)
            # Police data spells some names both ways ("Trundleys Road", "Trundley'S Road"); the
            # apostrophe form is the street's real name, otherwise the most-used spelling wins.
            raw_label = max(labels, key=lambda s: ("'" in s, labels[s], s))
            label = _display_name(raw_label)
            built: list[Candidate] = []
            cluster_members: list[list[int]] = []
            for cluster in clusters:
                idx = [members[j] for j in cluster]
                cluster_members.append(idx)
                built.append(self._street_candidate(label, idx, lons, lats, xy, ward_fields))
            if len(built) > 1:
                built = _qualify_duplicates(built)
            for cand, idx in zip(built, cluster_members, strict=True):
                self._street_members[cand.label] = idx
            if key in place_keys:
                centre = place_keys[key]
                built = [
                    c
                    for c in built
                    if _metres_between_lonlat(c.lon, c.lat, centre) > _PLACE_STREET_MERGE_M
                ]
            for cand in built:
                entity_id = len(entities)
                entities.append(_Entity(cand, len(built)))
                keys[key].append(entity_id)

    def _street_candidate(
        self,
        label: str,
        idx: list[int],
        lons: np.ndarray,
        lats: np.ndarray,
        xy: np.ndarray,
        ward_fields: list[tuple[str | None, ...]],
    ) -> Candidate:
        pts = xy[idx]
        dist = np.hypot(*(pts - pts.mean(axis=0)).T)
        # Prefer a snap point inside a ward so the candidate can be routed; 40 police points sit
        # just over the borough edge.
        outside = np.array([ward_fields[i][0] is None for i in idx])
        if not outside.all():
            dist = np.where(outside, np.inf, dist)
        best = idx[int(np.argmin(dist))]
        code, name = ward_fields[best]
        return Candidate(label, "street", float(lons[best]), float(lats[best]), code, name, 1.0)

    # ---- forward -----------------------------------------------------------------------

    @property
    def postcodes(self) -> AbstractSet[str]:
        """The canonical Lewisham postcodes this gazetteer knows."""
        return self._postcodes.keys()

    @property
    def districts(self) -> AbstractSet[str]:
        """The outward codes with at least one Lewisham postcode."""
        return self._districts.keys()

    def lookup_postcode(self, text: str) -> Candidate | None:
        """Return the Lewisham postcode in ``text`` (any spacing/case), or None."""
        canonical = normalise_postcode(text)
        return None if canonical is None else self._postcodes.get(canonical)

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Return up to ``limit`` ranked candidates for a postcode, street or place name."""
        if limit <= 0 or not query or not query.strip() or len(query) > _MAX_QUERY_CHARS:
            return []
        canonical = normalise_postcode(query)
        if canonical is not None:
            hit = self._postcodes.get(canonical)
            # A well-formed postcode that is not in Lewisham is not a street name either.
            return [hit] if hit else []
        outward = outward_code(query)
        if outward is not None and outward in self._districts:
            return [self._districts[outward]]
        partial = self._partial_postcode(query, limit)
        if partial:
            return partial
        embedded = EMBEDDED_POSTCODE_RE.search(query.upper())
        if embedded is not None:
            hit = self._postcodes.get(f"{embedded.group(1)} {embedded.group(2)}")
            return [hit] if hit else []

        found = self._search_names(self._strip_district(query), limit)
        if not found and "," in query:
            # "Rushey Green, Catford": the first part that means something wins.
            for segment in query.split(","):
                found = self._search_names(segment, limit)
                if found:
                    found = [
                        replace(c, confidence=round(c.confidence * _SEGMENT_FACTOR, 4))
                        for c in found
                    ]
                    break
        return found

    def _strip_district(self, query: str) -> str:
        # "Rushey Green SE6": a trailing Lewisham district is context, not part of the name.
        words = query.split()
        if len(words) > 1 and outward_code(words[-1]) in self._districts:
            return " ".join(words[:-1])
        return query

    def _partial_postcode(self, query: str, limit: int) -> list[Candidate]:
        compact = compact_postcode(query)
        if not compact or PARTIAL_POSTCODE_RE.fullmatch(compact) is None:
            return []
        lo = bisect.bisect_left(self._compact_postcodes, compact)
        hi = bisect.bisect_left(self._compact_postcodes, compact + "~")
        matches = self._compact_postcodes[lo:hi]
        if not matches:
            return []
        confidence = 0.8 if len(matches) == 1 else 0.4
        return [
            replace(self._postcodes[f"{m[:-3]} {m[-3:]}"], confidence=confidence)
            for m in matches[:limit]
        ]

    def _search_names(self, query: str, limit: int) -> list[Candidate]:
        expanded = normalise_name(query)
        literal = normalise_name(query, expand=False)
        if len(expanded) < _MIN_QUERY_CHARS and len(literal) < _MIN_QUERY_CHARS:
            return []
        scores: dict[int, float] = {}

        def offer(entity_id: int, score: float) -> None:
            if score > scores.get(entity_id, -1.0):
                scores[entity_id] = score

        exact_ids = self._keys.get(expanded, ())
        longer = self._prefix_hits(expanded, word_boundary=True)
        rivals = {i for key, ids in longer for i in ids if i not in exact_ids}
        for i in exact_ids:
            # Other names that start with this one make it a less certain answer.
            own_rivals = {r for r in rivals if not (self._own_keys[r] & self._own_keys[i])}
            penalty = min(_MAX_LONGER_NAME_PENALTY, _LONGER_NAME_PENALTY * len(own_rivals))
            offer(i, 1.0 - penalty)
        for text in {expanded, literal}:
            if len(text) < _MIN_QUERY_CHARS:
                continue
            for key, ids in self._prefix_hits(text, word_boundary=False):
                if key == expanded:
                    continue
                score = _PREFIX_BASE + _PREFIX_SPAN * len(text) / len(key)
                for i in ids:
                    offer(i, score)
        if not scores and len(expanded) >= _MIN_QUERY_CHARS:
            # Nothing starts with the query: only now pay for a scan, for typos.
            for key, score, _ in process.extract(
                expanded,
                self._sorted_keys,
                scorer=fuzz.ratio,
                processor=None,  # keys are normalised once at load time, the query above
                limit=max(limit * 3, 10),
                score_cutoff=_FUZZY_CUTOFF,
            ):
                for i in self._keys[key]:
                    offer(i, _FUZZY_WEIGHT * score / 100.0)
        return self._rank(scores, limit)

    def _prefix_hits(self, text: str, *, word_boundary: bool) -> list[tuple[str, tuple[int, ...]]]:
        start = text + " " if word_boundary else text
        lo = bisect.bisect_left(self._sorted_keys, start)
        hi = bisect.bisect_left(self._sorted_keys, start + "\U0010ffff")
        return [(k, self._keys[k]) for k in self._sorted_keys[lo:hi]]

    def _rank(self, scores: dict[int, float], limit: int) -> list[Candidate]:
        ranked = []
        for entity_id, score in scores.items():
            entity = self._entities[entity_id]
            confidence = round(min(1.0, max(0.0, score)) / entity.same_name, 4)
            ranked.append(replace(entity.candidate, confidence=confidence))
        ranked.sort(key=lambda c: (-c.confidence, _KIND_ORDER[c.kind], c.label))
        return ranked[:limit]

    # ---- extents -----------------------------------------------------------------------

    def extent(self, candidate: Candidate) -> BaseGeometry | None:
        """The ground a street or town centre covers (WGS84), or None for a postcode, a
        district or a candidate this gazetteer did not make (a network geocoder's).

        A town centre is its boundary; a street is the shortest lines joining its snap
        points (its minimum spanning tree) widened by ``STREET_REACH_M``, a polygon.
        """
        if candidate.kind == "place":
            return self._place_shapes.get(candidate.label)
        label = candidate.label
        if candidate.kind == "street" and label in self._street_members:
            if label not in self._street_extents:
                points = self._street_xy[self._street_members[label]]
                self._street_extents[label] = _street_extent(points)
            return self._street_extents[label]
        return None

    # ---- reverse -----------------------------------------------------------------------

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Return the nearest street and postcode (metres, via EPSG:27700) and the ward."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError(f"not a point: lon={lon!r}, lat={lat!r}")
        x, y = transformer_to_bng().transform(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"cannot project lon={lon!r}, lat={lat!r} to British National Grid")
        street = street_d = postcode = postcode_d = None
        if self._street_tree is not None:
            d, i = self._street_tree.query((x, y))
            street, street_d = self._street_point_names[int(i)], round(float(d), 1)
        if self._postcode_labels:
            d, i = self._postcode_tree.query((x, y))
            postcode, postcode_d = self._postcode_labels[int(i)], round(float(d), 1)
        ward = self.wards.ward_for_point(lon, lat)
        return ReverseResult(
            street=street,
            street_distance_m=street_d,
            postcode=postcode,
            postcode_distance_m=postcode_d,
            ward_code=ward.code if ward else None,
            ward_name=ward.name if ward else None,
        )

    def reverse_many(self, lons: np.ndarray, lats: np.ndarray) -> list[ReverseResult]:
        """``reverse`` for arrays of points: one projection, one tree query per kind, vectorised
        ward lookup. For bulk work (imports, re-placing stored reports, benchmarks)."""
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        if not (np.isfinite(lons).all() and np.isfinite(lats).all()):
            raise ValueError("not points: every longitude and latitude must be finite")
        xy = np.column_stack(transformer_to_bng().transform(lons, lats))
        n = len(lons)
        streets: list[str | None] = [None] * n
        street_d: list[float | None] = [None] * n
        postcodes: list[str | None] = [None] * n
        postcode_d: list[float | None] = [None] * n
        if self._street_tree is not None and n:
            distances, nearest = self._street_tree.query(xy)
            streets = [self._street_point_names[int(i)] for i in nearest]
            street_d = [round(float(d), 1) for d in distances]
        if self._postcode_labels and n:
            distances, nearest = self._postcode_tree.query(xy)
            postcodes = [self._postcode_labels[int(i)] for i in nearest]
            postcode_d = [round(float(d), 1) for d in distances]
        ward_idx = self.wards.ward_indices(lons, lats)
        return [
            ReverseResult(
                street=streets[k],
                street_distance_m=street_d[k],
                postcode=postcodes[k],
                postcode_distance_m=postcode_d[k],
                ward_code=self.wards.wards[w].code if w >= 0 else None,
                ward_name=self.wards.wards[w].name if w >= 0 else None,
            )
            for k, w in enumerate(ward_idx)
        ]


def _street_extent(xy: np.ndarray) -> BaseGeometry:
    """The snap points' spanning tree widened by ``STREET_REACH_M``, back in WGS84."""
    points = np.unique(np.round(xy, 1), axis=0)
    if len(points) == 1:
        core: BaseGeometry = shapely.Point(points[0])
    else:
        tree = minimum_spanning_tree(squareform(pdist(points))).tocoo()
        core = MultiLineString(
            [(points[a], points[b]) for a, b in zip(tree.row, tree.col, strict=True)]
        )
    to_lonlat = transformer_to_lonlat()
    widened = core.buffer(STREET_REACH_M, quad_segs=8)
    return shapely.set_precision(
        shapely.transform(widened, lambda c: np.column_stack(to_lonlat.transform(*c.T))), 1e-6
    )


def _single_linkage(xy: np.ndarray, gap: float) -> list[list[int]]:
    """Group points whose chain of neighbours is never further apart than ``gap`` metres."""
    n = len(xy)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in cKDTree(xy).query_pairs(gap):
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    return sorted(groups.values())


def _qualify_duplicates(cands: list[Candidate]) -> list[Candidate]:
    """Tell same-named streets apart in their labels by ward (or by latitude as a last resort)."""
    wards = [c.ward_name for c in cands]
    if None not in wards and len(set(wards)) == len(wards):
        return [replace(c, label=f"{c.label} ({c.ward_name})") for c in cands]
    return [replace(c, label=f"{c.label} ({c.lat:.4f}, {c.lon:.4f})") for c in cands]


def _metres_between_lonlat(lon: float, lat: float, geometry: Any) -> float:
    """Distance in metres from a WGS84 point to a WGS84 geometry, measured in EPSG:27700."""
    to_bng = transformer_to_bng()
    x, y = to_bng.transform(lon, lat)
    projected = shapely.transform(geometry, lambda c: np.column_stack(to_bng.transform(*c.T)))
    return float(projected.distance(shapely.Point(x, y)))


@functools.cache
def default_gazetteer() -> Gazetteer:
    """The shipped-data gazetteer, loaded on first use and shared by the process."""
    return Gazetteer.from_files()
