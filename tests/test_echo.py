"""The service's memory of its own writes (forumsync.echo, and the forum's replies) spares
reading them back after many writes, and never hides what a person did with them, before or
after (but a review with a bulk of writes: see forumsync.echo)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from forumsync import echo
from forumsync.cycle import build_clients, run_cycle
from forumsync.db import open_database
from forumsync.models import PullRequest, Spec, Thread
from forumsync.sandbox import Sandbox
from tests.test_scale import scale


@pytest.fixture
def shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The echo check for as few as one PR (it is for the cycle after many writes)."""
    monkeypatch.setattr(echo, "BULK", 1)


def test_a_persons_reply_and_comment_after_the_writes_are_read(tmp_path: Path) -> None:
    """The service remembers its own writes; what a person does after them is read."""
    with Sandbox() as box:
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        config, sessions = box.config(url), open_database(url)
        clients = build_clients(config)
        (topic, pr), = scale.seed(box, 1)

        def cycle():
            box.clock.advance(minutes=5)
            report = run_cycle(config, sessions, clients, box.clock.now())
            assert report.ok, report.failures

        cycle()  # links, labels, tags, announces on both sides
        box.discourse.reply("grace", topic, "A person's reply after the service's own.")
        box.github.comment("grace", pr, "A person's comment after the service's own.")
        box.reset_counts()
        cycle()
        assert box.discourse.requests["GET /t/{ref}.json"] == 1
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] == 1
        with sessions() as session:
            remembered = session.get(Thread, topic).last_posted_at.replace(tzinfo=UTC)
        assert remembered == box.discourse.posts_in(topic)[-1].created_at
        box.reset_counts()
        cycle()
        assert box.request_total() == 3  # idle again


def sync_with_a_person_first(box: Sandbox, tmp_path: Path, side: str, method: str,
                             person: Callable[[int], object], ahead: timedelta = timedelta()):
    """Sync once with `person(item)` acting just before each call of the service's own
    write `method` on `side` ("forum" or "repo"), then reset the counts and sync again.
    `ahead`: how far the service's clock runs ahead of the services'."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config, sessions = box.config(url), open_database(url)
    clients = build_clients(config)
    client = getattr(clients, side)
    real = getattr(client, method)

    def after_a_person(item: int, *args):
        person(item)
        return real(item, *args)

    for write in (after_a_person, real):
        setattr(client, method, write)
        box.reset_counts()
        box.clock.advance(minutes=5)
        assert run_cycle(config, sessions, clients, box.clock.now() + ahead).ok
    return sessions


def test_a_reply_between_read_and_write_is_not_hidden(tmp_path: Path) -> None:
    """A person's reply that lands between the cycle's read of a thread and the service's
    own reply leaves a gap in post numbers: the thread is read again next cycle."""
    with Sandbox() as box:
        scale.seed(box, 1)
        sync_with_a_person_first(box, tmp_path, "forum", "reply", lambda topic: box.discourse
                                 .reply("grace", topic, "Typed while the service was writing."))
        assert box.discourse.requests["GET /t/{ref}.json"] == 1


def test_a_label_added_between_read_and_write_is_not_hidden(tmp_path: Path) -> None:
    """A person's label that lands between the cycle's read of a PR and the service's own
    label write: the PR's updated_at is then the service's, but its labels differ from what
    the service expects, so it is read again next cycle."""
    with Sandbox() as box:
        (_, pr), = scale.seed(box, 1)
        sessions = sync_with_a_person_first(
            box, tmp_path, "repo", "add_label",
            lambda number: box.github.add_label("grace", number, "help wanted"))
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] >= 1
        with sessions() as session:
            labels = session.get(PullRequest, pr).labels
        assert "help wanted" in labels


PEOPLE_WITH_THE_WRITE = {
    "closes": lambda box, pr: box.github.close_pull("grace", pr),
    "pushes": lambda box, pr: box.github.push_to_pull("ada", pr, {"notes.md": "More."}),
    "retitles": lambda box, pr: box.github.edit_pull("ada", pr, title="SPEC 100, retitled"),
    "edits the body": lambda box, pr: box.github.edit_pull("ada", pr, body="No link now."),
    "comments": lambda box, pr: box.github.comment("grace", pr, "Said with the write."),
    "labels": lambda box, pr: box.github.add_label("grace", pr, "help wanted"),
}


@pytest.mark.parametrize("ahead", [timedelta(), timedelta(minutes=10)], ids=["", "clock ahead"])
@pytest.mark.parametrize("person", PEOPLE_WITH_THE_WRITE)
@pytest.mark.usefixtures("shortcut")
def test_a_persons_change_with_the_services_write_is_read(tmp_path: Path, person: str,
                                                          ahead: timedelta) -> None:
    """Whatever a person does to a PR in the same second as the service's label write, or
    between its read and that write, the next cycle reads the PR again: the service's memory
    of its own writes hides only its own writes, also when its clock runs ahead of GitHub's
    (comments are looked for from GitHub's time of the read, not the service's)."""
    with Sandbox() as box:
        scale.seed(box, 1)
        act = PEOPLE_WITH_THE_WRITE[person]
        sync_with_a_person_first(box, tmp_path, "repo", "add_label", lambda n: act(box, n),
                                 ahead)
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] >= 1


@pytest.mark.usefixtures("shortcut")
def test_the_services_own_comment_and_label_are_not_read_back(tmp_path: Path) -> None:
    """The control for the test above: with nobody acting, the PR is not read again."""
    with Sandbox() as box:
        scale.seed(box, 1)
        sync_with_a_person_first(box, tmp_path, "repo", "add_label", lambda n: None)
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] == 0
        assert box.github.requests["GET /repos/{owner}/{name}/issues/comments"] == 1


@pytest.mark.usefixtures("shortcut")
def test_a_pr_a_pending_webhook_names_is_read_whatever_it_shows(tmp_path: Path) -> None:
    """A review shows in no listing; when a webhook delivery named its PR (and no cycle has
    handled it yet), the PR is read even though its listing shows only the service's write."""
    from forumsync.serve.deliveries import record

    with Sandbox() as box:
        scale.seed(box, 1)
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"

        def review_and_its_delivery(number: int) -> None:
            box.github.review("grace", number, "APPROVED", "Looks right.")
            assert record(open_database(url), "github", "d-1", "pull_request_review.submitted",
                          f"pr-{number}", box.clock.now(), needs_sync=True)

        sessions = sync_with_a_person_first(box, tmp_path, "repo", "add_label",
                                            review_and_its_delivery)
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] == 1
        with sessions() as session:
            activity = session.scalars(select(Spec.last_actor).where(Spec.number == 100)).one()
        assert activity == "grace"


