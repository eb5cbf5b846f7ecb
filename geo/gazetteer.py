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
"""

from __future__ import annotations

import bisect
import csv
import functools
import json
import logging
import math
import re
import threading
import time
import unicodedata
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import shapely
from pyproj import Transformer
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree
from shapely.geometry import shape

from geo import DATA_DIR
from geo.wards import WardIndex

log = logging.getLogger(__name__)

POSTCODES_FILE = "lewisham_postcodes_codepoint_2025.csv"
STREETS_FILE = "lewisham_street_points_from_police.csv"
TOWN_CENTRES_FILE = "lewisham_town_centres.geojson"
WARDS_FILE = "lewisham_wards_2022.geojson"

Kind = Literal["postcode", "street", "place"]

# --------------------------------------------------------------------------------------------
# Postcodes
# --------------------------------------------------------------------------------------------

# The Royal Mail / BS 7666 letter rules, so that "SE6 4CU" or "QE6 4JU" are rejected instead of
# being looked up: letters never used in each position are left out of the classes.
_A1 = "[A-PR-UWYZ]"  # first letter: not Q, V, X
_A2 = "[A-HK-Y]"  # second letter: not I, J, Z
_A3 = "[A-HJKPSTUW]"  # letter after the digit in A9A outward codes (W1A)
_A4 = "[ABEHMNPRVWXY]"  # letter after the digit in AA9A outward codes (EC1A, SW1A)
_OUTWARD = rf"(?:{_A1}[0-9]{{1,2}}|{_A1}{_A2}[0-9]{{1,2}}|{_A1}[0-9]{_A3}|{_A1}{_A2}[0-9]{_A4})"
_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}"  # never C, I, K, M, O, V
_FULL_RE = re.compile(rf"(?:(?P<out>{_OUTWARD})(?P<in>{_INWARD})|(?P<gir>GIR)(?P<gin>0AA))")
_OUTWARD_RE = re.compile(_OUTWARD)
_PARTIAL_RE = re.compile(rf"(?P<out>{_OUTWARD})(?P<in>[0-9][ABD-HJLNP-UW-Z]?)")
_EMBEDDED_RE = re.compile(rf"\b({_OUTWARD})\s*({_INWARD})\b")
_MAX_POSTCODE_INPUT = 24  # a postcode with generous padding; longer text is not a postcode


def _compact(text: str) -> str | None:
    """Upper-case ASCII with every kind of whitespace removed, or None for non-ASCII text."""
    if len(text) > _MAX_POSTCODE_INPUT:
        return None
    squeezed = "".join(ch for ch in text if not ch.isspace())
    # Non-ASCII letters must not sneak in through case mapping ("ſ".upper() == "S").
    if not squeezed.isascii():
        return None
    return squeezed.upper()


def normalise_postcode(text: str) -> str | None:
    """Return the canonical full UK postcode ("SE6 4JU") for any spacing or case, else None."""
    compact = _compact(text)
    if not compact:
        return None
    m = _FULL_RE.fullmatch(compact)
    if m is None:
        return None
    if m.group("gir"):
        return "GIR 0AA"
    return f"{m.group('out')} {m.group('in')}"


def outward_code(text: str) -> str | None:
    """Return the outward code ("SE6") of an outward code or a full postcode, else None."""
    full = normalise_postcode(text)
    if full is not None:
        return full.split(" ")[0]
    stripped = text.strip()
    # Unlike a full postcode, a lone outward code has no inward part to anchor a split, so
    # inner spaces are not squeezed out: "SE6 4" is a partial postcode, not "SE64".
    if any(ch.isspace() for ch in stripped):
        return None
    compact = _compact(stripped)
    if compact and _OUTWARD_RE.fullmatch(compact):
        return compact
    return None


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


def _normalise_name(text: str, *, expand: bool = True) -> str:
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

# Distances: all points are projected to British National Grid (EPSG:27700) with pyproj and
# measured there. The grid scale factor in Lewisham is about 0.9998, so grid distances are within
# 0.02% of ground distances, far inside the snap points' own accuracy.


@functools.cache
def _bng_transformer() -> Transformer:
    """WGS84 lon/lat → British National Grid; built once because building reads PROJ's db."""
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


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
        to_bng = _bng_transformer()

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
            names = [sitename]
            # "New Cross and New Cross Gate" is two names residents use separately.
            names += [part.strip() for part in sitename.split(" and ") if part.strip()]
            for name in names:
                base = _normalise_name(name)
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
            by_key[_normalise_name(name)].append(i)

        for key, members in sorted(by_key.items()):
            clusters = _single_linkage(xy[members], _SAME_STREET_GAP_M)
            labels = Counter(street_points[i][0] for i in members)
            # Police data spells some names both ways ("Trundleys Road", "Trundley'S Road"); the
            # apostrophe form is the street's real name, otherwise the most-used spelling wins.
            raw_label = max(labels, key=lambda s: ("'" in s, labels[s], s))
            label = _display_name(raw_label)
            built: list[Candidate] = []
            for cluster in clusters:
                idx = [members[j] for j in cluster]
                built.append(self._street_candidate(label, idx, lons, lats, xy, ward_fields))
            if len(built) > 1:
                built = _qualify_duplicates(built)
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
        embedded = _EMBEDDED_RE.search(query.upper())
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
        compact = _compact(query)
        if not compact or _PARTIAL_RE.fullmatch(compact) is None:
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
        expanded = _normalise_name(query)
        literal = _normalise_name(query, expand=False)
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

    # ---- reverse -----------------------------------------------------------------------

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Return the nearest street and postcode (metres, via EPSG:27700) and the ward."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError(f"not a point: lon={lon!r}, lat={lat!r}")
        x, y = _bng_transformer().transform(lon, lat)
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
        xy = np.column_stack(_bng_transformer().transform(lons, lats))
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
    to_bng = _bng_transformer()
    x, y = to_bng.transform(lon, lat)
    projected = shapely.transform(geometry, lambda c: np.column_stack(to_bng.transform(*c.T)))
    return float(projected.distance(shapely.Point(x, y)))


