"""The one place configuration is read: the environment, then a ``.env`` file beneath it.

A bad value stops the program with one line naming its variable, what was expected and what
to do (``python -m service`` prints it as ``configuration error: ...`` and exits with 2).
"""

from __future__ import annotations

import io
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import msgspec
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from qdrant_edge import Bm25, Bm25Config

from .decode_errors import field_error

__all__ = [
    "LOG_LEVELS",
    "BadValue",
    "Settings",
    "SettingsError",
    "load_settings",
    "normal_origin",
    "read_env_file",
]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
SecondsOrOff = Annotated[float, msgspec.Meta(ge=0)]  # 0: off


class SettingsError(Exception):
    """A setting is missing or has a value of the wrong kind; the message names the variable."""


class BadValue(SettingsError):
    """One line: "VARIABLE: expected ..., got ... (in .env); <the fix>"."""

    def __init__(self, variable: str, expected: str, got: str, fix: str) -> None:
        super().__init__(variable, expected, got, fix)
        self.variable, self.expected, self.got, self.fix = variable, expected, got, fix
        self.where = ""  # " (in .env)" when the value came from that file

    def __str__(self) -> str:
        return f"{self.variable}: expected {self.expected}, got {self.got}{self.where}; {self.fix}"


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
    # All the database work of one request (pool acquisition, statements, retries) finishes
    # within this, or the request answers 503 (store.deadline); for a chat turn, the part
    # before the answer and the write of the answer each have this budget.
    db_request_budget: Seconds = 2.0
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
    # Full-text search over a user's messages (GET /search, GET /sessions?q=): the PostgreSQL
    # text-search configuration that parses queries. It must be the one the database builds
    # chat_message_search.search_vector with (english, named by the migration that creates it):
    # simple (no stemming, no stopwords: mixed languages) after a migration rebuilding them.
    search_config: str = "english"
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
    max_context_chars: Positive = 4_000  # /chat's legacy ``context``: the reader's selection
    default_page_size: Positive = 20
    max_page_size: Positive = 100
    # Identity. The cookie is Secure when the request came over HTTPS (directly, or by
    # X-Forwarded-Proto from a trusted proxy); cookie_secure: always.
    token_ttl_days: Positive = 30
    # Who a token names is remembered this long per process (0: asked on every request);
    # a revocation anywhere reaches every process at once through LISTEN/NOTIFY, and
    # within this bound when that cannot work (behind a pooler in transaction mode).
    credential_cache_seconds: SecondsOrOff = 10.0
    credential_cache_size: Positive = 10_000
    cookie_name: str = "chat_token"
    cookie_secure: bool = False
    # The cookie's SameSite: lax, strict, or none (sent by a widget on another site too; only
    # with COOKIE_SECURE=true, since browsers drop a SameSite=None cookie that is not Secure).
    cookie_samesite: str = "lax"
    anonymous_access: bool = True  # false: /chat without a credential answers 401
    # Legacy widgets that never hold a credential: a session key of at least this many
    # characters (not a UUID), sent to /chat or /history without a credential, continues the
    # session that key started (the key is the capability). Off unless an operator says so.
    legacy_tokenless_sessions: bool = False
    legacy_tokenless_min_key_chars: Annotated[int, msgspec.Meta(ge=8, le=255)] = 16
    # A front end's key: with it as the bearer token, the user named in Open WebUI's forwarded
    # headers (X-OpenWebUI-User-Id, -Email, -Name) is the caller. Unset: no front end may.
    frontend_api_key: Annotated[str, msgspec.Meta(min_length=16)] | None = None
    # Sign-in by a JWT from an OIDC/JWT issuer (Better Auth, Auth0, Keycloak...): on when
    # JWT_JWKS_URL is set, beside anonymous access unless ANONYMOUS_ACCESS is false. The
    # token's iss and aud must be JWT_ISSUER and JWT_AUDIENCE; its alg one of JWT_ALGORITHMS
    # (asymmetric only: "none" and HS* are refused). Clocks may differ by JWT_LEEWAY_SECONDS.
    jwt_jwks_url: str | None = None
    jwt_issuer: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    jwt_audience: str | None = None
    jwt_algorithms: str = "RS256,ES256,EdDSA"
    jwt_leeway_seconds: Annotated[int, msgspec.Meta(ge=0, le=300)] = 60
    # The issuer's keys are fetched again after JWT_JWKS_CACHE_SECONDS (a failed fetch keeps
    # the keys held), and on a token with an unknown key id, at most once per
    # JWT_JWKS_REFETCH_SECONDS; a fetch gives up after JWT_JWKS_TIMEOUT.
    jwt_jwks_cache_seconds: Seconds = 300.0
    jwt_jwks_refetch_seconds: Seconds = 30.0
    jwt_jwks_timeout: Seconds = 5.0
    # The model name the OpenAI-compatible API (/v1) lists and answers to.
    v1_model: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "rag"
    # Writes authenticated by the cookie alone must come from one of these origins
    # (comma-separated "scheme://host[:port]"), or from the service's own.
    allowed_origins: str = ""
    # Peers (comma-separated addresses or networks; "*": every peer) whose X-Forwarded-For
    # and X-Forwarded-Proto are believed: the client is the first untrusted hop.
    trusted_proxies: str = ""
    # Abuse limits, counted in PostgreSQL (so they hold across replicas) in fixed windows;
    # 0: no limit. New anonymous users per client address; chat turns and uploads per user.
    anon_users_per_address_per_hour: NonNegative = 60
    chat_turns_per_user_per_minute: NonNegative = 30
    uploads_per_user_per_day: NonNegative = 100
    upload_bytes_per_user_per_day: NonNegative = 104_857_600
    # Failure behaviour: what a 503 tells clients to wait before retrying.
    retry_after_seconds: Positive = 2
    # A chat turn's answer belongs to the request answering it for this long (longer than
    # the slowest answer: retrieval, embeddings and the model together). After it, a retry
    # with the same client_message_id answers it again, and the sweep (every
    # TURN_SWEEP_SECONDS, in the process that runs the ingestion worker) marks it failed.
    turn_lease_seconds: Seconds = 180.0
    turn_sweep_seconds: Seconds = 30.0
    # Retention, run by the process that runs the ingestion worker every
    # RETENTION_INTERVAL_SECONDS when RETENTION_DAYS is above 0 (0: never; and by `python -m
    # service retention`): sessions inactive for longer, and expired credentials, are purged;
    # with RETENTION_DROP_DOCUMENT_CONTENT, so are the stored contents of completed documents.
    retention_days: NonNegative = 0
    retention_interval_seconds: Seconds = 3600.0
    retention_drop_document_content: bool = False
    # Erasure (DELETE /me): a vector-store deletion that failed, or whose worker died, is
    # tried again after this long, until it succeeds.
    erasure_retry_seconds: Seconds = 30.0
    # Serving.
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    log_level: str = "INFO"  # one of LOG_LEVELS, in any case

    def jwt_algorithm_list(self) -> list[str]:
        """JWT_ALGORITHMS as a list, as PyJWT names them."""
        return _items(self.jwt_algorithms)

    def fetch_allowed_hosts(self) -> frozenset[str]:
        """FETCH_ALLOW_HOSTS as a set of lower-case host names."""
        hosts = self.fetch_allow_hosts.split(",")
        return frozenset(host.strip().lower() for host in hosts if host.strip())

    def allowed_origin_set(self) -> frozenset[str]:
        """ALLOWED_ORIGINS as a set of origins, as browsers send them (``normal_origin``)."""
        origins = (normal_origin(origin) for origin in _items(self.allowed_origins))
        return frozenset(origin for origin in origins if origin is not None)

    def cookie_same_site(self) -> Literal["lax", "strict", "none"]:
        """COOKIE_SAMESITE in lower case, as the Set-Cookie attribute takes it."""
        return cast(Literal["lax", "strict", "none"], self.cookie_samesite.lower())

    def trusted_proxy_list(self) -> list[str]:
        """TRUSTED_PROXIES as a list of addresses and networks (``["*"]``: every peer)."""
        return _items(self.trusted_proxies)

    def __post_init__(self) -> None:
        url = self.database_url
        if url is not None and not url.lower().startswith(_POSTGRES):
            # Never echoed: the URL may carry a password.
            scheme = url.partition("://")[0] if "://" in url else ""
            got = f'a "{scheme[:20]}://" URL' if scheme else "a value that is not a URL"
            raise BadValue(
                "DATABASE_URL",
                "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                got,
                "set it to such a URL (make run sets it to the embedded PostgreSQL when unset)",
            )
        if self.db_pool_min_size > self.db_pool_max_size:
            raise BadValue(
                "DB_POOL_MIN_SIZE",
                f"at most DB_POOL_MAX_SIZE ({self.db_pool_max_size})",
                str(self.db_pool_min_size),
                "lower DB_POOL_MIN_SIZE or raise DB_POOL_MAX_SIZE",
            )
        if self.default_page_size > self.max_page_size:
            raise BadValue(
                "DEFAULT_PAGE_SIZE",
                f"at most MAX_PAGE_SIZE ({self.max_page_size})",
                str(self.default_page_size),
                "lower DEFAULT_PAGE_SIZE or raise MAX_PAGE_SIZE",
            )
        for origin in _items(self.allowed_origins):
            if normal_origin(origin) is None:
                raise BadValue(
                    "ALLOWED_ORIGINS",
                    "comma-separated origins such as https://chat.example.com",
                    _quoted(origin),
                    "list each as scheme://host[:port], without a path",
                )
        for proxy in self.trusted_proxy_list():
            if proxy != "*" and not _is_address_or_network(proxy):
                raise BadValue(
                    "TRUSTED_PROXIES",
                    "comma-separated IP addresses or networks (10.0.0.0/8), or *",
                    _quoted(proxy),
                    "list the addresses your reverse proxies connect from",
                )
        if self.cookie_samesite.lower() not in _SAME_SITE:
            raise BadValue(
                "COOKIE_SAMESITE",
                "one of lax, strict, none",
                _quoted(self.cookie_samesite),
                "set it to one of those (default lax)",
            )
        if self.cookie_samesite.lower() == "none" and not self.cookie_secure:
            raise BadValue(
                "COOKIE_SAMESITE",
                "lax or strict unless COOKIE_SECURE is true",
                _quoted(self.cookie_samesite),
                "set COOKIE_SECURE=true too (browsers drop a SameSite=None cookie that is not "
                "Secure), or COOKIE_SAMESITE=lax",
            )
        if self.legacy_tokenless_sessions and not self.anonymous_access:
            raise BadValue(
                "LEGACY_TOKENLESS_SESSIONS",
                "false while ANONYMOUS_ACCESS is false",
                "true",
                "set ANONYMOUS_ACCESS=true as well (a session key stands for an anonymous user), "
                "or LEGACY_TOKENLESS_SESSIONS=false",
            )
        self._check_jwt()
        if self.search_config not in SEARCH_CONFIGS:
            raise BadValue(
                "SEARCH_CONFIG",
                "a text-search configuration PostgreSQL has built in (english, simple, ...)",
                _quoted(self.search_config),
                "set it to the one the chat_message_search triggers use (default english)",
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise BadValue(
                "LOG_LEVEL",
                f"one of {', '.join(LOG_LEVELS)}",
                _quoted(self.log_level),
                "set it to one of those (default INFO)",
            )
        try:
            Bm25(Bm25Config(language=self.bm25_language))
        except ValueError as error:
            raise BadValue(
                "BM25_LANGUAGE",
                "a language Qdrant's BM25 knows",
                _quoted(self.bm25_language),
                "set it to one such as english (the default)",
            ) from error

    def _check_jwt(self) -> None:
        for algorithm in self.jwt_algorithm_list():
            if algorithm not in JWT_ALGORITHMS:
                raise BadValue(
                    "JWT_ALGORITHMS",
                    f"comma-separated asymmetric algorithms among {', '.join(JWT_ALGORITHMS)}",
                    _quoted(algorithm),
                    "list the algorithms your issuer signs with (default RS256,ES256,EdDSA); "
                    "none and HS* are refused: a shared secret is not a public key",
                )
        if not self.jwt_algorithm_list():
            raise BadValue(
                "JWT_ALGORITHMS", "at least one algorithm", '""', "unset it for the default"
            )
        url = self.jwt_jwks_url
        if url is None:
            return
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise BadValue(
                "JWT_JWKS_URL",
                "the http(s) URL of the issuer's JSON Web Key Set",
                _quoted(url),
                "set it to the issuer's jwks_uri (Better Auth: <base URL>/api/auth/jwks)",
            )
        for variable, value in (
            ("JWT_ISSUER", self.jwt_issuer),
            ("JWT_AUDIENCE", self.jwt_audience),
        ):
            if value is None or not value.strip():
                raise BadValue(
                    variable,
                    "a value while JWT_JWKS_URL is set",
                    "nothing",
                    f"set {variable} to the token's {variable[4:].lower()} claim as your issuer "
                    "writes it (Better Auth: the app's base URL), or unset JWT_JWKS_URL",
                )
        if self.jwt_issuer == "openwebui":
            raise BadValue(
                "JWT_ISSUER",
                "an issuer other than the one Open WebUI's forwarded users are known by",
                '"openwebui"',
                "set it to the token's iss claim (a URL)",
            )


# What JWT_ALGORITHMS may list: signatures by a private key, checked with the issuer's public
# keys. Never "none" (no signature) or HS* (a shared secret: whoever verifies could sign).
JWT_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_POSTGRES = ("postgresql://", "postgres://")
_SAME_SITE = ("lax", "strict", "none")
# The text-search configurations built into every supported PostgreSQL (15 has these; later
# versions add estonian): psql's \dF lists them.
SEARCH_CONFIGS = frozenset(
    (
        *("arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish"),
        *("french", "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian"),
        *("lithuanian", "nepali", "norwegian", "portuguese", "romanian", "russian", "serbian"),
        *("simple", "spanish", "swedish", "tamil", "turkish", "yiddish"),
    )
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _items(value: str) -> list[str]:
    """The items of a comma-separated setting, stripped, empty ones left out."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _is_address_or_network(value: str) -> bool:
    try:
        if "/" in value:
            ipaddress.ip_network(value)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def normal_origin(url: str, *, exact: bool = True) -> str | None:
    """The origin of a URL, ``scheme://host[:port]`` in lower case without a default port (as
    a browser's Origin header has it); None when it has none (another scheme, no host) or,
    when ``exact``, when the URL is more than an origin (a path, a query)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if exact and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    return (
        f"{scheme}://{host}"
        if port in (None, _DEFAULT_PORTS[scheme])
        else f"{scheme}://{host}:{port}"
    )


_INFO = msgspec.inspect.type_info(Settings)
assert isinstance(_INFO, msgspec.inspect.StructType)
_FIELDS = {field.name: field for field in _INFO.fields}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a .env file sets, read by python-dotenv as a shell would read them:
    comments, quotes, ``export`` and quoted multi-line values. Values are taken literally
    (no ``${VAR}`` expansion: a password may hold a ``$``); a name without ``=`` sets nothing.
    A file that is not UTF-8, or a line that is not ``KEY=VALUE``, is a SettingsError naming
    the line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SettingsError(
            f"{path}: cannot be read ({error.strerror}); fix or remove it"
        ) from error
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the first name
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SettingsError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
            "save the file as UTF-8"
        ) from error
    # dotenv_values would skip a line it cannot read with a logged warning: its parser names it.
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise SettingsError(
                f"{path}:{binding.original.line}: expected KEY=VALUE; fix or remove the line"
            )
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Settings from ``environ`` (default: the process environment) over ``env_file``.

    Only upper-case names of settings count; an empty value means unset (the default).
    """
    fields = {field.name for field in msgspec.structs.fields(Settings)}
    layers = [(os.environ if environ is None else environ, "")]
    if env_file is not None and env_file.is_file():
        layers.insert(0, (read_env_file(env_file), f" (in {env_file})"))
    raw: dict[str, str] = {}
    origin: dict[str, str] = {}
    for values, where in layers:  # later layers win
        for key, value in values.items():
            if key.isupper() and key.lower() in fields:
                raw[key.lower()], origin[key.lower()] = value, where
    raw = {name: value for name, value in raw.items() if value != ""}
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as error:
        name, reason = field_error(error)
        raise _explain(name, raw.get(name), origin.get(name, ""), reason) from error
    except BadValue as bad:  # a check of Settings itself
        bad.where = origin.get(bad.variable.lower(), "")
        raise


def _explain(name: str, value: str | None, where: str, reason: str) -> SettingsError:
    """The variable, what it takes, what it got (and from where), how to fix it."""
    field = _FIELDS.get(name)
    if field is None or value is None:
        return SettingsError(f"{name.upper()}: {reason}")
    expected, fix = _expectation(field.type, reason)
    default = field.default
    if isinstance(default, bool):
        default = str(default).lower()
    unset = "" if default in (None, msgspec.NODEFAULT) else f" (default {default})"
    bad = BadValue(name.upper(), expected, _quoted(value), f"set it to {fix}{unset}")
    bad.where = where
    return bad


def _expectation(kind: msgspec.inspect.Type, reason: str) -> tuple[str, str]:
    """What a field of this type takes, said twice: as expected, and as the fix."""
    if isinstance(kind, msgspec.inspect.BoolType):
        return "true or false", "true or false"
    if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        bounds = _bounds(kind)
        if isinstance(kind, msgspec.inspect.IntType):
            return f"an integer{bounds}", f"a whole number{bounds}"
        return f"a number{bounds}", f"a number{bounds}"
    return reason, "a valid value"


def _bounds(kind: msgspec.inspect.IntType | msgspec.inspect.FloatType) -> str:
    if kind.ge is not None and kind.le is not None:
        return f" between {kind.ge:g} and {kind.le:g}"
    limits = [
        f"{op} {bound:g}"
        for op, bound in ((">=", kind.ge), (">", kind.gt), ("<=", kind.le), ("<", kind.lt))
        if bound is not None
    ]
    return " " + " and ".join(limits) if limits else ""


def _quoted(value: Any) -> str:
    """A value as it is shown in a message: JSON-quoted, long ones cut."""
    text = str(value)
    return msgspec.json.encode(text if len(text) <= 40 else text[:37] + "...").decode()
