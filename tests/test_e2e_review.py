"""Stories from the hostile review of the trust rules: each failed once, against the sandbox
over HTTP (DESIGN.md: Linking, Authority, Problems heal, Exactly once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.manual_links import link_by_hand
from forumsync.sandbox import Fault, Sandbox
from forumsync.status import status_rows
from tests.test_e2e import IDEAS, World
from tests.test_exactly_once import Crash, crashing

ACCEPTED = 15


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox() as box:
        yield World(box, tmp_path / "review.db")


def rows(world: World):
    with world.sessions() as session:
        return status_rows(session, world.box.clock.now(), world.config)


def row_of_thread(world: World, topic: int):
    [row] = [r for r in rows(world) if r.thread == topic]
    return row


def lose_database(world: World, tmp_path: Path) -> None:
    world.db_url = f"sqlite:///{tmp_path / 'restored.db'}"
    world.sessions = open_database(world.db_url)


def stranger_topic(world: World, pr: int, who: str = "mallory") -> int:
    topic, _ = world.forum.create_topic(
        who, "My own take on it",
        f"Discuss it here: https://github.com/{world.github.full_name}/pull/{pr}", IDEAS)
    return topic


def claimed(world: World, pr: int, topic: int) -> bool:
    return any(f"thread {topic} names" in p for p in world.status()[pr].problems)


# --- authority is judged per edit and per person ---------------------------------------------


@pytest.mark.parametrize("chair_first", [True, False])
def test_a_strangers_label_does_not_cancel_the_committees(world: World,
                                                         chair_first: bool) -> None:
    pr = world.open_spec_pr(world.idea())
    world.sync()
    people = [("chair", "spec-withdrawn"), ("mallory", "spec-endorsed")]
    for who, label in people if chair_first else people[::-1]:
        world.github.add_label(who, pr, label)
    report = world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert any("@mallory" in p for p in report.problems)
    assert not any("@chair" in p for p in report.problems)


def test_a_strangers_tag_does_not_cancel_the_committees(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.forum.retag("chair", topic, ["spec-draft", "spec-withdrawn"])
    world.forum.retag("ada", topic, ["spec-withdrawn", "spec-endorsed"])
    world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert world.tags(topic) == ("spec-withdrawn",)


def test_a_new_pr_does_not_take_the_thread_of_one_the_committee_closed(world: World) -> None:
    topic = world.idea()
    first = world.open_spec_pr(topic)
    world.sync()
    world.github.close_pull("chair", first)
    world.sync()
    second = world.open_spec_pr(topic, author="grace")
    report = world.sync()
    assert world.status()[second].thread is None
    assert any("declined by @chair" in p for p in report.problems)
    assert world.tags(topic) == ("spec-withdrawn",)


def test_a_later_link_to_a_declined_idea_does_not_revive_it(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-withdrawn"])
    world.sync()
    pr = world.open_spec_pr(None)
    world.sync()
    world.github.edit_pull("ada", pr, body=f"Viability discussion: {world.thread_url(topic)}")
    world.sync()
    assert world.tags(topic) == ("spec-withdrawn",)
    assert any("declined by @chair" in p for p in world.status()[pr].problems)


def test_the_pr_opened_just_before_the_committee_accepts_is_no_conflict(world: World) -> None:
    topic = world.idea()
    world.sync()
    pr = world.open_spec_pr(topic)
    world.box.clock.advance(minutes=1)
    world.forum.retag("chair", topic, ["spec-accepted"])
    report = world.sync()
    assert not any("conflict" in p for p in report.problems)
    assert world.status()[pr].stage == "draft"
    assert world.github.labels_on(pr) == ("New SPEC", "spec-draft")


# --- the Accepted category ------------------------------------------------------------------


@pytest.fixture
def accepting(world: World) -> World:
    world.config = replace(world.config, discourse=replace(world.config.discourse,
                                                           accepted_category_id=ACCEPTED))
    return world


def test_a_stranger_moving_an_idea_into_accepted_is_moved_back(accepting: World) -> None:
    world = accepting
    topic, _ = world.forum.create_topic("mallory", "My idea for a SPEC", "Let us do X, Y, Z.",
                                        IDEAS)
    world.sync()
    world.forum.recategorize("mallory", topic, ACCEPTED)
    world.sync()
    assert row_of_thread(world, topic).stage == "idea"
    assert world.forum.topics[topic].category_id == IDEAS


# --- deleted and restored threads -------------------------------------------------------------


def test_an_accepted_idea_deleted_and_restored_is_accepted_again(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-accepted"])
    world.sync()
    world.forum.delete_topic(topic)
    world.sync()
    world.forum.restore_topic(topic)
    world.sync()
    assert row_of_thread(world, topic).stage == "accepted"
    assert world.tags(topic) == ("spec-accepted",)


def test_a_deleted_threads_problem_heals_once_linked_by_hand(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.forum.delete_topic(topic)
    world.sync()
    assert world.status()[pr].problems
    home, _ = world.forum.create_topic("chair", "SPEC 10 discussion, new home", "Over here now.",
                                       IDEAS)
    with world.sessions.begin() as session:
        link_by_hand(session, pr, home)
    world.sync()
    row = world.status()[pr]
    assert row.thread == home and row.problems == ()


# --- claimants ------------------------------------------------------------------------------------


def test_a_claimant_is_reported_without_the_pr_changing(world: World) -> None:
    pr = world.open_spec_pr(world.idea())
    world.sync()
    stranger = stranger_topic(world, pr)
    world.sync()
    assert claimed(world, pr, stranger)


def test_a_claim_stands_through_unrelated_replies_and_failing_writes(world: World) -> None:
    pr = world.open_spec_pr(world.idea())
    world.sync()
    stranger = stranger_topic(world, pr)
    world.sync()
    world.forum.reply("grace", stranger, "An unrelated reply in the stranger's thread.")
    world.sync()
    assert claimed(world, pr, stranger)
    world.github.add_label("chair", pr, "spec-accepted")  # a change whose writes fail
    world.box.github.inject(Fault(r"(POST|DELETE) .*/labels", status=502, times=20))
    world.box.discourse.inject(Fault(r"(PUT /t/|POST /posts)", status=502, times=20))
    world.sync()
    assert claimed(world, pr, stranger)


# --- poison, history and lost databases --------------------------------------------------------


def test_a_reused_spec_path_holds_back_nothing(world: World) -> None:
    old = world.open_spec_pr(world.idea("old idea"), 5)
    world.sync()
    world.github.merge_pull("chair", old)
    world.sync()
    removal = world.github.open_pull("chair", "Remove SPEC 5", "", {"spec-0005/index.md": None})
    world.sync()
    world.github.merge_pull("chair", removal)
    world.sync()
    topic = world.idea("new idea")
    new = world.github.open_pull("grace", "SPEC 5: Something new",
                                 f"Viability: {world.thread_url(topic)}",
                                 {"spec-0005/index.md": spec_text(5, "Something new")},
                                 labels=["New SPEC"])
    world.sync()
    world.github.merge_pull("chair", new)
    assert world.sync().ok
    later = world.idea("an unrelated later idea")
    assert world.sync().ok
    status = world.status()
    assert status[new].title.endswith("Something new")
    assert status[old].title.endswith("Deprecations")
    assert row_of_thread(world, later).stage == "idea"


def test_a_spec_whose_writes_keep_failing_is_listed_with_its_problem(world: World) -> None:
    pr = world.open_spec_pr(world.idea())
    world.box.github.inject(Fault(rf"POST .*/issues/{pr}/labels", status=502, times=10**6))
    for _ in range(3):
        report = world.sync()
    assert not report.ok
    row = world.status()[pr]
    assert row.stage == "draft" and any("failed" in p for p in row.problems)


def test_a_pr_adding_two_spec_files_tracks_both_after_merging(world: World) -> None:
    pr = world.github.open_pull("ada", "SPECs 10 and 11",
                                f"Viability: {world.thread_url(world.idea())}",
                                {"spec-0010/index.md": spec_text(10, "Ten"),
                                 "spec-0011/index.md": spec_text(11, "Eleven")},
                                labels=["New SPEC"])
    world.sync()
    world.github.merge_pull("chair", pr)
    world.sync()
    world.sync()
    assert {r.number for r in rows(world)} >= {10, 11}


def test_the_history_link_is_found_after_later_edits(world: World) -> None:
    topic = world.idea("SPEC 1 — Minimum supported versions")
    text = spec_text(1, "Minimum supported versions", draft=False)
    with_link = text.replace("endorsed-by:", f"discussion: {world.thread_url(topic)}\n"
                                             "endorsed-by:")
    world.github.set_file("spec-0001/index.md", with_link, "Add SPEC 1")
    world.github.set_file("spec-0001/index.md", text, "Remove the discussion key")
    for edit in range(8):
        world.github.set_file("spec-0001/index.md", f"{text}\nedit {edit}\n", f"edit {edit}")
    world.sync()
    [row] = [r for r in rows(world) if r.number == 1]
    assert row.thread == topic


def test_a_lost_database_finds_the_services_old_thread_again(world: World,
                                                             tmp_path: Path) -> None:
    pr = world.open_spec_pr(None)
    world.sync()
    created = world.status()[pr].thread
    world.box.clock.advance(days=20)
    lose_database(world, tmp_path)
    world.sync()
    assert world.status()[pr].thread == created
    assert len(world.comments(pr)) == 1


def test_a_lost_database_does_not_relink_a_deleted_thread_or_comment_twice(
        world: World, tmp_path: Path) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.forum.delete_topic(topic)
    world.sync()
    lose_database(world, tmp_path)
    world.sync()
    row = world.status()[pr]
    assert row.thread is None and row.problems
    assert len(world.comments(pr)) == 1
    assert not [t for t in world.forum.topics.values() if t.id != topic and t.category_id == IDEAS
                and f"pull/{pr}" in world.forum.posts_in(t.id)[0].raw]


# --- exactly once around retries ------------------------------------------------------------------


def own_threads(world: World, pr: int) -> list[int]:
    return [t.id for t in world.forum.topics.values() if t.category_id == IDEAS
            and not t.deleted and f"pull/{pr}" in world.forum.posts_in(t.id)[0].raw]


@pytest.mark.parametrize("crash_after", [0, 1, 2])
def test_a_refused_new_thread_retried_across_a_crash_is_opened_once(tmp_path: Path,
                                                                    crash_after: int) -> None:
    with Sandbox() as box:
        world = World(box, tmp_path / "retry.db")
        pr = world.open_spec_pr(None)
        box.discourse.inject(Fault(r"POST /posts", status=422,
                                   body={"errors": ["Title has already been used"]}))
        world.sync()
        if crash_after:
            world.box.clock.advance(minutes=10)
            with pytest.raises(Crash):
                world.sync(crashing(world.clients, crash_after))
        for _ in range(3):
            world.box.clock.advance(minutes=30)
            world.sync()
        threads = own_threads(world, pr)
        assert len(threads) == 1 and world.status()[pr].thread == threads[0]
        assert len(world.comments(pr)) == 1


# --- hostile front matter in a stranger's PR ------------------------------------------------------

BOMB = "\n".join(["x0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"] + [
    f"x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)] + ["discussion: *a8"])


@pytest.mark.parametrize("front_matter", ["author: 5\nendorsed-by: 5.5", "endorsed-by: {a: 1}",
                                          BOMB])
def test_hostile_front_matter_is_a_reported_file_and_holds_back_nothing(
        world: World, front_matter: str) -> None:
    topic = world.idea()
    world.sync()
    world.github.open_pull("mallory", "SPEC 66: mine", "", {
        "spec-0066/index.md": f"---\ntitle: SPEC 66 — Mine\nnumber: 66\n{front_matter}\n---\n"},
        labels=["New SPEC"])
    world.forum.retag("chair", topic, ["spec-accepted"])
    report = world.sync()
    assert row_of_thread(world, topic).stage == "accepted"
    if front_matter == BOMB:
        assert any("aliases are not allowed" in p for p in report.problems)


def test_a_change_made_just_before_the_services_own_write_is_not_hidden(world: World) -> None:
    """The author withdraws the PR while the service is about to comment on it: the PR's
    updated_at then equals the comment's time, and the next cycle must read it anyway."""
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    repo = world.clients.repo
    real = repo.create_comment

    def close_first(number: int, body: str) -> int:
        if number == pr and world.github.pulls[pr].state == "open":
            world.github.close_pull("ada", pr)
        return real(number, body)

    repo.create_comment = close_first  # type: ignore[method-assign]
    world.sync()
    repo.create_comment = real  # type: ignore[method-assign]
    world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert world.tags(topic) == ("spec-withdrawn",)


def test_a_failed_new_specs_problem_is_not_pinned_on_the_next_spec(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new SPEC whose save fails after its row was flushed: the id it got is rolled back,
    and the database may give it to the next new SPEC; its problem must not go there."""
    from forumsync import store
    from forumsync.models import Problem

    world.open_spec_pr(None, 10)
    world.open_spec_pr(None, 11)
    real, calls = store.save_spec, []

    def fails_for_the_first(session, plan, now):
        saved = real(session, plan, now)
        calls.append(plan.spec_id)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return saved

    monkeypatch.setattr(store, "save_spec", fails_for_the_first)
    report = world.sync()
    assert any("RuntimeError" in f for f in report.failures)
    assert calls[0] == calls[1]  # the second new SPEC got the id the first lost
    with world.sessions() as session:
        [problem] = session.query(Problem).filter_by(kind="sync-failed").all()
    assert problem.spec_id is None
