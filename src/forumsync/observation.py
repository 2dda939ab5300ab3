"""What one cycle saw on both sides, as plain records handed to the planner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from forumsync.records import (
    Activity,
    CommentRecord,
    ForumPost,
    IssueEvent,
    PullFile,
    PullRecord,
    SpecDocument,
    TopicRevision,
)


@dataclass(frozen=True)
class PullObservation:
    """A pull request that changed since the last cycle, with what was read about it."""

    pull: PullRecord
    files: tuple[PullFile, ...] = ()
    head_doc: SpecDocument | None = None  # the SPEC document at the PR's head, if it has one
    events: tuple[IssueEvent, ...] = ()  # read when its labels or state changed
    activity: Activity | None = None  # latest human comment, review or commit
    comments: tuple[CommentRecord, ...] | None = None  # all of them, when all were read


@dataclass(frozen=True)
class ThreadObservation:
    """A forum thread as seen this cycle; posts and revisions only when they were read."""

    id: int
    slug: str
    title: str
    category_id: int | None
    tags: tuple[str, ...]
    created_at: datetime
    last_posted_at: datetime | None
    posts: tuple[ForumPost, ...] | None = None
    revisions: tuple[TopicRevision, ...] = ()
    deleted: bool = False


@dataclass(frozen=True)
class Committee:
    """Committee members on each side; None when the list could not be read."""

    github: frozenset[str] | None
    forum: frozenset[str] | None


@dataclass(frozen=True)
class Observation:
    now: datetime
    pulls: Mapping[int, PullObservation] = field(default_factory=dict)
    threads: Mapping[int, ThreadObservation] = field(default_factory=dict)
    main_docs: Mapping[str, SpecDocument] = field(default_factory=dict)  # changed on main
    core_projects: frozenset[str] = frozenset()
    committee: Committee = Committee(None, None)
    slugs: Mapping[str, int] = field(default_factory=dict)  # forum slug -> topic id
    own_accounts: frozenset[str] = frozenset()  # the service's own logins: never a change
    # path -> the `discussion:` link of the file's last version that had one (None: none had)
    history_discussions: Mapping[str, str | None] = field(default_factory=dict)
    removed_paths: frozenset[str] = frozenset()  # SPEC files gone from the default branch
