"""Planner rules for what real people do: strangers, wrong labels, reopens, deletions.

Each test names the rule (DESIGN.md, "What it does": Linking, Authority, Problems heal)."""

from __future__ import annotations

from dataclasses import replace

from forumsync.actions import CreateThread, MoveThread, SetPullLabels, SetThreadTags
from forumsync.planner import plan_cycle
from forumsync.planner.authority import leads_to
from forumsync.records import TopicRevision
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StageSet, StoredState, ThreadState
from tests.planning import (
    FORUM,
    REPO,
    SETTINGS,
    ago,
    event,
    observe,
    pull,
    retag,
    seen_pull,
    spec_doc,
    thread,
)

LINKED_BODY = f"Discussion: {FORUM}/t/idea-40/40"


def only(plan):
    assert len(plan.specs) == 1, [s.key for s in plan.specs]
    return plan.specs[0]


def effects_of(spec, kind):
    return [e for e in spec.effects if isinstance(e, kind)]


def draft(*, labels=("spec-draft",), tags=("spec-draft",), method="pr_body",
          stage=Stage.DRAFT, stage_set=None, pr_state="open") -> StoredState:
    return StoredState(
        specs=(SpecState(1, stage, number=9, introducing_pr=12, thread_id=40,
                         link_method=method, stage_set=stage_set),),
        pulls={12: PullState(12, pr_state, labels, (1,))},
        threads={40: ThreadState(40, tags, 9, "idea-40", "An idea")},
        first_sync_at=ago(days=10))


def idea(stage=Stage.IDEA, stage_set=None, tags=()) -> StoredState:
    return StoredState(specs=(SpecState(5, stage, thread_id=40, link_method="idea",
                                        stage_set=stage_set),),
                       threads={40: ThreadState(40, tags, 9, "idea-40", "An idea")},
                       first_sync_at=ago(days=10))


# --- 3. labels compare without regard to case -------------------------------------------------


def test_a_stage_label_in_other_capitals_is_the_stage_label() -> None:
    """The repository already has `Spec-Draft`: GitHub applied it for `spec-draft`."""
    seen = seen_pull(pull(12, labels=("Spec-Draft",)))
    spec = only(plan_cycle(observe(pulls=[seen]), draft(labels=("Spec-Draft",)), SETTINGS))
    assert spec.effects == [] and spec.changes == []


def test_a_committee_relabel_in_other_capitals_is_mirrored_and_leaves_one_stage_label() -> None:
    seen = seen_pull(pull(12, labels=("Spec-Draft", "SPEC-Published")),
                     events=(event("labeled", "chair", "SPEC-Published"),))
    spec = only(plan_cycle(observe(pulls=[seen]), draft(labels=("Spec-Draft",)), SETTINGS))
    assert spec.stage is Stage.PUBLISHED
    [labels] = effects_of(spec, SetPullLabels)
    assert (labels.add, labels.remove) == ((), ("Spec-Draft",))


# --- 4. nobody takes over a SPEC's thread ------------------------------------------------------


def test_a_strangers_ideas_topic_naming_the_pr_does_not_replace_the_services_thread() -> None:
    stranger = thread(50, posts=(f"Look: https://github.com/{REPO}/pull/12",))
    seen = seen_pull(pull(12))
    plan = plan_cycle(observe(pulls=[seen], threads=[stranger]), draft(method="created"),
                      SETTINGS)
    spec = next(s for s in plan.specs if s.key == "pr-12")
    assert (spec.thread_id, spec.link_method) == (40, "created")
    assert [p.kind for p in spec.problems] == ["second-claimant"]
    assert not effects_of(spec, SetThreadTags)  # the stranger's topic gets no stage tag


def test_the_authors_own_link_replaces_the_services_thread() -> None:
    seen = seen_pull(pull(12, body=f"Discussion: {FORUM}/t/real-idea/41"))
    spec = only(plan_cycle(observe(pulls=[seen], threads=[thread(41)]),
                           draft(method="created"), SETTINGS))
    assert (spec.thread_id, spec.link_method) == (41, "pr_body")


