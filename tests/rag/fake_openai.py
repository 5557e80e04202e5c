"""A fake OpenAI-compatible provider: a real HTTP server on loopback, started by the tests.

It speaks POST /v1/embeddings (deterministic 16-dimensional vectors hashed from the words)
and POST /v1/chat/completions with ``stream: true`` (server-sent events: content deltas,
a final usage chunk unless told to omit it, then ``[DONE]``), and records every request it
gets so tests can check what the service sent. Tests switch either endpoint to HTTP 500.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.service.conftest import serve

__all__ = [
    "COMPLETION_TOKENS",
    "DIMENSIONS",
    "PROMPT_TOKENS",
    "REPLY",
    "FakeOpenAI",
    "Recorded",
    "embed",
    "serve_fake_openai",
]

DIMENSIONS = 16
REPLY = "Otters hold hands while they sleep [1]."
PROMPT_TOKENS = 321
COMPLETION_TOKENS = 12
_WORD = re.compile(r"\w+")


def embed(text: str) -> list[float]:
    """A unit vector of word counts hashed into DIMENSIONS buckets: same text, same vector."""
    vector = [0.0] * DIMENSIONS
    for word in _WORD.findall(text.lower()):
        vector[hashlib.sha256(word.encode()).digest()[0] % DIMENSIONS] += 1.0
    vector[0] += 0.01  # never the zero vector, which has no direction
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """One request the fake got."""

    path: str
    authorization: str | None
    body: dict[str, Any]


class FakeOpenAI:
    """The fake's behaviour (switchable by tests) and the requests it recorded."""

    def __init__(self) -> None:
        self.url = ""  # the base URL, ".../v1", once served
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self.embeddings_status = 200
        self.chat_status = 200
        self.reply = REPLY
        self.usage: tuple[int, int] | None = (PROMPT_TOKENS, COMPLETION_TOKENS)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
        self.embeddings_status = 200
        self.chat_status = 200
        self.reply = REPLY
        self.usage = (PROMPT_TOKENS, COMPLETION_TOKENS)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion requests, oldest first."""
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    def embedded_texts(self) -> list[str]:
        """Every text the embeddings endpoint was asked to embed, in order."""
        texts: list[str] = []
        for recorded in self.requests:
            if recorded.path == "/v1/embeddings":
                inputs = recorded.body["input"]
                texts += [inputs] if isinstance(inputs, str) else inputs
        return texts

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(await request.body())
        recorded = Recorded(
            path=request.url.path,
            authorization=request.headers.get("authorization"),
            body=body,
        )
        with self._lock:
            self._requests.append(recorded)
        return body

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if self.embeddings_status != 200:
            return _failure(self.embeddings_status)
        inputs = body["input"]
        texts: list[str] = [inputs] if isinstance(inputs, str) else inputs
        # Listed in reverse: clients must order the vectors by "index", not by position.
        data = [
            {"object": "embedding", "index": index, "embedding": embed(text)}
            for index, text in reversed(list(enumerate(texts)))
        ]
        tokens = sum(len(text.split()) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if self.chat_status != 200:
            return _failure(self.chat_status)
        if body.get("stream") is not True:
            return JSONResponse({"error": {"message": "this fake only streams"}}, 400)
        pieces = re.findall(r"\S+\s*", self.reply)
        usage = self.usage

        async def events() -> AsyncIterator[bytes]:
            for piece in pieces:
                chunk = {
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": piece}}],
                    "usage": None,  # as OpenAI sends it on content chunks with include_usage
                }
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            if usage is not None:
                prompt_tokens, completion_tokens = usage
                final = {
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
                yield b"data: " + json.dumps(final).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


def _failure(status: int) -> Response:
    return JSONResponse({"error": {"message": "the fake provider is failing"}}, status)


@contextmanager
def serve_fake_openai() -> Iterator[FakeOpenAI]:
    """The fake, served by uvicorn on a loopback port for as long as the context lasts."""
    fake = FakeOpenAI()
    with serve(fake.app()) as url:
        fake.url = f"{url}/v1"
        yield fake