@pytest.mark.usefixtures("shortcut")
def test_the_comment_check_never_costs_more_pages_than_the_reads_it_saves(
        tmp_path: Path) -> None:
    """Two PRs to check, and three pages of comments on another PR since: reading the two
    PRs is cheaper, so the check stops after two pages and they are read."""
    with Sandbox() as box:
        pairs = scale.seed(box, 2)
        other = box.github.open_pull("bob", "Fix a typo", "", {"README.md": "Typo fixed."})

        def many_comments(number: int) -> None:
            if number == pairs[0][1]:
                for i in range(250):
                    box.github.comment("grace", other, f"Comment {i}.")

        sync_with_a_person_first(box, tmp_path, "repo", "add_label", many_comments)
        assert box.github.requests["GET /repos/{owner}/{name}/issues/comments"] == 1
        assert box.github.requests["GET /repositories/{repo_id}/issues/comments"] == 1
        # the two PRs' timelines (the other PR touches no SPEC: no timeline is read for it)
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] == 2


def test_after_a_few_writes_each_pr_is_read_back_so_no_review_is_missed(tmp_path: Path) -> None:
    """Below `echo.BULK` PRs the check is not worth its gap: a review submitted with the
    service's write (which no listing shows) is read, and counts as activity."""
    with Sandbox() as box:
        scale.seed(box, 1)
        sessions = sync_with_a_person_first(
            box, tmp_path, "repo", "add_label",
            lambda number: box.github.review("grace", number, "APPROVED", "Looks right."))
        assert box.github.requests["GET /repos/{owner}/{name}/issues/{number}/{kind}"] == 1
        assert box.github.requests["GET /repos/{owner}/{name}/issues/comments"] == 0
        with sessions() as session:
            activity = session.scalars(select(Spec.last_actor).where(Spec.number == 100)).one()
        assert activity == "grace"