# --- 5. committee decisions are undone only by the committee -----------------------------------


def test_the_authors_reopen_does_not_undo_the_committees_withdrawal() -> None:
    reopened = seen_pull(pull(12, labels=("spec-withdrawn",)),
                         events=(event("reopened", "alice"),))
    stored = draft(labels=("spec-withdrawn",), tags=("spec-withdrawn",), stage=Stage.WITHDRAWN,
                   stage_set=StageSet("chair", "mirrored", "label", "committee"), pr_state="closed")
    spec = only(plan_cycle(observe(pulls=[reopened]), stored, SETTINGS))
    assert spec.stage is Stage.WITHDRAWN
    assert [c.outcome for c in spec.changes] == ["ignored"]
    assert "withdrawn by @chair" in spec.problems[0].message


def test_the_authors_reopen_undoes_their_own_close() -> None:
    reopened = seen_pull(pull(12, labels=("spec-withdrawn",)),
                         events=(event("reopened", "alice"),))
    stored = draft(labels=("spec-withdrawn",), tags=("spec-withdrawn",), stage=Stage.WITHDRAWN,
                   stage_set=StageSet("alice", "mirrored", "closed", "author"), pr_state="closed")
    spec = only(plan_cycle(observe(pulls=[reopened]), stored, SETTINGS))
    assert spec.stage is Stage.DRAFT


def test_a_pr_linking_a_declined_idea_does_not_revive_it() -> None:
    declined = StageSet("chair", "mirrored", "tag", "committee")
    stored = idea(Stage.WITHDRAWN, declined, ("spec-withdrawn",))
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY))],
                  threads=[thread(40, tags=("spec-withdrawn",))])
    spec = only(plan_cycle(obs, stored, SETTINGS))
    assert (spec.introducing_pr, spec.thread_id, spec.stage) == (12, 40, Stage.WITHDRAWN)
    assert [c.outcome for c in spec.changes][-1] == "ignored"
    assert any("declined by @chair" in p.message for p in spec.problems)
    [labels] = effects_of(spec, SetPullLabels)
    assert labels.add == ("spec-withdrawn",)


# --- 6. a history is not a conflict -------------------------------------------------------------


def test_accepted_on_the_forum_then_the_pr_in_one_sync_is_history() -> None:
    accepted = thread(40, tags=("spec-accepted",),
                      revisions=(retag(4000, (), ("spec-accepted",), "chair",
                                       at=ago(minutes=30)),))
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY, created=ago(minutes=5)))],
                  threads=[accepted])
    spec = only(plan_cycle(obs, idea(), SETTINGS))
    assert spec.stage is Stage.DRAFT
    assert [(c.from_stage, c.to_stage, c.outcome) for c in spec.changes] == [
        (Stage.IDEA, Stage.ACCEPTED, "mirrored"), (Stage.ACCEPTED, Stage.DRAFT, "mirrored")]
    assert spec.problems == []


def test_the_stage_diagram_decides_what_follows() -> None:
    assert leads_to(Stage.ACCEPTED, Stage.DRAFT) and leads_to(Stage.IDEA, Stage.ENDORSED)
    assert not leads_to(Stage.PUBLISHED, Stage.ACCEPTED)
    assert not leads_to(Stage.ENDORSED, Stage.WITHDRAWN)


# --- 8, 10. ambiguous markers ---------------------------------------------------------------------


def test_a_move_into_accepted_does_not_demote_a_published_spec() -> None:
    settings = replace(SETTINGS, accepted_category_id=15)
    moved = thread(40, tags=("spec-published",), category=15, revisions=(TopicRevision(
        4000, 2, "chair", ago(minutes=5), None, None, 9, 15),))
    stored = draft(tags=("spec-published",), labels=("spec-published",), stage=Stage.PUBLISHED)
    spec = only(plan_cycle(observe(threads=[moved]), stored, settings))
    assert spec.stage is Stage.PUBLISHED
    assert [c.outcome for c in spec.changes] == ["ignored"]
    assert not effects_of(spec, MoveThread)


