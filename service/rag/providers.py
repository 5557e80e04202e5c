"""Clients of OpenAI-compatible endpoints: /v1/embeddings (dense vectors) and
/v1/chat/completions (answers, streamed). ``base_url`` includes the version, e.g.
``https://api.openai.com/v1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import msgspec

__all__ = ["ChatCompletions", "Completion", "Embeddings", "ProviderError"]


class ProviderError(Exception):
    """The provider failed or answered something unusable; the message says which.

    ``transient``: asking again may succeed (unreachable, 5xx, 408, 429, a broken answer);
    False when the provider refused the request itself (another 4xx: key, model, input).
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class _Embedding(msgspec.Struct):
    index: int
    embedding: list[float]


class _Embeddings(msgspec.Struct):
    data: list[_Embedding]


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice] = []
    usage: _Usage | None = None


class Completion(msgspec.Struct, frozen=True):
    """The end of a streamed completion: token counts when the provider reported them."""

    prompt_tokens: int | None
    completion_tokens: int | None


def _headers(api_key: str | None) -> dict[str, str]:
    return {} if not api_key else {"Authorization": f"Bearer {api_key}"}


async def _raise_for_status(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        body = (await response.aread())[:300].decode(errors="replace")
        status = response.status_code
        transient = not 400 <= status < 500 or status in (408, 429)
        raise ProviderError(f"{what} answered HTTP {status}: {body}", transient=transient)


class Embeddings:
    """Dense embeddings from an OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, *, model: str, api_key: str | None, timeout: float) -> None:
        self.model = model
        self._url = base_url.rstrip("/") + "/embeddings"
        self._client = httpx.AsyncClient(timeout=timeout, headers=_headers(api_key))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 64):
            batch = list(texts[start : start + 64])
            try:
                response = await self._client.post(
                    self._url, json={"model": self.model, "input": batch}
                )
            except httpx.HTTPError as error:
                raise ProviderError(f"embeddings endpoint unreachable: {error}") from error
            await _raise_for_status(response, "embeddings endpoint")
            try:
                data = msgspec.json.decode(response.content, type=_Embeddings).data
            except msgspec.DecodeError as error:
                raise ProviderError(f"embeddings endpoint answered badly: {error}") from error
            if len(data) != len(batch):
                raise ProviderError(f"asked for {len(batch)} embeddings, got {len(data)}")
            vectors += [item.embedding for item in sorted(data, key=lambda item: item.index)]
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()


class ChatCompletions:
    """Streamed answers from an OpenAI-compatible chat completions endpoint."""

    def __init__(self, base_url: str, *, model: str, api_key: str | None, timeout: float) -> None:
        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._client = httpx.AsyncClient(timeout=timeout, headers=_headers(api_key))

    async def stream(
        self, messages: list[dict[str, Any]], **sampling: float | int | None
    ) -> AsyncIterator[str | Completion]:
        """Text pieces, then a Completion with the provider's token counts (None if unknown).

        ``sampling``: temperature, top_p, max_tokens, ... as the API names them; None: unset.
        """
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **{name: value for name, value in sampling.items() if value is not None},
        }
        usage: _Usage | None = None
        try:
            async with self._client.stream("POST", self._url, json=body) as response:
                await _raise_for_status(response, "chat completions endpoint")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = msgspec.json.decode(data, type=_Chunk)
                    except msgspec.DecodeError as error:
                        raise ProviderError(f"bad stream event: {error}") from error
                    usage = chunk.usage or usage
                    for choice in chunk.choices:
                        if choice.delta is not None and choice.delta.content:
                            yield choice.delta.content
        except httpx.HTTPError as error:
            raise ProviderError(f"chat completions endpoint failed: {error}") from error
        yield Completion(
            None if usage is None else usage.prompt_tokens,
            None if usage is None else usage.completion_tokens,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
