"""The planning pass finds SPECs by PR, thread, path and id through an index built once a
cycle; these check it answers as the scan it replaced did, also after rules move a SPEC."""

from __future__ import annotations

import time

from forumsync.actions import SpecPlan
from forumsync.planner import plan_cycle
from forumsync.planner.context import CycleContext
from forumsync.stages import Stage
from forumsync.state import SpecState, StoredState
from tests.planning import SETTINGS, observe, pull, seen_pull, thread


def context(*specs: SpecState) -> CycleContext:
    return CycleContext(observe(), StoredState(specs=specs), SETTINGS)


def scan(ctx: CycleContext, field: str, value: object) -> list[int]:
    """What `find_all` answered before the index: every live SPEC, in order."""
    return [i for i, s in enumerate(ctx.specs)
            if getattr(s, field) == value and not ctx.is_absorbed(s)]


def test_find_follows_a_spec_whose_thread_path_and_pr_change() -> None:
    ctx = context(SpecState(1, Stage.DRAFT, introducing_pr=10, thread_id=40),
                  SpecState(2, Stage.IDEA, thread_id=41))
    assert ctx.find("thread_id", 40) == 0 and ctx.find("introducing_pr", 10) == 0
    ctx.specs[0].thread_id = 41  # a rule moves the link
    assert ctx.find("thread_id", 40) is None
    assert ctx.find_all("thread_id", 41) == [0, 1] == scan(ctx, "thread_id", 41)
    ctx.specs[0].introducing_pr, ctx.specs[0].path = 11, "spec-0001/index.md"
    assert ctx.find("introducing_pr", 10) is None and ctx.find("introducing_pr", 11) == 0
    assert ctx.find("path", "spec-0001/index.md") == 0


def test_new_and_absorbed_specs_are_found_as_before() -> None:
    ctx = context(SpecState(1, Stage.IDEA, thread_id=40))
    index = ctx.add_spec(SpecPlan(key="pr-12", spec_id=None, stage=Stage.DRAFT,
                                  introducing_pr=12))
    ctx.specs[index].thread_id = 40
    assert ctx.find_all("thread_id", 40) == [0, index]
    ctx.absorbed.add(1)  # the idea merged into the PR's SPEC
    assert ctx.find("thread_id", 40) == index == scan(ctx, "thread_id", 40)[0]
    assert ctx.find("link_method", None) == scan(ctx, "link_method", None)[0]  # not indexed


def test_planning_many_specs_is_not_quadratic() -> None:
    """Planning a first sync of 2,000 SPECs costs about four times what 500 do, not 16."""
    def plan_time(n: int) -> float:
        threads = [thread(1000 + i) for i in range(n)]
        pulls = [seen_pull(pull(i + 1, body=f"https://discuss.example.org/t/x/{1000 + i}"),
                           files=(f"spec-{i:04d}/index.md",)) for i in range(n)]
        obs = observe(pulls=pulls, threads=threads)
        started = time.thread_time()
        plan = plan_cycle(obs, StoredState(), SETTINGS)
        assert len(plan.specs) == n
        return time.thread_time() - started

    plan_time(50)  # warm up
    small = min(plan_time(500) for _ in range(2))  # this thread's CPU, the least of two
    large = min(plan_time(2000) for _ in range(2))
    assert large < 10 * small, (small, large)  # linear: 4x; quadratic: 16x


def test_the_planned_specs_leave_the_pass_unwatched() -> None:
    plan = plan_cycle(observe(threads=[thread(40)]), StoredState(), SETTINGS)
    assert plan.specs and all("_watcher" not in vars(s) for s in plan.specs)
