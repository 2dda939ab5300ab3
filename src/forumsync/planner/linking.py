"""Linking: each SPEC's one viability thread.

Found in this order: a link made by hand; the thread link in the introducing PR's body (or
its own file's `discussion:`); the `discussion:` front matter on the default branch, or in
the file's history for older SPECs that lost the key; an Ideas thread whose posts link the
PR. Once made, a link changes only by hand or by the author's own link (the PR body); any
other topic that names the PR is a reported claimant. A deleted thread is never linked.
"""

from __future__ import annotations

from dataclasses import dataclass

from forumsync.links import BadThreadRef, ThreadRef, parse_thread_url, thread_refs_in
from forumsync.planner.authority import declined_by_committee, record_ignored
from forumsync.planner.context import CycleContext, is_idea_only, note_activity
from forumsync.planner.tracking import own_thread_pr
from forumsync.stages import Stage


@dataclass(frozen=True)
class Candidate:
    method: str  # pr_body, front_matter, thread_post
    ref: ThreadRef | BadThreadRef
    scope: str  # what it was read from: a problem it raises heals when that is read again


def link(ctx: CycleContext, index: int) -> None:
    spec = ctx.specs[index]
    pr = spec.introducing_pr
    if is_idea_only(spec):
        return  # an idea is its own thread
    manual = ctx.stored.manual_links
    if pr is not None and pr in manual:
        topic = manual[pr]
        if topic is None:
            spec.released_thread = spec.thread_id  # its stage tag goes with the link
            spec.thread_id, spec.link_method = None, None
        elif topic != spec.thread_id and ctx.is_deleted(topic):
            ctx.problem(index, "bad-link", f"{spec.key}:topic-{topic}",
                        f"{spec.key} is linked by hand to thread {topic}, which does not "
                        "exist or cannot be read; not linked (`forumsync link` or `unlink` "
                        "to change it)", f"link:{spec.key}")
        elif topic != spec.thread_id:
            _claim(ctx, index, topic, "manual", f"manual:pr-{pr}")
    else:
        authors, others = _candidates(ctx, index)
        _link_from(ctx, index, authors, others)
    if spec.thread_id is not None:
        spec.scopes.add(f"link:{spec.key}")  # linked: a lost thread's problem is settled


def _link_from(ctx: CycleContext, index: int, authors: list[Candidate],
               others: list[Candidate]) -> None:
    spec = ctx.specs[index]
    if spec.thread_id is not None:
        for candidate in authors:  # the author's own link replaces any automatic one
            topic = _resolve(ctx, index, candidate)
            if topic is not None:
                if topic != spec.thread_id:
                    _claim(ctx, index, topic, candidate.method, candidate.scope)
                break
        for candidate in others:
            topic = _resolve(ctx, index, candidate)
            if topic is not None and topic != spec.thread_id:
                _report_claimant(ctx, index, topic, candidate.scope)
        return
    own = _own_thread(ctx, index)
    for candidate in authors + own + others:
        topic = _resolve(ctx, index, candidate)
        if topic is None:
            # a real link that cannot be taken is not a missing link: no new thread for it
            spec.link_refused |= isinstance(candidate.ref, ThreadRef)
            continue
        if _claim(ctx, index, topic, candidate.method, candidate.scope):
            return
        spec.link_refused = True


def _own_thread(ctx: CycleContext, index: int) -> list[Candidate]:
    """The thread the service once opened for this PR, found by its key (a lost database
    or a refused first link must not leave it orphaned)."""
    pr = ctx.specs[index].introducing_pr
    if pr is None:
        return []
    threads = [ctx.obs.threads[t] for t in ctx.threads_opened_for(
        pr, lambda thread: own_thread_pr(ctx, thread))]
    return [Candidate("created", ThreadRef(t.id, t.slug, ""), f"thread:topic-{t.id}")
            for t in threads]


def _candidates(ctx: CycleContext, index: int) -> tuple[list[Candidate], list[Candidate]]:
    """The author's own links (the PR body, then the PR's file), and the others."""
    spec = ctx.specs[index]
    forum = ctx.settings.forum_url
    authors: list[Candidate] = []
    others: list[Candidate] = []
    seen = ctx.seen_pull(spec.introducing_pr)
    if seen is not None:
        scope = f"pr-{seen.pull.number}"
        authors += [Candidate("pr_body", ref, scope)
                    for ref in thread_refs_in(seen.pull.body, forum)]
        doc = seen.head_doc
        if doc is not None and doc.discussion is not None:
            authors.append(Candidate("front_matter", parse_thread_url(doc.discussion, forum),
                                     scope))
    doc = ctx.obs.main_docs.get(spec.path or "")
    if doc is not None:
        discussion = doc.discussion if doc.discussion is not None else spec.history_discussion
        if discussion is not None:
            others.append(Candidate("front_matter", parse_thread_url(discussion, forum),
                                    f"file:{doc.path}"))
    if spec.introducing_pr is not None:
        for topic in ctx.threads_mentioning(spec.introducing_pr):
            thread = ctx.obs.threads[topic]
            if own_thread_pr(ctx, thread) is None:  # our own: linked through its key
                others.append(Candidate("thread_post", ThreadRef(thread.id, thread.slug, ""),
                                        f"thread:topic-{thread.id}"))
    return authors, others


