"""Contract tests: every ForumClient method, run once against recorded cassettes and once
against the live sandbox, so the sandbox and the recordings cannot drift apart unseen.

Each test makes what it reads through the adapter itself, so the same tests can re-record
the cassettes against a real forum (see tests/cassettes/discourse/README.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from forumsync.errors import ServiceError
from forumsync.forum import ForumClient
from forumsync.sandbox.core import ServiceServer
from forumsync.sandbox.discourse import GRACE_SECONDS
from tests.forum_support import (
    CASSETTES,
    RECORD,
    RECORD_KEY,
    RECORD_URL,
    SANDBOX_WORLD,
    WORLD_FILE,
    World,
    discourse_vcr,
    forum_for,
    seeded_sandbox,
)

REPLAY_URL = "http://127.0.0.1:9"  # never contacted: vcrpy answers every request


@dataclass
class Contract:
    forum: ForumClient
    world: World
    anonymous: ForumClient
    pass_time: Callable[[float], None] = lambda seconds: None  # replay: time is recorded

    def title(self, text: str) -> str:
        """Titles must be unique on Discourse; a real forum keeps earlier recordings' topics."""
        return text if self.world.run == "sandbox" else f"{text} ({self.world.run})"

    def marker(self, key: str) -> str:
        return f"<!-- forumsync:{self.world.run}:{key} -->"

    def external_id(self, key: str) -> str:
        """External ids are unique on Discourse, as titles are: one per recording."""
        return f"forumsync-{self.world.run}-{key}"


def _on_sandbox(world: World) -> Iterator[Contract]:
    fake = seeded_sandbox(world)
    with ServiceServer(fake) as server:
        yield Contract(forum_for(server.url, username=world.api_username), world,
                       forum_for(server.url, api_key=None),
                       lambda seconds: fake.clock.advance(seconds=seconds))


@pytest.fixture(params=["cassette", "sandbox"])
def contract(request: pytest.FixtureRequest) -> Iterator[Contract]:
    if request.param == "sandbox":
        yield from _on_sandbox(SANDBOX_WORLD)
        return
    cassette = f"{request.node.originalname}.yaml"
    if not RECORD:
        if not (CASSETTES / cassette).exists() or not WORLD_FILE.exists():
            pytest.fail(f"missing cassette {cassette}: run tests/cassettes/record_discourse.py")
        world = World.recorded()
        with discourse_vcr().use_cassette(cassette, record_mode="none"):
            yield Contract(forum_for(REPLAY_URL, username=world.api_username), world,
                           forum_for(REPLAY_URL, api_key=None))
        return
    world = World.recorded()
    with discourse_vcr().use_cassette(cassette, record_mode="all"):
        if RECORD == "live":
            yield Contract(forum_for(RECORD_URL, api_key=RECORD_KEY, username=world.api_username,
                                     timeout=30.0), world, forum_for(RECORD_URL, api_key=None),
                           time.sleep)
        else:
            yield from _on_sandbox(world)


def test_created_topic_reads_back_with_raw_markdown(contract: Contract) -> None:
    forum, world = contract.forum, contract.world
    raw = f"A viability discussion opened for a new SPEC.\n\n{contract.marker('t1')}"
    created = forum.create_topic(contract.title("SPEC idea: shared test fixtures"), raw,
                                 world.ideas_category_id, tags=["spec-draft"])

    topic = forum.topic(created.topic_id)

    assert topic is not None
    assert topic.title == contract.title("SPEC idea: shared test fixtures")
    assert topic.category_id == world.ideas_category_id
    assert topic.tags == ("spec-draft",)
    assert topic.first_post is not None
    assert topic.first_post.id == created.post_id
    assert topic.first_post.raw == raw  # raw keeps the marker that cooking drops
    assert topic.first_post.username == world.api_username
    assert topic.created_at.tzinfo is not None


def test_posts_beyond_the_first_chunk_are_fetched_in_order(contract: Contract) -> None:
    forum = contract.forum
    created = forum.create_topic(contract.title("SPEC idea: a long discussion"),
                                 "The first post of a discussion that runs long.",
                                 contract.world.ideas_category_id)
    replies = [forum.reply(created.topic_id, f"Reply number {n} in the long discussion.")
               for n in range(2, 26)]

    topic = forum.topic(created.topic_id)

    assert topic is not None
    assert [p.post_number for p in topic.posts] == list(range(1, 26))
    assert [p.id for p in topic.posts[1:]] == replies
    assert topic.posts[-1].raw == "Reply number 25 in the long discussion."


