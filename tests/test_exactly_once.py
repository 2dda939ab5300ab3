"""Exactly once: a crash after any single write, a rerun, or a lost database never
duplicates a thread, reply, comment or label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from forumsync.cycle import Clients
from forumsync.db import open_database
from forumsync.sandbox import Sandbox
from tests.test_e2e import World

WRITES = {"reply", "create_topic", "create_comment", "add_label", "remove_label", "set_tags",
          "set_category", "send_group_message"}


class Crash(BaseException):
    """The worker dies: not an error any handler of the service catches."""


class CrashAfter:
    """Proxies a client; the `limit`-th write completes on the remote side, then we die."""

    def __init__(self, inner: object, budget: list[int]) -> None:
        self._inner, self._budget = inner, budget

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if name not in WRITES:
            return attribute

        def write(*args, **kwargs):
            result = attribute(*args, **kwargs)
            self._budget[0] -= 1
            if self._budget[0] == 0:
                raise Crash(name)
            return result

        return write


def crashing(clients: Clients, after: int, budget: list[int] | None = None) -> Clients:
    """Clients that die after the `after`-th write; `budget` counts down as writes happen."""
    budget = budget if budget is not None else [after]
    budget[:] = [after]
    return Clients(CrashAfter(clients.forum, budget), CrashAfter(clients.repo, budget))


def scenario(world: World) -> tuple[int, int, int]:
    """An accepted idea whose PR opens, plus a PR with no thread: every kind of write."""
    topic = world.idea()
    world.sync()
    world.forum.retag("chair", topic, ["spec-accepted"])
    world.sync()
    return topic, world.open_spec_pr(topic, 10), world.open_spec_pr(None, 11)


def footprint(world: World) -> Counter:
    """Everything the service wrote that must exist exactly once."""
    seen: Counter = Counter()
    for topic in world.forum.topics.values():
        for post in world.forum.posts_in(topic.id):
            if "forumsync:" in post.raw:
                seen[("post", post.raw.split("forumsync:")[1].split(" ")[0])] += 1
    for pr in world.github.pulls:
        for comment in world.github.comments_on(pr):
            seen[("comment", comment.body.split("forumsync:")[1].split(" ")[0])] += 1
        for label in world.github.labels_on(pr):
            seen[("label", pr, label)] += 1
    return seen


def count_writes(tmp_path: Path) -> int:
    """How many adapter writes the scenario's last cycle makes (each a crash point)."""
    with Sandbox() as box:
        world = World(box, tmp_path / "count.db")
        scenario(world)
        budget: list[int] = []
        world.sync(crashing(world.clients, 10**6, budget))
        return 10**6 - budget[0]


def test_a_crash_after_each_write_then_a_rerun_leaves_exactly_one_of_each(tmp_path: Path) -> None:
    with Sandbox() as box:
        clean = World(box, tmp_path / "clean.db")
        scenario(clean)
        clean.sync()
        expected = footprint(clean)
    assert all(n == 1 for n in expected.values())
    kinds = {key[0] for key in expected}
    assert kinds == {"post", "comment", "label"}
    writes = count_writes(tmp_path)
    assert writes >= 7
    for after in range(1, writes + 1):
        with Sandbox() as box:
            world = World(box, tmp_path / f"crash-{after}.db")
            scenario(world)
            with pytest.raises(Crash):
                world.sync(crashing(world.clients, after))
            world.sync()
            world.sync()
            assert footprint(world) == expected, f"crash after write {after}"


def test_a_lost_database_duplicates_nothing(tmp_path: Path) -> None:
    with Sandbox() as box:
        world = World(box, tmp_path / "first.db")
        scenario(world)
        world.sync()
        before = footprint(world)
        world.sessions = open_database(f"sqlite:///{tmp_path / 'second.db'}")  # all forgotten
        world.sync()
        world.sync()
        assert footprint(world) == before
