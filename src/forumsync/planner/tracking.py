"""Tracking: which SPEC each PR, SPEC file and forum thread belongs to.

A SPEC is its introducing PR until merged, then its file on the default branch; every PR
that touches a SPEC file belongs to that SPEC (to each, when it touches several); every
topic in Ideas is an idea until a PR links it. An idea whose thread is deleted or moved out
of Ideas is retired, and comes back if the thread does.
"""

from __future__ import annotations

import re

from forumsync import texts
from forumsync.actions import ProblemNote, SpecPlan, StageChange
from forumsync.config import NEW_SPEC_LABEL
from forumsync.markers import PREFIX as MARKER_PREFIX
from forumsync.markers import is_own
from forumsync.observation import PullObservation, ThreadObservation
from forumsync.planner.announcements import NEW_THREAD_KEY, announce
from forumsync.planner.authority import pull_signals
from forumsync.planner.context import (
    CycleContext,
    Signal,
    is_idea_only,
    last_actor,
    note_activity,
    note_pull_activity,
    set_stage,
)
from forumsync.records import Activity, PullFile, SpecDocument, is_regular_post
from forumsync.specfiles import is_spec_path
from forumsync.stages import Stage

OWN_THREAD_KEY = re.compile(re.escape(f"{MARKER_PREFIX}{NEW_THREAD_KEY}") + r"(\d+)\b")


def stage_of_document(doc: SpecDocument, core_projects: frozenset[str]) -> Stage:
    """The stage a SPEC file on the default branch says: draft, published or endorsed."""
    return file_stage(doc.is_draft, endorsements(doc, core_projects))


def file_stage(is_draft: bool, core_endorsements: tuple[str, ...]) -> Stage:
    if is_draft:
        return Stage.DRAFT
    return Stage.ENDORSED if len(core_endorsements) >= 2 else Stage.PUBLISHED


def endorsements(doc: SpecDocument, core_projects: frozenset[str]) -> tuple[str, ...]:
    """Core Projects in `endorsed-by`, matched without regard to case (all of them when the
    Core Project list is unknown)."""
    known = {p.casefold() for p in core_projects}
    found: list[str] = []
    for project in doc.endorsed_by:
        if (not known or project.casefold() in known) and \
                project.casefold() not in {p.casefold() for p in found}:
            found.append(project)
    return tuple(found)


def spec_files(seen: PullObservation) -> list[PullFile]:
    return [f for f in seen.files if is_spec_path(f.filename) or (
        f.previous_filename and is_spec_path(f.previous_filename))]


# --- pull requests ---------------------------------------------------------------------------


def track_pull(ctx: CycleContext, seen: PullObservation) -> bool:
    """Find or start the SPEC(s) a PR belongs to; False when it belongs to none (yet)."""
    pull = seen.pull
    added = sorted(f.filename for f in spec_files(seen) if f.status == "added")
    index = ctx.find("introducing_pr", pull.number)
    before = ctx.stored.pulls.get(pull.number)
    if index is None and not seen.files and before is not None and before.spec_ids:
        owners = [i for sid in before.spec_ids if (i := ctx.find("spec_id", sid)) is not None]
        for owner in owners:  # files unchanged: not read again
            _join(ctx, owner, seen)
        if owners:
            return True
    if index is None and attach_by_path(ctx, seen):
        return True
    scope = f"pr-{pull.number}"
    if index is None:
        if not added and NEW_SPEC_LABEL.casefold() not in {n.casefold() for n in pull.labels}:
            return False  # not about a SPEC (or about one not known yet)
        ctx.result.scopes.add(scope)
        if not added:
            ctx.result.problems.append(_no_spec_file(pull.number, scope))
            return True
        index = ctx.add_spec(SpecPlan(key=f"pr-{pull.number}", spec_id=None, stage=Stage.DRAFT,
                                      introducing_pr=pull.number, title=pull.title))
    spec = ctx.touch(index)
    spec.pulls += (pull.number,)
    spec.scopes.add(scope)
    if seen.head_doc is not None and pull.state == "open":
        spec.number = seen.head_doc.number if seen.head_doc.number is not None else spec.number
        spec.title = seen.head_doc.title or spec.title
    if pull.merged and spec.path is None and added:
        take_path(ctx, index, added[0])
    note_pull_activity(spec, seen)
    pull_signals(ctx, index, seen)
    return True


