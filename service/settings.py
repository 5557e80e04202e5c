"""The one place configuration is read: the environment, then a ``.env`` file beneath it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec
from qdrant_edge import Bm25, Bm25Config

__all__ = ["Settings", "SettingsError", "load_settings"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class SettingsError(Exception):
    """A setting is missing or has a value of the wrong kind; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting, named as its environment variable in lower case."""

    # PostgreSQL. Neon: postgresql://...?sslmode=require (asyncpg honours sslmode).
    database_url: str | None = None
    db_pool_min_size: NonNegative = 1
    db_pool_max_size: Positive = 10
    # 0 for PgBouncer in transaction mode (Neon's pooler): no named prepared statements.
    db_statement_cache_size: NonNegative = 100
    db_connect_timeout: Seconds = 2.0
    # A statement taking longer fails (and a hung server is found out) after this long.
    db_command_timeout: Seconds = 5.0
    # Qdrant: a server by URL (":memory:" is qdrant-client's in-memory stand-in, for tests),
    # otherwise the embedded Qdrant Edge engine under qdrant_path, owned by one process.
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: str = ".data/qdrant-edge"
    qdrant_collection: str = "chunks"
    # Lexical vectors: Qdrant's BM25 (language: its stopwords and stemmer; avg_len: the
    # average chunk length in terms). Changing either needs `python -m service reindex`.
    # 90: the mean chunk length measured on the Python documentation (python3-doc).
    bm25_language: str = "english"
    bm25_avg_len: Annotated[float, msgspec.Meta(gt=0)] = 90.0
    # Embeddings: the offline lexical default always; a dense OpenAI-compatible
    # /v1/embeddings endpoint too when EMBEDDING_BASE_URL is set (retrieval is then hybrid).
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_model: str = "text-embedding-3-small"
    # Answers: extractive offline by default; an OpenAI-compatible /v1/chat/completions
    # endpoint when LLM_BASE_URL is set.
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_context_tokens: Positive = 3_000  # budget for the session's recent messages
    provider_timeout: Seconds = 60.0
    # Retrieval.
    retrieval_top_k: Positive = 5
    retrieval_min_score: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    # Ingestion.
    ingest_worker: bool = True  # run a worker in this process
    ingest_poll_seconds: Seconds = 2.0
    ingest_stale_seconds: Seconds = 300.0  # a claim older than this is taken over
    ingest_max_attempts: Positive = 3
    chunk_target_chars: Annotated[int, msgspec.Meta(ge=100)] = 1_200
    chunk_overlap_chars: NonNegative = 200
    fetch_timeout: Seconds = 10.0
    fetch_max_bytes: Positive = 10_485_760
    # Hosts (comma-separated) that URL ingestion may fetch even when they resolve to
    # loopback or private addresses; "*" allows every host.
    fetch_allow_hosts: str = ""
    # Limits.
    max_body_bytes: Positive = 1_048_576
    max_upload_bytes: Positive = 20_971_520
    max_message_chars: Positive = 8_000
    default_page_size: Positive = 20
    max_page_size: Positive = 100
    # Identity.
    token_ttl_days: Positive = 30
    cookie_name: str = "chat_token"
    cookie_secure: bool = False
    # Failure behaviour: what a 503 tells clients to wait before retrying.
    retry_after_seconds: Positive = 2
    # Serving.
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    log_level: str = "INFO"

    def fetch_allowed_hosts(self) -> frozenset[str]:
        """FETCH_ALLOW_HOSTS as a set of lower-case host names."""
        hosts = self.fetch_allow_hosts.split(",")
        return frozenset(host.strip().lower() for host in hosts if host.strip())

    def __post_init__(self) -> None:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise SettingsError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        if self.default_page_size > self.max_page_size:
            raise SettingsError("DEFAULT_PAGE_SIZE must not exceed MAX_PAGE_SIZE")
        try:
            Bm25(Bm25Config(language=self.bm25_language))
        except ValueError as error:
            raise SettingsError(f"BM25_LANGUAGE: {error}") from error


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; blank lines, comments and ``export`` prefixes allowed."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.removeprefix("export ").partition("=")
        if not separator:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Settings from ``environ`` (default: the process environment) over ``env_file``."""
    source = dict(read_env_file(env_file)) if env_file is not None and env_file.is_file() else {}
    source.update(os.environ if environ is None else environ)
    fields = {field.name for field in msgspec.structs.fields(Settings)}
    raw = {
        key.lower(): value
        for key, value in source.items()
        if key.lower() in fields and key.isupper() and value != ""
    }
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as error:
        message = str(error)
        name, _, _ = message.rpartition(" - at `$.")
        variable = message.rpartition("`$.")[2].rstrip("`").upper()
        raise SettingsError(f"{variable}: {name or message}") from error
