"""Where the last cycle stopped reading GitHub, and what this cycle read: saved only after
the cycle's writes, and never past an item that failed, so a failure is read again."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from forumsync import echo, store

PULLS_CURSOR = "github:pulls"
HEAD_CURSOR = "github:default-branch"
BLOBS_CURSOR = "github:spec-blobs"
# Re-read PRs a little before the cursor: GitHub's updated_at ordering is not transactional.
CURSOR_OVERLAP = timedelta(minutes=2)


@dataclass
class Cursors:
    """Where the last cycle stopped reading; `read_*` hold what this cycle read."""

    pulls_since: datetime | None
    pulls_etag: str | None
    head_sha: str | None
    head_etag: str | None
    blobs: dict[str, str]
    read_pulls: dict[int, datetime] = field(default_factory=dict)  # PR -> updated_at
    read_pulls_etag: str | None = None
    read_head: tuple[str, str | None] | None = None  # (sha, etag) when the head moved
    read_blobs: dict[str, str] | None = None
    own_writes: dict[int, echo.OwnWrite] = field(default_factory=dict)  # the last cycle's
    echoes: dict[int, datetime] = field(default_factory=dict)  # PR -> updated_at, own echo
    named: frozenset[int] = frozenset()  # PRs named by webhook deliveries not handled yet

    @classmethod
    def load(cls, session: Session) -> Cursors:
        pulls = store.get_cursor(session, PULLS_CURSOR)
        head = store.get_cursor(session, HEAD_CURSOR)
        blobs = store.get_cursor(session, BLOBS_CURSOR)
        return cls(
            pulls_since=datetime.fromisoformat(pulls.value) if pulls and pulls.value else None,
            pulls_etag=pulls.etag if pulls else None,
            head_sha=head.value if head else None,
            head_etag=head.etag if head else None,
            blobs=json.loads(blobs.value) if blobs and blobs.value else {},
            own_writes=echo.load(session),
            named=store.pulls_named_by_pending_deliveries(session),
        )

    def save(self, session: Session, failed_pulls: set[int], failed_paths: set[str],
             own_writes: dict[int, echo.OwnWrite]) -> None:
        """Move each cursor past what was read, but not past an item that failed; remember
        this cycle's `own_writes` and the last cycle's that no PR list showed yet."""
        unseen = {n: w for n, w in self.own_writes.items() if n not in self.read_pulls}
        echo.save(session, unseen | own_writes)
        since, etag = self.pulls_since, self.read_pulls_etag or self.pulls_etag
        if self.read_pulls:
            failed = [t for n, t in self.read_pulls.items() if n in failed_pulls]
            if failed:  # read again from just before the oldest failure, without the ETag
                since, etag = min(failed) - timedelta(microseconds=1), None
            else:
                since = max(self.read_pulls.values())
        store.set_cursor(session, PULLS_CURSOR, since.isoformat() if since else None, etag)
        head, head_etag, blobs = self.head_sha, self.head_etag, self.blobs
        if self.read_head is not None and self.read_blobs is not None:
            blobs = {p: sha for p, sha in self.read_blobs.items() if p not in failed_paths}
            if not failed_paths:
                head, head_etag = self.read_head
        store.set_cursor(session, HEAD_CURSOR, head, head_etag)
        store.set_cursor(session, BLOBS_CURSOR, json.dumps(blobs, sort_keys=True))
