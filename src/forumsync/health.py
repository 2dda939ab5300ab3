"""The worker's own state, for `status --json`, `status --check` and container health.

Kept as one JSON row in `cursors` (name `worker:state`), written at each cycle's start and
end, so any process reading the database sees it: last cycle start and end, last success,
consecutive failures, last outcome and the next digest.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from forumsync import store
from forumsync.timeutil import aware
from forumsync.worker_lock import LOCK_NAME

STATE_CURSOR = "worker:state"


def load(session: Session) -> dict[str, Any]:
    row = store.get_cursor(session, STATE_CURSOR)
    return json.loads(row.value) if row and row.value else {}


def _save(sessions: sessionmaker[Session], **changes: Any) -> dict[str, Any]:
    with sessions.begin() as session:
        state = {**load(session), **changes}
        store.set_cursor(session, STATE_CURSOR, json.dumps(state, sort_keys=True))
    return state


def cycle_started(sessions: sessionmaker[Session], now: datetime, interval_minutes: float,
                  next_digest: datetime | None = None) -> None:
    _save(sessions, last_cycle_start=now.isoformat(), interval_minutes=interval_minutes,
          next_digest=next_digest.isoformat() if next_digest else None)


def cycle_finished(sessions: sessionmaker[Session], now: datetime, outcome: str) -> dict:
    """`outcome`: ok, failed (some items failed), unreachable, error."""
    with sessions() as session:
        failures = load(session).get("consecutive_failures", 0)
    changes: dict[str, Any] = {"last_cycle_end": now.isoformat(), "last_outcome": outcome}
    if outcome in ("ok", "failed"):  # the cycle ran to its end (some items may have failed)
        changes["last_completed"] = now.isoformat()
    if outcome == "ok":
        changes.update(last_success=now.isoformat(), consecutive_failures=0)
    else:
        changes["consecutive_failures"] = failures + 1
    return _save(sessions, **changes)


def worker_state(session: Session) -> dict[str, Any]:
    """The stored state plus the lease (holder and heartbeat)."""
    state = {key: None for key in ("last_cycle_start", "last_cycle_end", "last_success",
                                   "last_completed", "last_outcome", "next_digest")}
    state["consecutive_failures"] = 0
    state.update(load(session))
    state.pop("interval_minutes", None)
    lease = store.get_cursor(session, LOCK_NAME)
    state["lease_holder"] = lease.value if lease else None
    state["lease_heartbeat"] = aware(lease.updated_at).isoformat() if lease else None
    return state


def check(state: dict[str, Any], now: datetime, interval_minutes: float) -> tuple[bool, str]:
    """Healthy when a cycle ran to its end within two sync intervals. A cycle in which some
    items failed (each reported) counts, as degraded: one item that keeps failing must not
    make a supervisor restart a worker that syncs everything else."""
    last = state.get("last_completed") or state.get("last_success")
    if not last:
        return False, "unhealthy: no completed sync recorded yet"
    age = now - datetime.fromisoformat(last)
    limit = timedelta(minutes=2 * interval_minutes)
    verdict = "healthy" if age <= limit else "unhealthy"
    degraded = " (degraded: some items failed; see status)" \
        if state.get("last_outcome") == "failed" else ""
    return age <= limit, (f"{verdict}: last completed sync {int(age.total_seconds())} s ago "
                          f"(limit {int(limit.total_seconds())} s){degraded}")
