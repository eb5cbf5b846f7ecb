"""The resident's report form, photos, support (+1), places and tracking on real PostGIS."""

from __future__ import annotations

import gzip
import io
import json
import re
import uuid

import pytest
from geoalchemy2.shape import from_shape
from PIL import Image
from shapely.geometry import Point
from sqlalchemy import func, select

from geo.snapping import read_snap_points
from safer_streets.intake import photos
from safer_streets.models import (
    Category,
    Partner,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
    ReportSupport,
    Ward,
)
from tests.helpers import CSRF_TOKEN, login

CATFORD = {"lat": "51.4452", "lon": "-0.0207"}


def form(**fields):
    base = {"submission_id": str(uuid.uuid4()), "description": "Lights out", **CATFORD}
    base.update(fields)
    return base


def a_photo(**extra) -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 26.0, 42.0), 3: "W", 4: (0.0, 1.0, 14.0)}
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 30, 30)).save(out, "JPEG", exif=exif.tobytes(), **extra)
    return out.getvalue()


def reports_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Report))


def by_reference(session, reference) -> Report:
    return session.scalars(select(Report).where(Report.reference == reference)).one()


def reference_of(response) -> str:
    assert response.status_code == 303, response.text
    return re.search(r"/report/(LEW-[2-9A-Z]{5})/sent", response.headers["Location"]).group(1)


def add_routed(session, slug="fly-tipping", lon=-0.0207, lat=51.4452, reference="LEW-NEAR2"):
    category = session.scalars(select(Category).where(Category.slug == slug)).one()
    report = Report(
        reference=reference,
        category=category,
        description="Earlier report",
        contact_email="first@example.org",
        location=from_shape(Point(lon, lat), srid=4326),
        street="Catford Broadway",
        status=ReportStatus.ROUTED,
    )
    session.add(report)
    session.flush()
    return report


# --- the form ---------------------------------------------------------------------------------


def test_a_report_with_a_photo_stores_only_the_clean_re_encoded_photo(client, db_session):
    upload = a_photo(comment=b"secret note")
    response = client.post(
        "/report",
        data={**form(category="street-lighting"), "photo": (io.BytesIO(upload), "IMG_1.jpg")},
        content_type="multipart/form-data",
    )
    report = by_reference(db_session, reference_of(response))
    photo = db_session.scalars(select(ReportPhoto).where(ReportPhoto.report_id == report.id)).one()
    assert photo.data != upload
    assert b"Exif" not in photo.data and b"secret note" not in photo.data
    assert (photo.width, photo.height) == (640, 480)
    assert report.after_dark is not None
    assert report.source == "web"


