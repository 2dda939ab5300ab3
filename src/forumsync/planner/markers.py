"""Stage markers: the stage label on the introducing PR and the stage tag on the viability
thread converge on the SPEC's stage, every other label and tag left alone. Labels compare
without regard to case, as GitHub does. What was seen is remembered as seen, after the
service's own changes, so its writes are never read back as changes."""

from __future__ import annotations

from dataclasses import replace

from forumsync.actions import MoveThread, SetPullLabels, SetThreadTags
from forumsync.planner.context import CycleContext
from forumsync.stages import Stage
from forumsync.state import ThreadState


def converge(ctx: CycleContext, index: int) -> None:
    if index in ctx.deferred:
        return
    spec = ctx.specs[index]
    stamp = _stamp(ctx)
    pr = spec.introducing_pr
    state = ctx.pull_state(pr) if pr is not None else None
    if pr is not None and state is not None:
        want = ctx.settings.label(spec.stage)
        folded = want.casefold() if want else None
        has_want = any(n.casefold() == folded for n in state.labels)
        add = (want,) if want and not has_want else ()
        remove = tuple(sorted(n for n in state.labels if ctx.settings.stage_of_label(n)
                              and n.casefold() != folded))
        if add or remove:
            spec.effects.insert(0, SetPullLabels(f"labels:pr-{pr}:{stamp}", pr, add, remove))
        labels = tuple(n for n in state.labels if n not in remove) + add
        ctx.result.pulls[pr] = replace(state, labels=labels)
    _release(ctx, index)
    retired = spec.stage_set is not None and spec.stage_set.outcome == "retired"
    thread = ctx.current_thread(spec.thread_id) if spec.thread_id is not None else None
    if thread is None or retired:
        return
    want_tag = ctx.settings.tag(spec.stage)
    tags = tuple(t for t in thread.tags if not ctx.settings.stage_of_tag(t) or t == want_tag)
    if want_tag and want_tag not in tags:
        tags += (want_tag,)
    if tags != thread.tags:
        spec.effects.insert(0, SetThreadTags(f"tags:topic-{thread.id}:{stamp}", thread.id, tags))
    category = thread.category_id
    accepted = ctx.settings.accepted_category_id
    home = None
    if accepted and spec.stage not in (Stage.IDEA, Stage.WITHDRAWN) \
            and category == ctx.settings.ideas_category_id:
        home = accepted
    elif accepted and spec.stage is Stage.IDEA and category == accepted:
        home = ctx.settings.ideas_category_id  # moved there without the committee: put back
    if home is not None:
        spec.effects.insert(0, MoveThread(f"move:topic-{thread.id}:{home}:{stamp}", thread.id,
                                          home))
        category = home
    ctx.result.threads[thread.id] = replace(thread, tags=tags, category_id=category)


def _release(ctx: CycleContext, index: int) -> None:
    """A thread no longer the SPEC's keeps every tag but the stage tag."""
    spec = ctx.specs[index]
    old = ctx.current_thread(spec.released_thread) if spec.released_thread else None
    if old is None:
        return
    tags = tuple(t for t in old.tags if not ctx.settings.stage_of_tag(t))
    if tags != old.tags:
        stamp = _stamp(ctx)
        spec.effects.insert(0, SetThreadTags(f"tags:topic-{old.id}:{stamp}", old.id, tags))
        ctx.result.threads[old.id] = replace(old, tags=tags)


def _stamp(ctx: CycleContext) -> str:
    """The cycle's moment in marker keys, to the microsecond: webhooks run cycles less than a
    second apart, and two cycles must never share a key (the second's write would be taken
    as done)."""
    return ctx.obs.now.strftime("%Y%m%dT%H%M%S.%f")


def remember_observed(ctx: CycleContext) -> None:
    """Everything seen is remembered as seen, except what waits to be judged again."""
    waiting = [ctx.specs[i] for i in ctx.deferred]
    skip_pulls = {s.introducing_pr for s in waiting} | {n for s in waiting for n in s.pulls}
    skip_threads = {s.thread_id for s in waiting}
    for number in ctx.obs.pulls.keys() - skip_pulls:
        state = ctx.pull_state(number)
        if state is not None:
            ctx.result.pulls.setdefault(number, state)
    for topic in ctx.obs.threads.keys() - skip_threads:
        state = ctx.current_thread(topic)
        if state is None:  # deleted: remembered so, and never linked from an old link
            before = ctx.stored.threads.get(topic)
            state = replace(before, deleted=True) if before else ThreadState(
                topic, (), None, ctx.obs.threads[topic].slug, deleted=True)
        ctx.result.threads.setdefault(topic, state)
