"""Carrying out a plan: each write at most once, then remembering what was done.

Order matters for crash safety. For each SPEC the remote writes go first, each recorded in
the ledger as soon as it is made; the SPEC's new state is committed only after all of them.
A crash anywhere leaves the old state in the database, so the next cycle plans the same
writes under the same keys, and finds each one either in the ledger or, when the ledger lost
it, on the remote side by its hidden marker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from forumsync import store
from forumsync.actions import (
    CommentOnPull,
    CreateThread,
    Effect,
    MoveThread,
    Plan,
    ProblemNote,
    ReplyOnThread,
    SetPullLabels,
    SetThreadTags,
    SpecPlan,
)
from forumsync.errors import ServiceError
from forumsync.markers import marker, with_marker

if TYPE_CHECKING:
    from forumsync.forum import ForumClient
    from forumsync.repo import RepoClient

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    """What a cycle did (or, in a dry run, would do), and what failed."""

    actions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {"actions": self.actions, "changes": self.changes, "problems": self.problems,
                "failures": self.failures}

    def add_planned(self, spec: SpecPlan) -> None:
        """What a SPEC's plan would do, for a dry run (a real run adds each write as made)."""
        self.actions.extend(effect.describe() for effect in spec.effects)
        self.add_outcome(spec)

    def add_outcome(self, spec: SpecPlan) -> None:
        self.changes.extend(change.describe(spec.key) for change in spec.changes)
        self.problems.extend(problem.message for problem in spec.problems)

    def lines(self, verb: str = "did") -> list[str]:
        """The report as a person reads it, one line each."""
        return ([f"{verb}: {line}" for line in self.actions]
                + [f"stage: {line}" for line in self.changes]
                + [f"problem: {line}" for line in self.problems]
                + [f"failed: {line}" for line in self.failures])


class Executor:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        forum: ForumClient,
        repo: RepoClient,
        thread_url: Callable[[int], str],
        now: datetime,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.forum = forum
        self.repo = repo
        self.thread_url = thread_url
        self.now = now
        self.heartbeat = heartbeat or (lambda: None)

    def apply(self, plan: Plan, report: CycleReport) -> tuple[set[int], set[str]]:
        """Apply every SPEC's writes; returns the PRs and SPEC files of SPECs that failed,
        which the next cycle reads again."""
        failed_pulls: set[int] = set()
        failed_paths: set[str] = set()
        failed_threads: set[int] = set()
        for spec in plan.specs:
            self.heartbeat()
            try:
                self._apply_spec(spec, report)
            except ServiceError as exc:
                report.failures.append(f"{spec.key}: {exc}")
                failed_pulls.update(spec.pulls)
                failed_pulls.update([spec.introducing_pr] if spec.introducing_pr else [])
                failed_threads.update([spec.thread_id] if spec.thread_id else [])
                failed_paths.update([spec.path] if spec.path else [])
                with self.sessions.begin() as session:
                    store.note_problem(session, ProblemNote(
                        "sync-failed", spec.key, f"sync of {spec.key} failed: {exc}"),
                        self.now, spec.spec_id)
        owners = {pr: spec.spec_id for spec in plan.specs
                  for pr in (*spec.pulls, spec.introducing_pr) if pr}
        with self.sessions.begin() as session:
            for number, state in plan.pulls.items():
                if number not in failed_pulls:
                    store.save_pull(session, state, owners.get(number))
            for topic, thread in plan.threads.items():
                if topic not in failed_threads:
                    store.save_thread(session, thread)
            for note in plan.problems:
                store.note_problem(session, note, self.now)
                report.problems.append(note.message)
        return failed_pulls, failed_paths

    def _apply_spec(self, spec: SpecPlan, report: CycleReport) -> None:
        created: dict[str, str] = {}
        for effect in spec.effects:
            if isinstance(effect, CommentOnPull) and "{thread_url}" in effect.body:
                topic = created.get(spec.link_from or "") or spec.thread_id
                effect = CommentOnPull(effect.key, effect.pr, effect.body.replace(
                    "{thread_url}", self.thread_url(int(topic)) if topic else "(none)"))
            remote_id = self._perform(effect, spec.spec_id, report)
            created[effect.key] = remote_id or ""
        if spec.link_from and created.get(spec.link_from):
            spec.thread_id = int(created[spec.link_from])
        with self.sessions.begin() as session:
            store.save_spec(session, spec, self.now)
            store.resolve_problem(session, "sync-failed", spec.key, self.now)
        report.add_outcome(spec)

    def _perform(self, effect: Effect, spec_id: int | None, report: CycleReport) -> str | None:
        with self.sessions() as session:
            done = store.effect_done(session, effect.key)
        if done is not None:
            return done.remote_id
        remote_id = self._write(effect)
        with self.sessions.begin() as session:
            store.record_effect(session, effect.key, _kind(effect), _target(effect), remote_id,
                                spec_id)
        report.actions.append(effect.describe())
        log.info("%s", effect.describe())
        return remote_id

    def _write(self, effect: Effect) -> str | None:
        """The remote write itself, skipped when the remote side already holds its marker."""
        tag = marker(effect.key)
        match effect:
            case ReplyOnThread(key, topic_id, body):
                found = self.forum.find_post_containing(topic_id, tag)
                return str(found or self.forum.reply(topic_id, with_marker(body, key)))
            case CommentOnPull(key, pr, body):
                found = self.repo.find_comment_containing(pr, tag)
                return str(found or self.repo.create_comment(pr, with_marker(body, key)))
            case CreateThread(key, title, body, category_id, tags):
                found = self.forum.find_own_topic(tag, title)
                if found:
                    return str(found)
                return str(self.forum.create_topic(title, with_marker(body, key), category_id,
                                                   tags).topic_id)
            case SetPullLabels(_, pr, add, remove):
                for name in add:
                    self.repo.add_label(pr, name)
                for name in remove:
                    self.repo.remove_label(pr, name)
                return None
            case SetThreadTags(_, topic_id, tags):
                self.forum.set_tags(topic_id, tags)
                return None
            case MoveThread(_, topic_id, category_id):
                self.forum.set_category(topic_id, category_id)
                return None
        raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover


def _kind(effect: Effect) -> str:
    return {ReplyOnThread: "reply", CommentOnPull: "comment", CreateThread: "topic",
            SetPullLabels: "label", SetThreadTags: "tag", MoveThread: "category"}[type(effect)]


def _target(effect: Effect) -> str:
    if isinstance(effect, SetPullLabels | CommentOnPull):
        return f"pr/{effect.pr}"
    if isinstance(effect, CreateThread):
        return f"category/{effect.category_id}"
    return f"topic/{effect.topic_id}"
