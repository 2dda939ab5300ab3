"""GitHub transport policy: which answers are rate limits and how long to wait, the
urllib3 retry that PyGithub's Requester runs every request through, and its connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from github import GithubRetry
from github.GithubException import (
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
)
from github.Requester import Requester
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from forumsync.errors import backoff_delay
from forumsync.repo.parse import lower_keys
from forumsync.transport import EnvironmentOnce

DEFAULT_MAX_WAIT = 120.0  # seconds: a longer rate-limit wait fails the call instead
SECONDARY_WAIT = 60.0  # GitHub: without retry-after or reset, wait at least a minute


def rate_limit_wait(
    status: int, headers: Mapping[str, Any], message: str | None, now: float,
    default: float = SECONDARY_WAIT,
) -> float | None:
    """Seconds to wait before retrying a rate-limited response, or None if it is not one.

    As GitHub documents it: retry-after wins; x-ratelimit-remaining 0 means wait until
    x-ratelimit-reset (epoch seconds, plus one for the partial second); a 429, or a 403 whose
    message names a rate limit, without either header means wait at least a minute. A 403
    with none of these is a refusal, not a limit.
    """
    if status not in (403, 429):
        return None
    h = lower_keys(headers)
    waits = []
    retry_after = h.get("retry-after", "").strip()
    if retry_after.isdigit():
        waits.append(float(retry_after))
    if h.get("x-ratelimit-remaining", "").strip() == "0":
        reset = h.get("x-ratelimit-reset", "").strip()
        waits.append(max(0.0, int(reset) - now) + 1 if reset.isdigit() else default)
    if waits:
        return max(waits)
    if status == 429 or Requester.isRateLimitError((message or "").lower()):
        return default
    return None


def _repeatable(method: str | None, url: str | None) -> bool:
    """Creating a comment is the one call not safe to repeat once the server may have seen
    it: a retry after a lost answer could post twice. The engine's hidden markers make the
    next cycle exactly-once instead. Label calls are idempotent and may be repeated."""
    path = (url or "").split("?", 1)[0]
    return not (method == "POST" and path.endswith("/comments"))


class ServiceRetry(GithubRetry):
    """PyGithub's GithubRetry (urllib3 retries for 403 and 5xx, capped by
    `max_rate_limit_wait`, raising its RateLimitExceededExceedsMaxWait) with four changes:
    rate limits are read from the headers GitHub documents (also on 429) before the message;
    retry-after is capped too; a comment POST is never repeated; every wait goes through the
    injected `sleep`, so tests do not sleep."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        kwargs.setdefault("raise_on_status", False)  # the last answer reaches PyGithub as is
        super().__init__(**kwargs)
        self.wait_sleep = sleep
        self.planned_wait: float | None = None

    def new(self, **kw: Any) -> ServiceRetry:
        retry = super().new(**kw)
        retry.wait_sleep = self.wait_sleep
        return retry

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if response is not None and response.status in (403, 429):
            return self._rate_limited(method, url, response, error, _pool, _stacktrace)
        if not _repeatable(method, url):
            if response is not None:
                reason = ResponseError("not repeated: the server may have acted")
                raise MaxRetryError(_pool, url, reason)
            if error is not None and self._is_read_error(error):
                raise error.with_traceback(_stacktrace)
        return Retry.increment(self, method, url, response, error, _pool, _stacktrace)

    def _rate_limited(
        self, method: str | None, url: str | None, response: Any, error: Exception | None,
        _pool: Any, _stacktrace: Any,
    ) -> Retry:
        headers = dict(response.headers)
        content: Any = None
        default = self.secondary_rate_wait
        wait = rate_limit_wait(response.status, headers, None, time.time(), default)
        if wait is None:  # only the message tells a secondary limit from a refusal
            content = json_or_none(self.get_content(response, url or ""))
            message = content.get("message") if isinstance(content, dict) else None
            wait = rate_limit_wait(response.status, headers, message, time.time(), default)
            if wait is None:
                raise Requester.createException(response.status, headers, content)
        if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(response.status, content, headers, wait=wait)
        try:
            retry = Retry.increment(self, method, url, response, error, _pool, _stacktrace)
        except MaxRetryError:
            raise RateLimitExceededException(response.status, content, headers) from None
        retry.planned_wait = wait
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self.planned_wait
        if wait is None:
            wait = backoff_delay(len(self.history) - 1, self.backoff_max)
        if wait > 0:
            self.wait_sleep(wait)


def json_or_none(raw: bytes | str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def read_environment_once(requester: Requester) -> None:
    """Make `requester`'s connection send through an `EnvironmentOnce` session with PyGithub's
    own adapter (its retry and pool) and auth: the proxy and CA environment is read once
    rather than on every request."""
    plain = requester._Requester__connectionClass  # type: ignore[attr-defined]

    class Connection(plain):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            session = EnvironmentOnce()
            session.auth = self.session.auth
            session.mount(f"{self.protocol}://", self.adapter)
            self.session = session

    requester._Requester__connectionClass = Connection  # type: ignore[attr-defined]
