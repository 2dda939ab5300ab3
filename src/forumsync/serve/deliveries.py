"""Webhook deliveries in the database: stored before the 2xx, deduplicated by their id, and
turned into sync cycles by the worker.

A delivery only says "something changed"; the cycle that follows reads what changed (the
same observer, planner and executor as a scheduled sync, so authority, exactly once and safe
text hold). Deliveries that arrive while a cycle runs wait for the next one; many become
one cycle. Polling stays the safety net for deliveries that never arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forumsync.logs import event
from forumsync.models import Delivery
from forumsync.timeutil import utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a worker in another process than the web app sees a delivery this late
PRUNE_EVERY = 600.0  # seconds between forgetting old deliveries
# A cycle that failed (a service down, an item failing, an error) leaves its deliveries
# pending; they are tried again after 5 s, 10 s, ... at most `MAX_BACKOFF`, and after
# `MAX_ATTEMPTS` left to the scheduled polling, which reads the same changes.
MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 6
# Processed deliveries are kept this long to recognise redeliveries (GitHub offers to
# redeliver for 3 days), then deleted, so the table stays small.
KEEP = timedelta(days=7)


def record(sessions: sessionmaker[Session], source: str, delivery_id: str, kind: str,
           subject: str, now: datetime, *, needs_sync: bool) -> bool:
    """Store a delivery; False if it was seen before (a redelivery: nothing to do twice).
    A delivery that needs no sync (a ping, an event we do not follow) is stored processed."""
    try:
        with sessions.begin() as session:
            session.add(Delivery(source=source, delivery_id=delivery_id, event=kind[:100],
                                 subject=subject, received_at=now,
                                 processed_at=None if needs_sync else now))
    except IntegrityError:
        return False
    return True


def pending(session: Session) -> int:
    """The id of the newest delivery no cycle has run after yet (0: none)."""
    return session.scalar(select(func.max(Delivery.id))
                          .where(Delivery.processed_at.is_(None))) or 0


def mark_processed(sessions: sessionmaker[Session], up_to: int, now: datetime) -> int:
    """Deliveries up to `up_to` are done."""
    with sessions.begin() as session:
        done = session.execute(update(Delivery).where(
            Delivery.processed_at.is_(None), Delivery.id <= up_to).values(processed_at=now))
    return done.rowcount or 0


def prune(sessions: sessionmaker[Session], now: datetime) -> None:
    """Deliveries done more than `KEEP` ago are forgotten (a ping, or an event we do not
    follow, is stored done at once: pruning cannot wait for a followed one)."""
    with sessions.begin() as session:
        session.execute(delete(Delivery).where(Delivery.processed_at < now - KEEP))


def recent(session: Session, limit: int = 20) -> list[Delivery]:
    return list(session.scalars(select(Delivery).order_by(Delivery.id.desc()).limit(limit)))


class DeliveryWatcher:
    """Runs a sync cycle soon after deliveries arrive: woken at once by a web app in the same
    process, and by polling the table every `POLL_SECONDS` for one in another process.

    `run_job` runs a callable as one of the worker's jobs (under its one-job mutex)."""

    def __init__(self, sessions: sessionmaker[Session], sync: Callable[[], str | None],
                 run_job: Callable[[Callable[[], None]], None], stop: threading.Event,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.sessions = sessions
        self.sync = sync
        self.run_job = run_job
        self.stop = stop
        self.poll = poll_seconds
        self.woken = threading.Event()
        self.attempts = 0
        self.retry_at = 0.0  # time.monotonic() before which no webhook cycle is tried again
        self.pruned_at = float("-inf")

    def wake(self) -> None:
        self.woken.set()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="webhook-deliveries", daemon=True)
        thread.start()
        return thread

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.woken.wait(self.poll)
            self.woken.clear()
            if self.stop.is_set():
                return
            try:
                if time.monotonic() - self.pruned_at >= PRUNE_EVERY:
                    prune(self.sessions, utcnow())
                    self.pruned_at = time.monotonic()
                with self.sessions() as session:
                    newest = pending(session)
            except Exception:  # a database hiccup: the next poll tries again
                log.warning("reading webhook deliveries failed", exc_info=True)
                continue
            if newest and time.monotonic() >= self.retry_at:
                self.run_job(lambda newest=newest: self._sync_up_to(newest))

    def _sync_up_to(self, newest: int) -> None:
        """One cycle for every delivery stored up to `newest`: it starts after they were
        stored, so it reads what they announced. Only a cycle that went well settles them."""
        event(log, "webhook sync", up_to_delivery=newest, attempt=self.attempts + 1)
        outcome = "error"
        try:
            outcome = self.sync() or "ok"
        finally:
            if outcome == "ok" or self.attempts + 1 >= MAX_ATTEMPTS:
                mark_processed(self.sessions, newest, utcnow())
                self.attempts, self.retry_at = 0, 0.0
            elif outcome != "stopped":
                self.attempts += 1
                self.retry_at = time.monotonic() + min(MAX_BACKOFF, 5.0 * 2 ** (self.attempts - 1))
                event(log, "webhook sync to be tried again", logging.WARNING, outcome=outcome,
                      in_seconds=round(self.retry_at - time.monotonic()))
