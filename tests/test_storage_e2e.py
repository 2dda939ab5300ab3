"""A whole sync against the sandbox, stored on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync import store
from forumsync.cycle import BLOBS_CURSOR
from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.sandbox import Sandbox
from tests.test_e2e import World


@pytest.fixture
def world(tmp_path: Path, any_db_url: str) -> Iterator[World]:
    with Sandbox() as box:
        world = World(box, tmp_path / "unused.db")
        world.db_url, world.config = any_db_url, box.config(any_db_url)
        world.sessions = open_database(any_db_url)
        yield world


def test_a_repository_with_many_specs_syncs_and_its_cursors_are_kept(world: World) -> None:
    for number in range(1, 31):  # more SPEC files than the real repository has today
        world.github.set_file(f"spec-{number:04d}/index.md", spec_text(number, "Long title"))
    topic = world.idea()
    pr = world.open_spec_pr(topic, number=40)
    report = world.sync()
    assert report.ok, report.failures
    assert "spec-draft" in world.github.labels_on(pr)
    with world.sessions() as session:
        blobs = json.loads(store.get_cursor(session, BLOBS_CURSOR).value)
    assert len(blobs) == 30 and len(json.dumps(blobs)) > 200
    world.box.reset_counts()
    again = world.sync()
    assert again.ok and again.actions == [], again.actions  # remembered: not a first run again
    assert len(world.replies(topic)) == 1
