"""The pure planning core: what was seen plus what was remembered, turned into a plan.

`plan_cycle` holds every rule of DESIGN.md's "What it does" (the digest aside): tracking
SPECs, linking threads, deciding stage changes by authority, mirroring them as markers and
notes, and announcing pull requests. It does no I/O; the executor carries out its plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from forumsync import texts
from forumsync.actions import (
    CommentOnPull,
    CreateThread,
    MoveThread,
    Plan,
    ProblemNote,
    ReplyOnThread,
    SetPullLabels,
    SetThreadTags,
    SpecPlan,
    StageChange,
)
from forumsync.config import Config
from forumsync.links import (
    BadThreadRef,
    ThreadRef,
    parse_thread_url,
    pull_numbers_in,
    thread_refs_in,
)
from forumsync.markers import PREFIX as MARKER_PREFIX
from forumsync.markers import is_own
from forumsync.observation import Observation, PullObservation, ThreadObservation
from forumsync.records import Activity, SpecDocument
from forumsync.specfiles import is_spec_path
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StoredState, ThreadState

_UNREADABLE = "the committee list could not be read"
NEW_SPEC_LABEL = "New SPEC"
ENDORSEMENT_LABEL = "SPEC endorsement"
NEW_THREAD_KEY = "newthread:pr-"


@dataclass(frozen=True)
class PlanSettings:
    forum_url: str
    repo: str
    github_url: str  # the web address: github.com or a GitHub Enterprise host
    ideas_category_id: int
    accepted_category_id: int
    stage_labels: dict[str, str]
    stage_tags: dict[str, str]
    announce_window_days: int = 7

    @classmethod
    def from_config(cls, config: Config) -> PlanSettings:
        return cls(
            forum_url=config.discourse.url,
            repo=config.github.repo,
            github_url=config.github.web_url,
            ideas_category_id=config.discourse.ideas_category_id,
            accepted_category_id=config.discourse.accepted_category_id,
            stage_labels=dict(config.github.stage_labels),
            stage_tags=dict(config.discourse.stage_tags),
            announce_window_days=config.sync.announce_window_days,
        )

    def label(self, stage: Stage) -> str | None:
        return self.stage_labels.get(stage.value)

    def tag(self, stage: Stage) -> str | None:
        return self.stage_tags.get(stage.value)

    def thread_url(self, topic_id: int, slug: str = "") -> str:
        return f"{self.forum_url.rstrip('/')}/t/{slug or 'topic'}/{topic_id}"

    def pull_url(self, number: int) -> str:
        return f"{self.github_url}/{self.repo}/pull/{number}"


@dataclass(frozen=True)
class Signal:
    """A stage change seen on one side, before authority is decided."""

    to_stage: Stage
    actor: str
    side: str  # github, discourse
    at: datetime
    kind: str  # label, tag, category, opened, closed, reopened, front_matter
    source: str  # "pr-12" or "topic-40": where it happened
    url: str


def plan_cycle(obs: Observation, stored: StoredState, settings: PlanSettings) -> Plan:
    """Turn one cycle's observation and the remembered state into a plan."""
    return _Cycle(obs, stored, settings).plan()


def stage_of_document(doc: SpecDocument, core_projects: frozenset[str]) -> Stage:
    """The stage a SPEC file on the default branch says: draft, published or endorsed."""
    return _file_stage(doc.is_draft, endorsements(doc, core_projects))


def _file_stage(is_draft: bool, core_endorsements: tuple[str, ...]) -> Stage:
    if is_draft:
        return Stage.DRAFT
    return Stage.ENDORSED if len(core_endorsements) >= 2 else Stage.PUBLISHED


def endorsements(doc: SpecDocument, core_projects: frozenset[str]) -> tuple[str, ...]:
    """Core Projects in `endorsed-by` (all of them when the Core Project list is unknown)."""
    return tuple(p for p in doc.endorsed_by if not core_projects or p in core_projects)


