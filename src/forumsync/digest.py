"""The committee digest: what needs a nudge, gathered from the database and rendered for
Discourse. Collecting reads the database only; rendering is pure; sending is idempotent
(one digest per period of `schedule.digest_cron`, found again by its marker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from forumsync import store
from forumsync.config import Config
from forumsync.executor import external_id
from forumsync.markers import with_marker
from forumsync.models import DigestSent, Problem, Spec, StageEvent
from forumsync.planner import PlanSettings
from forumsync.safetext import markdown_text, safe_copy
from forumsync.stages import Stage
from forumsync.texts import side_name
from forumsync.timeutil import aware

if TYPE_CHECKING:
    from forumsync.forum import ForumClient

OPEN_STAGES = [Stage.IDEA, Stage.ACCEPTED, Stage.DRAFT, Stage.PUBLISHED]
# problems that are events: they stand until a digest has told the committee
REPORTED_ONCE = ("ignored-change", "conflict", "write-dropped")
KEEPS_FAILING = 2  # a SPEC whose sync failed this many cycles running is reported
# problems that stand until a person acts, each shown in the digest's last section
NEEDS_A_HAND = ("bad-link", "second-claimant", "thread-deleted", "bad-spec-file",
                "no-spec-file", "authority-unknown")


def days_idle(last_activity: datetime | None, now: datetime) -> int | None:
    return None if last_activity is None else (now - aware(last_activity)).days


def is_stalled(stage: Stage, last_activity: datetime | None, now: datetime,
               config: Config) -> bool:
    """Non-final, and no human activity on either side for the stage's threshold in days."""
    idle = days_idle(last_activity, now)
    return not stage.is_final and idle is not None and idle >= config.digest.stalled_after(stage)


@dataclass(frozen=True)
class DigestRow:
    name: str
    stage: Stage
    thread_url: str | None
    pr_url: str | None
    days: int | None
    last_actor: str = ""
    endorsed_by: tuple[str, ...] = ()
    spec_id: int | None = None


@dataclass
class Digest:
    period: datetime
    stalled: dict[Stage, list[DigestRow]] = field(default_factory=dict)
    waiting_ideas: list[DigestRow] = field(default_factory=list)
    short_of_endorsements: list[DigestRow] = field(default_factory=list)
    number_clashes: list[str] = field(default_factory=list)
    ignored_changes: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    other_problems: list[str] = field(default_factory=list)  # links, files, authority
    last_event_id: int = 0  # stage history up to here is covered by this digest
    notes_by_spec: dict[int, list[str]] = field(default_factory=dict)  # list lines, by SPEC

    def lines_about(self, spec_id: int) -> list[str]:
        """The digest's lines about one SPEC, found by its id (never by its title)."""
        rows = [(row, f"{row.days} days", True) for rows in self.stalled.values()
                for row in rows]
        rows += [(row, f"{row.days} days", False) for row in self.waiting_ideas]
        rows += [(row, markdown_text(", ".join(row.endorsed_by), 200) or "none yet", True)
                 for row in self.short_of_endorsements]
        return [table_line(_cells(row, measure, with_pr)) for row, measure, with_pr in rows
                if row.spec_id == spec_id] + self.notes_by_spec.get(spec_id, [])

    def is_empty(self) -> bool:
        return not (any(self.stalled.values()) or self.waiting_ideas or
                    self.short_of_endorsements or self.number_clashes or
                    self.ignored_changes or self.failing or self.other_problems)

    @property
    def key(self) -> str:
        return f"digest:{self.period:%Y-%m-%dT%H:%M}"


def current_period(cron: str, now: datetime) -> datetime:
    """The latest time `cron` fired at or before `now`: the period a digest belongs to."""
    trigger = CronTrigger.from_crontab(cron, timezone=UTC)
    for lookback in (timedelta(days=1), timedelta(days=8), timedelta(days=32),
                     timedelta(days=400)):
        fired, moment = None, trigger.get_next_fire_time(None, now - lookback)
        while moment is not None and moment <= now:
            fired, moment = moment, trigger.get_next_fire_time(moment, moment +
                                                                timedelta(seconds=1))
        if fired is not None:
            return fired
    return now  # a schedule that never fired in a year: the period starts now


def collect(session: Session, config: Config, now: datetime) -> Digest:
    """Everything the committee should see, from what the sync cycles recorded."""
    digest = Digest(period=current_period(config.schedule.digest_cron, now))
    seen_events = session.scalar(select(func.max(DigestSent.last_event_id))) or 0
    specs = session.scalars(select(Spec).options(selectinload(Spec.link))).all()
    settings = PlanSettings.from_config(config)
    names = {}
    for spec in specs:
        stage = Stage(spec.stage)
        row = _row(spec, stage, settings, now)
        names[spec.id] = row.name
        if is_stalled(stage, spec.last_activity_at, now, config):
            digest.stalled.setdefault(stage, []).append(row)
        if stage is Stage.PUBLISHED and len(row.endorsed_by) < 2:
            digest.short_of_endorsements.append(row)
    first_seen = dict(session.execute(
        select(StageEvent.spec_id, func.min(StageEvent.occurred_at)).group_by(StageEvent.spec_id)
    ).all())
    ideas = [spec for spec in specs if spec.stage == Stage.IDEA.value]
    ideas.sort(key=lambda s: aware(first_seen.get(s.id) or s.created_at))
    for spec in ideas[:10]:
        waiting = (now - aware(first_seen.get(spec.id) or spec.created_at)).days
        digest.waiting_ideas.append(
            DigestRow(names[spec.id], Stage.IDEA, _thread_url(spec, settings), None, waiting,
                      spec.last_actor or "", spec_id=spec.id))
    for stage in digest.stalled:
        digest.stalled[stage].sort(key=lambda r: -(r.days or 0))
    open_problems = session.scalars(select(Problem).where(Problem.resolved_at.is_(None))
                                    .order_by(Problem.first_seen)).all()
    digest.number_clashes = [p.message for p in open_problems if p.kind == "number-clash"]
    for problem in open_problems:
        if problem.kind == "sync-failed" and problem.count >= KEEPS_FAILING:
            section, line = digest.failing, f"{problem.message} ({problem.count} cycles)"
        elif problem.kind in ("write-refused", "write-failed", "write-dropped"):
            section, line = digest.failing, problem.message
        elif problem.kind in NEEDS_A_HAND:
            section, line = digest.other_problems, problem.message
        else:
            continue
        section.append(line)
        if problem.spec_id is not None:
            digest.notes_by_spec.setdefault(problem.spec_id, []).append(f"- {line}")
    events = select(StageEvent).where(StageEvent.outcome.in_(("ignored", "conflict")),
                                      StageEvent.id > seen_events)
    digest.last_event_id = session.scalar(select(func.max(StageEvent.id))) or 0
    for event in session.scalars(events.order_by(StageEvent.occurred_at)):
        who = f"@{event.actor}" if event.actor else "someone"
        line = (f"{names.get(event.spec_id, 'a SPEC')}: {event.outcome} — {who} set "
                f"{event.to_stage} on {side_name(event.side)} ({event.reason})")
        digest.ignored_changes.append(line)
        digest.notes_by_spec.setdefault(event.spec_id, []).append(f"- {line}")
    return digest


