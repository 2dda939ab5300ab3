"""What both adapters share about the network: timeouts, services that cannot be reached,
and a stop that was asked for.

A service that cannot be reached (its name does not resolve, the connection is refused, the
connection does not open within `CONNECT_TIMEOUT`) is not retried: waiting would not help
within one cycle. Its first such failure marks it down for the rest of the cycle, so every
later call to it fails at once, and the command line prints one line per service with the
cause and a hint and exits 3.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

from forumsync.errors import ServiceError

CONNECT_TIMEOUT = 3.0  # seconds to open a connection; the read timeout is configuration

HINTS = {
    "name does not resolve": "check the host name in the URL and this machine's DNS",
    "connection refused": "nothing listens at that address and port: check the URL",
    "connection timed out": "the host does not answer: check the network and any firewall",
    "network unreachable": "this machine has no route there: check the network",
    "no answer": "the server accepts connections but did not answer within the read "
                 "timeout: check the service's status",
}


class Unreachable(ServiceError):
    """The service could not be reached at all; nothing was sent to it."""

    def __init__(self, service: str, operation: str, item: str, cause: str) -> None:
        super().__init__(service, operation, item, cause, transient=True)
        self.cause = cause

    @property
    def hint(self) -> str:
        return HINTS.get(self.cause, "check the URL and the network")


class Stopping(ServiceError):
    """A stop was asked for while reading: the cycle ends without reading further."""

    def __init__(self, service: str, operation: str, item: str) -> None:
        super().__init__(service, operation, item, "stopping: not read", transient=True)


class StopRequested(Exception):
    """Raised between SPECs (never within one SPEC's writes) once a stop was asked for."""


class Shutdown:
    """The worker's stop request, seen by every adapter call. Reads stop at once; once a
    cycle is writing (`writing`), calls go on so the current SPEC's writes complete, and the
    cycle stops at the next SPEC boundary instead."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.writing = False

    def check(self, service: str, operation: str, item: str) -> None:
        if self.requested.is_set() and not self.writing:
            raise Stopping(service, operation, item)

    def reset(self) -> None:
        self.requested.clear()
        self.writing = False


SHUTDOWN = Shutdown()


def pause(seconds: float) -> None:
    """A pacing wait that a stop cuts short (the next call then stops), so pacing never
    holds up a clean shutdown."""
    SHUTDOWN.requested.wait(seconds)

# Called with (service, status, response headers) for each answer or failure to connect;
# the Prometheus metrics register here (forumsync.metrics).
RESPONSE_LISTENERS: list[Callable[[str, str, Mapping[str, str]], None]] = []


def unreachable_cause(exc: BaseException) -> str | None:
    """Why a connection could not be opened, if that is what `exc` says; None otherwise
    (a read that timed out or a reset mid-answer may succeed when tried again)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, socket.gaierror) or name == "NameResolutionError":
            return "name does not resolve"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if name in ("ConnectTimeoutError", "ConnectTimeout"):
            return "connection timed out"
        if name in ("ReadTimeoutError", "ReadTimeout"):
            return "no answer"  # a hung server: another try would hang as long
        if isinstance(current, OSError) and current.errno in (errno.ENETUNREACH,
                                                               errno.EHOSTUNREACH):
            return "network unreachable"
        text = str(current)
        if "Failed to resolve" in text or "Name or service not known" in text:
            return "name does not resolve"
        if "Connection refused" in text:
            return "connection refused"
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       *[a for a in current.args if isinstance(a, BaseException)]):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return None


