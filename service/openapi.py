"""/openapi.json, built from the route table and the msgspec types of schemas.py."""

from __future__ import annotations

from typing import Any

import msgspec

from .endpoints.feedback import JSON_LINES
from .errors import ErrorBody
from .openai_schemas import ChatCompletionRequest, OpenAIErrorBody
from .routes import OPERATIONS, Operation
from .schemas import NO_NUL, NOT_BLANK, SESSION_NAME_SCHEMA, ChatRequest, Input
from .settings import Settings

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{name}"
_JSON_VALUE = _REF.format(name="JsonValue")

_ERRORS = {
    400: "Malformed request (broken JSON, bad form data)",
    401: "No valid credential",
    403: "A write authenticated by the cookie alone, from an origin not allowed (ALLOWED_ORIGINS)",
    404: "No such object for this user",
    409: "Conflict with the object's current state",
    413: "Request body over the size limit",
    415: "Unsupported request media type",
    422: "Invalid field (the message names it)",
    429: "Too many requests; retry after Retry-After seconds",
    502: "The answer could not be generated",
    503: "PostgreSQL (or, for /chat, Qdrant) unreachable; retry after Retry-After seconds",
}


def _error_statuses(operation: Operation) -> list[int]:
    statuses = [400, 413, 415, 422, *operation.errors]
    if operation.auth != "none":
        statuses.append(401)
        if operation.method != "GET":  # identity.TokenIdentity's origin check
            statuses.append(403)
    if operation.auth != "none" or operation.path_ids:
        statuses.append(404)
    if operation.database:
        statuses.append(503)
    if operation.rate:
        statuses.append(429)
    return sorted(set(statuses) - set(operation.responses))


