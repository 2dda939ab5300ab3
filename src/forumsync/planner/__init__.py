"""The pure planning core: what was seen plus what was remembered, turned into a plan.

Each rule family has its own module: `tracking` (which SPEC a PR, file or thread belongs
to), `linking` (viability threads), `authority` (who may change a stage, and the decision),
`announcements` (posts and comments), `markers` (labels and tags) and `problems`. This
module only runs them in order. Nothing here does I/O; the executor carries out the plan.
"""

from __future__ import annotations

from forumsync.actions import Plan
from forumsync.observation import Observation
from forumsync.planner.authority import decide, marker_signals
from forumsync.planner.context import CycleContext
from forumsync.planner.linking import link
from forumsync.planner.markers import converge, remember_observed
from forumsync.planner.problems import report_number_clashes
from forumsync.planner.settings import PlanSettings
from forumsync.planner.tracking import (
    attach_by_path,
    endorsements,
    release_removed_path,
    stage_of_document,
    track_main_doc,
    track_pull,
    track_thread,
)
from forumsync.state import StoredState

__all__ = ["PlanSettings", "endorsements", "plan_cycle", "stage_of_document"]


def plan_cycle(obs: Observation, stored: StoredState, settings: PlanSettings) -> Plan:
    """Turn one cycle's observation and the remembered state into a plan."""
    ctx = CycleContext(obs, stored, settings)
    for path in sorted(obs.removed_paths):
        release_removed_path(ctx, path)
    unattached = [seen for _, seen in sorted(obs.pulls.items()) if not track_pull(ctx, seen)]
    for path in sorted(obs.main_docs):
        track_main_doc(ctx, obs.main_docs[path])
    for seen in unattached:  # an edit to a SPEC first seen on main in this same cycle
        attach_by_path(ctx, seen)
    for pr, topic in stored.manual_links.items():  # applied even if nothing changed
        index = ctx.find("introducing_pr", pr)
        if index is not None and ctx.specs[index].thread_id != topic:
            ctx.touch(index)
    for topic in sorted(obs.threads):
        track_thread(ctx, obs.threads[topic])
    for topic in sorted(obs.threads):  # a thread naming a PR: its SPEC's link is judged again
        for pr in ctx.pulls_mentioned_by(topic):
            index = ctx.find("introducing_pr", pr)
            if index is not None:
                ctx.touch(index)
    ctx.result.scopes |= {f"thread:topic-{t}" for t, seen in obs.threads.items()
                          if seen.posts is not None or seen.deleted}
    for index in sorted(ctx.touched):
        link(ctx, index)
    for index in sorted(ctx.touched):
        marker_signals(ctx, index)
    for index in sorted(ctx.touched):
        decide(ctx, index)
        converge(ctx, index)
    remember_observed(ctx)
    report_number_clashes(ctx)
    return _finish(ctx)


def _finish(ctx: CycleContext) -> Plan:
    plan = ctx.result
    plan.specs = [ctx.specs[i] for i in sorted(ctx.touched)
                  if i not in ctx.dropped and i not in ctx.deferred
                  and not ctx.is_absorbed(ctx.specs[i])]
    for index in ctx.deferred:  # applied as a whole next cycle: read it all again then
        spec = ctx.specs[index]
        plan.deferred_pulls.update(spec.pulls)
        plan.deferred_pulls.update([spec.introducing_pr] if spec.introducing_pr else [])
        plan.deferred_paths.update([spec.path] if spec.path else [])
        plan.problems.extend(spec.problems)
    ctx.release()
    return plan
