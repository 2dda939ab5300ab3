"""End to end: the real adapters over HTTP against the sandbox, one user story per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync.cycle import Clients, run_cycle
from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.executor import CycleReport
from forumsync.forum import ForumClient
from forumsync.repo import RepoClient
from forumsync.sandbox import Fault, Sandbox
from forumsync.status import status_rows

IDEAS = 9


class World:
    """A sandbox with people in it, a database, and the service's clients."""

    def __init__(self, box: Sandbox, db_path: Path, **sync: int) -> None:
        self.box = box
        self.forum = box.discourse
        self.github = box.github
        self.db_url = f"sqlite:///{db_path}"
        self.config = box.config(self.db_url, **sync)
        self.sessions = open_database(self.db_url)
        self.sleeps: list[float] = []  # retry waits, recorded instead of slept
        self.clients = Clients(ForumClient(self.config.discourse, sleep=self.sleeps.append),
                               RepoClient(self.config.github, sleep=self.sleeps.append))
        box.populate()

    def sync(self, clients: Clients | None = None) -> CycleReport:
        self.box.clock.advance(minutes=10)
        return run_cycle(self.config, self.sessions, clients or self.clients,
                         self.box.clock.now())

    def idea(self, title: str = "SPEC idea: deprecations") -> int:
        topic, _ = self.forum.create_topic("ada", title, "Shall we agree on deprecations?",
                                           IDEAS)
        return topic

    def thread_url(self, topic: int) -> str:
        return f"{self.forum.base_url}/t/{self.forum.topics[topic].slug}/{topic}"

    def open_spec_pr(self, topic: int | None, number: int = 10, author: str = "ada") -> int:
        body = f"Viability discussion: {self.thread_url(topic)}" if topic else "Please review."
        return self.github.open_pull(author, f"SPEC {number}: Deprecations", body,
                                     {f"spec-{number:04d}/index.md": spec_text(number,
                                                                               "Deprecations")},
                                     labels=["New SPEC"])

    def replies(self, topic: int) -> list[str]:
        return [p.raw for p in self.forum.posts_in(topic)[1:]]

    def comments(self, pr: int) -> list[str]:
        return [c.body for c in self.github.comments_on(pr)]

    def status(self) -> dict[int | None, object]:
        with self.sessions() as session:
            return {r.pr: r for r in status_rows(session, self.box.clock.now(), self.config)}

    def tags(self, topic: int) -> tuple[str, ...]:
        return tuple(self.forum.topics[topic].tags)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox() as box:
        yield World(box, tmp_path / "e2e.db")


