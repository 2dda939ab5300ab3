"""The ASGI app behind `forumsync serve`: the committee's dashboard (read-only, server-rendered,
no JavaScript), its JSON API, the health check and the two webhooks.

Starlette because it is a small routing layer over ASGI with Jinja2 templates and a test
client built in, and uvicorn serves it from a thread beside the worker; nothing here needs
an ORM integration, forms or sessions that a bigger framework would bring.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from forumsync import health
from forumsync.config import Config
from forumsync.serve import deliveries, views, webhooks
from forumsync.timeutil import utcnow

TEMPLATES = Path(__file__).with_name("templates")
STAGE_LABELS = {"idea": "Idea", "accepted": "Accepted", "draft": "Draft",
                "published": "Published", "endorsed": "Endorsed", "withdrawn": "Withdrawn"}
# Security headers on every answer: the pages load nothing from anywhere, run no script and
# may not be framed.
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class BasicAuth:
    """HTTP basic authentication on the dashboard and the API; `/healthz` and the webhooks
    (signed) stay open. Credentials compared in constant time."""

    OPEN = ("/healthz", "/webhooks/")

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.expected = f"{user}:{password}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.OPEN) or \
                self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse("authentication required", 401, headers={
            "www-authenticate": 'Basic realm="forumsync", charset="UTF-8"'})
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self.expected)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *(
                    (k.encode(), v.encode()) for k, v in HEADERS.items())]
            await send(message)

        await self.app(scope, receive, sending if scope["type"] == "http" else send)


def create_app(config: Config, sessions: sessionmaker[Session], *,
               wake: Callable[[], None] = lambda: None,
               clock: Callable[[], datetime] = utcnow) -> Starlette:
    """The app over one database. `wake` tells an in-process worker a delivery is waiting
    (a worker elsewhere finds it by polling); `clock` is what "now" is (tests move it)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["stage_labels"] = STAGE_LABELS
    env.filters["day"] = lambda iso: iso[:10] if iso else "—"

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status)

    def index(request: Request) -> Response:
        stage = request.query_params.get("stage") or None
        if stage is not None and stage not in views.STAGE_ORDER:
            return page("error.html", 404, message=f"No stage called {stage!r}.")
        with sessions() as session:
            rows = views.spec_table(session, config, clock(), stage)
            counts = views.stage_counts(session)
        return page("index.html", rows=rows, stage=stage, counts=counts,
                    total=sum(counts.values()))

    def spec(request: Request) -> Response:
        with sessions() as session:
            found = views.find_spec(session, request.path_params["key"])
            if found is None:
                return page("error.html", 404, message="No SPEC with that key.")
            data = views.spec_page(session, found, config, clock())
        return page("spec.html", spec=data)

    def digest(request: Request) -> Response:
        from markdown_it import MarkdownIt

        with sessions() as session:
            data = views.next_digest(session, config, clock())
        # the digest's own Markdown, HTML off: copied text stays text, only http(s) links
        html = MarkdownIt("commonmark", {"html": False}).enable("table").render(
            data["markdown"]).replace("<th>", '<th scope="col">')  # header cells name columns
        return page("digest.html", digest=data, html=html)

    def api_specs(request: Request) -> Response:
        stage = request.query_params.get("stage") or None
        with sessions() as session:
            return JSONResponse({"specs": views.spec_table(session, config, clock(), stage)})

    def api_spec(request: Request) -> Response:
        with sessions() as session:
            found = views.find_spec(session, request.path_params["key"])
            if found is None:
                return JSONResponse({"error": "no SPEC with that key"}, 404)
            return JSONResponse(views.spec_page(session, found, config, clock()))

    def api_deliveries(request: Request) -> Response:
        with sessions() as session:
            return JSONResponse({"deliveries": [{
                "source": d.source, "event": d.event, "subject": d.subject,
                "received_at": d.received_at.isoformat(),
                "processed_at": d.processed_at.isoformat() if d.processed_at else None,
            } for d in deliveries.recent(session)]})

    def healthz(request: Request) -> Response:
        with sessions() as session:
            state = health.worker_state(session)
        healthy, message = health.check(state, clock(), config.schedule.sync_every_minutes)
        return PlainTextResponse(message + "\n", 200 if healthy else 503)

    routes = [
        Route("/", index),
        Route("/specs/{key}", spec),
        Route("/digest", digest),
        Route("/api/specs", api_specs),
        Route("/api/specs/{key}", api_spec),
        Route("/api/deliveries", api_deliveries),
        Route("/healthz", healthz),
        Route("/webhooks/github", webhooks.handler(webhooks.GITHUB, config, sessions, wake),
              methods=["POST"]),
        Route("/webhooks/discourse", webhooks.handler(webhooks.DISCOURSE, config, sessions,
                                                      wake), methods=["POST"]),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if config.serve.basic_auth_user:
        middleware.append(Middleware(BasicAuth, user=config.serve.basic_auth_user,
                                     password=config.serve.basic_auth_password or ""))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.private = bool(config.serve.basic_auth_user)
    return app
