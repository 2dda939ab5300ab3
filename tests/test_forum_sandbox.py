"""The adapter against the sandbox at sizes and situations the cassettes do not cover:
several listing pages, long topics, edits by people, deleted topics, private messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from forumsync.errors import ServiceError
from forumsync.forum import ForumClient
from forumsync.sandbox.core import ServiceServer
from forumsync.sandbox.discourse import FakeDiscourse
from tests.forum_support import forum_for, seeded_sandbox


@dataclass
class Site:
    fake: FakeDiscourse
    forum: ForumClient
    anonymous: ForumClient


@pytest.fixture
def site() -> Iterator[Site]:
    fake = seeded_sandbox()
    with ServiceServer(fake) as server:
        yield Site(fake, forum_for(server.url), forum_for(server.url, api_key=None))


def page_requests(fake: FakeDiscourse) -> int:
    return fake.requests["GET /c/{parent}/{slug}/{category_id}.json"]


def test_listing_follows_pages_and_stops_at_since(site: Site) -> None:
    fake = site.fake
    made = []
    for n in range(65):
        fake.clock.advance(hours=1)
        made.append(fake.create_topic("alice", f"SPEC idea number {n:02d}",
                                      f"Idea {n} for a future SPEC.", 9)[0])
    everything = site.forum.category_topics(9)
    assert page_requests(fake) == 3  # 30 + 30 + 6 (the pinned About topic is listed first)
    assert [t.id for t in everything[1:]] == made[::-1]
    assert everything[0].title == "About the Ideas category"

    fake.reset_counts()
    since = fake.topics[made[40]].created_at
    recent = site.forum.category_topics(9, since=since)
    assert [t.id for t in recent] == made[:39:-1]  # 64..40; the old pinned topic is skipped
    assert page_requests(fake) == 1


def test_a_reply_bumps_an_old_topic_into_the_since_window(site: Site) -> None:
    fake = site.fake
    old, _ = fake.create_topic("alice", "An old idea thread", "Written long ago.", 9)
    fake.clock.advance(days=60)
    newer, _ = fake.create_topic("bob", "A newer idea thread", "Written later on.", 9)
    fake.clock.advance(days=1)
    since = fake.clock.now()
    fake.reply("carol", old, "Reviving this old discussion today.")

    assert [t.id for t in site.forum.category_topics(9, since=since)] == [old]
    assert newer not in [t.id for t in site.forum.category_topics(9, since=since)]


def test_a_long_topic_is_fetched_in_chunks_of_twenty(site: Site) -> None:
    fake = site.fake
    topic_id, _ = fake.create_topic("alice", "A very long thread", "Post one of many.", 9)
    for n in range(2, 46):
        fake.reply("bob" if n % 2 else "carol", topic_id, f"Post {n} of the long thread.")

    topic = site.forum.topic(topic_id)

    assert topic is not None and len(topic.posts) == 45
    assert [p.post_number for p in topic.posts] == list(range(1, 46))
    assert fake.requests["GET /t/{topic_id}/posts.json"] == 2  # 25 missing: 20 + 5
    assert topic.posts[44].raw == "Post 45 of the long thread."


def test_revisions_name_the_people_who_changed_tags_and_category(site: Site) -> None:
    fake = site.fake
    fake.add_user("JaneDoe", groups=["spec-steering-committee"])
    topic_id, post_id = fake.create_topic("alice", "An idea being accepted", "Please accept.", 9,
                                          tags=["spec-draft"])
    fake.retag("JaneDoe", topic_id, ["spec-accepted"])
    fake.recategorize("bob", topic_id, 15)
    fake.retag("alice", topic_id, ["spec-accepted"])  # no change: no revision

    revisions = site.anonymous.first_post_revisions(post_id)  # revisions are public

    assert [(r.number, r.username) for r in revisions] == [(2, "JaneDoe"), (3, "bob")]
    assert revisions[0].tags_after == ("spec-accepted",)
    assert (revisions[1].category_before, revisions[1].category_after) == (9, 15)
    assert revisions[0].created_at < revisions[1].created_at
    assert site.forum.first_post_revisions(post_id, after_revision=3) == []


def test_a_deleted_topic_disappears(site: Site) -> None:
    fake = site.fake
    topic_id, _ = fake.create_topic("alice", "A thread to be deleted", "Soon gone.", 9)
    marker = "<!-- forumsync:gone -->"
    site.forum.reply(topic_id, f"Announcement in a doomed thread.\n\n{marker}")
    fake.delete_topic(topic_id)

    assert site.forum.topic(topic_id) is None
    assert site.forum.find_post_containing(topic_id, marker) is None
    assert topic_id not in [t.id for t in site.forum.category_topics(9)]


def test_group_messages_are_private_and_untagged(site: Site) -> None:
    sent = site.forum.send_group_message("spec-steering-committee", "Weekly digest",
                                         "Nothing is stalled this week.")
    [message] = site.fake.messages
    assert (message.id, message.recipients) == (sent.topic_id, ("spec-steering-committee",))

    topic = site.forum.topic(sent.topic_id)
    assert topic is not None and topic.category_id is None and topic.tags == ()
    assert site.anonymous.topic(sent.topic_id) is None  # invisible: a 404 to outsiders
    assert site.fake.messages[0].id not in [t.id for t in site.forum.category_topics(6)]


def test_members_are_paged_fifty_at_a_time(site: Site) -> None:
    for n in range(117):
        site.fake.add_user(f"member{n:03d}", groups=["big-group"])

    members = site.forum.group_members("big-group")

    assert len(members) == 117
    assert site.fake.requests["GET /groups/{group}/members.json"] == 3


def test_own_topic_is_found_by_its_external_id_whatever_its_title(site: Site) -> None:
    fake = site.fake
    created = site.forum.create_topic("Service opened topic", "Opened by the service itself.",
                                      9, external_id="forumsync-newthread-pr-7")
    fake.topics[created.topic_id].title = "Retitled by a moderator"
    fake.create_topic("alice", "Someone else's topic", "Nothing to do with the service.", 9)
    assert site.forum.topic_by_external_id("forumsync-newthread-pr-7") == created.topic_id
    assert site.forum.topic_by_external_id("forumsync-newthread-pr-8") is None
    with pytest.raises(ServiceError):  # Discourse keeps external ids unique
        site.forum.create_topic("Service opened topic again", "Opened by the service again.",
                                9, external_id="forumsync-newthread-pr-7")