class _Cycle:
    """One planning pass; methods are the steps, in the order `plan` runs them."""

    def __init__(self, obs: Observation, stored: StoredState, settings: PlanSettings) -> None:
        self.obs = obs
        self.stored = stored
        self.settings = settings
        self.result = Plan()
        self.specs: list[SpecPlan] = [_from_state(s) for s in stored.specs]
        self.touched: set[int] = set()  # indexes into self.specs
        first = stored.first_sync_at or obs.now
        self.quiet_before = first - timedelta(days=settings.announce_window_days)
        self.signals: dict[int, list[Signal]] = {}
        self.fresh: set[str] = set()  # keys of SPECs first seen this cycle (no stage before)
        self.dropped: set[int] = set()  # new ideas merged into a PR's SPEC this cycle
        self.deferred: set[int] = set()  # changes that could not be judged: judged next cycle

    # --- driver --------------------------------------------------------------------------

    def plan(self) -> Plan:
        unattached = [seen for number, seen in sorted(self.obs.pulls.items())
                      if not self._track_pull(seen)]
        for path in sorted(self.obs.main_docs):
            self._track_main_doc(self.obs.main_docs[path])
        for seen in unattached:  # an edit to a SPEC first seen on main in this same cycle
            self._attach_by_path(seen)
        for pr, topic in self.stored.manual_links.items():  # applied even if nothing changed
            index = self._find("introducing_pr", pr)
            if index is not None and self.specs[index].thread_id != topic:
                self._touch(index)
        for topic_id in sorted(self.obs.threads):
            self._track_thread(self.obs.threads[topic_id])
        for index in sorted(self.touched):
            self._link(index)
        for index in sorted(self.touched):
            self._drop_deleted_thread(index)
        for index in sorted(self.touched):
            self._collect_marker_signals(index)
        for index in sorted(self.touched):
            self._decide(index)
            self._converge_markers(index)
        self._remember_observed()
        self._report_number_clashes()
        self.result.specs = [self.specs[i] for i in sorted(self.touched)
                             if i not in self.dropped and i not in self.deferred
                             and not _absorbed(self.specs[i], self.specs)]
        for index in self.deferred:  # applied as a whole next cycle: read it all again then
            spec = self.specs[index]
            self.result.deferred_pulls.update(spec.pulls)
            self.result.deferred_pulls.update([spec.introducing_pr] if spec.introducing_pr
                                              else [])
            self.result.deferred_paths.update([spec.path] if spec.path else [])
            self.result.problems.extend(spec.problems)
        return self.result

    # --- tracking --------------------------------------------------------------------------

    def _find(self, field: str, value: object) -> int | None:
        for index, spec in enumerate(self.specs):
            if getattr(spec, field) == value and not _absorbed(spec, self.specs):
                return index
        return None

    def _touch(self, index: int) -> SpecPlan:
        self.touched.add(index)
        return self.specs[index]

    def _track_pull(self, seen: PullObservation) -> bool:
        """Find or start the SPEC a PR belongs to; False when it belongs to none (yet)."""
        pull = seen.pull
        added = sorted(f.filename for f in _spec_files(seen) if f.status == "added")
        index = self._find("introducing_pr", pull.number)
        before = self.stored.pulls.get(pull.number)
        if index is None and not seen.files and before is not None and before.spec_id:
            owner = self._find("spec_id", before.spec_id)  # files unchanged: not re-read
            if owner is not None:
                spec = self._touch(owner)
                spec.pulls += (pull.number,)
                _note_pull_activity(spec, seen)
            return True
        if index is None and self._attach_by_path(seen):
            return True
        if index is None:
            if not added and NEW_SPEC_LABEL not in pull.labels:
                return False  # not about a SPEC (or about one not known yet)
            if not added:
                self.result.problems.append(ProblemNote(
                    "no-spec-file", f"pr-{pull.number}",
                    f"PR #{pull.number} is labelled {NEW_SPEC_LABEL!r} but adds no SPEC file"))
                return True
            self.specs.append(SpecPlan(key=f"pr-{pull.number}", spec_id=None, stage=Stage.DRAFT,
                                       introducing_pr=pull.number, title=pull.title))
            self.fresh.add(f"pr-{pull.number}")
            index = len(self.specs) - 1
        spec = self._touch(index)
        spec.pulls += (pull.number,)
        if seen.head_doc is not None and pull.state == "open":
            spec.number = seen.head_doc.number if seen.head_doc.number is not None else spec.number
            spec.title = seen.head_doc.title or spec.title
        if pull.merged and spec.path is None and added:
            spec.path = added[0]
        _note_pull_activity(spec, seen)
        self._pull_signals(index, seen)
        return True

    def _attach_by_path(self, seen: PullObservation) -> bool:
        """An edit, publication, endorsement or rename of a SPEC already known by its file."""
        files = _spec_files(seen)
        removed = sorted(f.filename for f in files if f.status == "removed")
        added = sorted(f.filename for f in files if f.status == "added")
        renames = {f.previous_filename: f.filename for f in files
                   if f.status == "renamed" and f.previous_filename}
        if len(added) == 1 and len(removed) == 1:  # a rename shown as delete plus add
            renames.setdefault(removed[0], added[0])
        touched = sorted({f.filename for f in files if f.status != "added"} | set(renames))
        for path in touched:
            index = self._find("path", path)
            if index is not None:
                spec = self._touch(index)
                spec.pulls += (seen.pull.number,)
                _note_pull_activity(spec, seen)
                if seen.pull.merged and path in renames:
                    spec.path = renames[path]  # renumbered or renamed on main
                return True
        return False

    def _track_main_doc(self, doc: SpecDocument) -> None:
        index = self._find("path", doc.path)
        if index is None:
            index = self._introducer_of(doc.path)
        if index is None:
            stage = stage_of_document(doc, self.obs.core_projects)
            self.specs.append(SpecPlan(key=doc.path, spec_id=None, stage=stage, path=doc.path))
            self.fresh.add(doc.path)
            index = len(self.specs) - 1
        spec = self._touch(index)
        spec.path = doc.path
        spec.number = doc.number if doc.number is not None else spec.number
        spec.title = doc.title or spec.title
        before_draft, before_endorsed = spec.is_draft, spec.endorsed_by
        if before_draft is None and spec.key not in self.fresh and spec.introducing_pr:
            before_draft = True  # a SPEC PR is a draft until its file lands on main
        spec.is_draft = doc.is_draft
        spec.endorsed_by = endorsements(doc, self.obs.core_projects)
        if before_draft is None:
            new_stage = stage_of_document(doc, self.obs.core_projects)
            if spec.stage in (Stage.IDEA, Stage.ACCEPTED, Stage.DRAFT) and new_stage != spec.stage:
                self._signal(index, Signal(new_stage, "", "github", self.obs.now, "front_matter",
                                           doc.path, self._doc_url(doc.path)))
            return
        merged = self._merging_pull(doc.path)
        at = merged.pull.merged_at if merged and merged.pull.merged_at else self.obs.now
        url = (merged.pull.html_url or self.settings.pull_url(merged.pull.number)) if merged \
            else self._doc_url(doc.path)
        actor = (merged.pull.merged_by or _last_actor(merged, "merged")) if merged else ""
        name = texts.spec_name(spec.number, spec.introducing_pr)
        by = f"pr-{merged.pull.number}" if merged else "main"
        if before_draft and not doc.is_draft:
            self._announce(index, at, f"published:{doc.path}:{by}",
                           texts.published_note(name, url if merged else None))
        new_endorsers = [p for p in spec.endorsed_by if p not in before_endorsed]
        for count, project in enumerate(new_endorsers, start=len(before_endorsed) + 1):
            self._announce(index, at, f"endorsed:{doc.path}:{project}:{by}",
                           texts.endorsed_note(name, project, count, url if merged else None))
        new_stage = stage_of_document(doc, self.obs.core_projects)
        if new_stage != _file_stage(bool(before_draft), before_endorsed):
            self._signal(index, Signal(new_stage, actor, "github", at, "front_matter",
                                       doc.path, url))

    def _introducer_of(self, path: str) -> int | None:
        for number, seen in self.obs.pulls.items():
            added = {f.filename for f in seen.files if f.status == "added"}
            if path in added:
                return self._find("introducing_pr", number)
        return None

    def _merging_pull(self, path: str) -> PullObservation | None:
        merged = [s for s in self.obs.pulls.values() if s.pull.merged and any(
            f.filename == path for f in s.files)]
        return max(merged, key=lambda s: s.pull.merged_at or s.pull.updated_at, default=None)

    def _track_thread(self, thread: ThreadObservation) -> None:
        linked = self._find("thread_id", thread.id)
        if linked is not None:
            spec = self._touch(linked)
            _note_activity(spec, self._thread_activity(thread))
            return
        if thread.deleted or thread.category_id != self.settings.ideas_category_id:
            return
        if _is_category_definition(thread.title) or _opened_by_service(
                thread, self.obs.own_accounts):
            return
        self.specs.append(SpecPlan(key=f"topic-{thread.id}", spec_id=None, stage=Stage.IDEA,
                                   title=thread.title, thread_id=thread.id, link_method="idea",
                                   last_activity=self._thread_activity(thread)))
        self._touch(len(self.specs) - 1).changes.append(StageChange(
            None, Stage.IDEA, "", "discourse", thread.created_at, "initial", "thread in Ideas"))

    # --- linking ---------------------------------------------------------------------------

    def _link(self, index: int) -> None:
        spec = self.specs[index]
        pr = spec.introducing_pr
        if spec.link_method == "idea" and pr is None:
            return  # an idea is its own thread
        manual = self.stored.manual_links
        if pr is not None and pr in manual:
            topic = manual[pr]
            if topic is None:
                spec.thread_id, spec.link_method = None, None
            elif topic != spec.thread_id:
                self._claim(index, topic, "manual")
            return
        if spec.thread_id is not None and spec.link_method not in ("idea", "created"):
            return  # a link from the author or by hand stays until changed by hand
        for method, ref in self._candidates(index):
            if isinstance(ref, BadThreadRef):
                spec.problems.append(ProblemNote("bad-link", f"{spec.key}:{ref.url}", ref.reason))
                continue
            topic = ref.topic_id if ref.topic_id is not None else self.obs.slugs.get(ref.slug or "")
            if topic is None:
                spec.problems.append(ProblemNote(
                    "bad-link", f"{spec.key}:{ref.url}",
                    f"the discussion link {ref.url} names no thread that could be found"))
                continue
            if topic == spec.thread_id or self._claim(index, topic, method):
                return
            spec.link_refused = True

    def _candidates(self, index: int) -> list[tuple[str, ThreadRef | BadThreadRef]]:
        spec = self.specs[index]
        forum = self.settings.forum_url
        found: list[tuple[str, ThreadRef | BadThreadRef]] = []
        seen = self.obs.pulls.get(spec.introducing_pr or -1)
        if seen is not None:
            found += [("pr_body", ref) for ref in thread_refs_in(seen.pull.body, forum)]
            doc = seen.head_doc
            if doc is not None and doc.discussion is not None:
                found.append(("front_matter", parse_thread_url(doc.discussion, forum)))
        doc = self.obs.main_docs.get(spec.path or "")
        if doc is not None and doc.discussion is not None:
            found.append(("front_matter", parse_thread_url(doc.discussion, forum)))
        for thread in self.obs.threads.values():
            if thread.category_id != self.settings.ideas_category_id or not thread.posts:
                continue
            if _opened_by_service(thread, self.obs.own_accounts):
                continue  # our own thread for a PR: linked through its CreateThread key
            if any(spec.introducing_pr in pull_numbers_in(p.raw, self.settings.repo)
                   for p in thread.posts):
                found.append(("thread_post", ThreadRef(thread.id, thread.slug, "")))
        return found

    def _claim(self, index: int, topic: int, method: str) -> bool:
        """Link SPEC `index` to `topic` unless another SPEC with its own PR holds it."""
        spec = self.specs[index]
        holder = next((i for i, s in enumerate(self.specs)
                       if s.thread_id == topic and i != index and not _absorbed(s, self.specs)),
                      None)
        if holder is not None:
            other = self.specs[holder]
            if other.stage is Stage.WITHDRAWN and other.introducing_pr is not None:
                other.thread_id, other.link_method = None, None  # a new attempt takes over
                self._touch(holder)
            elif other.introducing_pr is not None or other.path is not None:
                spec.problems.append(ProblemNote(
                    "second-claimant", f"topic-{topic}:{spec.key}",
                    f"{spec.key} links thread {topic}, which is already the viability thread "
                    f"of {other.key}; not linked"))
                return False
            else:
                self._absorb(index, holder)
        spec.thread_id, spec.link_method = topic, method
        return True

    def _absorb(self, index: int, holder: int) -> None:
        """An idea thread gains its SPEC PR: one SPEC from now on, keeping the idea's history."""
        spec, idea = self.specs[index], self.specs[holder]
        if spec.spec_id is None:
            spec.spec_id, idea.spec_id = idea.spec_id, None
        elif idea.spec_id is not None:
            spec.absorbs += (idea.spec_id,)
        if spec.key in self.fresh and spec.path is None:  # a new PR: it moves on from the idea
            spec.stage = idea.stage
            self.fresh.discard(spec.key)
        spec.changes[:0] = idea.changes
        spec.problems += idea.problems
        _note_activity(spec, idea.last_activity)
        idea.thread_id = None
        self.touched.discard(holder)
        self.dropped.add(holder)

    # --- signals and decisions ---------------------------------------------------------------

    def _signal(self, index: int, signal: Signal) -> None:
        """Note a stage change; the service's own writes read back are not changes."""
        if signal.actor.lower() in {a.lower() for a in self.obs.own_accounts}:
            return
        self.signals.setdefault(index, []).append(signal)

    def _pull_signals(self, index: int, seen: PullObservation) -> None:
        pull = seen.pull
        before = self.stored.pulls.get(pull.number)
        if self.specs[index].introducing_pr != pull.number:
            return
        if self.specs[index].key in self.fresh:
            before = None  # first tracked as a SPEC now: its state so far is its history
        state = _pull_state(pull)
        source, url = f"pr-{pull.number}", pull.html_url or self.settings.pull_url(pull.number)
        if before is None:
            if state == "open":
                self._signal(index, Signal(Stage.DRAFT, pull.author, "github", pull.created_at,
                                           "opened", source, url))
            elif state == "closed":
                at = pull.closed_at or pull.updated_at
                self._signal(index, Signal(Stage.WITHDRAWN,
                                           _last_actor(seen, "closed") or pull.author,
                                           "github", at, "closed", source, url))
            return
        if before.state == "open" and state == "closed":
            at = pull.closed_at or pull.updated_at
            self._signal(index, Signal(Stage.WITHDRAWN, _last_actor(seen, "closed"), "github", at,
                                       "closed", source, url))
        elif before.state == "closed" and state == "open":
            at = _last_event_at(seen, "reopened") or pull.updated_at
            self._signal(index, Signal(Stage.DRAFT, _last_actor(seen, "reopened"), "github", at,
                                       "reopened", source, url))

    def _collect_marker_signals(self, index: int) -> None:
        spec = self.specs[index]
        seen_pull = self.obs.pulls.get(spec.introducing_pr or -1)
        if seen_pull is not None:
            before = self.stored.pulls.get(seen_pull.pull.number)
            added = set(seen_pull.pull.labels) - set(before.labels if before else ())
            for stage in Stage:
                name = self.settings.label(stage)
                if name and name in added:
                    at = _last_event_at(seen_pull, "labeled", name) or seen_pull.pull.updated_at
                    self._signal(index, Signal(
                        stage, _last_actor(seen_pull, "labeled", name), "github", at, "label",
                        f"pr-{seen_pull.pull.number}",
                        seen_pull.pull.html_url or self.settings.pull_url(seen_pull.pull.number)))
        thread = self.obs.threads.get(spec.thread_id or -1)
        if thread is not None and not thread.deleted:
            before_thread = self.stored.threads.get(thread.id)
            added = set(thread.tags) - set(before_thread.tags if before_thread else ())
            url = self.settings.thread_url(thread.id, thread.slug)
            for stage in Stage:
                name = self.settings.tag(stage)
                if name and name in added:
                    revision = _revision_adding(thread, name)
                    self._signal(index, Signal(
                        stage, revision.username if revision else "", "discourse",
                        revision.created_at if revision else thread.created_at, "tag",
                        f"topic-{thread.id}", url))
            accepted = self.settings.accepted_category_id
            moved = before_thread is not None and before_thread.category_id != thread.category_id
            if accepted and moved and thread.category_id == accepted:
                revision = next((r for r in reversed(thread.revisions)
                                 if r.category_after == accepted), None)
                self._signal(index, Signal(
                    Stage.ACCEPTED, revision.username if revision else "", "discourse",
                    revision.created_at if revision else self.obs.now, "category",
                    f"topic-{thread.id}", url))

    def _thread_activity(self, thread: ThreadObservation) -> Activity | None:
        """The latest post by a person: the service's own posts are not activity."""
        own = {a.lower() for a in self.obs.own_accounts}
        human = [p for p in thread.posts or () if p.username.lower() not in own
                 and not is_own(p.raw)]
        latest = max(human, key=lambda p: p.created_at, default=None)
        return Activity(latest.created_at, latest.username, "post") if latest else None

    def _drop_deleted_thread(self, index: int) -> None:
        spec = self.specs[index]
        seen = self.obs.threads.get(spec.thread_id or -1)
        if seen is not None and seen.deleted:
            spec.problems.append(ProblemNote(
                "thread-deleted", f"topic-{seen.id}",
                f"the viability thread {seen.id} of {spec.key} was deleted; the SPEC is unlinked"))
            spec.thread_id, spec.link_method = None, None

    def _authority(self, index: int, signal: Signal) -> str | None:
        """None when `signal` may change the stage; else why not."""
        if signal.kind in ("opened", "front_matter"):
            return None
        if self.specs[index].key in self.fresh and signal.at < self.quiet_before:
            return None  # history from before the service watched: taken as it is
        if not signal.actor:
            return "no one could be named for this change (no revision or event records it)"
        members = self.obs.committee.github if signal.side == "github" else \
            self.obs.committee.forum
        if signal.kind in ("closed", "reopened"):
            seen = self.obs.pulls.get(self.specs[index].introducing_pr or -1)
            if seen is not None and signal.actor == seen.pull.author:
                return None
        if members is None:
            return _UNREADABLE
        if signal.actor.lower() in {m.lower() for m in members}:  # both sites ignore case
            return None
        who = f"@{signal.actor}" if signal.actor else "an unknown account"
        return f"{who} is not on the committee on {texts.side_name(signal.side)}"

    def _decide(self, index: int) -> None:
        spec = self.specs[index]
        signals = sorted(self.signals.get(index, []), key=lambda s: (s.at, s.side == "github"))
        valid: list[Signal] = []
        for signal in signals:
            if signal.to_stage == spec.stage and signal.kind != "opened":
                continue
            refusal = self._authority(index, signal)
            if refusal == _UNREADABLE:  # only the committee may do this, and it is unknown
                self.deferred.add(index)
                spec.problems.append(ProblemNote(
                    "authority-unknown", f"{spec.key}:committee",
                    f"the committee on {texts.side_name(signal.side)} could not be read, so "
                    f"{signal.kind} {signal.to_stage.value} by @{signal.actor} waits for the "
                    "next cycle"))
                continue
            if refusal is None:
                valid.append(signal)
                continue
            spec.changes.append(StageChange(spec.stage, signal.to_stage, signal.actor,
                                            signal.side, signal.at, "ignored", refusal))
            spec.problems.append(ProblemNote(
                "ignored-change", f"{spec.key}:{signal.source}:{signal.at.isoformat()}",
                f"{signal.kind} {signal.to_stage.value} on {texts.side_name(signal.side)} ignored: "
                f"{refusal}; the stage stays {spec.stage.value}"))
        if index in self.deferred:
            return  # nothing moves, nothing is restored, nothing is remembered as seen
        if not valid:
            if spec.key in self.fresh:
                spec.changes.append(StageChange(None, spec.stage, "", "github", self.obs.now,
                                                "initial", "first seen"))
            return
        winner = valid[-1]
        for loser in valid[:-1]:
            if loser.side != winner.side and loser.to_stage != winner.to_stage:
                spec.changes.append(StageChange(
                    spec.stage, loser.to_stage, loser.actor, loser.side, loser.at, "conflict",
                    f"both sides changed; the later change ({winner.to_stage.value} on "
                    f"{texts.side_name(winner.side)}) wins"))
                spec.problems.append(ProblemNote(
                    "conflict", f"{spec.key}:{loser.source}:{loser.at.isoformat()}",
                    f"conflicting stage changes: {loser.to_stage.value} on "
                    f"{texts.side_name(loser.side)} and {winner.to_stage.value} on "
                    f"{texts.side_name(winner.side)}; the later one wins"))
        before: Stage | None = None if spec.key in self.fresh else spec.stage
        if winner.to_stage == before:
            return
        spec.stage = winner.to_stage
        spec.changes.append(StageChange(before, winner.to_stage, winner.actor, winner.side,
                                        winner.at, "mirrored", winner.kind))
        self._announce_change(index, winner)

    def _announce_change(self, index: int, signal: Signal) -> None:
        """A note on the other side saying who changed what (a PR opening is cross-posted;
        publishing and endorsing are announced with the merge that did them)."""
        if signal.kind == "opened":
            self._announce_opened(index, signal)
            return
        if signal.kind == "front_matter":
            return
        spec = self.specs[index]
        key = f"stage:{signal.source}:{signal.to_stage.value}:{signal.at:%Y%m%dT%H%M%S}"
        note = texts.stage_note(texts.spec_name(spec.number, spec.introducing_pr),
                                signal.to_stage, signal.actor, signal.side, signal.url)
        if signal.side == "github":
            self._announce(index, signal.at, key, note)
        else:
            self._comment(index, signal.at, key, note)

    def _announce_opened(self, index: int, signal: Signal) -> None:
        spec = self.specs[index]
        seen = self.obs.pulls.get(spec.introducing_pr or -1)
        if seen is None or signal.at < self.quiet_before:
            return
        pull = seen.pull
        url = pull.html_url or self.settings.pull_url(pull.number)
        if spec.thread_id is not None:
            thread = self.obs.threads.get(spec.thread_id)
            stored = self.stored.threads.get(spec.thread_id)
            slug = thread.slug if thread else (stored.slug if stored else "")
            title = thread.title if thread else (stored.title if stored else "the discussion")
            self._announce(index, signal.at, f"opened:pr-{pull.number}:reply",
                           texts.pr_opened_reply(url, pull.number, pull.title, pull.author))
            self._comment(index, signal.at, f"opened:pr-{pull.number}:comment",
                          texts.pr_opened_comment(self.settings.thread_url(spec.thread_id, slug),
                                                  title))
            return
        if pull.number in self.stored.manual_links or spec.link_refused:
            return  # unlinked by hand, or its link was refused (reported): no new thread
        key = f"{NEW_THREAD_KEY}{pull.number}"
        tag = self.settings.tag(spec.stage)
        spec.effects.append(CreateThread(
            key, f"SPEC proposal #{pull.number}: {pull.title}"[:250],
            texts.new_thread_body(url, pull.number, pull.title, pull.author, pull.body),
            self.settings.ideas_category_id, (tag,) if tag else ()))
        spec.link_from, spec.link_method = key, "created"
        spec.effects.append(CommentOnPull(f"nothread:pr-{pull.number}:comment", pull.number,
                                          texts.missing_thread_comment("{thread_url}")))

    def _announce(self, index: int, at: datetime, key: str, body: str) -> None:
        spec = self.specs[index]
        if spec.thread_id is None or at < self.quiet_before:
            return
        spec.effects.append(ReplyOnThread(key, spec.thread_id, body))

    def _comment(self, index: int, at: datetime, key: str, body: str) -> None:
        spec = self.specs[index]
        if spec.introducing_pr is None or at < self.quiet_before:
            return
        spec.effects.append(CommentOnPull(key, spec.introducing_pr, body))

    # --- markers -----------------------------------------------------------------------------

    def _converge_markers(self, index: int) -> None:
        spec = self.specs[index]
        if index in self.deferred:
            return
        stamp = self.obs.now.strftime("%Y%m%dT%H%M%S")
        pr = spec.introducing_pr
        state = self._pull_state(pr) if pr is not None else None
        if pr is not None and state is not None:
            current = state.labels
            ours = set(self.settings.stage_labels.values())
            want = self.settings.label(spec.stage)
            add = tuple(n for n in [want] if n and n not in current)
            remove = tuple(sorted(n for n in current if n in ours and n != want))
            if add or remove:
                spec.effects.insert(0, SetPullLabels(f"labels:pr-{pr}:{stamp}", pr, add,
                                                     remove))
            labels = tuple(n for n in current if n not in remove) + add
            self.result.pulls[pr] = replace(state, labels=labels)
        topic = spec.thread_id
        if topic is not None:
            current_thread = self._current_thread(topic)
            if current_thread is not None:
                ours = set(self.settings.stage_tags.values())
                want = self.settings.tag(spec.stage)
                tags = tuple(t for t in current_thread.tags if t not in ours or t == want)
                if want and want not in tags:
                    tags += (want,)
                if tags != current_thread.tags:
                    spec.effects.insert(0, SetThreadTags(f"tags:topic-{topic}:{stamp}", topic,
                                                         tags))
                category = current_thread.category_id
                accepted = self.settings.accepted_category_id
                if accepted and spec.stage != Stage.IDEA and spec.stage != Stage.WITHDRAWN \
                        and category == self.settings.ideas_category_id:
                    spec.effects.insert(0, MoveThread(f"move:topic-{topic}:{accepted}:{stamp}",
                                                      topic, accepted))
                    category = accepted
                self.result.threads[topic] = replace(current_thread, tags=tags,
                                                     category_id=category)

    def _pull_state(self, pr: int) -> PullState | None:
        """The PR as seen this cycle, else as remembered."""
        seen = self.obs.pulls.get(pr)
        if seen is None:
            return self.stored.pulls.get(pr)
        return PullState(pr, _pull_state(seen.pull), seen.pull.labels,
                         updated_at=seen.pull.updated_at, head_sha=seen.pull.head_sha)

    def _current_thread(self, topic: int) -> ThreadState | None:
        """The thread as seen this cycle, else as remembered; None once deleted."""
        seen = self.obs.threads.get(topic)
        if seen is None:
            return self.stored.threads.get(topic)
        if seen.deleted:
            return None
        before = self.stored.threads.get(topic)
        read = max((r.number for r in seen.revisions), default=before.revision if before else 1)
        return ThreadState(seen.id, seen.tags, seen.category_id, seen.slug, seen.title,
                           seen.last_posted_at, read)

    def _remember_observed(self) -> None:
        """Everything seen is remembered as seen, except what waits to be judged again."""
        waiting = [self.specs[i] for i in self.deferred]
        skip_pulls = {s.introducing_pr for s in waiting} | {n for s in waiting for n in s.pulls}
        skip_threads = {s.thread_id for s in waiting}
        for number in self.obs.pulls.keys() - skip_pulls:
            self.result.pulls.setdefault(number, self._pull_state(number))
        for topic in self.obs.threads.keys() - skip_threads:
            state = self._current_thread(topic)
            if state is not None:
                self.result.threads.setdefault(topic, state)

    def _report_number_clashes(self) -> None:
        """Two open SPEC PRs claiming one number: the committee must renumber one."""
        claims: dict[int, list[int]] = {}
        for spec in self.specs:
            pr = spec.introducing_pr
            if pr is None or spec.number is None or _absorbed(spec, self.specs):
                continue
            state = self.result.pulls.get(pr) or self.stored.pulls.get(pr)
            if state is not None and state.state == "open":
                claims.setdefault(spec.number, []).append(pr)
        for number, prs in sorted(claims.items()):
            if len(prs) > 1:
                listed = ", ".join(f"#{n}" for n in sorted(prs))
                self.result.problems.append(ProblemNote(
                    "number-clash", f"spec-{number}",
                    f"SPEC number {number} is claimed by open PRs {listed}"))

    def _doc_url(self, path: str) -> str:
        return f"{self.settings.github_url}/{self.settings.repo}/blob/HEAD/{path}"


