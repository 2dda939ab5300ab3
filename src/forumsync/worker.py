"""`forumsync run`: the long-running worker.

- Leadership: a lock that dies with its holder (see worker_lock). A second worker on the same
  database waits as a hot standby and takes over as soon as the lock is free.
- One job at a time: sync and digest run on one executor thread (and under one mutex), each
  with max_instances=1 and missed runs coalesced into one.
- The lease is renewed by a heartbeat thread, so a long read keeps it too; a lease that is
  lost stops the worker with an error (exit 1), never silently.
- Bounded stop: on SIGTERM/SIGINT reads stop at once and a cycle that is writing finishes
  the current SPEC's writes, then stops; a second signal exits at once. Whatever a server
  does meanwhile (a request that hangs until its timeout), the process is gone within
  `STOP_DEADLINE` seconds of the first signal: exiting mid-write is safe, since every write
  is found again by its key on the next run.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forumsync import health
from forumsync.config import Config
from forumsync.logs import event
from forumsync.models import Problem
from forumsync.timeutil import utcnow
from forumsync.transport import SHUTDOWN, StopRequested
from forumsync.worker_lock import Lease, LeaseLost, process_lock_for

if TYPE_CHECKING:
    from forumsync.cycle import Clients
    from forumsync.metrics import Metrics

log = logging.getLogger(__name__)
STOP_DEADLINE = 9.0  # seconds from the first signal to a certain exit

EXIT_OK, EXIT_LEASE_LOST = 0, 1


def lease_for(config: Config, sessions: sessionmaker[Session]) -> Lease:
    """The database lease, backed by the lock that fits the database. Its row's TTL (three
    sync intervals) only matters where no such lock exists."""
    return Lease(sessions, timedelta(minutes=3 * config.schedule.sync_every_minutes),
                 lock=process_lock_for(config.database.url))


def _exit_now(signum: int, why: str) -> None:
    logging.getLogger(__name__).warning("%s (signal %s)", why, signum)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(128 + signum)


class Worker:
    def __init__(self, config: Config, sessions: sessionmaker[Session], clients: Clients,
                 lease: Lease, *, metrics: Metrics | None = None,
                 standby_poll_seconds: float = 2.0) -> None:
        self.config = config
        self.sessions = sessions
        self.clients = clients
        self.lease = lease
        self.metrics = metrics
        self.standby_poll = standby_poll_seconds
        self.stop = threading.Event()
        self.lost: LeaseLost | None = None
        self._one_job = threading.Lock()  # sync and digest never overlap
        self._scheduler: BackgroundScheduler | None = None
        from forumsync.serve.deliveries import DeliveryWatcher

        # webhook deliveries become sync cycles, one job at a time with the scheduled ones
        self.deliveries = DeliveryWatcher(sessions, self.sync_once,
                                          lambda work: self._job(work)(), self.stop)

    # --- the process -----------------------------------------------------------------------

    def run(self) -> int:
        """Wait for leadership, then work until asked to stop; returns the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        SHUTDOWN.reset()
        try:
            if not self._lead():
                return EXIT_OK
            beat = threading.Thread(target=self._heartbeat_loop, name="lease-heartbeat",
                                    daemon=True)
            beat.start()
            self._scheduler = self._schedule()
            self._scheduler.start()
            self.deliveries.start()
            while not self.stop.wait(0.2):
                pass
            started = time.monotonic()
            self._scheduler.shutdown(wait=False)
            while not self._one_job.acquire(timeout=0.2):  # the current job finishes
                pass
            self._one_job.release()
            event(log, "worker stopped", seconds_after_signal=round(
                time.monotonic() - started, 2))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.lease.release()
        if self.lost is not None:
            log.error("stopped: %s", self.lost)
            return EXIT_LEASE_LOST
        return EXIT_OK

    def _lead(self) -> bool:
        """Take the lease, or wait as a hot standby until it is free; False if stopped."""
        waiting = False
        while not self.lease.acquire():
            if not waiting:
                event(log, "standby: another worker holds the database; waiting",
                      holder=self.lease.holder())
                waiting = True
            if self.stop.wait(self.standby_poll):
                return False
        event(log, "leading", owner=self.lease.owner, took_over=waiting)
        return True

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop.is_set():
            _exit_now(signum, "second signal: exiting at once")  # the lock dies with us
        event(log, "signal received: stopping after the current SPEC's writes", signal=signum)
        SHUTDOWN.requested.set()
        self.stop.set()
        deadline = threading.Timer(STOP_DEADLINE, _exit_now,
                                   (signum, f"not stopped {STOP_DEADLINE:g} s after the "
                                    "signal (a request still hangs): exiting now"))
        deadline.daemon = True
        deadline.start()

    def _heartbeat_loop(self) -> None:
        """Renews the lease while jobs read and write; stops the worker if it is lost."""
        every = max(1.0, min(30.0, self.lease.ttl.total_seconds() / 3))
        while not self.stop.wait(every):
            try:
                self.lease.renew(force=True)
            except LeaseLost as exc:
                self._lose(exc)
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("lease heartbeat failed", exc_info=True)

    def _lose(self, exc: LeaseLost) -> None:
        self.lost = exc
        log.error("%s; stopping", exc)
        SHUTDOWN.requested.set()
        self.stop.set()

    # --- the jobs --------------------------------------------------------------------------

    def _schedule(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            timezone="UTC", executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
        scheduler.add_job(self._job(self.sync_once), IntervalTrigger(
            seconds=self.config.schedule.sync_every_minutes * 60), id="sync", name="sync",
            next_run_time=utcnow())
        # the digest also runs soon after start: a period missed while down is sent then
        scheduler.add_job(self._job(self.digest_once), CronTrigger.from_crontab(
            self.config.schedule.digest_cron, timezone="UTC"), id="digest", name="digest",
            next_run_time=utcnow() + timedelta(seconds=30))
        return scheduler

    def _job(self, work: Callable[[], None]) -> Callable[[], None]:
        def job() -> None:
            with self._one_job:
                if self.stop.is_set():
                    return
                try:
                    work()
                except LeaseLost as exc:
                    self._lose(exc)
                except Exception:  # the worker outlives one bad run; the next one retries
                    log.exception("%s failed", work.__name__)

        return job

    def _heartbeat(self) -> None:
        """Called by the cycle after reading and between SPECs."""
        self.lease.renew()
        if SHUTDOWN.requested.is_set():
            raise StopRequested()
        SHUTDOWN.writing = True

    def next_digest(self) -> datetime | None:
        """When the digest job runs next (for `status --json`)."""
        job = self._scheduler.get_job("digest") if self._scheduler else None
        return job.next_run_time if job else None

    def sync_once(self) -> str:
        """One cycle; returns its outcome: ok, failed, unreachable or stopped."""
        from forumsync.cycle import run_cycle, unreachable

        started, clock = utcnow(), time.monotonic()
        SHUTDOWN.writing = False
        for client in (self.clients.forum, self.clients.repo):
            client.link.reset()
        health.cycle_started(self.sessions, started, self.config.schedule.sync_every_minutes,
                             self.next_digest())
        event(log, "cycle started")
        try:
            report = run_cycle(self.config, self.sessions, self.clients, started,
                               heartbeat=self._heartbeat)
        except StopRequested:
            event(log, "cycle stopped by signal")
            self._finish("stopped", clock)
            return "stopped"
        except Exception:
            self._finish("error", clock)
            raise
        finally:
            SHUTDOWN.writing = False
        down = unreachable(self.clients)
        for error in down:
            event(log, "service unreachable", logging.ERROR, service=error.service,
                  cause=error.cause, hint=error.hint)
        for line in report.failures:
            event(log, "item failed", logging.WARNING, detail=line)
        for line in report.problems:
            event(log, "problem", detail=line)
        for line in report.changes:
            event(log, "stage", detail=line)
        outcome = "unreachable" if down else ("ok" if report.ok else "failed")
        self._finish(outcome, clock, actions=len(report.actions))
        return outcome

    def _finish(self, outcome: str, clock: float, **fields: object) -> None:
        seconds = time.monotonic() - clock
        state = health.cycle_finished(self.sessions, utcnow(), outcome) \
            if outcome != "stopped" else {}
        event(log, "cycle finished", outcome=outcome, seconds=round(seconds, 2), **fields,
              consecutive_failures=state.get("consecutive_failures", 0))
        if self.metrics is not None:
            with self.sessions() as session:
                problems = session.scalar(select(func.count()).select_from(Problem).where(
                    Problem.resolved_at.is_(None))) or 0
            self.metrics.cycle(outcome, seconds, problems, time.time())

    def digest_once(self) -> None:
        from forumsync import digest

        with self.sessions() as session:
            built = digest.collect(session, self.config, utcnow())
            topic = digest.send(session, built, self.config, self.clients.forum, utcnow())
        if topic:
            event(log, "digest sent", period=built.key, topic=topic)
