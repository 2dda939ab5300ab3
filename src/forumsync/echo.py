"""The service's own writes to pull requests, remembered so that the cycle after many of
them need not read them all back, without hiding a person's change (but one, below).

A label or comment the service writes moves the PR's `updated_at`, so the next cycle's PR
list shows every PR it wrote to as changed. Reading each one back (its timeline) made the
cycle after a first sync of N SPECs cost N requests. Instead, a PR listed again is taken as
the service's own echo only when all of these hold:

- its `updated_at` is not later than GitHub's time (the Date header) of the service's last
  write to it: anything after that write moves it further;
- every field the list shows (title, body, state, merge, head commit, author) is what the
  service read before writing, and its labels are exactly the ones the service planned: a
  person's edit, push, close or label in between shows there;
- no comment on it was written or edited since just before the cycle that wrote read it
  (by GitHub's clock: the Date of that PR list read), except the service's own; one
  repository-wide read of comments since then serves all such PRs, unless it would take
  more pages than there are PRs to check;
- no webhook delivery that a cycle has not handled yet names it.

This is for the cycle after many writes (a first sync, a mass retag): with fewer than `BULK`
PRs to check, each is read back, which costs little and misses nothing. With `BULK` or more,
what stays unseen: a review (which no listing shows, and whose body and review comments are
not issue comments) submitted between the service's read of the PR and the second of its
last write there, without a webhook; the PR's next change shows its activity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from forumsync import store
from forumsync.records import PullRecord
from forumsync.state import PullState

OWN_WRITES_CURSOR = "github:own-writes"
BULK = 100  # PRs to check, at least: one page of the PR list's worth


@dataclass(frozen=True)
class OwnWrite:
    """One PR just after the service wrote to it."""

    since: datetime  # just before the cycle that wrote read it (GitHub's clock): comments
    # from then on count
    at: datetime  # GitHub's time of the service's last write to it
    listing: str  # `listing_print` of the PR as read, with the labels planned
    comments: frozenset[int] = frozenset()  # the comments the service wrote on it

    def matches(self, pull: PullRecord) -> bool:
        """The PR as listed now shows nothing but the service's own writes."""
        return pull.updated_at <= self.at and listing_print(pull, pull.labels) == self.listing


def listing_print(pull: PullRecord, labels: Iterable[str]) -> str:
    """A digest of what the PR list shows of a PR, with `labels` (compared without case)."""
    shown = [pull.title, pull.body, pull.state, pull.merged, pull.head_sha, pull.author,
             pull.merged_at and pull.merged_at.isoformat(),
             pull.closed_at and pull.closed_at.isoformat(),
             sorted({name.casefold() for name in labels})]
    return hashlib.sha256(json.dumps(shown).encode("utf-8")).hexdigest()


def remembered(written: Mapping[int, tuple[datetime | None, frozenset[int]]],
               read: Mapping[int, PullRecord], planned: Mapping[int, PullState],
               failed: set[int], since: datetime) -> dict[int, OwnWrite]:
    """This cycle's writes (PR -> GitHub's time of the last one, own comments) worth
    remembering: to PRs read this cycle (the list's fields are known) whose writes all went
    through, with the labels planned for them. `since`: before this cycle's reads."""
    return {number: OwnWrite(since, at, listing_print(read[number], planned[number].labels),
                             comments)
            for number, (at, comments) in written.items()
            if at is not None and number in read and number in planned
            and number not in failed}


def people_commented(writes: Mapping[int, OwnWrite],
                     comments: Mapping[int, frozenset[int]]) -> set[int]:
    """The PRs among `writes` with a comment (id, by PR) that is not the service's own."""
    return {number for number, write in writes.items()
            if comments.get(number, frozenset()) - write.comments}


def load(session: Session) -> dict[int, OwnWrite]:
    row = store.get_cursor(session, OWN_WRITES_CURSOR)
    if row is None or not row.value:
        return {}
    return {int(number): OwnWrite(datetime.fromisoformat(item["since"]),
                                  datetime.fromisoformat(item["at"]), item["listing"],
                                  frozenset(item["comments"]))
            for number, item in json.loads(row.value).items()}


def save(session: Session, writes: Mapping[int, OwnWrite]) -> None:
    value = {str(number): {"since": w.since.isoformat(), "at": w.at.isoformat(),
                           "listing": w.listing, "comments": sorted(w.comments)}
             for number, w in sorted(writes.items())}
    store.set_cursor(session, OWN_WRITES_CURSOR, json.dumps(value) if value else None)
