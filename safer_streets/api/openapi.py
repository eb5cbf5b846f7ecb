"""The OpenAPI 3.1 document of the JSON API, generated from the pydantic models.

Field definitions come only from the models (``ReportSubmission`` validates requests; the
models in ``api.schemas`` build responses); this module adds the paths around them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from safer_streets.api import schemas
from safer_streets.api.keys import KEY_SCHEME
from safer_streets.bounds import MAX_JSON_BYTES, MAX_JSON_DEPTH
from safer_streets.intake.submission import ReportSubmission
from safer_streets.intake.support import MAX_KEY_CHARS, SupportDetails

REF = "#/components/schemas/{model}"
MODELS: tuple[tuple[type[BaseModel], str], ...] = (
    (ReportSubmission, "validation"),
    (SupportDetails, "validation"),
    (schemas.ReportCreated, "serialization"),
    (schemas.ReportView, "serialization"),
    (schemas.CategoryView, "serialization"),
    (schemas.Problem, "serialization"),
    (schemas.Health, "serialization"),
)
PROBLEM = "application/problem+json"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref(schemas.Problem)}}}


def _json(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


_TOO_MANY = _problem("Too many requests from this API key or address; see `Retry-After`.")
_RATE_HEADERS = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}},
}


def build_document(server_url: str) -> dict[str, Any]:
    """The whole OpenAPI document for a server at ``server_url``."""
    _, top = models_json_schema(MODELS, ref_template=REF)
    components = top.get("$defs", {})
    report_created = {
        "Location": {"description": "The report's URL.", "schema": {"type": "string"}},
        "Idempotent-Replayed": {
            "description": "`true` when an earlier report was returned for the same key.",
            "schema": {"type": "string", "enum": ["true"]},
        },
    }
    support_counted = {
        "type": "object",
        "required": ["reference", "supporter_count", "counted"],
        "properties": {
            "reference": {"type": "string"},
            "supporter_count": {"type": "integer", "minimum": 0},
            "counted": {"type": "boolean"},
        },
    }
    paths: dict[str, Any] = {
        "/api/v1/reports": {
            "post": {
                "operationId": "createReport",
                "summary": "Report a problem",
                "description": (
                    "Stores the report as `received` and routes it in the background. Give the "
                    "place as `lat` and `lon` or as an `address` (a Lewisham postcode, street or "
                    "place). Nothing is stored when any field is refused."
                ),
                "security": [{}, {"apiKey": []}],
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Keys belong to their client (the `X-Api-Key` sent, or none): "
                            "retrying with the same key and body returns the same report; the "
                            "same key with a different body is a 409; another client's key "
                            "is just a new report."
                        ),
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(ReportSubmission)}},
                },
                "responses": {
                    "201": _json(
                        "The report was taken (or replayed).",
                        _ref(schemas.ReportCreated),
                        headers=report_created,
                    ),
                    "400": _problem(
                        f"The body is not valid JSON, is larger than {MAX_JSON_BYTES // 1024} KB "
                        f"or nests arrays and objects more than {MAX_JSON_DEPTH} levels deep."
                    ),
                    "403": _problem("The `X-Api-Key` given is not valid or was revoked."),
                    "409": _problem("The Idempotency-Key was used for a different report."),
                    "413": _problem("The body is larger than 12 MB."),
                    "415": _problem("The body is not `application/json`."),
                    "422": _problem("Some fields are wrong; `errors` names each one."),
                    "429": {**_TOO_MANY, "headers": _RATE_HEADERS},
                },
            }
        },
        "/api/v1/reports/{reference}": {
            "get": {
                "operationId": "getReport",
                "summary": "A report's public state",
                "security": [{}, {"apiKey": []}],
                "parameters": [
                    {
                        "name": "reference",
                        "in": "path",
                        "required": True,
                        "description": "The public reference, e.g. `LEW-7K3Q9`.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json("The report.", _ref(schemas.ReportView)),
                    "403": _problem("The `X-Api-Key` given is not valid or was revoked."),
                    "404": _problem("No report has this reference."),
                    "429": {**_TOO_MANY, "headers": _RATE_HEADERS},
                },
            }
        },
        "/api/v1/reports/{reference}/support": {
            "post": {
                "operationId": "addSupport",
                "summary": "Add a voice (+1) to an open report",
                "description": (
                    "One voice per address, and per verified API client or browser, whatever "
                    "`Idempotency-Key`s are sent. The optional body says why it feels unsafe to "
                    "the supporter (reasons of the report's category), when it happened to them "
                    "and where to email the report's public updates and resolution; it is kept "
                    "only when the voice counts. Reports the public may not see one by one are "
                    "404 as unknown ones are."
                ),
                "security": [{}, {"apiKey": []}],
                "parameters": [
                    {
                        "name": "reference",
                        "in": "path",
                        "required": True,
                        "description": "The public reference, e.g. `LEW-7K3Q9`.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Lets a retry before the browser's cookie was kept count "
                        "once; decides nothing else.",
                        "schema": {"type": "string", "maxLength": MAX_KEY_CHARS},
                    },
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref(SupportDetails)}},
                },
                "responses": {
                    "201": _json("The voice counted.", support_counted),
                    "200": _json(
                        "This supporter had already been counted: nothing changed.",
                        support_counted,
                        headers={
                            "Idempotent-Replayed": {
                                "description": "`true`: an earlier voice stands.",
                                "schema": {"type": "string", "enum": ["true"]},
                            }
                        },
                    ),
                    "400": _problem(
                        f"The body is not valid JSON, is larger than {MAX_JSON_BYTES // 1024} KB "
                        f"or nests arrays and objects more than {MAX_JSON_DEPTH} levels deep."
                    ),
                    "403": _problem("The `X-Api-Key` given is not valid or was revoked."),
                    "404": _problem("No report the public may see has this reference."),
                    "409": _problem(
                        "The report is closed, or its supporters are not public (add a report "
                        "of your own instead)."
                    ),
                    "413": _problem("The body is too large."),
                    "422": _problem("Some fields are wrong; `errors` names each one."),
                    "429": {**_TOO_MANY, "headers": _RATE_HEADERS},
                },
            }
        },
        "/api/v1/categories": {
            "get": {
                "operationId": "listCategories",
                "summary": "The categories a report can have, in display order",
                "security": [{}, {"apiKey": []}],
                "responses": {
                    "200": _json(
                        "Categories with their reasons.",
                        {"type": "array", "items": _ref(schemas.CategoryView)},
                    ),
                    "403": _problem("The `X-Api-Key` given is not valid or was revoked."),
                    "429": {**_TOO_MANY, "headers": _RATE_HEADERS},
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Health of every part, the routing backlog and the outbox",
                "responses": {
                    "200": _json(
                        "The database is up (other parts may be degraded).", _ref(schemas.Health)
                    ),
                    "503": _json("The database is down.", _ref(schemas.Health)),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json("OpenAPI 3.1.", {"type": "object"})},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Safer Streets JSON API",
            "version": "1",
            "description": (
                "Report community-safety problems in the London Borough of Lewisham and follow "
                "them. Errors are `application/problem+json` documents whose `errors` object "
                "names each bad field. Open311 GeoReport v2 is served at `/open311/v2/` "
                "(discovery: `/open311/v2/discovery.xml`)."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Api-Key",
                    "description": (
                        f"Optional; issued by an administrator (`{KEY_SCHEME}_…`). A key that "
                        "is given must be valid, on reads too (403 otherwise). Reports made "
                        "with a key are attributed to its client, and rate limits count per "
                        "key instead of per address."
                    ),
                }
            },
        },
    }


# --------------------------------------------------------------------------------------------
# The readable page (/api/v1/docs) is rendered from the same document.
# --------------------------------------------------------------------------------------------


def _count(noun: str) -> Any:
    return lambda n: f"{n} {noun}" + ("" if n == 1 else "s")


_CONSTRAINTS = (
    ("minLength", lambda n: f"at least {_count('character')(n)}"),
    ("maxLength", lambda n: f"at most {_count('character')(n)}"),
    ("minimum", "≥ {}".format),
    ("maximum", "≤ {}".format),
    ("maxItems", lambda n: f"at most {_count('item')(n)}"),
    ("pattern", "matches `{}`".format),
    ("format", "format {}".format),
)


def _type_label(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type_label(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_label(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_type_label(schema['additionalProperties'])}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> list[str]:
    found = []
    for option in [schema, *schema.get("anyOf", []), schema.get("items", {})]:
        for key, describe in _CONSTRAINTS:
            if key in option:
                found.append(describe(option[key]))
    return found


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_label(prop),
            "required": name in required,
            "default": prop.get("default"),
            "constraints": _constraints(prop),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _content_schema(content: dict[str, Any]) -> tuple[str, str] | None:
    for media_type, body in content.items():
        return media_type, _type_label(body.get("schema", {}))
    return None


def docs_context(document: dict[str, Any]) -> dict[str, Any]:
    """Operations and models of an OpenAPI document, flattened for the docs template."""
    operations = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            operations.append(
                {
                    "id": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "api_key": {"apiKey": []} in operation.get("security", []),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_label(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _content_schema(body),
                    "responses": [
                        {
                            "status": status,
                            "description": response["description"],
                            "content": _content_schema(response.get("content", {})),
                        }
                        for status, response in operation["responses"].items()
                    ],
                }
            )
    models = [
        {"name": name, "description": schema.get("description", ""), "fields": _fields(schema)}
        for name, schema in document["components"]["schemas"].items()
    ]
    return {
        "operations": operations,
        "models": models,
        "model_names": {model["name"] for model in models},
    }
