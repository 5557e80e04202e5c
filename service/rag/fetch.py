"""Fetching a document by URL: bounded in size and time, typed, and never into private networks.

Every hop (redirects included) is checked: the host must resolve only to public addresses
unless it is allow-listed (FETCH_ALLOW_HOSTS), so a user cannot make the service read
loopback, private, link-local or cloud-metadata addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec

__all__ = ["FetchError", "Fetched", "check_url", "fetch_url"]

ACCEPTED_TYPES = (
    "text/plain",
    "text/markdown",
    "text/x-markdown",
    "text/html",
    "application/xhtml+xml",
    "application/pdf",
)
MAX_REDIRECTS = 5


class FetchError(Exception):
    """The URL could not be fetched as a document; the message says why."""


class Unresolved(FetchError):
    """The URL's host name does not resolve."""


class Fetched(msgspec.Struct, frozen=True):
    url: str  # after redirects
    content: bytes
    content_type: str


def _allowed(host: str, allow_hosts: frozenset[str]) -> bool:
    return "*" in allow_hosts or host.lower() in allow_hosts


async def _check_public(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Unresolved(f"cannot resolve {host}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"refusing to fetch {host}: it resolves to the non-public address {address}"
            )


async def _check_hop(url: str, allow_hosts: frozenset[str]) -> None:
    """FetchError unless ``url`` may be requested: http(s), and a host that is allow-listed
    or resolves only to public addresses (Unresolved when it does not resolve)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:  # a port out of range or not a number
        raise FetchError(f"not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url}")
    if not _allowed(parts.hostname, allow_hosts):
        try:
            await _check_public(parts.hostname, port)
        except UnicodeError as error:  # a host name IDNA cannot encode (a label too long)
            raise FetchError(f"not a valid host name: {parts.hostname}") from error


async def check_url(url: str, *, allow_hosts: frozenset[str], timeout_seconds: float) -> None:
    """FetchError now when fetching ``url`` is sure to be refused: not http(s), or a host
    that resolves to a non-public address. A host that does not resolve (yet) passes: the
    fetch tries again and records the error if it still fails."""
    try:
        async with asyncio.timeout(timeout_seconds):
            await _check_hop(url, allow_hosts)
    except (TimeoutError, Unresolved):
        return


async def fetch_url(
    url: str, *, timeout_seconds: float, max_bytes: int, allow_hosts: frozenset[str]
) -> Fetched:
    """GET the URL (following up to 5 redirects), or FetchError saying why not."""
    async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_hop(url, allow_hosts)
            try:
                async with asyncio.timeout(timeout_seconds), client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{url} answered HTTP {response.status_code}")
                    content_type = response.headers.get("content-type", "").split(";")[0]
                    content_type = content_type.strip().lower()
                    if content_type not in ACCEPTED_TYPES:
                        raise FetchError(f"{url} has the unsupported content type {content_type!r}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"{url} is larger than the limit of {max_bytes} bytes")
                    body = bytearray()
                    async for piece in response.aiter_bytes():
                        body += piece
                        if len(body) > max_bytes:
                            raise FetchError(f"{url} is larger than the limit of {max_bytes} bytes")
                    header = response.headers.get("content-type", content_type)
                    return Fetched(str(response.url), bytes(body), header)
            except TimeoutError as error:
                raise FetchError(f"{url} did not answer within {timeout_seconds} s") from error
            except httpx.HTTPError as error:
                raise FetchError(f"cannot fetch {url}: {error}") from error
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
