"""The geocoder interface the application uses, the offline adapter over the gazetteer and the
optional Nominatim adapter (timeouts, retries, the offline gazetteer as its fallback)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import shapely

from geo.gazetteer import (
    Candidate,
    Gazetteer,
    Kind,
    ReverseResult,
    default_gazetteer,
    normalise_name,
)

log = logging.getLogger(__name__)

# Geocoder interface and adapters


@runtime_checkable
class Geocoder(Protocol):
    """What the application needs from any geocoder, offline or networked."""

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Ranked candidates for free text."""
        ...

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Nearest street, postcode and ward for a point."""
        ...

    def reverse_many(self, lons: np.ndarray, lats: np.ndarray) -> list[ReverseResult]:
        """``reverse`` for arrays of points, as a batch of reports is placed."""
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

    def reverse_many(self, lons: np.ndarray, lats: np.ndarray) -> list[ReverseResult]:
        """``reverse`` for arrays of points: one projection and one tree query for them all."""
        return self.gazetteer.reverse_many(lons, lats)


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
        return self._with_road(self.gazetteer.reverse(lon, lat), lon, lat)

    def reverse_many(self, lons: np.ndarray, lats: np.ndarray) -> list[ReverseResult]:
        """``reverse`` for arrays of points: the offline part at once, then one request each."""
        offline = self.gazetteer.reverse_many(lons, lats)
        return [
            self._with_road(found, float(lon), float(lat))
            for found, lon, lat in zip(offline, lons, lats, strict=True)
        ]

    def _with_road(self, offline: ReverseResult, lon: float, lat: float) -> ReverseResult:
        """The offline answer with OpenStreetMap's street name for the point, if it has one."""
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
        if offline.street and normalise_name(road) == normalise_name(offline.street):
            return offline
        # Nominatim's point is the way's centroid, not the nearest point on it: no distance.
        return replace(offline, street=str(road), street_distance_m=None)
