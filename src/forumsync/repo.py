"""The GitHub side: reads the SPEC repository into plain records, writes labels and comments.

Built on PyGithub's `Requester` (token auth, pauses between requests and between writes,
urllib3 retries, GitHub's error mapping) rather than on its object model: PyGithub objects
complete themselves with extra GETs (a pull taken from a list fetches itself again to learn
`merged`), and they hide the response headers, while the cheap polls below need each first
page's ETag. Every response is turned into a record by a small pure function, so parsing is
tested on payload dicts; nothing from PyGithub leaves this module.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import parse_qs, quote, urlsplit

import frontmatter
import requests
import urllib3.exceptions
import yaml
from github import Auth, Github, GithubRetry
from github.GithubException import (
    GithubException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
)
from github.Requester import Requester
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from forumsync.config import GithubConfig
from forumsync.errors import NotFound, ServiceError, backoff_delay, scrub
from forumsync.markers import is_own
from forumsync.records import (
    Activity,
    CommentRecord,
    IssueEvent,
    PullFile,
    PullRecord,
    SpecDocument,
)
from forumsync.specfiles import is_spec_path
from forumsync.timeutil import aware, parse_iso
from forumsync.transport import CONNECT_TIMEOUT, ServiceLink

SERVICE = "github"
SHA_MEDIA_TYPE = "application/vnd.github.sha"
EVENT_KINDS = frozenset({"labeled", "unlabeled", "closed", "reopened", "merged"})
LABEL_COLOR = "c5def5"
DEFAULT_MAX_WAIT = 120.0  # seconds: a longer rate-limit wait fails the call instead
SECONDARY_WAIT = 60.0  # GitHub: without retry-after or reset, wait at least a minute
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^",]+)"?')
_SPEC_TITLE_NUMBER = re.compile(r"\bSPEC\s*0*(\d+)", re.IGNORECASE)
# GitHub's no-reply commit addresses, `ID+login@...` (since 2017) or `login@...` (older)
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@\s]+)@users\.noreply\.github\.com$", re.IGNORECASE)

# --- pure parsing --------------------------------------------------------------------------


def lower_keys(headers: Mapping[str, Any]) -> dict[str, str]:
    """Header names in one case: GitHub has sent Title-Case and lower-case over the years."""
    return {str(k).lower(): str(v) for k, v in headers.items()}


def parse_links(header: str | None) -> dict[str, str]:
    """rel -> URL from a Link header. The URLs may change path between pages
    (`/repos/o/r/pulls` -> `/repositories/123/pulls?page=2`): follow them as given."""
    return {rel: url for url, rel in _LINK.findall(header or "")}


def next_page(headers: Mapping[str, Any]) -> str | None:
    return parse_links(lower_keys(headers).get("link")).get("next")


def etag_of(headers: Mapping[str, Any]) -> str | None:
    """The ETag exactly as sent, weak `W/"..."` or strong, to be echoed in If-None-Match."""
    return lower_keys(headers).get("etag") or None


def login_of(user: Mapping[str, Any] | None) -> str:
    """A deleted account comes back as null; GitHub shows it as `ghost`."""
    return str(user["login"]) if user and user.get("login") else "ghost"


def _time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def pull_from_json(data: Mapping[str, Any]) -> PullRecord:
    """A pull from the list or the single endpoint. List items carry `merged_at` but no
    `merged` (only the single pull has it, with `merged_by`), so merged is derived."""
    merged = data.get("merged")
    if merged is None:
        merged = data.get("merged_at") is not None
    return PullRecord(
        number=int(data["number"]),
        title=data.get("title") or "",
        body=data.get("body") or "",
        state=str(data["state"]),
        merged=bool(merged),
        author=login_of(data.get("user")),
        labels=tuple(label["name"] for label in data.get("labels") or ()),
        created_at=parse_iso(data["created_at"]),
        updated_at=parse_iso(data["updated_at"]),
        merged_at=_time(data.get("merged_at")),
        closed_at=_time(data.get("closed_at")),
        merged_by=login_of(data["merged_by"]) if data.get("merged_by") else None,
        head_sha=(data.get("head") or {}).get("sha") or "",
        html_url=data.get("html_url") or "",
    )


def pull_file_from_json(data: Mapping[str, Any]) -> PullFile:
    return PullFile(
        filename=str(data["filename"]),
        status=str(data["status"]),
        previous_filename=data.get("previous_filename"),
    )


def event_from_json(data: Mapping[str, Any]) -> IssueEvent | None:
    """An issue event the engine reads (label changes, close, reopen, merge); else None."""
    if data.get("event") not in EVENT_KINDS:
        return None
    label = data.get("label") or {}
    return IssueEvent(
        id=int(data["id"]),
        event=str(data["event"]),
        actor=login_of(data.get("actor")),
        created_at=parse_iso(data["created_at"]),
        label=label.get("name"),
    )


def comment_from_json(data: Mapping[str, Any]) -> CommentRecord:
    return CommentRecord(
        id=int(data["id"]),
        author=login_of(data.get("user")),
        body=data.get("body") or "",
        created_at=parse_iso(data["created_at"]),
    )


def _git_person_name(person: Mapping[str, Any]) -> str:
    """Who made a commit, from its git `author` {name, email, date}: a login when the payload
    has one (a `login` key, or a GitHub no-reply address), else the name as typed in git."""
    if person.get("login"):
        return str(person["login"])
    noreply = _NOREPLY.match(str(person.get("email") or ""))
    if noreply:
        return noreply.group(1)
    return str(person.get("name") or person.get("email") or "unknown")


def _lowered(logins: Collection[str]) -> frozenset[str]:
    """Logins to compare in any case; a lone string is one login, not its letters."""
    return frozenset(login.lower() for login in ((logins,) if isinstance(logins, str) else logins))


def activity_from_timeline(
    data: Mapping[str, Any], exclude: Collection[str] = ()
) -> Activity | None:
    """One issue-timeline item as human activity, or None.

    The three kinds carry their facts differently: `commented` has `user` (and `actor`),
    `created_at` and `body`; `reviewed` has `user` and `submitted_at` (none while pending),
    no actor; `committed` has neither actor nor id, only git's `author` / `committer`
    {name, email, date}: the author's date and login (see `_git_person_name`) are used.
    Everything else (labels, close, merge, references, subscriptions, line comments that
    belong to a review) is not activity. Comments carrying the service's hidden marker, and
    actors whose login is in `exclude` (any case), are skipped.
    """
    kind = data.get("event")
    if kind == "commented":
        if is_own(data.get("body") or ""):
            return None
        actor = login_of(data.get("user") or data.get("actor"))
        at = _time(data.get("created_at"))
    elif kind == "reviewed":
        if str(data.get("state") or "").lower() == "pending":
            return None
        actor, at = login_of(data.get("user")), _time(data.get("submitted_at"))
    elif kind == "committed":
        person = data.get("author") or data.get("committer") or {}
        actor, at = _git_person_name(person), _time(person.get("date"))
    else:
        return None
    if at is None or actor.lower() in _lowered(exclude):
        return None
    return Activity(at=at, actor=actor, kind=str(kind))


def latest_activity(
    items: Iterable[Mapping[str, Any]], exclude: Collection[str] = ()
) -> Activity | None:
    """The latest activity among timeline items (on equal times, the later item)."""
    skip = _lowered(exclude)
    found = [a for a in (activity_from_timeline(item, skip) for item in items) if a]
    if not found:
        return None
    return max(enumerate(found), key=lambda pair: (pair[1].at, pair[0]))[1]


def page_number(url: str) -> int | None:
    """The `page` a Link URL asks for; None when it names none (a cursor, say)."""
    values = parse_qs(urlsplit(url).query).get("page")
    return int(values[-1]) if values and values[-1].isdigit() else None


def decode_content(data: Any) -> str:
    """The text of a contents-API file: base64 with a newline every 60 characters."""
    if isinstance(data, list):
        raise ValueError("is a directory, not a file")
    if data.get("encoding") != "base64":
        raise ValueError(f"content not served as base64 (encoding {data.get('encoding')!r})")
    return base64.b64decode(data.get("content") or "").decode("utf-8")


def _strings(value: Any) -> tuple[str, ...]:
    """`author` / `endorsed-by`: a YAML list, a single string, or empty (None or "")."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value if item is not None and str(item) != "")