@functools.cache
def default_gazetteer() -> Gazetteer:
    """The shipped-data gazetteer, loaded on first use and shared by the process."""
    return Gazetteer.from_files()


# --------------------------------------------------------------------------------------------
# Outside the borough
# --------------------------------------------------------------------------------------------

# Which council to send a resident to when their postcode is well-formed but not a Lewisham one.
# Hand-maintained from the local-authority areas of London postal districts (Royal Mail districts
# do not follow borough boundaries); the shipped Code-Point extract holds Lewisham units only, so
# it cannot answer this itself. Districts wholly or almost wholly in Lewisham (SE4, SE6, SE13)
# are absent on purpose: an unknown postcode there is more likely mistyped or terminated than
# somewhere else. Upgrade path: Code-Point Open for the neighbouring boroughs.
NEIGHBOURING_COUNCILS: dict[str, str] = {
    # Royal Borough of Greenwich to the east
    "SE3": "Greenwich",
    "SE7": "Greenwich",
    "SE8": "Greenwich",
    "SE10": "Greenwich",
    "SE18": "Greenwich",
    "SE9": "Greenwich or Bromley",
    "SE12": "Greenwich or Bromley",
    # Southwark to the west (Lambeth beyond it shares some districts)
    "SE14": "Southwark",
    "SE15": "Southwark",
    "SE16": "Southwark",
    "SE17": "Southwark",
    "SE22": "Southwark",
    "SE23": "Southwark",
    "SE1": "Southwark or Lambeth",
    "SE5": "Southwark or Lambeth",
    "SE21": "Southwark or Lambeth",
    "SE24": "Southwark or Lambeth",
    # Bromley to the south
    "BR1": "Bromley",
    "BR2": "Bromley",
    "BR3": "Bromley",
    "SE20": "Bromley",
    "SE26": "Southwark or Bromley",
    "SE19": "Bromley, Croydon, Lambeth or Southwark",
}


