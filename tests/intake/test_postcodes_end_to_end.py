"""Every shipped postcode, typed by a resident, is stored at a point in the ward the data says."""

from __future__ import annotations

import csv

import numpy as np
from sqlalchemy import func, select

from geo import DATA_DIR
from geo.wards import WardIndex
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import Report
from safer_streets.places import Places


def test_every_shipped_postcode_submitted_as_text_is_stored_in_its_ward(db_session):
    with (DATA_DIR / "lewisham_postcodes_codepoint_2025.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5000
    places = Places.default()
    references = {}
    for number, row in enumerate(rows):
        # Residents type postcodes every which way: spaced, squashed, lower case.
        typed = [row["postcode"], row["postcode_nospace"], row["postcode"].lower()][number % 3]
        submission = parse_submission(
            {"category": "fly-tipping", "location_text": typed, "description": "Rubbish"}
        )
        report, created = submit_report(db_session, submission, places=places)
        assert created
        references[report.id] = row
        if number % 500 == 0:
            db_session.expunge_all()  # 10,000 rows in one session slow every flush

    stored = db_session.execute(
        select(Report.id, Report.postcode, func.ST_X(Report.location), func.ST_Y(Report.location))
        .where(Report.id.in_(references))
        .order_by(Report.id)
    ).all()
    assert len(stored) == 5000
    ids, postcodes, lons, lats = zip(*stored, strict=True)
    wards = WardIndex.from_geojson()
    found = wards.ward_indices(np.array(lons), np.array(lats))
    codes = [wards.wards[i].code if i >= 0 else None for i in found]
    expected = [references[i]["ward_2022_code"] for i in ids]
    mismatches = [
        (references[i]["postcode"], got, want)
        for i, got, want in zip(ids, codes, expected, strict=True)
        if got != want
    ]
    assert mismatches == []
    assert list(postcodes) == [references[i]["postcode"] for i in ids]
