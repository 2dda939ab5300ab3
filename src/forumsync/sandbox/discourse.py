"""A stateful fake Discourse: the endpoints `ForumClient` uses, with the real payload shapes.

Shapes follow recorded payloads and the Discourse source (2026): topic views load 20 posts
and list every id in `post_stream.stream`; /t/{id}/posts.json answers newest first; listings
page 30 at a time with `more_topics_url`; /c/{id}.json and /t/{slug}.json answer 301 to the
canonical URL; cooked HTML drops HTML comments; first-post revisions record tag and category
changes (numbered from 2, `username` lower-cased; the same editor again within the 5-minute
grace period folds into their last revision); an identical API POST within 120 s returns
the same post; new topics need a unique title; reads are public, writes need Api-Key and
Api-Username. Tests act as people through plain methods (`add_user`, `create_topic`, …).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from forumsync.sandbox.core import Clock, FakeService, Fault, Request, Response, route
from forumsync.sandbox.webhooks import WebhookSender

API_KEY = "sandbox-discourse-api-key"
CHUNK_SIZE = 20
PER_PAGE = 30
MEMO_SECONDS = 120
GRACE_SECONDS = 300  # SiteSetting.editing_grace_period
NOT_FOUND = {"errors": ["The requested URL or resource could not be found."],
             "error_type": "not_found"}
INVALID_ACCESS = {"errors": ["You are not permitted to view the requested resource."],
                  "error_type": "invalid_access"}
CATEGORIES = {6: ("SPECs", "specs", None), 9: ("Ideas", "ideas", 6),  # id: name, slug, parent
              15: ("Accepted", "accepted", 6)}
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Fields that never vary in the sandbox, kept so payloads have the real shape.
_POST_FIXED = dict(
    name=None, post_type=1, reply_count=0, reply_to_post_number=None, quote_count=0,
    incoming_link_count=0, reads=1, readers_count=0, score=0, display_username=None,
    primary_group_name=None, flair_name=None, flair_url=None, flair_bg_color=None,
    flair_color=None, flair_group_id=None, badges_granted=[], can_delete=False,
    can_recover=False, can_see_hidden_post=False, can_wiki=False, read=True, user_title=None,
    bookmarked=False, actions_summary=[], moderator=False, hidden=False, trust_level=1,
    deleted_at=None, user_deleted=False, edit_reason=None, can_view_edit_history=True,
    wiki=False, mentioned_users=[])
_LIST_FIXED = dict(
    image_url=None, bumped=True, unseen=False, unpinned=None, visible=True, closed=False,
    archived=False, bookmarked=None, liked=None, views=0, like_count=0, has_summary=False,
    pinned_globally=False, featured_link=None)
_VIEW_FIXED = dict(
    timeline_lookup=[[1, 0]], views=1, like_count=0, visible=True, closed=False,
    archived=False, has_summary=False, deleted_at=None, featured_link=None,
    pinned_globally=False, pinned_until=None, image_url=None, slow_mode_seconds=0, draft=None,
    draft_sequence=None, unpinned=None, current_post_number=1, deleted_by=None,
    actions_summary=[{"id": 4, "count": 0, "hidden": False, "can_act": False}],
    chunk_size=CHUNK_SIZE, bookmarked=False, topic_timer=None, message_bus_last_id=0,
    show_read_indicator=False, thumbnails=None, slow_mode_enabled_until=None)


def cook(raw: str) -> str:
    """Markdown to HTML, enough for tests: paragraphs, escaped text, HTML comments dropped."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _COMMENT.sub("", raw)) if p.strip()]
    return "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>' + chr(10))}</p>"
                     for p in paragraphs)


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "topic"


