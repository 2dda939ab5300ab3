"""The `status` view: one row per SPEC, read from the database only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from forumsync.config import Config
from forumsync.digest import is_stalled
from forumsync.models import Problem, Spec
from forumsync.stages import Stage
from forumsync.timeutil import aware


@dataclass(frozen=True)
class StatusRow:
    number: int | None
    title: str
    stage: str
    pr: int | None
    thread: int | None
    last_activity: str | None
    stalled: bool
    last_problem: str | None
    problems: tuple[str, ...] = ()  # every problem that stands, oldest first

    def as_dict(self) -> dict:
        return asdict(self)


def status_rows(session: Session, now: datetime, config: Config) -> list[StatusRow]:
    """Every tracked SPEC, ordered by number (unnumbered ones last, by PR)."""
    specs = session.scalars(select(Spec).options(selectinload(Spec.link))).all()
    problems = session.scalars(
        select(Problem).where(Problem.resolved_at.is_(None)).order_by(Problem.last_seen)
    ).all()
    standing: dict[int, list[str]] = {}
    for problem in problems:
        if problem.spec_id is not None:
            standing.setdefault(problem.spec_id, []).append(problem.message)
    rows = []
    for spec in specs:
        activity = spec.last_activity_at
        stalled = is_stalled(Stage(spec.stage), activity, now, config)
        rows.append(
            StatusRow(
                number=spec.number,
                title=spec.title,
                stage=spec.stage,
                pr=spec.introducing_pr,
                thread=spec.link.thread_id if spec.link else None,
                last_activity=aware(activity).isoformat() if activity else None,
                stalled=stalled,
                last_problem=standing[spec.id][-1] if spec.id in standing else None,
                problems=tuple(standing.get(spec.id, ())),
            )
        )
    rows.sort(key=lambda r: (r.number is None, r.number or 0, r.pr or 0))
    return rows


def unattached_problems(session: Session) -> list[str]:
    """Open problems that belong to no SPEC (an unknown PR, a thread claimed twice)."""
    return list(
        session.scalars(
            select(Problem.message)
            .where(Problem.resolved_at.is_(None), Problem.spec_id.is_(None))
            .order_by(Problem.last_seen)
        )
    )


def render_table(rows: list[StatusRow]) -> str:
    header = ("SPEC", "title", "stage", "PR", "thread", "last activity", "stalled", "last problem")
    cells = [
        (
            str(r.number) if r.number is not None else "-",
            _clip(r.title, 40),
            r.stage,
            f"#{r.pr}" if r.pr else "-",
            f"t/{r.thread}" if r.thread else "-",
            r.last_activity[:10] if r.last_activity else "-",
            "yes" if r.stalled else "no",
            _clip(r.last_problem or "-", 50),
        )
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(header)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
             for line in (header, *cells)]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
