"""The adapters on answers the real services gave (or their documentation shows), replayed
from cassettes built out of tests/fixtures rather than recorded from our own sandbox.
`tests/fixture_cassettes.py` says where each answer comes from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import vcr

from forumsync.config import DiscourseConfig, GithubConfig
from forumsync.errors import ServiceError
from forumsync.forum import ForumClient
from forumsync.records import CreatedTopic, is_regular_post
from forumsync.repo import RepoClient
from tests.fixture_cassettes import (
    CASSETTES,
    DISCOURSE_ORIGIN,
    GITHUB_ORIGIN,
    LIBRARY,
    cassette_text,
)

REPLAY = vcr.VCR(cassette_library_dir=str(LIBRARY), record_mode="none",
                 match_on=("method", "path", "query"))


@contextmanager
def replaying(name: str) -> Iterator[None]:
    """Replay cassette `name`; every recorded answer must have been asked for."""
    with REPLAY.use_cassette(f"{name}.yaml") as cassette:
        yield
    assert cassette.all_played, f"{name}: some recorded answers were never requested"


def forum() -> ForumClient:
    config = DiscourseConfig(url=DISCOURSE_ORIGIN, api_username="forumsync", api_key="key")
    return ForumClient(config, sleep=lambda _: None)


def repo(name: str = "ehuss/triagebot-test") -> RepoClient:
    config = GithubConfig(api_url=GITHUB_ORIGIN, repo=name, token="not-a-real-token")
    return RepoClient(config, sleep=lambda _: None, retries=0)


@pytest.mark.parametrize("name", sorted(CASSETTES))
def test_committed_cassettes_are_what_the_fixtures_build(name: str) -> None:
    assert (LIBRARY / f"{name}.yaml").read_text(encoding="utf-8") == cassette_text(name)


# --- Discourse -----------------------------------------------------------------------------


def test_a_real_category_listing_with_its_pinned_about_topic() -> None:
    with replaying("discourse_category_listing"):
        topics = forum().category_topics(9)
    assert [t.id for t in topics] == [5, 4]
    assert all(t.created_at.tzinfo is UTC and t.tags == () for t in topics)


def test_a_real_2013_topic_view_with_a_moderator_post_and_offsets() -> None:
    with replaying("discourse_topic_view_2013"):
        topic = forum().topic(57)
    assert topic is not None and topic.slug == "this-site-is-a-sandbox-it-is-reset-every-day"
    assert [p.post_type for p in topic.posts] == [1, 2, 1, 1]
    assert [p.post_number for p in topic.posts if is_regular_post(p)] == [1, 3, 14]
    assert topic.created_at == datetime(2013, 2, 4, 20, 26, 25, 977000, tzinfo=UTC)
    assert all(p.created_at.utcoffset() == timedelta(0) for p in topic.posts)
    assert all(p.raw for p in topic.posts)  # no raw in 2013: the cooked HTML stands in


def test_the_documented_topic_view() -> None:
    with replaying("discourse_topic_view_documented"):
        topic = forum().topic(13)
    assert topic is not None and topic.id == 13 and len(topic.posts) == 1
    assert topic.tags == ()


def test_posts_beyond_the_first_chunk_are_fetched_and_ordered() -> None:
    with replaying("discourse_posts_beyond_the_first_chunk"):
        topic = forum().topic(512)
    assert topic is not None and len(topic.posts) == 22
    numbers = [p.post_number for p in topic.posts]
    assert numbers == sorted(numbers) and 14 not in numbers  # a deleted post leaves a gap


def test_creating_a_topic_and_replying_read_the_new_ids() -> None:
    with replaying("discourse_create_topic"):
        assert forum().create_topic("Title", "Body", 9) == CreatedTopic(topic_id=17, post_id=20)
    with replaying("discourse_reply"):
        assert forum().reply(21, "Body") == 29


def test_setting_tags_accepts_the_documented_answer() -> None:
    with replaying("discourse_set_tags"):
        forum().set_tags(15, ["spec-draft"])


def test_the_documented_group_members_page() -> None:
    with replaying("discourse_group_members"):
        assert forum().group_members("spec-steering-committee") == frozenset({"discourse1"})


def test_a_revision_shaped_from_the_serializer() -> None:
    with replaying("discourse_revisions"):
        revisions = forum().first_post_revisions(8801)
    assert [(r.number, r.username, r.tags_before, r.tags_after) for r in revisions] == [
        (2, "Rohan.K", ("spec-draft",), ("spec-accepted",))]


# --- GitHub --------------------------------------------------------------------------------


def test_adding_a_label_the_repository_already_has() -> None:
    with replaying("github_add_an_existing_label"):
        repo().add_label(70, "S-waiting-on-review")  # no POST /labels: it exists


def test_removing_a_label() -> None:
    with replaying("github_remove_label"):
        repo().remove_label(70, "S-waiting-on-author")


def test_creating_a_comment_reads_its_id() -> None:
    with replaying("github_create_comment"):
        assert repo().create_comment(81, "Some changes occurred") == 1437480477


def test_a_label_github_refuses_as_invalid_is_an_error_not_already_there() -> None:
    with replaying("github_label_validation_failure"), pytest.raises(ServiceError) as caught:
        repo("octokit-fixture-org/errors").add_label(1, "foo")
    assert caught.value.status == 422 and not caught.value.transient
    assert caught.value.operation == "add label"
