"""One writer per database: a lease row taken by compare-and-swap and renewed as work goes on.

Works on any SQLAlchemy database (no file locks, no advisory locks): the row's primary key
makes the first insert win, and a stale lease (its holder died) is taken over only by the
one process whose update still sees the old heartbeat. `forumsync run` and `forumsync sync`
both hold it, so two cycles never write at once.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forumsync.models import Cursor
from forumsync.timeutil import aware, utcnow

LOCK_NAME = "worker-lock"


class LeaseLost(Exception):
    """Another process holds the lease: this one must stop writing."""


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    def __init__(self, sessions: sessionmaker[Session], ttl: timedelta,
                 owner: str | None = None) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.owner = owner or owner_id()
        self._renewed_at: datetime | None = None

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; False when another live process holds it."""
        now = now or utcnow()
        with self.sessions() as session:
            row = session.get(Cursor, LOCK_NAME)
            if row is None:
                session.add(Cursor(name=LOCK_NAME, value=self.owner, updated_at=now))
                try:
                    session.commit()
                    self._renewed_at = now
                    return True
                except IntegrityError:
                    return False
            if row.value != self.owner and aware(row.updated_at) > now - self.ttl:
                return False
            taken = session.execute(
                update(Cursor)
                .where(Cursor.name == LOCK_NAME, Cursor.value == row.value,
                       Cursor.updated_at == row.updated_at)
                .values(value=self.owner, updated_at=now)
            )
            session.commit()
            if taken.rowcount == 1:
                self._renewed_at = now
            return taken.rowcount == 1

    def renew(self) -> None:
        """Called as work goes on (between SPECs); touches the database only once a third of
        the lease has passed. Raises LeaseLost if another process took over."""
        if self._renewed_at is not None and utcnow() - self._renewed_at < self.ttl / 3:
            return
        if not self.acquire():
            raise LeaseLost(f"the database lease is now held by {self.holder()}")

    def release(self) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(Cursor).where(Cursor.name == LOCK_NAME,
                                                 Cursor.value == self.owner))

    def holder(self) -> str | None:
        with self.sessions() as session:
            row = session.get(Cursor, LOCK_NAME)
            return row.value if row else None
