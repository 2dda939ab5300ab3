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
    stage_set: StageSet | None = None  # the change that set the current stage
    lost_thread_id: int | None = None  # a deleted viability thread, linked again if restored
    history_read: bool = False  # the file's history was read for a `discussion:` link
    history_discussion: str | None = None


@dataclass(frozen=True)
class StageSet:
    """Who set a SPEC's current stage, and how: what an undo is measured against."""

    actor: str
    outcome: str  # mirrored, initial, retired, restored, confirmed
    reason: str  # for mirrored: the signal kind (label, tag, closed, ...)
    authority: str = ""  # committee, author, history, service
    before: Stage | None = None  # the stage it replaced (a retired idea returns to it)


@dataclass(frozen=True)
class PullState:
    number: int
    state: str  # open, closed, merged
    labels: tuple[str, ...]
    spec_ids: tuple[int, ...] = ()  # every SPEC the PR touches
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
    deleted: bool = False  # seen deleted: never linked again unless it comes back
    highest_post: int | None = None  # this cycle's read: the highest post number (not stored)


@dataclass(frozen=True)
class StoredState:
    specs: tuple[SpecState, ...] = ()
    pulls: Mapping[int, PullState] = field(default_factory=dict)
    threads: Mapping[int, ThreadState] = field(default_factory=dict)
    manual_links: Mapping[int, int | None] = field(default_factory=dict)  # PR -> topic/None
    first_sync_at: datetime | None = None
