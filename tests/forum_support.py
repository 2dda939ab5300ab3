"""Helpers for the Discourse tests: fixtures on disk, a seeded sandbox, cassette settings.

Recording is driven by tests/cassettes/record_discourse.py through environment variables,
read here once at import (before any test's fixtures clear the environment).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import vcr

from forumsync.config import DiscourseConfig
from forumsync.forum import ForumClient
from forumsync.sandbox.core import Clock
from forumsync.sandbox.discourse import API_KEY, FakeDiscourse

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures" / "discourse"
CASSETTES = TESTS / "cassettes" / "discourse"
WORLD_FILE = CASSETTES / "world.json"

# Set by the recording script; empty in ordinary test runs (cassettes are then replayed).
RECORD = os.environ.get("FORUMSYNC_RECORD_DISCOURSE", "")  # "", "sandbox" or "live"
RECORD_URL = os.environ.get("FORUMSYNC_RECORD_DISCOURSE_URL", "")
RECORD_KEY = os.environ.get("FORUMSYNC_DISCOURSE_API_KEY", "")
SECRET_HEADERS = ["Api-Key", "Api-Username", "Authorization", "Cookie", "User-Api-Key"]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class World:
    """What the contract tests may assume about the forum the cassettes were recorded on."""

    api_username: str = "forumsync"
    ideas_category_id: int = 9
    accepted_category_id: int = 15
    group: str = "spec-steering-committee"
    group_members: tuple[str, ...] | None = ("alice", "bob", "carol")  # None: not known
    run: str = "sandbox"  # distinguishes titles between recordings on a real forum

    @classmethod
    def recorded(cls) -> World:
        data = json.loads(WORLD_FILE.read_text(encoding="utf-8"))
        members = data.get("group_members")
        return cls(**{**data, "group_members": None if members is None else tuple(members)})

    def save(self) -> None:
        WORLD_FILE.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


SANDBOX_WORLD = World()


def seeded_sandbox(world: World = SANDBOX_WORLD, clock: Clock | None = None) -> FakeDiscourse:
    """A fake forum with the API user and the committee group the contract tests expect."""
    fake = FakeDiscourse(clock)
    fake.add_user(world.api_username, admin=True)
    for name in world.group_members or ():
        fake.add_user(name, groups=[world.group])
    if world.group_members:
        fake.add_user(world.group_members[-1], owner_of=(world.group,))
    return fake


def forum_for(url: str, *, api_key: str | None = API_KEY, username: str = "forumsync",
              timeout: float = 5.0, retries: int = 3, sleeps: list[float] | None = None
              ) -> ForumClient:
    """A ForumClient whose waits are recorded in `sleeps` instead of slept."""
    config = DiscourseConfig(url=url, api_username=username, api_key=api_key,
                             timeout_seconds=timeout)
    record = sleeps if sleeps is not None else []
    return ForumClient(config, sleep=record.append, retries=retries)


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Keep cookies and any echo of the key out of recorded responses."""
    headers = response.get("headers", {})
    for name in [h for h in headers if h.lower() in ("set-cookie", "x-discourse-username")]:
        headers.pop(name)
    body = response.get("body", {}).get("string")
    if RECORD_KEY and isinstance(body, bytes) and RECORD_KEY.encode() in body:
        response["body"]["string"] = body.replace(RECORD_KEY.encode(), b"FILTERED")
    return response


def discourse_vcr() -> vcr.VCR:
    """Cassettes matched on method, path and query: the sandbox's port does not matter."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=("method", "path", "query"),
        filter_headers=SECRET_HEADERS,
        filter_query_parameters=["api_key", "api_username"],
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
