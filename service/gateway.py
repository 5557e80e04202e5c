"""The API's front door: each operation of the route table answered without Starlette's router.

Starlette's router tries its routes one by one, each with a regular expression, and wraps the
endpoint it finds in three more layers (its exception middleware, the route, the request
handler). On the history read that was about a tenth of the request's CPU (issue 14,
tests/bench/RESULTS.md). Here a path is split once and looked up by its number of segments;
the first operation whose fixed segments match, and which takes the method, is answered, as
the router would (the first full match wins), and its errors by the app's exception handlers
(``errors.error_for``), as the router's exception middleware would.

Everything else goes on to the router, unchanged: the web pages and /docs, a path no
operation has (404), a method the path does not take (405, listing the allowed ones), and
the operations whose path parameter is a session name (it may hold "/", so it is matched
as the rest of the path, which the router does).
"""

from __future__ import annotations

import operator

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_for
from .routes import OPERATIONS, Endpoint, handler

__all__ = ["Gateway"]


class _Path:
    """One path of the route table, as segments: fixed names and parameters."""

    def __init__(self, path: str, handlers: dict[str, Endpoint]) -> None:
        self.path = path
        parts = path.split("/")
        fixed = [n for n, part in enumerate(parts) if part[:1] != "{"]
        # The leading "" is always fixed, so there are at least two and itemgetter gives a tuple.
        self.fixed_parts = operator.itemgetter(*fixed)
        self.fixed_names = tuple(parts[n] for n in fixed)
        self.parameters = [(n, part[1:-1]) for n, part in enumerate(parts) if part[:1] == "{"]
        self.handlers = handlers


class Gateway:
    """ASGI middleware in front of the router (the last of the app's middleware): answers the
    route table's operations itself, and passes every other request to the router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        by_path: dict[str, dict[str, Endpoint]] = {}
        for operation in OPERATIONS:
            if operation.keys:
                continue  # matched as the rest of the path: the router's to do
            by_path.setdefault(operation.path, {})[operation.method] = handler(operation)
            if operation.method == "GET":
                by_path[operation.path]["HEAD"] = by_path[operation.path]["GET"]
        self._by_length: dict[int, list[_Path]] = {}
        for path, handlers in by_path.items():
            entry = _Path(path, handlers)
            self._by_length.setdefault(path.count("/") + 1, []).append(entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.find(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await found[1](request)
        except Exception as error:
            response = await error_for(request, error)
        await response(scope, receive, send)

    def find(self, scope: Scope) -> tuple[str, Endpoint] | None:
        """The path (as the route table writes it) and handler of the request's operation,
        with the path parameters put in the scope (``request.path_params``); None when the
        router is to answer."""
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # mounted under a prefix: as the router sees it
            path = path[len(root) :]
        parts = path.split("/")
        if parts.count("") > 1:
            return None  # "//" or a trailing "/": no operation's path has an empty segment
        for entry in self._by_length.get(len(parts), ()):
            if entry.fixed_parts(parts) != entry.fixed_names:
                continue
            found = entry.handlers.get(scope["method"])
            if found is None:
                return None  # the router answers 405 and lists the methods
            scope["path_params"] = {name: parts[n] for n, name in entry.parameters}
            return entry.path, found
        return None
