"""Open311 test helpers: the GeoReport v2 schemas (tests/open311/schemas) for both formats.

JSON responses are validated directly against the JSON Schemas. XML responses are read by an
independent reader that knows the spec's element names (the document's root element and the
singular element of each list, e.g. ``services`` › ``service``) and typed by the same schema, so
one schema per document checks both formats: element names, nesting and value types.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from lxml import etree
from sqlalchemy.orm import Session

from safer_streets.api import keys

SCHEMAS = Path(__file__).parent / "schemas"

# Root element and list items of each document, from the GeoReport v2 spec's XML examples
# (http://wiki.open311.org/GeoReport_v2) and mySociety's servicerequestupdates extension.
ROOTS = {
    "discovery": "discovery",
    "services": "services",
    "service-definition": "service_definition",
    "requests": "service_requests",
    "post-response": "service_requests",
    "tokens": "service_requests",
    "errors": "errors",
    "servicerequestupdates": "service_request_updates",
    "servicerequestupdates-post": "service_request_updates",
}
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def load_schema(name: str) -> dict[str, Any]:
    """One of the GeoReport v2 JSON Schemas."""
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def validate_json(name: str, document: Any) -> None:
    """Fail with every schema violation of a JSON document."""
    validator = Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not problems, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in problems)


class XmlShapeError(AssertionError):
    """The XML does not have the spec's element names or nesting."""


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    schema = _resolve(schema, root)
    if "anyOf" in schema and "type" not in schema:
        return [t for option in schema["anyOf"] for t in _types(option, root)]
    if "enum" in schema or "const" in schema:
        return ["string"]
    kind = schema.get("type", "string")
    return kind if isinstance(kind, list) else [kind]


def _scalar(element: etree._Element, types: list[str]) -> Any:
    text = element.text or ""
    if len(element):
        raise XmlShapeError(f"<{element.tag}> should hold a value, not elements")
    if text == "" and "null" in types:
        return None
    if "boolean" in types:
        if text not in ("true", "false"):
            raise XmlShapeError(f"<{element.tag}> should be true or false, not {text!r}")
        return text == "true"
    if "integer" in types:
        return int(text)
    if "number" in types:
        return float(text)
    return text


def xml_to_json(element: etree._Element, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """Read an element as the JSON value the schema describes, checking names and nesting."""
    if element.attrib:
        raise XmlShapeError(f"<{element.tag}> should have no attributes")
    types = _types(schema, root)
    schema = _resolve(schema, root)
    if "array" in types:
        item_name = LIST_ITEMS[element.tag]
        if (element.text or "").strip():
            raise XmlShapeError(f"<{element.tag}> should hold only <{item_name}> elements")
        items = []
        for child in element:
            if child.tag != item_name:
                raise XmlShapeError(f"<{element.tag}> holds <{child.tag}>, not <{item_name}>")
            items.append(xml_to_json(child, schema["items"], root))
        return items
    if "object" in types:
        properties = schema.get("properties", {})
        value: dict[str, Any] = {}
        for child in element:
            if child.tag in value:
                raise XmlShapeError(f"<{element.tag}> repeats <{child.tag}>")
            if child.tag not in properties:
                raise XmlShapeError(f"<{element.tag}> has an unexpected <{child.tag}>")
            value[child.tag] = xml_to_json(child, properties[child.tag], root)
        return value
    return _scalar(element, types)


def validate_xml(name: str, body: bytes) -> Any:
    """Check an XML document's root, element names, nesting and values; return it as JSON."""
    schema = load_schema(name)
    document = etree.fromstring(body)
    assert document.tag == ROOTS[name], f"root is <{document.tag}>, not <{ROOTS[name]}>"
    value = xml_to_json(document, schema, schema)
    validate_json(name, value)
    return value


def read(client: FlaskClient, method: str, path: str, schema: str, **kwargs: Any) -> Any:
    """Call an Open311 endpoint and return its document, validated for its format."""
    response = client.open(path, method=method, **kwargs)
    # JSON when asked for; XML (the format the spec requires) otherwise, errors included.
    expected = "application/json" if path.split("?")[0].endswith(".json") else "text/xml"
    assert response.mimetype == expected, response.text
    if expected == "text/xml":
        return response, validate_xml(schema, response.data)
    body = response.get_json()
    validate_json(schema, body)
    return response, body


@pytest.fixture
def issue_key(db_session: Session) -> Callable[..., str]:
    """Issue an API key (optionally acting for a partner) and return it."""

    def issue(name: str = "Test app", partner: str | None = None) -> str:
        return keys.create_client(db_session, name=name, partner_slug=partner, actor=None).key

    return issue


# ---- A scripted Open311 server, for the client and the send method ----------------------


@dataclass
class Scripted:
    """What the server answers next, and what it was sent."""

    status: int = 200
    body: bytes = b"[]"
    delay: float = 0.0
    received: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)

    def answer(self, status: int, document: Any) -> None:
        self.status, self.body = status, json.dumps(document).encode()


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[tuple[str, Scripted]]:
    """One server for the module (stopping one takes half a second); each test scripts it."""
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            script.received.append((method, parts.path, {**parse_qs(parts.query), **form}))
            time.sleep(script.delay)
            try:
                self.send_response(script.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(script.body)))
                self.end_headers()
                self.wfile.write(script.body)
            except BrokenPipeError:
                pass  # the client gave up waiting (the timeout test)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/open311/v2", script
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def server(scripted_server: tuple[str, Scripted]) -> tuple[str, Scripted]:
    endpoint, script = scripted_server
    script.status, script.body, script.delay = 200, b"[]", 0.0
    script.received.clear()
    return endpoint, script
