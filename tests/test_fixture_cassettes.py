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


def test_a_single_merged_pull_says_who_merged() -> None:
    with replaying("github_single_pull"):
        pull = repo("example-org/specs").pull(7)
    assert (pull.number, pull.merged, pull.merged_by, pull.state) == (
        7, True, "alice-committee", "closed")


def test_a_spec_file_in_base64_lines_with_non_ascii_text() -> None:
    with replaying("github_spec_file"):
        doc = repo("example-org/specs").spec_document("spec-0007/index.md", "main")
    assert doc is not None and (doc.number, doc.is_draft) == (7, True)
    assert doc.title == "SPEC 7 \u2014 Seeding pseudo-random number generation"
    assert doc.discussion == "https://discuss.scientific-python.org/t/spec-7-seeding/1234"


def test_core_projects_are_the_markdown_files_of_the_folder() -> None:
    with replaying("github_core_projects"):
        assert repo("example-org/specs").core_projects() == ["ipython", "numpy",
                                                             "scikit-image"]


def test_spec_files_in_a_recursive_tree_in_both_layouts() -> None:
    with replaying("github_spec_files_in_the_tree"):
        files = repo("example-org/specs").spec_files("main")
    assert sorted(files) == ["spec-0000/index.md", "spec-0001.md", "spec-0001/index.md",
                             "spec-0013/index.md"]


def test_issue_events_with_a_deleted_actor_and_merge_then_close() -> None:
    with replaying("github_issue_events"):
        events = repo("example-org/specs").issue_events(7)
    assert [(e.event, e.actor) for e in events][-3:] == [
        ("reopened", "carol-author"), ("merged", "alice-committee"),
        ("closed", "alice-committee")]
    assert ("unlabeled", "ghost") in [(e.event, e.actor) for e in events]


def test_pull_files_as_documented_with_a_rename() -> None:
    with replaying("github_pull_files"):
        files = repo("example-org/specs").pull_files(7)
    assert [(f.filename, f.status, f.previous_filename) for f in files] == [
        ("spec-0007/index.md", "added", None),
        ("spec-0007/figure.svg", "renamed", "spec-0007/old-figure.svg")]


def test_the_default_branch_head_as_a_bare_sha_then_not_modified() -> None:
    client = repo("example-org/specs")
    with replaying("github_default_branch_head"):
        sha, etag = client.default_branch_head()
        assert sha == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
        assert etag == '"8f14e45fceea167a5a36dedd4bea2543"'
        assert client.default_branch_head(etag) == (None, etag)
