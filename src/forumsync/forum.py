"""The Discourse adapter: reads topics, posts and first-post revisions into plain records,
and writes posts, tags and categories, over pydiscourse.

Retries: `_DiscourseAPI` subclasses pydiscourse's client and overrides only `_request`, so each
call is exactly one HTTP attempt (pydiscourse's own 429 loop sleeps with `time.sleep` up to
four times, which can be neither bounded nor observed); it still raises pydiscourse's own
exception types. `ForumClient` then retries 429, 5xx, timeouts and connection errors with
capped exponential backoff through its injected `sleep`, and maps every failure to
`ServiceError` / `NotFound`, whose messages never carry the API key.

Facts this follows (Discourse source, 2026): `include_raw` is honoured by GET /t/{id}.json and
GET /t/{id}/posts.json; a topic view loads `chunk_size` (20) posts and lists every id in
`post_stream.stream`; GET /t/{slug}.json and GET /c/{id}.json answer with a 301 to the
canonical URL; /posts/{id}/revisions/latest.json is a 404 while a post has no revision (its
first revision is number 2); tag names sent as strings are deprecated since 2026.01 in favour
of tag objects, so tags are sent as `{"name": ...}` objects in JSON bodies; an identical API
POST /posts.json within 120 s returns the same post, so retrying a create is safe.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import (
    DiscourseClientError,
    DiscourseError,
    DiscourseRateLimitedError,
    DiscourseServerError,
)

from forumsync.config import DiscourseConfig
from forumsync.errors import NotFound, ServiceError, backoff_delay, scrub
from forumsync.records import CreatedTopic, ForumPost, ForumTopic, TopicRevision, TopicSummary
from forumsync.timeutil import parse_iso
from forumsync.transport import CONNECT_TIMEOUT, ServiceLink

__all__ = ["ForumClient"]

log = logging.getLogger(__name__)

SERVICE = "discourse"
POSTS_PER_REQUEST = 20  # a topic view's chunk_size; keeps post_ids[] URLs short
MEMBERS_PER_PAGE = 50
MAX_PAGES = 500  # a listing that never ends is a server bug, not a reason to loop forever
BASE_WAIT = 1.0
MAX_WAIT = 60.0  # no single wait is longer; a 429 asking for more is not waited out
DETAIL_LIMIT = 300

T = TypeVar("T")


# --- parsing: pure functions from payloads to records -------------------------------------


def tag_names(value: Any) -> tuple[str, ...]:
    """Tags as names: plain strings, `{"id","name","slug"}` objects, null or missing; old
    revisions may hold one string instead of a list (`"a,b"`, or `["a", "b"]` as text)."""
    if not value:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else value.split(",")
        except ValueError:
            value = value.strip("[]").replace('"', "").split(",")
        return tag_names([v.strip() if isinstance(v, str) else v for v in value])
    names: list[str] = []
    for tag in value:
        name = tag.get("name") if isinstance(tag, Mapping) else tag
        if isinstance(name, str) and name:
            names.append(name)
    return tuple(names)


def _topic_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a listing entry and a topic view share, under the same names."""
    return {
        "id": int(item["id"]),
        "slug": item.get("slug") or "",
        "title": item.get("title") or "",
        "category_id": _int_or_none(item.get("category_id")),
        "tags": tag_names(item.get("tags")),
        "created_at": _required_time(item, "created_at"),
        "last_posted_at": parse_iso(item.get("last_posted_at")),
    }


def parse_topic_summary(item: Mapping[str, Any]) -> TopicSummary:
    return TopicSummary(**_topic_fields(item), posts_count=int(item.get("posts_count") or 0))


def last_activity(item: Mapping[str, Any]) -> datetime | None:
    """The time a listing sorts by: bumped_at, else the last post, else creation."""
    for key in ("bumped_at", "last_posted_at", "created_at"):
        moment = parse_iso(item.get(key))
        if moment is not None:
            return moment
    return None


def is_pinned(item: Mapping[str, Any]) -> bool:
    """Pinned topics sort first whatever their age, so their dates say nothing about paging."""
    return bool(item.get("pinned") or item.get("pinned_globally"))


