"""Full-text search over the caller's own messages (GET /search)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..json import json_response
from ..schemas import SearchQuery, SearchResults, search_result_out
from ..usecases.accounts import Principal
from ..validation import invalid, named_cursor

__all__ = ["search", "search_text"]


def search_text(q: str) -> str:
    """The ``q`` query parameter, once its length is checked (schemas.SearchText): 422 when
    it holds nothing but whitespace, which no message could match."""
    if not q.strip():
        raise invalid("query", "q", "must contain a word to search for")
    return q


async def search(request: Request, *, user: Principal, query: SearchQuery, limit: int) -> Response:
    with named_cursor("cursor"):
        page = await store.search_messages(
            request.state.db,
            user.user_id,
            config=request.state.settings.search_config,
            query=search_text(query.q),
            limit=limit,
            cursor=query.cursor or None,
            session_id=query.session_id or None,
        )
    results = [search_result_out(hit) for hit in page.hits]
    return json_response(SearchResults(results=results, next_cursor=page.next_cursor))
