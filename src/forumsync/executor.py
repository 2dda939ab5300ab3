"""Carrying out a plan: each write at most once, then remembering what was done.

Order matters for crash safety. For each SPEC the remote writes go first, each recorded in
the ledger as soon as it is made; the SPEC's new state is committed only after all of them.
A crash anywhere leaves the old state in the database, so the next cycle plans the same
writes under the same keys, and finds each one either in the ledger or, when the ledger lost
it, on the remote side by its key (a hidden marker, or a new topic's external id).

A write the remote side refuses for good (a 4xx) holds back nothing else of its SPEC: it is
reported, kept in the ledger and retried with backoff, and dropped with a report when its
target is gone (404) or after `MAX_ATTEMPTS`. Only a transient failure (5xx, timeout, rate
limit) fails the SPEC as a whole, to be planned and applied again next cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
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
from forumsync.errors import NotFound, ServiceError, backoff_delay
from forumsync.markers import marker, with_marker
from forumsync.models import Effect as LedgerRow
from forumsync.records import CommentRecord, ForumPost

if TYPE_CHECKING:
    from forumsync.forum import ForumClient
    from forumsync.repo import RepoClient

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
HELD_KINDS = ("write-refused", "write-failed", "write-waiting")
RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(days=1)
EFFECT_TYPES = {t.__name__: t for t in (SetPullLabels, SetThreadTags, MoveThread, ReplyOnThread,
                                         CommentOnPull, CreateThread)}


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
        read_posts: Mapping[int, Sequence[ForumPost]] | None = None,
        read_comments: Mapping[int, Sequence[CommentRecord]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.forum = forum
        self.repo = repo
        self.thread_url = thread_url
        self.now = now
        self.heartbeat = heartbeat or (lambda: None)
        # topic -> its posts as this cycle read them: the worker is the only writer of its
        # markers, so a key not among them is not on the forum (no second read to check)
        self.read_posts = read_posts or {}
        self.read_comments = read_comments or {}  # PR -> its comments, likewise
        # the ledger's rows for the plan's keys, read in one go once due retries are done;
        # a key this cycle records or holds is dropped, and read from the database again
        self.read_ahead: dict[str, LedgerRow | None] = {}

    def apply(self, plan: Plan, report: CycleReport) -> tuple[set[int], set[str]]:
        """Retry held writes that are due, then apply every SPEC's writes; returns the PRs
        and SPEC files of SPECs that failed, which the next cycle reads again."""
        self.forum.take_replies()  # a cycle that crashed left these
        self.retry_held(report)
        with self.sessions() as session:
            self.read_ahead = store.effects_by_key(
                session, [effect.key for spec in plan.specs for effect in spec.effects])
        failed_pulls: set[int] = set()
        failed_paths: set[str] = set()
        failed_threads: set[int] = set()
        failed_specs: set[int] = set()
        scopes, raised = set(plan.scopes), {(n.kind, n.subject[:200]) for n in plan.problems}
        for spec in plan.specs:
            self.heartbeat()
            known_id = spec.spec_id  # a new SPEC's id is gone again if its save rolls back
            try:
                self._apply_spec(spec, report)
            except Exception as exc:  # a bug or the database: this SPEC fails, not the cycle
                spec.spec_id = known_id
                log.exception("applying %s failed", spec.key)
                report.failures.append(f"{spec.key}: {type(exc).__name__}: {exc}"[:500])
                failed_pulls.update(spec.pulls)
                failed_pulls.update([spec.introducing_pr] if spec.introducing_pr else [])
                failed_threads.update([spec.thread_id] if spec.thread_id else [])
                failed_paths.update([spec.path] if spec.path else [])
                failed_specs.update([spec.spec_id] if spec.spec_id else [])
                with self.sessions.begin() as session:
                    store.note_problem(session, ProblemNote(
                        "sync-failed", spec.key, f"sync of {spec.key} failed: "
                        f"{type(exc).__name__}"), self.now, spec.spec_id)
                continue
            scopes |= spec.scopes
            raised |= {(n.kind, n.subject[:200]) for n in spec.problems}
        self._remember_own_replies(plan, failed_threads)
        owners = {pr: spec.spec_id for spec in plan.specs
                  for pr in (*spec.pulls, spec.introducing_pr) if pr}
        with self.sessions.begin() as session:
            store.save_pulls(session, [(state, owners.get(number))
                                       for number, state in plan.pulls.items()
                                       if number not in failed_pulls])
            store.save_threads(session, [thread for topic, thread in plan.threads.items()
                                         if topic not in failed_threads])
            for note in plan.problems:
                store.note_problem(session, note, self.now)
                report.problems.append(note.message)
            store.heal(session, scopes, raised, self.now, failed_specs)
        return failed_pulls, failed_paths

    def _remember_own_replies(self, plan: Plan, failed_threads: set[int]) -> None:
        """What this cycle's own replies left on a thread is remembered as seen, so the next
        cycle does not read it back: a thread's last post time only when the service's replies
        are the posts right after the highest one read this cycle (a person's reply in between
        leaves a gap in the numbers, and the thread is read again). PRs: forumsync.echo."""
        for topic, replies in self.forum.take_replies().items():
            thread = plan.threads.get(topic)
            if thread is None or topic in failed_threads or thread.highest_post is None:
                continue
            highest, last = thread.highest_post, None
            for number, at in sorted(replies):
                if number != highest + 1:
                    break
                highest, last = number, at
            else:
                if last is not None:
                    plan.threads[topic] = replace(thread, last_posted_at=last,
                                                  highest_post=highest)

    def _apply_spec(self, spec: SpecPlan, report: CycleReport) -> None:
        created: dict[str, str] = {}
        for effect in spec.effects:
            if isinstance(effect, CommentOnPull) and "{thread_url}" in effect.body:
                topic = created.get(spec.link_from or "") or spec.thread_id
                if not topic:  # its thread could not be opened yet: the comment waits
                    self._hold(effect, spec.spec_id, report, "it waits for its thread",
                               waiting=True, link_from=spec.link_from)
                    continue
                effect = _with_thread_url(effect, self.thread_url(int(topic)))
            remote_id = self._perform(effect, spec.spec_id, report)
            created[effect.key] = remote_id or ""
        if spec.link_from and created.get(spec.link_from):
            spec.thread_id = int(created[spec.link_from])
        elif spec.link_from:
            spec.thread_id, spec.link_method = None, None  # linked once its thread is opened
        with self.sessions.begin() as session:
            store.save_spec(session, spec, self.now)
            store.resolve_problem(session, "sync-failed", spec.key, self.now)
            store.attach_effects(session, [e.key for e in spec.effects], spec.spec_id)
        report.add_outcome(spec)

    def _perform(self, effect: Effect, spec_id: int | None, report: CycleReport,
                 ) -> str | None:
        """Write once per key; a write that fails is held for a later retry, and the rest
        of the SPEC goes on."""
        if effect.key in self.read_ahead:
            done = self.read_ahead[effect.key]
        else:
            with self.sessions() as session:
                done = store.effect_done(session, effect.key)
        if done is not None:
            return done.remote_id if done.status == "done" else None
        try:
            remote_id = self._write(effect)
        except ServiceError as exc:
            self._hold(effect, spec_id, report, str(exc), transient=exc.transient,
                       gone=isinstance(exc, NotFound))
            return None
        self.read_ahead.pop(effect.key, None)
        with self.sessions.begin() as session:
            store.record_effect(session, effect.key, _kind(effect), _target(effect), remote_id,
                                spec_id)
        report.actions.append(effect.describe())
        log.info("%s", effect.describe())
        return remote_id

    def _hold(self, effect: Effect, spec_id: int | None, report: CycleReport, error: str, *,
              attempts: int = 1, transient: bool = False, gone: bool = False,
              waiting: bool = False, link_from: str | None = None) -> None:
        """Keep a write that could not be made. A transient failure is tried again next
        cycle (reported as a failure); a refusal with backoff; it is dropped when its
        target is gone or after MAX_ATTEMPTS refusals."""
        dropped = gone or (not transient and not waiting and attempts >= MAX_ATTEMPTS)
        wait = timedelta(0) if transient or waiting else timedelta(seconds=backoff_delay(
            attempts - 1, RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds()))
        status = "dropped" if dropped else "failed" if transient or waiting else "refused"
        payload = effect_payload(effect) | ({"link_from": link_from} if link_from else {})
        self.read_ahead.pop(effect.key, None)
        with self.sessions.begin() as session:
            store.record_held(session, effect.key, _kind(effect), _target(effect), spec_id,
                              payload, error, status, None if dropped else self.now + wait,
                              attempts)
            for kind in HELD_KINDS:
                store.resolve_problem(session, kind, effect.key, self.now)
            if dropped:
                why = "its target is gone" if gone else f"refused {attempts} times"
                note = ProblemNote("write-dropped", effect.key,
                                   f"{effect.describe()} was dropped ({why}): {error}")
            elif waiting:
                note = ProblemNote("write-waiting", effect.key,
                                   f"{effect.describe()} waits: {error}")
            elif transient:
                note = ProblemNote("write-failed", effect.key,
                                   f"{effect.describe()} failed (attempt {attempts}; tried "
                                   f"again next cycle): {error}")
            else:
                note = ProblemNote("write-refused", effect.key,
                                   f"{effect.describe()} was refused (attempt {attempts}, next "
                                   f"in {_span(wait)}): {error}")
            store.note_problem(session, note, self.now, spec_id)
        (report.failures if transient else report.problems).append(note.message)
        log.warning("%s", note.message)

    def retry_held(self, report: CycleReport) -> None:
        """Try again the held writes whose time has come."""
        with self.sessions() as session:
            due = store.due_retries(session, self.now)
        for row in due:
            effect = effect_from_payload(row.payload or {})
            if isinstance(effect, CommentOnPull) and "{thread_url}" in effect.body:
                with self.sessions() as session:
                    thread = store.effect_done(session, (row.payload or {}).get("link_from", ""))
                if thread is not None and thread.status == "dropped":
                    self._hold(effect, row.spec_id, report, "its thread was never opened",
                               attempts=row.attempts, gone=True)
                    continue
                if thread is None or thread.status != "done" or not thread.remote_id:
                    continue  # its thread is not there yet
                effect = _with_thread_url(effect, self.thread_url(int(thread.remote_id)))
            try:
                remote_id = self._write(effect)
            except ServiceError as exc:
                self._hold(effect, row.spec_id, report, str(exc), attempts=row.attempts + 1,
                           transient=exc.transient, gone=isinstance(exc, NotFound))
                continue
            with self.sessions.begin() as session:
                done = store.effect_done(session, row.key)
                done.status, done.remote_id, done.next_attempt_at = "done", remote_id, None
                for kind in HELD_KINDS:
                    store.resolve_problem(session, kind, row.key, self.now)
                if isinstance(effect, CreateThread) and row.spec_id and remote_id:
                    store.link_created_thread(session, row.spec_id, int(remote_id), self.now)
            report.actions.append(effect.describe())
            log.info("%s (retried)", effect.describe())

    def _write(self, effect: Effect) -> str | None:
        """The remote write itself, skipped when the remote side already holds its key."""
        tag = marker(effect.key)
        match effect:
            case ReplyOnThread(key, topic_id, body):
                found = self.forum.find_post_containing(topic_id, tag,
                                                        self.read_posts.get(topic_id))
                return str(found or self.forum.reply(topic_id, with_marker(body, key)))
            case CommentOnPull(key, pr, body):
                found = self.repo.find_comment_containing(pr, tag, self.read_comments.get(pr))
                return str(found or self.repo.create_comment(pr, with_marker(body, key)))
            case CreateThread(key, title, body, category_id, tags):
                found = self.forum.topic_by_external_id(external_id(key))
                if found:
                    return str(found)
                return str(self.forum.create_topic(title, with_marker(body, key), category_id,
                                                   tags, external_id=external_id(key)).topic_id)
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


def external_id(key: str) -> str:
    """A topic's stable id on Discourse: the service's idea of it, never its title."""
    return "forumsync-" + key.replace(":", "-")


def effect_payload(effect: Effect) -> dict:
    return {"type": type(effect).__name__, **asdict(effect)}


def effect_from_payload(payload: dict) -> Effect:
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in payload.items()
              if k not in ("type", "link_from")}
    return EFFECT_TYPES[payload["type"]](**fields)


def _with_thread_url(effect: CommentOnPull, url: str) -> CommentOnPull:
    return CommentOnPull(effect.key, effect.pr, effect.body.replace("{thread_url}", url))


def _span(wait: timedelta) -> str:
    minutes = int(wait.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def _kind(effect: Effect) -> str:
    return {ReplyOnThread: "reply", CommentOnPull: "comment", CreateThread: "topic",
            SetPullLabels: "label", SetThreadTags: "tag", MoveThread: "category"}[type(effect)]


def _target(effect: Effect) -> str:
    if isinstance(effect, SetPullLabels | CommentOnPull):
        return f"pr/{effect.pr}"
    if isinstance(effect, CreateThread):
        return f"category/{effect.category_id}"
    return f"topic/{effect.topic_id}"
