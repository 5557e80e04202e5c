"""/openapi.json, built from the route table and the msgspec types of schemas.py."""

from __future__ import annotations

from typing import Any

import msgspec

from .errors import ErrorBody
from .routes import OPERATIONS, Operation
from .settings import Settings

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{name}"

_ERRORS = {
    400: "Malformed request (broken JSON, bad form data)",
    401: "No valid credential",
    404: "No such object for this user",
    409: "Conflict with the object's current state",
    413: "Request body over the size limit",
    415: "Unsupported request media type",
    422: "Invalid field (the message names it)",
    502: "The answer could not be generated",
    503: "PostgreSQL (or, for /chat, Qdrant) unreachable; retry after Retry-After seconds",
}


def _error_statuses(operation: Operation) -> list[int]:
    statuses = [400, 413, 415, 422, *operation.errors]
    if operation.auth != "none":
        statuses.append(401)
    if operation.auth != "none" or operation.path_ids:
        statuses.append(404)
    if operation.database:
        statuses.append(503)
    return sorted(set(statuses) - set(operation.responses))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null."""
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def _query_parameters(kind: type, components: dict[str, Any]) -> list[dict[str, Any]]:
    component = components[kind.__name__]
    required = set(component.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _without_null(schema)}
        for name, schema in component["properties"].items()
    ]


def _page_size(settings: Settings) -> dict[str, Any]:
    schema = {
        "type": "integer",
        "minimum": 1,
        "maximum": settings.max_page_size,
        "default": settings.default_page_size,
    }
    return {"name": "limit", "in": "query", "required": False, "schema": schema}


def _operation(
    operation: Operation, refs: dict[type, Any], components: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in operation.path_ids
    ]
    if operation.paged:
        parameters.append(_page_size(settings))
    if operation.query is not None:
        parameters += _query_parameters(operation.query, components)
    described: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{operation.method.lower()}_{operation.endpoint.__name__}",
        "parameters": parameters,
        "responses": {},
    }
    if operation.auth == "required":
        described["security"] = [{"bearer": []}, {"cookie": []}]
    elif operation.auth == "optional":
        described["security"] = [{}, {"bearer": []}, {"cookie": []}]
    if operation.body is not None:
        content: dict[str, Any] = {"application/json": {"schema": refs[operation.body]}}
        if operation.form:
            content["multipart/form-data"] = {"schema": _UPLOAD_FORM}
        described["requestBody"] = {"required": True, "content": content}
    for status, kind in operation.responses.items():
        response: dict[str, Any] = {"description": "No content" if kind is None else "OK"}
        if kind is not None:
            schema = {"type": "object"} if kind is Any else refs[kind]
            response["content"] = {"application/json": {"schema": schema}}
            if operation.stream and status == 200:
                response["content"]["text/event-stream"] = {"schema": _EVENT}
        described["responses"][str(status)] = response
    for status in _error_statuses(operation):
        described["responses"][str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": refs[ErrorBody]}},
        }
    return described


# One server-sent event of a streamed answer: start, delta..., then done (the JSON response)
# or error; ``data`` is JSON.
_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["start", "delta", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}

_UPLOAD_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "metadata": {"type": "string", "description": "a JSON object"},
    },
    "additionalProperties": False,
}


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route (JSON Schema from the msgspec types)."""
    types: list[type] = [ErrorBody]
    for operation in OPERATIONS:
        types += [t for t in (operation.body, operation.query) if t is not None]
        types += [t for t in operation.responses.values() if isinstance(t, type)]
    types = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        described = _operation(operation, refs, components, settings)
        paths.setdefault(operation.path, {})[operation.method.lower()] = described
    for operation in OPERATIONS:  # query types became parameters
        if operation.query is not None:
            components.pop(operation.query.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chathistory",
            "version": "1.0.0",
            "description": "Chat history, sessions and documents for a RAG chatbot.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": settings.cookie_name},
            },
        },
    }
