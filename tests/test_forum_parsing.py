"""The adapter's pure parsing functions on real payload shapes (tests/fixtures/discourse)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from forumsync.forum import (
    MAX_WAIT,
    QueuedForReview,
    backoff,
    error_detail,
    is_pinned,
    last_activity,
    missing_post_ids,
    page_since,
    parse_created,
    parse_members,
    parse_post,
    parse_revision,
    parse_topic,
    parse_topic_page,
    parse_topic_summary,
    rate_limit_wait,
    tag_names,
    tag_params,
)
from forumsync.records import REGULAR_POST, CreatedTopic, is_regular_post
from tests.forum_support import load


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["spec-draft", "rng"], ("spec-draft", "rng")),  # plain strings
        ([{"id": 3, "name": "spec-accepted", "slug": "spec-accepted"}], ("spec-accepted",)),
        (None, ()),  # tagging disabled on the site
        ([], ()),
        (["", {"id": 4}, 7, "ok"], ("ok",)),  # junk is skipped, not fatal
        ("spec-draft,rng", ("spec-draft", "rng")),  # revisions of old posts: one string
        ('["spec-draft", "rng"]', ("spec-draft", "rng")),
    ],
)
def test_tag_names_normalises_every_shape(value: object, expected: tuple[str, ...]) -> None:
    assert tag_names(value) == expected


def test_tags_are_sent_as_named_objects_once_each() -> None:
    assert tag_params(["spec-draft", "spec-draft", "", "x"]) == [
        {"name": "spec-draft"}, {"name": "x"}]


def test_topic_view_with_22_posts_loads_20_and_lists_the_rest_in_stream() -> None:
    view = load("topic_view_22_posts_20_loaded.json")
    chunk = load("topic_posts_by_ids_newest_first.json")

    missing = missing_post_ids(view)
    assert len(view["post_stream"]["posts"]) == 20 and view["posts_count"] == 22
    assert missing == [8822, 8823]
    assert [p["post_number"] for p in chunk["post_stream"]["posts"]] == [23, 22]  # newest first

    topic = parse_topic(view, chunk["post_stream"]["posts"])

    assert topic.id == 512 and topic.category_id == 9 and topic.tags == ("spec-draft",)
    assert len(topic.posts) == 22
    numbers = [p.post_number for p in topic.posts]
    assert numbers == sorted(numbers) and 14 not in numbers  # a deleted post leaves a gap
    assert topic.first_post is not None and topic.first_post.username == "jane_doe"
    last = topic.posts[-1]
    assert last.raw.endswith("<!-- forumsync:announce:412 -->")  # raw keeps the marker
    assert "forumsync" not in chunk["post_stream"]["posts"][0]["cooked"]
    assert topic.last_posted_at == last.created_at
    assert all(p.created_at.tzinfo is UTC for p in topic.posts)


def test_posts_fetched_twice_are_counted_once() -> None:
    view = load("topic_view_22_posts_20_loaded.json")
    again = view["post_stream"]["posts"][:3]
    assert len(parse_topic(view, again).posts) == 20


def test_tags_as_objects_and_no_raw_fall_back_to_cooked() -> None:
    topic = parse_topic(load("topic_view_tags_objects.json"))

    assert topic.tags == ("spec-accepted", "rng")
    assert topic.first_post is not None
    assert topic.first_post.raw.startswith("<p>Should SPEC 7")  # cooked: the comment is gone
    assert missing_post_ids(load("topic_view_tags_objects.json")) == []


def test_2013_topic_without_tags_raw_or_chunk_size() -> None:
    payload = load("topic_legacy_2013.json")
    topic = parse_topic(payload)

    assert topic.tags == ()
    assert [p.post_number for p in topic.posts] == [1, 2, 3, 14]
    assert topic.created_at == datetime(2013, 2, 4, 20, 26, 25, 977000, tzinfo=UTC)  # -05:00
    assert topic.posts[0].raw == payload["post_stream"]["posts"][0]["cooked"]
    assert missing_post_ids(payload) == []


def test_raw_that_is_not_text_falls_back_to_cooked() -> None:
    item = load("topic_posts.json")["post_stream"]["posts"][0]  # raw is a list of nodes
    post = parse_post(item)
    assert post.raw == "<p>Some text.</p>"
    assert (post.topic_id, post.post_number, post.username) == (57, 2, "Some-username")


def test_docs_topic_pinned_with_null_last_post() -> None:
    topic = parse_topic(load("topic_docs_example.json"))
    assert topic.last_posted_at is None
    assert topic.tags == ()


def test_category_page_with_every_tag_shape_and_an_old_pinned_topic() -> None:
    topics, more = parse_topic_page(load("category_list_page0.json"))
    assert more
    summaries = [parse_topic_summary(t) for t in topics]
    assert [s.tags for s in summaries] == [
        (), ("spec-draft",), ("spec-accepted",), (), ()]  # [], strings, objects, null, missing
    assert is_pinned(topics[0]) and not is_pinned(topics[1])
    assert summaries[1].last_posted_at == at("2026-10-30T16:20:05.400+00:00")

    _, more = parse_topic_page(load("category_list_page1_last.json"))
    assert not more


def test_since_skips_old_pinned_topics_and_stops_at_the_first_older_one() -> None:
    topics, _ = parse_topic_page(load("category_list_page0.json"))

    recent, reached = page_since(topics, at("2026-10-15T00:00:00+00:00"))
    assert [s.id for s in recent] == [530, 512]
    assert reached

    everything, reached = page_since(topics, None)
    assert [s.id for s in everything] == [101, 530, 512, 498, 470] and not reached

    boundary, reached = page_since(topics, at("2026-10-28T08:00:00+00:00"))
    assert [s.id for s in boundary] == [530, 512]  # equal time counts as active


def test_2014_category_list_with_offsets_and_a_pinned_about_topic() -> None:
    topics, more = parse_topic_page(load("category_topics.json"))
    assert not more
    recent, reached = page_since(topics, at("2014-04-17T00:00:00+00:00"))
    assert [s.id for s in recent] == [5]  # the pinned one, bumped later than since
    assert reached
    assert last_activity(topics[1]) == at("2014-04-16T18:31:37.371+00:00")


def test_legacy_latest_has_more_topics_url() -> None:
    topics, more = parse_topic_page(load("latest_legacy.json"))
    assert more and topics


def test_private_messages_sent_list() -> None:
    topics, more = parse_topic_page(load("private_messages_sent.json"))
    summary = parse_topic_summary(topics[0])
    assert (summary.id, summary.category_id, more) == (15, None, False)


def test_tag_revision() -> None:
    revision = parse_revision(load("revision_tags_change.json"))
    assert revision.number == 2 and revision.post_id == 8801
    assert revision.username == "Rohan.K"  # display_username: `username` is lower-cased
    assert (revision.tags_before, revision.tags_after) == (("spec-draft",), ("spec-accepted",))
    assert (revision.category_before, revision.category_after) == (None, None)
    assert revision.created_at == at("2026-10-03T14:02:09.551+00:00")


def test_category_revision_and_body_only_revision() -> None:
    category = parse_revision(load("revision_category_change.json"))
    assert (category.category_before, category.category_after) == (9, 15)
    assert category.tags_before is None and category.tags_after is None

    body_only = parse_revision(load("revision_body_only.json"))
    assert body_only.tags_before is None and body_only.category_before is None
    assert body_only.username == "jane_doe"


def test_revision_from_an_older_server_uses_version_and_username() -> None:
    old = {"post_id": 3, "version": 2, "username": "bob", "created_at": "2014-04-16T14:10Z",
           "tags_changes": {"previous": None, "current": ["a"]}}
    revision = parse_revision(old)
    assert (revision.number, revision.username) == (2, "bob")
    assert (revision.tags_before, revision.tags_after) == ((), ("a",))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("posts_create_response.json", CreatedTopic(17, 20)),
     ("posts_create_response_2020.json", CreatedTopic(21, 29))],
)
def test_created_post(name: str, expected: CreatedTopic) -> None:
    assert parse_created(load(name)) == expected


def test_post_held_for_review_is_not_a_created_post() -> None:
    with pytest.raises(QueuedForReview):
        parse_created(load("posts_create_enqueued.json"))


def test_group_member_pages() -> None:
    names, count, total = parse_members(load("group_members_with_owners.json"))
    assert names == {"jane_doe", "Rohan.K", "mlee"}  # the owner comes from `owners`
    assert (count, total) == (2, 3)

    names, count, total = parse_members(load("group_members.json"))
    assert (names, count, total) == ({"discourse1"}, 1, 1)

    names, count, total = parse_members(load("group_members_page0.json"))  # no meta
    assert (len(names), count, total) == (100, 100, None)


def test_rate_limit_wait_from_body_then_header() -> None:
    assert rate_limit_wait(load("rate_limited_429.json"), None) == 39.0
    assert rate_limit_wait({"errors": ["slow down"]}, "12") == 12.0
    assert rate_limit_wait("<html>429</html>", None) is None
    assert rate_limit_wait(None, "soon") is None


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff(n, None) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(20, None) == MAX_WAIT
    assert backoff(0, 39.0) == 39.0
    assert backoff(0, 0.0) == 1.0


def test_error_detail_uses_discourse_sentences() -> None:
    assert error_detail(load("rate_limited_429.json"), "x").startswith("You\u2019ve performed")
    assert error_detail({"errors": ["a", "b"]}, "x") == "a; b"
    assert error_detail("<html>", "HTTP 502") == "HTTP 502"


def test_post_types_are_kept_and_only_regular_posts_by_people_count() -> None:
    topic = parse_topic(load("topic_legacy_2013.json"))  # a real 2013 topic view
    assert [(p.post_number, p.post_type) for p in topic.posts] == [(1, 1), (2, 2), (3, 1),
                                                                   (14, 1)]
    assert [p.post_number for p in topic.posts if is_regular_post(p)] == [1, 3, 14]
    assert [p.is_regular for p in topic.posts] == [True, False, True, True]
    post = parse_post({"id": 1, "post_number": 5, "username": "bob", "post_type": 4,
                       "created_at": "2026-01-01T00:00:00Z"})
    assert not is_regular_post(post)  # a whisper
    assert not is_regular_post(replace(post, post_type=3))  # "closed", "tagged", "moved"
    assert not is_regular_post(replace(post, post_type=1, username="system"))
    assert is_regular_post(replace(post, post_type=1))
    no_type = parse_post({"id": 1, "post_number": 5, "username": "bob",
                          "created_at": "2026-01-01T00:00:00Z"})
    assert no_type.post_type == REGULAR_POST


def test_times_with_an_offset_are_converted_to_utc() -> None:
    first = parse_topic(load("topic_legacy_2013.json")).posts[0]  # "…15:26:26.278-05:00"
    assert first.created_at.utcoffset() == timedelta(0)
    assert first.created_at.replace(tzinfo=None) == datetime(2013, 2, 4, 20, 26, 26, 278000)