def parse_topic_page(payload: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The topics of one listing page, and whether `more_topics_url` promises another."""
    topic_list = payload["topic_list"]
    return list(topic_list.get("topics") or []), bool(topic_list.get("more_topics_url"))


def page_since(
    topics: Sequence[Mapping[str, Any]], since: datetime | None
) -> tuple[list[TopicSummary], bool]:
    """Summaries on one page active at or after `since`, and whether an older one was reached.

    Unpinned topics come newest activity first, so the first older one ends the listing;
    pinned ones are skipped when old but never end it.
    """
    summaries: list[TopicSummary] = []
    for item in topics:
        activity = last_activity(item)
        if since is not None and activity is not None and activity < since:
            if is_pinned(item):
                continue
            return summaries, True
        summaries.append(parse_topic_summary(item))
    return summaries, False


def parse_post(item: Mapping[str, Any], topic_id: int | None = None) -> ForumPost:
    """A post; `raw` when the API sent it as text (include_raw), else the cooked HTML."""
    raw = item.get("raw")
    if not isinstance(raw, str):
        raw = item.get("cooked") or ""
    return ForumPost(
        id=int(item["id"]),
        topic_id=int(item.get("topic_id") or topic_id or 0),
        post_number=int(item["post_number"]),
        username=item.get("username") or "",
        created_at=_required_time(item, "created_at"),
        raw=raw,
    )


def loaded_posts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Posts carried by a topic view or a /t/{id}/posts.json chunk, in whatever order."""
    return list((payload.get("post_stream") or {}).get("posts") or [])


def missing_post_ids(payload: Mapping[str, Any]) -> list[int]:
    """Ids in `post_stream.stream` whose posts the topic view did not load (beyond chunk_size)."""
    loaded = {int(p["id"]) for p in loaded_posts(payload)}
    stream = (payload.get("post_stream") or {}).get("stream") or []
    return [int(pid) for pid in stream if int(pid) not in loaded]


def parse_topic(
    payload: Mapping[str, Any], more_posts: Sequence[Mapping[str, Any]] = ()
) -> ForumTopic:
    """A topic view plus posts fetched by id, deduplicated and sorted by post_number."""
    topic_id = int(payload["id"])
    by_id = {int(p["id"]): p for p in [*loaded_posts(payload), *more_posts]}
    posts = sorted((parse_post(p, topic_id) for p in by_id.values()), key=lambda p: p.post_number)
    return ForumTopic(**_topic_fields(payload), posts=tuple(posts))


def parse_revision(payload: Mapping[str, Any]) -> TopicRevision:
    """One PostRevisionSerializer payload; fields it does not carry were not changed."""
    tags = payload.get("tags_changes")
    category = payload.get("category_id_changes")
    touched_tags = isinstance(tags, Mapping)
    touched_category = isinstance(category, Mapping)
    return TopicRevision(
        post_id=int(payload["post_id"]),
        number=int(payload.get("current_revision") or payload["version"]),
        # `username` is lower-cased by Discourse; `display_username` keeps the real spelling.
        username=payload.get("display_username") or payload.get("username") or "",
        created_at=_required_time(payload, "created_at"),
        tags_before=tag_names(tags.get("previous")) if touched_tags else None,
        tags_after=tag_names(tags.get("current")) if touched_tags else None,
        category_before=_int_or_none(category.get("previous")) if touched_category else None,
        category_after=_int_or_none(category.get("current")) if touched_category else None,
    )


class QueuedForReview(ValueError):
    """POST /posts.json answered `action: enqueued`: no post exists until a moderator acts."""


def parse_created(payload: Mapping[str, Any]) -> CreatedTopic:
    if payload.get("action") == "enqueued" or "pending_post" in payload:
        raise QueuedForReview("the post was queued for moderator review")
    return CreatedTopic(topic_id=int(payload["topic_id"]), post_id=int(payload["id"]))


def parse_members(payload: Mapping[str, Any]) -> tuple[set[str], int, int | None]:
    """Usernames of one members page (owners too), how many members it held, and the total."""
    members = payload.get("members") or []
    names = {m["username"] for m in [*members, *(payload.get("owners") or [])] if m.get("username")}
    total = (payload.get("meta") or {}).get("total")
    return names, len(members), None if total is None else int(total)


def error_detail(payload: Any, fallback: str) -> str:
    """Discourse's own error sentence(s), bounded; `fallback` when the body has none."""
    if isinstance(payload, Mapping) and isinstance(payload.get("errors"), list):
        text = "; ".join(str(e) for e in payload["errors"] if e)
        if text:
            return text[:DETAIL_LIMIT]
    return fallback


def rate_limit_wait(payload: Any, retry_after: str | None) -> float | None:
    """Seconds a 429 asks to wait: `extras.wait_seconds`, else the Retry-After header."""
    if isinstance(payload, Mapping):
        value = (payload.get("extras") or {}).get("wait_seconds")
        if isinstance(value, int | float) and value >= 0:
            return float(value)
    try:
        return max(float(retry_after), 0.0) if retry_after else None
    except ValueError:
        return None


def backoff(attempt: int, hint: float | None) -> float:
    """Wait before retry `attempt` (0-based): the server's hint, else 1, 2, 4… s; capped."""
    if hint is not None and hint > 0:
        return min(hint, MAX_WAIT)
    return backoff_delay(attempt, MAX_WAIT, BASE_WAIT)


def tag_params(tags: Sequence[str]) -> list[dict[str, str]]:
    """Tags as the 2026 API wants them: objects; a name without an id is looked up by name."""
    return [{"name": name} for name in dict.fromkeys(tags) if name]


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _required_time(item: Mapping[str, Any], key: str) -> datetime:
    moment = parse_iso(item.get(key))
    if moment is None:
        raise ValueError(f"{key} missing")
    return moment


# --- transport: pydiscourse with one attempt per call -------------------------------------


class _DiscourseAPI(DiscourseClient):
    """pydiscourse's client, one HTTP attempt per call over a kept-alive session."""

    def __init__(self, host: str, api_username: str, api_key: str,
                 timeout: tuple[float, float]) -> None:
        super().__init__(host.rstrip("/"), api_username, api_key, timeout=timeout)
        self.session = requests.Session()
        self.moved: dict[str, str] = {}  # GET path -> where it redirected (e.g. /c/9.json)

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
        if verb == "GET" and response.history and response.ok:
            # a permanent redirect (/c/{id}.json -> /c/{slug}/{id}.json): go there directly
            # next time, saving one request per page on every cycle
            self.moved[path] = urlsplit(response.url).path
        return _decode(response)

    # Endpoints pydiscourse has no method for, or none that fits (JSON bodies, paging).

    def get_json(self, path: str, *, follow: bool = False, **params: Any) -> Any:
        override = {"allow_redirects": True} if follow else None
        return self._get(path, override_request_kwargs=override, **params)

    def post_json(self, path: str, **body: Any) -> Any:
        return self._post(path, json=True, **body)

    def put_json(self, path: str, **body: Any) -> Any:
        return self._put(path, json=True, **body)


def _decode(response: requests.Response) -> Any:
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
        if not response.content.strip():
            return None
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
class _Failure:
    detail: str
    status: int | None
    transient: bool
    wait: float | None = None


def _classify(exc: Exception) -> _Failure:
    """What a failed attempt means: its status, whether a retry may help, any wait hint."""
    if isinstance(exc, DiscourseError):
        response = exc.response
        status = response.status_code if response is not None else None
        payload = _json_or_none(response)
        if status == 429:
            wait = rate_limit_wait(payload, response.headers.get("Retry-After"))
            return _Failure(error_detail(payload, "rate limited (HTTP 429)"), 429, True, wait)
        if status is not None and status >= 500:
            return _Failure(f"server error (HTTP {status})", status, True)
        if status is not None and status >= 400:
            return _Failure(error_detail(payload, f"HTTP {status}"), status, False)
        return _Failure(str(exc)[:DETAIL_LIMIT], status, False)
    if isinstance(exc, requests.Timeout):
        return _Failure("timed out", None, True)
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return _Failure("connection failed", None, True)
    return _Failure(f"request failed ({type(exc).__name__})", None, False)


def _json_or_none(response: requests.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None


# --- the adapter ---------------------------------------------------------------------------


class ForumClient:
    """Reads and writes the forum as the configured API user; raises only ServiceError."""

    def __init__(
        self,
        config: DiscourseConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 3,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._retries = max(0, retries)
        self._secret = config.api_key or ""
        self.link = ServiceLink(SERVICE)
        self._api = _DiscourseAPI(config.url, config.api_username, config.api_key or "",
                                  (min(CONNECT_TIMEOUT, config.timeout_seconds),
                                   config.timeout_seconds))
        self._api.session.hooks["response"].append(self.link.response_hook)

    # --- reading ---------------------------------------------------------------------------

    def category_topics(
        self, category_id: int, since: datetime | None = None
    ) -> list[TopicSummary]:
        """GET /c/{id}.json?page=N (301 to the slugged URL): topics active since `since`."""
        seen: set[int] = set()
        found: list[TopicSummary] = []
        pages = self._topic_pages(
            "list category", f"category {category_id}",
            lambda page: self._api.category_topics(category_id, **_page(page)),
        )
        for topics in pages:
            summaries, reached_older = self._parse(
                "list category", f"category {category_id}", page_since, topics, since
            )
            found.extend(s for s in summaries if s.id not in seen)
            seen.update(s.id for s in summaries)
            if reached_older:
                break
        return found

    def topic(self, topic_id: int) -> ForumTopic | None:
        """GET /t/{id}.json?include_raw=1, then GET /t/{id}/posts.json?post_ids[]=… for the
        posts beyond the first chunk; None when the topic is deleted or not visible (404)."""
        item = f"topic {topic_id}"
        try:
            payload = self._call(
                "read topic", item,
                lambda: self._api.get_json(f"/t/{int(topic_id)}.json", follow=True, include_raw=1),
            )
        except NotFound:
            return None
        return self._complete_topic(payload, item)

    def topic_by_slug(self, slug: str) -> ForumTopic | None:
        """GET /t/{slug}.json?include_raw=1 (301 to /t/{slug}/{id}.json); None for 404."""
        item = f"topic {slug!r}"
        path = f"/t/{quote(slug, safe='%')}.json"
        try:
            payload = self._call(
                "read topic", item, lambda: self._api.get_json(path, follow=True, include_raw=1)
            )
        except NotFound:
            return None
        return self._complete_topic(payload, item)

    def first_post_revisions(self, post_id: int, after_revision: int = 1) -> list[TopicRevision]:
        """GET /posts/{id}/revisions/latest.json, then /posts/{id}/revisions/{n}.json back to
        `after_revision` + 1 (following `previous_revision`); oldest first, [] for none."""
        item = f"post {post_id}"
        try:
            payload = self._call(
                "read revisions", item,
                lambda: self._api.get_json(f"/posts/{int(post_id)}/revisions/latest.json"),
            )
        except NotFound:  # a post that was never edited has no revision to show
            return []
        revisions: list[TopicRevision] = []
        while payload is not None:
            revision = self._parse("read revisions", item, parse_revision, payload)
            if revision.number <= after_revision:
                break
            revisions.append(revision)
            # Older servers send no previous_revision: numbers then simply count down.
            previous = payload.get("previous_revision", revision.number - 1)
            if not isinstance(previous, int) or previous <= max(after_revision, 1):
                break
            payload = self._call(
                "read revisions", f"{item} revision {previous}",
                lambda n=previous: self._api.get_json(f"/posts/{int(post_id)}/revisions/{n}.json"),
            )
        return sorted(revisions, key=lambda r: r.number)

    def group_members(self, group: str) -> frozenset[str]:
        """GET /groups/{name}/members.json?offset=…&limit=…: members' and owners' usernames."""
        item = f"group {group!r}"
        path = f"/groups/{quote(group, safe='')}/members.json"
        names: set[str] = set()
        offset = 0
        for _ in range(MAX_PAGES):
            payload = self._call(
                "read group members", item,
                lambda o=offset: self._api.get_json(path, offset=o, limit=MEMBERS_PER_PAGE),
            )
            page_names, count, total = self._parse("read group members", item, parse_members,
                                                    payload)
            fresh = page_names - names
            names |= page_names
            offset += count
            if count < MEMBERS_PER_PAGE or (total is not None and offset >= total) or not fresh:
                break
        return frozenset(names)

    def find_post_containing(self, topic_id: int, text: str) -> int | None:
        """Via topic(): the first post (by post_number) by the service's own account whose
        raw markdown contains `text` (a marker copied by someone else does not count).

        Needs raw: Discourse drops HTML comments (the service's markers) when cooking.
        """
        found = self.topic(topic_id)
        if found is None:
            return None
        own = self.config.api_username.lower()
        return next((post.id for post in found.posts
                     if post.username.lower() == own and text in post.raw), None)

    def find_own_topic(self, text: str, title: str = "") -> int | None:
        """GET /topics/created-by/{api_username}.json?page=N, then the first post (GET
        /t/{id}.json?include_raw=1) of each topic whose title starts like `title`: the id of
        the newest one whose raw holds `text`. The title keeps the cost from growing with
        every topic the service ever opened."""
        return self._find_own("/topics/created-by", "find own topic", text, title)

    def find_own_message(self, text: str, title: str = "") -> int | None:
        """GET /topics/private-messages-sent/{api_username}.json?page=N, then the first post
        of each message whose title starts like `title`: the newest holding `text`."""
        return self._find_own("/topics/private-messages-sent", "find own message", text, title)

    # --- writing ---------------------------------------------------------------------------

    def create_topic(
        self, title: str, raw: str, category_id: int, tags: Sequence[str] = ()
    ) -> CreatedTopic:
        """POST /posts.json {title, raw, category, tags}: a new topic and its first post."""
        body: dict[str, Any] = {"title": title, "raw": raw, "category": int(category_id)}
        if tags:
            body["tags"] = tag_params(tags)
        payload = self._call("create topic", f"category {category_id}",
                             lambda: self._api.post_json("/posts.json", **body))
        return self._parse("create topic", f"category {category_id}", parse_created, payload)

    def reply(self, topic_id: int, raw: str) -> int:
        """POST /posts.json {topic_id, raw}: the new post's id."""
        item = f"topic {topic_id}"
        payload = self._call("reply", item, lambda: self._api.post_json(
            "/posts.json", topic_id=int(topic_id), raw=raw))
        return self._parse("reply", item, parse_created, payload).post_id

    def send_group_message(self, group: str, title: str, raw: str) -> CreatedTopic:
        """POST /posts.json {archetype: private_message, target_recipients: group}."""
        item = f"group {group!r}"
        payload = self._call("send message", item, lambda: self._api.post_json(
            "/posts.json", title=title, raw=raw, archetype="private_message",
            target_recipients=group))
        return self._parse("send message", item, parse_created, payload)

    def set_tags(self, topic_id: int, tags: Sequence[str]) -> None:
        """PUT /t/-/{id}.json {tags: [{name}, …]}: replaces the topic's tags (may be empty)."""
        self._call("set tags", f"topic {topic_id}", lambda: self._api.put_json(
            f"/t/-/{int(topic_id)}.json", tags=tag_params(tags)))

    def set_category(self, topic_id: int, category_id: int) -> None:
        """PUT /t/-/{id}.json {category_id}: moves the topic."""
        self._call("set category", f"topic {topic_id}", lambda: self._api.put_json(
            f"/t/-/{int(topic_id)}.json", category_id=int(category_id)))

    # --- helpers ---------------------------------------------------------------------------

    def _complete_topic(self, payload: Any, item: str) -> ForumTopic:
        """Fetch the posts the topic view left out, in chunks, then build the record."""
        missing = self._parse("read topic", item, missing_post_ids, payload)
        topic_id = self._parse("read topic", item, lambda p: int(p["id"]), payload)
        more: list[Mapping[str, Any]] = []
        for start in range(0, len(missing), POSTS_PER_REQUEST):
            chunk = missing[start : start + POSTS_PER_REQUEST]
            page = self._call("read posts", item, lambda ids=chunk: self._api.posts(
                topic_id, post_ids=ids, include_raw=1))
            more.extend(self._parse("read posts", item, loaded_posts, page))
        return self._parse("read topic", item, parse_topic, payload, more)

    def _find_own(self, list_path: str, operation: str, text: str, title: str) -> int | None:
        # Discourse may capitalise or trim a title; compare a lower-cased prefix of it
        prefix = " ".join(title.split())[:30].lower()
        username = quote(self.config.api_username, safe="")
        pages = self._topic_pages(
            operation, f"user {self.config.api_username!r}",
            lambda page: self._api.get_json(f"{list_path}/{username}.json", **_page(page)),
        )
        for topics in pages:
            for entry in topics:
                topic_id = int(entry["id"])
                if not " ".join(str(entry.get("title", "")).split()).lower().startswith(prefix):
                    continue
                raw = self._first_post_raw(topic_id)
                if raw is not None and text in raw:
                    return topic_id
        return None

    def _first_post_raw(self, topic_id: int) -> str | None:
        """GET /t/{id}.json?include_raw=1: the first post's raw, from the first chunk only."""
        try:
            payload = self._call("read topic", f"topic {topic_id}", lambda: self._api.get_json(
                f"/t/{int(topic_id)}.json", follow=True, include_raw=1))
        except NotFound:
            return None
        posts = self._parse("read topic", f"topic {topic_id}", loaded_posts, payload)
        first = [parse_post(p, topic_id) for p in posts if int(p.get("post_number", 0)) == 1]
        return first[0].raw if first else None

    def _topic_pages(
        self, operation: str, item: str, fetch: Callable[[int], Any]
    ) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of a topic listing (page=0, 1, …) until `more_topics_url` is absent."""
        for page in range(MAX_PAGES):
            payload = self._call(operation, f"{item} page {page}", lambda p=page: fetch(p))
            topics, more = self._parse(operation, item, parse_topic_page, payload)
            yield topics
            if not more or not topics:
                return

    def _call(self, operation: str, item: str, request: Callable[[], T]) -> T:
        """One request with bounded retries of transient failures; ServiceError otherwise."""
        for attempt in range(self._retries + 1):
            self.link.before(operation, item)
            try:
                return request()
            except (DiscourseError, requests.RequestException) as exc:
                down = self.link.failed(exc, operation, item)
                if down is not None:  # not retried: the service is skipped for this cycle
                    raise down from None
                failure = _classify(exc)
            gives_up = failure.wait is not None and failure.wait > MAX_WAIT
            if not failure.transient or attempt == self._retries or gives_up:
                raise self._error(operation, item, failure)
            delay = backoff(attempt, failure.wait)
            log.info("discourse: %s %s: %s; retrying in %.1fs", operation, item,
                     self._scrub(failure.detail), delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, operation: str, item: str, parse: Callable[..., T], *args: Any) -> T:
        """Run a parsing function; a payload of the wrong shape becomes a ServiceError."""
        try:
            return parse(*args)
        except QueuedForReview as exc:
            raise ServiceError(SERVICE, operation, item, str(exc)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = self._scrub(f"unexpected response shape ({type(exc).__name__}: {exc})")
            raise ServiceError(SERVICE, operation, item, detail[:DETAIL_LIMIT]) from None

    def _error(self, operation: str, item: str, failure: _Failure) -> ServiceError:
        kind = NotFound if failure.status == 404 else ServiceError
        return kind(SERVICE, operation, item, self._scrub(failure.detail),
                    status=failure.status, transient=failure.transient)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)


def _page(page: int) -> dict[str, int]:
    """Discourse pages from 0; the first page is asked for without a parameter."""
    return {"page": page} if page else {}
