"""Reading the remembered state for the planner, and writing back what a cycle decided."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from forumsync.actions import ProblemNote, SpecPlan
from forumsync.manual_links import manual_links
from forumsync.models import (
    Cursor,
    Delivery,
    Effect,
    Link,
    Problem,
    PullRequest,
    Spec,
    SpecPull,
    StageEvent,
    Thread,
)
from forumsync.records import Activity
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StageSet, StoredState, ThreadState
from forumsync.timeutil import aware, utcnow

FIRST_SYNC = "first-sync"


def load_state(session: Session) -> StoredState:
    """Everything remembered, read as plain rows (not ORM objects: every cycle reads it all,
    and building thousands of tracked objects cost most of an idle cycle's CPU). Rows are
    unpacked, not read by attribute name, and timestamps only tested for presence are not
    parsed: at 3,000 SPECs these were a tenth of an idle cycle."""
    rows = session.execute(
        select(Spec.id, Spec.stage, Spec.number, Spec.title, Spec.introducing_pr, Spec.path,
               Link.thread_id, Link.method, Spec.is_draft, Spec.endorsed_by,
               Spec.last_activity_at, Spec.last_actor, Spec.lost_thread_id,
               Spec.history_read_at.is_not(None), Spec.history_discussion)
        .outerjoin(Link, Link.spec_id == Spec.id).order_by(Spec.id)).all()
    first = session.get(Cursor, FIRST_SYNC)
    stage_sets = _stage_sets(session)
    owners: dict[int, list[int]] = {}
    for spec_id, number in session.execute(select(SpecPull.spec_id, SpecPull.pr_number)):
        owners.setdefault(number, []).append(spec_id)
    specs = tuple(
        SpecState(
            id=spec_id, stage=_stage(stage), number=number, title=title,
            introducing_pr=introducing_pr, path=path, thread_id=thread_id, link_method=method,
            is_draft=is_draft, endorsed_by=tuple(endorsed_by or ()),
            last_activity=Activity(aware(active_at), actor or "", "") if active_at else None,
            stage_set=stage_sets.get(spec_id), lost_thread_id=lost_thread_id,
            history_read=bool(history_read), history_discussion=history_discussion,
        )
        for (spec_id, stage, number, title, introducing_pr, path, thread_id, method, is_draft,
             endorsed_by, active_at, actor, lost_thread_id, history_read, history_discussion)
        in rows
    )
    pulls = {
        number: PullState(number, state, tuple(labels or ()), tuple(sorted(owners.get(number, ()))),
                          aware(updated_at) if updated_at else None, head_sha)
        for number, state, labels, updated_at, head_sha in session.execute(select(
            PullRequest.number, PullRequest.state, PullRequest.labels, PullRequest.updated_at,
            PullRequest.head_sha))
    }
    threads = {
        topic: ThreadState(topic, tuple(tags or ()), category_id, slug, title,
                           aware(posted_at) if posted_at else None, revision or 1, bool(deleted))
        for topic, tags, category_id, slug, title, posted_at, revision, deleted
        in session.execute(select(
            Thread.id, Thread.tags, Thread.category_id, Thread.slug, Thread.title,
            Thread.last_posted_at, Thread.revision, Thread.deleted_at.is_not(None)))
    }
    return StoredState(
        specs=specs, pulls=pulls, threads=threads, manual_links=manual_links(session),
        first_sync_at=datetime.fromisoformat(first.value) if first and first.value else None,
    )


_STAGES = {stage.value: stage for stage in Stage}


def _stage(value: str) -> Stage:
    """`Stage(value)` from a dictionary (the enum's own lookup costs more than the row)."""
    return _STAGES.get(value) or Stage(value)


SETTING_OUTCOMES = ("mirrored", "initial", "retired", "restored", "confirmed")


def _stage_sets(session: Session) -> dict[int, StageSet]:
    """Per SPEC, the latest change that set its stage (ignored changes set nothing)."""
    rows = session.execute(
        select(StageEvent.spec_id, StageEvent.actor, StageEvent.outcome, StageEvent.reason,
               StageEvent.authority, StageEvent.from_stage)
        .where(StageEvent.outcome.in_(SETTING_OUTCOMES)).order_by(StageEvent.id))
    return {spec_id: StageSet(actor or "", outcome, reason or "", authority or "",
                              _stage(before) if before else None)
            for spec_id, actor, outcome, reason, authority, before in rows}


# --- cursors ---------------------------------------------------------------------------------


def get_cursor(session: Session, name: str) -> Cursor | None:
    return session.get(Cursor, name)


def pulls_named_by_pending_deliveries(session: Session) -> frozenset[int]:
    """PRs that GitHub webhook deliveries no cycle has handled yet name (`pr-N`)."""
    subjects = session.scalars(select(Delivery.subject).where(
        Delivery.source == "github", Delivery.processed_at.is_(None),
        Delivery.subject.startswith("pr-")))
    return frozenset(int(s[3:]) for s in subjects if s[3:].isascii() and s[3:].isdigit())


def set_cursor(session: Session, name: str, value: str | None, etag: str | None = None) -> None:
    row = session.get(Cursor, name) or Cursor(name=name)
    row.value, row.etag, row.updated_at = value, etag, utcnow()
    session.add(row)


# --- the effects ledger ------------------------------------------------------------------------


def effect_done(session: Session, key: str) -> Effect | None:
    return session.scalar(select(Effect).where(Effect.key == key))


def effects_by_key(session: Session, keys: list[str]) -> dict[str, Effect | None]:
    """The ledger's row for each of `keys` (None: no write under it yet), in a few reads
    rather than one per key."""
    return dict.fromkeys(keys) | rows_by(session, Effect.key, keys)


def record_effect(session: Session, key: str, kind: str, target: str, remote_id: str | None,
                  spec_id: int | None) -> None:
    session.add(Effect(key=key, kind=kind, target=target, remote_id=remote_id, spec_id=spec_id,
                       created_at=utcnow()))


# --- writing a SPEC's plan back ------------------------------------------------------------------


def save_spec(session: Session, plan: SpecPlan, now: datetime) -> Spec:
    """Upsert the SPEC, its link, its stage history and its problems."""
    for absorbed in plan.absorbs:
        _merge_into(session, absorbed, plan.spec_id)
    spec = session.get(Spec, plan.spec_id) if plan.spec_id else None
    new = spec is None  # then no link or PR refers to it yet (foreign keys): none is read
    if spec is None:
        spec = Spec(created_at=now)
        session.add(spec)
    before = spec.stage
    spec.stage = plan.stage.value
    spec.number, spec.title = plan.number, plan.title[:300]
    spec.introducing_pr, spec.path = plan.introducing_pr, plan.path
    spec.is_draft, spec.endorsed_by = plan.is_draft, list(plan.endorsed_by)
    if plan.last_activity is not None:
        spec.last_activity_at = plan.last_activity.at
        spec.last_actor = plan.last_activity.actor[:100]
    if before != spec.stage:
        spec.stage_changed_at = now
    spec.lost_thread_id = plan.lost_thread_id
    if plan.history_read and spec.history_read_at is None:
        spec.history_read_at, spec.history_discussion = now, plan.history_discussion
    session.flush()
    plan.spec_id = spec.id
    _save_link(session, spec, plan, now, new)
    owned = set() if new else set(
        session.scalars(select(SpecPull.pr_number).where(SpecPull.spec_id == spec.id)))
    for number in {*plan.pulls, *([plan.introducing_pr] if plan.introducing_pr else [])} - owned:
        session.execute(insert(SpecPull).values(spec_id=spec.id, pr_number=number))
    for change in plan.changes:
        session.add(StageEvent(
            spec_id=spec.id, from_stage=change.from_stage.value if change.from_stage else None,
            to_stage=change.to_stage.value, actor=change.actor, side=change.side,
            occurred_at=change.occurred_at, outcome=change.outcome, reason=change.reason,
            authority=change.authority))
    for note in plan.problems:
        note_problem(session, note, now, spec.id)
    return spec


def _save_link(session: Session, spec: Spec, plan: SpecPlan, now: datetime,
               new: bool = False) -> None:
    link = None if new else session.scalar(select(Link).where(Link.spec_id == spec.id))
    if plan.thread_id is None:
        if link is not None:
            session.delete(link)
        return
    if session.get(Thread, plan.thread_id) is None:
        session.add(Thread(id=plan.thread_id, tags=[]))
        session.flush()  # links has no ORM relationship to threads: insert the thread first
    if link is None:
        link = Link(spec_id=spec.id, created_at=now)
        session.add(link)
    link.thread_id, link.method = plan.thread_id, plan.link_method or "manual"
    session.flush()


def link_created_thread(session: Session, spec_id: int, topic: int, now: datetime) -> None:
    """A thread the service opened on a retry becomes its SPEC's link, if it has none."""
    if session.scalar(select(Link).where(Link.spec_id == spec_id)) is not None or \
            session.get(Spec, spec_id) is None:
        return
    if session.get(Thread, topic) is None:
        session.add(Thread(id=topic, tags=[]))
        session.flush()
    session.add(Link(spec_id=spec_id, thread_id=topic, method="created", created_at=now))


def _merge_into(session: Session, old_id: int, new_id: int | None) -> None:
    """An idea SPEC absorbed by the SPEC of its PR: history moves, the idea row goes."""
    if new_id is None:
        return
    session.execute(delete(Link).where(Link.spec_id == old_id))
    taken = set(session.scalars(select(SpecPull.pr_number).where(SpecPull.spec_id == new_id)))
    session.execute(delete(SpecPull).where(SpecPull.spec_id == old_id,
                                           SpecPull.pr_number.in_(taken)))
    session.execute(update(SpecPull).where(SpecPull.spec_id == old_id).values(spec_id=new_id))
    for model in (StageEvent, Problem, Effect):
        session.execute(update(model).where(model.spec_id == old_id).values(spec_id=new_id))
    session.execute(update(PullRequest).where(PullRequest.spec_id == old_id)
                    .values(spec_id=new_id))
    session.execute(delete(Spec).where(Spec.id == old_id))
    session.flush()


def save_pulls(session: Session, pulls: list[tuple[PullState, int | None]]) -> None:
    """Remember PRs as last seen (labels after the service's own changes) and their SPECs.
    Their rows are read a chunk at a time, not one query per PR."""
    rows = rows_by(session, PullRequest.number, [state.number for state, _ in pulls])
    for state, spec_id in pulls:
        row = rows.get(state.number) or PullRequest(number=state.number)
        row.state, row.labels = state.state, list(state.labels)
        row.spec_id = spec_id or row.spec_id
        row.updated_at = state.updated_at or row.updated_at
        row.head_sha = state.head_sha or row.head_sha
        session.add(row)


def pulls_seen_at(session: Session, updated: Mapping[int, datetime]) -> None:
    """PR -> updated_at: changed by nothing but what the service already remembers. A PR
    with no row (deleted by hand meanwhile) is left alone."""
    if updated:
        table = PullRequest.__table__
        session.execute(update(table).where(table.c.number == bindparam("pr"))
                        .values(updated_at=bindparam("at")),
                        [{"pr": number, "at": at} for number, at in updated.items()])


def save_threads(session: Session, threads: list[ThreadState]) -> None:
    """Remember threads as last seen; their rows are read a chunk at a time."""
    rows = rows_by(session, Thread.id, [state.id for state in threads])
    for state in threads:
        row = rows.get(state.id) or Thread(id=state.id)
        row.tags, row.category_id = list(state.tags), state.category_id
        row.slug, row.title = state.slug[:300], state.title[:300]
        row.last_posted_at, row.revision = state.last_posted_at, state.revision
        if not state.deleted:
            row.deleted_at = None
        elif row.deleted_at is None:
            row.deleted_at = utcnow()
        session.add(row)


def rows_by(session: Session, column: Any, keys: list[Any], chunk: int = 500,
            ) -> dict[Any, Any]:
    """The existing rows whose unique `column` is one of `keys`, by that value: a query
    per `chunk` keys instead of one per key."""
    found: dict[Any, Any] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), chunk):
        part = unique[start:start + chunk]
        for row in session.scalars(select(column.class_).where(column.in_(part))):
            found[getattr(row, column.key)] = row
    return found


