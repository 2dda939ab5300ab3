"""The sandbox's HTTP plumbing: a routed fake service on 127.0.0.1, with request counts,
fault injection and a clock tests can move.

Each fake service (Discourse, GitHub) subclasses `FakeService` and registers its endpoints
with `@route`; `ServiceServer` serves one on an ephemeral port in a background thread.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def form(self) -> dict[str, Any]:
        """The body as JSON, or as form fields (pydiscourse sends both)."""
        content_type = self.headers.get("content-type", "")
        if "json" in content_type:
            return self.json() or {}
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {k: (v if k.endswith("[]") else v[-1]) for k, v in parsed.items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Fault:
    """A failure to inject on requests whose `METHOD path` matches `match` (a regex)."""

    match: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (or before the fault's own answer)
    hang: bool = False  # never answer until the server stops
    times: int = 1  # how many requests it hits
    passthrough: bool = False  # after the delay, answer normally (latency only)


class Clock:
    """Sandbox time: starts at a fixed moment, moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def tick(self) -> datetime:
        """Each write moves time one second, so successive events have distinct times."""
        return self.advance(seconds=1)


def iso(moment: datetime) -> str:
    """The API timestamp form: `2026-11-01T12:00:00Z` (GitHub) / with millis (Discourse)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Handler = Callable[..., Response]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for `METHOD pattern`; `{name}` captures one path segment."""

    def decorate(handler: Handler) -> Handler:
        routes = handler.__dict__.setdefault("_routes", [])
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+?)", pattern) + "$"
        routes.append((method, re.compile(regex), pattern))
        return handler

    return decorate


class FakeService:
    """State plus routes of one fake service; thread-safe through one lock."""

    name = "service"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.requests: Counter[str] = Counter()  # "GET /t/{id}.json" -> count
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.faults: list[Fault] = []
        self.base_url = ""
        self._routes = [
            (method, regex, pattern, getattr(self, name))
            for name in dir(type(self))
            if callable(getattr(type(self), name, None))
            for method, regex, pattern in getattr(getattr(type(self), name), "_routes", [])
        ]

    # --- used by tests -------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def request_total(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.log.clear()

    # --- used by the server --------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.match, f"{method} {path}"):
                    fault.times -= 1
                    return fault
        return None

    def dispatch(self, request: Request) -> Response:
        for method, regex, pattern, handler in self._routes:
            if method != request.method:
                continue
            found = regex.match(request.path)
            if found:
                request.params = found.groupdict()
                with self.lock:
                    self.requests[f"{method} {pattern}"] += 1
                    return handler(request)
        with self.lock:
            self.requests[f"{request.method} (unrouted)"] += 1
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        return Response(404, {"message": "Not Found"})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header tells the sandbox's time, as a real server's tells its own."""
        return format_datetime(self.server.service.clock.now(), usegmt=True)

    def _serve(self) -> None:
        service = self.server.service
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = _under(self.server.prefix, parts.path)
        if path is None:  # outside the path the service is installed under
            with service.lock:
                service.log.append((self.command, parts.path, 404))
            self._write(service.not_found(Request(self.command, parts.path, {}, {}, body)))
            return
        parts = parts._replace(path=path)
        fault = service.take_fault(self.command, parts.path)
        if fault is not None:
            if fault.hang:
                self.server.stopping.wait()
                return
            if fault.delay:
                time.sleep(fault.delay)
        if fault is not None and not fault.passthrough:
            response = Response(fault.status, fault.body, dict(fault.headers))
        else:
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = service.dispatch(request)
            except Exception as exc:  # a sandbox bug must show as a 500, not a hang
                response = Response(500, {"message": f"sandbox error: {exc!r}"})
        with service.lock:
            service.log.append((self.command, parts.path, response.status))
        self._write(response)

    def _write(self, response: Response) -> None:
        if isinstance(response.body, bytes):
            payload = response.body
        elif response.body is None:
            payload = b""
        else:
            payload = json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _under(prefix: str, path: str) -> str | None:
    """`path` with the service's path prefix removed; None when it is not under it."""
    if not prefix:
        return path
    if path != prefix and not path.startswith(prefix + "/"):
        return None
    return path[len(prefix):] or "/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: FakeService, prefix: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.service = service
        self.prefix = prefix
        self.stopping = threading.Event()


class ServiceServer:
    """Serves one fake service on 127.0.0.1 at an ephemeral port; use as a context manager.
    `prefix` installs it under a path (`/forum`), as a forum can be; other paths are 404."""

    def __init__(self, service: FakeService, prefix: str = "") -> None:
        self.service = service
        self._server = _Server(service, prefix.rstrip("/"))
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}{prefix.rstrip('/')}"
        service.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{service.name}", daemon=True,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms, not 500
        )

    def start(self) -> ServiceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ServiceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
