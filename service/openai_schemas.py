"""The OpenAI-compatible API's bodies (``/v1``): what OpenAI's chat completions API accepts
and answers, as far as this service implements it, and its error shape.

Requests accept fields this service does not use (OpenAI clients send many: ``tools``,
``seed``, ``logit_bias`` ...): they are ignored, as README ("OpenAI-compatible API") lists.
Answers carry two fields of this service beside OpenAI's: ``citations`` (the passages the
answer cites as ``[n]``) and ``session_id`` (where the conversation is stored).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from .domain import Citation
from .errors import ErrorBody

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ModelList",
    "OpenAIErrorBody",
    "openai_error_body",
]


class ContentPart(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    type: str  # "text" is the one kind read
    text: str | None = None


class MessageIn(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    model: str
    messages: Annotated[list[MessageIn], msgspec.Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Passed to the language model (LLM_BASE_URL); the offline extractive answerer has none.
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    # Whole numbers, which JSON may also write as 5.0 (endpoints.openai checks them).
    max_tokens: Annotated[float, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[float, msgspec.Meta(ge=1)] | None = None
    n: Annotated[float, msgspec.Meta(ge=1, le=1)] | None = None  # one choice only
    user: str | None = None


class CompletionUsage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(msgspec.Struct, frozen=True):
    role: Literal["assistant"]
    content: str


class Choice(msgspec.Struct, frozen=True):
    index: int
    message: MessageOut
    finish_reason: Literal["stop"]
    logprobs: None = None


class ChatCompletion(msgspec.Struct, frozen=True):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    citations: list[Citation]
    session_id: str | None  # None: the database was unreachable, nothing was stored
    object: Literal["chat.completion"] = "chat.completion"
    system_fingerprint: None = None


class Delta(msgspec.Struct, frozen=True, omit_defaults=True):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(msgspec.Struct, frozen=True):
    index: int
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    usage: CompletionUsage | None = None  # the last chunk, with stream_options.include_usage
    citations: list[Citation] | None = None  # on the chunk that finishes the answer
    session_id: str | None = None


class Model(msgspec.Struct, frozen=True):
    id: str
    created: int
    owned_by: str
    object: Literal["model"] = "model"


class ModelList(msgspec.Struct, frozen=True):
    data: list[Model]
    object: Literal["list"] = "list"


class OpenAIError(msgspec.Struct, frozen=True):
    message: str
    type: str
    param: str | None
    code: str | None
    details: dict[str, Any] | None = None  # this service's details (ids, a retry's token)


class OpenAIErrorBody(msgspec.Struct, frozen=True):
    error: OpenAIError


# OpenAI's error types by status; its SDK chooses its exception class by the status alone.
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def openai_error_body(status: int, body: ErrorBody) -> OpenAIErrorBody:
    """The error this service answers elsewhere as ``body``, in OpenAI's shape."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    details = body.error.details
    param = details.get("field") if details else None
    return OpenAIErrorBody(
        OpenAIError(
            message=body.error.message,
            type=kind,
            param=param if isinstance(param, str) else None,
            code=body.error.code,
            details=details,
        )
    )
