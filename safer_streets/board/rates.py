"""Reports per 1,000 residents per ward for the board's filters, raw and empirical Bayes
smoothed, with the caveats that must be shown beside them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import rates
from safer_streets.board.audience import Audience
from safer_streets.board.dashboard import ward_category_counts, ward_total
from safer_streets.board.filters import BoardFilters
from safer_streets.models import Ward

DENOMINATOR_CAVEAT = (
    "Rates are per 1,000 usual residents at the 2011 Census, on the 2022 ward boundaries."
)
TOWN_CENTRE_CAVEAT = (
    "Residents are a poor denominator in town centres, where most people are visitors: "
    "a high rate there may reflect footfall, not risk."
)
SMOOTHING_NOTE = (
    "Smoothed rates (empirical Bayes, Marshall 1991) pull small wards' rates towards the "
    "borough rate, so that a few reports do not make a ward stand out."
)


@dataclass(frozen=True)
class WardRate:
    """One ward's reports, residents and rates per 1,000 residents."""

    code: str
    name: str
    slug: str
    reports: int
    residents: int
    rate: float
    smoothed: float
    # A small count of sensitive reports is withheld from this viewer and left out.
    partial: bool = False


@dataclass(frozen=True)
class WardRates:
    """Rates for every ward with a population, and the borough's."""

    wards: list[WardRate]
    reports: int
    residents: int
    borough_rate: float
    not_in_a_ward: int


def ward_rates(
    session: Session,
    filters: BoardFilters,
    *,
    audience: Audience,
    min_count: int,
    population: dict[str, int] | None = None,
    counts: Mapping[tuple[int | None, int, bool], int] | None = None,
) -> WardRates:
    """Per-ward report counts, residents, raw and smoothed rates for the filters.

    Rates compare wards, so the ward and town-centre filters do not apply (every ward is
    counted); category, period, time of day and source do. Counts are the ones this
    audience may see (`dashboard.ward_total`), so a rate never reveals a withheld count.
    Reports not placed in a ward with a known population are counted in ``not_in_a_ward``
    and in no rate, so the borough rate is the wards' reports over the wards' residents.
    ``counts``: `dashboard.ward_category_counts` for the filters without ward and area, when
    the caller has them already.
    """
    residents_by_code = rates.read_ward_population() if population is None else population
    counts_by_key = (
        ward_category_counts(session, replace(filters, ward=None, area=None))
        if counts is None
        else counts
    )
    wards = [
        (ward_id, code, name, slug)
        for ward_id, code, name, slug in session.execute(
            select(Ward.id, Ward.code, Ward.name, Ward.slug).where(Ward.active).order_by(Ward.name)
        )
        if code in residents_by_code
    ]
    totals = [
        ward_total(counts_by_key, ward_id, audience=audience, min_count=min_count)
        for ward_id, *_ in wards
    ]
    counts = [t.value or 0 for t in totals]
    residents = [residents_by_code[code] for _, code, _, _ in wards]
    raw = rates.rate_per_1000(counts, residents).tolist()
    smoothed = rates.empirical_bayes_per_1000(counts, residents).tolist()
    rows = [
        WardRate(code, name, slug, n, people, r, sm, partial=t.partial or t.value is None)
        for (_, code, name, slug), n, people, r, sm, t in zip(
            wards, counts, residents, raw, smoothed, totals, strict=True
        )
    ]
    placed = {ward_id for ward_id, *_ in wards}
    total_reports, total_residents = sum(counts), sum(residents)
    return WardRates(
        wards=rows,
        reports=total_reports,
        residents=total_residents,
        borough_rate=rates.PER * total_reports / total_residents if total_residents else 0.0,
        not_in_a_ward=sum(
            ward_total(counts_by_key, ward_id, audience=audience, min_count=min_count).value or 0
            for ward_id in {key[0] for key in counts_by_key} - placed
        ),
    )
