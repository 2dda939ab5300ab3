"""One reconcile cycle: observe both sides, plan, apply (or, in a dry run, only print)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from forumsync import echo, store
from forumsync.config import Config
from forumsync.cursors import BLOBS_CURSOR, CURSOR_OVERLAP, Cursors
from forumsync.executor import CycleReport, Executor
from forumsync.observer import Clients, Observer
from forumsync.planner import PlanSettings, plan_cycle
from forumsync.transport import Unreachable

__all__ = ["BLOBS_CURSOR", "Clients", "build_clients", "run_cycle", "unreachable"]


def build_clients(config: Config) -> Clients:
    """Adapters for the configured forum and repository (any base URL: real or sandbox)."""
    from forumsync.forum import ForumClient
    from forumsync.repo import RepoClient

    return Clients(ForumClient(config.discourse), RepoClient(config.github))


def run_cycle(config: Config, sessions: sessionmaker[Session], clients: Clients, now: datetime,
              *, dry_run: bool = False, heartbeat: Callable[[], None] | None = None,
              ) -> CycleReport:
    """Observe, plan and apply once. A dry run writes nothing, remotely or in the database.
    `heartbeat` is called between SPECs (the lease's renew: it stops a cycle that lost it)."""
    settings = PlanSettings.from_config(config)
    with sessions() as session:
        stored = store.load_state(session)
        cursors = Cursors.load(session)
    observer = Observer(config, clients, stored, cursors, now)
    observation = observer.observe()
    report = CycleReport()
    report.failures.extend(observer.failures)
    if unreachable(clients):  # exit 3: nothing is planned or changed on a partial view
        return report
    if heartbeat is not None:
        heartbeat()  # a stop asked for while reading ends the cycle here, before any write
    plan = plan_cycle(observation, stored, settings)
    report.problems.extend(n.message for n in observer.problems if n.kind != "sync-failed")
    if dry_run:
        for spec in plan.specs:
            report.add_planned(spec)
        report.problems.extend(p.message for p in plan.problems)
        return report
    read_posts = {t.id: t.posts for t in observation.threads.values()
                  if not t.deleted and t.posts is not None}
    read_comments = {n: p.comments for n, p in observation.pulls.items()
                     if p.comments is not None}
    executor = Executor(sessions, clients.forum, clients.repo,
                        lambda topic: settings.thread_url(topic), now, heartbeat, read_posts,
                        read_comments)
    failed_pulls, failed_paths = executor.apply(plan, report)
    own_writes = echo.remembered(clients.repo.take_written(),
                                 {n: seen.pull for n, seen in observation.pulls.items()},
                                 plan.pulls, failed_pulls,
                                 (clients.repo.listed_at or now) - CURSOR_OVERLAP)
    with sessions.begin() as session:
        if stored.first_sync_at is None:
            store.set_cursor(session, store.FIRST_SYNC, now.isoformat())
        for note in observer.problems:
            store.note_problem(session, note, now)
        for number in observation.pulls.keys() - failed_pulls:  # synced fine this time
            store.resolve_problem(session, "sync-failed", f"pr-{number}", now)
        store.pulls_seen_at(session, observer.cursors.echoes)
        # what failed is read again next cycle; everything else moves on
        observer.cursors.save(session, observer.failed_pulls | failed_pulls | plan.deferred_pulls,
                              observer.failed_paths | failed_paths | plan.deferred_paths,
                              own_writes)
    return report


def unreachable(clients: Clients) -> list[Unreachable]:
    """The services that could not be reached this cycle (see forumsync.transport)."""
    links = (getattr(client, "link", None) for client in (clients.forum, clients.repo))
    return [link.down for link in links if link is not None and link.down is not None]