def test_a_fake_image_is_refused_next_to_the_photo_field_and_the_rest_is_kept(client, db_session):
    before = reports_count(db_session)
    response = client.post(
        "/report",
        data={
            **form(category="feeling-unsafe", location_text="Rushey Green"),
            "reasons": ["badly-lit", "isolated"],
            "photo": (io.BytesIO(b"not really a photo"), "photo.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.text
    assert 'id="photo-error"' in page and "not an image we can read" in page
    assert 'aria-describedby="photo-hint photo-error" aria-invalid="true"' in page
    assert 'value="Rushey Green"' in page
    assert re.search(r'value="badly-lit" checked', page)
    assert re.search(r'value="isolated" checked', page)
    assert "please choose it again" in page
    assert reports_count(db_session) == before


def test_a_good_photo_is_kept_while_another_field_is_corrected(client, db_session, redis_client):
    fields = form(category="fly-tipping", description="")
    first = client.post(
        "/report",
        data={**fields, "photo": (io.BytesIO(a_photo()), "sofa.jpg")},
        content_type="multipart/form-data",
    )
    assert first.status_code == 422
    assert "Describe the problem" in first.text
    assert "Your photo is kept (640 × 480 pixels)" in first.text
    second = client.post(
        "/report", data={**fields, "description": "Sofa on the pavement", "nearby_checked": "yes"}
    )
    report = by_reference(db_session, reference_of(second))
    assert db_session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == report.id))
    # Once sent, the photo kept between the steps is not kept any longer.
    assert not redis_client.exists(f"safer-streets:pending-photo:{fields['submission_id']}")


def test_every_mistake_is_listed_and_tied_to_its_field(client):
    response = client.post(
        "/report",
        data={
            "submission_id": str(uuid.uuid4()),
            "when": "other",
            "occurred_date": "31/02/2026",
            "occurred_time": "9pm",
            "updates": "email",
            "contact_email": "not-an-email",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert 'role="alert"' in page
    for anchor in ("#location_text", "#category-street-lighting", "#occurred_date", "#description"):
        assert f'href="{anchor}"' in page
    assert "Enter a real date" in page
    assert (
        'id="occurred_date" name="occurred_date" type="date" class="short" value="31/02/2026"'
        in page
    )
    assert 'value="9pm"' in page
    assert "Enter an email address like name@example.com" in page
    assert 'value="not-an-email"' in page


def test_a_postcode_outside_lewisham_names_the_council(client):
    response = client.post(
        "/report", data=form(category="fly-tipping", lat="", lon="", location_text="SE15 1AA")
    )
    assert response.status_code == 422
    assert "SE15 1AA is outside Lewisham, in Southwark" in response.text


def test_a_report_at_midnight_is_after_dark(client, db_session):
    response = client.post(
        "/report",
        data=form(
            category="street-lighting",
            when="other",
            occurred_date="2026-06-21",
            occurred_time="00:30",
        ),
    )
    assert by_reference(db_session, reference_of(response)).after_dark is True
    response = client.post(
        "/report",
        data=form(
            category="street-lighting",
            when="other",
            occurred_date="2026-06-21",
            occurred_time="13:00",
        ),
    )
    assert by_reference(db_session, reference_of(response)).after_dark is False


def test_a_weapons_form_shows_the_999_notice_from_the_server(client):
    page = client.get("/report?category=weapons").text
    notice = re.search(r'<div class="notice urgent" id="sensitive-notice"[^>]*>', page).group(0)
    assert "hidden" not in notice
    plain = client.get("/report?category=fly-tipping").text
    assert "hidden" in re.search(r'<div class="notice urgent"[^>]*>', plain).group(0)


def test_an_upload_over_the_request_limit_explains_what_to_do(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post(
        "/report",
        data={**form(), "photo": (io.BytesIO(b"x" * 4096), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "what you typed is still in the form" in response.text


# --- similar reports and support (+1) ---------------------------------------------------------


FORM_ID = re.compile(r'name="submission_id" value="([^"]+)"')


def test_each_visitor_gets_a_blank_form_of_their_own_that_follows_category_changes(app, db_session):
    app.config["WTF_CSRF_ENABLED"] = True
    first, second = app.test_client(), app.test_client()
    pages = [first.get("/report").text, second.get("/report").text]
    tokens = [CSRF_TOKEN.search(page).group(1) for page in pages]
    ids = [FORM_ID.search(page).group(1) for page in pages]
    assert tokens[0] != tokens[1] and ids[0] != ids[1]
    # Each page names its own token and id throughout (the form and the support form).
    assert all(page.count(token) == 2 for page, token in zip(pages, tokens, strict=True))
    assert all(page.count(form_id) == 2 for page, form_id in zip(pages, ids, strict=True))

    # One visitor's token is no good to another.
    fields = form(category="street-lighting", nearby_checked="yes")
    refused = first.post("/report", data={**fields, "csrf_token": tokens[1]})
    assert refused.status_code == 400
    sent = second.post("/report", data={**fields, "csrf_token": tokens[1], "submission_id": ids[1]})
    assert reference_of(sent)

    # A category renamed by an administrator is on the next visitor's form at once.
    category = db_session.scalars(select(Category).where(Category.slug == "fly-tipping")).one()
    category.name = "Dumped rubbish"
    db_session.flush()
    assert "Dumped rubbish" in app.test_client().get("/report").text


def test_without_javascript_a_similar_report_is_offered_before_a_new_one(client, db_session):
    existing = add_routed(db_session)
    before = reports_count(db_session)
    fields = form(category="fly-tipping", description="Mattress dumped")
    response = client.post("/report", data={**fields, "reasons": []})
    assert response.status_code == 200
    assert "Is this the same? Add your voice instead" in response.text
    assert existing.reference in response.text
    assert "first@example.org" not in response.text and "Earlier report" not in response.text
    assert reports_count(db_session) == before

    # Not the same: the carried form sends the report.
    carried = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', response.text))
    assert carried["nearby_checked"] == "yes" and carried["description"] == "Mattress dumped"
    sent = client.post("/report", data=carried)
    assert reference_of(sent)
    assert reports_count(db_session) == before + 1


def test_adding_a_voice_counts_once_per_browser_and_records_an_event(app, client, db_session):
    existing = add_routed(db_session)
    fields = {
        "reference": existing.reference,
        "submission_id": str(uuid.uuid4()),
        "details": "shown",
    }
    first = client.post("/report/support", data=fields)
    again = client.post("/report/support", data=fields)  # a double tap
    # The same browser sending another form (a new one-time id) is still the same supporter.
    other_form = client.post("/report/support", data={**fields, "submission_id": str(uuid.uuid4())})
    # A neighbour is another browser at another address (one address is one voice).
    neighbour = app.test_client().post(
        "/report/support",
        data={**fields, "submission_id": str(uuid.uuid4())},
        environ_base={"REMOTE_ADDR": "10.60.0.2"},
    )
    assert {r.status_code for r in (first, again, other_form, neighbour)} == {303}
    assert first.headers["Location"].endswith(f"/report/{existing.reference}/supported")
    db_session.refresh(existing)
    assert existing.supporter_count == 2
    assert existing.version_id == 1  # a +1 never clashes with a partner's edit
    rows = db_session.scalars(
        select(ReportSupport).where(ReportSupport.report_id == existing.id)
    ).all()
    # Each voice is kept as its browser's and its address's hashes: nothing readable.
    assert len(rows) == 4 and all(fields["submission_id"] not in r.key_hash for r in rows)
    kinds = db_session.scalars(
        select(ReportEvent.kind).where(ReportEvent.report_id == existing.id)
    ).all()
    assert kinds.count("supported") == 2
    page = client.get(f"/report/{existing.reference}/supported").text
    assert "2 people have added their voice" in page


def test_a_closed_report_cannot_be_supported(client, db_session):
    existing = add_routed(db_session)
    existing.status = ReportStatus.RESOLVED
    db_session.flush()
    response = client.post(
        f"/api/v1/reports/{existing.reference}/support", headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"


def test_the_support_api_is_idempotent(client, db_session):
    existing = add_routed(db_session)
    url = f"/api/v1/reports/{existing.reference}/support"
    first = client.post(url, headers={"Idempotency-Key": "tap-1"})
    again = client.post(url, headers={"Idempotency-Key": "tap-1"})
    assert first.status_code == 201 and first.get_json()["counted"] is True
    assert again.status_code == 200 and again.get_json() == {
        "reference": existing.reference,
        "supporter_count": 1,
        "counted": False,
    }
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/api/v1/reports/LEW-ZZZZZ/support").status_code == 404


def test_similar_reports_json_shows_nothing_personal(client, db_session):
    existing = add_routed(db_session)
    response = client.get(
        "/api/v1/similar-reports", query_string={"category": "fly-tipping", **CATFORD}
    )
    assert response.status_code == 200
    [found] = response.get_json()["reports"]
    assert found["reference"] == existing.reference
    assert set(found) == {
        "reference",
        "category",
        "street",
        "distance_m",
        "created_at",
        "created_on",
        "supporter_count",
        "words",
    }
    assert found["words"] == {
        "reported": "Reported today",
        "distance": found["words"]["distance"],
        "supporters": "Nobody has added their voice yet",
    }
    assert "0 m" not in found["words"]["distance"]
    # Written by the server in en-GB, never left to the browser ("12/3/2026").
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", found["created_on"])
    assert response.headers["Cache-Control"] == "no-store"


def test_sensitive_reports_are_never_offered_as_similar(client, db_session):
    add_routed(db_session, slug="harassment")
    response = client.get(
        "/api/v1/similar-reports", query_string={"category": "harassment", **CATFORD}
    )
    assert response.get_json() == {"reports": []}


def test_similar_reports_need_a_point_in_lewisham(client):
    response = client.get(
        "/api/v1/similar-reports",
        query_string={"category": "fly-tipping", "lat": "51.5072", "lon": "-0.1276"},
    )
    assert response.status_code == 422
    assert "outside" in response.get_json()["errors"]["location"]


# --- places -----------------------------------------------------------------------------------


def test_place_suggestions_for_a_postcode_a_street_and_a_place(client):
    response = client.get("/api/v1/places", query_string={"q": "se6 4ju"})
    assert response.status_code == 200
    [postcode] = response.get_json()["results"]
    assert postcode == {
        "label": "SE6 4JU",
        "kind": "postcode",
        "lat": pytest.approx(51.4459, abs=0.001),
        "lon": pytest.approx(-0.0208, abs=0.001),
        "ward": {"code": "E05013730", "name": "Rushey Green"},
        "confidence": 1.0,
    }
    streets = client.get("/api/v1/places", query_string={"q": "Catford Broadw"}).get_json()
    assert streets["results"][0]["label"] == "Catford Broadway"
    places = client.get("/api/v1/places", query_string={"q": "catford", "limit": "2"}).get_json()
    assert len(places["results"]) == 2
    assert places["results"][0]["kind"] == "place"


def test_place_suggestions_are_cacheable_and_revalidate(client):
    response = client.get("/api/v1/places", query_string={"q": "Rushey Green"})
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    etag = response.headers["ETag"]
    again = client.get(
        "/api/v1/places", query_string={"q": "Rushey Green"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({}, "q", "type a postcode"),
        ({"q": "   "}, "q", "type a postcode"),
        ({"q": "x" * 101}, "q", "at most 100"),
        ({"q": "catford", "limit": "0"}, "limit", "from 1 to 10"),
        ({"q": "catford", "limit": "many"}, "limit", "from 1 to 10"),
    ],
)
def test_bad_place_queries_name_the_field(client, query, field, message):
    response = client.get("/api/v1/places", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["errors"][field]


def test_reverse_lookup_names_the_street_postcode_and_ward(client):
    response = client.get("/api/v1/places/reverse", query_string=CATFORD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["street"] == "Catford Broadway"
    assert body["ward"] == {"code": "E05013730", "name": "Rushey Green"}
    assert body["label"] == f"Catford Broadway, {body['postcode']}"
    assert response.headers["Cache-Control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"lat": "51.45"}, "lon"),
        ({"lat": "north", "lon": "-0.02"}, "lat"),
        ({"lat": "nan", "lon": "-0.02"}, "lat"),
        ({"lat": "51.5072", "lon": "-0.1276"}, "location"),
        ({"lat": "-0.0207", "lon": "51.4452"}, "location"),
        ({"lat": "91", "lon": "0"}, "lat"),
    ],
)
def test_bad_reverse_lookups_name_the_field(client, query, field):
    response = client.get("/api/v1/places/reverse", query_string=query)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


# --- photos: who may see them -----------------------------------------------------------------


def report_with_photo(client, db_session, category):
    response = client.post(
        "/report",
        data={**form(category=category), "photo": (io.BytesIO(a_photo()), "p.jpg")},
        content_type="multipart/form-data",
    )
    return by_reference(db_session, reference_of(response))


def test_an_approved_photo_of_an_ordinary_report_is_public_and_cacheable(
    client, db_session, make_user
):
    report = report_with_photo(client, db_session, "fly-tipping")
    officer = make_user(f"env-{uuid.uuid4().hex[:6]}@council.example", "lewisham-environment")
    photos.set_photo_approved(db_session, report, actor=officer, approved=True)
    response = client.get(f"/report/{report.reference}/photo")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data.startswith(b"\xff\xd8") and b"Exif" not in response.data
    assert "public" in response.headers["Cache-Control"]
    assert f"/report/{report.reference}/photo" in client.get(f"/track/{report.reference}").text


def test_the_photo_of_a_sensitive_report_is_only_for_its_partners(client, db_session, make_user):
    report = report_with_photo(client, db_session, "harassment")
    assert client.get(f"/report/{report.reference}/photo").status_code == 404
    assert "/photo" not in client.get(f"/track/{report.reference}").text

    snt = db_session.scalars(select(Partner).where(Partner.slug == "met-snt-rushey-green")).one()
    report.owner_partner_id = snt.id
    db_session.flush()
    make_user(f"officer-{uuid.uuid4().hex[:6]}@rg.example", "met-snt-rushey-green")
    outsider = f"officer-{uuid.uuid4().hex[:6]}@other.example"
    make_user(outsider, "tfl")
    login(client, outsider)
    assert client.get(f"/report/{report.reference}/photo").status_code == 404
    assert client.get(f"/triage/reports/{report.reference}/photo").status_code == 404


def test_a_partner_in_scope_sees_a_private_photo_uncached(client, db_session, make_user):
    report = report_with_photo(client, db_session, "weapons")
    snt = db_session.scalars(select(Partner).where(Partner.slug == "met-snt-rushey-green")).one()
    report.owner_partner_id = snt.id
    db_session.flush()
    email = f"officer-{uuid.uuid4().hex[:6]}@rg.example"
    make_user(email, "met-snt-rushey-green")
    login(client, email)
    assert client.get(f"/report/{report.reference}/photo").status_code == 404
    response = client.get(f"/triage/reports/{report.reference}/photo")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]


def test_a_photo_is_public_only_while_a_partner_approves_it(client, db_session, make_user):
    report = report_with_photo(client, db_session, "graffiti-vandalism")
    assert client.get(f"/report/{report.reference}/photo").status_code == 404
    email = f"env-{uuid.uuid4().hex[:6]}@council.example"
    officer = make_user(email, "lewisham-environment")
    photos.set_photo_approved(db_session, report, actor=officer, approved=True)
    assert client.get(f"/report/{report.reference}/photo").status_code == 200
    photos.set_photo_approved(db_session, report, actor=officer, approved=False)
    assert client.get(f"/report/{report.reference}/photo").status_code == 404
    kinds = db_session.scalars(
        select(ReportEvent.kind).where(ReportEvent.report_id == report.id)
    ).all()
    assert kinds.count("photo_approved") == 1
    assert "photo_withdrawn" in kinds


def test_a_place_outside_lewisham_offers_the_neighbouring_councils(client):
    point = client.post(
        "/report", data=form(category="street-lighting", lat="51.5072", lon="-0.1276")
    )
    assert point.status_code == 422
    assert "This point is outside Lewisham" in point.text
    for council, page in (
        ("Southwark", "https://www.fixmystreet.com/"),
        ("Greenwich", "https://fix.royalgreenwich.gov.uk/"),
        ("Bromley", "https://fix.bromley.gov.uk/"),
    ):
        assert f'<a href="{page}">{council} Council: report a problem</a>' in point.text

    postcode = client.post(
        "/report", data=form(category="street-lighting", lat="", lon="", location_text="SE10 9NF")
    )
    assert postcode.status_code == 422
    assert "in Greenwich" in postcode.text
    assert "fix.royalgreenwich.gov.uk" in postcode.text
    assert "fix.bromley.gov.uk" not in postcode.text


# --- tracking and confirmation ----------------------------------------------------------------


def test_tracking_never_shows_contact_details_or_a_sensitive_place(app, client):
    response = client.post(
        "/report",
        data=form(
            category="harassment",
            updates="email",
            contact_email="private@example.org",
            share_details="yes",
            description="Man following women from the station",
        ),
    )
    reference = reference_of(response)
    anyone = app.test_client()
    for path in (f"/track/{reference}", f"/report/{reference}/sent"):
        page = anyone.get(path).text
        assert "private@example.org" not in page
        assert "51.4452" not in page and "-0.0207" not in page
        assert "area-map" not in page


def test_tracking_a_safety_report_shows_a_police_uk_street_point_and_its_voices(client, db_session):
    existing = add_routed(db_session, slug="drug-dealing", lon=-0.02071, lat=51.44523)
    existing.ward = db_session.scalars(select(Ward).where(Ward.name == "Rushey Green")).one()
    existing.supporter_count = 2
    db_session.flush()
    page = client.get(f"/track/{existing.reference}").text
    assert "3 people reported this" in page
    assert "On or near" in page
    area = re.search(r'data-lat="([\d.]+)" data-lon="(-?[\d.]+)"', page)
    assert area and area.groups() != ("51.44523", "-0.02071")
    snapped = (float(area.group(2)), float(area.group(1)))
    assert snapped in {(p.lon, p.lat) for p in read_snap_points() if p.ward_code == "E05013730"}


def test_only_the_reporter_is_offered_the_exact_spot_again(app, db_session):
    reporter = app.test_client()
    reference = reference_of(reporter.post("/report", data=form(category="fly-tipping")))
    mine = reporter.get(f"/report/{reference}/sent").text
    assert "/report?lat=51.445200&amp;lon=-0.020700" in mine
    stranger = app.test_client().get(f"/report/{reference}/sent").text
    assert "lat=51.4452" not in stranger


# --- delivery: compression, caching, language --------------------------------------------------


def test_static_files_are_gzipped_and_cached_under_versioned_urls(client):
    page = client.get("/report").text
    script = re.search(r'src="(/static/vendor/leaflet/leaflet\.js\?v=[0-9a-f]{12})"', page)
    assert script
    response = client.get(script.group(1), headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) < 50_000
    assert gzip.decompress(response.data).startswith(b"/* @preserve")
    plain = client.get(script.group(1), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and len(plain.data) > 140_000
    plain.close()


def test_generated_data_is_gzipped_but_pages_are_not(client):
    gzipped = {"Accept-Encoding": "gzip"}
    data = client.get("/open311/v2/services.json", headers=gzipped)
    assert data.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in data.headers["Vary"]
    assert json.loads(gzip.decompress(data.data))[0]["service_code"]
    # A page holds a CSRF token beside text a link can choose: compressing it would let
    # response sizes leak the token (BREACH), so pages travel as they are.
    page = client.get("/report?q=anything", headers=gzipped)
    assert "Content-Encoding" not in page.headers
    assert b'name="csrf_token"' in page.data


def test_the_page_language_follows_the_browser_among_available_ones(client):
    page = client.get("/report", headers={"Accept-Language": "pl, en;q=0.5"}).text
    assert page.startswith("<!doctype html>")
    assert '<html lang="en" dir="ltr">' in page


def test_residents_pages_have_the_quick_exit_and_the_partner_sign_in_does_not(client):
    for path in ("/", "/report", "/track"):
        assert 'id="quick-exit"' in client.get(path).text, path
    assert 'id="quick-exit"' not in client.get("/login").text
