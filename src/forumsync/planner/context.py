"""The state one planning pass shares between the rule modules, and the lookups over it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from forumsync.actions import IDENTIFYING_FIELDS, Plan, ProblemNote, SpecPlan, StageChange
from forumsync.links import pull_numbers_in
from forumsync.markers import is_own as is_own_text
from forumsync.observation import Observation, PullObservation, ThreadObservation
from forumsync.planner.settings import PlanSettings
from forumsync.records import Activity, IssueEvent, PullRecord
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StageSet, StoredState, ThreadState


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


class CycleContext:
    """One planning pass: what was seen, what was remembered, and the SPECs being planned."""

    def __init__(self, obs: Observation, stored: StoredState, settings: PlanSettings) -> None:
        self.obs = obs
        self.stored = stored
        self.settings = settings
        self.result = Plan()
        self.specs: list[SpecPlan] = []
        # field -> value -> indexes of the SPECs holding it, kept true as rules change them
        self._index: dict[str, dict[object, set[int]]] = {f: {} for f in IDENTIFYING_FIELDS}
        for state in stored.specs:
            self._register(from_state(state))
        self.touched: set[int] = set()  # indexes into self.specs
        first = stored.first_sync_at or obs.now
        self.quiet_before = first - timedelta(days=settings.announce_window_days)
        self.signals: dict[int, list[Signal]] = {}
        self.fresh: set[str] = set()  # keys of SPECs first seen this cycle (no stage before)
        self.dropped: set[int] = set()  # new ideas merged into a PR's SPEC this cycle
        self.deferred: set[int] = set()  # changes that could not be judged: judged next cycle
        self.absorbed: set[int] = set()  # spec ids merged into another SPEC this cycle
        self.own_accounts = {a.casefold() for a in obs.own_accounts}
        self._mentions: dict[int, set[int]] | None = None
        self._mentioners: dict[int, list[int]] | None = None
        self._opened_for: dict[int, list[int]] | None = None
        self._pull_paths: dict[str, list[int]] | None = None

    # --- finding and touching SPECs -------------------------------------------------------

    def find(self, field: str, value: object) -> int | None:
        """The first SPEC (in planning order) whose `field` is `value`, not absorbed."""
        found = self.find_all(field, value)
        return found[0] if found else None

    def find_all(self, field: str, value: object) -> list[int]:
        if field not in self._index or value is None:  # not indexed: a scan
            return [i for i, s in enumerate(self.specs)
                    if getattr(s, field) == value and not self.is_absorbed(s)]
        return [i for i in sorted(self._index[field].get(value, ()))
                if not self.is_absorbed(self.specs[i])]

    def _register(self, spec: SpecPlan) -> int:
        index = len(self.specs)
        self.specs.append(spec)
        for name in IDENTIFYING_FIELDS:
            value = getattr(spec, name)
            if value is not None:
                self._index[name].setdefault(value, set()).add(index)

        def moved(_spec: SpecPlan, name: str, old: object, new: object) -> None:
            if old == new:
                return
            if old is not None:
                self._index[name].get(old, set()).discard(index)
            if new is not None:
                self._index[name].setdefault(new, set()).add(index)

        object.__setattr__(spec, "_watcher", moved)
        return index

    def touch(self, index: int) -> SpecPlan:
        self.touched.add(index)
        return self.specs[index]

    def release(self) -> None:
        """The pass is over: the SPECs go to the executor without the index watching them."""
        for spec in self.specs:
            spec.__dict__.pop("_watcher", None)

    def add_spec(self, spec: SpecPlan) -> int:
        self.fresh.add(spec.key)
        return self._register(spec)

    def is_absorbed(self, spec: SpecPlan) -> bool:
        return spec.spec_id is not None and spec.spec_id in self.absorbed

    def live_specs(self) -> list[SpecPlan]:
        return [s for i, s in enumerate(self.specs)
                if i not in self.dropped and not self.is_absorbed(s)]

    # --- what is known of a PR or a thread ---------------------------------------------------

    def seen_pull(self, number: int | None) -> PullObservation | None:
        return self.obs.pulls.get(number) if number is not None else None

    def seen_thread(self, topic: int | None) -> ThreadObservation | None:
        return self.obs.threads.get(topic) if topic is not None else None

    def pull_state(self, pr: int) -> PullState | None:
        """The PR as seen this cycle, else as remembered."""
        seen = self.obs.pulls.get(pr)
        if seen is None:
            return self.stored.pulls.get(pr)
        before = self.stored.pulls.get(pr)
        return PullState(pr, pull_state_name(seen.pull), seen.pull.labels,
                         before.spec_ids if before else (), seen.pull.updated_at,
                         seen.pull.head_sha)

    def current_thread(self, topic: int) -> ThreadState | None:
        """The thread as seen this cycle, else as remembered; None once deleted."""
        seen = self.obs.threads.get(topic)
        if seen is None:
            stored = self.stored.threads.get(topic)
            return None if stored is None or stored.deleted else stored
        if seen.deleted:
            return None
        before = self.stored.threads.get(topic)
        read = max((r.number for r in seen.revisions), default=before.revision if before else 1)
        highest = max((p.post_number for p in seen.posts), default=None) if seen.posts else None
        return ThreadState(seen.id, seen.tags, seen.category_id, seen.slug, seen.title,
                           seen.last_posted_at, read, highest_post=highest)

    def is_deleted(self, topic: int) -> bool:
        """Seen deleted, this cycle or before (and not seen back since)."""
        seen = self.obs.threads.get(topic)
        if seen is not None:
            return seen.deleted
        stored = self.stored.threads.get(topic)
        return stored is not None and stored.deleted

    def threads_mentioning(self, pr: int) -> list[int]:
        """Ideas threads read this cycle whose posts by people link PR `pr`."""
        if self._mentioners is None:
            self._mentioners = {}
            for topic, prs in sorted(self._pull_mentions().items()):
                for number in prs:
                    self._mentioners.setdefault(number, []).append(topic)
        return self._mentioners.get(pr, [])

    def threads_opened_for(self, pr: int,
                           opened_for: Callable[[ThreadObservation], int | None]) -> list[int]:
        """Threads read this cycle that the service opened for PR `pr` (`opened_for` reads
        a thread's key); indexed once a cycle, not scanned per SPEC."""
        if self._opened_for is None:
            self._opened_for = {}
            for topic, thread in self.obs.threads.items():
                number = opened_for(thread)
                if number is not None:
                    self._opened_for.setdefault(number, []).append(topic)
        return self._opened_for.get(pr, [])

    def pulls_with_file(self, path: str) -> list[int]:
        """PRs read this cycle that touch `path`, in PR order (indexed once a cycle)."""
        if self._pull_paths is None:
            self._pull_paths = {}
            for number in sorted(self.obs.pulls):
                for name in dict.fromkeys(f.filename for f in self.obs.pulls[number].files):
                    self._pull_paths.setdefault(name, []).append(number)
        return self._pull_paths.get(path, [])

    def pulls_mentioned_by(self, topic: int) -> set[int]:
        return self._pull_mentions().get(topic, set())

    def _pull_mentions(self) -> dict[int, set[int]]:
        """Topic -> PR numbers its posts link (Ideas threads read this cycle; once a cycle)."""
        if self._mentions is None:
            self._mentions = {}
            for thread in self.obs.threads.values():
                if thread.category_id != self.settings.ideas_category_id or not thread.posts:
                    continue
                self._mentions[thread.id] = {
                    n for p in thread.posts if not self.is_own(p.username)
                    and not is_own_text(p.raw) for n in pull_numbers_in(p.raw, self.settings.repo,
                                                           self.settings.github_url)}
        return self._mentions

    def is_own(self, actor: str) -> bool:
        return actor.casefold() in self.own_accounts

    def problem(self, index: int, kind: str, subject: str, message: str, scope: str) -> None:
        spec = self.specs[index]
        spec.problems.append(ProblemNote(kind, subject, message, scope))

    def signal(self, index: int, signal: Signal) -> None:
        """Note a stage change; the service's own writes read back are not changes."""
        if not self.is_own(signal.actor):
            self.signals.setdefault(index, []).append(signal)


def from_state(state: SpecState) -> SpecPlan:
    key = f"pr-{state.introducing_pr}" if state.introducing_pr else (
        state.path or f"topic-{state.thread_id or state.lost_thread_id}")
    return SpecPlan(key=key, spec_id=state.id, stage=state.stage, number=state.number,
                    title=state.title, introducing_pr=state.introducing_pr, path=state.path,
                    thread_id=state.thread_id, link_method=state.link_method,
                    is_draft=state.is_draft, endorsed_by=state.endorsed_by,
                    last_activity=state.last_activity, stage_set=state.stage_set,
                    lost_thread_id=state.lost_thread_id, history_read=state.history_read,
                    history_discussion=state.history_discussion)


def set_stage(spec: SpecPlan, change: StageChange) -> None:
    """Move a SPEC to a stage and remember who set it (what an undo is measured against)."""
    spec.stage = change.to_stage
    spec.stage_set = StageSet(change.actor, change.outcome, change.reason, change.authority,
                              change.from_stage)
    spec.changes.append(change)


def is_idea_only(spec: SpecPlan) -> bool:
    """A SPEC that is still only a forum thread: no PR, no file."""
    return spec.introducing_pr is None and spec.path is None


def pull_state_name(pull: PullRecord) -> str:
    return "merged" if pull.merged else pull.state


def note_activity(spec: SpecPlan, activity: Activity | None) -> None:
    if activity is not None and (spec.last_activity is None
                                 or activity.at > spec.last_activity.at):
        spec.last_activity = activity


def last_event(seen: PullObservation, event: str, label: str | None = None) -> IssueEvent | None:
    """The latest event of a kind (for labels: of that label, compared without case)."""
    folded = label.casefold() if label is not None else None
    matching = [e for e in seen.events if e.event == event and (
        folded is None or (e.label or "").casefold() == folded)]
    return max(matching, key=lambda e: (e.created_at, e.id), default=None)


def last_actor(seen: PullObservation, event: str, label: str | None = None) -> str:
    found = last_event(seen, event, label)
    return found.actor if found else ""


def note_pull_activity(spec: SpecPlan, seen: PullObservation) -> None:
    """Opening, merging, and the latest human comment, review or commit all count."""
    pull = seen.pull
    note_activity(spec, Activity(pull.created_at, pull.author, "opened"))
    note_activity(spec, seen.activity)
    if pull.merged and pull.merged_at:  # list items do not say who merged; events do
        merger = pull.merged_by or last_actor(seen, "merged") or last_actor(seen, "closed")
        note_activity(spec, Activity(pull.merged_at, merger, "merged"))
