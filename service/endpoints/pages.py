"""The web pages: the chat page at ``/`` and the API reference at ``/docs``, both offline.

They are not JSON API operations (no credential, no body, HTML and assets rather than
JSON), so they are mounted beside the route table, and /openapi.json does not list them.
The chat page is static HTML, CSS and JavaScript from ``service/static/``; it calls the
API from the service's own origin with the HttpOnly cookie the first ``POST /chat`` sets.
``/docs`` is Swagger UI, its assets from the ``swagger-ui-bundle-v2`` package, reading
``/openapi.json``.

Every answer carries a Content-Security-Policy that allows the page's own assets only: no
inline script or style, nothing from another origin. Own files are revalidated on every
load (``no-cache``, with ETag and Last-Modified, so mostly a 304); Swagger UI's files sit
under a path naming their version and are cached for a year.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

__all__ = ["CHAT_PAGE_CSP", "DOCS_CSP", "routes"]

STATIC = Path(__file__).resolve().parent.parent / "static"

# The chat page: its own scripts, styles, images and API calls, nothing else; no framing.
CHAT_PAGE_CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI draws its icons from data: URLs in its stylesheet; otherwise the same.
DOCS_CSP = CHAT_PAGE_CSP + "; img-src 'self' data:"

REVALIDATE = "no-cache"  # kept, but asked about each time: a deploy shows at once
IMMUTABLE = "public, max-age=31536000, immutable"  # the path changes with the content

# What /docs uses of the Swagger UI distribution (its own index.html points elsewhere).
_SWAGGER_FILES = frozenset(
    {"swagger-ui.css", "swagger-ui.css.map", "swagger-ui-bundle.js", "swagger-ui-bundle.js.map"}
)


def _headers(csp: str, cache_control: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


class _Files(StaticFiles):
    """The files named ``only`` of a directory (any other path is a 404), answered with the
    page headers, and with a 304 when the browser's copy is current (as StaticFiles does)."""

    def __init__(self, directory: Path, headers: dict[str, str], only: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self._page_headers = headers
        self._only = only

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self._only:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self._page_headers)
        return response


def _swagger_ui() -> Path:
    """The Swagger UI distribution the swagger-ui-bundle-v2 package ships (its directory is
    named after the version: swagger-ui-5.31.0)."""
    vendor = Path(str(files("swagger_ui_bundle").joinpath("vendor")))
    (directory,) = sorted(vendor.glob("swagger-ui-*"))
    return directory


def routes() -> list[BaseRoute]:
    """``/`` and ``/static/...``: the chat page; ``/docs`` and its Swagger UI assets."""
    headers = _headers(CHAT_PAGE_CSP, REVALIDATE)
    pages = _Files(STATIC, headers, only=frozenset({"index.html"}))
    assets = frozenset(path.name for path in STATIC.iterdir() if path.suffix != ".html")
    swagger = _swagger_ui()
    docs_assets = f"/docs/{swagger.name}"
    # The reference page names the versioned assets; the rest of it is plain static HTML.
    docs_html = (
        (STATIC / "docs.html").read_bytes().replace(b"/docs/SWAGGER_UI", docs_assets.encode())
    )
    docs_headers = _headers(DOCS_CSP, REVALIDATE)

    async def chat_page(request: Request) -> Response:
        return await pages.get_response("index.html", request.scope)

    async def docs_page(request: Request) -> Response:
        return Response(docs_html, media_type="text/html", headers=docs_headers)

    return [
        Route("/", chat_page, methods=["GET"], name="chat_page"),
        Mount("/static", _Files(STATIC, headers, only=assets), name="static"),
        Route("/docs", docs_page, methods=["GET"], name="docs_page"),
        Mount(
            docs_assets,
            _Files(swagger, _headers(DOCS_CSP, IMMUTABLE), only=_SWAGGER_FILES),
            name="swagger_ui",
        ),
    ]