def _spec_number(meta: Mapping[str, Any]) -> int | None:
    number = meta.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    if isinstance(number, str) and number.strip().isdigit():
        return int(number)
    found = _SPEC_TITLE_NUMBER.search(str(meta.get("title") or ""))
    return int(found.group(1)) if found else None


def spec_document_from_text(path: str, text: str) -> SpecDocument:
    """Parse a SPEC file's YAML front matter; ValueError when it is missing or malformed,
    so a broken file is reported instead of passing as a SPEC without number or title."""
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"YAML front matter does not parse ({first})") from None
    meta = dict(post.metadata)
    if not meta:
        starts = text.lstrip("\ufeff").startswith("---")
        raise ValueError("front matter is empty or not a mapping" if starts else "no front matter")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("front matter has no title")
    draft = meta.get("is-draft")
    discussion = meta.get("discussion")
    return SpecDocument(
        path=path,
        number=_spec_number(meta),
        title=title.strip(),
        authors=_strings(meta.get("author")),
        is_draft=draft is True or str(draft).strip().lower() == "true",
        endorsed_by=_strings(meta.get("endorsed-by")),
        discussion=str(discussion) if discussion else None,
        front_matter=meta,
    )


def spec_files_from_tree(entries: list[Mapping[str, Any]]) -> dict[str, str]:
    """path -> blob sha of the SPEC documents in a recursive git tree listing."""
    return {
        str(e["path"]): str(e["sha"])
        for e in entries
        if e.get("type") == "blob" and is_spec_path(str(e["path"]))
    }