def resolve_problem(session: Session, kind: str, subject: str, now: datetime) -> None:
    """Resolve the open problem `kind` about `subject`, if any. Nearly always there is none:
    a plain read says so for half the CPU of an ORM update (which keeps the session's
    objects in step), and the update runs only when there is one."""
    is_open = (Problem.kind == kind, Problem.subject == subject, Problem.resolved_at.is_(None))
    if session.scalar(select(Problem.id).where(*is_open).limit(1)) is not None:
        session.execute(update(Problem).where(*is_open).values(resolved_at=now))


def note_problem(session: Session, note: ProblemNote, now: datetime,
                 spec_id: int | None = None) -> None:
    """Record a problem once; seeing it again bumps its count, or reopens it at 1. A SPEC id
    with no row (its SPEC's save was rolled back) is not kept: the problem still is."""
    if spec_id is not None and session.get(Spec, spec_id) is None:
        spec_id = None
    row = session.scalar(select(Problem).where(Problem.kind == note.kind,
                                               Problem.subject == note.subject[:200]))
    if row is None:
        session.add(Problem(kind=note.kind, subject=note.subject[:200], message=note.message,
                            scope=note.scope[:200], spec_id=spec_id, first_seen=now,
                            last_seen=now, count=1))
        session.flush()
        return
    row.count = 1 if row.resolved_at is not None else row.count + 1  # consecutive sightings
    row.last_seen, row.message, row.resolved_at = now, note.message, None
    row.scope = note.scope[:200]
    row.spec_id = spec_id or row.spec_id
    session.flush()


