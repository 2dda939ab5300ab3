"""Links made by hand (`forumsync link` / `unlink`); they override automatic linking. The
next sync applies them, as it applies any change of link: the old thread loses its stage
tag."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forumsync.models import ManualLink
from forumsync.timeutil import utcnow


class LinkError(Exception):
    """A hand-made link that cannot be recorded; the message says why."""


def link_by_hand(session: Session, pr_number: int, topic_id: int) -> str:
    """Record that PR `pr_number`'s SPEC is discussed in topic `topic_id`."""
    other = session.scalar(
        select(ManualLink).where(ManualLink.topic_id == topic_id, ManualLink.pr_number != pr_number)
    )
    if other is not None:
        raise LinkError(
            f"topic {topic_id} is already linked by hand to PR #{other.pr_number}; "
            f"run `forumsync unlink --pr {other.pr_number}` first"
        )
    row = session.get(ManualLink, pr_number) or ManualLink(pr_number=pr_number)
    row.topic_id = topic_id
    row.created_at = utcnow()
    session.add(row)
    return f"PR #{pr_number} linked to topic {topic_id} by hand; the next sync applies it"


def unlink_by_hand(session: Session, pr_number: int) -> str:
    """Remove PR `pr_number`'s SPEC link and keep automatic linking from restoring it."""
    row = session.get(ManualLink, pr_number) or ManualLink(pr_number=pr_number)
    row.topic_id = None
    row.created_at = utcnow()
    session.add(row)
    return (
        f"PR #{pr_number} unlinked by hand; automatic linking stays off for it until "
        f"`forumsync link --pr {pr_number} --topic ID`"
    )


def manual_links(session: Session) -> dict[int, int | None]:
    """PR number -> topic id (None: unlinked by hand)."""
    return {row.pr_number: row.topic_id for row in session.scalars(select(ManualLink))}

