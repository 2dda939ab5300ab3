"""One worker per database: a lease row taken by compare-and-swap, refreshed every cycle.

Works on any SQLAlchemy database (no file locks, no advisory locks): the row's primary key
makes the first insert win, and a stale lease (its holder died) is taken over only by the
one process whose update still sees the old heartbeat.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forumsync.models import Cursor
from forumsync.timeutil import aware

LOCK_NAME = "worker-lock"


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(sessions: sessionmaker[Session], owner: str, now: datetime, ttl: timedelta) -> bool:
    """Take or refresh the lease; False when another live worker holds it."""
    with sessions() as session:
        row = session.get(Cursor, LOCK_NAME)
        if row is None:
            session.add(Cursor(name=LOCK_NAME, value=owner, updated_at=now))
            try:
                session.commit()
                return True
            except IntegrityError:
                return False
        if row.value != owner and aware(row.updated_at) > now - ttl:
            return False
        taken = session.execute(
            update(Cursor)
            .where(Cursor.name == LOCK_NAME, Cursor.value == row.value,
                   Cursor.updated_at == row.updated_at)
            .values(value=owner, updated_at=now)
        )
        session.commit()
        return taken.rowcount == 1


def release(sessions: sessionmaker[Session], owner: str) -> None:
    with sessions.begin() as session:
        session.execute(delete(Cursor).where(Cursor.name == LOCK_NAME, Cursor.value == owner))


def holder(sessions: sessionmaker[Session]) -> str | None:
    with sessions() as session:
        row = session.get(Cursor, LOCK_NAME)
        return row.value if row else None