def _row(spec: Spec, stage: Stage, settings: PlanSettings, now: datetime) -> DigestRow:
    fallback = f"SPEC {spec.number}" if spec.number is not None else f"PR #{spec.introducing_pr}"
    pr = spec.introducing_pr
    return DigestRow(spec.title or fallback, stage, _thread_url(spec, settings),
                     settings.pull_url(pr) if pr else None,
                     days_idle(spec.last_activity_at, now), spec.last_actor or "",
                     tuple(spec.endorsed_by or ()), spec.id)


def _thread_url(spec: Spec, settings: PlanSettings) -> str | None:
    return settings.thread_url(spec.link.thread_id) if spec.link else None


# --- rendering ---------------------------------------------------------------------------------


def render(digest: Digest) -> str:
    """Markdown for Discourse: a heading and a table per non-empty section."""
    parts = [f"SPEC process digest for {digest.period:%Y-%m-%d}: what may need the "
             "committee's attention. Idle means no post, comment, review or commit by a "
             "person on either the thread or the pull request."]
    for stage in OPEN_STAGES:
        rows = digest.stalled.get(stage)
        if rows:
            parts.append(_table(f"Stalled: {stage.value}", ["SPEC", "thread", "PR", "idle",
                                                             "last active"],
                                [_cells(r, f"{r.days} days") for r in rows]))
    if digest.waiting_ideas:
        parts.append(_table("Ideas waiting longest for a committee decision",
                            ["idea", "thread", "waiting", "last active"],
                            [_cells(r, f"{r.days} days", with_pr=False)
                             for r in digest.waiting_ideas]))
    if digest.short_of_endorsements:
        parts.append(_table("Published, short of two Core Project endorsements",
                            ["SPEC", "thread", "PR", "endorsements", "last active"],
                            [_cells(r, markdown_text(", ".join(r.endorsed_by), 200) or "none yet")
                             for r in digest.short_of_endorsements]))
    for title, lines in (("SPEC numbers claimed twice", digest.number_clashes),
                         ("Stage changes ignored or in conflict", digest.ignored_changes),
                         ("Items whose sync keeps failing", digest.failing),
                         ("Other problems that stand", digest.other_problems)):
        if lines:
            parts.append(f"### {title}\n\n" + "\n".join(f"- {safe_copy(line, 400)}"
                                                         for line in lines))
    return "\n\n".join(parts) + "\n"


def _cells(row: DigestRow, measure: str, with_pr: bool = True) -> list[str]:
    thread = f"[t/{row.thread_url.rsplit('/', 1)[-1]}]({row.thread_url})" if row.thread_url \
        else "—"
    pr = f"[#{row.pr_url.rsplit('/', 1)[-1]}]({row.pr_url})" if row.pr_url else "—"
    who = markdown_text(f"@{row.last_actor}", 40) if row.last_actor else "—"
    return [markdown_text(row.name, 80), thread, *([pr] if with_pr else []), measure, who]


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += [table_line(row) for row in rows]
    return "\n".join(lines)


def table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


# --- sending -------------------------------------------------------------------------------------


def already_sent(session: Session, digest: Digest) -> bool:
    return session.scalar(select(DigestSent).where(DigestSent.period == digest.key)) is not None


def send(session: Session, digest: Digest, config: Config, forum: ForumClient,
         now: datetime) -> str | None:
    """Post the digest once for its period; returns the topic id, or None if not sent."""
    if digest.is_empty() or already_sent(session, digest):
        return None
    title = f"SPEC digest — {digest.period:%Y-%m-%d %H:%M} UTC"  # titles must be unique
    body = with_marker(render(digest), digest.key)
    key = external_id(digest.key)  # found again by its key, never by its title
    topic = forum.topic_by_external_id(key)
    if topic is None and config.digest.category_id:
        topic = forum.create_topic(title, body, config.digest.category_id,
                                   external_id=key).topic_id
    elif topic is None:
        topic = forum.send_group_message(config.discourse.committee_group, title, body,
                                         external_id=key).topic_id
    session.add(DigestSent(period=digest.key, sent_at=now, remote_id=str(topic),
                           last_event_id=digest.last_event_id))
    store.resolve_reported(session, REPORTED_ONCE, now)
    session.commit()
    return str(topic)
