"""ASGI middleware: a few hot routes are dispatched straight to their endpoint.

FastAPI matches a request against every route in order (a few microseconds each) and runs its
exception, exit-stack and dependency machinery around each endpoint. The DSP endpoints need
none of it: they take the ``Request`` and path parameters, catch every error themselves and
answer DSP error bodies. :class:`DirectRoutes` sits inside the body-size limit, matches only
paths under its prefix against its own routes and calls the endpoint; anything else (and a
path under the prefix no route matches, or a method none allows) goes on to the application,
which stays the single place for 404/405 answers and the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]


class DirectRoutes:
    """Dispatch ``routes`` (FastAPI routes whose endpoints take ``request`` plus the path
    parameters) without the framework's per-request machinery."""

    def __init__(self, app: ASGIApp, *, prefix: str, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"
        self.routes = [
            (
                route.path_regex,
                route.param_convertors,
                frozenset(route.methods or ()),
                route.endpoint,
            )
            for route in routes
        ]

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, Any]] | None:
        """The endpoint and converted path parameters for a request, if a route takes it."""
        if not path.startswith(self.prefix):
            return None
        for regex, convertors, methods, endpoint in self.routes:
            found = regex.match(path)
            if found is None or method not in methods:
                continue
            params = {
                name: convertors[name].convert(value) for name, value in found.groupdict().items()
            }
            return endpoint, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.match(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        endpoint, params = target
        scope["path_params"] = params
        response = await endpoint(Request(scope, receive), **params)
        await response(scope, receive, send)