def take_path(ctx: CycleContext, index: int, path: str) -> None:
    """SPEC `index` is now the one whose file is `path`; a SPEC that had that path before
    (its number reused after its file was removed) lets go of it."""
    for other in ctx.find_all("path", path):
        if other != index:
            ctx.touch(other).path = None
    ctx.specs[index].path = path


def release_removed_path(ctx: CycleContext, path: str) -> None:
    """A SPEC file removed from the default branch no longer names its SPEC."""
    for index in ctx.find_all("path", path):
        ctx.touch(index).path = None


def _no_spec_file(number: int, scope: str) -> ProblemNote:
    return ProblemNote("no-spec-file", f"pr-{number}",
                       f"PR #{number} is labelled {NEW_SPEC_LABEL!r} but adds no SPEC file", scope)


def _join(ctx: CycleContext, index: int, seen: PullObservation) -> None:
    spec = ctx.touch(index)
    if seen.pull.number not in spec.pulls:
        spec.pulls += (seen.pull.number,)
    note_pull_activity(spec, seen)


def attach_by_path(ctx: CycleContext, seen: PullObservation) -> bool:
    """An edit, publication, endorsement or rename of SPECs already known by their files: the
    PR belongs to every SPEC whose file it touches."""
    files = spec_files(seen)
    removed = sorted(f.filename for f in files if f.status == "removed")
    added = sorted(f.filename for f in files if f.status == "added")
    renames = {f.previous_filename: f.filename for f in files
               if f.status == "renamed" and f.previous_filename}
    if len(added) == 1 and len(removed) == 1:  # a rename shown as delete plus add
        renames.setdefault(removed[0], added[0])
    attached = False
    for path in sorted({f.filename for f in files if f.status != "added"} | set(renames)):
        index = ctx.find("path", path)
        if index is None:
            continue
        _join(ctx, index, seen)
        if seen.pull.merged and path in renames:
            take_path(ctx, index, renames[path])  # renumbered or renamed on main
        attached = True
    return attached


# --- SPEC files on the default branch ----------------------------------------------------------


