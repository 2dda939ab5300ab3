"""The Discourse adapter: reads topics, posts and first-post revisions into plain records,
and writes posts, tags and categories, over pydiscourse (transport.py), with the payloads
parsed by parse.py. Retries 429, 5xx, timeouts and connection errors; raises only
ServiceError / NotFound, whose messages never carry the API key.

Facts this follows (Discourse source, 2026): `include_raw` is honoured by GET /t/{id}.json and
GET /t/{id}/posts.json; a topic view loads `chunk_size` (20) posts and lists every id in
`post_stream.stream`; GET /t/{slug}.json and GET /c/{id}.json answer with a 301 to the
canonical URL; /posts/{id}/revisions/latest.json is a 404 while a post has no revision (its
first revision is number 2); tag names sent as strings are deprecated since 2026.01 in favour
of tag objects, so tags are sent as `{"name": ...}` objects in JSON bodies; an identical API
POST /posts.json within 120 s returns the same post, so retrying a create is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydiscourse.exceptions import DiscourseError

from forumsync.config import DiscourseConfig
from forumsync.errors import NotFound, ServiceError, scrub
from forumsync.forum import parse as parsing
from forumsync.forum.transport import MAX_WAIT, DiscourseAPI, Failure, backoff, classify
from forumsync.records import CreatedTopic, ForumPost, ForumTopic, TopicRevision, TopicSummary
from forumsync.transport import CONNECT_TIMEOUT, ServiceLink, WindowPacer, pause

__all__ = ["ForumClient"]

log = logging.getLogger(__name__)

SERVICE = "discourse"
POSTS_PER_REQUEST = 20  # a topic view's chunk_size; keeps post_ids[] URLs short
MEMBERS_PER_PAGE = 50
MAX_PAGES = 500  # a listing that never ends is a server bug, not a reason to loop forever

T = TypeVar("T")


class ForumClient:
    """Reads and writes the forum as the configured API user; raises only ServiceError."""

    def __init__(
        self,
        config: DiscourseConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        pace: Callable[[float], None] = pause,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._retries = max(0, retries)
        self._secret = config.api_key or ""
        self.link = ServiceLink(SERVICE)
        # paced up front to the forum's limit, not only by retrying its 429s
        self._pacer = WindowPacer(config.requests_per_minute, 60.0, clock=clock, sleep=pace)
        self._replies: dict[int, list[tuple[int, datetime]]] = {}
        self._api = DiscourseAPI(config.url, config.api_username, config.api_key or "",
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
                "list category", f"category {category_id}", parsing.page_since, topics, since
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

    def topic_by_external_id(self, external_id: str) -> int | None:
        """GET /t/external_id/{external_id}.json (301 to the topic): the id of the topic the
        service opened under that stable key, whatever its title has become; None for 404."""
        item = f"topic with external id {external_id!r}"
        path = f"/t/external_id/{quote(external_id, safe='')}.json"
        try:
            payload = self._call("find own topic", item,
                                 lambda: self._api.get_json(path, follow=True))
        except NotFound:
            return None
        return self._parse("find own topic", item, lambda p: int(p["id"]), payload)

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
            revision = self._parse("read revisions", item, parsing.parse_revision, payload)
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
            page_names, count, total = self._parse("read group members", item,
                                                    parsing.parse_members, payload)
            fresh = page_names - names
            names |= page_names
            offset += count
            if count < MEMBERS_PER_PAGE or (total is not None and offset >= total) or not fresh:
                break
        return frozenset(names)

    def find_post_containing(self, topic_id: int, text: str,
                             read: Sequence[ForumPost] | None = None) -> int | None:
        """Via topic(), or among `read` (the topic's posts as read earlier this cycle, when
        nothing but this service could have added its marker since): the first post (by
        post_number) by the service's own account whose raw markdown contains `text` (a
        marker copied by someone else does not count).

        Needs raw: Discourse drops HTML comments (the service's markers) when cooking.
        """
        if read is None:
            found = self.topic(topic_id)
            if found is None:
                return None
            read = found.posts
        own = self.config.api_username.lower()
        return next((post.id for post in read
                     if post.username.lower() == own and text in post.raw), None)

    # --- writing ---------------------------------------------------------------------------

    def create_topic(
        self, title: str, raw: str, category_id: int, tags: Sequence[str] = (), *,
        external_id: str | None = None,
    ) -> CreatedTopic:
        """POST /posts.json {title, raw, category, tags, external_id}: a new topic and its
        first post. Discourse keeps `external_id` unique, and finds the topic by it."""
        body: dict[str, Any] = {"title": title, "raw": raw, "category": int(category_id)}
        if tags:
            body["tags"] = parsing.tag_params(tags)
        if external_id:
            body["external_id"] = external_id
        payload = self._call("create topic", f"category {category_id}",
                             lambda: self._api.post_json("/posts.json", **body))
        return self._parse("create topic", f"category {category_id}", parsing.parse_created,
                           payload)

    def reply(self, topic_id: int, raw: str) -> int:
        """POST /posts.json {topic_id, raw}: the new post's id. Its number and time are
        kept for `take_replies` (the service knows its own posts without reading them back)."""
        item = f"topic {topic_id}"
        payload = self._call("reply", item, lambda: self._api.post_json(
            "/posts.json", topic_id=int(topic_id), raw=raw))
        created = self._parse("reply", item, parsing.parse_created, payload)
        if created.post_number is not None and created.created_at is not None:
            self._replies.setdefault(int(topic_id), []).append(
                (created.post_number, created.created_at))
        return created.post_id

    def take_replies(self) -> dict[int, list[tuple[int, datetime]]]:
        """Topic -> (post number, time) of each reply made since the last call."""
        replies, self._replies = self._replies, {}
        return replies

    def send_group_message(self, group: str, title: str, raw: str, *,
                           external_id: str | None = None) -> CreatedTopic:
        """POST /posts.json {archetype: private_message, target_recipients: group}."""
        item = f"group {group!r}"
        extra = {"external_id": external_id} if external_id else {}
        payload = self._call("send message", item, lambda: self._api.post_json(
            "/posts.json", title=title, raw=raw, archetype="private_message",
            target_recipients=group, **extra))
        return self._parse("send message", item, parsing.parse_created, payload)

    def set_tags(self, topic_id: int, tags: Sequence[str]) -> None:
        """PUT /t/-/{id}.json {tags: [{name}, …]}: replaces the topic's tags (may be empty)."""
        self._call("set tags", f"topic {topic_id}", lambda: self._api.put_json(
            f"/t/-/{int(topic_id)}.json", tags=parsing.tag_params(tags)))

    def set_category(self, topic_id: int, category_id: int) -> None:
        """PUT /t/-/{id}.json {category_id}: moves the topic."""
        self._call("set category", f"topic {topic_id}", lambda: self._api.put_json(
            f"/t/-/{int(topic_id)}.json", category_id=int(category_id)))

    # --- helpers ---------------------------------------------------------------------------

    def _complete_topic(self, payload: Any, item: str) -> ForumTopic:
        """Fetch the posts the topic view left out, in chunks, then build the record."""
        missing = self._parse("read topic", item, parsing.missing_post_ids, payload)
        topic_id = self._parse("read topic", item, lambda p: int(p["id"]), payload)
        more: list[Mapping[str, Any]] = []
        for start in range(0, len(missing), POSTS_PER_REQUEST):
            chunk = missing[start : start + POSTS_PER_REQUEST]
            page = self._call("read posts", item, lambda ids=chunk: self._api.posts(
                topic_id, post_ids=ids, include_raw=1))
            more.extend(self._parse("read posts", item, parsing.loaded_posts, page))
        return self._parse("read topic", item, parsing.parse_topic, payload, more)

    def _topic_pages(
        self, operation: str, item: str, fetch: Callable[[int], Any]
    ) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of a topic listing (page=0, 1, …) until `more_topics_url` is absent."""
        for page in range(MAX_PAGES):
            payload = self._call(operation, f"{item} page {page}", lambda p=page: fetch(p))
            topics, more = self._parse(operation, item, parsing.parse_topic_page, payload)
            yield topics
            if not more or not topics:
                return

    def _call(self, operation: str, item: str, request: Callable[[], T]) -> T:
        """One request with bounded retries of transient failures; ServiceError otherwise."""
        for attempt in range(self._retries + 1):
            self.link.before(operation, item)
            waited = self._pacer.wait()
            if waited >= 1:
                log.info("discourse: paced %.1fs before %s %s", waited, operation, item)
                self.link.before(operation, item)  # a stop asked for while waiting
            try:
                return request()
            except (DiscourseError, requests.RequestException) as exc:
                down = self.link.failed(exc, operation, item)
                if down is not None:  # not retried: the service is skipped for this cycle
                    raise down from None
                failure = classify(exc)
            except Exception as exc:  # a bug or a library surprise: still this call's failure
                failure = Failure(f"unexpected error ({type(exc).__name__})", None, False)
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
        except parsing.QueuedForReview as exc:
            raise ServiceError(SERVICE, operation, item, str(exc)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = self._scrub(f"unexpected response shape ({type(exc).__name__}: {exc})")
            raise ServiceError(SERVICE, operation, item, detail[:parsing.DETAIL_LIMIT]) from None
        except Exception as exc:
            detail = f"unexpected error while reading the answer ({type(exc).__name__})"
            raise ServiceError(SERVICE, operation, item, detail) from None

    def _error(self, operation: str, item: str, failure: Failure) -> ServiceError:
        kind = NotFound if failure.status == 404 else ServiceError
        return kind(SERVICE, operation, item, self._scrub(failure.detail),
                    status=failure.status, transient=failure.transient)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)


def _page(page: int) -> dict[str, int]:
    """Discourse pages from 0; the first page is asked for without a parameter."""
    return {"page": page} if page else {}
