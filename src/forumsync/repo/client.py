"""The GitHub side: reads the SPEC repository into plain records, writes labels and comments.

Built on PyGithub's `Requester` (token auth, pauses between requests and between writes,
urllib3 retries, GitHub's error mapping) rather than on its object model: PyGithub objects
complete themselves with extra GETs (a pull taken from a list fetches itself again to learn
`merged`), and they hide the response headers, while the cheap polls below need each first
page's ETag. Every response is turned into a record by a small pure function, so parsing is
tested on payload dicts (parse.py); the retry policy is transport.py; nothing
from PyGithub leaves this package.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import quote

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
from forumsync.records import (
    Activity,
    CommentRecord,
    IssueEvent,
    PullFile,
    PullRecord,
    SpecDocument,
)
from forumsync.repo import parse as parsing
from forumsync.repo.auth import app_bot_login, github_auth
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
SHA_MEDIA_TYPE = "application/vnd.github.sha"
LABEL_COLOR = "c5def5"


class RepoClient:
    """Reads and writes the SPEC repository; raises only ServiceError / NotFound.

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
        self._default_branch: str | None = None
        self._own_login: str | None = None  # "" once /user turned out unreadable
        self._known_labels: set[str] = set()
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

    # --- reads ---------------------------------------------------------------------------

    def pulls_updated_since(
        self, since: datetime | None, etag: str | None = None
    ) -> tuple[list[PullRecord], str | None]:
        """GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc, following Link
        rel="next", stopping at the first pull updated before `since`.

        The first page is conditional on `etag`: any update moves a pull to the top of this
        order, so an unchanged first page (304, free against the rate limit) means nothing
        changed, and ([], etag) comes back. Otherwise: the pulls and the first page's ETag.
        """
        since = aware(since) if since else None
        pulls: list[PullRecord] = []
        params = {"state": "all", "sort": "updated", "direction": "desc"}
        first = {"If-None-Match": etag} if etag else None
        with self._guard("list pull requests", self.repo):
            new_etag = None
            for index, (status, headers, page) in enumerate(self._pages("/pulls", params, first)):
                if index == 0:
                    if status == 304:
                        return [], etag
                    new_etag = parsing.etag_of(headers)
                for raw in page:
                    pull = parsing.pull_from_json(raw)
                    if since is not None and pull.updated_at < since:
                        return pulls, new_etag
                    pulls.append(pull)
            return pulls, new_etag

    def pull(self, number: int) -> PullRecord:
        """GET /repos/{o}/{r}/pulls/{n}: the single pull, with `merged` and `merged_by`."""
        with self._guard("read pull request", self._issue(number)):
            return parsing.pull_from_json(self._get(f"{self._base}/pulls/{number}"))

    def pull_files(self, number: int) -> list[PullFile]:
        """GET /repos/{o}/{r}/pulls/{n}/files, all pages."""
        with self._guard("list pull request files", self._issue(number)):
            return [parsing.pull_file_from_json(f) for f in self._items(f"/pulls/{number}/files")]

    def spec_document(self, path: str, ref: str) -> SpecDocument | None:
        """GET /repos/{o}/{r}/contents/{path}?ref=: the file's front matter; None on 404.
        A file whose front matter is missing or malformed raises ServiceError (not
        transient) naming the path, so the engine reports it."""
        item = f"{self.repo}/{path}@{ref}"
        with self._guard("read SPEC file", item):
            data = self._get_or_none(f"{self._base}/contents/{quote(path)}", {"ref": ref})
            if data is None:
                return None
            text = parsing.decode_content(data)
        try:
            return parsing.spec_document_from_text(path, text)
        except Exception as exc:  # malformed or hostile: reported as a bad file, never a crash
            detail = str(exc) if isinstance(exc, ValueError) else \
                f"front matter of an unexpected shape ({type(exc).__name__})"
            raise ServiceError(SERVICE, "read SPEC file", item, detail[:300]) from None

    def file_commits(self, path: str, limit: int = 100) -> list[str]:
        """GET /repos/{o}/{r}/commits?path=&per_page=: the shas of the latest commits that
        changed `path` on the default branch, newest first (one page: enough to find the
        version before a key was removed)."""
        with self._guard("list file history", f"{self.repo}/{path}"):
            data = self._get(f"{self._base}/commits", {"path": path, "per_page": limit})
            if not isinstance(data, list):
                raise ValueError("expected a list of commits")
            return [str(item["sha"]) for item in data]

    def default_branch(self) -> str:
        """GET /repos/{o}/{r}, once per client: the default branch's name rarely changes."""
        if self._default_branch is None:
            with self._guard("read repository", self.repo):
                self._default_branch = str(self._get(self._base)["default_branch"])
        return self._default_branch

    def default_branch_head(self, etag: str | None = None) -> tuple[str | None, str | None]:
        """GET /repos/{o}/{r}/commits/{default branch} with Accept: application/vnd.github.sha.

        The cheapest honest poll: the answer is the 40-character sha alone (not the commit
        or branch object), it is conditional on `etag`, and a 304 costs no rate limit. The
        branch name comes from GET /repos/{o}/{r} once per client. (None, etag) on 304.
        """
        branch = self.default_branch()
        headers = {"Accept": SHA_MEDIA_TYPE}
        if etag:
            headers["If-None-Match"] = etag
        with self._guard("read default branch head", f"{self.repo}@{branch}"):
            status, response_headers, text = self._send(
                "GET", f"{self._base}/commits/{quote(branch, safe='')}", headers=headers, raw=True
            )
            if status == 304:
                return None, etag
            sha = str(text).strip()
            if not re.fullmatch(r"[0-9a-f]{40}", sha):
                raise ValueError(f"expected a commit sha, got {sha[:60]!r}")
            return sha, parsing.etag_of(response_headers)

    def spec_files(self, ref: str) -> dict[str, str]:
        """GET /repos/{o}/{r}/git/trees/{ref}?recursive=1: path -> blob sha of each SPEC file
        (`spec-NNNN/index.md`, older `spec-NNNN.md`), one request for the whole tree."""
        with self._guard("list SPEC files", f"{self.repo}@{ref}"):
            data = self._get(f"{self._base}/git/trees/{quote(ref, safe='')}", {"recursive": "1"})
            if data.get("truncated"):
                raise ValueError("the tree listing was truncated by GitHub")
            return parsing.spec_files_from_tree(data["tree"])

    def core_projects(self, ref: str | None = None) -> list[str]:
        """GET /repos/{o}/{r}/contents/{core_projects_path}[?ref=]: the Core Projects, sorted."""
        path = self.config.core_projects_path.strip("/")
        params = {"ref": ref} if ref else None
        with self._guard("list core projects", f"{self.repo}/{path}@{ref or 'default'}"):
            listing = self._get(f"{self._base}/contents/{quote(path)}", params)
            if not isinstance(listing, list):
                raise ValueError(f"{path} is a file, not a folder")
            return parsing.core_projects_from_listing(listing)

    def labels(self, number: int) -> tuple[str, ...]:
        """GET /repos/{o}/{r}/issues/{n}/labels, all pages."""
        with self._guard("list labels", self._issue(number)):
            return tuple(label["name"] for label in self._items(f"/issues/{number}/labels"))

    def issue_events(self, number: int) -> list[IssueEvent]:
        """GET /repos/{o}/{r}/issues/{n}/events, all pages, oldest first; only labeled,
        unlabeled, closed, reopened and merged events (who changed a stage, and when)."""
        with self._guard("list issue events", self._issue(number)):
            found = (parsing.event_from_json(e) for e in self._items(f"/issues/{number}/events"))
            return sorted((e for e in found if e), key=lambda e: (e.created_at, e.id))

    def comments(self, number: int) -> list[CommentRecord]:
        """GET /repos/{o}/{r}/issues/{n}/comments, all pages, oldest first."""
        with self._guard("list comments", self._issue(number)):
            return [parsing.comment_from_json(c) for c in self._items(f"/issues/{number}/comments")]

    def find_comment_containing(self, number: int, text: str,
                                read: Sequence[CommentRecord] | None = None) -> int | None:
        """GET /repos/{o}/{r}/issues/{n}/comments until a comment contains `text` (the
        service's hidden marker) written by the token's own account (when GET /user tells
        which): checked before writing, so a rerun never posts twice. `read`: the PR's
        comments as read earlier this cycle (no request), when nothing but this service could
        have added its marker since."""
        own = self.own_login()
        if read is not None:
            return next((c.id for c in read if text in c.body and (
                own is None or c.author.lower() == own.lower())), None)
        with self._guard("search comments", self._issue(number)):
            for raw in self._items(f"/issues/{number}/comments"):
                author = ((raw.get("user") or {}).get("login") or "").lower()
                if text in (raw.get("body") or "") and (own is None or author == own.lower()):
                    return int(raw["id"])
        return None

    def pull_activity(self, number: int, exclude: Collection[str] = ()) -> Activity | None:
        """The latest human activity on the pull (see `pull_timeline`)."""
        return self.pull_timeline(number, exclude)[0]

    def pull_timeline(self, number: int, exclude: Collection[str] = (),
                      ) -> tuple[Activity | None, tuple[CommentRecord, ...] | None]:
        """GET /repos/{o}/{r}/issues/{n}/timeline: the latest human comment, review or commit
        on the pull, or None. Actors whose login is in `exclude` (any case: the service's
        own account) and comments carrying the hidden marker do not count.

        The timeline is paged oldest first, so the newest end is read first: one request
        when it fits one page (`per_page`, 100 by default); otherwise its Link rel="last",
        then rel="prev" backwards only while a page holds nothing that counts, page 1 coming
        from the first answer: each page read at most once. Should GitHub send rel="next"
        without rel="last", every page is read forwards instead. Also the pull's comments, when
        the whole timeline was read (None when only its newest end was).
        """
        with self._guard("read pull request activity", self._issue(number)):
            first, links = self._list_page(f"{self._base}/issues/{number}/timeline",
                                           {"per_page": self._per_page})
            if "last" not in links:
                items, url = list(first), links.get("next")
                while url:
                    page, links = self._list_page(url)
                    items += page
                    url = links.get("next")
                return parsing.latest_activity(items, exclude), parsing.timeline_comments(items)
            url = links.get("last")
            while url and parsing.page_number(url) != 1:
                page, links = self._list_page(url)
                found = parsing.latest_activity(page, exclude)
                if found:
                    return found, None
                url = links.get("prev")
            return parsing.latest_activity(first, exclude), None

    def own_login(self) -> str | None:
        """GET /user, once per client: the login the token acts as, so the engine knows its
        own label changes. None without a token, or when the token may not read /user (a
        GitHub App installation token gets 403 there)."""
        if not self._token and not self.config.app_id:
            return None
        if self._own_login is None and self.config.app_id:
            with self._guard("read own App", "/app"):
                self._own_login = app_bot_login(self.config)
        if self._own_login is None:
            with self._guard("read own account", "/user"):
                try:
                    self._own_login = parsing.login_of(self._get("/user"))
                except GithubException as exc:
                    if exc.status not in (403, 404) or isinstance(exc, RateLimitExceededException):
                        raise
                    self._own_login = ""
        return self._own_login or None

    def team_members(self, team_slug: str) -> frozenset[str] | None:
        """GET /orgs/{org}/teams/{slug}/members, all pages. None when the team cannot be read
        (401/403/404: no token, or a token without org access), so the engine can say that
        authority could not be checked."""
        item = f"{self.org}/{team_slug}"
        with self._guard("list team members", item):
            try:
                path = f"/orgs/{self.org}/teams/{quote(team_slug, safe='')}/members"
                return frozenset(parsing.login_of(user) for user in self._items(path, root=True))
            except RateLimitExceededException:
                raise
            except GithubException as exc:
                if exc.status in (401, 403, 404):
                    return None
                raise

    # --- writes --------------------------------------------------------------------------

    def add_label(self, number: int, name: str) -> None:
        """POST /repos/{o}/{r}/issues/{n}/labels, after making sure the repository label
        exists (GET /repos/{o}/{r}/labels/{name}; on 404 POST /repos/{o}/{r}/labels)."""
        with self._guard("add label", f"{self._issue(number)} {name!r}"):
            self._ensure_label(name)
            self._send("POST", f"{self._base}/issues/{number}/labels", body={"labels": [name]})

    def remove_label(self, number: int, name: str) -> None:
        """DELETE /repos/{o}/{r}/issues/{n}/labels/{name}; a 404 means already gone."""
        with self._guard("remove label", f"{self._issue(number)} {name!r}"):
            try:
                self._send(
                    "DELETE", f"{self._base}/issues/{number}/labels/{quote(name, safe='')}")
            except GithubException as exc:
                if exc.status != 404:
                    raise
                return

    def create_comment(self, number: int, body: str) -> int:
        """POST /repos/{o}/{r}/issues/{n}/comments; the new comment's id. Never repeated
        automatically (see `_repeatable`)."""
        with self._guard("create comment", self._issue(number)):
            _, _, data = self._send(
                "POST", f"{self._base}/issues/{number}/comments", body={"body": body}
            )
            return int(data["id"])

    # --- plumbing ------------------------------------------------------------------------

    def _issue(self, number: int) -> str:
        return f"{self.repo}#{number}"

    def _ensure_label(self, name: str) -> None:
        if name in self._known_labels:
            return
        if self._get_or_none(f"{self._base}/labels/{quote(name, safe='')}") is None:
            try:
                self._send("POST", f"{self._base}/labels",
                           body={"name": name, "color": LABEL_COLOR})
            except GithubException as exc:
                # created meanwhile is fine; any other 422 (an invalid name) is an error
                if exc.status != 422 or not parsing.already_exists(exc.data):
                    raise
        self._known_labels.add(name)

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