def track_main_doc(ctx: CycleContext, doc: SpecDocument) -> None:
    index = ctx.find("path", doc.path)
    if index is None:
        index = _introducer_of(ctx, doc.path)
    if index is None:
        stage = stage_of_document(doc, ctx.obs.core_projects)
        index = ctx.add_spec(SpecPlan(key=doc.path, spec_id=None, stage=stage, path=doc.path))
    spec = ctx.touch(index)
    spec.path = doc.path
    spec.scopes.add(f"file:{doc.path}")
    spec.number = doc.number if doc.number is not None else spec.number
    spec.title = doc.title or spec.title
    if doc.path in ctx.obs.history_discussions:
        spec.history_read = True
        spec.history_discussion = ctx.obs.history_discussions[doc.path]
    before_draft, before_endorsed = spec.is_draft, spec.endorsed_by
    if before_draft is None and spec.key not in ctx.fresh and spec.introducing_pr:
        before_draft = True  # a SPEC PR is a draft until its file lands on main
    spec.is_draft = doc.is_draft
    spec.endorsed_by = endorsements(doc, ctx.obs.core_projects)
    new_stage = stage_of_document(doc, ctx.obs.core_projects)
    if before_draft is None:
        if spec.stage in (Stage.IDEA, Stage.ACCEPTED, Stage.DRAFT) and new_stage != spec.stage:
            ctx.signal(index, Signal(new_stage, "", "github", ctx.obs.now, "front_matter",
                                       doc.path, ctx.settings.doc_url(doc.path)))
        return
    merged = _merging_pull(ctx, doc.path)
    at = merged.pull.merged_at if merged and merged.pull.merged_at else ctx.obs.now
    url = (merged.pull.html_url or ctx.settings.pull_url(merged.pull.number)) if merged \
        else ctx.settings.doc_url(doc.path)
    actor = (merged.pull.merged_by or last_actor(merged, "merged")) if merged else ""
    name = texts.spec_name(spec.number, spec.introducing_pr)
    by = f"pr-{merged.pull.number}" if merged else "main"
    pr_url = url if merged else None
    published = bool(before_draft and not doc.is_draft)
    if published:
        announce(ctx, index, at, f"published:{doc.path}:{by}",
                 texts.published_note(name, pr_url, actor))
    folded_before = {p.casefold() for p in before_endorsed}
    new_endorsers = [p for p in spec.endorsed_by if p.casefold() not in folded_before]
    for count, project in enumerate(new_endorsers, start=len(before_endorsed) + 1):
        announce(ctx, index, at, f"endorsed:{doc.path}:{project.casefold()}:{by}",
                 texts.endorsed_note(name, project, count, pr_url, actor))
    before_stage = file_stage(bool(before_draft), before_endorsed)
    if new_stage != before_stage:
        if not published and not new_endorsers:  # back to draft, or endorsements withdrawn
            announce(ctx, index, at,
                     f"file-stage:{doc.path}:{before_stage.value}:{new_stage.value}:{by}",
                     texts.stage_note(name, new_stage, actor, "github", url))
        ctx.signal(index, Signal(new_stage, actor, "github", at, "front_matter", doc.path,
                                   url))


def _introducer_of(ctx: CycleContext, path: str) -> int | None:
    """The SPEC of the PR that added `path`, unless that SPEC's file is another one (a PR
    that added two SPEC files introduced the first; the second is a SPEC of its own)."""
    for number in ctx.pulls_with_file(path):
        seen = ctx.obs.pulls[number]
        if path in {f.filename for f in seen.files if f.status == "added"}:
            index = ctx.find("introducing_pr", number)
            if index is not None and ctx.specs[index].path in (None, path):
                return index
    return None


def _merging_pull(ctx: CycleContext, path: str) -> PullObservation | None:
    merged = [s for s in map(ctx.obs.pulls.get, ctx.pulls_with_file(path))
              if s is not None and s.pull.merged]
    return max(merged, key=lambda s: s.pull.merged_at or s.pull.updated_at, default=None)


# --- forum threads -------------------------------------------------------------------------------


def track_thread(ctx: CycleContext, thread: ThreadObservation) -> None:
    scope = f"thread:topic-{thread.id}"
    linked = ctx.find("thread_id", thread.id)
    if linked is not None:
        spec = ctx.touch(linked)
        spec.scopes.add(scope)
        if thread.deleted:
            _lose_thread(ctx, linked, thread)
            return
        note_activity(spec, thread_activity(ctx, thread))
        if is_idea_only(spec):
            _follow_idea_category(ctx, linked, thread)
        return
    lost = ctx.find("lost_thread_id", thread.id)
    if lost is not None:
        ctx.touch(lost).scopes.add(scope)
        if thread.deleted:
            _lose_thread(ctx, lost, thread)  # still gone: still reported
        else:
            _restore_thread(ctx, lost, thread)
        return
    if thread.deleted or thread.category_id != ctx.settings.ideas_category_id:
        return
    if is_category_definition(thread) or own_thread_pr(ctx, thread) is not None:
        return
    index = ctx.add_spec(SpecPlan(key=f"topic-{thread.id}", spec_id=None, stage=Stage.IDEA,
                                  title=thread.title, thread_id=thread.id, link_method="idea",
                                  last_activity=thread_activity(ctx, thread)))
    set_stage(ctx.touch(index), StageChange(None, Stage.IDEA, "", "discourse",
                                            thread.created_at, "initial", "thread in Ideas",
                                            "history"))