def ts(moment: datetime | None) -> str | None:
    """Discourse's timestamp form: UTC with milliseconds, `2026-01-19T00:47:25.767Z`."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class User:
    id: int
    username: str
    admin: bool = False


@dataclass
class Post:
    id: int
    topic_id: int
    post_number: int
    username: str
    raw: str
    created_at: datetime
    version: int = 1
    last_editor: str = ""
    last_version_at: datetime | None = None

    @property
    def cooked(self) -> str:
        return cook(self.raw)


@dataclass
class Revision:
    """A first-post revision: `changes` maps "tags" / "category_id" to (before, after)."""

    number: int
    username: str
    created_at: datetime
    changes: dict[str, tuple[Any, Any]]


@dataclass
class Topic:
    id: int
    title: str
    username: str
    category_id: int | None
    created_at: datetime
    tags: list[str] = field(default_factory=list)
    archetype: str = "regular"
    recipients: tuple[str, ...] = ()  # private messages: the groups and users it went to
    pinned: bool = False
    deleted: bool = False
    closed: bool = False
    external_id: str | None = None
    post_ids: list[int] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    bumped_at: datetime | None = None

    @property
    def slug(self) -> str:
        return slugify(self.title)


class _Missing(Exception):
    """Raised inside a handler: answer Discourse's 404."""


class _Refused(Exception):
    """Raised inside a handler: answer Discourse's 403 (not allowed to do this)."""


