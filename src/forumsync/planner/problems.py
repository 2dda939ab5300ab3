"""Problems that belong to no single rule: SPEC numbers claimed twice.

Every problem carries the scope that raised it; a plan lists the scopes it read again, and
a problem of such a scope that was not raised again is resolved (see `store.heal`)."""

from __future__ import annotations

from forumsync.actions import ProblemNote
from forumsync.planner.context import CycleContext

NUMBERS_SCOPE = "numbers"


def report_number_clashes(ctx: CycleContext) -> None:
    """Two open SPEC PRs claiming one number: the committee must renumber one."""
    claims: dict[int, list[int]] = {}
    for spec in ctx.live_specs():
        pr = spec.introducing_pr
        if pr is None or spec.number is None:
            continue
        state = ctx.result.pulls.get(pr) or ctx.stored.pulls.get(pr)
        if state is not None and state.state == "open":
            claims.setdefault(spec.number, []).append(pr)
    ctx.result.scopes.add(NUMBERS_SCOPE)
    for number, prs in sorted(claims.items()):
        if len(prs) > 1:
            listed = ", ".join(f"#{n}" for n in sorted(prs))
            ctx.result.problems.append(ProblemNote(
                "number-clash", f"spec-{number}",
                f"SPEC number {number} is claimed by open PRs {listed}", NUMBERS_SCOPE))
