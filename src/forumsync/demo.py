"""`forumsync demo`: the whole flow, offline, against the sandbox, told step by step.

A proposer posts an idea, the committee accepts it on the forum, the SPEC pull request
opens, someone outside the committee tries to publish it, the committee merges it as a draft
and then publishes it; a second PR arrives with no thread; weeks pass and the committee gets
its digest. After each step one sync cycle runs and the demo shows what appeared on each
side.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from forumsync import digest
from forumsync.cycle import build_clients, run_cycle
from forumsync.db import open_database
from forumsync.sandbox import Sandbox
from forumsync.status import render_table, status_rows

IDEAS = 9
COMMITTEE = "spec-steering-committee"


def spec_text(number: int, title: str, draft: bool = True) -> str:
    lines = ["---", f'title: "SPEC {number} — {title}"', f"number: {number}",
             "date: 2026-11-01", "author:", '  - "Ada Lovelace <ada@example.org>"',
             '  - "Grace Hopper <grace@example.org>"']
    if draft:
        lines.append("is-draft: true")
    lines += ["endorsed-by:", "---", "", "## Description", "", f"{title}.", ""]
    return "\n".join(lines)


def run_demo(echo: Callable[[str], None] = print, database: Path | None = None) -> int:
    """Run the story; returns the number of failed items (0 when all went well)."""
    with tempfile.TemporaryDirectory() as scratch, Sandbox() as box:
        db_url = f"sqlite:///{database or Path(scratch) / 'demo.db'}"
        config = box.config(db_url)
        sessions = open_database(db_url)
        clients = build_clients(config)
        forum, github = box.discourse, box.github
        failures = 0
        box.populate()

        def step(title: str, story: str) -> None:
            nonlocal failures
            box.clock.advance(hours=2)
            echo(f"\n== {title}\n{story}")
            report = run_cycle(config, sessions, clients, box.clock.now())
            for line in report.lines() or ["nothing to do"]:
                echo(f"   {line}")
            failures += len(report.failures)

        topic, _ = forum.create_topic(
            "ada", "SPEC idea: a common way to report deprecations",
            "Projects deprecate things differently. Shall we agree on one way? Co-authored "
            "with @grace.", IDEAS)
        step("1. A proposer posts an idea on the forum",
             f"ada opens topic {topic} in SPECs/Ideas. forumsync tracks it as an idea.")

        forum.retag("chair", topic, ["spec-accepted"])
        step("2. The committee accepts the idea on the forum",
             "chair (spec-steering-committee) tags the thread spec-accepted.")

        thread_url = f"{forum.base_url}/t/{forum.topics[topic].slug}/{topic}"
        pr = github.open_pull(
            "ada", "SPEC 10: Deprecation reporting",
            f"Viability discussion: {thread_url}\n\nThis SPEC proposes one deprecation policy.",
            {"spec-0010/index.md": spec_text(10, "Deprecation reporting")}, labels=["New SPEC"])
        step("3. The SPEC pull request opens",
             f"ada opens PR #{pr}, linking the thread as the template asks. forumsync replies "
             "on the thread, comments on the PR, and marks both as draft.")
        _show_posts(echo, box, topic, pr)

        github.add_label("mallory", pr, "spec-published")
        step("4. Someone outside the committee labels it published",
             "mallory adds spec-published on GitHub. forumsync does not mirror it: it restores "
             "the draft label and records the event for the committee.")

        github.merge_pull("chair", pr)
        step("5. The committee merges the SPEC as a draft",
             f"chair merges PR #{pr}; the file on main still says is-draft: true.")

        publish = github.open_pull("grace", "Publish SPEC 10", "Ready.", {
            "spec-0010/index.md": spec_text(10, "Deprecation reporting", draft=False)})
        github.merge_pull("chair", publish)
        step("6. The SPEC is published",
             f"grace's PR #{publish} removes is-draft and chair merges it. forumsync moves the "
             "stage to published on both sides and announces it on the thread.")

        lone = github.open_pull("mallory", "SPEC 11: Typing stubs", "Please review.",
                                {"spec-0011/index.md": spec_text(11, "Typing stubs")})
        step("7. A SPEC PR arrives without a viability thread",
             f"mallory opens PR #{lone} without the thread link. forumsync opens a thread in "
             "Ideas for it and tells the author the link is required.")

        box.clock.advance(hours=2)
        step("8. A quiet cycle", "Nothing changed; forumsync reads and writes nothing new.")

        box.clock.advance(days=35)
        step("9. Five weeks pass", "Nobody posts, comments, reviews or commits.")
        with sessions() as session:
            built = digest.collect(session, config, box.clock.now())
            topic_id = digest.send(session, built, config, clients.forum, box.clock.now())
            rows = status_rows(session, box.clock.now(), config)
        echo(f"\n== 10. The committee digest, sent as a message to {COMMITTEE} "
             f"(topic {topic_id})\n")
        echo(digest.render(built))
        echo("== forumsync status\n" + render_table(rows))
        echo(f"\n{box.request_total()} requests served by the sandbox in all.")
        return failures


def _show_posts(echo: Callable[[str], None], box: Sandbox, topic: int, pr: int) -> None:
    for post in box.discourse.posts_in(topic)[1:]:
        echo(f"   forum t/{topic} by {post.username}: {_first_line(post.raw)}")
    for comment in box.github.comments_on(pr):
        echo(f"   github #{pr} by {comment.author}: {_first_line(comment.body)}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:110]
