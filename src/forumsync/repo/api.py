"""Talking to GitHub's REST API: PyGithub's `Requester` (token or App auth, urllib3
retries, GitHub's error mapping) paced by our own clocks, every failure turned into a
ServiceError naming the operation and the item, never a secret.

Built on the Requester rather than on PyGithub's object model: its objects complete
themselves with extra GETs (a pull taken from a list fetches itself again to learn
`merged`), and they hide the response headers, while the cheap polls need each first page's
ETag. The retry policy is transport.py; nothing from PyGithub leaves this package.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

import requests
import urllib3.exceptions
from github import Github
from github.GithubException import (
    GithubException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
)
from github.Requester import Requester

from forumsync.config import GithubConfig
from forumsync.errors import NotFound, ServiceError, scrub
from forumsync.repo import parse as parsing
from forumsync.repo.auth import github_auth
from forumsync.repo.transport import (
    DEFAULT_MAX_WAIT,
    SECONDARY_WAIT,
    ServiceRetry,
    json_or_none,
    rate_limit_wait,
    read_environment_once,
)
from forumsync.timeutil import aware
from forumsync.transport import (
    CONNECT_TIMEOUT,
    IntervalPacer,
    RateLimitPacer,
    ServiceLink,
    pause,
)

SERVICE = "github"


class GithubApi:
    """Requests to one GitHub API, paced and guarded; `RepoClient` says which.

    `retries`: further attempts after 5xx, connection errors, timeouts and rate limits, with
    backoff 1, 2, 4 s (or the rate limit's own wait) through `sleep`. `max_wait`: the longest
    rate-limit wait accepted; a longer one fails at once as a transient ServiceError.
    `per_page`: page size of every list (GitHub's maximum is 100).
    """

    def __init__(
        self,
        config: GithubConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 3,
        max_wait: float = DEFAULT_MAX_WAIT,
        per_page: int = 100,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        pace: Callable[[float], None] = pause,
    ) -> None:
        self.config = config
        self.repo = config.repo
        self.org = config.repo.split("/", 1)[0]
        self._token = config.token
        self._max_wait = max_wait
        self._per_page = per_page
        self._base = f"/repos/{config.repo}"
        # urllib3 retries a read timeout once itself, so the first that reaches the link
        # means two silences: the service is down for this cycle
        self.link = ServiceLink(SERVICE, silences_allowed=0)
        # writes about a second apart (secondary limits); reads only by the rate-limit headers
        self._pace_all = IntervalPacer(config.seconds_between_requests, clock=clock, sleep=pace)
        self._pace_writes = IntervalPacer(config.seconds_between_writes, clock=clock, sleep=pace)
        self._pace_limit = RateLimitPacer(max_wait, wall=wall, sleep=pace)
        # connect=0: a name that does not resolve or a refused connection is not retried
        retry = ServiceRetry(sleep=sleep, total=retries, connect=0, read=1,
                             max_rate_limit_wait=max_wait,
                       secondary_rate_wait=SECONDARY_WAIT, backoff_max=30.0)
        self._gh = Github(
            base_url=config.api_url.rstrip("/"),
            auth=github_auth(config),
            timeout=max(1, math.ceil(config.timeout_seconds)),
            seconds_between_requests=None,  # paced here, with a clock tests can drive
            seconds_between_writes=None,
            retry=retry,
            per_page=per_page,
        )
        self._requester = self._gh.requester
        # PyGithub takes one number for both timeouts; requests takes (connect, read), and a
        # connection that does not open in CONNECT_TIMEOUT is not worth waiting for longer
        self._requester._Requester__timeout = (  # type: ignore[attr-defined]
            min(CONNECT_TIMEOUT, max(1, math.ceil(config.timeout_seconds))),
            max(1, math.ceil(config.timeout_seconds)))
        read_environment_once(self._requester)

    def close(self) -> None:
        self._gh.close()

    def _send(
        self,
        verb: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        raw: bool = False,
    ) -> tuple[int, dict[str, str], Any]:
        """One request through PyGithub's Requester; GitHub's errors as GithubException."""
        self.link.before(verb, url)
        waited = self._pace_limit.wait() + self._pace_all.wait()
        if verb != "GET":
            waited += self._pace_writes.wait()
        if waited >= 1:
            self.link.before(verb, url)  # a stop asked for while waiting
        status, response_headers, output = self._requester.requestJson(
            verb, url, dict(params) if params else None, headers, body
        )
        self._pace_limit.update(response_headers)
        self.link.record(status, response_headers)
        if status >= 400 or not raw:
            data = json_or_none(output)
            if status >= 400:
                raise Requester.createException(status, response_headers, data)
            if data is None and (output or (verb == "GET" and status == 200)):
                # a 200 that is not the promised JSON (an HTML error page from a proxy, an
                # empty body) is an error, never an answer such as "no such file"
                kind = parsing.lower_keys(response_headers).get("content-type") or "no content type"
                raise ValueError(f"the answer is not JSON (HTTP {status}, {kind.split(';')[0]})")
            return status, response_headers, data
        return status, response_headers, output

    def _get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._send("GET", url, params)[2]

    def _get_or_none(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return self._get(url, params)
        except GithubException as exc:
            if exc.status == 404 and not isinstance(exc, RateLimitExceededException):
                return None
            raise

    def _pages(
        self, path: str, params: Mapping[str, Any] | None = None,
        first_headers: dict[str, str] | None = None, *, root: bool = False,
    ) -> Iterator[tuple[int, dict[str, str], list[Any]]]:
        """(status, headers, items) per page, following Link rel="next" as GitHub gives it."""
        url: str | None = path if root else f"{self._base}{path}"
        query: dict[str, Any] | None = {**(params or {}), "per_page": self._per_page}
        headers = first_headers
        while url:
            status, response_headers, data = self._send("GET", url, query, headers)
            if status == 304:
                yield status, response_headers, []
                return
            if not isinstance(data, list):
                raise ValueError(f"expected a list page, got {type(data).__name__}")
            yield status, response_headers, data
            url, query, headers = parsing.next_page(response_headers), None, None

    def _list_page(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of a list (a path or a Link URL as given): its items and Link rels."""
        _, headers, data = self._send("GET", url, params)
        if not isinstance(data, list):
            raise ValueError(f"expected a list page, got {type(data).__name__}")
        return data, parsing.parse_links(parsing.lower_keys(headers).get("link"))

    def _items(self, path: str, *, root: bool = False) -> Iterator[Any]:
        for _, _, page in self._pages(path, root=root):
            yield from page

    @contextmanager
    def _guard(self, operation: str, item: str) -> Iterator[None]:
        """Turn whatever PyGithub, requests or a payload raised into ServiceError."""
        try:
            yield
        except ServiceError:
            raise
        except RateLimitExceededExceedsMaxWait as exc:
            self._fail(operation, item, f"rate limited: waiting {exc.wait or 0:.0f}s would "
                       f"exceed the {self._max_wait:.0f}s cap", exc.status, transient=True)
        except GithubException as exc:
            message = exc.data.get("message") if isinstance(exc.data, dict) else None
            detail = f"HTTP {exc.status}" + (f": {message}" if message else "")
            if exc.status == 404:
                raise NotFound(SERVICE, operation, item, scrub(detail, self._token),
                               status=404) from None
            limited = isinstance(exc, RateLimitExceededException) or rate_limit_wait(
                exc.status, exc.headers or {}, message, time.time()) is not None
            transient = exc.status >= 500 or limited
            self._fail(operation, item, detail, exc.status, transient=transient)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            down = self.link.failed(exc, operation, item)
            if down is not None:
                raise down from None
            reason = str(exc).splitlines()[0][:200] if str(exc) else ""
            self._fail(operation, item, f"{type(exc).__name__}: {reason}", None, transient=True)
        except (ValueError, KeyError, TypeError) as exc:
            self._fail(operation, item, f"unexpected response: {exc}", None, transient=False)
        except Exception as exc:  # a bug or a library surprise: still this call's failure
            self._fail(operation, item, f"unexpected error ({type(exc).__name__})", None,
                       transient=False)

    def _fail(
        self, operation: str, item: str, detail: str, status: int | None, *, transient: bool
    ) -> NoReturn:
        raise ServiceError(SERVICE, operation, item, scrub(detail, self._token),
                           status=status, transient=transient) from None


def server_time(headers: Mapping[str, Any]) -> datetime | None:
    """GitHub's clock, from an answer's Date header (None without a valid one)."""
    date = parsing.lower_keys(headers).get("date")
    try:
        return aware(parsedate_to_datetime(date)) if date else None
    except (TypeError, ValueError):
        return None