def _resolve(ctx: CycleContext, index: int, candidate: Candidate) -> int | None:
    """The topic a candidate names, or None (reported) when it names none that can be
    linked: a placeholder, a link elsewhere, an unknown slug, a deleted thread."""
    spec = ctx.specs[index]
    ref = candidate.ref
    if isinstance(ref, BadThreadRef):
        ctx.problem(index, "bad-link", f"{spec.key}:{ref.url}", ref.reason, candidate.scope)
        return None
    topic = ref.topic_id if ref.topic_id is not None else ctx.obs.slugs.get(ref.slug or "")
    if topic is None:
        ctx.problem(index, "bad-link", f"{spec.key}:{ref.url}",
                    f"the discussion link {ref.url} names no thread that could be found",
                    candidate.scope)
        return None
    if ctx.is_deleted(topic):
        ctx.problem(index, "bad-link", f"{spec.key}:topic-{topic}",
                    f"{spec.key} links thread {topic}, which was deleted or cannot be read; "
                    "not linked", f"link:{spec.key}")  # heals once the SPEC has a thread
        return None
    return topic


def _report_claimant(ctx: CycleContext, index: int, topic: int, scope: str) -> None:
    spec = ctx.specs[index]
    ctx.problem(index, "second-claimant", f"topic-{topic}:{spec.key}",
                f"thread {topic} names {spec.key}, whose viability thread is "
                f"{spec.thread_id}; not linked (link it by hand if it should be)", scope)


def _claim(ctx: CycleContext, index: int, topic: int, method: str, scope: str) -> bool:
    """Link SPEC `index` to `topic` unless another SPEC with its own PR or file holds it."""
    spec = ctx.specs[index]
    holder = next((i for i in ctx.find_all("thread_id", topic) if i != index), None)
    if holder is not None:
        other = ctx.specs[holder]
        if _gave_up(other):
            other.thread_id, other.link_method = None, None  # a new attempt takes over
            ctx.touch(holder)
        elif not is_idea_only(other):
            declined = declined_by_committee(other)
            why = f"; {other.key} {declined[3:]}" if declined else ""
            ctx.problem(index, "second-claimant", f"topic-{topic}:{spec.key}",
                        f"{spec.key} links thread {topic}, which is already the viability "
                        f"thread of {other.key}{why}; not linked", scope)
            return False
        else:
            _absorb(ctx, index, holder)
    if spec.thread_id is not None and spec.thread_id != topic:
        spec.released_thread = spec.thread_id  # its stage tag goes with the link
    spec.thread_id, spec.link_method = topic, method
    spec.lost_thread_id = None
    return True


def _gave_up(spec) -> bool:
    """A SPEC PR its own author withdrew: a new attempt may take over its thread. One the
    committee withdrew keeps it."""
    return spec.stage is Stage.WITHDRAWN and spec.introducing_pr is not None and \
        declined_by_committee(spec) is None


def _absorb(ctx: CycleContext, index: int, holder: int) -> None:
    """An idea thread gains its SPEC PR: one SPEC from now on, keeping the idea's history."""
    spec, idea = ctx.specs[index], ctx.specs[holder]
    if spec.spec_id is None:
        spec.spec_id, idea.spec_id = idea.spec_id, None
    elif idea.spec_id is not None:
        spec.absorbs += (idea.spec_id,)
        ctx.absorbed.add(idea.spec_id)
    declined = declined_by_committee(idea)
    if declined and spec.key not in ctx.fresh:  # a later link: the decline still stands
        record_ignored(ctx, index, Stage.WITHDRAWN, "", "github", ctx.obs.now, spec.key,
                       f"it links thread {idea.thread_id}: {declined}",
                       f"links the idea in thread {idea.thread_id}, which {declined[3:]}")
    if (spec.key in ctx.fresh and spec.path is None) or declined:
        spec.stage, spec.stage_set = idea.stage, idea.stage_set  # it moves on from the idea
        ctx.fresh.discard(spec.key)
    spec.changes[:0] = idea.changes
    spec.problems += idea.problems
    spec.scopes |= idea.scopes
    note_activity(spec, idea.last_activity)
    idea.thread_id = None
    ctx.touched.discard(holder)
    ctx.dropped.add(holder)
