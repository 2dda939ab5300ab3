"""The planner's output: what to write on each side and what to remember.

Every write carries an idempotency `key`; the executor performs a write at most once per key,
checking its ledger and then the remote side for the key's hidden marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from forumsync.records import Activity
from forumsync.stages import Stage
from forumsync.state import PullState, StageSet, ThreadState


@dataclass(frozen=True)
class SetPullLabels:
    key: str
    pr: int
    add: tuple[str, ...]
    remove: tuple[str, ...]

    def describe(self) -> str:
        parts = [f"+{n}" for n in self.add] + [f"-{n}" for n in self.remove]
        return f"github: PR #{self.pr} labels {' '.join(parts)}"


@dataclass(frozen=True)
class SetThreadTags:
    key: str
    topic_id: int
    tags: tuple[str, ...]

    def describe(self) -> str:
        return f"discourse: topic {self.topic_id} tags = {', '.join(self.tags) or '(none)'}"


@dataclass(frozen=True)
class MoveThread:
    key: str
    topic_id: int
    category_id: int

    def describe(self) -> str:
        return f"discourse: topic {self.topic_id} moved to category {self.category_id}"


@dataclass(frozen=True)
class ReplyOnThread:
    key: str
    topic_id: int
    body: str

    def describe(self) -> str:
        return f"discourse: reply on topic {self.topic_id}: {self.body.splitlines()[0]}"


@dataclass(frozen=True)
class CommentOnPull:
    key: str
    pr: int
    body: str

    def describe(self) -> str:
        return f"github: comment on PR #{self.pr}: {self.body.splitlines()[0]}"


@dataclass(frozen=True)
class CreateThread:
    """A new Ideas thread for a SPEC PR that links none; the SPEC is linked to it."""

    key: str
    title: str
    body: str
    category_id: int
    tags: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"discourse: new topic in category {self.category_id}: {self.title}"


Effect = SetPullLabels | SetThreadTags | MoveThread | ReplyOnThread | CommentOnPull | CreateThread


@dataclass(frozen=True)
class StageChange:
    """One stage change seen, and what the service made of it."""

    from_stage: Stage | None
    to_stage: Stage
    actor: str
    side: str  # github, discourse
    occurred_at: datetime
    outcome: str  # mirrored, ignored, conflict, initial, retired, restored, confirmed
    reason: str = ""
    authority: str = ""  # for a stage set: committee, author, history or service

    def describe(self, spec_key: str) -> str:
        before = self.from_stage.value if self.from_stage else "-"
        by = f", by @{self.actor}" if self.actor else ""
        return f"{spec_key}: {before} -> {self.to_stage.value} ({self.outcome}{by} on {self.side})"


@dataclass(frozen=True)
class ProblemNote:
    """A problem to report. `scope` names what raised it: once that source is read again
    without raising it, the problem is resolved."""

    kind: str
    subject: str
    message: str
    scope: str = ""


@dataclass
class SpecPlan:
    """The desired record of one SPEC after this cycle, and the writes that get it there."""

    key: str  # stable name for logs: "pr-12", "topic-40", "spec-0004/index.md"
    spec_id: int | None
    stage: Stage
    number: int | None = None
    title: str = ""
    introducing_pr: int | None = None
    path: str | None = None
    thread_id: int | None = None
    link_method: str | None = None
    is_draft: bool | None = None
    endorsed_by: tuple[str, ...] = ()
    last_activity: Activity | None = None  # the latest human post, comment, review or commit
    absorbs: tuple[int, ...] = ()  # spec ids merged into this one (an idea gaining its PR)
    pulls: tuple[int, ...] = ()  # PRs that belong to this SPEC
    changes: list[StageChange] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    problems: list[ProblemNote] = field(default_factory=list)
    link_from: str | None = None  # key of the CreateThread effect whose topic becomes the link
    link_refused: bool = False  # a link was given but could not be taken (reported)
    stage_set: StageSet | None = None
    lost_thread_id: int | None = None
    history_read: bool = False
    history_discussion: str | None = None
    released_thread: int | None = None  # the thread it was linked to before this cycle
    scopes: set[str] = field(default_factory=set)  # problem sources read again this cycle

    def __setattr__(self, name: str, value: object) -> None:
        """A planning pass indexes SPECs by the fields that identify them (see
        planner/context.py); a rule that changes one keeps the index true."""
        watcher = self.__dict__.get("_watcher")
        if watcher is not None and name in IDENTIFYING_FIELDS:
            watcher(self, name, self.__dict__.get(name), value)
        object.__setattr__(self, name, value)


IDENTIFYING_FIELDS = ("spec_id", "introducing_pr", "path", "thread_id", "lost_thread_id")


@dataclass
class Plan:
    specs: list[SpecPlan] = field(default_factory=list)
    pulls: dict[int, PullState] = field(default_factory=dict)  # to remember after the writes
    threads: dict[int, ThreadState] = field(default_factory=dict)
    problems: list[ProblemNote] = field(default_factory=list)  # not tied to one SPEC
    deferred_pulls: set[int] = field(default_factory=set)  # read again next cycle
    deferred_paths: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)  # problem sources read again (not per SPEC)
