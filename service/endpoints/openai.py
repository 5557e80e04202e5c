"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``, answered by
the same chat turn as ``POST /chat`` (retrieval, persistence, citations, idempotency).

The client resends the whole conversation each turn; ``usecases.conversations`` says which
session it goes on in and makes a retry replay the stored turn. The answer is the last
message's; system messages are not passed on (the service's own prompt grounds the answer
in the documents). Errors take OpenAI's shape (``as_openai``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..domain import Answer, Sampling
from ..errors import ApiError, ErrorBody, ErrorDetail, turn_failure
from ..json import encode, json_response
from ..openai_schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    MessageIn,
    MessageOut,
    Model,
    ModelList,
    openai_error_body,
)
from ..usecases.accounts import Principal
from ..usecases.chat import ChatTurns, Started, TurnFailed, TurnResult
from ..usecases.conversations import Conversations, Said
from ..validation import check_length, invalid

__all__ = ["as_openai", "chat_completions", "models"]

SESSION_HEADER = "x-session-id"
OPENWEBUI_CHAT_HEADER = "x-openwebui-chat-id"
OWNER = "chat-history-rag"


async def models(request: Request, *, user: Principal) -> Response:
    name = request.state.settings.v1_model
    return json_response(ModelList([Model(id=name, created=0, owned_by=OWNER)]))


