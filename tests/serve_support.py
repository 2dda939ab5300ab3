"""A seeded sandbox world for the dashboard tests: SPECs in several stages, an ignored change,
announcements, a stalled idea."""

from __future__ import annotations

from forumsync.demo import spec_text
from tests.test_e2e import World


def open_pr(world: World, topic: int, number: int, title: str, author: str = "ada") -> int:
    body = f"Viability discussion: {world.thread_url(topic)}"
    return world.github.open_pull(author, f"SPEC {number}: {title}", body,
                                  {f"spec-{number:04d}/index.md": spec_text(number, title)},
                                  labels=["New SPEC"])


def seed(world: World) -> dict[str, int]:
    """Returns the topics and PRs it made, by name."""
    made: dict[str, int] = {}
    made["idle_idea"] = world.idea("SPEC idea: array API adoption")
    world.sync()
    world.box.clock.advance(days=40)  # the first idea is now stalled
    made["idea"] = world.idea("SPEC idea: <script>alert(1)</script> & friends")
    made["accepted_topic"] = world.idea("SPEC idea: lazy loading")
    world.sync()
    world.forum.retag("chair", made["accepted_topic"], ["spec-accepted"])
    world.sync()
    made["draft_topic"] = world.idea("SPEC idea: minimum supported versions")
    made["draft_pr"] = open_pr(world, made["draft_topic"], 7, "Minimum supported versions")
    world.sync()
    world.github.add_label("mallory", made["draft_pr"], "spec-published")  # not the committee
    world.sync()
    made["withdrawn_topic"] = world.idea("SPEC idea: telemetry")
    made["withdrawn_pr"] = open_pr(world, made["withdrawn_topic"], 9, "Telemetry")
    world.sync()
    world.github.add_label("chair", made["withdrawn_pr"], "spec-withdrawn")
    world.sync()
    return made