def test_idea_accepted_on_the_forum_then_the_pr(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-accepted"])
    report = world.sync()
    assert any("idea -> accepted" in line for line in report.changes)
    pr = world.open_spec_pr(topic)
    report = world.sync()
    assert report.ok, report.failures
    assert world.github.labels_on(pr) == ("New SPEC", "spec-draft")
    assert world.tags(topic) == ("spec-draft",)
    [reply] = world.replies(topic)
    assert f"pull/{pr}" in reply
    [comment] = world.comments(pr)
    assert "/t/" in comment and str(topic) in comment
    row = world.status()[pr]
    assert (row.stage, row.thread, row.number) == ("draft", topic, 10)


def test_pr_with_no_thread_gets_one(world: World) -> None:
    pr = world.open_spec_pr(None)
    world.sync()
    created = [t for t in world.forum.topics.values() if t.category_id == IDEAS
               and f"pull/{pr}" in world.forum.posts_in(t.id)[0].raw]
    assert len(created) == 1
    [comment] = world.comments(pr)
    assert "requires" in comment and f"/{created[0].id}" in comment
    assert world.status()[pr].thread == created[0].id


def test_committee_relabels_on_github_and_retags_on_the_forum(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.add_label("chair", pr, "spec-withdrawn")
    world.sync()
    assert world.tags(topic) == ("spec-withdrawn",)
    assert "spec-draft" not in world.github.labels_on(pr)
    assert "withdrawn" in world.replies(topic)[-1] and "chair" in world.replies(topic)[-1]
    world.forum.retag("chair", topic, ["spec-accepted"])
    world.sync()
    assert "spec-accepted" in world.github.labels_on(pr)
    assert "spec-withdrawn" not in world.github.labels_on(pr)
    assert "accepted" in world.comments(pr)[-1] and "the forum" in world.comments(pr)[-1]
    assert world.status()[pr].stage == "accepted"


def test_non_committee_change_is_restored_and_reported(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.add_label("mallory", pr, "spec-endorsed")
    world.forum.retag("mallory", topic, ["spec-draft", "spec-published", "cool"])
    report = world.sync()
    assert world.github.labels_on(pr) == ("New SPEC", "spec-draft")
    assert world.tags(topic) == ("spec-draft", "cool")
    assert len([p for p in report.problems if "mallory" in p]) == 2
    assert "mallory" in (world.status()[pr].last_problem or "")
    assert len(world.replies(topic)) == 1 and len(world.comments(pr)) == 1  # no notes


def test_merge_as_draft_publish_and_two_endorsements(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.merge_pull("chair", pr)
    world.sync()
    assert world.status()[pr].stage == "draft"
    path = "spec-0010/index.md"
    publish = world.github.open_pull("ada", "Publish SPEC 10", "", {
        path: spec_text(10, "Deprecations", draft=False)})
    world.github.merge_pull("chair", publish)
    world.sync()
    assert world.status()[pr].stage == "published"
    assert "published" in world.replies(topic)[-1]
    assert world.tags(topic) == ("spec-published",)
    for number, projects in enumerate((["numpy"], ["numpy", "scipy"]), start=1):
        text = spec_text(10, "Deprecations", draft=False).replace(
            "endorsed-by:", "endorsed-by:\n" + "".join(f"  - {p}\n" for p in projects)[:-1])
        endorse = world.github.open_pull("chair", f"Endorse SPEC 10 ({projects[-1]})", "",
                                         {path: text}, labels=["SPEC endorsement"])
        world.github.merge_pull("chair", endorse)
        world.sync()
        assert f"{projects[-1]} endorsed SPEC 10 — {number} endorsement" in \
            world.replies(topic)[-1]
    assert world.status()[pr].stage == "endorsed"
    assert world.github.labels_on(pr)[-1] == "spec-endorsed"
    assert "merged by @\u200dchair" in world.replies(topic)[-1]  # who changed what
    # the file changes back: each step down is told too, with who merged it
    for text, stage in ((spec_text(10, "Deprecations", draft=False).replace(
            "endorsed-by:", "endorsed-by:\n  - numpy"), "published"),
            (spec_text(10, "Deprecations", draft=True), "draft")):
        edit = world.github.open_pull("ada", f"SPEC 10 back to {stage}", "", {path: text})
        world.github.merge_pull("chair", edit)
        replies = len(world.replies(topic))
        world.sync()
        assert world.tags(topic) == (f"spec-{stage}",)
        assert len(world.replies(topic)) == replies + 1
        assert f"SPEC 10 is now **{stage}**: changed by @\u200dchair on GitHub" in \
            world.replies(topic)[-1]
        world.sync()
        assert len(world.replies(topic)) == replies + 1  # once


def test_closed_unmerged_then_reopened(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.close_pull("ada", pr)
    world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert world.tags(topic) == ("spec-withdrawn",)
    world.github.reopen_pull("ada", pr)
    world.sync()
    assert world.status()[pr].stage == "draft"
    assert world.tags(topic) == ("spec-draft",)


def test_three_more_runs_change_nothing_and_cost_little(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.sync()  # the first cycle's own writes are read back once, as no change
    posts, comments = len(world.forum.posts_in(topic)), len(world.comments(pr))
    for _ in range(3):
        world.box.reset_counts()
        report = world.sync()
        assert (report.actions, report.changes) == ([], [])
        writes = [r for r in world.box.discourse.log + world.box.github.log if r[0] != "GET"]
        assert writes == []
        assert world.box.request_total() <= 6
    assert (len(world.forum.posts_in(topic)), len(world.comments(pr))) == (posts, comments)


def test_first_run_on_old_history_is_quiet(tmp_path: Path) -> None:
    with Sandbox() as box:
        world = World(box, tmp_path / "old.db")
        topic = world.idea()
        pr = world.open_spec_pr(topic)
        box.clock.advance(days=60)
        report = world.sync()
        assert report.ok
        assert world.replies(topic) == [] and world.comments(pr) == []
        assert "spec-draft" in world.github.labels_on(pr)
        assert world.tags(topic) == ("spec-draft",)


def test_one_failing_item_is_reported_and_the_rest_goes_on(world: World) -> None:
    first = world.idea("first idea")
    second = world.idea("second idea")
    broken = world.open_spec_pr(first, 10)
    fine = world.open_spec_pr(second, 11)
    world.github.inject(Fault(match=rf"GET /repos/.*/pulls/{broken}/files", status=500,
                              times=100))
    report = world.sync()
    assert not report.ok and any(f"/pulls/{broken}/files" in f or f"#{broken} " in f
                                 for f in report.failures)
    assert "spec-draft" in world.github.labels_on(fine)
    world.github.faults.clear()
    report = world.sync()  # the cursor did not move: the failed PR is read again
    assert report.ok, report.failures
    assert "spec-draft" in world.github.labels_on(broken)
    assert len(world.comments(broken)) == 1 and len(world.comments(fine)) == 1


def test_every_pr_touching_a_spec_file_belongs_to_it(world: World) -> None:
    from sqlalchemy import select

    from forumsync.models import PullRequest

    pr = world.open_spec_pr(world.idea())
    world.sync()
    world.github.merge_pull("chair", pr)
    edit = world.github.open_pull("ada", "Fix a typo in SPEC 10", "", {
        "spec-0010/index.md": spec_text(10, "Deprecations") + "\nTypo fixed.\n"})
    world.sync()
    with world.sessions() as session:
        owners = dict(session.execute(select(PullRequest.number, PullRequest.spec_id)).all())
    assert owners[pr] is not None and owners[edit] == owners[pr]


def test_a_malformed_spec_file_is_reported_and_the_others_still_sync(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.merge_pull("chair", pr)
    world.sync()
    world.github.set_file("spec-0003/index.md", "---\ntitle: [unclosed\n---\nbody\n")
    publish = world.github.open_pull("ada", "Publish SPEC 10", "", {
        "spec-0010/index.md": spec_text(10, "Deprecations", draft=False)})
    world.github.merge_pull("chair", publish)
    report = world.sync()
    assert report.ok, report.failures
    assert any("spec-0003/index.md" in p for p in report.problems)
    assert world.status()[pr].stage == "published"
    world.sync()  # the publish cycle's own writes are read back once
    world.box.reset_counts()
    assert world.sync().problems == []  # reported once, not re-read while unchanged
    assert world.box.request_total() <= 6


def test_rate_limit_stops_reading_and_the_rest_waits(world: World) -> None:
    import time

    prs = [world.open_spec_pr(world.idea(f"idea number {n} for rate limits"), 10 + n)
           for n in range(4)]
    reset = str(int(time.time()) + 3600)
    world.github.inject(Fault(match=r"GET /repos/.*/pulls/\d+/files", status=403, times=1000,
                              body={"message": "API rate limit exceeded"},
                              headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    world.box.reset_counts()
    report = world.sync()
    assert not report.ok and any("rate limited" in f for f in report.failures)
    assert len([r for r in world.github.log if r[1].endswith("/files")]) == 1  # then stops
    world.github.faults.clear()
    assert world.sync().ok
    assert all("spec-draft" in world.github.labels_on(pr) for pr in prs)


def test_renumbered_before_merge_follows_the_new_number(world: World) -> None:
    pr = world.open_spec_pr(world.idea(), 10)
    world.sync()
    world.github.push_to_pull("ada", pr, {"spec-0010/index.md": None,
                                          "spec-0012/index.md": spec_text(12, "Deprecations")})
    world.sync()
    assert world.status()[pr].number == 12


def test_link_by_hand_and_by_slug(world: World, tmp_path: Path) -> None:
    from forumsync.manual_links import link_by_hand

    right = world.idea("the real discussion of typing")
    wrong = world.idea("an unrelated idea about logos")
    slug_only = f"{world.forum.base_url}/t/{world.forum.topics[wrong].slug}"
    pr = world.github.open_pull("ada", "SPEC 10: Typing", f"Discussion: {slug_only}",
                                {"spec-0010/index.md": spec_text(10, "Typing")})
    world.sync()
    assert world.status()[pr].thread == wrong  # resolved by its slug
    with world.sessions.begin() as session:
        link_by_hand(session, pr, right)
    world.sync()
    assert world.status()[pr].thread == right
    assert world.tags(right) == ("spec-draft",)
    assert world.tags(wrong) == ()  # the stage tag went with the link


def test_unlink_by_hand_takes_the_stage_tag_off_the_thread(world: World) -> None:
    from forumsync.manual_links import unlink_by_hand

    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    assert world.tags(topic) == ("spec-draft",)
    with world.sessions.begin() as session:
        unlink_by_hand(session, pr)
    world.sync()
    assert world.status()[pr].thread is None and world.tags(topic) == ()
    world.sync()
    assert world.tags(topic) == ()  # and it stays off


def test_a_hand_link_to_a_thread_that_does_not_exist_links_nothing(world: World) -> None:
    from forumsync.manual_links import link_by_hand

    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    with world.sessions.begin() as session:
        link_by_hand(session, pr, 99999)
    world.sync()
    world.sync()
    row = world.status()[pr]
    assert row.thread == topic and world.tags(topic) == ("spec-draft",)  # as it was
    assert "linked by hand to thread 99999, which does not exist" in row.last_problem


def test_old_spec_on_main_links_by_front_matter(world: World) -> None:
    topic = world.idea("SPEC 1 discussion from long ago")
    text = spec_text(1, "Old", draft=False).replace(
        "endorsed-by:", f"discussion: {world.thread_url(topic)}\nendorsed-by:")
    world.github.set_file("spec-0001/index.md", text)
    world.sync()
    [row] = [r for r in world.status().values() if r.number == 1]
    assert (row.stage, row.thread) == ("published", topic)
    assert world.tags(topic) == ("spec-published",)
    assert world.replies(topic) == []  # nothing to announce: it is history


def test_accepted_threads_move_to_the_accepted_category(tmp_path: Path) -> None:
    from dataclasses import replace

    with Sandbox() as box:
        world = World(box, tmp_path / "move.db")
        world.config = replace(world.config, discourse=replace(world.config.discourse,
                                                               accepted_category_id=15))
        topic = world.idea()
        world.sync()
        world.forum.retag("chair", topic, ["spec-accepted"])
        world.sync()
        assert world.forum.topics[topic].category_id == 15
        world.sync()
        assert world.status()[None].stage == "accepted"  # still tracked after the move


def test_both_sides_changed_in_one_cycle(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.add_label("chair", pr, "spec-published")
    world.box.clock.advance(minutes=1)
    world.forum.retag("chair", topic, ["spec-withdrawn"])  # the later change
    report = world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert any("conflict" in line for line in report.changes)
    assert "spec-withdrawn" in world.github.labels_on(pr)
    assert "spec-published" not in world.github.labels_on(pr)


def test_copied_text_pings_nobody(world: World) -> None:
    topic = world.idea()
    pr = world.github.open_pull(
        "ada", "SPEC 10: cc @numpy/steering-council <script>x</script>",
        f"Discussion: {world.thread_url(topic)}",
        {"spec-0010/index.md": spec_text(10, "Pings")})
    world.sync()
    [reply] = world.replies(topic)
    assert f"pull/{pr}" in reply
    assert "@numpy" not in reply and "<script>" not in reply


def test_a_comment_bumps_activity_without_rereading_files(world: World) -> None:
    pr = world.open_spec_pr(world.idea())
    world.sync()
    world.sync()
    world.box.clock.advance(days=3)
    world.github.comment("grace", pr, "Looks good to me.")
    world.box.reset_counts()
    world.sync()
    paths = [path for _, path, _ in world.github.log]
    assert not any(p.endswith("/files") or "/contents/" in p for p in paths)
    with world.sessions() as session:
        from forumsync.models import Spec

        spec = session.query(Spec).one()
        assert spec.last_actor == "grace"


def test_only_new_revisions_are_read(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    for stage in ("withdrawn", "accepted", "published"):
        world.box.clock.advance(minutes=10)  # past Discourse's editing grace period
        world.forum.retag("chair", topic, [f"spec-{stage}"])
        world.box.reset_counts()
        world.sync()
        assert world.status()[pr].stage == stage
        revisions = [p for _, p, _ in world.forum.log if "/revisions/" in p]
        assert len([p for p in revisions if not p.endswith("latest.json")]) <= 1, revisions


def test_a_pr_that_keeps_failing_reaches_the_digest_then_clears(world: World) -> None:
    from forumsync import digest

    pr = world.open_spec_pr(world.idea(), 10)
    world.github.inject(Fault(match=rf"GET /repos/.*/pulls/{pr}/files", status=422, times=1000,
                              body={"message": "Validation Failed"}))
    for _ in range(2):
        assert not world.sync().ok
    with world.sessions() as session:
        failing = digest.collect(session, world.config, world.box.clock.now()).failing
    assert len(failing) == 1 and f"PR #{pr}" in failing[0] and "2 cycles" in failing[0]
    world.github.faults.clear()
    assert world.sync().ok
    with world.sessions() as session:
        assert digest.collect(session, world.config, world.box.clock.now()).failing == []


# --- found in the second review ------------------------------------------------------------


def test_a_change_deferred_for_an_unreadable_committee_is_judged_next_cycle(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.sync()
    world.github.inject(Fault(match=r"GET /orgs/.*/teams/.*/members", status=403, times=1))
    world.github.add_label("chair", pr, "spec-withdrawn")
    first = world.sync()
    assert any("could not be read" in p for p in first.problems)
    assert "spec-draft" in world.github.labels_on(pr)  # neither mirrored nor reverted yet
    world.sync()
    assert world.status()[pr].stage == "withdrawn"
    assert world.github.labels_on(pr) == ("New SPEC", "spec-withdrawn")
    assert world.tags(topic) == ("spec-withdrawn",)


def test_a_quick_second_retag_folded_into_one_revision_is_still_judged(world: World) -> None:
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-accepted"])
    run_cycle(world.config, world.sessions, world.clients, world.box.clock.advance(minutes=1))
    world.box.clock.advance(minutes=1)  # within the grace period: the same revision grows
    world.forum.retag("chair", topic, ["spec-withdrawn"])
    assert len(world.forum.topics[topic].revisions) == 1
    world.sync()
    assert world.status()[None].stage == "withdrawn"
    assert world.tags(topic) == ("spec-withdrawn",)


def test_an_unattributable_retag_is_restored_and_reported(world: World) -> None:
    topic, _ = world.forum.create_topic("chair", "SPEC idea: a quick one", "An idea, quickly.", 9)
    world.box.clock.advance(minutes=1)  # the author's own edit within five minutes: no revision
    world.forum.retag("chair", topic, ["spec-accepted"])
    assert world.forum.topics[topic].revisions == []
    report = world.sync()
    assert any("no one could be named" in p for p in report.problems)
    assert world.tags(topic) == ()
    assert world.status()[None].stage == "idea"


def test_an_edit_pr_open_at_the_first_sync_joins_its_spec(world: World) -> None:
    from sqlalchemy import select

    from forumsync.models import PullRequest

    world.github.set_file("spec-0001/index.md", spec_text(1, "Old", draft=False))
    edit = world.github.open_pull("grace", "Clarify SPEC 1", "", {
        "spec-0001/index.md": spec_text(1, "Old", draft=False) + "\nClearer.\n"})
    world.sync()
    world.sync()
    world.box.clock.advance(days=40)
    world.github.comment("grace", edit, "Any reviewers?")
    world.sync()
    with world.sessions() as session:
        owner = session.scalar(select(PullRequest.spec_id).where(PullRequest.number == edit))
    assert owner is not None
    [row] = [r for r in world.status().values() if r.number == 1]
    assert row.stalled is False  # grace's comment counts as activity on SPEC 1


def test_publishing_again_after_a_return_to_draft_is_announced_again(world: World) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    world.sync()
    world.github.merge_pull("chair", pr)
    world.sync()
    path = "spec-0010/index.md"
    for draft in (False, True, False):
        change = world.github.open_pull("chair", "Stage edit", "", {
            path: spec_text(10, "Deprecations", draft=draft)})
        world.github.merge_pull("chair", change)
        world.sync()
    assert len([r for r in world.replies(topic) if "was published" in r]) == 2


def test_a_discussion_link_off_the_forum_is_reported(world: World) -> None:
    off = "https://github.com/scientific-python/specs/issues/5"
    pr = world.github.open_pull("ada", "SPEC 10: Deprecations", f"Viability discussion: {off}",
                                {"spec-0010/index.md": spec_text(10, "Deprecations")},
                                labels=["New SPEC"])
    report = world.sync()
    assert f"the discussion link {off} is not on the forum" in report.problems
    assert world.status()[pr].thread is not None  # a thread is opened, as for no link


def test_a_link_problem_stands_in_status_and_in_the_digest(world: World) -> None:
    from forumsync.digest import collect

    pr = world.github.open_pull("ada", "SPEC 10: Deprecations",
                                f"Discussion: {world.forum.base_url}/t/gone/99999",
                                {"spec-0010/index.md": spec_text(10, "Deprecations")},
                                labels=["New SPEC"])
    world.sync()
    problem = "pr-1 links thread 99999, which was deleted or cannot be read; not linked"
    assert world.status()[pr].last_problem == problem
    with world.sessions() as session:
        digest = collect(session, world.config, world.box.clock.now())
    assert digest.other_problems == [problem]
