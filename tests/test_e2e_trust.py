"""End to end: what real committees, authors, strangers and moderators do, against the
sandbox over HTTP with the real adapters (DESIGN.md: Linking, Authority, Problems heal)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.sandbox import Sandbox
from tests.test_e2e import IDEAS, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox() as box:
        yield World(box, tmp_path / "trust.db")


def spec_threads(world: World, pr: int) -> list[int]:
    return [t.id for t in world.forum.topics.values() if t.category_id == IDEAS
            and not t.deleted and f"pull/{pr}" in world.forum.posts_in(t.id)[0].raw]


# --- 1. a write refused for good holds back nothing else --------------------------------------


def test_a_refused_reply_is_reported_retried_and_the_rest_of_the_spec_goes_on(
        world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.close_topic(topic)  # replies refused (403) for the service's account
    pr = world.open_spec_pr(topic)
    report = world.sync()
    assert any("refused" in p and f"topic {topic}" in p for p in report.problems)
    assert world.github.labels_on(pr) == ("New SPEC", "spec-draft")  # the rest went on
    assert world.tags(topic) == ("spec-draft",)
    assert len(world.comments(pr)) == 1 and world.replies(topic) == []
    row = world.status()[pr]
    assert (row.stage, row.thread) == ("draft", topic)
    assert any("refused" in p for p in row.problems)
    world.forum.topics[topic].closed = False  # a moderator reopens the topic
    world.sync()  # ten minutes later: past the first backoff
    assert len(world.replies(topic)) == 1
    assert not any("refused" in p for p in world.status()[pr].problems)
    world.sync()
    assert len(world.replies(topic)) == 1 and len(world.comments(pr)) == 1


def test_a_refused_write_whose_target_is_deleted_is_dropped_with_a_report(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.close_topic(topic)
    pr = world.open_spec_pr(topic)
    world.sync()
    world.forum.delete_topic(topic)
    report = world.sync()
    assert any("dropped" in p for p in report.problems)
    world.sync()
    assert world.status()[pr].stage == "draft"
    assert world.sync().ok


# --- 9. deleted threads -------------------------------------------------------------------------


def test_a_deleted_viability_thread_unlinks_without_flapping_and_comes_back_restored(
        world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.forum.delete_topic(topic)
    world.sync()
    row = world.status()[pr]
    assert row.thread is None and any("deleted" in p for p in row.problems)
    world.github.comment("grace", pr, "Any news?")  # the PR changes; its body still links
    world.sync()
    assert world.status()[pr].thread is None  # not linked again from the old link
    world.forum.restore_topic(topic)
    world.sync()
    row = world.status()[pr]
    assert row.thread == topic and not any("deleted" in p for p in row.problems)


def test_a_deleted_idea_is_retired_not_a_ghost_in_the_digest(world: World) -> None:
    from forumsync.digest import collect

    topic = world.idea()
    world.sync()
    world.forum.delete_topic(topic)
    world.sync()
    world.box.clock.advance(days=60)
    world.sync()
    with world.sessions() as session:
        digest = collect(session, world.config, world.box.clock.now())
    assert digest.waiting_ideas == [] and not any(digest.stalled.values())


# --- 2. own writes are found by a stable key, never by title ------------------------------------


def test_a_retitled_pr_after_a_lost_database_gets_no_second_thread(world: World,
                                                                   tmp_path: Path) -> None:
    pr = world.open_spec_pr(None)
    world.sync()
    [created] = spec_threads(world, pr)
    world.github.edit_pull("ada", pr, title="A completely different title")
    world.db_url = f"sqlite:///{tmp_path / 'restored.db'}"  # the database was lost
    world.sessions = open_database(world.db_url)
    report = world.sync()
    assert report.ok, report.failures
    assert spec_threads(world, pr) == [created]
    assert len(world.comments(pr)) == 1
    assert world.status()[pr].thread == created


# --- 4. nobody takes over a SPEC's thread----------------------------------------------------------


def test_a_strangers_ideas_topic_naming_the_pr_is_a_reported_claimant(world: World) -> None:
    pr = world.open_spec_pr(None)
    world.sync()
    [created] = spec_threads(world, pr)
    stranger, _ = world.forum.create_topic(
        "mallory", "My own take on this SPEC",
        f"Discuss it here instead: https://github.com/{world.github.full_name}/pull/{pr}",
        IDEAS)
    world.sync()
    row = world.status()[pr]
    assert row.thread == created
    assert any(f"thread {stranger}" in p for p in row.problems)
    assert world.tags(stranger) == ()


# --- 5. committee decisions are undone only by the committee---------------------------------------


def test_the_authors_reopen_does_not_undo_the_committees_withdrawal(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.add_label("chair", pr, "spec-withdrawn")
    world.github.close_pull("chair", pr)
    world.sync()
    assert world.status()[pr].stage == "withdrawn"
    world.github.reopen_pull("ada", pr)
    report = world.sync()
    row = world.status()[pr]
    assert row.stage == "withdrawn"
    assert any("withdrawn by @chair" in p for p in report.problems)
    assert "spec-withdrawn" in world.github.labels_on(pr)
    assert world.tags(topic) == ("spec-withdrawn",)
    world.github.add_label("chair", pr, "spec-draft")  # the committee may bring it back
    world.sync()
    assert world.status()[pr].stage == "draft"


def test_a_pr_linking_a_declined_idea_does_not_revive_it(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-withdrawn"])
    world.sync()
    pr = world.open_spec_pr(topic)
    report = world.sync()
    row = world.status()[pr]
    assert (row.stage, row.thread) == ("withdrawn", topic)
    assert any("declined by @chair" in p for p in report.problems)
    assert world.replies(topic) == []  # no cross-post for a declined idea


# --- 7. problems heal------------------------------------------------------------------------------


def test_a_number_clash_heals_once_one_pr_is_renumbered(world: World) -> None:
    first = world.open_spec_pr(world.idea("first idea"), 10)
    second = world.open_spec_pr(world.idea("second idea"), 10, author="grace")
    report = world.sync()
    assert any("claimed by open PRs" in p for p in report.problems)
    world.github.push_to_pull("grace", second, {"spec-0010/index.md": None,
                                                "spec-0011/index.md": spec_text(11, "Other")})
    world.sync()
    with world.sessions() as session:
        from forumsync.digest import collect

        digest = collect(session, world.config, world.box.clock.now())
    assert digest.number_clashes == []
    assert world.status()[second].number == 11 and world.status()[first].number == 10


def test_a_fixed_link_heals_its_problem(world: World) -> None:
    topic = world.idea()
    pr = world.github.open_pull("ada", "SPEC 10: Deprecations",
                                f"Viability discussion: {world.forum.base_url}/t/",
                                {"spec-0010/index.md": spec_text(10, "Deprecations")},
                                labels=["New SPEC"])
    world.sync()
    assert any("placeholder" in p for p in world.status()[pr].problems)
    world.github.edit_pull("ada", pr, body=f"Viability discussion: {world.thread_url(topic)}")
    world.sync()
    row = world.status()[pr]
    assert row.thread == topic
    assert not any("placeholder" in p for p in row.problems)


def test_an_ignored_change_stands_until_the_committee_decides(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.add_label("mallory", pr, "spec-endorsed")
    world.sync()
    assert any("mallory" in p for p in world.status()[pr].problems)
    world.sync()
    assert any("mallory" in p for p in world.status()[pr].problems)  # it stands
    world.forum.retag("chair", topic, ["spec-withdrawn"])
    world.sync()
    assert not any("mallory" in p for p in world.status()[pr].problems)


# --- 11. older SPECs' links from the file's history ---------------------------------------------


def test_an_older_spec_is_linked_from_the_version_that_still_had_its_link(world: World) -> None:
    topic = world.idea("SPEC 1 — Minimum supported versions")
    text = spec_text(1, "Minimum supported versions", draft=False)
    with_link = text.replace("endorsed-by:", f"discussion: {world.thread_url(topic)}\n"
                                             "endorsed-by:")
    world.github.set_file("spec-0001/index.md", with_link, "Add SPEC 1")
    world.box.clock.advance(days=400)
    world.github.set_file("spec-0001/index.md", text, "Remove the discussion key")
    world.box.reset_counts()
    world.sync()
    history = [r for r in world.box.github.log if r[1].endswith("/commits")]
    assert len(history) == 1  # one look at the file's history, then one older version read
    with world.sessions() as session:
        from forumsync.status import status_rows

        [row] = [r for r in status_rows(session, world.box.clock.now(), world.config)
                 if r.number == 1]
    assert (row.thread, row.stage) == (topic, "published")
    world.box.reset_counts()
    world.github.set_file("spec-0001/index.md", text + "\nA later edit.\n", "Edit")
    world.sync()
    assert not [r for r in world.box.github.log if r[1].endswith("/commits")]  # read once


def test_a_malformed_spec_file_heals_once_fixed(world: World) -> None:
    from forumsync.status import unattached_problems

    world.github.set_file("spec-0003/index.md", "---\ntitle: [unclosed\n---\nbody\n")
    world.sync()
    with world.sessions() as session:
        assert any("spec-0003/index.md" in p for p in unattached_problems(session))
    world.github.set_file("spec-0003/index.md", spec_text(3, "Fixed", draft=False))
    world.sync()
    with world.sessions() as session:
        assert not any("spec-0003/index.md" in p for p in unattached_problems(session))


def test_a_thread_refused_for_good_drops_its_comment_too(world: World) -> None:
    """Discourse refuses a title already used: the thread is retried, then dropped, and
    the comment that would point to it goes with it; the SPEC itself is tracked all along."""
    world.forum.create_topic("ada", "SPEC proposal #1: SPEC 10: Deprecations",
                             "Somebody took this exact title already.", IDEAS)
    pr = world.open_spec_pr(None)
    world.sync()
    row = world.status()[pr]
    assert row.stage == "draft" and world.comments(pr) == []
    assert any("Title has already been used" in p for p in row.problems)
    for _ in range(12):
        world.box.clock.advance(hours=12)
        world.sync()
    assert world.comments(pr) == []
    problems = world.status()[pr].problems
    assert len(problems) == 2 and all("was dropped" in p for p in problems), problems
