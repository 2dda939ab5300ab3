"""What the service remembered from earlier cycles, as plain records for the planner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from forumsync.records import Activity
from forumsync.stages import Stage


@dataclass(frozen=True)
class SpecState:
    id: int
    stage: Stage
    number: int | None = None
    title: str = ""
    introducing_pr: int | None = None
    path: str | None = None
    thread_id: int | None = None
    link_method: str | None = None
    is_draft: bool | None = None
    endorsed_by: tuple[str, ...] = ()
    last_activity: Activity | None = None


@dataclass(frozen=True)
class PullState:
    number: int
    state: str  # open, closed, merged
    labels: tuple[str, ...]
    spec_id: int | None = None
    updated_at: datetime | None = None
    head_sha: str | None = None


@dataclass(frozen=True)
class ThreadState:
    id: int
    tags: tuple[str, ...]
    category_id: int | None
    slug: str = ""
    title: str = ""
    last_posted_at: datetime | None = None
    revision: int = 1  # the first post's revisions up to this one have been read


@dataclass(frozen=True)
class StoredState:
    specs: tuple[SpecState, ...] = ()
    pulls: Mapping[int, PullState] = field(default_factory=dict)
    threads: Mapping[int, ThreadState] = field(default_factory=dict)
    manual_links: Mapping[int, int | None] = field(default_factory=dict)  # PR -> topic/None
    first_sync_at: datetime | None = None
