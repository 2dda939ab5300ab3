"""Builders for planner tests: observations and remembered state in a line each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from forumsync.observation import Committee, Observation, PullObservation, ThreadObservation
from forumsync.planner import PlanSettings
from forumsync.records import (
    ForumPost,
    IssueEvent,
    PullFile,
    PullRecord,
    SpecDocument,
    TopicRevision,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FORUM = "https://discuss.example.org"
REPO = "sci/specs"
COMMITTEE = Committee(github=frozenset({"chair", "forumsync-bot"}), forum=frozenset({"chair"}))

SETTINGS = PlanSettings(
    forum_url=FORUM, repo=REPO, github_url="https://github.com", ideas_category_id=9,
    accepted_category_id=0,
    stage_labels={s: f"spec-{s}" for s in ("accepted", "draft", "published", "endorsed",
                                            "withdrawn")},
    stage_tags={s: f"spec-{s}" for s in ("accepted", "draft", "published", "endorsed",
                                          "withdrawn")},
)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def pull(number: int, *, body: str = "", state: str = "open", merged: bool = False,
         labels: tuple[str, ...] = (), author: str = "alice", created: datetime | None = None,
         title: str | None = None, merged_by: str | None = None) -> PullRecord:
    created = created or ago(hours=1)
    return PullRecord(
        number=number, title=title or f"SPEC proposal {number}", body=body, state=state,
        merged=merged, author=author, labels=labels, created_at=created, updated_at=created,
        merged_at=created if merged else None, closed_at=created if state == "closed" else None,
        merged_by=merged_by, html_url=f"https://github.com/{REPO}/pull/{number}")


def spec_doc(path: str = "spec-0009/index.md", number: int | None = 9, *, draft: bool = True,
             endorsed: tuple[str, ...] = (), discussion: str | None = None,
             title: str = "SPEC 9 — Testing") -> SpecDocument:
    return SpecDocument(path=path, number=number, title=title, is_draft=draft,
                        endorsed_by=endorsed, discussion=discussion)


def seen_pull(record: PullRecord, *, files: tuple[str, ...] = ("spec-0009/index.md",),
              status: str = "added", doc: SpecDocument | None = None,
              events: tuple[IssueEvent, ...] = ()) -> PullObservation:
    return PullObservation(record, tuple(PullFile(f, status) for f in files),
                           doc if doc is not None else spec_doc(files[0]) if files else None,
                           events)


def event(kind: str, actor: str, label: str | None = None, at: datetime | None = None,
          id: int = 1) -> IssueEvent:
    return IssueEvent(id=id, event=kind, actor=actor, created_at=at or ago(minutes=5), label=label)


def thread(topic_id: int, *, tags: tuple[str, ...] = (), category: int = 9,
           posts: tuple[str, ...] = ("An idea",), revisions: tuple[TopicRevision, ...] = (),
           created: datetime | None = None, deleted: bool = False,
           title: str = "An idea for a SPEC") -> ThreadObservation:
    created = created or ago(days=3)
    return ThreadObservation(
        id=topic_id, slug=f"idea-{topic_id}", title=title, category_id=category, tags=tags,
        created_at=created, last_posted_at=created,
        posts=tuple(ForumPost(topic_id * 100 + n, topic_id, n + 1, "bob", created, raw)
                    for n, raw in enumerate(posts)),
        revisions=revisions, deleted=deleted)


def retag(post_id: int, before: tuple[str, ...], after: tuple[str, ...], who: str,
          at: datetime | None = None, number: int = 2) -> TopicRevision:
    return TopicRevision(post_id=post_id, number=number, username=who,
                         created_at=at or ago(minutes=5), tags_before=before, tags_after=after)


def observe(*, pulls=(), threads=(), docs=(), committee=COMMITTEE, slugs=None,
            core=frozenset({"numpy", "scipy", "matplotlib"}),
            own=frozenset({"forumsync", "forumsync-bot"})) -> Observation:
    return Observation(now=NOW, pulls={p.pull.number: p for p in pulls},
                       threads={t.id: t for t in threads}, main_docs={d.path: d for d in docs},
                       core_projects=core, committee=committee, slugs=slugs or {},
                       own_accounts=own)
