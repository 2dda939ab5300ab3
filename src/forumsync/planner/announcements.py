"""Announcements: the posts and comments that tell each side what happened on the other.

A SPEC PR opening is cross-posted (a reply and a comment, or a new Ideas thread when the PR
links none); a committee's stage change gets a short note on the other side; publishing and
endorsing are announced with the merge that did them. Nothing older than the first sync's
announce window is announced.
"""

from __future__ import annotations

from datetime import datetime

from forumsync import texts
from forumsync.actions import CommentOnPull, CreateThread, ReplyOnThread
from forumsync.planner.context import CycleContext, Signal

NEW_THREAD_KEY = "newthread:pr-"


def announce_change(ctx: CycleContext, index: int, signal: Signal) -> None:
    """A note on the other side saying who changed what."""
    if signal.kind == "opened":
        _announce_opened(ctx, index, signal)
        return
    if signal.kind == "front_matter":
        return  # announced with the merge that published or endorsed it
    spec = ctx.specs[index]
    key = f"stage:{signal.source}:{signal.to_stage.value}:{signal.at:%Y%m%dT%H%M%S}"
    note = texts.stage_note(texts.spec_name(spec.number, spec.introducing_pr),
                            signal.to_stage, signal.actor, signal.side, signal.url)
    if signal.side == "github":
        announce(ctx, index, signal.at, key, note)
    else:
        comment(ctx, index, signal.at, key, note)


def _announce_opened(ctx: CycleContext, index: int, signal: Signal) -> None:
    spec = ctx.specs[index]
    seen = ctx.seen_pull(spec.introducing_pr)
    if seen is None or signal.at < ctx.quiet_before:
        return
    pull = seen.pull
    url = pull.html_url or ctx.settings.pull_url(pull.number)
    if spec.thread_id is not None and spec.link_method != "created":
        thread = ctx.current_thread(spec.thread_id)
        slug, title = (thread.slug, thread.title) if thread else ("", "the discussion")
        announce(ctx, index, signal.at, f"opened:pr-{pull.number}:reply",
                 texts.pr_opened_reply(url, pull.number, pull.title, pull.author))
        comment(ctx, index, signal.at, f"opened:pr-{pull.number}:comment",
                texts.pr_opened_comment(ctx.settings.thread_url(spec.thread_id, slug),
                                        title or "the discussion"))
        return
    if pull.number in ctx.stored.manual_links or spec.link_refused:
        return  # unlinked by hand, or its link was refused (reported): no new thread
    key = f"{NEW_THREAD_KEY}{pull.number}"
    tag = ctx.settings.tag(spec.stage)
    spec.effects.append(CreateThread(
        key, texts.new_thread_title(pull.number, pull.title),
        texts.new_thread_body(url, pull.number, pull.title, pull.author, pull.body),
        ctx.settings.ideas_category_id, (tag,) if tag else ()))
    spec.link_from, spec.link_method = key, "created"
    spec.effects.append(CommentOnPull(f"nothread:pr-{pull.number}:comment", pull.number,
                                      texts.missing_thread_comment("{thread_url}")))


def announce(ctx: CycleContext, index: int, at: datetime, key: str, body: str) -> None:
    """A reply on the SPEC's thread, unless it has none or the news is old."""
    spec = ctx.specs[index]
    if spec.thread_id is None or at < ctx.quiet_before:
        return
    spec.effects.append(ReplyOnThread(key, spec.thread_id, body))


def comment(ctx: CycleContext, index: int, at: datetime, key: str, body: str) -> None:
    """A comment on the SPEC's introducing PR, unless it has none or the news is old."""
    spec = ctx.specs[index]
    if spec.introducing_pr is None or at < ctx.quiet_before:
        return
    spec.effects.append(CommentOnPull(key, spec.introducing_pr, body))
