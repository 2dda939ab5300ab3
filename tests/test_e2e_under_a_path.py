"""The end-to-end stories again, with the forum installed under a path
(`[discourse] url = "http://127.0.0.1:<port>/forum"`): every story of tests/test_e2e.py,
test_e2e_trust.py and test_e2e_review.py that runs on the shared `world` is collected here
a second time, on a sandbox whose forum answers only under /forum (anything else is a 404)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync.links import ThreadRef, parse_thread_url
from forumsync.sandbox import Sandbox
from tests import test_e2e, test_e2e_review, test_e2e_trust
from tests.test_e2e import World

PREFIX = "/forum"

# The stories, collected again in this module, where `world` below replaces theirs.
for _module in (test_e2e, test_e2e_trust, test_e2e_review):
    for _name, _story in vars(_module).items():
        if _name.startswith("test_") and "world" in inspect.signature(_story).parameters:
            globals()[_name] = _story


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox(forum_prefix=PREFIX) as box:
        yield World(box, tmp_path / "e2e.db")


def test_the_forum_really_is_under_the_path(world: World) -> None:
    assert world.config.discourse.url.endswith(PREFIX)
    topic = world.idea()
    url = world.thread_url(topic)
    assert f"{PREFIX}/t/" in url
    assert parse_thread_url(url, world.config.discourse.url) == ThreadRef(
        topic, world.forum.topics[topic].slug, url)
    world.sync()
    world.sync()
    requested = [path for _, path, _ in world.forum.log]
    assert requested and not any(p.startswith(PREFIX) for p in requested)  # prefix removed
    assert all(status != 404 for *_, status in world.forum.log)