def test_category_listing_is_newest_first_and_stops_at_since(contract: Contract) -> None:
    forum, world = contract.forum, contract.world
    made = [forum.create_topic(contract.title(f"SPEC idea: listing check {n}"),
                               f"Listing check topic number {n}, long enough.",
                               world.ideas_category_id, tags=["spec-draft"]).topic_id
            for n in range(3)]

    everything = forum.category_topics(world.ideas_category_id)
    listed = [t.id for t in everything if t.id in made]
    assert listed == made[::-1]
    second = next(t for t in everything if t.id == made[1])
    assert second.tags == ("spec-draft",) and second.posts_count == 1

    recent = forum.category_topics(world.ideas_category_id, since=second.created_at)
    assert [t.id for t in recent if t.id in made] == made[:0:-1]
    later = second.created_at + timedelta(days=3650)
    assert forum.category_topics(world.ideas_category_id, since=later) == []


def test_revisions_record_changes_after_the_grace_period(contract: Contract) -> None:
    """Discourse folds edits by the same account within 5 minutes into one version."""
    forum, world = contract.forum, contract.world
    ideas, accepted = world.ideas_category_id, world.accepted_category_id
    created = forum.create_topic(contract.title("SPEC idea: revision history"),
                                 "A topic whose tags and category will change.", ideas,
                                 tags=["spec-draft"])
    assert forum.first_post_revisions(created.post_id) == []  # never edited: a 404
    forum.set_tags(created.topic_id, ["spec-accepted"])
    assert forum.first_post_revisions(created.post_id) == []  # the author's own quick edit

    contract.pass_time(GRACE_SECONDS + 5)
    forum.set_category(created.topic_id, accepted)
    forum.set_tags(created.topic_id, ["spec-draft"])  # folded into the category revision
    contract.pass_time(GRACE_SECONDS + 5)
    forum.set_tags(created.topic_id, ["spec-published"])
    revisions = forum.first_post_revisions(created.post_id)

    assert [r.number for r in revisions] == [2, 3]
    both, tags = revisions
    assert (both.category_before, both.category_after) == (ideas, accepted)
    assert (both.tags_before, both.tags_after) == (("spec-accepted",), ("spec-draft",))
    assert (tags.tags_before, tags.tags_after) == (("spec-draft",), ("spec-published",))
    assert (tags.category_before, tags.category_after) == (None, None)
    assert {r.username for r in revisions} == {world.api_username}
    assert both.created_at < tags.created_at
    assert forum.first_post_revisions(created.post_id, after_revision=2) == [tags]
    topic = forum.topic(created.topic_id)
    assert topic is not None
    assert (topic.tags, topic.category_id) == (("spec-published",), accepted)


def test_clearing_tags_and_reading_by_slug(contract: Contract) -> None:
    forum = contract.forum
    created = forum.create_topic(contract.title("SPEC idea: found by its slug"),
                                 "A topic that is looked up by slug alone.",
                                 contract.world.ideas_category_id, tags=["spec-draft"])
    forum.set_tags(created.topic_id, [])
    by_id = forum.topic(created.topic_id)
    assert by_id is not None and by_id.tags == ()

    by_slug = forum.topic_by_slug(by_id.slug)

    assert by_slug is not None and by_slug.id == created.topic_id
    assert forum.topic_by_slug(f"no-such-topic-{contract.world.run}") is None
    assert forum.topic(987654321) is None


def test_group_members_include_owners(contract: Contract) -> None:
    members = contract.forum.group_members(contract.world.group)
    if contract.world.group_members is None:
        assert members
    else:
        assert members == frozenset(contract.world.group_members)


def test_own_writes_are_found_by_their_markers(contract: Contract) -> None:
    forum, world = contract.forum, contract.world
    opening = contract.marker("open")
    created = forum.create_topic(contract.title("SPEC idea: markers"),
                                 f"A topic the service opened itself.\n\n{opening}",
                                 world.ideas_category_id, external_id=contract.external_id("open"))
    forum.reply(created.topic_id, "A reply by the same account, without any marker.")
    announce = contract.marker("announce")
    reply_id = forum.reply(created.topic_id, f"SPEC pull request opened.\n\n{announce}")

    assert forum.find_post_containing(created.topic_id, announce) == reply_id
    assert forum.find_post_containing(created.topic_id, contract.marker("absent")) is None
    assert forum.topic_by_external_id(contract.external_id("open")) == created.topic_id
    assert forum.topic_by_external_id(contract.external_id("absent")) is None


def test_group_message_is_found_again(contract: Contract) -> None:
    forum, world = contract.forum, contract.world
    marker = contract.marker("digest")
    sent = forum.send_group_message(world.group, contract.title("SPEC digest"),
                                    f"Stalled discussions this week: none.\n\n{marker}",
                                    external_id=contract.external_id("digest"))

    assert forum.topic_by_external_id(contract.external_id("digest")) == sent.topic_id


def test_writing_without_a_key_is_refused(contract: Contract) -> None:
    with pytest.raises(ServiceError) as failure:
        contract.anonymous.reply(1, "An anonymous reply that must be refused.")
    assert failure.value.status == 403
    assert not failure.value.transient