def _api(*, write: bool = False) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a handler: check the key (writes need one), turn `_Missing` into a 404."""

    def wrap(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def run(self: FakeDiscourse, request: Request) -> Response:
            key = request.headers.get("api-key")
            user = self.users.get((request.headers.get("api-username") or "").lower())
            if (key and (key != self.api_key or user is None)) or (write and not key):
                return Response(403, INVALID_ACCESS)
            try:
                return handler(self, request, user if key else None)
            except _Missing:
                return Response(404, NOT_FOUND)
            except _Refused:
                return Response(403, INVALID_ACCESS)

        return run

    return wrap


def _number(text: str | None) -> int:
    if text is None or not text.isdigit():
        raise _Missing
    return int(text)


class FakeDiscourse(FakeService):
    """Discourse for the sandbox; `api_key` is the one valid key (for any known username)."""

    name = "discourse"

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.api_key = API_KEY
        self.users: dict[str, User] = {}  # by lower-cased username
        self.groups: dict[str, dict[str, set[str]]] = {}  # name -> {"members", "owners"}
        self.categories = dict(CATEGORIES)
        self.topics: dict[int, Topic] = {}
        self.posts: dict[int, Post] = {}
        self.tag_ids: dict[str, int] = {}
        self._memo: dict[str, tuple[datetime, Any]] = {}
        self._next = {"user": 1, "topic": 1, "post": 1}
        self.webhooks = WebhookSender("discourse")
        self.add_user("system", admin=True)
        founded = self.clock.now() - timedelta(days=3 * 365)
        for category_id, (name, _, _) in CATEGORIES.items():
            self._new_topic("system", f"About the {name} category", f"All about {name}.",
                            category_id, at=founded, pinned=True)

    # --- acting as a person (plain Python, no HTTP) ------------------------------------

    def add_user(self, username: str, groups: tuple[str, ...] | list[str] = (), *,
                 owner_of: tuple[str, ...] = (), admin: bool = False) -> User:
        with self.lock:
            user = self.users.get(username.lower())
            if user is None:
                user = self.users[username.lower()] = User(self._id("user"), username, admin)
            for group in (*groups, *owner_of):
                entry = self.groups.setdefault(group, {"members": set(), "owners": set()})
                entry["members"].add(user.username)
                if group in owner_of:
                    entry["owners"].add(user.username)
            return user

    def create_topic(self, username: str, title: str, raw: str, category_id: int,
                     tags: tuple[str, ...] | list[str] = ()) -> tuple[int, int]:
        with self.lock:
            topic = self._new_topic(username, title, raw, category_id, tags=tags)
            return topic.id, topic.post_ids[0]

    def reply(self, username: str, topic_id: int, raw: str) -> int:
        with self.lock:
            return self._new_post(self.topics[topic_id], username, raw).id

    def send_message(self, username: str, recipients: str, title: str, raw: str) -> int:
        with self.lock:
            names = tuple(n.strip() for n in recipients.split(",") if n.strip())
            return self._new_topic(username, title, raw, None, archetype="private_message",
                                   recipients=names).id

    def retag(self, username: str, topic_id: int, tags: tuple[str, ...] | list[str]) -> None:
        with self.lock:
            self._revise(username, self.topics[topic_id], tags=list(tags))

    def recategorize(self, username: str, topic_id: int, category_id: int) -> None:
        with self.lock:
            self._revise(username, self.topics[topic_id], category_id=category_id)

    def delete_topic(self, topic_id: int) -> None:
        with self.lock:
            self.topics[topic_id].deleted = True

    def restore_topic(self, topic_id: int) -> None:
        with self.lock:
            self.topics[topic_id].deleted = False

    def close_topic(self, topic_id: int) -> None:
        """Closed to new replies: only staff may still post."""
        with self.lock:
            self.topics[topic_id].closed = True

    def posts_in(self, topic_id: int) -> list[Post]:
        with self.lock:
            return [self.posts[pid] for pid in self.topics[topic_id].post_ids]

    @property
    def messages(self) -> list[Topic]:
        with self.lock:
            return [t for t in self.topics.values() if t.archetype == "private_message"]

    def rate_limit(self, match: str, wait_seconds: int = 5, times: int = 1) -> Fault:
        """Inject Discourse's 429: JSON body with `extras.wait_seconds`, and Retry-After."""
        body = {"errors": [f"You\u2019ve performed this action too many times. "
                           f"Please wait {wait_seconds} seconds before trying again."],
                "error_type": "rate_limit", "extras": {"wait_seconds": wait_seconds}}
        headers = {"Retry-After": str(wait_seconds),
                   "Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"}
        return self.inject(Fault(match=match, status=429, body=body, headers=headers, times=times))

    # --- state changes shared by people and the API ------------------------------------

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind] - 1

    def _new_topic(self, username: str, title: str, raw: str, category_id: int | None, *,
                   tags: Any = (), archetype: str = "regular", recipients: tuple[str, ...] = (),
                   at: datetime | None = None, pinned: bool = False) -> Topic:
        at = at or self.clock.tick()
        topic = Topic(self._id("topic"), title, self.users[username.lower()].username,
                      category_id, at, archetype=archetype, recipients=recipients, pinned=pinned)
        self.topics[topic.id] = topic
        self._set_tags(topic, list(tags))
        self._new_post(topic, username, raw, at=at)
        return topic

    def _new_post(self, topic: Topic, username: str, raw: str, *,
                  at: datetime | None = None) -> Post:
        at = at or self.clock.tick()
        user = self.users[username.lower()]
        post = Post(self._id("post"), topic.id, len(topic.post_ids) + 1, user.username, raw, at,
                    last_editor=user.username, last_version_at=at)
        self.posts[post.id] = post
        topic.post_ids.append(post.id)
        topic.bumped_at = at
        if post.post_number == 1:
            self._hook("topic", "topic_created", topic)
        self._hook("post", "post_created", topic, post)
        return post

    def _hook(self, kind: str, event: str, topic: Topic, post: Post | None = None) -> None:
        """A delivery as Discourse's web hooks send it (not for private messages)."""
        if not self.webhooks.targets or topic.archetype != "regular":
            return
        if post is None:
            payload = {"topic": {"id": topic.id, "title": topic.title, "slug": topic.slug,
                                 "category_id": topic.category_id, "tags": list(topic.tags),
                                 "created_at": ts(topic.created_at),
                                 "archetype": topic.archetype}}
        else:
            payload = {"post": {"id": post.id, "topic_id": topic.id,
                                "post_number": post.post_number, "username": post.username,
                                "created_at": ts(post.created_at), "cooked": post.cooked,
                                "topic_slug": topic.slug, "topic_title": topic.title,
                                "category_id": topic.category_id}}
        self.webhooks.deliver(event, payload, **{
            "X-Discourse-Instance": self.base_url, "X-Discourse-Event-Type": kind})

    def _set_tags(self, topic: Topic, tags: list[str]) -> None:
        topic.tags = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
        for tag in topic.tags:
            self.tag_ids.setdefault(tag, len(self.tag_ids) + 1)

    def _revise(self, username: str, topic: Topic, *, tags: list[str] | None = None,
                category_id: int | None = None) -> None:
        """Change tags and/or category as Discourse's PostRevisor records it: a new first-post
        revision, unless the same editor edits again within the grace period, which folds
        the change into their last revision (or into none, before the first revision)."""
        before = (sorted(topic.tags), topic.category_id)
        if tags is not None:
            self._set_tags(topic, tags)
        if category_id is not None:
            topic.category_id = category_id
        changes: dict[str, tuple[Any, Any]] = {}
        if sorted(topic.tags) != before[0]:
            changes["tags"] = (before[0], sorted(topic.tags))
        if topic.category_id != before[1]:
            changes["category_id"] = (before[1], topic.category_id)
        if not changes:
            return
        first, now = self.posts[topic.post_ids[0]], self.clock.tick()
        editor = self.users[username.lower()].username
        grace = timedelta(seconds=GRACE_SECONDS)
        self._hook("topic", "topic_edited", topic)
        if first.last_editor != editor or now - first.last_version_at > grace:
            first.version, first.last_version_at = first.version + 1, now
            topic.revisions.append(Revision(first.version, editor, now, changes))
            if len(topic.post_ids) == 1:  # a new version bumps the topic if it is the last post
                topic.bumped_at = now
        elif topic.revisions and topic.revisions[-1].number == first.version:
            kept = topic.revisions[-1].changes
            for name, (old, new) in changes.items():
                kept[name] = (kept[name][0] if name in kept else old, new)
                if kept[name][0] == kept[name][1]:
                    del kept[name]
            if not kept:
                topic.revisions.pop()
                first.version -= 1
        first.last_editor = editor

    # --- access ------------------------------------------------------------------------

    def _can_see(self, topic: Topic, user: User | None) -> bool:
        if topic.deleted or (topic.archetype == "private_message" and user is None):
            return False
        if topic.archetype != "private_message" or user.admin:
            return True
        allowed = {topic.username.lower(), *(r.lower() for r in topic.recipients)}
        groups = {g.lower() for g, e in self.groups.items() if user.username in e["members"]}
        return user.username.lower() in allowed or bool(groups & allowed)

    def _visible(self, topic_id: int, user: User | None) -> Topic:
        topic = self.topics.get(topic_id)
        if topic is None or not self._can_see(topic, user):
            raise _Missing
        return topic

    def not_found(self, request: Request) -> Response:
        return Response(404, NOT_FOUND)

    def _redirect(self, path: str, query: dict[str, Any]) -> Response:
        location = f"{self.base_url}{path}" + (f"?{urlencode(query, doseq=True)}" if query else "")
        body = f'<html><body>You are being <a href="{location}">redirected</a>.</body></html>'
        return Response(301, body.encode(), {"Location": location}, "text/html; charset=utf-8")

    # --- payloads ----------------------------------------------------------------------

    def _user_json(self, username: str) -> dict[str, Any]:
        user = self.users[username.lower()]
        avatar = f"/letter_avatar_proxy/v4/letter/{user.username[0].lower()}/8c91f0/{{size}}.png"
        return {"id": user.id, "username": user.username, "name": None, "avatar_template": avatar}

    def _post_json(self, post: Post, viewer: User | None, raw: bool) -> dict[str, Any]:
        topic, user = self.topics[post.topic_id], self._user_json(post.username)
        mine = viewer is not None and viewer.username == post.username
        data = {
            **_POST_FIXED, "id": post.id, "username": post.username,
            "avatar_template": user["avatar_template"], "created_at": ts(post.created_at),
            "cooked": post.cooked, "post_number": post.post_number,
            "posts_count": len(topic.post_ids), "updated_at": ts(post.created_at),
            "yours": mine, "topic_id": topic.id, "topic_slug": topic.slug,
            "version": post.version, "can_edit": mine or bool(viewer and viewer.admin),
            "admin": self.users[post.username.lower()].admin, "user_id": user["id"],
            "staff": self.users[post.username.lower()].admin,
            "post_url": f"/t/{topic.slug}/{topic.id}/{post.post_number}",
        }
        return {**data, "raw": post.raw} if raw else data

    def _tags_json(self, topic: Topic) -> dict[str, Any]:
        """Tags are plain names, and are not shown at all on private messages."""
        if topic.archetype != "regular":
            return {}
        return {"tags": list(topic.tags), "tags_descriptions": {}}

    def _list_item(self, topic: Topic) -> dict[str, Any]:
        posts = [self.posts[pid] for pid in topic.post_ids]
        item = {
            **_LIST_FIXED, "id": topic.id, "title": topic.title,
            "fancy_title": html.escape(topic.title), "slug": topic.slug,
            "posts_count": len(posts), "reply_count": len(posts) - 1,
            "highest_post_number": posts[-1].post_number, "created_at": ts(topic.created_at),
            "last_posted_at": ts(posts[-1].created_at), "bumped_at": ts(topic.bumped_at),
            "archetype": topic.archetype, "pinned": topic.pinned,
            "last_poster_username": posts[-1].username, "category_id": topic.category_id,
            "posters": [{"extras": "latest", "description": "Original Poster, Most Recent Poster",
                         "user_id": self.users[topic.username.lower()].id,
                         "primary_group_id": None, "flair_group_id": None}],
            **self._tags_json(topic),
        }
        if topic.pinned:
            item["excerpt"] = html.escape(_COMMENT.sub("", posts[0].raw))[:200]
        return item

    def _listing(self, request: Request, topics: list[Topic], path: str, *,
                 pinned_first: bool = False) -> Response:
        """One page of a topic list, newest activity first (category lists: pinned first)."""
        topics = sorted(topics, key=lambda t: (not (pinned_first and t.pinned),
                                               -t.bumped_at.timestamp(), -t.id))
        page = _number(request.arg("page", "0"))
        shown = topics[page * PER_PAGE : (page + 1) * PER_PAGE]
        topic_list = {"can_create_topic": True, "per_page": PER_PAGE,
                      "top_tags": sorted(self.tag_ids),
                      "topics": [self._list_item(t) for t in shown]}
        if len(topics) > (page + 1) * PER_PAGE:
            topic_list["more_topics_url"] = f"{path}?page={page + 1}"
        users = [self._user_json(u) for u in sorted({t.username for t in shown})]
        return Response(200, {"users": users, "primary_groups": [], "flair_groups": [],
                              "topic_list": topic_list})

    def _topic_view(self, topic: Topic, viewer: User | None, raw: bool) -> dict[str, Any]:
        posts = [self.posts[pid] for pid in topic.post_ids]
        people = sorted({p.username for p in posts})
        return {
            **_VIEW_FIXED,
            "post_stream": {"posts": [self._post_json(p, viewer, raw) for p in posts[:CHUNK_SIZE]],
                            "stream": [p.id for p in posts]},
            **self._tags_json(topic),
            "id": topic.id, "title": topic.title, "fancy_title": html.escape(topic.title),
            "posts_count": len(posts), "created_at": ts(topic.created_at),
            "reply_count": len(posts) - 1, "last_posted_at": ts(posts[-1].created_at),
            "archetype": topic.archetype, "slug": topic.slug, "category_id": topic.category_id,
            "word_count": sum(len(p.raw.split()) for p in posts),
            "user_id": self.users[topic.username.lower()].id,
            "pinned_at": ts(topic.created_at) if topic.pinned else None,
            "draft_key": f"topic_{topic.id}", "pinned": topic.pinned,
            "highest_post_number": posts[-1].post_number, "participant_count": len(people),
            "details": {"can_edit": viewer is not None, "notification_level": 1,
                        "participants": [self._user_json(u) for u in people],
                        "created_by": self._user_json(posts[0].username),
                        "last_poster": self._user_json(posts[-1].username)},
        }

    def _revision_json(self, post: Post, topic: Topic, rev: Revision,
                       viewer: User | None) -> dict[str, Any]:
        """PostRevisionSerializer: the change from revision n-1 to n, and its neighbours."""
        numbers = [r.number for r in topic.revisions]
        at = numbers.index(rev.number)
        body = f'<div class="inline-diff">{post.cooked}</div>'
        data = {
            "created_at": ts(rev.created_at), "post_id": post.id, "previous_hidden": False,
            "current_hidden": False, "first_revision": numbers[0],
            "previous_revision": numbers[at - 1] if at else None, "current_revision": rev.number,
            "next_revision": numbers[at + 1] if at + 1 < len(numbers) else None,
            "last_revision": numbers[-1], "current_version": rev.number,
            "version_count": post.version, "username": rev.username.lower(),
            "display_username": rev.username,
            "avatar_template": self._user_json(rev.username)["avatar_template"],
            "edit_reason": None,
            "body_changes": {"inline": body, "side_by_side": body,
                             "side_by_side_markdown": html.escape(post.raw)},
            "title_changes": {"inline": f"<div>{html.escape(topic.title)}</div>"},
            "can_edit": bool(viewer and viewer.admin),
        }
        for name in ("tags", "category_id"):
            if name in rev.changes:
                data[f"{name}_changes"] = dict(zip(("previous", "current"), rev.changes[name],
                                                   strict=True))
        return data

    # --- reading endpoints -------------------------------------------------------------

    def _category_path(self, category_id: int) -> str:
        _, slug, parent = self.categories[category_id]
        return f"{self.categories[parent][1]}/{slug}" if parent else slug

    @route("GET", "/c/{category_id}.json")
    @_api()
    def get_category_by_id(self, request: Request, viewer: User | None) -> Response:
        """Like Discourse: 301 to /c/{parent}/{slug}/{id}.json, keeping the query."""
        category_id = _number(request.params["category_id"])
        if category_id not in self.categories:
            raise _Missing
        return self._redirect(f"/c/{self._category_path(category_id)}/{category_id}.json",
                              request.query)

    @route("GET", "/c/{slug}/{category_id}.json")
    @route("GET", "/c/{parent}/{slug}/{category_id}.json")
    @_api()
    def get_category_topics(self, request: Request, viewer: User | None) -> Response:
        """A category's topics and its subcategories' topics."""
        category_id = _number(request.params["category_id"])
        if category_id not in self.categories:
            raise _Missing
        ids = {category_id} | {c for c, v in self.categories.items() if v[2] == category_id}
        topics = [t for t in self.topics.values()
                  if t.category_id in ids and self._can_see(t, viewer)]
        path = f"/c/{self._category_path(category_id)}/{category_id}/l/latest"
        return self._listing(request, topics, path, pinned_first=True)

    @route("GET", "/t/{ref}.json")
    @_api()
    def get_topic(self, request: Request, viewer: User | None) -> Response:
        """By id; a slug answers 301 to /t/{slug}/{id}.json like Discourse does."""
        ref = request.params["ref"]
        if not ref.isdigit():
            found = sorted(t.id for t in self.topics.values()
                           if t.slug == ref.lower() and self._can_see(t, viewer))
            if not found:
                raise _Missing
            keep = {k: v for k, v in request.query.items() if k == "include_raw"}
            return self._redirect(f"/t/{ref.lower()}/{found[0]}.json", keep)
        topic = self._visible(int(ref), viewer)
        return Response(200, self._topic_view(topic, viewer, "include_raw" in request.query))

    @route("GET", "/t/external_id/{external_id}.json")
    @_api()
    def get_topic_external_id(self, request: Request, viewer: User | None) -> Response:
        """301 to the topic an API client created with that `external_id`."""
        wanted = unquote(request.params["external_id"])
        found = [t for t in self.topics.values()
                 if t.external_id == wanted and self._can_see(t, viewer)]
        if not found:
            raise _Missing
        return self._redirect(f"/t/{found[0].slug}/{found[0].id}.json", {})

    # Routes are tried in method-name order: get_topic_posts must come before get_topic_slug_id.
    @route("GET", "/t/{topic_id}/posts.json")
    @_api()
    def get_topic_posts(self, request: Request, viewer: User | None) -> Response:
        """Posts by id (post_ids[]), newest first as Discourse sends them."""
        topic = self._visible(_number(request.params["topic_id"]), viewer)
        wanted = {int(i) for i in request.query.get("post_ids[]", []) if i.isdigit()}
        ids = [i for i in topic.post_ids if i in wanted] if wanted else topic.post_ids[:CHUNK_SIZE]
        posts = sorted((self.posts[i] for i in ids), key=lambda p: -p.post_number)
        raw = "include_raw" in request.query
        return Response(200, {"post_stream": {"posts": [self._post_json(p, viewer, raw)
                                                        for p in posts]}, "id": topic.id})

    @route("GET", "/t/{slug}/{topic_id}.json")
    @_api()
    def get_topic_slug_id(self, request: Request, viewer: User | None) -> Response:
        topic = self._visible(_number(request.params["topic_id"]), viewer)
        return Response(200, self._topic_view(topic, viewer, "include_raw" in request.query))

    @route("GET", "/posts/{post_id}/revisions/{number}.json")
    @_api()
    def get_revision(self, request: Request, viewer: User | None) -> Response:
        """`number` may be `latest`; a post never edited has no revision (404)."""
        post = self.posts.get(_number(request.params["post_id"]))
        if post is None:
            raise _Missing
        topic = self._visible(post.topic_id, viewer)
        number = request.params["number"]
        if number != "latest" and (not number.isdigit() or int(number) < 2):
            return Response(400, {"errors": ["revision is invalid"],
                                  "error_type": "invalid_parameters"})
        revisions = topic.revisions if post.post_number == 1 else []
        chosen = [r for r in revisions if number == "latest" or r.number == int(number)]
        if not chosen:
            raise _Missing
        return Response(200, self._revision_json(post, topic, chosen[-1], viewer))

    @route("GET", "/topics/created-by/{username}.json")
    @_api()
    def get_created_by(self, request: Request, viewer: User | None) -> Response:
        username = request.params["username"].lower()
        if username not in self.users:
            raise _Missing
        topics = [t for t in self.topics.values() if t.username.lower() == username
                  and t.archetype == "regular" and self._can_see(t, viewer)]
        return self._listing(request, topics, f"/topics/created-by/{username}")

    @route("GET", "/topics/private-messages-sent/{username}.json")
    @_api(write=True)
    def get_messages_sent(self, request: Request, viewer: User | None) -> Response:
        """Only the user themself (or an admin) may list their messages."""
        username = request.params["username"].lower()
        if username not in self.users:
            raise _Missing
        if not viewer.admin and viewer.username.lower() != username:
            return Response(403, INVALID_ACCESS)
        topics = [t for t in self.messages if t.username.lower() == username and not t.deleted]
        return self._listing(request, topics, f"/topics/private-messages-sent/{username}")

    @route("GET", "/groups/{group}/members.json")
    @_api()
    def get_group_members(self, request: Request, viewer: User | None) -> Response:
        entry = self.groups.get(request.params["group"])
        if entry is None:
            raise _Missing
        offset = _number(request.arg("offset", "0"))
        limit = min(_number(request.arg("limit", "50")), 1000)
        names = sorted(entry["members"], key=str.lower)

        def member(username: str) -> dict[str, Any]:
            return {**self._user_json(username), "title": None, "last_posted_at": None,
                    "last_seen_at": None, "added_at": None, "timezone": "UTC"}

        return Response(200, {
            "members": [member(u) for u in names[offset:][:limit]],
            "owners": [member(u) for u in sorted(entry["owners"], key=str.lower)],
            "meta": {"total": len(names), "limit": limit, "offset": offset}})

    # --- writing endpoints -------------------------------------------------------------

    @route("POST", "/posts.json")
    @route("POST", "/posts")
    @_api(write=True)
    def post_posts(self, request: Request, user: User) -> Response:
        """New topic, reply or private message; identical API posts within 120 s are one."""
        body = request.form()
        key = hashlib.sha1(json.dumps([user.username, body], sort_keys=True, default=str)
                           .encode()).hexdigest()
        remembered = self._memo.get(key)
        if remembered and self.clock.now() - remembered[0] <= timedelta(seconds=MEMO_SECONDS):
            return Response(200, remembered[1])
        errors, post = self._create(user, body)
        if errors:
            return Response(422, {"action": "create_post", "errors": errors})
        payload = {**self._post_json(post, user, False), "draft_sequence": 0,
                   "reviewable_id": None, "reviewable_score_count": 0,
                   "reviewable_score_pending_count": 0}
        self._memo[key] = (self.clock.now(), payload)
        return Response(200, payload)

    def _create(self, user: User, body: dict[str, Any]) -> tuple[list[str], Post | None]:
        """Discourse's validations that matter here: lengths, unique titles, recipients."""
        raw, title = str(body.get("raw") or "").strip(), str(body.get("title") or "").strip()
        if body.get("topic_id"):
            topic = self._visible(_number(str(body["topic_id"])), user)
            if topic.closed and not user.admin:
                raise _Refused
            if len(raw) < 20:
                return ["Body is too short (minimum is 20 characters)"], None
            return [], self._new_post(topic, user.username, raw)
        external_id = str(body.get("external_id") or "") or None
        private = body.get("archetype") == "private_message"
        min_title, min_raw = (2, 10) if private else (15, 20)
        recipients = tuple(r.strip() for r in str(body.get("target_recipients") or "").split(",")
                           if r.strip())
        category = None if private else int(body.get("category") or 0)
        errors = [message for failed, message in [
            (len(title) < min_title, f"Title is too short (minimum is {min_title} characters)"),
            (len(raw) < min_raw, f"Body is too short (minimum is {min_raw} characters)"),
            (not private and any(t.title.lower() == title.lower() and not t.deleted
                                 and t.archetype == "regular" for t in self.topics.values()),
             "Title has already been used"),
            (private and (not recipients or any(r not in self.groups and r.lower() not in
                                                self.users for r in recipients)),
             "You must choose a valid user or group for the message"),
            (not private and category not in self.categories, "Category not found"),
            (external_id is not None and any(t.external_id == external_id
                                             for t in self.topics.values()),
             "External ID has already been taken"),
        ] if failed]
        if errors:
            return errors, None
        topic = self._new_topic(user.username, title, raw, category,
                                tags=_tag_input(body, self.tag_ids) or (),
                                archetype="private_message" if private else "regular",
                                recipients=recipients)
        topic.external_id = external_id
        return [], self.posts[topic.post_ids[0]]

    @route("PUT", "/t/{slug}/{topic_id}.json")
    @_api(write=True)
    def put_topic(self, request: Request, user: User) -> Response:
        """Tags and/or category as one first-post revision; 2026 echoes tags as objects."""
        topic = self._visible(_number(request.params["topic_id"]), user)
        body = request.form()
        tags = _tag_input(body, self.tag_ids)
        category = body.get("category_id")
        if category is not None and int(category) not in self.categories:
            return Response(422, {"errors": ["Category not found"], "error_type": None})
        self._revise(user.username, topic, tags=tags,
                     category_id=int(category) if category is not None else None)
        payload: dict[str, Any] = {"basic_topic": {
            "id": topic.id, "title": topic.title, "fancy_title": html.escape(topic.title),
            "slug": topic.slug, "posts_count": len(topic.post_ids)}}
        if tags is not None:
            payload["tags"] = [{"id": self.tag_ids[t], "name": t, "slug": t} for t in topic.tags]
        return Response(200, payload)


def _tag_input(body: dict[str, Any], tag_ids: dict[str, int]) -> list[str] | None:
    """Tags as sent: `tags` (names or `{id, name}` objects, JSON) or `tags[]` (form)."""
    if "tags" not in body and "tags[]" not in body:
        return None
    value = body.get("tags", body.get("tags[]")) or []
    by_id = {str(tag_id): name for name, tag_id in tag_ids.items()}
    names = [t.get("name") or by_id.get(str(t.get("id"))) if isinstance(t, dict) else t
             for t in (value if isinstance(value, list) else [value])]
    return [str(n) for n in names if n]
