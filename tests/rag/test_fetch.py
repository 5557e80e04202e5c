"""URL documents: fetched from a real HTTP server on loopback, within the allow-list only,
never through a redirect into a private network, bounded in size and typed.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from service.app import create_app
from service.rag.fetch import Fetched, FetchError, fetch_url
from tests.rag.conftest import chat, chunk_rows, qdrant_point_ids, rag_settings, wait_for_document
from tests.service.conftest import serve, sign_up

GUIDE = b"# Kayak guide\n\nAlways wear a buoyancy aid when paddling on open water.\n"
PAGE = (
    b"<!doctype html><html><head><title>Tea</title><script>var tracker = 1;</script></head>"
    b"<body><h1>Green tea</h1><p>Brew green tea at eighty degrees for two minutes.</p>"
    b"</body></html>"
)
LIMIT = 100


class PageServer:
    """A loopback web server with a few pages, recording the paths it was asked for."""

    def __init__(self) -> None:
        self.url = ""
        self._lock = threading.Lock()
        self._hits: list[str] = []
        # /changing.md: tests change its content (or make it answer 404) between fetches.
        self.changing = GUIDE
        self.changing_status = 200

    def hits(self) -> list[str]:
        with self._lock:
            return list(self._hits)

    def app(self) -> Starlette:
        async def guide(request: Request) -> Response:
            return Response(GUIDE, media_type="text/markdown")

        async def page(request: Request) -> Response:
            return Response(PAGE, media_type="text/html")

        async def photo(request: Request) -> Response:
            return Response(b"\x89PNG\r\n\x1a\n" + b"\0" * 16, media_type="image/png")

        async def big(request: Request) -> Response:
            return Response(b"a" * (LIMIT * 10), media_type="text/plain")

        async def big_stream(request: Request) -> Response:
            async def pieces() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b"b" * LIMIT

            return StreamingResponse(pieces(), media_type="text/plain")

        async def changing(request: Request) -> Response:
            return Response(self.changing, self.changing_status, media_type="text/markdown")

        async def to_guide(request: Request) -> Response:
            return RedirectResponse("/guide.md", status_code=302)

        async def to_loopback(request: Request) -> Response:
            return RedirectResponse(f"http://127.0.0.1:{request.url.port}/guide.md", 302)

        async def to_metadata(request: Request) -> Response:
            return RedirectResponse("http://169.254.169.254/latest/meta-data/", 302)

        async def record(request: Request) -> None:
            with self._lock:
                self._hits.append(request.url.path)

        routes = {
            "/guide.md": guide,
            "/page.html": page,
            "/photo.png": photo,
            "/big.txt": big,
            "/big-stream.txt": big_stream,
            "/changing.md": changing,
            "/to-guide": to_guide,
            "/to-loopback": to_loopback,
            "/to-metadata": to_metadata,
        }

        def recorded(endpoint: Any) -> Any:
            async def handler(request: Request) -> Response:
                await record(request)
                response: Response = await endpoint(request)
                return response

            return handler

        return Starlette(routes=[Route(path, recorded(fn)) for path, fn in routes.items()])


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    server = PageServer()
    with serve(server.app()) as url:
        server.url = url
        yield server


async def fetch(
    url: str, *, allow: frozenset[str] = frozenset(), max_bytes: int = 10_000
) -> Fetched:
    return await fetch_url(url, timeout_seconds=10.0, max_bytes=max_bytes, allow_hosts=allow)


# --- through the API --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected", "hidden"),
    [
        ("/guide.md", "Always wear a buoyancy aid when paddling on open water.", None),
        ("/page.html", "Brew green tea at eighty degrees for two minutes.", "tracker"),
    ],
    ids=["markdown", "html"],
)
def test_url_document_on_an_allow_listed_loopback_host_is_fetched_and_ingested(
    database_url: str,
    vector_engine: dict[str, Any],
    postgresql: psycopg.Connection[Any],
    page_server: PageServer,
    path: str,
    expected: str,
    hidden: str | None,
) -> None:
    settings = rag_settings(database_url, vector_engine, fetch_allow_hosts="example.org, 127.0.0.1")
    url = page_server.url + path
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        response = client.post("/documents", json={"url": url}, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["source_url"] == url

        document = wait_for_document(client, headers, response.json()["id"])

        assert document["status"] == "completed", document
        chunks = [row[3] for row in chunk_rows(postgresql, document["id"])]
        assert len(chunks) == document["chunk_count"] > 0
        assert expected in "\n".join(chunks)
        if hidden is not None:  # a script's text is never a chunk's
            assert all(hidden not in chunk for chunk in chunks)
        answer = chat(client, headers, expected)
        assert [(s["document_id"], s["document_url"]) for s in answer["sources"]] == [
            (document["id"], url)
        ]


def test_url_document_on_loopback_without_the_allow_list_is_refused_at_once_naming_the_address(
    client: TestClient, page_server: PageServer
) -> None:
    headers = sign_up(client)
    hits_before = len(page_server.hits())
    response = client.post(
        "/documents", json={"url": page_server.url + "/guide.md"}, headers=headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == (
        "body field `url`: refusing to fetch 127.0.0.1: it resolves to the non-public address"
        " 127.0.0.1"
    )
    assert client.get("/documents", headers=headers).json()["documents"] == []
    assert len(page_server.hits()) == hits_before  # refused before connecting


# --- fetch_url ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_fetch_follows_a_redirect_within_allowed_hosts(page_server: PageServer) -> None:
    fetched = await fetch(page_server.url + "/to-guide", allow=frozenset({"127.0.0.1"}))

    assert fetched.url == page_server.url + "/guide.md"
    assert fetched.content == GUIDE
    assert fetched.content_type.startswith("text/markdown")


@pytest.mark.anyio
async def test_redirect_from_an_allowed_host_to_a_loopback_address_is_refused(
    page_server: PageServer,
) -> None:
    port = page_server.url.rsplit(":", 1)[1]
    hits_before = page_server.hits()

    with pytest.raises(FetchError) as refused:
        await fetch(f"http://localhost:{port}/to-loopback", allow=frozenset({"localhost"}))

    assert str(refused.value) == (
        "refusing to fetch 127.0.0.1: it resolves to the non-public address 127.0.0.1"
    )
    assert page_server.hits()[len(hits_before) :] == ["/to-loopback"]  # never /guide.md


@pytest.mark.anyio
async def test_redirect_to_the_cloud_metadata_address_is_refused(page_server: PageServer) -> None:
    with pytest.raises(FetchError) as refused:
        await fetch(page_server.url + "/to-metadata", allow=frozenset({"127.0.0.1"}))

    assert str(refused.value) == (
        "refusing to fetch 169.254.169.254: it resolves to the non-public address 169.254.169.254"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/big.txt", "/big-stream.txt"], ids=["declared", "streamed"])
async def test_body_over_the_size_limit_fails(page_server: PageServer, path: str) -> None:
    url = page_server.url + path

    with pytest.raises(FetchError) as too_big:
        await fetch(url, allow=frozenset({"127.0.0.1"}), max_bytes=LIMIT)

    assert str(too_big.value) == f"{url} is larger than the limit of {LIMIT} bytes"


@pytest.mark.anyio
async def test_unsupported_content_type_fails(page_server: PageServer) -> None:
    url = page_server.url + "/photo.png"

    with pytest.raises(FetchError) as wrong_type:
        await fetch(url, allow=frozenset({"127.0.0.1"}))

    assert str(wrong_type.value) == f"{url} has the unsupported content type 'image/png'"


@pytest.mark.anyio
async def test_missing_page_fails_with_its_status(page_server: PageServer) -> None:
    url = page_server.url + "/nowhere"

    with pytest.raises(FetchError) as missing:
        await fetch(url, allow=frozenset({"127.0.0.1"}))

    assert str(missing.value) == f"{url} answered HTTP 404"


def test_url_document_with_an_oversize_body_fails_with_the_limit_in_its_error(
    database_url: str, vector_engine: dict[str, Any], page_server: PageServer
) -> None:
    settings = rag_settings(
        database_url, vector_engine, fetch_allow_hosts="127.0.0.1", fetch_max_bytes=LIMIT
    )
    url = page_server.url + "/big-stream.txt"
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        created = client.post("/documents", json={"url": url}, headers=headers)
        assert created.status_code == 202, created.text

        document = wait_for_document(client, headers, created.json()["id"])

        assert document["status"] == "failed"
        assert document["error"] == f"{url} is larger than the limit of {LIMIT} bytes"


# --- the same URL again -------------------------------------------------------------------

CANOES = b"\n\n".join(
    b"Paragraph %d is about canoes, paddles, rivers and lakes, and long enough." % number
    for number in range(4)
)
KAYAKS = b"Kayaks replaced the canoes: the club now rents sea kayaks only."


def test_url_posted_again_is_fetched_anew_and_its_new_chunks_replace_the_old(
    database_url: str,
    vector_engine: dict[str, Any],
    postgresql: psycopg.Connection[Any],
    page_server: PageServer,
) -> None:
    settings = rag_settings(
        database_url,
        vector_engine,
        fetch_allow_hosts="127.0.0.1",
        chunk_target_chars=100,
        chunk_overlap_chars=0,
    )
    page_server.changing, page_server.changing_status = CANOES, 200
    url = page_server.url + "/changing.md"
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        first = client.post("/documents", json={"url": url}, headers=headers)
        assert first.status_code == 202, first.text
        before = wait_for_document(client, headers, first.json()["id"])
        assert (before["status"], before["chunk_count"]) == ("completed", 4)

        page_server.changing = KAYAKS
        again = client.post("/documents", json={"url": url}, headers=headers)

        assert again.status_code == 202, again.text
        assert again.json()["id"] == before["id"]
        assert again.json()["status"] == "pending"
        after = wait_for_document(client, headers, before["id"])
        assert after["status"] == "completed", after
        assert after["chunk_count"] == 1
        rows = chunk_rows(postgresql, before["id"])
        assert [row[3] for row in rows] == [KAYAKS.decode()]
        assert qdrant_point_ids(client, before["id"]) == {rows[0][2]}
        answer = chat(client, headers, "Which canoes and paddles does the club rent?")
        assert all("Paragraph" not in source["snippet"] for source in answer["sources"])


def test_url_whose_fetch_fails_on_reingestion_keeps_no_chunks_without_points(
    database_url: str,
    vector_engine: dict[str, Any],
    postgresql: psycopg.Connection[Any],
    page_server: PageServer,
) -> None:
    """A failed re-ingestion removes the document's points: its chunk rows must go too.

    Otherwise the document says failed yet reports chunks (chunk_count, document_chunks
    rows) whose Qdrant points no longer exist.
    """
    settings = rag_settings(
        database_url,
        vector_engine,
        fetch_allow_hosts="127.0.0.1",
        chunk_target_chars=100,
        chunk_overlap_chars=0,
    )
    page_server.changing, page_server.changing_status = CANOES, 200
    url = page_server.url + "/changing.md"
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        first = client.post("/documents", json={"url": url}, headers=headers)
        assert first.status_code == 202, first.text
        assert wait_for_document(client, headers, first.json()["id"])["status"] == "completed"

        page_server.changing_status = 404
        again = client.post("/documents", json={"url": url}, headers=headers)
        assert again.status_code == 202, again.text
        document = wait_for_document(client, headers, first.json()["id"])

        assert document["status"] == "failed"
        assert document["error"] == f"{url} answered HTTP 404"
        points = qdrant_point_ids(client, document["id"])
        rows = chunk_rows(postgresql, document["id"])
        assert points == set()
        assert {row[2] for row in rows} == points
        assert document["chunk_count"] == len(rows)
