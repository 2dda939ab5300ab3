"""Discourse payloads to records: pure functions, no HTTP, so each is tested on recorded
payloads alone (tests/fixtures/discourse). Whatever shape a payload has, these raise only
KeyError, TypeError or ValueError, which the client turns into a ServiceError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from forumsync.records import (
    REGULAR_POST,
    CreatedTopic,
    ForumPost,
    ForumTopic,
    TopicRevision,
    TopicSummary,
)
from forumsync.timeutil import parse_iso

DETAIL_LIMIT = 300


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
        activity = last_activity(item) if since is not None else None  # no dates to parse
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
        post_type=int(item.get("post_type") or REGULAR_POST),
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
    number, created = payload.get("post_number"), payload.get("created_at")
    return CreatedTopic(topic_id=int(payload["topic_id"]), post_id=int(payload["id"]),
                        post_number=int(number) if number is not None else None,
                        created_at=parse_iso(created) if created else None)


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
