"""One report as a partner, the board or an administrator opens it: what the disclosure policy
lets this viewer see of it, of its history and of the reports around it. Opening a sensitive
report's detail, or its photo, is written to the access log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from safer_streets.casework import access, queues
from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import Audience, Disclosure, disclose
from safer_streets.errors import NotFound
from safer_streets.models import ReportEvent, ReportPhoto, User

REPORT_PAGE = "report page"
REPORT_PHOTO = "report photo"

# History entries in words; kinds not named here are shown as their name.
EVENT_LABELS = {
    "photo_approved": "Photo shown to the public",
    "photo_withdrawn": "Photo withdrawn from public view",
    "resident_information": "The reporter added information",
    "placed_by_reporter": "Placed on the map by the reporter",
    "resident_reply": "The reporter answered a public update",
    "resident_still_a_problem": "The reporter says it is still a problem",
    "resident_says_fixed": "The reporter says it is fixed",
    "reopened_by_resident": "Reopened by the reporter",
    "questionnaire_sent": "Reporter asked whether it is fixed",
    "questionnaire_answered": "The reporter answered whether it is fixed",
}


def event_label(event: ReportEvent) -> str:
    """A history entry's kind as people say it."""
    return EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())


@dataclass(frozen=True)
class CaseFile:
    """A report's page for one viewer."""

    shown: Disclosure
    access: access.Access
    history: list[ReportEvent]
    neighbours: list[queues.Neighbour]
    # What anyone may see of it, so that staff know what they are moderating or approving.
    public: Disclosure
    photo: ReportPhoto | None

    @property
    def photo_public(self) -> bool:
        return self.public.shows_photo(self.photo)


def open_case(session: Session, user: User, reference: str, *, address: str | None) -> CaseFile:
    """The report's page as ``user`` may see it (``NotFound`` outside their queue); a view of
    a sensitive report's detail is logged."""
    report = access.report_for(session, user, reference)
    level = access.access(session, user, report)
    shown = disclose(report, access.audience_for(session, user, report))
    access_log.record_views(session, [shown], viewer=user, surface=REPORT_PAGE, address=address)
    photo = report.photo
    return CaseFile(
        shown=shown,
        access=level,
        history=queues.history(session, shown),
        neighbours=queues.nearby(session, user, report),
        public=disclose(report, Audience.PUBLIC),
        photo=photo if shown.shows_photo(photo) else None,
    )


def case_photo(session: Session, user: User, reference: str, *, address: str | None) -> ReportPhoto:
    """The report's photo for a viewer whose queue holds it (``NotFound`` otherwise); a view
    of a sensitive report's photo is logged."""
    shown = access.disclosure_for(session, user, reference)
    photo = shown.report.photo
    if photo is None or not shown.shows_photo(photo):
        raise NotFound("no photo for this report")
    access_log.record_views(session, [shown], viewer=user, surface=REPORT_PHOTO, address=address)
    return photo