def _from_state(state: SpecState) -> SpecPlan:
    key = f"pr-{state.introducing_pr}" if state.introducing_pr else (
        state.path or f"topic-{state.thread_id}")
    return SpecPlan(key=key, spec_id=state.id, stage=state.stage, number=state.number,
                    title=state.title, introducing_pr=state.introducing_pr, path=state.path,
                    thread_id=state.thread_id, link_method=state.link_method,
                    is_draft=state.is_draft, endorsed_by=state.endorsed_by,
                    last_activity=state.last_activity)


def _absorbed(spec: SpecPlan, specs: list[SpecPlan]) -> bool:
    return spec.spec_id is not None and any(spec.spec_id in s.absorbs for s in specs)


def _pull_state(pull) -> str:
    return "merged" if pull.merged else pull.state


def _spec_files(seen: PullObservation) -> list:
    return [f for f in seen.files if is_spec_path(f.filename) or (
        f.previous_filename and is_spec_path(f.previous_filename))]


def _note_pull_activity(spec: SpecPlan, seen: PullObservation) -> None:
    """Opening, merging, and the latest human comment, review or commit all count."""
    pull = seen.pull
    _note_activity(spec, Activity(pull.created_at, pull.author, "opened"))
    _note_activity(spec, seen.activity)
    if pull.merged and pull.merged_at:  # list items do not say who merged; events do
        merger = pull.merged_by or _last_actor(seen, "merged") or _last_actor(seen, "closed")
        _note_activity(spec, Activity(pull.merged_at, merger, "merged"))


