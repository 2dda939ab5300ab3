"""Contract tests for RepoClient: every test runs against the committed vcrpy cassette and
against the live sandbox, so the adapter, the fake and the recording agree.

Re-record with `python tests/cassettes/record_github.py` (see tests/cassettes/github/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from forumsync.errors import NotFound, ServiceError
from forumsync.records import Activity
from tests.repo_support import (
    COMMITTEE,
    ENDORSEMENT,
    MERGED_SPEC,
    OPEN_SPEC,
    REOPENED,
    TEAM,
    TOKEN,
    WITHDRAWN,
    GithubSide,
    github_side,
)

SHA = re.compile(r"[0-9a-f]{40}")


@pytest.fixture(params=["cassette", "sandbox"])
def github(request: pytest.FixtureRequest) -> Iterator[GithubSide]:
    with github_side(request.param, request.node.originalname) as side:
        yield side


def test_pulls_are_paged_newest_first_with_merged_derived(github: GithubSide) -> None:
    pulls, etag = github.client(per_page=2).pulls_updated_since(None)

    assert sorted(p.number for p in pulls) == [1, 2, 3, 4, 5]  # three pages of two
    assert [p.updated_at for p in pulls] == sorted((p.updated_at for p in pulls), reverse=True)
    by_number = {p.number: p for p in pulls}
    assert by_number[MERGED_SPEC].merged and by_number[MERGED_SPEC].merged_at is not None
    assert by_number[MERGED_SPEC].merged_by is None  # list items do not say who merged
    assert not by_number[WITHDRAWN].merged and by_number[WITHDRAWN].state == "closed"
    assert by_number[REOPENED].state == "open" and by_number[REOPENED].closed_at is None
    assert by_number[OPEN_SPEC].labels == ("New SPEC", "spec-draft")
    assert by_number[OPEN_SPEC].author == "dave-author" and by_number[OPEN_SPEC].body == ""
    assert SHA.fullmatch(by_number[OPEN_SPEC].head_sha)
    assert etag and etag.startswith('"')


def test_unchanged_pull_list_answers_304(github: GithubSide) -> None:
    client = github.client()
    pulls, etag = client.pulls_updated_since(None)
    assert pulls

    assert client.pulls_updated_since(None, etag) == ([], etag)


def test_pulls_stop_at_the_first_one_updated_before_since(github: GithubSide) -> None:
    client = github.client(per_page=2)
    everything, _ = client.pulls_updated_since(None)
    since = everything[2].updated_at

    recent, etag = client.pulls_updated_since(since)

    assert recent == everything[:3]
    assert etag


def test_single_pull_says_who_merged(github: GithubSide) -> None:
    pull = github.client().pull(MERGED_SPEC)

    assert pull.merged and pull.state == "closed"
    assert pull.merged_by == COMMITTEE[0]
    assert pull.title == "SPEC 1: Lazy loading"
    assert "discuss.scientific-python.org/t/spec-1-lazy-loading/123" in pull.body
    assert pull.html_url.endswith("/pull/1")


def test_missing_pull_is_not_found(github: GithubSide) -> None:
    with pytest.raises(NotFound) as caught:
        github.client().pull(99)
    assert caught.value.status == 404 and "#99" in caught.value.item


def test_pull_files_list_every_page(github: GithubSide) -> None:
    files = github.client(per_page=1).pull_files(ENDORSEMENT)

    assert [(f.filename, f.status) for f in files] == [
        ("spec-0000/chart.md", "removed"),
        ("spec-0000/index.md", "modified"),
    ]


def test_spec_document_front_matter_on_main_and_on_a_pull_head(github: GithubSide) -> None:
    client = github.client()
    published = client.spec_document("spec-0000/index.md", "main")
    draft = client.spec_document("spec-0004/index.md", client.pull(OPEN_SPEC).head_sha)
    old = client.spec_document("spec-0002.md", "main")

    assert published is not None and published.number == 0 and not published.is_draft
    assert published.title == "SPEC 0 — Minimum Supported Dependencies"
    assert published.endorsed_by == ("numpy", "scipy")
    assert published.discussion and published.discussion.endswith("/33")
    assert draft is not None and draft.number == 4 and draft.is_draft
    assert draft.endorsed_by == () and len(draft.authors) == 2
    assert old is not None and old.number == 2 and old.discussion
    assert client.spec_document("spec-0004/index.md", "main") is None


def test_malformed_front_matter_is_reported_naming_the_path(github: GithubSide) -> None:
    client = github.client()
    head = client.pull(WITHDRAWN).head_sha

    with pytest.raises(ServiceError) as caught:
        client.spec_document("spec-0005/index.md", head)

    assert not caught.value.transient and not isinstance(caught.value, NotFound)
    assert "spec-0005/index.md" in str(caught.value)
    assert "YAML" in caught.value.detail


def test_default_branch_head_is_a_sha_then_304(github: GithubSide) -> None:
    client = github.client()
    sha, etag = client.default_branch_head()

    assert sha and SHA.fullmatch(sha) and etag
    assert client.default_branch_head(etag) == (None, etag)


def test_spec_files_in_the_tree(github: GithubSide) -> None:
    files = github.client().spec_files("main")

    assert sorted(files) == ["spec-0000/index.md", "spec-0001/index.md", "spec-0002.md"]
    assert all(SHA.fullmatch(sha) for sha in files.values())


def test_core_projects_are_the_markdown_files(github: GithubSide) -> None:
    assert github.client().core_projects() == ["numpy", "scikit-image", "scipy"]


def test_labels_add_creates_the_repo_label_and_remove_is_idempotent(github: GithubSide) -> None:
    client = github.client()

    client.add_label(REOPENED, "spec-withdrawn")
    assert client.labels(REOPENED) == ("spec-withdrawn",)
    client.add_label(REOPENED, "New SPEC")  # an existing repository label
    client.remove_label(REOPENED, "spec-withdrawn")
    client.remove_label(REOPENED, "spec-withdrawn")  # already gone: not an error

    assert client.labels(REOPENED) == ("New SPEC",)
    events = client.issue_events(REOPENED)
    assert [(e.event, e.label) for e in events][-3:] == [
        ("labeled", "spec-withdrawn"), ("labeled", "New SPEC"), ("unlabeled", "spec-withdrawn"),
    ]
    assert {e.actor for e in events[-3:]} == {"forumsync-bot"}


def test_issue_events_oldest_first_with_actors(github: GithubSide) -> None:
    client = github.client(per_page=2)

    merged = client.issue_events(MERGED_SPEC)
    relabeled = client.issue_events(OPEN_SPEC)
    reopened = client.issue_events(REOPENED)

    assert [(e.event, e.label, e.actor) for e in merged] == [
        ("labeled", "New SPEC", "carol-author"),
        ("labeled", "spec-draft", COMMITTEE[0]),
        ("merged", None, COMMITTEE[0]),
        ("closed", None, COMMITTEE[0]),
    ]
    assert [(e.event, e.label) for e in relabeled][1:] == [
        ("labeled", "spec-accepted"), ("unlabeled", "spec-accepted"), ("labeled", "spec-draft"),
    ]
    assert [e.event for e in reopened] == ["closed", "reopened"]
    assert [e.created_at for e in merged] == sorted(e.created_at for e in merged)


def test_comments_create_and_find_marker(github: GithubSide) -> None:
    client = github.client(per_page=1)
    marker = "<!-- forumsync:announce-pr:2 -->"
    assert client.find_comment_containing(OPEN_SPEC, marker) is None

    new_id = client.create_comment(OPEN_SPEC, f"Discussion: https://example.org/t/1\n\n{marker}")

    assert client.find_comment_containing(OPEN_SPEC, marker) == new_id
    comments = client.comments(OPEN_SPEC)
    assert [c.author for c in comments] == [COMMITTEE[0], "dave-author", "forumsync-bot"]
    assert comments[-1].id == new_id and marker in comments[-1].body


def test_own_writes_are_remembered_and_comments_since_listed_by_pr(github: GithubSide) -> None:
    client = github.client(per_page=2)
    new_id = client.create_comment(OPEN_SPEC, "A note.")
    client.add_label(OPEN_SPEC, "spec-draft")

    written = client.take_written()
    (at, own), = [written[OPEN_SPEC]]
    assert own == {new_id} and at is not None and at.tzinfo is not None
    assert client.take_written() == {}  # taken once
    everything = client.comment_ids_since(datetime(2000, 1, 1, tzinfo=UTC), max_pages=10)
    assert everything[OPEN_SPEC] == {c.id for c in client.comments(OPEN_SPEC)}
    assert client.comment_ids_since(datetime(2000, 1, 1, tzinfo=UTC), max_pages=1) is None
    newest = client.comments(OPEN_SPEC)[-1].created_at
    assert new_id in client.comment_ids_since(newest, max_pages=1)[OPEN_SPEC]


def test_team_members_with_token_and_none_without(github: GithubSide) -> None:
    assert github.client().team_members(TEAM) == frozenset(COMMITTEE)
    assert github.client(token=None).team_members(TEAM) is None
    assert github.client().team_members("no-such-team") is None


def test_writes_without_a_token_fail_without_retrying(github: GithubSide) -> None:
    with pytest.raises(ServiceError) as caught:
        github.client(token=None).create_comment(OPEN_SPEC, "hello")

    assert caught.value.status == 401 and not caught.value.transient
    assert "Requires authentication" in caught.value.detail
    assert TOKEN not in str(caught.value)
    assert github.sleeps == []


def test_own_login_is_the_account_the_token_acts_as(github: GithubSide) -> None:
    client = github.client()

    assert client.own_login() == "forumsync-bot"
    assert client.own_login() == "forumsync-bot"  # read once per client
    assert github.client(token=None).own_login() is None  # no request without a token


def test_pull_activity_is_the_latest_comment_review_or_commit(github: GithubSide) -> None:
    client = github.client(per_page=2)  # the newest end first, walking back page by page
    marker = "<!-- forumsync:announce-pr:2 -->"
    client.create_comment(OPEN_SPEC, f"Discussion: https://example.org/t/1\n\n{marker}")
    client.create_comment(REOPENED, "A note from the service, without a marker.")
    alice, dave = client.comments(OPEN_SPEC)[:2]
    endorsement = client.pull(ENDORSEMENT)

    # the service's marked comment is not activity: the last human comment is
    assert client.pull_activity(OPEN_SPEC) == Activity(dave.created_at, "dave-author",
                                                       "commented")
    assert client.pull_activity(OPEN_SPEC, exclude=["DAVE-AUTHOR"]) == Activity(
        alice.created_at, COMMITTEE[0], "commented")  # two pages back
    reviewed = client.pull_activity(ENDORSEMENT)
    assert reviewed and (reviewed.kind, reviewed.actor) == ("reviewed", COMMITTEE[1])
    assert reviewed.at > endorsement.created_at
    # commits have no actor: the git author's no-reply address names the login
    assert client.pull_activity(ENDORSEMENT, exclude=[COMMITTEE[1]]) == Activity(
        endorsement.created_at, "frank-author", "committed")
    merged = client.pull_activity(MERGED_SPEC)  # labels and the merge are not activity
    assert merged and (merged.kind, merged.actor) == ("committed", "carol-author")
    assert client.pull_activity(WITHDRAWN, exclude=("erin-author",)) is None
    own = client.pull_activity(REOPENED)
    assert own and (own.kind, own.actor) == ("commented", "forumsync-bot")
    assert client.pull_activity(REOPENED, exclude={"Forumsync-Bot"}) == Activity(
        client.pull(REOPENED).created_at, "carol-author", "committed")
    with pytest.raises(NotFound) as caught:
        client.pull_activity(99)
    assert caught.value.operation == "read pull request activity"
