"""A small Open311 GeoReport v2 client, for posting reports to partners' case systems and
reading their updates back (``outbound``).

JSON only (every server the spec describes offers it). Every call has a timeout; a server that
cannot be reached, answers with an error status or with something that is not the document
expected raises ``Open311Error`` saying which, with the server's own error descriptions when
it gave the spec's errors document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

USER_AGENT = "SaferStreets-Lewisham (Open311 client)"


class Open311Error(Exception):
    """A call to a partner's Open311 server failed; ``str()`` says why, for admins."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """The server understood and refused the request (4xx other than 408 and 429): sending
        the same again will not help until someone changes the report or the settings."""
        if self.status is None or self.status in (408, 429):
            return False
        return 400 <= self.status < 500


@dataclass(frozen=True)
class PostedRequest:
    """What POST requests answered: the partner's id for the request, or a token for it."""

    service_request_id: str | None
    token: str | None


@dataclass(frozen=True)
class RequestUpdate:
    """One update from GET servicerequestupdates (mySociety's extension)."""

    update_id: str
    service_request_id: str
    status: str
    updated_datetime: datetime | None
    description: str
    media_url: str | None


@dataclass(frozen=True)
class Open311Client:
    """One partner's GeoReport v2 endpoint, e.g. ``https://cases.example.org/open311/v2``."""

    endpoint: str
    api_key: str
    jurisdiction_id: str | None = None
    timeout_seconds: float = 10.0
    session: requests.Session | None = None

    def _url(self, resource: str) -> str:
        return f"{self.endpoint.rstrip('/')}/{resource}.json"

    def _common(self) -> dict[str, str]:
        return {"jurisdiction_id": self.jurisdiction_id} if self.jurisdiction_id else {}

    def _call(
        self, method: str, resource: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        url = self._url(resource)
        http = self.session or requests
        try:
            response = http.request(
                method,
                url,
                timeout=self.timeout_seconds,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
                **kwargs,
            )
        except requests.Timeout:
            raise Open311Error(
                f"{method} {url}: no answer within {self.timeout_seconds:g} seconds"
            ) from None
        except requests.RequestException as error:
            # requests names the URL it tried, query string and all: never the key with it.
            reason = str(error).replace(self.api_key, "…") if self.api_key else str(error)
            raise Open311Error(f"{method} {url}: could not connect ({reason[:300]})") from None
        if not 200 <= response.status_code < 300:
            raise Open311Error(
                f"{method} {url}: HTTP {response.status_code}: {_error_text(response)}",
                status=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise Open311Error(
                f"{method} {url}: the answer is not JSON ({response.text[:120]!r})",
                status=response.status_code,
            ) from None

    def post_request(
        self, fields: Mapping[str, str | Sequence[str]], *, idempotency_key: str | None = None
    ) -> PostedRequest:
        """POST requests.json with the api_key: a new service request. With an
        ``idempotency_key``, a server that honours the ``Idempotency-Key`` header answers a
        repeated post with the request the first one made."""
        body = {**self._common(), **fields, "api_key": self.api_key}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        document = self._call("POST", "requests", data=body, headers=headers)
        item = _first_item(document, "POST requests")
        request_id = _text(item.get("service_request_id"))
        token = _text(item.get("token"))
        if request_id is None and token is None:
            raise Open311Error("POST requests: the answer has neither service_request_id nor token")
        return PostedRequest(request_id, token)

    def request_for_token(self, token: str) -> str | None:
        """GET tokens/{token}: the service_request_id the token became, once it has one."""
        document = self._call("GET", f"tokens/{token}", params=self._common())
        return _text(_first_item(document, "GET tokens").get("service_request_id"))

    def updates(self, start: datetime, end: datetime) -> list[RequestUpdate]:
        """GET servicerequestupdates.json: the updates made from ``start`` to ``end``."""
        params = {
            **self._common(),
            "api_key": self.api_key,
            "start_date": start.isoformat(timespec="seconds"),
            "end_date": end.isoformat(timespec="seconds"),
        }
        document = self._call("GET", "servicerequestupdates", params=params)
        if not isinstance(document, list):
            raise Open311Error("GET servicerequestupdates: the answer is not a list of updates")
        return [_update(item) for item in document]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _first_item(document: Any, what: str) -> dict[str, Any]:
    if not isinstance(document, list) or not document or not isinstance(document[0], dict):
        raise Open311Error(f"{what}: the answer is not a list of service requests")
    return document[0]


def _update(item: Any) -> RequestUpdate:
    if not isinstance(item, dict):
        raise Open311Error("GET servicerequestupdates: an update is not an object")
    update_id, request_id = _text(item.get("update_id")), _text(item.get("service_request_id"))
    if update_id is None or request_id is None:
        raise Open311Error(
            "GET servicerequestupdates: an update has no update_id or service_request_id"
        )
    when = _text(item.get("updated_datetime"))
    try:
        updated = datetime.fromisoformat(when) if when else None
    except ValueError:
        raise Open311Error(
            f"GET servicerequestupdates: update {update_id} has a bad updated_datetime {when!r}"
        ) from None
    if updated is not None and updated.tzinfo is None:
        raise Open311Error(
            f"GET servicerequestupdates: update {update_id}'s updated_datetime has no time zone"
        )
    return RequestUpdate(
        update_id=update_id,
        service_request_id=request_id,
        status=_text(item.get("status")) or "",
        updated_datetime=updated,
        description=_text(item.get("description")) or "",
        media_url=_text(item.get("media_url")),
    )


def _error_text(response: requests.Response) -> str:
    """The descriptions of the spec's errors document, else the start of the body."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason or "no explanation"
    if isinstance(document, list):
        descriptions = [str(item.get("description")) for item in document if isinstance(item, dict)]
        if descriptions:
            return "; ".join(descriptions)[:500]
    return str(document)[:200]