def _note_activity(spec: SpecPlan, activity: Activity | None) -> None:
    if activity is not None and (spec.last_activity is None
                                 or activity.at > spec.last_activity.at):
        spec.last_activity = activity


def _last_event(seen: PullObservation, event: str, label: str | None = None):
    matching = [e for e in seen.events if e.event == event and (label is None or e.label == label)]
    return max(matching, key=lambda e: (e.created_at, e.id), default=None)


def _last_actor(seen: PullObservation, event: str, label: str | None = None) -> str:
    found = _last_event(seen, event, label)
    return found.actor if found else ""


def _last_event_at(seen: PullObservation, event: str, label: str | None = None):
    found = _last_event(seen, event, label)
    return found.created_at if found else None


def _revision_adding(thread: ThreadObservation, tag: str):
    for revision in reversed(thread.revisions):
        after = revision.tags_after or ()
        before = revision.tags_before or ()
        if tag in after and tag not in before:
            return revision
    return None


def _opened_by_service(thread: ThreadObservation, own_accounts: frozenset[str]) -> bool:
    """A thread the service opened for a PR without one (its first post carries the key)."""
    if not thread.posts:
        return False
    first = thread.posts[0]
    return first.username.lower() in {a.lower() for a in own_accounts} and \
        f"{MARKER_PREFIX}{NEW_THREAD_KEY}" in first.raw


def _is_category_definition(title: str) -> bool:
    """Discourse opens every category with an "About the … category" topic."""
    return title.startswith("About the ") and title.endswith(" category")
