"""`forumsync run`: the long-running worker on APScheduler.

One sync at a time (max_instances=1), missed runs coalesced into one, a database lease so a
second worker refuses to start, and a clean stop on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from forumsync.config import Config
from forumsync.timeutil import utcnow
from forumsync.worker_lock import Lease, LeaseLost

log = logging.getLogger(__name__)


class WorkerBusy(Exception):
    """Another worker holds the database lease."""


def lease_for(config: Config, sessions: sessionmaker[Session]) -> Lease:
    """A lease outlives three missed cycles before another process may take it over."""
    return Lease(sessions, timedelta(minutes=3 * config.schedule.sync_every_minutes))


def run_worker(lease: Lease, config: Config, sync_once: Callable[[], None],
               digest_once: Callable[[], None], scheduler: BlockingScheduler | None = None,
               ) -> None:
    """Run `sync_once` every `schedule.sync_every_minutes` and `digest_once` on
    `schedule.digest_cron` until SIGTERM or SIGINT. The digest also runs once at start: a
    period missed while the worker was down is sent then (sending is once per period)."""
    if not lease.acquire():
        raise WorkerBusy(f"another forumsync ({lease.holder()}) is running on this database")
    scheduler = scheduler or BlockingScheduler(timezone="UTC")

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def job() -> None:
            try:
                lease.renew()
                work()
            except LeaseLost as exc:
                log.error("%s; stopping", exc)
                scheduler.shutdown(wait=False)
            except Exception:  # the worker outlives one bad run; the next one retries
                log.exception("%s failed", getattr(work, "__name__", "job"))

        return job

    scheduler.add_job(guarded(sync_once),
                      IntervalTrigger(minutes=config.schedule.sync_every_minutes),
                      id="sync", max_instances=1, coalesce=True, next_run_time=utcnow(),
                      misfire_grace_time=None)
    scheduler.add_job(guarded(digest_once),
                      CronTrigger.from_crontab(config.schedule.digest_cron, timezone="UTC"),
                      id="digest", max_instances=1, coalesce=True,
                      next_run_time=utcnow() + timedelta(seconds=30), misfire_grace_time=None)

    def stop(signum: int, _frame: object) -> None:
        log.info("received signal %s; stopping after the current cycle", signum)
        scheduler.shutdown(wait=True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lease.release()