class OutsideBorough:
    """Names the neighbouring council for a postcode (or district) that is not in Lewisham."""

    def __init__(
        self,
        lewisham_postcodes: AbstractSet[str],
        table: dict[str, str] | None = None,
    ) -> None:
        self._lewisham = lewisham_postcodes
        self._table = NEIGHBOURING_COUNCILS if table is None else table

    @classmethod
    def from_gazetteer(cls, gazetteer: Gazetteer) -> OutsideBorough:
        """Use the gazetteer's postcodes as the list of Lewisham postcodes."""
        return cls(gazetteer.postcodes)

    def where_to_report(self, postcode_or_outward: str) -> str | None:
        """Return the neighbouring council(s) to report to, or None (Lewisham, unknown, invalid)."""
        full = normalise_postcode(postcode_or_outward)
        if full is not None and full in self._lewisham:
            return None
        outward = outward_code(postcode_or_outward)
        if outward is None:
            return None
        return self._table.get(outward)


# --------------------------------------------------------------------------------------------
# Geocoder interface and adapters
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Geocoder(Protocol):
    """What the application needs from any geocoder, offline or networked."""

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Ranked candidates for free text."""
        ...

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Nearest street, postcode and ward for a point."""
        ...


class OfflineGeocoder:
    """The shipped-data gazetteer behind the ``Geocoder`` interface."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gazetteer = gazetteer if gazetteer is not None else default_gazetteer()

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Ranked candidates from the shipped data."""
        return self.gazetteer.search(query, limit)

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Nearest street, postcode and ward from the shipped data."""
        return self.gazetteer.reverse(lon, lat)


class _NetworkFailedError(Exception):
    """The network geocoder gave no usable answer after its retries."""


_MISSING = object()


class NominatimGeocoder:
    """Nominatim (via geopy) bounded to Lewisham, with retries, an LRU cache and offline fallback.

    Off by default: nothing constructs one unless configured. The geopy geocoder is a constructor
    argument so tests (and other Nominatim-compatible services) can be injected.
    """

    def __init__(
        self,
        user_agent: str,
        timeout_s: float = 5.0,
        retries: int = 2,
        cache_size: int = 512,
        gazetteer: Gazetteer | None = None,
        *,
        geocoder: Any | None = None,
        min_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # geopy is imported here so the offline gazetteer works without it installed.
        from geopy import exc

        if not user_agent.strip():
            raise ValueError("Nominatim's usage policy requires an identifying user agent")
        if retries < 0 or cache_size < 0 or timeout_s <= 0:
            raise ValueError("retries and cache_size must be >= 0 and timeout_s > 0")
        if geocoder is None:
            from geopy.geocoders import Nominatim

            geocoder = Nominatim(user_agent=user_agent, timeout=timeout_s)
        self.geocoder = geocoder
        self.gazetteer = gazetteer if gazetteer is not None else default_gazetteer()
        self.timeout_s = timeout_s
        self.retries = retries
        self.cache_size = cache_size
        self.min_interval_s = min_interval_s
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._transient: tuple[type[Exception], ...] = (
            exc.GeocoderTimedOut,
            exc.GeocoderUnavailable,
            exc.GeocoderServiceError,
        )
        # Subclasses of GeocoderServiceError that another attempt cannot fix (bad query, bad
        # credentials) or must not be hammered (rate limits: Nominatim allows one request/s).
        self._permanent: tuple[type[Exception], ...] = (
            exc.GeocoderQueryError,
            exc.GeocoderAuthenticationFailure,
            exc.GeocoderInsufficientPrivileges,
            exc.GeocoderQuotaExceeded,
        )
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(
            [w.geometry for w in self.gazetteer.wards.wards]
        )
        # geopy takes the viewbox as two (latitude, longitude) corners.
        self.viewbox = [(float(min_lat), float(min_lon)), (float(max_lat), float(max_lon))]

    # ---- plumbing ----------------------------------------------------------------------

    def _cache_get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            if key not in self._cache:
                return _MISSING
            self._cache.move_to_end(key)
            return self._cache[key]

    def _cache_put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.cache_size == 0:
            return
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _throttle(self) -> None:
        with self._lock:
            now = self._clock()
            wait = 0.0
            if self._last_request is not None:
                wait = self._last_request + self.min_interval_s - now
            self._last_request = now + max(wait, 0.0)
        if wait > 0:
            self._sleep(wait)

    def _request(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(self.retries + 1):
            self._throttle()
            try:
                return method(*args, timeout=self.timeout_s, **kwargs)
            except self._permanent as error:
                log.warning("Nominatim refused the request: %s", error)
                raise _NetworkFailedError from error
            except self._transient as error:
                log.info("Nominatim attempt %d failed: %s", attempt + 1, error)
                last_error = error
        raise _NetworkFailedError from last_error

    def _to_candidates(self, locations: Iterable[Any], limit: int) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[tuple[str, str]] = set()
        for location in locations:
            lon, lat = float(location.longitude), float(location.latitude)
            ward = self.gazetteer.wards.ward_for_point(lon, lat)
            if ward is None:
                continue  # the wards cover the borough exactly: no ward means outside Lewisham
            raw = getattr(location, "raw", None) or {}
            kind: Kind
            if raw.get("type") == "postcode" or raw.get("addresstype") == "postcode":
                kind = "postcode"
            elif raw.get("class") == "highway":
                kind = "street"
            else:
                kind = "place"
            address = str(getattr(location, "address", "") or "")
            label = str(raw.get("name") or address.split(",")[0]).strip() or address
            if (label, kind) in seen:
                continue  # Nominatim returns each way of a long street separately
            seen.add((label, kind))
            # Nominatim gives no match quality, only an order: decay by rank, never certain.
            confidence = max(0.3, 0.8 - 0.1 * len(out))
            out.append(Candidate(label, kind, lon, lat, ward.code, ward.name, confidence))
            if len(out) == limit:
                break
        return out

    # ---- Geocoder ----------------------------------------------------------------------

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Network candidates inside Lewisham, or the offline gazetteer's when there are none."""
        if limit <= 0 or not query.strip():
            return []
        # Code-Point Open is authoritative for full postcodes; no need to ask the network.
        known = self.gazetteer.lookup_postcode(query)
        if known is not None:
            return [known]
        key = ("search", " ".join(query.lower().split()), limit)
        network = self._cache_get(key)
        if network is _MISSING:
            try:
                locations = self._request(
                    self.geocoder.geocode,
                    query,
                    exactly_one=False,
                    limit=limit,
                    viewbox=self.viewbox,
                    bounded=True,
                    country_codes="gb",
                )
            except _NetworkFailedError:
                network = None
            else:
                network = self._to_candidates(locations or [], limit)
                self._cache_put(key, network)
        if network:
            return list(network)
        return self.gazetteer.search(query, limit)

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Offline nearest postcode and ward, with OpenStreetMap's street name when available."""
        offline = self.gazetteer.reverse(lon, lat)
        key = ("reverse", round(lon, 6), round(lat, 6))
        road = self._cache_get(key)
        if road is _MISSING:
            try:
                location = self._request(
                    self.geocoder.reverse,
                    (lat, lon),
                    exactly_one=True,
                    zoom=17,
                    addressdetails=True,
                )
            except _NetworkFailedError:
                return offline
            raw = getattr(location, "raw", None) or {}
            road = (raw.get("address") or {}).get("road")
            self._cache_put(key, road)
        if not road:
            return offline
        if offline.street and _normalise_name(road) == _normalise_name(offline.street):
            return offline
        # Nominatim's point is the way's centroid, not the nearest point on it: no distance.
        return replace(offline, street=str(road), street_distance_m=None)