class EnvironmentOnce(requests.Session):
    """A requests session that reads the environment (HTTP(S)_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) once per scheme and host, not on every request:
    requests scans every variable twice per call, a sizeable share of a request's CPU. What
    it finds is what requests would find; a process's environment does not change under it."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str, str | None], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: dict[str, str] | None, stream: bool | None, verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies else None
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        if key not in self._environment:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._environment[key] = get_environ_proxies(url, no_proxy=no_proxy), bundle
        env_proxies, bundle = self._environment[key]
        proxies = dict(proxies or {})
        for name, value in env_proxies.items():
            proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = bundle or verify
        return {"proxies": merge_setting(proxies, self.proxies),
                "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify),
                "cert": merge_setting(cert, self.cert)}


class ServiceLink:
    """One adapter's view of its service for the current cycle: down or not. A server that
    accepts connections but does not answer is down after `silences_allowed` + 1 read
    timeouts in one cycle (one may be a passing hiccup; more mean waiting a read timeout
    for every call)."""

    def __init__(self, service: str, silences_allowed: int = 1) -> None:
        self.service = service
        self.down: Unreachable | None = None
        self.silences_allowed = silences_allowed
        self.silences = 0

    def before(self, operation: str, item: str) -> None:
        """Called before each request: fails at once if stopping or the service is down."""
        SHUTDOWN.check(self.service, operation, item)
        if self.down is not None:
            raise Unreachable(self.service, operation, item, self.down.cause)

    def failed(self, exc: BaseException, operation: str, item: str) -> Unreachable | None:
        """If `exc` means the service cannot be reached, mark it down and return the error
        to raise (not to retry); None for any other failure."""
        cause = unreachable_cause(exc)
        if cause is None:
            return None
        if cause == "no answer" and self.silences < self.silences_allowed:
            self.silences += 1
            return None  # tried again (by the caller's retries) before giving up on it
        self.down = Unreachable(self.service, operation, item, cause)
        self.record("unreachable")
        return self.down

    def record(self, status: int | str, headers: Mapping[str, str] | None = None) -> None:
        for listener in RESPONSE_LISTENERS:
            listener(self.service, str(status), headers or {})

    def response_hook(self, response: Any, *_args: Any, **_kwargs: Any) -> Any:
        """A `requests` response hook that records each answer."""
        self.record(response.status_code, response.headers)
        return response

    def reset(self) -> None:
        """A new cycle tries the service again."""
        self.down = None
        self.silences = 0


class WindowPacer:
    """At most `limit` requests in any `window` seconds, waited for before sending: a short
    burst goes at once, a long run is spread to the limit (Discourse's admin API allows 60
    a minute by default). `limit` 0: no pacing."""

    def __init__(self, limit: int, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = pause) -> None:
        self.limit, self.window = limit, window
        self.clock, self.sleep = clock, sleep
        self.sent: deque[float] = deque()

    def wait(self) -> float:
        """Sleep until one more request fits the window; returns the seconds waited."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        waited = 0.0
        if len(self.sent) >= self.limit:
            waited = self.window - (now - self.sent[0])
            self.sleep(waited)
            now = self.clock()
            self.sent.popleft()
        self.sent.append(now)
        return waited


class IntervalPacer:
    """Requests at least `interval` seconds apart (GitHub asks this of writes, against its
    secondary rate limits). `interval` 0: no pacing."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = pause) -> None:
        self.interval, self.clock, self.sleep = interval, clock, sleep
        self.last: float | None = None

    def wait(self) -> float:
        waited = 0.0
        if self.interval > 0 and self.last is not None:
            waited = max(0.0, self.interval - (self.clock() - self.last))
            if waited:
                self.sleep(waited)
        self.last = self.clock()
        return waited


class RateLimitPacer:
    """Reads paced only by what the service's headers say: with none of the rate limit left
    (x-ratelimit-remaining 0), wait until its reset (x-ratelimit-reset, epoch seconds) before
    the next request, if that is at most `max_wait`; a longer wait is left to the service,
    whose refusal fails the call as a rate limit (the rest waits for the next cycle)."""

    def __init__(self, max_wait: float, *, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = pause) -> None:
        self.max_wait, self.wall, self.sleep = max_wait, wall, sleep
        self.exhausted_until: float | None = None

    def update(self, headers: Mapping[str, str]) -> None:
        h = {str(k).lower(): str(v).strip() for k, v in headers.items()}
        remaining, reset = h.get("x-ratelimit-remaining", ""), h.get("x-ratelimit-reset", "")
        if remaining.isdigit():
            self.exhausted_until = float(reset) + 1 if remaining == "0" and reset.isdigit() \
                else None

    def wait(self) -> float:
        if self.exhausted_until is None:
            return 0.0
        waited = self.exhausted_until - self.wall()
        self.exhausted_until = None
        if 0 < waited <= self.max_wait:
            self.sleep(waited)
            return waited
        return 0.0