def test_a_move_into_accepted_accepts_an_idea() -> None:
    settings = replace(SETTINGS, accepted_category_id=15)
    moved = thread(40, category=15, revisions=(TopicRevision(
        4000, 2, "chair", ago(minutes=5), None, None, 9, 15),))
    spec = only(plan_cycle(observe(threads=[moved]), idea(), settings))
    assert spec.stage is Stage.ACCEPTED


def test_two_stage_tags_in_one_edit_change_nothing_and_are_recorded() -> None:
    both = thread(40, tags=("spec-accepted", "spec-withdrawn"), revisions=(
        retag(4000, (), ("spec-accepted", "spec-withdrawn"), "chair"),))
    spec = only(plan_cycle(observe(threads=[both]), idea(), SETTINGS))
    assert spec.stage is Stage.IDEA
    assert [c.outcome for c in spec.changes] == ["ignored"]
    assert "two stage tags" in spec.changes[0].reason
    [tags] = effects_of(spec, SetThreadTags)
    assert tags.tags == ()


def test_a_stage_label_removed_outright_is_restored_and_recorded() -> None:
    bare = seen_pull(pull(12, labels=()), events=(event("unlabeled", "chair", "spec-draft"),))
    spec = only(plan_cycle(observe(pulls=[bare]), draft(), SETTINGS))
    assert spec.stage is Stage.DRAFT
    assert [c.outcome for c in spec.changes] == ["ignored"]
    [labels] = effects_of(spec, SetPullLabels)
    assert labels.add == ("spec-draft",)


def test_a_stage_tag_removed_outright_is_restored_and_recorded() -> None:
    bare = thread(40, tags=(), revisions=(retag(4000, ("spec-draft",), (), "mallory"),))
    spec = only(plan_cycle(observe(threads=[bare]), draft(), SETTINGS))
    assert [c.outcome for c in spec.changes] == ["ignored"]
    assert effects_of(spec, SetThreadTags)[0].tags == ("spec-draft",)


# --- 9, 10. deleted and moved threads ------------------------------------------------------------


def test_a_deleted_idea_thread_retires_the_idea_and_its_return_restores_it() -> None:
    spec = only(plan_cycle(observe(threads=[thread(40, deleted=True)]), idea(), SETTINGS))
    assert (spec.stage, spec.thread_id, spec.lost_thread_id) == (Stage.WITHDRAWN, None, 40)
    assert spec.changes[-1].outcome == "retired"
    assert spec.problems == [] and spec.effects == []
    retired = StageSet("", "retired", "deleted", "service", Stage.IDEA)
    gone = StoredState(specs=(SpecState(5, Stage.WITHDRAWN, lost_thread_id=40,
                                        stage_set=retired),),
                       threads={40: ThreadState(40, (), 9, deleted=True)},
                       first_sync_at=ago(days=10))
    back = only(plan_cycle(observe(threads=[thread(40)]), gone, SETTINGS))
    assert (back.stage, back.thread_id, back.lost_thread_id) == (Stage.IDEA, 40, None)


def test_an_idea_moved_out_of_ideas_is_retired_and_moved_back_is_an_idea() -> None:
    moved = only(plan_cycle(observe(threads=[thread(40, category=3)]), idea(), SETTINGS))
    assert (moved.stage, moved.changes[-1].outcome) == (Stage.WITHDRAWN, "retired")
    assert moved.effects == []  # a retired idea's thread is not tagged
    retired = idea(Stage.WITHDRAWN, StageSet("", "retired", "moved", "service", Stage.IDEA))
    back = only(plan_cycle(observe(threads=[thread(40)]), retired, SETTINGS))
    assert back.stage is Stage.IDEA


