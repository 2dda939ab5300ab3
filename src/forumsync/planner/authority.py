"""Authority and stages: which stage changes were seen, who may make them, and the decision.

Only the committee moves a stage. The introducing PR's author may withdraw it by closing it
and undo that own close by reopening; a withdrawal or decline by the committee is undone
only by the committee. Merges and front matter that landed on the default branch count as
committee acts. Changes that follow one another along the stage diagram are history; only
two changes that disagree are a conflict, and the later one wins (ties: GitHub).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from forumsync import texts
from forumsync.actions import StageChange
from forumsync.observation import PullObservation, ThreadObservation
from forumsync.planner.announcements import announce_change
from forumsync.planner.context import (
    CycleContext,
    Signal,
    last_actor,
    last_event,
    pull_state_name,
    set_stage,
)
from forumsync.records import TopicRevision
from forumsync.stages import Stage

UNREADABLE = "the committee list could not be read"

# The stage diagram's edges (README, "Stages"): a change along them follows the one before.
NEXT_STAGES: dict[Stage, frozenset[Stage]] = {
    Stage.IDEA: frozenset({Stage.ACCEPTED, Stage.DRAFT, Stage.WITHDRAWN}),
    Stage.ACCEPTED: frozenset({Stage.DRAFT}),
    Stage.DRAFT: frozenset({Stage.PUBLISHED, Stage.WITHDRAWN}),
    Stage.PUBLISHED: frozenset({Stage.ENDORSED}),
    Stage.ENDORSED: frozenset(),
    Stage.WITHDRAWN: frozenset({Stage.DRAFT}),
}


def leads_to(start: Stage, end: Stage) -> bool:
    """Whether the stage diagram leads from `start` to `end` (one step or several)."""
    seen, frontier = {start}, [start]
    while frontier:
        for following in NEXT_STAGES[frontier.pop()]:
            if following == end:
                return True
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


# --- signals ------------------------------------------------------------------------------------


def pull_signals(ctx: CycleContext, index: int, seen: PullObservation) -> None:
    """Opening, closing and reopening the introducing PR."""
    pull = seen.pull
    if ctx.specs[index].introducing_pr != pull.number:
        return
    before = None if ctx.specs[index].key in ctx.fresh else ctx.stored.pulls.get(pull.number)
    state = pull_state_name(pull)
    source, url = f"pr-{pull.number}", pull.html_url or ctx.settings.pull_url(pull.number)
    closed_at = pull.closed_at or pull.updated_at
    if before is None:  # first tracked as a SPEC now: its state so far is its history
        if state == "open":
            ctx.signal(index, Signal(Stage.DRAFT, pull.author, "github", pull.created_at,
                                     "opened", source, url))
        elif state == "closed":
            ctx.signal(index, Signal(Stage.WITHDRAWN, last_actor(seen, "closed") or pull.author,
                                     "github", closed_at, "closed", source, url))
        return
    if before.state == "open" and state == "closed":
        ctx.signal(index, Signal(Stage.WITHDRAWN, last_actor(seen, "closed"), "github",
                                 closed_at, "closed", source, url))
    elif before.state == "closed" and state == "open":
        reopened = last_event(seen, "reopened")
        ctx.signal(index, Signal(Stage.DRAFT, reopened.actor if reopened else "", "github",
                                 reopened.created_at if reopened else pull.updated_at,
                                 "reopened", source, url))


def marker_signals(ctx: CycleContext, index: int) -> None:
    """Stage labels and tags added, removed or doubled, and moves into Accepted."""
    spec = ctx.specs[index]
    seen_pull = ctx.seen_pull(spec.introducing_pr)
    if seen_pull is not None:
        _label_signals(ctx, index, seen_pull)
    thread = ctx.seen_thread(spec.thread_id)
    if thread is not None and not thread.deleted:
        _tag_signals(ctx, index, thread)
        _category_signal(ctx, index, thread)


def _label_signals(ctx: CycleContext, index: int, seen: PullObservation) -> None:
    """Each edit that added stage labels is its own change, judged on its own author's
    authority; an edit that added two stage labels at once is ambiguous."""
    pull = seen.pull
    before = ctx.stored.pulls.get(pull.number)
    names_before = {n.casefold(): n for n in (before.labels if before else ())}
    added = [n for n in pull.labels if n.casefold() not in names_before
             and ctx.settings.stage_of_label(n)]
    removed = [n for k, n in names_before.items()
               if k not in {m.casefold() for m in pull.labels} and ctx.settings.stage_of_label(n)]
    url = pull.html_url or ctx.settings.pull_url(pull.number)
    source = f"pr-{pull.number}"
    edits: dict[tuple[str, datetime], list[str]] = {}
    for name in added:  # one API call adds its labels with one actor and one time
        event = last_event(seen, "labeled", name)
        edits.setdefault((event.actor, event.created_at) if event else ("", pull.updated_at),
                         []).append(name)
    _judge_edits(ctx, index, "github", "label", source, url, ctx.settings.stage_of_label,
                 [(actor, at, names) for (actor, at), names in edits.items()])
    stages_left = [n for n in pull.labels if ctx.settings.stage_of_label(n)]
    if not stages_left and removed:
        event = last_event(seen, "unlabeled", removed[0])
        if event is not None and not ctx.is_own(event.actor):
            _removed(ctx, index, "github", event.actor, event.created_at, source, removed[0])


def _tag_signals(ctx: CycleContext, index: int, thread: ThreadObservation) -> None:
    """As for labels, one change per first-post revision (one editor each)."""
    before = ctx.stored.threads.get(thread.id)
    tags_before = set(before.tags) if before else set()
    added = [t for t in thread.tags if t not in tags_before and ctx.settings.stage_of_tag(t)]
    removed = [t for t in tags_before if t not in thread.tags and ctx.settings.stage_of_tag(t)]
    url = ctx.settings.thread_url(thread.id, thread.slug)
    source = f"topic-{thread.id}"
    edits: dict[int | None, tuple[TopicRevision | None, list[str]]] = {}
    for tag in added:
        revision = _revision(thread, added=tag)
        edits.setdefault(revision.number if revision else None, (revision, []))[1].append(tag)
    _judge_edits(ctx, index, "discourse", "tag", source, url, ctx.settings.stage_of_tag,
                 [(r.username if r else "", r.created_at if r else thread.created_at, tags)
                  for r, tags in edits.values()])
    stages_left = [t for t in thread.tags if ctx.settings.stage_of_tag(t)]
    if not stages_left and removed:
        revision = _revision(thread, removed=removed[0])
        if revision is not None and not ctx.is_own(revision.username):
            _removed(ctx, index, "discourse", revision.username, revision.created_at, source,
                     removed[0])


def _judge_edits(ctx: CycleContext, index: int, side: str, kind: str, source: str, url: str,
                 stage_of: Callable[[str], Stage | None],
                 edits: list[tuple[str, datetime, list[str]]]) -> None:
    """One signal per edit, oldest first; an edit that added two stage markers at once is
    ambiguous and changes nothing (recorded)."""
    for actor, at, names in sorted(edits, key=lambda edit: edit[1]):
        if len(names) > 1:
            _ambiguous(ctx, index, side, actor, at, source, sorted(names))
        else:
            ctx.signal(index, Signal(stage_of(names[0]), actor, side, at, kind, source, url))


def _category_signal(ctx: CycleContext, index: int, thread: ThreadObservation) -> None:
    """A move into the Accepted category accepts an idea; for any other SPEC it means
    nothing (the service itself keeps accepted and later SPECs' threads there)."""
    accepted = ctx.settings.accepted_category_id
    before = ctx.stored.threads.get(thread.id)
    if not accepted or before is None or before.category_id == thread.category_id \
            or thread.category_id != accepted:
        return
    revision = next((r for r in reversed(thread.revisions) if r.category_after == accepted),
                    None)
    actor = revision.username if revision else ""
    at = revision.created_at if revision else ctx.obs.now
    spec = ctx.specs[index]
    if spec.stage is Stage.IDEA:
        ctx.signal(index, Signal(Stage.ACCEPTED, actor, "discourse", at, "category",
                                 f"topic-{thread.id}", ctx.settings.thread_url(thread.id)))
    elif actor and not ctx.is_own(actor):
        record_ignored(ctx, index, spec.stage, actor, "discourse", at, f"topic-{thread.id}",
                        "a move into the Accepted category means accepted only for an idea",
                        f"moved into the Accepted category; the stage stays {spec.stage.value}")


def _revision(thread: ThreadObservation, *, added: str | None = None,
              removed: str | None = None) -> TopicRevision | None:
    for revision in reversed(thread.revisions):
        after, before = revision.tags_after or (), revision.tags_before or ()
        if added is not None and added in after and added not in before:
            return revision
        if removed is not None and removed in before and removed not in after:
            return revision
    return None


def _ambiguous(ctx: CycleContext, index: int, side: str, actor: str, at, source: str,
               names: list[str]) -> None:
    if ctx.is_own(actor):
        return
    spec = ctx.specs[index]
    what = "labels" if side == "github" else "tags"
    record_ignored(ctx, index, spec.stage, actor, side, at, source,
                    f"two stage {what} at once ({', '.join(names)}) are ambiguous",
                    f"two stage {what} set at once ({', '.join(names)}); the stage stays "
                    f"{spec.stage.value} and its {what[:-1]} is restored")


def _removed(ctx: CycleContext, index: int, side: str, actor: str, at, source: str,
             name: str) -> None:
    spec = ctx.specs[index]
    what = "label" if side == "github" else "tag"
    record_ignored(ctx, index, spec.stage, actor, side, at, source,
                    f"the stage {what} {name} was removed outright",
                    f"stage {what} {name} removed; the stage stays {spec.stage.value} and "
                    f"its {what} is restored")


def record_ignored(ctx: CycleContext, index: int, stage: Stage, actor: str, side: str, at,
                    source: str, reason: str, message: str) -> None:
    spec = ctx.specs[index]
    spec.changes.append(StageChange(spec.stage, stage, actor, side, at, "ignored", reason))
    who = f"@{actor}" if actor else "someone"
    ctx.problem(index, "ignored-change", f"{spec.key}:{source}:{at.isoformat()}",
                f"{who} on {texts.side_name(side)}: {message}", f"stage:{spec.key}")


# --- authority and the decision ------------------------------------------------------------------


def authority(ctx: CycleContext, index: int, signal: Signal) -> tuple[str | None, str]:
    """(None, basis) when `signal` may change the stage, basis naming on whose authority
    (committee, author or history); else (why not, "")."""
    spec = ctx.specs[index]
    seen = ctx.seen_pull(spec.introducing_pr)
    by_author = seen is not None and bool(signal.actor) and \
        signal.actor.casefold() == seen.pull.author.casefold()
    if signal.kind == "front_matter":
        return None, "committee"  # it landed on the default branch: merged by a maintainer
    if signal.kind == "opened":
        return declined_by_committee(spec), "author"
    if spec.key in ctx.fresh and signal.at < ctx.quiet_before:
        return None, "author" if by_author else "history"  # from before the service watched
    if not signal.actor:
        return "no one could be named for this change (no revision or event records it)", ""
    refusal = None
    if signal.kind in ("closed", "reopened") and by_author:
        withdrawer = _withdrawn_by_other(spec)
        if signal.kind == "closed" or withdrawer is None:
            return None, "author"  # the author withdraws, or undoes their own withdrawal
        refusal = (f"the SPEC was withdrawn by {withdrawer}; the author's reopen undoes "
                   "only the author's own close")
    members = ctx.obs.committee.github if signal.side == "github" else ctx.obs.committee.forum
    if members is None:
        return UNREADABLE, ""
    if signal.actor.casefold() in {m.casefold() for m in members}:  # both sites ignore case
        return None, "committee"
    return refusal or f"@{signal.actor} is not on the committee on " \
        f"{texts.side_name(signal.side)}", ""


def _withdrawn_by_other(spec) -> str | None:
    """Who withdrew the SPEC, when it was not its author's own withdrawal."""
    made = spec.stage_set
    if spec.stage is not Stage.WITHDRAWN or made is None or made.authority in ("author", ""):
        return None
    return f"@{made.actor}" if made.actor else "the committee"


def declined_by_committee(spec) -> str | None:
    """Why a SPEC the committee withdrew or declined cannot be revived by a new PR."""
    withdrawer = _withdrawn_by_other(spec)
    if withdrawer is None or spec.stage_set.outcome == "retired":
        return None
    return f"it was declined by {withdrawer}; only the committee can revive it"


def decide(ctx: CycleContext, index: int) -> None:
    spec = ctx.specs[index]
    valid: list[tuple[Signal, str]] = []
    for signal in _in_process_order(ctx.signals.get(index, [])):
        refusal, basis = authority(ctx, index, signal)
        if signal.to_stage == spec.stage and signal.kind != "opened":
            _confirm(ctx, index, signal, refusal, basis)
            continue
        if refusal == UNREADABLE:  # only the committee may do this, and it is unknown
            ctx.deferred.add(index)
            ctx.problem(index, "authority-unknown", f"{spec.key}:committee",
                        f"the committee on {texts.side_name(signal.side)} could not be read, "
                        f"so {signal.kind} {signal.to_stage.value} by @{signal.actor} waits "
                        "for the next cycle", f"authority:{spec.key}")
            continue
        if refusal is None:
            valid.append((signal, basis))
            continue
        record_ignored(ctx, index, signal.to_stage, signal.actor, signal.side, signal.at,
                        signal.source, refusal,
                        f"{signal.kind} {signal.to_stage.value} ignored: {refusal}; the stage "
                        f"stays {spec.stage.value}")
    if index in ctx.deferred:
        return  # nothing moves, nothing is restored, nothing is remembered as seen
    spec.scopes.add(f"authority:{spec.key}")
    if not valid:
        if spec.key in ctx.fresh and not spec.changes:
            set_stage(spec, StageChange(None, spec.stage, "", "github", ctx.obs.now, "initial",
                                        "first seen", "history"))
        return
    winner, basis = valid[-1]
    before: Stage | None = None if spec.key in ctx.fresh else spec.stage
    for step, step_basis in valid[:-1]:
        if step.to_stage == winner.to_stage:
            continue
        if leads_to(step.to_stage, winner.to_stage):  # history: one change after another
            if step.to_stage != before:
                spec.changes.append(StageChange(before, step.to_stage, step.actor, step.side,
                                                step.at, "mirrored", step.kind, step_basis))
                before = step.to_stage
        elif step.side != winner.side:
            _conflict(ctx, index, step, winner)
    if winner.to_stage == before:
        return
    spec.scopes.add(f"stage:{spec.key}")  # a decision: earlier ignored changes are settled
    set_stage(spec, StageChange(before, winner.to_stage, winner.actor, winner.side, winner.at,
                                "mirrored", winner.kind, basis))
    announce_change(ctx, index, winner)


def _in_process_order(signals: list[Signal]) -> list[Signal]:
    """By time (ties: GitHub last, so it wins); an acceptance seen with the PR's opening
    comes before it, whatever the clocks say: accepting, then drafting, is the process."""
    ordered = sorted(signals, key=lambda s: (s.at, s.side == "github"))
    if any(s.kind == "opened" for s in ordered):
        ordered = [s for s in ordered if s.to_stage is Stage.ACCEPTED] + \
            [s for s in ordered if s.to_stage is not Stage.ACCEPTED]
    return ordered


def _confirm(ctx: CycleContext, index: int, signal: Signal, refusal: str | None,
             basis: str) -> None:
    """The committee setting the stage a SPEC already has makes the stage its own: the
    author can no longer undo it (a committee label after the author's close)."""
    spec = ctx.specs[index]
    if refusal is None and basis == "committee" and spec.stage_set is not None \
            and spec.stage_set.authority != "committee":
        set_stage(spec, StageChange(spec.stage, spec.stage, signal.actor, signal.side,
                                    signal.at, "confirmed", signal.kind, "committee"))


def _conflict(ctx: CycleContext, index: int, loser: Signal, winner: Signal) -> None:
    spec = ctx.specs[index]
    spec.changes.append(StageChange(
        spec.stage, loser.to_stage, loser.actor, loser.side, loser.at, "conflict",
        f"both sides changed; the later change ({winner.to_stage.value} on "
        f"{texts.side_name(winner.side)}) wins"))
    ctx.problem(index, "conflict", f"{spec.key}:{loser.source}:{loser.at.isoformat()}",
                f"conflicting stage changes: {loser.to_stage.value} on "
                f"{texts.side_name(loser.side)} and {winner.to_stage.value} on "
                f"{texts.side_name(winner.side)}; the later one wins", f"stage:{spec.key}")