def core_projects_from_listing(entries: list[Mapping[str, Any]]) -> list[str]:
    """Project slugs from the core-projects folder: `numpy.md` -> numpy; `_index.md`,
    `register.py` and sub-folders are not projects."""
    names = {
        str(e["name"])[: -len(".md")]
        for e in entries
        if e.get("type") == "file"
        and str(e["name"]).endswith(".md")
        and not str(e["name"]).startswith(("_", "."))
        and str(e["name"]).lower() not in ("index.md", "readme.md")
    }
    return sorted(names)


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


# --- retry policy --------------------------------------------------------------------------


def _repeatable(method: str | None, url: str | None) -> bool:
    """Creating a comment is the one call not safe to repeat once the server may have seen
    it: a retry after a lost answer could post twice. The engine's hidden markers make the
    next cycle exactly-once instead. Label calls are idempotent and may be repeated."""
    path = (url or "").split("?", 1)[0]
    return not (method == "POST" and path.endswith("/comments"))


class _Retry(GithubRetry):
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

    def new(self, **kw: Any) -> _Retry:
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
            content = _json_or_none(self.get_content(response, url or ""))
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


def _json_or_none(raw: bytes | str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


# --- the adapter ---------------------------------------------------------------------------


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
        self.link = ServiceLink(SERVICE)
        # connect=0: a name that does not resolve or a refused connection is not retried
        retry = _Retry(sleep=sleep, total=retries, connect=0, max_rate_limit_wait=max_wait,
                       secondary_rate_wait=SECONDARY_WAIT, backoff_max=30.0)
        self._gh = Github(
            base_url=config.api_url.rstrip("/"),
            auth=Auth.Token(config.token) if config.token else None,
            timeout=max(1, math.ceil(config.timeout_seconds)),
            seconds_between_requests=config.seconds_between_requests or None,
            seconds_between_writes=config.seconds_between_writes or None,
            retry=retry,
            per_page=per_page,
        )
        self._requester = self._gh.requester
        # PyGithub takes one number for both timeouts; requests takes (connect, read), and a
        # connection that does not open in CONNECT_TIMEOUT is not worth waiting for longer
        self._requester._Requester__timeout = (  # type: ignore[attr-defined]
            min(CONNECT_TIMEOUT, max(1, math.ceil(config.timeout_seconds))),
            max(1, math.ceil(config.timeout_seconds)))

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
                    new_etag = etag_of(headers)
                for raw in page:
                    pull = pull_from_json(raw)
                    if since is not None and pull.updated_at < since:
                        return pulls, new_etag
                    pulls.append(pull)
            return pulls, new_etag

    def pull(self, number: int) -> PullRecord:
        """GET /repos/{o}/{r}/pulls/{n}: the single pull, with `merged` and `merged_by`."""
        with self._guard("read pull request", self._issue(number)):
            return pull_from_json(self._get(f"{self._base}/pulls/{number}"))

    def pull_files(self, number: int) -> list[PullFile]:
        """GET /repos/{o}/{r}/pulls/{n}/files, all pages."""
        with self._guard("list pull request files", self._issue(number)):
            return [pull_file_from_json(f) for f in self._items(f"/pulls/{number}/files")]

    def spec_document(self, path: str, ref: str) -> SpecDocument | None:
        """GET /repos/{o}/{r}/contents/{path}?ref=: the file's front matter; None on 404.
        A file whose front matter is missing or malformed raises ServiceError (not
        transient) naming the path, so the engine reports it."""
        item = f"{self.repo}/{path}@{ref}"
        with self._guard("read SPEC file", item):
            data = self._get_or_none(f"{self._base}/contents/{quote(path)}", {"ref": ref})
            if data is None:
                return None
            text = decode_content(data)
        try:
            return spec_document_from_text(path, text)
        except ValueError as exc:
            raise ServiceError(SERVICE, "read SPEC file", item, str(exc)) from None

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
            return sha, etag_of(response_headers)

    def spec_files(self, ref: str) -> dict[str, str]:
        """GET /repos/{o}/{r}/git/trees/{ref}?recursive=1: path -> blob sha of each SPEC file
        (`spec-NNNN/index.md`, older `spec-NNNN.md`), one request for the whole tree."""
        with self._guard("list SPEC files", f"{self.repo}@{ref}"):
            data = self._get(f"{self._base}/git/trees/{quote(ref, safe='')}", {"recursive": "1"})
            if data.get("truncated"):
                raise ValueError("the tree listing was truncated by GitHub")
            return spec_files_from_tree(data["tree"])

    def core_projects(self, ref: str | None = None) -> list[str]:
        """GET /repos/{o}/{r}/contents/{core_projects_path}[?ref=]: the Core Projects, sorted."""
        path = self.config.core_projects_path.strip("/")
        params = {"ref": ref} if ref else None
        with self._guard("list core projects", f"{self.repo}/{path}@{ref or 'default'}"):
            listing = self._get(f"{self._base}/contents/{quote(path)}", params)
            if not isinstance(listing, list):
                raise ValueError(f"{path} is a file, not a folder")
            return core_projects_from_listing(listing)

    def labels(self, number: int) -> tuple[str, ...]:
        """GET /repos/{o}/{r}/issues/{n}/labels, all pages."""
        with self._guard("list labels", self._issue(number)):
            return tuple(label["name"] for label in self._items(f"/issues/{number}/labels"))

    def issue_events(self, number: int) -> list[IssueEvent]:
        """GET /repos/{o}/{r}/issues/{n}/events, all pages, oldest first; only labeled,
        unlabeled, closed, reopened and merged events (who changed a stage, and when)."""
        with self._guard("list issue events", self._issue(number)):
            found = (event_from_json(e) for e in self._items(f"/issues/{number}/events"))
            return sorted((e for e in found if e), key=lambda e: (e.created_at, e.id))

    def comments(self, number: int) -> list[CommentRecord]:
        """GET /repos/{o}/{r}/issues/{n}/comments, all pages, oldest first."""
        with self._guard("list comments", self._issue(number)):
            return [comment_from_json(c) for c in self._items(f"/issues/{number}/comments")]

    def find_comment_containing(self, number: int, text: str) -> int | None:
        """GET /repos/{o}/{r}/issues/{n}/comments until a comment contains `text` (the
        service's hidden marker) written by the token's own account (when GET /user tells
        which): checked before writing, so a rerun never posts twice."""
        own = self.own_login()
        with self._guard("search comments", self._issue(number)):
            for raw in self._items(f"/issues/{number}/comments"):
                author = ((raw.get("user") or {}).get("login") or "").lower()
                if text in (raw.get("body") or "") and (own is None or author == own.lower()):
                    return int(raw["id"])
        return None

    def pull_activity(self, number: int, exclude: Collection[str] = ()) -> Activity | None:
        """GET /repos/{o}/{r}/issues/{n}/timeline: the latest human comment, review or commit
        on the pull, or None. Actors whose login is in `exclude` (any case: the service's
        own account) and comments carrying the hidden marker do not count.

        The timeline is paged oldest first, so the newest end is read first: one request
        when it fits one page (`per_page`, 100 by default); otherwise its Link rel="last",
        then rel="prev" backwards only while a page holds nothing that counts, page 1 coming
        from the first answer: each page read at most once. Should GitHub send rel="next"
        without rel="last", every page is read forwards instead.
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
                return latest_activity(items, exclude)
            url = links.get("last")
            while url and page_number(url) != 1:
                page, links = self._list_page(url)
                found = latest_activity(page, exclude)
                if found:
                    return found
                url = links.get("prev")
            return latest_activity(first, exclude)

    def own_login(self) -> str | None:
        """GET /user, once per client: the login the token acts as, so the engine knows its
        own label changes. None without a token, or when the token may not read /user (a
        GitHub App installation token gets 403 there)."""
        if not self._token:
            return None
        if self._own_login is None:
            with self._guard("read own account", "/user"):
                try:
                    self._own_login = login_of(self._get("/user"))
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
                return frozenset(login_of(user) for user in self._items(path, root=True))
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
                self._send("DELETE", f"{self._base}/issues/{number}/labels/{quote(name, safe='')}")
            except GithubException as exc:
                if exc.status != 404:
                    raise

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
                if exc.status != 422:  # 422 already_exists: created meanwhile, fine
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
        status, response_headers, output = self._requester.requestJson(
            verb, url, dict(params) if params else None, headers, body
        )
        self.link.record(status, response_headers)
        if status >= 400 or not raw:
            data = _json_or_none(output)
            if status >= 400:
                raise Requester.createException(status, response_headers, data)
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
            url, query, headers = next_page(response_headers), None, None

    def _list_page(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of a list (a path or a Link URL as given): its items and Link rels."""
        _, headers, data = self._send("GET", url, params)
        if not isinstance(data, list):
            raise ValueError(f"expected a list page, got {type(data).__name__}")
        return data, parse_links(lower_keys(headers).get("link"))

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

    def _fail(
        self, operation: str, item: str, detail: str, status: int | None, *, transient: bool
    ) -> NoReturn:
        raise ServiceError(SERVICE, operation, item, scrub(detail, self._token),
                           status=status, transient=transient) from None
