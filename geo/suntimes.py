"""London time: sunrise and sunset at Lewisham, "after dark", and day-of-week and hour-of-day
profiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray

LONDON = ZoneInfo("Europe/London")
"""Time zone for day-of-week and hour-of-day profiles."""

LEWISHAM_LAT = 51.4452
"""Latitude used for sunrise and sunset (Catford Broadway)."""

LEWISHAM_LON = -0.0207
"""Longitude used for sunrise and sunset (Catford Broadway), east positive."""

# Official sunrise/sunset: the sun's centre 50' below the horizon (16' semi-diameter
# plus 34' of standard refraction).
OFFICIAL_ZENITH_DEG = 90.833
CIVIL_ZENITH_DEG = 96.0
HOURS_IN_LEAP_YEAR = 366 * 24


# ------------------------------------------------------------------------------- time


def london_time(value: datetime | None, pattern: str = "%d %b %Y, %H:%M") -> str:
    """A moment as people in Lewisham read it, '24 Nov 2026, 10:42' (or in ``pattern``, e.g.
    "%d %b %Y" for the day alone); '—' for none. Stored moments are UTC: shown without this,
    every summer time is an hour early."""
    if not value:
        return "—"
    try:
        return value.astimezone(LONDON).strftime(pattern)
    except OverflowError:
        # Stored before intake bounded times (year 1): shown as stored, never a 500.
        return value.isoformat(timespec="minutes")


def _as_utc_datetime64(timestamps: ArrayLike | Sequence[datetime]) -> NDArray[np.datetime64]:
    """Timestamps as ``datetime64[s]`` in UTC.

    numpy datetimes and naive ``datetime`` objects are taken to be UTC already (the
    database stores UTC); aware ``datetime`` objects are converted.
    """
    if isinstance(timestamps, datetime):
        timestamps = [timestamps]
    arr = np.asarray(timestamps)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]").ravel()
    if arr.size == 0:
        return np.array([], dtype="datetime64[s]")
    if arr.dtype.kind in "US":
        return arr.astype("datetime64[s]").ravel()
    out = np.empty(arr.size, dtype="datetime64[s]")
    for k, ts in enumerate(arr.ravel().tolist()):
        if not isinstance(ts, datetime):
            out[k] = np.datetime64(ts, "s")
            continue
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        out[k] = np.datetime64(ts, "s")
    return out


def _offsets_s(hours: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Europe/London's offset from UTC, in seconds, at each UTC hour given."""
    epoch = hours.astype("datetime64[s]").astype(np.int64).tolist()
    return np.array(
        [
            int(datetime.fromtimestamp(sec, tz=LONDON).utcoffset().total_seconds())  # type: ignore[union-attr]
            for sec in epoch
        ],
        dtype=np.int64,
    )


@cache
def _year_offsets_s(year: int) -> NDArray[np.int64]:
    """`_offsets_s` of every hour of a UTC year, in order."""
    start = np.datetime64(f"{year}-01-01T00", "h")
    return _offsets_s(np.arange(start, np.datetime64(f"{year + 1}-01-01T00", "h")))


def _london_local(utc: NDArray[np.datetime64]) -> NDArray[np.datetime64]:
    """UTC ``datetime64[s]`` to Europe/London wall-clock ``datetime64[s]``."""
    if utc.size == 0:
        return utc
    # UK offsets change only on whole UTC hours, so offsets are looked up by hour.
    hours = utc.astype("datetime64[h]")
    first, last = (
        int(h.astype("datetime64[Y]").astype(np.int64)) + 1970 for h in (hours.min(), hours.max())
    )
    if (last - first + 1) * HOURS_IN_LEAP_YEAR <= utc.size:
        # Many timestamps over a few years (the board's runs): every hour of those years,
        # worked out once a year, indexed directly, costs less than finding the distinct hours.
        table = np.concatenate([_year_offsets_s(year) for year in range(first, last + 1)])
        offsets = table[(hours - np.datetime64(f"{first}-01-01T00", "h")).astype(np.int64)]
    else:
        distinct, inverse = np.unique(hours, return_inverse=True)
        offsets = _offsets_s(distinct)[inverse.ravel()]
    return utc + offsets.astype("timedelta64[s]")


def time_profile(timestamps: ArrayLike | Sequence[datetime]) -> NDArray[np.int64]:
    """Counts by day of week and hour of day in London local time.

    Parameters
    ----------
    timestamps : array_like of datetime64 or sequence of datetime
        Event times. numpy datetimes and naive datetimes are UTC; aware datetimes are
        converted. Local time follows Europe/London (GMT/BST) from `zoneinfo`.

    Returns
    -------
    ndarray of int64, shape (7, 24)
        ``profile[d, h]``: events on weekday ``d`` (0 = Monday ... 6 = Sunday) in the
        local hour starting at ``h``. Around the October change the repeated hour
        01:00-02:00 collects both passes; in March 01:00-02:00 stays empty.
    """
    local = _london_local(_as_utc_datetime64(timestamps))
    sec = local.astype(np.int64)
    days = np.floor_divide(sec, 86400)
    # 1970-01-01 was a Thursday (3 with Monday = 0).
    dow = (days + 3) % 7
    hour = np.floor_divide(sec - days * 86400, 3600)
    return np.bincount(dow * 24 + hour, minlength=168).astype(np.int64).reshape(7, 24)


