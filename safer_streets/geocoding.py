"""Which geocoder places typed locations: one factory for the web, the worker and the CLI."""

from __future__ import annotations

from geo.gazetteer import Gazetteer, Geocoder, NominatimGeocoder, OfflineGeocoder
from safer_streets.settings import Settings


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
