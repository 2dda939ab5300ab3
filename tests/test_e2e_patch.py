"""An open PR that adds its SPEC file brings the file's text in the files listing's `patch`:
the SPEC is tracked without reading the document, and read as before when GitHub leaves the
patch out (a diff too large, a binary file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from forumsync.sandbox import Sandbox
from tests.test_e2e import World

FILES = "GET /repos/{owner}/{name}/pulls/{number}/files"
MALFORMED = "---\ntitle: [unclosed\n---\nbody\n"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox() as box:
        yield World(box, tmp_path / "patch.db")


def contents_reads(world: World) -> int:
    return sum(n for route, n in world.github.requests.items() if "/contents/" in route)


def synced_then_counted(world: World) -> None:
    """A first sync of what the sandbox holds, then counts from zero."""
    assert world.sync().ok
    world.box.reset_counts()


@pytest.mark.parametrize(("limit", "reads"), [
    (20_000, 0),  # the patch is the whole file: no contents read
    (3, 1),  # the SPEC's diff is above GitHub's limit, so no `patch`: the document is read
])
def test_an_added_spec_is_tracked_from_its_patch_or_else_read(
        world: World, limit: int, reads: int) -> None:
    synced_then_counted(world)
    world.github.patch_max_lines = limit
    pr = world.open_spec_pr(world.idea(), 12)

    report = world.sync()
    assert report.ok, report.failures
    row = world.status()[pr]
    assert (row.number, row.title, row.stage) == (12, "SPEC 12 — Deprecations", "draft")
    assert world.github.requests[FILES] == 1 and contents_reads(world) == reads


@pytest.mark.parametrize(("limit", "reads"), [(20_000, 0), (0, 1)])
def test_a_malformed_added_spec_is_the_same_problem_from_either_source(
        world: World, limit: int, reads: int) -> None:
    synced_then_counted(world)
    world.github.patch_max_lines = limit
    pr = world.github.open_pull("ada", "SPEC 13: Broken", "Please review.",
                                {"spec-0013/index.md": MALFORMED}, labels=["New SPEC"])
    head = world.github.pulls[pr].head_sha

    report = world.sync()
    assert report.ok, report.failures
    assert [p for p in report.problems if "spec-0013" in p] == [
        f"github: read SPEC file {world.github.full_name}/spec-0013/index.md@{head} failed: "
        "YAML front matter does not parse (while parsing a flow sequence)"]
    assert contents_reads(world) == reads


def test_a_patch_of_another_commit_than_the_head_is_not_trusted(world: World) -> None:
    """The files listing names the commit its rows describe; should it not be the head the
    PR list gave (a push in between, a lagging listing), the document is read at the head."""
    synced_then_counted(world)
    pr = world.open_spec_pr(world.idea(), 12)
    real = world.clients.repo.pull_files

    def a_commit_behind(number: int):
        return [replace(f, ref="0" * 40) for f in real(number)]

    world.clients.repo.pull_files = a_commit_behind
    assert world.sync().ok
    assert contents_reads(world) == 1
    assert world.status()[pr].title == "SPEC 12 — Deprecations"
