"""The words the service writes on each side. Anything copied across goes through safetext:
titles, logins and names as escaped plain text (`markdown_text`), bodies as `safe_copy`."""

from __future__ import annotations

from forumsync.safetext import markdown_text, plain_title, safe_copy
from forumsync.stages import Stage


def side_name(side: str) -> str:
    return "GitHub" if side == "github" else "the forum"


def spec_name(number: int | None, pr: int | None) -> str:
    if number is not None:
        return f"SPEC {number}"
    return f"the SPEC proposed in PR #{pr}" if pr else "this SPEC"


def new_thread_title(pr_number: int, title: str) -> str:
    """The title of a thread opened for a PR: plain text (Discourse shows titles as text)."""
    return plain_title(f"SPEC proposal #{pr_number}: {title}", 250)


def pr_opened_reply(pr_url: str, pr_number: int, title: str, author: str) -> str:
    return (
        f"A SPEC pull request was opened for this idea: [#{pr_number} {markdown_text(title, 120)}]"
        f"({pr_url}) by {markdown_text('@' + author, 60)}.\n\n"
        "Discussion of the idea continues here; review of the document happens on GitHub."
    )


def pr_opened_comment(thread_url: str, thread_title: str) -> str:
    return (
        "The viability discussion for this SPEC is on the forum: "
        f"[{markdown_text(thread_title, 120)}]({thread_url}). "
        "forumsync keeps the stage of this SPEC in step between the two."
    )


def new_thread_body(pr_url: str, pr_number: int, title: str, author: str, summary: str) -> str:
    return (
        f"SPEC pull request [#{pr_number} {markdown_text(title, 120)}]({pr_url}) by "
        f"{markdown_text('@' + author, 60)} did not link a viability discussion, so this thread "
        f"was opened for it.\n\n> {safe_copy(summary, 400) or '(no description)'}\n\n"
        "Please discuss whether this SPEC is viable here."
    )


def missing_thread_comment(thread_url: str) -> str:
    return (
        "This SPEC pull request does not link its viability discussion in SPECs/Ideas, which "
        "the pull request template requires. A thread was opened for it: "
        f"{thread_url}. Please add that link to the description, or link the existing "
        "discussion if there is one."
    )


def stage_note(name: str, to_stage: Stage, actor: str, side: str, source_url: str) -> str:
    return (
        f"{name} is now **{to_stage.value}**: changed{_by(actor)} on "
        f"{side_name(side)} ([source]({source_url}))."
    )


def endorsed_note(name: str, project: str, count: int, pr_url: str | None,
                  actor: str = "") -> str:
    plural = "endorsement" if count == 1 else "endorsements"
    merged = _merged(pr_url, actor)
    return f"{markdown_text(project, 40)} endorsed {name} — {count} {plural}{merged}."


def published_note(name: str, pr_url: str | None, actor: str = "") -> str:
    return f"{name} was published: it is no longer a draft{_merged(pr_url, actor)}."


def _by(actor: str) -> str:
    return f" by {markdown_text('@' + actor, 60)}" if actor else ""


def _merged(pr_url: str | None, actor: str) -> str:
    """` ([PR](url), merged by @login)`, or as much of it as is known."""
    parts = [f"[PR]({pr_url})"] if pr_url else []
    parts += [f"merged{_by(actor)}"] if actor and pr_url else []
    return f" ({', '.join(parts)})" if parts else ""
