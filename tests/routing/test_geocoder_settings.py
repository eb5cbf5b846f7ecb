"""Which geocoder the web, the worker and the CLI use: settings and one factory."""

from __future__ import annotations

import socket

import pytest

from geo.gazetteer import default_gazetteer
from geo.geocoders import NominatimGeocoder, OfflineGeocoder
from safer_streets.places import Places, make_geocoder
from safer_streets.settings import Settings, SettingsError
from safer_streets.web.app import create_app
from workers.tasks import WorkerContext

NOMINATIM_ENV = {
    "SAFER_STREETS_SECRET_KEY": "x",
    "SAFER_STREETS_GEOCODER": "nominatim",
    "SAFER_STREETS_NOMINATIM_USER_AGENT": "safer-streets-tests (tests@example.org)",
    "SAFER_STREETS_NOMINATIM_TIMEOUT_SECONDS": "2.5",
    # A closed port on this machine: every request fails at once, as when Nominatim is down.
    "SAFER_STREETS_NOMINATIM_DOMAIN": "127.0.0.1:9",
}


def test_the_offline_gazetteer_is_the_default():
    settings = Settings.from_env({"SAFER_STREETS_SECRET_KEY": "x"})
    assert settings.geocoder == "offline"
    assert isinstance(make_geocoder(settings, default_gazetteer()), OfflineGeocoder)
    assert isinstance(Places.for_settings(settings).geocoder, OfflineGeocoder)


def test_nominatim_is_configured_from_the_environment():
    settings = Settings.from_env(NOMINATIM_ENV)
    geocoder = make_geocoder(settings, default_gazetteer())
    assert isinstance(geocoder, NominatimGeocoder)
    assert geocoder.timeout_s == 2.5
    assert geocoder.geocoder.domain == "127.0.0.1:9"
    assert (
        geocoder.geocoder.headers["User-Agent"]
        == NOMINATIM_ENV["SAFER_STREETS_NOMINATIM_USER_AGENT"]
    )


def test_the_web_and_the_worker_use_the_configured_geocoder():
    settings = Settings.from_env(NOMINATIM_ENV)
    app = create_app(settings)
    assert isinstance(app.extensions["safer_streets"].places.geocoder, NominatimGeocoder)
    assert isinstance(WorkerContext(settings).places.geocoder, NominatimGeocoder)
    app.extensions["safer_streets"].dispose()


def test_when_nominatim_cannot_be_reached_the_offline_gazetteer_answers():
    geocoder = make_geocoder(Settings.from_env(NOMINATIM_ENV), default_gazetteer())
    geocoder.min_interval_s = 0.0  # no need to be polite to a closed port
    found = geocoder.search("rushey grn")
    assert found == default_gazetteer().search("rushey grn")
    assert geocoder.reverse(-0.0207, 51.4452) == default_gazetteer().reverse(-0.0207, 51.4452)


def test_the_tests_cannot_reach_the_internet():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="may not connect"):
        sock.connect(("93.184.216.34", 443))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SAFER_STREETS_GEOCODER": "google"}, "must be one of offline, nominatim"),
        ({"SAFER_STREETS_GEOCODER": "nominatim"}, "NOMINATIM_USER_AGENT is required"),
        (
            {**NOMINATIM_ENV, "SAFER_STREETS_NOMINATIM_TIMEOUT_SECONDS": "soon"},
            "NOMINATIM_TIMEOUT_SECONDS must be a number",
        ),
        (
            {**NOMINATIM_ENV, "SAFER_STREETS_NOMINATIM_TIMEOUT_SECONDS": "0"},
            "must be more than 0",
        ),
    ],
)
def test_a_wrong_geocoder_setting_fails_fast_and_says_which(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SAFER_STREETS_SECRET_KEY": "x", **env})
