"""Discourse transport: one HTTP attempt per call, and what a failed attempt means.

`DiscourseAPI` subclasses pydiscourse's client and overrides only `_request`, so each call
is exactly one HTTP attempt (pydiscourse's own 429 loop sleeps with `time.sleep` up to four
times, which can be neither bounded nor observed); it still raises pydiscourse's own
exception types. `ForumClient` (client.py) then retries 429, 5xx, timeouts and connection
errors with capped exponential backoff through its injected `sleep`, and maps every failure
to `ServiceError` / `NotFound`, whose messages never carry the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import (
    DiscourseClientError,
    DiscourseError,
    DiscourseRateLimitedError,
    DiscourseServerError,
)

from forumsync.errors import backoff_delay
from forumsync.forum.parse import DETAIL_LIMIT, error_detail, rate_limit_wait
from forumsync.transport import EnvironmentOnce

BASE_WAIT = 1.0
MAX_WAIT = 60.0  # no single wait is longer; a 429 asking for more is not waited out


def backoff(attempt: int, hint: float | None) -> float:
    """Wait before retry `attempt` (0-based): the server's hint, else 1, 2, 4… s; capped."""
    if hint is not None and hint > 0:
        return min(hint, MAX_WAIT)
    return backoff_delay(attempt, MAX_WAIT, BASE_WAIT)


class DiscourseAPI(DiscourseClient):
    """pydiscourse's client, one HTTP attempt per call over a kept-alive session."""

    def __init__(self, host: str, api_username: str, api_key: str,
                 timeout: tuple[float, float]) -> None:
        super().__init__(host.rstrip("/"), api_username, api_key, timeout=timeout)
        self.session = EnvironmentOnce()
        self.moved: dict[str, str] = {}  # GET path -> where it redirected (e.g. /c/9.json)
        # a forum under a path (https://example.org/forum): redirects name that path too
        self.base_path = urlsplit(self.host).path.rstrip("/")

    def _request(  # type: ignore[override]
        self,
        verb: str,
        path: str,
        params: Any = None,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        override_request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json; charset=utf-8"}
        if self.api_key:  # without a key, read anonymously (public data only)
            headers["Api-Key"] = self.api_key
            headers["Api-Username"] = self.api_username
        kwargs: dict[str, Any] = {
            "allow_redirects": False,
            "params": params,
            "files": files,
            "data": data,
            "json": json,
            "headers": headers,
            "timeout": self.timeout,
        }
        kwargs.update(override_request_kwargs or {})
        target = self.moved.get(path, path) if verb == "GET" else path
        response = self.session.request(verb, self.host + target, **kwargs)
        try:
            decoded = decode(response, verb)
        except DiscourseError:
            self.moved.pop(path, None)  # a remembered redirect that fails is forgotten
            raise
        if verb == "GET" and response.history and all(
                r.status_code in (301, 308) for r in response.history):
            # a permanent redirect (/c/{id}.json -> /c/{slug}/{id}.json) that led to a good
            # answer: go there directly next time, saving one request per page every cycle
            self.moved[path] = relative_path(self.base_path, urlsplit(response.url).path)
        return decoded

    # Endpoints pydiscourse has no method for, or none that fits (JSON bodies, paging).

    def get_json(self, path: str, *, follow: bool = False, **params: Any) -> Any:
        override = {"allow_redirects": True} if follow else None
        return self._get(path, override_request_kwargs=override, **params)

    def post_json(self, path: str, **body: Any) -> Any:
        return self._post(path, json=True, **body)

    def put_json(self, path: str, **body: Any) -> Any:
        return self._put(path, json=True, **body)


def relative_path(base_path: str, path: str) -> str:
    """`path` relative to the forum's own path: `/forum/c/ideas/9.json` under `/forum` is
    `/c/ideas/9.json`, which is what gets appended to the forum's URL."""
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        return path[len(base_path):] or "/"
    return path


def decode(response: requests.Response, verb: str = "GET") -> Any:
    """pydiscourse's rules for a response, as exceptions of its own types, without sleeping."""
    status = response.status_code
    if status == 429:
        raise DiscourseRateLimitedError("rate limited", response=response)
    if 400 <= status < 500:
        raise DiscourseClientError(f"HTTP {status}", response=response)
    if status >= 500:
        raise DiscourseServerError(f"HTTP {status}", response=response)
    if 300 <= status < 400:
        raise DiscourseError(f"unexpected redirect (HTTP {status})", response=response)
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        if not response.content.strip() and verb != "GET":
            return None  # a write answered with no body
        raise DiscourseError(f"expected JSON, got {media_type or 'no content type'}",
                             response=response)
    try:
        decoded = response.json()
    except ValueError:
        raise DiscourseError("response is not valid JSON", response=response) from None
    if isinstance(decoded, Mapping) and decoded.get("errors"):
        raise DiscourseError(error_detail(decoded, "error"), response=response)
    return decoded


@dataclass(frozen=True)
class Failure:
    detail: str
    status: int | None
    transient: bool
    wait: float | None = None


def classify(exc: Exception) -> Failure:
    """What a failed attempt means: its status, whether a retry may help, any wait hint."""
    if isinstance(exc, DiscourseError):
        response = exc.response
        status = response.status_code if response is not None else None
        payload = _json_or_none(response)
        if status == 429:
            wait = rate_limit_wait(payload, response.headers.get("Retry-After"))
            return Failure(error_detail(payload, "rate limited (HTTP 429)"), 429, True, wait)
        if status is not None and status >= 500:
            return Failure(f"server error (HTTP {status})", status, True)
        if status is not None and status >= 400:
            return Failure(error_detail(payload, f"HTTP {status}"), status, False)
        return Failure(str(exc)[:DETAIL_LIMIT], status, False)
    if isinstance(exc, requests.Timeout):
        return Failure("timed out", None, True)
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Failure("connection failed", None, True)
    return Failure(f"request failed ({type(exc).__name__})", None, False)


def _json_or_none(response: requests.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None
