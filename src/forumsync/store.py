"""Reading the remembered state for the planner, and writing back what a cycle decided."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from forumsync.actions import ProblemNote, SpecPlan
from forumsync.manual_links import manual_links
from forumsync.models import (
    Cursor,
    Effect,
    Link,
    Problem,
    PullRequest,
    Spec,
    StageEvent,
    Thread,
)
from forumsync.records import Activity
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StoredState, ThreadState
from forumsync.timeutil import aware, utcnow

FIRST_SYNC = "first-sync"


def load_state(session: Session) -> StoredState:
    specs = session.scalars(select(Spec).options(selectinload(Spec.link))).all()
    first = session.get(Cursor, FIRST_SYNC)
    return StoredState(
        specs=tuple(
            SpecState(
                id=s.id, stage=Stage(s.stage), number=s.number, title=s.title,
                introducing_pr=s.introducing_pr, path=s.path,
                thread_id=s.link.thread_id if s.link else None,
                link_method=s.link.method if s.link else None,
                is_draft=s.is_draft, endorsed_by=tuple(s.endorsed_by or ()),
                last_activity=Activity(aware(s.last_activity_at), s.last_actor or "", "")
                if s.last_activity_at else None,
            )
            for s in specs
        ),
        pulls={
            p.number: PullState(p.number, p.state, tuple(p.labels or ()), p.spec_id,
                                aware(p.updated_at) if p.updated_at else None, p.head_sha)
            for p in session.scalars(select(PullRequest))
        },
        threads={
            t.id: ThreadState(t.id, tuple(t.tags or ()), t.category_id, t.slug, t.title,
                              aware(t.last_posted_at) if t.last_posted_at else None,
                              t.revision or 1)
            for t in session.scalars(select(Thread))
        },
        manual_links=manual_links(session),
        first_sync_at=datetime.fromisoformat(first.value) if first and first.value else None,
    )


# --- cursors ---------------------------------------------------------------------------------


def get_cursor(session: Session, name: str) -> Cursor | None:
    return session.get(Cursor, name)


def set_cursor(session: Session, name: str, value: str | None, etag: str | None = None) -> None:
    row = session.get(Cursor, name) or Cursor(name=name)
    row.value, row.etag, row.updated_at = value, etag, utcnow()
    session.add(row)


# --- the effects ledger ------------------------------------------------------------------------


def effect_done(session: Session, key: str) -> Effect | None:
    return session.scalar(select(Effect).where(Effect.key == key))


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
    session.flush()
    plan.spec_id = spec.id
    _save_link(session, spec, plan, now)
    for change in plan.changes:
        session.add(StageEvent(
            spec_id=spec.id, from_stage=change.from_stage.value if change.from_stage else None,
            to_stage=change.to_stage.value, actor=change.actor, side=change.side,
            occurred_at=change.occurred_at, outcome=change.outcome, reason=change.reason))
    for note in plan.problems:
        note_problem(session, note, now, spec.id)
    return spec


def _save_link(session: Session, spec: Spec, plan: SpecPlan, now: datetime) -> None:
    link = session.scalar(select(Link).where(Link.spec_id == spec.id))
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


def _merge_into(session: Session, old_id: int, new_id: int | None) -> None:
    """An idea SPEC absorbed by the SPEC of its PR: history moves, the idea row goes."""
    if new_id is None:
        return
    session.execute(delete(Link).where(Link.spec_id == old_id))
    for model in (StageEvent, Problem, Effect):
        session.execute(update(model).where(model.spec_id == old_id).values(spec_id=new_id))
    session.execute(update(PullRequest).where(PullRequest.spec_id == old_id)
                    .values(spec_id=new_id))
    session.execute(delete(Spec).where(Spec.id == old_id))
    session.flush()


def save_pull(session: Session, state: PullState, spec_id: int | None = None) -> None:
    """Remember a PR as last seen (labels after the service's own changes) and its SPEC."""
    row = session.get(PullRequest, state.number) or PullRequest(number=state.number)
    row.state, row.labels = state.state, list(state.labels)
    row.spec_id = spec_id or row.spec_id
    row.updated_at = state.updated_at or row.updated_at
    row.head_sha = state.head_sha or row.head_sha
    session.add(row)


def save_thread(session: Session, state: ThreadState) -> None:
    row = session.get(Thread, state.id) or Thread(id=state.id)
    row.tags, row.category_id = list(state.tags), state.category_id
    row.slug, row.title = state.slug[:300], state.title[:300]
    row.last_posted_at, row.revision = state.last_posted_at, state.revision
    session.add(row)


def resolve_problem(session: Session, kind: str, subject: str, now: datetime) -> None:
    session.execute(update(Problem).where(Problem.kind == kind, Problem.subject == subject,
                                          Problem.resolved_at.is_(None))
                    .values(resolved_at=now))


def note_problem(session: Session, note: ProblemNote, now: datetime,
                 spec_id: int | None = None) -> None:
    """Record a problem once; seeing it again bumps its count, or reopens it at 1."""
    row = session.scalar(select(Problem).where(Problem.kind == note.kind,
                                               Problem.subject == note.subject[:200]))
    if row is None:
        session.add(Problem(kind=note.kind, subject=note.subject[:200], message=note.message,
                            spec_id=spec_id, first_seen=now, last_seen=now, count=1))
        return
    row.count = 1 if row.resolved_at is not None else row.count + 1  # consecutive sightings
    row.last_seen, row.message, row.resolved_at = now, note.message, None
    row.spec_id = spec_id or row.spec_id