def _solar_terms(jd: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solar declination (radians) and equation of time (minutes) at Julian dates.

    The NOAA Solar Calculator formulae (after Meeus, *Astronomical Algorithms*).
    """
    jc = (jd - 2451545.0) / 36525.0
    l0 = np.mod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0)
    m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc)
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    mr = np.radians(m)
    c = (
        np.sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + np.sin(2 * mr) * (0.019993 - 0.000101 * jc)
        + np.sin(3 * mr) * 0.000289
    )
    true_long = l0 + c
    omega = np.radians(125.04 - 1934.136 * jc)
    app_long = true_long - 0.00569 - 0.00478 * np.sin(omega)
    mean_obliq = (
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    )
    obliq = np.radians(mean_obliq + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(obliq) * np.sin(np.radians(app_long)))
    var_y = np.tan(obliq / 2.0) ** 2
    l0r = np.radians(l0)
    eq_time = 4.0 * np.degrees(
        var_y * np.sin(2 * l0r)
        - 2 * e * np.sin(mr)
        + 4 * e * var_y * np.sin(mr) * np.cos(2 * l0r)
        - 0.5 * var_y**2 * np.sin(4 * l0r)
        - 1.25 * e**2 * np.sin(2 * mr)
    )
    return decl, eq_time


def sun_times(
    dates: ArrayLike,
    *,
    lat: float = LEWISHAM_LAT,
    lon: float = LEWISHAM_LON,
    zenith_deg: float = OFFICIAL_ZENITH_DEG,
) -> tuple[NDArray[np.datetime64], NDArray[np.datetime64]]:
    """Sunrise and sunset (UTC) for each date, by the NOAA solar-position formulae.

    Parameters
    ----------
    dates : array_like of datetime64 or date
        Calendar dates (UTC days).
    lat, lon : float
        Latitude and longitude in degrees (east positive); default Catford, Lewisham.
    zenith_deg : float, default 90.833
        Solar zenith angle defining the event: 90.833 for official sunrise/sunset, 96
        for civil twilight.

    Returns
    -------
    sunrise, sunset : ndarray of datetime64[s]
        UTC instants. Where the sun never reaches the zenith angle (polar day or
        night; not at London's latitude) both are NaT.

    Notes
    -----
    Declination and the equation of time are evaluated at the event itself (two
    passes, as the NOAA calculator does), which keeps the error within about a minute
    at mid latitudes; the published times are rounded to the minute anyway.

    References
    ----------
    .. [1] NOAA Global Monitoring Laboratory, "Solar Calculation Details" (the NOAA
       Solar Calculator spreadsheet).
    .. [2] Meeus, J. (1991). *Astronomical Algorithms*. Willmann-Bell.
    """
    d = np.asarray(dates, dtype="datetime64[D]").ravel()
    jd_midnight = d.astype(np.int64).astype(np.float64) + 2440587.5
    lat_r = math.radians(lat)
    cos_zenith = math.cos(math.radians(zenith_deg))
    noon_guess = 720.0 - 4.0 * lon
    result = []
    for direction in (-1.0, 1.0):
        minutes = np.full(d.shape, noon_guess)
        valid = np.ones(d.shape, dtype=bool)
        for _ in range(2):
            decl, eq_time = _solar_terms(jd_midnight + minutes / 1440.0)
            cos_ha = cos_zenith / (math.cos(lat_r) * np.cos(decl)) - math.tan(lat_r) * np.tan(decl)
            valid = np.abs(cos_ha) <= 1.0
            ha_deg = np.degrees(np.arccos(np.clip(cos_ha, -1.0, 1.0)))
            minutes = 720.0 - 4.0 * lon - eq_time + direction * 4.0 * ha_deg
        secs = np.rint(minutes * 60.0).astype(np.int64)
        event = d.astype("datetime64[s]") + secs.astype("timedelta64[s]")
        event[~valid] = np.datetime64("NaT")
        result.append(event)
    return result[0], result[1]


def after_dark(
    timestamps_utc: ArrayLike | Sequence[datetime],
    *,
    lat: float = LEWISHAM_LAT,
    lon: float = LEWISHAM_LON,
    zenith_deg: float = OFFICIAL_ZENITH_DEG,
) -> NDArray[np.bool_]:
    """Whether each instant is between sunset and sunrise at Lewisham.

    Parameters
    ----------
    timestamps_utc : array_like of datetime64 or sequence of datetime
        Instants; numpy and naive values are UTC, aware ones are converted.
    lat, lon : float
        Where the sun is observed; default Catford, Lewisham.
    zenith_deg : float, default 90.833
        90.833 for official sunset/sunrise; 96 to count civil twilight as light.

    Returns
    -------
    ndarray of bool
        True before that UTC day's sunrise or at/after its sunset. At London's
        longitude solar noon is within 20 minutes of 12:00 UTC, so the UTC day always
        contains the whole daylight period around the instant.
    """
    utc = _as_utc_datetime64(timestamps_utc)
    if utc.size == 0:
        return np.zeros(0, dtype=bool)
    days = utc.astype("datetime64[D]")
    uniq, inverse = np.unique(days, return_inverse=True)
    rise, set_ = sun_times(uniq, lat=lat, lon=lon, zenith_deg=zenith_deg)
    rise_i = rise[inverse.ravel()]
    set_i = set_[inverse.ravel()]
    return np.asarray((utc < rise_i) | (utc >= set_i), dtype=bool)


def is_after_dark(instant: datetime) -> bool:
    """Whether one instant (naive means UTC) is between sunset and sunrise at Lewisham.

    The same answer as ``after_dark`` for one instant; the day's sun times are cached, as a
    report is checked on every submission and most submissions share a day.
    """
    utc = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    rise, set_ = _daylight(utc.date().isoformat())
    return utc < rise or utc >= set_


@lru_cache(maxsize=64)
def _daylight(day: str) -> tuple[datetime, datetime]:
    rise, set_ = sun_times(np.array([day], dtype="datetime64[D]"))
    return _aware(rise[0]), _aware(set_[0])


def _aware(instant: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(instant.astype("datetime64[us]"))).replace(tzinfo=UTC)