def test_a_deleted_viability_thread_unlinks_and_is_never_relinked_from_the_old_link() -> None:
    spec = only(plan_cycle(observe(threads=[thread(40, deleted=True)]), draft(), SETTINGS))
    assert (spec.thread_id, spec.lost_thread_id) == (None, 40)
    assert [p.kind for p in spec.problems] == ["thread-deleted"]
    stored = StoredState(
        specs=(SpecState(1, Stage.DRAFT, number=9, introducing_pr=12, lost_thread_id=40),),
        pulls={12: PullState(12, "open", ("spec-draft",), (1,))},
        threads={40: ThreadState(40, ("spec-draft",), 9, deleted=True)},
        first_sync_at=ago(days=10))
    edited = seen_pull(pull(12, body=LINKED_BODY, labels=("spec-draft",)))
    again = only(plan_cycle(observe(pulls=[edited]), stored, SETTINGS))
    assert again.thread_id is None
    assert not effects_of(again, CreateThread)


def test_a_pr_touching_two_spec_files_belongs_to_both() -> None:
    stored = StoredState(specs=(SpecState(1, Stage.PUBLISHED, number=1, path="spec-0001/index.md"),
                                SpecState(2, Stage.PUBLISHED, number=2, path="spec-0002/index.md")),
                         first_sync_at=ago(days=10))
    both = seen_pull(pull(30, title="Fix typos"), status="modified",
                     files=("spec-0001/index.md", "spec-0002/index.md"))
    plan = plan_cycle(observe(pulls=[both]), stored, SETTINGS)
    assert sorted((s.spec_id, s.pulls) for s in plan.specs) == [(1, (30,)), (2, (30,))]


# --- 7. problems heal------------------------------------------------------------------------------


def test_every_problem_names_the_source_that_heals_it() -> None:
    clash = observe(pulls=[seen_pull(pull(12)), seen_pull(pull(13),
                                                          files=("spec-0009/index.md",))])
    plan = plan_cycle(clash, StoredState(first_sync_at=ago(days=1)), SETTINGS)
    assert [(p.kind, p.scope) for p in plan.problems] == [("number-clash", "numbers")]
    assert "numbers" in plan.scopes  # read again every cycle: gone once renumbered
    bad = seen_pull(pull(12, body=f"Discussion: {FORUM}/t/"))
    spec = only(plan_cycle(observe(pulls=[bad]), StoredState(), SETTINGS))
    assert [(p.kind, p.scope) for p in spec.problems] == [("bad-link", "pr-12")]
    assert "pr-12" in spec.scopes


# --- 11. links from the file's history-------------------------------------------------------------


def test_an_older_spec_is_linked_from_its_files_history() -> None:
    doc = spec_doc("spec-0001/index.md", 1, draft=False)  # the key was removed in 2025
    obs = replace(observe(docs=[doc]),
                  history_discussions={"spec-0001/index.md": f"{FORUM}/t/spec-1/15"})
    spec = only(plan_cycle(obs, StoredState(), SETTINGS))
    assert (spec.thread_id, spec.link_method, spec.history_read) == (15, "front_matter", True)


def test_a_file_history_without_a_link_is_remembered_as_read() -> None:
    doc = spec_doc("spec-0001/index.md", 1, draft=False)
    obs = replace(observe(docs=[doc]), history_discussions={"spec-0001/index.md": None})
    spec = only(plan_cycle(obs, StoredState(), SETTINGS))
    assert (spec.thread_id, spec.history_read) == (None, True)


# --- only people's regular posts are activity------------------------------------------------------


def test_moderator_actions_and_whispers_are_not_activity() -> None:
    from forumsync.records import ForumPost

    base = thread(40)
    notice = ForumPost(9001, 40, 2, "moderator", ago(hours=1), "closed this topic", post_type=3)
    whisper = ForumPost(9002, 40, 3, "chair", ago(minutes=30), "psst", post_type=4)
    busy = replace(base, posts=(*base.posts, notice, whisper))
    spec = only(plan_cycle(observe(threads=[busy]), StoredState(), SETTINGS))
    assert spec.last_activity.actor == "bob"


def test_a_new_idea_is_recorded_once() -> None:
    spec = only(plan_cycle(observe(threads=[thread(40)]), StoredState(), SETTINGS))
    assert [(c.to_stage, c.outcome) for c in spec.changes] == [(Stage.IDEA, "initial")]