def _lose_thread(ctx: CycleContext, index: int, thread: ThreadObservation) -> None:
    """A deleted viability thread unlinks its SPEC (an idea is retired); it is never linked
    again from an old link, only when the thread itself comes back."""
    spec = ctx.specs[index]
    spec.thread_id, spec.link_method, spec.lost_thread_id = None, None, thread.id
    if is_idea_only(spec):
        _retire(ctx, index, "its thread was deleted")
        return
    if spec.stage.is_final and spec.stage is Stage.WITHDRAWN:
        return  # nothing left to discuss: no problem to report
    ctx.problem(index, "thread-deleted", f"topic-{thread.id}",
                f"the viability thread {thread.id} of {spec.key} was deleted; the SPEC is "
                "unlinked until the thread is restored or another is linked by hand",
                f"link:{spec.key}")  # heals once the SPEC has a thread again


def _restore_thread(ctx: CycleContext, index: int, thread: ThreadObservation) -> None:
    spec = ctx.specs[index]
    holder = ctx.find("thread_id", thread.id)
    if spec.thread_id is not None or holder is not None:
        spec.lost_thread_id = None  # linked again meanwhile: the old thread stays unlinked
        return
    spec.thread_id, spec.lost_thread_id = thread.id, None
    spec.link_method = "idea" if is_idea_only(spec) else "restored"
    note_activity(spec, thread_activity(ctx, thread))
    if is_idea_only(spec):
        _follow_idea_category(ctx, index, thread)


def _follow_idea_category(ctx: CycleContext, index: int, thread: ThreadObservation) -> None:
    """An idea lives in Ideas (or, once accepted, the Accepted category): moved anywhere
    else it is retired; moved back, or restored, it returns to the stage it had."""
    spec = ctx.specs[index]
    homes = {ctx.settings.ideas_category_id, ctx.settings.accepted_category_id} - {0}
    made = spec.stage_set
    retired = spec.stage is Stage.WITHDRAWN and made is not None and made.outcome == "retired"
    if thread.category_id not in homes:
        _retire(ctx, index, "its thread was moved out of Ideas")
    elif retired:
        set_stage(spec, StageChange(spec.stage, made.before or Stage.IDEA, "", "discourse",
                                    ctx.obs.now, "restored", "its thread is back",
                                    made.authority))


def _retire(ctx: CycleContext, index: int, why: str) -> None:
    spec = ctx.specs[index]
    if spec.stage.is_final:
        return
    set_stage(spec, StageChange(spec.stage, Stage.WITHDRAWN, "", "discourse", ctx.obs.now,
                                "retired", why, "service"))


def thread_activity(ctx: CycleContext, thread: ThreadObservation) -> Activity | None:
    """The latest regular post by a person: the service's own posts, moderator actions,
    small-action notices and whispers are not activity."""
    human = [p for p in thread.posts or () if is_regular_post(p) and not ctx.is_own(p.username)
             and not is_own(p.raw)]
    latest = max(human, key=lambda p: p.created_at, default=None)
    return Activity(latest.created_at, latest.username, "post") if latest else None


def own_thread_pr(ctx: CycleContext, thread: ThreadObservation) -> int | None:
    """The PR a thread was opened for by the service (its first post carries the key)."""
    if not thread.posts or not ctx.is_own(thread.posts[0].username):
        return None
    found = OWN_THREAD_KEY.search(thread.posts[0].raw)
    return int(found.group(1)) if found else None


def is_category_definition(thread: ThreadObservation) -> bool:
    """Discourse opens every category with an "About the … category" topic, by `system`."""
    first = thread.posts[0].username if thread.posts else "system"
    return first.casefold() == "system" and thread.title.startswith("About the ") \
        and thread.title.endswith(" category")