async def chat_completions(
    request: Request, *, user: Principal, body: ChatCompletionRequest
) -> Response:
    settings = request.state.settings
    if body.model != settings.v1_model:
        raise ApiError(
            404,
            "model_not_found",
            f"the model `{body.model[:100]}` does not exist here: this service answers as "
            f"`{settings.v1_model}` (GET /v1/models)",
            {"location": "body", "field": "model"},
        )
    _whole(body.n, "n")
    conversation = _conversation(body.messages, settings.max_message_chars)
    conversations: Conversations = request.state.conversations
    ask = await conversations.ask(
        user,
        conversation,
        session_id=_session_header(request),
        chat_id=_chat_id_header(request),
        sampling=Sampling(
            temperature=body.temperature,
            top_p=body.top_p,
            max_tokens=_whole(body.max_completion_tokens, "max_completion_tokens")
            or _whole(body.max_tokens, "max_tokens"),
        ),
    )
    turns: ChatTurns = request.state.turns
    turn = await turns.begin(user, ask, request_id=request.state.request_id)
    request.state.user_id = turn.user_id
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _chunks(request, await turns.stream(turn), body.model, created, include_usage)
        response: Response = StreamingResponse(chunks, media_type="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
    else:
        result = await turns.answer(turn)
        response = json_response(_completion(result, body.model, created))
    session_id = turn.ids().get("session_id")
    if session_id is not None:
        response.headers["X-Session-Id"] = session_id
    return response


def as_openai(response: Response) -> Response:
    """An error answer of this service's own shape, in OpenAI's (same status and headers)."""
    body = msgspec.json.decode(bytes(response.body), type=ErrorBody)
    headers = {
        name: value
        for name, value in response.headers.items()
        if name in ("retry-after", "www-authenticate", "allow")
    }
    reshaped = openai_error_body(response.status_code, body)
    return json_response(reshaped, status=response.status_code, headers=headers)


def _conversation(messages: list[MessageIn], max_chars: int) -> list[Said]:
    """The user and assistant messages, as text, up to the question: the last user message
    with text (what follows it is not answered). Each user text is at most ``max_chars``."""
    said: list[Said] = []
    for index, message in enumerate(messages):
        if message.role == "user":
            said.append(Said("user", _text(message, index, max_chars)))
        elif message.role == "assistant":
            said.append(Said("assistant", _text(message, index, None)))
        # system and developer prompts, tool results: not the conversation
    for last in range(len(said) - 1, -1, -1):
        if said[last].role == "user" and said[last].text.strip():
            return said[: last + 1]
    raise invalid("body", "messages", "no question: send a user message with text")


def _text(message: MessageIn, index: int, max_chars: int | None) -> str:
    """A message's text: its content, or its text parts joined by newlines."""
    field = f"messages[{index}].content"
    content = message.content
    if content is None or isinstance(content, str):
        texts = [content or ""]
    else:
        texts = []
        for part in content:
            if part.type != "text" or part.text is None:
                raise invalid("body", field, "only text content parts are supported")
            texts.append(part.text)
    if max_chars is not None:
        for text in texts:
            check_length(text, max_chars, field)
    return "\n".join(texts)


def _whole(value: float | None, field: str) -> int | None:
    """A count, which JSON may write as 5 or 5.0, but not 5.5."""
    if value is None:
        return None
    if not value.is_integer():
        raise invalid("body", field, "expected a whole number")
    return int(value)


def _session_header(request: Request) -> uuid.UUID | None:
    value = request.headers.get(SESSION_HEADER)
    if value is None:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError as error:
        raise ApiError(
            422,
            "invalid_request",
            "header X-Session-Id: expected one of your session ids (a UUID)",
            {"location": "header", "field": "X-Session-Id"},
        ) from error


def _chat_id_header(request: Request) -> str | None:
    value = request.headers.get(OPENWEBUI_CHAT_HEADER)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 200 or not value.isprintable():
        raise ApiError(
            422,
            "invalid_request",
            "header X-OpenWebUI-Chat-Id: at most 200 printable characters",
            {"location": "header", "field": "X-OpenWebUI-Chat-Id"},
        )
    return value


def _completion_id(result_id: uuid.UUID | None) -> str:
    """The assistant message's id when stored (a replay answers with the same id)."""
    return f"chatcmpl-{(result_id or uuid.uuid4()).hex}"


def _usage(answer: Answer) -> CompletionUsage:
    usage = answer.usage
    return CompletionUsage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


def _completion(result: TurnResult, model: str, created: int) -> ChatCompletion:
    return ChatCompletion(
        id=_completion_id(result.assistant_message_id),
        created=created,
        model=model,
        choices=[Choice(0, MessageOut("assistant", result.answer.text), "stop")],
        usage=_usage(result.answer),
        citations=result.answer.sources,
        session_id=None if result.session_id is None else str(result.session_id),
    )


async def _chunks(
    request: Request,
    events: AsyncIterator[Started | str | TurnResult | TurnFailed],
    model: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """OpenAI's chunks as server-sent events, ending with ``data: [DONE]``; a failure is an
    ``error`` object (its SDK raises it)."""
    completion_id = _completion_id(None)

    def chunk(delta: Delta, **fields: Any) -> bytes:
        data = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(0, delta, fields.pop("finish_reason", None))],
            **fields,
        )
        return b"data: " + encode(data) + b"\n\n"

    async for event in events:
        if isinstance(event, Started):
            if "assistant_message_id" in event.ids:
                completion_id = _completion_id(uuid.UUID(event.ids["assistant_message_id"]))
            yield chunk(Delta(role="assistant", content=""))
        elif isinstance(event, str):
            yield chunk(Delta(content=event))
        elif isinstance(event, TurnResult):
            session_id = None if event.session_id is None else str(event.session_id)
            yield chunk(
                Delta(),
                finish_reason="stop",
                citations=event.answer.sources,
                session_id=session_id,
            )
            if include_usage:
                usage = ChatCompletionChunk(
                    id=completion_id,
                    created=created,
                    model=model,
                    choices=[],
                    usage=_usage(event.answer),
                )
                yield b"data: " + encode(usage) + b"\n\n"
        else:
            retry_after = request.state.settings.retry_after_seconds
            failure = turn_failure(event, retry_after=retry_after)
            body = ErrorBody(ErrorDetail(failure.code, failure.message, failure.details))
            yield b"data: " + encode(openai_error_body(failure.status, body)) + b"\n\n"
    yield b"data: [DONE]\n\n"