def heal(session: Session, scopes: set[str], raised: set[tuple[str, str]], now: datetime,
         failed_specs: set[int] = frozenset()) -> int:
    """Resolve the open problems whose source (`scope`) was read again this cycle without
    raising them: a clash renumbered, a link fixed, a thread restored. The problems of a
    SPEC whose cycle failed stand. Returns how many were resolved."""
    if not scopes:
        return 0
    healed = 0
    rows = session.scalars(select(Problem).where(Problem.resolved_at.is_(None),
                                                 Problem.scope.in_(sorted(scopes))))
    rows = [r for r in rows if r.spec_id is None or r.spec_id not in failed_specs]
    for row in rows:
        if (row.kind, row.subject) not in raised:
            row.resolved_at = now
            healed += 1
    return healed


def resolve_reported(session: Session, kinds: tuple[str, ...], until: datetime) -> None:
    """Problems that are events (an ignored change, a dropped write) stand until a digest
    has told the committee about them."""
    session.execute(update(Problem).where(Problem.kind.in_(kinds), Problem.resolved_at.is_(None),
                                          Problem.last_seen <= until)
                    .values(resolved_at=until))


# --- refused writes ------------------------------------------------------------------------------


def record_held(session: Session, key: str, kind: str, target: str, spec_id: int | None,
                payload: dict, error: str, status: str, next_attempt_at: datetime | None,
                attempts: int = 1) -> Effect:
    """A write that could not be made: `failed` or `refused`, kept to retry at
    `next_attempt_at`, or `dropped`."""
    row = session.scalar(select(Effect).where(Effect.key == key)) or Effect(
        key=key, kind=kind, target=target, spec_id=spec_id, created_at=utcnow())
    row.status = status
    row.attempts, row.next_attempt_at = attempts, next_attempt_at
    row.payload, row.error = payload, error[:2000]
    session.add(row)
    return row


def attach_effects(session: Session, keys: list[str], spec_id: int | None) -> None:
    """A new SPEC's id reaches the writes made (or refused) before it was first saved, and
    the problems they raised, so `status` shows them with their SPEC."""
    if spec_id is None or not keys:
        return
    session.execute(update(Effect).where(Effect.key.in_(keys), Effect.spec_id.is_(None))
                    .values(spec_id=spec_id))
    session.execute(update(Problem).where(Problem.subject.in_(keys), Problem.spec_id.is_(None))
                    .values(spec_id=spec_id))


def due_retries(session: Session, now: datetime) -> list[Effect]:
    rows = session.scalars(select(Effect).where(Effect.status.in_(("failed", "refused")))
                           .order_by(Effect.id)).all()
    return [r for r in rows if r.next_attempt_at is None or aware(r.next_attempt_at) <= now]
