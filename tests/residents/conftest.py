"""Reports of each kind of public disclosure, routed as the worker would route them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from safer_streets.models import Report, ReportStatus

# Streets near Catford Broadway (Rushey Green ward, Catford town centre): lat, lon.
CATFORD = (51.4452, -0.0207)
# Further north, in Lewisham Central ward, outside Catford town centre.
LEWISHAM_CENTRAL = (51.4607, -0.0118)


@pytest.fixture
def kinds(db_session: Session, routed_report: Callable[..., Report]) -> dict[str, Report]:
    """One report of each kind the public may or may not see, all near Catford Broadway."""
    lat, lon = CATFORD
    reports = {
        # Environmental: exact place, full description.
        "fly-tipping": routed_report(
            db_session, category="fly-tipping", description="Mattresses by the bins"
        ),
        # Safety: snapped to a police.uk street point, description only once moderated.
        "drug-dealing": routed_report(
            db_session,
            category="drug-dealing",
            lat=lat + 0.0004,
            lon=lon + 0.0003,
            description="Dealing from the blue car, registration AB12 CDE",
        ),
        # Harassment: never shown one by one.
        "harassment": routed_report(
            db_session, category="harassment", description="A man followed me home to my door"
        ),
        "held": routed_report(
            db_session, category="graffiti-vandalism", description="Held for review: spam"
        ),
    }
    reports["held"].status = ReportStatus.HELD
    db_session.flush()
    return reports


def exact_point(report: Report) -> tuple[float, float]:
    """A report's own (lat, lon), which the public must not see for safety reports."""
    point = to_shape(report.location)
    return point.y, point.x
