"""The dashboard's web app (Starlette): the page, the whole model and each panel as JSON, and
the page's static scripts. GET only; the stores are read again on every request, so nothing
shown can be staler than the page.

On loopback without a token, only requests naming a loopback host are answered (a page on some
other site cannot reach the dashboard through DNS rebinding). With a token, every request must
carry it: ``Authorization: Bearer TOKEN`` or ``?token=TOKEN``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .models import Dashboard
from .page import SERVED_POLICY, STATIC, served_page
from .unreadable import STORE_ERRORS

PANELS = tuple(
    name for name in Dashboard.model_fields if name not in ("generated", "since", "sources")
)
"""The panels served one by one at /api/PANEL."""
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Loader = Callable[[], Dashboard]
log = logging.getLogger(__name__)


class StoreUnreadable(Exception):
    """A store could not be read; the message says which and why."""


def create_app(load: Loader, *, token: str | None = None) -> Starlette:
    """The dashboard over ``load`` (called once per request). With ``token``, every request
    must carry it; without, only loopback host names are answered."""

    def dashboard() -> Dashboard:
        try:
            return load()
        except STORE_ERRORS as exc:
            log.debug("dashboard data", exc_info=True)
            raise StoreUnreadable(f"{type(exc).__name__}: {exc}") from exc

    def page(request: Request) -> Response:
        query = f"?token={quote(token, safe='')}" if token else ""
        html = served_page(dashboard(), query=query)
        return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": SERVED_POLICY})

    def whole(request: Request) -> Response:
        return JSONResponse(dashboard().model_dump(mode="json"), headers=HEADERS)

    def panel(request: Request) -> Response:
        name = request.path_params["panel"]
        if name not in PANELS:
            known = ", ".join(PANELS)
            return JSONResponse({"error": f"no panel {name!r}; the panels: {known}"}, 404, HEADERS)
        return JSONResponse(getattr(dashboard(), name).model_dump(mode="json"), headers=HEADERS)

    def unreadable(request: Request, exc: Exception) -> Response:
        message = f"the dashboard could not read its data: {exc}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, 500, HEADERS)
        return PlainTextResponse(message, 500, HEADERS)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/api/dashboard", whole, methods=["GET"]),
        Route("/api/{panel}", panel, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={StoreUnreadable: unreadable})
    app.add_middleware(Gate, token=token)
    return app


class Gate:
    """ASGI middleware: only GET and HEAD, only with the token (when there is one), only for a
    loopback host name (when there is none)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("the dashboard is read-only", 405, {"Allow": "GET, HEAD"})
        if self.token is not None:
            if not _token_matches(request, self.token):
                return PlainTextResponse(
                    "a token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN",
                    401,
                    {"WWW-Authenticate": "Bearer"},
                )
            return None
        if _host_name(request.headers.get("host", "")) not in LOOPBACK_NAMES:
            return PlainTextResponse("the dashboard answers only on localhost", 403)
        return None


def _token_matches(request: Request, expected: bytes) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    given = value.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), expected)


def _host_name(host: str) -> str:
    """The name of a Host header, without its port or an IPv6 address's brackets."""
    return (urlsplit(f"//{host}").hostname or "").lower()
