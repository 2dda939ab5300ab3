"""One writer per database: a lock that dies with its holder, and a lease row that says who.

The lock is what decides. On PostgreSQL it is a session-level advisory lock held on a
connection of its own (the server frees it when that connection ends, so when the process
dies, on any host); on SQLite an OS file lock (`flock`) on a file beside the database (the
kernel frees it when the process dies). A rerun right after `kill -9` takes it at once.

The lease row (`cursors`, name `worker-lock`) is the record people and `status` read: who
holds it (host:pid) and when it last showed signs of life. Whoever holds the lock may
overwrite the row, whatever its heartbeat says. Without a lock (an in-memory database, or
tests), the row alone decides, by compare-and-swap, and a lease older than its TTL is taken
over.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, create_engine, delete, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from forumsync.models import Cursor
from forumsync.timeutil import aware, utcnow

LOCK_NAME = "worker-lock"
# pg_advisory_lock key: the bytes "forumsync" folded into a signed 64-bit integer
ADVISORY_KEY = int.from_bytes(b"frmsync1", "big", signed=True)


class LeaseLost(Exception):
    """Another process holds the lease (or our lock went away): this one must stop writing."""


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ProcessLock(Protocol):
    def try_acquire(self) -> bool: ...
    def alive(self) -> bool: ...
    def release(self) -> None: ...


class FileLock:
    """`flock` on the SQLite database file: freed by the kernel when the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    """`pg_try_advisory_lock` on a dedicated connection: freed when that session ends."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return True
        connection = self._engine.connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                 {"key": ADVISORY_KEY}).scalar()
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def alive(self) -> bool:
        """The lock lasts as long as its session: check the session is still there."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": ADVISORY_KEY})
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None


def process_lock_for(database_url: str) -> ProcessLock | None:
    """The lock that fits the database; None for an in-memory SQLite database."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return AdvisoryLock(database_url)
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        # the database file itself, by its real path: a symlink or a deleted side file
        # cannot give a second worker a lock of its own (SQLite's own locks are fcntl
        # locks, which flock does not touch)
        return FileLock(Path(url.database).resolve())
    return None


class Lease:
    def __init__(self, sessions: sessionmaker[Session], ttl: timedelta,
                 owner: str | None = None, lock: ProcessLock | None = None) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.owner = owner or owner_id()
        self.lock = lock
        self._renewed_at: datetime | None = None
        self._mutex = threading.Lock()  # the worker's jobs and its heartbeat share one lease

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; False when another live process holds it."""
        with self._mutex:
            if self.lock is not None:
                if not self.lock.try_acquire():
                    return False
                self._write_row(now or utcnow())  # the lock holder's word is final
                return True
            return self._compare_and_swap(now or utcnow())

    def _write_row(self, now: datetime) -> None:
        with self.sessions.begin() as session:
            row = session.get(Cursor, LOCK_NAME) or Cursor(name=LOCK_NAME)
            if self._renewed_at is None and row.value not in (None, self.owner) \
                    and row.updated_at and aware(row.updated_at) > now - self.ttl:
                logging.getLogger(__name__).warning(
                    "taking over the lease of %s, whose heartbeat is fresh: its process died, "
                    "or it runs on another copy of this database", row.value)
            row.value, row.updated_at = self.owner, now
            session.add(row)
        self._renewed_at = now

    def _compare_and_swap(self, now: datetime) -> bool:
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

    def renew(self, force: bool = False) -> None:
        """Called as work goes on (between SPECs, between reads, and by the worker's
        heartbeat); touches the database only once a third of the lease has passed. Raises
        LeaseLost if our lock went away or another process took the row over."""
        if not force and self._renewed_at is not None and \
                utcnow() - self._renewed_at < self.ttl / 3:
            return
        if self.lock is not None:
            if not self.lock.alive():
                raise LeaseLost("the database lock was lost (its connection ended)")
            holder = self.holder()
            if holder not in (None, self.owner):
                raise LeaseLost(f"the database lease is now held by {holder}")
        if not self.acquire():
            raise LeaseLost(f"the database lease is now held by {self.holder()}")

    def release(self) -> None:
        with self._mutex:
            with contextlib.suppress(SQLAlchemyError), self.sessions.begin() as session:
                session.execute(delete(Cursor).where(Cursor.name == LOCK_NAME,
                                                     Cursor.value == self.owner))
            if self.lock is not None:
                self.lock.release()
            self._renewed_at = None

    def holder(self) -> str | None:
        with self.sessions() as session:
            row = session.get(Cursor, LOCK_NAME)
            return row.value if row else None

    def heartbeat(self) -> tuple[str | None, datetime | None]:
        """Who holds the lease and when it last renewed it, for `status`."""
        with self.sessions() as session:
            row = session.get(Cursor, LOCK_NAME)
            return (row.value, aware(row.updated_at)) if row else (None, None)
