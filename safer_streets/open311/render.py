"""Open311 documents as the spec's XML and JSON.

A document is a root name and a payload (a list of items or one object). JSON is the payload
itself; XML wraps it in the root element, each list item in its singular element (``services``
› ``service``), with booleans as ``true``/``false`` and absent values as empty elements, as in
the spec's examples (http://wiki.open311.org/GeoReport_v2).
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

XML_MIMETYPE = "text/xml"
JSON_MIMETYPE = "application/json"
MIMETYPES = {"xml": XML_MIMETYPE, "json": JSON_MIMETYPE}

# The element each item of a list is wrapped in.
ITEM_ELEMENT = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


# Characters XML 1.0 cannot carry even escaped (control characters, lone surrogates): a
# description containing one would otherwise make the whole document unreadable.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # Nearly every value is printable; only the rest needs the (slower) scan.
    return text if text.isprintable() else _NOT_XML.sub("\ufffd", text)


def _append(parent: Element, name: str, value: Any) -> None:
    element = SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        item_name = ITEM_ELEMENT[name]
        for item in value:
            _append(element, item_name, item)
    else:
        element.text = _text(value)


def to_xml(root: str, payload: Any) -> bytes:
    """The document as UTF-8 XML with a declaration."""
    element = Element(root)
    _fill(element, root, payload)
    return tostring(element, encoding="utf-8", xml_declaration=True)


def to_json(payload: Any) -> bytes:
    """The document as UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False).encode()


def render(fmt: str, root: str, payload: Any) -> bytes:
    """The document in ``fmt`` (``xml`` or ``json``)."""
    return to_xml(root, payload) if fmt == "xml" else to_json(payload)


def errors_payload(status: int, detail: str, field_errors: dict[str, str] | None) -> list[dict]:
    """The spec's errors document: one error per bad parameter, else one for the whole request."""
    if field_errors:
        return [
            {"code": status, "description": f"{name}: {message}"}
            for name, message in field_errors.items()
        ]
    return [{"code": status, "description": detail}]
