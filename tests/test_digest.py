"""The committee digest: stalled rules at their edges, rendering, once per period."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forumsync.config import DigestConfig, load_config
from forumsync.db import open_database
from forumsync.digest import Digest, DigestRow, collect, current_period, render, send
from forumsync.models import Link, Problem, Spec, StageEvent, Thread
from forumsync.observation import PullObservation
from forumsync.planner import plan_cycle
from forumsync.records import Activity
from forumsync.stages import Stage
from forumsync.state import StoredState
from tests.planning import NOW, SETTINGS, ago, observe, pull, seen_pull, thread

GOLDEN = Path(__file__).parent / "golden" / "digest.md"
CONFIG = load_config(None, environ={})


@pytest.fixture
def sessions(tmp_path: Path):
    return open_database(f"sqlite:///{tmp_path / 'digest.db'}")


def add_spec(session, *, stage: Stage, idle_days: float | None, number: int = 4,
             pr: int | None = 12, thread: int | None = 40, actor: str = "ada",
             endorsed: tuple[str, ...] = ()) -> Spec:
    spec = Spec(stage=stage.value, number=number, title=f"SPEC {number} — Testing",
                introducing_pr=pr, created_at=NOW - timedelta(days=90),
                last_activity_at=None if idle_days is None else NOW - timedelta(days=idle_days),
                last_actor=actor, endorsed_by=list(endorsed))
    session.add(spec)
    session.flush()
    if thread is not None:
        session.add(Thread(id=thread, tags=[]))
        session.flush()
        session.add(Link(spec_id=spec.id, thread_id=thread, method="pr_body", created_at=NOW))
    return spec


@pytest.mark.parametrize(("idle", "stalled"), [(29, False), (29.99, False), (30, True),
                                               (31, True)])
def test_stalled_boundary(sessions, idle: float, stalled: bool) -> None:
    with sessions.begin() as session:
        add_spec(session, stage=Stage.DRAFT, idle_days=idle)
    with sessions() as session:
        digest = collect(session, CONFIG, NOW)
    assert bool(digest.stalled.get(Stage.DRAFT)) is stalled


def test_per_stage_override_and_final_stages(sessions) -> None:
    config = replace(CONFIG, digest=DigestConfig(stalled_after_days_by_stage={"idea": 60}))
    with sessions.begin() as session:
        add_spec(session, stage=Stage.IDEA, idle_days=45, number=1, pr=None, thread=41)
        add_spec(session, stage=Stage.DRAFT, idle_days=45, number=2, pr=13, thread=42)
        add_spec(session, stage=Stage.ENDORSED, idle_days=400, number=3, pr=14, thread=43,
                 endorsed=("numpy", "scipy"))
        add_spec(session, stage=Stage.WITHDRAWN, idle_days=400, number=5, pr=15, thread=44)
    with sessions() as session:
        digest = collect(session, config, NOW)
    assert set(digest.stalled) == {Stage.DRAFT}
    with sessions() as session:
        digest = collect(session, config, NOW + timedelta(days=15))
    assert set(digest.stalled) == {Stage.IDEA, Stage.DRAFT}


def test_activity_on_either_side_counts_and_own_posts_do_not() -> None:
    old_idea = thread(40, posts=("An idea",), created=ago(days=50))
    own_reply = replace(old_idea.posts[0], id=4001, post_number=2, username="forumsync",
                        created_at=ago(days=1), raw="Announcement <!-- forumsync:x -->")
    quiet_thread = replace(old_idea, posts=(*old_idea.posts, own_reply))
    spec = plan_cycle(observe(threads=[quiet_thread]), StoredState(), SETTINGS).specs[0]
    assert spec.last_activity is not None
    assert (spec.last_activity.actor, spec.last_activity.at) == ("bob", ago(days=50))

    commented = PullObservation(pull(12, created=ago(days=50)), seen_pull(pull(12)).files,
                                None, (), Activity(ago(days=2), "carol", "commented"))
    plan = plan_cycle(observe(pulls=[commented], threads=[]), StoredState(), SETTINGS)
    assert plan.specs[0].last_activity == Activity(ago(days=2), "carol", "commented")


def test_published_short_of_endorsements_clashes_ignored_and_failing(sessions) -> None:
    with sessions.begin() as session:
        spec = add_spec(session, stage=Stage.PUBLISHED, idle_days=3, endorsed=("numpy",))
        session.add(StageEvent(spec_id=spec.id, from_stage="published", to_stage="endorsed",
                               actor="mallory", side="github", occurred_at=NOW,
                               outcome="ignored", reason="@mallory is not on the committee"))
        for kind, count in (("number-clash", 1), ("sync-failed", 3), ("sync-failed", 1)):
            session.add(Problem(kind=kind, subject=f"{kind}-{count}", count=count,
                                message=f"{kind} message", first_seen=NOW, last_seen=NOW))
    with sessions() as session:
        digest = collect(session, CONFIG, NOW)
    assert [r.endorsed_by for r in digest.short_of_endorsements] == [("numpy",)]
    assert digest.number_clashes == ["number-clash message"]
    assert digest.failing == ["sync-failed message (3 cycles)"]
    assert "@mallory set endorsed on GitHub" in digest.ignored_changes[0]


def test_rendering_matches_the_reviewed_golden_file() -> None:
    digest = Digest(
        period=datetime(2026, 11, 16, 8, 0, tzinfo=UTC),
        stalled={
            Stage.IDEA: [DigestRow("SPEC idea: typing stubs", Stage.IDEA,
                                   "https://discuss.scientific-python.org/t/812", None, 64,
                                   "grace")],
            Stage.DRAFT: [DigestRow("SPEC 10 — Deprecations | policy", Stage.DRAFT,
                                    "https://discuss.scientific-python.org/t/790",
                                    "https://github.com/scientific-python/specs/pull/330",
                                    41, "ada")],
        },
        waiting_ideas=[DigestRow("SPEC idea: typing stubs", Stage.IDEA,
                                 "https://discuss.scientific-python.org/t/812", None, 64,
                                 "grace")],
        short_of_endorsements=[DigestRow("SPEC 4 — Using and Creating Nightly Wheels",
                                         Stage.PUBLISHED, None,
                                         "https://github.com/scientific-python/specs/pull/201",
                                         12, "", ("numpy",))],
        number_clashes=["SPEC number 11 is claimed by open PRs #331, #334"],
        ignored_changes=["SPEC 10 — Deprecations: ignored — @mallory set published on GitHub "
                         "(@mallory is not on the committee on GitHub)"],
        failing=["sync of pr-329 failed: github: read pull #329 failed: HTTP 502 (3 cycles)"],
    )
    assert render(digest) == GOLDEN.read_text(encoding="utf-8")


def test_empty_digest_is_not_sent(sessions) -> None:
    class NoForum:
        def __getattr__(self, name):
            raise AssertionError(f"the forum was called: {name}")

    with sessions() as session:
        digest = collect(session, CONFIG, NOW)
        assert digest.is_empty()
        assert send(session, digest, CONFIG, NoForum(), NOW) is None


@pytest.mark.parametrize(("now", "period"), [
    (datetime(2026, 11, 23, 7, 59, tzinfo=UTC), datetime(2026, 11, 16, 8, 0, tzinfo=UTC)),
    (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
    (datetime(2026, 11, 27, 15, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
])
def test_period_is_the_latest_cron_time(now: datetime, period: datetime) -> None:
    assert current_period("0 8 * * mon", now) == period


def test_frequent_schedules_find_their_period_quickly() -> None:
    now = datetime(2026, 11, 23, 8, 7, 30, tzinfo=UTC)
    assert current_period("*/5 * * * *", now) == datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def test_end_to_end_one_digest_per_period_with_catch_up(tmp_path: Path) -> None:
    from forumsync import digest as digests
    from forumsync.models import DigestSent
    from forumsync.sandbox import Sandbox
    from tests.test_e2e import World

    with Sandbox() as box:
        world = World(box, tmp_path / "e2e-digest.db")
        topic = world.idea()
        pr = world.open_spec_pr(topic)
        world.sync()
        box.clock.advance(days=31)
        world.sync()

        def send_now() -> str | None:
            with world.sessions() as session:
                built = digests.collect(session, world.config, box.clock.now())
                return digests.send(session, built, world.config, world.clients.forum,
                                    box.clock.now())

        first = send_now()
        assert first is not None
        [message] = box.discourse.messages
        body = box.discourse.posts_in(message.id)[0].raw
        assert "### Stalled: draft" in body and f"[#{pr}]" in body and "31 days" in body
        assert send_now() is None  # the same period: nothing more
        box.clock.advance(days=22)  # the worker was down for three Mondays
        assert send_now() is not None
        assert send_now() is None
        assert len(box.discourse.messages) == 2
        with world.sessions.begin() as session:  # the ledger is lost: the marker still holds
            session.query(DigestSent).delete()
        assert send_now() is not None
        assert len(box.discourse.messages) == 2


def test_activity_on_a_later_pr_of_the_spec_counts() -> None:
    from forumsync.records import PullFile
    from tests.test_planner import _merged_state

    edit = PullObservation(pull(41, created=ago(days=1)),
                           (PullFile("spec-0009/index.md", "modified"),), None, (),
                           Activity(ago(hours=3), "grace", "reviewed"))
    spec = plan_cycle(observe(pulls=[edit]), _merged_state(), SETTINGS).specs[0]
    assert spec.last_activity == Activity(ago(hours=3), "grace", "reviewed")


def test_two_digests_a_day_to_a_category_have_distinct_titles(tmp_path: Path) -> None:
    from forumsync.sandbox import Sandbox
    from tests.test_e2e import World

    with Sandbox() as box:
        world = World(box, tmp_path / "twice.db")
        world.config = replace(world.config, digest=DigestConfig(category_id=15),
                               schedule=replace(world.config.schedule,
                                                digest_cron="0 8,20 * * *"))
        world.idea("An idea nobody decided on yet")
        world.sync()
        sent = []
        for _ in range(2):
            box.clock.advance(hours=12)
            with world.sessions() as session:
                built = collect(session, world.config, box.clock.now())
                sent.append(send(session, built, world.config, world.clients.forum,
                                 box.clock.now()))
        assert None not in sent and len(set(sent)) == 2


def test_problems_that_need_a_hand_stand_in_the_digest() -> None:
    digest = Digest(period=datetime(2026, 11, 2, tzinfo=UTC),
                    other_problems=["pr-1 links thread 99999, which was deleted or cannot be "
                                    "read; not linked"])
    assert not digest.is_empty()
    assert "### Other problems that stand\n\n- pr-1 links thread 99999" in render(digest)
