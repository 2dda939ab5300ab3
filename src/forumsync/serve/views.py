"""What the dashboard and its JSON API show, read from the database only (never a remote).

One dict per SPEC for the table and one per SPEC page; the HTML templates and `/api/...`
render the same data, so the two never disagree. Field names are the API's contract
(README: "The dashboard's JSON").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from forumsync import digest as digests
from forumsync.config import Config
from forumsync.models import Effect, Problem, Spec, SpecPull, StageEvent
from forumsync.planner import PlanSettings
from forumsync.stages import Stage
from forumsync.timeutil import aware

STAGE_ORDER = [stage.value for stage in Stage]  # idea … endorsed, then withdrawn
ANNOUNCEMENTS = ("reply", "comment", "topic")  # effects that are posts or comments


def spec_key(spec: Spec) -> str:
    """A SPEC's name in URLs: its introducing PR (`pr-12`), else its thread (`t-34`), else
    its row (`id-5`, a SPEC known only from a file on the default branch)."""
    if spec.introducing_pr:
        return f"pr-{spec.introducing_pr}"
    if spec.link is not None:
        return f"t-{spec.link.thread_id}"
    return f"id-{spec.id}"


def find_spec(session: Session, key: str) -> Spec | None:
    kind, _, value = key.partition("-")
    if not (value.isascii() and value.isdigit() and len(value) <= 9):  # an INTEGER, not ²
        return None
    number = int(value)
    query = select(Spec).options(selectinload(Spec.link))
    if kind == "pr":
        return session.scalar(query.where(Spec.introducing_pr == number))
    if kind == "t":
        from forumsync.models import Link

        return session.scalar(query.join(Link).where(Link.thread_id == number))
    if kind == "id":
        return session.scalar(query.where(Spec.id == number))
    return None


def _iso(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment else None


def _summary(spec: Spec, problems: list[str], settings: PlanSettings, config: Config,
             now: datetime) -> dict[str, Any]:
    stage = Stage(spec.stage)
    thread = spec.link.thread_id if spec.link else None
    return {
        "key": spec_key(spec),
        "number": spec.number,
        "title": spec.title,
        "stage": spec.stage,
        "pr": spec.introducing_pr,
        "pr_url": settings.pull_url(spec.introducing_pr) if spec.introducing_pr else None,
        "thread": thread,
        "thread_url": settings.thread_url(thread) if thread else None,
        "last_activity": _iso(spec.last_activity_at),
        "last_actor": spec.last_actor,
        "idle_days": digests.days_idle(spec.last_activity_at, now),
        "stalled": digests.is_stalled(stage, spec.last_activity_at, now, config),
        "open_problems": problems,
    }


def spec_table(session: Session, config: Config, now: datetime,
               stage: str | None = None) -> list[dict[str, Any]]:
    """Every SPEC (or those in `stage`), by stage in process order, then longest idle."""
    settings = PlanSettings.from_config(config)
    query = select(Spec).options(selectinload(Spec.link))
    if stage:
        query = query.where(Spec.stage == stage)
    standing: dict[int, list[str]] = {}
    for problem in session.scalars(select(Problem).where(Problem.resolved_at.is_(None))
                                   .order_by(Problem.first_seen)):
        if problem.spec_id is not None:
            standing.setdefault(problem.spec_id, []).append(problem.message)
    rows = [_summary(spec, standing.get(spec.id, []), settings, config, now)
            for spec in session.scalars(query)]
    rows.sort(key=lambda r: (STAGE_ORDER.index(r["stage"]), -(r["idle_days"] or -1),
                             r["number"] or 0, r["key"]))
    return rows


def stage_counts(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(STAGE_ORDER, 0)
    for stage in session.scalars(select(Spec.stage)):
        counts[stage] = counts.get(stage, 0) + 1
    return counts


def spec_page(session: Session, spec: Spec, config: Config, now: datetime) -> dict[str, Any]:
    """One SPEC's lifecycle: every stage event, its problems (standing and resolved), its
    announcements (the service's posts and comments) and its lines in the next digest."""
    settings = PlanSettings.from_config(config)
    problems = session.scalars(select(Problem).where(Problem.spec_id == spec.id)
                               .order_by(Problem.first_seen)).all()
    page = _summary(spec, [p.message for p in problems if p.resolved_at is None], settings,
                    config, now)
    page["path"] = spec.path
    page["endorsed_by"] = list(spec.endorsed_by or [])
    pulls = sorted({p.number for p in spec.pulls} | set(session.scalars(
        select(SpecPull.pr_number).where(SpecPull.spec_id == spec.id))))
    page["pulls"] = [{"number": n, "url": settings.pull_url(n)} for n in pulls]
    page["events"] = [{
        "at": _iso(e.occurred_at), "from_stage": e.from_stage, "to_stage": e.to_stage,
        "actor": e.actor or None, "side": e.side, "outcome": e.outcome,
        "authority": e.authority or None, "reason": e.reason or None,
        "url": page["pr_url"] if e.side == "github" else page["thread_url"],
    } for e in session.scalars(select(StageEvent).where(StageEvent.spec_id == spec.id)
                               .order_by(StageEvent.occurred_at, StageEvent.id))]
    page["problems"] = [{
        "kind": p.kind, "message": p.message, "first_seen": _iso(p.first_seen),
        "last_seen": _iso(p.last_seen), "resolved_at": _iso(p.resolved_at),
    } for p in problems]
    page["announcements"] = [{
        "kind": e.kind, "at": _iso(e.created_at), "status": e.status,
        "url": _target_url(e.target, settings),
    } for e in session.scalars(select(Effect).where(Effect.spec_id == spec.id,
                                                    Effect.kind.in_(ANNOUNCEMENTS))
                               .order_by(Effect.created_at, Effect.id))]
    page["digest_lines"] = digest_lines(session, spec, config, now)
    return page


def _target_url(target: str, settings: PlanSettings) -> str | None:
    kind, _, value = target.partition("/")
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        return None
    return settings.pull_url(int(value)) if kind == "pr" else (
        settings.thread_url(int(value)) if kind == "topic" else None)


def digest_lines(session: Session, spec: Spec, config: Config, now: datetime) -> list[str]:
    """The lines of the next digest that are about this SPEC (sent digests keep no copy)."""
    return digests.collect(session, config, now).lines_about(spec.id)


def next_digest(session: Session, config: Config, now: datetime) -> dict[str, Any]:
    """The dry run of the digest, and when it goes out."""
    from apscheduler.triggers.cron import CronTrigger

    built = digests.collect(session, config, now)
    trigger = CronTrigger.from_crontab(config.schedule.digest_cron, timezone="UTC")
    sent = digests.already_sent(session, built)
    return {
        "period": built.key,
        "already_sent": sent,
        "empty": built.is_empty(),
        # the worker sends it when the cron fires next (and at its start, for a missed one)
        "sends_at": _iso(trigger.get_next_fire_time(None, now)),
        "markdown": "" if built.is_empty() else digests.render(built),
    }