def _request(schema: Any) -> Any:
    """A request schema as the server reads it: no string holds NUL (validation.reject_nul),
    in free-form JSON (metadata) keys and values included."""
    if isinstance(schema, list):
        return [_request(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _request(value) for key, value in schema.items()}
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
        schema |= NO_NUL
    if schema.get("type") == "object" and "properties" not in schema:
        schema.setdefault("propertyNames", dict(NO_NUL))
        schema.setdefault("additionalProperties", {"$ref": _JSON_VALUE})
    return schema


# Any JSON value the server stores: one whose strings (object keys too) hold no NUL. Each
# keyword constrains one type only (the pattern strings, items arrays, the rest objects).
_JSON_VALUE_SCHEMA = {
    "description": "Any JSON value without NUL characters, which PostgreSQL cannot store",
    **NO_NUL,
    "items": {"$ref": _JSON_VALUE},
    "propertyNames": dict(NO_NUL),
    "additionalProperties": {"$ref": _JSON_VALUE},
}


def _request_body(kind: type, component: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A request body type's schema: its fields, what they must hold together, no NUL."""
    described: dict[str, Any] = _request(
        component | (kind.rules if issubclass(kind, Input) else {})
    )
    if kind is ChatRequest:  # the lengths of the question and the selection are settings
        limits = {
            "message": settings.max_message_chars,
            "query": settings.max_message_chars,
            "context": settings.max_context_chars,
        }
        for name, length in limits.items():
            (text,) = (o for o in described["properties"][name]["anyOf"] if o["type"] != "null")
            text["maxLength"] = length
        (selection,) = (
            o for o in described["properties"]["context"]["anyOf"] if o["type"] != "null"
        )
        selection["description"] = (
            "legacy: the text the reader selected in the page the question is asked from; "
            "retrieval searches with it and the language model is shown it"
        )
    if kind is ChatCompletionRequest:
        described["properties"]["model"] = {"type": "string", "enum": [settings.v1_model]}
        described["properties"]["messages"] = _request(_openai_messages(settings))
        counts: tuple[tuple[str, int | None], ...] = (
            ("max_tokens", None),
            ("max_completion_tokens", None),
            ("n", 1),
        )
        for name, most in counts:
            whole: dict[str, Any] = {"type": "integer", "minimum": 1}
            if most is not None:
                whole["maximum"] = most
            described["properties"][name] = {"anyOf": [whole, {"type": "null"}]}
    return described


def _openai_messages(settings: Settings) -> dict[str, Any]:
    """OpenAI's messages as endpoints.openai reads them: text only from users and the
    assistant, a user's text at most MAX_MESSAGE_CHARS (each part), and among them a
    question (a user message with text); other roles' content is not read."""
    user_text = {"type": "string", "maxLength": settings.max_message_chars}
    question_text = user_text | {"pattern": NOT_BLANK}

    def parts(text: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "text"],
                "properties": {"type": {"const": "text"}, "text": text},
            },
        }

    def message(role: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": role,
                "content": {"anyOf": [*content, {"type": "null"}]},
                "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        }

    any_part = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string"},
                "text": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        },
    }
    question = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"const": "user"},
            "content": {
                "anyOf": [
                    question_text,
                    parts(user_text) | {"contains": parts(question_text)["items"]},
                ]
            },
        },
    }
    return {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                message({"const": "user"}, [user_text, parts(user_text)]),
                message({"const": "assistant"}, [{"type": "string"}, parts({"type": "string"})]),
                message(
                    {"enum": ["system", "developer", "tool", "function"]},
                    [{"type": "string"}, any_part],
                ),
            ]
        },
        "contains": question,
    }


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null."""
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def _query_parameters(kind: type, components: dict[str, Any]) -> list[dict[str, Any]]:
    component = components[kind.__name__]
    required = set(component.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _request(_without_null(schema)),
        }
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


# A path parameter that names a session as chat widgets do (Operation.keys).
_SESSION_NAME = {"type": "string", "minLength": 1, "maxLength": 255, **SESSION_NAME_SCHEMA}


def _operation(
    operation: Operation, refs: dict[type, Any], components: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": (
                dict(_SESSION_NAME)
                if name in operation.keys
                else {"type": "string", "format": "uuid"}
            ),
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
    # With LEGACY_TOKENLESS_SESSIONS on, a session key may stand for the credential.
    tokenless = operation.tokenless is not None and settings.legacy_tokenless_sessions
    if operation.auth == "required" and not tokenless:
        described["security"] = [{"bearer": []}, {"cookie": []}]
    elif operation.auth != "none":
        described["security"] = [{}, {"bearer": []}, {"cookie": []}]
    if operation.body is not None:
        content: dict[str, Any] = {"application/json": {"schema": refs[operation.body]}}
        if operation.form:
            form = {"schema": _request(_UPLOAD_FORM), "encoding": _UPLOAD_ENCODING}
            content["multipart/form-data"] = form
        described["requestBody"] = {"required": True, "content": content}
    for status, kind in operation.responses.items():
        response: dict[str, Any] = {"description": "No content" if kind is None else "OK"}
        if kind is not None:
            schema = {"type": "object"} if kind is Any else refs[kind]
            media_type = "application/json"
            if operation.lines and status == 200:
                # Under OpenAPI 3.1 the schema of a JSON Lines body describes one line.
                media_type = JSON_LINES
                response["description"] = "OK: JSON Lines, one object as described a line"
            response["content"] = {media_type: {"schema": schema}}
            if operation.markdown and status == 200:
                response["content"]["text/markdown"] = {"schema": {"type": "string"}}
            if operation.stream and status == 200:
                event = _OPENAI_EVENT if operation.dialect == "openai" else _EVENT
                response["content"]["text/event-stream"] = {"schema": event}
        described["responses"][str(status)] = response
    error_body = OpenAIErrorBody if operation.dialect == "openai" else ErrorBody
    for status in _error_statuses(operation):
        described["responses"][str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": refs[error_body]}},
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

# The OpenAI-compatible stream: ``data:`` lines of JSON (chunks, or an error), then
# ``data: [DONE]``.
_OPENAI_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}},
}

_UPLOAD_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "minLength": 1},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "metadata": {"type": "object"},  # a part of JSON text (see the encoding)
    },
    "additionalProperties": False,
}
# The file's types the server reads whatever the bytes (others are told apart by the file
# name and the bytes, and answer 415 when they are none of text, Markdown, HTML and PDF).
_UPLOAD_ENCODING = {
    "file": {
        "contentType": "text/plain, text/markdown, text/html, application/xhtml+xml, "
        "application/pdf, text/*"
    },
    "metadata": {"contentType": "application/json"},
}


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route (JSON Schema from the msgspec types)."""
    types: list[type] = [ErrorBody, OpenAIErrorBody]
    for operation in OPERATIONS:
        types += [t for t in (operation.body, operation.query) if t is not None]
        types += [t for t in operation.responses.values() if isinstance(t, type)]
    types = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas, strict=True))
    for kind in {operation.body for operation in OPERATIONS} - {None}:
        assert kind is not None
        components[kind.__name__] = _request_body(kind, components[kind.__name__], settings)
    components["JsonValue"] = _JSON_VALUE_SCHEMA
    for replaced in ("MessageIn", "ContentPart"):  # by _openai_messages
        components.pop(replaced, None)
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
