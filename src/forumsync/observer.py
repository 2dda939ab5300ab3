"""Observing both sides: what changed since the cursors, as plain records for the planner.

Observation is incremental. GitHub: the pull list since the last cursor behind an ETag
(a 304 costs no rate limit), the default branch head behind an ETag, and details (files,
head document, events) only for pull requests that changed. Discourse: the listing of each
watched category (it carries every topic's tags and category, so a retag shows without
reading each topic), then posts and revisions only for threads that changed, and the
threads linked or newly named that no listing shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from forumsync import echo
from forumsync.actions import ProblemNote
from forumsync.config import Config
from forumsync.cursors import CURSOR_OVERLAP, Cursors
from forumsync.errors import NotFound, ServiceError
from forumsync.links import ThreadRef, thread_refs_in
from forumsync.logs import progress
from forumsync.observation import Committee, Observation, PullObservation, ThreadObservation
from forumsync.records import Activity, PullRecord, SpecDocument, TopicSummary
from forumsync.specfiles import is_spec_path
from forumsync.state import StoredState

if TYPE_CHECKING:
    from forumsync.forum import ForumClient
    from forumsync.repo import RepoClient

HISTORY_READS = 100  # at most, once per SPEC: versions read back for a `discussion:` link


@dataclass
class Clients:
    forum: ForumClient
    repo: RepoClient


class Observer:
    """Reads what changed on both sides since the cursors; one failed item does not stop it."""

    def __init__(self, config: Config, clients: Clients, stored: StoredState, cursors: Cursors,
                 now: datetime) -> None:
        self.config = config
        self.forum = clients.forum
        self.repo = clients.repo
        self.stored = stored
        self.cursors = cursors
        self.now = now
        self.failures: list[str] = []
        self.problems: list[ProblemNote] = []  # bad data, not failures: reported, not retried
        self.failed_pulls: set[int] = set()
        self.failed_paths: set[str] = set()

    def observe(self) -> Observation:
        pulls: dict[int, PullObservation] = {}
        docs: dict[str, SpecDocument] = {}
        threads: dict[int, ThreadObservation] = {}
        core: frozenset[str] = frozenset()
        removed: frozenset[str] = frozenset()
        try:
            pulls = self._pulls()
        except ServiceError as exc:
            self.failures.append(str(exc))
        try:
            docs, core, removed = self._main_docs()
        except ServiceError as exc:
            self.failures.append(str(exc))
        history = self._history_discussions(docs)
        try:
            threads = self._threads(self._named_topics(pulls, docs, history)
                                    | self._linked_by_hand_anew())
        except ServiceError as exc:
            self.failures.append(str(exc))
        committee = self._committee(pulls, threads)
        return Observation(now=self.now, pulls=pulls, threads=threads, main_docs=docs,
                           core_projects=core, committee=committee,
                           slugs=self._slugs(pulls, docs, history),
                           own_accounts=self._own_accounts(pulls), history_discussions=history,
                           removed_paths=removed)

    # --- GitHub ------------------------------------------------------------------------------

    def _pulls(self) -> dict[int, PullObservation]:
        since = self.cursors.pulls_since
        listed, etag = self.repo.pulls_updated_since(
            since - CURSOR_OVERLAP if since else None, self.cursors.pulls_etag)
        self.cursors.read_pulls_etag = etag
        changed = []
        for pull in listed:
            self.cursors.read_pulls[pull.number] = pull.updated_at
            before = self.stored.pulls.get(pull.number)
            if before is None or before.updated_at != pull.updated_at:
                changed.append(pull)  # else listed again only for the cursor's overlap
        self.cursors.echoes = self._own_echoes(changed)
        seen: dict[int, PullObservation] = {}
        limited = False
        for done, pull in enumerate(changed, 1):
            progress("pull requests", done, len(changed))
            if pull.number in self.cursors.echoes:
                continue  # only the service's own writes changed it
            if limited:  # out of requests: the rest waits for the next cycle
                self.failed_pulls.add(pull.number)
                continue
            try:
                seen[pull.number] = self._pull_details(pull)
            except ServiceError as exc:
                self.failures.append(str(exc))
                self.failed_pulls.add(pull.number)
                self.problems.append(ProblemNote("sync-failed", f"pr-{pull.number}",
                                                 f"reading PR #{pull.number} failed: {exc}"))
                limited = exc.rate_limited
        if limited:
            self.failures.append(f"github: rate limited; {len(self.failed_pulls)} pull requests "
                                 "wait for the next cycle")
        return seen

    def _own_echoes(self, changed: list[PullRecord]) -> dict[int, datetime]:
        """The changed PRs that only the service's own writes changed (see forumsync.echo),
        with their updated_at: one read of the repository's comments since those writes, if
        there are at least `echo.BULK` of them and it costs fewer pages than reading the PRs
        would. A PR a webhook delivery not yet handled names (a review, which no listing
        shows) is read."""
        writes = {p.number: self.cursors.own_writes[p.number] for p in changed
                  if p.number in self.cursors.own_writes and p.number not in self.cursors.named
                  and self.cursors.own_writes[p.number].matches(p)}
        if len(writes) < echo.BULK:
            return {}  # few: reading each back costs little and misses no review
        try:
            comments = self.repo.comment_ids_since(min(w.since for w in writes.values()),
                                                   max_pages=len(writes))
        except ServiceError:
            comments = None
        if comments is None:
            return {}  # read each of them instead
        people = echo.people_commented(writes, comments)
        return {p.number: p.updated_at for p in changed
                if p.number in writes and p.number not in people}

    def _pull_details(self, pull: PullRecord) -> PullObservation:
        """Files and front matter are read again only when the PR's head or state moved (a
        comment, a label or the service's own write bumps a PR without changing them)."""
        before = self.stored.pulls.get(pull.number)
        state = "merged" if pull.merged else pull.state
        unchanged = before is not None and bool(before.spec_ids) and bool(pull.head_sha) \
            and before.head_sha == pull.head_sha and before.state == state
        files = () if unchanged else tuple(self.repo.pull_files(pull.number))
        head_doc = None
        spec_files = [f for f in files if is_spec_path(f.filename) and f.status != "removed"]
        tracked = bool(spec_files) or (before is not None and bool(before.spec_ids))
        if spec_files and pull.state == "open":
            first = spec_files[0]  # an added file's text comes with its patch, if of the head
            text = first.text if pull.head_sha and first.ref == pull.head_sha else None
            head_doc = self._document(first.filename, pull.head_sha or "HEAD",
                                      f"pr-{pull.number}", text)
        history = self._is_quiet_history(pull)
        events = tuple(self.repo.issue_events(pull.number)) if self._needs_events(
            pull, tracked) and not (history and pull.merged) else ()
        activity, comments = None, None
        if tracked and history:  # its latest comment is not needed to judge anything
            activity = Activity(pull.updated_at, "", "updated")
        elif tracked:
            activity, comments = self.repo.pull_timeline(pull.number)
        return PullObservation(pull, files, head_doc, events, activity, comments)

    def _is_quiet_history(self, pull: PullRecord) -> bool:
        """A PR last updated before the announce window, seen by a first run: nothing about
        it is announced, so neither its timeline (its latest comment: its updated_at stands
        in) nor, once merged, its events (a merge counts as the committee's; its front matter
        gives the stage) are read. A closed, unmerged PR's events are still read: who closed
        it decides who may reopen it."""
        window = timedelta(days=self.config.sync.announce_window_days)
        return self.stored.first_sync_at is None and pull.updated_at < self.now - window

    def _needs_events(self, pull: PullRecord, touches_spec: bool) -> bool:
        """Events name who added or removed a stage label or closed a PR; read them only
        then. Labels compare without regard to case, as GitHub does."""
        before = self.stored.pulls.get(pull.number)
        stage_labels = {n.casefold() for n in self.config.github.stage_labels.values()}
        now_labels = {n.casefold() for n in pull.labels}
        before_labels = {n.casefold() for n in (before.labels if before else ())}
        if (now_labels ^ before_labels) & stage_labels:
            return True
        state = "merged" if pull.merged else pull.state
        if before is None:
            return touches_spec and state in ("closed", "merged")  # who closed or merged it
        return before.state != state

    def _main_docs(self) -> tuple[dict[str, SpecDocument], frozenset[str], frozenset[str]]:
        """SPEC files changed on the default branch, the Core Projects, and the SPEC files
        removed from it."""
        head, etag = self.repo.default_branch_head(self.cursors.head_etag)
        if head is None or head == self.cursors.head_sha:
            return {}, frozenset(), frozenset()
        blobs = self.repo.spec_files(head)
        changed = [p for p, sha in blobs.items() if self.cursors.blobs.get(p) != sha]
        docs = {}
        for path in sorted(changed):
            try:
                doc = self._document(path, head, f"file:{path}")
            except ServiceError as exc:
                self.failures.append(str(exc))
                self.failed_paths.add(path)
                continue
            if doc is not None:
                docs[path] = doc
        try:
            core = frozenset(self.repo.core_projects(head))
        except NotFound:
            core = frozenset()  # no Core Project folder: every endorser counts
        self.cursors.read_head, self.cursors.read_blobs = (head, etag), blobs
        return docs, core, frozenset(self.cursors.blobs.keys() - blobs.keys())

    def _document(self, path: str, ref: str, scope: str,
                  text: str | None = None) -> SpecDocument | None:
        """A SPEC file's front matter, from `text` when known; a malformed one is a problem
        to report, not a failure to retry: it is read again when the file changes (and heals
        once `scope`, the PR or the file on main, reads fine)."""
        try:
            return self.repo.spec_document(path, ref, text)
        except ServiceError as exc:
            if exc.transient:
                raise
            self.problems.append(ProblemNote("bad-spec-file", f"{path}@{ref}", str(exc), scope))
            return None

    def _history_discussions(self, docs: dict[str, SpecDocument]) -> dict[str, str | None]:
        """Older SPECs lost `discussion:` in January 2025: for a file without it whose SPEC
        has no thread, the link of the file's last version that had one. Read once per SPEC
        (the planner remembers the answer, found or not)."""
        known = {s.path: s for s in self.stored.specs if s.path}
        found: dict[str, str | None] = {}
        for path, doc in sorted(docs.items()):
            spec = known.get(path)
            if doc.discussion is not None or (spec is not None and (
                    spec.thread_id is not None or spec.history_read)):
                continue
            try:
                found[path] = self._discussion_in_history(path)
            except ServiceError as exc:
                self.failures.append(str(exc))
        return found

    def _discussion_in_history(self, path: str) -> str | None:
        for sha in self.repo.file_commits(path)[1:HISTORY_READS + 1]:  # [0]: today's file
            try:
                doc = self.repo.spec_document(path, sha)
            except ServiceError as exc:
                if exc.transient:
                    raise
                continue  # an old version that does not parse is history, not a problem
            if doc is not None and doc.discussion is not None:
                return doc.discussion
        return None

    # --- Discourse ---------------------------------------------------------------------------

    def _threads(self, named: set[int]) -> dict[int, ThreadObservation]:
        """The watched categories' listings, details of what changed there, and the threads
        linked or named this cycle that the listings do not show."""
        linked = {s.thread_id for s in self.stored.specs if s.thread_id is not None}
        lost = {s.lost_thread_id for s in self.stored.specs if s.lost_thread_id is not None}
        categories = {self.config.discourse.ideas_category_id}
        if self.config.discourse.accepted_category_id:
            categories.add(self.config.discourse.accepted_category_id)
        categories |= {self.stored.threads[t].category_id for t in linked | lost
                       if t in self.stored.threads and self.stored.threads[t].category_id}
        listed: dict[int, TopicSummary] = {}
        for category in sorted(c for c in categories if c):
            for topic in self.forum.category_topics(category):
                listed[topic.id] = topic
        seen: dict[int, ThreadObservation] = {}
        for done, topic in enumerate(listed.values(), 1):
            progress("forum topics", done, len(listed))
            before = self.stored.threads.get(topic.id)
            if before is not None and not before.deleted and before.tags == topic.tags and \
                    before.category_id == topic.category_id and \
                    before.last_posted_at == topic.last_posted_at:
                continue  # nothing new on this thread
            try:
                seen[topic.id] = self._thread_details(topic.id, before is None or (
                    before.tags != topic.tags or before.category_id != topic.category_id))
            except ServiceError as exc:
                self.failures.append(str(exc))
        known_gone = {t for t, state in self.stored.threads.items() if state.deleted}
        for topic_id in sorted((linked | named) - set(listed) - known_gone):
            try:  # moved elsewhere, deleted, or named by a PR or a SPEC file for the first time
                seen[topic_id] = self._thread_details(topic_id, True)
            except ServiceError as exc:
                if exc.transient:
                    self.failures.append(str(exc))
                else:  # it cannot be read: for linking, as good as gone
                    seen[topic_id] = self._gone(topic_id)
        return seen

    def _named_topics(self, pulls: dict[int, PullObservation], docs: dict[str, SpecDocument],
                      history: dict[str, str | None]) -> set[int]:
        """Topic ids that PR bodies and SPEC files read this cycle link to."""
        texts = [seen.pull.body for seen in pulls.values()]
        texts += [seen.head_doc.discussion for seen in pulls.values() if seen.head_doc]
        texts += [doc.discussion for doc in docs.values()] + list(history.values())
        return {ref.topic_id for text in texts if text
                for ref in thread_refs_in(text, self.config.discourse.url)
                if isinstance(ref, ThreadRef) and ref.topic_id is not None}

    def _linked_by_hand_anew(self) -> set[int]:
        """Topics linked by hand that are not their SPEC's thread yet: read once, so a
        topic that does not exist is reported, not linked."""
        if not any(self.stored.manual_links.values()):
            return set()  # the usual case: no SPEC is scanned
        linked = {s.introducing_pr: s.thread_id for s in self.stored.specs if s.introducing_pr}
        return {topic for pr, topic in self.stored.manual_links.items()
                if topic is not None and linked.get(pr) != topic}

    def _gone(self, topic_id: int) -> ThreadObservation:
        stored = self.stored.threads.get(topic_id)
        return ThreadObservation(topic_id, stored.slug if stored else "", "", None, (),
                                 self.now, None, deleted=True)

    def _thread_details(self, topic_id: int, read_revisions: bool) -> ThreadObservation:
        topic = self.forum.topic(topic_id)
        if topic is None:
            return self._gone(topic_id)
        revisions = ()
        first = topic.first_post
        stage_tags = set(self.config.discourse.stage_tags.values())
        accepted = self.config.discourse.accepted_category_id
        before = self.stored.threads.get(topic_id)
        tags_seen = set(topic.tags) | set(before.tags if before else ())  # added or removed
        marked = bool(stage_tags & tags_seen) or (accepted and topic.category_id == accepted)
        if read_revisions and first is not None and marked:
            # from the last one read: Discourse folds a quick second edit into it
            revisions = tuple(self.forum.first_post_revisions(
                first.id, max(1, before.revision - 1) if before else 1))
        return ThreadObservation(topic.id, topic.slug, topic.title, topic.category_id,
                                 topic.tags, topic.created_at, topic.last_posted_at,
                                 topic.posts, revisions)

    def _slugs(self, pulls: dict[int, PullObservation], docs: dict[str, SpecDocument],
               history: dict[str, str | None]) -> dict[str, int]:
        slugs: dict[str, int] = {}
        sources = [(seen.pull.body, seen.head_doc.discussion if seen.head_doc else None)
                   for seen in pulls.values()]
        sources += [(None, doc.discussion) for doc in docs.values()]
        sources += [(None, discussion) for discussion in history.values()]
        for texts in sources:
            for text in filter(None, texts):
                for ref in thread_refs_in(text, self.config.discourse.url):
                    if not isinstance(ref, ThreadRef) or ref.topic_id is not None:
                        continue
                    if ref.slug and ref.slug not in slugs:
                        found = self._by_slug(ref.slug)
                        if found is not None:
                            slugs[ref.slug] = found
        return slugs

    def _by_slug(self, slug: str) -> int | None:
        try:
            found = self.forum.topic_by_slug(slug)
        except ServiceError as exc:
            self.failures.append(str(exc))
            return None
        return found.id if found else None


    # --- authority ---------------------------------------------------------------------------

    def _own_accounts(self, pulls: dict[int, PullObservation]) -> frozenset[str]:
        """The service's own logins; GitHub's is asked only when events need judging."""
        own = {self.config.discourse.api_username}
        if any(p.events for p in pulls.values()):
            try:
                login = self.repo.own_login()
            except ServiceError as exc:
                self.failures.append(str(exc))
                login = None
            if login:
                own.add(login)
        return frozenset(own)

    def _committee(self, pulls: dict[int, PullObservation],
                   threads: dict[int, ThreadObservation]) -> Committee:
        """Committee lists, read only in a cycle that has a change to judge."""
        retagged = any(t.tags != self.stored.threads[t.id].tags
                       or t.category_id != self.stored.threads[t.id].category_id
                       for t in threads.values() if t.id in self.stored.threads)
        if not retagged and not any(p.events for p in pulls.values()) and not any(
                t.revisions for t in threads.values()):
            return Committee(None, None)
        github = forum = None
        try:
            github = self.repo.team_members(self.config.github.committee_team)
        except ServiceError as exc:
            self.failures.append(str(exc))
        try:
            forum = self.forum.group_members(self.config.discourse.committee_group)
        except ServiceError as exc:
            self.failures.append(str(exc))
        return Committee(github, forum)
