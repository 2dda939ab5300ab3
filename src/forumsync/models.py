"""What the service remembers between cycles, as SQLAlchemy 2 models.

Constraints carry the rules: one viability thread per SPEC and one SPEC per thread
(`links`), one effect per idempotency key (`effects`), one digest per period (`digests`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Spec(Base):
    """A SPEC proposal: its introducing PR until merged, then its file on the default branch."""

    __tablename__ = "specs"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int | None] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[str] = mapped_column(String(20))
    introducing_pr: Mapped[int | None] = mapped_column(Integer, unique=True)
    path: Mapped[str | None] = mapped_column(String(300), unique=True)
    is_draft: Mapped[bool | None] = mapped_column()  # front matter on the default branch
    endorsed_by: Mapped[list[str]] = mapped_column(JSON, default=list)  # Core Projects only
    stage_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_actor: Mapped[str | None] = mapped_column(Text)  # a person, never the service
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the viability thread that was deleted: linked again if a moderator restores it
    lost_thread_id: Mapped[int | None] = mapped_column(Integer)
    # the `discussion:` link read once from the file's history (older SPECs lost the key)
    history_discussion: Mapped[str | None] = mapped_column(Text)
    history_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    link: Mapped[Link | None] = relationship(back_populates="spec", uselist=False)
    pulls: Mapped[list[PullRequest]] = relationship(back_populates="spec")


class Thread(Base):
    """A forum topic the service has seen (Discourse topic id as key)."""

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, default=1)  # first post's revisions read
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PullRequest(Base):
    """A pull request to the SPEC repository; many over one SPEC's life."""

    __tablename__ = "pull_requests"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("specs.id"), index=True)
    state: Mapped[str] = mapped_column(String(10))  # open, closed, merged
    head_sha: Mapped[str | None] = mapped_column(String(64))  # files are re-read when it moves
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    spec: Mapped[Spec | None] = relationship(back_populates="pulls")


class SpecPull(Base):
    """Every SPEC a PR touches (an edit of two SPEC files belongs to both)."""

    __tablename__ = "spec_pulls"

    spec_id: Mapped[int] = mapped_column(ForeignKey("specs.id", ondelete="CASCADE"),
                                         primary_key=True)
    pr_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class Link(Base):
    """A SPEC's one viability thread, and how the link was found."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("specs.id", ondelete="CASCADE"), unique=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), unique=True)
    # idea (an Ideas thread is its own), manual, pr_body, front_matter, thread_post, created
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    spec: Mapped[Spec] = relationship(back_populates="link")


class ManualLink(Base):
    """A link made by hand; it overrides automatic linking. No topic: unlinked by hand."""

    __tablename__ = "manual_links"

    pr_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    topic_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StageEvent(Base):
    """Stage history: every change seen, and what the service did with it."""

    __tablename__ = "stage_events"
    __table_args__ = (Index("ix_stage_events_spec_id_occurred_at", "spec_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("specs.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(Text, default="")
    side: Mapped[str] = mapped_column(String(10))  # github, discourse
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(20))  # mirrored, ignored, conflict, initial
    reason: Mapped[str] = mapped_column(Text, default="")
    # on whose authority a stage was set: committee, author, history, service
    authority: Mapped[str] = mapped_column(String(20), default="")


class Effect(Base):
    """The ledger of writes the service made, one row per idempotency key.

    A write the remote side refused (a 4xx) is kept here as `refused` with its payload and
    retried with backoff; it is `dropped` (and reported) when its target is gone."""

    __tablename__ = "effects"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # reply, topic, comment, label, tag, category
    target: Mapped[str] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(100))
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("specs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="done")  # done, refused, dropped
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict | None] = mapped_column(JSON)  # the write, to retry a refused one
    error: Mapped[str | None] = mapped_column(Text)


class Cursor(Base):
    """Where the last successful read of a feed stopped, and its ETag."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)  # JSON maps too: unbounded
    etag: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DigestSent(Base):
    """One committee digest per period."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(40), unique=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remote_id: Mapped[str | None] = mapped_column(String(100))
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)  # history it covered


class Problem(Base):
    """Something to report in `status` and the digest, until it is resolved."""

    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("kind", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("specs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(Text)  # may hold a URL from a PR body
    # what raised it (a PR's body, a thread, the number check): read again without raising
    # it, the problem is resolved
    scope: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """A webhook delivery, stored before it is answered: redeliveries are found by their id
    and do nothing twice; `processed_at` is set once a sync cycle has run after it."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # github, discourse
    delivery_id: Mapped[str] = mapped_column(String(100))  # X-GitHub-Delivery / -Event-Id
    event: Mapped[str] = mapped_column(String(100))  # pull_request.labeled, topic_edited
    subject: Mapped[str] = mapped_column(Text, default="")  # pr-12, t-34: what it touches
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
